#!/usr/bin/env bash
# The backup sync daemon: ipvsadm --start-daemon backup joins the sync group on its interface
# and applies what a master multicasts (ip_vs_sync.c, ip_vs_proc_conn), here datagrams built byte
# for byte as ip_vs's master builds them (lib/sync.py): connections and templates appear in
# ipvsadm -Lnc with the master's states and timeouts and count in their real servers' active and
# inactive connections; later entries update them, replace a connection whose client the master
# gave another real server, and the late notice of a replaced one is ignored; version 0
# messages (timeouts from the backup's own table), the sync ID filter, firewall-mark services;
# garbage, truncated and corrupted datagrams change nothing and break nothing; the daemon's
# errnos, its listing (-L --daemon, GET_DAEMON) and its stop; SIP calls' templates (--pe sip).
#
# Not covered here, rvs does not have it yet: entries for which the backup has no service or
# real server (IPVS keeps them unbound), IPv6 entries, the master daemon (#13).
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

SYNC="$RVS_ROOT/selftests/lib/sync.py"
MASTER_NS=rvs-sm
netns_new "$TOPO_LB"
netns_new "$MASTER_NS"
ip link add sync0 netns "$TOPO_LB" type veth peer name eth0 netns "$MASTER_NS" || fail "veth"
ip -n "$TOPO_LB" -batch - <<-EOF || fail "director links"
	link set sync0 addrgenmode none
	addr add 10.0.9.1/24 dev sync0
	link set sync0 up
EOF
ip -n "$MASTER_NS" -batch - <<-EOF || fail "master links"
	link set eth0 addrgenmode none
	addr add 10.0.9.2/24 dev eth0
	link set eth0 up
EOF
# sync_py MODE ARGS: lib/sync.py in the master's namespace; send ARGS: one message.
sync_py() { ip netns exec "$MASTER_NS" python3 "$SYNC" "$@" --ifaddr 10.0.9.2; }
send() { sent_at=$SECONDS; sync_py send "$@"; }

# The backup's services: NAT, UDP, a persistent DR service and a firewall-mark DR service.
adm -A -t 10.0.1.100:80 -s rr || fail "tcp service"
adm -a -t 10.0.1.100:80 -r 10.0.2.11:80 -m || fail "rs .11"
adm -a -t 10.0.1.100:80 -r 10.0.2.12:80 -m || fail "rs .12"
adm -A -u 10.0.1.100:53 -s rr || fail "udp service"
adm -a -u 10.0.1.100:53 -r 10.0.2.11:53 -m || fail "udp rs"
adm -A -t 10.0.1.101:80 -s rr -p 600 || fail "persistent service"
adm -a -t 10.0.1.101:80 -r 10.0.2.12:80 -g || fail "persistent rs"
adm -A -f 7 -s rr || fail "fwmark service"
adm -a -f 7 -r 10.0.2.13 -g || fail "fwmark rs"

# Errnos before a daemon runs (ipvsadm prints IPVS's messages for them).
expect_exit 255 "No daemon is running" "stop a backup that does not run" -- adm --stop-daemon backup
expect_exit 255 "No such device" "an interface that does not exist" -- \
	adm --start-daemon backup --mcast-interface nosuch0 --syncid 5
assert_eq "errno=EINVAL" "$(in_lb python3 "$GENL" request NEW_DAEMON \
	--attr '3:nest:{1:u32:2;2:str:sync0;3:u32:5;5:hex:0a000001}' | head -1)" \
	"NEW_DAEMON with a group that is not multicast: EINVAL"
assert_eq "errno=EINVAL" "$(in_lb python3 "$GENL" request NEW_DAEMON \
	--attr '3:nest:{1:u32:3;2:str:sync0;3:u32:5}' | head -1)" "NEW_DAEMON of state 3: EINVAL"

adm --start-daemon backup --mcast-interface sync0 --syncid 5 || fail "start the backup daemon"
assert_eq "backup sync daemon (mcast=sync0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)" "$(adm -L --daemon)" "ipvsadm -L --daemon"
assert_eq $'errno=0\nmsg cmd=9 3=08000100020000000a00020073796e6330000000080003000500000006000400c00500000600070090220000050008000100000008000500e0000051' \
	"$(in_lb python3 "$GENL" request GET_DAEMON --dump)" \
	"GET_DAEMON: one nest of state 2, sync0, sync ID 5, maxlen 1472, port 8848, TTL 1, group 224.0.0.81"
expect_exit 255 "Daemon has already run" "a second backup" -- \
	adm --start-daemon backup --mcast-interface sync0 --syncid 5

# expect_conns SECS LINES: ipvsadm -Lnc shows exactly LINES ("PROTO STATE CLIENT VIRTUAL DEST
# TIMEOUT", sorted) within SECS, each expiring below TIMEOUT by at most 30 s plus the time since
# the last send (a listing can come a minute late on the debug kernel under CI's load).
listing() {
	conn_expiry | sort -k3 | awk -v want="$1" -v tol=$((30 + SECONDS - sent_at)) '
		BEGIN { n = split(want, w, "\n"); for (i = 1; i <= n; i++) { split(w[i], f, " ");
			t[f[1] " " f[2] " " f[3] " " f[4] " " f[5]] = f[6] } }
		{ k = $1 " " $2 " " $3 " " $4 " " $5; s = $6
		  if ((k in t) && s <= t[k] && s >= t[k] - tol) s = t[k]; print k, s }'
}
expect_conns() {
	local want
	want=$(printf '%s\n' "$2" | sort -k3)
	poll_eq "$want" "$3" "$1" listing "$want"
}

