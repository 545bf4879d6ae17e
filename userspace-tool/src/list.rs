//! Listings in ipvsadm's exact text formats (ipvsadm.c `list_all`, `print_title`,
//! `print_service_entry`), so that `rvsadm -Ln` and `ipvsadm -Ln` print the same bytes.

use crate::ipvs::{
    ip_of, Dest, Info, Service, Timeouts, AF_INET, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP,
    IPPROTO_UDP, SVC_F_ONEPACKET, SVC_F_PERSISTENT,
};
use std::cmp::Ordering;
use std::fmt::Write;
use std::net::Ipv4Addr;

/// How addresses and ports are shown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Format {
    /// `-n`: numeric addresses and ports.
    pub numeric: bool,
}

/// `IP_VS_CONN_F_FWD_MASK` names (`fwd_name`).
pub fn fwd_name(conn_flags: u32) -> &'static str {
    match conn_flags & 0x7 {
        0 => "Masq",
        1 => "Local",
        2 => "Tunnel",
        3 => "Route",
        _ => "",
    }
}

fn proto_name(protocol: u16) -> &'static str {
    match protocol {
        IPPROTO_TCP => "TCP",
        IPPROTO_UDP => "UDP",
        IPPROTO_SCTP => "SCTP",
        _ => "?",
    }
}

/// `address:port` as `addrport_to_anyname` prints it (`[v6]:port`).
pub fn addr_port(af: u16, addr: &[u8; 16], port: u16, protocol: u16, format: Format) -> String {
    let ip = ip_of(af, addr);
    let host = if format.numeric {
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
    let service = if format.numeric {
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

/// The listing of `-L`: header, title and every service with its dests.
pub fn render_all(info: &Info, services: &[(Service, Vec<Dest>)], format: Format) -> String {
    let mut out = String::new();
    let (major, minor, patch) = (
        info.version >> 16 & 0xff,
        info.version >> 8 & 0xff,
        info.version & 0xff,
    );
    let _ = writeln!(
        out,
        "IP Virtual Server version {major}.{minor}.{patch} (size={})",
        info.conn_tab_size
    );
    out.push_str("Prot LocalAddress:Port Scheduler Flags\n");
    out.push_str("  -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n");
    let mut sorted: Vec<&(Service, Vec<Dest>)> = services.iter().collect();
    sorted.sort_by(|a, b| cmp_services(&a.0, &b.0));
    for (svc, dests) in sorted {
        render_service(&mut out, svc, dests, format);
    }
    out
}

fn truncate(mut s: String, len: usize) -> String {
    if s.len() > len {
        s.truncate(len);
    }
    s
}

fn render_service(out: &mut String, svc: &Service, dests: &[Dest], format: Format) {
    let name = if svc.fwmark != 0 {
        if svc.af == AF_INET6 {
            format!("FWM  {} IPv6", svc.fwmark)
        } else {
            format!("FWM  {}", svc.fwmark)
        }
    } else {
        let vname = addr_port(svc.af, &svc.addr, svc.port, svc.protocol, format);
        let name = format!("{}  {}", proto_name(svc.protocol), vname);
        if svc.af != AF_INET6 {
            truncate(name, 33)
        } else {
            name
        }
    };
    let _ = write!(out, "{} {}", name, svc.sched_name);
    if svc.flags & SVC_F_PERSISTENT != 0 {
        let _ = write!(out, " persistent {}", svc.timeout);
        if svc.af == AF_INET && svc.netmask != 0xffff_ffff {
            let _ = write!(out, " mask {}", Ipv4Addr::from(svc.netmask.to_ne_bytes()));
        }
        if svc.af == AF_INET6 && svc.netmask != 128 {
            let _ = write!(out, " mask {}", svc.netmask);
        }
        if svc.flags & SVC_F_ONEPACKET != 0 {
            out.push_str(" ops");
        }
    }
    out.push('\n');
    let mut dests: Vec<&Dest> = dests.iter().collect();
    dests.sort_by(|a, b| cmp_dests(a, b));
    for d in dests {
        let mut dname = addr_port(d.af, &d.addr, d.port, svc.protocol, format);
        if svc.af != AF_INET6 {
            dname = truncate(dname, 28);
        }
        let _ = writeln!(
            out,
            "  -> {:<28} {:<7} {:<6} {:<10} {:<10}",
            dname,
            fwd_name(d.conn_flags),
            d.weight as i32,
            d.active_conns,
            d.inact_conns
        );
    }
}

/// `-L --timeout`.
pub fn render_timeouts(t: &Timeouts) -> String {
    format!(
        "Timeout (tcp tcpfin udp): {} {} {}\n",
        t.tcp as i32, t.tcp_fin as i32, t.udp as i32
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ipvs::Stats;

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
            flags: 0,
            timeout: 0,
            netmask: 0xffff_ffff,
            stats: Stats::default(),
        }
    }

    fn dest(addr: [u8; 4], port: u16, weight: u32) -> Dest {
        Dest {
            af: AF_INET,
            addr: v4(addr),
            port,
            conn_flags: 0,
            weight,
            u_threshold: 0,
            l_threshold: 0,
            active_conns: 3,
            inact_conns: 12,
            persist_conns: 0,
            stats: Stats::default(),
        }
    }

    const HEADER: &str = "IP Virtual Server version 1.2.1 (size=4096)\n\
        Prot LocalAddress:Port Scheduler Flags\n  \
        -> RemoteAddress:Port           Forward Weight ActiveConn InActConn\n";

    #[test]
    fn empty_listing_is_the_ipvsadm_header() {
        let info = Info {
            version: 0x010201,
            conn_tab_size: 4096,
        };
        assert_eq!(render_all(&info, &[], Format { numeric: true }), HEADER);
    }

    #[test]
    fn services_and_dests_are_sorted_and_aligned() {
        let info = Info {
            version: 0x010201,
            conn_tab_size: 4096,
        };
        let mut persistent = svc([10, 0, 0, 1], 443, IPPROTO_TCP, 0);
        persistent.flags = SVC_F_PERSISTENT;
        persistent.timeout = 300;
        persistent.netmask = u32::from_ne_bytes([255, 255, 255, 0]);
        let services = vec![
            (svc([10, 0, 0, 1], 80, IPPROTO_UDP, 0), vec![]),
            (svc([0; 4], 0, 0, 5), vec![]),
            (persistent, vec![]),
            (
                svc([10, 0, 0, 1], 80, IPPROTO_TCP, 0),
                vec![
                    dest([192, 168, 1, 20], 8080, 2),
                    dest([192, 168, 1, 3], 80, 1),
                ],
            ),
        ];
        let text = render_all(&info, &services, Format { numeric: true });
        let expected = format!(
            "{HEADER}TCP  10.0.0.1:80 rr\n\
             {}\n{}\n\
             TCP  10.0.0.1:443 rr persistent 300 mask 255.255.255.0\n\
             UDP  10.0.0.1:80 rr\n\
             FWM  5 rr\n",
            "  -> 192.168.1.3:80               Masq    1      3          12        ",
            "  -> 192.168.1.20:8080            Masq    2      3          12        ",
        );
        assert_eq!(text, expected);
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
    fn timeouts_line() {
        assert_eq!(
            render_timeouts(&Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 300
            }),
            "Timeout (tcp tcpfin udp): 900 120 300\n"
        );
    }
}
