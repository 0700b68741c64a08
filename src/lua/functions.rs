//! Redis 7 functions: the node-wide library registry (library name ->
//! code and function metadata) and each VM's copy of it.
//!
//! FUNCTION LOAD / DELETE / FLUSH / RESTORE change the [`Registry`] and bump
//! its epoch; a core that runs FCALL first brings its VM up to date
//! ([`sync`]), loading the libraries that are new or changed since it last
//! looked, so a library loaded through any core works on every core.
//!
//! Differences from Redis 7.0:
//! - Each core's VM holds its own copy of a library, so state a library
//!   keeps in Lua upvalues (which Redis documents as unsupported) is per
//!   shard.
//! - FUNCTION LIST and DUMP list libraries by name; Redis uses its hash
//!   order, as it does for the functions inside a library (ours: the order
//!   of registration).
//! - DUMP payloads are Redis's format (RDB version 10, CRC64) with every
//!   library's code stored uncompressed: byte-identical to Redis's when
//!   Redis does not LZF-compress (short code), and each side restores the
//!   other's payloads either way.
//! - Luau words some compile and runtime errors differently from Lua 5.1;
//!   the framing (`Error compiling function: user_function:<line>: ...`,
//!   `script: <name>, on @user_function:<line>.`) is Redis's.
//! - Redis 7.0.15 crashes when a library that registered two names
//!   differing only in case (`f` and `F`) is deleted; here the first
//!   registered answers FCALL for both and deleting works.

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use bytes::Bytes;
use mlua::Function;

use super::engine::{Engine, ScriptFlags};
use super::rdb;
use crate::protocol::Reply;

/// Lua side of Redis functions: `redis.register_function` with Redis's
/// argument checks and error texts, the load-time environment (only
/// `redis.register_function`, `redis.log` and the version constants), and
/// the loader that runs a library body in it.
pub(super) const PRELUDE: &str = r##"
local globals, runner = ...
local redis = globals.redis
local type, tostring, select, next, error, pcall = type, tostring, select, next, error, pcall
local setmetatable, lower, find, freeze = setmetatable, string.lower, string.find, table.freeze
local FLAGS = {
  ["no-writes"] = true, ["allow-oom"] = true, ["allow-stale"] = true,
  ["no-cluster"] = true, ["allow-cross-slot-keys"] = true,
}
-- The library being loaded ({list = registered functions, names = set}).
local loading = nil

local function fail(text)
  error({ err = "ERR " .. text }, 0)
end
local function is_string(v)
  local t = type(v)
  return t == "string" or t == "number"
