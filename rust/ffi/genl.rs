// SPDX-License-Identifier: GPL-2.0

//! Generic netlink: a [`Family`] with its commands and attribute policies, its [`Registration`],
//! requests (`doit`), dumps (`dumpit`) and the messages sent in reply.
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h)
//!
//! [`Registration::new`] builds the C family and its ops table from the [`Family`] constants;
//! every op points to [`doit`] or [`dumpit`] for the family, which wrap the C arguments in
//! [`Request`] or [`Dump`] and hand them to the family's methods.

use super::{errno, pernet::Net, sys};
use core::{marker::PhantomData, mem::ManuallyDrop, ptr::NonNull};
use kernel::{
    error::from_result,
    ffi::{c_int, c_void},
    prelude::*,
    str::CStr,
    types::Opaque,
    ThisModule,
};

/// The validation of one attribute (`struct nla_policy`).
#[repr(transparent)]
#[derive(Clone, Copy)]
pub(crate) struct Policy(sys::nla_policy);

// SAFETY: policies are immutable data that the netlink core only reads.
unsafe impl Sync for Policy {}

impl Policy {
    const fn new(kind: u32, len: u16) -> Self {
        Self(sys::nla_policy {
            type_: kind as u8,
            validation_type: 0,
            len,
            // SAFETY: all-zero is a valid value of the union (no range, no nested policy).
            __bindgen_anon_1: unsafe { core::mem::zeroed() },
        })
    }

    /// Not validated (an attribute the family does not accept is ignored).
    pub(crate) const fn unspec() -> Self {
        Self::new(sys::NLA_UNSPEC, 0)
    }

    /// A payload of at least `len` bytes, of no particular type.
    pub(crate) const fn min_len(len: u16) -> Self {
        Self::new(sys::NLA_UNSPEC, len)
    }

    /// `NLA_U8`.
    pub(crate) const fn u8() -> Self {
        Self::new(sys::NLA_U8, 0)
    }

    /// `NLA_U16`.
    pub(crate) const fn u16() -> Self {
        Self::new(sys::NLA_U16, 0)
    }

    /// `NLA_U32`.
    pub(crate) const fn u32() -> Self {
        Self::new(sys::NLA_U32, 0)
    }

    /// `NLA_NESTED`: a nest, parsed later with its own policy.
    pub(crate) const fn nested() -> Self {
        Self::new(sys::NLA_NESTED, 0)
    }

    /// `NLA_NUL_STRING` of at most `max_len` bytes before the NUL.
    pub(crate) const fn nul_string(max_len: u16) -> Self {
        Self::new(sys::NLA_NUL_STRING, max_len)
    }

    /// `NLA_BINARY` of at most `max_len` bytes.
    pub(crate) const fn binary(max_len: u16) -> Self {
        Self::new(sys::NLA_BINARY, max_len)
    }

    /// A policy table of attributes `0..N`: `entries` gives the policy of some attribute
    /// numbers, the others are not validated. (A number out of range fails the build.)
    pub(crate) const fn table<const N: usize>(entries: &[(u16, Policy)]) -> [Policy; N] {
        let mut table = [Self::unspec(); N];
        let mut i = 0;
        while i < entries.len() {
            table[entries[i].0 as usize] = entries[i].1;
            i += 1;
        }
        table
    }
}

/// One command of a family (`struct genl_small_ops`).
pub(crate) struct Command {
    /// The command number.
    pub(crate) cmd: u8,
    /// Whether it has a `doit` (a request answered once).
    pub(crate) doit: bool,
    /// Whether it has a `dumpit` (a dump in batches).
    pub(crate) dumpit: bool,
}

