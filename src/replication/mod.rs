//! The node's replication state, shared by every core: its role (master,
//! or replica of which master), its replication id and offsets (PSYNC2's
//! `master_replid2` / `second_repl_offset` after a promotion), and the
//! state of the link to the master. What reads it: INFO replication and
//! ROLE ([`info`]), the READONLY / MASTERDOWN checks. It sits below
//! `node` (see `layers`); the link itself, which drives shards, is
//! `server::replica`: it runs on core 0 and applies the master's stream
//! through `server::replica::apply`.

pub mod backlog;
pub mod info;
pub mod master;

pub use master::{Fed, FeedState, Handshake, Master, Psync};

use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard};

use crate::config::{Config, Param};
use crate::util::time::now_ms;

/// Redis's reply to a write on a read-only replica.
pub const READONLY: &str = "READONLY You can't write against a read only replica.";
/// Redis's reply while the link is down and stale data may not be served.
pub const MASTERDOWN: &str =
    "MASTERDOWN Link with MASTER is down and replica-serve-stale-data is set to 'no'.";
/// `master_replid2` when there is none.
pub const NO_REPLID: &str = "0000000000000000000000000000000000000000";

/// Where the link to the master stands (Redis's `repl_state`, as ROLE
/// names it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LinkState {
    /// Must connect (waiting for the next attempt).
    Connect,
    /// The TCP connection is being made.
    Connecting,
    /// PING, AUTH, REPLCONF, PSYNC.
    Handshake,
    /// Receiving the full sync's payload.
    Sync,
    /// Streaming: the link is up.
    Connected,
}

impl LinkState {
    /// The word ROLE uses.
    pub fn role_name(self) -> &'static str {
        match self {
            LinkState::Connect => "connect",
            LinkState::Connecting => "connecting",
            LinkState::Handshake => "handshake",
            LinkState::Sync => "sync",
            LinkState::Connected => "connected",
        }
    }
}

/// The master a replica follows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MasterAddr {
    pub host: String,
    pub port: u16,
}

/// What changes together, under one lock (never held across an await).
#[derive(Debug)]
pub struct State {
    /// `Some` on a replica.
    pub master: Option<MasterAddr>,
    pub link: LinkState,
    /// The replication id of the history this node's data belongs to.
    pub replid: String,
    /// The id before the last switch (a promotion), for PSYNC2.
    pub replid2: String,
    /// First offset not covered by `replid2` (-1: none).
    pub second_offset: i64,
    /// Whether `replid` and the offset name a history a master may
    /// continue (PSYNC `replid offset+1`): it came from a master, or this
    /// node was promoted. A fresh node asks `PSYNC ? -1`.
    pub continuable: bool,
    /// Unix ms of the last bytes from the master (while a link exists).
    pub last_io_ms: Option<u64>,
    /// Unix ms the link went down (None: it was never up, or is up).
    pub down_since_ms: Option<u64>,
    /// Whether a master client exists (the link is up): ROLE's offset and
    /// `master_last_io_seconds_ago` are -1 otherwise.
    pub has_master_client: bool,
    /// Bytes of the full sync expected (-1: diskless, unknown) and read.
    pub sync_total_bytes: i64,
    pub sync_read_bytes: u64,
}

/// The node's replication state (see the module).
pub struct Replication {
    state: Mutex<State>,
    /// Copy of `state.master.is_some()` for the per-command checks.
    replica: AtomicBool,
    /// Copy of `state.link == Connected`.
    link_up: AtomicBool,
    /// Bumped at every change of master (REPLICAOF): a link of an older
    /// generation stops.
    generation: AtomicU64,
    /// The replication offset: on a replica, the master's stream applied
    /// (`slave_repl_offset`); on a master, what it has produced.
    offset: AtomicI64,
    /// On a replica, the master's stream read (`slave_read_repl_offset`).
    read_offset: AtomicI64,
    /// The link's socket while it is open: shut down to stop the link at
    /// once (CLIENT KILL TYPE master, REPLICAOF).
    link_fd: Mutex<Option<RawFd>>,
}

