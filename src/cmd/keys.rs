//! Generic key commands: DEL UNLINK EXISTS TOUCH TYPE, the EXPIRE and TTL
//! families, PERSIST, KEYS SCAN RANDOMKEY DBSIZE, RENAME(NX), COPY, MOVE,
//! FLUSHDB and FLUSHALL.
//!
//! Expiry times are Unix milliseconds; a stored 0 means "no expiry", which
//! Redis reports as -1.

use bytes::Bytes;

use super::flags::*;
use super::{command, errors, int_arg, is, reply, Command, Ctx, Gather};
use super::{scan_accepts, scan_options, ArgCursor};
use crate::notify::Class;
use crate::protocol::Reply;
use crate::util::slot::SLOT_COUNT;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("del",         -2, WRITE)          .keys(1, -1, 1).fanout(Gather::SumInt).shard(del),
    command("unlink",      -2, WRITE | FAST)   .keys(1, -1, 1).fanout(Gather::SumInt).shard(del),
    command("exists",      -2, READONLY | FAST).keys(1, -1, 1).fanout(Gather::SumInt).shard(exists),
    command("touch",       -2, READONLY | FAST).keys(1, -1, 1).fanout(Gather::SumInt).shard(exists),
    command("type",        2,  READONLY | FAST).key().shard(type_),
    command("expire",      -3, WRITE | FAST)   .key().shard(expire),
    command("pexpire",     -3, WRITE | FAST)   .key().shard(pexpire),
    command("expireat",    -3, WRITE | FAST)   .key().shard(expireat),
    command("pexpireat",   -3, WRITE | FAST)   .key().shard(pexpireat),
    command("ttl",         2,  READONLY | FAST).key().shard(ttl),
    command("pttl",        2,  READONLY | FAST).key().shard(pttl),
    command("expiretime",  2,  READONLY | FAST).key().shard(expiretime),
    command("pexpiretime", 2,  READONLY | FAST).key().shard(pexpiretime),
    command("persist",     2,  WRITE | FAST)   .key().shard(persist),
    command("keys",        2,  READONLY)       .all_shards(Gather::Concat).shard(keys),
    command("scan",        -2, READONLY)       .scan().shard(scan),
    command("rename",      3,  WRITE)          .keys(1, 2, 1).shard(rename),
    command("renamenx",    3,  WRITE | FAST)   .keys(1, 2, 1).shard(renamenx),
    command("randomkey",   1,  READONLY)       .all_shards(Gather::AnyNonNil).shard(randomkey),
    command("dbsize",      1,  READONLY | FAST).all_shards(Gather::SumInt).shard(dbsize),
    command("flushdb",     -1, WRITE)          .all_shards(Gather::AllOk).shard(flushdb),
    command("flushall",    -1, WRITE)          .all_shards(Gather::AllOk).shard(flushall),
    command("copy",        -3, WRITE | DENYOOM).keys(1, 2, 1).shard(copy),
    command("move",        3,  WRITE | FAST)   .key().shard(move_),
];

const SAME_OBJECT: &str = "ERR source and destination objects are the same";

/// DEL key [key ...] / UNLINK key [key ...]: how many live keys were removed.
fn del(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let mut deleted = 0;
    for key in &argv[1..] {
        if ctx.db().remove_live(key, now).is_some() {
            deleted += 1;
            ctx.notify(Class::GENERIC, "del", key);
        }
    }
    Reply::Int(deleted)
}

/// EXISTS key [key ...] / TOUCH key [key ...]: how many of the keys exist
/// (a key named twice counts twice).
fn exists(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    Reply::Int(argv[1..].iter().filter(|k| ctx.read(k).is_some()).count() as i64)
}

/// TYPE key
fn type_(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    Reply::status(ctx.read(&argv[1]).map_or("none", |v| v.type_name()))
}

/// EXPIRE key seconds [NX | XX | GT | LT]
fn expire(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms as i64;
    reply(expire_generic(ctx, argv, "expire", now, 1000))
}

