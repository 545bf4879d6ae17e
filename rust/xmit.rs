// SPDX-License-Identifier: GPL-2.0

//! The IPv4 transmitters (IPVS's `ip_vs_xmit.c`): how a packet of a connection reaches its real
//! server, by NAT or direct routing, or its own destination (bypass); tunnels, of either family,
//! are [`crate::xmit_tunnel`]'s.
//!
//! Every one routes the packet first. A route to this host delivers the packet locally (a real
//! server that is the director itself); any other route costs the packet one TTL
//! (`decrement_ttl`) and must fit it, or the sender is told the path MTU.

#![deny(unsafe_code)]

use crate::{
    abi::conn_flag,
    conn::Conn,
    ffi::{
        pernet::Net,
        rcu::Guard,
        skb::{Meta, Packet, Route, Route6, Verdict, Writable},
    },
    netns::NetState,
    packet::{self, Carried, InetAddr, IpVersion, Ipv4},
    xmit_tunnel,
};
use kernel::prelude::*;

/// What a transmitter is sending.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Payload {
    /// A request of the connection.
    Request,
    /// An ICMP error about a reply of the connection, passed on to the real server as it is
    /// (`ip_vs_icmp_xmit`); never refused for its size.
    IcmpError,
}

/// A packet's network header as the packet path parsed it, IPv4 ([`Ipv4`]) or IPv6
/// ([`Headers6`]): what the connection logic reads of it, and what each family does its own way.
pub(crate) trait NetHeader: Sized {
    /// Where the source address is in the header.
    const SADDR_OFFSET: usize;

    /// The upper-layer protocol (TCP, UDP).
    fn protocol(&self) -> u8;
    fn saddr(&self) -> InetAddr;
    fn daddr(&self) -> InetAddr;
    /// Where the upper-layer header starts, past options or extension headers.
    fn l4_offset(&self) -> usize;

    /// Sends a packet on to the connection's real server (`cp->packet_xmit`).
    fn transmit(
        net: &Net,
        state: &NetState,
        pkt: Packet<'_>,
        seen: &Seen<'_, Self>,
        conn: &Conn,
        payload: Payload,
    ) -> Verdict;

