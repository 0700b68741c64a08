//! End-to-end: start-up, protocol handling, routing and pipelining.

use crate::common;

use std::time::{Duration, Instant};

use common::{key_on, Raw, Server, Step::*, Transcript};

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
    Transcript::new()
        .shards(&[2])
        .steps(&[
            Exact(&["NOSUCH", "a", "b"]),
            Exact(&["nosuch"]),
            Exact(&["GET"]),
            Exact(&["GET", "a", "b"]),
            Exact(&["SET", "k"]),
            Exact(&["PING", "a", "b"]),
        ])
        .assert_same_as_redis();
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
    let s = Server::shardis(1, &["--enable-debug-command", "yes"]);
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

/// The numeric field `name` of `INFO <section>`.
fn info_number(c: &mut Raw, section: &str, name: &str) -> i64 {
    let info = c.cmd(&["INFO", section]);
    let prefix = format!("{name}:");
    info.lines()
        .find_map(|l| l.strip_prefix(&prefix))
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or_else(|| panic!("INFO {section} has no number {name}: {info:?}"))
}

/// `connected_clients` and the number of `CLIENT LIST` lines, read by `c`.
fn client_counts(c: &mut Raw) -> (i64, i64) {
    let connected = info_number(c, "clients", "connected_clients");
    let listed = c.cmd(&["CLIENT", "LIST"]).matches("id=").count() as i64;
    (connected, listed)
}

/// Polls until `c` sees `want` connected clients (and as many listed);
/// panics with the last counts after a few seconds.
fn wait_for_clients(c: &mut Raw, want: i64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let counts = client_counts(c);
        if counts == (want, want) {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "(connected_clients, CLIENT LIST lines) stay {counts:?}, want {want}: {}",
            c.cmd(&["CLIENT", "LIST"])
        );
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The shard (core) serving connection `c`.
fn own_shard(c: &mut Raw) -> usize {
    let info = c.cmd(&["CLIENT", "INFO"]);
    info.split_whitespace()
        .find_map(|f| f.strip_prefix("shard="))
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("CLIENT INFO names no shard: {info:?}"))
}

