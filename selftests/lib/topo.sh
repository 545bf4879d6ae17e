# shellcheck shell=bash
# The classic LVS-NAT topology in network namespaces, for the data-plane selftests and the demo.
# Sourced after lib.sh (it uses netns_new, on_exit, fail, assert_eq).
#
#   client rvs-cl          director rvs-lb                           real servers rvs-rs1..N
#   10.0.1.2/24 eth0 ---- cl0 10.0.1.1/24 + VIP 10.0.1.100/32
#                          br0 10.0.2.1/24 (bridge) ---- rsI ---- eth0 10.0.2.1I/24 (rs1 = .11, ...)
#                          ip_forward=1                            default route via 10.0.2.1
#
# The client reaches the VIP on its own link; the director schedules and DNATs to a real server;
# the real servers answer through the director (their default route), which SNATs the answers
# back to the VIP. The client has no route to the real servers' network: only NAT lets it talk to
# them. No link has an IPv6 address (addrgenmode none), so that no stray packet crosses them.
#
#   topo_nat N                 build it with N real servers (TOPO_N=N)
#   topo_teardown              stop the servers, delete the namespaces (else done at exit)
#   rs_http_start PORT...      every real server answers HTTP on PORT: GET / -> "rsI\n",
#                              GET /whoami -> "rsI CLIENT:PORT LOCAL:PORT\n", GET /bytes/N
#   rs_line_start PORT...      every real server answers each line L with "rsI L" (traffic.py)
#   rs_udp_echo_start PORT...  every real server answers each UDP datagram with "rsI\n"
#   client_http N [PORT] [PATH]  N sequential HTTP requests (one curl, a new connection each)
#                              to the VIP; prints each body (the answering real server's name)
#   hold_start PORT / hold_cmd CMD  held connections from the client (traffic.py hold)
#   adm ARGS                   ipvsadm (or $ADM) in the director
#   nat_service -t|-u VIP:PORT SCHED RSPORT [WEIGHT...]  a NAT (-m) service over every real server
#   dest_table SVC             "RIP:PORT WEIGHT ACTIVE INACT" per real server of SVC (ipvsadm -Ln)
#   dest_stats SVC             "ADDR:PORT CONNS INPKTS OUTPKTS INBYTES OUTBYTES", the service then
#                              each real server (ipvsadm -Ln --stats --exact)
#   conn_entries               "PROTO STATE CLIENT VIRTUAL DEST" per entry of ipvsadm -Lnc
#   conn_expiry                the same with the seconds to expiry appended
#   poll_eq EXP WHAT SECS CMD  run CMD until it prints EXP, for up to SECS (x TOPO_SLOW), then
#                              assert_eq: the way to wait for the estimator, timers and FINs

TOPO_CL=rvs-cl
TOPO_LB=rvs-lb
TOPO_N=0
VIP=10.0.1.100
CLIENT_IP=10.0.1.2
TRAFFIC="$RVS_ROOT/selftests/lib/traffic.py"
# Everything is several times slower on the debug (KASAN, lockdep) kernel: deadlines scale.
TOPO_SLOW=${TOPO_SLOW:-1}
[ "${KERNEL:-}" = debug ] && TOPO_SLOW=${TOPO_SLOW_DEBUG:-6}
TOPO_DIR=$(mktemp -d /tmp/rvs-topo.XXXXXX)
_topo_pids=()
_topo_cleanup() {
	local p
	for p in "${_topo_pids[@]}"; do kill "$p" 2>/dev/null; done
	for p in "${_topo_pids[@]}"; do wait "$p" 2>/dev/null; done
	rm -rf "$TOPO_DIR"
}
on_exit _topo_cleanup
# topo_teardown: stop the servers and delete the namespaces now rather than at exit.
topo_teardown() {
	local ns
	_topo_cleanup
	_topo_pids=()
	for ns in "${_netns_created[@]}"; do ip netns del "$ns"; done
	_netns_created=()
}

