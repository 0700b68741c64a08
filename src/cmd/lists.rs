//! List commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LLEN LRANGE LINDEX LSET
//! LREM LTRIM LINSERT LPOS LMOVE RPOPLPUSH LMPOP, as Redis 7.0 answers them.
//!
//! A list is a `VecDeque`: both ends are O(1), indexing is O(1), and whole-list
//! edits (LREM, LTRIM) are done in one pass. A list that becomes empty is
//! deleted, as in Redis.

use std::collections::VecDeque;

use bytes::Bytes;

use super::flags::*;
use super::{command, errors, int_arg, is, Command, Ctx};
use super::{one_of, reply, ArgCursor};
use crate::notify::Class;
use crate::protocol::Reply;
use crate::store::value::List;
use crate::store::Value;
use crate::util::numbers::parse_i64;

const RANK_ZERO: &str = "ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... or use negative to start from the end of the list";
const COUNT_NEGATIVE: &str = "ERR COUNT can't be negative";
const MAXLEN_NEGATIVE: &str = "ERR MAXLEN can't be negative";
const COUNT_NOT_POSITIVE: &str = "ERR count should be greater than 0";

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("lpush",     -3, WRITE | DENYOOM | FAST).key().shard(lpush),
    command("rpush",     -3, WRITE | DENYOOM | FAST).key().shard(rpush),
    command("lpushx",    -3, WRITE | DENYOOM | FAST).key().shard(lpushx),
    command("rpushx",    -3, WRITE | DENYOOM | FAST).key().shard(rpushx),
    command("lpop",      -2, WRITE | FAST)          .key().shard(lpop),
    command("rpop",      -2, WRITE | FAST)          .key().shard(rpop),
    command("llen",      2,  READONLY | FAST)       .key().shard(llen),
    command("lrange",    4,  READONLY)              .key().shard(lrange),
    command("lindex",    3,  READONLY)              .key().shard(lindex),
    command("lset",      4,  WRITE | DENYOOM)       .key().shard(lset),
    command("lrem",      4,  WRITE)                 .key().shard(lrem),
    command("ltrim",     4,  WRITE)                 .key().shard(ltrim),
    command("linsert",   5,  WRITE | DENYOOM)       .key().shard(linsert),
    command("lpos",      -3, READONLY)              .key().shard(lpos),
    command("lmove",     5,  WRITE | DENYOOM)       .keys(1, 2, 1).shard(lmove),
    command("rpoplpush", 3,  WRITE | DENYOOM)       .keys(1, 2, 1).shard(rpoplpush),
    command("lmpop",     -4, WRITE)                 .numkeys(1).shard(lmpop),
];

/// An end of a list: LEFT is the head, RIGHT the tail.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum End {
    Left,
    Right,
}

impl End {
    /// The event a push at this end announces.
    fn push_event(self) -> &'static str {
        match self {
            End::Left => "lpush",
            End::Right => "rpush",
        }
    }

    /// The event a pop at this end announces.
    fn pop_event(self) -> &'static str {
        match self {
            End::Left => "lpop",
            End::Right => "rpop",
        }
    }

    /// `LEFT` or `RIGHT`, any case; anything else is a syntax error.
    fn parse(arg: &[u8]) -> Result<End, Reply> {
        one_of(arg, &[("left", End::Left), ("right", End::Right)]).ok_or_else(errors::syntax)
    }
}

fn pop(list: &mut List, end: End) -> Option<Vec<u8>> {
    match end {
        End::Left => list.pop_front(),
        End::Right => list.pop_back(),
    }
}

fn push(list: &mut List, end: End, element: Vec<u8>) {
    match end {
        End::Left => list.push_front(element),
        End::Right => list.push_back(element),
    }
}

/// Pops up to `count` elements from `end`, in popping order. The reply grows
/// with the list, never with the client's count.
fn pop_many(list: &mut List, end: End, count: u64) -> Vec<Reply> {
    let n = usize::try_from(count).unwrap_or(usize::MAX).min(list.len());
    (0..n)
        .filter_map(|_| pop(list, end))
        .map(|e| Reply::Bulk(Bytes::from(e)))
        .collect()
}