/// A generic netlink family. Every command requires `CAP_NET_ADMIN` in the namespace's user
/// namespace (`GENL_ADMIN_PERM`) and is validated leniently, as legacy families are
/// (`GENL_DONT_VALIDATE_STRICT | GENL_DONT_VALIDATE_DUMP`).
pub(crate) trait Family: 'static {
    /// The family's name.
    const NAME: &'static CStr;
    /// Its version.
    const VERSION: u32;
    /// The top-level attribute policy: entry `n` validates attribute `n`.
    const POLICY: &'static [Policy];
    /// The commands.
    const COMMANDS: &'static [Command];
    /// Commands from this number on are validated strictly (`resv_start_op`).
    const STRICT_FROM: u8;

    /// Handles a request.
    fn doit(request: &Request<'_>) -> Result;

    /// Adds one batch of a dump.
    fn dumpit(dump: &mut Dump<'_>) -> Result;
}

/// Room for the largest attribute table that [`Attr::nested`] and [`Request::attr`] handle.
const ATTR_SLOTS: usize = 32;

/// The highest attribute number of `policy`, if it fits an attribute table.
fn max_attr(policy: &[Policy]) -> Option<u16> {
    let max = policy.len().checked_sub(1)?;
    if max >= ATTR_SLOTS {
        return None;
    }
    u16::try_from(max).ok()
}

/// Registration of a [`Family`]; unregistered on drop.
///
/// # Invariants
///
/// `family` is registered while this object exists; it points to `ops`, which stays in place.
pub(crate) struct Registration<F: Family> {
    family: Pin<KBox<Opaque<sys::genl_family>>>,
    _ops: KVec<sys::genl_small_ops>,
    _family: PhantomData<F>,
}

// SAFETY: the registration is only a handle; unregistering may happen on any thread.
unsafe impl<F: Family> Send for Registration<F> {}
// SAFETY: `&Registration` gives no access.
unsafe impl<F: Family> Sync for Registration<F> {}

impl<F: Family> Registration<F> {
    /// Registers the family for `module`. Fails with `-EEXIST` if another module has its name.
    pub(crate) fn new(module: &'static ThisModule) -> Result<Self> {
        let maxattr = max_attr(F::POLICY).ok_or(EINVAL)?;
        let mut ops = KVec::with_capacity(F::COMMANDS.len(), GFP_KERNEL)?;
        for command in F::COMMANDS {
            ops.push(
                sys::genl_small_ops {
                    doit: if command.doit { Some(doit::<F>) } else { None },
                    dumpit: if command.dumpit {
                        Some(dumpit::<F>)
                    } else {
                        None
                    },
                    cmd: command.cmd,
                    internal_flags: 0,
                    flags: sys::GENL_ADMIN_PERM as u8,
                    validate: (sys::genl_validate_flags_GENL_DONT_VALIDATE_STRICT
                        | sys::genl_validate_flags_GENL_DONT_VALIDATE_DUMP)
                        as u8,
                },
                GFP_KERNEL,
            )?;
        }
        let name = F::NAME.as_bytes_with_nul();
        // SAFETY: all-zero is a valid `genl_family` (no ops, no callbacks), completed below.
        let mut family: sys::genl_family = unsafe { core::mem::zeroed() };
        if name.len() > family.name.len() {
            return Err(EINVAL);
        }
        for (dst, &src) in family.name.iter_mut().zip(name) {
            *dst = src as _;
        }
        family.version = F::VERSION;
        family.maxattr = u32::from(maxattr);
        family.set_netnsok(1);
        family.policy = F::POLICY.as_ptr().cast();
        family.small_ops = ops.as_ptr();
        family.n_small_ops = u8::try_from(ops.len()).map_err(|_| EINVAL)?;
        family.resv_start_op = F::STRICT_FROM;
        family.module = module.as_ptr().cast();
        let family = KBox::pin(Opaque::new(family), GFP_KERNEL)?;
        // SAFETY: the family and its ops stay in place (a pinned box, a vector that is not
        // changed) until `Drop` unregisters it; the policy is static.
        let ret = unsafe { sys::genl_register_family(family.get()) };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        // INVARIANT: registered just above.
        Ok(Self {
            family,
            _ops: ops,
            _family: PhantomData,
        })
    }
}

impl<F: Family> Drop for Registration<F> {
    fn drop(&mut self) {
        // SAFETY: registered (type invariant). Unregistering waits for the requests and dumps in
        // progress.
        unsafe { sys::genl_unregister_family(self.family.get()) };
    }
}

/// A netlink attribute received from userspace.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
    nla: *const sys::nlattr,
    payload: &'a [u8],
}

impl<'a> Attr<'a> {
    /// Wraps a parsed attribute.
    ///
    /// # Safety
    ///
    /// `nla` must point to a valid attribute whose header and payload stay readable for `'a`.
    unsafe fn from_raw(nla: *const sys::nlattr) -> Self {
        // SAFETY: `nla` is a valid attribute (caller's guarantee).
        let len = unsafe { sys::rvs_nla_len(nla) };
        // SAFETY: as above.
        let data = unsafe { sys::rvs_nla_data(nla) }.cast::<u8>();
        let len = usize::try_from(len).unwrap_or(0);
        // SAFETY: netlink validated that the payload of `len` bytes lies within the message,
        // which outlives `'a`.
        let payload = unsafe { core::slice::from_raw_parts(data, len) };
        Self { nla, payload }
    }

