#!/usr/bin/env bash
# Runs the selftests inside the VM: every selftests/*.sh (or the ones named), one PASS/FAIL/SKIP
# line each, and a last line `N passed, N failed, N skipped`. For one test by hand:
#   cargo xtask vm -- selftests/lib/run.sh nat_rr_wrr.sh
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
export RVS_ROOT=${RVS_ROOT:-$(cd "$here/.." && pwd)}
. "$here/lib/runner.sh"

if [ $# -gt 0 ]; then tests=("$@"); else tests=("$here"/*.sh); fi
passed=0 failed=0 skipped=0
for t in "${tests[@]}"; do
	run_test "$t"
	case "$RESULT" in
	PASS) passed=$((passed + 1)) ;;
	SKIP) skipped=$((skipped + 1)) ;;
	*) failed=$((failed + 1)) ;;
	esac
	printf '%s: %s [%s, %s kernel, %ss]\n' "$RESULT" "$(basename "$t" .sh)" "$MODULE" "${KERNEL:-?}" "$SECS"
	if [ "$RESULT" != PASS ] || [ "${RVS_VERBOSE:-0}" = 1 ]; then
		printf '%s\n' "$OUT"
	fi
done
printf '%d passed, %d failed, %d skipped\n' "$passed" "$failed" "$skipped"
[ "$failed" = 0 ]
