//! A point-in-time view of one database, taken while the database keeps
//! serving (BGSAVE, a log rewrite): no fork and no copy of the keyspace.
//!
//! The view leaves one slot-group table at a time, each exactly once and
//! exactly as it was when the freeze began:
//!
//! - a background step ([`super::Db::freeze_step`]) hands out the next
//!   table not taken yet;
//! - the first change to a table not taken yet hands that table out
//!   first, before the change (`Db::before_change`);
//! - a flush moves the tables not taken yet into the freeze whole, for
//!   the steps to hand out later (no work at the flush itself).
//!
//! A table is all the keys of [`super::db::SLOTS_PER_TABLE`] slots, so a
//! write pays at most one table's hand-out, once per freeze.

use hashbrown::HashTable;

use super::Entry;

/// Where a frozen table's entries go (the snapshot writer): called once
/// per table, with every entry as it was when the freeze began (expired
/// ones included: the sink knows the snapshot's clock).
pub type TableSink = Box<dyn FnMut(&mut dyn Iterator<Item = &Entry>)>;

pub struct Freeze {
    /// Per table index at the freeze: true while it has not been handed
    /// out.
    untaken: Vec<bool>,
    /// Tables still untaken, flushed ones included.
    left: usize,
    /// Where the next step looks for an untaken table.
    cursor: usize,
    /// Untaken tables a flush moved here, for the steps to hand out.
    flushed: Vec<HashTable<Entry>>,
    sink: TableSink,
}

impl Freeze {
    /// A freeze of a database with `tables` tables.
    pub fn new(tables: usize, sink: TableSink) -> Freeze {
        Freeze {
            untaken: vec![true; tables],
            left: tables,
            cursor: 0,
            flushed: Vec::new(),
            sink,
        }
    }

    /// Whether table `t` is still to be handed out as it is now.
    pub fn is_untaken(&self, t: usize) -> bool {
        self.untaken.get(t).copied().unwrap_or(false)
    }

    /// Hands out table `t` (which must be untaken, see
    /// [`Self::is_untaken`]): its entries go to the sink.
    pub fn hand_out(&mut self, t: usize, table: &HashTable<Entry>) {
        self.untaken[t] = false;
        self.left -= 1;
        (self.sink)(&mut table.iter());
    }

    /// A flush is about to drop `tables`: the untaken ones move here whole.
    pub fn keep_flushed(&mut self, tables: Vec<HashTable<Entry>>) {
        for (t, table) in tables.into_iter().enumerate() {
            if self.is_untaken(t) {
                self.untaken[t] = false;
                self.flushed.push(table);
            }
        }
    }

    /// One step: hands out one untaken table (a flushed one first) from
    /// `tables`. False once nothing is left.
    pub fn step(&mut self, tables: &[HashTable<Entry>]) -> bool {
        if let Some(table) = self.flushed.pop() {
            self.left -= 1;
            (self.sink)(&mut table.iter());
            return self.left > 0;
        }
        while self.cursor < self.untaken.len() {
            let t = self.cursor;
            self.cursor += 1;
            if self.untaken[t] {
                self.hand_out(t, &tables[t]);
                break;
            }
        }
        self.left > 0
    }

    /// Whether every table has been handed out.
    pub fn is_done(&self) -> bool {
        self.left == 0
    }
}
