//! One logical database of one shard: the keys of the shard's slots, in
//! one hash table per group of [`SLOTS_PER_TABLE`] consecutive slots, with
//! lazy and active expiry.
//!
//! Slot-group tables give SCAN a cursor that is simply the next group's
//! first slot: every key present for a whole SCAN is returned, at any shard
//! count, and the cursor walks the shards in slot order.

use std::hash::BuildHasher;
use std::ops::Range;
use std::time::{Duration, Instant};

use hashbrown::hash_table::Entry as TableEntry;
use hashbrown::{DefaultHashBuilder, HashMap, HashTable};

use super::entry::Entry;
use super::freeze::{Freeze, TableSink};
use super::value::{Value, ValueRef};
use crate::util::glob::glob_match;
use crate::util::slot::key_hash_slot;

/// Consecutive slots that share one table. One table per slot (16,384 for
/// one shard) made every lookup miss the cache once more than one big
/// table does: the table headers alone span 512 KiB and each small table
/// is its own allocation (a 1-shard SET/GET with pipelining ran at 0.8x
/// redis-server; per 16 slots, 1.0x). Larger groups make a SCAN step
/// bigger: a step returns whole groups.
pub const SLOTS_PER_TABLE: u16 = 16;

pub struct Db {
    /// The shard's slot groups, in order; empty until the first key arrives.
    tables: Vec<HashTable<Entry>>,
    slots: Range<u16>,
    hasher: DefaultHashBuilder,
    keys: usize,
    /// Keys with an expiry: active expiry skips databases without any.
    volatile: usize,
    /// Where active expiry continues (index into `tables`).
    expire_cursor: usize,
    /// Keys some connection WATCHes: every change to one of them bumps its
    /// version. Empty (the usual case), it costs each write one branch.
    watched: HashMap<Box<[u8]>, WatchedKey>,
    /// Changes so far: the shard compares it around a command to know
    /// whether the command changed anything (see `shard::effects`).
    changes: u64,
    /// Keys deleted because they expired, until the shard takes them
    /// (`Some` only while the shard records effects).
    expired: Option<Vec<Box<[u8]>>>,
    /// Keys created, until the shard takes them (`Some` only while the
    /// shard announces `new` events, see `crate::notify`).
    created: Option<Vec<Box<[u8]>>>,
    /// A point-in-time view being taken (see `super::freeze`).
    freeze: Option<Box<Freeze>>,
}

/// How many connections watch a key, and how often it changed since the
/// first of them started to.
#[derive(Debug, Default)]
struct WatchedKey {
    watchers: u32,
    version: u64,
}

/// Outcome of one step of active expiry.
#[derive(Debug, Default, Clone, Copy)]
pub struct ExpireStats {
    pub examined: usize,
    pub expired: usize,
}

impl Db {
    pub fn new(slots: Range<u16>) -> Self {
        Db {
            tables: Vec::new(),
            slots,
            hasher: DefaultHashBuilder::default(),
            keys: 0,
            volatile: 0,
            expire_cursor: 0,
            watched: HashMap::new(),
            changes: 0,
            expired: None,
            created: None,
            freeze: None,
        }
    }

    /// Keys stored, including expired ones not yet reclaimed (as DBSIZE).
    pub fn len(&self) -> usize {
        self.keys
    }

    pub fn is_empty(&self) -> bool {
        self.keys == 0
    }

    pub fn volatile_len(&self) -> usize {
        self.volatile
    }

    /// Whether the key and expiry counts agree with what the tables hold.
    /// O(keys), so only test builds check it (after each active-expiry
    /// tick, see `ShardState::expire_tick`).
    pub fn counts_hold(&self) -> bool {
        let keys: usize = self.tables.iter().map(HashTable::len).sum();
        let volatile = self
            .tables
            .iter()
            .flat_map(|t| t.iter())
            .filter(|e| e.expires_at_ms() != 0)
            .count();
        keys == self.keys && volatile == self.volatile
    }

    pub fn owns(&self, key: &[u8]) -> bool {
        self.slots.contains(&key_hash_slot(key))
    }

