//! How a script's keys and arguments reach the VM: as `KEYS` and `ARGV`
//! for a script, as the two arrays a function is called with. Two raw C
//! functions do it inside the script's coroutine, at the start of its
//! first resume (the prelude's `script_runner` calls them), so that the
//! coroutine's own protected run covers them: no protected call, closure
//! or string lookup of their own per script.

use std::ffi::{c_int, c_void};

use bytes::Bytes;
use mlua::{ffi, Function, Lua, Table};

/// A run's keys and arguments, handed to the coroutine as a light
/// userdata pointing here (see [`Arguments::as_light_userdata`]).
pub struct Arguments<'a> {
    pub keys: &'a [Bytes],
    pub args: &'a [Bytes],
}

impl Arguments<'_> {
    /// The pointer the coroutine receives. The caller keeps `self` alive
    /// and in place for as long as the coroutine may run (the run's own
    /// future, pinned while it is polled, owns it).
    pub fn as_light_userdata(&self) -> mlua::LightUserData {
        mlua::LightUserData(self as *const Arguments as *mut c_void)
    }
}

/// The most items a script's KEYS or ARGV can hold (Lua tables index with
/// a C int).
pub const MAX_ITEMS: usize = i32::MAX as usize - 1;

/// `fill(arguments)`, which refills the reused `keys` and `argv` tables
/// (the ones the script environment holds as `KEYS` and `ARGV`), and
/// `arrays(arguments)`, which returns two new arrays (a function's).
pub fn functions(lua: &Lua, keys: &Table, argv: &Table) -> mlua::Result<(Function, Function)> {
    // SAFETY: exec_raw runs this as a protected call on the VM's main
    // state with the two tables at indices 1 and 2 and at least 3 free
    // slots. lua_pushcclosurek pops the two tables into the closure's
    // upvalues and pushes the closure; the second closure has none. An
    // out-of-memory error unwinds to exec_raw's protected call through a
    // frame that owns nothing with a destructor.
    unsafe {
        lua.exec_raw((keys, argv), |state| {
            ffi::lua_pushcclosurek(state, fill_c, c"fill".as_ptr(), 2, None);
            ffi::lua_pushcclosurek(state, arrays_c, c"arrays".as_ptr(), 0, None);
        })
    }
}

/// The run's arguments from the light userdata at stack index 1.
///
/// # Safety
/// Only our prelude calls `fill` and `arrays`, with the pointer of a live
/// [`Arguments`] (see [`Arguments::as_light_userdata`]); scripts cannot
/// reach either function nor make a light userdata.
unsafe fn arguments<'a>(state: *mut ffi::lua_State) -> Option<&'a Arguments<'a>> {
    if ffi::lua_type(state, 1) != ffi::LUA_TLIGHTUSERDATA {
        return None;
    }
    ffi::lua_touserdata(state, 1)
        .cast::<Arguments>()
        .cast_const()
        .as_ref()
}

/// `fill(arguments)`: empties the tables in upvalues 1 and 2 of everything
/// the last script put in or on them (entries, a metatable, a freeze) and
/// fills them with the keys and the arguments.
///
/// # Safety
/// A lua_CFunction called by Luau (with `LUA_MINSTACK` free slots). The
/// upvalues are the tables `functions` closed over. Pushing strings can
/// raise out of memory; the error unwinds through this `C-unwind` frame,
/// which owns nothing with a destructor, to the coroutine's resume.
unsafe extern "C-unwind" fn fill_c(state: *mut ffi::lua_State) -> c_int {
    let Some(arguments) = arguments(state) else {
        return 0;
    };
    for (upvalue, items) in [(1, arguments.keys), (2, arguments.args)] {
        let table = ffi::lua_upvalueindex(upvalue);
        ffi::lua_setreadonly(state, table, 0);
        ffi::lua_pushnil(state);
        ffi::lua_setmetatable(state, table);
        ffi::lua_cleartable(state, table);
        for (i, item) in items.iter().take(MAX_ITEMS).enumerate() {
            ffi::lua_pushlstring(state, item.as_ptr().cast(), item.len());
            ffi::lua_rawseti_(state, table, i as c_int + 1);
        }
    }
    0
}

/// `arrays(arguments)`: the keys and the arguments as two new arrays.
///
/// # Safety
/// As [`fill_c`]; it pushes at most three values (two tables, a string).
unsafe extern "C-unwind" fn arrays_c(state: *mut ffi::lua_State) -> c_int {
    let Some(arguments) = arguments(state) else {
        return 0;
    };
    for items in [arguments.keys, arguments.args] {
        let items = &items[..items.len().min(MAX_ITEMS)];
        ffi::lua_createtable(state, items.len() as c_int, 0);
        for (i, item) in items.iter().enumerate() {
            ffi::lua_pushlstring(state, item.as_ptr().cast(), item.len());
            ffi::lua_rawseti_(state, -2, i as c_int + 1);
        }
    }
    2
}
