//! Reply frames as clients read them: "is a whole RESP2/RESP3 reply at the
//! start of this buffer, how long is it, what is it".
//!
//! One decoder for every client in the crate and its tests: the load
//! generator (which only needs a reply's length and whether it was an
//! error), the scenario's control client, and the test harness (which
//! compares and sorts whole replies). Input comes from a server over the
//! network, so nothing here panics on it: malformed input is a
//! [`FrameError`], and every size is bounded by [`FrameLimits`].
//!
//! [`scan`] finds the end of a reply without building anything: it walks
//! the headers, skipping bulk bodies by their declared length, with one
//! counter of values still to come instead of a stack, so it neither
//! recurses nor allocates (the load generator calls it once per reply).
//! [`decode`] builds a [`Frame`] tree of a reply `scan` found whole; being
//! recursive, it is the one bounded by [`FrameLimits::max_depth`].
//! [`FrameReader`] does both over a blocking reader.

use std::io::Read;

/// Bounds on what a client accepts from a server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameLimits {
    /// Longest whole reply in bytes: a larger declared (or already
    /// buffered) reply is [`FrameError::TooLarge`].
    pub max_bytes: usize,
    /// Deepest nesting of aggregates [`decode`] follows (a top-level
    /// array of scalars has depth 1): deeper is [`FrameError::TooDeep`].
    pub max_depth: usize,
}

/// Limits for the tests' and tools' control connections: INFO, SCRIPT
/// STATUS and the values tests read back fit with room to spare.
pub const DEFAULT_LIMITS: FrameLimits = FrameLimits {
    max_bytes: 64 << 20,
    max_depth: 64,
};

/// Input that can never become a valid reply, or one over the limits.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FrameError {
    /// Not RESP: an unknown type byte or a malformed length.
    Protocol(&'static str),
    /// A reply that declares (or already has) more than `max_bytes`.
    TooLarge(usize),
    /// Aggregates nested deeper than `max_depth`.
    TooDeep(usize),
}

impl std::fmt::Display for FrameError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            FrameError::Protocol(why) => write!(f, "protocol error in reply: {why}"),
            FrameError::TooLarge(limit) => write!(f, "reply larger than {limit} bytes"),
            FrameError::TooDeep(limit) => {
                write!(f, "reply nested deeper than {limit} levels")
            }
        }
    }
}

impl std::error::Error for FrameError {}

impl From<FrameError> for std::io::Error {
    fn from(e: FrameError) -> std::io::Error {
        std::io::Error::new(std::io::ErrorKind::InvalidData, e)
    }
}

/// Where a complete reply at the start of a buffer ends, and its type.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Extent {
    /// Bytes the reply occupies, trailing CRLF included.
    pub len: usize,
    /// The type byte of the top-level value (`+`, `-`, `$`, `*`, `%` ...).
    pub kind: u8,
}

impl Extent {
    /// The message of a top-level error (`-` simple error or `!` blob
    /// error) in `buf`, the buffer this extent was scanned from; `None`
    /// for any other reply (an error nested in an array included: the
    /// command itself succeeded).
    pub fn error_message<'a>(&self, buf: &'a [u8]) -> Option<&'a [u8]> {
        let reply = buf.get(..self.len)?;
        match self.kind {
            b'-' => reply.get(1..self.len.checked_sub(2)?),
            b'!' => {
                let body = find_crlf(reply, 0)? + 2;
                reply.get(body..self.len.checked_sub(2)?)
            }
            _ => None,
        }
    }
}

/// The first complete reply in `buf`: `Ok(None)` while more bytes are
/// needed.
#[inline]
pub fn scan(buf: &[u8], limits: &FrameLimits) -> Result<Option<Extent>, FrameError> {
    Scanner::new().resume(buf, limits)
}

/// A [`scan`] that can stop for more input and go on where it stopped:
/// a reader that rescanned a long reply from its start after every read
/// would take time quadratic in its length.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Scanner {
    /// Where the first value not yet walked starts.
    pos: usize,
    /// Values still to read before the reply is complete.
    pending: u64,
    /// The top-level type byte, once seen.
    kind: u8,
}

