//! shardis as a replication master, followed by a real redis-server 7.0:
//! full sync, the stream (scripts and EXEC as MULTI/EXEC, expiry, every
//! database), partial resync, WAIT.

use std::time::{Duration, Instant};

use redis::Connection;

use crate::aof::Writers;
use crate::common::dataset::contents_of;
use crate::common::{key_on, run, Server, TempDir};

/// How long a replica may take to sync or catch up.
const SYNC_TIMEOUT: Duration = Duration::from_secs(30);

fn info_field(con: &mut Connection, section: &str, field: &str) -> String {
    let info: String = redis::cmd("INFO").arg(section).query(con).expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO {section} has no {field}:\n{info}"))
        .to_string()
}

/// A redis-server replica, in a directory of its own (a replica writes
/// the snapshot it receives to a file there).
struct Replica {
    server: Server,
    dir: TempDir,
}

impl Replica {
    fn client(&self) -> Connection {
        self.server.redis_client()
    }

    /// Waits until its sync is done; its log's tail in the failure.
    fn wait_synced(&self) {
        let mut con = self.client();
        let deadline = Instant::now() + SYNC_TIMEOUT;
        while info_field(&mut con, "replication", "master_link_status") != "up"
            || info_field(&mut con, "replication", "master_sync_in_progress") != "0"
        {
            if Instant::now() > deadline {
                let log =
                    std::fs::read_to_string(self.dir.0.join("replica.log")).unwrap_or_default();
                let tail: Vec<&str> = log.lines().rev().take(15).collect();
                panic!(
                    "the replica never synced; its log ends:\n{}",
                    tail.into_iter().rev().collect::<Vec<_>>().join("\n")
                );
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

/// A redis-server replica of `master`, once it has finished its sync.
fn redis_replica_of(master: &Server) -> Replica {
    let dir = TempDir::new("replica");
    let port = master.port.to_string();
    let log = dir.0.join("replica.log").display().to_string();
    let server = Server::redis(&[
        "--replicaof",
        "127.0.0.1",
        &port,
        "--dir",
        dir.path(),
        "--logfile",
        &log,
    ]);
    let replica = Replica { server, dir };
    replica.wait_synced();
    replica
}

/// WAIT until `replicas` replicas have everything, then both hold the same.
fn assert_same_after_wait(master: &mut Connection, replica: &mut Connection, replicas: i64) {
    let acked: i64 = redis::cmd("WAIT")
        .arg(replicas)
        .arg(SYNC_TIMEOUT.as_millis() as u64)
        .query(master)
        .expect("WAIT");
    assert_eq!(acked, replicas, "WAIT's count");
    let ours = contents_of(master);
    assert!(!ours.is_empty());
    let theirs = contents_of(replica);
    let mut differences = Vec::new();
    for db in ours
        .keys()
        .chain(theirs.keys())
        .collect::<std::collections::BTreeSet<_>>()
    {
        let (a, b) = (ours.get(db), theirs.get(db));
        let keys: std::collections::BTreeSet<_> =
            a.into_iter().chain(b).flat_map(|m| m.keys()).collect();
        for key in keys {
            let (x, y) = (a.and_then(|m| m.get(key)), b.and_then(|m| m.get(key)));
            if x != y {
                let line = format!(
                    "db {db} key {}: master {x:?}, replica {y:?}",
                    String::from_utf8_lossy(key)
                );
                differences.push(line.chars().take(300).collect::<String>());
            }
        }
    }
    differences.truncate(10);
    assert!(
        differences.is_empty(),
        "the replica differs: {differences:#?}"
    );
}

/// Writes of every kind: commands in several databases, a script, an
/// EXEC, keys that expire (their DEL is in the stream), FLUSHDB.
fn mixed_writes(con: &mut Connection, round: usize) {
    for db in [0u8, 5] {
        run(con, &[b"SELECT", db.to_string().as_bytes()]);
        for i in 0..50 {
            let k = format!("r{round}:k{i}");
            run(con, &[b"SET", k.as_bytes(), format!("v{i}").as_bytes()]);
            run(
                con,
                &[b"INCRBY", format!("r{round}:n{}", i % 7).as_bytes(), b"3"],
            );
            run(
                con,
                &[
                    b"RPUSH",
                    format!("r{round}:l{}", i % 5).as_bytes(),
                    k.as_bytes(),
                ],
            );
            run(
                con,
                &[
                    b"HSET",
                    format!("r{round}:h").as_bytes(),
                    k.as_bytes(),
                    b"x",
                ],
            );
            run(
                con,
                &[b"SADD", format!("r{round}:s").as_bytes(), k.as_bytes()],
            );
            run(
                con,
                &[
                    b"ZADD",
                    format!("r{round}:z").as_bytes(),
                    i.to_string().as_bytes(),
                    k.as_bytes(),
                ],
            );
        }
        run(
            con,
            &[b"EXPIRE", format!("r{round}:k1").as_bytes(), b"1000"],
        );
        run(con, &[b"PEXPIRE", format!("r{round}:k2").as_bytes(), b"20"]);
        run(con, &[b"DEL", format!("r{round}:k3").as_bytes()]);
        run(con, &[b"SPOP", format!("r{round}:s").as_bytes()]);
        run(con, &[
            b"EVAL",
            b"redis.call('SET', KEYS[1], 'a'); redis.call('APPEND', KEYS[1], 'b'); return redis.call('INCR', KEYS[2])",
            b"2",
            b"{t}x",
            b"{t}y",
        ]);
        run(con, &[b"MULTI"]);
        run(con, &[b"SET", b"{m}a", b"1"]);
        run(con, &[b"LPUSH", b"{m}b", b"1", b"2"]);
        run(con, &[b"EXEC"]);
    }
    run(con, &[b"SELECT", b"9"]);
    run(con, &[b"SET", b"gone", b"soon"]);
    run(con, &[b"FLUSHDB"]);
    run(con, &[b"SELECT", b"0"]);
    // The key that expired: removed by a read, the DEL replicated.
    std::thread::sleep(Duration::from_millis(40));
    run(con, &[b"GET", format!("r{round}:k2").as_bytes()]);
}

fn a_redis_replica_follows_every_kind_of_write(shards: usize) {
    let master = Server::shardis(shards, &[]);
    let mut m = master.redis_client();
    mixed_writes(&mut m, 0);
    let replica = redis_replica_of(&master);
    let mut r = replica.client();
    assert_same_after_wait(&mut m, &mut r, 1);
    mixed_writes(&mut m, 1);
    assert_same_after_wait(&mut m, &mut r, 1);
    assert_eq!(info_field(&mut m, "replication", "connected_slaves"), "1");
    let line = info_field(&mut m, "replication", "slave0");
    assert!(
        line.starts_with("ip=127.0.0.1,port=") && line.contains(",state=online,"),
        "{line}"
    );
    assert_eq!(
        info_field(&mut m, "replication", "master_repl_offset"),
        info_field(&mut r, "replication", "master_repl_offset"),
        "the replica's offset is the master's"
    );
}

#[test]
fn a_redis_replica_follows_every_kind_of_write_with_1_shard() {
    a_redis_replica_follows_every_kind_of_write(1);
}

#[test]
fn a_redis_replica_follows_every_kind_of_write_with_3_shards() {
    a_redis_replica_follows_every_kind_of_write(3);
}

/// A full sync while writers keep writing on every shard (INCRs, scripts,
/// EXECs), then the link broken and resumed: the replica ends with
/// exactly the master's counters, so no write was in both the snapshot
/// and the stream, and none in neither.
#[test]
fn full_and_partial_syncs_under_writes_apply_each_write_once() {
    let master = Server::shardis(2, &[]);
    let mut m = master.redis_client();
    crate::common::mset_many(&mut master.client(), "fill:", 20_000, 20);
    let writers = Writers::start(master.port, 6);
    std::thread::sleep(Duration::from_millis(300));
    let replica = redis_replica_of(&master);
    let mut r = replica.client();
    std::thread::sleep(Duration::from_millis(300));
    run(&mut r, &[b"CLIENT", b"KILL", b"TYPE", b"master"]);
    std::thread::sleep(Duration::from_millis(300));
    writers.stop();
    replica.wait_synced();
    assert_same_after_wait(&mut m, &mut r, 1);
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "1");
    assert_eq!(info_field(&mut m, "stats", "sync_partial_ok"), "1");
}

/// A reader of the replica never sees one of a script's writes without
/// the other.
#[test]
fn a_replica_never_shows_half_of_a_script() {
    let master = Server::shardis(2, &[]);
    let mut m = master.redis_client();
    let replica = redis_replica_of(&master);
    let mut r = replica.client();
    let script = "local n = redis.call('INCR', KEYS[1]); redis.call('SET', KEYS[2], n); return n";
    let deadline = Instant::now() + Duration::from_millis(1500);
    let mut seen = 0;
    while Instant::now() < deadline {
        run(
            &mut m,
            &[b"EVAL", script.as_bytes(), b"2", b"{s}a", b"{s}b"],
        );
        let (a, b): (Option<i64>, Option<i64>) = redis::cmd("MGET")
            .arg("{s}a")
            .arg("{s}b")
            .query(&mut r)
            .expect("MGET");
        assert_eq!(a, b, "the replica shows half of a script");
        seen += usize::from(a.is_some());
    }
    assert!(seen > 0, "the replica never saw a script's writes");
}

/// WAIT: Redis's errors, 0 at the timeout without replicas, the count
/// with one.
#[test]
fn wait_counts_the_replicas_that_acknowledged() {
    let master = Server::shardis(2, &[]);
    let mut c = master.client();
    assert_eq!(
        c.cmd(&["WAIT", "x", "0"]),
        "-ERR value is not an integer or out of range\r\n"
    );
    assert_eq!(c.cmd(&["WAIT", "1", "-1"]), "-ERR timeout is negative\r\n");
    assert_eq!(c.cmd(&["WAIT", "0", "0"]), ":0\r\n");
    let started = Instant::now();
    assert_eq!(c.cmd(&["WAIT", "1", "150"]), ":0\r\n");
    assert!(started.elapsed() >= Duration::from_millis(140));
    let _replica = redis_replica_of(&master);
    for shard in 0..2 {
        let key = key_on(shard, 2, "w");
        assert_eq!(c.cmd(&["SET", &key, "1"]), "+OK\r\n");
        assert_eq!(c.cmd(&["WAIT", "1", "0"]), ":1\r\n");
    }
    assert_eq!(c.cmd(&["WAIT", "2", "100"]), ":1\r\n");
}

/// ROLE of a master: its offset, and each replica's address and
/// acknowledged offset, in Redis's shape.
#[test]
fn role_lists_the_replicas_with_their_offsets() {
    let master = Server::shardis(2, &[]);
    let mut c = master.client();
    assert_eq!(c.cmd(&["ROLE"]), "*3\r\n$6\r\nmaster\r\n:0\r\n*0\r\n");
    let replica = redis_replica_of(&master);
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
    let mut m = master.redis_client();
    let written: i64 = info_field(&mut m, "replication", "master_repl_offset")
        .parse()
        .expect("an offset");
    // WAIT asks for an ACK with a GETACK, which the stream carries too.
    assert_eq!(c.cmd(&["WAIT", "1", "0"]), ":1\r\n");
    let role: redis::Value = run(&mut m, &[b"ROLE"]);
    let offset: i64 = info_field(&mut m, "replication", "master_repl_offset")
        .parse()
        .expect("an offset");
    assert!(offset > written);
    let replica_port = replica.server.port.to_string();
    // The replica acknowledged up to the GETACK, or past it with its
    // once-a-second ACK.
    let expected = |acked: i64| {
        redis::Value::Array(vec![
            redis::Value::BulkString(b"master".to_vec()),
            redis::Value::Int(offset),
            redis::Value::Array(vec![redis::Value::Array(vec![
                redis::Value::BulkString(b"127.0.0.1".to_vec()),
                redis::Value::BulkString(replica_port.clone().into_bytes()),
                redis::Value::BulkString(acked.to_string().into_bytes()),
            ])]),
        ])
    };
    assert!(
        role == expected(written) || role == expected(offset),
        "{role:?}"
    );
}

/// `min-replicas-to-write`: writes (and a MULTI holding one) are refused
/// with Redis's text while too few replicas are good; reads go on.
#[test]
fn min_replicas_to_write_refuses_writes_as_redis_does() {
    use crate::common::{Step::Exact, Transcript};
    Transcript::new()
        .steps(&[
            Exact(&["SET", "k", "v"]),
            Exact(&["CONFIG", "SET", "min-replicas-to-write", "1"]),
            Exact(&["CONFIG", "GET", "min-replicas-to-write"]),
            Exact(&["CONFIG", "GET", "min-slaves-max-lag"]),
            Exact(&["SET", "k", "w"]),
            Exact(&["GET", "k"]),
            Exact(&["MULTI"]),
            Exact(&["INCR", "n"]),
            Exact(&["EXEC"]),
            Exact(&["CONFIG", "SET", "min-replicas-max-lag", "0"]),
            Exact(&["SET", "k", "x"]),
            Exact(&["GET", "k"]),
        ])
        .assert_same_as_redis();
    let master = Server::shardis(1, &["--min-replicas-to-write", "1"]);
    let _replica = redis_replica_of(&master);
    let mut c = master.client();
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
}

/// While a script keeps one shard busy, the other shard's writes still
/// reach the replica (Redis's replicas see silence until the script ends).
#[test]
fn a_busy_shard_does_not_hold_back_the_other_shards_stream() {
    let master = Server::shardis(2, &[]);
    let replica = redis_replica_of(&master);
    let mut r = replica.client();
    let busy_key = key_on(0, 2, "busy");
    let port = master.port;
    let script = "local t = redis.call('time'); local stop = tonumber(t[1]) + 2; \
                  while tonumber(redis.call('time')[1]) < stop do end; return 1";
    let busy = std::thread::spawn(move || {
        let mut c = crate::common::Raw::connect(port);
        c.cmd(&["EVAL", script, "1", &busy_key])
    });
    std::thread::sleep(Duration::from_millis(300));
    let mut c = master.client();
    let key = key_on(1, 2, "free");
    let mut delays = Vec::new();
    for i in 0..20 {
        let value = i.to_string();
        assert_eq!(c.cmd(&["SET", &key, &value]), "+OK\r\n");
        let sent = Instant::now();
        loop {
            let got: Option<String> = redis::cmd("GET").arg(&key).query(&mut r).expect("GET");
            if got.as_deref() == Some(value.as_str()) {
                break;
            }
            assert!(
                sent.elapsed() < Duration::from_secs(1),
                "write {i} did not reach the replica"
            );
            std::thread::sleep(Duration::from_millis(1));
        }
        delays.push(sent.elapsed());
    }
    assert!(
        !busy.is_finished(),
        "the script ended before the writes were checked"
    );
    assert_eq!(busy.join().expect("the script's client"), ":1\r\n");
    delays.sort();
    assert!(
        delays[delays.len() / 2] < Duration::from_millis(100),
        "{delays:?}"
    );
}

/// shardis follows shardis (of another shard count): full sync, the
/// stream, a partial resync after the link breaks, and the promotion.
#[test]
fn shardis_follows_shardis_and_takes_over() {
    let master = Server::shardis(2, &[]);
    let mut m = master.redis_client();
    mixed_writes(&mut m, 0);
    let port = master.port.to_string();
    let replica = Server::shardis(3, &["--replicaof", &format!("127.0.0.1 {port}")]);
    let mut r = replica.redis_client();
    let deadline = Instant::now() + SYNC_TIMEOUT;
    while info_field(&mut r, "replication", "master_link_status") != "up" {
        assert!(
            Instant::now() < deadline,
            "the shardis replica never synced"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    mixed_writes(&mut m, 1);
    assert_same_after_wait(&mut m, &mut r, 1);
    run(&mut r, &[b"CLIENT", b"KILL", b"TYPE", b"master"]);
    mixed_writes(&mut m, 2);
    let deadline = Instant::now() + SYNC_TIMEOUT;
    while info_field(&mut m, "stats", "sync_partial_ok") != "1" {
        assert!(Instant::now() < deadline, "no partial resync");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_same_after_wait(&mut m, &mut r, 1);
    assert_eq!(info_field(&mut m, "stats", "sync_full"), "1");
    // The cut-over: the replica becomes a master with the same data.
    let before = contents_of(&mut r);
    run(&mut r, &[b"REPLICAOF", b"NO", b"ONE"]);
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    assert_eq!(contents_of(&mut r), before);
    run(&mut r, &[b"SET", b"after", b"promotion"]);
    let got: String = redis::cmd("GET").arg("after").query(&mut r).expect("GET");
    assert_eq!(got, "promotion");
}
