// SPDX-License-Identifier: GPL-2.0

//! TCP's connection state machine (`ip_vs_proto_tcp.c`: `tcp_states`, `tcp_states_dos`,
//! `set_tcp_state`, `tcp_conn_schedule`, the timeout, name and activity tables) and the TCP case
//! of `is_new_conn` / `is_new_conn_expected` in `ip_vs_core.c`.

#![deny(unsafe_code)]
#![cfg_attr(not(test), allow(dead_code))]

use super::Direction;

/// A TCP connection state, numbered as IPVS's `IP_VS_TCP_S_*` (include/net/ip_vs.h); the number
/// is what `cp->state` holds and what IPVS syncs to backup directors.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum TcpState {
    /// `IP_VS_TCP_S_NONE`: a fresh connection before its first packet was accounted.
    None = 0,
    /// `IP_VS_TCP_S_ESTABLISHED`.
    Established = 1,
    /// `IP_VS_TCP_S_SYN_SENT`: a SYN seen from the real server side.
    SynSent = 2,
    /// `IP_VS_TCP_S_SYN_RECV`: a SYN seen from the client side.
    SynRecv = 3,
    /// `IP_VS_TCP_S_FIN_WAIT`.
    FinWait = 4,
    /// `IP_VS_TCP_S_TIME_WAIT`.
    TimeWait = 5,
    /// `IP_VS_TCP_S_CLOSE`.
    Close = 6,
    /// `IP_VS_TCP_S_CLOSE_WAIT`.
    CloseWait = 7,
    /// `IP_VS_TCP_S_LAST_ACK`.
    LastAck = 8,
    /// `IP_VS_TCP_S_LISTEN`.
    Listen = 9,
    /// `IP_VS_TCP_S_SYNACK`: only reachable with the `secure_tcp` tables.
    SynAck = 10,
}

/// The number of TCP states (`IP_VS_TCP_S_LAST`).
pub(crate) const TCP_STATE_COUNT: usize = 11;

impl TcpState {
    /// Every state, in numbering order.
    pub(crate) const ALL: [TcpState; TCP_STATE_COUNT] = [
        TcpState::None,
        TcpState::Established,
        TcpState::SynSent,
        TcpState::SynRecv,
        TcpState::FinWait,
        TcpState::TimeWait,
        TcpState::Close,
        TcpState::CloseWait,
        TcpState::LastAck,
        TcpState::Listen,
        TcpState::SynAck,
    ];

    /// The state numbered `v`, if any (`v < IP_VS_TCP_S_LAST`).
    pub(crate) const fn from_u8(v: u8) -> Option<TcpState> {
        Some(match v {
            0 => TcpState::None,
            1 => TcpState::Established,
            2 => TcpState::SynSent,
            3 => TcpState::SynRecv,
            4 => TcpState::FinWait,
            5 => TcpState::TimeWait,
            6 => TcpState::Close,
            7 => TcpState::CloseWait,
            8 => TcpState::LastAck,
            9 => TcpState::Listen,
            10 => TcpState::SynAck,
            _ => return None,
        })
    }

    /// The state's IPVS number.
    pub(crate) const fn as_u8(self) -> u8 {
        self as u8
    }

    /// The name `/proc/net/ip_vs_conn` and `ipvsadm -Lnc` show (`tcp_state_name_table`).
    pub(crate) const fn name(self) -> &'static str {
        match self {
            TcpState::None => "NONE",
            TcpState::Established => "ESTABLISHED",
            TcpState::SynSent => "SYN_SENT",
            TcpState::SynRecv => "SYN_RECV",
            TcpState::FinWait => "FIN_WAIT",
            TcpState::TimeWait => "TIME_WAIT",
            TcpState::Close => "CLOSE",
            TcpState::CloseWait => "CLOSE_WAIT",
            TcpState::LastAck => "LAST_ACK",
            TcpState::Listen => "LISTEN",
            TcpState::SynAck => "SYNACK",
        }
    }

    /// Whether a connection in this state counts in the real server's `activeconns` rather than
    /// `inactconns` (`tcp_state_active_table`): ESTABLISHED, SYN_SENT, SYN_RECV and SYNACK.
    pub(crate) const fn is_active(self) -> bool {
        matches!(
            self,
            TcpState::Established | TcpState::SynSent | TcpState::SynRecv | TcpState::SynAck
        )
    }

    /// The state's timeout in seconds in a fresh namespace (`tcp_timeouts`).
    pub(crate) const fn default_timeout_secs(self) -> u32 {
        match self {
            TcpState::None => 2,
            TcpState::Established => 15 * 60,
            TcpState::SynSent => 2 * 60,
            TcpState::SynRecv => 60,
            TcpState::FinWait => 2 * 60,
            TcpState::TimeWait => 2 * 60,
            TcpState::Close => 10,
            TcpState::CloseWait => 60,
            TcpState::LastAck => 30,
            TcpState::Listen => 2 * 60,
            TcpState::SynAck => 120,
        }
    }

    /// The state's timeout in seconds given the namespace's configurable ones: `ipvsadm --set`
    /// changes only ESTABLISHED (`tcp`) and FIN_WAIT (`tcpfin`) of the per-netns timeout table
    /// (`ip_vs_set_timeout`); every other state keeps its default.
    pub(crate) const fn timeout_secs(self, established: u32, fin_wait: u32) -> u32 {
        match self {
            TcpState::Established => established,
            TcpState::FinWait => fin_wait,
            other => other.default_timeout_secs(),
        }
    }
}

