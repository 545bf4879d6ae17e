// SPDX-License-Identifier: GPL-2.0

//! What the locality-based schedulers `lblc` and `lblcr` share: IPVS's per-service table from a
//! packet's destination address to its real server(s) (`struct ip_vs_lblc_table` and
//! `struct ip_vs_lblcr_table` of Linux 6.12, which are the same table with different entries),
//! its garbage collection (`ip_vs_lblc_check_expire`, `ip_vs_lblcr_check_expire`) and the
//! overload test both use (`is_overloaded`).
//!
//! The table has 2^10 buckets chosen by `hash_32` of the folded destination address. It holds up
//! to 1.5 x 16 entries per bucket: beyond that new addresses are scheduled but not remembered.
//! A collection pass runs every [`CHECK_EXPIRE_INTERVAL_SECS`] (the caller's timer): every 30th
//! pass drops all entries unused for the `lblc_expiration` / `lblcr_expiration` sysctl (default
//! one day); the passes between only act when the table holds more than 16 entries per bucket,
//! and then drop entries unused for 6 minutes until the excess is gone.
//!
//! Memory for entries is taken when a connection is scheduled, under the service's scheduler
//! lock (softirq context, so without sleeping: IPVS's `GFP_ATOMIC`); when none can be had, the
//! destination is used without being remembered, as in IPVS.

#![deny(unsafe_code)]

use super::{addr_fold, hash_32, Candidate};

/// `IP_VS_LBLC_TAB_BITS` / `IP_VS_LBLCR_TAB_BITS` (`CONFIG_IP_VS_LBLC_TAB_BITS`, default 10).
const TAB_BITS: u32 = 10;
/// The number of buckets.
const TAB_SIZE: usize = 1 << TAB_BITS;
/// `tbl->max_size`: 16 entries per bucket.
const MAX_SIZE: usize = TAB_SIZE * 16;
/// `COUNT_FOR_FULL_EXPIRATION`: every 30th pass checks every entry against the sysctl.
const COUNT_FOR_FULL_EXPIRATION: u32 = 30;
/// `ENTRY_TIMEOUT` in seconds: what an overfull table drops.
const ENTRY_TIMEOUT_SECS: u64 = 6 * 60;
/// `CHECK_EXPIRE_INTERVAL` in seconds: how often the caller runs [`Table::check_expire`].
pub(crate) const CHECK_EXPIRE_INTERVAL_SECS: u32 = 60;
/// `DEFAULT_EXPIRATION` in seconds: the default of `lblc_expiration` and `lblcr_expiration`.
pub(crate) const DEFAULT_EXPIRATION_SECS: i32 = 24 * 60 * 60;

/// The time as the locality schedulers see it.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Clock {
    /// `jiffies` (an `unsigned long`, compared with wrap-around as `time_before` does).
    pub(crate) now: u64,
    /// Ticks per second (`HZ`).
    pub(crate) hz: u64,
    /// The `lblc_expiration` sysctl in ticks (an `int`, as IPVS keeps it).
    pub(crate) lblc_expiration: i32,
    /// The `lblcr_expiration` sysctl in ticks.
    pub(crate) lblcr_expiration: i32,
}

/// `time_before(a, b)` of `include/linux/jiffies.h`: `a` is earlier than `b`, across wrap-around.
pub(crate) fn time_before(a: u64, b: u64) -> bool {
    // The sign of the wrapped difference, as `(long)((a) - (b)) < 0`.
    (a.wrapping_sub(b) as i64) < 0
}

/// `when + ticks` as the C `unsigned long + int` (the `int` sign-extended), wrapping.
pub(crate) fn after_ticks(when: u64, ticks: i32) -> u64 {
    when.wrapping_add(i64::from(ticks) as u64)
}

/// `is_overloaded` of `ip_vs_lblc.c` and `ip_vs_lblcr.c`: `dest` has more active connections than
/// its weight while some destination of the service has fewer than half its weight.
pub(crate) fn is_overloaded<C: Candidate>(dest: &C, dests: &[C]) -> bool {
    // The C `int`s: `activeconns` is an atomic_t; `* 2` wraps as the kernel's int arithmetic.
    let active = |d: &C| d.active_conns() as i32;
    active(dest) > dest.weight() && dests.iter().any(|d| active(d).wrapping_mul(2) < d.weight())
}

/// A growable list: the kernel's vector (its memory taken without sleeping) or, on the host,
/// the standard one.
#[cfg(target_os = "none")]
type List<T> = kernel::alloc::KVec<T>;
#[cfg(not(target_os = "none"))]
type List<T> = std::vec::Vec<T>;

