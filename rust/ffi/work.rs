// SPDX-License-Identifier: GPL-2.0

//! Delayed work items (`delayed_work`) on the system workqueue, for what must run in process
//! context but is asked for from softirq context (a sync master's messages, sent from a kernel
//! socket), now or after a delay.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use super::sys;
use core::sync::atomic::{AtomicBool, AtomicPtr, Ordering};
use kernel::types::Opaque;

/// The owner of a [`Work`], called when it runs.
pub(crate) trait OnWork: Sync {
    /// Runs in process context (a worker thread), at most once at a time; may sleep and queue
    /// `work` again.
    fn on_work(&self, work: &Work<Self>)
    where
        Self: Sized;
}

/// A work item that calls its owner's [`OnWork::on_work`].
///
/// # Invariants
///
/// Once `initialised` is set, `work` is initialised, `owner` points to a live `T`, and neither
/// moves until `Drop` has cancelled the work.
#[repr(C)]
pub(crate) struct Work<T> {
    work: Opaque<sys::delayed_work>,
    owner: AtomicPtr<T>,
    initialised: AtomicBool,
}

// SAFETY: the work item is used through the workqueue's own synchronisation (`queue_work` and
// `cancel_work_sync` may be called from any thread); `owner` is only read.
unsafe impl<T: Sync> Sync for Work<T> {}
// SAFETY: as above.
unsafe impl<T: Sync> Send for Work<T> {}

impl<T> Work<T> {
    /// A work item that is not set up yet.
    pub(crate) const fn new() -> Self {
        Self {
            work: Opaque::uninit(),
            owner: AtomicPtr::new(core::ptr::null_mut()),
            initialised: AtomicBool::new(false),
        }
    }
}

impl<T: OnWork> Work<T> {
    /// Sets the work item up for `owner`.
    ///
    /// # Safety
    ///
    /// `self` must not move any more, `owner` must stay valid until `self` is dropped, and this
    /// must be called once, before any other method.
    pub(crate) unsafe fn init(&self, owner: &T) {
        self.owner
            .store((owner as *const T).cast_mut(), Ordering::Relaxed);
        // SAFETY: the slot is valid for writes and not used yet; the function matches the type.
        unsafe { sys::rvs_init_delayed_work(self.work.get(), Some(Self::run)) };
        // INVARIANT: set up above; the caller keeps `self` and `owner` in place.
        self.initialised.store(true, Ordering::Release);
    }

    /// Runs the work as soon as possible, even if it was queued for later (`mod_delayed_work`);
    /// any context. Does nothing before `init`.
    pub(crate) fn run_now(&self) {
        if self.initialised.load(Ordering::Acquire) {
            // SAFETY: initialised (checked above) and pinned (type invariant).
            unsafe { sys::rvs_mod_delayed_work(self.work.get(), 0) };
        }
    }

    /// Runs the work `ticks` jiffies from now, unless it is queued already
    /// (`queue_delayed_work`); any context. Does nothing before `init`.
    pub(crate) fn run_in(&self, ticks: u64) {
        if self.initialised.load(Ordering::Acquire) {
            let ticks = ticks.min(u64::from(u32::MAX >> 1)) as _;
            // SAFETY: initialised (checked above) and pinned (type invariant).
            unsafe { sys::rvs_queue_delayed_work(self.work.get(), ticks) };
        }
    }

    /// The C function of every `Work<T>`.
    ///
    /// # Safety
    ///
    /// `work` must be the `work` field of a live, initialised `Work<T>`.
    unsafe extern "C" fn run(work: *mut sys::work_struct) {
        // `work` is the first field of the `delayed_work`, the first field of a `#[repr(C)]`
        // `Work<T>`.
        // SAFETY: the workqueue runs this only for a queued item of a live `Work<T>`, whose
        // `Drop` cancels it and waits for it.
        let this = unsafe { &*work.cast::<Self>() };
        // SAFETY: set by `init` to an owner that outlives the work item (its safety contract).
        let owner = unsafe { &*this.owner.load(Ordering::Relaxed) };
        owner.on_work(this);
    }
}

impl<T> Drop for Work<T> {
    fn drop(&mut self) {
        if self.initialised.load(Ordering::Acquire) {
            // SAFETY: initialised and pinned; stops the timer, dequeues a pending run and waits
            // for a running one, which may queue itself again meanwhile.
            unsafe { sys::cancel_delayed_work_sync(self.work.get()) };
        }
    }
}
