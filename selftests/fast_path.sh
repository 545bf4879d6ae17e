#!/usr/bin/env bash
# rvs's fast path (the fast_path sysctl; rvs only: ip_vs has no such path and no such file). With
# it on, the packets of established connections are sent on from PRE_ROUTING, before the director
# routes them to itself, and nothing a client or a real server sees changes. The same script runs
# against ip_vs, without the sysctl, which proves every expectation but the one on the path
# itself: NAT over UDP and TCP to the real servers rr chose, exact counters, TCP connections
# through to TIME_WAIT, and a datagram of an established connection that needs its input route
# (TTL 1: "time exceeded" goes back to the client). An nft counter on the director's INPUT shows
# which packets went the usual way: against rvs the first packet of each connection, the TCP SYNs
# and the TTL-1 datagram only; against ip_vs every packet.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 2
rs_serve --udp 53 --http 80
nat_service -u "$VIP:53" rr 53
nat_service -t "$VIP:80" rr 80
if [ "$MODULE" = ipvs ]; then
	in_lb test ! -e /proc/sys/net/ipv4/vs/fast_path || fail "ip_vs has a fast_path sysctl"
else
	assert_eq 0 "$(in_lb cat /proc/sys/net/ipv4/vs/fast_path)" "fast_path is off by default"
	out=$(in_lb bash -c 'echo 2 >/proc/sys/net/ipv4/vs/fast_path' 2>&1)
	assert_match 'Invalid argument' "$out" "fast_path=2 is refused"
	in_lb sysctl -qw net.ipv4.vs.fast_path=1 || fail "fast_path=1"
fi

# The director's INPUT counts what reaches LOCAL_IN for the VIP; the client counts what it sends
# to VIP:80, and the SYNs among it.
in_lb nft -f - <<-EOF || fail "nft counter in the director"
	table ip fp {
		chain in {
			type filter hook input priority 0;
			ip daddr $VIP counter;
		}
	}
EOF
in_cl nft -f - <<-EOF || fail "nft counters in the client"
	table ip fp {
		chain out {
			type filter hook output priority 0;
			ip daddr $VIP tcp dport 80 counter;
			ip daddr $VIP tcp dport 80 tcp flags & syn == syn counter;
		}
	}
EOF
counters() { # NETNS CHAIN: "PACKETS BYTES" of each counter of the chain, in order
	ip netns exec "$1" nft list chain ip fp "$2" |
		awk '/counter packets/ { for (i = 1; i < NF; i++) if ($i == "packets") printf "%s %s ", $(i + 1), $(i + 3) }'
}
udp() { in_cl python3 "$TRAFFIC" udp "$VIP" 53 "$@" --timeout "$((3 * TOPO_SLOW))"; }

# UDP: 10 datagrams of 100 bytes on one socket (rs2, first in list), 5 of 50 bytes on another (rs1).
assert_eq "$(printf 'rs2\n%.0s' $(seq 10))" "$(udp --count 10 --size 100)" "10 datagrams of 100 bytes, answered by rs2"
assert_eq "$(printf 'rs1\n%.0s' $(seq 5))" "$(udp --count 5 --size 50)" "5 datagrams of 50 bytes, answered by rs1"
poll_eq "10.0.1.100:53 2 15 15 1670 480
10.0.2.11:53 1 5 5 390 160
10.0.2.12:53 1 10 10 1280 320" "UDP: ipvsadm -Ln --stats --exact, exactly" 10 dest_stats -u "$VIP:53"

# TCP: three GETs of 20000 bytes (rs2, rs1, rs2), through to TIME_WAIT.
assert_eq "60000" "$(client_http 3 80 /bytes/20000 | wc -c)" "3 HTTP answers of 20000 bytes"
poll_eq "10.0.2.11:80 1 0 1
10.0.2.12:80 1 0 2" "rr: rs2 has two of the connections and rs1 one, none active any more" 10 dest_table -t "$VIP:80"
poll_eq 3 "the three TCP connections are closed (TIME_WAIT)" 10 \
	sh -c "ip netns exec $TOPO_LB ipvsadm -Lnc | grep -c 'TIME_WAIT.*:80 '"