end
local function read_flags(t)
  local flags, i = {}, 1
  while true do
    local flag = t[i]
    if flag == nil then return flags end
    if not is_string(flag) then return nil end
    flag = lower(tostring(flag))
    if not FLAGS[flag] then return nil end
    flags[#flags + 1] = flag
    i = i + 1
  end
end
local function named_args(t)
  if type(t) ~= "table" then
    fail("calling redis.register_function with a single argument is only applicable to Lua table (representing named arguments).")
  end
  local name, callback, description, flags
  for key, value in next, t do
    if not is_string(key) then
      fail("named argument key given to redis.register_function is not a string")
    end
    key = lower(tostring(key))
    if key == "function_name" then
      if not is_string(value) then
        fail("function_name argument given to redis.register_function must be a string")
      end
      name = tostring(value)
    elseif key == "description" then
      if not is_string(value) then
        fail("description argument given to redis.register_function must be a string")
      end
      description = tostring(value)
    elseif key == "callback" then
      if type(value) ~= "function" then
        fail("callback argument given to redis.register_function must be a function")
      end
      callback = value
    elseif key == "flags" then
      if type(value) ~= "table" then
        fail("flags argument to redis.register_function must be a table representing function flags")
      end
      flags = read_flags(value)
      if flags == nil then fail("unknown flag given") end
    else
      fail("unknown argument given to redis.register_function")
    end
  end
  if name == nil then fail("redis.register_function must get a function name argument") end
  if callback == nil then fail("redis.register_function must get a callback argument") end
  return name, callback, description, flags
end
local function register_function(...)
  if loading == nil then
    fail("redis.register_function can only be called on FUNCTION LOAD command")
  end
  local argc = select("#", ...)
  if argc < 1 or argc > 2 then
    fail("wrong number of arguments to redis.register_function")
  end
  local name, callback, description, flags
  if argc == 1 then
    name, callback, description, flags = named_args(...)
  else
    local first, second = ...
    if not is_string(first) then
      fail("first argument to redis.register_function must be a string")
    end
    if type(second) ~= "function" then
      fail("second argument to redis.register_function must be a function")
    end
    name, callback = tostring(first), second
  end
  if name == "" or find(name, "[^a-zA-Z0-9_]") then
    fail("Library names can only contain letters, numbers, or underscores(_) and must be at least one character long")
  end
  if loading.names[name] then fail("Function already exists in the library") end
  loading.names[name] = true
  local list = loading.list
  list[#list + 1] = { name = name, callback = callback, description = description, flags = flags or {} }
end

-- Names absent from the load-time tables are errors, as in scripts.
local function protected(t)
  setmetatable(t, { __index = function(_, name)
    error("Script attempted to access nonexistent global variable '" .. tostring(name) .. "'", 2)
  end })
  freeze(t)
  return t
end
local load_redis = { register_function = register_function, log = redis.log }
for _, name in ipairs({ "LOG_DEBUG", "LOG_VERBOSE", "LOG_NOTICE", "LOG_WARNING",
                 "REDIS_VERSION", "REDIS_VERSION_NUM" }) do
  load_redis[name] = redis[name]
end
local load_globals = protected({ redis = protected(load_redis) })

-- The Rust side points __index at load_globals around each load (the
-- metatable is frozen with everything else).
local env_meta = { __index = globals, __newindex = function()
  error("Attempt to modify a readonly table", 2)
end }
local env = setmetatable({}, env_meta)

local function load(chunk)
  loading = { list = {}, names = {} }
  local called, ok, err = pcall(runner, chunk)
  local list = loading.list
  loading = nil
  if not called then return false, ok, list end
  return ok, err, list
end
return load, env, env_meta, load_globals
"##;

/// What FUNCTION LIST reports of one function.
#[derive(Debug, Clone)]
pub struct FunctionInfo {
    pub name: String,
    pub description: Option<Bytes>,
    pub flags: ScriptFlags,
}

/// A loaded library: its whole code (shebang included) and its functions.
#[derive(Debug)]
pub struct Library {
    pub name: String,
    pub code: Bytes,
    pub functions: Vec<FunctionInfo>,
}

/// Redis's `functionsVerifyName`.
const BAD_NAME: &str = "ERR Library names can only contain letters, numbers, or underscores(_) and must be at least one character long";

fn valid_name(name: &[u8]) -> bool {
    !name.is_empty() && name.iter().all(|c| c.is_ascii_alphanumeric() || *c == b'_')
}

/// Parses a library's `#!<engine> name=<name>` first line as Redis does
/// (`functionExtractLibMetaData`, then the name and engine checks);
/// returns the library name and where the code after the shebang starts
/// (at its newline, so line numbers stay right).
pub fn parse_metadata(code: &[u8]) -> Result<(String, usize), Reply> {
    if !code.starts_with(b"#!") {
        return Err(Reply::error("ERR Missing library metadata"));
    }
    let Some(end) = code.iter().position(|&c| c == b'\n') else {
        return Err(Reply::error("ERR Invalid library metadata"));
    };
    let mut parts = Vec::new();
    if crate::protocol::parse::split_args(&code[..end], &mut parts).is_none() || parts.is_empty() {
        return Err(Reply::error("ERR Invalid library metadata"));
    }
    let engine = parts[0].slice(2..);
    let mut name: Option<Bytes> = None;
    for part in &parts[1..] {
        if part.len() >= 5 && part[..5].eq_ignore_ascii_case(b"name=") {
            if name.is_some() {
                return Err(Reply::error(
                    "ERR Invalid metadata value, name argument was given multiple times",
                ));
            }
            name = Some(part.slice(5..));
            continue;
        }
        return Err(Reply::error(format!(
            "ERR Invalid metadata value given: {}",
            String::from_utf8_lossy(part)
        )));
    }
    let Some(name) = name else {
        return Err(Reply::error("ERR Library name was not given"));
    };
    if !valid_name(&name) {
        return Err(Reply::error(BAD_NAME));
    }
    if !engine.eq_ignore_ascii_case(b"lua") {
        return Err(Reply::error(format!(
            "ERR Engine '{}' not found",
            String::from_utf8_lossy(&engine)
        )));
    }
    // Validated: ASCII letters, digits and underscores.
    Ok((String::from_utf8_lossy(&name).into_owned(), end))
}

/// Builds the library `code` (shebang line included) in `host`'s VM and
/// adds it to the node's registry (loading a file: RDB, a log's base).
pub fn load_code(host: &dyn super::ScriptHost, code: Bytes) -> Result<(), Reply> {
    let (name, body_at) = parse_metadata(&code)?;
    let lib = build(host.engine(), name, code, body_at)?;
    host.functions().load(lib, false)
}

/// Runs `code` (a whole library, its metadata already parsed) in `engine`
/// and describes what it registered.
pub fn build(engine: &Engine, name: String, code: Bytes, body_at: usize) -> Result<Library, Reply> {
    let registered = engine.load_library(&code[body_at..])?;
    if registered.is_empty() {
        return Err(Reply::error("ERR No functions registered"));
    }
    let functions = registered
        .into_iter()
        .map(|r| FunctionInfo {
            name: r.name,
            description: r.description,
            flags: r.flags,
        })
        .collect();
    Ok(Library {
        name,
        code,
        functions,
    })
}

/// How FUNCTION RESTORE treats the libraries already there.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RestorePolicy {
    Append,
    Replace,
    Flush,
}

#[derive(Default)]
struct Libraries {
    by_name: BTreeMap<String, Arc<Library>>,
    /// Lower-cased function name -> its library's name: function names are
    /// unique across libraries regardless of case, as in Redis.
    functions: HashMap<String, String>,
}

impl Libraries {
    fn link(&mut self, lib: Arc<Library>) {
        for f in &lib.functions {
            self.functions
                .entry(f.name.to_ascii_lowercase())
                .or_insert_with(|| lib.name.clone());
        }
        self.by_name.insert(lib.name.clone(), lib);
    }

    fn unlink(&mut self, name: &str) -> bool {
        let Some(lib) = self.by_name.remove(name) else {
            return false;
        };
        for f in &lib.functions {
            let key = f.name.to_ascii_lowercase();
            if self
                .functions
                .get(&key)
                .is_some_and(|owner| *owner == lib.name)
            {
                self.functions.remove(&key);
            }
        }
        true
    }

    /// The first function of `lib` that another library (not among
    /// `leaving`) already defines.
    fn collision<'a>(&self, lib: &'a Library, leaving: &[&str]) -> Option<&'a str> {
        lib.functions.iter().map(|f| f.name.as_str()).find(|name| {
            self.functions
                .get(&name.to_ascii_lowercase())
                .is_some_and(|owner| !leaving.contains(&owner.as_str()))
        })
    }
}

