// SPDX-License-Identifier: GPL-2.0

//! Hash chains read under RCU and written under a lock (IPVS's `hlist_*_rcu` use).
//!
//! C header: [`include/linux/rculist.h`](srctree/include/linux/rculist.h)
//!
//! A chain owns one reference (`Arc`) of each element. Readers walk it inside an RCU read-side
//! critical section without locks and take their own reference of what they find; writers hold
//! the lock that guards the chain. A removed element stays readable by readers that are already on
//! it: the chain's reference is dropped by `call_rcu`, after a grace period.

use super::{rcu::Guard, sync::LockArray, sys};
use core::{
    mem::offset_of,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, Ordering},
};
use kernel::{
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow, LockClassKey},
    types::Opaque,
};

/// The part of an element that links it into a chain.
pub(crate) struct RcuLink<T> {
    next: AtomicPtr<T>,
    rcu: Opaque<sys::callback_head>,
    /// Set when the element is inserted: an element goes into a chain once in its life, since
    /// its `rcu` head is queued when it leaves.
    inserted: AtomicBool,
}

// SAFETY: the `rcu` head is only touched by `call_rcu` after the element left every chain, once;
// `next` is atomic.
unsafe impl<T: Send + Sync> Send for RcuLink<T> {}
// SAFETY: as above.
unsafe impl<T: Send + Sync> Sync for RcuLink<T> {}

impl<T> RcuLink<T> {
    /// A link that is in no chain.
    pub(crate) const fn new() -> Self {
        Self {
            next: AtomicPtr::new(ptr::null_mut()),
            rcu: Opaque::uninit(),
            inserted: AtomicBool::new(false),
        }
    }
}

/// Elements of [`RcuChain`]s.
///
/// # Safety
///
/// `LINK_OFFSET` must be the offset of the `RcuLink<Self>` that `link` returns within `Self`.
pub(crate) unsafe trait RcuLinked: Sized + Send + Sync + 'static {
    /// Offset of the link in the element (`core::mem::offset_of!`).
    const LINK_OFFSET: usize;
    /// The element's link.
    fn link(&self) -> &RcuLink<Self>;
}

/// Implements [`RcuLinked`] for `$type` whose link is field `$field` (the offset is computed by
/// `offset_of!` from the same field that `link` returns, which is the trait's contract).
#[macro_export]
macro_rules! impl_rcu_linked {
    ($type:ty, $field:ident) => {
        #[allow(unsafe_code)]
        // SAFETY: `LINK_OFFSET` is the offset of the field that `link` returns.
        unsafe impl $crate::ffi::rculist::RcuLinked for $type {
            const LINK_OFFSET: usize = ::core::mem::offset_of!($type, $field);
            fn link(&self) -> &$crate::ffi::rculist::RcuLink<Self> {
                &self.$field
            }
        }
    };
}

/// A singly linked chain of `Arc<T>`.
///
/// # Invariants
///
/// Every element reachable from `first` came from `Arc::into_raw`, and the chain owns that
/// reference until it schedules its release in [`RcuChain::remove_if`] or [`RcuChain::replace`].
pub(crate) struct RcuChain<T: RcuLinked> {
    first: AtomicPtr<T>,
}

