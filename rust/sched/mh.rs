// SPDX-License-Identifier: GPL-2.0

//! Maglev hashing (`mh`), mirroring `net/netfilter/ipvs/ip_vs_mh.c` of Linux 6.12.
//!
//! Every destination has a preference list of the lookup table's slots, a permutation drawn from
//! a hash of its address and port (`offset` and `skip`). The table is populated by letting the
//! destinations take turns, in list order, each taking its next preferred free slot as many times
//! in a row as its weight share (`turns`), until all slots are taken. A connection goes to the
//! destination in the slot its client's address (with the `mh-port` flag, plus its port) hashes
//! to, if that one is available: a positive weight and not overloaded. Otherwise there is no
//! destination, unless the service has the `mh-fallback` flag: then the address is rehashed with
//! growing offsets and the first available destination found gets it.
//!
//! As in IPVS, the table is built from the destinations' *last* non-0 weights
//! ([`Candidate::last_weight`]): setting a weight to 0 quiesces a destination without moving any
//! other client, the point of consistent hashing. The weights are divided by their gcd and
//! shifted right so that the largest takes at most 63 turns (`ip_vs_mh_gcd_weight`,
//! `ip_vs_mh_shift_weight`).
//!
//! The table size is `primes[CONFIG_IP_VS_MH_TAB_INDEX - 8]` = 4093 for the Kconfig default and
//! the target kernel's `CONFIG_IP_VS_MH_TAB_INDEX=12`. The hash is the kernel's `hsiphash`, which
//! on 64-bit kernels is SipHash-1-3 with its 64-bit result truncated to 32 bits, over the 4 bytes
//! of a host-order `unsigned int` (`lib/siphash.c`); the keys are the fixed constants of
//! `generate_hash_secret`, not random: every IPVS service (and every host) builds the same
//! table for the same destinations, which this module reproduces.
//!
//! Differences from IPVS, all outside what a correct caller can observe except the last two:
//! - The table holds list indices (`u16`, 4093 slots: 8 KiB inline, no allocation) instead of
//!   destination pointers, and is rebuilt from scratch on every change instead of overwritten
//!   in place; IPVS overwrites every slot too, so the contents are the same.
//! - IPVS allocates a `dest_setup` array per rebuild. Here the permutation cursors of the first
//!   [`SETUP_CACHE`] destinations are kept on the stack and those of the others recomputed: a
//!   destination's cursor is the first free slot of its preference list, since every slot before
//!   it is taken and slots are never freed during a rebuild, so walking the list from its start
//!   finds the same slot (at some cost for destinations past the cache).
//! - With more than 4093 destinations IPVS refuses the service (`-EINVAL` from `init_service`)
//!   or keeps its previous table on a change; here the table is emptied: no destination.
//! - The address of a destination is folded as IPVS folds an IPv6 one (XOR of its four words)
//!   whatever the service's family, which [`Candidate`] does not tell: the same value for IPv4
//!   addresses (zero after their first word), but an IPv6 destination of an IPv4 service (which
//!   IPVS allows for tunnels) gets a different permutation than in IPVS, where only its first
//!   word is hashed.

#![deny(unsafe_code)]

use super::{addr_fold, Algorithm, Candidate, Flow, AF_INET6};
use crate::abi::svc_flag;

/// `CONFIG_IP_VS_MH_TAB_INDEX` of the target kernel (and the Kconfig default).
const CONFIG_TAB_INDEX: usize = 12;

/// The C's `primes` table of possible table sizes.
const PRIMES: [u32; 10] = [
    251, 509, 1021, 2039, 4093, 8191, 16381, 32749, 65521, 131071,
];

/// `IP_VS_MH_TAB_BITS`: the largest weight share takes fewer than `1 << TAB_BITS` turns.
const TAB_BITS: u32 = (CONFIG_TAB_INDEX / 2) as u32;

/// `IP_VS_MH_TAB_SIZE` as the C's `unsigned int`. Indexing a constant array in a constant is
/// checked at compile time.
const TAB_SIZE_U32: u32 = PRIMES[CONFIG_TAB_INDEX - 8];

/// `IP_VS_MH_TAB_SIZE`: the number of slots.
pub(crate) const TAB_SIZE: usize = TAB_SIZE_U32 as usize;

/// A free slot (IPVS's NULL `dest`). List indices stay below [`TAB_SIZE`], so they never clash.
const NULL: u16 = u16::MAX;

/// How many destinations keep their permutation cursor on the stack during a rebuild (4 bytes
/// each); the others' are recomputed, see the module documentation.
const SETUP_CACHE: usize = 128;

