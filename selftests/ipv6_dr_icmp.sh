#!/usr/bin/env bash
# IPv6 direct routing (-g) and ICMPv6 errors, as dr_tun and nat_icmp check them over IPv4: DR in
# rr order over TCP, the real servers (VIP on lo) answering the client from the VIP through the
# director, their router here, which counts those replies as the connections' outgoing packets
# (ip_vs_conn_out_get finds a connection of another method by its virtual address, and
# handle_response counts its reply untouched); a NAT real server's "port unreachable" reaches the client
# from the virtual address with its checksum right (ip_vs_out_icmp_v6: the client's socket reports
# ECONNREFUSED); a datagram that arrives with hop limit 1 is answered "time exceeded"
# (decrement_ttl); one too big for the real servers' link is answered "packet too big", and the
# client learns that path MTU (ensure_mtu_is_adequate).
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo6.sh"

topo_nat 3
topo6
for i in 1 2 3; do in_rs "$i" ip addr add "$VIP6/128" dev lo nodad || fail "VIP on rs$i's lo"; done
rs_serve6 --http 80 --udp 53

adm -A -t "[$VIP6]:80" -s rr || fail "add the DR service"
for i in 1 2 3; do adm -a -t "[$VIP6]:80" -r "[$(rs_ip6 "$i")]:80" -g || fail "add DR real server $i"; done
assert_eq "$(printf 'rs%s\n' 3 2 1 3 2 1)" "$(client_http6 6)" "DR rr: 6 requests go to rs3 rs2 rs1, twice"
assert_eq "[2001:db8:2::11]:80 Route 1
[2001:db8:2::12]:80 Route 1
[2001:db8:2::13]:80 Route 1" "$(adm -Ln -t "[$VIP6]:80" | awk '$1 == "->" && $2 ~ /^\[/ { print $2, $3, $4 }')" \
	"ipvsadm -Ln: three direct-routing real servers, port 80 as the service's"
conns_out() { dest_stats6 -t "[$VIP6]:80" | awk '{ print $1, $2, ($4 > 0 ? "replies" : "none") }'; }
poll_eq "[2001:db8:1::100]:80 6 replies
[2001:db8:2::11]:80 2 replies
[2001:db8:2::12]:80 2 replies
[2001:db8:2::13]:80 2 replies" "DR: 6 connections, 2 per real server, their replies counted" 10 conns_out

# NAT, nobody listening on port 54: each real server's port unreachable is translated back.
nat6_service -u "[$VIP6]:54" rr 54
assert_eq "ERR:ECONNREFUSED" "$(in_cl python3 "$TRAFFIC6" udp "$VIP6" 54 --timeout "$((3 * TOPO_SLOW))")" \
	"a real server's port unreachable reaches the client as from the VIP"

nat6_service -u "[$VIP6]:53" rr 53
# Hop limit 1: not forwarded, "time exceeded" (the socket reports EHOSTUNREACH with RECVERR).
hop1() {
	in_cl python3 -c '
import errno, socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_UNICAST_HOPS, 1)
s.setsockopt(socket.IPPROTO_IPV6, 25, 1)  # IPV6_RECVERR (linux/in6.h)
s.settimeout(float(sys.argv[2]))
s.connect((sys.argv[1], 53))
s.send(b"x")
try:
    print(s.recv(100).decode().strip())
except socket.timeout:
    print("ERR:timeout")
except OSError as e:
    print("ERR:" + errno.errorcode[e.errno])
' "$VIP6" "$((3 * TOPO_SLOW))"
}
assert_eq "ERR:EHOSTUNREACH" "$(hop1)" "hop limit 1: the director answers time exceeded"
assert_eq "rs2" "$(in_cl python3 "$TRAFFIC6" udp "$VIP6" 53 --timeout "$((3 * TOPO_SLOW))")" \
	"hop limit 64: forwarded (to rs2: the hop-limit-1 datagram was scheduled to rs3)"

# The real servers' link gets an MTU of 1280: a 1300-byte datagram (1348 bytes with its
# headers) does not fit, a 1200-byte one does.
in_lb ip link set br0 mtu 1280 || fail "MTU 1280 on the real servers' link"
big=$(in_cl python3 "$TRAFFIC6" udp "$VIP6" 53 --size 1300 --timeout "$((2 * TOPO_SLOW))")
assert_match 'mtu 1280' "$(in_cl ip -6 route get "$VIP6")" \
	"packet too big: the client learnt the path MTU 1280 (its datagram: $big)"
assert_eq "rs3" "$(in_cl python3 "$TRAFFIC6" udp "$VIP6" 53 --size 1200 --timeout "$((3 * TOPO_SLOW))")" \
	"a 1200-byte datagram fits and is answered (by rs3: the refused one was scheduled to rs1)"
