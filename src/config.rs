//! Every limit (named constants, units last) and the runtime configuration
//! that `CONFIG GET/SET`, the config file and `--name value` flags share.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::Mutex;

use crate::util::glob::glob_match;

// ---- Protocol limits (Redis's values unless noted) ----

/// Longest inline command, and longest `*N` / `$N` header line.
pub const MAX_INLINE_BYTES: usize = 64 * 1024;
/// Most arguments in one multibulk (Redis: INT_MAX). Memory is bounded
/// separately by the query buffer limit, which counts parsed arguments too.
pub const MAX_MULTIBULK_LEN: i64 = i32::MAX as i64;
/// Before AUTH, a multibulk may have at most this many arguments.
pub const MAX_UNAUTHENTICATED_MULTIBULK_LEN: i64 = 10;
/// Before AUTH, a bulk may be at most this long.
pub const MAX_UNAUTHENTICATED_BULK_BYTES: usize = 16 * 1024;
/// Most the read buffer grows ahead of the bytes of a big bulk.
pub const MAX_BULK_PREALLOC_BYTES: usize = 1024 * 1024;
/// Socket read size; the read buffer grows beyond it only for big bulks.
pub const READ_CHUNK_BYTES: usize = 16 * 1024;
/// A connection's read buffer grows by at least this much, so a run of
/// small requests shares one allocation (an idle connection holds at most
/// about this much).
pub const READ_BUFFER_GROWTH_BYTES: usize = 1024;
/// A connection that goes idle drops a read or reply buffer larger than
/// this (left by a big request or reply).
pub const IDLE_BUFFER_MAX_BYTES: usize = 4 * 1024;
/// Commands parsed from one read before replies are flushed, so one client's
/// pipeline cannot make a connection's reply buffer grow without bound.
pub const MAX_PIPELINE_BATCH_COMMANDS: usize = 1024;
/// Reply bytes buffered before they are written out mid-batch.
pub const MAX_REPLY_BUFFER_BYTES: usize = 1024 * 1024;
/// Nesting of a script's return value (deeper: Redis's "reached lua stack
/// limit" error). Redis's limit comes from Lua's C stack (about 2600
/// levels); ours keeps the recursive conversion well inside a 2 MB thread
/// stack even in debug builds (measured: 400 levels fine, 1000 not).
pub const MAX_SCRIPT_REPLY_DEPTH: usize = 200;

// ---- Sharding and cross-core messaging ----

/// Requests in flight from one core to another before senders wait.
pub const MESH_CHANNEL_CAPACITY: usize = 1024;
/// Databases, as Redis's default `databases 16`.
pub const DATABASES: usize = 16;
/// Bytes of RDB records a shard hands a save per request, at least (a
/// step takes whole slot-group tables): a 1M-key snapshot is a few hundred
/// requests, and making one stays well under a millisecond of the shard's
/// time.
pub const CAPTURE_CHUNK_BYTES: usize = 64 * 1024;
/// Pub/Sub messages one core sends another in one mesh request, at most
/// (more wait for the next request, in order).
pub const PUBSUB_FORWARD_BATCH_MESSAGES: usize = 1024;
/// Bytes of Pub/Sub messages one core may hold for another that has not
/// taken them yet (its mesh channel full: the other core is overloaded);
/// past it, messages for that core are dropped, with a line in the log,
/// rather than exhausting memory (a publisher never waits).
pub const PUBSUB_FORWARD_QUEUE_MAX_BYTES: usize = 256 * 1024 * 1024;
/// Past this many bytes of messages waiting to go to other cores, a core's
/// connections stop reading commands until half is sent (see
/// `pubsub::Hub::wait_for_forwarding`).
pub const PUBSUB_FORWARD_PAUSE_BYTES: usize = 16 * 1024 * 1024;

// ---- Pub/Sub and output buffer limits ----

/// Reply bytes `client-output-buffer-limit` does not count: what Redis
/// holds in a client's fixed reply buffer (`PROTO_REPLY_CHUNK_BYTES`),
/// outside the reply list its limits measure.
pub const REPLY_BUFFER_NOT_COUNTED_BYTES: usize = 16 * 1024;

/// Channels, patterns or shard channels one command may name (the
/// arguments are bounded by the query buffer; this bounds the reply).
pub const MAX_PUBSUB_NAMES_PER_COMMAND: usize = 1024 * 1024;

// ---- Keyspace ----

