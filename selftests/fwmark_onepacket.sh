#!/usr/bin/env bash
# Firewall-mark services (-f): nftables marks TCP ports 80 and 81 of the VIP with mark 1, one
# persistent fwmark service balances both, and its template (protocol IP, virtual address = the
# mark) keeps the client on one real server across the two ports. One-packet scheduling (-o):
# every UDP datagram of one socket is scheduled afresh and leaves no connection entry.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_http_start 80 81
rs_udp_echo_start 53

in_lb nft -f - <<EOF2 || fail "nft mark rule"
table ip rvs_mark {
	chain pre {
		type filter hook prerouting priority mangle;
		ip daddr $VIP tcp dport { 80, 81 } meta mark set 1
	}
}
EOF2
adm -A -f 1 -s rr -p 60 || fail "add fwmark service"
for i in 1 2 3; do adm -a -f 1 -r "$(rs_ip "$i")" -m || fail "add rs$i"; done
assert_eq "rs3 rs3 rs3 rs3 " "$( { client_http 2 80; client_http 2 81; } | tr '\n' ' ')" \
	"fwmark 1 with persistence: ports 80 and 81 go to the same real server"
assert_eq "IP ASSURED 10.0.1.2:0 0.0.0.1:0 10.0.2.13:0" "$(conn_entries | grep ':0 ')" \
	"ipvsadm -Lnc: the fwmark template (protocol IP, virtual address 0.0.0.1)"
assert_eq 4 "$(conn_entries | grep -c '^TCP .* 10.0.1.100:8[01] 10.0.2.13:8[01]$')" \
	"the connections keep their ports (80 and 81 on the real server)"
assert_eq "FWM  1 rr persistent 60" "$(adm -Ln | awk '$1 == "FWM" { print $1 "  " $2, $3, $4, $5 }')" \
	"ipvsadm -Ln lists the fwmark service"

adm -A -u "$VIP:53" -s rr -o || fail "add one-packet service"
for i in 1 2 3; do adm -a -u "$VIP:53" -r "$(rs_ip "$i"):53" -m || fail "add UDP rs$i"; done
# The connection of a one-packet datagram is gone before the answer comes back, so NAT does not
# translate the answer (as with IPVS): it arrives from the real server's own address.
assert_eq "rs3 from 10.0.2.13:53|rs2 from 10.0.2.12:53|rs1 from 10.0.2.11:53|rs3 from 10.0.2.13:53|" \
	"$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --count 4 --unconnected | tr '\n' '|')" \
	"-o: 4 datagrams of one socket are scheduled one by one"
assert_eq 0 "$(conn_entries | grep -c '^UDP')" "-o: no UDP connection entry is kept"
poll_eq "4" "-o: the service counted 4 connections" 10 \
	sh -c "$(declare -f adm in_lb); TOPO_LB=$TOPO_LB; adm -Ln --stats --exact -u $VIP:53 | awk '\$1 == \"UDP\" { print \$3 }'"
