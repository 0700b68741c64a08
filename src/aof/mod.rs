//! The append-only log, one per shard: the file layer.
//!
//! Each shard appends the effects it applies (see the write hook,
//! `shard::effects`) as framed records ([`record`]) to its current
//! incremental file through a group-commit [`writer`]; a [`manifest`]
//! names the shard count and each shard's base and incremental files; on
//! start, [`recovery`] reads them back, drops a torn last record and
//! refuses anything else that does not verify; [`startup`] puts these
//! together when the server starts.
//!
//! This layer knows files, records and RESP, not shards: it sits above
//! `util` and below `shard`, which plugs it into its write hook.

use std::path::{Path, PathBuf};

use crate::config::{Config, Param};

pub mod crc;
pub mod manifest;
pub mod record;
pub mod recovery;
pub mod startup;
pub mod writer;

/// Where the append-only log lives: `dir/appenddirname`.
pub fn log_dir(config: &Config) -> PathBuf {
    Path::new(&config.string(Param::Dir)).join(config.string(Param::Appenddirname))
}

/// The manifest's name, as Redis names it: `appendfilename.manifest`.
pub fn manifest_name(config: &Config) -> String {
    format!("{}.manifest", config.string(Param::Appendfilename))
}

#[cfg(test)]
pub(crate) mod tests;
