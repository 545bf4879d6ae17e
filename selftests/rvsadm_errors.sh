#!/usr/bin/env bash
# rvsadm fails clearly: a bad command line is refused before any kernel call (exit 2, or 255 where
# ipvsadm uses it), and with no IPVS family registered it says to load the module (exit 2, as
# ipvsadm when it cannot reach IPVS).
. "$(dirname "$0")/lib/lib.sh"


expect_exit 255 "--bogus: unknown option" "unknown option" -- "$RVSADM" --bogus
expect_exit 255 "the first option must be a command" "option without command" -- "$RVSADM" -n
expect_exit 2 "invalid timeout value \`x' specified" "bad --set value" -- "$RVSADM" --set 1 x 3
expect_exit 2 "invalid option \`-C'" "two commands" -- "$RVSADM" -L -C
assert_match '^rvsadm v[0-9.]+ \(IPVS netlink ABI v1\.2\.1\)$' "$("$RVSADM" --version)" "rvsadm --version"

if [ "$MODULE" = rvs ]; then
	module_unload || fail "unload"
	expect_exit 2 'IPVS generic netlink family is not registered: load the module' "module not loaded" -- \
		"$RVSADM" -Ln
	module_load || fail "load"
else
	log "(with ip_vs, a family lookup autoloads the module: no 'not loaded' case)"
fi
"$RVSADM" -Ln >/dev/null || fail "rvsadm -Ln after the module is back"
