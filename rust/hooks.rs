// SPDX-License-Identifier: GPL-2.0

//! The packet path entered from the netfilter hooks.
//!
//! The hooks sit where IPVS's sit (see the `nf_hook_ops` table in the C shim). Until the data plane
//! exists every packet is accepted unchanged.

#![deny(unsafe_code)]

/// Where a packet met rvs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookPoint {
    /// Client to virtual service (`LOCAL_IN` and `LOCAL_OUT`, IPVS's `ip_vs_in_hook`).
    Request,
    /// Real server back to client (IPVS's `ip_vs_out_hook`).
    Reply,
    /// ICMP error in transit (`FORWARD`, IPVS's `ip_vs_forward_icmp`).
    ForwardIcmp,
}

/// What happens to a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let the packet continue through the stack.
    Accept,
}

/// Decides the fate of a packet seen at `point`.
pub(crate) fn on_packet(point: HookPoint) -> Verdict {
    match point {
        HookPoint::Request | HookPoint::Reply | HookPoint::ForwardIcmp => Verdict::Accept,
    }
}
