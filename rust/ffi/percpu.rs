// SPDX-License-Identifier: GPL-2.0

//! Per-CPU memory (`alloc_percpu`).
//!
//! C header: [`include/linux/percpu.h`](srctree/include/linux/percpu.h)
//!
//! Packet counters are updated on every packet by every CPU; one copy per CPU keeps them out of
//! each other's cache lines (IPVS's `struct ip_vs_cpu_stats`). The copies hold atomics, so an
//! update stays correct even if the task moves to another CPU in the middle (on `LOCAL_OUT`).

use super::sys;
use core::{marker::PhantomData, ptr::NonNull};
use kernel::prelude::*;

/// Types that are valid when all their bytes are zero, as fresh per-CPU memory is.
///
/// # Safety
///
/// The all-zero bit pattern must be a valid value of the type.
pub(crate) unsafe trait Zeroed: Sync {}

// SAFETY: zero is a valid atomic integer.
unsafe impl<const N: usize> Zeroed for [core::sync::atomic::AtomicU64; N] {}

/// One `T` per possible CPU.
///
/// # Invariants
///
/// `ptr` is a per-CPU allocation of a `T` (zeroed, so valid) owned by this object.
pub(crate) struct PerCpu<T: Zeroed> {
    ptr: NonNull<kernel::ffi::c_void>,
    _type: PhantomData<T>,
}

// SAFETY: `T: Sync` (required by `Zeroed`) and only shared references are handed out.
unsafe impl<T: Zeroed> Send for PerCpu<T> {}
// SAFETY: as above.
unsafe impl<T: Zeroed> Sync for PerCpu<T> {}

impl<T: Zeroed> PerCpu<T> {
    /// Allocates a zeroed `T` for every possible CPU. Sleeps.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: no preconditions; the memory is zeroed.
        let ptr = unsafe { sys::rvs_alloc_percpu(size_of::<T>(), align_of::<T>()) };
        // INVARIANT: a fresh per-CPU allocation of `T`'s size and alignment, zero-filled.
        Ok(Self {
            ptr: NonNull::new(ptr).ok_or(ENOMEM)?,
            _type: PhantomData,
        })
    }

    /// The copy of the CPU the caller runs on (or ran on a moment ago).
    pub(crate) fn local(&self) -> &T {
        // SAFETY: `ptr` is a valid per-CPU allocation (type invariant); `raw_cpu_ptr` does not
        // require preemption to be disabled, and any CPU's copy is valid for as long as `self`.
        unsafe { &*sys::rvs_raw_cpu_ptr(self.ptr.as_ptr()).cast::<T>() }
    }

    /// Calls `f` with the copy of every possible CPU.
    pub(crate) fn for_each(&self, mut f: impl FnMut(&T)) {
        // SAFETY: reading `nr_cpu_ids` has no preconditions; it is set at boot.
        let nr = unsafe { sys::nr_cpu_ids };
        // SAFETY: no preconditions.
        let mut cpu = unsafe { sys::rvs_next_possible_cpu(-1) };
        while cpu < nr {
            let Ok(index) = i32::try_from(cpu) else { break };
            // SAFETY: `cpu` is a possible CPU and `ptr` a valid per-CPU allocation.
            f(unsafe { &*sys::rvs_per_cpu_ptr(self.ptr.as_ptr(), index).cast::<T>() });
            // SAFETY: no preconditions.
            cpu = unsafe { sys::rvs_next_possible_cpu(index) };
        }
    }
}

impl<T: Zeroed> Drop for PerCpu<T> {
    fn drop(&mut self) {
        // SAFETY: `ptr` came from the per-CPU allocator and is owned by `self` (type invariant).
        unsafe { sys::free_percpu(self.ptr.as_ptr()) };
    }
}
