//! The server fixture the tests and the benches share (the benches include
//! this file by path): a real `shardis` or `redis-server` on a free port,
//! killed when dropped.
//!
//! Between `free_port` and the server's bind, another test's server may
//! take the port, so a start is retried on a fresh port, and a server only
//! counts as started once what answers on the port is the process we
//! started (its `process_id` in INFO server) or, for shardis, once it has
//! printed its ready line.
#![allow(dead_code)] // the tests and the benches each use a different part

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use shardis::protocol::frame::{FrameReader, DEFAULT_LIMITS};

/// How long a server may take to start accepting.
pub const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest the identity check waits for its INFO reply.
const INFO_TIMEOUT: Duration = Duration::from_secs(20);
/// Servers a start tries before it gives up (each on a fresh port).
const START_ATTEMPTS: usize = 5;

pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A server process that is killed when dropped.
pub struct Server {
    pub port: u16,
    child: Child,
}

impl Server {
    /// shardis (the binary of this build) with `shards` shards and extra
    /// flags, on a free port.
    pub fn shardis(shards: usize, extra: &[&str]) -> Server {
        (0..START_ATTEMPTS)
            .find_map(|_| Server::try_shardis_on(free_port(), shards, extra))
            .expect("shardis started on a free port and printed its ready line")
    }

    /// shardis on a given port.
    pub fn shardis_on(port: u16, shards: usize, extra: &[&str]) -> Server {
        Server::try_shardis_on(port, shards, extra)
            .expect("shardis started and printed its ready line")
    }

    /// [`Server::shardis`] with its standard error appended to `stderr`.
    pub fn shardis_logging(shards: usize, extra: &[&str], stderr: &std::path::Path) -> Server {
        (0..START_ATTEMPTS)
            .find_map(|_| {
                let log = std::fs::OpenOptions::new()
                    .create(true)
                    .append(true)
                    .open(stderr)
                    .expect("open the stderr file");
                Server::try_shardis_with(free_port(), shards, extra, log.into())
            })
            .expect("shardis started on a free port and printed its ready line")
    }

    /// `None` when shardis exits before it is ready (its port was taken).
    fn try_shardis_on(port: u16, shards: usize, extra: &[&str]) -> Option<Server> {
        Server::try_shardis_with(port, shards, extra, Stdio::null())
    }

    fn try_shardis_with(port: u16, shards: usize, extra: &[&str], stderr: Stdio) -> Option<Server> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shardis"));
        cmd.args(["--port", &port.to_string(), "--shards", &shards.to_string()])
            .args(extra);
        cmd.stdout(Stdio::piped()).stderr(stderr);
        let mut child = cmd.spawn().expect("start shardis");
        // Every shard listens once the "ready" line is printed.
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.contains(" ready: ") {
                    let _ = tx.send(());
                }
            }
        });
        let server = Server { port, child };
        rx.recv_timeout(START_TIMEOUT).ok()?;
        Some(server)
    }

    /// A real redis-server 7 (the reference), persistence off. Fails,
    /// never skips, when it is not installed: CI installs it.
    pub fn redis(extra: &[&str]) -> Server {
        Server::redis_on_cores(extra, None)
    }

    /// [`Server::redis`] under `taskset -c cores` when `cores` is given.
    pub fn redis_on_cores(extra: &[&str], cores: Option<&str>) -> Server {
        let mut args: Vec<String> = ["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        args.extend(extra.iter().map(|s| s.to_string()));
        Server::start("redis-server", &args, cores)
    }

    /// A redis-server on `port` (a master restarted on its old port),
    /// persistence off as for [`Server::redis`].
    pub fn redis_on(port: u16, extra: &[&str]) -> Server {
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let mut cmd = Command::new("redis-server");
            cmd.args(["--port", &port.to_string()])
                .args(["--save", "", "--appendonly", "no", "--bind", "127.0.0.1"])
                .args(extra);
            if let Some(server) = Server::try_spawn(cmd, port) {
                return server;
            }
            assert!(
                Instant::now() < deadline,
                "redis-server did not start on port {port}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    /// `program --port <free port> args...` (under `taskset -c cores` when
    /// `cores` is given), once it accepts connections and is the process
    /// that answers on its port.
    pub fn start(program: &str, args: &[String], cores: Option<&str>) -> Server {
        (0..START_ATTEMPTS)
            .find_map(|_| {
                let port = free_port();
                // taskset execs the program: the pid stays the server's.
                let mut cmd = match cores {
                    Some(cores) => {
                        let mut c = Command::new("taskset");
                        c.args(["-c", cores, program]);
                        c
                    }
                    None => Command::new(program),
                };
                cmd.args(["--port", &port.to_string()]).args(args);
                Server::try_spawn(cmd, port)
            })
            .unwrap_or_else(|| panic!("{program} started on a free port"))
    }

    /// `None` when the server exits before it accepts, or when what
    /// accepts on the port is another process (it took the port first).
    fn try_spawn(mut cmd: Command, port: u16) -> Option<Server> {
        cmd.stdout(Stdio::null()).stderr(Stdio::null());
        let child = cmd.spawn().unwrap_or_else(|e| {
            panic!(
                "cannot start {:?}: {e} (is it installed?)",
                cmd.get_program()
            )
        });
        let mut server = Server { port, child };
        let deadline = Instant::now() + START_TIMEOUT;
        while TcpStream::connect(("127.0.0.1", port)).is_err() {
            if server.child.try_wait().ok().flatten().is_some() {
                return None;
            }
            assert!(
                Instant::now() < deadline,
                "server on port {port} did not start"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        let ours = format!("process_id:{}\r\n", server.child.id());
        match server_info(port) {
            Ok(info) if info.contains(&ours) => Some(server),
            // Another process answered, or the one that accepted closed the
            // connection (a test's server being stopped): try another port.
            _ => None,
        }
    }

    /// Waits up to `timeout` for the process to exit; its exit status.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            if Instant::now() > deadline {
                return None;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

/// `INFO server` from whatever listens on `port`, or the I/O error that
/// stopped it: the identity check must not panic when a stranger answers.
fn server_info(port: u16) -> std::io::Result<String> {
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(INFO_TIMEOUT))?;
    (&stream).write_all(&shardis::protocol::encode_command(&["INFO", "server"]))?;
    let frame = FrameReader::new(stream, DEFAULT_LIMITS).read_frame()?;
    Ok(String::from_utf8_lossy(frame.text()).into_owned())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