/// Names a raw TCP state number as `tcp_state_name` does: "ERR!" when out of range.
pub(crate) fn tcp_state_name(state: u16) -> &'static str {
    match u8::try_from(state).ok().and_then(TcpState::from_u8) {
        Some(s) => s.name(),
        None => "ERR!",
    }
}

/// Picks the state-table direction of a TCP packet as `set_tcp_state` does.
///
/// IPVS's callers pass `IP_VS_DIR_INPUT` for packets from the client (`ip_vs_in_hook`) and
/// `IP_VS_DIR_OUTPUT` for replies from the real server (`handle_response`), and `set_tcp_state`
/// then rewrites them from the conn's `IP_VS_CONN_F_NOOUTPUT` flag (set at creation for every
/// forwarding method but NAT/masquerading, `ip_vs_add_dest` / `__ip_vs_update_dest`):
/// - `reply` (the packet came from the real server): `Output`. The caller must then also clear
///   `IP_VS_CONN_F_NOOUTPUT` on the conn, as `set_tcp_state` does: once a reply was seen, the
///   conn is tracked with both tables from then on.
/// - from the client, `no_output` set: `InputOnly`.
/// - from the client otherwise: `Input`.
pub(crate) fn tcp_direction(reply: bool, no_output: bool) -> Direction {
    if reply {
        Direction::Output
    } else if no_output {
        Direction::InputOnly
    } else {
        Direction::Input
    }
}

/// The TCP flags IPVS's state machine looks at.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub(crate) struct TcpFlags {
    /// SYN.
    pub(crate) syn: bool,
    /// FIN.
    pub(crate) fin: bool,
    /// ACK.
    pub(crate) ack: bool,
    /// RST.
    pub(crate) rst: bool,
}

/// The FIN bit of the TCP header's flags byte (RFC 9293).
const TH_FIN: u8 = 0x01;
/// The SYN bit.
const TH_SYN: u8 = 0x02;
/// The RST bit.
const TH_RST: u8 = 0x04;
/// The ACK bit.
const TH_ACK: u8 = 0x10;

/// Decodes the flags byte of a TCP header (byte 13, after the data offset byte).
pub(crate) fn tcp_flags_from_byte(b: u8) -> TcpFlags {
    TcpFlags {
        syn: b & TH_SYN != 0,
        fin: b & TH_FIN != 0,
        ack: b & TH_ACK != 0,
        rst: b & TH_RST != 0,
    }
}

/// The row within a direction's block (`tcp_state_idx`): RST 3 beats SYN 0 beats FIN 1 beats
/// ACK 2; `None` (the C's -1) when no flag of the four is set.
fn tcp_state_idx(flags: TcpFlags) -> Option<usize> {
    if flags.rst {
        Some(3)
    } else if flags.syn {
        Some(0)
    } else if flags.fin {
        Some(1)
    } else if flags.ack {
        Some(2)
    } else {
        None
    }
}

/// The transition tables, verbatim from `ip_vs_proto_tcp.c`, with the C's two-letter names.
mod tables {
    use super::TcpState;
    use super::TcpState::{
        Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA,
        Listen as LI, SynAck as SA, SynRecv as SR, SynSent as SS, TimeWait as TW,
    };
    // No `None as NO`: no cell of either table leads back to NONE.

