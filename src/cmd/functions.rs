//! Redis 7 functions: FCALL and FCALL_RO, and FUNCTION (LOAD DELETE FLUSH
//! LIST DUMP RESTORE STATS KILL HELP).
//!
//! Libraries are node-wide (`Node::functions`). A function runs like a
//! script: on the shard that owns its declared keys (CROSSSLOT when they
//! span shards), in that core's VM, which first loads the libraries it has
//! not seen yet.
//!
//! Every change of the libraries (LOAD, DELETE, FLUSH, RESTORE) is made on
//! core 0, whatever the connection's core (it is sent there over the mesh,
//! see `CoreAccess::change_functions`), and logged there in the same step,
//! as the command itself, in shard 0's append-only log: one thread applies
//! and logs every change, so the log's order is the order the registry
//! applied them in, with no node-wide sequence to keep. Replaying the log
//! at start runs the same commands through [`apply`].

use std::collections::HashSet;
use std::rc::Rc;

use bytes::Bytes;

use super::flags::*;
use super::{command, is, Call, Command, ConnCtx, ConnFuture, CoreAccess, ScriptFuture};
use crate::lua::engine::RunState;
use crate::lua::functions::{self, Library, RestorePolicy};
use crate::lua::run::Job;
use crate::lua::status::{kill_busy, Kind, Phase, BUSY_EVAL};
use crate::lua::ScriptHost;
use crate::protocol::Reply;
use crate::util::glob::glob_match;
use crate::util::numbers::parse_i64;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("fcall",    -3, NOSCRIPT | STALE)           .numkeys(2).script(fcall),
    command("fcall_ro", -3, NOSCRIPT | STALE | READONLY).numkeys(2).script(fcall_ro),
    command("function", -2, 0)                          .subcommands(FUNCTION).container(),
];

/// FUNCTION's subcommands.
#[rustfmt::skip]
const FUNCTION: &[Command] = &[
    command("function|delete",  3,  WRITE | NOSCRIPT)          .connection_waits(function_change),
    command("function|dump",    2,  NOSCRIPT)                  .connection(function_dump),
    command("function|flush",   -2, WRITE | NOSCRIPT)          .connection_waits(function_change),
    command("function|help",    2,  LOADING | STALE)           .connection(function_help),
    command("function|kill",    2,  NOSCRIPT | ALLOW_BUSY)     .connection(function_kill),
    command("function|list",    -2, NOSCRIPT)                  .connection(function_list),
    command("function|load",    -3, WRITE | DENYOOM | NOSCRIPT).connection_waits(function_change),
    command("function|restore", -3, WRITE | DENYOOM | NOSCRIPT).connection_waits(function_change),
    command("function|stats",   2,  NOSCRIPT | ALLOW_BUSY)     .connection(function_stats),
];

/// FCALL function numkeys [key ...] [arg ...]
fn fcall(core: Rc<dyn ScriptHost>, call: Call, now_ms: u64) -> ScriptFuture {
    Box::pin(run(core, call, now_ms, false))
}

/// FCALL_RO function numkeys [key ...] [arg ...]: only `no-writes` functions.
fn fcall_ro(core: Rc<dyn ScriptHost>, call: Call, now_ms: u64) -> ScriptFuture {
    Box::pin(run(core, call, now_ms, true))
}

async fn run(core: Rc<dyn ScriptHost>, call: Call, now_ms: u64, read_only: bool) -> Reply {
    let argv = &call.argv;
    let engine = core.engine();
    functions::sync(engine, core.functions());
    let Some(function) = engine.libraries.borrow().function(&argv[1]) else {
        return Reply::error("ERR Function not found");
    };
    let numkeys = match parse_i64(&argv[2]) {
        None => return Reply::error("ERR Bad number of keys provided"),
        Some(n) if n > (argv.len() - 3) as i64 => {
            return Reply::error("ERR Number of keys can't be greater than number of args")
        }
        Some(n) if n < 0 => return Reply::error("ERR Number of keys can't be negative"),
        Some(n) => n as usize,
    };
    let flags = crate::lua::engine::ScriptFlags {
        declared: true,
        ..function.flags
    };
    if let Some(refused) = core.refuses_script(&flags) {
        return Reply::error(refused);
    }
    if read_only && !function.flags.no_writes {
        return Reply::error("ERR Can not execute a script with write flag using *_ro command.");
    }
    let (keys, args) = argv[3..].split_at(numkeys);
    let job = Job {
        kind: Kind::Function,
        name: &function.name,
        function: function.callback.clone(),
        keys,
        args,
        state: RunState {
            db: call.db,
            now_ms,
            read_only: function.flags.no_writes,
            ..RunState::default()
        },
    };
    crate::lua::run::run(core, job).await
}

