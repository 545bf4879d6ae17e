// SPDX-License-Identifier: GPL-2.0

//! Kernel UDP sockets: a receiver of the datagrams of a multicast group, and a sender to one.
//!
//! C headers: [`include/net/udp_tunnel.h`](srctree/include/net/udp_tunnel.h),
//! [`include/linux/igmp.h`](srctree/include/linux/igmp.h)
//!
//! IPVS's backup daemon reads its socket from a kernel thread. Here the socket is set up as
//! the kernel's UDP tunnels set theirs (`setup_udp_tunnel_sock`): each datagram, its checksum
//! verified, is handed to the receiver's [`DatagramHandler`] in the softirq that delivers it,
//! and never queued; no thread, no receive buffer to overflow.

use super::{pernet::Net, sys};
use core::ptr::NonNull;
use kernel::{error::to_result, ffi::c_int, prelude::*, str::CStr};

/// What a [`MulticastReceiver`] does with each datagram.
pub(crate) trait DatagramHandler: Send + Sync + Sized + 'static {
    /// A datagram arrived for the socket, in namespace `net`; `payload` is its UDP payload.
    /// Runs in softirq context, inside an RCU read-side critical section: must not sleep.
    fn receive(&self, net: &Net, payload: &[u8]);
}

/// A network interface of a namespace, as found by name.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Interface {
    pub(crate) ifindex: i32,
    pub(crate) mtu: u32,
}

/// The interface named `name` in `net` (`__dev_get_by_name`), if there is one. Sleeps.
pub(crate) fn interface(net: &Net, name: &CStr) -> Option<Interface> {
    // SAFETY: may sleep (the caller's context); paired with `rtnl_unlock` below.
    unsafe { sys::rtnl_lock() };
    // SAFETY: `net` is alive, `name` is NUL-terminated, the RTNL is held as required.
    let dev = unsafe { sys::__dev_get_by_name(net.as_ptr(), name.as_char_ptr()) };
    let found = (!dev.is_null()).then(|| Interface {
        // SAFETY: `dev` is a device of `net`, alive while the RTNL is held.
        ifindex: unsafe { sys::rvs_netdev_ifindex(dev) },
        // SAFETY: as above.
        mtu: unsafe { sys::rvs_netdev_mtu(dev) },
    });
    // SAFETY: taken above.
    unsafe { sys::rtnl_unlock() };
    found
}

/// A UDP socket bound to an IPv4 multicast group and port on one interface, member of the
/// group there, whose datagrams go to a [`DatagramHandler`]. Dropping it leaves the group,
/// releases the socket and waits until no handler call is running. Sleeps.
///
/// # Invariants
///
/// `sock` is a kernel socket of the namespace the receiver was made in, owned by this object;
/// while it exists, its `sk_user_data` is null or points to `*handler`, and its encapsulation
/// receive function is `receive::<T>`.
pub(crate) struct MulticastReceiver<T: DatagramHandler> {
    sock: NonNull<sys::socket>,
    handler: KBox<T>,
}

// SAFETY: the socket is used from any context through the kernel's own locking; the handler is
// `Send + Sync`.
unsafe impl<T: DatagramHandler> Send for MulticastReceiver<T> {}
// SAFETY: as above; `&self` gives access to nothing but the handler.
unsafe impl<T: DatagramHandler> Sync for MulticastReceiver<T> {}

/// Any non-zero encapsulation type makes UDP call the socket's `encap_rcv` (1 is the first
/// tunnels' value).
const ENCAP_TYPE: u8 = 1;

