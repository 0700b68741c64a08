//! A shard: what one core owns and the one way into it. [`ShardState`] is
//! the keyspace (its databases, statistics and write hook, [`effects`]);
//! [`core::Core`] adds the Lua VM, the gate ([`gate`]) and the ends of the
//! mesh ([`mesh`]) and is the entry every command takes
//! (`Core::execute`); [`serve`] builds a core and serves it: requests from
//! other cores, active expiry.

pub mod background;
pub mod core;
pub mod effects;
pub mod gate;
pub mod log;
pub mod mesh;
pub mod notify;
pub mod replicate;
pub mod serve;

use std::rc::Rc;

use bytes::Bytes;

use crate::cmd::{errors, Call, Ctx};
use crate::node::{ShardReport, ShardStats};
use crate::notify::{Class, Notifications};
use crate::protocol::Reply;
use crate::pubsub::Hub;
use crate::store::{Db, Keyspace};
use effects::{Effect, Effects};

pub struct ShardState {
    pub id: usize,
    pub core: usize,
    /// The databases, as commands see them (`cmd::Ctx`).
    pub keyspace: Keyspace,
    pub stats: ShardStats,
    /// The write hook: every change applied here is recorded through it.
    pub effects: Effects,
    /// The point-in-time view a save is taking of the keyspace, if any.
    pub capture: Option<crate::rdb::snapshot::Capture>,
    /// Keyspace events waiting to be published (see `crate::notify`).
    pub notify: Notifications,
    /// This core's Pub/Sub hub: shard code publishes through it.
    pub pubsub: Rc<Hub>,
}

impl ShardState {
    /// Shard `id` of `shards`, on `core`, publishing through `pubsub`
    /// (`Hub::detached()` for a shard without a server).
    pub fn new(id: usize, core: usize, shards: usize, pubsub: Rc<Hub>) -> Self {
        ShardState {
            id,
            core,
            keyspace: Keyspace::for_shard(id, shards),
            stats: ShardStats::default(),
            effects: Effects::default(),
            capture: None,
            notify: Notifications::default(),
            pubsub,
        }
    }

    /// Takes the `notify-keyspace-events` flags as configured now (the
    /// core passes them before each command: CONFIG SET may change them
    /// on any core). The databases keep the expired and created keys
    /// only while someone wants them.
    #[inline]
    pub fn set_keyspace_events(&mut self, flags: u32) {
        if self.notify.set_flags(flags) {
            self.keep_changed_keys();
        }
    }

    /// Has the databases keep expired keys while the write hook or
    /// notifications want them, and created keys while notifications do.
    fn keep_changed_keys(&mut self) {
        let expired = self.effects.is_active() || self.notify.wants(Class::EXPIRED);
        let created = self.notify.wants(Class::NEW);
        for db in &mut self.keyspace.dbs {
            db.keep_expired(expired);
            db.keep_created(created);
        }
    }

