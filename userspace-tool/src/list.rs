//! Listings in ipvsadm 1.31's exact text formats (`list_all`, `print_title`,
//! `print_service_entry`, `print_conn`), so that `rvsadm -Ln` and `ipvsadm -Ln` print the same
//! bytes, `rvsadm -S` prints rules that `-R` reads back, and `--json` for programs.

use crate::cli::{
    long_or_short, opt_name, Format, Opt, FWD_OPTIONS, PROTO_OPTIONS, SCHED_FLAGS,
    TUN_CSUM_OPTIONS, TUN_TYPES,
};
use crate::ipvs::{ip_of, Daemon, Dest, Info, Service, Stats, Timeouts};
use rvs_abi::{
    conn_flag, daemon_state, svc_flag, tunnel_flag, tunnel_type, version_parts, AF_INET, AF_INET6,
    IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, NETMASK_INET6_ALL, NETMASK_INET_ALL,
};
use std::cmp::Ordering;
use std::fmt::Write;
use std::net::Ipv4Addr;

/// `IP_VS_CONN_F_FWD_MASK` names (`fwd_name`).
pub fn fwd_name(conn_flags: u32) -> &'static str {
    match conn_flags & conn_flag::FWD_MASK {
        conn_flag::MASQ => "Masq",
        conn_flag::LOCALNODE => "Local",
        conn_flag::TUNNEL => "Tunnel",
        conn_flag::DROUTE => "Route",
        _ => "Bypass",
    }
}

/// The option of the forwarding method, that of direct routing (`-g`) for a method without one.
fn fwd_switch(conn_flags: u32) -> String {
    let option = |method| FWD_OPTIONS.iter().find(|(_, m)| *m == method);
    let (name, _) = option(conn_flags & conn_flag::FWD_MASK)
        .or_else(|| option(conn_flag::DROUTE))
        .expect("direct routing has an option");
    long_or_short(name)
}

fn proto_name(protocol: u16) -> &'static str {
    match protocol {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        IPPROTO_SCTP => "SCTP",
        _ => "?",
    }
}

fn proto_switch(protocol: u16) -> String {
    PROTO_OPTIONS
        .iter()
        .find(|(_, p)| *p == protocol)
        .map_or_else(|| "?".into(), |(name, _)| long_or_short(name))
}

/// `address:port` as `addrport_to_anyname` prints it (`[v6]:port`; names unless numeric).
pub fn addr_port(af: u16, addr: &[u8; 16], port: u16, protocol: u16, numeric: bool) -> String {
    let ip = ip_of(af, addr);
    let host = if numeric {
        None
    } else {
        crate::names::host_name(ip)
    };
    let host = host.unwrap_or_else(|| {
        if af == AF_INET6 {
            format!("[{ip}]")
        } else {
            ip.to_string()
        }
    });
    let service = if numeric {
        None
    } else {
        crate::names::service_name(port, protocol)
    };
    format!("{}:{}", host, service.unwrap_or_else(|| port.to_string()))
}

/// libipvs `ipvs_cmp_services`: fwmark, af, protocol, address, port, as C `int` differences.
pub fn cmp_services(a: &Service, b: &Service) -> Ordering {
    let diff = |x: u32, y: u32| (x.wrapping_sub(y) as i32).cmp(&0);
    diff(a.fwmark, b.fwmark)
        .then(diff(a.af.into(), b.af.into()))
        .then(diff(a.protocol.into(), b.protocol.into()))
        .then_with(|| cmp_addr(a.af, &a.addr, &b.addr))
        .then(diff(a.port.into(), b.port.into()))
}

/// libipvs `ipvs_cmp_dests`: address, then port.
pub fn cmp_dests(a: &Dest, b: &Dest) -> Ordering {
    cmp_addr(a.af, &a.addr, &b.addr).then((i32::from(a.port) - i32::from(b.port)).cmp(&0))
}

