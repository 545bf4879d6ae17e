// SPDX-License-Identifier: GPL-2.0

//! Power of two choices (`twos`), mirroring `net/netfilter/ipvs/ip_vs_twos.c` of Linux 6.12.
//!
//! Two destinations are drawn at random, each with a probability proportional to its weight, and
//! the one with the lower connection overhead ([`conn_overhead`]) per weight wins, the first draw
//! on a tie. Only destinations that are not overloaded and have a positive weight take part.
//!
//! The C draws two numbers in `[0, total weight]` (inclusive: the bound is `total + 1`) and walks
//! the list subtracting weights until each number drops to 0 or below; so the first destination
//! is drawn for 0 and also for its weight, one more chance than its weight gives it. Everything is
//! the C's `int` arithmetic, wrapping as the kernel's `-fno-strict-overflow` lets it when the
//! weights add up beyond `INT_MAX`; in that case the draws may miss every destination and the C
//! falls back to the last available destination, which is kept here. `twos` keeps no state.

#![deny(unsafe_code)]

use super::{conn_overhead, Algorithm, Candidate, Flow};

/// Whether `twos` lets `dest` take part.
fn available<C: Candidate>(dest: &C) -> bool {
    !dest.overloaded() && dest.weight() > 0
}

/// Picks the better of two weighted random destinations (`ip_vs_twos_schedule`), drawing two
/// numbers from `random_below` (`get_random_u32_below`); `None`, without drawing, if no
/// destination is available.
pub(crate) fn schedule<C: Candidate>(
    dests: &[C],
    random_below: &mut dyn FnMut(u32) -> u32,
) -> Option<usize> {
    // The total weight of the available destinations; the C's `choice1` ends up on the last one.
    let mut total_weight: i32 = 0;
    let mut choice1: Option<usize> = None;
    for (i, dest) in dests.iter().enumerate() {
        if available(dest) {
            total_weight = total_weight.wrapping_add(dest.weight());
            choice1 = Some(i);
        }
    }
    let mut choice1 = choice1?;

    // The C passes the int `total_weight + 1` as a u32 and stores the u32 results in ints: `as`
    // is those conversions.
    let bound = total_weight.wrapping_add(1) as u32;
    let mut rweight1 = random_below(bound) as i32;
    let mut rweight2 = random_below(bound) as i32;

    // -1 marks a draw not made yet, as in the C (an available weight is positive).
    let (mut weight1, mut weight2) = (-1i32, -1i32);
    let (mut overhead1, mut overhead2) = (0i32, 0i32);
    let mut choice2: Option<usize> = None;
    for (i, dest) in dests.iter().enumerate() {
        if !available(dest) {
            continue;
        }
        let weight = dest.weight();
        rweight1 = rweight1.wrapping_sub(weight);
        rweight2 = rweight2.wrapping_sub(weight);
        if rweight1 <= 0 && weight1 == -1 {
            choice1 = i;
            weight1 = weight;
            overhead1 = conn_overhead(dest);
        }
        if rweight2 <= 0 && weight2 == -1 {
            choice2 = Some(i);
            weight2 = weight;
            overhead2 = conn_overhead(dest);
        }
        if weight1 != -1 && weight2 != -1 {
            break;
        }
    }

    // overhead2 / weight2 < overhead1 / weight1, cross-multiplied in (wrapping) ints as in the C.
    if let Some(choice2) = choice2 {
        if weight2.wrapping_mul(overhead1) > weight1.wrapping_mul(overhead2) {
            choice1 = choice2;
        }
    }
    Some(choice1)
}

/// Power of two choices: stateless (the randomness comes with the [`Flow`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct TwoChoices;

impl Algorithm for TwoChoices {
    const NAME: &'static str = "twos";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        TwoChoices
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &mut Flow<'_>) -> Option<usize> {
        schedule(dests, &mut *flow.random_below)
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences come from a host C harness (`harness2.c`) that compiles
    //! `ip_vs_twos.c` of Linux 6.12.117 verbatim (only its `#include` lines removed, built with
    //! `gcc -O2 -fwrapv`) over the kernel's list primitives and `ip_vs_dest_conn_overhead`, with
    //! a scripted `get_random_u32_below` that returns the next number of a script (wrapping
    //! around) modulo the bound, and the same scripts as below; its output is pasted as is: the
    //! index chosen in list order (0 = list head), `-` for none, and the bounds asked for.
    //! `put(id, weight, active, inactive, overloaded)` links a destination at the head, so the
    //! last one put is index 0. Each choice adds the connection given to `sched`.

