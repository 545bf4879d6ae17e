#!/usr/bin/env bash
# The demo (make demo), run inside the VM with rvs.ko loaded: a load-balanced web cluster. A client,
# a director and three web servers live in network namespaces (selftests/lib/topo.sh); rvsadm
# configures a NAT virtual service on the director, and the client's requests are spread over the
# servers by round robin, then by weight.
#
# ADM picks the admin tool (default: rvsadm; ipvsadm speaks the same netlink ABI). To watch the
# same demo against in-tree IPVS:
#   cargo xtask vm --module ipvs -- 'ADM=ipvsadm qemu/demo.sh'
set -u
. "$(dirname "$0")/../selftests/lib/lib.sh"
. "$RVS_ROOT/selftests/lib/topo.sh"
ADM=${ADM:-$RVSADM}
adm_name=${ADM##*/}
requests=${DEMO_REQUESTS:-30}

step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { local shown="$*"; printf '$ %s\n' "${shown//$ADM/$adm_name}"; "$@"; }
# on WHERE CMD...: show and run CMD in the client's or the director's namespace.
on() {
	local where=$1 ns shown
	shift
	case "$where" in client) ns=$TOPO_CL ;; director) ns=$TOPO_LB ;; esac
	shown="$*"
	printf '%s$ %s\n' "$where" "${shown//$ADM/$adm_name}"
	ip netns exec "$ns" "$@"
}
# tally: how many of the answers on stdin (one server name a line) each server gave.
tally() { sort | uniq -c | awk '{ printf "  %s answered %2d requests\n", $2, $1 }'; }

step "the guest kernel $(uname -r) with $(module_name) loaded"
show grep -E "^$(module_name) " /proc/modules
[ "$MODULE" = rvs ] && show modinfo -F description "$RVS_KO"

step "a client, a director and three web servers, each in its own network namespace"
topo_nat 3
rs_http_start 80
cat <<EOF
  client  10.0.1.2 ---- 10.0.1.1 director 10.0.2.1 ---- rs1 10.0.2.11
                        VIP 10.0.1.100              +-- rs2 10.0.2.12
                                                    +-- rs3 10.0.2.13
  Each real server runs a small web server that answers with its own name. The client has no
  route to 10.0.2.0/24: it can only reach the servers through the VIP.
EOF
on director ip -br addr show
on client curl -sS -m 5 http://10.0.2.11/

step "a virtual service on the director: VIP 10.0.1.100:80, round robin, NAT (-m) to the servers"
on director "$ADM" -A -t 10.0.1.100:80 -s rr
for i in 1 2 3; do on director "$ADM" -a -t 10.0.1.100:80 -r "10.0.2.1$i:80" -m; done
on director "$ADM" -Ln

step "HTTP requests from the client to the VIP, one connection each"
on client curl -sS http://10.0.1.100/
echo "  ... and $requests more (one curl, a new connection each):"
client_http "$requests" | tally

step "weighted round robin: weights 3, 2, 1"
on director "$ADM" -E -t 10.0.1.100:80 -s wrr
for i in 1 2 3; do on director "$ADM" -e -t 10.0.1.100:80 -r "10.0.2.1$i:80" -m -w $((4 - i)); done
echo "  $requests requests:"
client_http "$requests" | tally

step "what the director counted"
# ip_vs refreshes its counters every 2 s: wait until all connections are in.
counted() { [ "$(dest_stats -t 10.0.1.100:80 | awk 'NR == 1 { print $2 }')" = $((2 * requests + 1)) ]; }
poll_until 10 counted
on director "$ADM" -Ln --stats
on director "$ADM" -Ln
echo "  (closed connections wait in TIME_WAIT: InActConn)"
on director "$ADM" -Lnc | head -n 7
echo "  ... $(adm -Lnc | tail -n +3 | wc -l) connection entries in all"

step "the director's netfilter hooks, at IPVS's points and priorities"
printf '%s$ nft list hooks\n' director
in_lb nft list hooks 2>/dev/null | grep -E 'hook (input|output|forward)|rvs_|ip_vs' |
	sed -E 's/^/  /; s/rvs_rs_nf_[a-z_]+/rvs hook/'

step "state is per network namespace: the host's own namespace has no service"
show "$ADM" -Ln

step "without CAP_NET_ADMIN the answer is EPERM, as with ip_vs"
show setpriv --reuid=65534 --regid=65534 --clear-groups -- "$ADM" -Ln

step "tear down: the service, the namespaces, then the module"
on director "$ADM" -C
on director "$ADM" -Ln
printf '$ ip netns del %s\n' "$TOPO_CL" "$TOPO_LB" rvs-rs1 rvs-rs2 rvs-rs3
topo_teardown
if [ "$MODULE" = ipvs ]; then
	show "$RVS_ROOT/selftests/lib/unload-ipvs.sh"
else
	show rmmod rvs
fi
show grep -c -E "^$(module_name) " /proc/modules
echo
echo "demo done"
