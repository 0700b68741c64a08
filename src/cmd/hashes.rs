//! Hash commands: HSET HGET HDEL HGETALL HINCRBY HSCAN HRANDFIELD ...
//!
//! HGETALL is a RESP3 map, as in Redis 7; HRANDFIELD ... WITHVALUES sends
//! field-value pairs as 2-element arrays in RESP3 and flat in RESP2.

use bytes::Bytes;

use super::empty_scan;
use super::flags::*;
use super::sets::random_indices;
use super::{
    command, errors, int_arg, is, random_count, scan_accepts, scan_cursor, scan_options,
    too_many_repeats, Command, Ctx, MAX_RANDOM_REPEATS,
};
use crate::notify::Class;
use crate::protocol::Reply;
use crate::store::value::Hash;
use crate::util::longdouble::LongDouble;
use crate::util::numbers::parse_i64;

type Result<T> = std::result::Result<T, Reply>;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("hset",         -4, WRITE | DENYOOM | FAST).key().shard(fallible!(hset)),
    command("hmset",        -4, WRITE | DENYOOM | FAST).key().shard(fallible!(hmset)),
    command("hsetnx",       4,  WRITE | DENYOOM | FAST).key().shard(fallible!(hsetnx)),
    command("hget",         3,  READONLY | FAST)       .key().shard(fallible!(hget)),
    command("hmget",        -3, READONLY | FAST)       .key().shard(fallible!(hmget)),
    command("hdel",         -3, WRITE | FAST)          .key().shard(fallible!(hdel)),
    command("hexists",      3,  READONLY | FAST)       .key().shard(fallible!(hexists)),
    command("hlen",         2,  READONLY | FAST)       .key().shard(fallible!(hlen)),
    command("hstrlen",      3,  READONLY | FAST)       .key().shard(fallible!(hstrlen)),
    command("hgetall",      2,  READONLY)              .key().shard(fallible!(hgetall)),
    command("hkeys",        2,  READONLY)              .key().shard(fallible!(hkeys)),
    command("hvals",        2,  READONLY)              .key().shard(fallible!(hvals)),
    command("hincrby",      4,  WRITE | DENYOOM | FAST).key().shard(fallible!(hincrby)),
    command("hincrbyfloat", 4,  WRITE | DENYOOM | FAST).key().shard(fallible!(hincrbyfloat)),
    command("hscan",        -3, READONLY)              .key().shard(fallible!(hscan)),
    command("hrandfield",   -2, READONLY)              .key().shard(fallible!(hrandfield)),
];

/// Sets `field` to `value`; true when the field is new.
fn put(hash: &mut Hash, field: &[u8], value: &[u8]) -> bool {
    match hash.get_mut(field) {
        Some(old) => {
            old.clear();
            old.extend_from_slice(value);
            false
        }
        None => {
            hash.insert(Box::from(field), value.to_vec());
            true
        }
    }
}

/// HSET / HMSET key field value [field value ...]: the number of new fields.
fn set_fields(ctx: &mut Ctx, argv: &[Bytes], name: &str) -> Result<i64> {
    if argv.len() % 2 == 1 {
        return Err(Reply::error(errors::wrong_args(name)));
    }
    let hash = ctx.hash_or_insert(&argv[1])?;
    let created = argv[2..]
        .chunks_exact(2)
        .filter(|pair| put(hash, &pair[0], &pair[1]))
        .count();
    ctx.notify(Class::HASH, "hset", &argv[1]);
    Ok(created as i64)
}

/// HSET key field value [field value ...]
fn hset(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    Ok(Reply::Int(set_fields(ctx, argv, "hset")?))
}

/// HMSET key field value [field value ...]
fn hmset(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    set_fields(ctx, argv, "hmset")?;
    Ok(Reply::ok())
}

/// HSETNX key field value
fn hsetnx(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let (key, field) = (&argv[1], &argv[2][..]);
    if ctx.peek_hash(key)?.is_some_and(|h| h.contains_key(field)) {
        return Ok(Reply::Int(0));
    }
    put(ctx.hash_or_insert(key)?, field, &argv[3]);
    ctx.notify(Class::HASH, "hset", key);
    Ok(Reply::Int(1))
}

