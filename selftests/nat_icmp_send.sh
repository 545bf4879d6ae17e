#!/usr/bin/env bash
# nat_icmp_send: a packet that a NAT real server sends from a virtual service's real port without
# a connection (a late answer after its entry expired, a server-started flow) goes out unchanged
# by default; with net.ipv4.vs.nat_icmp_send=1 the director drops it and answers the real server
# with ICMP port unreachable (`ip_vs_out_hook` with `ip_vs_has_real_service`), for the protocol
# of the real server's service or any protocol for a firewall-mark service's, never for another
# port or for a tunnelling real server, and never for a TCP reset.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 2
adm -A -u "$VIP:53" -s rr || fail "UDP service"
adm -a -u "$VIP:53" -r "$(rs_ip 1):5300" -m || fail "UDP NAT real server rs1:5300"
adm -A -t "$VIP:80" -s rr || fail "TCP service"
adm -a -t "$VIP:80" -r "$(rs_ip 1):8080" -m || fail "TCP NAT real server rs1:8080"
adm -a -t "$VIP:80" -r "$(rs_ip 2):8080" -i || fail "TCP tunnelling real server rs2:8080"
adm -A -f 7 -s rr || fail "fwmark service"
adm -a -f 7 -r "$(rs_ip 2):6000" -m || fail "fwmark NAT real server rs2:6000"

# The client counts what reaches it on UDP port 4000.
bg sink "$TOPO_CL" python3 -c '
import socket, sys
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("0.0.0.0", 4000))
open(sys.argv[1], "w").close()
while True:
    data, peer = s.recvfrom(100)
    print(peer[0], peer[1], data.decode(), flush=True)
' "$TOPO_DIR/sink.ready"
poll_until 30 test -e "$TOPO_DIR/sink.ready" || fail "the client's UDP sink did not start"

# send RS PROTO SPORT TAG: real server RS sends from SPORT to the client (UDP: datagram TAG to port
# 4000; TCP: a SYN to port 4001, where nothing listens) and prints what it learns within 2 s:
# "refused" (an ICMP port unreachable came back), or "silence".
send() {
	in_rs "$1" python3 -c '
import errno, socket, sys
proto, sport, tag = sys.argv[1], int(sys.argv[2]), sys.argv[3]
kind = socket.SOCK_DGRAM if proto == "udp" else socket.SOCK_STREAM
s = socket.socket(socket.AF_INET, kind)
s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
s.bind(("0.0.0.0", sport))
s.settimeout(2)
try:
    if proto == "udp":
        s.connect(("10.0.1.2", 4000))
        s.send(tag.encode())
        s.recv(100)
    else:
        s.connect(("10.0.1.2", 4001))
    print("answered")
except ConnectionRefusedError:
    print("refused")
except (socket.timeout, OSError) as e:
    print("silence" if isinstance(e, socket.timeout) or e.errno == errno.ETIMEDOUT else "error " + str(e))
' "$2" "$3" "$4"
}
sunk() { grep -c " $1\$" "$TOPO_DIR/sink.log"; }

assert_eq 0 "$(in_lb cat /proc/sys/net/ipv4/vs/nat_icmp_send)" "nat_icmp_send is 0 by default"
assert_eq silence "$(send 1 udp 5300 off)" "off: rs1's datagram from its real port gets no ICMP"
poll_eq 1 "off: the datagram reaches the client unchanged" 10 sunk off
assert_eq "10.0.2.11 5300 off" "$(grep ' off$' "$TOPO_DIR/sink.log")" "off: from rs1's own address and port"

in_lb sysctl -qw net.ipv4.vs.nat_icmp_send=1 || fail "nat_icmp_send=1"
assert_eq refused "$(send 1 udp 5300 on)" "on: rs1's datagram from its real port is refused (ICMP port unreachable)"
assert_eq silence "$(send 1 udp 5301 other-port)" "on: from another port, no ICMP"
assert_eq refused "$(send 1 tcp 8080 -)" "on: rs1's SYN from its TCP real port is refused"
assert_eq silence "$(send 1 tcp 5300 -)" "on: a SYN from the UDP real port (another protocol) gets no ICMP"
assert_eq silence "$(send 2 tcp 8080 -)" "on: rs2 tunnels for that service, not NAT: no ICMP"
assert_eq refused "$(send 2 udp 6000 fwmark)" "on: a firewall-mark service's NAT real server, any protocol: refused"
assert_eq refused "$(send 2 tcp 6000 -)" "on: the same over TCP: refused"
nap 1
assert_eq "1 0 1 0" "$(sunk off) $(sunk on) $(sunk other-port) $(sunk fwmark)" \
	"the client got the datagrams that were not refused, and only those"

# A removed real server is no longer one: its packets go out again.
adm -d -u "$VIP:53" -r "$(rs_ip 1):5300" || fail "remove rs1:5300"
assert_eq silence "$(send 1 udp 5300 removed)" "on: after rs1:5300 left its service, no ICMP"
poll_eq 1 "the datagram of the removed real server reaches the client" 10 sunk removed
# Edited to tunnelling, rs2:6000 is no longer a NAT real server.
adm -e -f 7 -r "$(rs_ip 2):6000" -i || fail "rs2:6000 to tunnelling"
assert_eq silence "$(send 2 udp 6000 edited)" "on: after rs2:6000 became a tunnelling real server, no ICMP"
