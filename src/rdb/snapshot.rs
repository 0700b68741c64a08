//! A shard's keyspace to an RDB file and back: what SAVE and loading at
//! start-up build on. Each shard can write its own complete file, and
//! each can load from any file the keys of the slots it owns, so a file
//! loads at any shard count.

use std::io::{self, Write};

use super::cursor::Result;
use super::read::{Item, Reader};
use super::write::Writer;
use crate::store::Keyspace;

/// Writes the live keys of every non-empty database of `keyspace` (keys
/// expired by `now_ms` are left out, as Redis leaves them out).
pub fn write_keyspace<W: Write>(
    writer: &mut Writer<W>,
    keyspace: &Keyspace,
    now_ms: u64,
) -> io::Result<()> {
    for (index, db) in keyspace.dbs.iter().enumerate() {
        let live = || db.entries().filter(|e| !e.is_expired(now_ms));
        let keys = live().count() as u64;
        if keys == 0 {
            continue;
        }
        let expires = live().filter(|e| e.expires_at_ms() != 0).count() as u64;
        writer.select_db(index as u32, keys, expires)?;
        for entry in live() {
            writer.key(entry.key(), entry.value(), entry.expires_at_ms())?;
        }
    }
    Ok(())
}

/// A shard's keys as RDB records (SELECTDB, keys), for a file another
/// core assembles with [`Writer::records`].
pub fn keyspace_records(keyspace: &Keyspace, now_ms: u64) -> io::Result<Vec<u8>> {
    let mut writer = Writer::new(Vec::new());
    write_keyspace(&mut writer, keyspace, now_ms)?;
    Ok(writer.into_records())
}

/// What a load found besides the keys it kept.
#[derive(Debug, Default, PartialEq)]
pub struct Loaded {
    /// Keys stored in this keyspace.
    pub keys: usize,
    /// Keys already expired at `now_ms`: dropped, as a Redis master does.
    pub expired: usize,
    /// Keys of slots another shard owns.
    pub elsewhere: usize,
    /// Function libraries' code, for the caller to load.
    pub functions: Vec<Vec<u8>>,
}

/// Loads into `keyspace` the keys of `file` that belong to its slots. The
/// keyspace is changed only if the whole file reads (checksum included).
pub fn load_keyspace(file: &[u8], keyspace: &mut Keyspace, now_ms: u64) -> Result<Loaded> {
    let mut reader = Reader::new(file)?;
    let mut keep = Vec::new();
    let mut loaded = Loaded::default();
    loop {
        let at = reader.offset();
        let Some(item) = reader.next_item()? else {
            break;
        };
        match item {
            Item::Key {
                db,
                key,
                value,
                expires_at_ms,
            } => {
                let Some(target) = keyspace.dbs.get(db as usize) else {
                    return Err(super::Error::new(
                        at,
                        format!("database {db} is beyond the configured databases"),
                    ));
                };
                if !target.owns(&key) {
                    loaded.elsewhere += 1;
                } else if expires_at_ms != 0 && expires_at_ms <= now_ms {
                    loaded.expired += 1;
                } else {
                    keep.push((db as usize, key, value, expires_at_ms));
                }
            }
            Item::Function(code) => loaded.functions.push(code),
            Item::Aux(..) | Item::DbSize { .. } => {}
        }
    }
    loaded.keys = keep.len();
    for (db, key, value, expires_at_ms) in keep {
        keyspace.dbs[db].insert(&key, value, expires_at_ms);
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    #[test]
    fn a_keyspace_round_trips_and_each_shard_keeps_its_own_slots() {
        let now = 1_000_000;
        let mut one = Keyspace::for_shard(0, 1);
        for i in 0..200 {
            let key = format!("key{i}");
            one.dbs[i % 3].insert(key.as_bytes(), Value::Str(vec![b'v'; i]), 0);
        }
        one.dbs[7].insert(b"ttl", Value::Str(b"x".to_vec()), now + 5000);
        one.dbs[7].insert(b"gone", Value::Str(b"x".to_vec()), now - 1);
        let mut writer = Writer::new(Vec::new());
        writer.begin(0).unwrap();
        write_keyspace(&mut writer, &one, now).unwrap();
        writer.function(b"#!lua name=l\n").unwrap();
        let file = writer.finish().unwrap();

        let mut back = Keyspace::for_shard(0, 1);
        let loaded = load_keyspace(&file, &mut back, now).unwrap();
        assert_eq!(loaded.keys, 201);
        assert_eq!(loaded.expired, 0, "an expired key is not written at all");
        assert_eq!(loaded.functions, vec![b"#!lua name=l\n".to_vec()]);
        assert_eq!(
            back.dbs[7].get(b"ttl", now).map(|e| e.expires_at_ms()),
            Some(now + 5000)
        );
        assert!(back.dbs[7].get(b"gone", now).is_none());
        for i in 0..200 {
            let key = format!("key{i}");
            let value = back.dbs[i % 3]
                .value(key.as_bytes(), now)
                .map(|v| v.to_owned_value());
            assert_eq!(value, Some(Value::Str(vec![b'v'; i])));
        }

        // Three shards: each keeps its slots' keys, together all of them.
        let mut total = 0;
        for id in 0..3 {
            let mut shard = Keyspace::for_shard(id, 3);
            let loaded = load_keyspace(&file, &mut shard, now).unwrap();
            assert_eq!(loaded.keys + loaded.elsewhere, 201);
            assert_eq!(
                loaded.keys,
                shard.dbs.iter().map(|db| db.len()).sum::<usize>()
            );
            total += loaded.keys;
        }
        assert_eq!(total, 201);

        // A bad file changes nothing.
        let mut bad = file.clone();
        let n = bad.len();
        bad[n - 1] ^= 1;
        let mut untouched = Keyspace::for_shard(0, 1);
        assert!(load_keyspace(&bad, &mut untouched, now).is_err());
        assert!(untouched.dbs.iter().all(|db| db.is_empty()));
    }
}
