#!/usr/bin/env bash
# The module loads and unloads 50 times (20 on the slower debug kernel, where kmemleak and KASAN
# watch each round), with and without network namespaces alive, and leaks nothing.
. "$(dirname "$0")/lib/lib.sh"

rounds=50
[ "${KERNEL:-}" = debug ] && rounds=20
module_loaded || fail "$(module_name) is not loaded at the start"
for i in $(seq "$rounds"); do
	module_unload || fail "unload, round $i"
	! module_loaded || fail "$(module_name) still loaded after unload, round $i"
	module_load || fail "load, round $i"
	if [ $((i % 10)) = 0 ]; then
		"$RVSADM" -Ln >/dev/null || fail "rvsadm -Ln after load, round $i"
	fi
done
log "ok: $rounds unload/load rounds"

# Per-namespace state: namespaces created while loaded, the module removed while they exist (the
# pernet exit runs for each), then loaded again (the pernet init runs for each).
for i in $(seq 10); do netns_new "rvs-lu-$i"; done
for i in $(seq 10); do
	out=$(ip netns exec "rvs-lu-$i" "$RVSADM" -L --timeout) || fail "rvsadm in namespace $i"
	assert_eq "Timeout (tcp tcpfin udp): 900 120 300" "$out" "namespace $i has its default timeouts" >/dev/null
done
module_unload || fail "unload with 10 namespaces alive"
module_load || fail "load with 10 namespaces alive"
out=$(ip netns exec rvs-lu-7 "$RVSADM" -L --timeout) || fail "rvsadm in a namespace after reload"
assert_eq "Timeout (tcp tcpfin udp): 900 120 300" "$out" "a namespace that outlived the module works after reload"
for i in $(seq 10); do ip netns del "rvs-lu-$i"; done
_netns_created=()
log "ok: 10 namespaces across an unload/load"

if [ -w /sys/kernel/debug/kmemleak ]; then
	# kmemleak reports objects unreferenced for at least 5 s, found by two scans.
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	leaks=$(cat /sys/kernel/debug/kmemleak)
	assert_eq "" "$leaks" "kmemleak reports no leak"
else
	log "(no kmemleak on this kernel: leak check left to the debug kernel run)"
fi
