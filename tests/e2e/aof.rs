//! The append-only log end to end: a real server restarted on its own
//! directory, after a clean SHUTDOWN and after `kill -9`; damaged files.

use std::collections::HashMap;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use shardis::protocol::frame::{FrameReader, DEFAULT_LIMITS};

use crate::common::{bulks, encode, key_on, Server, TempDir};

const SHARDS: usize = 2;
const EXIT_TIMEOUT: Duration = Duration::from_secs(10);

/// Shard `shard`'s incremental file (the first one of a fresh log).
fn incr_file(dir: &TempDir, shard: usize) -> PathBuf {
    dir.0
        .join("appendonlydir")
        .join(format!("appendonly.aof.{shard}.1.incr.aof"))
}

fn start(dir: &TempDir, fsync: &str) -> Server {
    start_logged(dir, SHARDS, fsync)
}

/// shardis with `shards` shards and the log on in `dir`.
pub(crate) fn start_logged(dir: &TempDir, shards: usize, fsync: &str) -> Server {
    Server::shardis(
        shards,
        &[
            "--dir",
            dir.path(),
            "--appendonly",
            "yes",
            "--appendfsync",
            fsync,
        ],
    )
}

pub(crate) fn shutdown(server: &mut Server) {
    server.client().send(&[b"SHUTDOWN"]);
    assert!(server.wait_exit(EXIT_TIMEOUT).is_some(), "shardis exits");
}

