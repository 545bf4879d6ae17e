// SPDX-License-Identifier: GPL-2.0

//! Header layouts of the packets rvs reads and rewrites: IPv4, IPv6, TCP, UDP and ICMP.
//!
//! Pure logic without kernel dependencies, tested on the host by `cargo test`. Addresses and ports
//! are kept as the bytes of the wire (network byte order), which is what is hashed, compared and
//! written back.

#![deny(unsafe_code)]

use crate::abi::{tunnel_flag, tunnel_type, AF_INET, AF_INET6, IPPROTO_TCP, IPPROTO_UDP};

/// IP protocol numbers (TCP and UDP as the IPVS ABI's `IPPROTO_*`).
pub(crate) const PROTO_ICMP: u8 = 1;
pub(crate) const PROTO_TCP: u8 = IPPROTO_TCP as u8;
pub(crate) const PROTO_UDP: u8 = IPPROTO_UDP as u8;
pub(crate) const PROTO_IPIP: u8 = 4;
pub(crate) const PROTO_IPV6: u8 = 41;
pub(crate) const PROTO_GRE: u8 = 47;

/// ICMP type "time exceeded" code "TTL exceeded in transit" (`ICMP_EXC_TTL`).
pub(crate) const ICMP_EXC_TTL: u8 = 0;

/// ICMP types whose payload quotes the packet that caused them and that IPVS translates
/// (`ip_vs_in_icmp`, `ip_vs_out_icmp`).
pub(crate) const ICMP_DEST_UNREACH: u8 = 3;
pub(crate) const ICMP_SOURCE_QUENCH: u8 = 4;
pub(crate) const ICMP_TIME_EXCEEDED: u8 = 11;
/// Codes of `ICMP_DEST_UNREACH`.
pub(crate) const ICMP_PORT_UNREACH: u8 = 3;
pub(crate) const ICMP_FRAG_NEEDED: u8 = 4;

/// Offsets within an IPv4 header.
pub(crate) const IPV4_TTL: usize = 8;
pub(crate) const IPV4_SADDR: usize = 12;
pub(crate) const IPV4_DADDR: usize = 16;
/// Length of an IPv4 header without options.
pub(crate) const IPV4_MIN_LEN: usize = 20;
/// Length of an ICMP header; the quoted packet follows.
pub(crate) const ICMP_HEADER_LEN: usize = 8;
/// Offset of the ICMP checksum.
pub(crate) const ICMP_SUM: usize = 2;

/// A packet's bytes from its IPv4 header on as far as they are linear (`linear`), and how many
/// there are in all (`total`): what a parser reads without copying.
#[derive(Clone, Copy)]
pub(crate) struct Bytes<'a> {
    linear: &'a [u8],
    total: usize,
}

/// A parser needs the first `.0` bytes linear to go on (they exist: `pskb_may_pull` them).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Need(pub(crate) usize);

impl<'a> Bytes<'a> {
    /// `linear` is cut to `total` if it is longer.
    pub(crate) fn new(linear: &'a [u8], total: usize) -> Self {
        let linear = &linear[..linear.len().min(total)];
        Self { linear, total }
    }

    /// The bytes from `offset` to the end of the packet: `Ok(None)` if there are none, `Err` if
    /// they are not all linear.
    pub(crate) fn rest_from(&self, offset: usize) -> Result<Option<&'a [u8]>, Need> {
        if offset >= self.total {
            return Ok(None);
        }
        match self.linear.get(offset..self.total) {
            Some(b) => Ok(Some(b)),
            None => Err(Need(self.total)),
        }
    }

    /// How many bytes the packet has in all (`skb->len`).
    pub(crate) fn len(&self) -> usize {
        self.total
    }

    /// The `N` bytes at `offset`: `Ok(None)` if the packet ends before, `Err` if they exist but
    /// are not all linear.
    pub(crate) fn get<const N: usize>(&self, offset: usize) -> Result<Option<[u8; N]>, Need> {
        let Some(end) = offset.checked_add(N).filter(|&end| end <= self.total) else {
            return Ok(None);
        };
        match self.linear.get(offset..end) {
            Some(b) => Ok(b.try_into().ok()),
            None => Err(Need(end)),
        }
    }
}

/// Reads `N` bytes at `offset` of a [`Bytes`], or returns `Ok(None)` from the calling parser if
/// the packet is shorter.
macro_rules! get_or_none {
    ($b:expr, $offset:expr, $n:expr) => {
        match $b.get::<{ $n }>($offset)? {
            Some(bytes) => bytes,
            None => return Ok(None),
        }
    };
}
pub(crate) use get_or_none;

/// The fields of an IPv4 header that rvs uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv4 {
    /// Header length in bytes (`ihl * 4`).
    pub(crate) header_len: usize,
    pub(crate) total_len: u16,
    /// Type of service (DSCP and ECN).
    pub(crate) tos: u8,
    pub(crate) ttl: u8,
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
        tos: b[1],
        ttl: b[8],
        protocol: b[9],
        saddr: [b[12], b[13], b[14], b[15]],
        daddr: [b[16], b[17], b[18], b[19]],
        dont_fragment: frag & 0x4000 != 0,
        fragment: offset != 0 || more,
        later_fragment: offset != 0,
    })
}

