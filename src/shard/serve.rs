//! How a shard is served on its core: building its [`Core`], serving the
//! requests other cores send it, in order, and active expiry.

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use glommio::channels::shared_channel::ConnectedReceiver;
use glommio::{Latency, Shares, TaskQueueHandle};

use super::core::Core;
use super::mesh::{self, BatchReplies, MeshEnds, Request};
use super::{Call, ShardState};
use crate::cmd::flags;
use crate::config::{Param, ACTIVE_EXPIRE_KEYS_PER_TICK, MAX_REPLY_BUFFER_BYTES, READ_CHUNK_BYTES};
use crate::node::Node;
use crate::protocol::Reply;

/// A shard's [`Core`] on the current executor: connects its ends of the
/// mesh, builds its keyspace and Lua VM, and makes its network and script
/// task queues. Returns the core, the receivers of the requests other
/// shards send it (to serve with [`serve_peer`]) and the network queue.
/// Public so benchmarks drive the same core the server runs.
pub async fn build_core(
    id: usize,
    node: &Arc<Node>,
    ends: MeshEnds,
) -> Result<(Rc<Core>, Vec<ConnectedReceiver<Request>>, TaskQueueHandle), String> {
    let (senders, receivers) = mesh::connect(ends).await;
    let hub = Rc::new(crate::pubsub::Hub::new(id, node.clone()));
    let state = ShardState::new(id, node.cores[id], node.shards(), hub.clone());
    let memory_limit = node.config.int(Param::LuaMemoryLimit) as usize;
    let scripts = crate::lua::Engine::new(memory_limit)
        .map_err(|e| format!("cannot create the Lua VM of shard {id}: {e}"))?;
    let executor = glommio::executor();
    let preempt = Duration::from_millis(node.config.int(Param::PreemptTimerMs) as u64);
    // Network work (connections, requests from other cores) outranks
    // scripts: a script yields its queue whenever glommio asks, and the
    // network queue then runs first.
    let network_queue =
        executor.create_task_queue(Shares::Static(1000), Latency::Matters(preempt), "network");
    let script_queue =
        executor.create_task_queue(Shares::Static(1), Latency::NotImportant, "scripts");
    let core = Rc::new_cyclic(|me| Core {
        shard_id: id,
        node: node.clone(),
        state: state.into(),
        senders,
        scripts,
        gate: Default::default(),
        script_queue,
        read_chunk: std::cell::RefCell::new(vec![0; READ_CHUNK_BYTES].into_boxed_slice()),
        log: Default::default(),
        pubsub: hub,
        me: me.clone(),
    });
    Ok((core, receivers, network_queue))
}

/// Runs `task` in the network queue, detached.
pub fn spawn_network(
    task: impl std::future::Future<Output = ()> + 'static,
    queue: TaskQueueHandle,
) {
    match glommio::spawn_local_into(task, queue) {
        Ok(task) => drop(task.detach()),
        Err(e) => eprintln!("cannot spawn a network task: {e}"),
    }
}

/// Serves requests from one other shard, in the order they were sent
/// (public for the cross-core benchmark).
pub async fn serve_peer(
    core: Rc<Core>,
    rx: ConnectedReceiver<Request>,
    network_queue: TaskQueueHandle,
) {
    while let Some(req) = rx.recv().await {
        // Work that may wait for the shard's gate (a script, an EXEC, or
        // anything while a script holds the shard) gets its own task, so
        // the requests queued behind it are not stuck behind the script.
        let may_wait = core.gate.is_held()
            || match &req {
                Request::Batch { calls, .. } => calls.iter().any(Call::is_script),
                Request::Transaction { .. }
                | Request::Capture { .. }
                | Request::RewriteBegin { .. }
                | Request::Reload { .. }
                | Request::LoadSync { .. }
                | Request::Apply { .. }
                | Request::LogStart { .. }
                | Request::LogStop { .. }
                | Request::Replicate { .. }
                | Request::SyncFreeze { .. }
                | Request::Functions { .. } => true,
                _ => false,
            };
        let work = serve_request(core.clone(), req);
        if may_wait {
            spawn_network(work, network_queue);
        } else {
            work.await;
        }
    }
}

