#!/usr/bin/env bash
# Active-active directors behind an ECMP router, as large sites scale L4 balancing out (Maglev,
# Katran): every director announces the VIP over BGP (BIRD) to a router that spreads flows over
# them by an L4 hash; every director runs the same `mh` service (mh-port: each picks the same
# real server for a flow) with direct routing, and a master and a backup sync daemon on the
# shared segment, so that each has the others' connections. Held connections through two
# directors; then one director's BGP session is stopped (the router withdraws its path) and its
# flows go to the other, which has them: every flow keeps its real server, no reset; new
# connections work. Then a third director is added: the router moves part of the flows to it.
# Prints the share of flows that survive each change.
#
# What IPVS cannot do: a director that joins learns a connection only when its packets pass
# another director at the moment IPVS syncs (the threshold, the period); the held flows the
# router moves to the new one before that are unknown there and reset by it (asserted: exactly
# the moved flows missing from its table fail). rvs only: the directors re-announce their tables
# every 2 s (sync_reannounce_period), the new one learns them all within a pass, and every flow
# survives.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

command -v bird >/dev/null || skip "bird (Debian's bird2) is not installed"
# The VIP is routed to the directors, outside the client's segment.
VIP=10.0.100.1
TOPO_N=3
SW=rvs-sw
RT=rvs-rt
LBS="rvs-lb1 rvs-lb2 rvs-lb3"
for ns in "$SW" "$TOPO_CL" "$RT" $LBS rvs-rs1 rvs-rs2 rvs-rs3; do netns_new "$ns"; done
# The inside segment: router, directors and real servers on one bridge.
ip -n "$SW" -batch - <<-EOF || fail "bridge"
	link add br0 type bridge
	link set br0 addrgenmode none up
EOF
inside() { # NS ADDR: NS's in0 on the inside segment
	ip link add in0 netns "$1" type veth peer name "$1" netns "$SW" || fail "veth $1"
	ip -n "$SW" link set "$1" addrgenmode none master br0 up
	ip -n "$1" -batch - <<-EOF || fail "$1 inside"
		link set in0 addrgenmode none up
		addr add $2/24 dev in0
	EOF
}
ip link add eth0 netns "$TOPO_CL" type veth peer name cl0 netns "$RT" || fail "client link"
ip -n "$TOPO_CL" -batch - <<-EOF || fail "client"
	link set eth0 addrgenmode none up
	addr add $CLIENT_IP/24 dev eth0
	route add default via 10.0.1.1
EOF
ip -n "$RT" -batch - <<-EOF || fail "router"
	link set cl0 addrgenmode none up
	addr add 10.0.1.1/24 dev cl0
EOF
inside "$RT" 10.0.2.1
# The flows' source ports go into the router's multipath hash. Policy 3 with the 5-tuple's fields
# rather than 1: a packet from a local socket keeps its socket's random hash across the veth,
# which policy 1 would use instead of the ports, and `ip route get` could not tell a flow's path.
ip netns exec "$RT" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.fib_multipath_hash_policy=3 \
	net.ipv4.fib_multipath_hash_fields=0x0037 || fail "router sysctls"
lb_ip() { echo "10.0.2.2$1"; }
for i in 1 2 3; do
	inside "rvs-lb$i" "$(lb_ip "$i")"
	inside "rvs-rs$i" "$(rs_ip "$i")"
	# Directors and real servers: the VIP on lo, never answered for in ARP.
	for ns in "rvs-lb$i" "rvs-rs$i"; do
		ip -n "$ns" addr add "$VIP/32" dev lo
		ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 ||
			fail "arp sysctls in $ns"
	done
	# Through the router: the real servers' answers, the directors' resets.
	ip -n "rvs-rs$i" route add default via 10.0.2.1
	ip -n "rvs-lb$i" route add default via 10.0.2.1
done
rs_line_start 7000

