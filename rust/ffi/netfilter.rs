// SPDX-License-Identifier: GPL-2.0

//! Netfilter hooks: a [`HookSet`] names its hook points and priorities and handles the packets;
//! [`HookSwitch`] registers them in one namespace and unregisters them on drop.
//!
//! C header: [`include/linux/netfilter.h`](srctree/include/linux/netfilter.h)

use super::{
    pernet::Net,
    rcu::Guard,
    skb::{Packet, Verdict},
    sys,
};
use core::ptr::NonNull;
use kernel::{
    ffi::{c_uint, c_void},
    new_mutex,
    prelude::*,
    sync::Mutex,
};

/// The protocol family of a hook (`NFPROTO_IPV4`, `NFPROTO_IPV6`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Family {
    Ipv4,
    Ipv6,
}

impl Family {
    fn to_raw(self) -> u8 {
        match self {
            Family::Ipv4 => sys::NFPROTO_IPV4 as u8,
            Family::Ipv6 => sys::NFPROTO_IPV6 as u8,
        }
    }

    fn index(self) -> usize {
        match self {
            Family::Ipv4 => 0,
            Family::Ipv6 => 1,
        }
    }
}

/// A netfilter hook point of IPv4 or IPv6 (`enum nf_inet_hooks`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum HookNum {
    /// `NF_INET_PRE_ROUTING`.
    PreRouting,
    /// `NF_INET_LOCAL_IN`.
    LocalIn,
    /// `NF_INET_FORWARD`.
    Forward,
    /// `NF_INET_LOCAL_OUT`.
    LocalOut,
    /// `NF_INET_POST_ROUTING`.
    PostRouting,
}

impl HookNum {
    fn to_raw(self) -> c_uint {
        match self {
            HookNum::PreRouting => sys::nf_inet_hooks_NF_INET_PRE_ROUTING,
            HookNum::LocalIn => sys::nf_inet_hooks_NF_INET_LOCAL_IN,
            HookNum::Forward => sys::nf_inet_hooks_NF_INET_FORWARD,
            HookNum::LocalOut => sys::nf_inet_hooks_NF_INET_LOCAL_OUT,
            HookNum::PostRouting => sys::nf_inet_hooks_NF_INET_POST_ROUTING,
        }
    }

    fn from_raw(raw: c_uint) -> Option<Self> {
        Some(match raw {
            sys::nf_inet_hooks_NF_INET_PRE_ROUTING => HookNum::PreRouting,
            sys::nf_inet_hooks_NF_INET_LOCAL_IN => HookNum::LocalIn,
            sys::nf_inet_hooks_NF_INET_FORWARD => HookNum::Forward,
            sys::nf_inet_hooks_NF_INET_LOCAL_OUT => HookNum::LocalOut,
            sys::nf_inet_hooks_NF_INET_POST_ROUTING => HookNum::PostRouting,
            _ => return None,
        })
    }
}

/// Hook priorities (`enum nf_ip_hook_priorities`, which `enum nf_ip6_hook_priorities` equals for
/// these).
pub(crate) mod priority {
    use super::sys;

    /// `NF_IP_PRI_NAT_DST`: destination NAT.
    pub(crate) const NAT_DST: i32 = sys::nf_ip_hook_priorities_NF_IP_PRI_NAT_DST;
    /// `NF_IP_PRI_NAT_SRC`: source NAT.
    pub(crate) const NAT_SRC: i32 = sys::nf_ip_hook_priorities_NF_IP_PRI_NAT_SRC;
}

/// One hook of a [`HookSet`]: where, at which priority, and the set's name for it.
pub(crate) struct HookSpec<P> {
    /// The protocol family whose packets it sees.
    pub(crate) family: Family,
    /// The hook point.
    pub(crate) hooknum: HookNum,
    /// The priority (lower runs first).
    pub(crate) priority: i32,
    /// What the set calls this hook; handed to [`HookSet::hook`].
    pub(crate) point: P,
    /// Registered only while [`HookSet::optional_hooks`] asks for it (a hook point that would
    /// otherwise cost every packet a call for a feature that is off).
    pub(crate) optional: bool,
}

