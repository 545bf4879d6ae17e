// SPDX-License-Identifier: GPL-2.0

//! Generic netlink: registration of the `"IPVS"` family, requests (`doit`), dumps (`dumpit`) and
//! the messages rvs builds in reply.
//!
//! C header: [`include/net/genetlink.h`](srctree/include/net/genetlink.h)
//!
//! The family, its ops table and its attribute policy are static objects of the C shim, identical
//! to in-tree IPVS's. Every op points to [`rvs_rs_genl_doit`] or [`rvs_rs_genl_dumpit`], which wrap
//! the C arguments in [`Request`] or [`Dump`] and hand them to `crate::control`.

use super::{errno, pernet::Net, sys};
use crate::abi;
use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ptr::NonNull,
    sync::atomic::{AtomicBool, Ordering},
};
use kernel::{
    error::from_result,
    ffi::{c_int, c_void},
    prelude::*,
};

/// Registration of the `"IPVS"` generic netlink family.
///
/// # Invariants
///
/// The family is registered while this object exists, and at most one object exists.
pub(crate) struct FamilyRegistration(());

static FAMILY_REGISTERED: AtomicBool = AtomicBool::new(false);

impl FamilyRegistration {
    /// Registers the family. Fails with `-EEXIST` if another module (in-tree `ip_vs`) has it.
    pub(crate) fn new() -> Result<Self> {
        // SAFETY: the shim's family is a static object; `register_static` calls this only when
        // it is not registered.
        super::register_static(&FAMILY_REGISTERED, || unsafe { sys::rvs_genl_register() })?;
        // INVARIANT: registered just above; the flag excludes a second object.
        Ok(Self(()))
    }
}

impl Drop for FamilyRegistration {
    fn drop(&mut self) {
        // SAFETY: by the type invariant the family is registered. Unregistering waits for the
        // requests and dumps in progress.
        unsafe { sys::rvs_genl_unregister() };
        FAMILY_REGISTERED.store(false, Ordering::Release);
    }
}

/// A netlink attribute received from userspace.
#[derive(Clone, Copy)]
pub(crate) struct Attr<'a> {
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
        Self { payload }
    }

    /// Reads a `u32` in host byte order (`nla_get_u32`); shorter payloads are invalid.
    pub(crate) fn u32(&self) -> Result<u32> {
        let bytes = self.payload.get(..4).ok_or(EINVAL)?;
        Ok(u32::from_ne_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]))
    }
}

/// A `doit` request: the parsed top-level attributes and the reply address.
///
/// # Invariants
///
/// `info` is the `genl_info` of a request being handled; it and everything it points to stay
/// valid for `'a`, and its `attrs` array, if not null, has `abi::cmd_attr::MAX + 1` entries.
pub(crate) struct Request<'a> {
    info: &'a sys::genl_info,
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
        if kind > abi::cmd_attr::MAX {
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

    /// Appends a `u32` attribute in host byte order (`nla_put_u32`).
    pub(crate) fn put_u32(&mut self, kind: u16, value: u32) -> Result {
        self.put_bytes(kind, &value.to_ne_bytes())
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
/// `cb` is the netlink callback of a dump in progress, valid for `'a`.
pub(crate) struct Dump<'a> {
    cb: NonNull<sys::netlink_callback>,
    _cb: PhantomData<&'a mut sys::netlink_callback>,
}

impl Dump<'_> {
    /// Returns the generic netlink command being dumped.
    pub(crate) fn cmd(&self) -> u8 {
        // SAFETY: by the type invariant `cb` is a genetlink dump callback.
        unsafe { sys::rvs_genl_dump_cmd(self.cb.as_ptr()) }
    }
}

/// `doit` of every IPVS command.
///
/// # Safety
///
/// Called by the generic netlink core only, with a valid `info` for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_genl_doit(
    _skb: *mut sys::sk_buff,
    info: *mut sys::genl_info,
) -> c_int {
    from_result(|| {
        // SAFETY: the genl core passes a valid `info`, parsed with the family's policy into an
        // `attrs` array of `maxattr + 1` entries, for the duration of this call.
        let info = unsafe { &*info };
        let request = Request { info };
        crate::control::doit(&request)?;
        Ok(0)
    })
}

/// `dumpit` of the IPVS commands that have one.
///
/// # Safety
///
/// Called by the generic netlink core only, with valid `skb` and `cb` for the duration of the call.
#[no_mangle]
pub(crate) unsafe extern "C" fn rvs_rs_genl_dumpit(
    skb: *mut sys::sk_buff,
    cb: *mut sys::netlink_callback,
) -> c_int {
    from_result(|| {
        let cb = NonNull::new(cb).ok_or(EINVAL)?;
        // INVARIANT: the genl core passes the callback of the dump in progress.
        let mut dump = Dump {
            cb,
            _cb: PhantomData,
        };
        crate::control::dumpit(&mut dump)?;
        // SAFETY: `skb` is the valid output buffer of this batch; the dump returns its length,
        // and 0 (nothing added) ends the dump.
        Ok(unsafe { (*skb).len } as c_int)
    })
}
