// SPDX-License-Identifier: GPL-2.0

//! IPVS's rate estimator, mirroring the arithmetic of `net/netfilter/ipvs/ip_vs_est.c`
//! (`ip_vs_chain_estimation`, `ip_vs_read_estimator`, `ip_vs_zero_estimator`).
//!
//! Every 2 seconds the estimator sees the cumulative counters of a service, a real server or the
//! totals, and folds the rate of the last 2 seconds into an exponentially weighted average:
//! `avg += (rate - avg) / 4`. Averages are kept scaled: connections and packets per second by
//! 2^10, bytes per second by 2^5. Dividing by the 2 s interval is folded into the scale, hence
//! `delta << 9` and `delta << 4`.
//!
//! The C does the update in `u64` with `s64` casts (`avg += ((s64)rate - (s64)avg) >> 2`); the
//! results here are bit-identical, with two's complement wrapping made explicit because the
//! kernel's Rust panics on overflow.
//!
//! Only the math lives here; who calls [`Estimator::update`] every 2 seconds (IPVS: kthreads
//! walking chains of estimators) and the locking around it are the caller's.

#![deny(unsafe_code)]

/// Index of the connection counter in the `[u64; 5]` arrays.
pub(crate) const CONNS: usize = 0;
/// Index of the incoming packet counter.
pub(crate) const INPKTS: usize = 1;
/// Index of the outgoing packet counter.
pub(crate) const OUTPKTS: usize = 2;
/// Index of the incoming byte counter.
pub(crate) const INBYTES: usize = 3;
/// Index of the outgoing byte counter.
pub(crate) const OUTBYTES: usize = 4;

/// The state of one estimator (`struct ip_vs_estimator`, without the kthread bookkeeping).
///
/// A zeroed estimator ([`Estimator::new`]) is what IPVS starts with: its stats are allocated
/// zeroed, so the first update sees the counters' whole value as the first interval's delta.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Estimator {
    /// The counters at the previous update: conns, inpkts, outpkts, inbytes, outbytes
    /// (`last_conns` .. `last_outbytes`).
    pub(crate) last: [u64; 5],
    /// Connections per second, scaled by 2^10.
    pub(crate) cps: u64,
    /// Incoming packets per second, scaled by 2^10.
    pub(crate) inpps: u64,
    /// Outgoing packets per second, scaled by 2^10.
    pub(crate) outpps: u64,
    /// Incoming bytes per second, scaled by 2^5.
    pub(crate) inbps: u64,
    /// Outgoing bytes per second, scaled by 2^5.
    pub(crate) outbps: u64,
}

/// One EWMA step with weight 1/4, exactly `avg += ((s64)rate - (s64)avg) >> 2`.
///
/// The subtraction is signed and the shift arithmetic (rounding toward minus infinity), so a
/// falling rate decays the average by `ceil(gap / 4)` and reaches 0, while a rising one gains
/// `floor(gap / 4)` and stalls up to 3 below the target. Wrapping mirrors what the C compiles to
/// for deltas too large for `s64` (2^54 packets in 2 s: unreachable in practice).
#[inline]
fn ewma(avg: u64, rate: u64) -> u64 {
    let step = (rate as i64).wrapping_sub(avg as i64) >> 2;
    avg.wrapping_add(step as u64)
}

impl Estimator {
    /// A zeroed estimator: no previous counters, all rates 0.
    pub(crate) const fn new() -> Self {
        Self {
            last: [0; 5],
            cps: 0,
            inpps: 0,
            outpps: 0,
            inbps: 0,
            outbps: 0,
        }
    }

    /// Folds in the cumulative counters `now` (conns, inpkts, outpkts, inbytes, outbytes),
    /// taken 2 seconds after the previous update (`ip_vs_chain_estimation`).
    ///
    /// Deltas are `u64` wrapping differences, as in C, so a counter that wrapped around 2^64
    /// still gives the right delta.
    pub(crate) fn update(&mut self, now: [u64; 5]) {
        let [conns, inpkts, outpkts, inbytes, outbytes] = now;
        let [l_conns, l_inpkts, l_outpkts, l_inbytes, l_outbytes] = self.last;
        // Scaled by 2^10 but divided by the 2 s interval: << 9. Bits shifted out are lost as in
        // C (Rust's `<<` only panics on an oversized shift amount, never on lost bits).
        self.cps = ewma(self.cps, conns.wrapping_sub(l_conns) << 9);
        self.inpps = ewma(self.inpps, inpkts.wrapping_sub(l_inpkts) << 9);
        self.outpps = ewma(self.outpps, outpkts.wrapping_sub(l_outpkts) << 9);
        // Scaled by 2^5, divided by 2 s: << 4.
        self.inbps = ewma(self.inbps, inbytes.wrapping_sub(l_inbytes) << 4);
        self.outbps = ewma(self.outbps, outbytes.wrapping_sub(l_outbytes) << 4);
        self.last = now;
    }

