//! A replica's full sync: the backlog is created on the first one (every
//! shard's effects feed it from then on), a cut of the stream is taken
//! while every shard freezes (see `replication::backlog`), and the
//! snapshot goes out as an RDB file in chunks, as a save's do, while the
//! shards keep serving. It holds the node's one background job slot, as
//! Redis's replication child counts as its RDB child.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;

use super::{abort_captures, ask, checksum, pump, Chunks};
use crate::config::Param;
use crate::node::Job;
use crate::rdb::Writer;
use crate::replication::backlog::{Backlog, Cut};
use crate::shard::core::Core;
use crate::shard::mesh::Request;

/// How often a sync waiting for the job slot looks again.
const SLOT_POLL: Duration = Duration::from_millis(5);

/// A snapshot taken for a replica: every shard frozen, the stream cut.
pub struct Snapshot {
    /// The stream's offset the snapshot stands for, and the stretches
    /// after it that it holds already.
    pub cut: Cut,
    /// The reader of the backlog the replica goes on from, at the cut.
    pub reader: u64,
    functions: Vec<Bytes>,
}

/// The backlog, created with its sinks on every shard if this is the
/// first replica (call with the job slot held: one creator at a time).
async fn backlog(core: &Core) -> std::io::Result<Arc<Backlog>> {
    let master = &core.node.master;
    if let Some(backlog) = master.backlog() {
        return Ok(backlog.clone());
    }
    let config = &core.node.config;
    let keep = config.int(Param::ReplBacklogSize) as usize;
    let limit = crate::config::REPLICA_OUTPUT_LIMIT_BYTES;
    // A promoted replica's stream goes on from what it had applied.
    let start = core.node.replication.offset().max(0) as u64;
    let backlog = Arc::new(Backlog::new(keep, limit, start));
    for shard in 0..core.node.shards() {
        if shard == core.shard_id {
            core.start_replication(backlog.clone()).await?;
        } else {
            let backlog = backlog.clone();
            ask(core, shard, |reply| Request::Replicate { backlog, reply }).await??;
        }
    }
    master.set_backlog(backlog.clone());
    Ok(backlog)
}

/// Waits for the job slot, then cuts the stream and freezes every shard.
/// `Err`: why, for the server log (the slot is free again then).
pub async fn begin(core: &Core) -> Result<Snapshot, String> {
    let node = &core.node;
    while node.background.try_start(Job::Save).is_err() {
        if node.is_shutting_down() {
            return Err("shutting down".into());
        }
        glommio::timer::sleep(SLOT_POLL).await;
    }
    let snapshot = freeze(core).await;
    if snapshot.is_err() {
        node.background.end();
    }
    snapshot
}

async fn freeze(core: &Core) -> Result<Snapshot, String> {
    let backlog = backlog(core).await.map_err(|e| e.to_string())?;
    let shards = core.node.shards();
    let start = backlog
        .begin_cut(shards)
        .ok_or("another full sync is taking its snapshot")?;
    // Registered now, so the ring keeps the stream from the cut on.
    let reader = backlog.add_reader(start);
    let mut functions = Vec::new();
    for shard in 0..shards {
        let frozen = if shard == core.shard_id {
            core.freeze_for_sync().await
        } else {
            ask(core, shard, |reply| Request::SyncFreeze { reply })
                .await
                .and_then(|answer| answer)
        };
        match frozen {
            Ok(codes) if shard == 0 => functions = codes,
            Ok(_) => {}
            Err(e) => {
                abort_captures(core, shard).await;
                backlog.end_cut();
                backlog.remove_reader(reader);
                return Err(e.to_string());
            }
        }
    }
    let cut = backlog.end_cut().ok_or("the cut was not complete")?;
    Ok(Snapshot {
        cut,
        reader,
        functions,
    })
}

/// The snapshot's RDB file, handed to `out` piece by piece as the shards
/// hand out their chunks, after `preamble` (the reply lines before it);
/// frees the job slot at the end, whatever happened.
pub async fn send(
    core: &Core,
    snapshot: &Snapshot,
    preamble: &[u8],
    out: &mut impl RdbOut,
) -> std::io::Result<()> {
    let mut result = out.write(preamble).await;
    if result.is_ok() {
        result = write(core, snapshot, out).await;
    }
    if result.is_err() {
        abort_captures(core, core.node.shards()).await;
    }
    core.node.background.end();
    result
}

async fn write(core: &Core, snapshot: &Snapshot, out: &mut impl RdbOut) -> std::io::Result<()> {
    let mut writer = Writer::new(Vec::new());
    if !checksum(core) {
        writer = writer.without_checksum();
    }
    writer.begin(0)?;
    out.write(&writer.take_records()).await?;
    let mut chunks = Stream { writer, out };
    pump(core, &mut chunks).await?;
    let Stream { mut writer, out } = chunks;
    for code in &snapshot.functions {
        writer.function(code)?;
    }
    let tail = writer.finish()?;
    out.write(&tail).await
}

/// Where a snapshot's bytes go (the replica's socket). Its futures stay
/// on the core that runs the sync: no `Send` bound is needed.
#[allow(async_fn_in_trait)]
pub trait RdbOut {
    async fn write(&mut self, bytes: &[u8]) -> std::io::Result<()>;
}

/// Chunks through the file's writer (for its checksum) to the output.
struct Stream<'a, O> {
    writer: Writer<Vec<u8>>,
    out: &'a mut O,
}

impl<O: RdbOut> Chunks for Stream<'_, O> {
    async fn put(&mut self, _shard: usize, chunk: Vec<u8>) -> std::io::Result<()> {
        self.writer.records(&chunk)?;
        let bytes = self.writer.take_records();
        self.out.write(&bytes).await
    }
}
