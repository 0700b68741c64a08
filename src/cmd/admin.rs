//! Server administration (Redis's `server` group), run on the connection:
//! INFO CONFIG COMMAND TIME LASTSAVE SHUTDOWN DEBUG. (Named `admin`, not
//! `server`, so that it is never confused with [`crate::server`], the
//! listeners and connections.)

use std::fmt::Write as _;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::flags::*;
use super::{command, errors, is, Command, ConnCtx, ConnFuture, CoreAccess, Keys};
use crate::lua::status::{Kind, Phase, StatusReport};
use crate::node::ShardReport;
use crate::protocol::Reply;
use crate::util::glob::glob_match;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("info",     -1, LOADING | STALE | BUSY_OK)                                 .connection_waits(info),
    command("config",   -2, 0)                                                         .subcommands(CONFIG).container(),
    command("command",  -1, LOADING | STALE)                                           .subcommands(COMMAND).connection(command_all),
    command("time",     1,  LOADING | STALE | FAST)                                    .connection(time),
    command("shutdown", -1, ADMIN | NOSCRIPT | LOADING | STALE | NO_MULTI | ALLOW_BUSY).connection_waits(shutdown),
    command("debug",    -2, ADMIN | NOSCRIPT | LOADING | STALE)                        .connection_waits(debug),
    command("lastsave", 1,  LOADING | STALE | FAST)                                    .connection(lastsave),
];

/// CONFIG's subcommands.
#[rustfmt::skip]
const CONFIG: &[Command] = &[
    command("config|get",       -3, ADMIN | NOSCRIPT | LOADING | STALE).connection(config_get),
    command("config|set",       -4, ADMIN | NOSCRIPT | LOADING | STALE).connection_waits(config_set),
    command("config|resetstat", 2,  ADMIN | NOSCRIPT | LOADING | STALE).connection_waits(config_resetstat),
    command("config|rewrite",   2,  ADMIN | NOSCRIPT | LOADING | STALE).connection(config_rewrite),
    command("config|help",      2,  LOADING | STALE)                   .connection(config_help),
];

/// COMMAND's subcommands.
#[rustfmt::skip]
const COMMAND: &[Command] = &[
    command("command|count",   2,  LOADING | STALE).connection(command_count),
    command("command|docs",    -2, LOADING | STALE).connection(command_docs),
    command("command|getkeys", -4, LOADING | STALE).connection(command_getkeys),
    command("command|info",    -2, LOADING | STALE).connection(command_info),
    command("command|list",    -2, LOADING | STALE).connection(command_list),
];

fn time(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    time_reply()
}

/// LASTSAVE: the Unix time of the last successful SAVE (the start before).
fn lastsave(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    let at = ctx.core.node().rdb.last_save_unix.load(Ordering::Relaxed);
    Reply::Int(i64::try_from(at).unwrap_or(i64::MAX))
}

/// TIME: seconds and microseconds of the Unix time.
pub fn time_reply() -> Reply {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    Reply::Array(vec![
        Reply::bulk(now.as_secs().to_string().as_bytes()),
        Reply::bulk(now.subsec_micros().to_string().as_bytes()),
    ])
}

/// CONFIG RESETSTAT: zeroes the node's and every shard's counters.
async fn reset_stats(core: &dyn CoreAccess) -> Reply {
    core.reset_shard_stats().await;
    for status in &core.node().script_status {
        status.reset_counters();
    }
    let s = &core.node().stats;
    for counter in [&s.connections_received, &s.rejected_connections] {
        counter.store(0, Ordering::Relaxed);
    }
    Reply::ok()
}

fn info<'a>(ctx: &'a mut ConnCtx<'_>, argv: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(info_reply(ctx.core, argv))
}

async fn info_reply(core: &dyn CoreAccess, argv: &[Bytes]) -> Reply {
    let wanted: Vec<String> = argv[1..]
        .iter()
        .map(|a| String::from_utf8_lossy(a).to_ascii_lowercase())
        .collect();
    let show = |section: &str| {
        wanted.is_empty()
            || wanted.iter().any(|w| {
                w == section
                    || w == "all"
                    || w == "everything"
                    || (w == "default" && section != "commandstats")
            })
    };
    let snapshot = InfoSnapshot::take(core).await;
    let mut out = String::new();
    for (name, write_section) in INFO_SECTIONS {
        if show(name) {
            write_section(&snapshot, &mut out);
        }
    }
    if out.ends_with("\r\n\r\n") {
        out.truncate(out.len() - 2);
    }
    Reply::Verbatim("txt", Bytes::from(out))
}