in_cl() { ip netns exec "$TOPO_CL" "$@"; }
in_lb() { ip netns exec "$TOPO_LB" "$@"; }
in_rs() { local i=$1; shift; ip netns exec "rvs-rs$i" "$@"; }
rs_ip() { echo "10.0.2.$((10 + $1))"; }
adm() { in_lb "${ADM:-ipvsadm}" "$@"; }

# bg NAME NETNS CMD...: run CMD in NETNS in the background, output to $TOPO_DIR/NAME.log, killed
# at exit (ip netns exec execs CMD, so $! is CMD itself).
bg() {
	local name=$1 ns=$2
	shift 2
	ip netns exec "$ns" "$@" >>"$TOPO_DIR/$name.log" 2>&1 </dev/null &
	_topo_pids+=($!)
	BG_PID=$!
}

# Processes are expensive in the VM (a fork and exec costs ~0.1 s under TCG): the links and
# addresses are set up by one `ip -batch` per namespace.
topo_nat() {
	local n=$1 i ns
	TOPO_N=$n
	for ns in "$TOPO_CL" "$TOPO_LB" $(printf 'rvs-rs%s ' $(seq "$n")); do netns_new "$ns"; done
	{
		echo "link add eth0 netns $TOPO_CL type veth peer name cl0 netns $TOPO_LB"
		for i in $(seq "$n"); do echo "link add eth0 netns rvs-rs$i type veth peer name rs$i netns $TOPO_LB"; done
	} | ip -batch - || fail "veth pairs"
	ip -n "$TOPO_CL" -batch - <<-EOF || fail "client links"
		link set eth0 addrgenmode none
		addr add $CLIENT_IP/24 dev eth0
		link set eth0 up
	EOF
	{
		echo "link add br0 type bridge"
		echo "link set br0 addrgenmode none"
		echo "addr add 10.0.2.1/24 dev br0"
		echo "link set br0 up"
		for i in $(seq "$n"); do echo "link set rs$i addrgenmode none master br0 up"; done
		echo "link set cl0 addrgenmode none"
		echo "addr add 10.0.1.1/24 dev cl0"
		echo "addr add $VIP/32 dev cl0"
		echo "link set cl0 up"
	} | ip -n "$TOPO_LB" -batch - || fail "director links"
	for i in $(seq "$n"); do
		ip -n "rvs-rs$i" -batch - <<-EOF || fail "rs$i links"
			link set eth0 addrgenmode none
			addr add $(rs_ip "$i")/24 dev eth0
			link set eth0 up
			route add default via 10.0.2.1
		EOF
	done
	in_lb sysctl -qw net.ipv4.ip_forward=1 || fail "ip_forward in the director"
	# Resolve every neighbour once, so that the first test packets are not queued behind ARP.
	in_cl ping -q -c 1 -W 5 "$VIP" >/dev/null || fail "client cannot reach the VIP"
	for i in $(seq "$n"); do
		in_rs "$i" ping -q -c 1 -W 5 10.0.1.1 >/dev/null || fail "rs$i has no route through the director"
	done
}

# nap SECS: sleep without a process (a read that times out on a pipe nobody writes to).
exec {_topo_nap_fd}<> <(:)
nap() { read -r -t "$1" -u "$_topo_nap_fd" || true; }

# poll_until SECS CMD...: true as soon as CMD succeeds, false after SECS (x TOPO_SLOW).
poll_until() {
	local end=$((SECONDS + $1 * TOPO_SLOW))
	shift
	until "$@"; do
		[ "$SECONDS" -ge "$end" ] && return 1
		nap 0.2
	done
}

poll_eq() {
	local exp=$1 what=$2 end=$((SECONDS + $3 * TOPO_SLOW)) out
	shift 3
	while :; do
		out=$("$@")
		[ "$out" = "$exp" ] && break
		[ "$SECONDS" -ge "$end" ] && break
		nap 0.2
	done
	assert_eq "$exp" "$out" "$what"
}

