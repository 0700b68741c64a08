//! The four libraries Redis 7.0 gives scripts, rebuilt in Rust for Luau:
//! `cjson` (lua-cjson 2.1.0), `cmsgpack` (lua-cmsgpack 0.4.0), `bit`
//! (LuaBitOp 1.0.2) and `struct` (Roberto Ierusalimschy's struct.c 1.7).
//!
//! Each is a global table whose functions give the results and the error
//! texts of the C originals as built into redis-server 7.0.15 on x86-64,
//! under the Lua 5.1 rules around them: numbers and numeric strings coerce
//! into each other, a number prints as `%.14g`, and a C cast of an
//! out-of-range double gives what the x86 conversion instructions give.
//! The unit tests compare against replies of a real redis-server.
//!
//! Errors are plain strings, as in Redis, so a script's `pcall` sees the
//! text. An mlua callback can only raise userdata errors, so every library
//! function is a tiny Lua wrapper around its Rust body: the body returns
//! `true, results...` or `false, message, level`, and the wrapper raises
//! `error(message, level)`. Level 3 names the script line that called the
//! library (what `luaL_error` does in Lua 5.1: `user_script:1: ...`, or no
//! position when the caller is `pcall`); level 0 is for errors the Lua 5.1
//! core raises inside a C function, which carry no position.
//!
//! Differences from Redis that remain, all deliberate:
//! * the iteration order of a table's hash part is Luau's, so objects and
//!   maps with several keys may list them in another order than Lua 5.1;
//! * `bad argument #n to 'name'` uses the library's function name (or `?`
//!   when called from C, e.g. by `pcall`), where Lua 5.1 uses the name at
//!   the call site, so `local f = bit.tobit; f({})` says `'tobit'`, not `'f'`;
//! * `cjson.null` prints as Luau prints a NULL light userdata;
//! * `cjson.encode` and `cmsgpack.pack` stop at 512 MiB of output with
//!   Lua's memory error (`MAX_OUTPUT`), where the C code grows until malloc
//!   fails: a table referenced many times over would otherwise keep a VM
//!   busy for ever, and a Rust call cannot be interrupted;
//! * `struct.pack` does not see the temporary strings C's `luaL_Buffer`
//!   leaves on the stack past 8 KiB of output (in Lua 5.1 they can take
//!   the place of missing arguments and change the error text).

pub mod bit;
pub mod cjson;
pub mod cmsgpack;
pub mod structlib;

use std::ops::Deref;

use mlua::{BorrowedBytes, Function, Lua, MultiValue, Value};

/// Registers the globals `cjson`, `cmsgpack`, `bit` and `struct` in `lua`.
///
/// Each call builds fresh tables with their own state (the `cjson`
/// configuration lives as long as the VM, as in Redis, where it survives
/// from one script to the next until `SCRIPT FLUSH` rebuilds the VM).
/// The tables are left writable; freezing them is the caller's business.
pub fn register_all(lua: &Lua) -> mlua::Result<()> {
    cjson::register(lua)?;
    structlib::register(lua)?;
    cmsgpack::register(lua)?;
    bit::register(lua)?;
    Ok(())
}

/// `LUAI_MAXCSTACK` of Lua 5.1: how many stack slots a C function may use.
/// Redis's libraries fail with `stack overflow (...)` past it, and so do
/// these ports, at the same counts.
pub(crate) const LUA_MAX_C_STACK: usize = 8000;

/// Why a library function failed.
pub(crate) enum LibError {
    /// Raised like `luaL_error`: the message gets the caller's position.
    Raise(Vec<u8>),
    /// `luaL_argerror`: `bad argument #<index> to '<name>' (<msg>)`, where
    /// the name is the caller's name for the function (see `WRAPPER`).
    Arg {
        index: usize,
        name: &'static str,
        msg: Vec<u8>,
    },
    /// Raised by the Lua 5.1 core inside a C function: no position.
    Bare(Vec<u8>),
    /// A failure of the VM itself (e.g. out of memory), passed on as is.
    Lua(mlua::Error),
}

impl From<mlua::Error> for LibError {
    fn from(e: mlua::Error) -> Self {
        LibError::Lua(e)
    }
}

