#!/usr/bin/env bash
# Director benchmark (make bench BENCH=director): what the director itself costs per packet, for
# plain forwarding, in-tree ip_vs and rvs in one VM run, in alternated rounds (BENCH_ROUNDS,
# default 5; the order of the three systems turns each round), with min/median/max and the
# ratios rvs/ip_vs and rvs/plain.
#
# The packets come from the kernel's own generators in the client namespace: pktgen for UDP,
# trafgen (netsniff-ng, an AF_PACKET ring) for TCP SYNs. They enter the director over a veth and
# its softirq runs on the generator's vCPU; the real server counts every packet that reaches it
# and drops it at prerouting (nftables), so that nothing answers and generator and sink cost the
# same for every system: what differs is the director's work per packet. Before the rounds the
# generator's rate into a sink inside the director (no forwarding) is measured: it must stay well
# above the plain forwarding rate, or the figures would measure the generator.
#
# BENCH_BASELINE=PATH adds a fourth system, "base": another rvs.ko (an earlier build, say), so
# that a change is measured against what it changes in the same run (ratio rvs/base);
# BENCH_BASELINE_PARAMS are its module parameters (e.g. conn_tab_bits=18).
#
# Workloads (per second, delivered to the real server; medians over the rounds):
#   est_nat, est_dr, est_tun  one established flow of 64-byte UDP frames through a NAT, DR or IPIP
#                             service: packets/s
#   est_nat_fast, est_dr_fast, est_tun_fast
#                             the same with rvs's fast_path sysctl on (rvs only: ip_vs, which has no
#                             such path, runs as in est_*, and plain forwarding is not run again)
#   new_udp                   a new connection with every packet (source address and port step
#                             through 16 million pairs): connections/s
#   new_syn                   TCP SYNs from random source addresses and ports: connections/s
#                             (both checked against the service's connection counter)
#   est_nat_among_services    est_nat with BENCH_OTHERS (default 10 000) other services, each with
#                             a real server, added before the measured one
#   scale_N                   est_nat with N other connections live in the table (BENCH_SCALE,
#                             default "1000 100000 1000000"); the memory each costs (growth of
#                             /proc/meminfo's Slab divided by the connections made)
# and for each, the director's softirq CPU time per packet (/proc/stat; not for plain).
# BENCH_PROFILE=1 adds, after each established-flow and new-flow window, a second window recorded by
# perf (cpu-clock samples on every CPU, the only event under TCG): where the busy time went, by
# module and symbol, printed and kept as profile-SYSTEM-WORKLOAD.txt (target/bench-profiles/).
# Results go to $RVS_RUN/out (picked up by cargo xtask bench): director.json, BENCHMARKS.md and
# director.png (the ratios, drawn by gnuplot). Figures under TCG emulation are far below hardware;
# the ratios are what compares.
set -u
. "$RVS_ROOT/selftests/lib/lib.sh"
. "$RVS_ROOT/selftests/lib/topo.sh"
ROUNDS=${BENCH_ROUNDS:-5}
SECS=${BENCH_SECS:-4}
SCALE=${BENCH_SCALE:-1000 100000 1000000}
OTHERS=${BENCH_OTHERS:-10000}
WORKLOADS=${BENCH_WORKLOADS:-est_nat est_dr est_tun est_nat_fast est_dr_fast est_tun_fast est_nat_among_services new_udp new_syn scale}
OUT=$RVS_RUN/out
mkdir -p "$OUT"
work=$(mktemp -d /tmp/rvs-director.XXXXXX)
on_exit "rm -rf $work"
rm -f /etc/modprobe.d/rvs-test.conf
modprobe pktgen || fail "modprobe pktgen"
command -v trafgen >/dev/null || fail "trafgen (netsniff-ng) is not installed"

topo_nat 1
RS=$(rs_ip 1)
LB_MAC=$(in_lb cat /sys/class/net/cl0/address)
PORT=9
# The measured flow's source; new connections come from 10.3.0.1-251 (no address of the director,
# which would make them martians), ports 1024-65534.
FLOW_SRC=10.0.1.253
NEW_SRC="10.3.0.1 10.3.0.251"
# Every IPv4 packet that reaches the real server (UDP, TCP, or IPIP from a tunnel service) is
# counted and dropped before routing.
in_rs 1 nft -f - <<-EOF || fail "sink in the real server"
	table ip sink {
		counter delivered { }
		chain pre {
			type filter hook prerouting priority -300; policy accept;
			ip protocol { 4, 6, 17 } counter name delivered drop
		}
	}