# rs_serve ARGS...: traffic.py serve in every real server; returns once all of them listen.
rs_serve() {
	local i tag=$RANDOM
	for i in $(seq "$TOPO_N"); do
		bg "rs$i" "rvs-rs$i" python3 "$TRAFFIC" serve "rs$i" "$@" --ready "$TOPO_DIR/rs$i.$tag.ready"
	done
	for i in $(seq "$TOPO_N"); do
		poll_until 30 test -e "$TOPO_DIR/rs$i.$tag.ready" || {
			cat "$TOPO_DIR/rs$i.log"
			fail "rs$i did not start its server ($*)"
		}
	done
}
rs_http_start() { rs_serve $(printf -- '--http %s ' "$@"); }
rs_line_start() { rs_serve $(printf -- '--line %s ' "$@"); }
rs_udp_echo_start() { rs_serve $(printf -- '--udp %s ' "$@"); }

client_http() {
	local n=$1 port=${2:-80} path=${3:-/} urls=() i
	for i in $(seq "$n"); do urls+=("http://$VIP:$port$path"); done
	in_cl curl -sS -m 10 -H 'Connection: close' "${urls[@]}"
}

# hold_start PORT: a traffic.py hold client to VIP:PORT in the client, driven by hold_cmd through
# two FIFOs (bash builtins only: no process per command).
hold_start() {
	mkfifo "$TOPO_DIR/hold.in" "$TOPO_DIR/hold.out"
	exec {_hold_in}<>"$TOPO_DIR/hold.in" {_hold_out}<>"$TOPO_DIR/hold.out"
	ip netns exec "$TOPO_CL" python3 "$TRAFFIC" hold "$VIP" "$1" --timeout "$((3 * TOPO_SLOW))" \
		<"$TOPO_DIR/hold.in" >"$TOPO_DIR/hold.out" 2>"$TOPO_DIR/hold.err" &
	_topo_pids+=($!)
}
# hold_cmd CMD: send CMD to the hold client and print its answer line.
hold_cmd() {
	local answer
	echo "$1" >&"$_hold_in"
	if ! read -r -t "$((30 * TOPO_SLOW))" -u "$_hold_out" answer; then
		cat "$TOPO_DIR/hold.err"
		fail "no answer from the hold client to '$1'"
	fi
	printf '%s\n' "$answer"
}

nat_service() {
	local proto=$1 svc=$2 sched=$3 rport=$4 i w
	shift 4
	adm -A "$proto" "$svc" -s "$sched" || fail "add service $proto $svc -s $sched"
	for i in $(seq "$TOPO_N"); do
		w=${1:-1}
		[ $# -gt 0 ] && shift
		adm -a "$proto" "$svc" -r "$(rs_ip "$i"):$rport" -m -w "$w" || fail "add real server $i to $svc"
	done
}

dest_table() {
	adm -Ln "$@" | awk '$1 == "->" && $2 ~ /^[0-9]/ { print $2, $4, $5, $6 }'
}

dest_stats() {
	adm -Ln --stats --exact "$@" | awk '($1 == "TCP" || $1 == "UDP") { print $2, $3, $4, $5, $6, $7 }
		$1 == "->" && $2 ~ /^[0-9]/ { print $2, $3, $4, $5, $6, $7 }'
}

conn_entries() {
	adm -Lnc | awk 'NR > 2 { print $1, $3, $4, $5, $6 }'
}

# conn_expiry: "PROTO STATE CLIENT VIRTUAL DEST SECONDS" per entry (ipvsadm -Lnc prints mm:ss).
conn_expiry() {
	adm -Lnc | awk 'NR > 2 { split($2, t, ":"); print $1, $3, $4, $5, $6, t[1] * 60 + t[2] }'
}
