// SPDX-License-Identifier: GPL-2.0

//! Locality-based least connection with replication (`lblcr`), mirroring
//! `net/netfilter/ipvs/ip_vs_lblcr.c` of Linux 6.12.
//!
//! As `lblc`, but each destination address keeps a set of real servers: a connection goes to the
//! least loaded member of the set (weighted overhead, as `wlc`). When that member is overloaded
//! (more active connections than its weight while some server runs under half its weight), `wlc`
//! picks a server among all and it joins the set, so a popular address is replicated on more
//! caches. A set of several members that has not changed for the `lblcr_expiration` sysctl (one
//! day by default) loses its most loaded member when its address is next scheduled. Unused
//! addresses are forgotten as [`locality`](super::locality) describes.

#![deny(unsafe_code)]

use super::{
    conn_overhead,
    locality::{after_ticks, is_overloaded, time_before, Clock, Entry, Slots, Table},
    wlc, Algorithm, Candidate, Flow,
};

/// `struct ip_vs_lblcr_entry`: a destination address and its set of real servers.
#[derive(Debug)]
#[cfg_attr(not(target_os = "none"), derive(Clone, PartialEq, Eq))]
struct AddrSet {
    addr: [u8; 16],
    /// The [`Candidate::id`]s of the members (`struct ip_vs_dest_set`), in IPVS's list order
    /// when read with [`Slots::newest_first`].
    members: Slots<u64>,
    /// `set.lastmod` (jiffies): when a member last joined or left.
    last_mod: u64,
    /// `lastuse` (jiffies).
    last_use: u64,
}

impl Entry for AddrSet {
    fn addr(&self) -> &[u8; 16] {
        &self.addr
    }
    fn last_use(&self) -> u64 {
        self.last_use
    }
}

impl AddrSet {
    /// `ip_vs_dest_set_insert(set, dest, true)`: adds `dest` at the head unless it is a member.
    fn insert(&mut self, dest: u64, now: u64) {
        if self.members.newest_first().any(|&m| m == dest) {
            return;
        }
        if self.members.push(dest) {
            self.last_mod = now;
        }
    }

    /// The members that are in `dests`, with their index there, in IPVS's list order. Members
    /// always are: a removed server leaves the sets (see
    /// [`LocalityReplicated::dests_changed`]).
    fn members_in<'a, C: Candidate>(
        &'a self,
        dests: &'a [C],
    ) -> impl Iterator<Item = (usize, &'a C)> + 'a {
        self.members
            .newest_first()
            .filter_map(|&m| dests.iter().enumerate().find(|(_, d)| d.id() == m))
    }

    /// `ip_vs_dest_set_min`: the member with the least weighted overhead; the first candidate is
    /// the first member not overloaded and of positive weight, after which only overloaded
    /// members are skipped (as in `wlc`).
    fn least_loaded<C: Candidate>(&self, dests: &[C]) -> Option<usize> {
        let mut members = self.members_in(dests).filter(|(_, d)| !d.overloaded());
        let (mut least_index, mut least) = members.find(|(_, d)| d.weight() > 0)?;
        let mut loh = conn_overhead(least);
        for (i, dest) in members {
            let doh = conn_overhead(dest);
            // Products of two i32 cannot overflow an i64.
            if i64::from(loh) * i64::from(dest.weight())
                > i64::from(doh) * i64::from(least.weight())
            {
                least = dest;
                least_index = i;
                loh = doh;
            }
        }
        Some(least_index)
    }

    /// `ip_vs_dest_set_max`: the id of the member with the most weighted overhead among those of
    /// positive weight (the overload flag does not matter here).
    fn most_loaded<C: Candidate>(&self, dests: &[C]) -> Option<u64> {
        let mut members = self.members_in(dests).map(|(_, d)| d);
        let mut most = members.find(|d| d.weight() > 0)?;
        let mut moh = conn_overhead(most);
        for dest in members {
            let doh = conn_overhead(dest);
            if i64::from(moh) * i64::from(dest.weight()) < i64::from(doh) * i64::from(most.weight())
                && dest.weight() > 0
            {
                most = dest;
                moh = doh;
            }
        }
        Some(most.id())
    }
}

