//! The ipvsadm command line (ipvsadm 1.31 `parse_options` and `process_options`): commands,
//! options, the table of legal combinations and ipvsadm's messages, so that scripts written for
//! ipvsadm (and `ipvsadm -S` output fed to `rvsadm -R`) work unchanged.

use rvs_abi::{
    conn_flag, daemon_state, svc_flag, tunnel_flag, tunnel_type, AF_INET, AF_INET6, IFNAME_MAXLEN,
    IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, NETMASK_INET6_ALL, NETMASK_INET_ALL, PENAME_MAXLEN,
    SCHEDNAME_MAXLEN,
};
use std::fmt;
use std::net::{IpAddr, Ipv4Addr, ToSocketAddrs};

/// ipvsadm's commands, in the order of its `cmdnames` table.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cmd {
    Add,
    Edit,
    Del,
    Flush,
    List,
    AddDest,
    DelDest,
    EditDest,
    Timeout,
    StartDaemon,
    StopDaemon,
    Restore,
    Save,
    Zero,
}

const CMD_NAMES: [&str; 14] = [
    "add-service",
    "edit-service",
    "delete-service",
    "flush",
    "list",
    "add-server",
    "delete-server",
    "edit-server",
    "set",
    "start-daemon",
    "stop-daemon",
    "restore",
    "save",
    "zero",
];

/// Declares [`Opt`] and [`ALL_OPTS`] from one list, so that the two cannot disagree.
macro_rules! options {
    ($($name:ident),* $(,)?) => {
        /// ipvsadm's options, in the order of its `optnames` table (bit `1 << index`).
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum Opt {
            $($name),*
        }

        /// Every option, in declaration (bit) order.
        const ALL_OPTS: &[Opt] = &[$(Opt::$name),*];
    };
}

options! {
    Numeric,
    Connection,
    Service,
    Scheduler,
    Persistent,
    Netmask,
    Server,
    Forward,
    Weight,
    UThreshold,
    LThreshold,
    Mcast,
    Timeout,
    Daemon,
    Stats,
    Rate,
    Thresholds,
    PersistentConn,
    NoSort,
    SyncId,
    Exact,
    OnePacket,
    SchedFlags,
    McastGroup,
    McastPort,
    McastTtl,
    SyncMaxlen,
    PersistenceEngine,
    TunInfo,
    TunType,
    TunPort,
    TunNoCsum,
    TunCsum,
    TunRemCsum,
    Json,
}

const OPT_NAMES: [&str; 35] = [
    "numeric",
    "connection",
    "service-address",
    "scheduler",
    "persistent",
    "netmask",
    "real-server",
    "forwarding-method",
    "weight",
    "u-threshold",
    "l-threshold",
    "mcast-interface",
    "timeout",
    "daemon",
    "stats",
    "rate",
    "thresholds",
    "persistent-conn",
    "nosort",
    "syncid",
    "exact",
    "ops",
    "sched-flags",
    "mcast-group",
    "mcast-port",
    "mcast-ttl",
    "sync-maxlen",
    "pe",
    "tun-info",
    "tun-type",
    "tun-port",
    "tun-nocsum",
    "tun-csum",
    "tun-remcsum",
    "json",
];

/// Legal combinations (ipvsadm's `commands_v_options`): `+` compulsory, `x` illegal, `1` at most
/// one of the `1` options, ` ` optional.
fn rule(cmd: Cmd, opt: Opt) -> u8 {
    use Opt::*;
    let optional: &[Opt] = match cmd {
        Cmd::Add | Cmd::Edit => &[
            Scheduler,
            Persistent,
            Netmask,
            OnePacket,
            SchedFlags,
            PersistenceEngine,
        ],
        Cmd::List => &[
            Numeric,
            Stats,
            Rate,
            Thresholds,
            PersistentConn,
            NoSort,
            Exact,
            TunInfo,
            Json,
        ],
        Cmd::AddDest | Cmd::EditDest => &[
            Forward, Weight, UThreshold, LThreshold, TunType, TunPort, TunNoCsum, TunCsum,
            TunRemCsum,
        ],
        Cmd::StartDaemon => &[Mcast, SyncId, McastGroup, McastPort, McastTtl, SyncMaxlen],
        Cmd::StopDaemon => &[Mcast, SyncId],
        Cmd::Save => &[Numeric],
        Cmd::Zero => &[Service],
        Cmd::Del | Cmd::Flush | Cmd::DelDest | Cmd::Timeout | Cmd::Restore => &[],
    };
    let compulsory: &[Opt] = match cmd {
        Cmd::Add | Cmd::Edit | Cmd::Del => &[Service],
        Cmd::AddDest | Cmd::EditDest | Cmd::DelDest => &[Service, Server],
        _ => &[],
    };
    let exclusive: &[Opt] = match cmd {
        Cmd::List => &[Connection, Service, Timeout, Daemon],
        _ => &[],
    };
    if compulsory.contains(&opt) {
        b'+'
    } else if exclusive.contains(&opt) {
        b'1'
    } else if optional.contains(&opt) {
        b' '
    } else {
        b'x'
    }
}

/// A command line that cannot be run: ipvsadm's message and exit code.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct UsageError {
    pub message: String,
    pub code: u8,
}

impl UsageError {
    fn new(message: impl Into<String>) -> Self {
        Self {
            message: message.into(),
            code: 2,
        }
    }
}

impl fmt::Display for UsageError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

type Result<T> = std::result::Result<T, UsageError>;

/// The virtual service options by protocol (`-t`, `-u`, `--sctp-service`), which `-S` prints.
pub const PROTO_OPTIONS: [(&str, u16); 3] = [
    ("tcp-service", IPPROTO_TCP),
    ("udp-service", IPPROTO_UDP),
    ("sctp-service", IPPROTO_SCTP),
];

