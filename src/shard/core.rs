//! [`Core`]: what one executor owns — its shard's keyspace, its Lua VM,
//! the shard's gate, its ends of the mesh — and the one way into the
//! shard: [`Core::execute`], which takes proof that the caller may touch
//! the shard ([`Access`]).

use std::cell::RefCell;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};

use bytes::Bytes;

use super::gate::{Access, Gate};
use super::mesh::{Request, Senders};
use super::{Call, ShardState, Watched};
use crate::cmd::{self, flags, CoreAccess, LocalFuture, Run};
use crate::config::{Config, Param, CAPTURE_CHUNK_BYTES};
use crate::lua::status::ScriptStatus;
use crate::lua::{Engine, Killed, ScriptHost};
use crate::node::{Node, ShardReport};
use crate::protocol::Reply;
use crate::rdb::snapshot::{Capture, CaptureStep};
use crate::util::slot::shard_of_key;

/// What one executor owns: its shard and its ends of the mesh.
pub struct Core {
    pub shard_id: usize,
    pub node: Arc<Node>,
    pub state: RefCell<ShardState>,
    pub senders: Senders,
    /// This core's Lua VM.
    pub scripts: crate::lua::Engine,
    /// Held by a running script (or an EXEC running scripts).
    pub gate: Gate,
    /// The low-priority task queue scripts run in.
    pub script_queue: glommio::TaskQueueHandle,
    /// Where every connection on this core receives: bytes move on to the
    /// connection's own buffer at once, so one chunk per core (kept hot in
    /// cache) serves them all.
    pub read_chunk: RefCell<Box<[u8]>>,
    /// The shard's append-only log while `appendonly` is on: set once
    /// replay is done, or by `CONFIG SET appendonly yes`.
    pub log: super::log::LogSlot,
    /// This core's Pub/Sub hub (the shard's state holds it too).
    pub pubsub: Rc<crate::pubsub::Hub>,
    /// This core itself, for the background jobs it spawns.
    pub me: std::rc::Weak<Core>,
}

impl Core {
    /// Runs a shard-side command on this shard now: the one entry point for
    /// every command that touches the keyspace — local, forwarded, a
    /// script's `redis.call`, an EXEC batch. `access` proves the caller may
    /// touch the shard (see [`Access`]).
    pub fn execute(&self, access: Access<'_>, call: &Call, now_ms: u64) -> Reply {
        match call.cmd.run {
            Run::Script(_) => {
                Reply::error("ERR internal error: a script must run through the shard gate")
            }
            _ => {
                if let Some(refused) = self.refused_by_log(call) {
                    return refused;
                }
                if self.node.rdb.refuses_writes(&self.node.config) && call.cmd.has(flags::WRITE) {
                    return Reply::error(cmd::errors::MISCONF_RDB);
                }
                let mut state = self.state.borrow_mut();
                state.set_keyspace_events(self.node.config.keyspace_events());
                let reply = state.execute(access, call, now_ms);
                if state.notify.has_pending() {
                    drop(state);
                    self.publish_notifications();
                }
                reply
            }
        }
    }

    /// Publishes this shard's pending keyspace events (see
    /// [`super::notify`]).
    pub fn publish_notifications(&self) {
        super::notify::publish_pending(self);
    }

    /// This shard's statistics, with its log's.
    pub fn report(&self) -> ShardReport {
        let mut report = self.state.borrow().report();
        report.log = self.log.get().map(|log| log.report());
        report
    }

    /// `-MISCONF` for a write while the shard's log is broken.
    fn refused_by_log(&self, call: &Call) -> Option<Reply> {
        let log = self.log.get()?;
        if !call.cmd.has(flags::WRITE) {
            return None;
        }
        log.misconf().map(Reply::error)
    }