/// The SipHash key of the `hsiphash_key_t` `hash1` of `generate_hash_secret` (`key[0]`,
/// `key[1]`): the slot of an address, and a destination's `offset`.
const HASH1: [u64; 2] = [2654435761, 2654435761];

/// The key `hash2` of `generate_hash_secret`: a destination's `skip`.
const HASH2: [u64; 2] = [2654446892, 2654446892];

/// One SipHash round (`SIPHASH_PERMUTATION` of `include/linux/siphash.h`).
fn sipround(v: &mut [u64; 4]) {
    let [mut a, mut b, mut c, mut d] = *v;
    a = a.wrapping_add(b);
    b = b.rotate_left(13);
    b ^= a;
    a = a.rotate_left(32);
    c = c.wrapping_add(d);
    d = d.rotate_left(16);
    d ^= c;
    a = a.wrapping_add(d);
    d = d.rotate_left(21);
    d ^= a;
    c = c.wrapping_add(b);
    b = b.rotate_left(17);
    b ^= c;
    c = c.rotate_left(32);
    *v = [a, b, c, d];
}

/// `hsiphash(&v, sizeof(v), key)` on a 64-bit little-endian kernel (x86_64, arm64): SipHash-1-3
/// (`HPREAMBLE`, `HPOSTAMBLE` of `lib/siphash.c`) of the 4 bytes of `v` in memory, which on a
/// little-endian machine are those of `le32(v)`, so the single, final message word is
/// `(4 << 56) | v`. The C returns the 64-bit result as `u32`: its low 32 bits, no folding.
fn hsiphash_u32(v: u32, key: &[u64; 2]) -> u32 {
    let mut s = [
        0x736f_6d65_7073_6575 ^ key[0],
        0x646f_7261_6e64_6f6d ^ key[1],
        0x6c79_6765_6e65_7261 ^ key[0],
        0x7465_6462_7974_6573 ^ key[1],
    ];
    let b = (4u64 << 56) | u64::from(v);
    s[3] ^= b;
    sipround(&mut s);
    s[0] ^= b;
    s[2] ^= 0xff;
    sipround(&mut s);
    sipround(&mut s);
    sipround(&mut s);
    // Truncation is the C's conversion of the u64 result to the u32 return type.
    (s[0] ^ s[1] ^ s[2] ^ s[3]) as u32
}

/// `ip_vs_mh_hashkey`: the hash of an address and host-order port, `offset` added in (the C's
/// `unsigned int` sum, wrapping). Not yet reduced modulo the table size.
fn hashkey(af: u16, addr: &[u8; 16], port: u16, key: &[u64; 2], offset: u32) -> u32 {
    let v = offset
        .wrapping_add(u32::from(port))
        .wrapping_add(addr_fold(af, addr));
    hsiphash_u32(v, key)
}

/// A destination's permutation: its first preferred slot (`offset`) and the step of its
/// preference list (`skip`, in 1..TAB_SIZE, so the list visits every slot of the prime-sized
/// table once). Both below [`TAB_SIZE`], so they fit a `u16`.
fn offset_skip<C: Candidate>(dest: &C) -> (u16, u16) {
    let addr = dest.addr();
    let port = u16::from_be_bytes(dest.port());
    // See the module documentation for why the IPv6 fold stands for the service's family.
    let offset = hashkey(AF_INET6, &addr, port, &HASH1, 0) % TAB_SIZE_U32;
    let skip = hashkey(AF_INET6, &addr, port, &HASH2, 0) % (TAB_SIZE_U32 - 1) + 1;
    (
        u16::try_from(offset).unwrap_or(0),
        u16::try_from(skip).unwrap_or(1),
    )
}

/// `gcd` of `lib/math/gcd.c` for the positive weights it is given here (Euclid's algorithm gives
/// the same result as the kernel's binary one).
fn gcd(mut a: i32, mut b: i32) -> i32 {
    while b > 0 {
        (a, b) = (b, a.checked_rem(b).unwrap_or(0));
    }
    a
}

/// `ip_vs_mh_gcd_weight`: the gcd of the positive last weights, 0 if there are none.
fn gcd_weight<C: Candidate>(dests: &[C]) -> i32 {
    dests
        .iter()
        .map(Candidate::last_weight)
        .filter(|&w| w > 0)
        .fold(0, |g, w| if g > 0 { gcd(w, g) } else { w })
}

/// `fls`: the position of the most significant set bit, 0 for 0.
fn fls(x: u32) -> u32 {
    32 - x.leading_zeros()
}

