// SPDX-License-Identifier: GPL-2.0

//! The headers of an IPv6 packet that the packet path decides on, found as IPVS finds them
//! (`ip_vs_fill_iph_skb_off`): the IPv6 header, then the upper-layer header past the extension
//! headers (`ipv6_find_hdr`) with its ports and TCP flags, or whether it is an ICMPv6 error; and,
//! apart, what an ICMPv6 error quotes (`ip_vs_in_icmp_v6`, `ip_vs_out_icmp_v6`). The IPv6
//! counterpart of [`crate::headers`], with the same [`Need`] protocol for bytes not yet linear.
//!
//! Kernel-independent and host-tested.

#![deny(unsafe_code)]

use crate::headers::{self, Transport};
use crate::packet::{self, get_or_none, Bytes, Ipv6, Need, Ports};

/// The extension headers `ipv6_find_hdr` walks past (`NEXTHDR_*`). ESP (50) is not one: the
/// walk ends there, as at any upper-layer protocol.
const NEXTHDR_HOP: u8 = 0;
const NEXTHDR_ROUTING: u8 = 43;
const NEXTHDR_FRAGMENT: u8 = 44;
const NEXTHDR_AUTH: u8 = 51;
const NEXTHDR_DEST: u8 = 60;
/// "No next header": the walk ends, with this as the protocol.
#[cfg(test)]
const NEXTHDR_NONE: u8 = 59;
/// ICMPv6's protocol number.
pub(crate) const PROTO_ICMPV6: u8 = 58;
/// Length of an ICMPv6 header (`struct icmp6hdr`); the quoted packet follows.
pub(crate) const ICMPV6_HEADER_LEN: usize = 8;
/// ICMPv6 error types and codes rvs sends (`uapi/linux/icmpv6.h`).
pub(crate) const ICMPV6_DEST_UNREACH: u8 = 1;
pub(crate) const ICMPV6_PORT_UNREACH: u8 = 4;
pub(crate) const ICMPV6_PKT_TOOBIG: u8 = 2;
pub(crate) const ICMPV6_TIME_EXCEED: u8 = 3;
pub(crate) const ICMPV6_EXC_HOPLIMIT: u8 = 0;
/// Types with this bit are informational, the others errors (`ICMPV6_INFOMSG_MASK`).
const ICMPV6_INFOMSG_MASK: u8 = 0x80;
/// The fragment offset bits of a Fragment header's second word, in bytes (`~0x7`).
const FRAG_OFFSET_MASK: u16 = 0xfff8;

/// Whether `ipv6_find_hdr` walks past a header of this number (`ipv6_ext_hdr`, which also
/// names `NEXTHDR_NONE`, where the walk ends all the same).
fn is_extension(nexthdr: u8) -> bool {
    matches!(
        nexthdr,
        NEXTHDR_HOP | NEXTHDR_ROUTING | NEXTHDR_FRAGMENT | NEXTHDR_AUTH | NEXTHDR_DEST
    )
}

/// The upper-layer header of an IPv6 packet, past its extension headers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Upper {
    /// Its protocol number; `NEXTHDR_NONE` (59) when nothing follows.
    pub(crate) protocol: u8,
    /// Where it starts in the packet. For a later fragment (`fragoffs` not 0) the IPv6 header's
    /// offset, where `ipv6_find_hdr` leaves it: no upper-layer header is in such a packet.
    pub(crate) offset: usize,
    /// The offset in bytes of a later fragment, 0 otherwise (IPVS's `fragoffs`).
    pub(crate) fragoffs: u16,
    /// A Fragment header was passed (`IP6_FH_F_FRAG`): a first or a later fragment.
    pub(crate) fragment: bool,
}

