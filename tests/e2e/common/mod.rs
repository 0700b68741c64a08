//! Test harness: start the real `shardis` binary and a real `redis-server`
//! on free ports (server.rs), talk to them with raw RESP ([`Raw`]), compare
//! their replies step by step ([`Transcript`], transcript.rs).
#![allow(dead_code)] // each test file uses a different part of the harness

use std::net::TcpStream;
use std::time::Duration;

use shardis::protocol::frame::{self, Frame, FrameReader, DEFAULT_LIMITS};

pub mod dataset;
mod server;
mod tempdir;
mod transcript;
#[allow(unused_imports)] // free_port: not every test file uses it
pub use server::{free_port, Server};
pub use tempdir::TempDir;
pub use transcript::{Step, Transcript};

/// Longest a test waits for one reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

impl Server {
    pub fn client(&self) -> Raw {
        Raw::connect(self.port)
    }

    pub fn redis_client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("redis client connects")
    }
}

/// A raw RESP client: sends commands, returns each reply's exact bytes.
pub struct Raw {
    reader: FrameReader<TcpStream>,
    writer: TcpStream,
}

impl Raw {
    pub fn connect(port: u16) -> Raw {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("timeout");
        stream.set_nodelay(true).expect("nodelay");
        Raw {
            reader: FrameReader::new(stream.try_clone().expect("clone"), DEFAULT_LIMITS),
            writer: stream,
        }
    }

    pub fn writer_mut(&mut self) -> &mut TcpStream {
        &mut self.writer
    }

    /// Sends raw bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        std::io::Write::write_all(&mut self.writer, bytes).expect("write");
    }

    /// Sends one command as a RESP multibulk, without reading.
    pub fn send(&mut self, args: &[&[u8]]) {
        self.send_raw(&encode(args));
    }

    /// Sends one command and returns its reply's bytes.
    pub fn cmd(&mut self, args: &[&str]) -> String {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        self.send(&args);
        self.read_reply()
    }

    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> Vec<u8> {
        self.send(args);
        self.read_reply_bytes()
    }

    /// Reads one complete reply (of any RESP2/RESP3 type) as text.
    pub fn read_reply(&mut self) -> String {
        String::from_utf8_lossy(&self.read_reply_bytes()).into_owned()
    }

    pub fn read_reply_bytes(&mut self) -> Vec<u8> {
        self.reader
            .read_bytes()
            .unwrap_or_else(|e| panic!("reading a reply: {e}"))
    }

    /// The next reply if one comes within `wait` (a subscriber's next
    /// message, or none).
    pub fn read_reply_within(&mut self, wait: Duration) -> Option<Vec<u8>> {
        self.writer.set_read_timeout(Some(wait)).expect("timeout");
        let reply = self.reader.read_bytes();
        self.writer
            .set_read_timeout(Some(REPLY_TIMEOUT))
            .expect("timeout");
        match reply {
            Ok(reply) => Some(reply),
            Err(e)
                if matches!(
                    e.kind(),
                    std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                ) =>
            {
                None
            }
            Err(e) => panic!("reading a reply: {e}"),
        }
    }

    /// True when the server closed the connection (EOF) within the timeout.
    pub fn is_closed(&mut self) -> bool {
        if !self.reader.buffered().is_empty() {
            return false;
        }
        matches!(self.reader.fill(), Ok(0) | Err(_))
    }
}

/// The shard of the core serving `c`, from CLIENT INFO.
pub fn core_of(c: &mut Raw) -> usize {
    let info = c.cmd(&["CLIENT", "INFO"]);
    info.split_whitespace()
        .find_map(|field| field.strip_prefix("shard="))
        .and_then(|n| n.parse().ok())
        .unwrap_or_else(|| panic!("no shard in {info}"))
}

/// A connection served by `shard`'s core (connections spread over the
/// cores: a few tries find one).
pub fn connect_to_core(port: u16, shard: usize) -> Raw {
    for _ in 0..200 {
        let mut c = Raw::connect(port);
        if core_of(&mut c) == shard {
            return c;
        }
    }
    panic!("no connection landed on shard {shard}'s core");
}

/// One whole reply decoded; panics (failing the test) on anything else.
pub fn frame(reply: &[u8]) -> Frame {
    match frame::decode(reply, &DEFAULT_LIMITS) {
        Ok(Some((frame, _))) => frame,
        other => panic!(
            "not one whole reply ({other:?}): {:?}",
            String::from_utf8_lossy(reply)
        ),
    }
}

/// The elements of a flat reply of bulk strings (an array or a set), as
/// text: "" for a null bulk and any other element.
pub fn bulks(reply: &str) -> Vec<String> {
    bodies(&frame(reply.as_bytes()).items)
}

fn bodies(items: &[Frame]) -> Vec<String> {
    items
        .iter()
        .map(|k| String::from_utf8_lossy(k.body.as_deref().unwrap_or_default()).into_owned())
        .collect()
}

