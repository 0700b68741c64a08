//! SAVE, BGSAVE and BGREWRITEAOF, and when the node saves or rewrites by
//! itself: save points, automatic log rewrites, a shutdown's save. The
//! jobs themselves (point-in-time views of every shard, written by
//! threads, no fork and no stop) are the shard's: `shard::background`.
//!
//! One job runs at a time (`node::Background`), with Redis's replies
//! when another is asked for: a save during a save is refused, a rewrite
//! during a save (or a save during a rewrite, with SCHEDULE) is
//! scheduled and starts when the running job ends.

use std::sync::atomic::Ordering;
use std::time::Duration;

use bytes::Bytes;

use super::flags::*;
use super::{command, Command, ConnCtx, ConnFuture, CoreAccess};
use crate::config::Param;
use crate::node::Job;
use crate::protocol::Reply;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("save",         1,  ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI).connection_waits(save),
    command("bgsave",       -1, ADMIN | NOSCRIPT | NO_ASYNC_LOADING).connection_waits(bgsave),
    command("bgrewriteaof", 1,  ADMIN | NOSCRIPT | NO_ASYNC_LOADING).connection_waits(bgrewriteaof),
];

/// Redis's replies when another job runs.
const SAVE_IN_PROGRESS: &str = "ERR Background save already in progress";
const REWRITE_IN_PROGRESS: &str = "ERR Background append only file rewriting already in progress";
const REWRITE_BLOCKS_BGSAVE: &str = "ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.";

/// How long a failed save point waits before it tries again (Redis's
/// `CONFIG_BGSAVE_RETRY_DELAY`).
const SAVE_RETRY_DELAY_SECS: u64 = 5;

/// How often a save that must wait for a running job looks again.
const JOB_POLL: Duration = Duration::from_millis(5);

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
        let schedule = match argv {
            [_] => false,
            [_, word] if word.eq_ignore_ascii_case(b"schedule") => true,
            _ => return Reply::error(super::errors::SYNTAX),
        };
        let node = ctx.core.node();
        match node.background.try_start(Job::Save) {
            Ok(()) => match ctx.core.save(false).await {
                Ok(()) => Reply::status("Background saving started"),
                Err(e) => Reply::error(e),
            },
            Err(Job::Save) => Reply::error(SAVE_IN_PROGRESS),
            Err(Job::Rewrite) if schedule => {
                node.rdb.job.scheduled.store(true, Ordering::Relaxed);
                Reply::status("Background saving scheduled")
            }
            Err(Job::Rewrite) => Reply::error(REWRITE_BLOCKS_BGSAVE),
        }
    })
}

fn bgrewriteaof<'a>(ctx: &'a mut ConnCtx<'_>, _argv: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(async move {
        let node = ctx.core.node();
        match node.background.try_start(Job::Rewrite) {
            Ok(()) => match ctx.core.rewrite_log().await {
                Ok(()) => Reply::status("Background append only file rewriting started"),
                Err(e) => Reply::error(e),
            },
            Err(Job::Rewrite) => Reply::error(REWRITE_IN_PROGRESS),
            Err(Job::Save) => {
                node.aof.job.scheduled.store(true, Ordering::Relaxed);
                Reply::status("Background append only file rewriting scheduled")
            }
        }
    })
}

/// Saves the RDB file and returns once it is on disk (SAVE, SHUTDOWN),
/// after a log rewrite that is running; `Err`: the error reply's text.
pub(super) async fn save_now(core: &dyn CoreAccess) -> Result<(), String> {
    loop {
        match core.node().background.try_start(Job::Save) {
            Ok(()) => return core.save(true).await,
            Err(Job::Save) => return Err(SAVE_IN_PROGRESS.into()),
            Err(Job::Rewrite) => glommio::timer::sleep(JOB_POLL).await,
        }
    }
}