fn cmp_addr(af: u16, a: &[u8; 16], b: &[u8; 16]) -> Ordering {
    let words = if af == AF_INET6 { 4 } else { 1 };
    for i in 0..words {
        let w =
            |x: &[u8; 16]| u32::from_be_bytes([x[4 * i], x[4 * i + 1], x[4 * i + 2], x[4 * i + 3]]);
        let r = w(a).wrapping_sub(w(b)) as i32;
        if r != 0 {
            return r.cmp(&0);
        }
    }
    Ordering::Equal
}

/// `print_largenum`: 9 columns, scaled with K/M/G/T unless `--exact`.
fn largenum(out: &mut String, n: u64, exact: bool) {
    if exact {
        let digits = n.to_string();
        let width = if digits.len() <= 8 {
            9
        } else {
            digits.len() + 1
        };
        let _ = write!(out, "{n:>width$}");
    } else if n < 100_000_000 {
        let _ = write!(out, "{n:>9}");
    } else if n < 1_000_000_000 {
        let _ = write!(out, "{:>8}K", n / 1000);
    } else if n < 100_000_000_000 {
        let _ = write!(out, "{:>8}M", n / 1_000_000);
    } else if n < 100_000_000_000_000 {
        let _ = write!(out, "{:>8}G", n / 1_000_000_000);
    } else {
        let _ = write!(out, "{:>8}T", n / 1_000_000_000_000);
    }
}

fn title(out: &mut String, f: &Format) {
    let _ = if f.stats {
        writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Conns", "InPkts", "OutPkts", "InBytes", "OutBytes"
        )
    } else if f.rate {
        writeln!(
            out,
            "{:<33} {:>8} {:>8} {:>8} {:>8} {:>8}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "CPS", "InPPS", "OutPPS", "InBPS", "OutBPS"
        )
    } else if f.thresholds {
        writeln!(
            out,
            "{:<33} {:<10} {:<10} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Uthreshold", "Lthreshold", "ActiveConn", "InActConn"
        )
    } else if f.persistent_conn {
        writeln!(
            out,
            "{:<33} {:<9} {:<11} {:<10} {:<10}\n  -> RemoteAddress:Port",
            "Prot LocalAddress:Port", "Weight", "PersistConn", "ActiveConn", "InActConn"
        )
    } else if f.tun_info {
        writeln!(out, "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward TunnelInfo    Weight ActiveConn InActConn")
    } else if !f.rule {
        writeln!(out, "Prot LocalAddress:Port Scheduler Flags\n  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn")
    } else {
        Ok(())
    };
}

/// ipvsadm's `print_sched_flags`: the names the scheduler gives its flags, else the generic ones.
fn sched_flags(svc: &Service) -> String {
    let own_name = |flag| {
        SCHED_FLAGS
            .iter()
            .find(|&&(_, owner, f)| f == flag && owner == Some(svc.sched_name.as_str()))
            .map(|&(name, _, _)| name)
    };
    SCHED_FLAGS
        .iter()
        .filter(|&&(_, owner, flag)| owner.is_none() && svc.flags & flag != 0)
        .map(|&(generic, _, flag)| own_name(flag).unwrap_or(generic))
        .collect::<Vec<_>>()
        .join(",")
}

fn tunnel_info(d: &Dest) -> String {
    if d.conn_flags & conn_flag::FWD_MASK != conn_flag::TUNNEL {
        return "n/a".into();
    }
    let csum = match d.tun_flags {
        tunnel_flag::CSUM => "+c",
        tunnel_flag::REMCSUM => "+r",
        _ => "-c",
    };
    match d.tun_type {
        tunnel_type::GUE => format!("gue:{}:{}", d.tun_port, csum),
        tunnel_type::GRE => format!("gre:{csum}"),
        _ => "ipip".into(),
    }
}