    use super::super::testing::{Conn, World};
    use super::super::Scheduler;
    use std::vec;
    use std::vec::Vec;

    /// The harness's `R1`.
    const R1: [u32; 20] = [
        0, 6, 3, 5, 1, 4, 2, 6, 5, 0, 4, 4, 1, 3, 6, 2, 123456789, 4000000000, 7, 11,
    ];

    fn world(script: &[u32]) -> World {
        let mut w = World::new(Scheduler::TwoChoices);
        w.script = script.to_vec();
        w
    }

    #[test]
    fn weights_1_2_3() {
        // [0: w3, 1: w2, 2: w1]: total 6, bound 7.
        let mut w = world(&R1);
        w.put(1, 1, 0, 0, false);
        w.put(2, 2, 0, 0, false);
        w.put(3, 3, 0, 0, false);
        w.start();
        assert_eq!(w.sched(10, Conn::Active), "0 1 0 2 1 1 0 2 0 0");
        assert_eq!(w.bounds, vec![7; 20]);
    }

    #[test]
    fn skips_overloaded_and_nonpositive_weights() {
        // [0: w9 overloaded, 1: w2 1 active, 2: w0, 3: w-2, 4: w4 3 inactive]: total 6.
        let mut w = world(&R1);
        w.put(5, 4, 0, 3, false);
        w.put(4, -2, 0, 0, false);
        w.put(3, 0, 0, 0, false);
        w.put(2, 2, 1, 0, false);
        w.put(1, 9, 0, 0, true);
        w.start();
        assert_eq!(w.sched(8, Conn::Active), "4 4 1 4 4 4 1 4");
        assert_eq!(w.bounds, vec![7; 16]);
    }

    #[test]
    fn none_available_draws_nothing() {
        let mut w = world(&R1);
        w.put(2, 0, 0, 0, false);
        w.put(1, 1, 0, 0, true);
        w.start();
        assert_eq!(w.sched(2, Conn::Active), "- -");
        assert_eq!(w.bounds, Vec::new());
    }

    #[test]
    fn total_weight_wraps_like_the_kernel_int() {
        // [0: w INT_MAX, 1: w2]: the int total wraps to -2147483647, the bound to 2147483650.
        let mut w = world(&[2147483649, 5, 4294967295, 0, 2147483650, 2147483648]);
        w.put(2, 2, 0, 0, false);
        w.put(1, i32::MAX, 0, 0, false);
        w.start();
        assert_eq!(w.sched(3, Conn::Active), "1 0 0");
        assert_eq!(w.bounds, vec![2147483650; 6]);
    }

    #[test]
    fn a_random_source_out_of_bounds_cannot_panic() {
        // Not IPVS behaviour: a source that ignores the bound still gives a choice (the
        // wrapped draws miss every destination and the last available one is taken).
        let dests = [super::super::testing::Fake {
            id: 1,
            weight: 1,
            active: 0,
            inactive: 0,
            overloaded: false,
        }];
        let mut big = |_| u32::MAX;
        assert_eq!(super::schedule(&dests, &mut big), Some(0));
        let mut mid = |_| 1 << 31;
        assert_eq!(super::schedule(&dests, &mut mid), Some(0));
    }

    #[test]
    fn a_bound_of_zero_reaches_the_random_source() {
        // Weights adding up to u32::MAX make the C's bound wrap to 0 (any u32 then).
        let mut w = world(&[0, 0]);
        w.put(3, 1, 0, 0, false);
        w.put(2, i32::MAX, 0, 0, false);
        w.put(1, i32::MAX, 0, 0, false);
        w.start();
        assert_eq!(w.sched(1, Conn::None), "0");
        assert_eq!(w.bounds, vec![0, 0]);
    }
}
