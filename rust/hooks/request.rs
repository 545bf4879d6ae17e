// SPDX-License-Identifier: GPL-2.0

//! Requests from clients (`ip_vs_in_hook`): the connection they belong to, or a new one
//! scheduled to a real server, persistence included.

#![deny(unsafe_code)]

use super::count_in;
use crate::{
    abi::{conn_flag, svc_flag},
    conn::{Conn, Lookup, Tuple},
    defense,
    ffi::{
        pernet::{self, AddrType, Net},
        rcu::Guard,
        skb::{Meta, Packet, Verdict},
    },
    headers::Transport,
    netns::NetState,
    packet::{self, InetAddr, Ipv4, Ports},
    pe_sip::{self, CallId},
    proto,
    sched::Flow,
    service::{Dest, DestShared, PersistenceEngine, Service, ServiceKey},
    xmit::{self, NetHeader, Payload},
};
use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc};

/// A request from a client (`ip_vs_in_hook`), IPv4 or IPv6.
pub(super) fn request<H: NetHeader>(
    net: &Net,
    state: &NetState,
    mut pkt: Packet<'_>,
    ip: &H,
    l4: &Transport,
    meta: &Meta,
    guard: &Guard,
) -> Verdict {
    let Transport { ports, tcp_flags } = *l4;
    let key = request_key(ip, ports);
    // The packet path runs in a read-side critical section: the connection found is borrowed
    // for it, without a reference of its own.
    let mut conn = state.conns.find_in(&key, guard);

    // A new connection that reuses the ports of an old one (`conn_reuse_mode`).
    let is_tcp = ip.protocol() == packet::PROTO_TCP;
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

    let scheduled;
    let (conn, one_packet): (&Conn, bool) = match &conn {
        Some(c) => (c, false),
        None => match schedule(net, state, &mut pkt, ip, l4, meta.mark) {
            Ok(Some((c, one_packet))) => {
                scheduled = c;
                (&scheduled, one_packet)
            }
            Ok(None) => return Verdict::Accept,
            Err(verdict) => return verdict,
        },
    };

    count_in(state, conn, meta.len);
    let secure_tcp = defense::secure_tcp_on(state.sysctl.secure_tcp.load(Ordering::Relaxed));
    conn.on_packet(tcp_flags, false, secure_tcp, &state.timeout_table());
    let seen = xmit::Seen {
        ip,
        meta,
        guard,
        early: false,
    };
    let verdict = H::transmit(net, state, pkt, &seen, conn, Payload::Request);
    let pkts = conn.count_in_packet(one_packet);
    state.sync.on_request(net, state, conn, pkts);
    if one_packet {
        // One-packet scheduling: the connection ends with its packet (IPVS frees it on the last
        // put without hashing it).
        conn.release();
    }
    verdict
}

/// The connection-table key of a request: client to virtual service.
fn request_key<H: NetHeader>(ip: &H, ports: Ports) -> Lookup<'static> {
    Lookup::Request {
        protocol: ip.protocol(),
        caddr: ip.saddr(),
        cport: ports.sport,
        vaddr: ip.daddr(),
        vport: ports.dport,
    }
}

/// A request on `PRE_ROUTING`, with the `fast_path` sysctl on: one of an established connection
/// is sent on to its real server at once, as [`request`] would send it from `LOCAL_IN`. Anything
/// else is accepted untouched and goes the usual way: new connections, TCP SYNs (which may reuse
/// or reschedule a connection), connections whose real server is gone, and packets the
/// transmitter declines here because they need the input route (see [`xmit::Seen::early`]). A
/// connection's later packets are taken to be for this host, as its first one was, without the
/// input route's checks (reverse path, martians) that its first one passed.
pub(super) fn early_request(
    net: &Net,
    state: &NetState,
    pkt: Packet<'_>,
    ip: &Ipv4,
    l4: &Transport,
    meta: &Meta,
    guard: &Guard,
) -> Verdict {
    let Transport { ports, tcp_flags } = *l4;
    if ip.protocol == packet::PROTO_TCP && proto::tcp_flags_from_byte(tcp_flags).syn {
        return Verdict::Accept;
    }
    let key = request_key(ip, ports);
    let Some(conn) = state.conns.find_in(&key, guard) else {
        return Verdict::Accept;
    };
    if conn.dest_gone() {
        return Verdict::Accept;
    }
    let seen = xmit::Seen {
        ip,
        meta,
        guard,
        early: true,
    };
    let verdict = Ipv4::transmit(net, state, pkt, &seen, &conn, Payload::Request);
    if verdict == Verdict::Accept {
        // Declined, unchanged: `request` counts it on `LOCAL_IN`.
        return verdict;
    }
    // Counted after the transmitter, which reads neither the counters nor the state.
    count_in(state, &conn, meta.len);
    let secure_tcp = defense::secure_tcp_on(state.sysctl.secure_tcp.load(Ordering::Relaxed));
    conn.on_packet(tcp_flags, false, secure_tcp, &state.timeout_table());
    let pkts = conn.count_in_packet(false);
    state.sync.on_request(net, state, &conn, pkts);
    verdict
}

