//! The `redis` object scripts see: `redis.call` / `redis.pcall` (the raw
//! C bridge `call_c`), replies, logging, RESP version, and the constants.
//! `redis.call` hands its arguments to the shard through
//! [`ScriptHost::call`](super::ScriptHost::call), which checks and runs
//! them as it runs a client's.

use std::ffi::c_int;

use bytes::{Bytes, BytesMut};
use mlua::{ffi, Function, Lua, MultiValue, Table, Value};

use super::convert::push_reply;
use super::Killed;
use crate::protocol::Reply;
use crate::util::numbers::format_double_g17;

const LOG_LEVELS: [(&str, i64); 4] = [
    ("LOG_DEBUG", 0),
    ("LOG_VERBOSE", 1),
    ("LOG_NOTICE", 2),
    ("LOG_WARNING", 3),
];
const REPL_FLAGS: [(&str, i64); 5] = [
    ("REPL_NONE", 0),
    ("REPL_AOF", 1),
    ("REPL_SLAVE", 2),
    ("REPL_REPLICA", 2),
    ("REPL_ALL", 3),
];

/// `redis.*` except `call` and `pcall`, which the prelude adds.
pub fn redis_table(lua: &Lua) -> mlua::Result<Table> {
    let redis = lua.create_table()?;
    redis.raw_set(
        "sha1hex",
        lua.create_function(|_, s: mlua::LuaString| Ok(super::cache::sha1_hex(&s.as_bytes())))?,
    )?;
    redis.raw_set(
        "error_reply",
        lua.create_function(|lua, args: MultiValue| match single_string(&args) {
            Some(s) => {
                let text = error_reply_text(&s.as_bytes());
                one_field(lua, "err", lua.create_string(text)?)
            }
            None => wrong_arguments(lua),
        })?,
    )?;
    redis.raw_set(
        "status_reply",
        lua.create_function(|lua, args: MultiValue| match single_string(&args) {
            Some(s) => one_field(lua, "ok", s.clone()),
            None => wrong_arguments(lua),
        })?,
    )?;
    redis.raw_set(
        "log",
        lua.create_function(|_, args: MultiValue| {
            let mut args = args.into_iter();
            let level = match args.next() {
                Some(Value::Number(n)) => n as i64,
                Some(Value::Integer(n)) => n,
                _ => {
                    return Err(mlua::Error::runtime(
                        "First argument must be a number (log level).",
                    ))
                }
            };
            if !(0..=3).contains(&level) {
                return Err(mlua::Error::runtime("Invalid debug level."));
            }
            let text: Vec<String> = args
                .map(|v| match v {
                    Value::String(s) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                    other => format!("{other:?}"),
                })
                .collect();
            if level >= 2 {
                eprintln!("script: {}", text.join(" "));
            }
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "setresp",
        lua.create_function(|_, version: Value| {
            let v = match version {
                Value::Number(n) => n as i64,
                Value::Integer(n) => n,
                _ => 0,
            };
            if v != 2 && v != 3 {
                return Err(mlua::Error::runtime("RESP version must be 2 or 3."));
            }
            // Only a running script reaches `redis` (as for redis.call).
            if let Some(core) = super::interrupt::running_host() {
                let mut state = core.engine().run.get();
                state.resp3 = v == 3;
                core.engine().run.set(state);
            }
            Ok(())
        })?,
    )?;
    redis.raw_set(
        "set_repl",
        lua.create_function(|_, flags: Value| match flags {
            Value::Number(n) if (0.0..=3.0).contains(&n) => Ok(()),
            Value::Integer(n) if (0..=3).contains(&n) => Ok(()),
            _ => Err(mlua::Error::runtime(
                "Invalid replication flags. Use REPL_AOF, REPL_REPLICA, REPL_ALL or REPL_NONE.",
            )),
        })?,
    )?;
    redis.raw_set("replicate_commands", lua.create_function(|_, ()| Ok(true))?)?;
    for (name, level) in LOG_LEVELS.into_iter().chain(REPL_FLAGS) {
        redis.raw_set(name, level)?;
    }
    redis.raw_set("REDIS_VERSION", crate::REDIS_VERSION)?;
    redis.raw_set("REDIS_VERSION_NUM", redis_version_num())?;
    Ok(redis)
}

/// `7.0.15` -> 0x07000f, as Redis encodes it.
fn redis_version_num() -> i64 {
    crate::REDIS_VERSION
        .split('.')
        .map(|p| p.parse::<i64>().unwrap_or(0))
        .fold(0, |acc, p| (acc << 8) | p)
}

fn one_field(lua: &Lua, name: &str, s: mlua::LuaString) -> mlua::Result<Table> {
    let t = lua.create_table()?;
    t.raw_set(name, s)?;
    Ok(t)
}

/// The one argument of `redis.error_reply` / `status_reply`, when there is
/// exactly one and it is a string (Redis takes no number here).
fn single_string(args: &MultiValue) -> Option<&mlua::LuaString> {
    match (args.len(), args.front()) {
        (1, Some(Value::String(s))) => Some(s),
        _ => None,
    }
}

/// What Redis returns (not raises) for bad arguments to the two.
fn wrong_arguments(lua: &Lua) -> mlua::Result<Table> {
    one_field(
        lua,
        "err",
        lua.create_string("ERR wrong number or type of arguments")?,
    )
}

/// `redis.error_reply`'s error text, as Redis 7.0 builds it
/// (`luaRedisErrorReplyCommand`, then `luaPushErrorBuff`): the C string
/// (up to a NUL) with a leading `-` dropped; the first word is the error
/// code, or `ERR` is put in front when there is no space; the message
/// after the code loses leading and trailing CR/LF.
fn error_reply_text(s: &[u8]) -> Vec<u8> {
    let s = super::libs::c_str(s);
    let body = s.strip_prefix(b"-").unwrap_or(s);
    let (code, msg): (&[u8], &[u8]) = match body.iter().position(|&c| c == b' ') {
        Some(i) => (&body[..i], &body[i + 1..]),
        None => (b"ERR", body),
    };
    let is_crlf = |c: &u8| *c == b'\r' || *c == b'\n';
    let start = msg.iter().position(|c| !is_crlf(c)).unwrap_or(msg.len());
    let end = msg
        .iter()
        .rposition(|c| !is_crlf(c))
        .map_or(start, |i| i + 1);
    let mut text = Vec::with_capacity(code.len() + 1 + end - start);
    text.extend_from_slice(code);
    text.push(b' ');
    text.extend_from_slice(&msg[start..end]);
    text
}

/// `bridge(raise)`: makes `redis.call` (`raise` is the prelude's function
/// that raises a failed call's error table) or `redis.pcall` (`raise` is
/// false, and the error table is returned).
pub fn bridge(lua: &Lua) -> mlua::Result<Function> {
    // SAFETY: `bridge_c` follows the lua_CFunction protocol (see there).
    unsafe { lua.create_c_function(bridge_c) }
}

/// # Safety
/// A lua_CFunction: Luau calls it with its argument at index 1 and at
/// least `LUA_MINSTACK` free slots; lua_pushcclosurek pops that argument
/// into the closure's one upvalue (it can raise out of memory, through a
/// frame that owns nothing with a destructor).
unsafe extern "C-unwind" fn bridge_c(state: *mut ffi::lua_State) -> c_int {
    ffi::lua_settop(state, 1);
    ffi::lua_pushcclosurek(state, call_c, c"redis.call".as_ptr(), 1, None);
    1
}

/// `redis.call(...)` / `redis.pcall(...)`: runs one command for the
/// running script and returns its reply; a failed command's reply is an
/// `{err=...}` table, which `redis.call` raises (through the function in
/// its upvalue) and `redis.pcall` returns. A raw C function, not an mlua
/// callback: this is every script's hot path, and it reads its arguments
/// off the stack and pushes the reply onto it without a protected call, a
/// value reference or a closure per call.
///
/// # Safety
/// Luau calls it with the script's coroutine, its arguments on the stack
/// and at least `LUA_MINSTACK` free slots; its upvalue is what `bridge`
/// gave it. Reading the arguments and running the command call no Lua
/// function that can raise an error, and any panic there is caught before
/// it can reach Luau's C++ frames. Pushing the reply can raise (out of
/// memory under the VM's limit): Luau's C++ exception then unwinds through
/// this `C-unwind` frame, which Rust defines (with `panic = unwind`, the
/// profile's setting): `reply` is dropped on the way, and nothing here
/// catches the exception. The kill and a failed call's error are raised
/// only after every Rust value of the frame is gone.
unsafe extern "C-unwind" fn call_c(state: *mut ffi::lua_State) -> c_int {
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let Some(host) = super::interrupt::running_host() else {
            return Ok((Reply::error("ERR redis.call outside of a script"), false));
        };
        let resp3 = host.engine().run.get().resp3;
        // SAFETY: `state` is the live state Luau called us with.
        match unsafe { call_arguments(state) } {
            Ok(argv) => host.call(argv).map(|reply| (reply, resp3)),
            Err(reply) => Ok((reply, resp3)),
        }
    }))
    .unwrap_or_else(|_| Ok((Reply::error("ERR internal error in redis.call"), false)));
    let failed = match outcome {
        Ok((reply, resp3)) => {
            push_reply(state, &reply, resp3);
            reply.is_error()
        }
        Err(Killed) => {
            ffi::lua_pushlstring(
                state,
                super::interrupt::KILLED_MARKER.as_ptr().cast(),
                super::interrupt::KILLED_MARKER.len(),
            );
            ffi::lua_error(state)
        }
    };
    let raise = ffi::lua_upvalueindex(1);
    if failed && ffi::lua_type(state, raise) == ffi::LUA_TFUNCTION {
        // raise(reply): does not return.
        ffi::lua_pushvalue(state, raise);
        ffi::lua_insert(state, -2);
        ffi::lua_call(state, 1, 0);
    }
    1
}