/// FUNCTION LOAD, DELETE, FLUSH, RESTORE: made (and logged) on core 0.
fn function_change<'a>(ctx: &'a mut ConnCtx<'_>, argv: &'a [Bytes]) -> ConnFuture<'a> {
    ctx.core.change_functions(argv)
}

/// Applies a change of the libraries (FUNCTION LOAD, DELETE, FLUSH or
/// RESTORE; `argv` is the whole command) on this core: its VM checks the
/// code. Core 0 calls it with its shard free (LOAD and RESTORE run library
/// code in the VM, not while a script is suspended in it), and so does the
/// log's replay at start.
pub fn apply(core: &dyn CoreAccess, argv: &[Bytes]) -> Reply {
    match argv.get(1) {
        Some(sub) if is(sub, "load") => load(core, argv),
        Some(sub) if is(sub, "restore") => restore(core, argv),
        Some(sub) if is(sub, "delete") => delete(core, argv),
        Some(sub) if is(sub, "flush") => flush(core, argv),
        _ => Reply::error("ERR not a change of the function libraries"),
    }
}

/// FUNCTION DELETE library-name
fn delete(core: &dyn CoreAccess, argv: &[Bytes]) -> Reply {
    let registry = core.functions();
    let deleted = argv
        .get(2)
        .is_some_and(|lib| std::str::from_utf8(lib).is_ok_and(|lib| registry.delete(lib)));
    if deleted {
        Reply::ok()
    } else {
        Reply::error("ERR Library not found")
    }
}

/// FUNCTION FLUSH [ASYNC|SYNC]
fn flush(core: &dyn CoreAccess, argv: &[Bytes]) -> Reply {
    match argv {
        [_, _] => {}
        [_, _, mode] if is(mode, "sync") || is(mode, "async") => {}
        [_, _, _] => return Reply::error("ERR FUNCTION FLUSH only supports SYNC|ASYNC option"),
        _ => return syntax_error(&argv[1]),
    }
    core.functions().flush();
    Reply::ok()
}

fn function_list(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    list(ctx.core, argv)
}

fn function_dump(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Bulk(Bytes::from(ctx.core.functions().dump()))
}

fn function_stats(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    stats(ctx.core)
}

fn function_kill(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    match kill_busy(&ctx.core.node().script_status, Kind::Function) {
        Ok(()) => Reply::ok(),
        Err(e) => Reply::error(e),
    }
}

/// `unknown subcommand or wrong number of arguments for 'FLUSH'...`
fn syntax_error(sub: &[u8]) -> Reply {
    let sub = String::from_utf8_lossy(&sub[..sub.len().min(128)]);
    Reply::error(format!(
        "ERR unknown subcommand or wrong number of arguments for '{sub}'. Try FUNCTION HELP."
    ))
}

/// FUNCTION LOAD [REPLACE] code
fn load(core: &dyn CoreAccess, argv: &[Bytes]) -> Reply {
    let Some((code, options)) = argv.get(2..).and_then(|rest| rest.split_last()) else {
        return syntax_error(&argv[1]);
    };
    let mut replace = false;
    for option in options {
        if !is(option, "replace") {
            return Reply::error(format!(
                "ERR Unknown option given: {}",
                String::from_utf8_lossy(option)
            ));
        }
        replace = true;
    }
    let registry = core.functions();
    let (name, body_at) = match functions::parse_metadata(code) {
        Ok(parsed) => parsed,
        Err(e) => return e,
    };
    // Checked before running the code, as Redis does (and again when added).
    if !replace && registry.contains(&name) {
        return Reply::error(format!("ERR Library '{name}' already exists"));
    }
    let lib = match functions::build(core.engine(), name, code.clone(), body_at) {
        Ok(lib) => lib,
        Err(e) => return e,
    };
    let name = Reply::bulk(lib.name.as_bytes());
    match registry.load(lib, replace) {
        Ok(()) => name,
        Err(e) => e,
    }
}

