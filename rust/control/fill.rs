// SPDX-License-Identifier: GPL-2.0

//! The nests IPVS sends back: services, destinations, statistics and daemons
//! (`ip_vs_genl_fill_*`).

#![deny(unsafe_code)]

use crate::{
    abi::{self, cmd_attr, daemon_attr, dest_attr, stats_attr, svc_attr},
    ffi::genl::AttrWriter,
    service::{Dest, Service, ServiceKey},
    stats::Snapshot,
    sync_config::DaemonConfig,
};
use kernel::prelude::*;

/// A statistics nest: `STATS` has 32-bit counters and rates (truncated) and 64-bit byte counts,
/// `STATS64` has all ten in 64 bits.
fn put_stats(w: &mut AttrWriter<'_>, kind: u16, s: &Snapshot, wide: bool) -> Result {
    w.nest(kind, |w| {
        let pad = stats_attr::PAD;
        let values = [
            (stats_attr::CONNS, s.conns, false),
            (stats_attr::INPKTS, s.inpkts, false),
            (stats_attr::OUTPKTS, s.outpkts, false),
            (stats_attr::INBYTES, s.inbytes, true),
            (stats_attr::OUTBYTES, s.outbytes, true),
            (stats_attr::CPS, s.cps, false),
            (stats_attr::INPPS, s.inpps, false),
            (stats_attr::OUTPPS, s.outpps, false),
            (stats_attr::INBPS, s.inbps, false),
            (stats_attr::OUTBPS, s.outbps, false),
        ];
        for (attr, value, always_wide) in values {
            if wide || always_wide {
                w.put_u64(attr, value, pad)?;
            } else {
                w.put_u32(attr, value as u32)?;
            }
        }
        Ok(())
    })
}

fn put_both_stats(w: &mut AttrWriter<'_>, narrow: u16, wide: u16, s: &Snapshot) -> Result {
    put_stats(w, narrow, s, false)?;
    put_stats(w, wide, s, true)
}

/// `IPVS_CMD_ATTR_SERVICE` for `svc` (`ip_vs_genl_fill_service`).
pub(crate) fn service(w: &mut AttrWriter<'_>, svc: &Service, hz: u32) -> Result {
    w.nest(cmd_attr::SERVICE, |w| {
        w.put_u16(svc_attr::AF, svc.key.af())?;
        match svc.key {
            ServiceKey::Fwmark { mark, .. } => w.put_u32(svc_attr::FWMARK, mark)?,
            ServiceKey::Tuple {
                protocol,
                addr,
                port,
                ..
            } => {
                w.put_u16(svc_attr::PROTOCOL, protocol)?;
                w.put_bytes(svc_attr::ADDR, &addr)?;
                w.put_be16(svc_attr::PORT, port)?;
            }
        }
        let sched = svc.params.scheduler.map_or("none", |s| s.name());
        w.put_str(svc_attr::SCHED_NAME, sched.as_bytes())?;
        if let Some(pe) = svc.params.pe {
            w.put_str(svc_attr::PE_NAME, pe.name())?;
        }
        // struct ip_vs_flags { flags, mask = ~0 }
        w.put_bytes(svc_attr::FLAGS, &abi::flags_bytes(svc.params.flags, !0))?;
        w.put_u32(svc_attr::TIMEOUT, svc.timeout_seconds(hz))?;
        w.put_u32(svc_attr::NETMASK, svc.params.netmask)?;
        put_both_stats(w, svc_attr::STATS, svc_attr::STATS64, &svc.stats.snapshot())
    })
}

/// `IPVS_CMD_ATTR_DEST` for `dest` (`ip_vs_genl_fill_dest`).
pub(crate) fn dest(w: &mut AttrWriter<'_>, dest: &Dest) -> Result {
    w.nest(cmd_attr::DEST, |w| {
        let p = &dest.params;
        w.put_bytes(dest_attr::ADDR, &dest.key.addr)?;
        w.put_be16(dest_attr::PORT, dest.key.port)?;
        w.put_u32(dest_attr::FWD_METHOD, p.fwd)?;
        w.put_u32(dest_attr::WEIGHT, p.weight as u32)?;
        w.put_u8(dest_attr::TUN_TYPE, p.tun_type)?;
        w.put_be16(dest_attr::TUN_PORT, p.tun_port)?;
        w.put_u16(dest_attr::TUN_FLAGS, p.tun_flags)?;
        w.put_u32(dest_attr::U_THRESH, p.u_threshold)?;
        w.put_u32(dest_attr::L_THRESH, p.l_threshold)?;
        w.put_u32(dest_attr::ACTIVE_CONNS, dest.active_conns())?;
        w.put_u32(dest_attr::INACT_CONNS, dest.inactive_conns())?;
        w.put_u32(dest_attr::PERSIST_CONNS, dest.persistent_conns())?;
        w.put_u16(dest_attr::ADDR_FAMILY, dest.key.af)?;
        put_both_stats(
            w,
            dest_attr::STATS,
            dest_attr::STATS64,
            &dest.shared.stats.snapshot(),
        )
    })
}

/// The inside of a daemon nest (`ip_vs_genl_fill_daemon`).
pub(super) fn daemon(w: &mut AttrWriter<'_>, state: u32, c: &DaemonConfig) -> Result {
    w.put_u32(daemon_attr::STATE, state)?;
    w.put_str(daemon_attr::MCAST_IFN, c.ifname())?;
    w.put_u32(daemon_attr::SYNC_ID, c.syncid)?;
    w.put_u16(daemon_attr::SYNC_MAXLEN, c.sync_maxlen)?;
    w.put_u16(daemon_attr::MCAST_PORT, c.port)?;
    w.put_u8(daemon_attr::MCAST_TTL, c.ttl)?;
    w.put_bytes(daemon_attr::MCAST_GROUP, &c.group())
}