    /// Runs `call` once the shard is free: a script first takes the gate
    /// (and holds it while it runs); while another script holds it the
    /// call waits, or gets `-BUSY` (see [`Core::wait_for_shard`]).
    pub async fn execute_when_free(self: &Rc<Self>, call: Call, mut now_ms: u64) -> Reply {
        // Open (the common case): no wait to set up.
        let access = match self.gate.open() {
            Some(access) => access,
            None => match self.wait_for_shard().await {
                Ok(access) => {
                    // The caller's clock reading is as old as the wait.
                    now_ms = crate::util::time::now_ms();
                    access
                }
                Err(busy) => return Reply::error(busy),
            },
        };
        match call.cmd.run {
            Run::Script(run) => {
                // The script's task holds the gate to the end, even if its
                // caller stops waiting (the client went away): a script is
                // never cut short by its caller.
                self.gate.hold(access);
                let held = GateHeldByTask(self.clone());
                self.run_script(run(self.clone(), call, now_ms), Some(held))
                    .await
            }
            _ => self.execute(access, &call, now_ms),
        }
    }

    /// Runs `call` for the caller that holds the gate (EXEC).
    pub async fn execute_held(
        self: &Rc<Self>,
        held: &GateHeld<'_>,
        call: &Call,
        now_ms: u64,
    ) -> Reply {
        match call.cmd.run {
            Run::Script(run) => {
                self.run_script(run(self.clone(), call.clone(), now_ms), None)
                    .await
            }
            _ => self.execute(held.access(), call, now_ms),
        }
    }

    /// One tick of active expiry (it deletes keys, so it needs access).
    pub fn expire_tick(&self, access: Access<'_>, budget: usize) {
        let mut state = self.state.borrow_mut();
        state.set_keyspace_events(self.node.config.keyspace_events());
        state.expire_tick(access, budget);
        if state.notify.has_pending() {
            drop(state);
            self.publish_notifications();
        }
    }

    /// Runs a script: first inline, in the caller's task, for its first
    /// slice (the common case: it ends within it, with no task spawned
    /// and no waiter on the gate); if the interrupt suspends it (its slice
    /// is over, it became busy, the executor needs the core), the
    /// still-running script moves to a task of its own in the core's
    /// script queue (low priority: when the interrupt yields, the core's
    /// connections run first), which resumes it. Detached: it runs to its
    /// end even if the caller stops waiting for it. `held` (the gate)
    /// comes back with the reply and is released by the caller as it
    /// resumes, so a caller with more scripts pipelined takes the gate
    /// again before the waiters it wakes run; if the caller is gone, it
    /// goes with the task's unread output. Its changes are one batch of
    /// effects.
    async fn run_script(
        self: &Rc<Self>,
        mut script: crate::cmd::ScriptFuture,
        held: Option<GateHeldByTask>,
    ) -> Reply {
        let batch = EffectBatch::begin(self);
        // The script future awaits nothing but its own slices (polled with
        // a no-op waker) until it is handed off; a task polls it again at
        // once, with its own waker, so no wake-up is lost.
        let mut quiet = Context::from_waker(Waker::noop());
        if let Poll::Ready(reply) =
            crate::lua::interrupt::inline(|| script.as_mut().poll(&mut quiet))
        {
            drop(batch);
            drop(held);
            return reply;
        }
        let task = glommio::spawn_local_into(
            async move {
                let reply = script.await;
                drop(batch);
                (reply, held)
            },
            self.script_queue,
        );
        match task {
            Ok(task) => match task.detach().await {
                Some((reply, _held)) => reply,
                None => Reply::error("ERR the script's task was cancelled"),
            },
            Err(e) => Reply::error(format!("ERR cannot schedule the script: {e}")),
        }
    }

