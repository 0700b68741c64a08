//! Pub/Sub: replies and errors compared with redis-server (RESP2 and
//! RESP3, subscribers and publishers on different cores), delivery order
//! across cores, scripts publishing, slow subscribers cut off at their
//! output buffer limit, and redis-py's `PubSub` driven unchanged.

use std::time::{Duration, Instant};

use crate::common::{bulks, connect_to_core, frame, Raw, Server, Step::*, Transcript};

/// Every (un)subscribe reply, message, PUBSUB subcommand and error, with
/// the subscriber pinned to one core and the publisher to another.
fn subscribed_session(t: &mut Transcript) -> &mut Transcript {
    t.pin("sub", 1)
        .pin("pub", 0)
        .pin("psub", 1)
        .on("sub", &["SUBSCRIBE", "news", "sport"])
        .read("sub")
        .on("sub", &["SUBSCRIBE", "news"])
        .on("psub", &["PSUBSCRIBE", "n*", "x?z"])
        .read("psub")
        .on("pub", &["PUBLISH", "news", "hello"])
        .read("sub")
        .read("psub")
        .on("pub", &["PUBLISH", "xyz", ""])
        .read("psub")
        .on("pub", &["PUBLISH", "nobody", "x"])
        .read("psub")
        .on("pub", &["PUBLISH", "other", "x"])
        // Subscribed mode: PING's form, refused commands.
        .on("sub", &["PING"])
        .on("sub", &["PING", "hi"])
        .on("sub", &["GET", "k"])
        .on("sub", &["CONFIG", "GET", "maxmemory"])
        .on("sub", &["NOSUCH"])
        .on("sub", &["SUBSCRIBE"])
        .on("sub", &["PSUBSCRIBE", "p*"])
        // PUBSUB's view while subscribed.
        .steps(&[
            Unordered(&["PUBSUB", "CHANNELS"]),
            Exact(&["PUBSUB", "CHANNELS", "n*"]),
            Exact(&["PUBSUB", "NUMSUB", "news", "sport", "none"]),
            Exact(&["PUBSUB", "NUMSUB"]),
            Exact(&["PUBSUB", "NUMPAT"]),
            Exact(&["PUBSUB", "SHARDCHANNELS"]),
            Exact(&["PUBSUB", "SHARDNUMSUB", "news"]),
        ])
        // Unsubscribing, one by one and all at once.
        .on("sub", &["UNSUBSCRIBE", "news", "never"])
        .read("sub")
        .on("sub", &["UNSUBSCRIBE"])
        .on("sub", &["UNSUBSCRIBE"])
        .on("sub", &["PUNSUBSCRIBE", "p*"])
        .on("sub", &["PUNSUBSCRIBE"])
        // Out of subscribed mode.
        .on("sub", &["GET", "k"])
        .on("sub", &["PING"])
        .on("pub", &["PUBLISH", "news", "gone"])
        .read("psub")
        .on("psub", &["PUNSUBSCRIBE", "x?z"])
        .on("psub", &["PUNSUBSCRIBE"])
        .cmd(&["PUBSUB", "NUMPAT"])
        .cmd(&["PUBSUB", "CHANNELS"])
        // Never subscribed: each unsubscribe confirms with a count of 0.
        .cmd(&["UNSUBSCRIBE"])
        .cmd(&["PUNSUBSCRIBE", "a"])
        .cmd(&["SUNSUBSCRIBE"])
        // Errors and help.
        .steps(&[
            Exact(&["PUBLISH", "a"]),
            Exact(&["SPUBLISH", "a"]),
            Exact(&["PUBSUB"]),
            Exact(&["PUBSUB", "NOPE"]),
            Exact(&["PUBSUB", "CHANNELS", "a", "b"]),
            Exact(&["PUBSUB", "SHARDCHANNELS", "a", "b"]),
            Exact(&["PUBSUB", "NUMPAT", "x"]),
            Exact(&["PUBSUB", "HELP"]),
            Exact(&["PUBSUB", "HELP", "x"]),
        ])
}

