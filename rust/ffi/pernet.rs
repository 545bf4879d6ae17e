// SPDX-License-Identifier: GPL-2.0

//! Network namespaces: the pernet subsystem registration and per-namespace state.
//!
//! C header: [`include/net/net_namespace.h`](srctree/include/net/net_namespace.h)
//!
//! The C shim declares a `pernet_operations` whose `net_generic` slot holds one pointer. Between
//! `rvs_rs_net_init` and `rvs_rs_net_exit` that pointer owns the namespace's `KBox<PerNet>`.

use super::{netfilter::HookRegistration, sys};
use crate::netns::NetState;
use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{error::from_result, ffi::c_int, prelude::*, types::Opaque};

/// A network namespace (`struct net`).
///
/// # Invariants
///
/// The namespace is alive for as long as a reference to this type exists, and the rvs pernet
/// subsystem is registered, so its slot is initialised.
#[repr(transparent)]
pub(crate) struct Net(Opaque<sys::net>);

impl Net {
    /// Creates a reference to a namespace from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live `struct net` that outlives `'a`, in which the rvs pernet
    /// subsystem has run its `init` and not yet its `exit`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut sys::net) -> &'a Net {
        // SAFETY: `Net` is a transparent wrapper of `struct net`; the caller guarantees that the
        // pointer is valid for `'a`.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// Returns the raw pointer for calls into C.
    pub(crate) fn as_ptr(&self) -> *mut sys::net {
        self.0.get()
    }

    fn slot(&self) -> *mut *mut PerNet {
        // SAFETY: by the type invariant the namespace is alive and rvs's pernet id is registered,
        // so `net_generic` returns its slot.
        unsafe { sys::rvs_net_slot(self.as_ptr()).cast() }
    }

    /// Returns the rvs state of this namespace.
    pub(crate) fn state(&self) -> &NetState {
        // SAFETY: by the type invariant `rvs_rs_net_init` has stored a valid `KBox<PerNet>` in
        // the slot and `rvs_rs_net_exit` has not freed it yet; it lives as long as `self`.
        unsafe { &(**self.slot()).state }
    }
}

/// What rvs keeps in each namespace.
struct PerNet {
    /// Declared first so that it is dropped first: once the hooks are unregistered (which waits
    /// for running hooks), no packet path can see `state` any more.
    _hooks: HookRegistration,
    state: NetState,
}

/// Registration of the rvs pernet subsystem; dropping it runs `exit` for every namespace.
///
/// # Invariants
///
/// The subsystem is registered while this object exists, and at most one object exists.
pub(crate) struct PernetRegistration(());

static PERNET_REGISTERED: AtomicBool = AtomicBool::new(false);

impl PernetRegistration {
    /// Registers the pernet subsystem, which runs `rvs_rs_net_init` in every existing namespace
    /// and in every namespace created later.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: the shim's `pernet_operations` is a static object; `register_static` calls this
        // only when it is not registered.
        super::register_static(&PERNET_REGISTERED, || unsafe { sys::rvs_pernet_register() })?;
        // INVARIANT: registered just above; the flag excludes a second object.
        Ok(Self(()))
    }
}

impl Drop for PernetRegistration {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the subsystem is registered.
        unsafe { sys::rvs_pernet_unregister() };
        PERNET_REGISTERED.store(false, Ordering::Release);
    }
}

/// Called by the pernet core when a namespace is created (or for every namespace on registration).
///
/// # Safety
///
/// `net` must be a namespace being initialised, whose `net_generic` slot for rvs is zeroed.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_net_init(net: *mut sys::net) -> c_int {
    from_result(|| {
        let state = NetState::new()?;
        // SAFETY: the registration is stored in the namespace's `PerNet`, which `exit` drops while
        // the namespace is still alive.
        let hooks = unsafe { HookRegistration::new(net)? };
        let per_net = KBox::new(
            PerNet {
                _hooks: hooks,
                state,
            },
            GFP_KERNEL,
        )?;
        // SAFETY: `net` is live and rvs's pernet id is registered (this is its `init`).
        let slot: *mut *mut PerNet = unsafe { sys::rvs_net_slot(net).cast() };
        // SAFETY: the slot is valid, zeroed and ours; it becomes the owner of the box.
        unsafe { *slot = KBox::into_raw(per_net) };
        Ok(0)
    })
}

/// Called by the pernet core when a namespace is dismantled (or for all on unregistration).
///
/// # Safety
///
/// `net` must be a namespace for which `rvs_rs_net_init` succeeded and `exit` was not called.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_net_exit(net: *mut sys::net) {
    // SAFETY: `net` is live while its pernet `exit` runs and rvs's pernet id is registered.
    let slot: *mut *mut PerNet = unsafe { sys::rvs_net_slot(net).cast() };
    // SAFETY: the slot is valid; `init` stored a pointer from `KBox::into_raw` in it.
    let per_net = unsafe { core::ptr::replace(slot, core::ptr::null_mut()) };
    if !per_net.is_null() {
        // SAFETY: `per_net` came from `KBox::into_raw` in `init` and is dropped exactly once
        // here, after which the slot is null.
        drop(unsafe { KBox::from_raw(per_net) });
    }
}
