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
	flat=$(printf '%s\n' "$hooks" | tr -s ' \t' ' ')
	assert_match 'hook input \{[^}]*\+0000000098 rvs_rs_nf_out \[rvs\][^}]*\+0000000099 rvs_rs_nf_in \[rvs\]' \
		"$(printf '%s' "$flat" | tr '\n' ' ')" "LOCAL_IN: reply hook at 98, request hook at 99"
	assert_match 'hook output \{[^}]*-0000000099 rvs_rs_nf_out \[rvs\][^}]*-0000000098 rvs_rs_nf_in \[rvs\]' \
		"$(printf '%s' "$flat" | tr '\n' ' ')" "LOCAL_OUT: reply hook at -99, request hook at -98"
	assert_match 'hook forward \{[^}]*\+0000000099 rvs_rs_nf_forward_icmp \[rvs\][^}]*\+0000000100 rvs_rs_nf_out \[rvs\]' \
		"$(printf '%s' "$flat" | tr '\n' ' ')" "FORWARD: ICMP hook at 99, reply hook at 100"
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