    /// Takes the gate (open, as `open` proves) until the guard drops.
    pub fn hold_gate(&self, open: Access<'_>) -> GateHeld<'_> {
        self.gate.hold(open);
        GateHeld(&self.gate)
    }

    /// This shard's script status.
    pub fn script_status(&self) -> &ScriptStatus {
        &self.node.script_status[self.shard_id]
    }

    /// One step of a save's view of this shard (see
    /// `rdb::snapshot::Capture`). The view begins once no script or EXEC
    /// holds the shard (it never shows half a script's writes; the -BUSY
    /// text when a busy script will not yield); its chunks come out
    /// whatever holds the shard, since they are the keyspace as it was.
    pub async fn capture(&self, step: CaptureStep) -> std::io::Result<Option<Vec<u8>>> {
        let other = std::io::Error::other;
        if let CaptureStep::Begin { .. } = step {
            let _access = self.wait_for_shard().await.map_err(other)?;
        }
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        match step {
            CaptureStep::Begin { now_ms } => {
                // The node runs one job at a time, so a view still here
                // is a job's that ended without its last step: replaced.
                let compress = self.node.config.rdb_compression();
                state.capture = Some(Capture::begin(&mut state.keyspace, now_ms, compress));
                Ok(None)
            }
            CaptureStep::Next => {
                let capture = state
                    .capture
                    .as_ref()
                    .ok_or_else(|| other("no snapshot running"))?;
                let chunk = capture.next_chunk(&mut state.keyspace, CAPTURE_CHUNK_BYTES);
                if chunk.is_none() {
                    state.capture = None;
                }
                Ok(chunk)
            }
            CaptureStep::Abort => {
                if let Some(capture) = state.capture.take() {
                    capture.abort(&mut state.keyspace);
                }
                Ok(None)
            }
        }
    }

    /// A log rewrite's first step on this shard: the log moves to the new
    /// incremental file `incr` in the same step as the keyspace is frozen
    /// for the new base (see `ShardLog::rotate`), once no script or EXEC
    /// holds the shard; the base's chunks then come from
    /// [`Core::capture`].
    ///
    /// Shard 0 answers with the function libraries as they were at that
    /// step (its base holds them, as its log holds their changes).
    pub async fn begin_rewrite(&self, incr: std::path::PathBuf) -> std::io::Result<Vec<Bytes>> {
        let other = std::io::Error::other;
        // Not while a script runs (`rotate` checks again at its step).
        let _free = self.wait_for_shard().await.map_err(other)?;
        let Some(log) = self.log.get() else {
            // The log is off: a base only (BGREWRITEAOF then writes a log
            // to start from, as Redis does).
            return Ok(self.freeze_for_base(&mut self.state.borrow_mut()));
        };
        let next =
            crate::aof::writer::Writer::open(&incr, super::log::policy(&self.node), 0).await?;
        let functions = std::cell::RefCell::new(Vec::new());
        let freeze = || {
            *functions.borrow_mut() = self.freeze_for_base(&mut self.state.borrow_mut());
        };
        log.rotate(next, || !self.gate.is_held(), freeze)
            .await
            .map_err(std::io::Error::other)?;
        Ok(functions.into_inner())
    }

    /// DEBUG RELOAD on this shard: once no script or EXEC holds it, its
    /// keyspace becomes its slots' keys of the RDB file `path` (shard 0
    /// also replaces the function libraries). Nothing changes if the file
    /// does not read.
    pub async fn reload_rdb(&self, path: std::path::PathBuf) -> Result<(), String> {
        let data = std::fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let _free = self.wait_for_shard().await?;
        self.replace_keyspace(&data)
            .map_err(|e| format!("{}: {e}", path.display()))
    }

    /// A replica's full sync on this shard: once no script or EXEC holds
    /// it (waiting as long as a read-only script runs), its keyspace
    /// becomes its slots' keys of the master's payload, in one step:
    /// reads see the old data until then (`replica-serve-stale-data`).
    /// Shard 0 also replaces the function libraries. Nothing changes if
    /// the payload does not read.
    pub async fn load_sync(&self, payload: &[u8]) -> Result<(), String> {
        let _free = self.wait_until_free().await;
        self.replace_keyspace(payload)
            .map_err(|e| format!("the master's payload: {e}"))
    }

    /// The keyspace (and on shard 0 the function libraries) become the
    /// RDB `data`'s; the caller holds the shard free.
    fn replace_keyspace(&self, data: &[u8]) -> Result<(), String> {
        let now_ms = crate::util::time::now_ms();
        let loaded = {
            let mut state = self.state.borrow_mut();
            let loaded = crate::rdb::snapshot::reload_keyspace(data, &mut state.keyspace, now_ms)
                .map_err(|e| e.to_string());
            // Keys loaded are not created by a command: no `new` events
            // (Redis's load adds keys without announcing them either).
            for db in &mut state.keyspace.dbs {
                db.take_created();
            }
            loaded?
        };
        if self.shard_id == 0 {
            self.node.functions.flush();
            for code in loaded.functions {
                crate::lua::functions::load_code(self, code.into())
                    .map_err(|e| format!("a function library: {e:?}"))?;
            }
        }
        Ok(())
    }

    /// `CONFIG SET appendonly yes` on this shard: a new log on the empty
    /// file `incr` joins the write hook in the same step as the keyspace
    /// is frozen for its base, once no script or EXEC holds the shard, so
    /// the base plus `incr` is the whole shard; the base's chunks then
    /// come from [`Core::capture`]. Shard 0 answers with the function
    /// libraries as they were at that step.
    pub async fn start_log(&self, incr: std::path::PathBuf) -> std::io::Result<Vec<Bytes>> {
        let other = std::io::Error::other;
        if self.log.is_on() {
            return Err(other("the append-only log is on already"));
        }
        let writer =
            crate::aof::writer::Writer::open(&incr, super::log::policy(&self.node), 1).await?;
        let log = super::log::ShardLog::new(self.node.clone(), writer);
        let _free = self.wait_between_batches().await?;
        // One step from here to the end: no write comes in between.
        let mut state = self.state.borrow_mut();
        let state = &mut *state;
        let sink = state.add_effect_sink(log.sink());
        if !self.log.set(log, sink) {
            state.remove_effect_sink(sink);
            return Err(other("the append-only log is on already"));
        }
        Ok(self.freeze_for_base(state))
    }

    /// The first replica came: from the step between batches where this
    /// runs, the shard's effects feed the replication stream too.
    pub async fn start_replication(
        &self,
        backlog: std::sync::Arc<crate::replication::backlog::Backlog>,
    ) -> std::io::Result<()> {
        let _free = self.wait_between_batches().await?;
        let sink = super::replicate::sink(backlog, self.shard_id);
        self.state.borrow_mut().add_effect_sink(sink);
        Ok(())
    }

    /// A full sync's snapshot of this shard: frozen (chunks then come from
    /// [`Core::capture`]) in the same step as the backlog's cut notes the
    /// stream's offset, once no script or EXEC holds the shard. Shard 0
    /// answers with the function libraries as they are at that step.
    pub async fn freeze_for_sync(&self) -> std::io::Result<Vec<Bytes>> {
        let other = std::io::Error::other;
        let backlog = self
            .node
            .master
            .backlog()
            .ok_or_else(|| other("no replication backlog"))?;
        let _free = self.wait_between_batches().await?;
        let functions = self.freeze_for_base(&mut self.state.borrow_mut());
        backlog.frozen(self.shard_id);
        Ok(functions)
    }

    /// Freezes the keyspace for a log's new base; on shard 0, the function
    /// libraries as they are at this step (its base holds them, as its
    /// log holds their changes), else nothing.
    fn freeze_for_base(&self, state: &mut super::ShardState) -> Vec<Bytes> {
        let now_ms = crate::util::time::now_ms();
        let compress = self.node.config.rdb_compression();
        state.capture = Some(Capture::begin(&mut state.keyspace, now_ms, compress));
        if self.shard_id == 0 {
            self.node.functions.codes()
        } else {
            Vec::new()
        }
    }

    /// `CONFIG SET appendonly no` on this shard (or a failed
    /// `appendonly yes`): the log leaves the write hook between batches,
    /// then what it holds is written and synced whatever `appendfsync`
    /// says (replies waiting for it go then, as Redis flushes before it
    /// answers), and the shard has no log. Its files stay.
    pub async fn stop_log(&self) -> std::io::Result<()> {
        let Some(log) = self.log.get() else {
            return Ok(());
        };
        {
            let _free = self.wait_between_batches().await?;
            if let Some(sink) = self.log.detach() {
                self.state.borrow_mut().remove_effect_sink(sink);
            }
        }
        log.close().await;
        self.log.clear();
        Ok(())
    }

    /// Waits until no script or EXEC holds the shard and no batch of
    /// effects is open: a sink joining or leaving the write hook then sees
    /// whole batches only. Holds while the caller does not wait.
    async fn wait_between_batches(&self) -> std::io::Result<Access<'_>> {
        loop {
            let access = self.wait_for_shard().await.map_err(std::io::Error::other)?;
            if !self.state.borrow().effects.in_batch() {
                return Ok(access);
            }
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Waits until no script or EXEC holds this shard, however long (a
    /// replica's master is never answered BUSY: its stream waits, as
    /// Redis's replica reads nothing while a script runs).
    pub async fn wait_until_free(&self) -> Access<'_> {
        loop {
            if let Some(access) = self.gate.open() {
                return access;
            }
            self.gate.changed().await;
        }
    }

    /// Applies a share of the master's stream (a replica): `calls` in
    /// order, each once the shard is free; with `atomic` (a MULTI block)
    /// all of them holding the shard, as one batch of effects. They run
    /// with the clock at 0, so no key is expired for them: as on Redis's
    /// replicas, a key goes only when the master says so (the master
    /// sends absolute times: SET PXAT, PEXPIREAT).
    pub async fn apply_from_master(self: &Rc<Self>, calls: Vec<Call>, atomic: bool) {
        const MASTER_CLOCK_MS: u64 = 0;
        if atomic {
            let access = self.wait_until_free().await;
            let held = self.hold_gate(access);
            let _batch = EffectBatch::begin(self);
            for call in &calls {
                self.execute_held(&held, call, MASTER_CLOCK_MS).await;
            }
            return;
        }
        for call in calls {
            if call.is_script() {
                // Free now, so nothing answers it BUSY.
                let _free = self.wait_until_free().await;
                self.execute_when_free(call, MASTER_CLOCK_MS).await;
            } else {
                let access = self.wait_until_free().await;
                self.execute(access, &call, MASTER_CLOCK_MS);
            }
        }
    }

    /// Waits until no script holds this shard. Before the script passes
    /// `busy-reply-threshold` everything waits, as in Redis; after it,
    /// the answer is the BUSY text, or with `busy-behavior defer` the wait
    /// goes on for up to `busy-defer-max-ms`.
    pub async fn wait_for_shard(&self) -> Result<Access<'_>, &'static str> {
        let status = self.script_status();
        let config = &self.node.config;
        let mut defer_until: Option<std::time::Instant> = None;
        loop {
            if let Some(access) = self.gate.open() {
                return Ok(access);
            }
            if !status.is_busy() {
                self.gate.changed().await;
                continue;
            }
            if config.int(Param::BusyBehavior) != BUSY_BEHAVIOR_DEFER {
                return Err(status.busy_reply());
            }
            let max = std::time::Duration::from_millis(config.int(Param::BusyDeferMaxMs) as u64);
            let until = *defer_until.get_or_insert_with(|| std::time::Instant::now() + max);
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(status.busy_reply());
            }
            futures_lite::future::or(self.gate.changed(), glommio::timer::sleep(left)).await;
        }
    }

    /// On core 0: applies a change of the function libraries and records
    /// it in shard 0's write hook in the same step (see `cmd::functions`),
    /// with the shard free, so that the record is not caught in a script's
    /// or an `EXEC`'s batch. Answers once the log holds the record.
    pub async fn change_functions_here(&self, argv: &[Bytes]) -> Reply {
        crate::invariant!(self.shard_id == 0, "library changes are made on core 0");
        let access = match self.wait_for_shard().await {
            Ok(access) => access,
            Err(busy) => return Reply::error(busy),
        };
        let log = self.log.get();
        if let Some(misconf) = log.as_ref().and_then(|log| log.misconf()) {
            return Reply::error(misconf);
        }
        let reply = cmd::functions::apply(self, argv);
        if reply.is_error() {
            return reply;
        }
        self.state
            .borrow_mut()
            .record_outside_keyspace(access, argv);
        let Some(log) = log else {
            return reply;
        };
        let lsn = log.target();
        match log.wait_for(lsn).await {
            Ok(()) => reply,
            Err(misconf) => Reply::error(misconf),
        }
    }
}

/// `busy-behavior defer` (the enum's index in the config).
pub const BUSY_BEHAVIOR_DEFER: i64 = 1;

/// Releases the shard's gate when dropped.
pub struct GateHeld<'a>(&'a Gate);

