// SPDX-License-Identifier: GPL-2.0

//! IPVS's rules for service and destination configuration, as `ip_vs_ctl.c` applies them, and the
//! names it prints. Pure logic without kernel dependencies, tested on the host by `cargo test`.

use crate::abi::{
    conn_flag, svc_flag, tunnel_type, AF_INET6, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP,
    NETMASK_INET6_ALL,
};

/// Why IPVS refuses a configuration (the errno it returns).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Refusal {
    /// `-EINVAL`.
    Invalid,
    /// `-ERANGE`.
    OutOfRange,
}

/// The flags of a service after `SET_SERVICE`/`NEW_SERVICE` with `struct ip_vs_flags`:
/// `(old & ~mask) | (flags & mask)`, and always `HASHED` once the service is in the table.
pub(crate) fn merge_flags(old: u32, flags: u32, mask: u32) -> u32 {
    ((old & !mask) | (flags & mask)) | svc_flag::HASHED
}

/// Whether an IPv6 service's netmask, a prefix length, is valid (`1..=128`); IPv4 masks are not
/// checked.
pub(crate) fn netmask_valid(af: u16, netmask: u32) -> bool {
    af != AF_INET6 || (1..=NETMASK_INET6_ALL).contains(&netmask)
}

/// Checks the numbers of a destination as `ip_vs_add_dest` / `ip_vs_edit_dest` do, in order.
pub(crate) fn check_dest(
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: u8,
    tun_port: u16,
) -> Result<(), Refusal> {
    if (weight as i32) < 0 {
        return Err(Refusal::OutOfRange);
    }
    if l_threshold > u_threshold {
        return Err(Refusal::OutOfRange);
    }
    if u_threshold > i32::MAX as u32 {
        return Err(Refusal::Invalid);
    }
    if tun_type == tunnel_type::GUE && tun_port == 0 {
        return Err(Refusal::Invalid);
    }
    Ok(())
}

/// An address as IPVS stores it (`ip_vs_addr_copy`): an IPv4 address keeps its first 4 bytes only,
/// so that lookups (`ip_vs_addr_equal`) ignore whatever followed it in the netlink attribute.
pub(crate) fn normalize_addr(af: u16, addr: [u8; 16]) -> [u8; 16] {
    if af == AF_INET6 {
        addr
    } else {
        let mut v4 = [0u8; 16];
        v4[..4].copy_from_slice(&addr[..4]);
        v4
    }
}

/// The persistence timeout in jiffies (`svc->timeout = u->timeout * HZ`, unsigned wrap included).
pub(crate) fn timeout_ticks(seconds: u32, hz: u32) -> u32 {
    seconds.wrapping_mul(hz)
}

/// The forwarding method's name in `/proc/net/ip_vs` (`ip_vs_fwd_name`).
pub(crate) fn fwd_name(conn_flags: u32) -> &'static str {
    match conn_flags & conn_flag::FWD_MASK {
        conn_flag::LOCALNODE => "Local",
        conn_flag::TUNNEL => "Tunnel",
        conn_flag::DROUTE => "Route",
        _ => "Masq",
    }
}

/// A protocol's name in `/proc` files (`ip_vs_proto_name`): a name, or `IP_<number>`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum ProtoName {
    /// A protocol IPVS names.
    Known(&'static str),
    /// Any other protocol number.
    Number(u16),
}

impl core::fmt::Display for ProtoName {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self {
            ProtoName::Known(name) => f.write_str(name),
            ProtoName::Number(n) => write!(f, "IP_{n}"),
        }
    }
}

/// Names a protocol number as `ip_vs_proto_name` does.
pub(crate) fn proto_name(protocol: u16) -> ProtoName {
    match protocol {
        0 => ProtoName::Known("IP"),
        IPPROTO_UDP => ProtoName::Known("UDP"),
        IPPROTO_TCP => ProtoName::Known("TCP"),
        IPPROTO_SCTP => ProtoName::Known("SCTP"),
        1 => ProtoName::Known("ICMP"),
        58 => ProtoName::Known("ICMPv6"),
        n => ProtoName::Number(n),
    }
}

/// Formats an IPv6 address as the kernel's `%pI6`: eight groups of four hex digits, no
/// compression.
pub(crate) struct Ipv6Full<'a>(pub(crate) &'a [u8; 16]);

impl core::fmt::Display for Ipv6Full<'_> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        for (i, pair) in self.0.chunks(2).enumerate() {
            if i > 0 {
                f.write_str(":")?;
            }
            write!(f, "{:02x}{:02x}", pair[0], pair[1])?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::abi::AF_INET;

    #[test]
    fn flags_merge_like_ipvs() {
        // ipvsadm sends mask ~0: a full replace, plus HASHED.
        assert_eq!(
            merge_flags(0, svc_flag::PERSISTENT, !0),
            svc_flag::PERSISTENT | svc_flag::HASHED
        );
        assert_eq!(
            merge_flags(svc_flag::PERSISTENT | svc_flag::HASHED, 0, !0),
            svc_flag::HASHED
        );
        // A partial mask keeps the other bits.
        assert_eq!(
            merge_flags(
                svc_flag::PERSISTENT | svc_flag::HASHED,
                svc_flag::ONEPACKET,
                svc_flag::ONEPACKET
            ),
            0x7
        );
    }

    #[test]
    fn dest_checks_in_ipvs_order() {
        assert_eq!(check_dest(1, 0, 0, 0, 0), Ok(()));
        assert_eq!(check_dest(u32::MAX, 0, 0, 0, 0), Err(Refusal::OutOfRange));
        assert_eq!(check_dest(1, 10, 11, 0, 0), Err(Refusal::OutOfRange));
        assert_eq!(check_dest(1, 0x8000_0000, 0, 0, 0), Err(Refusal::Invalid));
        assert_eq!(
            check_dest(1, 0, 0, tunnel_type::GUE, 0),
            Err(Refusal::Invalid)
        );
        assert_eq!(check_dest(1, 0, 0, tunnel_type::GUE, 6080), Ok(()));
        // The weight is checked first.
        assert_eq!(
            check_dest(u32::MAX, 0x8000_0000, 0, tunnel_type::GUE, 0),
            Err(Refusal::OutOfRange)
        );
    }

    #[test]
    fn netmask_and_addresses() {
        assert!(netmask_valid(AF_INET, 0));
        assert!(netmask_valid(AF_INET6, 128));
        assert!(!netmask_valid(AF_INET6, 0));
        assert!(!netmask_valid(AF_INET6, 129));
        let mut raw = [0xffu8; 16];
        raw[..4].copy_from_slice(&[10, 0, 0, 1]);
        assert_eq!(normalize_addr(AF_INET, raw)[..5], [10, 0, 0, 1, 0]);
        assert_eq!(normalize_addr(AF_INET6, raw), raw);
        assert_eq!(timeout_ticks(300, 250), 75_000);
        assert_eq!(timeout_ticks(u32::MAX, 250), u32::MAX.wrapping_mul(250));
    }

    #[test]
    fn names() {
        assert_eq!(fwd_name(0), "Masq");
        assert_eq!(fwd_name(3), "Route");
        assert_eq!(fwd_name(5), "Masq");
        extern crate std;
        use std::string::ToString;
        assert_eq!(proto_name(6).to_string(), "TCP");
        assert_eq!(proto_name(99).to_string(), "IP_99");
        let v6 = [0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1];
        assert_eq!(
            Ipv6Full(&v6).to_string(),
            "2001:0db8:0000:0000:0000:0000:0000:0001"
        );
    }
}