    fn bytes<const N: usize>(&self) -> Result<[u8; N]> {
        let bytes = self.payload.get(..N).ok_or(EINVAL)?;
        let mut out = [0u8; N];
        out.copy_from_slice(bytes);
        Ok(out)
    }

    /// Reads a `u8` (`nla_get_u8`); shorter payloads are invalid.
    pub(crate) fn u8(&self) -> Result<u8> {
        Ok(self.bytes::<1>()?[0])
    }

    /// Reads a `u16` in host byte order (`nla_get_u16`).
    pub(crate) fn u16(&self) -> Result<u16> {
        Ok(u16::from_ne_bytes(self.bytes()?))
    }

    /// Reads a `__be16` as a host-order number (`ntohs(nla_get_be16())`).
    pub(crate) fn be16(&self) -> Result<u16> {
        Ok(u16::from_be_bytes(self.bytes()?))
    }

    /// Reads a `u32` in host byte order (`nla_get_u32`); shorter payloads are invalid.
    pub(crate) fn u32(&self) -> Result<u32> {
        Ok(u32::from_ne_bytes(self.bytes()?))
    }

    /// Copies the payload into a zeroed `N`-byte buffer, truncating as `nla_memcpy` does.
    pub(crate) fn padded<const N: usize>(self) -> [u8; N] {
        let mut out = [0u8; N];
        let n = self.payload.len().min(N);
        out[..n].copy_from_slice(&self.payload[..n]);
        out
    }

    /// The payload of an `NLA_NUL_STRING` attribute, without its terminating NUL.
    pub(crate) fn c_str(&self) -> &'a [u8] {
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.payload.len());
        &self.payload[..end]
    }

    /// Parses the attribute as a nest validated by `policy` (`nla_parse_nested_deprecated`).
    /// Any violation is `-EINVAL`, as in IPVS.
    pub(crate) fn nested(&self, policy: &'static [Policy]) -> Result<Nested<'a>> {
        let max = max_attr(policy).ok_or(EINVAL)?;
        let mut nested = Nested::empty();
        // SAFETY: `self.nla` is a valid attribute of a message that outlives `'a`; `tb` has
        // room for `max + 1` entries (`max_attr`); `policy` has `max + 1` entries.
        let ret = unsafe {
            sys::rvs_nla_parse_nested(
                nested.tb.as_mut_ptr(),
                c_int::from(max),
                self.nla,
                policy.as_ptr().cast(),
            )
        };
        if ret < 0 {
            return Err(EINVAL);
        }
        nested.max = max;
        Ok(nested)
    }
}

/// A parsed attribute table (`struct nlattr *tb[MAX + 1]`).
///
/// # Invariants
///
/// Entries `0..=max` are null or point to attributes, validated by a policy, of a message that
/// stays alive for `'a`; the other entries are null.
pub(crate) struct Nested<'a> {
    tb: [*mut sys::nlattr; ATTR_SLOTS],
    max: u16,
    _msg: PhantomData<&'a [u8]>,
}

impl<'a> Nested<'a> {
    fn empty() -> Self {
        // INVARIANT: all entries are null.
        Self {
            tb: [core::ptr::null_mut(); ATTR_SLOTS],
            max: 0,
            _msg: PhantomData,
        }
    }

    /// Returns attribute `kind`, if present.
    pub(crate) fn get(&self, kind: u16) -> Option<Attr<'a>> {
        if kind > self.max {
            return None;
        }
        let nla = *self.tb.get(usize::from(kind))?;
        // SAFETY: by the type invariant a non-null entry is a valid attribute alive for `'a`.
        (!nla.is_null()).then(|| unsafe { Attr::from_raw(nla) })
    }
}

/// A `doit` request: the parsed top-level attributes and the reply address.
///
/// # Invariants
///
/// `info` is the `genl_info` of a request being handled; it and everything it points to stay
/// valid for `'a`, and its `attrs` array, if not null, has `max + 1` entries.
pub(crate) struct Request<'a> {
    info: &'a sys::genl_info,
    max: u16,
}

impl<'a> Request<'a> {
    /// Returns the generic netlink command.
    pub(crate) fn cmd(&self) -> u8 {
        // SAFETY: by the type invariant `genlhdr` points to the request's valid header.
        unsafe { (*self.info.genlhdr).cmd }
    }