/// Keys examined per shard and tick by active expiry.
pub const ACTIVE_EXPIRE_KEYS_PER_TICK: usize = 200;
/// Longest a string may grow through SETRANGE / APPEND (Redis: 512 MB).
pub const MAX_STRING_BYTES: usize = 512 * 1024 * 1024;
/// Most elements SCAN-like commands return per call regardless of COUNT.
pub const MAX_SCAN_COUNT: usize = 100_000;
/// The most a replica may be behind the stream before it is dropped (and
/// syncs again): Redis's default hard `client-output-buffer-limit` for
/// replicas, 256 MB. The backlog holds that much at most for it.
pub const REPLICA_OUTPUT_LIMIT_BYTES: usize = 256 * 1024 * 1024;
/// Bytes of the stream sent to a replica per write.
pub const REPLICA_FEED_CHUNK_BYTES: usize = 256 * 1024;
/// A replica's requests (REPLCONF ACK) buffered at most.
pub const REPLICA_INPUT_LIMIT_BYTES: usize = 64 * 1024;

// ---- Replication (the replica side) ----

/// Longest line a master may send during the handshake (its replies, the
/// payload header): Redis reads these with a buffer of this size.
pub const MAX_MASTER_LINE_BYTES: usize = 64 * 1024;
/// Largest full-sync payload a replica accepts (it is held in memory
/// while every shard loads its part).
pub const MAX_SYNC_PAYLOAD_BYTES: u64 = 64 * 1024 * 1024 * 1024;
/// Most a replica reserves ahead of the payload bytes actually received.
pub const SYNC_PAYLOAD_PREALLOC_BYTES: usize = 64 * 1024 * 1024;
/// Length of a replication id and of the diskless payload's end mark.
pub const REPLID_BYTES: usize = 40;
/// How often a replica sends `REPLCONF ACK <offset>` (Redis: every second).
pub const REPL_ACK_INTERVAL_MS: u64 = 1000;
/// Pause before a replica tries its master again after a failed attempt
/// or a broken link (Redis's replication cron runs once a second).
pub const REPL_RETRY_INTERVAL_MS: u64 = 1000;
/// How often the link task checks whether it was stopped (REPLICAOF NO
/// ONE, another master, CLIENT KILL TYPE master) while nothing arrives.
pub const REPL_LINK_POLL_MS: u64 = 100;
/// Commands of the master's stream applied per round before the applied
/// offset moves on (one round trip per shard per round).
pub const MAX_STREAM_ROUND_COMMANDS: usize = 4096;

// ---- Runtime configuration ----

/// A configuration parameter's identity; index into [`PARAMS`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(usize)]
pub enum Param {
    Bind,
    Port,
    Requirepass,
    BusyReplyThreshold,
    ProtoMaxBulkLen,
    ClientQueryBufferLimit,
    Maxclients,
    Databases,
    Hz,
    Save,
    Appendonly,
    Loglevel,
    Maxmemory,
    MaxmemoryPolicy,
    SpinBeforeParkUs,
    PreemptTimerMs,
    LuaMemoryLimit,
    BusyBehavior,
    BusyDeferMaxMs,
    ScriptKillAfter,
    ScriptYieldUs,
    EnableDebugCommand,
    EnableProtectedConfigs,
    Dir,
    Dbfilename,
    Appendfsync,
    Appenddirname,
    Appendfilename,
    AofLoadTruncated,
    StopWritesOnBgsaveError,
    AutoAofRewritePercentage,
    AutoAofRewriteMinSize,
    Rdbchecksum,
    Rdbcompression,
    ReplBacklogSize,
    ReplPingReplicaPeriod,
    MinReplicasToWrite,
    MinReplicasMaxLag,
    NotifyKeyspaceEvents,
    ClientOutputBufferLimit,
    Replicaof,
    Masterauth,
    Masteruser,
    ReplicaReadOnly,
    ReplicaServeStaleData,
    ReplicaPriority,
    ReplTimeout,
    ReplicaAnnounceIp,
    ReplicaAnnouncePort,
    ReplicaAnnounced,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Int {
        min: i64,
        max: i64,
    },
    Memory {
        min: i64,
        max: i64,
    },
    Enum(&'static [&'static str]),
    Str,
    /// `save`: pairs of seconds and changes, or empty for none.
    SavePoints,
    /// `notify-keyspace-events`: class letters, stored as their flags
    /// (`crate::notify`) and shown in Redis's canonical order.
    KeyspaceEvents,
    /// `client-output-buffer-limit`: `<class> <hard> <soft> <seconds>`
    /// groups; a CONFIG SET changes only the classes it names.
    BufferLimits,
}

/// What a [`Param`] is: its names, its kind of value, its default, and
/// whether CONFIG SET may change it.
struct ParamSpec {
    id: Param,
    name: &'static str,
    alias: Option<&'static str>,
    kind: Kind,
    default: &'static str,
    /// Changeable at run time by CONFIG SET.
    mutable: bool,
}

const GB: i64 = 1024 * 1024 * 1024;

/// Parameters CONFIG SET changes only with `enable-protected-configs`.
const PROTECTED: &[Param] = &[Param::Dir, Param::Dbfilename];