    /// Twelve rows (INPUT syn/fin/ack/rst, OUTPUT ..., INPUT-ONLY ...), each indexed by the
    /// current state (`struct tcp_states_t`).
    pub(super) type Table = [[TcpState; super::TCP_STATE_COUNT]; 12];

    /// `tcp_states`: the normal table.
    #[rustfmt::skip]
    pub(super) const TCP_STATES: Table = [
        // INPUT
        //    sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
        /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR],
        // OUTPUT
        //    sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
        /*syn*/ [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR],
        /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
        // INPUT-ONLY
        //    sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
        /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR],
        /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ];

    /// `tcp_states_dos`: the table in effect while the `secure_tcp` defense is on.
    #[rustfmt::skip]
    pub(super) const TCP_STATES_DOS: Table = [
        // INPUT
        //    sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
        /*syn*/ [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA],
        /*fin*/ [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA],
        /*ack*/ [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA],
        /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
        // OUTPUT
        //    sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
        /*syn*/ [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA],
        /*fin*/ [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES],
        /*rst*/ [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL],
        // INPUT-ONLY
        //    sNO, sES, sSS, sSR, sFW, sTW, sCL, sCW, sLA, sLI, sSA
        /*syn*/ [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA],
        /*fin*/ [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW],
        /*ack*/ [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES],
        /*rst*/ [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL],
    ];
}

/// The next state of a TCP connection in `state` after a packet with `flags` in direction `dir`
/// (the table lookup of `set_tcp_state`).
///
/// `dir` is the already adjusted direction ([`tcp_direction`]). `secure_tcp` says whether the
/// `tcp_states_dos` table is in effect: in IPVS, while the `secure_tcp` sysctl's effective level
/// is 2 or more (`update_defense_level`: level 3 always, level 1 under memory pressure).
///
/// A packet with none of RST, SYN, FIN, ACK does not keep the state: `set_tcp_state` starts from
/// `new_state = IP_VS_TCP_S_CLOSE` and skips the lookup, so such a packet moves the connection to
/// CLOSE (and its 10 s timeout).
pub(crate) fn tcp_transition(
    state: TcpState,
    dir: Direction,
    flags: TcpFlags,
    secure_tcp: bool,
) -> TcpState {
    let Some(idx) = tcp_state_idx(flags) else {
        return TcpState::Close;
    };
    let table = if secure_tcp {
        &tables::TCP_STATES_DOS
    } else {
        &tables::TCP_STATES
    };
    // Both indices are in range by construction (offset <= 8, idx <= 3, state < 11); `get`
    // keeps a panic path out of the kernel build, and the fallback is never taken.
    table
        .get(dir.state_off().wrapping_add(idx))
        .and_then(|row| row.get(usize::from(state.as_u8())))
        .copied()
        .unwrap_or(TcpState::Close)
}

/// The conn's `IP_VS_CONN_F_INACTIVE` flag after a transition from `old` to `new`, given the
/// flag before (`was_inactive`), as `set_tcp_state` maintains it for the real server's
/// `activeconns` / `inactconns`.
///
/// Only a change of state is looked at; on one, the flag becomes `!new.is_active()`. The caller
/// moves the conn between the two counters when the result differs from `was_inactive` (IPVS
/// does so only when the conn has a dest). Conns start inactive: every dest's `conn_flags`
/// carry `IP_VS_CONN_F_INACTIVE` (`__ip_vs_update_dest`), so a new conn counts as inactive until
/// its first transition to an active state; a UDP conn never leaves `inactconns`.
pub(crate) fn tcp_inactive_after(was_inactive: bool, old: TcpState, new: TcpState) -> bool {
    if old == new {
        was_inactive
    } else {
        !new.is_active()
    }
}

/// Whether a TCP transition from `old` to `new` marks the conn's template (if it has one)
/// ASSURED: `set_tcp_state` calls `ip_vs_control_assure_ct` on a change of state to ESTABLISHED.
pub(crate) fn tcp_assures_template(old: TcpState, new: TcpState) -> bool {
    old != new && new == TcpState::Established
}

