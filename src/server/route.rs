//! Routing: which shard runs a command, splitting fan-out commands per
//! shard, and gathering their parts back into one reply.

use bytes::Bytes;

use crate::cmd::{errors, Command, Gather, Route};
use crate::protocol::Reply;
use crate::util::slot::shard_of_key;
use crate::util::slot::SLOT_COUNT;

/// Where a command goes.
pub enum Plan {
    /// Run whole on one shard.
    One(usize),
    /// Run these pieces, then gather.
    Split { gather: Gather, parts: Vec<Piece> },
    /// Refused before running (CROSSSLOT, bad cursor).
    Refuse(Reply),
}

/// A piece of a split command.
pub struct Piece {
    pub shard: usize,
    pub argv: Vec<Bytes>,
    /// For [`Gather::ByKeyPosition`]: where each of this piece's keys stood.
    pub positions: Vec<usize>,
}

pub fn plan(cmd: &'static Command, argv: &[Bytes], own: usize, shards: usize) -> Plan {
    match cmd.route {
        Route::Keyed | Route::Connection => keyed(cmd, argv, own, shards),
        Route::Fanout(gather) => fanout(cmd, argv, gather, own, shards),
        Route::AllShards(gather) => Plan::Split {
            gather,
            parts: (0..shards)
                .map(|shard| Piece {
                    shard,
                    argv: argv.to_vec(),
                    positions: Vec::new(),
                })
                .collect(),
        },
        Route::Scan => scan(argv, own, shards),
    }
}

fn keyed(cmd: &Command, argv: &[Bytes], own: usize, shards: usize) -> Plan {
    if shards == 1 {
        return Plan::One(0); // the only shard
    }
    let mut target = None;
    for i in cmd.key_positions(argv) {
        let shard = shard_of_key(&argv[i], shards);
        match target {
            None => target = Some(shard),
            Some(t) if t != shard => return Plan::Refuse(Reply::error(errors::CROSSSLOT)),
            Some(_) => {}
        }
    }
    Plan::One(target.unwrap_or(own))
}

fn fanout(cmd: &Command, argv: &[Bytes], gather: Gather, own: usize, shards: usize) -> Plan {
    let keys = cmd.key_indices(argv);
    let step = match cmd.keys {
        crate::cmd::Keys::Range { step, .. } => step.max(1),
        _ => 1,
    };
    let Some(&first) = keys.first() else {
        return Plan::One(own);
    };
    let first_shard = shard_of_key(&argv[first], shards);
    // A key without its value (MSET a 1 b) is an arity error: run the
    // command whole on one shard so it refuses before any part writes.
    let incomplete = !(argv.len() - first).is_multiple_of(step);
    if incomplete
        || keys
            .iter()
            .all(|&i| shard_of_key(&argv[i], shards) == first_shard)
    {
        return Plan::One(first_shard);
    }
    let mut parts: Vec<Piece> = Vec::new();
    for (pos, &i) in keys.iter().enumerate() {
        let shard = shard_of_key(&argv[i], shards);
        let piece = match parts.iter_mut().position(|p| p.shard == shard) {
            Some(p) => &mut parts[p],
            None => {
                parts.push(Piece {
                    shard,
                    argv: argv[..first].to_vec(),
                    positions: Vec::new(),
                });
                parts.last_mut().expect("just pushed")
            }
        };
        piece
            .argv
            .extend_from_slice(&argv[i..(i + step).min(argv.len())]);
        piece.positions.push(pos);
    }
    Plan::Split { gather, parts }
}

/// SCAN's cursor is the slot to continue at, so it names the shard. A
/// cursor we never hand out (past the last slot) ends the iteration on the
/// local shard, which still checks the options as Redis does.
fn scan(argv: &[Bytes], own: usize, shards: usize) -> Plan {
    match argv.get(1).map(|c| crate::cmd::scan_cursor(c)) {
        Some(Ok(cursor)) if cursor < SLOT_COUNT as u64 => {
            Plan::One(crate::util::slot::shard_of_slot(cursor as u16, shards))
        }
        Some(Ok(_)) => Plan::One(own),
        Some(Err(e)) => Plan::Refuse(e),
        None => Plan::Refuse(Reply::error(errors::INVALID_CURSOR)),
    }
}

/// Gathers the replies of a split command's pieces (in `parts` order).
pub fn gather(gather: Gather, replies: Vec<Reply>, positions: &[Vec<usize>]) -> Reply {
    if let Some(err) = replies.iter().find(|r| r.is_error()) {
        return err.clone();
    }
    match gather {
        Gather::SumInt => Reply::Int(
            replies
                .iter()
                .map(|r| if let Reply::Int(n) = r { *n } else { 0 })
                .sum(),
        ),
        Gather::AllOk => Reply::ok(),
        Gather::Concat => {
            let mut all = Vec::new();
            for r in replies {
                if let Reply::Array(items) | Reply::Set(items) = r {
                    all.extend(items);
                }
            }
            Reply::Array(all)
        }
        Gather::ByKeyPosition => {
            let total = positions.iter().map(Vec::len).sum();
            let mut out = vec![Reply::Nil; total];
            for (r, pos) in replies.into_iter().zip(positions) {
                if let Reply::Array(items) = r {
                    for (item, &p) in items.into_iter().zip(pos) {
                        if let Some(slot) = out.get_mut(p) {
                            *slot = item;
                        }
                    }
                }
            }
            Reply::Array(out)
        }
        Gather::AnyNonNil => {
            let live: Vec<Reply> = replies
                .into_iter()
                .filter(|r| !matches!(r, Reply::Nil))
                .collect();
            if live.is_empty() {
                return Reply::Nil;
            }
            let pick = (crate::util::time::now_ms() as usize) % live.len();
            live.into_iter().nth(pick).unwrap_or(Reply::Nil)
        }
    }
}
