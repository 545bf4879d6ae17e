// SPDX-License-Identifier: GPL-2.0

//! The FTP application helper's parsing (IPVS's `ip_vs_ftp.c`): the address and port in a
//! client's `PORT` and `EPRT` commands and in a server's `227` (PASV) and `229` (EPSV) answers,
//! found and bounded as `ip_vs_ftp_get_addrport` finds them, so that the same bytes are
//! rewritten; and the text that replaces them.
//!
//! Groundwork of #16: kernel-independent and host-tested; the data plane does not use it yet.
//! IPv4 only, as the data plane (an IPv6 `EPRT |2|` is refused, as IPVS refuses another
//! family's).

#![deny(unsafe_code)]
#![cfg_attr(not(test), allow(dead_code))]

/// A server's answer to PASV (`SERVER_STRING_PASV`).
pub(crate) const SERVER_PASV: &[u8] = b"227 ";
/// A client's active-mode command (`CLIENT_STRING_PORT`).
pub(crate) const CLIENT_PORT: &[u8] = b"PORT";
/// A server's answer to EPSV (`SERVER_STRING_EPSV`).
pub(crate) const SERVER_EPSV: &[u8] = b"229 ";
/// A client's extended active-mode command (`CLIENT_STRING_EPRT`).
pub(crate) const CLIENT_EPRT: &[u8] = b"EPRT";

/// Which form is parsed (`IP_VS_FTP_PORT` ... `IP_VS_FTP_EPSV`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Mode {
    /// `h1,h2,h3,h4,p1,p2` after "PORT" and a space (which may be missing).
    Port,
    /// `h1,h2,h3,h4,p1,p2` after "227 ", past a "(" (which may be missing).
    Pasv,
    /// `<d>1<d>ADDR<d>PORT<d>` after "EPRT" and a space.
    Eprt,
    /// `<d><d><d>PORT<d>` (or with the address) after "229 ", past a "(".
    Epsv,
}

impl Mode {
    fn pattern(self) -> &'static [u8] {
        match self {
            Mode::Port => CLIENT_PORT,
            Mode::Pasv => SERVER_PASV,
            Mode::Eprt => CLIENT_EPRT,
            Mode::Epsv => SERVER_EPSV,
        }
    }

    /// The character skipped, with anything before it, up to the address (`skip`); in the old
    /// form a digit ends the skipping before it.
    fn skip(self) -> u8 {
        match self {
            Mode::Port | Mode::Eprt => b' ',
            Mode::Pasv | Mode::Epsv => b'(',
        }
    }

    /// The extended (RFC 2428) form, with its delimiters.
    fn extended(self) -> bool {
        matches!(self, Mode::Eprt | Mode::Epsv)
    }
}

/// What `ip_vs_ftp_get_addrport` answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AddrPort {
    /// The data does not start with the form's word (0).
    NoMatch,
    /// It does, but what follows is cut short or not an address and port (-1).
    Invalid,
    /// The address (none when an EPSV answer leaves it out: the caller's is meant) and port,
    /// and where their text starts and ends in the data (1).
    Found {
        addr: Option<[u8; 4]>,
        port: u16,
        start: usize,
        end: usize,
    },
}

/// Parses `data` (a TCP segment's payload, from its start) in form `mode`.
pub(crate) fn addr_port(data: &[u8], mode: Mode) -> AddrPort {
    let pattern = mode.pattern();
    let limit = data.len();
    if limit < pattern.len() {
        // A partial match of the word is an incomplete command.
        return if data.eq_ignore_ascii_case(&pattern[..limit]) {
            AddrPort::Invalid
        } else {
            AddrPort::NoMatch
        };
    }
    if !data[..pattern.len()].eq_ignore_ascii_case(pattern) {
        return AddrPort::NoMatch;
    }
    let ext = mode.extended();
    let mut s = pattern.len();
    let skip = mode.skip();
    let mut found = false;
    loop {
        let Some(&c) = data.get(s) else {
            return AddrPort::Invalid;
        };
        if !found {
            // "(" is optional in the old form: a digit starts the address.
            if !ext && c.is_ascii_digit() {
                break;
            }
            if c == skip {
                found = true;
            }
        } else if c != skip {
            break;
        }
        s += 1;
    }
    if !ext {
        return old_form(data, s);
    }
    extended_form(data, s, mode)
}

