// SPDX-License-Identifier: GPL-2.0

//! Virtual services and their destinations (real servers), and the per-namespace table of
//! services that the control plane publishes as a whole under RCU.
//!
//! A published [`ServiceTable`] is immutable: every configuration change builds the next table
//! (sharing the unchanged services and destinations, and the statistics and counters of the changed
//! ones) and publishes it at once, so that a reader sees one consistent configuration.

#![deny(unsafe_code)]

use crate::{
    abi::{conn_flag, svc_flag, AF_INET},
    ffi::sync::BhSpinLock,
    packet::Encap,
    sched::{Candidate, Flow, SchedState, Scheduler},
    stats::Stats,
};
use core::sync::atomic::{AtomicBool, AtomicI32, AtomicU32, AtomicU64, Ordering};
use kernel::{prelude::*, sync::Arc};

/// What identifies a service: its address tuple, or its firewall mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceKey {
    /// `(af, protocol, address, port)`; the address is normalised (`config_rules::normalize_addr`).
    Tuple {
        af: u16,
        protocol: u16,
        addr: [u8; 16],
        port: u16,
    },
    /// `(af, fwmark)`; IPVS stores such services with protocol TCP.
    Fwmark { af: u16, mark: u32 },
}

impl ServiceKey {
    /// The address family.
    pub(crate) fn af(&self) -> u16 {
        match *self {
            ServiceKey::Tuple { af, .. } | ServiceKey::Fwmark { af, .. } => af,
        }
    }
}

/// The settable part of a service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ServiceParams {
    /// `IP_VS_SVC_F_*`, `HASHED` included.
    pub(crate) flags: u32,
    /// The bound scheduler, or none (`"none"`).
    pub(crate) scheduler: Option<Scheduler>,
    /// Persistence timeout in jiffies.
    pub(crate) timeout_ticks: u32,
    /// Persistence netmask: an IPv4 mask in network byte order, or an IPv6 prefix length, as
    /// userspace sent it.
    pub(crate) netmask: u32,
}

/// A virtual service.
pub(crate) struct Service {
    pub(crate) key: ServiceKey,
    pub(crate) params: ServiceParams,
    /// Destinations, the most recently added first (IPVS adds at the head of its list).
    pub(crate) dests: KVec<Arc<Dest>>,
    pub(crate) stats: Arc<Stats>,
    /// The scheduler's state (IPVS's `sched_data` under `sched_lock`), shared by the versions of
    /// the service that have the same scheduler.
    pub(crate) sched: Arc<BhSpinLock<SchedState>>,
}

/// What identifies a destination within its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestKey {
    pub(crate) af: u16,
    /// Normalised (`config_rules::normalize_addr`).
    pub(crate) addr: [u8; 16],
    pub(crate) port: u16,
}

/// The settable part of a destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestParams {
    /// Forwarding method (`IP_VS_CONN_F_FWD_MASK` bits).
    pub(crate) fwd: u32,
    pub(crate) weight: i32,
    /// The last non-zero weight (kept through quiescing, for the mh scheduler).
    pub(crate) last_weight: i32,
    pub(crate) u_threshold: u32,
    pub(crate) l_threshold: u32,
    pub(crate) tun_type: u8,
    /// Host byte order.
    pub(crate) tun_port: u16,
    pub(crate) tun_flags: u16,
}

/// The part of a destination that the packet path updates and every version of the destination
/// shares: connection counts, statistics, availability and overload (IPVS keeps these in the one
/// mutable `struct ip_vs_dest`).
pub(crate) struct DestShared {
    /// Identity for the schedulers, unique for the life of the module.
    pub(crate) id: u64,
    weight: AtomicI32,
    /// The tunnel settings (type, port, flags) for tunnelling, packed by [`pack_tunnel`] so that
    /// the packet path reads the three of one configuration.
    tunnel: AtomicU64,
    active: AtomicI32,
    total: AtomicI32,
    persistent: AtomicI32,
    pub(crate) stats: Stats,
    /// Cleared when the destination is removed from its service (`IP_VS_DEST_CF_AVAILABLE`).
    available: AtomicBool,
    overloaded: AtomicBool,
    u_threshold: AtomicU32,
    /// The lower threshold in use: `l_threshold`, or 3/4 of `u_threshold` when that is 0.
    l_threshold: AtomicU32,
}

