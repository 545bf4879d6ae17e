// SPDX-License-Identifier: GPL-2.0

//! UDP's single state (`ip_vs_proto_udp.c`).

#![deny(unsafe_code)]
#![cfg_attr(not(test), allow(dead_code))]

use super::Direction;

/// Whether a UDP packet in direction `dir` marks the conn's template (if it has one) ASSURED:
/// `udp_state_transition` does so for every packet in the output direction (a NAT reply).
pub(crate) fn udp_assures_template(dir: Direction) -> bool {
    dir == Direction::Output
}

/// UDP's only state (`IP_VS_UDP_S_NORMAL`).
pub(crate) const UDP_STATE_NORMAL: u16 = 0;

/// The name of UDP's only state (`udp_state_name_table[IP_VS_UDP_S_NORMAL]`).
pub(crate) const UDP_STATE_NAME: &str = "UDP";

/// UDP's timeout in a fresh namespace, in seconds (`udp_timeouts`: 5 min); every packet in either
/// direction re-arms it (`udp_state_transition`).
pub(crate) const UDP_DEFAULT_TIMEOUT_SECS: u32 = 5 * 60;

/// Names a raw UDP state number as `udp_state_name` does: "ERR!" when out of range.
pub(crate) fn udp_state_name(state: u16) -> &'static str {
    if state == UDP_STATE_NORMAL {
        UDP_STATE_NAME
    } else {
        "ERR!"
    }
}