/// Length of the IPv6 header (`struct ipv6hdr`); extension headers follow it.
pub(crate) const IPV6_HEADER_LEN: usize = 40;
/// Offsets within an IPv6 header.
pub(crate) const IPV6_HOP_LIMIT: usize = 7;
pub(crate) const IPV6_SADDR: usize = 8;
pub(crate) const IPV6_DADDR: usize = 24;

/// The fields of an IPv6 header (`struct ipv6hdr`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Ipv6 {
    /// Traffic class (DSCP and ECN), the IPv6 counterpart of IPv4's TOS.
    pub(crate) traffic_class: u8,
    /// The 20-bit flow label.
    pub(crate) flow_label: u32,
    /// Length of what follows the header, extension headers included.
    pub(crate) payload_len: u16,
    /// The first extension header's or the upper-layer protocol's number.
    pub(crate) next_header: u8,
    pub(crate) hop_limit: u8,
    pub(crate) saddr: [u8; 16],
    pub(crate) daddr: [u8; 16],
}

/// Parses an IPv6 header; `None` if its version is not 6.
pub(crate) fn parse_ipv6(b: &[u8; IPV6_HEADER_LEN]) -> Option<Ipv6> {
    if b[0] >> 4 != 6 {
        return None;
    }
    let word = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    Some(Ipv6 {
        traffic_class: (word >> 20) as u8,
        flow_label: word & 0x000f_ffff,
        payload_len: u16::from_be_bytes([b[4], b[5]]),
        next_header: b[6],
        hop_limit: b[IPV6_HOP_LIMIT],
        saddr: read(b, IPV6_SADDR)?,
        daddr: read(b, IPV6_DADDR)?,
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

/// The IP version of a header: of a tunnel's outer header, or of the packet it carries.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum IpVersion {
    V4,
    V6,
}

impl IpVersion {
    /// The protocol number of a header of this version inside another (IP in IP:
    /// `IPPROTO_IPIP`, `IPPROTO_IPV6`), also what GUE names its payload with.
    pub(crate) fn ip_protocol(self) -> u8 {
        match self {
            IpVersion::V4 => PROTO_IPIP,
            IpVersion::V6 => PROTO_IPV6,
        }
    }

    /// The EtherType of a packet of this version (GRE's protocol type).
    pub(crate) fn ether_type(self) -> u16 {
        match self {
            IpVersion::V4 => ETH_P_IP,
            IpVersion::V6 => ETH_P_IPV6,
        }
    }

    /// The length of a header of this version without options or extension headers.
    pub(crate) fn header_len(self) -> usize {
        match self {
            IpVersion::V4 => IPV4_MIN_LEN,
            IpVersion::V6 => IPV6_HEADER_LEN,
        }
    }

    /// The smallest MTU of this version (RFC 791, RFC 8200): a tunnel whose route leaves less
    /// for the packet it carries refuses to send (`__ip_vs_get_out_rt`, `__ip_vs_get_out_rt_v6`).
    pub(crate) fn min_mtu(self) -> u32 {
        match self {
            IpVersion::V4 => 68,
            IpVersion::V6 => 1280,
        }
    }
}

/// What a tunnel's outer header takes from the packet it carries, once the packet's hop was
/// taken (`ip_vs_prepare_tunneled_skb`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Carried {
    pub(crate) version: IpVersion,
    /// IPv4's TOS or IPv6's traffic class.
    pub(crate) dsfield: u8,
    /// IPv4's TTL or IPv6's hop limit.
    pub(crate) ttl: u8,
    /// An IPv4 packet with Don't Fragment; never an IPv6 one.
    pub(crate) dont_fragment: bool,
}

/// The outer IPv4 header of a tunnel of `protocol` for the packet `inner` (`ip_vs_tunnel_xmit`):
/// DSCP per [`ecn_encapsulate`], TTL copied, DF copied with `copy_df` (the `pmtu_disc` sysctl).
/// Length, identification and checksum are left 0 for the stack to fill.
pub(crate) fn tunnel_header(
    inner: &Carried,
    protocol: u8,
    copy_df: bool,
    saddr: [u8; 4],
    daddr: [u8; 4],
) -> [u8; 20] {
    let mut h = [0u8; 20];
    h[0] = 0x45;
    h[1] = ecn_encapsulate(inner.dsfield);
    if copy_df && inner.dont_fragment {
        h[6] = 0x40;
    }
    h[8] = inner.ttl;
    h[9] = protocol;
    [h[12], h[13], h[14], h[15]] = saddr;
    [h[16], h[17], h[18], h[19]] = daddr;
    h
}

/// The outer IPv6 header of a tunnel of `protocol` for the packet `inner`, which with the
/// tunnel's own headers is `payload_len` bytes long (`ip_vs_tunnel_xmit_v6`): traffic class per
/// [`ecn_encapsulate`], no flow label, hop limit copied. `None` past IPv6's 65 535 bytes.
pub(crate) fn tunnel_header6(
    inner: &Carried,
    protocol: u8,
    payload_len: usize,
    saddr: &[u8; 16],
    daddr: &[u8; 16],
) -> Option<[u8; IPV6_HEADER_LEN]> {
    let mut h = [0u8; IPV6_HEADER_LEN];
    let class = ecn_encapsulate(inner.dsfield);
    h[0] = 0x60 | class >> 4;
    h[1] = class << 4;
    h[4..6].copy_from_slice(&u16::try_from(payload_len).ok()?.to_be_bytes());
    h[6] = protocol;
    h[IPV6_HOP_LIMIT] = inner.ttl;
    h[IPV6_SADDR..IPV6_DADDR].copy_from_slice(saddr);
    h[IPV6_DADDR..].copy_from_slice(daddr);
    Some(h)
}

/// Length of a UDP header.
pub(crate) const UDP_HEADER_LEN: usize = 8;
/// Length of the GUE base header (`struct guehdr`).
const GUE_HEADER_LEN: usize = 4;
/// The GUE private flags word and the remote checksum option (`GUE_LEN_PRIV +
/// GUE_PLEN_REMCSUM`).
const GUE_REMCSUM_LEN: usize = 8;
/// Length of the GRE base header (`struct gre_base_hdr`), and of its checksum option.
const GRE_HEADER_LEN: usize = 4;
const GRE_CSUM_LEN: usize = 4;
/// GRE flag "checksum present" (`GRE_CSUM`), in the first byte of the header.
const GRE_FLAG_CSUM: u8 = 0x80;
/// Offset of the checksum in a GRE header that has one.
pub(crate) const GRE_SUM_OFFSET: u16 = 4;
/// `ETH_P_IP`, `ETH_P_IPV6`: the GRE protocol types of IPv4 and IPv6 payloads.
pub(crate) const ETH_P_IP: u16 = 0x0800;
pub(crate) const ETH_P_IPV6: u16 = 0x86dd;

/// How a tunnelled packet is wrapped for a real server (`--tun-type`, `--tun-port`,
/// `--tun-[no|rem]csum`; `ip_vs_tunnel_xmit`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Encap {
    /// IP in IP: the outer IPv4 header alone.
    Ipip,
    /// Generic UDP Encapsulation to UDP port `port`: UDP and GUE headers. `csum`: a UDP
    /// checksum; `remcsum`: remote checksum offload (the real server completes the inner
    /// checksum), which implies a UDP checksum.
    Gue {
        port: u16,
        csum: bool,
        remcsum: bool,
    },
    /// GRE, with its checksum when `csum`.
    Gre { csum: bool },
}

