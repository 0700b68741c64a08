//! MULTI / EXEC / DISCARD / WATCH / UNWATCH: differential against
//! redis-server (1 and 3 shards), WATCH with two connections, CROSSSLOT
//! inside MULTI, atomicity across cores, RESP3, pipelining.

use crate::common;

use common::{encode, Raw, Server, Step::*, Transcript};
use shardis::util::slot::shard_of_key;

/// Differential steps on one connection: every key of a transaction
/// carries the {t} tag, so the steps mean the same at any shard count.
const ONE_CONNECTION: &[common::Step] = &[
    Exact(&["EXEC"]),
    Exact(&["DISCARD"]),
    Exact(&["UNWATCH"]),
    Exact(&["WATCH"]),
    // Nested MULTI and WATCH inside MULTI are errors that do not abort.
    Exact(&["MULTI"]),
    Exact(&["MULTI"]),
    Exact(&["WATCH", "{t}a"]),
    Exact(&["SET", "{t}a", "1"]),
    Exact(&["EXEC"]),
    Exact(&["EXEC"]),
    // Queue-time errors abort the transaction.
    Exact(&["MULTI"]),
    Exact(&["NOSUCH", "x"]),
    Exact(&["SET", "{t}a"]),
    Exact(&["GET", "{t}a"]),
    Exact(&["EXEC"]),
    Exact(&["MULTI"]),
    Exact(&["SHUTDOWN"]),
    Exact(&["EXEC"]),
    Exact(&["EXEC", "extra"]),
    Exact(&["MULTI"]),
    Exact(&["EXEC", "extra"]),
    Exact(&["EXEC"]),
    // Runtime errors stay inside the array.
    Exact(&["MULTI"]),
    Exact(&["SET", "{t}s", "x"]),
    Exact(&["INCR", "{t}s"]),
    Exact(&["LPUSH", "{t}s", "y"]),
    Exact(&["GET", "{t}s"]),
    Exact(&["SCAN", "abc"]),
    Exact(&["MSET", "{t}a", "1", "{t}b"]),
    Exact(&["EXEC"]),
    // Empty transaction, DISCARD.
    Exact(&["MULTI"]),
    Exact(&["EXEC"]),
    Exact(&["MULTI"]),
    Exact(&["SET", "{t}d", "1"]),
    Exact(&["DISCARD"]),
    Exact(&["EXEC"]),
    Exact(&["EXISTS", "{t}d"]),
    // Connection commands inside MULTI; SELECT switches the database of
    // the commands queued after it.
    Exact(&["MULTI"]),
    Exact(&["SELECT", "1"]),
    Exact(&["SET", "{t}a", "db1"]),
    Exact(&["SELECT", "99"]),
    Exact(&["GET", "{t}a"]),
    Exact(&["PING"]),
    Exact(&["ECHO", "e"]),
    Exact(&["UNWATCH"]),
    Exact(&["SELECT", "0"]),
    Exact(&["GET", "{t}a"]),
    Exact(&["EXEC"]),
    Exact(&["GET", "{t}a"]),
    // Multi-key and fan-out commands on one shard.
    Exact(&["MULTI"]),
    Exact(&["MSET", "{t}a", "1", "{t}b", "2"]),
    Exact(&["MGET", "{t}a", "{t}b", "{t}c"]),
    Exact(&["RENAME", "{t}a", "{t}c"]),
    Exact(&["EXISTS", "{t}a", "{t}b", "{t}c"]),
    Exact(&["DEL", "{t}a", "{t}b", "{t}c"]),
    Exact(&["HSET", "{t}h", "f", "v"]),
    Exact(&["HGETALL", "{t}h"]),
    Exact(&["EXEC"]),
    // RESET leaves MULTI.
    Exact(&["MULTI"]),
    Exact(&["SET", "{t}r", "1"]),
    Exact(&["RESET"]),
    Exact(&["EXEC"]),
    Exact(&["EXISTS", "{t}r"]),
];

