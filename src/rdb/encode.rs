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

/// Strings no longer than this are never compressed (as Redis).
const MIN_COMPRESSED_LEN: usize = 21;
/// Compression must save at least this many bytes (as Redis).
const MIN_COMPRESSION_SAVING: usize = 4;

/// Appends a string as Redis's `rdbSaveRawString` does: integer-encoded
/// when it is the canonical text of an integer that fits 32 bits, else
/// LZF-compressed when `compress` (`rdbcompression`) and that saves at
/// least four bytes, else plain.
pub fn string(out: &mut Vec<u8>, s: &[u8], compress: bool) {
    if compress && s.len() >= MIN_COMPRESSED_LEN {
        if let Some(packed) = super::lzf::compress(s, s.len() - MIN_COMPRESSION_SAVING) {
            out.push((LEN_ENCVAL << 6) | ENC_LZF);
            length(out, packed.len() as u64);
            length(out, s.len() as u64);
            out.extend_from_slice(&packed);
            return;
        }
    }
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
            string(&mut out, text, true);
            assert_eq!(out, bytes);
            assert_eq!(Cursor::new(&out).string().unwrap(), text);
        }
    }

    #[test]
    fn long_strings_are_compressed_only_when_asked_and_worth_it() {
        let text = b"hello hello hello hello hello hello".as_slice();
        let (mut packed, mut plain) = (Vec::new(), Vec::new());
        string(&mut packed, text, true);
        string(&mut plain, text, false);
        assert_eq!(packed[0], (LEN_ENCVAL << 6) | ENC_LZF);
        assert!(packed.len() < plain.len());
        assert_eq!(plain, [&[text.len() as u8][..], text].concat());
        assert_eq!(Cursor::new(&packed).string().unwrap(), text);
        // Twenty bytes or incompressible: plain, as Redis.
        for short in [&b"aaaaaaaaaaaaaaaaaaaa"[..], b"abcdefghijklmnopqrstuvwxyz"] {
            let mut out = Vec::new();
            string(&mut out, short, true);
            assert_eq!(out, [&[short.len() as u8][..], short].concat());
        }
    }
}
