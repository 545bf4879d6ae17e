// SPDX-License-Identifier: GPL-2.0

//! Least connection (`lc`), mirroring `net/netfilter/ipvs/ip_vs_lc.c` of Linux 6.12.
//!
//! The destination with the least connection overhead ([`conn_overhead`]) wins; on a tie the
//! first in list order (the most recently added) wins. Overloaded destinations and those of weight
//! 0 (quiesced) are skipped; unlike `wlc` and the round robins, `lc` tests the weight for 0 only,
//! so a negative weight, which IPVS's configuration refuses anyway, would not be skipped. `lc`
//! keeps no state.

#![deny(unsafe_code)]

use super::{conn_overhead, Algorithm, Candidate, Flow};

/// Picks the destination with the least overhead (`ip_vs_lc_schedule`), or `None` if every
/// destination is overloaded or quiesced.
pub(crate) fn schedule<C: Candidate>(dests: &[C]) -> Option<usize> {
    // (index, overhead) of the least loaded destination so far.
    let mut least: Option<(usize, u32)> = None;
    for (i, dest) in dests.iter().enumerate() {
        if dest.overloaded() || dest.weight() == 0 {
            continue;
        }
        // The C compares the overheads as `unsigned int`s: `as` is its conversion.
        let doh = conn_overhead(dest) as u32;
        match least {
            Some((_, loh)) if doh >= loh => {}
            _ => least = Some((i, doh)),
        }
    }
    least.map(|(i, _)| i)
}

/// Least connection: stateless.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct LeastConnection;

impl Algorithm for LeastConnection {
    const NAME: &'static str = "lc";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        LeastConnection
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], _flow: &mut Flow<'_>) -> Option<usize> {
        schedule(dests)
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences come from a host C harness that runs `ip_vs_lc_schedule` and
    //! `ip_vs_dest_conn_overhead` of Linux 6.12.117 verbatim (built with `-fwrapv`, as the
    //! kernel's `-fno-strict-overflow` makes int arithmetic wrap), with the kernel's list
    //! primitives and the same scripts as below; its output is pasted as is: the index chosen in
    //! list order (0 = list head), `-` for none. `put(id, weight, active, inactive, overloaded)`
    //! links a destination at the head, so the last one put is index 0; the harness's
    //! `totalconns` is active + inactive. Each choice adds the connection given to `sched`.

    use super::super::testing::{Conn, World};
    use super::super::Scheduler;

    fn world() -> World {
        World::new(Scheduler::LeastConnection)
    }

    #[test]
    fn ties_go_to_the_first_in_the_list() {
        let mut w = world();
        w.put(1, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(3, 1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(7, Conn::Active), "0 1 2 0 1 2 0");
    }

    #[test]
    fn active_and_inactive_connections() {
        // [1: 1 active (257), 2: 250 inactive, 3: 252 inactive].
        let mut w = world();
        w.put(3, 1, 0, 252, false);
        w.put(2, 1, 0, 250, false);
        w.put(1, 1, 1, 0, false);
        w.start();
        assert_eq!(w.sched(14, Conn::Inactive), "1 1 1 2 1 2 1 2 1 2 1 2 0 1");
    }

    #[test]
    fn skips_quiesced_and_overloaded() {
        // [1: w0, 2: overloaded, 3: 2 active, 4: 2 active].
        let mut w = world();
        w.put(4, 1, 2, 0, false);
        w.put(3, 1, 2, 0, false);
        w.put(2, 1, 0, 0, true);
        w.put(1, 0, 0, 0, false);
        w.start();
        assert_eq!(w.sched(4, Conn::Active), "2 3 2 3");
    }

    #[test]
    fn overhead_is_257_per_active_connection() {
        // 6.12's (activeconns << 8) + totalconns: one active connection weighs 257 inactive ones.
        let mut w = world();
        w.put(2, 1, 0, 256, false);
        w.put(1, 1, 1, 0, false);
        w.start();
        assert_eq!(w.sched(1, Conn::None), "1");
        let mut w = world();
        w.put(2, 1, 0, 257, false);
        w.put(1, 1, 1, 0, false);
        w.start();
        assert_eq!(w.sched(1, Conn::None), "0");
    }

    #[test]
    fn only_weight_zero_is_quiesced() {
        let mut w = world();
        w.put(2, 1, 0, 0, false);
        w.put(1, -1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(3, Conn::Active), "0 1 0");
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
