//! A shard's keyspace as commands see it: its databases, its keyspace
//! hit and miss counters (INFO), and a random source for commands that
//! pick (SPOP, RANDOMKEY ...).

use super::Db;
use crate::config::DATABASES;
use crate::util::slot::slot_range;

pub struct Keyspace {
    pub dbs: Vec<Db>,
    /// Reads that found their key, and reads that did not (INFO).
    pub hits: u64,
    pub misses: u64,
    rng: u64,
}

impl Keyspace {
    /// The databases of shard `id` of `shards` (the slots it owns).
    pub fn for_shard(id: usize, shards: usize) -> Self {
        let slots = slot_range(id, shards);
        Keyspace {
            dbs: (0..DATABASES).map(|_| Db::new(slots.clone())).collect(),
            hits: 0,
            misses: 0,
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
}