pub(crate) fn kill9(server: &mut Server) {
    let status = std::process::Command::new("kill")
        .args(["-9", &server.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success(), "kill -9");
    assert!(server.wait_exit(EXIT_TIMEOUT).is_some(), "shardis died");
}

/// A bulk string reply's text; `None` for nil.
fn bulk(reply: &str) -> Option<String> {
    crate::common::frame(reply.as_bytes())
        .body
        .as_deref()
        .map(|b| String::from_utf8_lossy(b).into_owned())
}

fn sorted(reply: &str) -> Vec<String> {
    let mut items = bulks(reply);
    items.sort();
    items
}

#[test]
fn a_clean_restart_brings_every_key_back() {
    let dir = TempDir::new("aof-restart");
    let mut server = start(&dir, "everysec");
    let mut c = server.client();
    let mut strings = Vec::new();
    for shard in 0..SHARDS {
        let k = key_on(shard, SHARDS, "str");
        assert_eq!(c.cmd(&["SET", &k, &format!("v{shard}")]), "+OK\r\n");
        strings.push(k);
    }
    c.cmd(&["RPUSH", "list", "a", "b", "c"]);
    c.cmd(&["LPOP", "list"]);
    c.cmd(&["HSET", "hash", "f1", "v1", "f2", "v2"]);
    c.cmd(&["SADD", "set", "x", "y", "z"]);
    c.cmd(&["SREM", "set", "y"]);
    c.cmd(&["SADD", "popped", "1", "2", "3", "4", "5"]);
    c.cmd(&["SPOP", "popped", "2"]);
    let left = sorted(&c.cmd(&["SMEMBERS", "popped"]));
    c.cmd(&["ZADD", "zset", "1", "one", "2.5", "two"]);
    c.cmd(&["SET", "ttl", "v", "EX", "1000"]);
    c.cmd(&["SETEX", "ttl2", "1000", "v"]);
    c.cmd(&["SET", "gone", "v"]);
    c.cmd(&["DEL", "gone"]);
    c.cmd(&["SELECT", "5"]);
    c.cmd(&["SET", "in5", "five"]);
    c.cmd(&["SELECT", "0"]);
    let script = "redis.call('SET', KEYS[1], 'a'); redis.call('INCRBY', KEYS[2], 7)";
    c.cmd(&["EVAL", script, "2", "{s}one", "{s}two"]);
    c.cmd(&["MULTI"]);
    c.cmd(&["SET", "{t}one", "x"]);
    c.cmd(&["INCR", "{t}two"]);
    assert_eq!(c.cmd(&["EXEC"]), "*2\r\n+OK\r\n:1\r\n");
    drop(c);
    shutdown(&mut server);

    let server = start(&dir, "everysec");
    let mut c = server.client();
    for (shard, k) in strings.iter().enumerate() {
        assert_eq!(
            bulk(&c.cmd(&["GET", k])).as_deref(),
            Some(format!("v{shard}").as_str())
        );
    }
    assert_eq!(bulks(&c.cmd(&["LRANGE", "list", "0", "-1"])), ["b", "c"]);
    assert_eq!(
        sorted(&c.cmd(&["HGETALL", "hash"])),
        ["f1", "f2", "v1", "v2"]
    );
    assert_eq!(sorted(&c.cmd(&["SMEMBERS", "set"])), ["x", "z"]);
    assert_eq!(
        sorted(&c.cmd(&["SMEMBERS", "popped"])),
        left,
        "SPOP replays as what it popped"
    );
    assert_eq!(
        bulks(&c.cmd(&["ZRANGE", "zset", "0", "-1", "WITHSCORES"])),
        ["one", "1", "two", "2.5"]
    );
    for key in ["ttl", "ttl2"] {
        let ttl: i64 = c.cmd(&["TTL", key])[1..].trim().parse().expect("a TTL");
        assert!((990..=1000).contains(&ttl), "{key}: ttl {ttl}");
    }
    assert_eq!(c.cmd(&["EXISTS", "gone"]), ":0\r\n");
    c.cmd(&["SELECT", "5"]);
    assert_eq!(bulk(&c.cmd(&["GET", "in5"])).as_deref(), Some("five"));
    c.cmd(&["SELECT", "0"]);
    assert_eq!(bulk(&c.cmd(&["GET", "{s}one"])).as_deref(), Some("a"));
    assert_eq!(bulk(&c.cmd(&["GET", "{s}two"])).as_deref(), Some("7"));
    assert_eq!(bulk(&c.cmd(&["GET", "{t}one"])).as_deref(), Some("x"));
    assert_eq!(bulk(&c.cmd(&["GET", "{t}two"])).as_deref(), Some("1"));
    let info = c.cmd(&["INFO", "persistence"]);
    assert!(info.contains("aof_enabled:1"), "{info}");
    assert!(info.contains("aof_last_write_status:ok"), "{info}");
    assert!(info.contains("aof_shard1:size="), "{info}");
}

/// A client that stops at the first error instead of panicking: the
/// server is killed under it.
struct Client {
    reader: FrameReader<TcpStream>,
    writer: TcpStream,
}

impl Client {
    fn connect(port: u16) -> Client {
        let stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        stream
            .set_read_timeout(Some(EXIT_TIMEOUT))
            .expect("timeout");
        Client {
            reader: FrameReader::new(stream.try_clone().expect("clone"), DEFAULT_LIMITS),
            writer: stream,
        }
    }

    /// Sends commands pipelined; their replies, or `None` once the
    /// connection breaks.
    fn call(&mut self, commands: &[&[&str]]) -> Option<Vec<String>> {
        let mut bytes = Vec::new();
        for args in commands {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            bytes.extend(encode(&args));
        }
        std::io::Write::write_all(&mut self.writer, &bytes).ok()?;
        commands
            .iter()
            .map(|_| {
                let r = self.reader.read_bytes().ok()?;
                Some(String::from_utf8_lossy(&r).into_owned())
            })
            .collect()
    }
}

/// What one writer thread had acknowledged when the server died.
#[derive(Default)]
pub(crate) struct Acked {
    /// Per key: increments acknowledged.
    incrs: HashMap<String, i64>,
    /// Pairs of keys a script or an EXEC incremented together.
    pairs: Vec<(String, String)>,
}

const SCRIPT: &str = "redis.call('INCR', KEYS[1]); return redis.call('INCR', KEYS[2])";

/// Writes until `stop`: `kind` 0 INCRs keys over every shard, 1 runs a
/// script of two INCRs, 2 an EXEC of two INCRs.
fn write_until(port: u16, kind: usize, id: usize, stop: Arc<AtomicBool>) -> Acked {
    let mut c = Client::connect(port);
    let mut acked = Acked::default();
    let (a, b) = (format!("{{p{id}}}a"), format!("{{p{id}}}b"));
    if kind > 0 {
        acked.pairs.push((a.clone(), b.clone()));
    }
    let mut n = 0usize;
    while !stop.load(Ordering::Relaxed) {
        n += 1;
        let ok = match kind {
            0 => {
                let key = format!("c{id}:{}", n % 8);
                let Some(r) = c.call(&[&["INCR", &key]]) else {
                    break;
                };
                if !r[0].starts_with(':') {
                    break;
                }
                *acked.incrs.entry(key).or_default() += 1;
                continue;
            }
            1 => c
                .call(&[&["EVAL", SCRIPT, "2", &a, &b]])
                .is_some_and(|r| r[0].starts_with(':')),
            _ => c
                .call(&[&["MULTI"], &["INCR", &a], &["INCR", &b], &["EXEC"]])
                .is_some_and(|r| r[3].starts_with("*2")),
        };
        if !ok {
            break;
        }
        *acked.incrs.entry(a.clone()).or_default() += 1;
        *acked.incrs.entry(b.clone()).or_default() += 1;
    }
    acked
}

/// Writer threads (`write_until`, the kinds in turn) until stopped.
pub(crate) struct Writers {
    stop: Arc<AtomicBool>,
    threads: Vec<std::thread::JoinHandle<Acked>>,
}

impl Writers {
    pub(crate) fn start(port: u16, threads: usize) -> Writers {
        let stop = Arc::new(AtomicBool::new(false));
        let threads = (0..threads)
            .map(|id| {
                let stop = stop.clone();
                std::thread::spawn(move || write_until(port, id % 3, id, stop))
            })
            .collect();
        Writers { stop, threads }
    }

    /// Stops them; what each had acknowledged.
    pub(crate) fn stop(self) -> Vec<Acked> {
        self.stop.store(true, Ordering::Relaxed);
        self.threads
            .into_iter()
            .map(|w| w.join().expect("writer thread"))
            .collect()
    }
}

/// Every increment the writers had acknowledged is there (the one in
/// flight may or may not be), over `base`, the values after the last
/// round (updated); each pair a script or EXEC incremented is equal.
fn assert_acknowledged(
    c: &mut crate::common::Raw,
    acked: &[Acked],
    base: &mut HashMap<String, i64>,
    round: usize,
) {
    for a in acked {
        for (key, n) in &a.incrs {
            let was = base.get(key).copied().unwrap_or(0);
            let now = int_value(c, key);
            assert!(
                now >= was + n && now <= was + n + 1,
                "round {round}: {key} is {now}, {was} before and {n} acknowledged"
            );
            base.insert(key.clone(), now);
        }
        for (x, y) in &a.pairs {
            assert_eq!(
                int_value(c, x),
                int_value(c, y),
                "round {round}: a script's or EXEC's writes are all or nothing"
            );
        }
    }
}

fn int_value(c: &mut crate::common::Raw, key: &str) -> i64 {
    bulk(&c.cmd(&["GET", key])).map_or(0, |v| v.parse().expect("a counter"))
}

/// A pseudo-random number of milliseconds in `range` (the clock's nanos).
fn random_ms(range: std::ops::Range<u64>) -> u64 {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos() as u64);
    range.start + nanos % (range.end - range.start)
}

