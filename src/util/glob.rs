//! Glob-style pattern matching, a faithful port of Redis 7's
//! `stringmatchlen()` (`src/util.c`).
//!
//! Clients rely on the exact quirks of Redis's matcher (for `KEYS`,
//! `SCAN ... MATCH`, `PSUBSCRIBE`, `CONFIG GET`, ACL key patterns, ...), so
//! this is a line-by-line port rather than a "nicer" glob implementation.
//!
//! Where the C code reads one byte past the end of the pattern it sees the
//! sds NUL terminator; [`at`] reproduces that by yielding `0` for any index
//! past the end, which also makes the port panic-free on every input.
//!
//! Deviation: Redis compares bytes as C `char`, which is signed on x86, so
//! `[...]` ranges involving bytes >= 0x80 behave differently between x86 and
//! ARM builds of Redis. We compare as unsigned bytes (the ARM behaviour),
//! which is the only one that makes ranges like `[\x80-\xff]` meaningful.

/// Recursion limit shared with Redis: patterns needing deeper `*` nesting
/// simply do not match (protects the stack against abusive patterns).
const MAX_NESTING: u32 = 1000;

/// Does `string` match the glob `pattern`?
///
/// Supports `*`, `?`, `[abc]`, `[^abc]`, ranges `[a-z]` (reversed ranges
/// such as `[z-a]` are swapped), and `\` to escape the next byte (also inside
/// brackets). With `nocase`, ASCII letters compare case-insensitively (C
/// locale `tolower`), except for an escaped byte inside brackets, which Redis
/// always compares exactly.
///
/// Malformed patterns never fail: a trailing `\` matches a literal `\`, and
/// an unterminated `[` set extends to the end of the pattern.
///
/// Quirk kept from Redis: an empty `string` never matches, not even `*`,
/// because the matching loop never runs; Redis callers (`KEYS`, `SCAN`)
/// special-case the pattern `*` before calling the matcher, and ours must too.
///
/// Runs in polynomial time: once the tail after a `*` fails to match at any
/// suffix, no earlier `*` can help, so the whole search is abandoned
/// (Redis's `skipLongerMatches`).
#[must_use]
pub fn glob_match(pattern: &[u8], string: &[u8], nocase: bool) -> bool {
    let mut skip_longer_matches = false;
    match_impl(pattern, string, nocase, &mut skip_longer_matches, 0)
}

/// Byte `i` of `b`, or `0` (the C string terminator) when out of range.
#[inline]
fn at(b: &[u8], i: usize) -> u8 {
    b.get(i).copied().unwrap_or(0)
}

/// Byte equality, ASCII-case-folded when `nocase` (C-locale `tolower`).
#[inline]
fn byte_eq(a: u8, b: u8, nocase: bool) -> bool {
    if nocase {
        a.eq_ignore_ascii_case(&b)
    } else {
        a == b
    }
}

/// `stringmatchlen_impl`. `p` and `i` play the role of the advancing C
/// pointers; `pattern.len() - p` is `patternLen` and `string.len() - i` is
/// `stringLen`. Invariant: `p <= pattern.len()` and `i <= string.len()`.
fn match_impl(
    pattern: &[u8],
    string: &[u8],
    nocase: bool,
    skip_longer_matches: &mut bool,
    nesting: u32,
) -> bool {
    if nesting > MAX_NESTING {
        return false;
    }
    let plen = pattern.len();
    let slen = string.len();
    let mut p = 0usize;
    let mut i = 0usize;

    while p < plen && i < slen {
        let sc = at(string, i);
        match at(pattern, p) {
            b'*' => {
                // Collapse runs of '*'.
                while p < plen && at(pattern, p + 1) == b'*' {
                    p += 1;
                }
                if plen - p == 1 {
                    return true; // trailing '*' matches the rest
                }
                let rest = pattern.get(p + 1..).unwrap_or(&[]);
                while i < slen {
                    let tail = string.get(i..).unwrap_or(&[]);
                    if match_impl(rest, tail, nocase, skip_longer_matches, nesting + 1) {
                        return true;
                    }
                    if *skip_longer_matches {
                        return false;
                    }
                    i += 1;
                }
                // The rest of the pattern matches no suffix of the string, so
                // letting an earlier '*' swallow more bytes cannot help.
                *skip_longer_matches = true;
                return false;
            }
            b'?' => {
                i += 1;
            }
            b'[' => {
                let (matched, end) = match_set(pattern, p, sc, nocase);
                if !matched {
                    return false;
                }
                p = end;
                i += 1;
            }
            b'\\' => {
                // Escape the next byte; a trailing '\' is a literal '\'.
                if plen - p >= 2 {
                    p += 1;
                }
                if !byte_eq(at(pattern, p), sc, nocase) {
                    return false;
                }
                i += 1;
            }
            pc => {
                if !byte_eq(pc, sc, nocase) {
                    return false;
                }
                i += 1;
            }
        }
        p += 1;
        if i == slen {
            // String exhausted: trailing '*'s match the empty rest.
            while at(pattern, p) == b'*' {
                p += 1;
            }
            break;
        }
    }
    p == plen && i == slen
}

