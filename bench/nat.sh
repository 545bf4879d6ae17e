#!/usr/bin/env bash
# NAT benchmark (make bench): the same client, director and real server namespaces forward
# traffic three ways in one VM run, one after the other:
#   plain  the director only routes (the client talks to the real server's own address)
#   ip_vs  in-tree IPVS, NAT service VIP -> real server
#   rvs    rvs.ko, the same NAT service
# and the table gives each figure with the ratios rvs/ip_vs and rvs/plain. Figures under TCG
# emulation are far below hardware; the ratios are what compares.
#
# Measured: TCP throughput (iperf3, 1 stream), UDP packets per second received (iperf3, 64-byte
# payloads, unlimited rate), and HTTP requests per second (new TCP connection each, 4 workers).
set -u
. "$RVS_ROOT/selftests/lib/lib.sh"
. "$RVS_ROOT/selftests/lib/topo.sh"
SECS=${BENCH_SECS:-5}

topo_nat 1
rs_http_start 80
bg iperf rvs-rs1 iperf3 -s
RS=$(rs_ip 1)
nap 1

# measure TARGET: prints "tcp_mbit udp_pps http_rps" against TARGET (the VIP or the RS).
measure() {
	local target=$1 tcp udp rps stop
	tcp=$(in_cl iperf3 -c "$target" -t "$SECS" -J 2>/dev/null |
		python3 -c 'import json,sys; print(round(json.load(sys.stdin)["end"]["sum_received"]["bits_per_second"]/1e6))' 2>/dev/null)
	udp=$(in_cl iperf3 -c "$target" -u -b 0 -l 64 -t "$SECS" -J 2>/dev/null |
		python3 -c 'import json,sys; s=json.load(sys.stdin)["end"]["sum"]; print(round((s["packets"]-s["lost_packets"])/s["seconds"]))' 2>/dev/null)
	stop="$TOPO_DIR/stop"
	rm -f "$stop"
	( nap "$SECS"; touch "$stop" ) &
	rps=$(in_cl python3 "$TRAFFIC" load "$target" 80 --phase "$TOPO_DIR/none" --stop "$stop" --workers 4 |
		grep -c ' rs1$')
	wait
	echo "${tcp:-0} ${udp:-0} $((rps / SECS))"
}

services() {
	local adm=$1
	in_lb "$adm" -A -t "$VIP:5201" -s rr && in_lb "$adm" -a -t "$VIP:5201" -r "$RS:5201" -m &&
		in_lb "$adm" -A -u "$VIP:5201" -s rr && in_lb "$adm" -a -u "$VIP:5201" -r "$RS:5201" -m &&
		in_lb "$adm" -A -t "$VIP:80" -s rr && in_lb "$adm" -a -t "$VIP:80" -r "$RS:80" -m
}

echo "bench: plain forwarding"
in_cl ip route add 10.0.2.0/24 via 10.0.1.1
plain=$(measure "$RS")
in_cl ip route del 10.0.2.0/24 via 10.0.1.1

echo "bench: in-tree ip_vs"
rm -f /etc/modprobe.d/rvs-test.conf
modprobe ip_vs || fail "modprobe ip_vs"
services ipvsadm || fail "ip_vs services"
ipvs=$(measure "$VIP")
in_lb ipvsadm -C
"$RVS_ROOT/selftests/lib/unload-ipvs.sh" || fail "unload ip_vs"

echo "bench: rvs"
insmod "$RVS_KO" || fail "insmod rvs"
services "$RVS_ROOT/target/release/rvsadm" || fail "rvs services"
rvs=$(measure "$VIP")
in_lb "$RVS_ROOT/target/release/rvsadm" -C
rmmod rvs || fail "rmmod rvs"

ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (b > 0) printf "%.2f", a / b; else print "-" }'; }
read -r p_tcp p_udp p_rps <<<"$plain"
read -r i_tcp i_udp i_rps <<<"$ipvs"
read -r r_tcp r_udp r_rps <<<"$rvs"
printf '\n%-24s %10s %10s %10s %12s %12s\n' metric plain ip_vs rvs rvs/ip_vs rvs/plain
printf '%-24s %10s %10s %10s %12s %12s\n' "TCP Mbit/s" "$p_tcp" "$i_tcp" "$r_tcp" \
	"$(ratio "$r_tcp" "$i_tcp")" "$(ratio "$r_tcp" "$p_tcp")"
printf '%-24s %10s %10s %10s %12s %12s\n' "UDP packets/s (64 B)" "$p_udp" "$i_udp" "$r_udp" \
	"$(ratio "$r_udp" "$i_udp")" "$(ratio "$r_udp" "$p_udp")"
printf '%-24s %10s %10s %10s %12s %12s\n' "HTTP connections/s" "$p_rps" "$i_rps" "$r_rps" \
	"$(ratio "$r_rps" "$i_rps")" "$(ratio "$r_rps" "$p_rps")"