/// `ipv6_find_hdr(skb, &offset, -1, &fragoffs, &flags)` for the IPv6 header at `ip_offset`,
/// whose next header is `next`: the upper-layer header, or `Ok(None)` where the kernel fails
/// (an extension header cut short or longer than the packet; an extension header after a later
/// fragment's Fragment header).
pub(crate) fn find_upper(b: Bytes<'_>, ip_offset: usize, next: u8) -> Result<Option<Upper>, Need> {
    let mut start = ip_offset + packet::IPV6_HEADER_LEN;
    let mut nexthdr = next;
    let mut fragment = false;
    while is_extension(nexthdr) {
        // Next header and length (`struct ipv6_opt_hdr`).
        let hp = get_or_none!(b, start, 2);
        let len = match nexthdr {
            NEXTHDR_FRAGMENT => {
                fragment = true;
                let word = get_or_none!(b, start + 2, 2);
                let fragoffs = u16::from_be_bytes(word) & FRAG_OFFSET_MASK;
                if fragoffs != 0 {
                    // A later fragment: its protocol if nothing but it follows.
                    return Ok((!is_extension(hp[0])).then_some(Upper {
                        protocol: hp[0],
                        offset: ip_offset,
                        fragoffs,
                        fragment,
                    }));
                }
                8
            }
            // `ipv6_authlen`: in 4-byte words, less 2.
            NEXTHDR_AUTH => (usize::from(hp[1]) + 2) << 2,
            _ => {
                if nexthdr == NEXTHDR_ROUTING {
                    // The kernel reads the routing header's first 4 bytes.
                    get_or_none!(b, start, 4);
                }
                // `ipv6_optlen`: in 8-byte units, less 1.
                (usize::from(hp[1]) + 1) << 3
            }
        };
        start = match start.checked_add(len) {
            Some(end) if end <= b.len() => end,
            _ => return Ok(None),
        };
        nexthdr = hp[0];
    }
    Ok(Some(Upper {
        protocol: nexthdr,
        offset: start,
        fragoffs: 0,
        fragment,
    }))
}

/// A packet's IPv6 headers, as far as rvs uses them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Headers6 {
    pub(crate) ip: Ipv6,
    pub(crate) upper: Upper,
    pub(crate) l4: L4v6,
}

/// What the upper-layer header of an IPv6 packet is to the packet path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum L4v6 {
    /// A TCP or UDP header (of a whole packet or a first fragment).
    Transport(Transport),
    /// An ICMPv6 error; [`Icmp6Error::parse`] reads it.
    IcmpError,
    /// An ICMPv6 packet IPVS drops: its header cut short, or an error behind a Fragment header
    /// (errors are never fragmented, and a later fragment shows no type).
    IcmpDrop,
    /// Anything else, which rvs lets pass: another protocol, an informational ICMPv6 message, a
    /// later fragment, a transport header cut short.
    Other,
}

impl Headers6 {
    /// Parses the headers of `b`; `Ok(None)` if it does not start with an IPv6 header or its
    /// extension headers are malformed (IPVS lets such packets pass).
    pub(crate) fn parse(b: Bytes<'_>) -> Result<Option<Self>, Need> {
        let first = get_or_none!(b, 0, packet::IPV6_HEADER_LEN);
        let Some(ip) = packet::parse_ipv6(&first) else {
            return Ok(None);
        };
        let Some(upper) = find_upper(b, 0, ip.next_header)? else {
            return Ok(None);
        };
        let l4 = match upper.protocol {
            // `ip_vs_in_icmp_v6` reads a type at the IPv6 header, an error type, and drops the
            // fragment.
            PROTO_ICMPV6 if upper.fragoffs != 0 => L4v6::IcmpDrop,
            _ if upper.fragoffs != 0 => L4v6::Other,
            packet::PROTO_TCP | packet::PROTO_UDP => {
                match headers::transport(b, upper.protocol, upper.offset)? {
                    Some(t) => L4v6::Transport(t),
                    None => L4v6::Other,
                }
            }
            PROTO_ICMPV6 => match b.get::<ICMPV6_HEADER_LEN>(upper.offset)? {
                None => L4v6::IcmpDrop,
                Some(h) if h[0] & ICMPV6_INFOMSG_MASK != 0 => L4v6::Other,
                Some(_) if upper.fragment => L4v6::IcmpDrop,
                Some(_) => L4v6::IcmpError,
            },
            _ => L4v6::Other,
        };
        Ok(Some(Self { ip, upper, l4 }))
    }
}

/// An ICMPv6 error and what it quotes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Icmp6Error {
    /// Type, code, checksum and the 4 bytes that follow (the MTU of "packet too big").
    pub(crate) header: [u8; ICMPV6_HEADER_LEN],
    /// The quoted packet, if it is a TCP or UDP one with its ports.
    pub(crate) quoted: Option<Quoted6>,
}

/// A quoted TCP or UDP packet (not a later fragment): its IPv6 header, at `offset` from the
/// start of the packet, its upper-layer header past the quoted extension headers, and its ports.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Quoted6 {
    pub(crate) offset: usize,
    pub(crate) ip: Ipv6,
    pub(crate) upper: Upper,
    pub(crate) ports: Ports,
}

