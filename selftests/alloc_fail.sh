#!/usr/bin/env bash
# An allocation that fails on the packet path drops the packet, as IPVS does: with every atomic
# slab allocation made from the module's code failing (failslab, stack-filtered to the module),
# a datagram for a persistent service, whose connection template cannot be allocated, is dropped
# without a word (no ICMP port unreachable telling the client that no real server exists, no
# entry); once allocations work again the same client is served and its template made. The
# failures are limited to callers in the module: /proc/modules gives its address range.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

fs=/sys/kernel/debug/failslab
[ -d "$fs" ] || fail "no $fs: the test kernels have CONFIG_FAILSLAB and CONFIG_FAULT_INJECTION_DEBUG_FS"
# /proc/modules: name size refcount users state address [taint]
read -r _ size _ _ _ base _ < <(grep "^$(module_name) " /proc/modules)
[ -n "${base:-}" ] && [ "$base" != 0x0000000000000000 ] || fail "no address for $(module_name) in /proc/modules"
failslab_off() { echo 0 >"$fs/probability"; }
on_exit failslab_off

topo_nat 3
rs_udp_echo_start 53
adm -A -u "$VIP:53" -s rr -p 300 || fail "add a persistent UDP service"
for i in 1 2 3; do adm -a -u "$VIP:53" -r "$(rs_ip "$i"):53" -m || fail "add real server $i"; done
udp() { in_cl python3 "$TRAFFIC" udp "$VIP" 53 --timeout "$((2 * TOPO_SLOW))"; }

# Only allocations with a caller in the module fail, only atomic ones (those of the packet
# path), every time, quietly (a report per failure would be a kernel splat).
echo "$base" >"$fs/require-start"
printf '0x%x\n' $((base + size)) >"$fs/require-end"
echo 32 >"$fs/stacktrace-depth"
echo Y >"$fs/ignore-gfp-wait"
echo 0 >"$fs/verbose"
echo -1 >"$fs/times"
echo 0 >"$fs/interval"
echo 100 >"$fs/probability"
assert_eq "ERR:timeout" "$(udp)" "no memory for the template: the datagram is dropped, the client hears nothing"
assert_eq "" "$(conn_entries)" "ipvsadm -Lnc: no entry"
failslab_off
# rr picked rs3 for the dropped datagram before its template failed (IPVS schedules first too).
assert_eq "rs2" "$(udp)" "allocations work again: the client is served (rr: rs2, after rs3)"
assert_eq "UDP ASSURED 10.0.1.2:0 10.0.1.100:53 10.0.2.12:53" "$(conn_entries | grep '^UDP.*:0 ')" \
	"ipvsadm -Lnc: its template to rs2"