EOF
# The generator's own rate: packets to 10.0.1.99 die in the director before routing.
in_lb nft -f - <<-EOF || fail "sink in the director"
	table ip gensink {
		counter generated { }
		chain pre {
			type filter hook prerouting priority -300; policy accept;
			ip daddr 10.0.1.99 counter name generated drop
		}
	}
EOF

# pktgen DST SRC_MIN SRC_MAX SPORT_MIN SPORT_MAX COUNT: configures the client's pktgen device
# (eth0, on kpktgend_0): 64-byte UDP frames to DST:$PORT, the source address and port stepping
# through their ranges (each by one per packet), COUNT packets (0: until stopped).
pktgen() {
	in_cl bash -s -- "$@" "$LB_MAC" "$PORT" <<-'SH' || fail "pktgen configuration"
		set -e
		pg() { echo "$2" >"/proc/net/pktgen/$1"; }
		dst=$1 smin=$2 smax=$3 pmin=$4 pmax=$5 count=$6 mac=$7 port=$8
		pg kpktgend_0 rem_device_all
		pg kpktgend_0 "add_device eth0"
		for c in "count $count" "clone_skb 0" "burst 1" "pkt_size 64" "delay 0" \
			"flag NO_TIMESTAMP" "dst_mac $mac" "dst $dst" "src_min $smin" "src_max $smax" \
			"udp_src_min $pmin" "udp_src_max $pmax" "udp_dst_min $port" "udp_dst_max $port"; do
			pg eth0 "$c"
		done
	SH
}
pg_start() { bg pktgen "$TOPO_CL" sh -c 'echo start >/proc/net/pktgen/pgctrl'; }
pg_stop() {
	in_cl sh -c 'echo stop >/proc/net/pktgen/pgctrl' 2>/dev/null
	wait "$BG_PID" 2>/dev/null
}
# pg_run COUNT: sends COUNT packets as configured, and returns when they are sent.
pg_run() { in_cl sh -c 'echo start >/proc/net/pktgen/pgctrl'; }

# trafgen_start DST: TCP SYNs to DST:80 from random addresses of 10.1.0.0/16 and random ports,
# until trafgen_stop.
trafgen_start() {
	cat >"$work/syn.cfg" <<-EOF
		{
			eth(da=$LB_MAC),
			ipv4(sa=10.1.0.1, sa[2]=drnd(), sa[3]=drnd(), da=$1, ttl=64, df),
			tcp(sp=drnd(1024, 65535), dp=80, seq=drnd(), syn, window=65535)
		}
	EOF
	bg trafgen "$TOPO_CL" trafgen --dev eth0 --conf "$work/syn.cfg" --cpus 1 --no-sock-mem \
		--notouch-irq --no-cpu-stats
}
# trafgen sends from a child process per CPU: each must be told (as Ctrl-C tells the whole
# process group), or a child left behind would take CPU time from every later measurement.
trafgen_stop() {
	pkill -INT -x trafgen
	poll_until 5 sh -c '! pgrep -x trafgen >/dev/null' || pkill -KILL -x trafgen
	wait "$BG_PID" 2>/dev/null
	! pgrep -x trafgen >/dev/null || fail "trafgen does not stop"
}

delivered() { in_rs 1 nft list counter ip sink delivered | awk '/packets/ { print $2 }'; }
reset_delivered() { in_rs 1 nft reset counter ip sink delivered >/dev/null; }
generated() { in_lb nft list counter ip gensink generated | awk '/packets/ { print $2 }'; }
# The connections made by the service under test (ipvsadm -Ln --stats --exact, first service).
# ip_vs sums its per-CPU counters every 2 s (its estimator), rvs when asked: read until the
# count holds still for 2 s.
conns() {
	local now last=-1 tries=0
	while :; do
		now=$(in_lb ipvsadm -Ln --stats --exact | awk '/^(UDP|TCP) / { print $3; exit }')
		[ "$now" = "$last" ] || [ $((tries += 1)) -gt 10 ] && break
		last=$now
		nap 2.2
	done
	echo "$now"
}
# check_new SYSTEM WORKLOAD: every packet delivered made a connection (so the rate measured is
# one of new connections).
check_new() {
	local made sent
	made=$(conns) sent=$(delivered)
	[ $((made * 100)) -ge $((sent * 95)) ] ||
		fail "$1 $2: $sent packets delivered, but only $made connections made"
}
# Softirq time of all CPUs, in USER_HZ ticks.
softirq_ticks() { awk '/^cpu / { print $8 }' /proc/stat; }
slab_kb() { awk '/^Slab:/ { print $2 }' /proc/meminfo; }

