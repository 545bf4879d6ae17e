// SPDX-License-Identifier: GPL-2.0

//! The `sip` persistence engine (IPVS's `ip_vs_pe_sip.c`): a persistent service with `--pe sip`
//! binds each SIP call, named by the `Call-ID` header of its UDP datagrams, to a real server,
//! instead of each client network. A proxy that sends every call from one address then has its
//! calls spread over the real servers, and all the messages of one call reach the same one.
//!
//! The header is found as netfilter's SIP helper finds it for IPVS (`ct_sip_get_header` with
//! `SIP_HDR_CALL_ID`, then `get_callid`'s checks), byte for byte: the same datagrams have a
//! Call-ID, and the same one, on rvs and ip_vs. Kernel-independent, host-tested.

#![deny(unsafe_code)]

/// `IP_VS_PEDATA_MAXLEN`: a longer Call-ID is not taken.
pub(crate) const CALL_ID_MAXLEN: usize = 255;

/// The engine's name, as `--pe` names it and `/proc/net/ip_vs_conn` and sync messages show it.
pub(crate) const NAME: &[u8] = b"sip";

/// A call's Call-ID, which a persistence template keeps (IPVS's `pe_data`).
#[derive(Clone, Copy)]
pub(crate) struct CallId {
    len: u8,
    bytes: [u8; CALL_ID_MAXLEN],
}

impl CallId {
    /// `None` if `id` is empty or longer than [`CALL_ID_MAXLEN`].
    pub(crate) fn new(id: &[u8]) -> Option<Self> {
        let len = u8::try_from(id.len()).ok().filter(|&l| l > 0)?;
        let mut bytes = [0; CALL_ID_MAXLEN];
        bytes[..id.len()].copy_from_slice(id);
        Some(Self { len, bytes })
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        &self.bytes[..usize::from(self.len)]
    }
}

impl PartialEq for CallId {
    fn eq(&self, other: &Self) -> bool {
        self.as_bytes() == other.as_bytes()
    }
}

impl Eq for CallId {}

impl core::fmt::Debug for CallId {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        write!(f, "CallId({:?})", self.as_bytes())
    }
}

/// The Call-ID of the SIP message `payload` (a UDP datagram's data), as IPVS's `get_callid`
/// takes it: the first `Call-ID` (or compact `i`) header with a value, which must end the line.
/// `None` when there is none (IPVS then drops the datagram).
pub(crate) fn call_id(payload: &[u8]) -> Option<CallId> {
    let mut dataoff = 0usize;
    let (off, len) = loop {
        match header(payload, dataoff) {
            Header::Found { off, len } => break (off, len),
            Header::Absent => return None,
            // `get_callid` searches again from there, adding the (absolute) offset to its
            // start offset, as written in IPVS.
            Header::Empty { off } => dataoff = dataoff.saturating_add(off),
        }
    };
    if len > CALL_ID_MAXLEN || off + len == payload.len() {
        return None;
    }
    // "SIP headers are always followed by a line terminator" (CR, LF or CRLF).
    if !matches!(payload.get(off + len), Some(b'\r' | b'\n')) {
        return None;
    }
    CallId::new(&payload[off..off + len])
}

/// What `ct_sip_get_header` answers.
#[derive(Debug, PartialEq, Eq)]
enum Header {
    /// No header (0).
    Absent,
    /// A header whose value is not a Call-ID; `off` is where the value starts (-1).
    Empty { off: usize },
    /// The Call-ID at `off`, `len` bytes long (1).
    Found { off: usize, len: usize },
}

const CR: u8 = b'\r';
const LF: u8 = b'\n';

fn is_blank(c: u8) -> bool {
    c == b' ' || c == b'\t'
}