impl GateHeld<'_> {
    /// Access to the shard for the holder.
    pub fn access(&self) -> Access<'_> {
        self.0.holder_access()
    }
}

impl Drop for GateHeld<'_> {
    fn drop(&mut self) {
        self.0.release();
    }
}

/// A batch of effects (a script, an `EXEC`): begun when made, ended when
/// dropped, so a batch cut short still ends.
pub struct EffectBatch(Rc<Core>);

impl EffectBatch {
    pub fn begin(core: &Rc<Core>) -> Self {
        core.state.borrow_mut().effects.begin_batch();
        EffectBatch(core.clone())
    }
}

impl Drop for EffectBatch {
    fn drop(&mut self) {
        match self.0.state.try_borrow_mut() {
            Ok(mut state) => state.effects.end_batch(),
            Err(_) => crate::util::invariant::broken(format_args!(
                "a batch of effects ended while the shard is borrowed"
            )),
        }
    }
}

/// Releases the shard's gate when dropped; owns its core, so it can move
/// into a task.
struct GateHeldByTask(Rc<Core>);

impl Drop for GateHeldByTask {
    fn drop(&mut self) {
        self.0.gate.release();
    }
}

/// EXEC on the shard that owns the transaction's keys: forgets `watched`
/// and, if none of them changed, runs `calls` back to back, holding the
/// shard's gate, so nothing else touches the shard in between (a script
/// in the transaction may be suspended, the gate stays held): that is the
/// transaction's atomicity. `None`: a watched key changed.
pub async fn run_transaction(
    core: &Rc<Core>,
    watched: &[Watched],
    calls: &[Call],
    now_ms: u64,
) -> Option<Vec<Reply>> {
    if calls.is_empty() {
        // Only forgetting (and checking) watched keys: allowed while a
        // script runs.
        let clean = core.state.borrow_mut().unwatch(watched, now_ms);
        return clean.then(Vec::new);
    }
    let (access, now_ms) = match core.gate.open() {
        Some(access) => (Ok(access), now_ms),
        // The caller's clock reading is as old as the wait.
        None => (core.wait_for_shard().await, crate::util::time::now_ms()),
    };
    let access = match access {
        Ok(access) => access,
        Err(busy) => {
            core.state.borrow_mut().unwatch(watched, now_ms);
            return Some(calls.iter().map(|_| Reply::error(busy)).collect());
        }
    };
    if !core.state.borrow_mut().unwatch(watched, now_ms) {
        return None;
    }
    // Scripts in the transaction may be suspended while they run; the
    // gate keeps every other request off the shard until EXEC ends.
    let held = core.hold_gate(access);
    let _batch = EffectBatch::begin(core);
    let mut replies = Vec::with_capacity(calls.len());
    for call in calls {
        replies.push(core.execute_held(&held, call, now_ms).await);
    }
    Some(replies)
}

