#!/usr/bin/env bash
# Master and backup sync daemons between two directors (ip_vs_sync.c): the director of the NAT
# topology runs the master on a sync link, a second director the backup, with the same
# services. Traffic through the master (HTTP connections, a persistent service's template,
# UDP, a held connection, a SIP call's template with its Call-ID) shows up in the backup's
# ipvsadm -Lnc with the master's states and timeouts, paced as IPVS paces it (a connection goes
# out at its 3rd request, then on state changes), or as another sync_threshold says;
# sync_version=0 messages too; a stopped master sends nothing more; both roles run in one
# namespace at once; sync_sock_size, backup_only; sync_ports 4: four sockets a role, messages on
# every port; the daemons' listing and errnos.
# With MODULE=ipvs both directors run ip_vs: what the test expects is what ip_vs does.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 2
rs_http_start 80
rs_line_start 7000
rs_udp_echo_start 53 5060
BACKUP_NS=rvs-lb2
netns_new "$BACKUP_NS"
ip link add sync0 netns "$TOPO_LB" type veth peer name sync0 netns "$BACKUP_NS" || fail "sync link"
ip -n "$TOPO_LB" -batch - <<-EOF || fail "master's sync link"
	link set sync0 addrgenmode none
	addr add 10.0.9.1/24 dev sync0
	link set sync0 up
EOF
ip -n "$BACKUP_NS" -batch - <<-EOF || fail "backup's sync link"
	link set sync0 addrgenmode none
	addr add 10.0.9.2/24 dev sync0
	link set sync0 up
EOF
in_b() { ip netns exec "$BACKUP_NS" "$@"; }

# The same services on both directors.
services() {
	"$@" -A -t "$VIP:80" -s rr &&
		"$@" -a -t "$VIP:80" -r "$(rs_ip 1):80" -m && "$@" -a -t "$VIP:80" -r "$(rs_ip 2):80" -m &&
		"$@" -A -t "$VIP:7000" -s rr -p 300 &&
		"$@" -a -t "$VIP:7000" -r "$(rs_ip 1):7000" -m && "$@" -a -t "$VIP:7000" -r "$(rs_ip 2):7000" -m &&
		"$@" -A -u "$VIP:53" -s rr &&
		"$@" -a -u "$VIP:53" -r "$(rs_ip 1):53" -m && "$@" -a -u "$VIP:53" -r "$(rs_ip 2):53" -m &&
		"$@" -A -u "$VIP:5060" -s rr -p 300 --pe sip &&
		"$@" -a -u "$VIP:5060" -r "$(rs_ip 1):5060" -m && "$@" -a -u "$VIP:5060" -r "$(rs_ip 2):5060" -m
}
services adm || fail "master's services"
services in_b ipvsadm || fail "backup's services"

adm --start-daemon master --mcast-interface sync0 --syncid 3 || fail "start the master"
in_b ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 3 || fail "start the backup"
assert_eq "master sync daemon (mcast=sync0, syncid=3, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)" \
	"$(adm -L --daemon)" "ipvsadm -L --daemon on the master"
expect_exit 255 "Daemon has already run" "a second master" -- \
	adm --start-daemon master --mcast-interface sync0 --syncid 3

# listing NS: "PROTO STATE CLIENT VIRTUAL DEST SECONDS" per entry of NS, sorted.
listing() {
	ip netns exec "$1" ipvsadm -Lnc | awk 'NR > 2 { split($2, t, ":");
		print $1, $3, $4, $5, $6, t[1] * 60 + t[2] }' | sort
}
# synced: the backup's entries as "KEY ok" where the master has the same entry and the
# expiries differ by at most 10 s x TOPO_SLOW (the backup hears of a change up to 2 s after the
# packet that made it; a template's expiry is the master's own business once its last connection
# is gone, as IPVS re-arms it there), else "KEY SECONDS"; and the master's entries missing on the backup.
synced() {
	awk -v tol=$((10 * TOPO_SLOW)) 'FNR == NR { m[$1 " " $2 " " $3 " " $4 " " $5] = $6; next }
		{ k = $1 " " $2 " " $3 " " $4 " " $5; d = $6 - m[k]
		  print k, ((k in m) && ((d <= tol && d >= -tol) || $3 ~ /:0$/)) ? "ok" : $6; seen[k] = 1 }
		END { for (k in m) if (!(k in seen)) print k, "missing" }' \
		<(listing "$TOPO_LB") <(listing "$BACKUP_NS") | sort
}
# in_sync WHAT: within 10 s (x TOPO_SLOW) the backup has the master's entries.
in_sync() {
	poll_eq "$(listing "$TOPO_LB" | awk '{ print $1, $2, $3, $4, $5, "ok" }')" "$1" 10 synced
}