/// Whether a TCP packet with `flags` that matches no connection may be scheduled, creating one
/// (`tcp_conn_schedule`): never with RST; otherwise with SYN, or with anything when the
/// `sloppy_tcp` sysctl is set.
///
/// ACK is not checked, so a SYN+ACK schedules too (on purpose in IPVS, for active FTP's data
/// connection). Packets inside an ICMP error skip this check: IPVS only has their ports.
pub(crate) fn tcp_should_schedule(flags: TcpFlags, sloppy_tcp: bool) -> bool {
    !(flags.rst || !(sloppy_tcp || flags.syn))
}

/// Whether a TCP packet opens a new connection for the purposes of connection reuse
/// (`is_new_conn`): it has SYN, whatever else (a SYN+ACK included).
pub(crate) fn tcp_is_new_conn(flags: TcpFlags) -> bool {
    flags.syn
}

/// Whether an existing TCP connection in `state` that receives a new connection's SYN
/// ([`tcp_is_new_conn`]) should be expired and the packet scheduled afresh (the TCP case of
/// `is_new_conn_expected`): in TIME_WAIT or CLOSE, or, when `conn_reuse_mode` has bit 1 (value
/// 2) set, in FIN_WAIT on a conn with `IP_VS_CONN_F_NOOUTPUT` (DR/tunnel conns end in FIN_WAIT,
/// as IPVS never sees the real server's FIN).
///
/// The caller must check the rest of `ip_vs_in_hook`'s condition: it only asks when
/// `conn_reuse_mode` is non-zero (and `expire_nodest_conn` did not already decide), and a
/// controlled conn (`cp->control`, i.e. persistence or FTP data) is never expected to be reused.
pub(crate) fn tcp_new_conn_expected(
    state: TcpState,
    no_output: bool,
    conn_reuse_mode: i32,
) -> bool {
    state == TcpState::TimeWait
        || state == TcpState::Close
        || (conn_reuse_mode & 2 != 0 && state == TcpState::FinWait && no_output)
}

#[cfg(test)]
mod tests {
    use super::TcpState::*;
    use super::*;

    /// A packet's flags from the letters S, F, A, R.
    fn f(s: &str) -> TcpFlags {
        TcpFlags {
            syn: s.contains('S'),
            fin: s.contains('F'),
            ack: s.contains('A'),
            rst: s.contains('R'),
        }
    }

    /// Runs `packets` (direction, flags) through the normal table from NONE, checking the state
    /// after each.
    fn run(secure: bool, packets: &[(Direction, &str, TcpState)]) {
        let mut s = None;
        for (i, &(dir, flags, want)) in packets.iter().enumerate() {
            s = tcp_transition(s, dir, f(flags), secure);
            assert_eq!(s, want, "packet {i}: {dir:?} {flags}");
        }
    }

    #[test]
    fn numbering_names_timeouts_activity() {
        for (i, s) in TcpState::ALL.iter().enumerate() {
            assert_eq!(usize::from(s.as_u8()), i);
            assert_eq!(TcpState::from_u8(i as u8), Some(*s));
        }
        assert_eq!(TcpState::from_u8(11), Option::None);
        let names: [&str; TCP_STATE_COUNT] = TcpState::ALL.map(TcpState::name);
        assert_eq!(
            names,
            [
                "NONE",
                "ESTABLISHED",
                "SYN_SENT",
                "SYN_RECV",
                "FIN_WAIT",
                "TIME_WAIT",
                "CLOSE",
                "CLOSE_WAIT",
                "LAST_ACK",
                "LISTEN",
                "SYNACK"
            ]
        );
        assert_eq!(
            TcpState::ALL.map(TcpState::default_timeout_secs),
            [2, 900, 120, 60, 120, 120, 10, 60, 30, 120, 120]
        );
        assert_eq!(
            TcpState::ALL.map(TcpState::is_active),
            [false, true, true, true, false, false, false, false, false, false, true]
        );
        assert_eq!(tcp_state_name(10), "SYNACK");
        assert_eq!(tcp_state_name(11), "ERR!");
        assert_eq!(tcp_state_name(0x100), "ERR!");
        assert_eq!(Established.timeout_secs(7, 8), 7);
        assert_eq!(FinWait.timeout_secs(7, 8), 8);
        assert_eq!(TimeWait.timeout_secs(7, 8), 120);
    }