/// The state of `lblcr` for one service (IPVS's `struct ip_vs_lblcr_table`).
#[derive(Debug)]
#[cfg_attr(not(target_os = "none"), derive(Clone, PartialEq, Eq))]
pub(crate) struct LocalityReplicated {
    table: Table<AddrSet>,
}

impl LocalityReplicated {
    /// The state of a new service (`ip_vs_lblcr_init_svc`).
    pub(crate) fn new() -> Self {
        Self {
            table: Table::new(),
        }
    }

    /// The destination list changed. IPVS's sets keep a removed real server (in its trash,
    /// unavailable, never chosen) until its entry expires; rvs has no trash, so a removed server
    /// leaves every set at once (without counting as a change of the set).
    pub(crate) fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        for entry in self.table.entries_mut() {
            entry
                .members
                .remove_where(|&m| !dests.iter().any(|d| d.id() == m));
        }
    }

    /// Picks a real server for a packet to `flow.daddr` (`ip_vs_lblcr_schedule`).
    pub(crate) fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &Flow<'_>) -> Option<usize> {
        let clock = &flow.clock;
        let Some(entry) = self.table.get_mut(flow.af, &flow.daddr) else {
            // No entry: schedule by load and remember the server in a new set
            // (`ip_vs_lblcr_new`).
            let chosen = wlc::schedule(dests)?;
            let mut entry = AddrSet {
                addr: flow.daddr,
                members: Slots::new(),
                last_mod: clock.now,
                last_use: clock.now,
            };
            entry.insert(dests[chosen].id(), clock.now);
            self.table.insert(flow.af, entry);
            return Some(chosen);
        };
        entry.last_use = clock.now;
        let least = entry.least_loaded(dests);
        // A set of several members unchanged for the expiration loses its most loaded member,
        // which may be the one just chosen: IPVS uses that one for this connection all the same.
        if entry.members.len() > 1
            && time_before(
                after_ticks(entry.last_mod, clock.lblcr_expiration),
                clock.now,
            )
        {
            if let Some(most) = entry.most_loaded(dests) {
                if entry.members.remove_where(|&m| m == most) > 0 {
                    entry.last_mod = clock.now;
                }
            }
        }
        if let Some(i) = least.filter(|&i| !is_overloaded(&dests[i], dests)) {
            return Some(i);
        }
        // The set has no usable member: schedule by load among all and add the choice.
        let chosen = wlc::schedule(dests)?;
        entry.insert(dests[chosen].id(), clock.now);
        Some(chosen)
    }

    /// The periodic collection of unused entries (`ip_vs_lblcr_check_expire`).
    pub(crate) fn check_expire(&mut self, clock: &Clock) {
        self.table.check_expire(clock, clock.lblcr_expiration);
    }

    /// The number of remembered addresses.
    #[cfg(test)]
    pub(crate) fn entries(&self) -> usize {
        self.table.len()
    }

    /// The members of the set of `addr`, as indices in `dests`, in IPVS's list order.
    #[cfg(test)]
    pub(crate) fn set_of<C: Candidate>(
        &mut self,
        af: u16,
        addr: &[u8; 16],
        dests: &[C],
    ) -> std::vec::Vec<usize> {
        self.table
            .get_mut(af, addr)
            .map(|e| e.members_in(dests).map(|(i, _)| i).collect())
            .unwrap_or_default()
    }
}

impl Algorithm for LocalityReplicated {
    const NAME: &'static str = "lblcr";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        Self::new()
    }

    fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        LocalityReplicated::dests_changed(self, dests)
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &mut Flow<'_>) -> Option<usize> {
        LocalityReplicated::schedule(self, dests, flow)
    }

    fn check_expire(&mut self, clock: &Clock) {
        LocalityReplicated::check_expire(self, clock)
    }
}

