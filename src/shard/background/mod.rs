//! The node's background jobs, run from the core that starts them: an
//! RDB save (SAVE, BGSAVE, save points) and a rewrite of the append-only
//! log (BGREWRITEAOF). No fork and no stop: both stand on each shard's
//! point-in-time view of its keyspace (`rdb::snapshot::Capture`), taken
//! once no script or EXEC holds the shard and handed out in chunks while
//! the shard keeps serving; threads write the files ([`file`]).
//!
//! - A save: every shard's chunks, round robin, into one RDB file,
//!   `dir`/`dbfilename`. Each shard is frozen at its own moment, within
//!   one round of requests; a script's writes are all in or all out.
//! - A rewrite: the manifest first names a new incremental file per
//!   shard; each shard moves its log there in the same step as it freezes
//!   (`Core::begin_rewrite`), so its new base (an RDB file of its view)
//!   plus the new file is its whole log; once every base is in place the
//!   manifest names only those, and the old files go ([`bases`]). A crash
//!   at any point leaves a manifest whose files replay to everything
//!   acknowledged.
//! - Turning the log on or off at run time ([`switch`]): on is a rewrite
//!   without an old log.
//!
//! The caller claims the node's one job slot (`node::Background`) first;
//! the job frees it when it ends.

mod bases;
mod file;
pub mod switch;
pub mod sync;

use std::path::PathBuf;
use std::rc::Rc;

use bytes::Bytes;

use super::core::Core;
use super::mesh::Request;
use crate::aof::manifest::{self, Manifest};
use crate::cmd::CoreAccess;
use crate::config::Param;
use crate::lua::ScriptHost;
use crate::rdb::snapshot::CaptureStep;
use bases::{LogFiles, NewBases};
use file::RdbFile;

/// A job's pause after each chunk, as a multiple of the time the chunk
/// took: the job uses at most a third of a core while it runs, and the
/// connections the rest (a 1M-key save takes about a second).
const PAUSE_PER_CHUNK_TIME: u32 = 2;

/// The shortest pause: long enough that the executor polls for the
/// connections' input before the job runs again.
const MIN_PAUSE: std::time::Duration = std::time::Duration::from_micros(50);

/// Starts a save (see the module): returns once every shard is frozen
/// and the job runs on (`wait` false, BGSAVE), or once the file is in
/// place (SAVE). `Err`: the error reply's text.
pub async fn save(core: Rc<Core>, wait: bool) -> Result<(), String> {
    let job = match SaveJob::begin(&core).await {
        Ok(job) => job,
        Err(e) => {
            core.node.background.end();
            return Err(e);
        }
    };
    core.node.rdb.job.started();
    eprintln!("Background saving started");
    if wait {
        return job
            .run(&core)
            .await
            .map_err(|e| format!("ERR saving the RDB file failed: {e}"));
    }
    spawn_low_priority(&core.clone(), async move {
        let _ = job.run(&core).await;
    });
    Ok(())
}

/// Starts a rewrite of the log (see the module): returns once every shard
/// has moved to its new file and is frozen; the bases are written on.
pub async fn rewrite(core: Rc<Core>) -> Result<(), String> {
    let job = match RewriteJob::begin(&core).await {
        Ok(job) => job,
        Err(e) => {
            core.node.background.end();
            return Err(e);
        }
    };
    core.node.aof.job.started();
    eprintln!("Background append only file rewriting started");
    spawn_low_priority(&core.clone(), async move {
        let _ = job.run(&core).await;
    });
    Ok(())
}

/// Runs a job in the core's low-priority queue (the scripts' queue): the
/// connections' queue comes first whenever the job yields.
/// (Spawning fails only for a queue that does not exist; the job's views
/// are then replaced by the next job's, see `Core::capture`.)
fn spawn_low_priority(core: &Core, job: impl std::future::Future<Output = ()> + 'static) {
    match glommio::spawn_local_into(job, core.script_queue) {
        Ok(task) => drop(task.detach()),
        Err(e) => {
            eprintln!("BUG: cannot start a background job: {e}");
            core.node.background.end();
        }
    }
}

/// DEBUG RELOAD's second half: every shard's keyspace becomes the RDB
/// file's (`dir`/`dbfilename`, just saved by the caller).
pub async fn reload(core: &Core) -> Result<(), String> {
    let config = &core.node.config;
    let path = config.rdb_path();
    for shard in 0..core.node.shards() {
        if shard == core.shard_id {
            core.reload_rdb(path.clone()).await?;
        } else {
            let path = path.clone();
            ask(core, shard, |reply| Request::Reload { path, reply })
                .await
                .map_err(|e| e.to_string())??;
        }
    }
    Ok(())
}

