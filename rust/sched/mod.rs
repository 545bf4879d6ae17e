// SPDX-License-Identifier: GPL-2.0

//! Schedulers: how a service picks a destination for a new connection.
//!
//! A service binds a scheduler by name, as IPVS binds `ip_vs_<name>`; an unknown name is refused
//! with `-ENOENT`, and `"none"` means no scheduler. Each scheduler lives in its own file, mirroring
//! its IPVS C file (`rr`, `wrr`, `lc`, `wlc`, `sed`, `nq`, `lblc`, `lblcr`, `fo`, `ovf`, `twos`,
//! `dh`, `sh`, `mh`; `locality` holds what `lblc` and `lblcr` share); this file is the registry
//! and the interface the service uses.
//!
//! The schedulers are plain, kernel-independent code over a slice of destinations given in the
//! order of IPVS's `svc->destinations` list: IPVS adds a new destination at the list head, so index
//! 0 is the most recently added one. The order decides ties and where the round robins go next, so
//! callers must keep it. The per-service state (IPVS's `svc->sched_data`) is [`SchedState`]; the
//! caller serialises calls on it (IPVS's `svc->sched_lock`) and tells it about every change of the
//! list with [`SchedState::dests_changed`], as IPVS calls `add_dest`, `del_dest` and `upd_dest`.
//!
//! The hashing schedulers (`dh`, `sh`, `mh`), the locality-based ones (`lblc`, `lblcr`) and the
//! random one (`twos`) also look at the packet that opens the connection, which the caller
//! describes with a [`Flow`]. The locality-based ones also keep time: they need the clock with
//! each packet and a periodic [`SchedState::check_expire`].

#![deny(unsafe_code)]

mod dh;
mod fo;
mod lblc;
mod lblcr;
mod lc;
pub(crate) mod locality;
mod mh;
mod nq;
mod ovf;
mod rr;
mod sed;
mod sh;
#[cfg(test)]
pub(crate) mod testing;
mod twos;
mod wlc;
mod wrr;

// `AF_INET6`: the address family whose addresses `dh` and `sh` fold from 128 to 32 bits.
use crate::abi::AF_INET6;

/// What a scheduler may look at in the packet that opens a connection.
///
/// `rr`, `wrr`, `lc`, `wlc`, `sed`, `nq`, `fo` and `ovf` ignore it; `dh` hashes `daddr`, `sh`
/// hashes `saddr` (and `sport` with `sh-port`), `twos` draws from `random_below`.
pub(crate) struct Flow<'a> {
    /// The service's address family (`svc->af`): 2 = `AF_INET`, 10 = `AF_INET6`.
    pub(crate) af: u16,
    /// The source address in wire bytes; IPv4 in the first 4 bytes. For a packet IPVS schedules
    /// inverted (`ip_vs_iph_inverse`), the caller puts the client's address here, as `sh` takes
    /// `iph->daddr` then.
    pub(crate) saddr: [u8; 16],
    /// The destination address in wire bytes; IPv4 in the first 4 bytes.
    pub(crate) daddr: [u8; 16],
    /// The source port in wire bytes (network order), for `sh-port`. As in
    /// `ip_vs_sh_get_port`: the client's port for TCP, UDP and SCTP, and 0 for other protocols
    /// or when the ports cannot be read.
    pub(crate) sport: [u8; 2],
    /// The destination port in wire bytes (network order). No IPVS scheduler of this module
    /// reads it; it completes the packet's description for the caller and for future schedulers.
    #[allow(dead_code)]
    pub(crate) dport: [u8; 2],
    /// The service's flags (IP_VS_SVC_F_*), for sh-fallback / sh-port.
    pub(crate) svc_flags: u32,
    /// A uniformly random number below the bound (the kernel's `get_random_u32_below`), for
    /// `twos`. A bound of 0 asks for any `u32`, as `__get_random_u32_below(0)` returns one: `twos`
    /// passes 0 only when its total weight wraps around, as in IPVS.
    pub(crate) random_below: &'a mut dyn FnMut(u32) -> u32,
    /// The time and the expiration sysctls, for `lblc` and `lblcr`.
    pub(crate) clock: locality::Clock,
}