    fn locate(&self, key: &[u8]) -> (usize, u64) {
        let slot = key_hash_slot(key);
        assert!(
            self.slots.contains(&slot),
            "key routed to a shard that does not own its slot"
        );
        (
            ((slot - self.slots.start) / SLOTS_PER_TABLE) as usize,
            self.hasher.hash_one(key),
        )
    }

    /// The live entry for `key`; an expired one is deleted on the way.
    pub fn get(&mut self, key: &[u8], now_ms: u64) -> Option<&Entry> {
        self.find_live(key, now_ms).map(|e| &*e)
    }

    /// The live entry for `key`, for changing it (write paths only: the
    /// key counts as changed).
    pub fn get_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        self.changes += 1;
        self.before_change(key);
        if !self.watched.is_empty() {
            // Only a live key's version moves; a second probe only while
            // some key is watched.
            self.find_live(key, now_ms)?;
            bump(&mut self.watched, key);
        }
        self.find_live(key, now_ms)
    }

    /// A look-then-write in one probe: `f` sees the live entry for `key`
    /// and returns its result and whether it changed the entry; only then
    /// does the key count as changed (WATCH, the write hook). None: no
    /// live entry.
    pub fn update<R>(
        &mut self,
        key: &[u8],
        now_ms: u64,
        f: impl FnOnce(&mut Entry) -> (R, bool),
    ) -> Option<R> {
        self.before_change(key);
        let (result, changed) = f(self.find_live(key, now_ms)?);
        if changed {
            self.changed(key);
        }
        Some(result)
    }

    /// The live entry for `key`, found with one probe of its table; an
    /// expired one is deleted.
    fn find_live(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Entry> {
        if self.tables.is_empty() {
            return None;
        }
        let (t, hash) = self.locate(key);
        if let Some(freeze) = self.freeze.as_mut().filter(|f| f.is_pending(t)) {
            let found = self.tables[t].find(hash, |e| e.key() == key);
            if found.is_some_and(|e| e.is_expired(now_ms)) {
                // Deleted below while a snapshot still wants it.
                freeze.before_change(hash, key, found);
            }
        }
        let found = self.tables[t].find_entry(hash, |e| e.key() == key).ok()?;
        if !found.get().is_expired(now_ms) {
            return Some(found.into_mut());
        }
        let (entry, _) = found.remove();
        // As `remove`, without probing again (fields, not methods: the
        // table stays borrowed on the other branch).
        self.keys -= 1;
        if entry.expires_at_ms() != 0 {
            self.volatile -= 1;
        }
        // Fields again, as above.
        if !self.watched.is_empty() {
            bump(&mut self.watched, key);
        }
        if let Some(expired) = &mut self.expired {
            expired.push(Box::from(key));
        }
        None
    }

    /// Live value of `key`, if any.
    pub fn value(&mut self, key: &[u8], now_ms: u64) -> Option<ValueRef<'_>> {
        self.get(key, now_ms).map(|e| e.value())
    }

    /// Live value of `key` for changing in place (write paths only).
    pub fn value_mut(&mut self, key: &[u8], now_ms: u64) -> Option<&mut Value> {
        self.get_mut(key, now_ms).map(|e| e.value_mut())
    }

    pub fn contains(&mut self, key: &[u8], now_ms: u64) -> bool {
        self.get(key, now_ms).is_some()
    }

    /// Stores `value` under `key`, dropping any old value and expiry.
    pub fn set(&mut self, key: &[u8], value: Value) {
        self.insert(key, value, 0);
    }

    /// Stores `value` with an expiry (0: none), replacing any old entry.
    pub fn insert(&mut self, key: &[u8], value: Value, expires_at_ms: u64) {
        self.insert_entry(key, Entry::new(key, value, expires_at_ms));
    }

    /// Stores the string `value` (SET's path: no copy but the packing).
    pub fn insert_str(&mut self, key: &[u8], value: &[u8], expires_at_ms: u64) {
        self.insert_entry(key, Entry::string(key, value, expires_at_ms));
    }

    /// Stores `entry` under `key` (its own key), replacing any old entry.
    fn insert_entry(&mut self, key: &[u8], entry: Entry) {
        let expires_at_ms = entry.expires_at_ms();
        if self.tables.is_empty() {
            let groups = self.slots.len().div_ceil(SLOTS_PER_TABLE as usize);
            self.tables = (0..groups).map(|_| HashTable::new()).collect();
        }
        self.changed(key);
        let (t, hash) = self.locate(key);
        self.before_change_at(t, hash, key);
        let hasher = &self.hasher;
        match self.tables[t].entry(hash, |e| e.key() == key, |e| hasher.hash_one(e.key())) {
            TableEntry::Occupied(mut o) => {
                let e = o.get_mut();
                if e.expires_at_ms() != 0 {
                    self.volatile -= 1;
                }
                *e = entry;
            }
            TableEntry::Vacant(v) => {
                v.insert(entry);
                self.keys += 1;
                if let Some(created) = &mut self.created {
                    created.push(Box::from(key));
                }
            }
        }
        if expires_at_ms != 0 {
            self.volatile += 1;
        }
    }

    /// Removes `key` whether or not it has expired.
    pub fn remove(&mut self, key: &[u8]) -> Option<Entry> {
        let entry = self.take(key)?;
        self.changed(key);
        Some(entry)
    }

    /// Removes `key` if it is live; an expired key counts as absent (and
    /// is deleted as expired).
    pub fn remove_live(&mut self, key: &[u8], now_ms: u64) -> Option<Entry> {
        let entry = self.take(key)?;
        if entry.is_expired(now_ms) {
            self.expired_one(key);
            return None;
        }
        self.changed(key);
        Some(entry)
    }

    /// Takes `key`'s entry out of its table, keeping the counts; the
    /// caller records why (a change or an expiry).
    fn take(&mut self, key: &[u8]) -> Option<Entry> {
        if self.tables.is_empty() {
            return None;
        }
        let (t, hash) = self.locate(key);
        self.before_change_at(t, hash, key);
        let entry = self.tables[t]
            .find_entry(hash, |e| e.key() == key)
            .ok()?
            .remove()
            .0;
        self.keys -= 1;
        if entry.expires_at_ms() != 0 {
            self.volatile -= 1;
        }
        Some(entry)
    }

    /// Sets (or with 0 clears) the expiry of a live key; false if absent.
    pub fn set_expiry(&mut self, key: &[u8], expires_at_ms: u64, now_ms: u64) -> bool {
        let Some(entry) = self.get_mut(key, now_ms) else {
            return false;
        };
        let was_volatile = entry.expires_at_ms() != 0;
        entry.set_expires_at_ms(expires_at_ms);
        match (was_volatile, expires_at_ms != 0) {
            (false, true) => self.volatile += 1,
            (true, false) => self.volatile -= 1,
            _ => {}
        }
        true
    }

    pub fn clear(&mut self) {
        // Even an empty database's FLUSHDB is a change (Redis propagates it).
        self.changes += 1;
        // As Redis, FLUSHDB changes only the watched keys that existed.
        if !self.watched.is_empty() {
            let present: Vec<Box<[u8]>> = self
                .watched
                .keys()
                .filter(|k| self.find(k).is_some())
                .cloned()
                .collect();
            present.iter().for_each(|k| bump(&mut self.watched, k));
        }
        let tables = std::mem::take(&mut self.tables);
        if let Some(freeze) = &mut self.freeze {
            freeze.keep_flushed(tables);
        }
        self.keys = 0;
        self.volatile = 0;
        self.expire_cursor = 0;
    }

    /// Every live key matching `pattern` (None: all).
    pub fn keys(&self, pattern: Option<&[u8]>, now_ms: u64) -> Vec<Box<[u8]>> {
        let mut out = Vec::new();
        for table in &self.tables {
            for e in table.iter() {
                if !e.is_expired(now_ms) && pattern.is_none_or(|p| glob_match(p, e.key(), false)) {
                    out.push(Box::from(e.key()));
                }
            }
        }
        out
    }

    /// One SCAN step starting at global slot `cursor`: whole slot groups
    /// (tables) are visited until at least `count` keys were looked at.
    /// Returns the next cursor (the next group's first global slot, or None
    /// at the shard's end; see [`Self::slots`]) and the live entries found,
    /// filtered by `accept`.
    pub fn scan(
        &self,
        cursor: u16,
        count: usize,
        now_ms: u64,
        mut accept: impl FnMut(&Entry) -> bool,
    ) -> (Option<u16>, Vec<Box<[u8]>>) {
        let mut out = Vec::new();
        let mut examined = 0;
        let start = self.slots.start;
        // A cursor inside a group (never one this returned) rescans the
        // group from its first slot: repeats are allowed, misses are not.
        let mut group = (cursor.max(start) - start) / SLOTS_PER_TABLE;
        let groups = self.slots.len().div_ceil(SLOTS_PER_TABLE as usize) as u16;
        while group < groups {
            if let Some(table) = self.tables.get(group as usize) {
                for e in table.iter() {
                    examined += 1;
                    if !e.is_expired(now_ms) && accept(e) {
                        out.push(Box::from(e.key()));
                    }
                }
            }
            group += 1;
            if examined >= count {
                break;
            }
        }
        let next = (group < groups).then(|| start + group * SLOTS_PER_TABLE);
        (next, out)
    }

    /// Every entry, expired ones not reclaimed yet included (a snapshot
    /// filters them by its own clock).
    pub fn entries(&self) -> impl Iterator<Item = &Entry> + '_ {
        self.tables.iter().flat_map(|table| table.iter())
    }

    /// The slots this database holds.
    pub fn slots(&self) -> Range<u16> {
        self.slots.clone()
    }

    /// A uniformly chosen slot-group table, then a random live key in it.
    pub fn random_key(&mut self, now_ms: u64, mut rand: impl FnMut() -> u64) -> Option<Box<[u8]>> {
        // Bounded tries: a keyspace of expired keys must not spin forever.
        for _ in 0..100 {
            if self.keys == 0 || self.tables.is_empty() {
                return None;
            }
            let nonempty: usize = self.tables.iter().filter(|t| !t.is_empty()).count();
            let pick = (rand() % nonempty as u64) as usize;
            let table = self.tables.iter().filter(|t| !t.is_empty()).nth(pick)?;
            let i = (rand() % table.len() as u64) as usize;
            let entry = table.iter().nth(i)?;
            let key: Box<[u8]> = Box::from(entry.key());
            if !entry.is_expired(now_ms) {
                return Some(key);
            }
            self.take(&key);
            self.expired_one(&key);
        }
        None
    }

    /// The entry for `key`, live or expired, without side effects.
    fn find(&self, key: &[u8]) -> Option<&Entry> {
        let (t, hash) = self.locate(key);
        self.tables.get(t)?.find(hash, |e| e.key() == key)
    }

    /// Records a change to `key`: counted, and seen by its watchers.
    fn changed(&mut self, key: &[u8]) {
        self.changes += 1;
        if !self.watched.is_empty() {
            bump(&mut self.watched, key);
        }
    }

    /// Before `key` changes: a snapshot that still wants its old value
    /// takes it now (one branch when no snapshot is running).
    fn before_change(&mut self, key: &[u8]) {
        if self.freeze.is_some() && !self.tables.is_empty() {
            let (t, hash) = self.locate(key);
            self.before_change_at(t, hash, key);
        }
    }

    /// [`Self::before_change`] of `key`, in table `t`, hashed `hash`.
    fn before_change_at(&mut self, t: usize, hash: u64, key: &[u8]) {
        if let Some(freeze) = &mut self.freeze {
            if freeze.is_pending(t) {
                let entry = self.tables[t].find(hash, |e| e.key() == key);
                freeze.before_change(hash, key, entry);
            }
        }
    }

    /// Starts a point-in-time view of this database (see
    /// `super::freeze`): every entry as it is now goes to `sink`, one
    /// table at a time, through [`Self::freeze_step`] and the changes
    /// made meanwhile. A view still running is dropped (its sink sees no
    /// more tables).
    pub fn freeze(&mut self, sink: TableSink) {
        let freeze = Freeze::new(self.tables.len(), sink);
        self.freeze = (!freeze.is_done()).then(|| Box::new(freeze));
    }

    /// Hands out one more table of the running view; false once the view
    /// is complete (then the database is no longer frozen).
    pub fn freeze_step(&mut self) -> bool {
        let Some(freeze) = &mut self.freeze else {
            return false;
        };
        let hasher = &self.hasher;
        if freeze.step(&self.tables, |key| hasher.hash_one(key)) {
            return true;
        }
        self.freeze = None;
        false
    }

    /// Drops the running view, if any (an aborted snapshot).
    pub fn thaw(&mut self) {
        self.freeze = None;
    }

    /// Whether a view of this database is being taken.
    pub fn is_frozen(&self) -> bool {
        self.freeze.is_some()
    }

    /// Records that `key` was deleted because it expired: its watchers see
    /// a change, and the shard an expiry (when it records effects).
    fn expired_one(&mut self, key: &[u8]) {
        if !self.watched.is_empty() {
            bump(&mut self.watched, key);
        }
        if let Some(expired) = &mut self.expired {
            expired.push(Box::from(key));
        }
    }

    /// Changes so far (a counter that only grows): a command changed the
    /// database if it moved.
    pub fn changes(&self) -> u64 {
        self.changes
    }

    /// Starts (or stops) keeping the keys deleted because they expired,
    /// for [`Self::take_expired`].
    pub fn keep_expired(&mut self, on: bool) {
        if on != self.expired.is_some() {
            self.expired = on.then(Vec::new);
        }
    }

    /// The keys deleted because they expired since the last call, in the
    /// order they were deleted (empty unless [`Self::keep_expired`]).
    pub fn take_expired(&mut self) -> Vec<Box<[u8]>> {
        match &mut self.expired {
            Some(expired) if !expired.is_empty() => std::mem::take(expired),
            _ => Vec::new(),
        }
    }

    /// The expired keys kept since the last [`Self::take_expired`], which
    /// stay kept (keyspace notifications announce them mid-command; the
    /// write hook takes them after it).
    pub fn expired_pending(&self) -> &[Box<[u8]>] {
        self.expired.as_deref().unwrap_or_default()
    }

    /// Starts (or stops) keeping the keys created, for
    /// [`Self::take_created`]; keeping on, the ones kept stay.
    pub fn keep_created(&mut self, on: bool) {
        if on != self.created.is_some() {
            self.created = on.then(Vec::new);
        }
    }

    /// The keys created since the last call, in order (empty unless
    /// [`Self::keep_created`]).
    pub fn take_created(&mut self) -> Vec<Box<[u8]>> {
        match &mut self.created {
            Some(created) if !created.is_empty() => std::mem::take(created),
            _ => Vec::new(),
        }
    }

    /// WATCH: one more watcher of `key`; returns the version EXEC compares.
    /// A key that has expired is deleted first, so that its deletion is not
    /// a change (Redis: an already expired key is logically absent).
    pub fn watch(&mut self, key: &[u8], now_ms: u64) -> u64 {
        self.find_live(key, now_ms);
        let w = self.watched.entry_ref(key).or_default();
        w.watchers += 1;
        w.version
    }

    /// One watcher of `key` stops watching it; true if the key is unchanged
    /// since that watcher's WATCH returned `version`. A key that expired
    /// since is deleted first, so it counts as changed (Redis 7.0).
    pub fn unwatch(&mut self, key: &[u8], version: u64, now_ms: u64) -> bool {
        self.find_live(key, now_ms);
        let Some(w) = self.watched.get_mut(key) else {
            return false;
        };
        let unchanged = w.version == version;
        w.watchers = w.watchers.saturating_sub(1);
        if w.watchers == 0 {
            self.watched.remove(key);
        }
        unchanged
    }

    /// Watched keys (for tests and leak checks).
    pub fn watched_len(&self) -> usize {
        self.watched.len()
    }

    /// Active expiry, after Redis's cycle: looks at about `budget` keys
    /// from where the last step stopped and deletes the expired ones; while
    /// more than a tenth of the keys with an expiry looked at had expired
    /// (so many stale keys are likely left), it goes on with another
    /// `budget`, up to one lap of the slots or [`EXPIRE_STEP_MAX`].
    pub fn expire_step(&mut self, budget: usize, now_ms: u64) -> ExpireStats {
        let started = Instant::now();
        let mut stats = ExpireStats::default();
        let tables = self.tables.len();
        let mut visited = 0;
        while self.volatile > 0 && visited < tables {
            let round = self.expire_round(budget, now_ms, tables - visited);
            visited += round.tables;
            stats.examined += round.examined;
            stats.expired += round.expired;
            let few_stale = round.expired * EXPIRE_STALE_RATIO <= round.volatile;
            if few_stale || started.elapsed() >= EXPIRE_STEP_MAX {
                break;
            }
        }
        stats
    }

    /// One round of [`Self::expire_step`]: whole slot-group tables, from the
    /// cursor on, until `budget` keys were looked at or `max_tables` visited.
    fn expire_round(&mut self, budget: usize, now_ms: u64, max_tables: usize) -> ExpireRound {
        let mut round = ExpireRound::default();
        let tables = self.tables.len();
        while round.examined < budget && round.tables < max_tables {
            let t = self.expire_cursor % tables;
            self.expire_cursor = (t + 1) % tables;
            round.tables += 1;
            let table = &mut self.tables[t];
            // A table a snapshot has not taken yet waits for the next lap:
            // active expiry must not make the snapshot's work its own.
            if table.is_empty() || self.freeze.as_ref().is_some_and(|f| f.is_pending(t)) {
                continue;
            }
            round.examined += table.len();
            let mut volatile = 0;
            let mut expired = 0;
            let watched = &mut self.watched;
            let mut log = self.expired.as_mut();
            table.retain(|e| {
                volatile += (e.expires_at_ms() != 0) as usize;
                let gone = e.is_expired(now_ms);
                expired += gone as usize;
                if gone {
                    if !watched.is_empty() {
                        bump(watched, e.key());
                    }
                    if let Some(log) = log.as_mut() {
                        log.push(Box::from(e.key()));
                    }
                }
                !gone
            });
            // Give back the memory of tables that expiry mostly emptied.
            if table.len() * 8 < table.capacity() {
                let hasher = &self.hasher;
                table.shrink_to(table.len(), |e| hasher.hash_one(e.key()));
            }
            round.volatile += volatile;
            round.expired += expired;
            self.keys -= expired;
            self.volatile -= expired;
        }
        round
    }
}