#[test]
fn transactions_match_redis() {
    Transcript::new()
        .steps(ONE_CONNECTION)
        .assert_same_as_redis();
}

#[test]
fn keyspace_wide_commands_inside_multi_on_one_shard() {
    let steps = &[
        Exact(&["SET", "a", "1"]),
        Exact(&["MULTI"]),
        Exact(&["DBSIZE"]),
        Exact(&["KEYS", "*"]),
        Exact(&["RANDOMKEY"]),
        Exact(&["FLUSHDB"]),
        Exact(&["DBSIZE"]),
        Exact(&["EXEC"]),
    ];
    Transcript::new()
        .shards(&[1])
        .steps(steps)
        .assert_same_as_redis();
}

trait Exec {
    /// Connection `a` runs MULTI INCR {t}n `cmd` EXEC.
    fn exec(&mut self, cmd: &[&str]) -> &mut Self;
}

impl Exec for Transcript {
    fn exec(&mut self, cmd: &[&str]) -> &mut Self {
        self.cmd(&["MULTI"])
            .cmd(&["INCR", "{t}n"])
            .cmd(cmd)
            .cmd(&["EXEC"])
    }
}

/// A key named `prefix` + n whose shard (of 3) is, or is not, {t}'s.
fn key_near_t(prefix: &str, same_shard: bool) -> String {
    let t = shard_of_key(b"{t}", 3);
    (0..)
        .map(|n| format!("{prefix}{n}"))
        .find(|k| (shard_of_key(k.as_bytes(), 3) == t) == same_shard)
        .unwrap()
}

/// A write refused with WRONGTYPE changed nothing: the watcher's EXEC runs.
#[test]
fn a_write_refused_as_wrongtype_is_no_change_to_a_watched_key() {
    let mut s = Transcript::new();
    s.cmd(&["SET", "w", "text"]).cmd(&["RPUSH", "l", "a"]);
    for (key, write) in [
        ("w", &["LSET", "w", "0", "x"][..]),
        ("w", &["LPUSH", "w", "x"]),
        ("w", &["SADD", "w", "x"]),
        ("w", &["SREM", "w", "x"]),
        ("w", &["HSET", "w", "f", "v"]),
        ("w", &["HDEL", "w", "f"]),
        ("w", &["ZADD", "w", "1", "m"]),
        ("w", &["ZREMRANGEBYSCORE", "w", "0", "1"]),
        ("l", &["INCR", "l"]),
        ("l", &["APPEND", "l", "x"]),
        ("l", &["SETRANGE", "l", "0", "x"]),
    ] {
        s.cmd(&["WATCH", key]).on("b", write);
        s.exec(&["PING"]);
    }
    s.assert_same_as_redis();
}