/// A count that must be >= 0; a non-integer gets the same `msg` as Redis's
/// getPositiveLongFromObjectOrReply.
fn non_negative(arg: &[u8], msg: &'static str) -> Result<i64, Reply> {
    parse_i64(arg)
        .filter(|n| *n >= 0)
        .ok_or_else(|| Reply::error(msg))
}

/// Resolves LRANGE/LTRIM's `start stop` (negative from the end) against a
/// list of `len`: the inclusive index range, or None when it is empty.
fn clamp_range(start: i64, stop: i64, len: usize) -> Option<(usize, usize)> {
    let len = len as i64;
    let start = if start < 0 { len + start } else { start }.max(0);
    let stop = if stop < 0 { len + stop } else { stop };
    if start > stop || start >= len {
        return None;
    }
    Some((start as usize, stop.min(len - 1) as usize))
}

/// Resolves a LINDEX/LSET index (negative from the end) against `len`.
fn resolve_index(index: i64, len: usize) -> Option<usize> {
    let i = if index < 0 {
        (len as i64).checked_add(index)?
    } else {
        index
    };
    usize::try_from(i).ok().filter(|&i| i < len)
}

/// `LPUSH key element [element ...]`
fn lpush(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    push_generic(ctx, argv, End::Left, false)
}

/// `RPUSH key element [element ...]`
fn rpush(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    push_generic(ctx, argv, End::Right, false)
}

/// `LPUSHX key element [element ...]`
fn lpushx(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    push_generic(ctx, argv, End::Left, true)
}

/// `RPUSHX key element [element ...]`
fn rpushx(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    push_generic(ctx, argv, End::Right, true)
}

/// Pushes `argv[2..]` one by one at `end`; with `only_existing` (the X
/// forms) a missing key is left alone. Replies with the new length.
fn push_generic(ctx: &mut Ctx, argv: &[Bytes], end: End, only_existing: bool) -> Reply {
    let key = &argv[1];
    let elements = argv[2..].iter().map(|e| e.to_vec());
    let len = match ctx.list_mut(key) {
        Ok(Some(list)) => {
            elements.for_each(|e| push(list, end, e));
            list.len()
        }
        Err(e) => return e,
        Ok(None) if only_existing => return Reply::Int(0),
        Ok(None) => {
            let mut list = List::with_capacity(argv.len() - 2);
            elements.for_each(|e| push(&mut list, end, e));
            let len = list.len();
            ctx.db().set(key, Value::List(list));
            len
        }
    };
    ctx.notify(Class::LIST, end.push_event(), key);
    Reply::Int(len as i64)
}

/// `LPOP key [count]`
fn lpop(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(pop_generic(ctx, argv, End::Left, "lpop"))
}

/// `RPOP key [count]`
fn rpop(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(pop_generic(ctx, argv, End::Right, "rpop"))
}

/// Without a count: one element, or nil. With one: an array (empty for a
/// count of 0), or a nil array when the key does not exist.
fn pop_generic(ctx: &mut Ctx, argv: &[Bytes], end: End, name: &str) -> Result<Reply, Reply> {
    if argv.len() > 3 {
        return Err(Reply::error(errors::wrong_args(name)));
    }
    let count = argv
        .get(2)
        .map(|arg| non_negative(arg, errors::NOT_POSITIVE))
        .transpose()?;
    let key = &argv[1];
    let Some(list) = ctx.list_mut(key)? else {
        return Ok(if count.is_some() {
            Reply::NilArray
        } else {
            Reply::Nil
        });
    };
    let before = list.len();
    let reply = match count {
        None => pop(list, end).map_or(Reply::Nil, |e| Reply::Bulk(Bytes::from(e))),
        Some(n) => Reply::Array(pop_many(list, end, n as u64)),
    };
    let (popped, emptied) = (list.len() != before, list.is_empty());
    if popped {
        ctx.notify(Class::LIST, end.pop_event(), key);
    }
    if emptied {
        ctx.db().remove(key);
        ctx.notify(Class::GENERIC, "del", key);
    }
    Ok(reply)
}

