//! The DUMP payload, as Redis 7.0's `createDumpPayload` and
//! `verifyDumpPayload` make and check it: one value in the RDB encoding
//! (its type byte, then the value), the RDB version as two bytes little
//! endian, and the CRC64 of everything before as eight bytes little
//! endian.
//!
//! A payload comes from a client: it is verified before it is decoded,
//! and decoding is the file reader's, bounded and panic-free.

use super::cursor::Cursor;
use super::{crc, read, write, Error, RDB_VERSION};
use crate::store::{Value, ValueRef};

/// The RDB version field after the value.
const VERSION_BYTES: usize = 2;
/// The CRC64 field that ends the payload.
const CRC_BYTES: usize = 8;
/// Both fields: the shortest a payload can be.
const FOOTER_BYTES: usize = VERSION_BYTES + CRC_BYTES;

/// Why a payload was refused (RESTORE tells the two apart, as Redis does).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PayloadError {
    /// Too short, from a newer RDB version, or the checksum does not match.
    VersionOrChecksum,
    /// Verified, but the value does not decode (or is an empty collection,
    /// which Redis refuses too).
    BadData(Error),
}

/// The DUMP payload of `value`, its strings uncompressed (every Redis
/// restores it; Redis itself compresses long strings when
/// `rdbcompression` is on).
pub fn dump(value: ValueRef<'_>) -> Vec<u8> {
    let mut body = vec![write::value_type(value)];
    write::encode_value(&mut body, value, false);
    seal(body)
}

/// `body` with the footer appended: the RDB version, then the CRC64 of
/// everything before the CRC (FUNCTION DUMP's payloads end the same way).
pub fn seal(mut body: Vec<u8>) -> Vec<u8> {
    body.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc::crc64(&body);
    body.extend_from_slice(&crc.to_le_bytes());
    body
}

/// Checks the footer of `payload` (Redis's `verifyDumpPayload`); the
/// encoded value before it.
pub fn verify(payload: &[u8]) -> Result<&[u8], PayloadError> {
    let body_len = payload
        .len()
        .checked_sub(FOOTER_BYTES)
        .ok_or(PayloadError::VersionOrChecksum)?;
    let (covered, stored_crc) = payload.split_at(payload.len() - CRC_BYTES);
    let version = u16::from_le_bytes([covered[body_len], covered[body_len + 1]]);
    if version > RDB_VERSION {
        return Err(PayloadError::VersionOrChecksum);
    }
    // Unlike a file's, a payload's zero checksum is checked like any other.
    if crc::crc64(covered).to_le_bytes() != stored_crc {
        return Err(PayloadError::VersionOrChecksum);
    }
    Ok(&payload[..body_len])
}

