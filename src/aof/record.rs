//! One log record: a frame around the effects of one write or one batch.
//!
//! ```text
//! offset  size  field
//!  0       4    magic  "SDL1" (never zero: a zero-filled tail never looks like a record)
//!  4       4    len    payload bytes, little endian, at most MAX_PAYLOAD_BYTES
//!  8       4    crc    CRC-32C of the payload
//! 12       8    lsn    log sequence number, little endian, strictly increasing per shard
//! 20       4    hcrc   CRC-32C of bytes 0..20
//! 24     len    payload: RESP arrays, as a Redis AOF holds them
//! ```
//!
//! The header has its own checksum so a header that verifies can be
//! trusted: its length says exactly where the record ends, and a verified
//! header past a damaged spot proves the damage is not a torn tail.
//!
//! The payload is the record's commands as RESP arrays (`*2\r\n$3\r\nDEL..`),
//! with a `SELECT` whenever the database differs from the one the previous
//! command of the same file ran in, and an expired key as `DEL`, the way
//! Redis propagates expiries. A script or an `EXEC` is one record, so it
//! is on disk entirely or not at all.

use super::crc;
use crate::protocol::encode_command_into;

pub const MAGIC: [u8; 4] = *b"SDL1";
pub const HEADER_BYTES: usize = 24;
/// The largest payload a record may hold: Redis's default
/// `proto-max-bulk-len`, so any single value fits, and a bound on what a
/// reader allocates for a record whatever the file claims.
pub const MAX_PAYLOAD_BYTES: usize = 512 * 1024 * 1024;
/// Arguments of one logged command, a bound for the payload parser.
pub const MAX_ARGS_PER_COMMAND: usize = 1024 * 1024;
/// Databases a `SELECT` in the log may name (Redis's `databases` maximum
/// is far lower; this only bounds what a hostile file can say).
pub const MAX_DB: usize = 1 << 20;

/// A header that verified.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Header {
    pub len: usize,
    pub crc: u32,
    pub lsn: u64,
}

/// Why bytes are not a header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum HeaderError {
    Short,
    BadMagic,
    BadChecksum,
    TooLong(u64),
}

impl std::fmt::Display for HeaderError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            HeaderError::Short => write!(f, "incomplete record header"),
            HeaderError::BadMagic => write!(f, "no record header (bad magic)"),
            HeaderError::BadChecksum => write!(f, "record header checksum mismatch"),
            HeaderError::TooLong(len) => write!(
                f,
                "record length {len} over the limit of {MAX_PAYLOAD_BYTES} bytes"
            ),
        }
    }
}

fn u32_at(b: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&b[at..at + 4]);
    u32::from_le_bytes(w)
}

/// Parses and verifies the header at the start of `bytes`.
pub fn parse_header(bytes: &[u8]) -> Result<Header, HeaderError> {
    let Some(h) = bytes.get(..HEADER_BYTES) else {
        return Err(HeaderError::Short);
    };
    if h[..4] != MAGIC {
        return Err(HeaderError::BadMagic);
    }
    if crc::crc32c(&h[..20]) != u32_at(h, 20) {
        return Err(HeaderError::BadChecksum);
    }
    let len = u32_at(h, 4) as usize;
    if len > MAX_PAYLOAD_BYTES {
        return Err(HeaderError::TooLong(len as u64));
    }
    let mut lsn = [0u8; 8];
    lsn.copy_from_slice(&h[12..20]);
    Ok(Header {
        len,
        crc: u32_at(h, 8),
        lsn: u64::from_le_bytes(lsn),
    })
}

/// Whether `payload` is the one the header was written for.
pub fn payload_matches(header: &Header, payload: &[u8]) -> bool {
    payload.len() == header.len && crc::crc32c(payload) == header.crc
}

/// Fills the header reserved at `out[start..start + HEADER_BYTES]` for
/// the payload that follows it to the end of `out`.
/// A payload over `max_payload` (itself capped at [`MAX_PAYLOAD_BYTES`])
/// is refused.
pub fn seal(
    out: &mut [u8],
    start: usize,
    lsn: u64,
    max_payload: usize,
) -> Result<(), RecordTooLong> {
    let len = out.len() - start - HEADER_BYTES;
    if len > max_payload.min(MAX_PAYLOAD_BYTES) {
        return Err(RecordTooLong(len));
    }
    let payload_crc = crc::crc32c(&out[start + HEADER_BYTES..]);
    let h = &mut out[start..start + HEADER_BYTES];
    h[..4].copy_from_slice(&MAGIC);
    h[4..8].copy_from_slice(&(len as u32).to_le_bytes());
    h[8..12].copy_from_slice(&payload_crc.to_le_bytes());
    h[12..20].copy_from_slice(&lsn.to_le_bytes());
    let hcrc = crc::crc32c(&h[..20]);
    h[20..24].copy_from_slice(&hcrc.to_le_bytes());
    Ok(())
}

