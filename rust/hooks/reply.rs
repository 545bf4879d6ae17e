// SPDX-License-Identifier: GPL-2.0

//! Replies from real servers (`ip_vs_out_hook`, `handle_response`): translated back to the
//! virtual service for NAT, counted, and their connection's state updated.

#![deny(unsafe_code)]

use super::count_out;
use crate::{
    conn::{Conn, Lookup},
    defense,
    ffi::{
        netfilter::HookNum,
        pernet::Net,
        rcu::Guard,
        skb::{Meta, Packet, Verdict},
    },
    headers::Transport,
    netns::NetState,
    packet::{self, Ipv4},
    proto,
    xmit::{self, Rewrite},
};
use core::sync::atomic::Ordering;

/// A reply from a real server to a client (`ip_vs_out_hook`, `handle_response`), in the hook's
/// read-side critical section `guard`.
#[allow(clippy::too_many_arguments)] // the hook's context, as `request` gets it, plus its point
pub(super) fn reply(
    at: HookNum,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    ip: &Ipv4,
    &Transport { ports, tcp_flags }: &Transport,
    meta: &Meta,
    guard: &Guard,
) -> Verdict {
    let key = Lookup::Reply {
        protocol: ip.protocol,
        daddr: ip.saddr,
        dport: ports.sport,
        caddr: ip.daddr,
        cport: ports.dport,
    };
    // Borrowed for the packet path's read-side critical section (see `request`).
    let Some(conn) = state.conns.find_in(&key, guard) else {
        return without_conn(state, &pkt, ip, ports.sport, tcp_flags);
    };
    let l4 = ip.header_len;
    let (Some(l4_len), Some(sum)) = (
        packet::l4_rewrite_len(ip.protocol),
        packet::l4_sum_offset(ip.protocol),
    ) else {
        return Verdict::Accept;
    };
    let r = Rewrite {
        protocol: ip.protocol,
        addr_offset: packet::IPV4_SADDR,
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
    finish_reply(at, net, state, pkt, meta, &conn, tcp_flags)
}

/// A packet without connection from a real server (`ip_vs_out_hook`'s end): with
/// `nat_icmp_send`, a NAT real server sending from a service's port is told that nobody listens
/// there any more (port unreachable) and its packet is dropped, unless it is a TCP reset.
fn without_conn(
    state: &NetState,
    pkt: &Packet<'_>,
    ip: &Ipv4,
    sport: [u8; 2],
    tcp_flags: u8,
) -> Verdict {
    if state.sysctl.nat_icmp_send.load(Ordering::Relaxed) == 0
        || !state
            .services
            .has_real_service(ip.protocol, ip.saddr, u16::from_be_bytes(sport))
        || (ip.protocol == packet::PROTO_TCP && proto::tcp_flags_from_byte(tcp_flags).rst)
    {
        return Verdict::Accept;
    }
    pkt.icmp_send(packet::ICMP_DEST_UNREACH, packet::ICMP_PORT_UNREACH, 0);
    Verdict::Drop
}

/// The end of a translated reply: reroute from the virtual address, count, update the state
/// (`handle_response`, `ip_vs_route_me_harder`).
pub(super) fn finish_reply(
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
    if reroute && pkt.reroute(net, true).is_err() {
        return Verdict::Drop;
    }
    count_out(state, conn, meta.len);
    let secure_tcp = defense::secure_tcp_on(state.sysctl.secure_tcp.load(Ordering::Relaxed));
    conn.on_packet(tcp_flags, true, secure_tcp, &state.timeout_table());
    pkt.set_ipvs_property();
    pkt.notrack();
    Verdict::Accept
}
