#!/usr/bin/env bash
# Persistence (-p): a client sticks to one real server across connections through a template
# (ipvsadm -Lnc shows it with client port 0); once the template and its connections have expired
# the client is scheduled afresh. The template of a UDP service becomes ASSURED with the first
# answer; -M groups clients by network. expire_quiescent_template moves the clients of a
# quiesced real server.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 3
rs_http_start 80
rs_udp_echo_start 53

# TCP: rr would spread 6 connections over rs3 rs2 rs1; the template keeps them on rs3.
adm -A -t "$VIP:80" -s rr -p 60 || fail "add a persistent service"
for i in 1 2 3; do adm -a -t "$VIP:80" -r "$(rs_ip "$i"):80" -m || fail "add rs$i"; done
assert_eq "$(printf 'rs3\n%.0s' 1 2 3 4 5 6)" "$(client_http 6)" \
	"persistent rr: 6 connections from one client all go to rs3"
assert_eq "TCP ASSURED 10.0.1.2:0 10.0.1.100:80 10.0.2.13:80" \
	"$(conn_entries | grep ':0 ')" "ipvsadm -Lnc: one assured template, client port 0"
assert_eq 1 "$(adm -Ln --persistent-conn | awk '$2 == "10.0.2.13:80" { print $4 }')" \
	"--persistent-conn: rs3 has 1 template"

# A quiesced real server (weight 0) keeps its persistent clients: their template still binds,
# unless expire_quiescent_template is set; then the template expires at the next connection and
# the client is scheduled afresh (rr goes on to rs2).
adm -e -t "$VIP:80" -r "$(rs_ip 3):80" -m -w 0 || fail "quiesce rs3"
assert_eq "rs3 rs3 " "$(client_http 2 | tr '\n' ' ')" "weight 0: the persistent client stays on rs3"
in_lb sysctl -qw net.ipv4.vs.expire_quiescent_template=1 || fail "expire_quiescent_template=1"
assert_eq "rs2 rs2 " "$(client_http 2 | tr '\n' ' ')" \
	"expire_quiescent_template=1: the client moves to rs2 and stays there"
assert_eq "TCP ASSURED 10.0.1.2:0 10.0.1.100:65535 10.0.2.13:65535
TCP ASSURED 10.0.1.2:0 10.0.1.100:80 10.0.2.12:80" \
	"$(conn_entries | grep '^TCP.*:0 ' | sort)" \
	"the new template names rs2; the old one stays until it expires, with ports 65535 (as IPVS)"
in_lb sysctl -qw net.ipv4.vs.expire_quiescent_template=0

# UDP with short timeouts: the template (3 s, 18 s on the slow debug kernel, where one UDP client
# run can take longer than 3 s) outlives its connections (1 s), then goes.
adm --set 0 0 1 || fail "udp timeout 1 s"
adm -A -u "$VIP:53" -s rr -p "$((3 * TOPO_SLOW))" || fail "add a persistent UDP service"
for i in 1 2 3; do adm -a -u "$VIP:53" -r "$(rs_ip "$i"):53" -m || fail "add rs$i"; done
udp4() { in_cl python3 "$TRAFFIC" udp "$VIP" 53 --sockets 4 | tr '\n' ' '; }
assert_eq "rs3 rs3 rs3 rs3 " "$(udp4)" "persistent UDP: 4 source ports, one real server"
assert_eq "UDP ASSURED 10.0.1.2:0 10.0.1.100:53 10.0.2.13:53" \
	"$(conn_entries | grep '^UDP.*:0 ')" "the UDP template is assured by the answers"
no_udp_template() { ! conn_entries | grep -q '^UDP.*:0 '; }
poll_until 15 no_udp_template || fail "the UDP template did not expire: $(conn_entries)"
log "ok: the UDP template expired after its connections"
assert_eq "rs2 rs2 rs2 rs2 " "$(udp4)" "after expiry the client is scheduled afresh (rr: rs2)"

# -M 255.255.255.0: one template covers the client's /24 (both its addresses).
in_cl ip addr add 10.0.1.3/24 dev eth0
adm -E -u "$VIP:53" -s rr -p 60 -M 255.255.255.0 || fail "edit the netmask"
from3() { echo x | in_cl socat -t "$((2 * TOPO_SLOW))" - "UDP:$VIP:53,bind=10.0.1.3"; }
in_cl python3 "$TRAFFIC" udp "$VIP" 53 >/dev/null
assert_eq "rs1" "$(from3)" "-M /24: a second address of the client network uses the same template"
assert_eq "UDP ASSURED 10.0.1.0:0 10.0.1.100:53 10.0.2.11:53" \
	"$(conn_entries | grep '^UDP.* 10.0.1.0:0 ' | sort -u)" "-M /24: the template names the network"