/// A SCAN-family page, `*2 $cursor *N $element ...`, as (cursor,
/// elements).
pub fn scan_page(reply: &str) -> (String, Vec<String>) {
    match frame(reply.as_bytes()).items.as_slice() {
        [cursor, elements] => (
            String::from_utf8_lossy(cursor.text()).into_owned(),
            bodies(&elements.items),
        ),
        _ => panic!("not a SCAN page: {reply:?}"),
    }
}

/// How long [`wait_busy_reply`] polls.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// Sends `command key` on a fresh connection to `port` until it answers
/// `-BUSY` (a script has passed the threshold), instead of sleeping for
/// "long enough"; panics after BUSY_TIMEOUT.
pub fn wait_busy_reply(port: u16, command: &str, key: &str) {
    let mut c = Raw::connect(port);
    let deadline = std::time::Instant::now() + BUSY_TIMEOUT;
    loop {
        let reply = c.cmd(&[command, key]);
        if reply.starts_with("-BUSY") {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "{command} {key} never answered BUSY (last reply {reply:?})"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The first key `prefix<n>` on `shard` of `shards`.
pub fn key_on(shard: usize, shards: usize, prefix: &str) -> String {
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| shardis::util::slot::shard_of_key(k.as_bytes(), shards) == shard)
        .expect("some key lands on every shard")
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    shardis::protocol::encode_command(args)
}

/// Fails with every difference listed (`context` says which setup).
pub fn assert_no_differences(problems: &[String], context: &str) {
    assert!(
        problems.is_empty(),
        "{} difference(s) from redis-server{context}:\n{}",
        problems.len(),
        problems.join("\n")
    );
}

/// Lua (run as a script or a function body) that walks every table the
/// code can reach from its globals: `_G`, every library table, `redis`,
/// keys and values, their metatables and the string metatable. It tries a
/// write into each and returns `{tables walked, paths of the ones that
/// took the write (or failed with another error)...}`.
pub const WALK_READONLY: &str = r#"
local seen, checked, writable = {}, 0, {}
local function probe(t, path)
  if type(t) ~= 'table' or seen[t] then return end
  seen[t] = true
  checked = checked + 1
  local ok, err = pcall(rawset, t, '__sandbox_probe', true)
  if ok then
    rawset(t, '__sandbox_probe', nil)
    writable[#writable + 1] = path
  elseif not string.find(tostring(err), 'readonly table', 1, true) then
    writable[#writable + 1] = path .. ': ' .. tostring(err)
  end
  for k, v in next, t do
    if k ~= '__sandbox_probe' then
      probe(k, path .. '[key]')
      probe(v, path .. '.' .. tostring(k))
    end
  end
  probe(getmetatable(t), 'getmetatable(' .. path .. ')')
end
probe(_G, '_G')
probe(getmetatable(''), "getmetatable('')")
local result = { checked }
for _, path in ipairs(writable) do result[#result + 1] = path end
return result
"#;

/// Asserts a reply of [`WALK_READONLY`]: at least `min` tables walked,
/// none writable.
pub fn assert_all_readonly(reply: &str, min: i64) {
    let walked = reply
        .strip_prefix("*1\r\n:")
        .and_then(|r| r.strip_suffix("\r\n"))
        .and_then(|n| n.parse::<i64>().ok());
    match walked {
        Some(n) => assert!(n >= min, "only {n} tables walked: {reply:?}"),
        None => panic!("writable tables (or an error): {reply:?}"),
    }
}

/// Runs `args` on a redis-rs connection; panics naming the command.
pub fn run(con: &mut redis::Connection, args: &[&[u8]]) -> redis::Value {
    let mut cmd = redis::cmd(std::str::from_utf8(args[0]).expect("command name"));
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(con)
        .unwrap_or_else(|e| panic!("{:?}: {e}", String::from_utf8_lossy(args[0])))
}

/// Fails unless redis-server 7.0's `redis-check-rdb` accepts the file.
pub fn assert_redis_check_rdb(path: &std::path::Path) {
    let check = std::process::Command::new("redis-check-rdb")
        .arg(path)
        .output()
        .expect("redis-check-rdb runs (is it installed?)");
    let report = String::from_utf8_lossy(&check.stdout);
    assert!(
        check.status.success() && report.contains("RDB looks OK"),
        "redis-check-rdb refused {}:\n{report}",
        path.display()
    );
}

/// Stores `keys` keys `<prefix><n>` with `value_bytes`-byte values, by
/// MSETs of 1,000 (keys for a snapshot or a log rewrite to carry).
pub fn mset_many(c: &mut Raw, prefix: &str, keys: usize, value_bytes: usize) {
    let value = "x".repeat(value_bytes);
    for start in (0..keys).step_by(1000) {
        let mut cmd: Vec<String> = vec!["MSET".into()];
        for i in start..(start + 1000).min(keys) {
            cmd.push(format!("{prefix}{i}"));
            cmd.push(value.clone());
        }
        let args: Vec<&str> = cmd.iter().map(String::as_str).collect();
        assert_eq!(c.cmd(&args), "+OK\r\n", "MSET of {prefix}...");
    }
}
