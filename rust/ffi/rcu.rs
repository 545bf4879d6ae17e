// SPDX-License-Identifier: GPL-2.0

//! RCU read-side critical sections.
//!
//! C header: [`include/linux/rcupdate.h`](srctree/include/linux/rcupdate.h)
//!
//! What readers find under RCU (services, connections) is published and retired by
//! [`super::rculist`].

use super::sys;
use core::marker::PhantomData;

/// An RCU read-side critical section (`rcu_read_lock` ... `rcu_read_unlock`).
///
/// # Invariants
///
/// The RCU read lock is held while this object exists; it is not `Send` (the lock is per task).
/// When `unlock` is set, the lock was taken by [`Guard::new`] and is released on drop.
pub(crate) struct Guard {
    unlock: bool,
    _not_send: PhantomData<*mut ()>,
}

impl Guard {
    /// Enters a read-side critical section.
    pub(crate) fn new() -> Self {
        // SAFETY: `rcu_read_lock` has no preconditions; `Drop` pairs it with an unlock.
        unsafe { sys::rvs_rcu_read_lock() };
        // INVARIANT: the lock was taken just above.
        Self {
            unlock: true,
            _not_send: PhantomData,
        }
    }

    /// The read-side critical section the caller is already in (netfilter runs its hooks in
    /// one), without a lock and unlock of its own.
    ///
    /// # Safety
    ///
    /// The caller must hold the RCU read lock for as long as the returned object exists.
    pub(crate) unsafe fn held() -> Self {
        // INVARIANT: the caller holds the lock for the object's life.
        Self {
            unlock: false,
            _not_send: PhantomData,
        }
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if self.unlock {
            // SAFETY: by the type invariant this task holds the read lock taken in `new`.
            unsafe { sys::rvs_rcu_read_unlock() };
        }
    }
}