/// A set of netfilter hooks whose packets a per-namespace object handles; a family's hooks are
/// registered and unregistered together.
pub(crate) trait HookSet: Sync + Sized + 'static {
    /// The set's name for each of its hooks.
    type Point: Copy + 'static;

    /// The hooks, at most [`MAX_HOOKS`].
    const HOOKS: &'static [HookSpec<Self::Point>];

    /// Handles `packet` of `family` at hook `point`, reached at `hooknum` in `net`, in the
    /// read-side critical section `guard` that netfilter runs its hooks in.
    fn hook(
        &self,
        family: Family,
        point: Self::Point,
        hooknum: HookNum,
        net: &Net,
        packet: Packet<'_>,
        guard: &Guard,
    ) -> Verdict;

    /// Whether IPv6 packets must reach the hooks reassembled, by IPv6 conntrack's defragmentation
    /// (`nf_defrag_ipv6`, enabled with the IPv6 hooks): unlike IPv4's, they meet `LOCAL_IN`
    /// before the stack reassembles them.
    const IPV6_DEFRAG: bool = false;

    /// Whether the optional hooks are wanted now; asked when the hooks are registered and by
    /// [`HookSwitch::refresh`].
    fn optional_hooks(&self) -> bool {
        false
    }
}

/// The most hooks a [`HookSet`] may have.
pub(crate) const MAX_HOOKS: usize = 16;

/// The C callback of hook `I` of `T`.
///
/// # Safety
///
/// Called by netfilter only, for a hook registered by [`HookSwitch::set`] with `priv` pointing to
/// the `T` that registered it, with valid `skb` and `state` for the duration of the call.
unsafe extern "C" fn hook_fn<T: HookSet, const I: usize>(
    priv_: *mut c_void,
    skb: *mut sys::sk_buff,
    state: *const sys::nf_hook_state,
) -> c_uint {
    // SAFETY: `priv` is the `T` that registered the hook, which unregisters it (waiting for
    // running hooks) before it goes.
    let this = unsafe { &*priv_.cast::<T>() };
    // SAFETY: netfilter passes a valid state for the duration of the hook.
    let (net, hook) = unsafe { ((*state).net, (*state).hook) };
    // SAFETY: the namespace is alive while its hooks run, and so is its pernet data (hooks are
    // unregistered before a namespace's data goes).
    let net = unsafe { Net::from_raw(net) };
    let Some(hooknum) = HookNum::from_raw(c_uint::from(hook)) else {
        return Verdict::Accept.to_nf();
    };
    // SAFETY: `skb` is the hook's packet; the verdict computed from it is returned below.
    let Some(packet) = (unsafe { Packet::from_raw(skb) }) else {
        return Verdict::Accept.to_nf();
    };
    let spec = &T::HOOKS[I];
    // SAFETY: netfilter holds the RCU read lock while it runs hooks (`nf_hook`, `nf_reinject`),
    // and the guard does not outlive this call.
    let guard = unsafe { Guard::held() };
    this.hook(spec.family, spec.point, hooknum, net, packet, &guard)
        .to_nf()
}

/// The callbacks of hooks `0..MAX_HOOKS` of `T`.
const fn hook_fns<T: HookSet>() -> [sys::nf_hookfn; MAX_HOOKS] {
    [
        Some(hook_fn::<T, 0>),
        Some(hook_fn::<T, 1>),
        Some(hook_fn::<T, 2>),
        Some(hook_fn::<T, 3>),
        Some(hook_fn::<T, 4>),
        Some(hook_fn::<T, 5>),
        Some(hook_fn::<T, 6>),
        Some(hook_fn::<T, 7>),
        Some(hook_fn::<T, 8>),
        Some(hook_fn::<T, 9>),
        Some(hook_fn::<T, 10>),
        Some(hook_fn::<T, 11>),
        Some(hook_fn::<T, 12>),
        Some(hook_fn::<T, 13>),
        Some(hook_fn::<T, 14>),
        Some(hook_fn::<T, 15>),
    ]
}

/// Hooks registered in one namespace; unregistered on drop.
///
/// # Invariants
///
/// `ops` is registered in `net`, which is alive while this object exists, and the `priv` of each
/// op (a [`HookSet`]) outlives it.
struct HookRegistration {
    net: *mut sys::net,
    ops: KVec<sys::nf_hook_ops>,
}

// SAFETY: the registration is only a handle; unregistering may happen on any thread.
unsafe impl Send for HookRegistration {}

impl Drop for HookRegistration {
    fn drop(&mut self) {
        // SAFETY: registered in the live `net` (type invariant). Unregistering waits until no CPU
        // runs the hooks any more.
        unsafe { sys::nf_unregister_net_hooks(self.net, self.ops.as_ptr(), self.ops.len() as _) };
    }
}

