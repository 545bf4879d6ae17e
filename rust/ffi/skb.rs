// SPDX-License-Identifier: GPL-2.0

//! Socket buffers seen by the netfilter hooks: reading headers, rewriting them in place, routing
//! and sending.
//!
//! C headers: [`include/linux/skbuff.h`](srctree/include/linux/skbuff.h),
//! [`include/net/ip.h`](srctree/include/net/ip.h)
//!
//! Offsets are counted from the network (IPv4) header. A packet's headers are read once, through
//! [`Packet::parse`]: a parser gets the linear bytes as they are, and asks for more to be pulled
//! only when the headers it needs are not linear yet. A packet is only written through
//! [`Writable`], which exists after `skb_ensure_writable` made the bytes private and linear.

use super::{pernet::Net, rcu::Guard, sys};
use crate::packet::{Bytes, Need};
use core::{
    marker::PhantomData,
    ptr::NonNull,
    sync::atomic::{AtomicPtr, Ordering},
};
use kernel::{prelude::*, types::Opaque};

/// What a hook tells netfilter to do with a packet.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// Let the packet continue through the stack.
    Accept,
    /// Free the packet.
    Drop,
    /// The packet was consumed (sent by rvs); only [`Packet::local_out`] and
    /// [`Packet::forward_out`] return it.
    Stolen,
}

impl Verdict {
    pub(crate) fn to_nf(self) -> u32 {
        match self {
            Verdict::Accept => sys::NF_ACCEPT,
            Verdict::Drop => sys::NF_DROP,
            Verdict::Stolen => sys::NF_STOLEN,
        }
    }
}

/// Whose fragments a reassembly queue holds (`IP_DEFRAG_VS_*`): IPVS's queues per hook, apart
/// from the stack's own.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DefragUser {
    /// `LOCAL_IN`.
    In,
    /// `LOCAL_OUT`.
    Out,
    /// `FORWARD`.
    Forward,
}

/// The `SKB_GSO_*` bits of tunnelled packets (`iptunnel_handle_offloads`).
pub(crate) mod gso {
    use super::sys;

    pub(crate) const IPXIP4: u32 = sys::SKB_GSO_IPXIP4;
    pub(crate) const IPXIP6: u32 = sys::SKB_GSO_IPXIP6;
    pub(crate) const UDP_TUNNEL: u32 = sys::SKB_GSO_UDP_TUNNEL;
    pub(crate) const UDP_TUNNEL_CSUM: u32 = sys::SKB_GSO_UDP_TUNNEL_CSUM;
    pub(crate) const TUNNEL_REMCSUM: u32 = sys::SKB_GSO_TUNNEL_REMCSUM;
    pub(crate) const GRE: u32 = sys::SKB_GSO_GRE;
    pub(crate) const GRE_CSUM: u32 = sys::SKB_GSO_GRE_CSUM;
}

/// An output route (`struct rtable`): with a reference of its own, or borrowed from a
/// [`RouteCache`] for the read-side critical section `'g`.
///
/// # Invariants
///
/// `rt` is a valid route; when `owned`, this object owns a reference to it, else it stays valid
/// until `'g` ends (the kernel frees a route a grace period after its last reference is dropped).
pub(crate) struct Route<'g> {
    rt: NonNull<sys::rtable>,
    owned: bool,
    /// The source address the route selected.
    pub(crate) saddr: [u8; 4],
    _rcu: PhantomData<&'g Guard>,
}

impl Route<'_> {
    /// Whether the route leads to this host (`RTCF_LOCAL`).
    pub(crate) fn is_local(&self) -> bool {
        // SAFETY: `rt` is valid (type invariant).
        unsafe { (*self.rt.as_ptr()).rt_flags & sys::RTCF_LOCAL != 0 }
    }

    /// The route's MTU (`dst_mtu`).
    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: `rt` is valid (type invariant).
        unsafe { sys::rvs_rt_mtu(self.rt.as_ptr()) }
    }

    /// The link-layer headroom the route's device needs (`LL_RESERVED_SPACE`).
    pub(crate) fn reserved_space(&self) -> u32 {
        // SAFETY: `rt` is valid (type invariant).
        unsafe { sys::rvs_rt_reserved_space(self.rt.as_ptr()) }
    }
}

impl Drop for Route<'_> {
    fn drop(&mut self) {
        if self.owned {
            // SAFETY: the reference is ours (type invariant).
            unsafe { sys::rvs_rt_put(self.rt.as_ptr()) };
        }
    }
}

/// An IPv6 output route (the `dst_entry` of a `struct rt6_info`) with a reference of its own.
///
/// # Invariants
///
/// `dst` is a valid route whose reference this object owns.
pub(crate) struct Route6 {
    dst: NonNull<sys::dst_entry>,
}

// SAFETY: a route reference may be dropped on any CPU.
unsafe impl Send for Route6 {}

impl Route6 {
    /// Whether the route leads to this host: its device is a loopback device
    /// (`__ip_vs_is_local_route6`).
    pub(crate) fn is_local(&self) -> bool {
        // SAFETY: `dst` is valid (type invariant).
        unsafe { sys::rvs_dst_dev_is_loopback(self.dst.as_ptr()) }
    }

    /// The route's MTU (`dst_mtu`).
    pub(crate) fn mtu(&self) -> u32 {
        // SAFETY: `dst` is valid (type invariant).
        unsafe { sys::rvs_dst_mtu(self.dst.as_ptr()) }
    }

    /// The link-layer headroom the route's device needs (`LL_RESERVED_SPACE`).
    pub(crate) fn reserved_space(&self) -> u32 {
        // SAFETY: `dst` is valid (type invariant).
        unsafe { sys::rvs_dst_reserved_space(self.dst.as_ptr()) }
    }

