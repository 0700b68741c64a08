//! `struct`: Roberto Ierusalimschy's struct library (struct.c 1.7, with
//! Redis's fixes) as Redis 7.0 builds it on x86-64.
//!
//! * `struct.pack(fmt, v1, ...)` packs the values into a binary string;
//! * `struct.unpack(fmt, s [, pos])` returns the values read from `s`
//!   starting at byte `pos` (default 1), then the position after them;
//! * `struct.size(fmt)` is the size `pack` would produce.
//!
//! Format options: `>` big endian, `<` little endian (the default, native),
//! `![n]` maximum alignment `n` (default 8), `x` a zero byte, `b/B` signed
//! and unsigned char, `h/H` short, `l/L` long (8 bytes), `T` size_t,
//! `i/I[n]` integers of `n` bytes (default 4, up to 32), `c[n]` `n` chars
//! (`c0`: the whole string when packing, the length read just before when
//! unpacking), `s` a zero-terminated string, `f` float, `d` double, and
//! spaces, ignored. Integers are converted as the C code's casts do on
//! x86-64, including out-of-range values; results are Lua numbers.

use mlua::{Lua, MultiValue, Value};

use super::{
    c_double_to_long, c_double_to_ulong, c_str, raise, stack_overflow, to_number, Args, Builder,
    LibResult, LUA_MAX_C_STACK,
};

/// Registers the global `struct`.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let b = Builder::new(lua)?;
    let t = lua.create_table()?;
    t.set("pack", b.function("pack", pack)?)?;
    t.set("unpack", b.function("unpack", unpack)?)?;
    t.set("size", b.function("size", size)?)?;
    lua.globals().set("struct", t)
}

/// Largest `i`/`I` size.
const MAXINTSIZE: i32 = 32;
/// Default of `!`: the alignment of a double on x86-64.
const MAXALIGN: i32 = 8;

/// Byte order and maximum alignment.
struct Header {
    little: bool,
    align: usize,
}

impl Header {
    fn new() -> Self {
        Header {
            little: true,
            align: 1,
        }
    }
}

/// A format string, read an option at a time.
struct Format<'a> {
    s: &'a [u8],
    at: usize,
}

impl Format<'_> {
    fn next(&mut self) -> Option<u8> {
        let c = self.s.get(self.at).copied()?;
        self.at += 1;
        Some(c)
    }

    /// `getnum`: the number after an option, or `default`.
    fn num(&mut self, default: i32) -> LibResult<i32> {
        let digit = |f: &Self| f.s.get(f.at).copied().filter(u8::is_ascii_digit);
        if digit(self).is_none() {
            return Ok(default);
        }
        let mut a: i32 = 0;
        while let Some(d) = digit(self) {
            let d = i32::from(d - b'0');
            if a > i32::MAX / 10 || a * 10 > i32::MAX - d {
                return Err(raise("integral size overflow"));
            }
            a = a * 10 + d;
            self.at += 1;
        }
        Ok(a)
    }
}

/// `optsize`: the size of an option (0 for the non-data ones and `s`).
fn optsize(opt: u8, fmt: &mut Format<'_>) -> LibResult<usize> {
    Ok(match opt {
        b'B' | b'b' | b'x' => 1,
        b'H' | b'h' => 2,
        b'L' | b'l' | b'T' | b'd' => 8,
        b'f' => 4,
        b'c' => fmt.num(1)? as usize,
        b'i' | b'I' => {
            let size = fmt.num(4)?;
            if size > MAXINTSIZE {
                return Err(raise(format!(
                    "integral size {size} is larger than limit of {MAXINTSIZE}"
                )));
            }
            size as usize
        }
        _ => 0,
    })
}

/// `gettoalign`: padding before an item of `size` bytes at `len`. (Sizes
/// that are not powers of two give the C formula's odd results.)
fn gettoalign(len: usize, h: &Header, opt: u8, size: usize) -> usize {
    if size == 0 || opt == b'c' {
        return 0;
    }
    let size = size.min(h.align);
    (size - (len & (size - 1))) & (size - 1)
}

