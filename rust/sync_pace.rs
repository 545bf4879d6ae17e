// SPDX-License-Identifier: GPL-2.0

//! When a master director sends a connection to its backups (IPVS's `ip_vs_sync_conn_needed`
//! and its caller `ip_vs_sync_conn`, `ip_vs_sync.c`).
//!
//! A connection is sent when a request passes the master, but not on every request: with the
//! default sysctls, a TCP connection in a synced state and a UDP connection go out at their
//! `sync_threshold`-th request (3) and then every `sync_period`-th (50); a TCP connection that
//! changes to a state other than established goes out at once. With `sync_refresh_period`, a
//! connection is sent again only when its expiry moved by more than that period (or by half its
//! timeout), and each send may be retried `sync_retries` times, an eighth of the period apart.
//! The connection keeps the expiry it was last sent with (`sync_endtime`) and its two low bits
//! count the retries; the caller swaps it in with a compare-and-swap, so that of two CPUs
//! deciding at once only one sends (unless the send is forced by a state change).
//!
//! Kernel-independent, host-tested; the daemon (#13) calls [`decide`] on the packet path.

#![deny(unsafe_code)]

use crate::proto::TcpState;

/// `IPPROTO_TCP`.
const PROTO_TCP: u8 = 6;

/// The sysctls that pace a master's sending, with IPVS's defaults in [`Pacing::DEFAULT`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Pacing {
    /// The first value of `sync_threshold`: the request count at which a connection is sent.
    pub(crate) threshold: i32,
    /// The second value of `sync_threshold` (`sync_period`): a connection is sent again every
    /// this many requests; 0 sends it once, at the threshold.
    pub(crate) period: i32,
    /// `sync_refresh_period`, in jiffies: 0 paces by packet counts only.
    pub(crate) refresh_period: u32,
    /// `sync_retries` (0 to 3): how often a send is repeated within the refresh period.
    pub(crate) retries: u32,
    /// `sync_persist_mode`: connections under a persistence template are not sent, only the
    /// templates.
    pub(crate) persist_mode: bool,
    /// Ticks per second (`HZ`).
    pub(crate) hz: u32,
}

impl Pacing {
    /// IPVS's defaults (`DEFAULT_SYNC_THRESHOLD`, `DEFAULT_SYNC_PERIOD`,
    /// `DEFAULT_SYNC_REFRESH_PERIOD`, `DEFAULT_SYNC_RETRIES`), at `hz` ticks per second.
    pub(crate) const fn default_at(hz: u32) -> Self {
        Self {
            threshold: 3,
            period: 50,
            refresh_period: 0,
            retries: 0,
            persist_mode: false,
            hz,
        }
    }
}

/// Whether `values` may be written to `sync_threshold`: a threshold and a period, neither
/// negative, the threshold below the period unless the period is 0 (`proc_do_sync_threshold`).
pub(crate) fn threshold_valid(values: &[i32]) -> bool {
    match *values {
        [threshold, period] => threshold >= 0 && period >= 0 && (threshold < period || period == 0),
        _ => false,
    }
}

/// What the pacing reads of a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct ConnView {
    /// A persistence template (`IP_VS_CONN_F_TEMPLATE`).
    pub(crate) template: bool,
    /// A template controls the connection, directly or through other connections
    /// (`in_persistence`).
    pub(crate) in_persistence: bool,
    /// `IPPROTO_*`.
    pub(crate) protocol: u8,
    /// The protocol state (`IP_VS_TCP_S_*` for TCP).
    pub(crate) state: u8,
    /// The state it was last sent in (`old_state`).
    pub(crate) old_state: u8,
    /// Its timeout in the current state, in jiffies.
    pub(crate) timeout: u64,
    /// The expiry it was last sent with, and in the low two bits the retries made
    /// (`sync_endtime`).
    pub(crate) sync_endtime: u64,
}

/// The outcome of [`decide`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Decision {
    /// Not now.
    Skip,
    /// Record the state as sent (`old_state = state`) and swap `endtime` into the connection's
    /// `sync_endtime` if it still holds the value decided on; send if the swap succeeded or
    /// `force` is set.
    Send {
        /// The new `sync_endtime`.
        endtime: u64,
        /// A state change that is sent even if another CPU swapped first.
        force: bool,
    },
}

/// Whether TCP state `state` is one backups learn of (established and the closing states).
pub(crate) fn tcp_state_synced(state: u8) -> bool {
    [
        TcpState::Established,
        TcpState::FinWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::TimeWait,
    ]
    .iter()
    .any(|s| *s as u8 == state)
}

