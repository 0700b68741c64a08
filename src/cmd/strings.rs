//! String commands: GET SET and friends.

use bytes::Bytes;

use super::flags::*;
use super::{errors, Command, Ctx, Gather, Keys, Route};
use crate::protocol::Reply;
use crate::store::{Value, ValueRef};

const fn keyed(name: &'static str, arity: i32, flags: u32, run: super::ShardFn) -> Command {
    Command {
        name,
        arity,
        flags,
        keys: Keys::Range {
            first: 1,
            last: 1,
            step: 1,
        },
        route: Route::Keyed,
        run: Some(run),
    }
}

pub static COMMANDS: &[Command] = &[
    keyed("get", 2, READONLY | FAST, get),
    keyed("set", -3, WRITE | DENYOOM, set),
    Command {
        name: "mget",
        arity: -2,
        flags: READONLY | FAST,
        keys: Keys::Range {
            first: 1,
            last: -1,
            step: 1,
        },
        route: Route::Fanout(Gather::ByKeyPosition),
        run: Some(mget),
    },
    Command {
        name: "mset",
        arity: -3,
        flags: WRITE | DENYOOM,
        keys: Keys::Range {
            first: 1,
            last: -1,
            step: 2,
        },
        route: Route::Fanout(Gather::AllOk),
        run: Some(mset),
    },
];

fn get(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    match ctx.read(&argv[1]) {
        None => Reply::Nil,
        Some(ValueRef::Str(s)) => Reply::bulk(s),
        Some(_) => Reply::error(errors::WRONGTYPE),
    }
}

fn set(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    if argv.len() != 3 {
        return Reply::error(errors::SYNTAX);
    }
    ctx.db().set(&argv[1], Value::Str(argv[2].to_vec()));
    Reply::ok()
}

fn mget(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    let now = ctx.now_ms;
    let db = ctx.db();
    Reply::Array(
        argv[1..]
            .iter()
            .map(|k| match db.value(k, now) {
                Some(ValueRef::Str(s)) => Reply::bulk(s),
                _ => Reply::Nil,
            })
            .collect(),
    )
}

fn mset(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    if argv.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_args("mset"));
    }
    let db = ctx.db();
    for pair in argv[1..].chunks(2) {
        db.set(&pair[0], Value::Str(pair[1].to_vec()));
    }
    Reply::ok()
}
