//! What `check` decides before and while it runs the selftests, kept free of I/O so that it is
//! tested on the host: the selftests' measured durations, the order and placement of the runs
//! (longest first, workers given to the lanes with the most work left), the expected remaining
//! time, and which files an ip_vs result depends on.

use std::collections::{BTreeMap, BTreeSet};

use crate::kernel::Flavour;
use crate::vm::Module;

/// Where a selftest runs: one kernel, one implementation under test.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Lane {
    pub kernel: Flavour,
    pub module: Module,
}

impl Lane {
    pub const RVS_RELEASE: Lane = Lane {
        kernel: Flavour::Release,
        module: Module::Rvs,
    };
    pub const IPVS_RELEASE: Lane = Lane {
        kernel: Flavour::Release,
        module: Module::Ipvs,
    };
    pub const RVS_DEBUG: Lane = Lane {
        kernel: Flavour::Debug,
        module: Module::Rvs,
    };
    /// Every selftest runs in each of these: rvs on both kernels, and ip_vs to prove the
    /// expectations (ip_vs has no debug-kernel lane: the checkers look at rvs).
    pub const ALL: [Lane; 3] = [Lane::RVS_DEBUG, Lane::RVS_RELEASE, Lane::IPVS_RELEASE];

    pub fn shown(self) -> String {
        format!("{}, {}", self.module.shown(), self.kernel.name())
    }
    fn key(self) -> String {
        format!("{} {}", self.kernel.name(), self.module.name())
    }
}

/// One measurement of a selftest in a lane: seconds in the guest, and the share of a host core
/// its VM used meanwhile (1.0 = CPU-bound; a test that mostly sleeps or waits is near 0).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Measure {
    pub secs: f64,
    pub cpu: f64,
}

/// The last measured duration of every selftest in every lane.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct History {
    pub entries: BTreeMap<(String, String), Measure>,
}

impl History {
    /// Parses "kernel module test secs cpu" lines; others (comments, garbage) are ignored.
    pub fn parse(text: &str) -> History {
        let mut h = History::default();
        for line in text.lines() {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() != 5 || line.starts_with('#') {
                continue;
            }
            if let (Ok(secs), Ok(cpu)) = (f[3].parse::<f64>(), f[4].parse::<f64>()) {
                h.entries.insert(
                    (format!("{} {}", f[0], f[1]), f[2].to_string()),
                    Measure { secs, cpu },
                );
            }
        }
        h
    }

    pub fn format(&self) -> String {
        let mut s =
            String::from("# kernel module test seconds cpu-share (written by cargo xtask check)\n");
        for ((lane, test), m) in &self.entries {
            s.push_str(&format!("{lane} {test} {:.0} {:.2}\n", m.secs, m.cpu));
        }
        s
    }

    pub fn get(&self, lane: Lane, test: &str) -> Option<Measure> {
        self.entries.get(&(lane.key(), test.to_string())).copied()
    }

    pub fn set(&mut self, lane: Lane, test: &str, m: Measure) {
        self.entries.insert((lane.key(), test.to_string()), m);
    }

    /// What `test` is expected to take in `lane`: its last measure; else its measure in another
    /// lane scaled by how much slower the debug kernel is; else a guess.
    pub fn expected(&self, lane: Lane, test: &str) -> f64 {
        if let Some(m) = self.get(lane, test) {
            return m.secs.max(1.0);
        }
        let debug_factor = 4.0;
        for other in Lane::ALL {
            if let Some(m) = self.get(other, test) {
                return match (other.kernel, lane.kernel) {
                    (Flavour::Release, Flavour::Debug) => m.secs * debug_factor,
                    (Flavour::Debug, Flavour::Release) => m.secs / debug_factor,
                    _ => m.secs,
                }
                .max(1.0);
            }
        }
        match lane.kernel {
            Flavour::Release => 60.0,
            Flavour::Debug => 240.0,
        }
    }
}

/// A run still to do: `test` in `lane`, expected to take `expected` seconds.
#[derive(Clone, Debug, PartialEq)]
pub struct Job {
    pub test: String,
    pub lane: Lane,
    pub expected: f64,
    /// The selftest needs a peer VM (its `# peer:` header).
    pub peer: bool,
}

/// Index of the longest pending job of `lane` (longest first keeps the tail of the run short).
pub fn longest_of(pending: &[Job], lane: Lane) -> Option<usize> {
    pending
        .iter()
        .enumerate()
        .filter(|(_, j)| j.lane == lane)
        .max_by(|(ia, a), (ib, b)| a.expected.total_cmp(&b.expected).then(ib.cmp(ia)))
        .map(|(i, _)| i)
}

/// The lane that gets the next worker: the one with the most expected work per worker once it
/// has one more, among lanes with more pending jobs than workers.
pub fn lane_for_new_worker(pending: &[Job], workers: &BTreeMap<Lane, usize>) -> Option<Lane> {
    let mut work: BTreeMap<Lane, (f64, usize)> = BTreeMap::new();
    for j in pending {
        let e = work.entry(j.lane).or_default();
        e.0 += j.expected;
        e.1 += 1;
    }
    let have = |lane: &Lane| workers.get(lane).copied().unwrap_or(0);
    let per_worker = |lane: &Lane, work: f64| work / (have(lane) + 1) as f64;
    work.into_iter()
        .filter(|(lane, (_, jobs))| *jobs > have(lane))
        .max_by(|(la, (wa, _)), (lb, (wb, _))| per_worker(la, *wa).total_cmp(&per_worker(lb, *wb)))
        .map(|(lane, _)| lane)
}

