//! `bit`: LuaBitOp 1.0.2 as Redis builds it for Lua 5.1.
//!
//! Every function works on 32-bit integers and returns a *signed* result
//! (`bit.tobit(0xffffffff) == -1`), unlike Luau's own `bit32`. Arguments are
//! normalised like LuaBitOp does with doubles: the number is added to
//! 2^52 + 2^51 and the low 32 bits of the sum's representation are taken,
//! which rounds to the nearest integer (ties to even) and reduces modulo
//! 2^32. Numeric strings are accepted, as `lua_tonumber` accepts them.
//!
//! `tobit bnot band bor bxor lshift rshift arshift rol ror bswap tohex`;
//! shift counts use their low 5 bits; `tohex(x, n)` writes the low `|n|`
//! nibbles (at most 8, default 8), in upper case when `n` is negative.

use mlua::{Lua, MultiValue, Value};

use super::{to_number, Args, Builder, LibResult};

type Unary = fn(u32) -> u32;
type Binary = fn(u32, u32) -> u32;

/// Registers the global `bit`.
pub fn register(lua: &Lua) -> mlua::Result<()> {
    let b = Builder::new(lua)?;
    let t = lua.create_table()?;
    let unary: [(&'static str, Unary); 3] = [
        ("tobit", |x| x),
        ("bnot", |x| !x),
        ("bswap", u32::swap_bytes),
    ];
    for (name, op) in unary {
        t.set(
            name,
            b.function(name, move |_, args| Ok(ret(op(barg(args, 1)?))))?,
        )?;
    }
    let fold: [(&'static str, Binary); 3] = [
        ("band", |a, b| a & b),
        ("bor", |a, b| a | b),
        ("bxor", |a, b| a ^ b),
    ];
    for (name, op) in fold {
        t.set(
            name,
            b.function(name, move |_, args| {
                // The first argument, then the others from the last down.
                let mut acc = barg(args, 1)?;
                for i in (2..=args.len()).rev() {
                    acc = op(acc, barg(args, i)?);
                }
                Ok(ret(acc))
            })?,
        )?;
    }
    let shifts: [(&'static str, Binary); 5] = [
        ("lshift", |b, n| b << n),
        ("rshift", |b, n| b >> n),
        ("arshift", |b, n| ((b as i32) >> n) as u32),
        ("rol", u32::rotate_left),
        ("ror", u32::rotate_right),
    ];
    for (name, op) in shifts {
        t.set(
            name,
            b.function(name, move |_, args| {
                let b = barg(args, 1)?;
                let n = barg(args, 2)? & 31;
                Ok(ret(op(b, n)))
            })?,
        )?;
    }
    t.set("tohex", b.function("tohex", tohex)?)?;
    lua.globals().set("bit", t)
}

/// LuaBitOp's `barg`: argument `i` as 32 bits.
fn barg(args: &Args, i: usize) -> LibResult<u32> {
    match args.get(i).and_then(to_number) {
        // The low word of the double 2^52 + 2^51 + n.
        Some(n) => Ok((n + 6_755_399_441_055_744.0).to_bits() as u32),
        None => Err(args.type_error(i, "number")),
    }
}

/// `BRET`: the bits as a signed 32-bit number.
fn ret(b: u32) -> MultiValue {
    MultiValue::from_vec(vec![Value::Number(f64::from(b as i32))])
}

/// `bit.tohex(x [, n])`.
fn tohex(lua: &Lua, args: &Args) -> LibResult<MultiValue> {
    let mut b = barg(args, 1)?;
    // An explicit nil is an error; only an absent `n` means 8.
    let n = if args.get(2).is_none() {
        8
    } else {
        barg(args, 2)? as i32
    };
    let digits: &[u8; 16] = if n < 0 {
        b"0123456789ABCDEF"
    } else {
        b"0123456789abcdef"
    };
    // |INT_MIN| overflows in C; the compiled code treats it as > 8.
    let n = n.unsigned_abs().min(8) as usize;
    let mut buf = [0u8; 8];
    for slot in buf[..n].iter_mut().rev() {
        *slot = digits[(b & 15) as usize];
        b >>= 4;
    }
    Ok(MultiValue::from_vec(vec![Value::String(
        lua.create_string(&buf[..n])?,
    )]))
}

#[cfg(test)]
mod tests {
    use super::super::testing::check_all;

    /// Expected values are redis-server 7.0.15's (numbers rendered as Luau
    /// prints integers).
    #[test]
    fn matches_redis() {
        check_all(&[
            ("return table.concat({bit.tobit(0xffffffff), bit.tobit(0xffffffff + 1), bit.tobit(2^40 + 5), bit.tobit(-1), bit.tobit(1.5), bit.tobit(2.5), bit.tobit(-1.5), bit.tobit(-2.5), bit.tobit('10'), bit.tobit('0x10')}, ',')",
             "-1,0,5,-1,2,2,-2,-2,10,16"),
            ("return table.concat({bit.tobit(2^31), bit.tobit(2^32 + 2^31), bit.tobit(0.5), bit.tobit(1.4999), bit.tobit(-0.5), bit.tobit(2^52), bit.tobit(2^53 + 2), bit.tobit(1e300), bit.tobit(-1e300)}, ',')",
             "-2147483648,-2147483648,0,1,0,0,1,-2013235812,-2013235812"),
            ("return table.concat({bit.tobit(1/0), bit.tobit(-1/0), bit.tobit(0/0)}, ',')", "0,0,0"),
            ("return table.concat({bit.bnot(0), bit.bnot(-1), bit.bnot(5)}, ',')", "-1,0,-6"),
            ("return table.concat({bit.band(0xff, 0x0f), bit.band(-1, 0x80000000), bit.bor(1, 2, 4, 8), bit.bxor(5, 3, 1), bit.band(7)}, ',')",
             "15,-2147483648,15,7,7"),
            ("return bit.bor()", "ERR user_script:1: bad argument #1 to 'bor' (number expected, got no value)"),
            ("local ok, e = pcall(bit.band, 1, {}); return e", "bad argument #2 to '?' (number expected, got table)"),
            ("local ok, e = pcall(bit.band, 1, nil); return e", "bad argument #2 to '?' (number expected, got nil)"),
            ("local ok, e = pcall(bit.band, 1, 'x'); return e", "bad argument #2 to '?' (number expected, got string)"),
            ("local ok, e = pcall(bit.band, {}, 'x', {}); return e", "bad argument #1 to '?' (number expected, got table)"),
            ("local ok, e = pcall(bit.band, 1, 'x', {}); return e", "bad argument #3 to '?' (number expected, got table)"),
            ("return table.concat({bit.band(1, '3'), bit.band(3, '0')}, ',')", "1,0"),
            ("return table.concat({bit.lshift(1, 31), bit.lshift(1, 32), bit.lshift(1, 33), bit.lshift(1, -1), bit.rshift(-1, 1), bit.rshift(-1, 0), bit.arshift(-8, 1), bit.arshift(-1, 31), bit.arshift(0x80000000, 4)}, ',')",
             "-2147483648,1,2,-2147483648,2147483647,-1,-4,-1,-134217728"),
            ("return table.concat({bit.rol(0x12345678, 4), bit.rol(0x12345678, 0), bit.ror(0x12345678, 4), bit.ror(0x12345678, 36), bit.rol(1, 32), bit.ror(1, 1)}, ',')",
             "591751041,305419896,-2128394905,-2128394905,1,-2147483648"),
            ("return table.concat({bit.bswap(0x12345678), bit.bswap(0xff), bit.bswap(-1)}, ',')", "2018915346,-16777216,-1"),
            ("return table.concat({bit.tohex(1), bit.tohex(-1), bit.tohex(0xabcdef, 4), bit.tohex(0xabcdef, -4), bit.tohex(0xabcdef, 10), bit.tohex(0xabcdef, -10), bit.tohex(255, 0), bit.tohex(255, 2^32 - 3), bit.tohex(65535, 2^31)}, ',')",
             "00000001,ffffffff,cdef,CDEF,00abcdef,00ABCDEF,,0FF,0000FFFF"),
            // Redis's test "lua bit.tohex bug".
            ("return bit.tohex(65535, -2147483648)", "0000FFFF"),
            ("return bit.tohex(-2^31, -8) .. bit.tohex(2^31 - 1, -2^31)", "800000007FFFFFFF"),
            ("local ok, e = pcall(bit.tohex); return e", "bad argument #1 to '?' (number expected, got no value)"),
            ("return bit.tohex(1, nil)", "ERR user_script:1: bad argument #2 to 'tohex' (number expected, got nil)"),
            ("local ok, e = pcall(bit.tohex, 1, 'x'); return e", "bad argument #2 to '?' (number expected, got string)"),
            ("return bit.tohex(0x10, '3')", "010"),
            ("local ok, e = pcall(bit.lshift, 1); return e", "bad argument #2 to '?' (number expected, got no value)"),
            ("return table.concat({bit.tobit(0), bit.tobit(-0), bit.tobit('  12  '), bit.tobit(' 1e2')}, ',')", "0,0,12,100"),
            ("local ok, e = pcall(bit.tobit, '0'); return tostring(ok) .. e", "true0"),
            ("local ok, e = pcall(bit.tobit, 'abc'); return e", "bad argument #1 to '?' (number expected, got string)"),
            ("local ok, e = pcall(bit.tobit, true); return e", "bad argument #1 to '?' (number expected, got boolean)"),
            ("local ok, e = pcall(bit.tobit, cjson.null); return e", "bad argument #1 to '?' (number expected, got userdata)"),
            ("return table.concat({bit.tobit(4294967296 * 3 + 7), bit.tobit(-4294967296 * 3 - 7), bit.tobit(0x7fffffff), bit.tobit(-0x80000000), bit.tobit(-0x80000001)}, ',')",
             "7,-7,2147483647,-2147483648,2147483647"),
            ("return bit.band(0x12345678, 0xffff0000)", "305397760"),
            ("return bit.tobit(0xfffffffff)", "-1"),
            // Redis's "Verify minimal bitop functionality".
            ("assert(bit.tobit(1) == 1); assert(bit.band(1) == 1); assert(bit.bxor(1,2) == 3); assert(bit.bor(1,2,4,8,16,32,64,128) == 255) return 'ok'", "ok"),
        ]);
    }
}