/// `h1,h2,h3,h4,p1,p2` from `s`, ended by any other character (which must be there).
fn old_form(data: &[u8], s: usize) -> AddrPort {
    let mut p = [0u8; 6];
    let mut i = 0;
    let mut at = s;
    loop {
        let Some(&c) = data.get(at) else {
            return AddrPort::Invalid;
        };
        if c.is_ascii_digit() {
            let val = u32::from(p[i]) * 10 + u32::from(c - b'0');
            if val > 255 {
                return AddrPort::Invalid;
            }
            p[i] = val as u8;
        } else if c == b',' && i < 5 {
            i += 1;
            p[i] = 0;
        } else {
            break;
        }
        at += 1;
    }
    if i != 5 {
        return AddrPort::Invalid;
    }
    AddrPort::Found {
        addr: Some([p[0], p[1], p[2], p[3]]),
        port: u16::from_be_bytes([p[4], p[5]]),
        start: s,
        end: at,
    }
}

/// `<d>1<d>ADDR<d>PORT<d>`, or for EPSV `<d><d><d>PORT<d>`, from `s`.
fn extended_form(data: &[u8], mut s: usize, mode: Mode) -> AddrPort {
    let limit = data.len();
    let start = s;
    let Some(&edelim) = data.get(s) else {
        return AddrPort::Invalid;
    };
    s += 1;
    if !(33..=126).contains(&edelim) || s == limit {
        return AddrPort::Invalid;
    }
    let addr = if data[s] == edelim {
        // The family, and then the address, are usually left out of an EPSV answer.
        if mode != Mode::Epsv {
            return AddrPort::Invalid;
        }
        s += 1;
        if data.get(s) != Some(&edelim) {
            return AddrPort::Invalid;
        }
        s += 1;
        None
    } else {
        // The address of the connection's family only: 1 for IPv4.
        if data[s] != b'1' {
            return AddrPort::Invalid;
        }
        s += 1;
        if data.get(s) != Some(&edelim) {
            return AddrPort::Invalid;
        }
        s += 1;
        if s == limit {
            return AddrPort::Invalid;
        }
        let Some((addr, end)) = in4_pton(&data[s..], edelim) else {
            return AddrPort::Invalid;
        };
        s += end;
        if data.get(s) != Some(&edelim) {
            return AddrPort::Invalid;
        }
        s += 1;
        Some(addr)
    };
    let mut port = 0u32;
    loop {
        let Some(&c) = data.get(s) else {
            return AddrPort::Invalid;
        };
        if !c.is_ascii_digit() {
            break;
        }
        port = port * 10 + u32::from(c - b'0');
        if port > 65535 {
            return AddrPort::Invalid;
        }
        s += 1;
    }
    if port == 0 || data[s] != edelim {
        return AddrPort::Invalid;
    }
    AddrPort::Found {
        addr,
        port: port as u16,
        start,
        end: s + 1,
    }
}

/// The kernel's `in4_pton(src, len, dst, delim, &end)`: a dotted quad ended by `delim`, a colon,
/// a NUL or the end of `src`; each part one or more decimal digits of value at most 255. The
/// address, and the offset of the character that ended it.
fn in4_pton(src: &[u8], delim: u8) -> Option<([u8; 4], usize)> {
    let mut out = [0u8; 4];
    let mut i = 0;
    let mut w: u32 = 0;
    let mut digits = false;
    let mut s = 0;
    loop {
        // `xdigit2bin`: the delimiter (or the end, as NUL) first, then ':', '.', digits.
        let c = src.get(s).copied().unwrap_or(0);
        let ends = c == delim || c == 0 || c == b':';
        if ends || c == b'.' {
            if !digits {
                return None;
            }
            out[i] = w as u8;
            w = 0;
            digits = false;
            i += 1;
            if ends {
                return (i == 4).then_some((out, s));
            }
        } else if c.is_ascii_digit() {
            w = w * 10 + u32::from(c - b'0');
            digits = true;
            if w > 255 {
                return None;
            }
        } else {
            return None;
        }
        if i >= 4 {
            return None;
        }
        s += 1;
    }
}

/// The text that replaces a PASV answer's address and port: the virtual address and port as
/// `h1,h2,h3,h4,p1,p2` (at most 23 bytes).
pub(crate) fn pasv_text(addr: [u8; 4], port: u16, out: &mut [u8; 24]) -> usize {
    let [p1, p2] = port.to_be_bytes();
    write_numbers(
        out,
        &[addr[0], addr[1], addr[2], addr[3], p1, p2].map(u32::from),
        b',',
    )
}

/// The text that replaces an EPSV answer's: `|||port|`, the client using the virtual address.
pub(crate) fn epsv_text(port: u16, out: &mut [u8; 24]) -> usize {
    out[..3].copy_from_slice(b"|||");
    let n = write_numbers(&mut out[3..], &[u32::from(port)], b'|');
    out[3 + n] = b'|';
    4 + n
}