/// Appends `value`; false when no memory can be had (`GFP_ATOMIC` in the kernel).
fn try_push<T>(list: &mut List<T>, value: T) -> bool {
    #[cfg(target_os = "none")]
    {
        list.push(value, kernel::alloc::flags::GFP_ATOMIC).is_ok()
    }
    #[cfg(not(target_os = "none"))]
    {
        if list.try_reserve(1).is_err() {
            return false;
        }
        list.push(value);
        true
    }
}

/// An ordered list with holes: removing leaves a hole (the kernel's vector cannot shrink without
/// `unsafe`), and adding first closes the holes, keeping the order, then reuses the first one.
/// The order is insertion order; IPVS's lists add at the head, so their order is the reverse
/// ([`Slots::newest_first`]).
#[derive(Debug)]
#[cfg_attr(not(target_os = "none"), derive(Clone, PartialEq, Eq))]
pub(crate) struct Slots<T> {
    items: List<Option<T>>,
}

impl<T> Slots<T> {
    /// An empty list (allocates nothing).
    pub(crate) fn new() -> Self {
        Self { items: List::new() }
    }

    /// The items, most recently added first (the order of IPVS's `list_add` / `hlist_add_head`).
    pub(crate) fn newest_first(&self) -> impl Iterator<Item = &T> {
        self.items.iter().rev().flatten()
    }

    /// The items, mutably, in no particular order.
    pub(crate) fn iter_mut(&mut self) -> impl Iterator<Item = &mut T> {
        self.items.iter_mut().flatten()
    }

    /// The number of items.
    pub(crate) fn len(&self) -> usize {
        self.items.iter().flatten().count()
    }

    /// Adds `value` as the newest item; false when no memory can be had.
    pub(crate) fn push(&mut self, value: T) -> bool {
        // Close the holes: move every item to the front, in order.
        let mut filled = 0;
        for i in 0..self.items.len() {
            if self.items[i].is_some() {
                self.items.swap(filled, i);
                filled += 1;
            }
        }
        match self.items.get_mut(filled) {
            Some(hole) => {
                *hole = Some(value);
                true
            }
            None => try_push(&mut self.items, Some(value)),
        }
    }

    /// Removes the items `remove` selects; returns how many.
    pub(crate) fn remove_where(&mut self, mut remove: impl FnMut(&T) -> bool) -> usize {
        let mut removed = 0;
        for slot in self.items.iter_mut() {
            if slot.as_ref().is_some_and(&mut remove) {
                *slot = None;
                removed += 1;
            }
        }
        removed
    }
}

/// What the table needs of an entry.
pub(crate) trait Entry {
    /// The destination address the entry is for, in wire bytes (IPv4 in the first 4).
    fn addr(&self) -> &[u8; 16];
    /// When the entry was last used (`jiffies`).
    fn last_use(&self) -> u64;
}

/// The per-service table of `lblc` or `lblcr`.
#[derive(Debug)]
#[cfg_attr(not(target_os = "none"), derive(Clone, PartialEq, Eq))]
pub(crate) struct Table<E> {
    /// [`TAB_SIZE`] buckets; none when their memory could not be had (then nothing is
    /// remembered and every connection is scheduled by load).
    buckets: List<Slots<E>>,
    /// `tbl->entries`.
    entries: usize,
    /// `tbl->rover`: the bucket the last collection pass stopped at.
    rover: usize,
    /// `tbl->counter`: passes since the last full check, from 1.
    counter: u32,
}

impl<E: Entry> Table<E> {
    /// An empty table (`ip_vs_lblc_init_svc`); it takes memory for its bucket heads, so it is
    /// created where sleeping is allowed.
    pub(crate) fn new() -> Self {
        let mut buckets = List::new();
        #[cfg(target_os = "none")]
        let reserved = buckets
            .reserve(TAB_SIZE, kernel::alloc::flags::GFP_KERNEL)
            .is_ok();
        #[cfg(not(target_os = "none"))]
        let reserved = buckets.try_reserve(TAB_SIZE).is_ok();
        if reserved {
            for _ in 0..TAB_SIZE {
                // Within the reserved room: cannot fail.
                if !try_push(&mut buckets, Slots::new()) {
                    break;
                }
            }
        }
        Self {
            buckets,
            entries: 0,
            rover: 0,
            counter: 1,
        }
    }

    /// The bucket of `addr` (`ip_vs_lblc_hashkey`); `None` without buckets.
    fn bucket(&mut self, af: u16, addr: &[u8; 16]) -> Option<&mut Slots<E>> {
        let hash = hash_32(addr_fold(af, addr), TAB_BITS);
        self.buckets.get_mut(usize::try_from(hash).ok()?)
    }

    /// The entry of `addr` (`ip_vs_lblc_get`).
    pub(crate) fn get_mut(&mut self, af: u16, addr: &[u8; 16]) -> Option<&mut E> {
        self.bucket(af, addr)?.iter_mut().find(|e| e.addr() == addr)
    }

