// SPDX-License-Identifier: GPL-2.0

//! SCTP's association state machine as IPVS tracks it (`ip_vs_proto_sctp.c`: `sctp_events`,
//! `sctp_states`, `set_sctp_state`, `sctp_conn_schedule`, the timeout and name tables).
//!
//! As for TCP, IPVS looks at one chunk per packet (the first; a COOKIE ECHO or COOKIE ACK
//! followed by an ABORT counts as the ABORT) and at which side sent it, and looks the next state
//! up in a table per direction, copied verbatim below. Only ESTABLISHED counts as active.
//!
//! Groundwork of #16: kernel-independent and host-tested; the data plane does not use it yet.

#![deny(unsafe_code)]
#![cfg_attr(not(test), allow(dead_code))]

use super::Direction;

/// An SCTP association state, numbered as IPVS's `IP_VS_SCTP_S_*`: what `cp->state` holds and
/// what IPVS syncs to backup directors. The states are as the real server sees them.
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) enum SctpState {
    /// `IP_VS_SCTP_S_NONE`: before the first packet was accounted.
    None = 0,
    /// `INIT1`: the client's first INIT, waiting for the server's INIT ACK.
    Init1 = 1,
    /// `INIT`: a next INIT from the client.
    Init = 2,
    /// `COOKIE_SENT`: the server's INIT ACK, waiting for the client's COOKIE ECHO.
    CookieSent = 3,
    /// `COOKIE_REPLIED`: the client's COOKIE ECHO, waiting for the server's COOKIE ACK.
    CookieReplied = 4,
    /// `COOKIE_WAIT`: an INIT from the server, waiting for the client's INIT ACK.
    CookieWait = 5,
    /// `COOKIE`: the client's INIT ACK, waiting for the server's COOKIE ECHO.
    Cookie = 6,
    /// `COOKIE_ECHOED`: the server's COOKIE ECHO, waiting for the client's COOKIE ACK.
    CookieEchoed = 7,
    /// `ESTABLISHED`.
    Established = 8,
    /// `SHUTDOWN_SENT`.
    ShutdownSent = 9,
    /// `SHUTDOWN_RECEIVED`.
    ShutdownReceived = 10,
    /// `SHUTDOWN_ACK_SENT`.
    ShutdownAckSent = 11,
    /// `REJECTED`: an INIT answered with an ABORT.
    Rejected = 12,
    /// `CLOSED`.
    Closed = 13,
}

/// The number of SCTP states (`IP_VS_SCTP_S_LAST`).
pub(crate) const SCTP_STATE_COUNT: usize = 14;

/// `IP_VS_SCTP_MAX_RTO` in seconds: the timeout of the handshake and shutdown states.
const MAX_RTO_SECS: u32 = 60 + 1;

impl SctpState {
    /// Every state, in numbering order.
    pub(crate) const ALL: [SctpState; SCTP_STATE_COUNT] = [
        SctpState::None,
        SctpState::Init1,
        SctpState::Init,
        SctpState::CookieSent,
        SctpState::CookieReplied,
        SctpState::CookieWait,
        SctpState::Cookie,
        SctpState::CookieEchoed,
        SctpState::Established,
        SctpState::ShutdownSent,
        SctpState::ShutdownReceived,
        SctpState::ShutdownAckSent,
        SctpState::Rejected,
        SctpState::Closed,
    ];

    /// The state numbered `v`, if any.
    pub(crate) const fn from_u8(v: u8) -> Option<SctpState> {
        if (v as usize) < SCTP_STATE_COUNT {
            Some(Self::ALL[v as usize])
        } else {
            None
        }
    }