fn bump(watched: &mut HashMap<Box<[u8]>, WatchedKey>, key: &[u8]) {
    if let Some(w) = watched.get_mut(key) {
        w.version += 1;
    }
}

/// The longest one [`Db::expire_step`] keeps going while many keys are stale.
pub const EXPIRE_STEP_MAX: Duration = Duration::from_millis(5);
/// Active expiry goes on while more than 1 in this many keys with an
/// expiry that it looked at had expired (Redis's 10% "acceptable stale").
const EXPIRE_STALE_RATIO: usize = 10;

/// What one round of active expiry did.
#[derive(Debug, Default)]
struct ExpireRound {
    tables: usize,
    examined: usize,
    volatile: usize,
    expired: usize,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::cell::RefCell;
    use std::collections::BTreeMap;
    use std::rc::Rc;

    type View = BTreeMap<Vec<u8>, (Value, u64)>;

    /// Every live entry at `now_ms`, for comparing views.
    fn view_of(db: &Db, now_ms: u64) -> View {
        db.entries()
            .filter(|e| !e.is_expired(now_ms))
            .map(|e| {
                (
                    e.key().to_vec(),
                    (e.value().to_owned_value(), e.expires_at_ms()),
                )
            })
            .collect()
    }

    /// A freeze whose sink collects what it is handed (live at `now_ms`);
    /// a key handed out twice is a bug.
    fn collecting_freeze(db: &mut Db, now_ms: u64) -> Rc<RefCell<View>> {
        let seen = Rc::new(RefCell::new(View::new()));
        let into = seen.clone();
        db.freeze(Box::new(move |entries| {
            for e in entries.filter(|e| !e.is_expired(now_ms)) {
                let old = into.borrow_mut().insert(
                    e.key().to_vec(),
                    (e.value().to_owned_value(), e.expires_at_ms()),
                );
                assert!(old.is_none(), "a key was handed out twice");
            }
        }));
        seen
    }

