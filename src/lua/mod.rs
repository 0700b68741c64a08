//! Lua scripting: one Luau VM per core, Redis's `redis` API and libraries,
//! the node-wide script cache, function libraries and script status.
//!
//! The VM knows nothing of shards or commands: it reaches the shard a
//! script runs on only through [`ScriptHost`], which the shard implements.

mod api;
mod arguments;
pub mod cache;
mod convert;
pub mod engine;
pub mod functions;
pub mod interrupt;
pub mod libs;
mod rdb;
pub mod run;
pub mod status;

use bytes::Bytes;

pub use cache::ScriptCache;
pub use engine::Engine;

use crate::config::Config;
use crate::protocol::Reply;
use status::ScriptStatus;

/// What a script needs from the shard it runs on: the one interface
/// between the Lua engine (below) and the shard (above).
pub trait ScriptHost {
    /// The core's VM.
    fn engine(&self) -> &Engine;
    /// The node's scripts by sha1 (EVAL, EVALSHA, SCRIPT LOAD).
    fn script_cache(&self) -> &ScriptCache;
    /// The node's function libraries (FUNCTION LOAD, FCALL).
    fn functions(&self) -> &functions::Registry;
    /// The shard's script status: kills, busy, INFO.
    fn status(&self) -> &ScriptStatus;
    /// The node's configuration (the interrupt's limits).
    fn config(&self) -> &Config;
    /// The shard's number, for log lines.
    fn shard_id(&self) -> usize;
    /// Runs `redis.call(argv...)` (`argv` is not empty) for the running
    /// script, with the script's database and protocol (`engine().run`).
    /// `Err(Killed)`: the script was killed and must stop now.
    fn call(&self, argv: Vec<Bytes>) -> Result<Reply, Killed>;
    /// The script just went past `busy-reply-threshold`: whoever waits for
    /// the shard should look again (and answer `-BUSY`).
    fn became_busy(&self);
    /// Why a script with `flags` may not start here (a replica's
    /// READONLY or MASTERDOWN, as Redis checks a script's flags before it
    /// runs); None where it may.
    fn refuses_script(&self, _flags: &engine::ScriptFlags) -> Option<&'static str> {
        None
    }
}

/// A `redis.call` refused because the script was killed.
#[derive(Debug)]
pub struct Killed;