/// What [`Replication::set_master`] did.
#[derive(Debug, PartialEq, Eq)]
pub enum SetMaster {
    Started,
    AlreadyConnected,
}

impl Replication {
    /// A master, or a replica of `replicaof` (`host port`) when set.
    pub fn new(config: &Config) -> Replication {
        let replication = Replication {
            state: Mutex::new(State {
                master: None,
                link: LinkState::Connect,
                replid: random_replid(),
                replid2: NO_REPLID.to_string(),
                second_offset: -1,
                continuable: false,
                last_io_ms: None,
                down_since_ms: None,
                has_master_client: false,
                sync_total_bytes: 0,
                sync_read_bytes: 0,
            }),
            replica: AtomicBool::new(false),
            link_up: AtomicBool::new(false),
            generation: AtomicU64::new(0),
            offset: AtomicI64::new(0),
            read_offset: AtomicI64::new(0),
            link_fd: Mutex::new(None),
        };
        if let Some((host, port)) = crate::config::parse_replicaof(&config.string(Param::Replicaof))
        {
            replication.set_master(host, port);
        }
        replication
    }

    pub fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    pub fn is_replica(&self) -> bool {
        self.replica.load(Ordering::Relaxed)
    }

    pub fn link_is_up(&self) -> bool {
        self.link_up.load(Ordering::Relaxed)
    }

    pub fn offset(&self) -> i64 {
        self.offset.load(Ordering::Relaxed)
    }

