// SPDX-License-Identifier: GPL-2.0

//! The IPVS generic netlink ABI: family, commands, attribute numbers, the flags and numbers the
//! attributes carry, and version encoding.
//!
//! C header: [`include/uapi/linux/ip_vs.h`](srctree/include/uapi/linux/ip_vs.h)
//!
//! This file has no dependency on the kernel crate, nor on `std`: rvs.ko compiles it as its `abi`
//! module, and the `rvs-abi` crate (`abi/` in the repository) wraps it for the `rvsadm` tool and
//! the host tests, so the two sides of the ABI cannot drift apart, and host tests compare it with
//! the uapi headers.

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

/// Address family `AF_INET` (`linux/socket.h`), as `IPVS_SVC_ATTR_AF` and
/// `IPVS_DEST_ATTR_ADDR_FAMILY` carry it.
pub const AF_INET: u16 = 2;
/// Address family `AF_INET6` (`linux/socket.h`).
pub const AF_INET6: u16 = 10;

/// Protocol `IPPROTO_TCP` (`linux/in.h`), as `IPVS_SVC_ATTR_PROTOCOL` carries it.
pub const IPPROTO_TCP: u16 = 6;
/// Protocol `IPPROTO_UDP` (`linux/in.h`).
pub const IPPROTO_UDP: u16 = 17;
/// Protocol `IPPROTO_SCTP` (`linux/in.h`).
pub const IPPROTO_SCTP: u16 = 132;

/// Size of the scheduler name buffer, NUL included (`IP_VS_SCHEDNAME_MAXLEN`).
pub const SCHEDNAME_MAXLEN: usize = 16;
/// Size of the persistence engine name buffer, NUL included (`IP_VS_PENAME_MAXLEN`).
pub const PENAME_MAXLEN: usize = 16;
/// Size of the sync daemon's interface name buffer, NUL included (`IP_VS_IFNAME_MAXLEN`).
pub const IFNAME_MAXLEN: usize = 16;

/// `IPVS_SVC_ATTR_NETMASK` of an `AF_INET` service without persistence granularity: the mask
/// 255.255.255.255 (the bytes of the `__be32` mask, read in host order).
pub const NETMASK_INET_ALL: u32 = 0xffff_ffff;
/// `IPVS_SVC_ATTR_NETMASK` of an `AF_INET6` service without persistence granularity: the prefix
/// length 128, the largest valid one (`1..=128`).
pub const NETMASK_INET6_ALL: u32 = 128;

/// Encodes `struct ip_vs_flags { flags, mask }`, the payload of `IPVS_SVC_ATTR_FLAGS`: the
/// service flags, then the mask of the flags to change, both in host byte order.
pub const fn flags_bytes(flags: u32, mask: u32) -> [u8; 8] {
    let f = flags.to_ne_bytes();
    let m = mask.to_ne_bytes();
    [f[0], f[1], f[2], f[3], m[0], m[1], m[2], m[3]]
}

/// Splits the payload of `IPVS_SVC_ATTR_FLAGS` (`struct ip_vs_flags`) into `(flags, mask)`.
pub const fn flags_parts(bytes: [u8; 8]) -> (u32, u32) {
    (
        u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]),
        u32::from_ne_bytes([bytes[4], bytes[5], bytes[6], bytes[7]]),
    )
}

/// Virtual service flags (`IP_VS_SVC_F_*`), in `IPVS_SVC_ATTR_FLAGS`.
pub mod svc_flag {
    pub const PERSISTENT: u32 = 0x0001;
    pub const HASHED: u32 = 0x0002;
    pub const ONEPACKET: u32 = 0x0004;
    pub const SCHED1: u32 = 0x0008;
    pub const SCHED2: u32 = 0x0010;
    pub const SCHED3: u32 = 0x0020;
    /// `sh` tries other buckets when the hashed destination is unavailable.
    pub const SCHED_SH_FALLBACK: u32 = SCHED1;
    /// `sh` hashes the source port too.
    pub const SCHED_SH_PORT: u32 = SCHED2;
    /// `mh` rehashes when the destination found is unavailable (`IP_VS_SVC_F_SCHED_MH_FALLBACK`
    /// of `ip_vs_mh.c`, not of the uapi header).
    pub const SCHED_MH_FALLBACK: u32 = SCHED1;
    /// `mh` hashes the source port too (`IP_VS_SVC_F_SCHED_MH_PORT` of `ip_vs_mh.c`).
    pub const SCHED_MH_PORT: u32 = SCHED2;
}

/// Forwarding methods of the connection flags (`IP_VS_CONN_F_*`), in `IPVS_DEST_ATTR_FWD_METHOD`.
pub mod conn_flag {
    /// The bits of the forwarding method (`IP_VS_CONN_F_FWD_MASK`).
    pub const FWD_MASK: u32 = 0x0007;
    /// Masquerading, NAT.
    pub const MASQ: u32 = 0x0000;
    pub const LOCALNODE: u32 = 0x0001;
    /// IP tunnelling.
    pub const TUNNEL: u32 = 0x0002;
    /// Direct routing.
    pub const DROUTE: u32 = 0x0003;
    /// Cache bypass: a connection without real server goes to the packet's own destination.
    pub const BYPASS: u32 = 0x0004;
}

/// Tunnel types (`IP_VS_CONN_F_TUNNEL_TYPE_*`), in `IPVS_DEST_ATTR_TUN_TYPE`.
pub mod tunnel_type {
    /// IPIP, the default.
    pub const IPIP: u8 = 0;
    /// GUE, which needs a port (`IPVS_DEST_ATTR_TUN_PORT`).
    pub const GUE: u8 = 1;
    pub const GRE: u8 = 2;
    pub const MAX: u8 = 3;
}

/// Tunnel encapsulation flags (`IP_VS_TUNNEL_ENCAP_FLAG_*`), in `IPVS_DEST_ATTR_TUN_FLAGS`.
pub mod tunnel_flag {
    pub const NOCSUM: u16 = 0;
    /// Checksum of the UDP (GUE) or GRE header.
    pub const CSUM: u16 = 1 << 0;
    /// Remote checksum offload, GUE only.
    pub const REMCSUM: u16 = 1 << 1;
}

/// Sync daemon states (`IP_VS_STATE_*`), in `IPVS_DAEMON_ATTR_STATE`.
pub mod daemon_state {
    pub const NONE: u32 = 0x0000;
    pub const MASTER: u32 = 0x0001;
    pub const BACKUP: u32 = 0x0002;
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
