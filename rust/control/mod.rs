// SPDX-License-Identifier: GPL-2.0

//! The control plane: the IPVS generic netlink commands, as `ip_vs_ctl.c` implements them.
//!
//! Every command of the family is handled, the connection synchronisation daemons' included.

#![deny(unsafe_code)]

mod fill;
mod policy;
pub(crate) mod proc;
mod services;

use crate::{
    abi::{self, cmd, cmd_attr, daemon_attr, info_attr},
    ffi::{
        errno,
        genl::{Command, Dump, Family, Policy, Request},
        timer,
    },
    netns,
    sync_config::{self, DaemonConfig},
    timeouts,
};
use kernel::{c_str, prelude::*, str::CStr};

/// The `"IPVS"` generic netlink family (`ip_vs_genl_family`).
pub(crate) struct Ipvs;

/// A command with a `doit`, a `dumpit`, or both (`ip_vs_genl_ops`).
const fn command(cmd: u8, doit: bool, dumpit: bool) -> Command {
    Command { cmd, doit, dumpit }
}

impl Family for Ipvs {
    const NAME: &'static CStr = c_str!("IPVS");
    const VERSION: u32 = abi::GENL_VERSION as u32;
    const POLICY: &'static [Policy] = &policy::COMMAND;
    const COMMANDS: &'static [Command] = &[
        command(cmd::NEW_SERVICE, true, false),
        command(cmd::SET_SERVICE, true, false),
        command(cmd::DEL_SERVICE, true, false),
        command(cmd::GET_SERVICE, true, true),
        command(cmd::NEW_DEST, true, false),
        command(cmd::SET_DEST, true, false),
        command(cmd::DEL_DEST, true, false),
        command(cmd::GET_DEST, false, true),
        command(cmd::NEW_DAEMON, true, false),
        command(cmd::DEL_DAEMON, true, false),
        command(cmd::GET_DAEMON, false, true),
        command(cmd::SET_CONFIG, true, false),
        command(cmd::GET_CONFIG, true, false),
        command(cmd::GET_INFO, true, false),
        command(cmd::ZERO, true, false),
        command(cmd::FLUSH, true, false),
    ];
    // IPVS's commands predate strict validation.
    const STRICT_FROM: u8 = cmd::FLUSH + 1;

    fn doit(request: &Request<'_>) -> Result {
        doit(request)
    }

    fn dumpit(dump: &mut Dump<'_>) -> Result {
        dumpit(dump)
    }
}

/// Handles a `doit` request.
fn doit(request: &Request<'_>) -> Result {
    match request.cmd() {
        cmd::GET_INFO => get_info(request),
        cmd::GET_CONFIG => get_config(request),
        cmd::SET_CONFIG => set_config(request),
        cmd::GET_SERVICE => services::get_service(request),
        cmd::NEW_SERVICE
        | cmd::SET_SERVICE
        | cmd::DEL_SERVICE
        | cmd::NEW_DEST
        | cmd::SET_DEST
        | cmd::DEL_DEST
        | cmd::ZERO
        | cmd::FLUSH => services::set_cmd(request),
        cmd::NEW_DAEMON | cmd::DEL_DAEMON => set_daemon(request),
        _ => Err(EINVAL),
    }
}

/// Handles one batch of a dump.
fn dumpit(dump: &mut Dump<'_>) -> Result {
    match dump.cmd() {
        cmd::GET_SERVICE => services::dump_services(dump),
        cmd::GET_DEST => services::dump_dests(dump),
        cmd::GET_DAEMON => dump_daemons(dump),
        _ => Err(errno::eopnotsupp()),
    }
}

