// SPDX-License-Identifier: GPL-2.0

//! A connection synchronisation daemon's settings (`struct ipvs_sync_daemon_cfg`) as
//! `IPVS_CMD_NEW_DAEMON` gives them, completed with IPVS's defaults (`start_sync_thread`), which
//! `GET_DAEMON` then shows.
//!
//! Kernel-independent, host-tested.

#![deny(unsafe_code)]

/// `IP_VS_IFNAME_MAXLEN`: an interface name and its NUL.
pub(crate) const IFNAME_MAXLEN: usize = 16;
/// `IP_VS_SYNC_GROUP`, 224.0.0.81.
pub(crate) const DEFAULT_GROUP: [u8; 4] = [224, 0, 0, 81];
/// `IP_VS_SYNC_PORT`.
pub(crate) const DEFAULT_PORT: u16 = 8848;
/// An IPv4 and a UDP header.
const IPV4_UDP_HEADERS: u16 = 20 + 8;

/// `IP_VS_STATE_MASTER` or `IP_VS_STATE_BACKUP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Role {
    Master,
    Backup,
}

impl Role {
    /// The role of a daemon state value (`IPVS_DAEMON_ATTR_STATE`), if it is one.
    pub(crate) const fn from_state(state: u32) -> Option<Role> {
        match state {
            1 => Some(Role::Master),
            2 => Some(Role::Backup),
            _ => None,
        }
    }

    /// The daemon state value of the role.
    pub(crate) const fn state(self) -> u32 {
        match self {
            Role::Master => 1,
            Role::Backup => 2,
        }
    }
}

/// The settings of one daemon.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub(crate) struct DaemonConfig {
    /// The multicast interface's name, NUL-terminated.
    pub(crate) ifname: [u8; IFNAME_MAXLEN],
    /// The sync ID: a master's messages carry it (its low byte), a backup takes only those that
    /// carry its own, or any if it is 0.
    pub(crate) syncid: u32,
    /// The largest message: a master's messages are at most this long, a backup's receive
    /// buffer is this long.
    pub(crate) sync_maxlen: u16,
    /// The IPv4 multicast group; none before [`DaemonConfig::completed`] when the request
    /// named none.
    pub(crate) group: Option<[u8; 4]>,
    /// The UDP port (of the first of `sync_ports` sockets).
    pub(crate) port: u16,
    /// The multicast TTL of a master's messages.
    pub(crate) ttl: u8,
    /// The request asked for an IPv6 group (`IPVS_DAEMON_ATTR_MCAST_GROUP6`): rvs's sync
    /// sockets are IPv4 only, so the start is refused with `EAFNOSUPPORT` where IPVS would start
    /// the daemon (its other checks come first, as in IPVS).
    pub(crate) ipv6_group: bool,
}

impl DaemonConfig {
    /// Sets the interface name from the bytes of a request's string (without its NUL),
    /// truncated as `strscpy` into `IP_VS_IFNAME_MAXLEN` bytes does.
    pub(crate) fn set_ifname(&mut self, name: &[u8]) {
        self.ifname = [0; IFNAME_MAXLEN];
        let len = name
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(name.len())
            .min(IFNAME_MAXLEN - 1);
        self.ifname[..len].copy_from_slice(&name[..len]);
    }

    /// The interface name with its NUL.
    pub(crate) fn ifname_with_nul(&self) -> &[u8] {
        let len = self
            .ifname
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(IFNAME_MAXLEN - 1);
        &self.ifname[..=len]
    }

    /// The interface name without its NUL.
    pub(crate) fn ifname(&self) -> &[u8] {
        let with_nul = self.ifname_with_nul();
        &with_nul[..with_nul.len() - 1]
    }

    /// The settings `start_sync_thread` keeps for a daemon of `role` on an interface of MTU
    /// `mtu`: the default group, port and TTL for what is missing, and the message length
    /// clamped (a backup's to at least 1024 bytes and by default its interface's MTU of 1500 to
    /// 65535 bytes; a master's by default 1500) minus the IPv4 and UDP headers.
    pub(crate) fn completed(mut self, role: Role, mtu: u32) -> Self {
        self.group = Some(self.group.unwrap_or(DEFAULT_GROUP));
        if self.port == 0 {
            self.port = DEFAULT_PORT;
        }
        if self.ttl == 0 {
            self.ttl = 1;
        }
        let (mtu, min) = match role {
            Role::Backup => (mtu.clamp(1500, 65535) as u16, 1024),
            Role::Master => (1500, 1),
        };
        self.sync_maxlen = if self.sync_maxlen != 0 {
            self.sync_maxlen.clamp(min, u16::MAX - IPV4_UDP_HEADERS)
        } else {
            mtu - IPV4_UDP_HEADERS
        };
        self
    }

