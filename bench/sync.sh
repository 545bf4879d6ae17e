#!/usr/bin/env bash
# Sync benchmark (make bench BENCH=sync): how many connections a director pair keeps in sync per
# second, in-tree ip_vs and rvs in one VM run, in alternated rounds (BENCH_ROUNDS, default 3),
# with the medians and the ratio rvs/ip_vs:
#   master   new UDP connections through a NAT director whose sync daemon is master (one 64-byte
#            datagram each from pktgen, source address and port stepping; sync_threshold "1 50"
#            syncs a connection at its first packet), for BENCH_SECS (default 5): the connections
#            the backup director in the next namespace learned per second of traffic, and the
#            share of the master's connections it learned
#   backup   BENCH_SYNC_ENTRIES (default 40 000) version-1 entries multicast to a backup as fast
#            as lib/sync.py sends them (40 to a message): entries learned per second, from the
#            first datagram to the last entry learned, and the share learned (the rest dropped
#            when the backup's socket buffer overflowed)
# Figures under TCG emulation are far below hardware; the ratios compare.
set -u
. "$RVS_ROOT/selftests/lib/lib.sh"
. "$RVS_ROOT/selftests/lib/topo.sh"
ROUNDS=${BENCH_ROUNDS:-3}
SECS=${BENCH_SECS:-5}
ENTRIES=${BENCH_SYNC_ENTRIES:-40000}
SYNC="$RVS_ROOT/selftests/lib/sync.py"
work=$(mktemp -d /tmp/rvs-sync-bench.XXXXXX)
on_exit "rm -rf $work"
rm -f /etc/modprobe.d/rvs-test.conf
modprobe pktgen || fail "modprobe pktgen"

# The NAT topology (client, director rvs-lb, one real server that counts and drops what reaches
# it), and the backup director rvs-b on a sync link from the director.
topo_nat 1
RS=$(rs_ip 1)
LB_MAC=$(in_lb cat /sys/class/net/cl0/address)
BK=rvs-b
netns_new "$BK"
ip link add sync0 netns "$TOPO_LB" type veth peer name sync0 netns "$BK" || fail "sync link"
ip -n "$TOPO_LB" addr add 10.0.9.1/24 dev sync0 && ip -n "$TOPO_LB" link set sync0 up
ip -n "$BK" addr add 10.0.9.2/24 dev sync0 && ip -n "$BK" link set sync0 up
in_rs 1 nft -f - <<-EOF || fail "sink in the real server"
	table ip sink {
		chain pre {
			type filter hook prerouting priority -300; policy accept;
			ip protocol udp drop
		}
	}
EOF

load() {
	if [ "$1" = ipvs ]; then modprobe ip_vs || fail "modprobe ip_vs"; else insmod "$RVS_KO" || fail "insmod rvs"; fi
}
unload() {
	if [ "$1" = ipvs ]; then "$RVS_ROOT/selftests/lib/unload-ipvs.sh" || fail "unload ip_vs"; else rmmod rvs || fail "rmmod rvs"; fi
}
# record SYSTEM WORKLOAD RATE SHARE
record() { echo "$1 $2 $3 $4" >>"$work/results"; }
# learned: the connections the backup has (active and inactive ones of its real server).
learned() { ip netns exec "$BK" ipvsadm -Ln | awk '/->/ && $2 != "RemoteAddress:Port" { n += $5 + $6 } END { print n + 0 }'; }
# made: the connections the master's service made (ipvsadm -Ln --stats).
made() { in_lb ipvsadm -Ln --stats --exact | awk '/^UDP / { print $3; exit }'; }
# settled COUNTER: COUNTER once it holds still for 2.5 s, and the clock time (ns) of its last
# growth.
settled() {
	local now last=-1 grew still=0
	grew=$(date +%s%N)
	while [ "$still" -lt 5 ]; do
		now=$($1)
		if [ "$now" = "$last" ]; then
			still=$((still + 1))
		else
			still=0 grew=$(date +%s%N)
		fi
		last=$now
		nap 0.5
	done
	echo "$now $grew"
}
service_on() {
	ip netns exec "$1" ipvsadm -A -u "$VIP:9" -s rr || fail "service in $1"
	ip netns exec "$1" ipvsadm -a -u "$VIP:9" -r "$RS:9" -m || fail "real server in $1"
}

