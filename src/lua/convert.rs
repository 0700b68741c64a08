//! Conversions between command replies and Lua values, exactly as the
//! Redis 7 documentation of EVAL states ("Conversion between Lua and Redis
//! data types"), for RESP2 and RESP3 (after `redis.setresp(3)`).

use bytes::Bytes;
use mlua::{Lua, Table, Value};

use crate::config::MAX_SCRIPT_REPLY_DEPTH;
use crate::protocol::Reply;
use crate::util::numbers::format_double_g17;

/// A command's reply as the script sees it. `resp3` is the protocol the
/// script chose with `redis.setresp` (2 by default).
pub fn reply_to_lua(lua: &Lua, reply: &Reply, resp3: bool) -> mlua::Result<Value> {
    Ok(match reply {
        Reply::Status(s) => Value::Table(field_table(
            lua,
            "ok",
            Value::String(lua.create_string(s.as_bytes())?),
        )?),
        Reply::Error(e) => Value::Table(field_table(
            lua,
            "err",
            Value::String(lua.create_string(e.as_bytes())?),
        )?),
        Reply::Int(n) => Value::Number(*n as f64),
        Reply::Bulk(b) => Value::String(lua.create_string(b)?),
        Reply::Nil | Reply::NilArray if resp3 => Value::Nil,
        Reply::Nil | Reply::NilArray => Value::Boolean(false),
        Reply::NoReply => Value::Nil,
        Reply::Array(items) => Value::Table(sequence(lua, items, resp3)?),
        Reply::Set(items) if resp3 => {
            let set = lua.create_table_with_capacity(0, items.len())?;
            for item in items {
                set.raw_set(reply_to_lua(lua, item, resp3)?, true)?;
            }
            Value::Table(field_table(lua, "set", Value::Table(set))?)
        }
        Reply::Set(items) => Value::Table(sequence(lua, items, resp3)?),
        Reply::Map(pairs) if resp3 => {
            let map = lua.create_table_with_capacity(0, pairs.len())?;
            for (k, v) in pairs {
                map.raw_set(reply_to_lua(lua, k, resp3)?, reply_to_lua(lua, v, resp3)?)?;
            }
            Value::Table(field_table(lua, "map", Value::Table(map))?)
        }
        Reply::Map(pairs) => {
            let flat = lua.create_table_with_capacity(pairs.len() * 2, 0)?;
            for (k, v) in pairs {
                flat.raw_push(reply_to_lua(lua, k, resp3)?)?;
                flat.raw_push(reply_to_lua(lua, v, resp3)?)?;
            }
            Value::Table(flat)
        }
        Reply::Double(d) if resp3 => Value::Table(field_table(lua, "double", Value::Number(*d))?),
        Reply::Double(d) => Value::String(lua.create_string(format_double_g17(*d))?),
        Reply::Bool(b) if resp3 => Value::Boolean(*b),
        Reply::Bool(b) => Value::Number(*b as i64 as f64),
        Reply::Verbatim(format, text) if resp3 => {
            let t = lua.create_table()?;
            t.raw_set("format", *format)?;
            t.raw_set("string", lua.create_string(text)?)?;
            Value::Table(field_table(lua, "verbatim_string", Value::Table(t))?)
        }
        Reply::Verbatim(_, text) => Value::String(lua.create_string(text)?),
        Reply::BigNumber(digits) if resp3 => Value::Table(field_table(
            lua,
            "big_number",
            Value::String(lua.create_string(digits)?),
        )?),
        Reply::BigNumber(digits) => Value::String(lua.create_string(digits)?),
    })
}

fn sequence(lua: &Lua, items: &[Reply], resp3: bool) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(items.len(), 0)?;
    for item in items {
        t.raw_push(reply_to_lua(lua, item, resp3)?)?;
    }
    Ok(t)
}

fn field_table(lua: &Lua, name: &str, value: Value) -> mlua::Result<Table> {
    let t = lua.create_table_with_capacity(0, 1)?;
    t.raw_set(name, value)?;
    Ok(t)
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
