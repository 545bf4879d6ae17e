// SPDX-License-Identifier: GPL-2.0

//! Hash chains read under RCU and written under a lock (IPVS's `hlist_*_rcu` use).
//!
//! C header: [`include/linux/rculist.h`](srctree/include/linux/rculist.h)
//!
//! A chain owns one reference (`Arc`) of each element. Readers walk it inside an RCU read-side
//! critical section without locks and take their own reference of what they find; writers hold
//! the lock that guards the chain. A removed element stays readable by readers that are already on
//! it: the chain's reference is dropped by `call_rcu`, after a grace period.

use super::{
    rcu::Guard,
    sync::{LockArray, LOCK_ARRAY_SIZE},
    sys,
};
use core::{
    mem::offset_of,
    ptr,
    sync::atomic::{AtomicBool, AtomicPtr, AtomicU32, AtomicUsize, Ordering},
};
use kernel::{
    prelude::*,
    str::CStr,
    sync::{Arc, ArcBorrow, LockClassKey},
    types::Opaque,
};

/// The part of an element that links it into a chain: into one chain through each of its two
/// `next` slots. Fixed tables use slot 0; a [`GrowingHashTable`] links its elements into the
/// buckets of the table being filled through the other slot while readers still follow the first.
pub(crate) struct RcuLink<T> {
    next: [AtomicPtr<T>; 2],
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
            next: [
                AtomicPtr::new(ptr::null_mut()),
                AtomicPtr::new(ptr::null_mut()),
            ],
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

/// The `next` slot of the elements of fixed tables.
const FIXED_SLOT: usize = 0;

/// A singly linked chain of `Arc<T>`.
///
/// # Invariants
///
/// Every element reachable from `first` came from `Arc::into_raw`, and the table of the chain
/// owns that reference until it schedules its release (in [`RcuChain::remove_if`] or
/// [`RcuChain::replace`] for a fixed table, once the element left every chain of a growing one).
/// A chain has no `Drop`: its table empties it.
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

    /// The elements linked through `slot`, for the duration of the read-side critical section
    /// `guard`.
    fn iter<'g>(&'g self, slot: usize, _guard: &'g Guard) -> Iter<'g, T> {
        Iter {
            // Acquire pairs with the Release of `push_front` (`rcu_dereference`).
            next: self.first.load(Ordering::Acquire),
            slot,
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
        // SAFETY: the caller's guarantees; the chain takes over the reference (see invariants).
        unsafe { self.link_front(Arc::into_raw(item).cast_mut(), FIXED_SLOT) };
    }

    /// Links the element `raw` at the head through `slot`, without taking a reference.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that serialises the writers of this chain; `raw` is a live
    /// element that is in no chain through `slot`, and whose readers through `slot` (of a chain
    /// it left) are done.
    unsafe fn link_front(&self, raw: *mut T, slot: usize) {
        // SAFETY: `raw` is live (the caller's guarantee).
        let next = unsafe { &(*raw).link().next[slot] };
        next.store(self.first.load(Ordering::Relaxed), Ordering::Relaxed);
        // Release publishes the initialised element (`rcu_assign_pointer`).
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
                let next = item.link().next[FIXED_SLOT].load(Ordering::Relaxed);
                new.link().next[FIXED_SLOT].store(next, Ordering::Relaxed);
                // Release publishes the initialised element (`rcu_assign_pointer`).
                // INVARIANT: the chain now owns the reference from `into_raw`.
                prev.store(Arc::into_raw(new).cast_mut(), Ordering::Release);
                // SAFETY: `cur` is now unreachable for new readers; the chain's reference is
                // released once the readers that may still see it are done.
                unsafe { release_after_grace_period(cur) };
                return Ok(());
            }
            prev = &item.link().next[FIXED_SLOT];
        }
    }

    /// Removes every element for which `remove` returns true; the chain's reference to each is
    /// dropped after a grace period. Returns how many were removed.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that serialises the writers of this chain.
    pub(crate) unsafe fn remove_if(&self, remove: impl FnMut(&T) -> bool) -> usize {
        // SAFETY: the caller holds the lock; each unlinked element's reference was the chain's
        // and it is unreachable for new readers.
        unsafe { self.unlink_if(FIXED_SLOT, remove, |cur| release_after_grace_period(cur)) }
    }

    /// Unlinks every element (linked through `slot`) for which `remove` returns true and hands
    /// each to `unlinked`; readers already on it go on along its unchanged `next`. Returns how
    /// many.
    ///
    /// # Safety
    ///
    /// The caller holds the lock that serialises the writers of this chain.
    unsafe fn unlink_if(
        &self,
        slot: usize,
        mut remove: impl FnMut(&T) -> bool,
        mut unlinked: impl FnMut(*mut T),
    ) -> usize {
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
            let next = item.link().next[slot].load(Ordering::Relaxed);
            if remove(item) {
                prev.store(next, Ordering::Release);
                removed += 1;
                unlinked(cur);
            } else {
                prev = &item.link().next[slot];
            }
        }
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
    slot: usize,
    _guard: core::marker::PhantomData<&'g T>,
}