impl<T: DatagramHandler> MulticastReceiver<T> {
    /// Binds a socket of `net` to `group:port` on the interface `ifindex`, joins the group
    /// there (`make_receive_sock`) and hands what arrives to `handler`; `rcvbuf` sets its
    /// receive buffer as `SO_RCVBUF` does. Sleeps.
    pub(crate) fn new(
        net: &Net,
        group: [u8; 4],
        port: u16,
        ifindex: i32,
        rcvbuf: Option<i32>,
        handler: T,
    ) -> Result<Self> {
        let handler = KBox::new(handler, GFP_KERNEL)?;
        let mut cfg = sys::udp_port_cfg {
            family: sys::AF_INET as u8,
            local_udp_port: port.to_be(),
            bind_ifindex: ifindex,
            ..Default::default()
        };
        cfg.__bindgen_anon_1.local_ip.s_addr = u32::from_ne_bytes(group);
        let mut sock = core::ptr::null_mut();
        // SAFETY: `net` is alive, `cfg` and `sock` are valid for the call, which may sleep.
        to_result(unsafe { sys::udp_sock_create4(net.as_ptr(), &mut cfg, &mut sock) })?;
        let sock = NonNull::new(sock).ok_or(ENOMEM)?;
        // From here on `Drop` releases the socket (its user data is still null).
        let this = Self { sock, handler };
        // SAFETY: `sock` is a live socket; its `sk` is set by the creation.
        let sk = unsafe { (*sock.as_ptr()).sk };
        let mut mreq = sys::ip_mreqn {
            imr_ifindex: ifindex,
            ..Default::default()
        };
        mreq.imr_multiaddr.s_addr = u32::from_ne_bytes(group);
        // SAFETY: the RTNL then the socket lock, as `join_mcast_group` under
        // `start_sync_thread` takes them; `sk` is alive, `mreq` valid for the call.
        let joined = unsafe {
            sys::rtnl_lock();
            sys::lock_sock_nested(sk, 0);
            let r = sys::ip_mc_join_group(sk, &mut mreq);
            sys::release_sock(sk);
            sys::rtnl_unlock();
            r
        };
        to_result(joined)?;
        if let Some(size) = rcvbuf {
            // Datagrams go to the handler as they arrive and are never queued, so the buffer
            // bounds nothing here; the socket shows what was asked for.
            // SAFETY: `sock` is a live socket; the option takes an int.
            to_result(unsafe {
                sys::rvs_sock_setsockopt_int(sock.as_ptr(), sys::SO_RCVBUF as c_int, size)
            })?;
        }
        let mut tunnel = sys::udp_tunnel_sock_cfg {
            sk_user_data: core::ptr::from_ref::<T>(&this.handler).cast_mut().cast(),
            encap_type: ENCAP_TYPE,
            encap_rcv: Some(receive::<T>),
            ..Default::default()
        };
        // SAFETY: `sock` is a live UDP socket of `net`; the user data points to the boxed
        // handler, which lives until `Drop` has detached it and waited for its readers.
        unsafe { sys::setup_udp_tunnel_sock(net.as_ptr(), sock.as_ptr(), &mut tunnel) };
        Ok(this)
    }
}

impl<T: DatagramHandler> Drop for MulticastReceiver<T> {
    fn drop(&mut self) {
        // Clears the user data, waits for a grace period (every `receive` runs within one),
        // shuts the socket down and releases it, which leaves the group.
        // SAFETY: the socket is ours (type invariant) and released once, here.
        unsafe { sys::udp_tunnel_sock_release(self.sock.as_ptr()) };
    }
}

/// A UDP socket connected to a multicast group and port, bound to one interface, sending with
/// a multicast TTL, without loopback and without DF (`make_send_sock`). Sends from process
/// context; dropping it releases the socket. Sleeps.
///
/// # Invariants
///
/// `sock` is a kernel socket of the namespace the sender was made in, owned by this object.
pub(crate) struct MulticastSender {
    sock: NonNull<sys::socket>,
}

// SAFETY: the socket is used through the kernel's own locking.
unsafe impl Send for MulticastSender {}
// SAFETY: as above.
unsafe impl Sync for MulticastSender {}

