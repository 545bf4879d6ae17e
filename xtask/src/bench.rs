//! `cargo xtask bench [nat|scale|director|sync]`: the benchmarks, each a script run in one VM of the
//! release kernel (bench/*.sh), and the director benchmark's results kept in the tree:
//! `bench/results/<date>-<commit>.json`, the plot `bench/results/director.png` and BENCHMARKS.md.

use std::fs;
use std::time::Duration;

use crate::{
    deps,
    kernel::Flavour,
    util::{root, version_of, Result},
    vm::{self, Module},
};

const BENCHMARKS: [&str; 4] = ["nat", "scale", "director", "sync"];

pub fn main(rest: &[String]) -> Result<i32> {
    let chosen: Vec<&str> = match rest.first().map(String::as_str) {
        None => BENCHMARKS.to_vec(),
        Some(b) if BENCHMARKS.contains(&b) => vec![b],
        Some(other) => {
            eprintln!(
                "xtask: bench: unknown benchmark '{other}' ({})",
                BENCHMARKS.join(", ")
            );
            return Ok(2);
        }
    };
    deps::ensure()?;
    let mut commit = version_of("git", &["rev-parse", "--short", "HEAD"]);
    if commit.is_empty() {
        commit = "unknown".into();
    } else if !version_of("git", &["status", "--porcelain", "--untracked-files=no"]).is_empty() {
        commit.push_str("-dirty");
    }
    let date = version_of("date", &["-u", "+%F"]);
    // The host's BENCH_* variables (rounds, sizes, seconds: see each script) reach the scripts.
    let mut exports = format!("export BENCH_COMMIT={commit} BENCH_DATE={date}");
    for (name, value) in std::env::vars() {
        let plain = name
            .chars()
            .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_');
        if name.starts_with("BENCH_") && plain && name != "BENCH_COMMIT" && name != "BENCH_DATE" {
            exports.push_str(&format!(" {name}='{}'", value.replace('\'', r"'\''")));
        }
    }
    let scripts: Vec<String> = chosen.iter().map(|b| format!("bench/{b}.sh")).collect();
    let cmd = format!("{exports}\n{}", scripts.join(" && "));
    vm::run_cmd_then(
        Flavour::Release,
        Module::None,
        Duration::from_secs(4 * 3600),
        &cmd,
        |run| {
            let out = run.join("out");
            // BENCH_PROFILE's perf reports, kept out of the tree.
            let profiles = root().join("target/bench-profiles");
            for e in fs::read_dir(&out).into_iter().flatten().flatten() {
                let name = e.file_name().to_string_lossy().to_string();
                if name.starts_with("profile-") {
                    fs::create_dir_all(&profiles)?;
                    fs::copy(e.path(), profiles.join(&name))?;
                }
            }
            let json = out.join("director.json");
            if !json.exists() {
                return Ok(());
            }
            let results = root().join("bench/results");
            fs::create_dir_all(&results)?;
            let kept = results.join(format!("{date}-{commit}.json"));
            fs::copy(&json, &kept)?;
            fs::copy(out.join("director.png"), results.join("director.png"))?;
            fs::copy(out.join("BENCHMARKS.md"), root().join("BENCHMARKS.md"))?;
            eprintln!(
                "bench: results in {}, BENCHMARKS.md and bench/results/director.png",
                kept.strip_prefix(root()).unwrap_or(&kept).display()
            );
            Ok(())
        },
    )
}
