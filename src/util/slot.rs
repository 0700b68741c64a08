//! Redis Cluster key-slot hashing.
//!
//! Clients compute slots themselves (and `CLUSTER KEYSLOT` exposes them), so
//! the mapping must match Redis bit for bit: CRC16-XMODEM of the key (or of
//! its hash tag) modulo [`SLOT_COUNT`].

use std::ops::Range;

/// Number of hash slots in a Redis Cluster keyspace.
pub const SLOT_COUNT: usize = 16384;

/// CRC16-CCITT (XMODEM variant: poly 0x1021, init 0, no reflection, no final
/// xor) lookup table, built at compile time so it cannot drift from the
/// polynomial.
const CRC16_TABLE: [u16; 256] = build_crc16_table();

const fn build_crc16_table() -> [u16; 256] {
    let mut table = [0u16; 256];
    let mut i = 0;
    while i < 256 {
        let mut crc = (i as u16) << 8;
        let mut bit = 0;
        while bit < 8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
            bit += 1;
        }
        table[i] = crc;
        i += 1;
    }
    table
}

/// CRC16 exactly as Redis's `crc16.c` (XMODEM); `crc16(b"123456789") == 0x31C3`.
#[must_use]
pub fn crc16(data: &[u8]) -> u16 {
    data.iter().fold(0u16, |crc, &b| {
        (crc << 8) ^ CRC16_TABLE[usize::from((crc >> 8) as u8 ^ b)]
    })
}

/// Slot of `key`, a port of Redis's `keyHashSlot`.
///
/// If the key contains a `{` followed later by a `}` with at least one byte
/// between them, only the bytes between the *first* `{` and the first `}`
/// after it are hashed (the "hash tag"), so related keys can be forced into
/// the same slot. Otherwise the whole key is hashed.
#[must_use]
pub fn key_hash_slot(key: &[u8]) -> u16 {
    let hashed = hash_tag(key).unwrap_or(key);
    // SLOT_COUNT is a power of two, so masking equals `% SLOT_COUNT`.
    crc16(hashed) & (SLOT_COUNT as u16 - 1)
}

/// The non-empty hash tag of `key`, if it has one.
fn hash_tag(key: &[u8]) -> Option<&[u8]> {
    let open = key.iter().position(|&b| b == b'{')?;
    let after = key.get(open + 1..)?;
    let close = after.iter().position(|&b| b == b'}')?;
    if close == 0 {
        return None; // "{}" does not count as a tag
    }
    after.get(..close)
}

// ---- Shards own contiguous slot ranges ----

/// The slots shard `id` of `shards` owns: contiguous, nearly equal ranges.
pub fn slot_range(id: usize, shards: usize) -> Range<u16> {
    let start = id * SLOT_COUNT / shards;
    let end = (id + 1) * SLOT_COUNT / shards;
    start as u16..end as u16
}

/// The shard that owns `slot` (inverse of [`slot_range`]).
pub fn shard_of_slot(slot: u16, shards: usize) -> usize {
    ((slot as usize + 1) * shards - 1) / SLOT_COUNT
}

pub fn shard_of_key(key: &[u8], shards: usize) -> usize {
    // One shard owns every key: no slot hash to compute.
    if shards == 1 {
        return 0;
    }
    shard_of_slot(key_hash_slot(key), shards)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc16_check_value() {
        assert_eq!(crc16(b"123456789"), 0x31C3);
        assert_eq!(crc16(b""), 0);
    }

    #[test]
    fn crc16_table_matches_redis() {
        // First and last entries of the table printed in Redis's crc16.c.
        assert_eq!(&CRC16_TABLE[..4], &[0x0000, 0x1021, 0x2042, 0x3063]);
        assert_eq!(&CRC16_TABLE[252..], &[0x2e93, 0x3eb2, 0x0ed1, 0x1ef0]);
    }

    #[test]
    fn crc16_other_values() {
        // Reference values from an independent bitwise implementation.
        assert_eq!(crc16(b"foo"), 0xaf96);
        assert_eq!(crc16(b"hello world"), 0x3be4);
        assert_eq!(crc16(b"\xff\x00\x80"), 0x5eeb);
    }

    #[test]
    fn known_slots() {
        assert_eq!(key_hash_slot(b"foo"), 12182);
        assert_eq!(key_hash_slot(b"bar"), 5061);
        assert_eq!(key_hash_slot(b""), 0);
        assert_eq!(key_hash_slot(b"hello world"), 15332);
        assert_eq!(key_hash_slot(b"key:000000001"), 13459);
        assert_eq!(key_hash_slot(b"\xff\x00\x80"), 7915);
    }

    #[test]
    fn hash_tags() {
        let a = key_hash_slot(b"{user1000}.following");
        let b = key_hash_slot(b"{user1000}.followers");
        assert_eq!(a, b);
        assert_eq!(a, key_hash_slot(b"user1000"));
        assert_eq!(a, 3443);
        // Tag in the middle and only a tag.
        assert_eq!(key_hash_slot(b"x{a}y"), key_hash_slot(b"a"));
        assert_eq!(key_hash_slot(b"{a}b"), 15495);
        // A '}' before the first '{' is ignored.
        assert_eq!(key_hash_slot(b"}{a}"), key_hash_slot(b"a"));
    }

    #[test]
    fn degenerate_tags_hash_whole_key() {
        // Empty first tag: whole key, even though "{bar}" follows.
        assert_eq!(key_hash_slot(b"foo{}{bar}"), crc16(b"foo{}{bar}") & 0x3FFF);
        assert_eq!(key_hash_slot(b"foo{}{bar}"), 8363);
        // Tag is everything between the first '{' and the first '}'.
        assert_eq!(key_hash_slot(b"foo{{bar}}zap"), key_hash_slot(b"{bar"));
        assert_eq!(key_hash_slot(b"foo{{bar}}zap"), 4015);
        assert_eq!(key_hash_slot(b"{}"), crc16(b"{}") & 0x3FFF);
        assert_eq!(key_hash_slot(b"{}"), 15257);
        // Unterminated tags.
        assert_eq!(key_hash_slot(b"{"), 4092);
        assert_eq!(key_hash_slot(b"x{}"), 2608);
        assert_eq!(key_hash_slot(b"{abc"), crc16(b"{abc") & 0x3FFF);
    }

    #[test]
    fn slot_always_in_range() {
        let mut key = Vec::new();
        for i in 0..2000u32 {
            key.clear();
            key.extend_from_slice(&i.to_le_bytes());
            key.push(b'{');
            assert!(usize::from(key_hash_slot(&key)) < SLOT_COUNT);
        }
    }

    #[test]
    fn ranges_cover_all_slots_and_invert() {
        for shards in 1..=7 {
            let mut next = 0u16;
            for id in 0..shards {
                let r = slot_range(id, shards);
                assert_eq!(r.start, next);
                next = r.end;
                for slot in [r.start, r.end - 1] {
                    assert_eq!(shard_of_slot(slot, shards), id);
                }
            }
            assert_eq!(next as usize, SLOT_COUNT);
        }
    }
}