/// `ip_vs_mh_shift_weight`: how far to shift the gcd-reduced weights right so that the largest
/// fits in `TAB_BITS` bits (and so takes fewer than 64 turns in a row).
fn shift_weight<C: Candidate>(dests: &[C], gcd: i32) -> u32 {
    if gcd < 1 {
        return 0;
    }
    let weight = dests.iter().map(Candidate::last_weight).fold(0, i32::max);
    // Both positive: the quotient is non-negative and the conversion cannot fail.
    let mw = u32::try_from(weight.checked_div(gcd).unwrap_or(0)).unwrap_or(0);
    fls(mw).saturating_sub(TAB_BITS)
}

/// The `turns` of `ip_vs_mh_permutate`: how many slots in a row a destination takes,
/// `((lw / gcd) >> rshift) ?: (lw != 0)`. Below 1 (last weight 0, or negative), none: such a
/// destination is in no slot. `gcd` is at least 1 and `rshift` below 32 here.
fn turns(last_weight: i32, gcd: i32, rshift: u32) -> i32 {
    let t = last_weight
        .checked_div(gcd)
        .unwrap_or(0)
        .checked_shr(rshift)
        .unwrap_or(0);
    if t != 0 {
        t
    } else {
        i32::from(last_weight != 0)
    }
}

/// Whether `dest` may not take the connection (`is_unavailable`).
fn unavailable<C: Candidate>(dest: &C) -> bool {
    dest.weight() <= 0 || dest.overloaded()
}

/// A destination's permutation cursor during a rebuild (`struct ip_vs_mh_dest_setup` without
/// `offset`, only needed to start, and `turns`, cheaper to recompute than to store).
#[derive(Clone, Copy)]
struct Setup {
    /// `perm`: the slot it took last, or its `offset` before it took any.
    perm: u16,
    /// `skip`.
    skip: u16,
}

/// The state of `mh` for one service: IPVS's `struct ip_vs_mh_state` lookup table, holding list
/// indices (the keys are constants, the gcd and shift are recomputed on every rebuild).
#[derive(Debug)]
#[cfg_attr(not(target_os = "none"), derive(Clone, PartialEq, Eq))]
pub(crate) struct MaglevHashing {
    /// The destination index of each slot, [`NULL`] for none.
    lookup: Lookup,
}

/// The lookup table lives on the heap: its 8 KiB would not fit the kernel stack frames that build
/// a service's state (the kernel build targets `target_os = "none"`).
#[cfg(target_os = "none")]
type Lookup = kernel::alloc::KVec<u16>;
#[cfg(not(target_os = "none"))]
type Lookup = std::vec::Vec<u16>;

/// An empty lookup table; without memory, a table of no slots, which schedules nothing.
fn new_lookup() -> Lookup {
    #[cfg(target_os = "none")]
    {
        kernel::alloc::KVec::from_elem(NULL, TAB_SIZE, kernel::alloc::flags::GFP_KERNEL)
            .unwrap_or_else(|_| kernel::alloc::KVec::new())
    }
    #[cfg(not(target_os = "none"))]
    {
        std::vec![NULL; TAB_SIZE]
    }
}

impl MaglevHashing {
    /// The state of a new service over `dests` (`ip_vs_mh_init_svc`).
    pub(crate) fn new<C: Candidate>(dests: &[C]) -> Self {
        let mut state = MaglevHashing {
            lookup: new_lookup(),
        };
        state.dests_changed(dests);
        state
    }

    /// Rebuilds the table from the changed list `dests` (`ip_vs_mh_dest_changed`, which IPVS
    /// calls on every addition, deletion and edit): `ip_vs_mh_permutate` and
    /// `ip_vs_mh_populate`.
    pub(crate) fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        // Every slot is rewritten below when there is a destination with a positive last weight,
        // as in IPVS, so starting from free slots changes nothing but lets a free slot stand for
        // a clear bit of the C's bitmap of taken slots.
        self.lookup.fill(NULL);
        if dests.len() > TAB_SIZE {
            // IPVS's -EINVAL: see the module documentation.
            return;
        }
        let gcd = gcd_weight(dests);
        if gcd < 1 {
            // No destination, or all last weights 0: all slots NULL (`ip_vs_mh_reset`).
            return;
        }
        let rshift = shift_weight(dests, gcd);

        let mut cache = [Setup { perm: 0, skip: 1 }; SETUP_CACHE];
        for (ds, dest) in cache.iter_mut().zip(dests) {
            let (offset, skip) = offset_skip(dest);
            *ds = Setup { perm: offset, skip };
        }