/// PEXPIRE key milliseconds [NX | XX | GT | LT]
fn pexpire(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms as i64;
    reply(expire_generic(ctx, argv, "pexpire", now, 1))
}

/// EXPIREAT key unix-time-seconds [NX | XX | GT | LT]
fn expireat(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(expire_generic(ctx, argv, "expireat", 0, 1000))
}

/// PEXPIREAT key unix-time-milliseconds [NX | XX | GT | LT]
fn pexpireat(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(expire_generic(ctx, argv, "pexpireat", 0, 1))
}

/// Which of NX XX GT LT were given.
#[derive(Default)]
struct ExpireConditions {
    nx: bool,
    xx: bool,
    gt: bool,
    lt: bool,
}

impl ExpireConditions {
    /// Parses the options after the time, with Redis's errors and checks.
    fn parse(args: &[Bytes]) -> Result<Self, Reply> {
        let mut c = ExpireConditions::default();
        for opt in args {
            if is(opt, "nx") {
                c.nx = true;
            } else if is(opt, "xx") {
                c.xx = true;
            } else if is(opt, "gt") {
                c.gt = true;
            } else if is(opt, "lt") {
                c.lt = true;
            } else {
                // Redis's error formatting turns line breaks into spaces.
                let text = String::from_utf8_lossy(opt).replace(['\r', '\n'], " ");
                return Err(Reply::error(format!("ERR Unsupported option {text}")));
            }
        }
        if c.nx && (c.xx || c.gt || c.lt) {
            return Err(Reply::error(
                "ERR NX and XX, GT or LT options at the same time are not compatible",
            ));
        }
        if c.gt && c.lt {
            return Err(Reply::error(
                "ERR GT and LT options at the same time are not compatible",
            ));
        }
        Ok(c)
    }

    /// Whether a key whose expiry is `current` (None: persistent) may get
    /// the expiry `when`. A missing expiry counts as infinite.
    fn allow(&self, current: Option<i64>, when: i64) -> bool {
        match current {
            None => !self.xx && !self.gt,
            Some(_) if self.nx => false,
            Some(current) if self.gt && when <= current => false,
            Some(current) => !(self.lt && when >= current),
        }
    }
}

/// The EXPIRE family: `argv[2]` in units of `unit_ms` milliseconds, plus
/// `base_ms` (now for the relative forms, 0 for the absolute ones).
fn expire_generic(
    ctx: &mut Ctx,
    argv: &[Bytes],
    name: &str,
    base_ms: i64,
    unit_ms: i64,
) -> Result<Reply, Reply> {
    let conditions = ExpireConditions::parse(&argv[3..])?;
    let amount = int_arg(&argv[2])?;
    // Redis refuses times that overflow a signed 64-bit millisecond count.
    let when = amount
        .checked_mul(unit_ms)
        .and_then(|ms| ms.checked_add(base_ms))
        .ok_or_else(|| Reply::error(errors::INVALID_EXPIRE.replace("{}", name)))?;
    let now = ctx.now_ms;
    let db = ctx.db();
    let Some(current) = db.get(&argv[1], now).map(|e| e.expires_at_ms()) else {
        return Ok(Reply::Int(0));
    };
    let current = (current != 0).then_some(current as i64);
    if !conditions.allow(current, when) {
        return Ok(Reply::Int(0));
    }
    if when <= now as i64 {
        // A deadline already past deletes the key, as Redis does.
        db.remove(&argv[1]);
        ctx.notify(Class::GENERIC, "del", &argv[1]);
    } else {
        db.set_expiry(&argv[1], when as u64, now);
        ctx.notify(Class::GENERIC, "expire", &argv[1]);
    }
    Ok(Reply::Int(1))
}

/// TTL key
fn ttl(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    ttl_generic(ctx, &argv[1], false, false)
}

/// PTTL key
fn pttl(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    ttl_generic(ctx, &argv[1], true, false)
}

/// EXPIRETIME key
fn expiretime(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    ttl_generic(ctx, &argv[1], false, true)
}

/// PEXPIRETIME key
fn pexpiretime(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    ttl_generic(ctx, &argv[1], true, true)
}