pub(crate) type LibResult<T> = Result<T, LibError>;

/// The largest string `cjson.encode` and `cmsgpack.pack` build (Redis's
/// `proto-max-bulk-len`). The C code grows its buffer until malloc fails,
/// so a table referenced many times over (cycles are cut only by the depth
/// limits) can make it work for ever; here the output stops at this size
/// with Lua's out-of-memory error, which also bounds the time spent.
pub(crate) const MAX_OUTPUT: usize = if cfg!(test) { 2 << 20 } else { 512 << 20 };

/// The failure when an output would pass `MAX_OUTPUT`.
pub(crate) fn output_too_large() -> LibError {
    LibError::Lua(mlua::Error::MemoryError("not enough memory".to_owned()))
}

/// A `luaL_error`-style failure.
pub(crate) fn raise(msg: impl Into<Vec<u8>>) -> LibError {
    LibError::Raise(msg.into())
}

/// `luaL_checkstack`'s failure text.
pub(crate) fn stack_overflow(what: &str) -> LibError {
    raise(format!("stack overflow ({what})"))
}

/// The wrapper described in the module documentation, compiled once per
/// `register` call and applied to each Rust body.
///
/// An argument error comes as `message, level, name, rest`. Lua 5.1 names
/// the function as the calling code did; Luau keeps no call-site names, so
/// the library's own name stands in (what `bit.tobit(x)` gives in Redis
/// too), except that a C caller (`pcall(bit.tobit, x)`) makes it `'?'`.
const WRAPPER: &str = r#"
local error = error
local info = debug and debug.info
return function(body)
    local function check(ok, ...)
        if ok then
            return ...
        end
        local message, level, name, rest = ...
        if name then
            -- Level 3 is the caller of the library function.
            if info and info(3, "s") == "[C]" then
                name = "?"
            end
            message = message .. name .. rest
        end
        error(message, level)
    end
    return function(...)
        return check(body(...))
    end
end
"#;

/// Builds library functions for one library table.
pub(crate) struct Builder<'lua> {
    lua: &'lua Lua,
    wrap: Function,
}

impl<'lua> Builder<'lua> {
    pub(crate) fn new(lua: &'lua Lua) -> mlua::Result<Self> {
        let wrap = lua.load(WRAPPER).set_name("=libs").call::<Function>(())?;
        Ok(Builder { lua, wrap })
    }

    /// A Lua function named `name` (for argument errors) running `body`.
    pub(crate) fn function<F>(&self, name: &'static str, body: F) -> mlua::Result<Function>
    where
        F: Fn(&Lua, &Args) -> LibResult<MultiValue> + 'static,
    {
        let raw = self.lua.create_function(move |lua, args: MultiValue| {
            let args = Args {
                values: args.into_vec(),
                name,
            };
            match body(lua, &args) {
                Ok(mut results) => {
                    results.push_front(Value::Boolean(true));
                    Ok(results)
                }
                Err(LibError::Raise(msg)) => failure(lua, &msg, 3, None),
                Err(LibError::Bare(msg)) => failure(lua, &msg, 0, None),
                Err(LibError::Arg { index, name, msg }) => {
                    let head = format!("bad argument #{index} to '");
                    let mut rest = b"' (".to_vec();
                    rest.extend_from_slice(&msg);
                    rest.push(b')');
                    failure(lua, head.as_bytes(), 3, Some((name, &rest)))
                }
                Err(LibError::Lua(e)) => Err(e),
            }
        })?;
        self.wrap.call::<Function>(raw)
    }
}

/// The body's failure: `false, message, level[, name, rest]`.
fn failure(
    lua: &Lua,
    msg: &[u8],
    level: i32,
    name: Option<(&str, &[u8])>,
) -> mlua::Result<MultiValue> {
    let mut values = vec![
        Value::Boolean(false),
        Value::String(lua.create_string(msg)?),
        Value::Number(f64::from(level)),
    ];
    if let Some((name, rest)) = name {
        values.push(Value::String(lua.create_string(name)?));
        values.push(Value::String(lua.create_string(rest)?));
    }
    Ok(MultiValue::from_vec(values))
}

/// The arguments of a library call, with the checks of Lua 5.1's
/// auxiliary library (`luaL_check*`). Indexes are 1-based like Lua's.
pub(crate) struct Args {
    values: Vec<Value>,
    name: &'static str,
}

impl Args {
    /// `lua_gettop`.
    pub(crate) fn len(&self) -> usize {
        self.values.len()
    }

