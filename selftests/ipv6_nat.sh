#!/usr/bin/env bash
# IPv6 NAT (-m), as nat_rr_wrr, nat_udp, nat_counters and nat_port_map check it over IPv4: rr and
# wrr pick real servers in IPVS's exact order over TCP; InActConn and the connection counters;
# ipvsadm -Lnc and /proc/net/ip_vs_conn show IPv6 entries (the latter in full, %pI6); UDP byte
# counts exact with the 40-byte IPv6 header; a virtual port mapped to another real port, the real
# server seeing the client's own address; persistence grouping clients by their /64 (-M 64); the
# source-hashing schedulers (sh, mh) placing 8 client addresses as IPVS hashes IPv6 addresses.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo6.sh"

topo_nat 3
topo6
rs_serve6 --http 80 --http 81 --http 82 --http 83 --udp 53

# As over IPv4 (nat_rr_wrr): the real servers are kept in the reverse order of their addition,
# rr starts at the head, and wrr 3:2:1 starts with the cw=1 pass.
nat6_service -t "[$VIP6]:80" rr 80
assert_eq "$(printf 'rs%s\n' 3 2 1 3 2 1 3 2 1)" "$(client_http6 9)" \
	"rr: 9 requests go to rs3 rs2 rs1, three times"
poll_eq "[2001:db8:2::11]:80 1 0 3
[2001:db8:2::12]:80 1 0 3
[2001:db8:2::13]:80 1 0 3" "rr: ActiveConn 0 and InActConn 3 per real server" 10 dest_table6 -t "[$VIP6]:80"
nat6_service -t "[$VIP6]:81" wrr 81 3 2 1
assert_eq "$(printf 'rs%s\n' 3 2 1 1 2 1 3 2 1 1 2 1)" "$(client_http6 12 81)" \
	"wrr 3:2:1: 12 requests go to rs3 rs2 rs1 rs1 rs2 rs1, twice"
stats_conns() { dest_stats6 "$@" | awk '{ print $1, $2 }'; }
poll_eq "[2001:db8:1::100]:81 12
[2001:db8:2::11]:81 6
[2001:db8:2::12]:81 4
[2001:db8:2::13]:81 2" "wrr: ipvsadm -Ln --stats: 12 connections, 6/4/2 per real server" 10 stats_conns -t "[$VIP6]:81"

entries() { adm -Lnc | awk 'NR > 2 { print $1, $3, $4, $5, $6 }'; }
assert_eq 21 "$(entries | grep -Ec '^TCP TIME_WAIT \[2001:db8:1::2\]:[0-9]+ \[2001:db8:1::100\]:8[01] \[2001:db8:2::1[123]\]:8[01]$')" \
	"ipvsadm -Lnc: 21 TCP TIME_WAIT entries client -> VIP -> real server, IPv6"
full='2001:0db8:0001:0000:0000:0000:0000:0002 [0-9A-F]{4} 2001:0db8:0001:0000:0000:0000:0000:0100 005[01] 2001:0db8:0002:0000:0000:0000:0000:001[123] 005[01] TIME_WAIT +[0-9]+$'
assert_eq 21 "$(in_lb cat /proc/net/ip_vs_conn | grep -Ec "^TCP $full")" \
	"/proc/net/ip_vs_conn: the 21 entries with their IPv6 addresses in full"

# UDP (nat_counters): socket 1 sends 10 datagrams of 100 bytes (to rs3, the list head), socket 2
# 5 of 50 bytes (to rs2); each is answered with "rsN\n". IPVS counts L3 lengths: payload + 8 UDP
# + 40 IPv6 bytes.
nat6_service -u "[$VIP6]:53" rr 53
udp6() { in_cl python3 "$TRAFFIC6" udp "$VIP6" 53 "$@" --timeout "$((3 * TOPO_SLOW))"; }
assert_eq "$(printf 'rs3\n%.0s' $(seq 10))" "$(udp6 --count 10 --size 100)" "10 datagrams of 100 bytes, answered by rs3"
assert_eq "$(printf 'rs2\n%.0s' $(seq 5))" "$(udp6 --count 5 --size 50)" "5 datagrams of 50 bytes, answered by rs2"
poll_eq "[2001:db8:1::100]:53 2 15 15 1970 780
[2001:db8:2::11]:53 0 0 0 0 0
[2001:db8:2::12]:53 1 5 5 490 260
[2001:db8:2::13]:53 1 10 10 1480 520" "UDP: ipvsadm -Ln --stats --exact, exactly" 10 dest_stats6 -u "[$VIP6]:53"

