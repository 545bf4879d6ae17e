// SPDX-License-Identifier: GPL-2.0

//! Header layouts of the packets rvs reads and rewrites: IPv4, TCP, UDP and ICMP.
//!
//! Pure logic without kernel dependencies, tested on the host by `cargo test`. Addresses and ports
//! are kept as the bytes of the wire (network byte order), which is what is hashed, compared and
//! written back.

#![deny(unsafe_code)]

/// IP protocol numbers.
pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_TCP: u8 = 6;
pub(crate) const PROTO_UDP: u8 = 17;
pub(crate) const PROTO_IPIP: u8 = 4;

/// ICMP types whose payload quotes the packet that caused them and that IPVS translates
/// (`ip_vs_in_icmp`, `ip_vs_out_icmp`).
pub(crate) const ICMP_DEST_UNREACH: u8 = 3;
pub(crate) const ICMP_SOURCE_QUENCH: u8 = 4;
pub(crate) const ICMP_TIME_EXCEEDED: u8 = 11;
/// Codes of `ICMP_DEST_UNREACH`.
pub(crate) const ICMP_PORT_UNREACH: u8 = 3;
pub(crate) const ICMP_FRAG_NEEDED: u8 = 4;

/// Offsets within an IPv4 header.
pub(crate) const IPV4_SADDR: usize = 12;
pub(crate) const IPV4_DADDR: usize = 16;
/// Length of an IPv4 header without options.
pub(crate) const IPV4_MIN_LEN: usize = 20;
/// Length of an ICMP header; the quoted packet follows.
pub(crate) const ICMP_HEADER_LEN: usize = 8;
/// Offset of the ICMP checksum.
pub(crate) const ICMP_SUM: usize = 2;

/// The fields of an IPv4 header that rvs uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv4 {
    /// Header length in bytes (`ihl * 4`).
    pub(crate) header_len: usize,
    pub(crate) total_len: u16,
    pub(crate) protocol: u8,
    pub(crate) saddr: [u8; 4],
    pub(crate) daddr: [u8; 4],
    /// Don't Fragment is set.
    pub(crate) dont_fragment: bool,
    /// A fragment (offset non-zero or More Fragments set).
    pub(crate) fragment: bool,
    /// A fragment other than the first: it carries no transport header.
    pub(crate) later_fragment: bool,
}

/// Parses the first 20 bytes of an IPv4 header; `None` if it is not a valid IPv4 header.
pub(crate) fn parse_ipv4(b: &[u8; IPV4_MIN_LEN]) -> Option<Ipv4> {
    if b[0] >> 4 != 4 {
        return None;
    }
    let header_len = usize::from(b[0] & 0x0f) * 4;
    if header_len < IPV4_MIN_LEN {
        return None;
    }
    let frag = u16::from_be_bytes([b[6], b[7]]);
    let offset = frag & 0x1fff;
    let more = frag & 0x2000 != 0;
    Some(Ipv4 {
        header_len,
        total_len: u16::from_be_bytes([b[2], b[3]]),
        protocol: b[9],
        saddr: [b[12], b[13], b[14], b[15]],
        daddr: [b[16], b[17], b[18], b[19]],
        dont_fragment: frag & 0x4000 != 0,
        fragment: offset != 0 || more,
        later_fragment: offset != 0,
    })
}

/// What rvs reads of a TCP or UDP header: the ports and, for TCP, the flags byte.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ports {
    pub(crate) sport: [u8; 2],
    pub(crate) dport: [u8; 2],
}

/// How many bytes of the transport header rvs must be able to read and rewrite: up to and
/// including the checksum (TCP 18, UDP 8).
pub(crate) fn l4_rewrite_len(protocol: u8) -> Option<usize> {
    match protocol {
        PROTO_TCP => Some(18),
        PROTO_UDP => Some(8),
        _ => None,
    }
}

/// Offset of the checksum in the transport header.
pub(crate) fn l4_sum_offset(protocol: u8) -> Option<usize> {
    match protocol {
        PROTO_TCP => Some(16),
        PROTO_UDP => Some(6),
        _ => None,
    }
}

/// Offset of the TCP flags byte in the TCP header.
pub(crate) const TCP_FLAGS: usize = 13;

/// Whether a UDP checksum field says "no checksum" (0): it must then stay 0 (RFC 768).
pub(crate) fn udp_sum_absent(sum: [u8; 2]) -> bool {
    sum == [0, 0]
}

/// Whether an ICMP type quotes an offending packet that rvs translates.
pub(crate) fn icmp_is_error(kind: u8) -> bool {
    matches!(
        kind,
        ICMP_DEST_UNREACH | ICMP_SOURCE_QUENCH | ICMP_TIME_EXCEEDED
    )
}

/// The ECN bits of the TOS byte.
const ECN_MASK: u8 = 0x03;
/// ECN "congestion experienced".
const ECN_CE: u8 = 0x03;
/// ECN-capable transport (0).
const ECN_ECT_0: u8 = 0x02;

