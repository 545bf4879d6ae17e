// SPDX-License-Identifier: GPL-2.0

//! The wire format of IPVS connection synchronisation (`net/netfilter/ipvs/ip_vs_sync.c`): the
//! UDP datagrams a master director multicasts to tell backup directors about its connections, so
//! that a backup taking over keeps them going to the same real servers.
//!
//! A datagram is one message: a header, then `nr_conns` entries. Two versions exist:
//!
//! - Version 1 (`sync_version=1`, the default): an 8-byte header (`struct ip_vs_sync_mesg`,
//!   whose first byte is 0 so that version 0 receivers see no entries), then entries of type
//!   `struct ip_vs_sync_v4` or `struct ip_vs_sync_v6` followed by optional parameters
//!   (type, length, data): sequence adjustments, persistence engine data and name. Each entry
//!   starts on a 4-byte boundary; the padding is not counted in the entry's size, and the last
//!   entry is not padded.
//! - Version 0: a 4-byte header (`struct ip_vs_sync_mesg_v0`), then IPv4 entries of 24 bytes
//!   (`struct ip_vs_sync_conn_v0`), 48 with the sequence adjustments, which the C copies in the
//!   sender's *host* byte order (`memcpy` of `cp->sync_conn_opt`). Neither timeout nor fwmark.
//!
//! [`MessageBuilder`] writes messages byte for byte as `ip_vs_sync_conn` and
//! `ip_vs_sync_conn_v0` do; [`decode`] reads one received datagram with the checks of
//! `ip_vs_process_message` and what it calls, reporting what the kernel would drop as a
//! [`DecodeError`]. Which connections to sync and when (`ip_vs_sync_conn_needed`, the
//! `IP_VS_CONN_F_ONE_PACKET` skip), and what a backup does with an entry (`ip_vs_proc_conn`), are
//! the caller's.
//!
//! Pure logic without kernel dependencies or allocation, tested on the host by `cargo test`.
//! Addresses and ports are kept as the bytes of the wire (network byte order), as in `packet.rs`.

#![deny(unsafe_code)]

use crate::abi::{conn_flag, IPPROTO_SCTP, IPPROTO_TCP, IPPROTO_UDP, PENAME_MAXLEN};

// Connection flags of include/uapi/linux/ip_vs.h that `crate::abi` does not define yet (they move
// there with the sync daemon, whose netlink and /proc output use them too).
/// `IP_VS_CONN_F_SYNC`: the connection was created from a sync message.
pub(crate) const CONN_F_SYNC: u32 = 0x0020;
/// `IP_VS_CONN_F_HASHED`: in the connection table; local state, never sent.
pub(crate) const CONN_F_HASHED: u32 = 0x0040;
/// `IP_VS_CONN_F_NOOUTPUT`.
pub(crate) const CONN_F_NOOUTPUT: u32 = 0x0080;
/// `IP_VS_CONN_F_INACTIVE`.
pub(crate) const CONN_F_INACTIVE: u32 = 0x0100;
/// `IP_VS_CONN_F_OUT_SEQ`: output sequence numbers are adjusted.
pub(crate) const CONN_F_OUT_SEQ: u32 = 0x0200;
/// `IP_VS_CONN_F_IN_SEQ`: input sequence numbers are adjusted.
pub(crate) const CONN_F_IN_SEQ: u32 = 0x0400;
/// `IP_VS_CONN_F_SEQ_MASK`: either; an entry then carries the sequence adjustments.
pub(crate) const CONN_F_SEQ_MASK: u32 = CONN_F_OUT_SEQ | CONN_F_IN_SEQ;
/// `IP_VS_CONN_F_NO_CPORT`.
pub(crate) const CONN_F_NO_CPORT: u32 = 0x0800;
/// `IP_VS_CONN_F_TEMPLATE`: a persistence template, not a connection.
pub(crate) const CONN_F_TEMPLATE: u32 = 0x1000;
/// `IP_VS_CONN_F_ONE_PACKET`.
pub(crate) const CONN_F_ONE_PACKET: u32 = 0x2000;
/// `IP_VS_CONN_F_BACKUP_MASK`: the flags a backup takes from an entry.
pub(crate) const CONN_F_BACKUP_MASK: u32 = conn_flag::FWD_MASK
    | CONN_F_NOOUTPUT
    | CONN_F_INACTIVE
    | CONN_F_SEQ_MASK
    | CONN_F_NO_CPORT
    | CONN_F_TEMPLATE;
/// `IP_VS_CONN_F_BACKUP_UPD_MASK`: the flags an entry changes on a connection the backup has.
pub(crate) const CONN_F_BACKUP_UPD_MASK: u32 = CONN_F_INACTIVE | CONN_F_SEQ_MASK;

/// `IP_VS_PEDATA_MAXLEN` (include/uapi/linux/ip_vs.h): the longest persistence engine data.
pub(crate) const PEDATA_MAXLEN: usize = 255;

/// `IPPROTO_ESP` and `IPPROTO_AH` (include/uapi/linux/in.h), which IPVS also syncs.
const IPPROTO_ESP: u8 = 50;
const IPPROTO_AH: u8 = 51;

/// The number of states of each protocol IPVS knows (`pp->num_states`): `IP_VS_TCP_S_LAST`,
/// `IP_VS_UDP_S_LAST`, `IP_VS_SCTP_S_LAST` (include/net/ip_vs.h), 1 for AH and ESP
/// (`ip_vs_proto_ah_esp.c`).
const IP_VS_TCP_S_LAST: u16 = 11;
const IP_VS_UDP_S_LAST: u16 = 1;
const IP_VS_SCTP_S_LAST: u16 = 14;
const IP_VS_AH_ESP_STATES: u16 = 1;
/// `IP_VS_CTPL_S_LAST` (include/net/ip_vs.h): templates are `NONE` (0) or `ASSURED` (1).
const IP_VS_CTPL_S_LAST: u16 = 2;

/// `SYNC_PROTO_VER`: the `version` byte of a version 1 header.
const SYNC_PROTO_VER: u8 = 1;
/// `sizeof(struct ip_vs_sync_mesg_v0)`: `nr_conns`, `syncid`, `size`.
pub(crate) const MESG_V0_LEN: usize = 4;
/// `sizeof(struct ip_vs_sync_mesg)`: `reserved` (0), `syncid`, `size`, `nr_conns`, `version`,
/// `spare`.
pub(crate) const MESG_V1_LEN: usize = 8;
/// `SIMPLE_CONN_SIZE`: `sizeof(struct ip_vs_sync_conn_v0)`.
const CONN_V0_LEN: usize = 24;
/// `sizeof(struct ip_vs_sync_conn_options)`: two `struct ip_vs_seq` of three `__u32`.
const CONN_OPTIONS_LEN: usize = 24;
/// `FULL_CONN_SIZE`: a version 0 entry with its sequence adjustments.
const CONN_V0_FULL_LEN: usize = CONN_V0_LEN + CONN_OPTIONS_LEN;
/// `sizeof(struct ip_vs_sync_v4)` and `sizeof(struct ip_vs_sync_v6)`.
const SYNC_V4_LEN: usize = 36;
const SYNC_V6_LEN: usize = 72;
/// Offset of the addresses in both.
const SYNC_ADDRS: usize = 24;
/// `STYPE_F_INET6`: the bit of an entry's `type` that makes it an IPv6 one.
const STYPE_F_INET6: u8 = 1;
/// `SVER_SHIFT`, `SVER_MASK`: `ver_size` holds the entry's version in its top 4 bits (0, the only
/// one) and its size in bytes, options included, padding not, in the other 12.
const SVER_SHIFT: u32 = 12;
const SVER_MASK: u16 = 0x0fff;
/// Option (parameter) types.
const IPVS_OPT_SEQ_DATA: u8 = 1;
const IPVS_OPT_PE_DATA: u8 = 2;
const IPVS_OPT_PE_NAME: u8 = 3;
/// `IPVS_OPT_F_PARAM`: set in the type of an option a receiver that does not know it may
/// ignore; a receiver drops an entry with an unknown option without it.
const IPVS_OPT_F_PARAM: u8 = 1 << 6;

/// A message version (`net.ipv4.vs.sync_version`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Version {
    /// The original format: IPv4 only, 16-bit flags, no timeout, fwmark nor persistence data.
    V0,
    /// `SYNC_PROTO_VER`, the default.
    V1,
}

impl Version {
    /// The length of the message header.
    pub(crate) const fn header_len(self) -> usize {
        match self {
            Version::V0 => MESG_V0_LEN,
            Version::V1 => MESG_V1_LEN,
        }
    }
}

/// The addresses of a connection: client, virtual and destination (real server).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Addrs {
    /// An `AF_INET` connection (`struct ip_vs_sync_v4`, type 0).
    V4 {
        caddr: [u8; 4],
        vaddr: [u8; 4],
        daddr: [u8; 4],
    },
    /// An `AF_INET6` connection (`struct ip_vs_sync_v6`, type `STYPE_F_INET6`).
    V6 {
        caddr: [u8; 16],
        vaddr: [u8; 16],
        daddr: [u8; 16],
    },
}

/// One direction's sequence number adjustment (`struct ip_vs_seq`), kept by IPVS for
/// application helpers that change a payload's length (FTP in NAT mode).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Seq {
    /// Sequence number from which `delta` applies.
    pub(crate) init_seq: u32,
    pub(crate) delta: u32,
    /// The delta before the last resized packet, for retransmissions of earlier ones.
    pub(crate) previous_delta: u32,
}

/// The sequence adjustments of a connection (`struct ip_vs_sync_conn_options`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct SeqOptions {
    pub(crate) in_seq: Seq,
    pub(crate) out_seq: Seq,
}

impl SeqOptions {
    /// Reads the six `__u32` of `struct ip_vs_sync_conn_options` with `read` (big endian in
    /// version 1: `ntoh_seq`; host order in version 0).
    fn from_bytes(b: &[u8; CONN_OPTIONS_LEN], read: fn([u8; 4]) -> u32) -> Self {
        let word = |i: usize| read([b[4 * i], b[4 * i + 1], b[4 * i + 2], b[4 * i + 3]]);
        Self {
            in_seq: Seq {
                init_seq: word(0),
                delta: word(1),
                previous_delta: word(2),
            },
            out_seq: Seq {
                init_seq: word(3),
                delta: word(4),
                previous_delta: word(5),
            },
        }
    }

