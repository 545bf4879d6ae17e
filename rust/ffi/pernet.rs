// SPDX-License-Identifier: GPL-2.0

//! Network namespaces: the pernet subsystem registration and per-namespace state.
//!
//! C header: [`include/net/net_namespace.h`](srctree/include/net/net_namespace.h)
//!
//! The C shim declares a `pernet_operations` whose `net_generic` slot holds one pointer. Between
//! `rvs_rs_net_init` and `rvs_rs_net_exit` that pointer owns the namespace's `KBox<PerNet>`.

use super::{procfs, procfs::ProcFiles, sys, sysctl::SysctlTable, timer::Timer};
use crate::netns::NetState;
use crate::netns::Sysctls;
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

    /// Classifies an IPv4 address in this namespace's routing tables (`inet_addr_type`).
    pub(crate) fn ipv4_addr_type(&self, addr: [u8; 4]) -> AddrType {
        // SAFETY: by the type invariant the namespace is alive; `inet_addr_type` only reads.
        let kind = unsafe { sys::inet_addr_type(self.as_ptr(), u32::from_ne_bytes(addr)) };
        match kind {
            k if k == sys::RTN_LOCAL => AddrType::Local,
            k if k == sys::RTN_UNICAST => AddrType::Unicast,
            _ => AddrType::Other,
        }
    }

    /// Returns the rvs state of this namespace.
    pub(crate) fn state(&self) -> &NetState {
        // SAFETY: by the type invariant `rvs_rs_net_init` has stored a valid `KBox<PerNet>` in
        // the slot and `rvs_rs_net_exit` has not freed it yet; it lives as long as `self`.
        unsafe { &(**self.slot()).state }
    }
}

/// What an address is to a namespace.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddrType {
    /// One of the namespace's own addresses (`RTN_LOCAL`).
    Local,
    /// A unicast address reachable through a route (`RTN_UNICAST`).
    Unicast,
    /// Anything else: broadcast, multicast, unreachable...
    Other,
}

/// Whether an IPv6 address is unicast and not link-local (`ipv6_addr_type`).
pub(crate) fn ipv6_unicast_not_link_local(addr: &[u8; 16]) -> bool {
    let in6 = addr.as_ptr().cast::<sys::in6_addr>();
    // SAFETY: `in6_addr` is 16 bytes of plain data with byte alignment in its `u6_addr8` view;
    // `ipv6_addr_type` only reads it.
    let kind = unsafe { sys::rvs_ipv6_addr_type(in6) } as u32;
    kind & sys::IPV6_ADDR_UNICAST != 0 && kind & sys::IPV6_ADDR_LINKLOCAL == 0
}

/// What rvs keeps in each namespace.
///
/// The registrations come first so that they are dropped first: once the files are removed (which
/// waits for their readers), the timer is shut down (which waits for a running tick) and the hooks
/// are unregistered (in `exit`, which waits for running hooks), nothing can see `state` any more.
struct PerNet {
    _proc_files: Option<ProcFiles>,
    _sysctl: Option<SysctlTable>,
    timer: Timer<NetState>,
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
        // The namespaces' connections are released by RCU callbacks, which are module code:
        // wait for them before the module can go.
        // SAFETY: no preconditions beyond being allowed to sleep (module exit).
        unsafe { sys::rcu_barrier() };
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
        let bits = crate::conn_table::bits_for(super::params::conn_tab_bits());
        let mut per_net = KBox::new(
            PerNet {
                _proc_files: None,
                _sysctl: None,
                timer: Timer::new(),
                state: NetState::new(bits, super::random_u32())?,
            },
            GFP_KERNEL,
        )?;
        let per_net_ref = &mut *per_net;
        // SAFETY: the sysctls' storage is in `per_net.state`, a heap object that outlives the
        // registration: `PerNet` drops `sysctl` before `state`, from the namespace's `exit`.
        per_net_ref._sysctl = Some(unsafe {
            SysctlTable::new(net, Sysctls::PATH, &per_net_ref.state.sysctl.entries())?
        });
        // SAFETY: the files are dropped from `exit` before the state they show.
        per_net_ref._proc_files =
            Some(unsafe { ProcFiles::new(net, procfs::NAMES, procfs::SHOWS)? });
        // SAFETY: the timer and its owner live in the same heap object, which does not move and
        // is dropped from `exit` (`PerNet` shuts the timer down before it drops the state).
        unsafe { per_net_ref.timer.init(&per_net_ref.state) };
        per_net_ref.state.start_timer(&per_net_ref.timer);
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
    // SAFETY: the slot is valid; `init` stored a pointer from `KBox::into_raw` in it, or nothing.
    if unsafe { (*slot).is_null() } {
        return;
    }
    // SAFETY: `init` succeeded for `net` (the slot is set) and `exit` has not freed it yet.
    let net_ref = unsafe { Net::from_raw(net) };
    let state = net_ref.state();
    // No more packets, then no more expiry ticks, then no more connections.
    if state.hooks.set(net_ref, false).is_err() {
        pr_warn!("could not unregister the hooks of a namespace\n");
    }
    // SAFETY: as above; the timer is only reached through its `PerNet`.
    unsafe { (**slot).timer.shutdown() };
    state.conns.flush(false);
    // SAFETY: the slot is valid and holds the pointer from `KBox::into_raw`.
    let per_net = unsafe { core::ptr::replace(slot, core::ptr::null_mut()) };
    // SAFETY: `per_net` came from `KBox::into_raw` in `init` and is dropped exactly once here,
    // after which the slot is null.
    drop(unsafe { KBox::from_raw(per_net) });
}
