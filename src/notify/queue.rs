//! One shard's keyspace events waiting to be published, as the
//! `(channel, message)` pairs subscribers receive, in the order the shard
//! applied the changes.

use bytes::Bytes;

use crate::config::DATABASES;
use crate::store::Db;
use crate::util::keyspace_events::{effective, Class};

/// A message to publish: its channel and its payload.
pub type Message = (Bytes, Bytes);

/// The shard's pending keyspace events and the classes it announces.
#[derive(Debug, Default)]
pub struct Notifications {
    /// The classes that produce messages now (see `util::keyspace_events::effective`):
    /// 0 when notifications are off, the one thing the hot path checks.
    classes: u32,
    /// The `notify-keyspace-events` flags as configured.
    flags: u32,
    pending: Vec<Message>,
    /// Per database, how many of the expired keys it keeps for the write
    /// hook (`Db::expired_pending`) were announced already, mid-command.
    expired_announced: [usize; DATABASES],
}

impl Notifications {
    /// Takes `flags` (`notify-keyspace-events`) as configured now; true if
    /// they changed.
    pub fn set_flags(&mut self, flags: u32) -> bool {
        if flags == self.flags {
            return false;
        }
        self.flags = flags;
        self.classes = effective(flags);
        true
    }

    /// Whether events of `class` are announced (one load and a branch:
    /// the hot path's whole cost when notifications are off).
    #[inline]
    pub fn wants(&self, class: Class) -> bool {
        self.classes & class.0 != 0
    }

    /// Whether any event waits to be published.
    #[inline]
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// The events waiting, oldest first; the queue is left empty.
    pub fn take_pending(&mut self) -> Vec<Message> {
        std::mem::take(&mut self.pending)
    }

    /// Announces `event` of `class` for `key` of database `db`, after what
    /// the databases did before it (keys that expired, keys created), so
    /// the order is the order of the changes.
    pub fn event(
        &mut self,
        dbs: &mut [Db],
        class: Class,
        event: &'static str,
        db: usize,
        key: &[u8],
    ) {
        if !self.wants(class) {
            return;
        }
        self.catch_up(dbs);
        self.push(event, db, key);
    }

    /// Announces what the databases did that no command announced yet:
    /// expired keys (kept for the write hook too, so only looked at) and
    /// keys created.
    fn catch_up(&mut self, dbs: &mut [Db]) {
        for (db, d) in dbs.iter_mut().enumerate() {
            if self.wants(Class::EXPIRED) {
                let expired = d.expired_pending();
                let announced = self.expired_announced.get(db).copied().unwrap_or(0);
                for key in expired.get(announced..).unwrap_or_default() {
                    push(&mut self.pending, self.classes, "expired", db, key);
                }
                if let Some(n) = self.expired_announced.get_mut(db) {
                    *n = expired.len();
                }
            }
            for key in d.take_created() {
                self.created(db, &key);
            }
        }
    }

    /// A key of database `db` expired: the `index`-th the database kept
    /// since the shard last took them (announced unless it was already).
    pub fn expired(&mut self, db: usize, index: usize, key: &[u8]) {
        let announced = self.expired_announced.get(db).copied().unwrap_or(0);
        if index >= announced && self.wants(Class::EXPIRED) {
            self.push("expired", db, key);
        }
    }

    /// The shard took database `db`'s expired keys: counting starts over.
    pub fn expired_taken(&mut self, db: usize) {
        if let Some(n) = self.expired_announced.get_mut(db) {
            *n = 0;
        }
    }

    /// A key of database `db` was created.
    pub fn created(&mut self, db: usize, key: &[u8]) {
        if self.wants(Class::NEW) {
            self.push("new", db, key);
        }
    }

    fn push(&mut self, event: &'static str, db: usize, key: &[u8]) {
        push(&mut self.pending, self.classes, event, db, key);
    }
}

/// Queues the messages of one event on the kinds of channel `classes`
/// names (Redis's `notifyKeyspaceEvent`).
fn push(pending: &mut Vec<Message>, classes: u32, event: &'static str, db: usize, key: &[u8]) {
    let classes = Class(classes);
    let key = Bytes::copy_from_slice(key);
    let event = Bytes::from_static(event.as_bytes());
    if classes.has(Class::KEYSPACE) {
        pending.push((channel(b"__keyspace@", db, &key), event.clone()));
    }
    if classes.has(Class::KEYEVENT) {
        pending.push((channel(b"__keyevent@", db, &event), key));
    }
}

/// `<prefix><db>__:<name>`.
fn channel(prefix: &[u8], db: usize, name: &[u8]) -> Bytes {
    let db = db.to_string();
    let mut out = Vec::with_capacity(prefix.len() + db.len() + 3 + name.len());
    out.extend_from_slice(prefix);
    out.extend_from_slice(db.as_bytes());
    out.extend_from_slice(b"__:");
    out.extend_from_slice(name);
    out.into()
}