    /// The argument at `i`, `None` past the last one (Lua's "no value").
    pub(crate) fn get(&self, i: usize) -> Option<&Value> {
        i.checked_sub(1).and_then(|i| self.values.get(i))
    }

    /// `lua_isnoneornil`.
    pub(crate) fn is_none_or_nil(&self, i: usize) -> bool {
        matches!(self.get(i), None | Some(Value::Nil))
    }

    /// `luaL_argerror`: `bad argument #i to 'name' (msg)`.
    pub(crate) fn arg_error(&self, i: usize, msg: impl AsRef<[u8]>) -> LibError {
        LibError::Arg {
            index: i,
            name: self.name,
            msg: msg.as_ref().to_vec(),
        }
    }

    /// `luaL_typerror`: `bad argument #i to 'name' (T expected, got U)`.
    pub(crate) fn type_error(&self, i: usize, expected: &str) -> LibError {
        self.type_error_for(i, expected, self.get(i))
    }

    /// `luaL_typerror` when the value at `i` is `got` (`None`: no value).
    pub(crate) fn type_error_for(&self, i: usize, expected: &str, got: Option<&Value>) -> LibError {
        let got = got.map_or("no value", type_name);
        self.arg_error(i, format!("{expected} expected, got {got}"))
    }

    /// `luaL_checknumber`.
    pub(crate) fn check_number(&self, i: usize) -> LibResult<f64> {
        self.get(i)
            .and_then(to_number)
            .ok_or_else(|| self.type_error(i, "number"))
    }

    /// `luaL_checkinteger`: the number truncated like a C cast to `long`.
    pub(crate) fn check_integer(&self, i: usize) -> LibResult<i64> {
        self.check_number(i).map(c_double_to_long)
    }

    /// `luaL_optinteger`.
    pub(crate) fn opt_integer(&self, i: usize, default: i64) -> LibResult<i64> {
        if self.is_none_or_nil(i) {
            Ok(default)
        } else {
            self.check_integer(i)
        }
    }

    /// `luaL_checklstring`: a string, or a number written as `%.14g`.
    pub(crate) fn check_bytes(&self, i: usize) -> LibResult<Bytes> {
        match self.get(i) {
            Some(Value::String(s)) => Ok(Bytes::Lua(s.as_bytes())),
            Some(v) => match number_value(v) {
                Some(n) => Ok(Bytes::Owned(number_to_string(n).into_bytes())),
                None => Err(self.type_error(i, "string")),
            },
            None => Err(self.type_error(i, "string")),
        }
    }
}

/// The bytes of a string argument: borrowed from Lua, or the text of a
/// number argument.
pub(crate) enum Bytes {
    Lua(BorrowedBytes),
    Owned(Vec<u8>),
}

impl Deref for Bytes {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        match self {
            Bytes::Lua(b) => b,
            Bytes::Owned(v) => v,
        }
    }
}

/// The bytes up to the first NUL, which is where C's string functions
/// (and so `luaL_checkstring` users) see the end.
pub(crate) fn c_str(bytes: &[u8]) -> &[u8] {
    match bytes.iter().position(|&b| b == 0) {
        Some(end) => &bytes[..end],
        None => bytes,
    }
}

/// Lua 5.1's type names (`lua_typename`); light userdata is "userdata".
pub(crate) fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Nil => "nil",
        Value::Boolean(_) => "boolean",
        Value::Integer(_) | Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Table(_) => "table",
        Value::Function(_) => "function",
        Value::Thread(_) => "thread",
        Value::Vector(_) => "vector",
        Value::Buffer(_) => "buffer",
        _ => "userdata",
    }
}

/// The number a value holds, if it is a number (no string coercion).
pub(crate) fn number_value(v: &Value) -> Option<f64> {
    match v {
        // mlua only makes an Integer of a double it represents exactly.
        Value::Integer(i) => Some(*i as f64),
        Value::Number(n) => Some(*n),
        _ => None,
    }
}