#[test]
fn watch_with_two_connections_matches_redis() {
    let far = key_near_t("far", false);
    let near = key_near_t("near", true);
    let (far, near) = (far.as_str(), near.as_str());
    let mut s = Transcript::new();
    // Another connection changes the key: EXEC answers a null array.
    s.cmd(&["SET", "w", "1"])
        .cmd(&["WATCH", "w"])
        .on("b", &["SET", "w", "2"]);
    s.exec(&["GET", "{t}n"]);
    // Untouched keys commit; reads (and no-op deletes) are no changes.
    s.cmd(&["WATCH", "w", "{t}n"])
        .on("b", &["SET", "other", "2"]);
    s.on("b", &["GET", "w"])
        .on("b", &["EXISTS", "w"])
        .on("b", &["TTL", "w"]);
    s.on("b", &["PTTL", "w"])
        .on("b", &["TYPE", "w"])
        .on("b", &["STRLEN", "w"]);
    s.on("b", &["GETRANGE", "w", "0", "1"])
        .on("b", &["MGET", "w", "{t}n"]);
    s.on("b", &["DBSIZE"])
        .on("b", &["DEL", "nosuchkey"])
        .on("b", &["PERSIST", "nosuchkey"]);
    s.exec(&["GET", "{t}n"]);
    // Expiry after WATCH is a change; a key expired before WATCH is not.
    s.cmd(&["SET", "{t}e", "1", "PX", "40"])
        .cmd(&["WATCH", "{t}e"]);
    s.sleep_ms(80).exec(&["PING"]);
    s.cmd(&["SET", "{t}e", "1", "PX", "20"]).sleep_ms(50);
    s.cmd(&["WATCH", "{t}e"]).exec(&["PING"]);
    // FLUSHALL changes the watched keys that existed; FLUSHDB of another
    // database changes none.
    s.cmd(&["WATCH", "nokey"])
        .on("b", &["FLUSHALL"])
        .exec(&["PING"]);
    s.cmd(&["SET", "w", "1"])
        .cmd(&["WATCH", "w"])
        .on("b", &["FLUSHALL"]);
    s.exec(&["PING"]);
    s.cmd(&["SET", "w", "1"]).cmd(&["WATCH", "w"]);
    s.on("b", &["SELECT", "1"])
        .on("b", &["FLUSHDB"])
        .on("b", &["SELECT", "0"]);
    s.exec(&["PING"]);
    // The connection's own write, the same value, a delete, EXPIRE 0,
    // another connection's transaction.
    s.cmd(&["WATCH", "w"])
        .cmd(&["SET", "w", "x"])
        .exec(&["PING"]);
    s.cmd(&["SET", "w", "1"])
        .cmd(&["WATCH", "w"])
        .on("b", &["SET", "w", "1"]);
    s.exec(&["PING"]);
    s.cmd(&["WATCH", "w"])
        .on("b", &["DEL", "w"])
        .exec(&["PING"]);
    s.cmd(&["SET", "w", "1"])
        .cmd(&["WATCH", "w"])
        .on("b", &["EXPIRE", "w", "0"]);
    s.exec(&["PING"]);
    s.cmd(&["WATCH", "w"]);
    s.on("b", &["MULTI"])
        .on("b", &["LPUSH", "w", "a"])
        .on("b", &["EXEC"]);
    s.exec(&["PING"]);
    // DISCARD, UNWATCH, EXECABORT and EXEC forget the watched keys.
    s.cmd(&["WATCH", "w"]).cmd(&["MULTI"]).cmd(&["DISCARD"]);
    s.on("b", &["SET", "w", "9"]).exec(&["PING"]);
    s.cmd(&["WATCH", "w"])
        .cmd(&["UNWATCH"])
        .on("b", &["SET", "w", "9"]);
    s.exec(&["PING"]);
    s.cmd(&["WATCH", "w"]).on("b", &["SET", "w", "10"]);
    s.cmd(&["MULTI"])
        .cmd(&["NOSUCH"])
        .cmd(&["EXEC"])
        .exec(&["PING"]);
    s.cmd(&["WATCH", "w"]).on("b", &["SET", "w", "11"]);
    s.exec(&["PING"]).exec(&["PING"]);
    // So does an EXEC refused for its arity, in MULTI or not.
    s.cmd(&["WATCH", "w"]).cmd(&["MULTI"]).cmd(&["EXEC", "x"]);
    s.on("b", &["SET", "w", "12"]).exec(&["PING"]);
    s.cmd(&["WATCH", "w"])
        .cmd(&["EXEC", "x"])
        .on("b", &["SET", "w", "13"]);
    s.exec(&["PING"]);
    // A watched key of another database.
    s.cmd(&["SELECT", "1"])
        .cmd(&["WATCH", "w"])
        .cmd(&["SELECT", "0"]);
    s.on("b", &["SET", "w", "1"]).exec(&["PING"]);
    // Watched keys on another shard than the transaction's (3 shards) and
    // on the same one; several WATCH calls add up.
    s.cmd(&["WATCH", far])
        .cmd(&["WATCH", near, "x", "y", "z", far]);
    s.on("b", &["SET", far, "1"]).exec(&["PING"]);
    s.cmd(&["WATCH", far, near])
        .on("b", &["SET", near, "1"])
        .exec(&["PING"]);
    s.cmd(&["WATCH", far, near, "x"])
        .on("b", &["SET", "z", "1"]);
    s.exec(&["GET", near]);
    // RESET forgets them.
    s.cmd(&["WATCH", far])
        .cmd(&["RESET"])
        .on("b", &["SET", far, "2"]);
    s.exec(&["GET", "{t}n"]);
    s.assert_same_as_redis();
}

