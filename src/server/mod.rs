//! Starting the node: one pinned glommio executor per shard, each accepting
//! on the shared port, serving its shard's requests and expiring its keys.

pub mod connection;
pub mod host;
mod port;
pub mod route;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use glommio::channels::shared_channel::ConnectedReceiver;
use glommio::net::TcpListener;
use glommio::{Latency, LocalExecutorBuilder, Placement, Shares, TaskQueueHandle};

use crate::config::{ACTIVE_EXPIRE_KEYS_PER_TICK, MAX_REPLY_BUFFER_BYTES, P, READ_CHUNK_BYTES};
use crate::node::{Core, Node};
use crate::shard::mesh::{self, BatchReplies, MeshEnds, Request};
use crate::shard::{Call, ShardState};

/// How often each core checks whether the node is shutting down.
const SHUTDOWN_POLL_MS: u64 = 10;
/// Longest a shutdown waits for connections to finish their replies.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the node until shutdown. Returns an error line for the user.
pub fn run(node: Arc<Node>) -> Result<(), String> {
    let addr = format!(
        "{}:{}",
        node.config.string(P::Bind),
        node.config.int(P::Port)
    );
    let _port_claim = port::claim(&addr)?;
    // Creating one io_uring executor here turns a missing io_uring or a low
    // locked-memory limit into one clear error before any thread starts.
    LocalExecutorBuilder::new(Placement::Unbound)
        .make()
        .map(drop)
        .map_err(|e| explain_executor_error(&e.to_string()))?;
    host::log_startup_warnings(node.shards(), LISTEN_BACKLOG);
    let ends = mesh::build(node.shards());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<usize, String>>();
    let mut handles = Vec::new();
    for (id, ends) in ends.into_iter().enumerate() {
        let node = node.clone();
        let addr = addr.clone();
        let ready = ready_tx.clone();
        let core = node.cores[id];
        let preempt = Duration::from_millis(node.config.int(P::PreemptTimerMs) as u64);
        let spin = Duration::from_micros(node.config.int(P::SpinBeforeParkUs) as u64);
        let mut builder = LocalExecutorBuilder::new(Placement::Fixed(core))
            .name(&format!("shard-{id}"))
            .preempt_timer(preempt);
        if !spin.is_zero() {
            builder = builder.spin_before_park(spin);
        }
        let handle = builder
            .spawn(move || async move { shard_main(id, node, ends, addr, ready).await })
            .map_err(|e| explain_executor_error(&e.to_string()))?;
        handles.push(handle);
    }
    drop(ready_tx);
    for _ in 0..handles.len() {
        match ready_rx.recv() {
            Ok(Ok(_)) => {}
            Ok(Err(e)) => {
                node.begin_shutdown();
                return Err(e);
            }
            Err(_) => {
                node.begin_shutdown();
                return Err("a shard executor failed to start (see the error above)".into());
            }
        }
    }
    println!(
        "shardis {} ready: port {}, {} shard(s) on cores {:?}",
        env!("CARGO_PKG_VERSION"),
        node.config.int(P::Port),
        node.shards(),
        node.cores
    );
    for h in handles {
        if h.join().is_err() {
            return Err("a shard stopped with an error".into());
        }
    }
    Ok(())
}

fn explain_executor_error(e: &str) -> String {
    let lower = e.to_ascii_lowercase();
    if lower.contains("memlock")
        || e.contains("locked")
        || e.contains("ENOMEM")
        || e.contains("Cannot allocate memory")
    {
        format!("cannot start a shard executor: {e}. io_uring needs locked memory: {}; see tuning/README.md", host::MEMLOCK_FIX)
    } else if e.contains("io_uring")
        || e.contains("Function not implemented")
        || e.contains("Operation not permitted")
    {
        format!("cannot start a shard executor: {e}. shardis needs io_uring (Linux 5.8+, not disabled by sysctl kernel.io_uring_disabled or a seccomp profile)")
    } else {
        format!("cannot start a shard executor: {e}")
    }
}

