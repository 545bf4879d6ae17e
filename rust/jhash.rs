// SPDX-License-Identifier: GPL-2.0

//! Bob Jenkins' lookup3 hash as the kernel has it, mirroring `include/linux/jhash.h`.
//!
//! IPVS hashes its connection table with `jhash_3words` (IPv4) and `jhash` over the address
//! followed by `jhash_3words` (IPv6), keyed by a random `ip_vs_conn_rnd`. The functions here give
//! the same values as the kernel's so that bucket placement and any reasoning about it carry over.
//!
//! All arithmetic is on `u32` modulo 2^32, as in C: the kernel's Rust panics on overflow, so every
//! add and subtract is a `wrapping_` one. No function indexes a slice, so none can panic.

#![deny(unsafe_code)]
// IPv4 connections use `jhash_3words` only; the byte and word variants are for IPv6 keys.
#![cfg_attr(not(test), allow(dead_code))]

/// An arbitrary initial parameter (`JHASH_INITVAL`).
pub(crate) const JHASH_INITVAL: u32 = 0xdead_beef;

/// Mixes three 32-bit values reversibly (`__jhash_mix`).
#[inline]
fn mix(a: &mut u32, b: &mut u32, c: &mut u32) {
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(4);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(6);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(8);
    *b = b.wrapping_add(*a);
    *a = a.wrapping_sub(*c);
    *a ^= c.rotate_left(16);
    *c = c.wrapping_add(*b);
    *b = b.wrapping_sub(*a);
    *b ^= a.rotate_left(19);
    *a = a.wrapping_add(*c);
    *c = c.wrapping_sub(*b);
    *c ^= b.rotate_left(4);
    *b = b.wrapping_add(*a);
}

/// Final mixing of three 32-bit values into `c` (`__jhash_final`); returns `c`.
#[inline]
fn final_mix(mut a: u32, mut b: u32, mut c: u32) -> u32 {
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(14));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(11));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(25));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(16));
    a ^= c;
    a = a.wrapping_sub(c.rotate_left(4));
    b ^= a;
    b = b.wrapping_sub(a.rotate_left(14));
    c ^= b;
    c = c.wrapping_sub(b.rotate_left(24));
    c
}

/// Reads four bytes in the CPU's byte order, as `__get_unaligned_cpu32` does.
///
/// Native order (not fixed little-endian) so that the module hashes exactly as the kernel on
/// every architecture; the kernel documents `jhash`'s result as endian-dependent.
#[inline]
fn cpu32(b: [u8; 4]) -> u32 {
    u32::from_ne_bytes(b)
}

/// Hashes an arbitrary byte string (`jhash`).
///
/// The kernel's `length` is a `u32`; a key longer than 4 GiB has its length truncated the same
/// way (`as u32`), which only matters in theory.
pub(crate) fn jhash(key: &[u8], initval: u32) -> u32 {
    let init = JHASH_INITVAL
        .wrapping_add(key.len() as u32)
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);

    // All but the last block: note `> 12`, so a key of exactly 12 bytes (or the last 12 of a
    // multiple of 12) goes through the tail below and `__jhash_final`, not `__jhash_mix`.
    let mut rest = key;
    while rest.len() > 12 {
        // Cannot fail (more than 12 bytes are left); `else` only avoids a panic path.
        let Some((block, tail)) = rest.split_first_chunk::<12>() else {
            break;
        };
        let [k0, k1, k2, k3, k4, k5, k6, k7, k8, k9, k10, k11] = *block;
        a = a.wrapping_add(cpu32([k0, k1, k2, k3]));
        b = b.wrapping_add(cpu32([k4, k5, k6, k7]));
        c = c.wrapping_add(cpu32([k8, k9, k10, k11]));
        mix(&mut a, &mut b, &mut c);
        rest = tail;
    }

    // Last block (0..=12 bytes): the C switch adds byte i, shifted by 8 * (i % 4), to word
    // i / 4 of (a, b, c). Addition commutes, so adding in ascending order gives the same sum.
    if rest.is_empty() {
        return c;
    }
    for (i, &byte) in rest.iter().enumerate() {
        // `wrapping_shl` only to keep even unoptimised builds free of a panic path: i < 12.
        let v = u32::from(byte).wrapping_shl(((i & 3) << 3) as u32);
        match i / 4 {
            0 => a = a.wrapping_add(v),
            1 => b = b.wrapping_add(v),
            _ => c = c.wrapping_add(v),
        }
    }
    final_mix(a, b, c)
}