/// What every INFO section is written from: one snapshot of the node.
struct InfoSnapshot<'a> {
    node: &'a crate::node::Node,
    reports: Vec<ShardReport>,
    /// Allocated bytes per allocator counter (one read of them all).
    per_thread: Vec<i64>,
    /// Each shard's share of `per_thread`, in `reports` order.
    shard_memory: Vec<i64>,
}

impl<'a> InfoSnapshot<'a> {
    async fn take(core: &'a dyn CoreAccess) -> InfoSnapshot<'a> {
        let reports = core.reports().await;
        // One snapshot of the allocator's counters: the shards' figures and
        // the rest of the process (start-up, helper threads) sum to
        // used_memory.
        let per_thread = crate::alloc::allocated_bytes_per_thread();
        let shard_memory = reports
            .iter()
            .map(|r| per_thread.get(r.memory_counter).copied().unwrap_or(0))
            .collect();
        InfoSnapshot {
            node: core.node(),
            reports,
            per_thread,
            shard_memory,
        }
    }
}

/// INFO's sections, in Redis's order, and what writes each.
type SectionWriter = fn(&InfoSnapshot<'_>, &mut String);
const INFO_SECTIONS: &[(&str, SectionWriter)] = &[
    ("server", server_section),
    ("clients", clients_section),
    ("memory", memory_section),
    ("persistence", persistence_section),
    ("stats", stats_section),
    ("replication", |s, out| {
        crate::replication::info::write_section(
            &s.node.replication,
            &s.node.master,
            &s.node.config,
            out,
        )
    }),
    ("shards", shards_section),
    ("scripting", |s, out| scripting_section(out, s.node)),
    ("keyspace", keyspace_section),
];

fn server_section(s: &InfoSnapshot<'_>, out: &mut String) {
    let node = s.node;
    let _ = write!(
        out,
        "# Server\r\nredis_version:{}\r\nshardis_version:{}\r\nredis_mode:standalone\r\nos:{}\r\narch_bits:64\r\nmultiplexing_api:io_uring\r\nprocess_id:{}\r\nrun_id:{}\r\ntcp_port:{}\r\nuptime_in_seconds:{}\r\nuptime_in_days:{}\r\nhz:{}\r\nexecutable:{}\r\n\r\n",
        crate::REDIS_VERSION,
        env!("CARGO_PKG_VERSION"),
        std::env::consts::OS,
        std::process::id(),
        node.run_id,
        node.config.int(crate::config::Param::Port),
        node.started.elapsed().as_secs(),
        node.started.elapsed().as_secs() / 86400,
        node.config.int(crate::config::Param::Hz),
        std::env::current_exe().map(|p| p.display().to_string()).unwrap_or_default(),
    );
}

fn clients_section(s: &InfoSnapshot<'_>, out: &mut String) {
    let _ = write!(
        out,
        "# Clients\r\nconnected_clients:{}\r\nmaxclients:{}\r\nblocked_clients:0\r\n\r\n",
        s.node.client_count(),
        s.node.config.int(crate::config::Param::Maxclients)
    );
}

fn memory_section(s: &InfoSnapshot<'_>, out: &mut String) {
    let used: i64 = s.per_thread.iter().sum();
    let other = used - s.shard_memory.iter().sum::<i64>();
    let rss = crate::alloc::rss_bytes();
    let _ = write!(
        out,
        "# Memory\r\nused_memory:{used}\r\nused_memory_human:{}\r\nused_memory_rss:{rss}\r\nused_memory_rss_human:{}\r\nmaxmemory:0\r\nmaxmemory_policy:noeviction\r\nmem_allocator:libc\r\n",
        human(used as u64),
        human(rss),
    );
    for (r, bytes) in s.reports.iter().zip(&s.shard_memory) {
        let _ = write!(out, "used_memory_shard_{}:{bytes}\r\n", r.id);
    }
    let _ = write!(out, "used_memory_other:{other}\r\n\r\n");
}

fn stats_section(s: &InfoSnapshot<'_>, out: &mut String) {
    let reports = &s.reports;
    let commands: u64 = reports.iter().map(|r| r.stats.commands).sum();
    let hits: u64 = reports.iter().map(|r| r.stats.keyspace_hits).sum();
    let misses: u64 = reports.iter().map(|r| r.stats.keyspace_misses).sum();
    let expired: u64 = reports.iter().map(|r| r.stats.expired_keys).sum();
    let stats = &s.node.stats;
    let _ = write!(
        out,
        "# Stats\r\ntotal_connections_received:{}\r\ntotal_commands_processed:{commands}\r\ntotal_net_input_bytes:{}\r\ntotal_net_output_bytes:{}\r\nrejected_connections:{}\r\nsync_full:{}\r\nsync_partial_ok:{}\r\nsync_partial_err:{}\r\nexpired_keys:{expired}\r\nkeyspace_hits:{hits}\r\nkeyspace_misses:{misses}\r\npubsub_channels:{}\r\npubsub_patterns:{}\r\npubsubshard_channels:{}\r\n\r\n",
        stats.connections_received.load(Ordering::Relaxed),
        reports.iter().map(|r| r.stats.net_input_bytes).sum::<u64>(),
        reports.iter().map(|r| r.stats.net_output_bytes).sum::<u64>(),
        stats.rejected_connections.load(Ordering::Relaxed),
        s.node.master.sync_full.load(Ordering::Relaxed),
        s.node.master.sync_partial_ok.load(Ordering::Relaxed),
        s.node.master.sync_partial_err.load(Ordering::Relaxed),
        s.node.pubsub.name_count(crate::node::subscriptions::Kind::Channel),
        s.node.pubsub.name_count(crate::node::subscriptions::Kind::Pattern),
        s.node.pubsub.name_count(crate::node::subscriptions::Kind::Shard),
    );
}

/// INFO's `# Persistence`: the RDB snapshots, the append-only log's part
/// (no rewrite yet), then each shard's log.
fn persistence_section(s: &InfoSnapshot<'_>, out: &mut String) {
    let rdb = &s.node.rdb;
    let aof = &s.node.aof;
    let saving = s.node.background.is_running(crate::node::Job::Save);
    let rewriting = s.node.background.is_running(crate::node::Job::Rewrite);
    let status = |job: &crate::node::JobStatus| {
        if job.last_failed.load(Ordering::Relaxed) {
            "err"
        } else {
            "ok"
        }
    };
    let changes: u64 = s.reports.iter().map(|r| r.changes).sum();
    let since_save = changes.saturating_sub(rdb.changes_at_last_save.load(Ordering::Relaxed));
    let _ = write!(
        out,
        "# Persistence\r\nloading:0\r\nasync_loading:0\r\nrdb_changes_since_last_save:{since_save}\r\nrdb_bgsave_in_progress:{}\r\nrdb_last_save_time:{}\r\nrdb_last_bgsave_status:{}\r\nrdb_last_bgsave_time_sec:{}\r\nrdb_current_bgsave_time_sec:{}\r\nrdb_saves:{}\r\n",
        u8::from(saving),
        rdb.last_save_unix.load(Ordering::Relaxed),
        status(&rdb.job),
        rdb.job.last_duration(),
        rdb.job.current_duration_sec(saving),
        rdb.job.done.load(Ordering::Relaxed),
    );
    let logs: Vec<_> = s.reports.iter().filter_map(|r| r.log.as_ref()).collect();
    let ok = logs.iter().all(|l| l.ok);
    let _ = write!(
        out,
        "aof_enabled:{}\r\naof_rewrite_in_progress:{}\r\naof_rewrite_scheduled:{}\r\naof_last_rewrite_time_sec:{}\r\naof_current_rewrite_time_sec:{}\r\naof_last_bgrewrite_status:{}\r\naof_rewrites:{}\r\naof_last_write_status:{}\r\n",
        u8::from(!logs.is_empty()),
        u8::from(rewriting),
        u8::from(aof.job.scheduled.load(Ordering::Relaxed)),
        aof.job.last_duration(),
        aof.job.current_duration_sec(rewriting),
        status(&aof.job),
        aof.job.done.load(Ordering::Relaxed),
        if ok { "ok" } else { "err" },
    );
    if !logs.is_empty() {
        let _ = write!(
            out,
            "aof_current_size:{}\r\naof_base_size:{}\r\naof_buffer_length:{}\r\n",
            logs.iter().map(|l| l.size).sum::<u64>(),
            aof.base_size.load(Ordering::Relaxed),
            logs.iter().map(|l| l.pending_bytes).sum::<usize>(),
        );
    }
    for r in &s.reports {
        if let Some(l) = &r.log {
            let _ = write!(
                out,
                "aof_shard{}:size={},durable_lsn={},pending_bytes={},status={}\r\n",
                r.id,
                l.size,
                l.durable_lsn,
                l.pending_bytes,
                if l.ok { "ok" } else { "err" },
            );
        }
    }
    out.push_str("\r\n");
}

fn shards_section(s: &InfoSnapshot<'_>, out: &mut String) {
    let shards = s.reports.len();
    let _ = write!(out, "# Shards\r\nshards:{shards}\r\n");
    for (r, used_memory) in s.reports.iter().zip(&s.shard_memory) {
        let keys: usize = r.keyspace.iter().map(|(k, _)| k).sum();
        let slots = crate::util::slot::slot_range(r.id, shards);
        let _ = write!(
            out,
            "shard{}:core={},slots={}-{},keys={keys},ops={},forwarded_in={},used_memory={},state={}\r\n",
            r.id,
            r.core,
            slots.start,
            slots.end - 1,
            r.stats.commands,
            r.stats.forwarded_in,
            used_memory,
            phase_name(s.node.script_status[r.id].phase()),
        );
    }
    out.push_str("\r\n");
}

fn keyspace_section(s: &InfoSnapshot<'_>, out: &mut String) {
    out.push_str("# Keyspace\r\n");
    for db in 0..crate::config::DATABASES {
        let keys: usize = s.reports.iter().map(|r| r.keyspace[db].0).sum();
        let expires: usize = s.reports.iter().map(|r| r.keyspace[db].1).sum();
        if keys > 0 {
            let _ = write!(out, "db{db}:keys={keys},expires={expires},avg_ttl=0\r\n");
        }
    }
    out.push_str("\r\n");
}

/// INFO's `# Scripting`: node totals, then each shard's script.
fn scripting_section(out: &mut String, node: &crate::node::Node) {
    let now = crate::util::time::now_ms();
    let all: Vec<StatusReport> = node.script_status.iter().map(|s| s.report(now)).collect();
    let _ = write!(
        out,
        "# Scripting\r\nbusy_shards:{}\r\nslow_scripts:{}\r\nkilled_scripts:{}\r\nbusy_replies:{}\r\n",
        all.iter().filter(|r| r.phase == Phase::Busy).count(),
        all.iter().map(|r| r.slow_scripts).sum::<u64>(),
        all.iter().map(|r| r.killed_scripts).sum::<u64>(),
        all.iter().map(|r| r.busy_replies).sum::<u64>(),
    );
    for (shard, r) in all.iter().enumerate() {
        let _ = write!(
            out,
            "shard{shard}:state={},kind={},name={},elapsed_ms={},wrote={},slow_scripts={},killed_scripts={},busy_replies={}\r\n",
            phase_name(r.phase),
            kind_name(r.kind),
            r.name,
            r.elapsed_ms,
            r.wrote as u8,
            r.slow_scripts,
            r.killed_scripts,
            r.busy_replies,
        );
    }
    out.push_str("\r\n");
}

pub fn phase_name(phase: Phase) -> &'static str {
    match phase {
        Phase::Idle => "idle",
        Phase::Running => "running",
        Phase::Busy => "busy",
    }
}

pub fn kind_name(kind: Option<Kind>) -> &'static str {
    match kind {
        Some(Kind::Eval) => "eval",
        Some(Kind::Function) => "function",
        None => "",
    }
}

