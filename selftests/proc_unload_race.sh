#!/usr/bin/env bash
# /proc/net/ip_vs, ip_vs_stats and ip_vs_conn are read in a loop, in the initial namespace and in
# three others, while the module is unloaded and loaded (50 times; on the debug kernel 15 times,
# or more until every reader has found the files) and a short-lived namespace with its own
# reader comes and goes in every round: the files come and go with the module, every
# read either works or finds no file, and the kernel reports nothing (KASAN, lockdep and
# kmemleak on the debug kernel; the files are world-readable, so this is any local user's race).
# A read during a load sees the files only once their namespace's state exists, and a read during
# an unload finishes before that state goes.
. "$(dirname "$0")/lib/lib.sh"

# A round takes 12 s on the debug kernel under CI's load, and 15 race the readers often enough;
# but there its niced readers can miss every window in which the files exist for many rounds in a
# row, so it goes on (up to 50 rounds) until each has found them once.
rounds=50 min_rounds=50
[ "${KERNEL:-}" = debug ] && min_rounds=15
readers_dir=$(mktemp -d)
on_exit "rm -rf $readers_dir"

# A reader reads the three files until SIGTERM, then writes how many reads found them to COUNT
# (python: a read costs no fork, so reads overlap the unloads many times over). Its first read
# that finds them creates COUNT.found.
reader_py='
import signal, sys
found = 0
def stop(*_):
    open(sys.argv[1], "w").write(str(found))
    sys.exit(0)
signal.signal(signal.SIGTERM, stop)
while True:
    for f in ("ip_vs", "ip_vs_stats", "ip_vs_conn"):
        try:
            with open("/proc/net/" + f) as fh:
                fh.read()
            found += 1
            if found == 1:
                open(sys.argv[1] + ".found", "w").close()
        except OSError:
            pass
'

for i in 1 2 3; do netns_new "rvs-pr-$i"; done
pids=()
# Niced, so that the unloads and loads get the CPU when they want it (the debug kernel's VM has
# one): the readers run whenever those sleep, which is when their teardown waits.
nice -n 19 python3 -c "$reader_py" "$readers_dir/init.count" & pids+=($!)
for i in 1 2 3; do
	ip netns exec "rvs-pr-$i" nice -n 19 python3 -c "$reader_py" "$readers_dir/ns$i.count" &
	pids+=($!)
done
on_exit "kill ${pids[*]} 2>/dev/null"

for i in $(seq "$rounds"); do
	# Something to list: a service with a real server, in the initial namespace.
	"$RVSADM" -A -t 10.9.9.9:80 -s rr || fail "add a service, round $i"
	"$RVSADM" -a -t 10.9.9.9:80 -r 10.9.9.10:80 -m || fail "add a real server, round $i"
	ip netns add "rvs-pr-tmp" || fail "ip netns add, round $i"
	ip netns exec rvs-pr-tmp sh -c 'for f in ip_vs ip_vs_stats ip_vs_conn; do cat /proc/net/$f; done' \
		>/dev/null 2>&1 &
	tmp_reader=$!
	ip netns del rvs-pr-tmp
	module_unload || fail "unload with readers, round $i"
	module_load || fail "load with readers, round $i"
	wait "$tmp_reader"
	[ "$i" -ge "$min_rounds" ] && [ "$(ls "$readers_dir"/*.found 2>/dev/null | wc -l)" = 4 ] && break
done
log "ok: $i unload/load rounds with 4 readers and a namespace coming and going in each"

kill -TERM "${pids[@]}"
wait "${pids[@]}"
counts=""
for r in init ns1 ns2 ns3; do
	count=$(cat "$readers_dir/$r.count" 2>/dev/null || echo 0)
	[ "$count" -gt 0 ] || fail "reader $r never found the files"
	counts="$counts $r=$count"
done
log "ok: every reader read the files (reads:$counts)"

# The files are back and whole after the last load.
assert_eq "IP Virtual Server version 1.2.1 (size=4096)" "$(head -1 /proc/net/ip_vs)" \
	"/proc/net/ip_vs has its header after the last load"
assert_eq "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData" \
	"$(cat /proc/net/ip_vs_conn)" "/proc/net/ip_vs_conn is its header alone"

if [ -w /sys/kernel/debug/kmemleak ]; then
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	assert_eq "" "$(cat /sys/kernel/debug/kmemleak)" "kmemleak reports no leak"
fi