/// Whether a namespace's hooks of each family are registered, switched by its pernet data: the
/// hooks that are always registered, and the optional ones with them while the set wants them.
pub(crate) struct HookSwitch {
    registration: Option<Pin<KBox<Mutex<[Registered; 2]>>>>,
}

/// The registrations of a family in a [`HookSwitch`]: the optional hooks only with the others,
/// and IPv6's defragmentation before them.
#[derive(Default)]
struct Registered {
    always: Option<HookRegistration>,
    optional: Option<HookRegistration>,
    defrag: Option<Ipv6Defrag>,
}

impl Registered {
    /// Unregisters the hooks, then lets the defragmentation go.
    fn clear(&mut self) {
        self.optional = None;
        self.always = None;
        self.defrag = None;
    }
}

/// A use of IPv6 conntrack's defragmentation in a namespace (`nf_defrag_ipv6_enable`), whose
/// module is loaded on demand and reached through the hook it registers (`nf_defrag_v6_hook`,
/// as `nf_bpf_link` reaches it), so that rvs.ko does not depend on it at load time. Disabled on
/// drop.
///
/// # Invariants
///
/// `hook` is the module's registered hook, whose module this object holds a reference to, and
/// defragmentation is enabled once by this object in the live namespace `net`.
struct Ipv6Defrag {
    hook: NonNull<sys::nf_defrag_hook>,
    net: *mut sys::net,
}

// SAFETY: the handle only undoes its use, on any thread.
unsafe impl Send for Ipv6Defrag {}

impl Ipv6Defrag {
    /// Enables IPv6 defragmentation in `net`, loading `nf_defrag_ipv6` if need be. Sleeps.
    fn enable(net: &Net) -> Result<Self> {
        let mut hook = Self::registered();
        if hook.is_none() {
            // SAFETY: the name is a NUL-terminated string; `request_module` may sleep, which
            // the caller allows.
            unsafe { sys::rvs_request_module(kernel::c_str!("nf_defrag_ipv6").as_char_ptr()) };
            hook = Self::registered();
        }
        let hook = hook.ok_or(ENOENT)?;
        // SAFETY: the module holds its hook alive; the reference taken above keeps it loaded.
        let enable = unsafe { (*hook.as_ptr()).enable }.ok_or(ENOENT)?;
        // SAFETY: `net` is alive; the module is held.
        let ret = unsafe { enable(net.as_ptr()) };
        // INVARIANT: the module is held, and defragmentation enabled unless `ret` says otherwise,
        // in which case dropping the object must not disable it: the reference is put here.
        if ret != 0 {
            // SAFETY: the reference taken by `registered`.
            unsafe { sys::module_put((*hook.as_ptr()).owner) };
            return Err(Error::from_errno(ret));
        }
        Ok(Self {
            hook,
            net: net.as_ptr(),
        })
    }

    /// The registered hook of `nf_defrag_ipv6` with a reference to its module, if it is loaded.
    fn registered() -> Option<NonNull<sys::nf_defrag_hook>> {
        let _guard = Guard::new();
        // SAFETY: read under the RCU read lock taken above; a module unregisters its hook (and
        // waits for readers) before it goes.
        let hook = NonNull::new(unsafe { sys::rvs_nf_defrag_v6_hook() }.cast_mut())?;
        // SAFETY: the hook is alive in the read-side critical section; once its module is held,
        // it stays so after it.
        unsafe { sys::rvs_try_module_get((*hook.as_ptr()).owner) }.then_some(hook)
    }
}

impl Drop for Ipv6Defrag {
    fn drop(&mut self) {
        // SAFETY: the module is held and defragmentation enabled by this object in the live
        // `net` (type invariant); the reference is given back last.
        unsafe {
            if let Some(disable) = (*self.hook.as_ptr()).disable {
                disable(self.net);
            }
            sys::module_put((*self.hook.as_ptr()).owner);
        }
    }
}

impl HookSwitch {
    /// A switch that is off; [`HookSwitch::set`] fails with `-ENOMEM` if the switch could not get
    /// its lock.
    pub(crate) fn new() -> Self {
        Self {
            registration: KBox::pin_init(new_mutex!(Default::default()), GFP_KERNEL).ok(),
        }
    }