    /// Publishes `message` to `channel` from shard code that runs outside
    /// a command (active expiry, keyspace notifications): delivered to
    /// subscribers on every core as a PUBLISH would; returns how many
    /// receivers it has. Never waits (see `pubsub::hub`).
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        self.pubsub.publish(channel, message)
    }

    /// CONFIG RESETSTAT on this shard.
    pub fn reset_stats(&mut self) {
        self.stats = ShardStats::default();
        self.keyspace.hits = 0;
        self.keyspace.misses = 0;
    }

    /// Runs one shard-side command against this shard, and records what
    /// it changed (see [`effects`]). The server reaches it only through
    /// `Core::execute`; `_access` proves the gate allows it.
    /// `now_ms` is read once per batch by the caller, as Redis caches its
    /// clock per event-loop iteration.
    pub fn execute(&mut self, _access: gate::Access<'_>, call: &Call, now_ms: u64) -> Reply {
        if !self.effects.is_active() {
            let reply = self.run(call, now_ms);
            if self.notify.wants(Class::EXPIRED) || self.notify.wants(Class::NEW) {
                self.record_expired();
            }
            return reply;
        }
        let before = self.changes();
        let reply = self.run(call, now_ms);
        self.record_expired();
        if self.changes() != before {
            let rewritten = effects::replayable(&call.argv, &reply, now_ms);
            self.effects.record(Effect::Command {
                db: call.db as usize,
                argv: rewritten.as_deref().unwrap_or(&call.argv),
            });
        }
        reply
    }

    /// Records a change made outside the keyspace that shard 0's stream
    /// carries (a change of the function libraries, see
    /// `cmd::functions`): `argv` replays it.
    pub fn record_outside_keyspace(&mut self, _access: gate::Access<'_>, argv: &[Bytes]) {
        self.effects.record(Effect::Command { db: 0, argv });
    }

    /// Adds a sink to the write hook: from now on it sees every effect.
    pub fn add_effect_sink(&mut self, sink: effects::Sink) -> effects::SinkId {
        let id = self.effects.add_sink(sink);
        self.keep_changed_keys();
        id
    }

    /// Removes a sink from the write hook (between batches, see
    /// `Effects::remove_sink`); with the last one gone the databases stop
    /// collecting expired keys.
    pub fn remove_effect_sink(&mut self, id: effects::SinkId) {
        self.effects.remove_sink(id);
        self.keep_changed_keys();
    }

    /// Changes applied to any database so far.
    pub fn changes(&self) -> u64 {
        self.keyspace.dbs.iter().map(Db::changes).sum()
    }

    /// Records the keys deleted because they expired since the last call
    /// (and announces those no command announced yet, with the keys
    /// created).
    fn record_expired(&mut self) {
        let record = self.effects.is_active();
        for (db, d) in self.keyspace.dbs.iter_mut().enumerate() {
            for (i, key) in d.take_expired().iter().enumerate() {
                self.notify.expired(db, i, key);
                if record {
                    self.effects.record(Effect::Expired { db, key });
                }
            }
            self.notify.expired_taken(db);
            for key in d.take_created() {
                self.notify.created(db, &key);
            }
        }
    }

    fn run(&mut self, call: &Call, now_ms: u64) -> Reply {
        let Some(run) = call.cmd.run.shard_fn() else {
            return Reply::error(errors::unknown_command(&call.argv));
        };
        self.stats.commands += 1;
        let mut ctx = Ctx {
            keyspace: &mut self.keyspace,
            notify: &mut self.notify,
            db: call.db as usize,
            now_ms,
            resp3: call.resp3,
            pubsub: &self.pubsub,
        };
        // A bug in one command must not take the whole shard down with its
        // executor: report it to the client and in the log instead.
        let run = std::panic::AssertUnwindSafe(|| run(&mut ctx, &call.argv));
        std::panic::catch_unwind(run).unwrap_or_else(|_| {
            eprintln!(
                "BUG: command '{}' panicked; the shard keeps running",
                call.cmd.name
            );
            Reply::error("ERR internal error (see the server log)")
        })
    }

    pub fn report(&self) -> ShardReport {
        ShardReport {
            id: self.id,
            core: self.core,
            stats: ShardStats {
                keyspace_hits: self.keyspace.hits,
                keyspace_misses: self.keyspace.misses,
                ..self.stats
            },
            keyspace: self
                .keyspace
                .dbs
                .iter()
                .map(|d| (d.len(), d.volatile_len()))
                .collect(),
            memory_counter: crate::alloc::thread_counter(),
            changes: self.changes(),
            log: None,
        }
    }

    /// One tick of active expiry over every database (it deletes keys,
    /// so it needs access like a command).
    pub fn expire_tick(&mut self, _access: gate::Access<'_>, budget: usize) {
        let now = crate::util::time::now_ms();
        for (i, db) in self.keyspace.dbs.iter_mut().enumerate() {
            let s = db.expire_step(budget, now);
            self.stats.expired_keys += s.expired as u64;
            if cfg!(debug_assertions) {
                crate::invariant!(
                    db.counts_hold(),
                    "shard {} db {i}: key or expiry count differs from the tables",
                    self.id
                );
            }
        }
        self.record_expired();
    }
}

/// A key a connection WATCHes on this shard, with the version WATCH saw.
#[derive(Debug, Clone)]
pub struct Watched {
    pub db: u8,
    pub key: Bytes,
    pub version: u64,
}

impl ShardState {
    /// WATCH: registers `keys` of database `db`; their versions, in order.
    pub fn watch(&mut self, db: u8, keys: &[Bytes], now_ms: u64) -> Vec<u64> {
        let Some(db) = self.keyspace.dbs.get_mut(db as usize) else {
            return Vec::new();
        };
        let versions = keys.iter().map(|k| db.watch(k, now_ms)).collect();
        self.record_expired();
        versions
    }

    /// Forgets `watched` keys; true if none of them changed since WATCH.
    pub fn unwatch(&mut self, watched: &[Watched], now_ms: u64) -> bool {
        let mut clean = true;
        for w in watched {
            clean &= self
                .keyspace
                .dbs
                .get_mut(w.db as usize)
                .is_some_and(|db| db.unwatch(&w.key, w.version, now_ms));
        }
        self.record_expired();
        clean
    }
}
