// SPDX-License-Identifier: GPL-2.0

//! Destinations removed from their service while connections may still use them (IPVS's dest
//! trash, `ip_vs_trash_get_dest` and `ip_vs_dest_trash_expire`).
//!
//! A real server that leaves a service and comes back (keepalived stopping and starting, a
//! health check failing and recovering, `ipvsadm -C` and `-R`) gets its old destination back:
//! the connections still bound to it forward again, with their counters and statistics. That is
//! what lets a director that handed its services over in a failover take them back without
//! dropping the connections it still knows.

#![deny(unsafe_code)]

use crate::{
    ffi::{sync::BhSpinLock, timer},
    service::{DestKey, DestShared, ServiceKey},
};
use kernel::{prelude::*, sync::Arc};

/// How long a destination that no connection uses stays revivable (`IP_VS_DEST_TRASH_PERIOD`).
pub(crate) const PERIOD_SECS: u32 = 120;
/// How often the trash is looked through: half the period, as IPVS's timer.
pub(crate) const CHECK_SECS: u32 = PERIOD_SECS / 2;

struct Trashed {
    /// The service it belonged to: a destination comes back only to the same service (by
    /// address and port, or firewall mark, and protocol).
    svc: ServiceKey,
    key: DestKey,
    shared: Arc<DestShared>,
    /// When it was first seen unused (`idle_start`), 0 while in use.
    idle_since: u64,
}

/// The trash of a namespace. Its slots are reused, so it holds at most as many destinations
/// as were ever retired between two checks and not yet revived or freed.
pub(crate) struct DestTrash {
    slots: Pin<KBox<BhSpinLock<KVec<Option<Trashed>>>>>,
}

impl DestTrash {
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            slots: KBox::pin_init(
                crate::new_bh_spinlock!(KVec::new(), "rvs_dest_trash"),
                GFP_KERNEL,
            )?,
        })
    }

    /// Keeps `shared`, which left service `svc`, for its connections and a possible return.
    /// Without memory for it, it is not kept: its connections stay unavailable until they expire,
    /// and a return makes a new destination.
    pub(crate) fn put(&self, svc: &ServiceKey, key: &DestKey, shared: Arc<DestShared>) {
        let entry = Trashed {
            svc: *svc,
            key: *key,
            shared,
            idle_since: 0,
        };
        let mut slots = self.slots.lock();
        match slots.iter_mut().find(|s| s.is_none()) {
            Some(free) => *free = Some(entry),
            None => {
                let _ = slots.push(Some(entry), GFP_ATOMIC);
            }
        }
    }

    /// Takes back the destination `key` of service `svc`, if the trash has it.
    pub(crate) fn take(&self, svc: &ServiceKey, key: &DestKey) -> Option<Arc<DestShared>> {
        let mut slots = self.slots.lock();
        let slot = slots
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|t| t.svc == *svc && t.key == *key))?;
        slot.take().map(|t| t.shared)
    }

    /// Frees the destinations that no connection or template has used for [`PERIOD_SECS`];
    /// called every [`CHECK_SECS`], in softirq context.
    pub(crate) fn expire(&self) {
        let now = timer::jiffies();
        let period = u64::from(PERIOD_SECS) * u64::from(timer::hz());
        // Dropped after the lock: the last reference frees the destination's route and stats.
        let mut freed = KVec::<Arc<DestShared>>::new();
        let mut slots = self.slots.lock();
        for slot in slots.iter_mut() {
            let Some(t) = slot.as_mut() else { continue };
            let s = &t.shared;
            if s.active_conns() + s.inactive_conns() + s.persistent_conns() != 0 {
                t.idle_since = 0;
                continue;
            }
            if t.idle_since == 0 {
                t.idle_since = now.max(1);
                continue;
            }
            if now.wrapping_sub(t.idle_since) < period {
                continue;
            }
            if freed.reserve(1, GFP_ATOMIC).is_err() {
                break;
            }
            if let Some(t) = slot.take() {
                let _ = freed.push(t.shared, GFP_ATOMIC);
            }
        }
        drop(slots);
        drop(freed);
    }
}