fn human(bytes: u64) -> String {
    let b = bytes as f64;
    match bytes {
        0..1024 => format!("{bytes}B"),
        1024..1_048_576 => format!("{:.2}K", b / 1024.0),
        1_048_576..1_073_741_824 => format!("{:.2}M", b / 1_048_576.0),
        _ => format!("{:.2}G", b / 1_073_741_824.0),
    }
}

fn config_get(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let patterns: Vec<&[u8]> = argv[2..].iter().map(|a| &a[..]).collect();
    let pairs = ctx.core.node().config.get_matching(&patterns);
    Reply::Map(
        pairs
            .into_iter()
            .map(|(k, v)| (Reply::bulk(k.as_bytes()), Reply::bulk(v.as_bytes())))
            .collect(),
    )
}

/// CONFIG SET name value [name value ...]: all or nothing. A change of
/// `appendonly` turns the log on or off first (see
/// `shard::background::switch`); if that fails nothing is set.
fn config_set<'a>(ctx: &'a mut ConnCtx<'_>, argv: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(async move {
        // A name without its value, as Redis answers it.
        if !argv.len().is_multiple_of(2) {
            return Reply::error(errors::SYNTAX);
        }
        let texts: Vec<String> = argv[2..]
            .iter()
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        let pairs: Vec<(&str, &str)> = texts
            .chunks(2)
            .map(|p| (p[0].as_str(), p[1].as_str()))
            .collect();
        let config = &ctx.core.node().config;
        let local = is_loopback(&ctx.session.client.addr);
        if let Some(refused) = config.protected_refused(&pairs, local) {
            return Reply::error(refused);
        }
        match config.appendonly_change(&pairs) {
            Ok(None) => {}
            Ok(Some(on)) => {
                if let Err(e) = ctx.core.set_appendonly(on).await {
                    return Reply::error(e);
                }
            }
            Err(e) => return Reply::error(e),
        }
        match config.set_many(&pairs) {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::error(e),
        }
    })
}

