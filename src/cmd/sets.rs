//! Set commands: SADD SREM SMEMBERS SPOP SINTER SUNION SDIFF SMOVE SSCAN ...
//!
//! Replies that Redis 7 sends as RESP3 sets (SMEMBERS, SINTER, SUNION,
//! SDIFF, SPOP with a count) are [`Reply::Set`]; SRANDMEMBER with a count
//! may repeat elements, so it is an array, as in Redis.

use bytes::Bytes;

use super::flags::*;
use super::{
    command, errors, int_arg, is, random_count, scan_accepts, scan_cursor, scan_options,
    too_many_repeats, Command, Ctx, MAX_RANDOM_REPEATS,
};
use super::{empty_scan, ArgCursor};
use crate::notify::Class;
use crate::protocol::Reply;
use crate::store::value::Set;
use crate::store::Value;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("sadd",        -3, WRITE | DENYOOM | FAST).key().shard(fallible!(sadd)),
    command("srem",        -3, WRITE | FAST)          .key().shard(fallible!(srem)),
    command("smembers",    2,  READONLY)              .key().shard(fallible!(smembers)),
    command("sismember",   3,  READONLY | FAST)       .key().shard(fallible!(sismember)),
    command("smismember",  -3, READONLY | FAST)       .key().shard(fallible!(smismember)),
    command("scard",       2,  READONLY | FAST)       .key().shard(fallible!(scard)),
    command("spop",        -2, WRITE | FAST)          .key().shard(fallible!(spop)),
    command("srandmember", -2, READONLY)              .key().shard(fallible!(srandmember)),
    command("sinter",      -2, READONLY)              .keys(1, -1, 1).shard(fallible!(sinter)),
    command("sunion",      -2, READONLY)              .keys(1, -1, 1).shard(fallible!(sunion)),
    command("sdiff",       -2, READONLY)              .keys(1, -1, 1).shard(fallible!(sdiff)),
    command("sinterstore", -3, WRITE | DENYOOM)       .keys(1, -1, 1).shard(fallible!(sinterstore)),
    command("sunionstore", -3, WRITE | DENYOOM)       .keys(1, -1, 1).shard(fallible!(sunionstore)),
    command("sdiffstore",  -3, WRITE | DENYOOM)       .keys(1, -1, 1).shard(fallible!(sdiffstore)),
    command("sintercard",  -3, READONLY)              .numkeys(1).shard(fallible!(sintercard)),
    command("smove",       4,  WRITE | FAST)          .keys(1, 2, 1).shard(fallible!(smove)),
    command("sscan",       -3, READONLY)              .key().shard(fallible!(sscan)),
];

type Result<T> = std::result::Result<T, Reply>;

/// Deletes the set at `key` if it has become empty, as Redis does (and
/// announces it).
fn delete_if_empty(ctx: &mut Ctx, key: &[u8]) {
    if matches!(ctx.peek_set(key), Ok(Some(s)) if s.is_empty()) {
        ctx.db().remove(key);
        ctx.notify(Class::GENERIC, "del", key);
    }
}

fn members_reply<'a>(members: impl IntoIterator<Item = &'a Box<[u8]>>) -> Vec<Reply> {
    members.into_iter().map(|m| Reply::bulk(m)).collect()
}

/// Indices into a collection of `len` elements for a random-sample command
/// (SRANDMEMBER, SPOP, HRANDFIELD): with `count >= 0`, `min(count, len)`
/// distinct indices (all of them, in order, when `count >= len`); with
/// `count < 0`, `|count|` indices that may repeat. The caller bounds a
/// negative count by [`MAX_RANDOM_REPEATS`]; nothing here allocates more
/// than `len` or that bound.
pub(super) fn random_indices(ctx: &mut Ctx, len: usize, count: i64) -> Vec<usize> {
    if len == 0 {
        return Vec::new();
    }
    if count < 0 {
        let repeats = count.unsigned_abs().min(MAX_RANDOM_REPEATS);
        return (0..repeats)
            .map(|_| (ctx.random() % len as u64) as usize)
            .collect();
    }
    let count = usize::try_from(count).unwrap_or(usize::MAX);
    let mut indices: Vec<usize> = (0..len).collect();
    if count >= len {
        return indices;
    }
    // Partial Fisher-Yates: the first `count` slots become a uniform sample.
    for i in 0..count {
        let j = i + (ctx.random() % (len - i) as u64) as usize;
        indices.swap(i, j);
    }
    indices.truncate(count);
    indices
}

