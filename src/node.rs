//! State shared by the whole node (every core): configuration, topology,
//! clients, shutdown; and [`Core`], what one executor owns.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::os::fd::RawFd;
use std::rc::Rc;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicU8, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::cmd::Run;
use crate::config::Config;
use crate::config::P;
use crate::protocol::Reply;
use crate::shard::gate::{Access, Gate};
use crate::shard::mesh::Senders;
use crate::shard::script_status::{KillReason, ScriptStatus};
use crate::shard::{Call, ShardState};

/// One connected client, visible to every core (CLIENT LIST / KILL).
pub struct ClientInfo {
    pub id: u64,
    pub addr: String,
    pub laddr: String,
    pub fd: RawFd,
    /// Shard (core) whose executor serves the connection.
    pub shard: usize,
    pub created: Instant,
    pub last_command_ms: AtomicU64,
    pub db: AtomicU8,
    pub resp: AtomicU8,
    pub name: Mutex<String>,
    pub lib_name: Mutex<String>,
    pub lib_ver: Mutex<String>,
    pub killed: AtomicBool,
}

/// Node-wide counters.
#[derive(Default)]
pub struct NodeStats {
    pub connections_received: AtomicU64,
    pub rejected_connections: AtomicU64,
}

pub struct Node {
    pub config: Config,
    /// Scripts by sha1, for every core.
    pub script_cache: crate::lua::ScriptCache,
    /// Function libraries (FUNCTION LOAD), for every core.
    pub functions: crate::lua::functions::Registry,
    /// Core id of each shard.
    pub cores: Vec<usize>,
    pub started: Instant,
    pub run_id: String,
    pub shutting_down: AtomicBool,
    pub stats: NodeStats,
    next_client_id: AtomicU64,
    clients: Mutex<BTreeMap<u64, Arc<ClientInfo>>>,
    /// Every core's listening socket, shut down to end its accept loop.
    listeners: Mutex<Vec<RawFd>>,
    /// What each shard's script is doing (index: shard).
    pub script_status: Vec<ScriptStatus>,
}

impl Node {
    pub fn new(config: Config, cores: Vec<usize>) -> Self {
        let seed = crate::shard::now_ms() ^ std::process::id() as u64;
        Node {
            config,
            script_cache: crate::lua::ScriptCache::default(),
            functions: crate::lua::functions::Registry::default(),
            started: Instant::now(),
            run_id: (0..40)
                .map(|i| {
                    let x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15).rotate_left(i * 7)
                        ^ (i as u64 * 31);
                    char::from_digit((x % 16) as u32, 16).unwrap_or('0')
                })
                .collect(),
            shutting_down: AtomicBool::new(false),
            stats: NodeStats::default(),
            next_client_id: AtomicU64::new(1),
            clients: Mutex::new(BTreeMap::new()),
            listeners: Mutex::new(Vec::new()),
            script_status: cores.iter().map(|_| ScriptStatus::default()).collect(),
            cores,
        }
    }

    pub fn shards(&self) -> usize {
        self.cores.len()
    }

    fn lock_clients(&self) -> std::sync::MutexGuard<'_, BTreeMap<u64, Arc<ClientInfo>>> {
        self.clients.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Connections not closed yet, killed ones included (shutdown waits
    /// for them).
    pub fn open_connections(&self) -> usize {
        self.lock_clients().len()
    }

    /// Live (not killed) clients: the same ones [`Node::clients`] lists, so
    /// `connected_clients` always equals `CLIENT LIST`.
    pub fn client_count(&self) -> usize {
        self.lock_clients()
            .values()
            .filter(|c| !c.killed.load(Ordering::Relaxed))
            .count()
    }

    /// Registers a new connection; None when `maxclients` is reached.
    pub fn register_client(
        &self,
        addr: String,
        laddr: String,
        fd: RawFd,
        shard: usize,
    ) -> Option<Arc<ClientInfo>> {
        let mut clients = self.lock_clients();
        let max = self.config.int(crate::config::P::Maxclients) as usize;
        if clients.len() >= max {
            return None;
        }
        let info = Arc::new(ClientInfo {
            id: self.next_client_id.fetch_add(1, Ordering::Relaxed),
            addr,
            laddr,
            fd,
            shard,
            created: Instant::now(),
            last_command_ms: AtomicU64::new(crate::shard::now_ms()),
            db: AtomicU8::new(0),
            resp: AtomicU8::new(2),
            name: Mutex::new(String::new()),
            lib_name: Mutex::new(String::new()),
            lib_ver: Mutex::new(String::new()),
            killed: AtomicBool::new(false),
        });
        clients.insert(info.id, info.clone());
        Some(info)
    }

    /// Must be called before the connection's socket is closed, so a
    /// concurrent kill never touches a reused descriptor.
    pub fn unregister_client(&self, id: u64) {
        self.lock_clients().remove(&id);
    }

    /// Live (not killed) clients.
    pub fn clients(&self) -> Vec<Arc<ClientInfo>> {
        self.lock_clients()
            .values()
            .filter(|c| !c.killed.load(Ordering::Relaxed))
            .cloned()
            .collect()
    }

    /// Kills the clients `pred` selects: marks them and shuts their sockets
    /// down so a pending read wakes up. Returns how many.
    pub fn kill_clients(&self, mut pred: impl FnMut(&ClientInfo) -> bool) -> usize {
        let clients = self.lock_clients();
        let mut n = 0;
        // A killed client stays registered until its task sees the closed
        // socket; it must not be found (or counted) a second time.
        for c in clients
            .values()
            .filter(|c| !c.killed.load(Ordering::Relaxed) && pred(c))
        {
            c.killed.store(true, Ordering::Relaxed);
            // SAFETY-free: shutdown(2) on a descriptor that the registry
            // guarantees is still open (unregister happens before close).
            shutdown_socket(c.fd);
            n += 1;
        }
        n
    }

    /// Registers a core's listening socket (open until shutdown ends the
    /// accept loop, which is the only place that closes it).
    pub fn add_listener(&self, fd: RawFd) {
        self.listeners
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(fd);
    }

    /// Starts a clean shutdown: listeners stop, connections finish their
    /// in-flight replies and close.
    pub fn begin_shutdown(&self) {
        if !self.shutting_down.swap(true, Ordering::SeqCst) {
            // Scripts stop too, even those that wrote: nothing is saved.
            for status in &self.script_status {
                status.request_kill(KillReason::Shutdown);
            }
            // A pending accept fails once its listening socket is shut down.
            for &fd in self
                .listeners
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .iter()
            {
                shutdown_socket(fd);
            }
            let clients = self.lock_clients();
            for c in clients.values() {
                shutdown_read(c.fd);
            }
        }
    }

    pub fn is_shutting_down(&self) -> bool {
        self.shutting_down.load(Ordering::Relaxed)
    }
}