#[test]
fn replies_messages_and_errors_match_redis_in_resp2() {
    subscribed_session(Transcript::new().shards(&[1, 2]).resp(&[2]))
        // MULTI is refused in subscribed mode too.
        .on("sub", &["SUBSCRIBE", "m"])
        .on("sub", &["MULTI"])
        .on("sub", &["EXEC"])
        .on("sub", &["UNSUBSCRIBE"])
        .on("sub", &["EXEC"])
        .assert_same_as_redis();
}

#[test]
fn replies_messages_and_errors_match_redis_in_resp3() {
    subscribed_session(Transcript::new().shards(&[1, 2]).resp(&[3]))
        // RESP3: any command runs while subscribed; a message published
        // to the connection itself comes before PUBLISH's reply.
        .on("sub", &["SUBSCRIBE", "me"])
        .on("sub", &["GET", "k"])
        .on("sub", &["PUBLISH", "me", "myself"])
        .read("sub")
        .on("sub", &["PING"])
        .assert_same_as_redis();
}

/// Shard channels: SSUBSCRIBE of channels in one slot, SPUBLISH reaching
/// them from another core, PUBSUB SHARD*, SUNSUBSCRIBE.
#[test]
fn shard_channels_match_redis() {
    Transcript::new()
        .shards(&[1, 2])
        .resp(&[2, 3])
        .pin("sub", 1)
        .pin("pub", 0)
        .on("sub", &["SSUBSCRIBE", "{t}a", "{t}b"])
        .read("sub")
        .on("sub", &["SUBSCRIBE", "{t}a"])
        .on("pub", &["SPUBLISH", "{t}a", "m1"])
        .read("sub")
        .on("pub", &["PUBLISH", "{t}a", "m2"])
        .read("sub")
        .on("pub", &["SPUBLISH", "{t}c", "m3"])
        .steps(&[
            Unordered(&["PUBSUB", "SHARDCHANNELS"]),
            Exact(&["PUBSUB", "SHARDCHANNELS", "*b"]),
            Exact(&["PUBSUB", "SHARDNUMSUB", "{t}a", "{t}c"]),
            Exact(&["PUBSUB", "NUMSUB", "{t}a"]),
        ])
        .on("sub", &["SUNSUBSCRIBE", "{t}b"])
        .on("sub", &["SUNSUBSCRIBE"])
        .on("sub", &["UNSUBSCRIBE"])
        .cmd(&["PUBSUB", "SHARDCHANNELS"])
        .assert_same_as_redis();
}

/// RESET leaves subscribed mode and drops every subscription; QUIT is
/// allowed while subscribed.
#[test]
fn reset_and_quit_in_subscribed_mode_match_redis() {
    Transcript::new()
        .shards(&[1, 2])
        .resp(&[2, 3])
        .pin("sub", 1)
        .on("sub", &["SUBSCRIBE", "a"])
        .on("sub", &["PSUBSCRIBE", "b*"])
        .on("sub", &["SSUBSCRIBE", "c"])
        .on("sub", &["RESET"])
        .on("sub", &["GET", "k"])
        .steps(&[
            Exact(&["PUBSUB", "NUMSUB", "a"]),
            Exact(&["PUBSUB", "NUMPAT"]),
            Exact(&["PUBSUB", "SHARDNUMSUB", "c"]),
            Exact(&["PUBLISH", "a", "x"]),
        ])
        // SUBSCRIBE inside MULTI runs at EXEC, into subscribed mode.
        .on("m", &["MULTI"])
        .on("m", &["SUBSCRIBE", "a"])
        .on("m", &["EXEC"])
        .on("m", &["GET", "k"])
        .on("m", &["UNSUBSCRIBE"])
        // PUBSUB from a script.
        .on("s", &["SUBSCRIBE", "a"])
        .cmd(&[
            "EVAL",
            "return redis.call('pubsub', 'numsub', 'a', 'b')",
            "0",
        ])
        .cmd(&["EVAL", "return redis.call('pubsub', 'channels')", "0"])
        .cmd(&["EVAL", "return redis.call('pubsub', 'numpat')", "0"])
        .on("q", &["SUBSCRIBE", "a"])
        .on("q", &["QUIT"])
        .assert_same_as_redis();
}

