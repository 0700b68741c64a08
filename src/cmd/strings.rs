//! String commands: GET SET GETEX INCR APPEND SETRANGE MGET MSET and friends,
//! with Redis 7.0's option grammar, error texts and expiry rules.
//!
//! Expiry deadlines are absolute Unix times in ms (`Entry::expires_at_ms`,
//! 0 for none); relative ones (EX, PX) are taken from `ctx.now_ms`.

use bytes::Bytes;

use super::flags::*;
use super::{command, errors, int_arg, is, Command, Ctx, Gather};
use super::{one_of, ArgCursor};
use crate::config::MAX_STRING_BYTES;
use crate::notify::Class;
use crate::protocol::Reply;
use crate::store::{Value, ValueRef};
use crate::util::longdouble::{self, IncrFloatError};
use crate::util::numbers::{format_i64, parse_i64};

/// Shard-side code of this file: `?` on argument and type errors.
type CmdResult = Result<Reply, Reply>;

/// Flags and arities as Redis 7.0's COMMAND INFO reports them.
#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("get",         2,  READONLY | FAST)       .key().shard(fallible!(get)),
    command("set",         -3, WRITE | DENYOOM)       .key().shard(fallible!(set)),
    command("setnx",       3,  WRITE | DENYOOM | FAST).key().shard(fallible!(setnx)),
    command("setex",       4,  WRITE | DENYOOM)       .key().shard(fallible!(setex)),
    command("psetex",      4,  WRITE | DENYOOM)       .key().shard(fallible!(psetex)),
    command("getset",      3,  WRITE | DENYOOM | FAST).key().shard(fallible!(getset)),
    command("getdel",      2,  WRITE | FAST)          .key().shard(fallible!(getdel)),
    command("getex",       -2, WRITE | FAST)          .key().shard(fallible!(getex)),
    command("incr",        2,  WRITE | DENYOOM | FAST).key().shard(fallible!(incr)),
    command("decr",        2,  WRITE | DENYOOM | FAST).key().shard(fallible!(decr)),
    command("incrby",      3,  WRITE | DENYOOM | FAST).key().shard(fallible!(incrby)),
    command("decrby",      3,  WRITE | DENYOOM | FAST).key().shard(fallible!(decrby)),
    command("incrbyfloat", 3,  WRITE | DENYOOM | FAST).key().shard(fallible!(incrbyfloat)),
    command("append",      3,  WRITE | DENYOOM | FAST).key().shard(fallible!(append)),
    command("strlen",      2,  READONLY | FAST)       .key().shard(fallible!(strlen)),
    command("getrange",    4,  READONLY)              .key().shard(fallible!(getrange)),
    command("substr",      4,  READONLY)              .key().shard(fallible!(getrange)),
    command("setrange",    4,  WRITE | DENYOOM)       .key().shard(fallible!(setrange)),
    command("mget",        -2, READONLY | FAST)       .keys(1, -1, 1).fanout(Gather::ByKeyPosition).shard(mget),
    command("mset",        -3, WRITE | DENYOOM)       .keys(1, -1, 2).fanout(Gather::AllOk).shard(mset),
    // All-or-nothing, so it cannot be split: one shard or CROSSSLOT.
    command("msetnx",      -3, WRITE | DENYOOM)       .keys(1, -1, 2).shard(fallible!(msetnx)),
];

const OFFSET_OUT_OF_RANGE: &str = "ERR offset is out of range";
const DECREMENT_OVERFLOW: &str = "ERR decrement would overflow";

// ---- Helpers ----

/// Replaces the string at an existing `key`, keeping its expiry. The new
/// value is stored inline (a counter stays one allocation).
fn replace_str(ctx: &mut Ctx, key: &[u8], new: Vec<u8>) {
    let now = ctx.now_ms;
    if let Some(entry) = ctx.db().get_mut(key, now) {
        entry.set_value(Value::Str(new));
    }
}

/// Redis's `checkStringLength`: a string may not grow past the bulk limit.
fn check_length(len: usize, added: usize) -> Result<usize, Reply> {
    len.checked_add(added)
        .filter(|&total| total <= MAX_STRING_BYTES)
        .ok_or_else(|| Reply::error(errors::STRING_TOO_LONG))
}

