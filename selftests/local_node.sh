#!/usr/bin/env bash
# Local node: a real server that is one of the director's own addresses gets the packets locally,
# as with IPVS. NAT to 10.0.2.1:8080 translates them to that address and port and delivers them
# to the director's own server (whose answers are translated back); DR to 10.0.2.1 delivers
# them unchanged (the VIP is the director's too).
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 2
rs_http_start 80
bg lb "$TOPO_LB" python3 "$TRAFFIC" serve lb --http 8080 --http 80 --ready "$TOPO_DIR/lb.ready"
poll_until 30 test -e "$TOPO_DIR/lb.ready" || fail "the director's server did not start"

adm -A -t "$VIP:8000" -s rr || fail "add NAT service"
adm -a -t "$VIP:8000" -r 10.0.2.1:8080 -m || fail "add the director as NAT real server"
adm -a -t "$VIP:8000" -r "$(rs_ip 1):80" -m || fail "add rs1"
assert_eq "rs1 lb rs1 lb " "$(client_http 4 8000 | tr '\n' ' ')" \
	"NAT: rr alternates between rs1 and the director's own server on 8080"
assert_eq "2" "$(conn_entries | grep -c ' 10.0.1.100:8000 10.0.2.1:8080$')" \
	"NAT: the local connections are translated to 10.0.2.1:8080"

adm -A -t "$VIP:80" -s rr || fail "add DR service"
adm -a -t "$VIP:80" -r 10.0.2.1 -g || fail "add the director as DR real server"
assert_eq "lb lb " "$(client_http 2 80 | tr '\n' ' ')" \
	"DR: the director's own server answers on the VIP"
# (IPVS's counters lag by up to 2 s: they are read from its estimator's copy.)
poll_eq 2 "DR: the local real server counted 2 connections" 10 \
	sh -c "$(declare -f adm in_lb dest_stats); TOPO_LB=$TOPO_LB; dest_stats -t $VIP:80 | awk '\$1 == \"10.0.2.1:80\" { print \$2 }'"