/// `lua_tonumber` / `lua_isnumber` of Lua 5.1: numbers, and strings that
/// convert (`luaO_str2d`: `strtod`, surrounding white space allowed).
pub(crate) fn to_number(v: &Value) -> Option<f64> {
    match v {
        Value::String(s) => str_to_number(&s.as_bytes()),
        v => number_value(v),
    }
}

/// `luaO_str2d`: the whole C string must be one `strtod` number, with
/// optional white space around it.
pub(crate) fn str_to_number(bytes: &[u8]) -> Option<f64> {
    let s = c_str(bytes);
    let (value, used) = strtod(s)?;
    let rest = &s[used..];
    // A trailing 'x' sends Lua to strtoul(s, 16), which cannot succeed
    // where glibc's strtod (hex-aware) stopped; the rest must be blanks.
    if rest.iter().all(|&b| is_c_space(b)) {
        Some(value)
    } else {
        None
    }
}

/// `lua_Number2str`: `%.14g`.
pub(crate) fn number_to_string(n: f64) -> String {
    crate::util::numbers::format_double_g(n, 14)
}

/// C's `isspace` in the C locale.
pub(crate) fn is_c_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | 0x0b | 0x0c | b'\r')
}

/// A C cast `(long)d` (or `(lua_Integer)d`) as x86-64 does it
/// (`cvttsd2si`): truncation, and `LONG_MIN` for NaN and out-of-range
/// values.
pub(crate) fn c_double_to_long(d: f64) -> i64 {
    if (-9_223_372_036_854_775_808.0..9_223_372_036_854_775_808.0).contains(&d) {
        d as i64
    } else {
        i64::MIN
    }
}

/// A C cast `(int)d` on x86-64: truncation, `INT_MIN` when out of range.
pub(crate) fn c_double_to_int(d: f64) -> i32 {
    if d > -2_147_483_649.0 && d < 2_147_483_648.0 {
        d as i32
    } else {
        i32::MIN
    }
}

/// A C cast `(unsigned long)d` (or `(size_t)d`) as GCC compiles it for
/// x86-64: values from 2^63 up are converted after subtracting 2^63.
pub(crate) fn c_double_to_ulong(d: f64) -> u64 {
    const TWO_63: f64 = 9_223_372_036_854_775_808.0;
    if d >= TWO_63 {
        (c_double_to_long(d - TWO_63) as u64) ^ (1 << 63)
    } else {
        c_double_to_long(d) as u64
    }
}

/// glibc's `strtod` on the start of `s` (which the caller has cut at a
/// NUL, or which contains none that matters): leading white space, a
/// sign, then a decimal number, a hexadecimal one (`0x1.8p3`), `inf`,
/// `infinity` or `nan[(chars)]`, all case-insensitive. Returns the value
/// and how many bytes make it, or `None` when no number starts there.
/// Overflow gives an infinity and underflow zero, as strtod returns them
/// (callers here ignore `errno`, as the C code does).
pub(crate) fn strtod(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    while is_c_space(at(i)) {
        i += 1;
    }
    let negative = at(i) == b'-';
    if matches!(at(i), b'+' | b'-') {
        i += 1;
    }
    let sign = |v: f64| if negative { -v } else { v };
    let rest = s.get(i..).unwrap_or(&[]);
    if starts_with_ignore_case(rest, b"inf") {
        let len = if starts_with_ignore_case(rest, b"infinity") {
            8
        } else {
            3
        };
        return Some((sign(f64::INFINITY), i + len));
    }
    if starts_with_ignore_case(rest, b"nan") {
        let mut len = 3;
        if at(i + 3) == b'(' {
            let mut j = i + 4;
            while at(j).is_ascii_alphanumeric() || at(j) == b'_' {
                j += 1;
            }
            if at(j) == b')' {
                len = j + 1 - i;
            }
        }
        return Some((sign(f64::NAN), i + len));
    }
    if at(i) == b'0' && matches!(at(i + 1), b'x' | b'X') {
        if let Some((v, len)) = hex_float(s.get(i + 2..).unwrap_or(&[])) {
            return Some((sign(v), i + 2 + len));
        }
        // "0x" without hex digits: just the "0".
    }
    let start = i;
    let mut digits = 0;
    while at(i).is_ascii_digit() {
        i += 1;
        digits += 1;
    }
    if at(i) == b'.' {
        let dot = i;
        i += 1;
        while at(i).is_ascii_digit() {
            i += 1;
            digits += 1;
        }
        if digits == 0 {
            i = dot;
        }
    }
    if digits == 0 {
        return None;
    }
    if matches!(at(i), b'e' | b'E') {
        let mut j = i + 1;
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            while at(j).is_ascii_digit() {
                j += 1;
            }
            i = j;
        }
    }
    // The scanned text is ASCII in Rust's float grammar, whose parser is
    // correctly rounded like glibc's.
    let text = std::str::from_utf8(&s[start..i]).ok()?;
    let v: f64 = text.parse().ok()?;
    Some((sign(v), i))
}