master() {
	local sys=$1 made n t0
	service_on "$TOPO_LB"
	service_on "$BK"
	in_lb sysctl -qw net.ipv4.vs.sync_threshold="1 50" || fail "sync_threshold"
	ip netns exec "$BK" ipvsadm --start-daemon backup --mcast-interface sync0 || fail "backup daemon"
	in_lb ipvsadm --start-daemon master --mcast-interface sync0 || fail "master daemon"
	in_cl bash -s -- "$LB_MAC" "$VIP" "$((SECS * 1000000))" <<-'SH' || fail "pktgen"
		set -e
		pg() { echo "$2" >"/proc/net/pktgen/$1"; }
		pg kpktgend_0 rem_device_all
		pg kpktgend_0 "add_device eth0"
		for c in "count 0" "clone_skb 0" "burst 1" "pkt_size 64" "delay 0" "flag NO_TIMESTAMP" \
			"dst_mac $1" "dst $2" "src_min 10.3.0.1" "src_max 10.3.0.251" \
			"udp_src_min 1024" "udp_src_max 65534" "udp_dst_min 9" "udp_dst_max 9"; do
			pg eth0 "$c"
		done
		pg pgctrl start &
		sleep "$(($3 / 1000000))"
		pg pgctrl stop
		wait
	SH
	# ip_vs sums its per-CPU counters every 2 s (its estimator): read until the count holds
	# still; the master meanwhile sends what it queued.
	read -r made _ < <(settled made)
	read -r n _ < <(settled learned)
	record "$sys" master "$((n / SECS))" "$(awk -v n="$n" -v m="$made" 'BEGIN { printf "%.3f", m ? n / m : 0 }')"
	echo "bench: $sys master: $made connections in $SECS s, $n learned by the backup"
	in_lb ipvsadm --stop-daemon master
	ip netns exec "$BK" ipvsadm --stop-daemon backup
	in_lb ipvsadm -C
	ip netns exec "$BK" ipvsadm -C
}

backup() {
	local sys=$1 n grew start
	service_on "$BK"
	ip netns exec "$BK" ipvsadm --start-daemon backup --mcast-interface sync0 || fail "backup daemon"
	# The clock starts at the first datagram (sync.py builds every message first).
	start=$(in_lb python3 "$SYNC" bulk --ifaddr 10.0.9.1 --count "$ENTRIES" \
		"udp,NONE,0,172.16.0.1:1024,$VIP:9,$RS:9,300") || fail "sync.py bulk"
	read -r n grew < <(settled learned)
	record "$sys" backup "$(awk -v n="$n" -v t="$((grew - start))" 'BEGIN { printf "%d", (t > 0 ? n * 1e9 / t : 0) }')" \
		"$(awk -v n="$n" -v e="$ENTRIES" 'BEGIN { printf "%.3f", n / e }')"
	echo "bench: $sys backup: $n of $ENTRIES entries learned in $(((grew - start) / 1000000)) ms"
	ip netns exec "$BK" ipvsadm --stop-daemon backup
	ip netns exec "$BK" ipvsadm -C
}

systems=(ipvs rvs)
for round in $(seq "$ROUNDS"); do
	for i in 0 1; do
		sys=${systems[(i + round - 1) % 2]}
		echo "bench: sync, round $round/$ROUNDS, $sys"
		for w in master backup; do
			load "$sys"
			"$w" "$sys"
			unload "$sys"
		done
	done
done

python3 - "$work/results" "$ROUNDS" "$SECS" "$ENTRIES" <<-'PY' || fail "report"
	import statistics, sys
	src, rounds, secs, entries = sys.argv[1:]
	runs = {}
	for line in open(src):
	    sysname, workload, rate, share = line.split()
	    runs.setdefault(workload, {}).setdefault(sysname, []).append((int(rate), float(share)))
	med = statistics.median
	print(f"\nsync benchmark: {rounds} alternated rounds; master: {secs} s of new UDP connections;"
	      f" backup: {entries} entries")
	print("| workload | ip_vs conn/s (learned) | rvs conn/s (learned) | rvs/ip_vs |")
	print("|---|---|---|---|")
	for w, by in runs.items():
	    cell = lambda s: "-" if s not in by else \
	        f"{med(r for r, _ in by[s]):.0f} ({med(x for _, x in by[s]):.0%})"
	    i = med(r for r, _ in by.get("ipvs", [(0, 0)]))
	    r = med(r for r, _ in by.get("rvs", [(0, 0)]))
	    print(f"| {w} | {cell('ipvs')} | {cell('rvs')} | {r / i if i else 0:.2f} |")
PY
