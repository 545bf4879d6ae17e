#!/usr/bin/env bash
# Direct routing (-g) and tunnelling (-i: IPIP, GUE with and without remote checksum offload, GRE
# with its checksum), LVS-DR/LVS-TUN style: the director forwards only the client's packets; the
# real servers (VIP on lo, ARP hidden) answer the client directly, so the director counts no
# outgoing packets. rr picks the same order as with NAT; TCP (HTTP) and UDP. The director's own
# checksums are computed in software (no offload on its link), so that the real servers verify
# every one of them. Every forwarded packet loses one TTL. An ICMP error from the client's side
# about a reply reaches the real server that sent it. Through the tunnel, a DF packet that no
# longer fits with the 20-byte IPIP header gets "fragmentation needed" back, and the client's
# upload continues at the smaller path MTU; with pmtu_disc=0 the tunnel packets are fragmented.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo_flat.sh"

topo_flat 3 tunnel
rs_http_start 80
rs_udp_vip_start 53
in_lb ethtool -K eth0 tx off >/dev/null || fail "director: checksum offload off"
# GRE with checksums goes to a tunnel device that expects them (gre0 takes GRE without).
for i in 1 2 3; do
	in_rs "$i" ip link add gre-csum type gre local "$(rs_ip "$i")" icsum || fail "rs$i: gre-csum"
	in_rs "$i" ip link set gre-csum up || fail "rs$i: gre-csum up"
	in_rs "$i" sysctl -qw net.ipv4.conf.gre-csum.rp_filter=0 || fail "rs$i: gre-csum rp_filter"
done
# Counters in each real server: UDP datagrams to port 53, those of them with TTL 63 (the client
# sends with 64), and ICMP "destination unreachable" messages.
for i in 1 2 3; do
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
# counter I N: the packets of rule N (1, 2, 3) of real server I.
counter() { in_rs "$1" nft list chain ip seen input | awk '/counter/ { n++; if (n == '"$2"') print $(NF - 2) }'; }
icmp_counts() { local i; for i in 1 2 3; do printf 'rs%s=%s ' "$i" "$(counter "$i" 3)"; done; }
icmp_arrived() { [ "$(icmp_counts)" = "$want" ]; }
counter_sum() { local i sum=0; for i in 1 2 3; do sum=$((sum + $(counter "$i" "$1"))); done; echo "$sum"; }

out_pkts() { adm -Ln --stats --exact -t "$VIP:80" | awk '$1 == "TCP" { print $5 }'; }
in_pkts() { adm -Ln --stats --exact -t "$VIP:80" | awk '$1 == "TCP" { print $4 }'; }
counted_in() { [ "$(in_pkts)" -gt 0 ]; }
uploaded() { [ "$(stat -c %s "$TOPO_DIR/upload" 2>/dev/null)" = 300000 ]; }

# The FIN_WAIT entries of every round are counted at the end of each: they must outlive five
# rounds, even on the slow debug kernel.
adm --set 0 900 0 || fail "ipvsadm --set 0 900 0"
methods=(-g -i "-i --tun-type gue --tun-port $GUE_PORT" \
	"-i --tun-type gue --tun-port $GUE_PORT --tun-remcsum" "-i --tun-type gre --tun-csum")
round=0
for method in "${methods[@]}"; do
	round=$((round + 1))
	adm -C
	adm -A -t "$VIP:80" -s rr || fail "add service"
	adm -A -u "$VIP:53" -s rr || fail "add UDP service"
	for i in 1 2 3; do
		# shellcheck disable=SC2086 # the method is several words
		adm -a -t "$VIP:80" -r "$(rs_ip "$i")" $method || fail "add rs$i ($method)"
		# shellcheck disable=SC2086
		adm -a -u "$VIP:53" -r "$(rs_ip "$i")" $method || fail "add UDP rs$i ($method)"
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

	# "Fragmentation needed" from the client's side about an answer from VIP:53 to one of this
	# round's client ports (the entry expiring last) goes to the real server of that entry.
	read -r cport rs < <(conn_expiry | awk '$1 == "UDP"' | sort -n -k 6 | tail -n 1 |
		awk '{ split($3, c, ":"); split($5, d, ":"); print c[2], d[1] }')
	want=""
	for i in 1 2 3; do
		n=$(counter "$i" 3)
		[ "$(rs_ip "$i")" = "$rs" ] && n=$((n + 1))
		want+="rs$i=$n "
	done
	in_cl python3 "$TRAFFIC" icmp "$VIP" --quote "udp:$VIP:53:$CLIENT_IP:$cport" --mtu 1300 ||
		fail "send the ICMP error"
	poll_until 10 icmp_arrived || true
	assert_eq "$want" "$(icmp_counts)" \
		"$method: a client's ICMP error about a reply reaches the entry's real server $rs only"
done
udp_in=$(counter_sum 1)
assert_eq "$udp_in" "$(counter_sum 2)" \
	"every UDP datagram ($udp_in) reached its real server with TTL 63: one hop through the director"

# A datagram that arrives with TTL 1 is not forwarded: the client hears "time exceeded".
assert_eq "ERR:EHOSTUNREACH" \
	"$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --ttl 1 --timeout "$((2 * TOPO_SLOW))")" \
	"TTL 1: the director answers time exceeded and forwards nothing"
assert_eq "$udp_in" "$(counter_sum 1)" "no real server got the TTL-1 datagram"

# PMTU through the tunnel: the client's full-size DF segments do not fit with 20 more bytes.
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
