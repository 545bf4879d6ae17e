# shellcheck shell=bash
# Helpers for the selftests. Sourced by every selftests/*.sh, which run as root inside the VM
# (cargo xtask vm, cargo xtask check) with MODULE=rvs or MODULE=ipvs telling which implementation is under test.
#
# A test prints what it checks, exits 0 on success, 1 on failure and 4 to skip; it cleans up after
# itself (namespaces are deleted by the EXIT trap), whatever the outcome.

set -u
RVS_ROOT=${RVS_ROOT:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)}
RVSADM="$RVS_ROOT/target/release/rvsadm"
GENL="$RVS_ROOT/selftests/lib/genl.py"
MODULE=${MODULE:-rvs}
KSFT_SKIP=4

_netns_created=()
_cleanup_hooks=()

_cleanup() {
	local hook ns
	for hook in "${_cleanup_hooks[@]}"; do eval "$hook" || true; done
	for ns in "${_netns_created[@]}"; do ip netns del "$ns" 2>/dev/null || true; done
}
trap _cleanup EXIT

# on_exit CMD: run CMD when the test ends.
on_exit() { _cleanup_hooks+=("$1"); }

log() { printf '  %s\n' "$*"; }
fail() { printf '  FAIL: %s\n' "$*"; exit 1; }
skip() { printf '  SKIP: %s\n' "$*"; exit "$KSFT_SKIP"; }

# assert_eq EXPECTED ACTUAL WHAT
assert_eq() {
	if [ "$1" != "$2" ]; then
		printf '  FAIL: %s\n    expected: %q\n    actual:   %q\n' "$3" "$1" "$2"
		exit 1
	fi
	log "ok: $3"
}

# assert_match REGEX ACTUAL WHAT
assert_match() {
	if ! [[ "$2" =~ $1 ]]; then
		printf '  FAIL: %s\n    expected to match: %s\n    actual: %q\n' "$3" "$1" "$2"
		exit 1
	fi
	log "ok: $3"
}

# expect_exit CODE REGEX WHAT -- CMD...: CMD exits with CODE and prints something matching REGEX.
expect_exit() {
	local code=$1 re=$2 what=$3 out rc
	shift 4
	out=$("$@" 2>&1)
	rc=$?
	assert_eq "$code" "$rc" "$what: exit code"
	assert_match "$re" "$out" "$what: message"
}

# The implementation under test, loaded and unloaded the same way for rvs and ip_vs.
module_name() { [ "$MODULE" = ipvs ] && echo ip_vs || echo rvs; }
module_loaded() { grep -q "^$(module_name) " /proc/modules; }
module_load() {
	if [ "$MODULE" = ipvs ]; then modprobe ip_vs "$@"; else insmod "$RVS_KO" "$@"; fi
}
module_unload() { $(module_unload_cmd); }
# The shell commands for the above, for helpers that run them (genl.py).
module_load_cmd() { [ "$MODULE" = ipvs ] && echo "modprobe ip_vs" || echo "insmod $RVS_KO"; }
module_unload_cmd() { [ "$MODULE" = ipvs ] && echo "$RVS_ROOT/selftests/lib/unload-ipvs.sh" || echo "rmmod rvs"; }

# netns_new NAME: a fresh namespace with lo up, deleted at exit.
netns_new() {
	ip netns add "$1" || fail "ip netns add $1"
	_netns_created+=("$1")
	ip -n "$1" link set lo up
}

# The exact header that ipvsadm -Ln prints for an empty table of SIZE buckets.
ipvs_empty_listing() {
	printf 'IP Virtual Server version 1.2.1 (size=%s)\n' "$1"
	printf 'Prot LocalAddress:Port Scheduler Flags\n'
	printf '  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n'
}
