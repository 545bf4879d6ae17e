#!/usr/bin/env bash
# Real servers removed (ipvsadm -d) under load: the kernel stays quiet (run.sh checks its log),
# the remaining real servers answer every new request, and the held connections to a removed real
# server stay in the table (expire_nodest_conn=0, the default) or are torn down
# (expire_nodest_conn=1: IPVS flushes every connection whose real server is gone, and the
# client's next packet, no longer IPVS's, is refused by the director's own stack). A real server
# that comes back gets its destination back from the dest trash, with its connections.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_serve --http 80 --line 7000
nat_service -t "$VIP:80" rr 80
nat_service -t "$VIP:7000" rr 7000
hold_start 7000
assert_eq "open 0 rs3" "$(hold_cmd open)" "held connection 0 to rs3"
assert_eq "open 1 rs2" "$(hold_cmd open)" "held connection 1 to rs2"

# Three threads of back-to-back HTTP requests, each line tagged with the phase it started in.
phase() { echo "$1" >"$TOPO_DIR/phase.tmp" && mv "$TOPO_DIR/phase.tmp" "$TOPO_DIR/phase"; }
bg load "$TOPO_CL" python3 "$TRAFFIC" load "$VIP" 80 --phase "$TOPO_DIR/phase" --stop "$TOPO_DIR/stop" \
	--workers 3 --timeout "$((5 * TOPO_SLOW))"
load_pid=$BG_PID
answers() { grep -c "^$1 " "$TOPO_DIR/load.log"; }
at_least() { [ "$(answers "$1")" -ge "$2" ]; }
poll_until 30 at_least - 15 || fail "the load generator does not get answers: $(tail -5 "$TOPO_DIR/load.log")"
assert_eq "rs1 rs2 rs3" "$(grep '^- ' "$TOPO_DIR/load.log" | awk '{ print $2 }' | sort -u | tr '\n' ' ' | sed 's/ $//')" \
	"under load, all three real servers answer"

# Phase 1: rs3 leaves both services, expire_nodest_conn=0.
assert_eq 0 "$(in_lb cat /proc/sys/net/ipv4/vs/expire_nodest_conn)" "expire_nodest_conn is 0"
adm -d -t "$VIP:80" -r 10.0.2.13:80 || fail "ipvsadm -d rs3 from VIP:80"
adm -d -t "$VIP:7000" -r 10.0.2.13:7000 || fail "ipvsadm -d rs3 from VIP:7000"
phase 1
poll_until 30 at_least 1 30 || fail "no answers after rs3 left: $(tail -5 "$TOPO_DIR/load.log")"
assert_eq "" "$(grep '^1 ' "$TOPO_DIR/load.log" | grep -v -E '^1 rs[12]$')" \
	"30 requests started after rs3 left: every one answered, by rs1 or rs2"
assert_eq "10.0.2.11:80 1
10.0.2.12:80 1" "$(dest_table -t "$VIP:80" | awk '{ print $1, $2 }')" "VIP:80 lists rs1 and rs2"
assert_eq "TCP ESTABLISHED 10.0.1.2 10.0.1.100:7000 10.0.2.13:7000" \
	"$(conn_entries | awk '$5 == "10.0.2.13:7000" { sub(/:.*/, "", $3); print }')" \
	"the held connection to the removed rs3 is still in the table (ESTABLISHED)"

# rs3 comes back to VIP:7000: its destination, kept in the dest trash while a connection used
# it, is revived, and the held connection forwards again, counted as rs3's active one.
adm -a -t "$VIP:7000" -r 10.0.2.13:7000 -m || fail "ipvsadm -a rs3 back to VIP:7000"
assert_eq "ping rs3 rs2" "$(hold_cmd ping)" "the held connection to rs3 answers again once rs3 is back"
assert_eq "10.0.2.13:7000 1 1 0" "$(dest_table -t "$VIP:7000" | grep '^10.0.2.13:')" \
	"the revived rs3 has its held connection (1 active)"
adm -d -t "$VIP:7000" -r 10.0.2.13:7000 || fail "ipvsadm -d rs3 from VIP:7000 again"

# Phase 2: rs2 leaves too, with expire_nodest_conn=1.
in_lb sysctl -qw net.ipv4.vs.expire_nodest_conn=1 || fail "expire_nodest_conn=1"
adm -d -t "$VIP:80" -r 10.0.2.12:80 || fail "ipvsadm -d rs2 from VIP:80"
adm -d -t "$VIP:7000" -r 10.0.2.12:7000 || fail "ipvsadm -d rs2 from VIP:7000"
phase 2
poll_until 30 at_least 2 30 || fail "no answers after rs2 left: $(tail -5 "$TOPO_DIR/load.log")"
assert_eq "" "$(grep '^2 ' "$TOPO_DIR/load.log" | grep -v -E '^2 rs1$')" \
	"30 requests started after rs2 left: every one answered, by rs1"
touch "$TOPO_DIR/stop"
wait "$load_pid"
log "load: $(grep -c . "$TOPO_DIR/load.log") requests, $(grep -c ERR "$TOPO_DIR/load.log") failed (in flight when a server left)"

gone() { conn_entries | awk '$5 !~ /^10\.0\.2\.11:/' | grep -c .; }
poll_eq 0 "every connection to rs2 or rs3 is gone, the held ones included" 10 gone
assert_eq "ping ERR:ECONNRESET ERR:ECONNRESET" "$(hold_cmd ping)" \
	"the held connections are torn down: the director's stack resets them"
assert_eq "10.0.2.11:7000 1 0 0" "$(dest_table -t "$VIP:7000")" "VIP:7000 has rs1 alone, without connections"