/// Every parameter, in [`Param`] order.
const PARAMS: &[ParamSpec] = &[
    ParamSpec {
        id: Param::Bind,
        name: "bind",
        alias: None,
        kind: Kind::Str,
        default: "127.0.0.1",
        mutable: false,
    },
    ParamSpec {
        id: Param::Port,
        name: "port",
        alias: None,
        kind: Kind::Int { min: 0, max: 65535 },
        default: "6379",
        mutable: false,
    },
    ParamSpec {
        id: Param::Requirepass,
        name: "requirepass",
        alias: None,
        kind: Kind::Str,
        default: "",
        mutable: true,
    },
    ParamSpec {
        id: Param::BusyReplyThreshold,
        name: "busy-reply-threshold",
        alias: Some("lua-time-limit"),
        kind: Kind::Int {
            min: i64::MIN,
            max: i64::MAX,
        },
        default: "5000",
        mutable: true,
    },
    ParamSpec {
        id: Param::ProtoMaxBulkLen,
        name: "proto-max-bulk-len",
        alias: None,
        kind: Kind::Memory {
            min: 1024 * 1024,
            max: 512 * 1024 * 1024,
        },
        default: "536870912",
        mutable: true,
    },
    ParamSpec {
        id: Param::ClientQueryBufferLimit,
        name: "client-query-buffer-limit",
        alias: None,
        kind: Kind::Memory {
            min: 1024 * 1024,
            max: GB,
        },
        default: "1073741824",
        mutable: true,
    },
    ParamSpec {
        id: Param::Maxclients,
        name: "maxclients",
        alias: None,
        kind: Kind::Int {
            min: 1,
            max: 1_000_000,
        },
        default: "10000",
        mutable: true,
    },
    ParamSpec {
        id: Param::Databases,
        name: "databases",
        alias: None,
        kind: Kind::Int { min: 16, max: 16 },
        default: "16",
        mutable: false,
    },
    ParamSpec {
        id: Param::Hz,
        name: "hz",
        alias: None,
        kind: Kind::Int { min: 1, max: 500 },
        default: "10",
        mutable: true,
    },
    ParamSpec {
        id: Param::Save,
        name: "save",
        alias: None,
        kind: Kind::SavePoints,
        default: "",
        mutable: true,
    },
    ParamSpec {
        id: Param::Appendonly,
        name: "appendonly",
        alias: None,
        // Switched at run time by the caller of `Config::set_many`.
        kind: Kind::Enum(&["no", "yes"]),
        default: "no",
        mutable: true,
    },
    ParamSpec {
        id: Param::Loglevel,
        name: "loglevel",
        alias: None,
        kind: Kind::Enum(&["debug", "verbose", "notice", "warning", "nothing"]),
        default: "notice",
        mutable: true,
    },
    ParamSpec {
        id: Param::Maxmemory,
        name: "maxmemory",
        alias: None,
        kind: Kind::Memory { min: 0, max: 0 },
        default: "0",
        mutable: true,
    },
    ParamSpec {
        id: Param::MaxmemoryPolicy,
        name: "maxmemory-policy",
        alias: None,
        kind: Kind::Enum(&["noeviction"]),
        default: "noeviction",
        mutable: true,
    },
    ParamSpec {
        id: Param::SpinBeforeParkUs,
        name: "spin-before-park-us",
        alias: None,
        kind: Kind::Int {
            min: 0,
            max: 1_000_000,
        },
        default: "0",
        mutable: false,
    },
    ParamSpec {
        id: Param::PreemptTimerMs,
        name: "preempt-timer-ms",
        alias: None,
        kind: Kind::Int { min: 1, max: 1000 },
        default: "100",
        mutable: false,
    },
    ParamSpec {
        id: Param::LuaMemoryLimit,
        name: "lua-memory-limit",
        alias: None,
        kind: Kind::Memory {
            min: 1024 * 1024,
            max: 64 * GB,
        },
        default: "268435456",
        mutable: false,
    },
    ParamSpec {
        id: Param::BusyBehavior,
        name: "busy-behavior",
        alias: None,
        kind: Kind::Enum(&["reply", "defer"]),
        default: "reply",
        mutable: true,
    },
    ParamSpec {
        id: Param::BusyDeferMaxMs,
        name: "busy-defer-max-ms",
        alias: None,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: "5000",
        mutable: true,
    },
    ParamSpec {
        id: Param::ScriptKillAfter,
        name: "script-kill-after",
        alias: None,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: "0",
        mutable: true,
    },
    ParamSpec {
        id: Param::ScriptYieldUs,
        name: "script-yield-us",
        alias: None,
        kind: Kind::Int {
            min: 0,
            max: i64::MAX,
        },
        default: "100",
        mutable: true,
    },
    ParamSpec {
        id: Param::EnableDebugCommand,
        name: "enable-debug-command",
        alias: None,
        kind: Kind::Enum(&["no", "yes", "local"]),
        default: "no",
        mutable: false,
    },
    ParamSpec {
        id: Param::EnableProtectedConfigs,
        name: "enable-protected-configs",
        alias: None,
        kind: Kind::Enum(&["no", "yes", "local"]),
        default: "no",
        mutable: false,
    },
    ParamSpec {
        id: Param::Dir,
        name: "dir",
        alias: None,
        kind: Kind::Str,
        default: ".",
        // At run time only while the append-only log is off (see
        // `check_many`).
        mutable: true,
    },
    ParamSpec {
        id: Param::Dbfilename,
        name: "dbfilename",
        alias: None,
        kind: Kind::Str,
        default: "dump.rdb",
        mutable: true,
    },
    ParamSpec {
        id: Param::Appendfsync,
        name: "appendfsync",
        alias: None,
        // In `aof::writer::FsyncPolicy` order (see `shard::log`).
        kind: Kind::Enum(&["always", "everysec", "no"]),
        default: "everysec",
        mutable: true,
    },
    ParamSpec {
        id: Param::Appenddirname,
        name: "appenddirname",
        alias: None,
        kind: Kind::Str,
        default: "appendonlydir",
        mutable: false,
    },
    ParamSpec {
        id: Param::Appendfilename,
        name: "appendfilename",
        alias: None,
        kind: Kind::Str,
        default: "appendonly.aof",
        mutable: false,
    },
    ParamSpec {
        id: Param::AofLoadTruncated,
        name: "aof-load-truncated",
        alias: None,
        kind: Kind::Enum(&["yes", "no"]),
        default: "yes",
        mutable: true,
    },
    ParamSpec {
        id: Param::StopWritesOnBgsaveError,
        name: "stop-writes-on-bgsave-error",
        alias: None,
        kind: Kind::Enum(&["yes", "no"]),
        default: "yes",
        mutable: true,
    },
    ParamSpec {
        id: Param::AutoAofRewritePercentage,
        name: "auto-aof-rewrite-percentage",
        alias: None,
        kind: Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        default: "100",
        mutable: true,
    },
    ParamSpec {
        id: Param::AutoAofRewriteMinSize,
        name: "auto-aof-rewrite-min-size",
        alias: None,
        kind: Kind::Memory {
            min: 0,
            max: i64::MAX,
        },
        default: "67108864",
        mutable: true,
    },
    ParamSpec {
        id: Param::Rdbchecksum,
        name: "rdbchecksum",
        alias: None,
        kind: Kind::Enum(&["yes", "no"]),
        default: "yes",
        mutable: true,
    },
    ParamSpec {
        id: Param::Rdbcompression,
        name: "rdbcompression",
        alias: None,
        kind: Kind::Enum(&["yes", "no"]),
        default: "yes",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplBacklogSize,
        name: "repl-backlog-size",
        alias: None,
        kind: Kind::Memory {
            min: 1,
            max: i64::MAX,
        },
        default: "1048576",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplPingReplicaPeriod,
        name: "repl-ping-replica-period",
        alias: Some("repl-ping-slave-period"),
        kind: Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        default: "10",
        mutable: true,
    },
    ParamSpec {
        id: Param::MinReplicasToWrite,
        name: "min-replicas-to-write",
        alias: Some("min-slaves-to-write"),
        kind: Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        default: "0",
        mutable: true,
    },
    ParamSpec {
        id: Param::MinReplicasMaxLag,
        name: "min-replicas-max-lag",
        alias: Some("min-slaves-max-lag"),
        kind: Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        default: "10",
        mutable: true,
    },
    ParamSpec {
        id: Param::NotifyKeyspaceEvents,
        name: "notify-keyspace-events",
        alias: None,
        kind: Kind::KeyspaceEvents,
        default: "",
        mutable: true,
    },
    ParamSpec {
        id: Param::ClientOutputBufferLimit,
        name: "client-output-buffer-limit",
        alias: None,
        kind: Kind::BufferLimits,
        default: "normal 0 0 0 slave 268435456 67108864 60 pubsub 33554432 8388608 60",
        mutable: true,
    },
    ParamSpec {
        id: Param::Replicaof,
        name: "replicaof",
        alias: Some("slaveof"),
        // `host port`, or empty; REPLICAOF changes the master at run time
        // (as Redis, CONFIG SET may not).
        kind: Kind::Str,
        default: "",
        mutable: false,
    },
    ParamSpec {
        id: Param::Masterauth,
        name: "masterauth",
        alias: None,
        kind: Kind::Str,
        default: "",
        mutable: true,
    },
    ParamSpec {
        id: Param::Masteruser,
        name: "masteruser",
        alias: None,
        kind: Kind::Str,
        default: "",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplicaReadOnly,
        name: "replica-read-only",
        alias: Some("slave-read-only"),
        kind: Kind::Enum(&["yes", "no"]),
        default: "yes",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplicaServeStaleData,
        name: "replica-serve-stale-data",
        alias: Some("slave-serve-stale-data"),
        kind: Kind::Enum(&["yes", "no"]),
        default: "yes",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplicaPriority,
        name: "replica-priority",
        alias: Some("slave-priority"),
        kind: Kind::Int {
            min: 0,
            max: i32::MAX as i64,
        },
        default: "100",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplTimeout,
        name: "repl-timeout",
        alias: None,
        kind: Kind::Int {
            min: 1,
            max: i32::MAX as i64,
        },
        default: "60",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplicaAnnounceIp,
        name: "replica-announce-ip",
        alias: Some("slave-announce-ip"),
        kind: Kind::Str,
        default: "",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplicaAnnouncePort,
        name: "replica-announce-port",
        alias: Some("slave-announce-port"),
        kind: Kind::Int { min: 0, max: 65535 },
        default: "0",
        mutable: true,
    },
    ParamSpec {
        id: Param::ReplicaAnnounced,
        name: "replica-announced",
        alias: None,
        kind: Kind::Enum(&["yes", "no"]),
        default: "yes",
        mutable: true,
    },
];

