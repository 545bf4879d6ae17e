//! Small helpers shared by the verbs: errors, running commands, hashing, the project root.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, ExitStatus, Stdio};

use sha2::{Digest, Sha256};

/// A failure that ends the verb, with one line saying what went wrong.
#[derive(Debug)]
pub struct Error(pub String);

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<std::io::Error> for Error {
    fn from(e: std::io::Error) -> Self {
        Error(e.to_string())
    }
}

pub type Result<T> = std::result::Result<T, Error>;

/// `bail!("...")`: return an [`Error`] made of the formatted message.
macro_rules! bail {
    ($($arg:tt)*) => { return Err($crate::util::Error(format!($($arg)*))) };
}
pub(crate) use bail;

/// The project's root: the workspace that holds xtask/.
pub fn root() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    manifest.parent().unwrap_or(manifest).to_path_buf()
}

/// Where kernels, the selftests' durations and the ip_vs results are kept across clones.
pub fn cache_dir() -> PathBuf {
    std::env::var_os("RVS_CACHE")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from("/var/cache/rvs"))
}

/// A command with the toolchain's PATH, run from the project root.
pub fn command(program: impl AsRef<std::ffi::OsStr>) -> Command {
    let mut c = Command::new(program);
    c.env("PATH", crate::toolchain::path_env())
        .current_dir(root());
    c
}

/// Runs `c` with inherited output; an unsuccessful exit is an error naming `what`.
pub fn run(c: &mut Command, what: &str) -> Result<()> {
    let status = status(c, what)?;
    if !status.success() {
        bail!("{what} failed ({status})");
    }
    Ok(())
}

pub fn status(c: &mut Command, what: &str) -> Result<ExitStatus> {
    c.status()
        .map_err(|e| Error(format!("{what}: cannot run {:?}: {e}", c.get_program())))
}

/// Runs `c` and returns its standard output (trimmed); an unsuccessful exit is an error.
pub fn output(c: &mut Command, what: &str) -> Result<String> {
    let out = c
        .stderr(Stdio::inherit())
        .output()
        .map_err(|e| Error(format!("{what}: cannot run {:?}: {e}", c.get_program())))?;
    if !out.status.success() {
        bail!("{what} failed ({})", out.status);
    }
    Ok(String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// The first line of `program args`' output, or "" when it cannot run.
pub fn version_of(program: &str, args: &[&str]) -> String {
    command(program)
        .args(args)
        .stderr(Stdio::null())
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| {
            String::from_utf8_lossy(&o.stdout)
                .lines()
                .next()
                .unwrap_or("")
                .to_string()
        })
        .unwrap_or_default()
}

/// Hex SHA-256 of what `feed` writes, cut to `len` digits.
pub fn hash_hex(len: usize, feed: impl FnOnce(&mut Sha256)) -> String {
    let mut h = Sha256::new();
    feed(&mut h);
    let hex: String = h.finalize().iter().map(|b| format!("{b:02x}")).collect();
    hex[..len.min(hex.len())].to_string()
}

/// Adds a file to a hash: its path relative to the root, then its contents (or a marker when it
/// is missing, so that a deleted helper changes the key too).
pub fn hash_file(h: &mut Sha256, path: &Path) {
    let shown = path.strip_prefix(root()).unwrap_or(path);
    h.update(shown.to_string_lossy().as_bytes());
    h.update([0]);
    match std::fs::read(path) {
        Ok(data) => {
            h.update((data.len() as u64).to_le_bytes());
            h.update(&data);
        }
        Err(_) => h.update(b"<missing>"),
    }
}

/// "1h02m03s" / "2m03s" / "45s".
pub fn fmt_secs(secs: u64) -> String {
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    if h > 0 {
        format!("{h}h{m:02}m{s:02}s")
    } else if m > 0 {
        format!("{m}m{s:02}s")
    } else {
        format!("{s}s")
    }
}

/// Gives the calling thread, and every process it starts from now on, the lowest CPU priority
/// (nice 19): work that can wait for an idle moment then leaves the cores to the test VMs.
/// Best effort: a failure only costs time.
pub fn lower_this_threads_priority() {
    // Linux's setpriority(PRIO_PROCESS) takes a thread id and sets that thread's nice value alone,
    // which its children inherit; /proc/thread-self names it.
    let Ok(link) = std::fs::read_link("/proc/thread-self") else {
        return;
    };
    let Some(tid) = link.file_name() else {
        return;
    };
    let _ = Command::new("renice")
        .args(["-n", "19", "-p"])
        .arg(tid)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

pub fn nproc() -> usize {
    std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_as_people_write_them() {
        assert_eq!(fmt_secs(45), "45s");
        assert_eq!(fmt_secs(123), "2m03s");
        assert_eq!(fmt_secs(3723), "1h02m03s");
    }

    #[test]
    fn a_lowered_thread_runs_its_children_at_nice_19() {
        let nice = || Command::new("nice").output().unwrap().stdout;
        let before = nice();
        let lowered = std::thread::spawn(move || {
            lower_this_threads_priority();
            nice()
        })
        .join()
        .unwrap();
        assert_eq!(String::from_utf8_lossy(&lowered).trim(), "19");
        // The calling thread keeps its priority (whatever it was: check runs these tests niced).
        assert_eq!(nice(), before);
    }
}