impl Default for Scanner {
    fn default() -> Scanner {
        Scanner::new()
    }
}

impl Scanner {
    pub const fn new() -> Scanner {
        Scanner {
            pos: 0,
            pending: 1,
            kind: 0,
        }
    }

    /// [`scan`] of `buf`, which must begin with the bytes given to the
    /// previous calls since [`Scanner::new`] (a buffer that only grew).
    #[inline]
    pub fn resume(
        &mut self,
        buf: &[u8],
        limits: &FrameLimits,
    ) -> Result<Option<Extent>, FrameError> {
        let mut pos = self.pos;
        let mut pending = self.pending;
        let mut kind = self.kind;
        while pending > 0 {
            let value_start = pos;
            let Some(line_end) = find_crlf(buf, pos) else {
                *self = Scanner { pos, pending, kind };
                return incomplete(buf.len(), limits);
            };
            if line_end == pos {
                return Err(FrameError::Protocol(
                    "empty line where a reply was expected",
                ));
            }
            let type_byte = buf[pos];
            let header = &buf[pos + 1..line_end];
            if pos == 0 {
                kind = type_byte;
            }
            pos = line_end + 2;
            match type_byte {
                // Simple string, simple error, integer, null, boolean,
                // double, big number.
                b'+' | b'-' | b':' | b'_' | b'#' | b',' | b'(' => {}
                // Bulk string, blob error, verbatim string.
                b'$' | b'!' | b'=' => {
                    if let Some(len) = parse_length(header, limits)? {
                        let body_end = pos + len;
                        if body_end + 2 > buf.len() {
                            // Walk this bulk again once more has come.
                            *self = Scanner {
                                pos: value_start,
                                pending,
                                kind,
                            };
                            return incomplete(body_end + 2, limits);
                        }
                        if &buf[body_end..body_end + 2] != b"\r\n" {
                            return Err(FrameError::Protocol("bulk not followed by CRLF"));
                        }
                        pos = body_end + 2;
                    } // else $-1: null bulk
                }
                // Array, set, push: n values follow.
                b'*' | b'~' | b'>' => pending += count(header, 1, limits)?,
                // Map: n keys and n values follow.
                b'%' => pending += count(header, 2, limits)?,
                // Attribute: n key/value pairs, then the value they describe.
                b'|' => pending += count(header, 2, limits)? + 1,
                _ => return Err(FrameError::Protocol("unknown reply type byte")),
            }
            pending -= 1;
        }
        if pos > limits.max_bytes {
            return Err(FrameError::TooLarge(limits.max_bytes));
        }
        Ok(Some(Extent { len: pos, kind }))
    }
}

/// `Ok(None)` for a reply that is not all there yet, unless it already
/// needs more than the limit.
#[inline]
fn incomplete(needed: usize, limits: &FrameLimits) -> Result<Option<Extent>, FrameError> {
    if needed > limits.max_bytes {
        Err(FrameError::TooLarge(limits.max_bytes))
    } else {
        Ok(None)
    }
}

/// Index of the `\r` of the first CRLF at or after `from` (a lone CR is
/// not a line end).
#[inline]
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    rest.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

/// A bulk length: `None` for the null bulk (-1).
#[inline]
fn parse_length(header: &[u8], limits: &FrameLimits) -> Result<Option<usize>, FrameError> {
    match parse_signed(header)? {
        -1 => Ok(None),
        n if n < 0 => Err(FrameError::Protocol("negative bulk length")),
        n if n as u64 > limits.max_bytes as u64 => Err(FrameError::TooLarge(limits.max_bytes)),
        n => Ok(Some(n as usize)),
    }
}