/// A save under way: every shard frozen, the file's thread started.
struct SaveJob {
    shards: usize,
    /// Shard changes when the shards were frozen.
    changes_at_start: u64,
    file: RdbFile,
}

impl SaveJob {
    async fn begin(core: &Core) -> Result<SaveJob, String> {
        let node = &core.node;
        let shards = node.shards();
        let changes_at_start = core.reports().await.iter().map(|r| r.changes).sum();
        let now_ms = crate::util::time::now_ms();
        for shard in 0..shards {
            if let Err(e) = capture(core, shard, CaptureStep::Begin { now_ms }).await {
                abort_captures(core, shard).await;
                return Err(format!("ERR {e}"));
            }
        }
        let config = &node.config;
        let path = config.rdb_path();
        match RdbFile::start(
            path,
            core.functions().codes(),
            checksum(core),
            core.node.cores.clone(),
        ) {
            Ok(file) => Ok(SaveJob {
                shards,
                changes_at_start,
                file,
            }),
            Err(e) => {
                abort_captures(core, shards).await;
                Err(format!("ERR cannot start the save: {e}"))
            }
        }
    }

    /// Moves every chunk to the file and waits until it is in place; the
    /// outcome is the node's last save status (INFO, LASTSAVE).
    async fn run(mut self, core: &Core) -> std::io::Result<()> {
        let result = match pump(core, std::slice::from_mut(&mut self.file)).await {
            Ok(()) => self.file.finish().await.map(drop),
            Err(e) => {
                abort_captures(core, self.shards).await;
                Err(self.file.abandon(e).await)
            }
        };
        match &result {
            Ok(()) => eprintln!("DB saved on disk"),
            Err(e) => eprintln!("Background saving error: {e}"),
        }
        core.node.rdb.finish(result.is_ok(), self.changes_at_start);
        core.node.background.end();
        result
    }
}

/// A rewrite under way: the manifest names the new incremental files,
/// every shard writes to its own and is frozen, each base is being
/// written.
struct RewriteJob {
    bases: NewBases,
}

impl RewriteJob {
    async fn begin(core: &Core) -> Result<RewriteJob, String> {
        let fail = |e: &dyn std::fmt::Display| format!("ERR the log rewrite cannot start: {e}");
        let files = LogFiles::configured(core);
        let current = match manifest::load(&files.dir, &files.manifest_name) {
            Ok(Some(m)) if m.shards == core.node.shards() || core.log.is_on() => m,
            // The log is off and of another shard count, or there is none
            // yet: the rewrite writes one from scratch, as Redis writes a
            // log with `appendonly no` (the old files are removed once
            // the new manifest is stored).
            Ok(_) if !core.log.is_on() => {
                std::fs::create_dir_all(&files.dir).map_err(|e| fail(&e))?;
                Manifest::new(core.node.shards())
            }
            Ok(_) => return Err(fail(&"no manifest of this shard count")),
            Err(e) => return Err(fail(&e)),
        };
        let started = current.with_new_incr_files(&files.prefix);
        let incr = files
            .create_incr_files(&started)
            .await
            .map_err(|e| fail(&e))?;
        manifest::store(&files.dir, &files.manifest_name, &started)
            .await
            .map_err(|e| fail(&e))?;
        let mut functions = Vec::new();
        for (shard, path) in incr.into_iter().enumerate() {
            match begin_rewrite(core, shard, path).await {
                Ok(codes) if shard == 0 => functions = codes,
                Ok(_) => {}
                Err(e) => {
                    abort_captures(core, shard).await;
                    return Err(fail(&e));
                }
            }
        }
        let bases = NewBases::start(core, files, &started, functions)
            .await
            .map_err(|e| fail(&e))?;
        Ok(RewriteJob { bases })
    }

    /// Writes every base and switches the manifest to them (see
    /// [`NewBases::write`]); its outcome is the node's last rewrite
    /// status.
    async fn run(self, core: &Core) -> std::io::Result<()> {
        let result = self.bases.write(core).await;
        match &result {
            Ok(size) => {
                eprintln!("Background AOF rewrite finished successfully");
                core.node
                    .aof
                    .base_size
                    .store(*size, std::sync::atomic::Ordering::Relaxed);
            }
            Err(e) => eprintln!("Background AOF rewrite failed: {e}"),
        }
        core.node.aof.job.finished(result.is_ok());
        core.node.background.end();
        result.map(drop)
    }
}

