// SPDX-License-Identifier: GPL-2.0

//! Raw bindings to the C shim and the kernel APIs rvs uses, generated at build time by the
//! module-local bindgen run in `Kbuild` (layouts depend on the kernel's `.config`).
//!
//! Only the wrappers in `rust/ffi/` use this module.

#![allow(
    dead_code,
    clippy::all,
    clippy::undocumented_unsafe_blocks,
    missing_docs,
    non_camel_case_types,
    non_upper_case_globals,
    non_snake_case,
    improper_ctypes,
    unreachable_pub,
    unsafe_op_in_unsafe_fn,
    unknown_lints,
    unnecessary_transmutes
)]

use kernel::ffi;

// `rust/bindgen_parameters` blocklists these; the kernel's `rust/bindings/lib.rs` defines them the
// same way.
type __kernel_size_t = usize;
type __kernel_ssize_t = isize;
type __kernel_ptrdiff_t = isize;

include!("bindings_generated.rs");