/// How many values an aggregate header announces (`per_entry` per entry);
/// a null aggregate (-1) announces none.
#[inline]
fn count(header: &[u8], per_entry: u64, limits: &FrameLimits) -> Result<u64, FrameError> {
    match parse_signed(header)? {
        -1 => Ok(0),
        n if n < 0 => Err(FrameError::Protocol("negative aggregate length")),
        // Every value takes at least 3 bytes, so a longer aggregate could
        // never fit under the limit.
        n if n as u64 > limits.max_bytes as u64 => Err(FrameError::TooLarge(limits.max_bytes)),
        n => Ok(n as u64 * per_entry),
    }
}

#[inline]
fn parse_signed(digits: &[u8]) -> Result<i64, FrameError> {
    const MALFORMED: FrameError = FrameError::Protocol("malformed length");
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
    // 18 digits cannot overflow an i64.
    if digits.is_empty() || digits.len() > 18 {
        return Err(MALFORMED);
    }
    let mut value: i64 = 0;
    for &d in digits {
        if !d.is_ascii_digit() {
            return Err(MALFORMED);
        }
        value = value * 10 + i64::from(d - b'0');
    }
    Ok(if negative { -value } else { value })
}

/// One decoded reply, kept byte for byte: [`Frame::encode`] gives back
/// exactly the bytes it was decoded from, so tests can compare, sort and
/// print replies without losing anything the server sent.
///
/// The derived order is not the byte order of the encodings, but it is a
/// total order consistent with equality, which is what sorting replies
/// whose order is unspecified needs.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Frame {
    /// The type byte.
    pub kind: u8,
    /// The header line after the type byte, without its CRLF: the text of
    /// a simple string, error, integer ...; the length of a bulk or an
    /// aggregate.
    pub line: Vec<u8>,
    /// The body of a bulk string, blob error or verbatim string (without
    /// its CRLF); `None` for a null bulk and for every other type.
    pub body: Option<Vec<u8>>,
    /// The elements of an aggregate: a map's and an attribute's as key,
    /// value, key, value ...; an attribute's last element is the value it
    /// describes. Empty for scalars and null aggregates.
    pub items: Vec<Frame>,
}

impl Frame {
    /// True for an aggregate type (array, set, push, map, attribute).
    pub fn is_aggregate(&self) -> bool {
        matches!(self.kind, b'*' | b'~' | b'>' | b'%' | b'|')
    }

    /// True for `$-1`, `*-1` and RESP3 `_`.
    pub fn is_null(&self) -> bool {
        self.kind == b'_' || (self.line == b"-1" && matches!(self.kind, b'$' | b'*'))
    }

    /// The text of a scalar: a bulk's body, a simple reply's line.
    pub fn text(&self) -> &[u8] {
        self.body.as_deref().unwrap_or(&self.line)
    }

    /// The exact bytes of the reply.
    pub fn encode(&self, out: &mut Vec<u8>) {
        out.push(self.kind);
        out.extend_from_slice(&self.line);
        out.extend_from_slice(b"\r\n");
        if let Some(body) = &self.body {
            out.extend_from_slice(body);
            out.extend_from_slice(b"\r\n");
        }
        self.items.iter().for_each(|item| item.encode(out));
    }

    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = Vec::new();
        self.encode(&mut out);
        out
    }
}

/// The first complete reply in `buf` as a tree, with the bytes it took:
/// `Ok(None)` while more bytes are needed.
pub fn decode(buf: &[u8], limits: &FrameLimits) -> Result<Option<(Frame, usize)>, FrameError> {
    let Some(extent) = scan(buf, limits)? else {
        return Ok(None);
    };
    let mut pos = 0;
    let frame = build(&buf[..extent.len], &mut pos, 0, limits)?;
    Ok(Some((frame, extent.len)))
}

