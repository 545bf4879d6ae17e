#!/usr/bin/env bash
# The connection table grows with its connections (rvs only: IPVS keeps the size it was loaded
# with, 4 096 buckets, so that with 10^6 connections its chains are hundreds long; against ip_vs
# this test proves the rest and that the size stays). rvs grows the table in steps of the
# namespace's timer once it holds more than 2 connections per bucket, to the power of two at or
# above the count, while packets flow; nothing is lost: every connection is found again
# afterwards (a datagram re-sent on each creates none and counts on it), /proc/net/ip_vs_conn lists
# each exactly once, and the size ipvsadm reports (netlink GET_INFO and /proc/net/ip_vs) is the
# grown one.
#
# The module is loaded with conn_tab_bits=8 (256 buckets). The UDP connections are made by forged
# datagrams in phases, each re-sending the earlier phases' datagrams first: a phase that ends
# with N connections in (2, 4] x the size grows the table to 4 x the size whatever the moment the
# timer saw the count (600 -> 1 024 buckets, 3 000 -> 4 096, 16 000 -> 16 384, 60 000 -> 65 536,
# 200 000 -> 262 144; the debug kernel stops at 3 000, ip_vs, whose size stays and whose listing
# time grows with the square of its chains, at 16 000).
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

if [ "${KERNEL:-}" = debug ]; then
	phases="600:1024 3000:4096"
elif [ "$MODULE" = ipvs ]; then
	phases="600:256 3000:256 16000:256"
else
	phases="600:1024 3000:4096 16000:16384 60000:65536 200000:262144"
fi
module_unload || fail "unload"
module_load conn_tab_bits=8 || fail "load with conn_tab_bits=8"
# The next test on this VM gets the module as it was, with the default size.
on_exit "module_unload && module_load"
topo_nat 3
# Nothing listens on the real servers' port 53; the entries live an hour.
nat_service -u "$VIP:53" rr 53
adm --set 0 0 3600 || fail "ipvsadm --set 0 0 3600"

size_ipvsadm() { adm -Ln | sed -n '1s/.*(size=\([0-9]*\)).*/\1/p'; }
size_proc() { in_lb sed -n '1s/.*(size=\([0-9]*\)).*/\1/p' /proc/net/ip_vs; }
sizes() { echo "$(size_ipvsadm) $(size_proc)"; }
# Entries of /proc/net/ip_vs_conn, and how many of them are listed more than once.
listed() { in_lb awk 'NR > 1' /proc/net/ip_vs_conn | wc -l; }
listed_twice() { in_lb awk 'NR > 1 { print $2, $3 }' /proc/net/ip_vs_conn | sort | uniq -d | wc -l; }
# The service's connections and incoming packets and bytes (ipvsadm -Ln --stats --exact).
service_in() { dest_stats -u "$VIP:53" | awk 'NR == 1 { print $2, $3, $5 }'; }

assert_eq "256 256" "$(sizes)" "the table starts at 256 buckets (GET_INFO and /proc/net/ip_vs)"
sent=0
for phase in $phases; do
	conns=${phase%:*}
	size=${phase#*:}
	in_cl python3 "$TRAFFIC" udpflood "$VIP" 53 --count "$conns" --sources 10.0.1.150-249 ||
		fail "UDP flood of $conns"
	sent=$((sent + conns))
	poll_eq "$size $size" "with $conns connections the table has $size buckets" 60 sizes
	poll_eq "$conns" "/proc/net/ip_vs_conn lists the $conns connections" 60 listed
	assert_eq 0 "$(listed_twice)" "no connection is listed twice"
	# One-byte UDP datagrams: 29 bytes at layer 3.
	poll_eq "$conns $sent $((sent * 29))" \
		"every re-sent datagram found its connection: $conns connections, $sent packets in" 30 service_in
done

# All of them once more after the last growth.
in_cl python3 "$TRAFFIC" udpflood "$VIP" 53 --count "$conns" --sources 10.0.1.150-249 ||
	fail "UDP flood of $conns again"
sent=$((sent + conns))
poll_eq "$conns $sent $((sent * 29))" \
	"after the growth each of the $conns connections is found again ($sent packets in)" 30 service_in
log "ok: $(module_name), ${KERNEL:-release} kernel: $conns connections in $(size_ipvsadm) buckets"
