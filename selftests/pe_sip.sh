#!/usr/bin/env bash
# The SIP persistence engine (--pe sip, IPVS's ip_vs_pe_sip): a persistent UDP service binds each
# call, named by the Call-ID header of its datagrams, to a real server, instead of each client:
# one client's (a proxy's) calls are spread by the scheduler, and every datagram of a call, from
# any port, reaches the call's real server. A datagram without a Call-ID is dropped without being
# scheduled, and so is a TCP SYN to such a service. Templates show "sip CALLID" in
# /proc/net/ip_vs_conn; ipvsadm -S shows --pe sip; an edit without --pe removes the engine. A
# real server's own request to a client (conn_out) leaves from the VIP, its answer comes back, and
# its call is bound to that real server. Each expectation holds on ip_vs too.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_udp_echo_start 5060
SIP="$RVS_ROOT/selftests/lib/sip.py"
# How long a client waits for an answer that comes, and one that must not.
WAIT=$((5 * TOPO_SLOW))
SILENCE=$TOPO_SLOW
call() { in_cl python3 "$SIP" call "$VIP" "${PORT:-5060}" --timeout "$WAIT" "$@"; }

nat_service -u "$VIP:5060" rr 5060
adm -E -u "$VIP:5060" -s rr -p 60 --pe sip || fail "ipvsadm -E ... --pe sip"
assert_eq "-A -u $VIP:5060 -s rr -p 60 --pe sip" "$(adm -Sn | grep '^-A')" "ipvsadm -S shows --pe sip"

# Four calls from one client, each from a new socket: rr gives them rs3 rs2 rs1 rs3, one
# template per call (plain persistence would keep the client on rs3).
got=$(for c in call-a call-b call-c call-d; do call "$c"; done)
assert_eq "$(printf 'rs%s\n' 3 2 1 3)" "$got" "four calls of one client: rr spreads them, rs3 rs2 rs1 rs3"
# The calls' next datagrams, from new sockets, with the header spelt three ways.
got=$(call call-b; call call-a --header call-id; call call-c --header i; call call-d)
assert_eq "$(printf 'rs%s\n' 2 3 1 3)" "$got" \
	"each call's next datagram (Call-ID, call-id, compact i) reaches its real server"
# No Call-ID, or one that does not end its line: dropped, and rr does not move on.
assert_eq TIMEOUT "$(call x --header '' --timeout "$SILENCE")" "a datagram without Call-ID is dropped"
assert_eq TIMEOUT "$(call 'call-e;tag=1' --timeout "$SILENCE")" \
	"a Call-ID followed by anything but the line's end is dropped"
assert_eq rs2 "$(call call-e)" "the next call goes on from rr's place: rs2"

# The templates: client 10.0.1.2 port 0, VIP:5060, their real server, and the engine with the call.
assert_eq "UDP 0A000102 0000 0A000164 13C4 0A00020B 13C4 sip call-c
UDP 0A000102 0000 0A000164 13C4 0A00020C 13C4 sip call-b
UDP 0A000102 0000 0A000164 13C4 0A00020C 13C4 sip call-e
UDP 0A000102 0000 0A000164 13C4 0A00020D 13C4 sip call-a
UDP 0A000102 0000 0A000164 13C4 0A00020D 13C4 sip call-d" \
	"$(in_lb awk 'NR > 1 && NF == 11 { print $1, $2, $3, $4, $5, $6, $7, $10, $11 }' /proc/net/ip_vs_conn | sort)" \
	"/proc/net/ip_vs_conn: five templates with 'sip CALLID' after the expiry"
assert_eq 5 "$(adm -Lnc | grep -c ' 10\.0\.1\.2:0 ')" "ipvsadm -Lnc lists the five templates"
assert_eq "10.0.2.11:5060 1
10.0.2.12:5060 2
10.0.2.13:5060 2" "$(adm -Ln --persistent-conn | awk '$1 == "->" && $2 ~ /^10/ { print $2, $4 }')" \
	"--persistent-conn: the templates per real server"

# ipvsadm -Lnc --persistent-conn adds the engine and the call to the templates' lines; rvsadm
# prints the same (the expiry column aside, which may tick between the two).
conns() { "$@" -Lnc --persistent-conn | sed -E 's/^(.{4})[0-9]{2}:[0-9]{2}/\1mm:ss/' | sort; }
ipvsadm_conns=$(conns adm)
assert_eq 5 "$(printf '%s\n' "$ipvsadm_conns" | grep -cE ' sip +call-[a-e]$')" \
	"ipvsadm -Lnc --persistent-conn: 'sip CALLID' on the five templates' lines"
