// SPDX-License-Identifier: GPL-2.0

//! Weighted overflow (`ovf`), mirroring `net/netfilter/ipvs/ip_vs_ovf.c` of Linux 6.12.
//!
//! A new connection goes to the destination of the highest weight among those whose active
//! connections do not exceed their weight; on a tie the first in list order wins. Note the C's
//! test, `activeconns > weight`: a destination of weight `w` still takes a connection with `w`
//! active ones, so it fills up to `w + 1` before the next one takes over. Overloaded destinations
//! and those of weight 0 are skipped; a negative weight is skipped by the count test (an active
//! count is at least 0, unless the `int` wrapped, which is kept as in IPVS). `ovf` keeps no state.

#![deny(unsafe_code)]

use super::{Algorithm, Candidate, Flow};

/// Picks the heaviest destination that has not overflowed (`ip_vs_ovf_schedule`), or `None`.
pub(crate) fn schedule<C: Candidate>(dests: &[C]) -> Option<usize> {
    // (index, weight) of the heaviest eligible destination so far.
    let mut heaviest: Option<(usize, i32)> = None;
    for (i, dest) in dests.iter().enumerate() {
        let w = dest.weight();
        // The C compares the `atomic_t` int count with the int weight: `as` is that reading.
        if dest.overloaded() || dest.active_conns() as i32 > w || w == 0 {
            continue;
        }
        match heaviest {
            Some((_, hw)) if w <= hw => {}
            _ => heaviest = Some((i, w)),
        }
    }
    heaviest.map(|(i, _)| i)
}

/// Weighted overflow: stateless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WeightedOverflow;

impl Algorithm for WeightedOverflow {
    const NAME: &'static str = "ovf";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        WeightedOverflow
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], _flow: &mut Flow<'_>) -> Option<usize> {
        schedule(dests)
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences come from a host C harness (`harness2.c`) that compiles
    //! `ip_vs_ovf.c` of Linux 6.12.117 verbatim (only its `#include` lines removed, built with
    //! `gcc -O2 -fwrapv`) over the kernel's list primitives, with the same scripts as below; its
    //! output is pasted as is: the index chosen in list order (0 = list head), `-` for none.
    //! `put(id, weight, active, inactive, overloaded)` links a destination at the head, so the
    //! last one put is index 0. Each choice adds the connection given to `sched`.

    use super::super::testing::{Conn, World};
    use super::super::Scheduler;

    fn world() -> World {
        World::new(Scheduler::WeightedOverflow)
    }

    #[test]
    fn fills_weight_plus_one_then_overflows() {
        // [0: w2, 1: w3, 2: w3].
        let mut w = world();
        w.put(3, 3, 0, 0, false);
        w.put(2, 3, 0, 0, false);
        w.put(1, 2, 0, 0, false);
        w.start();
        assert_eq!(w.sched(12, Conn::Active), "1 1 1 1 2 2 2 2 0 0 0 -");
    }

    #[test]
    fn skips_overloaded_quiesced_and_negative() {
        // [0: w2 3 active, 1: w7 overloaded, 2: w0, 3: w-1, 4: w1 with the int count -1].
        let mut w = world();
        w.put(5, 1, u32::MAX, 0, false);
        w.put(4, -1, 0, 0, false);
        w.put(3, 0, 0, 0, false);
        w.put(2, 7, 0, 0, true);
        w.put(1, 2, 3, 0, false);
        w.start();
        assert_eq!(w.sched(2, Conn::Active), "4 4");
    }

    #[test]
    fn empty_list() {
        let mut w = world();
        w.start();
        assert_eq!(w.sched(1, Conn::Active), "-");
    }
}