async fn serve_request(core: Rc<Core>, req: Request) {
    match req {
        Request::Batch { calls, reply } => {
            let now = crate::util::time::now_ms();
            let broken_before = log_broken(&core);
            let mut replies = Vec::with_capacity(calls.len());
            let mut claims = Vec::with_capacity(calls.len());
            let mut reply_bytes = 0;
            let mut calls = calls.into_iter();
            for call in calls.by_ref() {
                let writes = !call.cmd.has(flags::READONLY);
                let before = log_records(&core);
                let r = core.execute_when_free(call, now).await;
                claims.push(claim_since(&core, writes, before));
                reply_bytes += r.size_estimate();
                replies.push(r);
                if reply_bytes > MAX_REPLY_BUFFER_BYTES {
                    break;
                }
            }
            core.state.borrow_mut().stats.forwarded_in += replies.len() as u64;
            commit_replies(&core, broken_before, &mut replies, &claims).await;
            let unrun = calls.collect();
            let _ = reply.send(BatchReplies { replies, unrun });
        }
        Request::Watch { db, keys, reply } => {
            let now = crate::util::time::now_ms();
            let _ = reply.send(core.state.borrow_mut().watch(db, &keys, now));
        }
        Request::Transaction {
            watched,
            calls,
            reply,
        } => {
            core.state.borrow_mut().stats.forwarded_in += calls.len() as u64;
            let now = crate::util::time::now_ms();
            let broken_before = log_broken(&core);
            let before = log_records(&core);
            let mut result =
                crate::shard::core::run_transaction(&core, &watched, &calls, now).await;
            if let Some(replies) = &mut result {
                // One record: every reply claims it.
                let claim = claim_since(&core, true, before);
                let claims = vec![claim; replies.len()];
                commit_replies(&core, broken_before, replies, &claims).await;
            }
            let _ = reply.send(result);
        }
        Request::Publish { messages } => {
            for message in &messages {
                core.pubsub.deliver(message);
            }
        }
        Request::Report { reply } => {
            let _ = reply.send(core.report());
        }
        Request::ResetStats { reply } => {
            core.state.borrow_mut().reset_stats();
            let _ = reply.send(());
        }
        Request::Functions { argv, reply } => {
            let _ = reply.send(core.change_functions_here(&argv).await);
        }
        Request::Reload { path, reply } => {
            let _ = reply.send(core.reload_rdb(path).await);
        }
        Request::LoadSync { payload, reply } => {
            let _ = reply.send(core.load_sync(&payload).await);
        }
        Request::Apply {
            calls,
            atomic,
            reply,
        } => {
            core.apply_from_master(calls, atomic).await;
            let _ = reply.send(());
        }
        Request::RewriteBegin { incr, reply } => {
            let _ = reply.send(core.begin_rewrite(incr).await);
        }
        Request::Capture { step, reply } => {
            let _ = reply.send(core.capture(step).await);
        }
        Request::LogStart { incr, reply } => {
            let _ = reply.send(core.start_log(incr).await);
        }
        Request::LogStop { reply } => {
            let _ = reply.send(core.stop_log().await);
        }
        Request::Replicate { backlog, reply } => {
            let _ = reply.send(core.start_replication(backlog).await);
        }
        Request::SyncFreeze { reply } => {
            let _ = reply.send(core.freeze_for_sync().await);
        }
    }
}

/// Waits until the shard's log holds every record so far (see
/// `log::ShardLog::wait_for`): a reply goes back only then. Nothing to
/// wait for with `appendonly no`.
pub async fn wait_for_log(core: &Core) -> Result<(), String> {
    match core.log.get() {
        Some(log) => log.wait_for(log.target()).await,
        None => Ok(()),
    }
}

/// Whether the shard's log is broken (then writes get `-MISCONF` before
/// they run, and nothing waits for the log).
pub fn log_broken(core: &Core) -> bool {
    core.log.get().is_some_and(|log| log.is_broken())
}

/// Records the shard's log has begun so far (0 without a log).
pub fn log_records(core: &Core) -> u64 {
    core.log.get().map_or(0, |log| log.appended())
}

/// The log record a command's reply claims: the last one appended since
/// `before`, if the command may write and appended any.
pub fn claim_since(core: &Core, writes: bool, before: u64) -> Option<u64> {
    let now = log_records(core);
    (writes && now > before).then_some(now)
}

/// Releases replies to other cores once the log holds what they depend
/// on; if it broke first, each reply that claims a record it lost
/// (`claims`, per reply) becomes its error, the others stand. Nothing to
/// wait for when it was broken before they ran (their writes were
/// refused) or with `appendonly no`.
async fn commit_replies(
    core: &Core,
    broken_before: bool,
    replies: &mut [Reply],
    claims: &[Option<u64>],
) {
    let Some(log) = core.log.get().filter(|_| !broken_before) else {
        return;
    };
    if wait_for_log(core).await.is_ok() {
        return;
    }
    for (reply, claim) in replies.iter_mut().zip(claims) {
        if let Some(misconf) = claim.and_then(|lsn| log.lost(lsn)) {
            *reply = Reply::error(misconf);
        }
    }
}

/// Sends the Pub/Sub messages this core's publishers queued for other
/// cores (see `pubsub::hub`): one request per destination per turn, in
/// order. A destination whose channel is full holds the others back, never
/// a publisher.
pub async fn forward_pubsub(core: Rc<Core>) {
    while !core.node.is_shutting_down() {
        for (to, messages) in core.pubsub.outgoing().await {
            let _ = core.senders.send(to, Request::Publish { messages }).await;
        }
    }
}

/// Active expiry: a bounded amount of work, `hz` times a second.
pub async fn expire_loop(core: Rc<Core>) {
    while !core.node.is_shutting_down() {
        let hz = core.node.config.int(Param::Hz).max(1) as u64;
        glommio::timer::sleep(Duration::from_millis(1000 / hz)).await;
        // Subscribers above their soft output buffer limit, which no new
        // message may come to check (not the keyspace: scripts or not).
        core.pubsub.check_limits();
        // A script sees the keyspace as of its start; expiry waits for it.
        let Some(access) = core.gate.open() else {
            continue;
        };
        // As Redis, a replica's keys expire only by its master's DEL.
        if core.node.replication.is_replica() {
            continue;
        }
        core.expire_tick(access, ACTIVE_EXPIRE_KEYS_PER_TICK);
        // After SCRIPT FLUSH on any core, this VM's compiled scripts go
        // now rather than at its next EVAL (an atomic load when nothing
        // changed).
        core.scripts.sync_epoch(core.node.script_cache.epoch());
    }
}