    /// Tells the packet's sender that nobody listens at its destination port (`icmp_send` or
    /// `icmpv6_send` of "port unreachable").
    fn port_unreachable(pkt: &mut Packet<'_>, net: &Net);

    /// Routes a reply again after its source became the virtual address, as if this host sent
    /// it (`ip_vs_route_me_harder`).
    fn reroute_reply(pkt: &mut Packet<'_>, net: &Net) -> Result;

    /// Takes one hop off a packet about to be tunnelled and checks its size against
    /// `inner_mtu`, what the tunnel leaves of its route's MTU, as the packet's family has it
    /// (`decrement_ttl`, `ensure_mtu_is_adequate` with `IP_VS_RT_MODE_TUNNEL`; `pmtu_disc`
    /// decides for IPv4). `via` is the route of an IPv6 tunnel, whose device an ICMPv6 error
    /// leaves from.
    fn leave_for_tunnel(
        pkt: &mut Packet<'_>,
        net: &Net,
        seen: &Seen<'_, Self>,
        via: Option<&Route6>,
        inner_mtu: u32,
        pmtu_disc: bool,
        payload: Payload,
    ) -> Result<(), Verdict>;

    /// What a tunnel header copies of this header once [`Self::leave_for_tunnel`] took its hop.
    fn carried(&self) -> Carried;
}

impl NetHeader for Ipv4 {
    const SADDR_OFFSET: usize = packet::IPV4_SADDR;

    fn protocol(&self) -> u8 {
        self.protocol
    }

    fn saddr(&self) -> InetAddr {
        InetAddr::V4(self.saddr)
    }

    fn daddr(&self) -> InetAddr {
        InetAddr::V4(self.daddr)
    }

    fn l4_offset(&self) -> usize {
        self.header_len
    }

    fn transmit(
        net: &Net,
        state: &NetState,
        pkt: Packet<'_>,
        seen: &Seen<'_, Self>,
        conn: &Conn,
        payload: Payload,
    ) -> Verdict {
        transmit(net, state, pkt, seen, conn, payload)
    }

    fn port_unreachable(pkt: &mut Packet<'_>, _net: &Net) {
        pkt.icmp_send(packet::ICMP_DEST_UNREACH, packet::ICMP_PORT_UNREACH, 0);
    }

    fn reroute_reply(pkt: &mut Packet<'_>, net: &Net) -> Result {
        pkt.reroute(net, true)
    }

    fn leave_for_tunnel(
        pkt: &mut Packet<'_>,
        _net: &Net,
        seen: &Seen<'_, Self>,
        _via: Option<&Route6>,
        inner_mtu: u32,
        pmtu_disc: bool,
        payload: Payload,
    ) -> Result<(), Verdict> {
        // Without `pmtu_disc` a packet too big for the tunnel is sent anyway: the tunnel packet
        // may be fragmented.
        let mtu = || pmtu_disc.then_some(inner_mtu);
        may_leave(pkt, seen, mtu, payload)?;
        let mut w = pkt
            .writable(packet::IPV4_MIN_LEN)
            .map_err(|_| Verdict::Drop)?;
        leave(&mut w, seen, mtu, payload)
    }

    fn carried(&self) -> Carried {
        Carried {
            version: IpVersion::V4,
            dsfield: self.tos,
            ttl: self.ttl.saturating_sub(1),
            dont_fragment: self.dont_fragment,
        }
    }
}

/// Sends an IPv4 packet on to the connection's real server (`cp->packet_xmit`).
fn transmit(
    net: &Net,
    state: &NetState,
    pkt: Packet<'_>,
    seen: &Seen<'_, Ipv4>,
    conn: &Conn,
    payload: Payload,
) -> Verdict {
    match conn.fwd {
        conn_flag::MASQ => nat(net, pkt, seen, conn),
        // The real server has the virtual address too: the packet goes unchanged to its link
        // address (`ip_vs_dr_xmit`), and its replies go straight to the client. One that is this
        // host gets the packet locally (`ip_vs_send_or_cont`).
        conn_flag::DROUTE => {
            let InetAddr::V4(rs) = conn.tuple.daddr else {
                return Verdict::Drop;
            };
            send_unchanged(net, pkt, seen, conn, (rs, true), Verdict::Accept, payload)
        }
        // `cache_bypass`: the packet goes unchanged to its own destination, which must not be
        // this host (`ip_vs_bypass_xmit`, `IP_VS_RT_MODE_NON_LOCAL`).
        conn_flag::BYPASS => {
            let to = (seen.ip.daddr, false);
            send_unchanged(net, pkt, seen, conn, to, Verdict::Drop, payload)
        }
        conn_flag::TUNNEL => xmit_tunnel::tunnel(net, state, pkt, seen, conn, payload),
        // A local node (IP_VS_CONN_F_LOCALNODE) gets the packet as it is.
        conn_flag::LOCALNODE => Verdict::Accept,
        _ => Verdict::Drop,
    }
}

/// The packet being sent: its headers as the hook parsed them, and the hook's read-side critical
/// section, for which the route cached with a real server is borrowed.
pub(crate) struct Seen<'h, H> {
    pub(crate) ip: &'h H,
    pub(crate) meta: &'h Meta,
    pub(crate) guard: &'h Guard,
    /// The packet is met before routing (the fast path), without the input route that an ICMP
    /// error about it needs (`icmp_send` sends none without) and that local delivery follows:
    /// where a transmitter would send an ICMP error or deliver locally, it answers
    /// [`Verdict::Accept`] and leaves the packet untouched, for `LOCAL_IN`. Every other outcome
    /// is final.
    pub(crate) early: bool,
}

/// The route to `daddr` (as next hop when `known_nh`) for a packet of `conn`: the one cached with
/// its real server (`__ip_vs_get_out_rt` with `dest`), or a lookup for a connection without one.
pub(crate) fn route<'g, H>(
    net: &Net,
    pkt: &Packet<'_>,
    seen: &Seen<'g, H>,
    conn: &Conn,
    daddr: [u8; 4],
    known_nh: bool,
) -> Result<Route<'g>> {
    match &conn.dest {
        Some(dest) => dest.route.route(pkt, net, daddr, known_nh, seen.guard),
        None => pkt.route_output(net, daddr, known_nh),
    }
}