impl Encap {
    /// The encapsulation of a real server's tunnel settings (`IP_VS_CONN_F_TUNNEL_TYPE_*`,
    /// `IP_VS_TUNNEL_ENCAP_FLAG_*`); `port` in host byte order. An unknown type is IPIP, as in
    /// IPVS, which has no branch for it.
    pub(crate) fn new(tun_type: u8, port: u16, flags: u16) -> Self {
        let csum = flags & tunnel_flag::CSUM != 0;
        let remcsum = flags & tunnel_flag::REMCSUM != 0;
        match tun_type {
            tunnel_type::GUE => Encap::Gue {
                port,
                csum,
                remcsum,
            },
            tunnel_type::GRE => Encap::Gre { csum },
            _ => Encap::Ipip,
        }
    }

    /// The protocol of the outer header around a packet of version `inner`.
    pub(crate) fn protocol(self, inner: IpVersion) -> u8 {
        match self {
            Encap::Ipip => inner.ip_protocol(),
            Encap::Gue { .. } => PROTO_UDP,
            Encap::Gre { .. } => PROTO_GRE,
        }
    }

    /// Whether a packet whose transport checksum is still to be computed (`partial`) carries the
    /// remote checksum option: GUE with `remcsum` only.
    pub(crate) fn uses_remcsum(self, partial: bool) -> bool {
        matches!(self, Encap::Gue { remcsum: true, .. }) && partial
    }

    /// The length of the headers between the outer header and the inner packet.
    pub(crate) fn header_len(self, partial: bool) -> usize {
        match self {
            Encap::Ipip => 0,
            Encap::Gue { .. } => {
                let option = if self.uses_remcsum(partial) {
                    GUE_REMCSUM_LEN
                } else {
                    0
                };
                UDP_HEADER_LEN + GUE_HEADER_LEN + option
            }
            Encap::Gre { csum } => GRE_HEADER_LEN + if csum { GRE_CSUM_LEN } else { 0 },
        }
    }

    /// What a route of `route_mtu` leaves for the inner packet once wrapped in an `outer`
    /// header (`__ip_vs_get_out_rt`, `__ip_vs_get_out_rt_v6`, `IP_VS_RT_MODE_TUNNEL`); `None`
    /// below the outer version's minimum, where IPVS refuses to send.
    pub(crate) fn inner_mtu(self, route_mtu: u32, partial: bool, outer: IpVersion) -> Option<u32> {
        let overhead = outer.header_len() + self.header_len(partial);
        route_mtu
            .checked_sub(u32::try_from(overhead).ok()?)
            .filter(|mtu| *mtu >= outer.min_mtu())
    }

