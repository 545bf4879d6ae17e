#!/usr/bin/env bash
# Scale benchmark (make bench, after nat.sh): in-tree ip_vs and rvs driven by the same ipvsadm and
# keepalived in one VM run, in alternated rounds (BENCH_ROUNDS, default 3), with the medians and
# the ratio rvs/ip_vs in the table:
#   restore    `ipvsadm -R` of N services x 10 NAT real servers (N in BENCH_SIZES, default
#              "1000 20000"), then `ipvsadm -Ln` of that table and `ipvsadm -C`
#   latency    the cost of one command, from one `ipvsadm -R` of 100 service adds and one of 100
#              real-server weight changes, with 1, 1 000 and 20 000 services present
#   keepalived 1 000 virtual servers x 4 real servers, no health checks: seconds until all are in
#              the table; after SIGTERM, seconds until it is empty, and the real servers left then
#   pps        established UDP packets/s (64-byte datagrams) through one NAT service, alone and
#              with 10 000 other services added before it
# Figures under TCG emulation are far below hardware; the ratios and the growth with N compare.
set -u
. "$RVS_ROOT/selftests/lib/lib.sh"
. "$RVS_ROOT/selftests/lib/topo.sh"
ROUNDS=${BENCH_ROUNDS:-3}
SIZES=${BENCH_SIZES:-1000 20000}
# Smaller figures for a quick try of the script itself.
LATENCY_SIZES=${BENCH_LATENCY_SIZES:-1 1000 20000}
KA_SERVERS=${BENCH_KA_SERVERS:-1000}
OTHERS=${BENCH_OTHERS:-10000}
SECS=${BENCH_SECS:-5}
work=$(mktemp -d /tmp/rvs-scale.XXXXXX)
on_exit "rm -rf $work"
rm -f /etc/modprobe.d/rvs-test.conf

# services N [FIRST]: the `ipvsadm -R` lines of N TCP services (numbered from FIRST) with 10 NAT
# real servers each.
services() {
	awk -v n="$1" -v first="${2:-0}" 'BEGIN {
		for (i = first; i < first + n; i++) {
			vip = sprintf("10.%d.%d.%d", 100 + int(i / 62500), int(i / 250) % 250, i % 250 + 1)
			printf "-A -t %s:80 -s wlc\n", vip
			for (j = 1; j <= 10; j++)
				printf "-a -t %s:80 -r 10.200.%d.%d:8080 -m -w 1\n", vip, j, i % 250 + 1
		}
	}'
}

# ms CMD...: the milliseconds CMD takes (its output discarded).
ms() {
	local start=$(date +%s%N)
	"$@" >/dev/null 2>&1
	echo $((($(date +%s%N) - start) / 1000000))
}

load() {
	if [ "$1" = ipvs ]; then modprobe ip_vs || fail "modprobe ip_vs"; else insmod "$RVS_KO" || fail "insmod rvs"; fi
}
unload() {
	if [ "$1" = ipvs ]; then "$RVS_ROOT/selftests/lib/unload-ipvs.sh" || fail "unload ip_vs"; else rmmod rvs || fail "rmmod rvs"; fi
}
# record MODULE METRIC VALUE
record() { echo "$2 $1 $3" >>"$work/results"; }

restore_rows() {
	local m=$1 n
	for n in $SIZES; do
		services "$n" >"$work/restore"
		record "$m" "restore $n x 10 (s)" "$(ms sh -c "ipvsadm -R <$work/restore")"
		[ "$(ipvsadm -Sn | wc -l)" -eq $((n * 11)) ] || fail "$m: restore of $n services incomplete"
		record "$m" "listing $n x 10 (s)" "$(ms ipvsadm -Ln)"
		record "$m" "clear $n x 10 (s)" "$(ms ipvsadm -C)"
	done
}

latency_rows() {
	local m=$1 n
	services 100 30000 | grep '^-A' >"$work/adds"
	# 100 weight changes of the real servers of the first service (10.100.0.1:80).
	awk 'BEGIN { for (k = 0; k < 100; k++)
		printf "-e -t 10.100.0.1:80 -r 10.200.%d.1:8080 -m -w %d\n", k % 10 + 1, k % 7 + 2 }' >"$work/edits"
	for n in $LATENCY_SIZES; do
		services "$n" | ipvsadm -R || fail "$m: $n services"
		record "$m" "add, $n services (ms/cmd)" "$(ms sh -c "ipvsadm -R <$work/adds")"
		record "$m" "weight change, $n services (ms/cmd)" "$(ms sh -c "ipvsadm -R <$work/edits")"
		ipvsadm -C
	done
}