        // The slots taken, and how many in a row the destination at the cursor has taken.
        let mut n = 0usize;
        let mut dt_count: i32 = 0;
        while n < TAB_SIZE {
            let taken = n;
            // One round over the list, as the C's inner loop from the list head.
            let mut i = 0usize;
            while let Some(dest) = dests.get(i) {
                let turns = turns(dest.last_weight(), gcd, rshift);
                // Ignore a destination with no turns (added with weight 0).
                if turns < 1 {
                    i = i.saturating_add(1);
                    continue;
                }
                let mut ds = match cache.get(i) {
                    Some(ds) => *ds,
                    None => {
                        let (perm, skip) = offset_skip(dest);
                        Setup { perm, skip }
                    }
                };
                // Its next free slot along its preference list. The list visits every slot and
                // one is free (n < TAB_SIZE), so the bound is never reached.
                for _ in 0..TAB_SIZE {
                    match self.lookup.get(usize::from(ds.perm)) {
                        Some(&NULL) | None => break,
                        Some(_) => {
                            ds.perm = ds.perm.wrapping_add(ds.skip);
                            if ds.perm >= TAB_SIZE as u16 {
                                ds.perm = ds.perm.wrapping_sub(TAB_SIZE as u16);
                            }
                        }
                    }
                }
                if let Some(slot) = self.lookup.get_mut(usize::from(ds.perm)) {
                    // i < dests.len() <= TAB_SIZE < NULL: the conversion cannot fail.
                    *slot = u16::try_from(i).unwrap_or(NULL);
                }
                if let Some(cached) = cache.get_mut(i) {
                    *cached = ds;
                }
                n = n.saturating_add(1);
                if n >= TAB_SIZE {
                    return;
                }
                dt_count = dt_count.saturating_add(1);
                if dt_count >= turns {
                    dt_count = 0;
                    i = i.saturating_add(1);
                }
            }
            // A round takes at least one slot (gcd >= 1: some destination has turns); this only
            // guards the loop against a list whose weights change while it is read.
            if n == taken {
                return;
            }
        }
    }

    /// The destination in the slot `hash` reduces to: `Err(())` for a free slot (the C's NULL,
    /// which ends a fallback walk), and also for an index beyond the list, which only a caller
    /// that changed the list without telling the state could cause.
    fn slot<'d, C: Candidate>(&self, dests: &'d [C], hash: u32) -> Result<(usize, &'d C), ()> {
        let slot = usize::try_from(hash % TAB_SIZE_U32).map_err(|_| ())?;
        let index = usize::from(*self.lookup.get(slot).ok_or(())?);
        dests.get(index).map(|dest| (index, dest)).ok_or(())
    }

    /// The hashed destination if available, with no fallback (`ip_vs_mh_get`).
    fn get<C: Candidate>(&self, dests: &[C], af: u16, addr: &[u8; 16], port: u16) -> Option<usize> {
        let (index, dest) = self.slot(dests, hashkey(af, addr, port, &HASH1, 0)).ok()?;
        (!unavailable(dest)).then_some(index)
    }

    /// The hashed destination if available, or else the first available one found by rehashing
    /// with offsets from the first slot on (`ip_vs_mh_get_fallback`).
    fn get_fallback<C: Candidate>(
        &self,
        dests: &[C],
        af: u16,
        addr: &[u8; 16],
        port: u16,
    ) -> Option<usize> {
        // First try the destination the client is supposed to go to.
        let ihash = hashkey(af, addr, port, &HASH1, 0) % TAB_SIZE_U32;
        let (index, dest) = self.slot(dests, ihash).ok()?;
        if !unavailable(dest) {
            return Some(index);
        }
        // Then rehash the address with the offsets `ihash`, `ihash + 1`, ... (modulo the table
        // size), as the C does: a free slot ends the search.
        for offset in 0..TAB_SIZE_U32 {
            let roffset = offset.wrapping_add(ihash) % TAB_SIZE_U32;
            let (index, dest) = self
                .slot(dests, hashkey(af, addr, port, &HASH1, roffset))
                .ok()?;
            if !unavailable(dest) {
                return Some(index);
            }
        }
        None
    }

    /// Picks the destination the client hashes to (`ip_vs_mh_schedule`), or `None` if it is
    /// unavailable and the service has no `mh-fallback` (or no destination is available at all).
    pub(crate) fn schedule<C: Candidate>(&self, dests: &[C], flow: &Flow<'_>) -> Option<usize> {
        let port = if flow.svc_flags & svc_flag::SCHED_MH_PORT != 0 {
            u16::from_be_bytes(flow.sport)
        } else {
            0
        };
        if flow.svc_flags & svc_flag::SCHED_MH_FALLBACK != 0 {
            self.get_fallback(dests, flow.af, &flow.saddr, port)
        } else {
            self.get(dests, flow.af, &flow.saddr, port)
        }
    }

    /// The table as the C harness prints it: the first 32 slots as `index,` (`.` for NULL), a
    /// space, and `h = h * 31 + (index + 1)` over all slots (0 for NULL), wrapping.
    #[cfg(test)]
    fn table(&self) -> std::string::String {
        use std::fmt::Write;
        let mut out = std::string::String::new();
        let mut h: u32 = 0;
        for (i, &slot) in self.lookup.iter().enumerate() {
            let value = if slot == NULL { 0 } else { u32::from(slot) + 1 };
            if i < 32 {
                if slot == NULL {
                    out.push('.');
                } else {
                    write!(out, "{slot},").unwrap();
                }
            }
            h = h.wrapping_mul(31).wrapping_add(value);
        }
        write!(out, " {h}").unwrap();
        out
    }
}