    /// Returns the namespace of the requesting socket.
    pub(crate) fn net(&self) -> &'a Net {
        // SAFETY: by the type invariant `info` is valid.
        let net = unsafe { sys::rvs_genl_info_net(self.info) };
        // SAFETY: the requesting socket holds a reference to its namespace during the request,
        // and the family is registered only while the pernet subsystem is (module init order).
        unsafe { Net::from_raw(net) }
    }

    /// Returns the top-level attribute `kind`, if the request carries it.
    pub(crate) fn attr(&self, kind: u16) -> Option<Attr<'a>> {
        if kind > self.max {
            return None;
        }
        if self.info.attrs.is_null() {
            return None;
        }
        // SAFETY: by the type invariant `attrs` has `MAX + 1` entries and `kind <= MAX`.
        let nla = unsafe { *self.info.attrs.add(usize::from(kind)) };
        // SAFETY: a non-null entry points to an attribute of the request message, valid for `'a`.
        (!nla.is_null()).then(|| unsafe { Attr::from_raw(nla) })
    }

    /// Starts the reply message, with generic netlink command `cmd`.
    pub(crate) fn reply(&self, cmd: u8) -> Result<Reply<'a>> {
        // SAFETY: `rvs_genlmsg_new` allocates with `GFP_KERNEL`, and `doit` may sleep.
        let skb = NonNull::new(unsafe { sys::rvs_genlmsg_new() }).ok_or(ENOMEM)?;
        let msg = Message { skb };
        // `genlmsg_put_reply` takes a mutable pointer but only reads the request info.
        let info = core::ptr::from_ref(self.info).cast_mut();
        // SAFETY: `skb` is a fresh message and `info` is valid (type invariant).
        let hdr = unsafe { sys::rvs_genlmsg_put_reply(skb.as_ptr(), info, cmd) };
        if hdr.is_null() {
            return Err(errno::emsgsize());
        }
        Ok(Reply {
            msg,
            hdr,
            info: self.info,
        })
    }
}

/// Writes attributes into a netlink message under construction.
///
/// # Invariants
///
/// `skb` is a netlink message under construction that the holder may append to.
pub(crate) struct AttrWriter<'a> {
    skb: NonNull<sys::sk_buff>,
    _msg: PhantomData<&'a mut sys::sk_buff>,
}