async fn shard_main(
    id: usize,
    node: Arc<Node>,
    ends: MeshEnds,
    addr: String,
    ready: std::sync::mpsc::Sender<Result<usize, String>>,
) {
    let listener = match listen(&addr) {
        Ok((listener, fd)) => {
            node.add_listener(fd);
            listener
        }
        Err(e) => {
            let _ = ready.send(Err(format!("cannot listen on {addr}: {e}")));
            return;
        }
    };
    if node.is_shutting_down() {
        // Shutdown began before this listener was registered.
        let _ = ready.send(Err("shutting down during start-up".into()));
        return;
    }
    let (core, receivers, network_queue) = match build_core(id, &node, ends).await {
        Ok(built) => built,
        Err(e) => {
            let _ = ready.send(Err(e));
            return;
        }
    };
    for rx in receivers {
        spawn_network(serve_peer(core.clone(), rx, network_queue), network_queue);
    }
    glommio::spawn_local(expire_loop(core.clone())).detach();
    let _ = ready.send(Ok(id));
    // Dropped now, so start-up sees a disconnect if another shard fails.
    drop(ready);
    accept_loop(core, listener, network_queue).await;
}

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
    let state = ShardState::new(id, node.cores[id], node.shards());
    let link: crate::lua::HostLink = Default::default();
    let memory_limit = node.config.int(P::LuaMemoryLimit) as usize;
    let scripts = crate::lua::Engine::new(link.clone(), memory_limit)
        .map_err(|e| format!("cannot create the Lua VM of shard {id}: {e}"))?;
    let executor = glommio::executor();
    let preempt = Duration::from_millis(node.config.int(P::PreemptTimerMs) as u64);
    // Network work (connections, requests from other cores) outranks
    // scripts: a script yields its queue whenever glommio asks, and the
    // network queue then runs first.
    let network_queue =
        executor.create_task_queue(Shares::Static(1000), Latency::Matters(preempt), "network");
    let script_queue =
        executor.create_task_queue(Shares::Static(1), Latency::NotImportant, "scripts");
    let core = Rc::new(Core {
        shard_id: id,
        node: node.clone(),
        state: state.into(),
        senders,
        scripts,
        gate: Default::default(),
        script_queue,
        read_chunk: std::cell::RefCell::new(vec![0; READ_CHUNK_BYTES].into_boxed_slice()),
    });
    let host: Rc<dyn crate::lua::ScriptHost> = core.clone();
    *link.borrow_mut() = Some(Rc::downgrade(&host));
    Ok((core, receivers, network_queue))
}

fn spawn_network(task: impl std::future::Future<Output = ()> + 'static, queue: TaskQueueHandle) {
    match glommio::spawn_local_into(task, queue) {
        Ok(task) => drop(task.detach()),
        Err(e) => eprintln!("cannot spawn a network task: {e}"),
    }
}

/// Listen backlog of each core's socket (glommio's own bind uses 1024).
const LISTEN_BACKLOG: i32 = 1024;

/// This core's listening socket, with SO_REUSEPORT so every core accepts on
/// the same port; its descriptor is returned so shutdown can wake accept.
fn listen(addr: &str) -> std::io::Result<(TcpListener, std::os::fd::RawFd)> {
    use std::net::ToSocketAddrs;
    use std::os::fd::{FromRawFd, IntoRawFd};
    let sockaddr = addr
        .to_socket_addrs()?
        .next()
        .ok_or_else(|| std::io::Error::other("address resolves to nothing"))?;
    let domain = socket2::Domain::for_address(sockaddr);
    let socket = socket2::Socket::new(domain, socket2::Type::STREAM, None)?;
    // As Redis: a restart may bind while old connections sit in TIME_WAIT.
    socket.set_reuse_address(true)?;
    socket.set_reuse_port(true)?;
    socket.bind(&sockaddr.into())?;
    socket.listen(LISTEN_BACKLOG)?;
    let fd = socket.into_raw_fd();
    // SAFETY: `fd` is a listening TCP socket we just created and whose
    // ownership `into_raw_fd` released; nothing else holds or closes it, so
    // the TcpListener becomes its only owner.
    let listener = unsafe { TcpListener::from_raw_fd(fd) };
    Ok((listener, fd))
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
                Request::Transaction { .. } => true,
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
            let now = crate::shard::now_ms();
            let mut replies = Vec::with_capacity(calls.len());
            let mut reply_bytes = 0;
            let mut calls = calls.into_iter();
            for call in calls.by_ref() {
                let r = core.execute_when_free(&call, now).await;
                reply_bytes += r.size_estimate();
                replies.push(r);
                if reply_bytes > MAX_REPLY_BUFFER_BYTES {
                    break;
                }
            }
            core.state.borrow_mut().stats.forwarded_in += replies.len() as u64;
            let unrun = calls.collect();
            let _ = reply.send(BatchReplies { replies, unrun });
        }
        Request::Watch { db, keys, reply } => {
            let now = crate::shard::now_ms();
            let _ = reply.send(core.state.borrow_mut().watch(db, &keys, now));
        }
        Request::Transaction {
            watched,
            calls,
            reply,
        } => {
            core.state.borrow_mut().stats.forwarded_in += calls.len() as u64;
            let now = crate::shard::now_ms();
            let result = crate::shard::core::run_transaction(&core, &watched, &calls, now).await;
            let _ = reply.send(result);
        }
        Request::Report { reply } => {
            let _ = reply.send(core.state.borrow().report());
        }
        Request::ResetStats { reply } => {
            core.state.borrow_mut().stats = Default::default();
            let _ = reply.send(());
        }
    }
}