    /// Writes them with `write` (`hton_seq` in version 1).
    fn to_bytes(self, write: fn(u32) -> [u8; 4]) -> [u8; CONN_OPTIONS_LEN] {
        let words = [
            self.in_seq.init_seq,
            self.in_seq.delta,
            self.in_seq.previous_delta,
            self.out_seq.init_seq,
            self.out_seq.delta,
            self.out_seq.previous_delta,
        ];
        let mut b = [0; CONN_OPTIONS_LEN];
        for (chunk, word) in b.chunks_exact_mut(4).zip(words) {
            chunk.copy_from_slice(&write(word));
        }
        b
    }
}

/// A persistence engine's data for a template (the SIP Call-ID for `ip_vs_pe_sip`) and the
/// engine's name, which the backup looks up (`ip_vs_conn_fill_param_sync`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct PeParams<'a> {
    /// 1 to `IP_VS_PEDATA_MAXLEN` bytes.
    pub(crate) data: &'a [u8],
    /// 1 to `IP_VS_PENAME_MAXLEN` bytes, without NUL.
    pub(crate) name: &'a [u8],
}

/// A connection or template as one sync entry carries it. Decoded entries borrow their
/// persistence data from the datagram.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct SyncConn<'a> {
    /// IP protocol (`IPPROTO_*`).
    pub(crate) protocol: u8,
    pub(crate) addrs: Addrs,
    pub(crate) cport: [u8; 2],
    pub(crate) vport: [u8; 2],
    pub(crate) dport: [u8; 2],
    /// `IP_VS_CONN_F_*` as the master has them; `IP_VS_CONN_F_HASHED` is never sent, and version
    /// 0 sends the low 16 bits only. A backup keeps [`backup_flags`] of them.
    pub(crate) flags: u32,
    /// The protocol's state number (`IP_VS_TCP_S_*`, ...), or `IP_VS_CTPL_S_*` for a template.
    pub(crate) state: u16,
    /// Version 1 only; 0 from version 0.
    pub(crate) fwmark: u32,
    /// The connection's timeout in seconds (`cp->timeout / HZ`); version 1 only, 0 from version
    /// 0, where the backup uses its own timeout of the state (`ip_vs_proc_conn`).
    pub(crate) timeout: u32,
    /// Present exactly when `flags` has `IP_VS_CONN_F_SEQ_MASK` bits, for the encoder; a
    /// version 1 entry may carry them regardless, and the decoder reports what it carries.
    pub(crate) seq: Option<SeqOptions>,
    /// Version 1 only.
    pub(crate) pe: Option<PeParams<'a>>,
}

/// Why [`MessageBuilder`] does not add a connection.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum EncodeError {
    /// The message has no room left for it, or already holds 255 entries (`nr_conns` is a byte):
    /// send the message and add it to a new one.
    Full,
    /// It would not fit even in an empty message of this maximum length. (The C makes such a
    /// message longer than `sync_maxlen`, `ip_vs_sync_buff_create`; a caller that wants this
    /// gives a longer buffer, see [`SyncConn::wire_len`].)
    TooLarge,
    /// The buffer or maximum length is shorter than a message header.
    NoRoomForHeader,
    /// Version 0 carries IPv4 connections only (`ip_vs_sync_conn_v0` skips the others).
    Ipv6InV0,
    /// `seq` is present while `flags` has no `IP_VS_CONN_F_SEQ_MASK` bit, or the reverse: the C
    /// sends the adjustments exactly when a bit is set.
    SeqMismatch,
    /// Persistence data empty or longer than `IP_VS_PEDATA_MAXLEN`.
    PeDataLength,
    /// Persistence engine name empty or longer than `IP_VS_PENAME_MAXLEN`.
    PeNameLength,
}

impl SyncConn<'_> {
    /// Checks that the sequence adjustments are present exactly when the flags call for them.
    fn check_seq(&self) -> Result<(), EncodeError> {
        if (self.flags & CONN_F_SEQ_MASK != 0) == self.seq.is_some() {
            Ok(())
        } else {
            Err(EncodeError::SeqMismatch)
        }
    }

    /// The length of the entry in a `version` message, padding not included: what
    /// `ip_vs_sync_conn` puts in `ver_size`, or `SIMPLE_CONN_SIZE` / `FULL_CONN_SIZE` for version
    /// 0; or why it cannot be sent in that version.
    pub(crate) fn wire_len(&self, version: Version) -> Result<usize, EncodeError> {
        self.check_seq()?;
        let seq = self.seq.is_some();
        match version {
            Version::V0 => match self.addrs {
                Addrs::V4 { .. } if seq => Ok(CONN_V0_FULL_LEN),
                Addrs::V4 { .. } => Ok(CONN_V0_LEN),
                Addrs::V6 { .. } => Err(EncodeError::Ipv6InV0),
            },
            Version::V1 => {
                let mut len = match self.addrs {
                    Addrs::V4 { .. } => SYNC_V4_LEN,
                    Addrs::V6 { .. } => SYNC_V6_LEN,
                };
                if seq {
                    len += 2 + CONN_OPTIONS_LEN;
                }
                if let Some(pe) = self.pe {
                    if pe.data.is_empty() || pe.data.len() > PEDATA_MAXLEN {
                        return Err(EncodeError::PeDataLength);
                    }
                    if pe.name.is_empty() || pe.name.len() > PENAME_MAXLEN {
                        return Err(EncodeError::PeNameLength);
                    }
                    len += 2 + pe.data.len() + 2 + pe.name.len();
                }
                Ok(len)
            }
        }
    }

    /// The flags a backup gives the connection it makes of this entry: see [`backup_flags`].
    pub(crate) const fn backup_flags(&self) -> u32 {
        backup_flags(self.flags)
    }
}

/// The flags a backup gives a connection it creates from an entry with `wire_flags`
/// (`ip_vs_proc_sync_conn`, `ip_vs_process_message_v0`): those of `IP_VS_CONN_F_BACKUP_MASK`,
/// plus `IP_VS_CONN_F_SYNC`.
pub(crate) const fn backup_flags(wire_flags: u32) -> u32 {
    (wire_flags & CONN_F_BACKUP_MASK) | CONN_F_SYNC
}

/// The flags of a connection the backup already has (`current`) once an entry with
/// `wire_flags` updated it (`ip_vs_proc_conn`): those of `IP_VS_CONN_F_BACKUP_UPD_MASK` come
/// from the entry, the others stay.
pub(crate) const fn backup_update_flags(current: u32, wire_flags: u32) -> u32 {
    (backup_flags(wire_flags) & CONN_F_BACKUP_UPD_MASK) | (current & !CONN_F_BACKUP_UPD_MASK)
}

/// Writes bytes one field after the other into a slice whose length was computed beforehand.
struct Writer<'w> {
    out: &'w mut [u8],
    pos: usize,
}

impl Writer<'_> {
    fn put(&mut self, bytes: &[u8]) {
        let end = self.pos + bytes.len();
        self.out[self.pos..end].copy_from_slice(bytes);
        self.pos = end;
    }
}

/// Writes `conn` as `ip_vs_sync_conn` does into `out`, of its [`SyncConn::wire_len`].
fn write_v1(conn: &SyncConn<'_>, out: &mut [u8]) {
    let len = out.len();
    let mut w = Writer { out, pos: 0 };
    let stype = match conn.addrs {
        Addrs::V4 { .. } => 0,
        Addrs::V6 { .. } => STYPE_F_INET6,
    };
    w.put(&[stype, conn.protocol]);
    // Version 0 in the top 4 bits; `len` is at most 373 (IPv6, all options).
    w.put(&(len as u16 & SVER_MASK).to_be_bytes());
    w.put(&(conn.flags & !CONN_F_HASHED).to_be_bytes());
    w.put(&conn.state.to_be_bytes());
    w.put(&conn.cport);
    w.put(&conn.vport);
    w.put(&conn.dport);
    w.put(&conn.fwmark.to_be_bytes());
    w.put(&conn.timeout.to_be_bytes());
    match &conn.addrs {
        Addrs::V4 {
            caddr,
            vaddr,
            daddr,
        } => {
            w.put(caddr);
            w.put(vaddr);
            w.put(daddr);
        }
        Addrs::V6 {
            caddr,
            vaddr,
            daddr,
        } => {
            w.put(caddr);
            w.put(vaddr);
            w.put(daddr);
        }
    }
    if let Some(seq) = conn.seq {
        w.put(&[IPVS_OPT_SEQ_DATA, CONN_OPTIONS_LEN as u8]);
        w.put(&seq.to_bytes(u32::to_be_bytes));
    }
    // The name follows the data; the lengths were checked by `wire_len` (at most 255 and 16).
    if let Some(pe) = conn.pe {
        w.put(&[IPVS_OPT_PE_DATA, pe.data.len() as u8]);
        w.put(pe.data);
        w.put(&[IPVS_OPT_PE_NAME, pe.name.len() as u8]);
        w.put(pe.name);
    }
    debug_assert_eq!(w.pos, len);
}

/// Writes `conn` as `ip_vs_sync_conn_v0` does into `out`, of its [`SyncConn::wire_len`]:
/// 16 bits of flags, the sequence adjustments in host byte order.
fn write_v0(conn: &SyncConn<'_>, out: &mut [u8]) {
    let len = out.len();
    let mut w = Writer { out, pos: 0 };
    w.put(&[0, conn.protocol]);
    w.put(&conn.cport);
    w.put(&conn.vport);
    w.put(&conn.dport);
    if let Addrs::V4 {
        caddr,
        vaddr,
        daddr,
    } = &conn.addrs
    {
        w.put(caddr);
        w.put(vaddr);
        w.put(daddr);
    }
    // `htons(cp->flags & ~IP_VS_CONN_F_HASHED)`: the high 16 bits are lost.
    w.put(&((conn.flags & !CONN_F_HASHED) as u16).to_be_bytes());
    w.put(&conn.state.to_be_bytes());
    if let Some(seq) = conn.seq {
        w.put(&seq.to_bytes(u32::to_ne_bytes));
    }
    debug_assert_eq!(w.pos, len);
}

/// Builds one message in a caller's buffer, as the master's sync buffer is filled
/// (`ip_vs_sync_buff_create`, `ip_vs_sync_conn`, their `_v0` versions): the header is written
/// at once and kept up to date, so that [`MessageBuilder::finish`] gives a message to send at any
/// point.
pub(crate) struct MessageBuilder<'b> {
    /// The caller's buffer, cut to the maximum message length.
    buf: &'b mut [u8],
    version: Version,
    /// The message's length so far: the header and the entries, without padding after the last.
    len: usize,
    nr_conns: u8,
}