fn config_resetstat<'a>(ctx: &'a mut ConnCtx<'_>, _: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(reset_stats(ctx.core))
}

fn config_rewrite(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::error("ERR The server is running without a config file")
}

fn config_help(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Array(
        [
            "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "GET <pattern>",
            "SET <directive> <value>",
            "RESETSTAT",
        ]
        .iter()
        .map(|l| Reply::Status((*l).into()))
        .collect(),
    )
}

/// COMMAND's description of one command (Redis 7 shape, 10 fields; a
/// container's subcommands, described the same way, are the tenth).
fn describe(c: &Command) -> Reply {
    let (first, last, step) = match c.keys {
        Keys::None => (0, 0, 0),
        Keys::Range { first, last, step } => (first as i64, last as i64, step as i64),
        Keys::Numkeys { .. } => (0, 0, 0),
    };
    let flag_names = super::flags::NAMES
        .iter()
        .filter(|(f, _)| c.flags & f != 0)
        .map(|(_, n)| Reply::Status((*n).into()))
        .collect();
    Reply::Array(vec![
        Reply::bulk(c.name.as_bytes()),
        Reply::Int(c.arity as i64),
        Reply::Set(flag_names),
        Reply::Int(first),
        Reply::Int(last),
        Reply::Int(step),
        Reply::Set(Vec::new()),
        Reply::Set(Vec::new()),
        Reply::Array(Vec::new()),
        // As Redis: a container's subcommands, an empty set for others.
        match c.subcommands {
            [] => Reply::Set(Vec::new()),
            subcommands => Reply::Array(subcommands.iter().map(describe).collect()),
        },
    ])
}