    /// Removes the entry of `addr`, if any.
    pub(crate) fn remove(&mut self, af: u16, addr: &[u8; 16]) {
        if let Some(bucket) = self.bucket(af, addr) {
            let removed = bucket.remove_where(|e| e.addr() == addr);
            self.entries = self.entries.saturating_sub(removed);
        }
    }

    /// Adds `entry` (whose address has no entry yet) unless the table is full
    /// (`tbl->max_size * 3 / 2` entries) or memory is short.
    pub(crate) fn insert(&mut self, af: u16, entry: E) {
        if self.entries >= MAX_SIZE * 3 / 2 {
            return;
        }
        let addr = *entry.addr();
        if let Some(bucket) = self.bucket(af, &addr) {
            if bucket.push(entry) {
                self.entries += 1;
            }
        }
    }

    /// Every entry, mutably, in no particular order.
    pub(crate) fn entries_mut(&mut self) -> impl Iterator<Item = &mut E> {
        self.buckets.iter_mut().flat_map(Slots::iter_mut)
    }

    /// Removes the entries `remove` selects from every bucket.
    pub(crate) fn remove_where(&mut self, mut remove: impl FnMut(&E) -> bool) {
        let mut removed = 0;
        for bucket in self.buckets.iter_mut() {
            removed += bucket.remove_where(&mut remove);
        }
        self.entries = self.entries.saturating_sub(removed);
    }

    /// The number of entries (`tbl->entries`).
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.entries
    }

    /// One collection pass (`ip_vs_lblc_check_expire`), due every
    /// [`CHECK_EXPIRE_INTERVAL_SECS`]; `expiration` is the scheduler's sysctl in ticks.
    pub(crate) fn check_expire(&mut self, clock: &Clock, expiration: i32) {
        let now = clock.now;
        // (`checked_rem`, not `%`: the host's clippy wants `is_multiple_of` for that, which is
        // newer than the kernel's minimum Rust.)
        if self.counter.checked_rem(COUNT_FOR_FULL_EXPIRATION) == Some(0) {
            // `ip_vs_lblc_full_check`: every bucket from the one after the rover, entries unused
            // for `expiration`.
            self.sweep(None, |e| {
                !time_before(now, after_ticks(e.last_use(), expiration))
            });
            self.counter = 1;
            return;
        }
        if self.entries <= MAX_SIZE {
            self.counter += 1;
            return;
        }
        // Overfull: drop entries unused for ENTRY_TIMEOUT until 4/3 of the excess (at most half
        // the maximum) is gone.
        let goal = ((self.entries - MAX_SIZE) * 4 / 3).min(MAX_SIZE / 2);
        let timeout = ENTRY_TIMEOUT_SECS.wrapping_mul(clock.hz);
        self.sweep(Some(goal), |e| {
            !time_before(now, e.last_use().wrapping_add(timeout))
        });
    }

    /// Visits the buckets from the one after the rover, removing the entries `stale` selects,
    /// until all were visited or at least `goal` entries are gone (`None`: visit all); leaves the
    /// rover at the last bucket visited.
    fn sweep(&mut self, goal: Option<usize>, mut stale: impl FnMut(&E) -> bool) {
        let mut removed = 0;
        let mut j = self.rover;
        for _ in 0..TAB_SIZE {
            j = (j + 1) & (TAB_SIZE - 1);
            if let Some(bucket) = self.buckets.get_mut(j) {
                let n = bucket.remove_where(&mut stale);
                self.entries = self.entries.saturating_sub(n);
                removed += n;
            }
            if goal.is_some_and(|goal| removed >= goal) {
                break;
            }
        }
        self.rover = j;
    }
}

#[cfg(test)]
pub(crate) mod tests {
    //! Unit tests of the table's parts, and the driver the tests of `lblc` and `lblcr` share: it
    //! mirrors the host C harness that produced their expected values (see their tests), which
    //! sends packets to numbered destination addresses, sets `jiffies` and runs collection passes.

    use super::super::testing::{Conn, World};
    use super::super::{Flow, SchedState, Scheduler, AF_INET6};
    use super::*;
    use std::string::{String, ToString};
    use std::vec::Vec;

    /// `HZ` of the C harness (Debian's `CONFIG_HZ`).
    pub(crate) const HZ: u64 = 250;
    /// `ENTRY_TIMEOUT` in ticks.
    pub(crate) const TIMEOUT: u64 = ENTRY_TIMEOUT_SECS * HZ;

    /// A service of `kind` at jiffies 0 with both expirations at their default, as the harness's
    /// `init`.
    pub(crate) fn world(kind: Scheduler) -> World {
        let mut w = World::new(kind);
        w.clock = Clock {
            now: 0,
            hz: HZ,
            lblc_expiration: DEFAULT_EXPIRATION_SECS * HZ as i32,
            lblcr_expiration: DEFAULT_EXPIRATION_SECS * HZ as i32,
        };
        w
    }