# Two HTTP connections (each has at least 3 client packets: it is sent, then its closing
# states), a persistent client's held connection and its template, 3 datagrams of one UDP flow.
assert_eq "rs2 rs1 " "$(client_http 2 | tr '\n' ' ')" "two HTTP connections"
hold_start 7000
assert_match '^open 0 rs' "$(hold_cmd open)" "a held connection to the persistent service"
hold_cmd ping >/dev/null
hold_cmd ping >/dev/null
assert_eq "rs2 rs2 rs2 " "$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --count 3 | tr '\n' ' ')" \
	"three datagrams of one UDP flow"
assert_eq 5 "$(listing "$TOPO_LB" | wc -l)" "the master has 2 + 1 + 1 + 1 entries"
in_sync "the backup has the master's entries, states and timeouts"
log "$(listing "$BACKUP_NS")"
assert_eq "TCP ASSURED" "$(listing "$BACKUP_NS" | awk '$3 ~ /:0$/ { print $1, $2 }')" \
	"the template is there, assured"

# The held connection closes (the server first): its closing states follow.
assert_match '^bye 0 rs' "$(hold_cmd 'bye 0')" "the held connection closes"
hold_cmd 'close 0' >/dev/null
in_sync "closing states reach the backup"
log "$(listing "$BACKUP_NS")"

# Version 0 messages: no timeouts on the wire, the backup uses its own.
adm --stop-daemon master || fail "stop the master"
expect_exit 255 "No daemon is running" "stop it again" -- adm --stop-daemon master
in_lb sysctl -qw net.ipv4.vs.sync_version=0 || fail "sync_version=0"
in_lb sysctl -qw net.ipv4.vs.sync_version=2 2>/dev/null && fail "sync_version=2 is taken"
adm --start-daemon master --mcast-interface sync0 --syncid 3 || fail "restart the master"
assert_eq "rs2 " "$(client_http 1 | tr '\n' ' ')" "one more HTTP connection"
in_sync "a version 0 message: the backup's own timeout for the state"
in_lb sysctl -qw net.ipv4.vs.sync_version=1 || fail "sync_version=1"

# Pacing: a UDP flow of 2 datagrams (to rs1, rr's next) has not reached the threshold (3).
assert_eq "rs1 rs1 " "$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --count 2 | tr '\n' ' ')" \
	"two datagrams of another UDP flow"
nap 3
assert_eq "UDP" "$(listing "$TOPO_LB" | awk -v d="$(rs_ip 1):53" '$5 == d { print $1 }')" \
	"the master has it"
assert_eq "" "$(listing "$BACKUP_NS" | awk -v d="$(rs_ip 1):53" '$5 == d { print $1 }')" \
	"a flow of 2 requests is not sent (sync_threshold 3)"

# sync_threshold holds the threshold and the period, the threshold below a period other than 0;
# at "1 0" a flow is sent at its first request and never again.
vs=/proc/sys/net/ipv4/vs
assert_eq "3	50" "$(in_lb cat $vs/sync_threshold)" "sync_threshold is 3 and 50"
for bad in "5 3" "4 4" "-1 0" "1 -2"; do
	in_lb sysctl -qw net.ipv4.vs.sync_threshold="$bad" 2>/dev/null && fail "sync_threshold=$bad is taken"
