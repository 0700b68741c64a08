//! One Lua (Luau) VM per core: the sandboxed environment, compiled scripts,
//! and running a script with Redis's error conventions.

use std::cell::{Cell, RefCell};
use std::collections::HashSet;

use bytes::Bytes;
use hashbrown::HashMap;
use mlua::{Function, Lua, MultiValue, Table, Value};

use super::api;
use super::convert::lua_to_reply;
use crate::protocol::Reply;

/// Flags a script declares in its `#!lua flags=...` shebang.
#[derive(Debug, Default, Clone, Copy)]
pub struct ScriptFlags {
    /// The script has a shebang (a function always has flags): its flags,
    /// not its commands, say whether it may write (Redis's non-compat
    /// mode).
    pub declared: bool,
    pub no_writes: bool,
    pub allow_oom: bool,
    pub allow_stale: bool,
    pub no_cluster: bool,
    pub allow_cross_slot_keys: bool,
}

/// What `redis.call` needs to know about the script that is running.
#[derive(Debug, Default, Clone, Copy)]
pub struct RunState {
    pub db: u8,
    /// The protocol the script reads replies in (`redis.setresp`).
    pub resp3: bool,
    pub read_only: bool,
    /// Script time: commands see the clock as of the script's start.
    pub now_ms: u64,
}

struct Compiled {
    function: Function,
    flags: ScriptFlags,
}

pub struct Engine {
    lua: Lua,
    /// The environment scripts run in: KEYS and ARGV live here; every other
    /// name resolves through the protected globals.
    env: Table,
    /// The body of every script's coroutine: `function(f, arguments,
    /// as_function) -> ok, result_or_error`, with Redis's error handler
    /// (see `PRELUDE`).
    script_runner: Function,
    /// `fill(arguments)`: sets KEYS and ARGV (see [`super::arguments`]).
    fill_keys_and_args: Function,
    compiled: RefCell<HashMap<String, Compiled>>,
    /// The node script cache epoch these compiled functions belong to.
    epoch: Cell<u64>,
    pub(crate) run: Cell<RunState>,
    /// The environment library code and its functions run in: during a
    /// load it resolves names in the load-time globals, afterwards in the
    /// script globals (without KEYS and ARGV).
    function_env: Table,
    /// `function(chunk) -> ok, error, registered` (see `functions::PRELUDE`).
    library_loader: Function,
    /// `function_env`'s metatable: its `__index` is the load-time globals
    /// during a library load, the script globals otherwise. Frozen like
    /// everything else; only [`Engine::load_library`] lifts the flag.
    function_env_meta: Table,
    /// What library code sees while it loads (`redis.register_function`...).
    load_globals: Table,
    /// The sandbox globals: the VM's global table, frozen.
    globals: Table,
    /// The libraries this VM has loaded (FUNCTION LOAD et al.).
    pub libraries: RefCell<super::functions::Loaded>,
    /// The Lua thread the last script ran in, kept for the next one.
    spare_thread: RefCell<Option<mlua::Thread>>,
}