/// Hashes an array of `u32`s (`jhash2`).
pub(crate) fn jhash2(k: &[u32], initval: u32) -> u32 {
    // `length << 2` of the C, in u32 arithmetic.
    let init = JHASH_INITVAL
        .wrapping_add((k.len() as u32).wrapping_shl(2))
        .wrapping_add(initval);
    let (mut a, mut b, mut c) = (init, init, init);

    // As in `jhash`, `> 3`: the last 1..=3 words always go through `__jhash_final`.
    let mut rest = k;
    while rest.len() > 3 {
        // Cannot fail (more than 3 words are left); `else` only avoids a panic path.
        let Some((&[k0, k1, k2], tail)) = rest.split_first_chunk::<3>() else {
            break;
        };
        a = a.wrapping_add(k0);
        b = b.wrapping_add(k1);
        c = c.wrapping_add(k2);
        mix(&mut a, &mut b, &mut c);
        rest = tail;
    }

    match *rest {
        [] => c,
        [k0] => final_mix(a.wrapping_add(k0), b, c),
        [k0, k1] => final_mix(a.wrapping_add(k0), b.wrapping_add(k1), c),
        [k0, k1, k2, ..] => final_mix(a.wrapping_add(k0), b.wrapping_add(k1), c.wrapping_add(k2)),
    }
}

/// Hashes exactly three, two or one words with an already adjusted `initval` (`__jhash_nwords`).
#[inline]
fn nwords(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    final_mix(
        a.wrapping_add(initval),
        b.wrapping_add(initval),
        c.wrapping_add(initval),
    )
}

/// Hashes three words (`jhash_3words`); IPVS's IPv4 connection hash.
pub(crate) fn jhash_3words(a: u32, b: u32, c: u32, initval: u32) -> u32 {
    nwords(
        a,
        b,
        c,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(3 << 2),
    )
}

/// Hashes two words (`jhash_2words`).
pub(crate) fn jhash_2words(a: u32, b: u32, initval: u32) -> u32 {
    nwords(
        a,
        b,
        0,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(2 << 2),
    )
}

/// Hashes one word (`jhash_1word`).
pub(crate) fn jhash_1word(a: u32, initval: u32) -> u32 {
    nwords(
        a,
        0,
        0,
        initval.wrapping_add(JHASH_INITVAL).wrapping_add(1 << 2),
    )
}

#[cfg(test)]
mod tests {
    //! The expected values were produced by a host C program (gcc 12, x86-64) into which the
    //! macros and functions of Linux 6.12's `include/linux/jhash.h` were pasted verbatim, with
    //! `rol32` defined as in `include/linux/bitops.h` and `__get_unaligned_cpu32` as a 4-byte
    //! `memcpy` (the header itself needs kernel includes). The byte-key vectors therefore hold
    //! for little-endian hosts, which is what the module targets (x86-64).

    use super::*;

    /// The byte key of the generated vectors: `k[i] = i * 7 + 1 (mod 256)`.
    fn byte_key() -> [u8; 64] {
        let mut k = [0u8; 64];
        for (i, b) in k.iter_mut().enumerate() {
            *b = (i as u8).wrapping_mul(7).wrapping_add(1);
        }
        k
    }