/// A key's PEXPIRETIME.
fn pexpiretime(c: &mut crate::common::Raw, key: &str) -> String {
    c.cmd(&["PEXPIRETIME", key])
}

#[test]
fn restore_with_a_relative_ttl_replays_to_the_same_deadline() {
    // `SET k hello` then `DUMP k` on redis-server 7.0.
    const HELLO: &[u8] = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
    let dir = TempDir::new("aof-restore");
    let mut server = start(&dir, "always");
    let mut c = server.client();
    let keys: Vec<String> = (0..SHARDS).map(|s| key_on(s, SHARDS, "r")).collect();
    for key in &keys {
        let reply = c.cmd_bytes(&[b"RESTORE", key.as_bytes(), b"100000", HELLO]);
        assert_eq!(reply, b"+OK\r\n");
    }
    let forever = c.cmd_bytes(&[b"RESTORE", b"forever", b"0", HELLO]);
    assert_eq!(forever, b"+OK\r\n");
    let deadlines: Vec<String> = keys.iter().map(|k| pexpiretime(&mut c, k)).collect();
    drop(c);
    // Replayed later, a relative ttl would end later.
    std::thread::sleep(Duration::from_millis(50));
    kill9(&mut server);

    let server = start(&dir, "always");
    let mut c = server.client();
    for (key, deadline) in keys.iter().zip(&deadlines) {
        assert_eq!(&pexpiretime(&mut c, key), deadline, "{key}");
        assert_eq!(bulk(&c.cmd(&["GET", key])).as_deref(), Some("hello"));
    }
    assert_eq!(pexpiretime(&mut c, "forever"), ":-1\r\n");
}

#[test]
fn kill_9_loses_no_acknowledged_write_with_appendfsync_always() {
    const ROUNDS: usize = 3;
    const THREADS: usize = 6;
    let dir = TempDir::new("aof-kill9");
    let mut base: HashMap<String, i64> = HashMap::new();
    let started = Instant::now();
    for round in 0..ROUNDS {
        let mut server = start(&dir, "always");
        let writers = Writers::start(server.port, THREADS);
        std::thread::sleep(Duration::from_millis(random_ms(200..900)));
        kill9(&mut server);
        let acked = writers.stop();

        let total: i64 = acked.iter().flat_map(|a| a.incrs.values()).sum();
        assert!(total > 0, "round {round}: the writers got acknowledgements");
        let server = start(&dir, "always");
        let mut c = server.client();
        assert_acknowledged(&mut c, &acked, &mut base, round);
        drop(c);
        drop(server);
    }
    assert!(started.elapsed() < Duration::from_secs(30), "slow rounds");
}

#[test]
fn everysec_keeps_writes_older_than_two_seconds_through_kill_9() {
    let dir = TempDir::new("aof-everysec");
    let mut server = start(&dir, "everysec");
    let mut c = server.client();
    for i in 0..50 {
        let k = key_on(i % SHARDS, SHARDS, &format!("e{i}-"));
        assert_eq!(c.cmd(&["SET", &k, &i.to_string()]), "+OK\r\n");
    }
    std::thread::sleep(Duration::from_millis(2200));
    kill9(&mut server);
    let server = start(&dir, "everysec");
    let mut c = server.client();
    for i in 0..50 {
        let k = key_on(i % SHARDS, SHARDS, &format!("e{i}-"));
        assert_eq!(
            bulk(&c.cmd(&["GET", &k])).as_deref(),
            Some(i.to_string().as_str()),
            "{k}"
        );
    }
}

/// Three keys set one after the other on shard 0, then a clean shutdown.
fn three_records_on_shard_0(dir: &TempDir) -> Vec<String> {
    let mut server = start(dir, "always");
    let mut c = server.client();
    let keys: Vec<String> = (0..3)
        .map(|i| key_on(0, SHARDS, &format!("r{i}-")))
        .collect();
    for k in &keys {
        assert_eq!(c.cmd(&["SET", k, "v"]), "+OK\r\n");
    }
    drop(c);
    shutdown(&mut server);
    keys
}

#[test]
fn a_torn_tail_is_dropped_with_a_warning_and_only_its_record_lost() {
    let dir = TempDir::new("aof-torn");
    let keys = three_records_on_shard_0(&dir);
    let file = incr_file(&dir, 0);
    let len = std::fs::metadata(&file).expect("the log").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(&file)
        .and_then(|f| f.set_len(len - 3))
        .expect("truncate");
    let stderr = dir.0.join("stderr");
    let server = Server::shardis_logging(
        SHARDS,
        &["--dir", dir.path(), "--appendonly", "yes"],
        &stderr,
    );
    let mut c = server.client();
    assert_eq!(bulk(&c.cmd(&["GET", &keys[0]])).as_deref(), Some("v"));
    assert_eq!(bulk(&c.cmd(&["GET", &keys[1]])).as_deref(), Some("v"));
    assert_eq!(c.cmd(&["EXISTS", &keys[2]]), ":0\r\n");
    let log = std::fs::read_to_string(&stderr).expect("stderr");
    assert!(
        log.contains("incomplete record") && log.contains("appendonly.aof.0.1.incr.aof"),
        "{log}"
    );
}