    /// The rates per second as IPVS reports them (`ip_vs_read_estimator`): cps, inpps, outpps,
    /// inbps, outbps, each unscaled with rounding to nearest (`+ 0x1FF >> 10`, `+ 0xF >> 5`).
    ///
    /// These are the 64-bit netlink values; the old sockopt interface and `/proc/net/ip_vs_stats`
    /// truncate them to 32 bits, which is the caller's business.
    pub(crate) fn rates(&self) -> [u64; 5] {
        // wrapping_add: the C adds in u64 and would wrap for an average within 0x1FF of 2^64.
        [
            self.cps.wrapping_add(0x1FF) >> 10,
            self.inpps.wrapping_add(0x1FF) >> 10,
            self.outpps.wrapping_add(0x1FF) >> 10,
            self.inbps.wrapping_add(0xF) >> 5,
            self.outbps.wrapping_add(0xF) >> 5,
        ]
    }

    /// Zeroes the estimator for `ipvsadm --zero` (`ip_vs_zero_estimator`): the current counters
    /// `now` become the baseline, so the next update measures only what comes after, and the
    /// averages restart from 0.
    pub(crate) fn reset(&mut self, now: [u64; 5]) {
        *self = Self {
            last: now,
            ..Self::new()
        };
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences were produced by a host C program (gcc 12, x86-64) running the
    //! statements of Linux 6.12's `ip_vs_chain_estimation` and `ip_vs_read_estimator` verbatim
    //! on `u64`/`s64` variables.

    use super::*;

    /// (tick, inpps avg, inpps rate, inbps avg, inbps rate) for a stream of 1000 packets/s of
    /// 1500 bytes during ticks 1..=40, then silence for ticks 41..=52.
    const STREAM: &[(u64, u64, u64, u64, u64)] = &[
        (1, 256000, 250, 12000000, 375000),
        (2, 448000, 437, 21000000, 656250),
        (3, 592000, 578, 27750000, 867187),
        (4, 700000, 684, 32812500, 1025391),
        (5, 781000, 763, 36609375, 1144043),
        (6, 841750, 822, 39457031, 1233032),
        (7, 887312, 867, 41592773, 1299774),
        (8, 921484, 900, 43194579, 1349831),
        (9, 947113, 925, 44395934, 1387373),
        (10, 966334, 944, 45296950, 1415530),
        (11, 980750, 958, 45972712, 1436647),
        (12, 991562, 968, 46479534, 1452485),
        (13, 999671, 976, 46859650, 1464364),
        (14, 1005753, 982, 47144737, 1473273),
        (15, 1010314, 987, 47358552, 1479955),
        (16, 1013735, 990, 47518914, 1484966),
        (17, 1016301, 992, 47639185, 1488725),
        (18, 1018225, 994, 47729388, 1491543),
        (19, 1019668, 996, 47797041, 1493658),
        (20, 1020751, 997, 47847780, 1495243),
        (21, 1021563, 998, 47885835, 1496432),
        (22, 1022172, 998, 47914376, 1497324),
        (23, 1022629, 999, 47935782, 1497993),
        (24, 1022971, 999, 47951836, 1498495),
        (25, 1023228, 999, 47963877, 1498871),
        (26, 1023421, 999, 47972907, 1499153),
        (27, 1023565, 1000, 47979680, 1499365),
        (28, 1023673, 1000, 47984760, 1499524),
        (29, 1023754, 1000, 47988570, 1499643),
        (30, 1023815, 1000, 47991427, 1499732),
        (31, 1023861, 1000, 47993570, 1499799),
        (32, 1023895, 1000, 47995177, 1499849),
        (33, 1023921, 1000, 47996382, 1499887),
        (34, 1023940, 1000, 47997286, 1499915),
        (35, 1023955, 1000, 47997964, 1499936),
        (36, 1023966, 1000, 47998473, 1499952),
        (37, 1023974, 1000, 47998854, 1499964),
        (38, 1023980, 1000, 47999140, 1499973),
        (39, 1023985, 1000, 47999355, 1499980),
        (40, 1023988, 1000, 47999516, 1499985),
        (41, 767991, 750, 35999637, 1124989),
        (42, 575993, 562, 26999727, 843741),
        (43, 431994, 422, 20249795, 632806),
        (44, 323995, 316, 15187346, 474605),
        (45, 242996, 237, 11390509, 355953),
        (46, 182247, 178, 8542881, 266965),
        (47, 136685, 133, 6407160, 200224),
        (48, 102513, 100, 4805370, 150168),
        (49, 76884, 75, 3604027, 112626),
        (50, 57663, 56, 2703020, 84469),
        (51, 43247, 42, 2027265, 63352),
        (52, 32435, 32, 1520448, 47514),
    ];

    #[test]
    fn stream_matches_c_step_by_step() {
        let mut e = Estimator::new();
        let (mut pkts, mut bytes) = (0u64, 0u64);
        for &(tick, pps_avg, pps, bps_avg, bps) in STREAM {
            if tick <= 40 {
                pkts += 2000;
                bytes += 3_000_000;
            }
            // Same traffic in both directions and 1 conn/s, to check every lane.
            e.update([tick.min(40) * 2, pkts, pkts, bytes, bytes]);
            assert_eq!((e.inpps, e.outpps), (pps_avg, pps_avg), "tick {tick}");
            assert_eq!((e.inbps, e.outbps), (bps_avg, bps_avg), "tick {tick}");
            let r = e.rates();
            assert_eq!(
                [r[INPKTS], r[OUTPKTS], r[INBYTES], r[OUTBYTES]],
                [pps, pps, bps, bps]
            );
        }
    }

    #[test]
    fn constant_rate_converges_and_stalls_just_below() {
        let mut e = Estimator::new();
        let mut tick = 0u64;
        let mut first_exact = None;
        while tick < 80 {
            tick += 1;
            e.update([tick * 2, tick * 2000, 0, tick * 3_000_000, 0]);
            let r = e.rates();
            if first_exact.is_none() && r[INPKTS] == 1000 {
                first_exact = Some(tick);
            }
            if tick >= 27 {
                assert_eq!(r[INPKTS], 1000, "tick {tick}");
            }
            if tick >= 53 {
                assert_eq!(r[INBYTES], 1_500_000, "tick {tick}");
            }
        }
        assert_eq!(first_exact, Some(27));
        // The rising average gains floor(gap / 4): it stops 3 short of the target.
        assert_eq!(e.inpps, (1000 << 10) - 3);
        assert_eq!(e.inbps, (1_500_000 << 5) - 3);
        assert_eq!(e.cps, (1 << 10) - 3);
        assert_eq!(e.rates()[CONNS], 1);
        assert_eq!(e.rates()[OUTPKTS], 0);
    }

    #[test]
    fn silence_decays_to_exactly_zero() {
        let mut e = Estimator::new();
        e.update([10, 1000, 1000, 100_000, 100_000]);
        for _ in 0..200 {
            e.update([10, 1000, 1000, 100_000, 100_000]);
        }
        // A falling average loses ceil(gap / 4), so it does reach 0.
        assert_eq!(
            e,
            Estimator {
                last: e.last,
                ..Estimator::new()
            }
        );
        assert_eq!(e.rates(), [0; 5]);
    }

    #[test]
    fn reset_takes_current_counters_as_baseline() {
        let mut e = Estimator::new();
        for t in 1..=10u64 {
            e.update([t, t * 100, t * 50, t * 10_000, t * 5_000]);
        }
        assert_ne!(e.rates(), [0; 5]);
        let now = [1_000_000, 2_000_000, 3_000_000, 4_000_000, 5_000_000];
        e.reset(now);
        assert_eq!(e.last, now);
        assert_eq!([e.cps, e.inpps, e.outpps, e.inbps, e.outbps], [0; 5]);
        // Without the baseline, this update would count the whole counters as one interval.
        e.update(now);
        assert_eq!(e.rates(), [0; 5]);
        e.update([1_000_002, 2_000_000, 3_000_000, 4_000_000, 5_000_000]);
        assert_eq!(e.cps, 256);
        assert_eq!(e.rates()[CONNS], 0); // (256 + 511) >> 10
    }

    #[test]
    fn counter_wrap_and_huge_deltas_match_c() {
        // Counters that wrapped around 2^64 between two updates: the u64 difference is right.
        let mut e = Estimator::new();
        e.last = [0, u64::MAX - 999, 0, u64::MAX - 99, 0];
        e.update([0, 1000, 0, 100, 0]);
        assert_eq!((e.inpps, e.inbps), (256000, 800));

        // Deltas whose scaled rate exceeds i64::MAX: the C's s64 cast makes them negative; the
        // values are the C program's output (it was built with -fwrapv).
        let mut h = Estimator::new();
        h.update([0, 1 << 54, 0, 1 << 59, 0]);
        assert_eq!(
            (h.inpps, h.inbps),
            (16140901064495857664, 16140901064495857664)
        );
        h.update([0, 1 << 54, 0, 1 << 59, 0]);
        assert_eq!(
            (h.inpps, h.inbps),
            (16717361816799281152, 16717361816799281152)
        );
        // And the readout of such values does not panic either.
        let _ = h.rates();
        let top = Estimator {
            cps: u64::MAX,
            inbps: u64::MAX,
            ..Estimator::new()
        };
        // (2^64 - 1 + 0x1FF) mod 2^64 = 0x1FE, (2^64 - 1 + 0xF) mod 2^64 = 0xE: both read 0.
        assert_eq!(top.rates(), [0; 5]);
    }
}