#[cfg(test)]
mod tests {
    //! The expected values come from a host C harness that
    //! compiles `ip_vs_lblcr.c` of Linux 6.12.117 verbatim (only its `#include` lines removed,
    //! built with `gcc -O2 -fwrapv`, as the kernel's `-fno-strict-overflow` makes int arithmetic
    //! wrap) over the kernel's list and hlist primitives, `hash_32` of `include/linux/hash.h`,
    //! `time_after` / `time_before` of `include/linux/jiffies.h` and `ip_vs_addr_equal` /
    //! `ip_vs_dest_conn_overhead` of `include/net/ip_vs.h`, with locks as no-ops, RCU frees at
    //! once, `HZ` 250 and `jiffies` a settable global; timers are not armed: a collection pass
    //! calls `ip_vs_lblcr_check_expire` directly. Its output is pasted as is: the index chosen in
    //! list order (0 = list head), `-` for none, entry counts (`tbl->entries`) and the sets as the
    //! list indices of their members in set order, with the set's size.
    //! `put(id, weight, active, inactive, overloaded)` links a destination at the head, so the
    //! last one put is index 0; the harness's `totalconns` is active + inactive. The driver
    //! (`locality::tests`) mirrors the harness's: `to(w, first, n, conn)` sends one packet to each
    //! of the destination addresses `first`, `first + 1`, ... (IPv4, numbered in host order), the
    //! chosen destination gaining `conn`; `rep(w, a, n, conn)` sends `n` to the address `a`;
    //! `passes(w, n, step)` runs `n` collection passes, `jiffies` advanced by `step` before each,
    //! and gives the entry count after each. The collection passes, the same for both schedulers, are tested in
    //! `locality::tests`.
    //!
    //! IPVS keeps a deleted destination in its trash, unavailable, and in the sets until their
    //! entry expires: never chosen, but counted in the set's size and a candidate for removal as
    //! the most loaded member; re-added from the trash, it is a member again. rvs removes it from
    //! the sets at once. The choices are the same until a set holding a deleted member shrinks or
    //! the member is re-added: in the harness's `div_set_*`, [0: 1 w1, 1: 2 w1, 2: 3 w1] with the
    //! set of an address {2, 1}, after deleting 2 and shrinking IPVS's set is {3, deleted 2}
    //! where rvs's is {3, 1}, and once 1 is idle and 3 has an active connection IPVS picks 3
    //! (index 1) and rvs 1 (index 0). The deletion test compares choices without shrinking.

    use super::super::locality::tests::{
        a, at, conns, daddr, entries, expiration, passes, rep, to, world as world_of, Transcript,
        HZ,
    };
    use super::super::testing::{Conn, World};
    use super::super::{SchedState, Scheduler};
    use std::format;
    use std::string::{String, ToString};
    use std::vec::Vec;

    const KIND: Scheduler = Scheduler::LocalityReplicated;

    fn world() -> World {
        world_of(KIND)
    }

