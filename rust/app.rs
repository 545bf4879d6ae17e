// SPDX-License-Identifier: GPL-2.0

//! What application helpers share (IPVS's `ip_vs_app.c`): when a helper changes the length of a
//! TCP segment's payload (the FTP helper rewriting an address), the sequence numbers of the
//! segments after it, and the acknowledgements of the other side, are shifted by the sum of the
//! changes, and those of segments before it by the sum before the last change
//! (`vs_fix_seq`, `vs_fix_ack_seq`, `vs_seq_update`; `struct ip_vs_seq`, which a sync master
//! sends in `IPVS_OPT_SEQ_DATA`).
//!
//! Groundwork of #16: kernel-independent and host-tested; the data plane does not use it yet.

#![deny(unsafe_code)]
#![cfg_attr(not(test), allow(dead_code))]

/// The shift of one direction's sequence numbers (`struct ip_vs_seq`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SeqAdjust {
    /// The sequence number of the last segment whose length changed (`init_seq`).
    pub(crate) init_seq: u32,
    /// The shift of the segments after it (`delta`).
    pub(crate) delta: i32,
    /// The shift of the segments before it (`previous_delta`): retransmissions of older data.
    pub(crate) previous_delta: i32,
}

/// `after(a, b)`: `a` is later than `b` in sequence space.
fn after(a: u32, b: u32) -> bool {
    (b.wrapping_sub(a) as i32) < 0
}

impl SeqAdjust {
    /// The sequence number a segment with `seq` leaves with (`vs_fix_seq`).
    pub(crate) fn fix_seq(&self, seq: u32) -> u32 {
        if self.delta == 0 && self.previous_delta == 0 {
            return seq;
        }
        if after(seq, self.init_seq) {
            seq.wrapping_add(self.delta as u32)
        } else {
            seq.wrapping_add(self.previous_delta as u32)
        }
    }

    /// The acknowledgement a segment of the other direction leaves with (`vs_fix_ack_seq`):
    /// `ack` counts the shifted bytes its sender saw, the original sender counts the others.
    pub(crate) fn fix_ack_seq(&self, ack: u32) -> u32 {
        if self.delta == 0 && self.previous_delta == 0 {
            return ack;
        }
        if after(ack, self.init_seq.wrapping_add(self.delta as u32)) {
            ack.wrapping_sub(self.delta as u32)
        } else {
            ack.wrapping_sub(self.previous_delta as u32)
        }
    }

    /// A segment that had `seq` (before any shift) changed length by `diff` (`vs_seq_update`);
    /// `started` says whether the direction was shifted before (`IP_VS_CONN_F_OUT_SEQ` /
    /// `_IN_SEQ`): then only a later segment counts, a retransmission of an older one does not.
    pub(crate) fn update(&mut self, started: bool, seq: u32, diff: i32) {
        if !started || after(seq, self.init_seq) {
            self.previous_delta = self.delta;
            self.delta = self.delta.wrapping_add(diff);
            self.init_seq = seq;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unshifted_is_identity() {
        let s = SeqAdjust::default();
        assert_eq!(s.fix_seq(1234), 1234);
        assert_eq!(s.fix_ack_seq(1234), 1234);
    }

    #[test]
    fn a_longer_answer_shifts_what_follows() {
        // A PASV answer at seq 1000 grew by 4 bytes (the real server's address, 10.0.2.11,
        // replaced by the VIP 10.0.1.100 and a longer port text, say).
        let mut s = SeqAdjust::default();
        s.update(false, 1000, 4);
        assert_eq!(
            s,
            SeqAdjust {
                init_seq: 1000,
                delta: 4,
                previous_delta: 0
            }
        );
        // The rewritten segment itself keeps its number; the next ones move by 4.
        assert_eq!(s.fix_seq(1000), 1000);
        assert_eq!(s.fix_seq(1050), 1054);
        // The client acknowledges what it got: 1054 + n is 1050 + n for the server; an
        // acknowledgement up to the changed segment is not shifted.
        assert_eq!(s.fix_ack_seq(1054), 1050);
        assert_eq!(s.fix_ack_seq(1004), 1004);
        // A second change later: retransmissions between the two keep the first shift.
        s.update(true, 2000, -2);
        assert_eq!(
            s,
            SeqAdjust {
                init_seq: 2000,
                delta: 2,
                previous_delta: 4
            }
        );
        assert_eq!(s.fix_seq(1500), 1504);
        assert_eq!(s.fix_seq(2100), 2102);
        assert_eq!(s.fix_ack_seq(2102), 2100);
        assert_eq!(s.fix_ack_seq(1504), 1500);
        // A retransmission of an older segment rewritten again does not count twice.
        s.update(true, 1000, 4);
        assert_eq!(
            s,
            SeqAdjust {
                init_seq: 2000,
                delta: 2,
                previous_delta: 4
            }
        );
    }

    #[test]
    fn sequence_space_wraps() {
        let mut s = SeqAdjust::default();
        s.update(false, u32::MAX - 10, 5);
        assert_eq!(s.fix_seq(3), 8);
        assert_eq!(s.fix_seq(u32::MAX - 20), u32::MAX - 20);
        assert_eq!(s.fix_ack_seq(8), 3);
        s.update(true, 4, 1);
        assert_eq!(s.delta, 6);
        assert_eq!(s.previous_delta, 5);
    }
}