/// The forwarding methods by option (`-m`, `-i`, `-g`), which `-S` prints.
pub const FWD_OPTIONS: [(&str, u32); 3] = [
    ("masquerading", conn_flag::MASQ),
    ("ipip", conn_flag::TUNNEL),
    ("gatewaying", conn_flag::DROUTE),
];

/// The tunnel types by `--tun-type` name.
pub const TUN_TYPES: [(&str, u8); 3] = [
    ("ipip", tunnel_type::IPIP),
    ("gue", tunnel_type::GUE),
    ("gre", tunnel_type::GRE),
];

/// The tunnel checksum options (`--tun-nocsum`, `--tun-csum`, `--tun-remcsum`) by flags.
pub const TUN_CSUM_OPTIONS: [(Opt, u16); 3] = [
    (Opt::TunNoCsum, tunnel_flag::NOCSUM),
    (Opt::TunCsum, tunnel_flag::CSUM),
    (Opt::TunRemCsum, tunnel_flag::REMCSUM),
];

/// The scheduler flags by `-b` name, with the scheduler that a name belongs to (`None`: any).
/// Listings name a flag with the name of the service's scheduler, else with the generic one
/// (ipvsadm's `parse_sched_flags` and `print_sched_flags`).
pub const SCHED_FLAGS: [(&str, Option<&str>, u32); 7] = [
    ("flag-1", None, svc_flag::SCHED1),
    ("flag-2", None, svc_flag::SCHED2),
    ("flag-3", None, svc_flag::SCHED3),
    ("sh-fallback", Some("sh"), svc_flag::SCHED_SH_FALLBACK),
    ("sh-port", Some("sh"), svc_flag::SCHED_SH_PORT),
    ("mh-fallback", Some("mh"), svc_flag::SCHED_MH_FALLBACK),
    ("mh-port", Some("mh"), svc_flag::SCHED_MH_PORT),
];

/// Default persistence timeout of `-p` without a value (ipvsadm 1.31).
pub const DEFAULT_PERSISTENT_TIMEOUT: u32 = 360;
const MAX_TIMEOUT: u32 = 86400 * 31;

/// The virtual service the command names, as libipvs sends it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ServiceSpec {
    pub af: u16,
    pub protocol: u16,
    pub addr: [u8; 16],
    /// Host byte order.
    pub port: u16,
    pub fwmark: u32,
    pub sched_name: String,
    pub pe_name: String,
    pub flags: u32,
    pub timeout: u32,
    pub netmask: u32,
}

/// The real server the command names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DestSpec {
    pub af: u16,
    pub addr: [u8; 16],
    pub port: u16,
    pub conn_flags: u32,
    pub weight: u32,
    pub u_threshold: u32,
    pub l_threshold: u32,
    pub tun_type: u8,
    pub tun_port: u16,
    pub tun_flags: u16,
}

/// Sync daemon parameters.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct DaemonSpec {
    pub state: u32,
    pub mcast_ifn: String,
    pub syncid: u32,
}

/// How listings are printed.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    pub numeric: bool,
    pub rule: bool,
    pub stats: bool,
    pub rate: bool,
    pub thresholds: bool,
    pub persistent_conn: bool,
    pub nosort: bool,
    pub exact: bool,
    pub tun_info: bool,
    pub json: bool,
}

/// A parsed command line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Invocation {
    pub cmd: Cmd,
    pub options: u64,
    pub svc: ServiceSpec,
    pub dest: DestSpec,
    pub timeouts: [u32; 3],
    pub daemon: DaemonSpec,
    pub format: Format,
}

impl Invocation {
    pub fn has(&self, opt: Opt) -> bool {
        self.options & (1 << opt as u32) != 0
    }
}

/// What the arguments ask for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Parsed {
    Run(Box<Invocation>),
    Help,
    Version,
}

/// The options and whether they take an argument (`Some(true)` required, `Some(false)`
/// optional, `None` none), with their short forms.
const LONG: &[(&str, Option<char>, Option<bool>)] = &[
    ("add-service", Some('A'), None),
    ("edit-service", Some('E'), None),
    ("delete-service", Some('D'), None),
    ("clear", Some('C'), None),
    ("list", Some('L'), None),
    ("zero", Some('Z'), None),
    ("add-server", Some('a'), None),
    ("edit-server", Some('e'), None),
    ("delete-server", Some('d'), None),
    ("set", None, None),
    ("help", Some('h'), None),
    ("version", Some('v'), None),
    ("restore", Some('R'), None),
    ("save", Some('S'), None),
    ("start-daemon", None, Some(true)),
    ("stop-daemon", None, Some(true)),
    ("tcp-service", Some('t'), Some(true)),
    ("udp-service", Some('u'), Some(true)),
    ("sctp-service", None, Some(true)),
    ("fwmark-service", Some('f'), Some(true)),
    ("scheduler", Some('s'), Some(true)),
    ("persistent", Some('p'), Some(false)),
    ("netmask", Some('M'), Some(true)),
    ("real-server", Some('r'), Some(true)),
    ("masquerading", Some('m'), None),
    ("ipip", Some('i'), None),
    ("gatewaying", Some('g'), None),
    ("weight", Some('w'), Some(true)),
    ("u-threshold", Some('x'), Some(true)),
    ("l-threshold", Some('y'), Some(true)),
    ("numeric", Some('n'), None),
    ("connection", Some('c'), None),
    ("mcast-interface", None, Some(true)),
    ("syncid", None, Some(true)),
    ("timeout", None, None),
    ("daemon", None, None),
    ("stats", None, None),
    ("rate", None, None),
    ("thresholds", None, None),
    ("persistent-conn", None, None),
    ("nosort", None, None),
    ("sort", None, None),
    ("exact", Some('X'), None),
    ("ipv6", Some('6'), None),
    ("ops", Some('o'), None),
    ("pe", None, Some(true)),
    ("sched-flags", Some('b'), Some(true)),
    ("tun-info", None, None),
    ("tun-type", None, Some(true)),
    ("tun-port", None, Some(true)),
    ("tun-nocsum", None, None),
    ("tun-csum", None, None),
    ("tun-remcsum", None, None),
    ("json", None, None),
];