    /// The word key of the generated vectors: `w[i] = 0x01020304 * (i + 1) + i (mod 2^32)`.
    fn word_key() -> [u32; 16] {
        let mut w = [0u32; 16];
        for (i, x) in w.iter_mut().enumerate() {
            *x = 0x0102_0304u32
                .wrapping_mul(i as u32 + 1)
                .wrapping_add(i as u32);
        }
        w
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn jhash_matches_kernel() {
        // (length, initval, jhash(byte_key()[..length], initval))
        const V: &[(usize, u32, u32)] = &[
            (0, 0x00000000, 0xdeadbeef),
            (1, 0x00000000, 0x04ec883b),
            (2, 0x00000000, 0x022bc7fb),
            (3, 0x00000000, 0x96c2fd10),
            (4, 0x00000000, 0x46f8eec9),
            (5, 0x00000000, 0xb21735c1),
            (7, 0x00000000, 0x098fbe6f),
            (8, 0x00000000, 0x9afdb1b3),
            (11, 0x00000000, 0x75299b1b),
            (12, 0x00000000, 0x38919c27),
            (13, 0x00000000, 0xe1f0cbae),
            (23, 0x00000000, 0x9abf08a7),
            (24, 0x00000000, 0xff0cb32c),
            (25, 0x00000000, 0x0abb8113),
            (36, 0x00000000, 0x6508c67b),
            (37, 0x00000000, 0x119d4e58),
            (40, 0x00000000, 0x706c33cc),
            (0, 0x12345678, 0xf0e21567),
            (1, 0x12345678, 0x40158784),
            (2, 0x12345678, 0x36a5ab8f),
            (3, 0x12345678, 0xd8f0e5df),
            (4, 0x12345678, 0xf7e6ac94),
            (5, 0x12345678, 0x236bf5cd),
            (7, 0x12345678, 0xacd73b78),
            (8, 0x12345678, 0xdc12b871),
            (11, 0x12345678, 0x832a600e),
            (12, 0x12345678, 0xe8f4c145),
            (13, 0x12345678, 0xa2fbe119),
            (23, 0x12345678, 0x1bde1d1a),
            (24, 0x12345678, 0x56fa96df),
            (25, 0x12345678, 0xe5fc355e),
            (36, 0x12345678, 0xedcc0c42),
            (37, 0x12345678, 0x14af5695),
            (40, 0x12345678, 0x9d695eda),
        ];
        let key = byte_key();
        for &(len, init, want) in V {
            assert_eq!(jhash(&key[..len], init), want, "len {len} init {init:#x}");
        }
        // An unaligned start (the kernel reads with get_unaligned): key + 1, 13 bytes, initval 7.
        assert_eq!(jhash(&key[1..14], 7), 0xc4a2dc87);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn jhash_lookup3_reference_strings() {
        // The same harness; the last two are also the values Bob Jenkins' lookup3.c driver
        // prints for hashlittle(), which the kernel's jhash is.
        assert_eq!(jhash(b"", 0), 0xdeadbeef);
        assert_eq!(jhash(b"a", 0), 0x58d68708);
        assert_eq!(jhash(b"Four score and seven years ago", 0), 0x17770551);
        assert_eq!(jhash(b"Four score and seven years ago", 1), 0xcd628161);
    }

    #[test]
    fn jhash2_matches_kernel() {
        // (length, initval, jhash2(word_key()[..length], initval))
        const V: &[(usize, u32, u32)] = &[
            (0, 0x00000000, 0xdeadbeef),
            (1, 0x00000000, 0xec5b1971),
            (2, 0x00000000, 0x9fb27abf),
            (3, 0x00000000, 0xbd2f44f4),
            (4, 0x00000000, 0x61eaf4fe),
            (5, 0x00000000, 0x489353ac),
            (6, 0x00000000, 0x999c3dc7),
            (7, 0x00000000, 0x47acb844),
            (8, 0x00000000, 0xc2d067e2),
            (9, 0x00000000, 0x78900b97),
            (10, 0x00000000, 0x97346cbd),
            (0, 0x12345678, 0xf0e21567),
            (1, 0x12345678, 0xe4e9385a),
            (2, 0x12345678, 0x44cb3798),
            (3, 0x12345678, 0xc44afc15),
            (4, 0x12345678, 0xc0a4a4aa),
            (5, 0x12345678, 0x618677f1),
            (6, 0x12345678, 0x79148651),
            (7, 0x12345678, 0xc28d254d),
            (8, 0x12345678, 0x97ffb7df),
            (9, 0x12345678, 0x1e660ed0),
            (10, 0x12345678, 0xf4d9f1c9),
        ];
        let key = word_key();
        for &(len, init, want) in V {
            assert_eq!(jhash2(&key[..len], init), want, "len {len} init {init:#x}");
        }
    }

    #[test]
    fn jhash_3words_matches_kernel() {
        // (a, b, c, initval, jhash_3words(a, b, c, initval))
        const V: &[(u32, u32, u32, u32, u32)] = &[
            (0x00000000, 0x00000000, 0x00000000, 0x00000000, 0x1b68e557),
            (0x00000001, 0x00000002, 0x00000003, 0x00000000, 0xa46158f5),
            (0x00000001, 0x00000002, 0x00000003, 0x00000001, 0x0e3bbaf2),
            (0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff, 0xc343af0b),
            (0x0a000001, 0x0a000002, 0x00500050, 0x00000000, 0xf33462f1),
            (0xc0a80001, 0x00001f90, 0x00000006, 0xdeadbeef, 0xcafaea9e),
            (0xdeadbeef, 0xcafebabe, 0x8badf00d, 0x12345678, 0x07c3acb1),
            (0x80000000, 0x00000000, 0x00000001, 0x7fffffff, 0x1e350b8f),
            (0x01020304, 0x05060708, 0x090a0b0c, 0x0000002a, 0x70022ac8),
            (0xfffffff0, 0x00000010, 0x00000100, 0x00001000, 0x6393f1c2),
        ];
        for &(a, b, c, init, want) in V {
            assert_eq!(
                jhash_3words(a, b, c, init),
                want,
                "{a:#x} {b:#x} {c:#x} {init:#x}"
            );
        }
    }

    #[test]
    fn jhash_2words_and_1word_match_kernel() {
        assert_eq!(jhash_2words(0x0a000001, 0x50, 0), 0x237e65d7);
        assert_eq!(jhash_2words(0x11111111, 0x22222222, 0x55), 0xc0ebb11a);
        assert_eq!(jhash_1word(0x0a000001, 0), 0x3483bc84);
        assert_eq!(jhash_1word(0xdeadbeef, 0x1234), 0xe872e55d);
    }

    #[cfg(target_endian = "little")]
    #[test]
    fn jhash_of_words_differs_from_jhash2_only_by_length_scale() {
        // jhash over 4n bytes and jhash2 over the same n words share the mixing but not the
        // initial value (bytes: + length; words: + length << 2 = the same byte count), so on a
        // little-endian host they agree: a cross-check of the block and tail handling.
        let w = word_key();
        for n in 0..=10usize {
            let mut bytes = [0u8; 40];
            for (dst, word) in bytes.chunks_exact_mut(4).zip(w.iter()) {
                dst.copy_from_slice(&word.to_le_bytes());
            }
            assert_eq!(jhash(&bytes[..4 * n], 9), jhash2(&w[..n], 9), "n {n}");
        }
    }
}