keepalived_rows() {
	local m=$1 i j ka start left
	command -v keepalived >/dev/null || fail "keepalived is not installed"
	{
		echo 'global_defs { router_id rvs_bench }'
		for i in $(seq 0 $((KA_SERVERS - 1))); do
			echo "virtual_server 10.$((100 + i / 250)).$((i % 250)).1 80 {"
			echo '    lb_algo rr'
			echo '    lb_kind NAT'
			echo '    protocol TCP'
			for j in 1 2 3 4; do echo "    real_server 10.200.$j.$((i % 250 + 1)) 8080 { weight 1 }"; done
			echo '}'
		done
	} >"$work/keepalived.conf"
	start=$(date +%s%N)
	keepalived --dont-fork --check --use-file="$work/keepalived.conf" --pid="$work/ka.pid" \
		--checkers_pid="$work/ka-check.pid" >"$work/keepalived.log" 2>&1 &
	ka=$!
	poll_until 600 sh -c "[ \$(ipvsadm -Sn | wc -l) -eq $((KA_SERVERS * 5)) ]" ||
		fail "$m: keepalived did not configure all"
	record "$m" "keepalived $KA_SERVERS x 4: up (ms)" $((($(date +%s%N) - start) / 1000000))
	start=$(date +%s%N)
	kill -TERM "$ka"
	poll_until 60 sh -c '[ "$(ipvsadm -Sn | wc -l)" -eq 0 ]'
	record "$m" "keepalived $KA_SERVERS x 4: down (ms)" $((($(date +%s%N) - start) / 1000000))
	wait "$ka" 2>/dev/null
	left=$(ipvsadm -Sn | grep -c '^-a')
	record "$m" "keepalived $KA_SERVERS x 4: real servers left" "$left"
	ipvsadm -C
}

pps_rows() {
	local m=$1 others pps
	for others in 0 $OTHERS; do
		services "$others" | in_lb ipvsadm -R || fail "$m: $others services"
		# iperf3's control connection (TCP) and its datagrams (UDP), added after the others.
		in_lb ipvsadm -R <<-EOF || fail "$m: the measured service"
			-A -t $VIP:5201 -s rr
			-a -t $VIP:5201 -r $(rs_ip 1):5201 -m
			-A -u $VIP:5201 -s rr
			-a -u $VIP:5201 -r $(rs_ip 1):5201 -m
		EOF
		pps=$(in_cl iperf3 -c "$VIP" -u -b 0 -l 64 -t "$SECS" -J 2>/dev/null |
			python3 -c 'import json,sys; s=json.load(sys.stdin)["end"]["sum"]; print(round((s["packets"]-s["lost_packets"])/s["seconds"]))' 2>/dev/null)
		record "$m" "UDP packets/s, $others other services" "${pps:-0}"
		in_lb ipvsadm -C
	done
}

topo_nat 1
bg iperf rvs-rs1 iperf3 -s
nap 1
for round in $(seq "$ROUNDS"); do
	for m in ipvs rvs; do
		echo "bench: scale, round $round, $m"
		load "$m"
		restore_rows "$m"
		latency_rows "$m"
		keepalived_rows "$m"
		pps_rows "$m"
		unload "$m"
	done
done

python3 - "$work/results" <<'PY'
import statistics, sys
rows = {}
for line in open(sys.argv[1]):
    metric_module, value = line.rsplit(" ", 1)
    metric, module = metric_module.rsplit(" ", 1)
    rows.setdefault(metric, {}).setdefault(module, []).append(float(value))
print(f"\n{'metric (medians)':44} {'ip_vs':>10} {'rvs':>10} {'rvs/ip_vs':>10}")
for metric, by in rows.items():
    i, r = (statistics.median(by.get(m, [0])) for m in ("ipvs", "rvs"))
    scale = 1000 if metric.endswith("(s)") else 1
    ratio = f"{r / i:.2f}" if i else "-"
    per = 100 if "ms/cmd" in metric else 1
    print(f"{metric:44} {i / scale / per:>10.3f} {r / scale / per:>10.3f} {ratio:>10}")
PY
