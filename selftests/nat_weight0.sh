#!/usr/bin/env bash
# Weight 0 quiesces a real server: its established connection keeps working (more data both
# ways), while every new connection goes to the others; weight 1 brings it back.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_line_start 7000
nat_service -t "$VIP:7000" rr 7000
hold_start 7000

assert_eq "open 0 rs3" "$(hold_cmd open)" "connection 0 goes to rs3 (first in list)"
adm -e -t "$VIP:7000" -r 10.0.2.13:7000 -m -w 0 || fail "ipvsadm -e ... -w 0"
assert_eq "10.0.2.11:7000 1 0 0
10.0.2.12:7000 1 0 0
10.0.2.13:7000 0 1 0" "$(dest_table -t "$VIP:7000")" "rs3 has weight 0 and still its active connection"
assert_eq "ping rs3" "$(hold_cmd 'ping 0')" "connection 0 still talks to rs3 after weight 0"

# rr goes on from rs3, its last pick, and skips it: rs2 rs1 rs2 rs1 rs2 rs1.
seq=""
for i in $(seq 6); do seq+="$(hold_cmd open | awk '{ print $3 }') "; done
assert_eq "rs2 rs1 rs2 rs1 rs2 rs1 " "$seq" "six new connections skip the quiesced rs3"
assert_eq "ping rs3 rs2 rs1 rs2 rs1 rs2 rs1" "$(hold_cmd ping)" \
	"all seven connections talk to their real servers, connection 0 to rs3"
poll_eq "10.0.2.11:7000 1 3 0
10.0.2.12:7000 1 3 0
10.0.2.13:7000 0 1 0" "ActiveConn 3, 3 and rs3's 1" 10 dest_table -t "$VIP:7000"

# Weight 1 again: rr continues after rs1, the last in the list, with rs3 at its head.
adm -e -t "$VIP:7000" -r 10.0.2.13:7000 -m -w 1 || fail "ipvsadm -e ... -w 1"
assert_eq "open 7 rs3" "$(hold_cmd open)" "weight 1: the next new connection goes to rs3 again"
assert_eq "ping rs3 rs2 rs1 rs2 rs1 rs2 rs1 rs3" "$(hold_cmd ping)" "every connection still works"
