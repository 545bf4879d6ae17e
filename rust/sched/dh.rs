// SPDX-License-Identifier: GPL-2.0

//! Destination hashing (`dh`), mirroring `net/netfilter/ipvs/ip_vs_dh.c` of Linux 6.12.
//!
//! The packet's destination address is hashed into one of 256 buckets
//! (`hash_32(ntohl(addr), IP_VS_DH_TAB_BITS)`, IPv6 addresses folded to 32 bits by XOR first), and
//! the bucket's destination gets the connection if it has a positive weight and is not overloaded;
//! otherwise there is no destination (`dh` has no fallback).
//!
//! IPVS fills its 256 buckets with the destinations in list order, round and round, whatever their
//! weights: bucket `b` holds destination `b % n` of the `n` in the list. It refills them on every
//! addition and deletion and has no `upd_dest` callback, but an edit never changes the list order,
//! so the table is always `b % n` over the current list. Here that is computed from the list at
//! each choice instead of being stored: the same choice without a 256-entry copy, and no stale
//! table should the caller miss a change. The table size is `ip_vs_dh.c`'s default of
//! `CONFIG_IP_VS_DH_TAB_BITS` = 8 (no Kconfig symbol sets it).

#![deny(unsafe_code)]

use super::{addr_fold, hash_32, Algorithm, Candidate, Flow};

/// `IP_VS_DH_TAB_BITS`.
const TAB_BITS: u32 = 8;

/// The bucket of a destination address (`ip_vs_dh_hashkey`).
fn hashkey(af: u16, addr: &[u8; 16]) -> u32 {
    hash_32(addr_fold(af, addr), TAB_BITS)
}

/// Picks the destination the packet's destination address hashes to (`ip_vs_dh_schedule`), or
/// `None` if the list is empty or that destination is quiesced (weight 0 or below) or overloaded.
pub(crate) fn schedule<C: Candidate>(dests: &[C], flow: &Flow<'_>) -> Option<usize> {
    // A bucket number is below 256, so the conversion cannot fail; an empty list fills the
    // buckets with NULL, which `checked_rem` by 0 gives as None.
    let bucket = usize::try_from(hashkey(flow.af, &flow.daddr)).ok()?;
    let index = bucket.checked_rem(dests.len())?;
    let dest = dests.get(index)?;
    if dest.weight() <= 0 || dest.overloaded() {
        return None;
    }
    Some(index)
}

/// Destination hashing: stateless; IPVS's bucket table depends on the list only, which [`schedule`] reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct DestinationHashing;

impl Algorithm for DestinationHashing {
    const NAME: &'static str = "dh";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        DestinationHashing
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &mut Flow<'_>) -> Option<usize> {
        schedule(dests, flow)
    }
}

#[cfg(test)]
mod tests {
    //! The expected choices come from a host C harness (`harness2.c`) that compiles `ip_vs_dh.c`
    //! of Linux 6.12.117 verbatim (only its `#include` lines removed, built with
    //! `gcc -O2 -fwrapv`) over the kernel's list primitives and `hash_32` of
    //! `include/linux/hash.h`, with the same scripts as below; its output is pasted as is: the
    //! index chosen in list order (0 = list head), `-` for none. `put(id, weight, active,
    //! inactive, overloaded)` links a destination at the head, so the last one put is index 0.
    //! `clients(n)` sends one TCP packet from 192.168.0.1 to each of 10.0.1.1 ..= 10.0.1.n;
    //! `clients6(n)` from 2001:db8::1 to each of 2001:db8::(7i):i.

    use super::super::testing::{Conn, World};
    use super::super::{Flow, Scheduler, AF_INET6};
    use super::{hashkey, schedule, TAB_BITS};
    use std::string::String;

    fn world() -> World {
        World::new(Scheduler::DestinationHashing)
    }

    /// [0: w3, 1: w2, 2: w1].
    fn three() -> World {
        let mut w = world();
        w.put(1, 1, 0, 0, false);
        w.put(2, 2, 0, 0, false);
        w.put(3, 3, 0, 0, false);
        w.start();
        w
    }

    /// The inverse of `GOLDEN_RATIO_32` modulo 2^32 (Newton's iteration), to find an address
    /// that hashes to a given bucket.
    fn inverse_golden() -> u32 {
        let g: u32 = 0x61C8_8647;
        let mut x = g;
        for _ in 0..5 {
            x = x.wrapping_mul(2u32.wrapping_sub(g.wrapping_mul(x)));
        }
        assert_eq!(g.wrapping_mul(x), 1);
        x
    }

    #[test]
    fn the_table_of_ipvs() {
        // Every bucket, reached by an address that hashes to it: the harness's table dump.
        let dests = [1, 2, 3].map(|id| super::super::testing::Fake {
            id,
            weight: 1,
            active: 0,
            inactive: 0,
            overloaded: false,
        });
        let inv = inverse_golden();
        let mut random = |_| 0;
        let mut table = String::new();
        for b in 0u32..256 {
            let addr = (b << (32 - TAB_BITS)).wrapping_mul(inv);
            let mut daddr = [0; 16];
            daddr[..4].copy_from_slice(&addr.to_be_bytes());
            assert_eq!(hashkey(2, &daddr), b);
            let flow = Flow {
                af: 2,
                saddr: [0; 16],
                daddr,
                sport: [0; 2],
                dport: [0; 2],
                svc_flags: 0,
                random_below: &mut random,
                clock: Default::default(),
            };
            table.push_str(&schedule(&dests, &flow).unwrap().to_string());
        }
        assert_eq!(table, "012".repeat(85) + "0");
    }

    #[test]
    fn clients_then_quiesced_overloaded_deleted() {
        let mut w = three();
        assert_eq!(w.clients(20), "0 1 2 0 2 1 2 0 2 0 2 2 1 0 1 0 0 2 1 2");
        // Weight 0: its buckets give no destination (no fallback), the others keep theirs.
        w.upd(2, 0, false);
        assert_eq!(w.clients(20), "0 - 2 0 2 - 2 0 2 0 2 2 - 0 - 0 0 2 - 2");
        w.ovl(3, true);
        assert_eq!(w.clients(20), "- - 2 - 2 - 2 - 2 - 2 2 - - - - - 2 - 2");
        // [0: w3 overloaded, 1: w1]: the table is refilled over two destinations.
        w.del(2);
        assert_eq!(w.clients(20), "- - 1 1 1 1 1 - - - - 1 1 1 1 1 - - - -");
    }

    #[test]
    fn ipv6_addresses_are_folded() {
        let mut w = world();
        w.af = AF_INET6;
        w.put(1, 1, 0, 0, false);
        w.put(2, 2, 0, 0, false);
        w.put(3, 3, 0, 0, false);
        w.start();
        assert_eq!(w.clients6(12), "0 2 0 2 0 2 0 1 2 1 0 2");
    }

    #[test]
    fn empty_list() {
        let mut w = world();
        w.start();
        assert_eq!(w.clients(3), "- - -");
        assert_eq!(w.sched(1, Conn::None), "-");
    }
}
