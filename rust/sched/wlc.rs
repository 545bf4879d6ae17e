// SPDX-License-Identifier: GPL-2.0

//! Weighted least connection (`wlc`, ipvsadm's default), mirroring
//! `net/netfilter/ipvs/ip_vs_wlc.c` of Linux 6.12.
//!
//! The destination with the least overhead per weight wins: overhead `h1` at weight `w1` beats
//! the current least, `h2` at `w2`, when `h1 * w2 < h2 * w1`, products of the C's `int`s taken in
//! 64 bits (`__s64`); on a tie the earlier in list order (the more recently added) wins. The first
//! candidate is the first destination that is not overloaded and has a positive weight; after it
//! only overloaded destinations are skipped, a weight of 0 losing every comparison by itself.
//! `wlc` keeps no state.

#![deny(unsafe_code)]

use super::{conn_overhead, Algorithm, Candidate, Flow};

/// Picks the destination with the least weighted overhead (`ip_vs_wlc_schedule`), or `None` if
/// no destination is both not overloaded and of positive weight.
pub(crate) fn schedule<C: Candidate>(dests: &[C]) -> Option<usize> {
    let first = dests
        .iter()
        .position(|d| !d.overloaded() && d.weight() > 0)?;
    let mut least = dests.get(first)?;
    let mut least_index = first;
    let mut loh = conn_overhead(least);
    for (i, dest) in dests.iter().enumerate().skip(first.saturating_add(1)) {
        if dest.overloaded() {
            continue;
        }
        let doh = conn_overhead(dest);
        // Cannot overflow: each product of two i32 is at most 2^62 in magnitude.
        if i64::from(loh) * i64::from(dest.weight()) > i64::from(doh) * i64::from(least.weight()) {
            least = dest;
            least_index = i;
            loh = doh;
        }
    }
    Some(least_index)
}

/// Weighted least connection: stateless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct WeightedLeastConnection;

impl Algorithm for WeightedLeastConnection {
    const NAME: &'static str = "wlc";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        WeightedLeastConnection
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], _flow: &mut Flow<'_>) -> Option<usize> {
        schedule(dests)
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences come from a host C harness that runs `ip_vs_wlc_schedule` and
    //! `ip_vs_dest_conn_overhead` of Linux 6.12.117 verbatim (built with `-fwrapv`, as the
    //! kernel's `-fno-strict-overflow` makes int arithmetic wrap), with the kernel's list
    //! primitives and the same scripts as below; its output is pasted as is: the index chosen in
    //! list order (0 = list head), `-` for none. `put(id, weight, active, inactive, overloaded)`
    //! links a destination at the head, so the last one put is index 0; the harness's
    //! `totalconns` is active + inactive. Each choice adds the connection given to `sched`.

    use super::super::testing::{Conn, World};
    use super::super::Scheduler;

    fn world() -> World {
        World::new(Scheduler::WeightedLeastConnection)
    }

    #[test]
    fn weights_1_2_3() {
        // [1: w1, 2: w2, 3: w3].
        let mut w = world();
        w.put(3, 3, 0, 0, false);
        w.put(2, 2, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(12, Conn::Active), "0 1 2 2 1 2 0 1 2 2 1 2");
    }

    #[test]
    fn ties_go_to_the_first_in_the_list() {
        let mut w = world();
        w.put(2, 2, 0, 0, false);
        w.put(1, 2, 0, 0, false);
        w.start();
        assert_eq!(w.sched(4, Conn::Active), "0 1 0 1");
    }

    #[test]
    fn skips_quiesced_and_overloaded() {
        // [1: w0, 2: w1 overloaded, 3: w2, 4: w0, 5: w1].
        let mut w = world();
        w.put(5, 1, 0, 0, false);
        w.put(4, 0, 0, 0, false);
        w.put(3, 2, 0, 0, false);
        w.put(2, 1, 0, 0, true);
        w.put(1, 0, 0, 0, false);
        w.start();
        assert_eq!(w.sched(6, Conn::Active), "2 4 2 2 4 2");
    }

    #[test]
    fn active_and_inactive_connections() {
        // [1: w3 2 active 10 inactive, 2: w1 120 inactive, 3: w2 1 active].
        let mut w = world();
        w.put(3, 2, 1, 0, false);
        w.put(2, 1, 0, 120, false);
        w.put(1, 3, 2, 10, false);
        w.start();
        assert_eq!(
            w.sched(16, Conn::Inactive),
            "1 1 1 1 1 1 1 1 1 2 1 2 2 1 2 2"
        );
    }

    #[test]
    fn none_available() {
        let mut w = world();
        w.put(2, 1, 0, 0, true);
        w.put(1, 0, 0, 0, false);
        w.start();
        assert_eq!(w.sched(2, Conn::Active), "- -");
        let mut w = world();
        w.start();
        assert_eq!(w.sched(1, Conn::Active), "-");
    }

    #[test]
    fn products_are_64_bit() {
        // In 32 bits, 2 * 2e9 and 2e9 * 2 would wrap and turn both choices around.
        let mut w = world();
        w.put(2, 1, 0, 2, false);
        w.put(1, 2_000_000_000, 0, 1285, false);
        w.start();
        assert_eq!(w.sched(1, Conn::None), "0");
        let mut w = world();
        w.put(2, 2, 0, 1, false);
        w.put(1, 1, 0, 2_000_000_000, false);
        w.start();
        assert_eq!(w.sched(1, Conn::None), "1");
    }

    #[test]
    fn overhead_wraps_like_the_kernel_int() {
        // 2^24 active connections: (2^24 << 8) wraps to 0, leaving an overhead of 2^24.
        let mut w = world();
        w.put(2, 1, 0, 20_000_000, false);
        w.put(1, 1, 1 << 24, 0, false);
        w.start();
        assert_eq!(w.sched(1, Conn::None), "0");
    }
}