/// A uniformly chosen index below `len` (> 0).
fn random_index(ctx: &mut Ctx, len: usize) -> usize {
    (ctx.random() % len.max(1) as u64) as usize
}

/// SADD key member [member ...]
fn sadd(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let (key, members) = (&argv[1], &argv[2..]);
    // Adding nothing new is no modification (WATCH keeps the key clean).
    if ctx
        .peek_set(key)?
        .is_some_and(|s| members.iter().all(|m| s.contains(&m[..])))
    {
        return Ok(Reply::Int(0));
    }
    let set = ctx.set_or_insert(key)?;
    let added = members
        .iter()
        .filter(|m| set.insert(Box::from(&m[..])))
        .count();
    ctx.notify(Class::SET, "sadd", key);
    Ok(Reply::Int(added as i64))
}

/// SREM key member [member ...]
fn srem(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let (key, members) = (&argv[1], &argv[2..]);
    let Some(set) = ctx.peek_set(key)? else {
        return Ok(Reply::Int(0));
    };
    if !members.iter().any(|m| set.contains(&m[..])) {
        return Ok(Reply::Int(0));
    }
    let Some(set) = ctx.set_mut(key)? else {
        return Ok(Reply::Int(0));
    };
    let removed = members.iter().filter(|m| set.remove(&m[..])).count();
    ctx.notify(Class::SET, "srem", key);
    delete_if_empty(ctx, key);
    Ok(Reply::Int(removed as i64))
}

/// SMEMBERS key
fn smembers(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let members = ctx.read_set(&argv[1])?.map(members_reply);
    Ok(Reply::Set(members.unwrap_or_default()))
}

/// SISMEMBER key member
fn sismember(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let found = ctx
        .read_set(&argv[1])?
        .is_some_and(|s| s.contains(&argv[2][..]));
    Ok(Reply::Int(found as i64))
}

/// SMISMEMBER key member [member ...]
fn smismember(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let set = ctx.read_set(&argv[1])?;
    Ok(Reply::Array(
        argv[2..]
            .iter()
            .map(|m| Reply::Int(set.is_some_and(|s| s.contains(&m[..])) as i64))
            .collect(),
    ))
}

/// SCARD key
fn scard(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let len = ctx.read_set(&argv[1])?.map_or(0, |s| s.len());
    Ok(Reply::Int(len as i64))
}

/// SPOP key [count]
fn spop(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    match argv.len() {
        2 => spop_one(ctx, &argv[1]),
        3 => spop_count(ctx, &argv[1], &argv[2]),
        _ => Err(errors::syntax()),
    }
}

fn spop_one(ctx: &mut Ctx, key: &[u8]) -> Result<Reply> {
    let Some(len) = ctx.peek_set(key)?.map(|s| s.len()) else {
        return Ok(Reply::Nil);
    };
    let i = random_index(ctx, len);
    let Some(set) = ctx.set_mut(key)? else {
        return Ok(Reply::Nil);
    };
    let Some(member) = set.iter().nth(i).cloned() else {
        return Ok(Reply::Nil);
    };
    set.remove(&member);
    ctx.notify(Class::SET, "spop", key);
    delete_if_empty(ctx, key);
    Ok(Reply::bulk(&member))
}

fn spop_count(ctx: &mut Ctx, key: &[u8], count: &[u8]) -> Result<Reply> {
    let count = match int_arg(count) {
        Ok(n) if n >= 0 => n,
        _ => return Err(Reply::error(errors::NOT_POSITIVE)),
    };
    let Some(len) = ctx.peek_set(key)?.map(|s| s.len()) else {
        return Ok(Reply::Set(Vec::new()));
    };
    if count == 0 {
        return Ok(Reply::Set(Vec::new()));
    }
    if count as u64 >= len as u64 {
        // The whole set goes.
        let now = ctx.now_ms;
        let Some(entry) = ctx.db().remove_live(key, now) else {
            return Ok(Reply::Set(Vec::new()));
        };
        ctx.notify(Class::SET, "spop", key);
        ctx.notify(Class::GENERIC, "del", key);
        return Ok(match entry.into_value() {
            Value::Set(s) => Reply::Set(members_reply(s.iter())),
            _ => Reply::Set(Vec::new()),
        });
    }
    let indices = random_indices(ctx, len, count);
    let Some(set) = ctx.set_mut(key)? else {
        return Ok(Reply::Set(Vec::new()));
    };
    let all: Vec<&Box<[u8]>> = set.iter().collect();
    let popped: Vec<Box<[u8]>> = indices
        .iter()
        .filter_map(|&i| all.get(i).map(|m| (*m).clone()))
        .collect();
    for m in &popped {
        set.remove(m);
    }
    ctx.notify(Class::SET, "spop", key);
    Ok(Reply::Set(members_reply(&popped)))
}

