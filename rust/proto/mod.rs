// SPDX-License-Identifier: GPL-2.0

//! IPVS's per-protocol connection state machines, mirroring
//! `net/netfilter/ipvs/ip_vs_proto_tcp.c` (`tcp_states`, `tcp_states_dos`, `set_tcp_state`,
//! `tcp_conn_schedule`, the timeout, name and activity tables), the TCP case of
//! `is_new_conn` / `is_new_conn_expected` in `ip_vs_core.c`, `ip_vs_proto_udp.c`'s single state,
//! `ip_vs_proto_sctp.c`'s association states and the template state names of `ip_vs_proto.c`.
//!
//! IPVS does not track TCP as a real endpoint would: it looks at one flag per packet (RST, else
//! SYN, else FIN, else ACK) and at which side sent it, and looks the next state up in a table.
//! The tables below are copied verbatim from the C, so that `/proc/net/ip_vs_conn`, the
//! active/inactive counters that schedulers weigh, and every timeout follow IPVS exactly,
//! including its oddities (see the tests).
//!
//! `sctp`, `tcp` and `udp` hold each protocol's machine; this file what they share: the direction of a
//! packet and the states of persistence templates. Pure logic, no kernel dependencies: tested on
//! the host by `cargo test`.

#![deny(unsafe_code)]
// Some tables serve only the host tests' checks of the C's (`TCP_STATE_COUNT`, the names).
#![cfg_attr(not(test), allow(dead_code))]

mod sctp;
mod tcp;
mod udp;

// What the module uses of each protocol (the host tests build this without the module).
#[allow(unused_imports)]
pub(crate) use sctp::*;
#[allow(unused_imports)]
pub(crate) use tcp::*;
#[allow(unused_imports)]
pub(crate) use udp::*;

/// The direction of a packet relative to a connection (`IP_VS_DIR_*`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum Direction {
    /// `IP_VS_DIR_INPUT`: client to real server, through the director.
    Input = 0,
    /// `IP_VS_DIR_OUTPUT`: real server to client, through the director (NAT replies).
    Output = 1,
    /// `IP_VS_DIR_INPUT_ONLY`: client to real server on a connection whose replies bypass the
    /// director (DR, tunnel: the conn has `IP_VS_CONN_F_NOOUTPUT`), so IPVS sees one side only.
    InputOnly = 2,
}

impl Direction {
    /// The row offset of the direction's block in the state tables (`tcp_state_off`:
    /// `TCP_DIR_INPUT` 0, `TCP_DIR_OUTPUT` 4, `TCP_DIR_INPUT_ONLY` 8).
    pub(crate) const fn state_off(self) -> usize {
        match self {
            Direction::Input => 0,
            Direction::Output => 4,
            Direction::InputOnly => 8,
        }
    }
}

/// A template (persistence) conn's state before any of its conns was assured
/// (`IP_VS_CTPL_S_NONE`).
pub(crate) const TEMPLATE_STATE_NONE: u16 = 0;

/// A template's state once a conn it controls proved two-way (`IP_VS_CTPL_S_ASSURED`, set by
/// `ip_vs_control_assure_ct`: see [`tcp_assures_template`], [`udp_assures_template`]). An
/// unassured template is dropped with its last controlled conn, and first under table pressure
/// (`ip_vs_random_dropentry`).
pub(crate) const TEMPLATE_STATE_ASSURED: u16 = 1;

/// Names a template conn's state as `ip_vs_state_name` does for `IP_VS_CONN_F_TEMPLATE` conns
/// (`ip_vs_ctpl_state_name_table`), whatever the protocol: "NONE", "ASSURED", else "ERR!".
pub(crate) fn template_state_name(state: u16) -> &'static str {
    match state {
        TEMPLATE_STATE_NONE => "NONE",
        TEMPLATE_STATE_ASSURED => "ASSURED",
        _ => "ERR!",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tcp::TcpState::*;

    #[test]
    fn template_assurance() {
        assert!(tcp_assures_template(SynRecv, Established));
        assert!(tcp_assures_template(SynAck, Established));
        assert!(!tcp_assures_template(Established, Established));
        assert!(!tcp_assures_template(None, SynRecv));
        assert!(udp_assures_template(Direction::Output));
        assert!(!udp_assures_template(Direction::Input));
        assert!(!udp_assures_template(Direction::InputOnly));
    }

    #[test]
    fn udp_and_template_names() {
        assert_eq!(UDP_STATE_NAME, "UDP");
        assert_eq!(udp_state_name(0), "UDP");
        assert_eq!(udp_state_name(1), "ERR!");
        assert_eq!(UDP_DEFAULT_TIMEOUT_SECS, 300);
        assert_eq!(template_state_name(0), "NONE");
        assert_eq!(template_state_name(1), "ASSURED");
        assert_eq!(template_state_name(2), "ERR!");
    }
}