fn starts_with_ignore_case(s: &[u8], prefix: &[u8]) -> bool {
    s.len() >= prefix.len() && s[..prefix.len()].eq_ignore_ascii_case(prefix)
}

/// The body of a hexadecimal float after `0x`: hex digits with an optional
/// point, then an optional binary exponent `p[+-]digits`. Correctly
/// rounded (to nearest, ties to even), including subnormals.
fn hex_float(s: &[u8]) -> Option<(f64, usize)> {
    let at = |i: usize| s.get(i).copied().unwrap_or(0);
    let mut i = 0;
    let mut mantissa: u64 = 0;
    let mut sticky = false;
    // Binary exponent adjustment for digits not kept in `mantissa` (int
    // part) or kept after the point (fraction part).
    let mut exp: i64 = 0;
    let mut digits = 0;
    let mut seen_point = false;
    loop {
        let c = at(i);
        let d = match c {
            b'0'..=b'9' => c - b'0',
            b'a'..=b'f' => c - b'a' + 10,
            b'A'..=b'F' => c - b'A' + 10,
            b'.' if !seen_point => {
                seen_point = true;
                i += 1;
                continue;
            }
            _ => break,
        };
        digits += 1;
        if mantissa >> 60 == 0 {
            mantissa = (mantissa << 4) | u64::from(d);
            if seen_point {
                exp -= 4;
            }
        } else {
            sticky |= d != 0;
            if !seen_point {
                exp += 4;
            }
        }
        i += 1;
    }
    if digits == 0 {
        return None;
    }
    if matches!(at(i), b'p' | b'P') {
        let mut j = i + 1;
        let negative = at(j) == b'-';
        if matches!(at(j), b'+' | b'-') {
            j += 1;
        }
        if at(j).is_ascii_digit() {
            let mut e: i64 = 0;
            while at(j).is_ascii_digit() {
                e = (e * 10 + i64::from(at(j) - b'0')).min(1 << 40);
                j += 1;
            }
            exp += if negative { -e } else { e };
            i = j;
        }
    }
    Some((round_binary(mantissa, sticky, exp), i))
}

/// `mantissa * 2^exp` rounded to the nearest double (ties to even), where
/// `sticky` says that non-zero bits were dropped below `mantissa`.
fn round_binary(mantissa: u64, sticky: bool, exp: i64) -> f64 {
    if mantissa == 0 {
        return 0.0;
    }
    let lz = i64::from(mantissa.leading_zeros());
    let m = mantissa << lz;
    let e = exp - lz; // value = m * 2^e, m in [2^63, 2^64)
    let top = e + 63; // exponent of the leading bit
    if top > 1023 {
        return f64::INFINITY;
    }
    // Keep 53 bits, fewer for subnormals (least exponent -1074).
    let shift = 11 + (-1022 - top).max(0);
    let (mut q, rem_above_half, rem_is_half) = if shift >= 65 {
        (0, false, false)
    } else if shift == 64 {
        let half = 1u64 << 63;
        (0, m > half, m == half)
    } else {
        let half = 1u64 << (shift - 1);
        let rem = m & ((1u64 << shift) - 1);
        (m >> shift, rem > half, rem == half)
    };
    if rem_above_half || (rem_is_half && (sticky || q & 1 == 1)) {
        q += 1;
    }
    let scale = e + shift; // result = q * 2^scale, q <= 2^53
    if q == 0 {
        return 0.0;
    }
    if scale > 1023 {
        return f64::INFINITY;
    }
    (q as f64) * pow2(scale)
}