/// What is decided of a packet leaving for another host before anything of it is written: one
/// whose TTL runs out is answered with "time exceeded" and dropped (`decrement_ttl`). On the fast
/// path, where both answers are left to `LOCAL_IN`, so is one that `mtu` does not fit (see
/// [`ensure_mtu`]), before its TTL is taken.
fn may_leave(
    pkt: &Packet<'_>,
    seen: &Seen<'_, Ipv4>,
    mtu: impl Fn() -> Option<u32>,
    payload: Payload,
) -> Result<(), Verdict> {
    if seen.ip.ttl <= 1 {
        if seen.early {
            return Err(Verdict::Accept);
        }
        pkt.icmp_send(packet::ICMP_TIME_EXCEEDED, packet::ICMP_EXC_TTL, 0);
        return Err(Verdict::Drop);
    }
    if seen.early {
        ensure_mtu(pkt, seen, mtu, payload)?;
    }
    Ok(())
}

/// Takes one TTL off a packet that [`may_leave`] (in `w`, which holds its IPv4 header), then
/// checks its size against `mtu`, in IPVS's order (`decrement_ttl`, `ensure_mtu_is_adequate`).
fn leave(
    w: &mut Writable<'_, '_>,
    seen: &Seen<'_, Ipv4>,
    mtu: impl Fn() -> Option<u32>,
    payload: Payload,
) -> Result<(), Verdict> {
    packet::decrease_ttl(w.bytes());
    ensure_mtu(w.packet(), seen, mtu, payload)
}

/// Refuses a request with Don't Fragment that a route of `mtu` cannot carry, telling its sender
/// the MTU (`ensure_mtu_is_adequate`); ICMP errors pass whatever their size. `mtu` is asked only
/// for a request with Don't Fragment; `None` sets no limit.
fn ensure_mtu(
    pkt: &Packet<'_>,
    seen: &Seen<'_, Ipv4>,
    mtu: impl Fn() -> Option<u32>,
    payload: Payload,
) -> Result<(), Verdict> {
    if payload != Payload::Request || !seen.ip.dont_fragment {
        return Ok(());
    }
    let Some(mtu) = mtu() else {
        return Ok(());
    };
    if pkt.exceeds_mtu(seen.meta, mtu) {
        if seen.early {
            return Err(Verdict::Accept);
        }
        pkt.icmp_send(
            packet::ICMP_DEST_UNREACH,
            packet::ICMP_FRAG_NEEDED,
            mtu.to_be(),
        );
        return Err(Verdict::Drop);
    }
    Ok(())
}

/// Routes the unchanged packet to `to.0` (as the next hop itself when `to.1`, else as the
/// destination) and sends it on; a route to this host answers `if_local`.
fn send_unchanged(
    net: &Net,
    mut pkt: Packet<'_>,
    seen: &Seen<'_, Ipv4>,
    conn: &Conn,
    (next_hop, known_nh): ([u8; 4], bool),
    if_local: Verdict,
    payload: Payload,
) -> Verdict {
    let Ok(route) = route(net, &pkt, seen, conn, next_hop, known_nh) else {
        return Verdict::Drop;
    };
    if route.is_local() {
        return if seen.early {
            Verdict::Accept
        } else {
            if_local
        };
    }
    let mtu = || Some(route.mtu());
    if let Err(verdict) = may_leave(&pkt, seen, mtu, payload) {
        return verdict;
    }
    let Ok(mut w) = pkt.writable(packet::IPV4_MIN_LEN) else {
        return Verdict::Drop;
    };
    if let Err(verdict) = leave(&mut w, seen, mtu, payload) {
        return verdict;
    }
    pkt.set_route(route);
    pkt.set_ignore_df();
    pkt.set_ipvs_property();
    pkt.prepare_forward();
    pkt.forward_out(net)
}

/// Rewrites the address at `addr_offset` and the port at `port_offset` (within `w`) and updates
/// the transport checksum at `sum_offset`; UDP packets without a checksum keep none.
pub(crate) struct Rewrite {
    pub(crate) protocol: u8,
    /// The source or destination address of the IPv4 or IPv6 header.
    pub(crate) addr_offset: usize,
    /// The new address, of the header's family.
    pub(crate) new_addr: InetAddr,
    pub(crate) port_offset: usize,
    pub(crate) new_port: [u8; 2],
    pub(crate) sum_offset: usize,
}

