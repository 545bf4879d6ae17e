// SPDX-License-Identifier: GPL-2.0

//! The text of `/proc/net/ip_vs`, `/proc/net/ip_vs_stats` and `/proc/net/ip_vs_conn`, byte for byte
//! as IPVS prints them (`ip_vs_info_seq_show`, `ip_vs_stats_show`, `ip_vs_conn_seq_show`).
//!
//! The totals are one record. The services and the connections are one record per hash bucket,
//! so that a read holds one bucket's lines at a time, whatever the table's size, and resumes
//! where it stopped without walking the table again.

#![deny(unsafe_code)]

use crate::{
    abi::{self, svc_flag, AF_INET6},
    config_rules::{self, Ipv6Full},
    conn_tab_size,
    ffi::{
        procfs::{ProcFile, SeqWriter},
        rcu, timer,
    },
    netns::NetState,
    packet::{self, InetAddr},
    pe_sip,
    service::ServiceKey,
};
use core::fmt::{self, Write};

/// `/proc/net/ip_vs`: the header, then every service with its destinations, in hex.
pub(crate) struct Services;

impl ProcFile for Services {
    type Data = NetState;

    fn records(state: &NetState) -> u64 {
        state.services.buckets() as u64
    }

    fn header(state: &NetState, out: &mut SeqWriter<'_>) -> fmt::Result {
        services_header(state, out)
    }

    fn record(state: &NetState, bucket: u64, out: &mut SeqWriter<'_>) -> fmt::Result {
        let bucket = usize::try_from(bucket).map_err(|_| fmt::Error)?;
        services(state, bucket, out)
    }
}

fn services_header(state: &NetState, out: &mut SeqWriter<'_>) -> fmt::Result {
    let (major, minor, patch) = abi::VERSION;
    let size = state.conns.buckets();
    writeln!(
        out,
        "IP Virtual Server version {major}.{minor}.{patch} (size={size})"
    )?;
    out.write_str("Prot LocalAddress:Port Scheduler Flags\n")?;
    out.write_str("  -> RemoteAddress:Port Forward Weight ActiveConn InActConn\n")
}

/// The services of hash bucket `bucket` with their destinations; the buckets of address
/// services come first, as IPVS lists them.
fn services(state: &NetState, bucket: usize, out: &mut SeqWriter<'_>) -> fmt::Result {
    let guard = rcu::Guard::new();
    for svc in state.services.bucket(bucket, &guard) {
        let sched = svc.params.scheduler.map_or("none", |s| s.name());
        let ops = if svc.params.flags & svc_flag::ONEPACKET != 0 {
            "ops "
        } else {
            ""
        };
        match svc.key {
            ServiceKey::Tuple {
                af: AF_INET6,
                protocol,
                addr,
                port,
            } => write!(
                out,
                "{}  [{}]:{:04X} {} ",
                config_rules::proto_name(protocol),
                Ipv6Full(&addr),
                port,
                sched
            )?,
            ServiceKey::Tuple {
                protocol,
                addr,
                port,
                ..
            } => {
                let ip = u32::from_be_bytes([addr[0], addr[1], addr[2], addr[3]]);
                write!(
                    out,
                    "{}  {:08X}:{:04X} {} {} ",
                    config_rules::proto_name(protocol),
                    ip,
                    port,
                    sched,
                    ops
                )?
            }
            ServiceKey::Fwmark { mark, .. } => write!(out, "FWM  {mark:08X} {sched} {ops}")?,
        }
        if svc.persistent() {
            let mask = u32::from_be(svc.params.netmask);
            writeln!(
                out,
                "persistent {} {:08X}",
                svc.params.timeout_ticks as i32, mask
            )?;
        } else {
            out.write_char('\n')?;
        }
        for d in svc.dests.iter() {
            if d.key.af == AF_INET6 {
                write!(out, "  -> [{}]:{:04X}", Ipv6Full(&d.key.addr), d.key.port)?;
            } else {
                let a = &d.key.addr;
                write!(
                    out,
                    "  -> {:08X}:{:04X}",
                    u32::from_be_bytes([a[0], a[1], a[2], a[3]]),
                    d.key.port
                )?;
            }
            writeln!(
                out,
                "      {:<7} {:<6} {:<10} {:<10}",
                config_rules::fwd_name(d.params.fwd),
                d.params.weight,
                d.active_conns() as i32,
                d.inactive_conns() as i32
            )?;
        }
    }
    Ok(())
}

