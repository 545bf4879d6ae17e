#!/usr/bin/env bash
# ipvsadm -Lnc and /proc/net/ip_vs_conn show IPVS's TCP states and expiry for NAT connections:
# refused (CLOSE), established, closed by the client, closed by the server (FIN_WAIT), then
# TIME_WAIT; the timeouts of ipvsadm --set apply, and entries go away when they expire.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 1
rs_line_start 7000
nat_service -t "$VIP:7000" rr 7000
nat_service -t "$VIP:7001" rr 7001
hold_start 7000

# entry PORT: "STATE SECONDS" of the entry of the client's source port PORT, "" if none.
entry() { conn_expiry | awk -v c="$CLIENT_IP:$1" '$3 == c { print $2, $6 }'; }
state() { entry "$1" | awk '{ print $1 }'; }
expiry() { entry "$1" | awk '{ print $2 }'; }
port() { hold_cmd "port $1" | awk '{ print $3 }'; }
# poll_state STATE WHAT TIMEOUT PORT: waits until the entry of PORT is in STATE and sets SECS to
# the expiry shown in that same listing: a second listing could come after a short timeout ran
# out on the slow debug kernel.
poll_state() {
	local end=$((SECONDS + $3 * TOPO_SLOW)) out
	while :; do
		out=$(entry "$4")
		[ "${out%% *}" = "$1" ] && break
		[ "$SECONDS" -ge "$end" ] && break
		nap 0.2
	done
	assert_eq "$1" "${out%% *}" "$2"
	SECS=${out#* }
}
# in_range LOW HIGH VALUE WHAT
in_range() {
	if [ -z "$3" ] || [ "$3" -lt "$1" ] || [ "$3" -gt "$2" ]; then
		fail "$4: expected $1..$2 s, got '$3'"
	fi
	log "ok: $4 ($3 s)"
}

# Nothing listens on port 7001 of the real server: its SYN is answered with a RST. IPVS saw the
# SYN (NONE -> SYN_RECV), then the RST going out (SYN_RECV -> CLOSE, 10 s).
assert_eq "open 0 ERR:ECONNREFUSED" "$(hold_cmd 'open 7001')" "VIP:7001 (nothing listening): refused"
refused=$(conn_expiry | grep ' 10.0.1.100:7001 ')
assert_match '^TCP CLOSE 10\.0\.1\.2:[0-9]+ 10\.0\.1\.100:7001 10\.0\.2\.11:7001 [0-9]+$' "$refused" \
	"ipvsadm -Lnc: the refused connection is in state CLOSE"
in_range 0 10 "${refused##* }" "its expiry is the CLOSE timeout, 10 s"
refused_port=$(echo "$refused" | awk '{ split($3, a, ":"); print a[2] }')

# An established connection: ESTABLISHED, 900 s, active.
assert_eq "open 1 rs1" "$(hold_cmd open)" "a connection to VIP:7000, answered by rs1"
p1=$(port 1)
assert_eq ESTABLISHED "$(state "$p1")" "ipvsadm -Lnc: ESTABLISHED"
in_range 860 900 "$(expiry "$p1")" "its expiry is the ESTABLISHED timeout, 900 s"
assert_eq "10.0.2.11:7000 1 1 0" "$(dest_table -t "$VIP:7000")" "ActiveConn 1, InActConn 0"

# /proc/net/ip_vs_conn, what ipvsadm -Lnc reads: addresses and ports in hex, the state padded to
# 11 characters, the expiry right-aligned in 7.
procline=$(in_lb grep ' 0A000164 1B58 ' /proc/net/ip_vs_conn)
exp=$(printf '%-3s %08X %04X %08X %04X %s %04X %-11s %7u' TCP 0x0A000102 "$p1" 0x0A000164 7000 0A00020B 7000 \
	ESTABLISHED "$(echo "$procline" | awk '{ print $9 }')")
assert_eq "$exp" "$procline" "/proc/net/ip_vs_conn: the entry's raw line"
assert_eq "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData" \
	"$(in_lb head -n 1 /proc/net/ip_vs_conn)" "/proc/net/ip_vs_conn: the header line"

# The client closes: its FIN makes it CLOSE_WAIT, the server's FIN then TIME_WAIT (120 s).
assert_eq "closed 1" "$(hold_cmd 'close 1')" "the client closes connection 1"
poll_eq TIME_WAIT "client closed first: TIME_WAIT" 10 state "$p1"
in_range 90 120 "$(expiry "$p1")" "its expiry is the TIME_WAIT timeout, 120 s"
assert_eq "10.0.2.11:7000 1 0 1" "$(dest_table -t "$VIP:7000")" "ActiveConn 0, InActConn 1"

# The server closes first (it answers "bye" and closes): the server's FIN makes it FIN_WAIT, and
# it stays there while the client keeps its half open.
assert_eq "open 2 rs1" "$(hold_cmd open)" "connection 2"
p2=$(port 2)
assert_eq "bye 2 rs1" "$(hold_cmd 'bye 2')" "rs1 says bye and closes connection 2"
poll_eq FIN_WAIT "server closed first: FIN_WAIT" 10 state "$p2"
in_range 90 120 "$(expiry "$p2")" "its expiry is the FIN_WAIT timeout, 120 s"
assert_eq "10.0.2.11:7000 1 0 2" "$(dest_table -t "$VIP:7000")" "FIN_WAIT is inactive: ActiveConn 0, InActConn 2"
assert_eq "closed 2" "$(hold_cmd 'close 2')" "the client closes its half"
poll_eq TIME_WAIT "then the client's FIN: TIME_WAIT" 10 state "$p2"

# Shorter timeouts for ESTABLISHED (30 s) and FIN_WAIT (10 s) apply to the next state change.
adm --set 30 10 0 || fail "ipvsadm --set 30 10 0"
assert_eq "Timeout (tcp tcpfin udp): 30 10 300" "$(adm -L --timeout)" "ipvsadm -L --timeout: 30 10 300"
assert_eq "open 3 rs1" "$(hold_cmd open)" "connection 3"
p3=$(port 3)
in_range 10 30 "$(expiry "$p3")" "ESTABLISHED now expires within 30 s"
assert_eq "bye 3 rs1" "$(hold_cmd 'bye 3')" "rs1 closes connection 3"
poll_state FIN_WAIT "FIN_WAIT" 10 "$p3"
in_range 0 10 "$SECS" "FIN_WAIT now expires within 10 s"
poll_eq "" "the FIN_WAIT entry expires and goes away" 20 entry "$p3"

# By now (well over 10 s) the refused connection's CLOSE entry has expired too.
poll_eq "" "the CLOSE entry went away after its 10 s" 15 entry "$refused_port"
left=$(printf '%s\n' "TCP TIME_WAIT 10.0.1.2:$p1 10.0.1.100:7000 10.0.2.11:7000" \
	"TCP TIME_WAIT 10.0.1.2:$p2 10.0.1.100:7000 10.0.2.11:7000" | sort)
assert_eq "$left" "$(conn_entries | sort)" "left: the two TIME_WAIT entries"
