// SPDX-License-Identifier: GPL-2.0

//! The packet path entered from the netfilter hooks (IPVS's `ip_vs_core.c`).
//!
//! Requests (client to virtual service) arrive on `LOCAL_IN` (and `LOCAL_OUT` for local
//! clients): they find or create a connection and are forwarded to its real server. NAT replies
//! (real server to client) are routed through the director and met on `FORWARD`, where their
//! source becomes the virtual service again. ICMP errors about a connection are translated the
//! same way. Everything else is accepted unchanged.
//!
//! With the `fast_path` sysctl (rvs only), requests of established connections are sent on from
//! `PRE_ROUTING` already: the stack's input route lookup, local delivery and `LOCAL_IN` hooks are
//! skipped for them (`request::early_request`).

#![deny(unsafe_code)]

mod icmp;
mod icmp6;
mod reply;
mod request;

use icmp::{reply_icmp, request_icmp};
use icmp6::{icmp6_error, reply_icmp6, request_icmp6};
use reply::reply;
use request::{early_request, request};

use crate::{
    conn::Conn,
    ffi::{
        netfilter::{priority, Family, HookNum, HookSet, HookSpec},
        pernet::Net,
        rcu::Guard,
        skb::{DefragUser, Packet, Verdict},
    },
    headers::{Headers, IcmpError, L4},
    headers6::{Headers6, L4v6},
    netns::NetState,
    packet::{self, Ipv4},
};
use core::sync::atomic::Ordering;

/// Which of IPVS's hook functions a hook stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookPoint {
    /// Client to virtual service (`LOCAL_IN` and `LOCAL_OUT`, IPVS's `ip_vs_in_hook`).
    Request,
    /// Real server back to client (IPVS's `ip_vs_out_hook`).
    Reply,
    /// ICMP error in transit (`FORWARD`, IPVS's `ip_vs_forward_icmp`).
    ForwardIcmp,
    /// A request of an established connection before routing (`PRE_ROUTING`), with `fast_path`
    /// on (rvs only).
    EarlyRequest,
}

/// rvs's hooks: IPVS's points and priorities (`ip_vs_ops4` and `ip_vs_ops6` in `ip_vs_core.c`).
impl HookSet for NetState {
    type Point = HookPoint;

    const HOOKS: &'static [HookSpec<HookPoint>] = &[
        hook(
            Family::Ipv4,
            HookNum::LocalIn,
            priority::NAT_SRC - 2,
            HookPoint::Reply,
        ),
        hook(
            Family::Ipv4,
            HookNum::LocalIn,
            priority::NAT_SRC - 1,
            HookPoint::Request,
        ),
        hook(
            Family::Ipv4,
            HookNum::LocalOut,
            priority::NAT_DST + 1,
            HookPoint::Reply,
        ),
        hook(
            Family::Ipv4,
            HookNum::LocalOut,
            priority::NAT_DST + 2,
            HookPoint::Request,
        ),
        hook(Family::Ipv4, HookNum::Forward, 99, HookPoint::ForwardIcmp),
        hook(Family::Ipv4, HookNum::Forward, 100, HookPoint::Reply),
        // After destination NAT, as the packets `LOCAL_IN` would see; only with `fast_path`
        // on, so that it costs nothing when off.
        HookSpec {
            optional: true,
            ..hook(
                Family::Ipv4,
                HookNum::PreRouting,
                priority::NAT_DST + 1,
                HookPoint::EarlyRequest,
            )
        },
        hook(
            Family::Ipv6,
            HookNum::LocalIn,
            priority::NAT_SRC - 2,
            HookPoint::Reply,
        ),
        hook(
            Family::Ipv6,
            HookNum::LocalIn,
            priority::NAT_SRC - 1,
            HookPoint::Request,
        ),
        hook(
            Family::Ipv6,
            HookNum::LocalOut,
            priority::NAT_DST + 1,
            HookPoint::Reply,
        ),
        hook(
            Family::Ipv6,
            HookNum::LocalOut,
            priority::NAT_DST + 2,
            HookPoint::Request,
        ),
        hook(Family::Ipv6, HookNum::Forward, 99, HookPoint::ForwardIcmp),
        hook(Family::Ipv6, HookNum::Forward, 100, HookPoint::Reply),
    ];

    // IPVS enables it with its first IPv6 service (`ip_vs_add_service`).
    const IPV6_DEFRAG: bool = true;

    fn optional_hooks(&self) -> bool {
        self.sysctl.fast_path.load(Ordering::Relaxed) != 0
    }

    fn hook(
        &self,
        family: Family,
        point: HookPoint,
        at: HookNum,
        net: &Net,
        packet: Packet<'_>,
        guard: &Guard,
    ) -> Verdict {
        match family {
            Family::Ipv4 => on_packet(point, at, net, self, packet, guard),
            Family::Ipv6 => on_packet6(point, at, net, self, packet, guard),
        }
    }
}