# window COUNTER: the COUNTER's growth per second over $SECS, after one second of warm-up, and
# the softirq time per unit of that growth, in ns: "RATE NS".
window() {
	local c0 c1 t0 t1 s0 s1
	nap 1
	t0=$(date +%s%N) c0=$($1) s0=$(softirq_ticks)
	nap "$SECS"
	t1=$(date +%s%N) c1=$($1) s1=$(softirq_ticks)
	awk -v c="$((c1 - c0))" -v t="$((t1 - t0))" -v s="$((s1 - s0))" \
		'BEGIN { printf "%d %d\n", c * 1e9 / t, (c ? s * 1e7 / c : 0) }'
}

# record SYSTEM WORKLOAD "RATE NS" [UNIT]
record() { echo "$1 $2 $3 ${4:-pps}" >>"$work/results"; }

# profile SYSTEM WORKLOAD: with BENCH_PROFILE, where the CPUs' busy time went in a $SECS window of
# the running traffic: the share of each symbol (self time, at least 0.3 %) and of each module, of
# the samples that were not the idle loop, then rvs.ko's hottest offsets within their symbols
# (under TCG a sample lands where a translated block starts, often just after a call). Symbols are looked up in /proc/kallsyms here (perf
# leaves rvs's Rust symbols unnamed) and Rust's mangled paths shortened to their identifiers.
profile() {
	[ -n "${BENCH_PROFILE:-}" ] || return 0
	local f="$OUT/profile-$1-$2.txt"
	perf record -q -e cpu-clock -a -o "$work/perf.data" -- sleep "$SECS" >/dev/null 2>&1 ||
		fail "perf record"
	perf script -i "$work/perf.data" -F ip 2>/dev/null | python3 -c '
import bisect, collections, re, sys
syms = []
for line in open("/proc/kallsyms"):
    f = line.split()
    if len(f) >= 3 and f[1] in "tTwW":
        syms.append((int(f[0], 16), f[2], f[3].strip("[]") if len(f) > 3 else "kernel"))
syms.sort()
addrs = [s[0] for s in syms]
def short(name):
    if not name.startswith("_R"):
        return name
    name = re.sub(r"Cs[0-9A-Za-z]*_", "C", name)
    ids, i = [], 2
    while i < len(name):
        m = re.match(r"(\d+)_?", name[i:])
        if m and not name[i - 1].isdigit():
            n, start = int(m.group(1)), i + m.end()
            ident = name[start:start + n]
            if len(ident) == n and re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", ident):
                ids.append(ident)
                i = start + n
                continue
        i += 1
    ids = [x for x in ids if x not in ("rvs_main", "kernel", "core", "alloc")]
    return "::".join(ids[-3:]) or name
by_sym, by_mod, by_off, busy = collections.Counter(), collections.Counter(), collections.Counter(), 0
for line in sys.stdin:
    try:
        ip = int(line.split()[0], 16)
    except (ValueError, IndexError):
        continue
    i = bisect.bisect_right(addrs, ip) - 1
    addr, name, mod = syms[i] if i >= 0 else (0, "?", "?")
    if name in ("default_idle", "default_idle_call", "arch_cpu_idle", "do_idle", "cpuidle_idle_call"):
        continue
    busy += 1
    by_sym[(mod, short(name))] += 1
    by_mod[mod] += 1
    if mod == "rvs":
        by_off[(name, ip - addr)] += 1
print("%d busy samples; by module:" % busy)
for mod, n in by_mod.most_common():
    print("  %5.1f%%  %s" % (100.0 * n / busy, mod))
print("by symbol (self):")
for (mod, name), n in by_sym.most_common():
    if 1000 * n < 3 * busy:
        break
    print("  %5.1f%%  [%s] %s" % (100.0 * n / busy, mod, name))
# rvs.ko samples by offset in their (mangled) symbol, for llvm-objdump --disassemble-symbols.
print("rvs by offset:")
for (name, off), n in by_off.most_common(60):
    print("  %5.1f%%  %s+0x%x" % (100.0 * n / busy, name, off))
' >"$f" || fail "perf report"
	echo "bench: profile of $1 $2"
	head -45 "$f"
}

