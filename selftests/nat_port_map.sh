#!/usr/bin/env bash
# NAT to a different port: VIP:80 -> real server :8080 (TCP) and VIP:53 -> :5353 (UDP). The real
# server sees the client's own address and port and its own port 8080; the client sees the answer
# come from VIP:80 (VIP:53), never from the real server.
. "$(dirname "$0")/lib/lib.sh"
. "$(dirname "$0")/lib/topo.sh"

topo_nat 2
rs_serve --http 8080 --udp 5353
nat_service -t "$VIP:80" rr 8080
nat_service -u "$VIP:53" rr 5353

# GET /whoami answers "NAME CLIENT:PORT LOCAL:PORT" as the real server sees them; curl adds what
# the client sees: the peer of its socket and its own port. rr: rs2 (first in list), then rs1.
out=$(in_cl curl -sS -m 10 -H 'Connection: close' -w '%{remote_ip}:%{remote_port} %{local_port}\n' \
	"http://$VIP/whoami" "http://$VIP/whoami")
i=0
while read -r name rs_peer rs_local; read -r client_peer cport; do
	i=$((i + 1))
	rs=$((3 - i))
	assert_eq "rs$rs" "$name" "TCP request $i: answered by rs$rs"
	assert_eq "10.0.1.100:80" "$client_peer" "TCP request $i: the client's peer is VIP:80"
	assert_eq "10.0.1.2:$cport" "$rs_peer" "TCP request $i: rs$rs sees the client's address and port"
	assert_eq "10.0.2.1$rs:8080" "$rs_local" "TCP request $i: on its port 8080"
	assert_eq "TCP 10.0.1.2:$cport 10.0.1.100:80 10.0.2.1$rs:8080" \
		"$(conn_entries | awk -v c="10.0.1.2:$cport" '$3 == c { print $1, $3, $4, $5 }')" \
		"TCP request $i: ipvsadm -Lnc: client -> VIP:80 -> rs$rs:8080"
done <<<"$out"
assert_eq 2 "$i" "two answers"

# Unconnected UDP sockets print where each answer came from.
assert_eq "rs2 from 10.0.1.100:53
rs1 from 10.0.1.100:53" "$(in_cl python3 "$TRAFFIC" udp "$VIP" 53 --sockets 2 --unconnected)" \
	"UDP: answers from rs2 then rs1, both with source VIP:53"
assert_eq "UDP 10.0.1.100:53 10.0.2.11:5353
UDP 10.0.1.100:53 10.0.2.12:5353" "$(conn_entries | awk '$1 == "UDP" { print $1, $4, $5 }' | sort)" \
	"UDP: ipvsadm -Lnc: VIP:53 -> real server:5353"

# Port 8080 of the VIP is no service: the director's own stack refuses the connection.
expect_exit 7 'Failed to connect|Connection refused' "curl to VIP:8080 (no service)" -- \
	in_cl curl -sS -m 10 "http://$VIP:8080/"