/// Active expiry: a bounded amount of work, `hz` times a second.
async fn expire_loop(core: Rc<Core>) {
    while !core.node.is_shutting_down() {
        let hz = core.node.config.int(P::Hz).max(1) as u64;
        glommio::timer::sleep(Duration::from_millis(1000 / hz)).await;
        // A script sees the keyspace as of its start; expiry waits for it.
        let Some(access) = core.gate.open() else {
            continue;
        };
        core.expire_tick(access, ACTIVE_EXPIRE_KEYS_PER_TICK);
        // After SCRIPT FLUSH on any core, this VM's compiled scripts go
        // now rather than at its next EVAL (an atomic load when nothing
        // changed).
        core.scripts.sync_epoch(core.node.script_cache.epoch());
    }
}

async fn accept_loop(core: Rc<Core>, listener: TcpListener, network_queue: TaskQueueHandle) {
    let node = core.node.clone();
    loop {
        // Shutdown wakes this accept by shutting the listening socket down
        // (Node::begin_shutdown); nothing polls it in between.
        let accepted = listener.accept().await;
        if node.is_shutting_down() {
            break;
        }
        let stream = match accepted {
            Ok(s) => s,
            Err(e) => {
                eprintln!("accept failed: {e}");
                glommio::timer::sleep(Duration::from_millis(10)).await;
                continue;
            }
        };
        node.stats
            .connections_received
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        use std::os::fd::AsRawFd;
        let addr = stream
            .peer_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let laddr = stream
            .local_addr()
            .map(|a| a.to_string())
            .unwrap_or_default();
        let Some(client) = node.register_client(addr, laddr, stream.as_raw_fd(), core.shard_id)
        else {
            node.stats
                .rejected_connections
                .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            spawn_network(
                async move {
                    use futures_lite::AsyncWriteExt;
                    let mut stream = stream;
                    let _ = stream
                        .write_all(b"-ERR max number of clients reached\r\n")
                        .await;
                    let _ = stream.close().await;
                },
                network_queue,
            );
            continue;
        };
        spawn_network(
            connection::serve(core.clone(), stream, client),
            network_queue,
        );
    }
    drop(listener);
    // Connections (on every core) finish their in-flight replies; this
    // shard keeps serving requests from other cores until they are done.
    let deadline = std::time::Instant::now() + SHUTDOWN_GRACE;
    while node.open_connections() > 0 && std::time::Instant::now() < deadline {
        glommio::timer::sleep(Duration::from_millis(SHUTDOWN_POLL_MS)).await;
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;
    use std::sync::Arc;

    use bytes::Bytes;

    use crate::config::Config;
    use crate::node::Node;
    use crate::shard::effects::tests::{command, seen, Seen};
    use crate::shard::{mesh, Call};

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
            let (core, _receivers, _queue) =
                super::build_core(0, &node, ends).await.expect("a core");
            let log = Rc::new(RefCell::new(Vec::new()));
            let sink = log.clone();
            core.state
                .borrow_mut()
                .add_effect_sink(Box::new(move |e| sink.borrow_mut().push(seen(e))));
            let now = crate::shard::now_ms();
            let writes = "redis.call('set', KEYS[1], '1'); redis.call('get', KEYS[1]); \
                          redis.call('incr', 'n')";
            let reads = "return redis.call('get', KEYS[1])";
            for args in [
                ["EVAL", writes, "1", "a"].as_slice(),
                &["EVAL", reads, "1", "a"],
            ] {
                core.execute_when_free(&call(args), now).await;
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
