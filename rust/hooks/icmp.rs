// SPDX-License-Identifier: GPL-2.0

//! ICMP errors about connections (`ip_vs_out_icmp`, `ip_vs_in_icmp`): translated like the
//! packets they quote, and errors from routers about tunnelled requests passed on to clients.

#![deny(unsafe_code)]

use super::reply::finish_reply;
use crate::{
    abi::conn_flag,
    conn::Lookup,
    ffi::{
        netfilter::HookNum,
        pernet::Net,
        rcu::Guard,
        skb::{Packet, Verdict},
    },
    netns::NetState,
    packet::{self, Encap, Ipv4},
    xmit::{self, Payload},
};
use kernel::prelude::*;

/// The packet quoted by an ICMP error: its IPv4 header and ports.
struct Quoted {
    /// Offset of the quoted IPv4 header from the outer one.
    offset: usize,
    ip: Ipv4,
    ports: packet::Ports,
}

/// Reads the ICMP error in `pkt`; `None` if it is not an error quoting a TCP or UDP packet.
fn quoted(pkt: &Packet<'_>, ip: &Ipv4) -> Option<Quoted> {
    if ip.fragment {
        return None;
    }
    let icmp = pkt.read::<2>(ip.header_len)?;
    if !packet::icmp_is_error(icmp[0]) {
        return None;
    }
    let offset = ip.header_len + packet::ICMP_HEADER_LEN;
    let (inner, ports) = quoted_at(pkt, offset)?;
    Some(Quoted {
        offset,
        ip: inner,
        ports,
    })
}

/// The IPv4 header and the ports of the packet an ICMP error quotes at `offset`; `None` unless
/// it is the first fragment of a TCP or UDP packet. (Routers quote 8 bytes of the transport
/// header: the ports.)
fn quoted_at(pkt: &Packet<'_>, offset: usize) -> Option<(Ipv4, packet::Ports)> {
    let ip = packet::parse_ipv4(&pkt.read::<{ packet::IPV4_MIN_LEN }>(offset)?)?;
    if ip.later_fragment {
        return None;
    }
    packet::l4_rewrite_len(ip.protocol)?;
    let p = pkt.read::<4>(offset + ip.header_len)?;
    let ports = packet::Ports {
        sport: [p[0], p[1]],
        dport: [p[2], p[3]],
    };
    Some((ip, ports))
}

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
    w.icmp_checksum(ip.header_len)?;
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
) -> Verdict {
    let Some(q) = quoted(&pkt, ip) else {
        return Verdict::Accept;
    };
    // The quoted packet is a request as the real server got it: client to real server.
    let key = Lookup::Reply {
        protocol: q.ip.protocol,
        daddr: q.ip.daddr,
        dport: q.ports.dport,
        caddr: q.ip.saddr,
        cport: q.ports.sport,
    };
    let Some(conn) = state.conns.find(&key) else {
        return Verdict::Accept;
    };
    let t = conn.tuple;
    let inner_l4 = q.offset + q.ip.header_len;
    let r = IcmpRewrite {
        outer_offset: packet::IPV4_SADDR,
        inner_addr_offset: q.offset + packet::IPV4_DADDR,
        inner_port_offset: inner_l4 + 2,
        addr: t.vaddr,
        port: t.vport,
    };
    if rewrite_icmp(&mut pkt, ip, &q, &r).is_err() {
        return Verdict::Drop;
    }
    finish_reply(at, net, state, pkt, &conn, 0)
}

/// An ICMP error from the client's side (`ip_vs_in_icmp`): about a reply of a connection, it goes
/// on to the real server, for NAT as if the real server had sent the reply itself; about a
/// tunnelled request on its way to the real server, it goes back to the client.
pub(super) fn request_icmp(net: &Net, state: &NetState, mut pkt: Packet<'_>, ip: &Ipv4) -> Verdict {
    if let Some(t) = quoted_tunnel(state, &pkt, ip) {
        return tunnel_icmp(net, state, pkt, ip, &t);
    }
    let Some(q) = quoted(&pkt, ip) else {
        return Verdict::Accept;
    };
    // The quoted packet is a reply as the client got it: virtual service to client.
    let key = Lookup::Request {
        protocol: q.ip.protocol,
        caddr: q.ip.daddr,
        cport: q.ports.dport,
        vaddr: q.ip.saddr,
        vport: q.ports.sport,
    };
    let Some(conn) = state.conns.find(&key) else {
        return Verdict::Accept;
    };
    if conn.fwd != conn_flag::MASQ {
        // Direct routing and tunnelling: the real server sent the reply, and gets the error
        // unchanged, as it would a request (`ip_vs_icmp_xmit`): a client's "fragmentation
        // needed" reaches the server that must send smaller packets.
        if let Some(dest) = conn.live_dest() {
            let len = pkt.len();
            dest.stats.count_in(len);
            conn.svc_stats.count_in(len);
            state.stats.count_in(len);
        }
        return xmit::transmit(net, state, pkt, ip, &conn, Payload::IcmpError);
    }
    let Some(dest) = conn.live_dest() else {
        return Verdict::Drop;
    };
    if !pkt.icmp_checksum_ok(ip.header_len) {
        return Verdict::Drop;
    }
    let t = conn.tuple;
    let inner_l4 = q.offset + q.ip.header_len;
    let r = IcmpRewrite {
        outer_offset: packet::IPV4_DADDR,
        inner_addr_offset: q.offset + packet::IPV4_SADDR,
        inner_port_offset: inner_l4,
        addr: t.daddr,
        port: t.dport,
    };
    if rewrite_icmp(&mut pkt, ip, &q, &r).is_err() {
        return Verdict::Drop;
    }
    let len = pkt.len();
    dest.stats.count_in(len);
    conn.svc_stats.count_in(len);
    state.stats.count_in(len);
    if pkt.reroute(net, false).is_err() || pkt.route_is_local() {
        return Verdict::Drop;
    }
    pkt.set_ipvs_property();
    pkt.prepare_forward();
    pkt.local_out(net)
}

