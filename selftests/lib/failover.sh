# shellcheck shell=bash
# The director-failover scenario of sync_failover.sh and sync_failover_mixed.sh (see their
# headers): keepalived directors with lvs_sync_daemon, held connections through a failover and a
# failback. Sourced after lib.sh, topo.sh and peer.sh, with FAILOVER_PEER empty (both directors in
# this VM, running the module under test) or 1 (the second director is the peer VM, running
# in-tree ip_vs).
command -v keepalived >/dev/null || skip "keepalived is not installed"
TOPO_N=2
SW=rvs-sw
LB2=rvs-lb2
if [ -n "$FAILOVER_PEER" ]; then
	peer_up
	for ns in "$SW" "$TOPO_CL" "$TOPO_LB" rvs-rs1 rvs-rs2; do netns_new "$ns"; done
else
	for ns in "$SW" "$TOPO_CL" "$TOPO_LB" "$LB2" rvs-rs1 rvs-rs2; do netns_new "$ns"; done
fi
# at NS CMD...: CMD in director NS, the second one in the peer VM if it has one (stdin passed).
at() {
	if [ -n "$FAILOVER_PEER" ] && [ "$1" = "$LB2" ]; then
		python3 "$PEER_PY" call --stdin "$(printf '%q ' ip netns exec "$@")"
	else
		ip netns exec "$@"
	fi
}
# The switch: one bridge for the client segment, one for the real servers'.
{
	echo "link add brc type bridge"
	echo "link add brr type bridge"
	echo "link set brc addrgenmode none up"
	echo "link set brr addrgenmode none up"
} | ip -n "$SW" -batch - || fail "bridges"
# port NS IF BRIDGE: a veth from NS (named IF) to the switch's BRIDGE.
port() {
	ip link add "$2" netns "$1" type veth peer name "$1-$2" netns "$SW" || fail "veth $1 $2"
	ip -n "$SW" link set "$1-$2" addrgenmode none master "$3" up
	ip -n "$1" link set "$2" addrgenmode none up
}
port "$TOPO_CL" eth0 brc
port "$TOPO_LB" cl0 brc
port "$TOPO_LB" rs0 brr
port rvs-rs1 eth0 brr
port rvs-rs2 eth0 brr
if [ -n "$FAILOVER_PEER" ]; then
	# The second director's segments are VLANs of the link to the peer VM: 1 joins the client
	# segment's bridge, 2 the real servers', 9 is the sync link.
	peer_vlan 1 peer-c "$SW"
	peer_vlan 2 peer-r "$SW"
	ip -n "$SW" link set peer-c addrgenmode none master brc up
	ip -n "$SW" link set peer-r addrgenmode none master brr up
	peer_vlan 9 sync0 "$TOPO_LB"
	peer_ns_vlan 1 cl0 "$LB2"
	peer_ns_vlan 2 rs0 "$LB2"
	peer_ns_vlan 9 sync0 "$LB2"
	at "$LB2" ip -batch - <<-EOF || fail "the peer's links"
		link set cl0 addrgenmode none up
		link set rs0 addrgenmode none up
	EOF
else
	port "$LB2" cl0 brc
	port "$LB2" rs0 brr
	ip link add sync0 netns "$TOPO_LB" type veth peer name sync0 netns "$LB2" || fail "sync link"
