// SPDX-License-Identifier: GPL-2.0

//! Per-namespace files under `/proc/net` read record by record (`proc_create_net_data` with
//! `seq_operations`), and a writer for their text.
//!
//! C header: [`include/linux/proc_fs.h`](srctree/include/linux/proc_fs.h)
//!
//! A file is a header and numbered records; the seq_file core asks for them one at a time and
//! keeps only a page or so (more if one record needs it), so that a read of a large table costs
//! bounded memory and a reader can stop anywhere.

use super::{pernet::Net, sys};
use core::{fmt, marker::PhantomData, ptr::NonNull};
use kernel::{
    ffi::{c_int, c_void},
    prelude::*,
    str::CStr,
};

/// Text output of a `/proc` file being read (`struct seq_file`).
///
/// # Invariants
///
/// `seq` is the seq_file of a `show` call in progress, valid for `'a`.
pub(crate) struct SeqWriter<'a> {
    seq: NonNull<sys::seq_file>,
    _seq: PhantomData<&'a mut sys::seq_file>,
}

impl SeqWriter<'_> {
    /// Writes `bytes` as they are, text or not (as `seq_write` of a packet's bytes).
    pub(crate) fn write_bytes(&mut self, bytes: &[u8]) {
        // When the buffer overflows, the seq_file core shows the record again later (with a
        // larger buffer if it was the only one), so the result needs no handling here.
        // SAFETY: by the type invariant `seq` is valid; `bytes` is valid for its length.
        unsafe { sys::seq_write(self.seq.as_ptr(), bytes.as_ptr().cast(), bytes.len()) };
    }
}

impl fmt::Write for SeqWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        self.write_bytes(s.as_bytes());
        Ok(())
    }
}

