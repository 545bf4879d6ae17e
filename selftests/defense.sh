#!/usr/bin/env bash
# The defenses against overload (IPVS's drop_entry, drop_packet, am_droprate): a flood of forged
# SYNs leaves half-open entries (SYN_RECV) that stay while drop_entry is 0; at 3 the director
# drops them at random, 1/32 of its table a second, long before they expire, and an established
# connection carries on. With drop_packet=3 one new connection in am_droprate is refused, the
# first one first.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_line_start 7000
rs_udp_echo_start 53
nat_service -t "$VIP:7000" rr 7000
nat_service -u "$VIP:53" rr 53
half_open() { conn_entries | grep -c '^TCP SYN_RECV ' || true; }

hold_start 7000
assert_eq "open 0 rs3" "$(hold_cmd open)" "an established connection to rs3"

FLOOD=300
in_cl python3 "$TRAFFIC" synflood "$VIP" 7000 --count "$FLOOD" --sources 10.0.1.150-249 ||
	fail "SYN flood"
poll_eq "$FLOOD" "$FLOOD forged SYNs make $FLOOD half-open entries" 10 half_open
# Their real servers' SYN-ACKs go unanswered and are resent: the entries live 60 s and more.
nap 10
assert_eq "$FLOOD" "$(half_open)" "with drop_entry=0 they are all there 10 s later"
assert_eq "ping rs3" "$(hold_cmd 'ping 0')" "the established connection answers"

# At 3 the defense runs every second over 1/32 of the table, picked at random: after t seconds
# about e^(-t/32) of the entries are left. Half of them are gone after some 22 s, well before
# any would expire; the deadline is not scaled for slow kernels, the drops being timer-driven.
in_lb sysctl -qw net.ipv4.vs.drop_entry=3 || fail "drop_entry=3"
start=$SECONDS
while [ "$(half_open)" -gt $((FLOOD / 2)) ] && [ $((SECONDS - start)) -lt 40 ]; do nap 2; done
left=$(half_open)
[ "$left" -le $((FLOOD / 2)) ] || fail "drop_entry=3: $left of $FLOOD half-open entries left after 40 s"
log "ok: drop_entry=3: $left of $FLOOD half-open entries left after $((SECONDS - start)) s"
assert_eq "ping rs3" "$(hold_cmd 'ping 0')" "the established connection still answers"
in_lb sysctl -qw net.ipv4.vs.drop_entry=0 || fail "drop_entry=0"

# drop_packet=3 refuses one new connection in am_droprate (4): the first, the fifth, the ninth;
# the others are scheduled as usual (rr over the UDP service: rs3 rs2 rs1). Writing the mode
# takes effect at once, on and off (IPVS updates the defenses on every write).
in_lb sysctl -qw net.ipv4.vs.am_droprate=4 net.ipv4.vs.drop_packet=3 || fail "drop_packet=3"
got=$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --sockets 12 --timeout "$((2 * TOPO_SLOW))" | tr '\n' ' ')
in_lb sysctl -qw net.ipv4.vs.drop_packet=0 || fail "drop_packet=0"
assert_eq "ERR:timeout rs3 rs2 rs1 ERR:timeout rs3 rs2 rs1 ERR:timeout rs3 rs2 rs1 " "$got" \
	"drop_packet=3, am_droprate=4: datagrams 1, 5 and 9 of 12 new sockets are dropped"
assert_eq 9 "$(conn_entries | grep -c '^UDP ')" "the refused ones made no entry"
assert_eq "rs3" "$(in_cl python3 "$TRAFFIC" udp "$VIP" 53)" "drop_packet=0: nothing is refused"