load() {
	case $1 in
	ipvs) modprobe ip_vs || fail "modprobe ip_vs" ;;
	rvs) insmod "$RVS_KO" || fail "insmod rvs" ;;
	# shellcheck disable=SC2086 # module parameters, one word each
	base) insmod "$BENCH_BASELINE" ${BENCH_BASELINE_PARAMS:-} || fail "insmod $BENCH_BASELINE" ;;
	esac
}
unload() {
	case $1 in
	ipvs) "$RVS_ROOT/selftests/lib/unload-ipvs.sh" || fail "unload ip_vs" ;;
	rvs | base) rmmod rvs || fail "rmmod rvs" ;;
	esac
}

# service SYSTEM METHOD PROTO PORT: one service on the VIP with the real server by METHOD
# (-m, -g, -i), or nothing for plain forwarding; sets DST, the address the generator sends to.
service() {
	local sys=$1 method=$2 proto=$3 port=$4
	DST=$RS
	[ "$sys" = plain ] && return
	in_lb ipvsadm -A "$proto" "$VIP:$port" -s rr || fail "$sys: service"
	in_lb ipvsadm -a "$proto" "$VIP:$port" -r "$RS:$port" "$method" || fail "$sys: real server"
	DST=$VIP
}

# est SYSTEM WORKLOAD METHOD [fast]: one established UDP flow; with "fast", rvs sends it on
# from PRE_ROUTING (an rvs.ko without the sysctl, as a baseline may be, runs without).
est() {
	service "$1" "$3" -u "$PORT"
	if [ "${4:-}" = fast ] && [ "$1" != ipvs ]; then
		in_lb sh -c 'echo 1 >/proc/sys/net/ipv4/vs/fast_path' 2>/dev/null ||
			echo "bench: $1 has no fast_path sysctl"
	fi
	pktgen "$DST" "$FLOW_SRC" "$FLOW_SRC" 4000 4000 0
	pg_start
	record "$1" "$2" "$(window delivered)"
	profile "$1" "$2"
	pg_stop
}

est_nat_among_services() {
	[ "$1" = plain ] && return
	awk -v n="$OTHERS" 'BEGIN {
		for (i = 0; i < n; i++) {
			vip = sprintf("10.%d.%d.%d", 100 + int(i / 62500), int(i / 250) % 250, i % 250 + 1)
			printf "-A -u %s:9 -s rr\n-a -u %s:9 -r 10.200.0.1:9 -m\n", vip, vip
		}
	}' | in_lb ipvsadm -R || fail "$1: $OTHERS services"
	est "$1" est_nat_among_services -m
}

new_udp() {
	[ "$1" = plain ] && return
	service "$1" -m -u "$PORT"
	pktgen "$DST" $NEW_SRC 1024 65535 0
	reset_delivered
	pg_start
	record "$1" new_udp "$(window delivered)" conn/s
	profile "$1" new_udp
	pg_stop
	check_new "$1" new_udp
}

new_syn() {
	[ "$1" = plain ] && return
	service "$1" -m -t 80
	reset_delivered
	trafgen_start "$DST"
	record "$1" new_syn "$(window delivered)" conn/s
	trafgen_stop
	check_new "$1" new_syn
}

# scale SYSTEM: the established NAT flow with N other connections in the table, N growing.
scale() {
	local sys=$1 n slab0 slab made
	[ "$sys" = plain ] && return
	service "$sys" -m -u "$PORT"
	slab0=$(slab_kb)
	for n in $SCALE; do
		# The first N pairs of the 16 million (those of a smaller N are already there).
		pktgen "$DST" $NEW_SRC 1024 65535 "$n"
		pg_run
		made=$(conns) slab=$(slab_kb)
		pktgen "$DST" "$FLOW_SRC" "$FLOW_SRC" 4000 4000 0
		pg_start
		record "$sys" "scale_$n" "$(window delivered)"
		pg_stop
	done
	echo "$sys mem_per_conn $(((slab - slab0) * 1024 / made)) 0 B" >>"$work/results"
	echo "$sys scale_made $made 0 conns" >>"$work/results"
}

