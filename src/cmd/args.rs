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

/// The value paired with `arg`'s keyword in `choices` (any case), if any:
/// `one_of(arg, &[("left", End::Left), ("right", End::Right)])`.
pub fn one_of<T: Copy>(arg: &[u8], choices: &[(&str, T)]) -> Option<T> {
    choices
        .iter()
        .find(|(keyword, _)| is(arg, keyword))
        .map(|&(_, value)| value)
}

/// A command's options, read left to right. Each method consumes only what
/// it returns (or ends the parse with a syntax error), so an `if` / `else
/// if` chain over one option keeps the order in which Redis checks them,
/// and so which error comes first:
///
/// ```ignore
/// let mut args = ArgCursor::new(&argv[3..]);
/// while let Some(opt) = args.next() {
///     if is(opt, "replace") {
///         replace = true;
///     } else if let Some([db]) = args.values_if(is(opt, "db"), 1) {
///         target = db_index(db)?;
///     } else {
///         return Err(errors::syntax());
///     }
/// }
/// ```
#[derive(Debug, Clone)]
pub struct ArgCursor<'a> {
    rest: &'a [Bytes],
}

impl<'a> ArgCursor<'a> {
    pub fn new(args: &'a [Bytes]) -> Self {
        ArgCursor { rest: args }
    }

    /// The next `n` arguments, consumed if there are that many.
    pub fn next_n(&mut self, n: usize) -> Option<&'a [Bytes]> {
        let (taken, rest) = self.rest.split_at_checked(n)?;
        self.rest = rest;
        Some(taken)
    }

    /// An option's `n` values, consumed when `matched` (the option just
    /// read is the one wanted) and at least `n` arguments are left; else
    /// nothing is consumed. Match the values with a slice pattern:
    /// `if let Some([offset, count]) = args.values_if(is(opt, "limit"), 2)`.
    pub fn values_if(&mut self, matched: bool, n: usize) -> Option<&'a [Bytes]> {
        if matched {
            self.next_n(n)
        } else {
            None
        }
    }

    /// The next argument, which must be there (an option's value, a
    /// keyword the grammar requires): a syntax error when none is left.
    pub fn required(&mut self) -> Result<&'a Bytes, Reply> {
        self.next().ok_or_else(errors::syntax)
    }

    /// The next option and its value, for grammars of `NAME value` pairs:
    /// None at the end, a syntax error when the value is missing.
    pub fn next_pair(&mut self) -> Result<Option<(&'a Bytes, &'a Bytes)>, Reply> {
        let Some(option) = self.next() else {
            return Ok(None);
        };
        Ok(Some((option, self.required()?)))
    }
}

impl<'a> Iterator for ArgCursor<'a> {
    type Item = &'a Bytes;

    /// The next argument, consumed.
    fn next(&mut self) -> Option<&'a Bytes> {
        let (first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }
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

/// SCAN's COUNT when none is given, as in Redis.
pub const SCAN_DEFAULT_COUNT: usize = 10;

/// The options after a SCAN-family cursor.
#[derive(Debug, PartialEq)]
pub struct ScanOptions<'a> {
    /// None when every element matches (no MATCH, or `*`, which Redis also
    /// short-cuts).
    pub pattern: Option<&'a [u8]>,
    pub count: usize,
    /// SCAN's TYPE filter.
    pub type_name: Option<&'a [u8]>,
}

/// `[MATCH pattern] [COUNT count]`, and with `with_type` (SCAN) `[TYPE
/// type]`, in any order, each possibly repeated (the last one wins); COUNT
/// is validated as Redis does.
pub fn scan_options(args: &[Bytes], with_type: bool) -> Result<ScanOptions<'_>, Reply> {
    let mut options = ScanOptions {
        pattern: None,
        count: SCAN_DEFAULT_COUNT,
        type_name: None,
    };
    let mut args = ArgCursor::new(args);
    while let Some((option, value)) = args.next_pair()? {
        if is(option, "count") {
            options.count = usize::try_from(int_arg(value)?)
                .ok()
                .filter(|&n| n >= 1)
                .ok_or_else(errors::syntax)?;
        } else if is(option, "match") {
            options.pattern = (&value[..] != b"*").then_some(&value[..]);
        } else if with_type && is(option, "type") {
            options.type_name = Some(value);
        } else {
            return Err(errors::syntax());
        }
    }
    Ok(options)
}

/// The reply of a SCAN-family command on a missing key.
pub fn empty_scan() -> Reply {
    Reply::Array(vec![Reply::bulk(b"0"), Reply::Array(Vec::new())])
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
        let pattern =
            |a: &[&str]| scan_options(&args(a), false).map(|o| o.pattern.map(<[u8]>::to_vec));
        assert_eq!(pattern(&[]), Ok(None));
        assert_eq!(
            pattern(&["COUNT", "5", "match", "a*", "MATCH", "b*"]),
            Ok(Some(b"b*".to_vec()))
        );
        assert_eq!(pattern(&["MATCH", "*"]), Ok(None));
        for bad in [
            &["COUNT"][..],
            &["COUNT", "0"],
            &["COUNT", "-1"],
            &["MATCH"],
            &["TYPE", "set"],
            &["MATCH", "a", "COUNT"],
        ] {
            assert_eq!(pattern(bad), Err(Reply::error(errors::SYNTAX)));
        }
        assert_eq!(
            pattern(&["COUNT", "x"]),
            Err(Reply::error(errors::NOT_INTEGER))
        );
        let a = args(&["type", "hash", "COUNT", "7", "TYPE", "set"]);
        let o = scan_options(&a, true).unwrap();
        assert_eq!((o.count, o.type_name), (7, Some(&b"set"[..])));
    }

    #[test]
    fn cursor_consumes_only_what_it_returns() {
        let a: Vec<Bytes> = ["limit", "1", "2", "x"].map(Bytes::from).into();
        let mut c = ArgCursor::new(&a);
        let opt = c.next().unwrap();
        assert_eq!(c.values_if(is(opt, "rev"), 2), None);
        assert_eq!(c.values_if(is(opt, "limit"), 4), None);
        assert_eq!(c.values_if(is(opt, "limit"), 2), Some(&a[1..3]));
        assert_eq!(c.clone().required(), Ok(&a[3]));
        assert_eq!(c.next_pair(), Err(Reply::error(errors::SYNTAX)));
        assert_eq!(c.next(), None);
        assert_eq!(c.required(), Err(Reply::error(errors::SYNTAX)));
        let mut c = ArgCursor::new(&a);
        assert_eq!(c.next_n(5), None);
        assert_eq!(c.next_n(3), Some(&a[..3]));
        assert_eq!(c.next_n(1), Some(&a[3..]));
        assert_eq!(c.next_pair(), Ok(None));
        assert_eq!(one_of(b"MIN", &[("sum", 0), ("min", 1)]), Some(1));
        assert_eq!(one_of(b"avg", &[("sum", 0), ("min", 1)]), None);
    }
}
