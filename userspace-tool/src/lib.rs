//! The generic netlink client of rvsadm, as a library for the project's other tools in Rust (the
//! netlink fuzzer, `fuzzer/`), so that they speak to the kernel through the same code.

pub mod netlink;