/// The value at `*pos` of a reply [`scan`] found complete and well formed;
/// the checks here only keep a mistake from turning into a panic.
fn build(
    buf: &[u8],
    pos: &mut usize,
    depth: usize,
    limits: &FrameLimits,
) -> Result<Frame, FrameError> {
    const SHORT: FrameError = FrameError::Protocol("reply ends early");
    let start = *pos;
    let line_end = find_crlf(buf, start).ok_or(SHORT)?;
    let kind = *buf.get(start).ok_or(SHORT)?;
    let line = buf[start + 1..line_end].to_vec();
    *pos = line_end + 2;
    let mut frame = Frame {
        kind,
        line,
        body: None,
        items: Vec::new(),
    };
    let per_entry = match kind {
        b'$' | b'!' | b'=' => {
            if let Some(len) = parse_length(&frame.line, limits)? {
                let body = buf.get(*pos..*pos + len).ok_or(SHORT)?;
                frame.body = Some(body.to_vec());
                *pos += len + 2;
            }
            return Ok(frame);
        }
        b'*' | b'~' | b'>' => 1,
        b'%' => 2,
        b'|' => 2,
        _ => return Ok(frame),
    };
    if depth >= limits.max_depth {
        return Err(FrameError::TooDeep(limits.max_depth));
    }
    let mut items = count(&frame.line, per_entry, limits)?;
    if kind == b'|' {
        items += 1; // the value the attributes describe
    }
    for _ in 0..items {
        frame.items.push(build(buf, pos, depth + 1, limits)?);
    }
    Ok(frame)
}

/// Reads whole replies from a blocking reader (a socket with a read
/// timeout, usually), keeping the bytes of any reply already behind the
/// one returned for the next call.
pub struct FrameReader<R> {
    inner: R,
    limits: FrameLimits,
    buf: Vec<u8>,
    /// How far the reply at the start of `buf` has been walked.
    scanner: Scanner,
    /// Where reads land before they join `buf`: reading into `buf` itself
    /// would zero its spare room first, byte by byte in a debug build.
    chunk: Box<[u8]>,
}

/// Bytes asked of the reader at a time.
const READ_CHUNK_BYTES: usize = 64 << 10;

impl<R: Read> FrameReader<R> {
    pub fn new(inner: R, limits: FrameLimits) -> FrameReader<R> {
        FrameReader {
            inner,
            limits,
            buf: Vec::new(),
            scanner: Scanner::new(),
            chunk: vec![0; READ_CHUNK_BYTES].into_boxed_slice(),
        }
    }

    pub fn get_ref(&self) -> &R {
        &self.inner
    }

