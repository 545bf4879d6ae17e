# shellcheck shell=bash
# The LVS-DR / LVS-TUN topology of the LVS documentation: client, director and real servers on
# one Ethernet segment (a bridge in its own namespace). Sourced after lib.sh and topo.sh, whose
# helpers (in_cl, in_lb, in_rs, adm, bg, rs_serve, client_http, poll_until...) it reuses.
#
#   client rvs-cl 10.0.0.2 ---+
#   director rvs-lb 10.0.0.1 + VIP 10.0.0.100 ---+--- bridge br0 in rvs-sw
#   real servers rvs-rsI 10.0.0.1I, VIP on lo ---+
#
# The real servers hold the VIP on lo and neither answer ARP for it nor use it as an ARP source
# (arp_ignore=1, arp_announce=2), as LVS-DR operators configure them; with `tunnel` they also
# receive tunnelled packets (rs_tunnel_receive). They answer the client directly.

VIP=10.0.0.100
CLIENT_IP=10.0.0.2
rs_ip() { echo "10.0.0.$((10 + $1))"; }

# topo_flat N [tunnel]
topo_flat() {
	local n=$1 mode=${2:-} i ns p
	TOPO_N=$n
	netns_new rvs-sw
	local servers=() ports=(p-cl p-lb)
	for i in $(seq "$n"); do servers+=("rvs-rs$i"); ports+=("p-rs$i"); done
	for ns in "$TOPO_CL" "$TOPO_LB" "${servers[@]}"; do netns_new "$ns"; done
	{
		echo "link add br0 type bridge"
		echo "link set br0 up"
		echo "link add p-cl type veth peer name eth0 netns $TOPO_CL"
		echo "link add p-lb type veth peer name eth0 netns $TOPO_LB"
		for i in $(seq "$n"); do echo "link add p-rs$i type veth peer name eth0 netns rvs-rs$i"; done
		for p in "${ports[@]}"; do echo "link set $p addrgenmode none master br0 up"; done
	} | ip -n rvs-sw -batch - || fail "switch links"
	ip -n "$TOPO_CL" -batch - <<-EOF || fail "client links"
		link set eth0 addrgenmode none
		addr add $CLIENT_IP/24 dev eth0
		link set eth0 up
	EOF
	ip -n "$TOPO_LB" -batch - <<-EOF || fail "director links"
		link set eth0 addrgenmode none
		addr add 10.0.0.1/24 dev eth0
		addr add $VIP/32 dev eth0
		link set eth0 up
	EOF
	for i in $(seq "$n"); do
		ip -n "rvs-rs$i" -batch - <<-EOF || fail "rs$i links"
			link set eth0 addrgenmode none
			addr add $(rs_ip "$i")/24 dev eth0
			link set eth0 up
			addr add $VIP/32 dev lo
		EOF
		in_rs "$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 \
			net.ipv4.conf.eth0.arp_ignore=1 net.ipv4.conf.eth0.arp_announce=2 ||
			fail "rs$i ARP sysctls"
		[ "$mode" = tunnel ] && rs_tunnel_receive "rvs-rs$i"
	done
	in_cl ping -q -c 1 -W 5 "$VIP" >/dev/null || fail "client cannot reach the VIP"
	for i in $(seq "$n"); do
		in_lb ping -q -c 1 -W 5 "$(rs_ip "$i")" >/dev/null || fail "director cannot reach rs$i"
	done
	[ "$(in_cl ip neigh show "$VIP" | awk '{ print $3 }')" = eth0 ] || fail "no ARP entry for the VIP"
}

# GUE_PORT: the UDP port on which the real servers receive GUE.
GUE_PORT=6080

# rs_tunnel_receive NETNS: the real server in NETNS takes tunnelled packets for the VIP: IPIP on
# tunl0, GUE on UDP port GUE_PORT (fou hands the IPIP inside to tunl0), GRE on gre0 (the
# fallback devices receive from any tunnel source).
rs_tunnel_receive() {
	local ns=$1
	modprobe ipip 2>/dev/null
	modprobe ip_gre 2>/dev/null
	ip -n "$ns" -batch - <<-EOF || fail "$ns: tunnel devices"
		link set tunl0 up
		link set gre0 up
		fou add port $GUE_PORT gue
	EOF
	ip netns exec "$ns" sysctl -qw net.ipv4.conf.all.rp_filter=0 net.ipv4.conf.tunl0.rp_filter=0 \
		net.ipv4.conf.gre0.rp_filter=0 || fail "$ns: rp_filter"
}

# rs_udp_vip_start PORT: every real server answers UDP datagrams to VIP:PORT with its name, from
# the VIP (a socket bound to the VIP, so that the answer's source is the VIP).
rs_udp_vip_start() {
	# socat forks a process per datagram: slow on the debug kernel, hence the callers' long timeouts.
	local i
	for i in $(seq "$TOPO_N"); do
		bg "udp$i" "rvs-rs$i" socat "UDP-RECVFROM:$1,bind=$VIP,fork" "SYSTEM:echo rs$i"
	done
	for i in $(seq "$TOPO_N"); do
		poll_until 30 udp_bound "$i" "$1" || fail "rs$i: socat does not listen on $VIP:$1"
	done
}
# udp_bound I PORT: real server I has a UDP socket on VIP:PORT.
udp_bound() { [ -n "$(in_rs "$1" ss -Hunl "src $VIP:$2")" ]; }
