// SPDX-License-Identifier: GPL-2.0

//! Locality-based least connection (`lblc`), mirroring `net/netfilter/ipvs/ip_vs_lblc.c` of
//! Linux 6.12.
//!
//! Meant for cache clusters that see traffic for many destination addresses (a firewall-mark
//! service over a transparent proxy): each destination address of a packet keeps the real server
//! it was first given, so that one cache holds its objects. The remembered server is used while it
//! is available, of positive weight and not overloaded (more active connections than its weight
//! while another server runs under half its weight); otherwise `wlc` picks a new one, which
//! replaces it. Unused addresses are forgotten as [`locality`](super::locality) describes, after
//! the `lblc_expiration` sysctl (one day) by default.

#![deny(unsafe_code)]

use super::{
    locality::{is_overloaded, Clock, Entry, Table},
    wlc, Algorithm, Candidate, Flow,
};

/// `struct ip_vs_lblc_entry`: a destination address and its real server.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct AddrDest {
    addr: [u8; 16],
    /// The [`Candidate::id`] of the real server.
    dest: u64,
    /// `lastuse` (jiffies).
    last_use: u64,
}

impl Entry for AddrDest {
    fn addr(&self) -> &[u8; 16] {
        &self.addr
    }
    fn last_use(&self) -> u64 {
        self.last_use
    }
}

/// The state of `lblc` for one service (IPVS's `struct ip_vs_lblc_table`).
#[derive(Debug)]
#[cfg_attr(not(target_os = "none"), derive(Clone, PartialEq, Eq))]
pub(crate) struct LocalityLeastConnection {
    table: Table<AddrDest>,
}

impl LocalityLeastConnection {
    /// The state of a new service (`ip_vs_lblc_init_svc`).
    pub(crate) fn new() -> Self {
        Self {
            table: Table::new(),
        }
    }

    /// The destination list changed. IPVS's entries keep a removed real server (in its trash,
    /// unavailable) until they are replaced or expire; rvs has no trash, so its entries forget a
    /// removed server at once, which schedules the same way: an entry of an unavailable server is
    /// replaced when its address is next seen.
    pub(crate) fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        self.table
            .remove_where(|e| !dests.iter().any(|d| d.id() == e.dest));
    }

    /// Picks a real server for a packet to `flow.daddr` (`ip_vs_lblc_schedule`).
    pub(crate) fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &Flow<'_>) -> Option<usize> {
        let now = flow.clock.now;
        if let Some(entry) = self.table.get_mut(flow.af, &flow.daddr) {
            entry.last_use = now;
            let cached = dests.iter().position(|d| d.id() == entry.dest);
            if let Some(i) =
                cached.filter(|&i| dests[i].weight() > 0 && !is_overloaded(&dests[i], dests))
            {
                return Some(i);
            }
        }
        // No entry or an unusable one: `__ip_vs_lblc_schedule` is `wlc`'s choice.
        let chosen = wlc::schedule(dests)?;
        let dest = dests[chosen].id();
        // `ip_vs_lblc_new`: an entry for another server is replaced (with a fresh `lastuse`).
        match self.table.get_mut(flow.af, &flow.daddr) {
            Some(entry) if entry.dest == dest => {}
            _ => {
                self.table.remove(flow.af, &flow.daddr);
                self.table.insert(
                    flow.af,
                    AddrDest {
                        addr: flow.daddr,
                        dest,
                        last_use: now,
                    },
                );
            }
        }
        Some(chosen)
    }

    /// The periodic collection of unused entries (`ip_vs_lblc_check_expire`).
    pub(crate) fn check_expire(&mut self, clock: &Clock) {
        self.table.check_expire(clock, clock.lblc_expiration);
    }

    /// The number of remembered addresses.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.table.len()
    }
}

impl Algorithm for LocalityLeastConnection {
    const NAME: &'static str = "lblc";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        Self::new()
    }

    fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        LocalityLeastConnection::dests_changed(self, dests)
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &mut Flow<'_>) -> Option<usize> {
        LocalityLeastConnection::schedule(self, dests, flow)
    }

    fn check_expire(&mut self, clock: &Clock) {
        LocalityLeastConnection::check_expire(self, clock)
    }
}

