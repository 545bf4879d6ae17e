// SPDX-License-Identifier: GPL-2.0

//! Sizing of the connection hash table (the table itself is `conn::ConnTable`).
//!
//! IPVS takes the table size as a power of two from the read-only module parameter `conn_tab_bits`
//! and clamps it to what the memory allows (`ip_vs_conn_init`); `IPVS_CMD_GET_INFO` reports the
//! resulting size. rvs starts
//! with that size and grows the table when it holds more than [`GROW_LOAD`] connections per
//! bucket, to a size where it holds at most one, up to [`GROW_MAX_BITS`] (the largest array one
//! atomic allocation gives: it is allocated by the namespace's timer). The reported size is the
//! current one.
//!
//! `/proc/net/ip_vs_conn` lists a bucket, or a few of a large table, per record. Its positions
//! are those of a table of `2^MAX_BITS` buckets with the bucket numbers' bits reversed, so that a
//! bucket of any size covers consecutive positions and a position where a listing stopped stays
//! the start of a bucket when the table grows: a listing that spans a growth shows each
//! connection once.

/// Default number of hash bits (`CONFIG_IP_VS_TAB_BITS`), the default of the module parameter.
#[cfg(test)]
const DEFAULT_BITS: u32 = 12;
/// Smallest accepted number of hash bits.
pub(crate) const MIN_BITS: u32 = 8;
/// Largest accepted number of hash bits on a 64-bit machine with the memory for it.
pub(crate) const MAX_BITS: u32 = 27;
/// `order_base_2(sizeof(struct ip_vs_conn))` on 64-bit 6.12 (288 bytes), which IPVS's memory
/// bound uses; rvs bounds the table as IPVS does so that a parameter gives the same size.
const IPVS_CONN_ORDER: u32 = 9;
const PAGE_SHIFT: u32 = 12;

/// The largest number of hash bits for a machine with `ram_pages` pages (`ip_vs_conn_init`:
/// about 4 connections per bucket in half of the memory).
pub(crate) fn max_bits(ram_pages: u64) -> u32 {
    let order = u64::BITS - ram_pages.saturating_sub(1).leading_zeros();
    (order + PAGE_SHIFT)
        .saturating_sub(2 + 1 + IPVS_CONN_ORDER)
        .clamp(MIN_BITS, MAX_BITS)
}

/// Returns the number of hash bits to use for a requested `conn_tab_bits` on a machine with
/// `ram_pages` pages, clamped to `MIN_BITS..=max_bits(ram_pages)` as IPVS clamps it.
pub(crate) fn bits_for(requested: i32, ram_pages: u64) -> u32 {
    (requested.max(0) as u32).clamp(MIN_BITS, max_bits(ram_pages))
}

/// Returns the number of buckets for `bits` hash bits.
pub(crate) fn size_for(bits: u32) -> u32 {
    1 << bits
}

/// Connections per bucket above which the table grows.
pub(crate) const GROW_LOAD: usize = 2;
/// Largest number of hash bits the table grows to (2^19 buckets of 8 bytes: 4 MiB, the largest
/// kmalloc).
pub(crate) const GROW_MAX_BITS: u32 = 19;

/// The hash bits the table should have with `count` connections in `buckets` buckets: more when
/// it holds more than [`GROW_LOAD`] per bucket (at most one per bucket then), never fewer.
pub(crate) fn grown_bits(buckets: usize, count: usize) -> u32 {
    let bits = buckets.max(1).trailing_zeros();
    if count <= buckets.saturating_mul(GROW_LOAD) || bits >= GROW_MAX_BITS {
        return bits;
    }
    count
        .checked_next_power_of_two()
        .map_or(GROW_MAX_BITS, |n| n.trailing_zeros())
        .clamp(bits, GROW_MAX_BITS)
}

/// Number of listing positions of `/proc/net/ip_vs_conn` (see the module's documentation).
pub(crate) const LISTING_POSITIONS: u64 = 1 << MAX_BITS;
/// A listing record covers the positions of one bucket of a table of `2^LISTING_RECORD_BITS`
/// buckets (IPVS's default size): several buckets of a larger table, so that a listing costs as
/// many records as before the table grew, and a record is still a bounded part of the table.
const LISTING_RECORD_BITS: u32 = 12;

/// The buckets of a table of `2^bits` buckets that the listing record at `position` shows.
pub(crate) fn listing_buckets(position: u64, bits: u32) -> impl Iterator<Item = usize> {
    listing_buckets_in(MAX_BITS, position, bits)
}

/// The position of the listing record after the one at `position`, for a table of `2^bits`
/// buckets.
pub(crate) fn next_listing_position(position: u64, bits: u32) -> u64 {
    next_listing_position_in(MAX_BITS, position, bits)
}