    /// The IPv4 address a.b.c.d as the harness numbers addresses (host order).
    pub(crate) const fn a(a: u8, b: u8, c: u8, d: u8) -> u32 {
        u32::from_be_bytes([a, b, c, d])
    }

    /// The harness's destination address number `n`: the IPv4 address `n`, or `2001:db8::/96`
    /// plus `n` for an IPv6 service.
    pub(crate) fn daddr(af: u16, n: u32) -> [u8; 16] {
        let mut b = [0; 16];
        if af == AF_INET6 {
            b[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            b[12..].copy_from_slice(&n.to_be_bytes());
        } else {
            b[..4].copy_from_slice(&n.to_be_bytes());
        }
        b
    }

    /// Schedules one connection to address number `n`; the chosen destination gains `conn`.
    fn pick(w: &mut World, n: u32, conn: Conn) -> Option<usize> {
        let mut zeros = |_bound: u32| 0;
        let mut flow = Flow {
            af: w.af,
            saddr: [0; 16],
            daddr: daddr(w.af, n),
            sport: [0; 2],
            dport: [0; 2],
            svc_flags: 0,
            random_below: &mut zeros,
            clock: w.clock,
        };
        let chosen = w
            .state
            .as_mut()
            .expect("start() first")
            .schedule(&w.dests, &mut flow);
        if let Some(i) = chosen {
            let d = &mut w.dests[i];
            match conn {
                Conn::None => {}
                Conn::Active => d.active += 1,
                Conn::Inactive => d.inactive += 1,
            }
        }
        chosen
    }

    fn show(i: Option<usize>) -> String {
        i.map_or(String::from("-"), |i| i.to_string())
    }

    /// The harness's `to(first, n, conn)`: one connection to each of the addresses `first`,
    /// `first + 1`, ...; the choices as it prints them.
    pub(crate) fn to(w: &mut World, first: u32, n: u32, conn: Conn) -> String {
        let picks: Vec<String> = (0..n).map(|i| show(pick(w, first + i, conn))).collect();
        picks.join(" ")
    }

    /// The harness's `rep(a, n, conn)`: `n` connections to the address `a`.
    pub(crate) fn rep(w: &mut World, a: u32, n: u32, conn: Conn) -> String {
        let picks: Vec<String> = (0..n).map(|_| show(pick(w, a, conn))).collect();
        picks.join(" ")
    }

    /// The harness's `fill(first, n)`: as [`to`] without connections or output.
    pub(crate) fn fill(w: &mut World, first: u32, n: u32) {
        for i in 0..n {
            pick(w, first + i, Conn::None);
        }
    }

    /// The harness's `entries()`: the number of remembered addresses.
    pub(crate) fn entries(w: &World) -> usize {
        match &w.state {
            Some(SchedState::LocalityLeastConnection(s)) => s.entries(),
            Some(SchedState::LocalityReplicated(s)) => s.entries(),
            _ => panic!("not lblc or lblcr"),
        }
    }

    /// The harness's `passes(n, step)`: `n` collection passes, the clock advanced by `step`
    /// before each; the entry count after each.
    pub(crate) fn passes(w: &mut World, n: usize, step: u64) -> String {
        let mut out = Vec::new();
        for _ in 0..n {
            w.clock.now = w.clock.now.wrapping_add(step);
            w.state
                .as_mut()
                .expect("start() first")
                .check_expire(&w.clock);
            out.push(entries(w).to_string());
        }
        out.join(" ")
    }

    /// The harness's `conns(id, act, inact)`: sets a destination's connection counts.
    pub(crate) fn conns(w: &mut World, id: u64, active: u32, inactive: u32) {
        let d = w.dests.iter_mut().find(|d| d.id == id).unwrap();
        d.active = active;
        d.inactive = inactive;
    }

    /// The harness's `expiration(t)`: both sysctls, in ticks.
    pub(crate) fn expiration(w: &mut World, ticks: i32) {
        w.clock.lblc_expiration = ticks;
        w.clock.lblcr_expiration = ticks;
    }

    /// The harness's `at(j)`: sets `jiffies`.
    pub(crate) fn at(w: &mut World, now: u64) {
        w.clock.now = now;
    }

    /// A transcript of a script, one line per harness `title`: `name: output`.
    #[derive(Default)]
    pub(crate) struct Transcript(pub(crate) String);

    impl Transcript {
        pub(crate) fn line(&mut self, name: &str, output: impl core::fmt::Display) {
            self.0 += &std::format!("{name}: {output}\n");
        }
    }

    /// The collection scripts the C harness runs for both `lblc` and `lblcr` (its `for (k ...)`
    /// loop), each on a fresh service of `kind`; the transcript of each is the harness's output
    /// without the scheduler's name before each title.
    pub(crate) mod scripts {
        use super::*;

        /// Two destinations, as the harness's `put(2,1,0,0,0); put(1,1,0,0,0); start();`.
        fn two(kind: Scheduler) -> World {
            let mut w = world(kind);
            w.put(2, 1, 0, 0, false);
            w.put(1, 1, 0, 0, false);
            w.start();
            w
        }

        /// One destination, as `put(1,1,0,0,0); start();`.
        fn one(kind: Scheduler) -> World {
            let mut w = world(kind);
            w.put(1, 1, 0, 0, false);
            w.start();
            w
        }

        /// Entries unused for the expiration (5 minutes) go on the 30th pass only, and again
        /// 30 passes later: passes 1 minute apart.
        pub(crate) fn full_expiration(kind: Scheduler) -> String {
            let mut w = world(kind);
            expiration(&mut w, 5 * 60 * HZ as i32);
            w.put(2, 1, 0, 0, false);
            w.put(1, 1, 0, 0, false);
            w.start();
            let mut t = Transcript::default();
            fill(&mut w, a(10, 0, 0, 1), 10);
            t.line("full_29", passes(&mut w, 29, 60 * HZ));
            fill(&mut w, a(10, 0, 0, 1), 3);
            t.line("full_30", passes(&mut w, 1, 60 * HZ));
            t.line("full_60", passes(&mut w, 30, 60 * HZ));
            t.0
        }

        /// The full check drops an entry when now >= last use + expiration.
        pub(crate) fn expiration_edge(kind: Scheduler) -> String {
            let mut w = one(kind);
            expiration(&mut w, 1000);
            let mut t = Transcript::default();
            at(&mut w, 5000);
            fill(&mut w, a(10, 0, 0, 1), 2);
            at(&mut w, 5001);
            fill(&mut w, a(10, 0, 0, 3), 1);
            t.line("edge_29", passes(&mut w, 29, 0));
            at(&mut w, 6000);
            t.line("edge_30", passes(&mut w, 1, 0));
            t.line("edge_59", passes(&mut w, 29, 0));
            at(&mut w, 6001);
            t.line("edge_60", passes(&mut w, 1, 0));
            t.0
        }

        /// Expirations of -HZ (the sysctl is an int) and of `INT_MAX` ticks.
        pub(crate) fn extreme_expirations(kind: Scheduler) -> String {
            let mut t = Transcript::default();
            let mut w = one(kind);
            expiration(&mut w, -(HZ as i32));
            at(&mut w, 100);
            fill(&mut w, a(10, 0, 0, 1), 4);
            t.line("negative", passes(&mut w, 30, 0));
            let mut w = one(kind);
            expiration(&mut w, i32::MAX);
            at(&mut w, 100);
            fill(&mut w, a(10, 0, 0, 1), 4);
            at(&mut w, 100 + i32::MAX as u64 - 1);
            t.line("intmax_a", passes(&mut w, 30, 0));
            at(&mut w, 100 + i32::MAX as u64);
            t.line("intmax_b", passes(&mut w, 30, 0));
            t.0
        }

        /// More than 16384 entries: passes drop entries unused for 6 minutes, bucket by bucket
        /// from the one after the rover, until 4/3 of the excess is gone.
        pub(crate) fn overfull(kind: Scheduler) -> String {
            let mut w = two(kind);
            let mut t = Transcript::default();
            fill(&mut w, a(10, 1, 0, 0), 20000);
            t.line("over_entries", entries(&w));
            at(&mut w, TIMEOUT - 1);
            t.line("over_fresh", passes(&mut w, 3, 0));
            at(&mut w, TIMEOUT);
            t.line("over_stale", passes(&mut w, 3, 0));
            fill(&mut w, a(10, 2, 0, 0), 6000);
            t.line("over_more", entries(&w));
            t.line("over_rover", passes(&mut w, 3, 0));
            at(&mut w, 2 * TIMEOUT);
            fill(&mut w, a(10, 3, 0, 0), 3000);
            t.line("over_third", entries(&w));
            t.line("over_again", passes(&mut w, 3, 0));
            t.0
        }

        /// The table holds at most 24576 entries, and a pass drops at most 8192.
        pub(crate) fn cap(kind: Scheduler) -> String {
            let mut w = two(kind);
            let mut t = Transcript::default();
            fill(&mut w, a(10, 1, 0, 0), 25000);
            t.line("cap_entries", entries(&w));
            t.line(
                "cap_beyond",
                to(&mut w, a(10, 1, 0, 0) + 24990, 4, Conn::None),
            );
            at(&mut w, TIMEOUT);
            t.line("cap_goal", passes(&mut w, 4, 0));
            t.0
        }

        /// Passes over an overfull table do not count towards the full check.
        pub(crate) fn overfull_passes_do_not_count(kind: Scheduler) -> String {
            let mut w = one(kind);
            expiration(&mut w, 1);
            let mut t = Transcript::default();
            t.line("count_empty", passes(&mut w, 28, 0));
            at(&mut w, 0);
            fill(&mut w, a(10, 1, 0, 0), 10000);
            at(&mut w, TIMEOUT);
            fill(&mut w, a(10, 2, 0, 0), 10000);
            t.line("count_over", passes(&mut w, 1, 0));
            t.line("count_after", passes(&mut w, 3, 0));
            at(&mut w, TIMEOUT + 1);
            t.line("count_full", passes(&mut w, 2, 0));
            t.0
        }

        /// The harness's `goal_addrs`: the first four addresses from 10.5.0.0 in bucket 1, and
        /// the first in bucket 2.
        const GOAL_ADDRS: [u32; 5] = [168100860, 168101847, 168102457, 168103444, 168100250];

        /// A pass stops at the end of the bucket where the goal is reached: 16387 entries (a
        /// goal of 4), of which only 4 in bucket 1 and 1 in bucket 2 are stale; the rover starts
        /// at 0, so bucket 1 is the first visited and bucket 2 is not.
        pub(crate) fn goal_edge(kind: Scheduler) -> String {
            let buckets = GOAL_ADDRS.map(|n| hash_32(n, TAB_BITS));
            assert_eq!(buckets, [1, 1, 1, 1, 2]);
            let mut w = one(kind);
            let mut t = Transcript::default();
            at(&mut w, 0);
            for n in GOAL_ADDRS {
                fill(&mut w, n, 1);
            }
            at(&mut w, TIMEOUT);
            fill(&mut w, a(10, 1, 0, 0), 16382);
            t.line("goal_entries", entries(&w));
            t.line("goal_edge", passes(&mut w, 2, 0));
            t.0
        }

        /// IPv6 destination addresses (2001:db8::/96 + n), folded into the hash.
        pub(crate) fn ipv6(kind: Scheduler) -> String {
            let mut w = world(kind);
            w.af = AF_INET6;
            w.put(2, 1, 0, 0, false);
            w.put(1, 1, 0, 0, false);
            w.start();
            let mut t = Transcript::default();
            fill(&mut w, 1, 20000);
            t.line("v6_entries", entries(&w));
            at(&mut w, TIMEOUT);
            t.line("v6_stale", passes(&mut w, 3, 0));
            fill(&mut w, 100000, 6000);
            at(&mut w, 2 * TIMEOUT);
            t.line("v6_again", passes(&mut w, 3, 0));
            t.0
        }

        /// `jiffies` wrapping around: the full check (expiration 200 ticks) and the overfull
        /// passes compare across the wrap.
        pub(crate) fn jiffies_wrap(kind: Scheduler) -> String {
            let mut w = two(kind);
            expiration(&mut w, 200);
            let mut t = Transcript::default();
            at(&mut w, u64::MAX - 100);
            fill(&mut w, a(10, 0, 0, 1), 3);
            at(&mut w, u64::MAX);
            fill(&mut w, a(10, 0, 0, 4), 1);
            t.line("wrap_29", passes(&mut w, 29, 0));
            at(&mut w, (u64::MAX - 100).wrapping_add(199));
            t.line("wrap_30", passes(&mut w, 1, 0));
            t.line("wrap_59", passes(&mut w, 29, 0));
            at(&mut w, (u64::MAX - 100).wrapping_add(200));
            t.line("wrap_60", passes(&mut w, 1, 0));
            t.line("wrap_89", passes(&mut w, 29, 0));
            at(&mut w, u64::MAX.wrapping_add(200));
            t.line("wrap_90", passes(&mut w, 1, 0));
            let mut w = two(kind);
            at(&mut w, u64::MAX - 10);
            fill(&mut w, a(10, 1, 0, 0), 20000);
            at(&mut w, (u64::MAX - 10).wrapping_add(TIMEOUT - 1));
            t.line("wrap_over_fresh", passes(&mut w, 1, 0));
            at(&mut w, (u64::MAX - 10).wrapping_add(TIMEOUT));
            t.line("wrap_over_stale", passes(&mut w, 2, 0));
            t.0
        }
    }

    /// The address of an entry, for the table's tests.
    fn addr(n: u32) -> [u8; 16] {
        daddr(2, n)
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    struct E {
        addr: [u8; 16],
        last_use: u64,
    }

    impl Entry for E {
        fn addr(&self) -> &[u8; 16] {
            &self.addr
        }
        fn last_use(&self) -> u64 {
            self.last_use
        }
    }

    fn e(n: u32, last_use: u64) -> E {
        E {
            addr: addr(n),
            last_use,
        }
    }

    fn clock(now: u64) -> Clock {
        Clock {
            now,
            hz: HZ,
            lblc_expiration: 0,
            lblcr_expiration: 0,
        }
    }

    #[test]
    fn time_before_wraps_as_jiffies_h() {
        assert!(time_before(1, 2));
        assert!(!time_before(2, 2));
        assert!(!time_before(3, 2));
        // Across the wrap: u64::MAX is just before 0.
        assert!(time_before(u64::MAX, 0));
        assert!(!time_before(0, u64::MAX));
        assert!(time_before(u64::MAX - 5, 4));
        // Up to half the range apart: the sign of the difference decides.
        assert!(time_before(0, 1 << 62));
        assert!(!time_before(1 << 62, 0));
        // Exactly half the range: `(long)(a - b)` is LONG_MIN both ways.
        assert!(time_before(0, 1 << 63));
        assert!(time_before(1 << 63, 0));
    }

    #[test]
    fn after_ticks_sign_extends_the_int() {
        assert_eq!(after_ticks(100, 5), 105);
        assert_eq!(after_ticks(100, -250), u64::MAX - 149);
        assert_eq!(after_ticks(u64::MAX, 1), 0);
        assert_eq!(after_ticks(u64::MAX - 1, i32::MAX), i32::MAX as u64 - 2);
        assert_eq!(after_ticks(0, i32::MIN), (i32::MIN as i64) as u64);
    }

    #[test]
    fn slots_keep_ipvs_list_order() {
        let mut s = Slots::new();
        for v in 1..=4 {
            assert!(s.push(v));
        }
        let order = |s: &Slots<u32>| s.newest_first().copied().collect::<Vec<_>>();
        assert_eq!(order(&s), [4, 3, 2, 1]);
        assert_eq!(s.remove_where(|&v| v == 3 || v == 1), 2);
        assert_eq!(s.len(), 2);
        assert_eq!(order(&s), [4, 2]);
        // Adding closes the holes and keeps the order; the new item is the head.
        assert!(s.push(5));
        assert_eq!(order(&s), [5, 4, 2]);
        assert!(s.push(6));
        assert_eq!(order(&s), [6, 5, 4, 2]);
        assert_eq!(s.len(), 4);
        for v in s.iter_mut() {
            *v *= 10;
        }
        assert_eq!(order(&s), [60, 50, 40, 20]);
        assert_eq!(s.remove_where(|_| true), 4);
        assert_eq!(s.len(), 0);
        assert_eq!(order(&s), []);
        assert!(s.push(7));
        assert_eq!(order(&s), [7]);
    }

    #[test]
    fn table_insert_get_remove() {
        let mut t = Table::new();
        assert_eq!(t.len(), 0);
        t.insert(2, e(1, 10));
        t.insert(2, e(2, 20));
        assert_eq!(t.len(), 2);
        assert_eq!(t.get_mut(2, &addr(1)).map(|e| e.last_use), Some(10));
        assert_eq!(t.get_mut(2, &addr(2)).map(|e| e.last_use), Some(20));
        assert!(t.get_mut(2, &addr(3)).is_none());
        t.remove(2, &addr(1));
        t.remove(2, &addr(3));
        assert_eq!(t.len(), 1);
        assert!(t.get_mut(2, &addr(1)).is_none());
        assert_eq!(t.entries_mut().count(), 1);
        t.remove_where(|e| e.last_use == 20);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn table_is_capped_at_one_and_a_half_times_its_size() {
        let mut t = Table::new();
        for n in 0..MAX_SIZE as u32 * 3 / 2 + 10 {
            t.insert(2, e(n, 0));
        }
        assert_eq!(t.len(), 24576);
        assert!(t.get_mut(2, &addr(24575)).is_some());
        assert!(t.get_mut(2, &addr(24576)).is_none());
        // Room again after a removal.
        t.remove(2, &addr(0));
        t.insert(2, e(30000, 0));
        assert_eq!(t.len(), 24576);
        assert!(t.get_mut(2, &addr(30000)).is_some());
    }

    #[test]
    fn every_30th_pass_is_a_full_check() {
        let mut t = Table::new();
        t.insert(2, e(1, 0));
        t.insert(2, e(2, 5));
        // Passes 1 to 29 only count, whatever the expiration.
        for _ in 0..29 {
            t.check_expire(&clock(1000), 0);
            assert_eq!(t.len(), 2);
        }
        // The 30th drops the entries unused for the expiration: now >= last use + expiration.
        t.check_expire(&clock(1000), 996);
        assert_eq!(t.len(), 1);
        assert!(t.get_mut(2, &addr(2)).is_some());
        // And counting starts again at 1.
        for _ in 0..29 {
            t.check_expire(&clock(1000), 0);
            assert_eq!(t.len(), 1);
        }
        t.check_expire(&clock(1000), 0);
        assert_eq!(t.len(), 0);
    }

    #[test]
    fn is_overloaded_needs_another_under_half_its_weight() {
        use super::super::testing::Fake;
        let fake = |weight, active| Fake {
            id: 0,
            weight,
            active,
            inactive: 0,
            overloaded: false,
        };
        let busy = fake(2, 3);
        assert!(is_overloaded(&busy, &[busy, fake(10, 4)]));
        assert!(!is_overloaded(&busy, &[busy, fake(10, 5)]));
        assert!(!is_overloaded(&fake(3, 3), &[fake(3, 3), fake(10, 0)]));
        // The destination itself may be the one under half its weight: never both at once.
        assert!(!is_overloaded(&busy, &[busy]));
        // `activeconns * 2` wraps as the C int: 2^31 active wraps to 0, under a weight of 1.
        assert!(is_overloaded(&busy, &[busy, fake(1, 1 << 31)]));
    }

    /// The schedulers built on the table.
    const BOTH: [Scheduler; 2] = [
        Scheduler::LocalityLeastConnection,
        Scheduler::LocalityReplicated,
    ];

    #[test]
    fn choices_across_the_jiffies_wrap() {
        // The same for both schedulers: they share the table.
        for kind in BOTH {
            let mut w = world(kind);
            w.put(2, 1, 0, 0, false);
            w.put(1, 1, 0, 0, false);
            w.start();
            w.clock.now = u64::MAX - 1;
            let mut t = Transcript::default();
            t.line("wrap_sched", to(&mut w, a(10, 0, 1, 1), 4, Conn::Active));
            w.clock.now = 1;
            t.line("wrap_sched2", to(&mut w, a(10, 0, 1, 1), 4, Conn::Active));
            assert_eq!(
                t.0,
                concat!("wrap_sched: 0 1 0 1\n", "wrap_sched2: 0 1 0 1\n")
            );
        }
    }

    #[test]
    fn full_expiration_on_the_30th_pass() {
        // The same for both schedulers: they share the table.
        for kind in BOTH {
            assert_eq!(
                scripts::full_expiration(kind),
                concat!(
                    "full_29: 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 10 ",
                    "10 10 10 10 10 10 10 10 10 10 10\n",
                    "full_30: 3\n",
                    "full_60: 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 ",
                    "3 3 0\n"
                )
            );
            assert_eq!(
                scripts::expiration_edge(kind),
                concat!(
                    "edge_29: 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 3 ",
                    "3 3\n",
                    "edge_30: 1\n",
                    "edge_59: 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ",
                    "1 1\n",
                    "edge_60: 0\n"
                )
            );
            assert_eq!(
                scripts::extreme_expirations(kind),
                concat!(
                    "negative: 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 ",
                    "4 4 0\n",
                    "intmax_a: 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 ",
                    "4 4 4\n",
                    "intmax_b: 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 ",
                    "4 4 0\n"
                )
            );
        }
    }

    #[test]
    fn an_overfull_table_drops_entries_unused_for_6_minutes() {
        // The same for both schedulers: they share the table.
        for kind in BOTH {
            assert_eq!(
                scripts::overfull(kind),
                concat!(
                    "over_entries: 20000\n",
                    "over_fresh: 20000 20000 20000\n",
                    "over_stale: 15175 15175 15175\n",
                    "over_more: 21175\n",
                    "over_rover: 14768 14768 14768\n",
                    "over_third: 17768\n",
                    "over_again: 15915 15915 15915\n"
                )
            );
            assert_eq!(
                scripts::cap(kind),
                concat!(
                    "cap_entries: 24576\n",
                    "cap_beyond: 0 0 0 0\n",
                    "cap_goal: 16367 16367 16367 16367\n"
                )
            );
            assert_eq!(
                scripts::overfull_passes_do_not_count(kind),
                concat!(
                    "count_empty: 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 0 ",
                    "0 0 0\n",
                    "count_over: 15175\n",
                    "count_after: 15175 10000 10000\n",
                    "count_full: 10000 10000\n"
                )
            );
            assert_eq!(
                scripts::goal_edge(kind),
                concat!("goal_entries: 16387\n", "goal_edge: 16383 16383\n")
            );
            assert_eq!(
                scripts::ipv6(kind),
                concat!(
                    "v6_entries: 20000\n",
                    "v6_stale: 15177 15177 15177\n",
                    "v6_again: 14778 14778 14778\n"
                )
            );
        }
    }

    #[test]
    fn expiry_across_the_jiffies_wrap() {
        // The same for both schedulers: they share the table.
        for kind in BOTH {
            assert_eq!(
                scripts::jiffies_wrap(kind),
                concat!(
                    "wrap_29: 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 ",
                    "4 4\n",
                    "wrap_30: 4\n",
                    "wrap_59: 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 4 ",
                    "4 4\n",
                    "wrap_60: 1\n",
                    "wrap_89: 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 1 ",
                    "1 1\n",
                    "wrap_90: 0\n",
                    "wrap_over_fresh: 20000\n",
                    "wrap_over_stale: 15175 15175\n"
                )
            );
        }
    }
}
