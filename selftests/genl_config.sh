#!/usr/bin/env bash
# IPVS_CMD_GET_CONFIG / SET_CONFIG: the TCP, TCP FIN and UDP timeouts, per namespace, with
# ipvsadm's and rvsadm's --set and --timeout, and IPVS's errors for out-of-range values.
. "$(dirname "$0")/lib/lib.sh"

timeouts() { "$@" -L --timeout; }
line() { printf 'Timeout (tcp tcpfin udp): %s %s %s' "$1" "$2" "$3"; }

assert_eq "$(line 900 120 300)" "$(timeouts ipvsadm)" "defaults, read by ipvsadm"
assert_eq "$(line 900 120 300)" "$(timeouts "$RVSADM")" "defaults, read by rvsadm"
ipvsadm --set 100 20 30 || fail "ipvsadm --set 100 20 30"
assert_eq "$(line 100 20 30)" "$(timeouts "$RVSADM")" "ipvsadm --set, read by rvsadm"
ipvsadm --set 0 0 40 || fail "ipvsadm --set 0 0 40"
assert_eq "$(line 100 20 40)" "$(timeouts ipvsadm)" "0 keeps a timeout"
"$RVSADM" --set 7 8 9 || fail "rvsadm --set 7 8 9"
assert_eq "$(line 7 8 9)" "$(timeouts ipvsadm)" "rvsadm --set, read by ipvsadm"

# The raw reply: cmd SET_CONFIG (12) with the three u32 attributes.
assert_eq $'errno=0\nmsg cmd=12 4=07000000 5=08000000 6=09000000' "$(python3 "$GENL" request GET_CONFIG)" \
	"GET_CONFIG reply attributes"

# Per namespace: a new namespace starts from the defaults and its changes stay inside it.
netns_new rvs-cfg
assert_eq "$(line 900 120 300)" "$(ip netns exec rvs-cfg ipvsadm -L --timeout)" "a new namespace has the defaults"
ip netns exec rvs-cfg ipvsadm --set 1 2 3 || fail "--set in the namespace"
assert_eq "$(line 7 8 9)" "$(timeouts ipvsadm)" "the namespace's --set did not leak out"

# Out of range (> INT_MAX / HZ, or negative as an int): EINVAL, and nothing changes.
assert_eq "errno=EINVAL" "$(python3 "$GENL" request SET_CONFIG --attr 4:u32:2147483647)" "TCP timeout INT_MAX: EINVAL"
assert_eq "errno=EINVAL" "$(python3 "$GENL" request SET_CONFIG --attr 4:u32:5 --attr 6:u32:4294967295)" \
	"UDP timeout -1: EINVAL"
assert_eq "$(line 7 8 9)" "$(timeouts ipvsadm)" "a refused SET_CONFIG changes nothing, not even its valid part"

# Malformed: a 2-byte u32 is refused by the family's attribute policy.
assert_eq "errno=ERANGE" "$(python3 "$GENL" request SET_CONFIG --attr 4:hex:0100)" "short TIMEOUT_TCP: ERANGE"
assert_eq "$(line 7 8 9)" "$(timeouts ipvsadm)" "the malformed request changed nothing"
ipvsadm --set 900 120 300