/// Expected seconds until everything is done: the pending jobs placed longest-first on `slots`
/// workers that are busy for `running` more seconds each.
pub fn expected_remaining(running: &[f64], pending: &[f64], slots: usize) -> f64 {
    let slots = slots.max(1).max(running.len());
    let mut load: Vec<f64> = running.to_vec();
    load.resize(slots, 0.0);
    let mut jobs = pending.to_vec();
    jobs.sort_by(|a, b| b.total_cmp(a));
    for j in jobs {
        let min = load.iter_mut().min_by(|a, b| a.total_cmp(b)).unwrap();
        *min += j;
    }
    load.into_iter().fold(0.0, f64::max)
}

/// A file the selftests use, and the words by which a script refers to it: its file name (unless
/// it is only run through a variable, like rvsadm), and the shell variables that hold its path.
#[derive(Clone, Debug)]
pub struct Helper {
    pub path: String,
    pub file_name: String,
    pub by_file_name: bool,
    pub variables: Vec<String>,
}

impl Helper {
    /// Whether `text` uses this helper. Comment lines are not a use, nor is the line that defines
    /// a variable holding its path (lib.sh names genl.py for the tests that run `$GENL`, not for
    /// every test).
    fn used_by(&self, text: &str) -> bool {
        text.lines()
            .filter(|line| !line.trim_start().starts_with('#'))
            .any(|line| {
                let defines = !variable_names(line, &self.file_name).is_empty();
                (self.by_file_name && !defines && mentions(line, &self.file_name))
                    || self.variables.iter().any(|v| mentions(line, v))
            })
    }
}

/// The helpers a selftest depends on: those it uses, then those these use, and so on. `read`
/// gives a file's text (None for a file that is not text).
pub fn dependencies(
    test: &str,
    helpers: &[Helper],
    read: impl Fn(&str) -> Option<String>,
) -> Vec<String> {
    let mut found: BTreeSet<String> = BTreeSet::new();
    let mut queue = vec![test.to_string()];
    while let Some(file) = queue.pop() {
        let Some(text) = read(&file) else { continue };
        for h in helpers {
            if !found.contains(&h.path) && h.used_by(&text) {
                found.insert(h.path.clone());
                queue.push(h.path.clone());
            }
        }
    }
    found.into_iter().collect()
}

/// True if `name` occurs in `text` as a whole word (not inside a longer identifier).
fn mentions(text: &str, name: &str) -> bool {
    let is_word = |c: char| c.is_ascii_alphanumeric() || c == '_';
    text.match_indices(name).any(|(i, _)| {
        let before = text[..i].chars().next_back();
        let after = text[i + name.len()..].chars().next();
        // A variable ($GENL) starts a word by itself; a file name must not continue one.
        (name.starts_with('$') || !before.is_some_and(is_word)) && !after.is_some_and(is_word)
    })
}

/// Shell variables that hold a helper's path (`GENL="$RVS_ROOT/selftests/lib/genl.py"`), as the
/// words a script uses to run it: `$GENL` and `${GENL}`.
pub fn variable_names(lib_text: &str, file_name: &str) -> Vec<String> {
    let mut names = Vec::new();
    for line in lib_text.lines() {
        let line = line.trim_start().trim_start_matches("export ").trim_start();
        let Some((var, value)) = line.split_once('=') else {
            continue;
        };
        let ok = !var.is_empty()
            && var
                .chars()
                .all(|c| c.is_ascii_uppercase() || c.is_ascii_digit() || c == '_')
            && value
                .trim_end_matches(['"', '\''])
                .ends_with(&format!("/{file_name}"));
        if ok {
            names.push(format!("${var}"));
            names.push(format!("${{{var}}}"));
        }
    }
    names
}

#[cfg(test)]
mod tests {
    use super::*;

    fn job(test: &str, lane: Lane, expected: f64) -> Job {
        Job {
            test: test.into(),
            lane,
            expected,
            peer: false,
        }
    }

    #[test]
    fn history_round_trips_and_ignores_garbage() {
        let mut h = History::default();
        h.set(
            Lane::RVS_DEBUG,
            "nat_10k.sh",
            Measure {
                secs: 412.0,
                cpu: 0.93,
            },
        );
        h.set(
            Lane::IPVS_RELEASE,
            "dr_tun.sh",
            Measure {
                secs: 31.0,
                cpu: 0.2,
            },
        );
        let text = h.format() + "garbage line\nrelease rvs x.sh notanumber 1\n";
        assert_eq!(History::parse(&text), h);
        assert_eq!(h.get(Lane::RVS_DEBUG, "nat_10k.sh").unwrap().secs, 412.0);
    }

