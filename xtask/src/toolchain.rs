//! The one place that says which tools build the kernel, rvs.ko and the host crates, and which
//! packages the host needs. The kernel's cache key hashes [`describe`], so a change here rebuilds
//! the test kernels.

use std::path::PathBuf;

/// Debian's kernel source package; its version is part of the kernel cache key.
pub const KERNEL_SOURCE_PKG: &str = "linux-source-6.12";
/// Rust in the kernel must be built with Debian's rustc-web: it ships the library sources
/// (rust-web-src) that the kernel needs, which the rustup toolchain first in PATH lacks. The same
/// rustc must build the kernel and every module.
pub const RUSTC: &str = "/usr/bin/rustc";
pub const RUSTDOC: &str = "/usr/bin/rustdoc";
pub const CLIPPY_DRIVER: &str = "/usr/bin/clippy-driver";
pub const RUSTC_MAJOR_MINOR: &str = "1.96";
pub const BINDGEN_VERSION: &str = "0.69.5";
pub const LLVM_MAJOR: u32 = 19;

/// Debian packages: the kernel source and its toolchain, QEMU, and the userspace tools that the
/// selftests run inside the guest (the guest sees the host's root file system).
pub const APT_PACKAGES: &[&str] = &[
    KERNEL_SOURCE_PKG,
    "rustc-web",
    "rust-web-src",
    "rust-web-clippy",
    "clang-19",
    "lld-19",
    "llvm-19",
    "libclang-19-dev",
    "make",
    "flex",
    "bison",
    "bc",
    "cpio",
    "xz-utils",
    "libelf-dev",
    "libssl-dev",
    "python3",
    "qemu-system-x86",
    "kmod",
    "iproute2",
    "iputils-ping",
    "ipvsadm",
    "keepalived",
    // BGP speaker of an active-active set of directors behind an ECMP router.
    "bird2",
    "socat",
    "curl",
    "iperf3",
    "nftables",
    "ethtool",
    // The director benchmark's TCP SYN generator (trafgen) and its plot.
    "netsniff-ng",
    "gnuplot-nox",
    "procps",
    "util-linux",
];

/// Commands that must be on PATH after the install (the guest runs them from the host's tree).
pub const REQUIRED_COMMANDS: &[&str] = &[
    "qemu-system-x86_64",
    "ipvsadm",
    "keepalived",
    "bird",
    "birdc",
    "socat",
    "ip",
    "ping",
    "modprobe",
    "insmod",
    "rmmod",
    "curl",
    "nft",
    "ethtool",
    "setpriv",
    "iperf3",
    "python3",
    "trafgen",
    "gnuplot",
];

fn home() -> PathBuf {
    PathBuf::from(std::env::var_os("HOME").unwrap_or_else(|| "/root".into()))
}

/// bindgen-cli, installed by `cargo install` (Debian's is too old for the kernel's flags).
pub fn bindgen() -> PathBuf {
    home().join(".cargo/bin/bindgen")
}

/// The rustup cargo that builds the host crates.
pub fn cargo() -> PathBuf {
    let rustup = home().join(".cargo/bin/cargo");
    if rustup.exists() {
        rustup
    } else {
        PathBuf::from("cargo")
    }
}

/// PATH for every child: cargo's bin (bindgen) and LLVM's unversioned names first.
pub fn path_env() -> String {
    let old = std::env::var("PATH").unwrap_or_default();
    format!(
        "{}:/usr/lib/llvm-{LLVM_MAJOR}/bin:{old}",
        home().join(".cargo/bin").display()
    )
}

/// The variables of every kernel `make` (the kernel itself, rvs.ko, clippy of rvs.ko).
pub fn kmake_vars() -> Vec<String> {
    vec![
        format!("LLVM=-{LLVM_MAJOR}"),
        format!("RUSTC={RUSTC}"),
        format!("HOSTRUSTC={RUSTC}"),
        format!("RUSTDOC={RUSTDOC}"),
        format!("BINDGEN={}", bindgen().display()),
    ]
}

/// What [`kmake_vars`] means, for the kernel cache key (home-independent).
pub fn describe() -> String {
    format!(
        "LLVM=-{LLVM_MAJOR} RUSTC={RUSTC} HOSTRUSTC={RUSTC} RUSTDOC={RUSTDOC} BINDGEN=bindgen-cli {BINDGEN_VERSION}"
    )
}