    /// The harness's `set(a)`: the members of the set of address `a` in set order, as list
    /// indices, and the set's size.
    fn set(w: &mut World, addr: u32) -> String {
        let World {
            state, dests, af, ..
        } = w;
        let Some(SchedState::LocalityReplicated(s)) = state else {
            panic!("not lblcr");
        };
        let members = s.set_of(*af, &daddr(*af, addr), dests);
        let shown: Vec<String> = members.iter().map(|i| i.to_string()).collect();
        format!("{} (size {})", shown.join(" "), members.len())
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
        // A new destination, idle, at the head: the addresses whose server runs over its weight
        // are overloaded now that the new one runs under half its weight, and it joins their
        // sets.
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
    fn an_overloaded_set_grows() {
        // [0: 1 w2, 1: 2 w10]: the address stays on 1 until it has 3 active connections (more
        // than its weight) while 2 has fewer than 5; then 2 joins the set (at its head), and the
        // least loaded member is chosen.
        let mut w = world();
        w.put(2, 10, 0, 0, false);
        w.put(1, 2, 0, 0, false);
        w.start();
        let mut t = Transcript::default();
        t.line("overload", rep(&mut w, a(10, 0, 0, 1), 8, Conn::Active));
        t.line("overload_set", set(&mut w, a(10, 0, 0, 1)));
        conns(&mut w, 1, 0, 0);
        t.line(
            "overload_idle",
            rep(&mut w, a(10, 0, 0, 1), 4, Conn::Active),
        );
        t.line("overload_set2", set(&mut w, a(10, 0, 0, 1)));
        t.line("overload_entries", entries(&w));
        assert_eq!(
            t.0,
            concat!(
                "overload: 0 0 0 1 1 1 1 1\n",
                "overload_set: 1 0 (size 2)\n",
                "overload_idle: 0 1 0 1\n",
                "overload_set2: 1 0 (size 2)\n",
                "overload_entries: 1\n"
            )
        );
    }

    #[test]
    fn overloaded_but_still_the_least_loaded() {
        // [0: 1 w1, 1: 2 w10 with 10000 inactive connections]: 1 is overloaded from its second
        // active connection, but wlc picks it again (already a member: the set is unchanged)
        // until its weighted overhead passes 2's.
        let mut w = world();
        w.put(2, 10, 0, 10000, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        let mut t = Transcript::default();
        t.line("same", rep(&mut w, a(10, 0, 0, 1), 5, Conn::Active));
        t.line("same_set", set(&mut w, a(10, 0, 0, 1)));
        t.line("same_entries", entries(&w));
        assert_eq!(
            t.0,
            concat!(
                "same: 0 0 0 0 1\n",
                "same_set: 1 0 (size 2)\n",
                "same_entries: 1\n"
            )
        );
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
    fn a_quiesced_member_is_skipped() {
        // [0: 1 w1, 1: 2 w1].
        let mut w = world();
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        let mut t = Transcript::default();
        t.line("quiesce_a", rep(&mut w, a(10, 0, 0, 1), 2, Conn::None));
        w.upd(1, 0, false);
        t.line("quiesce_b", rep(&mut w, a(10, 0, 0, 1), 2, Conn::None));
        // 1's weight back: both are members, the head wins the tie; a connection on 2 makes 1
        // the least loaded.
        w.upd(1, 1, false);
        t.line("quiesce_c", rep(&mut w, a(10, 0, 0, 1), 2, Conn::None));
        t.line("quiesce_set", set(&mut w, a(10, 0, 0, 1)));
        conns(&mut w, 2, 1, 0);
        t.line("quiesce_d", rep(&mut w, a(10, 0, 0, 1), 2, Conn::None));
        // All quiesced: no destination, and no new entry.
        w.upd(1, 0, false);
        w.upd(2, 0, false);
        t.line("quiesce_none", rep(&mut w, a(10, 0, 0, 1), 1, Conn::None));
        t.line(
            "quiesce_none_new",
            to(&mut w, a(10, 0, 0, 2), 1, Conn::None),
        );
        t.line("quiesce_entries", entries(&w));
        assert_eq!(
            t.0,
            concat!(
                "quiesce_a: 0 0\n",
                "quiesce_b: 1 1\n",
                "quiesce_c: 1 1\n",
                "quiesce_set: 1 0 (size 2)\n",
                "quiesce_d: 0 0\n",
                "quiesce_none: -\n",
                "quiesce_none_new: -\n",
                "quiesce_entries: 1\n"
            )
        );
    }

    #[test]
    fn an_overload_flagged_member_is_skipped() {
        // [0: 1 w1, 1: 2 w1]: unlike lblc, lblcr's set minimum skips IP_VS_DEST_F_OVERLOAD.
        let mut w = world();
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        let mut t = Transcript::default();
        t.line("flag_a", rep(&mut w, a(10, 0, 0, 1), 1, Conn::None));
        w.ovl(1, true);
        t.line("flag_b", rep(&mut w, a(10, 0, 0, 1), 2, Conn::None));
        t.line("flag_new", to(&mut w, a(10, 0, 0, 2), 2, Conn::None));
        w.ovl(1, false);
        t.line("flag_c", rep(&mut w, a(10, 0, 0, 1), 2, Conn::None));
        t.line("flag_set", set(&mut w, a(10, 0, 0, 1)));
        assert_eq!(
            t.0,
            concat!(
                "flag_a: 0\n",
                "flag_b: 1 1\n",
                "flag_new: 1 1\n",
                "flag_c: 1 1\n",
                "flag_set: 1 0 (size 2)\n"
            )
        );
    }

    #[test]
    fn a_deleted_member_is_never_chosen() {
        // [0: 1 w1, 1: 2 w1, 2: 3 w1]; six addresses, then 1 is deleted (the sets keep it in
        // IPVS, unavailable; rvs drops it: the choices are the same, the default expiration
        // shrinking no set).
        let mut w = world();
        w.put(3, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        assert_eq!(to(&mut w, a(10, 0, 1, 1), 6, Conn::Active), "0 1 2 0 1 2");
        w.del(1);
        assert_eq!(to(&mut w, a(10, 0, 1, 1), 6, Conn::Active), "0 0 1 1 0 1");
        assert_eq!(entries(&w), 6);
        assert_eq!(to(&mut w, a(10, 0, 1, 1), 6, Conn::Active), "0 0 1 1 0 1");
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

    #[test]
    fn a_set_unchanged_for_the_expiration_loses_its_most_loaded_member() {
        // [0: 1 w1, 1: 2 w1, 2: 3 w1], expiration 10 s; the set grows to all three at 1000.
        let mut w = world();
        expiration(&mut w, 10 * HZ as i32);
        w.put(3, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        at(&mut w, 1000);
        let addr = a(10, 0, 0, 1);
        let mut t = Transcript::default();
        t.line("grow", rep(&mut w, addr, 6, Conn::Active));
        t.line("grow_set", set(&mut w, addr));
        conns(&mut w, 1, 0, 0);
        conns(&mut w, 2, 0, 0);
        conns(&mut w, 3, 0, 0);
        // Not after lastmod + expiration yet.
        at(&mut w, 1000 + 10 * HZ);
        t.line("shrink_not_yet", rep(&mut w, addr, 1, Conn::None));
        t.line("shrink_not_yet_set", set(&mut w, addr));
        // One tick later. Equal loads: the least and the most loaded are the same member, the
        // head of the set: it is removed and used all the same.
        at(&mut w, 1000 + 10 * HZ + 1);
        t.line("shrink_equal", rep(&mut w, addr, 1, Conn::None));
        t.line("shrink_equal_set", set(&mut w, addr));
        // lastmod is now: no shrinking until the expiration has passed again.
        t.line("shrink_lastmod", rep(&mut w, addr, 1, Conn::None));
        t.line("shrink_lastmod_set", set(&mut w, addr));
        // Weighted loads: the most loaded goes.
        conns(&mut w, 1, 3, 0);
        conns(&mut w, 2, 1, 5);
        conns(&mut w, 3, 2, 0);
        at(&mut w, 1000 + 20 * HZ + 2);
        t.line("shrink_loaded", rep(&mut w, addr, 1, Conn::None));
        t.line("shrink_loaded_set", set(&mut w, addr));
        assert_eq!(
            t.0,
            concat!(
                "grow: 0 0 1 1 2 2\n",
                "grow_set: 2 1 0 (size 3)\n",
                "shrink_not_yet: 2\n",
                "shrink_not_yet_set: 2 1 0 (size 3)\n",
                "shrink_equal: 2\n",
                "shrink_equal_set: 1 0 (size 2)\n",
                "shrink_lastmod: 1\n",
                "shrink_lastmod_set: 1 0 (size 2)\n",
                "shrink_loaded: 1\n",
                "shrink_loaded_set: 1 (size 1)\n"
            )
        );
    }

    #[test]
    fn shrinking_skips_quiesced_members() {
        // [0: 1, 1: 2]; the set {2, 1}, then 2 quiesced and 1 of weight 4: the most loaded
        // member of positive weight is 1, which goes (though chosen), leaving {2} of weight 0;
        // the next connection finds no usable member and wlc adds 1 again.
        let mut w = world();
        expiration(&mut w, 10 * HZ as i32);
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        let addr = a(10, 0, 0, 1);
        let mut t = Transcript::default();
        t.line("q_grow", rep(&mut w, addr, 3, Conn::Active));
        t.line("q_grow_set", set(&mut w, addr));
        w.upd(2, 0, false);
        w.upd(1, 4, false);
        conns(&mut w, 1, 0, 0);
        conns(&mut w, 2, 0, 0);
        at(&mut w, 10 * HZ + 1);
        t.line("q_shrink", rep(&mut w, addr, 1, Conn::None));
        t.line("q_shrink_set", set(&mut w, addr));
        t.line("q_after", rep(&mut w, addr, 2, Conn::None));
        t.line("q_after_set", set(&mut w, addr));
        assert_eq!(
            t.0,
            concat!(
                "q_grow: 0 0 1\n",
                "q_grow_set: 1 0 (size 2)\n",
                "q_shrink: 0\n",
                "q_shrink_set: 1 (size 1)\n",
                "q_after: 0 0\n",
                "q_after_set: 0 1 (size 2)\n"
            )
        );
    }

    #[test]
    fn lastmod_is_when_a_member_joins() {
        // [0: 1 w1, 1: 2 w1, 2: 3 w1 flagged overloaded], expiration 2500 ticks. 3, idle, makes
        // the others overloaded, but wlc skips it. 2 joins at 1000; at 2000 wlc picks 1 again, a
        // member already, which changes nothing: the set shrinks after 1000 + 2500.
        let mut w = world();
        expiration(&mut w, 2500);
        w.put(3, 1, 0, 0, true);
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        let addr = a(10, 0, 0, 1);
        let mut t = Transcript::default();
        at(&mut w, 0);
        t.line("lm_new", rep(&mut w, addr, 1, Conn::None));
        conns(&mut w, 1, 2, 0);
        at(&mut w, 1000);
        t.line("lm_join", rep(&mut w, addr, 1, Conn::None));
        t.line("lm_join_set", set(&mut w, addr));
        conns(&mut w, 2, 3, 0);
        at(&mut w, 2000);
        t.line("lm_again", rep(&mut w, addr, 1, Conn::None));
        t.line("lm_again_set", set(&mut w, addr));
        at(&mut w, 3500);
        t.line("lm_keep", rep(&mut w, addr, 1, Conn::None));
        t.line("lm_keep_set", set(&mut w, addr));
        at(&mut w, 3501);
        t.line("lm_shrink", rep(&mut w, addr, 1, Conn::None));
        t.line("lm_shrink_set", set(&mut w, addr));
        assert_eq!(
            t.0,
            concat!(
                "lm_new: 0\n",
                "lm_join: 1\n",
                "lm_join_set: 1 0 (size 2)\n",
                "lm_again: 0\n",
                "lm_again_set: 1 0 (size 2)\n",
                "lm_keep: 0\n",
                "lm_keep_set: 1 0 (size 2)\n",
                "lm_shrink: 0\n",
                "lm_shrink_set: 0 (size 1)\n"
            )
        );
    }

    #[test]
    fn a_quiesced_member_is_never_the_most_loaded() {
        // [0: 1 w1, 1: 2 w1]; the set {2, 1}, then 1 (its tail) quiesced with 5 active
        // connections: 2, the first member of positive weight, is the most loaded and goes
        // (though chosen), leaving {1} of weight 0, to which wlc adds 2 again.
        let mut w = world();
        expiration(&mut w, 10 * HZ as i32);
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        let addr = a(10, 0, 0, 1);
        let mut t = Transcript::default();
        t.line("q2_grow", rep(&mut w, addr, 3, Conn::Active));
        t.line("q2_grow_set", set(&mut w, addr));
        w.upd(1, 0, false);
        conns(&mut w, 1, 5, 0);
        conns(&mut w, 2, 0, 0);
        at(&mut w, 10 * HZ + 1);
        t.line("q2_shrink", rep(&mut w, addr, 1, Conn::None));
        t.line("q2_shrink_set", set(&mut w, addr));
        t.line("q2_after", rep(&mut w, addr, 1, Conn::None));
        t.line("q2_after_set", set(&mut w, addr));
        assert_eq!(
            t.0,
            concat!(
                "q2_grow: 0 0 1\n",
                "q2_grow_set: 1 0 (size 2)\n",
                "q2_shrink: 1\n",
                "q2_shrink_set: 0 (size 1)\n",
                "q2_after: 1\n",
                "q2_after_set: 1 0 (size 2)\n"
            )
        );
    }

    #[test]
    fn the_removed_member_overloaded_then_wlc_adds_another() {
        // [0: 1 w1, 1: 2 w1, 2: 3 w4], expiration 0: the set {2, 1}; with equal loads over
        // their weights, 2 is both chosen and removed, and being overloaded (3 runs under half
        // its weight) wlc picks 3, which joins.
        let mut w = world();
        expiration(&mut w, 0);
        w.put(3, 4, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        let addr = a(10, 0, 0, 1);
        let mut t = Transcript::default();
        t.line("o_grow", rep(&mut w, addr, 3, Conn::Active));
        t.line("o_grow_set", set(&mut w, addr));
        conns(&mut w, 1, 2, 0);
        conns(&mut w, 2, 2, 0);
        w.clock.now += 1;
        t.line("o_shrink", rep(&mut w, addr, 1, Conn::None));
        t.line("o_shrink_set", set(&mut w, addr));
        assert_eq!(
            t.0,
            concat!(
                "o_grow: 0 0 1\n",
                "o_grow_set: 1 0 (size 2)\n",
                "o_shrink: 2\n",
                "o_shrink_set: 2 0 (size 2)\n"
            )
        );
    }

    #[test]
    fn a_negative_expiration_shrinks_at_once() {
        // [0: 1 w1, 1: 2 w4], expiration -HZ: a second member joins, and the next connection
        // removes the most loaded.
        let mut w = world();
        expiration(&mut w, -(HZ as i32));
        w.put(2, 4, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        at(&mut w, 50);
        let mut t = Transcript::default();
        t.line("neg", rep(&mut w, a(10, 0, 0, 1), 6, Conn::Active));
        t.line("neg_set", set(&mut w, a(10, 0, 0, 1)));
        assert_eq!(t.0, concat!("neg: 0 0 1 1 1 1\n", "neg_set: 1 (size 1)\n"));
    }

    #[test]
    fn shrinking_across_the_jiffies_wrap() {
        // [0: 1 w1, 1: 2 w1], expiration 10 ticks, the set {2, 1} made at ULONG_MAX - 5.
        let mut w = world();
        expiration(&mut w, 10);
        w.put(2, 1, 0, 0, false);
        w.put(1, 1, 0, 0, false);
        w.start();
        let addr = a(10, 0, 0, 1);
        let mut t = Transcript::default();
        at(&mut w, u64::MAX - 5);
        t.line("wrap_grow", rep(&mut w, addr, 3, Conn::Active));
        t.line("wrap_grow_set", set(&mut w, addr));
        at(&mut w, (u64::MAX - 5).wrapping_add(10));
        t.line("wrap_keep", rep(&mut w, addr, 1, Conn::None));
        t.line("wrap_keep_set", set(&mut w, addr));
        at(&mut w, (u64::MAX - 5).wrapping_add(11));
        t.line("wrap_shrink", rep(&mut w, addr, 1, Conn::None));
        t.line("wrap_shrink_set", set(&mut w, addr));
        assert_eq!(
            t.0,
            concat!(
                "wrap_grow: 0 0 1\n",
                "wrap_grow_set: 1 0 (size 2)\n",
                "wrap_keep: 1\n",
                "wrap_keep_set: 1 0 (size 2)\n",
                "wrap_shrink: 1\n",
                "wrap_shrink_set: 1 (size 1)\n"
            )
        );
    }
}