    /// The name `/proc/net/ip_vs_conn` and `ipvsadm -Lnc` show (`sctp_state_name_table`).
    pub(crate) const fn name(self) -> &'static str {
        match self {
            SctpState::None => "NONE",
            SctpState::Init1 => "INIT1",
            SctpState::Init => "INIT",
            SctpState::CookieSent => "C-SENT",
            SctpState::CookieReplied => "C-REPLIED",
            SctpState::CookieWait => "C-WAIT",
            SctpState::Cookie => "COOKIE",
            SctpState::CookieEchoed => "C-ECHOED",
            SctpState::Established => "ESTABLISHED",
            SctpState::ShutdownSent => "S-SENT",
            SctpState::ShutdownReceived => "S-RECEIVED",
            SctpState::ShutdownAckSent => "S-ACK-SENT",
            SctpState::Rejected => "REJECTED",
            SctpState::Closed => "CLOSED",
        }
    }

    /// The state's timeout in seconds (`sctp_timeouts`; `ipvsadm --set` changes none of them).
    pub(crate) const fn timeout_secs(self) -> u32 {
        match self {
            SctpState::None => 2,
            SctpState::Init1 | SctpState::Rejected => 3 + 1,
            SctpState::Established => 15 * 60,
            _ => MAX_RTO_SECS,
        }
    }

    /// Whether a connection in this state counts in the real server's `activeconns`:
    /// ESTABLISHED only (`set_sctp_state`).
    pub(crate) const fn is_active(self) -> bool {
        matches!(self, SctpState::Established)
    }
}

/// Names a raw SCTP state number as `sctp_state_name` does: "ERR!" when out of range.
pub(crate) fn sctp_state_name(state: u16) -> &'static str {
    match u8::try_from(state).ok().and_then(SctpState::from_u8) {
        Some(s) => s.name(),
        None => "ERR!",
    }
}

/// Chunk types (RFC 9260, `SCTP_CID_*`) that IPVS looks at.
pub(crate) const CHUNK_INIT: u8 = 1;
pub(crate) const CHUNK_ABORT: u8 = 6;
const CHUNK_COOKIE_ECHO: u8 = 10;
const CHUNK_COOKIE_ACK: u8 = 11;
/// Length of the common header (ports, verification tag, CRC32c) and of a chunk header.
pub(crate) const SCTP_HEADER_LEN: usize = 12;
pub(crate) const CHUNK_HEADER_LEN: usize = 4;

/// What a packet means to the state machine (`enum ipvs_sctp_event_t`).
#[repr(u8)]
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SctpEvent {
    /// DATA, SACK, HEARTBEAT (ACK), ECN chunks, and every type IPVS does not name.
    Data = 0,
    Init = 1,
    InitAck = 2,
    CookieEcho = 3,
    CookieAck = 4,
    Shutdown = 5,
    ShutdownAck = 6,
    ShutdownComplete = 7,
    Error = 8,
    Abort = 9,
}

const EVENT_COUNT: usize = 10;

/// The event of a chunk type (`sctp_events`).
pub(crate) const fn chunk_event(chunk_type: u8) -> SctpEvent {
    match chunk_type {
        CHUNK_INIT => SctpEvent::Init,
        2 => SctpEvent::InitAck,
        CHUNK_ABORT => SctpEvent::Abort,
        7 => SctpEvent::Shutdown,
        8 => SctpEvent::ShutdownAck,
        9 => SctpEvent::Error,
        CHUNK_COOKIE_ECHO => SctpEvent::CookieEcho,
        CHUNK_COOKIE_ACK => SctpEvent::CookieAck,
        14 => SctpEvent::ShutdownComplete,
        // DATA 0, SACK 3, HEARTBEAT 4 and 5, ECNE 12, CWR 13, and anything past the table.
        _ => SctpEvent::Data,
    }
}

/// The event of a packet whose first chunk has `first_type` and length field `first_len`, and
/// whose next chunk (at the first's length rounded up to 4) has `next_type` if the packet holds
/// one (`set_sctp_state`): a COOKIE ECHO or COOKIE ACK bundled with an ABORT is the ABORT.
pub(crate) fn packet_event(first_type: u8, first_len: u16, next_type: Option<u8>) -> SctpEvent {
    let cookie = first_type == CHUNK_COOKIE_ECHO || first_type == CHUNK_COOKIE_ACK;
    if cookie && usize::from(first_len) >= CHUNK_HEADER_LEN && next_type == Some(CHUNK_ABORT) {
        return SctpEvent::Abort;
    }
    chunk_event(first_type)
}

