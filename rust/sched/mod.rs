// SPDX-License-Identifier: GPL-2.0

//! Schedulers: how a service picks a destination for a new connection.
//!
//! A service binds a scheduler by name, as IPVS binds `ip_vs_<name>`; an unknown name is refused
//! with `-ENOENT`, and `"none"` means no scheduler. Each scheduler lives in its own file, mirroring
//! its IPVS C file (`rr`, `wrr`, `lc`, `wlc`); this file is the registry and the interface the
//! service uses.
//!
//! The schedulers are plain, kernel-independent code over a slice of destinations given in the
//! order of IPVS's `svc->destinations` list: IPVS adds a new destination at the list head, so index
//! 0 is the most recently added one. The order decides ties and where the round robins go next, so
//! callers must keep it. The per-service state (IPVS's `svc->sched_data`) is [`SchedState`]; the
//! caller serialises calls on it (IPVS's `svc->sched_lock`) and tells it about every change of the
//! list with [`SchedState::dests_changed`], as IPVS calls `add_dest`, `del_dest` and `upd_dest`.

#![deny(unsafe_code)]

mod lc;
mod rr;
mod wlc;
mod wrr;

/// A scheduling algorithm.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheduler {
    /// Round robin.
    RoundRobin,
    /// Weighted round robin.
    WeightedRoundRobin,
    /// Least connection.
    LeastConnection,
    /// Weighted least connection (ipvsadm's default).
    WeightedLeastConnection,
}

const ALL: [Scheduler; 4] = [
    Scheduler::RoundRobin,
    Scheduler::WeightedRoundRobin,
    Scheduler::LeastConnection,
    Scheduler::WeightedLeastConnection,
];

impl Scheduler {
    /// The IPVS name of the scheduler.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Scheduler::RoundRobin => "rr",
            Scheduler::WeightedRoundRobin => "wrr",
            Scheduler::LeastConnection => "lc",
            Scheduler::WeightedLeastConnection => "wlc",
        }
    }

    /// Looks a scheduler up by its IPVS name.
    pub(crate) fn by_name(name: &[u8]) -> Option<Self> {
        ALL.into_iter().find(|s| s.name().as_bytes() == name)
    }
}

/// What a service's scheduler name selects: `Ok(None)` for `"none"`, `Err(())` if unknown.
pub(crate) fn lookup(name: &[u8]) -> Result<Option<Scheduler>, ()> {
    if name == b"none" {
        return Ok(None);
    }
    Scheduler::by_name(name).map(Some).ok_or(())
}

/// What a scheduler sees of a destination (implemented by the module's Dest type and by test fakes).
pub(crate) trait Candidate {
    /// A unique identity of the destination that stays the same across configuration changes
    /// (used to find the previously chosen destination again after the list changed).
    fn id(&self) -> u64;
    /// The weight (`dest->weight`); 0 quiesces the destination.
    fn weight(&self) -> i32;
    /// The active connection count (`dest->activeconns`).
    fn active_conns(&self) -> u32;
    /// The inactive connection count (what `ip_vs_dest_inactconns` reports).
    fn inactive_conns(&self) -> u32;
    /// IP_VS_DEST_F_OVERLOAD is set (upper connection threshold reached).
    fn overloaded(&self) -> bool;
}

/// The connection overhead of a destination, `ip_vs_dest_conn_overhead` of Linux 6.12's
/// `include/net/ip_vs.h`: `(activeconns << 8) + totalconns`.
///
/// IPVS counts `totalconns` (active and inactive connections) and derives the inactive count from
/// it, so here `totalconns` is the sum of the two counts. The arithmetic is that of the C `int`s,
/// which the kernel (built with `-fno-strict-overflow`) lets wrap: beyond 2^23 active connections
/// the overhead wraps exactly as it does in IPVS, and nothing here can panic.
pub(crate) fn conn_overhead<C: Candidate>(dest: &C) -> i32 {
    // `as` reinterprets the counts as the C `atomic_t` ints they are in IPVS.
    let active = dest.active_conns() as i32;
    let total = dest.active_conns().wrapping_add(dest.inactive_conns()) as i32;
    active.wrapping_shl(8).wrapping_add(total)
}

/// The mutable per-service scheduler state (IPVS's svc->sched_data), owned by the service and
/// protected by the caller's lock. Plain data: no allocation, Send.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SchedState {
    /// Round robin: the cursor.
    RoundRobin(rr::RoundRobin),
    /// Weighted round robin: IPVS's `struct ip_vs_wrr_mark`.
    WeightedRoundRobin(wrr::WeightedRoundRobin),
    /// Least connection: stateless.
    LeastConnection,
    /// Weighted least connection: stateless.
    WeightedLeastConnection,
}

