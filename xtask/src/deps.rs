//! `cargo xtask deps [--check]`: installs (idempotently) and then verifies every host dependency:
//! the kernel source, the Rust-for-Linux toolchain, QEMU and the tools the selftests run in the
//! guest. A missing or drifted piece fails with one line naming it.

use std::path::Path;
use std::process::Stdio;

use crate::toolchain::{self, APT_PACKAGES, BINDGEN_VERSION, LLVM_MAJOR, RUSTC, RUSTC_MAJOR_MINOR};
use crate::util::{bail, command, run, version_of, Result};

fn say(msg: &str) {
    eprintln!("deps: {msg}");
}

fn is_root() -> bool {
    // The effective uid of this process, from /proc: no libc needed.
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("Uid:"))
                .and_then(|l| l.split_whitespace().nth(2).map(|u| u == "0"))
        })
        .unwrap_or(false)
}

fn apt_installed(pkg: &str) -> bool {
    command("dpkg-query")
        .args(["-W", "-f=${Status}", pkg])
        .stderr(Stdio::null())
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).contains("install ok installed"))
        .unwrap_or(false)
}

fn install_apt() -> Result<()> {
    let missing: Vec<&str> = APT_PACKAGES
        .iter()
        .copied()
        .filter(|p| !apt_installed(p))
        .collect();
    if missing.is_empty() {
        return Ok(());
    }
    if !is_root() {
        bail!(
            "installing {} needs root (run as root or install them yourself)",
            missing.join(" ")
        );
    }
    say(&format!(
        "installing Debian packages: {}",
        missing.join(" ")
    ));
    // An old or empty package list makes apt-get report packages as missing: refresh it once.
    run(
        command("apt-get")
            .args(["update", "-qq"])
            .stdout(Stdio::null()),
        "apt-get update",
    )?;
    run(
        command("apt-get")
            .args(["install", "-y", "-qq", "--no-install-recommends"])
            .args(&missing)
            .env("DEBIAN_FRONTEND", "noninteractive")
            .stdout(Stdio::null()),
        &format!("apt-get install {}", missing.join(" ")),
    )
}

fn bindgen_version() -> String {
    let v = version_of(&toolchain::bindgen().to_string_lossy(), &["--version"]);
    v.split_whitespace().nth(1).unwrap_or("").to_string()
}

fn install_bindgen() -> Result<()> {
    let have = bindgen_version();
    if have == BINDGEN_VERSION {
        return Ok(());
    }
    say(&format!(
        "installing bindgen-cli {BINDGEN_VERSION} with cargo (found: {})",
        if have.is_empty() { "none" } else { &have }
    ));
    run(
        command(toolchain::cargo())
            .args([
                "install",
                "--quiet",
                "--locked",
                "--force",
                "bindgen-cli",
                "--version",
            ])
            .arg(BINDGEN_VERSION)
            .env("LIBCLANG_PATH", format!("/usr/lib/llvm-{LLVM_MAJOR}/lib")),
        &format!("cargo install bindgen-cli {BINDGEN_VERSION}"),
    )
}

fn on_path(cmd: &str) -> bool {
    crate::toolchain::path_env()
        .split(':')
        .chain(["/usr/sbin", "/sbin"])
        .any(|d| Path::new(d).join(cmd).exists())
}

fn verify() -> Result<()> {
    let src = format!("/usr/src/{}.tar.xz", toolchain::KERNEL_SOURCE_PKG);
    if !Path::new(&src).exists() {
        bail!("{}: {src} missing", toolchain::KERNEL_SOURCE_PKG);
    }
    let rustc = version_of(RUSTC, &["--version"]);
    let v = rustc.split_whitespace().nth(1).unwrap_or("");
    if !v.starts_with(&format!("{RUSTC_MAJOR_MINOR}.")) {
        bail!("rustc-web: {RUSTC} is '{rustc}', want {RUSTC_MAJOR_MINOR}.x");
    }
    let sysroot = version_of(RUSTC, &["--print", "sysroot"]);
    if !Path::new(&sysroot)
        .join("lib/rustlib/src/rust/library/core/src/lib.rs")
        .exists()
    {
        bail!("rust-web-src: core library sources missing under {sysroot}/lib/rustlib/src");
    }
    let b = bindgen_version();
    if b != BINDGEN_VERSION {
        bail!("bindgen-cli: found '{b}', want {BINDGEN_VERSION}");
    }
    if !Path::new(toolchain::CLIPPY_DRIVER).exists() {
        bail!("rust-web-clippy: {} missing", toolchain::CLIPPY_DRIVER);
    }
    for tool in ["clang", "ld.lld", "llvm-ar", "llvm-nm", "llvm-objcopy"] {
        if !on_path(&format!("{tool}-{LLVM_MAJOR}")) {
            bail!("LLVM {LLVM_MAJOR}: {tool}-{LLVM_MAJOR} missing");
        }
    }
    for cmd in toolchain::REQUIRED_COMMANDS {
        if !on_path(cmd) {
            bail!("{cmd} missing from PATH");
        }
    }
    Ok(())
}

/// Installs what is missing and verifies everything (quietly when nothing was missing).
pub fn ensure() -> Result<()> {
    install_apt()?;
    install_bindgen()?;
    verify()
}

pub fn main(args: &[String]) -> Result<i32> {
    if !args.iter().any(|a| a == "--check") {
        install_apt()?;
        install_bindgen()?;
    }
    verify()?;
    say("all dependencies present");
    Ok(0)
}