/// The node's configuration, shared by every core. Numbers live in atomics
/// so hot paths read them without a lock; strings sit behind a mutex that
/// only AUTH and CONFIG take.
pub struct Config {
    numbers: Vec<AtomicI64>,
    strings: Mutex<Vec<String>>,
    /// `client-output-buffer-limit`, per [`ClientClass`]: hard bytes,
    /// soft bytes, soft seconds (read per message delivered: no lock).
    buffer_limits: [[AtomicI64; 3]; 3],
}

/// A class of clients for `client-output-buffer-limit`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientClass {
    Normal = 0,
    Replica = 1,
    Pubsub = 2,
}

impl ClientClass {
    const NAMES: [&'static str; 3] = ["normal", "slave", "pubsub"];

    fn parse(name: &str) -> Option<ClientClass> {
        match name.to_ascii_lowercase().as_str() {
            "normal" => Some(ClientClass::Normal),
            "slave" | "replica" => Some(ClientClass::Replica),
            "pubsub" => Some(ClientClass::Pubsub),
            _ => None,
        }
    }
}

pub use crate::util::output_limit::BufferLimit;

/// `client-output-buffer-limit`'s groups: (class, [hard, soft, seconds]);
/// Redis's errors otherwise.
fn parse_buffer_limits(value: &str) -> Result<Vec<(ClientClass, [i64; 3])>, String> {
    let words: Vec<&str> = value.split_ascii_whitespace().collect();
    if !words.len().is_multiple_of(4) {
        return Err("Wrong number of arguments in buffer limit configuration.".into());
    }
    let mut groups = Vec::with_capacity(words.len() / 4);
    for group in words.chunks(4) {
        let class = ClientClass::parse(group[0])
            .ok_or("Invalid client class specified in buffer limit configuration.")?;
        let hard = parse_memory(group[1]).filter(|n| *n >= 0);
        let soft = parse_memory(group[2]).filter(|n| *n >= 0);
        let seconds = group[3].parse::<i64>().ok().filter(|n| *n >= 0);
        let (Some(hard), Some(soft), Some(seconds)) = (hard, soft, seconds) else {
            return Err(
                "Error in hard, soft or soft_seconds setting in buffer limit configuration.".into(),
            );
        };
        groups.push((class, [hard, soft, seconds]));
    }
    Ok(groups)
}

impl Default for Config {
    fn default() -> Self {
        let cfg = Config {
            numbers: PARAMS.iter().map(|_| AtomicI64::new(0)).collect(),
            strings: Mutex::new(PARAMS.iter().map(|p| p.default.to_string()).collect()),
            buffer_limits: Default::default(),
        };
        for p in PARAMS {
            cfg.store(p, p.default).expect("defaults are valid");
        }
        cfg
    }
}

impl Config {
    /// A numeric (int, memory, bool, enum index) parameter.
    pub fn int(&self, id: Param) -> i64 {
        self.numbers[id as usize].load(Ordering::Relaxed)
    }