/// 2^e for -1074 <= e <= 1023, exactly.
fn pow2(e: i64) -> f64 {
    if e >= -1022 {
        f64::from_bits(((e + 1023) as u64) << 52)
    } else {
        f64::from_bits(1u64 << (e + 1074).max(0))
    }
}

#[cfg(test)]
pub(crate) mod testing {
    //! Runs snippets the way a script would and renders their results.

    use mlua::{Lua, MultiValue, Value};

    /// A VM with the four libraries.
    pub(crate) fn vm() -> Lua {
        let lua = Lua::new();
        super::register_all(&lua).expect("register");
        lua
    }

    /// Runs `src` as a chunk named like Redis's scripts and renders its
    /// first result: strings as they are, numbers as Lua prints them, or
    /// `ERR <message>` when it raised.
    pub(crate) fn run(lua: &Lua, src: &str) -> String {
        match lua.load(src).set_name("=user_script").eval::<MultiValue>() {
            Ok(values) => match values.into_iter().next() {
                Some(Value::String(s)) => String::from_utf8_lossy(&s.as_bytes()).into_owned(),
                Some(Value::Integer(i)) => i.to_string(),
                Some(Value::Number(n)) => crate::util::numbers::format_double_g(n, 17),
                Some(Value::Boolean(b)) => b.to_string(),
                Some(Value::Nil) | None => "nil".to_owned(),
                Some(other) => format!("<{}>", other.type_name()),
            },
            Err(e) => format!("ERR {}", error_text(&e)),
        }
    }

    fn error_text(e: &mlua::Error) -> String {
        match e {
            mlua::Error::RuntimeError(m) => m.lines().next().unwrap_or("").to_owned(),
            mlua::Error::CallbackError { cause, .. } => error_text(cause),
            other => other.to_string(),
        }
    }

