//! A small generic netlink client: message and attribute encoding (pure, unit-tested) and a
//! `NETLINK_GENERIC` socket that sends one request and collects its replies, dumps included.

use std::fmt;
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};

pub const NLMSG_HDRLEN: usize = 16;
pub const GENL_HDRLEN: usize = 4;
pub const NLA_HDRLEN: usize = 4;

pub const NLMSG_ERROR: u16 = 2;
pub const NLMSG_DONE: u16 = 3;
pub const NLM_F_REQUEST: u16 = 0x1;
#[cfg(test)]
const NLM_F_MULTI: u16 = 0x2;
pub const NLM_F_ACK: u16 = 0x4;
pub const NLM_F_DUMP: u16 = 0x300;
pub const NLA_F_NESTED: u16 = 1 << 15;
const NLA_TYPE_MASK: u16 = !(NLA_F_NESTED | (1 << 14));

const GENL_ID_CTRL: u16 = 0x10;
const CTRL_CMD_GETFAMILY: u8 = 3;
const CTRL_ATTR_FAMILY_ID: u16 = 1;
const CTRL_ATTR_FAMILY_NAME: u16 = 2;

/// Rounds up to the 4-byte netlink alignment.
pub fn align(len: usize) -> usize {
    (len + 3) & !3
}

/// What can go wrong talking to the kernel.
#[derive(Debug)]
pub enum Error {
    /// The kernel answered with this (positive) errno.
    Kernel(i32),
    /// The generic netlink family is not registered (the module is not loaded).
    NoFamily(String),
    /// A socket call failed.
    Io(io::Error),
    /// A reply was malformed.
    Protocol(&'static str),
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Kernel(errno) => write!(f, "{}", io::Error::from_raw_os_error(*errno)),
            Error::NoFamily(name) => {
                write!(f, "generic netlink family \"{name}\" is not registered")
            }
            Error::Io(err) => write!(f, "netlink socket: {err}"),
            Error::Protocol(what) => write!(f, "malformed netlink reply: {what}"),
        }
    }
}

impl From<io::Error> for Error {
    fn from(err: io::Error) -> Self {
        Error::Io(err)
    }
}

/// Builds a sequence of netlink attributes.
#[derive(Default, Clone, Debug)]
pub struct AttrBuf {
    bytes: Vec<u8>,
}

impl AttrBuf {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn bytes(&self) -> &[u8] {
        &self.bytes
    }

    /// Appends an attribute with a raw payload (padded to 4 bytes).
    pub fn put(&mut self, kind: u16, payload: &[u8]) -> &mut Self {
        let len = u16::try_from(NLA_HDRLEN + payload.len()).expect("netlink attribute too long");
        self.bytes.extend_from_slice(&len.to_ne_bytes());
        self.bytes.extend_from_slice(&kind.to_ne_bytes());
        self.bytes.extend_from_slice(payload);
        self.bytes.resize(align(self.bytes.len()), 0);
        self
    }

    pub fn put_u16(&mut self, kind: u16, value: u16) -> &mut Self {
        self.put(kind, &value.to_ne_bytes())
    }

    /// A `u16` in network byte order (ports).
    pub fn put_be16(&mut self, kind: u16, value: u16) -> &mut Self {
        self.put(kind, &value.to_be_bytes())
    }

    pub fn put_u32(&mut self, kind: u16, value: u32) -> &mut Self {
        self.put(kind, &value.to_ne_bytes())
    }

    /// A NUL-terminated string (`NLA_NUL_STRING`).
    pub fn put_str(&mut self, kind: u16, value: &str) -> &mut Self {
        let mut payload = value.as_bytes().to_vec();
        payload.push(0);
        self.put(kind, &payload)
    }

    /// A nested attribute holding `inner`.
    pub fn put_nested(&mut self, kind: u16, inner: &AttrBuf) -> &mut Self {
        self.put(kind | NLA_F_NESTED, inner.bytes())
    }
}

