// SPDX-License-Identifier: GPL-2.0

//! The rvs state of one network namespace.
//!
//! IPVS keeps its services, timeouts and sysctls per namespace (`struct netns_ipvs`); so does rvs.
//! The state is created by the pernet `init` of each namespace and dropped by its `exit`.

#![deny(unsafe_code)]

use crate::timeouts::{self, Timeouts};
use core::sync::atomic::{AtomicU32, Ordering};
use kernel::prelude::*;

/// Per-namespace state.
pub(crate) struct NetState {
    // Atomics rather than a lock: the packet path will read them in softirq context.
    timeout_tcp: AtomicU32,
    timeout_tcp_fin: AtomicU32,
    timeout_udp: AtomicU32,
}

impl NetState {
    /// Creates the state of a new namespace.
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            timeout_tcp: AtomicU32::new(timeouts::DEFAULT.tcp),
            timeout_tcp_fin: AtomicU32::new(timeouts::DEFAULT.tcp_fin),
            timeout_udp: AtomicU32::new(timeouts::DEFAULT.udp),
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