fn invalid_expire(cmd: &str) -> Reply {
    Reply::error(errors::INVALID_EXPIRE.replace("{}", cmd))
}

/// An option as Redis compares it, as a C string: anything after a NUL
/// byte is ignored (`"NX\0junk"` is NX).
fn c_str(arg: &[u8]) -> &[u8] {
    arg.split(|&b| b == 0).next().unwrap_or(arg)
}

// ---- SET / GETEX options ----

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum ExpireKind {
    /// Seconds from now.
    Ex,
    /// Milliseconds from now.
    Px,
    /// Unix time in seconds.
    Exat,
    /// Unix time in milliseconds.
    Pxat,
}

/// The expiry options of SET and GETEX.
const EXPIRE_OPTIONS: [(&str, ExpireKind); 4] = [
    ("ex", ExpireKind::Ex),
    ("px", ExpireKind::Px),
    ("exat", ExpireKind::Exat),
    ("pxat", ExpireKind::Pxat),
];

/// An expiry option and its (not yet parsed) argument.
#[derive(Debug, Clone, Copy)]
struct Expire<'a> {
    kind: ExpireKind,
    arg: &'a [u8],
}

impl Expire<'_> {
    /// The absolute deadline in ms, as Redis's `getExpireMillisecondsOrReply`:
    /// the time must be positive and the deadline must not overflow.
    fn deadline_ms(&self, now_ms: u64, cmd: &str) -> Result<u64, Reply> {
        let n = int_arg(self.arg)?;
        let seconds = matches!(self.kind, ExpireKind::Ex | ExpireKind::Exat);
        let relative = matches!(self.kind, ExpireKind::Ex | ExpireKind::Px);
        let ms = Some(n)
            .filter(|&n| n > 0)
            .and_then(|n| {
                if seconds {
                    n.checked_mul(1000)
                } else {
                    Some(n)
                }
            })
            .and_then(|ms| {
                if relative {
                    ms.checked_add(i64::try_from(now_ms).ok()?)
                } else {
                    Some(ms)
                }
            });
        // Positive by construction: a valid, non-zero deadline.
        ms.and_then(|ms| u64::try_from(ms).ok())
            .ok_or_else(|| invalid_expire(cmd))
    }
}

/// Options of SET (`[NX|XX] [GET] [EX|PX|EXAT|PXAT t|KEEPTTL]`) and GETEX
/// (`[EX|PX|EXAT|PXAT t|PERSIST]`).
#[derive(Debug, Default)]
struct Options<'a> {
    nx: bool,
    xx: bool,
    get: bool,
    keepttl: bool,
    persist: bool,
    expire: Option<Expire<'a>>,
}

/// Redis's `parseExtendedStringArgumentsOrReply`, condition for condition:
/// conflicting options are a syntax error, while repeating one is allowed
/// (the last expiry time wins).
fn parse_options(args: &[Bytes], for_set: bool) -> Result<Options<'_>, Reply> {
    let mut o = Options::default();
    let mut args = ArgCursor::new(args);
    while let Some(opt) = args.next() {
        let opt = c_str(opt);
        let expire_kind = one_of(opt, &EXPIRE_OPTIONS);
        if for_set && is(opt, "nx") && !o.xx {
            o.nx = true;
        } else if for_set && is(opt, "xx") && !o.nx {
            o.xx = true;
        } else if for_set && is(opt, "get") {
            o.get = true;
        } else if for_set && is(opt, "keepttl") && o.expire.is_none() {
            o.keepttl = true;
        } else if !for_set && is(opt, "persist") && o.expire.is_none() {
            o.persist = true;
        } else if let Some(kind) = expire_kind {
            let arg = args.required()?;
            if o.keepttl || o.persist || o.expire.is_some_and(|e| e.kind != kind) {
                return Err(errors::syntax());
            }
            o.expire = Some(Expire { kind, arg });
        } else {
            return Err(errors::syntax());
        }
    }
    Ok(o)
}