impl<'g, T: RcuLinked> Iterator for Iter<'g, T> {
    type Item = Entry<'g, T>;

    fn next(&mut self) -> Option<Entry<'g, T>> {
        // SAFETY: elements reached under the read lock stay alive until it is released, which
        // cannot happen before `'g` ends.
        let item = unsafe { self.next.as_ref()? };
        self.next = item.link().next[self.slot].load(Ordering::Acquire);
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

/// A hash table of a fixed number of [`RcuChain`]s whose writers lock one of
/// [`LOCK_ARRAY_SIZE`] locks chosen by bucket (IPVS's table layout).
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

    /// The elements of bucket `bucket` (none if out of range).
    pub(crate) fn iter<'g>(&'g self, bucket: usize, guard: &'g Guard) -> Iter<'g, T> {
        match self.buckets.get(bucket) {
            Some(chain) => chain.iter(FIXED_SLOT, guard),
            None => Iter {
                next: ptr::null_mut(),
                slot: FIXED_SLOT,
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

impl<T: RcuLinked> Drop for RcuHashTable<T> {
    fn drop(&mut self) {
        for chain in self.buckets.iter() {
            // SAFETY: `&mut self` excludes writers; readers still on the chain are covered by
            // the grace period before each release.
            unsafe { chain.remove_if(|_| true) };
        }
    }
}

/// Elements of a [`GrowingHashTable`]: their hash is a function of their (immutable) key.
pub(crate) trait RcuHashed: RcuLinked {
    /// The element's hash under `seed`, the same as the lookups of its key use.
    fn hash(&self, seed: u32) -> u32;
}

/// The bucket array of a [`GrowingHashTable`], whose chains all link through `slot`.
struct Buckets<T: RcuLinked> {
    heads: KVVec<RcuChain<T>>,
    mask: u32,
    slot: usize,
}

impl<T: RcuLinked> Buckets<T> {
    /// `2^bits` empty buckets linked through `slot`, allocated with `flags`.
    fn new(bits: u32, slot: usize, flags: kernel::alloc::Flags) -> Result<KBox<Self>> {
        let size = 1usize << bits;
        let mut heads = KVVec::with_capacity(size, flags)?;
        for _ in 0..size {
            heads.push(RcuChain::new(), flags)?;
        }
        Ok(KBox::new(
            Self {
                heads,
                mask: (size - 1) as u32,
                slot,
            },
            flags,
        )?)
    }

    fn chain(&self, hash: u32) -> Option<&RcuChain<T>> {
        self.heads.get((hash & self.mask) as usize)
    }
}

/// A hash table of `Arc<T>` read under RCU, written under one of [`LOCK_ARRAY_SIZE`] locks
/// chosen by hash, that grows with its number of elements (IPVS's connection table, which keeps
/// the size it was loaded with, does not).
///
/// A table holds one reference of each element. Growing is done by [`GrowingHashTable::grow`]
/// a lock group at a time: a larger bucket array (`next`) is allocated and each element of a
/// group is linked into it through the link slot that the current array does not use, while
/// readers go on walking the current array. Writers of a group already copied change both arrays.
/// Once every group is copied, `next` becomes `current`; the old array is freed, and its slot may
/// be reused, only after a grace period. A lookup walks `current` and then `next`, so that an
/// element inserted into `next` alone (after the switch) is found by a reader that began before it.
///
/// # Invariants
///
/// - `current` is a `KBox<Buckets<T>>` from `into_raw`, owned by the table; `next` and `retired`
///   too, or null. `next` links through the slot `current` does not; `retired` is the array that
///   `current` replaced, which readers may still walk until the grace period `retired_at` ends;
///   while it exists its slot is not written (`next` is null).
/// - Every element of the table is in `current`; in `next` too if its lock group's bit is set in
///   `copied`. The table owns one reference of each element (from `Arc::into_raw`), released
///   after a grace period once the element left `current` and `next`.
///
/// [`LOCK_ARRAY_SIZE`]: super::sync::LOCK_ARRAY_SIZE
pub(crate) struct GrowingHashTable<T: RcuHashed> {
    current: AtomicPtr<Buckets<T>>,
    next: AtomicPtr<Buckets<T>>,
    /// Lock groups (bit `i`: lock `i`) whose elements are in `next` too.
    copied: AtomicU32,
    retired: AtomicPtr<Buckets<T>>,
    /// `start_poll_synchronize_rcu` cookie of the switch that retired `retired`.
    retired_at: AtomicUsize,
    /// Serialises [`Self::grow`] steps (the namespace's timer is their only caller; this
    /// keeps a second caller harmless).
    growing: AtomicBool,
    seed: u32,
    locks: LockArray,
}

// SAFETY: the arrays are owned by the table and only reached through it; elements are `Send +
// Sync` (`RcuLinked`).
unsafe impl<T: RcuHashed> Send for GrowingHashTable<T> {}
// SAFETY: readers use RCU, writers the locks (see the type's documentation).
unsafe impl<T: RcuHashed> Sync for GrowingHashTable<T> {}

const ALL_GROUPS: u32 = u32::MAX >> (32 - LOCK_ARRAY_SIZE as u32);
const _: () = assert!(LOCK_ARRAY_SIZE == 32);

/// What a writer of one lock group changes: `current`, and `next` if its group was copied.
struct Arrays<'a, T: RcuLinked> {
    current: &'a Buckets<T>,
    next: Option<&'a Buckets<T>>,
}

impl<T: RcuHashed> GrowingHashTable<T> {
    /// A table of `2^bits` empty buckets hashing with `seed`, whose locks are named `name` in
    /// lockdep class `key`. Sleeps.
    pub(crate) fn new(
        bits: u32,
        seed: u32,
        name: &'static CStr,
        key: &'static LockClassKey,
    ) -> Result<Self> {
        let current = Buckets::new(bits, 0, GFP_KERNEL)?;
        Ok(Self {
            current: AtomicPtr::new(KBox::into_raw(current)),
            next: AtomicPtr::new(ptr::null_mut()),
            copied: AtomicU32::new(0),
            retired: AtomicPtr::new(ptr::null_mut()),
            retired_at: AtomicUsize::new(0),
            growing: AtomicBool::new(false),
            seed,
            locks: LockArray::new(name, key)?,
        })
    }

    /// The seed that [`RcuHashed::hash`] and lookups use.
    pub(crate) fn seed(&self) -> u32 {
        self.seed
    }

    /// Number of buckets of the current array.
    pub(crate) fn buckets(&self) -> usize {
        let guard = Guard::new();
        self.current(&guard).heads.len()
    }

    fn current<'g>(&'g self, _guard: &'g Guard) -> &'g Buckets<T> {
        // SAFETY: `current` is always a live array (invariants); an array that stops being
        // current is freed only after a grace period, which cannot end while `_guard` lives.
        unsafe { &*self.current.load(Ordering::Acquire) }
    }

    /// The arrays that a writer holding lock `group` changes.
    ///
    /// # Safety
    ///
    /// The caller holds lock `group` (with bottom halves disabled, which makes it a read-side
    /// critical section too) for `'a`.
    unsafe fn arrays<'a>(&'a self, group: usize) -> Arrays<'a, T> {
        // `next` before `current`: a writer that sees `next` null after a switch sees the new
        // `current` (both stored with Release, in that order, by `switch`).
        let next = self.next.load(Ordering::Acquire);
        let current = self.current.load(Ordering::Acquire);
        let copied = self.copied.load(Ordering::Acquire) & (1 << group) != 0;
        // SAFETY: arrays reached now stay allocated until a grace period after they are retired,
        // which cannot end while the caller's lock (bottom halves off) is held.
        unsafe {
            Arrays {
                current: &*current,
                next: (copied && !next.is_null() && next != current).then(|| &*next),
            }
        }
    }

    /// The elements that may have hash `hash`, for the read-side critical section `guard`: the
    /// chain of `current`, then that of `next` (an element may be met twice).
    pub(crate) fn iter<'g>(&'g self, hash: u32, guard: &'g Guard) -> GrowingIter<'g, T> {
        let current = self.current(guard);
        GrowingIter {
            iter: match current.chain(hash) {
                Some(chain) => chain.iter(current.slot, guard),
                None => Iter {
                    next: ptr::null_mut(),
                    slot: 0,
                    _guard: core::marker::PhantomData,
                },
            },
            then: Some((self, hash, current as *const Buckets<T>)),
            guard,
        }
    }

    /// Adds `item`; gives it back if it was inserted before (into this table or another).
    pub(crate) fn insert(&self, item: Arc<T>) -> core::result::Result<(), Arc<T>> {
        if item.link().inserted.swap(true, Ordering::AcqRel) {
            return Err(item);
        }
        let hash = item.hash(self.seed);
        let group = hash as usize % LOCK_ARRAY_SIZE;
        let raw = Arc::into_raw(item).cast_mut();
        self.locks.with(group, || {
            // SAFETY: lock `group` is held.
            let arrays = unsafe { self.arrays(group) };
            for array in [Some(arrays.current), arrays.next].into_iter().flatten() {
                if let Some(chain) = array.chain(hash) {
                    // SAFETY: the lock of the chain's group is held; `raw` is live and new to
                    // every chain (its flag was clear).
                    // INVARIANT: the table owns the reference from `into_raw`.
                    unsafe { chain.link_front(raw, array.slot) };
                }
            }
        });
        Ok(())
    }

    /// Removes the elements of bucket `bucket` of the current array for which `remove` returns
    /// true; each is released after a grace period. Returns how many. `guard` is the caller's
    /// read-side critical section (one for a walk over many buckets).
    pub(crate) fn remove_if(
        &self,
        bucket: usize,
        guard: &Guard,
        remove: impl FnMut(&T) -> bool,
    ) -> usize {
        self.remove_in(
            bucket % LOCK_ARRAY_SIZE,
            |a| a.heads.get(bucket),
            guard,
            remove,
        )
    }

    /// Removes the elements with hash `hash` for which `remove` returns true (see
    /// [`Self::remove_if`]).
    pub(crate) fn remove_hashed(
        &self,
        hash: u32,
        guard: &Guard,
        remove: impl FnMut(&T) -> bool,
    ) -> usize {
        self.remove_in(
            hash as usize % LOCK_ARRAY_SIZE,
            |a| a.chain(hash),
            guard,
            remove,
        )
    }

    /// Removes from the chain of the current array that `pick` chooses, in lock group `group`.
    fn remove_in(
        &self,
        group: usize,
        pick: impl Fn(&Buckets<T>) -> Option<&RcuChain<T>>,
        guard: &Guard,
        mut remove: impl FnMut(&T) -> bool,
    ) -> usize {
        // An empty chain is passed over without taking its lock: the expiry sweep visits every
        // bucket (an element inserted meanwhile is seen by its next visit).
        if pick(self.current(guard)).map_or(true, RcuChain::is_empty) {
            return 0;
        }
        self.locks.with(group, || {
            // SAFETY: lock `group` is held.
            let arrays = unsafe { self.arrays(group) };
            let Some(chain) = pick(arrays.current) else {
                return 0;
            };
            if chain.is_empty() {
                return 0;
            }
            // SAFETY: the lock of the chain's group is held (a bucket's group is its index, or
            // its hash, modulo the number of locks, which divides every array's size).
            unsafe {
                chain.unlink_if(arrays.current.slot, &mut remove, |raw| {
                    if let Some(next) = arrays.next {
                        if let Some(chain) = next.chain((*raw).hash(self.seed)) {
                            chain.unlink_if(next.slot, |e| ptr::eq(e, raw), |_| {});
                        }
                    }
                    // INVARIANT: the element left both arrays; the table's reference goes.
                    release_after_grace_period(raw);
                })
            }
        })
    }

    /// The current array, for the read-side critical section `guard`.
    pub(crate) fn array<'g>(&'g self, guard: &'g Guard) -> ArrayView<'g, T> {
        ArrayView {
            array: self.current(guard),
            guard,
        }
    }

    /// One step of growing to `2^bits` buckets, for a caller in any context: starts it, copies
    /// lock groups until about `budget` elements were copied, or switches to the new array, or
    /// frees the array a finished switch retired. Returns false when there was nothing to do (no
    /// growth asked for, or the memory is not there now: a later step tries again).
    pub(crate) fn grow(&self, bits: u32, budget: usize) -> bool {
        if self.growing.swap(true, Ordering::Acquire) {
            return false;
        }
        let worked = self.grow_step(bits, budget);
        self.growing.store(false, Ordering::Release);
        worked
    }

    fn grow_step(&self, bits: u32, budget: usize) -> bool {
        let retired = self.retired.load(Ordering::Acquire);
        if !retired.is_null() {
            let cookie = self.retired_at.load(Ordering::Relaxed) as _;
            // SAFETY: `poll_state_synchronize_rcu` only compares the cookie with RCU's state.
            if !unsafe { sys::poll_state_synchronize_rcu(cookie) } {
                return false;
            }
            self.retired.store(ptr::null_mut(), Ordering::Release);
            // SAFETY: the grace period that began after it stopped being current has ended: no
            // reader or writer can be on it; it came from `KBox::into_raw`.
            drop(unsafe { KBox::from_raw(retired) });
            return true;
        }
        let mut next = self.next.load(Ordering::Acquire);
        if next.is_null() {
            let guard = Guard::new();
            let current = self.current(&guard);
            if bits as usize >= usize::BITS as usize || (1usize << bits) <= current.heads.len() {
                return false;
            }
            let flags = GFP_ATOMIC | __GFP_NOWARN;
            let Ok(array) = Buckets::new(bits, 1 - current.slot, flags) else {
                return false;
            };
            // No group is copied into the new array yet; then writers may see it.
            self.copied.store(0, Ordering::Release);
            next = KBox::into_raw(array);
            self.next.store(next, Ordering::Release);
        }
        let mut copied = self.copied.load(Ordering::Acquire);
        let mut moved = 0;
        while copied != ALL_GROUPS && moved < budget {
            let group = copied.trailing_ones() as usize;
            moved += self.copy_group(group, next);
            copied = self.copied.load(Ordering::Acquire);
        }
        if copied == ALL_GROUPS {
            self.switch(next);
        }
        true
    }

    /// Links every element of lock group `group` into `next` too. Returns how many.
    fn copy_group(&self, group: usize, next: *mut Buckets<T>) -> usize {
        self.locks.with(group, || {
            // SAFETY: `next` is the live array being filled (only `grow` frees or switches it, and
            // `growing` serialises it), lock `group` is held.
            let (next, current) = unsafe { (&*next, &*self.current.load(Ordering::Acquire)) };
            let guard = Guard::new();
            let mut moved = 0;
            for bucket in (group..current.heads.len()).step_by(LOCK_ARRAY_SIZE) {
                for item in current.heads[bucket].iter(current.slot, &guard) {
                    let raw = ptr::from_ref::<T>(&*item).cast_mut();
                    if let Some(chain) = next.chain(item.hash(self.seed)) {
                        // SAFETY: the group's lock is held; the element is in no chain of
                        // `next` (its group is not copied yet) and no reader follows its `next`
                        // slot (the array that used it was freed after a grace period).
                        unsafe { chain.link_front(raw, next.slot) };
                    }
                    moved += 1;
                }
            }
            self.copied.fetch_or(1 << group, Ordering::AcqRel);
            moved
        })
    }

    /// Makes the filled array `next` the current one and retires the old.
    fn switch(&self, next: *mut Buckets<T>) {
        let old = self.current.load(Ordering::Acquire);
        // `current` before `next` (see `arrays`).
        self.current.store(next, Ordering::Release);
        self.next.store(ptr::null_mut(), Ordering::Release);
        // SAFETY: `start_poll_synchronize_rcu` may be called from any context.
        let cookie = unsafe { sys::start_poll_synchronize_rcu() };
        self.retired_at.store(cookie as usize, Ordering::Relaxed);
        self.retired.store(old, Ordering::Release);
    }
}

impl<T: RcuHashed> Drop for GrowingHashTable<T> {
    fn drop(&mut self) {
        let current = *self.current.get_mut();
        // SAFETY: `&mut self` excludes writers and the caller waited for readers to be done
        // before dropping the table's owner; the arrays came from `KBox::into_raw`.
        unsafe {
            for chain in (*current).heads.iter() {
                chain.unlink_if(
                    (*current).slot,
                    |_| true,
                    |raw| release_after_grace_period(raw),
                );
            }
            for array in [current, *self.next.get_mut(), *self.retired.get_mut()] {
                if !array.is_null() {
                    drop(KBox::from_raw(array));
                }
            }
        }
    }
}

/// The bucket array of a [`GrowingHashTable`] that was current at some point of a read-side
/// critical section.
pub(crate) struct ArrayView<'g, T: RcuHashed> {
    array: &'g Buckets<T>,
    guard: &'g Guard,
}

