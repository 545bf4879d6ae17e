// SPDX-License-Identifier: GPL-2.0

//! rvs: a Linux Virtual Server (IPVS) written in Rust.
//!
//! rvs speaks the IPVS generic netlink ABI, so that unmodified `ipvsadm` and `keepalived` drive it
//! as they drive in-tree `ip_vs`, and hooks netfilter where IPVS does.
//!
//! Layout: `ffi/` is the thin unsafe layer over the C shim and kernel APIs: safe wrappers, and
//! traits with generic adapters for what the kernel calls back (a netlink family, per-namespace
//! data, netfilter hooks, /proc files, timers). Everything else is safe Rust and implements them:
//! `control/` (the netlink commands and /proc files), `netns` (per-namespace state), `hooks` (the
//! packet path), `service`, `conn`, `sched/`, `xmit`. The crate root wires the two: it registers
//! the family and the pernet subsystem. Modules without kernel dependencies (`abi`, `timeouts`,
//! `conn_tab_size`, the schedulers' logic, `packet`, `headers`, `defense`, ...) are unit-tested on the host
//! (`rust/hosttest`).

#![deny(unsafe_code)]

use kernel::prelude::*;

mod abi;
mod app;
mod config_rules;
mod conn;
mod conn_tab_size;
mod control;
mod defense;
mod dest_trash;
mod estimator;
#[allow(unsafe_code)]
mod ffi;
mod ftp;
mod headers;
mod headers6;
mod hooks;
mod jhash;
mod netns;
mod packet;
mod pe_sip;
mod proto;
mod sched;
mod service;
mod stats;
mod sync_apply;
mod sync_config;
mod sync_daemon;
mod sync_pace;
// A few accessors of the codec serve its host tests only.
#[allow(dead_code)]
mod sync_wire;
mod timeouts;
mod xmit;
mod xmit6;
mod xmit_tunnel;

module! {
    type: RvsModule,
    name: "rvs",
    author: "The rvs developers",
    description: "rvs: IPVS-compatible layer-4 load balancer in Rust",
    license: "GPL",
}

struct RvsModule {
    // Fields drop in declaration order: the family goes first so that no request can reach a
    // namespace whose state the pernet unregistration frees next.
    _genl: ffi::genl::Registration<control::Ipvs>,
    _pernet: ffi::pernet::Registration<netns::NetState>,
}

impl kernel::Module for RvsModule {
    fn init(module: &'static ThisModule) -> Result<Self> {
        let requested_bits = ffi::params::conn_tab_bits();
        let ram = ffi::totalram_pages();
        let bits = conn_tab_size::bits_for(requested_bits, ram);
        if i64::from(bits) != i64::from(requested_bits) {
            pr_info!(
                "conn_tab_bits={} out of range {}..={}, using {}\n",
                requested_bits,
                conn_tab_size::MIN_BITS,
                conn_tab_size::max_bits(ram),
                bits
            );
        }
        // The per-namespace state must exist before any request can arrive for it.
        let pernet = <netns::NetState as ffi::pernet::NetData>::subsystem().register()?;
        let genl = ffi::genl::Registration::<control::Ipvs>::new(module).inspect_err(|e| {
            if e.to_errno() == EEXIST.to_errno() {
                pr_err!("the IPVS netlink family is taken: is ip_vs loaded? (rmmod ip_vs)\n");
            }
        })?;
        let (major, minor, patch) = abi::VERSION;
        pr_info!(
            "IPVS {}.{}.{} netlink ABI (connection table size={})\n",
            major,
            minor,
            patch,
            conn_tab_size::size_for(bits)
        );
        Ok(Self {
            _genl: genl,
            _pernet: pernet,
        })
    }
}
