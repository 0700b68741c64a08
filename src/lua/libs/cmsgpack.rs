//! `cmsgpack`: lua-cmsgpack 0.4.0 as Redis builds it for Lua 5.1.
//!
//! * `cmsgpack.pack(v1, ...)`: each argument packed and the results
//!   concatenated. A table whose keys are exactly 1..n is an array (the
//!   empty table included), any other a map; numbers that are whole and
//!   fit an int64 take the smallest integer encoding, others a float32 when
//!   that is exact, else a float64; strings use fixstr/str8/str16/str32;
//!   anything else (functions, `cjson.null`, ...) is nil. Tables nested 16
//!   deep are packed as nil, which is how cycles end.
//! * `cmsgpack.unpack(s)`: every value in `s`, as multiple results.
//! * `cmsgpack.unpack_one(s [, offset])` and
//!   `cmsgpack.unpack_limit(s, limit [, offset])`: the next offset (-1 at
//!   the end) followed by at most one / `limit` values.
//!
//! Errors keep the C texts: `Missing bytes in input.`, `Bad data format in
//! input.`, `table index is nil`, and the `stack overflow (...)` that Lua
//! 5.1's 8000-slot stack gives for too many results or too deep input
//! (counted here as the C code would use the stack). Decoding is
//! iterative, so deep input costs heap, not native stack.

use mlua::{Lua, MultiValue, Table, Value};

use super::{
    c_double_to_int, c_double_to_long, number_value, output_too_large, raise, stack_overflow, Args,
    Builder, LibError, LibResult, LUA_MAX_C_STACK, MAX_OUTPUT,
};

/// Tables nested deeper than this pack as nil.
const MAX_NESTING: usize = 16;

/// Registers the global `cmsgpack`.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let b = Builder::new(lua)?;
    let t = lua.create_table()?;
    t.set("pack", b.function("pack", pack)?)?;
    t.set(
        "unpack",
        b.function("unpack", |lua, args| {
            let data = args.check_bytes(1)?;
            unpack_full(lua, &data, 0, 0, args.len())
        })?,
    )?;
    t.set(
        "unpack_one",
        b.function("unpack_one", |lua, args| {
            let offset = args.opt_integer(2, 0)?;
            let data = args.check_bytes(1)?;
            unpack_full(lua, &data, 1, offset, 1)
        })?,
    )?;
    t.set(
        "unpack_limit",
        b.function("unpack_limit", |lua, args| {
            let limit = args.check_integer(2)?;
            let offset = args.opt_integer(3, 0)?;
            let data = args.check_bytes(1)?;
            unpack_full(lua, &data, limit, offset, 1)
        })?,
    )?;
    t.set("_NAME", "cmsgpack")?;
    t.set("_VERSION", "lua-cmsgpack 0.4.0")?;
    t.set("_COPYRIGHT", "Copyright (C) 2012, Salvatore Sanfilippo")?;
    t.set("_DESCRIPTION", "MessagePack C implementation for Lua")?;
    lua.globals().set("cmsgpack", t)
}

// ===== Packing =====

/// `mp_pack`.
fn pack(lua: &Lua, args: &Args) -> LibResult<MultiValue> {
    let n = args.len();
    if n == 0 {
        return Err(args.arg_error(0, "MessagePack pack needs input."));
    }
    // lua_checkstack(L, nargs) with the nargs arguments already there.
    if 2 * n > LUA_MAX_C_STACK {
        return Err(args.arg_error(0, "Too many arguments for MessagePack pack."));
    }
    let mut out = Vec::new();
    for i in 1..=n {
        encode(args.get(i).unwrap_or(&Value::Nil), 0, &mut out)?;
    }
    Ok(MultiValue::from_vec(vec![Value::String(
        lua.create_string(&out)?,
    )]))
}

/// `mp_encode_lua_type`.
fn encode(v: &Value, level: usize, out: &mut Vec<u8>) -> LibResult<()> {
    if out.len() > MAX_OUTPUT {
        return Err(output_too_large());
    }
    match v {
        Value::Table(t) if level < MAX_NESTING => encode_table(t, level, out)?,
        Value::String(s) => encode_bytes(&s.as_bytes(), out),
        Value::Boolean(b) => out.push(if *b { 0xc3 } else { 0xc2 }),
        v => match number_value(v) {
            Some(n) => encode_number(n, out),
            None => out.push(0xc0),
        },
    }
    Ok(())
}