/// How the Lua engine reaches this shard: the checks and the entry a
/// script's `redis.call` goes through.
impl ScriptHost for Core {
    fn engine(&self) -> &Engine {
        &self.scripts
    }

    fn script_cache(&self) -> &crate::lua::ScriptCache {
        &self.node.script_cache
    }

    fn functions(&self) -> &crate::lua::functions::Registry {
        &self.node.functions
    }

    fn status(&self) -> &ScriptStatus {
        self.script_status()
    }

    fn config(&self) -> &Config {
        &self.node.config
    }

    fn shard_id(&self) -> usize {
        self.shard_id
    }

    fn became_busy(&self) {
        self.gate.notify();
    }

    fn refuses_script(&self, flags: &crate::lua::engine::ScriptFlags) -> Option<&'static str> {
        self.node
            .replication
            .refuses_script(flags, &self.node.config)
    }

    fn call(&self, argv: Vec<Bytes>) -> Result<Reply, Killed> {
        let c = match cmd::resolve(&argv) {
            Ok(c) => c,
            Err(cmd::Unresolved::Arity(_)) => {
                return Ok(Reply::error(
                    "ERR Wrong number of args calling Redis command from script",
                ))
            }
            Err(_) => return Ok(Reply::error("ERR Unknown Redis command called from script")),
        };
        if c.has(flags::NOSCRIPT) {
            return Ok(Reply::error(
                "ERR This Redis command is not allowed from script",
            ));
        }
        let state = self.scripts.run.get();
        if c.has(flags::WRITE) && state.read_only {
            return Ok(Reply::error(
                "ERR Write commands are not allowed from read-only scripts.",
            ));
        }
        // Scripts run for clients only (the master's stream carries their
        // effects): a read-only replica refuses their writes, as Redis.
        if c.has(flags::WRITE) && self.node.replication.read_only(&self.node.config) {
            return Ok(Reply::error(crate::replication::READONLY));
        }
        if self.pubsub.monitored() && cmd::monitor::shown(c) {
            cmd::monitor::feed(&self.pubsub, state.db as usize, "lua", &argv);
        }
        if let Run::Connection(_) = c.run {
            return Ok(self.script_connection_command(c.name, &argv));
        }
        let shards = self.node.shards();
        for i in c.key_positions(&argv) {
            if shard_of_key(&argv[i], shards) != self.shard_id {
                return Ok(Reply::error(format!(
                    "ERR Script attempted to access key '{}' of another shard: keys a script uses must share a shard (give them the same {{hash tag}})",
                    String::from_utf8_lossy(&argv[i])
                )));
            }
        }
        let call = Call {
            cmd: c,
            db: state.db,
            resp3: state.resp3,
            argv,
        };
        // A write makes the script unkillable; a kill requested before it
        // wins, and the write never happens.
        if c.has(flags::WRITE) && !self.script_status().mark_written() {
            return Err(Killed);
        }
        // The running script's task holds the gate.
        match self.gate.for_holder() {
            Some(access) => Ok(self.execute(access, &call, state.now_ms)),
            None => Ok(Reply::error(
                "ERR internal error: a script ran without its shard",
            )),
        }
    }
}