/// The node's libraries, shared by every core.
#[derive(Default)]
pub struct Registry {
    libraries: Mutex<Libraries>,
    epoch: AtomicU64,
}

impl Registry {
    fn lock(&self) -> MutexGuard<'_, Libraries> {
        self.libraries.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Changes whenever the set of libraries changes.
    pub fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::SeqCst)
    }

    fn changed(&self) {
        self.epoch.fetch_add(1, Ordering::SeqCst);
    }

    pub fn contains(&self, name: &str) -> bool {
        self.lock().by_name.contains_key(name)
    }

    /// Every library, by name.
    pub fn libraries(&self) -> Vec<Arc<Library>> {
        self.lock().by_name.values().cloned().collect()
    }

    /// The epoch and the libraries it stands for.
    fn snapshot(&self) -> (u64, Vec<Arc<Library>>) {
        let libraries = self.lock();
        (self.epoch(), libraries.by_name.values().cloned().collect())
    }

    /// FUNCTION LOAD's last step: adds (or with `replace` replaces) `lib`
    /// unless its functions collide with another library's.
    pub fn load(&self, lib: Library, replace: bool) -> Result<(), Reply> {
        let mut libraries = self.lock();
        let exists = libraries.by_name.contains_key(&lib.name);
        if exists && !replace {
            return Err(Reply::error(format!(
                "ERR Library '{}' already exists",
                lib.name
            )));
        }
        if let Some(name) = libraries.collision(&lib, &[lib.name.as_str()]) {
            return Err(Reply::error(format!("ERR Function {name} already exists")));
        }
        libraries.unlink(&lib.name);
        libraries.link(Arc::new(lib));
        self.changed();
        Ok(())
    }

    /// FUNCTION RESTORE's last step: all of `libs` or nothing.
    pub fn restore(&self, libs: Vec<Library>, policy: RestorePolicy) -> Result<(), Reply> {
        let mut libraries = self.lock();
        if policy == RestorePolicy::Flush {
            *libraries = Libraries::default();
        }
        let names: Vec<&str> = libs.iter().map(|l| l.name.as_str()).collect();
        if policy == RestorePolicy::Append {
            if let Some(name) = names.iter().find(|n| libraries.by_name.contains_key(**n)) {
                return Err(Reply::error(format!("ERR Library {name} already exists")));
            }
        }
        for lib in &libs {
            if let Some(name) = libraries.collision(lib, &names) {
                return Err(Reply::error(format!("ERR Function {name} already exists")));
            }
        }
        for lib in libs {
            libraries.unlink(&lib.name);
            libraries.link(Arc::new(lib));
        }
        self.changed();
        Ok(())
    }

    pub fn delete(&self, name: &str) -> bool {
        let deleted = self.lock().unlink(name);
        if deleted {
            self.changed();
        }
        deleted
    }

    pub fn flush(&self) {
        *self.lock() = Libraries::default();
        self.changed();
    }

    /// Every library's code, shebang included (what an RDB file holds).
    pub fn codes(&self) -> Vec<Bytes> {
        self.lock()
            .by_name
            .values()
            .map(|lib| lib.code.clone())
            .collect()
    }

    /// FUNCTION DUMP: every library's code in Redis's payload format.
    pub fn dump(&self) -> Vec<u8> {
        let mut payload = Vec::new();
        for lib in self.lock().by_name.values() {
            payload.push(RDB_OPCODE_FUNCTION2);
            rdb::write_string(&mut payload, &lib.code);
        }
        rdb::seal(payload)
    }
}