    /// The `notify-keyspace-events` flags (see `crate::notify`): one
    /// relaxed load, read by every shard before each command.
    #[inline]
    pub fn keyspace_events(&self) -> u32 {
        self.int(Param::NotifyKeyspaceEvents) as u32
    }

    /// A class's `client-output-buffer-limit`.
    pub fn buffer_limit(&self, class: ClientClass) -> BufferLimit {
        let [hard, soft, seconds] = &self.buffer_limits[class as usize];
        let get = |n: &AtomicI64| n.load(Ordering::Relaxed).max(0) as u64;
        BufferLimit {
            hard_bytes: get(hard),
            soft_bytes: get(soft),
            soft_seconds: get(seconds),
        }
    }

    /// `client-output-buffer-limit` as CONFIG GET shows it: every class,
    /// in bytes.
    fn render_buffer_limits(&self) -> String {
        let mut out = Vec::with_capacity(3);
        for (class, limits) in self.buffer_limits.iter().enumerate() {
            let [hard, soft, seconds] = limits.each_ref().map(|n| n.load(Ordering::Relaxed));
            out.push(format!(
                "{} {hard} {soft} {seconds}",
                ClientClass::NAMES[class]
            ));
        }
        out.join(" ")
    }

    /// Where the RDB file is: `dir`/`dbfilename`.
    pub fn rdb_path(&self) -> std::path::PathBuf {
        std::path::Path::new(&self.string(Param::Dir)).join(self.string(Param::Dbfilename))
    }