/// A hook that is always registered.
const fn hook(
    family: Family,
    hooknum: HookNum,
    priority: i32,
    point: HookPoint,
) -> HookSpec<HookPoint> {
    HookSpec {
        family,
        hooknum,
        priority,
        point,
        optional: false,
    }
}

/// Decides the fate of an IPv6 packet seen at `point` on hook `at` in namespace `net`, as
/// [`on_packet`] an IPv4 one. Fragments are reassembled before (IPv6 conntrack's defrag).
fn on_packet6(
    point: HookPoint,
    at: HookNum,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    guard: &Guard,
) -> Verdict {
    if point != HookPoint::Reply && state.backup_only() {
        return Verdict::Accept;
    }
    if pkt.ipvs_property() {
        return Verdict::Accept;
    }
    let Some((Some(h), meta)) = pkt.parse(|b, _| Headers6::parse(b)) else {
        return Verdict::Accept;
    };
    // Only packets for this host, and only routed ones (`ip_vs_in_hook`).
    if point == HookPoint::Request && at == HookNum::LocalIn && (!meta.for_host || !meta.has_dst) {
        return Verdict::Accept;
    }
    match (point, h.l4) {
        (HookPoint::Request, L4v6::Transport(l4)) => {
            request(net, state, pkt, &h, &l4, &meta, guard)
        }
        (HookPoint::Reply, L4v6::Transport(l4)) => {
            reply(at, net, state, pkt, &h, &l4, &meta, guard)
        }
        (HookPoint::Request | HookPoint::ForwardIcmp, L4v6::IcmpError) => {
            match icmp6_error(&mut pkt, &h) {
                Some(e) => request_icmp6(at, net, state, pkt, &h, &e, &meta),
                None => Verdict::Accept,
            }
        }
        (HookPoint::Reply, L4v6::IcmpError) => match icmp6_error(&mut pkt, &h) {
            Some(e) => reply_icmp6(at, net, state, pkt, &h, &e, &meta),
            None => Verdict::Accept,
        },
        // A cut-short ICMPv6 header, or an error behind a Fragment header: IPVS drops them.
        (HookPoint::Request | HookPoint::Reply | HookPoint::ForwardIcmp, L4v6::IcmpDrop) => {
            Verdict::Drop
        }
        _ => Verdict::Accept,
    }
}