impl Scheduler {
    /// The initial state for a service whose destinations are `dests` (IPVS init_service).
    pub(crate) fn new_state<C: Candidate>(self, dests: &[C]) -> SchedState {
        match self {
            Scheduler::RoundRobin => SchedState::RoundRobin(rr::RoundRobin::new()),
            Scheduler::WeightedRoundRobin => {
                SchedState::WeightedRoundRobin(wrr::WeightedRoundRobin::new(dests))
            }
            Scheduler::LeastConnection => SchedState::LeastConnection,
            Scheduler::WeightedLeastConnection => SchedState::WeightedLeastConnection,
        }
    }
}

impl SchedState {
    /// The scheduler this is the state of.
    #[cfg(test)]
    pub(crate) fn scheduler(&self) -> Scheduler {
        match self {
            SchedState::RoundRobin(_) => Scheduler::RoundRobin,
            SchedState::WeightedRoundRobin(_) => Scheduler::WeightedRoundRobin,
            SchedState::LeastConnection => Scheduler::LeastConnection,
            SchedState::WeightedLeastConnection => Scheduler::WeightedLeastConnection,
        }
    }

    /// The destination list changed (IPVS add_dest / del_dest / upd_dest callbacks); `dests` is the new list.
    ///
    /// Call it after every single addition, deletion or edit, as IPVS calls its callbacks: `rr`
    /// follows a deleted cursor destination by its position, which one call for several changes
    /// cannot always reconstruct (see `rr`). Call it for an edit that changes nothing too (IPVS
    /// calls `upd_dest` for every edit, and `wrr` restarts at the list head then), but not when
    /// only connection counts or the overload flag change: IPVS calls nothing for those.
    pub(crate) fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        match self {
            SchedState::RoundRobin(s) => s.dests_changed(dests),
            SchedState::WeightedRoundRobin(s) => s.dests_changed(dests),
            SchedState::LeastConnection | SchedState::WeightedLeastConnection => {}
        }
    }

    /// Picks a destination for a new connection (IPVS schedule); returns its index in `dests`,
    /// or None when no destination is available (IPVS logs "no destination available" and the packet is refused).
    pub(crate) fn schedule<C: Candidate>(&mut self, dests: &[C]) -> Option<usize> {
        match self {
            SchedState::RoundRobin(s) => s.schedule(dests),
            SchedState::WeightedRoundRobin(s) => s.schedule(dests),
            SchedState::LeastConnection => lc::schedule(dests),
            SchedState::WeightedLeastConnection => wlc::schedule(dests),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for s in ALL {
            assert_eq!(lookup(s.name().as_bytes()), Ok(Some(s)));
        }
        assert_eq!(lookup(b"none"), Ok(None));
        assert_eq!(lookup(b"nosuch"), Err(()));
        assert_eq!(lookup(b""), Err(()));
        assert_eq!(lookup(b"RR"), Err(()));
    }

    #[test]
    fn states_dispatch_to_their_scheduler() {
        use testing::Fake;
        let fake = |id, weight, active| Fake {
            id,
            weight,
            active,
            inactive: 0,
            overloaded: false,
        };
        // wrr prefers the heavy one, lc and wlc the idle one, rr goes in list order.
        let dests = [fake(1, 1, 0), fake(2, 5, 1), fake(3, 1, 2)];
        for (s, picks) in [
            (Scheduler::RoundRobin, [Some(0), Some(1), Some(2)]),
            (Scheduler::WeightedRoundRobin, [Some(1), Some(1), Some(1)]),
            (Scheduler::LeastConnection, [Some(0), Some(0), Some(0)]),
            (
                Scheduler::WeightedLeastConnection,
                [Some(0), Some(0), Some(0)],
            ),
        ] {
            let mut state = s.new_state(&dests);
            assert_eq!(state.scheduler(), s);
            for want in picks {
                assert_eq!(state.schedule(&dests), want, "{}", s.name());
            }
            state.dests_changed(&dests[..0]);
            assert_eq!(state.schedule(&dests[..0]), None, "{}", s.name());
        }
    }

    #[test]
    fn state_is_plain_data() {
        fn send_copy<T: Send + Copy + 'static>() {}
        send_copy::<SchedState>();
    }

    #[test]
    fn overhead_formula_of_6_12() {
        use testing::Fake;
        let fake = |active, inactive| Fake {
            id: 0,
            weight: 1,
            active,
            inactive,
            overloaded: false,
        };
        assert_eq!(conn_overhead(&fake(0, 0)), 0);
        assert_eq!(conn_overhead(&fake(0, 7)), 7);
        assert_eq!(conn_overhead(&fake(1, 0)), 257);
        assert_eq!(conn_overhead(&fake(3, 5)), 3 * 257 + 5);
        // The C int wraps; nothing panics.
        assert_eq!(conn_overhead(&fake(1 << 24, 0)), 1 << 24);
        assert_eq!(conn_overhead(&fake(u32::MAX, u32::MAX)), -258);
    }
}

