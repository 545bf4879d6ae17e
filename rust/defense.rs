// SPDX-License-Identifier: GPL-2.0

//! IPVS's defenses against the memory a flood of connections would take (`update_defense_level`,
//! `ip_vs_todrop`, `todrop_entry`), checked once a second.
//!
//! Three sysctls choose them: `drop_entry` (drop connection entries at random), `drop_packet`
//! (refuse one new connection in `drop_rate`) and `secure_tcp` (the stricter TCP state table).
//! Each is 0 (off), 3 (on), or automatic: 1 while memory is plenty, 2 while free memory is below
//! `amemthresh` pages, the check moving the sysctl itself between 1 and 2.
//!
//! Pure logic without kernel dependencies, tested on the host by `cargo test`.

#![deny(unsafe_code)]

/// Automatic, and off for now: memory is plenty.
pub(crate) const AUTO_IDLE: i32 = 1;
/// Automatic, and on for now: memory is short.
pub(crate) const AUTO_ACTIVE: i32 = 2;
/// Always on.
pub(crate) const ALWAYS: i32 = 3;

/// The modes of the three defenses, as their sysctls hold them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Modes {
    pub(crate) drop_entry: i32,
    pub(crate) drop_packet: i32,
    pub(crate) secure_tcp: i32,
}

/// What the defenses do until the next check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Defense {
    /// The modes after the check (an automatic one follows the memory).
    pub(crate) modes: Modes,
    /// Connection entries are dropped at random (`ip_vs_random_dropentry`).
    pub(crate) drop_entry: bool,
    /// One new connection in `drop_rate` is refused; 0: none.
    pub(crate) drop_rate: i32,
    /// The count-down to the next refusal starts again from this (automatic `drop_packet`);
    /// `None` leaves it where it is.
    pub(crate) restart_count: Option<i32>,
}

/// `update_defense_level`: the defenses for `avail_pages` of free memory, with the thresholds
/// `amemthresh` (pages) and `am_droprate` (the rate of `drop_packet` at 3).
pub(crate) fn update(modes: Modes, avail_pages: i64, amemthresh: i32, am_droprate: i32) -> Defense {
    let amemthresh = amemthresh.max(0);
    let nomem = avail_pages < i64::from(amemthresh);
    // An automatic mode moves to 2 when memory runs short and back to 1 when it is plenty.
    let follow = |mode: i32| match mode {
        AUTO_IDLE | AUTO_ACTIVE if nomem => AUTO_ACTIVE,
        AUTO_IDLE | AUTO_ACTIVE => AUTO_IDLE,
        other => other,
    };
    let next = Modes {
        drop_entry: follow(modes.drop_entry),
        drop_packet: follow(modes.drop_packet),
        secure_tcp: follow(modes.secure_tcp),
    };
    let (drop_rate, restart_count) = match next.drop_packet {
        AUTO_ACTIVE => {
            // The shorter memory is, the more connections are refused: one in
            // amemthresh / (amemthresh - free).
            let short = i64::from(amemthresh) - avail_pages.max(0);
            let rate = i64::from(amemthresh)
                .checked_div(short)
                .unwrap_or(1)
                .clamp(1, i64::from(i32::MAX)) as i32;
            (rate, Some(rate))
        }
        ALWAYS => (am_droprate.max(0), None),
        _ => (0, None),
    };
    Defense {
        modes: next,
        drop_entry: matches!(next.drop_entry, AUTO_ACTIVE | ALWAYS),
        drop_rate,
        restart_count,
    }
}

/// The rate at which the `drop_packet` defense refuses new connections now: a mode written by hand
/// (0 or 3) counts at once, as IPVS updates the defenses on every write of the sysctl
/// (`proc_do_defense_mode`); the automatic modes use `checked`, the rate of the last check.
pub(crate) fn drop_rate(mode: i32, checked: i32, am_droprate: i32) -> i32 {
    match mode {
        ALWAYS => am_droprate.max(0),
        AUTO_IDLE | AUTO_ACTIVE => checked,
        _ => 0,
    }
}

/// Whether the TCP state table of the `secure_tcp` defense is in effect for `mode`.
pub(crate) fn secure_tcp_on(mode: i32) -> bool {
    mode >= AUTO_ACTIVE
}

/// `ip_vs_todrop`: the next value of the count-down `counter` to the next refused connection
/// at `rate`, and whether this connection is refused.
pub(crate) fn todrop(rate: i32, counter: i32) -> (i32, bool) {
    if rate == 0 {
        return (counter, false);
    }
    let next = counter.saturating_sub(1);
    if next > 0 {
        (next, false)
    } else {
        (rate, true)
    }
}

/// How many packets an entry may have received and still be dropped (`todrop_entry`).
const MAX_DROPPED_PACKETS: usize = 8;
/// The count-downs of [`EntryDropper`], one per packet count up to [`MAX_DROPPED_PACKETS`].
pub(crate) const ENTRY_COUNTERS: usize = MAX_DROPPED_PACKETS + 1;
/// How long an entry must have been idle before it may be dropped.
pub(crate) const IDLE_BEFORE_DROP_SECS: u64 = 60;

/// `todrop_entry`'s choice among idle connection entries: of those that received `i` packets
/// (`i` from 1 to 8), one in `i` is dropped; busier ones and ones without packets are kept.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct EntryDropper {
    counters: [i8; ENTRY_COUNTERS],
}

