#!/usr/bin/env bash
# NAT over UDP: rr balances new client sockets (each source port is a connection) in IPVS's exact
# order, UDP entries are inactive, show state UDP and expire after the UDP timeout set with
# ipvsadm --set; an ICMP port unreachable from a real server reaches the client translated back
# (a connected socket sees ECONNREFUSED); an answer in fragments is reassembled and translated; a
# datagram that would leave the director with TTL 0 is answered with "time exceeded".
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_udp_echo_start 53
nat_service -u "$VIP:53" rr 53
udp() { in_cl python3 "$TRAFFIC" udp "$VIP" "$@" --timeout "$((3 * TOPO_SLOW))"; }

# Six sockets, each its own source port, one datagram each; real servers listed rs3, rs2, rs1.
assert_eq "$(printf 'rs%s\n' 3 2 1 3 2 1)" "$(udp 53 --sockets 6)" \
	"rr: six client sockets are answered by rs3 rs2 rs1 rs3 rs2 rs1"
# Two datagrams on each of two more sockets: a socket stays with its real server.
assert_eq "$(printf 'rs%s\n' 3 3 2 2)" "$(udp 53 --sockets 2 --count 2)" \
	"rr: the datagrams of one socket stay on one real server"
poll_eq "10.0.2.11:53 1 0 2
10.0.2.12:53 1 0 3
10.0.2.13:53 1 0 3" "UDP connections are never active: ActiveConn 0, InActConn 2, 3, 3" 10 dest_table -u "$VIP:53"

entries=$(conn_expiry)
assert_eq 8 "$(printf '%s\n' "$entries" | grep -c '^UDP UDP 10\.0\.1\.2:[0-9]* 10\.0\.1\.100:53 10\.0\.2\.1[123]:53 ')" \
	"ipvsadm -Lnc: 8 entries in state UDP, client -> VIP:53 -> real server:53"
assert_eq "" "$(printf '%s\n' "$entries" | awk '$6 > 300 || $6 < 240')" \
	"their expiry is the default UDP timeout, 300 s (less the seconds gone by)"

# A 10 s UDP timeout applies to the next packet of any entry.
adm --set 0 0 10 || fail "ipvsadm --set 0 0 10"
assert_eq "Timeout (tcp tcpfin udp): 900 120 10" "$(adm -L --timeout)" "ipvsadm -L --timeout shows udp 10"
got=$(udp 53)
# (Seen once in 300 release runs against rvs: rs2. What the table held then tells why.)
[ "$got" = rs1 ] || log "the connections then: $(conn_expiry | tr '\n' ';')"
assert_eq "rs1" "$got" "rr: the next socket goes to rs1 (after rs3 rs2 rs1 rs3 rs2 rs1 rs3 rs2)"
short=$(conn_expiry | awk '$6 <= 10')
assert_match '^UDP UDP 10\.0\.1\.2:[0-9]+ 10\.0\.1\.100:53 10\.0\.2\.11:53 ([0-9]|10)$' "$short" \
	"ipvsadm -Lnc: the new entry (to rs1) expires within 10 s"
port=$(echo "$short" | awk '{ split($3, a, ":"); print a[2] }')
gone() { ! conn_entries | grep -q "10\.0\.1\.2:$port "; }
poll_until 20 gone || fail "the entry with a 10 s timeout is still there after 20 s: $(conn_expiry)"
log "ok: it is gone after its timeout"
assert_eq 8 "$(conn_entries | wc -l)" "the 8 entries with the 300 s timeout are still there"
poll_eq "10.0.2.11:53 1 0 2
10.0.2.12:53 1 0 3
10.0.2.13:53 1 0 3" "the expired entry no longer counts in InActConn" 10 dest_table -u "$VIP:53"

# Port 54 of the VIP goes to port 54 of the real servers, where nothing listens: the real server's
# ICMP port unreachable goes back through the director, which rewrites it (outer source VIP,
# embedded datagram VIP:54) so that the client's connected socket gets ECONNREFUSED.
nat_service -u "$VIP:54" rr 54
assert_eq "ERR:ECONNREFUSED" "$(udp 54)" "no listener behind VIP:54: the client sees ECONNREFUSED"
assert_match '^UDP UDP 10\.0\.1\.2:[0-9]+ 10\.0\.1\.100:54 10\.0\.2\.13:54$' "$(conn_entries | grep ':54 ')" \
	"ipvsadm -Lnc: the datagram to VIP:54 made an entry to rs3:54"

# An answer larger than the MTU leaves the real server in three fragments: the director
# reassembles them (as IPVS before translating), rewrites the datagram to come from VIP:53 and
# fragments it again for the client.
assert_eq "rs3" "$(udp 53 --reply-size 4000)" \
	"a 4000-byte answer in fragments reaches the client's socket from VIP:53 (rr: rs3)"
# Forwarding costs one TTL: a datagram sent with TTL 1 is not forwarded (its connection is made,
# rr moves on), one with TTL 2 arrives.
assert_eq "ERR:EHOSTUNREACH" "$(udp 53 --ttl 1)" "TTL 1: the client hears time exceeded"
assert_eq "rs1" "$(udp 53 --ttl 2)" "TTL 2: the datagram reaches rs1 (rr: rs2 was the TTL-1 one's)"
