// SPDX-License-Identifier: GPL-2.0

//! Sizing of the connection hash table (the table itself is `conn::ConnTable`).
//!
//! IPVS takes the table size as a power of two from the read-only module parameter `conn_tab_bits`
//! and clamps it (`ip_vs_conn_init`); `IPVS_CMD_GET_INFO` reports the resulting size.

/// Default number of hash bits (`CONFIG_IP_VS_TAB_BITS`), the default of the module parameter.
#[cfg(test)]
const DEFAULT_BITS: u32 = 12;
/// Smallest accepted number of hash bits.
pub(crate) const MIN_BITS: u32 = 8;
/// Largest accepted number of hash bits: 2^20 buckets of 8 bytes is 8 MiB of table.
pub(crate) const MAX_BITS: u32 = 20;

/// Returns the number of hash bits to use for a requested `conn_tab_bits`, clamped to
/// `MIN_BITS..=MAX_BITS` as IPVS clamps it.
pub(crate) fn bits_for(requested: i32) -> u32 {
    if requested < MIN_BITS as i32 {
        MIN_BITS
    } else if requested > MAX_BITS as i32 {
        MAX_BITS
    } else {
        requested as u32
    }
}

/// Returns the number of buckets for `bits` hash bits.
pub(crate) fn size_for(bits: u32) -> u32 {
    1 << bits
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamps_like_ipvs() {
        assert_eq!(bits_for(12), 12);
        assert_eq!(bits_for(-1), MIN_BITS);
        assert_eq!(bits_for(7), MIN_BITS);
        assert_eq!(bits_for(8), 8);
        assert_eq!(bits_for(20), 20);
        assert_eq!(bits_for(21), MAX_BITS);
        assert_eq!(bits_for(i32::MAX), MAX_BITS);
        assert_eq!(size_for(DEFAULT_BITS), 4096);
    }
}
