#!/usr/bin/env bash
# LVS-TUN with a distant real server: the tunnel crosses a router whose link to the real server
# has an MTU of 1400. The router's "fragmentation needed" about a tunnel packet goes to the
# director (the tunnel's source), which lowers its path MTU to the real server and passes the
# error on to the client from the virtual address, less the tunnel's headers (IPVS's
# ip_vs_in_icmp for IPIP, GUE and GRE): a 300000-byte upload with DF arrives whole, and the
# client ends with the path MTU inside the tunnel (1400 - 20 IPIP, - 32 GUE, - 24 GRE).
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo_flat.sh"

#   client, director ---- bridge ---- router rvs-rt 10.0.0.254 | 10.0.1.254 ---- rs1 10.0.1.11
#                                                          (MTU 1400 on this link)
FAR_RS=10.0.1.11
topo_flat 0
netns_new rvs-rt
netns_new rvs-rs1
ip -n rvs-sw link add p-rt type veth peer name eth0 netns rvs-rt || fail "router link"
ip -n rvs-sw link set p-rt addrgenmode none master br0 up || fail "router port"
ip -n rvs-rt -batch - <<-EOF || fail "router links"
	link set eth0 addrgenmode none
	addr add 10.0.0.254/24 dev eth0
	link set eth0 up
	link add eth1 mtu 1400 type veth peer name eth0 netns rvs-rs1
	link set eth1 addrgenmode none
	addr add 10.0.1.254/24 dev eth1
	link set eth1 up
EOF
ip netns exec rvs-rt sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.rp_filter=0 \
	net.ipv4.conf.eth1.rp_filter=0 || fail "router sysctls"
ip -n rvs-rs1 -batch - <<-EOF || fail "rs1 links"
	link set eth0 addrgenmode none
	addr add $FAR_RS/24 dev eth0
	link set eth0 up
	route add default via 10.0.1.254
	addr add $VIP/32 dev lo
EOF
rs_tunnel_receive rvs-rs1
in_lb ip route add 10.0.1.0/24 via 10.0.0.254 || fail "director route to the far network"
in_lb ping -q -c 1 -W 5 "$FAR_RS" >/dev/null || fail "director cannot reach rs1"

round=0
for tunnel in "ipip 1380" "gue 1368" "gre 1376"; do
	read -r type inner_mtu <<<"$tunnel"
	round=$((round + 1))
	upload="$TOPO_DIR/upload$round"
	in_cl ip route flush cache
	in_lb ip route flush cache
	bg "sink$round" rvs-rs1 socat -u TCP-LISTEN:9000,reuseaddr "OPEN:$upload,creat,trunc"
	listening() { [ -n "$(in_rs 1 ss -Htln 'sport = :9000')" ]; }
	poll_until 30 listening || fail "rs1: socat does not listen"
	adm -D -t "$VIP:9000" 2>/dev/null
	adm -A -t "$VIP:9000" -s rr || fail "add service"
	port=()
	[ "$type" = gue ] && port=(--tun-port "$GUE_PORT")
	adm -a -t "$VIP:9000" -r "$FAR_RS" -i --tun-type "$type" "${port[@]}" || fail "add rs1 ($type)"
	head -c 300000 /dev/zero | in_cl timeout "$((60 * TOPO_SLOW))" socat -u - "TCP:$VIP:9000" ||
		fail "$type: upload through the tunnel"
	uploaded() { [ "$(stat -c %s "$upload" 2>/dev/null)" = 300000 ]; }
	poll_until 10 uploaded || fail "$type: rs1 received $(stat -c %s "$upload" 2>/dev/null) of 300000 bytes"
	log "ok: $type: a 300000-byte upload arrived whole across the 1400-byte link"
	assert_match 'mtu 1400' "$(in_lb ip route get "$FAR_RS")" \
		"$type: the director learnt the path MTU to rs1 from the router's error"
	assert_match "mtu $inner_mtu" "$(in_cl ip route get "$VIP")" \
		"$type: the client's path MTU to the VIP is what the tunnel leaves of 1400"
done