/// Writes `numbers` in decimal, separated by `sep`; returns the length.
fn write_numbers(out: &mut [u8], numbers: &[u32], sep: u8) -> usize {
    let mut n = 0;
    for (k, &v) in numbers.iter().enumerate() {
        if k > 0 {
            out[n] = sep;
            n += 1;
        }
        let mut digits = [0u8; 10];
        let mut len = 0;
        let mut v = v;
        loop {
            digits[len] = b'0' + (v % 10) as u8;
            len += 1;
            v /= 10;
            if v == 0 {
                break;
            }
        }
        for d in digits[..len].iter().rev() {
            out[n] = *d;
            n += 1;
        }
    }
    n
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(addr: Option<[u8; 4]>, port: u16, start: usize, end: usize) -> AddrPort {
        AddrPort::Found {
            addr,
            port,
            start,
            end,
        }
    }

    #[test]
    fn port_command() {
        let m = b"PORT 10,0,1,2,195,80\r\n";
        assert_eq!(
            addr_port(m, Mode::Port),
            found(Some([10, 0, 1, 2]), 50000, 5, 20)
        );
        assert_eq!(&m[5..20], b"10,0,1,2,195,80");
        // Any case; the space may be missing; something else than a digit or a space before the
        // numbers is skipped up to a space.
        assert_eq!(
            addr_port(b"port 1,2,3,4,5,6\n", Mode::Port),
            found(Some([1, 2, 3, 4]), 0x506, 5, 16)
        );
        assert_eq!(
            addr_port(b"PORT1,2,3,4,5,6\n", Mode::Port),
            found(Some([1, 2, 3, 4]), 0x506, 4, 15)
        );
        assert_eq!(
            addr_port(b"PORTx 1,2,3,4,5,6\n", Mode::Port),
            found(Some([1, 2, 3, 4]), 0x506, 6, 17)
        );
        assert_eq!(addr_port(b"PORT,,,,,\n", Mode::Port), AddrPort::Invalid);
        // Empty numbers count as 0; a seventh is not read; the terminator must be there.
        assert_eq!(
            addr_port(b"PORT ,,,,,\n", Mode::Port),
            found(Some([0; 4]), 0, 5, 10)
        );
        assert_eq!(
            addr_port(b"PORT1,2,3,4,5,6,7\n", Mode::Port),
            found(Some([1, 2, 3, 4]), 0x506, 4, 15)
        );
        assert_eq!(addr_port(b"PORT1,2,3,4,5,6", Mode::Port), AddrPort::Invalid);
        assert_eq!(addr_port(b"PORT1,2,3,4,5\n", Mode::Port), AddrPort::Invalid);
        assert_eq!(
            addr_port(b"PORT1,2,3,256,5,6\n", Mode::Port),
            AddrPort::Invalid
        );
        assert_eq!(
            addr_port(b"PORT001,2,3,4,5,6\n", Mode::Port),
            found(Some([1, 2, 3, 4]), 0x506, 4, 17)
        );
    }

    #[test]
    fn words() {
        assert_eq!(addr_port(b"LIST\r\n", Mode::Port), AddrPort::NoMatch);
        assert_eq!(addr_port(b"PO", Mode::Port), AddrPort::Invalid);
        assert_eq!(addr_port(b"pO", Mode::Port), AddrPort::Invalid);
        assert_eq!(addr_port(b"PX", Mode::Port), AddrPort::NoMatch);
        assert_eq!(addr_port(b"", Mode::Port), AddrPort::Invalid);
        assert_eq!(addr_port(b"230 ok\r\n", Mode::Pasv), AddrPort::NoMatch);
    }

    #[test]
    fn pasv_answer() {
        let m = b"227 Entering Passive Mode (192,168,1,5,4,1).\r\n";
        assert_eq!(
            addr_port(m, Mode::Pasv),
            found(Some([192, 168, 1, 5]), 1025, 27, 42)
        );
        assert_eq!(&m[27..42], b"192,168,1,5,4,1");
        // Without the parenthesis: the first digit starts it.
        let m = b"227 Entering Passive Mode 192,168,1,5,4,1\r\n";
        assert_eq!(
            addr_port(m, Mode::Pasv),
            found(Some([192, 168, 1, 5]), 1025, 26, 41)
        );
        // Text and repeated parentheses are skipped.
        let m = b"227 x((10,0,0,1,0,21)\r\n";
        assert_eq!(
            addr_port(m, Mode::Pasv),
            found(Some([10, 0, 0, 1]), 21, 7, 20)
        );
        assert_eq!(addr_port(b"227 (", Mode::Pasv), AddrPort::Invalid);
    }

    #[test]
    fn eprt_command() {
        let m = b"EPRT |1|10.0.1.2|50000|\r\n";
        assert_eq!(
            addr_port(m, Mode::Eprt),
            found(Some([10, 0, 1, 2]), 50000, 5, 23)
        );
        assert_eq!(&m[5..23], b"|1|10.0.1.2|50000|");
        // Another delimiter; spaces skipped.
        let m = b"EPRT   !1!10.0.1.2!21!\r\n";
        assert_eq!(
            addr_port(m, Mode::Eprt),
            found(Some([10, 0, 1, 2]), 21, 7, 22)
        );
        // Another family, a missing family, port 0, a port past 65535, a delimiter out of range.
        for m in [
            &b"EPRT |2|::1|21|\r\n"[..],
            b"EPRT ||10.0.1.2|21|\r\n",
            b"EPRT |1|10.0.1.2|0|\r\n",
            b"EPRT |1|10.0.1.2|65536|\r\n",
            b"EPRT \x7f1\x7f10.0.1.2\x7f21\x7f\r\n",
            b"EPRT |1|10.0.1|21|\r\n",
            b"EPRT |1|10.0.1.2.3|21|\r\n",
            b"EPRT |1|10.0.1.256|21|\r\n",
            b"EPRT |1|10..1.2|21|\r\n",
            b"EPRT |1|10.0.1.2|21",
            b"EPRT |1|10.0.1.2|21x",
        ] {
            assert_eq!(addr_port(m, Mode::Eprt), AddrPort::Invalid, "{:?}", m);
        }
        // in4_pton also stops at a colon; the delimiter must follow then.
        assert_eq!(
            addr_port(b"EPRT |1|10.0.1.2:21|\r\n", Mode::Eprt),
            AddrPort::Invalid
        );
        assert_eq!(
            addr_port(b"EPRT :1:10.0.1.2:21:\r\n", Mode::Eprt),
            found(Some([10, 0, 1, 2]), 21, 5, 20)
        );
    }

    #[test]
    fn epsv_answer() {
        let m = b"229 Entering Extended Passive Mode (|||6446|)\r\n";
        assert_eq!(addr_port(m, Mode::Epsv), found(None, 6446, 36, 44));
        assert_eq!(&m[36..44], b"|||6446|");
        let m = b"229 ok (|1|10.0.2.11|6446|)\r\n";
        assert_eq!(
            addr_port(m, Mode::Epsv),
            found(Some([10, 0, 2, 11]), 6446, 8, 26)
        );
        assert_eq!(
            addr_port(b"229 ok (||6446|)\r\n", Mode::Epsv),
            AddrPort::Invalid
        );
        // The extended form has no digit shortcut: the "(" is needed.
        assert_eq!(
            addr_port(b"229 ok |||6446|\r\n", Mode::Epsv),
            AddrPort::Invalid
        );
    }

    #[test]
    fn replacement_text() {
        let mut b = [0u8; 24];
        let n = pasv_text([255, 255, 255, 255], 65535, &mut b);
        assert_eq!(&b[..n], b"255,255,255,255,255,255");
        let n = pasv_text([10, 0, 1, 100], 21, &mut b);
        assert_eq!(&b[..n], b"10,0,1,100,0,21");
        let n = epsv_text(65535, &mut b);
        assert_eq!(&b[..n], b"|||65535|");
        let n = epsv_text(7, &mut b);
        assert_eq!(&b[..n], b"|||7|");
    }

    #[test]
    fn random_inputs_never_panic() {
        const ALPHABET: &[u8] = b"0123456789,.|(): \r\n\x00PORTEPRT227 229 1";
        let mut seed = 0x9e37_79b9_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..50_000 {
            let len = (next() % 40) as usize;
            let mut m: Vec<u8> = (0..len)
                .map(|_| ALPHABET[next() as usize % ALPHABET.len()])
                .collect();
            let mode = [Mode::Port, Mode::Pasv, Mode::Eprt, Mode::Epsv][next() as usize % 4];
            let word = mode.pattern();
            if next() % 2 == 0 {
                m.splice(0..0, word.iter().copied());
            }
            if let AddrPort::Found { start, end, .. } = addr_port(&m, mode) {
                assert!(start <= end && end <= m.len());
            }
        }
    }
}
