#!/usr/bin/env bash
# Every IPVS command needs CAP_NET_ADMIN in the initial user namespace (GENL_ADMIN_PERM): an
# unprivileged user and the root of a user namespace get EPERM, and change nothing.
. "$(dirname "$0")/lib/lib.sh"

nobody() { setpriv --reuid=65534 --regid=65534 --clear-groups -- "$@"; }

assert_eq "errno=EPERM" "$(nobody python3 "$GENL" request GET_INFO)" "GET_INFO as nobody: EPERM"
assert_eq "errno=EPERM" "$(nobody python3 "$GENL" request GET_SERVICE --dump)" "service dump as nobody: EPERM"
assert_eq "errno=EPERM" "$(nobody python3 "$GENL" request SET_CONFIG --attr 4:u32:11)" "SET_CONFIG as nobody: EPERM"
assert_eq "Timeout (tcp tcpfin udp): 900 120 300" "$("$RVSADM" -L --timeout)" "the refused SET_CONFIG changed nothing"

out=$(nobody ipvsadm -Ln 2>&1)
rc=$?
assert_eq 2 "$rc" "ipvsadm -Ln as nobody exits 2"
assert_match 'Permission denied \(you must be root\)' "$out" "ipvsadm explains the refusal"

out=$(nobody "$RVSADM" -Ln 2>&1)
rc=$?
assert_eq 1 "$rc" "rvsadm -Ln as nobody exits 1"
assert_match 'CAP_NET_ADMIN \(EPERM\)' "$out" "rvsadm names the missing capability and the errno"

# Root of a fresh user namespace with its own network namespace: CAP_NET_ADMIN there is not
# enough, IPVS checks the initial user namespace.
out=$(unshare --user --map-root-user --net python3 "$GENL" request GET_INFO)
assert_eq "errno=EPERM" "$out" "GET_INFO from a user namespace's root: EPERM"

# The sysctls of that namespace: those that cost the whole host (the estimator) are read-only for
# its root, the others writable (ip_vs_control_net_init_sysctl); in the initial user namespace
# all are writable.
modes=$(unshare --user --map-root-user --net stat -c '%n %a' \
	/proc/sys/net/ipv4/vs/run_estimation /proc/sys/net/ipv4/vs/amemthresh)
assert_eq "/proc/sys/net/ipv4/vs/run_estimation 444
/proc/sys/net/ipv4/vs/amemthresh 644" "$modes" \
	"a user namespace's network namespace: run_estimation read-only, amemthresh writable"
assert_eq "644" "$(stat -c %a /proc/sys/net/ipv4/vs/run_estimation)" \
	"run_estimation is writable in the initial namespace"
