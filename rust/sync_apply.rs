// SPDX-License-Identifier: GPL-2.0

//! What a backup director does with a connection entry its master sent (IPVS's
//! `ip_vs_proc_conn`, `ip_vs_sync.c`): create the connection, update the one it has, replace one
//! that a new connection of the same client took over on the master, or ignore the late notice of
//! one already replaced; and the timeout the connection gets.
//!
//! Kernel-independent, host-tested; the daemon (#13) applies a [`Plan`] to the connection table.

#![deny(unsafe_code)]

use crate::sync_wire::{backup_flags, backup_update_flags, CONN_F_INACTIVE, CONN_F_TEMPLATE};

/// The connection (or template) the backup already has for an entry's client side
/// (`ip_vs_conn_in_get`, `ip_vs_ct_in_get`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Held {
    /// Its real server's address (16 bytes, an IPv4 one in the first 4) and port.
    pub(crate) daddr: [u8; 16],
    pub(crate) dport: [u8; 2],
    /// Its `IP_VS_CONN_F_*` flags.
    pub(crate) flags: u32,
    /// It is bound to a real server of a service (`cp->dest`).
    pub(crate) bound: bool,
}

/// A change of the real server's active connection count (`activeconns`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Active {
    Unchanged,
    /// The connection became active on the master.
    Up,
    /// The connection became inactive.
    Down,
}

/// What to do with an entry.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Plan {
    /// A new connection with these flags, bound to the real server of a service if one matches
    /// (`ip_vs_find_dest`; unbound otherwise, but still handled).
    Create { flags: u32 },
    /// The held connection is for another real server (the client's ports were reused on the
    /// master): expire it now, then create as [`Plan::Create`].
    Replace { flags: u32 },
    /// The held connection changes to these flags; `bind` when it has no real server yet
    /// (`ip_vs_try_bind_dest`).
    Update {
        flags: u32,
        active: Active,
        bind: bool,
    },
    /// The entry is the expiry notice of a connection the backup already replaced.
    Ignore,
}

/// The plan for an entry with `wire_flags` for real server `daddr:dport`, given what the backup
/// holds for its client side.
pub(crate) fn plan(wire_flags: u32, daddr: &[u8; 16], dport: [u8; 2], held: Option<&Held>) -> Plan {
    let flags = backup_flags(wire_flags);
    let template = flags & CONN_F_TEMPLATE != 0;
    let Some(held) = held else {
        return Plan::Create { flags };
    };
    // Templates are found by their client and service only; a connection must also have the
    // same real server to be the one the entry is about.
    if !template && (held.dport != dport || held.daddr != *daddr) {
        return if flags & CONN_F_INACTIVE == 0 {
            Plan::Replace { flags }
        } else {
            Plan::Ignore
        };
    }
    let active = if (held.flags ^ flags) & CONN_F_INACTIVE != 0 && !template && held.bound {
        if flags & CONN_F_INACTIVE != 0 {
            Active::Down
        } else {
            Active::Up
        }
    } else {
        Active::Unchanged
    };
    Plan::Update {
        flags: backup_update_flags(held.flags, wire_flags),
        active,
        bind: !held.bound,
    }
}

/// The default timeout of what the protocol's table does not cover: templates, and connections
/// of a version 0 message (which carries no timeout) without a protocol table (3 minutes).
const FALLBACK_TIMEOUT_SECS: u64 = 3 * 60;

