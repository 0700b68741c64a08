//! The bits of Redis's RDB format that FUNCTION DUMP / RESTORE payloads
//! use: length-prefixed strings (integer and LZF encodings on input), the
//! 2-byte RDB version and the CRC64 (Jones) footer.
//!
//! Strings are always written plain; Redis LZF-compresses strings longer
//! than 20 bytes when that saves space, so its payloads for such code differ
//! from ours byte for byte, but each side restores the other's.

/// The RDB version Redis 7.0 writes (and the highest it accepts).
pub const RDB_VERSION: u16 = 10;

/// CRC64 with Redis's "Jones" polynomial, reflected, init 0.
pub fn crc64(data: &[u8]) -> u64 {
    const POLY: u64 = 0x95ac_9329_ac4b_c9b5; // 0xad93d23594c935a9 reflected
    static TABLE: std::sync::LazyLock<[u64; 256]> = std::sync::LazyLock::new(|| {
        let mut table = [0u64; 256];
        for (i, slot) in table.iter_mut().enumerate() {
            let mut crc = i as u64;
            for _ in 0..8 {
                crc = (crc >> 1) ^ if crc & 1 == 1 { POLY } else { 0 };
            }
            *slot = crc;
        }
        table
    });
    data.iter().fold(0u64, |crc, &b| {
        TABLE[((crc ^ b as u64) & 0xff) as usize] ^ (crc >> 8)
    })
}

/// Appends an RDB length.
fn write_len(out: &mut Vec<u8>, len: usize) {
    if len < 1 << 6 {
        out.push(len as u8);
    } else if len < 1 << 14 {
        out.extend_from_slice(&[0x40 | (len >> 8) as u8, len as u8]);
    } else if len <= u32::MAX as usize {
        out.push(0x80);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    } else {
        out.push(0x81);
        out.extend_from_slice(&(len as u64).to_be_bytes());
    }
}

/// Appends a plain (uncompressed, not integer-encoded) RDB string.
pub fn write_string(out: &mut Vec<u8>, s: &[u8]) {
    write_len(out, s.len());
    out.extend_from_slice(s);
}

/// Appends the footer: RDB version (little endian) and the CRC64 of
/// everything before the CRC.
pub fn seal(mut payload: Vec<u8>) -> Vec<u8> {
    payload.extend_from_slice(&RDB_VERSION.to_le_bytes());
    let crc = crc64(&payload);
    payload.extend_from_slice(&crc.to_le_bytes());
    payload
}

/// Redis's `verifyDumpPayload`: a known RDB version and a matching CRC.
pub fn verify(payload: &[u8]) -> bool {
    let Some(body_len) = payload.len().checked_sub(10) else {
        return false;
    };
    let version = u16::from_le_bytes([payload[body_len], payload[body_len + 1]]);
    let mut crc = [0u8; 8];
    crc.copy_from_slice(&payload[body_len + 2..]);
    version <= RDB_VERSION && crc64(&payload[..body_len + 2]) == u64::from_le_bytes(crc)
}

/// Reads RDB items from a payload; `None` on malformed or truncated data.
pub struct Reader<'a> {
    data: &'a [u8],
    pub pos: usize,
}

/// Length prefixes whose top bits are 11 encode a special string.
enum Len {
    Plain(u64),
    Special(u8),
}

impl<'a> Reader<'a> {
    pub fn new(data: &'a [u8]) -> Self {
        Reader { data, pos: 0 }
    }

    pub fn byte(&mut self) -> Option<u8> {
        let b = *self.data.get(self.pos)?;
        self.pos += 1;
        Some(b)
    }