/// The tunnel options of a rule; a type without name is saved as GRE, checksum flags without
/// option as `--tun-nocsum`.
fn tunnel_rule(d: &Dest) -> String {
    if d.conn_flags & conn_flag::FWD_MASK != conn_flag::TUNNEL {
        return String::new();
    }
    let csum = TUN_CSUM_OPTIONS
        .iter()
        .find(|&&(_, flags)| flags == d.tun_flags)
        .map_or(Opt::TunNoCsum, |&(opt, _)| opt);
    let csum = format!(" {}", long_or_short(opt_name(csum)));
    let named = |kind| TUN_TYPES.iter().find(|&&(_, t)| t == kind);
    let &(name, kind) = named(d.tun_type)
        .or_else(|| named(tunnel_type::GRE))
        .expect("GRE has a name");
    match kind {
        tunnel_type::IPIP => format!(" --tun-type {name}"),
        tunnel_type::GUE => format!(" --tun-type {name} --tun-port {}{csum}", d.tun_port),
        _ => format!(" --tun-type {name}{csum}"),
    }
}

fn truncate(mut s: String, len: usize) -> String {
    if s.len() > len {
        s.truncate(len);
    }
    s
}

/// One service and its dests (`print_service_entry`).
pub fn service_entry(out: &mut String, svc: &Service, dests: &[Dest], f: &Format) {
    let name = if svc.fwmark != 0 {
        match (f.rule, svc.af == AF_INET6) {
            (true, true) => format!("-f {} -6", svc.fwmark),
            (true, false) => format!("-f {}", svc.fwmark),
            (false, true) => format!("FWM  {} IPv6", svc.fwmark),
            (false, false) => format!("FWM  {}", svc.fwmark),
        }
    } else {
        let vname = addr_port(svc.af, &svc.addr, svc.port, svc.protocol, f.numeric);
        if f.rule {
            format!("{} {}", proto_switch(svc.protocol), vname)
        } else {
            let name = format!("{:<4} {}", proto_name(svc.protocol), vname);
            if svc.af != AF_INET6 {
                truncate(name, 33)
            } else {
                name
            }
        }
    };
    let mask = || -> Option<String> {
        if svc.af == AF_INET && svc.netmask != NETMASK_INET_ALL {
            Some(Ipv4Addr::from(svc.netmask.to_ne_bytes()).to_string())
        } else if svc.af == AF_INET6 && svc.netmask != NETMASK_INET6_ALL {
            Some(svc.netmask.to_string())
        } else {
            None
        }
    };
    let flags = sched_flags(svc);
    if f.rule {
        let _ = write!(out, "-A {} -s {}", name, svc.sched_name);
        if svc.flags & svc_flag::PERSISTENT != 0 {
            let _ = write!(out, " -p {}", svc.timeout);
            if let Some(m) = mask() {
                let _ = write!(out, " -M {m}");
            }
        }
        if svc.flags & svc_flag::ONEPACKET != 0 {
            out.push_str(" -o");
        }
        if !svc.pe_name.is_empty() {
            let _ = write!(out, " --pe {}", svc.pe_name);
        }
        if !flags.is_empty() {
            let _ = write!(out, " -b {flags}");
        }
    } else if f.stats || f.rate {
        let _ = write!(out, "{name:<33}");
        let s = &svc.stats;
        let values = if f.stats {
            [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes]
        } else {
            [s.cps, s.inpps, s.outpps, s.inbps, s.outbps]
        };
        for v in values {
            largenum(out, v, f.exact);
        }
    } else {
        let _ = write!(out, "{} {}", name, svc.sched_name);
        if !flags.is_empty() {
            let _ = write!(out, " ({flags})");
        }
        if svc.flags & svc_flag::PERSISTENT != 0 {
            let _ = write!(out, " persistent {}", svc.timeout);
            if let Some(m) = mask() {
                let _ = write!(out, " mask {m}");
            }
        }
        if !svc.pe_name.is_empty() {
            let _ = write!(out, " pe {}", svc.pe_name);
        }
        if svc.flags & svc_flag::ONEPACKET != 0 {
            out.push_str(" ops");
        }
    }
    out.push('\n');

    let mut dests: Vec<&Dest> = dests.iter().collect();
    if !f.nosort {
        dests.sort_by(|a, b| cmp_dests(a, b));
    }
    for d in dests {
        let mut dname = addr_port(d.af, &d.addr, d.port, svc.protocol, f.numeric);
        if !f.rule && svc.af != AF_INET6 {
            dname = truncate(dname, 28);
        }
        let s = &d.stats;
        let _ = if f.rule {
            writeln!(
                out,
                "-a {} -r {} {} -w {}{}",
                name,
                dname,
                fwd_switch(d.conn_flags),
                d.weight as i32,
                tunnel_rule(d)
            )
        } else if f.stats {
            let _ = write!(out, "  -> {dname:<28}");
            for v in [s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes] {
                largenum(out, v, f.exact);
            }
            writeln!(out)
        } else if f.rate {
            let _ = write!(
                out,
                "  -> {:<28} {:>8} {:>8} {:>8}",
                dname, s.cps as u32, s.inpps as u32, s.outpps as u32
            );
            largenum(out, s.inbps, f.exact);
            largenum(out, s.outbps, f.exact);
            writeln!(out)
        } else if f.thresholds {
            writeln!(
                out,
                "  -> {:<28} {:<10} {:<10} {:<10} {:<10}",
                dname, d.u_threshold, d.l_threshold, d.active_conns, d.inact_conns
            )
        } else if f.persistent_conn {
            writeln!(
                out,
                "  -> {:<28} {:<9} {:<11} {:<10} {:<10}",
                dname, d.weight, d.persist_conns, d.active_conns, d.inact_conns
            )
        } else if f.tun_info {
            writeln!(
                out,
                "  -> {:<28} {:<7} {:<13} {:<6} {:<10} {:<10}",
                dname,
                fwd_name(d.conn_flags),
                tunnel_info(d),
                d.weight as i32,
                d.active_conns,
                d.inact_conns
            )
        } else {
            writeln!(
                out,
                "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
                dname,
                fwd_name(d.conn_flags),
                d.weight as i32,
                d.active_conns,
                d.inact_conns
            )
        };
    }
}

