//! A shard: what one core owns and the one way into it. [`ShardState`] is
//! the keyspace (its databases, statistics and write hook, [`effects`]);
//! [`core::Core`] adds the Lua VM, the gate ([`gate`]) and the ends of the
//! mesh ([`mesh`]) and is the entry every command takes
//! (`Core::execute`); [`serve`] builds a core and serves it: requests from
//! other cores, active expiry.

pub mod core;
pub mod effects;
pub mod gate;
pub mod mesh;
pub mod serve;
/// Kept here until every user names `lua::status` (issue 13).
pub use crate::lua::status as script_status;
pub use crate::util::time::now_ms;
pub use core::run_transaction;

use std::ops::Range;

use bytes::Bytes;

use crate::cmd::{errors, Command, Ctx};
use crate::config::DATABASES;
use crate::protocol::Reply;
use crate::store::Db;
use crate::util::slot::SLOT_COUNT;
use effects::{Effect, Effects};

/// The slots shard `id` of `shards` owns: contiguous, nearly equal ranges.
pub fn slot_range(id: usize, shards: usize) -> Range<u16> {
    let start = id * SLOT_COUNT / shards;
    let end = (id + 1) * SLOT_COUNT / shards;
    start as u16..end as u16
}

/// The shard that owns `slot` (inverse of [`slot_range`]).
pub fn shard_of_slot(slot: u16, shards: usize) -> usize {
    ((slot as usize + 1) * shards - 1) / SLOT_COUNT
}

pub fn shard_of_key(key: &[u8], shards: usize) -> usize {
    shard_of_slot(crate::util::slot::key_hash_slot(key), shards)
}

/// Counters a shard keeps for INFO.
#[derive(Debug, Default, Clone, Copy)]
pub struct ShardStats {
    pub commands: u64,
    pub keyspace_hits: u64,
    pub keyspace_misses: u64,
    pub expired_keys: u64,
    pub forwarded_in: u64,
    /// Bytes read from and written to the connections of this core.
    pub net_input_bytes: u64,
    pub net_output_bytes: u64,
}

/// A snapshot sent to whoever asks (INFO), taken on the shard's own core.
#[derive(Debug, Clone)]
pub struct ShardReport {
    pub id: usize,
    pub core: usize,
    pub stats: ShardStats,
    /// Per database: (keys, keys with an expiry).
    pub keyspace: Vec<(usize, usize)>,
    /// The allocator's counter of the shard's thread (see
    /// [`crate::alloc::allocated_bytes_per_thread`]).
    pub memory_counter: usize,
}

pub struct ShardState {
    pub id: usize,
    pub core: usize,
    pub slots: Range<u16>,
    pub dbs: Vec<Db>,
    pub stats: ShardStats,
    /// The write hook: every change applied here is recorded through it.
    pub effects: Effects,
    rng: u64,
}

impl ShardState {
    pub fn new(id: usize, core: usize, shards: usize) -> Self {
        let slots = slot_range(id, shards);
        ShardState {
            id,
            core,
            dbs: (0..DATABASES).map(|_| Db::new(slots.clone())).collect(),
            slots,
            stats: ShardStats::default(),
            effects: Effects::default(),
            rng: 0x9E37_79B9_7F4A_7C15 ^ (id as u64 + 1).wrapping_mul(0xBF58_476D_1CE4_E5B9),
        }
    }

    /// xorshift64*: fast, good enough for SPOP / RANDOMKEY choices.
    pub fn random(&mut self) -> u64 {
        let mut x = self.rng;
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        x.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }

    /// Runs one shard-side command against this shard, and records what
    /// it changed (see [`effects`]). The server reaches it only through
    /// `Core::execute`; `_access` proves the gate allows it.
    /// `now_ms` is read once per batch by the caller, as Redis caches its
    /// clock per event-loop iteration.
    pub fn execute(&mut self, _access: gate::Access<'_>, call: &Call, now_ms: u64) -> Reply {
        if !self.effects.is_active() {
            return self.run(call, now_ms);
        }
        let before = self.changes();
        let reply = self.run(call, now_ms);
        self.record_expired();
        if self.changes() != before {
            self.effects.record(Effect::Command {
                db: call.db as usize,
                argv: &call.argv,
            });
        }
        reply
    }

    /// Adds a sink to the write hook: from now on it sees every effect.
    pub fn add_effect_sink(&mut self, sink: effects::Sink) {
        for db in &mut self.dbs {
            db.keep_expired(true);
        }
        self.effects.add_sink(sink);
    }

    /// Changes applied to any database so far.
    fn changes(&self) -> u64 {
        self.dbs.iter().map(Db::changes).sum()
    }

    /// Records the keys deleted because they expired since the last call.
    fn record_expired(&mut self) {
        for (db, d) in self.dbs.iter_mut().enumerate() {
            if d.has_expired() {
                for key in d.take_expired() {
                    self.effects.record(Effect::Expired { db, key: &key });
                }
            }
        }
    }

    fn run(&mut self, call: &Call, now_ms: u64) -> Reply {
        let Some(run) = call.cmd.run.shard_fn() else {
            return Reply::error(errors::unknown_command(&call.argv));
        };
        self.stats.commands += 1;
        let mut ctx = Ctx {
            shard: self,
            db: call.db as usize,
            now_ms,
            resp3: call.resp3,
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
            stats: self.stats,
            keyspace: self
                .dbs
                .iter()
                .map(|d| (d.len(), d.volatile_len()))
                .collect(),
            memory_counter: crate::alloc::thread_counter(),
        }
    }

    /// One tick of active expiry over every database (it deletes keys,
    /// so it needs access like a command).
    pub fn expire_tick(&mut self, _access: gate::Access<'_>, budget: usize) {
        let now = now_ms();
        for (i, db) in self.dbs.iter_mut().enumerate() {
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
        let Some(db) = self.dbs.get_mut(db as usize) else {
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
                .dbs
                .get_mut(w.db as usize)
                .is_some_and(|db| db.unwatch(&w.key, w.version, now_ms));
        }
        self.record_expired();
        clean
    }
}

/// A command to run on a shard: the same for local and forwarded calls.
#[derive(Clone)]
pub struct Call {
    pub cmd: &'static Command,
    pub db: u8,
    pub resp3: bool,
    pub argv: Vec<Bytes>,
}

impl Call {
    /// Scripts suspend while they run and hold the shard's gate.
    pub fn is_script(&self) -> bool {
        matches!(self.cmd.run, crate::cmd::Run::Script(_))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_cover_all_slots_and_invert() {
        for shards in 1..=7 {
            let mut next = 0u16;
            for id in 0..shards {
                let r = slot_range(id, shards);
                assert_eq!(r.start, next);
                next = r.end;
                for slot in [r.start, r.end - 1] {
                    assert_eq!(shard_of_slot(slot, shards), id);
                }
            }
            assert_eq!(next as usize, SLOT_COUNT);
        }
    }
}