/// HGET key field
fn hget(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let value = ctx.read_hash(&argv[1])?.and_then(|h| h.get(&argv[2][..]));
    Ok(value.map_or(Reply::Nil, |v| Reply::bulk(v)))
}

/// HMGET key field [field ...]
fn hmget(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let hash = ctx.read_hash(&argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|f| {
                hash.and_then(|h| h.get(&f[..]))
                    .map_or(Reply::Nil, |v| Reply::bulk(v))
            })
            .collect(),
    ))
}

/// HDEL key field [field ...]
fn hdel(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let (key, fields) = (&argv[1], &argv[2..]);
    // Deleting nothing is no modification (WATCH keeps the key clean).
    if !ctx
        .peek_hash(key)?
        .is_some_and(|h| fields.iter().any(|f| h.contains_key(&f[..])))
    {
        return Ok(Reply::Int(0));
    }
    let Some(hash) = ctx.hash_mut(key)? else {
        return Ok(Reply::Int(0));
    };
    let deleted = fields
        .iter()
        .filter(|f| hash.remove(&f[..]).is_some())
        .count();
    let emptied = hash.is_empty();
    ctx.notify(Class::HASH, "hdel", key);
    if emptied {
        ctx.db().remove(key);
        ctx.notify(Class::GENERIC, "del", key);
    }
    Ok(Reply::Int(deleted as i64))
}

/// HEXISTS key field
fn hexists(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let found = ctx
        .read_hash(&argv[1])?
        .is_some_and(|h| h.contains_key(&argv[2][..]));
    Ok(Reply::Int(found as i64))
}

/// HLEN key
fn hlen(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let len = ctx.read_hash(&argv[1])?.map_or(0, |h| h.len());
    Ok(Reply::Int(len as i64))
}

/// HSTRLEN key field
fn hstrlen(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let len = ctx
        .read_hash(&argv[1])?
        .and_then(|h| h.get(&argv[2][..]))
        .map_or(0, |v| v.len());
    Ok(Reply::Int(len as i64))
}

/// HGETALL key: a map (RESP2: a flat array of fields and values).
fn hgetall(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let pairs = ctx.read_hash(&argv[1])?.map(|h| {
        h.iter()
            .map(|(f, v)| (Reply::bulk(f), Reply::bulk(v)))
            .collect()
    });
    Ok(Reply::Map(pairs.unwrap_or_default()))
}

/// HKEYS key
fn hkeys(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let fields = ctx
        .read_hash(&argv[1])?
        .map(|h| h.keys().map(|f| Reply::bulk(f)).collect());
    Ok(Reply::Array(fields.unwrap_or_default()))
}

/// HVALS key
fn hvals(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let values = ctx
        .read_hash(&argv[1])?
        .map(|h| h.values().map(|v| Reply::bulk(v)).collect());
    Ok(Reply::Array(values.unwrap_or_default()))
}

/// HINCRBY key field increment
fn hincrby(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let (key, field) = (&argv[1], &argv[2][..]);
    let incr = int_arg(&argv[3])?;
    let current = match ctx.peek_hash(key)?.and_then(|h| h.get(field)) {
        None => 0,
        Some(v) => parse_i64(v).ok_or_else(|| Reply::error(errors::HASH_NOT_INTEGER))?,
    };
    let new = current
        .checked_add(incr)
        .ok_or_else(|| Reply::error(errors::OVERFLOW))?;
    put(ctx.hash_or_insert(key)?, field, new.to_string().as_bytes());
    ctx.notify(Class::HASH, "hincrby", key);
    Ok(Reply::Int(new))
}

