//! Typed access to the value at a key: one accessor per value kind and
//! path, each answering `Ok(None)` for a missing (or expired) key and
//! WRONGTYPE ([`errors::wrongtype`]) for a key of another kind.
//!
//! The paths are Redis's `lookupKeyRead` and `lookupKeyWrite`:
//! - `read_*`: a read command's lookup, counted in INFO as a keyspace hit
//!   or miss (through [`Ctx::read`]).
//! - `peek_*`: a write command's look before it changes anything, or a
//!   second look at a key already counted: neither counted nor a change
//!   (a WATCHed key stays clean).
//! - `*_mut`: the value for changing in place (`Db::value_mut`): not
//!   counted, and a change of a WATCHed key. `*_or_insert` first stores an
//!   empty value when the key is missing; a key of another kind is left
//!   alone (and unchanged for WATCH).

use super::{errors, Ctx};
use crate::protocol::Reply;
use crate::store::value::{Hash, List, Set};
use crate::store::{Value, ValueRef, ZSet};

/// A kind of value, as the accessors see it: the owned type stored in
/// [`Value`], and what a read borrows (a string's bytes, else the same).
trait Kind {
    type Target: ?Sized;
    fn of(value: ValueRef<'_>) -> Option<&Self::Target>;
    fn of_mut(value: &mut Value) -> Option<&mut Self>;
    /// An empty value of this kind.
    fn empty() -> Value;
}

macro_rules! kind {
    ($owned:ty, $target:ty, $variant:ident) => {
        impl Kind for $owned {
            type Target = $target;
            fn of(value: ValueRef<'_>) -> Option<&$target> {
                match value {
                    ValueRef::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn of_mut(value: &mut Value) -> Option<&mut $owned> {
                match value {
                    Value::$variant(v) => Some(v),
                    _ => None,
                }
            }
            fn empty() -> Value {
                Value::$variant(Default::default())
            }
        }
    };
}

kind!(Vec<u8>, [u8], Str);
kind!(Hash, Hash, Hash);
kind!(List, List, List);
kind!(Set, Set, Set);
kind!(ZSet, ZSet, ZSet);

/// `found` as a `T`: None when missing, WRONGTYPE when `cast` refuses it.
fn typed<V, T>(found: Option<V>, cast: impl FnOnce(V) -> Option<T>) -> Result<Option<T>, Reply> {
    found
        .map(|v| cast(v).ok_or_else(errors::wrongtype))
        .transpose()
}

/// The generic accessors behind the named ones.
impl Ctx<'_> {
    fn read_kind<K: Kind>(&mut self, key: &[u8]) -> Result<Option<&K::Target>, Reply> {
        typed(self.read(key), K::of)
    }

    fn peek_kind<K: Kind>(&mut self, key: &[u8]) -> Result<Option<&K::Target>, Reply> {
        let now = self.now_ms;
        typed(self.db().value(key, now), K::of)
    }

    fn kind_mut<K: Kind>(&mut self, key: &[u8]) -> Result<Option<&mut K>, Reply> {
        // Looked at first: a write refused as WRONGTYPE changes nothing (a
        // watcher's EXEC still runs, as in Redis; no effect is recorded).
        if self.peek_kind::<K>(key)?.is_none() {
            return Ok(None);
        }
        let now = self.now_ms;
        typed(self.db().value_mut(key, now), K::of_mut)
    }

    fn kind_or_insert<K: Kind>(&mut self, key: &[u8]) -> Result<&mut K, Reply> {
        // Looked at first: a key of another kind is not touched.
        if self.peek_kind::<K>(key)?.is_none() {
            self.db().set(key, K::empty());
        }
        let now = self.now_ms;
        typed(self.db().value_mut(key, now), K::of_mut)?.ok_or_else(errors::wrongtype)
    }
}

/// Reads (counted as a keyspace hit or miss).
impl Ctx<'_> {
    pub fn read_str(&mut self, key: &[u8]) -> Result<Option<&[u8]>, Reply> {
        self.read_kind::<Vec<u8>>(key)
    }

    pub fn read_hash(&mut self, key: &[u8]) -> Result<Option<&Hash>, Reply> {
        self.read_kind::<Hash>(key)
    }

    pub fn read_list(&mut self, key: &[u8]) -> Result<Option<&List>, Reply> {
        self.read_kind::<List>(key)
    }

    pub fn read_set(&mut self, key: &[u8]) -> Result<Option<&Set>, Reply> {
        self.read_kind::<Set>(key)
    }

    pub fn read_zset(&mut self, key: &[u8]) -> Result<Option<&ZSet>, Reply> {
        self.read_kind::<ZSet>(key)
    }
}

/// Looks that neither count nor change anything.
impl Ctx<'_> {
    pub fn peek_str(&mut self, key: &[u8]) -> Result<Option<&[u8]>, Reply> {
        self.peek_kind::<Vec<u8>>(key)
    }

