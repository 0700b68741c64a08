//! A bounds-checked reader over bytes in memory, with the RDB primitives
//! (lengths, strings, doubles). Every error carries the absolute offset:
//! a cursor over a blob nested in the file (a listpack) knows where the
//! blob starts.

use super::error::Error;
use super::format::*;
use super::lzf;

pub type Result<T> = std::result::Result<T, Error>;

/// A length prefix: a plain length, or (top bits 11) a special encoding.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Length {
    Plain(u64),
    Special(u8),
}

pub struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    /// The offset of `data[0]` in the whole input.
    base: usize,
}

impl<'a> Cursor<'a> {
    pub fn new(data: &'a [u8]) -> Cursor<'a> {
        Cursor::nested(data, 0)
    }

    /// A cursor over a blob that starts at `base` in the whole input.
    pub fn nested(data: &'a [u8], base: usize) -> Cursor<'a> {
        Cursor { data, pos: 0, base }
    }

    /// Position within this cursor's data.
    pub fn pos(&self) -> usize {
        self.pos
    }

    /// Absolute offset of the next byte.
    pub fn offset(&self) -> usize {
        self.base + self.pos
    }

    pub fn remaining(&self) -> usize {
        self.data.len() - self.pos
    }

    /// The bytes read so far.
    pub fn consumed(&self) -> &'a [u8] {
        &self.data[..self.pos]
    }

    /// An error at the next byte.
    pub fn error(&self, reason: impl Into<String>) -> Error {
        Error::new(self.offset(), reason)
    }

    /// An error at absolute offset `offset`.
    pub fn error_at(&self, offset: usize, reason: impl Into<String>) -> Error {
        Error::new(offset, reason)
    }

    pub fn byte(&mut self) -> Result<u8> {
        let b = *self
            .data
            .get(self.pos)
            .ok_or_else(|| self.error("unexpected end of data"))?;
        self.pos += 1;
        Ok(b)
    }

    pub fn take(&mut self, n: u64) -> Result<&'a [u8]> {
        let remaining = self.remaining();
        match usize::try_from(n) {
            Ok(n) if n <= remaining => {
                let bytes = &self.data[self.pos..self.pos + n];
                self.pos += n;
                Ok(bytes)
            }
            _ => Err(self.error(format!("{n} bytes wanted, {remaining} left"))),
        }
    }

    pub fn array<const N: usize>(&mut self) -> Result<[u8; N]> {
        let mut out = [0u8; N];
        out.copy_from_slice(self.take(N as u64)?);
        Ok(out)
    }

    /// A length prefix in any of its forms.
    pub fn length_prefix(&mut self) -> Result<Length> {
        let at = self.offset();
        let first = self.byte()?;
        Ok(match first >> 6 {
            LEN_6BIT => Length::Plain((first & 0x3f) as u64),
            LEN_14BIT => Length::Plain((((first & 0x3f) as u64) << 8) | self.byte()? as u64),
            LEN_ENCVAL => Length::Special(first & 0x3f),
            _ if first == LEN_32BIT => Length::Plain(u32::from_be_bytes(self.array()?) as u64),
            _ if first == LEN_64BIT => Length::Plain(u64::from_be_bytes(self.array()?)),
            _ => return Err(self.error_at(at, format!("unknown length encoding {first:#04x}"))),
        })
    }

    /// A plain length.
    pub fn length(&mut self) -> Result<u64> {
        let at = self.offset();
        match self.length_prefix()? {
            Length::Plain(n) => Ok(n),
            Length::Special(_) => Err(self.error_at(at, "a length was expected, not an encoding")),
        }
    }

    /// A count of things each at least `min_size` bytes long: more than
    /// the remaining bytes can hold is refused, so no caller allocates for
    /// a lie.
    pub fn count(&mut self, min_size: usize) -> Result<usize> {
        let at = self.offset();
        let n = self.length()?;
        let room = (self.remaining() / min_size.max(1)) as u64;
        if n > room {
            return Err(self.error_at(
                at,
                format!("count {n} exceeds what the remaining data can hold"),
            ));
        }
        Ok(n as usize)
    }