/// `-L` / `-S`: the header (not for rules), the title and every service with its dests.
pub fn render_all(info: &Info, services: &[(Service, Vec<Dest>)], f: &Format) -> String {
    let mut out = String::new();
    if !f.rule {
        let (major, minor, patch) = version_parts(info.version);
        let _ = writeln!(
            out,
            "IP Virtual Server version {major}.{minor}.{patch} (size={})",
            info.conn_tab_size
        );
    }
    title(&mut out, f);
    let mut sorted: Vec<&(Service, Vec<Dest>)> = services.iter().collect();
    if !f.nosort {
        sorted.sort_by(|a, b| cmp_services(&a.0, &b.0));
    }
    for (svc, dests) in sorted {
        service_entry(&mut out, svc, dests, f);
    }
    out
}

/// `-L -t service`: the title and one service.
pub fn render_one(svc: &Service, dests: &[Dest], f: &Format) -> String {
    let mut out = String::new();
    title(&mut out, f);
    service_entry(&mut out, svc, dests, f);
    out
}

/// `-L --timeout`.
pub fn render_timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp as i32, t.tcp_fin as i32, t.udp as i32
    )
}

/// `-L --daemon`: one line per daemon, as ipvsadm 1.31 prints it, the settings the kernel gave
/// and that are not 0.
pub fn render_daemon(d: &Daemon) -> String {
    let role = if d.state & daemon_state::MASTER != 0 {
        "master"
    } else {
        "backup"
    };
    let mut line = format!(
        "{role} sync daemon (mcast={}, syncid={}",
        d.mcast_ifn, d.syncid
    );
    if d.sync_maxlen != 0 {
        line += &format!(", maxlen={}", d.sync_maxlen);
    }
    if let Some(group) = d.group {
        line += &format!(", group={group}");
    }
    if d.port != 0 {
        line += &format!(", port={}", d.port);
    }
    if d.ttl != 0 {
        line += &format!(", ttl={}", d.ttl);
    }
    line + ")\n"
}

