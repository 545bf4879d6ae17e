//! The selftests' ledger: every verdict of every selftest in every lane, kept across clones in
//! `$RVS_CACHE/ledger/<result key>` (one line per run), so that a pass rate accumulates over
//! `check` runs, `check --repeat` runs and CI runs for as long as the test, the helpers it uses, the
//! runner and the kernel stay the same (the key of `check`'s ip_vs result cache). The module under
//! test is not in the key: a line names the commit it ran, and the report shows the span. A failed
//! run's output is kept beside it (`<key>.<unix time>.fail`), so that a rare failure can be read
//! after the run that met it is gone.

use std::collections::BTreeSet;
use std::fs;
use std::io::Write;
use std::path::PathBuf;

use crate::util::{cache_dir, root};

/// One run: "PASS|FAIL <guest seconds> <unix time> <commit>".
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    pub pass: bool,
    pub secs: u64,
    pub at: u64,
    pub commit: String,
}

impl Record {
    pub fn format(&self) -> String {
        format!(
            "{} {} {} {}\n",
            if self.pass { "PASS" } else { "FAIL" },
            self.secs,
            self.at,
            self.commit
        )
    }
}

/// The records of a ledger file, oldest first; lines it cannot read are skipped.
pub fn parse(text: &str) -> Vec<Record> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.split_whitespace().collect();
            let pass = match *f.first()? {
                "PASS" => true,
                "FAIL" => false,
                _ => return None,
            };
            Some(Record {
                pass,
                secs: f.get(1)?.parse().ok()?,
                at: f.get(2)?.parse().ok()?,
                commit: f.get(3).unwrap_or(&"?").to_string(),
            })
        })
        .collect()
}

/// The pass rate over the last `n` records (all of them when fewer), and the commits they ran.
#[derive(Debug, PartialEq)]
pub struct Rate {
    pub passed: usize,
    pub runs: usize,
    pub commits: BTreeSet<String>,
}

pub fn rate(records: &[Record], n: usize) -> Rate {
    let last = &records[records.len().saturating_sub(n)..];
    Rate {
        passed: last.iter().filter(|r| r.pass).count(),
        runs: last.len(),
        commits: last.iter().map(|r| r.commit.clone()).collect(),
    }
}

/// How many more runs make `n` recorded ones.
pub fn missing(records: &[Record], n: usize) -> usize {
    n.saturating_sub(records.len())
}

fn path(key: &str) -> PathBuf {
    cache_dir().join("ledger").join(key)
}

pub fn read(key: &str) -> Vec<Record> {
    parse(&fs::read_to_string(path(key)).unwrap_or_default())
}

/// Appends one run, and a failed run's output; a ledger that cannot be written costs the record,
/// not the check.
pub fn append(key: &str, pass: bool, secs: u64, commit: &str, output: &str) {
    let at = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0);
    let r = Record {
        pass,
        secs,
        at,
        commit: commit.to_string(),
    };
    let _ = fs::create_dir_all(cache_dir().join("ledger"));
    if let Ok(mut f) = fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path(key))
    {
        let _ = f.write_all(r.format().as_bytes());
    }
    if !pass {
        let _ = fs::write(failure_log(key, at), output);
    }
}

/// Where the output of the run of `key` that ended at `at` is kept when it failed.
pub fn failure_log(key: &str, at: u64) -> PathBuf {
    cache_dir().join("ledger").join(format!("{key}.{at}.fail"))
}

/// The checked-out commit, "+" when the work tree differs from it.
pub fn commit() -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(root())
            .output()
            .ok()
    };
    let head = git(&["rev-parse", "--short=12", "HEAD"])
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .unwrap_or_else(|| "unknown".into());
    let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
        .is_some_and(|o| !o.stdout.is_empty());
    if dirty {
        format!("{head}+")
    } else {
        head
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rec(pass: bool, commit: &str) -> Record {
        Record {
            pass,
            secs: 10,
            at: 1,
            commit: commit.into(),
        }
    }

    #[test]
    fn records_round_trip_and_garbage_is_skipped() {
        let rs = vec![rec(true, "abc"), rec(false, "def+")];
        let text: String = rs.iter().map(Record::format).collect();
        assert_eq!(parse(&text), rs);
        let messy = format!("# comment\nPASS x 1 abc\n{text}PASS 3\nSKIP 1 2 abc\n");
        assert_eq!(parse(&messy), rs);
    }

    #[test]
    fn the_rate_covers_the_last_runs_only() {
        let mut rs = vec![rec(false, "a")];
        rs.extend((0..10).map(|_| rec(true, "b")));
        let r = rate(&rs, 10);
        assert_eq!((r.passed, r.runs), (10, 10));
        assert_eq!(r.commits, BTreeSet::from(["b".to_string()]));
        let r = rate(&rs, 11);
        assert_eq!((r.passed, r.runs), (10, 11));
        assert_eq!(rate(&rs[..3], 10).runs, 3);
        assert_eq!(missing(&rs[..3], 10), 7);
        assert_eq!(missing(&rs, 10), 0);
    }
}
