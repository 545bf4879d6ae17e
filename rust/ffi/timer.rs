// SPDX-License-Identifier: GPL-2.0

//! Kernel timers (`timer_list`) and the jiffies clock.
//!
//! C header: [`include/linux/timer.h`](srctree/include/linux/timer.h)
//!
//! The 6.12 `kernel` crate has no timer abstraction. rvs needs one periodic timer per namespace
//! (connection expiry and rate estimation), which runs in softirq context.

use super::sys;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::types::Opaque;

/// The current time in jiffies.
pub(crate) fn jiffies() -> u64 {
    // SAFETY: `jiffies` is the kernel's tick counter, a static aligned word that only the tick
    // writes; a volatile load of it is what C's `jiffies` reads (inline, as every packet asks).
    unsafe { core::ptr::read_volatile(core::ptr::addr_of!(sys::jiffies)) as u64 }
}

/// Ticks per second (`CONFIG_HZ`), through an enum constant of the shim: the `HZ` macro bindgen
/// sees is the uapi's (`USER_HZ`, 100).
pub(crate) const fn hz() -> u32 {
    sys::RVS_HZ
}

/// The owner of a [`Timer`], called when it fires.
pub(crate) trait OnTimer: Sync {
    /// Runs in softirq context when `timer` fires; may re-arm it.
    fn on_timer(&self, timer: &Timer<Self>)
    where
        Self: Sized;
}

/// A timer that calls its owner's [`OnTimer::on_timer`].
///
/// # Invariants
///
/// Once `armed_once` is set, `timer` is initialised, `owner` points to a live `T`, and neither
/// moves until `Drop` has shut the timer down.
#[repr(C)]
pub(crate) struct Timer<T> {
    timer: Opaque<sys::timer_list>,
    owner: AtomicPtr<T>,
    initialised: AtomicBool,
}

// SAFETY: the timer is used through the kernel's own synchronisation (`mod_timer` and
// `timer_shutdown_sync` are safe to call from any thread); `owner` is only read.
unsafe impl<T: Sync> Sync for Timer<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Send for Timer<T> {}

impl<T> Timer<T> {
    /// A timer that is not set up yet.
    pub(crate) const fn new() -> Self {
        Self {
            timer: Opaque::uninit(),
            owner: AtomicPtr::new(core::ptr::null_mut()),
            initialised: AtomicBool::new(false),
        }
    }

    /// Stops the timer for good, waiting for a running callback (`timer_shutdown_sync`).
    pub(crate) fn shutdown(&self) {
        if self.initialised.load(Ordering::Acquire) {
            // SAFETY: initialised and pinned; shutting down twice is allowed.
            unsafe { sys::timer_shutdown_sync(self.timer.get()) };
        }
    }
}

impl<T: OnTimer> Timer<T> {
    /// Sets the timer up for `owner`.
    ///
    /// # Safety
    ///
    /// `self` must not move any more, `owner` must stay valid until `self` is dropped, and this
    /// must be called once, before any other method.
    pub(crate) unsafe fn init(&self, owner: &T) {
        self.owner
            .store((owner as *const T).cast_mut(), Ordering::Relaxed);
        // SAFETY: the slot is valid for writes and not used yet; the callback matches the type.
        unsafe { sys::rvs_timer_setup(self.timer.get(), Some(Self::callback)) };
        // INVARIANT: set up above; the caller keeps `self` and `owner` in place.
        self.initialised.store(true, Ordering::Release);
    }

    /// Fires the timer `ticks` jiffies from now (`mod_timer`). Does nothing before `init` or
    /// after shutdown.
    pub(crate) fn fire_in(&self, ticks: u64) {
        if !self.initialised.load(Ordering::Acquire) {
            return;
        }
        let at = jiffies().wrapping_add(ticks);
        // SAFETY: the timer is initialised (checked above) and pinned (type invariant).
        unsafe { sys::mod_timer(self.timer.get(), at as _) };
    }

    /// The C callback of every `Timer<T>`.
    ///
    /// # Safety
    ///
    /// `timer` must be the `timer` field of a live, initialised `Timer<T>`.
    unsafe extern "C" fn callback(timer: *mut sys::timer_list) {
        // `timer` is the first field of a `#[repr(C)]` `Timer<T>`.
        let this = timer.cast::<Self>();
        // SAFETY: the kernel calls this only for an initialised timer of a live `Timer<T>`,
        // whose `Drop` waits for running callbacks.
        let this = unsafe { &*this };
        let owner = this.owner.load(Ordering::Relaxed);
        // SAFETY: set by `init` to an owner that outlives the timer (its safety contract).
        let owner = unsafe { &*owner };
        owner.on_timer(this);
    }
}

impl<T> Drop for Timer<T> {
    fn drop(&mut self) {
        // Waits for a running callback; later `mod_timer` calls (from it) do nothing.
        self.shutdown();
    }
}
