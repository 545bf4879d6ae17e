# shellcheck shell=bash
# Runs one selftest inside the VM; sourced by run.sh (a list of tests) and worker.sh (tests handed
# out by the host, cargo xtask check).
#
#   run_test FILE   sets RESULT (PASS, FAIL or SKIP), SECS and OUT (what the test printed)
#
# A test also fails when the kernel log gains an oops, WARN, BUG, KASAN, lockdep or RCU report
# while it runs. A test that hangs is stopped; the instrumented debug kernel runs everything
# several times slower.
RVS_ROOT=${RVS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RUN_TEST_LIMIT=900
[ "${KERNEL:-}" = debug ] && RUN_TEST_LIMIT=1800

run_test() {
	local t=$1 before start rc splat
	before=$(dmesg | wc -l)
	start=$(date +%s)
	OUT=$(cd "$RVS_ROOT/selftests" && timeout "$RUN_TEST_LIMIT" bash "$t" 2>&1)
	rc=$?
	[ "$rc" = 124 ] && OUT+=$'\n'"  FAIL: stopped after $RUN_TEST_LIMIT s"
	SECS=$(($(date +%s) - start))
	splat=$(dmesg | tail -n +"$((before + 1))" | grep -E -A30 -f "$RVS_ROOT/qemu/splat-patterns" | head -60)
	if [ -n "$splat" ] && [ "$rc" != 1 ]; then
		rc=1
		OUT+=$'\n  FAIL: the kernel reported a problem during this test:\n'"$splat"
	fi
	case "$rc" in
	0) RESULT=PASS ;;
	4) RESULT=SKIP ;;
	*) RESULT=FAIL ;;
	esac
}
