// SPDX-License-Identifier: GPL-2.0

//! Virtual services and their destinations (real servers), and the per-namespace table of
//! services that the control plane publishes as a whole under RCU.
//!
//! A published [`ServiceTable`] is immutable: every configuration change builds the next table
//! (sharing the unchanged services and destinations, and the statistics and counters of the changed
//! ones) and publishes it at once, so that a reader sees one consistent configuration.

#![deny(unsafe_code)]

use crate::{rules, sched::Scheduler, stats::Stats};
use core::sync::atomic::AtomicU32;
use kernel::{prelude::*, sync::Arc};

/// What identifies a service: its address tuple, or its firewall mark.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ServiceKey {
    /// `(af, protocol, address, port)`; the address is normalised (`rules::normalize_addr`).
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
}

/// What identifies a destination within its service.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestKey {
    pub(crate) af: u16,
    /// Normalised (`rules::normalize_addr`).
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

/// Connection counts of a destination, shared by every version of it.
#[derive(Default)]
pub(crate) struct DestCounters {
    pub(crate) active: AtomicU32,
    pub(crate) inactive: AtomicU32,
    pub(crate) persistent: AtomicU32,
    pub(crate) stats: Stats,
}

/// A destination (real server).
pub(crate) struct Dest {
    pub(crate) key: DestKey,
    pub(crate) params: DestParams,
    pub(crate) counters: Arc<DestCounters>,
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
            stats: Arc::new(Stats::default(), GFP_KERNEL)?,
        })
    }

    /// The same service (same statistics and destinations) with other parameters.
    pub(crate) fn with_params(&self, params: ServiceParams) -> Result<Self> {
        Ok(Self {
            key: self.key,
            params,
            dests: clone_all(&self.dests, 0)?,
            stats: self.stats.clone(),
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

    fn with_dests(&self, dests: KVec<Arc<Dest>>) -> Result<Self> {
        Ok(Self {
            key: self.key,
            params: self.params,
            dests,
            stats: self.stats.clone(),
        })
    }

    /// Zeroes the statistics of the service and of its destinations (`ip_vs_zero_service`).
    pub(crate) fn zero_stats(&self) {
        self.stats.zero();
        for d in self.dests.iter() {
            d.counters.stats.zero();
        }
    }

    /// The persistence timeout in seconds, as reported (`svc->timeout / HZ`).
    pub(crate) fn timeout_seconds(&self, hz: u32) -> u32 {
        self.params.timeout_ticks.checked_div(hz).unwrap_or(0)
    }

    /// Whether the service is persistent.
    pub(crate) fn persistent(&self) -> bool {
        self.params.flags & rules::SVC_F_PERSISTENT != 0
    }
}

impl Dest {
    /// The inactive connection count IPVS reports (`ip_vs_dest_inactconns`).
    pub(crate) fn inactive_conns(&self) -> u32 {
        self.counters
            .inactive
            .load(core::sync::atomic::Ordering::Relaxed)
    }

    /// The active connection count.
    pub(crate) fn active_conns(&self) -> u32 {
        self.counters
            .active
            .load(core::sync::atomic::Ordering::Relaxed)
    }

    /// The persistence template count.
    pub(crate) fn persistent_conns(&self) -> u32 {
        self.counters
            .persistent
            .load(core::sync::atomic::Ordering::Relaxed)
    }
}
