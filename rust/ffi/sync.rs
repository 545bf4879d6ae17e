// SPDX-License-Identifier: GPL-2.0

//! Spinlocks taken with bottom halves disabled (`spin_lock_bh`).
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)
//!
//! The packet path runs in softirq context (and in process context on `LOCAL_OUT`); the control
//! plane and the expiry of connections share data with it. A lock taken in both contexts must
//! disable bottom halves, which the 6.12 `kernel::sync::SpinLock` does not do.

use super::sys;
use core::{cell::UnsafeCell, marker::PhantomData, pin::Pin};
use kernel::{prelude::*, types::Opaque};

/// Which lockdep class a lock belongs to (one per kind of lock, as in C one per call site).
#[derive(Clone, Copy)]
pub(crate) enum LockClass {
    /// The locks of the connection hash table.
    ConnTable,
    /// A service's scheduler state.
    Scheduler,
}

/// Initialises the spinlock at `slot`.
///
/// # Safety
///
/// `slot` must be valid for writes and not be used as a lock before this call returns.
unsafe fn init_lock(slot: *mut sys::spinlock_t, class: LockClass) {
    match class {
        // SAFETY: the caller's guarantee.
        LockClass::ConnTable => unsafe { sys::rvs_conn_lock_init(slot) },
        // SAFETY: the caller's guarantee.
        LockClass::Scheduler => unsafe { sys::rvs_sched_lock_init(slot) },
    }
}

/// A spinlock protecting a `T`, taken with bottom halves disabled.
#[pin_data]
pub(crate) struct BhSpinLock<T> {
    #[pin]
    lock: Opaque<sys::spinlock_t>,
    data: UnsafeCell<T>,
}

// SAFETY: the lock serialises every access to `data`, so sharing the lock shares `T` only with one
// thread at a time; `T: Send` is enough.
unsafe impl<T: Send> Sync for BhSpinLock<T> {}
// SAFETY: moving the lock between threads moves the `T`.
unsafe impl<T: Send> Send for BhSpinLock<T> {}

impl<T> BhSpinLock<T> {
    /// An initialiser of a lock of `class` protecting `data`.
    pub(crate) fn new(data: T, class: LockClass) -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `ffi_init` hands over the uninitialised, pinned slot of the lock.
            lock <- Opaque::ffi_init(move |slot| unsafe { init_lock(slot, class) }),
            data: UnsafeCell::new(data),
        })
    }

    /// Takes the lock.
    pub(crate) fn lock(&self) -> BhGuard<'_, T> {
        // SAFETY: the lock was initialised by `new` and is pinned.
        unsafe { sys::rvs_spin_lock_bh(self.lock.get()) };
        // INVARIANT: the lock is held until the guard is dropped.
        BhGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }
}

/// Holds a [`BhSpinLock`]; gives access to its data.
///
/// # Invariants
///
/// `lock` is held by this task while the guard exists.
pub(crate) struct BhGuard<'a, T> {
    lock: &'a BhSpinLock<T>,
    _not_send: PhantomData<*mut ()>,
}

impl<T> core::ops::Deref for BhGuard<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        // SAFETY: the lock is held (type invariant), so no other reference to the data exists.
        unsafe { &*self.lock.data.get() }
    }
}

impl<T> core::ops::DerefMut for BhGuard<'_, T> {
    fn deref_mut(&mut self) -> &mut T {
        // SAFETY: as in `deref`, and `self` is borrowed mutably.
        unsafe { &mut *self.lock.data.get() }
    }
}

impl<T> Drop for BhGuard<'_, T> {
    fn drop(&mut self) {
        // SAFETY: this task holds the lock (type invariant).
        unsafe { sys::rvs_spin_unlock_bh(self.lock.lock.get()) };
    }
}

/// Number of locks of a [`LockArray`] (IPVS's `CT_LOCKARRAY_SIZE`).
pub(crate) const LOCK_ARRAY_SIZE: usize = 32;

/// A fixed array of spinlocks without data, for hash tables that lock by bucket group (IPVS's
/// `__ip_vs_conntbl_lock_array`).
///
/// # Invariants
///
/// Every lock is initialised and pinned in its heap allocation.
pub(crate) struct LockArray {
    locks: Pin<KBox<[Opaque<sys::spinlock_t>; LOCK_ARRAY_SIZE]>>,
}

// SAFETY: spinlocks are meant to be shared between threads.
unsafe impl Sync for LockArray {}
// SAFETY: as above.
unsafe impl Send for LockArray {}

impl LockArray {
    /// Allocates and initialises the locks.
    pub(crate) fn new(class: LockClass) -> Result<Self> {
        let locks = KBox::pin(
            [const { Opaque::<sys::spinlock_t>::uninit() }; LOCK_ARRAY_SIZE],
            GFP_KERNEL,
        )?;
        for lock in locks.iter() {
            // SAFETY: the slot is in a pinned heap allocation and not used before this.
            unsafe { init_lock(lock.get(), class) };
        }
        // INVARIANT: all initialised above, pinned in the box.
        Ok(Self { locks })
    }

    /// Runs `f` holding lock number `index % LOCK_ARRAY_SIZE`.
    pub(crate) fn with<R>(&self, index: usize, f: impl FnOnce() -> R) -> R {
        let lock = &self.locks[index % LOCK_ARRAY_SIZE];
        // SAFETY: the lock is initialised (type invariant).
        unsafe { sys::rvs_spin_lock_bh(lock.get()) };
        let result = f();
        // SAFETY: taken just above by this task.
        unsafe { sys::rvs_spin_unlock_bh(lock.get()) };
        result
    }
}