/// `NEW_DAEMON` / `DEL_DAEMON` (`ip_vs_genl_set_daemon`, `ip_vs_genl_new_daemon`,
/// `ip_vs_genl_del_daemon`): the daemon nest's checks in IPVS's order, then the start or stop.
fn set_daemon(request: &Request<'_>) -> Result {
    let nest = request
        .attr(cmd_attr::DAEMON)
        .ok_or(EINVAL)?
        .nested(&policy::DAEMON)?;
    let state = nest.get(daemon_attr::STATE).ok_or(EINVAL)?.u32()?;
    let net_state = netns::state(request.net())?;
    let daemons = &net_state.sync;
    if request.cmd() == cmd::DEL_DAEMON {
        return daemons.stop(state);
    }
    let (Some(ifname), Some(syncid)) = (
        nest.get(daemon_attr::MCAST_IFN),
        nest.get(daemon_attr::SYNC_ID),
    ) else {
        return Err(EINVAL);
    };
    let mut config = DaemonConfig {
        syncid: syncid.u32()?,
        ..Default::default()
    };
    config.set_ifname(ifname.c_str());
    if let Some(maxlen) = nest.get(daemon_attr::SYNC_MAXLEN) {
        config.sync_maxlen = maxlen.u16()?;
    }
    if let Some(group) = nest.get(daemon_attr::MCAST_GROUP) {
        let group = group.padded::<4>();
        if !sync_config::is_multicast(group) {
            return Err(EINVAL);
        }
        config.group = Some(group);
    } else if let Some(group) = nest.get(daemon_attr::MCAST_GROUP6) {
        // `ipv6_addr_type(...) & IPV6_ADDR_MULTICAST`: ff00::/8.
        if group.padded::<16>()[0] != 0xff {
            return Err(EINVAL);
        }
        config.ipv6_group = true;
    }
    if let Some(port) = nest.get(daemon_attr::MCAST_PORT) {
        config.port = port.u16()?;
    }
    if let Some(ttl) = nest.get(daemon_attr::MCAST_TTL) {
        config.ttl = ttl.u8()?;
    }
    // The sync protocol cannot carry connections to a real server of another address family.
    if services::has_mixed_family_dests(net_state) {
        return Err(EINVAL);
    }
    daemons.start(request.net(), state, config, net_state.sync_sockets())
}

/// `GET_DAEMON` (`ip_vs_genl_dump_daemons`): one `NEW_DAEMON` message per running daemon,
/// master first; the dump's position has a bit per daemon already sent.
fn dump_daemons(dump: &mut Dump<'_>) -> Result {
    let running = netns::state(dump.net())?.sync.running();
    for (bit, daemon) in running.iter().enumerate() {
        let Some((state, config)) = daemon else {
            continue;
        };
        let sent = dump.position();
        if sent & (1 << bit) != 0 {
            continue;
        }
        let added = dump.add(cmd::NEW_DAEMON, |attrs| {
            attrs.nest(cmd_attr::DAEMON, |d| fill::daemon(d, *state, config))
        })?;
        if !added {
            break;
        }
        dump.set_position(sent | 1 << bit);
    }
    Ok(())
}

/// `IPVS_CMD_GET_INFO`: the IPVS version and the connection table size (`ip_vs_genl_get_cmd`):
/// the namespace's current size, which is IPVS's until the table grows.
fn get_info(request: &Request<'_>) -> Result {
    let buckets = netns::state(request.net())?.conns.buckets();
    let table_size = u32::try_from(buckets).unwrap_or(u32::MAX);
    let mut reply = request.reply(cmd::SET_INFO)?;
    let mut attrs = reply.attrs();
    attrs.put_u32(info_attr::VERSION, abi::version_code(abi::VERSION))?;
    attrs.put_u32(info_attr::CONN_TAB_SIZE, table_size)?;
    reply.send()
}

/// `IPVS_CMD_GET_CONFIG`: the namespace's TCP, TCP FIN and UDP timeouts, in a `SET_CONFIG` reply.
fn get_config(request: &Request<'_>) -> Result {
    let current = netns::state(request.net())?.timeouts();
    let mut reply = request.reply(cmd::SET_CONFIG)?;
    let mut attrs = reply.attrs();
    attrs.put_u32(cmd_attr::TIMEOUT_TCP, current.tcp)?;
    attrs.put_u32(cmd_attr::TIMEOUT_TCP_FIN, current.tcp_fin)?;
    attrs.put_u32(cmd_attr::TIMEOUT_UDP, current.udp)?;
    reply.send()
}

/// `IPVS_CMD_SET_CONFIG`: changes the timeouts that are given and non-zero; `-EINVAL`, changing
/// nothing, if one is out of range (`ip_vs_set_timeout`).
fn set_config(request: &Request<'_>) -> Result {
    let seconds = |kind| request.attr(kind).map(|attr| attr.u32()).transpose();
    let tcp = seconds(cmd_attr::TIMEOUT_TCP)?;
    let tcp_fin = seconds(cmd_attr::TIMEOUT_TCP_FIN)?;
    let udp = seconds(cmd_attr::TIMEOUT_UDP)?;
    let state = netns::state(request.net())?;
    let new = timeouts::apply(state.timeouts(), tcp, tcp_fin, udp, timer::hz()).ok_or(EINVAL)?;
    state.set_timeouts(new);
    Ok(())
}
