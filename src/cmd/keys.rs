//! Generic key commands: DEL EXISTS TYPE EXPIRE TTL KEYS SCAN ...

use bytes::Bytes;

use super::flags::*;
use super::{Command, Ctx, Gather, Keys, Route};
use crate::protocol::Reply;

pub static COMMANDS: &[Command] = &[
    Command {
        name: "del",
        arity: -2,
        flags: WRITE,
        keys: Keys::Range {
            first: 1,
            last: -1,
            step: 1,
        },
        route: Route::Fanout(Gather::SumInt),
        run: Some(del),
    },
    Command {
        name: "exists",
        arity: -2,
        flags: READONLY | FAST,
        keys: Keys::Range {
            first: 1,
            last: -1,
            step: 1,
        },
        route: Route::Fanout(Gather::SumInt),
        run: Some(exists),
    },
    Command {
        name: "dbsize",
        arity: 1,
        flags: READONLY | FAST,
        keys: Keys::None,
        route: Route::AllShards(Gather::SumInt),
        run: Some(dbsize),
    },
    Command {
        name: "flushall",
        arity: -1,
        flags: WRITE,
        keys: Keys::None,
        route: Route::AllShards(Gather::AllOk),
        run: Some(flushall),
    },
];

fn del(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let db = ctx.db();
    Reply::Int(
        argv[1..]
            .iter()
            .filter(|k| db.remove_live(k, now).is_some())
            .count() as i64,
    )
}

fn exists(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let db = ctx.db();
    Reply::Int(argv[1..].iter().filter(|k| db.contains(k, now)).count() as i64)
}

fn dbsize(ctx: &mut Ctx, _argv: &[Bytes]) -> Reply {
    Reply::Int(ctx.db().len() as i64)
}

fn flushall(ctx: &mut Ctx, _argv: &[Bytes]) -> Reply {
    for db in &mut ctx.shard.dbs {
        db.clear();
    }
    Reply::ok()
}
