//! Pub/Sub's node-wide subscription index (the bus itself is
//! `crate::pubsub`): for every channel, pattern and shard
//! channel, how many subscriptions each core holds. A publisher on any
//! core reads it to count a message's receivers (PUBLISH's reply) and to
//! find the cores to send it to, with no round trip; only (un)subscribes
//! write it. With no subscription of a kind anywhere, a publish of that
//! kind reads one atomic counter and takes no lock.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{RwLock, RwLockReadGuard, RwLockWriteGuard};

use bytes::Bytes;
use hashbrown::HashMap;

use crate::util::glob::glob_match;

/// A kind of subscription, each its own namespace (Redis's three dicts).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    /// SUBSCRIBE / PUBLISH.
    Channel = 0,
    /// PSUBSCRIBE: glob patterns matched against PUBLISH's channel.
    Pattern = 1,
    /// SSUBSCRIBE / SPUBLISH.
    Shard = 2,
}

/// Per core, how many subscriptions to one name it holds.
type PerCore = Vec<u32>;

#[derive(Default)]
struct Tables {
    channels: HashMap<Bytes, PerCore>,
    patterns: HashMap<Bytes, PerCore>,
    shard_channels: HashMap<Bytes, PerCore>,
}

impl Tables {
    fn of(&self, kind: Kind) -> &HashMap<Bytes, PerCore> {
        match kind {
            Kind::Channel => &self.channels,
            Kind::Pattern => &self.patterns,
            Kind::Shard => &self.shard_channels,
        }
    }

    fn of_mut(&mut self, kind: Kind) -> &mut HashMap<Bytes, PerCore> {
        match kind {
            Kind::Channel => &mut self.channels,
            Kind::Pattern => &mut self.patterns,
            Kind::Shard => &mut self.shard_channels,
        }
    }
}

pub struct Index {
    cores: usize,
    /// Subscriptions of each kind (index: `Kind as usize`), every core's:
    /// the lock-free test of a publish with no receiver anywhere.
    totals: [AtomicUsize; 3],
    tables: RwLock<Tables>,
}

impl Index {
    pub fn new(cores: usize) -> Index {
        Index {
            cores,
            totals: Default::default(),
            tables: RwLock::default(),
        }
    }

    fn read(&self) -> RwLockReadGuard<'_, Tables> {
        // A poisoned lock only means a panic elsewhere; the counts hold.
        self.tables.read().unwrap_or_else(|e| e.into_inner())
    }

    fn write(&self) -> RwLockWriteGuard<'_, Tables> {
        self.tables.write().unwrap_or_else(|e| e.into_inner())
    }

    /// Whether any core holds a subscription of `kind`.
    pub fn any(&self, kind: Kind) -> bool {
        self.totals[kind as usize].load(Ordering::Acquire) > 0
    }

    /// Whether a message of `kind` may have a receiver anywhere (a
    /// PUBLISH also reaches pattern subscribers): one or two atomic
    /// loads, no lock.
    pub fn may_receive(&self, kind: Kind) -> bool {
        self.any(kind) || (kind == Kind::Channel && self.any(Kind::Pattern))
    }

    /// One more subscription of `core` to `name`.
    pub fn add(&self, kind: Kind, name: &Bytes, core: usize) {
        let mut tables = self.write();
        let per_core = tables
            .of_mut(kind)
            .entry(name.clone())
            .or_insert_with(|| vec![0; self.cores]);
        if let Some(n) = per_core.get_mut(core) {
            *n += 1;
            self.totals[kind as usize].fetch_add(1, Ordering::Release);
        }
    }

    /// One subscription less of `core` to `name` (a name no core holds
    /// any more leaves the index, so PUBSUB CHANNELS omits it).
    pub fn remove(&self, kind: Kind, name: &[u8], core: usize) {
        let mut tables = self.write();
        let map = tables.of_mut(kind);
        let Some(per_core) = map.get_mut(name) else {
            return;
        };
        if let Some(n) = per_core.get_mut(core).filter(|n| **n > 0) {
            *n -= 1;
            self.totals[kind as usize].fetch_sub(1, Ordering::Release);
        }
        if per_core.iter().all(|&n| n == 0) {
            map.remove(name);
        }
    }

    /// The receivers of a message to `channel` (`Kind::Channel`: its
    /// subscribers plus one per matching pattern subscription, as Redis
    /// counts; `Kind::Shard`: its shard-channel subscribers), per core,
    /// added into `per_core` (one slot per core); their total.
    pub fn receivers(&self, kind: Kind, channel: &[u8], per_core: &mut [u32]) -> usize {
        if !self.may_receive(kind) {
            return 0;
        }
        let patterns = kind == Kind::Channel && self.any(Kind::Pattern);
        let tables = self.read();
        let mut total = 0;
        let mut add = |counts: &PerCore| {
            for (sum, n) in per_core.iter_mut().zip(counts) {
                *sum += n;
                total += *n as usize;
            }
        };
        if let Some(counts) = tables.of(kind).get(channel) {
            add(counts);
        }
        if patterns {
            for (pattern, counts) in &tables.patterns {
                if glob_match(pattern, channel, false) {
                    add(counts);
                }
            }
        }
        total
    }

    /// PUBSUB CHANNELS / SHARDCHANNELS: the names of `kind` with a
    /// subscriber, those matching `pattern` when given.
    pub fn names(&self, kind: Kind, pattern: Option<&[u8]>) -> Vec<Bytes> {
        self.read()
            .of(kind)
            .keys()
            .filter(|name| pattern.is_none_or(|p| glob_match(p, name, false)))
            .cloned()
            .collect()
    }

    /// PUBSUB NUMSUB / SHARDNUMSUB: the subscribers of one name.
    pub fn subscribers(&self, kind: Kind, name: &[u8]) -> usize {
        self.read()
            .of(kind)
            .get(name)
            .map_or(0, |counts| counts.iter().map(|&n| n as usize).sum())
    }

    /// PUBSUB NUMPAT: how many distinct patterns have a subscriber.
    pub fn pattern_count(&self) -> usize {
        self.read().patterns.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_channels_and_matching_patterns_per_core() {
        let index = Index::new(2);
        let ch = Bytes::from_static(b"news.tech");
        assert!(!index.any(Kind::Channel));
        index.add(Kind::Channel, &ch, 0);
        index.add(Kind::Channel, &ch, 1);
        index.add(Kind::Pattern, &Bytes::from_static(b"news.*"), 1);
        index.add(Kind::Pattern, &Bytes::from_static(b"sport.*"), 0);
        let mut per_core = [0; 2];
        assert_eq!(
            index.receivers(Kind::Channel, b"news.tech", &mut per_core),
            3
        );
        assert_eq!(per_core, [1, 2]);
        assert_eq!(index.receivers(Kind::Shard, b"news.tech", &mut [0; 2]), 0);
        assert_eq!(index.subscribers(Kind::Channel, b"news.tech"), 2);
        assert_eq!(index.pattern_count(), 2);
        index.remove(Kind::Channel, b"news.tech", 0);
        index.remove(Kind::Channel, b"news.tech", 0);
        index.remove(Kind::Channel, b"news.tech", 1);
        assert!(index.names(Kind::Channel, None).is_empty());
        assert!(!index.any(Kind::Channel));
        assert_eq!(index.receivers(Kind::Channel, b"news.x", &mut [0; 2]), 1);
    }
}
