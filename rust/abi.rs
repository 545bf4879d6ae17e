// SPDX-License-Identifier: GPL-2.0

//! The IPVS generic netlink ABI: family, commands, attribute numbers and version encoding.
//!
//! C header: [`include/uapi/linux/ip_vs.h`](srctree/include/uapi/linux/ip_vs.h)
//!
//! This file has no dependency on the kernel crate: rvs.ko and the `rvsadm` tool both compile it, so
//! the two sides of the ABI cannot drift apart, and host tests compare it with the uapi header.

#![allow(dead_code, missing_docs, unreachable_pub)]

/// Name of the generic netlink family (`IPVS_GENL_NAME`).
pub const GENL_NAME: &str = "IPVS";
/// Version of the generic netlink family (`IPVS_GENL_VERSION`).
pub const GENL_VERSION: u8 = 1;

/// The IPVS version that `IPVS_CMD_GET_INFO` reports: 1.2.1, as in-tree IPVS (`IP_VS_VERSION_CODE`).
pub const VERSION: (u8, u8, u8) = (1, 2, 1);

/// Encodes a version as IPVS does: `major << 16 | minor << 8 | patch`.
pub const fn version_code(version: (u8, u8, u8)) -> u32 {
    ((version.0 as u32) << 16) | ((version.1 as u32) << 8) | version.2 as u32
}

/// Splits an encoded IPVS version into `(major, minor, patch)`.
pub const fn version_parts(code: u32) -> (u32, u32, u32) {
    ((code >> 16) & 0xff, (code >> 8) & 0xff, code & 0xff)
}

/// Generic netlink commands (`enum IPVS_CMD_*`).
pub mod cmd {
    pub const UNSPEC: u8 = 0;
    pub const NEW_SERVICE: u8 = 1;
    pub const SET_SERVICE: u8 = 2;
    pub const DEL_SERVICE: u8 = 3;
    pub const GET_SERVICE: u8 = 4;
    pub const NEW_DEST: u8 = 5;
    pub const SET_DEST: u8 = 6;
    pub const DEL_DEST: u8 = 7;
    pub const GET_DEST: u8 = 8;
    pub const NEW_DAEMON: u8 = 9;
    pub const DEL_DAEMON: u8 = 10;
    pub const GET_DAEMON: u8 = 11;
    pub const SET_CONFIG: u8 = 12;
    pub const GET_CONFIG: u8 = 13;
    pub const SET_INFO: u8 = 14;
    pub const GET_INFO: u8 = 15;
    pub const ZERO: u8 = 16;
    pub const FLUSH: u8 = 17;
}

/// Top-level attributes of commands (`IPVS_CMD_ATTR_*`).
pub mod cmd_attr {
    pub const SERVICE: u16 = 1;
    pub const DEST: u16 = 2;
    pub const DAEMON: u16 = 3;
    pub const TIMEOUT_TCP: u16 = 4;
    pub const TIMEOUT_TCP_FIN: u16 = 5;
    pub const TIMEOUT_UDP: u16 = 6;
    pub const MAX: u16 = 6;
}

/// Top-level attributes of the `IPVS_CMD_SET_INFO` reply (`IPVS_INFO_ATTR_*`).
pub mod info_attr {
    pub const VERSION: u16 = 1;
    pub const CONN_TAB_SIZE: u16 = 2;
}

/// Attributes of the service nest (`IPVS_SVC_ATTR_*`).
pub mod svc_attr {
    pub const AF: u16 = 1;
    pub const PROTOCOL: u16 = 2;
    pub const ADDR: u16 = 3;
    pub const PORT: u16 = 4;
    pub const FWMARK: u16 = 5;
    pub const SCHED_NAME: u16 = 6;
    pub const FLAGS: u16 = 7;
    pub const TIMEOUT: u16 = 8;
    pub const NETMASK: u16 = 9;
    pub const STATS: u16 = 10;
    pub const PE_NAME: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const MAX: u16 = 12;
}

/// Attributes of the destination nest (`IPVS_DEST_ATTR_*`).
pub mod dest_attr {
    pub const ADDR: u16 = 1;
    pub const PORT: u16 = 2;
    pub const FWD_METHOD: u16 = 3;
    pub const WEIGHT: u16 = 4;
    pub const U_THRESH: u16 = 5;
    pub const L_THRESH: u16 = 6;
    pub const ACTIVE_CONNS: u16 = 7;
    pub const INACT_CONNS: u16 = 8;
    pub const PERSIST_CONNS: u16 = 9;
    pub const STATS: u16 = 10;
    pub const ADDR_FAMILY: u16 = 11;
    pub const STATS64: u16 = 12;
    pub const TUN_TYPE: u16 = 13;
    pub const TUN_PORT: u16 = 14;
    pub const TUN_FLAGS: u16 = 15;
    pub const MAX: u16 = 15;
}

/// Attributes of the sync daemon nest (`IPVS_DAEMON_ATTR_*`).
pub mod daemon_attr {
    pub const STATE: u16 = 1;
    pub const MCAST_IFN: u16 = 2;
    pub const SYNC_ID: u16 = 3;
    pub const SYNC_MAXLEN: u16 = 4;
    pub const MCAST_GROUP: u16 = 5;
    pub const MCAST_GROUP6: u16 = 6;
    pub const MCAST_PORT: u16 = 7;
    pub const MCAST_TTL: u16 = 8;
    pub const MAX: u16 = 8;
}

/// Attributes of the statistics nests (`IPVS_STATS_ATTR_*`).
pub mod stats_attr {
    pub const CONNS: u16 = 1;
    pub const INPKTS: u16 = 2;
    pub const OUTPKTS: u16 = 3;
    pub const INBYTES: u16 = 4;
    pub const OUTBYTES: u16 = 5;
    pub const CPS: u16 = 6;
    pub const INPPS: u16 = 7;
    pub const OUTPPS: u16 = 8;
    pub const INBPS: u16 = 9;
    pub const OUTBPS: u16 = 10;
    pub const PAD: u16 = 11;
}