#[test]
fn a_flipped_byte_mid_file_refuses_the_start_and_names_file_and_offset() {
    let dir = TempDir::new("aof-flipped");
    three_records_on_shard_0(&dir);
    let file = incr_file(&dir, 0);
    let mut bytes = std::fs::read(&file).expect("the log");
    let mid = bytes.len() / 2;
    bytes[mid] ^= 0x40;
    std::fs::write(&file, &bytes).expect("write");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--port", &crate::common::free_port().to_string()])
        .args(["--shards", &SHARDS.to_string(), "--dir", dir.path()])
        .args(["--appendonly", "yes"])
        .output()
        .expect("run shardis");
    assert!(!out.status.success(), "refused to start");
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("appendonly.aof.0.1.incr.aof") && err.contains(" at byte "),
        "{err}"
    );
    assert_eq!(std::fs::read(&file).expect("the log"), bytes, "unchanged");
}

/// `appendonly` and `appendfsync` change at run time; a CONFIG SET with
/// a bad pair changes neither.
#[test]
fn appendonly_and_appendfsync_change_at_run_time() {
    let dir = TempDir::new("aof-config");
    let server = start(&dir, "always");
    let mut c = server.client();
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendfsync", "no"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(
        bulks(&c.cmd(&["CONFIG", "GET", "appendfsync"])),
        ["appendfsync", "no"]
    );
    assert!(c
        .cmd(&["CONFIG", "SET", "appendonly", "no", "appendfsync", "bogus"])
        .starts_with("-ERR CONFIG SET failed"));
    assert_eq!(persistence_field(&mut c, "aof_enabled"), "1");
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    assert_eq!(
        bulks(&c.cmd(&["CONFIG", "GET", "appendonly"])),
        ["appendonly", "no"]
    );
    assert_eq!(persistence_field(&mut c, "aof_enabled"), "0");
    assert_eq!(c.cmd(&["SET", "k", "w"]), "+OK\r\n");
    assert!(c
        .cmd(&["CONFIG", "SET", "appendonly", "maybe"])
        .starts_with("-ERR CONFIG SET failed"));
}