impl<'b> MessageBuilder<'b> {
    /// Starts a `version` message from `syncid` in `buf`, at most `maxlen` bytes long (the
    /// master's `sync_maxlen`; at most 65535, as its `size` field).
    pub(crate) fn new(
        version: Version,
        buf: &'b mut [u8],
        maxlen: usize,
        syncid: u8,
    ) -> Result<Self, EncodeError> {
        let limit = maxlen.min(buf.len()).min(usize::from(u16::MAX));
        let buf = &mut buf[..limit];
        let header = version.header_len();
        if limit < header {
            return Err(EncodeError::NoRoomForHeader);
        }
        match version {
            // nr_conns, syncid; size follows.
            Version::V0 => buf[..2].copy_from_slice(&[0, syncid]),
            // reserved ("old nr_conns i.e. must be zero now"), syncid, size, nr_conns,
            // version, spare.
            Version::V1 => {
                buf[..MESG_V1_LEN].copy_from_slice(&[0, syncid, 0, 0, 0, SYNC_PROTO_VER, 0, 0])
            }
        }
        let mut builder = Self {
            buf,
            version,
            len: header,
            nr_conns: 0,
        };
        builder.update_header();
        Ok(builder)
    }

    /// Continues a `version` message at most `maxlen` bytes long that an earlier builder
    /// started in `buf` and left `len` bytes long with `nr_conns` entries (what
    /// [`MessageBuilder::len`] and [`MessageBuilder::nr_conns`] said), so that a master can
    /// keep its current message between packets.
    pub(crate) fn resume(
        version: Version,
        buf: &'b mut [u8],
        maxlen: usize,
        len: usize,
        nr_conns: u8,
    ) -> Result<Self, EncodeError> {
        let limit = maxlen.min(buf.len()).min(usize::from(u16::MAX));
        if limit < version.header_len() || !(version.header_len()..=limit).contains(&len) {
            return Err(EncodeError::NoRoomForHeader);
        }
        Ok(Self {
            buf: &mut buf[..limit],
            version,
            len,
            nr_conns,
        })
    }

    /// Writes `size` and `nr_conns` into the header.
    fn update_header(&mut self) {
        // `len` is at most the buffer's, at most 65535.
        self.buf[2..4].copy_from_slice(&(self.len as u16).to_be_bytes());
        let nr_conns_at = match self.version {
            Version::V0 => 0,
            Version::V1 => 4,
        };
        self.buf[nr_conns_at] = self.nr_conns;
    }

    /// Appends `conn`, after padding the previous entry to 4 bytes in version 1. On
    /// [`EncodeError::Full`], send [`MessageBuilder::finish`] and add `conn` to a new message;
    /// the message is unchanged by any error.
    pub(crate) fn push(&mut self, conn: &SyncConn<'_>) -> Result<(), EncodeError> {
        let len = conn.wire_len(self.version)?;
        if self.version.header_len() + len > self.buf.len() {
            return Err(EncodeError::TooLarge);
        }
        // ip_vs_sync_conn: `pad = (4 - (size_t) buff->head) & 3`, the message being allocated
        // aligned. Version 0 entries are 24 or 48 bytes: always aligned.
        let pad = match self.version {
            Version::V0 => 0,
            Version::V1 => self.len.wrapping_neg() & 3,
        };
        let start = self.len + pad;
        let end = start + len;
        if self.nr_conns == u8::MAX || end > self.buf.len() {
            return Err(EncodeError::Full);
        }
        self.buf[self.len..start].fill(0);
        let out = &mut self.buf[start..end];
        match self.version {
            Version::V0 => write_v0(conn, out),
            Version::V1 => write_v1(conn, out),
        }
        self.len = end;
        self.nr_conns += 1;
        self.update_header();
        Ok(())
    }

    /// The number of entries so far.
    pub(crate) fn nr_conns(&self) -> u8 {
        self.nr_conns
    }

    /// Whether the message has no entry (there is then nothing worth sending).
    pub(crate) fn is_empty(&self) -> bool {
        self.nr_conns == 0
    }

    /// The message's length so far.
    pub(crate) fn len(&self) -> usize {
        self.len
    }

    /// The message, to send as one datagram.
    pub(crate) fn finish(self) -> &'b [u8] {
        let Self { buf, len, .. } = self;
        &buf[..len]
    }
}

/// What is wrong with a received datagram or one of its entries, after the checks of
/// `ip_vs_process_message` and what it calls, in their order. [`DecodeError::drops_rest`] says
/// whether the kernel gives up on the rest of the datagram or skips the entry only.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum DecodeError {
    // The datagram is ignored (ip_vs_process_message).
    /// Shorter than a version 0 header ("message header too short").
    HeaderTooShort,
    /// The header's `size` is not the datagram's length ("bogus message size").
    SizeMismatch,
    /// The backup has a sync ID other than 0 and the message another one ("Ignoring syncid").
    SyncIdMismatch,

    // The rest of the datagram is dropped; the entries before were taken.
    /// Version 0: fewer than 24 bytes left for an entry ("BACKUP v0, bogus conn").
    V0EntryTruncated,
    /// Version 0: fewer than 48 bytes left for an entry with sequence adjustments ("Dropping
    /// buffer bogus conn options").
    V0OptionsTruncated,
    /// Fewer than `sizeof(struct ip_vs_sync_v4)` bytes left for an entry ("too small").
    EntryTruncated,
    /// The entry's size reaches past the datagram ("msg > buffer").
    EntryPastEnd,
    /// The version in `ver_size` is not 0 ("Unknown version").
    EntryVersion,
    /// The entry's type is neither 0 nor has `STYPE_F_INET6` (`ip_vs_proc_sync_conn` -10).
    EntryType,
    /// The entry's size is smaller than its type's fixed part (-20).
    EntryTooShort,
    /// One byte left in the entry, not an option header (-30).
    OptionTruncated,
    /// An option of length 0 or reaching past the entry (-40).
    OptionLength,
    /// A sequence option not of `sizeof(struct ip_vs_sync_conn_options)` (-50,
    /// `ip_vs_proc_seqopt`).
    SeqOptionLength,
    /// A second sequence option (-50).
    DuplicateSeqOption,
    /// A second persistence data option (-60, `ip_vs_proc_str`). (Its length cannot exceed
    /// `IP_VS_PEDATA_MAXLEN`, 255, in a byte.)
    DuplicatePeData,
    /// A persistence engine name longer than `IP_VS_PENAME_MAXLEN` (-70).
    PeNameTooLong,
    /// A second persistence engine name (-70).
    DuplicatePeName,

    // The entry is skipped (ip_vs_proc_sync_conn returns > 0, or v0 `continue`s).
    /// An option type neither known nor marked `IPVS_OPT_F_PARAM` (20, "Unknown mandatory
    /// param"); the options after it are not looked at.
    UnknownMandatoryOption,
    /// `IP_VS_CONN_F_ONE_PACKET`, or `IP_VS_CONN_F_NO_CPORT` on a template (25,
    /// `ip_vs_sync_validate_flags`).
    InvalidFlags,
    /// A connection of a protocol IPVS does not know (30).
    UnsupportedProtocol,
    /// A state number not below the protocol's number of states (40).
    InvalidState,
    /// A template state not below `IP_VS_CTPL_S_LAST` (40).
    InvalidTemplateState,
    /// Persistence data without an engine name (50, `ip_vs_conn_fill_param_sync`: "Invalid PE
    /// parameters").
    PeDataWithoutName,
}

impl DecodeError {
    /// Whether the kernel drops the rest of the datagram (the header errors and the malformed
    /// entries) rather than only skipping the entry.
    pub(crate) const fn drops_rest(self) -> bool {
        !matches!(
            self,
            DecodeError::UnknownMandatoryOption
                | DecodeError::InvalidFlags
                | DecodeError::UnsupportedProtocol
                | DecodeError::InvalidState
                | DecodeError::InvalidTemplateState
                | DecodeError::PeDataWithoutName
        )
    }
}

/// `N` bytes of `b` at `at`, if there are.
fn array<const N: usize>(b: &[u8], at: usize) -> Option<[u8; N]> {
    b.get(at..at.checked_add(N)?)?.try_into().ok()
}

/// The number of states of `protocol` if IPVS knows it (`ip_vs_proto_get`, `num_states`),
/// with all its protocols built in.
const fn num_states(protocol: u8) -> Option<u16> {
    const TCP: u8 = IPPROTO_TCP as u8;
    const UDP: u8 = IPPROTO_UDP as u8;
    const SCTP: u8 = IPPROTO_SCTP as u8;
    match protocol {
        TCP => Some(IP_VS_TCP_S_LAST),
        UDP => Some(IP_VS_UDP_S_LAST),
        SCTP => Some(IP_VS_SCTP_S_LAST),
        IPPROTO_AH | IPPROTO_ESP => Some(IP_VS_AH_ESP_STATES),
        _ => None,
    }
}

/// The checks of an entry's flags and state common to both versions (`ip_vs_sync_validate_flags`,
/// then the protocol and state checks of `ip_vs_proc_sync_conn` and
/// `ip_vs_process_message_v0`).
fn check_flags_state(protocol: u8, flags: u32, state: u16) -> Result<(), DecodeError> {
    if flags & CONN_F_ONE_PACKET != 0
        || flags & (CONN_F_NO_CPORT | CONN_F_TEMPLATE) == CONN_F_NO_CPORT | CONN_F_TEMPLATE
    {
        return Err(DecodeError::InvalidFlags);
    }
    if flags & CONN_F_TEMPLATE == 0 {
        let Some(states) = num_states(protocol) else {
            return Err(DecodeError::UnsupportedProtocol);
        };
        if state >= states {
            return Err(DecodeError::InvalidState);
        }
    } else if state >= IP_VS_CTPL_S_LAST {
        return Err(DecodeError::InvalidTemplateState);
    }
    Ok(())
}