/// `LLEN key`
fn llen(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(
        ctx.read_list(&argv[1])
            .map(|l| Reply::Int(l.map_or(0, |l| l.len() as i64))),
    )
}

/// `LRANGE key start stop`
fn lrange(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply((|| {
        // Redis parses the range before looking at the key.
        let (start, stop) = (int_arg(&argv[2])?, int_arg(&argv[3])?);
        let Some(list) = ctx.read_list(&argv[1])? else {
            return Ok(Reply::Array(Vec::new()));
        };
        Ok(Reply::Array(match clamp_range(start, stop, list.len()) {
            None => Vec::new(),
            Some((first, last)) => list.range(first..=last).map(|e| Reply::bulk(e)).collect(),
        }))
    })())
}

/// `LINDEX key index`
fn lindex(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply((|| {
        // A missing key answers nil even when the index is not a number.
        let Some(list) = ctx.read_list(&argv[1])? else {
            return Ok(Reply::Nil);
        };
        let index = int_arg(&argv[2])?;
        Ok(resolve_index(index, list.len()).map_or(Reply::Nil, |i| Reply::bulk(&list[i])))
    })())
}

/// `LSET key index element`
fn lset(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply((|| {
        let list = ctx
            .list_mut(&argv[1])?
            .ok_or_else(|| Reply::error(errors::NO_SUCH_KEY))?;
        let index = int_arg(&argv[2])?;
        let i = resolve_index(index, list.len())
            .ok_or_else(|| Reply::error(errors::INDEX_OUT_OF_RANGE))?;
        list[i] = argv[3].to_vec();
        ctx.notify(Class::LIST, "lset", &argv[1]);
        Ok(Reply::ok())
    })())
}

/// `LREM key count element`: removes up to |count| occurrences (all with 0),
/// from the head for count >= 0, from the tail for count < 0. One pass over
/// the list whatever the number removed.
fn lrem(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(lrem_inner(ctx, argv))
}

