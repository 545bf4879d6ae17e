//! rvsadm: the administration tool of rvs, command-line compatible with ipvsadm 1.31.

mod cli;
mod ipvs;
mod list;
mod names;

// The netlink client is the library's, shared with the fuzzer; `crate::netlink` names it here.
use rvsadm::netlink;

use cli::{Cmd, Invocation, Opt, Parsed};
use ipvs::Ipvs;
use netlink::Error;
use rvs_abi::cmd;
use std::io::{BufRead, Write};
use std::process::ExitCode;

/// A failed command: what to print and the exit code.
struct Failure {
    message: String,
    code: u8,
}

impl From<cli::UsageError> for Failure {
    fn from(e: cli::UsageError) -> Self {
        Failure {
            message: e.message,
            code: e.code,
        }
    }
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::ENOMEM => "ENOMEM",
        libc::EEXIST => "EEXIST",
        libc::ENODEV => "ENODEV",
        libc::EINVAL => "EINVAL",
        libc::ERANGE => "ERANGE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EMSGSIZE => "EMSGSIZE",
        _ => "errno",
    }
}

/// libipvs `ipvs_strerror`: the message ipvsadm prints for an errno after a given command.
fn ipvs_message(command: Cmd, errno: i32) -> String {
    let specific = match (command, errno) {
        (Cmd::Add, libc::EEXIST) => Some("Service already exists"),
        (Cmd::Add | Cmd::Edit, libc::ENOENT) => Some("Scheduler or persistence engine not found"),
        (Cmd::Edit | Cmd::Del | Cmd::Zero | Cmd::List | Cmd::Save, libc::ESRCH) => {
            Some("No such service")
        }
        (Cmd::AddDest | Cmd::EditDest | Cmd::DelDest, libc::ESRCH) => Some("Service not defined"),
        (Cmd::AddDest, libc::EEXIST) => Some("Destination already exists"),
        (Cmd::EditDest | Cmd::DelDest, libc::ENOENT) => Some("No such destination"),
        (Cmd::StartDaemon, libc::EEXIST) => Some("Daemon has already run"),
        (Cmd::StopDaemon, libc::ESRCH) => Some("No daemon is running"),
        (_, libc::EPERM) => Some("Permission denied (you must be root): IPVS needs CAP_NET_ADMIN"),
        (_, libc::EINVAL) => {
            Some("Invalid operation.  Possibly wrong module version, address not unicast, ...")
        }
        (_, libc::ENOPROTOOPT) => Some("Protocol not available"),
        (_, libc::ENOMEM) => Some("Memory allocation problem"),
        (_, libc::EOPNOTSUPP) => Some("Operation not supported"),
        (_, libc::EAFNOSUPPORT) => Some("Operation not supported with specified address family"),
        (_, libc::EMSGSIZE) => Some("Module is wrong version"),
        _ => None,
    };
    let text = specific
        .map(String::from)
        .unwrap_or_else(|| std::io::Error::from_raw_os_error(errno).to_string());
    format!("{text} ({})", errno_name(errno))
}

fn kernel_failure(command: Cmd, err: Error) -> Failure {
    match err {
        Error::NoFamily(_) => Failure {
            message: "the IPVS generic netlink family is not registered: load the module (insmod rvs.ko) and try again"
                .into(),
            code: 2,
        },
        Error::Kernel(errno) => Failure { message: ipvs_message(command, errno), code: 1 },
        Error::Io(e) => Failure { message: format!("netlink socket: {e}"), code: 2 },
        other => Failure { message: other.to_string(), code: 1 },
    }
}

fn table(ipvs: &mut Ipvs) -> Result<Vec<(ipvs::Service, Vec<ipvs::Dest>)>, Error> {
    let mut table = Vec::new();
    for svc in ipvs.services()? {
        let dests = ipvs.dests(&svc)?;
        table.push((svc, dests));
    }
    Ok(table)
}