impl Algorithm for MaglevHashing {
    const NAME: &'static str = "mh";

    fn new<C: Candidate>(dests: &[C]) -> Self {
        Self::new(dests)
    }

    fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        MaglevHashing::dests_changed(self, dests)
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &mut Flow<'_>) -> Option<usize> {
        MaglevHashing::schedule(self, dests, flow)
    }
}

#[cfg(test)]
mod tests {
    //! The expected values come from a host C harness (`mh.c`) that compiles `ip_vs_mh.c` of
    //! Linux 6.12.117 verbatim (only its `#include`, `KMSG_COMPONENT` and `pr_fmt` lines
    //! removed, built with `gcc -O2 -fwrapv` on x86_64) over `hsiphash` copied from
    //! `include/linux/siphash.h` and `lib/siphash.c` (64-bit, efficient unaligned access),
    //! `gcd` from `lib/math/gcd.c` and `CONFIG_IP_VS_MH_TAB_INDEX=12`, with the same scripts as
    //! below; its output is pasted as is: the index chosen in list order (0 = list head), `-`
    //! for none, and the tables as [`MaglevHashing::table`] prints them. `put` links a
    //! destination at the head, so the last one put is index 0, with its last weight set to its
    //! weight; `upd` sets the weight, and the last weight too unless the new weight is 0 (as
    //! `__ip_vs_update_dest`), and rebuilds the table; `ovl` only sets the overload flag.
    //! `clients(n)` sends one TCP packet from each of 10.0.1.i:(1024 + i), i in 1..=n, to
    //! 192.168.0.1:80; `clients6(n)` from each of 2001:db8::(7i):i to 2001:db8::1.

    use super::super::{Candidate, Flow, SchedState, Scheduler, AF_INET6};
    use super::{hsiphash_u32, MaglevHashing};
    use super::{HASH1, HASH2, TAB_SIZE};
    use crate::abi::svc_flag;
    use std::format;
    use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
    use std::string::String;
    use std::vec::Vec;

    /// A fake destination with what `mh` reads.
    #[derive(Clone, Copy, Debug)]
    struct Dst {
        id: u64,
        addr: [u8; 16],
        port: u16,
        weight: i32,
        last_weight: i32,
        overloaded: bool,
    }

    impl Candidate for Dst {
        fn id(&self) -> u64 {
            self.id
        }
        fn weight(&self) -> i32 {
            self.weight
        }
        fn last_weight(&self) -> i32 {
            self.last_weight
        }
        fn active_conns(&self) -> u32 {
            0
        }
        fn inactive_conns(&self) -> u32 {
            0
        }
        fn overloaded(&self) -> bool {
            self.overloaded
        }
        fn addr(&self) -> [u8; 16] {
            self.addr
        }
        fn port(&self) -> [u8; 2] {
            self.port.to_be_bytes()
        }
    }

    /// An address as wire bytes, IPv4 in the first 4.
    fn wire(a: &str) -> [u8; 16] {
        match a.parse::<IpAddr>().unwrap() {
            IpAddr::V4(v4) => {
                let mut b = [0; 16];
                b[..4].copy_from_slice(&v4.octets());
                b
            }
            IpAddr::V6(v6) => v6.octets(),
        }
    }

    /// A service running `mh`, driven as the C harness drives `ip_vs_mh.c`.
    struct Svc {
        af: u16,
        flags: u32,
        dests: Vec<Dst>,
        state: Option<SchedState>,
    }