/// RDB opcodes of a function library (7.0 GA) and of the pre-GA format.
const RDB_OPCODE_FUNCTION2: u8 = 245;
const RDB_OPCODE_FUNCTION_PRE_GA: u8 = 246;

/// The library codes in a FUNCTION DUMP payload, checked as Redis does.
pub fn parse_payload(payload: &[u8]) -> Result<Vec<Bytes>, Reply> {
    if !rdb::verify(payload) {
        return Err(Reply::error(
            "ERR DUMP payload version or checksum are wrong",
        ));
    }
    let mut reader = rdb::Reader::new(payload);
    let mut codes = Vec::new();
    // The last 10 bytes are the version and the checksum.
    while payload.len() - reader.pos() > 10 {
        let code = match reader.byte() {
            Some(RDB_OPCODE_FUNCTION2) => reader
                .string()
                .ok_or_else(|| Reply::error("ERR Failed loading library payload"))?,
            Some(RDB_OPCODE_FUNCTION_PRE_GA) => {
                pre_ga_library(&mut reader).map_err(Reply::error)?
            }
            _ => return Err(Reply::error("ERR given type is not a function")),
        };
        codes.push(Bytes::from(code));
    }
    Ok(codes)
}

/// A library in the 7.0 release candidates' format (name, engine, optional
/// description, code without shebang), turned into the GA form.
fn pre_ga_library(reader: &mut rdb::Reader) -> Result<Vec<u8>, &'static str> {
    let name = reader.string().ok_or("ERR Failed loading library name")?;
    let engine = reader.string().ok_or("ERR Failed loading engine name")?;
    let has_description = reader
        .length()
        .ok_or("ERR Failed loading library description indicator")?;
    if has_description != 0 {
        reader
            .string()
            .ok_or("ERR Failed loading library description")?;
    }
    let body = reader.string().ok_or("ERR Failed loading library blob")?;
    let mut code = b"#!".to_vec();
    code.extend_from_slice(&engine);
    code.extend_from_slice(b" name=");
    code.extend_from_slice(&name);
    code.push(b'\n');
    code.extend_from_slice(&body);
    Ok(code)
}