/// Whether to send connection `c` after a request that made its request count `pkts`, at jiffy
/// `now` (`ip_vs_sync_conn_needed`; SCTP is not in rvs yet and is paced as UDP).
pub(crate) fn decide(p: &Pacing, c: &ConnView, pkts: i32, now: u64) -> Decision {
    let orig = c.sync_endtime;
    let mut n = now.wrapping_add(c.timeout) & !3;
    let force;
    if c.template {
        force = false;
    } else if p.persist_mode && c.in_persistence {
        return Decision::Skip;
    } else if c.protocol == PROTO_TCP {
        if !tcp_state_synced(c.state) {
            return Decision::Skip;
        }
        force = c.state != c.old_state;
        if force && c.state != TcpState::Established as u8 {
            return Decision::Send { endtime: n, force };
        }
    } else {
        force = false;
    }

    if p.refresh_period > 0 {
        // Signed distance between the expiries, as the C's `long diff = n - orig`.
        let diff = (n.wrapping_sub(orig) as i64).unsigned_abs();
        let min_diff = (c.timeout >> 1).max(10 * u64::from(p.hz));
        if diff < u64::from(p.refresh_period).min(min_diff) {
            let retries = orig & 3;
            if retries >= u64::from(p.retries) {
                return Decision::Skip;
            }
            // `time_before(now, orig - timeout + refresh_period / 8)`.
            let due = orig
                .wrapping_sub(c.timeout)
                .wrapping_add(u64::from(p.refresh_period >> 3));
            if (now.wrapping_sub(due) as i64) < 0 {
                return Decision::Skip;
            }
            n |= retries + 1;
        }
    }
    if p.period > 0 {
        if !c.template && pkts.checked_rem(p.period) != Some(p.threshold) {
            return Decision::Skip;
        }
    } else if p.refresh_period == 0 && pkts != p.threshold {
        return Decision::Skip;
    }
    Decision::Send { endtime: n, force }
}

#[cfg(test)]
mod tests {
    use super::*;

    const HZ: u32 = 250;
    const EST: u8 = TcpState::Established as u8;
    const SYN_RECV: u8 = TcpState::SynRecv as u8;
    const FIN_WAIT: u8 = TcpState::FinWait as u8;
    const TIME_WAIT: u8 = TcpState::TimeWait as u8;
    const PROTO_UDP: u8 = 17;

    fn tcp(state: u8, old_state: u8) -> ConnView {
        ConnView {
            template: false,
            in_persistence: false,
            protocol: PROTO_TCP,
            state,
            old_state,
            timeout: 900 * u64::from(HZ),
            sync_endtime: 0,
        }
    }

    fn sent_at(p: &Pacing, c: &ConnView, packets: core::ops::RangeInclusive<i32>) -> Vec<i32> {
        packets
            .filter(|&pkts| decide(p, c, pkts, 1000) != Decision::Skip)
            .collect()
    }

    #[test]
    fn defaults_send_at_the_threshold_then_every_period() {
        let p = Pacing::default_at(HZ);
        // Established and already sent in that state: requests 3, 53, 103, ...
        assert_eq!(sent_at(&p, &tcp(EST, EST), 1..=160), [3, 53, 103, 153]);
        let udp = ConnView {
            protocol: PROTO_UDP,
            state: 0,
            old_state: 0,
            ..tcp(0, 0)
        };
        assert_eq!(sent_at(&p, &udp, 1..=110), [3, 53, 103]);
    }

    #[test]
    fn tcp_states_before_established_are_not_sent() {
        let p = Pacing::default_at(HZ);
        assert!(sent_at(&p, &tcp(SYN_RECV, 0), 1..=200).is_empty());
        assert!(sent_at(&p, &tcp(0, 0), 1..=200).is_empty());
    }

    #[test]
    fn a_change_to_a_closing_state_is_forced_at_once() {
        let p = Pacing::default_at(HZ);
        let c = tcp(FIN_WAIT, EST);
        let now = 1000;
        assert_eq!(
            decide(&p, &c, 7, now),
            Decision::Send {
                endtime: (now + c.timeout) & !3,
                force: true,
            }
        );
        // The change to established itself still waits for the count, but is forced then.
        let c = tcp(EST, SYN_RECV);
        assert_eq!(decide(&p, &c, 7, now), Decision::Skip);
        assert!(matches!(
            decide(&p, &c, 53, now),
            Decision::Send { force: true, .. }
        ));
        // No change: not forced.
        assert!(matches!(
            decide(&p, &tcp(TIME_WAIT, TIME_WAIT), 3, now),
            Decision::Send { force: false, .. }
        ));
    }

