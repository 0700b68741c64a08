//! MONITOR's line: `+<seconds>.<microseconds> [<db> <client>] "arg" ...`,
//! each argument quoted as Redis's `sdscatrepr` quotes it; `<client>` is
//! the client's address, or `lua` for a script's `redis.call`. The line is
//! a status reply in RESP2 and RESP3 alike, so it is encoded once and
//! travels to every monitor as bytes (a message of `Kind::Monitor`).

use std::time::{SystemTime, UNIX_EPOCH};

/// The whole line for a command run with `args` in database `db` by
/// `client`, CRLF included.
pub fn line<'a>(db: usize, client: &str, args: impl Iterator<Item = &'a [u8]>) -> Vec<u8> {
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    let mut out = format!(
        "+{}.{:06} [{db} {client}]",
        now.as_secs(),
        now.subsec_micros()
    )
    .into_bytes();
    for arg in args {
        out.push(b' ');
        quote(&mut out, arg);
    }
    out.extend_from_slice(b"\r\n");
    out
}

/// `arg` in double quotes, escaped as `sdscatrepr` does.
fn quote(out: &mut Vec<u8>, arg: &[u8]) {
    out.push(b'"');
    for &c in arg {
        match c {
            b'\\' | b'"' => out.extend_from_slice(&[b'\\', c]),
            b'\n' => out.extend_from_slice(b"\\n"),
            b'\r' => out.extend_from_slice(b"\\r"),
            b'\t' => out.extend_from_slice(b"\\t"),
            0x07 => out.extend_from_slice(b"\\a"),
            0x08 => out.extend_from_slice(b"\\b"),
            0x20..=0x7e => out.push(c),
            _ => out.extend_from_slice(format!("\\x{c:02x}").as_bytes()),
        }
    }
    out.push(b'"');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quotes_as_redis() {
        let args: [&[u8]; 3] = [b"set", b"q\x01\"\\", b"1\n2\t\r\x07\x08\xff"];
        let line = line(3, "lua", args.into_iter());
        let text = String::from_utf8(line).expect("ascii");
        let (stamp, rest) = text.split_once(' ').expect("a timestamp");
        assert!(stamp.starts_with('+') && stamp.contains('.'), "{stamp}");
        assert_eq!(
            rest,
            "[3 lua] \"set\" \"q\\x01\\\"\\\\\" \"1\\n2\\t\\r\\a\\b\\xff\"\r\n"
        );
    }
}
