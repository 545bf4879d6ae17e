#!/usr/bin/env bash
# The unmodified ipvsadm drives the module through a matrix of invocations (every command, the
# listing formats, IPVS's refusals); its output, /proc/net/ip_vs and /proc/net/ip_vs_stats must equal
# byte for byte the golden file recorded against in-tree ip_vs (expected/ipvsadm_matrix.out, which
# this same test checks against ip_vs too). RVS_RECORD=1 rewrites the golden file in $RVS_RUN.
. "$(dirname "$0")/lib/lib.sh"

ip link add rvs-d0 type dummy && ip addr add 192.168.1.1/24 dev rvs-d0 && ip link set rvs-d0 up \
	|| fail "dummy interface"
ip -6 addr add 2001:db8:1::1/64 dev rvs-d0 nodad
on_exit "ip link del rvs-d0; ipvsadm -C"

matrix() {
	r() { echo "\$ ipvsadm $*"; ipvsadm "$@" 2>&1; echo "rc=$?"; }
	r -A -t 10.0.0.1:80 -s rr
	r -A -t 10.0.0.1:80 -s rr
	r -A -t 10.0.0.1:443 -s wrr -p 300 -M 255.255.255.0
	r -A -u 10.0.0.1:53 -s wlc -o
	r -A -u 10.0.0.2:53 -s lc -p
	r -A -t 10.0.0.3:0 -s lc
	r -A -t 10.0.0.3:0 -s lc -p 60
	r -A -f 5 -s rr -b flag-1
	r -A -f 6 -6 -s rr -p 30 -M 64
	r -A --sctp-service 10.0.0.4:3868 -s rr
	r -A -t [2001:db8::10]:80 -s wlc
	r -A -t 10.0.0.5:80 -s nosuch
	r -A -t 10.0.0.6:80 --pe nosuch
	r -A -t 10.0.0.6:80 --pe sip
	r -A -t 10.0.0.7:80 -o
	r -a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -w 3
	r -a -t 10.0.0.1:80 -r 192.168.1.3 -g -w 0
	r -a -t 10.0.0.1:80 -r 192.168.1.4 -i --tun-type gue --tun-port 6080 --tun-csum
	r -a -t 10.0.0.1:80 -r 192.168.1.5 -i --tun-type gre --tun-nocsum
	r -a -t 10.0.0.1:80 -r 192.168.1.6:81 -m -x 100 -y 50
	r -a -t 10.0.0.1:80 -r 192.168.1.7:81 -m -x 10 -y 50
	r -a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m
	r -a -t 10.0.0.9:80 -r 192.168.1.2:8080 -m
	r -a -f 5 -r 192.168.1.8:8000 -m -w 2
	r -a -t [2001:db8::10]:80 -r [2001:db8:1::2]:80 -m
	r -a -t 10.0.0.1:443 -r 224.0.0.1 -m
	r -a -t 10.0.0.1:443 -r 192.168.1.255 -m
	r -a -t 10.0.0.1:443 -r 192.168.1.2 -w 65535
	r -a -t 10.0.0.1:443 -r 192.168.1.9 -w 65536
	r -e -t 10.0.0.1:80 -r 192.168.1.99 -w 2
	r -e -t 10.0.0.1:80 -r 192.168.1.3 -g -w 7
	r -e -t 10.0.0.1:80 -r 192.168.1.6:81 -m -w 4 -x 20 -y 5
	r -d -t 10.0.0.1:80 -r 192.168.1.99
	r -D -t 10.0.0.99:80
	r -E -t 10.0.0.99:80 -s rr
	r -E -t 10.0.0.1:443 -s wlc -p 120
	r -E -t 10.0.0.2:53 -s rr
	r -Ln
	r -L
	r -Ln --stats
	r -Ln --rate
	r -Ln --thresholds
	r -Ln --persistent-conn
	r -Ln --exact --stats
	r -Ln --tun-info
	r -Ln -t 10.0.0.1:80
	r -Ln -f 5
	r -Ln -t 10.0.0.99:80
	r -S -n
	r -S
	# Services are listed in hash-table order, which IPVS seeds with a kernel address: compare them
	# sorted (each with its destinations, whose order is the same in rvs and IPVS).
	echo "\$ cat /proc/net/ip_vs (services sorted)"
	python3 -c '
import sys
lines = open("/proc/net/ip_vs").read().splitlines()
blocks = []
for line in lines[3:]:
    if line.startswith("  ->"):
        blocks[-1].append(line)
    else:
        blocks.append([line])
print("\n".join(lines[:3] + [l for b in sorted(blocks) for l in b]))'

	echo "\$ cat /proc/net/ip_vs_stats"
	cat /proc/net/ip_vs_stats
	r -L --timeout
	r --set 100 20 30
	r -L --timeout
	r --set 900 120 300
	r -L --daemon
	r -Lnc
	r -Z
	r -Z -t 10.0.0.1:80
	r -Z -t 10.0.0.99:80
	r --stop-daemon master
	r -d -t 10.0.0.1:80 -r 192.168.1.2:8080
	r -D -t 10.0.0.1:443
	r -D -f 6 -6
	r -S -n
	r -C
	r -Ln
	printf -- '-A -t 10.1.0.1:80 -s rr\n-a -t 10.1.0.1:80 -r 192.168.1.20:80 -m -w 5\n-A -u 10.1.0.1:53 -s wlc\n' | ipvsadm -R
	echo "restore rc=$?"
	r -S -n
	r -C
}

out=$(matrix)
if [ "${RVS_RECORD:-0}" = 1 ]; then
	printf '%s\n' "$out" >"$RVS_RUN/ipvsadm_matrix.out"
	log "recorded $(printf '%s\n' "$out" | wc -l) lines into $RVS_RUN/ipvsadm_matrix.out"
fi
expected="$RVS_ROOT/selftests/expected/ipvsadm_matrix.out"
[ -f "$expected" ] || fail "no golden file $expected"
if ! diff -u "$expected" <(printf '%s\n' "$out") >/tmp/rvs-matrix.diff; then
	cat /tmp/rvs-matrix.diff
	fail "ipvsadm's view of the module differs from the golden file recorded against ip_vs"
fi
log "ok: $(grep -c '^\$ ' "$expected") ipvsadm invocations, output identical to ip_vs's"
