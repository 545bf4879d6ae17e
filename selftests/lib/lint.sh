#!/usr/bin/env bash
# Lint: rustfmt (the kernel's .rustfmt.toml for the module, cargo fmt for the host crates), clippy
# with warnings as errors for rvs.ko (Debian's clippy-driver, matching the kernel's rustc) and for
# the host crates.
set -uo pipefail
. "$(dirname "$0")/../../qemu/env.sh"
cd "$RVS_ROOT"
status=0
kdir=${KDIR:-$("$RVS_ROOT/qemu/kernel.sh" release)}
ksrc=$(sed -n 's/^include \(.*\)\/Makefile$/\1/p' "$kdir/Makefile" | head -n 1)

echo "lint: rustfmt (module)"
mapfile -t module_rs < <(git ls-files 'rust/*.rs' ':!rust/hosttest/*')
rustfmt --edition 2021 --config-path "$ksrc/.rustfmt.toml" --check "${module_rs[@]}" || status=1
echo "lint: cargo fmt (host crates)"
cargo fmt --all --check || status=1
echo "lint: clippy (module)"
make -s -C "$RVS_ROOT" module KDIR="$kdir" \
	KMAKE_EXTRA="CLIPPY=1 CLIPPY_DRIVER=/usr/bin/clippy-driver KRUSTFLAGS=-Dwarnings" || status=1
echo "lint: clippy (host crates)"
cargo clippy --workspace --all-targets --quiet -- -D warnings || status=1
[ "$status" = 0 ] && echo "lint: clean"
exit "$status"