fn run(inv: &Invocation, ipvs: &mut Ipvs, out: &mut String) -> Result<(), Failure> {
    let fail = |e| kernel_failure(inv.cmd, e);
    match inv.cmd {
        Cmd::List if inv.has(Opt::Connection) => {
            let bytes = std::fs::read("/proc/net/ip_vs_conn").map_err(|_| Failure {
                message: "cannot open file /proc/net/ip_vs_conn".into(),
                code: 1,
            })?;
            // A SIP Call-ID may hold bytes that are not UTF-8 (IPVS takes Latin-1 letters).
            let text = String::from_utf8_lossy(&bytes);
            out.push_str(&list::render_conns(
                &text,
                inv.format.numeric,
                inv.format.persistent_conn,
            ));
        }
        Cmd::List if inv.has(Opt::Service) => {
            let svc = ipvs.service(&inv.svc).map_err(fail)?;
            let dests = ipvs.dests(&svc).map_err(fail)?;
            out.push_str(&list::render_one(&svc, &dests, &inv.format));
        }
        Cmd::List if inv.has(Opt::Timeout) => {
            out.push_str(&list::render_timeouts(&ipvs.timeouts().map_err(fail)?))
        }
        Cmd::List if inv.has(Opt::Daemon) => {
            for d in ipvs.daemons().map_err(fail)? {
                out.push_str(&list::render_daemon(&d));
            }
        }
        Cmd::List | Cmd::Save => {
            let info = ipvs.info().map_err(fail)?;
            let table = table(ipvs).map_err(fail)?;
            if inv.format.json {
                out.push_str(&list::render_json(&info, &table));
            } else {
                out.push_str(&list::render_all(&info, &table, &inv.format));
            }
        }
        Cmd::Flush => ipvs.bare_cmd(cmd::FLUSH).map_err(fail)?,
        Cmd::Zero if !inv.has(Opt::Service) => ipvs.bare_cmd(cmd::ZERO).map_err(fail)?,
        Cmd::Zero => ipvs.service_cmd(cmd::ZERO, &inv.svc, None).map_err(fail)?,
        Cmd::Add => ipvs
            .service_cmd(cmd::NEW_SERVICE, &inv.svc, None)
            .map_err(fail)?,
        Cmd::Edit => ipvs
            .service_cmd(cmd::SET_SERVICE, &inv.svc, None)
            .map_err(fail)?,
        Cmd::Del => ipvs
            .service_cmd(cmd::DEL_SERVICE, &inv.svc, None)
            .map_err(fail)?,
        Cmd::AddDest => ipvs
            .service_cmd(cmd::NEW_DEST, &inv.svc, Some(&inv.dest))
            .map_err(fail)?,
        Cmd::EditDest => ipvs
            .service_cmd(cmd::SET_DEST, &inv.svc, Some(&inv.dest))
            .map_err(fail)?,
        Cmd::DelDest => ipvs
            .service_cmd(cmd::DEL_DEST, &inv.svc, Some(&inv.dest))
            .map_err(fail)?,
        Cmd::Timeout => {
            let [tcp, tcp_fin, udp] = inv.timeouts;
            ipvs.set_timeouts(ipvs::Timeouts { tcp, tcp_fin, udp })
                .map_err(fail)?
        }
        Cmd::StartDaemon => ipvs
            .daemon_cmd(cmd::NEW_DAEMON, &inv.daemon)
            .map_err(fail)?,
        Cmd::StopDaemon => ipvs
            .daemon_cmd(cmd::DEL_DAEMON, &inv.daemon)
            .map_err(fail)?,
        Cmd::Restore => unreachable!("handled by restore()"),
    }
    Ok(())
}

/// `-R`: every line of standard input as a command line; stops at the first failure, naming the
/// line.
fn restore(ipvs: &mut Ipvs) -> Result<(), Failure> {
    let stdin = std::io::stdin();
    for (n, line) in stdin.lock().lines().enumerate() {
        let line = line.map_err(|e| Failure {
            message: format!("reading standard input: {e}"),
            code: 1,
        })?;
        let args = cli::split_line(&line);
        if args.is_empty() {
            continue;
        }
        let at = |f: Failure| Failure {
            message: format!("line {}: {}: {}", n + 1, line.trim(), f.message),
            code: f.code,
        };
        let inv = match cli::parse(&args).map_err(|e| at(e.into()))? {
            Parsed::Run(inv) if inv.cmd != Cmd::Restore => inv,
            _ => {
                return Err(at(Failure {
                    message: "not a command that -R can run".into(),
                    code: 2,
                }))
            }
        };
        let mut out = String::new();
        run(&inv, ipvs, &mut out).map_err(at)?;
        print!("{out}");
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let outcome = (|| -> Result<(), Failure> {
        let inv = match cli::parse(&args)? {
            Parsed::Help => {
                print!("{}", cli::HELP);
                return Ok(());
            }
            Parsed::Version => {
                let (major, minor, patch) = rvs_abi::VERSION;
                println!(
                    "rvsadm v{} (IPVS netlink ABI v{major}.{minor}.{patch})",
                    env!("CARGO_PKG_VERSION")
                );
                return Ok(());
            }
            Parsed::Run(inv) => inv,
        };
        let mut ipvs = Ipvs::connect().map_err(|e| kernel_failure(inv.cmd, e))?;
        ipvs.info().map_err(|e| kernel_failure(inv.cmd, e))?;
        if inv.cmd == Cmd::Restore {
            return restore(&mut ipvs);
        }
        let mut out = String::new();
        run(&inv, &mut ipvs, &mut out)?;
        let mut stdout = std::io::stdout().lock();
        let _ = stdout.write_all(out.as_bytes());
        Ok(())
    })();
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("rvsadm: {}", f.message);
            ExitCode::from(f.code)
        }
    }
}
