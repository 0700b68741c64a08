//! The master side's shared state: its backlog (the node's one stream,
//! [`super::backlog`]) and the replicas it feeds. The code that moves
//! bytes sits higher up: the shards append their effects
//! (`shard::replicate`), a full sync's snapshot is a background job
//! (`shard::background::sync`), and a replica's connection is fed by
//! `server::feed`.

use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex, OnceLock};
use std::task::Waker;
use std::time::Instant;

use super::backlog::Backlog;

/// What a replica said of itself before PSYNC (`REPLCONF`), and its
/// PSYNC once it asks for the stream.
#[derive(Debug, Clone, Default)]
pub struct Handshake {
    /// `REPLCONF listening-port`.
    pub listening_port: Option<u16>,
    /// `REPLCONF ip-address`.
    pub ip_address: Option<String>,
    /// `REPLCONF capa eof`: it reads a snapshot of unknown length.
    pub capa_eof: bool,
    /// `REPLCONF capa psync2`: it understands `+CONTINUE <replid>`.
    pub capa_psync2: bool,
    /// PSYNC (or SYNC) was asked: the connection becomes a feed.
    pub psync: Option<Psync>,
}

/// `PSYNC replid offset`: the replica has the stream of `replid` up to
/// `offset - 1` (`?` and -1: nothing). SYNC is PSYNC without a reply
/// line before the snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Psync {
    pub replid: String,
    pub offset: i64,
    /// The old SYNC: no `+FULLRESYNC` line, the snapshot only.
    pub legacy: bool,
}

/// Where a replica's sync stands (INFO's `state=`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FeedState {
    /// Waiting for its snapshot to begin.
    WaitBgsave,
    /// Being sent its snapshot.
    SendBulk,
    /// Streaming.
    Online,
}

impl FeedState {
    pub fn name(self) -> &'static str {
        match self {
            FeedState::WaitBgsave => "wait_bgsave",
            FeedState::SendBulk => "send_bulk",
            FeedState::Online => "online",
        }
    }
}

/// A replica this node feeds.
#[derive(Debug, Clone)]
pub struct Fed {
    /// Its connection's client id.
    pub client: u64,
    pub ip: String,
    /// The port it listens on (`REPLCONF listening-port`).
    pub port: u16,
    pub state: FeedState,
    /// The offset it acknowledged last (`REPLCONF ACK`).
    pub ack: u64,
    pub last_ack: Instant,
}

/// The master side's state (see the module).
pub struct Master {
    backlog: OnceLock<Arc<Backlog>>,
    /// Replicas fed, in the order they came.
    fed: Mutex<Vec<Fed>>,
    /// WAITs waiting for acknowledgements.
    ack_waiters: Mutex<Vec<Waker>>,
    /// Full syncs begun (INFO's `sync_full`) and partial ones accepted
    /// and refused (`sync_partial_ok`, `sync_partial_err`).
    pub sync_full: AtomicU64,
    pub sync_partial_ok: AtomicU64,
    pub sync_partial_err: AtomicU64,
}

impl Default for Master {
    fn default() -> Master {
        Master::new()
    }
}

impl Master {
    pub fn new() -> Master {
        Master {
            backlog: OnceLock::new(),
            fed: Mutex::new(Vec::new()),
            ack_waiters: Mutex::new(Vec::new()),
            sync_full: AtomicU64::new(0),
            sync_partial_ok: AtomicU64::new(0),
            sync_partial_err: AtomicU64::new(0),
        }
    }

    /// The backlog once the first replica has come (Redis creates it
    /// then, too).
    pub fn backlog(&self) -> Option<&Arc<Backlog>> {
        self.backlog.get()
    }

    /// Sets the backlog; `false` if there is one already.
    pub fn set_backlog(&self, backlog: Arc<Backlog>) -> bool {
        self.backlog.set(backlog).is_ok()
    }

    /// `master_repl_offset`.
    pub fn offset(&self) -> u64 {
        self.backlog().map_or(0, |b| b.offset())
    }

    fn lock_fed(&self) -> std::sync::MutexGuard<'_, Vec<Fed>> {
        self.fed.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The replicas fed now, for INFO and ROLE.
    pub fn fed(&self) -> Vec<Fed> {
        self.lock_fed().clone()
    }

    pub fn add_fed(&self, fed: Fed) {
        self.lock_fed().push(fed);
    }

    pub fn remove_fed(&self, client: u64) {
        self.lock_fed().retain(|f| f.client != client);
        self.wake_ack_waiters();
    }

    pub fn set_state(&self, client: u64, state: FeedState) {
        if let Some(f) = self.lock_fed().iter_mut().find(|f| f.client == client) {
            f.state = state;
        }
    }

    /// `REPLCONF ACK offset` from replica `client`.
    pub fn acknowledged(&self, client: u64, offset: u64) {
        if let Some(f) = self.lock_fed().iter_mut().find(|f| f.client == client) {
            f.ack = f.ack.max(offset);
            f.last_ack = Instant::now();
        }
        self.wake_ack_waiters();
    }

    /// `min-replicas-to-write`: whether enough replicas are online and
    /// acknowledged within `min-replicas-max-lag` seconds for a write to
    /// be taken (always, with either setting 0).
    pub fn enough_good_replicas(&self, config: &crate::config::Config) -> bool {
        use crate::config::Param;
        let wanted = config.int(Param::MinReplicasToWrite);
        let max_lag = config.int(Param::MinReplicasMaxLag);
        if wanted == 0 || max_lag == 0 {
            return true;
        }
        let good = self
            .lock_fed()
            .iter()
            .filter(|f| {
                f.state == FeedState::Online && f.last_ack.elapsed().as_secs() as i64 <= max_lag
            })
            .count();
        good as i64 >= wanted
    }

    /// Online replicas that acknowledged `offset` (WAIT).
    pub fn acked_at_least(&self, offset: u64) -> usize {
        self.lock_fed()
            .iter()
            .filter(|f| f.state == FeedState::Online && f.ack >= offset)
            .count()
    }

    /// Wakes `waker` at the next acknowledgement.
    pub fn wait_for_ack(&self, waker: &Waker) {
        self.ack_waiters
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(waker.clone());
    }

    fn wake_ack_waiters(&self) {
        let waiters =
            std::mem::take(&mut *self.ack_waiters.lock().unwrap_or_else(|e| e.into_inner()));
        for w in waiters {
            w.wake();
        }
    }
}