impl AttrWriter<'_> {
    /// Appends an attribute with raw payload `data` (`nla_put`); `-EMSGSIZE` when full.
    pub(crate) fn put_bytes(&mut self, kind: u16, data: &[u8]) -> Result {
        let len = c_int::try_from(data.len()).map_err(|_| errno::emsgsize())?;
        // SAFETY: by the type invariant we may append to `skb`; `data` is valid for `len` bytes.
        let ret = unsafe {
            sys::nla_put(
                self.skb.as_ptr(),
                c_int::from(kind),
                len,
                data.as_ptr().cast(),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Appends a `u8` attribute (`nla_put_u8`).
    pub(crate) fn put_u8(&mut self, kind: u16, value: u8) -> Result {
        self.put_bytes(kind, &[value])
    }

    /// Appends a `u16` attribute in host byte order (`nla_put_u16`).
    pub(crate) fn put_u16(&mut self, kind: u16, value: u16) -> Result {
        self.put_bytes(kind, &value.to_ne_bytes())
    }

    /// Appends a host-order number as a `__be16` attribute (`nla_put_be16(htons())`).
    pub(crate) fn put_be16(&mut self, kind: u16, value: u16) -> Result {
        self.put_bytes(kind, &value.to_be_bytes())
    }

    /// Appends a `u32` attribute in host byte order (`nla_put_u32`).
    pub(crate) fn put_u32(&mut self, kind: u16, value: u32) -> Result {
        self.put_bytes(kind, &value.to_ne_bytes())
    }

    /// Appends a 64-bit attribute, aligned with a `pad` attribute if needed
    /// (`nla_put_u64_64bit`).
    pub(crate) fn put_u64(&mut self, kind: u16, value: u64, pad: u16) -> Result {
        // SAFETY: by the type invariant we may append to `skb`.
        let ret = unsafe {
            sys::rvs_nla_put_u64(
                self.skb.as_ptr(),
                c_int::from(kind),
                value,
                c_int::from(pad),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }

    /// Appends a NUL-terminated string attribute (`nla_put_string`).
    pub(crate) fn put_str(&mut self, kind: u16, value: &[u8]) -> Result {
        // Names (schedulers, persistence engines, interfaces) are short; no allocation needed.
        let mut buf = [0u8; 64];
        if value.len() >= buf.len() {
            return Err(EINVAL);
        }
        buf[..value.len()].copy_from_slice(value);
        self.put_bytes(kind, &buf[..=value.len()])
    }

    /// Appends a nest `kind` filled by `fill`; on error the partial nest is removed again.
    pub(crate) fn nest(&mut self, kind: u16, fill: impl FnOnce(&mut Self) -> Result) -> Result {
        // SAFETY: by the type invariant we may append to `skb`.
        let start = unsafe { sys::rvs_nla_nest_start(self.skb.as_ptr(), c_int::from(kind)) };
        if start.is_null() {
            return Err(errno::emsgsize());
        }
        match fill(self) {
            Ok(()) => {
                // SAFETY: `start` is the nest just opened in `skb`.
                unsafe { sys::rvs_nla_nest_end(self.skb.as_ptr(), start) };
                Ok(())
            }
            Err(e) => {
                // SAFETY: `start` is the nest just opened in `skb`; nothing after it is kept.
                unsafe { sys::rvs_nla_nest_cancel(self.skb.as_ptr(), start) };
                Err(e)
            }
        }
    }
}

/// An owned message under construction; freed unless it is sent.
///
/// # Invariants
///
/// `skb` is a netlink message allocated by `genlmsg_new` and owned by this object.
struct Message {
    skb: NonNull<sys::sk_buff>,
}

impl Drop for Message {
    fn drop(&mut self) {
        // SAFETY: by the type invariant we own `skb`.
        unsafe { sys::rvs_nlmsg_free(self.skb.as_ptr()) };
    }
}

/// The reply to a [`Request`], sent with [`Reply::send`] or freed on drop.
pub(crate) struct Reply<'a> {
    msg: Message,
    hdr: *mut c_void,
    info: &'a sys::genl_info,
}

impl Reply<'_> {
    /// Returns a writer for the reply's top-level attributes.
    pub(crate) fn attrs(&mut self) -> AttrWriter<'_> {
        // INVARIANT: the reply owns its message, and the writer borrows the reply mutably.
        AttrWriter {
            skb: self.msg.skb,
            _msg: PhantomData,
        }
    }

    /// Finishes the message and sends it to the requester.
    pub(crate) fn send(self) -> Result {
        let this = ManuallyDrop::new(self);
        let skb = this.msg.skb.as_ptr();
        // `genlmsg_reply` takes a mutable pointer but only reads the request info.
        let info = core::ptr::from_ref(this.info).cast_mut();
        // SAFETY: we own `skb` and `hdr` is its genl header; `genlmsg_reply` consumes the skb
        // whatever it returns, so `Message::drop` must not run (`ManuallyDrop`), and `info` is the
        // valid request info.
        let ret = unsafe {
            sys::rvs_genlmsg_end(skb, this.hdr);
            sys::rvs_genlmsg_reply(skb, info)
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        Ok(())
    }
}

/// A `dumpit` call: one more batch of messages for a dump.
///
/// # Invariants
///
/// `cb` is the netlink callback of a dump in progress and `skb` the output buffer of the current
/// batch, both valid for `'a`.
pub(crate) struct Dump<'a> {
    cb: NonNull<sys::netlink_callback>,
    skb: NonNull<sys::sk_buff>,
    policy: &'static [Policy],
    _cb: PhantomData<&'a mut sys::netlink_callback>,
}

impl<'a> Dump<'a> {
    /// Returns the generic netlink command being dumped.
    pub(crate) fn cmd(&self) -> u8 {
        // SAFETY: by the type invariant `cb` is a genetlink dump callback.
        unsafe { sys::rvs_genl_dump_cmd(self.cb.as_ptr()) }
    }

    /// Returns the namespace of the requesting socket.
    pub(crate) fn net(&self) -> &'a Net {
        // SAFETY: by the type invariant `cb` is valid.
        let net = unsafe { sys::rvs_genl_dump_net(self.cb.as_ptr()) };
        // SAFETY: the dumping socket holds a reference to its namespace, and the family is
        // registered only while the pernet subsystem is (module init order).
        unsafe { Net::from_raw(net) }
    }

    /// Parses the top-level attributes of the dump request with the family's policy (the genl
    /// core does not parse dump requests of legacy families).
    pub(crate) fn request_attrs(&self) -> Result<Nested<'a>> {
        let max = max_attr(self.policy).ok_or(EINVAL)?;
        let mut nested = Nested::empty();
        // `tb` has room for `max + 1` entries, and the policy has `max + 1` entries.
        // SAFETY: `cb` is valid, its request message lives as long as the dump; sizes as above.
        let ret = unsafe {
            sys::rvs_genl_parse_dump_request(
                nested.tb.as_mut_ptr(),
                c_int::from(max),
                self.cb.as_ptr(),
                self.policy.as_ptr().cast(),
            )
        };
        if ret < 0 {
            return Err(Error::from_errno(ret));
        }
        nested.max = max;
        Ok(nested)
    }

    /// Returns how many entries earlier batches of this dump have sent (`cb->args[0]`).
    pub(crate) fn position(&self) -> usize {
        // SAFETY: `args` points to the callback's `long args[6]`.
        let pos = unsafe { *sys::rvs_genl_dump_args(self.cb.as_ptr()) };
        usize::try_from(pos).unwrap_or(0)
    }

    /// Records how many entries have been sent, for the next batch.
    pub(crate) fn set_position(&mut self, position: usize) {
        // SAFETY: `args` points to the callback's `long args[6]`, which this dump owns.
        unsafe { *sys::rvs_genl_dump_args(self.cb.as_ptr()) = position as _ };
    }

    /// Adds one message with generic netlink command `cmd`, filled by `fill`. Returns `false`,
    /// adding nothing, when the batch buffer is full: the dump continues in the next batch.
    pub(crate) fn add(
        &mut self,
        cmd: u8,
        fill: impl FnOnce(&mut AttrWriter<'_>) -> Result,
    ) -> Result<bool> {
        let cb = self.cb.as_ptr();
        let skb = self.skb;
        // SAFETY: `skb` is this batch's output buffer and `cb` the dump's callback.
        let hdr = unsafe { sys::rvs_genlmsg_put_dump(skb.as_ptr(), cb, cmd) };
        if hdr.is_null() {
            return Ok(false);
        }
        // INVARIANT: the message just started in `skb` is ours to fill until it is ended.
        let mut writer = AttrWriter {
            skb,
            _msg: PhantomData,
        };
        match fill(&mut writer) {
            Ok(()) => {
                // SAFETY: `hdr` is the header of the message being built in `skb`.
                unsafe { sys::rvs_genlmsg_end(skb.as_ptr(), hdr) };
                Ok(true)
            }
            Err(e) if e.to_errno() == errno::emsgsize().to_errno() => {
                // SAFETY: as above; the message is removed from `skb`.
                unsafe { sys::rvs_genlmsg_cancel(skb.as_ptr(), hdr) };
                Ok(false)
            }
            Err(e) => {
                // SAFETY: as above.
                unsafe { sys::rvs_genlmsg_cancel(skb.as_ptr(), hdr) };
                Err(e)
            }
        }
    }
}