    /// A string in any of its encodings (plain, int8/16/32, LZF).
    pub fn string(&mut self) -> Result<Vec<u8>> {
        let at = self.offset();
        match self.length_prefix()? {
            Length::Plain(n) => Ok(self.take(n)?.to_vec()),
            Length::Special(ENC_INT8) => Ok((self.byte()? as i8).to_string().into_bytes()),
            Length::Special(ENC_INT16) => {
                Ok(i16::from_le_bytes(self.array()?).to_string().into_bytes())
            }
            Length::Special(ENC_INT32) => {
                Ok(i32::from_le_bytes(self.array()?).to_string().into_bytes())
            }
            Length::Special(ENC_LZF) => {
                let compressed_len = self.length()?;
                let len = self.length()?;
                let start = self.offset();
                let compressed = self.take(compressed_len)?;
                lzf::decompress(compressed, len)
                    .map_err(|(pos, reason)| self.error_at(start + pos, reason))
            }
            Length::Special(other) => {
                Err(self.error_at(at, format!("unknown string encoding {other}")))
            }
        }
    }

    /// An 8-byte little-endian IEEE double (zset2 scores).
    pub fn binary_double(&mut self) -> Result<f64> {
        Ok(f64::from_le_bytes(self.array()?))
    }

    /// A double as text behind a one-byte length (type 3 zset scores);
    /// 253, 254 and 255 stand for NaN, +inf and -inf.
    pub fn text_double(&mut self) -> Result<f64> {
        let at = self.offset();
        match self.byte()? {
            253 => Ok(f64::NAN),
            254 => Ok(f64::INFINITY),
            255 => Ok(f64::NEG_INFINITY),
            len => {
                let text = self.take(len as u64)?;
                std::str::from_utf8(text)
                    .ok()
                    .and_then(|t| t.parse::<f64>().ok())
                    .ok_or_else(|| self.error_at(at, "score is not a number"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rdb::encode;

    #[test]
    fn lengths_round_trip_in_every_form() {
        for len in [
            0u64,
            1,
            63,
            64,
            16383,
            16384,
            u32::MAX as u64,
            u32::MAX as u64 + 1,
        ] {
            let mut out = Vec::new();
            encode::length(&mut out, len);
            let mut c = Cursor::new(&out);
            assert_eq!(c.length().unwrap(), len);
            assert_eq!(c.remaining(), 0);
        }
    }

    #[test]
    fn strings_decode_every_encoding() {
        for len in [0, 1, 63, 64, 16383, 16384, 70000] {
            let s = vec![b'x'; len];
            let mut out = Vec::new();
            encode::string_plain(&mut out, &s);
            assert_eq!(Cursor::new(&out).string().unwrap(), s);
        }
        assert_eq!(Cursor::new(b"\xc0\xfb").string().unwrap(), b"-5");
        assert_eq!(Cursor::new(b"\xc1\x39\x30").string().unwrap(), b"12345");
        assert_eq!(
            Cursor::new(b"\xc2\x00\x00\x00\x80").string().unwrap(),
            b"-2147483648"
        );
        assert_eq!(
            Cursor::new(b"\xc3\x05\x05\x01ab\x20\x01").string().unwrap(),
            b"ababa"
        );
    }

    #[test]
    fn malformed_input_is_an_error_at_its_offset() {
        // A string longer than the data.
        let e = Cursor::new(b"\x05abc").string().unwrap_err();
        assert_eq!(e.offset, 1);
        // An unknown length form, an unknown string encoding.
        assert_eq!(Cursor::new(b"\x82").length().unwrap_err().offset, 0);
        assert_eq!(Cursor::new(b"\xc4").string().unwrap_err().offset, 0);
        // A truncated 32-bit length, a truncated int16.
        assert!(Cursor::new(b"\x80\x00\x01").length().is_err());
        assert!(Cursor::new(b"\xc1\x01").string().is_err());
        // A 2^64 - 1 byte string: refused without allocating.
        let e = Cursor::new(b"\x00\x81\xff\xff\xff\xff\xff\xff\xff\xffab").string();
        assert!(e.is_ok()); // the first string is empty
        let mut c = Cursor::new(b"\x81\xff\xff\xff\xff\xff\xff\xff\xffab");
        assert_eq!(c.string().unwrap_err().offset, 9);
        // An LZF string whose data is corrupt: the offset is inside it.
        let e = Cursor::new(b"\xc3\x02\x05\x20\x05").string().unwrap_err();
        assert_eq!(e.offset, 3);
        // A count the data cannot hold.
        assert_eq!(Cursor::new(b"\x05ab").count(1).unwrap_err().offset, 0);
        // Bad scores.
        assert!(Cursor::new(b"\x03abc").text_double().is_err());
        assert_eq!(Cursor::new(b"\xfe").text_double().unwrap(), f64::INFINITY);
        assert_eq!(Cursor::new(b"\x031.5").text_double().unwrap(), 1.5);
    }
}