    impl Svc {
        fn new(af: u16, flags: u32) -> Self {
            Svc {
                af,
                flags,
                dests: Vec::new(),
                state: None,
            }
        }

        fn put(&mut self, id: u64, addr: &str, port: u16, weight: i32, overloaded: bool) {
            let d = Dst {
                id,
                addr: wire(addr),
                port,
                weight,
                last_weight: weight,
                overloaded,
            };
            self.dests.insert(0, d);
        }

        fn start(&mut self) {
            self.state = Some(Scheduler::MaglevHashing.new_state(&self.dests));
        }

        fn changed(&mut self) {
            self.state.as_mut().unwrap().dests_changed(&self.dests);
        }

        fn find(&mut self, id: u64) -> &mut Dst {
            self.dests.iter_mut().find(|d| d.id == id).unwrap()
        }

        fn add(&mut self, id: u64, addr: &str, port: u16, weight: i32) {
            self.put(id, addr, port, weight, false);
            self.changed();
        }

        fn del(&mut self, id: u64) {
            self.dests.retain(|d| d.id != id);
            self.changed();
        }

        fn upd(&mut self, id: u64, weight: i32, overloaded: bool) {
            let d = self.find(id);
            if weight != 0 {
                d.last_weight = weight;
            }
            d.weight = weight;
            d.overloaded = overloaded;
            self.changed();
        }

        fn ovl(&mut self, id: u64, overloaded: bool) {
            self.find(id).overloaded = overloaded;
        }

        fn table(&self) -> String {
            match &self.state {
                Some(SchedState::MaglevHashing(s)) => s.table(),
                _ => panic!("not mh"),
            }
        }

        fn pick(&mut self, saddr: [u8; 16], sport: u16) -> String {
            let mut zeros = |_bound: u32| 0;
            let mut flow = Flow {
                af: self.af,
                saddr,
                daddr: [0; 16],
                sport: sport.to_be_bytes(),
                dport: 80u16.to_be_bytes(),
                svc_flags: self.flags,
                random_below: &mut zeros,
                clock: Default::default(),
            };
            let state = self.state.as_mut().unwrap();
            state
                .schedule(&self.dests, &mut flow)
                .map_or(String::from("-"), |i| i.to_string())
        }

        fn clients(&mut self, n: u8) -> String {
            let picks: Vec<String> = (1..=n)
                .map(|i| {
                    let client = Ipv4Addr::new(10, 0, 1, i).to_string();
                    self.pick(wire(&client), 1024 + u16::from(i))
                })
                .collect();
            picks.join(" ")
        }

        fn clients6(&mut self, n: u16) -> String {
            let picks: Vec<String> = (1..=n)
                .map(|i| {
                    let client: Ipv6Addr =
                        format!("2001:db8::{:x}:{:x}", i * 7, i).parse().unwrap();
                    self.pick(client.octets(), 1024 + i)
                })
                .collect();
            picks.join(" ")
        }
    }

    #[test]
    fn table_size_of_the_target_config() {
        assert_eq!(TAB_SIZE, 4093);
    }

    #[test]
    fn hsiphash_of_the_kernel() {
        // The harness's `hashes()`: hsiphash(&v, 4, key) for hash1 and hash2.
        for (v, h1, h2) in [
            (0, 492468162, 4169286463),
            (1, 384591538, 2182130385),
            (0x0a000201, 4118902146, 2968815697),
            (0xffffffff, 583391001, 4149874525),
            (0x12345678, 495663620, 481105934),
        ] {
            assert_eq!(hsiphash_u32(v, &HASH1), h1, "{v:#x}");
            assert_eq!(hsiphash_u32(v, &HASH2), h2, "{v:#x}");
        }
    }

    /// [0: 10.0.2.13:80 w3, 1: 10.0.2.12:80 w2, 2: 10.0.2.11:80 w1].
    fn three(flags: u32) -> Svc {
        let mut s = Svc::new(2, flags);
        s.put(1, "10.0.2.11", 80, 1, false);
        s.put(2, "10.0.2.12", 80, 2, false);
        s.put(3, "10.0.2.13", 80, 3, false);
        s.start();
        s
    }