/// How connection commands reach this core (see [`CoreAccess`]).
impl CoreAccess for Core {
    fn node(&self) -> &Node {
        &self.node
    }

    fn shard_held(&self) -> bool {
        self.gate.is_held()
    }

    fn pubsub(&self) -> &Rc<crate::pubsub::Hub> {
        &self.pubsub
    }

    fn reports(&self) -> LocalFuture<'_, Vec<ShardReport>> {
        Box::pin(async move {
            let mut all = self
                .senders
                .ask_others(|reply| Request::Report { reply })
                .await;
            all.push(self.report());
            all.sort_by_key(|r| r.id);
            all
        })
    }

    fn save(&self, wait: bool) -> LocalFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let me = self.me.upgrade().ok_or("ERR the core is stopping")?;
            super::background::save(me, wait).await
        })
    }

    fn reload_rdb(&self) -> LocalFuture<'_, Result<(), String>> {
        Box::pin(super::background::reload(self))
    }

    fn rewrite_log(&self) -> LocalFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let me = self.me.upgrade().ok_or("ERR the core is stopping")?;
            super::background::rewrite(me).await
        })
    }

    fn set_appendonly(&self, on: bool) -> LocalFuture<'_, Result<(), String>> {
        Box::pin(async move {
            let me = self.me.upgrade().ok_or("ERR the core is stopping")?;
            if on {
                super::background::switch::turn_on(me).await
            } else {
                super::background::switch::turn_off(me).await
            }
        })
    }

    fn change_functions<'a>(&'a self, argv: &'a [Bytes]) -> LocalFuture<'a, Reply> {
        Box::pin(async move {
            if self.shard_id == 0 {
                return self.change_functions_here(argv).await;
            }
            let (reply, answer) = futures_channel::oneshot::channel();
            let request = Request::Functions {
                argv: argv.to_vec(),
                reply,
            };
            let unavailable = || Reply::error("ERR shard unavailable (shutting down)");
            if self.senders.send(0, request).await.is_err() {
                return unavailable();
            }
            answer.await.unwrap_or_else(|_| unavailable())
        })
    }

    fn reset_shard_stats(&self) -> LocalFuture<'_, ()> {
        Box::pin(async move {
            self.state.borrow_mut().reset_stats();
            self.senders
                .ask_others(|reply| Request::ResetStats { reply })
                .await;
        })
    }
}