/// `-L -c`: `/proc/net/ip_vs_conn` reformatted (`list_conn`, `print_conn`); with
/// `--persistent-conn`, the persistence engine and its data of the entries that have them (a SIP
/// call's template: `sip CALL-ID`).
pub fn render_conns(proc_text: &str, numeric: bool, persistent_conn: bool) -> String {
    let mut out = String::from("IPVS connection entries\n");
    let _ = write!(
        out,
        "pro expire {:<11} {:<18} {:<18} ",
        "state", "source", "virtual"
    );
    if persistent_conn {
        let _ = writeln!(out, "{:<18} {:<16} pe_data", "destination", "pe name");
    } else {
        out.push_str("destination\n");
    }
    for line in proc_text.lines().skip(1) {
        let f: Vec<&str> = line.split_whitespace().collect();
        if f.len() < 9 {
            continue;
        }
        let proto = match f[0] {
            "TCP" => IPPROTO_TCP,
            "UDP" => IPPROTO_UDP,
            _ => 0,
        };
        let addr = |text: &str| -> (u16, [u8; 16]) {
            let mut a = [0u8; 16];
            if let Ok(v6) = text.parse::<std::net::Ipv6Addr>() {
                return (AF_INET6, v6.octets());
            }
            let v4 = u32::from_str_radix(text, 16).unwrap_or(0);
            a[..4].copy_from_slice(&v4.to_be_bytes());
            (AF_INET, a)
        };
        let port = |text: &str| u16::from_str_radix(text, 16).unwrap_or(0);
        let name = |(af, a): (u16, [u8; 16]), p| addr_port(af, &a, p, proto, numeric);
        let expires: u32 = f[8].parse().unwrap_or(0);
        let _ = write!(
            out,
            "{:<3} {:<6} {:<11} {:<18} {:<18} ",
            f[0],
            format!("{:02}:{:02}", expires / 60, expires % 60),
            f[7],
            name(addr(f[1]), port(f[2])),
            name(addr(f[3]), port(f[4])),
        );
        let dest = name(addr(f[5]), port(f[6]));
        match (persistent_conn, f.get(9), f.get(10)) {
            (true, Some(pe_name), Some(pe_data)) => {
                let _ = writeln!(out, "{dest:<16} {pe_name:<18} {pe_data}");
            }
            _ => {
                let _ = writeln!(out, "{dest}");
            }
        }
    }
    out
}