/// COMMAND DOCS' entry for one command: redis-cli only needs a well-formed
/// map, so it is empty but for a container's `subcommands`, as in Redis.
fn docs(c: &Command) -> Reply {
    if c.subcommands.is_empty() {
        return Reply::Map(Vec::new());
    }
    let subcommands = c
        .subcommands
        .iter()
        .map(|s| (Reply::bulk(s.name.as_bytes()), docs(s)))
        .collect();
    Reply::Map(vec![(Reply::bulk(b"subcommands"), Reply::Map(subcommands))])
}

/// COMMAND alone: every command described.
fn command_all(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Array(super::all().map(describe).collect())
}

/// COMMAND COUNT: the commands, not counting subcommands (as Redis).
fn command_count(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Int(super::all().count() as i64)
}

/// COMMAND INFO [name ...]: a name may be a subcommand's (`client|kill`).
fn command_info(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    if argv.len() == 2 {
        return command_all(ctx, argv);
    }
    Reply::Array(
        argv[2..]
            .iter()
            .map(|n| super::lookup_full_name(n).map_or(Reply::Nil, describe))
            .collect(),
    )
}

/// COMMAND DOCS [name ...]: unknown names are left out.
fn command_docs(_: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let described: Vec<&Command> = if argv.len() == 2 {
        super::all().collect()
    } else {
        argv[2..]
            .iter()
            .filter_map(|n| super::lookup_full_name(n))
            .collect()
    };
    Reply::Map(
        described
            .into_iter()
            .map(|c| (Reply::bulk(c.name.as_bytes()), docs(c)))
            .collect(),
    )
}