/// One parsed attribute.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Attr<'a> {
    pub kind: u16,
    pub payload: &'a [u8],
}

impl<'a> Attr<'a> {
    pub fn u16(&self) -> Result<u16, Error> {
        let b = self
            .payload
            .get(..2)
            .ok_or(Error::Protocol("short u16 attribute"))?;
        Ok(u16::from_ne_bytes([b[0], b[1]]))
    }

    pub fn be16(&self) -> Result<u16, Error> {
        Ok(u16::from_be(self.u16()?))
    }

    pub fn u32(&self) -> Result<u32, Error> {
        let b = self
            .payload
            .get(..4)
            .ok_or(Error::Protocol("short u32 attribute"))?;
        Ok(u32::from_ne_bytes([b[0], b[1], b[2], b[3]]))
    }

    pub fn u64(&self) -> Result<u64, Error> {
        let b = self
            .payload
            .get(..8)
            .ok_or(Error::Protocol("short u64 attribute"))?;
        Ok(u64::from_ne_bytes(b.try_into().expect("8 bytes")))
    }

    /// A string, up to its first NUL.
    pub fn string(&self) -> Result<String, Error> {
        let end = self
            .payload
            .iter()
            .position(|&b| b == 0)
            .unwrap_or(self.payload.len());
        String::from_utf8(self.payload[..end].to_vec())
            .map_err(|_| Error::Protocol("non-UTF-8 string"))
    }

    pub fn nested(&self) -> Result<Attrs<'a>, Error> {
        Attrs::parse(self.payload)
    }
}

/// A parsed attribute sequence; later duplicates win, as in the kernel's `nla_parse`.
#[derive(Clone, Debug, Default)]
pub struct Attrs<'a> {
    list: Vec<Attr<'a>>,
}

impl<'a> Attrs<'a> {
    pub fn parse(mut bytes: &'a [u8]) -> Result<Self, Error> {
        let mut list = Vec::new();
        while bytes.len() >= NLA_HDRLEN {
            let len = usize::from(u16::from_ne_bytes([bytes[0], bytes[1]]));
            let kind = u16::from_ne_bytes([bytes[2], bytes[3]]) & NLA_TYPE_MASK;
            if len < NLA_HDRLEN || len > bytes.len() {
                return Err(Error::Protocol("attribute length out of bounds"));
            }
            list.push(Attr {
                kind,
                payload: &bytes[NLA_HDRLEN..len],
            });
            bytes = &bytes[align(len).min(bytes.len())..];
        }
        Ok(Self { list })
    }

    pub fn get(&self, kind: u16) -> Option<Attr<'a>> {
        self.list.iter().rev().find(|a| a.kind == kind).copied()
    }

    pub fn require(&self, kind: u16, what: &'static str) -> Result<Attr<'a>, Error> {
        self.get(kind).ok_or(Error::Protocol(what))
    }
}

/// Encodes one generic netlink request.
pub fn encode_request(
    family: u16,
    flags: u16,
    seq: u32,
    cmd: u8,
    version: u8,
    attrs: &[u8],
) -> Vec<u8> {
    let len = NLMSG_HDRLEN + GENL_HDRLEN + attrs.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&family.to_ne_bytes());
    msg.extend_from_slice(&(flags | NLM_F_REQUEST).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(&[cmd, version, 0, 0]);
    msg.extend_from_slice(attrs);
    msg
}

/// One message of a reply.
#[derive(Debug, PartialEq, Eq)]
pub enum Reply {
    /// A generic netlink message: its command and attribute bytes.
    Message { cmd: u8, attrs: Vec<u8> },
    /// The request failed with this positive errno.
    Error(i32),
    /// The acknowledgement of a successful request.
    Ack,
    /// The end of a dump.
    Done,
}