/// Redis's `setGenericCommand`: SET and its variants. The expiry is checked
/// first, then GET's old value is read, then NX/XX decide.
fn set_generic(
    ctx: &mut Ctx,
    (key, value): (&[u8], &[u8]),
    opts: &Options,
    cmd: &str,
    ok: Reply,
    aborted: Reply,
) -> CmdResult {
    let now = ctx.now_ms;
    let deadline = opts.expire.map(|e| e.deadline_ms(now, cmd)).transpose()?;
    let old = if opts.get {
        Some(ctx.read_str(key)?.map_or(Reply::Nil, Reply::bulk))
    } else {
        None
    };
    // Only NX, XX and KEEPTTL need the old entry (a plain SET just
    // replaces it, one probe of the table).
    let old_expiry = if opts.nx || opts.xx || opts.keepttl {
        let old_expiry = ctx.db().get(key, now).map(|e| e.expires_at_ms());
        let found = old_expiry.is_some();
        if (opts.nx && found) || (opts.xx && !found) {
            return Ok(old.unwrap_or(aborted));
        }
        old_expiry
    } else {
        None
    };
    let expires_at = match deadline {
        Some(d) => d,
        None if opts.keepttl => old_expiry.unwrap_or(0),
        None => 0,
    };
    ctx.before_overwrite(key);
    ctx.db().insert_str(key, value, expires_at);
    ctx.notify(Class::STRING, "set", key);
    if deadline.is_some() {
        ctx.notify(Class::GENERIC, "expire", key);
    }
    if expires_at != 0 && expires_at <= now {
        // An absolute deadline already past: the key is gone at once
        // (announced as Redis 7.0 announces it: set, then expire).
        ctx.db().remove(key);
    }
    Ok(old.unwrap_or(ok))
}

// ---- Commands ----

/// GET key
fn get(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(ctx.read_str(&argv[1])?.map_or(Reply::Nil, Reply::bulk))
}

/// SET key value [NX|XX] [GET] [EX s|PX ms|EXAT ts|PXAT ms-ts|KEEPTTL]
fn set(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let opts = parse_options(&argv[3..], true)?;
    set_generic(
        ctx,
        (&argv[1], &argv[2]),
        &opts,
        "set",
        Reply::ok(),
        Reply::Nil,
    )
}

/// SETNX key value: 1 if set, 0 if the key existed.
fn setnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let opts = Options {
        nx: true,
        ..Options::default()
    };
    set_generic(
        ctx,
        (&argv[1], &argv[2]),
        &opts,
        "setnx",
        Reply::Int(1),
        Reply::Int(0),
    )
}

/// SETEX key seconds value
fn setex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    set_with_expire(ctx, argv, ExpireKind::Ex, "setex")
}

/// PSETEX key milliseconds value
fn psetex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    set_with_expire(ctx, argv, ExpireKind::Px, "psetex")
}

fn set_with_expire(ctx: &mut Ctx, argv: &[Bytes], kind: ExpireKind, cmd: &str) -> CmdResult {
    let opts = Options {
        expire: Some(Expire {
            kind,
            arg: &argv[2],
        }),
        ..Options::default()
    };
    set_generic(
        ctx,
        (&argv[1], &argv[3]),
        &opts,
        cmd,
        Reply::ok(),
        Reply::Nil,
    )
}

/// GETSET key value: the old value; the new one has no expiry.
fn getset(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let old = ctx.read_str(&argv[1])?.map_or(Reply::Nil, Reply::bulk);
    ctx.db().set(&argv[1], Value::Str(argv[2].to_vec()));
    ctx.notify(Class::STRING, "set", &argv[1]);
    Ok(old)
}

/// GETDEL key
fn getdel(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let Some(old) = ctx.read_str(&argv[1])?.map(Reply::bulk) else {
        return Ok(Reply::Nil);
    };
    ctx.db().remove(&argv[1]);
    ctx.notify(Class::GENERIC, "del", &argv[1]);
    Ok(old)
}

