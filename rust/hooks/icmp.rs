// SPDX-License-Identifier: GPL-2.0

//! ICMP errors about connections (`ip_vs_out_icmp`, `ip_vs_in_icmp`): translated like the
//! packets they quote, and errors from routers about tunnelled requests passed on to clients.

#![deny(unsafe_code)]

use super::{count_in, count_out, reply::finish_reply};
use crate::{
    abi::conn_flag,
    conn::Lookup,
    ffi::{
        netfilter::HookNum,
        pernet::Net,
        rcu::Guard,
        skb::{Meta, Packet, Verdict},
    },
    headers::{IcmpError, Quoted, QuotedEncap, QuotedTunnel},
    netns::NetState,
    packet::{self, Encap, InetAddr, Ipv4},
    xmit::{self, NetHeader, Payload},
};
use kernel::prelude::*;

/// The translation of an ICMP error: `addr` goes to the outer header at `outer_offset` and to
/// the quoted one at `inner_addr_offset`, `port` to the quoted transport header at
/// `inner_port_offset` (all offsets from the outer header).
struct IcmpRewrite {
    outer_offset: usize,
    inner_addr_offset: usize,
    inner_port_offset: usize,
    addr: [u8; 4],
    port: [u8; 2],
}

/// Applies `r` to the ICMP error in `pkt`, then recomputes the checksums of the quoted header, of
/// the ICMP message and of the outer header (`ip_vs_nat_icmp`).
fn rewrite_icmp(pkt: &mut Packet<'_>, ip: &Ipv4, q: &Quoted, r: &IcmpRewrite) -> Result {
    let mut w = pkt.writable(q.offset + q.ip.header_len + 4)?;
    let b = w.bytes();
    b[r.outer_offset..r.outer_offset + 4].copy_from_slice(&r.addr);
    b[r.inner_addr_offset..r.inner_addr_offset + 4].copy_from_slice(&r.addr);
    b[r.inner_port_offset..r.inner_port_offset + 2].copy_from_slice(&r.port);
    w.ipv4_send_check(q.offset)?;
    w.icmp_checksum(ip.header_len, 0)?;
    w.ipv4_send_check(0)
}

