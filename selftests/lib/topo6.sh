# shellcheck shell=bash
# IPv6 on the LVS-NAT topology of topo.sh (sourced after it): the same namespaces and links, with
# IPv6 addresses beside the IPv4 ones, and static link-local ones (addrgenmode stays none): a
# router sends its neighbour solicitations for forwarded packets from its link-local address and
# sends none without one. No duplicate address detection, so that the addresses are usable at
# once.
#
#   client 2001:db8:1::2/64 ---- director cl0 2001:db8:1::1/64 + VIP6 2001:db8:1::100/128
#                                br0 2001:db8:2::1/64 ---- real servers 2001:db8:2::1I/64
#                                forwarding=1               default route via 2001:db8:2::1
#
#   topo6                        add IPv6 to a topology topo_nat built
#   rs_serve6 ARGS...            rs_serve with traffic6.py (IPv6 sockets, bound to ::)
#   client_http6 N [PORT] [PATH] [CURL-ARGS...]  client_http to [VIP6]
#   nat6_service -t|-u [VIP6]:PORT SCHED RSPORT [WEIGHT...]  nat_service over the IPv6 addresses
#   dest_table6 SVC / dest_stats6 SVC  dest_table and dest_stats of an IPv6 service

VIP6=2001:db8:1::100
CLIENT6=2001:db8:1::2
TRAFFIC6="$RVS_ROOT/selftests/lib/traffic6.py"
rs_ip6() { echo "2001:db8:2::$((10 + $1))"; }

topo6() {
	local i
	ip -n "$TOPO_CL" -batch - <<-EOF || fail "client IPv6 addresses"
		addr add fe80::2/64 dev eth0 nodad
		addr add $CLIENT6/64 dev eth0 nodad
	EOF
	ip -n "$TOPO_LB" -batch - <<-EOF || fail "director IPv6 addresses"
		addr add fe80::1/64 dev cl0 nodad
		addr add 2001:db8:1::1/64 dev cl0 nodad
		addr add $VIP6/128 dev cl0 nodad
		addr add fe80::1/64 dev br0 nodad
		addr add 2001:db8:2::1/64 dev br0 nodad
	EOF
	for i in $(seq "$TOPO_N"); do
		ip -n "rvs-rs$i" -batch - <<-EOF || fail "rs$i IPv6 addresses"
			addr add fe80::$((10 + i))/64 dev eth0 nodad
			addr add $(rs_ip6 "$i")/64 dev eth0 nodad
			route add default via 2001:db8:2::1
		EOF
	done
	in_lb sysctl -qw net.ipv6.conf.all.forwarding=1 || fail "IPv6 forwarding in the director"
	# Resolve every neighbour once (neighbour discovery), as topo_nat does with ARP.
	in_cl ping -6 -q -c 1 -W 5 "$VIP6" >/dev/null || fail "client cannot reach the IPv6 VIP"
	for i in $(seq "$TOPO_N"); do
		in_rs "$i" ping -6 -q -c 1 -W 5 2001:db8:2::1 >/dev/null ||
			fail "rs$i cannot reach the director over IPv6"
	done
}

rs_serve6() {
	local TRAFFIC=$TRAFFIC6 # rs_serve runs $TRAFFIC
	rs_serve --bind :: "$@"
}

client_http6() {
	local n=$1 port=${2:-80} path=${3:-/} urls=() i
	shift $(($# < 3 ? $# : 3))
	for i in $(seq "$n"); do urls+=("http://[$VIP6]:$port$path"); done
	in_cl curl -g -sS -m 10 -H 'Connection: close' "$@" "${urls[@]}"
}

nat6_service() {
	local proto=$1 svc=$2 sched=$3 rport=$4 i w
	shift 4
	adm -A "$proto" "$svc" -s "$sched" || fail "add service $proto $svc -s $sched"
	for i in $(seq "$TOPO_N"); do
		w=${1:-1}
		[ $# -gt 0 ] && shift
		adm -a "$proto" "$svc" -r "[$(rs_ip6 "$i")]:$rport" -m -w "$w" ||
			fail "add real server $i to $svc"
	done
}

dest_table6() {
	adm -Ln "$@" | awk '$1 == "->" && $2 ~ /^\[/ { print $2, $4, $5, $6 }'
}

dest_stats6() {
	adm -Ln --stats --exact "$@" | awk '($1 == "TCP" || $1 == "UDP") { print $2, $3, $4, $5, $6, $7 }
		$1 == "->" && $2 ~ /^\[/ { print $2, $3, $4, $5, $6, $7 }'
}
