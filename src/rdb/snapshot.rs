//! A shard's keyspace to an RDB file and back: what SAVE and loading at
//! start-up build on. Each shard can write its own complete file, and
//! each can load from any file the keys of the slots it owns, so a file
//! loads at any shard count.

use std::cell::RefCell;
use std::io::{self, Write};
use std::rc::Rc;

use super::cursor::Result;
use super::read::{Item, Reader};
use super::write::Writer;
use crate::store::{Entry, Keyspace};

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

/// A shard's keyspace as RDB records, taken while the shard keeps
/// serving (BGSAVE, a log rewrite): every database is frozen at
/// [`Capture::begin`] (see `store::freeze`) and its keys come out in
/// chunks, as they were then, whatever changes meanwhile.
///
/// Each chunk starts with a SELECTDB, so chunks of several shards can be
/// interleaved in one file. Keys already expired at the capture's clock
/// are left out.
pub struct Capture {
    records: Rc<RefCell<Records>>,
}

/// What the frozen tables became so far.
struct Records {
    writer: Writer<Vec<u8>>,
    /// The database of the last key written into the current chunk.
    db: Option<usize>,
    /// Sizing hints per database, written with its first SELECTDB.
    hints: Vec<Option<(u64, u64)>>,
}

impl Records {
    fn write(&mut self, db: usize, entries: &mut dyn Iterator<Item = &Entry>, now_ms: u64) {
        for entry in entries.filter(|e| !e.is_expired(now_ms)) {
            // Writing into a Vec cannot fail.
            if self.db != Some(db) {
                let _ = match self.hints[db].take() {
                    Some((keys, expires)) => self.writer.select_db(db as u32, keys, expires),
                    None => self.writer.select(db as u32),
                };
                self.db = Some(db);
            }
            let _ = self
                .writer
                .key(entry.key(), entry.value(), entry.expires_at_ms());
        }
    }
}

impl Capture {
    /// Freezes every database of `keyspace` as it is now (a view still
    /// running in it is dropped); keys expired at `now_ms` are left out;
    /// long strings LZF-compressed when `compress` (`rdbcompression`).
    pub fn begin(keyspace: &mut Keyspace, now_ms: u64, compress: bool) -> Capture {
        let records = Rc::new(RefCell::new(Records {
            writer: Writer::for_records(Vec::new()).compressing(compress),
            db: None,
            hints: keyspace
                .dbs
                .iter()
                .map(|db| Some((db.len() as u64, db.volatile_len() as u64)))
                .collect(),
        }));
        for (index, db) in keyspace.dbs.iter_mut().enumerate() {
            let into = records.clone();
            db.freeze(Box::new(move |entries| {
                into.borrow_mut().write(index, entries, now_ms)
            }));
        }
        Capture { records }
    }

    /// The next chunk of records: steps the view until at least
    /// `min_bytes` are ready or it is complete. `None` once everything
    /// has been handed out.
    pub fn next_chunk(&self, keyspace: &mut Keyspace, min_bytes: usize) -> Option<Vec<u8>> {
        let ready = || self.records.borrow().writer.pending_bytes();
        for db in keyspace.dbs.iter_mut() {
            while ready() < min_bytes && db.freeze_step() {}
        }
        let mut records = self.records.borrow_mut();
        records.db = None;
        let chunk = records.writer.take_records();
        (!chunk.is_empty()).then_some(chunk)
    }

    /// Stops the view early (a failed or cancelled save).
    pub fn abort(self, keyspace: &mut Keyspace) {
        for db in keyspace.dbs.iter_mut() {
            db.thaw();
        }
    }
}

/// What a save asks of one shard's [`Capture`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaptureStep {
    /// Freeze the shard's keyspace now (once no script holds it).
    Begin { now_ms: u64 },
    /// The next chunk of records; `None` once the view is complete.
    Next,
    /// Stop the view early (a failed or cancelled save).
    Abort,
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
    load(file, keyspace, now_ms, false)
}