/// A function as one VM can call it.
#[derive(Clone)]
pub struct Callable {
    /// Shared: every FCALL takes a copy.
    pub name: std::rc::Rc<str>,
    pub flags: ScriptFlags,
    pub callback: Function,
}

/// The libraries one VM has loaded, and their functions by lower-cased
/// name (looked up without regard to case, as Redis does).
#[derive(Default)]
pub struct Loaded {
    epoch: u64,
    libraries: HashMap<String, (Arc<Library>, Vec<Callable>)>,
    functions: HashMap<String, Callable>,
}

impl Loaded {
    pub fn function(&self, name: &[u8]) -> Option<Callable> {
        let name = std::str::from_utf8(name).ok()?;
        // The common case, a lower-case name, is looked up as it is.
        let found = if name.bytes().any(|b| b.is_ascii_uppercase()) {
            self.functions.get(&name.to_ascii_lowercase())
        } else {
            self.functions.get(name)
        };
        found.cloned()
    }
}

/// An epoch the registry never reaches: forces the next [`sync`].
const UNSYNCED: u64 = u64::MAX;

/// Brings `engine`'s functions up to date with the registry: loads the
/// libraries added or replaced since the last call, drops deleted ones.
pub fn sync(engine: &Engine, registry: &Registry) {
    if engine.libraries.borrow().epoch == registry.epoch() {
        return;
    }
    let (epoch, libraries) = registry.snapshot();
    // Taken out while library code runs (it cannot reach this state, but
    // no borrow is held across Lua either way).
    let mut old = std::mem::take(&mut engine.libraries.borrow_mut().libraries);
    let mut loaded = Loaded {
        epoch,
        ..Loaded::default()
    };
    for lib in libraries {
        let callables = match old.remove(&lib.name) {
            Some((same, callables)) if Arc::ptr_eq(&same, &lib) => callables,
            _ => match parse_metadata(&lib.code)
                .and_then(|(_, body_at)| engine.load_library(&lib.code[body_at..]))
            {
                Ok(registered) => registered
                    .into_iter()
                    .map(|r| Callable {
                        name: r.name.into(),
                        flags: r.flags,
                        callback: r.callback,
                    })
                    .collect(),
                // It loaded on the core that added it; here only running
                // out of Lua memory can fail it: its functions stay missing
                // and the next call tries again.
                Err(_) => {
                    loaded.epoch = UNSYNCED;
                    continue;
                }
            },
        };
        loaded.libraries.insert(lib.name.clone(), (lib, callables));
    }
    // Names differing only in case within one library: the first
    // registered wins, as in the registry.
    let mut functions: HashMap<String, Callable> = HashMap::new();
    for (_, callables) in loaded.libraries.values() {
        for c in callables {
            functions
                .entry(c.name.to_ascii_lowercase())
                .or_insert_with(|| c.clone());
        }
    }
    loaded.functions = functions;
    *engine.libraries.borrow_mut() = loaded;
}

#[cfg(test)]
mod tests {
    use super::*;

