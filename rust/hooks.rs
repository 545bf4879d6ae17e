// SPDX-License-Identifier: GPL-2.0

//! The packet path entered from the netfilter hooks (IPVS's `ip_vs_core.c`).
//!
//! Requests (client to virtual service) arrive on `LOCAL_IN` (and `LOCAL_OUT` for local
//! clients): they find or create a connection and are forwarded to its real server. NAT replies
//! (real server to client) are routed through the director and met on `FORWARD`, where their
//! source becomes the virtual service again. ICMP errors about a connection are translated the
//! same way. Everything else is accepted unchanged.

#![deny(unsafe_code)]

use crate::{
    abi::{conn_flag, svc_flag, AF_INET},
    conn::{Conn, Lookup, Tuple},
    defense,
    ffi::{
        pernet::{AddrType, Net},
        rcu::Guard,
        skb::{DefragUser, Packet, Verdict},
    },
    netns::NetState,
    packet::{self, Encap, Ipv4},
    proto,
    sched::Flow,
    service::{Dest, DestShared, Service, ServiceKey},
    xmit::{self, Payload, Rewrite},
};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{prelude::*, sync::Arc};

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

/// The netfilter hook a packet met rvs at.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Hook {
    LocalIn,
    LocalOut,
    Forward,
}

/// Decides the fate of a packet seen at `point` on hook `at` in namespace `net`.
pub(crate) fn on_packet(point: HookPoint, at: Hook, net: &Net, pkt: Packet<'_>) -> Verdict {
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
            if at == Hook::LocalIn && (!pkt.is_for_host() || !pkt.has_dst()) {
                return Verdict::Accept;
            }
            if ip.protocol == packet::PROTO_ICMP {
                request_icmp(net, pkt, &ip)
            } else {
                request(net, pkt, &ip)
            }
        }
        HookPoint::Reply => {
            let is_icmp = ip.protocol == packet::PROTO_ICMP;
            if ip.fragment && (is_icmp || packet::l4_rewrite_len(ip.protocol).is_some()) {
                // What rvs translates is reassembled first (`ip_vs_out_hook`, `ip_vs_out_icmp`);
                // the stack did it already for what reaches `LOCAL_IN`.
                let user = match at {
                    Hook::LocalIn => DefragUser::In,
                    Hook::LocalOut => DefragUser::Out,
                    Hook::Forward => DefragUser::Forward,
                };
                let Some(whole) = pkt.defragment(net, user) else {
                    return Verdict::Stolen;
                };
                return match whole
                    .read::<{ packet::IPV4_MIN_LEN }>(0)
                    .and_then(|b| packet::parse_ipv4(&b))
                {
                    Some(ip) if !ip.fragment => on_packet(point, at, net, whole),
                    _ => Verdict::Drop,
                };
            }
            if is_icmp {
                reply_icmp(at, net, pkt, &ip)
            } else {
                reply(at, net, pkt, &ip)
            }
        }
        // ICMP errors in transit about connections whose virtual address is not local (a
        // transparent cache cluster's fwmark service), `ip_vs_forward_icmp`.
        HookPoint::ForwardIcmp if ip.protocol == packet::PROTO_ICMP => request_icmp(net, pkt, &ip),
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