read -r tcp_pkts tcp_bytes syns _ < <(counters "$TOPO_CL" out)
[ "${tcp_pkts:-0}" -gt 0 ] || fail "the client counted its packets to VIP:80"
# ip_vs shows the statistics its estimator last summed (every 2 s): polled.
tcp_service() { dest_stats -t "$VIP:80" | awk 'NR == 1 { print $2, $3, $5 }'; }
poll_eq "3 $tcp_pkts $tcp_bytes" \
	"TCP: the service has its three connections, and InPkts and InBytes are what the client sent to VIP:80" \
	10 tcp_service

# A datagram of an established connection (the socket's second) sent with TTL 1: the director
# answers "time exceeded" and forwards nothing, as for a new connection.
ttl_check=$(in_cl python3 - "$VIP" "$((3 * TOPO_SLOW))" <<-'PY'
	import errno, socket, sys
	s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
	s.settimeout(float(sys.argv[2]))
	s.connect((sys.argv[1], 53))
	s.send(b"once")
	print(s.recv(100).decode().strip())
	s.setsockopt(socket.IPPROTO_IP, socket.IP_TTL, 1)
	s.setsockopt(socket.IPPROTO_IP, 11, 1)  # IP_RECVERR: report "time exceeded" too
	s.send(b"ttl1")
	try:
	    print("answered: " + s.recv(100).decode().strip())
	except OSError as e:
	    print("ERR:" + errno.errorcode.get(e.errno or 0, "timeout"))
PY
)
assert_eq "rs2
ERR:EHOSTUNREACH" "$ttl_check" "an established connection's TTL-1 datagram gets time exceeded (rr: rs2)"
poll_eq "10.0.1.100:53 3 17 16 1734 512" "the UDP service counted both datagrams of the third socket (32 bytes each)" 10 \
	sh -c "ip netns exec $TOPO_LB ipvsadm -Ln --stats --exact -u $VIP:53 | awk '\$1 == \"UDP\" { print \$2, \$3, \$4, \$5, \$6, \$7 }'"

# What went through the director's INPUT.
in_pkts=$(dest_stats | awk '$1 ~ /^10\.0\.1\.100:/ { n += $3 } END { print n }')
read -r input _ < <(counters "$TOPO_LB" in)
if [ "$MODULE" = ipvs ]; then
	assert_eq "$in_pkts" "$input" "ip_vs: every packet to the VIP ($in_pkts) passed INPUT"
else
	# The first datagram of each of the three sockets, the TTL-1 one, and the TCP SYNs.
	assert_eq "$((3 + 1 + syns))" "$input" \
		"rvs: of the $in_pkts packets to the VIP, only the connections' first ones and the TTL-1 one passed INPUT"
fi

# The PRE_ROUTING hook is there only while fast_path is on: switched off, an established
# connection's packets go through INPUT again; switched on before the namespace's first service
# exists, the hook comes with the service. (ip_vs: every packet, each time.)
input_now() { counters "$TOPO_LB" in | awk '{ print $1 }'; }
# two_datagrams WHAT: a new socket's two datagrams are answered; sets $through to the packets
# they added to INPUT.
two_datagrams() {
	local before
	before=$(input_now)
	assert_eq 2 "$(udp --count 2 --size 20 | wc -l)" "$1: two datagrams answered"
	through=$(($(input_now) - before))
}
# rvs's PRE_ROUTING hooks in the director, as netfilter lists them.
prerouting_hooks() { in_lb nft list hooks ip | awk '/hook prerouting/, /}/' | grep -c '\[rvs\]'; }
if [ "$MODULE" != ipvs ]; then
	assert_eq 1 "$(prerouting_hooks)" "fast_path on: rvs has a PRE_ROUTING hook"
	in_lb sysctl -qw net.ipv4.vs.fast_path=0 || fail "fast_path=0"
	assert_eq 0 "$(prerouting_hooks)" "fast_path off: rvs has no PRE_ROUTING hook"
fi
two_datagrams "fast_path off"
assert_eq 2 "$through" "with fast_path off, both datagrams of a connection passed INPUT"
adm -C || fail "ipvsadm -C"
[ "$MODULE" = ipvs ] || in_lb sysctl -qw net.ipv4.vs.fast_path=1 || fail "fast_path=1 without services"
nat_service -u "$VIP:53" rr 53
two_datagrams "a new service"
if [ "$MODULE" = ipvs ]; then
	assert_eq 2 "$through" "ip_vs: both datagrams passed INPUT"
else
	assert_eq 1 "$(prerouting_hooks)" "fast_path set before the first service: the hook came with it"
	assert_eq 1 "$through" "fast_path set before the first service: only the first datagram passed INPUT"
fi
