//! What the scenario benches share: servers on free ports, killed when
//! dropped (the tests' fixture), and medians.
#![allow(dead_code)] // each bench uses a different part

use std::process::{Command, Stdio};

/// The tests' server fixture: start-up retried on a fresh port when
/// another server takes the port first, and the identity check.
#[path = "../../tests/e2e/common/server.rs"]
mod server;
pub use server::Server;

/// `program --port <free port> args...`, once it accepts connections.
/// `cores`: run it under `taskset -c cores`.
pub fn start(program: &str, args: &[String], cores: Option<&str>) -> Server {
    Server::start(program, args, cores)
}

/// redis-server with persistence off, as the reference.
pub fn start_redis(extra: &[&str], cores: Option<&str>) -> Server {
    Server::redis_on_cores(extra, cores)
}

/// Whether `redis-server` can be run here.
pub fn redis_installed() -> bool {
    Command::new("redis-server")
        .arg("--version")
        .stdout(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// Sends one command to the server on `port` and reads its reply.
pub fn command(port: u16, args: &[&[u8]]) -> shardis::protocol::frame::Frame {
    use std::io::Write;
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .write_all(&shardis::protocol::encode_command(args))
        .expect("send");
    let limits = shardis::protocol::frame::DEFAULT_LIMITS;
    let mut reader = shardis::protocol::frame::FrameReader::new(stream, limits);
    reader.read_frame().expect("a reply")
}

pub fn env(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// The middle value (the upper one of an even count).
pub fn median(mut v: Vec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

pub fn median_f64(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v.get(v.len() / 2).copied().unwrap_or(0.0)
}

/// Microseconds as milliseconds with two decimals.
pub fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}