/// GETEX key [EX s|PX ms|EXAT ts|PXAT ms-ts|PERSIST]
///
/// As in Redis, a missing key answers nil before the time is validated.
fn getex(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let opts = parse_options(&argv[2..], false)?;
    let key = &argv[1];
    let Some(value) = ctx.read_str(key)?.map(Reply::bulk) else {
        return Ok(Reply::Nil);
    };
    let now = ctx.now_ms;
    match opts
        .expire
        .map(|e| e.deadline_ms(now, "getex"))
        .transpose()?
    {
        // Only EXAT / PXAT can name a past time.
        Some(deadline) if deadline <= now => {
            ctx.db().remove(key);
            ctx.notify(Class::GENERIC, "del", key);
        }
        Some(deadline) => {
            ctx.db().set_expiry(key, deadline, now);
            ctx.notify(Class::GENERIC, "expire", key);
        }
        None if opts.persist => {
            let volatile = ctx
                .db()
                .get(key, now)
                .is_some_and(|e| e.expires_at_ms() != 0);
            if volatile {
                ctx.db().set_expiry(key, 0, now);
                ctx.notify(Class::GENERIC, "persist", key);
            }
        }
        None => {}
    }
    Ok(value)
}

/// INCR key
fn incr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], 1)
}

/// DECR key
fn decr(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    incr_by(ctx, &argv[1], -1)
}

/// INCRBY key increment
fn incrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let by = int_arg(&argv[2])?;
    incr_by(ctx, &argv[1], by)
}

/// DECRBY key decrement
fn decrby(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let by = int_arg(&argv[2])?;
    // -i64::MIN does not exist; Redis refuses it up front.
    let by = by
        .checked_neg()
        .ok_or_else(|| Reply::error(DECREMENT_OVERFLOW))?;
    incr_by(ctx, &argv[1], by)
}

/// Adds `by` to the integer at `key` (absent: 0), keeping its expiry. The
/// stored text must be exactly what Redis's `string2ll` accepts.
fn incr_by(ctx: &mut Ctx, key: &[u8], by: i64) -> CmdResult {
    let incremented = ctx.replace_str_with(key, |current, text| {
        let current = parse_i64(current).ok_or_else(|| Reply::error(errors::NOT_INTEGER))?;
        let new = current
            .checked_add(by)
            .ok_or_else(|| Reply::error(errors::OVERFLOW))?;
        format_i64(new, text);
        Ok(new)
    })?;
    let new = match incremented {
        Some(new) => new,
        None => {
            ctx.db().set(key, Value::Str(by.to_string().into_bytes()));
            by
        }
    };
    ctx.notify(Class::STRING, "incrby", key);
    Ok(Reply::Int(new))
}

/// INCRBYFLOAT key increment: the new value as a bulk string.
fn incrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, by) = (&argv[1], &argv[2]);
    if let Some(s) = ctx.peek_str(key)? {
        let new = incr_by_float(s, by)?;
        let reply = Reply::bulk(&new);
        replace_str(ctx, key, new);
        ctx.notify(Class::STRING, "incrbyfloat", key);
        return Ok(reply);
    }
    let new = incr_by_float(b"0", by)?;
    let reply = Reply::bulk(&new);
    ctx.db().set(key, Value::Str(new));
    ctx.notify(Class::STRING, "incrbyfloat", key);
    Ok(reply)
}

/// The text of `current + incr` as INCRBYFLOAT stores and returns it.
///
/// Redis computes in C `long double` and prints with `"%.17Lf"` minus
/// trailing zeros; this uses `f64` and the shortest round-trip text, which
/// agree for everyday values (10.5 + 0.1 = 10.6) but not all (Redis gives
/// 1000 + 0.1 = 1000.09999999999999998, accepts 1e400 and hex, prints huge
/// values in full). Kept as one function so an exact long double emulation
/// can replace it.
fn incr_by_float(current: &[u8], incr: &[u8]) -> Result<Vec<u8>, Reply> {
    longdouble::incr_by_float(current, incr)
        .map(String::into_bytes)
        .map_err(|e| match e {
            IncrFloatError::NotAFloat => Reply::error(errors::NOT_FLOAT),
            IncrFloatError::NanOrInfinity => Reply::error(errors::INCR_NAN_OR_INF),
        })
}

