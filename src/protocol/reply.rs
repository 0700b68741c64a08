//! Reply values and their RESP2 / RESP3 encodings.
//!
//! Commands build a [`Reply`]; only the connection encodes it, for the
//! protocol version the client chose with HELLO. RESP3-only types degrade to
//! their RESP2 forms exactly as Redis 7 does.

use std::borrow::Cow;

use bytes::Bytes;

use crate::util::numbers::{format_double_g17, format_i64};

/// A command's answer, before encoding.
#[derive(Debug, Clone, PartialEq)]
pub enum Reply {
    /// `+text`
    Status(Cow<'static, str>),
    /// `-CODE text`: the whole line after `-`.
    Error(Cow<'static, str>),
    /// `:n`
    Int(i64),
    /// `$len` + bytes
    Bulk(Bytes),
    /// RESP2 `$-1`, RESP3 `_`
    Nil,
    /// RESP2 `*-1`, RESP3 `_`
    NilArray,
    /// `*n`
    Array(Vec<Reply>),
    /// RESP3 `%n`; RESP2 a flat array of keys and values.
    Map(Vec<(Reply, Reply)>),
    /// RESP3 `~n`; RESP2 an array.
    Set(Vec<Reply>),
    /// RESP3 `,d`; RESP2 a bulk string in `%.17g` form.
    Double(f64),
    /// RESP3 `#t`/`#f`; RESP2 `:1`/`:0`.
    Bool(bool),
    /// RESP3 `=len\r\nfmt:text`; RESP2 a bulk string of the text.
    Verbatim(&'static str, Bytes),
    /// RESP3 `(digits`; RESP2 a bulk string.
    BigNumber(Bytes),
    /// RESP3 `>n` (an out-of-band push: Pub/Sub confirmations); RESP2
    /// an array.
    Push(Vec<Reply>),
    /// Several replies to one command, one after the other (SUBSCRIBE
    /// confirms each channel with a reply of its own).
    Sequence(Vec<Reply>),
    /// Nothing is sent (a successful SHUTDOWN closes the connection).
    NoReply,
}

/// Frequently used replies and error texts. The error texts are exactly
/// Redis 7's: clients match on them.
impl Reply {
    pub const fn ok() -> Reply {
        Reply::Status(Cow::Borrowed("OK"))
    }

    pub fn status(s: &'static str) -> Reply {
        Reply::Status(Cow::Borrowed(s))
    }

    pub fn error(s: impl Into<Cow<'static, str>>) -> Reply {
        Reply::Error(s.into())
    }

    pub fn bulk(b: &[u8]) -> Reply {
        Reply::Bulk(Bytes::copy_from_slice(b))
    }

    pub fn bulk_string(s: String) -> Reply {
        Reply::Bulk(Bytes::from(s.into_bytes()))
    }

    pub fn is_error(&self) -> bool {
        matches!(self, Reply::Error(_))
    }

    /// About how many bytes the reply takes to hold and to encode (within
    /// a small constant per element): what bounds the replies a client
    /// has not read yet.
    pub fn size_estimate(&self) -> usize {
        /// Framing and bookkeeping per element.
        const ELEMENT: usize = 16;
        ELEMENT
            + match self {
                Reply::Status(s) | Reply::Error(s) => s.len(),
                Reply::Bulk(b) | Reply::BigNumber(b) | Reply::Verbatim(_, b) => b.len(),
                Reply::Array(items)
                | Reply::Set(items)
                | Reply::Push(items)
                | Reply::Sequence(items) => items.iter().map(Reply::size_estimate).sum(),
                Reply::Map(pairs) => pairs
                    .iter()
                    .map(|(k, v)| k.size_estimate() + v.size_estimate())
                    .sum(),
                Reply::Int(_)
                | Reply::Nil
                | Reply::NilArray
                | Reply::Double(_)
                | Reply::Bool(_)
                | Reply::NoReply => 0,
            }
    }

    /// Appends the encoding of `self` to `out`.
    pub fn encode(&self, out: &mut Vec<u8>, resp3: bool) {
        match self {
            Reply::Status(s) => line(out, b'+', s.as_bytes()),
            Reply::Error(s) => line(out, b'-', s.as_bytes()),
            Reply::Int(n) => int_line(out, b':', *n),
            Reply::Bulk(b) => bulk(out, b),
            Reply::Nil if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::Nil => out.extend_from_slice(b"$-1\r\n"),
            Reply::NilArray if resp3 => out.extend_from_slice(b"_\r\n"),
            Reply::NilArray => out.extend_from_slice(b"*-1\r\n"),
            Reply::Array(items) => {
                int_line(out, b'*', items.len() as i64);
                for item in items {
                    item.encode(out, resp3);
                }
            }
            Reply::Map(pairs) => {
                if resp3 {
                    int_line(out, b'%', pairs.len() as i64);
                } else {
                    int_line(out, b'*', 2 * pairs.len() as i64);
                }
                for (k, v) in pairs {
                    k.encode(out, resp3);
                    v.encode(out, resp3);
                }
            }
            Reply::Set(items) => {
                int_line(out, if resp3 { b'~' } else { b'*' }, items.len() as i64);
                for item in items {
                    item.encode(out, resp3);
                }
            }
            Reply::Double(d) => {
                let text = format_double_g17(*d);
                if resp3 {
                    line(out, b',', text.as_bytes());
                } else {
                    bulk(out, text.as_bytes());
                }
            }
            Reply::Bool(b) if resp3 => {
                out.extend_from_slice(if *b { b"#t\r\n" } else { b"#f\r\n" })
            }
            Reply::Bool(b) => int_line(out, b':', *b as i64),
            Reply::Verbatim(format, text) => {
                if resp3 {
                    int_line(out, b'=', (text.len() + 4) as i64);
                    out.extend_from_slice(format.as_bytes());
                    out.push(b':');
                    out.extend_from_slice(text);
                    out.extend_from_slice(b"\r\n");
                } else {
                    bulk(out, text);
                }
            }
            Reply::Push(items) => {
                int_line(out, if resp3 { b'>' } else { b'*' }, items.len() as i64);
                for item in items {
                    item.encode(out, resp3);
                }
            }
            Reply::Sequence(replies) => {
                for reply in replies {
                    reply.encode(out, resp3);
                }
            }
            Reply::NoReply => {}
            Reply::BigNumber(digits) => {
                if resp3 {
                    line(out, b'(', digits);
                } else {
                    bulk(out, digits);
                }
            }
        }
    }
}

fn line(out: &mut Vec<u8>, kind: u8, text: &[u8]) {
    out.push(kind);
    // A status or error line must not break the framing: Redis replaces
    // newlines in error texts with spaces, and so do we.
    out.extend(
        text.iter()
            .map(|&c| if c == b'\r' || c == b'\n' { b' ' } else { c }),
    );
    out.extend_from_slice(b"\r\n");
}

fn int_line(out: &mut Vec<u8>, kind: u8, n: i64) {
    out.push(kind);
    format_i64(n, out);
    out.extend_from_slice(b"\r\n");
}

fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    int_line(out, b'$', data.len() as i64);
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn enc(r: &Reply, resp3: bool) -> String {
        let mut out = Vec::new();
        r.encode(&mut out, resp3);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn resp2_and_resp3_forms() {
        assert_eq!(enc(&Reply::ok(), false), "+OK\r\n");
        assert_eq!(enc(&Reply::Int(-7), false), ":-7\r\n");
        assert_eq!(enc(&Reply::Nil, false), "$-1\r\n");
        assert_eq!(enc(&Reply::Nil, true), "_\r\n");
        assert_eq!(enc(&Reply::NilArray, false), "*-1\r\n");
        assert_eq!(enc(&Reply::Double(1.5), false), "$3\r\n1.5\r\n");
        assert_eq!(enc(&Reply::Double(1.5), true), ",1.5\r\n");
        assert_eq!(enc(&Reply::Bool(true), false), ":1\r\n");
        assert_eq!(enc(&Reply::Bool(false), true), "#f\r\n");
        let map = Reply::Map(vec![(Reply::bulk(b"a"), Reply::Int(1))]);
        assert_eq!(enc(&map, false), "*2\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&map, true), "%1\r\n$1\r\na\r\n:1\r\n");
        assert_eq!(enc(&Reply::error("ERR a\r\nb"), false), "-ERR a  b\r\n");
        let v = Reply::Verbatim("txt", Bytes::from_static(b"hi"));
        assert_eq!(enc(&v, true), "=6\r\ntxt:hi\r\n");
        assert_eq!(enc(&v, false), "$2\r\nhi\r\n");
    }
}