/// `ct_sip_get_header(.., SIP_HDR_CALL_ID, ..)` from `dataoff`: a header starts a line (so
/// never the first one), continuation lines are skipped, names compare without case.
fn header(d: &[u8], dataoff: usize) -> Header {
    const NAME: &[u8] = b"call-id";
    let limit = d.len();
    let mut i = dataoff;
    while i < limit {
        // The beginning of a line.
        if d[i] != CR && d[i] != LF {
            i += 1;
            continue;
        }
        i += 1;
        if i >= limit {
            break;
        }
        if d[i - 1] == CR && d[i] == LF {
            i += 1;
            if i >= limit {
                break;
            }
        }
        if is_blank(d[i]) {
            i += 1;
            continue;
        }
        // The name, or its compact form followed by a non-letter.
        let rest = &d[i..];
        if rest.len() >= NAME.len() && rest[..NAME.len()].eq_ignore_ascii_case(NAME) {
            i += NAME.len();
        } else if rest.len() >= 2 && rest[0].eq_ignore_ascii_case(&b'i') && !is_alpha(rest[1]) {
            i += 1;
        } else {
            i += 1;
            continue;
        }
        let Some(colon) = skip_whitespace(d, i).filter(|&c| d[c] == b':') else {
            break;
        };
        if colon + 1 >= limit {
            break;
        }
        let Some(value) = skip_whitespace(d, colon + 1) else {
            break;
        };
        return match callid_len(&d[value..]) {
            0 => Header::Empty { off: value },
            len => Header::Found { off: value, len },
        };
    }
    Header::Absent
}

/// `sip_skip_whitespace`: past blanks and at most one line break into a continuation line.
fn skip_whitespace(d: &[u8], mut i: usize) -> Option<usize> {
    while i < d.len() {
        if is_blank(d[i]) {
            i += 1;
            continue;
        }
        if d[i] != CR && d[i] != LF {
            break;
        }
        i = follow_continuation(d, i)?;
        break;
    }
    (i < d.len()).then_some(i)
}

/// `sip_follow_continuation`: from a line break, the first non-blank of the next line if that is
/// a continuation line (starts with a blank).
fn follow_continuation(d: &[u8], mut i: usize) -> Option<usize> {
    i += 1;
    if i >= d.len() {
        return None;
    }
    if d[i - 1] == CR && d[i] == LF {
        i += 1;
        if i >= d.len() {
            return None;
        }
    }
    if !is_blank(d[i]) {
        return None;
    }
    while i < d.len() && is_blank(d[i]) {
        i += 1;
    }
    Some(i)
}

/// `callid_len`: a word, or `word@word`; 0 if the part after `@` is empty.
fn callid_len(d: &[u8]) -> usize {
    let len = word_len(d);
    if len == 0 || d.get(len) != Some(&b'@') {
        return len;
    }
    match word_len(&d[len + 1..]) {
        0 => 0,
        domain => len + 1 + domain,
    }
}

fn word_len(d: &[u8]) -> usize {
    d.iter().take_while(|&&c| is_word_char(c)).count()
}

/// `iswordc`.
fn is_word_char(c: u8) -> bool {
    is_alpha(c)
        || c.is_ascii_digit()
        || matches!(
            c,
            b'!' | b'"'
                | b'%'
                | b'('..=b'+'
                | b':'
                | b'<'
                | b'>'
                | b'?'
                | b'['..=b']'
                | b'_'
                | b'`'
                | b'{'
                | b'}'
                | b'~'
                | b'-'..=b'/'
                | b'\''
        )
}

