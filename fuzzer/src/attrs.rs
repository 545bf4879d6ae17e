//! Netlink attributes as a tree that mutations can bend (any type number, any length, a nest
//! that is not one, bytes left over), its encoding, and the kernel's own reading of the result
//! (`nla_parse` without strict validation, as IPVS parses), which the model uses to see what an
//! accepted message said.

use rvsadm::netlink::{align, NLA_F_NESTED, NLA_HDRLEN};

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Payload {
    Bytes(Vec<u8>),
    Nest(Vec<Attr>),
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Attr {
    /// The type as sent, flag bits included.
    pub kind: u16,
    pub payload: Payload,
    /// If set, the length written in the header instead of the true one (a lie the kernel must
    /// catch).
    pub claimed_len: Option<u16>,
}

impl Attr {
    pub fn bytes(kind: u16, bytes: &[u8]) -> Self {
        Attr {
            kind,
            payload: Payload::Bytes(bytes.to_vec()),
            claimed_len: None,
        }
    }

    pub fn u8(kind: u16, v: u8) -> Self {
        Self::bytes(kind, &[v])
    }

    pub fn u16(kind: u16, v: u16) -> Self {
        Self::bytes(kind, &v.to_ne_bytes())
    }

    pub fn be16(kind: u16, v: u16) -> Self {
        Self::bytes(kind, &v.to_be_bytes())
    }

    pub fn u32(kind: u16, v: u32) -> Self {
        Self::bytes(kind, &v.to_ne_bytes())
    }

    /// A NUL-terminated string, as `NLA_NUL_STRING` wants it.
    pub fn string(kind: u16, s: &str) -> Self {
        let mut b = s.as_bytes().to_vec();
        b.push(0);
        Self::bytes(kind, &b)
    }

    pub fn nest(kind: u16, attrs: Vec<Attr>) -> Self {
        Attr {
            kind: kind | NLA_F_NESTED,
            payload: Payload::Nest(attrs),
            claimed_len: None,
        }
    }

    /// The type without its flag bits (`nla_type`).
    pub fn number(&self) -> u16 {
        self.kind & 0x3fff
    }
}

/// Encodes attributes, each padded to 4 bytes.
pub fn encode(attrs: &[Attr], out: &mut Vec<u8>) {
    for a in attrs {
        let start = out.len();
        out.extend_from_slice(&[0, 0, 0, 0]);
        match &a.payload {
            Payload::Bytes(b) => out.extend_from_slice(b),
            Payload::Nest(inner) => encode(inner, out),
        }
        let len = out.len() - start;
        let written = a.claimed_len.unwrap_or(len.min(u16::MAX as usize) as u16);
        out[start..start + 2].copy_from_slice(&written.to_ne_bytes());
        out[start + 2..start + 4].copy_from_slice(&a.kind.to_ne_bytes());
        out.resize(start + align(len), 0);
    }
}

/// What `nla_parse` leaves in its table: for each type up to `max`, the payload of the last
/// attribute of that type; it stops at the first malformed header, and ignores type 0 and types
/// above `max` (liberal parsing, `NL_VALIDATE_LIBERAL`).
pub fn parse(mut bytes: &[u8], max: u16) -> Vec<Option<&[u8]>> {
    let mut table = vec![None; max as usize + 1];
    while bytes.len() >= NLA_HDRLEN {
        let len = u16::from_ne_bytes([bytes[0], bytes[1]]) as usize;
        let kind = u16::from_ne_bytes([bytes[2], bytes[3]]) & 0x3fff;
        if len < NLA_HDRLEN || len > bytes.len() {
            break;
        }
        if kind != 0 && kind <= max {
            table[kind as usize] = Some(&bytes[NLA_HDRLEN..len]);
        }
        bytes = &bytes[align(len).min(bytes.len())..];
    }
    table
}

/// Readers as `nla_get_*`: the first bytes of a payload (the kernel checked the minimum length
/// before IPVS read it; a request not yet sent may be shorter, read as zero-padded).
pub fn get_u8(b: &[u8]) -> u8 {
    b.first().copied().unwrap_or(0)
}

pub fn get_u16(b: &[u8]) -> u16 {
    u16::from_ne_bytes(memcpy(b))
}

pub fn get_be16(b: &[u8]) -> u16 {
    u16::from_be_bytes(memcpy(b))
}

pub fn get_u32(b: &[u8]) -> u32 {
    u32::from_ne_bytes(memcpy(b))
}

/// `nla_memcpy` into `N` bytes: what fits, the rest zero.
pub fn memcpy<const N: usize>(b: &[u8]) -> [u8; N] {
    let mut out = [0u8; N];
    let n = b.len().min(N);
    out[..n].copy_from_slice(&b[..n]);
    out
}

/// The C string at the start of a payload (`NLA_NUL_STRING` holds a NUL).
pub fn get_str(b: &[u8]) -> String {
    let end = b.iter().position(|&c| c == 0).unwrap_or(b.len());
    String::from_utf8_lossy(&b[..end]).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_and_parses_back() {
        let attrs = vec![
            Attr::u16(1, 2),
            Attr::nest(2, vec![Attr::string(6, "rr"), Attr::u32(8, 300)]),
            Attr::u16(1, 10),
        ];
        let mut out = Vec::new();
        encode(&attrs, &mut out);
        assert_eq!(out.len(), 8 + 4 + 8 + 8 + 8);
        let t = parse(&out, 6);
        // the last of two attributes of one type wins
        assert_eq!(get_u16(t[1].unwrap()), 10);
        let inner = parse(t[2].unwrap(), 12);
        assert_eq!(get_str(inner[6].unwrap()), "rr");
        assert_eq!(get_u32(inner[8].unwrap()), 300);
    }

    #[test]
    fn parse_stops_at_a_bad_header_and_skips_unknown_types() {
        let mut a = Attr::u32(3, 7);
        a.claimed_len = Some(200);
        let mut out = Vec::new();
        encode(
            &[
                Attr::u32(9, 1),
                Attr::u32(0, 1),
                Attr::u32(1, 5),
                a,
                Attr::u32(2, 6),
            ],
            &mut out,
        );
        let t = parse(&out, 3);
        assert_eq!(get_u32(t[1].unwrap()), 5);
        assert!(t[2].is_none() && t[3].is_none());
    }

    #[test]
    fn memcpy_zero_fills() {
        assert_eq!(memcpy::<4>(&[1, 2]), [1, 2, 0, 0]);
        assert_eq!(memcpy::<2>(&[1, 2, 3]), [1, 2]);
    }
}
