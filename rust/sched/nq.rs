// SPDX-License-Identifier: GPL-2.0

//! Never queue (`nq`), mirroring `net/netfilter/ipvs/ip_vs_nq.c` of Linux 6.12.
//!
//! The first destination in list order without active connections wins at once; when every
//! destination is busy, the one with the shortest expected delay `(activeconns + 1) / weight`
//! wins as in `sed` (compared as `h1 * w2 > h2 * w1` in 64 bits; on a tie the first in list order).
//! Overloaded destinations and those of weight 0 are skipped; like `lc`, `nq` tests the weight for
//! 0 only, so a negative weight, which IPVS's configuration refuses anyway, is not skipped. `nq`
//! keeps no state.

#![deny(unsafe_code)]

use super::{Algorithm, Candidate, Flow};

/// The expected overhead of one more connection (`ip_vs_nq_dest_overhead`): the C `int`
/// `activeconns + 1`, wrapping as the kernel's `-fno-strict-overflow` lets it.
fn overhead<C: Candidate>(dest: &C) -> i32 {
    // `as` reinterprets the count as the C `atomic_t` int it is in IPVS.
    (dest.active_conns() as i32).wrapping_add(1)
}

/// Picks an idle destination, or else the one with the shortest expected delay
/// (`ip_vs_nq_schedule`); `None` if every destination is overloaded or of weight 0.
pub(crate) fn schedule<C: Candidate>(dests: &[C]) -> Option<usize> {
    // (index, overhead, weight) of the least loaded destination so far.
    let mut least: Option<(usize, i32, i32)> = None;
    for (i, dest) in dests.iter().enumerate() {
        if dest.overloaded() || dest.weight() == 0 {
            continue;
        }
        // An idle destination is returned directly, whatever its weight.
        if dest.active_conns() == 0 {
            return Some(i);
        }
        let doh = overhead(dest);
        // Products of two `int`s in `__s64`, as in the C: they cannot overflow (so wrapping_mul
        // never wraps).
        match least {
            Some((_, loh, lw))
                if i64::from(loh).wrapping_mul(i64::from(dest.weight()))
                    <= i64::from(doh).wrapping_mul(i64::from(lw)) => {}
            _ => least = Some((i, doh, dest.weight())),
        }
    }
    least.map(|(i, _, _)| i)
}

/// Never queue: stateless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct NeverQueue;

impl Algorithm for NeverQueue {
    const NAME: &'static str = "nq";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        NeverQueue
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], _flow: &mut Flow<'_>) -> Option<usize> {
        schedule(dests)
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences come from a host C harness (`harness2.c`) that compiles
    //! `ip_vs_nq.c` of Linux 6.12.117 verbatim (only its `#include` lines removed, built with
    //! `gcc -O2 -fwrapv`) over the kernel's list primitives, with the same scripts as below; its
    //! output is pasted as is: the index chosen in list order (0 = list head), `-` for none.
    //! `put(id, weight, active, inactive, overloaded)` links a destination at the head, so the
    //! last one put is index 0. Each choice adds the connection given to `sched`.

    use super::super::testing::{Conn, World};
    use super::super::Scheduler;

    fn world() -> World {
        World::new(Scheduler::NeverQueue)
    }

    #[test]
    fn the_first_idle_destination_wins() {
        // [0: w1 2 active, 1: w3 idle, 2: w5 idle]: 1 before the heavier 2.
        let mut w = world();
        w.put(3, 5, 0, 0, false);
        w.put(2, 3, 0, 0, false);
        w.put(1, 1, 2, 0, false);
        w.start();
        assert_eq!(w.sched(6, Conn::Active), "1 2 2 2 1 2");
    }

    #[test]
    fn busy_destinations_by_expected_delay() {
        // [0: w3, 1: w2, 2: w1], one active connection each.
        let mut w = world();
        w.put(1, 1, 1, 0, false);
        w.put(2, 2, 1, 0, false);
        w.put(3, 3, 1, 0, false);
        w.start();
        assert_eq!(w.sched(12, Conn::Active), "0 0 1 0 1 0 0 1 2 0 1 0");
    }

    #[test]
    fn skips_quiesced_and_overloaded() {
        // [0: w9 overloaded, 1: w0 idle, 2: w1 1 active].
        let mut w = world();
        w.put(4, 1, 1, 0, false);
        w.put(3, 0, 0, 0, false);
        w.put(2, 9, 0, 0, true);
        w.start();
        assert_eq!(w.sched(3, Conn::Active), "2 2 2");
    }

    #[test]
    fn only_weight_zero_is_quiesced() {
        // [0: w-1 1 active, 1: w1 1 active]: 2 * 1 > 2 * -1, so 1 takes over.
        let mut w = world();
        w.put(2, 1, 1, 0, false);
        w.put(1, -1, 1, 0, false);
        w.start();
        assert_eq!(w.sched(2, Conn::Active), "1 1");
        // An idle destination of negative weight is returned directly.
        let mut w = world();
        w.put(2, 1, 1, 0, false);
        w.put(1, -1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(2, Conn::None), "0 0");
    }

    #[test]
    fn none_available() {
        let mut w = world();
        w.put(2, 0, 0, 0, false);
        w.put(1, 1, 0, 0, true);
        w.start();
        assert_eq!(w.sched(2, Conn::Active), "- -");
        let mut w = world();
        w.start();
        assert_eq!(w.sched(1, Conn::Active), "-");
    }
}
