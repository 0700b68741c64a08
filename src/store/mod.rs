//! The keyspace of one shard: databases, values and expiry.

pub mod db;
pub mod entry;
pub mod freeze;
pub mod keyspace;
pub mod value;
pub mod zset;

pub use db::Db;
pub use entry::Entry;
pub use keyspace::Keyspace;
pub use value::{Value, ValueRef};
pub use zset::ZSet;
