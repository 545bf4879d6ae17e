// SPDX-License-Identifier: GPL-2.0

//! RCU: read-side critical sections and an RCU-published box.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)
//!
//! The control plane publishes each new configuration as a whole (an [`RcuArc`] holding an
//! immutable snapshot); readers (the packet path, dumps, /proc) see either the old or the new
//! snapshot, never a mix, and never take a lock that sleeps. The old snapshot is dropped after a
//! grace period by an RCU callback (`kfree_rcu`'s way), so that a command does not wait for one.

use super::sys;
use core::{
    marker::PhantomData,
    mem::offset_of,
    ptr::NonNull,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{
    alloc::{flags::GFP_KERNEL, KBox},
    sync::{Arc, ArcBorrow},
    types::Opaque,
};

/// An RCU read-side critical section (`rcu_read_lock` ... `rcu_read_unlock`).
///
/// # Invariants
///
/// The RCU read lock is held while this object exists; it is not `Send` (the lock is per task).
pub(crate) struct Guard(PhantomData<*mut ()>);

impl Guard {
    /// Enters a read-side critical section.
    pub(crate) fn new() -> Self {
        // SAFETY: `rcu_read_lock` has no preconditions; `Drop` pairs it with an unlock.
        unsafe { sys::rvs_rcu_read_lock() };
        // INVARIANT: the lock was taken just above.
        Self(PhantomData)
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        // SAFETY: by the type invariant this task holds the read lock taken in `new`.
        unsafe { sys::rvs_rcu_read_unlock() };
    }
}

/// Waits until every read-side critical section that started before the call has ended.
pub(crate) fn synchronize() {
    // SAFETY: `synchronize_rcu` has no preconditions beyond being allowed to sleep, which holds
    // for the process-context callers of this function (netlink commands, pernet exit).
    unsafe { sys::synchronize_rcu() };
}

/// A shared value that is replaced as a whole and read under RCU.
///
/// Readers in a read-side critical section borrow the current value ([`RcuArc::get`]); code that
/// must sleep while it uses the value (allocate, reply to userspace) takes a reference instead
/// ([`RcuArc::snapshot`]), which keeps that version alive after a replacement.
///
/// # Invariants
///
/// `ptr` always holds a pointer obtained from `Arc::into_raw`, whose reference this object owns.
pub(crate) struct RcuArc<T> {
    ptr: AtomicPtr<T>,
}

// SAFETY: the value is shared between threads (readers get `&T` or `Arc<T>`), so it must be `Sync`;
// it may be dropped by whichever thread drops the last reference, so it must be `Send`.
unsafe impl<T: Send + Sync> Send for RcuArc<T> {}
// SAFETY: as above; `&RcuArc` hands out `&T` and `Arc<T>` only.
unsafe impl<T: Send + Sync> Sync for RcuArc<T> {}

impl<T> RcuArc<T> {
    /// Creates a cell holding `value`.
    pub(crate) fn new(value: Arc<T>) -> Self {
        // INVARIANT: the pointer comes from `Arc::into_raw`, with its reference.
        Self {
            ptr: AtomicPtr::new(Arc::into_raw(value).cast_mut()),
        }
    }

    /// Returns the current value, valid for the read-side critical section `guard`.
    pub(crate) fn get<'a>(&'a self, _guard: &'a Guard) -> &'a T {
        // Acquire pairs with the Release of `replace` (`rcu_dereference`/`rcu_assign_pointer`).
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: by the type invariant `ptr` is a live `Arc`; `replace` drops the reference of a
        // previous value only after a grace period, which cannot end while `guard` holds the
        // read lock.
        unsafe { &*ptr }
    }

    /// Returns a reference to the current value, usable outside a read-side critical section.
    pub(crate) fn snapshot(&self) -> Arc<T> {
        let guard = Guard::new();
        let ptr = self.ptr.load(Ordering::Acquire);
        // SAFETY: `ptr` is a live `Arc` (type invariant) that cannot lose its last reference
        // before `guard` ends (see `get`); `ArcBorrow` only borrows it, and the conversion into
        // an `Arc` takes a new reference.
        let value: Arc<T> = unsafe { ArcBorrow::from_raw(ptr) }.into();
        drop(guard);
        value
    }

    /// Publishes `value`; this cell's reference to the previous value is dropped once no reader
    /// can still be borrowing it, by an RCU callback (see [`drop_after_grace_period`], whose
    /// conditions on `T` apply).
    ///
    /// May sleep (an allocation). Writers that read, modify and replace must be serialised by the
    /// caller, or one writer's change could overwrite another's.
    pub(crate) fn replace(&self, value: Arc<T>)
    where
        T: Send + Sync + 'static,
    {
        let old = self
            .ptr
            .swap(Arc::into_raw(value).cast_mut(), Ordering::AcqRel);
        // The cell's reference to `old` is handed over whole.
        // SAFETY: `old` came from `Arc::into_raw` with a reference this cell owned (invariant).
        let old = unsafe { Arc::from_raw(old) };
        // Readers that started before the swap may still borrow `old` without a reference of
        // their own: it goes after a grace period.
        drop_after_grace_period(old);
    }
}

/// A value waiting for a grace period, with the callback head that `call_rcu` queues.
struct Deferred<T> {
    head: Opaque<sys::callback_head>,
    /// Only held, to be dropped with the box.
    _value: T,
}

/// Drops `value` after a grace period without waiting for it (`call_rcu`, as `kfree_rcu` does):
/// what readers in a read-side critical section may still borrow from it stays valid until they
/// leave it. Without memory for the callback it waits for the grace period instead.
///
/// The drop runs in the RCU callback (softirq context), so `T`'s drop must not sleep; the module
/// waits for the pending callbacks before it goes (`rcu_barrier`, the pernet registration).
pub(crate) fn drop_after_grace_period<T: Send + 'static>(value: T) {
    let Ok(slot) = KBox::<Deferred<T>>::new_uninit(GFP_KERNEL) else {
        synchronize();
        drop(value);
        return;
    };
    let boxed = KBox::write(
        slot,
        Deferred {
            head: Opaque::uninit(),
            _value: value,
        },
    );
    let raw = KBox::into_raw(boxed);
    // SAFETY: `raw` is a live `Deferred<T>` whose head was never queued; the callback frees the
    // box exactly once.
    unsafe { sys::call_rcu((*raw).head.get(), Some(release_deferred::<T>)) };
}

/// The `call_rcu` callback of [`drop_after_grace_period`].
///
/// # Safety
///
/// `head` must be the `head` of a `Deferred<T>` from `KBox::into_raw`, queued by
/// [`drop_after_grace_period`].
unsafe extern "C" fn release_deferred<T>(head: *mut sys::callback_head) {
    // SAFETY: `head` lies at this offset in its `Deferred<T>` (see above); `Opaque` has the layout
    // of the C struct it wraps.
    let raw = unsafe { head.cast::<u8>().sub(offset_of!(Deferred<T>, head)) }.cast::<Deferred<T>>();
    // SAFETY: the box given up by `drop_after_grace_period`, now unreachable.
    drop(unsafe { KBox::from_raw(raw) });
}

impl<T> Drop for RcuArc<T> {
    fn drop(&mut self) {
        let ptr = NonNull::new(*self.ptr.get_mut());
        if let Some(ptr) = ptr {
            // SAFETY: by the type invariant the pointer carries a reference owned by this cell.
            // The owner drops an `RcuArc` only when no reader can reach it any more (pernet exit,
            // after the hooks and files are gone and no socket of the namespace is left).
            drop(unsafe { Arc::from_raw(ptr.as_ptr()) });
        }
    }
}
