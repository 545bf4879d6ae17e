//! `cargo xtask module [release|debug] [--kdir DIR]`: builds rvs.ko and prints its path
//! (`target/rvs-release.ko`, `target/rvs-debug.ko`, `target/rvs-kdir-<hash>.ko`).
//!
//! Kbuild builds an external module inside its source directory, for one kernel at a time. To keep
//! one build per kernel (the release and the debug kernel's VMs run side by side), the module's
//! sources are mirrored into `target/kmod/<kernel>/`, rewriting only the files that changed so that
//! Kbuild's rebuilds stay incremental, and built there.

use std::fs;
use std::path::{Path, PathBuf};

use crate::kernel::{self, Flavour};
use crate::toolchain;
use crate::util::{bail, command, hash_hex, root, run, Result};

/// Which kernel a module is built for.
#[derive(Clone, Debug)]
pub enum Target {
    /// A cached test kernel.
    Test(Flavour),
    /// Any kernel build directory (e.g. /lib/modules/$(uname -r)/build).
    Kdir(PathBuf),
}

impl Target {
    pub fn kdir(&self) -> Result<PathBuf> {
        match self {
            Target::Test(f) => kernel::ensure(*f),
            Target::Kdir(d) => Ok(d.clone()),
        }
    }
    fn stage_name(&self) -> String {
        match self {
            Target::Test(f) => f.name().to_string(),
            Target::Kdir(d) => format!(
                "kdir-{}",
                hash_hex(12, |h| {
                    use sha2::Digest;
                    h.update(d.to_string_lossy().as_bytes())
                })
            ),
        }
    }
}

/// The module's sources: Kbuild and rust/ without the host-test crate and generated files.
fn sources() -> Result<Vec<PathBuf>> {
    fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
        for entry in fs::read_dir(dir)?.flatten() {
            let p = entry.path();
            let name = entry.file_name().to_string_lossy().to_string();
            if p.is_dir() {
                if name != "hosttest" {
                    walk(&p, out)?;
                }
            } else if (name.ends_with(".rs") || name.ends_with(".c") || name.ends_with(".h"))
                && name != "bindings_generated.rs"
                && !name.ends_with(".mod.c")
            {
                out.push(p);
            }
        }
        Ok(())
    }
    let mut files = vec![root().join("Kbuild")];
    walk(&root().join("rust"), &mut files)?;
    Ok(files)
}

/// Mirrors the sources into `stage`, touching only files whose contents changed, and removes
/// staged sources that no longer exist.
fn sync_stage(stage: &Path) -> Result<()> {
    let root = root();
    let files = sources()?;
    let mut wanted = std::collections::HashSet::new();
    for src in &files {
        let rel = src.strip_prefix(&root).unwrap();
        let dst = stage.join(rel);
        wanted.insert(dst.clone());
        let data = fs::read(src)?;
        if fs::read(&dst).ok().as_deref() != Some(&data[..]) {
            fs::create_dir_all(dst.parent().unwrap())?;
            fs::write(&dst, &data)?;
        }
    }
    let staged = {
        let mut v = Vec::new();
        if stage.join("rust").exists() {
            fn walk(dir: &Path, out: &mut Vec<PathBuf>) {
                for e in fs::read_dir(dir).into_iter().flatten().flatten() {
                    let p = e.path();
                    if p.is_dir() {
                        walk(&p, out)
                    } else {
                        out.push(p)
                    }
                }
            }
            walk(&stage.join("rust"), &mut v);
        }
        v
    };
    for p in staged {
        let n = p.file_name().unwrap().to_string_lossy().to_string();
        let is_source = n.ends_with(".rs") || n.ends_with(".c") || n.ends_with(".h");
        if is_source
            && !wanted.contains(&p)
            && n != "bindings_generated.rs"
            && !n.ends_with(".mod.c")
        {
            fs::remove_file(&p)?;
        }
    }
    Ok(())
}

/// Builds rvs.ko for `target` (with `extra` make variables, e.g. clippy's) and returns its path.
pub fn build_with(target: &Target, stage_suffix: &str, extra: &[String]) -> Result<PathBuf> {
    let kdir = target.kdir()?;
    if !kdir.join("Makefile").exists() {
        bail!("{} is not a kernel build directory", kdir.display());
    }
    let stage = root()
        .join("target/kmod")
        .join(format!("{}{stage_suffix}", target.stage_name()));
    fs::create_dir_all(&stage)?;
    // One build per stage at a time (a `make vm` beside a running check, say).
    let lock = fs::File::create(stage.join(".lock"))?;
    lock.lock()?;
    sync_stage(&stage)?;
    // Diagnostics name the tree's files, not their staged copies.
    let mut krustflags = format!(
        "--remap-path-prefix={}={}",
        stage.display(),
        root().display()
    );
    let mut vars: Vec<String> = Vec::new();
    for v in extra {
        match v.strip_prefix("KRUSTFLAGS=") {
            Some(f) => {
                krustflags.push(' ');
                krustflags.push_str(f);
            }
            None => vars.push(v.clone()),
        }
    }
    run(
        command("make")
            .arg("-s")
            .arg("-C")
            .arg(&kdir)
            .arg(format!("M={}", stage.display()))
            .args(toolchain::kmake_vars())
            .arg(format!("KRUSTFLAGS={krustflags}"))
            .args(vars)
            .arg("modules"),
        &format!("building rvs.ko against {}", kdir.display()),
    )?;
    // Kbuild rewrites rvs.ko in place; VMs copy the module from a file that is only ever
    // replaced whole, so that a rebuild cannot hand them half a module.
    let name = format!("rvs-{}{stage_suffix}.ko", target.stage_name());
    let built = root().join("target").join(&name);
    let tmp = root().join("target").join(format!(".{name}.tmp"));
    fs::copy(stage.join("rvs.ko"), &tmp)?;
    fs::rename(&tmp, &built)?;
    Ok(built)
}

pub fn build(target: &Target) -> Result<PathBuf> {
    build_with(target, "", &[])
}

/// The host tools the selftests and the demo run in the guest from target/release: rvsadm and
/// the fuzzer, rvs-fuzz.
pub fn build_guest_tools() -> Result<()> {
    run(
        command(toolchain::cargo()).args([
            "build",
            "--release",
            "--quiet",
            "--package",
            "rvsadm",
            "--package",
            "rvs-fuzz",
        ]),
        "building rvsadm and rvs-fuzz",
    )
}

pub fn main(args: &[String]) -> Result<i32> {
    let mut target = Target::Test(Flavour::Release);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--kdir" => match it.next() {
                Some(d) if !d.is_empty() => target = Target::Kdir(PathBuf::from(d)),
                Some(_) => {}
                None => bail!("--kdir needs a directory"),
            },
            f => target = Target::Test(Flavour::parse(f)?),
        }
    }
    let ko = build(&target)?;
    println!("{}", ko.display());
    Ok(0)
}
