//! `cargo xtask kernel [release|debug]`: builds (once) the test kernel of one flavour and prints its
//! build directory.
//!
//! The build lives in `$RVS_CACHE/kernel/<flavour>-<key>`, where the key hashes everything that
//! shapes the result: the Debian kernel source package version, the config fragments, the recipe
//! version below and the toolchain. A second run with the same inputs reuses it; a build is marked
//! complete only at its very end, so an interrupted one is redone. Concurrent callers wait for
//! each other (a lock file per flavour).

use std::fs::{self, File};
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use crate::toolchain::{self, KERNEL_SOURCE_PKG, LLVM_MAJOR};
use crate::util::{
    bail, cache_dir, command, hash_file, hash_hex, output, root, run, version_of, Error, Result,
};

/// Bump when a change to this file changes what it builds (options, make targets, install steps).
const RECIPE_VERSION: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Flavour {
    Release,
    Debug,
}

impl Flavour {
    pub fn parse(s: &str) -> Result<Flavour> {
        match s {
            "release" => Ok(Flavour::Release),
            "debug" => Ok(Flavour::Debug),
            _ => bail!("unknown kernel flavour '{s}' (release|debug)"),
        }
    }
    pub fn name(self) -> &'static str {
        match self {
            Flavour::Release => "release",
            Flavour::Debug => "debug",
        }
    }
    fn fragments(self) -> Vec<PathBuf> {
        let dir = root().join("qemu/config");
        let mut f = vec![dir.join("base.config")];
        if self == Flavour::Debug {
            f.push(dir.join("debug.config"));
        }
        f
    }
    /// Options that everything else relies on: Kconfig silently drops what it cannot satisfy
    /// (RUST without a usable toolchain, KASAN without clang...).
    fn must_have(self) -> Vec<&'static str> {
        let mut must = vec![
            "CONFIG_RUST=y",
            "CONFIG_MODULES=y",
            "CONFIG_NET_NS=y",
            "CONFIG_NETFILTER=y",
            "CONFIG_VETH=m",
            "CONFIG_IP_VS=m",
            "CONFIG_IP_VS_RR=m",
            "CONFIG_9P_FS=y",
            "CONFIG_SERIAL_8250_CONSOLE=y",
            "CONFIG_TMPFS_XATTR=y",
            "CONFIG_NETFILTER_NETLINK_HOOK=m",
            "CONFIG_NET_FOU=y",
            "CONFIG_NET_IPGRE=m",
        ];
        match self {
            Flavour::Release => must.push("CONFIG_ACPI=y"),
            Flavour::Debug => must.extend([
                "CONFIG_KASAN=y",
                "CONFIG_DEBUG_KMEMLEAK=y",
                "CONFIG_PROVE_LOCKING=y",
                "CONFIG_PROVE_RCU=y",
                "CONFIG_DEBUG_ATOMIC_SLEEP=y",
                "CONFIG_DEBUG_OBJECTS_RCU_HEAD=y",
                "CONFIG_LKDTM=m",
            ]),
        }
        must
    }
}

fn log(f: Flavour, msg: &str) {
    eprintln!("kernel[{}]: {msg}", f.name());
}

fn source_version() -> Result<String> {
    output(
        command("dpkg-query").args(["-W", "-f=${Version}", KERNEL_SOURCE_PKG]),
        &format!("{KERNEL_SOURCE_PKG} is not installed (run cargo xtask deps); dpkg-query"),
    )
}

/// The cache key of a flavour: what the kernel is built from and with.
pub fn key(f: Flavour) -> Result<String> {
    let version = source_version()?;
    let tools = [
        version_of(toolchain::RUSTC, &["--version"]),
        version_of(&toolchain::bindgen().to_string_lossy(), &["--version"]),
        version_of(&format!("clang-{LLVM_MAJOR}"), &["--version"]),
    ];
    Ok(hash_hex(16, |h| {
        use sha2::Digest;
        h.update(format!(
            "{version}\nrecipe {RECIPE_VERSION}\n{}\n",
            toolchain::describe()
        ));
        for t in &tools {
            h.update(t.as_bytes());
            h.update(b"\n");
        }
        for frag in f.fragments() {
            hash_file(h, &frag);
        }
    }))
}