fn json_str(s: &str) -> String {
    let mut out = String::from("\"");
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

fn json_stats(s: &Stats) -> String {
    format!(
        "{{\"conns\":{},\"inpkts\":{},\"outpkts\":{},\"inbytes\":{},\"outbytes\":{},\"cps\":{},\"inpps\":{},\"outpps\":{},\"inbps\":{},\"outbps\":{}}}",
        s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes, s.cps, s.inpps, s.outpps, s.inbps, s.outbps
    )
}

/// `-L --json`: the whole table as one JSON object.
pub fn render_json(info: &Info, services: &[(Service, Vec<Dest>)]) -> String {
    let mut out = String::new();
    let (major, minor, patch) = version_parts(info.version);
    let _ = write!(
        out,
        "{{\"version\":\"{major}.{minor}.{patch}\",\"conn_tab_size\":{},\"services\":[",
        info.conn_tab_size
    );
    let mut sorted: Vec<&(Service, Vec<Dest>)> = services.iter().collect();
    sorted.sort_by(|a, b| cmp_services(&a.0, &b.0));
    for (i, (svc, dests)) in sorted.into_iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        out.push('{');
        if svc.fwmark != 0 {
            let _ = write!(out, "\"fwmark\":{},", svc.fwmark);
        } else {
            let _ = write!(
                out,
                "\"protocol\":{},\"address\":{},\"port\":{},",
                json_str(&proto_name(svc.protocol).to_lowercase()),
                json_str(&ip_of(svc.af, &svc.addr).to_string()),
                svc.port
            );
        }
        let _ = write!(
            out,
            "\"family\":{},\"scheduler\":{},\"flags\":{},\"persistent\":{},\"timeout\":{},\"netmask\":{},\"stats\":{},\"dests\":[",
            json_str(if svc.af == AF_INET6 { "inet6" } else { "inet" }),
            json_str(&svc.sched_name),
            svc.flags,
            svc.flags & svc_flag::PERSISTENT != 0,
            svc.timeout,
            json_str(&if svc.af == AF_INET { Ipv4Addr::from(svc.netmask.to_ne_bytes()).to_string() } else { svc.netmask.to_string() }),
            json_stats(&svc.stats)
        );
        let mut dests: Vec<&Dest> = dests.iter().collect();
        dests.sort_by(|a, b| cmp_dests(a, b));
        for (j, d) in dests.into_iter().enumerate() {
            if j > 0 {
                out.push(',');
            }
            let _ = write!(
                out,
                "{{\"address\":{},\"port\":{},\"forward\":{},\"weight\":{},\"u_threshold\":{},\"l_threshold\":{},\"active_conns\":{},\"inactive_conns\":{},\"persistent_conns\":{},\"stats\":{}}}",
                json_str(&ip_of(d.af, &d.addr).to_string()),
                d.port,
                json_str(&fwd_name(d.conn_flags).to_lowercase()),
                d.weight as i32,
                d.u_threshold,
                d.l_threshold,
                d.active_conns,
                d.inact_conns,
                d.persist_conns,
                json_stats(&d.stats)
            );
        }
        out.push_str("]}");
    }
    out.push_str("]}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn v4(a: [u8; 4]) -> [u8; 16] {
        let mut x = [0; 16];
        x[..4].copy_from_slice(&a);
        x
    }

    fn svc(addr: [u8; 4], port: u16, protocol: u16, fwmark: u32) -> Service {
        Service {
            af: AF_INET,
            protocol,
            addr: v4(addr),
            port,
            fwmark,
            sched_name: "rr".into(),
            pe_name: String::new(),
            flags: svc_flag::HASHED,
            timeout: 0,
            netmask: NETMASK_INET_ALL,
            stats: Stats::default(),
        }
    }

    fn dest(addr: [u8; 4], port: u16, weight: u32, conn_flags: u32) -> Dest {
        Dest {
            af: AF_INET,
            addr: v4(addr),
            port,
            conn_flags,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            active_conns: 3,
            inact_conns: 12,
            persist_conns: 0,
            tun_type: 0,
            tun_port: 0,
            tun_flags: 0,
            stats: Stats::default(),
        }
    }

    const HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)\n\
        Prot LocalAddress:Port Scheduler Flags\n  \
        -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

    fn info() -> Info {
        Info {
            version: 0x010201,
            conn_tab_size: 4096,
        }
    }

    fn numeric() -> Format {
        Format {
            numeric: true,
            ..Format::default()
        }
    }

    #[test]
    fn empty_listing_is_the_ipvsadm_header() {
        assert_eq!(render_all(&info(), &[], &numeric()), HEADER);
    }

    /// Byte for byte what ipvsadm 1.31 printed for the same table against in-tree ip_vs.
    #[test]
    fn services_and_dests_match_ipvsadm() {
        let mut persistent = svc([10, 0, 0, 1], 443, IPPROTO_TCP, 0);
        persistent.flags |= svc_flag::PERSISTENT;
        persistent.timeout = 300;
        persistent.sched_name = "wrr".into();
        persistent.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
        let mut ops = svc([10, 0, 0, 1], 53, IPPROTO_UDP, 0);
        ops.flags |= svc_flag::ONEPACKET;
        ops.sched_name = "wlc".into();
        let mut sctp = svc([10, 0, 0, 4], 3868, IPPROTO_SCTP, 0);
        sctp.sched_name = "rr".into();
        let services = vec![
            (ops, vec![]),
            (
                svc([0; 4], 0, IPPROTO_TCP, 5),
                vec![dest([192, 168, 1, 8], 8000, 2, 0)],
            ),
            (persistent, vec![dest([192, 168, 1, 2], 443, 70000, 3)]),
            (sctp, vec![]),
            (
                svc([10, 0, 0, 1], 80, IPPROTO_TCP, 0),
                vec![
                    dest([192, 168, 1, 3], 80, 0, 3),
                    dest([192, 168, 1, 2], 8080, 3, 0),
                ],
            ),
        ];
        let text = render_all(&info(), &services, &numeric());
        let expected = format!(
            "{HEADER}\
TCP  10.0.0.1:80 rr
  -> 192.168.1.2:8080             Masq    3      3          12        
  -> 192.168.1.3:80               Route   0      3          12        
TCP  10.0.0.1:443 wrr persistent 300 mask 255.255.255.0
  -> 192.168.1.2:443              Route   70000  3          12        
UDP  10.0.0.1:53 wlc ops
SCTP 10.0.0.4:3868 rr
FWM  5 rr
  -> 192.168.1.8:8000             Masq    2      3          12        
"
        );
        assert_eq!(text, expected);
        let rules = render_all(
            &info(),
            &services,
            &Format {
                numeric: true,
                rule: true,
                ..Format::default()
            },
        );
        assert_eq!(
            rules,
            "-A -t 10.0.0.1:80 -s rr
-a -t 10.0.0.1:80 -r 192.168.1.2:8080 -m -w 3
-a -t 10.0.0.1:80 -r 192.168.1.3:80 -g -w 0
-A -t 10.0.0.1:443 -s wrr -p 300 -M 255.255.255.0
-a -t 10.0.0.1:443 -r 192.168.1.2:443 -g -w 70000
-A -u 10.0.0.1:53 -s wlc -o
-A --sctp-service 10.0.0.4:3868 -s rr
-A -f 5 -s rr
-a -f 5 -r 192.168.1.8:8000 -m -w 2
"
        );
    }

    #[test]
    fn stats_thresholds_and_tunnels() {
        let mut d = dest([192, 168, 1, 4], 80, 1, 2);
        d.tun_type = 1;
        d.tun_port = 6080;
        d.tun_flags = 1;
        d.stats.inbytes = 123_456_789_012;
        let services = vec![(svc([10, 0, 0, 1], 80, IPPROTO_TCP, 0), vec![d])];
        let stats = render_all(
            &info(),
            &services,
            &Format {
                numeric: true,
                stats: true,
                ..Format::default()
            },
        );
        assert!(stats.contains(
            "Prot LocalAddress:Port               Conns   InPkts  OutPkts  InBytes OutBytes\n"
        ));
        let row = |bytes: &str| {
            format!(
                "  -> {:<28}{:>9}{:>9}{:>9}{:>9}{:>9}\n",
                "192.168.1.4:80", 0, 0, 0, bytes, 0
            )
        };
        assert!(stats.contains(&row("123G")), "{stats}");
        let exact = render_all(
            &info(),
            &services,
            &Format {
                numeric: true,
                stats: true,
                exact: true,
                ..Format::default()
            },
        );
        assert!(exact.contains(&row(" 123456789012")), "{exact}");
        let tun = render_all(
            &info(),
            &services,
            &Format {
                numeric: true,
                tun_info: true,
                ..Format::default()
            },
        );
        assert!(tun.contains("  -> 192.168.1.4:80               Tunnel  gue:6080:+c   1      3          12        \n"));
        let rules = render_all(
            &info(),
            &services,
            &Format {
                numeric: true,
                rule: true,
                ..Format::default()
            },
        );
        assert!(rules.contains("-a -t 10.0.0.1:80 -r 192.168.1.4:80 -i -w 1 --tun-type gue --tun-port 6080 --tun-csum\n"));
        let thr = render_all(
            &info(),
            &services,
            &Format {
                numeric: true,
                thresholds: true,
                ..Format::default()
            },
        );
        assert!(thr.contains(
            "Prot LocalAddress:Port            Uthreshold Lthreshold ActiveConn InActConn \n"
        ));
    }

    #[test]
    fn address_comparison_is_a_c_int_difference() {
        // ntohl(a) - ntohl(b) wraps: 200.0.0.1 - 10.0.0.1 is negative as an int.
        let a = svc([200, 0, 0, 1], 80, IPPROTO_TCP, 0);
        let b = svc([10, 0, 0, 1], 80, IPPROTO_TCP, 0);
        assert_eq!(cmp_services(&a, &b), Ordering::Less);
        let c = svc([20, 0, 0, 1], 80, IPPROTO_TCP, 0);
        assert_eq!(cmp_services(&c, &b), Ordering::Greater);
    }

    #[test]
    fn daemons_as_ipvsadm_1_31() {
        let mut d = Daemon {
            state: daemon_state::BACKUP,
            mcast_ifn: "sync0".into(),
            syncid: 5,
            sync_maxlen: 1472,
            group: Some("224.0.0.81".parse().unwrap()),
            port: 8848,
            ttl: 1,
        };
        assert_eq!(
            render_daemon(&d),
            "backup sync daemon (mcast=sync0, syncid=5, maxlen=1472, group=224.0.0.81, port=8848, ttl=1)\n"
        );
        d.state = daemon_state::MASTER;
        (d.sync_maxlen, d.group, d.port, d.ttl) = (0, None, 0, 0);
        assert_eq!(
            render_daemon(&d),
            "master sync daemon (mcast=sync0, syncid=5)\n"
        );
        d.group = Some("ff02::1:2".parse().unwrap());
        assert_eq!(
            render_daemon(&d),
            "master sync daemon (mcast=sync0, syncid=5, group=ff02::1:2)\n"
        );
    }

    #[test]
    fn connections_and_timeouts() {
        assert_eq!(
            render_timeouts(&Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }),
            "Timeout (tcp tcpfin udp): 900 120 300\n"
        );
        let proc =
            "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n\
                    TCP 0A000002 D431 0A000001 0050 C0A80102 1F90 ESTABLISHED     899\n";
        assert_eq!(
            render_conns(proc, true, false),
            "IPVS connection entries\npro expire state       source             virtual            destination\n\
             TCP 14:59  ESTABLISHED 10.0.0.2:54321     10.0.0.1:80        192.168.1.2:8080\n"
        );
        // --persistent-conn: the engine and its data where an entry has them (ipvsadm 1.31's
        // columns, from its output against ip_vs).
        let proc = format!(
            "{}UDP 0A000102 0000 0A000164 13C4 0A00020C 13C4 ASSURED          59 sip call-e\n",
            proc
        );
        assert_eq!(
            render_conns(&proc, true, true),
            "IPVS connection entries\n\
             pro expire state       source             virtual            destination        pe name          pe_data\n\
             TCP 14:59  ESTABLISHED 10.0.0.2:54321     10.0.0.1:80        192.168.1.2:8080\n\
             UDP 00:59  ASSURED     10.0.1.2:0         10.0.1.100:5060    10.0.2.12:5060   sip                call-e\n"
        );
    }

    #[test]
    fn json_is_well_formed() {
        let services = vec![(
            svc([10, 0, 0, 1], 80, IPPROTO_TCP, 0),
            vec![dest([192, 168, 1, 2], 80, 1, 0)],
        )];
        let j = render_json(&info(), &services);
        assert!(j.starts_with("{\"version\":\"1.2.1\",\"conn_tab_size\":4096,\"services\":[{\"protocol\":\"tcp\",\"address\":\"10.0.0.1\",\"port\":80,"));
        assert!(j.contains("\"dests\":[{\"address\":\"192.168.1.2\",\"port\":80,\"forward\":\"masq\",\"weight\":1,"));
        assert_eq!(j.matches('{').count(), j.matches('}').count());
    }
}
