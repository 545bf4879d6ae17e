# shellcheck shell=bash
# IPv6 on the flat LVS-DR / LVS-TUN topology of topo_flat.sh: the same segment with IPv6
# addresses beside the IPv4 ones (and static link-local ones, without duplicate address
# detection, as topo6.sh adds them). Sourced after topo_flat.sh and topo6.sh, whose helpers
# (rs_serve6, client_http6, dest_stats6) it reuses with its own addresses.
#
#   client rvs-cl 2001:db8::2 ---+
#   director rvs-lb 2001:db8::1 + VIP6 2001:db8::100 ---+--- bridge br0 in rvs-sw
#   real servers rvs-rsI 2001:db8::1I, VIP6 on lo ---+
#
# The director's VIP6 is deprecated (preferred_lft 0): it receives, but is never chosen as a source
# address, which as a /128 it would be for the whole segment (the longest matching prefix), and
# the real servers, which hold it too, would neither answer the director's packets nor take its
# tunnels from it. The real servers do not answer neighbour solicitations for VIP6 (it is on lo, IPv6 answers only
# for the receiving link's addresses) and answer the client directly. With `tunnel` they take
# every tunnel rvs and IPVS send (rs_tunnel6_receive).
#
#   topo_flat6 [tunnel]         add IPv6 to a topology topo_flat built

VIP6=2001:db8::100
CLIENT6=2001:db8::2
rs_ip6() { echo "2001:db8::$((10 + $1))"; }

topo_flat6() {
	local mode=${1:-} i
	ip -n "$TOPO_CL" -batch - <<-EOF || fail "client IPv6 addresses"
		addr add fe80::2/64 dev eth0 nodad
		addr add $CLIENT6/64 dev eth0 nodad
	EOF
	ip -n "$TOPO_LB" -batch - <<-EOF || fail "director IPv6 addresses"
		addr add fe80::1/64 dev eth0 nodad
		addr add 2001:db8::1/64 dev eth0 nodad
		addr add $VIP6/128 dev eth0 nodad preferred_lft 0
	EOF
	for i in $(seq "$TOPO_N"); do
		ip -n "rvs-rs$i" -batch - <<-EOF || fail "rs$i IPv6 addresses"
			addr add fe80::$((10 + i))/64 dev eth0 nodad
			addr add $(rs_ip6 "$i")/64 dev eth0 nodad
			addr add $VIP6/128 dev lo nodad
		EOF
		[ "$mode" = tunnel ] && rs_tunnel6_receive "rvs-rs$i" "$(rs_ip6 "$i")"
	done
	in_cl ping -6 -q -c 1 -W 5 "$VIP6" >/dev/null || fail "client cannot reach the IPv6 VIP"
	for i in $(seq "$TOPO_N"); do
		in_lb ping -6 -q -c 1 -W 5 "$(rs_ip6 "$i")" >/dev/null || fail "director cannot reach rs$i over IPv6"
	done
}

# rs_tunnel6_receive NETNS ADDR: the real server in NETNS, at ADDR, takes IPv4 and IPv6 packets
# tunnelled to ADDR (an ip6tnl device of mode any from any source: IPv6 or IPv4 in IPv6, also
# handed on by fou from GUE on UDP port GUE_PORT over IPv6), GRE over IPv6 with checksums
# (ip6gre), and IPv6 inside IPv4 tunnels: sit0 for IPv6 in IPv4 (and from fou's GUE over IPv4),
# the GRE devices of rs_tunnel_receive. rp_filter stays off: the inner packets' sources are
# reached by eth0, not by the tunnel devices.
rs_tunnel6_receive() {
	local ns=$1 addr=$2
	modprobe ip6_tunnel 2>/dev/null
	modprobe ip6_gre 2>/dev/null
	modprobe sit 2>/dev/null
	ip -n "$ns" -batch - <<-EOF || fail "$ns: IPv6 tunnel devices"
		link add tnl6 type ip6tnl mode any local $addr remote any
		link set tnl6 up
		link add gre6-csum type ip6gre local $addr remote any icsum
		link set gre6-csum up
		link set sit0 up
		fou add port $GUE_PORT gue -6
	EOF
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.tnl6.rp_filter=0 net.ipv4.conf.gre6-csum.rp_filter=0 \
		net.ipv4.conf.sit0.rp_filter=0 || fail "$ns: rp_filter of the IPv6 tunnel devices"
}
