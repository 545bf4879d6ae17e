#!/usr/bin/env bash
# RVS_CONNS (default 10000; 1000 on the debug kernel, where 10000 take over 10 minutes just to
# open, and 2000 six under CI's load) concurrent TCP connections through the VIP: one client
# process opens them all (at most 200 handshakes in flight), sends a line on each and reads the
# answer, and holds them all open. Every one succeeds, rr splits them exactly, ipvsadm -Ln counts
# them all as active while they are held (and the real servers hold as many), and they all turn
# inactive once the client closes them.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

if [ "${KERNEL:-}" = debug ]; then conns=${RVS_CONNS:-1000}; else conns=${RVS_CONNS:-10000}; fi
topo_nat 3
# Room for the connections: source ports in the client, handshake backlogs in the real servers
# (the listen backlog is 4096 and somaxconn is 4096 by default); traffic.py raises its own
# file descriptor limit.
in_cl sysctl -qw net.ipv4.ip_local_port_range="1024 65535" || fail "ip_local_port_range"
for i in 1 2 3; do in_rs "$i" sysctl -qw net.ipv4.tcp_max_syn_backlog=4096 || fail "tcp_max_syn_backlog"; done
rs_line_start 7000
nat_service -t "$VIP:7000" rr 7000

mkfifo "$TOPO_DIR/many.in"
exec {many_in}<>"$TOPO_DIR/many.in"
ip netns exec "$TOPO_CL" python3 "$TRAFFIC" many "$VIP" 7000 --conns "$conns" --parallel 200 \
	--timeout "$((30 * TOPO_SLOW))" <"$TOPO_DIR/many.in" >"$TOPO_DIR/many.log" 2>&1 &
_topo_pids+=($!)
held() { grep -q '^held ' "$TOPO_DIR/many.log"; }
poll_until $((60 + conns / 20)) held || { cat "$TOPO_DIR/many.log"; fail "the client did not get all connections up"; }
log "client: $(grep '^held ' "$TOPO_DIR/many.log")"

# rr over rs3, rs2, rs1 (list order), in the order the SYNs arrive: rs3 gets the remainder first.
share() { echo $(((conns + $1 - 1) / 3)); } # rs3: (n+2)/3, rs2: (n+1)/3, rs1: n/3
assert_eq "errors 0" "$(grep '^errors' "$TOPO_DIR/many.log" | sed 's/ *$//')" "no connection failed"
assert_eq "rs1 $(share 1)
rs2 $(share 2)
rs3 $(share 3)" "$(grep '^rs' "$TOPO_DIR/many.log")" "the answers split exactly as rr splits $conns connections"
assert_eq "10.0.2.11:7000 $(share 1) 0
10.0.2.12:7000 $(share 2) 0
10.0.2.13:7000 $(share 3) 0" "$(dest_table -t "$VIP:7000" | awk '{ print $1, $3, $4 }')" \
	"ipvsadm -Ln: ActiveConn per real server while all are held, InActConn 0"
assert_eq "$conns" "$(conn_entries | grep -c '^TCP ESTABLISHED ')" "ipvsadm -Lnc: $conns ESTABLISHED entries"
for i in 1 2 3; do
	assert_eq "$(share "$i")" "$(in_rs "$i" ss -Htn state established '( sport = :7000 )' | wc -l)" \
		"rs$i holds $(share "$i") established connections"
done

start=$SECONDS
echo close >&"$many_in"
closed() { grep -q '^closed' "$TOPO_DIR/many.log"; }
poll_until 60 closed || fail "the client did not close its connections"
inactive() { dest_table -t "$VIP:7000" | awk '{ a += $3; i += $4 } END { print a, i }'; }
poll_eq "0 $conns" "all $conns connections closed: ActiveConn 0, InActConn $conns" $((30 + conns / 100)) inactive
log "closing took $((SECONDS - start)) s"