/// Where a job's chunks go.
trait Chunks {
    /// Takes shard `shard`'s next chunk, waiting while it cannot.
    async fn put(&mut self, shard: usize, chunk: Vec<u8>) -> std::io::Result<()>;
}

/// One file for every shard's chunks, or one file per shard.
impl Chunks for [RdbFile] {
    async fn put(&mut self, shard: usize, chunk: Vec<u8>) -> std::io::Result<()> {
        let target = if self.len() == 1 { 0 } else { shard };
        self[target].send(chunk).await
    }
}

/// Moves every shard's chunks to `out`, round robin, until every view is
/// complete or the job is cancelled.
async fn pump(core: &Core, out: &mut (impl Chunks + ?Sized)) -> std::io::Result<()> {
    let mut active: Vec<usize> = (0..core.node.shards()).collect();
    let mut progress = Progress::default();
    while !active.is_empty() {
        if core.node.background.is_cancelled() {
            return Err(std::io::Error::other("cancelled"));
        }
        let mut i = 0;
        while i < active.len() {
            let shard = active[i];
            let started = std::time::Instant::now();
            match capture(core, shard, CaptureStep::Next).await? {
                Some(chunk) => {
                    let took = started.elapsed();
                    progress.add(chunk.len());
                    out.put(shard, chunk).await?;
                    i += 1;
                    // Making the chunk took a core's time: the connections
                    // go next. A yield would not do: the executor looks for
                    // their input only once no queue is runnable (or at its
                    // preemption timer), so the job parks.
                    glommio::timer::sleep((took * PAUSE_PER_CHUNK_TIME).max(MIN_PAUSE)).await;
                }
                None => {
                    active.remove(i);
                }
            }
        }
    }
    Ok(())
}

/// How far a long job has got, in the server log every few seconds (a
/// save of many gigabytes takes a while).
struct Progress {
    bytes: u64,
    last: std::time::Instant,
}

impl Default for Progress {
    fn default() -> Progress {
        Progress {
            bytes: 0,
            last: std::time::Instant::now(),
        }
    }
}

impl Progress {
    const EVERY: std::time::Duration = std::time::Duration::from_secs(5);

    fn add(&mut self, bytes: usize) {
        self.bytes += bytes as u64;
        if self.last.elapsed() >= Self::EVERY {
            self.last = std::time::Instant::now();
            eprintln!(
                "Background job: {} MB of records written so far",
                self.bytes >> 20
            );
        }
    }
}

/// Stops the views of shards `0..begun`.
async fn abort_captures(core: &Core, begun: usize) {
    for shard in 0..begun {
        let _ = capture(core, shard, CaptureStep::Abort).await;
    }
}

/// One step of shard `shard`'s view, here or on its core.
async fn capture(core: &Core, shard: usize, step: CaptureStep) -> std::io::Result<Option<Vec<u8>>> {
    if shard == core.shard_id {
        return core.capture(step).await;
    }
    ask(core, shard, |reply| Request::Capture { step, reply })
        .await
        .and_then(|answer| answer)
}

/// A rewrite's first step on shard `shard`, here or on its core.
async fn begin_rewrite(core: &Core, shard: usize, incr: PathBuf) -> std::io::Result<Vec<Bytes>> {
    if shard == core.shard_id {
        return core.begin_rewrite(incr).await;
    }
    ask(core, shard, |reply| Request::RewriteBegin { incr, reply })
        .await
        .and_then(|answer| answer)
}

/// Sends shard `shard` the request `ask` builds around a reply channel
/// and waits for the answer; an error if the shard has stopped.
async fn ask<T>(
    core: &Core,
    shard: usize,
    ask: impl FnOnce(futures_channel::oneshot::Sender<T>) -> Request,
) -> std::io::Result<T> {
    let (reply, answer) = futures_channel::oneshot::channel();
    let gone = || std::io::Error::other(format!("shard {shard} did not answer"));
    core.senders
        .send(shard, ask(reply))
        .await
        .map_err(|()| gone())?;
    answer.await.map_err(|_| gone())
}

/// `rdbchecksum`: whether files end with their CRC64.
fn checksum(core: &Core) -> bool {
    core.node.config.int(Param::Rdbchecksum) == 0
}