/// Splits a received datagram into replies for request `seq`, skipping other sequence numbers.
pub fn decode_replies(mut buf: &[u8], seq: u32) -> Result<Vec<Reply>, Error> {
    let mut out = Vec::new();
    while buf.len() >= NLMSG_HDRLEN {
        let len = u32::from_ne_bytes(buf[0..4].try_into().expect("4 bytes")) as usize;
        let kind = u16::from_ne_bytes([buf[4], buf[5]]);
        let msg_seq = u32::from_ne_bytes(buf[8..12].try_into().expect("4 bytes"));
        if len < NLMSG_HDRLEN || len > buf.len() {
            return Err(Error::Protocol("message length out of bounds"));
        }
        let body = &buf[NLMSG_HDRLEN..len];
        if msg_seq == seq {
            out.push(match kind {
                NLMSG_ERROR => {
                    let b = body
                        .get(..4)
                        .ok_or(Error::Protocol("short error message"))?;
                    match i32::from_ne_bytes(b.try_into().expect("4 bytes")) {
                        0 => Reply::Ack,
                        errno => Reply::Error(-errno),
                    }
                }
                // A dump that fails says so in its DONE message's payload.
                NLMSG_DONE => match body
                    .get(..4)
                    .map(|b| i32::from_ne_bytes(b.try_into().expect("4 bytes")))
                {
                    Some(errno) if errno < 0 => Reply::Error(-errno),
                    _ => Reply::Done,
                },
                _ => {
                    let hdr = body
                        .get(..GENL_HDRLEN)
                        .ok_or(Error::Protocol("short genl header"))?;
                    Reply::Message {
                        cmd: hdr[0],
                        attrs: body[GENL_HDRLEN..].to_vec(),
                    }
                }
            });
        }
        buf = &buf[align(len).min(buf.len())..];
    }
    Ok(out)
}

/// A `NETLINK_GENERIC` socket.
pub struct GenlSocket {
    fd: OwnedFd,
    seq: u32,
}

