//! The value types a key can hold.

use std::collections::VecDeque;

use hashbrown::{HashMap, HashSet};

use super::zset::ZSet;

/// A key's value. Aggregates are boxed so an entry stays small.
#[derive(Debug, Clone)]
pub enum Value {
    Str(Vec<u8>),
    Hash(Box<HashMap<Box<[u8]>, Vec<u8>>>),
    List(Box<VecDeque<Vec<u8>>>),
    Set(Box<HashSet<Box<[u8]>>>),
    ZSet(Box<ZSet>),
}

impl Value {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            Value::Str(_) => "string",
            Value::Hash(_) => "hash",
            Value::List(_) => "list",
            Value::Set(_) => "set",
            Value::ZSet(_) => "zset",
        }
    }

    /// Heap bytes held, an estimate for MEMORY USAGE and INFO.
    pub fn heap_bytes(&self) -> usize {
        match self {
            Value::Str(s) => s.capacity(),
            Value::Hash(h) => h.iter().map(|(k, v)| k.len() + v.capacity() + 48).sum(),
            Value::List(l) => l.iter().map(|v| v.capacity() + 24).sum(),
            Value::Set(s) => s.iter().map(|m| m.len() + 24).sum(),
            Value::ZSet(z) => z.len() * 64,
        }
    }
}