impl EntryDropper {
    /// The dropper with the count-downs `counters`, as [`Self::counters`] returned them.
    pub(crate) fn from_counters(counters: [i8; ENTRY_COUNTERS]) -> Self {
        Self { counters }
    }

    /// The count-downs, to keep until the next pass.
    pub(crate) fn counters(&self) -> [i8; ENTRY_COUNTERS] {
        self.counters
    }

    /// Whether to drop an entry that received `in_pkts` packets and was `idle` for at least
    /// [`IDLE_BEFORE_DROP_SECS`].
    pub(crate) fn todrop(&mut self, idle: bool, in_pkts: u32) -> bool {
        if !idle {
            return false;
        }
        let Some(i) = usize::try_from(in_pkts)
            .ok()
            .filter(|i| (1..=MAX_DROPPED_PACKETS).contains(i))
        else {
            return false;
        };
        let counter = &mut self.counters[i];
        *counter = counter.saturating_sub(1);
        if *counter > 0 {
            return false;
        }
        // The rates are 0, 1, 2 ... 8: one entry in `i`.
        *counter = i as i8;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn modes(drop_entry: i32, drop_packet: i32, secure_tcp: i32) -> Modes {
        Modes {
            drop_entry,
            drop_packet,
            secure_tcp,
        }
    }

    #[test]
    fn automatic_modes_follow_memory() {
        let short = update(modes(1, 1, 1), 100, 1024, 10);
        assert_eq!(short.modes, modes(2, 2, 2));
        assert!(short.drop_entry);
        assert!(secure_tcp_on(short.modes.secure_tcp));
        // 1024 / (1024 - 100) = 1: every new connection refused.
        assert_eq!((short.drop_rate, short.restart_count), (1, Some(1)));
        let plenty = update(short.modes, 5000, 1024, 10);
        assert_eq!(plenty.modes, modes(1, 1, 1));
        assert!(!plenty.drop_entry && !secure_tcp_on(plenty.modes.secure_tcp));
        assert_eq!((plenty.drop_rate, plenty.restart_count), (0, None));
        // At the threshold memory is not short.
        assert_eq!(update(modes(1, 1, 1), 1024, 1024, 10).modes, modes(1, 1, 1));
    }

    #[test]
    fn drop_rate_grows_as_memory_shrinks() {
        // amemthresh / (amemthresh - free), as IPVS computes it.
        assert_eq!(update(modes(0, 2, 0), 900, 1000, 10).drop_rate, 10);
        assert_eq!(update(modes(0, 2, 0), 500, 1000, 10).drop_rate, 2);
        assert_eq!(update(modes(0, 2, 0), 0, 1000, 10).drop_rate, 1);
        assert_eq!(update(modes(0, 2, 0), -5, 1000, 10).drop_rate, 1);
    }

    #[test]
    fn fixed_modes_stay() {
        let on = update(modes(3, 3, 3), 1 << 30, 1024, 7);
        assert_eq!(on.modes, modes(3, 3, 3));
        assert!(on.drop_entry && secure_tcp_on(3));
        assert_eq!((on.drop_rate, on.restart_count), (7, None));
        let off = update(modes(0, 0, 0), 0, 1024, 7);
        assert_eq!(off.modes, modes(0, 0, 0));
        assert!(!off.drop_entry && !secure_tcp_on(0));
        assert_eq!(off.drop_rate, 0);
        // A negative threshold counts as 0: memory is never short.
        assert_eq!(update(modes(1, 1, 1), 0, -1, 7).modes, modes(1, 1, 1));
    }

    #[test]
    fn written_drop_packet_modes_count_at_once() {
        // Off and on take effect before the next check; the automatic modes wait for it.
        assert_eq!(drop_rate(0, 7, 4), 0);
        assert_eq!(drop_rate(3, 0, 4), 4);
        assert_eq!(drop_rate(3, 0, -1), 0);
        assert_eq!(drop_rate(AUTO_IDLE, 0, 4), 0);
        assert_eq!(drop_rate(AUTO_ACTIVE, 7, 4), 7);
    }

    #[test]
    fn todrop_counts_down() {
        // From a fresh count-down of 0 at rate 4: the first, fifth, ninth... are refused.
        let mut counter = 0;
        let mut refused = Vec::new();
        for i in 1..=12 {
            let (next, drop) = todrop(4, counter);
            counter = next;
            if drop {
                refused.push(i);
            }
        }
        assert_eq!(refused, [1, 5, 9]);
        assert_eq!(todrop(0, 3), (3, false), "rate 0 refuses nothing");
        assert_eq!(todrop(1, 1), (1, true), "rate 1 refuses everything");
    }

    #[test]
    fn entries_dropped_by_their_packet_count() {
        let mut d = EntryDropper::default();
        assert!(!d.todrop(false, 1), "not idle for 60 s");
        assert!(!d.todrop(true, 0), "rate 0 for entries without packets");
        assert!(!d.todrop(true, 9), "busier than 8 packets");
        // One in i of the idle entries with i packets: the first, then every i-th.
        let picks =
            |d: &mut EntryDropper, pkts| (0..9).map(|_| d.todrop(true, pkts)).collect::<Vec<_>>();
        assert_eq!(picks(&mut d, 1), [true; 9]);
        assert_eq!(
            picks(&mut d, 3),
            [true, false, false, true, false, false, true, false, false]
        );
        let saved = EntryDropper::from_counters(d.counters());
        assert_eq!(saved, d);
    }
}