/// -2 without the key, -1 without an expiry, else the time left (or the
/// deadline, `absolute`) in ms or in seconds rounded to nearest.
fn ttl_generic(ctx: &mut Ctx, key: &[u8], ms: bool, absolute: bool) -> Reply {
    if ctx.read(key).is_none() {
        return Reply::Int(-2);
    }
    let now = ctx.now_ms;
    let expires_at = ctx.db().get(key, now).map_or(0, |e| e.expires_at_ms());
    if expires_at == 0 {
        return Reply::Int(-1);
    }
    let left = if absolute {
        expires_at
    } else {
        expires_at.saturating_sub(now)
    };
    // Wide arithmetic: rounding a deadline near i64::MAX must not overflow.
    let left = left as i128;
    let out = if ms { left } else { (left + 500) / 1000 };
    Reply::Int(out.min(i64::MAX as i128) as i64)
}

/// PERSIST key: 1 if an expiry was removed.
fn persist(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let db = ctx.db();
    match db.get(&argv[1], now) {
        Some(e) if e.expires_at_ms() != 0 => {
            db.set_expiry(&argv[1], 0, now);
            ctx.notify(Class::GENERIC, "persist", &argv[1]);
            Reply::Int(1)
        }
        _ => Reply::Int(0),
    }
}

/// A MATCH / KEYS pattern: None matches everything. Redis treats "*"
/// specially, so it also matches the empty key (its matcher never does).
fn pattern(p: &[u8]) -> Option<&[u8]> {
    (p != b"*").then_some(p)
}

/// KEYS pattern (this shard's part; the shards' parts are concatenated).
fn keys(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let keys = ctx.db().keys(pattern(&argv[1]), now);
    Reply::Array(keys.iter().map(|k| Reply::bulk(k)).collect())
}

/// SCAN cursor [MATCH pattern] [COUNT count] [TYPE type]
///
/// The cursor is the global slot to continue at (the router sent us to
/// the shard owning it). Whole slot groups are visited, so a key present for the
/// whole iteration is always returned. When this shard is done the cursor
/// is the next shard's first slot, and 0 after the last slot.
fn scan(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(scan_generic(ctx, argv))
}

fn scan_generic(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply, Reply> {
    let options = scan_options(&argv[2..], true)?;
    // The router only sends cursors below SLOT_COUNT; anything else ends.
    let cursor = std::str::from_utf8(&argv[1])
        .ok()
        .and_then(|c| c.parse::<u16>().ok())
        .filter(|&c| (c as usize) < SLOT_COUNT);
    let Some(cursor) = cursor else {
        return Ok(scan_reply(0, Vec::new()));
    };
    let now = ctx.now_ms;
    let db = ctx.db();
    let (next, found) = db.scan(cursor, options.count, now, |e| {
        scan_accepts(options.pattern, e.key())
            && options
                .type_name
                .is_none_or(|t| t.eq_ignore_ascii_case(e.value().type_name().as_bytes()))
    });
    let next = next.unwrap_or(db.slots().end) as usize;
    let next = if next >= SLOT_COUNT { 0 } else { next };
    Ok(scan_reply(
        next,
        found.iter().map(|k| Reply::bulk(k)).collect(),
    ))
}

fn scan_reply(cursor: usize, keys: Vec<Reply>) -> Reply {
    Reply::Array(vec![
        Reply::bulk_string(cursor.to_string()),
        Reply::Array(keys),
    ])
}

/// RENAME key newkey
fn rename(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    rename_generic(ctx, argv, false)
}

/// RENAMENX key newkey
fn renamenx(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    rename_generic(ctx, argv, true)
}

/// Moves the value and its expiry to the new name; with `nx` only when the
/// new name is free. Renaming a key to itself only checks that it exists.
fn rename_generic(ctx: &mut Ctx, argv: &[Bytes], nx: bool) -> Reply {
    let (from, to) = (&argv[1], &argv[2]);
    let now = ctx.now_ms;
    let db = ctx.db();
    if !db.contains(from, now) {
        return Reply::error(errors::NO_SUCH_KEY);
    }
    let done = if nx { Reply::Int(1) } else { Reply::ok() };
    if from == to {
        return if nx { Reply::Int(0) } else { done };
    }
    if nx && db.contains(to, now) {
        return Reply::Int(0);
    }
    let Some(entry) = db.remove(from) else {
        return Reply::error(errors::NO_SUCH_KEY);
    };
    let expires_at_ms = entry.expires_at_ms();
    // The old value at the new name goes first, as in Redis (the new
    // name's key is created anew: a `new` event).
    db.remove_live(to, now);
    db.insert(to, entry.into_value(), expires_at_ms);
    ctx.notify(Class::GENERIC, "rename_from", from);
    ctx.notify(Class::GENERIC, "rename_to", to);
    done
}

/// RANDOMKEY (this shard's pick; the router picks among the shards').
fn randomkey(ctx: &mut Ctx, _argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    // Db::random_key needs a generator while the database is borrowed:
    // seed a local xorshift from the shard's one.
    let mut x = ctx.random() | 1;
    let rand = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        x
    };
    match ctx.db().random_key(now, rand) {
        Some(key) => Reply::bulk(&key),
        None => Reply::Nil,
    }
}

