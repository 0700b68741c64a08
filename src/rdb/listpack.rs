//! Listpacks (Redis 7's compact encoding of small hashes, zsets and list
//! nodes): a 6-byte header (total bytes, element count), the elements, a
//! 0xFF terminator. Integers come back as their decimal text.

use super::cursor::{Cursor, Result};

#[cfg(test)]
const HEADER_SIZE: usize = 6;
const TERMINATOR: u8 = 0xFF;
/// The element count of the header saturates here; the real count is
/// then found by walking.
const COUNT_UNKNOWN: u16 = u16::MAX;

/// The elements of the listpack `blob`, which starts at absolute offset
/// `base` in the input.
pub fn elements(blob: &[u8], base: usize) -> Result<Vec<Vec<u8>>> {
    let mut c = Cursor::nested(blob, base);
    let total = u32::from_le_bytes(c.array()?) as usize;
    let count = u16::from_le_bytes(c.array()?);
    if total != blob.len() {
        return Err(c.error_at(
            base,
            format!("listpack says {total} bytes, has {}", blob.len()),
        ));
    }
    // Each element is at least 2 bytes (encoding and back length).
    let mut out = Vec::with_capacity((count as usize).min(blob.len() / 2));
    loop {
        let at = c.offset();
        let first = c.byte()?;
        if first == TERMINATOR {
            break;
        }
        let element = element(&mut c, first)?;
        // The back length: the size of encoding and data, 7 bits a byte.
        let size = c.offset() - at;
        let back = c.take(back_len_size(size) as u64)?;
        if decode_back_len(back) != size {
            return Err(c.error_at(at, "listpack back length does not match its element"));
        }
        out.push(element);
    }
    if c.remaining() != 0 {
        return Err(c.error("data after the listpack terminator"));
    }
    if count != COUNT_UNKNOWN && count as usize != out.len() {
        return Err(c.error_at(base + 4, "listpack count does not match its elements"));
    }
    Ok(out)
}

/// One element's value, its first byte already read.
fn element(c: &mut Cursor, first: u8) -> Result<Vec<u8>> {
    let int = |v: i64| Ok(v.to_string().into_bytes());
    match first {
        // 0xxxxxxx: a 7-bit unsigned integer.
        0x00..=0x7f => int(first as i64),
        // 10xxxxxx: a string of up to 63 bytes.
        0x80..=0xbf => Ok(c.take((first & 0x3f) as u64)?.to_vec()),
        // 110xxxxx yyyyyyyy: a 13-bit signed integer.
        0xc0..=0xdf => {
            let v = (((first & 0x1f) as i64) << 8) | c.byte()? as i64;
            int(if v >= 1 << 12 { v - (1 << 13) } else { v })
        }
        // 1110xxxx yyyyyyyy: a string of up to 4095 bytes.
        0xe0..=0xef => {
            let len = (((first & 0x0f) as u64) << 8) | c.byte()? as u64;
            Ok(c.take(len)?.to_vec())
        }
        0xf0 => {
            let len = u32::from_le_bytes(c.array()?) as u64;
            Ok(c.take(len)?.to_vec())
        }
        0xf1 => int(i16::from_le_bytes(c.array()?) as i64),
        0xf2 => {
            let [a, b, d] = c.array()?;
            int((i32::from_le_bytes([0, a, b, d]) >> 8) as i64)
        }
        0xf3 => int(i32::from_le_bytes(c.array()?) as i64),
        0xf4 => int(i64::from_le_bytes(c.array()?)),
        _ => Err(c.error_at(
            c.offset() - 1,
            format!("unknown listpack encoding {first:#04x}"),
        )),
    }
}

fn back_len_size(size: usize) -> usize {
    match size {
        0..=127 => 1,
        128..=16383 => 2,
        16384..=2097151 => 3,
        2097152..=268435455 => 4,
        _ => 5,
    }
}

/// The back length is stored last byte first, 7 bits each.
fn decode_back_len(bytes: &[u8]) -> usize {
    bytes
        .iter()
        .fold(0usize, |acc, &b| (acc << 7) | (b & 0x7f) as usize)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A listpack of `elements` (each given as encoded bytes + data).
    pub(crate) fn build(encoded: &[&[u8]]) -> Vec<u8> {
        let mut body = Vec::new();
        for e in encoded {
            body.extend_from_slice(e);
            let size = e.len();
            let n = back_len_size(size);
            for i in (0..n).rev() {
                let part = ((size >> (7 * i)) & 0x7f) as u8;
                body.push(if i == n - 1 { part } else { part | 0x80 });
            }
        }
        let total = (HEADER_SIZE + body.len() + 1) as u32;
        let mut out = total.to_le_bytes().to_vec();
        out.extend_from_slice(&(encoded.len() as u16).to_le_bytes());
        out.extend_from_slice(&body);
        out.push(TERMINATOR);
        out
    }

    #[test]
    fn decodes_every_element_encoding() {
        let long = vec![b'y'; 200];
        let mut e12 = vec![0xe0, 200];
        e12.extend_from_slice(&long);
        let lp = build(&[
            b"\x05",
            b"\x83abc",
            b"\xdf\xff",             // 13-bit -1
            &e12,                    // 12-bit length string
            b"\xf1\x00\x80",         // int16 -32768
            b"\xf2\xff\xff\x7f",     // int24 max
            b"\xf3\xff\xff\xff\xff", // int32 -1
            b"\xf4\x00\x00\x00\x00\x00\x00\x00\x80",
            b"\xf0\x02\x00\x00\x00hi",
        ]);
        let got = elements(&lp, 0).unwrap();
        let want: Vec<Vec<u8>> = vec![
            b"5".to_vec(),
            b"abc".to_vec(),
            b"-1".to_vec(),
            long,
            b"-32768".to_vec(),
            b"8388607".to_vec(),
            b"-1".to_vec(),
            i64::MIN.to_string().into_bytes(),
            b"hi".to_vec(),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn malformed_listpacks_are_errors_with_offsets() {
        let lp = build(&[b"\x83abc"]);
        // Truncated: the total no longer matches.
        assert_eq!(elements(&lp[..lp.len() - 1], 100).unwrap_err().offset, 100);
        // No terminator but the right total.
        let mut cut = lp[..lp.len() - 1].to_vec();
        cut[0] -= 1;
        assert!(elements(&cut, 0).is_err());
        // A string running past the end.
        let mut bad = lp.clone();
        bad[6] = 0xbf;
        assert!(elements(&bad, 0).is_err());
        // A wrong back length.
        let mut bad = lp.clone();
        bad[10] = 9;
        assert_eq!(elements(&bad, 0).unwrap_err().offset, 6);
        // A wrong count.
        let mut bad = lp.clone();
        bad[4] = 7;
        assert_eq!(elements(&bad, 0).unwrap_err().offset, 4);
        // An unknown encoding.
        assert!(elements(&build(&[b"\xf5"]), 0).is_err());
        // Too short for a header.
        assert!(elements(b"\x01", 0).is_err());
    }
}