impl GenlSocket {
    pub fn open() -> Result<Self, Error> {
        // SAFETY: plain socket(2) call; the result is checked before use.
        let fd = unsafe {
            libc::socket(
                libc::AF_NETLINK,
                libc::SOCK_RAW | libc::SOCK_CLOEXEC,
                libc::NETLINK_GENERIC,
            )
        };
        if fd < 0 {
            return Err(io::Error::last_os_error().into());
        }
        // SAFETY: `fd` is a freshly created descriptor that nothing else owns.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        // Errors then carry only the request's header instead of a copy of the whole request.
        let one: libc::c_int = 1;
        // SAFETY: valid socket, option value points to a live c_int of the given size.
        unsafe {
            libc::setsockopt(
                fd.as_raw_fd(),
                libc::SOL_NETLINK,
                libc::NETLINK_CAP_ACK,
                (&one as *const libc::c_int).cast(),
                std::mem::size_of::<libc::c_int>() as libc::socklen_t,
            );
        }
        let seq = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_secs() as u32)
            .unwrap_or(1);
        Ok(Self { fd, seq })
    }

    /// Sends one request and returns the generic netlink messages of its reply (all parts of a
    /// dump), or the kernel's errno.
    pub fn request(
        &mut self,
        family: u16,
        flags: u16,
        cmd: u8,
        version: u8,
        attrs: &AttrBuf,
    ) -> Result<Vec<(u8, Vec<u8>)>, Error> {
        let seq = self.next_seq();
        let msg = encode_request(family, flags | NLM_F_ACK, seq, cmd, version, attrs.bytes());
        self.send(&msg)?;
        self.receive(seq, flags & NLM_F_DUMP == NLM_F_DUMP)
    }

    /// Makes a receive that waits longer than `secs` fail (EAGAIN) instead of hanging.
    pub fn set_receive_timeout(&self, secs: i64) -> Result<(), Error> {
        let tv = libc::timeval {
            tv_sec: secs,
            tv_usec: 0,
        };
        // SAFETY: valid socket, option value points to a live timeval of the given size.
        let rc = unsafe {
            libc::setsockopt(
                self.fd.as_raw_fd(),
                libc::SOL_SOCKET,
                libc::SO_RCVTIMEO,
                (&tv as *const libc::timeval).cast(),
                std::mem::size_of::<libc::timeval>() as libc::socklen_t,
            )
        };
        if rc < 0 {
            return Err(io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// The sequence number of the next request.
    pub fn next_seq(&mut self) -> u32 {
        self.seq = self.seq.wrapping_add(1);
        self.seq
    }

    /// Sends one netlink message (or several, or a malformed one) to the kernel as it is.
    pub fn send(&self, msg: &[u8]) -> Result<(), Error> {
        // SAFETY: `sockaddr_nl` is plain old data for which all-zero bytes are valid.
        let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
        addr.nl_family = libc::AF_NETLINK as libc::sa_family_t;
        // SAFETY: valid socket, buffer and kernel address of the stated sizes.
        let sent = unsafe {
            libc::sendto(
                self.fd.as_raw_fd(),
                msg.as_ptr().cast(),
                msg.len(),
                0,
                (&addr as *const libc::sockaddr_nl).cast(),
                std::mem::size_of::<libc::sockaddr_nl>() as libc::socklen_t,
            )
        };
        if sent < 0 {
            return Err(io::Error::last_os_error().into());
        }
        Ok(())
    }

    /// Collects the reply to request `seq` (every part of it if it is a `dump`): its generic
    /// netlink messages once acknowledged or done, or the kernel's errno.
    pub fn receive(&self, seq: u32, dump: bool) -> Result<Vec<(u8, Vec<u8>)>, Error> {
        let mut messages = Vec::new();
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            // SAFETY: valid socket and buffer of the stated size.
            let n =
                unsafe { libc::recv(self.fd.as_raw_fd(), buf.as_mut_ptr().cast(), buf.len(), 0) };
            if n < 0 {
                let err = io::Error::last_os_error();
                if err.kind() == io::ErrorKind::Interrupted {
                    continue;
                }
                return Err(err.into());
            }
            for reply in decode_replies(&buf[..n as usize], seq)? {
                match reply {
                    Reply::Message { cmd, attrs } => messages.push((cmd, attrs)),
                    Reply::Error(errno) => return Err(Error::Kernel(errno)),
                    Reply::Ack => return Ok(messages),
                    // A dump ends with DONE (an ACK may follow; it is not waited for).
                    Reply::Done if dump => return Ok(messages),
                    Reply::Done => {}
                }
            }
        }
    }

    /// Looks up a generic netlink family id by name (`CTRL_CMD_GETFAMILY`).
    pub fn resolve_family(&mut self, name: &str) -> Result<u16, Error> {
        let mut attrs = AttrBuf::new();
        attrs.put_str(CTRL_ATTR_FAMILY_NAME, name);
        match self.request(GENL_ID_CTRL, 0, CTRL_CMD_GETFAMILY, 1, &attrs) {
            Ok(messages) => {
                let (_, bytes) = messages
                    .first()
                    .ok_or(Error::Protocol("empty family reply"))?;
                Attrs::parse(bytes)?
                    .require(CTRL_ATTR_FAMILY_ID, "family id missing")?
                    .u16()
            }
            Err(Error::Kernel(libc::ENOENT)) => Err(Error::NoFamily(name.to_string())),
            Err(err) => Err(err),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attributes_are_padded_and_round_trip() {
        let mut inner = AttrBuf::new();
        inner.put_u16(1, 2).put_str(6, "rr").put_be16(4, 80);
        let mut outer = AttrBuf::new();
        outer.put_nested(1, &inner).put_u32(4, 900);
        // u16: 4+2 -> 8; "rr\0": 4+3 -> 8; be16: 8 => 24 bytes nested, +4 header; u32: 8.
        assert_eq!(inner.bytes().len(), 24);
        assert_eq!(outer.bytes().len(), 36);
        let attrs = Attrs::parse(outer.bytes()).unwrap();
        let nested = attrs.get(1).unwrap().nested().unwrap();
        assert_eq!(nested.get(1).unwrap().u16().unwrap(), 2);
        assert_eq!(nested.get(6).unwrap().string().unwrap(), "rr");
        assert_eq!(nested.get(4).unwrap().be16().unwrap(), 80);
        assert_eq!(nested.get(4).unwrap().payload, &[0, 80]);
        assert_eq!(attrs.get(4).unwrap().u32().unwrap(), 900);
        assert!(attrs.get(5).is_none());
    }

    #[test]
    fn nested_flag_is_masked_on_parse() {
        let mut outer = AttrBuf::new();
        outer.put_nested(3, &AttrBuf::new());
        assert_eq!(&outer.bytes()[..4], &[4, 0, 3, 0x80]);
        assert_eq!(Attrs::parse(outer.bytes()).unwrap().get(3).unwrap().kind, 3);
    }

    #[test]
    fn truncated_attributes_are_rejected() {
        assert!(Attrs::parse(&[8, 0, 1, 0, 0, 0]).is_err());
        assert!(Attrs::parse(&[2, 0, 1, 0]).is_err());
        assert!(Attrs::parse(&[]).unwrap().get(1).is_none());
        assert!(Attr {
            kind: 1,
            payload: &[1, 2, 3]
        }
        .u32()
        .is_err());
    }

    #[test]
    fn request_header_layout() {
        let msg = encode_request(0x1a, NLM_F_DUMP, 7, 4, 1, &[]);
        assert_eq!(msg.len(), 20);
        assert_eq!(u32::from_ne_bytes(msg[0..4].try_into().unwrap()), 20);
        assert_eq!(u16::from_ne_bytes([msg[4], msg[5]]), 0x1a);
        assert_eq!(u16::from_ne_bytes([msg[6], msg[7]]), 0x301);
        assert_eq!(u32::from_ne_bytes(msg[8..12].try_into().unwrap()), 7);
        assert_eq!(&msg[16..20], &[4, 1, 0, 0]);
    }

    #[test]
    fn replies_decode_errors_acks_and_dumps() {
        let mut buf = encode_request(0x1a, NLM_F_MULTI, 9, 1, 1, &[8, 0, 1, 0, 1, 2, 3, 4]);
        // error -EPERM for seq 9
        let mut err = vec![0u8; 20];
        err[0..4].copy_from_slice(&20u32.to_ne_bytes());
        err[4..6].copy_from_slice(&NLMSG_ERROR.to_ne_bytes());
        err[8..12].copy_from_slice(&9u32.to_ne_bytes());
        err[16..20].copy_from_slice(&(-1i32).to_ne_bytes());
        buf.extend_from_slice(&err);
        // a message for another sequence number is skipped
        buf.extend_from_slice(&encode_request(0x1a, 0, 8, 1, 1, &[]));
        let replies = decode_replies(&buf, 9).unwrap();
        assert_eq!(
            replies,
            vec![
                Reply::Message {
                    cmd: 1,
                    attrs: vec![8, 0, 1, 0, 1, 2, 3, 4]
                },
                Reply::Error(1)
            ]
        );
        err[16..20].copy_from_slice(&0i32.to_ne_bytes());
        assert_eq!(decode_replies(&err, 9).unwrap(), vec![Reply::Ack]);
        assert!(decode_replies(&buf[..24], 9).is_err());
        // a dump's DONE with the error of a failed dump, and a plain one
        let mut done = err.clone();
        done[4..6].copy_from_slice(&NLMSG_DONE.to_ne_bytes());
        done[16..20].copy_from_slice(&(-22i32).to_ne_bytes());
        assert_eq!(decode_replies(&done, 9).unwrap(), vec![Reply::Error(22)]);
        done[16..20].copy_from_slice(&0i32.to_ne_bytes());
        assert_eq!(decode_replies(&done, 9).unwrap(), vec![Reply::Done]);
    }
}
