#!/usr/bin/env bash
# Every scheduler over real TCP connections (NAT, three real servers of weights 1, 2, 3, each
# request a new connection closed by the server): the exact sequence of real servers IPVS picks,
# recorded against ip_vs. Source hashing (sh, with and without sh-port) sees eight client addresses;
# twos is random, so only its support is checked. Maglev hashing (mh) sees the eight addresses too.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_http_start 80
for i in $(seq 3 10); do in_cl ip addr add "10.0.1.$i/24" dev eth0; done

# Each scheduler gets a service of its own (a new port): connections of an earlier service, and
# IPVS's revival of removed real servers with their counters, cannot influence it.
# (Command substitutions run in subshells: the port comes from a counter in a file.)
echo 1000 >"$TOPO_DIR/port"
new_service() {
	port=$(($(cat "$TOPO_DIR/port") + 1))
	echo "$port" >"$TOPO_DIR/port"
	adm -A -t "$VIP:$port" -s "$1" ${2:+-b "$2"} || fail "add service -s $1"
	for i in 1 2 3; do adm -a -t "$VIP:$port" -r "$(rs_ip "$i"):80" -m -w "$i" || fail "add rs$i"; done
}
# seq_of SCHED [FLAGS]: the real servers answering 12 requests, on one line. The debug kernel
# sends 6: wrr's cycle over the weights 1, 2 and 3 is 6 long, and every expected sequence is
# checked up to there.
requests=12
[ "${KERNEL:-}" = debug ] && requests=6
seq_of() {
	new_service "$@"
	client_http "$requests" "$port" | tr '\n' ' '
}
# from_clients SCHED [FLAGS]: one request from each of 8 client addresses.
from_clients() {
	local i out=()
	new_service "$@"
	for i in $(seq 3 10); do
		out+=("$(in_cl curl -sS -m 10 --interface "10.0.1.$i" "http://$VIP:$port/")")
	done
	echo "${out[*]}"
}

check() {
	local sched=$1 expected=$2 actual words
	shift 2
	actual=$("$@")
	if [ "$expected" = record ]; then log "$sched: $actual"; return; fi
	if [ "$1" = seq_of ]; then
		read -ra words <<<"$expected"
		expected="${words[*]:0:requests} "
	fi
	assert_eq "$expected" "$actual" "$sched: exact choices"
}

check rr "rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1 " seq_of rr
check wrr "rs3 rs2 rs1 rs3 rs3 rs2 rs3 rs2 rs1 rs3 rs3 rs2 " seq_of wrr
check lc "rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2 rs1 " seq_of lc
check wlc "rs3 rs2 rs1 rs3 rs2 rs3 rs3 rs2 rs1 rs3 rs2 rs3 " seq_of wlc
check sed "$(printf 'rs3 %.0s' $(seq 12))" seq_of sed
check nq "$(printf 'rs3 %.0s' $(seq 12))" seq_of nq
check fo "$(printf 'rs3 %.0s' $(seq 12))" seq_of fo
check ovf "$(printf 'rs3 %.0s' $(seq 12))" seq_of ovf
check dh "$(printf 'rs3 %.0s' $(seq 12))" seq_of dh
check sh "rs1 rs2 rs1 rs3 rs1 rs3 rs3 rs3" from_clients sh
check mh "rs2 rs3 rs3 rs3 rs1 rs2 rs3 rs1" from_clients mh
# With sh-port the (random) client ports take part: only the support is checked.
assert_match '^(rs[123] ){7}rs[123]$' "$(from_clients sh sh-port)" "sh-port: 8 answers from the real servers"
assert_match "^(rs[123] ){$requests}\$" "$(seq_of twos)" "twos: $requests answers from the real servers"
