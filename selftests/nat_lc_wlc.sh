#!/usr/bin/env bash
# lc and wlc follow the live connection counts. Held TCP connections make real servers busy;
# ipvsadm -Ln shows ActiveConn/InActConn exactly, and each new connection goes where IPVS's
# formula says: overhead = (ActiveConn << 8) + totalconns (6.12; totalconns = active + inactive),
# lc takes the first minimum in list order, wlc the first minimum of overhead / weight.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_line_start 7000 7001
hold_start 7000

# Real servers are listed rs3, rs2, rs1 (IPVS adds each new one at the head of the list).
# Every step waits until the table shows the expected counts, so that no scheduling decision races
# with a state change (a FIN still in flight).
table() { dest_table -t "$VIP:$1" | awk '{ print $1, $3, $4 }'; }

nat_service -t "$VIP:7000" lc 7000
# All idle: the first in list order. Then rs3 has 257 and the others 0, and so on.
assert_eq "open 0 rs3" "$(hold_cmd open)" "lc: idle servers, the first in list order (rs3)"
assert_eq "open 1 rs2" "$(hold_cmd open)" "lc: rs3 busy (257), rs2 next (0)"
assert_eq "open 2 rs1" "$(hold_cmd open)" "lc: rs1 (0)"
assert_eq "open 3 rs3" "$(hold_cmd open)" "lc: all at 257, the first of them in list order (rs3)"
poll_eq "10.0.2.11:7000 1 0
10.0.2.12:7000 1 0
10.0.2.13:7000 2 0" "lc: ActiveConn 1, 1, 2 and no InActConn" 10 table 7000

# The client closes connection 1 (to rs2): it becomes inactive (CLOSE_WAIT, then TIME_WAIT).
assert_eq "closed 1" "$(hold_cmd 'close 1')" "close connection 1 (rs2)"
poll_eq "10.0.2.11:7000 1 0
10.0.2.12:7000 0 1
10.0.2.13:7000 2 0" "lc: rs2 has ActiveConn 0 and InActConn 1" 10 table 7000
# Overheads: rs3 2*256+2 = 514, rs2 0*256+1 = 1, rs1 1*256+1 = 257.
assert_eq "open 4 rs2" "$(hold_cmd open)" "lc: rs2 (1) < rs1 (257) < rs3 (514)"
# rs2 now 256+2 = 258: the inactive connection still counts, rs1 (257) is less.
assert_eq "open 5 rs1" "$(hold_cmd open)" "lc: rs1 (257) < rs2 (258)"
assert_eq "open 6 rs2" "$(hold_cmd open)" "lc: rs2 (258) < rs3 = rs1 (514)"
# rs3 514, rs2 2*256+3 = 515, rs1 514: the first minimum in list order is rs3.
assert_eq "open 7 rs3" "$(hold_cmd open)" "lc: rs3 (514, first in list) over rs1 (514) and rs2 (515)"
poll_eq "10.0.2.11:7000 2 0
10.0.2.12:7000 2 1
10.0.2.13:7000 3 0" "lc: ActiveConn 2, 2, 3 and rs2's InActConn 1" 10 table 7000
assert_eq "ping rs3 rs1 rs3 rs2 rs1 rs2 rs3" "$(hold_cmd ping)" \
	"every held connection still talks to its real server"

# wlc with weights rs1=3, rs2=2, rs3=1. Idle: the first in list order (rs3), whatever the
# weights; then the least overhead/weight, ties to the first in list order:
#   rs3 257/1 rs2 0/2 rs1 0/3 -> rs2;  rs3 257 rs2 128.5 rs1 0 -> rs1;
#   rs3 257 rs2 128.5 rs1 85.7 -> rs1;  rs3 257 rs2 128.5 rs1 171.3 -> rs2;
#   rs3 257 rs2 257 rs1 171.3 -> rs1.  Six connections split 3:2:1 like the weights.
nat_service -t "$VIP:7001" wlc 7001 3 2 1
seq=""
for i in $(seq 6); do seq+="$(hold_cmd 'open 7001' | awk '{ print $3 }') "; done
assert_eq "rs3 rs2 rs1 rs1 rs2 rs1 " "$seq" "wlc 3:2:1: six held connections go to rs3 rs2 rs1 rs1 rs2 rs1"
poll_eq "10.0.2.11:7001 3 0
10.0.2.12:7001 2 0
10.0.2.13:7001 1 0" "wlc: ActiveConn 3, 2, 1 like the weights" 10 table 7001
# All at overhead/weight 257: rs3 first in list.
assert_eq "open 14 rs3" "$(hold_cmd 'open 7001')" "wlc: all at 257 per unit of weight, rs3 (first in list)"

sum() { dest_table -t "$VIP:$1" | awk '{ a += $3; i += $4 } END { print a, i }'; }
assert_eq "7 1" "$(sum 7000)" "lc service: 7 active and 1 inactive connections in all"
assert_eq "7 0" "$(sum 7001)" "wlc service: 7 active connections in all"