    #[test]
    fn a_freeze_sees_the_database_as_it_was_whatever_changes_meanwhile() {
        let mut rng = 0x2545_f491_4f6c_dd1du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        for round in 0..20 {
            let mut db = Db::new(0..16384);
            let now: u64 = 1_000;
            for i in 0..3000u64 {
                let expiry = match i % 7 {
                    0 => now - 1,
                    1 => now + 50 + (i % 100),
                    _ => 0,
                };
                db.insert(
                    format!("k{i}").as_bytes(),
                    Value::Str(vec![b'a'; (i % 5) as usize]),
                    expiry,
                );
            }
            let before = view_of(&db, now);
            let seen = collecting_freeze(&mut db, now);
            let mut later = now;
            let mut steps = 0;
            loop {
                // A few changes of every kind between two steps.
                for _ in 0..(next() % 20) {
                    let key = format!("k{}", next() % 3500);
                    let key = key.as_bytes();
                    match next() % 9 {
                        0 => db.set(key, Value::Str(b"new".to_vec())),
                        1 => drop(db.remove(key)),
                        2 => drop(db.get_mut(key, later).map(|e| e.set_str(b"changed"))),
                        3 => drop(db.update(key, later, |e| {
                            e.set_str(b"u");
                            ((), true)
                        })),
                        4 => drop(db.set_expiry(key, later + 1, later)),
                        5 => drop(db.remove_live(key, later)),
                        6 => drop(db.get(key, later)),
                        7 => drop(db.expire_step(50, later)),
                        _ if round % 4 == 0 && next() % 50 == 0 => db.clear(),
                        _ => later += 10,
                    }
                }
                steps += 1;
                if !db.freeze_step() {
                    break;
                }
            }
            assert!(!db.is_frozen());
            assert!(steps > 1, "the view came out in steps");
            assert_eq!(*seen.borrow(), before, "round {round}");
            assert!(db.counts_hold());
        }
    }

