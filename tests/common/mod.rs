//! Test harness: start the real `shardis` binary and a real `redis-server`
//! on free ports, talk to them with raw RESP, compare replies byte for byte.
#![allow(dead_code)] // each test file uses a different part of the harness

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// How long a server may take to start accepting.
const START_TIMEOUT: Duration = Duration::from_secs(20);
/// Longest a test waits for one reply.
const REPLY_TIMEOUT: Duration = Duration::from_secs(20);

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

/// Servers a test starts before it gives up: between `free_port` and the
/// server's bind, another test's server may take the port.
const START_ATTEMPTS: usize = 5;

impl Server {
    /// shardis with `shards` shards and extra flags, on a free port.
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

    /// `None` when shardis exits before it is ready (its port was taken).
    fn try_shardis_on(port: u16, shards: usize, extra: &[&str]) -> Option<Server> {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_shardis"));
        cmd.args(["--port", &port.to_string(), "--shards", &shards.to_string()])
            .args(extra);
        cmd.stdout(Stdio::piped()).stderr(Stdio::null());
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

    /// A real redis-server 7 (the reference). Fails, never skips, when it
    /// is not installed: CI installs it.
    pub fn redis(extra: &[&str]) -> Server {
        (0..START_ATTEMPTS)
            .find_map(|_| {
                let port = free_port();
                let mut cmd = Command::new("redis-server");
                cmd.args([
                    "--port",
                    &port.to_string(),
                    "--save",
                    "",
                    "--appendonly",
                    "no",
                    "--bind",
                    "127.0.0.1",
                ])
                .args(extra);
                Server::try_spawn(cmd, port)
            })
            .expect("redis-server started on a free port")
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

    pub fn client(&self) -> Raw {
        Raw::connect(self.port)
    }

    pub fn redis_client(&self) -> redis::Connection {
        redis::Client::open(format!("redis://127.0.0.1:{}/", self.port))
            .and_then(|c| c.get_connection())
            .expect("redis client connects")
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
    use std::io::{Error, ErrorKind};
    let stream = TcpStream::connect(("127.0.0.1", port))?;
    stream.set_read_timeout(Some(REPLY_TIMEOUT))?;
    (&stream).write_all(&encode(&[b"INFO", b"server"]))?;
    let mut reader = BufReader::new(&stream);
    let mut header = String::new();
    reader.read_line(&mut header)?;
    let len: usize = header
        .strip_prefix('$')
        .and_then(|n| n.trim_end().parse().ok())
        .ok_or_else(|| Error::new(ErrorKind::InvalidData, header.clone()))?;
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body)?;
    Ok(String::from_utf8_lossy(&body).into_owned())
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A raw RESP client: sends commands, returns each reply's exact bytes.
pub struct Raw {
    reader: BufReader<TcpStream>,
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
            reader: BufReader::new(stream.try_clone().expect("clone")),
            writer: stream,
        }
    }

    pub fn writer_mut(&mut self) -> &mut TcpStream {
        &mut self.writer
    }

    /// Sends raw bytes as they are.
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.writer.write_all(bytes).expect("write");
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
        let mut out = Vec::new();
        self.read_value(&mut out);
        out
    }

    /// True when the server closed the connection (EOF) within the timeout.
    pub fn is_closed(&mut self) -> bool {
        let mut buf = [0u8; 1];
        matches!(self.reader.read(&mut buf), Ok(0) | Err(_))
    }

    fn read_line(&mut self, out: &mut Vec<u8>) -> Vec<u8> {
        let mut line = Vec::new();
        let n = self
            .reader
            .read_until(b'\n', &mut line)
            .expect("read reply line");
        assert!(
            n > 0,
            "connection closed while waiting for a reply (got so far: {:?})",
            String::from_utf8_lossy(out)
        );
        out.extend_from_slice(&line);
        line.truncate(line.len().saturating_sub(2));
        line
    }

