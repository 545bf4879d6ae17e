// SPDX-License-Identifier: GPL-2.0

//! Round robin (`rr`), mirroring `net/netfilter/ipvs/ip_vs_rr.c` of Linux 6.12.
//!
//! IPVS keeps in `svc->sched_data` a pointer to the list node of the destination chosen last, or
//! to the list head before the first choice. A choice walks on from there to the next destination
//! that is not overloaded and has a positive weight, wrapping around the list once and ending with
//! the cursor destination itself.
//!
//! The cursor here is the chosen destination's index and id: the index walks the list, the id
//! finds the destination again after the list changed (new destinations come in at the head and
//! shift the indices). When the cursor destination is deleted, IPVS's `ip_vs_rr_del_dest` moves
//! the cursor to the node before it, so that the destination after the deleted one comes next;
//! that node is the one before the deleted destination's last known index. This is exact when
//! [`RoundRobin::dests_changed`] runs after every single change, as IPVS runs its callbacks; after
//! several deletions at once the cursor may land on a different node than IPVS's would.

#![deny(unsafe_code)]

use super::{Algorithm, Candidate, Flow};

/// The last chosen destination.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Cursor {
    /// Its identity, to find it again after the list changed.
    id: u64,
    /// Its index in the list as last seen.
    index: usize,
}

/// The state of `rr` for one service: IPVS's `svc->sched_data` list cursor.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RoundRobin {
    /// The last chosen destination, or `None` for the list head.
    cursor: Option<Cursor>,
}

/// Whether `rr` may choose `dest`.
fn available<C: Candidate>(dest: &C) -> bool {
    !dest.overloaded() && dest.weight() > 0
}

impl RoundRobin {
    /// The state of a new service (`ip_vs_rr_init_svc`): the cursor at the list head.
    pub(crate) fn new() -> Self {
        RoundRobin { cursor: None }
    }

    /// Follows the cursor destination to its place in the changed list `dests`.
    ///
    /// IPVS only has a `del_dest` callback for `rr`: the cursor is a list node, which stays where
    /// it is when other destinations come and go. The id finds that node's new index; if the
    /// destination is gone, the cursor moves to the node before it (`ip_vs_rr_del_dest`).
    pub(crate) fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        let Some(cursor) = self.cursor else {
            return;
        };
        if let Some(index) = dests.iter().position(|d| d.id() == cursor.id) {
            self.cursor = Some(Cursor {
                id: cursor.id,
                index,
            });
            return;
        }
        // Deleted: `p->next->prev` is the node before the deleted one, which is the list head
        // for the first destination. Clamp in case several destinations went at once.
        self.cursor = match cursor.index.checked_sub(1) {
            None => None,
            Some(prev) => {
                let prev = prev.min(dests.len().saturating_sub(1));
                dests.get(prev).map(|d| Cursor {
                    id: d.id(),
                    index: prev,
                })
            }
        };
    }

    /// Picks the next available destination after the cursor (`ip_vs_rr_schedule`).
    pub(crate) fn schedule<C: Candidate>(&mut self, dests: &[C]) -> Option<usize> {
        // A list changed without a call to `dests_changed` (rr needs none for an addition in
        // IPVS) is caught up with here; an O(1) check in the usual case.
        if let Some(cursor) = self.cursor {
            if dests.get(cursor.index).map(|d| d.id()) != Some(cursor.id) {
                self.dests_changed(dests);
            }
        }
        // First pass: from after the cursor to the end of the list. Second pass, unless the
        // cursor is the list head: from the head up to and including the cursor destination.
        let found = match self.cursor {
            None => dests.iter().position(available),
            Some(cursor) => {
                let after = cursor.index.saturating_add(1);
                dests
                    .iter()
                    .enumerate()
                    .skip(after)
                    .chain(dests.iter().enumerate().take(after))
                    .find(|(_, d)| available(*d))
                    .map(|(i, _)| i)
            }
        };
        if let Some(index) = found {
            let id = dests.get(index).map(|d| d.id())?;
            self.cursor = Some(Cursor { id, index });
        }
        found
    }
}

impl Algorithm for RoundRobin {
    const NAME: &'static str = "rr";

    fn new<C: Candidate>(_dests: &[C]) -> Self {
        Self::new()
    }

    fn dests_changed<C: Candidate>(&mut self, dests: &[C]) {
        RoundRobin::dests_changed(self, dests)
    }

    fn schedule<C: Candidate>(&mut self, dests: &[C], _flow: &mut Flow<'_>) -> Option<usize> {
        RoundRobin::schedule(self, dests)
    }
}

