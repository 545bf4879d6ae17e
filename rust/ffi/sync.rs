// SPDX-License-Identifier: GPL-2.0

//! Spinlocks taken with bottom halves disabled (`spin_lock_bh`), as a [`Backend`] of the kernel
//! crate's [`Lock`].
//!
//! C header: [`include/linux/spinlock.h`](srctree/include/linux/spinlock.h)
//!
//! The packet path runs in softirq context (and in process context on `LOCAL_OUT`); the control
//! plane and the expiry of connections share data with it. A lock taken in both contexts must
//! disable bottom halves, which the 6.12 `kernel::sync::SpinLock` does not do.

use super::sys;
use kernel::{
    bindings,
    ffi::c_char,
    prelude::*,
    str::CStr,
    sync::{
        lock::{Backend, Lock},
        LockClassKey,
    },
};

/// The `spin_lock_bh` backend.
pub(crate) struct SpinLockBhBackend;

/// A spinlock protecting a `T`, taken with bottom halves disabled. Create one with
/// [`new_bh_spinlock!`](crate::new_bh_spinlock), which gives each call site its lockdep class.
pub(crate) type BhSpinLock<T> = Lock<T, SpinLockBhBackend>;

// SAFETY: a `spinlock_t` gives mutual exclusion between `lock` and `unlock`; `relock` is the
// default, which calls `lock` again.
unsafe impl Backend for SpinLockBhBackend {
    type State = bindings::spinlock_t;
    type GuardState = ();

    unsafe fn init(ptr: *mut Self::State, name: *const c_char, key: *mut bindings::lock_class_key) {
        // SAFETY: `ptr` is valid for writes, `name` and `key` are valid forever (the trait's
        // contract).
        unsafe { bindings::__spin_lock_init(ptr, name, key) }
    }

    unsafe fn lock(ptr: *mut Self::State) -> Self::GuardState {
        // SAFETY: `ptr` is an initialised lock (the trait's contract); the kernel crate's
        // `spinlock_t` and the shim's are the same C type.
        unsafe { sys::rvs_spin_lock_bh(ptr.cast()) }
    }

    unsafe fn unlock(ptr: *mut Self::State, _guard_state: &Self::GuardState) {
        // SAFETY: the caller holds the lock (the trait's contract).
        unsafe { sys::rvs_spin_unlock_bh(ptr.cast()) }
    }
}

/// An initialiser of a [`BhSpinLock`] holding `$data`, named `$name`, with a lockdep class of its
/// own (one per call site, as `spin_lock_init` in C).
#[macro_export]
macro_rules! new_bh_spinlock {
    ($data:expr, $name:literal) => {
        $crate::ffi::sync::BhSpinLock::new(
            $data,
            ::kernel::c_str!($name),
            ::kernel::static_lock_class!(),
        )
    };
}

/// Number of locks of a [`LockArray`] (IPVS's `CT_LOCKARRAY_SIZE`).
pub(crate) const LOCK_ARRAY_SIZE: usize = 32;

/// A fixed array of spinlocks without data, for hash tables that lock by bucket group (IPVS's
/// `__ip_vs_conntbl_lock_array`). All locks of an array share one lockdep class.
pub(crate) struct LockArray {
    locks: KVec<Pin<KBox<BhSpinLock<()>>>>,
}

impl LockArray {
    /// Allocates and initialises the locks, named `name` in class `key`.
    pub(crate) fn new(name: &'static CStr, key: &'static LockClassKey) -> Result<Self> {
        let mut locks = KVec::with_capacity(LOCK_ARRAY_SIZE, GFP_KERNEL)?;
        for _ in 0..LOCK_ARRAY_SIZE {
            locks.push(
                KBox::pin_init(Lock::new((), name, key), GFP_KERNEL)?,
                GFP_KERNEL,
            )?;
        }
        Ok(Self { locks })
    }

    /// Runs `f` holding lock number `index % LOCK_ARRAY_SIZE`.
    pub(crate) fn with<R>(&self, index: usize, f: impl FnOnce() -> R) -> R {
        let _guard = self.locks[index % LOCK_ARRAY_SIZE].lock();
        f()
    }
}