    /// Registers (`on`) or unregisters the hooks of `family` of `owner` in `net`. Sleeps.
    ///
    /// # Safety
    ///
    /// `owner` must stay alive and in place, and `net` alive, until this switch is turned off or
    /// dropped, and a switch must always be set for the same `net` and `owner`.
    pub(super) unsafe fn set<T: HookSet>(
        &self,
        net: &Net,
        owner: &T,
        family: Family,
        on: bool,
    ) -> Result {
        let mut families = self.registration.as_ref().ok_or(ENOMEM)?.lock();
        let registered = &mut families[family.index()];
        if !on {
            registered.clear();
            return Ok(());
        }
        if family == Family::Ipv6 && T::IPV6_DEFRAG && registered.defrag.is_none() {
            registered.defrag = Some(Ipv6Defrag::enable(net)?);
        }
        if registered.always.is_none() {
            // SAFETY: the caller's guarantees.
            match unsafe { register(net, owner, family, false) } {
                Ok(hooks) => registered.always = Some(hooks),
                Err(e) => {
                    registered.clear();
                    return Err(e);
                }
            }
        }
        // The optional hooks only spare work: without them (no memory), packets take the
        // others, and the next refresh tries again.
        // SAFETY: the caller's guarantees.
        let _ = unsafe { sync_optional(registered, net, owner, family) };
        Ok(())
    }

    /// Registers or unregisters the optional hooks of `owner` as it now wants them, if the
    /// others are registered. Sleeps.
    ///
    /// # Safety
    ///
    /// As for [`HookSwitch::set`].
    pub(super) unsafe fn refresh<T: HookSet>(&self, net: &Net, owner: &T) -> Result {
        let mut families = self.registration.as_ref().ok_or(ENOMEM)?.lock();
        for family in [Family::Ipv4, Family::Ipv6] {
            let registered = &mut families[family.index()];
            if registered.always.is_some() {
                // SAFETY: the caller's guarantees.
                unsafe { sync_optional(registered, net, owner, family)? };
            }
        }
        Ok(())
    }

    /// Unregisters the hooks, if they are registered. Sleeps.
    pub(super) fn turn_off(&mut self) {
        if let Some(registration) = &self.registration {
            for registered in registration.lock().iter_mut() {
                registered.clear();
            }
        }
    }
}

/// Registers or unregisters the optional hooks of `family` of `owner` to match
/// [`HookSet::optional_hooks`].
///
/// # Safety
///
/// As for [`HookSwitch::set`].
unsafe fn sync_optional<T: HookSet>(
    registered: &mut Registered,
    net: &Net,
    owner: &T,
    family: Family,
) -> Result {
    let wanted =
        owner.optional_hooks() && T::HOOKS.iter().any(|h| h.optional && h.family == family);
    if wanted == registered.optional.is_some() {
        return Ok(());
    }
    registered.optional = if wanted {
        // SAFETY: the caller's guarantees.
        Some(unsafe { register(net, owner, family, true)? })
    } else {
        None
    };
    Ok(())
}

/// Registers the hooks of `family` of `owner` in `net` whose `optional` is `optional`. Sleeps.
///
/// # Safety
///
/// `owner` must stay alive and in place, and `net` alive, while the registration exists.
unsafe fn register<T: HookSet>(
    net: &Net,
    owner: &T,
    family: Family,
    optional: bool,
) -> Result<HookRegistration> {
    if T::HOOKS.len() > MAX_HOOKS {
        return Err(EINVAL);
    }
    let fns = const { &hook_fns::<T>() };
    let mut ops = KVec::with_capacity(T::HOOKS.len(), GFP_KERNEL)?;
    // Each hook keeps its callback, which knows it by its index in `T::HOOKS`.
    for (spec, hook) in T::HOOKS.iter().zip(fns.iter()) {
        if spec.optional != optional || spec.family != family {
            continue;
        }
        ops.push(
            sys::nf_hook_ops {
                hook: *hook,
                priv_: core::ptr::from_ref(owner).cast_mut().cast(),
                pf: family.to_raw(),
                hooknum: spec.hooknum.to_raw(),
                priority: spec.priority,
                // SAFETY: all-zero is a valid rest of `nf_hook_ops` (no device, normal type).
                ..unsafe { core::mem::zeroed() }
            },
            GFP_KERNEL,
        )?;
    }
    // SAFETY: `net` is alive; the ops live in `ops`, kept by the registration until it
    // unregisters them; `owner` outlives the registration (this function's contract).
    let ret = unsafe { sys::nf_register_net_hooks(net.as_ptr(), ops.as_ptr(), ops.len() as _) };
    if ret < 0 {
        return Err(Error::from_errno(ret));
    }
    // INVARIANT: registered just above.
    Ok(HookRegistration {
        net: net.as_ptr(),
        ops,
    })
}
