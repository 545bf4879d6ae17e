// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks: per-namespace registration of the shim's `nf_hook_ops` table and the Rust
//! entry points it points to.
//!
//! C header: [`include/linux/netfilter.h`](srctree/include/linux/netfilter.h)

use super::sys;
use crate::hooks::{self, HookPoint, Verdict};
use core::ptr::NonNull;
use kernel::{ffi::c_void, prelude::*};

/// The registration of rvs's hooks (IPVS's points and priorities) in one namespace.
///
/// # Invariants
///
/// The hooks are registered in `net` while this object exists, and `net` is alive.
pub(crate) struct HookRegistration {
    net: NonNull<sys::net>,
}

impl HookRegistration {
    /// Registers the hooks in `net`.
    ///
    /// # Safety
    ///
    /// `net` must be a live namespace, and the returned object must be dropped before the
    /// namespace is dismantled (in practice: from its pernet `exit`).
    pub(crate) unsafe fn new(net: *mut sys::net) -> Result<Self> {
        let net = NonNull::new(net).ok_or(EINVAL)?;
        // SAFETY: `net` is live (caller's guarantee); the ops table is static.
        let ret = unsafe { sys::rvs_nf_register(net.as_ptr()) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered just above; the caller keeps `net` alive until drop.
        Ok(Self { net })
    }
}

impl Drop for HookRegistration {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the hooks are registered in the live `net`.
        // `nf_unregister_net_hooks` waits until no CPU runs them any more.
        unsafe { sys::rvs_nf_unregister(self.net.as_ptr()) };
    }
}

fn to_nf_verdict(verdict: Verdict) -> u32 {
    match verdict {
        Verdict::Accept => sys::NF_ACCEPT,
    }
}

/// `NF_INET_LOCAL_IN` / `NF_INET_LOCAL_OUT` request direction (IPVS's `ip_vs_in_hook`).
///
/// # Safety
///
/// Called by netfilter only, with a valid `skb` and `state` for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_nf_in(
    _priv: *mut c_void,
    _skb: *mut sys::sk_buff,
    _state: *const sys::nf_hook_state,
) -> u32 {
    to_nf_verdict(hooks::on_packet(HookPoint::Request))
}

/// Reply direction on `LOCAL_IN`, `LOCAL_OUT` and `FORWARD` (IPVS's `ip_vs_out_hook`).
///
/// # Safety
///
/// Called by netfilter only, with a valid `skb` and `state` for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_nf_out(
    _priv: *mut c_void,
    _skb: *mut sys::sk_buff,
    _state: *const sys::nf_hook_state,
) -> u32 {
    to_nf_verdict(hooks::on_packet(HookPoint::Reply))
}

/// ICMP errors in transit on `FORWARD` (IPVS's `ip_vs_forward_icmp`).
///
/// # Safety
///
/// Called by netfilter only, with a valid `skb` and `state` for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_nf_forward_icmp(
    _priv: *mut c_void,
    _skb: *mut sys::sk_buff,
    _state: *const sys::nf_hook_state,
) -> u32 {
    to_nf_verdict(hooks::on_packet(HookPoint::ForwardIcmp))
}
