// SPDX-License-Identifier: GPL-2.0

//! The service and destination commands (`ip_vs_genl_set_cmd` and what it calls in
//! `ip_vs_ctl.c`), with IPVS's parsing, checks, order of checks and errnos.

#![deny(unsafe_code)]

use super::fill;
use crate::{
    abi::{
        self, cmd, cmd_attr, conn_flag, dest_attr, svc_attr, tunnel_type, AF_INET, AF_INET6,
        IPPROTO_TCP,
    },
    config_rules::{self, Refusal},
    ffi::{
        errno,
        genl::{Attr, Dump, Request},
        netfilter::Family,
        params,
        pernet::{self, AddrType, Net},
        rcu, timer,
    },
    netns::{self, NetState},
    sched,
    service::{
        Dest, DestKey, DestParams, DestShared, PersistenceEngine, Service, ServiceKey,
        ServiceParams,
    },
};
use core::sync::atomic::Ordering;
use kernel::{prelude::*, sync::Arc};

fn refusal(r: Refusal) -> Error {
    match r {
        Refusal::Invalid => EINVAL,
        Refusal::OutOfRange => ERANGE,
    }
}

/// The "full entry" part of a service nest (`NEW_SERVICE`, `SET_SERVICE`).
struct FullService<'a> {
    sched_name: &'a [u8],
    pe_name: Option<&'a [u8]>,
    flags: u32,
    mask: u32,
    timeout: u32,
    netmask: u32,
}

/// A parsed service nest (`ip_vs_genl_parse_service`).
struct ServiceRequest<'a> {
    key: ServiceKey,
    full: Option<FullService<'a>>,
}

fn af_valid(af: u16) -> bool {
    af == AF_INET || (af == AF_INET6 && params::ipv6_enabled())
}