/// A record whose payload is over [`MAX_PAYLOAD_BYTES`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RecordTooLong(pub usize);

impl std::fmt::Display for RecordTooLong {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "a log record of {} bytes is over the limit of {MAX_PAYLOAD_BYTES} bytes",
            self.0
        )
    }
}

/// Appends `SELECT db`.
pub fn encode_select(out: &mut Vec<u8>, db: usize) {
    let mut digits = Vec::with_capacity(20);
    crate::util::numbers::format_i64(db as i64, &mut digits);
    encode_command_into(out, &[b"SELECT".as_slice(), &digits]);
}

/// Why a payload does not parse as RESP arrays (a checksum forged or a
/// writer bug: the frame verified).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PayloadError {
    /// Offset inside the payload of the command that does not parse.
    pub at: usize,
    pub what: &'static str,
}

impl std::fmt::Display for PayloadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} at payload byte {}", self.what, self.at)
    }
}

/// The commands of a payload, one `Vec` of arguments each, borrowed from
/// the payload. Stops at the first malformed byte with its offset.
pub struct Commands<'a> {
    payload: &'a [u8],
    at: usize,
    failed: bool,
}

pub fn commands(payload: &[u8]) -> Commands<'_> {
    Commands {
        payload,
        at: 0,
        failed: false,
    }
}

impl<'a> Commands<'a> {
    /// Reads `<prefix><decimal>\r\n`.
    fn number(&mut self, prefix: u8) -> Option<usize> {
        let rest = &self.payload[self.at..];
        if rest.first() != Some(&prefix) {
            return None;
        }
        let end = rest.windows(2).take(22).position(|w| w == b"\r\n")?;
        let digits = &rest[1..end];
        if digits.is_empty() || digits.len() > 19 || !digits.iter().all(u8::is_ascii_digit) {
            return None;
        }
        let n = digits
            .iter()
            .fold(0u64, |n, d| n * 10 + u64::from(d - b'0'));
        self.at += end + 2;
        usize::try_from(n).ok()
    }

    fn command(&mut self) -> Result<Vec<&'a [u8]>, &'static str> {
        let argc = self.number(b'*').ok_or("expected an array header")?;
        if argc == 0 || argc > MAX_ARGS_PER_COMMAND {
            return Err("bad argument count");
        }
        let remaining = self.payload.len() - self.at;
        // Each argument takes at least 6 bytes ("$0\r\n\r\n"): the
        // capacity never exceeds what the payload can hold.
        let mut argv = Vec::with_capacity(argc.min(remaining / 6));
        for _ in 0..argc {
            let len = self.number(b'$').ok_or("expected a bulk string header")?;
            let start = self.at;
            let end = start
                .checked_add(len)
                .filter(|&e| e.checked_add(2).is_some_and(|x| x <= self.payload.len()))
                .ok_or("bulk string past the end of the payload")?;
            if &self.payload[end..end + 2] != b"\r\n" {
                return Err("bulk string not followed by CRLF");
            }
            argv.push(&self.payload[start..end]);
            self.at = end + 2;
        }
        Ok(argv)
    }
}

impl<'a> Iterator for Commands<'a> {
    type Item = Result<Vec<&'a [u8]>, PayloadError>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.failed || self.at >= self.payload.len() {
            return None;
        }
        let at = self.at;
        match self.command() {
            Ok(argv) => Some(Ok(argv)),
            Err(what) => {
                self.failed = true;
                Some(Err(PayloadError { at, what }))
            }
        }
    }
}

/// The database a `SELECT` names, if `argv` is one.
pub fn selected_db(argv: &[&[u8]]) -> Option<Result<usize, &'static str>> {
    if argv.len() != 2 || !argv[0].eq_ignore_ascii_case(b"SELECT") {
        return None;
    }
    let digits = argv[1];
    let db = (!digits.is_empty() && digits.len() <= 7 && digits.iter().all(u8::is_ascii_digit))
        .then(|| {
            digits
                .iter()
                .fold(0usize, |n, d| n * 10 + usize::from(d - b'0'))
        })
        .filter(|&db| db < MAX_DB);
    Some(db.ok_or("SELECT of a bad database number"))
}