/// FUNCTION LIST [WITHCODE] [LIBRARYNAME pattern]: an array of maps.
fn list(core: &dyn CoreAccess, argv: &[Bytes]) -> Reply {
    let mut with_code = false;
    let mut pattern: Option<&Bytes> = None;
    let mut i = 2;
    while i < argv.len() {
        let arg = &argv[i];
        if !with_code && is(arg, "withcode") {
            with_code = true;
        } else if pattern.is_none() && is(arg, "libraryname") {
            let Some(p) = argv.get(i + 1) else {
                return Reply::error("ERR library name argument was not given");
            };
            pattern = Some(p);
            i += 1;
        } else {
            return Reply::error(format!(
                "ERR Unknown argument {}",
                String::from_utf8_lossy(arg)
            ));
        }
        i += 1;
    }
    let text = |s: &'static str| Reply::bulk(s.as_bytes());
    let libraries = core.functions().libraries();
    let listed = libraries
        .iter()
        // Library names are never empty, so the matcher can see "*".
        .filter(|lib| pattern.is_none_or(|p| glob_match(p, lib.name.as_bytes(), true)))
        .map(|lib| {
            let mut fields = vec![
                (text("library_name"), Reply::bulk(lib.name.as_bytes())),
                (text("engine"), text("LUA")),
                (
                    text("functions"),
                    Reply::Array(lib.functions.iter().map(describe).collect()),
                ),
            ];
            if with_code {
                fields.push((text("library_code"), Reply::Bulk(lib.code.clone())));
            }
            Reply::Map(fields)
        })
        .collect();
    Reply::Array(listed)
}

/// One function of FUNCTION LIST: name, description, flags.
fn describe(f: &functions::FunctionInfo) -> Reply {
    let flags = [
        (f.flags.no_writes, "no-writes"),
        (f.flags.allow_oom, "allow-oom"),
        (f.flags.allow_stale, "allow-stale"),
        (f.flags.no_cluster, "no-cluster"),
        (f.flags.allow_cross_slot_keys, "allow-cross-slot-keys"),
    ];
    Reply::Map(vec![
        (Reply::bulk(b"name"), Reply::bulk(f.name.as_bytes())),
        (
            Reply::bulk(b"description"),
            f.description.clone().map_or(Reply::Nil, Reply::Bulk),
        ),
        (
            Reply::bulk(b"flags"),
            Reply::Set(
                flags
                    .iter()
                    .filter(|(set, _)| *set)
                    .map(|(_, name)| Reply::status(name))
                    .collect(),
            ),
        ),
    ])
}

/// FUNCTION RESTORE payload [FLUSH|APPEND|REPLACE]
fn restore(core: &dyn CoreAccess, argv: &[Bytes]) -> Reply {
    if !(3..=4).contains(&argv.len()) {
        return syntax_error(&argv[1]);
    }
    let policy =
        match argv.get(3) {
            None => RestorePolicy::Append,
            Some(p) if is(p, "append") => RestorePolicy::Append,
            Some(p) if is(p, "replace") => RestorePolicy::Replace,
            Some(p) if is(p, "flush") => RestorePolicy::Flush,
            Some(_) => return Reply::error(
                "ERR Wrong restore policy given, value should be either FLUSH, APPEND or REPLACE.",
            ),
        };
    let codes = match functions::parse_payload(&argv[2]) {
        Ok(codes) => codes,
        Err(e) => return e,
    };
    // The payload's libraries must make a valid set on their own.
    let mut libs: Vec<Library> = Vec::new();
    let mut function_names = HashSet::new();
    for code in codes {
        let (name, body_at) = match functions::parse_metadata(&code) {
            Ok(parsed) => parsed,
            Err(e) => return e,
        };
        if libs.iter().any(|l| l.name == name) {
            return Reply::error(format!("ERR Library '{name}' already exists"));
        }
        let lib = match functions::build(core.engine(), name, code, body_at) {
            Ok(lib) => lib,
            Err(e) => return e,
        };
        let lower: Vec<String> = lib
            .functions
            .iter()
            .map(|f| f.name.to_ascii_lowercase())
            .collect();
        if let Some(i) = lower.iter().position(|n| function_names.contains(n)) {
            return Reply::error(format!(
                "ERR Function {} already exists",
                lib.functions[i].name
            ));
        }
        function_names.extend(lower);
        libs.push(lib);
    }
    match core.functions().restore(libs, policy) {
        Ok(()) => Reply::ok(),
        Err(e) => e,
    }
}

