#!/usr/bin/env bash
# rvs hooks LOCAL_IN, LOCAL_OUT and FORWARD at IPVS's priorities in every namespace, accepts
# all traffic for now, and can be unloaded and loaded under traffic without losing a packet.
. "$(dirname "$0")/lib/lib.sh"

netns_new rvs-a
netns_new rvs-b
ip link add veth-a netns rvs-a type veth peer name veth-b netns rvs-b || fail "veth pair"
ip -n rvs-a addr add 10.99.0.1/24 dev veth-a
ip -n rvs-b addr add 10.99.0.2/24 dev veth-b
ip -n rvs-a link set veth-a up
ip -n rvs-b link set veth-b up
ip netns exec rvs-a ping -c 1 -W 5 10.99.0.2 >/dev/null || fail "no connectivity before the test"

if [ "$MODULE" = rvs ]; then
	# nft list hooks shows every hook function with its priority.
	hooks=$(ip netns exec rvs-b nft list hooks 2>&1) || skip "nft list hooks failed: $hooks"
	# While every hook only accepts, the compiler folds the three entry points into one function,
	# so the names are not checked, only the module and the priorities.
	flat=$(printf '%s\n' "$hooks" | tr -s ' \t\n' ' ')
	fn='rvs_rs_nf_[a-z_]+ \[rvs\]'
	assert_match "hook input \\{ \\+0000000098 $fn \\+0000000099 $fn \\}" "$flat" \
		"LOCAL_IN: hooks at 98 (replies) and 99 (requests)"
	assert_match "hook forward \\{ \\+0000000099 $fn \\+0000000100 $fn \\}" "$flat" \
		"FORWARD: hooks at 99 (ICMP) and 100 (replies)"
	assert_match "hook output \\{ -0000000099 $fn -0000000098 $fn \\}" "$flat" \
		"LOCAL_OUT: hooks at -99 (replies) and -98 (requests)"
fi

# 3000 echo requests at 2 ms intervals while the module goes and comes back 10 times.
ip netns exec rvs-a ping -q -i 0.002 -c 3000 -W 2 10.99.0.2 >/tmp/rvs-ping.out 2>&1 &
pinger=$!
for i in $(seq 10); do
	module_unload || fail "unload under traffic, round $i"
	module_load || fail "load under traffic, round $i"
done
wait "$pinger"
summary=$(grep 'packets transmitted' /tmp/rvs-ping.out)
assert_match '^3000 packets transmitted, 3000 received, 0% packet loss' "$summary" \
	"no packet lost across 10 unload/load rounds"
