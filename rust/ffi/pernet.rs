// SPDX-License-Identifier: GPL-2.0

//! Network namespaces: a pernet subsystem that keeps a `T` in every namespace, and what is
//! attached to it (its netfilter hooks, `/proc/net` files, sysctls and timer).
//!
//! C header: [`include/net/net_namespace.h`](srctree/include/net/net_namespace.h)
//!
//! [`Subsystem<T>`] owns the `pernet_operations`; its `net_generic` slot holds a
//! `KBox<PerNet<T>>` from the namespace's `init` to its `exit`. Declare the subsystem with
//! [`pernet_subsystem!`](crate::pernet_subsystem) and register it with [`Subsystem::register`].

use super::{
    netfilter::{Family, HookSet, HookSwitch},
    procfs::{ProcEntry, ProcFile},
    sys,
    sysctl::{IntSysctl, SysctlTable},
    timer::{OnTimer, Timer},
    work::{OnWork, Work},
};
use core::{
    marker::PhantomData,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    error::from_result,
    ffi::{c_int, c_uint, c_void},
    prelude::*,
    str::CStr,
    types::Opaque,
};

/// A network namespace (`struct net`).
///
/// # Invariants
///
/// The namespace is alive for as long as a reference to this type exists, and so is the data
/// that registered pernet subsystems keep in it (a subsystem's `exit` for the namespace runs only
/// after every path that hands out such a reference is closed: requests, hooks, files, timers).
#[repr(transparent)]
pub(crate) struct Net(Opaque<sys::net>);

impl Net {
    /// Creates a reference to a namespace from a raw pointer.
    ///
    /// # Safety
    ///
    /// `ptr` must point to a live `struct net` that outlives `'a`, and the pernet data of the
    /// namespace that is initialised now must stay so for `'a`.
    pub(crate) unsafe fn from_raw<'a>(ptr: *mut sys::net) -> &'a Net {
        // SAFETY: `Net` is a transparent wrapper of `struct net`; the caller guarantees that the
        // pointer is valid for `'a`.
        unsafe { &*ptr.cast::<Net>() }
    }

    /// Returns the raw pointer for calls into C.
    pub(crate) fn as_ptr(&self) -> *mut sys::net {
        self.0.get()
    }

    /// The `PerNet<T>` in this namespace, if `T`'s `init` has run here and its `exit` has not.
    fn per_net<T: NetData>(&self) -> Option<&PerNet<T>> {
        let id = T::subsystem().id()?;
        // SAFETY: the namespace is alive (type invariant) and `id` is a registered pernet id.
        let slot = unsafe { sys::rvs_net_generic(self.as_ptr(), id) }.cast::<*mut PerNet<T>>();
        // SAFETY: the slot of a registered id is a valid pointer-sized slot that `init` sets
        // and `exit` clears (both run with no reader on this path: see the type invariant).
        let per_net = unsafe { *slot };
        // SAFETY: a non-null slot holds a live `PerNet<T>` that outlives `self` (type invariant).
        unsafe { per_net.as_ref() }
    }

    /// The data of `T` in this namespace (`net_generic`), if its subsystem is registered.
    pub(crate) fn data<T: NetData>(&self) -> Option<&T> {
        self.per_net::<T>().map(|p| &p.data)
    }

    /// Registers (`on`) or unregisters `T`'s netfilter hooks of `family` in this namespace.
    /// Sleeps. Like IPVS (`ip_vs_register_hooks`), a namespace is hooked only while it needs it,
    /// so that a host without virtual services pays nothing per packet.
    pub(crate) fn set_hooks<T: NetData + HookSet>(&self, family: Family, on: bool) -> Result {
        let per_net = self.per_net::<T>().ok_or(ENODEV)?;
        // SAFETY: the switch and the data live in the same `PerNet`, whose attachments (the
        // switch among them) are dropped or turned off before the data, in this namespace's
        // `exit`, while it is alive.
        unsafe { per_net.attached.hooks.set(self, &per_net.data, family, on) }
    }

    /// Registers or unregisters `T`'s optional hooks in this namespace as `T` now wants them
    /// ([`HookSet::optional_hooks`]), if its hooks are registered. Sleeps.
    pub(crate) fn refresh_hooks<T: NetData + HookSet>(&self) -> Result {
        let per_net = self.per_net::<T>().ok_or(ENODEV)?;
        // SAFETY: as in `set_hooks`.
        unsafe { per_net.attached.hooks.refresh(self, &per_net.data) }
    }