    #[test]
    fn direction_offsets_and_choice() {
        assert_eq!(Direction::Input.state_off(), 0);
        assert_eq!(Direction::Output.state_off(), 4);
        assert_eq!(Direction::InputOnly.state_off(), 8);
        assert_eq!(tcp_direction(false, false), Direction::Input);
        assert_eq!(tcp_direction(false, true), Direction::InputOnly);
        assert_eq!(tcp_direction(true, false), Direction::Output);
        assert_eq!(tcp_direction(true, true), Direction::Output);
    }

    #[test]
    fn flags_byte() {
        assert_eq!(tcp_flags_from_byte(0x02), f("S"));
        assert_eq!(tcp_flags_from_byte(0x12), f("SA"));
        assert_eq!(tcp_flags_from_byte(0x11), f("FA"));
        assert_eq!(tcp_flags_from_byte(0x14), f("RA"));
        assert_eq!(tcp_flags_from_byte(0x18), f("A")); // PSH+ACK: PSH is not looked at
        assert_eq!(tcp_flags_from_byte(0xE8), f("")); // CWR, ECE, URG, PSH only
        assert_eq!(tcp_flags_from_byte(0xFF), f("SFAR"));
    }

    #[test]
    fn flag_priority() {
        // RST beats everything, then SYN, then FIN, then ACK.
        assert_eq!(tcp_state_idx(f("SFAR")), Some(3));
        assert_eq!(tcp_state_idx(f("SFA")), Some(0));
        assert_eq!(tcp_state_idx(f("FA")), Some(1));
        assert_eq!(tcp_state_idx(f("A")), Some(2));
        assert_eq!(tcp_state_idx(f("")), Option::None);
        // SYN+FIN in ESTABLISHED from the client: the SYN row (stays ESTABLISHED), not FIN's.
        assert_eq!(
            tcp_transition(Established, Direction::Input, f("SF"), false),
            Established
        );
        // RST+ACK is an RST.
        assert_eq!(
            tcp_transition(Established, Direction::Input, f("RA"), false),
            Close
        );
    }

    #[test]
    fn no_flags_means_close_not_no_change() {
        // set_tcp_state's new_state starts as CLOSE and the lookup is skipped for idx -1.
        for s in TcpState::ALL {
            for dir in [Direction::Input, Direction::Output, Direction::InputOnly] {
                for secure in [false, true] {
                    assert_eq!(tcp_transition(s, dir, f(""), secure), Close);
                }
            }
        }
    }

    #[test]
    fn nat_handshake_data_client_close() {
        use Direction::{Input as I, Output as O};
        run(
            false,
            &[
                (I, "S", SynRecv),     // client SYN
                (O, "SA", SynRecv),    // server SYN+ACK: OUTPUT syn[sSR] = sSR
                (I, "A", Established), // client ACK
                (I, "A", Established), // client data
                (O, "A", Established), // server data
                (I, "FA", CloseWait),  // client FIN: INPUT fin[sES] = sCW
                (O, "A", CloseWait),   // server ACKs it
                (O, "FA", TimeWait),   // server FIN: OUTPUT fin[sCW] = sTW
                (I, "A", TimeWait),    // client's last ACK
            ],
        );
    }

    #[test]
    fn nat_server_close() {
        use Direction::{Input as I, Output as O};
        run(
            false,
            &[
                (I, "S", SynRecv),
                (O, "SA", SynRecv),
                (I, "A", Established),
                (O, "FA", FinWait),  // server FIN: OUTPUT fin[sES] = sFW
                (I, "A", FinWait),   // client ACKs it
                (I, "FA", TimeWait), // client FIN: INPUT fin[sFW] = sTW
                (O, "A", TimeWait),  // server's last ACK
            ],
        );
        // Simultaneous-ish: both FINs before any ACK.
        run(
            false,
            &[
                (I, "S", SynRecv),
                (O, "SA", SynRecv),
                (I, "A", Established),
                (I, "FA", CloseWait),
                (O, "FA", TimeWait),
                (I, "A", TimeWait),
            ],
        );
    }