fn shutdown_socket(fd: RawFd) {
    // SAFETY: shutdown(2) takes a plain integer and touches no memory of
    // ours; the registry lock held by the caller keeps `fd` open.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RDWR);
    }
}

fn shutdown_read(fd: RawFd) {
    // SAFETY: as in `shutdown_socket`.
    unsafe {
        libc::shutdown(fd, libc::SHUT_RD);
    }
}

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
}

impl Core {
    /// Runs a shard-side command on this shard now: the one entry point for
    /// every command that touches the keyspace — local, forwarded, a
    /// script's `redis.call`, an EXEC batch. `access` proves the caller may
    /// touch the shard (see [`Access`]).
    pub fn execute(&self, _access: Access<'_>, call: &Call, now_ms: u64) -> Reply {
        match call.cmd.run {
            Run::Script(_) => {
                Reply::error("ERR internal error: a script must run through the shard gate")
            }
            _ => self.state.borrow_mut().execute(call, now_ms),
        }
    }

    /// Runs `call` once the shard is free: a script first takes the gate
    /// (and holds it while it runs); while another script holds it the
    /// call waits, or gets `-BUSY` (see [`Core::wait_for_shard`]).
    pub async fn execute_when_free(self: &Rc<Self>, call: &Call, now_ms: u64) -> Reply {
        // Open (the common case): no wait to set up.
        let access = match self.gate.open() {
            Some(access) => access,
            None => match self.wait_for_shard().await {
                Ok(access) => access,
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
                self.run_script(run(self.clone(), call.clone(), now_ms), Some(held))
                    .await
            }
            _ => self.execute(access, call, now_ms),
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
    pub fn expire_tick(&self, _access: Access<'_>, budget: usize) {
        self.state.borrow_mut().expire_tick(budget);
    }

    /// Runs a script as a task of its own in the core's script queue (low
    /// priority: when the interrupt yields, the core's connections run
    /// first). Detached: it runs to its end even if the caller stops
    /// waiting for it. `held` (the gate) comes back with the reply and is
    /// released by the caller as it resumes, so a caller with more scripts
    /// pipelined takes the gate again before the waiters it wakes run; if
    /// the caller is gone, it goes with the task's unread output. Its
    /// changes are one batch of effects.
    async fn run_script(
        self: &Rc<Self>,
        script: crate::cmd::ScriptFuture,
        held: Option<GateHeldByTask>,
    ) -> Reply {
        let batch = EffectBatch::begin(self);
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
            if config.int(P::BusyBehavior) != BUSY_BEHAVIOR_DEFER {
                return Err(status.busy_reply());
            }
            let max = std::time::Duration::from_millis(config.int(P::BusyDeferMaxMs) as u64);
            let until = *defer_until.get_or_insert_with(|| std::time::Instant::now() + max);
            let left = until.saturating_duration_since(std::time::Instant::now());
            if left.is_zero() {
                return Err(status.busy_reply());
            }
            futures_lite::future::or(self.gate.changed(), glommio::timer::sleep(left)).await;
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
