//! shardis as the replica of a real redis-server 7.0 (the live-migration
//! path): REPLICAOF, the full sync (disk and diskless payloads) of every
//! type and encoding, the command stream (MULTI/EXEC, scripts' effects,
//! expiry, FLUSHDB, SELECT), READONLY and MASTERDOWN as Redis answers
//! them, a partial resync after CLIENT KILL TYPE master, promotion with
//! REPLICAOF NO ONE, and a full sync after the master restarts. Fails,
//! never skips, when Redis is not installed.

use std::time::{Duration, Instant};

use crate::common::dataset::{contents_of, fill, Contents};
use crate::common::{run, Raw, Server, TempDir};

/// Longest a test waits for the replica to catch up.
const CATCH_UP_TIMEOUT: Duration = Duration::from_secs(30);

/// A redis-server master that starts a sync at once (`diskless` picks
/// the payload's form), with its files (a disk sync's dump.rdb) in a
/// directory of its own.
fn master(diskless: bool, extra: &[&str]) -> (Server, TempDir) {
    let dir = TempDir::new("replication-master");
    let mut args = vec![
        "--dir",
        dir.path(),
        "--repl-diskless-sync",
        if diskless { "yes" } else { "no" },
        "--repl-diskless-sync-delay",
        "0",
    ];
    args.extend_from_slice(extra);
    (Server::redis(&args), dir)
}