/// An ICMP error from the real server's side about a request (`ip_vs_out_icmp`): it goes back to
/// the client as if it came from the virtual service.
pub(super) fn reply_icmp(
    at: HookNum,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    ip: &Ipv4,
    error: &IcmpError,
    meta: &Meta,
) -> Verdict {
    let Some(q) = error.quoted else {
        return Verdict::Accept;
    };
    // The quoted packet is a request as the real server got it: client to real server.
    let key = Lookup::Reply {
        protocol: q.ip.protocol,
        saddr: InetAddr::V4(q.ip.daddr),
        sport: q.ports.dport,
        caddr: InetAddr::V4(q.ip.saddr),
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
    let t = conn.tuple;
    let InetAddr::V4(vaddr) = t.vaddr else {
        return Verdict::Drop;
    };
    let inner_l4 = q.offset + q.ip.header_len;
    let r = IcmpRewrite {
        outer_offset: packet::IPV4_SADDR,
        inner_addr_offset: q.offset + packet::IPV4_DADDR,
        inner_port_offset: inner_l4 + 2,
        addr: vaddr,
        port: t.vport,
    };
    if rewrite_icmp(&mut pkt, ip, &q, &r).is_err() {
        return Verdict::Drop;
    }
    finish_reply::<Ipv4>(at, net, state, pkt, meta, &conn, 0)
}

/// An ICMP error from the client's side (`ip_vs_in_icmp`): about a reply of a connection, it goes
/// on to the real server, for NAT as if the real server had sent the reply itself; about a
/// tunnelled request on its way to the real server, it goes back to the client.
pub(super) fn request_icmp(
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    ip: &Ipv4,
    error: &IcmpError,
    meta: &Meta,
) -> Verdict {
    if let Some(t) = error.tunnel.filter(|t| is_our_tunnel(state, &pkt, t)) {
        return tunnel_icmp(net, state, pkt, ip, &error.header, &t);
    }
    let Some(q) = error.quoted else {
        return Verdict::Accept;
    };
    // The quoted packet is a reply as the client got it: virtual service to client.
    let key = Lookup::Request {
        protocol: q.ip.protocol,
        caddr: InetAddr::V4(q.ip.daddr),
        cport: q.ports.dport,
        vaddr: InetAddr::V4(q.ip.saddr),
        vport: q.ports.sport,
    };
    let Some(conn) = state.conns.find(&key) else {
        return Verdict::Accept;
    };
    if conn.fwd != conn_flag::MASQ {
        // Direct routing and tunnelling: the real server sent the reply, and gets the error
        // unchanged, as it would a request (`ip_vs_icmp_xmit`): a client's "fragmentation
        // needed" reaches the server that must send smaller packets.
        count_in(state, &conn, meta.len);
        let guard = Guard::new();
        let seen = xmit::Seen {
            ip,
            meta,
            guard: &guard,
            early: false,
        };
        return Ipv4::transmit(net, state, pkt, &seen, &conn, Payload::IcmpError);
    }
    if conn.live_dest().is_none() {
        return Verdict::Drop;
    }
    if !pkt.icmp_checksum_ok(ip.header_len, 0) {
        return Verdict::Drop;
    }
    let t = conn.tuple;
    let InetAddr::V4(daddr) = t.daddr else {
        return Verdict::Drop;
    };
    let inner_l4 = q.offset + q.ip.header_len;
    let r = IcmpRewrite {
        outer_offset: packet::IPV4_DADDR,
        inner_addr_offset: q.offset + packet::IPV4_SADDR,
        inner_port_offset: inner_l4,
        addr: daddr,
        port: t.dport,
    };
    if rewrite_icmp(&mut pkt, ip, &q, &r).is_err() {
        return Verdict::Drop;
    }
    count_in(state, &conn, meta.len);
    if pkt.reroute(net, false).is_err() || pkt.route_is_local() {
        return Verdict::Drop;
    }
    pkt.set_ipvs_property();
    pkt.prepare_forward();
    pkt.local_out(net)
}

/// Whether an ICMP error quoting the tunnel packet `t` is about one of rvs's packets to a real
/// server, sent by a router on the way to the director, the tunnel's source (`ip_vs_in_icmp`
/// with `ip_vs_find_tunnel`, `ipvs_udp_decap`, `ipvs_gre_decap`): `t` goes to a tunnelling real
/// server with the tunnel type that real server has, and the error is addressed to this host.
fn is_our_tunnel(state: &NetState, pkt: &Packet<'_>, t: &QuotedTunnel) -> bool {
    if !pkt.route_is_local() {
        return false;
    }
    let guard = Guard::new();
    let find = |port| state.services.find_tunnel(t.outer.daddr, port, &guard);
    match t.encap {
        QuotedEncap::Ipip => find(0) == Some(Encap::Ipip),
        QuotedEncap::Gue { port } => matches!(find(port), Some(Encap::Gue { .. })),
        QuotedEncap::Gre => matches!(find(0), Some(Encap::Gre { .. })),
    }
}

/// Passes an error about a tunnelled request on to its client, from the virtual address: the
/// tunnel headers are removed and the request is quoted as the client sent it. "Fragmentation
/// needed" lowers the path MTU to the real server first and tells the client what is left of
/// it inside the tunnel (`ip_vs_in_icmp`, `tunnel`).
fn tunnel_icmp(
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    ip: &Ipv4,
    icmp: &[u8; packet::ICMP_HEADER_LEN],
    t: &QuotedTunnel,
) -> Verdict {
    let inner = &t.inner;
    let key = Lookup::Request {
        protocol: inner.ip.protocol,
        caddr: InetAddr::V4(inner.ip.saddr),
        cport: inner.ports.sport,
        vaddr: InetAddr::V4(inner.ip.daddr),
        vport: inner.ports.dport,
    };
    let Some(conn) = state.conns.find(&key) else {
        return Verdict::Accept;
    };
    if !pkt.icmp_checksum_ok(ip.header_len, 0) {
        return Verdict::Drop;
    }
    let (kind, code) = (icmp[0], icmp[1]);
    let mut info = u32::from_ne_bytes([icmp[4], icmp[5], icmp[6], icmp[7]]);
    let mut stripped = 0;
    if kind == packet::ICMP_DEST_UNREACH && code == packet::ICMP_FRAG_NEEDED {
        let mtu = u32::from(u16::from_be_bytes([icmp[6], icmp[7]]));
        stripped = ip.header_len + packet::ICMP_HEADER_LEN;
        if pkt.strip(stripped, t.outer.header_len).is_err() {
            return pkt.consume();
        }
        pkt.update_pmtu(net, mtu);
        // A client that does not discover path MTUs lets the tunnel packets be fragmented.
        if !t.outer.dont_fragment {
            return pkt.consume();
        }
        // The path MTU as the route now has it, less the tunnel's headers.
        let mtu = pkt
            .route_output(net, t.outer.daddr, false)
            .map_or(mtu, |route| route.mtu());
        let overhead = u32::try_from(t.outer.header_len + t.encap_len).unwrap_or(0);
        let mtu = if mtu > packet::IpVersion::V4.min_mtu() + overhead {
            mtu - overhead
        } else {
            mtu
        };
        info = mtu.to_be();
    }
    let Some(rest) = inner.offset.checked_sub(stripped) else {
        return pkt.consume();
    };
    if pkt.strip(rest, inner.ip.header_len).is_err() {
        return pkt.consume();
    }
    // The quoted header's length, read again from the linear copy now at the front.
    let Some((Some([first]), meta)) = pkt.parse(|b, _| b.get::<1>(0)) else {
        return pkt.consume();
    };
    if usize::from(first & 0x0f) * 4 != inner.ip.header_len {
        return pkt.consume();
    }
    pkt.icmp_send(kind, code, info);
    count_out(state, &conn, meta.len);
    pkt.consume()
}