/// DBSIZE: keys stored, counting expired ones not reclaimed yet, as Redis.
fn dbsize(ctx: &mut Ctx, _argv: &[Bytes]) -> Reply {
    Reply::Int(ctx.db().len() as i64)
}

/// The optional ASYNC | SYNC of FLUSHDB and FLUSHALL; both free at once.
fn flush_option_ok(argv: &[Bytes]) -> bool {
    match argv {
        [_] => true,
        [_, mode] => is(mode, "async") || is(mode, "sync"),
        _ => false,
    }
}

/// FLUSHDB [ASYNC | SYNC]
fn flushdb(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    if !flush_option_ok(argv) {
        return errors::syntax();
    }
    ctx.db().clear();
    Reply::ok()
}

/// FLUSHALL [ASYNC | SYNC]
fn flushall(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    if !flush_option_ok(argv) {
        return errors::syntax();
    }
    for db in &mut ctx.keyspace.dbs {
        db.clear();
    }
    Reply::ok()
}

/// A database index argument: Redis reads a C int, then range-checks it.
fn db_index(ctx: &Ctx, arg: &[u8]) -> Result<usize, Reply> {
    let n = int_arg(arg)?;
    if n < i32::MIN as i64 || n > i32::MAX as i64 {
        return Err(Reply::error(
            "ERR value is out of range, value must between -2147483648 and 2147483647",
        ));
    }
    usize::try_from(n)
        .ok()
        .filter(|&n| n < ctx.keyspace.dbs.len())
        .ok_or_else(|| Reply::error(errors::DB_INDEX_OUT_OF_RANGE))
}

/// COPY source destination [DB destination-db] [REPLACE]
fn copy(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(copy_generic(ctx, argv))
}

