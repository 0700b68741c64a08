//! Finding where one reply ends in a read buffer, without copying it.
//!
//! The generator only needs a reply's length and whether it was an error
//! (and whether that error was `-BUSY`), so it never builds values: it walks
//! the headers of RESP2 and RESP3 replies, skipping bulk bodies by their
//! declared length, with one counter of values still to come instead of a
//! stack, so nesting depth costs nothing.

use super::MAX_REPLY_BYTES;

/// What kind of reply a complete reply was.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReplyKind {
    /// Anything that is not an error (nested errors inside an array
    /// included: the command itself succeeded).
    Ok,
    /// A `-` simple error or a `!` blob error other than BUSY.
    Error,
    /// An error whose code is `BUSY` (a script is running too long).
    Busy,
}

/// A complete reply at the start of a buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reply {
    /// Bytes the reply occupies, trailing CRLF included.
    pub len: usize,
    pub kind: ReplyKind,
}

/// Input that can never become a valid reply.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ReplyError {
    /// Not RESP: an unknown type byte or a malformed length.
    Protocol(&'static str),
    /// A reply that declares (or already has) more than `MAX_REPLY_BYTES`.
    TooLarge,
}

impl std::fmt::Display for ReplyError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ReplyError::Protocol(why) => write!(f, "protocol error in reply: {why}"),
            ReplyError::TooLarge => {
                write!(f, "reply larger than {MAX_REPLY_BYTES} bytes")
            }
        }
    }
}

impl std::error::Error for ReplyError {}

/// The error code that marks a script-busy reply.
const BUSY_CODE: &[u8] = b"BUSY";

/// The first complete reply in `buf`: `Ok(None)` while more bytes are
/// needed.
pub fn read_reply(buf: &[u8]) -> Result<Option<Reply>, ReplyError> {
    let mut pos = 0;
    // Values still to read before the reply is complete.
    let mut pending: u64 = 1;
    let mut kind = ReplyKind::Ok;
    while pending > 0 {
        let Some(line_end) = find_crlf(buf, pos) else {
            return incomplete(buf.len());
        };
        if line_end == pos {
            return Err(ReplyError::Protocol(
                "empty line where a reply was expected",
            ));
        }
        let type_byte = buf[pos];
        let header = &buf[pos + 1..line_end];
        let top_level = pos == 0;
        pos = line_end + 2;
        pending -= 1;
        match type_byte {
            // Simple string, integer, null, boolean, double, big number.
            b'+' | b':' | b'_' | b'#' | b',' | b'(' => {}
            b'-' => {
                if top_level {
                    kind = error_kind(header);
                }
            }
            // Bulk string, blob error, verbatim string.
            b'$' | b'!' | b'=' => {
                let Some(len) = parse_length(header)? else {
                    continue; // $-1: null bulk
                };
                let body_end = pos + len;
                if body_end + 2 > buf.len() {
                    return incomplete(body_end + 2);
                }
                if &buf[body_end..body_end + 2] != b"\r\n" {
                    return Err(ReplyError::Protocol("bulk not followed by CRLF"));
                }
                if top_level && type_byte == b'!' {
                    kind = error_kind(&buf[pos..body_end]);
                }
                pos = body_end + 2;
            }
            // Array, set, push: n values follow.
            b'*' | b'~' | b'>' => pending += count(header, 1)?,
            // Map: n keys and n values follow.
            b'%' => pending += count(header, 2)?,
            // Attribute: n key/value pairs, then the value they describe.
            b'|' => {
                pending += count(header, 2)? + 1;
            }
            _ => return Err(ReplyError::Protocol("unknown reply type byte")),
        }
    }
    Ok(Some(Reply { len: pos, kind }))
}

/// `Ok(None)` for a reply that is not all there yet, unless it already
/// needs more than the limit.
fn incomplete(needed: usize) -> Result<Option<Reply>, ReplyError> {
    if needed > MAX_REPLY_BYTES {
        Err(ReplyError::TooLarge)
    } else {
        Ok(None)
    }
}

fn error_kind(message: &[u8]) -> ReplyKind {
    let code_len = message
        .iter()
        .position(|&b| b == b' ')
        .unwrap_or(message.len());
    if &message[..code_len] == BUSY_CODE {
        ReplyKind::Busy
    } else {
        ReplyKind::Error
    }
}

/// Index of the `\r` of the first CRLF at or after `from` (a lone CR is
/// not a line end).
fn find_crlf(buf: &[u8], from: usize) -> Option<usize> {
    let rest = buf.get(from..)?;
    rest.windows(2).position(|w| w == b"\r\n").map(|i| from + i)
}