/// Creates a connection for a packet (of firewall mark `mark`) that has none, if it is for a
/// virtual service (`ip_vs_try_to_schedule`, `tcp_conn_schedule`, `ip_vs_schedule`).
/// `Ok(None)`: not for rvs. The flag says the connection is for this packet only (`-o`, UDP),
/// and not in the table.
fn schedule<H: NetHeader>(
    net: &Net,
    state: &NetState,
    pkt: &mut Packet<'_>,
    ip: &H,
    &Transport { ports, tcp_flags }: &Transport,
    mark: u32,
) -> Result<Option<(Arc<Conn>, bool)>, Verdict> {
    let protocol = ip.protocol();
    if protocol == packet::PROTO_TCP {
        let sloppy = state.sysctl.sloppy_tcp.load(Ordering::Relaxed) != 0;
        if !proto::tcp_should_schedule(proto::tcp_flags_from_byte(tcp_flags), sloppy) {
            return Ok(None);
        }
    }
    let guard = Guard::new();
    let (saddr, daddr) = (ip.saddr(), ip.daddr());
    let Some(svc) = state
        .services
        .find_for_packet(protocol, &daddr, ports.dport, mark, &guard)
    else {
        return Ok(None);
    };
    // The `drop_packet` defense refuses one new connection in its rate (`ip_vs_todrop`); the
    // namespace's `conn_max`, when the table is full of established connections.
    if state.refuse_new_conn() || !state.room_for_new_conn() {
        return Err(Verdict::Drop);
    }
    let mut random_below = crate::ffi::random_u32_below;
    let mut flow = Flow {
        af: daddr.af(),
        saddr: saddr.to_16(),
        daddr: daddr.to_16(),
        sport: ports.sport,
        dport: ports.dport,
        svc_flags: svc.params.flags,
        random_below: &mut random_below,
        clock: state.clock(),
    };
    let target = if svc.persistent() {
        // With the SIP engine, a datagram without Call-ID (or not UDP) is dropped: IPVS's
        // `ip_vs_sched_persist` drops what `fill_param` refuses.
        let call_id = match svc.params.pe {
            Some(PersistenceEngine::Sip) => Some(sip_call_id(pkt, ip).ok_or(Verdict::Drop)?),
            None => None,
        };
        persist(state, &svc, ip, ports, mark, call_id.as_ref(), &mut flow)?
    } else {
        svc.schedule(&mut flow)
            .and_then(|dest| Target::of(dest, ports.dport, None))
    };
    let one_packet = protocol == packet::PROTO_UDP && svc.params.flags & svc_flag::ONEPACKET != 0;
    // The new connection's addresses, to the real server's `rs:dport`.
    let tuple_to = |rs, dport| Tuple {
        protocol,
        caddr: saddr,
        cport: ports.sport,
        vaddr: daddr,
        vport: ports.dport,
        daddr: rs,
        dport,
    };
    let Some(target) = target else {
        // `ip_vs_leave`: no real server can take it. With `cache_bypass`, a firewall-mark
        // service (a transparent cache cluster) lets the packet go on to its own destination, on
        // a connection without real server; otherwise the client is told.
        let bypass = state.sysctl.cache_bypass.load(Ordering::Relaxed) != 0
            && matches!(svc.key, ServiceKey::Fwmark { .. })
            && match daddr {
                InetAddr::V4(a) => net.ipv4_addr_type(a) == AddrType::Unicast,
                InetAddr::V6(a) => pernet::ipv6_is_unicast(&a),
            };
        if !bypass {
            H::port_unreachable(pkt, net);
            return Err(Verdict::Drop);
        }
        let unspecified = match daddr {
            InetAddr::V4(_) => InetAddr::V4([0; 4]),
            InetAddr::V6(_) => InetAddr::V6([0; 16]),
        };
        let no_dest = tuple_to(unspecified, [0; 2]);
        let conn = Conn::new(
            no_dest,
            conn_flag::BYPASS,
            None,
            svc.stats.clone(),
            None,
            mark,
        )
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
        mark,
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
    daddr: InetAddr,
    dport: [u8; 2],
    fwd: u32,
    /// The persistence template that chose the real server.
    control: Option<Arc<Conn>>,
}

impl Target {
    /// The real server `dest` for a packet to port `vport`: a real server without a port (DR,
    /// tunnel) keeps the virtual port. One of the other family than the service's is reached
    /// through a tunnel (the control plane allows no other method for it).
    fn of(dest: &Dest, vport: [u8; 2], control: Option<Arc<Conn>>) -> Option<Self> {
        Some(Self {
            dest: dest.shared.clone(),
            daddr: InetAddr::from_af(dest.key.af, &dest.key.addr)?,
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

/// The Call-ID of a UDP datagram (`ip_vs_sip_fill_param`), which is made linear for it as IPVS
/// linearizes it.
pub(super) fn sip_call_id<H: NetHeader>(pkt: &mut Packet<'_>, ip: &H) -> Option<CallId> {
    if ip.protocol() != packet::PROTO_UDP {
        return None;
    }
    let payload = ip.l4_offset() + packet::UDP_HEADER_LEN;
    let (call_id, _) =
        pkt.parse(|bytes, _| Ok(bytes.rest_from(payload)?.and_then(pe_sip::call_id)))?;
    call_id
}

/// The "virtual address" of a firewall-mark service's template, in the family of `vaddr`: the
/// mark in the first word (`union nf_inet_addr fwmark = { .ip = htonl(svc->fwmark) }`).
pub(super) fn fwmark_vaddr(vaddr: &InetAddr, mark: u32) -> InetAddr {
    let word = mark.to_be_bytes();
    match vaddr {
        InetAddr::V4(_) => InetAddr::V4(word),
        InetAddr::V6(_) => InetAddr::V6(packet::ipv4_in_16(word)),
    }
}

/// IPVS's FTP control port, whose persistence templates ignore ports.
const FTP_PORT: u16 = 21;

/// Whether template `ct` still binds (`ip_vs_check_template`): not if its real server is gone
/// (or quiesced, with `expire_quiescent_template`), or is not `for_dest` when one is given. One
/// that no longer binds is invalidated; it stays until it expires.
pub(super) fn check_template(state: &NetState, ct: &Conn, for_dest: Option<&DestShared>) -> bool {
    let quiescent_expires = state
        .sysctl
        .expire_quiescent_template
        .load(Ordering::Relaxed)
        != 0;
    let valid = ct.live_dest().is_some_and(|d| {
        !(quiescent_expires && d.weight() == 0) && for_dest.map_or(true, |f| f.id == d.id)
    });
    if !valid {
        ct.invalidate_template();
    }
    valid
}

/// Persistent scheduling (`ip_vs_sched_persist`): the client's network (its address under the
/// service's netmask), and with the SIP engine the call `call_id` from it, keeps the real server
/// its template names until the template expires. `Ok(None)`: no real server can take it;
/// `Err`: no memory for the template, the packet is dropped (as IPVS does), not refused.
fn persist<H: NetHeader>(
    state: &NetState,
    svc: &Service,
    ip: &H,
    ports: packet::Ports,
    mark: u32,
    call_id: Option<&CallId>,
    flow: &mut Flow<'_>,
) -> Result<Option<Target>, Verdict> {
    let snet = ip.saddr().masked(svc.params.netmask);
    let (svc_port, fwmark) = match svc.key {
        ServiceKey::Tuple { port, .. } => (port, None),
        ServiceKey::Fwmark { mark, .. } => (0, Some(mark)),
    };
    let to_svc_port = u16::from_be_bytes(ports.dport) == svc_port;
    // Template keys (comment of `ip_vs_sched_persist`): <proto, caddr, 0, vaddr, vport> for a
    // port service, port 0 for FTP, and <IPPROTO_IP, caddr, 0, fwmark, 0> for a fwmark service.
    let daddr = ip.daddr();
    let (protocol, vaddr, vport) = match fwmark {
        Some(mark) if !to_svc_port => (0, fwmark_vaddr(&daddr, mark), [0, 0]),
        _ if to_svc_port && svc_port != FTP_PORT => (ip.protocol(), daddr, ports.dport),
        _ => (ip.protocol(), daddr, [0, 0]),
    };
    let key = Lookup::Template {
        protocol,
        caddr: snet,
        vaddr,
        vport,
        call_id,
    };
    let found = state
        .conns
        .find(&key)
        .filter(|ct| check_template(state, ct, None));
    let template = match found {
        Some(ct) => ct,
        None => {
            let Some(target) = svc
                .schedule(flow)
                .and_then(|dest| Target::of(dest, ports.dport, None))
            else {
                return Ok(None);
            };
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
                mark,
                call_id,
            )
            .map_err(|_| Verdict::Drop)?;
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
    let Some(dest) = template.dest.clone() else {
        return Ok(None);
    };
    Ok(Some(Target {
        dest,
        daddr: template.tuple.daddr,
        dport,
        fwd: template.fwd,
        control: Some(template),
    }))
}