/// A request from a client (`ip_vs_in_hook`).
fn request(net: &Net, pkt: Packet<'_>, ip: &Ipv4) -> Verdict {
    if ip.later_fragment {
        return Verdict::Accept;
    }
    let Some((ports, tcp_flags)) = ports(&pkt, ip.protocol, ip.header_len) else {
        return Verdict::Accept;
    };
    let state = net.state();
    let key = Lookup::Request {
        protocol: ip.protocol,
        caddr: ip.saddr,
        cport: ports.sport,
        vaddr: ip.daddr,
        vport: ports.dport,
    };
    let mut conn = state.conns.find(&key);

    // A new connection that reuses the ports of an old one (`conn_reuse_mode`).
    let is_tcp = ip.protocol == packet::PROTO_TCP;
    let syn = is_tcp && proto::tcp_is_new_conn(proto::tcp_flags_from_byte(tcp_flags));
    let reuse_mode = state.sysctl.conn_reuse_mode.load(Ordering::Relaxed);
    let expire_nodest = state.sysctl.expire_nodest_conn.load(Ordering::Relaxed) != 0;
    if let Some(c) = conn.as_ref().filter(|_| reuse_mode != 0 && syn) {
        let reschedule = (expire_nodest && c.dest.as_ref().is_some_and(|d| d.weight() == 0))
            || proto::TcpState::from_u8(c.state())
                .is_some_and(|s| proto::tcp_new_conn_expected(s, c.no_output(), reuse_mode));
        if reschedule {
            state.conns.expire_now(c);
            conn = None;
        }
    }

    // The real server of the connection is gone.
    if let Some(c) = conn.as_ref().filter(|c| c.dest_gone()) {
        if !expire_nodest {
            return Verdict::Drop;
        }
        state.conns.expire_now(c);
        conn = None;
    }

    let (conn, one_packet) = match conn {
        Some(c) => (c, false),
        None => match schedule(net, state, &pkt, ip, ports, tcp_flags) {
            Ok(Some(scheduled)) => scheduled,
            Ok(None) => return Verdict::Accept,
            Err(verdict) => return verdict,
        },
    };

    if let Some(dest) = conn.live_dest() {
        let len = pkt.len();
        dest.stats.count_in(len);
        conn.svc_stats.count_in(len);
        state.stats.count_in(len);
    }
    let secure_tcp = defense::secure_tcp_on(state.sysctl.secure_tcp.load(Ordering::Relaxed));
    conn.on_packet(tcp_flags, false, secure_tcp, &state.timeout_table());
    let verdict = xmit::transmit(net, state, pkt, ip, &conn, Payload::Request);
    conn.count_in_packet(one_packet);
    if one_packet {
        // One-packet scheduling: the connection ends with its packet (IPVS frees it on the last
        // put without hashing it).
        conn.release();
    }
    verdict
}

/// Creates a connection for a packet that has none, if it is for a virtual service
/// (`ip_vs_try_to_schedule`, `tcp_conn_schedule`, `ip_vs_schedule`). `Ok(None)`: not for rvs.
/// The flag says the connection is for this packet only (`-o`, UDP), and not in the table.
fn schedule(
    net: &Net,
    state: &NetState,
    pkt: &Packet<'_>,
    ip: &Ipv4,
    ports: packet::Ports,
    tcp_flags: u8,
) -> Result<Option<(Arc<Conn>, bool)>, Verdict> {
    if ip.protocol == packet::PROTO_TCP {
        let sloppy = state.sysctl.sloppy_tcp.load(Ordering::Relaxed) != 0;
        if !proto::tcp_should_schedule(proto::tcp_flags_from_byte(tcp_flags), sloppy) {
            return Ok(None);
        }
    }
    let guard = Guard::new();
    let table = state.services.get(&guard);
    let Some(svc) = table.find_ipv4(ip.protocol, ip.daddr, ports.dport, pkt.mark()) else {
        return Ok(None);
    };
    // The `drop_packet` defense refuses one new connection in its rate (`ip_vs_todrop`).
    if state.refuse_new_conn() {
        return Err(Verdict::Drop);
    }
    let mut saddr = [0u8; 16];
    saddr[..4].copy_from_slice(&ip.saddr);
    let mut daddr = [0u8; 16];
    daddr[..4].copy_from_slice(&ip.daddr);
    let mut random_below = crate::ffi::random_u32_below;
    let mut flow = Flow {
        af: AF_INET,
        saddr,
        daddr,
        sport: ports.sport,
        dport: ports.dport,
        svc_flags: svc.params.flags,
        random_below: &mut random_below,
        clock: state.clock(),
    };
    let target = if svc.persistent() {
        persist(state, svc, ip, ports, &mut flow)
    } else {
        svc.schedule(&mut flow)
            .and_then(|dest| Target::of(dest, ports.dport, None))
    };
    let one_packet =
        ip.protocol == packet::PROTO_UDP && svc.params.flags & svc_flag::ONEPACKET != 0;
    // The new connection's addresses, to the real server's `daddr:dport`.
    let tuple_to = |daddr, dport| Tuple {
        protocol: ip.protocol,
        caddr: ip.saddr,
        cport: ports.sport,
        vaddr: ip.daddr,
        vport: ports.dport,
        daddr,
        dport,
    };
    let Some(target) = target else {
        // `ip_vs_leave`: no real server can take it. With `cache_bypass`, a firewall-mark
        // service (a transparent cache cluster) lets the packet go on to its own destination, on
        // a connection without real server; otherwise the client is told.
        let bypass = state.sysctl.cache_bypass.load(Ordering::Relaxed) != 0
            && matches!(svc.key, ServiceKey::Fwmark { .. })
            && net.ipv4_addr_type(ip.daddr) == AddrType::Unicast;
        if !bypass {
            pkt.icmp_send(packet::ICMP_DEST_UNREACH, packet::ICMP_PORT_UNREACH, 0);
            return Err(Verdict::Drop);
        }
        let no_dest = tuple_to([0; 4], [0; 2]);
        let conn = Conn::new(no_dest, conn_flag::BYPASS, None, svc.stats.clone(), None)
            .map_err(|_| Verdict::Drop)?;
        drop(guard);
        if !one_packet {
            state.conns.insert(conn.clone());
        }
        // Not counted as a connection of the service (IPVS counts only scheduled ones).
        return Ok(Some((conn, one_packet)));
    };
    let conn = Conn::new(
        tuple_to(target.daddr, target.dport),
        target.fwd,
        Some(target.dest),
        svc.stats.clone(),
        target.control,
    )
    .map_err(|_| Verdict::Drop)?;
    drop(guard);
    if let Some(dest) = &conn.dest {
        dest.stats.count_conn();
    }
    conn.svc_stats.count_conn();
    state.stats.count_conn();
    if !one_packet {
        state.conns.insert(conn.clone());
    }
    Ok(Some((conn, one_packet)))
}

