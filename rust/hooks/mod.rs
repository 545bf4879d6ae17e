// SPDX-License-Identifier: GPL-2.0

//! The packet path entered from the netfilter hooks (IPVS's `ip_vs_core.c`).
//!
//! Requests (client to virtual service) arrive on `LOCAL_IN` (and `LOCAL_OUT` for local
//! clients): they find or create a connection and are forwarded to its real server. NAT replies
//! (real server to client) are routed through the director and met on `FORWARD`, where their
//! source becomes the virtual service again. ICMP errors about a connection are translated the
//! same way. Everything else is accepted unchanged.

#![deny(unsafe_code)]

mod icmp;
mod reply;
mod request;

use icmp::{reply_icmp, request_icmp};
use reply::reply;
use request::request;

use crate::{
    ffi::{
        netfilter::{priority, HookNum, HookSet, HookSpec},
        pernet::Net,
        skb::{DefragUser, Packet, Verdict},
    },
    netns::NetState,
    packet,
};

/// Which of IPVS's hook functions a hook stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookPoint {
    /// Client to virtual service (`LOCAL_IN` and `LOCAL_OUT`, IPVS's `ip_vs_in_hook`).
    Request,
    /// Real server back to client (IPVS's `ip_vs_out_hook`).
    Reply,
    /// ICMP error in transit (`FORWARD`, IPVS's `ip_vs_forward_icmp`).
    ForwardIcmp,
}

/// rvs's hooks: IPVS's points and priorities (`ip_vs_ops4` in `ip_vs_core.c`).
impl HookSet for NetState {
    type Point = HookPoint;

    const HOOKS: &'static [HookSpec<HookPoint>] = &[
        HookSpec {
            hooknum: HookNum::LocalIn,
            priority: priority::NAT_SRC - 2,
            point: HookPoint::Reply,
        },
        HookSpec {
            hooknum: HookNum::LocalIn,
            priority: priority::NAT_SRC - 1,
            point: HookPoint::Request,
        },
        HookSpec {
            hooknum: HookNum::LocalOut,
            priority: priority::NAT_DST + 1,
            point: HookPoint::Reply,
        },
        HookSpec {
            hooknum: HookNum::LocalOut,
            priority: priority::NAT_DST + 2,
            point: HookPoint::Request,
        },
        HookSpec {
            hooknum: HookNum::Forward,
            priority: 99,
            point: HookPoint::ForwardIcmp,
        },
        HookSpec {
            hooknum: HookNum::Forward,
            priority: 100,
            point: HookPoint::Reply,
        },
    ];

    fn hook(&self, point: HookPoint, at: HookNum, net: &Net, packet: Packet<'_>) -> Verdict {
        on_packet(point, at, net, self, packet)
    }
}

/// Decides the fate of a packet seen at `point` on hook `at` in namespace `net`.
pub(crate) fn on_packet(
    point: HookPoint,
    at: HookNum,
    net: &Net,
    state: &NetState,
    pkt: Packet<'_>,
) -> Verdict {
    if pkt.ipvs_property() {
        return Verdict::Accept;
    }
    let Some(ip) = pkt
        .read::<{ packet::IPV4_MIN_LEN }>(0)
        .and_then(|b| packet::parse_ipv4(&b))
    else {
        return Verdict::Accept;
    };
    match point {
        HookPoint::Request => {
            // Only packets for this host, and only routed ones (`ip_vs_in_hook`).
            if at == HookNum::LocalIn && (!pkt.is_for_host() || !pkt.has_dst()) {
                return Verdict::Accept;
            }
            if ip.protocol == packet::PROTO_ICMP {
                request_icmp(net, state, pkt, &ip)
            } else {
                request(net, state, pkt, &ip)
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
                let Some(whole) = pkt.defragment(net, user) else {
                    return Verdict::Stolen;
                };
                return match whole
                    .read::<{ packet::IPV4_MIN_LEN }>(0)
                    .and_then(|b| packet::parse_ipv4(&b))
                {
                    Some(ip) if !ip.fragment => on_packet(point, at, net, state, whole),
                    _ => Verdict::Drop,
                };
            }
            if is_icmp {
                reply_icmp(at, net, state, pkt, &ip)
            } else {
                reply(at, net, state, pkt, &ip)
            }
        }
        // ICMP errors in transit about connections whose virtual address is not local (a
        // transparent cache cluster's fwmark service), `ip_vs_forward_icmp`.
        HookPoint::ForwardIcmp if ip.protocol == packet::PROTO_ICMP => {
            request_icmp(net, state, pkt, &ip)
        }
        HookPoint::ForwardIcmp => Verdict::Accept,
    }
}

/// The ports of a TCP or UDP header at `offset`, and the TCP flags byte (0 for UDP).
fn ports(pkt: &Packet<'_>, protocol: u8, offset: usize) -> Option<(packet::Ports, u8)> {
    packet::l4_rewrite_len(protocol)?;
    let p = pkt.read::<4>(offset)?;
    let flags = if protocol == packet::PROTO_TCP {
        pkt.read::<1>(offset + packet::TCP_FLAGS)?[0]
    } else {
        0
    };
    Some((
        packet::Ports {
            sport: [p[0], p[1]],
            dport: [p[2], p[3]],
        },
        flags,
    ))
}
