#!/usr/bin/env bash
# Services, /proc/net/ip_vs* and /proc/sys/net/ipv4/vs/* are per network namespace; namespaces
# deleted with services still configured free everything (kmemleak, on the debug kernel).
. "$(dirname "$0")/lib/lib.sh"

in_ns() { ip netns exec "$@"; }
for i in 1 2 3; do
	netns_new "rvs-ns$i"
	in_ns "rvs-ns$i" ipvsadm -A -t "10.0.0.$i:80" -s rr || fail "service in namespace $i"
	in_ns "rvs-ns$i" ipvsadm -a -t "10.0.0.$i:80" -r "192.168.0.$i:80" -m -w "$i" || fail "dest in namespace $i"
done
for i in 1 2 3; do
	assert_eq "-A -t 10.0.0.$i:80 -s rr
-a -t 10.0.0.$i:80 -r 192.168.0.$i:80 -m -w $i" "$(in_ns "rvs-ns$i" ipvsadm -S -n)" "namespace $i sees only its own service"
done
assert_eq "" "$(ipvsadm -S -n)" "the root namespace has none of them"
assert_match 'TCP  0A000002:0050 rr' "$(in_ns rvs-ns2 cat /proc/net/ip_vs)" "/proc/net/ip_vs is per namespace"
assert_eq 3 "$(wc -l </proc/net/ip_vs)" "/proc/net/ip_vs of the root namespace has only the header"

# Sysctls: present with IPVS's defaults, per namespace, refusing IPVS's invalid values.
sysctls="amemthresh=1024 am_droprate=10 drop_entry=0 drop_packet=0 secure_tcp=0 snat_reroute=1 cache_bypass=0
expire_nodest_conn=0 sloppy_tcp=0 sloppy_sctp=0 expire_quiescent_template=0 pmtu_disc=1
conn_reuse_mode=1 schedule_icmp=0 ignore_tunneled=0 run_estimation=1"
for kv in $sysctls; do
	assert_eq "${kv#*=}" "$(<"/proc/sys/net/ipv4/vs/${kv%%=*}")" "sysctl ${kv%%=*} defaults to ${kv#*=}" >/dev/null
done
log "ok: 16 sysctls with IPVS's defaults"
in_ns rvs-ns1 sh -c 'echo 1 > /proc/sys/net/ipv4/vs/expire_nodest_conn' || fail "write a sysctl in a namespace"
assert_eq 1 "$(in_ns rvs-ns1 cat /proc/sys/net/ipv4/vs/expire_nodest_conn)" "the namespace's sysctl changed"
assert_eq 0 "$(cat /proc/sys/net/ipv4/vs/expire_nodest_conn)" "the root namespace's did not"
out=$(bash -c 'echo 4 > /proc/sys/net/ipv4/vs/drop_entry' 2>&1)
assert_match 'Invalid argument' "$out" "drop_entry=4 is refused (EINVAL)"
echo 3 >/proc/sys/net/ipv4/vs/drop_entry || fail "drop_entry=3"
assert_eq 3 "$(cat /proc/sys/net/ipv4/vs/drop_entry)" "drop_entry=3 is accepted"
echo 0 >/proc/sys/net/ipv4/vs/drop_entry

# Namespaces deleted while their services exist: 20 rounds (8 on the debug kernel, where a
# namespace takes seconds to come and go and kmemleak checks what the rounds leave).
rounds=20
[ "${KERNEL:-}" = debug ] && rounds=8
for i in $(seq "$rounds"); do
	ip netns add rvs-churn || fail "netns add, round $i"
	ip -n rvs-churn link set lo up
	ip netns exec rvs-churn ipvsadm -A -u 10.9.0.1:53 -s wlc || fail "service, round $i"
	ip netns exec rvs-churn ipvsadm -a -u 10.9.0.1:53 -r 10.9.1.1 -m || fail "dest, round $i"
	ip netns del rvs-churn
done
log "ok: $rounds namespaces deleted with their services"
for i in 1 2 3; do ip netns del "rvs-ns$i"; done
_netns_created=()

if [ -w /sys/kernel/debug/kmemleak ]; then
	sleep 2 # namespace cleanup runs in a workqueue
	echo scan >/sys/kernel/debug/kmemleak
	sleep 6
	echo scan >/sys/kernel/debug/kmemleak
	assert_eq "" "$(cat /sys/kernel/debug/kmemleak)" "kmemleak reports no leak"
fi