/// Applies `r` to the writable bytes `w` of a packet (whose checksum state `meta` gives) and
/// updates the checksums (`dnat_handler`, `snat_handler`; an IPv4 header's incrementally,
/// `csum_replace4`, where IPVS recomputes it; IPv6 headers have none).
pub(crate) fn rewrite(w: &mut Writable<'_, '_>, meta: &Meta, r: &Rewrite) -> Result {
    let partial = meta.checksum_partial;
    let bytes = w.bytes();
    let old_port = packet::swap(bytes, r.port_offset, r.new_port).ok_or(EINVAL)?;
    let old_sum = packet::read::<2>(bytes, r.sum_offset).ok_or(EINVAL)?;
    let udp = r.protocol == packet::PROTO_UDP;
    let summed = !(udp && !partial && packet::udp_sum_absent(old_sum));
    // The address is part of the transport checksum's pseudo-header.
    match r.new_addr {
        InetAddr::V4(new) => {
            let old = packet::swap(w.bytes(), r.addr_offset, new).ok_or(EINVAL)?;
            if summed {
                w.replace_sum4(r.sum_offset, old, new, true)?;
            }
            packet::ipv4_sum_replace4(w.bytes(), old, new);
        }
        InetAddr::V6(new) => {
            let old = packet::swap(w.bytes(), r.addr_offset, new).ok_or(EINVAL)?;
            if summed {
                // `inet_proto_csum_replace16`, a word at a time.
                let word = |a: &[u8; 16], i: usize| [a[i], a[i + 1], a[i + 2], a[i + 3]];
                for i in [0, 4, 8, 12] {
                    w.replace_sum4(r.sum_offset, word(&old, i), word(&new, i), true)?;
                }
            }
        }
    }
    if summed {
        w.replace_sum2(r.sum_offset, old_port, r.new_port)?;
        if udp && !partial {
            let bytes = w.bytes();
            if packet::read::<2>(bytes, r.sum_offset) == Some([0, 0]) {
                // CSUM_MANGLED_0: a computed 0 is sent as 0xffff, 0 meaning "no checksum".
                packet::swap(bytes, r.sum_offset, [0xff, 0xff]);
            }
        }
    }
    Ok(())
}

/// NAT: the request goes to the real server's address and port (`ip_vs_nat_xmit`).
fn nat(net: &Net, mut pkt: Packet<'_>, seen: &Seen<'_, Ipv4>, conn: &Conn) -> Verdict {
    let ip = seen.ip;
    let l4 = ip.header_len;
    let (Some(l4_len), Some(sum)) = (
        packet::l4_rewrite_len(ip.protocol),
        packet::l4_sum_offset(ip.protocol),
    ) else {
        return Verdict::Drop;
    };
    let t = &conn.tuple;
    let InetAddr::V4(daddr) = t.daddr else {
        return Verdict::Drop;
    };
    let Ok(route) = route(net, &pkt, seen, conn, daddr, false) else {
        return Verdict::Drop;
    };
    let local = route.is_local();
    if local && seen.early {
        return Verdict::Accept;
    }
    let mtu = || Some(route.mtu());
    if !local {
        if let Err(verdict) = may_leave(&pkt, seen, mtu, Payload::Request) {
            return verdict;
        }
    }
    // One writable span for the TTL and the translation.
    let Ok(mut w) = pkt.writable(l4 + l4_len) else {
        return Verdict::Drop;
    };
    if !local {
        if let Err(verdict) = leave(&mut w, seen, mtu, Payload::Request) {
            return verdict;
        }
    }
    let r = Rewrite {
        protocol: ip.protocol,
        addr_offset: packet::IPV4_DADDR,
        new_addr: InetAddr::V4(daddr),
        port_offset: l4 + 2,
        new_port: t.dport,
        sum_offset: l4 + sum,
    };
    if rewrite(&mut w, seen.meta, &r).is_err() {
        return Verdict::Drop;
    }
    if local {
        // A real server on the director itself: the packet goes on to the local stack with its
        // new address and port, on its input route (`ip_vs_nat_send_or_cont`, local).
        return Verdict::Accept;
    }
    pkt.set_route(route);
    pkt.set_ignore_df();
    pkt.set_ipvs_property();
    pkt.prepare_forward();
    pkt.forward_out(net)
}