work=$(mktemp -d /tmp/rvs-ecmp.XXXXXX)
on_exit "rm -rf $work"
# bird_start NS CONF: BIRD in NS, its control socket $work/NS.ctl. In the foreground, as the
# topology's servers: stopped and waited for at exit, before the namespaces go (a BIRD left
# running would keep its namespace, and the services there, alive).
bird_start() {
	printf '%s\n' "$2" >"$work/$1.conf"
	bg "bird-$1" "$1" bird -f -c "$work/$1.conf" -s "$work/$1.ctl"
	poll_until 10 test -S "$work/$1.ctl" || { cat "$TOPO_DIR/bird-$1.log"; fail "bird in $1"; }
}
# The router: a BGP session with every director; their VIP routes merged into one ECMP route.
bird_start "$RT" "$(
	echo 'router id 10.0.2.1;'
	echo 'protocol device { scan time 1; }'
	echo 'protocol kernel { ipv4 { import none; export all; }; merge paths yes; }'
	for i in 1 2 3; do
		echo "protocol bgp lb$i { local 10.0.2.1 as 65000; neighbor $(lb_ip "$i") as 65001;"
		echo '  hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 2;'
		echo '  ipv4 { import all; export none; }; }'
	done
)"
# director_start I: director I's service, sync daemons and BGP session announcing the VIP.
director_start() {
	local ns=rvs-lb$1 r
	ip netns exec "$ns" ipvsadm -A -t "$VIP:7000" -s mh -b mh-port || fail "$ns service"
	for r in 1 2 3; do
		ip netns exec "$ns" ipvsadm -a -t "$VIP:7000" -r "$(rs_ip "$r")" -g || fail "$ns real server $r"
	done
	if [ "$MODULE" = rvs ]; then
		ip netns exec "$ns" sysctl -qw net.ipv4.vs.sync_reannounce_period=2 || fail "sync_reannounce_period"
	fi
	ip netns exec "$ns" ipvsadm --start-daemon backup --mcast-interface in0 --syncid 9 || fail "$ns backup daemon"
	ip netns exec "$ns" ipvsadm --start-daemon master --mcast-interface in0 --syncid 9 || fail "$ns master daemon"
	bird_start "$ns" "router id $(lb_ip "$1");
protocol device { scan time 1; }
protocol static { ipv4; route $VIP/32 blackhole; }
protocol bgp uplink { local $(lb_ip "$1") as 65001; neighbor 10.0.2.1 as 65000;
  hold time 3; keepalive time 1; connect retry time 1; error wait time 1, 2;
  ipv4 { import none; export where net = $VIP/32; }; }"
}
# paths: the directors the router's VIP route goes through.
paths() { ip -n "$RT" route show "$VIP" | grep -o 'via 10\.0\.2\.2[0-9]' | awk '{ print $2 }' | sort | tr '\n' ' '; }
# vias: the director the router sends each held connection's packets to, a line per flow (one
# `ip -batch` of route lookups: processes are slow on the debug kernel).
vias() {
	local i port
	for i in $(seq 0 $((FLOWS - 1))); do
		port=$(hold_cmd "port $i")
		echo "route get $VIP from $CLIENT_IP iif cl0 ipproto tcp sport ${port##* } dport 7000"
	done | ip -n "$RT" -batch - | grep -o 'via 10\.0\.2\.2[0-9]' | awk '{ print $2 }'
}

director_start 1
director_start 2
poll_eq "$(lb_ip 1) $(lb_ip 2) " "the router's VIP route goes through both directors" 20 paths

# Held connections (each a new source port): both directors carry some.
FLOWS=12
hold_start 7000
for i in $(seq 0 $((FLOWS - 1))); do
	assert_match "^open $i rs[123]$" "$(hold_cmd open)" "held connection $i"
done
answers=$(hold_cmd ping)
assert_match "^ping( rs[123]){$FLOWS}$" "$answers" "every held connection answers"
read -r n1 n2 <<<"$(vias | awk -v a="$(lb_ip 1)" -v b="$(lb_ip 2)" '$1 == a { n1++ } $1 == b { n2++ } END { print n1 + 0, n2 + 0 }')"
log "the router sends $n1 flows through the first director, $n2 through the second"
[ "$n1" -gt 0 ] && [ "$n2" -gt 0 ] || fail "the router's hash spread no flow to one of the directors"
# Each director has the other's connections: its own, and the synced ones.
total() { ip netns exec "$1" ipvsadm -Lnc | grep -c "ESTABLISHED.*$CLIENT_IP:"; }
poll_eq "$FLOWS" "the first director has every flow" 10 total rvs-lb1
poll_eq "$FLOWS" "the second director has every flow" 10 total rvs-lb2

# Withdrawal: the second director's BGP session stops.
birdc -s "$work/rvs-lb2.ctl" disable uplink >/dev/null || fail "birdc disable"
poll_eq "$(lb_ip 1) " "the router withdraws the second director's path" 20 paths
after=$(hold_cmd ping)
assert_eq "$answers" "$after" "every flow answers through the first director, from its real server"
log "withdrawal: $FLOWS of $FLOWS flows survive"
assert_match "^open $FLOWS rs[123]$" "$(hold_cmd open)" "a new connection through the first director"
FLOWS=$((FLOWS + 1))
answers=$(hold_cmd ping)

# Addition: a third director with an empty table starts and announces the VIP.
director_start 3
poll_eq "$(lb_ip 1) $(lb_ip 3) " "the router adds the third director's path" 20 paths
if [ "$MODULE" = rvs ]; then
	poll_eq "$FLOWS" "the third director learns every flow from the first's pass" 10 total rvs-lb3
fi
# expected: every flow's real server, or a reset where the third director lacks the flow (with
# ip_vs, those it has not learned as IPVS syncs: when their packets passed the first director).
known=$(ip netns exec rvs-lb3 ipvsadm -Lnc | awk '{ print $4 }')
expected=ping moved=0 lost=0
read -r -a names <<<"${answers#ping }"
mapfile -t via < <(vias)
[ "${#via[@]}" = "$FLOWS" ] || fail "a route lookup per flow: ${via[*]}"
for i in $(seq 0 $((FLOWS - 1))); do
	if [ "${via[$i]}" = "$(lb_ip 3)" ]; then
		moved=$((moved + 1))
		port=$(hold_cmd "port $i")
		if ! grep -qx "$CLIENT_IP:${port##* }" <<<"$known"; then
			lost=$((lost + 1))
			expected+=" ERR:ECONNRESET"
			continue
		fi
	fi
	expected+=" ${names[$i]}"
done
log "the router moves $moved of $FLOWS flows to the third director"
[ "$moved" -gt 0 ] || fail "the router moved no flow to the third director"
assert_eq "$expected" "$(hold_cmd ping)" "the flows after the third director joined"
log "addition: $((FLOWS - lost)) of $FLOWS flows survive"
assert_match "^open $FLOWS rs[123]$" "$(hold_cmd open)" "a new connection after the addition"
