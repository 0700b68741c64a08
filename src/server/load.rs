//! Loading `dir`/`dbfilename` at start-up, before a core serves: each core
//! reads the file and keeps the keys of its own slots (so a file loads at
//! any shard count), and shard 0 loads the function libraries into the
//! node's registry. A file that does not read refuses the start, as Redis
//! refuses to start on a corrupt RDB file.

use std::path::Path;
use std::rc::Rc;

use bytes::Bytes;

use crate::aof::record;
use crate::aof::recovery::TornTail;
use crate::aof::{log_dir, manifest_name};
use crate::cmd::Call;
use crate::config::Param;
use crate::lua::functions;
use crate::protocol::Reply;
use crate::shard::core::Core;
use crate::shard::log::{self, ShardLog};

/// Loads the snapshot into `core`'s keyspace (and, on shard 0, the
/// functions); no file is an empty start.
pub fn load_snapshot(core: &Core) -> Result<(), String> {
    let config = &core.node.config;
    let path = config.rdb_path();
    load_rdb(core, &path, false)
}

/// Loads the RDB file at `path` into `core` (see [`load_snapshot`]); a
/// missing file is an empty start unless `required` (a log's base).
fn load_rdb(core: &Core, path: &Path, required: bool) -> Result<(), String> {
    let data = match std::fs::read(path) {
        Ok(data) => data,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound && !required => return Ok(()),
        Err(e) => return Err(format!("cannot read {}: {e}", path.display())),
    };
    let now_ms = crate::util::time::now_ms();
    let started = std::time::Instant::now();
    let loaded = {
        let mut state = core.state.borrow_mut();
        crate::rdb::snapshot::load_keyspace(&data, &mut state.keyspace, now_ms)
            .map_err(|e| format!("{}: {e}", path.display()))?
    };
    eprintln!(
        "shard {}: {} keys loaded from {} in {:.3} s ({} already expired, dropped)",
        core.shard_id,
        loaded.keys,
        path.display(),
        started.elapsed().as_secs_f64(),
        loaded.expired
    );
    if core.shard_id == 0 {
        for code in loaded.functions {
            functions::load_code(core, code.into())
                .map_err(|e| format!("{}: a function library: {e:?}", path.display()))?;
        }
    }
    Ok(())
}

/// With `appendonly yes`, before any shard starts: loads the manifest or
/// starts a fresh log (`glommio` files need an executor: `run` it on one).
pub async fn prepare_log(
    config: &crate::config::Config,
    shards: usize,
) -> Result<crate::aof::manifest::Manifest, String> {
    let dir = log_dir(config);
    let prefix = config.string(Param::Appendfilename);
    crate::aof::startup::prepare(&dir, &manifest_name(config), &prefix, shards)
        .await
        .map_err(|e| e.to_string())
}

/// Replays this shard's log into `core` through the normal command path,
/// the write hook not attached yet, then attaches the log: from now on
/// every change is appended.
pub async fn open_log(
    core: &Rc<Core>,
    manifest: &crate::aof::manifest::Manifest,
) -> Result<Rc<ShardLog>, String> {
    let config = &core.node.config;
    let tail = if config.string(Param::AofLoadTruncated) == "yes" {
        TornTail::Truncate
    } else {
        TornTail::Refuse
    };
    // The base (a rewrite's RDB file of the shard), then the records.
    if let Some(base) = manifest.base(core.shard_id) {
        load_rdb(core, &log_dir(config).join(&base.name), true)?;
    }
    let mut db = 0;
    let now_ms = crate::util::time::now_ms();
    let apply = |_lsn: u64, payload: &[u8]| {
        record::replay(payload, &mut db, |db, argv| {
            replay_command(core, db, argv, now_ms)
        })
    };
    let (writer, _) = crate::aof::startup::open_shard(
        &log_dir(config),
        manifest,
        core.shard_id,
        log::policy(&core.node),
        tail,
        apply,
    )
    .await
    .map_err(|e| e.to_string())?;
    let log = ShardLog::new(core.node.clone(), writer);
    // What automatic rewrites measure the log's growth against.
    let size = log.report().size;
    core.node
        .aof
        .base_size
        .fetch_add(size, std::sync::atomic::Ordering::Relaxed);
    let sink = core.state.borrow_mut().add_effect_sink(log.sink());
    if !core.log.set(log.clone(), sink) {
        core.state.borrow_mut().remove_effect_sink(sink);
        return Err("the append-only log was opened twice".into());
    }
    Ok(log)
}

fn replay_command(core: &Core, db: usize, argv: &[&[u8]], now_ms: u64) -> Result<(), String> {
    let Some(name) = argv.first() else {
        return Err("an empty command".into());
    };
    let unknown = || format!("unknown command '{}'", String::from_utf8_lossy(name));
    let argv: Vec<Bytes> = argv.iter().map(|a| Bytes::copy_from_slice(a)).collect();
    let cmd = crate::cmd::resolve(&argv).map_err(|_| unknown())?;
    if name.eq_ignore_ascii_case(b"function") {
        // A change of the function libraries (only in shard 0's log): it
        // succeeded when it ran, so it must succeed again.
        let reply = crate::cmd::functions::apply(core, &argv);
        return match reply {
            Reply::Error(e) => Err(format!(
                "a function library change failed: {}",
                one_line(&e)
            )),
            _ => Ok(()),
        };
    }
    let db = u8::try_from(db).map_err(|_| format!("database {db} out of range"))?;
    let Some(access) = core.gate.open() else {
        return Err("the shard is held during replay".into());
    };
    let call = Call {
        cmd,
        db,
        resp3: false,
        argv,
    };
    // A command that was refused when it ran was never logged; one that
    // fails now fails as it did then (the log holds what ran).
    core.execute(access, &call, now_ms);
    Ok(())
}

/// `text` on one line (a Lua error may span several).
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}
