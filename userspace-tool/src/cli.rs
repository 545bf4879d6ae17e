//! The ipvsadm command line (`ipvsadm.c` `parse_options`): commands, options and their checks.

use std::fmt;

/// What the command line asks for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Command {
    /// `-L` / `-l` / `--list`.
    List { numeric: bool, timeout: bool },
    /// `--set tcp tcpfin udp`.
    SetTimeouts { tcp: u32, tcp_fin: u32, udp: u32 },
    /// `-v` / `--version`.
    Version,
    /// `-h` / `--help`.
    Help,
}

/// A command line that cannot be run, with the reason.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError(pub String);

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// Options of ipvsadm that rvsadm does not implement yet: refused by name rather than misread.
const NOT_YET: &[&str] = &[
    "-A",
    "--add-service",
    "-E",
    "--edit-service",
    "-D",
    "--delete-service",
    "-C",
    "--clear",
    "-R",
    "--restore",
    "-S",
    "--save",
    "-a",
    "--add-server",
    "-e",
    "--edit-server",
    "-d",
    "--delete-server",
    "-Z",
    "--zero",
    "--start-daemon",
    "--stop-daemon",
    "-c",
    "--connection",
    "--stats",
    "--rate",
    "--thresholds",
    "--persistent-conn",
    "--daemon",
    "--exact",
    "--json",
    "-t",
    "--tcp-service",
    "-u",
    "--udp-service",
    "--sctp-service",
    "-f",
    "--fwmark-service",
];

fn parse_seconds(arg: Option<&String>, what: &str) -> Result<u32, UsageError> {
    let arg = arg.ok_or_else(|| {
        UsageError(format!(
            "--set needs three timeouts (tcp tcpfin udp), {what} is missing"
        ))
    })?;
    arg.parse::<u32>()
        .ok()
        .filter(|&s| s <= i32::MAX as u32)
        .ok_or_else(|| {
            UsageError(format!(
                "illegal {what} timeout '{arg}': expected seconds (0 keeps the current value)"
            ))
        })
}

/// Parses the arguments after the program name.
pub fn parse(args: &[String]) -> Result<Command, UsageError> {
    let mut list = false;
    let mut numeric = false;
    let mut timeout = false;
    let mut command: Option<Command> = None;
    let mut i = 0;
    while i < args.len() {
        let arg = args[i].as_str();
        match arg {
            "-L" | "-l" | "--list" => list = true,
            "-n" | "--numeric" => numeric = true,
            "--timeout" => timeout = true,
            "--sort" => {}
            "-v" | "--version" => command = Some(Command::Version),
            "-h" | "--help" => command = Some(Command::Help),
            "--set" => {
                let tcp = parse_seconds(args.get(i + 1), "tcp")?;
                let tcp_fin = parse_seconds(args.get(i + 2), "tcpfin")?;
                let udp = parse_seconds(args.get(i + 3), "udp")?;
                command = Some(Command::SetTimeouts { tcp, tcp_fin, udp });
                i += 3;
            }
            // Bundled short options, as popt accepts them: -Ln, -ln.
            _ if arg.len() > 2 && arg.starts_with('-') && !arg.starts_with("--") => {
                let expanded: Vec<String> = arg[1..].chars().map(|c| format!("-{c}")).collect();
                match parse(&expanded)? {
                    Command::List {
                        numeric: n,
                        timeout: t,
                    } => {
                        list = true;
                        numeric |= n;
                        timeout |= t;
                    }
                    other => command = Some(other),
                }
            }
            _ if NOT_YET.contains(&arg) => {
                return Err(UsageError(format!(
                    "option '{arg}' is not supported by this rvsadm yet"
                )));
            }
            _ => {
                return Err(UsageError(format!(
                    "unknown option '{arg}' (see rvsadm --help)"
                )))
            }
        }
        i += 1;
    }
    match command {
        Some(cmd) if !list => Ok(cmd),
        Some(_) => Err(UsageError(
            "-L cannot be combined with another command".into(),
        )),
        None if list => Ok(Command::List { numeric, timeout }),
        None if numeric || timeout => Err(UsageError("-n and --timeout go with -L".into())),
        None => Ok(Command::Help),
    }
}

pub const HELP: &str = "\
rvsadm: administer rvs (and in-tree IPVS) over the IPVS generic netlink ABI.
Command line compatible with ipvsadm.

Usage:
  rvsadm -L|l [-n] [--timeout]     list the table (or the timeouts)
  rvsadm --set tcp tcpfin udp      set the connection timeouts, in seconds (0 keeps one)
  rvsadm -v|--version              show the version
  rvsadm -h|--help                 show this help

Options:
  --list         -L|-l             list the table
  --numeric      -n                numeric output of addresses and ports
  --timeout                        output of timeout (tcp tcpfin udp)
";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    #[test]
    fn list_forms() {
        let numeric = Command::List {
            numeric: true,
            timeout: false,
        };
        assert_eq!(parse(&args("-L -n")), Ok(numeric.clone()));
        assert_eq!(parse(&args("-Ln")), Ok(numeric.clone()));
        assert_eq!(parse(&args("-ln")), Ok(numeric.clone()));
        assert_eq!(parse(&args("--list --numeric")), Ok(numeric));
        assert_eq!(
            parse(&args("-L")),
            Ok(Command::List {
                numeric: false,
                timeout: false
            })
        );
        assert_eq!(
            parse(&args("-L --timeout")),
            Ok(Command::List {
                numeric: false,
                timeout: true
            })
        );
    }

    #[test]
    fn set_timeouts() {
        assert_eq!(
            parse(&args("--set 900 120 300")),
            Ok(Command::SetTimeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            })
        );
        assert!(parse(&args("--set 900 120"))
            .unwrap_err()
            .0
            .contains("udp is missing"));
        assert!(parse(&args("--set 900 x 300"))
            .unwrap_err()
            .0
            .contains("illegal tcpfin timeout 'x'"));
        assert!(parse(&args("--set 900 120 3000000000")).is_err());
    }

    #[test]
    fn refusals_name_the_option() {
        assert_eq!(
            parse(&args("-A -t 1.2.3.4:80")).unwrap_err().0,
            "option '-A' is not supported by this rvsadm yet"
        );
        assert!(parse(&args("--bogus"))
            .unwrap_err()
            .0
            .contains("unknown option '--bogus'"));
        assert!(parse(&args("-n")).is_err());
        assert!(parse(&args("-L --version")).is_err());
        assert_eq!(parse(&args("")), Ok(Command::Help));
        assert_eq!(parse(&args("--version")), Ok(Command::Version));
    }
}
