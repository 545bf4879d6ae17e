// SPDX-License-Identifier: GPL-2.0

//! The protocol timeouts of `IPVS_CMD_GET_CONFIG` / `IPVS_CMD_SET_CONFIG` (`ipvsadm --set`).
//!
//! Pure logic without kernel dependencies, tested on the host by `cargo test`.

/// Timeouts in seconds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Timeouts {
    /// TCP ESTABLISHED.
    pub(crate) tcp: u32,
    /// TCP FIN_WAIT.
    pub(crate) tcp_fin: u32,
    /// UDP.
    pub(crate) udp: u32,
}

/// The timeouts of a fresh namespace: TCP ESTABLISHED 15 min, TCP FIN_WAIT 2 min, UDP 5 min
/// (`tcp_timeouts` and `udp_timeouts` in IPVS).
pub(crate) const DEFAULT: Timeouts = Timeouts {
    tcp: 15 * 60,
    tcp_fin: 2 * 60,
    udp: 5 * 60,
};

/// Whether `seconds` is a timeout IPVS accepts: it must fit in an `int` of jiffies
/// (`ip_vs_set_timeout` rejects `> INT_MAX / HZ`, and values that are negative as an `int`).
pub(crate) fn valid_seconds(seconds: u32, hz: u32) -> bool {
    hz != 0 && seconds <= i32::MAX as u32 / hz
}

/// Applies a `SET_CONFIG` request to `current`: absent or zero values keep the current timeout.
/// Returns `None`, changing nothing, if any given value is out of range.
pub(crate) fn apply(
    current: Timeouts,
    tcp: Option<u32>,
    tcp_fin: Option<u32>,
    udp: Option<u32>,
    hz: u32,
) -> Option<Timeouts> {
    let pick = |now: u32, new: Option<u32>| match new {
        None | Some(0) => Some(now),
        Some(s) if valid_seconds(s, hz) => Some(s),
        Some(_) => None,
    };
    Some(Timeouts {
        tcp: pick(current.tcp, tcp)?,
        tcp_fin: pick(current.tcp_fin, tcp_fin)?,
        udp: pick(current.udp, udp)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn range_is_int_max_over_hz() {
        assert!(valid_seconds(8_589_934, 250));
        assert!(!valid_seconds(8_589_935, 250));
        assert!(!valid_seconds(u32::MAX, 1000));
        assert!(valid_seconds(2_147_483, 1000));
        assert!(!valid_seconds(2_147_484, 1000));
    }

    #[test]
    fn zero_and_absent_keep_current() {
        let t = apply(DEFAULT, Some(0), None, Some(10), 250).unwrap();
        assert_eq!(
            t,
            Timeouts {
                tcp: 900,
                tcp_fin: 120,
                udp: 10
            }
        );
    }

    #[test]
    fn one_bad_value_changes_nothing() {
        assert_eq!(
            apply(DEFAULT, Some(10), Some(u32::MAX), Some(10), 250),
            None
        );
    }
}