impl Icmp6Error {
    /// Parses the ICMPv6 message at `offset` of `b`, if it is an error.
    pub(crate) fn parse(b: Bytes<'_>, offset: usize) -> Result<Option<Self>, Need> {
        let header = get_or_none!(b, offset, ICMPV6_HEADER_LEN);
        if header[0] & ICMPV6_INFOMSG_MASK != 0 {
            return Ok(None);
        }
        Ok(Some(Self {
            header,
            quoted: quoted(b, offset + ICMPV6_HEADER_LEN)?,
        }))
    }
}

/// The quoted TCP or UDP packet at `offset` (`ip_vs_fill_iph_skb_icmp`); none where IPVS lets
/// the error pass: not IPv6, malformed extension headers, another protocol, a later fragment,
/// its ports cut off.
fn quoted(b: Bytes<'_>, offset: usize) -> Result<Option<Quoted6>, Need> {
    let first = get_or_none!(b, offset, packet::IPV6_HEADER_LEN);
    let Some(ip) = packet::parse_ipv6(&first) else {
        return Ok(None);
    };
    let Some(upper) = find_upper(b, offset, ip.next_header)? else {
        return Ok(None);
    };
    if upper.fragoffs != 0 || packet::l4_rewrite_len(upper.protocol).is_none() {
        return Ok(None);
    }
    let p = get_or_none!(b, upper.offset, 4);
    Ok(Some(Quoted6 {
        offset,
        ip,
        upper,
        ports: Ports {
            sport: [p[0], p[1]],
            dport: [p[2], p[3]],
        },
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: [u8; 16] = [0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
    const VIP: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64,
    ];
    const RS: [u8; 16] = [
        0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,
    ];
    const ESP: u8 = 50;
    const ICMPV6_ECHO_REQUEST: u8 = 128;

    /// An IPv6 header from `saddr` to `daddr` whose next header is `next`, then `rest`.
    fn ipv6(next: u8, saddr: [u8; 16], daddr: [u8; 16], rest: &[u8]) -> Vec<u8> {
        let mut p = vec![0x60, 0, 0, 0];
        p.extend(u16::try_from(rest.len()).unwrap().to_be_bytes());
        p.extend([next, 64]);
        p.extend(saddr);
        p.extend(daddr);
        p.extend(rest);
        p
    }

    /// An options header (hop-by-hop, destination) of `next`, `units` 8-byte units long.
    fn options(next: u8, units: u8) -> Vec<u8> {
        let mut h = vec![next, units - 1];
        // PadN over the rest.
        h.extend([1, units * 8 - 4]);
        h.resize(usize::from(units) * 8, 0);
        h
    }

    /// A Fragment header of `next` at byte offset `offset`, with More Fragments if `more`.
    fn fragment(next: u8, offset: u16, more: bool) -> Vec<u8> {
        let mut h = vec![next, 0];
        h.extend((offset | u16::from(more)).to_be_bytes());
        h.extend([0, 0, 0x12, 0x34]);
        h
    }

    /// A TCP SYN from port 50000 to 80 (20 bytes).
    fn syn() -> Vec<u8> {
        let mut t = vec![
            0xc3, 0x50, 0, 80, 0, 0, 0, 1, 0, 0, 0, 0, 0x50, 0x02, 0xff, 0xff,
        ];
        t.extend([0; 4]);
        t
    }

    fn cat(parts: &[&[u8]]) -> Vec<u8> {
        parts.concat()
    }

    fn parse(b: &[u8]) -> Result<Option<Headers6>, Need> {
        Headers6::parse(Bytes::new(b, b.len()))
    }

    fn syn_ports() -> L4v6 {
        L4v6::Transport(Transport {
            ports: Ports {
                sport: [0xc3, 0x50],
                dport: [0, 80],
            },
            tcp_flags: 0x02,
        })
    }

    #[test]
    fn tcp_without_extension_headers() {
        let h = parse(&ipv6(packet::PROTO_TCP, CLIENT, VIP, &syn()))
            .unwrap()
            .unwrap();
        assert_eq!((h.ip.saddr, h.ip.daddr, h.ip.hop_limit), (CLIENT, VIP, 64));
        assert_eq!(
            h.upper,
            Upper {
                protocol: packet::PROTO_TCP,
                offset: 40,
                fragoffs: 0,
                fragment: false
            }
        );
        assert_eq!(h.l4, syn_ports());
    }

    #[test]
    fn extension_headers_are_walked_past() {
        // Hop-by-hop (8), destination options (16), a routing header (8), AH (24: length 4
        // words less 2), then TCP.
        let mut routing = vec![NEXTHDR_AUTH, 0, 0, 0];
        routing.resize(8, 0);
        let mut ah = vec![packet::PROTO_TCP, 4];
        ah.resize(24, 0);
        let p = ipv6(
            NEXTHDR_HOP,
            CLIENT,
            VIP,
            &cat(&[
                &options(NEXTHDR_DEST, 1),
                &options(NEXTHDR_ROUTING, 2),
                &routing,
                &ah,
                &syn(),
            ]),
        );
        let h = parse(&p).unwrap().unwrap();
        assert_eq!((h.upper.protocol, h.upper.offset), (packet::PROTO_TCP, 96));
        assert_eq!(h.l4, syn_ports());
        // ESP and "no next header" end the walk: their packets are not rvs's.
        for last in [ESP, NEXTHDR_NONE] {
            let p = ipv6(
                NEXTHDR_DEST,
                CLIENT,
                VIP,
                &cat(&[&options(last, 1), &[0; 8]]),
            );
            let h = parse(&p).unwrap().unwrap();
            assert_eq!(
                (h.upper.protocol, h.upper.offset, h.l4),
                (last, 48, L4v6::Other)
            );
        }
    }

    #[test]
    fn fragments() {
        // A first fragment carries the ports.
        let p = ipv6(
            NEXTHDR_FRAGMENT,
            CLIENT,
            VIP,
            &cat(&[&fragment(packet::PROTO_TCP, 0, true), &syn()]),
        );
        let h = parse(&p).unwrap().unwrap();
        assert_eq!((h.upper.offset, h.upper.fragoffs), (48, 0));
        assert!(h.upper.fragment);
        assert_eq!(h.l4, syn_ports());
        // A later one does not: the offset stays at the IPv6 header.
        let p = ipv6(
            NEXTHDR_FRAGMENT,
            CLIENT,
            VIP,
            &cat(&[&fragment(packet::PROTO_TCP, 1232, false), &[0; 16]]),
        );
        let h = parse(&p).unwrap().unwrap();
        assert_eq!(
            h.upper,
            Upper {
                protocol: packet::PROTO_TCP,
                offset: 0,
                fragoffs: 1232,
                fragment: true
            }
        );
        assert_eq!(h.l4, L4v6::Other);
        // After a later fragment's header, another extension header is malformed.
        let p = ipv6(
            NEXTHDR_FRAGMENT,
            CLIENT,
            VIP,
            &cat(&[&fragment(NEXTHDR_DEST, 8, true), &[0; 16]]),
        );
        assert_eq!(parse(&p), Ok(None));
    }

    #[test]
    fn malformed_extension_headers() {
        // Longer than the packet.
        let mut long = options(packet::PROTO_TCP, 1);
        long[1] = 3;
        assert_eq!(
            parse(&ipv6(NEXTHDR_HOP, CLIENT, VIP, &cat(&[&long, &syn()]))),
            Ok(None)
        );
        // Cut before its length byte, or (a routing header) before its first 4 bytes.
        assert_eq!(parse(&ipv6(NEXTHDR_HOP, CLIENT, VIP, &[6])), Ok(None));
        assert_eq!(
            parse(&ipv6(NEXTHDR_ROUTING, CLIENT, VIP, &[6, 0, 0])),
            Ok(None)
        );
        // A Fragment header cut before its offset.
        assert_eq!(
            parse(&ipv6(NEXTHDR_FRAGMENT, CLIENT, VIP, &[6, 0, 0])),
            Ok(None)
        );
        // Not IPv6, or shorter than its header.
        let mut p = ipv6(packet::PROTO_TCP, CLIENT, VIP, &syn());
        assert_eq!(parse(&p[..39]), Ok(None));
        p[0] = 0x45;
        assert_eq!(parse(&p), Ok(None));
        // A TCP header cut before its flags passes as something else.
        let p = ipv6(packet::PROTO_TCP, CLIENT, VIP, &syn()[..10]);
        assert_eq!(parse(&p).unwrap().unwrap().l4, L4v6::Other);
    }

    #[test]
    fn asks_for_what_is_not_linear() {
        let p = ipv6(
            NEXTHDR_HOP,
            CLIENT,
            VIP,
            &cat(&[&options(packet::PROTO_TCP, 1), &syn()]),
        );
        let parse_linear = |n: usize| Headers6::parse(Bytes::new(&p[..n], p.len()));
        assert_eq!(parse_linear(0), Err(Need(40)));
        assert_eq!(parse_linear(40), Err(Need(42)));
        assert_eq!(parse_linear(42), Err(Need(52)), "the ports");
        assert_eq!(parse_linear(52), Err(Need(62)), "the flags");
        assert_eq!(parse_linear(62).unwrap().unwrap().l4, syn_ports());
    }

    /// An ICMPv6 message of `kind` from `from` to `to` quoting `quoted` ("packet too big"
    /// carries the MTU 1280).
    fn icmp6(kind: u8, from: [u8; 16], to: [u8; 16], quoted: &[u8]) -> Vec<u8> {
        let mut m = vec![kind, 0, 0, 0];
        m.extend(1280u32.to_be_bytes());
        m.extend(quoted);
        ipv6(PROTO_ICMPV6, from, to, &m)
    }

    fn icmp_error(p: &[u8]) -> Icmp6Error {
        let h = parse(p).unwrap().unwrap();
        assert_eq!(h.l4, L4v6::IcmpError);
        Icmp6Error::parse(Bytes::new(p, p.len()), h.upper.offset)
            .unwrap()
            .unwrap()
    }

    #[test]
    fn icmpv6_error_quoting_a_reply() {
        // A router tells the real server that its reply (behind a destination options header)
        // does not fit.
        let reply = ipv6(
            NEXTHDR_DEST,
            RS,
            CLIENT,
            &cat(&[&options(packet::PROTO_TCP, 1), &syn()[..8]]),
        );
        let e = icmp_error(&icmp6(ICMPV6_PKT_TOOBIG, VIP, RS, &reply));
        assert_eq!(e.header[0], ICMPV6_PKT_TOOBIG);
        assert_eq!(e.header[4..8], 1280u32.to_be_bytes());
        let q = e.quoted.unwrap();
        assert_eq!((q.offset, q.ip.saddr, q.ip.daddr), (48, RS, CLIENT));
        assert_eq!((q.upper.protocol, q.upper.offset), (packet::PROTO_TCP, 96));
        assert_eq!((q.ports.sport, q.ports.dport), ([0xc3, 0x50], [0, 80]));
    }

    #[test]
    fn icmpv6_errors_rvs_cannot_translate() {
        let reply = ipv6(packet::PROTO_TCP, RS, CLIENT, &syn()[..8]);
        // Its ports cut off, a later fragment, another protocol, not IPv6.
        let e = icmp_error(&icmp6(ICMPV6_PKT_TOOBIG, VIP, RS, &reply[..42]));
        assert_eq!(e.quoted, None);
        let later = ipv6(
            NEXTHDR_FRAGMENT,
            RS,
            CLIENT,
            &cat(&[&fragment(packet::PROTO_TCP, 8, false), &[0; 8]]),
        );
        assert_eq!(icmp_error(&icmp6(1, VIP, RS, &later)).quoted, None);
        let esp = ipv6(ESP, RS, CLIENT, &[0; 8]);
        assert_eq!(icmp_error(&icmp6(1, VIP, RS, &esp)).quoted, None);
        let mut v4 = reply.clone();
        v4[0] = 0x45;
        assert_eq!(icmp_error(&icmp6(3, VIP, RS, &v4)).quoted, None);
    }

    #[test]
    fn icmpv6_kinds() {
        let reply = ipv6(packet::PROTO_TCP, RS, CLIENT, &syn()[..8]);
        // Informational messages pass; an ICMPv6 header cut short is dropped.
        let echo = icmp6(ICMPV6_ECHO_REQUEST, CLIENT, VIP, &[]);
        assert_eq!(parse(&echo).unwrap().unwrap().l4, L4v6::Other);
        assert_eq!(
            Icmp6Error::parse(Bytes::new(&echo, echo.len()), 40),
            Ok(None)
        );
        assert_eq!(parse(&echo[..44]).unwrap().unwrap().l4, L4v6::IcmpDrop);
        // An error behind a Fragment header is dropped, a first fragment or a later one; an
        // informational message there passes.
        let error = icmp6(ICMPV6_PKT_TOOBIG, VIP, RS, &reply);
        let fragmented = |kind_at: &[u8], offset: u16| {
            ipv6(
                NEXTHDR_FRAGMENT,
                VIP,
                RS,
                &cat(&[&fragment(PROTO_ICMPV6, offset, offset == 0), kind_at]),
            )
        };
        assert_eq!(
            parse(&fragmented(&error[40..], 0)).unwrap().unwrap().l4,
            L4v6::IcmpDrop
        );
        assert_eq!(
            parse(&fragmented(&error[48..], 1232)).unwrap().unwrap().l4,
            L4v6::IcmpDrop
        );
        assert_eq!(
            parse(&fragmented(&echo[40..], 0)).unwrap().unwrap().l4,
            L4v6::Other
        );
    }
}
