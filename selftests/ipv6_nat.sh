#!/usr/bin/env bash
# IPv6 NAT (-m), as nat_rr_wrr, nat_udp, nat_counters and nat_port_map check it over IPv4: rr and
# wrr pick real servers in IPVS's exact order over TCP; InActConn and the connection counters;
# ipvsadm -Lnc and /proc/net/ip_vs_conn show IPv6 entries (the latter in full, %pI6); UDP byte
# counts exact with the 40-byte IPv6 header; a virtual port mapped to another real port, the real
# server seeing the client's own address; persistence grouping clients by their /64 (-M 64); the
# source-hashing schedulers (sh, mh) placing 8 client addresses as IPVS hashes IPv6 addresses;
# a datagram in fragments and one with a Destination Options header (ipv6_find_hdr); a fwmark
# service over IPv6 (-f -6); a real server on the director itself; cache_bypass over IPv6.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo6.sh"

topo_nat 3
topo6
rs_serve6 --http 80 --http 81 --http 82 --http 83 --http 84 --http 86 --udp 53

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

# An extension header before the UDP header (a Destination Options header with PadN): skipped
# to find the ports, kept as it is, the datagram translated and answered (by rs3, next in rr).
dstopts() {
	in_cl python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET6, socket.SOCK_DGRAM)
s.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_DSTOPTS, bytes([0, 0, 1, 4, 0, 0, 0, 0]))
s.settimeout(float(sys.argv[2]))
s.connect((sys.argv[1], 53))
s.send(b"x" * 10)
print(s.recv(100).decode().strip())
' "$VIP6" "$((3 * TOPO_SLOW))"
}
assert_eq "rs3" "$(dstopts)" "a datagram with a Destination Options header is translated and answered"

# fwmark over IPv6: what the director marks 5 (TCP to VIP6 port 84) is one service, NAT in rr
# order; what it marks 6 (TCP to rs3's own address, port 86) a service whose only real server
# is quiesced, for cache_bypass.
in_lb nft -f - <<-EOF || fail "director: nft marks"
	table ip6 marks {
		chain pre {
			type filter hook prerouting priority -150;
			ip6 daddr $VIP6 tcp dport 84 meta mark set 5
			ip6 daddr $(rs_ip6 3) tcp dport 86 meta mark set 6
		}
	}
EOF
adm -A -f 5 -6 -s rr || fail "add fwmark service 5 (IPv6)"
for i in 1 2 3; do adm -a -f 5 -6 -r "[$(rs_ip6 "$i")]:84" -m || fail "add rs$i to fwmark 5"; done
assert_eq "rs3 rs2 rs1 rs3 " "$(client_http6 4 84 | tr '\n' ' ')" "fwmark 5 over IPv6: rr over the 3 real servers"
fwm_conns() { adm -Ln --stats --exact -f "$1" -6 | awk '$1 == "FWM" { print $1, $2, $4 }'; }
poll_eq "FWM 5 4" "ipvsadm -Ln --stats: 4 connections of fwmark service 5" 10 fwm_conns 5

# A real server that is the director itself (its own address on the real servers' link): the
# request is translated and delivered locally, the answer translated back.
bg lb "$TOPO_LB" python3 "$TRAFFIC6" serve lb --http 85 --bind :: --ready "$TOPO_DIR/lb.ready"
poll_until 30 test -e "$TOPO_DIR/lb.ready" || fail "the director's own server did not start"
adm -A -t "[$VIP6]:85" -s rr || fail "add [$VIP6]:85"
adm -a -t "[$VIP6]:85" -r "[2001:db8:2::1]:85" -m || fail "add the director as a real server"
assert_match "^lb $CLIENT6:[0-9]+ 2001:db8:2::1:85\$" "$(client_http6 1 85 /whoami --interface "$CLIENT6")" \
	"a local real server gets the request translated and answers through the VIP"

# cache_bypass, as for a transparent cache cluster (cache_cluster): a policy rule delivers what
# is marked 6 to the director, where no real server is available (rs1 quiesced); with
# cache_bypass=0 the request is refused (ip_vs_leave's "port unreachable", which over IPv6 gets
# back to the client from the origin's address), with 1 it goes on to its own destination on a
# connection without real server, which the service does not count.
in_cl ip -6 route add 2001:db8:2::/64 via 2001:db8:1::1 || fail "client: route to the real servers' link"
in_lb ip -6 rule add fwmark 6 lookup 100 || fail "director: ip -6 rule fwmark 6"
in_lb ip -6 route add local ::/0 dev lo table 100 || fail "director: local route table"
adm -A -f 6 -6 -s rr || fail "add fwmark service 6 (IPv6)"
adm -a -f 6 -6 -r "[$(rs_ip6 1)]:86" -m -w 0 || fail "add a quiesced real server to fwmark 6"
out=$(in_cl curl -g -sS -m 3 "http://[$(rs_ip6 3)]:86/" 2>&1)
assert_match '^curl: \(7\) Failed to connect' "$out" "cache_bypass=0: no real server available, the request is refused"
in_lb sysctl -qw net.ipv4.vs.cache_bypass=1 || fail "cache_bypass=1"
assert_eq "rs3" "$(in_cl curl -g -sS -m 10 "http://[$(rs_ip6 3)]:86/")" "cache_bypass=1: the request goes on to rs3 itself"
assert_match '^TCP [A-Z_]+ \[2001:db8:1::[0-9]\]:[0-9]+ \[2001:db8:2::13\]:86 \[::\]:0$' \
	"$(entries | grep '2001:db8:2::13\]:86 ' | head -1)" "ipvsadm -Lnc: the bypass connection has no real server"
assert_eq "0 0" "$(adm -Ln --stats --exact -f 6 -6 | awk '$1 == "FWM" { print $4, $5 }')" \
	"bypass connections and packets are not counted by the service"