    #[test]
    fn freezing_an_empty_database_is_done_at_once_and_thaw_stops_a_view() {
        let mut db = Db::new(0..16384);
        let seen = collecting_freeze(&mut db, 0);
        assert!(!db.is_frozen());
        db.set(b"a", Value::Str(b"1".to_vec()));
        assert!(seen.borrow().is_empty());

        let seen = collecting_freeze(&mut db, 0);
        assert!(db.is_frozen());
        db.thaw();
        db.set(b"a", Value::Str(b"2".to_vec()));
        assert!(!db.freeze_step());
        assert!(seen.borrow().is_empty(), "a thawed view takes nothing more");
    }

    #[test]
    fn set_get_expire() {
        let mut db = Db::new(0..16384);
        db.set(b"a", Value::Str(b"1".to_vec()));
        db.insert(b"b", Value::Str(b"2".to_vec()), 100);
        assert_eq!(db.len(), 2);
        assert!(db.contains(b"b", 99));
        assert!(!db.contains(b"b", 100));
        assert_eq!(db.len(), 1);
        assert_eq!(db.volatile_len(), 0);
        db.insert(b"c", Value::Str(vec![]), 50);
        let stats = db.expire_step(1_000_000, 60);
        assert_eq!(stats.expired, 1);
        assert_eq!(db.len(), 1);
    }

