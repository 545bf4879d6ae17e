// SPDX-License-Identifier: GPL-2.0

//! Source hashing (`sh`), mirroring `net/netfilter/ipvs/ip_vs_sh.c` of Linux 6.12.
//!
//! The client's address (with the `sh-port` flag, plus its port) is hashed into one of 256 buckets
//! (`hash_32(ntohs(port) + ntohl(addr), IP_VS_SH_TAB_BITS)`, IPv6 addresses folded to 32 bits by
//! XOR first), and the bucket's destination gets the connection if it is available: a positive
//! weight and not overloaded. Otherwise there is no destination, unless the service has the
//! `sh-fallback` flag: then the buckets after the hashed one are tried in turn, wrapping around,
//! and the first available destination gets it.
//!
//! IPVS fills the buckets with the destinations in list order, each taking as many consecutive
//! buckets as its weight (at least one: a destination of weight 0 or below takes one), round and
//! round until all 256 are filled; it refills them on every addition, deletion and edit. The table
//! here is that of IPVS with list indices for destination pointers; [`SourceHashing::dests_changed`]
//! refills it. The table size is `CONFIG_IP_VS_SH_TAB_BITS` = 8, the Kconfig default and the
//! value of the target kernel's `.config`.

#![deny(unsafe_code)]

use super::{addr_fold, hash_32, Algorithm, Candidate, Flow};
use crate::abi::svc_flag;

/// `IP_VS_SH_TAB_BITS`.
const TAB_BITS: u32 = 8;
/// `IP_VS_SH_TAB_SIZE`.
const TAB_SIZE: usize = 1 << TAB_BITS;
/// `IP_VS_SH_TAB_SIZE` as the C's `unsigned int`.
const TAB_SIZE_U32: u32 = 1 << TAB_BITS;
/// `IP_VS_SH_TAB_MASK`.
const TAB_MASK: u32 = TAB_SIZE_U32 - 1;
/// The state of `sh` for one service: IPVS's `struct ip_vs_sh_state`, the buckets holding list
/// indices. Every destination takes at least one bucket, so only the first 256 of the list can
/// appear and an index always fits in a byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SourceHashing {
    /// The destination index of each bucket.
    buckets: [u8; TAB_SIZE],
    /// The list was empty at the last refill: every bucket is NULL in IPVS.
    empty: bool,
}

/// Whether `dest` may not take the connection (`is_unavailable`).
fn unavailable<C: Candidate>(dest: &C) -> bool {
    dest.weight() <= 0 || dest.overloaded()
}

/// The bucket of an address and port, `offset` buckets on (`ip_vs_sh_hashkey`); `port` is in host
/// order. The C adds the `unsigned int`s with wrapping, as here.
fn hashkey(af: u16, addr: &[u8; 16], port: u16, offset: u32) -> u32 {
    let key = u32::from(port).wrapping_add(addr_fold(af, addr));
    offset.wrapping_add(hash_32(key, TAB_BITS)) & TAB_MASK
}

impl SourceHashing {
    /// The state of a new service over `dests` (`ip_vs_sh_init_svc`).
    pub(crate) fn new<C: Candidate>(dests: &[C]) -> Self {
        let mut state = SourceHashing {
            buckets: [0; TAB_SIZE],
            empty: true,
        };
        state.dests_changed(dests);
        state
    }