/// `shards` shards started with the log off, keys of several types in
/// several databases and a function library, then `CONFIG SET appendonly
/// yes` with writes going on while the bases are written: after `kill -9`
/// a restart from the log has everything. Then `appendonly no`: the
/// writes after it are not in the log, the ones before are.
fn appendonly_turned_on_and_off_at_run_time(shards: usize) {
    let dir = TempDir::new(&format!("aof-switch-{shards}"));
    let log_on = |dir: &TempDir| start_logged(dir, shards, "always");
    let mut server = Server::shardis(shards, &["--dir", dir.path(), "--appendfsync", "always"]);
    let mut c = server.client();
    assert_eq!(
        bulks(&c.cmd(&["CONFIG", "GET", "appendonly"])),
        ["appendonly", "no"]
    );
    assert_eq!(persistence_field(&mut c, "aof_enabled"), "0");
    for shard in 0..shards {
        let k = key_on(shard, shards, "str");
        assert_eq!(c.cmd(&["SET", &k, "before"]), "+OK\r\n");
    }
    c.cmd(&["RPUSH", "list", "a", "b", "c"]);
    c.cmd(&["HSET", "hash", "f1", "v1", "f2", "v2"]);
    c.cmd(&["SADD", "set", "x", "y"]);
    c.cmd(&["ZADD", "zset", "1", "one", "2.5", "two"]);
    c.cmd(&["SET", "ttl", "v", "EX", "1000"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["SET", "in3", "three"]);
    c.cmd(&["SELECT", "0"]);
    let lib = "#!lua name=lib1\nredis.register_function('one', function() return 1 end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), "$4\r\nlib1\r\n");
    // Enough keys that the bases take a moment.
    crate::common::mset_many(&mut c, "filler:", 50000, 20);

    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(persistence_field(&mut c, "aof_rewrite_in_progress"), "1");
    // Written while the bases are.
    for i in 0..200 {
        let k = format!("during:{i}");
        assert_eq!(c.cmd(&["SET", &k, &i.to_string()]), "+OK\r\n");
    }
    c.cmd(&["RPUSH", "list", "d"]);
    c.cmd(&["DEL", "hash"]);
    c.cmd(&["SELECT", "3"]);
    c.cmd(&["INCRBY", "counter3", "5"]);
    c.cmd(&["SELECT", "0"]);
    let lib2 = "#!lua name=lib2\nredis.register_function('two', function() return 2 end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib2]), "$4\r\nlib2\r\n");
    assert_eq!(persistence_field(&mut c, "aof_enabled"), "1");
    assert_eq!(
        bulks(&c.cmd(&["CONFIG", "GET", "appendonly"])),
        ["appendonly", "yes"]
    );
    assert_eq!(wait_for_rewrite(&mut c), "ok");
    assert_eq!(c.cmd(&["SET", "after", "base"]), "+OK\r\n");
    drop(c);
    kill9(&mut server);

    let check_before_off = |c: &mut crate::common::Raw| {
        for shard in 0..shards {
            let k = key_on(shard, shards, "str");
            assert_eq!(bulk(&c.cmd(&["GET", &k])).as_deref(), Some("before"));
        }
        assert_eq!(
            bulks(&c.cmd(&["LRANGE", "list", "0", "-1"])),
            ["a", "b", "c", "d"]
        );
        assert_eq!(c.cmd(&["EXISTS", "hash"]), ":0\r\n");
        assert_eq!(sorted(&c.cmd(&["SMEMBERS", "set"])), ["x", "y"]);
        assert_eq!(
            bulks(&c.cmd(&["ZRANGE", "zset", "0", "-1"])),
            ["one", "two"]
        );
        let ttl: i64 = c.cmd(&["TTL", "ttl"])[1..].trim().parse().expect("a TTL");
        assert!((900..=1000).contains(&ttl), "{ttl}");
        assert_eq!(c.cmd(&["FCALL", "one", "0"]), ":1\r\n");
        assert_eq!(c.cmd(&["FCALL", "two", "0"]), ":2\r\n");
        for i in [0, 99, 199] {
            let k = format!("during:{i}");
            assert_eq!(bulk(&c.cmd(&["GET", &k])), Some(i.to_string()));
        }
        assert_eq!(
            bulk(&c.cmd(&["GET", "filler:49999"])).map(|v| v.len()),
            Some(20)
        );
        assert_eq!(bulk(&c.cmd(&["GET", "after"])).as_deref(), Some("base"));
        c.cmd(&["SELECT", "3"]);
        assert_eq!(bulk(&c.cmd(&["GET", "in3"])).as_deref(), Some("three"));
        assert_eq!(bulk(&c.cmd(&["GET", "counter3"])).as_deref(), Some("5"));
        c.cmd(&["SELECT", "0"]);
        assert_eq!(
            c.cmd(&["DBSIZE"]),
            format!(":{}\r\n", 50_000 + 200 + shards + 5)
        );
    };
    let mut server = log_on(&dir);
    let mut c = server.client();
    check_before_off(&mut c);

    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    assert_eq!(persistence_field(&mut c, "aof_enabled"), "0");
    assert_eq!(
        bulks(&c.cmd(&["CONFIG", "GET", "appendonly"])),
        ["appendonly", "no"]
    );
    assert_eq!(c.cmd(&["SET", "off", "lost"]), "+OK\r\n");
    assert_eq!(c.cmd(&["RPUSH", "list", "e"]), ":5\r\n");
    drop(c);
    kill9(&mut server);

    let mut server = log_on(&dir);
    let mut c = server.client();
    assert_eq!(
        c.cmd(&["EXISTS", "off"]),
        ":0\r\n",
        "written with the log off"
    );
    check_before_off(&mut c);

    // On again over the former log: new files, the former ones go.
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "later", "kept"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(wait_for_rewrite(&mut c), "ok");
    drop(c);
    kill9(&mut server);
    assert_eq!(manifest_files(&dir).len(), 2 * shards);
    let on_disk = std::fs::read_dir(dir.0.join("appendonlydir"))
        .expect("log dir")
        .count();
    assert_eq!(on_disk, 2 * shards + 1, "former files removed");
    let server = log_on(&dir);
    let mut c = server.client();
    assert_eq!(bulk(&c.cmd(&["GET", "later"])).as_deref(), Some("kept"));
}

/// A log that cannot start (its directory's name is taken by a file)
/// is an error reply, and the node stays as it was: log off, writes work.
#[test]
fn appendonly_yes_that_cannot_start_leaves_the_log_off() {
    let dir = TempDir::new("aof-switch-fails");
    std::fs::write(dir.0.join("appendonlydir"), b"not a directory").expect("a file");
    let server = Server::shardis(SHARDS, &["--dir", dir.path()]);
    let mut c = server.client();
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
    let reply = c.cmd(&["CONFIG", "SET", "appendonly", "yes"]);
    assert!(
        reply.starts_with("-ERR the append-only log cannot start: "),
        "{reply}"
    );
    assert_eq!(
        bulks(&c.cmd(&["CONFIG", "GET", "appendonly"])),
        ["appendonly", "no"]
    );
    assert_eq!(persistence_field(&mut c, "aof_enabled"), "0");
    assert_eq!(persistence_field(&mut c, "aof_rewrite_in_progress"), "0");
    assert_eq!(c.cmd(&["SET", "k", "w"]), "+OK\r\n");
    assert_eq!(c.cmd(&["BGSAVE"]), "+Background saving started\r\n");
}

/// `appendonly no` while the bases of `appendonly yes` are written stops
/// them: the log is off, the node serves on, and turning it on again
/// works (a restart from it has every key).
#[test]
fn appendonly_no_cancels_a_switch_on_in_progress() {
    let dir = TempDir::new("aof-switch-cancel");
    let server = Server::shardis(SHARDS, &["--dir", dir.path()]);
    let mut c = server.client();
    crate::common::mset_many(&mut c, "k:", 50000, 50);
    let mut both = encode(&[b"CONFIG", b"SET", b"appendonly", b"yes"]);
    both.extend(encode(&[b"CONFIG", b"SET", b"appendonly", b"no"]));
    c.send_raw(&both);
    assert_eq!(c.read_reply(), "+OK\r\n");
    assert_eq!(c.read_reply(), "+OK\r\n");
    assert_eq!(persistence_field(&mut c, "aof_rewrite_in_progress"), "0");
    assert_eq!(persistence_field(&mut c, "aof_enabled"), "0");
    assert_eq!(
        persistence_field(&mut c, "aof_last_bgrewrite_status"),
        "err"
    );
    let manifest = dir.0.join("appendonlydir/appendonly.aof.manifest");
    assert!(
        !manifest.exists(),
        "no manifest before the bases are written"
    );
    assert_eq!(c.cmd(&["SET", "x", "1"]), "+OK\r\n");
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(wait_for_rewrite(&mut c), "ok");
    assert_eq!(c.cmd(&["SET", "y", "2"]), "+OK\r\n");
    drop(c);
    let mut server = server;
    kill9(&mut server);
    let server = start(&dir, "everysec");
    let mut c = server.client();
    assert_eq!(c.cmd(&["DBSIZE"]), ":50002\r\n");
    assert_eq!(bulk(&c.cmd(&["GET", "y"])).as_deref(), Some("2"));
}

/// `appendonly` switched on and off several times under writers (INCRs,
/// scripts, EXECs) with `appendfsync always`, then on for good: after
/// `kill -9` every acknowledged write is there and batches are whole.
#[test]
fn switching_appendonly_under_writes_loses_no_acknowledged_write() {
    const THREADS: usize = 6;
    let dir = TempDir::new("aof-switch-writes");
    let mut server = Server::shardis(SHARDS, &["--dir", dir.path(), "--appendfsync", "always"]);
    let mut c = server.client();
    crate::common::mset_many(&mut c, "filler:", 10_000, 20);
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..THREADS)
        .map(|id| {
            let (port, stop) = (server.port, stop.clone());
            std::thread::spawn(move || write_until(port, id % 3, id, stop))
        })
        .collect();
    for _ in 0..4 {
        std::thread::sleep(Duration::from_millis(random_ms(10..60)));
        assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
        std::thread::sleep(Duration::from_millis(random_ms(0..60)));
        assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "no"]), "+OK\r\n");
    }
    assert_eq!(c.cmd(&["CONFIG", "SET", "appendonly", "yes"]), "+OK\r\n");
    assert_eq!(wait_for_rewrite(&mut c), "ok");
    std::thread::sleep(Duration::from_millis(random_ms(20..150)));
    drop(c);
    kill9(&mut server);
    stop.store(true, Ordering::Relaxed);
    let acked: Vec<Acked> = writers
        .into_iter()
        .map(|w| w.join().expect("writer thread"))
        .collect();

    let total: i64 = acked.iter().flat_map(|a| a.incrs.values()).sum();
    assert!(total > 100, "only {total} writes acknowledged");
    let server = start(&dir, "always");
    let mut c = server.client();
    assert_eq!(
        bulk(&c.cmd(&["GET", "filler:9999"])).map(|v| v.len()),
        Some(20)
    );
    for a in &acked {
        for (key, n) in &a.incrs {
            let now = int_value(&mut c, key);
            assert!(
                now >= *n && now <= n + 1,
                "{key} is {now}, {n} acknowledged"
            );
        }
        for (x, y) in &a.pairs {
            assert_eq!(
                int_value(&mut c, x),
                int_value(&mut c, y),
                "a script's or EXEC's writes are all or nothing"
            );
        }
    }
}

