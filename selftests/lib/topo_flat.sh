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
rs_udp_vip_start() { rs_serve --udp "$1" --bind "$VIP"; }

# flat_checks_start: the director computes its checksums in software (no offload on its link),
# so that the real servers verify every one of them; each real server counts UDP datagrams to
# port 53, those of them with TTL 63 (the client sends with 64), and ICMP "destination
# unreachable" messages; FIN_WAIT entries live 900 s, so that flat_round can count those of
# every round even on the slow debug kernel.
flat_checks_start() {
	local i
	in_lb ethtool -K eth0 tx off >/dev/null || fail "director: checksum offload off"
	for i in $(seq "$TOPO_N"); do
		in_rs "$i" nft -f - <<-EOF || fail "rs$i: nft counters"
			table ip seen {
				chain input {
					type filter hook input priority 0;
					udp dport 53 counter
					udp dport 53 ip ttl 63 counter
					icmp type destination-unreachable counter
				}
			}
		EOF
	done
	adm --set 0 900 0 || fail "ipvsadm --set 0 900 0"
	FLAT_ROUND=0
}
# rs_counter I N: the packets counted by rule N (1, 2, 3 above) of real server I.
rs_counter() {
	in_rs "$1" nft list chain ip seen input | awk '/counter/ { n++; if (n == '"$2"') print $(NF - 2) }'
}
rs_counter_sum() { local i sum=0; for i in $(seq "$TOPO_N"); do sum=$((sum + $(rs_counter "$i" "$1"))); done; echo "$sum"; }
_icmp_counts() { local i; for i in $(seq "$TOPO_N"); do printf 'rs%s=%s ' "$i" "$(rs_counter "$i" 3)"; done; }
_out_pkts() { adm -Ln --stats --exact -t "$VIP:80" | awk '$1 == "TCP" { print $5 }'; }
_in_pkts() { adm -Ln --stats --exact -t "$VIP:80" | awk '$1 == "TCP" { print $4 }'; }
_counted_in() { [ "$(_in_pkts)" -gt 0 ]; }

# flat_round METHOD...: a TCP (HTTP, port 80) and a UDP (port 53) rr service over the 3 real
# servers with forwarding METHOD (ipvsadm's -g, -i and tunnel options). Requests are answered
# directly in rr order, the director counts none of the replies, the client's FINs leave every
# TCP entry in FIN_WAIT (those of the earlier rounds included), and an ICMP error from the
# client's side about an answer reaches the real server that sent it, unchanged.
flat_round() {
	local method=("$@") i n cport rs got
	FLAT_ROUND=$((FLAT_ROUND + 1))
	adm -C
	adm -A -t "$VIP:80" -s rr || fail "add service"
	adm -A -u "$VIP:53" -s rr || fail "add UDP service"
	for i in 1 2 3; do
		adm -a -t "$VIP:80" -r "$(rs_ip "$i")" "${method[@]}" || fail "add rs$i (${method[*]})"
		adm -a -u "$VIP:53" -r "$(rs_ip "$i")" "${method[@]}" || fail "add UDP rs$i (${method[*]})"
	done
	got=$(client_http 6)
	# (Seen once in 300 release runs against rvs with GRE: a connect timeout. The table and
	# the counters then tell where the SYNs went.)
	[ "$got" = "$(printf 'rs%s\n' 3 2 1 3 2 1)" ] ||
		log "the connections then: $(conn_entries | tr '\n' ';') stats: $(adm -Ln --stats --exact | tr '\n' ';')"
	assert_eq "$(printf 'rs%s\n' 3 2 1 3 2 1)" "$got" \
		"${method[*]} TCP: 6 requests go to rs3 rs2 rs1 twice, answered directly"
	poll_until 10 _counted_in || fail "${method[*]}: no incoming packets counted"
	assert_eq 0 "$(_out_pkts)" "${method[*]}: the director saw no reply packet (OutPkts 0)"
	assert_eq "rs3 rs2 rs1 rs3 " \
		"$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --sockets 4 --timeout "$((2 * TOPO_SLOW))" --retries 2 | tr '\n' ' ')" \
		"${method[*]} UDP: 4 source ports go to rs3 rs2 rs1 rs3"
	# The director sees only the client's side: its FIN moves ESTABLISHED to FIN_WAIT in the
	# INPUT_ONLY table, where the connections stay (the flush of services keeps them).
	assert_eq "FIN_WAIT=$((6 * FLAT_ROUND)) " \
		"$(conn_entries | awk '$1 == "TCP" { print $2 }' | sort | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' ')" \
		"${method[*]}: ipvsadm -Lnc lists every TCP connection in FIN_WAIT"
	# "Fragmentation needed" about an answer from VIP:53 to one of this round's client ports
	# (the entry expiring last) goes to the real server of that entry.
	read -r cport rs < <(conn_expiry | awk '$1 == "UDP"' | sort -n -k 6 | tail -n 1 |
		awk '{ split($3, c, ":"); split($5, d, ":"); print c[2], d[1] }')
	_icmp_want=""
	for i in $(seq "$TOPO_N"); do
		n=$(rs_counter "$i" 3)
		[ "$(rs_ip "$i")" = "$rs" ] && n=$((n + 1))
		_icmp_want+="rs$i=$n "
	done
	in_cl python3 "$TRAFFIC" icmp "$VIP" --quote "udp:$VIP:53:$CLIENT_IP:$cport" --mtu 1300 ||
		fail "send the ICMP error"
	poll_eq "$_icmp_want" \
		"${method[*]}: a client's ICMP error about an answer reaches the entry's real server $rs only" \
		10 _icmp_counts
}
