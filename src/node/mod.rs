//! State shared by the whole node (every core): configuration, topology,
//! clients, scripts and functions, shutdown, and what cores report to
//! each other (INFO). What one core owns is `shard::core::Core`.

use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, AtomicU8, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

pub mod subscriptions;

use crate::config::Config;
use crate::lua::status::{KillReason, ScriptStatus};
use crate::util::time::now_ms;

/// One connected client, visible to every core (CLIENT LIST / KILL).
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: RawFd,
    /// Shard (core) whose executor serves the connection.
    pub shard: usize,
    pub created: Instant,
    pub last_command_ms: AtomicU64,
    pub db: AtomicU8,
    pub resp: AtomicU8,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub killed: AtomicBool,
    /// Pub/Sub subscriptions (CLIENT LIST `sub=`, `psub=`, `ssub=`).
    pub sub: AtomicU32,
    pub psub: AtomicU32,
    pub ssub: AtomicU32,
    /// A MONITOR client (CLIENT LIST's `O` flag).
    pub monitor: AtomicBool,
}

impl ClientInfo {
    /// Whether it holds any Pub/Sub subscription (CLIENT LIST's `P`
    /// flag, `TYPE pubsub`).
    pub fn is_pubsub(&self) -> bool {
        self.sub.load(Ordering::Relaxed)
            + self.psub.load(Ordering::Relaxed)
            + self.ssub.load(Ordering::Relaxed)
            > 0
    }
}

/// What a node does in the background, one at a time: each shard has
/// room for one point-in-time view of its keyspace.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Job {
    /// An RDB save (SAVE, BGSAVE, a save point).
    Save = 1,
    /// A rewrite of the append-only log (BGREWRITEAOF).
    Rewrite = 2,
}

/// The node's one background job slot (see [`Job`]).
#[derive(Default)]
pub struct Background {
    running: AtomicU8,
    /// Set to make the running job stop early (SHUTDOWN).
    pub cancel: AtomicBool,
}

impl Background {
    /// Claims the slot for `job`; `Err`: the job running.
    pub fn try_start(&self, job: Job) -> Result<(), Job> {
        match self
            .running
            .compare_exchange(0, job as u8, Ordering::AcqRel, Ordering::Acquire)
        {
            Ok(_) => {
                self.cancel.store(false, Ordering::Relaxed);
                Ok(())
            }
            Err(running) if running == Job::Save as u8 => Err(Job::Save),
            Err(_) => Err(Job::Rewrite),
        }
    }

    /// Frees the slot.
    pub fn end(&self) {
        self.running.store(0, Ordering::Release);
    }

    pub fn running(&self) -> Option<Job> {
        match self.running.load(Ordering::Acquire) {
            1 => Some(Job::Save),
            2 => Some(Job::Rewrite),
            _ => None,
        }
    }

    pub fn is_running(&self, job: Job) -> bool {
        self.running() == Some(job)
    }

    pub fn is_cancelled(&self) -> bool {
        self.cancel.load(Ordering::Relaxed)
    }
}

/// How a kind of background job went (INFO persistence).
pub struct JobStatus {
    /// Unix ms when the running one began.
    started_ms: AtomicU64,
    /// Unix time (s) of the last attempt, failed ones included.
    pub last_try_unix: AtomicU64,
    /// Whether the last one failed.
    pub last_failed: AtomicBool,
    /// How long the last one took, in seconds (`u64::MAX`: none yet).
    last_duration_sec: AtomicU64,
    /// Successful ones since the start.
    pub done: AtomicU64,
    /// Asked for while another job ran: started once the slot is free.
    pub scheduled: AtomicBool,
}

impl JobStatus {
    fn new() -> JobStatus {
        JobStatus {
            started_ms: AtomicU64::new(0),
            last_try_unix: AtomicU64::new(0),
            last_failed: AtomicBool::new(false),
            last_duration_sec: AtomicU64::new(u64::MAX),
            done: AtomicU64::new(0),
            scheduled: AtomicBool::new(false),
        }
    }

    /// A job of this kind has just claimed the slot.
    pub fn started(&self) {
        let now = now_ms();
        self.started_ms.store(now, Ordering::Relaxed);
        self.last_try_unix.store(now / 1000, Ordering::Relaxed);
        self.scheduled.store(false, Ordering::Relaxed);
    }

