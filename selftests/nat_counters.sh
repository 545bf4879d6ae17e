#!/usr/bin/env bash
# Byte and packet counters count what crossed the director. UDP exactly: IPVS counts L3 lengths
# (payload + 8 UDP + 20 IP bytes). TCP against nft counters in the client (per service) and in
# each real server (per real server): IPVS's InPkts/InBytes are what the client sent to the VIP,
# which is what each real server received; OutPkts/OutBytes the other way. Seen through netlink
# (ipvsadm -Ln --stats --exact) and /proc/net/ip_vs_stats; ZERO (ipvsadm -Z) resets them.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 2
rs_serve --udp 53 --http 80
nat_service -u "$VIP:53" rr 53
nat_service -t "$VIP:80" rr 80
udp() { in_cl python3 "$TRAFFIC" udp "$VIP" 53 "$@" --timeout "$((3 * TOPO_SLOW))"; }

# UDP: socket 1 sends 10 datagrams of 100 bytes (to rs2, first in list), socket 2 sends 5 of 50
# bytes (to rs1). Every datagram is answered with "rsN\n", 4 bytes.
assert_eq "$(printf 'rs2\n%.0s' $(seq 10))" "$(udp --count 10 --size 100)" "10 datagrams of 100 bytes, answered by rs2"
assert_eq "$(printf 'rs1\n%.0s' $(seq 5))" "$(udp --count 5 --size 50)" "5 datagrams of 50 bytes, answered by rs1"
# Conns InPkts OutPkts InBytes OutBytes: rs2 10 x 128 in, 10 x 32 out; rs1 5 x 78 in, 5 x 32 out.
udp_stats="10.0.1.100:53 2 15 15 1670 480
10.0.2.11:53 1 5 5 390 160
10.0.2.12:53 1 10 10 1280 320"
poll_eq "$udp_stats" "UDP: ipvsadm -Ln --stats --exact: service and real servers, exactly" 10 dest_stats -u "$VIP:53"

# TCP: count in the client what it sends to VIP:80 and receives from it, and in each real server
# what it receives from the client and sends back.
counters() { # NETNS: "IN-PACKETS IN-BYTES OUT-PACKETS OUT-BYTES" of the chains in and out
	ip netns exec "$1" nft list table ip cnt | awk '/chain in/ { c = 0 } /chain out/ { c = 1 }
		/counter packets/ { for (i = 1; i < NF; i++) { if ($i == "packets") p[c] = $(i + 1)
			if ($i == "bytes") b[c] = $(i + 1) } }
		END { print p[0], b[0], p[1], b[1] }'
}
nft_table() { # NETNS PEER-MATCH-IN PEER-MATCH-OUT
	printf 'table ip cnt {
		chain in { type filter hook input priority 0; %s counter; }
		chain out { type filter hook output priority 0; %s counter; }
	}\n' "$2" "$3" | ip netns exec "$1" nft -f - || fail "nft counters in $1"
}
nft_table "$TOPO_CL" "ip saddr $VIP tcp sport 80" "ip daddr $VIP tcp dport 80"
nft_table rvs-rs1 "ip saddr $CLIENT_IP tcp dport 80" "ip daddr $CLIENT_IP tcp sport 80"
nft_table rvs-rs2 "ip saddr $CLIENT_IP tcp dport 80" "ip daddr $CLIENT_IP tcp sport 80"