    fn meta(code: &str) -> Result<(String, usize), String> {
        parse_metadata(code.as_bytes()).map_err(|e| match e {
            Reply::Error(e) => e.into_owned(),
            other => format!("{other:?}"),
        })
    }

    #[test]
    fn metadata_errors_are_redis_texts() {
        assert_eq!(meta("#!lua name=lib\nx"), Ok(("lib".into(), 14)));
        assert_eq!(meta("#!LUA NAME=Ab_1\n"), Ok(("Ab_1".into(), 15)));
        assert_eq!(
            meta("return 1").unwrap_err(),
            "ERR Missing library metadata"
        );
        assert_eq!(
            meta("#!lua name=x").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            meta("#!lua name=\"x\n").unwrap_err(),
            "ERR Invalid library metadata"
        );
        assert_eq!(
            meta("#!lua\n").unwrap_err(),
            "ERR Library name was not given"
        );
        assert_eq!(meta("#!\nx").unwrap_err(), "ERR Library name was not given");
        assert_eq!(meta("#!lua name=a-b\n").unwrap_err(), BAD_NAME);
        assert_eq!(meta("#!lua name=\"a b\"\n").unwrap_err(), BAD_NAME);
        assert_eq!(
            meta("#!js name=x\n").unwrap_err(),
            "ERR Engine 'js' not found"
        );
        assert_eq!(
            meta("#!lua name=x x=y\n").unwrap_err(),
            "ERR Invalid metadata value given: x=y"
        );
        assert_eq!(
            meta("#!lua name=x name=y\n").unwrap_err(),
            "ERR Invalid metadata value, name argument was given multiple times"
        );
    }

    fn lib(name: &str, functions: &[&str]) -> Library {
        Library {
            name: name.into(),
            code: Bytes::from(format!("#!lua name={name}\n")),
            functions: functions
                .iter()
                .map(|f| FunctionInfo {
                    name: (*f).into(),
                    description: None,
                    flags: ScriptFlags::default(),
                })
                .collect(),
        }
    }

    fn err(r: Result<(), Reply>) -> String {
        match r {
            Err(Reply::Error(e)) => e.into_owned(),
            other => format!("{other:?}"),
        }
    }

    #[test]
    fn registry_rules() {
        let r = Registry::default();
        assert!(r.load(lib("a", &["f", "g"]), false).is_ok());
        assert_eq!(
            err(r.load(lib("a", &["h"]), false)),
            "ERR Library 'a' already exists"
        );
        assert_eq!(
            err(r.load(lib("b", &["G"]), false)),
            "ERR Function G already exists"
        );
        // Replacing a library may reuse its own function names.
        assert!(r.load(lib("a", &["g", "h"]), true).is_ok());
        assert!(r.load(lib("b", &["f"]), false).is_ok());
        assert_eq!(r.libraries().len(), 2);
        let epoch = r.epoch();
        assert_eq!(
            err(r.restore(vec![lib("a", &["x"])], RestorePolicy::Append)),
            "ERR Library a already exists"
        );
        assert_eq!(
            err(r.restore(vec![lib("a", &["f"])], RestorePolicy::Replace)),
            "ERR Function f already exists"
        );
        assert_eq!(r.epoch(), epoch);
        assert!(r
            .restore(vec![lib("a", &["x"])], RestorePolicy::Replace)
            .is_ok());
        assert!(r.load(lib("c", &["g"]), false).is_ok());
        assert!(r.delete("c"));
        assert!(!r.delete("c"));
        assert!(r
            .restore(vec![lib("z", &["f"])], RestorePolicy::Flush)
            .is_ok());
        assert_eq!(r.libraries().len(), 1);
        let dump = r.dump();
        let codes = parse_payload(&dump).unwrap_or_default();
        assert_eq!(codes, vec![Bytes::from_static(b"#!lua name=z\n")]);
        r.flush();
        assert!(r.libraries().is_empty());
        assert_eq!(r.dump(), b"\n\x00]\x9b\\@\x0f\x7f\xa2\xda");
    }
}
