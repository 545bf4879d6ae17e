// SPDX-License-Identifier: GPL-2.0

//! The attribute policies of the IPVS family, as `ip_vs_ctl.c` declares them (`ip_vs_cmd_policy`,
//! `ip_vs_svc_policy`, `ip_vs_dest_policy`, `ip_vs_daemon_policy`), so that userspace meets the
//! same validation, errors included.

#![deny(unsafe_code)]

use crate::{
    abi::{
        cmd_attr, daemon_attr, dest_attr, svc_attr, IFNAME_MAXLEN, PENAME_MAXLEN, SCHEDNAME_MAXLEN,
    },
    ffi::genl::Policy,
};

/// `sizeof(union nf_inet_addr)`: room for an IPv6 address.
const INET_ADDR_LEN: u16 = 16;
/// `sizeof(struct ip_vs_flags)`: flags and mask, two `u32`s.
const FLAGS_LEN: u16 = 8;

/// The top-level attributes of every command (`ip_vs_cmd_policy`).
pub(crate) static COMMAND: [Policy; cmd_attr::MAX as usize + 1] = Policy::table(&[
    (cmd_attr::SERVICE, Policy::nested()),
    (cmd_attr::DEST, Policy::nested()),
    (cmd_attr::DAEMON, Policy::nested()),
    (cmd_attr::TIMEOUT_TCP, Policy::u32()),
    (cmd_attr::TIMEOUT_TCP_FIN, Policy::u32()),
    (cmd_attr::TIMEOUT_UDP, Policy::u32()),
]);

/// The daemon nest (`ip_vs_daemon_policy`).
pub(crate) static DAEMON: [Policy; daemon_attr::MAX as usize + 1] = Policy::table(&[
    (daemon_attr::STATE, Policy::u32()),
    (
        daemon_attr::MCAST_IFN,
        Policy::nul_string(IFNAME_MAXLEN as u16 - 1),
    ),
    (daemon_attr::SYNC_ID, Policy::u32()),
    (daemon_attr::SYNC_MAXLEN, Policy::u16()),
    (daemon_attr::MCAST_GROUP, Policy::u32()),
    (daemon_attr::MCAST_GROUP6, Policy::min_len(INET_ADDR_LEN)),
    (daemon_attr::MCAST_PORT, Policy::u16()),
    (daemon_attr::MCAST_TTL, Policy::u8()),
]);

/// The service nest (`ip_vs_svc_policy`).
pub(crate) static SERVICE: [Policy; svc_attr::MAX as usize + 1] = Policy::table(&[
    (svc_attr::AF, Policy::u16()),
    (svc_attr::PROTOCOL, Policy::u16()),
    (svc_attr::ADDR, Policy::binary(INET_ADDR_LEN)),
    (svc_attr::PORT, Policy::u16()),
    (svc_attr::FWMARK, Policy::u32()),
    (
        svc_attr::SCHED_NAME,
        Policy::nul_string(SCHEDNAME_MAXLEN as u16 - 1),
    ),
    (svc_attr::PE_NAME, Policy::nul_string(PENAME_MAXLEN as u16)),
    (svc_attr::FLAGS, Policy::binary(FLAGS_LEN)),
    (svc_attr::TIMEOUT, Policy::u32()),
    (svc_attr::NETMASK, Policy::u32()),
    (svc_attr::STATS, Policy::nested()),
]);

/// The destination nest (`ip_vs_dest_policy`).
pub(crate) static DEST: [Policy; dest_attr::MAX as usize + 1] = Policy::table(&[
    (dest_attr::ADDR, Policy::binary(INET_ADDR_LEN)),
    (dest_attr::PORT, Policy::u16()),
    (dest_attr::FWD_METHOD, Policy::u32()),
    (dest_attr::WEIGHT, Policy::u32()),
    (dest_attr::U_THRESH, Policy::u32()),
    (dest_attr::L_THRESH, Policy::u32()),
    (dest_attr::ACTIVE_CONNS, Policy::u32()),
    (dest_attr::INACT_CONNS, Policy::u32()),
    (dest_attr::PERSIST_CONNS, Policy::u32()),
    (dest_attr::STATS, Policy::nested()),
    (dest_attr::ADDR_FAMILY, Policy::u16()),
    (dest_attr::TUN_TYPE, Policy::u8()),
    (dest_attr::TUN_PORT, Policy::u16()),
    (dest_attr::TUN_FLAGS, Policy::u16()),
]);