/// Decides the fate of a packet seen at `point` on hook `at` in namespace `net`.
pub(crate) fn on_packet(
    point: HookPoint,
    at: HookNum,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    guard: &Guard,
) -> Verdict {
    // The hook may still run for a moment after the switch is turned off.
    if point == HookPoint::EarlyRequest && state.sysctl.fast_path.load(Ordering::Relaxed) == 0 {
        return Verdict::Accept;
    }
    // A backup with `backup_only` only keeps what its master sends: nothing is balanced
    // (`sysctl_backup_only` in `ip_vs_in_hook` and `ip_vs_forward_icmp`).
    if point != HookPoint::Reply && state.backup_only() {
        return Verdict::Accept;
    }
    // Packets rvs already handled pass untouched, unparsed.
    if pkt.ipvs_property() {
        return Verdict::Accept;
    }
    let parsed = pkt.parse(|b, _| Headers::parse(b));
    let Some((Some(h), meta)) = parsed else {
        return Verdict::Accept;
    };
    let ip = &h.ip;
    match point {
        HookPoint::Request => {
            // Only packets for this host, and only routed ones (`ip_vs_in_hook`).
            if at == HookNum::LocalIn && (!meta.for_host || !meta.has_dst) {
                return Verdict::Accept;
            }
            match &h.l4 {
                L4::Transport(l4) => request(net, state, pkt, ip, l4, &meta, guard),
                L4::IcmpError => match icmp_error(&mut pkt, ip) {
                    Some(e) => request_icmp(net, state, pkt, ip, &e, &meta),
                    None => Verdict::Accept,
                },
                L4::Other => Verdict::Accept,
            }
        }
        HookPoint::Reply => {
            let is_icmp = ip.protocol == packet::PROTO_ICMP;
            if ip.fragment && (is_icmp || packet::l4_rewrite_len(ip.protocol).is_some()) {
                // What rvs translates is reassembled first (`ip_vs_out_hook`, `ip_vs_out_icmp`);
                // the stack did it already for what reaches `LOCAL_IN`.
                let user = match at {
                    HookNum::LocalIn => DefragUser::In,
                    HookNum::LocalOut => DefragUser::Out,
                    HookNum::Forward | HookNum::PreRouting | HookNum::PostRouting => {
                        DefragUser::Forward
                    }
                };
                let Some(mut whole) = pkt.defragment(net, user) else {
                    return Verdict::Stolen;
                };
                return match whole.parse(|b, _| Headers::parse(b)) {
                    Some((Some(h), _)) if !h.ip.fragment => {
                        on_packet(point, at, net, state, whole, guard)
                    }
                    _ => Verdict::Drop,
                };
            }
            match &h.l4 {
                L4::Transport(l4) => reply(at, net, state, pkt, ip, l4, &meta, guard),
                L4::IcmpError => match icmp_error(&mut pkt, ip) {
                    Some(e) => reply_icmp(at, net, state, pkt, ip, &e, &meta),
                    None => Verdict::Accept,
                },
                L4::Other => Verdict::Accept,
            }
        }
        // ICMP errors in transit about connections whose virtual address is not local (a
        // transparent cache cluster's fwmark service), `ip_vs_forward_icmp`.
        HookPoint::ForwardIcmp => match &h.l4 {
            L4::IcmpError => match icmp_error(&mut pkt, ip) {
                Some(e) => request_icmp(net, state, pkt, ip, &e, &meta),
                None => Verdict::Accept,
            },
            L4::Transport(_) | L4::Other => Verdict::Accept,
        },
        HookPoint::EarlyRequest => match &h.l4 {
            // Fragments and packets with IP options (which input processing may act on, or
            // refuse) take the usual path.
            L4::Transport(l4)
                if meta.for_host && !ip.fragment && ip.header_len == packet::IPV4_MIN_LEN =>
            {
                early_request(net, state, pkt, ip, l4, &meta, guard)
            }
            L4::Transport(_) | L4::IcmpError | L4::Other => Verdict::Accept,
        },
    }
}

/// The ICMP error in `pkt` (whose IPv4 header is `ip`) with what it quotes.
fn icmp_error(pkt: &mut Packet<'_>, ip: &Ipv4) -> Option<IcmpError> {
    match pkt.parse(|b, _| IcmpError::parse(b, ip.header_len)) {
        Some((error, _)) => error,
        None => None,
    }
}

/// Counts a request (client to real server) of `len` bytes for the connection's real server, its
/// service and the namespace (`ip_vs_in_stats`): only while the real server is there.
fn count_in(state: &NetState, conn: &Conn, len: u32) {
    if let Some(dest) = conn.live_dest() {
        dest.stats.count_in(len);
        conn.svc_stats.count_in(len);
        state.stats.count_in(len);
    }
}

/// Counts a reply (real server to client) of `len` bytes, as [`count_in`] (`ip_vs_out_stats`).
fn count_out(state: &NetState, conn: &Conn, len: u32) {
    if let Some(dest) = conn.live_dest() {
        dest.stats.count_out(len);
        conn.svc_stats.count_out(len);
        state.stats.count_out(len);
    }
}