static NEXT_DEST_ID: AtomicU64 = AtomicU64::new(1);

/// A destination's tunnel type, port (host order) and flags in one word.
fn pack_tunnel(params: &DestParams) -> u64 {
    u64::from(params.tun_type) << 32
        | u64::from(params.tun_port) << 16
        | u64::from(params.tun_flags)
}

/// `__ip_vs_dest_update_overload`: the overload flag after a change of the connection count to
/// `conns`; `mode` > 0 when a connection was bound at the upper threshold, < 0 when one was
/// unbound at the lower threshold, 0 when the thresholds changed.
pub(crate) fn overload_after(current: bool, conns: i32, upper: u32, lower: u32, mode: i32) -> bool {
    if upper == 0 {
        return false;
    }
    let conns = i64::from(conns);
    let set_at = if mode > 0 { lower } else { upper };
    if conns >= i64::from(set_at) {
        return true;
    }
    let keep_at = if mode < 0 { upper } else { lower };
    if conns >= i64::from(keep_at) {
        return current;
    }
    false
}

impl DestShared {
    /// The shared part of a new destination. Sleeps.
    pub(crate) fn new(params: &DestParams) -> Result<Self> {
        let shared = Self {
            id: NEXT_DEST_ID.fetch_add(1, Ordering::Relaxed),
            weight: AtomicI32::new(params.weight),
            tunnel: AtomicU64::new(pack_tunnel(params)),
            active: AtomicI32::new(0),
            total: AtomicI32::new(0),
            persistent: AtomicI32::new(0),
            stats: Stats::new()?,
            available: AtomicBool::new(true),
            overloaded: AtomicBool::new(false),
            u_threshold: AtomicU32::new(0),
            l_threshold: AtomicU32::new(0),
        };
        shared.set_thresholds(params.u_threshold, params.l_threshold);
        Ok(shared)
    }

    /// The current weight (connections look at it, `expire_nodest_conn` on reuse).
    pub(crate) fn weight(&self) -> i32 {
        self.weight.load(Ordering::Relaxed)
    }

    /// Takes the new settings of an edited destination (`__ip_vs_update_dest`).
    pub(crate) fn update(&self, params: &DestParams) {
        self.weight.store(params.weight, Ordering::Relaxed);
        self.tunnel.store(pack_tunnel(params), Ordering::Relaxed);
        self.set_thresholds(params.u_threshold, params.l_threshold);
    }

    /// How packets are wrapped for this real server when it is reached by tunnelling
    /// (`--tun-type`, `--tun-port`, `--tun-[no|rem]csum`).
    pub(crate) fn encap(&self) -> Encap {
        let t = self.tunnel.load(Ordering::Relaxed);
        Encap::new((t >> 32) as u8, (t >> 16) as u16, t as u16)
    }

    /// Sets the connection thresholds (`-x`, `-y`).
    fn set_thresholds(&self, upper: u32, lower: u32) {
        let lower = if lower != 0 {
            lower
        } else {
            upper - (upper >> 2)
        };
        self.u_threshold.store(upper, Ordering::Relaxed);
        self.l_threshold.store(lower, Ordering::Relaxed);
        self.update_overload(0);
    }

    fn update_overload(&self, mode: i32) {
        let new = overload_after(
            self.overloaded.load(Ordering::Relaxed),
            self.total.load(Ordering::Relaxed),
            self.u_threshold.load(Ordering::Relaxed),
            self.l_threshold.load(Ordering::Relaxed),
            mode,
        );
        self.overloaded.store(new, Ordering::Relaxed);
    }

    /// Whether the destination still belongs to its service.
    pub(crate) fn available(&self) -> bool {
        self.available.load(Ordering::Relaxed)
    }

    /// The destination left its service: its connections stop forwarding.
    pub(crate) fn set_unavailable(&self) {
        self.available.store(false, Ordering::Relaxed);
    }

    /// Whether the upper connection threshold is reached (`IP_VS_DEST_F_OVERLOAD`).
    pub(crate) fn overloaded(&self) -> bool {
        self.overloaded.load(Ordering::Relaxed)
    }

