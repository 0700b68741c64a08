//! SAVE: every shard's keys and the function libraries in one RDB file,
//! `dir`/`dbfilename`, written to a temporary file, fsynced, then renamed
//! over the old one (a crash leaves the old file or the new, never half).
//!
//! Each shard's records are taken once no script or EXEC holds it, so a
//! script's writes are all in or all out; but each shard is taken at its
//! own moment, not one instant across shards. The write is
//! blocking file I/O on the connection's core, as Redis's SAVE blocks.

use std::io::Write;
use std::path::Path;
use std::sync::atomic::Ordering;

use bytes::Bytes;

use super::flags::*;
use super::{command, Command, ConnCtx, ConnFuture, CoreAccess};
use crate::config::Param;
use crate::protocol::Reply;
use crate::rdb::Writer;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("save", 1, ADMIN | NOSCRIPT | NO_MULTI).connection_waits(save),
];

fn save<'a>(ctx: &'a mut ConnCtx<'_>, _argv: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(async move {
        match save_file(ctx.core).await {
            Ok(()) => Reply::ok(),
            Err(e) => Reply::error(format!("ERR saving the RDB file failed: {e}")),
        }
    })
}

/// Writes the RDB file (see the module); LASTSAVE moves on success.
pub(super) async fn save_file(core: &dyn CoreAccess) -> std::io::Result<()> {
    let now_ms = crate::util::time::now_ms();
    let parts = core.snapshot(now_ms).await?;
    let config = &core.node().config;
    let dir = config.string(Param::Dir);
    let path = Path::new(&dir).join(config.string(Param::Dbfilename));
    let temp = Path::new(&dir).join(format!("temp-{}.rdb", std::process::id()));
    let result = write_file(&temp, &parts, &core.functions().codes());
    match result.and_then(|()| std::fs::rename(&temp, &path)) {
        Ok(()) => {
            // The rename itself is durable once the directory is synced.
            std::fs::File::open(&dir)?.sync_all()?;
            let now = crate::util::time::now_ms() / 1000;
            core.node().last_save_unix.store(now, Ordering::Relaxed);
            Ok(())
        }
        Err(e) => {
            let _ = std::fs::remove_file(&temp);
            Err(e)
        }
    }
}

fn write_file(path: &Path, parts: &[Vec<u8>], functions: &[Bytes]) -> std::io::Result<()> {
    let file = std::fs::File::create(path)?;
    let used_mem = parts.iter().map(|p| p.len() as u64).sum();
    let mut writer = Writer::new(std::io::BufWriter::new(file));
    writer.begin(used_mem)?;
    for part in parts {
        writer.records(part)?;
    }
    for code in functions {
        writer.function(code)?;
    }
    let mut out = writer.finish()?;
    out.flush()?;
    let file = out.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()
}