    /// The source address for packets to `daddr` by this route, chosen for its device
    /// (`ipv6_dev_get_saddr`, as `__ip_vs_route_output_v6` has it for a tunnel header).
    pub(crate) fn source(&self, net: &Net, daddr: [u8; 16]) -> Result<[u8; 16]> {
        let daddr = sys::in6_addr {
            in6_u: sys::in6_addr__bindgen_ty_1 { u6_addr8: daddr },
        };
        let mut saddr = sys::in6_addr::default();
        // SAFETY: `net` is alive, `dst` is a valid IPv6 route (type invariant), both addresses
        // are valid for the duration of the call.
        let ret =
            unsafe { sys::rvs_ip6_dst_saddr(net.as_ptr(), self.dst.as_ptr(), &daddr, &mut saddr) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // SAFETY: every bit pattern of the union is a valid byte array.
        Ok(unsafe { saddr.in6_u.u6_addr8 })
    }
}

impl Drop for Route6 {
    fn drop(&mut self) {
        // SAFETY: the reference is ours (type invariant).
        unsafe { sys::dst_release(self.dst.as_ptr()) };
    }
}

/// The family-independent part of an output route lookup's flow: none but, with `known_nh`,
/// the destination taken as the next hop (`FLOWI_FLAG_KNOWN_NH`).
fn flow_common(known_nh: bool) -> sys::flowi_common {
    sys::flowi_common {
        flowic_flags: if known_nh {
            sys::FLOWI_FLAG_KNOWN_NH as u8
        } else {
            0
        },
        ..Default::default()
    }
}

/// The route to one real server, kept for its next packets (IPVS's `struct ip_vs_dest_dst`):
/// a packet borrows it for its read-side critical section (`skb_dst_set_noref`) instead of a
/// route lookup and a reference. It is looked up again once the kernel marks it stale
/// (`dst->obsolete` and `dst_ops->check`: a routing change, a learnt path MTU, a device down).
///
/// # Invariants
///
/// `cached` is null or an entry from `KBox::into_raw` owned by this cache; an entry it replaces
/// is freed after a grace period, so that readers already on it can finish.
pub(crate) struct RouteCache {
    cached: AtomicPtr<CachedRoute>,
}

/// A cached route and what it was looked up for.
struct CachedRoute {
    /// A route whose reference this entry owns.
    rt: NonNull<sys::rtable>,
    saddr: [u8; 4],
    daddr: [u8; 4],
    known_nh: bool,
    rcu: Opaque<sys::callback_head>,
}

impl Drop for CachedRoute {
    fn drop(&mut self) {
        // SAFETY: the reference is this entry's (field invariant above).
        unsafe { sys::rvs_rt_put(self.rt.as_ptr()) };
    }
}

impl RouteCache {
    /// An empty cache.
    pub(crate) const fn new() -> Self {
        Self {
            cached: AtomicPtr::new(core::ptr::null_mut()),
        }
    }

    /// The route of `pkt` to `daddr` (the next hop itself when `known_nh`, see
    /// [`Packet::route_output`]): the cached one while the kernel holds it valid, else a new
    /// lookup, which is cached for the next packets.
    pub(crate) fn route<'g>(
        &self,
        pkt: &Packet<'_>,
        net: &Net,
        daddr: [u8; 4],
        known_nh: bool,
        _guard: &'g Guard,
    ) -> Result<Route<'g>> {
        let cached = self.cached.load(Ordering::Acquire);
        // SAFETY: a non-null entry is live (type invariant): one replaced meanwhile is freed only
        // after a grace period, which `_guard` holds off while the reference is used.
        if let Some(entry) = unsafe { cached.as_ref() } {
            // SAFETY: the entry holds a reference to `rt`. A route not marked obsolete holds
            // (`__ip_vs_dst_check`); only a marked one asks its `dst_ops->check`.
            let valid = unsafe {
                (*entry.rt.as_ptr()).dst.obsolete == 0 || sys::rvs_rt_check(entry.rt.as_ptr())
            };
            if valid && entry.daddr == daddr && entry.known_nh == known_nh {
                // INVARIANT: the route is borrowed for `'g`, a read-side critical section: even
                // if the entry is replaced and its reference dropped, the kernel frees the route
                // only after a grace period.
                return Ok(Route {
                    rt: entry.rt,
                    owned: false,
                    saddr: entry.saddr,
                    _rcu: PhantomData,
                });
            }
        }
        let route = pkt.route_output(net, daddr, known_nh)?;
        self.store(&route, daddr, known_nh);
        Ok(route)
    }

    /// Caches `route` (a reference of its own); without memory, nothing is cached.
    fn store(&self, route: &Route<'_>, daddr: [u8; 4], known_nh: bool) {
        let entry = CachedRoute {
            rt: route.rt,
            saddr: route.saddr,
            daddr,
            known_nh,
            rcu: Opaque::uninit(),
        };
        // SAFETY: `route.rt` is valid (type invariant of `Route`); the entry, dropped or cached,
        // owns the reference taken here.
        unsafe { sys::rvs_rt_hold(route.rt.as_ptr()) };
        let Ok(entry) = KBox::new(entry, GFP_ATOMIC) else {
            return;
        };
        // INVARIANT: the cache owns the new entry; the old one is freed after a grace period.
        let old = self.cached.swap(KBox::into_raw(entry), Ordering::AcqRel);
        if !old.is_null() {
            // SAFETY: `old` was this cache's entry (type invariant), unreachable from now on; its
            // `rcu` head was never queued (an entry leaves the cache once).
            unsafe { sys::call_rcu((*old).rcu.get(), Some(free_cached_route)) };
        }
    }
}

/// The `call_rcu` callback of [`RouteCache::store`]: frees a replaced entry.
///
/// # Safety
///
/// `head` must be the `rcu` field of a [`CachedRoute`] from `KBox::into_raw`, no longer reachable.
unsafe extern "C" fn free_cached_route(head: *mut sys::callback_head) {
    // SAFETY: `head` lies `offset_of!(CachedRoute, rcu)` bytes into its entry (caller).
    let raw = unsafe {
        head.cast::<u8>()
            .sub(core::mem::offset_of!(CachedRoute, rcu))
    };
    // SAFETY: the entry came from `KBox::into_raw` and nothing reaches it any more (caller).
    drop(unsafe { KBox::from_raw(raw.cast::<CachedRoute>()) });
}

impl Drop for RouteCache {
    fn drop(&mut self) {
        let cached = *self.cached.get_mut();
        if !cached.is_null() {
            // SAFETY: the entry is owned by the cache (type invariant), and with `&mut self` no
            // reader is on it; packets that borrowed its route are covered by the kernel freeing
            // routes after a grace period.
            drop(unsafe { KBox::from_raw(cached) });
        }
    }
}

/// What the packet path reads of a socket buffer besides its bytes, read in one call with them.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Meta {
    /// The packet's length (`skb->len`: from the network header at rvs's hooks), what IPVS
    /// counts as bytes.
    pub(crate) len: u32,
    /// The firewall mark (`skb->mark`).
    pub(crate) mark: u32,
    /// Addressed to this host at link level (`PACKET_HOST`).
    pub(crate) for_host: bool,
    /// The packet has a route.
    pub(crate) has_dst: bool,
    /// The transport checksum is left to the device or the stack (`CHECKSUM_PARTIAL`): the
    /// checksum field then holds the pseudo-header sum only.
    pub(crate) checksum_partial: bool,
    /// A GSO super-packet, segmented later on output.
    pub(crate) gso: bool,
}

/// How often [`Packet::parse`] pulls more bytes before it gives up on a packet.
const MAX_PULLS: usize = 4;

/// A packet handed to a netfilter hook.
///
/// # Invariants
///
/// `skb` is a valid socket buffer owned by the hook invocation for `'a`; its network header is
/// set (netfilter's IPv4 hooks run after `ip_rcv` or on locally built packets).
pub(crate) struct Packet<'a> {
    skb: NonNull<sys::sk_buff>,
    _owner: PhantomData<&'a mut sys::sk_buff>,
}