    /// A new (inactive) connection is bound (`ip_vs_bind_dest`).
    pub(crate) fn bind_conn(&self) {
        let total = self.total.fetch_add(1, Ordering::Relaxed).wrapping_add(1);
        if total as u32 == self.u_threshold.load(Ordering::Relaxed) {
            self.update_overload(1);
        }
    }

    /// A connection is unbound (`ip_vs_unbind_dest`); `active` if it counted as active.
    pub(crate) fn unbind_conn(&self, active: bool) {
        if active {
            self.active.fetch_sub(1, Ordering::Relaxed);
        }
        let before = self.total.fetch_sub(1, Ordering::Relaxed);
        if before as u32 == self.l_threshold.load(Ordering::Relaxed) {
            self.update_overload(-1);
        }
    }

    /// A persistence template is bound.
    pub(crate) fn bind_template(&self) {
        self.persistent.fetch_add(1, Ordering::Relaxed);
    }

    /// A persistence template is unbound.
    pub(crate) fn unbind_template(&self) {
        self.persistent.fetch_sub(1, Ordering::Relaxed);
    }

    /// A connection became active.
    pub(crate) fn activate(&self) {
        self.active.fetch_add(1, Ordering::Relaxed);
    }

    /// A connection became inactive.
    pub(crate) fn deactivate(&self) {
        self.active.fetch_sub(1, Ordering::Relaxed);
    }

    /// Active connections (`activeconns`).
    pub(crate) fn active_conns(&self) -> u32 {
        self.active.load(Ordering::Relaxed).max(0) as u32
    }

    /// Inactive connections as IPVS reports them: `totalconns - activeconns`, at least 0
    /// (`ip_vs_dest_inactconns`).
    pub(crate) fn inactive_conns(&self) -> u32 {
        let total = self.total.load(Ordering::Relaxed);
        let active = self.active.load(Ordering::Relaxed);
        total.saturating_sub(active).max(0) as u32
    }

    /// Persistence templates (`persistconns`).
    pub(crate) fn persistent_conns(&self) -> u32 {
        self.persistent.load(Ordering::Relaxed).max(0) as u32
    }
}

/// A destination (real server).
pub(crate) struct Dest {
    pub(crate) key: DestKey,
    pub(crate) params: DestParams,
    pub(crate) shared: Arc<DestShared>,
}

/// The services of a namespace, in the order they were added.
pub(crate) struct ServiceTable {
    pub(crate) services: KVec<Arc<Service>>,
}

/// Copies a vector of shared pointers (the `Arc`s are cloned, not their content).
fn clone_all<T>(items: &[Arc<T>], extra: usize) -> Result<KVec<Arc<T>>> {
    let mut out = KVec::with_capacity(items.len() + extra, GFP_KERNEL)?;
    for item in items {
        out.push(item.clone(), GFP_KERNEL)?;
    }
    Ok(out)
}

/// A copy of `items` with entry `index` replaced by `new`.
fn replaced<T>(items: &[Arc<T>], index: usize, new: T) -> Result<KVec<Arc<T>>> {
    let mut out = KVec::with_capacity(items.len(), GFP_KERNEL)?;
    let mut new = Some(Arc::new(new, GFP_KERNEL)?);
    for (i, item) in items.iter().enumerate() {
        let item = if i == index {
            new.take().ok_or(EINVAL)?
        } else {
            item.clone()
        };
        out.push(item, GFP_KERNEL)?;
    }
    Ok(out)
}

/// A copy of `items` without entry `index`.
fn removed<T>(items: &[Arc<T>], index: usize) -> Result<KVec<Arc<T>>> {
    let mut out = KVec::with_capacity(items.len(), GFP_KERNEL)?;
    for (i, item) in items.iter().enumerate() {
        if i != index {
            out.push(item.clone(), GFP_KERNEL)?;
        }
    }
    Ok(out)
}

impl ServiceTable {
    /// An empty table.
    pub(crate) fn new() -> Result<Arc<Self>> {
        Ok(Arc::new(
            Self {
                services: KVec::new(),
            },
            GFP_KERNEL,
        )?)
    }

