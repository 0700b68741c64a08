//! shardis: a Redis-compatible, thread-per-core in-memory server.
//!
//! Each pinned core runs a glommio executor that owns one shard of the
//! keyspace. README.md describes the design, the layout and the figures.

pub mod alloc;
pub mod aof;
pub mod cmd;
pub mod config;
pub mod layers;
pub mod loadgen;
pub mod lua;
pub mod node;
pub mod protocol;
pub mod rdb;
pub mod replication;
pub mod scenario;
pub mod server;
pub mod shard;
pub mod store;
pub mod util;

/// The Redis version shardis answers as (HELLO, INFO): the one whose
/// semantics it follows.
pub const REDIS_VERSION: &str = "7.0.15";
