#!/usr/bin/env bash
# IPv6 tunnels (ip_vs_tunnel_xmit_v6) and tunnels across address families, LVS-TUN style on the
# flat segment with IPv6 (topo_flat6): an IPv6 service over IPv6 real servers by IPv6 in IPv6,
# GUE over IPv6 with remote checksum offload and GRE over IPv6 with its checksum; an IPv4 service
# over IPv6 real servers (IPv4 in IPv6, and in GUE over IPv6) and an IPv6 service over IPv4 real
# servers (IPv6 in IPv4 as sit takes it, and in GRE over IPv4). Each round: rr order over TCP,
# the replies bypassing the director (OutPkts 0); the real servers see every inner packet with
# one hop less (TTL or hop limit 63) and verify every checksum (the director computes them in
# software). A request too big for its tunnel is refused with what the tunnel leaves of the
# route's MTU, as the request's own family has it: "packet too big" 1460 for IPv6 in IPv6 and
# 1480 for IPv6 in IPv4, "fragmentation needed" 1460 for IPv4 in IPv6. A real server of the
# other family is refused for any method but tunnelling, and /proc/net/ip_vs_conn shows the
# connections to one with the real server's address in its own family (ipvsadm -Ln lists it).
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"
. "$(dirname "$0")/lib/topo_flat.sh"
. "$(dirname "$0")/lib/topo6.sh"
. "$(dirname "$0")/lib/topo_flat6.sh"

topo_flat 3 tunnel
topo_flat6 tunnel
in_lb ethtool -K eth0 tx off >/dev/null || fail "director: checksum offload off"
# The FIN_WAIT entries of every round stay for the listing, even on the slow debug kernel.
adm --set 0 900 0 || fail "ipvsadm --set 0 900 0"
# One server per real server: HTTP on :: (IPv4 too, as mapped addresses), UDP on VIP6.
rs_serve6 --http 80
rs_serve6 --udp 53 --bind "$VIP6"
for i in 1 2 3; do
	in_rs "$i" nft -f - <<-EOF || fail "rs$i: nft counters"
		table inet seen {
			chain input {
				type filter hook input priority 0;
				tcp dport 80 counter
				ip ttl 63 tcp dport 80 counter
				ip6 hoplimit 63 tcp dport 80 counter
			}
		}
	EOF
done
# seen N: rule N's packets over every real server (1: to port 80, 2: TTL 63, 3: hop limit 63).
seen() {
	local i sum=0
	for i in 1 2 3; do
		sum=$((sum + $(in_rs "$i" nft list chain inet seen input | awk '/counter/ { n++; if (n == '"$1"') print $(NF - 2) }')))
	done
	echo "$sum"
}
svc_of() { case $1 in *:*) echo "[$1]:$2" ;; *) echo "$1:$2" ;; esac; }
rs_of() { [ "$1" = 6 ] && echo "[$(rs_ip6 "$2")]:$3" || echo "$(rs_ip "$2"):$3"; }

# tun_round VIP RS-FAMILY TUNNEL-OPTIONS...: an rr service VIP:80 over the 3 real servers by their
# addresses of RS-FAMILY (4 or 6), tunnelled (-i) with TUNNEL-OPTIONS.
tun_round() {
	local vip=$1 family=$2 svc what got i
	shift 2
	svc=$(svc_of "$vip" 80)
	what="$svc to IPv$family real servers, -i $*"
	adm -C
	adm -A -t "$svc" -s rr || fail "add $svc"
	for i in 1 2 3; do
		adm -a -t "$svc" -r "$(rs_of "$family" "$i" 80)" -i "$@" || fail "$what: add rs$i"
	done
	got=$(in_cl curl -g -sS -m 10 -H 'Connection: close' $(printf "http://$svc/ %.0s" 1 2 3 4 5 6) | tr '\n' ' ')
	assert_eq "rs3 rs2 rs1 rs3 rs2 rs1 " "$got" "$what: 6 requests go to rs3 rs2 rs1 twice, answered directly"
	assert_eq 0 "$(adm -Ln --stats --exact -t "$svc" | awk '$1 == "TCP" { print $5 }')" \
		"$what: the director saw no reply packet (OutPkts 0)"
}

