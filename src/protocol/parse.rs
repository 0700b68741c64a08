//! Incremental RESP request parser: multibulk (`*N $len ...`) and inline
//! (telnet-style) commands, with Redis's limits and error texts.
//!
//! The parser keeps its progress between reads, so a frame that arrives in
//! many pieces is scanned once (O(bytes), never O(bytes²)). Completed
//! arguments are split off the read buffer as zero-copy `Bytes`.

use bytes::{Buf, Bytes, BytesMut};

use crate::config::{
    MAX_BULK_PREALLOC_BYTES, MAX_INLINE_BYTES, MAX_MULTIBULK_LEN, MAX_UNAUTHENTICATED_BULK_BYTES,
    MAX_UNAUTHENTICATED_MULTIBULK_LEN,
};

/// A protocol violation. The text is sent as `-ERR Protocol error: <text>`
/// and then the connection is closed, as Redis does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProtocolError(pub &'static str);

impl ProtocolError {
    pub fn reply_text(&self) -> String {
        format!("ERR Protocol error: {}", self.0)
    }
}

/// Limits that depend on the connection's state and configuration.
#[derive(Debug, Clone, Copy)]
pub struct ParseLimits {
    /// `proto-max-bulk-len`
    pub max_bulk_bytes: usize,
    /// Until AUTH succeeds, frames are limited much more tightly.
    pub authenticated: bool,
}

#[derive(Debug, Default)]
pub struct RequestParser {
    /// Arguments still expected for the multibulk in progress (0: none).
    remaining: usize,
    /// Length of the bulk whose header was read, if its body is pending.
    bulk_len: Option<usize>,
    /// Bytes held by arguments already split off for the frame in progress.
    pending_arg_bytes: usize,
}

impl RequestParser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Bytes this parser holds outside `buf` (part of the query buffer limit).
    pub fn pending_bytes(&self) -> usize {
        self.pending_arg_bytes
    }

    /// Parses the next complete command from `buf` into `argv`.
    ///
    /// Returns `Ok(true)` when `argv` holds a complete command, `Ok(false)`
    /// when more input is needed (`argv` then holds the partial frame and must
    /// be passed again unchanged). Empty commands are skipped, as in Redis.
    pub fn parse(
        &mut self,
        buf: &mut BytesMut,
        argv: &mut Vec<Bytes>,
        limits: ParseLimits,
    ) -> Result<bool, ProtocolError> {
        loop {
            if self.remaining == 0 {
                if buf.is_empty() {
                    return Ok(false);
                }
                argv.clear();
                self.pending_arg_bytes = 0;
                if buf[0] != b'*' {
                    match parse_inline(buf, argv)? {
                        None => return Ok(false),
                        Some(true) => return Ok(true),
                        Some(false) => continue, // an empty line
                    }
                }
                let Some(count) = read_header_number(buf, "too big mbulk count string")? else {
                    return Ok(false);
                };
                let count = match count {
                    Some(n) if n <= MAX_MULTIBULK_LEN => n,
                    _ => return Err(ProtocolError("invalid multibulk length")),
                };
                if count > MAX_UNAUTHENTICATED_MULTIBULK_LEN && !limits.authenticated {
                    return Err(ProtocolError("unauthenticated multibulk length"));
                }
                if count <= 0 {
                    continue; // `*0` and `*-1` are empty commands: skipped
                }
                self.remaining = count as usize;
                argv.reserve(self.remaining.min(1024));
            }
            while self.remaining > 0 {
                let len = match self.bulk_len {
                    Some(len) => len,
                    None => {
                        if buf.is_empty() {
                            return Ok(false);
                        }
                        if buf[0] != b'$' {
                            return Err(ProtocolError(expected_dollar(buf[0])));
                        }
                        let Some(header) = read_header_number(buf, "too big bulk count string")?
                        else {
                            return Ok(false);
                        };
                        let len = match header {
                            Some(n) if n >= 0 && n as u64 <= limits.max_bulk_bytes as u64 => {
                                n as usize
                            }
                            _ => return Err(ProtocolError("invalid bulk length")),
                        };
                        if len > MAX_UNAUTHENTICATED_BULK_BYTES && !limits.authenticated {
                            return Err(ProtocolError("unauthenticated bulk length"));
                        }
                        self.bulk_len = Some(len);
                        len
                    }
                };
                if buf.len() < len + 2 {
                    // Grow towards the whole bulk in big steps, but never
                    // reserve more than a bounded amount on a header alone:
                    // a client must send bytes to make us hold them.
                    buf.reserve((len + 2 - buf.len()).min(MAX_BULK_PREALLOC_BYTES));
                    return Ok(false);
                }
                let arg = buf.split_to(len).freeze();
                buf.advance(2); // Redis does not check the CRLF either
                self.pending_arg_bytes += len;
                argv.push(arg);
                self.bulk_len = None;
                self.remaining -= 1;
            }
            self.pending_arg_bytes = 0;
            return Ok(true);
        }
    }
}