    /// `rdbcompression yes`: long strings in RDB files are LZF-compressed.
    pub fn rdb_compression(&self) -> bool {
        self.int(Param::Rdbcompression) == 0
    }

    /// The `save` points: (seconds, changes) pairs.
    pub fn save_points(&self) -> Vec<(u64, u64)> {
        parse_save_points(&self.string(Param::Save)).unwrap_or_default()
    }

    pub fn string(&self, id: Param) -> String {
        self.lock_strings()[id as usize].clone()
    }

    fn lock_strings(&self) -> std::sync::MutexGuard<'_, Vec<String>> {
        // A poisoned lock only means a panic elsewhere; the strings are intact.
        self.strings.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Sets a parameter at start-up (file or flag): immutable ones allowed.
    pub fn set_initial(&self, name: &str, value: &str) -> Result<(), String> {
        let p = find(name)
            .ok_or_else(|| format!("Bad directive or wrong number of arguments: '{name}'"))?;
        self.store(p, value)
    }

    /// CONFIG SET of several pairs: all or nothing, with Redis 7's errors.
    /// `appendonly` is checked but not stored: turning the log on or off
    /// is the caller's (see [`Config::appendonly_change`]), which stores
    /// it once done.
    pub fn set_many(&self, pairs: &[(&str, &str)]) -> Result<(), String> {
        for (p, value) in self.check_many(pairs)? {
            if p.id != Param::Appendonly {
                self.store(p, value)?;
            }
        }
        Ok(())
    }

    /// The switch of the log that `pairs` (a CONFIG SET) asks for:
    /// `Some(true)` to turn it on, `Some(false)` off, `None` for no
    /// change; the error reply if any pair is refused.
    pub fn appendonly_change(&self, pairs: &[(&str, &str)]) -> Result<Option<bool>, String> {
        let found = self.check_many(pairs)?;
        let Some((p, value)) = found.iter().find(|(p, _)| p.id == Param::Appendonly) else {
            return Ok(None);
        };
        let on = value.eq_ignore_ascii_case("yes");
        Ok((!value.eq_ignore_ascii_case(&self.render(p))).then_some(on))
    }