/// `client-output-buffer-limit`: CONFIG GET/SET as Redis (defaults,
/// units, partial sets, errors).
#[test]
fn client_output_buffer_limit_config_matches_redis() {
    Transcript::new()
        .shards(&[1])
        .steps(&[
            Exact(&["CONFIG", "GET", "client-output-buffer-limit"]),
            Exact(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 1mb 512kb 10",
            ]),
            Exact(&["CONFIG", "GET", "client-output-buffer-limit"]),
            Exact(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "normal 1 2 3 replica 4 5 6",
            ]),
            Exact(&["CONFIG", "GET", "client-output-buffer-limit"]),
            Exact(&["CONFIG", "SET", "client-output-buffer-limit", "pubsub 1 2"]),
            Exact(&["CONFIG", "SET", "client-output-buffer-limit", "nope 1 2 3"]),
            Exact(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub x 2 3",
            ]),
            Exact(&[
                "CONFIG",
                "SET",
                "client-output-buffer-limit",
                "pubsub 1 2 -3",
            ]),
            Exact(&["CONFIG", "GET", "client-output-buffer-limit"]),
        ])
        .assert_same_as_redis();
}

/// SSUBSCRIBE / SUNSUBSCRIBE of channels of different slots: CROSSSLOT,
/// as Redis Cluster answers (a standalone redis-server does not check, so
/// this is shardis's own behaviour, tested directly).
#[test]
fn ssubscribe_across_slots_is_crossslot() {
    let server = Server::shardis(2, &[]);
    let mut c = server.client();
    let crossslot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    assert_eq!(c.cmd(&["SSUBSCRIBE", "a", "b"]), crossslot);
    assert_eq!(c.cmd(&["SUNSUBSCRIBE", "a", "b"]), crossslot);
    assert_eq!(c.cmd(&["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
    // Not subscribed: a RESP2 connection still runs anything.
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
}

/// Reads replies until `want` messages arrived; their payloads.
fn read_payloads(c: &mut Raw, want: usize) -> Vec<String> {
    (0..want)
        .map(|_| {
            let reply = c.read_reply();
            bulks(&reply)
                .pop()
                .unwrap_or_else(|| panic!("a message: {reply:?}"))
        })
        .collect()
}

fn subscribe(c: &mut Raw, channel: &str) {
    let reply = c.cmd(&["SUBSCRIBE", channel]);
    assert!(reply.contains("subscribe"), "{reply}");
}

/// One publisher pipelines numbered messages; subscribers on every core
/// (and a pattern subscriber) each see them all, in order, and each
/// PUBLISH counts every one of them.
#[test]
fn messages_from_one_publisher_arrive_in_order_on_every_core() {
    const MESSAGES: usize = 2000;
    let server = Server::shardis(2, &[]);
    let mut subscribers: Vec<Raw> = (0..4)
        .map(|i| connect_to_core(server.port, i % 2))
        .collect();
    for s in &mut subscribers {
        subscribe(s, "seq");
    }
    let mut psub = connect_to_core(server.port, 1);
    assert!(psub.cmd(&["PSUBSCRIBE", "s*"]).contains("psubscribe"));
    for publisher_core in [0, 1] {
        let mut publisher = connect_to_core(server.port, publisher_core);
        let mut pipeline = Vec::new();
        for i in 0..MESSAGES {
            let n = i.to_string();
            pipeline.extend(crate::common::encode(&[b"PUBLISH", b"seq", n.as_bytes()]));
        }
        publisher.send_raw(&pipeline);
        for _ in 0..MESSAGES {
            assert_eq!(publisher.read_reply(), ":5\r\n");
        }
        let want: Vec<String> = (0..MESSAGES).map(|i| i.to_string()).collect();
        for s in subscribers.iter_mut().chain([&mut psub]) {
            assert_eq!(
                read_payloads(s, MESSAGES),
                want,
                "from core {publisher_core}"
            );
        }
    }
}

/// `redis.call('publish', ...)` in a script (run shard-side, through
/// `Ctx`) reaches subscribers on every core, and counts them.
#[test]
fn a_script_publishes_to_subscribers_on_other_cores() {
    let server = Server::shardis(2, &[]);
    let mut subs = [
        connect_to_core(server.port, 0),
        connect_to_core(server.port, 1),
    ];
    for s in &mut subs {
        subscribe(s, "from-lua");
    }
    for core in [0, 1] {
        let mut c = connect_to_core(server.port, core);
        let script = "return redis.call('publish', ARGV[1], ARGV[2])";
        let reply = c.cmd(&["EVAL", script, "0", "from-lua", "hi"]);
        assert_eq!(reply, ":2\r\n", "script on core {core}");
        for s in &mut subs {
            assert_eq!(read_payloads(s, 1), ["hi"]);
        }
    }
}

/// A subscriber that disconnects leaves the index: NUMSUB and PUBLISH's
/// count drop to zero; CLIENT LIST shows a subscriber's counts and flag,
/// and CLIENT KILL TYPE pubsub closes subscribers only.
#[test]
fn disconnect_and_client_kill_leave_no_subscription_behind() {
    let server = Server::shardis(2, &[]);
    let mut admin = connect_to_core(server.port, 0);
    {
        let mut s = connect_to_core(server.port, 1);
        subscribe(&mut s, "c");
        s.cmd(&["PSUBSCRIBE", "p*"]);
        s.cmd(&["SSUBSCRIBE", "s"]);
        let list = admin.cmd(&["CLIENT", "LIST", "TYPE", "pubsub"]);
        assert!(list.contains("flags=P db=0 sub=1 psub=1 ssub=1 "), "{list}");
        assert!(!admin
            .cmd(&["CLIENT", "LIST", "TYPE", "normal"])
            .contains("flags=P"));
        assert_eq!(
            admin.cmd(&["PUBSUB", "NUMSUB", "c"]),
            "*2\r\n$1\r\nc\r\n:1\r\n"
        );
    }
    let deadline = Instant::now() + Duration::from_secs(10);
    while admin.cmd(&["PUBSUB", "NUMSUB", "c"]) != "*2\r\n$1\r\nc\r\n:0\r\n" {
        assert!(
            Instant::now() < deadline,
            "the subscription outlived its client"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
    assert_eq!(admin.cmd(&["PUBSUB", "NUMPAT"]), ":0\r\n");
    assert_eq!(admin.cmd(&["PUBSUB", "SHARDCHANNELS"]), "*0\r\n");
    assert_eq!(admin.cmd(&["PUBLISH", "c", "x"]), ":0\r\n");

    let mut s = connect_to_core(server.port, 1);
    subscribe(&mut s, "c");
    assert_eq!(admin.cmd(&["CLIENT", "KILL", "TYPE", "pubsub"]), ":1\r\n");
    assert!(s.is_closed());
    assert_eq!(admin.cmd(&["PING"]), "+PONG\r\n");
}

/// A subscriber that never reads is disconnected at its `pubsub` hard
/// limit, while the publisher's replies keep coming and a reading
/// subscriber on another core gets every message.
#[test]
fn a_slow_subscriber_is_disconnected_at_its_limit() {
    const MESSAGES: usize = 3000;
    let server = Server::shardis(2, &[]);
    let mut admin = server.client();
    let limit = [
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 256kb 0 0",
    ];
    assert_eq!(admin.cmd(&limit), "+OK\r\n");
    let mut slow = connect_to_core(server.port, 1);
    subscribe(&mut slow, "firehose");
    let mut reader = connect_to_core(server.port, 0);
    subscribe(&mut reader, "firehose");
    let mut publisher = connect_to_core(server.port, 0);
    let payload = "x".repeat(16 * 1024);
    // Far more than the socket buffers hold: the slow client's unread
    // bytes pile up in the server and pass its limit.
    let mut counts = Vec::new();
    let mut received = 0;
    for _ in 0..MESSAGES {
        counts.push(publisher.cmd(&["PUBLISH", "firehose", &payload]));
        received += read_payloads(&mut reader, 1).len();
    }
    assert_eq!(received, MESSAGES, "the reading subscriber got everything");
    assert!(
        counts.iter().all(|c| c == ":2\r\n" || c == ":1\r\n"),
        "{counts:?}"
    );
    assert_eq!(
        counts.last().map(String::as_str),
        Some(":1\r\n"),
        "the slow one is gone"
    );
    assert_eq!(
        admin.cmd(&["PUBSUB", "NUMSUB", "firehose"]),
        "*2\r\n$8\r\nfirehose\r\n:1\r\n"
    );
    // What the kernel buffered reaches the slow client, then the end.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        assert!(
            Instant::now() < deadline,
            "the slow subscriber was not closed"
        );
        let mut buf = vec![0u8; 1 << 16];
        match std::io::Read::read(slow.writer_mut(), &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
    }
}

/// The RESP3 frames of a subscribe confirmation and a message on one
/// connection that also runs commands: exact bytes.
#[test]
fn resp3_pushes_interleave_with_replies() {
    let server = Server::shardis(2, &[]);
    let mut sub = connect_to_core(server.port, 1);
    sub.cmd(&["HELLO", "3"]);
    assert_eq!(
        sub.cmd(&["SUBSCRIBE", "r3"]),
        ">3\r\n$9\r\nsubscribe\r\n$2\r\nr3\r\n:1\r\n"
    );
    let mut publisher = connect_to_core(server.port, 0);
    assert_eq!(publisher.cmd(&["PUBLISH", "r3", "m"]), ":1\r\n");
    // The push arrives by itself; a command's reply follows it.
    let push = frame(sub.read_reply().as_bytes());
    assert_eq!(push.kind, b'>');
    assert_eq!(sub.cmd(&["SET", "k", "v"]), "+OK\r\n");
}

/// redis-py's `PubSub`, unchanged, in RESP2 and RESP3: `get_message`,
/// `listen`, pattern subscriptions, with publishers on every core (the
/// script prints what it checked; it exits non-zero on any mismatch).
#[test]
fn redis_py_pubsub_works_unchanged() {
    let server = Server::shardis(2, &[]);
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/e2e/py/pubsub_client.py");
    let out = std::process::Command::new("python3")
        .arg(script)
        .arg(server.port.to_string())
        .output()
        .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        out.status.success(),
        "redis-py's PubSub failed (is `redis==5.0.8` installed? see .ci/run)\nstdout:\n{stdout}\nstderr:\n{stderr}"
    );
    for protocol in [2, 3] {
        assert!(
            stdout.contains(&format!("protocol {protocol}: ok")),
            "{stdout}\n{stderr}"
        );
    }
}

/// The `normal` class of `client-output-buffer-limit` applies to ordinary
/// replies as in Redis: a reply past the hard limit closes the client, a
/// smaller one goes out.
#[test]
fn normal_replies_past_the_hard_limit_close_the_client_as_in_redis() {
    for server in [Server::shardis(2, &[]), Server::redis(&[])] {
        let mut c = server.client();
        let limit = [
            "CONFIG",
            "SET",
            "client-output-buffer-limit",
            "normal 100kb 0 0",
        ];
        assert_eq!(c.cmd(&limit), "+OK\r\n");
        let small = "s".repeat(50 * 1024);
        let big = "b".repeat(200 * 1024);
        assert_eq!(c.cmd(&["SET", "small", &small]), "+OK\r\n");
        assert_eq!(c.cmd(&["SET", "big", &big]), "+OK\r\n");
        let got = c.cmd(&["GET", "small"]);
        assert!(got.starts_with("$51200\r\nsss"), "a smaller reply goes out");
        c.send(&[b"GET", b"big"]);
        assert!(c.is_closed(), "the client survived a reply past its limit");
        let mut other = server.client();
        assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    }
}

/// MONITOR's lines for one client's commands, without what differs
/// between servers and runs (timestamp, client address).
fn monitor_lines(server: &Server, shards: usize) -> Vec<String> {
    let (mut monitor, mut c) = if shards > 1 {
        (
            connect_to_core(server.port, 1),
            connect_to_core(server.port, 0),
        )
    } else {
        (server.client(), server.client())
    };
    assert_eq!(monitor.cmd(&["MONITOR"]), "+OK\r\n");
    // Keys on the commanding client's own shard: a script's calls are fed
    // by the shard that runs them.
    let key = crate::common::key_on(0, shards, "mon");
    let script = "redis.call('set', KEYS[1], 'x'); return redis.call('get', KEYS[1])";
    let commands: &[&[&str]] = &[
        &["SET", &key, "v"],
        &["get", &key],
        &["EVAL", script, "1", &key],
        &["CONFIG", "GET", "maxmemory"],
        &["CLIENT", "LIST"],
        &["NOSUCH"],
        &["GET"],
        &["AUTH", "a", "b"],
        &["HELLO", "2", "AUTH", "default", "pw"],
        &["MULTI"],
        &["SET", &key, "1\n2\"\x01"],
        &["GET", &key],
        &["EXEC"],
        &["SELECT", "3"],
        &["PING"],
        &["RESET"],
        &["PUBLISH", "ch", "m"],
        &["SUBSCRIBE", "ch"],
        &["QUIT"],
    ];
    for args in commands {
        c.cmd(args);
    }
    let mut lines = Vec::new();
    while lines
        .last()
        .is_none_or(|l: &String| !l.contains("\"QUIT\""))
    {
        let line = monitor.read_reply();
        let (_, rest) = line
            .split_once(' ')
            .unwrap_or_else(|| panic!("a line: {line:?}"));
        let rest = match rest.split_once(' ') {
            Some((db, rest)) if rest.starts_with("lua]") => format!("{db} {rest}"),
            Some((db, rest)) => format!("{db} client]{}", rest.split_once(']').map_or("", |r| r.1)),
            None => rest.to_string(),
        };
        lines.push(rest);
    }
    // The monitor itself: keyspace commands refused, PING answered,
    // CLIENT LIST's O flag; RESET leaves monitor mode.
    assert_eq!(
        monitor.cmd(&["GET", "k"]),
        "-ERR Replica can't interact with the keyspace\r\n"
    );
    let mut admin = server.client();
    assert!(admin.cmd(&["CLIENT", "LIST"]).contains("flags=O "));
    assert_eq!(monitor.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(monitor.cmd(&["GET", "k"]), "$-1\r\n");
    lines
}

/// MONITOR shows what redis-server shows, in the same order: commands of
/// any core, a script's calls as `lua` after the script, passwords
/// redacted, admin and refused commands left out.
#[test]
fn monitor_lines_match_redis() {
    let reference = Server::redis(&[]);
    let expected = monitor_lines(&reference, 1);
    assert!(expected.len() > 10, "{expected:?}");
    for shards in [1, 2] {
        let ours = Server::shardis(shards, &[]);
        assert_eq!(monitor_lines(&ours, shards), expected, "{shards} shard(s)");
    }
}

/// A subscriber above its `pubsub` soft limit for longer than its seconds
/// is disconnected even when no message comes any more (the core's cron
/// checks it, as Redis's `clientsCron` does); one that reads stays.
#[test]
fn a_subscriber_over_its_soft_limit_is_disconnected_after_its_seconds() {
    let server = Server::shardis(2, &[]);
    let mut admin = server.client();
    let limit = [
        "CONFIG",
        "SET",
        "client-output-buffer-limit",
        "pubsub 0 256kb 1",
    ];
    assert_eq!(admin.cmd(&limit), "+OK\r\n");
    let mut slow = connect_to_core(server.port, 1);
    subscribe(&mut slow, "burst");
    let mut reader = connect_to_core(server.port, 0);
    subscribe(&mut reader, "burst");
    let mut publisher = connect_to_core(server.port, 0);
    let payload = "y".repeat(16 * 1024);
    // A burst well past the socket buffers, then nothing more.
    for _ in 0..1500 {
        assert_eq!(publisher.cmd(&["PUBLISH", "burst", &payload]), ":2\r\n");
        read_payloads(&mut reader, 1);
    }
    let numsub = |admin: &mut Raw| admin.cmd(&["PUBSUB", "NUMSUB", "burst"]);
    let deadline = Instant::now() + Duration::from_secs(10);
    while numsub(&mut admin) != "*2\r\n$5\r\nburst\r\n:1\r\n" {
        assert!(
            Instant::now() < deadline,
            "the slow subscriber outlived its soft limit"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(publisher.cmd(&["PUBLISH", "burst", "x"]), ":1\r\n");
    assert_eq!(read_payloads(&mut reader, 1), ["x"]);
}