    #[test]
    fn dr_input_only() {
        use Direction::InputOnly as IO;
        // Client closes: IPVS only sees the client side.
        run(
            false,
            &[
                (IO, "S", SynRecv),
                (IO, "A", Established),
                (IO, "A", Established),
                (IO, "FA", FinWait), // INPUT-ONLY fin[sES] = sFW (INPUT has sCW)
                (IO, "A", FinWait),  // ACK of the server's FIN
            ],
        );
        // Server closes first: the client's ACK keeps ESTABLISHED, its FIN gives FIN_WAIT.
        run(
            false,
            &[
                (IO, "S", SynRecv),
                (IO, "A", Established),
                (IO, "A", Established),
                (IO, "FA", FinWait),
            ],
        );
        // An RST in SYN_RECV does not kill the conn, anywhere but OUTPUT.
        assert_eq!(tcp_transition(SynRecv, IO, f("R"), false), SynRecv);
        assert_eq!(
            tcp_transition(SynRecv, Direction::Input, f("R"), false),
            SynRecv
        );
        assert_eq!(
            tcp_transition(SynRecv, Direction::Output, f("R"), false),
            Close
        );
    }

    #[test]
    fn dr_conn_becomes_nat_tracked_once_a_reply_is_seen() {
        // A NOOUTPUT conn that sees a reply is tracked with INPUT/OUTPUT afterwards (the caller
        // clears the flag); this only models the direction choice.
        let mut no_output = true;
        let mut s = None;
        for (reply, flags) in [(false, "S"), (true, "SA"), (false, "A"), (false, "FA")] {
            let dir = tcp_direction(reply, no_output);
            if dir == Direction::Output {
                no_output = false;
            }
            s = tcp_transition(s, dir, f(flags), false);
        }
        assert_eq!(s, CloseWait);
        assert!(!no_output);
    }

    #[test]
    fn rst_handling() {
        use Direction::{Input as I, InputOnly as IO, Output as O};
        for d in [I, O, IO] {
            assert_eq!(
                tcp_transition(Established, d, f("R"), false),
                Close,
                "{d:?}"
            );
            assert_eq!(tcp_transition(None, d, f("R"), false), Close, "{d:?}");
        }
        // The table oddities, verbatim from the C.
        assert_eq!(tcp_transition(LastAck, I, f("R"), false), LastAck);
        assert_eq!(tcp_transition(LastAck, O, f("R"), false), Close);
        assert_eq!(tcp_transition(Listen, I, f("R"), false), Listen);
        assert_eq!(tcp_transition(Listen, O, f("R"), false), Close);
        assert_eq!(tcp_transition(SynSent, O, f("R"), false), SynSent);
        assert_eq!(tcp_transition(TimeWait, O, f("R"), false), TimeWait);
        assert_eq!(tcp_transition(SynAck, I, f("R"), false), SynRecv);
        assert_eq!(tcp_transition(SynAck, IO, f("R"), false), Close);
        assert_eq!(tcp_transition(SynAck, I, f("R"), true), Close);
    }

    #[test]
    fn other_spot_checks_of_the_normal_table() {
        use Direction::{Input as I, InputOnly as IO, Output as O};
        // A new SYN on a closing conn reopens it (the reuse logic usually expires it first).
        assert_eq!(tcp_transition(TimeWait, I, f("S"), false), SynRecv);
        assert_eq!(tcp_transition(Close, IO, f("S"), false), SynRecv);
        // A server-side SYN (active FTP data, or SYN seen first from the real server).
        assert_eq!(tcp_transition(None, O, f("S"), false), SynSent);
        assert_eq!(tcp_transition(SynSent, I, f("SA"), false), Established);
        assert_eq!(tcp_transition(SynSent, I, f("A"), false), SynSent);
        // A conn picked up mid-stream.
        assert_eq!(tcp_transition(None, I, f("A"), false), Established);
        assert_eq!(tcp_transition(None, O, f("FA"), false), TimeWait);
        assert_eq!(tcp_transition(None, I, f("FA"), false), Close);
        // LAST_ACK is never entered by the tables themselves, only left.
        assert_eq!(tcp_transition(LastAck, I, f("A"), false), Close);
        assert_eq!(tcp_transition(LastAck, O, f("A"), false), LastAck);
        // LISTEN: sticky except for replies.
        assert_eq!(tcp_transition(Listen, I, f("S"), false), SynRecv);
        assert_eq!(tcp_transition(Listen, O, f("A"), false), Established);
        assert_eq!(tcp_transition(Listen, O, f("S"), false), Listen);
        for secure in [false, true] {
            for d in [I, O, IO] {
                for s in TcpState::ALL {
                    let n = tcp_transition(s, d, f("S"), secure);
                    assert_ne!(n, LastAck);
                    assert_ne!(n, CloseWait);
                }
            }
        }
    }

