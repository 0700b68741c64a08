//! The value types a key can hold: owned ([`Value`]) and borrowed
//! ([`ValueRef`], what reads see; plain strings are stored inline in the
//! entry, so a read borrows bytes rather than a `Value`).

use std::collections::VecDeque;

use hashbrown::{HashMap, HashSet};

use super::zset::ZSet;

/// A hash: field to value.
pub type Hash = HashMap<Box<[u8]>, Vec<u8>>;
/// A list: both ends O(1).
pub type List = VecDeque<Vec<u8>>;
/// A set of members.
pub type Set = HashSet<Box<[u8]>>;

#[derive(Debug, Clone, PartialEq)]
pub enum Value {
    Str(Vec<u8>),
    Hash(Hash),
    List(List),
    Set(Set),
    ZSet(ZSet),
}

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum ValueRef<'a> {
    Str(&'a [u8]),
    Hash(&'a Hash),
    List(&'a List),
    Set(&'a Set),
    ZSet(&'a ZSet),
}

impl Value {
    pub fn as_value_ref(&self) -> ValueRef<'_> {
        match self {
            Value::Str(s) => ValueRef::Str(s),
            Value::Hash(h) => ValueRef::Hash(h),
            Value::List(l) => ValueRef::List(l),
            Value::Set(s) => ValueRef::Set(s),
            Value::ZSet(z) => ValueRef::ZSet(z),
        }
    }

    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        self.as_value_ref().type_name()
    }
}

impl ValueRef<'_> {
    /// The name TYPE reports.
    pub fn type_name(&self) -> &'static str {
        match self {
            ValueRef::Str(_) => "string",
            ValueRef::Hash(_) => "hash",
            ValueRef::List(_) => "list",
            ValueRef::Set(_) => "set",
            ValueRef::ZSet(_) => "zset",
        }
    }

    pub fn to_owned_value(&self) -> Value {
        match *self {
            ValueRef::Str(s) => Value::Str(s.to_vec()),
            ValueRef::Hash(h) => Value::Hash(h.clone()),
            ValueRef::List(l) => Value::List(l.clone()),
            ValueRef::Set(s) => Value::Set(s.clone()),
            ValueRef::ZSet(z) => Value::ZSet(z.clone()),
        }
    }
}