assert_eq "$ipvsadm_conns" "$(ADM=$RVSADM conns adm)" "rvsadm -Lnc --persistent-conn prints the same"

# An edit without --pe removes the engine: the client's datagrams, Call-ID or not, then keep to
# the one real server of its (new) client template; rr goes on to rs1.
adm -E -u "$VIP:5060" -s rr -p 60 || fail "ipvsadm -E without --pe"
assert_eq "-A -u $VIP:5060 -s rr -p 60" "$(adm -Sn | grep '^-A')" "ipvsadm -S: no --pe after the edit"
got=$(call x --header ''; call call-a; call call-b)
assert_eq "$(printf 'rs%s\n' 1 1 1)" "$got" "without the engine, one template for the client: rs1 for all"
adm -E -u "$VIP:5060" -s rr -p 60 --pe sip || fail "ipvsadm -E ... --pe sip again"
assert_eq rs3 "$(call call-a)" "with the engine back, call-a's template (rs3) binds again"

# TCP: the engine takes UDP only; a SYN to a persistent TCP service with it is dropped (no
# answer at all, where a real server without listener would reset).
adm -A -t "$VIP:5060" -s rr -p 60 --pe sip || fail "a TCP service with --pe sip"
adm -a -t "$VIP:5060" -r "$(rs_ip 1):5060" -m || fail "its real server"
assert_eq timeout "$(in_cl python3 -c '
import socket, sys
try:
    socket.create_connection((sys.argv[1], 5060), timeout=float(sys.argv[2]))
    print("connected")
except socket.timeout:
    print("timeout")
except OSError as e:
    print(e.strerror)' "$VIP" "$SILENCE")" "TCP: the SYN is dropped"

# A real server's own request (conn_out): rs2 sends a BYE of call out-1 from its service port to
# the client's port 5070, where nothing was scheduled. The director makes the connection client
# <- VIP:5062 <- rs2 for it: the client sees the VIP, its answer reaches rs2, and the call's
# template names rs2, so the call's next datagram from the client goes there (no one listens on
# 5062: the connection table tells), where rr would have picked rs3 for a new call.
nat_service -u "$VIP:5062" rr 5062
adm -E -u "$VIP:5062" -s rr -p 60 --pe sip || fail "ipvsadm -E ... 5062 --pe sip"
answer_start() {
	rm -f "$TOPO_DIR/answer.ready" "$TOPO_DIR/answer.log"
	bg answer "$TOPO_CL" python3 "$SIP" answer 5070 --ready "$TOPO_DIR/answer.ready" \
		--timeout "$((3 * WAIT))"
	poll_until 20 test -e "$TOPO_DIR/answer.ready" || fail "the client's answering socket"
}
answer_start
assert_eq "OK FROM 10.0.1.2:5070" \
	"$(in_rs 2 python3 "$SIP" request "$CLIENT_IP" 5070 out-1 --sport 5062 --timeout "$WAIT")" \
	"rs2's request reaches the client, and the client's answer comes back to rs2"
wait "$BG_PID"
assert_eq "$VIP:5062 out-1" "$(cat "$TOPO_DIR/answer.log")" "the client got it from VIP:5062"
assert_eq "UDP ASSURED 10.0.1.2:0 10.0.1.100:5062 10.0.2.12:5062
UDP UDP 10.0.1.2:5070 10.0.1.100:5062 10.0.2.12:5062" \
	"$(conn_entries | grep ':5062 ' | sort)" "ipvsadm -Lnc: the connection and the call's template, to rs2"
PORT=5062 call out-1 --timeout "$SILENCE" >/dev/null
PORT=5062 call out-2 --timeout "$SILENCE" >/dev/null
assert_eq "10.0.2.12:5062 out-1
10.0.2.13:5062 out-2" \
	"$(in_lb awk '$4 == "0A000164" && $5 == "13C6" && $3 == "0000" { print $6, $11 }' /proc/net/ip_vs_conn |
		sed 's/^0A00020C/10.0.2.12:5062/; s/^0A00020D/10.0.2.13:5062/' | sort)" \
	"the client's datagram of call out-1 went to rs2 (its template), a new call out-2 to rs3 (rr)"
# Without a Call-ID the real server's datagram is not for the engine: it leaves untranslated.
answer_start
in_rs 1 python3 "$SIP" request "$CLIENT_IP" 5070 x --header '' --sport 5062 --timeout "$SILENCE" >/dev/null
wait "$BG_PID"
assert_eq "10.0.2.11:5062 -" "$(cat "$TOPO_DIR/answer.log")" \
	"rs1's datagram without Call-ID reaches the client from its own address"