# Every timeout outlasts the test, also on the debug kernel: an entry expiring in the middle
# would change the listings compared below.
send --syncid 5 \
	tcp,ESTABLISHED,MASQ,172.16.0.10:40000,10.0.1.100:80,10.0.2.11:80,900 \
	tcp,TIME_WAIT,INACTIVE,172.16.0.11:40001,10.0.1.100:80,10.0.2.11:80,120 \
	udp,NORMAL,INACTIVE,172.16.0.12:5353,10.0.1.100:53,10.0.2.11:53,300 \
	tcp,NONE,TEMPLATE+DROUTE,172.16.0.13:0,10.0.1.101:80,10.0.2.12:80,600 \
	tcp,ESTABLISHED,DROUTE+NOOUTPUT,172.16.0.13:40002,10.0.1.101:80,10.0.2.12:80,900 \
	tcp,SYN_RECV,DROUTE,172.16.0.14:40003,10.0.1.102:443,10.0.2.13:443,600,7 || fail "send"
expect_conns 10 "TCP ESTABLISHED 172.16.0.10:40000 10.0.1.100:80 10.0.2.11:80 900
TCP TIME_WAIT 172.16.0.11:40001 10.0.1.100:80 10.0.2.11:80 120
UDP UDP 172.16.0.12:5353 10.0.1.100:53 10.0.2.11:53 300
TCP NONE 172.16.0.13:0 10.0.1.101:80 10.0.2.12:80 600
TCP ESTABLISHED 172.16.0.13:40002 10.0.1.101:80 10.0.2.12:80 900
TCP SYN_RECV 172.16.0.14:40003 10.0.1.102:443 10.0.2.13:443 600" \
	"six entries: states and timeouts as sent, the fwmark one found through mark 7"
assert_eq "10.0.2.11:80 1 1 1
10.0.2.12:80 1 0 0" "$(dest_table -t 10.0.1.100:80)" "synced connections count: one active, one inactive"
assert_eq "10.0.2.11:53 1 0 1" "$(dest_table -u 10.0.1.100:53)" "the UDP one is inactive"
assert_eq "10.0.2.12:80 1 1 0" "$(dest_table -t 10.0.1.101:80)" "the template counts in neither"
assert_eq "10.0.2.13:0 1 1 0" "$(dest_table -f 7)" "the fwmark service's connection is active"

# Updates: the first connection closes (inactive), the template becomes assured, the second
# client's port is reused on the master for the other real server (replace), and the late
# notice of the first connection for .12 is ignored (it is held for .11).
send --syncid 5 \
	tcp,FIN_WAIT,INACTIVE,172.16.0.10:40000,10.0.1.100:80,10.0.2.11:80,120 \
	tcp,ASSURED,TEMPLATE+DROUTE,172.16.0.13:0,10.0.1.101:80,10.0.2.12:80,600 \
	tcp,SYN_RECV,MASQ,172.16.0.11:40001,10.0.1.100:80,10.0.2.12:80,300 \
	tcp,CLOSE,INACTIVE,172.16.0.10:40000,10.0.1.100:80,10.0.2.12:80,10 || fail "send"
expect_conns 10 "TCP FIN_WAIT 172.16.0.10:40000 10.0.1.100:80 10.0.2.11:80 120
TCP SYN_RECV 172.16.0.11:40001 10.0.1.100:80 10.0.2.12:80 300
UDP UDP 172.16.0.12:5353 10.0.1.100:53 10.0.2.11:53 300
TCP ASSURED 172.16.0.13:0 10.0.1.101:80 10.0.2.12:80 600
TCP ESTABLISHED 172.16.0.13:40002 10.0.1.101:80 10.0.2.12:80 900
TCP SYN_RECV 172.16.0.14:40003 10.0.1.102:443 10.0.2.13:443 600" \
	"updated, replaced, and the stale notice ignored"
assert_eq "10.0.2.11:80 1 0 1
10.0.2.12:80 1 1 0" "$(dest_table -t 10.0.1.100:80)" "counts follow: .11 one inactive, .12 one active"

# Another sync ID is ignored; version 0 carries no timeout: the backup's own (900 s for
# ESTABLISHED). The listing after the version 0 message shows the other was passed over.
send --syncid 6 tcp,ESTABLISHED,MASQ,172.16.0.20:1000,10.0.1.100:80,10.0.2.11:80,900 || fail "send"
send --syncid 5 --v0 tcp,ESTABLISHED,MASQ,172.16.0.21:1000,10.0.1.100:80,10.0.2.11:80,0 || fail "send"
poll_until 10 sh -c "ip netns exec $TOPO_LB ipvsadm -Lnc | grep -q 172.16.0.21" || fail "the version 0 entry"
assert_eq "TCP ESTABLISHED 172.16.0.21:1000 10.0.1.100:80 10.0.2.11:80 900" \
	"$(listing 'TCP ESTABLISHED 172.16.0.21:1000 10.0.1.100:80 10.0.2.11:80 900' | grep 172.16.0.21)" \
	"a version 0 entry, with the backup's ESTABLISHED timeout"
