//! Starting the node: one pinned glommio executor per shard, each accepting
//! on the shared port, serving its shard's requests and expiring its keys.

pub mod connection;
pub mod feed;
pub mod host;
mod load;
mod port;
pub mod replica;
pub mod route;

use std::rc::Rc;
use std::sync::Arc;
use std::time::Duration;

use glommio::net::TcpListener;
use glommio::{LocalExecutorBuilder, Placement, TaskQueueHandle};

use crate::aof::manifest::Manifest;
use crate::aof::writer::EVERYSEC_INTERVAL;
use crate::config::Param;
use crate::node::Node;
use crate::shard::core::Core;
use crate::shard::mesh::{self, MeshEnds};
use crate::shard::serve::{build_core, expire_loop, serve_peer, spawn_network};

/// How often each core checks whether the node is shutting down.
const SHUTDOWN_POLL_MS: u64 = 10;
/// Longest a shutdown waits for connections to finish their replies.
const SHUTDOWN_GRACE: Duration = Duration::from_secs(5);

/// Runs the node until shutdown. Returns an error line for the user.
pub fn run(node: Arc<Node>) -> Result<(), String> {
    let addr = format!(
        "{}:{}",
        node.config.string(Param::Bind),
        node.config.int(Param::Port)
    );
    let _port_claim = port::claim(&addr)?;
    // Creating one io_uring executor here turns a missing io_uring or a low
    // locked-memory limit into one clear error before any thread starts.
    let first = LocalExecutorBuilder::new(Placement::Unbound)
        .make()
        .map_err(|e| explain_executor_error(&e.to_string()))?;
    // The log's manifest, once for the node, before any shard opens its
    // files (on that executor: glommio files need one).
    let manifest = if node.config.string(Param::Appendonly) == "yes" {
        let config = &node.config;
        let prepared = first.run(load::prepare_log(config, node.shards()))?;
        Some(Arc::new(prepared))
    } else {
        None
    };
    drop(first);
    host::log_startup_warnings(node.shards(), LISTEN_BACKLOG);
    let ends = mesh::build(node.shards());
    let (ready_tx, ready_rx) = std::sync::mpsc::channel::<Result<usize, String>>();
    let mut handles = Vec::new();
    for (id, ends) in ends.into_iter().enumerate() {
        let node = node.clone();
        let addr = addr.clone();
        let ready = ready_tx.clone();
        let manifest = manifest.clone();
        let core = node.cores[id];
        let preempt = Duration::from_millis(node.config.int(Param::PreemptTimerMs) as u64);
        let spin = Duration::from_micros(node.config.int(Param::SpinBeforeParkUs) as u64);
        let mut builder = LocalExecutorBuilder::new(Placement::Fixed(core))
            .name(&format!("shard-{id}"))
            .preempt_timer(preempt);
        if !spin.is_zero() {
            builder = builder.spin_before_park(spin);
        }
        let handle = builder
            .spawn(move || async move { shard_main(id, node, ends, addr, ready, manifest).await })
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
        node.config.int(Param::Port),
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
    manifest: Option<Arc<Manifest>>,
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
    // With the log on, it is authoritative (as Redis: dump.rdb is not
    // loaded).
    let loaded = match &manifest {
        Some(manifest) => load::open_log(&core, manifest).await.map(drop),
        None => load::load_snapshot(&core),
    };
    if let Err(e) = loaded {
        let _ = ready.send(Err(e));
        return;
    }
    // Runs with the log off too: `CONFIG SET appendonly yes` may open it.
    glommio::spawn_local(log_timer(core.clone())).detach();
    for rx in receivers {
        spawn_network(serve_peer(core.clone(), rx, network_queue), network_queue);
    }
    glommio::spawn_local(expire_loop(core.clone())).detach();
    if node.shards() > 1 {
        spawn_network(
            crate::shard::serve::forward_pubsub(core.clone()),
            network_queue,
        );
    }
    if id == 0 {
        glommio::spawn_local(crate::cmd::persistence::cron(core.clone())).detach();
        glommio::spawn_local(feed::cron(core.clone())).detach();
        // The link to a master (REPLICAOF), whenever there is one.
        let link = replica::supervise(core.clone());
        spawn_network(link, network_queue);
    }
    node.shard_loaded();
    let _ = ready.send(Ok(id));
    // Dropped now, so start-up sees a disconnect if another shard fails.
    drop(ready);
    // No client is served before every shard has loaded: a core's first
    // FCALL needs the libraries shard 0 loads.
    while !node.all_loaded() && !node.is_shutting_down() {
        glommio::timer::sleep(Duration::from_millis(1)).await;
    }
    accept_loop(core.clone(), listener, network_queue).await;
    if let Some(log) = core.log.get() {
        log.close().await;
    }
}

/// `everysec`'s timer: a sync at most a second after the last one even
/// when no reply waits for the log (whichever log is open now).
async fn log_timer(core: Rc<Core>) {
    while !core.node.is_shutting_down() {
        glommio::timer::sleep(EVERYSEC_INTERVAL).await;
        if let Some(log) = core.log.get() {
            log.tick().await;
        }
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