    /// The tunnel headers of a wrapped packet of version `inner` (`ipvs_gue_encap`,
    /// `ipvs_gre_encap`), without the outer header, and their length: for GUE the UDP header
    /// from `sport` to the real server's port with length `inner_len` plus the headers,
    /// checksum 0 (filled later), then the GUE header naming the payload's protocol; with
    /// `remcsum` (where the inner checksum starts, and where it is stored, counted from the
    /// inner packet) the private flags and the remote checksum option. For GRE the base header
    /// with the payload's EtherType and a zero checksum when it has one (computed once the
    /// header is in place).
    pub(crate) fn headers(
        self,
        inner: IpVersion,
        sport: [u8; 2],
        inner_len: usize,
        remcsum: Option<(u16, u16)>,
    ) -> Option<([u8; 20], usize)> {
        let mut h = [0u8; 20];
        match self {
            Encap::Ipip => Some((h, 0)),
            Encap::Gue { port, .. } => {
                let option = if remcsum.is_some() {
                    GUE_REMCSUM_LEN
                } else {
                    0
                };
                let len = UDP_HEADER_LEN + GUE_HEADER_LEN + option;
                let udp_len = u16::try_from(inner_len.checked_add(len)?).ok()?;
                h[0..2].copy_from_slice(&sport);
                h[2..4].copy_from_slice(&port.to_be_bytes());
                h[4..6].copy_from_slice(&udp_len.to_be_bytes());
                let gue = UDP_HEADER_LEN;
                // version 0, control 0, hlen in 32-bit words of options; then the protocol.
                h[gue] = (option / 4) as u8;
                h[gue + 1] = inner.ip_protocol();
                if let Some((start, offset)) = remcsum {
                    // GUE_FLAG_PRIV; the private flags: GUE_PFLAG_REMCSUM; the option: where
                    // the checksum starts and where it goes.
                    h[gue + 3] = 0x01;
                    h[gue + 4] = 0x80;
                    h[gue + 8..gue + 10].copy_from_slice(&start.to_be_bytes());
                    h[gue + 10..gue + 12]
                        .copy_from_slice(&start.checked_add(offset)?.to_be_bytes());
                }
                Some((h, len))
            }
            Encap::Gre { csum } => {
                if csum {
                    h[0] = GRE_FLAG_CSUM;
                }
                h[2..4].copy_from_slice(&inner.ether_type().to_be_bytes());
                Some((h, self.header_len(false)))
            }
        }
    }
}

/// The tunnel headers of a packet quoted by an ICMP error, after the quoted outer IPv4 header:
/// how many bytes of UDP and GUE header come before the quoted inner IPv4 header
/// (`ipvs_udp_decap`), from the first 12 bytes after the outer header; `None` if they are not
/// GUE version 0 data carrying IPv4.
pub(crate) fn gue_quoted_len(b: &[u8; 12]) -> Option<usize> {
    let gue = &b[UDP_HEADER_LEN..];
    // version and control bits 0
    if gue[0] & 0xe0 != 0 || gue[1] != PROTO_IPIP {
        return None;
    }
    Some(UDP_HEADER_LEN + GUE_HEADER_LEN + usize::from(gue[0] & 0x1f) * 4)
}

/// How many bytes of GRE header come before a quoted inner IPv4 header (`ipvs_gre_decap`), from
/// the GRE base header; `None` unless it is version 0 with no flag but the checksum's, carrying
/// IPv4.
pub(crate) fn gre_quoted_len(b: &[u8; 4]) -> Option<usize> {
    if b[0] & !GRE_FLAG_CSUM != 0 || b[1] != 0 || u16::from_be_bytes([b[2], b[3]]) != ETH_P_IP {
        return None;
    }
    Some(
        GRE_HEADER_LEN
            + if b[0] & GRE_FLAG_CSUM != 0 {
                GRE_CSUM_LEN
            } else {
                0
            },
    )
}

/// Lowers the TTL of the IPv4 header `h` by one and updates its checksum incrementally
/// (`ip_decrease_ttl`); the caller checked that the TTL is above 1.
pub(crate) fn decrease_ttl(h: &mut [u8]) {
    if h.len() < IPV4_MIN_LEN {
        return;
    }
    h[IPV4_TTL] = h[IPV4_TTL].wrapping_sub(1);
    // The TTL is the high byte of its 16-bit word: the sum grows by 0x0100 (RFC 1624). As the
    // kernel, on the checksum as stored (one's-complement sums do not depend on byte order),
    // with its end-around carry, so that the bytes are the kernel's.
    let check = u32::from(u16::from_ne_bytes([h[10], h[11]])) + u32::from(0x0100u16.to_be());
    let check = (check + u32::from(check >= 0xffff)) as u16;
    [h[10], h[11]] = check.to_ne_bytes();
}

/// Updates the checksum of the IPv4 header `h` for one of its 4-byte fields (an address) that
/// changed from `from` to `to` (`csum_replace4`, RFC 1624 eqn. 3): the sum a recomputation
/// (`ip_send_check`) would give, without reading the header.
pub(crate) fn ipv4_sum_replace4(h: &mut [u8], from: [u8; 4], to: [u8; 4]) {
    if h.len() < IPV4_MIN_LEN {
        return;
    }
    let word = |b: [u8; 4], i: usize| u32::from(u16::from_be_bytes([b[i], b[i + 1]]));
    let old = u16::from_be_bytes([h[10], h[11]]);
    // ~HC + ~m + m', where the one's complement of a 16-bit word w is 0xffff - w.
    let sum = u32::from(!old)
        + (0xffff - word(from, 0))
        + (0xffff - word(from, 2))
        + word(to, 0)
        + word(to, 2);
    let sum = (sum & 0xffff) + (sum >> 16);
    let sum = (sum & 0xffff) + (sum >> 16);
    [h[10], h[11]] = (!(sum as u16)).to_be_bytes();
}

/// An IPv4 address in the 16 bytes of an address of either family (IPVS's `union nf_inet_addr`).
pub(crate) fn ipv4_in_16(a: [u8; 4]) -> [u8; 16] {
    let mut full = [0; 16];
    [full[0], full[1], full[2], full[3]] = a;
    full
}