    #[test]
    fn templates_go_at_every_count_and_persist_mode_holds_back_their_connections() {
        let mut p = Pacing::default_at(HZ);
        let template = ConnView {
            template: true,
            protocol: PROTO_UDP,
            ..tcp(0, 0)
        };
        assert_eq!(sent_at(&p, &template, 1..=5), [1, 2, 3, 4, 5]);
        let controlled = ConnView {
            in_persistence: true,
            ..tcp(EST, EST)
        };
        assert_eq!(sent_at(&p, &controlled, 1..=5), [3]);
        p.persist_mode = true;
        assert!(sent_at(&p, &controlled, 1..=200).is_empty());
        assert_eq!(sent_at(&p, &template, 1..=2), [1, 2]);
    }

    #[test]
    fn period_zero_sends_once_at_the_threshold() {
        let p = Pacing {
            period: 0,
            ..Pacing::default_at(HZ)
        };
        assert_eq!(sent_at(&p, &tcp(EST, EST), 1..=300), [3]);
    }

    #[test]
    fn sync_threshold_takes_a_threshold_below_a_period_or_a_period_of_zero() {
        assert!(threshold_valid(&[3, 50]));
        assert!(threshold_valid(&[0, 1]));
        assert!(threshold_valid(&[7, 0]));
        assert!(threshold_valid(&[0, 0]));
        assert!(!threshold_valid(&[5, 3]));
        assert!(!threshold_valid(&[4, 4]));
        assert!(!threshold_valid(&[-1, 0]));
        assert!(!threshold_valid(&[1, -2]));
        assert!(!threshold_valid(&[1]));
    }

    #[test]
    fn threshold_one_without_period_sends_a_flow_at_its_first_request_only() {
        let p = Pacing {
            threshold: 1,
            period: 0,
            ..Pacing::default_at(HZ)
        };
        let udp = ConnView {
            protocol: PROTO_UDP,
            ..tcp(0, 0)
        };
        assert_eq!(sent_at(&p, &udp, 1..=100), [1]);
        let p = Pacing {
            threshold: 1,
            period: 2,
            ..p
        };
        assert_eq!(sent_at(&p, &udp, 1..=8), [1, 3, 5, 7]);
    }

    #[test]
    fn refresh_period_sends_when_the_expiry_moved_and_retries_an_eighth_apart() {
        let hz = u64::from(HZ);
        let p = Pacing {
            period: 0,
            refresh_period: 60 * HZ,
            retries: 2,
            ..Pacing::default_at(HZ)
        };
        let timeout = 900 * hz;
        let now = 100_000;
        // Last sent with an expiry far from the current one: sent, with no retry counted.
        let stale = ConnView {
            sync_endtime: 4,
            ..tcp(EST, EST)
        };
        assert_eq!(
            decide(&p, &stale, 1, now),
            Decision::Send {
                endtime: (now + timeout) & !3,
                force: false,
            }
        );
        // Sent 2 s ago: within the refresh period, and before an eighth of it: not yet.
        let recent = ConnView {
            sync_endtime: (now - 2 * hz + timeout) & !3,
            ..tcp(EST, EST)
        };
        assert_eq!(decide(&p, &recent, 1, now), Decision::Skip);
        // Sent 8 s ago (past 60 / 8 s): a retry, counted in the low bits.
        let older = ConnView {
            sync_endtime: (now - 8 * hz + timeout) & !3,
            ..tcp(EST, EST)
        };
        assert_eq!(
            decide(&p, &older, 1, now),
            Decision::Send {
                endtime: ((now + timeout) & !3) | 1,
                force: false,
            }
        );
        // Both retries used: nothing until the expiry moves by the period.
        let retried = ConnView {
            sync_endtime: older.sync_endtime | 2,
            ..older
        };
        assert_eq!(decide(&p, &retried, 1, now), Decision::Skip);
    }

    #[test]
    fn refresh_period_is_capped_by_half_the_timeout_and_wraps_with_jiffies() {
        let p = Pacing {
            period: 0,
            refresh_period: 3600 * HZ,
            ..Pacing::default_at(HZ)
        };
        let hz = u64::from(HZ);
        // A 60 s timeout: the expiry must move by 30 s (half), not an hour.
        let c = ConnView {
            timeout: 60 * hz,
            protocol: PROTO_UDP,
            ..tcp(0, 0)
        };
        let now = u64::MAX - 5 * hz; // about to wrap
        let moved_20s = ConnView {
            sync_endtime: now.wrapping_sub(20 * hz).wrapping_add(c.timeout) & !3,
            ..c
        };
        assert_eq!(decide(&p, &moved_20s, 1, now), Decision::Skip);
        let moved_40s = ConnView {
            sync_endtime: now.wrapping_sub(40 * hz).wrapping_add(c.timeout) & !3,
            ..c
        };
        assert!(matches!(
            decide(&p, &moved_40s, 1, now),
            Decision::Send { .. }
        ));
    }
}
