// SPDX-License-Identifier: GPL-2.0

//! The IPv6 transmitters (IPVS's `ip_vs_*_xmit_v6`): NAT, direct routing, bypass and local real
//! servers, as [`crate::xmit`] has them for IPv4; tunnels are [`crate::xmit_tunnel`]'s.
//!
//! Every one routes the packet first (`__ip_vs_get_out_rt_v6`). A route to this host delivers
//! the packet locally; any other costs it one hop (`decrement_ttl`) and must fit it: IPv6 is
//! never fragmented on the way, so a request too big for the route is refused with "packet too
//! big" whatever its flags (`ensure_mtu_is_adequate`).

#![deny(unsafe_code)]

use crate::{
    abi::conn_flag,
    conn::Conn,
    ffi::{
        netfilter::HookNum,
        pernet::Net,
        skb::{Packet, Route6, Verdict},
    },
    headers6::{self, Headers6, Quoted6},
    netns::NetState,
    packet::{self, Carried, InetAddr, IpVersion},
    xmit::{rewrite, NetHeader, Payload, Rewrite, Seen},
    xmit_tunnel,
};
use kernel::prelude::*;

impl NetHeader for Headers6 {
    const SADDR_OFFSET: usize = packet::IPV6_SADDR;

    fn protocol(&self) -> u8 {
        self.upper.protocol
    }

    fn saddr(&self) -> InetAddr {
        InetAddr::V6(self.ip.saddr)
    }

    fn daddr(&self) -> InetAddr {
        InetAddr::V6(self.ip.daddr)
    }

    fn l4_offset(&self) -> usize {
        self.upper.offset
    }

    fn transmit(
        net: &Net,
        state: &NetState,
        pkt: Packet<'_>,
        seen: &Seen<'_, Self>,
        conn: &Conn,
        payload: Payload,
    ) -> Verdict {
        match conn.fwd {
            conn_flag::MASQ => nat(net, pkt, seen, conn),
            // The real server has the virtual address too: the packet goes unchanged to it as
            // the next hop (`ip_vs_dr_xmit_v6`); one that is this host gets it locally.
            conn_flag::DROUTE => {
                let InetAddr::V6(rs) = conn.tuple.daddr else {
                    return Verdict::Drop;
                };
                send_unchanged(net, pkt, seen, (rs, true), Verdict::Accept, payload)
            }
            // `cache_bypass`: on to the packet's own destination, which must not be this host
            // (`ip_vs_bypass_xmit_v6`).
            conn_flag::BYPASS => {
                let to = (seen.ip.ip.daddr, false);
                send_unchanged(net, pkt, seen, to, Verdict::Drop, payload)
            }
            conn_flag::TUNNEL => xmit_tunnel::tunnel(net, state, pkt, seen, conn, payload),
            conn_flag::LOCALNODE => Verdict::Accept,
            _ => Verdict::Drop,
        }
    }

    fn port_unreachable(pkt: &mut Packet<'_>, net: &Net) {
        pkt.icmp6_send(
            net,
            None,
            headers6::ICMPV6_DEST_UNREACH,
            headers6::ICMPV6_PORT_UNREACH,
            0,
        );
    }

    fn reroute_reply(pkt: &mut Packet<'_>, net: &Net) -> Result {
        pkt.reroute6(net)
    }

    fn leave_for_tunnel(
        pkt: &mut Packet<'_>,
        net: &Net,
        seen: &Seen<'_, Self>,
        via: Option<&Route6>,
        inner_mtu: u32,
        _pmtu_disc: bool,
        payload: Payload,
    ) -> Result<(), Verdict> {
        leave(pkt, net, seen, via, inner_mtu, payload)
    }

    fn carried(&self) -> Carried {
        Carried {
            version: IpVersion::V6,
            dsfield: self.ip.traffic_class,
            ttl: self.ip.hop_limit.saturating_sub(1),
            dont_fragment: false,
        }
    }
}