/// Replays a payload: calls `apply(db, argv)` for each command, with the
/// database the log's `SELECT`s put it in. `db` carries over from record
/// to record of one file (start each file at 0: the writer selects before
/// its first command anyway).
pub fn replay(
    payload: &[u8],
    db: &mut usize,
    mut apply: impl FnMut(usize, &[&[u8]]) -> Result<(), String>,
) -> Result<(), String> {
    for argv in commands(payload) {
        let argv = argv.map_err(|e| e.to_string())?;
        match selected_db(&argv) {
            Some(Ok(selected)) => *db = selected,
            Some(Err(what)) => return Err(what.to_string()),
            None => apply(*db, &argv)?,
        }
    }
    Ok(())
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A framed record of `payload` with `lsn`.
    pub(crate) fn frame(lsn: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![0u8; HEADER_BYTES];
        out.extend_from_slice(payload);
        seal(&mut out, 0, lsn, MAX_PAYLOAD_BYTES).expect("a small record");
        out
    }

    #[test]
    fn a_sealed_record_parses_back() {
        let bytes = frame(7, b"*1\r\n$4\r\nPING\r\n");
        let header = parse_header(&bytes).expect("a header");
        assert_eq!(header.lsn, 7);
        assert_eq!(header.len, bytes.len() - HEADER_BYTES);
        assert!(payload_matches(&header, &bytes[HEADER_BYTES..]));
    }

    #[test]
    fn every_damaged_header_byte_is_caught() {
        let bytes = frame(1, b"payload");
        for i in 0..HEADER_BYTES {
            let mut bad = bytes.clone();
            bad[i] ^= 0x40;
            assert!(parse_header(&bad).is_err(), "flipped header byte {i}");
        }
        for i in HEADER_BYTES..bytes.len() {
            let mut bad = bytes.clone();
            bad[i] ^= 0x01;
            let header = parse_header(&bad).expect("the header is intact");
            assert!(!payload_matches(&header, &bad[HEADER_BYTES..]), "byte {i}");
        }
    }

    #[test]
    fn zeros_and_short_prefixes_are_not_headers() {
        assert_eq!(parse_header(&[0u8; 64]), Err(HeaderError::BadMagic));
        let bytes = frame(1, b"x");
        for n in 0..HEADER_BYTES {
            assert_eq!(parse_header(&bytes[..n]), Err(HeaderError::Short));
        }
    }

    #[test]
    fn an_over_long_length_is_refused_even_with_a_good_checksum() {
        let mut bytes = frame(1, b"x");
        bytes[4..8].copy_from_slice(&u32::MAX.to_le_bytes());
        let hcrc = crc::crc32c(&bytes[..20]);
        bytes[20..24].copy_from_slice(&hcrc.to_le_bytes());
        assert_eq!(
            parse_header(&bytes),
            Err(HeaderError::TooLong(u64::from(u32::MAX)))
        );
    }

    #[test]
    fn commands_round_trip_through_resp() {
        let mut payload = Vec::new();
        encode_select(&mut payload, 3);
        encode_command_into(&mut payload, &[b"SET".as_slice(), b"k", b"a\r\nb", b""]);
        let got: Vec<Vec<&[u8]>> = commands(&payload)
            .collect::<Result<_, _>>()
            .expect("well formed");
        assert_eq!(
            got,
            [
                vec![b"SELECT".as_slice(), b"3"],
                vec![b"SET".as_slice(), b"k", b"a\r\nb", b""],
            ]
        );
        assert_eq!(selected_db(&got[0]), Some(Ok(3)));
        assert_eq!(selected_db(&got[1]), None);
    }

    #[test]
    fn replay_applies_commands_in_the_selected_database() {
        let mut payload = Vec::new();
        encode_command_into(&mut payload, &["SET", "a", "1"]);
        encode_select(&mut payload, 4);
        encode_command_into(&mut payload, &["DEL", "b"]);
        let mut db = 2;
        let mut seen = Vec::new();
        replay(&payload, &mut db, |db, argv| {
            seen.push((db, argv.len()));
            Ok(())
        })
        .expect("replays");
        assert_eq!(seen, [(2, 3), (4, 2)]);
        assert_eq!(db, 4, "the selection carries over to the next record");
        let mut bad = Vec::new();
        encode_command_into(&mut bad, &["SELECT", "x"]);
        assert!(replay(&bad, &mut db, |_, _| Ok(())).is_err());
        assert_eq!(
            replay(&payload, &mut db, |_, _| Err("refused".into())),
            Err("refused".to_string())
        );
    }

    #[test]
    fn malformed_payloads_fail_with_an_offset_and_never_panic() {
        let mut good = Vec::new();
        encode_command_into(&mut good, &[b"SET".as_slice(), b"key", b"value"]);
        // Every prefix and every single-byte change: no panic, and a
        // prefix that cuts a command is an error.
        for n in 0..good.len() {
            let results: Vec<_> = commands(&good[..n]).collect();
            if n > 0 {
                assert!(results.iter().any(Result::is_err), "prefix {n}");
            }
        }
        for i in 0..good.len() {
            for b in [0u8, b'9', b'\r', b'*', b'$', 0xFF] {
                let mut bad = good.clone();
                bad[i] = b;
                let _ = commands(&bad).count();
            }
        }
        let huge = b"*99999999999\r\n";
        let err = commands(huge)
            .next()
            .expect("an item")
            .expect_err("bad count");
        assert_eq!(err.at, 0);
        let past = b"*1\r\n$100\r\nabc\r\n";
        assert!(commands(past).next().expect("an item").is_err());
        assert_eq!(
            selected_db(&[b"SELECT".as_slice(), b"99999999"]),
            Some(Err("SELECT of a bad database number"))
        );
    }
}