/// Lua side of the sandbox: Redis's error handler and `redis.call` /
/// `redis.pcall` around the Rust bridge.
const PRELUDE: &str = r#"
local bridge, info, redis, globals, env, killed, getfenv, setfenv, fill, arrays = ...
-- Globals are read-only and absent names are an error (Redis's texts).
setmetatable(globals, { __index = function(_, name)
  error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
end })
setmetatable(env, { __index = globals, __newindex = function()
  error("Attempt to modify a readonly table", 2)
end })
-- The line of the innermost frame of the script itself.
local function script_line()
  for level = 2, 32 do
    local source, line = info(level, "sl")
    if source == nil then return 0 end
    if source == "user_script" or source == "=user_script"
      or source == "user_function" or source == "=user_function" then
      return line
    end
  end
  return 0
end
local function error_handler(e)
  if type(e) == "table" then
    if e.line == nil then e.line = script_line() end
    return e
  end
  local text = tostring(e):gsub("^runtime error: ", "")
  text = text:gsub("attempt to modify a readonly table", "Attempt to modify a readonly table")
  return { err = text, line = script_line(), runtime = true }
end
-- redis.call raises a failed command's error table, with the script's
-- line; redis.pcall returns it. Both are the Rust bridge itself (a C
-- function: no Lua call in between), which calls this to raise.
local function raise_failed(reply)
  reply.line = script_line()
  error(reply, 0)
end
redis.call = bridge(raise_failed)
redis.pcall = bridge(false)
-- As in Redis, pcall turns an error table into its text, so scripts see
-- the error message of a failed redis.call as a string.
local raw_pcall, pack, unpack = pcall, table.pack, table.unpack
-- Luau's wording of a write to a frozen table, as Redis words it.
local function redis_text(e)
  if type(e) == "string" then
    return (e:gsub("attempt to modify a readonly table", "Attempt to modify a readonly table"))
  end
  return e
end
-- A killed script cannot catch its kill: both wrappers raise it again.
local globals_pcall = function(f, ...)
  local results = pack(raw_pcall(f, ...))
  if not results[1] then
    if results[2] == killed then error(killed, 0) end
    if type(results[2]) == "table" and type(results[2].err) == "string" then
      results[2] = results[2].err
    else
      results[2] = redis_text(results[2])
    end
  end
  return unpack(results, 1, results.n)
end
rawset(globals, "pcall", globals_pcall)
local raw_xpcall = xpcall
rawset(globals, "xpcall", function(f, handler, ...)
  local results = pack(raw_xpcall(f, function(e)
    if e == killed then return e end
    return handler(redis_text(e))
  end, ...))
  if not results[1] and results[2] == killed then error(killed, 0) end
  return unpack(results, 1, results.n)
end)
-- A chunk runs in the environment of the script or library code that
-- loaded it (a script's sees KEYS and ARGV, as in Redis). Any other
-- caller gets the frozen globals: C (pcall(loadstring, s)), and our own
-- code, whose environment is the raw globals (an xpcall handler or a
-- metamethod can be loadstring itself, called from our wrappers).
local raw_loadstring = loadstring
local script_envs = { [env] = true }
rawset(globals, "loadstring", function(code, name)
  local f, err = raw_loadstring(code, name)
  if f then
    -- Level 3 from inside pcall: our caller (absent at a coroutine's base).
    local found, caller = raw_pcall(getfenv, 3)
    setfenv(f, found and script_envs[caller] and caller or globals)
  end
  return f, err
end)
-- Luau reads the count as a C int: from 2^31 up it wraps to a small or
-- negative number and string.rep answers a wrong string without a word.
-- Such counts fail as the longest strings Luau can build fail.
local rep, tonumber, type = string.rep, tonumber, type
string.rep = function(s, n, ...)
  local t, count = type(s), tonumber(n)
  if count and count >= 2147483648 and (t == "string" or t == "number") then
    if s == "" then return "" end
    error("resulting string too large", 2)
  end
  return rep(s, n, ...)
end
local function runner(f, ...)
  return xpcall(f, error_handler, ...)
end
-- A script's coroutine body: its keys and arguments reach the VM here,
-- inside the coroutine, as KEYS and ARGV for a script, as the two arrays
-- a function is called with (see src/lua/arguments.rs).
local function script_runner(f, arguments, as_function)
  if as_function then
    return xpcall(f, error_handler, arrays(arguments))
  end
  fill(arguments)
  return xpcall(f, error_handler)
end
return runner, script_envs, script_runner
"#;

/// Globals a script may read (Redis 7's whitelist, less what Luau lacks).
const ALLOWED_GLOBALS: &[&str] = &[
    "assert",
    "error",
    "getmetatable",
    "ipairs",
    "next",
    "pairs",
    "pcall",
    "rawequal",
    "rawget",
    "rawset",
    "select",
    "setmetatable",
    "tonumber",
    "tostring",
    "type",
    "unpack",
    "xpcall",
    "loadstring",
    "string",
    "table",
    "math",
    "coroutine",
    "utf8",
    "bit32",
    "_VERSION",
];

impl Engine {
    pub fn new(memory_limit_bytes: usize) -> mlua::Result<Engine> {
        let lua = Lua::new();
        // The raw globals hold what scripts must never reach (getfenv,
        // setfenv, debug, collectgarbage, newproxy, print, buffer, require
        // ...). Our own Lua code below is loaded in them explicitly; once
        // the sandbox is built it replaces them as the VM's global table,
        // so nothing a script can call resolves names in them again.
        let real = lua.globals();
        // The library wrappers read `debug.info` from the globals at load.
        super::libs::register_all(&lua)?;
        let globals = lua.create_table()?;
        for name in ALLOWED_GLOBALS {
            globals.raw_set(*name, real.raw_get::<Value>(*name)?)?;
        }
        lua51_compat(&globals)?;
        let os = lua.create_table()?;
        let real_os: Table = real.raw_get("os")?;
        os.raw_set("clock", real_os.raw_get::<Value>("clock")?)?;
        globals.raw_set("os", os)?;
        globals.raw_set("_G", globals.clone())?;
        for name in ["cjson", "cmsgpack", "bit", "struct"] {
            globals.raw_set(name, real.raw_get::<Value>(name)?)?;
        }

        let redis = api::redis_table(&lua)?;
        let debug: Table = real.raw_get("debug")?;
        let info: Function = debug.raw_get("info")?;
        let bridge = api::bridge(&lua)?;
        globals.raw_set("redis", redis.clone())?;
        let env = lua.create_table()?;
        // One KEYS and one ARGV table for every script, refilled each time.
        let (keys, argv) = (lua.create_table()?, lua.create_table()?);
        env.raw_set("KEYS", &keys)?;
        env.raw_set("ARGV", &argv)?;
        let (fill_keys_and_args, arrays) = super::arguments::functions(&lua, &keys, &argv)?;
        let (runner, script_envs, script_runner): (Function, Table, Function) = lua
            .load(PRELUDE)
            .set_name("=redis_prelude")
            .set_environment(real.clone())
            .call((
                bridge,
                info,
                redis,
                globals.clone(),
                env.clone(),
                super::interrupt::KILLED_MARKER,
                real.raw_get::<Function>("getfenv")?,
                real.raw_get::<Function>("setfenv")?,
                fill_keys_and_args.clone(),
                arrays,
            ))?;
        let (library_loader, function_env, function_env_meta, load_globals): (
            Function,
            Table,
            Table,
            Table,
        ) = lua
            .load(super::functions::PRELUDE)
            .set_name("=redis_functions_prelude")
            .set_environment(real.clone())
            .call((globals.clone(), runner.clone()))?;
        // Library code's chunks (loadstring) run in its environment too.
        script_envs.raw_set(function_env.clone(), true)?;
        // Every global is in the script environment itself too, so that a
        // script's global reads (`redis`, `string`...) hit the table they
        // look in rather than its `__index`. Both tables are frozen below:
        // the copies cannot drift.
        for pair in globals.pairs::<Value, Value>() {
            let (name, value) = pair?;
            env.raw_set(name, value)?;
        }

        // Everything a script or a library can reach is read-only: the
        // globals, every library table, their metatables, and the
        // metatables of the basic types (the string one is shared by
        // every script on this VM).
        let type_metatables: MultiValue = lua
            .load("return getmetatable(''), getmetatable(0), getmetatable(true), getmetatable(print), getmetatable(coroutine.create(print))")
            .set_name("=redis_type_metatables")
            .set_environment(real)
            .call(())?;
        let mut roots = vec![
            globals.clone(),
            env.clone(),
            function_env.clone(),
            function_env_meta.clone(),
            load_globals.clone(),
        ];
        roots.extend(type_metatables.into_iter().filter_map(|v| match v {
            Value::Table(t) => Some(t),
            _ => None,
        }));
        freeze_reachable(roots)?;
        // Threads created from now on (every script's coroutine, and the
        // ones scripts create) take these as their globals, which is what
        // Luau's loader and getfenv fall back to.
        lua.set_globals(globals.clone())?;

        lua.set_memory_limit(memory_limit_bytes)?;
        super::interrupt::install(&lua)?;
        Ok(Engine {
            lua,
            env,
            script_runner,
            fill_keys_and_args,
            compiled: RefCell::new(HashMap::new()),
            epoch: Cell::new(0),
            run: Cell::new(RunState::default()),
            function_env,
            library_loader,
            function_env_meta,
            load_globals,
            globals,
            libraries: RefCell::default(),
            spare_thread: RefCell::new(None),
        })
    }

    pub fn lua(&self) -> &Lua {
        &self.lua
    }

    /// Drops compiled scripts when the node cache was flushed, and the
    /// memory they held: the map's too, and the functions' (Luau frees
    /// them only when a collection runs, and an idle VM runs none).
    pub fn sync_epoch(&self, epoch: u64) {
        if self.epoch.get() != epoch {
            let dropped = std::mem::take(&mut *self.compiled.borrow_mut());
            self.epoch.set(epoch);
            if !dropped.is_empty() {
                drop(dropped);
                let _ = self.lua.gc_collect();
            }
        }
    }

    pub fn is_compiled(&self, sha: &str) -> bool {
        self.compiled.borrow().contains_key(sha)
    }

    /// Compiles `body` (with its shebang) under `sha`.
    pub fn compile(&self, sha: &str, body: &[u8]) -> Result<ScriptFlags, Reply> {
        let (flags, code) = parse_shebang(body)?;
        let function = self
            .lua
            .load(&code[..])
            .set_name("=user_script")
            // Never bytecode, which Luau does not verify.
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(self.env.clone())
            .into_function()
            .map_err(|e| {
                Reply::error(format!(
                    "ERR Error compiling script (new function): {}",
                    compile_error_text(e)
                ))
            })?;
        self.compiled
            .borrow_mut()
            .insert(sha.to_string(), Compiled { function, flags });
        Ok(flags)
    }

    /// The compiled script `sha` and its flags.
    pub fn script(&self, sha: &str) -> Option<(Function, ScriptFlags)> {
        self.compiled
            .borrow()
            .get(sha)
            .map(|c| (c.function.clone(), c.flags))
    }

    /// The reply of a run through the runner: the converted result, or
    /// the error as Redis words it, naming the script (`sha` or function
    /// name) and its source (`@user_script` / `@user_function`).
    pub(super) fn reply_of(
        &self,
        result: mlua::Result<(Value, Value)>,
        name: &str,
        source: &str,
    ) -> Reply {
        match result {
            Ok((ok, value)) => {
                if matches!(ok, Value::Boolean(true)) {
                    lua_to_reply(&value, self.run.get().resp3)
                } else {
                    self.collect_after_memory_error(&value);
                    let (text, line) = error_text_and_line(&value);
                    Reply::error(format!(
                        "{} script: {name}, on {source}:{line}.",
                        one_line(&text)
                    ))
                }
            }
            Err(e) => {
                // Out of memory (or an error in the error handler itself).
                self.collect_garbage();
                Reply::error(format!(
                    "ERR {} script: {name}, on {source}:0.",
                    one_line(&e.to_string())
                ))
            }
        }
    }

    /// Runs a library's body (the code after its shebang line) in the
    /// load-time environment, where only `redis.register_function`,
    /// `redis.log` and the version constants exist; returns the functions
    /// it registered, bound to this VM.
    pub fn load_library(&self, code: &[u8]) -> Result<Vec<Registered>, Reply> {
        let chunk = self
            .lua
            .load(code)
            .set_name("=user_function")
            // Never bytecode, which Luau does not verify.
            .set_mode(mlua::chunk::ChunkMode::Text)
            .set_environment(self.function_env.clone())
            .into_function()
            .map_err(|e| {
                let msg = compile_error_text(e);
                Reply::error(format!("ERR Error compiling function: {}", one_line(&msg)))
            })?;
        super::interrupt::begin_library_load();
        let loaded = self
            .set_library_globals(&self.load_globals)
            .and_then(|()| self.library_loader.call::<(bool, Value, Table)>(chunk));
        // Afterwards its functions resolve names in the script globals.
        let restored = self.set_library_globals(&self.globals);
        let loaded = restored.and(loaded);
        if super::interrupt::end() {
            return Err(Reply::error(
                "ERR Error registering functions: ERR FUNCTION LOAD timeout",
            ));
        }
        let (ok, error, list) = match loaded {
            Ok(results) => results,
            Err(e) => {
                self.collect_garbage();
                return Err(Reply::error(format!(
                    "ERR Error registering functions: ERR {}",
                    one_line(&e.to_string())
                )));
            }
        };
        if !ok {
            self.collect_after_memory_error(&error);
            let (text, _) = error_text_and_line(&error);
            return Err(Reply::error(format!(
                "ERR Error registering functions: {}",
                one_line(&text)
            )));
        }
        list.sequence_values::<Table>()
            .map(|entry| {
                let entry = entry?;
                let mut flags = ScriptFlags::default();
                for flag in entry.raw_get::<Table>("flags")?.sequence_values::<String>() {
                    set_flag(&mut flags, &flag?);
                }
                Ok(Registered {
                    name: entry.raw_get("name")?,
                    description: entry
                        .raw_get::<Option<mlua::LuaString>>("description")?
                        .map(|d| Bytes::copy_from_slice(&d.as_bytes())),
                    flags,
                    callback: entry.raw_get("callback")?,
                })
            })
            .collect::<mlua::Result<Vec<Registered>>>()
            .map_err(|e| Reply::error(format!("ERR Error registering functions: ERR {e}")))
    }

    /// After the VM's memory limit was hit even `1+1` fails until garbage
    /// is collected (measured with mlua 0.12 and Luau: a script that hits
    /// `lua-memory-limit` leaves the VM failing every call until a
    /// collection), so collect right away.
    fn collect_after_memory_error(&self, error: &Value) {
        let text = match error {
            Value::String(s) => s.to_string_lossy(),
            Value::Table(t) => t.raw_get::<String>("err").unwrap_or_default(),
            _ => String::new(),
        };
        if text.contains("not enough memory") {
            self.collect_garbage();
        }
    }

    fn collect_garbage(&self) {
        // KEYS and ARGV may hold what filled the memory.
        let empty = super::arguments::Arguments {
            keys: &[],
            args: &[],
        };
        self.fill_keys_and_args
            .call::<()>(empty.as_light_userdata())
            .ok();
        // The kept thread's stack may still hold the failed script's values.
        drop(self.spare_thread.take());
        let _ = self.lua.gc_collect();
        let _ = self.lua.gc_collect();
    }

    /// Points library code's global lookups at `globals`. The metatable is
    /// frozen like every other; scripts cannot reach it, and only this
    /// lifts the flag, for one write.
    fn set_library_globals(&self, globals: &Table) -> mlua::Result<()> {
        self.function_env_meta.set_readonly(false);
        let set = self.function_env_meta.raw_set("__index", globals);
        self.function_env_meta.set_readonly(true);
        set
    }

    /// A Lua thread to run the next script in: the one the last script
    /// ran in, reset (a new one the first time, or when the last one was
    /// dropped mid-run).
    pub(super) fn script_thread(&self) -> mlua::Result<mlua::Thread> {
        match self.spare_thread.take() {
            Some(thread) => {
                thread.reset(self.script_runner.clone())?;
                Ok(thread)
            }
            None => self.lua.create_thread(self.script_runner.clone()),
        }
    }

    /// Keeps `thread` (its script has ended) for the next script.
    pub(super) fn keep_script_thread(&self, thread: mlua::Thread) {
        self.spare_thread.replace(Some(thread));
    }
}

/// A function a library registered, bound to one VM.
pub struct Registered {
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: ScriptFlags,
    pub callback: Function,
}

/// The script line a failed run's error names (0 when it succeeded).
pub(super) fn error_line((ok, error): &(Value, Value)) -> i64 {
    match ok {
        Value::Boolean(false) => error_text_and_line(error).1,
        _ => 0,
    }
}

/// A failed run's error text (`ERR ` added to plain Lua errors, as Redis
/// does) and the script line it happened on.
fn error_text_and_line(value: &Value) -> (String, i64) {
    match value {
        Value::Table(t) => {
            let text: String = t
                .raw_get::<Value>("err")
                .ok()
                .and_then(|v| {
                    v.as_string()
                        .map(|s| String::from_utf8_lossy(&s.as_bytes()).into_owned())
                })
                .unwrap_or_else(|| "ERR unknown error".into());
            let line: i64 = t
                .raw_get::<Option<f64>>("line")
                .ok()
                .flatten()
                .map_or(0, |l| l as i64);
            let runtime = matches!(t.raw_get::<Value>("runtime"), Ok(Value::Boolean(true)));
            (if runtime { format!("ERR {text}") } else { text }, line)
        }
        Value::String(s) => (format!("ERR {}", String::from_utf8_lossy(&s.as_bytes())), 0),
        other => (format!("ERR {other:?}"), 0),
    }
}

/// The compiler's message for a chunk that does not compile.
fn compile_error_text(e: mlua::Error) -> String {
    match e {
        mlua::Error::SyntaxError { message, .. } => message,
        other => other.to_string(),
    }
}

/// Luau appends a stack traceback to some messages; replies are one line.
fn one_line(text: &str) -> &str {
    text.split('\n').next().unwrap_or(text)
}

/// Makes every table reachable from `roots` (through keys, values and
/// metatables) read-only. Function upvalues and environments are not
/// walked: without `debug` and `getfenv` scripts cannot reach them.
fn freeze_reachable(roots: Vec<Table>) -> mlua::Result<()> {
    let mut seen = HashSet::new();
    let mut pending = roots;
    while let Some(t) = pending.pop() {
        if !seen.insert(t.to_pointer()) {
            continue;
        }
        if let Some(meta) = t.metatable() {
            pending.push(meta);
        }
        for pair in t.pairs::<Value, Value>() {
            let (key, value) = pair?;
            for v in [key, value] {
                if let Value::Table(inner) = v {
                    pending.push(inner);
                }
            }
        }
        t.set_readonly(true);
    }
    Ok(())
}

/// Redis scripts are Lua 5.1: a few names Luau dropped are put back.
fn lua51_compat(globals: &Table) -> mlua::Result<()> {
    let math: Table = globals.raw_get("math")?;
    if math.raw_get::<Value>("mod")?.is_nil() {
        math.raw_set("mod", math.raw_get::<Value>("fmod")?)?;
    }
    let string: Table = globals.raw_get("string")?;
    if string.raw_get::<Value>("gfind")?.is_nil() {
        string.raw_set("gfind", string.raw_get::<Value>("gmatch")?)?;
    }
    Ok(())
}

/// Parses a `#!lua flags=...` first line; returns the flags and the code
/// with the shebang line blanked (so line numbers stay right).
fn parse_shebang(body: &[u8]) -> Result<(ScriptFlags, Vec<u8>), Reply> {
    let mut flags = ScriptFlags::default();
    if !body.starts_with(b"#!") {
        return Ok((flags, body.to_vec()));
    }
    flags.declared = true;
    let end = body.iter().position(|&c| c == b'\n').unwrap_or(body.len());
    let line = String::from_utf8_lossy(&body[2..end]).into_owned();
    let mut parts = line.split(' ').filter(|p| !p.is_empty());
    if parts.next() != Some("lua") {
        return Err(Reply::error(format!(
            "ERR Unexpected engine in script shebang: {}",
            line.split(' ').next().unwrap_or("")
        )));
    }
    for part in parts {
        let Some(list) = part.strip_prefix("flags=") else {
            return Err(Reply::error(format!(
                "ERR Unknown lua shebang option: {part}"
            )));
        };
        for flag in list.split(',').filter(|f| !f.is_empty()) {
            match flag {
                "no-writes" => flags.no_writes = true,
                "allow-oom" => flags.allow_oom = true,
                "allow-stale" => flags.allow_stale = true,
                "no-cluster" => flags.no_cluster = true,
                "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
                other => {
                    return Err(Reply::error(format!(
                        "ERR Unexpected flag in script shebang: {other}"
                    )))
                }
            }
        }
    }
    let mut code = b"--".to_vec();
    code.extend_from_slice(body);
    Ok((flags, code))
}

/// Sets the function flag named `name` (lower case, as
/// `redis.register_function` passes it); false for an unknown name.
fn set_flag(flags: &mut ScriptFlags, name: &str) -> bool {
    match name {
        "no-writes" => flags.no_writes = true,
        "allow-oom" => flags.allow_oom = true,
        "allow-stale" => flags.allow_stale = true,
        "no-cluster" => flags.no_cluster = true,
        "allow-cross-slot-keys" => flags.allow_cross_slot_keys = true,
        _ => return false,
    }
    true
}