# Every workload starts from an empty connection table (a freshly loaded module), so that no
# connection of an earlier one (bound to a real server since removed) takes its packets.
run_system() {
	local sys=$1 w m
	for w in $WORKLOADS; do
		[ "$sys" = plain ] || load "$sys"
		case $w in
		est_nat) est "$sys" est_nat -m ;;
		est_dr) est "$sys" est_dr -g ;;
		est_tun) est "$sys" est_tun -i ;;
		est_nat_fast | est_dr_fast | est_tun_fast)
			[ "$sys" = plain ] && continue
			case $w in est_nat*) m=-m ;; est_dr*) m=-g ;; *) m=-i ;; esac
			est "$sys" "$w" "$m" fast
			;;
		est_nat_among_services | new_udp | new_syn | scale) "$w" "$sys" ;;
		*) fail "unknown workload $w" ;;
		esac
		[ "$sys" = plain ] || unload "$sys"
	done
}

# The generator check: its rate into a sink in the director, against plain forwarding.
echo "bench: director, generator into a sink in the director"
pktgen 10.0.1.99 "$FLOW_SRC" "$FLOW_SRC" 4000 4000 0
pg_start
gen=$(window generated)
pg_stop
echo "generator gen ${gen% *} 0 pps" >>"$work/results"

systems=(plain ipvs rvs)
if [ -n "${BENCH_BASELINE:-}" ]; then
	[ -f "$BENCH_BASELINE" ] || fail "BENCH_BASELINE: no file $BENCH_BASELINE"
	systems+=(base)
