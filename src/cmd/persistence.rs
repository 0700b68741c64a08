//! SAVE and BGSAVE: every shard's keys and the function libraries in one
//! RDB file, `dir`/`dbfilename`, replaced atomically (see
//! `util::durable`).
//!
//! No fork and no stop: each shard freezes its keyspace (a point-in-time
//! view, `rdb::snapshot::Capture`) once no script or EXEC holds it, and
//! keeps serving while the view leaves in chunks. A script's writes are
//! all in or all out; each shard is frozen at its own moment, within one
//! round of requests, not one instant across shards. A thread writes the
//! file, so no executor waits for the disk.
//!
//! SAVE is the same save with the reply at its end; BGSAVE replies once
//! every shard is frozen (so every write acknowledged before its reply
//! is in the file).

use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;

use bytes::Bytes;
use futures_channel::{mpsc, oneshot};

use super::flags::*;
use super::{command, Command, ConnCtx, ConnFuture, CoreAccess};
use crate::config::Param;
use crate::protocol::Reply;
use crate::rdb::snapshot::CaptureStep;
use crate::rdb::Writer;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("save",   1,  ADMIN | NOSCRIPT | NO_MULTI).connection_waits(save),
    command("bgsave", -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING).connection_waits(bgsave),
];

/// Chunks queued for the file's writer thread: enough to keep it busy,
/// few enough that a slow disk holds back the shards' chunks instead of
/// memory filling up.
const SAVE_QUEUE_CHUNKS: usize = 16;

/// Redis's text when a save is already running.
const IN_PROGRESS: &str = "ERR Background save already in progress";

fn save<'a>(ctx: &'a mut ConnCtx<'_>, _argv: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(async move {
        match save_now(ctx.core).await {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::error(e),
        }
    })
}

/// BGSAVE [SCHEDULE]
fn bgsave<'a>(ctx: &'a mut ConnCtx<'_>, argv: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(async move {
        match argv {
            [_] => {}
            // Nothing else runs in the background that a save would have
            // to wait for (Redis: an AOF rewrite), so SCHEDULE saves now.
            [_, schedule] if schedule.eq_ignore_ascii_case(b"schedule") => {}
            _ => return Reply::error(super::errors::SYNTAX),
        }
        match begin_save(ctx.core).await {
            Ok(job) => {
                ctx.core.spawn(Box::new(|core| {
                    Box::pin(async move {
                        let _ = job.run(&*core).await;
                    })
                }));
                Reply::status("Background saving started")
            }
            Err(e) => Reply::error(e),
        }
    })
}

/// How long a failed save point waits before it tries again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
const SAVE_RETRY_DELAY_SECS: u64 = 5;

/// Shard 0's persistence timer, `hz` times a second: a background save
/// when a save point is reached (as Redis's `serverCron`), and the
/// shutdown a signal asked for, which saves first when save points are
/// set.
pub async fn cron(core: std::rc::Rc<dyn CoreAccess>) {
    let node = core.node();
    while !node.is_shutting_down() {
        let hz = node.config.int(Param::Hz).max(1) as u64;
        glommio::timer::sleep(std::time::Duration::from_millis(1000 / hz)).await;
        if node.shutdown_requested.load(Ordering::SeqCst) {
            match save_for_shutdown(&*core).await {
                Ok(()) => node.begin_shutdown(),
                Err(e) => {
                    eprintln!("Error trying to save the DB, can't exit: {e}");
                    node.shutdown_requested.store(false, Ordering::SeqCst);
                }
            }
            continue;
        }
        if save_point_reached(&*core).await {
            eprintln!("Save point reached: saving in the background");
            if let Ok(job) = begin_save(&*core).await {
                let _ = job.run(&*core).await;
            }
        }
    }
}

/// Whether a `save` point's time and changes have both passed since the
/// last save (a failed save is retried after a pause).
async fn save_point_reached(core: &dyn CoreAccess) -> bool {
    let node = core.node();
    let points = node.config.save_points();
    let rdb = &node.rdb;
    if points.is_empty() || rdb.in_progress() {
        return false;
    }
    let now = crate::util::time::now_ms() / 1000;
    let failed = rdb.last_failed.load(Ordering::Relaxed);
    if failed
        && now.saturating_sub(rdb.last_try_unix.load(Ordering::Relaxed)) <= SAVE_RETRY_DELAY_SECS
    {
        return false;
    }
    let changes: u64 = core.reports().await.iter().map(|r| r.changes).sum();
    let changed = changes.saturating_sub(rdb.changes_at_last_save.load(Ordering::Relaxed));
    let since = now.saturating_sub(rdb.last_save_unix.load(Ordering::Relaxed));
    points
        .iter()
        .any(|&(seconds, min_changes)| changed >= min_changes && since > seconds)
}

/// The save a shutdown makes (SHUTDOWN SAVE, or with save points SHUTDOWN
/// and SIGTERM): a background save still running is stopped first, as
/// Redis kills its child, then the file is saved in full.
pub(super) async fn save_for_shutdown(core: &dyn CoreAccess) -> Result<(), String> {
    let rdb = &core.node().rdb;
    if rdb.in_progress() {
        rdb.cancel.store(true, Ordering::Relaxed);
        while rdb.in_progress() {
            glommio::timer::sleep(std::time::Duration::from_millis(5)).await;
        }
    }
    save_now(core).await
}

/// Saves the RDB file and returns once it is on disk (SAVE, SHUTDOWN);
/// `Err`: the error reply's text.
pub(super) async fn save_now(core: &dyn CoreAccess) -> Result<(), String> {
    begin_save(core)
        .await?
        .run(core)
        .await
        .map_err(|e| format!("ERR saving the RDB file failed: {e}"))
}