/// SRANDMEMBER key [count]
fn srandmember(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let key = &argv[1];
    let count = match argv.len() {
        2 => None,
        3 => Some(random_count(&argv[2])?),
        _ => return Err(errors::syntax()),
    };
    let Some(len) = ctx.read_set(key)?.map(|s| s.len()) else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let Some(count) = count else {
        let i = random_index(ctx, len);
        return Ok(ctx
            .peek_set(key)?
            .and_then(|s| s.iter().nth(i))
            .map_or(Reply::Nil, |m| Reply::bulk(m)));
    };
    if count < 0 && count.unsigned_abs() > MAX_RANDOM_REPEATS {
        return Err(too_many_repeats());
    }
    let indices = random_indices(ctx, len, count);
    let Some(set) = ctx.peek_set(key)? else {
        return Ok(Reply::Array(Vec::new()));
    };
    let all: Vec<&Box<[u8]>> = set.iter().collect();
    Ok(Reply::Array(
        indices
            .iter()
            .filter_map(|&i| all.get(i).map(|m| Reply::bulk(m)))
            .collect(),
    ))
}

/// The set algebra of SINTER, SUNION and SDIFF and their variants.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Op {
    Inter,
    Union,
    Diff,
}

/// Combines the sets at `keys` (a missing key is an empty set). Every key
/// is looked up first, so a key of another type is WRONGTYPE even after a
/// missing one, as in Redis 7.
fn combine(ctx: &mut Ctx, keys: &[Bytes], op: Op) -> Result<Set> {
    let mut sizes = Vec::with_capacity(keys.len());
    for key in keys {
        sizes.push(ctx.read_set(key)?.map(|s| s.len()));
    }
    match op {
        Op::Inter => intersect(ctx, keys, &sizes),
        Op::Union => {
            let mut out = Set::new();
            for key in keys {
                if let Some(s) = ctx.peek_set(key)? {
                    for m in s {
                        if !out.contains(m) {
                            out.insert(m.clone());
                        }
                    }
                }
            }
            Ok(out)
        }
        Op::Diff => {
            let Some(first) = ctx.peek_set(&keys[0])? else {
                return Ok(Set::new());
            };
            let mut out = first.clone();
            for key in &keys[1..] {
                if out.is_empty() {
                    break;
                }
                let Some(s) = ctx.peek_set(key)? else {
                    continue;
                };
                // Walk whichever side is smaller.
                if s.len() < out.len() {
                    for m in s {
                        out.remove(m);
                    }
                } else {
                    out.retain(|m| !s.contains(m));
                }
            }
            Ok(out)
        }
    }
}

/// Intersection: the smallest set's members, filtered by each other set,
/// so the work is bounded by (smallest size) x (number of sets).
fn intersect(ctx: &mut Ctx, keys: &[Bytes], sizes: &[Option<usize>]) -> Result<Set> {
    let mut order: Vec<(usize, usize)> = Vec::with_capacity(sizes.len());
    for (i, size) in sizes.iter().enumerate() {
        match size {
            Some(n) => order.push((*n, i)),
            None => return Ok(Set::new()),
        }
    }
    order.sort_unstable();
    let Some(&(_, smallest)) = order.first() else {
        return Ok(Set::new());
    };
    let mut out = ctx.peek_set(&keys[smallest])?.cloned().unwrap_or_default();
    for &(_, i) in &order[1..] {
        if out.is_empty() {
            break;
        }
        if let Some(s) = ctx.peek_set(&keys[i])? {
            out.retain(|m| s.contains(m));
        }
    }
    Ok(out)
}