# Port mapping (nat_port_map): VIP port 8080 to real port 80; the real server sees the client's
# address and its own port 80.
nat6_service -t "[$VIP6]:8080" rr 80
assert_match "^rs3 $CLIENT6:[0-9]+ $(rs_ip6 3):80\$" "$(client_http6 1 8080 /whoami)" \
	"port 8080 reaches rs3's port 80, which sees the client's own address"

# Persistence by /64: the client's addresses ::2 and ::3 share a /64, 2001:db8:1:1::2 is of
# another (on the client's link too). One template per /64, keyed by the prefix.
in_cl ip addr add 2001:db8:1::3/64 dev eth0 nodad || fail "second client address"
in_cl ip addr add 2001:db8:1:1::2/64 dev eth0 nodad || fail "client address of another /64"
in_lb ip route add 2001:db8:1:1::/64 dev cl0 || fail "route to the other /64"
nat6_service -t "[$VIP6]:82" rr 82
adm -E -t "[$VIP6]:82" -s rr -p 300 -M 64 || fail "persistence with -M 64"
from() { client_http6 1 82 / --interface "$1"; }
got=$(for src in "$CLIENT6" "$CLIENT6" 2001:db8:1::3 2001:db8:1:1::2 2001:db8:1::3; do from "$src"; done)
assert_eq "$(printf 'rs%s\n' 3 3 3 2 3)" "$got" \
	"-M 64: ::2 and ::3 stay on rs3, the other /64 goes to rs2, ::3 back to rs3"
assert_eq "TCP ASSURED [2001:db8:1:1::]:0 [2001:db8:1::100]:82 [2001:db8:2::12]:82
TCP ASSURED [2001:db8:1::]:0 [2001:db8:1::100]:82 [2001:db8:2::13]:82" \
	"$(entries | grep '\]:0 ' | sort)" "ipvsadm -Lnc: one assured template per /64, client port 0"

# Source hashing over IPv6 (ip_vs_sh_hashkey, ip_vs_mh_hashkey: the address folded by XOR of its
# words): where 8 client addresses go is IPVS's exact placement, the same for each request.
for i in 4 5 6 7 8 9; do in_cl ip addr add "2001:db8:1::$i/64" dev eth0 nodad || fail "client address ::$i"; done
sources="$CLIENT6 2001:db8:1::3 2001:db8:1::4 2001:db8:1::5 2001:db8:1::6 2001:db8:1::7 2001:db8:1::8 2001:db8:1::9"
for sched in sh mh; do
	adm -D -t "[$VIP6]:83" 2>/dev/null
	nat6_service -t "[$VIP6]:83" "$sched" 83
	placed=$(for src in $sources; do client_http6 1 83 / --interface "$src"; done | tr '\n' ' ')
	again=$(for src in $sources; do client_http6 1 83 / --interface "$src"; done | tr '\n' ' ')
	assert_eq "$placed" "$again" "$sched: each client address keeps its real server"
	case $sched in
	sh) assert_eq "rs1 rs2 rs3 rs3 rs1 rs3 rs3 rs1 " "$placed" "sh: the 8 client addresses as IPVS places them" ;;
	mh) assert_eq "rs2 rs3 rs3 rs2 rs1 rs2 rs3 rs2 " "$placed" "mh: the 8 client addresses as IPVS places them" ;;
	esac
done

# A datagram larger than the client's link MTU arrives in fragments: reassembled before rvs's
# hooks (IPv6 conntrack's defragmentation, which IPVS enables with its first IPv6 service),
# translated whole and fragmented again on the way to the real server, which answers.
assert_eq "rs1" "$(udp6 --size 3000)" "a 3000-byte datagram in fragments is reassembled, forwarded and answered"
