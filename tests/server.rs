//! End-to-end: start-up, protocol handling, routing and pipelining.

mod common;

use common::{assert_same_as_redis, Server, Step::*};

#[test]
fn ping_echo_and_inline() {
    for shards in [1, 3] {
        let s = Server::shardis(shards, &[]);
        let mut c = s.client();
        assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
        assert_eq!(c.cmd(&["ping", "hi"]), "$2\r\nhi\r\n");
        assert_eq!(c.cmd(&["ECHO", "x y"]), "$3\r\nx y\r\n");
        c.send_raw(b"PING\r\n\r\necho \"a b\"\n");
        assert_eq!(c.read_reply(), "+PONG\r\n");
        assert_eq!(c.read_reply(), "$3\r\na b\r\n");
    }
}

#[test]
fn pipeline_across_shards_keeps_order() {
    let s = Server::shardis(4, &[]);
    let mut c = s.client();
    let mut batch = Vec::new();
    for i in 0..500 {
        batch.extend(common::encode(&[
            b"SET",
            format!("key:{i}").as_bytes(),
            format!("v{i}").as_bytes(),
        ]));
        batch.extend(common::encode(&[b"GET", format!("key:{i}").as_bytes()]));
        batch.extend(common::encode(&[b"PING"]));
    }
    c.send_raw(&batch);
    for i in 0..500 {
        assert_eq!(c.read_reply(), "+OK\r\n");
        let v = format!("v{i}");
        assert_eq!(c.read_reply(), format!("${}\r\n{v}\r\n", v.len()));
        assert_eq!(c.read_reply(), "+PONG\r\n");
    }
    assert_eq!(c.cmd(&["DBSIZE"]), ":500\r\n");
}