#[cfg(test)]
mod tests {
    //! The expected sequences come from a host C harness that runs `ip_vs_rr_init_svc`,
    //! `ip_vs_rr_del_dest` and `ip_vs_rr_schedule` of Linux 6.12.117 verbatim over a copy of the
    //! kernel's list primitives (`list_add_rcu` at the head, `list_del_rcu`), with the same scripts
    //! as below; its output is pasted as is: the index chosen in list order (0 = list head), `-`
    //! for none. `put` links a destination at the head, so the last one put is index 0.

    use super::super::testing::{Conn::None as N, World};
    use super::super::Scheduler;

    fn world() -> World {
        World::new(Scheduler::RoundRobin)
    }

    /// Destinations 1, 2, 3 added in that order: the list is [3, 2, 1].
    fn three() -> World {
        let mut w = world();
        w.put(1, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(3, 1, 0, 0, false);
        w.start();
        w
    }

    #[test]
    fn cycles_in_list_order() {
        let mut w = three();
        assert_eq!(w.sched(7, N), "0 1 2 0 1 2 0");
    }

    #[test]
    fn skips_quiesced_and_overloaded() {
        // List: [0: w1, 1: w0, 2: w1 overloaded, 3: w1, 4: w1].
        let mut w = world();
        w.put(4, 1, 0, 0, false);
        w.put(3, 1, 0, 0, false);
        w.put(2, 1, 0, 0, true);
        w.put(1, 0, 0, 0, false);
        w.put(0, 1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(6, N), "0 3 4 0 3 4");
    }

    #[test]
    fn addition_keeps_the_cursor() {
        let mut w = three();
        assert_eq!(w.sched(2, N), "0 1");
        // [4, 3, 2, 1]: the cursor stays on 2, now index 2.
        w.add(4, 1, 0, 0, false);
        assert_eq!(w.sched(5, N), "3 0 1 2 3");
    }

    #[test]
    fn addition_needs_no_callback() {
        // IPVS has no rr add_dest: the same sequence without telling the state.
        let mut w = three();
        assert_eq!(w.sched(2, N), "0 1");
        w.put(4, 1, 0, 0, false);
        assert_eq!(w.sched(5, N), "3 0 1 2 3");
    }

    #[test]
    fn deleting_the_cursor_moves_it_back() {
        let mut w = three();
        assert_eq!(w.sched(2, N), "0 1");
        // Cursor on 2, deleted: back to 3, so 1 (now index 1) comes next.
        w.del(2);
        assert_eq!(w.sched(4, N), "1 0 1 0");
    }

    #[test]
    fn deleting_the_cursor_at_the_head() {
        let mut w = three();
        assert_eq!(w.sched(1, N), "0");
        w.del(3);
        assert_eq!(w.sched(3, N), "0 1 0");
    }

    #[test]
    fn deleting_the_cursor_at_the_tail() {
        let mut w = three();
        assert_eq!(w.sched(3, N), "0 1 2");
        w.del(1);
        assert_eq!(w.sched(3, N), "0 1 0");
    }

    #[test]
    fn deleting_other_destinations() {
        // [4, 3, 2, 1].
        let mut w = world();
        w.put(1, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.put(3, 1, 0, 0, false);
        w.put(4, 1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(2, N), "0 1");
        w.del(1);
        assert_eq!(w.sched(1, N), "2");
        w.del(4);
        assert_eq!(w.sched(3, N), "0 1 0");
    }

    #[test]
    fn deleting_the_cursor_after_an_addition_before_it() {
        // [2, 1], cursor on 2; 3 comes in before it, then 2 goes: the cursor moves to 3.
        let mut w = world();
        w.put(1, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(1, N), "0");
        w.add(3, 1, 0, 0, false);
        w.del(2);
        assert_eq!(w.sched(3, N), "1 0 1");
    }

    #[test]
    fn the_cursor_destination_is_checked_last() {
        let mut w = three();
        assert_eq!(w.sched(2, N), "0 1");
        w.ovl(3, true);
        w.ovl(1, true);
        assert_eq!(w.sched(3, N), "1 1 1");
        w.ovl(2, true);
        assert_eq!(w.sched(2, N), "- -");
        w.ovl(3, false);
        assert_eq!(w.sched(2, N), "0 0");
    }

    #[test]
    fn empty_list() {
        let mut w = world();
        w.start();
        assert_eq!(w.sched(2, N), "- -");
        w.add(1, 1, 0, 0, false);
        assert_eq!(w.sched(2, N), "0 0");
        w.del(1);
        assert_eq!(w.sched(1, N), "-");
    }

    #[test]
    fn quiesced_destinations() {
        let mut w = world();
        w.put(1, 1, 0, 0, false);
        w.put(2, 1, 0, 0, false);
        w.start();
        assert_eq!(w.sched(1, N), "0");
        w.upd(2, 0, false);
        w.upd(1, 0, false);
        assert_eq!(w.sched(2, N), "- -");
        w.upd(1, 5, false);
        assert_eq!(w.sched(2, N), "1 1");
    }
}