/// The `[...]` set that starts at `pattern[p]` (a `[`), against byte `sc`:
/// whether it matches, and where the set ends (its `]`, or the pattern's
/// last byte when it is unterminated), for the caller's `p += 1` to step
/// past.
fn match_set(pattern: &[u8], mut p: usize, sc: u8, nocase: bool) -> (bool, usize) {
    let plen = pattern.len();
    p += 1;
    let negate = at(pattern, p) == b'^';
    if negate {
        p += 1;
    }
    let mut matched = false;
    loop {
        let remaining = plen.saturating_sub(p);
        let pc = at(pattern, p);
        if pc == b'\\' && remaining >= 2 {
            // Escaped byte: always compared case-sensitively.
            p += 1;
            if at(pattern, p) == sc {
                matched = true;
            }
        } else if pc == b']' {
            break;
        } else if remaining == 0 {
            // Unterminated set: step back so the caller's increment lands
            // exactly on the end of the pattern.
            p = p.saturating_sub(1);
            break;
        } else if remaining >= 3 && at(pattern, p + 1) == b'-' {
            let mut start = pc;
            let mut end = at(pattern, p + 2);
            let mut c = sc;
            if start > end {
                std::mem::swap(&mut start, &mut end);
            }
            if nocase {
                // Lowercased after swapping, as in Redis, so e.g. `[Z-a]`
                // can become empty.
                start = start.to_ascii_lowercase();
                end = end.to_ascii_lowercase();
                c = c.to_ascii_lowercase();
            }
            p += 2;
            if c >= start && c <= end {
                matched = true;
            }
        } else if byte_eq(pc, sc, nocase) {
            matched = true;
        }
        p += 1;
    }
    (matched != negate, p)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::{Duration, Instant};

    fn m(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), false)
    }

    fn mi(p: &str, s: &str) -> bool {
        glob_match(p.as_bytes(), s.as_bytes(), true)
    }

    #[test]
    fn literals() {
        assert!(m("hello", "hello"));
        assert!(!m("hello", "hell"));
        assert!(!m("hell", "hello"));
        assert!(!m("hello", "Hello"));
        assert!(mi("hello", "HeLLo"));
        assert!(m("", ""));
        assert!(!m("", "a"));
        assert!(!m("a", ""));
    }

    #[test]
    fn star() {
        assert!(m("*", "anything"));
        assert!(m("h*o", "hello"));
        assert!(m("h*o", "ho"));
        assert!(!m("h*o", "hola"));
        assert!(m("*llo", "hello"));
        assert!(m("he*", "he"));
        assert!(m("he**", "he"));
        assert!(m("h***o", "hello"));
        assert!(m("*a*b*", "xxaxxbxx"));
        assert!(!m("*a*b*", "xxbxxaxx"));
        assert!(m("a*", "a"));
        assert!(m("*a", "a"));
        assert!(m("**a", "ba"));
        assert!(m("user:*:name", "user:1000:name"));
        assert!(!m("user:*:name", "user:1000:email"));
    }

    #[test]
    fn empty_string_quirk() {
        // Redis's matcher never matches the empty string (callers
        // special-case the "*" pattern); we keep that behaviour.
        assert!(!m("*", ""));
        assert!(!m("**", ""));
        assert!(!m("?", ""));
        assert!(!m("[a]", ""));
        assert!(m("", ""));
    }

    #[test]
    fn question_mark() {
        assert!(m("h?llo", "hello"));
        assert!(m("h?llo", "hallo"));
        assert!(!m("h?llo", "hllo"));
        assert!(m("???", "abc"));
        assert!(!m("???", "ab"));
        assert!(!m("???", "abcd"));
        assert!(m("?*", "a"));
        assert!(m("*?", "abc"));
    }

    #[test]
    fn brackets() {
        assert!(m("h[ae]llo", "hello"));
        assert!(m("h[ae]llo", "hallo"));
        assert!(!m("h[ae]llo", "hillo"));
        assert!(m("h[^e]llo", "hallo"));
        assert!(!m("h[^e]llo", "hello"));
        assert!(m("h[a-b]llo", "hbllo"));
        assert!(!m("h[a-b]llo", "hcllo"));
        assert!(m("[b-a]", "a"), "reversed range is swapped");
        assert!(m("[z-a]x", "mx"));
        assert!(m("[0-9][0-9]", "42"));
        assert!(!m("[^0-9]", "5"));
        assert!(m("[^0-9]", "x"));
        assert!(m("[-a]", "-"), "leading '-' is literal");
        // "c-]" is the range ]..c (and the set is then unterminated), so a
        // '-' before ']' is NOT literal in Redis.
        assert!(!m("[abc-]", "-"));
        assert!(m("[abc-]", "b"));
        // "[]" is an empty set: it can never match a byte.
        assert!(!m("[]]", "]"));
        assert!(!m("[]", "]"));
        assert!(!m("[]a", "a"));
        assert!(m("[^]x", "ax"));
        assert!(m("[a-c-e]", "b"));
        assert!(m("[a-c-e]", "-"));
        assert!(m("[a-c-e]", "e"));
        assert!(!m("[a-c-e]", "d"));
    }

    #[test]
    fn bracket_case() {
        assert!(!m("[A]", "a"));
        assert!(mi("[A]", "a"));
        assert!(mi("[a-z]", "Q"));
        assert!(mi("[A-Z]", "q"));
        assert!(!m("[A-Z]", "q"));
        // Escaped bytes inside brackets ignore nocase, as in Redis.
        assert!(!mi("[\\A]", "a"));
        assert!(mi("[\\A]", "A"));
        // [Z-a] contains Z [ \ ] ^ _ ` a; lowercasing the bounds after the
        // swap gives z..a, which is empty.
        assert!(m("[Z-a]", "_"));
        assert!(!mi("[Z-a]", "_"));
        assert!(!mi("[Z-a]", "a"));
    }

    #[test]
    fn escapes() {
        assert!(m("\\*", "*"));
        assert!(!m("\\*", "a"));
        assert!(m("\\?", "?"));
        assert!(!m("\\?", "x"));
        assert!(m("\\[a]", "[a]"));
        assert!(m("a\\\\b", "a\\b"));
        assert!(m("\\a", "a"));
        assert!(m("[\\]]", "]"));
        assert!(m("[\\^a]", "^"));
        assert!(m("[a\\-z]", "-"));
        assert!(!m("[a\\-z]", "m"));
        assert!(m("foo\\*bar*", "foo*barbaz"));
        assert!(!m("foo\\*bar*", "fooxbarbaz"));
    }

    #[test]
    fn malformed_patterns_do_not_panic() {
        // Trailing backslash matches a literal backslash.
        assert!(m("\\", "\\"));
        assert!(m("a\\", "a\\"));
        assert!(!m("a\\", "a"));
        assert!(!m("a\\", "ab"));
        // Unterminated sets run to the end of the pattern.
        assert!(!m("[", "a"));
        assert!(!m("[", "["));
        assert!(m("[a", "a"));
        assert!(!m("[a", "b"));
        assert!(
            m("[^", "x"),
            "'[^' is an empty negated set: matches one byte"
        );
        assert!(m("[^a", "b"));
        assert!(!m("[^a", "a"));
        assert!(m("[a-", "a"));
        assert!(m("[a-", "-"));
        assert!(m("[\\", "\\"));
        assert!(m("[a\\", "\\"));
        assert!(m("[a-]", "]"), "'[a-]' is the range ]..a, unterminated");
        assert!(m("[a-]", "_"));
        assert!(!m("*[", "x"));
        assert!(!m("*[", "["));
        assert!(!m("a[", "a"));
        assert!(!m("[^", ""));
        assert!(m("[a-", "a"));
        assert!(!m("[a-", "b"));
        // Embedded NUL bytes are ordinary bytes.
        assert!(glob_match(b"a\0*", b"a\0b", false));
        assert!(!glob_match(b"a\0", b"a", false));
        assert!(glob_match(b"[\0-\x02]", b"\x01", false));
    }

    #[test]
    fn high_bytes_are_unsigned() {
        assert!(glob_match(b"[\x80-\xff]", b"\xc3", false));
        assert!(!glob_match(b"[\x80-\xff]", b"a", false));
        assert!(glob_match(b"[\x00-\xff]", b"a", false));
        assert!(!glob_match("caf?".as_bytes(), "café".as_bytes(), false));
        assert!(glob_match("caf??".as_bytes(), "café".as_bytes(), false));
        assert!(glob_match("caf*".as_bytes(), "café".as_bytes(), false));
        // Non-ASCII bytes are not case folded.
        assert!(!glob_match("É".as_bytes(), "é".as_bytes(), true));
    }

    #[test]
    fn exhaustive_small_inputs_never_panic() {
        let alphabet = b"ab*?[]^-\\";
        let mut pat = Vec::new();
        let strings: [&[u8]; 6] = [b"", b"a", b"ab", b"ba]", b"-^\\", b"aab*"];
        // Every pattern of length <= 4 over the alphabet.
        let n = alphabet.len();
        for len in 0..=4u32 {
            for code in 0..n.pow(len) {
                pat.clear();
                let mut c = code;
                for _ in 0..len {
                    pat.push(alphabet[c % n]);
                    c /= n;
                }
                for s in strings {
                    let a = glob_match(&pat, s, false);
                    let b = glob_match(&pat, s, true);
                    assert_eq!(a, b, "no letters differ in case here");
                }
            }
        }
    }

    #[test]
    fn agrees_with_naive_matcher_on_simple_patterns() {
        // For patterns with only literals, '?' and '*' the semantics are the
        // textbook ones (except the empty-string quirk); check against a
        // tiny reference implementation.
        fn naive(p: &[u8], s: &[u8]) -> bool {
            match p.split_first() {
                None => s.is_empty(),
                Some((b'*', rest)) => (0..=s.len()).any(|k| naive(rest, &s[k..])),
                Some((b'?', rest)) => !s.is_empty() && naive(rest, &s[1..]),
                Some((c, rest)) => s.first() == Some(c) && naive(rest, &s[1..]),
            }
        }
        let alphabet = b"ab*?";
        let strings: [&[u8]; 7] = [b"a", b"b", b"ab", b"ba", b"aab", b"abab", b"bbbba"];
        let mut pat = Vec::new();
        for len in 0..=5u32 {
            for code in 0..4usize.pow(len) {
                pat.clear();
                let mut c = code;
                for _ in 0..len {
                    pat.push(alphabet[c % 4]);
                    c /= 4;
                }
                for s in strings {
                    assert_eq!(
                        glob_match(&pat, s, false),
                        naive(&pat, s),
                        "pattern {:?} string {:?}",
                        String::from_utf8_lossy(&pat),
                        String::from_utf8_lossy(s)
                    );
                }
            }
        }
    }

    #[test]
    fn pathological_pattern_is_fast() {
        let string = vec![b'a'; 50_000];
        let mut pattern = b"a*".repeat(40);
        pattern.push(b'b');
        let start = Instant::now();
        assert!(!glob_match(&pattern, &string, false));
        assert!(!glob_match(&pattern, &string, true));
        // Also the classic Redis regression test shape.
        let pat2 = b"a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b";
        assert!(!glob_match(pat2, &string, false));
        let mut ok = string.clone();
        ok.push(b'b');
        assert!(glob_match(pat2, &ok, false));
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "took {:?}",
            start.elapsed()
        );
    }

    #[test]
    fn deep_nesting_is_bounded() {
        // More than MAX_NESTING separated stars: Redis gives up (no match)
        // instead of recursing without bound; we must not overflow the stack.
        let pattern = b"*a".repeat(1500);
        let string = vec![b'a'; 1500];
        assert!(!glob_match(&pattern, &string, false));
        // Just under the limit still matches.
        let pattern = b"*a".repeat(900);
        let string = vec![b'a'; 900];
        assert!(glob_match(&pattern, &string, false));
    }
}