impl<'a> Packet<'a> {
    /// Wraps the `skb` of a hook invocation.
    ///
    /// # Safety
    ///
    /// `skb` must be the valid buffer passed to an IPv4 or IPv6 netfilter hook that runs for `'a`, and
    /// the hook must return the [`Verdict`] the packet's methods lead to (`Stolen` only after
    /// [`Packet::local_out`] or [`Packet::forward_out`]).
    pub(crate) unsafe fn from_raw(skb: *mut sys::sk_buff) -> Option<Self> {
        // INVARIANT: the caller's guarantee.
        Some(Self {
            skb: NonNull::new(skb)?,
            _owner: PhantomData,
        })
    }

    fn raw(&self) -> *mut sys::sk_buff {
        self.skb.as_ptr()
    }

    /// The socket buffer's fields, read in place through the generated layout as the packet
    /// path reads them on every packet (IPVS's C reads them inline; a C call each costs more
    /// than the read).
    fn skb(&self) -> &sys::sk_buff {
        // SAFETY: `skb` is valid (type invariant), and with `&self` nothing changes it.
        unsafe { self.skb.as_ref() }
    }

    /// As [`Packet::skb`], to write the fields.
    fn skb_mut(&mut self) -> &mut sys::sk_buff {
        // SAFETY: `skb` is valid and ours (type invariant); `&mut self` makes this the only
        // reference to it.
        unsafe { self.skb.as_mut() }
    }

    /// The `struct_group(headers)` of the buffer: the fields netfilter's hooks decide on.
    fn headers(&self) -> &sys::sk_buff__bindgen_ty_4__bindgen_ty_2 {
        // SAFETY: `headers` is the named view of the group, always a valid reading of it.
        unsafe { self.skb().__bindgen_anon_4.headers.as_ref() }
    }

    /// As [`Packet::headers`], to write the fields.
    fn headers_mut(&mut self) -> &mut sys::sk_buff__bindgen_ty_4__bindgen_ty_2 {
        // SAFETY: as for `headers`.
        unsafe { self.skb_mut().__bindgen_anon_4.headers.as_mut() }
    }

    /// The address of the byte `offset` bytes from `head` (offsets, as on every 64-bit
    /// kernel: `NET_SKBUFF_DATA_USES_OFFSET`).
    fn at(&self, offset: sys::sk_buff_data_t) -> *mut u8 {
        // `tail` and `end` are pointers where they are not offsets (32-bit kernels).
        const _: () = assert!(core::mem::size_of::<sys::sk_buff_data_t>() == 4);
        self.skb().head.wrapping_add(offset as usize)
    }

    /// The network header (`skb_network_header`).
    fn network_header(&self) -> *mut u8 {
        self.at(self.headers().network_header.into())
    }

    /// Whether rvs already handled the packet (`skb->ipvs_property`), which every hook asks
    /// first.
    pub(crate) fn ipvs_property(&self) -> bool {
        self.headers().ipvs_property() != 0
    }

    /// Marks the packet as handled, so that rvs's hooks let it pass from now on.
    pub(crate) fn set_ipvs_property(&mut self) {
        self.headers_mut().set_ipvs_property(1)
    }

    /// The packet's route and whether the packet holds a reference to it (`_skb_refdst`).
    fn refdst(&self) -> usize {
        // SAFETY: the union's other member (a list head) is only used on the transmit queue of
        // a TCP socket, never at netfilter's hooks.
        unsafe { self.skb().__bindgen_anon_3.__bindgen_anon_1._skb_refdst }
    }

    /// Whether the packet has a route.
    fn has_dst(&self) -> bool {
        self.refdst() & !sys::SKB_DST_NOREF as usize != 0
    }

    /// The length from `data` on (`skb->len`).
    fn len(&self) -> u32 {
        self.skb().len
    }

    /// Whether the packet is a GSO super-packet.
    fn is_gso(&self) -> bool {
        // SAFETY: the shared info follows the data area at `end` in every socket buffer
        // (`skb_shinfo`).
        unsafe { (*self.at(self.skb().end).cast::<sys::skb_shared_info>()).gso_size != 0 }
    }

    /// Whether the transport checksum is left to the device or the stack (`CHECKSUM_PARTIAL`).
    fn checksum_partial(&self) -> bool {
        u32::from(self.headers().ip_summed()) == sys::CHECKSUM_PARTIAL
    }