    #[test]
    fn secure_tcp_nat() {
        use Direction::{Input as I, Output as O};
        // Only the server's reply moves the conn on: SYNACK after its SYN+ACK, ESTABLISHED only
        // after a server ACK. The client's ACK alone does nothing (ack[sSR] = sSR, ack[sSA] = sSA).
        run(
            true,
            &[
                (I, "S", SynRecv),
                (I, "A", SynRecv), // spoofed handshake completion: ignored
                (O, "SA", SynAck), // OUTPUT syn[sSR] = sSA
                (I, "A", SynAck),  // INPUT ack[sSA] = sSA
                (O, "A", Established),
                (I, "FA", CloseWait),
                (O, "FA", TimeWait),
            ],
        );
        assert_eq!(tcp_transition(SynAck, I, f("FA"), true), SynAck);
        assert_eq!(tcp_transition(SynAck, I, f("S"), true), SynAck);
        assert_eq!(tcp_transition(SynAck, O, f("S"), true), SynAck);
        // The normal table for the same packets.
        assert_eq!(tcp_transition(SynRecv, I, f("A"), false), Established);
        assert_eq!(tcp_transition(SynRecv, O, f("SA"), false), SynRecv);
        assert_eq!(tcp_transition(SynAck, I, f("A"), false), Established);
    }

    #[test]
    fn secure_tcp_dr() {
        use Direction::InputOnly as IO;
        run(
            true,
            &[
                (IO, "S", SynAck), // INPUT-ONLY syn[sNO] = sSA (normal: sSR)
                (IO, "A", Established),
                (IO, "FA", FinWait),
            ],
        );
        // A SYN on a closing conn also goes to SYNACK, with SYNACK's 120 s timeout.
        assert_eq!(tcp_transition(TimeWait, IO, f("S"), true), SynAck);
        assert_eq!(tcp_transition(SynRecv, IO, f("S"), true), SynRecv);
    }

    #[test]
    fn secure_tables_differ_exactly_where_the_c_does() {
        // Every (row, state) cell where tcp_states_dos differs from tcp_states, listed from the C.
        let mut diffs = [(0usize, 0usize); 16];
        let mut n = 0;
        for (r, (a, b)) in tables::TCP_STATES
            .iter()
            .zip(tables::TCP_STATES_DOS.iter())
            .enumerate()
        {
            for (s, (x, y)) in a.iter().zip(b.iter()).enumerate() {
                if x != y {
                    diffs[n] = (r, s);
                    n += 1;
                }
            }
        }
        assert_eq!(
            &diffs[..n],
            &[
                (0, 10), // INPUT syn[sSA]: sSR -> sSA
                (1, 10), // INPUT fin[sSA]: sTW -> sSA
                (2, 3),  // INPUT ack[sSR]: sES -> sSR
                (2, 10), // INPUT ack[sSA]: sES -> sSA
                (3, 10), // INPUT rst[sSA]: sSR -> sCL
                (4, 3),  // OUTPUT syn[sSR]: sSR -> sSA
                (4, 10), // OUTPUT syn[sSA]: sSR -> sSA
                (8, 0),  // INPUT-ONLY syn[sNO]: sSR -> sSA
                (8, 4),  // INPUT-ONLY syn[sFW..sLI]: sSR -> sSA
                (8, 5),
                (8, 6),
                (8, 7),
                (8, 8),
                (8, 9),
                (8, 10), // INPUT-ONLY syn[sSA]: sSR -> sSA
            ][..]
        );
    }