# Three GETs of 20000 bytes each (rs2, rs1, rs2): several segments each way, some of them GSO.
assert_eq 60000 "$(client_http 3 80 /bytes/20000 | wc -c)" "3 HTTP answers of 20000 bytes"
# What IPVS must show: the client's out chain is the service's In, its in chain the service's Out;
# each real server's in chain is its In, its out chain its Out.
expected_tcp() {
	local cl rs1 rs2
	read -r -a cl < <(counters "$TOPO_CL")
	read -r -a rs1 < <(counters rvs-rs1)
	read -r -a rs2 < <(counters rvs-rs2)
	echo "10.0.1.100:80 3 ${cl[2]} ${cl[0]} ${cl[3]} ${cl[1]}"
	echo "10.0.2.11:80 1 ${rs1[0]} ${rs1[2]} ${rs1[1]} ${rs1[3]}"
	echo "10.0.2.12:80 2 ${rs2[0]} ${rs2[2]} ${rs2[1]} ${rs2[3]}"
}
# All three connections end in TIME_WAIT once both FINs went through; then the counters settle.
poll_eq 3 "the three TCP connections are closed (TIME_WAIT)" 10 \
	sh -c "ip netns exec $TOPO_LB ipvsadm -Lnc | grep -c 'TIME_WAIT.*:80 '"
same() { [ "$(expected_tcp)" = "$(dest_stats -t "$VIP:80")" ]; }
poll_until 10 same
expected=$(expected_tcp)
log "nft counted (conns, in pkts, out pkts, in bytes, out bytes):"
printf '%s\n' "$expected" | sed 's/^/      /'
assert_match '^10\.0\.1\.100:80 3 [1-9][0-9]+ [1-9][0-9]+ [1-9][0-9]+ [6-9][0-9]{4}$' "$(echo "$expected" | head -n 1)" \
	"the client received over 60000 bytes from the VIP"
assert_eq "$expected" "$(dest_stats -t "$VIP:80")" \
	"TCP: ipvsadm -Ln --stats --exact equals the nft counters of the client and of each real server"

# /proc/net/ip_vs_stats: the namespace's totals in hex (5 connections, both services).
read -r _ _ tin tout tinb toutb < <(echo "$expected" | head -n 1)
assert_eq "$(printf '%8X %8X %8X %16X %16X' 5 $((15 + tin)) $((15 + tout)) $((1670 + tinb)) $((480 + toutb)))" \
	"$(in_lb sed -n 3p /proc/net/ip_vs_stats)" "/proc/net/ip_vs_stats: totals of both services, in hex"
assert_eq "   Total Incoming Outgoing         Incoming         Outgoing
   Conns  Packets  Packets            Bytes            Bytes" "$(in_lb head -n 2 /proc/net/ip_vs_stats)" \
	"/proc/net/ip_vs_stats: header"

# ZERO of one service, then of everything. The estimator (2 s) must not bring old counts back.
adm -Z -t "$VIP:80" || fail "ipvsadm -Z -t"
assert_eq "10.0.1.100:80 0 0 0 0 0
10.0.2.11:80 0 0 0 0 0
10.0.2.12:80 0 0 0 0 0" "$(dest_stats -t "$VIP:80")" "ipvsadm -Z -t VIP:80 zeroes that service and its real servers"
assert_eq "$udp_stats" "$(dest_stats -u "$VIP:53")" "the UDP service keeps its counters"
adm -Z || fail "ipvsadm -Z"
# ipvsadm lists TCP services before UDP ones.
zero="10.0.1.100:80 0 0 0 0 0
10.0.2.11:80 0 0 0 0 0
10.0.2.12:80 0 0 0 0 0
10.0.1.100:53 0 0 0 0 0
10.0.2.11:53 0 0 0 0 0
10.0.2.12:53 0 0 0 0 0"
assert_eq "$zero" "$(dest_stats)" "ipvsadm -Z zeroes every service and real server"
assert_eq "$(printf '%8X %8X %8X %16X %16X' 0 0 0 0 0)" "$(in_lb sed -n 3p /proc/net/ip_vs_stats)" \
	"/proc/net/ip_vs_stats: zero totals"
nap 3
assert_eq "$zero" "$(dest_stats)" "still zero 3 s later"

# Counting goes on from zero.
assert_eq "rs2" "$(udp --size 1000)" "one more datagram of 1000 bytes (rs2)"
poll_eq "10.0.1.100:53 1 1 1 1028 32
10.0.2.11:53 0 0 0 0 0
10.0.2.12:53 1 1 1 1028 32" "UDP: counted from zero" 10 dest_stats -u "$VIP:53"