    /// Each pair's parameter, once every pair is valid (Redis 7's errors).
    fn check_many<'v>(
        &self,
        pairs: &[(&str, &'v str)],
    ) -> Result<Vec<(&'static ParamSpec, &'v str)>, String> {
        let mut found = Vec::with_capacity(pairs.len());
        for (i, (name, value)) in pairs.iter().enumerate() {
            let err = |why: &str| {
                format!("ERR CONFIG SET failed (possibly related to argument '{name}') - {why}")
            };
            let p = find(name).ok_or_else(|| {
                format!("ERR Unknown option or number of arguments for CONFIG SET - '{name}'")
            })?;
            if !p.mutable {
                return Err(err("can't set immutable config"));
            }
            if pairs[..i]
                .iter()
                .any(|(n, _)| find(n).is_some_and(|q| q.id == p.id))
            {
                return Err(err("duplicate parameter"));
            }
            parse_value(p, value).map_err(|why| err(&why))?;
            if p.id == Param::Dir {
                self.check_dir(value).map_err(|why| err(&why))?;
            }
            if p.id == Param::Dbfilename && value.contains('/') {
                return Err(err("dbfilename can't be a path, just a filename"));
            }
            found.push((p, *value));
        }
        Ok(found)
    }

    /// Redis 7's refusal of a CONFIG SET of a protected parameter (`dir`,
    /// `dbfilename`: where the server writes files) unless
    /// `enable-protected-configs` allows it (`yes`, or `local` for a
    /// loopback client).
    pub fn protected_refused(&self, pairs: &[(&str, &str)], local_client: bool) -> Option<String> {
        let allowed = match self.string(Param::EnableProtectedConfigs).as_str() {
            "yes" => true,
            "local" => local_client,
            _ => false,
        };
        let name = pairs
            .iter()
            .map(|(name, _)| *name)
            .find(|name| find(name).is_some_and(|p| PROTECTED.contains(&p.id)))?;
        (!allowed).then(|| {
            format!(
                "ERR CONFIG SET failed (possibly related to argument '{name}') - can't set protected config"
            )
        })
    }

    /// A new `dir` must be a directory (Redis's error is `chdir`'s), and
    /// the log's files stay where they are while it is on: the log keeps
    /// its directory until it is turned off.
    fn check_dir(&self, value: &str) -> Result<(), String> {
        if self.string(Param::Appendonly) == "yes" && value != self.string(Param::Dir) {
            return Err(
                "dir cannot change while the append-only log is on (appendonly no first)".into(),
            );
        }
        match std::fs::metadata(value) {
            Ok(m) if m.is_dir() => Ok(()),
            Ok(_) => Err("Not a directory".into()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                Err("No such file or directory".into())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    /// CONFIG GET: name/value pairs for every parameter (or alias) matching
    /// any of the glob patterns.
    pub fn get_matching(&self, patterns: &[&[u8]]) -> Vec<(String, String)> {
        let mut out = Vec::new();
        for p in PARAMS {
            for name in std::iter::once(p.name).chain(p.alias) {
                if patterns
                    .iter()
                    .any(|pat| glob_match(pat, name.as_bytes(), true))
                    && !out.iter().any(|(n, _): &(String, String)| n == name)
                {
                    out.push((name.to_string(), self.render(p)));
                }
            }
        }
        out
    }

    fn render(&self, p: &ParamSpec) -> String {
        match p.kind {
            Kind::Str | Kind::Enum(_) | Kind::SavePoints | Kind::BufferLimits => {
                self.lock_strings()[p.id as usize].clone()
            }
            Kind::Int { .. } | Kind::Memory { .. } => self.int(p.id).to_string(),
            Kind::KeyspaceEvents => {
                crate::util::keyspace_events::flags_to_string(self.int(p.id) as u32)
            }
        }
    }

    fn store(&self, p: &ParamSpec, value: &str) -> Result<(), String> {
        let n = parse_value(p, value)?;
        self.numbers[p.id as usize].store(n, Ordering::Relaxed);
        if let Kind::BufferLimits = p.kind {
            for (class, values) in parse_buffer_limits(value)? {
                for (slot, v) in self.buffer_limits[class as usize].iter().zip(values) {
                    slot.store(v, Ordering::Relaxed);
                }
            }
            self.lock_strings()[p.id as usize] = self.render_buffer_limits();
            return Ok(());
        }
        if matches!(p.kind, Kind::Str | Kind::Enum(_) | Kind::SavePoints) {
            let text = match p.kind {
                Kind::Enum(_) => value.to_ascii_lowercase(),
                _ => value.to_string(),
            };
            self.lock_strings()[p.id as usize] = text;
        }
        Ok(())
    }
}

fn find(name: &str) -> Option<&'static ParamSpec> {
    PARAMS.iter().find(|p| {
        p.name.eq_ignore_ascii_case(name) || p.alias.is_some_and(|a| a.eq_ignore_ascii_case(name))
    })
}

/// `replicaof`'s value, `host port` (None: empty or malformed).
pub fn parse_replicaof(value: &str) -> Option<(String, u16)> {
    let mut words = value.split_whitespace();
    let (host, port) = (words.next()?, words.next()?);
    if words.next().is_some() {
        return None;
    }
    Some((host.to_string(), parse_port(port)?))
}

/// A TCP port as Redis reads one (REPLICAOF): decimal digits, no sign or
/// leading zero, 0 to 65535.
pub fn parse_port(text: &str) -> Option<u16> {
    let n = crate::util::numbers::parse_i64(text.as_bytes())?;
    u16::try_from(n).ok()
}

/// Validates a value; returns its numeric form (0 for strings).
fn parse_value(p: &ParamSpec, value: &str) -> Result<i64, String> {
    if p.id == Param::Replicaof && !value.is_empty() && parse_replicaof(value).is_none() {
        return Err("Invalid master host or port".into());
    }
    match p.kind {
        Kind::Str => Ok(0),
        Kind::KeyspaceEvents => crate::util::keyspace_events::parse_flags(value.as_bytes())
            .map(i64::from)
            .ok_or_else(|| crate::util::keyspace_events::INVALID_FLAGS.to_string()),
        Kind::BufferLimits => parse_buffer_limits(value).map(|_| 0),
        Kind::SavePoints => parse_save_points(value).map(|points| points.len() as i64),
        Kind::Enum(choices) => choices
            .iter()
            .position(|c| c.eq_ignore_ascii_case(value))
            .map(|i| i as i64)
            .ok_or_else(|| {
                // Redis's booleans have their own text.
                if choices.len() == 2 && choices.contains(&"yes") && choices.contains(&"no") {
                    return "argument must be 'yes' or 'no'".to_string();
                }
                "argument(s) must be one of the following: ".to_string() + &choices.join(", ")
            }),
        Kind::Int { min, max } => {
            let n: i64 = value
                .parse()
                .map_err(|_| "argument couldn't be parsed into an integer".to_string())?;
            check_range(n, min, max)
        }
        Kind::Memory { min, max } => {
            let n =
                parse_memory(value).ok_or_else(|| "argument must be a memory value".to_string())?;
            check_range(n, min, max)
        }
    }
}

/// `save`'s value: `<seconds> <changes>` pairs (seconds at least 1) one
/// space apart, or nothing; Redis's error otherwise.
pub fn parse_save_points(value: &str) -> Result<Vec<(u64, u64)>, String> {
    if value.is_empty() {
        return Ok(Vec::new());
    }
    let numbers: Vec<&str> = value.split(' ').collect();
    if !numbers.len().is_multiple_of(2) {
        return Err("Invalid save parameters".into());
    }
    numbers
        .chunks(2)
        .map(
            |pair| match (pair[0].parse::<u64>(), pair[1].parse::<u64>()) {
                (Ok(seconds), Ok(changes)) if seconds >= 1 => Ok((seconds, changes)),
                _ => Err("Invalid save parameters".into()),
            },
        )
        .collect()
}

fn check_range(n: i64, min: i64, max: i64) -> Result<i64, String> {
    if n < min || n > max {
        return Err(format!(
            "argument must be between {min} and {max} inclusive"
        ));
    }
    Ok(n)
}

/// Redis memory notation: `100`, `1k` (1000), `1kb` (1024), `mb`, `gb`.
pub fn parse_memory(s: &str) -> Option<i64> {
    let lower = s.to_ascii_lowercase();
    let units: [(&str, i64); 6] = [
        ("kb", 1024),
        ("mb", 1024 * 1024),
        ("gb", GB),
        ("k", 1000),
        ("m", 1000 * 1000),
        ("g", 1000 * 1000 * 1000),
    ];
    for (suffix, mul) in units {
        if let Some(num) = lower.strip_suffix(suffix) {
            return num.parse::<i64>().ok()?.checked_mul(mul);
        }
    }
    lower.parse().ok()
}

/// Reads a redis.conf-style file: `name value...` lines, `#` comments.
pub fn parse_config_file(text: &str) -> Result<Vec<(String, String)>, String> {
    let mut out = Vec::new();
    for (n, line) in text.lines().enumerate() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (name, value) = line.split_once(char::is_whitespace).unwrap_or((line, ""));
        let value = value.trim();
        let value = value
            .strip_prefix('"')
            .and_then(|v| v.strip_suffix('"'))
            .unwrap_or(value);
        if find(name).is_none() {
            return Err(format!("line {}: unknown directive '{name}'", n + 1));
        }
        out.push((name.to_ascii_lowercase(), value.to_string()));
    }
    Ok(out)
}

/// True when `name` is a parameter CONFIG knows (for `--name value` flags).
pub fn is_param(name: &str) -> bool {
    find(name).is_some()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn params_are_in_enum_order() {
        for (i, p) in PARAMS.iter().enumerate() {
            assert_eq!(p.id as usize, i, "{}", p.name);
        }
    }

    #[test]
    fn get_set_alias_and_errors() {
        let c = Config::default();
        assert_eq!(c.int(Param::BusyReplyThreshold), 5000);
        c.set_many(&[("lua-time-limit", "100")]).unwrap();
        assert_eq!(c.int(Param::BusyReplyThreshold), 100);
        let got = c.get_matching(&[b"lua-*", b"busy-*"]);
        assert!(got.contains(&("lua-time-limit".into(), "100".into())));
        assert!(got.contains(&("busy-reply-threshold".into(), "100".into())));
        assert!(c
            .set_many(&[("port", "1")])
            .unwrap_err()
            .contains("immutable"));
        assert!(c.set_many(&[("hz", "x")]).is_err());
        assert!(c.set_many(&[("hz", "20"), ("nope", "1")]).is_err());
        assert_eq!(c.int(Param::Hz), 10, "a failed CONFIG SET changes nothing");
        c.set_many(&[("proto-max-bulk-len", "2mb")]).unwrap();
        assert_eq!(c.int(Param::ProtoMaxBulkLen), 2 * 1024 * 1024);
    }

    #[test]
    fn config_file() {
        let parsed = parse_config_file("# c\nport 7000\nrequirepass \"s e\"\n").unwrap();
        assert_eq!(parsed[1], ("requirepass".into(), "s e".into()));
        assert!(parse_config_file("bogus 1").is_err());
    }
}