/// FUNCTION STATS: the running function (the first shard's that runs
/// one), then the engines' library and function counts. Like Redis, it
/// answers BUSY while an EVAL script is busy and no function runs.
fn stats(core: &dyn CoreAccess) -> Reply {
    let now = crate::util::time::now_ms();
    let running: Vec<_> = core
        .node()
        .script_status
        .iter()
        .map(|s| s.report(now))
        .filter(|r| r.kind.is_some())
        .collect();
    let function = running.iter().find(|r| r.kind == Some(Kind::Function));
    if function.is_none() && running.iter().any(|r| r.phase == Phase::Busy) {
        return Reply::error(BUSY_EVAL);
    }
    let libraries = core.functions().libraries();
    let function_count: usize = libraries.iter().map(|l| l.functions.len()).sum();
    let text = |s: &'static str| Reply::bulk(s.as_bytes());
    let running_script = match function {
        Some(r) => Reply::Map(vec![
            (text("name"), Reply::bulk(r.name.as_bytes())),
            (
                text("command"),
                Reply::Array(vec![text("fcall"), Reply::bulk(r.name.as_bytes())]),
            ),
            (text("duration_ms"), Reply::Int(r.elapsed_ms as i64)),
        ]),
        None => Reply::Nil,
    };
    Reply::Map(vec![
        (text("running_script"), running_script),
        (
            text("engines"),
            Reply::Map(vec![(
                text("LUA"),
                Reply::Map(vec![
                    (text("libraries_count"), Reply::Int(libraries.len() as i64)),
                    (text("functions_count"), Reply::Int(function_count as i64)),
                ]),
            )]),
        ),
    ])
}

fn function_help(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Array(
        [
            "FUNCTION <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "LOAD [REPLACE] <FUNCTION CODE>",
            "    Create a new library with the given library name and code.",
            "DELETE <LIBRARY NAME>",
            "    Delete the given library.",
            "LIST [LIBRARYNAME PATTERN] [WITHCODE]",
            "    Return general information on all the libraries:",
            "    * Library name",
            "    * The engine used to run the Library",
            "    * Library description",
            "    * Functions list",
            "    * Library code (if WITHCODE is given)",
            "    It also possible to get only function that matches a pattern using LIBRARYNAME argument.",
            "STATS",
            "    Return information about the current function running:",
            "    * Function name",
            "    * Command used to run the function",
            "    * Duration in MS that the function is running",
            "    If no function is running, return nil",
            "    In addition, returns a list of available engines.",
            "KILL",
            "    Kill the current running function.",
            "FLUSH [ASYNC|SYNC]",
            "    Delete all the libraries.",
            "    When called without the optional mode argument, the behavior is determined by the",
            "    lazyfree-lazy-user-flush configuration directive. Valid modes are:",
            "    * ASYNC: Asynchronously flush the libraries.",
            "    * SYNC: Synchronously flush the libraries.",
            "DUMP",
            "    Return a serialized payload representing the current libraries, can be restored using FUNCTION RESTORE command",
            "RESTORE <PAYLOAD> [FLUSH|APPEND|REPLACE]",
            "    Restore the libraries represented by the given payload, it is possible to give a restore policy to",
            "    control how to handle existing libraries (default APPEND):",
            "    * FLUSH: delete all existing libraries.",
            "    * APPEND: appends the restored libraries to the existing libraries. On collision, abort.",
            "    * REPLACE: appends the restored libraries to the existing libraries, On collision, replace the old",
            "      libraries with the new libraries (notice that even on this option there is a chance of failure",
            "      in case of functions name collision with another library).",
            "HELP",
            "    Prints this help.",
        ]
        .iter()
        .map(|l| Reply::Status((*l).into()))
        .collect(),
    )
}