done
assert_eq "3	50" "$(in_lb cat $vs/sync_threshold)" "refused values change nothing"
in_lb sysctl -qw net.ipv4.vs.sync_threshold="1 0" || fail "sync_threshold=1 0"
assert_eq "1	0" "$(in_lb cat $vs/sync_threshold)" "sync_threshold is 1 and 0"
udp_to_rs2() { listing "$1" | awk -v d="$(rs_ip 2):53" '$1 == "UDP" && $5 == d' | wc -l; }
assert_eq 1 "$(udp_to_rs2 "$BACKUP_NS")" "the backup has one flow to rs2"
assert_eq "rs2 " "$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --count 1 | tr '\n' ' ')" \
	"a flow of one datagram"
poll_eq 2 "a flow of one request is sent at sync_threshold 1 0" 10 udp_to_rs2 "$BACKUP_NS"
in_lb sysctl -qw net.ipv4.vs.sync_threshold="3 50" || fail "sync_threshold back to 3 50"

# A stopped master sends nothing more.
adm --stop-daemon master || fail "stop the master"
assert_eq "rs1" "$(in_cl curl -sS -m 10 --local-port 45678 "http://$VIP/")" \
	"a connection while no master runs"
nap 3
assert_eq "1 0" "$(listing "$TOPO_LB" | grep -c ':45678 ') $(listing "$BACKUP_NS" | grep -c ':45678 ')" \
	"the master has it, the backup did not get it"

# Both roles in one namespace (as IPVS allows), listed master first. sync_sock_size sets their
# sockets' buffers (the test kernel has no UDP socket diagnostics to show them): the daemons
# start with it. The master's socket sends from the sync link's address to the group, the
# backup's is bound to the group.
assert_eq 0 "$(in_lb cat $vs/sync_sock_size)" "sync_sock_size is 0"
in_lb sysctl -qw net.ipv4.vs.sync_sock_size=65536 || fail "sync_sock_size=65536"
adm --start-daemon master --mcast-interface sync0 --syncid 3 || fail "master again"
adm --start-daemon backup --mcast-interface sync0 --syncid 4 || fail "and a backup beside it"
in_lb sysctl -qw net.ipv4.vs.sync_sock_size=0 || fail "sync_sock_size=0"
assert_eq "ESTAB 10.0.9.1 224.0.0.81:8848
UNCONN 224.0.0.81:8848 0.0.0.0:*" \
	"$(in_lb ss -uan | awk '$5 ~ /:8848$/ { sub(/:[0-9]+$/, "", $4) } $4 ~ /:8848$/ || $5 ~ /:8848$/ { print $1, $4, $5 }' | sort)" \
	"the daemons' sockets"
assert_eq "master sync daemon (mcast=sync0, syncid=3, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)
backup sync daemon (mcast=sync0, syncid=4, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)" \
	"$(adm -L --daemon)" "both daemons listed"
assert_eq "$(adm -L --daemon)" "$(in_lb "$RVSADM" -L --daemon)" "rvsadm -L --daemon prints the same"

# backup_only: while a backup runs, the director balances nothing; the VIP is its own address,
# which refuses the connection.
assert_eq 0 "$(in_lb cat $vs/backup_only)" "backup_only is 0"
in_lb sysctl -qw net.ipv4.vs.backup_only=1 || fail "backup_only=1"
expect_exit 7 "Failed to connect" "no balancing with backup_only and a backup running" -- \
	in_cl curl -sS -m 10 "http://$VIP/"
adm --stop-daemon backup || fail "stop that backup"
assert_match '^rs[12]$' "$(in_cl curl -sS -m 10 "http://$VIP/")" "balanced again without the backup"
in_lb sysctl -qw net.ipv4.vs.backup_only=0 || fail "backup_only=0"

