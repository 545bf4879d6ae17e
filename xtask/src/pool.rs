//! The selftest workers of `check`: VMs that each run one lane's tests one at a time, as the host
//! hands them out (selftests/lib/worker.sh), so that a boot serves many tests and every test can
//! go to whichever worker frees up first. At most `slots` workers run at once; jobs go longest
//! first; a new worker goes to the lane with the most work left per worker. A job whose selftest
//! needs a peer (`# peer: ipvs`) gets one booted on its worker's link for the time of the test.

use std::collections::BTreeMap;
use std::fs::{self, File};
use std::path::PathBuf;
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use crate::kernel::Flavour;
use crate::plan::{self, Job, Lane};
use crate::util::Result;
use crate::vm::{self, Image, Link, Peer, RunDir};

/// How one selftest run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Verdict {
    Pass,
    Fail,
    Skip,
}

/// A finished job: its verdict, seconds in the guest, the host CPU share of its VM, its output.
#[derive(Clone, Debug)]
pub struct Finished {
    pub job: Job,
    pub verdict: Verdict,
    pub secs: f64,
    pub cpu: f64,
    /// True when the time was measured in the guest (not a crash or a kill).
    pub measured: bool,
    pub output: String,
}

/// What the pool reports as it goes.
pub enum Event {
    Finished(Finished),
    /// A worker failed beyond any one test: its kernel reported problems at the end (kmemleak,
    /// a splat while unloading) or the module would not unload.
    WorkerFailed {
        lane: Lane,
        tests: Vec<String>,
        why: String,
    },
}

struct Running {
    job: Job,
    n: u32,
    since: Instant,
    cpu0: f64,
    /// Killed when the job ends.
    _peer: Option<Peer>,
}

struct Worker {
    lane: Lane,
    child: Child,
    run: RunDir,
    console: PathBuf,
    /// The far end of the worker's link, where a job's peer goes.
    peer_link: Link,
    next: u32,
    current: Option<Running>,
    exiting: bool,
    tests: Vec<String>,
}

impl Worker {
    fn start(image: &Image, lane: Lane, logs: &std::path::Path, seq: usize) -> Result<Worker> {
        let run = RunDir::new(image, lane.module, "selftests/lib/worker.sh", false)?;
        let console = logs.join(format!(
            "worker-{seq}-{}-{}.console",
            lane.module.name(),
            lane.kernel.name()
        ));
        let out = File::create(&console)?;
        let (link, peer_link) = Link::pair()?;
        let child = vm::spawn(
            image,
            &run,
            vm::vcpus(lane.kernel),
            Stdio::from(out),
            Some(&link),
        )?;
        Ok(Worker {
            lane,
            child,
            run,
            console,
            peer_link,
            next: 1,
            current: None,
            exiting: false,
            tests: Vec::new(),
        })
    }

    fn send(&mut self, what: &str) -> Result<()> {
        let jobs = self.run.path.join("jobs");
        fs::create_dir_all(&jobs)?;
        let tmp = jobs.join(format!(".{}", self.next));
        fs::write(&tmp, format!("{what}\n"))?;
        fs::rename(&tmp, jobs.join(self.next.to_string()))?;
        Ok(())
    }

    fn assign(&mut self, job: Job, peer_image: Option<&Image>) -> Result<()> {
        let peer = match (job.peer, peer_image) {
            (false, _) => None,
            (true, Some(image)) => {
                let console = self
                    .console
                    .with_extension(format!("peer-{}.console", self.next));
                Some(Peer::start(image, &self.peer_link, &console)?)
            }
            (true, None) => crate::util::bail!("{} needs a peer: no release kernel", job.test),
        };
        self.send(&job.test)?;
        self.tests.push(job.test.clone());
        self.current = Some(Running {
            job,
            n: self.next,
            since: Instant::now(),
            cpu0: vm::cpu_secs(self.child.id()),
            _peer: peer,
        });
        self.next += 1;
        Ok(())
    }

    fn stop(&mut self) -> Result<()> {
        self.exiting = true;
        self.send("exit")
    }

    /// The current job's result, once the guest wrote it.
    fn poll_job(&mut self) -> Option<Finished> {
        let r = self.current.as_ref()?;
        let results = self.run.path.join("results");
        let done = fs::read_to_string(results.join(format!("{}.done", r.n))).ok()?;
        let mut f = done.split_whitespace();
        let verdict = match f.next() {
            Some("PASS") => Verdict::Pass,
            Some("SKIP") => Verdict::Skip,
            _ => Verdict::Fail,
        };
        let secs = f.next().and_then(|s| s.parse().ok()).unwrap_or(0.0);
        let output = fs::read_to_string(results.join(format!("{}.log", r.n))).unwrap_or_default();
        let r = self.current.take().unwrap();
        let wall = r.since.elapsed().as_secs_f64().max(0.1);
        let cpu = ((vm::cpu_secs(self.child.id()) - r.cpu0) / wall).max(0.0);
        Some(Finished {
            job: r.job,
            verdict,
            secs,
            cpu,
            measured: true,
            output,
        })
    }