impl<T: RcuLinked> RcuChain<T> {
    /// An empty chain.
    pub(crate) const fn new() -> Self {
        Self {
            first: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Whether the chain is empty right now.
    pub(crate) fn is_empty(&self) -> bool {
        self.first.load(Ordering::Relaxed).is_null()
    }

    /// The elements, for the duration of the read-side critical section `guard`.
    pub(crate) fn iter<'g>(&'g self, _guard: &'g Guard) -> Iter<'g, T> {
        Iter {
            // Acquire pairs with the Release of `push_front` (`rcu_dereference`).
            next: self.first.load(Ordering::Acquire),
            _guard: core::marker::PhantomData,
        }
    }

    /// Inserts `item` at the head.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that serialises the writers of this chain, and `item` is in no
    /// chain (it was never inserted).
    unsafe fn push_front(&self, item: Arc<T>) {
        let raw = Arc::into_raw(item).cast_mut();
        // SAFETY: `raw` is a live element that no reader can see yet.
        let link = unsafe { (*raw).link() };
        link.next
            .store(self.first.load(Ordering::Relaxed), Ordering::Relaxed);
        // Release publishes the initialised element (`rcu_assign_pointer`).
        // INVARIANT: the chain now owns the reference from `into_raw`.
        self.first.store(raw, Ordering::Release);
    }

    /// Puts `new` in the place of the first element for which `is_old` returns true
    /// (`hlist_replace_rcu`): readers see either element, and those on the old one go on to the
    /// same next element. The chain's reference to the old element is dropped after a grace
    /// period. Gives `new` back if no element matches.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that serialises the writers of this chain, and `new` is in no
    /// chain (it was never inserted).
    unsafe fn replace(
        &self,
        mut is_old: impl FnMut(&T) -> bool,
        new: Arc<T>,
    ) -> core::result::Result<(), Arc<T>> {
        let mut prev: &AtomicPtr<T> = &self.first;
        loop {
            let cur = prev.load(Ordering::Relaxed);
            if cur.is_null() {
                return Err(new);
            }
            // SAFETY: elements stay alive while they are in the chain, and the lock excludes
            // other writers.
            let item = unsafe { &*cur };
            if is_old(item) {
                let next = item.link().next.load(Ordering::Relaxed);
                new.link().next.store(next, Ordering::Relaxed);
                // Release publishes the initialised element (`rcu_assign_pointer`).
                // INVARIANT: the chain now owns the reference from `into_raw`.
                prev.store(Arc::into_raw(new).cast_mut(), Ordering::Release);
                // SAFETY: `cur` is now unreachable for new readers; the chain's reference is
                // released once the readers that may still see it are done.
                unsafe { release_after_grace_period(cur) };
                return Ok(());
            }
            prev = &item.link().next;
        }
    }

    /// Removes every element for which `remove` returns true; the chain's reference to each is
    /// dropped after a grace period. Returns how many were removed.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that serialises the writers of this chain.
    pub(crate) unsafe fn remove_if(&self, mut remove: impl FnMut(&T) -> bool) -> usize {
        let mut removed = 0;
        let mut prev: &AtomicPtr<T> = &self.first;
        loop {
            let cur = prev.load(Ordering::Relaxed);
            if cur.is_null() {
                return removed;
            }
            // SAFETY: elements stay alive while they are in the chain, and the lock excludes
            // other writers.
            let item = unsafe { &*cur };
            let next = item.link().next.load(Ordering::Relaxed);
            if remove(item) {
                // Readers on `item` keep following its `next`, which is left unchanged.
                prev.store(next, Ordering::Release);
                removed += 1;
                // SAFETY: `cur` is now unreachable for new readers; the chain's reference is
                // released once the readers that may still see it are done.
                unsafe { release_after_grace_period(cur) };
            } else {
                prev = &item.link().next;
            }
        }
    }
}

impl<T: RcuLinked> Drop for RcuChain<T> {
    fn drop(&mut self) {
        // SAFETY: `&mut self` excludes writers; readers still on the chain are covered by the
        // grace period before each release.
        unsafe { self.remove_if(|_| true) };
    }
}

/// Drops the reference `raw` after a grace period (`call_rcu`).
///
/// # Safety
///
/// `raw` must come from `Arc::into_raw` and its reference be owned by the caller, and the element
/// must be unreachable for readers that start from now on.
unsafe fn release_after_grace_period<T: RcuLinked>(raw: *mut T) {
    // SAFETY: `raw` is live (caller); the link lies at `LINK_OFFSET` (trait contract).
    let head = unsafe { (*raw).link().rcu.get() };
    // SAFETY: the head belongs to an element that is no longer in any chain, so it is not queued
    // already; the callback frees exactly this reference.
    unsafe { sys::call_rcu(head, Some(rcu_release::<T>)) };
}

/// The `call_rcu` callback of [`release_after_grace_period`].
///
/// # Safety
///
/// `head` must be the `rcu` field of the link of a `T` queued by [`release_after_grace_period`].
unsafe extern "C" fn rcu_release<T: RcuLinked>(head: *mut sys::callback_head) {
    let offset = T::LINK_OFFSET + offset_of!(RcuLink<T>, rcu);
    // SAFETY: `head` is the `rcu` field of the link of a `T` (see `release_after_grace_period`),
    // at `offset` bytes from the start of the element.
    let raw = unsafe { head.cast::<u8>().sub(offset) }.cast::<T>();
    // SAFETY: the reference from `Arc::into_raw` that the chain owned and gave up.
    drop(unsafe { Arc::from_raw(raw) });
}

/// Iterator over a chain inside a read-side critical section.
pub(crate) struct Iter<'g, T> {
    next: *mut T,
    _guard: core::marker::PhantomData<&'g T>,
}

impl<'g, T: RcuLinked> Iterator for Iter<'g, T> {
    type Item = Entry<'g, T>;

    fn next(&mut self) -> Option<Entry<'g, T>> {
        // SAFETY: elements reached under the read lock stay alive until it is released, which
        // cannot happen before `'g` ends.
        let item = unsafe { self.next.as_ref()? };
        self.next = item.link().next.load(Ordering::Acquire);
        // INVARIANT: `item` was reached through a chain.
        Some(Entry(item))
    }
}

