// SPDX-License-Identifier: GPL-2.0

//! Traffic statistics of a service, a destination or a whole namespace.
//!
//! The packet path adds to per-CPU counters (IPVS's `struct ip_vs_cpu_stats`); readers sum them.
//! Counters only grow; `ZERO` (ipvsadm -Z) moves a baseline instead of clearing them, as IPVS's
//! `kstats0` does, so that a reader never sees a counter go backwards in the middle of an update.
//! Rates come from IPVS's estimator ([`crate::estimator`]), run every 2 s by the namespace's timer.

#![deny(unsafe_code)]

use crate::{
    estimator::{self, Estimator},
    ffi::percpu::PerCpu,
};
use core::sync::atomic::{AtomicU64, Ordering};
use kernel::prelude::*;

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

type Counters = [AtomicU64; 5];

fn load(values: &Counters) -> [u64; 5] {
    values.each_ref().map(|v| v.load(Ordering::Relaxed))
}

fn store(into: &Counters, values: [u64; 5]) {
    for (slot, value) in into.iter().zip(values) {
        slot.store(value, Ordering::Relaxed);
    }
}

/// Live counters, the baseline of the last `ZERO` and the estimator's state.
pub(crate) struct Stats {
    per_cpu: PerCpu<Counters>,
    base: Counters,
    // The estimator is run by one timer per namespace, so its state needs no lock; atomics make
    // the concurrent reads of `snapshot` well defined.
    est_last: Counters,
    est_avg: Counters,
}

impl Stats {
    /// Zeroed statistics. Sleeps (per-CPU allocation).
    pub(crate) fn new() -> Result<Self> {
        Ok(Self {
            per_cpu: PerCpu::new()?,
            base: Default::default(),
            est_last: Default::default(),
            est_avg: Default::default(),
        })
    }

    /// Counts a new connection (the second addition, of nothing, saves a helper for one).
    pub(crate) fn count_conn(&self) {
        self.per_cpu
            .add2((estimator::CONNS, 1), (estimator::CONNS, 0));
    }

    /// Counts a packet of `bytes` from client to server.
    pub(crate) fn count_in(&self, bytes: u32) {
        self.per_cpu.add2(
            (estimator::INPKTS, 1),
            (estimator::INBYTES, u64::from(bytes)),
        );
    }

    /// Counts a packet of `bytes` from server to client.
    pub(crate) fn count_out(&self, bytes: u32) {
        self.per_cpu.add2(
            (estimator::OUTPKTS, 1),
            (estimator::OUTBYTES, u64::from(bytes)),
        );
    }

    /// The sums over all CPUs since the counters were created.
    fn totals(&self) -> [u64; 5] {
        let mut sum = [0u64; 5];
        self.per_cpu.for_each(|cpu| {
            for (s, c) in sum.iter_mut().zip(cpu.iter()) {
                *s = s.wrapping_add(c.load(Ordering::Relaxed));
            }
        });
        sum
    }

    fn estimator(&self) -> Estimator {
        let avg = load(&self.est_avg);
        let mut est = Estimator::new();
        est.last = load(&self.est_last);
        est.cps = avg[0];
        est.inpps = avg[1];
        est.outpps = avg[2];
        est.inbps = avg[3];
        est.outbps = avg[4];
        est
    }

    fn save_estimator(&self, est: &Estimator) {
        store(&self.est_last, est.last);
        store(
            &self.est_avg,
            [est.cps, est.inpps, est.outpps, est.inbps, est.outbps],
        );
    }

    /// Feeds the estimator (every 2 s, `estimation_kthread`).
    pub(crate) fn estimate(&self) {
        let mut est = self.estimator();
        est.update(self.totals());
        self.save_estimator(&est);
    }

    /// Returns the counters since the last `ZERO` and the rates.
    pub(crate) fn snapshot(&self) -> Snapshot {
        let totals = self.totals();
        let base = load(&self.base);
        let v: [u64; 5] = core::array::from_fn(|i| totals[i].wrapping_sub(base[i]));
        let rates = self.estimator().rates();
        Snapshot {
            conns: v[0],
            inpkts: v[1],
            outpkts: v[2],
            inbytes: v[3],
            outbytes: v[4],
            cps: rates[0],
            inpps: rates[1],
            outpps: rates[2],
            inbps: rates[3],
            outbps: rates[4],
        }
    }

    /// Restarts the counters and rates from zero (`ip_vs_zero_stats`).
    pub(crate) fn zero(&self) {
        let totals = self.totals();
        store(&self.base, totals);
        let mut est = self.estimator();
        est.reset(totals);
        self.save_estimator(&est);
    }
}