#[cfg(test)]
mod tests {
    //! The expected values come from a host C harness that
    //! compiles `ip_vs_lblc.c` of Linux 6.12.117 verbatim (only its `#include` lines removed,
    //! built with `gcc -O2 -fwrapv`, as the kernel's `-fno-strict-overflow` makes int arithmetic
    //! wrap) over the kernel's list and hlist primitives, `hash_32` of `include/linux/hash.h`,
    //! `time_after` / `time_before` of `include/linux/jiffies.h` and `ip_vs_addr_equal` /
    //! `ip_vs_dest_conn_overhead` of `include/net/ip_vs.h`, with locks as no-ops, RCU frees at
    //! once, `HZ` 250 and `jiffies` a settable global; timers are not armed: a collection pass
    //! calls `ip_vs_lblc_check_expire` directly. Its output is pasted as is: the index chosen in
    //! list order (0 = list head), `-` for none, and entry counts (`tbl->entries`).
    //! `put(id, weight, active, inactive, overloaded)` links a destination at the head, so the
    //! last one put is index 0; the harness's `totalconns` is active + inactive. The driver
    //! (`locality::tests`) mirrors the harness's: `to(w, first, n, conn)` sends one packet to each
    //! of the destination addresses `first`, `first + 1`, ... (IPv4, numbered in host order), the
    //! chosen destination gaining `conn`; `rep(w, a, n, conn)` sends `n` to the address `a`;
    //! `passes(w, n, step)` runs `n` collection passes, `jiffies` advanced by `step` before each,
    //! and gives the entry count after each. The collection passes, the same for both schedulers, are tested in
    //! `locality::tests`.
    //!
    //! IPVS keeps a deleted destination in its trash, unavailable, and the entries that point to
    //! it until they are next used; rvs forgets those entries at once. The choices are the same
    //! (an entry of an unavailable destination is replaced when its address is next seen), but
    //! the entry counts differ until then, and a destination re-added from the trash before its
    //! addresses are seen again gets them back in IPVS, not in rvs: in the harness's
    //! `div_readd_*`, [0: 1 w1, 1: 2 w1] with two addresses on 1 and 2, 1 deleted and re-added
    //! with 500 inactive connections, IPVS sends them to 1 and 2 again (`0 1`), rvs to 2 and,
    //! 2 being overloaded then, to 1 (`1 0`). The deletion tests compare choices, and counts
    //! only once every address was seen again.

    use super::super::locality::tests::{
        a, at, conns, entries, expiration, passes, rep, to, world as world_of, Transcript,
    };
    use super::super::testing::{Conn, World};
    use super::super::Scheduler;

    const KIND: Scheduler = Scheduler::LocalityLeastConnection;

    fn world() -> World {
        world_of(KIND)
    }