#[test]
fn appendonly_turned_on_and_off_at_run_time_with_1_shard() {
    appendonly_turned_on_and_off_at_run_time(1);
}

#[test]
fn appendonly_turned_on_and_off_at_run_time_with_2_shards() {
    appendonly_turned_on_and_off_at_run_time(2);
}

/// A fresh log: a manifest naming one incremental file per shard.
#[test]
fn a_fresh_log_names_one_incremental_file_per_shard() {
    let dir = TempDir::new("aof-names");
    let mut server = start(&dir, "no");
    shutdown(&mut server);
    for shard in 0..SHARDS {
        assert!(Path::new(&incr_file(&dir, shard)).exists(), "shard {shard}");
    }
    let manifest =
        std::fs::read_to_string(dir.0.join("appendonlydir/appendonly.aof.manifest")).expect("m");
    assert!(manifest.contains(&format!("shards {SHARDS}")), "{manifest}");
}

/// A server killed when dropped, started without the fixture (it runs
/// under `sh`).
struct Child(std::process::Child);

impl Drop for Child {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// shardis under `sh` with SIGXFSZ ignored (inherited through `exec`):
/// a write past `RLIMIT_FSIZE` then fails with `EFBIG` instead of killing
/// the process. Standard error goes nowhere: a file would hit the limit.
fn start_ignoring_xfsz(dir: &TempDir) -> (Child, u16) {
    use std::io::BufRead;
    let port = crate::common::free_port();
    let command = format!(
        "trap '' XFSZ; exec {} --port {port} --shards {SHARDS} --dir {} --appendonly yes \
         --appendfsync always",
        env!("CARGO_BIN_EXE_shardis"),
        dir.path()
    );
    let mut child = std::process::Command::new("sh")
        .args(["-c", &command])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start sh");
    let stdout = child.stdout.take().expect("stdout");
    let child = Child(child);
    let (tx, rx) = std::sync::mpsc::channel();
    // Reads stdout to its end, so the server never writes to a closed pipe.
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if line.contains(" ready: ") {
                let _ = tx.send(());
            }
        }
    });
    rx.recv_timeout(Duration::from_secs(20))
        .expect("shardis started");
    (child, port)
}

