//! Scripting commands: EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT.
//! A script runs on the shard that owns its declared keys (the router
//! refuses keys on several shards with CROSSSLOT), in that core's Lua VM.

use std::borrow::Cow;
use std::rc::Rc;

use bytes::Bytes;

use super::flags::*;
use super::{command, errors, is, Call, Command, ConnCtx, CoreAccess, ScriptFuture};
use crate::lua::cache::sha1_hex;
use crate::lua::engine::RunState;
use crate::lua::run::Job;
use crate::lua::status::{kill_busy, Kind};
use crate::lua::ScriptHost;
use crate::protocol::Reply;
use crate::util::numbers::parse_i64;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("eval",       -3, NOSCRIPT | STALE)           .numkeys(2).script(eval),
    command("evalsha",    -3, NOSCRIPT | STALE)           .numkeys(2).script(evalsha),
    command("eval_ro",    -3, NOSCRIPT | STALE | READONLY).numkeys(2).script(eval_ro),
    command("evalsha_ro", -3, NOSCRIPT | STALE | READONLY).numkeys(2).script(evalsha_ro),
    command("script",     -2, 0)                          .subcommands(SCRIPT).container(),
];

/// SCRIPT's subcommands (STATUS is shardis's own).
#[rustfmt::skip]
const SCRIPT: &[Command] = &[
    command("script|load",   3,  NOSCRIPT | STALE)     .connection(script_load),
    command("script|exists", -3, NOSCRIPT)             .connection(script_exists),
    command("script|flush",  -2, NOSCRIPT)             .connection(script_flush),
    command("script|kill",   2,  NOSCRIPT | ALLOW_BUSY).connection(script_kill),
    command("script|status", 2,  NOSCRIPT | ALLOW_BUSY).connection(script_status),
    command("script|help",   2,  LOADING | STALE)      .connection(script_help),
];