/// The build directory of a flavour, built first if needed.
pub fn ensure(f: Flavour) -> Result<PathBuf> {
    let key = key(f)?;
    let kernels = cache_dir().join("kernel");
    fs::create_dir_all(&kernels)?;
    let out = kernels.join(format!("{}-{key}", f.name()));
    let lock = File::create(kernels.join(format!(".lock-{}", f.name())))?;
    lock.lock()?;
    if out.join(".complete").exists() {
        return Ok(out);
    }
    build(f, &out)?;
    File::create(out.join(".complete"))?;
    // Builds of older keys of this flavour are dead weight.
    for entry in fs::read_dir(&kernels)?.flatten() {
        let name = entry.file_name().to_string_lossy().to_string();
        if name.starts_with(&format!("{}-", f.name())) && entry.path() != out {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
    Ok(out)
}

fn kmake(src: &Path, out: &Path) -> Command {
    let mut c = command("make");
    c.arg("-C")
        .arg(src)
        .arg(format!("O={}", out.display()))
        .args(toolchain::kmake_vars());
    c
}

fn build(f: Flavour, out: &Path) -> Result<()> {
    // The source tree is unpacked once per source package version and then only read (O= builds).
    let src = cache_dir().join(format!("src/linux-source-{}", source_version()?));
    fs::create_dir_all(cache_dir().join("src"))?;
    // Both flavours may build at once: one unpacks, the other waits.
    let unpack_lock = File::create(cache_dir().join("src/.lock"))?;
    unpack_lock.lock()?;
    if !src.join(".complete").exists() {
        log(f, &format!("unpacking /usr/src/{KERNEL_SOURCE_PKG}.tar.xz"));
        let _ = fs::remove_dir_all(&src);
        fs::create_dir_all(&src)?;
        run(
            command("tar")
                .arg("-xJf")
                .arg(format!("/usr/src/{KERNEL_SOURCE_PKG}.tar.xz"))
                .arg("-C")
                .arg(&src)
                .arg("--strip-components=1"),
            "unpacking the kernel source",
        )?;
        File::create(src.join(".complete"))?;
    }
    drop(unpack_lock);
    // Built in place: a kernel build directory must not move afterwards.
    let _ = fs::remove_dir_all(out);
    fs::create_dir_all(out)?;
    let frags = f.fragments();
    let names: Vec<String> = frags
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().to_string())
        .collect();
    log(
        f,
        &format!("configuring (tinyconfig + {})", names.join(" ")),
    );
    run(
        kmake(&src, out)
            .args(["-s", "tinyconfig"])
            .stdout(Stdio::null()),
        "make tinyconfig",
    )?;
    let merge_log = File::create(out.join("merge.log"))?;
    let ok = command(src.join("scripts/kconfig/merge_config.sh"))
        .args(["-m", "-O"])
        .arg(out)
        .arg(out.join(".config"))
        .args(&frags)
        // merge_config.sh keeps its temporaries in the current directory.
        .current_dir(out)
        .stdout(merge_log.try_clone()?)
        .stderr(merge_log)
        .status()?
        .success();
    if !ok {
        bail!("merge_config.sh failed (see {}/merge.log)", out.display());
    }
    run(
        kmake(&src, out)
            .args(["-s", "olddefconfig"])
            .stdout(Stdio::null()),
        "make olddefconfig",
    )?;
    let config = fs::read_to_string(out.join(".config"))?;
    for opt in f.must_have() {
        if !config.lines().any(|l| l == opt) {
            let _ = kmake(&src, out).args(["-s", "rustavailable"]).status();
            bail!(
                "{opt} did not survive olddefconfig (see {}/merge.log)",
                out.display()
            );
        }
    }

    log(
        f,
        &format!(
            "building (log: {}/build.log); progress every 200 steps",
            out.display()
        ),
    );
    let start = Instant::now();
    let mut child = kmake(&src, out)
        .arg(format!("-j{}", crate::util::nproc()))
        .arg("all")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    // Both streams go to the log; stderr through a thread so that neither pipe fills up.
    let mut logf = File::create(out.join("build.log"))?;
    let stderr = child.stderr.take().unwrap();
    let mut err_log = logf.try_clone()?;
    let err_thread = std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(|l| l.ok()) {
            let _ = writeln!(err_log, "{line}");
        }
    });
    for (n, line) in BufReader::new(child.stdout.take().unwrap())
        .lines()
        .map_while(|l| l.ok())
        .enumerate()
    {
        writeln!(logf, "{line}")?;
        if (n + 1) % 200 == 0 {
            log(f, &format!("{:5} steps, now {line}", n + 1));
        }
    }
    let _ = err_thread.join();
    let status = child.wait()?;
    if !status.success() || !out.join("arch/x86/boot/bzImage").exists() {
        let text = fs::read_to_string(out.join("build.log")).unwrap_or_default();
        let tail: Vec<&str> = text.lines().rev().take(40).collect();
        for l in tail.iter().rev() {
            eprintln!("{l}");
        }
        bail!("kernel build failed");
    }
    run(
        kmake(&src, out)
            .args(["-s", "modules_install", "INSTALL_MOD_STRIP=1"])
            .arg(format!(
                "INSTALL_MOD_PATH={}",
                out.join("modroot").display()
            ))
            .stdout(Stdio::null()),
        "make modules_install",
    )?;
    log(f, &format!("built in {} s", start.elapsed().as_secs()));
    Ok(())
}

/// The kernel source tree a build directory was configured from.
pub fn source_of(kdir: &Path) -> Result<PathBuf> {
    let mk = fs::read_to_string(kdir.join("Makefile"))?;
    mk.lines()
        .find_map(|l| {
            l.strip_prefix("include ")
                .and_then(|p| p.strip_suffix("/Makefile"))
        })
        .map(PathBuf::from)
        .ok_or_else(|| Error(format!("{}/Makefile names no source tree", kdir.display())))
}

pub fn main(args: &[String]) -> Result<i32> {
    let f = Flavour::parse(args.first().map(String::as_str).unwrap_or("release"))?;
    println!("{}", ensure(f)?.display());
    Ok(0)
}