impl Core {
    /// The connection commands a script may call.
    fn script_connection_command(&self, name: &str, argv: &[Bytes]) -> Reply {
        match name {
            "ping" if argv.len() == 1 => Reply::status("PONG"),
            "ping" => Reply::Bulk(argv[1].clone()),
            "echo" => Reply::Bulk(argv[1].clone()),
            "time" => cmd::admin::time_reply(),
            "select" => match crate::util::numbers::parse_i64(&argv[1]) {
                Some(db) if (0..crate::config::DATABASES as i64).contains(&db) => {
                    let mut state = self.scripts.run.get();
                    state.db = db as u8;
                    self.scripts.run.set(state);
                    Reply::ok()
                }
                Some(_) => Reply::error(cmd::errors::DB_INDEX_OUT_OF_RANGE),
                None => Reply::error(cmd::errors::NOT_INTEGER),
            },
            name => cmd::pubsub::from_script(&self.node.pubsub, name, argv).unwrap_or_else(|| {
                Reply::error("ERR This Redis command is not allowed from script")
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::Arc;

    use bytes::Bytes;

    use crate::cmd::Call;
    use crate::config::Config;
    use crate::node::Node;
    use crate::shard::effects::tests::{command, seen, Seen};
    use crate::shard::mesh;

    fn call(args: &[&str]) -> Call {
        let argv: Vec<Bytes> = args
            .iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        Call {
            cmd: crate::cmd::lookup(&argv[0]).expect("a known command"),
            db: 0,
            resp3: false,
            argv,
        }
    }

    /// A script and an EXEC, run as the server runs them on a real core
    /// (script task queue, gate, Lua VM), are each one batch of effects.
    #[test]
    fn a_script_and_an_exec_are_each_one_batch_of_effects() {
        let executor = glommio::LocalExecutorBuilder::new(glommio::Placement::Unbound)
            .make()
            .expect("an executor (io_uring)");
        executor.run(async {
            let node = Arc::new(Node::new(Config::default(), vec![0]));
            let ends = mesh::build(1).pop().expect("shard 0's ends");
            let (core, _receivers, _queue) = crate::shard::serve::build_core(0, &node, ends)
                .await
                .expect("a core");
            let log = Rc::new(RefCell::new(Vec::new()));
            let sink = log.clone();
            core.state
                .borrow_mut()
                .add_effect_sink(Box::new(move |e| sink.borrow_mut().push(seen(e))));
            let now = crate::util::time::now_ms();
            let writes = "redis.call('set', KEYS[1], '1'); redis.call('get', KEYS[1]); \
                          redis.call('incr', 'n')";
            let reads = "return redis.call('get', KEYS[1])";
            for args in [
                ["EVAL", writes, "1", "a"].as_slice(),
                &["EVAL", reads, "1", "a"],
            ] {
                core.execute_when_free(call(args), now).await;
            }
            let exec = [
                call(&["SET", "b", "1"]),
                call(&["EVAL", writes, "1", "c"]),
                call(&["GET", "b"]),
            ];
            crate::shard::core::run_transaction(&core, &[], &exec, now).await;
            assert_eq!(
                *log.borrow(),
                [
                    Seen::Begin,
                    command(0, "set a 1"),
                    command(0, "incr n"),
                    Seen::End,
                    Seen::Begin,
                    command(0, "SET b 1"),
                    command(0, "set c 1"),
                    command(0, "incr n"),
                    Seen::End,
                ]
            );
        });
    }
}
