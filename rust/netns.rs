// SPDX-License-Identifier: GPL-2.0

//! The rvs state of one network namespace.
//!
//! IPVS keeps its services, timeouts, statistics and sysctls per namespace (`struct netns_ipvs`);
//! so does rvs. The state is created by the pernet `init` of each namespace and dropped by its
//! `exit`.
//!
//! Writers of the service table are serialised by the generic netlink mutex: the IPVS family is
//! not `parallel_ops`, so no two commands run at once.

#![deny(unsafe_code)]

use crate::{
    ffi::{rcu::RcuArc, sysctl::IntSysctl},
    service::ServiceTable,
    stats::Stats,
    timeouts::{self, Timeouts},
};
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};
use kernel::{c_str, prelude::*};

/// Per-namespace state.
pub(crate) struct NetState {
    // Atomics rather than a lock: the packet path will read them in softirq context.
    timeout_tcp: AtomicU32,
    timeout_tcp_fin: AtomicU32,
    timeout_udp: AtomicU32,
    /// The configuration, published under RCU.
    pub(crate) services: RcuArc<ServiceTable>,
    /// Totals of the namespace (`/proc/net/ip_vs_stats`).
    pub(crate) stats: Stats,
    /// `/proc/sys/net/ipv4/vs/*`.
    pub(crate) sysctl: Sysctls,
}

impl NetState {
    /// Creates the state of a new namespace.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            timeout_tcp: AtomicU32::new(timeouts::DEFAULT.tcp),
            timeout_tcp_fin: AtomicU32::new(timeouts::DEFAULT.tcp_fin),
            timeout_udp: AtomicU32::new(timeouts::DEFAULT.udp),
            services: RcuArc::new(ServiceTable::new()?),
            stats: Stats::default(),
            sysctl: Sysctls::default(),
        })
    }

    /// Returns the current timeouts.
    pub(crate) fn timeouts(&self) -> Timeouts {
        Timeouts {
            tcp: self.timeout_tcp.load(Ordering::Relaxed),
            tcp_fin: self.timeout_tcp_fin.load(Ordering::Relaxed),
            udp: self.timeout_udp.load(Ordering::Relaxed),
        }
    }

    /// Replaces the timeouts (validated by the caller with `timeouts::apply`).
    pub(crate) fn set_timeouts(&self, new: Timeouts) {
        self.timeout_tcp.store(new.tcp, Ordering::Relaxed);
        self.timeout_tcp_fin.store(new.tcp_fin, Ordering::Relaxed);
        self.timeout_udp.store(new.udp, Ordering::Relaxed);
    }
}

/// The sysctls of `/proc/sys/net/ipv4/vs/` that rvs implements, with IPVS's names, defaults and
/// ranges (`ip_vs_control_net_init_sysctl`). The kernel's `proc_dointvec*` handlers read and write
/// them as `int`s.
pub(crate) struct Sysctls {
    pub(crate) amemthresh: AtomicI32,
    pub(crate) drop_entry: AtomicI32,
    pub(crate) drop_packet: AtomicI32,
    pub(crate) secure_tcp: AtomicI32,
    pub(crate) snat_reroute: AtomicI32,
    pub(crate) expire_nodest_conn: AtomicI32,
    pub(crate) expire_quiescent_template: AtomicI32,
    pub(crate) sloppy_tcp: AtomicI32,
    pub(crate) sloppy_sctp: AtomicI32,
    pub(crate) conn_reuse_mode: AtomicI32,
    pub(crate) schedule_icmp: AtomicI32,
    pub(crate) ignore_tunneled: AtomicI32,
    pub(crate) run_estimation: AtomicI32,
}

impl Default for Sysctls {
    fn default() -> Self {
        Self {
            amemthresh: AtomicI32::new(1024),
            drop_entry: AtomicI32::new(0),
            drop_packet: AtomicI32::new(0),
            secure_tcp: AtomicI32::new(0),
            snat_reroute: AtomicI32::new(1),
            expire_nodest_conn: AtomicI32::new(0),
            expire_quiescent_template: AtomicI32::new(0),
            sloppy_tcp: AtomicI32::new(0),
            sloppy_sctp: AtomicI32::new(0),
            conn_reuse_mode: AtomicI32::new(1),
            schedule_icmp: AtomicI32::new(0),
            ignore_tunneled: AtomicI32::new(0),
            run_estimation: AtomicI32::new(1),
        }
    }
}

/// The defense modes (drop_entry, drop_packet, secure_tcp) accept 0 (off), 1 and 2 (automatic)
/// and 3 (on); IPVS refuses other values with `-EINVAL` (`proc_do_defense_mode`).
static DEFENSE_MODE_MIN: i32 = 0;
static DEFENSE_MODE_MAX: i32 = 3;

impl Sysctls {
    /// The directory of the sysctls.
    pub(crate) const PATH: &'static CStr = c_str!("net/ipv4/vs");

    /// The sysctl files, in IPVS's order.
    pub(crate) fn entries(&self) -> [IntSysctl<'_>; 13] {
        let plain = |name, value| IntSysctl {
            name,
            value,
            range: None,
        };
        let defense = |name, value| IntSysctl {
            name,
            value,
            range: Some((&DEFENSE_MODE_MIN, &DEFENSE_MODE_MAX)),
        };
        [
            plain(c_str!("amemthresh"), &self.amemthresh),
            defense(c_str!("drop_entry"), &self.drop_entry),
            defense(c_str!("drop_packet"), &self.drop_packet),
            defense(c_str!("secure_tcp"), &self.secure_tcp),
            plain(c_str!("snat_reroute"), &self.snat_reroute),
            plain(c_str!("expire_nodest_conn"), &self.expire_nodest_conn),
            plain(c_str!("sloppy_tcp"), &self.sloppy_tcp),
            plain(c_str!("sloppy_sctp"), &self.sloppy_sctp),
            plain(
                c_str!("expire_quiescent_template"),
                &self.expire_quiescent_template,
            ),
            plain(c_str!("conn_reuse_mode"), &self.conn_reuse_mode),
            plain(c_str!("schedule_icmp"), &self.schedule_icmp),
            plain(c_str!("ignore_tunneled"), &self.ignore_tunneled),
            plain(c_str!("run_estimation"), &self.run_estimation),
        ]
    }
}