#[test]
fn a_client_that_goes_away_mid_command_frees_its_slot() {
    let s = Server::shardis(2, &["--enable-debug-command", "yes", "--maxclients", "4"]);
    let mut observer = s.client();
    // Three clients start an hour-long sleep and hang up.
    for _ in 0..3 {
        let mut c = s.client();
        c.send(&[b"DEBUG", b"SLEEP", b"inf"]);
        drop(c);
    }
    wait_for_clients(&mut observer, 1);
    // Their slots are free again: maxclients (4) admits three more.
    let mut more: Vec<Raw> = (0..3).map(|_| s.client()).collect();
    for c in &mut more {
        assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    }
    drop(more);
    wait_for_clients(&mut observer, 1);

    // A client killed while it sleeps goes at once too.
    let mut sleeper = s.client();
    let id = sleeper.cmd(&["CLIENT", "ID"]);
    let id = id.trim_start_matches(':').trim_end().to_string();
    sleeper.send(&[b"DEBUG", b"SLEEP", b"inf"]);
    assert_eq!(observer.cmd(&["CLIENT", "KILL", "ID", &id]), ":1\r\n");
    wait_for_clients(&mut observer, 1);
    assert!(sleeper.is_closed());

    // And clients waiting for a shard that a script holds (before the busy
    // threshold, so they wait rather than get -BUSY): a command, and a
    // transaction.
    let key = key_on(0, 2, "held");
    let mut script = s.client();
    script.send(&[b"EVAL", b"while true do end", b"1", key.as_bytes()]);
    let mut waiter = s.client();
    waiter.send(&[b"GET", key.as_bytes()]);
    let mut tx = s.client();
    assert_eq!(tx.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(tx.cmd(&["GET", &key]), "+QUEUED\r\n");
    tx.send(&[b"EXEC"]);
    drop((waiter, tx));
    wait_for_clients(&mut observer, 2);
    // The script may not have started yet on a loaded machine: NOTBUSY
    // until it has.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let reply = observer.cmd(&["SCRIPT", "KILL"]);
        if reply.starts_with("-NOTBUSY") && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
            continue;
        }
        assert_eq!(reply, "+OK\r\n");
        break;
    }
    assert!(script
        .read_reply()
        .starts_with("-ERR Script killed by user"));
    drop(script);
    wait_for_clients(&mut observer, 1);

    // A script's own caller that hangs up: the script runs on (it is never
    // cut short by its caller), and its shard is free again after it.
    let mut script = s.client();
    script.send(&[b"EVAL", b"while true do end", b"1", key.as_bytes()]);
    let deadline = Instant::now() + Duration::from_secs(5);
    while !observer
        .cmd(&["INFO", "scripting"])
        .contains("state=running")
    {
        assert!(Instant::now() < deadline, "the script never started");
        std::thread::sleep(Duration::from_millis(5));
    }
    drop(script);
    wait_for_clients(&mut observer, 1);
    assert_eq!(observer.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(observer.cmd(&["GET", &key]), "$-1\r\n");

    // Nothing is left for shutdown to wait for.
    let started = Instant::now();
    observer.send(&[b"SHUTDOWN", b"NOSAVE"]);
    let mut s = s;
    assert!(
        s.wait_exit(Duration::from_secs(4)).is_some(),
        "still running"
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

#[test]
fn replies_a_client_does_not_read_stay_bounded() {
    const VALUE_BYTES: usize = 1 << 20;
    const REQUESTS: usize = 300;
    // Replies wherever they are produced stay within a few MB per client;
    // without the bound they would reach REQUESTS x 1 MB.
    const MAX_GROWTH_BYTES: i64 = 64 << 20;
    let s = Server::shardis(2, &[]);
    let mut setup = s.client();
    let mut reader = s.client();
    let own = own_shard(&mut reader);
    for shard in [1 - own, own] {
        let big = key_on(shard, 2, "big");
        let list = key_on(shard, 2, "list");
        let value = vec![b'v'; VALUE_BYTES];
        assert_eq!(
            setup.cmd_bytes(&[b"SET", big.as_bytes(), &value]),
            b"+OK\r\n"
        );
        let mut push: Vec<&[u8]> = vec![b"RPUSH", list.as_bytes()];
        let item = [b'i'; 100];
        push.extend(std::iter::repeat_n(&item[..], 10_000));
        assert_eq!(setup.cmd_bytes(&push), b":10000\r\n");
        for request in [
            vec![&b"GET"[..], big.as_bytes()],
            vec![&b"LRANGE"[..], list.as_bytes(), b"0", b"-1"],
        ] {
            let before = info_number(&mut setup, "memory", "used_memory");
            let mut pipeline = Vec::new();
            for _ in 0..REQUESTS {
                pipeline.extend(common::encode(&request));
            }
            reader.send_raw(&pipeline);
            // Watch memory while the reader does not read.
            let mut peak = before;
            let until = Instant::now() + Duration::from_millis(1500);
            while Instant::now() < until {
                peak = peak.max(info_number(&mut setup, "memory", "used_memory"));
                std::thread::sleep(Duration::from_millis(20));
            }
            assert!(
                peak - before < MAX_GROWTH_BYTES,
                "shard {shard} (connection on {own}), {:?}: used_memory grew by {} MB",
                String::from_utf8_lossy(request[0]),
                (peak - before) >> 20
            );
            // Every reply arrives whole and in order once the client reads.
            for _ in 0..REQUESTS {
                let reply = reader.read_reply_bytes();
                assert!(
                    reply.len() > VALUE_BYTES,
                    "a short reply: {} bytes",
                    reply.len()
                );
            }
        }
    }
    // What the connection held goes when it does.
    drop(reader);
    wait_for_clients(&mut setup, 1);
    let base = info_number(&mut setup, "memory", "used_memory");
    assert!(
        base < 128 << 20,
        "used_memory {} MB after the reader left",
        base >> 20
    );
}

#[test]
fn sighup_is_ignored() {
    let mut s = Server::shardis(1, &[]);
    let status = std::process::Command::new("kill")
        .args(["-HUP", &s.pid().to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    assert!(
        s.wait_exit(Duration::from_millis(300)).is_none(),
        "SIGHUP stopped the server"
    );
    assert_eq!(s.client().cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn per_shard_memory_sums_to_the_total() {
    let s = Server::shardis(2, &[]);
    // Connections on both cores (the kernel spreads them), so values are
    // allocated on one core and freed on the other.
    let mut clients: Vec<Raw> = (0..6).map(|_| s.client()).collect();
    let check = |c: &mut Raw| -> Vec<i64> {
        let info = c.cmd(&["INFO", "memory"]);
        let number = |name: &str| -> i64 {
            let prefix = format!("{name}:");
            info.lines()
                .find_map(|l| l.strip_prefix(&prefix))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or_else(|| panic!("no {name} in {info:?}"))
        };
        let total = number("used_memory");
        let parts = vec![
            number("used_memory_shard_0"),
            number("used_memory_shard_1"),
            number("used_memory_other"),
        ];
        assert_eq!(parts.iter().sum::<i64>(), total, "{info}");
        for part in &parts[..2] {
            assert!((0..=total).contains(part), "{info}");
        }
        parts
    };
    let before = check(&mut clients[0]);
    let value = vec![b'x'; 20_000];
    for round in 0..5 {
        for (i, c) in clients.iter_mut().enumerate() {
            let mut pipeline = Vec::new();
            for k in 0..50 {
                let key = format!("k:{round}:{i}:{k}");
                pipeline.extend(common::encode(&[b"SET", key.as_bytes(), &value]));
            }
            c.send_raw(&pipeline);
            for _ in 0..50 {
                assert_eq!(c.read_reply(), "+OK\r\n");
            }
        }
        let during = check(&mut clients[0]);
        assert!(
            during[0] + during[1] > before[0] + before[1] + (5 << 20),
            "{during:?}"
        );
        assert_eq!(clients[0].cmd(&["FLUSHALL"]), "+OK\r\n");
    }
    // Each shard is back near where it started: nothing drifts.
    let after = check(&mut clients[0]);
    for shard in 0..2 {
        let drift = (after[shard] - before[shard]).abs();
        assert!(drift < 4 << 20, "shard {shard}: {before:?} -> {after:?}");
    }
}

#[test]
fn a_half_closed_client_is_released() {
    // A request and the client's close often reach the server together
    // (one readiness event); the close must still be seen.
    let s = Server::shardis(2, &[]);
    let mut observer = s.client();
    let mut clients = Vec::new();
    for _ in 0..200 {
        let mut c = s.client();
        c.send(&[b"PING"]);
        c.writer_mut()
            .shutdown(std::net::Shutdown::Write)
            .expect("half-close");
        clients.push(c);
    }
    for c in &mut clients {
        assert_eq!(c.read_reply(), "+PONG\r\n");
    }
    // Still open on the client's side, finished on the server's.
    wait_for_clients(&mut observer, 1);
}