    pub fn read_offset(&self) -> i64 {
        self.read_offset.load(Ordering::Relaxed)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::SeqCst)
    }

    /// The refusal Redis gives a command from an ordinary client on this
    /// node (`writes`: it is flagged write; `stale_ok`: flagged stale):
    /// `-READONLY` for a write on a read-only replica, `-MASTERDOWN` for a
    /// command that needs fresh data while the link is down and
    /// `replica-serve-stale-data no`. (The master's own stream is applied
    /// without these checks.)
    pub fn refusal(&self, writes: bool, stale_ok: bool, config: &Config) -> Option<&'static str> {
        if !self.is_replica() {
            return None;
        }
        if writes && self.read_only(config) {
            return Some(READONLY);
        }
        let serve_stale = config.int(Param::ReplicaServeStaleData) == 0;
        if !serve_stale && !self.link_is_up() && !stale_ok {
            return Some(MASTERDOWN);
        }
        None
    }

    /// Why a script with `flags` may not start on this node, as Redis
    /// decides before it runs: a declared script that may write, on a
    /// read-only replica (`-READONLY`, Redis's shared text); any script
    /// without `allow-stale` while the link is down and stale data is
    /// refused (`-MASTERDOWN`).
    pub fn refuses_script(
        &self,
        flags: &crate::lua::engine::ScriptFlags,
        config: &Config,
    ) -> Option<&'static str> {
        if !self.is_replica() {
            return None;
        }
        if flags.declared && !flags.no_writes && self.read_only(config) {
            return Some(READONLY);
        }
        let serve_stale = config.int(Param::ReplicaServeStaleData) == 0;
        if !serve_stale && !self.link_is_up() && !flags.allow_stale {
            return Some(MASTERDOWN);
        }
        None
    }

    /// Whether ordinary clients may not write here (a replica with
    /// `replica-read-only yes`).
    pub fn read_only(&self, config: &Config) -> bool {
        self.is_replica() && config.int(Param::ReplicaReadOnly) == 0
    }

    /// REPLICAOF host port: follow that master (a new link, after the one
    /// running stops).
    pub fn set_master(&self, host: String, port: u16) -> SetMaster {
        let addr = MasterAddr { host, port };
        {
            let mut state = self.lock();
            if state
                .master
                .as_ref()
                .is_some_and(|m| m.host.eq_ignore_ascii_case(&addr.host) && m.port == addr.port)
            {
                return SetMaster::AlreadyConnected;
            }
            if state.master.is_none() {
                // As Redis (`replicationCacheMasterUsingMyself`): a master
                // turned replica offers its own history to the new master.
                state.continuable = true;
            }
            state.master = Some(addr);
            state.link = LinkState::Connect;
            state.has_master_client = false;
            state.down_since_ms = None;
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.replica.store(true, Ordering::SeqCst);
            self.link_up.store(false, Ordering::SeqCst);
        }
        self.kill_link();
        SetMaster::Started
    }

    /// REPLICAOF NO ONE: the node becomes a master. The history it has
    /// so far stays continuable under the old id (PSYNC2): `replid2` and
    /// `second_repl_offset` keep it, and a new id starts.
    pub fn unset_master(&self) {
        {
            let mut state = self.lock();
            if state.master.is_none() {
                return;
            }
            state.replid2 = std::mem::replace(&mut state.replid, random_replid());
            state.second_offset = self.offset() + 1;
            state.continuable = true;
            state.master = None;
            state.link = LinkState::Connect;
            state.has_master_client = false;
            state.last_io_ms = None;
            state.down_since_ms = None;
            self.generation.fetch_add(1, Ordering::SeqCst);
            self.replica.store(false, Ordering::SeqCst);
            self.link_up.store(false, Ordering::SeqCst);
        }
        self.kill_link();
    }

    /// The master a link of this generation should follow (None: stop).
    pub fn master_for(&self, generation: u64) -> Option<MasterAddr> {
        let state = self.lock();
        (self.generation() == generation)
            .then(|| state.master.clone())
            .flatten()
    }

    /// Records a link's progress (nothing when a newer generation began).
    pub fn set_link(&self, generation: u64, link: LinkState) {
        let mut state = self.lock();
        if self.generation() != generation {
            return;
        }
        state.link = link;
        if link == LinkState::Connecting {
            state.last_io_ms = Some(now_ms());
        }
        if link == LinkState::Connected {
            state.has_master_client = true;
            state.down_since_ms = None;
        }
        self.link_up
            .store(link == LinkState::Connected, Ordering::SeqCst);
    }

    /// The link of `generation` ended: it is down since now (if it was
    /// up), and the next attempt connects again.
    pub fn link_lost(&self, generation: u64) {
        let mut state = self.lock();
        if self.generation() != generation {
            return;
        }
        if state.has_master_client {
            state.down_since_ms = Some(now_ms());
        }
        state.has_master_client = false;
        state.link = LinkState::Connect;
        self.link_up.store(false, Ordering::SeqCst);
    }

    /// Bytes came from the master.
    pub fn heard_from_master(&self) {
        self.lock().last_io_ms = Some(now_ms());
    }

    /// The PSYNC arguments: the history to continue, or `? -1`.
    pub fn psync_args(&self) -> (String, String) {
        let state = self.lock();
        if state.continuable {
            (state.replid.clone(), (self.offset() + 1).to_string())
        } else {
            ("?".to_string(), "-1".to_string())
        }
    }

    /// A full sync is loaded: this node's data is the master's history
    /// `replid` at `offset`.
    pub fn full_synced(&self, replid: String, offset: i64) {
        let mut state = self.lock();
        state.replid = replid;
        state.replid2 = NO_REPLID.to_string();
        state.second_offset = -1;
        state.continuable = true;
        self.offset.store(offset, Ordering::SeqCst);
        self.read_offset.store(offset, Ordering::SeqCst);
    }

    /// The history could not be loaded whole: the next sync must be full.
    pub fn forget_history(&self) {
        self.lock().continuable = false;
    }

    /// `+CONTINUE <new id>`: the master's history goes on under a new id
    /// (it was promoted); ours follows it, keeping the old one as
    /// `replid2`, as Redis does.
    pub fn continued_as(&self, new_replid: &str) {
        let mut state = self.lock();
        if state.replid != new_replid {
            state.replid2 = std::mem::replace(&mut state.replid, new_replid.to_string());
            state.second_offset = self.offset() + 1;
        }
    }

    /// The master's stream is applied up to `offset`.
    pub fn set_offset(&self, offset: i64) {
        self.offset.store(offset, Ordering::SeqCst);
    }

    /// The stream begins (after a sync) with `buffered` bytes of it read.
    pub fn stream_begins(&self, buffered: usize) {
        self.read_offset
            .store(self.offset() + buffered as i64, Ordering::SeqCst);
    }

    /// `n` more bytes of the master's stream were read.
    pub fn stream_read(&self, n: usize) {
        self.read_offset.fetch_add(n as i64, Ordering::SeqCst);
    }

    /// Full sync progress (INFO's `master_sync_*`).
    pub fn sync_progress(&self, total: i64, read: u64) {
        let mut state = self.lock();
        state.sync_total_bytes = total;
        state.sync_read_bytes = read;
    }

    /// The link task's socket is `fd` until [`Replication::detach_link`];
    /// refused (false) when the link's generation is over.
    pub fn attach_link(&self, generation: u64, fd: RawFd) -> bool {
        let mut link = self.link_fd.lock().unwrap_or_else(|e| e.into_inner());
        if self.generation() != generation {
            return false;
        }
        *link = Some(fd);
        true
    }

    /// Must be called before the link's socket is closed.
    pub fn detach_link(&self) {
        *self.link_fd.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// Breaks the link to the master (CLIENT KILL TYPE master): its
    /// socket is shut down, so the link task wakes and reconnects. True
    /// if there was one.
    pub fn kill_link(&self) -> bool {
        let link = self.link_fd.lock().unwrap_or_else(|e| e.into_inner());
        match *link {
            Some(fd) => {
                // SAFETY: shutdown(2) takes a plain integer and touches no
                // memory of ours; the lock held keeps `fd` open (the link
                // detaches before it closes its socket).
                unsafe {
                    libc::shutdown(fd, libc::SHUT_RDWR);
                }
                true
            }
            None => false,
        }
    }
}

