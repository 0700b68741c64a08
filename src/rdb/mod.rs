//! Redis's RDB format, version 10 (what redis-server 7.0 writes and the
//! highest it reads): the persistence file and the value encoding that
//! DUMP/RESTORE payloads share.
//!
//! Sits right above `store`: it turns store values into bytes and back, and
//! knows nothing of shards, commands or Lua. The writer streams plain
//! encodings; the reader takes every encoding redis-server 7.0 writes and
//! treats its input as hostile (bounded reads, errors with byte offsets).

pub mod crc;
pub mod cursor;
pub mod encode;
pub mod error;
pub mod format;
pub mod intset;
pub mod listpack;
pub mod lzf;
pub mod payload;
pub mod read;
pub mod snapshot;
pub mod write;
pub mod ziplist;
pub mod zipmap;

pub use error::Error;
pub use read::{Item, Reader};
pub use write::Writer;

/// The RDB version Redis 7.0 writes (and the highest it accepts).
pub const RDB_VERSION: u16 = 10;