    #[test]
    #[rustfmt::skip]
    fn full_tables_spot_rows() {
        // Whole rows typed again from the C (columns sNO .. sSA), looked up through
        // tcp_transition, to catch a transposition in the copies or in the indexing.
        use Direction::{Input as I, InputOnly as IO, Output as O};
        use TcpState::{
            Close as CL, CloseWait as CW, Established as ES, FinWait as FW, LastAck as LA,
            Listen as LI, SynAck as SA, SynRecv as SR, SynSent as SS, TimeWait as TW,
        };
        let row = |d: Direction, fl: &str, secure: bool| {
            TcpState::ALL.map(|s| tcp_transition(s, d, f(fl), secure))
        };
        assert_eq!(row(I, "S", false), [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR]);
        assert_eq!(row(I, "F", false), [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, TW]);
        assert_eq!(row(I, "A", false), [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES]);
        assert_eq!(row(I, "R", false), [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, SR]);
        assert_eq!(row(O, "S", false), [SS, ES, SS, SR, SS, SS, SS, SS, SS, LI, SR]);
        assert_eq!(row(O, "F", false), [TW, FW, SS, TW, FW, TW, CL, TW, LA, LI, TW]);
        assert_eq!(row(O, "A", false), [ES, ES, SS, ES, FW, TW, CL, CW, LA, ES, ES]);
        assert_eq!(row(O, "R", false), [CL, CL, SS, CL, CL, TW, CL, CL, CL, CL, CL]);
        assert_eq!(row(IO, "S", false), [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SR]);
        assert_eq!(row(IO, "F", false), [CL, FW, SS, TW, FW, TW, CL, CW, LA, LI, TW]);
        assert_eq!(row(IO, "A", false), [ES, ES, SS, ES, FW, TW, CL, CW, CL, LI, ES]);
        assert_eq!(row(IO, "R", false), [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL]);
        assert_eq!(row(I, "S", true), [SR, ES, ES, SR, SR, SR, SR, SR, SR, SR, SA]);
        assert_eq!(row(I, "F", true), [CL, CW, SS, TW, TW, TW, CL, CW, LA, LI, SA]);
        assert_eq!(row(I, "A", true), [ES, ES, SS, SR, FW, TW, CL, CW, CL, LI, SA]);
        assert_eq!(row(I, "R", true), [CL, CL, CL, SR, CL, CL, CL, CL, LA, LI, CL]);
        assert_eq!(row(O, "S", true), [SS, ES, SS, SA, SS, SS, SS, SS, SS, LI, SA]);
        assert_eq!(row(IO, "S", true), [SA, ES, ES, SR, SA, SA, SA, SA, SA, SA, SA]);
        // Flag combinations select the same rows as their winning flag.
        assert_eq!(row(I, "SA", false), row(I, "S", false));
        assert_eq!(row(O, "FA", false), row(O, "F", false));
        assert_eq!(row(IO, "RA", false), row(IO, "R", false));
    }

    #[test]
    fn inactive_flag_follows_state_changes() {
        // New conn: inactive; SYN -> SYN_RECV (active).
        assert!(!tcp_inactive_after(true, None, SynRecv));
        // Unchanged state: the flag is left alone, whatever it is.
        assert!(tcp_inactive_after(true, Established, Established));
        assert!(!tcp_inactive_after(false, FinWait, FinWait));
        assert!(tcp_inactive_after(false, Established, FinWait));
        assert!(!tcp_inactive_after(false, SynRecv, Established));
        assert!(!tcp_inactive_after(true, SynRecv, SynAck));
    }

    #[test]
    fn scheduling_rule() {
        assert!(tcp_should_schedule(f("S"), false));
        assert!(tcp_should_schedule(f("SA"), false)); // SYN+ACK: active FTP
        assert!(tcp_should_schedule(f("SF"), false));
        assert!(!tcp_should_schedule(f("SR"), false));
        assert!(!tcp_should_schedule(f("A"), false));
        assert!(!tcp_should_schedule(f("FA"), false));
        assert!(!tcp_should_schedule(f(""), false));
        assert!(tcp_should_schedule(f("A"), true));
        assert!(tcp_should_schedule(f("FA"), true));
        assert!(tcp_should_schedule(f(""), true));
        assert!(!tcp_should_schedule(f("R"), true));
        assert!(!tcp_should_schedule(f("RA"), true));
    }

    #[test]
    fn connection_reuse() {
        assert!(tcp_is_new_conn(f("S")));
        assert!(tcp_is_new_conn(f("SA")));
        assert!(!tcp_is_new_conn(f("A")));
        for mode in [1, 2, 3] {
            assert!(tcp_new_conn_expected(TimeWait, false, mode));
            assert!(tcp_new_conn_expected(Close, true, mode));
            assert!(!tcp_new_conn_expected(Established, true, mode));
            assert!(!tcp_new_conn_expected(FinWait, false, mode));
            assert!(!tcp_new_conn_expected(CloseWait, true, mode));
            assert!(!tcp_new_conn_expected(SynRecv, false, mode));
        }
        assert!(!tcp_new_conn_expected(FinWait, true, 1));
        assert!(tcp_new_conn_expected(FinWait, true, 2));
        assert!(tcp_new_conn_expected(FinWait, true, 3));
    }
}