/// Where a new connection goes.
struct Target {
    dest: Arc<DestShared>,
    daddr: [u8; 4],
    dport: [u8; 2],
    fwd: u32,
    /// The persistence template that chose the real server.
    control: Option<Arc<Conn>>,
}

impl Target {
    /// The real server `dest` for a packet to port `vport`: a real server without a port (DR,
    /// tunnel) keeps the virtual port. `None` for an IPv6 real server of an IPv4 service
    /// (tunnelling to IPv6), which rvs cannot reach yet.
    fn of(dest: &Dest, vport: [u8; 2], control: Option<Arc<Conn>>) -> Option<Self> {
        if dest.key.af != AF_INET {
            if !IPV6_DEST_WARNED.swap(true, Ordering::Relaxed) {
                pr_warn!("IPv6 real servers of IPv4 services are not supported yet: their packets are refused\n");
            }
            return None;
        }
        let mut daddr = [0u8; 4];
        daddr.copy_from_slice(&dest.key.addr[..4]);
        Some(Self {
            dest: dest.shared.clone(),
            daddr,
            dport: if dest.key.port == 0 {
                vport
            } else {
                dest.key.port.to_be_bytes()
            },
            fwd: dest.params.fwd & conn_flag::FWD_MASK,
            control,
        })
    }
}

/// Whether the warning about IPv6 real servers of IPv4 services was printed.
static IPV6_DEST_WARNED: AtomicBool = AtomicBool::new(false);

/// IPVS's FTP control port, whose persistence templates ignore ports.
const FTP_PORT: u16 = 21;

