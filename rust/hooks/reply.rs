// SPDX-License-Identifier: GPL-2.0

//! Replies from real servers (`ip_vs_out_hook`, `handle_response`): translated back to the
//! virtual service for NAT, counted, and their connection's state updated.

#![deny(unsafe_code)]

use super::{count_out, request};
use crate::{
    abi::{conn_flag, svc_flag},
    conn::{Conn, Lookup, Tuple},
    defense,
    ffi::{
        netfilter::HookNum,
        pernet::Net,
        rcu::Guard,
        skb::{Meta, Packet, Verdict},
    },
    headers::Transport,
    netns::NetState,
    packet::{self, InetAddr, Ports},
    proto,
    service::ServiceKey,
    xmit::{self, NetHeader, Rewrite},
};
use core::sync::atomic::Ordering;
use kernel::sync::Arc;

/// A reply from a real server to a client (`ip_vs_out_hook`, `handle_response`), in the hook's
/// read-side critical section `guard`.
#[allow(clippy::too_many_arguments)] // the hook's context, as `request` gets it, plus its point
pub(super) fn reply<H: NetHeader>(
    at: HookNum,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    ip: &H,
    &Transport { ports, tcp_flags }: &Transport,
    meta: &Meta,
    guard: &Guard,
) -> Verdict {
    let key = Lookup::Reply {
        protocol: ip.protocol(),
        saddr: ip.saddr(),
        sport: ports.sport,
        caddr: ip.daddr(),
        cport: ports.dport,
    };
    // Borrowed for the packet path's read-side critical section (see `request`).
    let found = state.conns.find_in(&key, guard);
    let started;
    let (conn, one_packet): (&Conn, bool) = match &found {
        Some(c) => (c, false),
        None => match conn_out(at, state, &mut pkt, ip, ports, guard) {
            Some((c, one_packet)) => {
                started = c;
                (&started, one_packet)
            }
            None => return without_conn(net, state, &mut pkt, ip, ports.sport, tcp_flags),
        },
    };
    let verdict = if conn.fwd == conn_flag::MASQ {
        translate(at, net, state, pkt, ip, tcp_flags, meta, conn)
    } else {
        // The reply of a real server reached by another method that passes the director on
        // its way (the director as its router): counted, untouched (`handle_response`).
        after_nat(state, pkt, meta, conn, tcp_flags)
    };
    if one_packet {
        conn.release();
    }
    verdict
}

/// Translates a NAT reply of `conn` back to the virtual service and finishes it.
#[allow(clippy::too_many_arguments)]
fn translate<H: NetHeader>(
    at: HookNum,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    ip: &H,
    tcp_flags: u8,
    meta: &Meta,
    conn: &Conn,
) -> Verdict {
    let l4 = ip.l4_offset();
    let protocol = ip.protocol();
    let (Some(l4_len), Some(sum)) = (
        packet::l4_rewrite_len(protocol),
        packet::l4_sum_offset(protocol),
    ) else {
        return Verdict::Accept;
    };
    let r = Rewrite {
        protocol,
        addr_offset: H::SADDR_OFFSET,
        new_addr: conn.tuple.vaddr,
        port_offset: l4,
        new_port: conn.tuple.vport,
        sum_offset: l4 + sum,
    };
    let rewritten = pkt
        .writable(l4 + l4_len)
        .and_then(|mut w| xmit::rewrite(&mut w, meta, &r));
    if rewritten.is_err() {
        return Verdict::Drop;
    }
    finish_reply::<H>(at, net, state, pkt, meta, conn, tcp_flags)
}