    #[test]
    fn expire_step_keeps_going_while_many_keys_are_stale() {
        let mut db = Db::new(0..16384);
        for i in 0..5000 {
            db.insert(format!("k{i}").as_bytes(), Value::Str(vec![]), 100);
        }
        for i in 0..10 {
            db.set(format!("p{i}").as_bytes(), Value::Str(vec![]));
        }
        // Nothing due yet: one round of about `budget` keys, then stop.
        let stats = db.expire_step(200, 50);
        assert_eq!(stats.expired, 0);
        assert!(stats.examined < 400, "{stats:?}");
        // All due: a step goes on past its first round (a slow machine
        // may hit the time limit before the end of the lap).
        let mut expired = db.expire_step(200, 100).expired;
        assert!(expired > 400, "{expired}");
        while expired < 5000 {
            let stats = db.expire_step(200, 100);
            assert!(stats.expired > 0);
            expired += stats.expired;
        }
        assert_eq!((db.len(), db.volatile_len()), (10, 0));
        assert_eq!(db.keys(None, 100).len(), 10);
        // Nothing volatile left: no work at all.
        assert_eq!(db.expire_step(200, 100).examined, 0);
    }

    #[test]
    fn expire_step_with_few_stale_keys_does_one_round() {
        let mut db = Db::new(0..16384);
        for i in 0..5000 {
            let at = if i % 50 == 0 { 10 } else { 1000 };
            db.insert(format!("k{i}").as_bytes(), Value::Str(vec![]), at);
        }
        let stats = db.expire_step(200, 20);
        assert!(stats.examined < 400, "{stats:?}");
        assert_eq!(db.len(), 5000 - stats.expired);
        assert_eq!(db.volatile_len(), db.len());
    }