/// The content of a `/proc/net` file: a header, then records numbered from 0.
pub(crate) trait ProcFile: 'static {
    /// What the file shows (the namespace's data).
    type Data: Sync + 'static;

    /// How many records there are now; the file ends after the last.
    fn records(data: &Self::Data) -> u64;

    /// Writes the header.
    fn header(data: &Self::Data, out: &mut SeqWriter<'_>) -> fmt::Result;

    /// Writes record `index` (below `records`; what it shows may have changed since).
    fn record(data: &Self::Data, index: u64, out: &mut SeqWriter<'_>) -> fmt::Result;

    /// The record after record `index` (a file may number its records sparsely).
    fn next_record(_data: &Self::Data, index: u64) -> u64 {
        index.saturating_add(1)
    }
}

/// The `seq_operations` of a [`ProcFile`]. The iterator is the position itself (`*pos`): 0 is
/// the header and `n` record `n - 1`.
struct SeqAdapter<F: ProcFile>(PhantomData<F>);

impl<F: ProcFile> SeqAdapter<F> {
    const OPS: sys::seq_operations = sys::seq_operations {
        start: Some(Self::start),
        stop: Some(Self::stop),
        next: Some(Self::next),
        show: Some(Self::show),
    };

    /// The data of the file `seq` reads.
    ///
    /// # Safety
    ///
    /// `seq` must be the seq_file of a file created by [`ProcEntry::new`] for `F`.
    unsafe fn data<'a>(seq: *mut sys::seq_file) -> &'a F::Data {
        // SAFETY: the entry's data is the `F::Data` given to `ProcEntry::new`, which outlives the
        // entry, and the entry's removal waits for its readers.
        unsafe { &*sys::rvs_seq_pde_data(seq).cast::<F::Data>() }
    }

    /// The position as an iterator: non-null while it names the header or a record.
    ///
    /// # Safety
    ///
    /// As for [`Self::data`]; `pos` must be valid.
    unsafe fn at(seq: *mut sys::seq_file, pos: *mut sys::loff_t) -> *mut c_void {
        // SAFETY: the caller's guarantee.
        let (data, index) = unsafe { (Self::data(seq), *pos) };
        match u64::try_from(index) {
            Ok(i) if i <= F::records(data) => pos.cast(),
            _ => core::ptr::null_mut(),
        }
    }

    /// `start`: the header or record at `*pos`.
    ///
    /// # Safety
    ///
    /// Called by the seq_file core only, for a file of `F`, with a valid position.
    unsafe extern "C" fn start(seq: *mut sys::seq_file, pos: *mut sys::loff_t) -> *mut c_void {
        // SAFETY: the seq_file core calls this for our file with a valid position.
        unsafe { Self::at(seq, pos) }
    }

    /// `next`: advances `*pos` to the next record.
    ///
    /// # Safety
    ///
    /// As for [`Self::start`].
    unsafe extern "C" fn next(
        seq: *mut sys::seq_file,
        _v: *mut c_void,
        pos: *mut sys::loff_t,
    ) -> *mut c_void {
        // SAFETY: the seq_file core passes a valid position, which `next` must advance; the file
        // is ours.
        unsafe {
            *pos = match u64::try_from(*pos) {
                Ok(0) => 1,
                Ok(n) => i64::try_from(F::next_record(Self::data(seq), n - 1))
                    .map_or(i64::MAX, |i| i.saturating_add(1)),
                Err(_) => i64::MAX,
            }
        };
        // SAFETY: as in `start`.
        unsafe { Self::at(seq, pos) }
    }

    /// `stop`: nothing to release (each record takes its own RCU read section).
    ///
    /// # Safety
    ///
    /// None: it does nothing.
    unsafe extern "C" fn stop(_seq: *mut sys::seq_file, _v: *mut c_void) {}

    /// `show`: writes the header or record that `v` (a position from `start` or `next`) names.
    ///
    /// # Safety
    ///
    /// Called by the seq_file core only, for a file of `F`, with `v` from `start` or `next`.
    unsafe extern "C" fn show(seq: *mut sys::seq_file, v: *mut c_void) -> c_int {
        let Some(seq_ptr) = NonNull::new(seq) else {
            return EINVAL.to_errno();
        };
        // SAFETY: `v` is the position that `start` or `next` returned, valid during `show`.
        let index = unsafe { *v.cast::<sys::loff_t>() };
        // SAFETY: the seq_file core calls this for our file.
        let data = unsafe { Self::data(seq) };
        // INVARIANT: `seq` is valid for this call.
        let mut out = SeqWriter {
            seq: seq_ptr,
            _seq: PhantomData,
        };
        let shown = match u64::try_from(index) {
            Ok(0) => F::header(data, &mut out),
            Ok(i) => F::record(data, i - 1, &mut out),
            Err(_) => Ok(()),
        };
        match shown {
            Ok(()) => 0,
            Err(fmt::Error) => EINVAL.to_errno(),
        }
    }
}

/// A `/proc/net` file of one namespace, removed on drop.
///
/// # Invariants
///
/// The entry `name` exists in `net`'s `/proc/net`, and `net` is alive while this object exists.
pub(crate) struct ProcEntry {
    net: NonNull<sys::net>,
    name: &'static CStr,
}

// SAFETY: the entry is only a handle; it may be removed from any thread.
unsafe impl Send for ProcEntry {}
// SAFETY: as above; `&ProcEntry` gives no access.
unsafe impl Sync for ProcEntry {}

impl ProcEntry {
    /// Creates the read-only file `/proc/net/<name>` of `net`, showing `F` with `data`.
    ///
    /// # Safety
    ///
    /// `net` must stay alive and `data` alive and in place while the returned object exists.
    pub(crate) unsafe fn new<F: ProcFile>(
        net: &Net,
        name: &'static CStr,
        data: &F::Data,
    ) -> Result<Self> {
        let net_ptr = NonNull::new(net.as_ptr()).ok_or(EINVAL)?;
        // SAFETY: `net` is alive.
        let parent = unsafe { sys::rvs_net_proc_dir(net_ptr.as_ptr()) };
        let ops: &'static sys::seq_operations = &SeqAdapter::<F>::OPS;
        let state_size = core::mem::size_of::<sys::seq_net_private>() as _;
        // SAFETY: `name` is NUL-terminated and static; `ops` is static; `data` outlives the entry
        // (caller's guarantee), which the callbacks reach through `pde_data`.
        let entry = unsafe {
            sys::proc_create_net_data(
                name.as_char_ptr(),
                0o444,
                parent,
                ops,
                state_size,
                core::ptr::from_ref(data).cast_mut().cast(),
            )
        };
        if entry.is_null() {
            return Err(ENOMEM);
        }
        // INVARIANT: created just above in the live `net`.
        Ok(Self { net: net_ptr, name })
    }
}

impl Drop for ProcEntry {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `net` is alive.
        let parent = unsafe { sys::rvs_net_proc_dir(self.net.as_ptr()) };
        // SAFETY: the entry exists (type invariant); removal waits for readers in its callbacks.
        unsafe { sys::remove_proc_entry(self.name.as_char_ptr(), parent) };
    }
}