    #[test]
    fn expected_duration_falls_back_to_another_lane_then_a_guess() {
        let mut h = History::default();
        h.set(
            Lane::RVS_RELEASE,
            "a.sh",
            Measure {
                secs: 10.0,
                cpu: 1.0,
            },
        );
        assert_eq!(h.expected(Lane::RVS_RELEASE, "a.sh"), 10.0);
        assert_eq!(h.expected(Lane::IPVS_RELEASE, "a.sh"), 10.0);
        assert_eq!(h.expected(Lane::RVS_DEBUG, "a.sh"), 40.0);
        assert_eq!(h.expected(Lane::RVS_DEBUG, "new.sh"), 240.0);
    }

    #[test]
    fn a_worker_takes_its_lanes_longest_job() {
        let p = vec![
            job("a", Lane::RVS_RELEASE, 5.0),
            job("b", Lane::RVS_DEBUG, 500.0),
            job("c", Lane::RVS_RELEASE, 50.0),
            job("d", Lane::RVS_RELEASE, 50.0),
        ];
        assert_eq!(
            longest_of(&p, Lane::RVS_RELEASE),
            Some(2),
            "the first of equals"
        );
        assert_eq!(longest_of(&p, Lane::RVS_DEBUG), Some(1));
        assert_eq!(longest_of(&p, Lane::IPVS_RELEASE), None);
    }

    #[test]
    fn new_workers_go_where_the_work_is() {
        let p = vec![
            job("a", Lane::RVS_DEBUG, 400.0),
            job("b", Lane::RVS_DEBUG, 400.0),
            job("c", Lane::RVS_RELEASE, 100.0),
            job("d", Lane::IPVS_RELEASE, 300.0),
        ];
        let mut w = BTreeMap::new();
        assert_eq!(lane_for_new_worker(&p, &w), Some(Lane::RVS_DEBUG));
        w.insert(Lane::RVS_DEBUG, 1);
        // debug: 800 / 2 = 400 per worker beats ip_vs's 300.
        assert_eq!(lane_for_new_worker(&p, &w), Some(Lane::RVS_DEBUG));
        w.insert(Lane::RVS_DEBUG, 2);
        // No more debug workers than debug jobs.
        assert_eq!(lane_for_new_worker(&p, &w), Some(Lane::IPVS_RELEASE));
        w.insert(Lane::IPVS_RELEASE, 1);
        assert_eq!(lane_for_new_worker(&p, &w), Some(Lane::RVS_RELEASE));
        w.insert(Lane::RVS_RELEASE, 1);
        assert_eq!(lane_for_new_worker(&p, &w), None);
    }

    #[test]
    fn remaining_time_packs_longest_first() {
        assert_eq!(expected_remaining(&[], &[], 2), 0.0);
        assert_eq!(
            expected_remaining(&[], &[3.0, 3.0, 2.0, 2.0, 2.0], 2),
            7.0,
            "LPT, not optimal"
        );
        assert_eq!(expected_remaining(&[10.0], &[4.0, 4.0], 2), 10.0);
        assert_eq!(
            expected_remaining(&[1.0, 1.0, 1.0], &[], 2),
            1.0,
            "more running than slots"
        );
    }

    #[test]
    fn dependencies_follow_names_and_variables_transitively() {
        let lib = "GENL=\"$RVS_ROOT/selftests/lib/genl.py\"\nTRAFFIC=\"$RVS_ROOT/selftests/lib/traffic.py\"\n";
        let mk = |p: &str, f: &str| Helper {
            path: p.into(),
            file_name: f.into(),
            by_file_name: true,
            variables: variable_names(lib, f),
        };
        let helpers = vec![
            mk("lib/lib.sh", "lib.sh"),
            mk("lib/topo.sh", "topo.sh"),
            mk("lib/genl.py", "genl.py"),
            mk("lib/traffic.py", "traffic.py"),
            mk("expected/m.out", "m.out"),
        ];
        let files: BTreeMap<&str, &str> = [
            ("t1.sh", ". lib/lib.sh\n. lib/topo.sh\n"),
            (
                "t2.sh",
                ". lib/lib.sh\npython3 $GENL get\ndiff expected/m.out x\n",
            ),
            ("lib/lib.sh", lib),
            ("lib/topo.sh", "# not genl.py\npython3 \"$TRAFFIC\" hold"),
            ("lib/genl.py", "import sys"),
            ("lib/traffic.py", "import socket  # not $TRAFFICKING"),
        ]
        .into_iter()
        .collect();
        let read = |p: &str| files.get(p).map(|s| s.to_string());
        assert_eq!(
            dependencies("t1.sh", &helpers, read),
            ["lib/lib.sh", "lib/topo.sh", "lib/traffic.py"]
        );
        assert_eq!(
            dependencies("t2.sh", &helpers, read),
            ["expected/m.out", "lib/genl.py", "lib/lib.sh"]
        );
        assert!(!mentions("x $TRAFFICKING", "$TRAFFIC"));
        assert!(!mentions("mytopo.sh", "topo.sh"));
        assert!(mentions("lib/topo.sh\n", "topo.sh"));
    }
}