/// `controloptions`: spaces, byte order, alignment; anything else is an
/// invalid option.
fn controloptions(args: &Args, opt: u8, fmt: &mut Format<'_>, h: &mut Header) -> LibResult<()> {
    match opt {
        b' ' => {}
        b'>' => h.little = false,
        b'<' => h.little = true,
        b'!' => {
            let a = fmt.num(MAXALIGN)?;
            if !(a > 0 && a & (a - 1) == 0) {
                return Err(raise(format!("alignment {a} is not a power of 2")));
            }
            h.align = a as usize;
        }
        _ => {
            let mut msg = b"invalid format option '".to_vec();
            msg.push(opt);
            msg.push(b'\'');
            return Err(args.arg_error(1, msg));
        }
    }
    Ok(())
}

/// `struct.pack(fmt, ...)`.
fn pack(lua: &Lua, args: &Args) -> LibResult<MultiValue> {
    let fmt_arg = args.check_bytes(1)?;
    let mut fmt = Format {
        s: c_str(&fmt_arg),
        at: 0,
    };
    // The C code pushes a nil right after the arguments, so the first
    // missing value is "nil" and those after it "no value".
    let nil = Value::Nil;
    let value = |i: usize| match args.get(i) {
        None if i == args.len() + 1 => Some(&nil),
        v => v,
    };
    let number = |i: usize| {
        let v = value(i);
        v.and_then(to_number)
            .ok_or_else(|| args.type_error_for(i, "number", v))
    };
    let mut h = Header::new();
    let mut arg = 2;
    let mut out: Vec<u8> = Vec::new();
    while let Some(opt) = fmt.next() {
        let size = optsize(opt, &mut fmt)?;
        // The packed length so far is the C code's `totalsize`.
        let pad = gettoalign(out.len(), &h, opt, size);
        out.resize(out.len() + pad, 0);
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let n = number(arg)?;
                arg += 1;
                let mut v = if n < 0.0 {
                    c_double_to_long(n) as u64
                } else {
                    c_double_to_ulong(n)
                };
                let mut bytes = [0u8; MAXINTSIZE as usize];
                for b in bytes.iter_mut().take(size) {
                    *b = v as u8;
                    v >>= 8;
                }
                let bytes = &mut bytes[..size];
                if !h.little {
                    bytes.reverse();
                }
                out.extend_from_slice(bytes);
            }
            b'x' => out.push(0),
            b'f' => {
                let f = number(arg)? as f32;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    f.to_le_bytes()
                } else {
                    f.to_be_bytes()
                });
            }
            b'd' => {
                let d = number(arg)?;
                arg += 1;
                out.extend_from_slice(&if h.little {
                    d.to_le_bytes()
                } else {
                    d.to_be_bytes()
                });
            }
            b'c' | b's' => {
                let s = match value(arg) {
                    Some(Value::String(s)) => s.as_bytes().to_vec(),
                    Some(v) if super::number_value(v).is_some() => {
                        args.check_bytes(arg).map(|b| b.to_vec())?
                    }
                    v => return Err(args.type_error_for(arg, "string", v)),
                };
                arg += 1;
                let len = if size == 0 { s.len() } else { size };
                if s.len() < len {
                    return Err(args.arg_error(arg, "string too short"));
                }
                out.extend_from_slice(&s[..len]);
                if opt == b's' {
                    out.push(0);
                }
            }
            _ => controloptions(args, opt, &mut fmt, &mut h)?,
        }
    }
    Ok(MultiValue::from_vec(vec![Value::String(
        lua.create_string(&out)?,
    )]))
}

/// `getinteger`: `size` bytes as an integer (only the low 8 bytes count),
/// sign-extended from bit `size * 8 - 1` (shift count taken modulo 64, as
/// x86 does) when `signed`.
fn getinteger(bytes: &[u8], little: bool, signed: bool) -> f64 {
    let fold = |l: u64, &b: &u8| (l << 8) | u64::from(b);
    let mut l = if little {
        bytes.iter().rev().fold(0, fold)
    } else {
        bytes.iter().fold(0, fold)
    };
    if !signed {
        return l as f64;
    }
    let shift = (bytes.len() as u32).wrapping_mul(8).wrapping_sub(1);
    let mask = u64::MAX.wrapping_shl(shift);
    if l & mask != 0 {
        l |= mask;
    }
    l as i64 as f64
}

