// SPDX-License-Identifier: GPL-2.0

//! Traffic statistics of a service, a destination or a whole namespace.
//!
//! Counters only grow; `ZERO` (ipvsadm -Z) moves a baseline instead of clearing them, as IPVS's
//! `kstats0` does, so that a reader never sees a counter go backwards in the middle of an update.
//! The rates (per second) come with the rate estimator of the data plane; until then they are 0.

#![deny(unsafe_code)]

use core::sync::atomic::{AtomicU64, Ordering};

/// The ten values of an IPVS statistics nest (`struct ip_vs_kstats`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Snapshot {
    pub(crate) conns: u64,
    pub(crate) inpkts: u64,
    pub(crate) outpkts: u64,
    pub(crate) inbytes: u64,
    pub(crate) outbytes: u64,
    pub(crate) cps: u64,
    pub(crate) inpps: u64,
    pub(crate) outpps: u64,
    pub(crate) inbps: u64,
    pub(crate) outbps: u64,
}

/// Live counters and the baseline of the last `ZERO`.
#[derive(Default)]
pub(crate) struct Stats {
    conns: AtomicU64,
    inpkts: AtomicU64,
    outpkts: AtomicU64,
    inbytes: AtomicU64,
    outbytes: AtomicU64,
    base: [AtomicU64; 5],
}

impl Stats {
    fn counters(&self) -> [&AtomicU64; 5] {
        [
            &self.conns,
            &self.inpkts,
            &self.outpkts,
            &self.inbytes,
            &self.outbytes,
        ]
    }

    /// Returns the counters since the last `ZERO`.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let mut v = [0u64; 5];
        for (i, counter) in self.counters().iter().enumerate() {
            v[i] = counter
                .load(Ordering::Relaxed)
                .wrapping_sub(self.base[i].load(Ordering::Relaxed));
        }
        Snapshot {
            conns: v[0],
            inpkts: v[1],
            outpkts: v[2],
            inbytes: v[3],
            outbytes: v[4],
            ..Snapshot::default()
        }
    }

    /// Restarts the counters from zero (`ip_vs_zero_stats`).
    pub(crate) fn zero(&self) {
        for (i, counter) in self.counters().iter().enumerate() {
            self.base[i].store(counter.load(Ordering::Relaxed), Ordering::Relaxed);
        }
    }
}
