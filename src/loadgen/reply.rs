//! Finding where one reply ends in a read buffer, without copying it.
//!
//! The generator only needs a reply's length and whether it was an error
//! (and whether that error was `-BUSY`), so it never builds values: it
//! uses the shared decoder's scan ([`frame::scan`]), which walks the
//! headers of RESP2 and RESP3 replies, skipping bulk bodies by their
//! declared length, with one counter of values still to come instead of a
//! stack, so nesting depth costs nothing.

use super::MAX_REPLY_BYTES;
use crate::protocol::frame::{self, FrameError, FrameLimits, DEFAULT_LIMITS};

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

impl From<FrameError> for ReplyError {
    fn from(e: FrameError) -> ReplyError {
        match e {
            FrameError::Protocol(why) => ReplyError::Protocol(why),
            FrameError::TooLarge(_) => ReplyError::TooLarge,
            // The scan does not recurse, so it has no depth to exceed.
            FrameError::TooDeep(_) => ReplyError::Protocol("reply nested too deep"),
        }
    }
}

/// The error code that marks a script-busy reply.
const BUSY_CODE: &[u8] = b"BUSY";

/// The generator's bounds: a reply's size only (it never builds a tree,
/// so nesting costs it nothing).
const LIMITS: FrameLimits = FrameLimits {
    max_bytes: MAX_REPLY_BYTES,
    max_depth: DEFAULT_LIMITS.max_depth,
};

/// The first complete reply in `buf`: `Ok(None)` while more bytes are
/// needed.
#[inline]
pub fn read_reply(buf: &[u8]) -> Result<Option<Reply>, ReplyError> {
    let Some(extent) = frame::scan(buf, &LIMITS)? else {
        return Ok(None);
    };
    let kind = match extent.error_message(buf) {
        Some(message) => error_kind(message),
        None => ReplyKind::Ok,
    };
    Ok(Some(Reply {
        len: extent.len,
        kind,
    }))
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