    /// The work item attached to `T`'s data here ([`Attach::work`]), if there is one.
    pub(crate) fn work<T: NetData + OnWork>(&self) -> Option<&Work<T>> {
        self.per_net::<T>().and_then(|p| p.attached.work.as_deref())
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

/// The `IPV6_ADDR_*` bits of an IPv6 address (`ipv6_addr_type`).
fn ipv6_addr_type(addr: &[u8; 16]) -> u32 {
    let in6 = addr.as_ptr().cast::<sys::in6_addr>();
    // SAFETY: `in6_addr` is 16 bytes of plain data with byte alignment in its `u6_addr8` view;
    // `ipv6_addr_type` only reads it.
    unsafe { sys::rvs_ipv6_addr_type(in6) as u32 }
}

/// Whether an IPv6 address is unicast and not link-local (`ipv6_addr_type`).
pub(crate) fn ipv6_unicast_not_link_local(addr: &[u8; 16]) -> bool {
    let kind = ipv6_addr_type(addr);
    kind & sys::IPV6_ADDR_UNICAST != 0 && kind & sys::IPV6_ADDR_LINKLOCAL == 0
}

/// Whether an IPv6 address is unicast (`ipv6_addr_type(addr) & IPV6_ADDR_UNICAST`).
pub(crate) fn ipv6_is_unicast(addr: &[u8; 16]) -> bool {
    ipv6_addr_type(addr) & sys::IPV6_ADDR_UNICAST != 0
}

/// The data a pernet subsystem keeps in every namespace (IPVS's `struct netns_ipvs`).
pub(crate) trait NetData: Send + Sync + Sized + 'static {
    /// Creates the data of a namespace being initialised.
    fn new(net: &Net) -> Result<Self>;

    /// Attaches what refers to the data once it is at its final address and visible through
    /// [`Net::data`]: `/proc/net` files, sysctls, a timer. Everything attached is removed, waiting
    /// for its users, before [`NetData::exit`].
    fn attach<'a>(&'a self, to: &mut Attach<'a, Self>) -> Result;

    /// The namespace goes away, first step: runs before its network devices are unregistered
    /// (`pre_exit`), for what holds references to them (kernel sockets, routes), which would
    /// keep the devices from going.
    fn pre_exit(&self, _net: &Net) {}

    /// The namespace goes away: runs after the attachments and the hooks are gone, before the data
    /// is dropped.
    fn exit(&self, net: &Net);

    /// The subsystem, as declared by [`pernet_subsystem!`](crate::pernet_subsystem).
    fn subsystem() -> &'static Subsystem<Self>;
}

/// What is attached to a namespace's data; dropped (each part undoing itself) before the data.
struct Attachments<T: NetData> {
    /// First: no packet reaches the data once it is dropped.
    hooks: HookSwitch,
    timer: Option<Pin<KBox<Timer<T>>>>,
    /// After the hooks and the timer, which may queue it.
    work: Option<Pin<KBox<Work<T>>>>,
    sysctls: KVec<SysctlTable>,
    files: KVec<ProcEntry>,
}

/// The attaching of things to a namespace's data, in [`NetData::attach`].
pub(crate) struct Attach<'a, T: NetData> {
    net: &'a Net,
    data: &'a T,
    attached: &'a mut Attachments<T>,
}

impl<'a, T: NetData> Attach<'a, T> {
    /// Registers sysctl files under `path` (for example `net/ipv4/vs`); their values live in the
    /// data (or are static).
    pub(crate) fn sysctls(&mut self, path: &'static CStr, entries: &[IntSysctl<'a>]) -> Result {
        self.attached.sysctls.reserve(1, GFP_KERNEL)?;
        // SAFETY: the namespace is alive; the values borrow from the data or statics for `'a`,
        // and the table is dropped with the attachments, before the data.
        let table = unsafe { SysctlTable::new(self.net, path, entries)? };
        self.attached.sysctls.push(table, GFP_KERNEL)?;
        Ok(())
    }

    /// Creates the read-only file `/proc/net/<name>` that shows `F`.
    pub(crate) fn proc_file<F: ProcFile<Data = T>>(&mut self, name: &'static CStr) -> Result {
        self.attached.files.reserve(1, GFP_KERNEL)?;
        // SAFETY: the namespace is alive; the data outlives the file, which is dropped with the
        // attachments.
        let file = unsafe { ProcEntry::new::<F>(self.net, name, self.data)? };
        self.attached.files.push(file, GFP_KERNEL)?;
        Ok(())
    }

    /// Starts the data's timer, first firing `ticks` jiffies from now.
    pub(crate) fn timer(&mut self, ticks: u64) -> Result
    where
        T: OnTimer,
    {
        if self.attached.timer.is_some() {
            return Err(EBUSY);
        }
        let timer = KBox::pin(Timer::new(), GFP_KERNEL)?;
        // SAFETY: the timer is pinned in its box, and its owner (the data) outlives it: the
        // attachments are dropped, shutting the timer down, before the data.
        unsafe { timer.init(self.data) };
        timer.fire_in(ticks);
        self.attached.timer = Some(timer);
        Ok(())
    }

    /// Sets up the data's work item, which [`Net::work`] finds.
    pub(crate) fn work(&mut self) -> Result
    where
        T: OnWork,
    {
        if self.attached.work.is_some() {
            return Err(EBUSY);
        }
        let work = KBox::pin(Work::new(), GFP_KERNEL)?;
        // SAFETY: the work item is pinned in its box, and its owner (the data) outlives it: the
        // attachments are dropped, cancelling the work, before the data.
        unsafe { work.init(self.data) };
        self.attached.work = Some(work);
        Ok(())
    }
}