/// The TOS of a tunnel header carrying a packet of TOS `inner` (`INET_ECN_encapsulate(inner,
/// inner)`): the same DSCP, and ECT(0) instead of a "congestion experienced" mark.
pub(crate) fn ecn_encapsulate(inner: u8) -> u8 {
    let ecn = if inner & ECN_MASK == ECN_CE {
        ECN_ECT_0
    } else {
        inner & ECN_MASK
    };
    (inner & !ECN_MASK) | ecn
}

/// The outer IPv4 header of an IPIP tunnel for the packet whose header starts with `inner`
/// (`ip_vs_tunnel_xmit`, `ip_vs_prepare_tunneled_skb`): TOS per [`ecn_encapsulate`], DF and TTL
/// copied, protocol IPIP. Length, identification and checksum are left 0 for the stack to fill.
pub(crate) fn ipip_header(inner: &[u8; IPV4_MIN_LEN], saddr: [u8; 4], daddr: [u8; 4]) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[1] = ecn_encapsulate(inner[1]);
    h[6] = inner[6] & 0x40;
    h[8] = inner[8];
    h[9] = PROTO_IPIP;
    h[12..16].copy_from_slice(&saddr);
    h[16..20].copy_from_slice(&daddr);
    h
}

/// Folds a 32-bit one's-complement sum to 16 bits and complements it (`csum_fold`).
pub(crate) fn csum_fold(sum: u32) -> u16 {
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    !(sum as u16)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn header(ihl: u8, frag: u16, proto: u8) -> [u8; 20] {
        let f = frag.to_be_bytes();
        [
            0x40 | ihl,
            0,
            0,
            60,
            0,
            1,
            f[0],
            f[1],
            64,
            proto,
            0,
            0,
            10,
            0,
            1,
            2,
            10,
            0,
            1,
            100,
        ]
    }

    #[test]
    fn parses_ipv4() {
        let ip = parse_ipv4(&header(5, 0x4000, PROTO_TCP)).unwrap();
        assert_eq!(ip.header_len, 20);
        assert_eq!(ip.total_len, 60);
        assert_eq!(ip.protocol, PROTO_TCP);
        assert_eq!(ip.saddr, [10, 0, 1, 2]);
        assert_eq!(ip.daddr, [10, 0, 1, 100]);
        assert!(ip.dont_fragment && !ip.fragment && !ip.later_fragment);
    }

    #[test]
    fn fragments() {
        let first = parse_ipv4(&header(5, 0x2000, PROTO_UDP)).unwrap();
        assert!(first.fragment && !first.later_fragment);
        let later = parse_ipv4(&header(5, 0x0010, PROTO_UDP)).unwrap();
        assert!(later.fragment && later.later_fragment);
    }

    #[test]
    fn rejects_bad_headers() {
        let mut b = header(5, 0, PROTO_TCP);
        b[0] = 0x65;
        assert_eq!(parse_ipv4(&b), None);
        assert_eq!(parse_ipv4(&header(4, 0, PROTO_TCP)), None);
        assert_eq!(
            parse_ipv4(&header(15, 0, PROTO_TCP)).unwrap().header_len,
            60
        );
    }

    #[test]
    fn checksum_fold() {
        // The IPv4 header of RFC 1071's example sums to 0x2_b1e4 -> 0xb1e6 -> !0xb1e6.
        assert_eq!(csum_fold(0x0002_b1e4), !0xb1e6);
        assert_eq!(csum_fold(0), 0xffff);
        assert_eq!(csum_fold(0xffff_ffff), 0);
    }

    #[test]
    fn tunnel_header() {
        let mut inner = header(5, 0x4000, PROTO_TCP);
        inner[1] = 0xb8 | 0x03; // DSCP EF, ECN CE
        let h = ipip_header(&inner, [10, 0, 0, 1], [10, 0, 0, 11]);
        assert_eq!(h[0], 0x45);
        assert_eq!(h[1], 0xb8 | 0x02, "CE becomes ECT(0), DSCP kept");
        assert_eq!([h[6], h[7]], [0x40, 0], "DF copied, no offset");
        assert_eq!(h[8], 64, "TTL copied");
        assert_eq!(h[9], PROTO_IPIP);
        assert_eq!(&h[12..], &[10, 0, 0, 1, 10, 0, 0, 11]);
        assert_eq!(ecn_encapsulate(0x01), 0x01);
        assert_eq!(
            ipip_header(&header(5, 0x2000, 6), [0; 4], [0; 4])[6],
            0,
            "MF not copied"
        );
    }

    #[test]
    fn icmp_errors() {
        assert!(icmp_is_error(3) && icmp_is_error(4) && icmp_is_error(11));
        assert!(!icmp_is_error(0) && !icmp_is_error(8));
        assert_eq!(l4_sum_offset(PROTO_UDP), Some(6));
        assert_eq!(l4_rewrite_len(PROTO_TCP), Some(18));
        assert_eq!(l4_rewrite_len(PROTO_ICMP), None);
    }
}
