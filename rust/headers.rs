// SPDX-License-Identifier: GPL-2.0

//! The headers the packet path decides on, parsed once from a packet's first bytes: the IPv4
//! header, the ports and TCP flags, or whether it is an ICMP error. What an ICMP error quotes
//! (which may be one of rvs's tunnel packets) is parsed apart, by [`IcmpError::parse`], so that
//! the headers every packet carries through the hooks stay small to move. Scheduling, connection
//! lookup and the transmitters read these instead of the packet.
//!
//! Pure logic without kernel dependencies, tested on the host by `cargo test`. A parser answers
//! [`Need`] when the bytes it must see exist but are not linear yet; the caller pulls them and
//! parses again.

#![deny(unsafe_code)]

use crate::packet::{self, get_or_none, Bytes, Ipv4, Need, Ports};

/// A packet's headers, as far as rvs uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Headers {
    pub(crate) ip: Ipv4,
    pub(crate) l4: L4,
}

/// What follows the IPv4 header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L4 {
    /// A TCP or UDP header (of a whole packet or a first fragment).
    Transport(Transport),
    /// An ICMP error (not fragmented) of a type rvs translates; [`IcmpError::parse`] reads it.
    IcmpError,
    /// Anything else, which rvs lets pass: another protocol or ICMP message, a later fragment,
    /// a transport header cut short.
    Other,
}

/// The ports of a TCP or UDP header, and for TCP its flags byte (0 for UDP).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Transport {
    pub(crate) ports: Ports,
    pub(crate) tcp_flags: u8,
}

/// An ICMP error and what it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct IcmpError {
    /// Type, code, checksum and the 4 bytes that follow (the MTU of "fragmentation needed").
    pub(crate) header: [u8; packet::ICMP_HEADER_LEN],
    /// The quoted packet, if it is a TCP or UDP one.
    pub(crate) quoted: Option<Quoted>,
    /// The quoted packet read as a tunnel packet (IPIP, GUE or GRE) carrying a TCP or UDP one,
    /// if it can be one.
    pub(crate) tunnel: Option<QuotedTunnel>,
}

/// A quoted TCP or UDP packet (not a later fragment): its IPv4 header, at `offset` from the
/// start of the packet, and its ports (routers quote 8 bytes of the transport header).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Quoted {
    pub(crate) offset: usize,
    pub(crate) ip: Ipv4,
    pub(crate) ports: Ports,
}

/// How a quoted tunnel packet is wrapped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum QuotedEncap {
    Ipip,
    /// GUE to this UDP destination port.
    Gue {
        port: u16,
    },
    Gre,
}

/// A quoted tunnel packet, as rvs sends them to tunnelling real servers (`ipvs_udp_decap`,
/// `ipvs_gre_decap`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct QuotedTunnel {
    /// The tunnel's IPv4 header (director to real server).
    pub(crate) outer: Ipv4,
    pub(crate) encap: QuotedEncap,
    /// The length of the UDP and GUE or the GRE headers after the tunnel's IPv4 header.
    pub(crate) encap_len: usize,
    /// The packet inside.
    pub(crate) inner: Quoted,
}

impl Headers {
    /// Parses the headers of `b`; `Ok(None)` if it does not start with a valid IPv4 header.
    pub(crate) fn parse(b: Bytes<'_>) -> Result<Option<Self>, Need> {
        let first = get_or_none!(b, 0, packet::IPV4_MIN_LEN);
        let Some(ip) = packet::parse_ipv4(&first) else {
            return Ok(None);
        };
        let l4 = if ip.later_fragment {
            None
        } else {
            match ip.protocol {
                packet::PROTO_TCP | packet::PROTO_UDP => {
                    transport(b, ip.protocol, ip.header_len)?.map(L4::Transport)
                }
                packet::PROTO_ICMP if !ip.fragment => {
                    let header = get_or_none!(b, ip.header_len, packet::ICMP_HEADER_LEN);
                    packet::icmp_is_error(header[0]).then_some(L4::IcmpError)
                }
                _ => None,
            }
        };
        Ok(Some(Self {
            ip,
            l4: l4.unwrap_or(L4::Other),
        }))
    }
}

/// The TCP or UDP header at `offset`.
pub(crate) fn transport(
    b: Bytes<'_>,
    protocol: u8,
    offset: usize,
) -> Result<Option<Transport>, Need> {
    let p = get_or_none!(b, offset, 4);
    let tcp_flags = if protocol == packet::PROTO_TCP {
        get_or_none!(b, offset + packet::TCP_FLAGS, 1)[0]
    } else {
        0
    };
    Ok(Some(Transport {
        ports: Ports {
            sport: [p[0], p[1]],
            dport: [p[2], p[3]],
        },
        tcp_flags,
    }))
}

impl IcmpError {
    /// Parses the ICMP message at `offset` of `b`, if it is an error of a type rvs translates.
    pub(crate) fn parse(b: Bytes<'_>, offset: usize) -> Result<Option<Self>, Need> {
        let header = get_or_none!(b, offset, packet::ICMP_HEADER_LEN);
        if !packet::icmp_is_error(header[0]) {
            return Ok(None);
        }
        let at = offset + packet::ICMP_HEADER_LEN;
        Ok(Some(Self {
            header,
            quoted: quoted(b, at)?,
            tunnel: quoted_tunnel(b, at)?,
        }))
    }
}