/// An element met in a chain during a read-side critical section.
///
/// # Invariants
///
/// The element is (or was, until a grace period that has not ended) in an [`RcuChain`].
pub(crate) struct Entry<'g, T>(&'g T);

impl<T: RcuLinked> Entry<'_, T> {
    /// A reference to the element that outlives the critical section.
    pub(crate) fn to_arc(&self) -> Arc<T> {
        // SAFETY: elements of chains are `Arc` allocations (invariants of `RcuChain` and of this
        // type) whose chain reference is released only after the current grace period, so taking
        // a new reference now is allowed.
        unsafe { ArcBorrow::from_raw(self.0) }.into()
    }
}

impl<T> core::ops::Deref for Entry<'_, T> {
    type Target = T;
    fn deref(&self) -> &T {
        self.0
    }
}

/// A hash table of [`RcuChain`]s whose writers lock one of [`LOCK_ARRAY_SIZE`] locks chosen by
/// bucket (IPVS's connection table layout).
///
/// [`LOCK_ARRAY_SIZE`]: super::sync::LOCK_ARRAY_SIZE
pub(crate) struct RcuHashTable<T: RcuLinked> {
    buckets: KVec<RcuChain<T>>,
    locks: LockArray,
}

impl<T: RcuLinked> RcuHashTable<T> {
    /// A table of `size` empty buckets whose locks are named `name` in lockdep class `key`.
    /// Sleeps.
    pub(crate) fn new(
        size: usize,
        name: &'static CStr,
        key: &'static LockClassKey,
    ) -> Result<Self> {
        let mut buckets = KVec::with_capacity(size, GFP_KERNEL)?;
        for _ in 0..size {
            buckets.push(RcuChain::new(), GFP_KERNEL)?;
        }
        Ok(Self {
            buckets,
            locks: LockArray::new(name, key)?,
        })
    }

    /// Number of buckets.
    pub(crate) fn buckets(&self) -> usize {
        self.buckets.len()
    }

    /// The elements of bucket `bucket` (none if out of range).
    pub(crate) fn iter<'g>(&'g self, bucket: usize, guard: &'g Guard) -> Iter<'g, T> {
        match self.buckets.get(bucket) {
            Some(chain) => chain.iter(guard),
            None => Iter {
                next: ptr::null_mut(),
                _guard: core::marker::PhantomData,
            },
        }
    }

    /// Adds `item` to bucket `bucket`; gives it back if the bucket does not exist or if the
    /// element was inserted before (into this table or another).
    pub(crate) fn insert(&self, bucket: usize, item: Arc<T>) -> core::result::Result<(), Arc<T>> {
        let Some(chain) = self.buckets.get(bucket) else {
            return Err(item);
        };
        if item.link().inserted.swap(true, Ordering::AcqRel) {
            return Err(item);
        }
        self.locks.with(bucket, || {
            // SAFETY: the bucket's lock is held; `item` was never in a chain (its flag was clear).
            unsafe { chain.push_front(item) }
        });
        Ok(())
    }

    /// Puts `new` in the place of the first element of bucket `bucket` for which `is_old` returns
    /// true (see [`RcuChain::replace`]); gives `new` back if there is none, or if `new` was
    /// inserted before.
    pub(crate) fn replace(
        &self,
        bucket: usize,
        is_old: impl FnMut(&T) -> bool,
        new: Arc<T>,
    ) -> core::result::Result<(), Arc<T>> {
        let Some(chain) = self.buckets.get(bucket) else {
            return Err(new);
        };
        if new.link().inserted.swap(true, Ordering::AcqRel) {
            return Err(new);
        }
        let result = self.locks.with(bucket, || {
            // SAFETY: the bucket's lock is held; `new` was never in a chain (its flag was clear).
            unsafe { chain.replace(is_old, new) }
        });
        // Not linked: `new` is still in no chain and may go into one later.
        result.inspect_err(|new| new.link().inserted.store(false, Ordering::Release))
    }

    /// Removes the elements of bucket `bucket` for which `remove` returns true (see
    /// [`RcuChain::remove_if`]); returns how many.
    pub(crate) fn remove_if(&self, bucket: usize, remove: impl FnMut(&T) -> bool) -> usize {
        let Some(chain) = self.buckets.get(bucket) else {
            return 0;
        };
        if chain.is_empty() {
            return 0;
        }
        // SAFETY: the bucket's lock is held around the call.
        self.locks
            .with(bucket, || unsafe { chain.remove_if(remove) })
    }
}
