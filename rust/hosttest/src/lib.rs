//! Host build of the parts of rvs.ko that need no kernel, so that `cargo test` runs their unit
//! tests (the `#[cfg(test)]` modules in the files themselves) and the ABI checks below.
//!
//! Each module is the module's own source file, included by path: there is one copy of the code.

#![allow(dead_code)]

#[path = "../../abi.rs"]
pub mod abi;
#[path = "../../conn_table.rs"]
pub mod conn_table;
#[path = "../../defense.rs"]
pub mod defense;
#[path = "../../estimator.rs"]
pub mod estimator;
#[path = "../../jhash.rs"]
pub mod jhash;
#[path = "../../packet.rs"]
pub mod packet;
#[path = "../../proto.rs"]
pub mod proto;
#[path = "../../rules.rs"]
pub mod rules;
#[path = "../../sched/mod.rs"]
pub mod sched;
#[path = "../../timeouts.rs"]
pub mod timeouts;

#[cfg(test)]
mod uapi;
