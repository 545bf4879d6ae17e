#!/usr/bin/env bash
# Runs the selftests inside the VM: every selftests/*.sh (or the ones named), one PASS/FAIL/SKIP
# line each, and a last line `N passed, N failed`. A test also fails when the kernel log gains an
# oops, WARN, BUG, KASAN, lockdep or RCU report while it runs.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
export RVS_ROOT=${RVS_ROOT:-$(cd "$here/.." && pwd)}


if [ $# -gt 0 ]; then tests=("$@"); else tests=("$here"/*.sh); fi
passed=0 failed=0 skipped=0
# A test that hangs is stopped; the instrumented debug kernel runs everything several times slower.
limit=900
[ "${KERNEL:-}" = debug ] && limit=1800
for t in "${tests[@]}"; do
	name=$(basename "$t" .sh)
	before=$(dmesg | wc -l)
	start=$(date +%s)
	out=$(cd "$here" && timeout "$limit" bash "$t" 2>&1)
	rc=$?
	[ "$rc" = 124 ] && out+=$'\n'"  FAIL: stopped after $limit s"
	secs=$(( $(date +%s) - start ))
	splat=$(dmesg | tail -n +"$((before + 1))" | grep -E -A30 -f "$RVS_ROOT/qemu/splat-patterns" | head -60)
	if [ -n "$splat" ] && [ "$rc" != 1 ]; then
		rc=1
		out+=$'\n  FAIL: the kernel reported a problem during this test:\n'"$splat"
	fi
	case "$rc" in
	0) result=PASS; passed=$((passed + 1)) ;;
	4) result=SKIP; skipped=$((skipped + 1)) ;;
	*) result=FAIL; failed=$((failed + 1)) ;;
	esac
	printf '%s: %s [%s, %s kernel, %ss]\n' "$result" "$name" "$MODULE" "${KERNEL:-?}" "$secs"
	if [ "$result" != PASS ] || [ "${RVS_VERBOSE:-0}" = 1 ]; then
		printf '%s\n' "$out"
	fi
done
printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" = 0 ]