/// `/proc/net/ip_vs_stats`: the namespace's totals and rates, in hex.
pub(crate) struct Totals;

impl ProcFile for Totals {
    type Data = NetState;

    fn records(_state: &NetState) -> u64 {
        0
    }

    fn header(state: &NetState, out: &mut SeqWriter<'_>) -> fmt::Result {
        totals(state, out)
    }

    fn record(_state: &NetState, _index: u64, _out: &mut SeqWriter<'_>) -> fmt::Result {
        Ok(())
    }
}

fn totals(state: &NetState, out: &mut SeqWriter<'_>) -> fmt::Result {
    let s = state.stats.snapshot();
    out.write_str("   Total Incoming Outgoing         Incoming         Outgoing\n")?;
    out.write_str("   Conns  Packets  Packets            Bytes            Bytes\n")?;
    writeln!(
        out,
        "{:8X} {:8X} {:8X} {:16X} {:16X}\n",
        s.conns, s.inpkts, s.outpkts, s.inbytes, s.outbytes
    )?;
    out.write_str(" Conns/s   Pkts/s   Pkts/s          Bytes/s          Bytes/s\n")?;
    writeln!(
        out,
        "{:8X} {:8X} {:8X} {:16X} {:16X}",
        s.cps, s.inpps, s.outpps, s.inbps, s.outbps
    )
}

/// `/proc/net/ip_vs_conn`: the connection entries (`ip_vs_conn_seq_show`), which `ipvsadm -Lc`
/// parses; a record is the entries of a hash bucket or a few, numbered by listing position
/// (`conn_tab_size::listing_buckets`).
pub(crate) struct Conns;

impl ProcFile for Conns {
    type Data = NetState;

    fn records(_state: &NetState) -> u64 {
        conn_tab_size::LISTING_POSITIONS
    }

    fn next_record(state: &NetState, position: u64) -> u64 {
        state.conns.next_position(position)
    }

    fn header(_state: &NetState, out: &mut SeqWriter<'_>) -> fmt::Result {
        out.write_str(
            "Pro FromIP   FPrt ToIP     TPrt DestIP   DPrt State       Expires PEName PEData\n",
        )
    }

    fn record(state: &NetState, position: u64, out: &mut SeqWriter<'_>) -> fmt::Result {
        let now = timer::jiffies();
        state.conns.for_each_at(position, |c| {
            let t = &c.tuple;
            let (vport, dport) = c.shown_ports();
            // `ip_vs_proto_name`: fwmark templates have protocol 0 ("IP").
            let name = match t.protocol {
                packet::PROTO_UDP => "UDP",
                packet::PROTO_TCP => "TCP",
                _ => "IP",
            };
            write!(
                out,
                "{:<3} {} {:04X} {} {:04X} {} {:04X} {:<11} {:7}",
                name,
                ConnAddr(&t.caddr),
                u16::from_be_bytes(t.cport),
                ConnAddr(&t.vaddr),
                u16::from_be_bytes(vport),
                ConnAddr(&t.daddr),
                u16::from_be_bytes(dport),
                c.state_name(),
                c.expires_in_secs(now),
            )?;
            // A SIP call's template: the engine's name and the Call-ID, as the message had it.
            if let Some(call_id) = c.call_id() {
                out.write_str(" ")?;
                out.write_bytes(pe_sip::NAME);
                out.write_str(" ")?;
                out.write_bytes(call_id.as_bytes());
            }
            out.write_str("\n")
        })
    }
}

/// An address as `/proc/net/ip_vs_conn` shows it: IPv4 as 8 hexadecimal digits, IPv6 in full
/// (`%pI6`).
struct ConnAddr<'a>(&'a InetAddr);

impl fmt::Display for ConnAddr<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.0 {
            InetAddr::V4(a) => write!(f, "{:08X}", u32::from_be_bytes(*a)),
            InetAddr::V6(a) => write!(f, "{}", Ipv6Full(a)),
        }
    }
}