/// `field` of the INFO `section` reply `c` gives ("" when absent).
fn info_field(c: &mut Raw, section: &str, field: &str) -> String {
    let info = c.cmd(&["INFO", section]);
    let prefix = format!("{field}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or("")
        .to_string()
}

fn info_number(c: &mut Raw, section: &str, field: &str) -> i64 {
    let text = info_field(c, section, field);
    text.parse()
        .unwrap_or_else(|_| panic!("INFO {section} {field}: {text:?}"))
}

/// The offset the master's `slaveN` line shows for the replica on
/// `replica_port` (what it acknowledged), if listed.
fn acked_offset(master: &mut Raw, replica_port: u16) -> Option<i64> {
    let info = master.cmd(&["INFO", "replication"]);
    let port = format!("port={replica_port},");
    info.lines()
        .filter(|l| l.starts_with("slave") && l.contains(&port))
        .find_map(|l| {
            l.split(',')
                .find_map(|f| f.strip_prefix("offset="))
                .and_then(|n| n.parse().ok())
        })
}

/// Waits until the replica's link is up and it has acknowledged
/// everything the master has produced.
fn wait_caught_up(master: &Server, replica: &Server) {
    let (mut m, mut r) = (master.client(), replica.client());
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    loop {
        let produced = info_number(&mut m, "replication", "master_repl_offset");
        let up = info_field(&mut r, "replication", "master_link_status") == "up";
        if up && acked_offset(&mut m, replica.port).is_some_and(|acked| acked >= produced) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "the replica did not catch up: master {:?}\nreplica {:?}",
            m.cmd(&["INFO", "replication"]),
            r.cmd(&["INFO", "replication"])
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// REPLICAOF the master, then waits for the sync.
fn follow(replica: &Server, master: &Server) {
    let port = master.port.to_string();
    assert_eq!(
        replica.client().cmd(&["REPLICAOF", "127.0.0.1", &port]),
        "+OK\r\n"
    );
    wait_caught_up(master, replica);
}

fn assert_same_contents(master: &Server, replica: &Server, when: &str) {
    let expected: Contents = contents_of(&mut master.redis_client());
    let got: Contents = contents_of(&mut replica.redis_client());
    assert!(!expected.is_empty(), "the master holds data ({when})");
    for db in expected.keys().chain(got.keys()) {
        let (e, g) = (expected.get(db), got.get(db));
        if e != g {
            let (e, g) = (
                e.cloned().unwrap_or_default(),
                g.cloned().unwrap_or_default(),
            );
            let missing: Vec<_> = e.keys().filter(|k| g.get(*k) != e.get(*k)).collect();
            let extra: Vec<_> = g.keys().filter(|k| !e.contains_key(*k)).collect();
            panic!(
                "{when}: db {db} differs: wrong or missing {:?}, extra {:?}",
                missing
                    .iter()
                    .map(|k| String::from_utf8_lossy(k))
                    .collect::<Vec<_>>(),
                extra
                    .iter()
                    .map(|k| String::from_utf8_lossy(k))
                    .collect::<Vec<_>>()
            );
        }
    }
}

/// Writes of every kind a master streams: plain and fan-out commands,
/// relative and absolute expiry, SELECT, FLUSHDB, MULTI/EXEC on one and
/// on several of the replica's shards, a script's effects.
fn write_load(con: &mut redis::Connection, round: usize) {
    let r = round.to_string();
    let s = |t: &str| format!("{t}{round}");
    for i in 0..200 {
        let i = i.to_string();
        run(con, &[b"SET", format!("k{i}").as_bytes(), r.as_bytes()]);
        run(con, &[b"INCR", b"counter"]);
        run(
            con,
            &[
                b"LPUSH",
                format!("list{}", i.len()).as_bytes(),
                i.as_bytes(),
            ],
        );
        run(
            con,
            &[b"HSET", b"h", format!("f{i}").as_bytes(), i.as_bytes()],
        );
    }
    run(con, &[b"EXPIRE", b"k1", b"1000"]);
    run(con, &[b"PEXPIRE", b"k2", b"500000"]);
    run(con, &[b"SET", s("ex").as_bytes(), b"v", b"EX", b"100"]);
    run(con, &[b"GETEX", b"k6", b"EX", b"1000"]);
    run(con, &[b"DEL", b"k3", b"k4", b"k5", b"biglist0"]);
    run(con, &[b"MSET", b"ma", b"1", b"mb", b"2", b"mc", b"3"]);
    run(con, &[b"INCRBYFLOAT", b"float", b"1.5"]);
    run(con, &[b"SADD", b"set", r.as_bytes()]);
    run(con, &[b"ZADD", b"zset", b"2", r.as_bytes()]);
    run(con, &[b"SET", b"{r}a", r.as_bytes()]);
    run(con, &[b"RENAME", b"{r}a", b"{r}b"]);
    run(con, &[b"SELECT", b"1"]);
    run(con, &[b"FLUSHDB"]);
    run(con, &[b"SET", s("in1-").as_bytes(), b"x"]);
    run(con, &[b"SELECT", b"5"]);
    run(con, &[b"HSET", b"hash5", b"g", r.as_bytes()]);
    run(con, &[b"SELECT", b"0"]);
    // One shard of the replica (a hash tag), then several.
    run(con, &[b"MULTI"]);
    run(con, &[b"SET", b"{t}a", r.as_bytes()]);
    run(con, &[b"INCR", b"{t}b"]);
    run(con, &[b"LPUSH", b"{t}c", r.as_bytes()]);
    run(con, &[b"EXEC"]);
    run(con, &[b"MULTI"]);
    run(con, &[b"SET", b"m1", r.as_bytes()]);
    run(con, &[b"SET", b"m2", r.as_bytes()]);
    run(con, &[b"SELECT", b"2"]);
    run(con, &[b"SET", b"m3", r.as_bytes()]);
    run(con, &[b"EXEC"]);
    run(con, &[b"SELECT", b"0"]);
    let script = b"redis.call('set', KEYS[1], ARGV[1]) redis.call('incr', KEYS[2]) \
                   redis.call('set', KEYS[1] .. 'ttl', 'v', 'PX', 90000)";
    run(
        con,
        &[b"EVAL", script, b"2", b"{s}x", b"{s}y", r.as_bytes()],
    );
}

/// The library `fill` loads is on the replica.
fn assert_functions_copied(replica: &Server) {
    let list = replica.client().cmd(&["FUNCTION", "LIST"]);
    assert!(
        list.contains("rdblib") && list.contains("rdbf"),
        "the function library came with the sync: {list}"
    );
}

/// Every key, value and TTL of a filled redis-server arrives, then its
/// write stream, at 1 and 3 shards, with both payload forms.
#[test]
fn follows_a_redis_master_at_1_and_3_shards() {
    for (shards, diskless) in [(1, false), (3, true)] {
        let (master, _dir) = master(diskless, &[]);
        let mut con = master.redis_client();
        fill(&mut con);
        let replica = Server::shardis(shards, &[]);
        follow(&replica, &master);
        let when = format!("{shards} shard(s), diskless {diskless}: after the sync");
        assert_same_contents(&master, &replica, &when);
        assert_functions_copied(&replica);
        for round in 0..2 {
            write_load(&mut con, round);
            wait_caught_up(&master, &replica);
            let when = format!("{shards} shard(s): after write round {round}");
            assert_same_contents(&master, &replica, &when);
        }
        // INFO and ROLE as Redis shows them on a replica (the master may
        // have sent a PING since: offsets at least the master's).
        let mut r = replica.client();
        let mut m = master.client();
        let offset = info_number(&mut m, "replication", "master_repl_offset");
        assert_eq!(info_field(&mut r, "replication", "role"), "slave");
        assert_eq!(
            info_field(&mut r, "replication", "master_port"),
            master.port.to_string()
        );
        let applied = info_number(&mut r, "replication", "slave_repl_offset");
        assert!(applied >= offset, "applied {applied} of {offset}");
        assert!(info_number(&mut r, "replication", "slave_read_repl_offset") >= applied);
        assert_eq!(
            info_field(&mut r, "replication", "master_replid"),
            info_field(&mut m, "replication", "master_replid"),
            "the replica's history is the master's"
        );
        let role = r.cmd(&["ROLE"]);
        let expected = format!(
            "*5\r\n$5\r\nslave\r\n$9\r\n127.0.0.1\r\n:{}\r\n$9\r\nconnected\r\n:",
            master.port
        );
        assert!(role.starts_with(&expected), "{role}");
        assert_eq!(info_number(&mut m, "stats", "sync_full"), 1);
    }
}

/// READONLY and MASTERDOWN for the same commands as a redis-server
/// replica of the same master.
#[test]
fn a_replica_refuses_writes_as_a_redis_replica_does() {
    let (master, _dir) = master(true, &[]);
    let mut con = master.redis_client();
    run(&mut con, &[b"SET", b"a", b"1"]);
    let library = b"#!lua name=lib\nredis.register_function('f', function() return 1 end)\n\
        redis.register_function{function_name='g', callback=function() return 2 end, flags={'no-writes'}}";
    run(&mut con, &[b"FUNCTION", b"LOAD", library]);
    let replica_dir = TempDir::new("replication-redis-replica");
    let redis_replica = Server::redis(&["--dir", replica_dir.path()]);
    let replica = Server::shardis(3, &[]);
    follow(&redis_replica, &master);
    follow(&replica, &master);
    let master_port = master.port.to_string();
    let same = [
        vec!["SET", "a", "2"],
        vec!["INCR", "n"],
        vec!["DEL", "a"],
        vec!["GET", "a"],
        vec!["EVAL", "return redis.call('get', KEYS[1])", "1", "a"],
        vec![
            "FUNCTION",
            "LOAD",
            "#!lua name=x\nredis.register_function('f', function() return 1 end)",
        ],
        // A script that declares it may write is refused before it runs.
        vec!["EVAL", "#!lua\nreturn 1", "0"],
        vec!["EVAL", "#!lua flags=no-writes\nreturn 1", "0"],
        vec!["EVAL_RO", "#!lua\nreturn 1", "0"],
        vec!["FCALL", "f", "0"],
        vec!["FCALL", "g", "0"],
        vec!["FCALL_RO", "f", "0"],
        vec!["MULTI"],
        vec!["SET", "a", "3"],
        vec!["EXEC"],
        vec!["REPLICAOF", "127.0.0.1", "70000"],
        vec!["REPLICAOF", "127.0.0.1", &master_port],
        vec!["CLIENT", "KILL", "TYPE", "replica"],
    ];
    let (mut ours, mut theirs) = (replica.client(), redis_replica.client());
    for args in &same {
        assert_eq!(ours.cmd(args), theirs.cmd(args), "{args:?}");
    }
    // A legacy script's write fails inside the script.
    let write = ["EVAL", "return redis.call('set', KEYS[1], 'x')", "1", "a"];
    assert_eq!(ours.cmd(&write), theirs.cmd(&write));
    // replica-read-only no: writes are taken (and kept until the master
    // overwrites them).
    for c in [&mut ours, &mut theirs] {
        assert_eq!(
            c.cmd(&["CONFIG", "SET", "replica-read-only", "no"]),
            "+OK\r\n"
        );
        assert_eq!(c.cmd(&["SET", "local", "1"]), "+OK\r\n");
    }
    // The link down and stale data refused: MASTERDOWN, as Redis.
    let nowhere = crate::common::free_port().to_string();
    let masterdown = [
        vec!["CONFIG", "SET", "replica-serve-stale-data", "no"],
        vec!["REPLICAOF", "127.0.0.1", &nowhere],
        vec!["GET", "a"],
        vec!["PING"],
        vec!["EVAL", "return 1", "0"],
        vec!["EVAL", "#!lua flags=no-writes,allow-stale\nreturn 1", "0"],
        vec!["FCALL", "g", "0"],
        vec!["CONFIG", "GET", "replica-serve-stale-data"],
        vec!["CONFIG", "GET", "slave-read-only"],
        vec!["CONFIG", "GET", "replicaof"],
        vec!["CONFIG", "SET", "replicaof", "a 1"],
        vec!["ROLE"],
        vec!["REPLICAOF", "NO", "ONE"],
        vec!["GET", "a"],
        vec!["ROLE"],
    ];
    for args in &masterdown {
        let (a, b) = (ours.cmd(args), theirs.cmd(args));
        if args[0] == "ROLE" && args.len() == 1 && a.starts_with("*3") {
            // A master's ROLE: its offset differs between the two.
            assert!(b.starts_with("*3\r\n$6\r\nmaster\r\n"), "{b}");
            continue;
        }
        assert_eq!(a, b, "{args:?}");
    }
    let mut link_down = Raw::connect(replica.port);
    assert_eq!(
        link_down.cmd(&["REPLICAOF", "127.0.0.1", &nowhere]),
        "+OK\r\n"
    );
    assert_eq!(
        info_field(&mut link_down, "replication", "master_link_status"),
        "down"
    );
    assert_eq!(
        info_field(
            &mut link_down,
            "replication",
            "master_link_down_since_seconds"
        ),
        "-1"
    );
}

/// CLIENT KILL TYPE master: the replica reconnects and continues with a
/// partial resync (no full sync), missing nothing written meanwhile.
#[test]
fn a_killed_link_resumes_with_a_partial_resync() {
    let (master, _dir) = master(true, &[]);
    let mut con = master.redis_client();
    fill(&mut con);
    let replica = Server::shardis(3, &[]);
    follow(&replica, &master);
    let mut m = master.client();
    let full = info_number(&mut m, "stats", "sync_full");
    let partial = info_number(&mut m, "stats", "sync_partial_ok");
    assert_eq!(
        replica.client().cmd(&["CLIENT", "KILL", "TYPE", "master"]),
        ":1\r\n"
    );
    write_load(&mut con, 7);
    wait_caught_up(&master, &replica);
    assert_eq!(info_number(&mut m, "stats", "sync_full"), full);
    assert_eq!(
        info_number(&mut m, "stats", "sync_partial_ok"),
        partial + 1,
        "the replica continued with PSYNC"
    );
    assert_same_contents(&master, &replica, "after the partial resync");
}

/// REPLICAOF NO ONE: the node keeps the data, takes writes, and records
/// the master's history as `master_replid2` (PSYNC2).
#[test]
fn replicaof_no_one_promotes_with_the_data() {
    let (master, _dir) = master(false, &[]);
    let mut con = master.redis_client();
    fill(&mut con);
    write_load(&mut con, 0);
    let replica = Server::shardis(3, &[]);
    follow(&replica, &master);
    let mut m = master.client();
    let old_id = info_field(&mut m, "replication", "master_replid");
    let offset = info_number(&mut m, "replication", "master_repl_offset");
    let mut r = replica.client();
    assert_eq!(r.cmd(&["REPLICAOF", "NO", "ONE"]), "+OK\r\n");
    assert_eq!(r.cmd(&["SET", "after", "1"]), "+OK\r\n");
    assert_eq!(r.cmd(&["DEL", "after"]), ":1\r\n");
    assert_same_contents(&master, &replica, "after the promotion");
    // The old master's writes no longer arrive.
    run(&mut con, &[b"SET", b"late", b"1"]);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(r.cmd(&["EXISTS", "late"]), ":0\r\n");
    assert_eq!(info_field(&mut r, "replication", "role"), "master");
    assert_eq!(info_field(&mut r, "replication", "master_replid2"), old_id);
    assert_eq!(
        info_number(&mut r, "replication", "second_repl_offset"),
        offset + 1
    );
    assert_ne!(info_field(&mut r, "replication", "master_replid"), old_id);
}

/// A master killed (-9) and started again on its port, empty and then
/// written to: the replica reconnects and full-syncs to the new data.
#[test]
fn a_restarted_master_is_followed_with_a_full_sync() {
    let (master, dir) = master(true, &[]);
    let port = master.port;
    fill(&mut master.redis_client());
    let replica = Server::shardis(3, &["--repl-timeout", "5"]);
    follow(&replica, &master);
    drop(master);
    let master = Server::redis_on(
        port,
        &[
            "--dir",
            dir.path(),
            "--repl-diskless-sync",
            "yes",
            "--repl-diskless-sync-delay",
            "0",
        ],
    );
    let mut con = master.redis_client();
    write_load(&mut con, 3);
    wait_caught_up(&master, &replica);
    assert_same_contents(&master, &replica, "after the master's restart");
    let mut r = replica.client();
    assert_eq!(
        r.cmd(&["EXISTS", "biglist5"]),
        ":0\r\n",
        "the old data is gone"
    );
    assert_eq!(
        info_field(&mut r, "replication", "master_replid"),
        info_field(&mut master.client(), "replication", "master_replid")
    );
}

/// With `masterauth` (and `masteruser`) the replica authenticates.
#[test]
fn masterauth_authenticates_the_link() {
    let (master, _dir) = master(true, &[]);
    let mut admin = master.client();
    assert_eq!(
        admin.cmd(&["CONFIG", "SET", "requirepass", "s3cret"]),
        "+OK\r\n"
    );
    assert_eq!(admin.cmd(&["SET", "a", "1"]), "+OK\r\n");
    let replica = Server::shardis(1, &["--masterauth", "wrong"]);
    let mut r = replica.client();
    let port = master.port.to_string();
    assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &port]), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(
        info_field(&mut r, "replication", "master_link_status"),
        "down",
        "a wrong password keeps the link down"
    );
    assert_eq!(
        r.cmd(&[
            "CONFIG",
            "SET",
            "masteruser",
            "default",
            "masterauth",
            "s3cret"
        ]),
        "+OK\r\n"
    );
    let deadline = Instant::now() + CATCH_UP_TIMEOUT;
    while r.cmd(&["GET", "a"]) != "$1\r\n1\r\n" {
        assert!(Instant::now() < deadline, "the replica never synced");
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(
        r.cmd(&["CONFIG", "GET", "masteruser"]),
        "*2\r\n$10\r\nmasteruser\r\n$7\r\ndefault\r\n"
    );
}

/// A scripted master on a plain socket: the replica's handshake, its
/// acknowledged offsets byte for byte (the GETACK itself counted after
/// its ACK, as Redis 7.0), its PSYNC after a broken link; then hostile
/// replies, each of which only breaks the link.
#[test]
fn a_scripted_master_sees_redis_offsets_and_hostile_bytes_do_no_harm() {
    use std::io::{BufRead, BufReader, Read, Write};
    use std::net::{TcpListener, TcpStream};

    /// Reads one RESP array of bulks the replica sent.
    fn command(reader: &mut BufReader<TcpStream>) -> Vec<String> {
        let mut line = String::new();
        reader.read_line(&mut line).expect("a command");
        let n: usize = line.trim()[1..].parse().expect("an array");
        (0..n)
            .map(|_| {
                line.clear();
                reader.read_line(&mut line).expect("a bulk header");
                let len: usize = line.trim()[1..].parse().expect("a bulk");
                let mut bulk = vec![0; len + 2];
                reader.read_exact(&mut bulk).expect("a bulk");
                String::from_utf8_lossy(&bulk[..len]).into_owned()
            })
            .collect()
    }

    /// Accepts the replica and answers its handshake up to PSYNC; the
    /// PSYNC's arguments.
    fn handshake(
        listener: &TcpListener,
        replica_port: u16,
    ) -> (TcpStream, BufReader<TcpStream>, Vec<String>) {
        let (mut conn, _) = listener.accept().expect("the replica connects");
        conn.set_read_timeout(Some(Duration::from_secs(10)))
            .expect("timeout");
        let mut reader = BufReader::new(conn.try_clone().expect("clone"));
        assert_eq!(command(&mut reader), ["PING"]);
        conn.write_all(b"+PONG\r\n").expect("write");
        let port = replica_port.to_string();
        assert_eq!(command(&mut reader), ["REPLCONF", "listening-port", &port]);
        conn.write_all(b"+OK\r\n").expect("write");
        assert_eq!(
            command(&mut reader),
            ["REPLCONF", "capa", "eof", "capa", "psync2"]
        );
        conn.write_all(b"-ERR old master\r\n").expect("write");
        let psync = command(&mut reader);
        assert_eq!(psync[0], "PSYNC");
        (conn, reader, psync)
    }

    fn encode(args: &[&str]) -> Vec<u8> {
        shardis::protocol::encode_command(args)
    }

    let mut keyspace = shardis::store::Keyspace::for_shard(0, 1);
    keyspace.dbs[0].insert(b"a", shardis::store::Value::Str(b"1".to_vec()), 0);
    let mut writer = shardis::rdb::Writer::new(Vec::new());
    writer.begin(0).expect("rdb");
    shardis::rdb::snapshot::write_keyspace(&mut writer, &keyspace, 0).expect("rdb");
    let rdb = writer.finish().expect("rdb");

    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let master_port = listener.local_addr().expect("addr").port().to_string();
    let replica = Server::shardis(2, &[]);
    let mut r = replica.client();
    assert_eq!(r.cmd(&["REPLICAOF", "127.0.0.1", &master_port]), "+OK\r\n");
    let (mut conn, mut reader, psync) = handshake(&listener, replica.port);
    assert_eq!(psync.len(), 3);
    let id = "8".repeat(40);
    let mut full = format!("+FULLRESYNC {id} 100\r\n\n\n${}\r\n", rdb.len()).into_bytes();
    full.extend_from_slice(&rdb);
    conn.write_all(&full).expect("write");
    assert_eq!(command(&mut reader), ["REPLCONF", "ACK", "100"]);

    let set = encode(&["SET", "b", "2"]);
    let getack = encode(&["REPLCONF", "GETACK", "*"]);
    let ping = encode(&["PING"]);
    conn.write_all(&[set.clone(), getack.clone()].concat())
        .expect("write");
    let after_set = 100 + set.len();
    assert_eq!(
        command(&mut reader),
        ["REPLCONF", "ACK", &after_set.to_string()],
        "GETACK is answered with the offset before it"
    );
    conn.write_all(&ping).expect("write");
    let all = after_set + getack.len() + ping.len();
    let deadline = Instant::now() + Duration::from_secs(5);
    while command(&mut reader) != ["REPLCONF", "ACK", &all.to_string()] {
        assert!(Instant::now() < deadline, "no ACK of {all}");
    }
    assert_eq!(r.cmd(&["MGET", "a", "b"]), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(
        info_number(&mut r, "replication", "slave_repl_offset"),
        all as i64
    );
    assert_eq!(info_field(&mut r, "replication", "master_replid"), id);

    // A broken link: the replica asks to continue where it stopped.
    drop((conn, reader));
    let (conn, reader, psync) = handshake(&listener, replica.port);
    assert_eq!(psync, ["PSYNC", &id, &(all + 1).to_string()]);
    drop((conn, reader));

    // Hostile replies: each breaks the link, nothing else.
    let hostile: [&[u8]; 5] = [
        b"+FULLRESYNC short 0\r\n",
        b"+FULLRESYNC 8888888888888888888888888888888888888888 0\r\n$99999999999999999999999\r\n",
        b"+FULLRESYNC 8888888888888888888888888888888888888888 0\r\n$EOF:tooshort\r\n",
        b"+CONTINUE\r\n*1\r\nX\r\n",
        &[b'x'; 200 * 1024],
    ];
    for bytes in hostile {
        let (mut conn, _reader, _) = handshake(&listener, replica.port);
        let _ = conn.write_all(bytes);
        // The replica hangs up.
        let mut rest = Vec::new();
        let _ = conn.read_to_end(&mut rest);
        assert_eq!(r.cmd(&["PING"]), "+PONG\r\n");
    }
    assert_eq!(r.cmd(&["MGET", "a", "b"]), "*2\r\n$1\r\n1\r\n$1\r\n2\r\n");
    assert_eq!(
        info_field(&mut r, "replication", "master_link_status"),
        "down"
    );

    // A master silent for `repl-timeout`: the replica hangs up.
    assert_eq!(r.cmd(&["CONFIG", "SET", "repl-timeout", "2"]), "+OK\r\n");
    let (mut conn, _reader, _) = handshake(&listener, replica.port);
    conn.write_all(b"+CONTINUE\r\n").expect("write");
    let silent = Instant::now();
    let _ = conn.read_to_end(&mut Vec::new());
    let waited = silent.elapsed();
    assert!(
        waited > Duration::from_millis(1500) && waited < Duration::from_secs(8),
        "the replica hung up after {waited:?}"
    );
}
