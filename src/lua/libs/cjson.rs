//! `cjson`: lua-cjson 2.1.0 as Redis 7.0 builds it.
//!
//! * `cjson.encode(value)`: numbers as `%.14g` (see
//!   `encode_number_precision`), strings with `"`, `\`, `/` and control
//!   bytes escaped (bytes >= 0x80 pass through), `nil` and `cjson.null` as
//!   `null`. A table is an array when all its keys are integers >= 1 and
//!   it is not "excessively sparse" (largest index > 2 x number of items
//!   and > 10, by default an error); otherwise an object whose keys must be
//!   strings or numbers. Tables nest at most 1000 deep.
//! * `cjson.decode(text)`: JSON to Lua (`null` is `cjson.null`, a NULL light
//!   userdata), `\uXXXX` escapes and surrogate pairs to UTF-8, numbers by
//!   `strtod` (so `inf`, `nan`, hex and `+1` are accepted by default).
//!   Nesting is bounded at 1000. Errors read `Expected <what> but found
//!   <token> at character <n>`.
//! * The configuration functions of lua-cjson 2.1.0, whose settings last
//!   as long as the VM: `encode_sparse_array`, `encode_max_depth`,
//!   `decode_max_depth`, `encode_number_precision`, `encode_keep_buffer`,
//!   `encode_invalid_numbers`, `decode_invalid_numbers`; and `cjson.new()`,
//!   a module copy with its own settings.
//!
//! Encoding and decoding use explicit stacks, not recursion, so a deep
//! document costs heap, not native stack. The Lua 5.1 stack limit the C
//! code runs into (8000 slots) is counted and reported the same way.

use std::cell::RefCell;
use std::ptr;
use std::rc::Rc;

use mlua::{LightUserData, Lua, MultiValue, Table, Value};

use super::{
    c_double_to_int, c_str, number_value, output_too_large, raise, strtod, type_name, Args,
    Builder, LibResult, LUA_MAX_C_STACK, MAX_OUTPUT,
};

/// Registers the global `cjson`.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let module = module(lua)?;
    lua.globals().set("cjson", module)
}

/// lua-cjson's `json_config_t`, with Redis's defaults.
#[derive(Clone, Copy)]
struct Config {
    encode_sparse_convert: i32,
    encode_sparse_ratio: i32,
    encode_sparse_safe: i32,
    encode_max_depth: i32,
    decode_max_depth: i32,
    /// 0: error, 1: write `inf`/`nan`, 2: write `null`.
    encode_invalid_numbers: i32,
    encode_number_precision: i32,
    encode_keep_buffer: i32,
    decode_invalid_numbers: i32,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            encode_sparse_convert: 0,
            encode_sparse_ratio: 2,
            encode_sparse_safe: 10,
            encode_max_depth: 1000,
            decode_max_depth: 1000,
            encode_invalid_numbers: 0,
            encode_number_precision: 14,
            encode_keep_buffer: 1,
            decode_invalid_numbers: 1,
        }
    }
}

type Shared = Rc<RefCell<Config>>;

/// `cjson.null`: a NULL light userdata, as in lua-cjson.
fn null() -> Value {
    Value::LightUserData(LightUserData(ptr::null_mut()))
}

fn one(v: Value) -> MultiValue {
    MultiValue::from_vec(vec![v])
}

