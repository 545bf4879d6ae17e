// SPDX-License-Identifier: GPL-2.0

//! Tunnelling (IPVS's `ip_vs_tunnel_xmit` and `ip_vs_tunnel_xmit_v6`): the packet goes to the
//! real server inside a new IP header of the real server's family, and for GUE and GRE a UDP and
//! GUE or a GRE header; the real server unwraps it and answers the client directly. The real
//! server's family may differ from the packet's: an IPv4 service may have IPv6 real servers and
//! the reverse, reached only this way.
//!
//! The packet itself is checked as its own family has it, whatever the tunnel's: one hop taken
//! (`decrement_ttl`), and its size against what the tunnel leaves of the route's MTU
//! (`ensure_mtu_is_adequate`): an IPv4 packet with Don't Fragment only with `pmtu_disc`, any
//! IPv6 request always ("packet too big").

#![deny(unsafe_code)]

use crate::{
    conn::Conn,
    ffi::{
        pernet::Net,
        skb::{gso, Encapsulation, Packet, Verdict},
    },
    netns::NetState,
    packet::{self, Encap, InetAddr, IpVersion},
    xmit::{self, NetHeader, Payload, Seen},
};
use core::sync::atomic::Ordering;
use kernel::prelude::*;

/// Sends a packet of connection `conn` to its real server through a tunnel.
pub(crate) fn tunnel<H: NetHeader>(
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    seen: &Seen<'_, H>,
    conn: &Conn,
    payload: Payload,
) -> Verdict {
    let encap = conn.dest.as_ref().map_or(Encap::Ipip, |d| d.encap());
    let partial = seen.meta.checksum_partial;
    let pmtu_disc = state.sysctl.pmtu_disc.load(Ordering::Relaxed) != 0;
    let remcsum = encap.uses_remcsum(partial);
    match conn.tuple.daddr {
        InetAddr::V4(daddr) => {
            let Ok(route) = xmit::route(net, &pkt, seen, conn, daddr, false) else {
                return Verdict::Drop;
            };
            // A real server on this host gets the packet as it is.
            if route.is_local() {
                return Verdict::Accept;
            }
            let Some(inner_mtu) = encap.inner_mtu(route.mtu(), partial, IpVersion::V4) else {
                return Verdict::Drop;
            };
            if let Err(verdict) =
                H::leave_for_tunnel(&mut pkt, net, seen, None, inner_mtu, pmtu_disc, payload)
            {
                return verdict;
            }
            let inner = seen.ip.carried();
            let headroom = route.reserved_space() + outer_len(encap, partial, IpVersion::V4);
            let saddr = route.saddr;
            pkt.set_ipvs_property();
            pkt.prepare_forward();
            pkt.set_route(route);
            // With `pmtu_disc` the DF bit of an IPv4 packet is copied to the tunnel header.
            let outer = packet::tunnel_header(
                &inner,
                encap.protocol(inner.version),
                pmtu_disc,
                saddr,
                daddr,
            );
            let wrapped = pkt
                .encapsulate(
                    headroom,
                    gso_type(encap, remcsum, IpVersion::V4),
                    inner.version.ip_protocol(),
                )
                .and_then(|mut e| {
                    push_tunnel_headers(net, &mut e, encap, inner.version, remcsum, |e, csum| {
                        e.udp_checksum(csum, saddr, daddr)
                    })?;
                    e.finish(net, outer)
                });
            if wrapped.is_err() {
                return Verdict::Drop;
            }
            pkt.set_ignore_df();
            pkt.local_out(net)
        }
        InetAddr::V6(daddr) => {
            let Ok(route) = Packet::route_output6(net, daddr, false) else {
                return Verdict::Drop;
            };
            if route.is_local() {
                return Verdict::Accept;
            }
            let Ok(saddr) = route.source(net, daddr) else {
                return Verdict::Drop;
            };
            let Some(inner_mtu) = encap.inner_mtu(route.mtu(), partial, IpVersion::V6) else {
                return Verdict::Drop;
            };
            let via = Some(&route);
            if let Err(verdict) =
                H::leave_for_tunnel(&mut pkt, net, seen, via, inner_mtu, pmtu_disc, payload)
            {
                return verdict;
            }
            let inner = seen.ip.carried();
            let headroom = route.reserved_space() + outer_len(encap, partial, IpVersion::V6);
            pkt.set_ipvs_property();
            pkt.prepare_forward();
            pkt.set_route6(route);
            let wrapped = pkt
                .encapsulate(
                    headroom,
                    gso_type(encap, remcsum, IpVersion::V6),
                    inner.version.ip_protocol(),
                )
                .and_then(|mut e| {
                    push_tunnel_headers(net, &mut e, encap, inner.version, remcsum, |e, csum| {
                        udp6_checksum(e, csum, &saddr, &daddr)
                    })?;
                    let payload_len = usize::try_from(e.len()).map_err(|_| EINVAL)?;
                    let protocol = encap.protocol(inner.version);
                    let outer =
                        packet::tunnel_header6(&inner, protocol, payload_len, &saddr, &daddr)
                            .ok_or(EINVAL)?;
                    e.finish6(outer)
                });
            if wrapped.is_err() {
                return Verdict::Drop;
            }
            pkt.set_ignore_df();
            pkt.local_out6(net)
        }
    }
}

