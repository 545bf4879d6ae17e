#!/usr/bin/env bash
# Direct routing (-g) and IPIP tunnelling (-i), LVS-DR/LVS-TUN style: the director forwards only
# the client's packets; the real servers (VIP on lo, ARP hidden) answer the client directly, so
# the director counts no outgoing packets. rr picks the same order as with NAT; TCP (HTTP) and
# UDP. Through the tunnel, a DF packet that no longer fits with the 20-byte IPIP header gets
# "fragmentation needed" back, and the client's upload continues at the smaller path MTU.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo_flat.sh"

topo_flat 3 tunnel
rs_http_start 80
rs_udp_vip_start 53

out_pkts() { adm -Ln --stats --exact -t "$VIP:80" | awk '$1 == "TCP" { print $5 }'; }
in_pkts() { adm -Ln --stats --exact -t "$VIP:80" | awk '$1 == "TCP" { print $4 }'; }
counted_in() { [ "$(in_pkts)" -gt 0 ]; }
uploaded() { [ "$(stat -c %s "$TOPO_DIR/upload" 2>/dev/null)" = 300000 ]; }

round=0
for method in -g -i; do
	round=$((round + 1))
	adm -C
	adm -A -t "$VIP:80" -s rr || fail "add service"
	adm -A -u "$VIP:53" -s rr || fail "add UDP service"
	for i in 1 2 3; do
		adm -a -t "$VIP:80" -r "$(rs_ip "$i")" "$method" || fail "add rs$i ($method)"
		adm -a -u "$VIP:53" -r "$(rs_ip "$i")" "$method" || fail "add UDP rs$i ($method)"
	done
	assert_eq "$(printf 'rs%s\n' 3 2 1 3 2 1)" "$(client_http 6)" \
		"$method TCP: 6 requests go to rs3 rs2 rs1 twice, answered directly"
	poll_until 10 counted_in || fail "$method: no incoming packets counted"
	assert_eq 0 "$(out_pkts)" "$method: the director saw no reply packet (OutPkts 0)"
	assert_eq "rs3 rs2 rs1 rs3 " \
		"$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --sockets 4 --timeout "$((2 * TOPO_SLOW))" --retries 2 | tr '\n' ' ')" \
		"$method UDP: 4 source ports go to rs3 rs2 rs1 rs3"
	states=$(conn_entries | awk '$1 == "TCP" { print $2 }' | sort | uniq -c | awk '{ print $2 "=" $1 }' | tr '\n' ' ')
	# The director sees only the client's side: its FIN moves ESTABLISHED to FIN_WAIT in the
	# INPUT_ONLY table, where the connections stay (the flush of services keeps them).
	assert_eq "FIN_WAIT=$((6 * round)) " "$states" \
		"$method: ipvsadm -Lnc lists every TCP connection in FIN_WAIT"
done

# PMTU through the tunnel: the client's full-size DF segments do not fit with 20 more bytes.
# (One segment per packet: GSO super-packets are exempt from the check and get fragmented.)
in_cl ip link set eth0 gso_max_segs 1 || fail "gso_max_segs"
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

if [ "$MODULE" = rvs ]; then
	# GUE and GRE are accepted as configuration (as by IPVS) but not implemented: their packets
	# are dropped, with one kernel warning saying so.
	adm -A -t "$VIP:8080" -s rr || fail "add GUE service"
	adm -a -t "$VIP:8080" -r "$(rs_ip 1)" -i --tun-type gue --tun-port 6080 || fail "add GUE rs1"
	in_cl curl -sS -m 2 "http://$VIP:8080/" >/dev/null 2>&1 && fail "a GUE real server answered"
	assert_match 'GUE and GRE tunnels are not supported' "$(dmesg | tail -20)" \
		"rvs: packets for a GUE real server are dropped with a warning"
fi
