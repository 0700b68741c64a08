//! The keyspace of one shard: databases, values and expiry.

pub mod db;
pub mod value;
pub mod zset;

pub use db::{Db, Entry};
pub use value::Value;
pub use zset::ZSet;