    /// Parses the packet's headers with `parse`, which reads them from the bytes as they are
    /// linear and answers [`Need`] when it must see more: those are pulled into the linear part
    /// (`pskb_may_pull`) and it parses again. `None` if the pull failed (no memory) or the parser
    /// keeps asking. Also returns what else the packet path reads of the packet.
    pub(crate) fn parse<T>(
        &mut self,
        parse: impl Fn(Bytes<'_>, &Meta) -> core::result::Result<T, Need>,
    ) -> Option<(T, Meta)> {
        for _ in 0..MAX_PULLS {
            let h = self.headers();
            let meta = Meta {
                len: self.len(),
                // SAFETY: `mark` and `reserved_tailroom` share their place; only a buffer
                // being built (before its headers are pushed) uses the latter.
                mark: unsafe { h.__bindgen_anon_4.mark },
                for_host: u32::from(h.pkt_type()) == sys::PACKET_HOST,
                has_dst: self.has_dst(),
                checksum_partial: self.checksum_partial(),
                gso: self.is_gso(),
            };
            let network_offset = self.network_offset();
            let total = i64::from(meta.len) - i64::from(network_offset);
            let total = usize::try_from(total).ok()?;
            let network = self.network_header();
            let linear = (self.skb().tail as usize).saturating_sub(usize::from(h.network_header));
            let bytes = if linear == 0 {
                &[][..]
            } else {
                // SAFETY: `network` points to the network header, followed by `linear` bytes in
                // the linear part of the packet (to its tail); nothing changes the packet while
                // the slice lives, as `self` is borrowed mutably.
                unsafe { core::slice::from_raw_parts(network, linear) }
            };
            match parse(Bytes::new(bytes, total), &meta) {
                Ok(parsed) => return Some((parsed, meta)),
                Err(Need(n)) => {
                    let want = i64::try_from(n).ok()? + i64::from(network_offset);
                    let want = u32::try_from(want).ok()?;
                    // SAFETY: `skb` is valid and ours (type invariant); `pskb_may_pull` makes
                    // the first `want` bytes linear or fails, leaving the packet whole.
                    if n <= linear || !unsafe { sys::rvs_pskb_may_pull(self.raw(), want) } {
                        return None;
                    }
                }
            }
        }
        None
    }

    /// The network header's offset from `data` (`skb_network_offset`).
    fn network_offset(&self) -> i32 {
        let from_head = usize::from(self.headers().network_header);
        let data = self.skb().data as usize - self.skb().head as usize;
        (from_head as isize - data as isize) as i32
    }

    /// Makes the first `len` bytes from the network header private and linear so that they can
    /// be rewritten (`skb_ensure_writable`; the packet may be shared or non-linear).
    pub(crate) fn writable(&mut self, len: usize) -> Result<Writable<'_, 'a>> {
        let total = i32::try_from(len)
            .ok()
            .and_then(|l| l.checked_add(self.network_offset()))
            .and_then(|t| u32::try_from(t).ok())
            .ok_or(EINVAL)?;
        // SAFETY: `skb` is valid and ours (type invariant).
        let ret = unsafe { sys::skb_ensure_writable(self.raw(), total) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        let base = self.network_header();
        // INVARIANT: `len` bytes from the network header, at `base`, are now linear and private.
        Ok(Writable {
            packet: self,
            base,
            len,
        })
    }

    /// Routes the packet again after its addresses changed (`ip_route_me_harder`). With
    /// `source_is_local` the (rewritten) source address is one of the host's own.
    pub(crate) fn reroute(&mut self, net: &Net, source_is_local: bool) -> Result {
        let addr_type = if source_is_local {
            sys::RTN_LOCAL
        } else {
            sys::RTN_UNSPEC
        };
        // SAFETY: `skb` is valid and ours and has a route (hooks are reached with one); `net` is
        // the live namespace of the hook; the socket pointer is the packet's own.
        let ret = unsafe {
            sys::ip_route_me_harder(
                net.as_ptr(),
                sys::rvs_skb_sk(self.raw()),
                self.raw(),
                addr_type,
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Looks up the output route to `daddr` (IPVS's `do_output_route4`): with `known_nh`
    /// (`IP_VS_RT_MODE_KNOWN_NH`, direct routing) `daddr` is the next hop whatever the packet's
    /// destination; the route also selects a source address for a tunnel header. As in IPVS the
    /// flow has no mark: the policy rules that steer marked packets to the director (a
    /// transparent cache cluster's `ip rule fwmark ... lookup` of a local table) must not send
    /// them back to it.
    pub(crate) fn route_output(
        &self,
        net: &Net,
        daddr: [u8; 4],
        known_nh: bool,
    ) -> Result<Route<'static>> {
        let mut fl4 = sys::flowi4 {
            daddr: u32::from_ne_bytes(daddr),
            __fl_common: flow_common(known_nh),
            ..Default::default()
        };
        // SAFETY: `net` is alive; `fl4` is a valid flow for the duration of the call; no socket.
        let rt = unsafe { sys::ip_route_output_flow(net.as_ptr(), &mut fl4, core::ptr::null()) };
        let addr = rt as usize;
        if addr >= (sys::MAX_ERRNO as usize).wrapping_neg() {
            return Err(Error::from_errno(addr as isize as i32));
        }
        let rt = NonNull::new(rt).ok_or(EINVAL)?;
        // INVARIANT: a route with a reference, given to the `Route`.
        Ok(Route {
            rt,
            owned: true,
            saddr: fl4.saddr.to_ne_bytes(),
            _rcu: PhantomData,
        })
    }

    /// Looks up the IPv6 output route to `daddr` (IPVS's `__ip_vs_route_output_v6`): with
    /// `known_nh` `daddr` is the next hop whatever the packet's destination (direct routing).
    pub(crate) fn route_output6(net: &Net, daddr: [u8; 16], known_nh: bool) -> Result<Route6> {
        let mut fl6 = sys::flowi6 {
            __fl_common: flow_common(known_nh),
            daddr: sys::in6_addr {
                in6_u: sys::in6_addr__bindgen_ty_1 { u6_addr8: daddr },
            },
            ..Default::default()
        };
        // SAFETY: `net` is alive; `fl6` is a valid flow for the duration of the call; no socket.
        // The result is a route with a reference, never null (an error route carries the error).
        let dst =
            unsafe { sys::ip6_route_output_flags(net.as_ptr(), core::ptr::null(), &mut fl6, 0) };
        let dst = NonNull::new(dst).ok_or(EINVAL)?;
        // INVARIANT: the lookup's reference, given to the `Route6` (and dropped with it on error).
        let route = Route6 { dst };
        // SAFETY: `dst` is valid.
        let error = unsafe { (*dst.as_ptr()).error };
        if error != 0 {
            return Err(Error::from_errno(i32::from(error)));
        }
        Ok(route)
    }

    /// Makes the IPv6 `route` the packet's route, with its reference (`skb_dst_drop`,
    /// `skb_dst_set`).
    pub(crate) fn set_route6(&mut self, route: Route6) {
        let dst = route.dst.as_ptr();
        core::mem::forget(route);
        self.set_dst(dst as usize);
    }

    /// Makes the route `refdst` (a `dst_entry` with `SKB_DST_NOREF` when borrowed) the
    /// packet's, giving back its reference to the old one.
    fn set_dst(&mut self, refdst: usize) {
        let noref = sys::SKB_DST_NOREF as usize;
        // `skb_dst_drop`: the packet's reference to its old route, if it holds one.
        let old = self.refdst();
        if old & noref == 0 && old != 0 {
            // SAFETY: the packet holds a reference to the route (`_skb_refdst` without
            // `SKB_DST_NOREF`), given back here as the packet lets go of it.
            unsafe { sys::dst_release(old as *mut sys::dst_entry) };
        }
        self.headers_mut().set_slow_gro(1);
        self.skb_mut().__bindgen_anon_3.__bindgen_anon_1._skb_refdst = refdst;
    }

    /// Routes an IPv6 packet again after its source address changed (`ip6_route_me_harder`).
    pub(crate) fn reroute6(&mut self, net: &Net) -> Result {
        // SAFETY: `skb` is valid and ours and has a route; `net` is the live namespace of the
        // hook; the socket pointer is the packet's own.
        let ret = unsafe {
            sys::ip6_route_me_harder(net.as_ptr(), sys::rvs_skb_sk(self.raw()), self.raw())
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Sends an ICMPv6 error about this packet to its source (`icmpv6_send`), from the device
    /// of route `via` if given (as `decrement_ttl` has it), else from the packet's own, or
    /// loopback's.
    pub(crate) fn icmp6_send(
        &mut self,
        net: &Net,
        via: Option<&Route6>,
        kind: u8,
        code: u8,
        info: u32,
    ) {
        let via = via.map_or(core::ptr::null(), |r| r.dst.as_ptr().cast_const());
        // SAFETY: `skb` is valid and ours; `net` is alive; `via` is null or a valid route;
        // `icmpv6_send` only reads the packet (and rate-limits itself).
        unsafe { sys::rvs_icmpv6_send(self.raw(), net.as_ptr(), via, kind, code, info) };
    }

    /// Whether an IPv6 packet, whose length and GSO state `meta` gives, is too long for a route
    /// of `mtu`: the largest of its fragments if IPv6 conntrack reassembled it
    /// (`__mtu_check_toobig_v6`).
    pub(crate) fn exceeds_mtu6(&self, meta: &Meta, mtu: u32) -> bool {
        // SAFETY: `skb` is valid; the helper reads its control block.
        let frag_max = u32::from(unsafe { sys::rvs_ip6cb_frag_max_size(self.raw()) });
        if frag_max != 0 {
            return frag_max > mtu;
        }
        meta.len > mtu && !meta.gso
    }

    /// Makes `route` the packet's route: with its reference (`skb_dst_set`), or borrowed for the
    /// read-side critical section that the packet path runs in (`skb_dst_set_noref`; the stack
    /// takes a reference of its own if the packet is queued).
    pub(crate) fn set_route(&mut self, route: Route<'_>) {
        let (rt, owned) = (route.rt.as_ptr(), route.owned);
        core::mem::forget(route);
        // `skb_dst_set` and `skb_dst_set_noref`: the packet takes over the route's reference, or
        // borrows it for the critical section the borrowed `Route` was tied to, in which hooks
        // run (the stack takes a reference of its own if it queues the packet). A route's
        // `dst_entry` is the first member of its `rtable`.
        let noref = sys::SKB_DST_NOREF as usize;
        self.set_dst(rt as usize | if owned { 0 } else { noref });
    }

    /// Sets `ignore_df`: a packet that was checked against the route's MTU is never refused
    /// again by `ip_fragment` (IPVS's "another hack").
    pub(crate) fn set_ignore_df(&mut self) {
        self.headers_mut().set_ignore_df(1);
    }

    /// Begins wrapping the packet in tunnel headers (`ip_vs_tunnel_xmit`,
    /// `ip_vs_tunnel_xmit_v6`): makes `headroom` bytes of private headroom, marks the packet as
    /// encapsulated with `gso` (`SKB_GSO_*` bits) for segmentation offloads and records its
    /// network header as the inner one, of IP protocol `inner_protocol` (`IPPROTO_IPIP`,
    /// `IPPROTO_IPV6`). The headers are then pushed innermost first, the outer IP header last
    /// ([`Encapsulation::finish`], [`Encapsulation::finish6`]).
    pub(crate) fn encapsulate(
        &mut self,
        headroom: u32,
        gso: u32,
        inner_protocol: u8,
    ) -> Result<Encapsulation<'_, 'a>> {
        let gso = i32::try_from(gso).map_err(|_| EINVAL)?;
        // SAFETY: the packet is ours (type invariant) for every call below.
        unsafe {
            let ret = sys::rvs_skb_cow_head(self.raw(), headroom);
            if ret < 0 {
                return Err(Error::from_errno(ret));
            }
            let ret = sys::iptunnel_handle_offloads(self.raw(), gso);
            if ret < 0 {
                return Err(Error::from_errno(ret));
            }
            sys::rvs_skb_set_transport_to_network(self.raw());
            sys::rvs_skb_set_inner_ipproto(self.raw(), inner_protocol);
            sys::rvs_skb_set_inner_mac_to_inner_network(self.raw());
        }
        Ok(Encapsulation { packet: self })
    }

    /// Whether the packet, whose length and GSO state `meta` gives, is too long for a route of
    /// `mtu`, also once cut into segments when it is a GSO super-packet (`ip_vs_exceeds_mtu`).
    pub(crate) fn exceeds_mtu(&self, meta: &Meta, mtu: u32) -> bool {
        if meta.len <= mtu {
            return false;
        }
        // SAFETY: `skb` is valid (type invariant); the function only reads it.
        !meta.gso || !unsafe { sys::skb_gso_validate_network_len(self.raw(), mtu) }
    }

    /// Reassembles a fragmented IPv4 packet (`ip_vs_gather_frags`: `ip_defrag` for `user`). The
    /// packet comes back whole, its header's checksum updated, once its last fragment arrived;
    /// until then the stack keeps it (or drops it), and `None` means the hook must answer
    /// [`Verdict::Stolen`].
    pub(crate) fn defragment(self, net: &Net, user: DefragUser) -> Option<Self> {
        let user = match user {
            DefragUser::In => sys::ip_defrag_users_IP_DEFRAG_VS_IN,
            DefragUser::Out => sys::ip_defrag_users_IP_DEFRAG_VS_OUT,
            DefragUser::Forward => sys::ip_defrag_users_IP_DEFRAG_VS_FWD,
        };
        // SAFETY: the packet is ours (type invariant); `ip_defrag` either takes it (non-zero) or
        // leaves the whole datagram in this very `skb`.
        if unsafe { sys::rvs_ip_defrag(net.as_ptr(), self.raw(), user) } != 0 {
            return None;
        }
        Some(self)
    }

    /// Drops the first `len` bytes from the network header on, so that the packet starts with
    /// what followed them (an ICMP error's quoted packet, `pskb_pull`), and makes that the
    /// network header, with `header_len` bytes of it linear and the transport header after
    /// them. The IPv4 options of the old header are forgotten.
    pub(crate) fn strip(&mut self, len: usize, header_len: usize) -> Result {
        if self.network_offset() != 0 {
            return Err(EINVAL);
        }
        let len = u32::try_from(len).map_err(|_| EINVAL)?;
        let header = u32::try_from(header_len).map_err(|_| EINVAL)?;
        // SAFETY: the packet is ours (type invariant); `data` is at the network header (checked
        // above), and `pskb_pull` fails rather than pull past the end.
        unsafe {
            if !sys::rvs_pskb_pull(self.raw(), len) {
                return Err(EINVAL);
            }
            sys::rvs_skb_reset_network_header(self.raw());
            sys::rvs_skb_clear_ip_options(self.raw());
            if !sys::rvs_pskb_may_pull(self.raw(), header) {
                return Err(EINVAL);
            }
            sys::rvs_skb_set_transport_header(self.raw(), header as i32);
        }
        Ok(())
    }

    /// Lowers the path MTU of the route that the packet's IPv4 header (source and destination)
    /// takes to `mtu` (`ipv4_update_pmtu`), as an ICMP "fragmentation needed" about it asks.
    pub(crate) fn update_pmtu(&mut self, net: &Net, mtu: u32) {
        if self.network_offset() != 0 {
            return;
        }
        // SAFETY: the packet is ours (type invariant); `pskb_may_pull` makes the first bytes
        // linear or fails.
        if !unsafe { sys::rvs_pskb_may_pull(self.raw(), crate::packet::IPV4_MIN_LEN as u32) } {
            return;
        }
        // SAFETY: `net` is alive; the packet is valid and its data starts with a linear IPv4
        // header (made so above), which is all `ipv4_update_pmtu` reads of it.
        unsafe { sys::ipv4_update_pmtu(self.raw(), net.as_ptr(), mtu, 0, 0) };
    }

    /// Frees a packet that rvs is done with, not as a drop (`consume_skb`); the hook answers
    /// [`Verdict::Stolen`].
    pub(crate) fn consume(self) -> Verdict {
        // SAFETY: the packet is ours (type invariant) and not used after this.
        unsafe { sys::rvs_skb_consume(self.raw()) };
        Verdict::Stolen
    }

    /// Whether the route leads to this host (`RTCF_LOCAL`).
    pub(crate) fn route_is_local(&self) -> bool {
        // SAFETY: `skb` is valid; callers check `has_dst` or just rerouted it.
        self.has_dst() && unsafe { sys::rvs_skb_dst_is_local(self.raw()) }
    }

    /// Whether the route's device is a loopback device.
    pub(crate) fn route_is_loopback(&self) -> bool {
        // SAFETY: as for `route_is_local`.
        self.has_dst() && unsafe { sys::rvs_skb_dst_dev_is_loopback(self.raw()) }
    }

    /// Whether the ICMP message at `offset`, which runs to the end of the packet, has a correct
    /// checksum (`ip_vs_checksum_common_check`); `pseudo` is the partial sum of the pseudo-header
    /// it covers besides (ICMPv6's, [`crate::packet::ipv6_pseudo_sum`]; none, 0, for ICMP).
    pub(crate) fn icmp_checksum_ok(&self, offset: usize, pseudo: u32) -> bool {
        let Some(start) = i32::try_from(offset)
            .ok()
            .and_then(|o| o.checked_add(self.network_offset()))
        else {
            return false;
        };
        // `len` counts from `data`, and the message from the network header.
        let Some(span) = i32::try_from(self.len())
            .ok()
            .and_then(|len| len.checked_sub(start))
            .filter(|&span| span >= 0)
        else {
            return false;
        };
        // SAFETY: `skb` is valid; `skb_checksum` reads `span` bytes from `start`, which end at
        // the end of the packet.
        let sum = unsafe { sys::skb_checksum(self.raw(), start, span, pseudo) };
        crate::packet::csum_fold(sum) == 0
    }

    /// The length of the packet from the network header (`skb->len` counts from `data`).
    fn len_from_network(&self, offset: usize) -> Result<(i32, i32)> {
        let start = self
            .network_offset()
            .checked_add(i32::try_from(offset).map_err(|_| EINVAL)?)
            .ok_or(EINVAL)?;
        let span = i32::try_from(self.len())
            .map_err(|_| EINVAL)?
            .checked_sub(start)
            .filter(|&span| span >= 0)
            .ok_or(EINVAL)?;
        Ok((start, span))
    }

    /// The length of the packet from `offset` (from the network header) to its end.
    pub(crate) fn len_from(&self, offset: usize) -> Option<u32> {
        let (_, span) = self.len_from_network(offset).ok()?;
        u32::try_from(span).ok()
    }

    /// Sends an ICMP error about this packet to its source (`icmp_send`).
    pub(crate) fn icmp_send(&self, kind: u8, code: u8, info_be: u32) {
        // SAFETY: `skb` is valid; `icmp_send` only reads it (and rate-limits itself).
        unsafe {
            sys::rvs_icmp_send(self.raw(), i32::from(kind), i32::from(code), info_be);
        }
    }

    /// Detaches the packet from the socket early demux gave it, from conntrack and from a
    /// checksum the receiving device computed, before it leaves again (IPVS's
    /// `ip_vs_drop_early_demux_sk`, `ip_vs_notrack`, `skb_forward_csum`).
    pub(crate) fn prepare_forward(&mut self) {
        // SAFETY: the union's `dev` is the device a packet at netfilter's hooks came in on or
        // goes out by.
        let has_dev = !unsafe {
            self.skb()
                .__bindgen_anon_1
                .__bindgen_anon_1
                .__bindgen_anon_1
                .dev
        }
        .is_null();
        // `skb_orphan` calls a destructor; without one the packet has no socket.
        // SAFETY: as in `refdst`.
        let destructor = unsafe { self.skb().__bindgen_anon_3.__bindgen_anon_1.destructor };
        if has_dev && destructor.is_some() {
            // SAFETY: `skb` is valid and ours (type invariant).
            unsafe { sys::rvs_skb_orphan(self.raw()) };
        }
        self.notrack();
        // `skb_forward_csum`: a checksum the receiving device computed is of no use on output.
        if u32::from(self.headers().ip_summed()) == sys::CHECKSUM_COMPLETE {
            self.headers_mut().set_ip_summed(sys::CHECKSUM_NONE as u8);
        }
        // `skb_clear_tstamp`: a receive time stamp is not a departure time for the qdiscs.
        if has_dev && self.headers().tstamp_type() == 0 {
            self.skb_mut().__bindgen_anon_2.tstamp = 0;
        }
    }

    /// Detaches the packet from conntrack (`ip_vs_notrack`): only an entry it refers to needs
    /// the C helper, which drops the reference; else the field is set in place.
    pub(crate) fn notrack(&mut self) {
        let untracked = sys::ip_conntrack_info_IP_CT_UNTRACKED as usize;
        let info_mask = sys::NFCT_INFOMASK as usize;
        if self.skb()._nfct & !info_mask != 0 {
            // SAFETY: `skb` is valid and ours (type invariant).
            unsafe { sys::rvs_skb_notrack(self.raw()) }
        } else {
            self.skb_mut()._nfct = untracked;
        }
    }

    /// Sends a forwarded packet along its route through `LOCAL_OUT` with its IPv4 header as it
    /// is (IPVS's `ip_vs_send_or_cont`: `NF_HOOK` to `dst_output`), which takes it: the header's
    /// length and checksum must be up to date, as a rewrite that updates the checksum leaves
    /// them ([`Packet::local_out`] recomputes them).
    pub(crate) fn forward_out(self, net: &Net) -> Verdict {
        self.forward_out_as(net, sys::NFPROTO_IPV4 as u8)
    }

    /// [`Packet::forward_out`] for an IPv6 packet.
    pub(crate) fn forward_out6(self, net: &Net) -> Verdict {
        self.forward_out_as(net, sys::NFPROTO_IPV6 as u8)
    }

    fn forward_out_as(self, net: &Net, pf: u8) -> Verdict {
        // SAFETY: `skb` is valid and ours and has a route; the hook and `dst_output` consume it
        // whatever the result, which is why the hook returns `NF_STOLEN`.
        unsafe { sys::rvs_nf_local_out_dst(net.as_ptr(), self.raw(), pf) };
        Verdict::Stolen
    }

    /// Sends the packet along its route through `LOCAL_OUT` (`ip_local_out`), which takes it.
    pub(crate) fn local_out(self, net: &Net) -> Verdict {
        // SAFETY: `skb` is valid and ours and has a route; `ip_local_out` consumes it whatever
        // its result, which is why the hook returns `NF_STOLEN`.
        unsafe { sys::ip_local_out(net.as_ptr(), core::ptr::null_mut(), self.raw()) };
        Verdict::Stolen
    }

    /// Sends an IPv6 packet along its route through `LOCAL_OUT` (`ip6_local_out`, which sets
    /// its payload length), which takes it.
    pub(crate) fn local_out6(self, net: &Net) -> Verdict {
        // SAFETY: as in `local_out`, for `ip6_local_out`.
        unsafe { sys::ip6_local_out(net.as_ptr(), core::ptr::null_mut(), self.raw()) };
        Verdict::Stolen
    }
}

/// The first `len` bytes of a packet from its network header, private and linear.
///
/// # Invariants
///
/// `skb_ensure_writable` succeeded for `len` bytes from the network header, which is at `base`,
/// and the packet has not been changed in size since.
pub(crate) struct Writable<'p, 'a> {
    packet: &'p mut Packet<'a>,
    base: *mut u8,
    len: usize,
}

impl<'a> Writable<'_, 'a> {
    fn base(&self) -> *mut u8 {
        self.base
    }

    /// The packet, to read while its bytes are writable.
    pub(crate) fn packet(&self) -> &Packet<'a> {
        self.packet
    }

    /// The writable bytes.
    pub(crate) fn bytes(&mut self) -> &mut [u8] {
        // SAFETY: by the type invariant `len` bytes from the network header are linear and
        // private to this packet, which `self` borrows mutably.
        unsafe { core::slice::from_raw_parts_mut(self.base(), self.len) }
    }

    fn sum_field(&mut self, offset: usize) -> Result<*mut u16> {
        if offset.checked_add(2).map_or(true, |end| end > self.len) {
            return Err(EINVAL);
        }
        // SAFETY: `offset + 2 <= len`, within the writable bytes.
        Ok(unsafe { self.base().add(offset) }.cast::<u16>())
    }

    /// Updates the transport checksum at `sum_offset` for a 4-byte change (an address, part of
    /// the pseudo-header when `pseudo`), whatever the packet's checksum state
    /// (`inet_proto_csum_replace4`).
    pub(crate) fn replace_sum4(
        &mut self,
        sum_offset: usize,
        from: [u8; 4],
        to: [u8; 4],
        pseudo: bool,
    ) -> Result {
        let sum = self.sum_field(sum_offset)?;
        // SAFETY: `sum` points to 2 writable bytes of this packet (checked above); the values are
        // passed in network byte order as the C function expects.
        unsafe {
            sys::inet_proto_csum_replace4(
                sum,
                self.packet.raw(),
                u32::from_ne_bytes(from),
                u32::from_ne_bytes(to),
                pseudo,
            )
        };
        Ok(())
    }

    /// Updates the transport checksum at `sum_offset` for a 2-byte change (a port).
    pub(crate) fn replace_sum2(&mut self, sum_offset: usize, from: [u8; 2], to: [u8; 2]) -> Result {
        let sum = self.sum_field(sum_offset)?;
        // SAFETY: as in `replace_sum4`.
        unsafe {
            sys::rvs_inet_proto_csum_replace2(
                sum,
                self.packet.raw(),
                u16::from_ne_bytes(from),
                u16::from_ne_bytes(to),
                false,
            )
        };
        Ok(())
    }

    /// Recomputes the checksum of the IPv4 header at `offset` (`ip_send_check`); the header
    /// must lie within the writable bytes.
    pub(crate) fn ipv4_send_check(&mut self, offset: usize) -> Result {
        let ihl = self.bytes().get(offset).map(|b| usize::from(b & 0x0f) * 4);
        let end = ihl.and_then(|ihl| offset.checked_add(ihl.max(20)));
        if end.map_or(true, |end| end > self.len) {
            return Err(EINVAL);
        }
        // SAFETY: the whole header (`ihl` words, checked above) lies in the writable bytes.
        unsafe { sys::ip_send_check(self.base().add(offset).cast()) };
        Ok(())
    }

    /// Recomputes an ICMP checksum whose message starts at `offset` and runs to the end of the
    /// packet (`ip_vs_checksum_complete`), over the pseudo-header of partial sum `pseudo` too
    /// (ICMPv6's; 0 for ICMP); the message may extend past the writable bytes.
    pub(crate) fn icmp_checksum(&mut self, offset: usize, pseudo: u32) -> Result {
        let field = offset.checked_add(crate::packet::ICMP_SUM).ok_or(EINVAL)?;
        let (start, span) = self.packet.len_from_network(offset)?;
        self.bytes()
            .get_mut(field..field + 2)
            .ok_or(EINVAL)?
            .copy_from_slice(&[0, 0]);
        // SAFETY: `skb` is valid; `skb_checksum` reads `span` bytes from `start`, which end at
        // the end of the packet.
        let sum = unsafe { sys::skb_checksum(self.packet.raw(), start, span, pseudo) };
        let folded = crate::packet::csum_fold(sum);
        self.bytes()
            .get_mut(field..field + 2)
            .ok_or(EINVAL)?
            .copy_from_slice(&folded.to_ne_bytes());
        Ok(())
    }
}

/// A packet being wrapped in tunnel headers, from [`Packet::encapsulate`]: the headers are pushed
/// in front of it innermost first, the outer IPv4 header by [`Encapsulation::finish`].
///
/// # Invariants
///
/// The packet's headroom is private (`skb_cow_head`) and it is marked as encapsulated.
pub(crate) struct Encapsulation<'p, 'a> {
    packet: &'p mut Packet<'a>,
}

impl Encapsulation<'_, '_> {
    fn raw(&self) -> *mut sys::sk_buff {
        self.packet.raw()
    }

    /// The length of the packet from its first pushed header on (`skb->len`).
    pub(crate) fn len(&self) -> u32 {
        self.packet.len()
    }

    /// Whether the inner transport checksum is still to be computed (`CHECKSUM_PARTIAL`).
    pub(crate) fn checksum_partial(&self) -> bool {
        self.packet.checksum_partial()
    }

    /// Where the checksum still to be computed starts, counted from the start of the packet as
    /// it is now, and the offset of its field from there (`skb_checksum_start_offset`,
    /// `csum_offset`); `None` without such a checksum or before the start.
    pub(crate) fn partial_checksum(&self) -> Option<(u16, u16)> {
        if !self.checksum_partial() {
            return None;
        }
        // SAFETY: `skb` is valid (invariant of `Packet`).
        let (start, offset) = unsafe {
            (
                sys::rvs_skb_checksum_start_offset(self.raw()),
                sys::rvs_skb_csum_offset(self.raw()),
            )
        };
        Some((u16::try_from(start).ok()?, offset))
    }

    /// Leaves the inner checksum to the receiver (remote checksum offload): a packet that is not
    /// cut into segments later is sent with its checksum field as it is (`ipvs_gue_encap`).
    pub(crate) fn leave_inner_checksum(&mut self) {
        if !self.packet.is_gso() {
            // SAFETY: the packet is ours (invariant of `Packet`).
            unsafe { sys::rvs_skb_clear_partial_csum(self.raw()) };
        }
    }

    /// Whether the packet is a GSO super-packet, cut into segments later.
    pub(crate) fn is_gso(&self) -> bool {
        self.packet.is_gso()
    }

    /// The packet's `SKB_GSO_*` bits.
    pub(crate) fn gso_type(&self) -> u32 {
        // SAFETY: `skb` is valid (invariant of `Packet`).
        unsafe { sys::rvs_skb_gso_type(self.raw()) }
    }

    /// A UDP source port derived from the packet's flow hash (`udp_flow_src_port`), so that
    /// the packets of a connection keep one and connections spread over the receiver's queues.
    pub(crate) fn flow_src_port(&self, net: &Net) -> [u8; 2] {
        // SAFETY: `net` is alive; the packet is ours (its hash may be computed and stored).
        unsafe { sys::rvs_udp_flow_src_port(net.as_ptr(), self.raw()) }.to_ne_bytes()
    }

    /// Pushes `header` in front of the packet and makes it the transport header.
    pub(crate) fn push_transport(&mut self, header: &[u8]) -> Result {
        let len = u32::try_from(header.len()).map_err(|_| EINVAL)?;
        // SAFETY: `skb` is valid (invariant of `Packet`).
        if unsafe { sys::rvs_skb_headroom(self.raw()) } < len {
            return Err(ENOMEM);
        }
        // SAFETY: the packet is ours; there are `len` bytes of private headroom (checked above,
        // type invariant), into which the header is copied.
        unsafe {
            let data = sys::skb_push(self.raw(), len);
            core::ptr::copy_nonoverlapping(header.as_ptr(), data.cast::<u8>(), header.len());
            sys::rvs_skb_reset_transport_header(self.raw());
        }
        Ok(())
    }

    /// Overwrites bytes of the pushed headers at `offset` from the start of the packet.
    pub(crate) fn write(&mut self, offset: usize, bytes: &[u8]) -> Result {
        let end = offset.checked_add(bytes.len()).ok_or(EINVAL)?;
        // SAFETY: `skb` is valid (invariant of `Packet`).
        let linear = unsafe { sys::rvs_skb_headlen(self.raw()) };
        if end > linear as usize {
            return Err(EINVAL);
        }
        // SAFETY: `end` bytes from `data` are in the linear part, which is private: the pushed
        // headers live in the headroom `skb_cow_head` made private (type invariant).
        unsafe {
            let data = sys::rvs_skb_data(self.raw()).add(offset);
            core::ptr::copy_nonoverlapping(bytes.as_ptr(), data, bytes.len());
        }
        Ok(())
    }

    /// Sets the checksum of the UDP header just pushed, over the whole packet and the
    /// pseudo-header of `saddr` and `daddr`, or 0 ("none") without `enabled` (`udp_set_csum`,
    /// which leaves the sum to the device or to segmentation when it can).
    pub(crate) fn udp_checksum(&mut self, enabled: bool, saddr: [u8; 4], daddr: [u8; 4]) -> Result {
        let len = i32::try_from(self.len()).map_err(|_| EINVAL)?;
        // SAFETY: the packet is ours and its transport header is the UDP header (pushed last).
        unsafe {
            sys::udp_set_csum(
                !enabled,
                self.raw(),
                u32::from_ne_bytes(saddr),
                u32::from_ne_bytes(daddr),
                len,
            )
        };
        Ok(())
    }

    /// Records the EtherType of the packet inside a GRE header (`skb_set_inner_protocol`).
    pub(crate) fn set_inner_protocol(&mut self, eth_p: u16) {
        // SAFETY: the packet is ours (invariant of `Packet`).
        unsafe { sys::rvs_skb_set_inner_protocol(self.raw(), eth_p.to_be()) };
    }

    /// The one's-complement sum of the packet up to where its inner checksum starts, with that
    /// checksum's pseudo-header part (`lco_csum`); only for a [`Self::checksum_partial`] packet.
    pub(crate) fn outer_sum(&self) -> Option<u32> {
        if !self.checksum_partial() {
            return None;
        }
        // SAFETY: the packet is valid and its checksum is partial (checked above), as
        // `lco_csum` requires.
        Some(unsafe { sys::rvs_lco_csum(self.raw()) })
    }

    /// Leaves a checksum from the transport header on to the device or the stack, stored at
    /// `offset` from there (`CHECKSUM_PARTIAL`).
    pub(crate) fn offload_checksum(&mut self, offset: u16) {
        // SAFETY: the packet is ours; its transport header was pushed last.
        unsafe { sys::rvs_skb_csum_partial_at_transport(self.raw(), offset) };
    }

    /// Pushes the outer IPv4 header `header` (20 bytes without identification and checksum,
    /// which are filled here and by `ip_local_out`); the packet is then whole again.
    pub(crate) fn finish(mut self, net: &Net, header: [u8; 20]) -> Result {
        self.push_network(&header)?;
        // SAFETY: the packet is ours; its network header is the IPv4 header just pushed.
        unsafe {
            sys::rvs_skb_clear_ip_options(self.raw());
            sys::rvs_ip_select_ident(net.as_ptr(), self.raw());
        }
        Ok(())
    }

    /// Pushes the outer IPv6 header `header` (its payload length is set again by
    /// `ip6_local_out`) and forgets what the IPv6 control block held of the inner packet (the
    /// size of the fragments it was reassembled from, which would fragment the tunnel packet);
    /// the packet is then whole again.
    pub(crate) fn finish6(mut self, header: [u8; 40]) -> Result {
        self.push_network(&header)?;
        // SAFETY: the packet is ours.
        unsafe { sys::rvs_skb_clear_ip6cb(self.raw()) };
        Ok(())
    }

    /// Pushes `header` in front of the packet as its network header.
    fn push_network(&mut self, header: &[u8]) -> Result {
        let len = u32::try_from(header.len()).map_err(|_| EINVAL)?;
        // SAFETY: `skb` is valid (invariant of `Packet`).
        if unsafe { sys::rvs_skb_headroom(self.raw()) } < len {
            return Err(ENOMEM);
        }
        // SAFETY: the packet is ours; the header is pushed into private headroom (checked above,
        // type invariant) and becomes the network header.
        unsafe {
            let data = sys::skb_push(self.raw(), len);
            sys::rvs_skb_reset_network_header(self.raw());
            core::ptr::copy_nonoverlapping(header.as_ptr(), data.cast::<u8>(), header.len());
        }
        Ok(())
    }
}