fn lrem_inner(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply, Reply> {
    let count = int_arg(&argv[2])?;
    let (key, element) = (&argv[1], &argv[3][..]);
    let Some(list) = ctx.list_mut(key)? else {
        return Ok(Reply::Int(0));
    };
    // 0 means no limit; i64::MIN's magnitude fits in u64.
    let limit = match count.unsigned_abs() {
        0 => u64::MAX,
        n => n,
    };
    let mut removed: u64 = 0;
    if count >= 0 {
        list.retain(|e| {
            let drop = removed < limit && e.as_slice() == element;
            removed += drop as u64;
            !drop
        });
    } else {
        // From the tail: the first (matches - limit) matches stay.
        let matches = list.iter().filter(|e| e.as_slice() == element).count() as u64;
        let mut keep = matches.saturating_sub(limit);
        list.retain(|e| {
            if e.as_slice() != element {
                true
            } else if keep > 0 {
                keep -= 1;
                true
            } else {
                removed += 1;
                false
            }
        });
    }
    let emptied = list.is_empty();
    if removed > 0 {
        ctx.notify(Class::LIST, "lrem", key);
    }
    if emptied {
        ctx.db().remove(key);
        ctx.notify(Class::GENERIC, "del", key);
    }
    Ok(Reply::Int(removed as i64))
}

/// `LTRIM key start stop`: keeps only the range; an empty result deletes
/// the key.
fn ltrim(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply((|| {
        let (start, stop) = (int_arg(&argv[2])?, int_arg(&argv[3])?);
        let key = &argv[1];
        let Some(list) = ctx.list_mut(key)? else {
            return Ok(Reply::ok());
        };
        match clamp_range(start, stop, list.len()) {
            None => list.clear(),
            Some((first, last)) => {
                list.truncate(last + 1);
                list.drain(..first);
            }
        }
        let emptied = list.is_empty();
        ctx.notify(Class::LIST, "ltrim", key);
        if emptied {
            ctx.db().remove(key);
            ctx.notify(Class::GENERIC, "del", key);
        }
        Ok(Reply::ok())
    })())
}

/// `LINSERT key BEFORE|AFTER pivot element`: the new length, -1 when the
/// pivot is not found, 0 when the key does not exist.
fn linsert(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply((|| {
        let after =
            one_of(&argv[2], &[("after", true), ("before", false)]).ok_or_else(errors::syntax)?;
        let Some(list) = ctx.list_mut(&argv[1])? else {
            return Ok(Reply::Int(0));
        };
        let pivot = &argv[3][..];
        Ok(match list.iter().position(|e| e.as_slice() == pivot) {
            None => Reply::Int(-1),
            Some(i) => {
                list.insert(i + after as usize, argv[4].to_vec());
                let len = list.len();
                ctx.notify(Class::LIST, "linsert", &argv[1]);
                Reply::Int(len as i64)
            }
        })
    })())
}

/// `LPOS key element [RANK rank] [COUNT num-matches] [MAXLEN len]`
fn lpos(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(lpos_inner(ctx, argv))
}

fn lpos_inner(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply, Reply> {
    let mut rank: i64 = 1;
    let mut count: Option<i64> = None;
    let mut maxlen: i64 = 0;
    let mut args = ArgCursor::new(&argv[3..]);
    while let Some((opt, v)) = args.next_pair()? {
        if is(opt, "rank") {
            rank = int_arg(v)?;
            if rank == 0 {
                return Err(Reply::error(RANK_ZERO));
            }
        } else if is(opt, "count") {
            count = Some(non_negative(v, COUNT_NEGATIVE)?);
        } else if is(opt, "maxlen") {
            maxlen = non_negative(v, MAXLEN_NEGATIVE)?;
        } else {
            return Err(errors::syntax());
        }
    }
    // A negative rank searches from the tail. Redis negates it in C, so
    // i64::MIN stays negative and then matches the first hit; wrapping
    // arithmetic reproduces that.
    let from_tail = rank < 0;
    let rank = rank.wrapping_abs();
    let element = &argv[2][..];
    let Some(list) = ctx.read_list(&argv[1])? else {
        return Ok(if count.is_some() {
            Reply::Array(Vec::new())
        } else {
            Reply::Nil
        });
    };
    let len = list.len();
    let scan = if maxlen == 0 {
        len
    } else {
        len.min(usize::try_from(maxlen).unwrap_or(usize::MAX))
    };
    let mut matches: i64 = 0;
    let mut found = Vec::new();
    for k in 0..scan {
        let index = if from_tail { len - 1 - k } else { k };
        if list[index] != element {
            continue;
        }
        matches += 1;
        if matches < rank {
            continue;
        }
        let Some(count) = count else {
            return Ok(Reply::Int(index as i64));
        };
        found.push(Reply::Int(index as i64));
        if count != 0 && matches.wrapping_sub(rank).wrapping_add(1) >= count {
            break;
        }
    }
    Ok(if count.is_some() {
        Reply::Array(found)
    } else {
        Reply::Nil
    })
}

/// `LMOVE source destination LEFT|RIGHT LEFT|RIGHT`
fn lmove(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    match (End::parse(&argv[3]), End::parse(&argv[4])) {
        (Ok(from), Ok(to)) => reply(move_generic(ctx, &argv[1], &argv[2], from, to)),
        (Err(e), _) | (_, Err(e)) => e,
    }
}

/// `RPOPLPUSH source destination`
fn rpoplpush(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(move_generic(ctx, &argv[1], &argv[2], End::Right, End::Left))
}

/// Pops from `src` at `from` and pushes at `to` of `dst` (created if
/// missing); the same key rotates the list. Nil when `src` does not exist.
fn move_generic(ctx: &mut Ctx, src: &[u8], dst: &[u8], from: End, to: End) -> Result<Reply, Reply> {
    // Both types are checked before anything moves, source first.
    if ctx.peek_list(src)?.is_none() {
        return Ok(Reply::Nil);
    }
    ctx.peek_list(dst)?;
    let Some(list) = ctx.list_mut(src)? else {
        return Ok(Reply::Nil);
    };
    let Some(element) = pop(list, from) else {
        return Ok(Reply::Nil);
    };
    let reply = Reply::bulk(&element);
    if src == dst {
        push(list, to, element);
        ctx.notify(Class::LIST, to.push_event(), dst);
        ctx.notify(Class::LIST, from.pop_event(), src);
        return Ok(reply);
    }
    let emptied = list.is_empty();
    // As Redis: the push is announced first, then the pop, then the
    // source's deletion.
    match ctx.list_mut(dst) {
        Ok(Some(list)) => push(list, to, element),
        _ => ctx.db().set(dst, Value::List(VecDeque::from([element]))),
    }
    ctx.notify(Class::LIST, to.push_event(), dst);
    ctx.notify(Class::LIST, from.pop_event(), src);
    if emptied {
        ctx.db().remove(src);
        ctx.notify(Class::GENERIC, "del", src);
    }
    Ok(reply)
}

/// `LMPOP numkeys key [key ...] LEFT|RIGHT [COUNT count]`: pops from the
/// first non-empty list; replies `[key, [elements]]` or a nil array.
fn lmpop(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    reply(lmpop_inner(ctx, argv))
}

fn lmpop_inner(ctx: &mut Ctx, argv: &[Bytes]) -> Result<Reply, Reply> {
    let numkeys = parse_i64(&argv[1])
        .filter(|n| *n > 0)
        .ok_or_else(|| Reply::error(errors::NUMKEYS_ZERO))?;
    // LEFT|RIGHT must follow the keys.
    let mut args = ArgCursor::new(&argv[2..]);
    let keys = usize::try_from(numkeys)
        .ok()
        .and_then(|n| args.next_n(n))
        .ok_or_else(errors::syntax)?;
    let end = End::parse(args.required()?)?;
    let mut count: Option<i64> = None;
    while let Some((opt, v)) = args.next_pair()? {
        if count.is_some() || !is(opt, "count") {
            return Err(errors::syntax());
        }
        let n = parse_i64(v)
            .filter(|n| *n > 0)
            .ok_or_else(|| Reply::error(COUNT_NOT_POSITIVE))?;
        count = Some(n);
    }
    let count = count.unwrap_or(1) as u64;
    for key in keys {
        let Some(list) = ctx.list_mut(key)? else {
            continue;
        };
        if list.is_empty() {
            continue;
        }
        let items = pop_many(list, end, count);
        let emptied = list.is_empty();
        ctx.notify(Class::LIST, end.pop_event(), key);
        if emptied {
            ctx.db().remove(key);
            ctx.notify(Class::GENERIC, "del", key);
        }
        return Ok(Reply::Array(vec![
            Reply::Bulk(key.clone()),
            Reply::Array(items),
        ]));
    }
    Ok(Reply::NilArray)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_resolve_like_redis() {
        assert_eq!(clamp_range(0, -1, 10), Some((0, 9)));
        assert_eq!(clamp_range(-100, 100, 10), Some((0, 9)));
        assert_eq!(clamp_range(5, 2, 10), None);
        assert_eq!(clamp_range(10, 100, 10), None);
        assert_eq!(clamp_range(i64::MIN, i64::MAX, 3), Some((0, 2)));
        assert_eq!(clamp_range(0, i64::MIN, 3), None);
        assert_eq!(clamp_range(0, -1, 0), None);
    }

    #[test]
    fn indexes_resolve_like_redis() {
        assert_eq!(resolve_index(-1, 3), Some(2));
        assert_eq!(resolve_index(-3, 3), Some(0));
        assert_eq!(resolve_index(-4, 3), None);
        assert_eq!(resolve_index(3, 3), None);
        assert_eq!(resolve_index(i64::MIN, 3), None);
        assert_eq!(resolve_index(i64::MAX, 3), None);
    }

    #[test]
    fn pop_many_is_bounded_by_the_list() {
        let mut l: List = (0..3u8).map(|i| vec![i]).collect();
        assert_eq!(pop_many(&mut l, End::Right, u64::MAX).len(), 3);
        assert!(l.is_empty());
    }
}
