//! `cargo xtask check`: every test. Host tests and lint, the VM runner's own checks, then every
//! selftest against rvs on the release and the debug kernel and against in-tree ip_vs (which proves
//! the expectations), scheduled onto VM workers longest-first. Ends with `N passed, N failed`
//! (and `, N skipped`).
//!
//!   cargo xtask check [--full] [--jobs N] [--save-durations] [TEST...]
//!   cargo xtask check --repeat N [--kernel K] [--module M] [TEST...]
//!
//! An ip_vs result is reused while nothing it depends on changed (the test, the helpers it uses,
//! the expected outputs, the runner and the kernel); `--full` runs everything. rvs always runs.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::time::Instant;

use crate::kernel::{self, Flavour};
use crate::ledger;
use crate::plan::{self, Helper, History, Job, Lane, Measure};
use crate::pool::{self, Event, Verdict};
use crate::util::{bail, cache_dir, fmt_secs, hash_file, hash_hex, root, Error, Result};
use crate::vm::{Image, Module};

/// Files of the guest side that every selftest result depends on.
const RUNNER_FILES: &[&str] = &[
    "selftests/lib/runner.sh",
    "selftests/lib/worker.sh",
    "selftests/lib/unload-ipvs.sh",
    "qemu/guest-init.sh",
    "qemu/splat-patterns",
];

/// Selftests that may be skipped (none: the README says every selftest always runs).
const MAY_SKIP: &[&str] = &[];

#[derive(Default)]
struct Tally {
    passed: usize,
    failed: usize,
    skipped: Vec<String>,
}

impl Tally {
    fn add(&mut self, ok: bool) {
        if ok {
            self.passed += 1
        } else {
            self.failed += 1
        }
    }
}

struct Options {
    full: bool,
    repeat: usize,
    slots: usize,
    save: bool,
    lanes: Vec<Lane>,
    tests: Vec<String>,
}

fn parse(args: &[String]) -> Result<Options> {
    let mut o = Options {
        full: false,
        repeat: 0,
        slots: default_slots(),
        save: false,
        lanes: Lane::ALL.to_vec(),
        tests: Vec::new(),
    };
    let (mut kernel, mut module) = (None, None);
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let mut value = || {
            it.next()
                .cloned()
                .ok_or_else(|| Error(format!("{a} needs a value")))
        };
        match a.as_str() {
            "--full" => o.full = true,
            "--save-durations" => o.save = true,
            "--repeat" => {
                o.repeat = value()?
                    .parse()
                    .map_err(|_| Error("--repeat takes a count".into()))?
            }
            "--jobs" | "-j" => {
                o.slots = value()?
                    .parse()
                    .map_err(|_| Error("--jobs takes a count".into()))?
            }
            "--kernel" => kernel = Some(Flavour::parse(&value()?)?),
            "--module" => module = Some(Module::parse(&value()?)?),
            t if t.starts_with('-') => bail!("unknown option {t}"),
            t => o.tests.push(test_file(t)?),
        }
    }
    o.lanes
        .retain(|l| kernel.is_none_or(|k| l.kernel == k) && module.is_none_or(|m| l.module == m));
    if o.lanes.is_empty() {
        bail!("no lane has that kernel and module (rvs: release and debug; ip_vs: release)");
    }
    if o.slots == 0 {
        bail!("--jobs must be at least 1");
    }
    Ok(o)
}

