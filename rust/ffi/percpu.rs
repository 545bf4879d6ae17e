// SPDX-License-Identifier: GPL-2.0

//! Per-CPU memory (`alloc_percpu`).
//!
//! C header: [`include/linux/percpu.h`](srctree/include/linux/percpu.h)
//!
//! Packet counters are updated on every packet by every CPU; one copy per CPU keeps them out of
//! each other's cache lines (IPVS's `struct ip_vs_cpu_stats`). A CPU adds to its own copy with
//! `this_cpu_add`, one instruction that neither an interrupt nor a move to another CPU can split
//! (a packet on `LOCAL_OUT` runs preemptible), so no update needs a locked operation. Readers
//! on other CPUs load each counter whole (64-bit) and sum the copies.

use super::sys;
use core::{marker::PhantomData, ptr::NonNull, sync::atomic::AtomicU64};
use kernel::prelude::*;

/// Types that are valid when all their bytes are zero, as fresh per-CPU memory is.
///
/// # Safety
///
/// The all-zero bit pattern must be a valid value of the type.
pub(crate) unsafe trait Zeroed: Sync {}

// SAFETY: zero is a valid atomic integer.
unsafe impl<const N: usize> Zeroed for [AtomicU64; N] {}

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

impl<const N: usize> PerCpu<[AtomicU64; N]> {
    /// Adds `a` to counter `i` and `b` to counter `j` of the copy of the CPU the caller runs on.
    /// Counters out of range are left alone.
    pub(crate) fn add2(&self, (i, a): (usize, u64), (j, b): (usize, u64)) {
        if i >= N || j >= N {
            return;
        }
        #[cfg(target_arch = "x86_64")]
        {
            // A per-CPU address, not a pointer to dereference.
            let base = self.ptr.as_ptr().cast::<u64>();
            // SAFETY: `ptr` is a per-CPU allocation of `[AtomicU64; N]` (type invariant), which
            // has the layout of `[u64; N]`, and `i, j < N`. On x86-64 a per-CPU address read
            // through the `gs` segment is the running CPU's copy, and one `add` to it is what
            // `this_cpu_add` compiles to (`percpu_add_op`), inline here as in IPVS's C: neither
            // an interrupt nor a move to another CPU can split it, and it writes whole aligned
            // 64-bit values, as the readers' atomic loads expect.
            unsafe {
                core::arch::asm!(
                    "add qword ptr gs:[{i}], {a}",
                    "add qword ptr gs:[{j}], {b}",
                    i = in(reg) base.wrapping_add(i),
                    a = in(reg) a,
                    j = in(reg) base.wrapping_add(j),
                    b = in(reg) b,
                    options(nostack),
                );
            }
        }
        #[cfg(not(target_arch = "x86_64"))]
        // SAFETY: `ptr` is a per-CPU allocation of `[AtomicU64; N]` (type invariant), which has
        // the layout of `[u64; N]`, and `i, j < N`. `this_cpu_add` writes whole aligned 64-bit
        // values, as the readers' atomic loads expect.
        unsafe {
            sys::rvs_this_cpu_add2(self.ptr.as_ptr().cast(), i, a, j, b)
        }
    }
}