/// A module table with its own configuration (`luaopen_cjson` / `cjson.new`).
fn module(lua: &Lua) -> mlua::Result<Table> {
    let cfg: Shared = Rc::new(RefCell::new(Config::default()));
    let b = Builder::new(lua)?;
    let t = lua.create_table()?;

    let c = cfg.clone();
    t.set(
        "encode",
        b.function("encode", move |lua, args| {
            let cfg = *c.borrow();
            encode(lua, args, &cfg)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode",
        b.function("decode", move |lua, args| {
            let cfg = *c.borrow();
            decode(lua, args, &cfg)
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_sparse_array",
        b.function("encode_sparse_array", move |lua, args| {
            arg_init(args, 3)?;
            let mut cfg = c.borrow_mut();
            let convert = enum_option(lua, args, 1, &mut cfg.encode_sparse_convert, None)?;
            let ratio = integer_option(args, 2, &mut cfg.encode_sparse_ratio, 0, i32::MAX)?;
            let safe = integer_option(args, 3, &mut cfg.encode_sparse_safe, 0, i32::MAX)?;
            Ok(MultiValue::from_vec(vec![convert, ratio, safe]))
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_max_depth",
        b.function("encode_max_depth", move |_, args| {
            arg_init(args, 1)?;
            let v = integer_option(args, 1, &mut c.borrow_mut().encode_max_depth, 1, i32::MAX)?;
            Ok(one(v))
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "decode_max_depth",
        b.function("decode_max_depth", move |_, args| {
            arg_init(args, 1)?;
            let v = integer_option(args, 1, &mut c.borrow_mut().decode_max_depth, 1, i32::MAX)?;
            Ok(one(v))
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_number_precision",
        b.function("encode_number_precision", move |_, args| {
            arg_init(args, 1)?;
            let mut cfg = c.borrow_mut();
            let v = integer_option(args, 1, &mut cfg.encode_number_precision, 1, 14)?;
            Ok(one(v))
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_keep_buffer",
        b.function("encode_keep_buffer", move |lua, args| {
            arg_init(args, 1)?;
            // Only a buffer-reuse optimisation in C: nothing else changes.
            let v = enum_option(lua, args, 1, &mut c.borrow_mut().encode_keep_buffer, None)?;
            Ok(one(v))
        })?,
    )?;
    let c = cfg.clone();
    t.set(
        "encode_invalid_numbers",
        b.function("encode_invalid_numbers", move |lua, args| {
            arg_init(args, 1)?;
            let mut cfg = c.borrow_mut();
            let options: &[&str] = &["off", "on", "null"];
            let v = enum_option(lua, args, 1, &mut cfg.encode_invalid_numbers, Some(options))?;
            Ok(one(v))
        })?,
    )?;
    let c = cfg;
    t.set(
        "decode_invalid_numbers",
        b.function("decode_invalid_numbers", move |lua, args| {
            arg_init(args, 1)?;
            let v = enum_option(
                lua,
                args,
                1,
                &mut c.borrow_mut().decode_invalid_numbers,
                None,
            )?;
            Ok(one(v))
        })?,
    )?;
    t.set(
        "new",
        b.function("new", |lua, _| Ok(one(Value::Table(module(lua)?))))?,
    )?;
    t.set("null", null())?;
    t.set("_NAME", "cjson")?;
    t.set("_VERSION", "2.1.0")?;
    Ok(t)
}

// ===== Configuration =====

/// `json_arg_init`: at most `n` arguments.
fn arg_init(args: &Args, n: usize) -> LibResult<()> {
    if args.len() > n {
        return Err(args.arg_error(n + 1, "found too many arguments"));
    }
    Ok(())
}

/// `json_integer_option`: sets `setting` from argument `i` unless it is
/// nil, and returns the setting. (The range error names argument #1
/// whatever `i` is, as the C code does.)
fn integer_option(
    args: &Args,
    i: usize,
    setting: &mut i32,
    min: i32,
    max: i32,
) -> LibResult<Value> {
    if !args.is_none_or_nil(i) {
        // `int value = luaL_checkinteger(...)`: the low 32 bits.
        let value = args.check_integer(i)? as i32;
        if !(min <= value && value <= max) {
            return Err(args.arg_error(1, format!("expected integer between {min} and {max}")));
        }
        *setting = value;
    }
    Ok(Value::Number(f64::from(*setting)))
}

/// `json_enum_option` with `bool_true` = 1: `true`/`false` or one of the
/// option names (default `off`/`on`) set it; returns a boolean for 0 and
/// 1, otherwise the option name.
fn enum_option(
    lua: &Lua,
    args: &Args,
    i: usize,
    setting: &mut i32,
    options: Option<&[&str]>,
) -> LibResult<Value> {
    let options = options.unwrap_or(&["off", "on"]);
    if !args.is_none_or_nil(i) {
        if let Some(Value::Boolean(b)) = args.get(i) {
            *setting = i32::from(*b);
        } else {
            // luaL_checkoption compares the C string.
            let name = args.check_bytes(i)?;
            let name = c_str(&name);
            match options.iter().position(|o| o.as_bytes() == name) {
                Some(idx) => *setting = idx as i32,
                None => {
                    let mut msg = b"invalid option '".to_vec();
                    msg.extend_from_slice(name);
                    msg.push(b'\'');
                    return Err(args.arg_error(i, msg));
                }
            }
        }
    }
    if *setting == 0 || *setting == 1 {
        return Ok(Value::Boolean(*setting == 1));
    }
    let name = options.get(*setting as usize).copied().unwrap_or("");
    Ok(Value::String(lua.create_string(name)?))
}

// ===== Encoding =====

/// `cjson.encode(value)`.
fn encode(lua: &Lua, args: &Args, cfg: &Config) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(args.arg_error(1, "expected 1 argument"));
    }
    let mut out = Vec::new();
    let value = args.get(1).cloned().unwrap_or(Value::Nil);
    Encoder { cfg, out: &mut out }.run(value)?;
    Ok(one(Value::String(lua.create_string(&out)?)))
}

/// A table being written.
enum Frame {
    /// Elements 1..=len by `rawgeti`, holes written as `null`.
    Array { table: Table, len: i64, next: i64 },
    /// The key/value pairs in `lua_next` order.
    Object {
        pairs: Vec<(Value, Value)>,
        next: usize,
    },
}

impl Frame {
    /// Lua stack slots the C encoder holds while inside this table: the
    /// element for an array; key and value for an object.
    fn slots(&self) -> usize {
        match self {
            Frame::Array { .. } => 1,
            Frame::Object { .. } => 2,
        }
    }
}

struct Encoder<'a> {
    cfg: &'a Config,
    out: &'a mut Vec<u8>,
}

impl Encoder<'_> {
    /// `json_append_data` on `value`, iteratively.
    fn run(&mut self, value: Value) -> LibResult<()> {
        let mut stack: Vec<Frame> = Vec::new();
        // The encode function's argument.
        let mut slots = 1;
        let mut pending = Some(value);
        loop {
            if self.out.len() > MAX_OUTPUT {
                return Err(output_too_large());
            }
            if let Some(value) = pending.take() {
                if let Value::Table(table) = value {
                    let depth = stack.len() + 1;
                    // json_check_encode_depth: the depth limit, and room
                    // for 3 more slots on the Lua stack.
                    if depth > self.cfg.encode_max_depth as usize || slots + 3 > LUA_MAX_C_STACK {
                        return Err(raise(format!(
                            "Cannot serialise, excessive nesting ({depth})"
                        )));
                    }
                    let len = self.array_length(&table)?;
                    let frame = if len > 0 {
                        self.out.push(b'[');
                        Frame::Array {
                            table,
                            len: i64::from(len),
                            next: 1,
                        }
                    } else {
                        self.out.push(b'{');
                        let pairs = table
                            .pairs::<Value, Value>()
                            .collect::<mlua::Result<Vec<_>>>()?;
                        Frame::Object { pairs, next: 0 }
                    };
                    slots += frame.slots();
                    stack.push(frame);
                } else {
                    self.scalar(&value)?;
                }
            }
            let Some(top) = stack.last_mut() else {
                return Ok(());
            };
            match top {
                Frame::Array { table, len, next } => {
                    if *next > *len {
                        self.out.push(b']');
                    } else {
                        if *next > 1 {
                            self.out.push(b',');
                        }
                        pending = Some(table.raw_get::<Value>(*next)?);
                        *next += 1;
                        continue;
                    }
                }
                Frame::Object { pairs, next } => {
                    if let Some((key, value)) = pairs.get(*next) {
                        if *next > 0 {
                            self.out.push(b',');
                        }
                        *next += 1;
                        match key {
                            Value::String(s) => {
                                self.string(&s.as_bytes());
                                self.out.push(b':');
                            }
                            k => match number_value(k) {
                                Some(n) => {
                                    self.out.push(b'"');
                                    self.number(n)?;
                                    self.out.extend_from_slice(b"\":");
                                }
                                None => {
                                    return Err(raise(format!(
                                        "Cannot serialise {}: table key must be a number or string",
                                        type_name(k)
                                    )))
                                }
                            },
                        }
                        pending = Some(value.clone());
                        continue;
                    }
                    self.out.push(b'}');
                }
            }
            if let Some(done) = stack.pop() {
                slots -= done.slots();
            }
        }
    }

    /// `lua_array_length`: the array size of a table whose keys are all
    /// integers >= 1, or -1 for an object. The largest index is kept in a C
    /// `int` (indexes past 2^31 turn it negative, making an object).
    fn array_length(&self, table: &Table) -> LibResult<i32> {
        let mut max: i32 = 0;
        let mut items: i32 = 0;
        for pair in table.pairs::<Value, Value>() {
            let (key, _) = pair?;
            if let Some(k) = number_value(&key) {
                if k != 0.0 && k.floor() == k && k >= 1.0 {
                    if k > f64::from(max) {
                        max = c_double_to_int(k);
                    }
                    items = items.wrapping_add(1);
                    continue;
                }
            }
            return Ok(-1);
        }
        let cfg = self.cfg;
        if cfg.encode_sparse_ratio > 0
            && max > items.wrapping_mul(cfg.encode_sparse_ratio)
            && max > cfg.encode_sparse_safe
        {
            if cfg.encode_sparse_convert == 0 {
                return Err(raise("Cannot serialise table: excessively sparse array"));
            }
            return Ok(-1);
        }
        Ok(max)
    }

    /// Everything but tables.
    fn scalar(&mut self, value: &Value) -> LibResult<()> {
        match value {
            Value::String(s) => self.string(&s.as_bytes()),
            Value::Boolean(true) => self.out.extend_from_slice(b"true"),
            Value::Boolean(false) => self.out.extend_from_slice(b"false"),
            Value::Nil => self.out.extend_from_slice(b"null"),
            Value::LightUserData(p) if p.0.is_null() => self.out.extend_from_slice(b"null"),
            v => match number_value(v) {
                Some(n) => self.number(n)?,
                None => {
                    return Err(raise(format!(
                        "Cannot serialise {}: type not supported",
                        type_name(v)
                    )))
                }
            },
        }
        Ok(())
    }

    /// `json_append_number`.
    fn number(&mut self, n: f64) -> LibResult<()> {
        match self.cfg.encode_invalid_numbers {
            0 if !n.is_finite() => {
                return Err(raise("Cannot serialise number: must not be NaN or Inf"));
            }
            // Written as "nan" whatever its sign bit (glibc would say -nan).
            1 if n.is_nan() => {
                self.out.extend_from_slice(b"nan");
                return Ok(());
            }
            2 if !n.is_finite() => {
                self.out.extend_from_slice(b"null");
                return Ok(());
            }
            _ => {}
        }
        let precision = self.cfg.encode_number_precision.clamp(1, 14) as usize;
        self.out
            .extend_from_slice(crate::util::numbers::format_double_g(n, precision).as_bytes());
        Ok(())
    }

    /// `json_append_string`: lua-cjson's escapes (`char2escape`).
    fn string(&mut self, s: &[u8]) {
        self.out.reserve(s.len() + 2);
        self.out.push(b'"');
        for &c in s {
            match c {
                b'"' => self.out.extend_from_slice(b"\\\""),
                b'\\' => self.out.extend_from_slice(b"\\\\"),
                b'/' => self.out.extend_from_slice(b"\\/"),
                0x08 => self.out.extend_from_slice(b"\\b"),
                b'\t' => self.out.extend_from_slice(b"\\t"),
                b'\n' => self.out.extend_from_slice(b"\\n"),
                0x0c => self.out.extend_from_slice(b"\\f"),
                b'\r' => self.out.extend_from_slice(b"\\r"),
                0..=0x1f | 0x7f => {
                    const HEX: &[u8; 16] = b"0123456789abcdef";
                    self.out.extend_from_slice(b"\\u00");
                    self.out.push(HEX[usize::from(c >> 4)]);
                    self.out.push(HEX[usize::from(c & 15)]);
                }
                c => self.out.push(c),
            }
        }
        self.out.push(b'"');
    }
}

// ===== Decoding =====

/// lua-cjson's token types; the names appear in error messages.
#[derive(Clone, Copy, PartialEq)]
enum Kind {
    ObjBegin,
    ObjEnd,
    ArrBegin,
    ArrEnd,
    String,
    Number(f64),
    Boolean(bool),
    Null,
    Colon,
    Comma,
    End,
    /// A lexical error; the text is what "found" reports.
    Error(&'static str),
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::ObjBegin => "T_OBJ_BEGIN",
            Kind::ObjEnd => "T_OBJ_END",
            Kind::ArrBegin => "T_ARR_BEGIN",
            Kind::ArrEnd => "T_ARR_END",
            Kind::String => "T_STRING",
            Kind::Number(_) => "T_NUMBER",
            Kind::Boolean(_) => "T_BOOLEAN",
            Kind::Null => "T_NULL",
            Kind::Colon => "T_COLON",
            Kind::Comma => "T_COMMA",
            Kind::End => "T_END",
            Kind::Error(what) => what,
        }
    }
}

#[derive(Clone, Copy)]
struct Token {
    kind: Kind,
    /// 0-based position of the token (of the error, for errors).
    index: usize,
}

/// `cjson.decode(text)`.
fn decode(lua: &Lua, args: &Args, cfg: &Config) -> LibResult<MultiValue> {
    if args.len() != 1 {
        return Err(args.arg_error(1, "expected 1 argument"));
    }
    let text = args.check_bytes(1)?;
    // RFC 4627's detection of UTF-16/32: a NUL among the first 2 bytes.
    if text.len() >= 2 && (text[0] == 0 || text[1] == 0) {
        return Err(raise("JSON parser does not support UTF-16 or UTF-32"));
    }
    let mut parser = Parser {
        lua,
        cfg,
        data: &text,
        pos: 0,
        depth: 0,
        slots: 1,
        tmp: Vec::new(),
    };
    Ok(one(parser.document()?))
}

/// A container being filled.
enum Open {
    Array { table: Table, next: i64 },
    Object { table: Table, key: Value },
}

struct Parser<'a> {
    lua: &'a Lua,
    cfg: &'a Config,
    /// The text; a NUL byte (or the end) stops it, as in the C string.
    data: &'a [u8],
    pos: usize,
    depth: i32,
    /// Lua stack slots the C decoder would hold (see `descend`).
    slots: usize,
    /// The last string token's bytes.
    tmp: Vec<u8>,
}

impl Parser<'_> {
    fn at(&self, i: usize) -> u8 {
        self.data.get(i).copied().unwrap_or(0)
    }

    /// One whole document: a value, then the end.
    fn document(&mut self) -> LibResult<Value> {
        let mut stack: Vec<Open> = Vec::new();
        let mut token = self.next_token();
        loop {
            // Parse the value starting at `token`.
            let mut value = match token.kind {
                Kind::ObjBegin => {
                    self.descend(3)?;
                    let table = self.lua.create_table()?;
                    let t = self.next_token();
                    if t.kind == Kind::ObjEnd {
                        self.ascend(0);
                        Value::Table(table)
                    } else {
                        let key = self.object_key(t)?;
                        stack.push(Open::Object { table, key });
                        self.slots += 2;
                        token = self.next_token();
                        continue;
                    }
                }
                Kind::ArrBegin => {
                    self.descend(2)?;
                    let table = self.lua.create_table()?;
                    let t = self.next_token();
                    if t.kind == Kind::ArrEnd {
                        self.ascend(0);
                        Value::Table(table)
                    } else {
                        stack.push(Open::Array { table, next: 1 });
                        self.slots += 1;
                        token = t;
                        continue;
                    }
                }
                Kind::String => Value::String(self.lua.create_string(&self.tmp)?),
                Kind::Number(n) => Value::Number(n),
                Kind::Boolean(b) => Value::Boolean(b),
                Kind::Null => null(),
                _ => return Err(self.parse_error("value", token)),
            };
            // Store it, closing the containers it completes.
            loop {
                match stack.last_mut() {
                    None => {
                        let t = self.next_token();
                        if t.kind != Kind::End {
                            return Err(self.parse_error("the end", t));
                        }
                        return Ok(value);
                    }
                    Some(Open::Array { table, next }) => {
                        table.raw_set(*next, value)?;
                        *next += 1;
                        let t = self.next_token();
                        if t.kind == Kind::ArrEnd {
                            let table = table.clone();
                            stack.pop();
                            self.ascend(1);
                            value = Value::Table(table);
                            continue;
                        }
                        if t.kind != Kind::Comma {
                            return Err(self.parse_error("comma or array end", t));
                        }
                        token = self.next_token();
                        break;
                    }
                    Some(Open::Object { table, key }) => {
                        table.raw_set(key.clone(), value)?;
                        let t = self.next_token();
                        if t.kind == Kind::ObjEnd {
                            let table = table.clone();
                            stack.pop();
                            self.ascend(2);
                            value = Value::Table(table);
                            continue;
                        }
                        if t.kind != Kind::Comma {
                            return Err(self.parse_error("comma or object end", t));
                        }
                        let t = self.next_token();
                        *key = self.object_key(t)?;
                        token = self.next_token();
                        break;
                    }
                }
            }
        }
    }

    /// A member's key and its colon.
    fn object_key(&mut self, token: Token) -> LibResult<Value> {
        if token.kind != Kind::String {
            return Err(self.parse_error("object key string", token));
        }
        let key = Value::String(self.lua.create_string(&self.tmp)?);
        let t = self.next_token();
        if t.kind != Kind::Colon {
            return Err(self.parse_error("colon", t));
        }
        Ok(key)
    }

    /// `json_decode_descend`: one level deeper, within `decode_max_depth`
    /// and with `slots` free Lua stack slots (an object needs 3: table,
    /// key, value; an array 2).
    fn descend(&mut self, slots: usize) -> LibResult<()> {
        self.depth += 1;
        if self.depth <= self.cfg.decode_max_depth && self.slots + slots <= LUA_MAX_C_STACK {
            return Ok(());
        }
        Err(raise(format!(
            "Found too many nested data structures ({}) at character {}",
            self.depth, self.pos
        )))
    }

    /// Leaves a container that held `slots` stack slots.
    fn ascend(&mut self, slots: usize) {
        self.depth -= 1;
        self.slots -= slots;
    }

    /// `json_throw_parse_error`.
    fn parse_error(&self, expected: &str, token: Token) -> super::LibError {
        raise(format!(
            "Expected {expected} but found {} at character {}",
            token.kind.name(),
            token.index + 1
        ))
    }

    /// `json_next_token`.
    fn next_token(&mut self) -> Token {
        while matches!(self.at(self.pos), b' ' | b'\t' | b'\n' | b'\r') {
            self.pos += 1;
        }
        let index = self.pos;
        let single = |kind| Token { kind, index };
        let c = self.at(self.pos);
        let kind = match c {
            b'{' => Kind::ObjBegin,
            b'}' => Kind::ObjEnd,
            b'[' => Kind::ArrBegin,
            b']' => Kind::ArrEnd,
            b',' => Kind::Comma,
            b':' => Kind::Colon,
            0 => return single(Kind::End),
            b'"' => return self.string_token(),
            b'-' | b'0'..=b'9' => {
                if self.cfg.decode_invalid_numbers == 0 && self.is_invalid_number() {
                    return self.error_here("invalid number");
                }
                return self.number_token();
            }
            b'f' | b'i' | b'I' | b'n' | b'N' | b't' | b'+' => {
                const WORDS: [(&[u8], Kind); 3] = [
                    (b"true", Kind::Boolean(true)),
                    (b"false", Kind::Boolean(false)),
                    (b"null", Kind::Null),
                ];
                let rest = &self.data[self.pos..];
                if let Some((word, kind)) = WORDS.iter().find(|(w, _)| rest.starts_with(w)) {
                    self.pos += word.len();
                    return single(*kind);
                }
                if self.cfg.decode_invalid_numbers != 0 && self.is_invalid_number() {
                    return self.number_token();
                }
                return self.error_here("invalid token");
            }
            _ => return self.error_here("invalid token"),
        };
        self.pos += 1;
        single(kind)
    }

    fn error_here(&self, what: &'static str) -> Token {
        Token {
            kind: Kind::Error(what),
            index: self.pos,
        }
    }

    /// `json_is_invalid_number`: what strict JSON refuses but `strtod`
    /// takes: a leading `+`, hex, leading zeros, `inf`, `nan`.
    fn is_invalid_number(&self) -> bool {
        let mut p = self.pos;
        if self.at(p) == b'+' {
            return true;
        }
        if self.at(p) == b'-' {
            p += 1;
        }
        let c = self.at(p);
        if c == b'0' {
            let c2 = self.at(p + 1);
            return c2 | 0x20 == b'x' || c2.is_ascii_digit();
        }
        if c <= b'9' {
            return false;
        }
        let rest = self.data.get(p..).unwrap_or(&[]);
        rest.len() >= 3
            && (rest[..3].eq_ignore_ascii_case(b"inf") || rest[..3].eq_ignore_ascii_case(b"nan"))
    }

    /// `json_next_number_token`: whatever `strtod` reads here.
    fn number_token(&mut self) -> Token {
        match strtod(c_str(&self.data[self.pos..])) {
            Some((n, used)) => {
                let index = self.pos;
                self.pos += used;
                Token {
                    kind: Kind::Number(n),
                    index,
                }
            }
            None => self.error_here("invalid number"),
        }
    }

    /// `json_next_string_token`; the bytes go to `self.tmp`.
    fn string_token(&mut self) -> Token {
        let index = self.pos;
        self.pos += 1;
        self.tmp.clear();
        loop {
            let mut c = self.at(self.pos);
            if c == b'"' {
                break;
            }
            if c == 0 {
                return self.error_here("unexpected end of string");
            }
            if c == b'\\' {
                c = match self.at(self.pos + 1) {
                    b'"' => b'"',
                    b'\\' => b'\\',
                    b'/' => b'/',
                    b'b' => 0x08,
                    b't' => b'\t',
                    b'n' => b'\n',
                    b'f' => 0x0c,
                    b'r' => b'\r',
                    b'u' => {
                        if self.unicode_escape() {
                            continue;
                        }
                        return self.error_here("invalid unicode escape code");
                    }
                    _ => return self.error_here("invalid escape code"),
                };
                self.pos += 1;
            }
            self.tmp.push(c);
            self.pos += 1;
        }
        self.pos += 1;
        Token {
            kind: Kind::String,
            index,
        }
    }

    /// `json_append_unicode_escape` at a `\u`: appends the UTF-8 of the
    /// code point (joining a surrogate pair) and moves past it.
    fn unicode_escape(&mut self) -> bool {
        let Some(mut cp) = self.hex4(self.pos + 2) else {
            return false;
        };
        let mut len = 6;
        if cp & 0xF800 == 0xD800 {
            if cp & 0x400 != 0 {
                return false; // a low surrogate first
            }
            if self.at(self.pos + 6) != b'\\' || self.at(self.pos + 7) != b'u' {
                return false;
            }
            let Some(low) = self.hex4(self.pos + 8) else {
                return false;
            };
            if low & 0xFC00 != 0xDC00 {
                return false;
            }
            cp = (((cp & 0x3FF) << 10) | (low & 0x3FF)) + 0x10000;
            len = 12;
        }
        let mut buf = [0u8; 4];
        let n = utf8(cp, &mut buf);
        self.tmp.extend_from_slice(&buf[..n]);
        self.pos += len;
        true
    }

    /// `decode_hex4`: four hex digits at `i`.
    fn hex4(&self, i: usize) -> Option<u32> {
        (i..i + 4).try_fold(0u32, |acc, j| {
            let c = self.at(j);
            let d = match c {
                b'0'..=b'9' => c - b'0',
                _ => match c | 0x20 {
                    l @ b'a'..=b'f' => l - b'a' + 10,
                    _ => return None,
                },
            };
            Some((acc << 4) | u32::from(d))
        })
    }
}

/// `codepoint_to_utf8` for code points up to 0x10FFFF.
fn utf8(cp: u32, out: &mut [u8; 4]) -> usize {
    if cp <= 0x7F {
        out[0] = cp as u8;
        1
    } else if cp <= 0x7FF {
        out[0] = ((cp >> 6) | 0xC0) as u8;
        out[1] = ((cp & 0x3F) | 0x80) as u8;
        2
    } else if cp <= 0xFFFF {
        out[0] = ((cp >> 12) | 0xE0) as u8;
        out[1] = (((cp >> 6) & 0x3F) | 0x80) as u8;
        out[2] = ((cp & 0x3F) | 0x80) as u8;
        3
    } else {
        out[0] = ((cp >> 18) | 0xF0) as u8;
        out[1] = (((cp >> 12) & 0x3F) | 0x80) as u8;
        out[2] = (((cp >> 6) & 0x3F) | 0x80) as u8;
        out[3] = ((cp & 0x3F) | 0x80) as u8;
        4
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_all;

    // Expected values are the replies of redis-server 7.0.15 to EVAL of the
    // same snippets (after SCRIPT FLUSH).

    #[test]
    fn encode_matches_redis() {
        check_all(&[
            (r#"return cjson.encode({})"#, r#"{}"#),
            (r#"return cjson.encode({1,2,3,nil,5})"#, r#"[1,2,3,null,5]"#),
            (
                r#"return cjson.encode({[1]=1,[2]=2,[20]=3})"#,
                r#"ERR user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode, {[1]=1,[2]=2,[30]=3}); return e"#,
                r#"Cannot serialise table: excessively sparse array"#,
            ),
            (
                r#"return cjson.encode({[1]=1,[10]=2})"#,
                r#"[1,null,null,null,null,null,null,null,null,2]"#,
            ),
            (
                r#"return cjson.encode({[11]=1})"#,
                r#"ERR user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (r#"return cjson.encode({a=1})"#, r#"{"a":1}"#),
            (
                r#"return cjson.encode({['a/b']={['']=true}})"#,
                r#"{"a\/b":{"":true}}"#,
            ),
            (
                r#"return cjson.encode("a/b\"c\\d\1\127\n\r\t\b\f\31 ~")"#,
                r#""a\/b\"c\\d\u0001\u007f\n\r\t\b\f\u001f ~""#,
            ),
            (r#"return cjson.encode("\0")"#, r#""\u0000""#),
            (r#"return cjson.encode(0.1)"#, r#"0.1"#),
            (r#"return cjson.encode(1/3)"#, r#"0.33333333333333"#),
            (r#"return cjson.encode(1e300)"#, r#"1e+300"#),
            (r#"return cjson.encode(-0.0)"#, r#"-0"#),
            (r#"return cjson.encode(2^53)"#, r#"9.007199254741e+15"#),
            (
                r#"return cjson.encode(123456789012345)"#,
                r#"1.2345678901234e+14"#,
            ),
            (
                r#"return cjson.encode(12345678901234)"#,
                r#"12345678901234"#,
            ),
            (r#"return cjson.encode(1e-5)"#, r#"1e-05"#),
            (r#"return cjson.encode(0.0001)"#, r#"0.0001"#),
            (r#"return cjson.encode(-1.5e-300)"#, r#"-1.5e-300"#),
            (r#"return cjson.encode({[0.5]=0.25})"#, r#"{"0.5":0.25}"#),
            (
                r#"local ok,e = pcall(cjson.encode, 1/0); return e"#,
                r#"Cannot serialise number: must not be NaN or Inf"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode, 0/0); return e"#,
                r#"Cannot serialise number: must not be NaN or Inf"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode, {[1/0]=1}); return e"#,
                r#"Cannot serialise number: must not be NaN or Inf"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode, {[true]=1}); return e"#,
                r#"Cannot serialise boolean: table key must be a number or string"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode, {[{}]=1}); return e"#,
                r#"Cannot serialise table: table key must be a number or string"#,
            ),
            (r#"return cjson.encode({[1.5]=1})"#, r#"{"1.5":1}"#),
            (r#"return cjson.encode({[-1]=1})"#, r#"{"-1":1}"#),
            (r#"return cjson.encode({[0]=1})"#, r#"{"0":1}"#),
            (
                r#"return cjson.encode({[2^40]=1})"#,
                r#"{"1099511627776":1}"#,
            ),
            (
                r#"return cjson.encode({[1/0]=1, x=nil})"#,
                r#"ERR user_script:1: Cannot serialise number: must not be NaN or Inf"#,
            ),
            (r#"return cjson.encode(cjson.null)"#, r#"null"#),
            (r#"return cjson.encode({cjson.null, 1})"#, r#"[null,1]"#),
            (r#"return cjson.encode(nil)"#, r#"null"#),
            (
                r#"local ok,e = pcall(cjson.encode); return e"#,
                r#"bad argument #1 to '?' (expected 1 argument)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode, 1, 2); return e"#,
                r#"bad argument #1 to '?' (expected 1 argument)"#,
            ),
            (
                r#"return cjson.encode()"#,
                r#"ERR user_script:1: bad argument #1 to 'encode' (expected 1 argument)"#,
            ),
            (
                r#"local t = {} local c = t for i=1,1000 do c[1] = {} c = c[1] end local ok,e = pcall(cjson.encode, t); return e"#,
                r#"Cannot serialise, excessive nesting (1001)"#,
            ),
            (
                r#"local t = {} local c = t for i=1,999 do c[1] = {} c = c[1] end return #cjson.encode(t)"#,
                r#"2000"#,
            ),
            (
                r#"local t = {} local c = t for i=1,999 do c.k = {} c = c.k end return #cjson.encode(t)"#,
                r#"5996"#,
            ),
            (
                r#"local t = {} t[1] = t local ok,e = pcall(cjson.encode, t); return e"#,
                r#"Cannot serialise, excessive nesting (1001)"#,
            ),
            (
                r#"local t = {} t.a = t local ok,e = pcall(cjson.encode, t); return e"#,
                r#"Cannot serialise, excessive nesting (1001)"#,
            ),
            (
                r#"cjson.encode_max_depth(100000) local t = {} t[1] = t local ok,e = pcall(cjson.encode, t); return e"#,
                r#"Cannot serialise, excessive nesting (7998)"#,
            ),
            (
                r#"cjson.encode_max_depth(100000) local t = {} t.x = t local ok,e = pcall(cjson.encode, t); return e"#,
                r#"Cannot serialise, excessive nesting (4000)"#,
            ),
            (r#"return cjson.encode(true)"#, r#"true"#),
            (r#"return cjson.encode({true,false})"#, r#"[true,false]"#),
            (
                r#"local ok,e = pcall(cjson.encode, coroutine.create(function() end)); return e"#,
                r#"Cannot serialise thread: type not supported"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode, function() end); return e"#,
                r#"Cannot serialise function: type not supported"#,
            ),
            (
                r#"return cjson.encode(function() end)"#,
                r#"ERR user_script:1: Cannot serialise function: type not supported"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode, {1, {2, type}}); return e"#,
                r#"Cannot serialise function: type not supported"#,
            ),
            (r#"return type(cjson.null)"#, r#"userdata"#),
            (r#"return tostring(cjson.null == nil)"#, r#"false"#),
            (r#"return type(cjson.decode('null'))"#, r#"userdata"#),
            (
                r#"return tostring(cjson.decode('null') == cjson.null)"#,
                r#"true"#,
            ),
            (r#"return tostring(cjson.version)"#, r#"nil"#),
            (r#"return cjson._VERSION"#, r#"2.1.0"#),
            (r#"return cjson._NAME"#, r#"cjson"#),
            (
                r#"return cjson.encode({a={b={c={1,2}}}})"#,
                r#"{"a":{"b":{"c":[1,2]}}}"#,
            ),
            (
                r#"return cjson.encode({{}, {{}}, {[1]={}}})"#,
                r#"[{},[{}],[{}]]"#,
            ),
            (
                r#"return cjson.encode({"x", 1.5, -3, {y=false}})"#,
                r#"["x",1.5,-3,{"y":false}]"#,
            ),
        ]);
    }

    #[test]
    fn decode_matches_redis() {
        check_all(&[
            (
                r#"local s = cjson.encode("\128\255\194\169"); return s == '"\128\255\194\169"' and 'same' or s"#,
                r#"same"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, ''); return e"#,
                r#"Expected value but found T_END at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '   '); return e"#,
                r#"Expected value but found T_END at character 4"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '[1,2'); return e"#,
                r#"Expected comma or array end but found T_END at character 5"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '[1,2,]'); return e"#,
                r#"Expected value but found T_ARR_END at character 6"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '{"a":1,}'); return e"#,
                r#"Expected object key string but found T_OBJ_END at character 8"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '{"a" 1}'); return e"#,
                r#"Expected colon but found T_NUMBER at character 6"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '{1:1}'); return e"#,
                r#"Expected object key string but found T_NUMBER at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '[1] x'); return e"#,
                r#"Expected the end but found invalid token at character 5"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"abc'); return e"#,
                r#"Expected value but found unexpected end of string at character 5"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"\\x"'); return e"#,
                r#"Expected value but found invalid escape code at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"\\u12"'); return e"#,
                r#"Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"\\u12G4"'); return e"#,
                r#"Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"\\ud800"'); return e"#,
                r#"Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"\\udc00\\ud800"'); return e"#,
                r#"Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"\\ud800\\u0041"'); return e"#,
                r#"Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"\\ud800\\ud800"'); return e"#,
                r#"Expected value but found invalid unicode escape code at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"abc\\'); return e"#,
                r#"Expected value but found invalid escape code at character 5"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '["a", "b\\q"]'); return e"#,
                r#"Expected value but found invalid escape code at character 9"#,
            ),
            (
                r#"local s = cjson.decode('"\\ud83d\\ude00"'); return s == '\240\159\152\128' and 'ok' or s"#,
                r#"ok"#,
            ),
            (
                r#"local s = cjson.decode('"\\u00e9\\u0041\\u4e2d\\/\\b\\f\\n\\r\\t\\"\\\\"'); return s == '\195\169A\228\184\173/\8\12\n\r\t"\\' and 'ok' or s"#,
                r#"ok"#,
            ),
            (
                r#"local s = cjson.decode('"\\u0000"'); return #s .. ':' .. s:byte()"#,
                r#"1:0"#,
            ),
            (
                r#"local s = cjson.decode('"\\u0080\\u07ff\\u0800\\uffff\\uDBFF\\uDFFF\\uD800\\uDC00"'); return s == '\194\128\223\191\224\160\128\239\191\191\244\143\191\191\240\144\128\128' and 'ok' or s"#,
                r#"ok"#,
            ),
            (
                r#"local s = cjson.decode('"\1\2\255"'); return s == '\1\2\255' and 'ok' or s"#,
                r#"ok"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'tru'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'nul'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'True'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'truex'); return e"#,
                r#"Expected the end but found invalid token at character 5"#,
            ),
            (
                r#"return tostring(cjson.decode('true')) .. tostring(cjson.decode(' false '))"#,
                r#"truefalse"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('1e400'))"#,
                r#"inf"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('-1e400'))"#,
                r#"-inf"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('1e-400'))"#,
                r#"0"#,
            ),
            (
                r#"local n = cjson.decode('nan'); return tostring(n ~= n)"#,
                r#"true"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('inf'))"#,
                r#"inf"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('-Infinity'))"#,
                r#"-inf"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('+inF'))"#,
                r#"inf"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('0x10'))"#,
                r#"16"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('0x1p3'))"#,
                r#"8"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('-0x1.8P1'))"#,
                r#"-3"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('+5'))"#,
                r#"5"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('007'))"#,
                r#"7"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('1.5e3'))"#,
                r#"1500"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('-0'))"#,
                r#"-0"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('0.1'))"#,
                r#"0.10000000000000001"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('123456789012345678901234567890'))"#,
                r#"1.2345678901234568e+29"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('1E2'))"#,
                r#"100"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('2.2250738585072011e-308'))"#,
                r#"2.2250738585072009e-308"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '.5'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '-'); return e"#,
                r#"Expected value but found invalid number at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '+'); return e"#,
                r#"Expected value but found invalid number at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '-a'); return e"#,
                r#"Expected value but found invalid number at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'n'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'Nx'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'infx'); return e"#,
                r#"Expected the end but found invalid token at character 4"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'nan(123)x'); return e"#,
                r#"Expected the end but found invalid token at character 9"#,
            ),
            (
                r#"return string.format('%.17g', cjson.decode('1.'))"#,
                r#"1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '1.e'); return e"#,
                r#"Expected the end but found invalid token at character 3"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '1e'); return e"#,
                r#"Expected the end but found invalid token at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '1e+'); return e"#,
                r#"Expected the end but found invalid token at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '0x'); return e"#,
                r#"Expected the end but found invalid token at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '1.5.3'); return e"#,
                r#"Expected the end but found invalid token at character 4"#,
            ),
            (r#"return cjson.decode('[1,2,3]')[3]"#, r#"3"#),
            (
                r#"return cjson.decode('{"a":{"b":[1,{"c":"d"}]}}').a.b[2].c"#,
                r#"d"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '\0x'); return e"#,
                r#"JSON parser does not support UTF-16 or UTF-32"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, 'x\0'); return e"#,
                r#"JSON parser does not support UTF-16 or UTF-32"#,
            ),
            (r#"return cjson.decode('[1]\0garbage')[1]"#, r#"1"#),
            (
                r#"return cjson.decode('7\0')"#,
                r#"ERR user_script:1: JSON parser does not support UTF-16 or UTF-32"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '"ab\0cd"'); return e"#,
                r#"Expected value but found unexpected end of string at character 4"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, string.rep('[', 1001) .. string.rep(']', 1001)); return e"#,
                r#"Found too many nested data structures (1001) at character 1001"#,
            ),
            (
                r#"return #cjson.decode(string.rep('[', 1000) .. string.rep(']', 1000))"#,
                r#"1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, string.rep('{"a":', 1001) .. '1' .. string.rep('}', 1001)); return e"#,
                r#"Found too many nested data structures (1001) at character 5001"#,
            ),
            (
                r#"cjson.decode_max_depth(100000); local ok,e = pcall(cjson.decode, string.rep('[', 10000)); return e"#,
                r#"Found too many nested data structures (7999) at character 7999"#,
            ),
            (
                r#"cjson.decode_max_depth(100000); local ok,e = pcall(cjson.decode, string.rep('{"":', 10000)); return e"#,
                r#"Found too many nested data structures (4000) at character 15997"#,
            ),
            (
                r#"cjson.decode_max_depth(100000); local ok,e = pcall(cjson.decode, string.rep('[{"":', 10000)); return e"#,
                r#"Found too many nested data structures (5333) at character 13331"#,
            ),
            (
                r#"cjson.decode_max_depth(100000); return #cjson.decode(string.rep('[', 7998) .. string.rep(']', 7998))"#,
                r#"1"#,
            ),
            (r#"return cjson.decode(5)"#, r#"5"#),
            (
                r#"local ok,e = pcall(cjson.decode); return e"#,
                r#"bad argument #1 to '?' (expected 1 argument)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, {}); return e"#,
                r#"bad argument #1 to '?' (string expected, got table)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, nil); return e"#,
                r#"bad argument #1 to '?' (string expected, got nil)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '1', 2); return e"#,
                r#"bad argument #1 to '?' (expected 1 argument)"#,
            ),
            (r#"return cjson.decode('  \t\r\n 12 \n')"#, r#"12"#),
            (
                r#"local ok,e = pcall(cjson.decode, '\f1'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '[1 2]'); return e"#,
                r#"Expected comma or array end but found T_NUMBER at character 4"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, ']'); return e"#,
                r#"Expected value but found T_ARR_END at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '{"a":}'); return e"#,
                r#"Expected value but found T_OBJ_END at character 6"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '{"a"'); return e"#,
                r#"Expected colon but found T_END at character 5"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '{'); return e"#,
                r#"Expected object key string but found T_END at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '['); return e"#,
                r#"Expected value but found T_END at character 2"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '{"a":1 "b":2}'); return e"#,
                r#"Expected comma or object end but found T_STRING at character 8"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '{"a":1,"b"}'); return e"#,
                r#"Expected colon but found T_OBJ_END at character 11"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, ':'); return e"#,
                r#"Expected value but found T_COLON at character 1"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '[1,:]'); return e"#,
                r#"Expected value but found T_COLON at character 4"#,
            ),
            (
                r#"local ok,e = pcall(cjson.decode, '[1,]'); return e"#,
                r#"Expected value but found T_ARR_END at character 4"#,
            ),
            (r#"return cjson.decode('{"a":1,"a":2}').a"#, r#"2"#),
            (
                r#"return cjson.encode(cjson.decode('{"1":1}'))"#,
                r#"{"1":1}"#,
            ),
            (
                r#"return cjson.encode(cjson.decode('[1,null,3]'))"#,
                r#"[1,null,3]"#,
            ),
            (
                r#"return cjson.encode(cjson.decode('[null]'))"#,
                r#"[null]"#,
            ),
            (
                r#"return cjson.encode(cjson.decode('{"a":null}'))"#,
                r#"{"a":null}"#,
            ),
            (
                r#"return cjson.encode(cjson.decode('[[],{},[[]],[{}]]'))"#,
                r#"[{},{},[{}],[{}]]"#,
            ),
            (
                r#"local t = cjson.decode('[1,[2,[3]],{"k":[true,false,null]}]'); return #t .. #t[2] .. t[2][2][1] .. tostring(t[3].k[1]) .. tostring(t[3].k[2]) .. type(t[3].k[3])"#,
                r#"323truefalseuserdata"#,
            ),
            (
                r#"return table.concat(cjson.decode("[0.0, -5e3, -1, 0.3e-3, 1023.2, 0e10]"), " ")"#,
                r#"0 -5000 -1 0.0003 1023.2 0"#,
            ),
            (
                r#"local decoded = cjson.decode('{"keya": "a", "keyb": "b"}') return decoded.keya .. decoded.keyb"#,
                r#"ab"#,
            ),
        ]);
    }

    #[test]
    fn configuration_matches_redis() {
        check_all(&[
            (
                r#"local a, b, c = cjson.encode_sparse_array(); return tostring(a) .. ' ' .. b .. ' ' .. c"#,
                r#"false 2 10"#,
            ),
            (
                r#"local a, b, c = cjson.encode_sparse_array(true); return tostring(a) .. ' ' .. b .. ' ' .. c"#,
                r#"true 2 10"#,
            ),
            (
                r#"local a, b, c = cjson.encode_sparse_array(true, 3, 5); return tostring(a) .. ' ' .. b .. ' ' .. c"#,
                r#"true 3 5"#,
            ),
            (
                r#"local a, b, c = cjson.encode_sparse_array('on', nil, 7); return tostring(a) .. ' ' .. b .. ' ' .. c"#,
                r#"true 2 7"#,
            ),
            (
                r#"local a, b, c = cjson.encode_sparse_array('off\0junk', 4); return tostring(a) .. ' ' .. b .. ' ' .. c"#,
                r#"false 4 10"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_sparse_array, 1); return e"#,
                r#"bad argument #1 to '?' (invalid option '1')"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_sparse_array, "x"); return e"#,
                r#"bad argument #1 to '?' (invalid option 'x')"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_sparse_array, {}); return e"#,
                r#"bad argument #1 to '?' (string expected, got table)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_sparse_array, nil, -1); return e"#,
                r#"bad argument #1 to '?' (expected integer between 0 and 2147483647)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_sparse_array, nil, "a"); return e"#,
                r#"bad argument #2 to '?' (number expected, got string)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_sparse_array, 1, 2, 3, 4); return e"#,
                r#"bad argument #4 to '?' (found too many arguments)"#,
            ),
            (
                r#"pcall(cjson.encode_sparse_array, true, -1); local a, b, c = cjson.encode_sparse_array(); return tostring(a) .. ' ' .. b .. ' ' .. c"#,
                r#"true 2 10"#,
            ),
            (
                r#"cjson.encode_sparse_array(true); local s = cjson.encode({[1]=1,[20]=2}); return tostring(s == '{"1":1,"20":2}' or s == '{"20":2,"1":1}')"#,
                r#"true"#,
            ),
            (
                r#"cjson.encode_sparse_array(false, 0); return cjson.encode({[1]=1,[20]=2})"#,
                r#"[1,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,null,2]"#,
            ),
            (
                r#"cjson.encode_sparse_array(false, 1, 0); return cjson.encode({[2]=1})"#,
                r#"ERR user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (
                r#"cjson.encode_sparse_array(true, 1, 0); return cjson.encode({[2]=1})"#,
                r#"{"2":1}"#,
            ),
            (
                r#"cjson.encode_sparse_array(false, 1, 0); return cjson.encode({[1]=1, [2]=2})"#,
                r#"[1,2]"#,
            ),
            (
                r#"cjson.encode_sparse_array(false, 2147483647, 0); return cjson.encode({[3]=1, [4]=2})"#,
                r#"ERR user_script:1: Cannot serialise table: excessively sparse array"#,
            ),
            (r#"return cjson.encode_max_depth()"#, r#"1000"#),
            (r#"return cjson.encode_max_depth(5)"#, r#"5"#),
            (
                r#"local ok,e = pcall(cjson.encode_max_depth, 0); return e"#,
                r#"bad argument #1 to '?' (expected integer between 1 and 2147483647)"#,
            ),
            (r#"return cjson.encode_max_depth(2.5)"#, r#"2"#),
            (
                r#"cjson.encode_max_depth("3"); return cjson.encode_max_depth()"#,
                r#"3"#,
            ),
            (r#"return cjson.encode_max_depth(4294967297)"#, r#"1"#),
            (
                r#"cjson.encode_max_depth(2); local ok,e = pcall(cjson.encode, {{{1}}}); return e"#,
                r#"Cannot serialise, excessive nesting (3)"#,
            ),
            (
                r#"cjson.encode_max_depth(2); return cjson.encode({{1}})"#,
                r#"[[1]]"#,
            ),
            (r#"return cjson.decode_max_depth()"#, r#"1000"#),
            (
                r#"cjson.decode_max_depth(2); local ok,e = pcall(cjson.decode, '[[[1]]]'); return e"#,
                r#"Found too many nested data structures (3) at character 3"#,
            ),
            (
                r#"cjson.decode_max_depth(2); return cjson.encode(cjson.decode('[[1]]'))"#,
                r#"[[1]]"#,
            ),
            (r#"return cjson.encode_number_precision()"#, r#"14"#),
            (
                r#"local ok,e = pcall(cjson.encode_number_precision, 15); return e"#,
                r#"bad argument #1 to '?' (expected integer between 1 and 14)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_number_precision, 0); return e"#,
                r#"bad argument #1 to '?' (expected integer between 1 and 14)"#,
            ),
            (
                r#"cjson.encode_number_precision(3); return cjson.encode(math.pi)"#,
                r#"3.14"#,
            ),
            (
                r#"cjson.encode_number_precision(1); return cjson.encode({[12.5]=1234})"#,
                r#"{"1e+01":1e+03}"#,
            ),
            (
                r#"cjson.encode_number_precision(14); return cjson.encode(math.pi)"#,
                r#"3.1415926535898"#,
            ),
            (r#"return tostring(cjson.encode_keep_buffer())"#, r#"true"#),
            (
                r#"return tostring(cjson.encode_keep_buffer(false))"#,
                r#"false"#,
            ),
            (
                r#"return tostring(cjson.encode_keep_buffer("off"))"#,
                r#"false"#,
            ),
            (
                r#"return tostring(cjson.encode_keep_buffer("on"))"#,
                r#"true"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_keep_buffer, "x"); return e"#,
                r#"bad argument #1 to '?' (invalid option 'x')"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_keep_buffer, 1); return e"#,
                r#"bad argument #1 to '?' (invalid option '1')"#,
            ),
            (
                r#"cjson.encode_keep_buffer(false); return cjson.encode({1, 'a'})"#,
                r#"[1,"a"]"#,
            ),
            (
                r#"return tostring(cjson.encode_invalid_numbers())"#,
                r#"false"#,
            ),
            (
                r#"return tostring(cjson.encode_invalid_numbers("null"))"#,
                r#"null"#,
            ),
            (
                r#"cjson.encode_invalid_numbers("null"); return cjson.encode({1/0, -1/0, 0/0})"#,
                r#"[null,null,null]"#,
            ),
            (
                r#"cjson.encode_invalid_numbers("null"); return cjson.encode({[1/0]=1})"#,
                r#"{"null":1}"#,
            ),
            (
                r#"cjson.encode_invalid_numbers(true); return cjson.encode({1/0, -1/0, 0/0, -(0/0)})"#,
                r#"[inf,-inf,nan,nan]"#,
            ),
            (
                r#"cjson.encode_invalid_numbers(true); return tostring(cjson.encode_invalid_numbers())"#,
                r#"true"#,
            ),
            (
                r#"cjson.encode_invalid_numbers("on"); return tostring(cjson.encode_invalid_numbers())"#,
                r#"true"#,
            ),
            (
                r#"cjson.encode_invalid_numbers("null"); return tostring(cjson.encode_invalid_numbers(false))"#,
                r#"false"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_invalid_numbers, "x"); return e"#,
                r#"bad argument #1 to '?' (invalid option 'x')"#,
            ),
            (
                r#"return tostring(cjson.decode_invalid_numbers())"#,
                r#"true"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, 'nan'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, '0x10'); return e"#,
                r#"Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, '+1'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, '-inf'); return e"#,
                r#"Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, 'inf'); return e"#,
                r#"Expected value but found invalid token at character 1"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, '01'); return e"#,
                r#"Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); return string.format('%.17g', cjson.decode('[0, -0.5, 10]')[2])"#,
                r#"-0.5"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, '-'); return e"#,
                r#"Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, '-01'); return e"#,
                r#"Expected value but found invalid number at character 1"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); local ok,e = pcall(cjson.decode, '[1, 0x1]'); return e"#,
                r#"Expected value but found invalid number at character 5"#,
            ),
            (
                r#"cjson.decode_invalid_numbers(false); return cjson.decode('-0.5e1')"#,
                r#"-5"#,
            ),
            (r#"return type(cjson.new)"#, r#"function"#),
            (
                r#"local c2 = cjson.new(); c2.encode_max_depth(1); return cjson.encode_max_depth() .. ' ' .. c2.encode_max_depth() .. ' ' .. c2.encode({1})"#,
                r#"1000 1 [1]"#,
            ),
            (
                r#"local c2 = cjson.new(); c2.encode_max_depth(1); local ok, e = pcall(c2.encode, {{}}); return e"#,
                r#"Cannot serialise, excessive nesting (2)"#,
            ),
            (
                r#"return type(cjson.new().null) .. tostring(cjson.new().null == cjson.null)"#,
                r#"userdatatrue"#,
            ),
            (r#"return type(cjson.refuse_invalid_numbers)"#, r#"nil"#),
            (
                r#"local ok,e = pcall(cjson.encode_max_depth, 1, 2); return e"#,
                r#"bad argument #2 to '?' (found too many arguments)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_number_precision, "a"); return e"#,
                r#"bad argument #1 to '?' (number expected, got string)"#,
            ),
            (
                r#"local ok,e = pcall(cjson.encode_max_depth, 2147483648); return e"#,
                r#"bad argument #1 to '?' (expected integer between 1 and 2147483647)"#,
            ),
            (
                r#"return cjson.encode_max_depth(2147483647)"#,
                r#"2147483647"#,
            ),
            (
                r#"return cjson.encode_max_depth(-1.5)"#,
                r#"ERR user_script:1: bad argument #1 to 'encode_max_depth' (expected integer between 1 and 2147483647)"#,
            ),
        ]);
    }
}