    /// Refills the buckets from the changed list `dests` (`ip_vs_sh_reassign`, which IPVS calls on
    /// every addition, deletion and edit).
    pub(crate) fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        // The list cursor (`p`: an index; `dests.len()` is the list head) and how many buckets
        // the destination under it has taken (`d_count`).
        let mut p = 0usize;
        let mut d_count: i32 = 0;
        self.empty = dests.is_empty();
        for bucket in self.buckets.iter_mut() {
            // Past the end, the C's `p->next` is the list head, which it steps over.
            if p >= dests.len() {
                p = 0;
            }
            // Only an empty list has no destination here: all buckets NULL (`empty`).
            let Some(dest) = dests.get(p) else {
                *bucket = 0;
                continue;
            };
            // Below 256 (one bucket at least per destination), so it fits.
            *bucket = u8::try_from(p).unwrap_or(u8::MAX);
            // Don't move to the next destination until its weight is filled (at most 256, no
            // overflow).
            d_count = d_count.saturating_add(1);
            if d_count >= dest.weight() {
                p = p.saturating_add(1);
                d_count = 0;
            }
        }
    }

    /// The destination in bucket `hash`: `None` for an empty bucket, and for an index beyond the
    /// list, which only a caller that changed the list without telling the state could cause.
    fn bucket<'d, C: Candidate>(&self, dests: &'d [C], hash: u32) -> Option<(usize, &'d C)> {
        if self.empty {
            return None;
        }
        let index = usize::from(*self.buckets.get(usize::try_from(hash).ok()?)?);
        dests.get(index).map(|dest| (index, dest))
    }

    /// The hashed destination if available, with no fallback (`ip_vs_sh_get`).
    fn get<C: Candidate>(&self, dests: &[C], af: u16, addr: &[u8; 16], port: u16) -> Option<usize> {
        let (index, dest) = self.bucket(dests, hashkey(af, addr, port, 0))?;
        (!unavailable(dest)).then_some(index)
    }

    /// The hashed destination if available, or else the first available one in the buckets after
    /// it, wrapping around (`ip_vs_sh_get_fallback`).
    fn get_fallback<C: Candidate>(
        &self,
        dests: &[C],
        af: u16,
        addr: &[u8; 16],
        port: u16,
    ) -> Option<usize> {
        // First try the destination the client is supposed to go to.
        let ihash = hashkey(af, addr, port, 0);
        let (index, dest) = self.bucket(dests, ihash)?;
        if !unavailable(dest) {
            return Some(index);
        }
        // Then loop around the table starting from `ihash`. As in the C, `roffset` already
        // includes `ihash` and the hash adds it again: the walk goes from bucket `2 * ihash` on.
        for offset in 0..TAB_SIZE_U32 {
            let roffset = offset.wrapping_add(ihash) % TAB_SIZE_U32;
            let (index, dest) = self.bucket(dests, hashkey(af, addr, port, roffset))?;
            if !unavailable(dest) {
                return Some(index);
            }
        }
        None
    }

    /// Picks the destination the client hashes to (`ip_vs_sh_schedule`), or `None` if it is
    /// unavailable and the service has no `sh-fallback` (or no destination is available at all).
    pub(crate) fn schedule<C: Candidate>(&self, dests: &[C], flow: &Flow<'_>) -> Option<usize> {
        let port = if flow.svc_flags & svc_flag::SCHED_SH_PORT != 0 {
            u16::from_be_bytes(flow.sport)
        } else {
            0
        };
        if flow.svc_flags & svc_flag::SCHED_SH_FALLBACK != 0 {
            self.get_fallback(dests, flow.af, &flow.saddr, port)
        } else {
            self.get(dests, flow.af, &flow.saddr, port)
        }
    }

    /// The buckets as the C harness prints them: the list index of each, `.` for NULL.
    #[cfg(test)]
    fn table(&self) -> std::string::String {
        self.buckets
            .iter()
            .map(|&b| {
                if self.empty {
                    ".".into()
                } else {
                    b.to_string()
                }
            })
            .collect()
    }
}

impl Algorithm for SourceHashing {
    const NAME: &'static str = "sh";

    fn new<C: Candidate>(dests: &[C]) -> Self {
        Self::new(dests)
    }

    fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        SourceHashing::dests_changed(self, dests)
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], flow: &mut Flow<'_>) -> Option<usize> {
        SourceHashing::schedule(self, dests, flow)
    }
}

