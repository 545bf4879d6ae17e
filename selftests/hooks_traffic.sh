#!/usr/bin/env bash
# rvs hooks LOCAL_IN, LOCAL_OUT and FORWARD at IPVS's priorities in a namespace while it has
# services, lets other traffic through, and can be unloaded and loaded under traffic without
# losing a packet.
. "$(dirname "$0")/lib/lib.sh"

netns_new rvs-a
netns_new rvs-b
ip link add veth-a netns rvs-a type veth peer name veth-b netns rvs-b || fail "veth pair"
ip -n rvs-a addr add 10.99.0.1/24 dev veth-a
ip -n rvs-b addr add 10.99.0.2/24 dev veth-b
ip -n rvs-a link set veth-a up
ip -n rvs-b link set veth-b up
ip netns exec rvs-a ping -c 1 -W 5 10.99.0.2 >/dev/null || fail "no connectivity before the test"

# Like IPVS, the hooks are registered in a namespace only while it has a service.
hooks_of_module() {
	ip netns exec rvs-b nft list hooks 2>&1 | tr -s ' \t\n' ' '
}
# The hook functions' names (rvs's are Rust symbols, ip_vs_in_hook... for ip_vs), then the module.
fn='[^ ]+ \[(rvs|ip_vs)\]'
flat=$(hooks_of_module) || skip "nft list hooks failed: $flat"
if [[ "$flat" =~ \[(rvs|ip_vs)\] ]]; then fail "hooks registered in a namespace without services: $flat"; fi
log "ok: no hooks in a namespace without services"
ip netns exec rvs-b ipvsadm -A -t 10.99.0.2:80 -s rr || fail "add a service"
flat=$(hooks_of_module)
assert_match "hook input \\{ \\+0000000098 $fn \\+0000000099 $fn \\}" "$flat" \
	"LOCAL_IN: hooks at 98 (replies) and 99 (requests)"
assert_match "hook forward \\{ \\+0000000099 $fn \\+0000000100 $fn \\}" "$flat" \
	"FORWARD: hooks at 99 (ICMP) and 100 (replies)"
assert_match "hook output \\{ -0000000099 $fn -0000000098 $fn \\}" "$flat" \
	"LOCAL_OUT: hooks at -99 (replies) and -98 (requests)"
ip netns exec rvs-b ipvsadm -D -t 10.99.0.2:80 || fail "delete the service"
flat=$(hooks_of_module)
if [[ "$flat" =~ \[(rvs|ip_vs)\] ]]; then fail "hooks left after the last service went: $flat"; fi
log "ok: hooks gone with the last service"
# Keep a service during the load/unload rounds below so that traffic crosses the hooks.
on_exit 'ip netns exec rvs-b ipvsadm -C 2>/dev/null'

# 3000 echo requests at 2 ms intervals while the module goes and comes back 10 times.
ip netns exec rvs-a ping -q -i 0.002 -c 3000 -W 2 10.99.0.2 >/tmp/rvs-ping.out 2>&1 &
pinger=$!
for i in $(seq 10); do
	ip netns exec rvs-b ipvsadm -C
	module_unload || fail "unload under traffic, round $i"
	module_load || fail "load under traffic, round $i"
	ip netns exec rvs-b ipvsadm -A -t 10.99.0.2:80 -s rr || fail "add a service, round $i"
done
wait "$pinger"
summary=$(grep 'packets transmitted' /tmp/rvs-ping.out)
assert_match '^3000 packets transmitted, 3000 received, 0% packet loss' "$summary" \
	"no packet lost across 10 unload/load rounds"
