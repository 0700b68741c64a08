//! Conversions between command replies and Lua values, exactly as the
//! Redis 7 documentation of EVAL states ("Conversion between Lua and Redis
//! data types"), for RESP2 and RESP3 (after `redis.setresp(3)`).

use bytes::Bytes;
use std::ffi::c_int;

use mlua::{ffi, Table, Value};

use crate::config::MAX_SCRIPT_REPLY_DEPTH;
use crate::protocol::Reply;
use crate::util::numbers::format_double_g17;

/// Pushes a command's reply as the script sees it. `resp3` is the
/// protocol the script chose with `redis.setresp` (2 by default).
///
/// # Safety
/// `state` is a live Lua state inside a protected call (a script's
/// coroutine): pushing can raise an out-of-memory error, and the stack
/// grows as needed (`lua_rawcheckstack`, which raises too). Lengths
/// beyond a C int (a reply of 2^31 elements) would only index wrongly.
pub unsafe fn push_reply(state: *mut ffi::lua_State, reply: &Reply, resp3: bool) {
    ffi::lua_rawcheckstack(state, 3);
    match reply {
        Reply::Status(s) => field_table(state, c"ok", |state| push_bytes(state, s.as_bytes())),
        Reply::Error(e) => field_table(state, c"err", |state| push_bytes(state, e.as_bytes())),
        Reply::Int(n) => ffi::lua_pushnumber(state, *n as f64),
        Reply::Bulk(b) => push_bytes(state, b),
        Reply::Nil | Reply::NilArray if resp3 => ffi::lua_pushnil(state),
        Reply::NoReply => ffi::lua_pushnil(state),
        Reply::Nil | Reply::NilArray => ffi::lua_pushboolean(state, 0),
        // Scripts cannot subscribe (NOSCRIPT): pushes and sequences
        // never reach them, but would read as arrays.
        Reply::Array(items) | Reply::Push(items) | Reply::Sequence(items) => {
            sequence(state, items, resp3)
        }
        Reply::Set(items) if resp3 => field_table(state, c"set", |state| {
            ffi::lua_createtable(state, 0, items.len() as c_int);
            for item in items {
                push_reply(state, item, resp3);
                ffi::lua_pushboolean(state, 1);
                ffi::lua_rawset(state, -3);
            }
        }),
        Reply::Set(items) => sequence(state, items, resp3),
        Reply::Map(pairs) if resp3 => field_table(state, c"map", |state| {
            ffi::lua_createtable(state, 0, pairs.len() as c_int);
            for (k, v) in pairs {
                push_reply(state, k, resp3);
                push_reply(state, v, resp3);
                ffi::lua_rawset(state, -3);
            }
        }),
        Reply::Map(pairs) => {
            ffi::lua_createtable(state, (pairs.len() * 2) as c_int, 0);
            for (i, (k, v)) in pairs.iter().enumerate() {
                push_reply(state, k, resp3);
                ffi::lua_rawseti_(state, -2, (2 * i + 1) as c_int);
                push_reply(state, v, resp3);
                ffi::lua_rawseti_(state, -2, (2 * i + 2) as c_int);
            }
        }
        Reply::Double(d) if resp3 => {
            field_table(state, c"double", |state| ffi::lua_pushnumber(state, *d))
        }
        Reply::Double(d) => push_bytes(state, format_double_g17(*d).as_bytes()),
        Reply::Bool(b) if resp3 => ffi::lua_pushboolean(state, c_int::from(*b)),
        Reply::Bool(b) => ffi::lua_pushnumber(state, f64::from(u8::from(*b))),
        Reply::Verbatim(format, text) if resp3 => field_table(state, c"verbatim_string", |state| {
            ffi::lua_createtable(state, 0, 2);
            push_bytes(state, format.as_bytes());
            ffi::lua_rawsetfield(state, -2, c"format".as_ptr());
            push_bytes(state, text);
            ffi::lua_rawsetfield(state, -2, c"string".as_ptr());
        }),
        Reply::Verbatim(_, text) => push_bytes(state, text),
        Reply::BigNumber(digits) if resp3 => {
            field_table(state, c"big_number", |state| push_bytes(state, digits))
        }
        Reply::BigNumber(digits) => push_bytes(state, digits),
    }
}

unsafe fn push_bytes(state: *mut ffi::lua_State, bytes: &[u8]) {
    ffi::lua_pushlstring(state, bytes.as_ptr().cast(), bytes.len());
}

/// An array of the items' values.
unsafe fn sequence(state: *mut ffi::lua_State, items: &[Reply], resp3: bool) {
    ffi::lua_createtable(state, items.len() as c_int, 0);
    for (i, item) in items.iter().enumerate() {
        push_reply(state, item, resp3);
        ffi::lua_rawseti_(state, -2, i as c_int + 1);
    }
}