/// HINCRBYFLOAT key field increment. Redis adds C long doubles; the
/// emulation in `util::longdouble` gives its exact digits.
fn hincrbyfloat(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let (key, field) = (&argv[1], &argv[2][..]);
    let incr = LongDouble::parse(&argv[3]).ok_or_else(|| Reply::error(errors::NOT_FLOAT))?;
    if !incr.is_finite() {
        return Err(Reply::error("ERR value is NaN or Infinity"));
    }
    let current = match ctx.peek_hash(key)?.and_then(|h| h.get(field)) {
        None => LongDouble::parse(b"0").ok_or_else(|| Reply::error(errors::NOT_FLOAT))?,
        Some(v) => LongDouble::parse(v).ok_or_else(|| Reply::error(errors::HASH_NOT_FLOAT))?,
    };
    let sum = current
        .checked_add(incr)
        .ok_or_else(|| Reply::error(errors::INCR_NAN_OR_INF))?;
    let text = sum.to_human_string();
    put(ctx.hash_or_insert(key)?, field, text.as_bytes());
    ctx.notify(Class::HASH, "hincrbyfloat", key);
    Ok(Reply::bulk_string(text))
}

/// HSCAN key cursor [MATCH pattern] [COUNT count]: every matching field
/// and its value at once, with the next cursor 0 (as Redis answers for
/// small encodings).
fn hscan(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    scan_cursor(&argv[2])?;
    let Some(hash) = ctx.read_hash(&argv[1])? else {
        return Ok(empty_scan());
    };
    let pattern = scan_options(&argv[3..], false)?.pattern;
    let mut found = Vec::new();
    for (field, value) in hash.iter().filter(|(f, _)| scan_accepts(pattern, f)) {
        found.push(Reply::bulk(field));
        found.push(Reply::bulk(value));
    }
    Ok(Reply::Array(vec![Reply::bulk(b"0"), Reply::Array(found)]))
}

/// HRANDFIELD key [count [WITHVALUES]]
fn hrandfield(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let key = &argv[1];
    let Some(count) = argv.get(2) else {
        return hrandfield_one(ctx, key);
    };
    let count = random_count(count)?;
    let withvalues = match argv.get(3) {
        None => false,
        Some(arg) if argv.len() == 4 && is(arg, "withvalues") => true,
        Some(_) => return Err(errors::syntax()),
    };
    // Redis doubles the count for the RESP2 reply length; it refuses
    // counts where that could overflow.
    if withvalues && count.unsigned_abs() > (i64::MAX / 2) as u64 {
        return Err(Reply::error("ERR value is out of range"));
    }
    let Some(len) = ctx.read_hash(key)?.map(|h| h.len()) else {
        return Ok(Reply::Array(Vec::new()));
    };
    if count < 0 && count.unsigned_abs() > MAX_RANDOM_REPEATS {
        return Err(too_many_repeats());
    }
    let indices = random_indices(ctx, len, count);
    let resp3 = ctx.resp3;
    let Some(hash) = ctx.peek_hash(key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let entries: Vec<(&Box<[u8]>, &Vec<u8>)> = hash.iter().collect();
    let mut out = Vec::with_capacity(indices.len() * if withvalues { 2 } else { 1 });
    for (field, value) in indices.iter().filter_map(|&i| entries.get(i)) {
        match (withvalues, resp3) {
            (false, _) => out.push(Reply::bulk(field)),
            (true, false) => {
                out.push(Reply::bulk(field));
                out.push(Reply::bulk(value));
            }
            (true, true) => out.push(Reply::Array(vec![Reply::bulk(field), Reply::bulk(value)])),
        }
    }
    Ok(Reply::Array(out))
}

/// HRANDFIELD key: one random field, or nil.
fn hrandfield_one(ctx: &mut Ctx, key: &[u8]) -> Result<Reply> {
    let Some(len) = ctx.read_hash(key)?.map(|h| h.len()) else {
        return Ok(Reply::Nil);
    };
    let i = (ctx.random() % len.max(1) as u64) as usize;
    let field = ctx.peek_hash(key)?.and_then(|h| h.keys().nth(i));
    Ok(field.map_or(Reply::Nil, |f| Reply::bulk(f)))
}