    fn take(&mut self, n: u64) -> Option<&'a [u8]> {
        let n = usize::try_from(n).ok()?;
        let end = self.pos.checked_add(n)?;
        let bytes = self.data.get(self.pos..end)?;
        self.pos = end;
        Some(bytes)
    }

    fn len(&mut self) -> Option<Len> {
        let first = self.byte()?;
        Some(match first >> 6 {
            0 => Len::Plain((first & 0x3f) as u64),
            1 => Len::Plain((((first & 0x3f) as u64) << 8) | self.byte()? as u64),
            3 => Len::Special(first & 0x3f),
            _ if first == 0x80 => {
                Len::Plain(u32::from_be_bytes(self.take(4)?.try_into().ok()?) as u64)
            }
            _ if first == 0x81 => Len::Plain(u64::from_be_bytes(self.take(8)?.try_into().ok()?)),
            _ => return None,
        })
    }

    /// A length where a special encoding counts as its 6-bit value, as
    /// Redis's `rdbLoadLen` without `isencoded` reads it.
    pub fn length(&mut self) -> Option<u64> {
        Some(match self.len()? {
            Len::Plain(n) => n,
            Len::Special(n) => n as u64,
        })
    }

    fn plain_len(&mut self) -> Option<u64> {
        match self.len()? {
            Len::Plain(n) => Some(n),
            Len::Special(_) => None,
        }
    }

    /// An RDB string in any of its encodings.
    pub fn string(&mut self) -> Option<Vec<u8>> {
        match self.len()? {
            Len::Plain(n) => Some(self.take(n)?.to_vec()),
            Len::Special(0) => Some((self.byte()? as i8).to_string().into_bytes()),
            Len::Special(1) => {
                let b = self.take(2)?;
                Some(i16::from_le_bytes([b[0], b[1]]).to_string().into_bytes())
            }
            Len::Special(2) => {
                let b = self.take(4)?;
                Some(
                    i32::from_le_bytes([b[0], b[1], b[2], b[3]])
                        .to_string()
                        .into_bytes(),
                )
            }
            Len::Special(3) => {
                let compressed_len = self.plain_len()?;
                let len = self.plain_len()?;
                let compressed = self.take(compressed_len)?;
                lzf_decompress(compressed, len)
            }
            Len::Special(_) => None,
        }
    }
}

/// LZF decompression (liblzf's `lzf_decompress`); `None` unless the
/// output is exactly `len` bytes.
fn lzf_decompress(input: &[u8], len: u64) -> Option<Vec<u8>> {
    // A back reference expands 3 input bytes to at most 264: a length
    // beyond that bound is a lie, refused before allocating.
    if len > (input.len() as u64).saturating_mul(88) {
        return None;
    }
    let len = len as usize;
    let mut out = Vec::with_capacity(len);
    let mut i = 0;
    while i < input.len() {
        let ctrl = input[i] as usize;
        i += 1;
        if ctrl < 32 {
            // A literal run of ctrl + 1 bytes.
            let run = input.get(i..i + ctrl + 1)?;
            out.extend_from_slice(run);
            i += ctrl + 1;
        } else {
            // A back reference: length in the top 3 bits (7 = one more byte).
            let mut run = ctrl >> 5;
            if run == 7 {
                run += *input.get(i)? as usize;
                i += 1;
            }
            let offset = ((ctrl & 0x1f) << 8) + *input.get(i)? as usize + 1;
            i += 1;
            let start = out.len().checked_sub(offset)?;
            // Byte by byte: the reference may overlap what it produces.
            for k in 0..run + 2 {
                let b = out[start + k];
                out.push(b);
            }
        }
        if out.len() > len {
            return None;
        }
    }
    (out.len() == len).then_some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crc64_matches_redis() {
        // Redis's crc64 test vector.
        assert_eq!(crc64(b"123456789"), 0xe9c6d914c4b8d9ca);
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
            assert_eq!(r.pos, out.len());
        }
        assert_eq!(Reader::new(b"\xc0\xfb").string(), Some(b"-5".to_vec()));
        assert_eq!(
            Reader::new(b"\xc1\x39\x30").string(),
            Some(b"12345".to_vec())
        );
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
        assert_eq!(lzf_decompress(b"\x20\x05", 3), None);
    }
}