impl MulticastSender {
    /// A socket of `net` sending to `group:port` through the interface `ifindex` with TTL
    /// `ttl`; `sndbuf` sets its send buffer as `SO_SNDBUF` does. Sleeps.
    pub(crate) fn new(
        net: &Net,
        group: [u8; 4],
        port: u16,
        ifindex: i32,
        ttl: u8,
        sndbuf: Option<i32>,
    ) -> Result<Self> {
        let mut cfg = sys::udp_port_cfg {
            family: sys::AF_INET as u8,
            peer_udp_port: port.to_be(),
            bind_ifindex: ifindex,
            ..Default::default()
        };
        cfg.__bindgen_anon_2.peer_ip.s_addr = u32::from_ne_bytes(group);
        cfg.set_use_udp_checksums(1);
        let mut sock = core::ptr::null_mut();
        // SAFETY: `net` is alive, `cfg` and `sock` are valid for the call, which may sleep;
        // it binds, connects and binds to the interface.
        to_result(unsafe { sys::udp_sock_create4(net.as_ptr(), &mut cfg, &mut sock) })?;
        let sock = NonNull::new(sock).ok_or(ENOMEM)?;
        // From here on `Drop` releases the socket.
        let this = Self { sock };
        // SAFETY: `sock` is a live socket; its `sk` is set by the creation.
        let sk = unsafe { (*sock.as_ptr()).sk };
        for (option, value) in [
            (sys::IP_MULTICAST_TTL, c_int::from(ttl)),
            (sys::IP_MULTICAST_LOOP, 0),
            (sys::IP_MTU_DISCOVER, sys::IP_PMTUDISC_DONT as c_int),
        ] {
            // SAFETY: `sk` is a live IPv4 socket; the option takes an int.
            to_result(unsafe { sys::rvs_ip_setsockopt_int(sk, option as c_int, value) })?;
        }
        if let Some(size) = sndbuf {
            // SAFETY: `sock` is a live socket; the option takes an int.
            to_result(unsafe {
                sys::rvs_sock_setsockopt_int(sock.as_ptr(), sys::SO_SNDBUF as c_int, size)
            })?;
        }
        Ok(this)
    }

    /// Sends `datagram` without waiting for buffer space (`ip_vs_send_async`); process
    /// context.
    pub(crate) fn send(&self, datagram: &[u8]) -> Result {
        let mut iov = sys::kvec {
            iov_base: datagram.as_ptr().cast_mut().cast(),
            iov_len: datagram.len(),
        };
        let mut msg = sys::msghdr {
            msg_flags: (sys::MSG_DONTWAIT | sys::MSG_NOSIGNAL) as _,
            ..Default::default()
        };
        // SAFETY: the socket is live (type invariant); `msg` and `iov` describe `datagram`,
        // which the call only reads.
        let sent = unsafe {
            sys::kernel_sendmsg(self.sock.as_ptr(), &mut msg, &mut iov, 1, datagram.len())
        };
        to_result(sent)
    }
}

impl Drop for MulticastSender {
    fn drop(&mut self) {
        // SAFETY: the socket is ours (type invariant) and released once, here.
        unsafe { sys::sock_release(self.sock.as_ptr()) };
    }
}

/// `encap_rcv` of a [`MulticastReceiver`]'s socket: UDP calls it in softirq context, under
/// RCU, with the datagram (checksum verified, trimmed to the UDP length, `data` at the UDP
/// header). Always takes the datagram.
///
/// # Safety
///
/// Called by UDP only, for a socket set up by [`MulticastReceiver::new`] with handler type `T`.
unsafe extern "C" fn receive<T: DatagramHandler>(
    sk: *mut sys::sock,
    skb: *mut sys::sk_buff,
) -> c_int {
    const UDP_HEADER_LEN: usize = 8;
    // SAFETY: `sk` is the live socket being delivered to; its user data is null or the
    // handler (type invariant), which outlives this RCU read-side critical section.
    let handler = unsafe { sys::rvs_sk_user_data(sk).cast::<T>().as_ref() };
    // SAFETY: `skb` is ours to use and free; linearising may reallocate its data.
    let linear = unsafe { sys::rvs_skb_linearize(skb) } == 0;
    if let (Some(handler), true) = (handler, linear) {
        // SAFETY: `skb` is linear: its `headlen` bytes from `data` are its whole content.
        let (data, len) = unsafe { (sys::rvs_skb_data(skb), sys::rvs_skb_headlen(skb)) };
        // SAFETY: as above; the bytes stay valid and unchanged until the skb is freed below.
        let bytes = unsafe { core::slice::from_raw_parts(data, len as usize) };
        if let Some(payload) = bytes.get(UDP_HEADER_LEN..) {
            // SAFETY: a socket's namespace outlives it, and the receiver (owned by the
            // namespace's data) releases its socket before that data goes.
            let net = unsafe { Net::from_raw(sys::rvs_sock_net(sk)) };
            handler.receive(net, payload);
        }
    }
    // SAFETY: the skb was handed to us and nothing refers to it any more.
    unsafe { sys::rvs_skb_consume(skb) };
    0
}