/// [`load_keyspace`] into a keyspace emptied first (DEBUG RELOAD): once
/// the whole file has read, every database is flushed, then filled.
pub fn reload_keyspace(file: &[u8], keyspace: &mut Keyspace, now_ms: u64) -> Result<Loaded> {
    load(file, keyspace, now_ms, true)
}

fn load(file: &[u8], keyspace: &mut Keyspace, now_ms: u64, flush: bool) -> Result<Loaded> {
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
    if flush {
        keyspace.dbs.iter_mut().for_each(|db| db.clear());
    }
    for (db, key, value, expires_at_ms) in keep {
        keyspace.dbs[db].insert(&key, value, expires_at_ms);
    }
    Ok(loaded)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::Value;

    /// Every live key of every database, for comparing keyspaces.
    fn contents(keyspace: &Keyspace, now: u64) -> Vec<(usize, Vec<u8>, Value, u64)> {
        let mut all = Vec::new();
        for (index, db) in keyspace.dbs.iter().enumerate() {
            for e in db.entries().filter(|e| !e.is_expired(now)) {
                all.push((
                    index,
                    e.key().to_vec(),
                    e.value().to_owned_value(),
                    e.expires_at_ms(),
                ));
            }
        }
        all.sort_by(|a, b| (a.0, &a.1).cmp(&(b.0, &b.1)));
        all
    }

    #[test]
    fn a_capture_of_two_shards_in_interleaved_chunks_is_the_keyspace_at_its_start() {
        let now = 1_000_000;
        let mut shards = [Keyspace::for_shard(0, 2), Keyspace::for_shard(1, 2)];
        for i in 0..4000 {
            let key = format!("key{i}");
            let shard = shards
                .iter_mut()
                .find(|s| s.dbs[0].owns(key.as_bytes()))
                .unwrap();
            let value = match i % 3 {
                0 => Value::Str(vec![b'v'; i % 40]),
                1 => Value::List((0..=i % 5).map(|n| vec![n as u8]).collect()),
                _ => Value::Str(i.to_string().into_bytes()),
            };
            let expiry = if i % 11 == 0 { now + 60_000 } else { 0 };
            shard.dbs[i % 4].insert(key.as_bytes(), value, expiry);
        }
        let before: Vec<_> = shards.iter().map(|s| contents(s, now)).collect();
        let captures: Vec<Capture> = shards
            .iter_mut()
            .map(|s| Capture::begin(s, now, true))
            .collect();

        let mut writer = Writer::new(Vec::new());
        writer.begin(0).unwrap();
        let mut done = [false, false];
        let mut round = 0;
        while !done.iter().all(|d| *d) {
            for (s, shard) in shards.iter_mut().enumerate() {
                // Writes between chunks: overwrites, deletes, a flush.
                for db in 0..4 {
                    for k in 0..3 {
                        let key = format!("key{}", (round * 7 + k * 13 + db) % 4200);
                        if shard.dbs[db].owns(key.as_bytes()) {
                            shard.dbs[db].set(key.as_bytes(), Value::Str(b"later".to_vec()));
                            let other = format!("key{}", (round * 3 + k) % 4000);
                            if shard.dbs[db].owns(other.as_bytes()) {
                                shard.dbs[db].remove(other.as_bytes());
                            }
                        }
                    }
                }
                if round == 5 {
                    shard.dbs[2].clear();
                }
                if done[s] {
                    continue;
                }
                match captures[s].next_chunk(shard, 2048) {
                    Some(chunk) => writer.records(&chunk).unwrap(),
                    None => done[s] = true,
                }
            }
            round += 1;
        }
        assert!(round > 10, "the capture came out in many chunks");
        let file = writer.finish().unwrap();
        for (s, expected) in before.iter().enumerate() {
            let mut back = Keyspace::for_shard(s, 2);
            load_keyspace(&file, &mut back, now).unwrap();
            let got = contents(&back, now);
            let missing = expected.iter().filter(|e| !got.contains(e)).count();
            let extra = got.iter().filter(|e| !expected.contains(e)).count();
            assert_eq!(
                (missing, extra),
                (0, 0),
                "shard {s}: keys missing, keys not expected"
            );
        }
    }

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
