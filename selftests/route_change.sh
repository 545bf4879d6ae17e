#!/usr/bin/env bash
# A real server's packets follow the director's routing as it changes: the route to a real
# server is kept with it for its next packets (IPVS's `dest_dst`, re-checked on every packet), so
# a held NAT connection and new ones move to a host route that reaches the real server over a
# second link as soon as it is added, come back when it is deleted, and again when that link goes
# down with the route on it; a tunnelling real server's IPIP packets move the same way. The real
# server counts on which of its two links each packet came; after each change no packet may
# arrive on the old one.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 1
rs_line_start 7000
nat_service -t "$VIP:7000" rr 7000
adm -A -u "$VIP:9000" -s rr || fail "UDP service"
adm -a -u "$VIP:9000" -r "$(rs_ip 1):9000" -i || fail "tunnelling real server rs1:9000"

# The second link: director alt0 10.9.0.1/30 -- rs1 alt1 10.9.0.2/30.
ip link add alt0 netns "$TOPO_LB" type veth peer name alt1 netns rvs-rs1 || fail "second link"
ip -n "$TOPO_LB" -batch - <<-EOF || fail "director's side of the second link"
	link set alt0 addrgenmode none
	addr add 10.9.0.1/30 dev alt0
	link set alt0 up
EOF
ip -n rvs-rs1 -batch - <<-EOF || fail "rs1's side of the second link"
	link set alt1 addrgenmode none
	addr add 10.9.0.2/30 dev alt1
	link set alt1 up
EOF
in_rs 1 nft -f - <<-EOF || fail "counters in rs1"
	table ip links {
		counter via_bridge { }
		counter via_alt { }
		chain pre {
			type filter hook prerouting priority -300; policy accept;
			iifname "eth0" ip daddr $(rs_ip 1) counter name via_bridge
			iifname "alt1" ip daddr $(rs_ip 1) counter name via_alt
		}
	}
EOF
in_lb ping -q -c 1 -W 5 10.9.0.2 >/dev/null || fail "the director cannot reach rs1 over the second link"
count() { in_rs 1 nft list counter ip links "via_$1" | awk '/packets/ { print $2 }'; }
host_route() { in_lb ip route "$1" "$(rs_ip 1)/32" via 10.9.0.2 dev alt0; }
datagrams() { in_cl python3 "$TRAFFIC" udp "$VIP" 9000 --count 3 --timeout 0.2 >/dev/null; }

# traffic_on LINK OTHER WHAT: the held connection answers, a new connection and three tunnelled
# datagrams go out, and all of it reached rs1 on LINK: OTHER's count did not move.
traffic_on() {
	local link=$1 other=$2 what=$3 before_link before_other
	before_link=$(count "$link") before_other=$(count "$other")
	assert_eq "ping rs1" "$(hold_cmd 'ping 0')" "$what: the held connection answers"
	assert_match "^open [0-9]+ rs1$" "$(hold_cmd open)" "$what: a new connection is answered"
	datagrams
	assert_eq "$before_other" "$(count "$other")" "$what: no packet reached rs1 over $other"
	[ "$(count "$link")" -ge $((before_link + 7)) ] ||
		fail "$what: fewer than 7 packets reached rs1 over $link ($before_link -> $(count "$link"))"
	log "ok: $what: everything reached rs1 over $link"
}

hold_start 7000
assert_eq "open 0 rs1" "$(hold_cmd open)" "a connection to VIP:7000 is held"
traffic_on bridge alt "first the real server's own network"
host_route add || fail "host route to rs1 over the second link"
traffic_on alt bridge "a host route added"
host_route del || fail "deleting the host route"
traffic_on bridge alt "the host route deleted"
host_route add || fail "host route added again"
traffic_on alt bridge "the host route added again"
in_lb ip link set alt0 down || fail "alt0 down"
assert_eq "" "$(in_lb ip route show "$(rs_ip 1)/32")" "the host route went with its link"
traffic_on bridge alt "the second link down"