    /// The table of [`three`]; weight 0 on a destination keeps it (its last weight counts).
    const TABLE_3_2_1: &str =
        "0,2,1,0,1,2,0,1,0,2,0,1,1,0,1,0,0,1,1,1,0,2,0,0,0,1,1,0,1,2,0,0, 2006112523";
    /// After deleting 10.0.2.12: [0: .13 w3, 1: .11 w1].
    const TABLE_DEL: &str =
        "0,1,0,0,0,1,0,0,0,1,0,0,0,0,1,0,0,0,1,0,0,1,0,0,0,1,0,0,0,1,0,0, 3404872218";
    /// After adding 10.0.2.14:8080 with weight 0: [0: .14 w0, 1: .13 w3, 2: .11 w1].
    const TABLE_ADD0: &str =
        "1,2,1,1,1,2,1,1,1,2,1,1,1,1,2,1,1,1,2,1,1,2,1,1,1,2,1,1,1,2,1,1, 1495583323";

    /// The harness's `run3`: the script each flag combination goes through; `want` holds the
    /// expected choices of its steps.
    fn run3(flags: u32, want: [&str; 5]) {
        let mut s = three(flags);
        assert_eq!(s.table(), TABLE_3_2_1);
        assert_eq!(s.clients(20), want[0], "clients");
        s.upd(2, 0, false);
        assert_eq!(s.table(), TABLE_3_2_1);
        assert_eq!(s.clients(20), want[1], "w0_clients");
        s.ovl(3, true);
        assert_eq!(s.clients(20), want[2], "ovl_clients");
        s.ovl(1, true);
        assert_eq!(s.clients(3), "- - -");
        s.ovl(1, false);
        s.ovl(3, false);
        s.upd(2, 2, false);
        assert_eq!(s.clients(20), want[0], "back_clients");
        s.del(2);
        assert_eq!(s.table(), TABLE_DEL);
        assert_eq!(s.clients(20), want[3], "del_clients");
        s.add(4, "10.0.2.14", 8080, 0);
        assert_eq!(s.table(), TABLE_ADD0);
        assert_eq!(s.clients(20), want[4], "add0_clients");
    }

    #[test]
    fn clients_no_flags() {
        run3(
            0,
            [
                "0 0 1 0 0 0 2 1 0 2 1 1 0 0 0 1 1 0 0 1",
                "0 0 - 0 0 0 2 - 0 2 - - 0 0 0 - - 0 0 -",
                "- - - - - - 2 - - 2 - - - - - - - - - -",
                "0 0 0 0 0 0 1 1 0 1 0 1 0 0 0 1 0 0 0 1",
                "1 1 1 1 1 1 2 2 1 2 1 2 1 1 1 2 1 1 1 2",
            ],
        );
    }

    #[test]
    fn clients_fallback() {
        run3(
            svc_flag::SCHED_MH_FALLBACK,
            [
                "0 0 1 0 0 0 2 1 0 2 1 1 0 0 0 1 1 0 0 1",
                "0 0 0 0 0 0 2 0 0 2 0 0 0 0 0 2 0 0 0 0",
                "2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2",
                "0 0 0 0 0 0 1 1 0 1 0 1 0 0 0 1 0 0 0 1",
                "1 1 1 1 1 1 2 2 1 2 1 2 1 1 1 2 1 1 1 2",
            ],
        );
    }

    #[test]
    fn clients_port() {
        run3(
            svc_flag::SCHED_MH_PORT,
            [
                "0 1 1 2 1 1 0 2 0 0 0 1 0 0 0 1 2 0 0 2",
                "0 - - 2 - - 0 2 0 0 0 - 0 0 0 - 2 0 0 2",
                "- - - 2 - - - 2 - - - - - - - - 2 - - 2",
                "0 0 0 1 0 0 0 1 0 0 0 0 0 0 0 0 1 0 0 1",
                "1 1 1 2 1 1 1 2 1 1 1 1 1 1 1 1 2 1 1 2",
            ],
        );
    }

    #[test]
    fn clients_fallback_and_port() {
        run3(
            svc_flag::SCHED_MH_FALLBACK | svc_flag::SCHED_MH_PORT,
            [
                "0 1 1 2 1 1 0 2 0 0 0 1 0 0 0 1 2 0 0 2",
                "0 0 2 2 0 0 0 2 0 0 0 2 0 0 0 2 2 0 0 2",
                "2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2",
                "0 0 0 1 0 0 0 1 0 0 0 0 0 0 0 0 1 0 0 1",
                "1 1 1 2 1 1 1 2 1 1 1 1 1 1 1 1 2 1 1 2",
            ],
        );
    }

