# Sourced by every rvs script: one place for the toolchain and cache settings, so that the kernel,
# rvs.ko and the VM runner always agree on them.
# shellcheck shell=bash

RVS_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The kernel cache lives outside the clone so that a fresh clone (CI) reuses a previous build.
RVS_CACHE=${RVS_CACHE:-/var/cache/rvs}
export PATH="$HOME/.cargo/bin:/usr/lib/llvm-19/bin:$PATH"

# Rust in the kernel must be built with Debian's rustc-web (it ships rust-src); the rustup toolchain
# first in PATH has none. The same rustc must build the kernel and every module.
RVS_KMAKE_VARS=(
	LLVM=-19
	RUSTC=/usr/bin/rustc
	HOSTRUSTC=/usr/bin/rustc
	RUSTDOC=/usr/bin/rustdoc
	BINDGEN="$HOME/.cargo/bin/bindgen"
)