/// COMMAND LIST [FILTERBY MODULE name | PATTERN pattern]: every command
/// and subcommand name. (shardis has no modules, and no ACL categories to
/// filter by.)
fn command_list(_: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let pattern = match argv {
        [_, _] => None,
        [_, _, filterby, kind, value] if is(filterby, "filterby") => {
            if is(kind, "pattern") {
                Some(value)
            } else if is(kind, "module") {
                return Reply::Array(Vec::new());
            } else if is(kind, "aclcat") {
                return Reply::error("ERR shardis has no ACL categories to filter by");
            } else {
                return Reply::error(errors::SYNTAX);
            }
        }
        _ => return Reply::error(errors::SYNTAX),
    };
    Reply::Array(
        super::all_with_subcommands()
            .filter(|c| pattern.is_none_or(|p| glob_match(p, c.name.as_bytes(), true)))
            .map(|c| Reply::bulk(c.name.as_bytes()))
            .collect(),
    )
}

/// COMMAND GETKEYS command [arg ...]: where the command's keys are.
fn command_getkeys(_: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let args = &argv[2..];
    // Redis's order: the command, whether it has keys at all, its arity.
    let (c, arity_ok) = match super::resolve(args) {
        Ok(c) => (c, true),
        Err(super::Unresolved::Arity(c)) => (c, false),
        Err(_) => return Reply::error("ERR Invalid command specified"),
    };
    if c.keys == Keys::None {
        return Reply::error("ERR The command has no key arguments");
    }
    if !arity_ok {
        return Reply::error("ERR Invalid number of arguments specified for command");
    }
    let keys = c.key_indices(args);
    if keys.is_empty() {
        return Reply::error("ERR The command has no key arguments");
    }
    Reply::Array(
        keys.into_iter()
            .map(|i| Reply::Bulk(args[i].clone()))
            .collect(),
    )
}

/// SHUTDOWN [NOSAVE | SAVE] [NOW] [FORCE] [ABORT]. `SAVE` writes the RDB
/// file first (as SAVE does) and, if that fails, does not shut down
/// (unless `FORCE`). Without `SAVE`, nothing is saved: there are no save
/// points yet.
fn shutdown<'a>(ctx: &'a mut ConnCtx<'_>, argv: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(async move {
        let core = ctx.core;
        // As in Redis, only SHUTDOWN NOSAVE goes ahead while a script is
        // busy (here: on any shard).
        if !argv[1..].iter().any(|a| is(a, "nosave")) {
            if let Some(busy) = core.node().script_status.iter().find(|s| s.is_busy()) {
                return Reply::error(busy.busy_reply());
            }
        }
        let (mut save, mut nosave, mut force) = (false, false, false);
        for a in &argv[1..] {
            if is(a, "abort") {
                return Reply::error("ERR No shutdown in progress.");
            }
            if is(a, "save") {
                save = true;
            } else if is(a, "nosave") {
                nosave = true;
            } else if is(a, "force") {
                force = true;
            } else if !is(a, "now") {
                return Reply::error(errors::SYNTAX);
            }
        }
        if save && nosave {
            return Reply::error(errors::SYNTAX);
        }
        // As Redis: with save points, a plain SHUTDOWN saves too.
        save |= !nosave && !core.node().config.save_points().is_empty();
        if save {
            if let Err(e) = super::persistence::save_for_shutdown(core).await {
                eprintln!("Error trying to save the DB, can't exit: {e}");
                if !force {
                    return Reply::error("ERR Errors trying to SHUTDOWN. Check logs.");
                }
            }
        }
        eprintln!("User requested shutdown...");
        core.node().begin_shutdown();
        // Like Redis, a successful SHUTDOWN closes the connection without a
        // reply; the caller sees the connection close.
        ctx.session.quit = true;
        Reply::NoReply
    })
}

