// SPDX-License-Identifier: GPL-2.0

//! Per-namespace files under `/proc/net` (`proc_create_net_single`) and a writer for their text.
//!
//! C header: [`include/linux/proc_fs.h`](srctree/include/linux/proc_fs.h)

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

impl fmt::Write for SeqWriter<'_> {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        // SAFETY: by the type invariant `seq` is valid; `s` is valid for `s.len()` bytes. When
        // the buffer overflows, the seq_file core retries `show` with a larger one, so the
        // result needs no handling here.
        unsafe { sys::seq_write(self.seq.as_ptr(), s.as_ptr().cast(), s.len()) };
        Ok(())
    }
}

/// What one `/proc/net` file shows: a function that writes the namespace's text.
pub(crate) type ShowFn = fn(&Net, &mut SeqWriter<'_>) -> fmt::Result;

/// The `/proc/net` files of one namespace, removed on drop.
///
/// # Invariants
///
/// The `names` entries exist in `net`'s `/proc/net`, and `net` is alive while this object exists.
pub(crate) struct ProcFiles {
    net: NonNull<sys::net>,
    names: &'static [&'static CStr],
}

impl ProcFiles {
    /// Creates one read-only `/proc/net` file per `(name, show trampoline)` pair in `net`.
    ///
    /// # Safety
    ///
    /// `net` must be a live namespace whose rvs state outlives the returned object (it is
    /// dropped from the namespace's pernet `exit`, before the state).
    pub(crate) unsafe fn new(
        net: *mut sys::net,
        names: &'static [&'static CStr],
        shows: &'static [unsafe extern "C" fn(*mut sys::seq_file, *mut c_void) -> c_int],
    ) -> Result<Self> {
        let net = NonNull::new(net).ok_or(EINVAL)?;
        // SAFETY: `net` is live (caller's guarantee).
        let parent = unsafe { sys::rvs_net_proc_dir(net.as_ptr()) };
        for (i, (name, show)) in names.iter().zip(shows).enumerate() {
            // SAFETY: `name` is NUL-terminated and static; `show` is a valid callback for the
            // lifetime of the entry (module text, removed before unload).
            let entry = unsafe {
                sys::proc_create_net_single(
                    name.as_char_ptr(),
                    0o444,
                    parent,
                    Some(*show),
                    core::ptr::null_mut(),
                )
            };
            if entry.is_null() {
                for created in &names[..i] {
                    // SAFETY: created just above in the same parent.
                    unsafe { sys::remove_proc_entry(created.as_char_ptr(), parent) };
                }
                return Err(ENOMEM);
            }
        }
        // INVARIANT: all entries were created in `net`, which the caller keeps alive.
        Ok(Self { net, names })
    }
}

impl Drop for ProcFiles {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `net` is alive.
        let parent = unsafe { sys::rvs_net_proc_dir(self.net.as_ptr()) };
        for name in self.names {
            // SAFETY: the entry exists (type invariant); removal waits for readers in `show`.
            unsafe { sys::remove_proc_entry(name.as_char_ptr(), parent) };
        }
    }
}

/// Runs `show` for the namespace of a `/proc/net` file being read; the body of every `show`
/// trampoline.
///
/// # Safety
///
/// `seq` must be the seq_file of a `proc_create_net_single` file of rvs being shown.
pub(crate) unsafe fn show(seq: *mut sys::seq_file, show: ShowFn) -> c_int {
    let Some(seq_ptr) = NonNull::new(seq) else {
        return EINVAL.to_errno();
    };
    // SAFETY: `seq` belongs to a per-namespace file, which holds a reference to its namespace.
    let net = unsafe { sys::rvs_seq_file_net(seq) };
    // SAFETY: the files are removed (waiting for readers) before the namespace's rvs state is
    // freed, so the state exists while `show` runs.
    let net = unsafe { Net::from_raw(net) };
    // INVARIANT: `seq` is valid for this call.
    let mut writer = SeqWriter {
        seq: seq_ptr,
        _seq: PhantomData,
    };
    match show(net, &mut writer) {
        Ok(()) => 0,
        Err(fmt::Error) => EINVAL.to_errno(),
    }
}

/// The `/proc/net` files of rvs, as in IPVS: the service table, the totals and the connections.
pub(crate) const NAMES: &[&CStr] = &[
    kernel::c_str!("ip_vs"),
    kernel::c_str!("ip_vs_stats"),
    kernel::c_str!("ip_vs_conn"),
];

/// `show` of `/proc/net/ip_vs`.
///
/// # Safety
///
/// Called by the seq_file core only, for the file created with it.
unsafe extern "C" fn rvs_rs_proc_services(seq: *mut sys::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: our caller's guarantee.
    unsafe { show(seq, crate::control::proc::services) }
}

/// `show` of `/proc/net/ip_vs_stats`.
///
/// # Safety
///
/// Called by the seq_file core only, for the file created with it.
unsafe extern "C" fn rvs_rs_proc_stats(seq: *mut sys::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: our caller's guarantee.
    unsafe { show(seq, crate::control::proc::stats) }
}

/// `show` of `/proc/net/ip_vs_conn`.
///
/// # Safety
///
/// Called by the seq_file core only, for the file created with it.
unsafe extern "C" fn rvs_rs_proc_conns(seq: *mut sys::seq_file, _v: *mut c_void) -> c_int {
    // SAFETY: our caller's guarantee.
    unsafe { show(seq, crate::control::proc::conns) }
}

/// The `show` callbacks of [`NAMES`], in the same order.
pub(crate) const SHOWS: &[unsafe extern "C" fn(*mut sys::seq_file, *mut c_void) -> c_int] =
    &[rvs_rs_proc_services, rvs_rs_proc_stats, rvs_rs_proc_conns];