fn encode_bytes(s: &[u8], out: &mut Vec<u8>) {
    let len = s.len();
    if len < 32 {
        out.push(0xa0 | len as u8);
    } else if len <= 0xff {
        out.extend_from_slice(&[0xd9, len as u8]);
    } else if len <= 0xffff {
        out.push(0xda);
        out.extend_from_slice(&(len as u16).to_be_bytes());
    } else {
        out.push(0xdb);
        out.extend_from_slice(&(len as u32).to_be_bytes());
    }
    out.extend_from_slice(s);
}

/// `mp_encode_lua_number`: an integer encoding when the double equals its
/// `(int64_t)` cast, else `mp_encode_double`.
fn encode_number(n: f64, out: &mut Vec<u8>) {
    let i = c_double_to_long(n);
    if !n.is_infinite() && i as f64 == n {
        encode_int(i, out);
    } else if f64::from(n as f32) == n {
        out.push(0xca);
        out.extend_from_slice(&(n as f32).to_be_bytes());
    } else {
        out.push(0xcb);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// `mp_encode_int`: the smallest of fixnum, uint 8/16/32/64 and int
/// 8/16/32/64.
fn encode_int(n: i64, out: &mut Vec<u8>) {
    if n >= 0 {
        if n <= 127 {
            out.push(n as u8);
        } else if n <= 0xff {
            out.extend_from_slice(&[0xcc, n as u8]);
        } else if n <= 0xffff {
            out.push(0xcd);
            out.extend_from_slice(&(n as u16).to_be_bytes());
        } else if n <= 0xffff_ffff {
            out.push(0xce);
            out.extend_from_slice(&(n as u32).to_be_bytes());
        } else {
            out.push(0xcf);
            out.extend_from_slice(&n.to_be_bytes());
        }
    } else if n >= -32 {
        out.push(n as i8 as u8);
    } else if n >= -128 {
        out.extend_from_slice(&[0xd0, n as i8 as u8]);
    } else if n >= -32768 {
        out.push(0xd1);
        out.extend_from_slice(&(n as i16).to_be_bytes());
    } else if n >= -2_147_483_648 {
        out.push(0xd2);
        out.extend_from_slice(&(n as i32).to_be_bytes());
    } else {
        out.push(0xd3);
        out.extend_from_slice(&n.to_be_bytes());
    }
}

/// Array or map header: fix form up to 15, then 16 or 32 bits.
fn encode_header(n: usize, fix: u8, code16: u8, out: &mut Vec<u8>) {
    if n <= 15 {
        out.push(fix | n as u8);
    } else if n <= 0xffff {
        out.push(code16);
        out.extend_from_slice(&(n as u16).to_be_bytes());
    } else {
        out.push(code16 + 1);
        out.extend_from_slice(&(n as u32).to_be_bytes());
    }
}

/// `mp_encode_lua_table`.
fn encode_table(t: &Table, level: usize, out: &mut Vec<u8>) -> LibResult<()> {
    let pairs = t
        .pairs::<Value, Value>()
        .collect::<mlua::Result<Vec<_>>>()?;
    if is_array(&pairs) {
        let len = t.raw_len();
        encode_header(len, 0x90, 0xdc, out);
        for j in 1..=len {
            encode(&t.raw_get::<Value>(j)?, level + 1, out)?;
        }
    } else {
        encode_header(pairs.len(), 0x80, 0xde, out);
        for (k, v) in &pairs {
            encode(k, level + 1, out)?;
            encode(v, level + 1, out)?;
        }
    }
    Ok(())
}

/// `table_is_an_array`: all keys are positive numbers equal to their C
/// `int`, and the largest equals their count.
fn is_array(pairs: &[(Value, Value)]) -> bool {
    let mut count: i32 = 0;
    let mut max: i32 = 0;
    for (k, _) in pairs {
        match number_value(k) {
            Some(n) if n > 0.0 && !n.is_infinite() && f64::from(c_double_to_int(n)) == n => {
                if n > f64::from(max) {
                    max = c_double_to_int(n);
                }
                count = count.wrapping_add(1);
            }
            _ => return false,
        }
    }
    max == count
}

// ===== Unpacking =====

/// `mp_unpack_full`: `base` is how many stack slots the arguments take.
fn unpack_full(
    lua: &Lua,
    data: &[u8],
    limit: i64,
    offset: i64,
    base: usize,
) -> LibResult<MultiValue> {
    let len = data.len();
    if offset < 0 || limit < 0 {
        // (The C code prints the input length as the limit.)
        return Err(raise(format!(
            "Invalid request to unpack with offset of {} and limit of {}.",
            offset as i32, len as i32
        )));
    }
    if offset as u64 > len as u64 {
        return Err(raise(format!(
            "Start offset {} greater than input length {}.",
            offset as i32, len as i32
        )));
    }
    let decode_all = limit == 0 && offset == 0;
    let limit = if decode_all {
        i64::from(i32::MAX)
    } else {
        limit
    };
    let mut decoder = Decoder {
        lua,
        data,
        pos: offset as usize,
    };
    let mut results = Vec::new();
    while decoder.pos < len && (results.len() as i64) < limit {
        let value = decoder.value(base + results.len())?;
        results.push(value);
    }
    if !decode_all {
        if base + results.len() + 1 > LUA_MAX_C_STACK {
            return Err(stack_overflow("in function mp_unpack_full"));
        }
        let next = if decoder.pos == len {
            -1.0
        } else {
            decoder.pos as f64
        };
        results.insert(0, Value::Number(next));
    }
    Ok(MultiValue::from_vec(results))
}

/// A table being filled.
enum Open {
    Array {
        table: Table,
        remaining: u64,
        next: f64,
    },
    Map {
        table: Table,
        remaining: u64,
        key: Option<Value>,
    },
}

impl Open {
    /// Stack slots the C decoder holds while reading the next item: the
    /// table and the index (array), the table and the key if read (map).
    fn slots(&self) -> usize {
        match self {
            Open::Array { .. } | Open::Map { key: Some(_), .. } => 2,
            Open::Map { key: None, .. } => 1,
        }
    }
}

struct Decoder<'a> {
    lua: &'a Lua,
    data: &'a [u8],
    pos: usize,
}

impl Decoder<'_> {
    /// The next `n` bytes without consuming them, or "Missing bytes in
    /// input." (`mp_cur_need`).
    fn need(&self, n: usize) -> LibResult<&[u8]> {
        self.pos
            .checked_add(n)
            .and_then(|end| self.data.get(self.pos..end))
            .ok_or_else(|| raise("Missing bytes in input."))
    }

    /// The big-endian unsigned number after a one-byte header, `n` bytes
    /// in all, consumed.
    fn number_after_header(&mut self, n: usize) -> LibResult<u64> {
        let v = self.need(n)?[1..]
            .iter()
            .fold(0u64, |acc, &b| (acc << 8) | u64::from(b));
        self.pos += n;
        Ok(v)
    }

    /// `mp_decode_to_lua_type` for one complete value, with `top` stack
    /// slots in use.
    fn value(&mut self, top: usize) -> LibResult<Value> {
        let mut stack: Vec<Open> = Vec::new();
        let mut slots = top;
        loop {
            // Start a value.
            if self.pos >= self.data.len() {
                return Err(raise("Missing bytes in input."));
            }
            if slots + 1 > LUA_MAX_C_STACK {
                return Err(stack_overflow(
                    "too many return values at once; use unpack_one or unpack_limit instead.",
                ));
            }
            let first = self.data[self.pos];
            let container = match first {
                0xdc | 0xdd | 0x90..=0x9f | 0xde | 0xdf | 0x80..=0x8f => {
                    Some(self.container_header(first)?)
                }
                _ => None,
            };
            let mut value = match container {
                None => self.scalar()?,
                Some((is_array, n)) => {
                    let table = self.lua.create_table()?;
                    if is_array && slots + 2 > LUA_MAX_C_STACK {
                        return Err(stack_overflow("in function mp_decode_to_lua_array"));
                    }
                    if n > 0 {
                        let open = if is_array {
                            Open::Array {
                                table,
                                remaining: n,
                                next: 1.0,
                            }
                        } else {
                            Open::Map {
                                table,
                                remaining: n,
                                key: None,
                            }
                        };
                        slots += open.slots();
                        stack.push(open);
                        continue;
                    }
                    Value::Table(table)
                }
            };
            // Store it, closing the tables it completes.
            loop {
                let Some(open) = stack.last_mut() else {
                    return Ok(value);
                };
                slots -= open.slots();
                let done = match open {
                    Open::Array {
                        table,
                        remaining,
                        next,
                    } => {
                        table.raw_set(*next, value)?;
                        *next += 1.0;
                        *remaining -= 1;
                        *remaining == 0
                    }
                    Open::Map {
                        table,
                        remaining,
                        key,
                    } => match key.take() {
                        None => {
                            *key = Some(value);
                            false
                        }
                        Some(k) => {
                            set_field(table, k, value)?;
                            *remaining -= 1;
                            *remaining == 0
                        }
                    },
                };
                if !done {
                    slots += open.slots();
                    break;
                }
                match stack.pop() {
                    Some(Open::Array { table, .. } | Open::Map { table, .. }) => {
                        value = Value::Table(table);
                    }
                    None => return Err(raise("Bad data format in input.")),
                }
            }
        }
    }

    /// Consumes an array or map header: (is it an array, element count).
    fn container_header(&mut self, first: u8) -> LibResult<(bool, u64)> {
        Ok(match first {
            0xdc => (true, self.number_after_header(3)?),
            0xdd => (true, self.number_after_header(5)?),
            0xde => (false, self.number_after_header(3)?),
            0xdf => (false, self.number_after_header(5)?),
            _ => {
                self.pos += 1;
                (first & 0xf0 == 0x90, u64::from(first & 0x0f))
            }
        })
    }

    /// Any value but arrays and maps.
    fn scalar(&mut self) -> LibResult<Value> {
        let first = self.data[self.pos];
        let n = match first {
            0xc0 => None,
            0xc2 | 0xc3 => {
                self.pos += 1;
                return Ok(Value::Boolean(first == 0xc3));
            }
            0xcc => Some(self.number_after_header(2)? as f64),
            0xd0 => Some(f64::from(self.number_after_header(2)? as u8 as i8)),
            0xcd => Some(self.number_after_header(3)? as f64),
            0xd1 => Some(f64::from(self.number_after_header(3)? as u16 as i16)),
            0xce => Some(self.number_after_header(5)? as f64),
            0xd2 => Some(f64::from(self.number_after_header(5)? as u32 as i32)),
            // uint 64 goes through lua_Integer: past 2^63 it is negative.
            0xcf => Some(self.number_after_header(9)? as i64 as f64),
            0xd3 => Some(self.number_after_header(9)? as i64 as f64),
            0xca => Some(f64::from(f32::from_bits(
                self.number_after_header(5)? as u32
            ))),
            0xcb => Some(f64::from_bits(self.number_after_header(9)?)),
            0xd9 => {
                let len = usize::from(self.need(2)?[1]);
                return self.raw_string(2, len);
            }
            0xda => {
                let len = self.need(3)?;
                let len = usize::from(u16::from_be_bytes([len[1], len[2]]));
                return self.raw_string(3, len);
            }
            0xdb => {
                let len = self.need(5)?;
                let len = u32::from_be_bytes([len[1], len[2], len[3], len[4]]);
                return self.raw_string(5, usize::try_from(len).unwrap_or(usize::MAX));
            }
            0xa0..=0xbf => return self.raw_string(1, usize::from(first & 0x1f)),
            0x00..=0x7f => Some(f64::from(first)),
            0xe0..=0xff => Some(f64::from(first as i8)),
            _ => return Err(raise("Bad data format in input.")),
        };
        if matches!(first, 0xc0 | 0x00..=0x7f | 0xe0..=0xff) {
            self.pos += 1;
        }
        Ok(n.map_or(Value::Nil, Value::Number))
    }

    /// A string of `len` bytes after a `header`-byte header; both must be
    /// there (`mp_cur_need`).
    fn raw_string(&mut self, header: usize, len: usize) -> LibResult<Value> {
        let total = header.saturating_add(len);
        let bytes = self.need(total)?;
        let s = self.lua.create_string(&bytes[header..])?;
        self.pos += total;
        Ok(Value::String(s))
    }
}