    #[test]
    fn heavy_weights_are_reduced_and_shifted() {
        // [0: w-3, 1: w5000, 2: w1000, 3: w1]: gcd 1, shift fls(5000) - 6 = 7, turns 39, 7, 1;
        // the negative weight takes no slot.
        let mut s = Svc::new(2, 0);
        s.put(1, "10.0.2.11", 80, 1, false);
        s.put(2, "10.0.2.12", 80, 1000, false);
        s.put(3, "10.0.2.13", 80, 5000, false);
        s.put(4, "10.0.2.14", 80, -3, false);
        s.start();
        assert_eq!(
            s.table(),
            "1,1,2,1,1,1,1,1,1,1,1,2,1,1,1,1,1,2,2,1,1,1,1,1,1,2,1,1,2,1,1,1, 2960424739"
        );
        assert_eq!(s.clients(20), "1 1 1 1 1 1 1 2 1 1 1 2 1 1 1 1 1 1 1 2");
    }

    #[test]
    fn zero_weights_and_empty_list_leave_the_table_empty() {
        let mut s = Svc::new(2, svc_flag::SCHED_MH_FALLBACK);
        s.put(1, "10.0.2.11", 80, 0, false);
        s.put(2, "10.0.2.12", 80, 0, false);
        s.start();
        assert_eq!(s.table(), format!("{} 0", ".".repeat(32)));
        assert_eq!(s.clients(3), "- - -");
        let mut s = Svc::new(2, 0);
        s.start();
        assert_eq!(s.table(), format!("{} 0", ".".repeat(32)));
        assert_eq!(s.clients(3), "- - -");
    }

    /// 700 destinations 10.(i % 7).(i / 256).(i % 256):(1000 + i) of weight (37 i) % 11, i in
    /// 1..=700 (the last is the list head): most of them beyond the stack cache of cursors.
    #[test]
    fn many_destinations_beyond_the_cursor_cache() {
        let mut s = Svc::new(2, 0);
        for i in 1..=700u16 {
            let addr = format!("10.{}.{}.{}", i % 7, i / 256, i % 256);
            s.put(u64::from(i), &addr, 1000 + i, i32::from(i * 37 % 11), false);
        }
        s.start();
        assert_eq!(
            s.table(),
            concat!(
                "10,85,258,65,2,534,126,610,228,527,151,329,34,453,58,391,485,508,470,279,302,",
                "377,356,462,672,318,65,514,91,104,440,251, 2158653865"
            )
        );
        assert_eq!(
            s.clients(20),
            "142 472 663 618 597 639 134 522 14 540 46 419 267 57 499 230 597 72 437 87"
        );
        s.del(5);
        assert_eq!(
            s.table(),
            concat!(
                "10,85,258,65,2,534,126,610,228,527,151,329,34,453,58,391,485,508,470,279,302,",
                "377,356,462,672,318,65,514,91,104,440,251, 3410384346"
            )
        );
    }

    #[test]
    fn ipv6_service() {
        // An IPv6 service with an IPv4 destination (zero-padded, folds to its own word).
        let mut s = Svc::new(AF_INET6, svc_flag::SCHED_MH_PORT);
        s.put(1, "2001:db8:2::11", 80, 1, false);
        s.put(2, "2001:db8:2::12", 80, 2, false);
        s.put(3, "10.0.2.13", 443, 3, false);
        s.start();
        assert_eq!(
            s.table(),
            "0,0,2,2,0,1,0,0,0,0,1,0,1,0,0,2,0,1,0,2,0,0,1,0,1,0,1,1,1,1,0,1, 2503216355"
        );
        assert_eq!(s.clients6(12), "0 1 1 1 2 0 1 2 0 1 1 1");
    }

    #[test]
    fn a_list_changed_behind_its_back_cannot_panic() {
        // Not IPVS behaviour (the caller must call dests_changed): slots beyond the list count
        // as free, which ends the fallback walk.
        let mut s = three(svc_flag::SCHED_MH_FALLBACK);
        s.dests.truncate(1);
        let picks = s.clients(20);
        assert!(picks.split(' ').all(|p| p == "0" || p == "-"), "{picks}");
    }

    #[test]
    fn too_many_destinations_empty_the_table() {
        let dests: Vec<Dst> = (0..=TAB_SIZE as u64)
            .map(|id| Dst {
                id,
                addr: [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
                port: 80,
                weight: 1,
                last_weight: 1,
                overloaded: false,
            })
            .collect();
        let state = MaglevHashing::new(&dests);
        assert_eq!(state.table(), format!("{} 0", ".".repeat(32)));
        assert_eq!(
            MaglevHashing::new(&dests[..TAB_SIZE]).table().find('.'),
            None
        );
    }
}