    fn console_tail(&self, lines: usize) -> String {
        let text = fs::read_to_string(&self.console).unwrap_or_default();
        let v: Vec<&str> = text.lines().collect();
        v[v.len().saturating_sub(lines)..].join("\n")
    }
}

/// Runs `jobs` on at most `slots` workers; `report` sees each event as it happens, with the
/// expected seconds left.
pub fn run(
    mut pending: Vec<Job>,
    slots: usize,
    images: &BTreeMap<Flavour, Image>,
    logs: &std::path::Path,
    mut report: impl FnMut(Event, f64),
) -> Result<()> {
    let mut workers: Vec<Worker> = Vec::new();
    let mut started = 0usize;
    let peer_image = images.get(&Flavour::Release);
    // A test hangs at most this long in the guest (runner.sh's limit) before its VM is killed.
    let hang = |lane: Lane| {
        Duration::from_secs(match lane.kernel {
            Flavour::Release => 900 + 180,
            Flavour::Debug => 1800 + 300,
        })
    };
    loop {
        // Collect results and dead workers.
        let mut i = 0;
        while i < workers.len() {
            let w = &mut workers[i];
            if let Some(done) = w.poll_job() {
                let left = remaining(&workers, &pending, slots);
                report(Event::Finished(done), left);
                continue;
            }
            if let Some(r) = &w.current {
                if r.since.elapsed() > hang(w.lane) {
                    let _ = w.child.kill();
                }
            }
            if w.child.try_wait()?.is_some() {
                let w = workers.remove(i);
                let lane = w.lane;
                if let Some(r) = &w.current {
                    let output = format!(
                        "  FAIL: the VM died during this test (kernel panic, or killed after {} s); console:\n{}",
                        r.since.elapsed().as_secs(),
                        w.console_tail(60)
                    );
                    let secs = r.since.elapsed().as_secs_f64();
                    let done = Finished {
                        job: r.job.clone(),
                        verdict: Verdict::Fail,
                        secs,
                        cpu: 0.0,
                        measured: false,
                        output,
                    };
                    let left = remaining(&workers, &pending, slots);
                    report(Event::Finished(done), left);
                } else {
                    let why = match w.run.rc() {
                        None if w.exiting => Some(format!(
                            "the VM did not shut down cleanly; console:\n{}",
                            w.console_tail(40)
                        )),
                        None => Some(format!(
                            "the VM died before its first test; console:\n{}",
                            w.console_tail(40)
                        )),
                        Some(rc) => {
                            let splats = w.run.splats();
                            if !splats.trim().is_empty() {
                                Some(format!(
                                    "the guest kernel reported problems at the end:\n{splats}"
                                ))
                            } else if rc != 0 {
                                Some(format!(
                                    "the guest's runner exited {rc} (module unload failed?)"
                                ))
                            } else {
                                None
                            }
                        }
                    };
                    if let Some(why) = why {
                        let left = remaining(&workers, &pending, slots);
                        report(
                            Event::WorkerFailed {
                                lane,
                                tests: w.tests.clone(),
                                why,
                            },
                            left,
                        );
                    }
                }
                continue;
            }
            i += 1;
        }

        // Hand out work to idle workers; a worker whose lane has nothing left stops.
        for w in workers
            .iter_mut()
            .filter(|w| w.current.is_none() && !w.exiting)
        {
            match plan::longest_of(&pending, w.lane) {
                Some(j) => w.assign(pending.remove(j), peer_image)?,
                None => w.stop()?,
            }
        }

        // Start workers while there are free slots and lanes that need them.
        loop {
            let active = workers.iter().filter(|w| !w.exiting).count();
            if active >= slots {
                break;
            }
            let mut per_lane = BTreeMap::new();
            for w in workers.iter().filter(|w| !w.exiting) {
                *per_lane.entry(w.lane).or_insert(0) += 1;
            }
            let Some(lane) = plan::lane_for_new_worker(&pending, &per_lane) else {
                break;
            };
            let Some(j) = plan::longest_of(&pending, lane) else {
                break;
            };
            started += 1;
            let mut w = Worker::start(&images[&lane.kernel], lane, logs, started)?;
            w.assign(pending.remove(j), peer_image)?;
            workers.push(w);
        }

        if workers.is_empty() && pending.is_empty() {
            return Ok(());
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// Expected seconds left: what the running jobs still need, then the pending ones packed.
fn remaining(workers: &[Worker], pending: &[Job], slots: usize) -> f64 {
    let running: Vec<f64> = workers
        .iter()
        .filter_map(|w| w.current.as_ref())
        .map(|r| (r.job.expected - r.since.elapsed().as_secs_f64()).max(5.0))
        .collect();
    let pending: Vec<f64> = pending.iter().map(|j| j.expected).collect();
    plan::expected_remaining(&running, &pending, slots)
}
