//! The engine of `shardis-bench`, a memtier_benchmark-style load
//! generator: worker threads, each an epoll loop over its own connections,
//! keep up to `pipeline` requests in flight per connection and record
//! every reply's latency per command type.
//!
//! The binary (`src/bin/shardis-bench.rs`) only parses flags and prints;
//! benches and tests drive [`run`] directly with a [`Plan`] of their own
//! (their own commands and key sets, e.g. keys of one shard), a stop flag,
//! and a callback that sees each second's histograms as the run goes.
//!
//! - `args`: the memtier-compatible command line, turned into a `Plan`
//! - `keys`: key patterns (R, S, G, P) over a prefix range or a key list
//! - `request`: command templates and their allocation-free encoding
//! - `reply`: finding the end of a RESP reply in place
//! - `poll`: the epoll wrapper
//! - `plan`: what a run does (the plan and its checks), why a run fails
//! - `gate`: the start gate that starts every worker on one clock
//! - `worker`: one thread's connections and event loop
//! - `stats`: histograms per type and interval, and their merging
//! - `run`: the threads and the merging of their intervals
//! - `report`: progress line, final table, JSON

pub mod args;
mod gate;
pub mod keys;
pub mod plan;
pub mod poll;
pub mod reply;
pub mod report;
pub mod request;
pub mod run;
pub mod stats;
pub mod worker;

pub use keys::{KeyPattern, KeySpace};
pub use plan::{CommandSpec, Credentials, Limit, LoadError, Plan};
pub use request::Template;
pub use run::run;
pub use stats::{IntervalPoint, IntervalStats, RunStats, TypeStats};

/// Most worker threads one run may start.
pub const MAX_THREADS: usize = 256;
/// Most connections one worker thread may drive.
pub const MAX_CLIENTS_PER_THREAD: usize = 10_000;
/// Most requests one connection may have in flight.
pub const MAX_PIPELINE: usize = 10_000;
/// Largest `--data-size`: with the key and headers, a SET stays well
/// under the server's bulk limit and one GET reply under MAX_REPLY_BYTES.
pub const MAX_DATA_SIZE_BYTES: usize = 32 << 20;
/// Longest key a key space may produce.
pub const MAX_KEY_BYTES: usize = 64 << 10;
/// Most request bytes one connection may hold unsent: `pipeline` times
/// the longest request of the plan must fit.
pub const MAX_OUTPUT_BYTES: usize = 256 << 20;
/// Most arguments in one command template.
pub const MAX_COMMAND_ARGS: usize = 1024;
/// Most command types in one plan (rows of the report).
pub const MAX_COMMANDS: usize = 64;
/// Largest reply the generator accepts; a connection's read buffer grows
/// to this at most, and a larger reply fails the run.
pub const MAX_REPLY_BYTES: usize = 64 << 20;
/// A connection's read buffer to start with.
pub const READ_BUFFER_BYTES: usize = 16 << 10;
/// Longest latency the histograms tell apart (60 s); longer ones are
/// recorded as this.
pub const MAX_LATENCY_US: u64 = 60_000_000;
