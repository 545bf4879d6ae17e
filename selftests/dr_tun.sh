#!/usr/bin/env bash
# Direct routing (-g) and IPIP tunnelling (-i), LVS-DR/LVS-TUN style: the director forwards only
# the client's packets; the real servers (VIP on lo, ARP hidden) answer the client directly, so
# the director counts no outgoing packets (flat_round: rr over TCP and UDP, FIN_WAIT entries, a
# client's ICMP error reaching the right real server, checksums verified by the real servers).
# Every forwarded packet loses one TTL. Through the tunnel, a DF packet that no longer fits with
# the 20-byte IPIP header gets "fragmentation needed" back, and the client's upload continues at
# the smaller path MTU; with pmtu_disc=0 the tunnel packets are fragmented instead.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo_flat.sh"

topo_flat 3 tunnel
rs_http_start 80
rs_udp_vip_start 53
flat_checks_start
uploaded() { [ "$(stat -c %s "$TOPO_DIR/upload" 2>/dev/null)" = 300000 ]; }

flat_round -g
flat_round -i
udp_in=$(rs_counter_sum 1)
assert_eq "$udp_in" "$(rs_counter_sum 2)" \
	"every UDP datagram ($udp_in) reached its real server with TTL 63: one hop through the director"

# A datagram that arrives with TTL 1 is not forwarded: the client hears "time exceeded".
assert_eq "ERR:EHOSTUNREACH" \
	"$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --ttl 1 --timeout "$((2 * TOPO_SLOW))")" \
	"TTL 1: the director answers time exceeded and forwards nothing"
assert_eq "$udp_in" "$(rs_counter_sum 1)" "no real server got the TTL-1 datagram"

# PMTU through the tunnel: the client's full-size DF segments do not fit with 20 more bytes.
# flat_round's ICMP error (mtu 1300) taught one real server, whichever served the UDP entry that
# expires last, a path MTU towards the client: had it been rs3, rs3 would advertise a smaller MSS
# and the client's segments would fit without any "fragmentation needed". Forget them first.
for i in 1 2 3; do in_rs "$i" ip route flush cache; done
in_cl ip route flush cache
assert_eq "" "$(in_rs 3 ip route get "$CLIENT_IP" | grep -o 'mtu [0-9]*')" \
	"rs3 has no path MTU towards the client before the upload"
bg sink rvs-rs3 socat -u TCP-LISTEN:9000,reuseaddr "OPEN:$TOPO_DIR/upload,creat,trunc"
adm -A -t "$VIP:9000" -s rr || fail "add upload service"
adm -a -t "$VIP:9000" -r "$(rs_ip 3)" -i || fail "add tunnel rs3"
nap 1
head -c 300000 /dev/zero | in_cl socat -u - "TCP:$VIP:9000" || fail "upload through the tunnel"
poll_until 10 uploaded ||
	fail "rs3 received $(stat -c %s "$TOPO_DIR/upload" 2>/dev/null) of 300000 bytes"
log "ok: a 300000-byte upload arrived whole through the tunnel"
assert_match 'mtu 1480' "$(in_cl ip route get "$VIP")" \
	"the client learnt the tunnel's path MTU (1500 - 20) from fragmentation needed"

# Without pmtu_disc the director fragments the tunnel packets instead.
in_lb sysctl -qw net.ipv4.vs.pmtu_disc=0 || fail "pmtu_disc=0"
in_cl ip route flush cache
rm -f "$TOPO_DIR/upload"
bg sink2 rvs-rs3 socat -u TCP-LISTEN:9000,reuseaddr "OPEN:$TOPO_DIR/upload,creat,trunc"
nap 1
head -c 300000 /dev/zero | in_cl socat -u - "TCP:$VIP:9000" || fail "upload with pmtu_disc=0"
poll_until 10 uploaded ||
	fail "pmtu_disc=0: rs3 received $(stat -c %s "$TOPO_DIR/upload" 2>/dev/null) of 300000 bytes"
route=$(in_cl ip route get "$VIP")
[[ "$route" == *mtu* ]] && fail "pmtu_disc=0: the client was told a path MTU: $route"
log "ok: pmtu_disc=0: the upload arrived in fragmented tunnel packets, the client's path MTU untouched"