/// A write whose record the log fails to write answers `-MISCONF`, the
/// reads pipelined around it answer as usual and the connection stays;
/// later writes are refused, reads keep working. Through a connection on
/// shard 0's own core and through one on another core (its commands go to
/// shard 0 over the mesh).
#[test]
fn a_failed_write_answers_misconf_refuses_later_writes_and_keeps_reads() {
    for core in [0, 1] {
        let dir = TempDir::new("aof-misconf");
        a_failed_write_through_core(&dir, core);
    }
}

fn a_failed_write_through_core(dir: &TempDir, core: usize) {
    let a = key_on(0, SHARDS, "a-");
    let b = key_on(0, SHARDS, "b-");
    let misconf = "-MISCONF Errors writing to the AOF file: ";
    {
        let (server, port) = start_ignoring_xfsz(dir);
        let mut c = crate::common::connect_to_core(port, core);
        assert_eq!(c.cmd(&["SET", &a, "1"]), "+OK\r\n");
        // The next record crosses the file size limit: its write fails.
        let size = std::fs::metadata(incr_file(dir, 0)).expect("the log").len();
        let limit = format!("--fsize={}", size + 10);
        let pid = server.0.id().to_string();
        let status = std::process::Command::new("prlimit")
            .args(["--pid", &pid, &limit])
            .status()
            .expect("run prlimit");
        assert!(status.success(), "prlimit");
        let mut pipeline = Vec::new();
        for args in [["GET", &a, ""], ["SET", &b, "2"], ["GET", &a, ""]] {
            let args: Vec<&[u8]> = args
                .iter()
                .filter(|a| !a.is_empty())
                .map(|a| a.as_bytes())
                .collect();
            pipeline.extend(encode(&args));
        }
        c.send_raw(&pipeline);
        assert_eq!(c.read_reply(), "$1\r\n1\r\n", "core {core}");
        let reply = c.read_reply();
        assert!(reply.starts_with(misconf), "core {core}: {reply}");
        assert_eq!(c.read_reply(), "$1\r\n1\r\n", "core {core}");
        assert_eq!(c.cmd(&["PING"]), "+PONG\r\n", "the connection stays");
        let reply = c.cmd(&["SET", &b, "3"]);
        assert!(reply.starts_with(misconf), "{reply}");
        let reply = c.cmd(&["FUNCTION", "FLUSH"]);
        assert!(reply.starts_with(misconf), "{reply}");
        assert_eq!(c.cmd(&["GET", &a]), "$1\r\n1\r\n", "reads keep working");
        let info = c.cmd(&["INFO", "persistence"]);
        assert!(info.contains("aof_last_write_status:err"), "{info}");
    }
    // The failed write left a torn tail: dropped at the next start.
    let server = start(dir, "always");
    let mut c = server.client();
    assert_eq!(c.cmd(&["GET", &a]), "$1\r\n1\r\n");
    assert_eq!(c.cmd(&["EXISTS", &b]), ":0\r\n");
}

/// `field` of `INFO persistence`.
fn persistence_field(c: &mut crate::common::Raw, field: &str) -> String {
    let info = bulk(&c.cmd(&["INFO", "persistence"])).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO persistence has no {field}:\n{info}"))
        .to_string()
}

fn wait_for_rewrite(c: &mut crate::common::Raw) -> String {
    let deadline = Instant::now() + Duration::from_secs(60);
    while persistence_field(c, "aof_rewrite_in_progress") != "0" {
        assert!(Instant::now() < deadline, "the rewrite never ended");
        std::thread::sleep(Duration::from_millis(20));
    }
    persistence_field(c, "aof_last_bgrewrite_status")
}

/// The manifest's file lines.
fn manifest_files(dir: &TempDir) -> Vec<String> {
    let text = std::fs::read_to_string(dir.0.join("appendonlydir/appendonly.aof.manifest"))
        .expect("manifest");
    text.lines().skip(1).map(str::to_string).collect()
}