impl<'g, T: RcuHashed> ArrayView<'g, T> {
    /// Number of buckets.
    pub(crate) fn buckets(&self) -> usize {
        self.array.heads.len()
    }

    /// The elements of bucket `bucket` (none if out of range).
    pub(crate) fn bucket(&self, bucket: usize) -> Iter<'g, T> {
        match self.array.heads.get(bucket) {
            Some(chain) => chain.iter(self.array.slot, self.guard),
            None => Iter {
                next: ptr::null_mut(),
                slot: 0,
                _guard: core::marker::PhantomData,
            },
        }
    }
}

/// Iterator over the elements that may have one hash (see [`GrowingHashTable::iter`]).
pub(crate) struct GrowingIter<'g, T: RcuHashed> {
    iter: Iter<'g, T>,
    /// The table, the hash and the array walked first, until the walk turns to `next`.
    then: Option<(&'g GrowingHashTable<T>, u32, *const Buckets<T>)>,
    guard: &'g Guard,
}

impl<'g, T: RcuHashed> Iterator for GrowingIter<'g, T> {
    type Item = Entry<'g, T>;

    fn next(&mut self) -> Option<Entry<'g, T>> {
        loop {
            if let Some(entry) = self.iter.next() {
                return Some(entry);
            }
            let (table, hash, first) = self.then.take()?;
            let next = table.next.load(Ordering::Acquire);
            if next.is_null() || ptr::eq(next, first) {
                return None;
            }
            // SAFETY: an array reached under the read lock is freed only after a grace period
            // (see `GrowingHashTable::current`).
            let next = unsafe { &*next };
            if let Some(chain) = next.chain(hash) {
                self.iter = chain.iter(next.slot, self.guard);
            }
        }
    }
}