/// The arguments of a `redis.call` (the whole stack) as a command's argv,
/// or the error reply Redis gives for none or for one that is neither a
/// string nor a number.
///
/// # Safety
/// `state` is a live Lua state; nothing here can raise a Lua error
/// (`lua_tolstring` of a string returns its bytes without converting).
unsafe fn call_arguments(state: *mut ffi::lua_State) -> Result<Vec<Bytes>, Reply> {
    let count = ffi::lua_gettop(state);
    if count == 0 {
        return Err(Reply::error(
            "ERR Please specify at least one argument for this redis lib call",
        ));
    }
    // One buffer for all the arguments, each a part split off it (one
    // allocation, where a copy each would be one per argument). Room for
    // every argument first, so the buffer never moves: a number's text
    // takes at most 24 bytes.
    let mut room = 0;
    for i in 1..=count {
        room += match ffi::lua_type(state, i) {
            ffi::LUA_TSTRING => string_at(state, i).len(),
            ffi::LUA_TNUMBER => 24,
            _ => {
                return Err(Reply::error(
                    "ERR Lua redis lib command arguments must be strings or integers",
                ))
            }
        };
    }
    let mut text = BytesMut::with_capacity(room);
    let mut argv = Vec::with_capacity(count as usize);
    for i in 1..=count {
        if ffi::lua_type(state, i) == ffi::LUA_TSTRING {
            text.extend_from_slice(string_at(state, i));
        } else {
            write_number(&mut text, ffi::lua_tonumber(state, i));
        }
        argv.push(text.split().freeze());
    }
    Ok(argv)
}

/// The bytes of the string at `index`.
///
/// # Safety
/// The value at `index` is a string; the slice lives as long as it stays
/// on the stack (the caller copies it before returning to Lua).
unsafe fn string_at<'a>(state: *mut ffi::lua_State, index: c_int) -> &'a [u8] {
    let mut len = 0;
    let ptr = ffi::lua_tolstring(state, index, &mut len);
    if ptr.is_null() {
        return &[];
    }
    std::slice::from_raw_parts(ptr.cast(), len)
}

/// A Lua number as a command argument, in `%.17g` as Redis writes it
/// (`fpconv_dtoa`): `5`, `0.10000000000000001`, `-9.2233720368547758e+18`.
fn write_number(text: &mut BytesMut, n: f64) {
    text.extend_from_slice(format_double_g17(n).as_bytes());
}