fn parse_service(attr: Option<Attr<'_>>, full: bool) -> Result<ServiceRequest<'_>> {
    let nest = attr.ok_or(EINVAL)?.nested(&super::policy::SERVICE)?;
    let af = nest.get(svc_attr::AF);
    let fwmark = nest.get(svc_attr::FWMARK);
    let protocol = nest.get(svc_attr::PROTOCOL);
    let addr = nest.get(svc_attr::ADDR);
    let port = nest.get(svc_attr::PORT);
    let (Some(af), true) = (
        af,
        fwmark.is_some() || (port.is_some() && protocol.is_some() && addr.is_some()),
    ) else {
        return Err(EINVAL);
    };
    let af = af.u16()?;
    if !af_valid(af) {
        return Err(errno::eafnosupport());
    }
    let key = match (fwmark, protocol, addr, port) {
        (Some(mark), ..) => match mark.u32()? {
            // A zero mark leaves a TCP service on address 0, port 0, as in IPVS.
            0 => ServiceKey::Tuple {
                af,
                protocol: IPPROTO_TCP,
                addr: [0; 16],
                port: 0,
            },
            mark => ServiceKey::Fwmark { af, mark },
        },
        (None, Some(protocol), Some(addr), Some(port)) => ServiceKey::Tuple {
            af,
            protocol: protocol.u16()?,
            addr: config_rules::normalize_addr(af, addr.padded()),
            port: port.be16()?,
        },
        _ => return Err(EINVAL),
    };
    let full = if full {
        let (Some(sched), Some(flags), Some(timeout), Some(netmask)) = (
            nest.get(svc_attr::SCHED_NAME),
            nest.get(svc_attr::FLAGS),
            nest.get(svc_attr::TIMEOUT),
            nest.get(svc_attr::NETMASK),
        ) else {
            return Err(EINVAL);
        };
        let (flags, mask) = abi::flags_parts(flags.padded());
        Some(FullService {
            sched_name: sched.c_str(),
            pe_name: nest.get(svc_attr::PE_NAME).map(|a| a.c_str()),
            flags,
            mask,
            timeout: timeout.u32()?,
            netmask: netmask.u32()?,
        })
    } else {
        None
    };
    Ok(ServiceRequest { key, full })
}

/// A parsed destination nest (`ip_vs_genl_parse_dest`); `af` 0 means "the service's".
struct DestRequest {
    af: u16,
    addr: [u8; 16],
    port: u16,
    fwd: u32,
    weight: u32,
    u_threshold: u32,
    l_threshold: u32,
    tun_type: u8,
    tun_port: u16,
    tun_flags: u16,
}

fn parse_dest(attr: Option<Attr<'_>>, full: bool) -> Result<DestRequest> {
    let nest = attr.ok_or(EINVAL)?.nested(&super::policy::DEST)?;
    let (Some(addr), Some(port)) = (nest.get(dest_attr::ADDR), nest.get(dest_attr::PORT)) else {
        return Err(EINVAL);
    };
    let mut req = DestRequest {
        af: nest
            .get(dest_attr::ADDR_FAMILY)
            .map(|a| a.u16())
            .transpose()?
            .unwrap_or(0),
        addr: addr.padded(),
        port: port.be16()?,
        fwd: 0,
        weight: 0,
        u_threshold: 0,
        l_threshold: 0,
        tun_type: tunnel_type::IPIP,
        tun_port: 0,
        tun_flags: 0,
    };
    if full {
        let (Some(fwd), Some(weight), Some(u), Some(l)) = (
            nest.get(dest_attr::FWD_METHOD),
            nest.get(dest_attr::WEIGHT),
            nest.get(dest_attr::U_THRESH),
            nest.get(dest_attr::L_THRESH),
        ) else {
            return Err(EINVAL);
        };
        req.fwd = fwd.u32()? & conn_flag::FWD_MASK;
        req.weight = weight.u32()?;
        req.u_threshold = u.u32()?;
        req.l_threshold = l.u32()?;
        if let Some(a) = nest.get(dest_attr::TUN_TYPE) {
            req.tun_type = a.u8()?;
        }
        if let Some(a) = nest.get(dest_attr::TUN_PORT) {
            req.tun_port = a.be16()?;
        }
        if let Some(a) = nest.get(dest_attr::TUN_FLAGS) {
            req.tun_flags = a.u16()?;
        }
    }
    Ok(req)
}

/// The service, destination, `FLUSH` and `ZERO` commands.
pub(crate) fn set_cmd(request: &Request<'_>) -> Result {
    let net = request.net();
    let state = netns::state(net)?;
    let command = request.cmd();
    if command == cmd::FLUSH {
        return flush(net, state);
    }
    let svc_attr = request.attr(cmd_attr::SERVICE);
    if command == cmd::ZERO && svc_attr.is_none() {
        zero_all(state);
        return Ok(());
    }
    let svc_req = parse_service(
        svc_attr,
        command == cmd::NEW_SERVICE || command == cmd::SET_SERVICE,
    )?;

    // Commands are serialised (genetlink mutex), so the version found here stays the current
    // one until this command replaces it. Building the next version allocates (sleeps): a
    // reference, not an RCU read section.
    let Some(svc) = state.services.get(&svc_req.key) else {
        return match command {
            cmd::NEW_SERVICE => add_service(net, state, svc_req),
            _ => Err(ESRCH),
        };
    };

    let dest_req = match command {
        cmd::NEW_DEST | cmd::SET_DEST | cmd::DEL_DEST => {
            let mut d = parse_dest(request.attr(cmd_attr::DEST), command != cmd::DEL_DEST)?;
            if d.af == 0 {
                d.af = svc.key.af();
            }
            if !af_valid(d.af) {
                return Err(errno::eafnosupport());
            }
            // Only tunnelling can reach a real server of another address family, and the sync
            // protocol cannot carry its connections: none while a daemon runs.
            if d.af != svc.key.af()
                && command != cmd::DEL_DEST
                && (d.fwd != conn_flag::TUNNEL || state.sync.any_running())
            {
                return Err(EINVAL);
            }
            Some(d)
        }
        _ => None,
    };

    match (command, dest_req) {
        (cmd::NEW_SERVICE, _) => Err(EEXIST),
        (cmd::SET_SERVICE, _) => {
            let full = svc_req.full.ok_or(EINVAL)?;
            let params = service_params(svc_req.key.af(), &full, svc.params.flags)?;
            let next = Arc::new(svc.with_params(params)?, GFP_KERNEL)?;
            state.services.replace(&svc, next)
        }
        (cmd::DEL_SERVICE, _) => del_service(net, state, &svc),
        (cmd::ZERO, _) => {
            svc.zero_stats();
            Ok(())
        }
        (cmd::NEW_DEST, Some(d)) => add_dest(net, state, &svc, &d),
        (cmd::SET_DEST, Some(d)) => edit_dest(state, &svc, &d),
        (cmd::DEL_DEST, Some(d)) => del_dest(state, &svc, &d),
        _ => Err(EINVAL),
    }
}

/// A destination of service `svc` left it: its connections stop forwarding, it leaves the
/// real-server index (`__ip_vs_unlink_dest`) and goes to the dest trash (`__ip_vs_del_dest`).
fn retire(state: &NetState, svc: &ServiceKey, dest: &Dest) {
    dest.shared.set_unavailable();
    state.services.unindex_dest(svc, &dest.key, &dest.params);
    state.dest_trash.put(svc, &dest.key, dest.shared.clone());
}

/// With `expire_nodest_conn`, the connections of retired destinations go at once rather than
/// at their next packet.
fn expire_retired(state: &NetState) {
    if state.sysctl.expire_nodest_conn.load(Ordering::Relaxed) != 0 {
        state.conns.flush(true);
    }
}

/// Unhooks netfilter for a family once its last service is gone (`ip_vs_unregister_hooks`): a
/// namespace without services of a family pays nothing per packet of it.
fn unhook_if_idle(net: &Net, state: &NetState) -> Result {
    for af in [AF_INET, AF_INET6] {
        if state.services.count_of(af) == 0 {
            net.set_hooks::<NetState>(hook_family(af), false)?;
        }
    }
    Ok(())
}

/// The hooks that see the packets of a service of family `af`.
fn hook_family(af: u16) -> Family {
    if af == AF_INET6 {
        Family::Ipv6
    } else {
        Family::Ipv4
    }
}

/// `FLUSH` (`ip_vs_flush`): every service goes, with its destinations.
fn flush(net: &Net, state: &NetState) -> Result {
    let mut retired = false;
    state.services.remove_all(|svc| {
        for dest in svc.dests.iter() {
            retire(state, &svc.key, dest);
            retired = true;
        }
    });
    if retired {
        expire_retired(state);
    }
    unhook_if_idle(net, state)
}

/// `DEL_SERVICE` (`ip_vs_del_service`).
fn del_service(net: &Net, state: &NetState, svc: &Service) -> Result {
    if !state.services.remove(svc) {
        return Err(ESRCH);
    }
    for dest in svc.dests.iter() {
        retire(state, &svc.key, dest);
    }
    if !svc.dests.is_empty() {
        expire_retired(state);
    }
    unhook_if_idle(net, state)
}

/// Puts `next`, a version of `svc` with other destinations, in its place; its scheduler learns
/// them just before, once nothing can fail any more.
fn replace_dests(state: &NetState, svc: &Service, next: Service) -> Result {
    let next = Arc::new(next, GFP_KERNEL)?;
    next.reschedule();
    state.services.replace(svc, next)
}

/// The parameters of a new or edited service (`ip_vs_add_service`, `ip_vs_edit_service`), whose
/// current flags are `old_flags`: the scheduler (`-ENOENT` if unknown), then the persistence
/// engine (`-ENOENT` if unknown; none when the request names none, so that an edit without one
/// removes it, as in IPVS), then the IPv6 prefix length (`-EINVAL`).
fn service_params(af: u16, full: &FullService<'_>, old_flags: u32) -> Result<ServiceParams> {
    let scheduler = sched::lookup(full.sched_name).map_err(|()| ENOENT)?;
    let pe = match full.pe_name.filter(|name| !name.is_empty()) {
        Some(name) => Some(PersistenceEngine::by_name(name).ok_or(ENOENT)?),
        None => None,
    };
    if !config_rules::netmask_valid(af, full.netmask) {
        return Err(EINVAL);
    }
    Ok(ServiceParams {
        flags: config_rules::merge_flags(old_flags, full.flags, full.mask),
        scheduler,
        timeout_ticks: config_rules::timeout_ticks(full.timeout, timer::hz()),
        netmask: full.netmask,
        pe,
    })
}

/// `ip_vs_add_service`.
fn add_service(net: &Net, state: &NetState, req: ServiceRequest<'_>) -> Result {
    let full = req.full.ok_or(EINVAL)?;
    let service = Service::new(req.key, service_params(req.key.af(), &full, 0)?)?;
    // Before the service exists, so that its first packets are seen.
    net.set_hooks::<NetState>(hook_family(req.key.af()), true)?;
    let result = state.services.insert(service);
    if result.is_err() {
        unhook_if_idle(net, state)?;
    }
    result
}

/// The parameters of a destination, checked beforehand with [`check_dest`].
fn dest_params(d: &DestRequest, last_weight: i32) -> DestParams {
    let weight = d.weight as i32;
    DestParams {
        fwd: d.fwd,
        weight,
        last_weight: if weight != 0 { weight } else { last_weight },
        u_threshold: d.u_threshold,
        l_threshold: d.l_threshold,
        tun_type: d.tun_type,
        tun_port: d.tun_port,
        tun_flags: d.tun_flags,
    }
}

/// IPVS's checks of a destination's numbers, made before it looks the destination up.
fn check_dest(d: &DestRequest) -> Result {
    config_rules::check_dest(
        d.weight,
        d.u_threshold,
        d.l_threshold,
        d.tun_type,
        d.tun_port,
    )
    .map_err(refusal)
}

fn dest_key(d: &DestRequest) -> DestKey {
    DestKey {
        af: d.af,
        addr: config_rules::normalize_addr(d.af, d.addr),
        port: d.port,
    }
}

/// `ip_vs_add_dest` + `ip_vs_new_dest`: the service gets a new destination.
fn add_dest(net: &Net, state: &NetState, svc: &Service, d: &DestRequest) -> Result {
    check_dest(d)?;
    let key = dest_key(d);
    if svc.find_dest(&key).is_some() {
        return Err(EEXIST);
    }
    let address_ok = if d.af == AF_INET6 {
        pernet::ipv6_unicast_not_link_local(&key.addr)
    } else {
        let v4 = [key.addr[0], key.addr[1], key.addr[2], key.addr[3]];
        matches!(net.ipv4_addr_type(v4), AddrType::Local | AddrType::Unicast)
    };
    if !address_ok {
        return Err(EINVAL);
    }
    let params = dest_params(d, d.weight as i32);
    // The same real server back in the same service gets its old destination, and with it the
    // connections that still use it (`ip_vs_trash_get_dest`).
    // It is available before the scheduler can pick it.
    let revived = state.dest_trash.take(&svc.key, &key);
    let shared = match &revived {
        Some(shared) => {
            shared.update(&params);
            shared.set_available();
            shared.clone()
        }
        None => Arc::new(DestShared::new(&params)?, GFP_KERNEL)?,
    };
    let dest = Dest {
        key,
        params,
        shared: shared.clone(),
    };
    let result = state
        .services
        .index_dest(&svc.key, &key, &params)
        .and_then(|()| {
            let result = svc
                .with_dest_added(dest)
                .and_then(|next| replace_dests(state, svc, next));
            if result.is_err() {
                state.services.unindex_dest(&svc.key, &key, &params);
            }
            result
        });
    if let (Err(_), Some(shared)) = (&result, revived) {
        shared.set_unavailable();
        state.dest_trash.put(&svc.key, &key, shared);
    }
    result
}

/// `ip_vs_edit_dest`: a destination's parameters change.
fn edit_dest(state: &NetState, svc: &Service, d: &DestRequest) -> Result {
    check_dest(d)?;
    let key = dest_key(d);
    let (index, old) = svc.find_dest(&key).ok_or(ENOENT)?;
    let params = dest_params(d, old.params.last_weight);
    let dest = Dest {
        key,
        params,
        shared: old.shared.clone(),
    };
    state.services.index_dest(&svc.key, &key, &params)?;
    let result = svc
        .with_dest_replaced(index, dest)
        .and_then(|next| replace_dests(state, svc, next));
    // The index keeps the settings in use: the new ones once they are, the old ones otherwise.
    match result {
        Ok(()) => {
            old.shared.update(&params);
            state.services.unindex_dest(&svc.key, &old.key, &old.params);
        }
        Err(_) => state.services.unindex_dest(&svc.key, &key, &params),
    }
    result
}

/// `ip_vs_del_dest`: a destination leaves the service.
fn del_dest(state: &NetState, svc: &Service, d: &DestRequest) -> Result {
    let (index, old) = svc.find_dest(&dest_key(d)).ok_or(ENOENT)?;
    replace_dests(state, svc, svc.with_dest_removed(index)?)?;
    retire(state, &svc.key, old);
    expire_retired(state);
    Ok(())
}

/// Whether a service has a real server of another address family
/// (`mixed_address_family_dests`), which the sync protocol cannot carry.
pub(crate) fn has_mixed_family_dests(state: &NetState) -> bool {
    let guard = rcu::Guard::new();
    let mixed = state
        .services
        .iter(&guard)
        .any(|svc| svc.dests.iter().any(|d| d.key.af != svc.key.af()));
    mixed
}

/// `ZERO` without a service: every service, every destination and the namespace's totals.
fn zero_all(state: &NetState) {
    let guard = rcu::Guard::new();
    for svc in state.services.iter(&guard) {
        svc.zero_stats();
    }
    state.stats.zero();
}

/// `GET_SERVICE` (doit): one service, in a `NEW_SERVICE` reply.
pub(crate) fn get_service(request: &Request<'_>) -> Result {
    let req = parse_service(request.attr(cmd_attr::SERVICE), false)?;
    // The reply is allocated (may sleep): a reference keeps the service alive meanwhile.
    let svc = netns::state(request.net())?
        .services
        .get(&req.key)
        .ok_or(ESRCH)?;
    let mut reply = request.reply(cmd::NEW_SERVICE)?;
    fill::service(&mut reply.attrs(), &svc, timer::hz())?;
    reply.send()
}

/// Where a dump of services stopped: the bucket, and how many of its services were sent. A
/// batch resumes there without walking the services before it; while no command runs, the dump
/// neither repeats nor skips a service.
struct Cursor {
    bucket: usize,
    sent: usize,
}

impl Cursor {
    const SENT_BITS: u32 = 32;

    fn of(dump: &Dump<'_>) -> Self {
        let position = dump.position();
        Self {
            bucket: position >> Self::SENT_BITS,
            sent: position & ((1 << Self::SENT_BITS) - 1),
        }
    }

    fn save(&self, dump: &mut Dump<'_>) {
        let sent = self.sent.min((1 << Self::SENT_BITS) - 1);
        dump.set_position(self.bucket << Self::SENT_BITS | sent);
    }
}

/// `GET_SERVICE` (dump): every service of the namespace, one `NEW_SERVICE` message each, bucket
/// by bucket (the address services first, as IPVS sends them).
pub(crate) fn dump_services(dump: &mut Dump<'_>) -> Result {
    let state = netns::state(dump.net())?;
    let hz = timer::hz();
    let guard = rcu::Guard::new();
    let table = &state.services;
    let mut cursor = Cursor::of(dump);
    while cursor.bucket < table.buckets() {
        for svc in table.bucket(cursor.bucket, &guard).skip(cursor.sent) {
            if !dump.add(cmd::NEW_SERVICE, |w| fill::service(w, &svc, hz))? {
                cursor.save(dump);
                return Ok(());
            }
            cursor.sent += 1;
        }
        cursor.bucket += 1;
        cursor.sent = 0;
    }
    cursor.save(dump);
    Ok(())
}

/// `GET_DEST` (dump): the destinations of the service the request names, one `NEW_DEST` message
/// each. A missing or malformed service gives an empty dump, as in IPVS.
pub(crate) fn dump_dests(dump: &mut Dump<'_>) -> Result {
    let Ok(attrs) = dump.request_attrs() else {
        return Ok(());
    };
    let Ok(req) = parse_service(attrs.get(cmd_attr::SERVICE), false) else {
        return Ok(());
    };
    let state = netns::state(dump.net())?;
    let guard = rcu::Guard::new();
    let Some(svc) = state.services.find(&req.key, &guard) else {
        return Ok(());
    };
    let mut sent = dump.position();
    for dest in svc.dests.iter().skip(sent) {
        if !dump.add(cmd::NEW_DEST, |w| fill::dest(w, dest))? {
            break;
        }
        sent += 1;
    }
    dump.set_position(sent);
    Ok(())
}
