#!/usr/bin/env bash
# A selftest worker inside the VM (cargo xtask check): runs the tests the host hands out, one at a
# time, until it is told to stop. The host writes job N as the file $RVS_RUN/jobs/N (a selftest's
# file name, or "exit"); the worker writes the test's output to $RVS_RUN/results/N.log and then
# "RESULT SECS" to $RVS_RUN/results/N.done. Before each test the module under test is loaded
# again if a previous test left it unloaded.
set -u
here=$(cd "$(dirname "$0")/.." && pwd)
export RVS_ROOT=${RVS_ROOT:-$(cd "$here/.." && pwd)}
. "$here/lib/runner.sh"

jobs=$RVS_RUN/jobs results=$RVS_RUN/results
mkdir -p "$results"
n=1
while :; do
	until [ -e "$jobs/$n" ]; do sleep 0.2; done
	read -r test <"$jobs/$n"
	[ "$test" = exit ] && break
	case "$MODULE" in
	rvs) grep -q '^rvs ' /proc/modules || insmod "$RVS_KO" ;;
	ipvs) grep -q '^ip_vs ' /proc/modules || modprobe ip_vs ;;
	esac
	run_test "$test"
	printf '%s\n' "$OUT" >"$results/$n.log"
	echo "$RESULT $SECS" >"$results/$n.tmp"
	mv "$results/$n.tmp" "$results/$n.done"
	n=$((n + 1))
done