    /// Finds a service by key.
    pub(crate) fn find(&self, key: &ServiceKey) -> Option<(usize, &Arc<Service>)> {
        self.services
            .iter()
            .enumerate()
            .find(|(_, s)| s.key == *key)
    }

    /// The service an IPv4 packet for `daddr:dport` (wire bytes) with firewall mark `mark` is
    /// for (`ip_vs_service_find`): a fwmark service first, then the exact address and port, then
    /// a persistent port-0 service of the address.
    pub(crate) fn find_ipv4(
        &self,
        protocol: u8,
        daddr: [u8; 4],
        dport: [u8; 2],
        mark: u32,
    ) -> Option<&Arc<Service>> {
        let mut addr = [0u8; 16];
        addr[..4].copy_from_slice(&daddr);
        let af = AF_INET;
        let tuple = |port| ServiceKey::Tuple {
            af,
            protocol: u16::from(protocol),
            addr,
            port,
        };
        let by_key = |key: ServiceKey| self.services.iter().find(|s| s.key == key);
        if mark != 0 {
            if let Some(svc) = by_key(ServiceKey::Fwmark { af, mark }) {
                return Some(svc);
            }
        }
        by_key(tuple(u16::from_be_bytes(dport)))
            .or_else(|| by_key(tuple(0)).filter(|s| s.persistent()))
    }

    /// How packets are wrapped for the real server at IPv4 `addr` reached by tunnelling with
    /// tunnel port `tun_port` (0 but for GUE) in any service (`ip_vs_find_tunnel`): what an ICMP
    /// error about a tunnelled packet is checked against.
    pub(crate) fn find_tunnel(&self, addr: [u8; 4], tun_port: u16) -> Option<Encap> {
        self.services
            .iter()
            .flat_map(|s| s.dests.iter())
            .find(|d| {
                d.key.af == AF_INET
                    && d.key.addr[..4] == addr
                    && d.params.tun_port == tun_port
                    && d.params.fwd & conn_flag::FWD_MASK == conn_flag::TUNNEL
            })
            .map(|d| Encap::new(d.params.tun_type, d.params.tun_port, d.params.tun_flags))
    }

    /// The next table: this one plus `service`.
    pub(crate) fn with_added(&self, service: Service) -> Result<Arc<Self>> {
        let mut services = clone_all(&self.services, 1)?;
        services.push(Arc::new(service, GFP_KERNEL)?, GFP_KERNEL)?;
        Ok(Arc::new(Self { services }, GFP_KERNEL)?)
    }

    /// The next table: this one with service `index` replaced.
    pub(crate) fn with_replaced(&self, index: usize, service: Service) -> Result<Arc<Self>> {
        let services = replaced(&self.services, index, service)?;
        Ok(Arc::new(Self { services }, GFP_KERNEL)?)
    }

    /// The next table: this one without service `index`.
    pub(crate) fn with_removed(&self, index: usize) -> Result<Arc<Self>> {
        let services = removed(&self.services, index)?;
        Ok(Arc::new(Self { services }, GFP_KERNEL)?)
    }
}

impl Service {
    /// A new service without destinations.
    pub(crate) fn new(key: ServiceKey, params: ServiceParams) -> Result<Self> {
        Ok(Self {
            key,
            params,
            dests: KVec::new(),
            stats: Arc::new(Stats::new()?, GFP_KERNEL)?,
            sched: new_sched_state(params.scheduler, &[])?,
        })
    }

    /// The same service (same statistics and destinations) with other parameters; a new
    /// scheduler starts from its initial state (`ip_vs_edit_service` binds it afresh).
    pub(crate) fn with_params(&self, params: ServiceParams) -> Result<Self> {
        let sched = if params.scheduler == self.params.scheduler {
            self.sched.clone()
        } else {
            new_sched_state(params.scheduler, &self.dests)?
        };
        Ok(Self {
            key: self.key,
            params,
            dests: clone_all(&self.dests, 0)?,
            stats: self.stats.clone(),
            sched,
        })
    }

    /// Finds a destination by key (`ip_vs_lookup_dest`).
    pub(crate) fn find_dest(&self, key: &DestKey) -> Option<(usize, &Arc<Dest>)> {
        self.dests.iter().enumerate().find(|(_, d)| d.key == *key)
    }