    /// Checks each `(snippet, expected)` pair in a fresh VM, reporting all
    /// mismatches at once.
    pub(crate) fn check_all(cases: &[(&str, &str)]) {
        let mut failures = Vec::new();
        for (src, expected) in cases {
            let got = run(&vm(), src);
            if got != *expected {
                failures.push(format!(
                    "{src}\n   expected: {expected}\n   got:      {got}"
                ));
            }
        }
        assert!(failures.is_empty(), "\n{}", failures.join("\n"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_g_matches_printf() {
        let cases: &[(f64, usize, &str)] = &[
            (0.0, 14, "0"),
            (-0.0, 14, "-0"),
            (1.0 / 3.0, 14, "0.33333333333333"),
            (1e300, 14, "1e+300"),
            (2f64.powi(53), 14, "9.007199254741e+15"),
            (123456789012345.0, 14, "1.2345678901234e+14"),
            (12345678901234.0, 14, "12345678901234"),
            (1e-5, 14, "1e-05"),
            (0.0001, 14, "0.0001"),
            (1.23456, 3, "1.23"),
            (12.5, 1, "1e+01"),
            (1234.0, 1, "1e+03"),
            (0.5, 1, "0.5"),
            (9.5, 1, "1e+01"),
            (100.0, 3, "100"),
            (1000.0, 3, "1e+03"),
            (f64::INFINITY, 14, "inf"),
            (f64::NEG_INFINITY, 14, "-inf"),
            (1.5e-300, 14, "1.5e-300"),
        ];
        for &(v, p, want) in cases {
            assert_eq!(
                crate::util::numbers::format_double_g(v, p),
                want,
                "{v} %.{p}g"
            );
        }
    }

    #[test]
    fn strtod_prefixes() {
        let cases: &[(&str, Option<(f64, usize)>)] = &[
            ("12abc", Some((12.0, 2))),
            ("  -1.5e3x", Some((-1500.0, 8))),
            ("1.", Some((1.0, 2))),
            (".5", Some((0.5, 2))),
            ("1e", Some((1.0, 1))),
            ("1e+", Some((1.0, 1))),
            ("1.e5", Some((1e5, 4))),
            ("0x10", Some((16.0, 4))),
            ("0x", Some((0.0, 1))),
            ("0x1p3", Some((8.0, 5))),
            ("0X.8P1", Some((1.0, 6))),
            ("0x1p", Some((1.0, 3))),
            ("-0x10", Some((-16.0, 5))),
            ("infinity", Some((f64::INFINITY, 8))),
            ("-INFx", Some((f64::NEG_INFINITY, 4))),
            ("1e400", Some((f64::INFINITY, 5))),
            ("1e-400", Some((0.0, 6))),
            ("-", None),
            ("-a", None),
            (".", None),
            ("", None),
            ("e5", None),
        ];
        for (s, want) in cases {
            assert_eq!(strtod(s.as_bytes()), *want, "{s}");
        }
        let (nan, len) = strtod(b"nan(12_ab)x").unwrap();
        assert!(nan.is_nan() && len == 10);
        let (nan, len) = strtod(b"NaN(").unwrap();
        assert!(nan.is_nan() && len == 3);
    }

    #[test]
    fn hex_floats_round_correctly() {
        // 2^-1074 and below.
        assert_eq!(strtod(b"0x1p-1074").unwrap().0, f64::from_bits(1));
        assert_eq!(strtod(b"0x1p-1075").unwrap().0, 0.0);
        assert_eq!(strtod(b"0x1.8p-1075").unwrap().0, f64::from_bits(1));
        assert_eq!(strtod(b"0x1.fffffffffffff8p0").unwrap().0, 2.0);
        assert_eq!(
            strtod(b"0x1.fffffffffffff7ffp0").unwrap().0,
            2.0 - f64::EPSILON
        );
        assert_eq!(strtod(b"0x1.00000000000008p0").unwrap().0, 1.0);
        assert_eq!(
            strtod(b"0x1.000000000000080000001p0").unwrap().0,
            1.0 + f64::EPSILON
        );
        assert_eq!(strtod(b"0x1p1024").unwrap().0, f64::INFINITY);
        assert_eq!(strtod(b"0x1.fffffffffffffp1023").unwrap().0, f64::MAX);
        assert_eq!(
            strtod(b"0x123456789abcdef0123p-40").unwrap().0,
            0x0123_4567_89ab_cdef_0123_u128 as f64 / 2f64.powi(40)
        );
    }

    #[test]
    fn lua51_number_coercion() {
        assert_eq!(str_to_number(b"  12  "), Some(12.0));
        assert_eq!(str_to_number(b" 1e2"), Some(100.0));
        assert_eq!(str_to_number(b"0x10"), Some(16.0));
        assert_eq!(str_to_number(b"12\0abc"), Some(12.0));
        assert_eq!(str_to_number(b"0x"), None);
        assert_eq!(str_to_number(b"abc"), None);
        assert_eq!(str_to_number(b""), None);
        assert_eq!(str_to_number(b"1 2"), None);
    }

    #[test]
    fn c_casts_like_x86() {
        assert_eq!(c_double_to_long(1e30), i64::MIN);
        assert_eq!(c_double_to_long(f64::NAN), i64::MIN);
        assert_eq!(c_double_to_long(-2.9), -2);
        assert_eq!(c_double_to_int(2147483648.0), i32::MIN);
        assert_eq!(c_double_to_int(-2147483648.9), i32::MIN);
        assert_eq!(c_double_to_int(-2147483649.0), i32::MIN);
        assert_eq!(c_double_to_int(-7.9), -7);
        assert_eq!(c_double_to_ulong(2f64.powi(63)), 1 << 63);
        assert_eq!(c_double_to_ulong(2f64.powi(64)), 0);
        assert_eq!(c_double_to_ulong(f64::INFINITY), 0);
        assert_eq!(c_double_to_ulong(f64::NAN), 1 << 63);
        assert_eq!(c_double_to_ulong(-1.0), u64::MAX);
    }

    /// Random, mostly malformed input to every parser: errors are fine,
    /// panics are not.
    #[test]
    fn hostile_inputs_never_panic() {
        let lua = testing::vm();
        let mut state: u64 = 0x9E37_79B9_7F4A_7C15;
        let mut next = move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state
        };
        let json_alphabet: &[u8] = b"[]{}\":,0123456789-+.eEtrufalsn\\u \0xXinfINFaAbBpP\xff";
        let fmt_alphabet: &[u8] = b"<>!xbBhHlLTiIcsfd 0123456789#";
        let script = lua
            .load(
                r#"
                local s, fmt = ...
                pcall(cjson.decode, s)
                pcall(cmsgpack.unpack, s)
                pcall(cmsgpack.unpack_limit, s, 3, 1)
                pcall(struct.unpack, fmt, s)
                pcall(struct.unpack, fmt, s, 2)
                pcall(struct.pack, fmt, 1, 'abc', -2.5, 1e300, 'x', 0/0)
                pcall(struct.size, fmt)
                pcall(bit.tohex, s, s)
                local ok, t = pcall(cmsgpack.unpack, s)
                if ok then pcall(cjson.encode, t) pcall(cmsgpack.pack, t) end
                ok, t = pcall(cjson.decode, s)
                if ok then pcall(cjson.encode, t) pcall(cmsgpack.pack, t) end
            "#,
            )
            .into_function()
            .expect("compile");
        for round in 0..4000 {
            let len = (next() % 48) as usize;
            let bytes: Vec<u8> = (0..len)
                .map(|_| {
                    let r = next();
                    if round % 2 == 0 {
                        json_alphabet[(r % json_alphabet.len() as u64) as usize]
                    } else {
                        r as u8
                    }
                })
                .collect();
            let flen = (next() % 12) as usize;
            let fmt: Vec<u8> = (0..flen)
                .map(|_| fmt_alphabet[(next() % fmt_alphabet.len() as u64) as usize])
                .collect();
            let s = lua.create_string(&bytes).expect("string");
            let f = lua.create_string(&fmt).expect("string");
            script.call::<()>((s, f)).expect("run");
        }
    }

    /// Deep documents cost heap, not native stack: everything at the
    /// nesting limits works on a thread with a small stack.
    #[test]
    fn deep_nesting_on_a_small_stack() {
        let handle = std::thread::Builder::new()
            .stack_size(256 * 1024)
            .spawn(|| {
                let lua = testing::vm();
                testing::run(
                    &lua,
                    r#"
                    local t = {} local c = t
                    for i = 1, 999 do c[1] = {} c = c[1] end
                    local json = cjson.encode(t)
                    assert(#json == 2000)
                    local back = cjson.decode(json)
                    cjson.encode_max_depth(100000)
                    cjson.decode_max_depth(100000)
                    local ok, e = pcall(cjson.encode, (function() local x = {} x[1] = x return x end)())
                    assert(e == 'Cannot serialise, excessive nesting (7998)', e)
                    local d = cjson.decode(string.rep('[', 7998) .. string.rep(']', 7998))
                    assert(#cjson.encode(d[1]) == 15994)
                    local m = {cmsgpack.unpack(string.rep('\145', 3999) .. '\1')}
                    assert(#m == 1, #m .. ' ' .. type(m[1]))
                    ok, e = pcall(cmsgpack.unpack, string.rep('\145', 100000))
                    assert(not ok)
                    return 'ok'
                "#,
                )
            })
            .expect("spawn");
        assert_eq!(handle.join().expect("join"), "ok");
    }

    /// Tables referenced many times over blow up exponentially; the output
    /// cap ends that with a memory error instead of hanging the VM.
    #[test]
    fn output_blowup_is_bounded() {
        let got = testing::run(
            &testing::vm(),
            r#"
            local a = {} for i = 1, 16 do a[i] = a end
            local ok1, e1 = pcall(cmsgpack.pack, a)
            local b = {} b[1] = b b[2] = b
            local ok2, e2 = pcall(cjson.encode, b)
            return tostring(ok1) .. ' ' .. tostring(ok2) .. ' ' .. tostring(e1)
            "#,
        );
        assert!(got.starts_with("false false "), "{got}");
        assert!(got.contains("not enough memory"), "{got}");
    }
}
