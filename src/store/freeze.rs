//! A point-in-time view of one database, taken while the database keeps
//! serving (BGSAVE, a log rewrite): no fork and no copy of the keyspace.
//!
//! Background steps ([`super::Db::freeze_step`]) hand out the database one
//! slot-group table at a time, in order. A key whose table has not been
//! stepped yet is handed out on its own just before its first change (or
//! marked, if it did not exist: it is not part of the view), and the step
//! that reaches its table skips it. A flush moves the tables not stepped
//! yet into the freeze whole. So every key of the view leaves exactly once,
//! as it was when the freeze began, and a write pays for at most its own
//! key's old value — never for a whole table, which with writes spread
//! over every table would put most of the snapshot's work on the first
//! few milliseconds of writes.

use hashbrown::HashTable;

use super::Entry;

/// Where the view's entries go (the snapshot writer), a few at a time,
/// each as it was when the freeze began (expired ones included: the sink
/// knows the snapshot's clock).
pub type TableSink = Box<dyn FnMut(&mut dyn Iterator<Item = &Entry>)>;

pub struct Freeze {
    /// Tables when the freeze began; `[..stepped]` have been handed out.
    tables: usize,
    stepped: usize,
    /// A flush moved every table not stepped into `flushed`: the tables
    /// the database holds now are not part of the view.
    flushed_all: bool,
    /// Tables a flush moved here, for the steps to hand out.
    flushed: Vec<HashTable<Entry>>,
    /// Keys of tables not stepped yet that were handed out before a change
    /// (or created after the freeze): the steps skip them. Keyed by the
    /// database's own hash of the key.
    changed: HashTable<(u64, Box<[u8]>)>,
    sink: TableSink,
}

impl Freeze {
    /// A freeze of a database with `tables` tables.
    pub fn new(tables: usize, sink: TableSink) -> Freeze {
        Freeze {
            tables,
            stepped: 0,
            flushed_all: false,
            flushed: Vec::new(),
            changed: HashTable::new(),
            sink,
        }
    }

    /// Whether table `t`'s keys still belong to the view unhanded.
    pub fn is_pending(&self, t: usize) -> bool {
        !self.flushed_all && t >= self.stepped && t < self.tables
    }

    /// Before the first change to the key `key` (hashed `hash`) of the
    /// pending table `t`: its entry as it is now (`None`: absent) leaves,
    /// and the step of its table will skip the key. Later changes to it
    /// cost one lookup.
    pub fn before_change(&mut self, hash: u64, key: &[u8], entry: Option<&Entry>) {
        let found = self.changed.find(hash, |(h, k)| *h == hash && **k == *key);
        if found.is_some() {
            return;
        }
        self.changed
            .insert_unique(hash, (hash, Box::from(key)), |(h, _)| *h);
        if let Some(entry) = entry {
            (self.sink)(&mut std::iter::once(entry));
        }
    }

    /// A flush is about to drop `tables`: the pending ones move here whole.
    pub fn keep_flushed(&mut self, tables: Vec<HashTable<Entry>>) {
        if self.flushed_all {
            return;
        }
        let stepped = self.stepped;
        self.flushed
            .extend(tables.into_iter().take(self.tables).skip(stepped));
        self.flushed_all = true;
    }

    /// One step: hands out one table (a flushed one first) of `tables`,
    /// without the keys handed out already. False once nothing is left.
    pub fn step(&mut self, tables: &[HashTable<Entry>], hash: impl Fn(&[u8]) -> u64) -> bool {
        if let Some(table) = self.flushed.pop() {
            self.hand_out(&table, &hash);
        } else if self.is_pending(self.stepped) {
            if let Some(table) = tables.get(self.stepped) {
                self.hand_out(table, &hash);
            }
            self.stepped += 1;
        }
        !self.is_done()
    }

    fn hand_out(&mut self, table: &HashTable<Entry>, hash: &impl Fn(&[u8]) -> u64) {
        let changed = &self.changed;
        let mut unchanged = table.iter().filter(|e| {
            changed.is_empty() || {
                let h = hash(e.key());
                changed
                    .find(h, |(x, k)| *x == h && **k == *e.key())
                    .is_none()
            }
        });
        (self.sink)(&mut unchanged);
    }

    /// Whether every table has been handed out.
    pub fn is_done(&self) -> bool {
        self.flushed.is_empty() && (self.flushed_all || self.stepped >= self.tables)
    }
}