# sync_ports: a power of 2. Each role gets that many sockets on consecutive ports, as many as
# the namespace's first running daemon got; a master sends a connection always through the same
# one (picked by the connection), so the backup listens on as many.
assert_eq 1 "$(in_lb cat $vs/sync_ports)" "sync_ports is 1"
for bad in 0 3 -2; do
	in_lb sysctl -qw net.ipv4.vs.sync_ports=$bad 2>/dev/null && fail "sync_ports=$bad is taken"
done
adm --stop-daemon master || fail "stop the master"
in_b ipvsadm --stop-daemon backup || fail "stop the backup"
in_lb sysctl -qw net.ipv4.vs.sync_ports=4 || fail "sync_ports=4 on the master"
in_b sysctl -qw net.ipv4.vs.sync_ports=4 || fail "sync_ports=4 on the backup"
adm --start-daemon master --mcast-interface sync0 --syncid 3 || fail "a master on 4 ports"
in_b ipvsadm --start-daemon backup --mcast-interface sync0 --syncid 3 || fail "a backup on 4 ports"
in_lb sysctl -qw net.ipv4.vs.sync_ports=2 || fail "sync_ports=2"
adm --start-daemon backup --mcast-interface sync0 --syncid 5 || fail "a backup beside that master"
# "STATE LOCAL PEER" of NS's UDP sockets on the sync ports, the local port of senders left out.
sync_sockets() {
	ip netns exec "$1" ss -uan | awk '$5 ~ /:88[45][0-9]$/ { sub(/:[0-9]+$/, "", $4) }
		$4 ~ /:88[45][0-9]$/ || $5 ~ /:88[45][0-9]$/ { print $1, $4, $5 }' | sort
}
assert_eq "$(for p in 8848 8849 8850 8851; do echo "ESTAB 10.0.9.1 224.0.0.81:$p"; done
	for p in 8848 8849 8850 8851; do echo "UNCONN 224.0.0.81:$p 0.0.0.0:*"; done)" \
	"$(sync_sockets "$TOPO_LB")" "the master's 4 sockets, and 4 for the backup started second"
assert_eq "$(for p in 8848 8849 8850 8851; do echo "UNCONN 224.0.0.81:$p 0.0.0.0:*"; done)" \
	"$(sync_sockets "$BACKUP_NS")" "the backup's 4 sockets"
adm --stop-daemon backup || fail "stop the backup beside the master"
# Sixteen connections reach the backup, messages coming to the ports above the first (which
# connection goes through which port depends on where it is in memory, as with IPVS).
in_b nft -f - <<-NFT || fail "a counter of the sync ports"
	table inet rvs_sync_ports {
		chain in {
			type filter hook input priority 0;
			udp dport 8849-8851 counter
		}
	}
NFT
for port in $(seq 46001 46016); do
	in_cl curl -sS -m 10 --local-port "$port" -o /dev/null "http://$VIP/" || fail "connection from $port"
done
synced_46k() { listing "$BACKUP_NS" | grep -c ':460[01][0-9] '; }
poll_eq 16 "the backup has the sixteen connections" 10 synced_46k
assert_eq "yes" "$(in_b nft list chain inet rvs_sync_ports in |
	awk '/counter/ { for (i = 1; i < NF; i++) if ($i == "packets") print ($(i + 1) > 0) ? "yes" : "no" }')" \
	"messages came to the ports above the first"

# A SIP call's template (--pe sip) goes with its Call-ID: the backup's is that call's. (Last:
# on the debug kernel it takes long enough for earlier entries to expire.)
assert_eq "rs2 rs2 rs2 " \
	"$(in_cl python3 "$RVS_ROOT/selftests/lib/sip.py" call "$VIP" 5060 sync-call --count 3 | tr '\n' ' ')" \
	"three datagrams of a SIP call"
sip_templates() { in_b awk 'NR > 1 && NF == 11 { print $1, $8, $10, $11 }' /proc/net/ip_vs_conn; }
poll_eq "UDP ASSURED sip sync-call" \
	"the call's template reaches the backup, the call's (sip sync-call in /proc/net/ip_vs_conn)" \
	10 sip_templates
# The namespaces go with their daemons running (the test's end).
