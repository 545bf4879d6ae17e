#!/usr/bin/env bash
# Tunnelling over GUE (UDP port 6080, without and with remote checksum offload) and GRE (with its
# checksum), LVS-TUN style, as dr_tun does it for IPIP (flat_round: rr over TCP and UDP, replies
# bypassing the director, FIN_WAIT entries, a client's ICMP error reaching the right real server).
# The director computes its checksums in software, so that the real servers verify the UDP and
# GRE checksums, and with remote checksum offload complete the inner one themselves; a wrong one
# would lose the packet. The inner packets arrive with one TTL less.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo_flat.sh"

topo_flat 3 tunnel
rs_http_start 80
rs_udp_vip_start 53
flat_checks_start
# GRE with checksums goes to a tunnel device that expects them (gre0 takes GRE without).
for i in 1 2 3; do
	in_rs "$i" ip link add gre-csum type gre local "$(rs_ip "$i")" icsum || fail "rs$i: gre-csum"
	in_rs "$i" ip link set gre-csum up || fail "rs$i: gre-csum up"
	in_rs "$i" sysctl -qw net.ipv4.conf.gre-csum.rp_filter=0 || fail "rs$i: gre-csum rp_filter"
done

flat_round -i --tun-type gue --tun-port "$GUE_PORT"
flat_round -i --tun-type gue --tun-port "$GUE_PORT" --tun-remcsum
flat_round -i --tun-type gre --tun-csum
udp_in=$(rs_counter_sum 1)
assert_eq "$udp_in" "$(rs_counter_sum 2)" \
	"every UDP datagram ($udp_in) came out of its tunnel with TTL 63: one hop through the director"
