// SPDX-License-Identifier: GPL-2.0

//! The thin unsafe layer between rvs and the kernel's C APIs.
//!
//! Every C object rvs touches is wrapped here in a small safe type that owns its resource (a
//! registration is undone by `Drop`, a message under construction is freed by `Drop`). The rest of
//! the module (control plane, and later services, connections, schedulers and transmitters) uses
//! only these wrappers and contains no `unsafe` code.

pub(crate) mod genl;
pub(crate) mod netfilter;
pub(crate) mod params;
pub(crate) mod percpu;
pub(crate) mod pernet;
pub(crate) mod procfs;
pub(crate) mod rcu;
pub(crate) mod rculist;
pub(crate) mod skb;
pub(crate) mod sync;
pub(crate) mod sys;
pub(crate) mod sysctl;
pub(crate) mod timer;

use core::sync::atomic::{AtomicBool, Ordering};
use kernel::{ffi::c_int, prelude::*};

/// Registers one of the shim's static C objects (a family, a pernet subsystem) by calling
/// `register`, unless `registered` says it is registered already (`-EBUSY`): a static object
/// can be registered only once at a time. `registered` is set on success.
pub(crate) fn register_static(registered: &AtomicBool, register: impl FnOnce() -> c_int) -> Result {
    if registered.swap(true, Ordering::AcqRel) {
        return Err(EBUSY);
    }
    let ret = register();
    if ret < 0 {
        registered.store(false, Ordering::Release);
        return Err(Error::from_errno(ret));
    }
    Ok(())
}

/// Free memory in pages, as `si_mem_available` estimates it.
pub(crate) fn mem_available_pages() -> i64 {
    // SAFETY: no preconditions; reads global counters.
    unsafe { sys::si_mem_available() as i64 }
}

/// A random 32-bit value (`get_random_u32`), for hash seeds.
pub(crate) fn random_u32() -> u32 {
    // SAFETY: no preconditions.
    unsafe { sys::get_random_u32() }
}

/// A uniformly random number below `ceil`, or any if `ceil` is 0 (`get_random_u32_below`).
pub(crate) fn random_u32_below(ceil: u32) -> u32 {
    // SAFETY: no preconditions.
    unsafe { sys::rvs_random_u32_below(ceil) }
}

/// Errno values that `kernel::error::code` of 6.12 does not name.
pub(crate) mod errno {
    use super::sys;
    use kernel::error::Error;

    /// `-EOPNOTSUPP`: the command is not supported.
    pub(crate) fn eopnotsupp() -> Error {
        Error::from_errno(-(sys::EOPNOTSUPP as i32))
    }

    /// `-EAFNOSUPPORT`: the address family is not supported.
    pub(crate) fn eafnosupport() -> Error {
        Error::from_errno(-(sys::EAFNOSUPPORT as i32))
    }

    /// `-EMSGSIZE`: a message does not fit its buffer.
    pub(crate) fn emsgsize() -> Error {
        Error::from_errno(-(sys::EMSGSIZE as i32))
    }
}
