//! Scripting commands: EVAL EVALSHA EVAL_RO EVALSHA_RO and SCRIPT.
//! A script runs on the shard that owns its declared keys (the router
//! refuses keys on several shards with CROSSSLOT), in that core's Lua VM.

use bytes::Bytes;

use super::flags::*;
use super::{errors, is, Command, Keys, Route, Run};
use crate::lua::cache::sha1_hex;
use crate::lua::engine::RunState;
use crate::node::Core;
use crate::protocol::Reply;
use crate::shard::Call;
use crate::util::numbers::parse_i64;

/// A script-running command (`NAME body-or-name numkeys key... arg...`):
/// routed by its declared keys, run with the core's Lua VM.
pub(super) const fn script(name: &'static str, flags: u32, run: super::CoreFn) -> Command {
    Command {
        name,
        arity: -3,
        flags,
        keys: Keys::Numkeys {
            count_at: 2,
            dest: false,
        },
        route: Route::Keyed,
        run: Run::Core(run),
    }
}

pub static COMMANDS: &[Command] = &[
    script("eval", NOSCRIPT | STALE, eval),
    script("evalsha", NOSCRIPT | STALE, evalsha),
    script("eval_ro", NOSCRIPT | STALE | READONLY, eval_ro),
    script("evalsha_ro", NOSCRIPT | STALE | READONLY, evalsha_ro),
    Command {
        name: "script",
        arity: -2,
        flags: NOSCRIPT | ALLOW_BUSY,
        keys: Keys::None,
        route: Route::Connection,
        run: Run::Connection,
    },
];

const NOSCRIPT_ERROR: &str = "NOSCRIPT No matching script. Please use EVAL.";

/// EVAL script numkeys [key ...] [arg ...]
fn eval(core: &Core, call: &Call, now_ms: u64) -> Reply {
    run(core, call, now_ms, false, false)
}

/// EVALSHA sha1 numkeys [key ...] [arg ...]
fn evalsha(core: &Core, call: &Call, now_ms: u64) -> Reply {
    run(core, call, now_ms, true, false)
}

/// EVAL_RO script numkeys [key ...] [arg ...]: writes are refused.
fn eval_ro(core: &Core, call: &Call, now_ms: u64) -> Reply {
    run(core, call, now_ms, false, true)
}

/// EVALSHA_RO sha1 numkeys [key ...] [arg ...]
fn evalsha_ro(core: &Core, call: &Call, now_ms: u64) -> Reply {
    run(core, call, now_ms, true, true)
}

fn run(core: &Core, call: &Call, now_ms: u64, by_sha: bool, read_only: bool) -> Reply {
    let argv = &call.argv;
    let numkeys = match parse_i64(&argv[2]) {
        None => return Reply::error(errors::NOT_INTEGER),
        Some(n) if n < 0 => return Reply::error("ERR Number of keys can't be negative"),
        Some(n) if n as u64 > (argv.len() - 3) as u64 => {
            return Reply::error("ERR Number of keys can't be greater than number of args")
        }
        Some(n) => n as usize,
    };
    let engine = &core.scripts;
    let cache = &core.node.script_cache;
    engine.sync_epoch(cache.epoch());
    let sha = if by_sha {
        String::from_utf8_lossy(&argv[1]).to_ascii_lowercase()
    } else {
        sha1_hex(&argv[1])
    };
    if !engine.is_compiled(&sha) {
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
    }
    let state = RunState {
        db: call.db,
        now_ms,
        ..RunState::default()
    };
    let (keys, args) = argv[3..].split_at(numkeys);
    core.scripts.run(&sha, keys, args, state, read_only)
}

/// SCRIPT LOAD | EXISTS | FLUSH | KILL | HELP (a connection command).
pub fn script_command(core: &Core, argv: &[Bytes]) -> Reply {
    let sub = &argv[1];
    let cache = &core.node.script_cache;
    if is(sub, "load") && argv.len() == 3 {
        let sha = sha1_hex(&argv[2]);
        core.scripts.sync_epoch(cache.epoch());
        // Compiling here reports syntax errors now, as Redis does.
        match core.scripts.compile(&sha, &argv[2]) {
            Ok(_) => {
                cache.insert(&sha, &argv[2]);
                Reply::bulk(sha.as_bytes())
            }
            Err(e) => e,
        }
    } else if is(sub, "exists") && argv.len() >= 3 {
        Reply::Array(
            argv[2..]
                .iter()
                .map(|sha| {
                    let sha = String::from_utf8_lossy(sha).to_ascii_lowercase();
                    Reply::Int(cache.contains(&sha) as i64)
                })
                .collect(),
        )
    } else if is(sub, "flush") && argv.len() <= 3 {
        if let Some(mode) = argv.get(2) {
            if !is(mode, "sync") && !is(mode, "async") {
                return Reply::error("ERR SCRIPT FLUSH only support SYNC|ASYNC option");
            }
        }
        cache.flush();
        Reply::ok()
    } else if is(sub, "kill") && argv.len() == 2 {
        Reply::error("NOTBUSY No scripts in execution right now.")
    } else if is(sub, "help") && argv.len() == 2 {
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
            ]
            .iter()
            .map(|l| Reply::Status((*l).into()))
            .collect(),
        )
    } else if ["load", "exists", "flush", "kill", "help"]
        .iter()
        .any(|n| is(sub, n))
    {
        Reply::error(format!(
            "ERR wrong number of arguments for 'script|{}' command",
            String::from_utf8_lossy(sub).to_ascii_lowercase()
        ))
    } else {
        Reply::error(errors::unknown_subcommand(sub, "script"))
    }
}