/// `{name = value}`, the value pushed by `value`.
unsafe fn field_table(
    state: *mut ffi::lua_State,
    name: &std::ffi::CStr,
    value: impl FnOnce(*mut ffi::lua_State),
) {
    ffi::lua_createtable(state, 0, 1);
    value(state);
    ffi::lua_rawsetfield(state, -2, name.as_ptr());
}

/// A script's return value as the client's reply. `script_resp3` is the
/// protocol the script chose with `redis.setresp`: booleans become RESP3
/// booleans only then (as in Redis); everything else the client's encoder
/// adapts to the client's protocol.
pub fn lua_to_reply(value: &Value, script_resp3: bool) -> Reply {
    to_reply(value, script_resp3, 0)
}

fn to_reply(value: &Value, resp3: bool, depth: usize) -> Reply {
    if depth > MAX_SCRIPT_REPLY_DEPTH {
        return Reply::error("ERR reached lua stack limit");
    }
    match value {
        Value::Nil => Reply::Nil,
        Value::Boolean(true) if resp3 => Reply::Bool(true),
        Value::Boolean(true) => Reply::Int(1),
        Value::Boolean(false) if resp3 => Reply::Bool(false),
        Value::Boolean(false) => Reply::Nil,
        Value::Integer(n) => Reply::Int(*n),
        Value::Number(n) => Reply::Int(truncate(*n)),
        Value::String(s) => Reply::Bulk(Bytes::copy_from_slice(&s.as_bytes())),
        Value::Table(t) => table_to_reply(t, resp3, depth),
        Value::Error(e) => Reply::error(format!("ERR {e}")),
        _ => Reply::Nil,
    }
}

/// Lua numbers are doubles; Redis converts them to integers with a C cast,
/// which on x86-64 truncates and gives i64::MIN for NaN and out-of-range.
fn truncate(n: f64) -> i64 {
    const LIMIT: f64 = 9_223_372_036_854_775_808.0; // 2^63
    if n.is_nan() || !(-LIMIT..LIMIT).contains(&n) {
        i64::MIN
    } else {
        n as i64
    }
}

fn table_to_reply(t: &Table, resp3: bool, depth: usize) -> Reply {
    // The special one-field tables come first, as in Redis.
    // Redis reads both as C strings (up to a NUL), and trims the line
    // ends an error text ends with.
    if let Ok(Value::String(err)) = t.raw_get::<Value>("err") {
        let bytes = err.as_bytes();
        let text = crate::lua::libs::c_str(&bytes);
        let end = text
            .iter()
            .rposition(|&c| c != b'\r' && c != b'\n')
            .map_or(0, |i| i + 1);
        return Reply::Error(String::from_utf8_lossy(&text[..end]).into_owned().into());
    }
    if let Ok(Value::String(ok)) = t.raw_get::<Value>("ok") {
        let bytes = ok.as_bytes();
        let text = crate::lua::libs::c_str(&bytes);
        return Reply::Status(String::from_utf8_lossy(text).into_owned().into());
    }
    if let Ok(Value::Number(d)) = t.raw_get::<Value>("double") {
        return Reply::Double(d);
    }
    if let Ok(Value::Table(map)) = t.raw_get::<Value>("map") {
        let mut pairs = Vec::new();
        for (k, v) in map.pairs::<Value, Value>().flatten() {
            pairs.push((
                to_reply(&k, resp3, depth + 1),
                to_reply(&v, resp3, depth + 1),
            ));
        }
        return Reply::Map(pairs);
    }
    if let Ok(Value::Table(set)) = t.raw_get::<Value>("set") {
        let items = set
            .pairs::<Value, Value>()
            .flatten()
            .map(|(k, _)| to_reply(&k, resp3, depth + 1));
        return Reply::Set(items.collect());
    }
    if let Ok(Value::String(digits)) = t.raw_get::<Value>("big_number") {
        return Reply::BigNumber(Bytes::copy_from_slice(&digits.as_bytes()));
    }
    if let Ok(Value::Table(v)) = t.raw_get::<Value>("verbatim_string") {
        if let (Ok(Value::String(format)), Ok(Value::String(text))) =
            (v.raw_get::<Value>("format"), v.raw_get::<Value>("string"))
        {
            let format: &'static str = match &*format.as_bytes() {
                b"txt" => "txt",
                b"mkd" => "mkd",
                _ => "txt",
            };
            return Reply::Verbatim(format, Bytes::copy_from_slice(&text.as_bytes()));
        }
    }
    // An array: elements 1, 2, ... up to the first nil.
    let mut items = Vec::new();
    for i in 1.. {
        match t.raw_get::<Value>(i) {
            Ok(Value::Nil) | Err(_) => break,
            Ok(v) => items.push(to_reply(&v, resp3, depth + 1)),
        }
    }
    Reply::Array(items)
}