/// A save under way: every shard frozen, the file's writer started.
struct SaveJob {
    shards: usize,
    /// Shard changes when the shards were frozen.
    changes_at_start: u64,
    to_writer: mpsc::Sender<ToWriter>,
    written: oneshot::Receiver<std::io::Result<()>>,
}

/// What the writer thread is sent.
enum ToWriter {
    Records(Vec<u8>),
    /// Every chunk has been sent: finish the file and put it in place.
    /// (A channel closed without it abandons the file.)
    Finish,
}

/// Claims the node's one save, freezes every shard and starts the file's
/// writer; `Err`: the error reply's text.
async fn begin_save(core: &dyn CoreAccess) -> Result<SaveJob, String> {
    let node = core.node();
    if !node.rdb.try_start() {
        return Err(IN_PROGRESS.into());
    }
    let shards = node.shards();
    let changes_at_start = core.reports().await.iter().map(|r| r.changes).sum();
    let now_ms = crate::util::time::now_ms();
    for shard in 0..shards {
        if let Err(e) = core.capture(shard, CaptureStep::Begin { now_ms }).await {
            abort_shards(core, shard).await;
            node.rdb.abandon();
            return Err(format!("ERR {e}"));
        }
    }
    let path = rdb_path(&node.config);
    let checksum = node.config.int(Param::Rdbchecksum) == 0;
    match start_writer(path, core.functions().codes(), checksum) {
        Ok((to_writer, written)) => Ok(SaveJob {
            shards,
            changes_at_start,
            to_writer,
            written,
        }),
        Err(e) => {
            abort_shards(core, shards).await;
            node.rdb.abandon();
            Err(format!("ERR cannot start the save: {e}"))
        }
    }
}

impl SaveJob {
    /// Moves every shard's chunks to the writer, round robin, then waits
    /// for the file to be in place. Its outcome is the node's last save
    /// status (INFO, LASTSAVE).
    async fn run(mut self, core: &dyn CoreAccess) -> std::io::Result<()> {
        let node = core.node();
        let mut result = self.pump(core).await;
        if result.is_ok() {
            result = send(&mut self.to_writer, ToWriter::Finish).await;
        } else {
            abort_shards(core, self.shards).await;
        }
        // Closing the channel without `Finish` abandons the file.
        drop(self.to_writer);
        let written = self
            .written
            .await
            .unwrap_or_else(|_| Err(std::io::Error::other("the writer thread stopped")));
        let result = result.and(written);
        match &result {
            Ok(()) => eprintln!("DB saved on disk"),
            Err(e) => eprintln!("Background saving error: {e}"),
        }
        node.rdb.finish(result.is_ok(), self.changes_at_start);
        result
    }

    async fn pump(&mut self, core: &dyn CoreAccess) -> std::io::Result<()> {
        let mut active: Vec<usize> = (0..self.shards).collect();
        while !active.is_empty() {
            if core.node().rdb.cancel.load(Ordering::Relaxed) {
                return Err(std::io::Error::other("the save was cancelled"));
            }
            let mut i = 0;
            while i < active.len() {
                match core.capture(active[i], CaptureStep::Next).await? {
                    Some(chunk) => {
                        send(&mut self.to_writer, ToWriter::Records(chunk)).await?;
                        i += 1;
                    }
                    None => {
                        active.remove(i);
                    }
                }
            }
        }
        Ok(())
    }
}

/// Stops the views of shards `0..begun`.
async fn abort_shards(core: &dyn CoreAccess, begun: usize) {
    for shard in 0..begun {
        let _ = core.capture(shard, CaptureStep::Abort).await;
    }
}

/// Sends `message` to the writer thread, waiting while its queue is full.
async fn send(to: &mut mpsc::Sender<ToWriter>, message: ToWriter) -> std::io::Result<()> {
    let gone = |_| std::io::Error::other("the writer thread stopped");
    futures_lite::future::poll_fn(|cx| to.poll_ready(cx))
        .await
        .map_err(gone)?;
    to.start_send(message).map_err(gone)
}

fn rdb_path(config: &crate::config::Config) -> PathBuf {
    Path::new(&config.string(Param::Dir)).join(config.string(Param::Dbfilename))
}

/// The thread that writes the file from the chunks it is sent (blocking
/// I/O, off every executor): header, chunks in order, the function
/// libraries, EOF and checksum; then synced and renamed into place.
#[allow(clippy::type_complexity)]
fn start_writer(
    path: PathBuf,
    functions: Vec<Bytes>,
    checksum: bool,
) -> std::io::Result<(
    mpsc::Sender<ToWriter>,
    oneshot::Receiver<std::io::Result<()>>,
)> {
    let (to_writer, mut chunks) = mpsc::channel(SAVE_QUEUE_CHUNKS);
    let (done, written) = oneshot::channel();
    std::thread::Builder::new()
        .name("shardis-save".into())
        .spawn(move || {
            let result = crate::util::durable::replace_file(&path, |file| {
                let mut writer = Writer::new(BufWriter::with_capacity(1 << 20, file));
                if !checksum {
                    writer = writer.without_checksum();
                }
                writer.begin(0)?;
                loop {
                    let next =
                        futures_lite::future::block_on(futures_lite::StreamExt::next(&mut chunks));
                    match next {
                        Some(ToWriter::Records(chunk)) => writer.records(&chunk)?,
                        Some(ToWriter::Finish) => break,
                        None => return Err(std::io::Error::other("the save was abandoned")),
                    }
                }
                for code in &functions {
                    writer.function(code)?;
                }
                writer.finish()?.flush()
            });
            let _ = done.send(result);
        })?;
    Ok((to_writer, written))
}