/// A namespace's data with its attachments.
///
/// Fields drop in declaration order: the attachments first, so that once they are gone (files
/// removed, timer shut down, hooks unregistered, each waiting for its users) nothing can reach
/// the data any more.
struct PerNet<T: NetData> {
    attached: Attachments<T>,
    data: T,
}

/// A pernet subsystem keeping a `T` in every namespace.
///
/// # Invariants
///
/// `ops` and `id` are written only while `registered` is false (in [`Subsystem::register`]);
/// while it is true the subsystem is registered with them.
pub(crate) struct Subsystem<T: NetData> {
    ops: Opaque<sys::pernet_operations>,
    id: Opaque<c_uint>,
    registered: AtomicBool,
    _data: PhantomData<T>,
}

// SAFETY: the C objects are written before registration, under the `registered` flag, and read
// by the pernet core with its own locking afterwards.
unsafe impl<T: NetData> Sync for Subsystem<T> {}

impl<T: NetData> Subsystem<T> {
    /// A subsystem that is not registered.
    pub(crate) const fn new() -> Self {
        Self {
            ops: Opaque::uninit(),
            id: Opaque::new(0),
            registered: AtomicBool::new(false),
            _data: PhantomData,
        }
    }

    /// The subsystem's `net_generic` id, while it is registered.
    fn id(&self) -> Option<c_uint> {
        if !self.registered.load(Ordering::Acquire) {
            return None;
        }
        // SAFETY: the id is written before `registered` is set (Release/Acquire) and not again
        // until it is cleared.
        Some(unsafe { *self.id.get() })
    }

    /// Registers the subsystem, which runs `init` in every existing namespace and in every
    /// namespace created later; `-EBUSY` if it is registered already.
    pub(crate) fn register(&'static self) -> Result<Registration<T>> {
        if self.registered.swap(true, Ordering::AcqRel) {
            return Err(EBUSY);
        }
        let ops = sys::pernet_operations {
            init: Some(init::<T>),
            pre_exit: Some(pre_exit::<T>),
            exit: Some(exit::<T>),
            id: self.id.get(),
            size: core::mem::size_of::<*mut c_void>(),
            // SAFETY: all-zero is a valid `pernet_operations` (no callbacks, empty list head).
            ..unsafe { core::mem::zeroed() }
        };
        // SAFETY: not registered (the flag was clear), so nothing else reads `ops`.
        unsafe { self.ops.get().write(ops) };
        // SAFETY: `ops` is a static object that stays registered until `Registration` drops.
        let ret = unsafe { sys::register_pernet_subsys(self.ops.get()) };
        if ret < 0 {
            self.registered.store(false, Ordering::Release);
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered just above.
        Ok(Registration(self))
    }
}

/// Declares the pernet subsystem of a [`NetData`] type: the static [`Subsystem`] and
/// [`NetData::subsystem`] (call it where the type implements the rest of the trait).
#[macro_export]
macro_rules! pernet_subsystem {
    ($data:ty) => {
        fn subsystem() -> &'static $crate::ffi::pernet::Subsystem<$data> {
            static SUBSYSTEM: $crate::ffi::pernet::Subsystem<$data> =
                $crate::ffi::pernet::Subsystem::new();
            &SUBSYSTEM
        }
    };
}

/// The registration of a [`Subsystem`]; dropping it runs `exit` for every namespace.
///
/// # Invariants
///
/// The subsystem is registered while this object exists.
pub(crate) struct Registration<T: NetData>(&'static Subsystem<T>);

impl<T: NetData> Drop for Registration<T> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant); this runs `exit` in every namespace.
        unsafe { sys::unregister_pernet_subsys(self.0.ops.get()) };
        // What namespaces freed by RCU callbacks (module code) must run before the module goes.
        // SAFETY: no preconditions beyond being allowed to sleep (module exit).
        unsafe { sys::rcu_barrier() };
        self.0.registered.store(false, Ordering::Release);
    }
}