/// Consumes one `\r\n`-terminated header line (`*<n>` or `$<n>`) and
/// returns its number (`None` inside when it is not one). It only advances
/// the buffer: splitting off a line would cost a reference count each.
fn read_header_number(
    buf: &mut BytesMut,
    too_big: &'static str,
) -> Result<Option<Option<i64>>, ProtocolError> {
    match buf.iter().position(|&c| c == b'\r') {
        Some(cr) if cr + 1 < buf.len() => {
            let number = parse_i64(&buf[1..cr]);
            buf.advance(cr + 2);
            Ok(Some(number))
        }
        Some(_) => Ok(None),
        None if buf.len() > MAX_INLINE_BYTES => Err(ProtocolError(too_big)),
        None => Ok(None),
    }
}

/// `expected '$', got 'X'` for every byte, without allocating.
fn expected_dollar(got: u8) -> &'static str {
    const TEXTS: [&str; 4] = [
        "expected '$', got '*'",
        "expected '$', got ':'",
        "expected '$', got '+'",
        "expected '$', got '-'",
    ];
    match got {
        b'*' => TEXTS[0],
        b':' => TEXTS[1],
        b'+' => TEXTS[2],
        b'-' => TEXTS[3],
        _ => EXPECTED_DOLLAR_ASCII
            .get(got as usize)
            .copied()
            .unwrap_or("expected '$', got something else"),
    }
}

macro_rules! expected_table {
    ($($c:literal)*) => { [$(concat!("expected '$', got '", $c, "'")),*] };
}

/// Printable ASCII answers; others fall back to a generic text.
static EXPECTED_DOLLAR_ASCII: [&str; 127] = {
    let mut t = ["expected '$', got something else"; 127];
    let printable = expected_table!(
        " " "!" "\"" "#" "$" "%" "&" "'" "(" ")" "*" "+" "," "-" "." "/"
        "0" "1" "2" "3" "4" "5" "6" "7" "8" "9" ":" ";" "<" "=" ">" "?"
        "@" "A" "B" "C" "D" "E" "F" "G" "H" "I" "J" "K" "L" "M" "N" "O"
        "P" "Q" "R" "S" "T" "U" "V" "W" "X" "Y" "Z" "[" "\\" "]" "^" "_"
        "`" "a" "b" "c" "d" "e" "f" "g" "h" "i" "j" "k" "l" "m" "n" "o"
        "p" "q" "r" "s" "t" "u" "v" "w" "x" "y" "z" "{" "|" "}" "~"
    );
    let mut i = 0;
    while i < printable.len() {
        t[32 + i] = printable[i];
        i += 1;
    }
    t
};

fn parse_i64(b: &[u8]) -> Option<i64> {
    crate::util::numbers::parse_i64(b)
}

/// An inline command: one line, arguments split like Redis's `sdssplitargs`.
/// `None`: the line is incomplete; `Some(false)`: it was empty.
fn parse_inline(buf: &mut BytesMut, argv: &mut Vec<Bytes>) -> Result<Option<bool>, ProtocolError> {
    let Some(nl) = buf.iter().position(|&c| c == b'\n') else {
        if buf.len() > MAX_INLINE_BYTES {
            return Err(ProtocolError("too big inline request"));
        }
        return Ok(None);
    };
    let mut line = buf.split_to(nl + 1);
    line.truncate(nl);
    if line.last() == Some(&b'\r') {
        line.truncate(nl - 1);
    }
    split_args(&line, argv).ok_or(ProtocolError("unbalanced quotes in request"))?;
    Ok(Some(!argv.is_empty()))
}