/// The value `payload` holds, verified then decoded.
pub fn restore(payload: &[u8]) -> Result<Value, PayloadError> {
    let body = verify(payload)?;
    let mut c = Cursor::new(body);
    let kind = c.byte().map_err(PayloadError::BadData)?;
    let value = read::value(&mut c, kind, 0).map_err(PayloadError::BadData)?;
    let Some(value) = value else {
        return Err(PayloadError::BadData(Error::new(1, "empty collection")));
    };
    // Redis would read on into the footer; a value that does not end at
    // it is refused rather than guessed at.
    if c.remaining() != 0 {
        return Err(PayloadError::BadData(c.error("bytes after the value")));
    }
    Ok(value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::value::{Hash, Set};
    use crate::store::ZSet;

    fn samples() -> Vec<Value> {
        let mut hash = Hash::new();
        hash.insert(b"f".to_vec().into_boxed_slice(), b"v".to_vec());
        hash.insert(b"n".to_vec().into_boxed_slice(), b"-42".to_vec());
        let mut set = Set::new();
        set.insert(b"a".to_vec().into_boxed_slice());
        set.insert(b"70000".to_vec().into_boxed_slice());
        let zset = ZSet::from_pairs(vec![
            (b"x".to_vec().into_boxed_slice(), 1.5),
            (b"y".to_vec().into_boxed_slice(), f64::INFINITY),
        ]);
        vec![
            Value::Str(b"hello".to_vec()),
            Value::Str(b"12345".to_vec()),
            Value::Str(Vec::new()),
            Value::List(vec![b"1".to_vec(), b"".to_vec(), vec![b'x'; 300]].into()),
            Value::Hash(hash),
            Value::Set(set),
            Value::ZSet(zset),
        ]
    }

    #[test]
    fn what_dump_makes_restore_reads() {
        for value in samples() {
            let payload = dump(value.as_value_ref());
            assert_eq!(restore(&payload), Ok(value));
        }
    }

    #[test]
    fn matches_redis_byte_for_byte() {
        // `SET k hello` then `DUMP k` on redis-server 7.0.
        let redis = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
        let ours = dump(ValueRef::Str(b"hello"));
        assert_eq!(ours, redis);
        assert_eq!(restore(redis), Ok(Value::Str(b"hello".to_vec())));
        // `RPUSH l a b`: a quicklist of one listpack node.
        let redis = b"\x12\x01\x02\x0d\x0d\x00\x00\x00\x02\x00\x81a\x02\x81b\x02\xff\x0a\x00h\xeb\x0a\x89\x13A\xbb\xb1";
        let list = vec![b"a".to_vec(), b"b".to_vec()].into();
        assert_eq!(restore(redis), Ok(Value::List(list)));
    }

    #[test]
    fn version_and_checksum_are_verified() {
        let mut payload = dump(ValueRef::Str(b"v"));
        let n = payload.len();
        // Version 11: refused even with a matching checksum.
        payload[n - 10] = 11;
        let crc = crc::crc64(&payload[..n - 8]);
        payload[n - 8..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&payload), Err(PayloadError::VersionOrChecksum));
        // An older version is accepted.
        payload[n - 10] = 9;
        let crc = crc::crc64(&payload[..n - 8]);
        payload[n - 8..].copy_from_slice(&crc.to_le_bytes());
        assert_eq!(restore(&payload), Ok(Value::Str(b"v".to_vec())));
        // A zero checksum is not a pass.
        payload[n - 8..].fill(0);
        assert_eq!(restore(&payload), Err(PayloadError::VersionOrChecksum));
        for short in [&b""[..], b"\x00", &[0u8; FOOTER_BYTES - 1]] {
            assert_eq!(restore(short), Err(PayloadError::VersionOrChecksum));
        }
    }

    /// A body sealed with a good footer, so only decoding can refuse it.
    fn sealed(body: &[u8]) -> Vec<u8> {
        seal(body.to_vec())
    }

    #[test]
    fn verified_but_undecodable_is_bad_data() {
        let bad: [&[u8]; 6] = [
            b"",                   // no type byte
            b"\x0f\x00",           // a stream
            b"\x02\x00",           // an empty set
            b"\x00\x05hel",        // a string cut short
            b"\x00\x01vx",         // bytes after the value
            b"\x02\x02\x01a\x01a", // a duplicate set member
        ];
        for body in bad {
            let result = restore(&sealed(body));
            assert!(
                matches!(result, Err(PayloadError::BadData(_))),
                "{body:?}: {result:?}"
            );
        }
    }

    #[test]
    fn every_cut_and_every_flipped_byte_is_refused_without_panic() {
        for value in samples() {
            let payload = dump(value.as_value_ref());
            for len in 0..payload.len() {
                assert!(restore(&payload[..len]).is_err(), "cut at {len}");
            }
            for i in 0..payload.len() {
                for flip in [0x01u8, 0x80, 0xff] {
                    let mut bad = payload.clone();
                    bad[i] ^= flip;
                    assert!(restore(&bad).is_err(), "flip {flip:#x} at {i}");
                    // The same damage behind a good footer reaches the
                    // decoder: it must refuse or decode, never panic.
                    let n = bad.len();
                    let _ = restore(&sealed(&bad[..n - FOOTER_BYTES]));
                }
            }
        }
    }
}