/// Splits the arguments into `(option name, argument)` pairs and positional arguments, popt-style:
/// bundled short options (`-Ln`), `--opt=value`, and `-p`'s optional argument.
/// Options as `(canonical long name, argument)`, in command-line order.
type Options = Vec<(&'static str, Option<String>)>;

fn tokenize(args: &[String]) -> Result<(Options, Vec<String>)> {
    let mut opts = Vec::new();
    let mut rest = Vec::new();
    let mut i = 0;
    let takes_next = |i: usize| {
        args.get(i + 1)
            .filter(|a| !a.starts_with('-') || a.len() == 1)
            .cloned()
    };
    while i < args.len() {
        let arg = &args[i];
        if let Some(long) = arg.strip_prefix("--") {
            let (name, inline) = match long.split_once('=') {
                Some((n, v)) => (n, Some(v.to_string())),
                None => (long, None),
            };
            let Some(&(canon, _, takes)) = LONG.iter().find(|(n, _, _)| *n == name) else {
                return Err(UsageError {
                    message: format!("{arg}: unknown option"),
                    code: 255,
                });
            };
            let value = match (takes, inline) {
                (None, Some(_)) => return Err(UsageError::new(format!("invalid option `{arg}'"))),
                (None, None) => None,
                (Some(_), Some(v)) => Some(v),
                (Some(true), None) => {
                    let v = args.get(i + 1).cloned().ok_or_else(|| UsageError {
                        message: format!("{arg}: missing argument"),
                        code: 255,
                    })?;
                    i += 1;
                    Some(v)
                }
                (Some(false), None) => {
                    let v = takes_next(i);
                    if v.is_some() {
                        i += 1;
                    }
                    v
                }
            };
            opts.push((canon, value));
        } else if arg.starts_with('-') && arg.len() > 1 {
            let chars: Vec<char> = arg[1..].chars().collect();
            let mut j = 0;
            while j < chars.len() {
                let c = chars[j];
                let Some(&(canon, _, takes)) = LONG.iter().find(|(_, s, _)| *s == Some(c)) else {
                    return Err(UsageError {
                        message: format!("-{c}: unknown option"),
                        code: 255,
                    });
                };
                let tail: String = chars[j + 1..].iter().collect();
                match takes {
                    None => opts.push((canon, None)),
                    Some(required) => {
                        let value = if !tail.is_empty() {
                            Some(tail)
                        } else if required {
                            let v = args.get(i + 1).cloned().ok_or_else(|| UsageError {
                                message: format!("-{c}: missing argument"),
                                code: 255,
                            })?;
                            i += 1;
                            Some(v)
                        } else {
                            let v = takes_next(i);
                            if v.is_some() {
                                i += 1;
                            }
                            v
                        };
                        opts.push((canon, value));
                        break;
                    }
                }
                j += 1;
            }
        } else {
            rest.push(arg.clone());
        }
        i += 1;
    }
    Ok((opts, rest))
}

/// `string_to_number`: a decimal in `[min, max]`.
fn number(s: &str, min: i64, max: i64) -> Option<u32> {
    s.parse::<i64>()
        .ok()
        .filter(|n| (min..=max).contains(n))
        .map(|n| n as u32)
}

fn parse_timeout(s: Option<&str>, min: u32, max: u32) -> Result<u32> {
    let Some(s) = s else {
        return Ok(DEFAULT_PERSISTENT_TIMEOUT);
    };
    number(s, min.into(), max.into())
        .ok_or_else(|| UsageError::new(format!("invalid timeout value `{s}' specified")))
}

fn service_port(name: &str, protocol: u16) -> Option<u16> {
    if let Some(n) = number(name, 0, 65535) {
        return Some(n as u16);
    }
    let proto = match protocol {
        IPPROTO_TCP => "tcp",
        IPPROTO_UDP => "udp",
        _ => return None,
    };
    crate::names::port_of_service(name, proto)
}

/// ipvsadm's `parse_service`: `addr[:port]`, `[v6addr]:port` or a host name. Returns the family,
/// address, port and whether a port was given.
pub fn parse_addr_port(text: &str, protocol: u16) -> Option<(u16, [u8; 16], Option<u16>)> {
    if text.is_empty() || text.chars().all(|c| c.is_ascii_digit()) {
        return None;
    }
    let (host, port) = if let Some(rest) = text.strip_prefix('[') {
        let (h, p) = rest.split_once(']')?;
        (h, Some(p.strip_prefix(':')?))
    } else if text.parse::<std::net::Ipv6Addr>().is_ok() {
        (text, None)
    } else {
        match text.rsplit_once(':') {
            Some((h, p)) => (h, Some(p)),
            None => (text, None),
        }
    };
    let mut addr = [0u8; 16];
    let af = if let Ok(v6) = host.parse::<std::net::Ipv6Addr>() {
        addr = v6.octets();
        AF_INET6
    } else if let Some(v4) = inet_aton(host).or_else(|| resolve_v4(host)) {
        addr[..4].copy_from_slice(&v4.octets());
        AF_INET
    } else {
        return None;
    };
    let port = match port {
        Some(p) => Some(service_port(p, protocol)?),
        None => None,
    };
    Some((af, addr, port))
}

/// `inet_aton`'s classic forms are accepted by ipvsadm; the dotted quad is the one in practice.
fn inet_aton(s: &str) -> Option<Ipv4Addr> {
    s.parse::<Ipv4Addr>().ok()
}

fn resolve_v4(host: &str) -> Option<Ipv4Addr> {
    (host, 0)
        .to_socket_addrs()
        .ok()?
        .find_map(|a| match a.ip() {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
}

/// `-b`: a scheduler's own flag names are accepted for that scheduler, or before `-s`.
fn parse_sched_flags(sched: &str, text: &str) -> Result<u32> {
    let mut flags = 0;
    for word in text.split(',') {
        flags |= SCHED_FLAGS
            .iter()
            .find(|(name, owner, _)| {
                *name == word && owner.is_none_or(|o| sched.is_empty() || sched == o)
            })
            .map(|&(_, _, flag)| flag)
            .ok_or_else(|| UsageError::new(format!("invalid scheduler flag `{word}'")))?;
    }
    Ok(flags)
}

fn set_option(options: &mut u64, opt: Opt) -> Result<()> {
    let bit = 1u64 << opt as u32;
    if *options & bit != 0 {
        return Err(UsageError::new(format!(
            "multiple '{}' options specified",
            OPT_NAMES[opt as usize]
        )));
    }
    *options |= bit;
    Ok(())
}

/// ipvsadm's `generic_opt_check`.
fn check_combination(cmd: Cmd, options: u64) -> Result<()> {
    let cname = CMD_NAMES[cmd as usize];
    let mut first_exclusive: Option<usize> = None;
    for (j, opt) in ALL_OPTS.iter().enumerate() {
        let name = OPT_NAMES[j];
        let rule = rule(cmd, *opt);
        if options & (1 << j) == 0 {
            if rule == b'+' {
                return Err(UsageError::new(format!(
                    "You need to supply the '{name}' option for the '{cname}' command"
                )));
            }
        } else {
            if rule == b'x' {
                return Err(UsageError::new(format!(
                    "Illegal '{name}' option with the '{cname}' command"
                )));
            }
            if rule == b'1' {
                if let Some(last) = first_exclusive {
                    return Err(UsageError::new(format!(
                        "The option '{name}' conflicts with the '{}' option in the '{cname}' command",
                        OPT_NAMES[last]
                    )));
                }
                first_exclusive = Some(j);
            }
        }
    }
    Ok(())
}

/// The command that the first option names, or what it asks instead (help, version).
enum First {
    Command(Cmd, Option<u32>),
    Done(Parsed),
}

/// The first option, which must be a command (popt's first poptGetNextOpt in ipvsadm); for the
/// daemon commands also the daemon state it gives.
fn first_option(name: &str, value: Option<&str>) -> Result<First> {
    let cmd = match name {
        "add-service" => Cmd::Add,
        "edit-service" => Cmd::Edit,
        "delete-service" => Cmd::Del,
        "add-server" => Cmd::AddDest,
        "edit-server" => Cmd::EditDest,
        "delete-server" => Cmd::DelDest,
        "clear" => Cmd::Flush,
        "list" => Cmd::List,
        "zero" => Cmd::Zero,
        "set" => Cmd::Timeout,
        "restore" => Cmd::Restore,
        "save" => Cmd::Save,
        "start-daemon" | "stop-daemon" => {
            let start = name == "start-daemon";
            let state = match value {
                Some("master") => daemon_state::MASTER,
                Some("backup") => daemon_state::BACKUP,
                _ if start => {
                    return Err(UsageError::new("illegal start-daemon parameter specified"))
                }
                _ => return Err(UsageError::new("illegal start_daemon specified")),
            };
            let cmd = if start {
                Cmd::StartDaemon
            } else {
                Cmd::StopDaemon
            };
            return Ok(First::Command(cmd, Some(state)));
        }
        "help" => return Ok(First::Done(Parsed::Help)),
        "version" => return Ok(First::Done(Parsed::Version)),
        other => {
            return Err(UsageError {
                message: format!(
                    "the first option must be a command, not '{other}' (see rvsadm --help)"
                ),
                code: 255,
            })
        }
    };
    Ok(First::Command(cmd, None))
}

/// What the options after the command build up.
struct Parser {
    options: u64,
    svc: ServiceSpec,
    dest: DestSpec,
    daemon: DaemonSpec,
    format: Format,
    sched_flags_text: Option<String>,
}

impl Parser {
    fn new() -> Self {
        Parser {
            options: 0,
            svc: ServiceSpec {
                af: AF_INET,
                protocol: 0,
                addr: [0; 16],
                port: 0,
                fwmark: 0,
                sched_name: String::new(),
                pe_name: String::new(),
                flags: 0,
                timeout: 0,
                netmask: NETMASK_INET_ALL,
            },
            dest: DestSpec {
                af: 0,
                addr: [0; 16],
                port: 0,
                conn_flags: conn_flag::DROUTE,
                weight: 1,
                u_threshold: 0,
                l_threshold: 0,
                tun_type: tunnel_type::IPIP,
                tun_port: 0,
                tun_flags: tunnel_flag::NOCSUM,
            },
            daemon: DaemonSpec::default(),
            format: Format::default(),
            sched_flags_text: None,
        }
    }

    /// Takes one option after the command.
    fn option(&mut self, name: &str, value: Option<&str>) -> Result<()> {
        let arg = value.unwrap_or("");
        let handled = self.service_option(name, value)?
            || self.dest_option(name, arg)?
            || self.listing_option(name)?
            || self.daemon_option(name, arg)?;
        if handled {
            Ok(())
        } else {
            Err(UsageError::new(format!(
                "invalid option `{}'",
                long_or_short(name)
            )))
        }
    }

    /// The options that describe the virtual service; false if `name` is not one.
    fn service_option(&mut self, name: &str, value: Option<&str>) -> Result<bool> {
        let arg = value.unwrap_or("");
        let svc = &mut self.svc;
        if let Some(&(_, protocol)) = PROTO_OPTIONS.iter().find(|(option, _)| *option == name) {
            set_option(&mut self.options, Opt::Service)?;
            svc.protocol = protocol;
            let (af, addr, port) = parse_addr_port(arg, svc.protocol).ok_or_else(|| {
                UsageError::new("illegal virtual server address[:port] specified")
            })?;
            svc.af = af;
            svc.addr = addr;
            svc.port = port.unwrap_or(0);
            if af == AF_INET6 {
                svc.netmask = NETMASK_INET6_ALL;
            }
            return Ok(true);
        }
        match name {
            "fwmark-service" => {
                set_option(&mut self.options, Opt::Service)?;
                svc.af = AF_INET;
                svc.protocol = IPPROTO_TCP;
                svc.fwmark = arg
                    .parse::<u64>()
                    .ok()
                    .filter(|&m| m > 0 && m <= u64::from(u32::MAX))
                    .ok_or_else(|| {
                        UsageError::new(format!("invalid fwmark value `{arg}' specified"))
                    })? as u32;
            }
            "scheduler" => {
                set_option(&mut self.options, Opt::Scheduler)?;
                svc.sched_name = arg.chars().take(SCHEDNAME_MAXLEN - 1).collect();
            }
            "persistent" => {
                set_option(&mut self.options, Opt::Persistent)?;
                svc.flags |= svc_flag::PERSISTENT;
                svc.timeout = parse_timeout(value, 1, MAX_TIMEOUT)?;
            }
            "netmask" => {
                set_option(&mut self.options, Opt::Netmask)?;
                if svc.af != AF_INET6 {
                    let mask = inet_aton(arg).or_else(|| resolve_v4(arg)).ok_or_else(|| {
                        UsageError::new("illegal virtual server persistent mask specified")
                    })?;
                    svc.netmask = u32::from_ne_bytes(mask.octets());
                } else {
                    svc.netmask = arg.parse::<u32>().unwrap_or(0);
                    if !(1..=NETMASK_INET6_ALL).contains(&svc.netmask) {
                        return Err(UsageError::new("illegal ipv6 netmask specified"));
                    }
                }
            }
            "ipv6" => {
                if svc.fwmark == 0 {
                    return Err(UsageError::new("-6 used before -f\n"));
                }
                svc.af = AF_INET6;
                svc.netmask = NETMASK_INET6_ALL;
            }
            "ops" => {
                set_option(&mut self.options, Opt::OnePacket)?;
                svc.flags |= svc_flag::ONEPACKET;
            }
            "pe" => {
                set_option(&mut self.options, Opt::PersistenceEngine)?;
                svc.pe_name = arg.chars().take(PENAME_MAXLEN).collect();
            }
            "sched-flags" => {
                set_option(&mut self.options, Opt::SchedFlags)?;
                self.sched_flags_text = Some(arg.to_string());
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The options that describe the real server; false if `name` is not one.
    fn dest_option(&mut self, name: &str, arg: &str) -> Result<bool> {
        let dest = &mut self.dest;
        if let Some(&(_, method)) = FWD_OPTIONS.iter().find(|(option, _)| *option == name) {
            set_option(&mut self.options, Opt::Forward)?;
            dest.conn_flags = method;
            return Ok(true);
        }
        if let Some(&(opt, flags)) = TUN_CSUM_OPTIONS.iter().find(|(o, _)| opt_name(*o) == name) {
            set_option(&mut self.options, opt)?;
            dest.tun_flags = flags;
            return Ok(true);
        }
        match name {
            "real-server" => {
                set_option(&mut self.options, Opt::Server)?;
                let (af, addr, port) =
                    parse_addr_port(arg, self.svc.protocol).ok_or_else(|| {
                        UsageError::new("illegal real server address[:port] specified")
                    })?;
                dest.af = af;
                dest.addr = addr;
                dest.port = port.unwrap_or(self.svc.port);
            }
            "weight" => {
                set_option(&mut self.options, Opt::Weight)?;
                dest.weight = number(arg, 0, i32::MAX.into())
                    .ok_or_else(|| UsageError::new("illegal weight specified"))?;
            }
            "u-threshold" => {
                set_option(&mut self.options, Opt::UThreshold)?;
                dest.u_threshold = number(arg, 0, i32::MAX.into())
                    .ok_or_else(|| UsageError::new("illegal u_threshold specified"))?;
            }
            "l-threshold" => {
                set_option(&mut self.options, Opt::LThreshold)?;
                dest.l_threshold = number(arg, 0, i32::MAX.into())
                    .ok_or_else(|| UsageError::new("illegal l_threshold specified"))?;
            }
            "tun-type" => {
                set_option(&mut self.options, Opt::TunType)?;
                dest.tun_type = TUN_TYPES
                    .iter()
                    .find(|(name, _)| *name == arg)
                    .map(|&(_, t)| t)
                    .ok_or_else(|| {
                        let names: Vec<&str> = TUN_TYPES.iter().map(|(name, _)| *name).collect();
                        UsageError::new(format!(
                            "unknown tunnel type `{arg}' ({})",
                            names.join(", ")
                        ))
                    })?;
            }
            "tun-port" => {
                set_option(&mut self.options, Opt::TunPort)?;
                dest.tun_port = number(arg, 1, 65535)
                    .ok_or_else(|| UsageError::new("illegal tunnel port specified"))?
                    as u16;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The options of listings (what and how); false if `name` is not one.
    fn listing_option(&mut self, name: &str) -> Result<bool> {
        let format = &mut self.format;
        let (opt, flag) = match name {
            "numeric" => (Opt::Numeric, Some(&mut format.numeric)),
            "connection" => (Opt::Connection, None),
            "timeout" => (Opt::Timeout, None),
            "daemon" => (Opt::Daemon, None),
            "stats" => (Opt::Stats, Some(&mut format.stats)),
            "rate" => (Opt::Rate, Some(&mut format.rate)),
            "thresholds" => (Opt::Thresholds, Some(&mut format.thresholds)),
            "persistent-conn" => (Opt::PersistentConn, Some(&mut format.persistent_conn)),
            "nosort" => (Opt::NoSort, Some(&mut format.nosort)),
            "exact" => (Opt::Exact, Some(&mut format.exact)),
            "tun-info" => (Opt::TunInfo, Some(&mut format.tun_info)),
            "json" => (Opt::Json, Some(&mut format.json)),
            // Sorting is the default; ipvsadm accepts the option and ignores it.
            "sort" => return Ok(true),
            _ => return Ok(false),
        };
        set_option(&mut self.options, opt)?;
        if let Some(flag) = flag {
            *flag = true;
        }
        Ok(true)
    }

    /// The options of the sync daemon; false if `name` is not one.
    fn daemon_option(&mut self, name: &str, arg: &str) -> Result<bool> {
        match name {
            "mcast-interface" => {
                set_option(&mut self.options, Opt::Mcast)?;
                self.daemon.mcast_ifn = arg.chars().take(IFNAME_MAXLEN - 1).collect();
            }
            "syncid" => {
                set_option(&mut self.options, Opt::SyncId)?;
                self.daemon.syncid = number(arg, 0, 255)
                    .ok_or_else(|| UsageError::new("illegal syncid specified"))?;
            }
            _ => return Ok(false),
        }
        Ok(true)
    }

    /// The checks and defaults of a service command (`-A`, `-E`).
    fn finish_service(&mut self) -> Result<()> {
        let svc = &mut self.svc;
        if svc.fwmark == 0 && svc.port == 0 && svc.flags & svc_flag::PERSISTENT == 0 {
            return Err(UsageError::new(
                "Zero port specified for non-persistent service",
            ));
        }
        if svc.flags & svc_flag::ONEPACKET != 0 && svc.fwmark == 0 && svc.protocol != IPPROTO_UDP {
            return Err(UsageError::new(
                "One-Packet Scheduling is only for UDP virtual services",
            ));
        }
        if svc.sched_name.is_empty() {
            svc.sched_name = "wlc".into();
        }
        Ok(())
    }

    /// The checks and defaults of a real server command (`-a`, `-e`).
    fn finish_dest(&mut self) -> Result<()> {
        let dest = &mut self.dest;
        // DR and TUN cannot change the port; ipvsadm forces the service's.
        if self.svc.fwmark == 0
            && (dest.conn_flags == conn_flag::TUNNEL || dest.conn_flags == conn_flag::DROUTE)
        {
            dest.port = self.svc.port;
        }
        let tunnel_options = dest.tun_type != tunnel_type::IPIP
            || dest.tun_port != 0
            || dest.tun_flags != tunnel_flag::NOCSUM;
        if dest.conn_flags != conn_flag::TUNNEL && tunnel_options {
            return Err(UsageError::new(
                "tunnel options need the ipip forwarding method (-i)",
            ));
        }
        if dest.tun_type == tunnel_type::GUE && dest.tun_port == 0 {
            return Err(UsageError::new("--tun-type gue needs --tun-port"));
        }
        Ok(())
    }

    /// The checks of a listing (`-L`): what to list and how it is printed do not mix, but for
    /// the connections with `--persistent-conn` (which adds the persistence engine's data).
    fn finish_list(&self) -> Result<()> {
        let has = |opt: Opt| self.options & (1 << opt as u32) != 0;
        let f = &self.format;
        let counters = f.stats || f.rate || f.thresholds;
        let conflict = ((has(Opt::Timeout) || has(Opt::Daemon)) && (counters || f.persistent_conn))
            || (has(Opt::Connection) && counters);
        if conflict {
            return Err(UsageError::new("options conflicts in the list command"));
        }
        Ok(())
    }
}

/// The three values of `--set` (tcp, tcpfin, udp); nothing else may follow the options.
fn positional_args(cmd: Cmd, positional: Vec<String>) -> Result<[u32; 3]> {
    let mut timeouts = [0u32; 3];
    let mut positional = positional.into_iter();
    if cmd == Cmd::Timeout {
        let (Some(a), Some(b), Some(c)) = (positional.next(), positional.next(), positional.next())
        else {
            return Err(UsageError::new("--set option requires 3 timeout values"));
        };
        timeouts = [
            parse_timeout(Some(&a), 0, MAX_TIMEOUT)?,
            parse_timeout(Some(&b), 0, MAX_TIMEOUT)?,
            parse_timeout(Some(&c), 0, MAX_TIMEOUT)?,
        ];
    }
    if let Some(extra) = positional.next() {
        return Err(UsageError::new(format!("unexpected argument {extra}")));
    }
    Ok(timeouts)
}

/// Parses one command line (the arguments after the program name).
pub fn parse(args: &[String]) -> Result<Parsed> {
    let (opts, positional) = tokenize(args)?;
    let mut opts = opts.into_iter();
    let mut parser = Parser::new();
    let cmd = match opts.next() {
        None => return Ok(Parsed::Help),
        Some((name, value)) => match first_option(name, value.as_deref())? {
            First::Done(parsed) => return Ok(parsed),
            First::Command(cmd, daemon_state) => {
                if let Some(state) = daemon_state {
                    parser.daemon.state = state;
                }
                cmd
            }
        },
    };
    for (name, value) in opts {
        parser.option(name, value.as_deref())?;
    }
    if let Some(text) = parser.sched_flags_text.take() {
        parser.svc.flags |= parse_sched_flags(&parser.svc.sched_name, &text)?;
    }
    let timeouts = positional_args(cmd, positional)?;
    check_combination(cmd, parser.options)?;
    match cmd {
        Cmd::Add | Cmd::Edit => parser.finish_service()?,
        Cmd::AddDest | Cmd::EditDest => parser.finish_dest()?,
        Cmd::List => parser.finish_list()?,
        Cmd::StartDaemon if parser.daemon.mcast_ifn.is_empty() => {
            parser.daemon.mcast_ifn = "eth0".into();
        }
        Cmd::Save => parser.format.rule = true,
        _ => {}
    }
    Ok(Parsed::Run(Box::new(Invocation {
        cmd,
        options: parser.options,
        svc: parser.svc,
        dest: parser.dest,
        timeouts,
        daemon: parser.daemon,
        format: parser.format,
    })))
}

/// The name of option `opt` (ipvsadm's `optnames`), which is also its long form.
pub fn opt_name(opt: Opt) -> &'static str {
    OPT_NAMES[opt as usize]
}

/// How ipvsadm writes option `name`: its short form if it has one, else its long form.
pub fn long_or_short(name: &str) -> String {
    match LONG.iter().find(|(n, _, _)| *n == name) {
        Some((_, Some(c), _)) => format!("-{c}"),
        _ => format!("--{name}"),
    }
}

/// Splits one line of `-R` input into arguments, as ipvsadm's `config_stream` does (blanks
/// separate, `#` starts a comment, quotes group).
pub fn split_line(line: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut cur = String::new();
    let mut quote: Option<char> = None;
    let mut started = false;
    for c in line.chars() {
        match quote {
            Some(q) if c == q => quote = None,
            Some(_) => cur.push(c),
            None if c == '"' || c == '\'' => {
                quote = Some(c);
                started = true;
            }
            None if c == '#' => break,
            None if c.is_whitespace() => {
                if started {
                    out.push(std::mem::take(&mut cur));
                    started = false;
                }
            }
            None => {
                cur.push(c);
                started = true;
            }
        }
    }
    if started {
        out.push(cur);
    }
    out
}

pub const HELP: &str = "\
rvsadm v0.1.0: administer rvs (or in-tree IPVS) over the IPVS generic netlink ABI.
Command line compatible with ipvsadm 1.31.

Usage:
  rvsadm -A|E virtual-service [-s scheduler] [-p [timeout]] [-M netmask] [--pe persistence_engine] [-b sched-flags]
  rvsadm -D virtual-service
  rvsadm -C
  rvsadm -R
  rvsadm -S [-n]
  rvsadm -a|e virtual-service -r server-address [options]
  rvsadm -d virtual-service -r server-address
  rvsadm -L|l [virtual-service] [options]
  rvsadm -Z [virtual-service]
  rvsadm --set tcp tcpfin udp
  rvsadm --start-daemon {master|backup} [daemon-options]
  rvsadm --stop-daemon {master|backup}
  rvsadm -h

Commands:
  --add-service     -A        add virtual service with options
  --edit-service    -E        edit virtual service with options
  --delete-service  -D        delete virtual service
  --clear           -C        clear the whole table
  --restore         -R        restore rules from stdin
  --save            -S        save rules to stdout
  --add-server      -a        add real server with options
  --edit-server     -e        edit real server with options
  --delete-server   -d        delete real server
  --list            -L|-l     list the table
  --zero            -Z        zero counters in a service or all services
  --set tcp tcpfin udp        set connection timeout values
  --start-daemon              start connection sync daemon
  --stop-daemon               stop connection sync daemon
  --help            -h        display this help message

virtual-service:
  --tcp-service|-t  service-address   service-address is host[:port]
  --udp-service|-u  service-address   service-address is host[:port]
  --sctp-service    service-address   service-address is host[:port]
  --fwmark-service|-f fwmark          fwmark is an integer greater than zero

Options:
  --ipv6         -6                   fwmark entry uses IPv6
  --scheduler    -s scheduler         one of rr|wrr|lc|wlc (rvs), the default scheduler is wlc
  --pe            engine              alternate persistence engine
  --persistent   -p [timeout]         persistent service (default timeout 360 s)
  --netmask      -M netmask           persistent granularity mask
  --real-server  -r server-address    server-address is host (and port)
  --gatewaying   -g                   gatewaying (direct routing) (default)
  --ipip         -i                   ipip encapsulation (tunneling)
  --masquerading -m                   masquerading (NAT)
  --tun-type      type                one of ipip|gue|gre, the default tunnel type is ipip
  --tun-port      port                tunnel destination port
  --tun-nocsum                        tunnel encapsulation without checksum
  --tun-csum                          tunnel encapsulation with checksum
  --tun-remcsum                       tunnel encapsulation with remote checksum
  --weight       -w weight            capacity of real server
  --u-threshold  -x uthreshold        upper threshold of connections
  --l-threshold  -y lthreshold        lower threshold of connections
  --connection   -c                   output of current IPVS connections
  --timeout                           output of timeout (tcp tcpfin udp)
  --daemon                            output of daemon information
  --stats                             output of statistics information
  --rate                              output of rate information
  --exact                             expand numbers (display exact values)
  --thresholds                        output of thresholds information
  --persistent-conn                   output of persistent connection info
  --tun-info                          output of tunnel information
  --nosort                            disable sorting output of service/server entries
  --sort                              does nothing, for backwards compatibility
  --ops          -o                   one-packet scheduling
  --numeric      -n                   numeric output of addresses and ports
  --sched-flags  -b flags             scheduler flags (comma-separated)
  --json                              listings as JSON (rvsadm only)
";

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split_whitespace().map(String::from).collect()
    }

    fn run(s: &str) -> Invocation {
        match parse(&args(s)).unwrap() {
            Parsed::Run(inv) => *inv,
            other => panic!("{other:?}"),
        }
    }

    fn err(s: &str) -> String {
        parse(&args(s)).unwrap_err().message
    }

    #[test]
    fn add_service_defaults_and_options() {
        let inv = run("-A -t 10.0.0.1:80");
        assert_eq!(inv.cmd, Cmd::Add);
        assert_eq!(
            (inv.svc.af, inv.svc.protocol, inv.svc.port),
            (AF_INET, IPPROTO_TCP, 80)
        );
        assert_eq!(&inv.svc.addr[..4], &[10, 0, 0, 1]);
        assert_eq!(inv.svc.sched_name, "wlc");
        assert_eq!(inv.svc.netmask, NETMASK_INET_ALL);
        let inv = run("-A -u 10.0.0.1:53 -s rr -p -M 255.255.255.0 -o");
        assert_eq!(inv.svc.flags, svc_flag::PERSISTENT | svc_flag::ONEPACKET);
        assert_eq!(inv.svc.timeout, DEFAULT_PERSISTENT_TIMEOUT);
        assert_eq!(inv.svc.netmask, u32::from_ne_bytes([255, 255, 255, 0]));
        assert_eq!(run("-A -t 10.0.0.1:80 -p 60").svc.timeout, 60);
        let inv = run("-A -f 6 -6 -p 30 -M 64 -s rr");
        assert_eq!(
            (inv.svc.fwmark, inv.svc.af, inv.svc.netmask),
            (6, AF_INET6, 64)
        );
        let inv = run("-A -t [2001:db8::10]:443 -s wrr");
        assert_eq!(
            (inv.svc.af, inv.svc.port, inv.svc.netmask),
            (AF_INET6, 443, 128)
        );
        assert_eq!(
            run("-A --sctp-service 10.0.0.4:3868").svc.protocol,
            IPPROTO_SCTP
        );
        assert_eq!(
            run("-A -u 10.0.0.2:53 -s sh -b sh-fallback,sh-port -p")
                .svc
                .flags,
            0x19
        );
    }

    #[test]
    fn dest_defaults_and_port_rules() {
        let inv = run("-a -t 10.0.0.1:80 -r 192.168.1.3");
        assert_eq!(
            (inv.dest.conn_flags, inv.dest.weight, inv.dest.port),
            (3, 1, 80)
        );
        // DR forces the service port even when one is given.
        assert_eq!(
            run("-a -t 10.0.0.1:80 -r 192.168.1.3:8080 -g").dest.port,
            80
        );
        let inv = run("-a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -w 3 -x 100 -y 50");
        assert_eq!(
            (inv.dest.conn_flags, inv.dest.port, inv.dest.weight),
            (0, 8080, 3)
        );
        assert_eq!((inv.dest.u_threshold, inv.dest.l_threshold), (100, 50));
        let inv =
            run("-a -t 10.0.0.1:80 -r 192.168.1.4 -i --tun-type gue --tun-port 6080 --tun-csum");
        assert_eq!(
            (inv.dest.tun_type, inv.dest.tun_port, inv.dest.tun_flags),
            (1, 6080, 1)
        );
        assert_eq!(run("-a -f 5 -r 192.168.1.8:8000 -m").dest.port, 8000);
    }

    #[test]
    fn ipvsadm_messages() {
        assert_eq!(
            err("-A"),
            "You need to supply the 'service-address' option for the 'add-service' command"
        );
        assert_eq!(
            err("-a -t 10.0.0.1:80"),
            "You need to supply the 'real-server' option for the 'add-server' command"
        );
        assert_eq!(
            err("-A -t 10.0.0.1:80 -w 3"),
            "Illegal 'weight' option with the 'add-service' command"
        );
        assert_eq!(
            err("-L -n -c --stats"),
            "options conflicts in the list command"
        );
        // As ipvsadm 1.31 (seen against ip_vs): --persistent-conn goes with -c only.
        assert_eq!(
            err("-L --timeout --persistent-conn"),
            "options conflicts in the list command"
        );
        assert_eq!(
            err("-L --daemon --persistent-conn"),
            "options conflicts in the list command"
        );
        assert!(parse(&args("-L -n -c --persistent-conn")).is_ok());
        assert_eq!(
            err("-A -t 10.0.0.1 -s rr"),
            "Zero port specified for non-persistent service"
        );
        assert_eq!(
            err("-A -t 10.0.0.300:80"),
            "illegal virtual server address[:port] specified"
        );
        assert_eq!(
            err("-A -t 10.0.0.1:80 -p abc"),
            "invalid timeout value `abc' specified"
        );
        assert_eq!(err("--set 1 2"), "--set option requires 3 timeout values");
        assert_eq!(err("-A -t 10.0.0.1:80 -A"), "invalid option `-A'");
        assert_eq!(
            err("-A -t 10.0.0.1:80 -t 10.0.0.2:80"),
            "multiple 'service-address' options specified"
        );
        assert_eq!(
            err("-A -t 10.0.0.7:80 -o"),
            "One-Packet Scheduling is only for UDP virtual services"
        );
        assert_eq!(
            err("--start-daemon bogus"),
            "illegal start-daemon parameter specified"
        );
        assert_eq!(
            err("-a -t 10.0.0.1:80 -r 1.2.3.4 -w 2147483648"),
            "illegal weight specified"
        );
        assert_eq!(
            err("-L -c --timeout"),
            "The option 'timeout' conflicts with the 'connection' option in the 'list' command"
        );
        assert_eq!(parse(&args("--bogus")).unwrap_err().code, 255);
    }

    #[test]
    fn listing_forms() {
        let inv = run("-Ln");
        assert_eq!(inv.cmd, Cmd::List);
        assert!(inv.format.numeric);
        assert!(run("-L --stats --exact").format.exact);
        assert!(run("-Lnc").has(Opt::Connection));
        assert!(run("-S -n").format.rule);
        assert_eq!(run("--set 900 120 300").timeouts, [900, 120, 300]);
        assert_eq!(parse(&args("-h")).unwrap(), Parsed::Help);
        assert_eq!(parse(&args("--version")).unwrap(), Parsed::Version);
        assert!(run("-L --json").format.json);
    }

    #[test]
    fn option_table_is_in_enum_order() {
        for (i, opt) in ALL_OPTS.iter().enumerate() {
            assert_eq!(*opt as usize, i);
        }
        assert_eq!(ALL_OPTS.len(), OPT_NAMES.len());
        assert_eq!(rule(Cmd::Add, Opt::Service), b'+');
        assert_eq!(rule(Cmd::List, Opt::Connection), b'1');
        assert_eq!(rule(Cmd::AddDest, Opt::Weight), b' ');
        assert_eq!(rule(Cmd::Flush, Opt::Numeric), b'x');
    }

    #[test]
    fn restore_lines_split_like_config_stream() {
        assert_eq!(
            split_line("-A -t 10.0.0.1:80 -s rr  # comment"),
            ["-A", "-t", "10.0.0.1:80", "-s", "rr"]
        );
        assert_eq!(split_line("  "), Vec::<String>::new());
        assert_eq!(split_line("-s 'r r'"), ["-s", "r r"]);
    }
}
