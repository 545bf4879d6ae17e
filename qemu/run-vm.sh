#!/usr/bin/env bash
# The VM runner: boots the rvs test kernel under QEMU, loads the module under test, runs a command
# as root in the guest and returns its exit status.
#
#   qemu/run-vm.sh [--kernel release|debug] [--module rvs|ipvs|none] [--timeout SECONDS] -- CMD...
#
# The guest's root file system is the host's, seen read-only over 9p under a tmpfs overlay: the
# project tree and every host tool (ipvsadm, keepalived, socat, ...) are at the same paths, and
# nothing the guest writes reaches the host except through the run directory ($RVS_RUN, shared
# read-write at the same path). The guest has no network device: test traffic stays on veth pairs
# inside it. After CMD the module is unloaded, and any oops, WARN, BUG, KASAN, lockdep or kmemleak
# report in the guest's kernel log fails the run and is printed.
set -euo pipefail
. "$(dirname "$0")/env.sh"

kernel=${KERNEL:-release}
module=${MODULE:-rvs}
timeout_s=${RVS_VM_TIMEOUT:-2400}
while [ $# -gt 0 ]; do
	case "$1" in
	--kernel) kernel=$2; shift 2 ;;
	--module) module=$2; shift 2 ;;
	--timeout) timeout_s=$2; shift 2 ;;
	--) shift; break ;;
	-*) echo "run-vm: unknown option $1" >&2; exit 2 ;;
	*) break ;;
	esac
done
[ $# -gt 0 ] || { echo "usage: run-vm.sh [--kernel release|debug] [--module rvs|ipvs|none] -- CMD..." >&2; exit 2; }
case "$module" in rvs|ipvs|none) ;; *) echo "run-vm: MODULE must be rvs, ipvs or none" >&2; exit 2 ;; esac

# RVS_KDIR uses a given kernel build directory instead of the cached one of the flavour.
kdir=${RVS_KDIR:-$("$RVS_ROOT/qemu/kernel.sh" "$kernel")}
# rvs.ko is also at hand without a module loaded (MODULE=none), for scripts that load it
# themselves (the benchmark).
if [ "$module" != ipvs ]; then
	make -s -C "$RVS_ROOT" module KDIR="$kdir" >&2
fi
make -s -C "$RVS_ROOT" rvsadm >&2

run=$(mktemp -d "${TMPDIR:-/tmp}/rvs-run.XXXXXX")
trap 'rm -rf "$run"' EXIT
chmod 755 "$run"
if [ "$module" != ipvs ]; then
	# The guest loads a copy, so that a rebuild on the host during the run cannot change it.
	cp "$RVS_ROOT/rvs.ko" "$run/rvs.ko"
fi
{
	printf 'export RVS_ROOT=%q RVS_RUN=%q MODULE=%q KERNEL=%q RVS_KO=%q\n' \
		"$RVS_ROOT" "$run" "$module" "$kernel" "$run/rvs.ko"
	printf 'export RVS_MODROOT=%q RVS_CWD=%q\n' "$kdir/modroot" "$PWD"
	printf 'export RVS_VERBOSE=%q\n' "${RVS_VERBOSE:-0}"
} >"$run/env"
# The command goes through a file, not the kernel command line, so that any quoting survives.
printf '%s\n' "$*" >"$run/cmd"

mem=1G smp=2
# The debug kernel has no ACPI (see qemu/config/debug.config), hence one vCPU.
[ "$kernel" = debug ] && mem=2G smp=1
accel=tcg,thread=multi
[ "${RVS_KVM:-0}" = 1 ] && accel=kvm
echo "vm: booting the $kernel kernel ($accel), module $module" >&2
set +e
timeout --foreground -k 10 "$timeout_s" qemu-system-x86_64 \
	-accel "$accel" -cpu max -smp "$smp" -m "$mem" \
	-nodefaults -no-user-config -display none -no-reboot \
	-chardev stdio,id=console,signal=off -serial chardev:console \
	-kernel "$kdir/arch/x86/boot/bzImage" \
	-fsdev local,id=hostroot,path=/,security_model=none,readonly=on,multidevs=remap \
	-device virtio-9p-pci,fsdev=hostroot,mount_tag=hostroot \
	-fsdev local,id=rvsrun,path="$run",security_model=none \
	-device virtio-9p-pci,fsdev=rvsrun,mount_tag=rvsrun \
	-append "root=hostroot rootfstype=9p rootflags=trans=virtio,version=9p2000.L,msize=512000,cache=loose ro \
console=ttyS0 loglevel=4 panic=-1 init=$RVS_ROOT/qemu/guest-init.sh RVS_RUN=$run" \
	</dev/null
qemu_rc=$?
set -e

if [ ! -f "$run/rc" ]; then
	[ "$qemu_rc" = 124 ] && echo "vm: FAIL: timed out after ${timeout_s}s" >&2 \
		|| echo "vm: FAIL: the guest stopped before CMD finished (qemu exit $qemu_rc; kernel panic?)" >&2
	exit 125
fi
rc=$(cat "$run/rc")
if [ -s "$run/splats" ]; then
	echo "vm: FAIL: the guest kernel reported problems:" >&2
	cat "$run/splats" >&2
	[ "$rc" = 0 ] && rc=124
fi
exit "$rc"