/// An ICMP error about a packet that rvs tunnelled to a real server, sent by a router on the
/// way (to the director, the tunnel's source).
struct TunnelError {
    /// The ICMP header.
    icmp: [u8; packet::ICMP_HEADER_LEN],
    /// The quoted tunnel header: director to real server.
    outer: Ipv4,
    /// The length of the UDP and GUE or GRE headers after it.
    encap_len: usize,
    /// The quoted request inside (client to virtual service), at `inner_offset` from the
    /// packet's start.
    inner: Ipv4,
    inner_offset: usize,
    ports: packet::Ports,
}

/// Recognises an ICMP error about one of rvs's IPIP, GUE or GRE packets to a real server
/// (`ip_vs_in_icmp` with `ip_vs_find_tunnel`, `ipvs_udp_decap`, `ipvs_gre_decap`): it quotes a
/// tunnel header to a tunnelling real server, with the tunnel type that real server has, and
/// it is addressed to this host.
fn quoted_tunnel(state: &NetState, pkt: &Packet<'_>, ip: &Ipv4) -> Option<TunnelError> {
    if ip.fragment {
        return None;
    }
    let icmp = pkt.read::<{ packet::ICMP_HEADER_LEN }>(ip.header_len)?;
    if !packet::icmp_is_error(icmp[0]) {
        return None;
    }
    let offset = ip.header_len + packet::ICMP_HEADER_LEN;
    let outer = packet::parse_ipv4(&pkt.read::<{ packet::IPV4_MIN_LEN }>(offset)?)?;
    let tunnelled = matches!(
        outer.protocol,
        packet::PROTO_IPIP | packet::PROTO_UDP | packet::PROTO_GRE
    );
    if !tunnelled || outer.later_fragment || !pkt.route_is_local() {
        return None;
    }
    let after = offset + outer.header_len;
    let guard = Guard::new();
    let table = state.services.get(&guard);
    let encap_len = match outer.protocol {
        packet::PROTO_IPIP => {
            table
                .find_tunnel(outer.daddr, 0)
                .filter(|e| *e == Encap::Ipip)?;
            0
        }
        packet::PROTO_UDP => {
            let headers = pkt.read::<12>(after)?;
            let port = u16::from_be_bytes([headers[2], headers[3]]);
            let encap = table.find_tunnel(outer.daddr, port)?;
            if !matches!(encap, Encap::Gue { .. }) {
                return None;
            }
            packet::gue_quoted_len(&headers)?
        }
        _ => {
            let encap = table.find_tunnel(outer.daddr, 0)?;
            if !matches!(encap, Encap::Gre { .. }) {
                return None;
            }
            packet::gre_quoted_len(&pkt.read::<4>(after)?)?
        }
    };
    drop(guard);
    let inner_offset = after + encap_len;
    let (inner, ports) = quoted_at(pkt, inner_offset)?;
    Some(TunnelError {
        icmp,
        outer,
        encap_len,
        inner,
        inner_offset,
        ports,
    })
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
    t: &TunnelError,
) -> Verdict {
    let key = Lookup::Request {
        protocol: t.inner.protocol,
        caddr: t.inner.saddr,
        cport: t.ports.sport,
        vaddr: t.inner.daddr,
        vport: t.ports.dport,
    };
    let Some(conn) = state.conns.find(&key) else {
        return Verdict::Accept;
    };
    if !pkt.icmp_checksum_ok(ip.header_len) {
        return Verdict::Drop;
    }
    let (kind, code) = (t.icmp[0], t.icmp[1]);
    let mut info = u32::from_ne_bytes([t.icmp[4], t.icmp[5], t.icmp[6], t.icmp[7]]);
    let mut stripped = 0;
    if kind == packet::ICMP_DEST_UNREACH && code == packet::ICMP_FRAG_NEEDED {
        let mtu = u32::from(u16::from_be_bytes([t.icmp[6], t.icmp[7]]));
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
        let mtu = if mtu > packet::MIN_MTU + overhead {
            mtu - overhead
        } else {
            mtu
        };
        info = mtu.to_be();
    }
    let Some(rest) = t.inner_offset.checked_sub(stripped) else {
        return pkt.consume();
    };
    if pkt.strip(rest, t.inner.header_len).is_err() {
        return pkt.consume();
    }
    // The quoted header's length, read again from the linear copy now at the front.
    let header_len = pkt.read::<1>(0).map(|b| usize::from(b[0] & 0x0f) * 4);
    if header_len != Some(t.inner.header_len) {
        return pkt.consume();
    }
    pkt.icmp_send(kind, code, info);
    if let Some(dest) = conn.live_dest() {
        let len = pkt.len();
        dest.stats.count_out(len);
        conn.svc_stats.count_out(len);
        state.stats.count_out(len);
    }
    pkt.consume()
}