/// `struct.unpack(fmt, data [, pos])`.
fn unpack(lua: &Lua, args: &Args) -> LibResult<MultiValue> {
    let fmt_arg = args.check_bytes(1)?;
    let data = args.check_bytes(2)?;
    // size_t pos = luaL_optinteger(L, 3, 1): negative wraps around.
    let pos = args.opt_integer(3, 1)? as u64 as usize;
    if pos == 0 {
        return Err(args.arg_error(3, "offset must be 1 or greater"));
    }
    let mut pos = pos - 1;
    let mut fmt = Format {
        s: c_str(&fmt_arg),
        at: 0,
    };
    let ld = data.len();
    let mut h = Header::new();
    let mut results: Vec<Value> = Vec::new();
    let too_short = || args.arg_error(2, "data string too short");
    while let Some(opt) = fmt.next() {
        let mut size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if !(size <= ld && pos <= ld - size) {
            return Err(too_short());
        }
        // Room for this item and the final position.
        if args.len() + results.len() + 2 > LUA_MAX_C_STACK {
            return Err(stack_overflow("too many results"));
        }
        let item = &data[pos..pos + size];
        match opt {
            b'b' | b'B' | b'h' | b'H' | b'l' | b'L' | b'T' | b'i' | b'I' => {
                let signed = opt.is_ascii_lowercase();
                results.push(Value::Number(getinteger(item, h.little, signed)));
            }
            b'x' => {}
            b'f' => {
                let bytes = [item[0], item[1], item[2], item[3]];
                let f = if h.little {
                    f32::from_le_bytes(bytes)
                } else {
                    f32::from_be_bytes(bytes)
                };
                results.push(Value::Number(f64::from(f)));
            }
            b'd' => {
                let mut bytes = [0u8; 8];
                bytes.copy_from_slice(item);
                let d = if h.little {
                    f64::from_le_bytes(bytes)
                } else {
                    f64::from_be_bytes(bytes)
                };
                results.push(Value::Number(d));
            }
            b'c' => {
                if size == 0 {
                    // The length is the value read just before.
                    let Some(n) = results.last().and_then(to_number) else {
                        return Err(raise("format 'c0' needs a previous size"));
                    };
                    size = c_double_to_ulong(n) as usize;
                    results.pop();
                    if !(size <= ld && pos <= ld - size) {
                        return Err(too_short());
                    }
                }
                results.push(Value::String(lua.create_string(&data[pos..pos + size])?));
            }
            b's' => {
                let Some(len) = data[pos..].iter().position(|&b| b == 0) else {
                    return Err(raise("unfinished string in data"));
                };
                size = len + 1;
                results.push(Value::String(lua.create_string(&data[pos..pos + len])?));
            }
            _ => controloptions(args, opt, &mut fmt, &mut h)?,
        }
        pos = pos.wrapping_add(size);
    }
    results.push(Value::Number(pos.wrapping_add(1) as i64 as f64));
    Ok(MultiValue::from_vec(results))
}

