// SPDX-License-Identifier: GPL-2.0

//! Per-namespace integer sysctls (`register_net_sysctl_sz`).
//!
//! C header: [`include/linux/sysctl.h`](srctree/include/linux/sysctl.h)

use super::{pernet::Net, sys};
use core::{
    ptr::NonNull,
    sync::atomic::{AtomicI32, Ordering},
};
use kernel::{
    ffi::{c_int, c_void},
    prelude::*,
    str::CStr,
};

/// One integer sysctl: its name, its storage and how it is read and written.
pub(crate) struct IntSysctl<'a> {
    /// File name under the table's directory.
    pub(crate) name: &'static CStr,
    /// The value, or the values of a file that holds several (`sync_threshold`); the kernel's
    /// `proc_dointvec*` handlers read and write them as `int`s.
    pub(crate) values: &'a [AtomicI32],
    /// How the file shows the value.
    pub(crate) kind: IntKind,
    /// Read-only in namespaces owned by a user namespace other than the initial one, whose
    /// root is not trusted with it.
    pub(crate) read_only_unprivileged: bool,
    /// Called in the writer's task after a successful write (which may sleep), for a value that
    /// is acted on at once rather than read where it is used.
    pub(crate) on_write: Option<fn(&Net)>,
}

/// How an integer sysctl file shows its value.
pub(crate) enum IntKind {
    /// Any `int` (`proc_dointvec`).
    Plain,
    /// An `int` in an inclusive range; writes outside it fail with `-EINVAL`
    /// (`proc_dointvec_minmax`).
    Range(&'static i32, &'static i32),
    /// A duration kept in ticks and shown in seconds (`proc_dointvec_jiffies`).
    Jiffies,
    /// `int`s (at most [`MAX_CHECKED_VALUES`]) written together: a write of values the check
    /// refuses fails with `-EINVAL` and changes nothing (as IPVS's `proc_do_sync_threshold`).
    Checked(&'static fn(&[i32]) -> bool),
}

/// The most values an [`IntKind::Checked`] file holds.
pub(crate) const MAX_CHECKED_VALUES: usize = 4;

/// A registered sysctl table of one namespace, unregistered on drop.
///
/// # Invariants
///
/// `header` is the registration of `table`, whose `data` pointers stay valid while this object
/// exists.
pub(crate) struct SysctlTable {
    header: NonNull<sys::ctl_table_header>,
    _table: KVec<sys::ctl_table>,
    /// The `extra1` of the entries with [`IntSysctl::on_write`]; never grown, so that the
    /// entries' pointers stay valid.
    _notifiers: KVec<Notifier>,
}

/// What [`notify_handler`] needs of an entry with [`IntSysctl::on_write`]: the handler and
/// limits it stands in for, the namespace, and what to call.
struct Notifier {
    handler: sys::proc_handler,
    extra1: *mut c_void,
    extra2: *mut c_void,
    net: *mut sys::net,
    on_write: fn(&Net),
}

/// The handler of an entry with [`IntSysctl::on_write`]: its own handler, then the callback after
/// a successful write.
///
/// # Safety
///
/// Called by the sysctl core only, for an entry of a live [`SysctlTable`] whose `extra1` is its
/// [`Notifier`], with the arguments of a `proc_handler`.
unsafe extern "C" fn notify_handler(
    table: *const sys::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut sys::loff_t,
) -> c_int {
    // SAFETY: the entry's `extra1` is its notifier, which lives as long as the table (caller).
    let notifier = unsafe { &*(*table).extra1.cast::<Notifier>() };
    // SAFETY: `table` is a valid entry (caller); the copy is the entry as its own handler knows
    // it, with its limits.
    let inner = sys::ctl_table {
        extra1: notifier.extra1,
        extra2: notifier.extra2,
        ..unsafe { *table }
    };
    let Some(handler) = notifier.handler else {
        return EINVAL.to_errno();
    };
    // SAFETY: the caller's arguments, with a valid copy of the entry (its `data` unchanged).
    let ret = unsafe { handler(&inner, write, buffer, lenp, ppos) };
    if write != 0 && ret == 0 {
        // SAFETY: the namespace outlives its sysctl table, which is unregistered (waiting for
        // running handlers) before the namespace goes.
        (notifier.on_write)(unsafe { Net::from_raw(notifier.net) });
    }
    ret
}

/// The handler of an [`IntKind::Checked`] entry: the values are read and written through a copy,
/// which replaces them only if the check accepts it. Two writers at once may mix their values,
/// each of which the check accepted.
///
/// # Safety
///
/// Called by the sysctl core only, for an entry of a live [`SysctlTable`] whose `extra1` is its
/// check and whose `data` holds `maxlen` bytes of `AtomicI32`s, with the arguments of a
/// `proc_handler`.
unsafe extern "C" fn checked_handler(
    table: *const sys::ctl_table,
    write: c_int,
    buffer: *mut c_void,
    lenp: *mut usize,
    ppos: *mut sys::loff_t,
) -> c_int {
    // SAFETY: `table` is a valid entry (caller).
    let entry = unsafe { *table };
    // SAFETY: the entry's `extra1` is a reference to a static check (`SysctlTable::new`).
    let check = unsafe { *entry.extra1.cast::<fn(&[i32]) -> bool>() };
    let len = (usize::try_from(entry.maxlen).unwrap_or(0) / core::mem::size_of::<c_int>())
        .min(MAX_CHECKED_VALUES);
    // SAFETY: `data` holds `len` atomics (caller), alive while the table is registered.
    let values = unsafe { core::slice::from_raw_parts(entry.data.cast::<AtomicI32>(), len) };
    let mut copy = [0 as c_int; MAX_CHECKED_VALUES];
    for (c, v) in copy.iter_mut().zip(values) {
        *c = v.load(Ordering::Relaxed);
    }
    let tmp = sys::ctl_table {
        data: copy.as_mut_ptr().cast(),
        extra1: core::ptr::null_mut(),
        ..entry
    };
    // SAFETY: the caller's arguments, with an entry whose `data` is `copy`, of `maxlen` bytes.
    let ret = unsafe { sys::proc_dointvec(&tmp, write, buffer, lenp, ppos) };
    if write == 0 || ret != 0 {
        return ret;
    }
    if !check(&copy[..len]) {
        return EINVAL.to_errno();
    }
    for (v, c) in values.iter().zip(copy) {
        v.store(c, Ordering::Relaxed);
    }
    0
}

impl SysctlTable {
    /// Registers `entries` under `path` (for example `net/ipv4/vs`) in `net`.
    ///
    /// # Safety
    ///
    /// `net` must stay alive, and every `entries[i].value` must outlive the returned object.
    pub(crate) unsafe fn new(
        net: &Net,
        path: &'static CStr,
        entries: &[IntSysctl<'_>],
    ) -> Result<Self> {
        let mut table = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
        let mut notifiers = KVec::with_capacity(entries.len(), GFP_KERNEL)?;
        // SAFETY: `net` is alive; this reads its owning user namespace.
        let unprivileged = !unsafe { sys::rvs_net_owned_by_init_user_ns(net.as_ptr()) };
        for entry in entries {
            let (handler, extra1, extra2): (sys::proc_handler, *mut c_void, *mut c_void) =
                match entry.kind {
                    IntKind::Range(min, max) => (
                        Some(sys::proc_dointvec_minmax),
                        core::ptr::from_ref(min).cast_mut().cast(),
                        core::ptr::from_ref(max).cast_mut().cast(),
                    ),
                    IntKind::Plain => (
                        Some(sys::proc_dointvec),
                        core::ptr::null_mut(),
                        core::ptr::null_mut(),
                    ),
                    IntKind::Jiffies => (
                        Some(sys::proc_dointvec_jiffies),
                        core::ptr::null_mut(),
                        core::ptr::null_mut(),
                    ),
                    IntKind::Checked(check) => {
                        if entry.values.len() > MAX_CHECKED_VALUES {
                            return Err(EINVAL);
                        }
                        (
                            Some(checked_handler),
                            core::ptr::from_ref(check).cast_mut().cast(),
                            core::ptr::null_mut(),
                        )
                    }
                };
            let (handler, extra1, extra2) = match entry.on_write {
                None => (handler, extra1, extra2),
                Some(on_write) => {
                    notifiers.push(
                        Notifier {
                            handler,
                            extra1,
                            extra2,
                            net: net.as_ptr(),
                            on_write,
                        },
                        GFP_KERNEL,
                    )?;
                    // The capacity was reserved for every entry: the vector does not move.
                    let notifier = notifiers.last_mut().map(core::ptr::from_mut);
                    let notifier = notifier.ok_or(EINVAL)?;
                    let handler: sys::proc_handler = Some(notify_handler);
                    (handler, notifier.cast::<c_void>(), core::ptr::null_mut())
                }
            };
            table.push(
                sys::ctl_table {
                    procname: entry.name.as_char_ptr(),
                    data: entry.values.as_ptr().cast_mut().cast(),
                    maxlen: i32::try_from(core::mem::size_of_val(entry.values))?,
                    mode: if unprivileged && entry.read_only_unprivileged {
                        0o444
                    } else {
                        0o644
                    },
                    proc_handler: handler,
                    poll: core::ptr::null_mut(),
                    extra1,
                    extra2,
                },
                GFP_KERNEL,
            )?;
        }
        // SAFETY: `net` is alive; `table` holds `len` valid entries whose data pointers outlive
        // the registration (caller's guarantee) and which `Self` keeps alive; the range limits
        // and checks are statics the handlers only read.
        let header = unsafe {
            sys::register_net_sysctl_sz(
                net.as_ptr(),
                path.as_char_ptr(),
                table.as_mut_ptr(),
                table.len(),
            )
        };
        let header = NonNull::new(header).ok_or(ENOMEM)?;
        // INVARIANT: registered just above; the table moves with `Self` (its heap buffer does
        // not move).
        Ok(Self {
            header,
            _table: table,
            _notifiers: notifiers,
        })
    }
}

impl Drop for SysctlTable {
    fn drop(&mut self) {
        // SAFETY: by the type invariant `header` is a live registration; unregistering waits for
        // readers and writers of the files.
        unsafe { sys::unregister_net_sysctl_table(self.header.as_ptr()) };
    }
}