#[test]
fn aborted_exec_is_a_resp3_null() {
    let reference = Server::redis(&[]);
    let ours = Server::shardis(3, &[]);
    let mut replies = Vec::new();
    for server in [&ours, &reference] {
        let (mut a, mut b) = (server.client(), server.client());
        a.cmd(&["HELLO", "3"]);
        let mut got = vec![a.cmd(&["WATCH", "w"])];
        b.cmd(&["SET", "w", "1"]);
        for args in [
            &["MULTI"][..],
            &["GET", "{t}x"],
            &["EXEC"],
            &["MULTI"],
            &["GET", "{t}x"],
            &["HSET", "{t}h", "f", "1"],
            &["HGETALL", "{t}h"],
            &["EXEC"],
        ] {
            got.push(a.cmd(args));
        }
        replies.push(got);
    }
    assert_eq!(replies[0][3], "_\r\n");
    assert_eq!(replies[0], replies[1]);
}

#[test]
fn keys_of_one_transaction_must_share_a_shard() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    let crossslot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    let execabort = "-EXECABORT Transaction discarded because of previous errors.\r\n";
    let (near, far) = (key_near_t("k", true), key_near_t("k", false));
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["PING"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["SET", &near, "1"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["TIME"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["INCR", "{t}n"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["SET", &far, "1"]), crossslot);
    assert_eq!(c.cmd(&["MGET", "{t}n", &far]), crossslot);
    assert_eq!(c.cmd(&["MGET", "{t}n", &near]), "+QUEUED\r\n");
    // Keyspace-wide commands span every shard.
    assert_eq!(c.cmd(&["DBSIZE"]), crossslot);
    assert_eq!(c.cmd(&["FLUSHALL"]), crossslot);
    assert_eq!(c.cmd(&["EXEC"]), execabort);
    assert_eq!(c.cmd(&["EXISTS", &near]), ":0\r\n");
    // Keyless commands go with any shard; the first key picks it.
    assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n");
    assert_eq!(c.cmd(&["ECHO", "x"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["SET", &far, "1"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["MSET", &far, "2", &far, "3"]), "+QUEUED\r\n");
    assert_eq!(c.cmd(&["GET", &far]), "+QUEUED\r\n");
    assert_eq!(
        c.cmd(&["EXEC"]),
        "*4\r\n$1\r\nx\r\n+OK\r\n+OK\r\n$1\r\n3\r\n"
    );
}

/// Two connections on different cores run MULTI INCR INCR EXEC on one key:
/// each transaction's two results are consecutive (nothing ran between
/// them) and no increment is lost.
#[test]
fn transactions_are_atomic_across_cores() {
    let s = Server::shardis(2, &[]);
    let mut by_shard: [Option<Raw>; 2] = [None, None];
    for _ in 0..64 {
        let mut c = s.client();
        let info = c.cmd(&["CLIENT", "INFO"]);
        let shard = if info.contains(" shard=0") { 0 } else { 1 };
        by_shard[shard].get_or_insert(c);
        if by_shard.iter().all(Option::is_some) {
            break;
        }
    }
    let clients: Vec<Raw> = by_shard
        .into_iter()
        .map(|c| c.expect("a client per core"))
        .collect();
    const ROUNDS: usize = 20;
    const PER_ROUND: usize = 50;
    let workers: Vec<_> = clients
        .into_iter()
        .map(|mut c| {
            std::thread::spawn(move || {
                for _ in 0..ROUNDS {
                    let mut batch = Vec::new();
                    for _ in 0..PER_ROUND {
                        batch.extend(encode(&[b"MULTI"]));
                        batch.extend(encode(&[b"INCR", b"counter"]));
                        batch.extend(encode(&[b"INCR", b"counter"]));
                        batch.extend(encode(&[b"EXEC"]));
                    }
                    c.send_raw(&batch);
                    for _ in 0..PER_ROUND {
                        assert_eq!(c.read_reply(), "+OK\r\n");
                        assert_eq!(c.read_reply(), "+QUEUED\r\n");
                        assert_eq!(c.read_reply(), "+QUEUED\r\n");
                        let exec = c.read_reply();
                        let n: Vec<i64> = exec
                            .split("\r\n")
                            .filter_map(|l| l.strip_prefix(':'))
                            .map(|n| n.parse().unwrap())
                            .collect();
                        assert_eq!(n.len(), 2, "{exec:?}");
                        assert_eq!(n[1], n[0] + 1, "interleaved: {exec:?}");
                    }
                }
            })
        })
        .collect();
    // A third connection increments outside transactions meanwhile.
    let mut plain = s.client();
    for _ in 0..200 {
        assert!(plain.cmd(&["INCR", "counter"]).starts_with(':'));
    }
    for w in workers {
        w.join().unwrap();
    }
    let total = 2 * 2 * ROUNDS * PER_ROUND + 200;
    assert_eq!(
        plain.cmd(&["GET", "counter"]),
        format!("${}\r\n{total}\r\n", total.to_string().len())
    );
}

#[test]
fn pipelined_transactions_keep_reply_order() {
    let script: &[&[&str]] = &[
        &["SET", "a", "1"],
        &["SET", "b", "2"],
        &["MULTI"],
        &["INCR", "{t}x"],
        &["PING"],
        &["GET", "{t}x"],
        &["EXEC"],
        &["GET", "a"],
        &["WATCH", "c"],
        &["SET", "c", "3"],
        &["MULTI"],
        &["GET", "{t}x"],
        &["EXEC"],
        &["MGET", "a", "b", "c"],
        &["MULTI"],
        &["SET", "{t}y", "1"],
        &["DISCARD"],
        &["EXISTS", "{t}y", "b"],
    ];
    let mut batch = Vec::new();
    for args in script {
        let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
        batch.extend(encode(&args));
    }
    let run = |server: &Server| -> Vec<String> {
        let mut c = server.client();
        c.send_raw(&batch);
        script.iter().map(|_| c.read_reply()).collect()
    };
    let expected = run(&Server::redis(&[]));
    for shards in [1, 3] {
        assert_eq!(
            run(&Server::shardis(shards, &[])),
            expected,
            "{shards} shards"
        );
    }
}

#[test]
fn redis_crate_transactions() {
    let s = Server::shardis(3, &[]);
    let mut con = s.redis_client();
    let (a, b): (i64, i64) = redis::pipe()
        .atomic()
        .incr("{t}c", 1)
        .incr("{t}c", 1)
        .query(&mut con)
        .unwrap();
    assert_eq!((a, b), (1, 2));
    let (v,): (i64,) = redis::transaction(&mut con, &["{t}c"], |con, pipe| {
        let v: i64 = redis::cmd("GET").arg("{t}c").query(con)?;
        pipe.set("{t}c", v * 10).ignore().get("{t}c").query(con)
    })
    .unwrap();
    assert_eq!(v, 20);
}

#[test]
fn eval_inside_multi_matches_redis() {
    Transcript::new()
        .steps(&[
            Exact(&["MULTI"]),
            Exact(&["SET", "{s}a", "1"]),
            Exact(&[
                "EVAL",
                "return redis.call('incrby', KEYS[1], ARGV[1])",
                "1",
                "{s}a",
                "41",
            ]),
            Exact(&["EVAL", "return redis.call('get', KEYS[1])", "1", "{s}a"]),
            Exact(&["EVAL", "return redis.call('nosuch')", "0"]),
            Exact(&["EXEC"]),
            Exact(&["GET", "{s}a"]),
        ])
        .assert_same_as_redis();
}