/// The length of a tunnel's headers in front of the packet, the outer IP header's included.
fn outer_len(encap: Encap, partial: bool, outer: IpVersion) -> u32 {
    (outer.header_len() + encap.header_len(partial)) as u32
}

/// The segmentation offloads of a packet wrapped with `encap` in an `outer` header
/// (`__tun_gso_type_mask` and `ip_vs_tunnel_xmit`); `remcsum` when it carries the remote
/// checksum option.
fn gso_type(encap: Encap, remcsum: bool, outer: IpVersion) -> u32 {
    let tunnel = match encap {
        Encap::Ipip => 0,
        Encap::Gue {
            csum,
            remcsum: flag,
            ..
        } => {
            let udp = if csum || flag {
                gso::UDP_TUNNEL_CSUM
            } else {
                gso::UDP_TUNNEL
            };
            udp | if remcsum { gso::TUNNEL_REMCSUM } else { 0 }
        }
        Encap::Gre { csum: true } => gso::GRE_CSUM,
        Encap::Gre { csum: false } => gso::GRE,
    };
    let ip = match outer {
        IpVersion::V4 => gso::IPXIP4,
        IpVersion::V6 => gso::IPXIP6,
    };
    ip | tunnel
}

/// Pushes the tunnel headers of `encap` in front of a packet of version `inner`
/// (`ipvs_gue_encap`, `ipvs_gre_encap`, `gre_build_header`); `udp_checksum` sets the GUE
/// tunnel's UDP checksum, or 0 ("none") when told `false` (`udp_set_csum`, `udp6_set_csum`).
fn push_tunnel_headers(
    net: &Net,
    e: &mut Encapsulation<'_, '_>,
    encap: Encap,
    inner: IpVersion,
    remcsum: bool,
    udp_checksum: impl FnOnce(&mut Encapsulation<'_, '_>, bool) -> Result,
) -> Result {
    match encap {
        Encap::Ipip => Ok(()),
        Encap::Gue {
            csum,
            remcsum: flag,
            ..
        } => {
            // With remote checksum offload the real server completes the inner checksum: it is
            // told where that starts and where it goes.
            let option = if remcsum {
                Some(e.partial_checksum().ok_or(EINVAL)?)
            } else {
                None
            };
            let inner_len = usize::try_from(e.len()).map_err(|_| EINVAL)?;
            let (headers, len) = encap
                .headers(inner, e.flow_src_port(net), inner_len, option)
                .ok_or(EINVAL)?;
            if remcsum {
                e.leave_inner_checksum();
            }
            e.push_transport(&headers[..len])?;
            udp_checksum(e, csum || flag)
        }
        Encap::Gre { csum } => {
            let inner_len = usize::try_from(e.len()).map_err(|_| EINVAL)?;
            let (headers, len) = encap
                .headers(inner, [0; 2], inner_len, None)
                .ok_or(EINVAL)?;
            e.push_transport(&headers[..len])?;
            e.set_inner_protocol(inner.ether_type());
            // A GSO packet's checksums are computed per segment.
            if csum && e.gso_type() & (gso::GRE | gso::GRE_CSUM) == 0 {
                match e.outer_sum() {
                    Some(sum) => {
                        let offset = usize::from(packet::GRE_SUM_OFFSET);
                        e.write(offset, &packet::csum_fold(sum).to_ne_bytes())?;
                    }
                    None => e.offload_checksum(packet::GRE_SUM_OFFSET),
                }
            }
            Ok(())
        }
    }
}

/// Offset of the checksum in a UDP header.
const UDP_SUM_OFFSET: u16 = 6;

/// Sets the checksum of the UDP header just pushed, over the packet and the IPv6 pseudo-header
/// of `saddr` and `daddr`, or leaves it 0 ("none") without `enabled` (`udp6_set_csum`): a GSO
/// packet's is completed per segment, one whose inner checksum is still to be computed gets
/// both summed here (`lco_csum`), any other's is left to the device or the stack.
fn udp6_checksum(
    e: &mut Encapsulation<'_, '_>,
    enabled: bool,
    saddr: &[u8; 16],
    daddr: &[u8; 16],
) -> Result {
    if !enabled {
        return Ok(());
    }
    let pseudo = packet::ipv6_pseudo_sum(saddr, daddr, e.len(), packet::PROTO_UDP);
    let sum = if e.is_gso() {
        !packet::csum_fold(pseudo)
    } else if let Some(outer) = e.outer_sum() {
        match packet::csum_fold(packet::csum_add(pseudo, outer)) {
            // CSUM_MANGLED_0: a computed 0 is sent as 0xffff, 0 meaning "no checksum".
            0 => 0xffff,
            sum => sum,
        }
    } else {
        e.offload_checksum(UDP_SUM_OFFSET);
        !packet::csum_fold(pseudo)
    };
    e.write(usize::from(UDP_SUM_OFFSET), &sum.to_ne_bytes())
}