/// Takes one hop off a packet leaving by route `via` (of an IPv6 tunnel when the packet is
/// tunnelled, else its own) and checks its size against `mtu`, in IPVS's order
/// (`decrement_ttl`, `ensure_mtu_is_adequate`): a packet out of hops is answered "time exceeded"
/// from the route's device, a request too big "packet too big" (an ICMPv6 error passed on is
/// dropped silently, as IPVS drops it).
fn leave(
    pkt: &mut Packet<'_>,
    net: &Net,
    seen: &Seen<'_, Headers6>,
    via: Option<&Route6>,
    mtu: u32,
    payload: Payload,
) -> Result<(), Verdict> {
    if seen.ip.ip.hop_limit <= 1 {
        pkt.icmp6_send(
            net,
            via,
            headers6::ICMPV6_TIME_EXCEED,
            headers6::ICMPV6_EXC_HOPLIMIT,
            0,
        );
        return Err(Verdict::Drop);
    }
    let mut w = pkt
        .writable(packet::IPV6_HEADER_LEN)
        .map_err(|_| Verdict::Drop)?;
    let bytes = w.bytes();
    bytes[packet::IPV6_HOP_LIMIT] = bytes[packet::IPV6_HOP_LIMIT].saturating_sub(1);
    if pkt.exceeds_mtu6(seen.meta, mtu) {
        // Only about a whole packet or a first fragment (`ipvsh->fragoffs`).
        if payload == Payload::Request && seen.ip.upper.fragoffs == 0 {
            pkt.icmp6_send(net, None, headers6::ICMPV6_PKT_TOOBIG, 0, mtu);
        }
        return Err(Verdict::Drop);
    }
    Ok(())
}

/// Routes the unchanged packet to `to.0` (as the next hop itself when `to.1`) and sends it on; a
/// route to this host answers `if_local`.
fn send_unchanged(
    net: &Net,
    mut pkt: Packet<'_>,
    seen: &Seen<'_, Headers6>,
    (next_hop, known_nh): ([u8; 16], bool),
    if_local: Verdict,
    payload: Payload,
) -> Verdict {
    let Ok(route) = Packet::route_output6(net, next_hop, known_nh) else {
        return Verdict::Drop;
    };
    if route.is_local() {
        return if_local;
    }
    if let Err(verdict) = leave(&mut pkt, net, seen, Some(&route), route.mtu(), payload) {
        return verdict;
    }
    send(net, pkt, route)
}

/// Sends a packet checked by [`leave`] on by `route` (`ip_vs_send_or_cont`).
fn send(net: &Net, mut pkt: Packet<'_>, route: Route6) -> Verdict {
    pkt.set_route6(route);
    pkt.set_ignore_df();
    pkt.set_ipvs_property();
    pkt.prepare_forward();
    pkt.forward_out6(net)
}

/// NAT: the request goes to the real server's address and port (`ip_vs_nat_xmit_v6`).
fn nat(net: &Net, mut pkt: Packet<'_>, seen: &Seen<'_, Headers6>, conn: &Conn) -> Verdict {
    let h = seen.ip;
    let (protocol, l4) = (h.upper.protocol, h.upper.offset);
    let (Some(l4_len), Some(sum)) = (
        packet::l4_rewrite_len(protocol),
        packet::l4_sum_offset(protocol),
    ) else {
        return Verdict::Drop;
    };
    let t = &conn.tuple;
    let InetAddr::V6(daddr) = t.daddr else {
        return Verdict::Drop;
    };
    let Ok(route) = Packet::route_output6(net, daddr, false) else {
        return Verdict::Drop;
    };
    let local = route.is_local();
    if !local {
        if let Err(verdict) = leave(
            &mut pkt,
            net,
            seen,
            Some(&route),
            route.mtu(),
            Payload::Request,
        ) {
            return verdict;
        }
    }
    let r = Rewrite {
        protocol,
        addr_offset: packet::IPV6_DADDR,
        new_addr: t.daddr,
        port_offset: l4 + 2,
        new_port: t.dport,
        sum_offset: l4 + sum,
    };
    let rewritten = pkt
        .writable(l4 + l4_len)
        .and_then(|mut w| rewrite(&mut w, seen.meta, &r));
    if rewritten.is_err() {
        return Verdict::Drop;
    }
    if local {
        // A real server on the director itself: on to the local stack with its new address
        // and port, on its input route (`ip_vs_nat_send_or_cont`, local).
        return Verdict::Accept;
    }
    send(net, pkt, route)
}

