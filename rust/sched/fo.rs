// SPDX-License-Identifier: GPL-2.0

//! Weighted failover (`fo`), mirroring `net/netfilter/ipvs/ip_vs_fo.c` of Linux 6.12.
//!
//! Every new connection goes to the destination of the highest weight that is not overloaded; on
//! a tie the first in list order wins. Destinations of weight 0 or below are never chosen. `fo`
//! keeps no state and ignores the connection counts.

#![deny(unsafe_code)]

use super::{Algorithm, Candidate, Flow};

/// Picks the first destination of the highest positive weight that is not overloaded
/// (`ip_vs_fo_schedule`), or `None` if there is none.
pub(crate) fn schedule<C: Candidate>(dests: &[C]) -> Option<usize> {
    // (index, weight) of the heaviest destination so far; IPVS starts `hw` at 0, so only a
    // positive weight can win and only a strictly higher one replaces it.
    let mut heaviest: Option<usize> = None;
    let mut hw = 0;
    for (i, dest) in dests.iter().enumerate() {
        if !dest.overloaded() && dest.weight() > hw {
            heaviest = Some(i);
            hw = dest.weight();
        }
    }
    heaviest
}

/// Weighted failover: stateless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WeightedFailover;

impl Algorithm for WeightedFailover {
    const NAME: &'static str = "fo";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        WeightedFailover
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], _flow: &mut Flow<'_>) -> Option<usize> {
        schedule(dests)
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences come from a host C harness (`harness2.c`) that compiles
    //! `ip_vs_fo.c` of Linux 6.12.117 verbatim (only its `#include` lines removed, built with
    //! `gcc -O2 -fwrapv`) over the kernel's list primitives, with the same scripts as below; its
    //! output is pasted as is: the index chosen in list order (0 = list head), `-` for none.
    //! `put(id, weight, active, inactive, overloaded)` links a destination at the head, so the
    //! last one put is index 0. Each choice adds the connection given to `sched`.

    use super::super::testing::{Conn, World};
    use super::super::Scheduler;

    #[test]
    fn highest_weight_then_failover() {
        // [0: w1, 1: w3 5 active, 2: w2, 3: w3].
        let mut w = World::new(Scheduler::WeightedFailover);
        w.put(4, 3, 0, 0, false);
        w.put(3, 2, 0, 0, false);
        w.put(2, 3, 5, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        // The first of the two of weight 3, however loaded.
        assert_eq!(w.sched(3, Conn::Active), "1 1 1");
        // Overloaded: the other of weight 3.
        w.ovl(2, true);
        assert_eq!(w.sched(2, Conn::Active), "3 3");
        // Both heavy ones down, the weight 2 one made negative: the weight 1 one.
        w.ovl(4, true);
        w.upd(3, -4, false);
        assert_eq!(w.sched(2, Conn::Active), "0 0");
        w.upd(1, 0, false);
        assert_eq!(w.sched(1, Conn::Active), "-");
    }

    #[test]
    fn empty_list() {
        let mut w = World::new(Scheduler::WeightedFailover);
        w.start();
        assert_eq!(w.sched(1, Conn::Active), "-");
    }
}
