//! Host build of the parts of rvs.ko that need no kernel, so that `cargo test` runs their unit
//! tests (the `#[cfg(test)]` modules in the files themselves) and the ABI checks below.
//!
//! Each module is the module's own source file, included by path: there is one copy of the code.
//! The ABI module is the `rvs-abi` crate, which includes `rust/abi.rs` the same way, so that the
//! files' `crate::abi::...` paths resolve here as in rvs.ko.

#![allow(dead_code)]

pub use rvs_abi as abi;
#[path = "../../app.rs"]
pub mod app;
#[path = "../../config_rules.rs"]
pub mod config_rules;
#[path = "../../conn_tab_size.rs"]
pub mod conn_tab_size;
#[path = "../../defense.rs"]
pub mod defense;
#[path = "../../estimator.rs"]
pub mod estimator;
#[path = "../../ftp.rs"]
pub mod ftp;
#[path = "../../headers.rs"]
pub mod headers;
#[path = "../../headers6.rs"]
pub mod headers6;
#[path = "../../jhash.rs"]
pub mod jhash;
#[path = "../../packet.rs"]
pub mod packet;
#[path = "../../pe_sip.rs"]
pub mod pe_sip;
#[path = "../../proto/mod.rs"]
pub mod proto;
#[path = "../../sched/mod.rs"]
pub mod sched;
#[path = "../../sync_apply.rs"]
pub mod sync_apply;
#[path = "../../sync_config.rs"]
pub mod sync_config;
#[path = "../../sync_pace.rs"]
pub mod sync_pace;
#[path = "../../sync_wire.rs"]
pub mod sync_wire;
#[path = "../../timeouts.rs"]
pub mod timeouts;

#[cfg(test)]
mod uapi;
