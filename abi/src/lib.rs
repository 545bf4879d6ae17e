//! The IPVS generic netlink ABI of rvs: family, commands, attribute numbers, flags and version
//! encoding, as `include/uapi/linux/ip_vs.h` defines them.
//!
//! The definitions live in `rust/abi.rs`, which rvs.ko compiles as its `abi` module (Kbuild builds
//! files under `rust/` only, without cargo crates); this crate includes that one file, so that
//! `rvsadm` and the host tests use the very same constants as the module.

#![no_std]

#[path = "../../rust/abi.rs"]
mod uapi;

pub use uapi::*;
