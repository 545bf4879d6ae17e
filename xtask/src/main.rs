//! `cargo xtask <verb>`: the host side of rvs, from installing the toolchain to running every test.
//! The selftests themselves are shell scripts run inside the guest (selftests/).

mod bench;
mod check;
mod deps;
mod kernel;
mod ledger;
mod lint;
mod module;
mod plan;
mod pool;
mod soak;
mod toolchain;
mod util;
mod vm;

use std::time::Duration;

use kernel::Flavour;
use vm::Module;

const HELP: &str = "\
cargo xtask <verb>: rvs's host side

  deps [--check]             install (or only verify) the host's dependencies
  kernel [release|debug]     build the test kernel once (cached by its inputs); prints its directory
  module [release|debug] [--kdir DIR]
                             build rvs.ko for a test kernel or any kernel build directory; prints its path
  vm [--kernel release|debug] [--module rvs|ipvs|none] [--timeout SECS] -- CMD...
                             run CMD as root in a VM with the module loaded; exits with CMD's status
  demo                       the main job: a client, a director and three web servers balanced by rvs
  check [--full] [--jobs N] [--kernel K] [--module M] [--save-durations] [TEST...]
                             every test: host tests, lint, the runner, then each selftest against rvs
                             (release and debug kernel) and ip_vs; ends with `N passed, N failed`;
                             with TEST names, only those selftests
  check --repeat N [--kernel K] [--module M] [TEST...]
                             run tests until the ledger ($RVS_CACHE/ledger) holds N runs of each in
                             each lane (earlier runs of the same test and kernel count), then report
                             their pass rates over the last N runs
  bench [nat|scale|director|sync] rvs vs ip_vs (vs plain forwarding): NAT throughput, packet and connection
                             rates (nat); thousands of services: restore, listing, command latency,
                             keepalived start and stop, packet rate among 10 000 services (scale);
                             the director's packets/s and connections/s from in-kernel generators,
                             table scale, memory per connection (director: bench/results, BENCHMARKS.md);
                             connections a director pair syncs per second, master and backup (sync);
                             BENCH_* variables reach the scripts (BENCH_ROUNDS=N, ...)
  soak [--messages N] [--seed N]
                             the fuzzers' long form: the netlink fuzzer against ip_vs (recording its
                             answers), then rvs on the release and debug kernels (each answer as
                             ip_vs's, no splat, no leak); default a million requests, a new seed
  lint                       rustfmt and clippy (module and host crates)
  host-test                  cargo test of the host crates and the module's kernel-independent logic

Environment: RVS_CACHE (default /var/cache/rvs), RVS_KDIR (a kernel build directory for vm),
RVS_CHECK_JOBS (worker VMs at once), RVS_VERBOSE=1 (print passing tests' output), RVS_KVM=1.
";

fn run(verb: &str, rest: &[String]) -> util::Result<i32> {
    match verb {
        "deps" => deps::main(rest),
        "kernel" => kernel::main(rest),
        "module" => module::main(rest),
        "vm" => vm::main(rest),
        "demo" => {
            deps::ensure()?;
            vm::run_cmd(
                Flavour::Release,
                Module::Rvs,
                Duration::from_secs(2400),
                "qemu/demo.sh",
            )
        }
        "bench" => bench::main(rest),
        "soak" => soak::main(rest),
        "check" => check::main(rest),
        "lint" => lint::lint_main(),
        "host-test" => lint::host_test_main(),
        "help" | "--help" | "-h" => {
            print!("{HELP}");
            Ok(0)
        }
        _ => {
            eprint!("xtask: unknown verb '{verb}'\n\n{HELP}");
            Ok(2)
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let verb = args.first().map(String::as_str).unwrap_or("help");
    let rest = &args[1.min(args.len())..];
    let code = match run(verb, rest) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("xtask {verb}: error: {e}");
            1
        }
    };
    std::process::exit(code);
}
