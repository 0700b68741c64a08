//! The append-only log, one per shard: the file layer.
//!
//! This layer knows files, records and RESP, not shards: it sits above
//! `util` and below `shard`, which plugs it into its write hook.

pub mod crc;
pub mod record;