/// How many worker VMs run at once: one per core, and one more because most selftests spend part
/// of their time waiting (timeouts, sleeps, the other namespace's answer) rather than computing.
/// RVS_CHECK_JOBS overrides it.
fn default_slots() -> usize {
    std::env::var("RVS_CHECK_JOBS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(crate::util::nproc() + 1)
}

/// Whether selftest `test` needs a peer VM: a `# peer: ipvs` line in its header (the comment
/// block it starts with). The peer runs in-tree ip_vs on the release kernel; see vm::Peer.
fn needs_peer(test: &str) -> Result<bool> {
    let text = fs::read_to_string(root().join("selftests").join(test))?;
    for line in text.lines().skip(1).take_while(|l| l.starts_with('#')) {
        match line.strip_prefix("# peer:").map(str::trim) {
            Some("ipvs") => return Ok(true),
            Some(other) => bail!("{test}: a peer runs ipvs, not '{other}'"),
            None => {}
        }
    }
    Ok(false)
}

fn any_needs_peer(tests: &[String]) -> Result<bool> {
    for t in tests {
        if needs_peer(t)? {
            return Ok(true);
        }
    }
    Ok(false)
}

/// "nat_udp", "nat_udp.sh" or "selftests/nat_udp.sh" -> "nat_udp.sh", which must exist.
fn test_file(name: &str) -> Result<String> {
    let base = Path::new(name)
        .file_name()
        .map(|f| f.to_string_lossy().to_string())
        .unwrap_or_default();
    let file = if base.ends_with(".sh") {
        base
    } else {
        format!("{base}.sh")
    };
    if !root().join("selftests").join(&file).is_file() {
        bail!("no selftest selftests/{file}");
    }
    Ok(file)
}

pub fn all_tests() -> Result<Vec<String>> {
    let mut v: Vec<String> = fs::read_dir(root().join("selftests"))?
        .flatten()
        .map(|e| e.file_name().to_string_lossy().to_string())
        .filter(|n| n.ends_with(".sh"))
        .collect();
    v.sort();
    Ok(v)
}

fn history_path() -> PathBuf {
    cache_dir().join("selftest-durations")
}

/// The committed table of durations: the schedule of a machine that has never run the tests.
fn seed_path() -> PathBuf {
    root().join("selftests/durations")
}

fn load_history() -> History {
    let mut h = History::parse(&fs::read_to_string(seed_path()).unwrap_or_default());
    let mine = History::parse(&fs::read_to_string(history_path()).unwrap_or_default());
    h.entries.extend(mine.entries);
    h
}

/// The helper files a selftest may use: the selftests' library, the expected outputs, and the
/// tools built from this repository's sources (rvsadm through `$RVSADM`, the fuzzer by its path).
fn helpers() -> Result<Vec<Helper>> {
    let lib_dir = root().join("selftests/lib");
    let lib_text: String = fs::read_dir(&lib_dir)?
        .flatten()
        .filter_map(|e| fs::read_to_string(e.path()).ok())
        .collect::<Vec<_>>()
        .join("\n");
    let mut helpers = Vec::new();
    for dir in ["selftests/lib", "selftests/expected"] {
        for e in fs::read_dir(root().join(dir))?.flatten() {
            let file_name = e.file_name().to_string_lossy().to_string();
            if e.path().is_file() && !file_name.starts_with('.') {
                helpers.push(Helper {
                    path: format!("{dir}/{file_name}"),
                    variables: plan::variable_names(&lib_text, &file_name),
                    file_name,
                    by_file_name: true,
                });
            }
        }
    }
    for (name, _) in BUILT_TOOLS {
        helpers.push(Helper {
            path: format!("target/release/{name}"),
            variables: plan::variable_names(&lib_text, name),
            file_name: name.to_string(),
            // rvsadm is run as `$RVSADM` (a bare "rvsadm" in a test is its name in messages).
            by_file_name: *name != "rvsadm",
        });
    }
    Ok(helpers)
}

/// The tools built from this repository that selftests run, and the sources each is built from
/// (beside Cargo.lock and the uapi constants, rust/abi.rs).
const BUILT_TOOLS: &[(&str, &[&str])] = &[
    (
        "rvsadm",
        &["userspace-tool/src", "userspace-tool/Cargo.toml"],
    ),
    (
        "rvs-fuzz",
        &[
            "fuzzer/src",
            "fuzzer/Cargo.toml",
            "userspace-tool/src/lib.rs",
            "userspace-tool/src/netlink.rs",
        ],
    ),
];

/// Every file under `dir` (sorted), for hashing a helper that is built from sources.
fn files_under(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in fs::read_dir(&d).into_iter().flatten().flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The key of a selftest's result in `lane`: the test, every helper it uses, the runner and the
/// kernel. A built tool counts through its sources and the uapi constants it is built with.
fn result_key(test: &str, lane: Lane, helpers: &[Helper], kernel_key: &str) -> String {
    let read = |p: &str| fs::read_to_string(root().join(p)).ok();
    let deps = plan::dependencies(&format!("selftests/{test}"), helpers, read);
    hash_hex(32, |h| {
        use sha2::Digest;
        h.update(format!("{} {kernel_key}\n", lane.shown()));
        hash_file(h, &root().join("selftests").join(test));
        for d in deps
            .iter()
            .map(String::as_str)
            .chain(RUNNER_FILES.iter().copied())
        {
            if let Some((_, sources)) = BUILT_TOOLS
                .iter()
                .find(|(name, _)| d == format!("target/release/{name}"))
            {
                for source in sources.iter().copied().chain(["Cargo.lock", "rust/abi.rs"]) {
                    let path = root().join(source);
                    if path.is_dir() {
                        for f in files_under(&path) {
                            hash_file(h, &f);
                        }
                    } else {
                        hash_file(h, &path);
                    }
                }
            } else {
                hash_file(h, &root().join(d));
            }
        }
    })
}

fn cached_path(key: &str) -> PathBuf {
    cache_dir().join("results").join(key)
}

/// Builds both kernels (side by side) and the module for each, and rvsadm.
fn prepare_images(flavours: &[Flavour]) -> Result<BTreeMap<Flavour, Image>> {
    let started = Instant::now();
    let builds: Vec<_> = flavours
        .iter()
        .map(|&f| (f, std::thread::spawn(move || kernel::ensure(f))))
        .collect();
    for (f, b) in builds {
        b.join()
            .map_err(|_| Error(format!("the {} kernel's build panicked", f.name())))??;
    }
    let mut images = BTreeMap::new();
    for &f in flavours {
        images.insert(f, Image::prepare(f, Module::Rvs)?);
    }
    println!(
        "== kernels, rvs.ko and rvsadm ready ({})",
        fmt_secs(started.elapsed().as_secs())
    );
    Ok(images)
}

/// Runs `f` on its own thread with its output captured; the result comes through the handle.
fn background<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> mpsc::Receiver<T> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx
}

/// Host tests: cargo's own result lines, tallied.
fn host_tests(tally: &mut Tally, out: &str, ok: bool) {
    let mut any = false;
    for line in out.lines() {
        if line.starts_with("test result:") || line.contains("FAILED") || line.contains("panicked")
        {
            println!("{line}");
        }
        if let Some(rest) = line.strip_prefix("test result: ") {
            let nums: Vec<usize> = rest
                .split(';')
                .filter_map(|p| p.split_whitespace().find_map(|w| w.parse().ok()))
                .collect();
            if nums.len() >= 2 {
                tally.passed += nums[0];
                tally.failed += nums[1];
                any = true;
            }
        }
    }
    if !ok && !out.contains("test result: FAILED") {
        let lines: Vec<&str> = out.lines().collect();
        println!("{}", lines[lines.len().saturating_sub(30)..].join("\n"));
        println!("FAIL: host tests did not build");
        tally.add(false);
    } else if !any {
        println!("FAIL: host tests ran no test");
        tally.add(false);
    }
}

/// The runner's own checks: it returns CMD's status, and fails a run whose kernel warned (LKDTM's
/// WARNING on the debug kernel) even when CMD succeeded. Returns the tally and what to print.
fn runner_checks(debug: bool) -> Result<(Tally, String)> {
    let mut tally = Tally::default();
    let mut log = String::new();
    let vm = |args: &[&str]| -> Result<(Option<i32>, String)> {
        let o = crate::util::command(std::env::current_exe()?)
            .arg("vm")
            .args(args)
            .output()?;
        Ok((
            o.status.code(),
            format!(
                "{}{}",
                String::from_utf8_lossy(&o.stdout),
                String::from_utf8_lossy(&o.stderr)
            ),
        ))
    };
    let (code, text) = vm(&["--kernel", "release", "--module", "none", "--", "exit 3"])?;
    let ok = code == Some(3);
    if !ok {
        log.push_str(&text);
    }
    log.push_str(&format!(
        "{}: runner returns the command's exit status\n",
        if ok { "PASS" } else { "FAIL" }
    ));
    tally.add(ok);
    if debug {
        let (code, text) = vm(&[
            "--kernel",
            "debug",
            "--module",
            "none",
            "--",
            "modprobe lkdtm && echo WARNING >/sys/kernel/debug/provoke-crash/DIRECT",
        ])?;
        let ok = code != Some(0)
            && text.contains("the guest kernel reported problems")
            && text.contains("WARNING:");
        if !ok {
            log.push_str(&text);
        }
        log.push_str(&format!(
            "{}: runner fails a run on a kernel WARN and prints it\n",
            if ok { "PASS" } else { "FAIL" }
        ));
        tally.add(ok);
    }
    Ok((tally, log))
}

pub fn main(args: &[String]) -> Result<i32> {
    let o = parse(args)?;
    crate::deps::ensure()?;
    if o.repeat > 0 {
        return repeat(&o);
    }
    let started = Instant::now();
    let mut tally = Tally::default();
    let tests = if o.tests.is_empty() {
        all_tests()?
    } else {
        o.tests.clone()
    };
    let whole = o.tests.is_empty();

    let mut flavours: Vec<Flavour> = o.lanes.iter().map(|l| l.kernel).collect();
    if any_needs_peer(&tests)? {
        flavours.push(Flavour::Release);
    }
    flavours.sort();
    flavours.dedup();
    let images = prepare_images(&flavours)?;

    // Host tests and lint run beside the VMs, at the lowest priority: the VMs are the run's long
    // pole, and the compilers fill the moments when the VMs wait. Their output is shown when they
    // are done. (The runner checks boot VMs of their own, which must not starve into a timeout.)
    let host = whole.then(|| {
        background(|| {
            crate::util::lower_this_threads_priority();
            crate::lint::host_tests_captured()
        })
    });
    let lint = whole.then(|| {
        background(|| {
            crate::util::lower_this_threads_priority();
            crate::lint::lint_captured()
        })
    });
    let debug = flavours.contains(&Flavour::Debug);
    let runner = whole.then(|| background(move || runner_checks(debug)));

    // The selftest runs: cached ip_vs results are taken as they are.
    let history = load_history();
    let helpers = helpers()?;
    let mut kernel_keys = BTreeMap::new();
    for f in &flavours {
        kernel_keys.insert(*f, kernel::key(*f)?);
    }
    let mut jobs = Vec::new();
    let mut keys = BTreeMap::new();
    let mut cached = Vec::new();
    for &lane in &o.lanes {
        for t in &tests {
            let key = result_key(t, lane, &helpers, &kernel_keys[&lane.kernel]);
            if lane.module == Module::Ipvs && !o.full && cached_path(&key).exists() {
                cached.push(t.trim_end_matches(".sh").to_string());
                continue;
            }
            keys.insert((lane, t.clone()), key);
            jobs.push(Job {
                test: t.clone(),
                lane,
                expected: history.expected(lane, t),
                peer: needs_peer(t)?,
            });
        }
    }
    if !cached.is_empty() {
        println!(
            "== ip_vs, release: {} results proven earlier and unchanged since (the test, its helpers, \
             the runner and the kernel); --full runs them: {}",
            cached.len(),
            cached.join(" ")
        );
        tally.passed += cached.len();
    }
    let total = jobs.len();
    let slots = o.slots;
    let logs = std::env::temp_dir().join(format!("rvs-check.{}", std::process::id()));
    fs::create_dir_all(&logs)?;
    println!(
        "== selftests: {total} runs on up to {slots} VM workers (expected {})",
        fmt_secs(plan::expected_remaining(
            &[],
            &jobs.iter().map(|j| j.expected).collect::<Vec<_>>(),
            slots
        ) as u64)
    );
    let vm_started = Instant::now();
    let mut done = 0usize;
    let mut measured: Vec<(f64, f64, String)> = Vec::new();
    let mut new_history = load_history();
    fs::create_dir_all(cache_dir().join("results"))?;
    let commit = ledger::commit();
    pool::run(jobs, slots, &images, &logs, |event, left| match event {
        Event::Finished(f) => {
            done += 1;
            let name = f.job.test.trim_end_matches(".sh");
            if let Some(key) = keys.get(&(f.job.lane, f.job.test.clone())) {
                if f.verdict != Verdict::Skip {
                    ledger::append(
                        key,
                        f.verdict == Verdict::Pass,
                        f.secs as u64,
                        &commit,
                        &f.output,
                    );
                }
            }
            let word = match f.verdict {
                Verdict::Pass => "PASS",
                Verdict::Fail => "FAIL",
                Verdict::Skip => "SKIP",
            };
            println!(
                "{word}: {name} [{}] {}   ({done}/{total}, {} elapsed, ~{} left)",
                f.job.lane.shown(),
                fmt_secs(f.secs as u64),
                fmt_secs(vm_started.elapsed().as_secs()),
                fmt_secs(left as u64)
            );
            if f.verdict != Verdict::Pass || std::env::var("RVS_VERBOSE").as_deref() == Ok("1") {
                println!("{}", f.output.trim_end());
            }
            match f.verdict {
                Verdict::Pass => tally.passed += 1,
                Verdict::Fail => tally.failed += 1,
                Verdict::Skip => tally
                    .skipped
                    .push(format!("{name} [{}]", f.job.lane.shown())),
            }
            if f.measured {
                new_history.set(
                    f.job.lane,
                    &f.job.test,
                    Measure {
                        secs: f.secs,
                        cpu: f.cpu,
                    },
                );
                measured.push((f.secs, f.cpu, format!("{name} [{}]", f.job.lane.shown())));
            }
            if f.verdict == Verdict::Pass && f.job.lane.module == Module::Ipvs {
                if let Some(key) = keys.get(&(f.job.lane, f.job.test.clone())) {
                    let _ = fs::write(cached_path(key), format!("PASS {}\n", f.secs));
                }
            }
        }
        Event::WorkerFailed { lane, tests, why } => {
            println!(
                "FAIL: the {} VM that ran {} — {why}",
                lane.shown(),
                tests.join(" ")
            );
            tally.failed += 1;
            record_vm_failure(&keys, lane, &tests, &commit, &why);
        }
    })?;
    let _ = fs::remove_dir_all(&logs);
    let _ = fs::write(history_path(), new_history.format());
    if o.save {
        fs::write(seed_path(), new_history.format())?;
    }

    for (what, rx) in [
        ("host tests (cargo test)", host),
        ("lint (rustfmt, clippy)", lint),
    ] {
        let Some(rx) = rx else { continue };
        println!("== {what}");
        let (ok, out) = rx
            .recv()
            .map_err(|_| Error(format!("{what}: its thread died")))?;
        if what.starts_with("host") {
            host_tests(&mut tally, &out, ok);
        } else {
            if !ok {
                println!("{out}");
            }
            println!("{}: lint", if ok { "PASS" } else { "FAIL" });
            tally.add(ok);
        }
    }
    if let Some(rx) = runner {
        println!("== VM runner");
        let (t, log) = rx
            .recv()
            .map_err(|_| Error("the runner checks' thread died".into()))??;
        print!("{log}");
        tally.passed += t.passed;
        tally.failed += t.failed;
    }

    measured.sort_by(|a, b| b.0.total_cmp(&a.0));
    println!("== the ten slowest selftest runs (guest seconds, host CPU share of their VM)");
    for (secs, cpu, name) in measured.iter().take(10) {
        println!("  {:>7}  cpu {:.2}  {name}", fmt_secs(*secs as u64), cpu);
    }
    println!("== wall time {}", fmt_secs(started.elapsed().as_secs()));
    finish(&tally)
}

/// The last lines: skipped tests listed, then `N passed, N failed[, N skipped]`. A skipped test
/// that must always run fails the check.
fn finish(tally: &Tally) -> Result<i32> {
    let forbidden: Vec<&String> = tally
        .skipped
        .iter()
        .filter(|s| !MAY_SKIP.iter().any(|m| s.starts_with(&format!("{m} "))))
        .collect();
    for s in &forbidden {
        println!("SKIPPED (every selftest must run: install what it missed): {s}");
    }
    if tally.skipped.is_empty() {
        println!("{} passed, {} failed", tally.passed, tally.failed);
    } else {
        println!(
            "{} passed, {} failed, {} skipped",
            tally.passed,
            tally.failed,
            tally.skipped.len()
        );
    }
    Ok(if tally.failed == 0 && forbidden.is_empty() {
        0
    } else {
        1
    })
}

/// A VM whose tests passed on their own but whose kernel then complained: each of its tests
/// counts a failed run in the ledger.
fn record_vm_failure(
    keys: &BTreeMap<(Lane, String), String>,
    lane: Lane,
    tests: &[String],
    commit: &str,
    why: &str,
) {
    for t in tests {
        if let Some(key) = keys.get(&(lane, t.clone())) {
            ledger::append(key, false, 0, commit, why);
        }
    }
}

/// `--repeat N`: every named test (default: all) until the ledger holds N runs of it in each lane
/// (runs recorded earlier with the same key count, so a long repetition can be made in parts), no
/// cached result taken; then the pass rate of each test in each lane over its last N runs.
fn repeat(o: &Options) -> Result<i32> {
    let tests = if o.tests.is_empty() {
        all_tests()?
    } else {
        o.tests.clone()
    };
    let mut flavours: Vec<Flavour> = o.lanes.iter().map(|l| l.kernel).collect();
    if any_needs_peer(&tests)? {
        flavours.push(Flavour::Release);
    }
    flavours.sort();
    flavours.dedup();
    let images = prepare_images(&flavours)?;
    let history = load_history();
    let helpers = helpers()?;
    let mut keys = BTreeMap::new();
    let mut jobs = Vec::new();
    for &lane in &o.lanes {
        let kernel_key = kernel::key(lane.kernel)?;
        for t in &tests {
            let key = result_key(t, lane, &helpers, &kernel_key);
            for _ in 0..ledger::missing(&ledger::read(&key), o.repeat) {
                jobs.push(Job {
                    test: t.clone(),
                    lane,
                    expected: history.expected(lane, t),
                    peer: needs_peer(t)?,
                });
            }
            keys.insert((lane, t.clone()), key);
        }
    }
    let total = jobs.len();
    println!(
        "== {total} runs make {} in each of {} (test, lane) pairs (expected {})",
        o.repeat,
        keys.len(),
        fmt_secs(plan::expected_remaining(
            &[],
            &jobs.iter().map(|j| j.expected).collect::<Vec<_>>(),
            o.slots
        ) as u64)
    );
    let logs = std::env::temp_dir().join(format!("rvs-check.{}", std::process::id()));
    fs::create_dir_all(&logs)?;
    let started = Instant::now();
    let mut tally = Tally::default();
    let mut done = 0;
    let commit = ledger::commit();
    pool::run(jobs, o.slots, &images, &logs, |event, left| match event {
        Event::Finished(f) => {
            done += 1;
            let name = f.job.test.trim_end_matches(".sh").to_string();
            let ok = f.verdict == Verdict::Pass;
            println!(
                "{}: {name} [{}] {}   ({done}/{total}, {} elapsed, ~{} left)",
                if ok { "PASS" } else { "FAIL" },
                f.job.lane.shown(),
                fmt_secs(f.secs as u64),
                fmt_secs(started.elapsed().as_secs()),
                fmt_secs(left as u64)
            );
            if !ok {
                println!("{}", f.output.trim_end());
            }
            if let Some(key) = keys.get(&(f.job.lane, f.job.test.clone())) {
                ledger::append(key, ok, f.secs as u64, &commit, &f.output);
            }
            tally.add(ok);
        }
        Event::WorkerFailed { lane, tests, why } => {
            println!(
                "FAIL: the {} VM that ran {} — {why}",
                lane.shown(),
                tests.join(" ")
            );
            record_vm_failure(&keys, lane, &tests, &commit, &why);
            tally.add(false);
        }
    })?;
    let _ = fs::remove_dir_all(&logs);
    println!(
        "== pass rates over the last {} runs (commits they ran)",
        o.repeat
    );
    fs::create_dir_all(cache_dir().join("results"))?;
    let mut complete = 0;
    for ((lane, test), key) in &keys {
        let records = ledger::read(key);
        let r = ledger::rate(&records, o.repeat);
        let commits: Vec<String> = r.commits.into_iter().collect();
        // Older runs are shown too when they hold a failure: the last N alone would hide it.
        let all = ledger::rate(&records, records.len());
        let older = if all.passed != all.runs && all.runs > r.runs {
            format!("  (all {} recorded runs: {} passed)", all.runs, all.passed)
        } else {
            String::new()
        };
        println!(
            "  {:>3}/{:<3} {} [{}]  {}{older}",
            r.passed,
            r.runs,
            test.trim_end_matches(".sh"),
            lane.shown(),
            commits.join(" ")
        );
        for f in records.iter().filter(|f| !f.pass) {
            let log = ledger::failure_log(key, f.at);
            if log.exists() {
                println!("           failed run's output: {}", log.display());
            }
        }
        if r.passed == r.runs && r.runs == o.repeat {
            complete += 1;
            // An ip_vs result that passed every repetition is as proven as one from `check`.
            if lane.module == Module::Ipvs {
                let _ = fs::write(cached_path(key), format!("PASS {}/{}\n", r.passed, r.runs));
            }
        }
    }
    println!(
        "== {complete} of {} (test, lane) pairs passed {} of {}",
        keys.len(),
        o.repeat,
        o.repeat
    );
    finish(&tally)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn deps_of(test: &str) -> Vec<String> {
        let read = |p: &str| fs::read_to_string(root().join(p)).ok();
        plan::dependencies(&format!("selftests/{test}"), &helpers().unwrap(), read)
    }

    /// The selftests' real helpers: a test depends on what it sources and runs, not on the
    /// helpers lib.sh merely names.
    #[test]
    fn real_selftests_depend_on_what_they_use() {
        let netlink = deps_of("genl_malformed.sh");
        assert!(netlink.contains(&"selftests/lib/lib.sh".to_string()));
        assert!(
            netlink.contains(&"selftests/lib/genl.py".to_string()),
            "{netlink:?}"
        );
        assert!(
            !netlink
                .iter()
                .any(|d| d.ends_with("topo.sh") || d.ends_with("traffic.py")),
            "{netlink:?}"
        );
        assert!(
            !netlink.iter().any(|d| d.ends_with("rvsadm")),
            "{netlink:?}"
        );

        let nat = deps_of("nat_rr_wrr.sh");
        for d in [
            "selftests/lib/lib.sh",
            "selftests/lib/topo.sh",
            "selftests/lib/traffic.py",
        ] {
            assert!(nat.contains(&d.to_string()), "{d} missing from {nat:?}");
        }
        assert!(!nat.iter().any(|d| d.ends_with("genl.py")), "{nat:?}");

        let mixed = deps_of("sync_failover_mixed.sh");
        for d in [
            "selftests/lib/failover.sh",
            "selftests/lib/peer.sh",
            "selftests/lib/peer.py",
        ] {
            assert!(mixed.contains(&d.to_string()), "{d} missing from {mixed:?}");
        }
        assert!(needs_peer("sync_failover_mixed.sh").unwrap());
        assert!(!needs_peer("sync_failover.sh").unwrap());

        assert!(deps_of("rvsadm_compat.sh").contains(&"target/release/rvsadm".to_string()));
        let fuzz = deps_of("genl_fuzz.sh");
        for d in [
            "target/release/rvs-fuzz",
            "selftests/expected/genl_fuzz.1",
            "selftests/expected/genl_fuzz.3",
        ] {
            assert!(fuzz.contains(&d.to_string()), "{d} missing from {fuzz:?}");
        }
        assert!(!fuzz.iter().any(|d| d.ends_with("rvsadm")), "{fuzz:?}");
        assert!(deps_of("ipvsadm_matrix.sh")
            .contains(&"selftests/expected/ipvsadm_matrix.out".to_string()));
    }

    #[test]
    fn a_skipped_selftest_fails_the_check() {
        let green = Tally {
            passed: 3,
            failed: 0,
            skipped: vec![],
        };
        assert_eq!(finish(&green).unwrap(), 0);
        let skipped = Tally {
            passed: 3,
            failed: 0,
            skipped: vec!["keepalived_nat [rvs, release]".into()],
        };
        assert_eq!(finish(&skipped).unwrap(), 1);
        let failed = Tally {
            passed: 3,
            failed: 1,
            skipped: vec![],
        };
        assert_eq!(finish(&failed).unwrap(), 1);
    }

    #[test]
    fn test_names_are_normalised_and_checked() {
        assert_eq!(test_file("nat_udp").unwrap(), "nat_udp.sh");
        assert_eq!(test_file("selftests/nat_udp.sh").unwrap(), "nat_udp.sh");
        assert!(test_file("no_such_test").is_err());
    }
}