#[test]
fn fanout_commands_gather_in_key_order() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    assert_eq!(
        c.cmd(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["MGET", "d", "nope", "a", "c", "b"]),
        "*5\r\n$1\r\n4\r\n$-1\r\n$1\r\n1\r\n$1\r\n3\r\n$1\r\n2\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "a", "a", "b", "zz"]), ":3\r\n");
    assert_eq!(c.cmd(&["DEL", "a", "b", "zz"]), ":2\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), ":2\r\n");
}

#[test]
fn unknown_commands_and_arity_match_redis() {
    assert_same_as_redis(
        2,
        &[
            Exact(&["NOSUCH", "a", "b"]),
            Exact(&["nosuch"]),
            Exact(&["GET"]),
            Exact(&["GET", "a", "b"]),
            Exact(&["SET", "k"]),
            Exact(&["PING", "a", "b"]),
        ],
    );
}

#[test]
fn protocol_errors_close_the_connection_like_redis() {
    let cases: &[&[u8]] = &[
        b"*1\r\n$x\r\n",
        b"*abc\r\n",
        b"*1\r\n+PING\r\n",
        b"*1\r\n$-5\r\n",
        b"SET \"a\n",
        b"*3000000000\r\n",
    ];
    let ours = Server::shardis(2, &[]);
    let reference = Server::redis(&[]);
    for case in cases {
        let mut a = ours.client();
        let mut b = reference.client();
        a.send_raw(case);
        b.send_raw(case);
        assert_eq!(
            a.read_reply(),
            b.read_reply(),
            "reply to {:?}",
            String::from_utf8_lossy(case)
        );
        assert!(
            a.is_closed(),
            "shardis keeps the connection after {:?}",
            String::from_utf8_lossy(case)
        );
        assert!(b.is_closed());
    }
}

#[test]
fn oversized_inline_and_bulk_are_refused() {
    let s = Server::shardis(1, &["--proto-max-bulk-len", "1mb"]);
    let mut c = s.client();
    c.send_raw(&vec![b'a'; 70 * 1024]);
    assert_eq!(
        c.read_reply(),
        "-ERR Protocol error: too big inline request\r\n"
    );
    assert!(c.is_closed());
    let mut c = s.client();
    c.send_raw(b"*2\r\n$3\r\nGET\r\n$2000000\r\n");
    assert_eq!(
        c.read_reply(),
        "-ERR Protocol error: invalid bulk length\r\n"
    );
    // The server is still fine.
    assert_eq!(s.client().cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn crossslot_and_hash_tags() {
    let s = Server::shardis(4, &[]);
    let mut c = s.client();
    // Keys that share a hash tag share a shard: MSET is split or not, but a
    // single-shard-only command must accept them.
    assert_eq!(
        c.cmd(&["MSET", "{user1}:a", "1", "{user1}:b", "2"]),
        "+OK\r\n"
    );
    assert_eq!(
        c.cmd(&["MGET", "{user1}:a", "{user1}:b"]),
        "*2\r\n$1\r\n1\r\n$1\r\n2\r\n"
    );
}

#[test]
fn shutdown_stops_the_server() {
    let mut s = Server::shardis(2, &[]);
    let mut c = s.client();
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.is_closed());
    let status = s
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("server exits");
    assert!(status.success());
}

#[test]
fn restarts_on_the_same_port_right_after_shutdown() {
    // Connections the server closed sit in TIME_WAIT for a minute; like
    // Redis, shardis binds with SO_REUSEADDR so a restart is not refused.
    let mut s = Server::shardis(2, &[]);
    let port = s.port;
    let mut clients: Vec<_> = (0..4).map(|_| s.client()).collect();
    for c in &mut clients {
        assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    }
    clients[0].send(&[b"SHUTDOWN", b"NOSAVE"]);
    for c in &mut clients {
        assert!(c.is_closed());
    }
    drop(clients);
    s.wait_exit(std::time::Duration::from_secs(10))
        .expect("server exits");
    let again = Server::shardis_on(port, 2, &[]);
    assert_eq!(again.client().cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn requirepass_gates_commands() {
    let s = Server::shardis(2, &["--requirepass", "secret"]);
    let mut c = s.client();
    assert_eq!(c.cmd(&["GET", "a"]), "-NOAUTH Authentication required.\r\n");
    assert_eq!(
        c.cmd(&["AUTH", "wrong"]),
        "-WRONGPASS invalid username-password pair or user is disabled.\r\n"
    );
    assert_eq!(c.cmd(&["AUTH", "secret"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", "a", "1"]), "+OK\r\n");
}

#[test]
fn redis_crate_client_works() {
    let s = Server::shardis(2, &[]);
    let mut con = s.redis_client();
    let _: () = redis::cmd("SET").arg("x").arg(42).query(&mut con).unwrap();
    let v: i64 = redis::cmd("GET").arg("x").query(&mut con).unwrap();
    assert_eq!(v, 42);
}

/// Deterministic xorshift, so a failure can be replayed.
fn next(seed: &mut u64) -> u64 {
    *seed ^= *seed << 13;
    *seed ^= *seed >> 7;
    *seed ^= *seed << 17;
    *seed
}

#[test]
fn random_garbage_never_hurts_the_server() {
    let s = Server::shardis(2, &[]);
    let mut seed = 0x5eed_u64;
    let alphabet: &[u8] = b"*$:+-\r\n0123456789-abcSETGET {}\"'\\x";
    for _ in 0..200 {
        let len = (next(&mut seed) % 200) as usize;
        let bytes: Vec<u8> = (0..len)
            .map(|_| {
                let r = next(&mut seed);
                if r.is_multiple_of(4) {
                    r as u8
                } else {
                    alphabet[(r >> 8) as usize % alphabet.len()]
                }
            })
            .collect();
        let mut stream = std::net::TcpStream::connect(("127.0.0.1", s.port)).unwrap();
        use std::io::Write;
        let _ = stream.write_all(&bytes);
        // Closing right away, mid-frame or not, must be fine too.
    }
    let mut c = s.client();
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(c.cmd(&["SET", "still", "alive"]), "+OK\r\n");
}

#[test]
fn query_buffer_limit_closes_the_connection() {
    let s = Server::shardis(1, &["--client-query-buffer-limit", "1mb"]);
    let mut c = s.client();
    // A 4 MB bulk is within proto-max-bulk-len but over the query buffer.
    c.send_raw(b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$4000000\r\n");
    let chunk = vec![b'x'; 64 * 1024];
    let mut closed = false;
    for _ in 0..64 {
        use std::io::Write;
        if c.writer_mut().write_all(&chunk).is_err() {
            closed = true;
            break;
        }
    }
    assert!(
        closed || c.is_closed(),
        "the connection stays open past the limit"
    );
    let mut d = s.client();
    assert_eq!(d.cmd(&["EXISTS", "k"]), ":0\r\n");
}

#[test]
fn debug_sleep_and_time() {
    let s = Server::shardis(1, &[]);
    let mut c = s.client();
    let start = std::time::Instant::now();
    assert_eq!(c.cmd(&["DEBUG", "SLEEP", "0.2"]), "+OK\r\n");
    assert!(start.elapsed() >= std::time::Duration::from_millis(190));
    let time = c.cmd(&["TIME"]);
    assert!(time.starts_with("*2\r\n$10\r\n"), "{time}");
}

#[test]
fn requests_in_pieces_and_large_values_arrive_whole() {
    // Each connection's socket is watched by one readiness poll for its
    // life: a frame cut into pieces with pauses between them, a value that
    // fills many reads, and many connections taking turns must all be read
    // in full and answered in order.
    let s = Server::shardis(2, &[]);
    let value: Vec<u8> = (0..1_500_000u32).map(|i| b'a' + (i % 26) as u8).collect();
    let frame = common::encode(&[b"SET", b"big", &value]);
    let mut c = s.client();
    for (i, piece) in frame.chunks(7_001).enumerate() {
        c.send_raw(piece);
        if i % 40 == 0 {
            std::thread::sleep(std::time::Duration::from_millis(2));
        }
    }
    assert_eq!(c.read_reply(), "+OK\r\n");
    let mut expected = format!("${}\r\n", value.len()).into_bytes();
    expected.extend_from_slice(&value);
    expected.extend_from_slice(b"\r\n");
    assert_eq!(c.cmd_bytes(&[b"GET", b"big"]), expected);

    // One byte at a time, on many connections in turn.
    let mut clients: Vec<_> = (0..20).map(|_| s.client()).collect();
    let ping = common::encode(&[b"ECHO", b"hello"]);
    for byte in &ping {
        for c in clients.iter_mut() {
            c.send_raw(std::slice::from_ref(byte));
        }
    }
    for c in clients.iter_mut() {
        assert_eq!(c.read_reply(), "$5\r\nhello\r\n");
    }
}

/// CPU time (user + system) the process has used so far, from
/// /proc/<pid>/stat, in clock ticks.
fn cpu_ticks(pid: u32) -> u64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).expect("read /proc stat");
    // Fields after the command name (which may hold spaces) start after ')'.
    let fields: Vec<&str> = stat[stat.rfind(')').expect("comm") + 2..]
        .split(' ')
        .collect();
    // utime and stime are fields 14 and 15 of the whole line.
    fields[11].parse::<u64>().expect("utime") + fields[12].parse::<u64>().expect("stime")
}

#[test]
fn an_idle_server_sleeps() {
    // Each shard's executor must park when there is nothing to do, with
    // open connections and after serving traffic (a reactor that counted
    // its own timer bookkeeping as new events never slept: 100% CPU).
    let server = Server::shardis(2, &[]);
    let mut clients: Vec<_> = (0..8).map(|_| server.client()).collect();
    for (i, c) in clients.iter_mut().enumerate() {
        assert_eq!(c.cmd(&["SET", &format!("k{i}"), "v"]), "+OK\r\n");
        assert_eq!(c.cmd(&["GET", &format!("k{i}")]), "$1\r\nv\r\n");
    }
    std::thread::sleep(std::time::Duration::from_millis(300));
    let before = cpu_ticks(server.pid());
    std::thread::sleep(std::time::Duration::from_secs(2));
    let used = cpu_ticks(server.pid()) - before;
    // Clock ticks are 1/100 s: two spinning shards would use ~400 here,
    // an idle server (hz 10 housekeeping) about 0.
    assert!(
        used < 40,
        "an idle 2-shard server used {used} ticks of CPU in 2 s"
    );
    // Still serving after the quiet spell.
    assert_eq!(clients[0].cmd(&["GET", "k0"]), "$1\r\nv\r\n");
}