/// An address with its family, as a connection keeps its client's, virtual and real server's
/// (IPVS's `union nf_inet_addr` and the connection's `af` or `daf`). Addresses of different
/// families are never equal.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum InetAddr {
    V4([u8; 4]),
    V6([u8; 16]),
}

impl InetAddr {
    /// The address of family `af` in the 16 bytes of `union nf_inet_addr`; `None` for another
    /// family.
    pub(crate) fn from_af(af: u16, addr: &[u8; 16]) -> Option<Self> {
        match af {
            AF_INET => Some(Self::V4([addr[0], addr[1], addr[2], addr[3]])),
            AF_INET6 => Some(Self::V6(*addr)),
            _ => None,
        }
    }

    /// The address family (`AF_INET`, `AF_INET6`).
    pub(crate) fn af(&self) -> u16 {
        match self {
            Self::V4(_) => AF_INET,
            Self::V6(_) => AF_INET6,
        }
    }

    /// The 16 bytes of `union nf_inet_addr` (an IPv4 address first, the rest zero).
    pub(crate) fn to_16(self) -> [u8; 16] {
        match self {
            Self::V4(a) => ipv4_in_16(a),
            Self::V6(a) => a,
        }
    }

    /// The address under a persistence netmask (`ip_vs_addr_set` of `svc->netmask`, the IPv4
    /// mask in network order, or `ipv6_addr_prefix`'s prefix length for IPv6).
    pub(crate) fn masked(self, netmask: u32) -> Self {
        match self {
            Self::V4(a) => {
                let mask = netmask.to_ne_bytes();
                Self::V4(core::array::from_fn(|i| a[i] & mask[i]))
            }
            Self::V6(a) => {
                let prefix = netmask.min(128) as usize;
                Self::V6(core::array::from_fn(|i| {
                    let bits = prefix.saturating_sub(i * 8).min(8);
                    // `bits` is at most 8: the shift keeps the high `bits` of the byte.
                    a[i] & (0xffu16 << (8 - bits)) as u8
                }))
            }
        }
    }
}

/// The `N` bytes of `b` at `offset`, if it has them. (Fixed-size reads and writes compile to
/// moves; `copy_from_slice` is a call into the kernel's `core` per field.)
pub(crate) fn read<const N: usize>(b: &[u8], offset: usize) -> Option<[u8; N]> {
    b.get(offset..offset.checked_add(N)?)?.try_into().ok()
}

/// Writes `new` over the `N` bytes of `b` at `offset` and returns what they were, if `b` has
/// them.
pub(crate) fn swap<const N: usize>(b: &mut [u8], offset: usize, new: [u8; N]) -> Option<[u8; N]> {
    let field: &mut [u8; N] = b.get_mut(offset..offset.checked_add(N)?)?.try_into().ok()?;
    Some(core::mem::replace(field, new))
}

/// The partial sum (`__wsum`, as `csum_partial` adds the bytes in memory) of the IPv6
/// pseudo-header of an upper-layer packet of `len` bytes of protocol `next` from `saddr` to
/// `daddr` (RFC 8200 8.1, what `csum_ipv6_magic` adds): a checksum over the packet started from
/// it covers the pseudo-header too.
pub(crate) fn ipv6_pseudo_sum(saddr: &[u8; 16], daddr: &[u8; 16], len: u32, next: u8) -> u32 {
    let [l0, l1, l2, l3] = len.to_be_bytes();
    let tail = [l0, l1, l2, l3, 0, 0, 0, next];
    let mut sum = 0u64;
    for i in 0..8 {
        sum += u64::from(u16::from_ne_bytes([saddr[2 * i], saddr[2 * i + 1]]));
        sum += u64::from(u16::from_ne_bytes([daddr[2 * i], daddr[2 * i + 1]]));
    }
    for i in 0..4 {
        sum += u64::from(u16::from_ne_bytes([tail[2 * i], tail[2 * i + 1]]));
    }
    // At most 20 words: no carry out of 32 bits is lost.
    sum as u32
}

