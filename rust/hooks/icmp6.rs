// SPDX-License-Identifier: GPL-2.0

//! ICMPv6 errors about connections (`ip_vs_out_icmp_v6`, `ip_vs_in_icmp_v6`): translated like the
//! packets they quote, as [`super::icmp`] translates ICMP errors.

#![deny(unsafe_code)]

use super::{count_in, reply::finish_reply};
use crate::{
    abi::conn_flag,
    conn::Lookup,
    ffi::{
        netfilter::HookNum,
        pernet::Net,
        rcu::Guard,
        skb::{Meta, Packet, Verdict},
    },
    headers6::{Headers6, Icmp6Error},
    netns::NetState,
    packet::{self, InetAddr},
    xmit::{NetHeader, Payload, Seen},
    xmit6::{self, Icmp6Rewrite},
};

/// The ICMPv6 error of `pkt`, whose headers are `h`.
pub(super) fn icmp6_error(pkt: &mut Packet<'_>, h: &Headers6) -> Option<Icmp6Error> {
    match pkt.parse(|b, _| Icmp6Error::parse(b, h.upper.offset)) {
        Some((error, _)) => error,
        None => None,
    }
}

/// Whether the checksum of the ICMPv6 message of `pkt` is right.
fn checksum_ok(pkt: &Packet<'_>, h: &Headers6) -> bool {
    xmit6::icmp_pseudo_sum(pkt, h)
        .is_some_and(|pseudo| pkt.icmp_checksum_ok(h.upper.offset, pseudo))
}

/// An ICMPv6 error from the real server's side about a request of a NAT connection
/// (`ip_vs_out_icmp_v6`, `handle_response_icmp`): it goes back to the client as if it came from
/// the virtual service.
pub(super) fn reply_icmp6(
    at: HookNum,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    h: &Headers6,
    error: &Icmp6Error,
    meta: &Meta,
) -> Verdict {
    let Some(q) = error.quoted else {
        return Verdict::Accept;
    };
    // The quoted packet is a request as the real server got it: client to real server.
    let key = Lookup::Reply {
        protocol: q.upper.protocol,
        saddr: InetAddr::V6(q.ip.daddr),
        sport: q.ports.dport,
        caddr: InetAddr::V6(q.ip.saddr),
        cport: q.ports.sport,
    };
    let Some(conn) = state.conns.find(&key) else {
        return Verdict::Accept;
    };
    // Only NAT translates; the errors about other methods' packets pass as they are, uncounted
    // (`handle_response_icmp`).
    if conn.fwd != conn_flag::MASQ {
        return Verdict::Accept;
    }
    if !checksum_ok(&pkt, h) {
        return Verdict::Drop;
    }
    let InetAddr::V6(vaddr) = conn.tuple.vaddr else {
        return Verdict::Drop;
    };
    let r = Icmp6Rewrite {
        outer_offset: packet::IPV6_SADDR,
        inner_addr_offset: q.offset + packet::IPV6_DADDR,
        inner_port_offset: q.upper.offset + 2,
        addr: vaddr,
        port: conn.tuple.vport,
        pseudo: (vaddr, h.ip.daddr),
    };
    if xmit6::rewrite_icmp(&mut pkt, h.upper.offset, &q, &r).is_err() {
        return Verdict::Drop;
    }
    finish_reply::<Headers6>(at, net, state, pkt, meta, &conn, 0)
}

/// An ICMPv6 error from the client's side about a reply (`ip_vs_in_icmp_v6`), met at `at`: it
/// goes on to the real server, for NAT as if the real server had sent the reply itself.
pub(super) fn request_icmp6(
    at: HookNum,
    net: &Net,
    state: &NetState,
    pkt: Packet<'_>,
    h: &Headers6,
    error: &Icmp6Error,
    meta: &Meta,
) -> Verdict {
    let Some(q) = error.quoted else {
        return Verdict::Accept;
    };
    // The quoted packet is a reply as the client got it: virtual service to client.
    let key = Lookup::Request {
        protocol: q.upper.protocol,
        caddr: InetAddr::V6(q.ip.daddr),
        cport: q.ports.dport,
        vaddr: InetAddr::V6(q.ip.saddr),
        vport: q.ports.sport,
    };
    let Some(conn) = state.conns.find(&key) else {
        return Verdict::Accept;
    };
    let guard = Guard::new();
    let seen = Seen {
        ip: h,
        meta,
        guard: &guard,
        early: false,
    };
    if conn.fwd != conn_flag::MASQ {
        // Direct routing, tunnelling, local: from a local client the error goes its way; else
        // the real server gets it unchanged, as it would a request.
        if at == HookNum::LocalOut {
            return Verdict::Accept;
        }
        count_in(state, &conn, meta.len);
        return Headers6::transmit(net, state, pkt, &seen, &conn, Payload::IcmpError);
    }
    if conn.live_dest().is_none() || !checksum_ok(&pkt, h) {
        return Verdict::Drop;
    }
    count_in(state, &conn, meta.len);
    xmit6::nat_icmp(net, pkt, &seen, &conn, at, &q)
}