/// A new replication id: 40 hex characters, different at every call.
pub fn random_replid() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    let seed = format!(
        "{nanos}:{}:{}:{:p}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed),
        &COUNTER
    );
    sha1_smol::Sha1::from(seed).digest().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn promotion_keeps_the_old_history_as_replid2() {
        let config = Config::default();
        let r = Replication::new(&config);
        assert!(!r.is_replica());
        assert_eq!(r.psync_args(), ("?".to_string(), "-1".to_string()));
        assert_eq!(
            r.set_master("h".into(), 1),
            SetMaster::Started,
            "a new master"
        );
        assert_eq!(r.set_master("H".into(), 1), SetMaster::AlreadyConnected);
        let id = "a".repeat(40);
        r.full_synced(id.clone(), 100);
        r.set_offset(150);
        assert_eq!(r.psync_args(), (id.clone(), "151".to_string()));
        r.unset_master();
        let state = r.lock();
        assert_eq!(state.replid2, id);
        assert_eq!(state.second_offset, 151);
        assert_ne!(state.replid, id);
        assert_eq!(state.replid.len(), 40);
    }

    #[test]
    fn refusals_follow_redis() {
        let config = Config::default();
        let r = Replication::new(&config);
        // (writes, stale_ok): SET and GET.
        let (set, get) = ((true, false), (false, false));
        let refusal = |(w, s): (bool, bool)| r.refusal(w, s, &config);
        assert_eq!(refusal(set), None, "a master takes writes");
        r.set_master("h".into(), 1);
        assert_eq!(refusal(set), Some(READONLY));
        assert_eq!(refusal(get), None, "stale data is served");
        config
            .set_many(&[("replica-serve-stale-data", "no")])
            .expect("set");
        assert_eq!(refusal(get), Some(MASTERDOWN));
        config
            .set_many(&[("replica-read-only", "no")])
            .expect("set");
        assert_eq!(refusal(set), Some(MASTERDOWN));
    }
}
