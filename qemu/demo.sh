#!/usr/bin/env bash
# The demo (make demo), run inside the VM with rvs.ko loaded: what rvs is today, configured by the
# unmodified ipvsadm and by rvsadm. It grows into a balanced cluster as the data plane lands.
set -u
RVSADM="$RVS_ROOT/target/release/rvsadm"
step() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
show() { printf '$ %s\n' "$*"; "$@"; }

step "rvs.ko is loaded in the guest kernel ($(uname -r))"
show grep -E '^rvs ' /proc/modules
show modinfo -F description "$RVS_KO"
show modinfo -F parm "$RVS_KO"
dmesg | grep -E 'rvs: ' | sed 's/^/  kernel: /'

step "the unmodified ipvsadm configures rvs over the IPVS generic netlink family"
show ipvsadm -v
show ipvsadm -A -t 10.0.0.100:80 -s rr
show ipvsadm -a -t 10.0.0.100:80 -r 192.168.10.11:8080 -m -w 2
show ipvsadm -a -t 10.0.0.100:80 -r 192.168.10.12:8080 -m -w 1
show ipvsadm -A -u 10.0.0.100:53 -s wlc -p 60
show ipvsadm -Ln
show ipvsadm -a -t 10.0.0.100:80 -r 192.168.10.11:8080 -m
show ipvsadm --set 600 60 120
show ipvsadm -L --timeout

step "rvsadm speaks the same ABI and prints the same text"
show "$RVSADM" --version
show "$RVSADM" -e -t 10.0.0.100:80 -r 192.168.10.12:8080 -m -w 0
show "$RVSADM" -Ln
show "$RVSADM" -S -n
show "$RVSADM" -L --json
show "$RVSADM" -A -t 10.0.0.100:0 -s rr

step "/proc/net/ip_vs and the sysctls, as in IPVS"
show cat /proc/net/ip_vs
show ls /proc/sys/net/ipv4/vs/

step "state is per network namespace"
ip netns add demo
show ip netns exec demo ipvsadm -L --timeout
ip netns del demo

step "without CAP_NET_ADMIN the answer is EPERM, as with ip_vs"
show setpriv --reuid=65534 --regid=65534 --clear-groups -- "$RVSADM" -Ln

step "netfilter hooks at IPVS's points and priorities"
nft list hooks 2>/dev/null | grep -E 'hook (input|output|forward)|rvs_' | sed -E 's/^/  /; s/rvs_rs_nf_[a-z_]+/rvs hook/'

step "rvs unloads cleanly, services and all"
show rmmod rvs
show "$RVSADM" -Ln
echo
echo "demo done"