/// Adds two 32-bit one's-complement sums (`csum_add`).
pub(crate) fn csum_add(a: u32, b: u32) -> u32 {
    let (sum, carry) = a.overflowing_add(b);
    sum + u32::from(carry)
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

    #[test]
    fn icmpv6_checksum_covers_the_pseudo_header() {
        // An echo request from 2001:db8:1::2 to 2001:db8:1::100, id 0x1234, sequence 1, payload
        // "abcdefgh": 0x7f74 by RFC 1071 (computed apart with big-endian words).
        let mut saddr = [0u8; 16];
        [saddr[0], saddr[1], saddr[2], saddr[3], saddr[5], saddr[15]] =
            [0x20, 0x01, 0x0d, 0xb8, 1, 2];
        let mut daddr = saddr;
        [daddr[14], daddr[15]] = [1, 0];
        let msg = *b"\x80\x00\x00\x00\x12\x34\x00\x01abcdefgh";
        // `csum_partial` of the message from the pseudo-header's sum, as `skb_checksum` does.
        let mut sum = u64::from(ipv6_pseudo_sum(&saddr, &daddr, msg.len() as u32, 58));
        for w in msg.chunks(2) {
            sum += u64::from(u16::from_ne_bytes([w[0], w[1]]));
        }
        let sum = ((sum & 0xffff_ffff) + (sum >> 32)) as u32;
        assert_eq!(csum_fold(sum).to_ne_bytes(), [0x7f, 0x74]);
    }

    #[test]
    fn addresses_of_both_families_mask_and_convert() {
        let v4 = InetAddr::V4([192, 168, 7, 9]);
        // An IPv4 netmask is kept in network byte order (255.255.255.0).
        let mask = u32::from_ne_bytes([255, 255, 255, 0]);
        assert_eq!(v4.masked(mask), InetAddr::V4([192, 168, 7, 0]));
        assert_eq!(v4.to_16(), ipv4_in_16([192, 168, 7, 9]));
        assert_eq!(InetAddr::from_af(AF_INET, &v4.to_16()), Some(v4));
        let mut a = [0xffu8; 16];
        a[0] = 0x20;
        let v6 = InetAddr::V6(a);
        let InetAddr::V6(m) = v6.masked(64) else {
            panic!("family changed");
        };
        assert_eq!(&m[..8], &a[..8]);
        assert_eq!(&m[8..], &[0; 8]);
        let InetAddr::V6(m) = v6.masked(60) else {
            panic!("family changed");
        };
        assert_eq!((m[6], m[7]), (0xff, 0xf0));
        assert_eq!(v6.masked(128), v6);
        assert_eq!(v6.masked(200), v6);
        assert_eq!(InetAddr::from_af(AF_INET6, &a), Some(v6));
        assert_eq!(InetAddr::from_af(0, &a), None);
        // The same bytes in the two families are different addresses.
        assert_ne!(InetAddr::V6(ipv4_in_16([192, 168, 7, 9])), v4);
    }

    #[test]
    fn fixed_size_fields_read_and_swap_in_bounds_only() {
        let mut b = [1u8, 2, 3, 4, 5, 6];
        assert_eq!(read::<2>(&b, 4), Some([5, 6]));
        assert_eq!(read::<2>(&b, 5), None);
        assert_eq!(read::<4>(&b, usize::MAX), None);
        assert_eq!(swap(&mut b, 1, [9, 8, 7, 6]), Some([2, 3, 4, 5]));
        assert_eq!(b, [1, 9, 8, 7, 6, 6]);
        assert_eq!(swap(&mut b, 3, [0, 0, 0, 0]), None);
        assert_eq!(b, [1, 9, 8, 7, 6, 6]);
        assert_eq!(
            ipv4_in_16([10, 0, 0, 1]),
            [10, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0]
        );
    }

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
    fn parses_ipv6() {
        let mut b = [0u8; IPV6_HEADER_LEN];
        // version 6, traffic class 0xb8 (DSCP EF), flow label 0x12345
        b[..4].copy_from_slice(&[0x6b, 0x81, 0x23, 0x45]);
        b[4..6].copy_from_slice(&20u16.to_be_bytes());
        b[6] = PROTO_TCP;
        b[7] = 64;
        b[8] = 0x20;
        b[23] = 2;
        b[24] = 0x20;
        b[39] = 0x64;
        let ip = parse_ipv6(&b).unwrap();
        assert_eq!(
            (ip.traffic_class, ip.flow_label, ip.payload_len),
            (0xb8, 0x12345, 20)
        );
        assert_eq!((ip.next_header, ip.hop_limit), (PROTO_TCP, 64));
        assert_eq!((ip.saddr[0], ip.saddr[15], ip.daddr[15]), (0x20, 2, 0x64));
        b[0] = 0x45;
        assert_eq!(parse_ipv6(&b), None, "not version 6");
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
        assert_eq!(csum_add(0xffff_ffff, 2), 2, "end-around carry");
        assert_eq!(csum_add(0x1234, 0x10000), 0x11234);
        assert_eq!(csum_fold(0xffff_ffff), 0);
    }

    /// What a tunnel header takes of an IPv4 packet with TOS `tos` and flags `frag`.
    fn carried4(tos: u8, frag: u16) -> Carried {
        let mut h = header(5, frag, PROTO_TCP);
        h[1] = tos;
        let ip = parse_ipv4(&h).unwrap();
        Carried {
            version: IpVersion::V4,
            dsfield: ip.tos,
            ttl: ip.ttl,
            dont_fragment: ip.dont_fragment,
        }
    }

    #[test]
    fn outer_header() {
        let inner = carried4(0xb8 | 0x03, 0x4000); // DSCP EF, ECN CE, DF
        let h = tunnel_header(&inner, PROTO_IPIP, true, [10, 0, 0, 1], [10, 0, 0, 11]);
        assert_eq!(h[0], 0x45);
        assert_eq!(h[1], 0xb8 | 0x02, "CE becomes ECT(0), DSCP kept");
        assert_eq!([h[6], h[7]], [0x40, 0], "DF copied, no offset");
        assert_eq!(h[8], 64, "TTL copied");
        assert_eq!(h[9], PROTO_IPIP);
        assert_eq!(&h[12..], &[10, 0, 0, 1, 10, 0, 0, 11]);
        assert_eq!(ecn_encapsulate(0x01), 0x01);
        assert_eq!(
            tunnel_header(&carried4(0, 0x2000), PROTO_IPIP, true, [0; 4], [0; 4])[6],
            0,
            "MF not copied"
        );
        assert_eq!(
            tunnel_header(&inner, PROTO_GRE, false, [0; 4], [0; 4])[6..10],
            [0, 0, 64, PROTO_GRE],
            "DF not copied without pmtu_disc"
        );
    }

    #[test]
    fn outer_header6() {
        // An IPv4 packet of DSCP EF with ECN CE in an IPv6 tunnel to 2001:db8:3::11.
        let inner = carried4(0xb8 | 0x03, 0x4000);
        let mut saddr = [0u8; 16];
        [saddr[0], saddr[1], saddr[2], saddr[3], saddr[5], saddr[15]] =
            [0x20, 0x01, 0x0d, 0xb8, 3, 1];
        let mut daddr = saddr;
        daddr[15] = 0x11;
        let h = tunnel_header6(&inner, PROTO_IPIP, 1480, &saddr, &daddr).unwrap();
        assert_eq!(
            h[..8],
            [0x6b, 0xa0, 0, 0, 0x05, 0xc8, PROTO_IPIP, 64],
            "version 6, traffic class EF with ECT(0), no flow label, length, IPv4 inside, hop \
             limit copied"
        );
        let parsed = parse_ipv6(&h).unwrap();
        assert_eq!(parsed.traffic_class, 0xba);
        assert_eq!((parsed.saddr, parsed.daddr), (saddr, daddr));
        let six = Carried {
            version: IpVersion::V6,
            dsfield: 0,
            ttl: 1,
            dont_fragment: false,
        };
        let h = tunnel_header6(&six, six.version.ip_protocol(), 40, &saddr, &daddr).unwrap();
        assert_eq!(h[..8], [0x60, 0, 0, 0, 0, 40, PROTO_IPV6, 1]);
        assert_eq!(
            tunnel_header6(&six, PROTO_UDP, 65_536, &saddr, &daddr),
            None
        );
    }

    #[test]
    fn encapsulations() {
        let gue = Encap::new(1, 6080, tunnel_flag::REMCSUM);
        assert_eq!(
            gue,
            Encap::Gue {
                port: 6080,
                csum: false,
                remcsum: true
            }
        );
        assert_eq!(
            Encap::new(2, 0, tunnel_flag::CSUM),
            Encap::Gre { csum: true }
        );
        assert_eq!(Encap::new(0, 0, 3), Encap::Ipip);
        assert_eq!(
            Encap::new(7, 0, 0),
            Encap::Ipip,
            "IPVS sends IPIP for unknown types"
        );
        // The MTU left inside a 1500-byte route (`__ip_vs_get_out_rt`): IPIP 20, GUE 20+8+4
        // (+8 with the remote checksum option), GRE 20+4 (+4 with its checksum).
        let v4 = IpVersion::V4;
        assert_eq!(Encap::Ipip.inner_mtu(1500, true, v4), Some(1480));
        assert_eq!(gue.inner_mtu(1500, false, v4), Some(1468));
        assert_eq!(gue.inner_mtu(1500, true, v4), Some(1460));
        assert_eq!(
            Encap::Gre { csum: false }.inner_mtu(1500, true, v4),
            Some(1476)
        );
        assert_eq!(
            Encap::Gre { csum: true }.inner_mtu(1500, true, v4),
            Some(1472)
        );
        assert_eq!(Encap::Ipip.inner_mtu(88, false, v4), Some(68));
        assert_eq!(
            Encap::Ipip.inner_mtu(87, false, v4),
            None,
            "below 68: refused"
        );
        assert_eq!(Encap::Ipip.inner_mtu(10, false, v4), None);
        // Inside IPv6 (`__ip_vs_get_out_rt_v6`): 40 bytes more, and at least 1280 left.
        let v6 = IpVersion::V6;
        assert_eq!(Encap::Ipip.inner_mtu(1500, false, v6), Some(1460));
        assert_eq!(gue.inner_mtu(1500, true, v6), Some(1440));
        assert_eq!(
            Encap::Gre { csum: true }.inner_mtu(1500, true, v6),
            Some(1452)
        );
        assert_eq!(Encap::Ipip.inner_mtu(1320, false, v6), Some(1280));
        assert_eq!(Encap::Ipip.inner_mtu(1319, false, v6), None, "below 1280");
        assert_eq!(gue.protocol(v4), PROTO_UDP);
        assert_eq!(Encap::Gre { csum: false }.protocol(v6), PROTO_GRE);
        assert_eq!(Encap::Ipip.protocol(v4), PROTO_IPIP);
        assert_eq!(Encap::Ipip.protocol(v6), PROTO_IPV6, "IPv6 in IP");
    }

    #[test]
    fn gue_headers() {
        let plain = Encap::new(1, 6080, 0);
        let (h, len) = plain
            .headers(IpVersion::V4, [0xc0, 0x01], 100, None)
            .unwrap();
        assert_eq!(len, 12);
        assert_eq!(
            &h[..12],
            &[0xc0, 0x01, 0x17, 0xc0, 0, 112, 0, 0, 0, PROTO_IPIP, 0, 0],
            "UDP from the flow's port to 6080, length 8+4+100, checksum left 0; GUE v0 for IPIP"
        );
        let (h6, _) = plain
            .headers(IpVersion::V6, [0xc0, 0x01], 100, None)
            .unwrap();
        assert_eq!(h6[9], PROTO_IPV6, "GUE names an IPv6 payload");
        let (h, len) = Encap::new(1, 6080, 2)
            .headers(IpVersion::V4, [0xc0, 0x01], 100, Some((40, 16)))
            .unwrap();
        assert_eq!(len, 20);
        assert_eq!(&h[4..6], &[0, 120]);
        assert_eq!(
            &h[8..20],
            &[2, PROTO_IPIP, 0, 1, 0x80, 0, 0, 0, 0, 40, 0, 56],
            "hlen 2 words, GUE_FLAG_PRIV, GUE_PFLAG_REMCSUM, checksum start 40 and field 56"
        );
        assert_eq!(
            plain.headers(IpVersion::V4, [0; 2], 65_524, None),
            None,
            "UDP length overflows"
        );
        // What an ICMP error quotes of them.
        let mut quoted = [0u8; 12];
        quoted.copy_from_slice(&h[..12]);
        assert_eq!(gue_quoted_len(&quoted), Some(20));
        quoted[8] = 0x40;
        assert_eq!(gue_quoted_len(&quoted), None, "GUE version 1");
        quoted[8] = 0x20;
        assert_eq!(gue_quoted_len(&quoted), None, "control message");
        quoted[8] = 0;
        quoted[9] = PROTO_TCP;
        assert_eq!(gue_quoted_len(&quoted), None, "not IPv4 inside");
    }

    #[test]
    fn gre_headers() {
        let (h, len) = Encap::Gre { csum: false }
            .headers(IpVersion::V4, [0; 2], 100, None)
            .unwrap();
        assert_eq!((&h[..4], len), (&[0, 0, 0x08, 0][..], 4));
        let (h, _) = Encap::Gre { csum: false }
            .headers(IpVersion::V6, [0; 2], 100, None)
            .unwrap();
        assert_eq!(&h[..4], &[0, 0, 0x86, 0xdd], "ETH_P_IPV6");
        let (h, len) = Encap::Gre { csum: true }
            .headers(IpVersion::V4, [0; 2], 100, None)
            .unwrap();
        assert_eq!((&h[..8], len), (&[0x80, 0, 0x08, 0, 0, 0, 0, 0][..], 8));
        let mut base = [0u8; 4];
        base.copy_from_slice(&h[..4]);
        assert_eq!(gre_quoted_len(&base), Some(8));
        assert_eq!(gre_quoted_len(&[0, 0, 0x08, 0]), Some(4));
        assert_eq!(gre_quoted_len(&[0x20, 0, 0x08, 0]), None, "a key");
        assert_eq!(gre_quoted_len(&[0, 1, 0x08, 0]), None, "version 1");
        assert_eq!(gre_quoted_len(&[0, 0, 0x86, 0xdd]), None, "IPv6 inside");
    }

    /// The RFC 1071 checksum of an IPv4 header, computed from scratch.
    fn header_sum(h: &[u8]) -> u16 {
        let mut sum = 0u32;
        for (i, pair) in h.chunks(2).enumerate() {
            if i != 5 {
                sum += u32::from(u16::from_be_bytes([pair[0], pair[1]]));
            }
        }
        csum_fold(sum)
    }

    #[test]
    fn ttl_decrease_keeps_the_checksum_right() {
        for ttl in [2u8, 64, 255] {
            for seed in [0u16, 0x00ff, 0xfeff, 0xffff] {
                let mut h = header(5, 0x4000, PROTO_TCP);
                h[8] = ttl;
                h[4..6].copy_from_slice(&seed.to_be_bytes());
                let sum = header_sum(&h);
                h[10..12].copy_from_slice(&sum.to_be_bytes());
                decrease_ttl(&mut h);
                assert_eq!(h[8], ttl - 1);
                let expect = header_sum(&h);
                // 0x0000 and 0xffff are the same one's-complement number.
                let got = u16::from_be_bytes([h[10], h[11]]);
                assert!(
                    got == expect || (got, expect) == (0xffff, 0) || (got, expect) == (0, 0xffff),
                    "ttl {ttl} id {seed:#x}: {got:#x} != {expect:#x}"
                );
            }
        }
    }

    #[test]
    fn address_replace_keeps_the_checksum_right() {
        let addrs = [
            [10, 0, 2, 11],
            [0, 0, 0, 0],
            [255, 255, 255, 255],
            [192, 168, 0xff, 0],
        ];
        for seed in [0u16, 0x00ff, 0xfeff, 0xffff] {
            for from in addrs {
                for to in addrs {
                    for offset in [IPV4_SADDR, IPV4_DADDR] {
                        let mut h = header(5, 0x4000, PROTO_UDP);
                        h[4..6].copy_from_slice(&seed.to_be_bytes());
                        h[offset..offset + 4].copy_from_slice(&from);
                        let sum = header_sum(&h);
                        h[10..12].copy_from_slice(&sum.to_be_bytes());
                        h[offset..offset + 4].copy_from_slice(&to);
                        ipv4_sum_replace4(&mut h, from, to);
                        let expect = header_sum(&h);
                        let got = u16::from_be_bytes([h[10], h[11]]);
                        // 0x0000 and 0xffff are the same one's-complement number.
                        assert!(
                            got == expect
                                || (got, expect) == (0xffff, 0)
                                || (got, expect) == (0, 0xffff),
                            "{from:?} -> {to:?} id {seed:#x}: {got:#x} != {expect:#x}"
                        );
                    }
                }
            }
        }
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
