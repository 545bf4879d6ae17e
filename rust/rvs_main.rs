// SPDX-License-Identifier: GPL-2.0

//! rvs: a Linux Virtual Server (IPVS) written in Rust.
//!
//! rvs speaks the IPVS generic netlink ABI, so that unmodified `ipvsadm` and `keepalived` drive it
//! as they drive in-tree `ip_vs`, and hooks netfilter where IPVS does.
//!
//! Layout: `ffi/` is the thin unsafe layer over the C shim and kernel APIs (registrations,
//! netlink messages, namespaces); everything else is safe Rust: `control/` (netlink commands),
//! `netns` (per-namespace state), `hooks` (packet path); `abi`, `timeouts` and `conn_table` have
//! no kernel dependency and are unit-tested on the host.

use kernel::prelude::*;

mod abi;
mod conn;
mod conn_table;
mod control;
mod defense;
mod estimator;
mod ffi;
mod hooks;
mod jhash;
mod netns;
mod packet;
mod proto;
mod rules;
mod sched;
mod service;
mod stats;
mod timeouts;
mod xmit;

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
    _genl: ffi::genl::FamilyRegistration,
    _pernet: ffi::pernet::PernetRegistration,
}

impl kernel::Module for RvsModule {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        let requested_bits = ffi::params::conn_tab_bits();
        let bits = conn_table::bits_for(requested_bits);
        if i64::from(bits) != i64::from(requested_bits) {
            pr_info!(
                "conn_tab_bits={} out of range {}..={}, using {}\n",
                requested_bits,
                conn_table::MIN_BITS,
                conn_table::MAX_BITS,
                bits
            );
        }
        // The per-namespace state must exist before any request can arrive for it.
        let pernet = ffi::pernet::PernetRegistration::new()?;
        let genl = ffi::genl::FamilyRegistration::new().inspect_err(|e| {
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
            conn_table::size_for(bits)
        );
        Ok(Self {
            _genl: genl,
            _pernet: pernet,
        })
    }
}