    /// The job ended; its outcome.
    pub fn finished(&self, ok: bool) {
        let took = now_ms().saturating_sub(self.started_ms.load(Ordering::Relaxed));
        self.last_duration_sec.store(took / 1000, Ordering::Relaxed);
        self.last_failed.store(!ok, Ordering::Relaxed);
        if ok {
            self.done.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Whether the last one failed less than `secs` seconds ago (a job
    /// started by itself waits that long before it tries again).
    pub fn failed_within(&self, secs: u64) -> bool {
        let now = now_ms() / 1000;
        self.last_failed.load(Ordering::Relaxed)
            && now.saturating_sub(self.last_try_unix.load(Ordering::Relaxed)) <= secs
    }

    /// Seconds the running one has taken (-1 when `running` is false).
    pub fn current_duration_sec(&self, running: bool) -> i64 {
        if !running {
            return -1;
        }
        (now_ms().saturating_sub(self.started_ms.load(Ordering::Relaxed)) / 1000) as i64
    }

    /// Seconds the last one took (-1: none yet).
    pub fn last_duration(&self) -> i64 {
        match self.last_duration_sec.load(Ordering::Relaxed) {
            u64::MAX => -1,
            s => s as i64,
        }
    }
}

/// The node's RDB snapshots (SAVE, BGSAVE, save points; INFO
/// persistence, LASTSAVE).
pub struct RdbStatus {
    pub job: JobStatus,
    /// Unix time (s) of the last successful save; the start until then
    /// (LASTSAVE, as Redis).
    pub last_save_unix: AtomicU64,
    /// Shard changes (summed) when the last successful save began.
    pub changes_at_last_save: AtomicU64,
}

impl RdbStatus {
    fn new() -> RdbStatus {
        RdbStatus {
            job: JobStatus::new(),
            last_save_unix: AtomicU64::new(now_ms() / 1000),
            changes_at_last_save: AtomicU64::new(0),
        }
    }

    /// A save ended; `changes_at_start` counts for
    /// `rdb_changes_since_last_save` when it succeeded.
    pub fn finish(&self, ok: bool, changes_at_start: u64) {
        self.job.finished(ok);
        if ok {
            self.last_save_unix
                .store(now_ms() / 1000, Ordering::Relaxed);
            self.changes_at_last_save
                .store(changes_at_start, Ordering::Relaxed);
        }
    }

    /// Whether writes are refused because the last save failed
    /// (`stop-writes-on-bgsave-error yes` and save points set, as Redis).
    pub fn refuses_writes(&self, config: &Config) -> bool {
        self.job.last_failed.load(Ordering::Relaxed)
            && config.int(crate::config::Param::StopWritesOnBgsaveError) == 0
            && !config.save_points().is_empty()
    }
}

/// The append-only log's rewrites (BGREWRITEAOF; INFO persistence).
pub struct AofStatus {
    pub job: JobStatus,
    /// Bytes of the log (every shard's files) after the last rewrite, or
    /// at the start: automatic rewrites compare the growth with it.
    pub base_size: AtomicU64,
}

/// Node-wide counters.
#[derive(Default)]
pub struct NodeStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
}

pub struct Node {
    pub config: Config,
    /// Scripts by sha1, for every core.
    pub script_cache: crate::lua::ScriptCache,
    /// Function libraries (FUNCTION LOAD), for every core.
    pub functions: crate::lua::functions::Registry,
    /// Core id of each shard.
    pub cores: Vec<usize>,
    pub started: Instant,
    /// The one background job (a save or a log rewrite) running.
    pub background: Background,
    /// RDB snapshots: the last one's outcome.
    pub rdb: RdbStatus,
    /// Log rewrites: the last one's outcome.
    pub aof: AofStatus,
    pub run_id: String,
    /// Replication's master side: id, backlog, replicas fed.
    pub master: crate::replication::Master,
    pub shutting_down: AtomicBool,
    /// A signal asked for a shutdown that saves first (save points are
    /// set); shard 0 does it (`cmd::persistence::cron`).
    pub shutdown_requested: AtomicBool,
    pub stats: NodeStats,
    next_client_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// Every core's listening socket, shut down to end its accept loop.
    listeners: Mutex<Vec<RawFd>>,
    /// What each shard's script is doing (index: shard).
    pub script_status: Vec<ScriptStatus>,
    /// Shards done loading their data at start.
    loaded_shards: AtomicUsize,
    /// Who subscribes to what, per core (see `pubsub::index`).
    pub pubsub: subscriptions::Index,
    /// Role, replication ids and offsets, the link to the master.
    pub replication: crate::replication::Replication,
}

impl Node {
    pub fn new(config: Config, cores: Vec<usize>) -> Self {
        let seed = now_ms() ^ std::process::id() as u64;
        let replication = crate::replication::Replication::new(&config);
        Node {
            config,
            script_cache: crate::lua::ScriptCache::default(),
            functions: crate::lua::functions::Registry::default(),
            started: Instant::now(),
            background: Background::default(),
            rdb: RdbStatus::new(),
            aof: AofStatus {
                job: JobStatus::new(),
                base_size: AtomicU64::new(0),
            },
            run_id: (0..40)
                .map(|i| {
                    let x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(i * 7)
                        ^ (i as u64 * 31);
                    char::from_digit((x % 16) as u32, 16).unwrap_or('0')
                })
                .collect(),
            master: crate::replication::Master::new(),
            shutting_down: AtomicBool::new(false),
            shutdown_requested: AtomicBool::new(false),
            stats: NodeStats::default(),
            next_client_id: AtomicU64::new(1),
            clients: Mutex::new(BTreeMap::new()),
            listeners: Mutex::new(Vec::new()),
            script_status: cores.iter().map(|_| ScriptStatus::default()).collect(),
            loaded_shards: AtomicUsize::new(0),
            pubsub: subscriptions::Index::new(cores.len()),
            replication,
            cores,
        }
    }

    pub fn shards(&self) -> usize {
        self.cores.len()
    }

    /// A shard has loaded its data (its log or the snapshot).
    pub fn shard_loaded(&self) {
        self.loaded_shards.fetch_add(1, Ordering::SeqCst);
    }

    /// Whether every shard has loaded its data: the function libraries
    /// (loaded by shard 0) are then in place for every core's clients.
    pub fn all_loaded(&self) -> bool {
        self.loaded_shards.load(Ordering::SeqCst) >= self.shards()
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections not closed yet, killed ones included (shutdown waits
    /// for them).
    pub fn open_connections(&self) -> usize {
        self.lock_clients().len()
    }

    /// Live (not killed) clients: the same ones [`Node::clients`] lists, so
    /// `connected_clients` always equals `CLIENT LIST`.
    pub fn client_count(&self) -> usize {
        self.lock_clients()
            .values()
            .filter(|c| !c.killed.load(Ordering::Relaxed))
            .count()
    }

    /// Registers a new connection; None when `maxclients` is reached.
    pub fn register_client(
        &self,
        addr: String,
        laddr: String,
        fd: RawFd,
        shard: usize,
    ) -> Option<Arc<ClientInfo>> {
        let mut clients = self.lock_clients();
        let max = self.config.int(crate::config::Param::Maxclients) as usize;
        if clients.len() >= max {
            return None;
        }
        let info = Arc::new(ClientInfo {
            id: self.next_client_id.fetch_add(1, Ordering::Relaxed),
            addr,
            laddr,
            fd,
            shard,
            created: Instant::now(),
            last_command_ms: AtomicU64::new(now_ms()),
            db: AtomicU8::new(0),
            resp: AtomicU8::new(2),
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            killed: AtomicBool::new(false),
            sub: AtomicU32::new(0),
            psub: AtomicU32::new(0),
            ssub: AtomicU32::new(0),
            monitor: AtomicBool::new(false),
        });
        clients.insert(info.id, info.clone());
        Some(info)
    }

    /// Must be called before the connection's socket is closed, so a
    /// concurrent kill never touches a reused descriptor.
    pub fn unregister_client(&self, id: u64) {
        self.lock_clients().remove(&id);
    }

    /// Live (not killed) clients.
    pub fn clients(&self) -> Vec<Arc<ClientInfo>> {
        self.lock_clients()
            .values()
            .filter(|c| !c.killed.load(Ordering::Relaxed))
            .cloned()
            .collect()
    }

    /// Kills the clients `pred` selects: marks them and shuts their sockets
    /// down so a pending read wakes up. Returns how many.
    pub fn kill_clients(&self, mut pred: impl FnMut(&ClientInfo) -> bool) -> usize {
        let clients = self.lock_clients();
        let mut n = 0;
        // A killed client stays registered until its task sees the closed
        // socket; it must not be found (or counted) a second time.
        for c in clients
            .values()
            .filter(|c| !c.killed.load(Ordering::Relaxed) && pred(c))
        {
            c.killed.store(true, Ordering::Relaxed);
            // SAFETY-free: shutdown(2) on a descriptor that the registry
            // guarantees is still open (unregister happens before close).
            shutdown_socket(c.fd);
            n += 1;
        }
        n
    }

    /// Registers a core's listening socket (open until shutdown ends the
    /// accept loop, which is the only place that closes it).
    pub fn add_listener(&self, fd: RawFd) {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fd);
    }

    /// Starts a clean shutdown: listeners stop, connections finish their
    /// in-flight replies and close.
    pub fn begin_shutdown(&self) {
        if !self.shutting_down.swap(true, Ordering::SeqCst) {
            // Scripts stop too, even those that wrote: nothing is saved.
            for status in &self.script_status {
                status.request_kill(KillReason::Shutdown);
            }
            // A pending accept fails once its listening socket is shut down.
            for &fd in self
                .listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                shutdown_socket(fd);
            }
            let clients = self.lock_clients();
            for c in clients.values() {
                shutdown_read(c.fd);
            }
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}

fn shutdown_socket(fd: RawFd) {
    // SAFETY: shutdown(2) takes a plain integer and touches no memory of
    // ours; the registry lock held by the caller keeps `fd` open.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

fn shutdown_read(fd: RawFd) {
    // SAFETY: as in `shutdown_socket`.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RD);
    }
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
    /// The shard's append-only log, when `appendonly` is on.
    pub log: Option<LogReport>,
    /// Changes applied so far (a counter that only grows): what
    /// `rdb_changes_since_last_save` and the save points count.
    pub changes: u64,
}

/// One shard's append-only log, for `INFO persistence`.
#[derive(Debug, Clone, Default)]
pub struct LogReport {
    pub size: u64,
    pub durable_lsn: u64,
    pub pending_bytes: usize,
    /// No write or sync failed.
    pub ok: bool,
}