/// APPEND key value: the new length; the expiry is kept.
fn append(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, tail) = (&argv[1], &argv[2]);
    let len = match ctx.str_mut(key)? {
        Some(s) => {
            check_length(s.len(), tail.len())?;
            s.extend_from_slice(tail);
            s.len()
        }
        None => {
            ctx.db().set(key, Value::Str(tail.to_vec()));
            tail.len()
        }
    };
    ctx.notify(Class::STRING, "append", key);
    Ok(Reply::Int(len as i64))
}

/// STRLEN key
fn strlen(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    Ok(Reply::Int(
        ctx.read_str(&argv[1])?.map_or(0, |s| s.len() as i64),
    ))
}

/// GETRANGE key start end (and its old name SUBSTR): inclusive, negative
/// indices count from the end, out-of-range ones are clamped.
fn getrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let start = int_arg(&argv[2])?;
    let end = int_arg(&argv[3])?;
    let s = ctx.read_str(&argv[1])?.unwrap_or_default();
    Ok(match byte_range(s.len(), start, end) {
        Some((from, to)) => Reply::bulk(&s[from..=to]),
        None => Reply::bulk(b""),
    })
}

/// `getrangeCommand`'s index arithmetic: the inclusive byte range, or None
/// when it is empty.
fn byte_range(len: usize, start: i64, end: i64) -> Option<(usize, usize)> {
    if start < 0 && end < 0 && start > end {
        return None;
    }
    let len = i64::try_from(len).ok()?;
    // A negative index plus a non-negative length cannot overflow.
    let start = if start < 0 { start + len } else { start }.max(0);
    let end = if end < 0 { end + len } else { end }.max(0).min(len - 1);
    if len == 0 || start > end {
        return None;
    }
    Some((usize::try_from(start).ok()?, usize::try_from(end).ok()?))
}

/// SETRANGE key offset value: overwrites from `offset`, zero-padding as
/// needed; the new length. The expiry is kept.
fn setrange(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    let (key, value) = (&argv[1], &argv[3]);
    let offset = int_arg(&argv[2])?;
    let offset = usize::try_from(offset).map_err(|_| Reply::error(OFFSET_OUT_OF_RANGE))?;
    if let Some(s) = ctx.str_mut(key)? {
        if value.is_empty() {
            return Ok(Reply::Int(s.len() as i64));
        }
        let end = check_length(offset, value.len())?;
        if s.len() < end {
            s.resize(end, 0);
        }
        s[offset..end].copy_from_slice(value);
        let len = s.len();
        ctx.notify(Class::STRING, "setrange", key);
        return Ok(Reply::Int(len as i64));
    }
    // Setting nothing on a missing key creates nothing.
    if value.is_empty() {
        return Ok(Reply::Int(0));
    }
    let end = check_length(offset, value.len())?;
    let mut s = vec![0; end];
    s[offset..].copy_from_slice(value);
    ctx.db().set(key, Value::Str(s));
    ctx.notify(Class::STRING, "setrange", key);
    Ok(Reply::Int(end as i64))
}

/// MGET key [key ...]: nil for missing keys and other types.
fn mget(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    Reply::Array(
        argv[1..]
            .iter()
            .map(|k| match ctx.read(k) {
                Some(ValueRef::Str(s)) => Reply::bulk(s),
                _ => Reply::Nil,
            })
            .collect(),
    )
}

/// MSET key value [key value ...]
fn mset(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    if argv.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_args("mset"));
    }
    for pair in argv[1..].chunks_exact(2) {
        ctx.before_overwrite(&pair[0]);
        ctx.db().set(&pair[0], Value::Str(pair[1].to_vec()));
        ctx.notify(Class::STRING, "set", &pair[0]);
    }
    Reply::ok()
}