    /// The group, which a completed configuration has.
    pub(crate) fn group(&self) -> [u8; 4] {
        self.group.unwrap_or(DEFAULT_GROUP)
    }
}

/// Whether `addr` is an IPv4 multicast address (`ipv4_is_multicast`).
pub(crate) const fn is_multicast(addr: [u8; 4]) -> bool {
    addr[0] & 0xf0 == 0xe0
}

/// Whether `values` may be written to `sync_ports`: one power of 2 (`proc_do_sync_ports`;
/// a daemon uses at most 64).
pub(crate) fn ports_valid(values: &[i32]) -> bool {
    matches!(*values, [ports] if ports >= 1 && ports.count_ones() == 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sync_ports_takes_powers_of_two() {
        for ok in [1, 2, 4, 64, 128, 1 << 30] {
            assert!(ports_valid(&[ok]), "{ok}");
        }
        for bad in [0, -1, 3, 6, 100, i32::MIN] {
            assert!(!ports_valid(&[bad]), "{bad}");
        }
        assert!(!ports_valid(&[1, 2]));
    }

    #[test]
    fn defaults_of_a_minimal_request() {
        let mut c = DaemonConfig::default();
        c.set_ifname(b"eth0");
        let backup = c.completed(Role::Backup, 1500);
        assert_eq!(backup.group, Some(DEFAULT_GROUP));
        assert_eq!(
            (backup.port, backup.ttl, backup.sync_maxlen),
            (8848, 1, 1472)
        );
        assert_eq!(backup.ifname(), b"eth0");
        assert_eq!(backup.ifname_with_nul(), b"eth0\0");
        let master = c.completed(Role::Master, 9000);
        assert_eq!(master.sync_maxlen, 1472);
    }

    #[test]
    fn backup_buffer_follows_the_mtu_within_bounds() {
        let c = DaemonConfig::default();
        assert_eq!(c.completed(Role::Backup, 9000).sync_maxlen, 9000 - 28);
        assert_eq!(c.completed(Role::Backup, 576).sync_maxlen, 1472);
        assert_eq!(c.completed(Role::Backup, 70000).sync_maxlen, 65535 - 28);
    }

    #[test]
    fn given_lengths_are_clamped_per_role() {
        let c = DaemonConfig {
            sync_maxlen: 100,
            ..Default::default()
        };
        assert_eq!(c.completed(Role::Backup, 1500).sync_maxlen, 1024);
        assert_eq!(c.completed(Role::Master, 1500).sync_maxlen, 100);
        let c = DaemonConfig {
            sync_maxlen: 65535,
            ..Default::default()
        };
        assert_eq!(c.completed(Role::Master, 1500).sync_maxlen, 65507);
    }

    #[test]
    fn given_values_are_kept() {
        let c = DaemonConfig {
            group: Some([239, 1, 2, 3]),
            port: 9000,
            ttl: 5,
            syncid: 7,
            ..Default::default()
        }
        .completed(Role::Master, 1500);
        assert_eq!(
            (c.group(), c.port, c.ttl, c.syncid),
            ([239, 1, 2, 3], 9000, 5, 7)
        );
    }

    #[test]
    fn interface_names_are_truncated_as_strscpy() {
        let mut c = DaemonConfig::default();
        c.set_ifname(b"a-very-long-interface-name");
        assert_eq!(c.ifname(), b"a-very-long-int");
        c.set_ifname(b"ab\0cd");
        assert_eq!(c.ifname(), b"ab");
    }

    #[test]
    fn multicast_addresses() {
        assert!(is_multicast([224, 0, 0, 81]));
        assert!(is_multicast([239, 255, 255, 255]));
        assert!(!is_multicast([223, 255, 255, 255]));
        assert!(!is_multicast([240, 0, 0, 1]));
    }

    #[test]
    fn roles_and_states() {
        assert_eq!(Role::from_state(1), Some(Role::Master));
        assert_eq!(Role::from_state(2), Some(Role::Backup));
        assert_eq!(Role::from_state(3), None);
        assert_eq!(Role::Backup.state(), 2);
    }
}