    pub fn peek_hash(&mut self, key: &[u8]) -> Result<Option<&Hash>, Reply> {
        self.peek_kind::<Hash>(key)
    }

    pub fn peek_list(&mut self, key: &[u8]) -> Result<Option<&List>, Reply> {
        self.peek_kind::<List>(key)
    }

    pub fn peek_set(&mut self, key: &[u8]) -> Result<Option<&Set>, Reply> {
        self.peek_kind::<Set>(key)
    }

    pub fn peek_zset(&mut self, key: &[u8]) -> Result<Option<&ZSet>, Reply> {
        self.peek_kind::<ZSet>(key)
    }
}

/// Writes in place (a change of a WATCHed key; not counted).
impl Ctx<'_> {
    /// The string at `key`, its expiry left alone.
    pub fn str_mut(&mut self, key: &[u8]) -> Result<Option<&mut Vec<u8>>, Reply> {
        self.kind_mut::<Vec<u8>>(key)
    }

    /// The string at `key` replaced by what `f` writes into its second
    /// argument from the current one, in one probe of the keyspace (INCR
    /// and friends); `f`'s result. An error from `f` (or WRONGTYPE)
    /// changes nothing.
    pub fn replace_str_with<T>(
        &mut self,
        key: &[u8],
        f: impl FnOnce(&[u8], &mut Vec<u8>) -> Result<T, Reply>,
    ) -> Result<Option<T>, Reply> {
        let now = self.now_ms;
        let done = self.db().update(key, now, |entry| {
            let ValueRef::Str(current) = entry.value() else {
                return (Err(errors::wrongtype()), false);
            };
            let mut new = Vec::new();
            match f(current, &mut new) {
                Ok(result) => {
                    entry.set_str(&new);
                    (Ok(result), true)
                }
                Err(e) => (Err(e), false),
            }
        });
        done.transpose()
    }

    pub fn hash_mut(&mut self, key: &[u8]) -> Result<Option<&mut Hash>, Reply> {
        self.kind_mut::<Hash>(key)
    }

    pub fn list_mut(&mut self, key: &[u8]) -> Result<Option<&mut List>, Reply> {
        self.kind_mut::<List>(key)
    }

    pub fn set_mut(&mut self, key: &[u8]) -> Result<Option<&mut Set>, Reply> {
        self.kind_mut::<Set>(key)
    }

    pub fn zset_mut(&mut self, key: &[u8]) -> Result<Option<&mut ZSet>, Reply> {
        self.kind_mut::<ZSet>(key)
    }

    /// The hash at `key`, created empty when missing: the caller adds to
    /// it (or deletes the key when it ends up empty).
    pub fn hash_or_insert(&mut self, key: &[u8]) -> Result<&mut Hash, Reply> {
        self.kind_or_insert::<Hash>(key)
    }

    /// The set at `key`, created empty when missing.
    pub fn set_or_insert(&mut self, key: &[u8]) -> Result<&mut Set, Reply> {
        self.kind_or_insert::<Set>(key)
    }
}