/// The slot of `T`'s subsystem in `net`.
///
/// # Safety
///
/// `net` must be alive and `T`'s subsystem registered (or being registered: in its own `init` and
/// `exit`).
unsafe fn slot<T: NetData>(net: *mut sys::net) -> *mut *mut PerNet<T> {
    // SAFETY: during `init`/`exit` the id has been assigned (the pernet core does it before).
    let id = unsafe { *T::subsystem().id.get() };
    // SAFETY: `net` is alive and `id` is the subsystem's (caller's guarantee).
    unsafe { sys::rvs_net_generic(net, id) }.cast()
}

/// `init` of the pernet operations: creates the data, publishes it, attaches.
///
/// # Safety
///
/// Called by the pernet core only, for a namespace being initialised, whose slot is zeroed.
unsafe extern "C" fn init<T: NetData>(net: *mut sys::net) -> c_int {
    from_result(|| {
        // SAFETY: the namespace is being initialised and lives until its `exit`; no data of
        // this subsystem is visible yet.
        let net_ref = unsafe { Net::from_raw(net) };
        let per_net = KBox::new(
            PerNet {
                attached: Attachments {
                    hooks: HookSwitch::new(),
                    timer: None,
                    work: None,
                    sysctls: KVec::new(),
                    files: KVec::new(),
                },
                data: T::new(net_ref)?,
            },
            GFP_KERNEL,
        )?;
        let raw = KBox::into_raw(per_net);
        // SAFETY: `T`'s subsystem is being registered or is (this is its `init`).
        let slot = unsafe { slot::<T>(net) };
        // SAFETY: the slot is ours; from now on it owns the box.
        unsafe { *slot = raw };
        // SAFETY: `raw` is the live box just stored; attaching happens before anything can
        // remove it (the namespace's `exit` runs after `init` returns).
        let per_net = unsafe { &mut *raw };
        let mut attach = Attach {
            net: net_ref,
            data: &per_net.data,
            attached: &mut per_net.attached,
        };
        if let Err(e) = per_net.data.attach(&mut attach) {
            // The pernet core does not call `exit` after a failed `init`.
            // SAFETY: as in `exit`.
            unsafe { release::<T>(net) };
            return Err(e);
        }
        Ok(0)
    })
}

/// `pre_exit` of the pernet operations.
///
/// # Safety
///
/// Called by the pernet core only, for a namespace whose `init` succeeded.
unsafe extern "C" fn pre_exit<T: NetData>(net: *mut sys::net) {
    // SAFETY: the namespace is alive during its `pre_exit`; the slot was set by `init` and is
    // cleared only by `exit`, which runs later.
    let per_net = unsafe { (*slot::<T>(net)).as_ref() };
    if let Some(per_net) = per_net {
        // SAFETY: as above.
        per_net.data.pre_exit(unsafe { Net::from_raw(net) });
    }
}

/// `exit` of the pernet operations.
///
/// # Safety
///
/// Called by the pernet core only, for a namespace whose `init` succeeded.
unsafe extern "C" fn exit<T: NetData>(net: *mut sys::net) {
    // SAFETY: the namespace is alive during its `exit`; the slot was set by `init`.
    unsafe { release::<T>(net) }
}

/// Removes the attachments, runs [`NetData::exit`], clears the slot and drops the data.
///
/// # Safety
///
/// `net` must be alive, and its slot hold a `PerNet<T>` from `init` that nothing else releases.
unsafe fn release<T: NetData>(net: *mut sys::net) {
    // SAFETY: the caller's guarantee.
    let slot = unsafe { slot::<T>(net) };
    // SAFETY: as above; the box is live until dropped below.
    let Some(per_net) = (unsafe { (*slot).as_mut() }) else {
        return;
    };
    // SAFETY: the namespace is alive for this call.
    let net_ref = unsafe { Net::from_raw(net) };
    // Files, sysctls and the timer go, each waiting for its users; then the hooks.
    drop(core::mem::take(&mut per_net.attached.files));
    drop(core::mem::take(&mut per_net.attached.sysctls));
    per_net.attached.timer = None;
    per_net.attached.hooks.turn_off();
    per_net.attached.work = None;
    per_net.data.exit(net_ref);
    // SAFETY: the slot holds the pointer from `KBox::into_raw` in `init`, dropped exactly once
    // here; nothing reaches it any more (attachments gone, and requests end before `exit`).
    let per_net = unsafe { core::ptr::replace(slot, core::ptr::null_mut()) };
    // SAFETY: as above.
    drop(unsafe { KBox::from_raw(per_net) });
}