/// The timeout, in jiffies at `hz`, of a connection made or updated from an entry that carried
/// `timeout_secs` (0 from version 0): that, capped as IPVS caps it (`MAX_SCHEDULE_TIMEOUT / HZ`
/// seconds); without it, `state_timeout` (the protocol's timeout of the entry's state, in
/// jiffies) for a connection that has one, else three minutes.
pub(crate) fn timeout_ticks(
    timeout_secs: u32,
    template: bool,
    state_timeout: Option<u64>,
    hz: u32,
) -> u64 {
    let hz = u64::from(hz.max(1));
    if timeout_secs != 0 {
        // MAX_SCHEDULE_TIMEOUT is LONG_MAX.
        let max_secs = (i64::MAX as u64) / hz;
        return u64::from(timeout_secs).min(max_secs) * hz;
    }
    match state_timeout {
        Some(ticks) if !template => ticks,
        _ => FALLBACK_TIMEOUT_SECS * hz,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sync_wire::{CONN_F_NOOUTPUT, CONN_F_SEQ_MASK, CONN_F_SYNC};

    const MASQ: u32 = 0;
    const DROUTE: u32 = 3;

    fn addr(last: u8) -> [u8; 16] {
        let mut a = [0; 16];
        a[..4].copy_from_slice(&[10, 0, 2, last]);
        a
    }

    fn held(last: u8, flags: u32, bound: bool) -> Held {
        Held {
            daddr: addr(last),
            dport: [0, 80],
            flags,
            bound,
        }
    }

    #[test]
    fn a_new_entry_is_created_with_the_backup_flags() {
        // HASHED (0x40) and ONE_PACKET are the master's own; SYNC marks what a backup made.
        let wire = DROUTE | CONN_F_NOOUTPUT | 0x40 | 0x2000;
        assert_eq!(
            plan(wire, &addr(11), [0, 80], None),
            Plan::Create {
                flags: DROUTE | CONN_F_NOOUTPUT | CONN_F_SYNC
            }
        );
    }

    #[test]
    fn another_real_server_replaces_unless_the_entry_is_a_late_expiry() {
        let h = held(11, MASQ | CONN_F_SYNC, true);
        assert_eq!(
            plan(MASQ, &addr(12), [0, 80], Some(&h)),
            Plan::Replace {
                flags: MASQ | CONN_F_SYNC
            }
        );
        assert_eq!(
            plan(MASQ, &addr(11), [0, 81], Some(&h)),
            Plan::Replace {
                flags: MASQ | CONN_F_SYNC
            }
        );
        assert_eq!(
            plan(MASQ | CONN_F_INACTIVE, &addr(12), [0, 80], Some(&h)),
            Plan::Ignore
        );
    }

    #[test]
    fn templates_are_updated_whatever_their_real_server() {
        let h = held(11, MASQ | CONN_F_TEMPLATE | CONN_F_SYNC, true);
        assert_eq!(
            plan(
                MASQ | CONN_F_TEMPLATE | CONN_F_INACTIVE,
                &addr(12),
                [0, 0],
                Some(&h)
            ),
            Plan::Update {
                flags: MASQ | CONN_F_TEMPLATE | CONN_F_SYNC | CONN_F_INACTIVE,
                active: Active::Unchanged,
                bind: false,
            }
        );
    }

    #[test]
    fn updates_take_inactive_and_sequence_flags_and_move_the_active_count() {
        let active = held(11, MASQ | CONN_F_SYNC, true);
        assert_eq!(
            plan(MASQ | CONN_F_INACTIVE, &addr(11), [0, 80], Some(&active)),
            Plan::Update {
                flags: MASQ | CONN_F_SYNC | CONN_F_INACTIVE,
                active: Active::Down,
                bind: false,
            }
        );
        let inactive = held(11, MASQ | CONN_F_SYNC | CONN_F_INACTIVE, true);
        assert_eq!(
            plan(MASQ | CONN_F_SEQ_MASK, &addr(11), [0, 80], Some(&inactive)),
            Plan::Update {
                flags: MASQ | CONN_F_SYNC | CONN_F_SEQ_MASK,
                active: Active::Up,
                bind: false,
            }
        );
        // The forwarding method and NOOUTPUT stay as the backup has them.
        let dr = held(11, DROUTE | CONN_F_NOOUTPUT | CONN_F_SYNC, true);
        assert_eq!(
            plan(MASQ, &addr(11), [0, 80], Some(&dr)),
            Plan::Update {
                flags: DROUTE | CONN_F_NOOUTPUT | CONN_F_SYNC,
                active: Active::Unchanged,
                bind: false,
            }
        );
    }

    #[test]
    fn an_unbound_connection_moves_no_count_and_is_bound_again() {
        let h = held(11, MASQ | CONN_F_SYNC, false);
        assert_eq!(
            plan(MASQ | CONN_F_INACTIVE, &addr(11), [0, 80], Some(&h)),
            Plan::Update {
                flags: MASQ | CONN_F_SYNC | CONN_F_INACTIVE,
                active: Active::Unchanged,
                bind: true,
            }
        );
    }

    #[test]
    fn timeouts_from_the_entry_the_state_or_three_minutes() {
        let hz = 250;
        assert_eq!(timeout_ticks(900, false, Some(1), hz), 900 * 250);
        assert_eq!(timeout_ticks(0, false, Some(15 * 250), hz), 15 * 250);
        assert_eq!(timeout_ticks(0, true, Some(15 * 250), hz), 180 * 250);
        assert_eq!(timeout_ticks(0, false, None, hz), 180 * 250);
        // Capped, never overflowing.
        assert_eq!(
            timeout_ticks(u32::MAX, false, None, hz),
            u64::from(u32::MAX) * 250
        );
        assert!(timeout_ticks(u32::MAX, false, None, u32::MAX) <= i64::MAX as u64);
    }
}
