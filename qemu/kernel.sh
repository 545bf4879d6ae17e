#!/usr/bin/env bash
# Builds (once) the rvs test kernel of one flavour and prints its build directory.
#
#   qemu/kernel.sh release|debug
#
# The build lives in $RVS_CACHE/kernel/<flavour>-<key>, where <key> hashes everything that shapes the
# result: the Debian kernel source package version, the config fragments, the build recipe version
# below and the toolchain versions. A second run with the same inputs reuses it; a build is marked
# complete only at its very end, so an interrupted one is wiped and redone. Concurrent callers wait
# for each other (flock).
set -euo pipefail
. "$(dirname "$0")/env.sh"

flavour=${1:-release}
case "$flavour" in release|debug) ;; *) echo "kernel: unknown flavour '$flavour' (release|debug)" >&2; exit 2 ;; esac

# Bump when a change to this script changes what it builds (options, make targets, install steps).
RECIPE_VERSION=2

log() { printf 'kernel[%s]: %s\n' "$flavour" "$*" >&2; }
die() { log "ERROR: $*"; exit 1; }

fragments=("$RVS_ROOT/qemu/config/base.config")
[ "$flavour" = debug ] && fragments+=("$RVS_ROOT/qemu/config/debug.config")

src_pkg_version=$(dpkg-query -W -f='${Version}' linux-source-6.12 2>/dev/null) \
	|| die "linux-source-6.12 is not installed (run qemu/deps.sh)"
key=$({
	echo "$src_pkg_version"
	echo "recipe $RECIPE_VERSION"
	cat "${fragments[@]}" "$RVS_ROOT/qemu/env.sh"
	/usr/bin/rustc --version; bindgen --version; clang-19 --version | head -n1
} | sha256sum | cut -c1-16)
out="$RVS_CACHE/kernel/$flavour-$key"
mkdir -p "$RVS_CACHE/kernel"
exec 9>"$RVS_CACHE/kernel/.lock-$flavour"
flock 9
if [ -f "$out/.complete" ]; then
	echo "$out"
	exit 0
fi

# The source tree is unpacked once per source package version and then only read (O= builds).
src="$RVS_CACHE/src/linux-source-$src_pkg_version"
if [ ! -f "$src/.complete" ]; then
	log "unpacking /usr/src/linux-source-6.12.tar.xz"
	rm -rf "$src" && mkdir -p "$src"
	tar -xJf /usr/src/linux-source-6.12.tar.xz -C "$src" --strip-components=1
	touch "$src/.complete"
fi

# Built in place: a kernel build directory must not move afterwards.
rm -rf "$out" && mkdir -p "$out"
kmake() { make -C "$src" O="$out" "${RVS_KMAKE_VARS[@]}" "$@"; }

log "configuring (tinyconfig + ${fragments[*]##*/})"
kmake -s tinyconfig >/dev/null
# (merge_config.sh keeps its temporaries in the current directory.)
(cd "$out" && "$src/scripts/kconfig/merge_config.sh" -m -O "$out" "$out/.config" "${fragments[@]}") \
	>"$out/merge.log" 2>&1 || { cat "$out/merge.log" >&2; die "merge_config.sh failed"; }
kmake -s olddefconfig >/dev/null
# Kconfig silently drops what it cannot satisfy (RUST without a usable toolchain, KASAN without
# clang...): check that the options everything else relies on survived.
must=(CONFIG_RUST=y CONFIG_MODULES=y CONFIG_NET_NS=y CONFIG_NETFILTER=y CONFIG_VETH=m CONFIG_IP_VS=m
	CONFIG_IP_VS_RR=m CONFIG_9P_FS=y CONFIG_SERIAL_8250_CONSOLE=y CONFIG_TMPFS_XATTR=y
	CONFIG_NETFILTER_NETLINK_HOOK=m CONFIG_NET_FOU=y CONFIG_NET_IPGRE=m)
[ "$flavour" = release ] && must+=(CONFIG_ACPI=y)
[ "$flavour" = debug ] && must+=(CONFIG_KASAN=y CONFIG_DEBUG_KMEMLEAK=y CONFIG_PROVE_LOCKING=y
	CONFIG_PROVE_RCU=y CONFIG_DEBUG_ATOMIC_SLEEP=y CONFIG_DEBUG_OBJECTS_RCU_HEAD=y CONFIG_LKDTM=m)
for opt in "${must[@]}"; do
	grep -qx "$opt" "$out/.config" || {
		kmake -s rustavailable >&2 || true
		die "$opt did not survive olddefconfig (see $out/merge.log)"
	}
done

log "building (log: $out/build.log); progress every 200 steps"
start=$(date +%s)
if ! kmake -j"$(nproc)" all 2>&1 | tee "$out/build.log" | awk -v tag="kernel[$flavour]" \
	'NR % 200 == 0 { printf "%s: %5d steps, now %s\n", tag, NR, $0 > "/dev/stderr"; fflush("/dev/stderr") }'; then
	tail -n 40 "$out/build.log" >&2
	die "kernel build failed"
fi
grep -q ' error' "$out/build.log" && ! [ -f "$out/arch/x86/boot/bzImage" ] && die "kernel build failed"
kmake -s modules_install INSTALL_MOD_PATH="$out/modroot" INSTALL_MOD_STRIP=1 >/dev/null
log "built in $(( $(date +%s) - start )) s"

touch "$out/.complete"
# Builds of older keys of this flavour are dead weight.
find "$RVS_CACHE/kernel" -maxdepth 1 -name "$flavour-*" ! -name "$flavour-$key*" -exec rm -rf {} + 2>/dev/null || true
echo "$out"