    #[test]
    fn watched_keys_see_every_change_and_only_changes() {
        let mut db = Db::new(0..16384);
        db.set(b"a", Value::Str(b"1".to_vec()));
        // Two watchers of one key: reads change nothing.
        let (v1, v2) = (db.watch(b"a", 0), db.watch(b"a", 0));
        assert!(db.get(b"a", 0).is_some() && db.value(b"a", 0).is_some());
        assert!(db.contains(b"a", 0) && db.keys(None, 0).len() == 1);
        assert!(db.unwatch(b"a", v1, 0));
        db.value_mut(b"a", 0);
        assert!(!db.unwatch(b"a", v2, 0));
        assert_eq!(db.watched_len(), 0);
        // Writes to other keys are not changes; set, remove, expiry are.
        let changes: [fn(&mut Db); 4] = [
            |db| db.set(b"a", Value::Str(vec![])),
            |db| drop(db.remove(b"a")),
            |db| assert!(db.set_expiry(b"a", 50, 0)),
            |db| db.clear(),
        ];
        for change in changes {
            db.set(b"a", Value::Str(vec![]));
            let v = db.watch(b"a", 0);
            db.set(b"b", Value::Str(vec![]));
            assert!(db.remove(b"nope").is_none());
            change(&mut db);
            assert!(!db.unwatch(b"a", v, 0));
        }
        assert_eq!(db.watched_len(), 0);
    }