/// The kernel's `isalpha` (`lib/ctype.c`): ASCII letters and the Latin-1 ones, 0xc0 to 0xff but
/// for the multiplication and division signs.
fn is_alpha(c: u8) -> bool {
    c.is_ascii_alphabetic() || (c >= 0xc0 && c != 0xd7 && c != 0xf7)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn id(payload: &[u8]) -> Option<Vec<u8>> {
        call_id(payload).map(|c| c.as_bytes().to_vec())
    }

    const INVITE: &[u8] = b"INVITE sip:bob@example.com SIP/2.0\r\n\
        Via: SIP/2.0/UDP 10.0.0.2:5060\r\n\
        Call-ID: a84b4c76e66710@pc33.example.com\r\n\
        CSeq: 314159 INVITE\r\n\r\n";

    #[test]
    fn full_name() {
        assert_eq!(
            id(INVITE).as_deref(),
            Some(&b"a84b4c76e66710@pc33.example.com"[..])
        );
    }

    #[test]
    fn compact_name_and_case() {
        assert_eq!(
            id(b"BYE x SIP/2.0\r\ni: abc\r\n").as_deref(),
            Some(&b"abc"[..])
        );
        assert_eq!(
            id(b"BYE x SIP/2.0\r\nI:abc\r\n").as_deref(),
            Some(&b"abc"[..])
        );
        assert_eq!(
            id(b"BYE x SIP/2.0\r\ncAlL-iD :\tabc\n").as_deref(),
            Some(&b"abc"[..])
        );
        // A compact name followed by a letter is another header.
        assert_eq!(id(b"BYE x SIP/2.0\r\nif: abc\r\n"), None);
        // ... also a Latin-1 one (the kernel's isalpha).
        assert_eq!(id(b"BYE x SIP/2.0\r\ni\xe9: abc\r\n"), None);
    }

    #[test]
    fn not_on_the_first_line() {
        assert_eq!(id(b"Call-ID: abc\r\n"), None);
        assert_eq!(id(b"\nCall-ID: abc\r\n").as_deref(), Some(&b"abc"[..]));
    }

    #[test]
    fn must_end_a_line() {
        assert_eq!(id(b"X\r\nCall-ID: abc"), None);
        assert_eq!(id(b"X\r\nCall-ID: abc;x\r\n"), None);
        assert_eq!(id(b"X\r\nCall-ID: abc \r\n"), None);
        assert_eq!(id(b"X\r\nCall-ID: abc\n").as_deref(), Some(&b"abc"[..]));
        assert_eq!(id(b"X\r\nCall-ID: abc\r").as_deref(), Some(&b"abc"[..]));
    }

    #[test]
    fn length_limit() {
        let mut m = b"X\r\nCall-ID: ".to_vec();
        m.extend([b'a'; CALL_ID_MAXLEN]);
        m.extend(b"\r\n");
        assert_eq!(id(&m).map(|v| v.len()), Some(CALL_ID_MAXLEN));
        m.insert(12, b'a');
        assert_eq!(id(&m), None);
    }

    #[test]
    fn domain_part() {
        assert_eq!(id(b"X\r\nCall-ID: a@\r\n"), None);
        assert_eq!(id(b"X\r\nCall-ID: a@b@c\r\n"), None);
        assert_eq!(id(b"X\r\nCall-ID: @b\r\n"), None);
    }

    #[test]
    fn continuation_lines() {
        // The value on a continuation line.
        assert_eq!(
            id(b"X\r\nCall-ID:\r\n  abc\r\n").as_deref(),
            Some(&b"abc"[..])
        );
        // A continuation line is not a header.
        assert_eq!(id(b"X\r\nSubject: y\r\n Call-ID: abc\r\n"), None);
        // No value: the header ends at the line break.
        assert_eq!(id(b"X\r\nCall-ID:\r\nCSeq: 1\r\n"), None);
    }

    #[test]
    fn an_empty_value_then_searches_on() {
        // The first header's value is no word; the search goes on from its value's offset.
        assert_eq!(
            id(b"X\r\nCall-ID: ;\r\nCall-ID: def\r\n").as_deref(),
            Some(&b"def"[..])
        );
    }

    #[test]
    fn body_lines_count() {
        // As in the kernel, the body is searched too (no stop at the empty line).
        assert_eq!(id(b"X\r\n\r\ni: abc\r\n").as_deref(), Some(&b"abc"[..]));
    }

    #[test]
    fn word_characters() {
        let m = b"X\r\nCall-ID: a!\"%()*+:<>?[\\]_`{}~-./'\xc0\xff9\r\n";
        assert_eq!(id(m).map(|v| v.len()), Some(27));
        assert_eq!(id(b"X\r\nCall-ID: a\xd7b\r\n"), None);
    }

    #[test]
    fn hostile_inputs_end() {
        for m in [
            &b""[..],
            b"\r",
            b"\n",
            b"\r\n",
            b"\r\ni",
            b"\r\ni:",
            b"\r\ni:\r",
            b"\r\n\t",
        ] {
            assert_eq!(id(m), None);
        }
        let mut m = Vec::new();
        for _ in 0..1000 {
            m.extend(b"\r\ni: ;");
        }
        assert_eq!(id(&m), None);
    }

    #[test]
    fn random_inputs_never_panic() {
        const ALPHABET: &[u8] = b"\r\n \t:@;iIcaLl-D\xe9\xd7x";
        let mut seed = 0x2545_f491_u32;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 17;
            seed ^= seed << 5;
            seed
        };
        for _ in 0..20_000 {
            let len = (next() % 48) as usize;
            let m: Vec<u8> = (0..len)
                .map(|_| ALPHABET[next() as usize % ALPHABET.len()])
                .collect();
            if let Some(c) = call_id(&m) {
                assert!(!c.as_bytes().is_empty() && c.as_bytes().len() <= CALL_ID_MAXLEN);
            }
        }
    }
}
