//! `cargo xtask soak`: the fuzzers' long form. The netlink fuzzer (selftests/genl_fuzz.sh with
//! a seed of this run and a million requests by default) runs first against ip_vs on the release
//! kernel, recording its answers, then against rvs on the release and the debug kernel, each of
//! whose answers must be ip_vs's; the debug run ends with kmemleak's scan. The records stay in
//! target/soak so that a failure can be replayed with its seed.

use std::fs;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::{
    deps,
    kernel::Flavour,
    util::{fmt_secs, root, Error, Result},
    vm::{self, Module},
};

const USAGE: &str = "usage: cargo xtask soak [--messages N] [--seed N]";

pub fn main(rest: &[String]) -> Result<i32> {
    let mut messages: u64 = 1_000_000;
    let mut seed: u64 = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(1, |d| d.as_secs());
    let mut it = rest.iter();
    while let Some(a) = it.next() {
        let value = it
            .next()
            .and_then(|v| v.parse::<u64>().ok())
            .ok_or_else(|| Error(format!("{a} needs a number\n{USAGE}")))?;
        match a.as_str() {
            "--messages" => messages = value,
            "--seed" => seed = value,
            _ => return Err(Error(format!("unknown option {a}\n{USAGE}"))),
        }
    }
    deps::ensure()?;
    let records = root().join("target/soak");
    fs::create_dir_all(&records)?;
    // Blocks of 2000: a listing and a model check for every 2000 requests.
    let test = format!(
        "FUZZ_SEEDS={seed} FUZZ_MESSAGES={messages} FUZZ_BLOCK=2000 FUZZ_RECORDS={} bash \"$RVS_ROOT/selftests/genl_fuzz.sh\"",
        records.display()
    );
    println!("== soak: netlink fuzzer, seed {seed}, {messages} requests (and as many from 4 senders at once)");
    let timeout = Duration::from_secs(24 * 3600);
    let (mut passed, mut failed) = (0, 0);
    let runs = [
        (
            Flavour::Release,
            Module::Ipvs,
            "ip_vs, release kernel (the record)",
        ),
        (Flavour::Release, Module::Rvs, "rvs, release kernel"),
        (Flavour::Debug, Module::Rvs, "rvs, debug kernel"),
    ];
    for (kernel, module, what) in runs {
        let started = Instant::now();
        let record_name = format!("genl_fuzz.{seed}");
        let rc = if module == Module::Ipvs {
            vm::run_cmd_then(
                kernel,
                module,
                timeout,
                &format!("RVS_RECORD=1 {test}"),
                |run| {
                    fs::copy(run.join(&record_name), records.join(&record_name))?;
                    Ok(())
                },
            )?
        } else {
            vm::run_cmd(kernel, module, timeout, &test)?
        };
        println!(
            "== soak: {what}: {} in {}",
            if rc == 0 { "passed" } else { "FAILED" },
            fmt_secs(started.elapsed().as_secs())
        );
        if rc == 0 {
            passed += 1;
        } else {
            failed += 1;
            if module == Module::Ipvs {
                // Without ip_vs's record there is nothing to compare rvs with.
                break;
            }
        }
    }
    println!(
        "== soak: seed {seed}: {passed} passed, {failed} failed (records in {})",
        records.display()
    );
    Ok(i32::from(failed > 0))
}
