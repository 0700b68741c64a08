//! FUNCTION DUMP / RESTORE payloads: RDB records followed by the 2-byte
//! RDB version and the CRC64 footer. The primitives and the footer are
//! `crate::rdb`'s (the footer is DUMP's, `rdb::payload`); this keeps an
//! `Option` reader for the function code.
//!
//! Strings are always written plain; Redis LZF-compresses strings longer
//! than 20 bytes when that saves space, so its payloads for such code differ
//! from ours byte for byte, but each side restores the other's.

use crate::rdb::cursor::Cursor;
use crate::rdb::encode;

/// Appends a plain (uncompressed, not integer-encoded) RDB string.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    encode::string_plain(out, s);
}

/// Appends the footer: RDB version (little endian) and the CRC64 of
/// everything before the CRC.
pub use crate::rdb::payload::seal;

/// Redis's `verifyDumpPayload`: a known RDB version and a matching CRC.
pub fn verify(payload: &[u8]) -> bool {
    crate::rdb::payload::verify(payload).is_ok()
}

/// Reads RDB items from a payload; `None` on malformed or truncated data.
pub struct Reader<'a> {
    cursor: Cursor<'a>,
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader {
            cursor: Cursor::new(data),
        }
    }

    /// Bytes read so far.
    pub fn pos(&self) -> usize {
        self.cursor.pos()
    }

    pub fn byte(&mut self) -> Option<u8> {
        self.cursor.byte().ok()
    }

    /// A length where a special encoding counts as its 6-bit value, as
    /// Redis's `rdbLoadLen` without `isencoded` reads it.
    pub fn length(&mut self) -> Option<u64> {
        use crate::rdb::cursor::Length;
        Some(match self.cursor.length_prefix().ok()? {
            Length::Plain(n) => n,
            Length::Special(n) => n as u64,
        })
    }

    /// An RDB string in any of its encodings.
    pub fn string(&mut self) -> Option<Vec<u8>> {
        self.cursor.string().ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn footer_matches_redis() {
        // FUNCTION DUMP of redis-server 7.0.15 with no libraries.
        assert_eq!(seal(Vec::new()), b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda");
        assert!(verify(b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda"));
        assert!(!verify(b"\n\x00]\x9b\\@\x0f\x7f\xa2\xdb"));
        assert!(!verify(b"short"));
    }

    #[test]
    fn strings_round_trip_and_decode_redis_encodings() {
        for len in [0, 1, 63, 64, 16383, 16384, 70000] {
            let s = vec![b'x'; len];
            let mut out = Vec::new();
            write_string(&mut out, &s);
            let mut r = Reader::new(&out);
            assert_eq!(r.string(), Some(s));
            assert_eq!(r.pos(), out.len());
        }
        assert_eq!(Reader::new(b"\xc0\xfb").string(), Some(b"-5".to_vec()));
        assert_eq!(Reader::new(b"\x05abc").string(), None);
        // An LZF string from a redis-server 7.0.15 FUNCTION DUMP.
        let lzf = b"\xc3@E@\x9f\x0b#!lua name=x\xe0(\x00\x19\nredis.register_function('\xe0$J\x02', \xe0\x009\x0e) return 1 end)";
        let code = Reader::new(lzf).string().expect("decompresses");
        let x50 = "x".repeat(50);
        let x45 = "x".repeat(45);
        assert_eq!(
            String::from_utf8(code).unwrap(),
            format!("#!lua name={x50}\nredis.register_function('{x45}', function() return 1 end)")
        );
        // Hostile lengths: refused, never allocated.
        assert_eq!(
            Reader::new(b"\xc3\x02\x81\xff\xff\xff\xff\xff\xff\xff\xff\x00a").string(),
            None
        );
    }
}