/// A bulk length: `None` for the null bulk (-1).
fn parse_length(header: &[u8]) -> Result<Option<usize>, ReplyError> {
    match parse_signed(header)? {
        -1 => Ok(None),
        n if n < 0 => Err(ReplyError::Protocol("negative bulk length")),
        n if n as u64 > MAX_REPLY_BYTES as u64 => Err(ReplyError::TooLarge),
        n => Ok(Some(n as usize)),
    }
}

/// How many values an aggregate header announces (`per_entry` per entry);
/// a null aggregate (-1) announces none.
fn count(header: &[u8], per_entry: u64) -> Result<u64, ReplyError> {
    match parse_signed(header)? {
        -1 => Ok(0),
        n if n < 0 => Err(ReplyError::Protocol("negative aggregate length")),
        // Every value takes at least 3 bytes, so a longer aggregate could
        // never fit under the limit.
        n if n as u64 > MAX_REPLY_BYTES as u64 => Err(ReplyError::TooLarge),
        n => Ok(n as u64 * per_entry),
    }
}

fn parse_signed(digits: &[u8]) -> Result<i64, ReplyError> {
    const MALFORMED: ReplyError = ReplyError::Protocol("malformed length");
    let (negative, digits) = match digits.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, digits),
    };
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

#[cfg(test)]
mod tests {
    use super::*;

    fn reply(input: &[u8]) -> Option<Reply> {
        read_reply(input).expect("valid reply")
    }

    #[test]
    fn simple_replies() {
        assert_eq!(
            reply(b"+OK\r\n"),
            Some(Reply {
                len: 5,
                kind: ReplyKind::Ok
            })
        );
        assert_eq!(reply(b":42\r\n+OK\r\n").map(|r| r.len), Some(5));
        assert_eq!(reply(b"_\r\n").map(|r| r.len), Some(3));
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
        ] {
            assert_eq!(read_reply(input), Ok(None), "{input:?}");
        }
    }

    #[test]
    fn bulk_strings() {
        assert_eq!(reply(b"$5\r\nhello\r\n").map(|r| r.len), Some(11));
        // The body may hold CRLF: only the declared length counts.
        assert_eq!(reply(b"$4\r\na\r\nb\r\n+OK\r\n").map(|r| r.len), Some(10));
        assert_eq!(reply(b"$-1\r\n").map(|r| r.len), Some(5));
        assert_eq!(reply(b"$0\r\n\r\n").map(|r| r.len), Some(6));
    }

    #[test]
    fn arrays_maps_and_attributes() {
        let array = b"*3\r\n$1\r\na\r\n*2\r\n:1\r\n:2\r\n$-1\r\n";
        assert_eq!(reply(array).map(|r| r.len), Some(array.len()));
        assert_eq!(reply(b"*0\r\n").map(|r| r.len), Some(4));
        assert_eq!(reply(b"*-1\r\n").map(|r| r.len), Some(5));
        let map = b"%2\r\n+a\r\n:1\r\n+b\r\n*1\r\n:2\r\n";
        assert_eq!(reply(map).map(|r| r.len), Some(map.len()));
        let attributed = b"|1\r\n+ttl\r\n:3\r\n+value\r\n";
        assert_eq!(reply(attributed).map(|r| r.len), Some(attributed.len()));
        // An error inside an array does not make the reply an error.
        let exec = b"*2\r\n+OK\r\n-ERR nested\r\n";
        assert_eq!(reply(exec).map(|r| r.kind), Some(ReplyKind::Ok));
    }

    #[test]
    fn errors_and_busy() {
        assert_eq!(
            reply(b"-ERR unknown command\r\n").map(|r| r.kind),
            Some(ReplyKind::Error)
        );
        let busy = b"-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
        assert_eq!(
            reply(busy),
            Some(Reply {
                len: busy.len(),
                kind: ReplyKind::Busy
            })
        );
        // BUSYGROUP is another code, not BUSY.
        assert_eq!(
            reply(b"-BUSYGROUP exists\r\n").map(|r| r.kind),
            Some(ReplyKind::Error)
        );
        assert_eq!(
            reply(b"!9\r\nBUSY x yz\r\n").map(|r| r.kind),
            Some(ReplyKind::Busy)
        );
    }

    #[test]
    fn garbage_is_rejected() {
        assert!(matches!(
            read_reply(b"?what\r\n"),
            Err(ReplyError::Protocol(_))
        ));
        assert!(matches!(
            read_reply(b"$abc\r\n"),
            Err(ReplyError::Protocol(_))
        ));
        assert!(matches!(
            read_reply(b"$3\r\nabcde\r\n"),
            Err(ReplyError::Protocol(_))
        ));
        assert!(matches!(read_reply(b"\r\n"), Err(ReplyError::Protocol(_))));
        assert_eq!(read_reply(b"$999999999999\r\n"), Err(ReplyError::TooLarge));
        assert_eq!(read_reply(b"*999999999999\r\n"), Err(ReplyError::TooLarge));
    }
}