assert_eq "" "$(conn_entries | grep 172.16.0.20)" "sync ID 6 is not the backup's 5: ignored"

# Malformed datagrams: nothing changes. Then random and corrupted ones (a fixed seed), after
# which a valid message is still applied.
before=$(conn_entries | sort)
sync_py malformed --syncid 5 || fail "send malformed"
send --syncid 5 tcp,ESTABLISHED,MASQ,172.16.0.30:1000,10.0.1.100:80,10.0.2.12:80,900 || fail "send"
poll_until 10 sh -c "ip netns exec $TOPO_LB ipvsadm -Lnc | grep -q 172.16.0.30" || fail "valid message after garbage"
assert_eq "$before" "$(conn_entries | grep -v 172.16.0.30 | sort)" \
	"malformed datagrams and entries (lib/sync.py malformed) change nothing"
fuzzed=2000
[ "${KERNEL:-}" = debug ] && fuzzed=300
log "$(sync_py fuzz --syncid 5 --seed 13 --count "$fuzzed" 2>&1)"
send --syncid 5 tcp,ESTABLISHED,MASQ,172.16.0.31:1000,10.0.1.100:80,10.0.2.12:80,900 || fail "send"
poll_until 20 sh -c "ip netns exec $TOPO_LB ipvsadm -Lnc | grep -q 172.16.0.31" || fail "valid message after the fuzz"
log "ok: a valid message is applied after the fuzzed datagrams"

# Templates of a persistence engine (IPVS_OPT_PE_DATA, _PE_NAME): a SIP call's template is that
# call's, beside another call of the same client, and an update finds its own call's. An entry
# of an engine the backup does not have is dropped, not the rest of its message
# (ip_vs_conn_fill_param_sync, a positive error of ip_vs_proc_sync_conn).
adm -A -u 10.0.1.103:5060 -s rr -p 600 --pe sip || fail "a --pe sip service"
adm -a -u 10.0.1.103:5060 -r 10.0.2.11:5060 -m || fail "its real server"
sip_template() { echo "udp,$1,TEMPLATE,$2:0,10.0.1.103:5060,10.0.2.11:5060,600,0,$3"; }
send --syncid 5 "$(sip_template NONE 172.16.0.50 sip:call-x)" \
	"$(sip_template NONE 172.16.0.50 sip:call-y)" || fail "send"
send --syncid 5 "$(sip_template NONE 172.16.0.51 nosuch:call-z)" \
	"$(sip_template NONE 172.16.0.52 sip:call-w)" || fail "send"
send --syncid 5 "$(sip_template ASSURED 172.16.0.50 sip:call-y)" \
	tcp,ESTABLISHED,MASQ,172.16.0.53:1000,10.0.1.100:80,10.0.2.12:80,900 || fail "send"
poll_until 10 sh -c "ip netns exec $TOPO_LB ipvsadm -Lnc | grep -q 172.16.0.53" || fail "the last message"
assert_eq "UDP AC100032 0000 0A000167 13C4 0A00020B 13C4 ASSURED sip call-y
UDP AC100032 0000 0A000167 13C4 0A00020B 13C4 NONE sip call-x
UDP AC100034 0000 0A000167 13C4 0A00020B 13C4 NONE sip call-w" \
	"$(in_lb awk 'NR > 1 && NF == 11 { print $1, $2, $3, $4, $5, $6, $7, $8, $10, $11 }' \
		/proc/net/ip_vs_conn | sort)" \
	"two calls of one client, two templates, the update assured call-y's; an unknown engine's skipped"

# Stop: no daemon listed, and what is sent afterwards is not applied.
adm --stop-daemon backup || fail "stop the backup daemon"
assert_eq "" "$(adm -L --daemon)" "no daemon listed after the stop"
expect_exit 255 "No daemon is running" "stop it again" -- adm --stop-daemon backup
send --syncid 5 tcp,ESTABLISHED,MASQ,172.16.0.40:1000,10.0.1.100:80,10.0.2.12:80,900 || fail "send"
nap 1
assert_eq "" "$(conn_entries | grep 172.16.0.40)" "nothing applied once the daemon stopped"
# Started again, it gets messages again; and the namespace may go with the daemon running.
adm --start-daemon backup --mcast-interface sync0 || fail "start again, sync ID 0 (any)"
send --syncid 9 tcp,ESTABLISHED,MASQ,172.16.0.41:1000,10.0.1.100:80,10.0.2.12:80,900 || fail "send"
poll_until 10 sh -c "ip netns exec $TOPO_LB ipvsadm -Lnc | grep -q 172.16.0.41" || fail "sync ID 0 takes any"
log "ok: a backup of sync ID 0 takes messages of any sync ID"