    /// The same service with `dest` added at the head of its destinations.
    pub(crate) fn with_dest_added(&self, dest: Dest) -> Result<Self> {
        let mut dests = KVec::with_capacity(self.dests.len() + 1, GFP_KERNEL)?;
        dests.push(Arc::new(dest, GFP_KERNEL)?, GFP_KERNEL)?;
        for d in self.dests.iter() {
            dests.push(d.clone(), GFP_KERNEL)?;
        }
        self.with_dests(dests)
    }

    /// The same service with destination `index` replaced by `dest`.
    pub(crate) fn with_dest_replaced(&self, index: usize, dest: Dest) -> Result<Self> {
        self.with_dests(replaced(&self.dests, index, dest)?)
    }

    /// The same service without destination `index`.
    pub(crate) fn with_dest_removed(&self, index: usize) -> Result<Self> {
        self.with_dests(removed(&self.dests, index)?)
    }

    /// The same service with other destinations. Its scheduler (shared with `self`) learns them
    /// with [`Service::reschedule`] when the new service goes live.
    fn with_dests(&self, dests: KVec<Arc<Dest>>) -> Result<Self> {
        Ok(Self {
            key: self.key,
            params: self.params,
            dests,
            stats: self.stats.clone(),
            sched: self.sched.clone(),
        })
    }

    /// Tells the scheduler the service's destinations (IPVS's `add_dest`, `del_dest` and
    /// `upd_dest` callbacks), once nothing can fail any more before they go live.
    pub(crate) fn reschedule(&self) {
        self.sched.lock().dests_changed(&self.dests);
    }

    /// Zeroes the statistics of the service and of its destinations (`ip_vs_zero_service`).
    pub(crate) fn zero_stats(&self) {
        self.stats.zero();
        for d in self.dests.iter() {
            d.shared.stats.zero();
        }
    }

    /// Picks a destination for a new connection (`ip_vs_schedule`); `None` without scheduler or
    /// when every destination is quiesced or overloaded.
    pub(crate) fn schedule(&self, flow: &mut Flow<'_>) -> Option<&Arc<Dest>> {
        self.params.scheduler?;
        let index = self.sched.lock().schedule(&self.dests, flow)?;
        self.dests.get(index)
    }

    /// The persistence timeout in seconds, as reported (`svc->timeout / HZ`).
    pub(crate) fn timeout_seconds(&self, hz: u32) -> u32 {
        self.params.timeout_ticks.checked_div(hz).unwrap_or(0)
    }

    /// Whether the service is persistent.
    pub(crate) fn persistent(&self) -> bool {
        self.params.flags & svc_flag::PERSISTENT != 0
    }
}

/// The scheduler state of a service with `scheduler` over `dests`.
fn new_sched_state(
    scheduler: Option<Scheduler>,
    dests: &[Arc<Dest>],
) -> Result<Arc<BhSpinLock<SchedState>>> {
    let state = scheduler.unwrap_or(Scheduler::RoundRobin).new_state(dests);
    Arc::pin_init(crate::new_bh_spinlock!(state, "rvs_sched"), GFP_KERNEL)
}

impl Candidate for Arc<Dest> {
    fn id(&self) -> u64 {
        self.shared.id
    }
    fn weight(&self) -> i32 {
        self.params.weight
    }
    fn active_conns(&self) -> u32 {
        self.shared.active_conns()
    }
    fn inactive_conns(&self) -> u32 {
        self.shared.inactive_conns()
    }
    fn overloaded(&self) -> bool {
        self.shared.overloaded()
    }
    fn last_weight(&self) -> i32 {
        self.params.last_weight
    }
    fn addr(&self) -> [u8; 16] {
        self.key.addr
    }
    fn port(&self) -> [u8; 2] {
        self.key.port.to_be_bytes()
    }
}

impl Dest {
    /// The inactive connection count IPVS reports (`ip_vs_dest_inactconns`).
    pub(crate) fn inactive_conns(&self) -> u32 {
        self.shared.inactive_conns()
    }

    /// The active connection count.
    pub(crate) fn active_conns(&self) -> u32 {
        self.shared.active_conns()
    }

    /// The persistence template count.
    pub(crate) fn persistent_conns(&self) -> u32 {
        self.shared.persistent_conns()
    }
}
