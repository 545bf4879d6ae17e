// SPDX-License-Identifier: GPL-2.0

//! Shortest expected delay (`sed`), mirroring `net/netfilter/ipvs/ip_vs_sed.c` of Linux 6.12.
//!
//! The expected delay of a destination is `(activeconns + 1) / weight`; the destination with the
//! shortest one wins, compared without division as `h1 * w2 > h2 * w1` in 64 bits. Inactive
//! connections do not count. On a tie the first in list order wins.
//!
//! As in the C, only the first choice requires a positive weight: the destinations after it are
//! skipped when overloaded only. One of weight 0 or below then never wins the comparison (unless
//! its active count wrapped around to -1, which IPVS's `int` counts allow too), so the outcome
//! differs from skipping them only in that corner, which is kept as in IPVS. `sed` keeps no state.

#![deny(unsafe_code)]

use super::{Algorithm, Candidate, Flow};

/// The expected overhead of one more connection (`ip_vs_sed_dest_overhead`): the C `int`
/// `activeconns + 1`, wrapping as the kernel's `-fno-strict-overflow` lets it.
fn overhead<C: Candidate>(dest: &C) -> i32 {
    // `as` reinterprets the count as the C `atomic_t` int it is in IPVS.
    (dest.active_conns() as i32).wrapping_add(1)
}

/// Picks the destination with the shortest expected delay (`ip_vs_sed_schedule`), or `None` if
/// none is both not overloaded and of positive weight.
pub(crate) fn schedule<C: Candidate>(dests: &[C]) -> Option<usize> {
    // The first destination that is not overloaded and has a positive weight starts the search.
    let first = dests
        .iter()
        .position(|d| !d.overloaded() && d.weight() > 0)?;
    let start = dests.get(first)?;
    // (index, overhead, weight) of the least loaded destination so far.
    let (mut least, mut loh, mut lw) = (first, overhead(start), start.weight());
    for (i, dest) in dests.iter().enumerate().skip(first.saturating_add(1)) {
        if dest.overloaded() {
            continue;
        }
        let doh = overhead(dest);
        // Products of two `int`s in `__s64`, as in the C: they cannot overflow (so wrapping_mul
        // never wraps).
        if i64::from(loh).wrapping_mul(i64::from(dest.weight()))
            > i64::from(doh).wrapping_mul(i64::from(lw))
        {
            (least, loh, lw) = (i, doh, dest.weight());
        }
    }
    Some(least)
}

/// Shortest expected delay: stateless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ShortestExpectedDelay;

impl Algorithm for ShortestExpectedDelay {
    const NAME: &'static str = "sed";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        ShortestExpectedDelay
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], _flow: &mut Flow<'_>) -> Option<usize> {
        schedule(dests)
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences come from a host C harness (`harness2.c`) that compiles
    //! `ip_vs_sed.c` of Linux 6.12.117 verbatim (only its `#include` lines removed, built with
    //! `gcc -O2 -fwrapv`) over the kernel's list primitives, with the same scripts as below; its
    //! output is pasted as is: the index chosen in list order (0 = list head), `-` for none.
    //! `put(id, weight, active, inactive, overloaded)` links a destination at the head, so the
    //! last one put is index 0. Each choice adds the connection given to `sched`.

    use super::super::testing::{Conn, World};
    use super::super::Scheduler;

    fn world() -> World {
        World::new(Scheduler::ShortestExpectedDelay)
    }

    #[test]
    fn weights_1_2_3() {
        // [0: w3, 1: w2, 2: w1].
        let mut w = world();
        w.put(1, 1, 0, 0, false);
        w.put(2, 2, 0, 0, false);
        w.put(3, 3, 0, 0, false);
        w.start();
        assert_eq!(w.sched(12, Conn::Active), "0 1 0 0 1 2 0 1 0 0 1 2");
    }

    #[test]
    fn ties_go_to_the_first_in_the_list() {
        let mut w = world();
        w.put(1, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(3, 1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(6, Conn::Active), "0 1 2 0 1 2");
    }

    #[test]
    fn skips_overloaded_and_never_picks_nonpositive_weights() {
        // [0: w0, 1: w5 overloaded, 2: w1, 3: w-1, 4: w0, 5: w2].
        let mut w = world();
        w.put(4, 2, 0, 0, false);
        w.put(3, 0, 0, 0, false);
        w.put(5, -1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(1, 5, 0, 0, true);
        w.put(0, 0, 0, 0, false);
        w.start();
        assert_eq!(w.sched(6, Conn::Active), "5 2 5 5 2 5");
    }

    #[test]
    fn inactive_connections_do_not_count() {
        // [0: 100 inactive, 1: 1 active].
        let mut w = world();
        w.put(2, 1, 1, 0, false);
        w.put(1, 1, 0, 100, false);
        w.start();
        assert_eq!(w.sched(3, Conn::Inactive), "0 0 0");
    }

    #[test]
    fn active_count_wraps_like_the_kernel_int() {
        // An active count of u32::MAX is the C int -1: its overhead is 0 and it wins.
        let mut w = world();
        w.put(2, 1, u32::MAX, 0, false);
        w.put(1, 1, 3, 0, false);
        w.start();
        assert_eq!(w.sched(1, Conn::None), "1");
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
