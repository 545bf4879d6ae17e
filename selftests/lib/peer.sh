# shellcheck shell=bash
# A peer VM for the selftests with a `# peer: ipvs` header: a second machine, in-tree ip_vs on
# the release kernel, on the other end of this VM's NIC peer0 (see selftests/lib/peer.py).
# Sourced after lib.sh.
#
#   peer_up                    the management VLAN up and the peer's command server answering
#                              (skips when this VM has no peer)
#   peer CMD [ARG...]          run CMD in the peer's initial namespace (its output, its status)
#   peer_sh 'SH'               run a shell command line there (stdin: none)
#   peer_vlan VID NAME NS      a VLAN VID of the link in namespace NS of this VM, named NAME:
#                              the same VLAN on the peer's side is the other end of that segment
#   peer_ns_vlan VID NAME NS   the same on the peer's side (NS created there if needed)

PEER_PY="$RVS_ROOT/selftests/lib/peer.py"

peer_up() {
	[ -e /sys/class/net/peer0 ] ||
		skip "no peer VM: cargo xtask check gives one to a test with a '# peer:' header (by hand: make vm PEER=1)"
	ip link set peer0 up || fail "peer0 up"
	ip link add link peer0 name peer0.99 type vlan id 99 || fail "the management VLAN"
	on_exit "ip link del peer0.99 2>/dev/null; ip link set peer0 down"
	ip addr add 10.99.0.1/24 dev peer0.99 && ip link set peer0.99 up || fail "the management address"
	# The peer boots beside the test: on a loaded host that can take a minute or two.
	python3 "$PEER_PY" wait 240 || fail "the peer VM's command server does not answer"
}

peer() { python3 "$PEER_PY" call "$(printf '%q ' "$@")"; }
peer_sh() { python3 "$PEER_PY" call "$1"; }

peer_vlan() {
	ip link add link peer0 name "$2" type vlan id "$1" || fail "VLAN $1"
	ip link set "$2" netns "$3" || fail "VLAN $1 into $3"
}

peer_ns_vlan() {
	peer_sh "{ [ -e /run/netns/$3 ] || { ip netns add $3 && ip -n $3 link set lo up; }; } &&
		ip link add link peer0 name $2 type vlan id $1 && ip link set $2 netns $3" ||
		fail "the peer's VLAN $1 into its $3"
}
