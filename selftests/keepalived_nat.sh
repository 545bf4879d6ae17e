#!/usr/bin/env bash
# Unmodified keepalived configures a NAT virtual server with TCP_CHECK real servers through the
# module: the service and both real servers appear, a real server that stops answering is removed
# and comes back when it answers again, and keepalived removes everything when it stops.
. "$(dirname "$0")/lib/lib.sh"

command -v keepalived >/dev/null || skip "keepalived is not installed"
netns_new rvs-ka-dir
for i in 1 2; do
	netns_new "rvs-ka-rs$i"
	ip link add "ka-d$i" netns rvs-ka-dir type veth peer name eth0 netns "rvs-ka-rs$i" || fail "veth $i"
	ip -n rvs-ka-dir addr add "192.168.1$i.1/24" dev "ka-d$i"
	ip -n rvs-ka-dir link set "ka-d$i" up
	ip -n "rvs-ka-rs$i" addr add "192.168.1$i.2/24" dev eth0
	ip -n "rvs-ka-rs$i" link set eth0 up
done

serve() { # start real server $1's listener
	ip netns exec "rvs-ka-rs$1" socat -T 2 "TCP-LISTEN:8080,fork,reuseaddr" "SYSTEM:echo rs$1" >/dev/null 2>&1 &
	eval "rs_pid_$1=$!"
}
serve 1
serve 2
on_exit 'kill $rs_pid_1 $rs_pid_2 2>/dev/null'

work=$(mktemp -d /tmp/rvs-ka.XXXXXX)
cat >"$work/keepalived.conf" <<CONF
global_defs {
    router_id rvs_selftest
}
virtual_server 10.10.0.1 80 {
    delay_loop 1
    lb_algo rr
    lb_kind NAT
    protocol TCP
    real_server 192.168.11.2 8080 {
        weight 2
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
    real_server 192.168.12.2 8080 {
        weight 1
        TCP_CHECK {
            connect_timeout 1
            retry 1
            delay_before_retry 1
        }
    }
}
CONF
ip netns exec rvs-ka-dir keepalived --dont-fork --check --use-file="$work/keepalived.conf" \
	--pid="$work/ka.pid" --checkers_pid="$work/ka-check.pid" >"$work/keepalived.log" 2>&1 &
ka=$!
on_exit "kill $ka 2>/dev/null; sleep 1; rm -rf $work"

table() { ip netns exec rvs-ka-dir ipvsadm -S -n; }
wait_for() { # EXPECTED WHAT: poll the table for up to 20 s
	local i
	for i in $(seq 40); do
		[ "$(table)" = "$1" ] && { log "ok: $2 (after ~$((i / 2)) s)"; return 0; }
		sleep 0.5
	done
	printf '  keepalived log:\n'; sed 's/^/    /' "$work/keepalived.log" | tail -30
	assert_eq "$1" "$(table)" "$2"
}

both='-A -t 10.10.0.1:80 -s rr
-a -t 10.10.0.1:80 -r 192.168.11.2:8080 -m -w 2
-a -t 10.10.0.1:80 -r 192.168.12.2:8080 -m -w 1'
one='-A -t 10.10.0.1:80 -s rr
-a -t 10.10.0.1:80 -r 192.168.11.2:8080 -m -w 2'

wait_for "$both" "keepalived created the service with both real servers"
kill "$rs_pid_2"
wait_for "$one" "the real server that stopped answering was removed"
serve 2
wait_for "$both" "it was added back when it answered again"
assert_eq "$both" "$(ip netns exec rvs-ka-dir "$RVSADM" -S -n)" "rvsadm sees keepalived's table"
assert_eq "" "$(ipvsadm -S -n)" "nothing leaked into the root namespace"
kill "$ka"
wait "$ka" 2>/dev/null
wait_for "" "keepalived removed its service on exit"
