#!/usr/bin/env bash
# Installs (idempotently) and then verifies every host dependency of rvs: the kernel source, the
# Rust-for-Linux toolchain, QEMU and the userspace tools that the selftests run inside the guest.
# A piece that is missing or has drifted from the pinned version fails with one line naming it.
set -euo pipefail

# Pinned versions: a change here changes the kernel cache key (qemu/kernel.sh hashes this file).
KERNEL_SOURCE_PKG=linux-source-6.12
RUSTC_MAJOR_MINOR=1.96
BINDGEN_VERSION=0.69.5
LLVM_MAJOR=19

APT_PACKAGES=(
	"$KERNEL_SOURCE_PKG" rustc-web rust-web-src rust-web-clippy
	"clang-$LLVM_MAJOR" "lld-$LLVM_MAJOR" "llvm-$LLVM_MAJOR" "libclang-$LLVM_MAJOR-dev"
	make flex bison bc cpio xz-utils libelf-dev libssl-dev python3
	qemu-system-x86 kmod iproute2 iputils-ping ipvsadm keepalived socat curl iperf3 nftables ethtool procps util-linux
)

say() { printf 'deps: %s\n' "$*" >&2; }
die() { printf 'deps: ERROR: %s\n' "$*" >&2; exit 1; }

need_root_for() {
	[ "$(id -u)" = 0 ] || die "installing $1 needs root (run as root or install it yourself)"
}

install_apt() {
	local missing=() p
	for p in "${APT_PACKAGES[@]}"; do
		dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q 'install ok installed' || missing+=("$p")
	done
	[ ${#missing[@]} -eq 0 ] && return 0
	need_root_for "${missing[*]}"
	say "installing Debian packages: ${missing[*]}"
	# An old or empty package list makes apt-get report packages as missing: refresh it once.
	apt-get update -qq >/dev/null || die "apt-get update failed"
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null \
		|| die "apt-get install failed for: ${missing[*]}"
}

install_bindgen() {
	local have
	have=$(bindgen --version 2>/dev/null | awk '{print $2}') || true
	[ "$have" = "$BINDGEN_VERSION" ] && return 0
	command -v cargo >/dev/null || die "cargo is missing (needed to install bindgen-cli $BINDGEN_VERSION)"
	say "installing bindgen-cli $BINDGEN_VERSION with cargo (found: ${have:-none})"
	LIBCLANG_PATH=/usr/lib/llvm-$LLVM_MAJOR/lib cargo install --quiet --locked --force \
		bindgen-cli --version "$BINDGEN_VERSION" || die "cargo install bindgen-cli $BINDGEN_VERSION failed"
}

verify() {
	local v
	ls /usr/src/$KERNEL_SOURCE_PKG.tar.xz >/dev/null 2>&1 || die "$KERNEL_SOURCE_PKG: /usr/src/$KERNEL_SOURCE_PKG.tar.xz missing"
	v=$(/usr/bin/rustc --version 2>/dev/null | awk '{print $2}') || true
	case "$v" in "$RUSTC_MAJOR_MINOR".*) ;; *) die "rustc-web: /usr/bin/rustc is '${v:-missing}', want $RUSTC_MAJOR_MINOR.x" ;; esac
	[ -f "$(/usr/bin/rustc --print sysroot)/lib/rustlib/src/rust/library/core/src/lib.rs" ] \
		|| die "rust-web-src: core library sources missing under $(/usr/bin/rustc --print sysroot)/lib/rustlib/src"
	v=$(bindgen --version 2>/dev/null | awk '{print $2}') || true
	[ "$v" = "$BINDGEN_VERSION" ] || die "bindgen-cli: found '${v:-none}', want $BINDGEN_VERSION"
	[ -x /usr/bin/clippy-driver ] || die "rust-web-clippy: /usr/bin/clippy-driver missing"
	for v in clang ld.lld llvm-ar llvm-nm llvm-objcopy; do
		command -v "$v-$LLVM_MAJOR" >/dev/null || die "LLVM $LLVM_MAJOR: $v-$LLVM_MAJOR missing"
	done
	for v in qemu-system-x86_64 ipvsadm keepalived socat ip ping modprobe insmod rmmod curl nft ethtool setpriv; do
		command -v "$v" >/dev/null || die "$v missing from PATH"
	done
}

[ "${1:-}" = --check ] || { install_apt; install_bindgen; }
verify
say "all dependencies present"
