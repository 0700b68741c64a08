//! `CONFIG SET appendonly yes|no` on a running node, as Redis 7 does it.
//!
//! - On: a rewrite with no old log. Each shard opens a log on a new empty
//!   incremental file and joins it to its write hook in the same step as
//!   it freezes its keyspace (`Core::start_log`), so every later write is
//!   logged and group commit holds replies as `appendfsync` says. The
//!   reply comes then; the bases (RDB files of the frozen views) are
//!   written on, and only the manifest naming bases plus new files, stored
//!   last, makes the log the node's: a crash before that restarts from
//!   what was there before (as Redis uses its AOF only once the first
//!   rewrite finished). A failure turns the log off again.
//! - Off: a rewrite running is cancelled, then each shard's log leaves
//!   the write hook, is written and synced, and closed
//!   (`Core::stop_log`). The files stay.
//!
//! Both hold the node's job slot (as a rewrite) while they switch, so
//! switches never overlap each other or a rewrite. A save running is
//! waited for (Redis schedules the rewrite after it and answers at once;
//! here the reply comes once the switch is made).

use std::path::PathBuf;
use std::rc::Rc;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::bases::{LogFiles, NewBases};
use super::{abort_captures, ask, spawn_low_priority};
use crate::aof::manifest::{self, Manifest};
use crate::config::Param;
use crate::node::Job;
use crate::shard::core::Core;
use crate::shard::mesh::Request;

/// How often a switch waiting for the job slot looks again.
const SLOT_POLL: std::time::Duration = std::time::Duration::from_millis(5);

/// Turns the log on (see the module): returns once every shard logs its
/// writes; the bases are written on.
pub async fn turn_on(core: Rc<Core>) -> Result<(), String> {
    claim_slot(&core, false).await;
    if core.node.config.string(Param::Appendonly) == "yes" {
        core.node.background.end();
        return Ok(());
    }
    core.node.aof.job.started();
    let job = match EnableJob::begin(&core).await {
        Ok(job) => job,
        Err(e) => {
            core.node.aof.job.finished(false);
            core.node.background.end();
            return Err(e);
        }
    };
    set_appendonly(&core, true);
    eprintln!("Background append only file rewriting started (appendonly turned on)");
    spawn_low_priority(&core.clone(), async move {
        job.run(&core).await;
    });
    Ok(())
}

/// Turns the log off (see the module): returns once every shard's log
/// is synced and closed.
pub async fn turn_off(core: Rc<Core>) -> Result<(), String> {
    claim_slot(&core, true).await;
    let result = stop_logs(&core).await;
    if result.is_ok() {
        set_appendonly(&core, false);
        core.node.aof.job.scheduled.store(false, Ordering::Relaxed);
    }
    core.node.background.end();
    result.map_err(|e| format!("ERR the append-only log cannot be turned off: {e}"))
}

/// Claims the node's job slot (as a rewrite), waiting for the job that
/// holds it; with `cancel`, a rewrite holding it is stopped first.
async fn claim_slot(core: &Core, cancel: bool) {
    let background = &core.node.background;
    loop {
        match background.try_start(Job::Rewrite) {
            Ok(()) => return,
            Err(Job::Rewrite) if cancel => background.cancel.store(true, Ordering::Relaxed),
            Err(_) => {}
        }
        glommio::timer::sleep(SLOT_POLL).await;
    }
}

fn set_appendonly(core: &Core, on: bool) {
    let value = if on { "yes" } else { "no" };
    if let Err(e) = core.node.config.set_initial("appendonly", value) {
        eprintln!("BUG: appendonly {value}: {e}");
    }
}

/// Closes every shard's log (the ones that have one); the first error.
async fn stop_logs(core: &Core) -> std::io::Result<()> {
    let mut result = Ok(());
    for shard in 0..core.node.shards() {
        let stopped = if shard == core.shard_id {
            core.stop_log().await
        } else {
            ask(core, shard, |reply| Request::LogStop { reply })
                .await
                .and_then(|answer| answer)
        };
        if let Err(e) = stopped {
            eprintln!("shard {shard}: the append-only log cannot be turned off: {e}");
            result = result.and(Err(e));
        }
    }
    result
}

/// Shard `shard`'s log starts on `incr`, here or on its core.
async fn start_log(core: &Core, shard: usize, incr: PathBuf) -> std::io::Result<Vec<Bytes>> {
    if shard == core.shard_id {
        return core.start_log(incr).await;
    }
    ask(core, shard, |reply| Request::LogStart { incr, reply })
        .await
        .and_then(|answer| answer)
}

/// Turning on under way: every shard logs to its new file and is frozen,
/// each base is being written.
struct EnableJob {
    bases: NewBases,
}

impl EnableJob {
    async fn begin(core: &Core) -> Result<EnableJob, String> {
        let fail = |e: &dyn std::fmt::Display| format!("ERR the append-only log cannot start: {e}");
        let files = LogFiles::configured(core);
        let shards = core.node.shards();
        std::fs::create_dir_all(&files.dir).map_err(|e| fail(&e))?;
        // Numbered past the files a former log left (they stay named by
        // its manifest until the new one replaces it).
        let former = match manifest::load(&files.dir, &files.manifest_name) {
            Ok(Some(m)) if m.shards == shards => m,
            _ => Manifest::new(shards),
        };
        let started = former.with_new_incr_files(&files.prefix);
        let incr = files
            .create_incr_files(&started)
            .await
            .map_err(|e| fail(&e))?;
        let mut functions = Vec::new();
        for (shard, path) in incr.into_iter().enumerate() {
            match start_log(core, shard, path).await {
                Ok(codes) if shard == 0 => functions = codes,
                Ok(_) => {}
                Err(e) => {
                    abort_captures(core, shard).await;
                    let _ = stop_logs(core).await;
                    return Err(fail(&e));
                }
            }
        }
        match NewBases::start(core, files, &started, functions).await {
            Ok(bases) => Ok(EnableJob { bases }),
            Err(e) => {
                let _ = stop_logs(core).await;
                Err(fail(&e))
            }
        }
    }

    /// Writes every base, then stores the manifest naming them and the new
    /// files (see [`NewBases::write`]); on failure the log goes off again.
    async fn run(self, core: &Core) {
        let result = self.bases.write(core).await;
        match &result {
            Ok(size) => {
                eprintln!("Background AOF rewrite finished successfully");
                core.node.aof.base_size.store(*size, Ordering::Relaxed);
            }
            Err(e) => {
                eprintln!("Background AOF rewrite failed: {e}; appendonly is off again");
                if let Err(e) = stop_logs(core).await {
                    eprintln!("the append-only log did not close cleanly: {e}");
                }
                set_appendonly(core, false);
            }
        }
        core.node.aof.job.finished(result.is_ok());
        core.node.background.end();
    }
}