/// A scripted service for the schedulers' tests, driven like the host C harness that produced
/// their expected values (see the tests of each scheduler).
#[cfg(test)]
pub(crate) mod testing {
    use super::{Candidate, SchedState, Scheduler};
    use std::string::String;
    use std::vec::Vec;

    /// A fake destination.
    #[derive(Clone, Copy, Debug)]
    pub(crate) struct Fake {
        pub(crate) id: u64,
        pub(crate) weight: i32,
        pub(crate) active: u32,
        pub(crate) inactive: u32,
        pub(crate) overloaded: bool,
    }

    impl Candidate for Fake {
        fn id(&self) -> u64 {
            self.id
        }
        fn weight(&self) -> i32 {
            self.weight
        }
        fn active_conns(&self) -> u32 {
            self.active
        }
        fn inactive_conns(&self) -> u32 {
            self.inactive
        }
        fn overloaded(&self) -> bool {
            self.overloaded
        }
    }

    /// What a scheduled connection adds to its destination's counts.
    #[derive(Clone, Copy, PartialEq, Eq)]
    pub(crate) enum Conn {
        /// Nothing.
        None,
        /// One active connection.
        Active,
        /// One inactive connection.
        Inactive,
    }

    /// A service: its destination list in IPVS's list order and its scheduler state.
    pub(crate) struct World {
        pub(crate) kind: Scheduler,
        pub(crate) dests: Vec<Fake>,
        pub(crate) state: Option<SchedState>,
    }

    impl World {
        /// A service without destinations that will use `kind`.
        pub(crate) fn new(kind: Scheduler) -> Self {
            World {
                kind,
                dests: Vec::new(),
                state: None,
            }
        }

        fn fake(id: u64, weight: i32, active: u32, inactive: u32, overloaded: bool) -> Fake {
            Fake {
                id,
                weight,
                active,
                inactive,
                overloaded,
            }
        }

        /// Links a destination at the list head without telling the scheduler (setup before
        /// `start`): the last one put is index 0.
        pub(crate) fn put(&mut self, id: u64, weight: i32, act: u32, inact: u32, ovl: bool) {
            self.dests
                .insert(0, Self::fake(id, weight, act, inact, ovl));
        }

        /// Binds the scheduler (IPVS `init_service`).
        pub(crate) fn start(&mut self) {
            self.state = Some(self.kind.new_state(&self.dests));
        }

        fn changed(&mut self) {
            if let Some(state) = self.state.as_mut() {
                state.dests_changed(&self.dests);
            }
        }

        fn index_of(&self, id: u64) -> usize {
            self.dests.iter().position(|d| d.id == id).unwrap()
        }

        /// Adds a destination (at the list head, as IPVS does) and tells the scheduler.
        pub(crate) fn add(&mut self, id: u64, weight: i32, act: u32, inact: u32, ovl: bool) {
            self.put(id, weight, act, inact, ovl);
            self.changed();
        }

        /// Deletes a destination and tells the scheduler.
        pub(crate) fn del(&mut self, id: u64) {
            let i = self.index_of(id);
            self.dests.remove(i);
            self.changed();
        }

        /// Edits a destination's weight and overload flag and tells the scheduler.
        pub(crate) fn upd(&mut self, id: u64, weight: i32, ovl: bool) {
            let i = self.index_of(id);
            self.dests[i].weight = weight;
            self.dests[i].overloaded = ovl;
            self.changed();
        }

        /// Sets or clears the overload flag only: IPVS calls no scheduler callback for that.
        pub(crate) fn ovl(&mut self, id: u64, ovl: bool) {
            let i = self.index_of(id);
            self.dests[i].overloaded = ovl;
        }

        /// Schedules `n` connections and returns the chosen indices as the C harness prints them
        /// (`-` for none), each chosen destination gaining `conn`.
        pub(crate) fn sched(&mut self, n: usize, conn: Conn) -> String {
            let state = self.state.as_mut().expect("start() first");
            let mut out = Vec::new();
            for _ in 0..n {
                match state.schedule(&self.dests) {
                    None => out.push(String::from("-")),
                    Some(i) => {
                        out.push(i.to_string());
                        let d = &mut self.dests[i];
                        match conn {
                            Conn::None => {}
                            Conn::Active => d.active += 1,
                            Conn::Inactive => d.inactive += 1,
                        }
                    }
                }
            }
            out.join(" ")
        }
    }
}