/// SINTER / SUNION / SDIFF key [key ...]
fn combine_reply(ctx: &mut Ctx, argv: &[Bytes], op: Op) -> Result<Reply> {
    let result = combine(ctx, &argv[1..], op)?;
    Ok(Reply::Set(members_reply(&result)))
}

/// SINTERSTORE / SUNIONSTORE / SDIFFSTORE destination key [key ...]: the
/// destination is replaced whatever its type, or deleted when the result
/// is empty.
fn combine_store(ctx: &mut Ctx, argv: &[Bytes], op: Op) -> Result<Reply> {
    let result = combine(ctx, &argv[2..], op)?;
    let len = result.len();
    let dst = &argv[1];
    ctx.before_overwrite(dst);
    if len == 0 {
        if ctx.db().remove(dst).is_some() {
            ctx.notify(Class::GENERIC, "del", dst);
        }
    } else {
        ctx.db().set(dst, Value::Set(result));
        let event = match op {
            Op::Inter => "sinterstore",
            Op::Union => "sunionstore",
            Op::Diff => "sdiffstore",
        };
        ctx.notify(Class::SET, event, dst);
    }
    Ok(Reply::Int(len as i64))
}

fn sinter(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    combine_reply(ctx, argv, Op::Inter)
}

fn sunion(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    combine_reply(ctx, argv, Op::Union)
}

fn sdiff(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    combine_reply(ctx, argv, Op::Diff)
}

fn sinterstore(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    combine_store(ctx, argv, Op::Inter)
}

fn sunionstore(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    combine_store(ctx, argv, Op::Union)
}

fn sdiffstore(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    combine_store(ctx, argv, Op::Diff)
}

/// SINTERCARD numkeys key [key ...] [LIMIT limit]
fn sintercard(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let numkeys = match int_arg(&argv[1]) {
        Ok(n) if n > 0 => n as u64,
        _ => return Err(Reply::error(errors::NUMKEYS_ZERO)),
    };
    let mut args = ArgCursor::new(&argv[2..]);
    let keys = usize::try_from(numkeys)
        .ok()
        .and_then(|n| args.next_n(n))
        .ok_or_else(|| Reply::error("ERR Number of keys can't be greater than number of args"))?;
    let mut limit = 0;
    while let Some((option, value)) = args.next_pair()? {
        if !is(option, "limit") {
            return Err(errors::syntax());
        }
        limit = match int_arg(value) {
            Ok(n) if n >= 0 => n as u64,
            _ => return Err(Reply::error("ERR LIMIT can't be negative")),
        };
    }
    let card = combine(ctx, keys, Op::Inter)?.len() as u64;
    Ok(Reply::Int(
        if limit > 0 { card.min(limit) } else { card } as i64
    ))
}

/// SMOVE source destination member
fn smove(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    let (src, dst, member) = (&argv[1], &argv[2], &argv[3][..]);
    let Some(in_src) = ctx.peek_set(src)?.map(|s| s.contains(member)) else {
        return Ok(Reply::Int(0));
    };
    ctx.peek_set(dst)?;
    if src == dst || !in_src {
        return Ok(Reply::Int(in_src as i64));
    }
    if let Some(set) = ctx.set_mut(src)? {
        set.remove(member);
    }
    ctx.notify(Class::SET, "srem", src);
    delete_if_empty(ctx, src);
    if ctx.set_or_insert(dst)?.insert(Box::from(member)) {
        ctx.notify(Class::SET, "sadd", dst);
    }
    Ok(Reply::Int(1))
}

/// SSCAN key cursor [MATCH pattern] [COUNT count]: small enough to answer
/// at once, like Redis does for small encodings: every matching member,
/// with the next cursor 0.
fn sscan(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply> {
    scan_cursor(&argv[2])?;
    let Some(set) = ctx.read_set(&argv[1])? else {
        return Ok(empty_scan());
    };
    let pattern = scan_options(&argv[3..], false)?.pattern;
    let found = set
        .iter()
        .filter(|m| scan_accepts(pattern, m))
        .map(|m| Reply::bulk(m))
        .collect();
    Ok(Reply::Array(vec![Reply::bulk(b"0"), Reply::Array(found)]))
}
