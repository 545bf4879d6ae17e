#!/usr/bin/env bash
# NAT over real TCP (HTTP through curl): rr and wrr pick real servers in IPVS's exact order, and
# the per-server connection counters (ipvsadm -Ln --stats) and InActConn agree.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_http_start 80 81

# IPVS adds a new real server at the head of the service's list (list_add_rcu in
# __ip_vs_update_dest), so rs1, rs2, rs3 added in that order are kept as rs3, rs2, rs1. rr starts
# at the list head and walks it circularly: rs3 first. (Observed with ip_vs.)
nat_service -t "$VIP:80" rr 80
assert_eq "$(printf 'rs%s\n' 3 2 1 3 2 1 3 2 1)" "$(client_http 9)" \
	"rr: 9 requests go to rs3 rs2 rs1, three times"
# All 9 connections were closed (the server closes first): FIN_WAIT then TIME_WAIT, inactive.
poll_eq "10.0.2.11:80 1 0 3
10.0.2.12:80 1 0 3
10.0.2.13:80 1 0 3" "rr: ActiveConn 0 and InActConn 3 per real server" 10 dest_table -t "$VIP:80"

# wrr with weights rs1=3 rs2=2 rs3=1, added in that order to an empty service (list order rs3,
# rs2, rs1). A pass over the list picks the dests with weight >= the current weight cw; at the
# list end cw drops by the gcd of the weights and wraps to the max weight after 1. The starting cw
# is history: the service is created with no dest (max weight 0, cw 0); adding rs1 (weight 3,
# gcd 3) sets max weight 3 - (3 - 1) = 1 and cw = 1; adding rs2 and rs3 (gcd 1, max weight 3)
# keeps cw = 1 (ip_vs_wrr_dest_changed only clamps it). So the first pass is the cw=1 one:
# rs3 rs2 rs1, then cw=3: rs1, cw=2: rs2 rs1, cw=1: rs3 rs2 rs1, ... (Observed with ip_vs.)
nat_service -t "$VIP:81" wrr 81 3 2 1
assert_eq "$(printf 'rs%s\n' 3 2 1 1 2 1 3 2 1 1 2 1)" "$(client_http 12 81)" \
	"wrr 3:2:1: 12 requests (two cycles) go to rs3 rs2 rs1 rs1 rs2 rs1, twice"

# Conns counters come from the estimator (refreshed every 2 s by ip_vs): poll.
stats_conns() { dest_stats "$@" | awk '{ print $1, $2 }'; }
poll_eq "10.0.1.100:80 9
10.0.2.11:80 3
10.0.2.12:80 3
10.0.2.13:80 3" "rr: ipvsadm -Ln --stats: 9 connections, 3 per real server" 10 stats_conns -t "$VIP:80"
poll_eq "10.0.1.100:81 12
10.0.2.11:81 6
10.0.2.12:81 4
10.0.2.13:81 2" "wrr: ipvsadm -Ln --stats: 12 connections, 6/4/2 per real server" 10 stats_conns -t "$VIP:81"
poll_eq "10.0.2.11:81 3 0 6
10.0.2.12:81 2 0 4
10.0.2.13:81 1 0 2" "wrr: weights and InActConn per real server" 10 dest_table -t "$VIP:81"

# Every connection is in the table, closed by the server first and then by the client: TIME_WAIT.
assert_eq 21 "$(conn_entries | grep -c '^TCP TIME_WAIT 10.0.1.2:[0-9]* 10.0.1.100:8[01] 10.0.2.1[123]:8[01]$')" \
	"ipvsadm -Lnc: 21 TCP TIME_WAIT entries client -> VIP -> real server"
