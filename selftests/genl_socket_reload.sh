#!/usr/bin/env bash
# A netlink socket that talked to the IPVS family, with a reply still queued, survives the
# module's removal and talks to it again after a reload.
. "$(dirname "$0")/lib/lib.sh"

out=$(python3 "$GENL" socket-survives-reload --unload "$(module_unload_cmd)" --load "$(module_load_cmd)" 2>&1) \
	|| fail "socket-survives-reload: $out"
assert_match 'after unload: errno=ENOENT' "$out" "the stale family id answers ENOENT after unload"
assert_match 'socket survived the reload' "$out" "the same socket works after reload"
module_loaded || fail "module not loaded at the end"
