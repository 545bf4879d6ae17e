#!/usr/bin/env bash
# make check: every test. Host tests and lint first, then the selftests in the VM against rvs on
# the release and the debug kernel and against in-tree ip_vs (which proves the expectations).
# Ends with one line `N passed, N failed` that sums everything.
set -uo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
cd "$root"
export PATH="$HOME/.cargo/bin:$PATH"

passed=0 failed=0
tally() { passed=$((passed + $1)); failed=$((failed + $2)); }
log=$(mktemp -d /tmp/rvs-check.XXXXXX)

echo "== host tests (cargo test)"
if selftests/lib/host-test.sh >"$log/host.txt" 2>&1; then host_ok=1; else host_ok=0; fi
grep -E '^test result:|FAILED|panicked' "$log/host.txt"
while read -r p f; do tally "$p" "$f"; done < <(
	sed -nE 's/^test result: [a-zA-Z]+\. ([0-9]+) passed; ([0-9]+) failed.*/\1 \2/p' "$log/host.txt")
if [ "$host_ok" = 0 ] && ! grep -q '^test result: FAILED' "$log/host.txt"; then
	tail -30 "$log/host.txt"
	echo "FAIL: host tests did not build"
	tally 0 1
fi

echo "== lint (rustfmt, clippy)"
if selftests/lib/lint.sh >"$log/lint.txt" 2>&1; then
	echo "PASS: lint"
	tally 1 0
else
	cat "$log/lint.txt"
	echo "FAIL: lint"
	tally 0 1
fi

# The runner itself: it returns CMD's status, and fails a run whose kernel warned (LKDTM's WARNING
# on the debug kernel), even when CMD succeeded.
echo "== VM runner"
qemu/run-vm.sh --module none -- 'exit 3' >"$log/runner-rc.txt" 2>&1
if [ "$?" = 3 ]; then echo "PASS: runner returns the command's exit status"; tally 1 0
else cat "$log/runner-rc.txt"; echo "FAIL: runner returns the command's exit status"; tally 0 1; fi
qemu/run-vm.sh --kernel debug --module none -- \
	'modprobe lkdtm && echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT' >"$log/runner-warn.txt" 2>&1
rc=$?
if [ "$rc" != 0 ] && grep -q 'the guest kernel reported problems' "$log/runner-warn.txt" \
	&& grep -q 'WARNING:' "$log/runner-warn.txt"; then
	echo "PASS: runner fails a run on a kernel WARN and prints it"; tally 1 0
else
	cat "$log/runner-warn.txt"; echo "FAIL: runner fails a run on a kernel WARN (rc=$rc)"; tally 0 1
fi

# Each VM run prints its own PASS/FAIL lines and `N passed, N failed, N skipped`; a run that dies
# (panic, timeout) or whose kernel log shows a problem after the tests counts as one failure more.
# The debug kernel's VMs have one vCPU each and are the long pole (its 30 selftests take about 80
# minutes under TCG+KASAN): the first runs most of them beside the two release runs, which share
# the other core; the second runs the longest six on that core once the release runs are done.
# Their output is shown when they are done.
vm_run() {
	local name=$1 kernel=$2 module=$3
	shift 3
	qemu/run-vm.sh --kernel "$kernel" --module "$module" --timeout 4800 -- selftests/lib/run.sh "$@" \
		>"$log/vm-$name.txt" 2>&1
	echo $? >"$log/vm-$name.rc"
}
vm_tally() {
	local name=$1 rc summary p f
	echo "== selftests in the VM: $name"
	cat "$log/vm-$name.txt"
	rc=$(cat "$log/vm-$name.rc")
	summary=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$log/vm-$name.txt" | tail -n 1)
	f=0
	if [ -n "$summary" ]; then
		read -r p _ f _ <<<"$summary"
		f=${f%,}
		tally "$p" "$f"
	fi
	if [ "$rc" != 0 ] && { [ -z "$summary" ] || [ "$f" = 0 ]; }; then
		echo "FAIL: VM run ($name) exited $rc"
		tally 0 1
	fi
}
debug_late=(nat_10k.sh module_load_unload.sh sched_all.sh nat_dest_removal.sh cache_cluster.sh
	tun_gue_gre.sh)
debug_early=()
for t in selftests/*.sh; do
	[[ " ${debug_late[*]} " == *" ${t##*/} "* ]] || debug_early+=("${t##*/}")
done
# rvs.ko is built in the source tree for one kernel at a time: the release run starts once the
# debug run has its copy of the module (it says "vm: booting" then).
vm_run "rvs, debug kernel part 1" debug rvs "${debug_early[@]}" &
debug_pid=$!
for _ in $(seq 600); do
	grep -q '^vm: booting' "$log/vm-rvs, debug kernel part 1.txt" 2>/dev/null && break
	kill -0 "$debug_pid" 2>/dev/null || break
	sleep 1
done
echo "== (the debug kernel's selftests run in the background)"
vm_run "rvs, release kernel" release rvs
vm_tally "rvs, release kernel"
vm_run "ip_vs, release kernel" release ipvs
vm_tally "ip_vs, release kernel"
vm_run "rvs, debug kernel part 2" debug rvs "${debug_late[@]}"
wait "$debug_pid"
vm_tally "rvs, debug kernel part 1"
vm_tally "rvs, debug kernel part 2"

rm -rf "$log"
echo "$passed passed, $failed failed"
[ "$failed" = 0 ]