/// Persistent scheduling (`ip_vs_sched_persist`): the client's network (its address under the
/// service's netmask) keeps the real server its template names until the template expires.
fn persist(
    state: &NetState,
    svc: &Service,
    ip: &Ipv4,
    ports: packet::Ports,
    flow: &mut Flow<'_>,
) -> Option<Target> {
    let mask = svc.params.netmask.to_ne_bytes();
    let snet: [u8; 4] = core::array::from_fn(|i| ip.saddr[i] & mask[i]);
    let (svc_port, fwmark) = match svc.key {
        ServiceKey::Tuple { port, .. } => (port, None),
        ServiceKey::Fwmark { mark, .. } => (0, Some(mark)),
    };
    let to_svc_port = u16::from_be_bytes(ports.dport) == svc_port;
    // Template keys (comment of `ip_vs_sched_persist`): <proto, caddr, 0, vaddr, vport> for a
    // port service, port 0 for FTP, and <IPPROTO_IP, caddr, 0, fwmark, 0> for a fwmark service.
    let (protocol, vaddr, vport) = match fwmark {
        Some(mark) if !to_svc_port => (0, mark.to_be_bytes(), [0, 0]),
        _ if to_svc_port && svc_port != FTP_PORT => (ip.protocol, ip.daddr, ports.dport),
        _ => (ip.protocol, ip.daddr, [0, 0]),
    };
    let key = Lookup::Template {
        protocol,
        caddr: snet,
        vaddr,
        vport,
    };
    let quiescent_expires = state
        .sysctl
        .expire_quiescent_template
        .load(Ordering::Relaxed)
        != 0;
    let found = state.conns.find(&key).filter(|ct| {
        // `ip_vs_check_template`: a template whose real server is gone (or quiesced, with
        // `expire_quiescent_template`) no longer binds; it stays until it expires.
        let valid = ct
            .live_dest()
            .is_some_and(|d| !(quiescent_expires && d.weight() == 0));
        if !valid {
            ct.invalidate_template();
        }
        valid
    });
    let template = match found {
        Some(ct) => ct,
        None => {
            let dest = svc.schedule(flow)?;
            let target = Target::of(dest, ports.dport, None)?;
            let template_tuple = Tuple {
                protocol,
                caddr: snet,
                cport: [0, 0],
                vaddr,
                vport,
                daddr: target.daddr,
                dport: if to_svc_port && svc_port != FTP_PORT {
                    target.dport
                } else {
                    [0, 0]
                },
            };
            let ct = Conn::new_template(
                template_tuple,
                target.fwd,
                target.dest,
                svc.stats.clone(),
                svc.params.timeout_ticks,
                svc.params.flags & svc_flag::ONEPACKET != 0,
            )
            .ok()?;
            state.conns.insert(ct.clone());
            ct
        }
    };
    template.touch_template();
    let dport = if to_svc_port && template.tuple.dport != [0, 0] {
        template.tuple.dport
    } else {
        ports.dport
    };
    Some(Target {
        dest: template.dest.clone()?,
        daddr: template.tuple.daddr,
        dport,
        fwd: template.fwd,
        control: Some(template),
    })
}

/// A reply from a real server to a client (`ip_vs_out_hook`, `handle_response`).
fn reply(at: Hook, net: &Net, mut pkt: Packet<'_>, ip: &Ipv4) -> Verdict {
    let Some((ports, tcp_flags)) = ports(&pkt, ip.protocol, ip.header_len) else {
        return Verdict::Accept;
    };
    let state = net.state();
    let key = Lookup::Reply {
        protocol: ip.protocol,
        daddr: ip.saddr,
        dport: ports.sport,
        caddr: ip.daddr,
        cport: ports.dport,
    };
    let Some(conn) = state.conns.find(&key) else {
        return Verdict::Accept;
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
    if xmit::rewrite(&mut pkt, l4 + l4_len, &r).is_err() {
        return Verdict::Drop;
    }
    finish_reply(at, net, state, pkt, &conn, tcp_flags)
}

/// The end of a translated reply: reroute from the virtual address, count, update the state
/// (`handle_response`, `ip_vs_route_me_harder`).
fn finish_reply(
    at: Hook,
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    conn: &Conn,
    tcp_flags: u8,
) -> Verdict {
    let reroute = state.sysctl.snat_reroute.load(Ordering::Relaxed) != 0
        && at != Hook::LocalIn
        && !pkt.route_is_loopback();
    if reroute && pkt.reroute(net, true).is_err() {
        return Verdict::Drop;
    }
    if let Some(dest) = conn.live_dest() {
        let len = pkt.len();
        dest.stats.count_out(len);
        conn.svc_stats.count_out(len);
        state.stats.count_out(len);
    }
    let secure_tcp = defense::secure_tcp_on(state.sysctl.secure_tcp.load(Ordering::Relaxed));
    conn.on_packet(tcp_flags, true, secure_tcp, &state.timeout_table());
    pkt.set_ipvs_property();
    pkt.notrack();
    Verdict::Accept
}

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
fn reply_icmp(at: Hook, net: &Net, mut pkt: Packet<'_>, ip: &Ipv4) -> Verdict {
    let Some(q) = quoted(&pkt, ip) else {
        return Verdict::Accept;
    };
    let state = net.state();
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
fn request_icmp(net: &Net, mut pkt: Packet<'_>, ip: &Ipv4) -> Verdict {
    let state = net.state();
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