/// Reads one received datagram as `ip_vs_process_message` does, for a backup of sync ID
/// `backup_syncid` (0: any). The header errors come back at once; the entries, each a
/// connection or a [`DecodeError`], from the iterator.
pub(crate) fn decode(datagram: &[u8], backup_syncid: u8) -> Result<Entries<'_>, DecodeError> {
    let Some(head) = array::<MESG_V0_LEN>(datagram, 0) else {
        return Err(DecodeError::HeaderTooShort);
    };
    // Both headers have syncid and size at the same place.
    let [first, syncid, size_hi, size_lo] = head;
    if usize::from(u16::from_be_bytes([size_hi, size_lo])) != datagram.len() {
        return Err(DecodeError::SizeMismatch);
    }
    if backup_syncid != 0 && syncid != backup_syncid {
        return Err(DecodeError::SyncIdMismatch);
    }
    // Version 1 if reserved, version and spare say so, else version 0. (The C reads version
    // and spare even from a datagram of 4 to 7 bytes, past its end, in its receive buffer:
    // such a datagram is read as version 0 here.)
    let (version, nr_conns) = match array::<MESG_V1_LEN>(datagram, 0) {
        Some([0, _, _, _, nr_conns, SYNC_PROTO_VER, 0, 0]) => (Version::V1, nr_conns),
        _ => (Version::V0, first),
    };
    Ok(Entries {
        buf: datagram,
        version,
        syncid,
        nr_conns,
        left: nr_conns,
        pos: version.header_len(),
    })
}

/// The entries of a received message, in order: at most `nr_conns` of them, fewer after an
/// error that [drops the rest](DecodeError::drops_rest). Bytes after the last entry are
/// ignored, as by the C.
#[derive(Clone, Debug)]
pub(crate) struct Entries<'a> {
    buf: &'a [u8],
    version: Version,
    syncid: u8,
    nr_conns: u8,
    /// Entries left to read.
    left: u8,
    /// Offset of the next entry.
    pos: usize,
}

impl<'a> Entries<'a> {
    /// The message's version.
    pub(crate) fn version(&self) -> Version {
        self.version
    }

    /// The sync ID the message was sent with.
    pub(crate) fn syncid(&self) -> u8 {
        self.syncid
    }

    /// The number of entries the header announces.
    pub(crate) fn nr_conns(&self) -> u8 {
        self.nr_conns
    }

    /// Reads a version 1 entry at `self.pos` (`ip_vs_process_message`'s loop, then
    /// `ip_vs_proc_sync_conn`), and moves `self.pos` to the next one.
    fn next_v1(&mut self) -> Result<SyncConn<'a>, DecodeError> {
        let start = self.pos;
        // The fixed part of an IPv4 entry must be there, whatever the entry's size says.
        let Some(fixed) = array::<SYNC_V4_LEN>(self.buf, start) else {
            return Err(DecodeError::EntryTruncated);
        };
        let ver_size = u16::from_be_bytes([fixed[2], fixed[3]]);
        let size = usize::from(ver_size & SVER_MASK);
        let Some(entry) = self.buf.get(start..start + size) else {
            return Err(DecodeError::EntryPastEnd);
        };
        if ver_size >> SVER_SHIFT != 0 {
            return Err(DecodeError::EntryVersion);
        }
        // The next entry starts on a 4-byte boundary (`(size + 3) & ~3`), maybe past the end:
        // reading it then fails.
        self.pos = start + ((size + 3) & !3);

        // ip_vs_proc_sync_conn. Any type with STYPE_F_INET6 is IPv6; 0 is IPv4.
        let stype = fixed[0];
        let (addrs, mut p) = if stype & STYPE_F_INET6 != 0 {
            let Some(a) = array::<{ SYNC_V6_LEN - SYNC_ADDRS }>(entry, SYNC_ADDRS) else {
                return Err(DecodeError::EntryTooShort);
            };
            let addr = |i: usize| {
                let mut x = [0; 16];
                x.copy_from_slice(&a[16 * i..16 * (i + 1)]);
                x
            };
            let addrs = Addrs::V6 {
                caddr: addr(0),
                vaddr: addr(1),
                daddr: addr(2),
            };
            (addrs, SYNC_V6_LEN)
        } else if stype == 0 {
            if size < SYNC_V4_LEN {
                return Err(DecodeError::EntryTooShort);
            }
            let addr = |at: usize| [fixed[at], fixed[at + 1], fixed[at + 2], fixed[at + 3]];
            let addrs = Addrs::V4 {
                caddr: addr(SYNC_ADDRS),
                vaddr: addr(SYNC_ADDRS + 4),
                daddr: addr(SYNC_ADDRS + 8),
            };
            (addrs, SYNC_V4_LEN)
        } else {
            return Err(DecodeError::EntryType);
        };

        // The options, in any order, each at most once.
        let mut seq = None;
        let mut pe_data = None;
        let mut pe_name = None;
        while p < size {
            let Some([ptype, plen]) = array::<2>(entry, p) else {
                return Err(DecodeError::OptionTruncated);
            };
            p += 2;
            let plen = usize::from(plen);
            let data = match entry.get(p..p + plen) {
                Some(data) if plen != 0 => data,
                _ => return Err(DecodeError::OptionLength),
            };
            // The C switches on the type without IPVS_OPT_F_PARAM: a known type with it set is
            // taken as the type.
            match ptype & !IPVS_OPT_F_PARAM {
                IPVS_OPT_SEQ_DATA => {
                    let Ok(bytes) = <&[u8; CONN_OPTIONS_LEN]>::try_from(data) else {
                        return Err(DecodeError::SeqOptionLength);
                    };
                    if seq.is_some() {
                        return Err(DecodeError::DuplicateSeqOption);
                    }
                    seq = Some(SeqOptions::from_bytes(bytes, u32::from_be_bytes));
                }
                IPVS_OPT_PE_DATA => {
                    // `plen > IP_VS_PEDATA_MAXLEN` cannot be: plen is a byte.
                    if pe_data.is_some() {
                        return Err(DecodeError::DuplicatePeData);
                    }
                    pe_data = Some(data);
                }
                IPVS_OPT_PE_NAME => {
                    if plen > PENAME_MAXLEN {
                        return Err(DecodeError::PeNameTooLong);
                    }
                    if pe_name.is_some() {
                        return Err(DecodeError::DuplicatePeName);
                    }
                    pe_name = Some(data);
                }
                _ if ptype & IPVS_OPT_F_PARAM == 0 => {
                    return Err(DecodeError::UnknownMandatoryOption)
                }
                _ => {}
            }
            p += plen;
        }

        let flags = u32::from_be_bytes([fixed[4], fixed[5], fixed[6], fixed[7]]);
        let state = u16::from_be_bytes([fixed[8], fixed[9]]);
        let protocol = fixed[1];
        check_flags_state(protocol, flags, state)?;
        // ip_vs_conn_fill_param_sync: data needs a name; a name without data is ignored.
        let pe = match (pe_data, pe_name) {
            (Some(data), Some(name)) => Some(PeParams { data, name }),
            (Some(_), None) => return Err(DecodeError::PeDataWithoutName),
            (None, _) => None,
        };
        Ok(SyncConn {
            protocol,
            addrs,
            cport: [fixed[10], fixed[11]],
            vport: [fixed[12], fixed[13]],
            dport: [fixed[14], fixed[15]],
            flags,
            state,
            fwmark: u32::from_be_bytes([fixed[16], fixed[17], fixed[18], fixed[19]]),
            timeout: u32::from_be_bytes([fixed[20], fixed[21], fixed[22], fixed[23]]),
            seq,
            pe,
        })
    }

    /// Reads a version 0 entry at `self.pos` (`ip_vs_process_message_v0`), and moves
    /// `self.pos` to the next one.
    fn next_v0(&mut self) -> Result<SyncConn<'a>, DecodeError> {
        let start = self.pos;
        let Some(e) = array::<CONN_V0_LEN>(self.buf, start) else {
            return Err(DecodeError::V0EntryTruncated);
        };
        let flags = u32::from(u16::from_be_bytes([e[20], e[21]]));
        let seq = if flags & CONN_F_SEQ_MASK != 0 {
            let Some(opt) = array::<CONN_OPTIONS_LEN>(self.buf, start + CONN_V0_LEN) else {
                return Err(DecodeError::V0OptionsTruncated);
            };
            self.pos = start + CONN_V0_FULL_LEN;
            Some(SeqOptions::from_bytes(&opt, u32::from_ne_bytes))
        } else {
            self.pos = start + CONN_V0_LEN;
            None
        };
        let state = u16::from_be_bytes([e[22], e[23]]);
        let protocol = e[1];
        check_flags_state(protocol, flags, state)?;
        let addr = |at: usize| [e[at], e[at + 1], e[at + 2], e[at + 3]];
        Ok(SyncConn {
            protocol,
            addrs: Addrs::V4 {
                caddr: addr(8),
                vaddr: addr(12),
                daddr: addr(16),
            },
            cport: [e[2], e[3]],
            vport: [e[4], e[5]],
            dport: [e[6], e[7]],
            flags,
            state,
            // "Send timeout as Zero"; no fwmark in version 0.
            fwmark: 0,
            timeout: 0,
            seq,
            pe: None,
        })
    }
}

impl<'a> Iterator for Entries<'a> {
    type Item = Result<SyncConn<'a>, DecodeError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        let entry = match self.version {
            Version::V0 => self.next_v0(),
            Version::V1 => self.next_v1(),
        };
        if let Err(e) = entry {
            if e.drops_rest() {
                self.left = 0;
            }
        }
        Some(entry)
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (0, Some(usize::from(self.left)))
    }
}

impl core::iter::FusedIterator for Entries<'_> {}

#[cfg(test)]
mod tests {
    use super::*;

    const CLIENT: [u8; 4] = [10, 0, 1, 2];
    const VIP: [u8; 4] = [10, 0, 1, 100];
    const RS: [u8; 4] = [10, 0, 2, 11];
    const TCP: u8 = IPPROTO_TCP as u8;
    const UDP: u8 = IPPROTO_UDP as u8;
    const SCTP: u8 = IPPROTO_SCTP as u8;