fi
for round in $(seq "$ROUNDS"); do
	for i in "${!systems[@]}"; do
		sys=${systems[(i + round - 1) % ${#systems[@]}]}
		echo "bench: director, round $round/$ROUNDS, $sys"
		run_system "$sys"
	done
done

python3 - "$work/results" "$OUT" "$ROUNDS" "$SECS" "$(uname -r)" "${BENCH_COMMIT:-unknown}" \
	"${BENCH_DATE:-$(date -u +%F)}" "${BENCH_BASELINE:-}" <<-'PY' || fail "report"
	import json, statistics, subprocess, sys
	src, out, rounds, secs, kernel, commit, date, baseline = sys.argv[1:]
	runs, units, ns, extra = {}, {}, {}, {}
	for line in open(src):
	    sysname, workload, rate, per, unit = line.split()
	    if workload in ("mem_per_conn", "scale_made", "gen"):
	        extra.setdefault(workload, {}).setdefault(sysname, []).append(int(rate))
	        continue
	    runs.setdefault(workload, {}).setdefault(sysname, []).append(int(rate))
	    ns.setdefault(workload, {}).setdefault(sysname, []).append(int(per))
	    units[workload] = unit
	med = lambda v: statistics.median(v) if v else 0
	result = {"date": date, "commit": commit, "kernel": kernel, "rounds": int(rounds),
	          "seconds_per_window": int(secs), "command": "cargo xtask bench director",
	          "baseline": baseline or None,
	          "generator_pps": med(extra.get("gen", {}).get("generator", [])),
	          "memory_per_connection_bytes": {s: med(v) for s, v in extra.get("mem_per_conn", {}).items()},
	          "scale_connections_made": {s: med(v) for s, v in extra.get("scale_made", {}).items()},
	          "workloads": {}}
	rows = []
	for w, by in runs.items():
	    entry = {"unit": units[w]}
	    for s, v in by.items():
	        entry[s] = {"runs": v, "min": min(v), "median": med(v), "max": max(v),
	                    "softirq_ns_per_unit": med(ns[w][s])}
	    r, i, p, b = (med(by.get(s, [])) for s in ("rvs", "ipvs", "plain", "base"))
	    entry["rvs/ip_vs"] = round(r / i, 3) if i else None
	    entry["rvs/plain"] = round(r / p, 3) if p else None
	    entry["ip_vs/plain"] = round(i / p, 3) if p else None
	    if b:
	        entry["rvs/base"] = round(r / b, 3)
	    result["workloads"][w] = entry
	    rows.append((w, entry))
	json.dump(result, open(f"{out}/director.json", "w"), indent=1)
	fmt = lambda e, s: "-" if s not in e else f"{e[s]['min']:.0f} / {e[s]['median']:.0f} / {e[s]['max']:.0f}"
	lines = [f"# rvs benchmarks", "",
	         f"`cargo xtask bench director` (bench/director.sh) of {commit}, {date}, kernel {kernel},",
	         f"TCG guest with 2 vCPUs, {rounds} alternated rounds of {secs} s windows. Rates are",
	         "min / median / max; the ratios compare medians. Softirq: director CPU time per unit (ns).",
	         f"Generator into a sink in the director: {result['generator_pps']:.0f} packets/s.", "",
	         "| workload | unit | plain | ip_vs | rvs | rvs/ip_vs | rvs/plain | ip_vs/plain | softirq ns ip_vs / rvs |",
	         "|---|---|---|---|---|---|---|---|---|"]
	for w, e in rows:
	    soft = " / ".join(str(e[s]["softirq_ns_per_unit"]) if s in e else "-" for s in ("ipvs", "rvs"))
	    ratio = lambda k: "-" if e[k] is None else f"{e[k]:.2f}"
	    lines.append(f"| {w} | {e['unit']} | {fmt(e, 'plain')} | {fmt(e, 'ipvs')} | {fmt(e, 'rvs')} | "
	                 f"{ratio('rvs/ip_vs')} | {ratio('rvs/plain')} | {ratio('ip_vs/plain')} | {soft} |")
	among = runs.get("est_nat_among_services", {})
	alone = runs.get("est_nat", {})
	result["among_services_vs_alone"] = {
	    sysname: round(med(among[sysname]) / med(alone[sysname]), 3)
	    for sysname in among if med(alone.get(sysname, []))}
	if result["among_services_vs_alone"]:
	    lines += ["", "Established NAT packets/s among the other services / alone: " +
	              ", ".join(f"{s} {r:.2f}" for s, r in result["among_services_vs_alone"].items())]
	mem = result["memory_per_connection_bytes"]
	made = result["scale_connections_made"]
	if mem:
	    lines += ["", "Memory per connection (Slab growth / connections made, largest scale): " +
	              ", ".join(f"{s} {mem[s]:.0f} B ({made.get(s, 0):.0f} connections)" for s in mem)]
	base = [(w, e) for w, e in rows if "base" in e]
	if base:
	    lines += ["", f"Baseline rvs.ko (base): {baseline}", "",
	              "| workload | base | rvs | rvs/base | softirq ns base / rvs |", "|---|---|---|---|---|"]
	    for w, e in base:
	        lines.append(f"| {w} | {fmt(e, 'base')} | {fmt(e, 'rvs')} | {e['rvs/base']:.2f} | "
	                     f"{e['base']['softirq_ns_per_unit']} / {e['rvs']['softirq_ns_per_unit']} |")
	lines += ["", "![rvs/ip_vs, rvs/plain and ip_vs/plain per workload](bench/results/director.png)", ""]
	open(f"{out}/BENCHMARKS.md", "w").write("\n".join(lines))
	print("\n".join(lines[2:]))
	keys = ("rvs/ip_vs", "rvs/plain", "ip_vs/plain")
	with open(f"{out}/ratios.dat", "w") as f:
	    for w, e in rows:
	        f.write(w + "".join(f" {e[k] or 0}" for k in keys) + "\n")
	top = max([1.2] + [e[k] or 0 for _, e in rows for k in keys]) * 1.1
	gp = f"""set terminal pngcairo size 1100,520
	set output '{out}/director.png'
	set termoption noenhanced
	set style data histograms
	set style histogram clustered gap 1
	set style fill solid 0.8 border -1
	set yrange [0:{top:.2f}]
	set grid ytics
	set key top left
	set xtics rotate by -30
	set bmargin 6
	set ylabel 'ratio of medians'
	set title 'rvs and ip_vs per workload ({commit}, {rounds} rounds)'
	set arrow from graph 0, first 1 to graph 1, first 1 nohead dt 2
	plot '{out}/ratios.dat' using 2:xtic(1) title 'rvs/ip_vs', '' using 3 title 'rvs/plain', '' using 4 title 'ip_vs/plain'
	"""
	subprocess.run(["gnuplot"], input=gp, text=True, check=True)
	# The generator must outrun the director: plain forwarding well below its rate into a sink.
	plain = med(runs.get("est_nat", {}).get("plain", []))
	gen = result["generator_pps"]
	print(f"generator {gen:.0f} packets/s into a sink, plain forwarding {plain:.0f}"
	      f" ({plain / gen if gen else 0:.2f} of it)")
	if plain and not plain < 0.9 * gen:
	    sys.exit("the generator is the bottleneck: these figures do not measure the director")
PY
