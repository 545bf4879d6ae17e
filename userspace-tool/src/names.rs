//! Reverse name lookups for listings without `-n`, as ipvsadm does them (`gethostbyaddr`,
//! `getservbyport`), falling back to numbers.

use rvs_abi::{IPPROTO_TCP, IPPROTO_UDP};
use std::ffi::CStr;
use std::net::{IpAddr, SocketAddr};

/// The host name of `ip`, if the resolver knows one.
pub fn host_name(ip: IpAddr) -> Option<String> {
    let sockaddr = socket2_raw(SocketAddr::new(ip, 0));
    let mut host = [0 as libc::c_char; 1025];
    // SAFETY: `sockaddr` holds a valid socket address of the stated length, and `host` is a
    // writable buffer of the stated size; no service buffer is requested.
    let ret = unsafe {
        libc::getnameinfo(
            (&sockaddr.0 as *const libc::sockaddr_storage).cast(),
            sockaddr.1,
            host.as_mut_ptr(),
            host.len() as libc::socklen_t,
            std::ptr::null_mut(),
            0,
            libc::NI_NAMEREQD,
        )
    };
    if ret != 0 {
        return None;
    }
    // SAFETY: on success getnameinfo wrote a NUL-terminated string into `host`.
    Some(
        unsafe { CStr::from_ptr(host.as_ptr()) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The service name of `port` for TCP or UDP from the services database.
pub fn service_name(port: u16, protocol: u16) -> Option<String> {
    let proto: &CStr = match protocol {
        IPPROTO_TCP => c"tcp",
        IPPROTO_UDP => c"udp",
        _ => return None,
    };
    // SAFETY: `proto` is NUL-terminated; the returned entry is only read before the next call.
    let entry = unsafe { libc::getservbyport(i32::from(port.to_be()), proto.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: a non-null entry has a valid NUL-terminated `s_name`.
    Some(
        unsafe { CStr::from_ptr((*entry).s_name) }
            .to_string_lossy()
            .into_owned(),
    )
}

/// The port of a named service in the services database (`getservbyname`).
pub fn port_of_service(name: &str, proto: &str) -> Option<u16> {
    let name = std::ffi::CString::new(name).ok()?;
    let proto = std::ffi::CString::new(proto).ok()?;
    // SAFETY: both strings are NUL-terminated; the entry is only read before the next call.
    let entry = unsafe { libc::getservbyname(name.as_ptr(), proto.as_ptr()) };
    if entry.is_null() {
        return None;
    }
    // SAFETY: a non-null entry is valid; `s_port` is in network byte order.
    Some(u16::from_be(unsafe { (*entry).s_port } as u16))
}

/// Encodes a socket address as the `sockaddr_storage` and length that libc expects.
fn socket2_raw(addr: SocketAddr) -> (libc::sockaddr_storage, libc::socklen_t) {
    // SAFETY: `sockaddr_storage` is plain old data for which all-zero bytes are valid.
    let mut storage: libc::sockaddr_storage = unsafe { std::mem::zeroed() };
    let len = match addr {
        SocketAddr::V4(a) => {
            // SAFETY: `sockaddr_storage` is large and aligned enough for any socket address.
            let sin = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in>()
            };
            sin.sin_family = libc::AF_INET as libc::sa_family_t;
            sin.sin_addr.s_addr = u32::from_ne_bytes(a.ip().octets());
            std::mem::size_of::<libc::sockaddr_in>()
        }
        SocketAddr::V6(a) => {
            // SAFETY: as above.
            let sin6 = unsafe {
                &mut *(&mut storage as *mut libc::sockaddr_storage).cast::<libc::sockaddr_in6>()
            };
            sin6.sin6_family = libc::AF_INET6 as libc::sa_family_t;
            sin6.sin6_addr.s6_addr = a.ip().octets();
            std::mem::size_of::<libc::sockaddr_in6>()
        }
    };
    (storage, len as libc::socklen_t)
}
