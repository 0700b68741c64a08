//! Ziplists (the compact encoding before Redis 7; RDB types 10, 12, 13
//! and quicklist 14 nodes): header (total bytes, tail offset, count), the
//! entries each behind their previous entry's length, a 0xFF terminator.

use super::cursor::{Cursor, Result};

const TERMINATOR: u8 = 0xFF;
/// A previous-entry length of this or more takes 4 more bytes.
const PREV_LEN_BIG: u8 = 254;
const COUNT_UNKNOWN: u16 = u16::MAX;

/// The entries of the ziplist `blob`, which starts at absolute offset
/// `base` in the input. Integers come back as their decimal text.
pub fn entries(blob: &[u8], base: usize) -> Result<Vec<Vec<u8>>> {
    let mut c = Cursor::nested(blob, base);
    let total = u32::from_le_bytes(c.array()?) as usize;
    let _tail = u32::from_le_bytes(c.array()?);
    let count = u16::from_le_bytes(c.array()?);
    if total != blob.len() {
        return Err(c.error_at(
            base,
            format!("ziplist says {total} bytes, has {}", blob.len()),
        ));
    }
    let mut out = Vec::with_capacity((count as usize).min(blob.len() / 2));
    let mut prev_size = 0usize;
    loop {
        let at = c.offset();
        let first = c.byte()?;
        if first == TERMINATOR {
            break;
        }
        let prev = if first >= PREV_LEN_BIG {
            u32::from_le_bytes(c.array()?) as usize
        } else {
            first as usize
        };
        if prev != prev_size {
            return Err(c.error_at(at, "ziplist previous length does not match"));
        }
        out.push(entry(&mut c)?);
        prev_size = c.offset() - at;
    }
    if c.remaining() != 0 {
        return Err(c.error("data after the ziplist terminator"));
    }
    if count != COUNT_UNKNOWN && count as usize != out.len() {
        return Err(c.error_at(base + 8, "ziplist count does not match its entries"));
    }
    Ok(out)
}

fn entry(c: &mut Cursor) -> Result<Vec<u8>> {
    let at = c.offset();
    let enc = c.byte()?;
    let int = |v: i64| Ok(v.to_string().into_bytes());
    match enc >> 6 {
        0 => return Ok(c.take((enc & 0x3f) as u64)?.to_vec()),
        1 => {
            let len = (((enc & 0x3f) as u64) << 8) | c.byte()? as u64;
            return Ok(c.take(len)?.to_vec());
        }
        2 if enc == 0x80 => {
            let len = u32::from_be_bytes(c.array()?) as u64;
            return Ok(c.take(len)?.to_vec());
        }
        _ => {}
    }
    match enc {
        0xc0 => int(i16::from_le_bytes(c.array()?) as i64),
        0xd0 => int(i32::from_le_bytes(c.array()?) as i64),
        0xe0 => int(i64::from_le_bytes(c.array()?)),
        0xf0 => {
            let [a, b, d] = c.array()?;
            int((i32::from_le_bytes([0, a, b, d]) >> 8) as i64)
        }
        0xfe => int(c.byte()? as i8 as i64),
        // 1111xxxx: an immediate 0..12 stored as xxxx - 1.
        0xf1..=0xfd => int((enc & 0x0f) as i64 - 1),
        _ => Err(c.error_at(at, format!("unknown ziplist encoding {enc:#04x}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ziplist of entries given as encoding + data.
    fn build(encoded: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        let mut prev = 0usize;
        for e in encoded {
            let start = body.len();
            if prev < 254 {
                body.push(prev as u8);
            } else {
                body.push(254);
                body.extend_from_slice(&(prev as u32).to_le_bytes());
            }
            body.extend_from_slice(e);
            prev = body.len() - start;
        }
        let total = (10 + body.len() + 1) as u32;
        let mut out = total.to_le_bytes().to_vec();
        out.extend_from_slice(&0u32.to_le_bytes());
        out.extend_from_slice(&(encoded.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(TERMINATOR);
        out
    }

    #[test]
    fn decodes_every_entry_encoding() {
        let long = vec![b'z'; 300];
        let mut e14 = vec![0x41, 0x2c];
        e14.extend_from_slice(&long);
        let zl = build(&[
            b"\x03abc",
            &e14, // 14-bit length, and a big previous length after it
            b"\xc0\x00\x80",
            b"\xd0\xff\xff\xff\xff",
            b"\xe0\x01\x00\x00\x00\x00\x00\x00\x00",
            b"\xf0\xff\xff\xff",
            b"\xfe\x80",
            b"\xf1",
            b"\xfd",
            b"\x80\x00\x00\x00\x02hi",
        ]);
        let want: Vec<Vec<u8>> = [
            &b"abc"[..],
            &long,
            b"-32768",
            b"-1",
            b"1",
            b"-1",
            b"-128",
            b"0",
            b"12",
            b"hi",
        ]
        .iter()
        .map(|s| s.to_vec())
        .collect();
        assert_eq!(entries(&zl, 0).unwrap(), want);
    }

    #[test]
    fn malformed_ziplists_are_errors_with_offsets() {
        let zl = build(&[b"\x03abc", b"\xfe\x01"]);
        assert_eq!(entries(&zl[..zl.len() - 1], 7).unwrap_err().offset, 7);
        let mut bad = zl.clone();
        bad[15] = 3; // the second entry's previous length
        assert_eq!(entries(&bad, 0).unwrap_err().offset, 15);
        let mut bad = zl.clone();
        bad[11] = 0x3f; // a string past the end
        assert!(entries(&bad, 0).is_err());
        let mut bad = zl.clone();
        bad[16] = 0xff - 0x10; // 0xef: unknown
        assert!(entries(&bad, 0).is_err());
        assert!(entries(b"", 0).is_err());
    }
}
