// SPDX-License-Identifier: GPL-2.0

//! The thin unsafe layer between rvs and the kernel's C APIs.
//!
//! Every C object rvs touches is wrapped here in a small safe type that owns its resource (a
//! registration is undone by `Drop`, a message under construction is freed by `Drop`). What the
//! kernel calls back into is a trait with a generic adapter here (a generic netlink
//! [`genl::Family`], a pernet [`pernet::NetData`] with its [`netfilter::HookSet`],
//! [`procfs::ProcFile`]s and [`timer::OnTimer`]); the rest of the module implements them, and only
//! the crate root names both sides. Nothing here names a module outside `ffi`. The rest of the
//! module contains no `unsafe` code.

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
pub(crate) mod udp;
pub(crate) mod work;

/// The memory the kernel manages, in pages (`totalram_pages`).
pub(crate) fn totalram_pages() -> u64 {
    // SAFETY: no preconditions; reads a global counter.
    unsafe { sys::rvs_totalram_pages() as u64 }
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