/// `struct.size(fmt)`.
fn size(_lua: &Lua, args: &Args) -> LibResult<MultiValue> {
    let fmt_arg = args.check_bytes(1)?;
    let mut fmt = Format {
        s: c_str(&fmt_arg),
        at: 0,
    };
    let mut h = Header::new();
    let mut pos: usize = 0;
    while let Some(opt) = fmt.next() {
        let size = optsize(opt, &mut fmt)?;
        pos = pos.wrapping_add(gettoalign(pos, &h, opt, size));
        if opt == b's' {
            return Err(args.arg_error(1, "option 's' has no fixed size"));
        }
        if opt == b'c' && size == 0 {
            return Err(args.arg_error(1, "option 'c0' has no fixed size"));
        }
        // Unknown letters and digits are skipped, not errors.
        if !opt.is_ascii_alphanumeric() {
            controloptions(args, opt, &mut fmt, &mut h)?;
        }
        pos = pos.wrapping_add(size);
    }
    Ok(MultiValue::from_vec(vec![Value::Number(pos as i64 as f64)]))
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_all;

    /// Expected values are the replies of redis-server 7.0.15 to EVAL of
    /// the same snippets.
    #[test]
    fn matches_redis() {
        check_all(&[
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('>bBhHlLTiIi2I3i8', -1, 255, -2, 65534, -3, 5, 6, -7, 8, -9, 0x123456, -10))"#,
                r#"fffffffefffefffffffffffffffd00000000000000050000000000000006fffffff900000008fff7123456fffffffffffffff6"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('<bBhHlLTiI', -1, 255, -2, 65534, -3, 5, 6, -7, 8))"#,
                r#"fffffefffefffdffffffffffffff05000000000000000600000000000000f9ffffff08000000"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('bhi', 1, 2, 3)) .. ' ' .. hex(struct.pack('!bhid', 1, 2, 3, 4)) .. ' ' .. hex(struct.pack('!2bhbi!4bd', 1, 2, 3, 4, 5, 6))"#,
                r#"01020003000000 01000200030000000000000000001040 0100020003000400000005000000000000001840"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('>fd', 0.5, 0.1)) .. ' ' .. hex(struct.pack('<fd', 0.5, 0.1)) .. ' ' .. hex(struct.pack('>f', 1e300)) .. ' ' .. hex(struct.pack('>f', 0.1))"#,
                r#"3f0000003fb999999999999a 0000003f9a9999999999b93f 7f800000 3dcccccd"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('c3c0sxc', 'abcdef', 'xyz', 'hi', 'q'))"#,
                r#"61626378797a6869000071"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('s c2', 'a\0b', 12.5))"#,
                r#"610062003132"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'c5', 'abc'); return e"#,
                r#"bad argument #3 to '?' (string too short)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'bc5', 1, 'abc'); return e"#,
                r#"bad argument #4 to '?' (string too short)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'q', 1); return e"#,
                r#"bad argument #1 to '?' (invalid format option 'q')"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'b\255', 1); return e:sub(-26) == "invalid format option '\255')" and 'ok' or e"#,
                r#"ok"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('i3', 1)) .. ' ' .. hex(struct.pack('>i3', -2)) .. ' ' .. hex(struct.pack('>i16', -2)) .. ' ' .. hex(struct.pack('<I32', 2^64)) .. ' ' .. hex(struct.pack('>i0', 5))"#,
                r#"010000 fffffe 0000000000000000fffffffffffffffe 0000000000000000000000000000000000000000000000000000000000000000 "#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'i33', 1); return e"#,
                r#"integral size 33 is larger than limit of 32"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, '!3i', 1); return e"#,
                r#"alignment 3 is not a power of 2"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, '!0', 5); return e"#,
                r#"alignment 0 is not a power of 2"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'i99999999999', 1); return e"#,
                r#"integral size overflow"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'c2147483648', 'a'); return e"#,
                r#"integral size overflow"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'c2147483647', 'a'); return e"#,
                r#"bad argument #3 to '?' (string too short)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'i2147483647', 'a'); return e"#,
                r#"integral size 2147483647 is larger than limit of 32"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'i', 'x'); return e"#,
                r#"bad argument #2 to '?' (number expected, got string)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'i'); return e"#,
                r#"bad argument #2 to '?' (number expected, got nil)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'ii'); return e"#,
                r#"bad argument #2 to '?' (number expected, got nil)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'c'); return e"#,
                r#"bad argument #2 to '?' (string expected, got nil)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'bc', 1); return e"#,
                r#"bad argument #3 to '?' (string expected, got nil)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'bbc', 1); return e"#,
                r#"bad argument #3 to '?' (number expected, got nil)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 'i', '12'); return e == '\12\0\0\0' and 'ok' or e"#,
                r#"ok"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack); return e"#,
                r#"bad argument #1 to '?' (string expected, got no value)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, {}); return e"#,
                r#"bad argument #1 to '?' (string expected, got table)"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 's', 5); return e == '5\0' and 'ok' or e"#,
                r#"ok"#,
            ),
            (
                r#"local ok, e = pcall(struct.pack, 's', {}); return e"#,
                r#"bad argument #2 to '?' (string expected, got table)"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('>I', 2^32 + 5)) .. ' ' .. hex(struct.pack('>i', -1.5)) .. ' ' .. hex(struct.pack('>I', 1.9)) .. ' ' .. hex(struct.pack('>I8', 2^63)) .. ' ' .. hex(struct.pack('>I8', 2^64)) .. ' ' .. hex(struct.pack('>i8', -2^63))"#,
                r#"00000005 ffffffff 00000001 8000000000000000 0000000000000000 8000000000000000"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('>I8', 1/0)) .. ' ' .. hex(struct.pack('>i8', -1/0)) .. ' ' .. hex(struct.pack('>I8', 0/0)) .. ' ' .. hex(struct.pack('>i8', -2^64)) .. ' ' .. hex(struct.pack('>I8', 2^63 + 2^11))"#,
                r#"0000000000000000 8000000000000000 8000000000000000 8000000000000000 8000000000000800"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('!8bi3', 1, 2)) .. ' ' .. hex(struct.pack('!8bi6', 1, 2)) .. ' ' .. hex(struct.pack('!8bbi12', 1, 2, 3))"#,
                r#"010000020000 010000000000020000000000 0102000000000000030000000000000000000000"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('b!8d', 1, 2)) .. ' ' .. hex(struct.pack('b!8c3', 1, 'abc')) .. ' ' .. hex(struct.pack('b!8s', 1, 'a')) .. ' ' .. hex(struct.pack('b!x', 1)) .. ' ' .. hex(struct.pack('b!16i8', 1, 2))"#,
                r#"01000000000000000000000000000040 01616263 016100 0100 01000000000000000200000000000000"#,
            ),
            (
                r#"local function hex(s) return (s:gsub('.', function(c) return string.format('%02x', c:byte()) end)) end
return hex(struct.pack('b\0b', 1, 2))"#,
                r#"01"#,
            ),
            (
                r#"return table.concat({struct.unpack('>bBhH', '\255\255\255\254\255\254')}, ',')"#,
                r#"-1,255,-2,65534,7"#,
            ),
            (
                r#"return table.concat({struct.unpack('<i', '\1\0\0\0')}, ',')"#,
                r#"1,5"#,
            ),
            (
                r#"return table.concat({struct.unpack('<i', '\1\0\0\0\9', 2)}, ',')"#,
                r#"150994944,6"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, '<i', '\1\0\0'); return e"#,
                r#"bad argument #2 to '?' (data string too short)"#,
            ),
            (
                r#"return table.concat({struct.unpack('c2c3', 'abcdefg')}, ',')"#,
                r#"ab,cde,6"#,
            ),
            (
                r#"return table.concat({struct.unpack('bc0', '\3abcdef')}, ',')"#,
                r#"abc,5"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'c0', 'abc'); return e"#,
                r#"format 'c0' needs a previous size"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'sc0', 'ab\0cd'); return e"#,
                r#"format 'c0' needs a previous size"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'bc0', '\9abc'); return e"#,
                r#"bad argument #2 to '?' (data string too short)"#,
            ),
            (
                r#"return table.concat({struct.unpack('c1c0', '3abcd')}, ',')"#,
                r#"abc,5"#,
            ),
            (
                r#"return table.concat({struct.unpack('c2c0', ' 3abcd')}, ',')"#,
                r#"abc,6"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'c2c0', '0x2abcd'); return e"#,
                r#"format 'c0' needs a previous size"#,
            ),
            (
                r#"return table.concat({struct.unpack('ss', 'ab\0cd\0e')}, ',')"#,
                r#"ab,cd,7"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 's', 'abc'); return e"#,
                r#"unfinished string in data"#,
            ),
            (
                r#"return table.concat({struct.unpack('>f', '\63\0\0\0')}, ',')"#,
                r#"0.5,5"#,
            ),
            (
                r#"return string.format('%.17g', struct.unpack('<d', '\154\153\153\153\153\153\185\63'))"#,
                r#"0.10000000000000001"#,
            ),
            (
                r#"return string.format('%.17g', struct.unpack('>f', '\61\204\204\205'))"#,
                r#"0.10000000149011612"#,
            ),
            (
                r#"return table.concat({struct.unpack('!ibd', struct.pack('!ibd', 1, 2, 3))}, ',')"#,
                r#"1,2,3,17"#,
            ),
            (
                r#"return table.concat({struct.unpack('x', 'a')}, ',')"#,
                r#"2"#,
            ),
            (
                r#"return table.concat({struct.unpack('', 'abc', 2)}, ',')"#,
                r#"2"#,
            ),
            (
                r#"return table.concat({struct.unpack('', 'abc', 10)}, ',')"#,
                r#"10"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, ' ', 'abc', 10); return e"#,
                r#"bad argument #2 to '?' (data string too short)"#,
            ),
            (
                r#"return table.concat({struct.size('bhilTfdx'), struct.size('!bhilTfdx'), struct.size('c10i3'), struct.size(''), struct.size('c'), struct.size('q'), struct.size('!'), struct.size('!4bi!bd'), struct.size('i3i3'), struct.size('!i3i3'), struct.size('!8bi3'), struct.size('b9c'), struct.size('>< bb')}, ',')"#,
                r#"36,41,13,0,1,0,0,24,6,10,6,2,2"#,
            ),
            (
                r#"local ok, e = pcall(struct.size, 's'); return e"#,
                r#"bad argument #1 to '?' (option 's' has no fixed size)"#,
            ),
            (
                r#"local ok, e = pcall(struct.size, 'c0'); return e"#,
                r#"bad argument #1 to '?' (option 'c0' has no fixed size)"#,
            ),
            (
                r#"local ok, e = pcall(struct.size, '#'); return e"#,
                r#"bad argument #1 to '?' (invalid format option '#')"#,
            ),
            (
                r#"local ok, e = pcall(struct.size, '!5'); return e"#,
                r#"alignment 5 is not a power of 2"#,
            ),
            (
                r#"local ok, e = pcall(struct.size, 'i40'); return e"#,
                r#"integral size 40 is larger than limit of 32"#,
            ),
            (
                r#"local ok, e = pcall(struct.size, {}); return e"#,
                r#"bad argument #1 to '?' (string expected, got table)"#,
            ),
            (
                r#"return struct.size('c2147483647c2147483647')"#,
                r#"4294967294"#,
            ),
            (r#"return struct.size(12)"#, r#"0"#),
            (
                r#"return string.format('%.17g', struct.unpack('>I8', '\255\255\255\255\255\255\255\255'))"#,
                r#"1.8446744073709552e+19"#,
            ),
            (
                r#"return string.format('%.17g', struct.unpack('>i8', '\127\255\255\255\255\255\255\255'))"#,
                r#"9.2233720368547758e+18"#,
            ),
            (
                r#"return string.format('%.17g', struct.unpack('>i16', string.rep('\255', 16)))"#,
                r#"-1"#,
            ),
            (
                r#"return string.format('%.17g', struct.unpack('>I16', string.rep('\1', 16)))"#,
                r#"72340172838076672"#,
            ),
            (
                r#"return table.concat({struct.unpack('<i12', '\1\2\3\4\5\6\7\8\9\10\11\12')}, ',')"#,
                r#"-2080177663,13"#,
            ),
            (
                r#"return table.concat({struct.unpack('>i3', '\128\0\0'), struct.unpack('<i3', '\0\0\128')}, ',')"#,
                r#"-8388608,-8388608,4"#,
            ),
            (
                r#"return table.concat({struct.unpack('>i9', '\128\0\0\0\0\0\0\0\1')}, ',')"#,
                r#"1,10"#,
            ),
            (
                r#"return table.concat({struct.unpack('>i0', 'abc')}, ',')"#,
                r#"0,1"#,
            ),
            (
                r#"return table.concat({struct.unpack('<i2I2', '\255\127\0\128')}, ',')"#,
                r#"32767,32768,5"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'b', 'a', 0); return e"#,
                r#"bad argument #3 to '?' (offset must be 1 or greater)"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'b', 'a', -5); return e"#,
                r#"bad argument #2 to '?' (data string too short)"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'b', 'abc', -0.5); return e"#,
                r#"bad argument #3 to '?' (offset must be 1 or greater)"#,
            ),
            (
                r#"return table.concat({struct.unpack('', 'abc', -1)}, ',')"#,
                r#"-1"#,
            ),
            (
                r#"return string.format('%.17g', (struct.unpack('', 'abc', 1e30)))"#,
                r#"-9.2233720368547758e+18"#,
            ),
            (
                r#"return table.concat({struct.unpack('', 'abc', "2")}, ',')"#,
                r#"2"#,
            ),
            (
                r#"return table.concat({struct.unpack('b', 'abc', nil)}, ',')"#,
                r#"97,2"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'b', 'a', 'x'); return e"#,
                r#"bad argument #3 to '?' (number expected, got string)"#,
            ),
            (
                r#"return table.concat({struct.unpack('b', 'ab', 2.9)}, ',')"#,
                r#"98,3"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'b'); return e"#,
                r#"bad argument #2 to '?' (string expected, got no value)"#,
            ),
            (
                r#"return table.concat({struct.unpack('b', 12)}, ',')"#,
                r#"49,2"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'b', 'abc', 4); return e"#,
                r#"bad argument #2 to '?' (data string too short)"#,
            ),
            (
                r#"return table.concat({struct.unpack('', 'abc', 4)}, ',')"#,
                r#"4"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'bq', 'abc'); return e"#,
                r#"bad argument #1 to '?' (invalid format option 'q')"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'c99999999999', 'abc'); return e"#,
                r#"integral size overflow"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'c2147483647', 'a'); return e"#,
                r#"bad argument #2 to '?' (data string too short)"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'bc0', '\255abc'); return e"#,
                r#"bad argument #2 to '?' (data string too short)"#,
            ),
            (
                r#"return table.concat({struct.unpack('Bc0', '\0abc')}, ',')"#,
                r#",2"#,
            ),
            (
                r#"return table.concat({struct.unpack('dc0', struct.pack('d', 2.5) .. 'abc')}, ',')"#,
                r#"ab,11"#,
            ),
            (
                r#"local ok, e = pcall(struct.unpack, 'fc0', struct.pack('f', -1) .. 'abc'); return e"#,
                r#"bad argument #2 to '?' (data string too short)"#,
            ),
            (
                r#"return table.concat({struct.unpack('b\0b', 'ab')}, ',')"#,
                r#"97,2"#,
            ),
            (
                r#"return table.concat({struct.unpack('>!4bi<h', '\1\0\0\0\0\0\0\2\3\0')}, ',')"#,
                r#"1,2,3,11"#,
            ),
            (
                r#"return #{struct.unpack(string.rep('b', 7996), string.rep('a', 8000))}"#,
                r#"7997"#,
            ),
            (
                r#"return #{struct.unpack(string.rep('b', 7997), string.rep('a', 8000))}"#,
                r#"7998"#,
            ),
            (
                r#"return #{struct.unpack(string.rep('b', 7998), string.rep('a', 8000))}"#,
                r#"ERR user_script:1: stack overflow (too many results)"#,
            ),
            (
                r#"return #{struct.unpack(string.rep('b', 7996), string.rep('a', 8000), 1)}"#,
                r#"7997"#,
            ),
            (
                r#"return #{struct.unpack(string.rep('b', 7995), string.rep('a', 8000), 1, 2)}"#,
                r#"7996"#,
            ),
            (
                r#"return #{struct.unpack(string.rep('b', 7996), string.rep('a', 8000), 1, 2)}"#,
                r#"ERR user_script:1: stack overflow (too many results)"#,
            ),
            (
                r#"return #{struct.unpack(string.rep('x', 7998) .. 'b', string.rep('a', 8000))}"#,
                r#"2"#,
            ),
        ]);
    }
}