/// The quoted TCP or UDP packet at `offset`.
fn quoted(b: Bytes<'_>, offset: usize) -> Result<Option<Quoted>, Need> {
    let first = get_or_none!(b, offset, packet::IPV4_MIN_LEN);
    let Some(ip) = packet::parse_ipv4(&first) else {
        return Ok(None);
    };
    if ip.later_fragment || packet::l4_rewrite_len(ip.protocol).is_none() {
        return Ok(None);
    }
    let p = get_or_none!(b, offset + ip.header_len, 4);
    Ok(Some(Quoted {
        offset,
        ip,
        ports: Ports {
            sport: [p[0], p[1]],
            dport: [p[2], p[3]],
        },
    }))
}

/// The quoted packet at `offset` read as a tunnel packet carrying a TCP or UDP one.
fn quoted_tunnel(b: Bytes<'_>, offset: usize) -> Result<Option<QuotedTunnel>, Need> {
    let first = get_or_none!(b, offset, packet::IPV4_MIN_LEN);
    let Some(outer) = packet::parse_ipv4(&first) else {
        return Ok(None);
    };
    if outer.later_fragment {
        return Ok(None);
    }
    let after = offset + outer.header_len;
    let (encap, encap_len) = match outer.protocol {
        packet::PROTO_IPIP => (QuotedEncap::Ipip, Some(0)),
        packet::PROTO_UDP => {
            let h = get_or_none!(b, after, packet::UDP_HEADER_LEN + 4);
            let port = u16::from_be_bytes([h[2], h[3]]);
            (QuotedEncap::Gue { port }, packet::gue_quoted_len(&h))
        }
        packet::PROTO_GRE => (
            QuotedEncap::Gre,
            packet::gre_quoted_len(&get_or_none!(b, after, 4)),
        ),
        _ => return Ok(None),
    };
    let Some(encap_len) = encap_len else {
        return Ok(None);
    };
    let Some(inner) = quoted(b, after + encap_len)? else {
        return Ok(None);
    };
    Ok(Some(QuotedTunnel {
        outer,
        encap,
        encap_len,
        inner,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An IPv4 header (20 bytes) of `protocol` from `saddr` to `daddr` with `frag` as its
    /// flags and fragment offset, and `total` as its total length.
    fn ipv4(protocol: u8, saddr: [u8; 4], daddr: [u8; 4], frag: u16, total: u16) -> Vec<u8> {
        let mut h = vec![0x45, 0];
        h.extend(total.to_be_bytes());
        h.extend([0, 1]);
        h.extend(frag.to_be_bytes());
        h.extend([64, protocol, 0, 0]);
        h.extend(saddr);
        h.extend(daddr);
        h
    }

    const CLIENT: [u8; 4] = [10, 0, 1, 2];
    const VIP: [u8; 4] = [10, 0, 1, 100];
    const RS: [u8; 4] = [10, 0, 2, 11];
    const DIRECTOR: [u8; 4] = [10, 0, 2, 1];

    fn tcp_syn() -> Vec<u8> {
        let mut p = ipv4(packet::PROTO_TCP, CLIENT, VIP, 0x4000, 40);
        p.extend([
            0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
        ]);
        p.extend([0; 4]);
        p
    }

    fn parse(b: &[u8]) -> Result<Option<Headers>, Need> {
        Headers::parse(Bytes::new(b, b.len()))
    }

    /// The ICMP error `b` is, which its headers must say it is.
    fn icmp(b: &[u8]) -> IcmpError {
        let h = parse(b).unwrap().unwrap();
        assert_eq!(h.l4, L4::IcmpError);
        IcmpError::parse(Bytes::new(b, b.len()), h.ip.header_len)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn tcp() {
        let h = parse(&tcp_syn()).unwrap().unwrap();
        assert_eq!(h.ip.saddr, CLIENT);
        assert_eq!(h.ip.ttl, 64);
        assert_eq!(
            h.l4,
            L4::Transport(Transport {
                ports: Ports {
                    sport: [0xc3, 0x50],
                    dport: [0, 80]
                },
                tcp_flags: 0x02
            })
        );
    }

    #[test]
    fn asks_for_what_is_not_linear() {
        let p = tcp_syn();
        // The IPv4 header linear, the TCP header in a fragment: the ports are asked for, then
        // the flags.
        assert_eq!(Headers::parse(Bytes::new(&p[..20], p.len())), Err(Need(24)));
        assert_eq!(Headers::parse(Bytes::new(&p[..24], p.len())), Err(Need(34)));
        assert!(Headers::parse(Bytes::new(&p[..34], p.len())).is_ok());
        // Nothing linear at all.
        assert_eq!(Headers::parse(Bytes::new(&[], p.len())), Err(Need(20)));
    }

    #[test]
    fn short_or_odd_packets_are_other() {
        let p = tcp_syn();
        // A TCP header cut before its flags.
        assert_eq!(parse(&p[..30]).unwrap().unwrap().l4, L4::Other);
        // Not IPv4, or shorter than a header.
        let mut v6 = p.clone();
        v6[0] = 0x60;
        assert_eq!(parse(&v6), Ok(None));
        assert_eq!(parse(&p[..19]), Ok(None));
        // A later fragment carries no ports; a first one does.
        let mut later = p.clone();
        later[6..8].copy_from_slice(&0x0010u16.to_be_bytes());
        assert_eq!(parse(&later).unwrap().unwrap().l4, L4::Other);
        let mut first = p.clone();
        first[6..8].copy_from_slice(&0x2000u16.to_be_bytes());
        assert!(matches!(
            parse(&first).unwrap().unwrap().l4,
            L4::Transport(_)
        ));
        // Another protocol.
        let gre = ipv4(packet::PROTO_GRE, CLIENT, VIP, 0, 24);
        assert_eq!(parse(&gre).unwrap().unwrap().l4, L4::Other);
    }

    /// An ICMP "fragmentation needed" (MTU 1400) from `from` to `to` quoting `quoted`.
    fn frag_needed(from: [u8; 4], to: [u8; 4], quoted: &[u8]) -> Vec<u8> {
        let mut p = ipv4(packet::PROTO_ICMP, from, to, 0, 0);
        p.extend([
            packet::ICMP_DEST_UNREACH,
            packet::ICMP_FRAG_NEEDED,
            0,
            0,
            0,
            0,
        ]);
        p.extend(1400u16.to_be_bytes());
        p.extend(quoted);
        p
    }

    #[test]
    fn icmp_error_quoting_a_request() {
        let p = frag_needed(RS, CLIENT, &tcp_syn()[..28]);
        let e = icmp(&p);
        assert_eq!(e.header[0], packet::ICMP_DEST_UNREACH);
        assert_eq!([e.header[6], e.header[7]], 1400u16.to_be_bytes());
        let q = e.quoted.unwrap();
        assert_eq!((q.offset, q.ip.saddr, q.ip.daddr), (28, CLIENT, VIP));
        assert_eq!(q.ports.dport, [0, 80]);
        assert_eq!(e.tunnel, None, "a TCP packet is not a tunnel packet");
        // Echo requests and errors quoting too little are not errors rvs translates.
        let mut echo = p.clone();
        echo[20] = 8;
        assert_eq!(parse(&echo).unwrap().unwrap().l4, L4::Other);
        assert_eq!(icmp(&p[..50]).quoted, None);
    }

    #[test]
    fn icmp_errors_quoting_tunnel_packets() {
        let request = &tcp_syn()[..28];
        // IPIP.
        let mut ipip = ipv4(packet::PROTO_IPIP, DIRECTOR, RS, 0x4000, 68);
        ipip.extend(request);
        let e = icmp(&frag_needed(DIRECTOR, DIRECTOR, &ipip));
        let t = e.tunnel.unwrap();
        assert_eq!((t.encap, t.encap_len), (QuotedEncap::Ipip, 0));
        assert_eq!((t.outer.daddr, t.inner.offset), (RS, 48));
        assert_eq!(
            (t.inner.ip.saddr, t.inner.ports.sport),
            (CLIENT, [0xc3, 0x50])
        );
        assert_eq!(e.quoted, None, "IPIP is not TCP or UDP");

        // GUE to port 6080 with no options, carrying IPv4.
        let mut gue = ipv4(packet::PROTO_UDP, DIRECTOR, RS, 0, 80);
        gue.extend([0x9c, 0x40, 0x17, 0xc0, 0, 60, 0, 0]);
        gue.extend([0, packet::PROTO_IPIP, 0, 0]);
        gue.extend(request);
        let e = icmp(&frag_needed(DIRECTOR, DIRECTOR, &gue));
        let t = e.tunnel.unwrap();
        assert_eq!(t.encap, QuotedEncap::Gue { port: 6080 });
        assert_eq!((t.encap_len, t.inner.offset), (12, 60));
        assert_eq!(t.inner.ip.daddr, VIP);
        // The UDP header is also read as a plain quoted UDP packet.
        assert_eq!(e.quoted.unwrap().ports.dport, [0x17, 0xc0]);

        // GRE with a checksum.
        let mut gre = ipv4(packet::PROTO_GRE, DIRECTOR, RS, 0, 76);
        gre.extend([0x80, 0, 0x08, 0, 0, 0, 0, 0]);
        gre.extend(request);
        let e = icmp(&frag_needed(DIRECTOR, DIRECTOR, &gre));
        let t = e.tunnel.unwrap();
        assert_eq!(
            (t.encap, t.encap_len, t.inner.offset),
            (QuotedEncap::Gre, 8, 56)
        );

        // A GRE header with an unknown flag is no tunnel of rvs's.
        let mut odd = gre.clone();
        odd[20] = 0x20;
        let e = icmp(&frag_needed(DIRECTOR, DIRECTOR, &odd));
        assert_eq!(e.tunnel, None);
    }
}