/// `doit` of every command of `F`.
///
/// # Safety
///
/// Called by the generic netlink core only, with a valid `info` for the duration of the call.
unsafe extern "C" fn doit<F: Family>(_skb: *mut sys::sk_buff, info: *mut sys::genl_info) -> c_int {
    from_result(|| {
        // SAFETY: the genl core passes a valid `info`, parsed with the family's policy into an
        // `attrs` array of `maxattr + 1` entries, for the duration of this call.
        let info = unsafe { &*info };
        let max = max_attr(F::POLICY).ok_or(EINVAL)?;
        // INVARIANT: `attrs` has `maxattr + 1` entries, `maxattr` being `max` (`Registration`).
        F::doit(&Request { info, max })?;
        Ok(0)
    })
}

/// `dumpit` of the commands of `F` that have one.
///
/// # Safety
///
/// Called by the generic netlink core only, with valid `skb` and `cb` for the duration of the call.
unsafe extern "C" fn dumpit<F: Family>(
    skb: *mut sys::sk_buff,
    cb: *mut sys::netlink_callback,
) -> c_int {
    from_result(|| {
        let cb = NonNull::new(cb).ok_or(EINVAL)?;
        let out = NonNull::new(skb).ok_or(EINVAL)?;
        // INVARIANT: the genl core passes the callback of the dump in progress and its buffer.
        let mut dump = Dump {
            cb,
            skb: out,
            policy: F::POLICY,
            _cb: PhantomData,
        };
        F::dumpit(&mut dump)?;
        // SAFETY: `skb` is the valid output buffer of this batch; the dump returns its length,
        // and 0 (nothing added) ends the dump.
        Ok(unsafe { (*skb).len } as c_int)
    })
}