/// `enable-debug-command` values (the enum's indexes in the config).
const DEBUG_COMMAND_YES: i64 = 1;
const DEBUG_COMMAND_LOCAL: i64 = 2;

/// Redis's refusal of `DEBUG` unless `enable-debug-command` allows it (for
/// every client with `yes`, for loopback clients with `local`).
fn debug_refused(ctx: &ConnCtx) -> Option<Reply> {
    let core = ctx.core;
    let allowed = match core
        .node()
        .config
        .int(crate::config::Param::EnableDebugCommand)
    {
        DEBUG_COMMAND_YES => true,
        DEBUG_COMMAND_LOCAL => is_loopback(&ctx.session.client.addr),
        _ => false,
    };
    (!allowed).then(|| {
        Reply::error(
            "ERR DEBUG command not allowed. If the enable-debug-command option is set to \"local\", \
             you can run it from a local connection, otherwise you need to set this option in the \
             configuration file, and then restart the server.",
        )
    })
}

/// Whether a peer address (`ip:port`) is on the loopback interface.
fn is_loopback(addr: &str) -> bool {
    addr.rsplit_once(':')
        .and_then(|(ip, _)| ip.trim_matches(['[', ']']).parse::<std::net::IpAddr>().ok())
        .is_some_and(|ip| ip.to_canonical().is_loopback())
}

/// DEBUG RELOAD [NOSAVE]: saves the RDB file (unless NOSAVE), then every
/// shard loads it back in place of its keys (tests: what a restart from
/// the file would hold).
async fn debug_reload(core: &dyn CoreAccess, save: bool) -> Reply {
    if save {
        if let Err(e) = super::persistence::save_now(core).await {
            eprintln!("DEBUG RELOAD: {e}");
            return Reply::error("ERR Error trying to save the RDB dump");
        }
    }
    match core.reload_rdb().await {
        Ok(()) => {
            eprintln!("DB reloaded by DEBUG RELOAD");
            Reply::ok()
        }
        Err(e) => {
            eprintln!("DEBUG RELOAD: {e}");
            Reply::error("ERR Error trying to load the RDB dump, check server logs.")
        }
    }
}

/// The longest `DEBUG SLEEP`.
const DEBUG_SLEEP_MAX_SECS: f64 = 3600.0;

fn debug<'a>(ctx: &'a mut ConnCtx<'_>, argv: &'a [Bytes]) -> ConnFuture<'a> {
    let refused = debug_refused(ctx);
    Box::pin(async move {
        match refused {
            Some(refused) => refused,
            None => debug_subcommand(ctx.core, argv).await,
        }
    })
}

async fn debug_subcommand(core: &dyn CoreAccess, argv: &[Bytes]) -> Reply {
    if is(&argv[1], "reload") {
        return match &argv[2..] {
            [] => debug_reload(core, true).await,
            [nosave] if is(nosave, "nosave") => debug_reload(core, false).await,
            _ => Reply::error(errors::SYNTAX),
        };
    }
    if is(&argv[1], "sleep") && argv.len() == 3 {
        let Some(secs) = crate::util::numbers::parse_f64(&argv[2]) else {
            return Reply::error(errors::NOT_FLOAT);
        };
        // NaN (never a duration) sleeps not at all; inf, an hour.
        let secs = if secs.is_nan() {
            0.0
        } else {
            secs.clamp(0.0, DEBUG_SLEEP_MAX_SECS)
        };
        glommio::timer::sleep(std::time::Duration::from_secs_f64(secs)).await;
        return Reply::ok();
    }
    Reply::error(errors::unknown_subcommand(&argv[1], "debug"))
}
