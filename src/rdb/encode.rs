//! Appending RDB primitives to a buffer: lengths, strings, scores.

use super::format::*;

/// Appends a length in its shortest form.
pub fn length(out: &mut Vec<u8>, len: u64) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[(LEN_14BIT << 6) | (len >> 8) as u8, len as u8]);
    } else if len <= u32::MAX as u64 {
        out.push(LEN_32BIT);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(LEN_64BIT);
        out.extend_from_slice(&len.to_be_bytes());
    }
}

/// Appends a plain (uncompressed, not integer-encoded) string.
pub fn string_plain(out: &mut Vec<u8>, s: &[u8]) {
    length(out, s.len() as u64);
    out.extend_from_slice(s);
}

/// Appends a string, integer-encoded when it is the canonical text of an
/// integer that fits 32 bits (as Redis's `rdbTryIntegerEncoding`).
pub fn string(out: &mut Vec<u8>, s: &[u8]) {
    match canonical_int(s) {
        Some(v) if i8::try_from(v).is_ok() => {
            out.extend_from_slice(&[(LEN_ENCVAL << 6) | ENC_INT8, v as i8 as u8])
        }
        Some(v) if i16::try_from(v).is_ok() => {
            out.push((LEN_ENCVAL << 6) | ENC_INT16);
            out.extend_from_slice(&(v as i16).to_le_bytes());
        }
        Some(v) if i32::try_from(v).is_ok() => {
            out.push((LEN_ENCVAL << 6) | ENC_INT32);
            out.extend_from_slice(&(v as i32).to_le_bytes());
        }
        _ => string_plain(out, s),
    }
}

/// The integer `s` spells when it reads back as the same bytes (no sign
/// on zero, no leading zeros or plus).
fn canonical_int(s: &[u8]) -> Option<i64> {
    // Only 32-bit values are encoded (11 bytes at most): most strings are
    // turned down by their length or first byte, without parsing.
    let first = *s.first()?;
    if s.len() > 11 || !(first.is_ascii_digit() || first == b'-') {
        return None;
    }
    let v: i64 = std::str::from_utf8(s).ok()?.parse().ok()?;
    (v.to_string().as_bytes() == s).then_some(v)
}

/// Appends a zset2 score: 8 bytes, little endian.
pub fn binary_double(out: &mut Vec<u8>, v: f64) {
    out.extend_from_slice(&v.to_le_bytes());
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::cursor::Cursor;

    #[test]
    fn integers_are_encoded_as_redis_does_and_read_back() {
        let cases: [(&[u8], &[u8]); 6] = [
            (b"-5", b"\xc0\xfb"),
            (b"12345", b"\xc1\x39\x30"),
            (b"-2147483648", b"\xc2\x00\x00\x00\x80"),
            (b"2147483648", b"\x0a2147483648"),
            (b"007", b"\x03007"),
            (b"-0", b"\x02-0"),
        ];
        for (text, bytes) in cases {
            let mut out = Vec::new();
            string(&mut out, text);
            assert_eq!(out, bytes);
            assert_eq!(Cursor::new(&out).string().unwrap(), text);
        }
    }
}