/// MSETNX key value [key value ...]: 1 if all were set, 0 (and nothing
/// set) if any key existed.
fn msetnx(ctx: &mut Ctx, argv: &[Bytes]) -> CmdResult {
    if argv.len().is_multiple_of(2) {
        return Err(Reply::error(errors::wrong_args("msetnx")));
    }
    let now = ctx.now_ms;
    let db = ctx.db();
    if argv[1..].iter().step_by(2).any(|k| db.contains(k, now)) {
        return Ok(Reply::Int(0));
    }
    for pair in argv[1..].chunks_exact(2) {
        ctx.db().set(&pair[0], Value::Str(pair[1].to_vec()));
        ctx.notify(Class::STRING, "set", &pair[0]);
    }
    Ok(Reply::Int(1))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(v: &[&str]) -> Vec<Bytes> {
        v.iter().map(|s| Bytes::from(s.to_string())).collect()
    }

    #[test]
    fn option_grammar() {
        let ok = |v: &[&str], set| parse_options(&args(v), set).is_ok();
        assert!(ok(&["nx", "get", "ex", "10"], true));
        assert!(ok(&["ex", "10", "ex", "20"], true));
        assert!(ok(&["keepttl", "keepttl", "xx"], true));
        assert!(ok(&["NX\0junk"], true));
        assert!(!ok(&["nx", "xx"], true));
        assert!(!ok(&["ex", "10", "px", "10"], true));
        assert!(!ok(&["keepttl", "exat", "1"], true));
        assert!(!ok(&["ex"], true));
        assert!(!ok(&["persist"], true));
        assert!(ok(&["persist", "persist"], false));
        assert!(!ok(&["persist", "ex", "1"], false));
        assert!(!ok(&["nx"], false));
        assert!(!ok(&["get"], false));
        let argv = args(&["px", "5", "PX", "7"]);
        let o = parse_options(&argv, true).unwrap();
        let e = o.expire.unwrap();
        assert_eq!((e.kind, e.arg), (ExpireKind::Px, &b"7"[..]));
    }

    #[test]
    fn deadlines() {
        let d = |kind, arg: &str| {
            Expire {
                kind,
                arg: arg.as_bytes(),
            }
            .deadline_ms(1_000, "set")
        };
        assert_eq!(d(ExpireKind::Ex, "2"), Ok(3_000));
        assert_eq!(d(ExpireKind::Px, "2"), Ok(1_002));
        assert_eq!(d(ExpireKind::Exat, "2"), Ok(2_000));
        assert_eq!(d(ExpireKind::Pxat, "2"), Ok(2));
        assert_eq!(
            d(ExpireKind::Pxat, &i64::MAX.to_string()),
            Ok(i64::MAX as u64)
        );
        let invalid = Err(invalid_expire("set"));
        assert_eq!(d(ExpireKind::Ex, "0"), invalid);
        assert_eq!(d(ExpireKind::Pxat, "-1"), invalid);
        assert_eq!(d(ExpireKind::Ex, "9223372036854776"), invalid);
        assert_eq!(d(ExpireKind::Ex, "9223372036854775"), invalid);
        assert_eq!(
            d(ExpireKind::Exat, "9223372036854775"),
            Ok(9_223_372_036_854_775_000)
        );
        assert_eq!(d(ExpireKind::Px, &i64::MAX.to_string()), invalid);
        assert_eq!(
            d(ExpireKind::Ex, "1.5"),
            Err(Reply::error(errors::NOT_INTEGER))
        );
    }

    #[test]
    fn ranges() {
        assert_eq!(byte_range(11, 0, -1), Some((0, 10)));
        assert_eq!(byte_range(11, -3, -5), None);
        assert_eq!(byte_range(11, 5, 3), None);
        assert_eq!(byte_range(11, -100, -99), Some((0, 0)));
        assert_eq!(byte_range(11, i64::MIN, i64::MAX), Some((0, 10)));
        assert_eq!(byte_range(0, 0, -1), None);
        assert_eq!(byte_range(0, 0, 0), None);
        assert_eq!(byte_range(3, 5, 10), None);
    }

    #[test]
    fn float_increments() {
        let f = |a: &str, b: &str| incr_by_float(a.as_bytes(), b.as_bytes());
        assert_eq!(f("10.5", "0.1"), Ok(b"10.6".to_vec()));
        assert_eq!(f("3", "1.1"), Ok(b"4.1".to_vec()));
        assert_eq!(f("1.5", "-1.5"), Ok(b"0".to_vec()));
        assert_eq!(f("5.0e3", "0"), Ok(b"5000".to_vec()));
        assert_eq!(f("1", "inf"), Err(Reply::error(errors::INCR_NAN_OR_INF)));
        assert_eq!(f("1", "nan"), Err(Reply::error(errors::NOT_FLOAT)));
        assert_eq!(f("", "1"), Err(Reply::error(errors::NOT_FLOAT)));
        assert_eq!(f(" 1", "1"), Err(Reply::error(errors::NOT_FLOAT)));
        let long = format!("1.{}", "0".repeat(longdouble::MAX_LONG_DOUBLE_CHARS - 3));
        assert_eq!(f(&long, "1"), Ok(b"2".to_vec()));
        let too_long = format!("{long}0");
        assert_eq!(f(&too_long, "1"), Err(Reply::error(errors::NOT_FLOAT)));
    }

    #[test]
    fn other_types_are_wrongtype() {
        let mut shard = crate::store::Keyspace::for_shard(0, 1);
        let hub = crate::pubsub::Hub::detached();
        let mut ctx = Ctx {
            keyspace: &mut shard,
            notify: &mut Default::default(),
            db: 0,
            now_ms: 1_000,
            resp3: false,
            pubsub: &hub,
        };
        let list = Value::List(std::iter::once(b"a".to_vec()).collect());
        ctx.db().set(b"l", list);
        let wrongtype = errors::wrongtype();
        let calls: &[&[&str]] = &[
            &["get", "l"],
            &["set", "l", "v", "GET"],
            &["set", "l", "v", "NX", "GET"],
            &["getset", "l", "v"],
            &["getdel", "l"],
            &["getex", "l"],
            &["getex", "l", "EX", "0"],
            &["incr", "l"],
            &["decr", "l"],
            &["incrby", "l", "1"],
            &["decrby", "l", "1"],
            &["incrbyfloat", "l", "x"],
            &["append", "l", "x"],
            &["strlen", "l"],
            &["getrange", "l", "0", "-1"],
            &["substr", "l", "0", "-1"],
            &["setrange", "l", "0", "x"],
            &["setrange", "l", "0", ""],
        ];
        for call in calls {
            let cmd = super::super::lookup(call[0].as_bytes()).unwrap();
            let got = (cmd.run.shard_fn().unwrap())(&mut ctx, &args(call));
            assert_eq!(got, wrongtype, "{call:?}");
        }
        // Argument errors come first where Redis checks them first.
        let run = |ctx: &mut Ctx, call: &[&str]| {
            let cmd = super::super::lookup(call[0].as_bytes()).unwrap();
            (cmd.run.shard_fn().unwrap())(ctx, &args(call))
        };
        let not_int = Reply::error(errors::NOT_INTEGER);
        assert_eq!(run(&mut ctx, &["incrby", "l", "x"]), not_int);
        assert_eq!(run(&mut ctx, &["getrange", "l", "x", "1"]), not_int);
        let decr_min = Reply::error(DECREMENT_OVERFLOW);
        assert_eq!(
            run(&mut ctx, &["decrby", "l", "-9223372036854775808"]),
            decr_min
        );
        assert_eq!(
            run(&mut ctx, &["setrange", "l", "-1", ""]),
            Reply::error(OFFSET_OUT_OF_RANGE)
        );
        // Writes that do not look at the old value replace it.
        assert_eq!(run(&mut ctx, &["setnx", "l", "v"]), Reply::Int(0));
        assert_eq!(run(&mut ctx, &["msetnx", "l", "v"]), Reply::Int(0));
        let mget = run(&mut ctx, &["mget", "l"]);
        assert_eq!(mget, Reply::Array(vec![Reply::Nil]));
        assert_eq!(run(&mut ctx, &["set", "l", "v", "NX"]), Reply::Nil);
        assert_eq!(run(&mut ctx, &["set", "l", "v"]), Reply::ok());
        assert_eq!(run(&mut ctx, &["get", "l"]), Reply::bulk(b"v"));
    }
}