fn copy_generic(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply, Reply> {
    let mut target = ctx.db;
    let mut replace = false;
    let mut args = ArgCursor::new(&argv[3..]);
    while let Some(opt) = args.next() {
        if is(opt, "replace") {
            replace = true;
        } else if let Some([db]) = args.values_if(is(opt, "db"), 1) {
            target = db_index(ctx, db)?;
        } else {
            return Err(errors::syntax());
        }
    }
    let (from, to) = (&argv[1], &argv[2]);
    if target == ctx.db && from == to {
        return Err(Reply::error(SAME_OBJECT));
    }
    let Some(value) = ctx.read(from).map(|v| v.to_owned_value()) else {
        return Ok(Reply::Int(0));
    };
    let now = ctx.now_ms;
    let expires_at = ctx.db().get(from, now).map_or(0, |e| e.expires_at_ms());
    let target_db = &mut ctx.keyspace.dbs[target];
    if target_db.contains(to, now) {
        if !replace {
            return Ok(Reply::Int(0));
        }
        // Deleted, then created anew (a `new` event), as in Redis.
        target_db.remove(to);
    }
    target_db.insert(to, value, expires_at);
    ctx.notify_in(target, Class::GENERIC, "copy_to", to);
    Ok(Reply::Int(1))
}

/// MOVE key db: to another database of this shard (same slot, same shard).
fn move_(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let target = match db_index(ctx, &argv[2]) {
        Ok(t) => t,
        Err(e) => return e,
    };
    if target == ctx.db {
        return Reply::error(SAME_OBJECT);
    }
    let key = &argv[1];
    let now = ctx.now_ms;
    if !ctx.db().contains(key, now) || ctx.keyspace.dbs[target].contains(key, now) {
        return Reply::Int(0);
    }
    let Some(entry) = ctx.db().remove(key) else {
        return Reply::Int(0);
    };
    let expires_at_ms = entry.expires_at_ms();
    ctx.keyspace.dbs[target].insert(key, entry.into_value(), expires_at_ms);
    ctx.notify(Class::GENERIC, "move_from", key);
    ctx.notify_in(target, Class::GENERIC, "move_to", key);
    Reply::Int(1)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Keyspace;
    use crate::store::Value;

    /// The clock the commands see in these tests, in Unix ms.
    const NOW_MS: u64 = 1_000_000;

    fn run(shard: &mut Keyspace, db: usize, args: &[&str]) -> Reply {
        let argv: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let cmd = super::super::lookup(args[0].as_bytes()).expect("known command");
        let hub = crate::pubsub::Hub::detached();
        let mut ctx = Ctx {
            keyspace: shard,
            notify: &mut Default::default(),
            db,
            now_ms: NOW_MS,
            resp3: false,
            pubsub: &hub,
        };
        (cmd.run.shard_fn().expect("shard-side command"))(&mut ctx, &argv)
    }

    fn bulks(keys: &[&str]) -> Reply {
        Reply::Array(keys.iter().map(|k| Reply::bulk(k.as_bytes())).collect())
    }

    /// A shard of one with a key of every type (the aggregates are empty:
    /// only their type matters here).
    fn shard_with_every_type() -> Keyspace {
        let mut shard = Keyspace::for_shard(0, 1);
        let db = &mut shard.dbs[0];
        db.set(b"str", Value::Str(b"v".to_vec()));
        db.set(b"hash", Value::Hash(Default::default()));
        db.set(b"list", Value::List(Default::default()));
        db.set(b"set", Value::Set(Default::default()));
        db.set(b"zset", Value::ZSet(Default::default()));
        shard
    }

    #[test]
    fn type_and_scan_type_filter() {
        let mut shard = shard_with_every_type();
        for t in ["string", "hash", "list", "set", "zset"] {
            let key = if t == "string" { "str" } else { t };
            assert_eq!(run(&mut shard, 0, &["type", key]), Reply::status(t));
            let upper = t.to_ascii_uppercase();
            let scan = run(
                &mut shard,
                0,
                &["scan", "0", "TYPE", &upper, "COUNT", "100"],
            );
            assert_eq!(scan, Reply::Array(vec![Reply::bulk(b"0"), bulks(&[key])]));
        }
        assert_eq!(run(&mut shard, 0, &["type", "nope"]), Reply::status("none"));
    }

    #[test]
    fn copy_rename_and_move_keep_type_and_expiry() {
        let mut shard = shard_with_every_type();
        assert_eq!(
            run(&mut shard, 0, &["pexpire", "hash", "5000"]),
            Reply::Int(1)
        );
        assert_eq!(
            run(&mut shard, 0, &["copy", "hash", "h2", "db", "2"]),
            Reply::Int(1)
        );
        assert_eq!(run(&mut shard, 2, &["type", "h2"]), Reply::status("hash"));
        assert_eq!(run(&mut shard, 2, &["pttl", "h2"]), Reply::Int(5000));
        // The copy is independent of the original.
        assert_eq!(run(&mut shard, 0, &["copy", "str", "s2"]), Reply::Int(1));
        if let Some(Value::Str(s)) = shard.dbs[0].value_mut(b"str", NOW_MS) {
            s.push(b'!');
        }
        assert!(
            matches!(shard.dbs[0].value(b"s2", NOW_MS), Some(crate::store::ValueRef::Str(s)) if s == b"v")
        );
        assert_eq!(run(&mut shard, 0, &["rename", "zset", "z2"]), Reply::ok());
        assert_eq!(run(&mut shard, 0, &["type", "z2"]), Reply::status("zset"));
        assert_eq!(run(&mut shard, 0, &["move", "list", "5"]), Reply::Int(1));
        assert_eq!(run(&mut shard, 5, &["type", "list"]), Reply::status("list"));
        assert_eq!(
            run(&mut shard, 0, &["exists", "list", "zset"]),
            Reply::Int(0)
        );
        assert_eq!(run(&mut shard, 0, &["dbsize"]), Reply::Int(5));
    }

    #[test]
    fn expiry_arithmetic_at_a_fixed_clock() {
        let mut shard = shard_with_every_type();
        assert_eq!(run(&mut shard, 0, &["expire", "str", "10"]), Reply::Int(1));
        assert_eq!(run(&mut shard, 0, &["pttl", "str"]), Reply::Int(10_000));
        assert_eq!(run(&mut shard, 0, &["ttl", "str"]), Reply::Int(10));
        assert_eq!(
            run(&mut shard, 0, &["pexpiretime", "str"]),
            Reply::Int(1_010_000)
        );
        assert_eq!(run(&mut shard, 0, &["expiretime", "str"]), Reply::Int(1010));
        // 1499 ms rounds down, 1500 up.
        assert_eq!(
            run(&mut shard, 0, &["pexpire", "str", "1499"]),
            Reply::Int(1)
        );
        assert_eq!(run(&mut shard, 0, &["ttl", "str"]), Reply::Int(1));
        assert_eq!(
            run(&mut shard, 0, &["pexpire", "str", "1500"]),
            Reply::Int(1)
        );
        assert_eq!(run(&mut shard, 0, &["ttl", "str"]), Reply::Int(2));
        // A deadline one ms ahead stays; one at "now" deletes.
        assert_eq!(
            run(&mut shard, 0, &["pexpireat", "str", "1000001"]),
            Reply::Int(1)
        );
        assert_eq!(run(&mut shard, 0, &["pttl", "str"]), Reply::Int(1));
        assert_eq!(
            run(&mut shard, 0, &["pexpireat", "str", "1000000"]),
            Reply::Int(1)
        );
        assert_eq!(run(&mut shard, 0, &["exists", "str"]), Reply::Int(0));
        assert_eq!(shard.dbs[0].volatile_len(), 0);
        // A key expired by the clock is absent to every command.
        shard.dbs[0].insert(b"old", Value::Str(vec![]), NOW_MS - 1);
        assert_eq!(run(&mut shard, 0, &["ttl", "old"]), Reply::Int(-2));
        assert_eq!(run(&mut shard, 0, &["dbsize"]), Reply::Int(4));
    }

    #[test]
    fn scan_cursor_moves_to_the_next_shard() {
        // Shard 1 of 3 owns slots 5461..10922, shard 2 the rest.
        let mut middle = Keyspace::for_shard(1, 3);
        let scan = run(&mut middle, 0, &["scan", "5461"]);
        assert_eq!(
            scan,
            Reply::Array(vec![Reply::bulk(b"10922"), Reply::Array(vec![])])
        );
        let mut last = Keyspace::for_shard(2, 3);
        let scan = run(&mut last, 0, &["scan", "10922"]);
        assert_eq!(
            scan,
            Reply::Array(vec![Reply::bulk(b"0"), Reply::Array(vec![])])
        );
        // "c" is in slot 7365, in the group of 16 slots 7365..7381 (groups
        // count from the shard's first slot): a scan stops after the group
        // holding a key.
        middle.dbs[0].set(b"c", Value::Str(vec![]));
        let scan = run(&mut middle, 0, &["scan", "5461", "COUNT", "1"]);
        assert_eq!(
            scan,
            Reply::Array(vec![Reply::bulk(b"7381"), bulks(&["c"])])
        );
    }
}