/// The translation of an ICMPv6 error about a NAT connection (`ip_vs_nat_icmp_v6`): `addr` goes
/// to the outer header's address at `outer_offset` and to the quoted header's at
/// `inner_addr_offset`, `port` to the quoted transport header's at `inner_port_offset`; the
/// ICMPv6 checksum is then computed again over the outer addresses `pseudo` (as rewritten).
pub(crate) struct Icmp6Rewrite {
    pub(crate) outer_offset: usize,
    pub(crate) inner_addr_offset: usize,
    pub(crate) inner_port_offset: usize,
    pub(crate) addr: [u8; 16],
    pub(crate) port: [u8; 2],
    /// Source and destination of the outer header after the rewrite.
    pub(crate) pseudo: ([u8; 16], [u8; 16]),
}

/// Applies `r` to the ICMPv6 error in `pkt` (its message at `icmp_offset`, quoting `q`).
pub(crate) fn rewrite_icmp(
    pkt: &mut Packet<'_>,
    icmp_offset: usize,
    q: &Quoted6,
    r: &Icmp6Rewrite,
) -> Result {
    let len = pkt.len_from(icmp_offset).ok_or(EINVAL)?;
    let mut w = pkt.writable(q.upper.offset + 4)?;
    let b = w.bytes();
    packet::swap(b, r.outer_offset, r.addr).ok_or(EINVAL)?;
    packet::swap(b, r.inner_addr_offset, r.addr).ok_or(EINVAL)?;
    packet::swap(b, r.inner_port_offset, r.port).ok_or(EINVAL)?;
    let (saddr, daddr) = &r.pseudo;
    let pseudo = packet::ipv6_pseudo_sum(saddr, daddr, len, headers6::PROTO_ICMPV6);
    w.icmp_checksum(icmp_offset, pseudo)
}

/// The partial sum of the pseudo-header of the ICMPv6 message of `pkt` (headers `h`), to check
/// its checksum (`ip_vs_checksum_complete`).
pub(crate) fn icmp_pseudo_sum(pkt: &Packet<'_>, h: &Headers6) -> Option<u32> {
    let len = pkt.len_from(h.upper.offset)?;
    Some(packet::ipv6_pseudo_sum(
        &h.ip.saddr,
        &h.ip.daddr,
        len,
        headers6::PROTO_ICMPV6,
    ))
}

/// Sends an ICMPv6 error about a reply of NAT connection `conn` (met at `at`), which quotes `q`,
/// on to the real server as if the real server had sent the reply itself
/// (`ip_vs_icmp_xmit_v6`): the real server's address goes to the outer destination and the quoted
/// source, its port to the quoted source port. Never refused for its size; dropped if it does not
/// fit. From `FORWARD`, a real server on this host is not reached.
pub(crate) fn nat_icmp(
    net: &Net,
    mut pkt: Packet<'_>,
    seen: &Seen<'_, Headers6>,
    conn: &Conn,
    at: HookNum,
    q: &Quoted6,
) -> Verdict {
    let t = &conn.tuple;
    let InetAddr::V6(daddr) = t.daddr else {
        return Verdict::Drop;
    };
    let Ok(route) = Packet::route_output6(net, daddr, false) else {
        return Verdict::Drop;
    };
    let local = route.is_local();
    if local && at == HookNum::Forward {
        return Verdict::Drop;
    }
    if !local {
        if let Err(verdict) = leave(
            &mut pkt,
            net,
            seen,
            Some(&route),
            route.mtu(),
            Payload::IcmpError,
        ) {
            return verdict;
        }
    }
    let r = Icmp6Rewrite {
        outer_offset: packet::IPV6_DADDR,
        inner_addr_offset: q.offset + packet::IPV6_SADDR,
        inner_port_offset: q.upper.offset,
        addr: daddr,
        port: t.dport,
        pseudo: (seen.ip.ip.saddr, daddr),
    };
    if rewrite_icmp(&mut pkt, seen.ip.upper.offset, q, &r).is_err() {
        return Verdict::Drop;
    }
    if local {
        return Verdict::Accept;
    }
    send(net, pkt, route)
}