/// One scheduler (IPVS's `struct ip_vs_scheduler`): its name and its per-service state
/// (`svc->sched_data`). Each lives in its own file and is listed once, in [`schedulers!`].
pub(crate) trait Algorithm: Sized + Send + core::fmt::Debug {
    /// The name a service binds it by (`ipvsadm -s NAME`).
    const NAME: &'static str;

    /// The state of a new service whose destinations are `dests` (`init_service`).
    fn new<C: Candidate>(dests: &[C]) -> Self;

    /// The destination list changed (`add_dest`, `del_dest`, `upd_dest`); nothing by default.
    fn dests_changed<C: Candidate>(&mut self, _dests: &[C]) {}

    /// Picks a destination for a new connection (`schedule`): its index in `dests`.
    fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &mut Flow<'_>) -> Option<usize>;

    /// The periodic collection of stale state; nothing by default.
    fn check_expire(&mut self, _clock: &locality::Clock) {}
}

/// The list of schedulers: `Variant => type` each. Generates [`Scheduler`], the choice of one,
/// and [`SchedState`], the state of a service's, with the dispatch of [`Algorithm`] to each.
macro_rules! schedulers {
    ($($(#[$doc:meta])* $variant:ident => $algorithm:ty,)*) => {
        /// A scheduling algorithm.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub(crate) enum Scheduler {
            $($(#[$doc])* $variant,)*
        }

        /// Every scheduler.
        const ALL: &[Scheduler] = &[$(Scheduler::$variant,)*];

        impl Scheduler {
            /// The IPVS name of the scheduler.
            pub(crate) fn name(self) -> &'static str {
                match self {
                    $(Scheduler::$variant => <$algorithm as Algorithm>::NAME,)*
                }
            }

            /// The initial state for a service whose destinations are `dests` (IPVS
            /// `init_service`).
            pub(crate) fn new_state<C: Candidate>(self, dests: &[C]) -> SchedState {
                match self {
                    $(Scheduler::$variant => {
                        SchedState::$variant(<$algorithm as Algorithm>::new(dests))
                    })*
                }
            }
        }

        /// The mutable per-service scheduler state (IPVS's svc->sched_data), owned by the
        /// service and protected by the caller's lock. Send; allocates only when it is created
        /// (`mh`'s 8 KiB lookup table, on the heap because kernel stack frames cannot hold it),
        /// never under the lock. `sh`'s bucket table (some 260 bytes) stays inline. Not `Copy`,
        /// so that a copy is never implicit.
        #[allow(clippy::large_enum_variant)]
        #[derive(Debug)]
        #[cfg_attr(not(target_os = "none"), derive(Clone, PartialEq, Eq))]
        pub(crate) enum SchedState {
            $($(#[$doc])* $variant($algorithm),)*
        }

        impl SchedState {
            /// The scheduler this is the state of.
            #[cfg(test)]
            pub(crate) fn scheduler(&self) -> Scheduler {
                match self {
                    $(SchedState::$variant(_) => Scheduler::$variant,)*
                }
            }

            /// The destination list changed (IPVS add_dest / del_dest / upd_dest callbacks);
            /// `dests` is the new list.
            ///
            /// Call it after every single addition, deletion or edit, as IPVS calls its
            /// callbacks: `rr` follows a deleted cursor destination by its position, which one
            /// call for several changes cannot always reconstruct (see `rr`). Call it for an edit
            /// that changes nothing too (IPVS calls `upd_dest` for every edit, and `wrr` restarts
            /// at the list head then), but not when only connection counts or the overload flag
            /// change: IPVS calls nothing for those.
            pub(crate) fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
                match self {
                    $(SchedState::$variant(s) => Algorithm::dests_changed(s, dests),)*
                }
            }

            /// Picks a destination for a new connection (IPVS schedule); returns its index in
            /// `dests`, or None when no destination is available (IPVS logs "no destination
            /// available" and the packet is refused).
            ///
            /// `flow` is the packet that opens the connection; it is `&mut` because `twos` draws
            /// from its `random_below`.
            pub(crate) fn schedule<C: Candidate>(
                &mut self,
                dests: &[C],
                flow: &mut Flow<'_>,
            ) -> Option<usize> {
                match self {
                    $(SchedState::$variant(s) => Algorithm::schedule(s, dests, flow),)*
                }
            }

            /// The periodic collection of stale state, due every
            /// [`locality::CHECK_EXPIRE_INTERVAL_SECS`] (IPVS's per-service timers of `lblc`
            /// and `lblcr`); nothing for the other schedulers.
            pub(crate) fn check_expire(&mut self, clock: &locality::Clock) {
                match self {
                    $(SchedState::$variant(s) => Algorithm::check_expire(s, clock),)*
                }
            }
        }
    };
}

schedulers! {
    /// Round robin.
    RoundRobin => rr::RoundRobin,
    /// Weighted round robin.
    WeightedRoundRobin => wrr::WeightedRoundRobin,
    /// Least connection.
    LeastConnection => lc::LeastConnection,
    /// Weighted least connection (ipvsadm's default).
    WeightedLeastConnection => wlc::WeightedLeastConnection,
    /// Shortest expected delay.
    ShortestExpectedDelay => sed::ShortestExpectedDelay,
    /// Never queue.
    NeverQueue => nq::NeverQueue,
    /// Locality-based least connection.
    LocalityLeastConnection => lblc::LocalityLeastConnection,
    /// Locality-based least connection with replication.
    LocalityReplicated => lblcr::LocalityReplicated,
    /// Weighted failover.
    WeightedFailover => fo::WeightedFailover,
    /// Weighted overflow.
    WeightedOverflow => ovf::WeightedOverflow,
    /// Power of two choices.
    TwoChoices => twos::TwoChoices,
    /// Destination hashing.
    DestinationHashing => dh::DestinationHashing,
    /// Source hashing.
    SourceHashing => sh::SourceHashing,
    /// Maglev hashing.
    MaglevHashing => mh::MaglevHashing,
}

impl Scheduler {
    /// Looks a scheduler up by its IPVS name.
    pub(crate) fn by_name(name: &[u8]) -> Option<Self> {
        ALL.iter().copied().find(|s| s.name().as_bytes() == name)
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
    /// The last weight (`dest->last_weight`), which `mh` builds its table from so that setting
    /// a weight to 0 keeps the destination's slots: IPVS sets it to the weight when the
    /// destination is added (even to 0) and on every edit to a non-0 weight
    /// (`__ip_vs_update_dest`). The default, the current weight, is right only for destinations
    /// whose weight never went from non-0 to 0.
    fn last_weight(&self) -> i32 {
        self.weight()
    }
    /// The destination's address (`dest->addr`) in wire bytes, IPv4 in the first 4 and the rest
    /// zero, which `mh` hashes into the destination's permutation. The default (all zeros) gives
    /// every destination the same permutation.
    fn addr(&self) -> [u8; 16] {
        [0; 16]
    }
    /// The destination's port (`dest->port`) in wire bytes (network order), hashed by `mh` with
    /// the address. The default is 0.
    fn port(&self) -> [u8; 2] {
        [0; 2]
    }
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

/// `GOLDEN_RATIO_32` of Linux 6.12's `include/linux/hash.h`.
const GOLDEN_RATIO_32: u32 = 0x61C8_8647;

/// `hash_32` of Linux 6.12's `include/linux/hash.h`: the top `bits` bits of `val * GOLDEN_RATIO_32`
/// (the generic `__hash_32`, which x86 and arm64 use: they have no `CONFIG_HAVE_ARCH_HASH`).
/// `bits` must be in 1..=32; the schedulers pass their table's 8.
pub(crate) fn hash_32(val: u32, bits: u32) -> u32 {
    // `checked_shr` cannot fail for bits in 1..=32; a bits of 0 (never passed) gives 0.
    val.wrapping_mul(GOLDEN_RATIO_32)
        .checked_shr(32u32.wrapping_sub(bits))
        .unwrap_or(0)
}

/// The 32 bits `dh` and `sh` hash of an address, in host order: `ntohl(addr->ip)`, or for IPv6 the
/// `ntohl` of the XOR of its four big-endian words (their `addr_fold`; the XOR commutes with the
/// byte swap, so the words are swapped first here).
pub(crate) fn addr_fold(af: u16, addr: &[u8; 16]) -> u32 {
    // The address's four 32-bit words, in host order (the conversion cannot fail on 4 bytes).
    let mut words = addr
        .chunks_exact(4)
        .map(|w| <[u8; 4]>::try_from(w).map_or(0, u32::from_be_bytes));
    if af == AF_INET6 {
        words.fold(0, |fold, w| fold ^ w)
    } else {
        words.next().unwrap_or(0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for &s in ALL {
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
        // wrr, sed, fo and ovf prefer the heavy one, lc, wlc and nq the idle one, rr goes in list
        // order; twos with a random source of zeros, dh and sh with all-zero addresses (hash 0)
        // take the first, and so does mh (all-zero destination addresses too; the C harness of
        // mh.rs gives 0 0 0).
        let dests = [fake(1, 1, 0), fake(2, 5, 1), fake(3, 1, 2)];
        let mut zeros = |_bound: u32| 0;
        let mut flow = Flow {
            af: 2,
            saddr: [0; 16],
            daddr: [0; 16],
            sport: [0; 2],
            dport: [0; 2],
            svc_flags: 0,
            random_below: &mut zeros,
            clock: locality::Clock::default(),
        };
        for (s, picks) in [
            (Scheduler::RoundRobin, [0, 1, 2]),
            (Scheduler::WeightedRoundRobin, [1, 1, 1]),
            (Scheduler::LeastConnection, [0, 0, 0]),
            (Scheduler::WeightedLeastConnection, [0, 0, 0]),
            (Scheduler::ShortestExpectedDelay, [1, 1, 1]),
            (Scheduler::NeverQueue, [0, 0, 0]),
            (Scheduler::LocalityLeastConnection, [0, 0, 0]),
            (Scheduler::LocalityReplicated, [0, 0, 0]),
            (Scheduler::WeightedFailover, [1, 1, 1]),
            (Scheduler::WeightedOverflow, [1, 1, 1]),
            (Scheduler::TwoChoices, [0, 0, 0]),
            (Scheduler::DestinationHashing, [0, 0, 0]),
            (Scheduler::SourceHashing, [0, 0, 0]),
            (Scheduler::MaglevHashing, [0, 0, 0]),
        ] {
            let mut state = s.new_state(&dests);
            assert_eq!(state.scheduler(), s);
            for want in picks {
                assert_eq!(
                    state.schedule(&dests, &mut flow),
                    Some(want),
                    "{}",
                    s.name()
                );
            }
            state.dests_changed(&dests[..0]);
            assert_eq!(state.schedule(&dests[..0], &mut flow), None, "{}", s.name());
        }
    }

    #[test]
    fn state_is_plain_data() {
        fn send_clone<T: Send + Clone + 'static>() {}
        send_clone::<SchedState>();
        // mh's table (4093 u16 slots, 8186 bytes) dominates: a service allocates the state once,
        // inline tables being the price of no allocation. Keep it from growing further.
        assert!(core::mem::size_of::<SchedState>() <= 8192);
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