    #[test]
    fn watched_keys_and_expiry() {
        let mut db = Db::new(0..16384);
        // Expires after WATCH: changed, lazily or actively deleted or not.
        db.insert(b"e", Value::Str(vec![]), 100);
        let v = db.watch(b"e", 50);
        assert!(!db.unwatch(b"e", v, 150));
        db.insert(b"e", Value::Str(vec![]), 100);
        let v = db.watch(b"e", 50);
        db.expire_step(1000, 150);
        assert!(!db.unwatch(b"e", v, 150));
        // Already expired at WATCH: its deletion is no change.
        db.insert(b"x", Value::Str(vec![]), 10);
        let v = db.watch(b"x", 50);
        db.expire_step(1000, 60);
        assert!(db.unwatch(b"x", v, 60));
        // A watched key that does not exist is untouched by FLUSHDB.
        let v = db.watch(b"none", 0);
        db.clear();
        assert!(db.unwatch(b"none", v, 0));
        assert_eq!(db.watched_len(), 0);
    }

    #[test]
    fn scan_visits_everything() {
        let mut db = Db::new(0..16384);
        for i in 0..1000 {
            db.set(format!("k{i}").as_bytes(), Value::Str(vec![]));
        }
        let mut cursor = Some(0);
        let mut seen = 0;
        while let Some(c) = cursor {
            let (next, keys) = db.scan(c, 10, 0, |_| true);
            seen += keys.len();
            cursor = next;
        }
        assert_eq!(seen, 1000);
    }
}
