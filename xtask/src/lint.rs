//! `cargo xtask lint` and `cargo xtask host-test`.
//!
//! Lint: rustfmt (the kernel's .rustfmt.toml for the module, cargo fmt for the host crates), clippy
//! with warnings as errors for rvs.ko (Debian's clippy-driver, matching the kernel's rustc) and for
//! the host crates. Host tests: `cargo test` of the workspace: rvsadm, the module's
//! kernel-independent logic (rust/hosttest) and xtask's own planning.

use std::process::{Command, Stdio};

use crate::kernel::{self, Flavour};
use crate::module::{self, Target};
use crate::toolchain;
use crate::util::{command, root, Result};

/// Runs `c`, appending its output to `log`; true if it succeeded.
fn step(log: &mut String, what: &str, c: &mut Command) -> bool {
    log.push_str(&format!("lint: {what}\n"));
    match c.stdin(Stdio::null()).output() {
        Ok(o) => {
            log.push_str(&String::from_utf8_lossy(&o.stdout));
            log.push_str(&String::from_utf8_lossy(&o.stderr));
            o.status.success()
        }
        Err(e) => {
            log.push_str(&format!("cannot run {:?}: {e}\n", c.get_program()));
            false
        }
    }
}

/// The module's Rust files as git knows them (rust/hosttest is a host crate).
fn module_sources() -> Vec<String> {
    let out = command("git")
        .args(["ls-files", "rust/*.rs", ":!rust/hosttest/*"])
        .output();
    out.map(|o| {
        String::from_utf8_lossy(&o.stdout)
            .lines()
            .map(str::to_string)
            .collect()
    })
    .unwrap_or_default()
}

/// Every lint; (clean, what they printed).
pub fn lint_captured() -> (bool, String) {
    let mut log = String::new();
    let mut ok = true;
    match kernel::ensure(Flavour::Release).and_then(|k| kernel::source_of(&k)) {
        Ok(ksrc) => {
            ok &= step(
                &mut log,
                "rustfmt (module)",
                command("rustfmt")
                    .args(["--edition", "2021", "--check", "--config-path"])
                    .arg(ksrc.join(".rustfmt.toml"))
                    .args(module_sources()),
            );
        }
        Err(e) => {
            log.push_str(&format!("lint: no release kernel: {e}\n"));
            ok = false;
        }
    }
    ok &= step(
        &mut log,
        "cargo fmt (host crates)",
        command(toolchain::cargo()).args(["fmt", "--all", "--check"]),
    );
    log.push_str("lint: clippy (module)\n");
    let clippy = [
        "CLIPPY=1".to_string(),
        format!("CLIPPY_DRIVER={}", toolchain::CLIPPY_DRIVER),
        "KRUSTFLAGS=-Dwarnings".to_string(),
    ];
    if let Err(e) = module::build_with(&Target::Test(Flavour::Release), "-clippy", &clippy) {
        log.push_str(&format!("{e}\n"));
        ok = false;
    }
    ok &= step(
        &mut log,
        "clippy (host crates)",
        command(toolchain::cargo()).args([
            "clippy",
            "--workspace",
            "--all-targets",
            "--quiet",
            "--",
            "-D",
            "warnings",
        ]),
    );
    if ok {
        log.push_str("lint: clean\n");
    }
    (ok, log)
}

/// `cargo test` of the workspace; (success, its output).
pub fn host_tests_captured() -> (bool, String) {
    let mut log = String::new();
    let ok = step(
        &mut log,
        "cargo test",
        command(toolchain::cargo()).args(["test", "--workspace", "--release"]),
    );
    (ok, log)
}

pub fn lint_main() -> Result<i32> {
    let (ok, log) = lint_captured();
    print!("{log}");
    Ok(if ok { 0 } else { 1 })
}

pub fn host_test_main() -> Result<i32> {
    let status = command(toolchain::cargo())
        .args(["test", "--workspace", "--release"])
        .current_dir(root())
        .status()?;
    Ok(status.code().unwrap_or(1))
}