const NOSCRIPT_ERROR: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// EVAL script numkeys [key ...] [arg ...]
fn eval(core: Rc<dyn ScriptHost>, call: Call, now_ms: u64) -> ScriptFuture {
    Box::pin(run(core, call, now_ms, false, false))
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
fn evalsha(core: Rc<dyn ScriptHost>, call: Call, now_ms: u64) -> ScriptFuture {
    Box::pin(run(core, call, now_ms, true, false))
}

/// EVAL_RO script numkeys [key ...] [arg ...]: writes are refused.
fn eval_ro(core: Rc<dyn ScriptHost>, call: Call, now_ms: u64) -> ScriptFuture {
    Box::pin(run(core, call, now_ms, false, true))
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
fn evalsha_ro(core: Rc<dyn ScriptHost>, call: Call, now_ms: u64) -> ScriptFuture {
    Box::pin(run(core, call, now_ms, true, true))
}

async fn run(
    core: Rc<dyn ScriptHost>,
    call: Call,
    now_ms: u64,
    by_sha: bool,
    read_only: bool,
) -> Reply {
    let argv = &call.argv;
    let numkeys = match parse_i64(&argv[2]) {
        None => return Reply::error(errors::NOT_INTEGER),
        Some(n) if n < 0 => return Reply::error("ERR Number of keys can't be negative"),
        Some(n) if n as u64 > (argv.len() - 3) as u64 => {
            return Reply::error("ERR Number of keys can't be greater than number of args")
        }
        Some(n) => n as usize,
    };
    let engine = core.engine();
    let cache = core.script_cache();
    engine.sync_epoch(cache.epoch());
    // The common case (a lowercase sha1 that is compiled here) borrows
    // the argument and looks it up once.
    let sha: Cow<str> = match std::str::from_utf8(&argv[1]) {
        Ok(text) if by_sha && !text.bytes().any(|b| b.is_ascii_uppercase()) => Cow::Borrowed(text),
        _ if by_sha => Cow::Owned(String::from_utf8_lossy(&argv[1]).to_ascii_lowercase()),
        _ => Cow::Owned(sha1_hex(&argv[1])),
    };
    let script = match engine.script(&sha) {
        Some(script) => Some(script),
        None => {
            let compiled = if by_sha {
                match cache.get(&sha) {
                    Some(body) => engine.compile(&sha, &body),
                    None => return Reply::error(NOSCRIPT_ERROR),
                }
            } else {
                engine
                    .compile(&sha, &argv[1])
                    .inspect(|_| cache.insert(&sha, &argv[1]))
            };
            if let Err(e) = compiled {
                return e;
            }
            engine.script(&sha)
        }
    };
    let Some((function, flags)) = script else {
        return Reply::error(NOSCRIPT_ERROR);
    };
    if let Some(refused) = core.refuses_script(&flags) {
        return Reply::error(refused);
    }
    let (keys, args) = argv[3..].split_at(numkeys);
    let job = Job {
        kind: Kind::Eval,
        function,
        keys,
        args,
        state: RunState {
            db: call.db,
            now_ms,
            read_only: read_only || flags.no_writes,
            ..RunState::default()
        },
        name: &sha,
    };
    crate::lua::run::run(core, job).await
}

/// SCRIPT LOAD script: compiles and caches the script, returns its SHA1.
fn script_load(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    load_script(ctx.core, &argv[2])
}

/// Caches `body` (compiled here first, so that syntax errors are reported
/// now, as Redis does); its SHA1, or the compile error.
pub fn load_script(core: &dyn CoreAccess, body: &Bytes) -> Reply {
    let cache = core.script_cache();
    let sha = sha1_hex(body);
    core.engine().sync_epoch(cache.epoch());
    match core.engine().compile(&sha, body) {
        Ok(_) => {
            cache.insert(&sha, body);
            Reply::bulk(sha.as_bytes())
        }
        Err(e) => e,
    }
}

fn script_exists(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let cache = &ctx.core.script_cache();
    Reply::Array(
        argv[2..]
            .iter()
            .map(|sha| {
                let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                Reply::Int(cache.contains(&sha) as i64)
            })
            .collect(),
    )
}

/// SCRIPT FLUSH [ASYNC|SYNC]
fn script_flush(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let core = ctx.core;
    let mode_ok = match argv {
        [_, _] => true,
        [_, _, mode] => is(mode, "sync") || is(mode, "async"),
        _ => false,
    };
    if !mode_ok {
        return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
    }
    let cache = core.script_cache();
    cache.flush();
    // The other cores free their compiled scripts on their next tick.
    if !core.shard_held() {
        core.engine().sync_epoch(cache.epoch());
    }
    Reply::ok()
}

fn script_kill(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    match kill_busy(&ctx.core.node().script_status, Kind::Eval) {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::error(e),
    }
}

fn script_help(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Array(
        [
            "SCRIPT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "EXISTS <sha1> [<sha1> ...]",
            "    Return information about the existence of the scripts in the script cache.",
            "FLUSH [ASYNC|SYNC]",
            "    Flush the Lua scripts cache.",
            "KILL",
            "    Kill the currently executing Lua script.",
            "LOAD <script>",
            "    Load a script into the scripts cache without executing it.",
            "STATUS",
            "    (shardis) What each shard's script is doing: state, name, elapsed time, counters.",
        ]
        .iter()
        .map(|l| Reply::Status((*l).into()))
        .collect(),
    )
}

/// SCRIPT STATUS (a shardis extension): one entry per shard, the fields of
/// INFO's scripting section.
fn script_status(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    let core = ctx.core;
    let now = crate::util::time::now_ms();
    let field = |name: &str| Reply::bulk(name.as_bytes());
    let text = |value: &str| Reply::bulk(value.as_bytes());
    Reply::Array(
        core.node()
            .script_status
            .iter()
            .enumerate()
            .map(|(shard, status)| {
                let r = status.report(now);
                Reply::Map(vec![
                    (field("shard"), Reply::Int(shard as i64)),
                    (field("state"), text(super::admin::phase_name(r.phase))),
                    (field("kind"), text(super::admin::kind_name(r.kind))),
                    (field("name"), text(&r.name)),
                    (field("elapsed_ms"), Reply::Int(r.elapsed_ms as i64)),
                    (field("wrote"), Reply::Int(r.wrote as i64)),
                    (field("slow_scripts"), Reply::Int(r.slow_scripts as i64)),
                    (field("killed_scripts"), Reply::Int(r.killed_scripts as i64)),
                    (field("busy_replies"), Reply::Int(r.busy_replies as i64)),
                ])
            })
            .collect(),
    )
}