fi
ip -n "$TOPO_CL" addr add "$CLIENT_IP/24" dev eth0
for d in "$TOPO_LB:10" "$LB2:11"; do
	ns=${d%%:*} n=${d##*:}
	at "$ns" ip -batch - <<-EOF || fail "$ns addresses"
		addr add 10.0.1.$n/24 dev cl0
		addr add 10.0.2.$n/24 dev rs0
		addr add 10.0.9.$n/24 dev sync0
		link set sync0 addrgenmode none up
	EOF
	# The director is also the real servers' router: their direct-routing answers come from the
	# VIP, which is local to it.
	at "$ns" sysctl -qw net.ipv4.ip_forward=1 net.ipv4.conf.all.accept_local=1 ||
		fail "ip_forward in $ns"
done
for i in 1 2; do
	ip -n "rvs-rs$i" -batch - <<-EOF || fail "rs$i addresses"
		addr add $(rs_ip "$i")/24 dev eth0
		route add default via 10.0.2.1
		addr add $VIP/32 dev lo
	EOF
	# Direct routing: the VIP on lo, never answered for in ARP.
	ip netns exec "rvs-rs$i" sysctl -qw net.ipv4.conf.all.arp_ignore=1 net.ipv4.conf.all.arp_announce=2 ||
		fail "arp sysctls in rs$i"
done
rs_line_start 7000 7001

work=$(mktemp -d /tmp/rvs-failover.XXXXXX)
on_exit "rm -rf $work"
# keepalived NS PRIORITY [PREEMPT_DELAY]: the director's keepalived, its VRRP instance at
# PRIORITY.
keepalived_start() {
	keepalived_conf "$@" >"$work/$1.conf"
	if [ -n "$FAILOVER_PEER" ] && [ "$1" = "$LB2" ]; then
		# Its files in the peer's /tmp; it runs until the peer VM goes.
		python3 "$PEER_PY" call --stdin "cat >/tmp/$1.conf && { ip netns exec $1 keepalived \
			--dont-fork --log-console --use-file=/tmp/$1.conf --pid=/tmp/$1.pid \
			--vrrp_pid=/tmp/$1.vrrp.pid --checkers_pid=/tmp/$1.check.pid \
			>>/tmp/$1.log 2>&1 </dev/null & }" <"$work/$1.conf" || fail "keepalived in the peer"
		return
	fi
	ip netns exec "$1" keepalived --dont-fork --log-console --use-file="$work/$1.conf" \
		--pid="$work/$1.pid" --vrrp_pid="$work/$1.vrrp.pid" --checkers_pid="$work/$1.check.pid" \
		>>"$work/$1.log" 2>&1 &
	eval "ka_$(echo "$1" | tr -c 'a-z0-9\n' _)=$!"
	_topo_pids+=($!)
}
keepalived_conf() {
	cat <<-CONF
		global_defs {
		    router_id $1
		    lvs_sync_daemon sync0 VI_1 id 7
		}
		vrrp_instance VI_1 {
		    state BACKUP
		    interface cl0
		    virtual_router_id 51
		    priority $2
		    advert_int 1
		    preempt_delay ${3:-0}
		    virtual_ipaddress {
		        $VIP/32 dev cl0
		        10.0.2.1/24 dev rs0
		    }
		}
		virtual_server $VIP 7000 {
		    lb_algo rr
		    lb_kind NAT
		    protocol TCP
		    persistence_timeout 600
		    real_server $(rs_ip 1) 7000 {
		        weight 1
		    }
		    real_server $(rs_ip 2) 7000 {
		        weight 1
		    }
		}
		virtual_server $VIP 7001 {
		    lb_algo rr
		    lb_kind DR
		    protocol TCP
		    real_server $(rs_ip 1) 7001 {
		        weight 1
		    }
		    real_server $(rs_ip 2) 7001 {
		        weight 1
		    }
		}
	CONF
}
has_vip() { at "$1" ip -4 addr show dev cl0 </dev/null | grep -q "$VIP/32"; }
daemons() { at "$1" ipvsadm -L --daemon </dev/null | awk '{ print $1 }' | tr '\n' ' '; }
show_logs() {
	for f in "$work"/*.log; do echo "== $f"; tail -20 "$f"; done
	[ -z "$FAILOVER_PEER" ] || { echo "== the peer's $LB2.log"; peer_sh "tail -20 /tmp/$LB2.log"; }
}

# reannounce: the second director re-announces (rvs, not in the peer VM).
reannounce=
if [ "$MODULE" = rvs ]; then
	ip netns exec "$TOPO_LB" sysctl -qw net.ipv4.vs.sync_reannounce_period=2 || fail "sync_reannounce_period"
	if [ -z "$FAILOVER_PEER" ]; then
		reannounce=1
		ip netns exec "$LB2" sysctl -qw net.ipv4.vs.sync_reannounce_period=2 || fail "sync_reannounce_period"
	fi
fi
keepalived_start "$TOPO_LB" 150
keepalived_start "$LB2" 100
poll_until 20 has_vip "$TOPO_LB" || { show_logs; fail "the first director did not become VRRP master"; }
poll_eq "master " "the first director runs the sync master" 10 daemons "$TOPO_LB"
poll_eq "backup " "the second director runs the sync backup" 10 daemons "$LB2"
has_vip "$LB2" && fail "both directors have the VIP"

# Held connections through the first director: NAT (persistent service: its template too)
# and DR.
hold_start 7000
opened=$(hold_cmd open)
assert_match '^open 0 rs[12]$' "$opened" "a held NAT connection through the first director"
rs=${opened##* }
opened=$(hold_cmd 'open 7001')
assert_match '^open 1 rs[12]$' "$opened" "a held DR connection through the first director"
rs_dr=${opened##* }
for i in 1 2 3; do
	assert_eq "ping $rs $rs_dr" "$(hold_cmd ping)" "ping $i through the first director"
done
synced() { at "$LB2" ipvsadm -Lnc </dev/null | awk -v c="$CLIENT_IP" 'index($4, c ":") == 1 { print $1, $3 }' | sort | tr '\n' ' '; }
poll_eq "TCP ASSURED TCP ESTABLISHED TCP ESTABLISHED " \
	"the second director has the connections and the template" 10 synced

# Failover: the first director's keepalived stops (its VRRP instance leaves with priority 0).
start=$(date +%s%N)
kill "$ka_rvs_lb"
poll_until 20 has_vip "$LB2" || { show_logs; fail "the second director did not take the VIP"; }
assert_eq "ping $rs $rs_dr" "$(hold_cmd ping)" "the held connections answer through the second director"
took=$((($(date +%s%N) - start) / 1000000))
log "from the stop to the first answer through the new master: $took ms"
for i in 1 2 3; do assert_eq "ping $rs $rs_dr" "$(hold_cmd ping)" "ping $i after the failover"; done
assert_eq "open 2 $rs" "$(hold_cmd open)" "the persistent client's new connection: the same real server"
poll_eq "master " "the second director's sync daemon turned master" 10 daemons "$LB2"
assert_match "ESTABLISHED" "$(at "$LB2" ipvsadm -Lnc </dev/null)" "the second director's table"
assert_eq "0" "$(grep -ci "rst\|reset" "$TOPO_DIR/hold.err")" "no reset seen by the client"

# Failback: the first director's keepalived starts again, and stays a VRRP backup for 10 s
# (preempt_delay) with its sync daemon a backup.
wait "$ka_rvs_lb" 2>/dev/null
keepalived_start "$TOPO_LB" 150 10
poll_eq "backup " "the restarted first director runs the sync backup" 10 daemons "$TOPO_LB"
has_vip "$TOPO_LB" && fail "the restarted first director took the VIP before its preempt_delay"
# Connection 2 stays idle from here on: with ip_vs it is closed.
[ -n "$reannounce" ] || assert_eq "closed 2" "$(hold_cmd 'close 2')" "the connection that would not be synced is closed"
assert_eq "open 3 $rs" "$(hold_cmd open)" "the persistent client's connection through the second director"
for i in 1 2 3; do
	assert_eq "ping $rs $rs_dr $rs" "$(hold_cmd 'ping 0') $(hold_cmd 'ping 1' | cut -d' ' -f2) $(hold_cmd 'ping 3' | cut -d' ' -f2)" \
		"ping $i through the second director"
done
# synced_back I: "PROTO STATE" of held connection I on the first director.
synced_back() {
	local port
	port=$(hold_cmd "port $1")
	ip netns exec "$TOPO_LB" ipvsadm -Lnc | awk -v c="$CLIENT_IP:${port##* }" '$4 == c { print $1, $3 }'
}
poll_eq "TCP ESTABLISHED" "the first director learns the connection opened through the second" 10 synced_back 3
# held: what a ping of every held connection answers.
held="$rs $rs_dr $rs"
if [ -n "$reannounce" ]; then
	poll_eq "TCP ESTABLISHED" "the first director learns the idle connection from the re-announcing pass" 10 synced_back 2
	held="$rs $rs_dr $rs $rs"
fi
poll_until 30 has_vip "$TOPO_LB" || { show_logs; fail "the first director did not take the VIP back"; }
start=$(date +%s%N)
assert_eq "ping $held" "$(hold_cmd ping)" "the held connections answer through the first director again"
took=$((($(date +%s%N) - start) / 1000000))
log "from the VIP back on the first director to the first answer through it: $took ms"
for i in 1 2 3; do assert_eq "ping $held" "$(hold_cmd ping)" "ping $i after the failback"; done
assert_eq "open 4 $rs" "$(hold_cmd open)" "the persistent client's new connection after the failback: the same real server"
poll_eq "master " "the first director's sync daemon is master again" 10 daemons "$TOPO_LB"
poll_eq "backup " "the second director's sync daemon is backup again" 10 daemons "$LB2"
has_vip "$LB2" && fail "the second director kept the VIP"
assert_eq "0" "$(grep -ci "rst\|reset" "$TOPO_DIR/hold.err")" "no reset seen by the client"
