//! Argument parsing shared by all families, with Redis's error replies.

use bytes::Bytes;

use super::errors;
use crate::protocol::Reply;
use crate::util::numbers::{parse_f64, parse_i64};

/// An integer argument, or Redis's "not an integer" error.
pub fn int_arg(arg: &[u8]) -> Result<i64, Reply> {
    parse_i64(arg).ok_or_else(|| Reply::error(errors::NOT_INTEGER))
}

/// A float argument (inf allowed, NaN not), or "not a valid float".
pub fn float_arg(arg: &[u8]) -> Result<f64, Reply> {
    parse_f64(arg).ok_or_else(|| Reply::error(errors::NOT_FLOAT))
}

/// Case-insensitive comparison of an argument with an ASCII keyword.
pub fn is(arg: &[u8], keyword: &str) -> bool {
    arg.eq_ignore_ascii_case(keyword.as_bytes())
}

/// Turns a `Result<Reply, Reply>` into the reply either way, so command code
/// can use `?` on argument errors.
pub fn reply(r: Result<Reply, Reply>) -> Reply {
    r.unwrap_or_else(|e| e)
}

/// The arguments as owned bytes, for keys and values that are stored.
pub fn owned(arg: &Bytes) -> Vec<u8> {
    arg.to_vec()
}

/// A SCAN-family cursor, parsed like Redis's `parseScanCursorOrReply`
/// (C `strtoul`, base 10): no leading whitespace, an optional sign (`-1`
/// wraps around, as in C), digits, and nothing after them but the end or a
/// NUL byte. No digits at all means cursor 0 (so `""` is accepted);
/// overflow is an error.
pub fn scan_cursor(arg: &[u8]) -> Result<u64, Reply> {
    let invalid = || Reply::error(errors::INVALID_CURSOR);
    if arg
        .first()
        .is_some_and(|&c| c.is_ascii_whitespace() || c == 0x0b)
    {
        return Err(invalid());
    }
    let (negative, rest) = match arg.first() {
        Some(b'-') => (true, &arg[1..]),
        Some(b'+') => (false, &arg[1..]),
        _ => (false, arg),
    };
    let digits = rest.iter().take_while(|c| c.is_ascii_digit()).count();
    // strtoul leaves its end pointer at the start when it finds no digits.
    let end = if digits == 0 {
        0
    } else {
        arg.len() - rest.len() + digits
    };
    if arg.get(end).is_some_and(|&c| c != 0) {
        return Err(invalid());
    }
    let mut value: u64 = 0;
    for &c in &rest[..digits] {
        value = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(c - b'0')))
            .ok_or_else(invalid)?;
    }
    Ok(if negative {
        value.wrapping_neg()
    } else {
        value
    })
}

/// The options after a SCAN-family cursor: `[MATCH pattern] [COUNT count]`
/// in any order, each possibly repeated (the last one wins). Returns the
/// pattern, or None when every element matches (no MATCH, or `*`, which
/// Redis also short-cuts). COUNT is validated as Redis does; callers that
/// return everything at once have no other use for it.
pub fn scan_options(args: &[Bytes]) -> Result<Option<&[u8]>, Reply> {
    let mut pattern = None;
    let mut rest = args;
    while let Some((option, tail)) = rest.split_first() {
        let Some((value, tail)) = tail.split_first() else {
            return Err(Reply::error(errors::SYNTAX));
        };
        if is(option, "count") {
            if int_arg(value)? < 1 {
                return Err(Reply::error(errors::SYNTAX));
            }
        } else if is(option, "match") {
            pattern = (&value[..] != b"*").then_some(&value[..]);
        } else {
            return Err(Reply::error(errors::SYNTAX));
        }
        rest = tail;
    }
    Ok(pattern)
}

/// Whether a SCAN-family element passes `pattern` (None: everything).
pub fn scan_accepts(pattern: Option<&[u8]>, element: &[u8]) -> bool {
    pattern.is_none_or(|p| crate::util::glob::glob_match(p, element, false))
}

/// Most elements a negative (repeating) SRANDMEMBER / HRANDFIELD count may
/// ask for. Redis streams such replies until memory runs out; a reply
/// built in memory needs a bound.
pub const MAX_RANDOM_REPEATS: u64 = 1 << 24;

/// The COUNT of SRANDMEMBER / HRANDFIELD: an integer in
/// -LONG_MAX..=LONG_MAX (negative: elements may repeat).
pub fn random_count(arg: &[u8]) -> Result<i64, Reply> {
    match int_arg(arg)? {
        i64::MIN => Err(Reply::error(errors::RANDOM_COUNT_OUT_OF_RANGE)),
        n => Ok(n),
    }
}

/// The error for a repeating count above [`MAX_RANDOM_REPEATS`].
pub fn too_many_repeats() -> Reply {
    Reply::error(format!(
        "ERR value is out of range, a negative count may ask for at most {MAX_RANDOM_REPEATS} elements"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scan_cursors_follow_strtoul() {
        for ok in ["0", "00", "+5", "-1", "", "18446744073709551615", "7\0junk"] {
            assert!(scan_cursor(ok.as_bytes()).is_ok(), "{ok:?}");
        }
        assert_eq!(scan_cursor(b"-1"), Ok(u64::MAX));
        for bad in [
            " 0",
            "0 ",
            "-",
            "+",
            "x",
            "1.5",
            "0x10",
            "18446744073709551616",
        ] {
            assert!(scan_cursor(bad.as_bytes()).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn scan_options_in_any_order() {
        let args = |a: &[&str]| {
            a.iter()
                .map(|s| Bytes::from(s.to_string()))
                .collect::<Vec<_>>()
        };
        assert_eq!(scan_options(&args(&[])), Ok(None));
        let a = args(&["COUNT", "5", "match", "a*", "MATCH", "b*"]);
        assert_eq!(scan_options(&a), Ok(Some(&b"b*"[..])));
        assert_eq!(scan_options(&args(&["MATCH", "*"])), Ok(None));
        for bad in [
            &["COUNT"][..],
            &["COUNT", "0"],
            &["MATCH"],
            &["TYPE", "set"],
        ] {
            assert_eq!(scan_options(&args(bad)), Err(Reply::error(errors::SYNTAX)));
        }
        assert_eq!(
            scan_options(&args(&["COUNT", "x"])),
            Err(Reply::error(errors::NOT_INTEGER))
        );
    }
}