    #[test]
    fn addresses_keep_their_server() {
        // [0: 1 w1, 1: 2 w2, 2: 3 w3]; ten addresses, three rounds.
        let mut w = world();
        w.put(3, 3, 0, 0, false);
        w.put(2, 2, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        assert_eq!(
            to(&mut w, a(10, 0, 1, 1), 10, Conn::Active),
            "0 1 2 2 1 2 0 1 2 2"
        );
        assert_eq!(
            to(&mut w, a(10, 0, 1, 1), 10, Conn::Active),
            "0 1 2 2 1 2 0 1 2 2"
        );
        assert_eq!(
            to(&mut w, a(10, 0, 1, 1), 10, Conn::Active),
            "0 1 2 2 1 2 0 1 2 2"
        );
        assert_eq!(entries(&w), 10);
        // wlc alone starts the same but moves the addresses in the second round.
        let mut wlc = World::new(Scheduler::WeightedLeastConnection);
        wlc.dests = w.dests.clone();
        for d in wlc.dests.iter_mut() {
            d.active = 0;
        }
        wlc.start();
        assert_eq!(wlc.sched(10, Conn::Active), "0 1 2 2 1 2 0 1 2 2");
        assert_ne!(wlc.sched(10, Conn::Active), "0 1 2 2 1 2 0 1 2 2");
        // A new destination, idle, at the head: the addresses stay on their servers (one
        // index further) unless their server runs over its weight, which is overloaded now that
        // the new one runs under half its weight.
        w.add(4, 3, 0, 0, false);
        assert_eq!(
            to(&mut w, a(10, 0, 1, 1), 10, Conn::Active),
            "0 0 3 3 2 3 1 2 3 3"
        );
        assert_eq!(
            to(&mut w, a(10, 0, 1, 1), 10, Conn::Active),
            "0 0 3 3 2 3 1 2 3 3"
        );
        assert_eq!(
            to(&mut w, a(192, 168, 0, 1), 6, Conn::Active),
            "0 0 0 0 0 0"
        );
        assert_eq!(entries(&w), 16);
    }

    #[test]
    fn an_overloaded_server_is_replaced() {
        // [0: 1 w2, 1: 2 w10]: the address stays on 1 until it has 3 active connections (more
        // than its weight) while 2 has fewer than 5; then the entry is replaced and stays on 2
        // even when 1 is idle again.
        let mut w = world();
        w.put(2, 10, 0, 0, false);
        w.put(1, 2, 0, 0, false);
        w.start();
        assert_eq!(
            rep(&mut w, a(10, 0, 0, 1), 8, Conn::Active),
            "0 0 0 1 1 1 1 1"
        );
        conns(&mut w, 1, 0, 0);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 4, Conn::Active), "1 1 1 1");
        assert_eq!(entries(&w), 1);
    }

    #[test]
    fn overloaded_but_still_the_least_loaded() {
        // [0: 1 w1, 1: 2 w10 with 10000 inactive connections]: 1 is overloaded from its second
        // active connection, but wlc picks it again until its weighted overhead passes 2's; the
        // entry is kept meanwhile.
        let mut w = world();
        w.put(2, 10, 0, 10000, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 5, Conn::Active), "0 0 0 0 1");
        assert_eq!(entries(&w), 1);
    }

    #[test]
    fn picked_again_the_entry_is_used_now() {
        // As above, three connections at 500, the last picked again by wlc: the entry's last
        // use is 500, kept by the full check at 1499 with an expiration of 1000.
        let mut w = world();
        expiration(&mut w, 1000);
        w.put(2, 10, 0, 10000, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        at(&mut w, 500);
        let mut t = Transcript::default();
        t.line("same_at", rep(&mut w, a(10, 0, 0, 1), 3, Conn::Active));
        t.line("same_29", passes(&mut w, 29, 0));
        at(&mut w, 1499);
        t.line("same_30", passes(&mut w, 1, 0));
        assert_eq!(
            t.0,
            concat!(
                "same_at: 0 0 0\n",
                "same_29: 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ",
                "1 1\n",
                "same_30: 1\n"
            )
        );
    }

    #[test]
    fn a_quiesced_server_is_replaced() {
        // [0: 1 w1, 1: 2 w1].
        let mut w = world();
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 2, Conn::None), "0 0");
        w.upd(1, 0, false);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 2, Conn::None), "1 1");
        // The entry now is 2's: 1's weight back changes nothing, nor does a connection on 2.
        w.upd(1, 1, false);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 2, Conn::None), "1 1");
        conns(&mut w, 2, 1, 0);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 2, Conn::None), "1 1");
        // All quiesced: no destination, and no new entry.
        w.upd(1, 0, false);
        w.upd(2, 0, false);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 1, Conn::None), "-");
        assert_eq!(to(&mut w, a(10, 0, 0, 2), 1, Conn::None), "-");
        assert_eq!(entries(&w), 1);
    }

    #[test]
    fn the_overload_flag_does_not_move_a_remembered_address() {
        // [0: 1 w1, 1: 2 w1]. IPVS's lblc does not look at IP_VS_DEST_F_OVERLOAD of the
        // remembered server; wlc skips it for new addresses.
        let mut w = world();
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 1, Conn::None), "0");
        w.ovl(1, true);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 2, Conn::None), "0 0");
        assert_eq!(to(&mut w, a(10, 0, 0, 2), 2, Conn::None), "1 1");
        w.ovl(1, false);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 2, Conn::None), "0 0");
    }

    #[test]
    fn a_deleted_server_is_replaced() {
        // [0: 1 w1, 1: 2 w1, 2: 3 w1]; six addresses, then 1 is deleted.
        let mut w = world();
        w.put(3, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        assert_eq!(to(&mut w, a(10, 0, 1, 1), 6, Conn::Active), "0 1 2 0 1 2");
        w.del(1);
        assert_eq!(to(&mut w, a(10, 0, 1, 1), 6, Conn::Active), "0 0 1 1 0 1");
        // Every address was seen again: the counts agree with IPVS's again.
        assert_eq!(entries(&w), 6);
        assert_eq!(to(&mut w, a(10, 0, 1, 1), 6, Conn::Active), "0 0 1 1 0 1");
        // Re-added idle (from the trash in IPVS): no entry is its any more, but the others run
        // over their weight while it runs under half its own, so all move to it.
        w.add(1, 1, 0, 0, false);
        assert_eq!(to(&mut w, a(10, 0, 1, 1), 6, Conn::Active), "0 1 2 2 1 2");
    }

    #[test]
    fn no_destination() {
        let mut w = world();
        w.put(1, 0, 0, 0, false);
        w.start();
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 1, Conn::None), "-");
        assert_eq!(entries(&w), 0);
        w.upd(1, 1, false);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 1, Conn::None), "0");
        // The entry stays when nothing can be scheduled.
        w.upd(1, 0, false);
        assert_eq!(rep(&mut w, a(10, 0, 0, 1), 1, Conn::None), "-");
        assert_eq!(entries(&w), 1);
    }
}
