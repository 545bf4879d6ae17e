#!/usr/bin/env bash
# Host tests: cargo test of rvsadm and of the module's kernel-independent logic, then rustfmt and
# clippy of the userspace crates. Prints cargo's own result lines.
set -euo pipefail
cd "$(dirname "$0")/../.."
export PATH="$HOME/.cargo/bin:$PATH"
cargo test --workspace --release 2>&1