/// A datagram that a NAT real server of a `--pe sip` service sends without connection, such as
/// a SIP request of its own to a client (`__ip_vs_rs_conn_out`, `ip_vs_sip_conn_out`,
/// `ip_vs_new_conn_out`): a connection from that client to the service is made for it, and for
/// a persistent service the template of its call is bound to that real server, so that the
/// datagram leaves from the virtual address and the client's answers reach the same real
/// server. The flag says the connection is for this datagram only (`-o`), and not in the table.
fn conn_out<H: NetHeader>(
    at: HookNum,
    state: &NetState,
    pkt: &mut Packet<'_>,
    ip: &H,
    ports: Ports,
    guard: &Guard,
) -> Option<(Arc<Conn>, bool)> {
    let protocol = ip.protocol();
    if at == HookNum::LocalIn || protocol != packet::PROTO_UDP {
        return None;
    }
    let (saddr, daddr) = (ip.saddr(), ip.daddr());
    let (svc, dest) =
        state
            .services
            .find_sip_real_server(&saddr, u16::from_be_bytes(ports.sport), guard)?;
    let ServiceKey::Tuple { addr, port, .. } = svc.key else {
        return None;
    };
    if port == 0 || ports.sport == [0, 0] {
        return None;
    }
    let (vaddr, vport) = (InetAddr::from_af(svc.key.af(), &addr)?, port.to_be_bytes());
    let fwd = dest.params.fwd & conn_flag::FWD_MASK;
    let one_packet = svc.params.flags & svc_flag::ONEPACKET != 0;
    let control = if svc.persistent() {
        // The client's network, as for its requests; no call, no connection.
        let snet = daddr.masked(svc.params.netmask);
        let call_id = request::sip_call_id(pkt, ip)?;
        let key = Lookup::Template {
            protocol,
            caddr: snet,
            vaddr,
            vport,
            call_id: Some(&call_id),
        };
        let found = state
            .conns
            .find(&key)
            .filter(|ct| request::check_template(state, ct, Some(&dest.shared)));
        let template = match found {
            Some(ct) => ct,
            None => {
                let template = Tuple {
                    protocol,
                    caddr: snet,
                    cport: [0, 0],
                    vaddr,
                    vport,
                    daddr: saddr,
                    dport: ports.sport,
                };
                let ct = Conn::new_template(
                    template,
                    fwd,
                    dest.shared.clone(),
                    svc.stats.clone(),
                    svc.params.timeout_ticks,
                    one_packet,
                    0,
                    Some(&call_id),
                )
                .ok()?;
                state.conns.insert(ct.clone());
                ct
            }
        };
        // Its time starts again, as when IPVS puts a template it found or made.
        template.touch_template();
        Some(template)
    } else {
        None
    };
    let tuple = Tuple {
        protocol,
        caddr: daddr,
        cport: ports.dport,
        vaddr,
        vport,
        daddr: saddr,
        dport: ports.sport,
    };
    let conn = Conn::new(
        tuple,
        fwd,
        Some(dest.shared.clone()),
        svc.stats.clone(),
        control,
        0,
    )
    .ok()?;
    dest.shared.stats.count_conn();
    conn.svc_stats.count_conn();
    state.stats.count_conn();
    if !one_packet {
        state.conns.insert(conn.clone());
    }
    Some((conn, one_packet))
}

/// A packet without connection from a real server (`ip_vs_out_hook`'s end): with
/// `nat_icmp_send`, a NAT real server sending from a service's port is told that nobody listens
/// there any more (port unreachable) and its packet is dropped, unless it is a TCP reset.
fn without_conn<H: NetHeader>(
    net: &Net,
    state: &NetState,
    pkt: &mut Packet<'_>,
    ip: &H,
    sport: [u8; 2],
    tcp_flags: u8,
) -> Verdict {
    let protocol = ip.protocol();
    if state.sysctl.nat_icmp_send.load(Ordering::Relaxed) == 0
        || !state
            .services
            .has_real_service(protocol, &ip.saddr(), u16::from_be_bytes(sport))
        || (protocol == packet::PROTO_TCP && proto::tcp_flags_from_byte(tcp_flags).rst)
    {
        return Verdict::Accept;
    }
    H::port_unreachable(pkt, net);
    Verdict::Drop
}

/// The end of a translated reply: reroute from the virtual address, count, update the state
/// (`handle_response`, `ip_vs_route_me_harder`).
pub(super) fn finish_reply<H: NetHeader>(
    at: HookNum,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    meta: &Meta,
    conn: &Conn,
    tcp_flags: u8,
) -> Verdict {
    let reroute = state.sysctl.snat_reroute.load(Ordering::Relaxed) != 0
        && at != HookNum::LocalIn
        && !pkt.route_is_loopback();
    if reroute && H::reroute_reply(&mut pkt, net).is_err() {
        return Verdict::Drop;
    }
    after_nat(state, pkt, meta, conn, tcp_flags)
}

/// The end of a reply, translated or not (`handle_response`, `after_nat`): count, update the
/// state, and let it go.
fn after_nat(
    state: &NetState,
    mut pkt: Packet<'_>,
    meta: &Meta,
    conn: &Conn,
    tcp_flags: u8,
) -> Verdict {
    count_out(state, conn, meta.len);
    let secure_tcp = defense::secure_tcp_on(state.sysctl.secure_tcp.load(Ordering::Relaxed));
    conn.on_packet(tcp_flags, true, secure_tcp, &state.timeout_table());
    pkt.set_ipvs_property();
    pkt.notrack();
    Verdict::Accept
}
