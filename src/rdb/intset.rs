//! Intsets (RDB type 11): element width (2, 4 or 8 bytes), count, then the
//! sorted integers, all little endian.

use super::cursor::{Cursor, Result};

/// The members of the intset `blob` (at absolute `base`), as decimal text.
pub fn members(blob: &[u8], base: usize) -> Result<Vec<Vec<u8>>> {
    let mut c = Cursor::nested(blob, base);
    let width = u32::from_le_bytes(c.array()?);
    let count = u32::from_le_bytes(c.array()?) as u64;
    if !matches!(width, 2 | 4 | 8) {
        return Err(c.error_at(base, format!("intset width {width} is not 2, 4 or 8")));
    }
    if count.saturating_mul(width as u64) != c.remaining() as u64 {
        return Err(c.error_at(base + 4, "intset count does not match its size"));
    }
    let mut out = Vec::with_capacity(count as usize);
    for _ in 0..count {
        let v = match width {
            2 => i16::from_le_bytes(c.array()?) as i64,
            4 => i32::from_le_bytes(c.array()?) as i64,
            _ => i64::from_le_bytes(c.array()?),
        };
        out.push(v.to_string().into_bytes());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decodes_each_width_and_refuses_bad_headers() {
        let set = b"\x02\x00\x00\x00\x02\x00\x00\x00\xff\xff\x07\x00";
        assert_eq!(
            members(set, 0).unwrap(),
            vec![b"-1".to_vec(), b"7".to_vec()]
        );
        let set = b"\x08\x00\x00\x00\x01\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x80";
        assert_eq!(
            members(set, 0).unwrap(),
            vec![i64::MIN.to_string().into_bytes()]
        );
        assert_eq!(
            members(b"\x03\x00\x00\x00\x00\x00\x00\x00", 5)
                .unwrap_err()
                .offset,
            5
        );
        assert_eq!(
            members(b"\x02\x00\x00\x00\xff\xff\xff\xff\x01\x00", 0)
                .unwrap_err()
                .offset,
            4
        );
        assert!(members(b"\x02\x00", 0).is_err());
    }
}