/// Redis `sdssplitargs`: spaces separate, `"..."` with C escapes and `\xHH`,
/// `'...'` with only `\'`; a closing quote must be followed by a space.
pub(crate) fn split_args(line: &[u8], argv: &mut Vec<Bytes>) -> Option<()> {
    let mut i = 0;
    loop {
        while i < line.len() && line[i].is_ascii_whitespace() {
            i += 1;
        }
        if i == line.len() {
            return Some(());
        }
        let mut arg = Vec::new();
        let mut in_double = false;
        let mut in_single = false;
        loop {
            let c = line.get(i).copied();
            if in_double {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'x') => {
                        let hex = |c: Option<&u8>| c.and_then(|c| (*c as char).to_digit(16));
                        match (hex(line.get(i + 2)), hex(line.get(i + 3))) {
                            (Some(h), Some(l)) => {
                                arg.push((h * 16 + l) as u8);
                                i += 3;
                            }
                            _ => arg.push(b'\\'),
                        }
                    }
                    Some(b'\\') if i + 1 < line.len() => {
                        i += 1;
                        arg.push(match line[i] {
                            b'n' => b'\n',
                            b'r' => b'\r',
                            b't' => b'\t',
                            b'b' => 8,
                            b'a' => 7,
                            other => other,
                        });
                    }
                    Some(b'"') => {
                        if line.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(c) => arg.push(c),
                }
            } else if in_single {
                match c {
                    None => return None,
                    Some(b'\\') if line.get(i + 1) == Some(&b'\'') => {
                        i += 1;
                        arg.push(b'\'');
                    }
                    Some(b'\'') => {
                        if line.get(i + 1).is_some_and(|c| !c.is_ascii_whitespace()) {
                            return None;
                        }
                        i += 1;
                        break;
                    }
                    Some(c) => arg.push(c),
                }
            } else {
                match c {
                    None => break,
                    Some(c) if c.is_ascii_whitespace() => break,
                    Some(b'"') => in_double = true,
                    Some(b'\'') => in_single = true,
                    Some(c) => arg.push(c),
                }
            }
            i += 1;
        }
        argv.push(Bytes::from(arg));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: ParseLimits = ParseLimits {
        max_bulk_bytes: 512 * 1024 * 1024,
        authenticated: true,
    };

    fn parse_all(input: &[u8]) -> Result<Vec<Vec<Bytes>>, ProtocolError> {
        let mut p = RequestParser::new();
        let mut buf = BytesMut::from(input);
        let mut out = Vec::new();
        let mut argv = Vec::new();
        while p.parse(&mut buf, &mut argv, LIMITS)? {
            out.push(std::mem::take(&mut argv));
        }
        Ok(out)
    }

    #[test]
    fn multibulk_and_inline() {
        let cmds = parse_all(b"*2\r\n$3\r\nGET\r\n$1\r\nk\r\nPING\r\n\r\nset a \"b c\"\n").unwrap();
        assert_eq!(cmds.len(), 3);
        assert_eq!(cmds[0], vec![Bytes::from("GET"), Bytes::from("k")]);
        assert_eq!(cmds[1], vec![Bytes::from("PING")]);
        assert_eq!(cmds[2][2], Bytes::from("b c"));
    }

    #[test]
    fn byte_at_a_time() {
        let input = b"*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n";
        let mut p = RequestParser::new();
        let mut buf = BytesMut::new();
        let mut argv = Vec::new();
        for (i, b) in input.iter().enumerate() {
            buf.extend_from_slice(&[*b]);
            let done = p.parse(&mut buf, &mut argv, LIMITS).unwrap();
            assert_eq!(done, i == input.len() - 1);
        }
        assert_eq!(argv[2], Bytes::from("value"));
    }

    #[test]
    fn protocol_errors() {
        assert_eq!(
            parse_all(b"*x\r\n").unwrap_err().0,
            "invalid multibulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n$-1\r\n").unwrap_err().0,
            "invalid bulk length"
        );
        assert_eq!(
            parse_all(b"*1\r\n:1\r\n").unwrap_err().0,
            "expected '$', got ':'"
        );
        assert_eq!(
            parse_all(b"set \"a\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
        assert_eq!(
            parse_all(b"set \"a\"b\n").unwrap_err().0,
            "unbalanced quotes in request"
        );
        let long = vec![b'a'; MAX_INLINE_BYTES + 1];
        assert_eq!(parse_all(&long).unwrap_err().0, "too big inline request");
        let mut count = b"*".to_vec();
        count.extend(vec![b'1'; MAX_INLINE_BYTES + 1]);
        assert_eq!(
            parse_all(&count).unwrap_err().0,
            "too big mbulk count string"
        );
        let limits = ParseLimits {
            max_bulk_bytes: 10,
            authenticated: true,
        };
        let mut buf = BytesMut::from(&b"*1\r\n$11\r\n"[..]);
        let err = RequestParser::new()
            .parse(&mut buf, &mut Vec::new(), limits)
            .unwrap_err();
        assert_eq!(err.0, "invalid bulk length");
    }

    #[test]
    fn unauthenticated_limits() {
        let limits = ParseLimits {
            max_bulk_bytes: 1 << 29,
            authenticated: false,
        };
        let mut buf = BytesMut::from(&b"*11\r\n"[..]);
        let err = RequestParser::new()
            .parse(&mut buf, &mut Vec::new(), limits)
            .unwrap_err();
        assert_eq!(err.0, "unauthenticated multibulk length");
        let mut buf = BytesMut::from(&b"*1\r\n$16385\r\n"[..]);
        let err = RequestParser::new()
            .parse(&mut buf, &mut Vec::new(), limits)
            .unwrap_err();
        assert_eq!(err.0, "unauthenticated bulk length");
    }

    #[test]
    fn inline_escapes() {
        let cmds = parse_all(b"echo \"\\x41\\n\" 'it\\'s'\r\n").unwrap();
        assert_eq!(cmds[0][1], Bytes::from("A\n"));
        assert_eq!(cmds[0][2], Bytes::from("it's"));
    }
}
