// SPDX-License-Identifier: GPL-2.0

//! Module parameters, declared with `module_param()` in the C shim (the 6.12 `module!` macro has
//! no parameters), and what the running kernel offers.

use super::sys;

/// Returns the `conn_tab_bits` module parameter as the user gave it (read-only after load).
pub(crate) fn conn_tab_bits() -> i32 {
    // SAFETY: `rvs_param_conn_tab_bits` only reads an `int` that the module loader initialised
    // before `init_module`; it has no preconditions.
    unsafe { sys::rvs_param_conn_tab_bits() }
}

/// Whether IPv6 is available (`ipv6_mod_enabled`): IPVS refuses IPv6 services without it.
pub(crate) fn ipv6_enabled() -> bool {
    // SAFETY: `ipv6_mod_enabled` reads a boot-time setting; it has no preconditions.
    unsafe { sys::ipv6_mod_enabled() }
}