    fn read_value(&mut self, out: &mut Vec<u8>) {
        let line = self.read_line(out);
        let (kind, rest) = (line[0], &line[1..]);
        let n: i64 = std::str::from_utf8(rest)
            .ok()
            .and_then(|s| s.parse().ok())
            .unwrap_or(0);
        match kind {
            b'$' | b'=' | b'!' if n >= 0 => {
                let mut body = vec![0u8; n as usize + 2];
                self.reader.read_exact(&mut body).expect("read bulk");
                out.extend_from_slice(&body);
            }
            b'*' | b'~' | b'>' => (0..n.max(0)).for_each(|_| self.read_value(out)),
            b'%' | b'|' => (0..2 * n.max(0)).for_each(|_| self.read_value(out)),
            _ => {}
        }
    }
}

/// The first key `prefix<n>` on `shard` of `shards`.
pub fn key_on(shard: usize, shards: usize, prefix: &str) -> String {
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| shardis::shard::shard_of_key(k.as_bytes(), shards) == shard)
        .expect("some key lands on every shard")
}

pub fn encode(args: &[&[u8]]) -> Vec<u8> {
    shardis::protocol::encode_command(args)
}

/// One step of a differential script.
pub enum Step<'a> {
    /// Replies must be identical byte for byte.
    Exact(&'a [&'a str]),
    /// Replies must be identical after sorting the elements of the top-level
    /// array (for SMEMBERS, KEYS, HGETALL pairs ... whose order is unspecified).
    Unordered(&'a [&'a str]),
}

/// Splits a flat reply into its top-level elements' encodings.
fn top_level_elements(reply: &[u8]) -> (Vec<u8>, Vec<Vec<u8>>) {
    let text = reply;
    let header_end = text
        .iter()
        .position(|&c| c == b'\n')
        .map_or(text.len(), |i| i + 1);
    let header = text[..header_end].to_vec();
    let mut elements = Vec::new();
    let mut rest = &text[header_end..];
    while !rest.is_empty() {
        let len = element_len(rest);
        elements.push(rest[..len].to_vec());
        rest = &rest[len..];
    }
    (header, elements)
}

fn element_len(b: &[u8]) -> usize {
    let line_end = b
        .iter()
        .position(|&c| c == b'\n')
        .map_or(b.len(), |i| i + 1);
    let n: i64 = std::str::from_utf8(&b[1..line_end.saturating_sub(2)])
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    match b[0] {
        b'$' | b'=' | b'!' if n >= 0 => line_end + n as usize + 2,
        b'*' | b'~' | b'>' | b'%' | b'|' => {
            let count = if matches!(b[0], b'%' | b'|') {
                2 * n
            } else {
                n
            };
            let mut len = line_end;
            for _ in 0..count.max(0) {
                len += element_len(&b[len..]);
            }
            len
        }
        _ => line_end,
    }
}

/// Runs `steps` on a fresh connection to each server; returns a
/// description of every step whose replies differ (empty: identical).
pub fn diff(a: &Server, b: &Server, steps: &[Step]) -> Vec<String> {
    let (mut ca, mut cb) = (a.client(), b.client());
    let mut problems = Vec::new();
    for step in steps {
        let (args, unordered) = match step {
            Step::Exact(args) => (*args, false),
            Step::Unordered(args) => (*args, true),
        };
        let (mut ra, mut rb) = (ca.cmd(args).into_bytes(), cb.cmd(args).into_bytes());
        if unordered {
            let sort = |r: &[u8]| {
                let (h, mut e) = top_level_elements(r);
                e.sort();
                let mut out = h;
                e.into_iter().for_each(|x| out.extend(x));
                out
            };
            ra = sort(&ra);
            rb = sort(&rb);
        }
        if ra != rb {
            problems.push(format!(
                "{:?}\n  shardis: {:?}\n  redis:   {:?}",
                args,
                String::from_utf8_lossy(&ra),
                String::from_utf8_lossy(&rb)
            ));
        }
    }
    problems
}

/// Asserts that shardis (with `shards` shards) and redis-server answer
/// `steps` identically.
pub fn assert_same_as_redis(shards: usize, steps: &[Step]) {
    let ours = Server::shardis(shards, &[]);
    let reference = Server::redis(&[]);
    let problems = diff(&ours, &reference, steps);
    assert!(
        problems.is_empty(),
        "{} difference(s) from redis-server:\n{}",
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