tun_round "$VIP6" 6
tun_round "$VIP6" 6 --tun-type gue --tun-port "$GUE_PORT" --tun-remcsum
tun_round "$VIP6" 6 --tun-type gre --tun-csum
tun_round "$VIP" 6
tun_round "$VIP" 6 --tun-type gue --tun-port "$GUE_PORT"
# /proc/net/ip_vs_conn: IPv4 client and virtual addresses, the IPv6 real server in full.
assert_eq "4 TCP 0A000002 0A000064 0050 2001:0db8:0000:0000:0000:0000:0000:0013 0050" \
	"$(in_lb cat /proc/net/ip_vs_conn |
		awk 'length($2) == 8 && $6 ~ /0013$/ { n++; l = $1 " " $2 " " $4 " " $5 " " $6 " " $7 } END { print n, l }')" \
	"/proc/net/ip_vs_conn: the IPv4 connections to rs3 by IPv6 (2 of the IPIP round, 2 of the GUE round)"
tun_round "$VIP6" 4
tun_round "$VIP6" 4 --tun-type gre
total=$(seen 1)
assert_eq "$total" "$(($(seen 2) + $(seen 3)))" \
	"every one of the $total packets to port 80 came out of its tunnel one hop less (TTL or hop limit 63)"
assert_eq "TTL hop-limit" "$([ "$(seen 2)" -gt 0 ] && echo TTL) $([ "$(seen 3)" -gt 0 ] && echo hop-limit)" \
	"both IPv4 and IPv6 packets came out of the tunnels"

# Other methods cannot reach a real server of the other family: ipvsadm says so itself, the
# kernel answers EINVAL to a NEW_DEST that asks (an IPv6 real server, ADDR_FAMILY 10, for the
# IPv4 service TCP VIP:8080 by NAT or DR; by tunnel it is taken).
adm -A -t "$VIP:8080" -s rr || fail "add $VIP:8080"
expect_exit 2 'allowed only for tunneling' "ipvsadm: an IPv6 real server for an IPv4 service by NAT" -- \
	adm -a -t "$VIP:8080" -r "[$(rs_ip6 1)]:80" -m
svc4="1:u16:2;2:u16:6;3:hex:0a000064000000000000000000000000;4:be16:8080"
dest6() { echo "1:hex:20010db8000000000000000000000011;2:be16:80;3:u32:$1;4:u32:1;5:u32:0;6:u32:0;11:u16:10"; }
for fwd in 0:NAT:EINVAL 3:DR:EINVAL 2:tunnel:0; do
	IFS=: read -r method name errno <<<"$fwd"
	assert_eq "errno=$errno" "$(in_lb python3 "$GENL" request NEW_DEST --attr "1:nest:{$svc4}" --attr "2:nest:{$(dest6 "$method")}")" \
		"NEW_DEST of an IPv6 real server for an IPv4 service by $name: errno=$errno"
done
assert_eq "TCP  10.0.0.100:8080 rr
  -> [2001:db8::11]:80            Tunnel  1      0          0" "$(adm -Ln -t "$VIP:8080" | tail -n 2 | sed "s/ *\$//")" \
	"ipvsadm -Ln: the IPv6 real server of the IPv4 service, by tunnel"

# Too big for the tunnel, as each request's own family has it.
ptb_round() {
	local vip=$1 family=$2 size=$3 mtu=$4 svc
	svc=$(svc_of "$vip" 53)
	adm -C
	adm -A -u "$svc" -s rr || fail "add $svc"
	adm -a -u "$svc" -r "$(rs_of "$family" 1 53)" -i || fail "add the tunnelled real server to $svc"
	in_cl ip route flush cache
	in_cl ip -6 route flush cache
	case $vip in
	*:*) in_cl python3 "$TRAFFIC6" udp "$vip" 53 --size "$size" --timeout "$((2 * TOPO_SLOW))" >/dev/null ;;
	*) in_cl python3 "$TRAFFIC" udp "$vip" 53 --size "$size" --timeout "$((2 * TOPO_SLOW))" >/dev/null ;;
	esac
	assert_match "mtu $mtu" "$(in_cl ip route get "$vip")" \
		"a $size-byte datagram to $svc through IPv$family: the client learnt the tunnel's MTU $mtu"
}
ptb_round "$VIP6" 6 1420 1460
ptb_round "$VIP6" 4 1450 1480
ptb_round "$VIP" 6 1440 1460