/// Where `set_sctp_state` looks for the chunk after a first one of length field `first_len`,
/// from the start of the first chunk: `ALIGN(clen, 4)`.
pub(crate) const fn next_chunk_offset(first_len: u16) -> usize {
    (first_len as usize + 3) & !3
}

/// Whether a packet without connection may start one (`sctp_conn_schedule`): never an ABORT;
/// an INIT, or any other chunk with `sloppy_sctp`.
pub(crate) const fn sctp_should_schedule(first_type: u8, sloppy_sctp: bool) -> bool {
    first_type != CHUNK_ABORT && (sloppy_sctp || first_type == CHUNK_INIT)
}

use SctpState::{
    Closed as sCL, Cookie as sCO, CookieEchoed as sCE, CookieReplied as sCR, CookieSent as sCS,
    CookieWait as sCW, Established as sES, Init as sIN, Init1 as sI1, Rejected as sRJ,
    ShutdownAckSent as sSA, ShutdownReceived as sSR, ShutdownSent as sSS,
};

type Table = [[SctpState; SCTP_STATE_COUNT]; EVENT_COUNT];

/// `sctp_states[IP_VS_DIR_INPUT]`, verbatim: rows are events (d, i, i_a, c_e, c_a, s, s_a, s_c,
/// err, ab), columns the current state.
#[rustfmt::skip]
const INPUT: Table = [
    //  sNO  sI1  sIN  sCS  sCR  sCW  sCO  sCE  sES  sSS  sSR  sSA  sRJ  sCL
    [sES, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // d
    [sI1, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sIN, sIN], // i
    [sCW, sCW, sCW, sCS, sCR, sCO, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // i_a
    [sCR, sIN, sIN, sCR, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // c_e
    [sES, sI1, sIN, sCS, sCR, sCW, sCO, sES, sES, sSS, sSR, sSA, sRJ, sCL], // c_a
    [sSR, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sSR, sSS, sSR, sSA, sRJ, sCL], // s
    [sCL, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sES, sCL, sSR, sCL, sRJ, sCL], // s_a
    [sCL, sCL, sCL, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sCL, sRJ, sCL], // s_c
    [sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCL, sES, sSS, sSR, sSA, sRJ, sCL], // err
    [sCL, sCL, sCL, sCL, sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL], // ab
];

/// `sctp_states[IP_VS_DIR_OUTPUT]`, verbatim.
#[rustfmt::skip]
const OUTPUT: Table = [
    //  sNO  sI1  sIN  sCS  sCR  sCW  sCO  sCE  sES  sSS  sSR  sSA  sRJ  sCL
    [sES, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // d
    [sCW, sCW, sCW, sCW, sCW, sCW, sCW, sCW, sES, sCW, sCW, sCW, sCW, sCW], // i
    [sCS, sCS, sCS, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // i_a
    [sCE, sCE, sCE, sCE, sCE, sCE, sCE, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // c_e
    [sES, sES, sES, sES, sES, sES, sES, sES, sES, sSS, sSR, sSA, sRJ, sCL], // c_a
    [sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSS, sSR, sSA, sRJ, sCL], // s
    [sSA, sSA, sSA, sSA, sSA, sCW, sCO, sCE, sES, sSA, sSA, sSA, sRJ, sCL], // s_a
    [sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // s_c
    [sCL, sCL, sCL, sCL, sCL, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // err
    [sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL], // ab
];

/// `sctp_states[IP_VS_DIR_INPUT_ONLY]`, verbatim: the client's side alone (DR, tunnels).
#[rustfmt::skip]
const INPUT_ONLY: Table = [
    //  sNO  sI1  sIN  sCS  sCR  sCW  sCO  sCE  sES  sSS  sSR  sSA  sRJ  sCL
    [sES, sI1, sIN, sCS, sCR, sES, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // d
    [sI1, sIN, sIN, sIN, sIN, sIN, sCO, sCE, sES, sSS, sSR, sSA, sIN, sIN], // i
    [sCE, sCE, sCE, sCE, sCE, sCE, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // i_a
    [sES, sES, sES, sES, sES, sES, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // c_e
    [sES, sI1, sIN, sES, sES, sCW, sES, sES, sES, sSS, sSR, sSA, sRJ, sCL], // c_a
    [sSR, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sSR, sSS, sSR, sSA, sRJ, sCL], // s
    [sCL, sIN, sIN, sCS, sCR, sCW, sCO, sCE, sCL, sCL, sSR, sCL, sRJ, sCL], // s_a
    [sCL, sCL, sCL, sCL, sCL, sCW, sCO, sCE, sES, sSS, sCL, sCL, sRJ, sCL], // s_c
    [sCL, sI1, sIN, sCS, sCR, sCW, sCO, sCE, sES, sSS, sSR, sSA, sRJ, sCL], // err
    [sCL, sCL, sCL, sCL, sCL, sRJ, sCL, sCL, sCL, sCL, sCL, sCL, sCL, sCL], // ab
];

/// The next state of a connection in `state` for a packet of `event` in `direction` (the caller
/// picks the direction as for TCP: [`super::tcp_direction`], clearing `NOOUTPUT` on a reply).
pub(crate) fn sctp_transition(
    direction: Direction,
    event: SctpEvent,
    state: SctpState,
) -> SctpState {
    let table = match direction {
        Direction::Input => &INPUT,
        Direction::Output => &OUTPUT,
        Direction::InputOnly => &INPUT_ONLY,
    };
    table[event as usize][state as usize]
}

/// Whether the template of a connection that moves from `old` to `new` becomes assured: when it
/// becomes ESTABLISHED (`ip_vs_control_assure_ct` in `set_sctp_state`).
pub(crate) fn sctp_assures_template(old: SctpState, new: SctpState) -> bool {
    old != new && new == SctpState::Established
}

#[cfg(test)]
mod tests {
    use super::*;
    use Direction::{Input, InputOnly, Output};
    use SctpEvent::*;

    /// Runs `steps` of (direction, event) from NONE; returns the states' names.
    fn run(steps: &[(Direction, SctpEvent)]) -> Vec<&'static str> {
        let mut s = SctpState::None;
        steps
            .iter()
            .map(|&(d, e)| {
                s = sctp_transition(d, e, s);
                s.name()
            })
            .collect()
    }

    #[test]
    fn numbering_and_names() {
        for (i, s) in SctpState::ALL.iter().enumerate() {
            assert_eq!(*s as usize, i);
            assert_eq!(SctpState::from_u8(i as u8), Some(*s));
        }
        assert_eq!(SctpState::from_u8(14), None);
        assert_eq!(sctp_state_name(8), "ESTABLISHED");
        assert_eq!(sctp_state_name(14), "ERR!");
        assert_eq!(SctpState::CookieReplied.name(), "C-REPLIED");
    }

    #[test]
    fn timeouts() {
        assert_eq!(SctpState::None.timeout_secs(), 2);
        assert_eq!(SctpState::Init1.timeout_secs(), 4);
        assert_eq!(SctpState::Rejected.timeout_secs(), 4);
        assert_eq!(SctpState::Init.timeout_secs(), 61);
        assert_eq!(SctpState::Closed.timeout_secs(), 61);
        assert_eq!(SctpState::Established.timeout_secs(), 900);
        let active: Vec<_> = SctpState::ALL.iter().filter(|s| s.is_active()).collect();
        assert_eq!(active, [&SctpState::Established]);
    }

    #[test]
    fn nat_association_and_shutdown() {
        // Through a NAT director both sides are seen.
        assert_eq!(
            run(&[
                (Input, Init),
                (Output, InitAck),
                (Input, CookieEcho),
                (Output, CookieAck),
                (Input, Data),
                (Output, Data),
                (Input, Shutdown),
                (Output, ShutdownAck),
                (Input, ShutdownComplete),
            ]),
            [
                "INIT1",
                "C-SENT",
                "C-REPLIED",
                "ESTABLISHED",
                "ESTABLISHED",
                "ESTABLISHED",
                "S-RECEIVED",
                "S-ACK-SENT",
                "CLOSED"
            ]
        );
        // The server shuts down.
        let mut s = SctpState::Established;
        for (d, e, want) in [(Output, Shutdown, "S-SENT"), (Input, ShutdownAck, "CLOSED")] {
            s = sctp_transition(d, e, s);
            assert_eq!(s.name(), want);
        }
    }

    #[test]
    fn direct_routing_sees_the_client_only() {
        assert_eq!(
            run(&[
                (InputOnly, Init),
                (InputOnly, CookieEcho),
                (InputOnly, Data),
                (InputOnly, Shutdown),
                (InputOnly, ShutdownComplete),
            ]),
            [
                "INIT1",
                "ESTABLISHED",
                "ESTABLISHED",
                "S-RECEIVED",
                "CLOSED"
            ]
        );
    }

    #[test]
    fn retried_and_rejected_inits() {
        assert_eq!(
            run(&[(Input, Init), (Input, Init), (Input, Init)]),
            ["INIT1", "INIT", "INIT"]
        );
        // An INIT answered with an ABORT: REJECTED (short timeout), a new INIT starts again.
        assert_eq!(
            run(&[(Input, Init), (Output, Abort), (Input, Init)]),
            ["INIT1", "REJECTED", "INIT"]
        );
        // The server initiates: COOKIE_WAIT, then the client's INIT ACK.
        assert_eq!(
            run(&[
                (Output, Init),
                (Input, InitAck),
                (Output, CookieEcho),
                (Input, CookieAck)
            ]),
            ["C-WAIT", "COOKIE", "C-ECHOED", "ESTABLISHED"]
        );
    }

    #[test]
    fn events_of_chunks() {
        assert_eq!(chunk_event(0), Data);
        assert_eq!(chunk_event(3), Data);
        assert_eq!(chunk_event(4), Data);
        assert_eq!(chunk_event(13), Data);
        assert_eq!(chunk_event(14), ShutdownComplete);
        assert_eq!(chunk_event(15), Data);
        assert_eq!(chunk_event(0xc0), Data);
        // A COOKIE ECHO bundled with an ABORT is the ABORT; not with a bad length, not for DATA.
        assert_eq!(packet_event(10, 36, Some(CHUNK_ABORT)), Abort);
        assert_eq!(packet_event(11, 4, Some(CHUNK_ABORT)), Abort);
        assert_eq!(packet_event(10, 3, Some(CHUNK_ABORT)), CookieEcho);
        assert_eq!(packet_event(10, 36, None), CookieEcho);
        assert_eq!(packet_event(0, 36, Some(CHUNK_ABORT)), Data);
        assert_eq!(next_chunk_offset(33), 36);
        assert_eq!(next_chunk_offset(36), 36);
    }

    #[test]
    fn scheduling() {
        assert!(sctp_should_schedule(CHUNK_INIT, false));
        assert!(!sctp_should_schedule(0, false));
        assert!(sctp_should_schedule(0, true));
        assert!(!sctp_should_schedule(CHUNK_ABORT, true));
    }

    #[test]
    fn templates_are_assured_on_establishment() {
        assert!(sctp_assures_template(
            SctpState::CookieReplied,
            SctpState::Established
        ));
        assert!(!sctp_assures_template(
            SctpState::Established,
            SctpState::Established
        ));
        assert!(!sctp_assures_template(SctpState::None, SctpState::Init1));
    }
}