#[cfg(test)]
mod tests {
    //! The expected choices come from a host C harness (`harness2.c`) that compiles `ip_vs_sh.c`
    //! of Linux 6.12.117 verbatim (only its `#include` lines removed, built with
    //! `gcc -O2 -fwrapv`) over the kernel's list primitives and `hash_32` of
    //! `include/linux/hash.h`, with the same scripts as below; its output is pasted as is: the
    //! index chosen in list order (0 = list head), `-` for none, and the bucket tables as list
    //! indices. `put(id, weight, active, inactive, overloaded)` links a destination at the head,
    //! so the last one put is index 0. `clients(n)` sends one TCP packet from each of
    //! 10.0.1.i:(1024 + i), i in 1..=n, to 192.168.0.1:80; `clients6(n)` from each of
    //! 2001:db8::(7i):i to 2001:db8::1. `upd` refills the table (IPVS's `upd_dest`), `ovl` does not.

    use super::super::testing::World;
    use super::super::{SchedState, Scheduler, AF_INET6};
    use crate::abi::svc_flag;
    use std::string::String;

    fn world(svc_flags: u32) -> World {
        let mut w = World::new(Scheduler::SourceHashing);
        w.svc_flags = svc_flags;
        w
    }

    /// [0: w3, 1: w2, 2: w1].
    fn three(svc_flags: u32) -> World {
        let mut w = world(svc_flags);
        w.put(1, 1, 0, 0, false);
        w.put(2, 2, 0, 0, false);
        w.put(3, 3, 0, 0, false);
        w.start();
        w
    }

    fn table(w: &World) -> String {
        match w.state {
            Some(SchedState::SourceHashing(s)) => s.table(),
            _ => panic!("not sh"),
        }
    }

    /// The table for weights [3, 2, 1]: each takes its weight in consecutive buckets.
    const TABLE_3_2_1: &str = concat!(
        "0001120001120001120001120001120001120001120001120001120001120001",
        "1200011200011200011200011200011200011200011200011200011200011200",
        "0112000112000112000112000112000112000112000112000112000112000112",
        "0001120001120001120001120001120001120001120001120001120001120001",
    );

    /// The table for weights [3, 0, 1]: weight 0 still takes one bucket per round.
    const TABLE_3_0_1: &str = concat!(
        "0001200012000120001200012000120001200012000120001200012000120001",
        "2000120001200012000120001200012000120001200012000120001200012000",
        "1200012000120001200012000120001200012000120001200012000120001200",
        "0120001200012000120001200012000120001200012000120001200012000120",
    );

    #[test]
    fn clients_no_flags() {
        let mut w = three(0);
        assert_eq!(table(&w), TABLE_3_2_1);
        assert_eq!(w.clients(20), "0 1 2 1 2 0 2 0 0 0 0 2 0 1 0 1 0 0 1 0");
        w.upd(2, 0, false);
        assert_eq!(table(&w), TABLE_3_0_1);
        assert_eq!(w.clients(20), "0 0 2 0 2 0 2 0 2 0 2 0 - 0 - 0 0 0 - 0");
        w.ovl(3, true);
        assert_eq!(w.clients(20), "- - 2 - 2 - 2 - 2 - 2 - - - - - - - - -");
        w.ovl(1, true);
        assert_eq!(w.clients(3), "- - -");
    }

    #[test]
    fn clients_fallback() {
        let mut w = three(svc_flag::SCHED_SH_FALLBACK);
        assert_eq!(table(&w), TABLE_3_2_1);
        assert_eq!(w.clients(20), "0 1 2 1 2 0 2 0 0 0 0 2 0 1 0 1 0 0 1 0");
        w.upd(2, 0, false);
        assert_eq!(table(&w), TABLE_3_0_1);
        assert_eq!(w.clients(20), "0 0 2 0 2 0 2 0 2 0 2 0 0 0 0 0 0 0 0 0");
        w.ovl(3, true);
        assert_eq!(w.clients(20), "2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2");
        w.ovl(1, true);
        assert_eq!(w.clients(3), "- - -");
    }

