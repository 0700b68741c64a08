//! Zipmaps (RDB type 9, hashes before Redis 2.6): a count byte, then key,
//! value pairs each behind a length (1 byte, or 254 and 4 bytes), the
//! value also behind a count of free bytes to skip; 0xFF ends it.

use super::cursor::{Cursor, Result};

const END: u8 = 0xFF;
const BIG_LEN: u8 = 254;

/// The field, value pairs of the zipmap `blob` (at absolute `base`).
pub fn pairs(blob: &[u8], base: usize) -> Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut c = Cursor::nested(blob, base);
    let _count = c.byte()?;
    let mut out = Vec::new();
    while let Some(field_len) = len(&mut c)? {
        let field = c.take(field_len)?.to_vec();
        let at = c.offset();
        let value_len =
            len(&mut c)?.ok_or_else(|| c.error_at(at, "zipmap field without a value"))?;
        let free = c.byte()?;
        let value = c.take(value_len)?.to_vec();
        c.take(free as u64)?;
        out.push((field, value));
    }
    if c.remaining() != 0 {
        return Err(c.error("data after the zipmap end"));
    }
    Ok(out)
}

/// A length, or `None` at the end marker.
fn len(c: &mut Cursor) -> Result<Option<u64>> {
    Ok(match c.byte()? {
        END => None,
        BIG_LEN => Some(u32::from_le_bytes(c.array()?) as u64),
        n => Some(n as u64),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_pairs_with_free_space_and_refuses_truncation() {
        let zm = b"\x02\x01a\x02\x01xyZ\x01b\x00\x00\xff";
        assert_eq!(
            pairs(zm, 0).unwrap(),
            vec![
                (b"a".to_vec(), b"xy".to_vec()),
                (b"b".to_vec(), b"".to_vec())
            ]
        );
        assert_eq!(pairs(b"\x01\x01a\x05\x00ab", 10).unwrap_err().offset, 15);
        assert!(pairs(b"\x01\x01a\xff", 0).is_err());
    }
}
