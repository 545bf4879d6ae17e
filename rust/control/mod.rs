// SPDX-License-Identifier: GPL-2.0

//! The control plane: the IPVS generic netlink commands, as `ip_vs_ctl.c` implements them.
//!
//! Implemented so far: `GET_INFO`, `GET_CONFIG`, `SET_CONFIG`, and the dumps of services, dests
//! and daemons (empty: no command creates services yet). The other commands answer
//! `-EOPNOTSUPP`, which ipvsadm and keepalived report as "Operation not supported".

#![deny(unsafe_code)]

use crate::{
    abi::{self, cmd, cmd_attr, info_attr},
    conn_table,
    ffi::{
        errno,
        genl::{Dump, Request},
        params,
    },
    timeouts,
};
use kernel::prelude::*;

/// Handles a `doit` request.
pub(crate) fn doit(request: &Request<'_>) -> Result {
    match request.cmd() {
        cmd::GET_INFO => get_info(request),
        cmd::GET_CONFIG => get_config(request),
        cmd::SET_CONFIG => set_config(request),
        _ => Err(errno::eopnotsupp()),
    }
}

/// Handles one batch of a dump.
pub(crate) fn dumpit(dump: &mut Dump<'_>) -> Result {
    match dump.cmd() {
        // No command can create services or start daemons yet: the tables are empty, and so are
        // these dumps (a dump of the dests of a missing service is empty in IPVS too).
        cmd::GET_SERVICE | cmd::GET_DEST | cmd::GET_DAEMON => Ok(()),
        _ => Err(errno::eopnotsupp()),
    }
}

/// `IPVS_CMD_GET_INFO`: the IPVS version and the connection table size (`ip_vs_genl_get_cmd`).
fn get_info(request: &Request<'_>) -> Result {
    let table_size = conn_table::size_for(conn_table::bits_for(params::conn_tab_bits()));
    let mut reply = request.reply(cmd::SET_INFO)?;
    let mut attrs = reply.attrs();
    attrs.put_u32(info_attr::VERSION, abi::version_code(abi::VERSION))?;
    attrs.put_u32(info_attr::CONN_TAB_SIZE, table_size)?;
    reply.send()
}

/// `IPVS_CMD_GET_CONFIG`: the namespace's TCP, TCP FIN and UDP timeouts, in a `SET_CONFIG` reply.
fn get_config(request: &Request<'_>) -> Result {
    let current = request.net().state().timeouts();
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
    let state = request.net().state();
    let new = timeouts::apply(state.timeouts(), tcp, tcp_fin, udp, params::hz()).ok_or(EINVAL)?;
    state.set_timeouts(new);
    Ok(())
}