/// `lua_settable` on a fresh table, with Lua 5.1's errors for bad keys
/// (raised by the core, so without a position).
fn set_field(table: &Table, key: Value, value: Value) -> LibResult<()> {
    match &key {
        Value::Nil => return Err(LibError::Bare(b"table index is nil".to_vec())),
        k if number_value(k).is_some_and(f64::is_nan) => {
            return Err(LibError::Bare(b"table index is NaN".to_vec()))
        }
        _ => {}
    }
    table.raw_set(key, value)?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_all;

    /// Expected values are the replies of redis-server 7.0.15 to EVAL of
    /// the same snippets, including Redis's own cmsgpack tests.
    #[test]
    fn matches_redis() {
        check_all(&[
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(cmsgpack.pack(1, -1, 127, 128, 255, 256, 65535, 65536, 4294967295, 4294967296, -32, -33, -128, -129, -32768, -32769, -2147483648, -2147483649))"#,
                r#"01ff7fcc80ccffcd0100cdffffce00010000ceffffffffcf0000000100000000e0d0dfd080d1ff7fd18000d2ffff7fffd280000000d3ffffffff7fffffff"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(cmsgpack.pack(0.5, 0.1, 1.5, 2^63, -2^63, 2^64, 1e300, 3.4028234663852886e38, -0.5, 1e-40, 16777217, 2^62, -2^62 - 1024))"#,
                r#"ca3f000000cb3fb999999999999aca3fc00000ca5f000000d38000000000000000ca5f800000cb7e37e43c8800759cca7f7fffffcabf000000cb37a16c262777579cce01000001cf4000000000000000d3bffffffffffffc00"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local inf, nan = math.huge, 0/0 return hex(cmsgpack.pack(inf, -inf)) .. ' ' .. #cmsgpack.pack(nan) .. ' ' .. hex(cmsgpack.pack(nan)):sub(1, 2)"#,
                r#"ca7f800000caff800000 9 cb"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local z = 0; return hex(cmsgpack.pack(-z * 1))"#,
                r#"00"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(cmsgpack.pack(true, false, nil, "", "abc", string.rep('x', 31), string.rep('x', 32)):sub(1, 80))"#,
                r#"c3c2c0a0a3616263bf78787878787878787878787878787878787878787878787878787878787878d9207878787878787878787878787878787878787878787878787878787878787878"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(cmsgpack.pack(string.rep('x', 255)):sub(1,6)) .. ' ' .. hex(cmsgpack.pack(string.rep('x', 256)):sub(1,8)) .. ' ' .. hex(cmsgpack.pack(string.rep('x', 65535)):sub(1,8)) .. ' ' .. hex(cmsgpack.pack(string.rep('x', 65536)):sub(1,12))"#,
                r#"d9ff78787878 da01007878787878 daffff7878787878 db0001000078787878787878"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(cmsgpack.pack({1,2,3}, {}, {a=1}, {[1]=1,[3]=3}, {[2]=2}, {1,2,nil,4}))"#,
                r#"930102039081a16101820101030381020283010102020404"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local t = {} for i=1,16 do t[i]=i end
local m = {} for i=1,16 do m['k'..i]=i end
return hex(cmsgpack.pack(t):sub(1,6)) .. ' ' .. hex(cmsgpack.pack(m):sub(1,4))"#,
                r#"dc0010010203 de0010a3"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local t = {} for i=1,65536 do t[i]=1 end
return hex(cmsgpack.pack(t):sub(1,8))"#,
                r#"dd00010000010101"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local t = {} for i=1,65535 do t[i]=1 end
return hex(cmsgpack.pack(t):sub(1,8))"#,
                r#"dcffff0101010101"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local a = {} a[1] = a
return hex(cmsgpack.pack(a))"#,
                r#"91919191919191919191919191919191c0"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local t = {}; local c = t; for i = 1, 20 do c.k = {} c = c.k end
return hex(cmsgpack.pack(t))"#,
                r#"81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16b81a16bc0"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(cmsgpack.pack(function() end, cjson.null, coroutine.create(function() end)))"#,
                r#"c0c0c0"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.pack); return e"#,
                r#"bad argument #0 to '?' (MessagePack pack needs input.)"#,
            ),
            (
                r#"return cmsgpack.pack()"#,
                r#"ERR user_script:1: bad argument #0 to 'pack' (MessagePack pack needs input.)"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(cmsgpack.pack({[1.5]=1}, {[0]=1}, {[-1]=1}, {[2^31]=1}, {[2^31-1]=1}, {[{}]=1}))"#,
                r#"81ca3fc000000181000181ff0181ce800000000181ce7fffffff01819001"#,
            ),
            (
                r#"local t = {} for i = 1, 4000 do t[i] = i end return #cmsgpack.pack(unpack(t))"#,
                r#"11618"#,
            ),
            (
                r#"local t = {} for i = 1, 4001 do t[i] = i end return #cmsgpack.pack(unpack(t))"#,
                r#"ERR user_script:1: bad argument #0 to 'pack' (Too many arguments for MessagePack pack.)"#,
            ),
            (
                r#"local r = {cmsgpack.unpack(cmsgpack.pack(1, "a", {1,2}, true))}; return #r .. r[1] .. r[2] .. #r[3] .. r[3][2] .. tostring(r[4])"#,
                r#"41a22true"#,
            ),
            (
                r#"local a,b,c = cmsgpack.unpack(cmsgpack.pack(1, {x=2}, false)); return a .. b.x .. tostring(c)"#,
                r#"12false"#,
            ),
            (r#"return select('#', cmsgpack.unpack(''))"#, r#"0"#),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\205\1'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\193'); return e"#,
                r#"Bad data format in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\1\196\1a'); return e"#,
                r#"Bad data format in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\147\1'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\147\1\193'); return e"#,
                r#"Bad data format in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\220\0'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\217'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\217\3ab'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\163ab'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\203\0\0'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3))}, ',')"#,
                r#"1,1"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 1)}, ',')"#,
                r#"2,2"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 2)}, ',')"#,
                r#"-1,3"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_one(cmsgpack.pack(1, 2, 3), 3)}, ',')"#,
                r#"-1"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_one, cmsgpack.pack(1, 2, 3), 4); return e"#,
                r#"Start offset 4 greater than input length 3."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_one, cmsgpack.pack(1, 2, 3), -1); return e"#,
                r#"Invalid request to unpack with offset of -1 and limit of 3."#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2)}, ',')"#,
                r#"2,1,2"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 2, 1)}, ',')"#,
                r#"-1,2,3"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0)}, ',')"#,
                r#"1,2,3"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_limit(cmsgpack.pack(1, 2, 3), 0, 1)}, ',')"#,
                r#"1"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_limit, cmsgpack.pack(1, 2, 3), -1); return e"#,
                r#"Invalid request to unpack with offset of 0 and limit of 3."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_limit, cmsgpack.pack(1, 2, 3)); return e"#,
                r#"bad argument #2 to '?' (number expected, got no value)"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_limit, 5, 'x'); return e"#,
                r#"bad argument #2 to '?' (number expected, got string)"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_limit, {}, 1, 2); return e"#,
                r#"bad argument #1 to '?' (string expected, got table)"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack); return e"#,
                r#"bad argument #1 to '?' (string expected, got no value)"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, {}); return e"#,
                r#"bad argument #1 to '?' (string expected, got table)"#,
            ),
            (r#"return table.concat({cmsgpack.unpack(5)}, ',')"#, r#"53"#),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\129\192\1'); return e"#,
                r#"table index is nil"#,
            ),
            (
                r#"return cmsgpack.unpack('\129\192\1')"#,
                r#"ERR table index is nil"#,
            ),
            (
                r#"local t = cmsgpack.unpack('\130\1\2\1\3'); return t[1]"#,
                r#"3"#,
            ),
            (
                r#"local t = cmsgpack.unpack('\146\192\1'); return #t .. ' ' .. t[2]"#,
                r#"0 1"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\129\203\127\248\0\0\0\0\0\0\1'); return e"#,
                r#"table index is NaN"#,
            ),
            (
                r#"return string.format('%.17g', cmsgpack.unpack('\202\61\204\204\205'))"#,
                r#"0.10000000149011612"#,
            ),
            (
                r#"return string.format('%.17g', cmsgpack.unpack('\207\255\255\255\255\255\255\255\255'))"#,
                r#"-1"#,
            ),
            (
                r#"return string.format('%.17g', cmsgpack.unpack('\207\127\255\255\255\255\255\255\255'))"#,
                r#"9.2233720368547758e+18"#,
            ),
            (
                r#"return string.format('%.17g', cmsgpack.unpack('\211\255\255\255\255\255\255\255\255'))"#,
                r#"-1"#,
            ),
            (
                r#"return string.format('%.17g', cmsgpack.unpack('\211\128\0\0\0\0\0\0\0'))"#,
                r#"-9.2233720368547758e+18"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack('\208\128\209\128\0\210\128\0\0\0\204\255\205\255\255\206\255\255\255\255\224\255\209\255\128\127\0')}, ',')"#,
                r#"-128,-32768,-2147483648,255,65535,4294967295,-32,-1,-128,127,0"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack('\217\3abc\218\0\2ab\219\0\0\0\1a\160')}, ',')"#,
                r#"abc,ab,a,"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\219\255\255\255\255a'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\221\255\255\255\255'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\223\255\255\255\255'); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, '\221\255\255\255\255' .. string.rep('\192', 1000)); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"return #cmsgpack.unpack('\220\0\2\1\2') .. #cmsgpack.unpack('\144') .. #cmsgpack.unpack('\221\0\0\0\3\1\2\3')"#,
                r#"203"#,
            ),
            (
                r#"local t = cmsgpack.unpack('\222\0\1\161a\1'); return t.a"#,
                r#"1"#,
            ),
            (
                r#"local t = cmsgpack.unpack('\223\0\0\0\1\161a\1'); return t.a"#,
                r#"1"#,
            ),
            (
                r#"local t = cmsgpack.unpack('\128'); return type(t) .. tostring(next(t))"#,
                r#"tablenil"#,
            ),
            (r#"return cmsgpack._VERSION"#, r#"lua-cmsgpack 0.4.0"#),
            (r#"return cmsgpack._NAME"#, r#"cmsgpack"#),
            (
                r#"return cmsgpack._COPYRIGHT"#,
                r#"Copyright (C) 2012, Salvatore Sanfilippo"#,
            ),
            (
                r#"return cmsgpack._DESCRIPTION"#,
                r#"MessagePack C implementation for Lua"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_one('')}, ',')"#,
                r#"-1"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_limit('', 1)}, ',')"#,
                r#"-1"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_one, 'abc', 5); return e"#,
                r#"Start offset 5 greater than input length 3."#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_one('\1\2', 1.7)}, ',')"#,
                r#"-1,2"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_one, '\1\2', 'x'); return e"#,
                r#"bad argument #2 to '?' (number expected, got string)"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_one('\1\2', '1')}, ',')"#,
                r#"-1,2"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack_one, '\1\2', 4294967297); return e"#,
                r#"Start offset 1 greater than input length 2."#,
            ),
            (
                r#"return #{cmsgpack.unpack(string.rep('\1', 7999))}"#,
                r#"7999"#,
            ),
            (
                r#"return #{cmsgpack.unpack(string.rep('\1', 8000))}"#,
                r#"ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"return #{cmsgpack.unpack(string.rep('\1', 7998), 1)}"#,
                r#"7998"#,
            ),
            (
                r#"return #{cmsgpack.unpack(string.rep('\1', 7999), 1)}"#,
                r#"ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"return #{cmsgpack.unpack_limit(string.rep('\1', 8000), 7999)}"#,
                r#"ERR user_script:1: stack overflow (in function mp_unpack_full)"#,
            ),
            (
                r#"return #{cmsgpack.unpack_limit(string.rep('\1', 8000), 7998)}"#,
                r#"7999"#,
            ),
            (
                r#"return table.concat({cmsgpack.unpack_one(string.rep('\1', 8000), 1, 2, 3)}, ',')"#,
                r#"2,1"#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\145', 3999) .. '\1')}; return #t"#,
                r#"1"#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\145', 4000) .. '\1')}; return #t"#,
                r#"ERR user_script:1: stack overflow (in function mp_decode_to_lua_array)"#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\145', 100000) .. '\1')}; return #t"#,
                r#"ERR user_script:1: stack overflow (in function mp_decode_to_lua_array)"#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\129\1', 3999) .. '\1')}; return #t"#,
                r#"1"#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\129\1', 4000) .. '\1')}; return #t"#,
                r#"ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\129\145', 3000) .. '\1')}; return #t"#,
                r#"ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\129\145', 3000) .. '\1\1')}; return #t"#,
                r#"ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"local t = {cmsgpack.unpack('\1' .. string.rep('\145', 3998) .. '\1')}; return #t"#,
                r#"2"#,
            ),
            (
                r#"local t = {cmsgpack.unpack('\1' .. string.rep('\145', 3999) .. '\1')}; return #t"#,
                r#"ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\129', 7999))}; return #t"#,
                r#"ERR user_script:1: Missing bytes in input."#,
            ),
            (
                r#"local t = {cmsgpack.unpack(string.rep('\129', 8000))}; return #t"#,
                r#"ERR user_script:1: stack overflow (too many return values at once; use unpack_one or unpack_limit instead.)"#,
            ),
            (
                r#"local ok, e = pcall(cmsgpack.unpack, string.rep('\145', 3999)); return e"#,
                r#"Missing bytes in input."#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local encoded = cmsgpack.pack(0.1) return hex(encoded)"#,
                r#"cb3fb999999999999a"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
local encoded = cmsgpack.pack(-1099511627776) return hex(encoded)"#,
                r#"d3ffffff0000000000"#,
            ),
            (
                r#"local a = {x=nil,y=5}
local b = {x=a}
a['x'] = b
local encoded = cmsgpack.pack(a)
local re = cmsgpack.unpack(encoded)
assert(re)
assert(re.x)
assert(re.x.x.y == re.y)
assert(re.x.x.x.x.y == re.y)
assert(re.x.x.x.x.x.x.y == re.y)
assert(re.x.x.x.x.x.x.x.x.x.x.y == re.y)
assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.y == re.y)
assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x)
assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil)
return #encoded"#,
                r#"73"#,
            ),
            (
                r#"local str_lt_32 = string.rep("x", 30)
local str_lt_255 = string.rep("x", 250)
local str_lt_65535 = string.rep("x", 65530)
local str_long = string.rep("x", 100000)
local array_lt_15 = {1, 2, 3, 4, 5}
local array_lt_65535 = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18}
local array_big = {}
for i=1, 100000 do array_big[i] = i end
local map_lt_15 = {a=1, b=2}
local map_big = {}
for i=1, 100000 do map_big[tostring(i)] = i end
local some_map = {s1=str_lt_32, s2=str_lt_255, s3=str_lt_65535, s4=str_long, d1=0.1, i1=1, i2=250, i3=65530, i4=100000, i5=2^40, a1=array_lt_15, a2=array_lt_65535, a3=array_big, m1=map_lt_15, m2=map_big, b1=false, b2=true, n=nil}
local encoded = cmsgpack.pack(some_map)
local decoded = cmsgpack.unpack(encoded)
assert(table.concat(some_map) == table.concat(decoded))
local offset, decoded_one = cmsgpack.unpack_one(encoded, 0)
assert(table.concat(some_map) == table.concat(decoded_one))
assert(offset == -1)
local encoded_multiple = cmsgpack.pack(str_lt_32, str_lt_255, str_lt_65535, str_long)
local offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, 0)
assert(obj == str_lt_32)
offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
assert(obj == str_lt_255)
offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
assert(obj == str_lt_65535)
offset, obj = cmsgpack.unpack_limit(encoded_multiple, 1, offset)
assert(obj == str_long)
assert(offset == -1)
assert(decoded.a3[100000] == 100000 and decoded.m2['777'] == 777 and decoded.s4 == str_long and decoded.i5 == 2^40)
return #encoded"#,
                r#"1491941"#,
            ),
        ]);
    }

    /// Redis's test "cmsgpack can pack and unpack circular references?",
    /// byte for byte (the order of the two keys is Luau's, which happens to
    /// be Lua 5.1's here).
    #[test]
    fn redis_circular_reference_test() {
        check_all(&[(
            r#"local a = {x=nil,y=5}
local b = {x=a}
a['x'] = b
local encoded = cmsgpack.pack(a)
local h = ""
for i = 1, #encoded do
    h = h .. string.format("%02x",string.byte(encoded,i))
end
local re = cmsgpack.unpack(encoded)
assert(re.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x.x == nil)
return h .. ' ' .. tostring(re.x.x.x.x.x.x.x.x.y == re.y) .. ' ' .. tostring(re.y == 5)"#,
            "82a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a17882a17905a17881a178c0 true true",
        )]);
    }
}