/// BGREWRITEAOF under writes (plain INCRs, scripts, EXEC batches) with
/// `appendfsync always`, and `kill -9` at a random moment during or after
/// the rewrite: every acknowledged write is there after the restart, and
/// batches are all or nothing. A completed rewrite leaves a base (an RDB
/// file that redis-check-rdb accepts) and one incremental file per shard,
/// and the old files are gone.
#[test]
fn kill_9_during_or_after_bgrewriteaof_loses_no_acknowledged_write() {
    const ROUNDS: usize = 4;
    const THREADS: usize = 6;
    let dir = TempDir::new("aof-rewrite");
    let mut base: HashMap<String, i64> = HashMap::new();
    {
        // Keys for the bases to hold, so that a rewrite takes a while.
        let mut server = start(&dir, "always");
        let mut c = server.client();
        crate::common::mset_many(&mut c, "filler:", 20000, 20);
        shutdown(&mut server);
    }
    for round in 0..ROUNDS {
        let mut server = start(&dir, "always");
        let writers = Writers::start(server.port, THREADS);
        std::thread::sleep(Duration::from_millis(random_ms(50..300)));
        let mut c = server.client();
        assert_eq!(
            c.cmd(&["BGREWRITEAOF"]),
            "+Background append only file rewriting started\r\n"
        );
        if round % 2 == 1 {
            // Killed after the rewrite: the restart reads the new base.
            assert_eq!(wait_for_rewrite(&mut c), "ok");
            let files = manifest_files(&dir);
            assert_eq!(files.len(), 2 * SHARDS, "{files:?}");
            for shard in 0..SHARDS {
                let based: Vec<&String> = files
                    .iter()
                    .filter(|f| f.ends_with(&format!("type b shard {shard}")))
                    .collect();
                assert_eq!(based.len(), 1, "{files:?}");
                let name = based[0].split(' ').nth(1).expect("a name");
                assert!(name.ends_with(".base.rdb"), "{name}");
                crate::common::assert_redis_check_rdb(&dir.0.join("appendonlydir").join(name));
            }
            let on_disk = std::fs::read_dir(dir.0.join("appendonlydir"))
                .expect("log dir")
                .count();
            assert_eq!(on_disk, 2 * SHARDS + 1, "old files removed: {files:?}");
            std::thread::sleep(Duration::from_millis(random_ms(20..200)));
        } else {
            std::thread::sleep(Duration::from_millis(random_ms(0..150)));
        }
        kill9(&mut server);
        let acked = writers.stop();

        let server = start(&dir, "always");
        let mut c = server.client();
        assert_eq!(
            c.cmd(&["DBSIZE"])
                .trim_start_matches(':')
                .trim()
                .parse::<usize>()
                .map(|n| n >= 20_000),
            Ok(true)
        );
        assert_acknowledged(&mut c, &acked, &mut base, round);
    }
}

/// BGREWRITEAOF and BGSAVE share the node's one background job, with
/// Redis's replies.
#[test]
fn one_background_job_at_a_time() {
    let dir = TempDir::new("aof-jobs");
    let server = start(&dir, "everysec");
    let mut c = server.client();
    crate::common::mset_many(&mut c, "k", 20_000, 100);
    // Pipelined, so the second arrives while the first job runs.
    let commands: [&[&[u8]]; 4] = [
        &[b"BGREWRITEAOF"],
        &[b"BGREWRITEAOF"],
        &[b"BGSAVE"],
        &[b"BGSAVE", b"SCHEDULE"],
    ];
    let mut all = Vec::new();
    for command in commands {
        all.extend(crate::common::encode(command));
    }
    c.send_raw(&all);
    let replies: Vec<String> = (0..4).map(|_| c.read_reply()).collect();
    assert_eq!(
        replies,
        [
            "+Background append only file rewriting started\r\n",
            "-ERR Background append only file rewriting already in progress\r\n",
            "-ERR Another child process is active (AOF?): can't BGSAVE right now. Use BGSAVE SCHEDULE in order to schedule a BGSAVE whenever possible.\r\n",
            "+Background saving scheduled\r\n",
        ]
    );
    assert_eq!(wait_for_rewrite(&mut c), "ok");
    let deadline = Instant::now() + Duration::from_secs(30);
    while persistence_field(&mut c, "rdb_saves") != "1" {
        assert!(Instant::now() < deadline, "the scheduled BGSAVE never ran");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(persistence_field(&mut c, "aof_rewrites"), "1");
}

/// With the log off, BGREWRITEAOF writes a log to start from, as Redis
/// does: one base per shard and the manifest, replacing a log of another
/// shard count; a start with `appendonly yes` then loads it.
#[test]
fn bgrewriteaof_with_the_log_off_writes_a_log_to_start_from() {
    let dir = TempDir::new("aof-rewrite-off");
    {
        let mut old = start_logged(&dir, 3, "always");
        assert_eq!(old.client().cmd(&["SET", "old", "x"]), "+OK\r\n");
        shutdown(&mut old);
    }
    let mut server = Server::shardis(2, &["--dir", dir.path()]);
    let mut c = server.client();
    crate::common::mset_many(&mut c, "k", 2000, 30);
    c.cmd(&["FLUSHDB"]);
    crate::common::mset_many(&mut c, "k", 2000, 30);
    assert_eq!(c.cmd(&["SELECT", "7"]), "+OK\r\n");
    assert_eq!(c.cmd(&["RPUSH", "list", "a", "b"]), ":2\r\n");
    assert_eq!(
        c.cmd(&["BGREWRITEAOF"]),
        "+Background append only file rewriting started\r\n"
    );
    assert_eq!(wait_for_rewrite(&mut c), "ok");
    assert_eq!(persistence_field(&mut c, "aof_enabled"), "0");
    let files = manifest_files(&dir);
    assert_eq!(
        files.len(),
        4,
        "a base and an incr file per shard: {files:?}"
    );
    for line in files.iter().filter(|f| f.contains(" type b ")) {
        let name = line.split(' ').nth(1).expect("a name");
        crate::common::assert_redis_check_rdb(&dir.0.join("appendonlydir").join(name));
    }
    let on_disk = std::fs::read_dir(dir.0.join("appendonlydir"))
        .expect("log dir")
        .count();
    assert_eq!(on_disk, 5, "the 3-shard log's files are gone: {files:?}");
    kill9(&mut server);

    let server = Server::shardis(2, &["--dir", dir.path(), "--appendonly", "yes"]);
    let mut c = server.client();
    assert_eq!(c.cmd(&["DBSIZE"]), ":2000\r\n");
    assert_eq!(c.cmd(&["EXISTS", "old"]), ":0\r\n");
    assert_eq!(c.cmd(&["SELECT", "7"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["LRANGE", "list", "0", "-1"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}
