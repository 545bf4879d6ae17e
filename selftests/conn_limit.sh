#!/usr/bin/env bash
# A limit on a namespace's connections (net.ipv4.vs.conn_max, rvs only: ip_vs has no such limit,
# and this test shows on it the control, a table that grows with the flood). A flood of forged
# SYNs fills the table with half-open entries (SYN_RECV); with conn_max each new connection past
# the limit takes the place of a half-open one, so the table stays at the limit while legitimate
# clients keep being served; once the table holds only established connections, new ones are
# refused. 0, the default, keeps IPVS's behaviour.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_line_start 7000
nat_service -t "$VIP:7000" rr 7000
half_open() { conn_entries | grep -c '^TCP SYN_RECV ' || true; }
established() { conn_entries | grep -c '^TCP ESTABLISHED ' || true; }
LIMIT=100
FLOOD=400

if [ "$MODULE" = ipvs ]; then
	in_lb sysctl -q net.ipv4.vs.conn_max >/dev/null 2>&1 && fail "ip_vs has a conn_max"
	expect_half_open=$FLOOD
else
	assert_eq 0 "$(in_lb sysctl -n net.ipv4.vs.conn_max)" "conn_max is 0 (no limit) by default"
	in_lb sysctl -qw net.ipv4.vs.conn_max=-1 2>/dev/null && fail "conn_max=-1 was taken"
	in_lb sysctl -qw net.ipv4.vs.conn_max=$LIMIT || fail "conn_max=$LIMIT"
	expect_half_open=$LIMIT
fi

# The flood: each forged SYN past the limit evicts a half-open entry.
in_cl python3 "$TRAFFIC" synflood "$VIP" 7000 --count "$FLOOD" --sources 10.0.1.150-249 || fail "SYN flood"
poll_eq "$expect_half_open" "$FLOOD forged SYNs leave $expect_half_open half-open entries" 10 half_open

# Legitimate clients while the table is full of half-open entries: all served, and held.
# many CONNS NAME: CONNS connections from the client, held to the end; SERVED says how many got
# through (the FIFO that would release them stays open in this shell).
many() {
	local fifo="$TOPO_DIR/$2.in" fd
	mkfifo "$fifo"
	exec {fd}<>"$fifo"
	ip netns exec "$TOPO_CL" python3 "$TRAFFIC" many "$VIP" 7000 --conns "$1" --parallel 10 \
		--timeout "$((3 * TOPO_SLOW))" <"$fifo" >"$TOPO_DIR/$2.log" 2>&1 &
	poll_eq 1 "$2: $1 connections tried" 30 grep -c '^held ' "$TOPO_DIR/$2.log"
	SERVED=$(awk '/^held / { print $2 }' "$TOPO_DIR/$2.log")
}
many 30 legit
assert_eq 30 "$SERVED" "30 legitimate clients served during the flood"
log "legitimate clients served while the table was full: $SERVED of 30"
if [ "$MODULE" = ipvs ]; then
	assert_eq "$FLOOD 30" "$(half_open) $(established)" "ip_vs keeps every entry: the flood's and the clients'"
else
	assert_eq "$((LIMIT - 30)) 30" "$(half_open) $(established)" \
		"the clients took the places of 30 half-open entries: the table stays at $LIMIT"
	assert_eq "$LIMIT" "$(conn_entries | wc -l)" "$LIMIT entries in all"
fi

# 70 more clients take the remaining half-open places; past them the table holds only
# established connections, and rvs refuses the next 10 (they time out); ip_vs serves them all.
many 70 more
assert_eq 70 "$SERVED" "70 more clients served"
many 10 past
if [ "$MODULE" = ipvs ]; then
	assert_eq 10 "$SERVED" "ip_vs serves 10 more"
else
	assert_eq "0 $LIMIT" "$SERVED $(established)" "at the limit with only established connections, 10 new ones are refused"
	assert_match "errors 10 .*timeout" "$(cat "$TOPO_DIR/past.log")" "they time out"
	# Back to 0: no limit.
	in_lb sysctl -qw net.ipv4.vs.conn_max=0 || fail "conn_max=0"
	many 5 unlimited
	assert_eq 5 "$SERVED" "conn_max=0: served again"
fi
