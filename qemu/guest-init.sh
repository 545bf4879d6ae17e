#!/bin/bash
# PID 1 of the rvs test guest (see xtask/src/vm.rs). Stage 1 runs on the read-only 9p view of the host
# root and switches to a writable overlay of it; stage 2 sets up the guest, loads the module under
# test, runs the command and reports its status, the module unload and the kernel log to $RVS_RUN.
# Any failure here must still end in a power-off, or the host would wait for its timeout.

export PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin
export HOME=/root LANG=C.UTF-8 TERM=dumb

poweroff_now() {
	sync
	echo 1 >/proc/sys/kernel/sysrq 2>/dev/null
	echo b >/proc/sysrq-trigger
	sleep 10
}

if [ "${1:-}" != stage2 ]; then
	mount -t tmpfs -o mode=755 overlay-upper /mnt || poweroff_now
	mkdir -p /mnt/upper /mnt/work /mnt/root
	if ! mount -t overlay overlay -o lowerdir=/,upperdir=/mnt/upper,workdir=/mnt/work /mnt/root; then
		echo "guest-init: cannot mount the root overlay" >/dev/console
		mount -t proc proc /proc
		poweroff_now
	fi
	mount --move /dev /mnt/root/dev 2>/dev/null
	# pivot_root rather than a bare chroot: user namespaces (unshare -U) refuse chrooted callers.
	cd /mnt/root && mkdir -p .oldroot && pivot_root . .oldroot || poweroff_now
	exec chroot . "$0" stage2
fi
umount -l /.oldroot 2>/dev/null

mount -t proc proc /proc
mount -t sysfs sys /sys
mountpoint -q /dev || mount -t devtmpfs dev /dev
mkdir -p /dev/pts /dev/shm
mount -t devpts -o gid=5,mode=620 devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /run
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
ln -sf /proc/self/fd /dev/fd 2>/dev/null

mkdir -p "$RVS_RUN"
mount -t 9p -o trans=virtio,version=9p2000.L,msize=512000 rvsrun "$RVS_RUN" || poweroff_now
. "$RVS_RUN/env"

# The guest kernel's own modules (ip_vs, veth, ipip, ...) replace the host's.
mkdir -p /lib/modules
mount --bind "$RVS_MODROOT/lib/modules" /lib/modules
# Only the module under test may provide the IPVS family: keep in-tree ip_vs from autoloading
# (genl family lookups and ipvsadm/keepalived run modprobe ip_vs) when rvs is tested.
rm -rf /etc/modprobe.d && mkdir -p /etc/modprobe.d
[ "$MODULE" = ipvs ] || echo 'install ip_vs /bin/false' >/etc/modprobe.d/rvs-test.conf

hostname rvs-vm
ip link set lo up
# The NIC, if any, is the link to a peer VM (xtask/src/vm.rs), named for that.
[ -e /sys/class/net/eth0 ] && ip link set eth0 name peer0
# kmemleak: forget what boot left behind, so that only what the run leaks is reported.
[ -w /sys/kernel/debug/kmemleak ] && echo clear >/sys/kernel/debug/kmemleak

load_failed=0
case "$MODULE" in
rvs) insmod "$RVS_KO" || load_failed=1 ;;
ipvs) modprobe ip_vs || load_failed=1 ;;
esac

if [ "$load_failed" = 1 ]; then
	echo "guest-init: loading $MODULE failed" >/dev/console
	rc=126
else
	cd "$RVS_CWD" 2>/dev/null || cd "$RVS_ROOT"
	bash "$RVS_RUN/cmd" </dev/null >/dev/console 2>&1
	rc=$?
	cd /
fi

# Unloading is part of every run: a module that cannot leave fails the run.
case "$MODULE" in
rvs)
	if grep -q '^rvs ' /proc/modules && ! rmmod rvs; then
		echo "guest-init: rmmod rvs failed" >/dev/console
		[ "$rc" = 0 ] && rc=123
	fi
	;;
ipvs) "$RVS_ROOT/selftests/lib/unload-ipvs.sh" 2>/dev/null ;;
esac

if [ -w /sys/kernel/debug/kmemleak ]; then
	# Objects must stay unreferenced across scans (and a few seconds) to be reported.
	echo scan >/sys/kernel/debug/kmemleak
	sleep 5
	echo scan >/sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak >"$RVS_RUN/kmemleak"
fi
dmesg >"$RVS_RUN/dmesg"
{
	grep -E -A40 -f "$RVS_ROOT/qemu/splat-patterns" \
		"$RVS_RUN/dmesg" | head -200
	[ -s "$RVS_RUN/kmemleak" ] && head -100 "$RVS_RUN/kmemleak"
} >"$RVS_RUN/splats"
echo "$rc" >"$RVS_RUN/rc"
poweroff_now