    /// Bytes received and not yet returned as a reply.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    /// The next whole reply's exact bytes. A connection closed before the
    /// reply is whole is `UnexpectedEof`; malformed input or a reply over
    /// the limits is `InvalidData`.
    pub fn read_bytes(&mut self) -> std::io::Result<Vec<u8>> {
        loop {
            if let Some(extent) = self.scanner.resume(&self.buf, &self.limits)? {
                self.scanner = Scanner::new();
                let rest = self.buf.split_off(extent.len);
                return Ok(std::mem::replace(&mut self.buf, rest));
            }
            if self.fill()? == 0 {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    format!(
                        "connection closed in the middle of a reply (got so far: {:?})",
                        String::from_utf8_lossy(&self.buf)
                    ),
                ));
            }
        }
    }

    /// The next whole reply as a tree.
    pub fn read_frame(&mut self) -> std::io::Result<Frame> {
        let bytes = self.read_bytes()?;
        match decode(&bytes, &self.limits)? {
            Some((frame, _)) => Ok(frame),
            None => Err(FrameError::Protocol("reply ends early").into()),
        }
    }

    /// Reads what the reader has (at least one byte unless at end of
    /// input) into the buffer; the number of bytes read.
    pub fn fill(&mut self) -> std::io::Result<usize> {
        loop {
            match self.inner.read(&mut self.chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&self.chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(e),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn extent(input: &[u8]) -> Option<Extent> {
        scan(input, &DEFAULT_LIMITS).expect("valid reply")
    }

    fn len(input: &[u8]) -> Option<usize> {
        extent(input).map(|e| e.len)
    }

    #[test]
    fn simple_replies() {
        assert_eq!(extent(b"+OK\r\n"), Some(Extent { len: 5, kind: b'+' }));
        assert_eq!(len(b":42\r\n+OK\r\n"), Some(5));
        assert_eq!(len(b"_\r\n"), Some(3));
    }

    #[test]
    fn incomplete_input_needs_more() {
        for input in [
            &b""[..],
            b"+O",
            b"+OK\r",
            b"$5\r\nhel",
            b"$5\r\nhello",
            b"$5\r\nhello\r",
            b"*2\r\n$1\r\na\r\n",
            b"*2\r\n*1\r\n:1\r\n",
            b"%1\r\n+k\r\n",
            b"|1\r\n+k\r\n+v\r\n",
        ] {
            assert_eq!(scan(input, &DEFAULT_LIMITS), Ok(None), "{input:?}");
            assert_eq!(decode(input, &DEFAULT_LIMITS), Ok(None), "{input:?}");
        }
    }

    #[test]
    fn bulk_strings() {
        assert_eq!(len(b"$5\r\nhello\r\n"), Some(11));
        // The body may hold CRLF: only the declared length counts.
        assert_eq!(len(b"$4\r\na\r\nb\r\n+OK\r\n"), Some(10));
        assert_eq!(len(b"$-1\r\n"), Some(5));
        assert_eq!(len(b"$0\r\n\r\n"), Some(6));
    }

    #[test]
    fn aggregates() {
        let array = b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$-1\r\n";
        assert_eq!(len(array), Some(array.len()));
        assert_eq!(len(b"*0\r\n"), Some(4));
        assert_eq!(len(b"*-1\r\n"), Some(5));
        let map = b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n";
        assert_eq!(len(map), Some(map.len()));
        let attributed = b"|1\r\n+ttl\r\n:3\r\n+value\r\n";
        assert_eq!(len(attributed), Some(attributed.len()));
    }

    #[test]
    fn error_messages() {
        let buf = b"-BUSY running\r\n+OK\r\n";
        let e = extent(buf).expect("whole");
        assert_eq!(e.error_message(buf), Some(&b"BUSY running"[..]));
        let buf = b"!9\r\nBUSY x yz\r\n";
        let e = extent(buf).expect("whole");
        assert_eq!(e.error_message(buf), Some(&b"BUSY x yz"[..]));
        let buf = b"*1\r\n-ERR nested\r\n";
        let e = extent(buf).expect("whole");
        assert_eq!(e.error_message(buf), None);
    }

    #[test]
    fn decode_keeps_every_byte() {
        for input in [
            &b"+OK\r\n"[..],
            b"$-1\r\n",
            b"*-1\r\n",
            b"_\r\n",
            b"$4\r\na\r\nb\r\n",
            b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$-1\r\n",
            b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n",
            b"|1\r\n+ttl\r\n:3\r\n+value\r\n",
            b"=15\r\ntxt:Some string\r\n",
            b"~2\r\n#t\r\n,1.5\r\n",
        ] {
            let (frame, used) = decode(input, &DEFAULT_LIMITS)
                .expect("valid")
                .expect("whole");
            assert_eq!(used, input.len());
            assert_eq!(frame.to_bytes(), input, "{input:?}");
        }
        let (frame, _) = decode(b"*2\r\n$1\r\na\r\n$-1\r\n+x\r\n", &DEFAULT_LIMITS)
            .expect("valid")
            .expect("whole");
        assert_eq!(frame.items.len(), 2);
        assert_eq!(frame.items[0].text(), b"a");
        assert!(frame.items[1].is_null());
        // An attribute's pairs come first, then the value they describe.
        let (frame, _) = decode(b"|1\r\n+ttl\r\n:3\r\n+value\r\n", &DEFAULT_LIMITS)
            .expect("valid")
            .expect("whole");
        assert_eq!(frame.items.len(), 3);
        assert_eq!(frame.items[2].text(), b"value");
    }

    #[test]
    fn garbage_is_rejected() {
        for input in [
            &b"?what\r\n"[..],
            b"$abc\r\n",
            b"$3\r\nabcde\r\n",
            b"\r\n",
            b"*-2\r\n",
            b"$-5\r\n",
            b"*1\r\n\r\n",
        ] {
            assert!(
                matches!(scan(input, &DEFAULT_LIMITS), Err(FrameError::Protocol(_))),
                "{input:?}"
            );
            assert!(decode(input, &DEFAULT_LIMITS).is_err(), "{input:?}");
        }
    }

    #[test]
    fn limits_are_enforced() {
        let small = FrameLimits {
            max_bytes: 16,
            max_depth: 2,
        };
        let too_large = Err(FrameError::TooLarge(16));
        assert!(scan(b"$999999999999\r\n", &DEFAULT_LIMITS).is_err());
        assert_eq!(scan(b"$17\r\n", &small), too_large);
        assert_eq!(scan(b"*17\r\n", &small), too_large);
        // Not all there yet, and already over the limit.
        assert_eq!(scan(b"+0123456789abcdef", &small), too_large);
        assert_eq!(scan(b"*2\r\n$5\r\nhello\r\n$3\r\n", &small), too_large);
        assert!(decode(b"*1\r\n*1\r\n:1\r\n", &small).is_ok());
        assert_eq!(
            decode(b"*1\r\n*1\r\n*0\r\n", &small),
            Err(FrameError::TooDeep(2))
        );
        // The scan itself does not recurse: deep nesting costs it nothing.
        let deep: Vec<u8> = b"*1\r\n"
            .repeat(100_000)
            .into_iter()
            .chain(*b":1\r\n")
            .collect();
        assert_eq!(len(&deep), Some(deep.len()));
        assert!(matches!(
            decode(&deep, &DEFAULT_LIMITS),
            Err(FrameError::TooDeep(_))
        ));
    }

    #[test]
    fn resumed_scans_agree_with_whole_ones() {
        let stream = b"*3\r\n$5\r\nhello\r\n%1\r\n+k\r\n*2\r\n:1\r\n_\r\n|1\r\n+a\r\n:1\r\n$0\r\n\r\n+next\r\n";
        let whole = extent(stream);
        for step in 1..stream.len() {
            let mut scanner = Scanner::new();
            let mut found = None;
            for end in (step..=stream.len()).step_by(step).chain([stream.len()]) {
                found = scanner
                    .resume(&stream[..end], &DEFAULT_LIMITS)
                    .expect("valid");
                if found.is_some() {
                    break;
                }
            }
            assert_eq!(found, whole, "step {step}");
        }
    }

    #[test]
    fn reader_splits_a_stream_into_replies() {
        // One byte per read: every reply is assembled from pieces.
        struct Trickle<'a>(&'a [u8]);
        impl Read for Trickle<'_> {
            fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
                let n = self.0.len().min(out.len()).min(1);
                out[..n].copy_from_slice(&self.0[..n]);
                self.0 = &self.0[n..];
                Ok(n)
            }
        }
        let stream = b"+OK\r\n*2\r\n$1\r\na\r\n:7\r\n$3\r\nx";
        let mut reader = FrameReader::new(Trickle(stream), DEFAULT_LIMITS);
        assert_eq!(reader.read_bytes().expect("one"), b"+OK\r\n");
        let frame = reader.read_frame().expect("two");
        assert_eq!(frame.to_bytes(), b"*2\r\n$1\r\na\r\n:7\r\n");
        let cut = reader.read_bytes().expect_err("cut short");
        assert_eq!(cut.kind(), std::io::ErrorKind::UnexpectedEof);
        let mut reader = FrameReader::new(&b"+OK\r\n?x\r\n"[..], DEFAULT_LIMITS);
        assert!(reader.read_bytes().is_ok());
        let bad = reader.read_bytes().expect_err("garbage");
        assert_eq!(bad.kind(), std::io::ErrorKind::InvalidData);
    }
}
