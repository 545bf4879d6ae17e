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
