// SPDX-License-Identifier: GPL-2.0

//! Per-namespace integer sysctls (`register_net_sysctl_sz`).
//!
//! C header: [`include/linux/sysctl.h`](srctree/include/linux/sysctl.h)

use super::{pernet::Net, sys};
use core::{ptr::NonNull, sync::atomic::AtomicI32};
use kernel::{ffi::c_void, prelude::*, str::CStr};

/// One integer sysctl: its name, its storage and how it is read and written.
pub(crate) struct IntSysctl<'a> {
    /// File name under the table's directory.
    pub(crate) name: &'static CStr,
    /// The value; the kernel's `proc_dointvec*` handlers read and write it as an `int`.
    pub(crate) value: &'a AtomicI32,
    /// How the file shows the value.
    pub(crate) kind: IntKind,
    /// Read-only in namespaces owned by a user namespace other than the initial one, whose
    /// root is not trusted with it.
    pub(crate) read_only_unprivileged: bool,
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
}

/// A registered sysctl table of one namespace, unregistered on drop.
///
/// # Invariants
///
/// `header` is the registration of `table`, whose `data` pointers stay valid while this object
/// exists.
pub(crate) struct SysctlTable {
    header: NonNull<sys::ctl_table_header>,
    _table: KVec<sys::ctl_table>,
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
                };
            table.push(
                sys::ctl_table {
                    procname: entry.name.as_char_ptr(),
                    data: entry.value.as_ptr().cast(),
                    maxlen: core::mem::size_of::<i32>() as i32,
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
        // are statics the handlers only read.
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