/// The save a shutdown makes (SHUTDOWN SAVE; with save points SHUTDOWN
/// and SIGTERM): the running job is stopped first, as Redis kills its
/// child, then the file is saved in full.
pub(super) async fn save_for_shutdown(core: &dyn CoreAccess) -> Result<(), String> {
    let background = &core.node().background;
    if background.running().is_some() {
        background.cancel.store(true, Ordering::Relaxed);
        while background.running().is_some() {
            glommio::timer::sleep(JOB_POLL).await;
        }
    }
    save_now(core).await
}

/// Shard 0's persistence timer, `hz` times a second (as Redis's
/// `serverCron`): the shutdown a signal asked for (which saves first
/// when save points are set), a scheduled job once none runs, a save
/// when a save point is reached, a log rewrite when the log has grown
/// enough.
pub async fn cron(core: std::rc::Rc<dyn CoreAccess>) {
    let node = core.node();
    while !node.is_shutting_down() {
        let hz = node.config.int(Param::Hz).max(1) as u64;
        glommio::timer::sleep(Duration::from_millis(1000 / hz)).await;
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
        if node.background.running().is_some() {
            continue;
        }
        let start = if node.aof.job.scheduled.load(Ordering::Relaxed) {
            Some(Job::Rewrite)
        } else if node.rdb.job.scheduled.load(Ordering::Relaxed) {
            Some(Job::Save)
        } else if save_point_reached(&*core).await {
            eprintln!("Save point reached: saving in the background");
            Some(Job::Save)
        } else if log_grown(&*core).await {
            eprintln!("Starting automatic rewriting of AOF on growth");
            Some(Job::Rewrite)
        } else {
            None
        };
        let Some(job) = start else {
            continue;
        };
        if node.background.try_start(job).is_err() {
            continue;
        }
        let started = match job {
            Job::Save => core.save(false).await,
            Job::Rewrite => core.rewrite_log().await,
        };
        if let Err(e) = started {
            eprintln!("The background job could not start: {e}");
            match job {
                Job::Save => node.rdb.job.finished(false),
                Job::Rewrite => node.aof.job.finished(false),
            }
        }
    }
}

/// Whether a `save` point's time and changes have both passed since the
/// last save (a failed save is retried after a pause).
async fn save_point_reached(core: &dyn CoreAccess) -> bool {
    let node = core.node();
    let points = node.config.save_points();
    if points.is_empty() {
        return false;
    }
    let rdb = &node.rdb;
    if rdb.job.failed_within(SAVE_RETRY_DELAY_SECS) {
        return false;
    }
    let now = crate::util::time::now_ms() / 1000;
    let changes: u64 = core.reports().await.iter().map(|r| r.changes).sum();
    let changed = changes.saturating_sub(rdb.changes_at_last_save.load(Ordering::Relaxed));
    let since = now.saturating_sub(rdb.last_save_unix.load(Ordering::Relaxed));
    points
        .iter()
        .any(|&(seconds, min_changes)| changed >= min_changes && since > seconds)
}

/// `auto-aof-rewrite-percentage` / `-min-size`: whether the log has grown
/// past the minimum and by the percentage since the last rewrite (or the
/// start); a failed rewrite waits as a failed save does.
async fn log_grown(core: &dyn CoreAccess) -> bool {
    let node = core.node();
    let percentage = node.config.int(Param::AutoAofRewritePercentage);
    // No shard is asked for its log's size while there is no log.
    if percentage <= 0 || node.config.string(Param::Appendonly) != "yes" {
        return false;
    }
    let aof = &node.aof;
    if aof.job.failed_within(SAVE_RETRY_DELAY_SECS) {
        return false;
    }
    let reports = core.reports().await;
    let logs: Vec<_> = reports.iter().filter_map(|r| r.log.as_ref()).collect();
    if logs.is_empty() {
        return false;
    }
    let size: u64 = logs.iter().map(|l| l.size).sum();
    if size < node.config.int(Param::AutoAofRewriteMinSize) as u64 {
        return false;
    }
    let base = aof.base_size.load(Ordering::Relaxed).max(1);
    size.saturating_sub(base) * 100 / base >= percentage as u64
}
