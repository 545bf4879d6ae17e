// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks: per-namespace registration of the shim's `nf_hook_ops` table and the Rust
//! entry points it points to.
//!
//! C header: [`include/linux/netfilter.h`](srctree/include/linux/netfilter.h)

use super::{
    pernet::Net,
    skb::{Packet, Verdict},
    sys,
};
use crate::hooks::{self, HookPoint};
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{ffi::c_void, prelude::*};

/// Whether rvs's hooks (IPVS's points and priorities) are registered in a namespace. Like IPVS
/// (`ip_vs_register_hooks`), rvs hooks a namespace only while it has services, so that a host
/// without virtual services pays nothing per packet.
pub(crate) struct HookSwitch {
    on: AtomicBool,
}

impl HookSwitch {
    /// Hooks not registered.
    pub(crate) const fn new() -> Self {
        Self {
            on: AtomicBool::new(false),
        }
    }

    /// Registers (`on`) or unregisters the hooks in `net`, the namespace this switch belongs to.
    /// Sleeps. Callers are serialised: netlink commands by the genetlink mutex, and the
    /// namespace's `exit`, which turns the hooks off for good, runs after every command.
    pub(crate) fn set(&self, net: &Net, on: bool) -> Result {
        if self.on.load(Ordering::Acquire) == on {
            return Ok(());
        }
        if on {
            // SAFETY: `net` is alive (invariant of `Net`); the ops table is static; the hooks
            // are unregistered by `set(net, false)` from the namespace's `exit` at the latest.
            let ret = unsafe { sys::rvs_nf_register(net.as_ptr()) };
            if ret < 0 {
                return Err(Error::from_errno(ret));
            }
        } else {
            // SAFETY: registered in this live namespace (the flag says so). Unregistering waits
            // until no CPU runs the hooks any more.
            unsafe { sys::rvs_nf_unregister(net.as_ptr()) };
        }
        self.on.store(on, Ordering::Release);
        Ok(())
    }
}

/// Runs the packet path for a hook invocation and returns netfilter's verdict.
///
/// # Safety
///
/// `skb` and `state` must be the arguments of an IPv4 netfilter hook of rvs, valid for the call.
unsafe fn run(point: HookPoint, skb: *mut sys::sk_buff, state: *const sys::nf_hook_state) -> u32 {
    // SAFETY: netfilter passes a valid state for the duration of the hook.
    let (net, hook) = unsafe { ((*state).net, (*state).hook) };
    // SAFETY: the hooks run only while they are registered in a live namespace whose rvs state
    // exists (unregistration, which waits for running hooks, comes before the state is freed).
    let net = unsafe { super::pernet::Net::from_raw(net) };
    // SAFETY: `skb` is the hook's packet; the verdict computed from it is returned below.
    let Some(packet) = (unsafe { Packet::from_raw(skb) }) else {
        return Verdict::Accept.to_nf();
    };
    let at = match u32::from(hook) {
        sys::nf_inet_hooks_NF_INET_LOCAL_IN => hooks::Hook::LocalIn,
        sys::nf_inet_hooks_NF_INET_LOCAL_OUT => hooks::Hook::LocalOut,
        _ => hooks::Hook::Forward,
    };
    hooks::on_packet(point, at, net, packet).to_nf()
}

/// `NF_INET_LOCAL_IN` / `NF_INET_LOCAL_OUT` request direction (IPVS's `ip_vs_in_hook`).
///
/// # Safety
///
/// Called by netfilter only, with a valid `skb` and `state` for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_nf_in(
    _priv: *mut c_void,
    skb: *mut sys::sk_buff,
    state: *const sys::nf_hook_state,
) -> u32 {
    // SAFETY: as promised by netfilter.
    unsafe { run(HookPoint::Request, skb, state) }
}

/// Reply direction on `LOCAL_IN`, `LOCAL_OUT` and `FORWARD` (IPVS's `ip_vs_out_hook`).
///
/// # Safety
///
/// Called by netfilter only, with a valid `skb` and `state` for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_nf_out(
    _priv: *mut c_void,
    skb: *mut sys::sk_buff,
    state: *const sys::nf_hook_state,
) -> u32 {
    // SAFETY: as promised by netfilter.
    unsafe { run(HookPoint::Reply, skb, state) }
}

/// ICMP errors in transit on `FORWARD` (IPVS's `ip_vs_forward_icmp`).
///
/// # Safety
///
/// Called by netfilter only, with a valid `skb` and `state` for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_nf_forward_icmp(
    _priv: *mut c_void,
    skb: *mut sys::sk_buff,
    state: *const sys::nf_hook_state,
) -> u32 {
    // SAFETY: as promised by netfilter.
    unsafe { run(HookPoint::ForwardIcmp, skb, state) }
}
