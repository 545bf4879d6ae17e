//! rvsadm: the administration tool of rvs, command-line compatible with ipvsadm.

#[path = "../../rust/abi.rs"]
mod abi;
mod cli;
mod ipvs;
mod list;
mod names;
mod netlink;

use cli::Command;
use ipvs::Ipvs;
use netlink::Error;
use std::process::ExitCode;

/// The message for a failed kernel call, with ipvsadm's wording where it has one.
fn describe(err: &Error) -> String {
    match err {
        Error::NoFamily(_) => "the IPVS generic netlink family is not registered: \
            load the module (insmod rvs.ko) and try again"
            .to_string(),
        Error::Kernel(errno) if *errno == libc::EPERM => {
            "Permission denied (you must be root): IPVS needs CAP_NET_ADMIN (EPERM)".to_string()
        }
        Error::Kernel(errno) => {
            format!("{} ({})", err, errno_name(*errno))
        }
        other => other.to_string(),
    }
}

fn errno_name(errno: i32) -> &'static str {
    match errno {
        libc::EPERM => "EPERM",
        libc::ENOENT => "ENOENT",
        libc::ESRCH => "ESRCH",
        libc::ENOMEM => "ENOMEM",
        libc::EEXIST => "EEXIST",
        libc::EINVAL => "EINVAL",
        libc::ERANGE => "ERANGE",
        libc::ENOPROTOOPT => "ENOPROTOOPT",
        libc::EOPNOTSUPP => "EOPNOTSUPP",
        libc::EAFNOSUPPORT => "EAFNOSUPPORT",
        libc::EMSGSIZE => "EMSGSIZE",
        _ => "errno",
    }
}

fn run(command: Command) -> Result<(), Error> {
    match command {
        Command::Help => print!("{}", cli::HELP),
        Command::Version => {
            let (major, minor, patch) = abi::VERSION;
            println!(
                "rvsadm v{} (IPVS netlink ABI v{major}.{minor}.{patch})",
                env!("CARGO_PKG_VERSION")
            );
        }
        Command::List { numeric, timeout } => {
            let mut ipvs = Ipvs::connect()?;
            let info = ipvs.info()?;
            if timeout {
                print!("{}", list::render_timeouts(&ipvs.timeouts()?));
                return Ok(());
            }
            let mut table = Vec::new();
            for svc in ipvs.services()? {
                let dests = ipvs.dests(&svc)?;
                table.push((svc, dests));
            }
            print!(
                "{}",
                list::render_all(&info, &table, list::Format { numeric })
            );
        }
        Command::SetTimeouts { tcp, tcp_fin, udp } => {
            let mut ipvs = Ipvs::connect()?;
            ipvs.info()?;
            ipvs.set_timeouts(ipvs::Timeouts { tcp, tcp_fin, udp })?;
        }
    }
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let command = match cli::parse(&args) {
        Ok(command) => command,
        Err(err) => {
            eprintln!("rvsadm: {err}");
            return ExitCode::from(2);
        }
    };
    match run(command) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            eprintln!("rvsadm: {}", describe(&err));
            // ipvsadm exits 2 when it cannot reach IPVS at all, 1 when a command fails.
            ExitCode::from(if matches!(err, Error::NoFamily(_) | Error::Io(_)) {
                2
            } else {
                1
            })
        }
    }
}