    #[test]
    fn clients_port() {
        let mut w = three(svc_flag::SCHED_SH_PORT);
        assert_eq!(table(&w), TABLE_3_2_1);
        assert_eq!(w.clients(20), "0 0 2 1 1 1 1 0 0 0 2 1 0 0 0 2 2 1 1 0");
        w.upd(2, 0, false);
        assert_eq!(table(&w), TABLE_3_0_1);
        assert_eq!(w.clients(20), "0 0 0 0 0 0 2 0 2 2 - 2 - - - - - 0 0 0");
        w.ovl(3, true);
        assert_eq!(w.clients(20), "- - - - - - 2 - 2 2 - 2 - - - - - - - -");
        w.ovl(1, true);
        assert_eq!(w.clients(3), "- - -");
    }

    #[test]
    fn clients_fallback_and_port() {
        let mut w = three(svc_flag::SCHED_SH_FALLBACK | svc_flag::SCHED_SH_PORT);
        assert_eq!(table(&w), TABLE_3_2_1);
        assert_eq!(w.clients(20), "0 0 2 1 1 1 1 0 0 0 2 1 0 0 0 2 2 1 1 0");
        w.upd(2, 0, false);
        assert_eq!(table(&w), TABLE_3_0_1);
        assert_eq!(w.clients(20), "0 0 0 0 0 0 2 0 2 2 0 2 0 0 0 0 0 0 0 0");
        w.ovl(3, true);
        assert_eq!(w.clients(20), "2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2 2");
        w.ovl(1, true);
        assert_eq!(w.clients(3), "- - -");
    }

    #[test]
    fn ipv6_addresses_are_folded() {
        let mut w = world(svc_flag::SCHED_SH_PORT);
        w.af = AF_INET6;
        w.put(1, 1, 0, 0, false);
        w.put(2, 2, 0, 0, false);
        w.put(3, 3, 0, 0, false);
        w.start();
        assert_eq!(w.clients6(12), "0 0 2 1 0 0 1 1 0 0 1 1");
    }

    #[test]
    fn heavy_and_negative_weights_fill_the_table() {
        // [0: w-1, 1: w100, 2: w1].
        let mut w = world(0);
        w.put(1, 1, 0, 0, false);
        w.put(2, 100, 0, 0, false);
        w.put(3, -1, 0, 0, false);
        w.start();
        assert_eq!(
            table(&w),
            concat!(
                "0111111111111111111111111111111111111111111111111111111111111111",
                "1111111111111111111111111111111111111201111111111111111111111111",
                "1111111111111111111111111111111111111111111111111111111111111111",
                "1111111111120111111111111111111111111111111111111111111111111111",
            )
        );
        // [0: w-1, 1: w1].
        w.del(2);
        assert_eq!(
            table(&w),
            concat!(
                "0101010101010101010101010101010101010101010101010101010101010101",
                "0101010101010101010101010101010101010101010101010101010101010101",
                "0101010101010101010101010101010101010101010101010101010101010101",
                "0101010101010101010101010101010101010101010101010101010101010101",
            )
        );
    }

    #[test]
    fn a_list_changed_behind_its_back_cannot_panic() {
        // Not IPVS behaviour (the caller must call dests_changed): buckets beyond the list are
        // NULL, which ends the fallback walk.
        let mut w = three(svc_flag::SCHED_SH_FALLBACK);
        w.dests.truncate(1);
        let picks = w.clients(20);
        assert!(picks.split(' ').all(|p| p == "0" || p == "-"), "{picks}");
    }

    #[test]
    fn empty_list() {
        let mut w = world(svc_flag::SCHED_SH_FALLBACK);
        w.start();
        assert_eq!(table(&w), ".".repeat(256));
        assert_eq!(w.clients(3), "- - -");
    }
}