/// [`listing_buckets`] with `2^space` positions.
fn listing_buckets_in(space: u32, position: u64, bits: u32) -> impl Iterator<Item = usize> {
    let bits = bits.clamp(1, space);
    let span = 1u64 << (space - bits);
    let end = next_listing_position_in(space, position, bits);
    (position..end).step_by(span as usize).map(move |p| {
        let prefix = (p >> (space - bits)) as u32;
        (prefix.reverse_bits() >> (32 - bits)) as usize
    })
}

/// [`next_listing_position`] with `2^space` positions.
fn next_listing_position_in(space: u32, position: u64, bits: u32) -> u64 {
    let shift = space - bits.clamp(1, space).min(LISTING_RECORD_BITS);
    ((position >> shift) + 1) << shift
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_like_ipvs() {
        const GIB: u64 = 1 << 18; // pages
        assert_eq!(bits_for(12, GIB), 12);
        assert_eq!(bits_for(-1, GIB), MIN_BITS);
        assert_eq!(bits_for(i32::MIN, GIB), MIN_BITS);
        assert_eq!(bits_for(7, GIB), MIN_BITS);
        assert_eq!(bits_for(8, GIB), 8);
        // 1 GiB (a little less: order_base_2 rounds up): 18 + 12 - 3 - 9 = 18 bits.
        assert_eq!(bits_for(20, GIB - 1000), 18);
        assert_eq!(bits_for(20, 2 * GIB - 1000), 19);
        assert_eq!(bits_for(20, 24 * GIB), 20);
        assert_eq!(bits_for(i32::MAX, 24 * GIB), 23);
        assert_eq!(bits_for(i32::MAX, 1 << 40), MAX_BITS);
        assert_eq!(bits_for(12, 1024), 10);
        assert_eq!(max_bits(1), MIN_BITS);
        assert_eq!(size_for(DEFAULT_BITS), 4096);
    }

    #[test]
    fn grows_past_two_per_bucket_to_one_per_bucket() {
        assert_eq!(grown_bits(4096, 0), 12);
        assert_eq!(grown_bits(4096, 8192), 12);
        assert_eq!(grown_bits(4096, 8193), 14);
        assert_eq!(grown_bits(4096, 16384), 14);
        assert_eq!(grown_bits(4096, 200_000), 18);
        assert_eq!(grown_bits(1 << 14, 36_000), 16);
        assert_eq!(grown_bits(1 << 18, 1_000_000), 19);
        assert_eq!(grown_bits(1 << 19, usize::MAX), 19);
        assert_eq!(grown_bits(1 << 20, 100_000_000), 20);
        assert_eq!(grown_bits(4096, usize::MAX), GROW_MAX_BITS);
    }

    /// The listing's arithmetic is the same for any number of positions; the tests use
    /// `2^SPACE` (the module's is `2^MAX_BITS`) to stay fast.
    const SPACE: u32 = 20;

    /// Lists a table whose size changes from `2^from` to `2^to` buckets after `after` records;
    /// returns how often each hash (of `SPACE` bits) was covered.
    fn listing(from: u32, to: u32, after: usize) -> Vec<u8> {
        let mut seen = vec![0u8; 1 << SPACE];
        let mut position = 0;
        let mut records = 0;
        while position < 1 << SPACE {
            let bits = if records < after { from } else { to };
            for bucket in listing_buckets_in(SPACE, position, bits) {
                for hash in (bucket..1 << SPACE).step_by(1 << bits) {
                    seen[hash] += 1;
                }
            }
            position = next_listing_position_in(SPACE, position, bits);
            records += 1;
        }
        seen
    }

    #[test]
    fn a_listing_covers_every_bucket_once() {
        for bits in [MIN_BITS, 12, GROW_MAX_BITS, SPACE] {
            assert!(
                listing(bits, bits, 0).iter().all(|&n| n == 1),
                "{bits} bits"
            );
        }
    }

    #[test]
    fn a_listing_has_as_many_records_as_a_table_of_the_default_size_or_fewer() {
        let records = |bits| {
            let mut position = 0;
            let mut n = 0;
            while position < LISTING_POSITIONS {
                position = next_listing_position(position, bits);
                n += 1;
            }
            n
        };
        assert_eq!(records(8), 256);
        assert_eq!(records(12), 4096);
        assert_eq!(records(19), 4096);
        assert_eq!(records(MAX_BITS), 4096);
        assert_eq!(listing_buckets(0, 19).count(), 128);
        assert_eq!(listing_buckets(0, 8).count(), 1);
        assert_eq!(
            listing_buckets(
                LISTING_POSITIONS - 1 - (LISTING_POSITIONS - 1) % (1 << 15),
                12
            )
            .collect::<Vec<_>>(),
            [4095]
        );
    }

    #[test]
    fn a_listing_that_spans_a_growth_covers_every_hash_once() {
        for (from, to, after) in [(8, 12, 100), (12, 14, 1), (12, 19, 4095), (8, SPACE, 7)] {
            assert!(
                listing(from, to, after).iter().all(|&n| n == 1),
                "{from}->{to} at {after}"
            );
        }
    }
}