    /// An established IPv4 TCP connection, direct routing.
    fn tcp4() -> SyncConn<'static> {
        SyncConn {
            protocol: TCP,
            addrs: Addrs::V4 {
                caddr: CLIENT,
                vaddr: VIP,
                daddr: RS,
            },
            cport: 50000u16.to_be_bytes(),
            vport: 80u16.to_be_bytes(),
            dport: 8080u16.to_be_bytes(),
            flags: conn_flag::DROUTE | CONN_F_NOOUTPUT,
            state: 1,
            fwmark: 0,
            timeout: 900,
            seq: None,
            pe: None,
        }
    }

    /// A NAT TCP connection whose sequence numbers are adjusted both ways.
    fn tcp4_seq() -> SyncConn<'static> {
        SyncConn {
            flags: conn_flag::MASQ | CONN_F_SEQ_MASK,
            seq: Some(SeqOptions {
                in_seq: Seq {
                    init_seq: 0x0102_0304,
                    delta: 0x10,
                    previous_delta: 0x8,
                },
                out_seq: Seq {
                    init_seq: 0xa0b0_c0d0,
                    delta: 0xffff_fff0,
                    previous_delta: 0,
                },
            }),
            ..tcp4()
        }
    }

    /// Decodes `datagram` and expects every entry to be valid.
    fn decode_ok(datagram: &[u8], syncid: u8) -> Vec<SyncConn<'_>> {
        decode(datagram, syncid)
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap()
    }

    /// Builds a message of `conns`, which must fit.
    fn encode(version: Version, syncid: u8, conns: &[SyncConn<'_>]) -> Vec<u8> {
        let mut buf = [0xaa; 2048];
        let mut b = MessageBuilder::new(version, &mut buf, 1472, syncid).unwrap();
        for c in conns {
            b.push(c).unwrap();
        }
        b.finish().to_vec()
    }

    #[test]
    fn a_resumed_message_is_the_message_built_at_once() {
        let conns = [tcp4(), tcp4_seq(), tcp4()];
        for version in [Version::V0, Version::V1] {
            let mut buf = vec![0u8; 1500];
            let (len, nr) = {
                let mut b = MessageBuilder::new(version, &mut buf, 1472, 9).unwrap();
                b.push(&conns[0]).unwrap();
                (b.len(), b.nr_conns())
            };
            let mut b = MessageBuilder::resume(version, &mut buf, 1472, len, nr).unwrap();
            for conn in &conns[1..] {
                b.push(conn).unwrap();
            }
            let resumed = b.finish().to_vec();
            assert_eq!(resumed, encode(version, 9, &conns));
        }
        let mut buf = vec![0u8; 100];
        for bad_len in [0, 3, 101] {
            assert!(MessageBuilder::resume(Version::V1, &mut buf, 100, bad_len, 0).is_err());
        }
    }

    /// Checks a vector both ways.
    fn check_vector(version: Version, syncid: u8, conns: &[SyncConn<'_>], bytes: &[u8]) {
        assert_eq!(encode(version, syncid, conns), bytes);
        let entries = decode(bytes, syncid).unwrap();
        assert_eq!(entries.version(), version);
        assert_eq!(entries.syncid(), syncid);
        assert_eq!(usize::from(entries.nr_conns()), conns.len());
        assert_eq!(decode_ok(bytes, syncid), conns);
    }

    #[test]
    fn v1_ipv4_tcp() {
        #[rustfmt::skip]
        let bytes = [
            // struct ip_vs_sync_mesg
            0,                  // reserved
            7,                  // syncid
            0, 44,              // size: 8 + 36
            1,                  // nr_conns
            1,                  // version: SYNC_PROTO_VER
            0, 0,               // spare
            // struct ip_vs_sync_v4
            0,                  // type: IPv4
            6,                  // protocol: TCP
            0x00, 36,           // ver_size: version 0, size 36
            0, 0, 0, 0x83,      // flags: DROUTE | NOOUTPUT
            0, 1,               // state: IP_VS_TCP_S_ESTABLISHED
            0xc3, 0x50,         // cport 50000
            0, 80,              // vport 80
            0x1f, 0x90,         // dport 8080
            0, 0, 0, 0,         // fwmark
            0, 0, 0x03, 0x84,   // timeout: 900 s
            10, 0, 1, 2,        // caddr
            10, 0, 1, 100,      // vaddr
            10, 0, 2, 11,       // daddr
        ];
        check_vector(Version::V1, 7, &[tcp4()], &bytes);
    }

    #[test]
    fn v1_ipv6_udp() {
        let v6 = |last: u8, net: u8| {
            let mut a = [0; 16];
            a[..4].copy_from_slice(&[0x20, 0x01, 0x0d, 0xb8]);
            a[5] = net;
            a[15] = last;
            a
        };
        let conn = SyncConn {
            protocol: UDP,
            addrs: Addrs::V6 {
                caddr: v6(1, 0),
                vaddr: v6(0x64, 0),
                daddr: v6(0x11, 2),
            },
            cport: 0x1234u16.to_be_bytes(),
            vport: 53u16.to_be_bytes(),
            dport: 53u16.to_be_bytes(),
            flags: conn_flag::MASQ | CONN_F_INACTIVE,
            state: 0,
            fwmark: 0,
            timeout: 300,
            seq: None,
            pe: None,
        };
        #[rustfmt::skip]
        let bytes = [
            // struct ip_vs_sync_mesg
            0, 1,               // reserved, syncid
            0, 80,              // size: 8 + 72
            1, 1, 0, 0,         // nr_conns, version, spare
            // struct ip_vs_sync_v6
            1,                  // type: STYPE_F_INET6
            17,                 // protocol: UDP
            0x00, 72,           // ver_size: version 0, size 72
            0, 0, 0x01, 0x00,   // flags: MASQ | INACTIVE
            0, 0,               // state: IP_VS_UDP_S_NORMAL
            0x12, 0x34,         // cport
            0, 53,              // vport
            0, 53,              // dport
            0, 0, 0, 0,         // fwmark
            0, 0, 0x01, 0x2c,   // timeout: 300 s
            // caddr 2001:db8::1
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x01,
            // vaddr 2001:db8::64
            0x20, 0x01, 0x0d, 0xb8, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x64,
            // daddr 2001:db8:2::11
            0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x11,
        ];
        check_vector(Version::V1, 1, &[conn], &bytes);
    }

    /// A SIP persistence template with a fwmark, then a connection it controls: the template's
    /// 49 bytes are padded to 52.
    #[test]
    fn v1_template_with_pe_then_conn() {
        let template = SyncConn {
            protocol: UDP,
            cport: [0, 0],
            vport: 5060u16.to_be_bytes(),
            dport: 5060u16.to_be_bytes(),
            flags: CONN_F_TEMPLATE | conn_flag::DROUTE,
            state: 1,
            fwmark: 42,
            timeout: 360,
            pe: Some(PeParams {
                data: b"abc123",
                name: b"sip",
            }),
            ..tcp4()
        };
        let conn = SyncConn {
            protocol: UDP,
            cport: 5060u16.to_be_bytes(),
            vport: 5060u16.to_be_bytes(),
            dport: 5060u16.to_be_bytes(),
            flags: conn_flag::DROUTE,
            state: 0,
            fwmark: 42,
            timeout: 300,
            ..tcp4()
        };
        #[rustfmt::skip]
        let bytes = [
            // struct ip_vs_sync_mesg
            0, 9,               // reserved, syncid
            0, 96,              // size: 8 + 49 + 3 + 36
            2, 1, 0, 0,         // nr_conns, version, spare
            // struct ip_vs_sync_v4: the template
            0, 17,              // type: IPv4, protocol: UDP
            0x00, 49,           // ver_size: version 0, size 36 + 8 + 5
            0, 0, 0x10, 0x03,   // flags: TEMPLATE | DROUTE
            0, 1,               // state: IP_VS_CTPL_S_ASSURED
            0, 0,               // cport
            0x13, 0xc4,         // vport 5060
            0x13, 0xc4,         // dport 5060
            0, 0, 0, 42,        // fwmark
            0, 0, 0x01, 0x68,   // timeout: 360 s
            10, 0, 1, 2,        // caddr
            10, 0, 1, 100,      // vaddr
            10, 0, 2, 11,       // daddr
            2, 6,               // IPVS_OPT_PE_DATA, length 6
            b'a', b'b', b'c', b'1', b'2', b'3',
            3, 3,               // IPVS_OPT_PE_NAME, length 3
            b's', b'i', b'p',
            0, 0, 0,            // padding to 4 bytes
            // struct ip_vs_sync_v4: the connection
            0, 17,              // type, protocol
            0x00, 36,           // ver_size
            0, 0, 0, 0x03,      // flags: DROUTE
            0, 0,               // state: IP_VS_UDP_S_NORMAL
            0x13, 0xc4,         // cport 5060
            0x13, 0xc4,         // vport
            0x13, 0xc4,         // dport
            0, 0, 0, 42,        // fwmark
            0, 0, 0x01, 0x2c,   // timeout: 300 s
            10, 0, 1, 2,        // caddr
            10, 0, 1, 100,      // vaddr
            10, 0, 2, 11,       // daddr
        ];
        check_vector(Version::V1, 9, &[template, conn], &bytes);
        // The last entry is not padded: the template alone makes 57 bytes.
        assert_eq!(encode(Version::V1, 9, &[template]).len(), 57);
    }

    #[test]
    fn v1_seq_options() {
        #[rustfmt::skip]
        let bytes = [
            // struct ip_vs_sync_mesg
            0, 2,               // reserved, syncid
            0, 70,              // size: 8 + 36 + 26
            1, 1, 0, 0,         // nr_conns, version, spare
            // struct ip_vs_sync_v4
            0, 6,               // type: IPv4, protocol: TCP
            0x00, 62,           // ver_size: version 0, size 36 + 26
            0, 0, 0x06, 0x00,   // flags: MASQ | IN_SEQ | OUT_SEQ
            0, 1,               // state: ESTABLISHED
            0xc3, 0x50,         // cport
            0, 80,              // vport
            0x1f, 0x90,         // dport
            0, 0, 0, 0,         // fwmark
            0, 0, 0x03, 0x84,   // timeout: 900 s
            10, 0, 1, 2,        // caddr
            10, 0, 1, 100,      // vaddr
            10, 0, 2, 11,       // daddr
            1, 24,              // IPVS_OPT_SEQ_DATA, length 24
            0x01, 0x02, 0x03, 0x04, // in_seq.init_seq
            0, 0, 0, 0x10,          // in_seq.delta
            0, 0, 0, 0x08,          // in_seq.previous_delta
            0xa0, 0xb0, 0xc0, 0xd0, // out_seq.init_seq
            0xff, 0xff, 0xff, 0xf0, // out_seq.delta
            0, 0, 0, 0,             // out_seq.previous_delta
        ];
        check_vector(Version::V1, 2, &[tcp4_seq()], &bytes);
    }

    /// Version 0 copies the sequence adjustments in host byte order: little endian here.
    #[cfg(target_endian = "little")]
    #[test]
    fn v0_two_entries_with_seq() {
        // Version 0 has neither timeout nor fwmark.
        let plain = SyncConn {
            timeout: 0,
            ..tcp4()
        };
        let seq = SyncConn {
            timeout: 0,
            ..tcp4_seq()
        };
        #[rustfmt::skip]
        let bytes = [
            // struct ip_vs_sync_mesg_v0
            2,                  // nr_conns
            3,                  // syncid
            0, 76,              // size: 4 + 24 + 48
            // struct ip_vs_sync_conn_v0
            0,                  // reserved
            6,                  // protocol: TCP
            0xc3, 0x50,         // cport
            0, 80,              // vport
            0x1f, 0x90,         // dport
            10, 0, 1, 2,        // caddr
            10, 0, 1, 100,      // vaddr
            10, 0, 2, 11,       // daddr
            0, 0x83,            // flags: DROUTE | NOOUTPUT
            0, 1,               // state
            // struct ip_vs_sync_conn_v0
            0, 6,               // reserved, protocol
            0xc3, 0x50,         // cport
            0, 80,              // vport
            0x1f, 0x90,         // dport
            10, 0, 1, 2,        // caddr
            10, 0, 1, 100,      // vaddr
            10, 0, 2, 11,       // daddr
            0x06, 0x00,         // flags: MASQ | IN_SEQ | OUT_SEQ
            0, 1,               // state
            // struct ip_vs_sync_conn_options, host order
            0x04, 0x03, 0x02, 0x01, // in_seq.init_seq
            0x10, 0, 0, 0,          // in_seq.delta
            0x08, 0, 0, 0,          // in_seq.previous_delta
            0xd0, 0xc0, 0xb0, 0xa0, // out_seq.init_seq
            0xf0, 0xff, 0xff, 0xff, // out_seq.delta
            0, 0, 0, 0,             // out_seq.previous_delta
        ];
        check_vector(Version::V0, 3, &[plain, seq], &bytes);
    }

    #[test]
    fn v0_drops_what_it_cannot_carry() {
        // Timeout, fwmark and persistence data are not sent; flags lose their high 16 bits.
        let mut conn = tcp4();
        conn.fwmark = 7;
        conn.flags |= 1 << 16;
        conn.pe = Some(PeParams {
            data: b"x",
            name: b"sip",
        });
        let msg = encode(Version::V0, 1, &[conn]);
        assert_eq!(msg.len(), MESG_V0_LEN + CONN_V0_LEN);
        let expected = SyncConn {
            fwmark: 0,
            timeout: 0,
            pe: None,
            ..tcp4()
        };
        assert_eq!(decode_ok(&msg, 1), [expected]);
    }

    #[test]
    fn hashed_is_never_sent() {
        let mut conn = tcp4();
        conn.flags |= CONN_F_HASHED;
        for version in [Version::V0, Version::V1] {
            let msg = encode(version, 1, &[conn]);
            let decoded = decode_ok(&msg, 1);
            assert_eq!(decoded[0].flags, tcp4().flags, "{version:?}");
        }
    }

    #[test]
    fn flags_a_backup_keeps() {
        let wire = conn_flag::DROUTE | CONN_F_HASHED | CONN_F_IN_SEQ | (1 << 16) | CONN_F_INACTIVE;
        assert_eq!(
            backup_flags(wire),
            conn_flag::DROUTE | CONN_F_IN_SEQ | CONN_F_INACTIVE | CONN_F_SYNC
        );
        // Only INACTIVE and the SEQ bits change on an existing connection.
        let current = conn_flag::MASQ | CONN_F_HASHED | CONN_F_OUT_SEQ;
        assert_eq!(
            backup_update_flags(current, wire),
            conn_flag::MASQ | CONN_F_HASHED | CONN_F_IN_SEQ | CONN_F_INACTIVE
        );
        assert_eq!(CONN_F_BACKUP_MASK, 0x1f87);
    }

    #[test]
    fn state_counts_match_the_protocol_modules() {
        assert_eq!(usize::from(IP_VS_TCP_S_LAST), crate::proto::TCP_STATE_COUNT);
        assert_eq!(IP_VS_UDP_S_LAST, crate::proto::UDP_STATE_NORMAL + 1);
    }

    #[test]
    fn encode_errors() {
        let mut buf = [0; 1500];
        for version in [Version::V0, Version::V1] {
            let mut b = MessageBuilder::new(version, &mut buf, 1500, 0).unwrap();
            let mut c = tcp4();
            c.flags |= CONN_F_IN_SEQ;
            assert_eq!(b.push(&c), Err(EncodeError::SeqMismatch));
            let mut c = tcp4_seq();
            c.flags &= !CONN_F_SEQ_MASK;
            assert_eq!(b.push(&c), Err(EncodeError::SeqMismatch));
            assert!(b.is_empty());
        }
        let mut b = MessageBuilder::new(Version::V0, &mut buf, 1500, 0).unwrap();
        let v6 = SyncConn {
            addrs: Addrs::V6 {
                caddr: [1; 16],
                vaddr: [2; 16],
                daddr: [3; 16],
            },
            ..tcp4()
        };
        assert_eq!(b.push(&v6), Err(EncodeError::Ipv6InV0));

        let mut b = MessageBuilder::new(Version::V1, &mut buf, 1500, 0).unwrap();
        let long = [b'x'; 256];
        for (data, name, err) in [
            (&long[..0], &long[..3], EncodeError::PeDataLength),
            (&long[..], &long[..3], EncodeError::PeDataLength),
            (&long[..255], &long[..0], EncodeError::PeNameLength),
            (&long[..255], &long[..17], EncodeError::PeNameLength),
        ] {
            let c = SyncConn {
                pe: Some(PeParams { data, name }),
                ..tcp4()
            };
            assert_eq!(b.push(&c), Err(err));
        }
        // The longest entry: IPv6, sequence options, 255 bytes of data, a 16-byte name.
        let c = SyncConn {
            pe: Some(PeParams {
                data: &long[..255],
                name: &long[..16],
            }),
            ..tcp4_seq()
        };
        let c = SyncConn {
            addrs: v6.addrs,
            ..c
        };
        assert_eq!(c.wire_len(Version::V1), Ok(72 + 26 + 257 + 18));
        b.push(&c).unwrap();
        let msg = b.finish();
        assert_eq!(decode_ok(msg, 0), [c]);

        // Header and size limits.
        assert!(matches!(
            MessageBuilder::new(Version::V1, &mut buf, 7, 0),
            Err(EncodeError::NoRoomForHeader)
        ));
        assert!(matches!(
            MessageBuilder::new(Version::V1, &mut buf[..7], 100, 0),
            Err(EncodeError::NoRoomForHeader)
        ));
        assert!(MessageBuilder::new(Version::V0, &mut buf, 4, 0).is_ok());
        let mut b = MessageBuilder::new(Version::V1, &mut buf, 43, 0).unwrap();
        assert_eq!(b.push(&tcp4()), Err(EncodeError::TooLarge));
        assert_eq!(b.len(), MESG_V1_LEN);
        let mut b = MessageBuilder::new(Version::V1, &mut buf, 44, 0).unwrap();
        b.push(&tcp4()).unwrap();
        assert_eq!(b.push(&tcp4()), Err(EncodeError::Full));
        assert_eq!((b.len(), b.nr_conns()), (44, 1));
    }

    #[test]
    fn at_most_255_entries() {
        let mut buf = vec![0; 65535];
        let mut b = MessageBuilder::new(Version::V1, &mut buf, 65535, 0).unwrap();
        for _ in 0..255 {
            b.push(&tcp4()).unwrap();
        }
        assert_eq!(b.push(&tcp4()), Err(EncodeError::Full));
        let msg = b.finish();
        assert_eq!(msg.len(), 8 + 255 * 36);
        assert_eq!(decode_ok(msg, 0).len(), 255);
    }

    /// A small xorshift generator: the tests need no external crates.
    struct Rng(u64);

    impl Rng {
        fn next(&mut self) -> u64 {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            self.0
        }

        fn below(&mut self, n: u64) -> u64 {
            self.next() % n
        }

        fn bytes<const N: usize>(&mut self) -> [u8; N] {
            core::array::from_fn(|_| self.next() as u8)
        }
    }

    static PE_POOL: [u8; 256] = {
        let mut a = [0; 256];
        let mut i = 0;
        while i < 256 {
            a[i] = (i as u8) ^ 0x5a;
            i += 1;
        }
        a
    };

    /// A random connection the decoder accepts, sendable in `version`.
    fn random_conn(rng: &mut Rng, version: Version) -> SyncConn<'static> {
        let v1 = version == Version::V1;
        let protocol = [TCP, UDP, SCTP, IPPROTO_AH, IPPROTO_ESP][rng.below(5) as usize];
        let template = rng.below(4) == 0;
        let mut flags = rng.below(5) as u32;
        for bit in [
            CONN_F_NOOUTPUT,
            CONN_F_INACTIVE,
            CONN_F_IN_SEQ,
            CONN_F_OUT_SEQ,
        ] {
            if rng.below(3) == 0 {
                flags |= bit;
            }
        }
        if template {
            flags |= CONN_F_TEMPLATE;
        } else if rng.below(4) == 0 {
            flags |= CONN_F_NO_CPORT;
        }
        if v1 && rng.below(4) == 0 {
            flags |= 1 << 16; // IP_VS_CONN_F_NFCT: sent in version 1
        }
        let state = if template {
            rng.below(2)
        } else {
            rng.below(u64::from(num_states(protocol).unwrap()))
        } as u16;
        let addrs = if v1 && rng.below(2) == 0 {
            Addrs::V6 {
                caddr: rng.bytes(),
                vaddr: rng.bytes(),
                daddr: rng.bytes(),
            }
        } else {
            Addrs::V4 {
                caddr: rng.bytes(),
                vaddr: rng.bytes(),
                daddr: rng.bytes(),
            }
        };
        let seq = (flags & CONN_F_SEQ_MASK != 0).then(|| {
            let mut s = || Seq {
                init_seq: rng.next() as u32,
                delta: rng.next() as u32,
                previous_delta: rng.next() as u32,
            };
            SeqOptions {
                in_seq: s(),
                out_seq: s(),
            }
        });
        let pe = (v1 && rng.below(3) == 0).then(|| {
            let data_len = 1 + rng.below(PEDATA_MAXLEN as u64) as usize;
            let name_len = 1 + rng.below(PENAME_MAXLEN as u64) as usize;
            let at = rng.below(256 - data_len as u64 + 1) as usize;
            PeParams {
                data: &PE_POOL[at..at + data_len],
                name: &b"abcdefghijklmnop"[..name_len],
            }
        });
        SyncConn {
            protocol,
            addrs,
            cport: rng.bytes(),
            vport: rng.bytes(),
            dport: rng.bytes(),
            flags,
            state,
            fwmark: if v1 { rng.next() as u32 } else { 0 },
            timeout: if v1 { rng.next() as u32 } else { 0 },
            seq,
            pe,
        }
    }

    /// Sends `conns` as the master does: fills a message until one does not fit, sends it,
    /// starts another.
    fn split(version: Version, maxlen: usize, conns: &[SyncConn<'_>]) -> Vec<Vec<u8>> {
        let mut messages = Vec::new();
        let mut buf = vec![0; maxlen];
        let mut b = MessageBuilder::new(version, &mut buf, maxlen, 5).unwrap();
        let mut count = 0;
        for c in conns {
            match b.push(c) {
                Ok(()) => count += 1,
                Err(EncodeError::Full) => {
                    assert_eq!(usize::from(b.nr_conns()), count);
                    messages.push(b.finish().to_vec());
                    b = MessageBuilder::new(version, &mut buf, maxlen, 5).unwrap();
                    b.push(c).unwrap();
                    count = 1;
                }
                Err(e) => panic!("{e:?} for {c:?}"),
            }
        }
        messages.push(b.finish().to_vec());
        messages
    }

    #[test]
    fn round_trips_split_into_messages() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for (version, maxlen) in [(Version::V1, 600), (Version::V1, 1472), (Version::V0, 200)] {
            let conns: Vec<_> = (0..500).map(|_| random_conn(&mut rng, version)).collect();
            let messages = split(version, maxlen, &conns);
            assert!(messages.len() > 2, "{version:?} {maxlen}");
            let mut decoded = Vec::new();
            let mut taken = 0;
            for (i, msg) in messages.iter().enumerate() {
                assert!(msg.len() <= maxlen);
                assert_eq!(usize::from(u16::from_be_bytes([msg[2], msg[3]])), msg.len());
                let entries = decode(msg, 5).unwrap();
                assert_eq!(entries.version(), version);
                let n = usize::from(entries.nr_conns());
                decoded.extend(entries.map(Result::unwrap));
                taken += n;
                assert_eq!(decoded.len(), taken);
                // A message is sent only when the next entry does not fit in it.
                if let Some(next) = conns.get(taken).filter(|_| i + 1 < messages.len()) {
                    let pad = if version == Version::V1 {
                        msg.len().wrapping_neg() & 3
                    } else {
                        0
                    };
                    assert!(msg.len() + pad + next.wire_len(version).unwrap() > maxlen);
                }
            }
            assert_eq!(decoded, conns);
        }
    }

    // Crafted datagrams for the decoder's errors.

    /// A version 1 message of `nr_conns` with `body` after the header; size set right.
    fn v1(nr_conns: u8, body: &[u8]) -> Vec<u8> {
        let size = (MESG_V1_LEN + body.len()) as u16;
        let mut m = vec![0, 0];
        m.extend(size.to_be_bytes());
        m.extend([nr_conns, 1, 0, 0]);
        m.extend(body);
        m
    }

    /// A version 1 IPv4 entry of `protocol`, `flags`, `state`, followed by `opts`, with the
    /// right size.
    fn entry(protocol: u8, flags: u32, state: u16, opts: &[u8]) -> Vec<u8> {
        let mut e = vec![0, protocol];
        e.extend(((SYNC_V4_LEN + opts.len()) as u16).to_be_bytes());
        e.extend(flags.to_be_bytes());
        e.extend(state.to_be_bytes());
        e.extend([0, 1, 0, 2, 0, 3]); // ports
        e.extend([0; 8]); // fwmark, timeout
        e.extend([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
        e.extend(opts);
        e
    }

    /// A valid TCP entry.
    fn good() -> Vec<u8> {
        entry(TCP, 0, 1, &[])
    }

    /// Decodes `m` with sync ID 0 and returns what the entries gave, connections as `Ok(())`.
    fn results(m: &[u8]) -> Vec<Result<(), DecodeError>> {
        decode(m, 0).unwrap().map(|r| r.map(|_| ())).collect()
    }

    /// The one error a single-entry message gives.
    fn one_error(e: &[u8]) -> DecodeError {
        let r = results(&v1(1, e));
        assert_eq!(r.len(), 1);
        r[0].unwrap_err()
    }

    #[test]
    fn header_too_short() {
        for len in 0..MESG_V0_LEN {
            let m = vec![0; len];
            assert_eq!(decode(&m, 0).err(), Some(DecodeError::HeaderTooShort));
        }
    }

    #[test]
    fn size_mismatch() {
        let mut m = v1(0, &[]);
        m[3] = 9;
        assert_eq!(decode(&m, 0).err(), Some(DecodeError::SizeMismatch));
        let mut m = v1(1, &good());
        m.push(0);
        assert_eq!(decode(&m, 0).err(), Some(DecodeError::SizeMismatch));
    }

    #[test]
    fn syncid() {
        let mut m = v1(1, &good());
        m[1] = 5;
        assert_eq!(decode(&m, 6).err(), Some(DecodeError::SyncIdMismatch));
        assert_eq!(decode(&m, 5).unwrap().count(), 1);
        // A backup of sync ID 0 takes any message...
        assert_eq!(decode(&m, 0).unwrap().count(), 1);
        // ...but a message of sync ID 0 is not for a backup of another one.
        m[1] = 0;
        assert_eq!(decode(&m, 5).err(), Some(DecodeError::SyncIdMismatch));
    }

    #[test]
    fn version_detection() {
        let m = v1(1, &good());
        assert_eq!(decode(&m, 0).unwrap().version(), Version::V1);
        // reserved, version or spare otherwise: version 0, whose nr_conns is the first byte.
        for (at, value) in [(5, 2), (5, 0), (6, 1), (7, 1)] {
            let mut m = v1(1, &good());
            m[at] = value;
            let entries = decode(&m, 0).unwrap();
            assert_eq!(entries.version(), Version::V0, "byte {at} = {value}");
            assert_eq!(entries.nr_conns(), m[0]);
        }
        // A non-zero first byte counts version 0 entries, read from byte 4.
        let mut m = v1(1, &good());
        m[0] = 1;
        let mut entries = decode(&m, 0).unwrap();
        assert_eq!(entries.version(), Version::V0);
        assert!(entries.next().is_some());
        assert!(entries.next().is_none());
        // Version 1 needs the whole 8-byte header.
        let m = [0, 0, 0, 4];
        let entries = decode(&m, 0).unwrap();
        assert_eq!((entries.version(), entries.count()), (Version::V0, 0));
    }

    #[test]
    fn entry_truncated() {
        let mut e = good();
        e.pop();
        assert_eq!(one_error(&e), DecodeError::EntryTruncated);
        // Also when the size field says the entry is short: 36 bytes must be there.
        e[3] = 20;
        assert_eq!(one_error(&e), DecodeError::EntryTruncated);
    }

    #[test]
    fn entry_past_end() {
        let mut e = good();
        e[3] = 37;
        assert_eq!(one_error(&e), DecodeError::EntryPastEnd);
    }

    #[test]
    fn entry_version() {
        let mut e = good();
        e[2] = 0x10;
        assert_eq!(one_error(&e), DecodeError::EntryVersion);
        // The size is checked first.
        e[3] = 0xff;
        assert_eq!(one_error(&e), DecodeError::EntryPastEnd);
    }

    #[test]
    fn entry_type() {
        for stype in [2, 4, 0x80, 0xfe] {
            let mut e = good();
            e[0] = stype;
            assert_eq!(one_error(&e), DecodeError::EntryType, "type {stype}");
        }
        // Checked before the size: a type error even with size 0.
        let mut e = good();
        e[0] = 2;
        e[3] = 0;
        assert_eq!(one_error(&e), DecodeError::EntryType);
    }

    #[test]
    fn entry_too_short() {
        let mut e = good();
        e[3] = 35;
        assert_eq!(one_error(&e), DecodeError::EntryTooShort);
        e[3] = 0;
        assert_eq!(one_error(&e), DecodeError::EntryTooShort);
        // An IPv6 entry needs 72 bytes.
        let mut e = good();
        e[0] = STYPE_F_INET6;
        assert_eq!(one_error(&e), DecodeError::EntryTooShort);
    }

    #[test]
    fn ipv6_is_any_odd_type() {
        // Any type with STYPE_F_INET6 set is read as IPv6.
        let mut e = entry(TCP, 0, 1, &[0; 36]);
        e[0] = 0xff;
        let m = v1(1, &e);
        let conns = decode_ok(&m, 0);
        assert!(matches!(conns[0].addrs, Addrs::V6 { .. }));
    }

    #[test]
    fn option_truncated() {
        assert_eq!(
            one_error(&entry(TCP, 0, 1, &[0x41])),
            DecodeError::OptionTruncated
        );
    }

    #[test]
    fn option_length() {
        // Length 0, even of an ignorable option.
        assert_eq!(
            one_error(&entry(TCP, 0, 1, &[0x48, 0])),
            DecodeError::OptionLength
        );
        // Past the entry (the bytes after it in the datagram do not count).
        let mut m = v1(2, &entry(TCP, 0, 1, &[0x48, 3, 0]));
        m.extend([0; 1]);
        m.extend(good());
        let len = m.len() as u16;
        m[2..4].copy_from_slice(&len.to_be_bytes());
        assert_eq!(results(&m), [Err(DecodeError::OptionLength)]);
    }

    fn seq_opt(len: u8) -> Vec<u8> {
        let mut o = vec![IPVS_OPT_SEQ_DATA, len];
        o.extend((0..len).map(|i| i + 1));
        o
    }

    #[test]
    fn seq_option_length() {
        assert_eq!(
            one_error(&entry(TCP, 0, 1, &seq_opt(23))),
            DecodeError::SeqOptionLength
        );
        assert_eq!(
            one_error(&entry(TCP, 0, 1, &seq_opt(25))),
            DecodeError::SeqOptionLength
        );
    }

    #[test]
    fn duplicate_seq_option() {
        let opts = [seq_opt(24), seq_opt(24)].concat();
        assert_eq!(
            one_error(&entry(TCP, 0, 1, &opts)),
            DecodeError::DuplicateSeqOption
        );
    }

    #[test]
    fn seq_option_without_seq_flags() {
        // Taken whatever the flags say; the type is read without IPVS_OPT_F_PARAM.
        let mut opts = seq_opt(24);
        opts[0] |= IPVS_OPT_F_PARAM;
        let m = v1(1, &entry(TCP, 0, 1, &opts));
        let conns = decode_ok(&m, 0);
        assert_eq!(conns[0].seq.unwrap().in_seq.init_seq, 0x0102_0304);
        assert_eq!(conns[0].flags & CONN_F_SEQ_MASK, 0);
    }

    const PE_DATA: [u8; 3] = [IPVS_OPT_PE_DATA, 1, b'x'];
    const PE_NAME: [u8; 5] = [IPVS_OPT_PE_NAME, 3, b's', b'i', b'p'];

    #[test]
    fn duplicate_pe_data() {
        let opts = [&PE_DATA[..], &PE_NAME, &PE_DATA].concat();
        assert_eq!(
            one_error(&entry(UDP, 0, 0, &opts)),
            DecodeError::DuplicatePeData
        );
    }

    #[test]
    fn pe_name_too_long() {
        let mut opts = vec![IPVS_OPT_PE_NAME, 17];
        opts.extend([b'n'; 17]);
        assert_eq!(
            one_error(&entry(UDP, 0, 0, &opts)),
            DecodeError::PeNameTooLong
        );
        // 16 bytes are fine.
        let mut opts = PE_DATA.to_vec();
        opts.extend([IPVS_OPT_PE_NAME, 16]);
        opts.extend([b'n'; 16]);
        let m = v1(1, &entry(UDP, 0, 0, &opts));
        assert_eq!(decode_ok(&m, 0)[0].pe.unwrap().name, [b'n'; 16]);
    }

    #[test]
    fn duplicate_pe_name() {
        let opts = [&PE_NAME[..], &PE_DATA, &PE_NAME].concat();
        assert_eq!(
            one_error(&entry(UDP, 0, 0, &opts)),
            DecodeError::DuplicatePeName
        );
    }

    #[test]
    fn pe_data_without_name() {
        assert_eq!(
            one_error(&entry(UDP, 0, 0, &PE_DATA)),
            DecodeError::PeDataWithoutName
        );
        // A name without data is ignored.
        let m = v1(1, &entry(UDP, 0, 0, &PE_NAME));
        assert_eq!(decode_ok(&m, 0)[0].pe, None);
    }

    #[test]
    fn unknown_options() {
        // Mandatory: the entry is skipped, even if options after it are malformed.
        let opts = [9, 1, 0, 0x48, 0];
        assert_eq!(
            one_error(&entry(TCP, 0, 1, &opts)),
            DecodeError::UnknownMandatoryOption
        );
        assert_eq!(
            one_error(&entry(TCP, 0, 1, &[0, 1, 0])),
            DecodeError::UnknownMandatoryOption
        );
        // Marked IPVS_OPT_F_PARAM: ignored.
        let m = v1(1, &entry(TCP, 0, 1, &[9 | IPVS_OPT_F_PARAM, 2, 0xee, 0xee]));
        assert_eq!(decode_ok(&m, 0).len(), 1);
    }

    #[test]
    fn invalid_flags() {
        assert_eq!(
            one_error(&entry(TCP, CONN_F_ONE_PACKET, 1, &[])),
            DecodeError::InvalidFlags
        );
        let flags = CONN_F_TEMPLATE | CONN_F_NO_CPORT;
        assert_eq!(
            one_error(&entry(TCP, flags, 1, &[])),
            DecodeError::InvalidFlags
        );
        // NO_CPORT on a connection is fine.
        assert_eq!(
            results(&v1(1, &entry(TCP, CONN_F_NO_CPORT, 1, &[]))),
            [Ok(())]
        );
    }

    #[test]
    fn unsupported_protocol() {
        assert_eq!(
            one_error(&entry(1, 0, 0, &[])),
            DecodeError::UnsupportedProtocol
        );
        // Any protocol for a template.
        assert_eq!(
            results(&v1(1, &entry(1, CONN_F_TEMPLATE, 0, &[]))),
            [Ok(())]
        );
    }

    #[test]
    fn invalid_state() {
        for (protocol, states) in [
            (TCP, 11),
            (UDP, 1),
            (SCTP, 14),
            (IPPROTO_AH, 1),
            (IPPROTO_ESP, 1),
        ] {
            let m = v1(1, &entry(protocol, 0, states - 1, &[]));
            assert_eq!(results(&m), [Ok(())], "protocol {protocol}");
            let e = entry(protocol, 0, states, &[]);
            assert_eq!(
                one_error(&e),
                DecodeError::InvalidState,
                "protocol {protocol}"
            );
        }
    }

    #[test]
    fn invalid_template_state() {
        assert_eq!(
            results(&v1(1, &entry(TCP, CONN_F_TEMPLATE, 1, &[]))),
            [Ok(())]
        );
        let e = entry(TCP, CONN_F_TEMPLATE, 2, &[]);
        assert_eq!(one_error(&e), DecodeError::InvalidTemplateState);
    }

    #[test]
    fn skipped_entries_and_dropped_rest() {
        // A skipped entry's successors are read; a malformed entry's are not.
        let skipped = entry(TCP, 0, 11, &[]);
        let mut malformed = good();
        malformed[0] = 2;
        let body = [good(), skipped, good(), malformed, good()].concat();
        let m = v1(5, &body);
        assert_eq!(
            results(&m),
            [
                Ok(()),
                Err(DecodeError::InvalidState),
                Ok(()),
                Err(DecodeError::EntryType),
            ]
        );
        // Fewer entries than announced: an error after the last.
        let m = v1(2, &good());
        assert_eq!(results(&m), [Ok(()), Err(DecodeError::EntryTruncated)]);
        // More bytes than announced: ignored.
        let m = v1(1, &[good(), vec![0xff; 9]].concat());
        assert_eq!(results(&m), [Ok(())]);
    }

    #[test]
    fn padding_is_not_read() {
        let first = entry(TCP, 0, 1, &[0x48, 1, 0]); // 39 bytes
        let body = [first, vec![0xab], good()].concat();
        assert_eq!(results(&v1(2, &body)), [Ok(()), Ok(())]);
    }

    /// A version 0 message of `nr_conns` with `body` after the header.
    fn v0(nr_conns: u8, body: &[u8]) -> Vec<u8> {
        let mut m = vec![nr_conns, 0];
        m.extend(((MESG_V0_LEN + body.len()) as u16).to_be_bytes());
        m.extend(body);
        m
    }

    /// A version 0 entry.
    fn entry_v0(protocol: u8, flags: u16, state: u16) -> Vec<u8> {
        let mut e = vec![0, protocol, 0, 1, 0, 2, 0, 3];
        e.extend([1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3]);
        e.extend(flags.to_be_bytes());
        e.extend(state.to_be_bytes());
        e
    }

    #[test]
    fn v0_entry_truncated() {
        let mut e = entry_v0(TCP, 0, 1);
        e.pop();
        assert_eq!(results(&v0(1, &e)), [Err(DecodeError::V0EntryTruncated)]);
    }

    #[test]
    fn v0_options_truncated() {
        let mut body = entry_v0(TCP, CONN_F_IN_SEQ as u16, 1);
        body.extend([0; 23]);
        assert_eq!(
            results(&v0(1, &body)),
            [Err(DecodeError::V0OptionsTruncated)]
        );
        body.push(0);
        assert_eq!(results(&v0(1, &body)), [Ok(())]);
    }

    #[test]
    fn v0_skipped_entries() {
        let body = [
            entry_v0(TCP, CONN_F_ONE_PACKET as u16, 1),
            entry_v0(1, 0, 0),
            entry_v0(UDP, 0, 1),
            entry_v0(TCP, CONN_F_TEMPLATE as u16, 2),
            entry_v0(TCP, 0, 10),
        ]
        .concat();
        assert_eq!(
            results(&v0(5, &body)),
            [
                Err(DecodeError::InvalidFlags),
                Err(DecodeError::UnsupportedProtocol),
                Err(DecodeError::InvalidState),
                Err(DecodeError::InvalidTemplateState),
                Ok(()),
            ]
        );
    }

    /// Decodes `m` to the end, with several sync IDs, and checks the iterator's bounds.
    fn drain(m: &[u8]) {
        for syncid in [0, 5, m.get(1).copied().unwrap_or(0)] {
            if let Ok(entries) = decode(m, syncid) {
                let announced = usize::from(entries.nr_conns());
                let n = entries
                    .inspect(|r| {
                        if let Ok(c) = r {
                            // What is decoded is sendable again (v1 carries all of it).
                            let v = if matches!(c.addrs, Addrs::V6 { .. }) || c.pe.is_some() {
                                Version::V1
                            } else {
                                Version::V0
                            };
                            let _ = c.wire_len(v);
                        }
                    })
                    .count();
                assert!(n <= announced);
            }
        }
    }

    /// A valid multi-entry version 1 message with every kind of entry and option.
    fn rich_message() -> Vec<u8> {
        let mut rng = Rng(42);
        let mut conns: Vec<_> = (0..6).map(|_| random_conn(&mut rng, Version::V1)).collect();
        conns.push(tcp4_seq());
        conns.push(SyncConn {
            pe: Some(PeParams {
                data: b"call-id",
                name: b"sip",
            }),
            flags: CONN_F_TEMPLATE,
            ..tcp4()
        });
        encode(Version::V1, 5, &conns)
    }

    #[test]
    fn robust_against_truncation_and_corruption() {
        let v1_msg = rich_message();
        let v0_msg = encode(Version::V0, 5, &[tcp4(), tcp4_seq(), tcp4()]);
        for msg in [v1_msg, v0_msg] {
            assert!(decode(&msg, 5).unwrap().all(|r| r.is_ok()));
            for len in 0..=msg.len() {
                let cut = &msg[..len];
                drain(cut);
                // With the size fixed, so that the entries are read.
                let mut fixed = cut.to_vec();
                if len >= 4 {
                    fixed[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                }
                drain(&fixed);
            }
            for at in 0..msg.len() {
                for value in [0x00, 0xff, !msg[at], msg[at] ^ 1, msg[at] ^ 0x80] {
                    let mut m = msg.clone();
                    m[at] = value;
                    drain(&m);
                }
            }
        }
    }

    #[test]
    fn robust_against_random_datagrams() {
        let mut rng = Rng(0x1234_5678_9abc_def1);
        for i in 0..5000 {
            let len = rng.below(400) as usize;
            let mut m: Vec<u8> = (0..len).map(|_| rng.next() as u8).collect();
            // Most with a header that passes, to reach the entries.
            if len >= 8 && i % 8 != 0 {
                m[2..4].copy_from_slice(&(len as u16).to_be_bytes());
                if i % 2 == 0 {
                    m[0] = 0;
                    m[5..8].copy_from_slice(&[1, 0, 0]);
                    // Entries that look right more often.
                    if len >= 12 {
                        m[8] &= 1;
                        m[10] &= 0x01;
                    }
                }
            }
            drain(&m);
        }
    }
}
