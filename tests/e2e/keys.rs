//! End-to-end tests of the generic key commands: differential against
//! redis-server with 1 and 3 shards, SCAN across shards, active expiry,
//! the `redis` crate client and RESP3.

use crate::common;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use common::{scan_page, Server, Step, Step::*, Transcript};

/// The integer of a `:n` reply.
fn int(reply: &str) -> i64 {
    reply
        .strip_prefix(':')
        .and_then(|r| r.trim_end().parse().ok())
        .unwrap_or_else(|| panic!("not an integer reply: {reply:?}"))
}

#[test]
fn del_unlink_exists_touch_type() {
    Transcript::new()
        .steps(&[
            Exact(&["MSET", "a", "1", "b", "2", "c", "3", "{t}x", "4"]),
            Exact(&["EXISTS", "a", "b", "c", "nope", "a"]),
            Exact(&["TOUCH", "a", "b", "nope", "c", "c"]),
            Exact(&["EXISTS", "nope"]),
            Exact(&["TYPE", "a"]),
            Exact(&["TYPE", "nope"]),
            Exact(&["DEL", "a", "nope", "a", "b"]),
            Exact(&["EXISTS", "a", "b", "c"]),
            Exact(&["UNLINK", "c", "c", "{t}x", "zz"]),
            Exact(&["DEL", "nope"]),
            Exact(&["DBSIZE"]),
            Exact(&["DEL"]),
            Exact(&["UNLINK"]),
            Exact(&["EXISTS"]),
            Exact(&["TOUCH"]),
            Exact(&["TYPE"]),
            Exact(&["TYPE", "a", "b"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn expire_family_options_and_errors() {
    Transcript::new()
        .steps(&[
            Exact(&["SET", "k", "v"]),
            Exact(&["EXPIRE", "nope", "100"]),
            Exact(&["EXPIRE", "k", "100", "XX"]),
            Exact(&["EXPIRE", "k", "100", "gt"]),
            Exact(&["TTL", "k"]),
            Exact(&["EXPIRE", "k", "100", "NX"]),
            Exact(&["TTL", "k"]),
            Exact(&["EXPIRE", "k", "200", "nx"]),
            Exact(&["EXPIRE", "k", "200", "XX"]),
            Exact(&["TTL", "k"]),
            Exact(&["EXPIRE", "k", "100", "GT"]),
            Exact(&["EXPIRE", "k", "300", "GT"]),
            Exact(&["TTL", "k"]),
            Exact(&["EXPIRE", "k", "400", "LT"]),
            Exact(&["EXPIRE", "k", "150", "lt", "xx"]),
            Exact(&["TTL", "k"]),
            Exact(&["PERSIST", "k"]),
            Exact(&["PERSIST", "k"]),
            Exact(&["PERSIST", "nope"]),
            Exact(&["TTL", "k"]),
            Exact(&["PTTL", "k"]),
            Exact(&["TTL", "nope"]),
            Exact(&["PTTL", "nope"]),
            // LT on a key without a TTL sets it (no TTL counts as infinite).
            Exact(&["EXPIRE", "k", "100", "LT"]),
            Exact(&["TTL", "k"]),
            // Errors: incompatible options, unknown options, bad numbers.
            Exact(&["EXPIRE", "k", "10", "NX", "XX"]),
            Exact(&["EXPIRE", "k", "10", "nx", "gt"]),
            Exact(&["EXPIRE", "k", "10", "LT", "nx"]),
            Exact(&["EXPIRE", "k", "10", "GT", "LT"]),
            Exact(&["EXPIRE", "k", "10", "xx", "gt", "lt"]),
            Exact(&["EXPIRE", "k", "10", "bogus"]),
            Exact(&["EXPIRE", "k", "10", "a\r\nb"]),
            Exact(&["EXPIRE", "k", "abc", "bogus"]),
            Exact(&["EXPIRE", "k", "abc", "nx", "xx"]),
            Exact(&["EXPIRE", "k", "abc"]),
            Exact(&["EXPIRE", "k", "1.5"]),
            Exact(&["EXPIRE", "k", ""]),
            Exact(&["EXPIRE", "k"]),
            Exact(&["TTL"]),
            Exact(&["TTL", "k", "x"]),
            Exact(&["PERSIST"]),
            // Overflow of the millisecond deadline.
            Exact(&["EXPIRE", "k", "9223372036854775807"]),
            Exact(&["EXPIRE", "k", "9223372036854775"]),
            Exact(&["EXPIRE", "k", "-9223372036854775808"]),
            Exact(&["EXPIRE", "k", "-9223372036854776"]),
            Exact(&["PEXPIRE", "k", "9223372036854775807"]),
            Exact(&["EXPIREAT", "k", "9223372036854775807"]),
            Exact(&["EXPIREAT", "k", "9223372036854776"]),
            Exact(&["TTL", "k"]),
            // Absolute deadlines are deterministic.
            Exact(&["PEXPIREAT", "k", "9223372036854775807"]),
            Exact(&["PEXPIRETIME", "k"]),
            Exact(&["EXPIRETIME", "k"]),
            Exact(&["EXPIREAT", "k", "4000000000"]),
            Exact(&["EXPIRETIME", "k"]),
            Exact(&["PEXPIRETIME", "k"]),
            Exact(&["PEXPIREAT", "k", "4000000000123", "LT"]),
            Exact(&["PEXPIRETIME", "k"]),
            Exact(&["EXPIRETIME", "k"]),
            Exact(&["PEXPIREAT", "k", "4000000000499", "XX"]),
            Exact(&["EXPIRETIME", "k"]),
            Exact(&["PEXPIREAT", "k", "4000000000500", "GT"]),
            Exact(&["EXPIRETIME", "k"]),
            Exact(&["PERSIST", "k"]),
            Exact(&["EXPIRETIME", "k"]),
            Exact(&["PEXPIRETIME", "k"]),
            Exact(&["EXPIRETIME", "nope"]),
            Exact(&["PEXPIRETIME", "nope"]),
            // A deadline in the past deletes the key and answers 1.
            Exact(&["EXPIRE", "k", "-1"]),
            Exact(&["EXISTS", "k"]),
            Exact(&["SET", "k", "v"]),
            Exact(&["PEXPIRE", "k", "0"]),
            Exact(&["EXISTS", "k"]),
            Exact(&["SET", "k", "v"]),
            Exact(&["EXPIREAT", "k", "1", "LT"]),
            Exact(&["EXISTS", "k"]),
            Exact(&["SET", "k", "v"]),
            Exact(&["PEXPIREAT", "k", "-5", "XX"]),
            Exact(&["EXISTS", "k"]),
            Exact(&["PEXPIREAT", "k", "-5", "NX"]),
            Exact(&["EXISTS", "k"]),
            Exact(&["EXPIRE", "k", "-1"]),
            Exact(&["DBSIZE"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn ttl_values_are_in_range() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
    assert_eq!(c.cmd(&["PEXPIRE", "k", "100000"]), ":1\r\n");
    let pttl = int(&c.cmd(&["PTTL", "k"]));
    assert!((99_000..=100_000).contains(&pttl), "{pttl}");
    assert_eq!(c.cmd(&["TTL", "k"]), ":100\r\n");
    // 1.5 s rounds to 2, as in Redis ((ms + 500) / 1000).
    assert_eq!(c.cmd(&["PEXPIRE", "k", "1999"]), ":1\r\n");
    assert_eq!(c.cmd(&["TTL", "k"]), ":2\r\n");
    let now_ms = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0);
    assert_eq!(c.cmd(&["EXPIRE", "k", "50"]), ":1\r\n");
    let at = int(&c.cmd(&["PEXPIRETIME", "k"]));
    assert!(
        (now_ms + 49_000..=now_ms + 51_000).contains(&at),
        "{at} vs {now_ms}"
    );
    let at_s = int(&c.cmd(&["EXPIRETIME", "k"]));
    assert!((at_s * 1000 - at).abs() <= 500);
    // A key that expires in 30 ms is gone (-2) shortly after.
    assert_eq!(c.cmd(&["PEXPIRE", "k", "30"]), ":1\r\n");
    std::thread::sleep(Duration::from_millis(60));
    assert_eq!(c.cmd(&["PTTL", "k"]), ":-2\r\n");
    assert_eq!(c.cmd(&["TTL", "k"]), ":-2\r\n");
}

#[test]
fn keys_patterns() {
    Transcript::new()
        .steps(&[
            Exact(&["KEYS", "*"]),
            Exact(&[
                "MSET", "hello", "1", "hallo", "2", "hxllo", "3", "hllo", "4", "heeeello", "5",
                "x", "6", "", "7", "h*", "8", "{a}b", "9",
            ]),
            Unordered(&["KEYS", "*"]),
            Unordered(&["KEYS", "h?llo"]),
            Unordered(&["KEYS", "h*llo"]),
            Unordered(&["KEYS", "h[ae]llo"]),
            Unordered(&["KEYS", "h[^e]llo"]),
            Unordered(&["KEYS", "h[a-b]llo"]),
            Unordered(&["KEYS", "h\\*"]),
            Unordered(&["KEYS", "**"]),
            Unordered(&["KEYS", "{a}*"]),
            Unordered(&["KEYS", "nomatch*"]),
            Exact(&["KEYS", ""]),
            Exact(&["KEYS"]),
            Exact(&["KEYS", "*", "*"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn scan_errors_and_options() {
    Transcript::new()
        .steps(&[
            Exact(&["SET", "a", "1"]),
            Exact(&["SCAN", "abc"]),
            Exact(&["SCAN", " 1"]),
            Exact(&["SCAN", "1x"]),
            Exact(&["SCAN", "18446744073709551616"]),
            Exact(&["SCAN", "0", "COUNT", "0"]),
            Exact(&["SCAN", "0", "COUNT", "-1"]),
            Exact(&["SCAN", "0", "COUNT", "x"]),
            Exact(&["SCAN", "0", "COUNT"]),
            Exact(&["SCAN", "0", "MATCH"]),
            Exact(&["SCAN", "0", "TYPE"]),
            Exact(&["SCAN", "0", "bogus", "x"]),
            Exact(&["SCAN", "0", "COUNT", "1", "bogus"]),
            Exact(&["SCAN"]),
        ])
        .assert_same_as_redis();
    // One shard walks its whole slot range when there is little in it, so
    // a small keyspace comes back in one call, as in Redis.
    Transcript::new()
        .shards(&[1])
        .steps(&[
            Exact(&["SCAN", "0"]),
            Exact(&["SET", "a", "1"]),
            Exact(&["SCAN", "0"]),
            Exact(&["SCAN", "0", "MATCH", "a", "COUNT", "1000", "TYPE", "STRING"]),
            Exact(&["SCAN", "0", "TYPE", "hash"]),
            Exact(&["SCAN", "0", "TYPE", "nosuchtype"]),
            Exact(&["SCAN", "0", "MATCH", "b*"]),
            Exact(&["SET", "", "empty"]),
            Unordered(&["KEYS", "*"]),
            Exact(&["SCAN", "0", "MATCH", "**"]),
            Exact(&["SCAN", "0", "MATCH", "*", "MATCH", "a"]),
        ])
        .assert_same_as_redis();
}

/// Runs a full SCAN with `options`; every key it returned (with repeats).
fn scan_all(c: &mut redis::Connection, options: &[&str]) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut all = Vec::new();
    let mut calls = 0;
    loop {
        let mut cmd = redis::cmd("SCAN");
        cmd.arg(&cursor);
        for o in options {
            cmd.arg(*o);
        }
        let (next, keys): (String, Vec<String>) = cmd.query(c).expect("SCAN");
        all.extend(keys);
        calls += 1;
        assert!(calls < 20_000, "SCAN does not end");
        if next == "0" {
            return all;
        }
        let next_slot: u64 = next.parse().expect("numeric cursor");
        assert!(
            next_slot > cursor.parse::<u64>().unwrap_or(0),
            "cursor goes forward"
        );
        cursor = next;
    }
}

/// A full SCAN (COUNT 20) that calls `change` with the round number after
/// every call; every key it returned.
fn scan_changing(
    c: &mut redis::Connection,
    mut change: impl FnMut(&mut redis::Connection, u64),
) -> Vec<String> {
    let mut cursor = "0".to_string();
    let mut seen = Vec::new();
    for round in 0.. {
        let (next, keys): (String, Vec<String>) = redis::cmd("SCAN")
            .arg(&cursor)
            .arg("COUNT")
            .arg(20)
            .query(c)
            .expect("SCAN");
        seen.extend(keys);
        change(c, round);
        assert!(round < 20_000, "SCAN does not end");
        if next == "0" {
            break;
        }
        cursor = next;
    }
    seen
}

/// Keys present for the whole iteration are returned even while other keys
/// are added (tables grow and rehash) and deleted between the calls.
#[test]
fn scan_returns_stable_keys_while_the_keyspace_changes() {
    let s = Server::shardis(2, &[]);
    let mut c = s.redis_client();
    let mut pipe = redis::pipe();
    for i in 0..1000 {
        pipe.cmd("SET").arg(format!("stable:{i}")).arg(i).ignore();
        pipe.cmd("SET").arg(format!("doomed:{i}")).arg(i).ignore();
    }
    pipe.query::<()>(&mut c).expect("SET keys");
    let seen = scan_changing(&mut c, |c, round| {
        // Between calls: 200 new keys (growing every table) and 20 fewer.
        let mut pipe = redis::pipe();
        for i in 0..200 {
            pipe.cmd("SET")
                .arg(format!("new:{round}:{i}"))
                .arg(i)
                .ignore();
        }
        for i in 0..20 {
            pipe.cmd("DEL")
                .arg(format!("doomed:{}", round * 20 + i))
                .ignore();
        }
        pipe.query::<()>(c).expect("change the keyspace");
    });
    let seen: BTreeSet<String> = seen
        .into_iter()
        .filter(|k| k.starts_with("stable:"))
        .collect();
    let stable: BTreeSet<String> = (0..1000).map(|i| format!("stable:{i}")).collect();
    assert_eq!(seen, stable);
}

#[test]
fn scan_covers_every_key_across_shards() {
    let s = Server::shardis(3, &[]);
    let mut c = s.redis_client();
    let mut expected = BTreeSet::new();
    let mut pipe = redis::pipe();
    for i in 0..2000 {
        let key = format!("key:{i}");
        pipe.cmd("SET").arg(&key).arg(i).ignore();
        expected.insert(key);
    }
    pipe.query::<()>(&mut c).expect("SET keys");

    let all = scan_all(&mut c, &[]);
    let seen: BTreeSet<String> = all.iter().cloned().collect();
    assert_eq!(seen, expected);
    assert_eq!(all.len(), 2000, "slots are visited once, so no repeats");

    // COUNT only changes how much each call returns.
    for count in ["1", "7", "100", "100000"] {
        let seen: BTreeSet<String> = scan_all(&mut c, &["COUNT", count]).into_iter().collect();
        assert_eq!(seen, expected, "COUNT {count}");
    }
    let (cursor, keys): (String, Vec<String>) = redis::cmd("SCAN")
        .arg(0)
        .arg("COUNT")
        .arg(5)
        .query(&mut c)
        .expect("SCAN");
    assert_ne!(cursor, "0");
    assert!(!keys.is_empty() && keys.len() < 50, "{}", keys.len());

    // MATCH and TYPE filter.
    let seen: BTreeSet<String> = scan_all(&mut c, &["MATCH", "key:1?", "COUNT", "50"])
        .into_iter()
        .collect();
    let want: BTreeSet<String> = (10..20).map(|i| format!("key:{i}")).collect();
    assert_eq!(seen, want);
    assert_eq!(scan_all(&mut c, &["TYPE", "string"]).len(), 2000);
    assert_eq!(scan_all(&mut c, &["TYPE", "String"]).len(), 2000);
    assert!(scan_all(&mut c, &["TYPE", "hash"]).is_empty());
    assert!(scan_all(&mut c, &["MATCH", "nope*"]).is_empty());

    // Keys present for the whole iteration are returned even when others
    // come and go in the middle of it.
    let seen = scan_changing(&mut c, |c, round| {
        let _: () = redis::cmd("SET")
            .arg(format!("new:{}", round + 1))
            .arg(1)
            .query(c)
            .expect("SET");
        let _: i64 = redis::cmd("DEL")
            .arg(format!("new:{round}"))
            .query(c)
            .expect("DEL");
    });
    let seen_old: BTreeSet<String> = seen.into_iter().filter(|k| k.starts_with("key:")).collect();
    assert_eq!(seen_old, expected);
}

#[test]
fn expired_keys_are_never_returned() {
    // hz 1: the expired keys wait a while for active expiry.
    let s = Server::shardis(3, &["--hz", "1"]);
    let mut c = s.client();
    for i in 0..30 {
        let k = format!("gone:{i}");
        assert_eq!(c.cmd(&["SET", &k, "v"]), "+OK\r\n");
        assert_eq!(c.cmd(&["PEXPIRE", &k, "20"]), ":1\r\n");
    }
    assert_eq!(c.cmd(&["SET", "live", "v"]), "+OK\r\n");
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(c.cmd(&["KEYS", "*"]), "*1\r\n$4\r\nlive\r\n");
    assert_eq!(c.cmd(&["KEYS", "gone*"]), "*0\r\n");
    let mut keys = Vec::new();
    let mut cursor = "0".to_string();
    loop {
        let reply = c.cmd(&["SCAN", &cursor, "COUNT", "5"]);
        let mut lines = reply.split("\r\n").skip(1);
        let _len = lines.next();
        let next = lines.next().expect("cursor").to_string();
        keys.extend(
            lines
                .filter(|l| !l.is_empty() && !l.starts_with(['$', '*']))
                .map(String::from),
        );
        if next == "0" {
            break;
        }
        cursor = next;
    }
    assert_eq!(keys, vec!["live".to_string()]);
    for _ in 0..20 {
        assert_eq!(c.cmd(&["RANDOMKEY"]), "$4\r\nlive\r\n");
    }
    assert_eq!(c.cmd(&["EXISTS", "gone:1", "gone:2", "live"]), ":1\r\n");
    assert_eq!(c.cmd(&["TYPE", "gone:3"]), "+none\r\n");
    assert_eq!(c.cmd(&["RENAME", "gone:4", "x"]), "-ERR no such key\r\n");
    assert_eq!(c.cmd(&["DEL", "gone:5", "gone:6"]), ":0\r\n");
}

#[test]
fn active_expiry_reclaims_untouched_keys() {
    let s = Server::shardis(2, &[]);
    let mut c = s.client();
    let mut batch = Vec::new();
    for i in 0..1000 {
        let k = format!("volatile:{i}");
        batch.extend(common::encode(&[b"SET", k.as_bytes(), b"v"]));
        batch.extend(common::encode(&[b"PEXPIRE", k.as_bytes(), b"50"]));
    }
    c.send_raw(&batch);
    for _ in 0..1000 {
        assert_eq!(c.read_reply(), "+OK\r\n");
        assert_eq!(c.read_reply(), ":1\r\n");
    }
    assert_eq!(c.cmd(&["SET", "persistent", "v"]), "+OK\r\n");
    let deadline = Instant::now() + Duration::from_millis(1500);
    // DBSIZE counts keys not reclaimed yet and touches none of them.
    while c.cmd(&["DBSIZE"]) != ":1\r\n" {
        assert!(
            Instant::now() < deadline,
            "DBSIZE still {}",
            c.cmd(&["DBSIZE"])
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(c.cmd(&["KEYS", "*"]), "*1\r\n$10\r\npersistent\r\n");
}

#[test]
fn rename_and_renamenx() {
    Transcript::new()
        .steps(&[
            Exact(&["RENAME", "{t}nope", "{t}x"]),
            Exact(&["RENAMENX", "{t}nope", "{t}x"]),
            Exact(&["RENAME", "{t}nope", "{t}nope"]),
            Exact(&["MSET", "{t}a", "1", "{t}b", "2"]),
            Exact(&["RENAME", "{t}a", "{t}a"]),
            Exact(&["RENAMENX", "{t}a", "{t}a"]),
            Exact(&["EXPIRE", "{t}a", "100"]),
            Exact(&["RENAME", "{t}a", "{t}c"]),
            Exact(&["EXISTS", "{t}a"]),
            Exact(&["GET", "{t}c"]),
            Exact(&["TTL", "{t}c"]),
            Exact(&["RENAMENX", "{t}c", "{t}b"]),
            Exact(&["RENAMENX", "{t}c", "{t}d"]),
            Exact(&["TTL", "{t}d"]),
            // Overwriting drops the target's own expiry.
            Exact(&["EXPIRE", "{t}b", "500"]),
            Exact(&["PERSIST", "{t}d"]),
            Exact(&["RENAME", "{t}d", "{t}b"]),
            Exact(&["TTL", "{t}b"]),
            Exact(&["GET", "{t}b"]),
            Exact(&["DBSIZE"]),
            Exact(&["RENAME", "{t}b"]),
            Exact(&["RENAMENX", "{t}b", "{t}c", "{t}d"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn multi_key_commands_across_shards_are_crossslot() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    let crossslot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    // "a" and "b" are on different shards of three.
    assert_eq!(c.cmd(&["MSET", "a", "1", "b", "2"]), "+OK\r\n");
    assert_eq!(c.cmd(&["RENAME", "a", "b"]), crossslot);
    assert_eq!(c.cmd(&["RENAMENX", "a", "b"]), crossslot);
    assert_eq!(c.cmd(&["COPY", "a", "b"]), crossslot);
    assert_eq!(c.cmd(&["COPY", "a", "b", "DB", "1"]), crossslot);
    // Fan-out commands work across shards.
    assert_eq!(c.cmd(&["EXISTS", "a", "b"]), ":2\r\n");
    assert_eq!(c.cmd(&["TOUCH", "a", "b"]), ":2\r\n");
    assert_eq!(c.cmd(&["UNLINK", "a", "b"]), ":2\r\n");
}

#[test]
fn randomkey_dbsize_flush() {
    Transcript::new()
        .steps(&[
            Exact(&["RANDOMKEY"]),
            Exact(&["DBSIZE"]),
            Exact(&["SET", "only", "1"]),
            Exact(&["RANDOMKEY"]),
            Exact(&["RANDOMKEY", "x"]),
            Exact(&["DBSIZE", "x"]),
            Exact(&["MSET", "a", "1", "b", "2", "c", "3"]),
            Exact(&["DBSIZE"]),
            Exact(&["SELECT", "1"]),
            Exact(&["SET", "a", "other"]),
            Exact(&["DBSIZE"]),
            Exact(&["FLUSHDB", "bogus"]),
            Exact(&["FLUSHDB", "ASYNC", "SYNC"]),
            Exact(&["FLUSHDB", "sync"]),
            Exact(&["DBSIZE"]),
            Exact(&["SELECT", "0"]),
            Exact(&["DBSIZE"]),
            Exact(&["FLUSHDB", "Async"]),
            Exact(&["DBSIZE"]),
            Exact(&["MSET", "a", "1", "b", "2", "c", "3"]),
            Exact(&["SELECT", "2"]),
            Exact(&["SET", "a", "1"]),
            Exact(&["FLUSHALL", "bogus"]),
            Exact(&["FLUSHALL", "sync", "async"]),
            Exact(&["DBSIZE"]),
            Exact(&["FLUSHALL", "SYNC"]),
            Exact(&["DBSIZE"]),
            Exact(&["SELECT", "0"]),
            Exact(&["DBSIZE"]),
            Exact(&["SET", "a", "1"]),
            Exact(&["FLUSHALL", "ASYNC"]),
            Exact(&["DBSIZE"]),
            Exact(&["SET", "a", "1"]),
            Exact(&["FLUSHALL"]),
            Exact(&["KEYS", "*"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn randomkey_finds_keys_on_every_shard() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    // One key per shard ("b" on 0, "c" on 1, "a" on 2).
    assert_eq!(c.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]), "+OK\r\n");
    let mut seen = BTreeSet::new();
    for _ in 0..200 {
        seen.insert(c.cmd(&["RANDOMKEY"]));
    }
    let want: BTreeSet<String> = ["a", "b", "c"]
        .iter()
        .map(|k| format!("$1\r\n{k}\r\n"))
        .collect();
    assert_eq!(seen, want);
}

#[test]
fn copy_and_move() {
    Transcript::new()
        .steps(&[
            Exact(&["COPY", "{t}nope", "{t}x"]),
            Exact(&["SET", "{t}a", "1"]),
            Exact(&["COPY", "{t}a", "{t}a"]),
            Exact(&["COPY", "{t}a", "{t}a", "DB", "0"]),
            Exact(&["COPY", "{t}a", "{t}a", "DB", "1"]),
            Exact(&["EXPIRE", "{t}a", "100"]),
            Exact(&["COPY", "{t}a", "{t}b"]),
            Exact(&["TTL", "{t}b"]),
            Exact(&["GET", "{t}b"]),
            Exact(&["SET", "{t}a", "2"]),
            Exact(&["COPY", "{t}a", "{t}b"]),
            Exact(&["GET", "{t}b"]),
            Exact(&["COPY", "{t}a", "{t}b", "REPLACE"]),
            Exact(&["GET", "{t}b"]),
            Exact(&["TTL", "{t}b"]),
            Exact(&["COPY", "{t}b", "{t}c", "DB", "3", "replace"]),
            Exact(&["COPY", "{t}b", "{t}c", "db", "3"]),
            Exact(&["COPY", "{t}nope", "{t}c", "DB", "99"]),
            Exact(&["COPY", "{t}a", "{t}c", "DB", "-1"]),
            Exact(&["COPY", "{t}a", "{t}c", "DB", "16"]),
            Exact(&["COPY", "{t}a", "{t}c", "DB", "x"]),
            Exact(&["COPY", "{t}a", "{t}c", "DB", "99999999999"]),
            Exact(&["COPY", "{t}a", "{t}c", "DB"]),
            Exact(&["COPY", "{t}a", "{t}c", "bogus"]),
            Exact(&["COPY", "{t}a"]),
            Exact(&["SELECT", "3"]),
            Exact(&["GET", "{t}c"]),
            Exact(&["TTL", "{t}c"]),
            Exact(&["SELECT", "0"]),
            // MOVE
            Exact(&["MOVE", "{t}a", "0"]),
            Exact(&["MOVE", "{t}a", "x"]),
            Exact(&["MOVE", "{t}a", "-1"]),
            Exact(&["MOVE", "{t}a", "16"]),
            Exact(&["MOVE", "{t}a", "4294967296"]),
            Exact(&["MOVE", "{t}nope", "1"]),
            Exact(&["MOVE", "{t}nope", "99"]),
            Exact(&["EXPIRE", "{t}a", "300"]),
            Exact(&["MOVE", "{t}a", "3"]),
            Exact(&["EXISTS", "{t}a"]),
            Exact(&["MOVE", "{t}b", "3"]),
            Exact(&["SELECT", "3"]),
            Exact(&["SET", "{t}c", "here"]),
            Exact(&["MOVE", "{t}c", "0"]),
            Exact(&["SELECT", "3"]),
            Exact(&["GET", "{t}a"]),
            Exact(&["TTL", "{t}a"]),
            Exact(&["SELECT", "0"]),
            Exact(&["GET", "{t}c"]),
            Exact(&["MOVE", "{t}c", "3"]),
            Exact(&["MOVE"]),
            Exact(&["MOVE", "{t}c", "3", "x"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn redis_crate_client() {
    let s = Server::shardis(3, &[]);
    let mut c = s.redis_client();
    let _: () = redis::cmd("MSET")
        .arg(&["a", "1", "b", "2", "{t}x", "3"])
        .query(&mut c)
        .expect("MSET");
    let n: i64 = redis::cmd("EXISTS")
        .arg(&["a", "b", "nope"])
        .query(&mut c)
        .expect("EXISTS");
    assert_eq!(n, 2);
    let set: bool = redis::cmd("EXPIRE")
        .arg("a")
        .arg(100)
        .query(&mut c)
        .expect("EXPIRE");
    assert!(set);
    let ttl: i64 = redis::cmd("TTL").arg("a").query(&mut c).expect("TTL");
    assert_eq!(ttl, 100);
    let t: String = redis::cmd("TYPE").arg("b").query(&mut c).expect("TYPE");
    assert_eq!(t, "string");
    let _: () = redis::cmd("RENAME")
        .arg("{t}x")
        .arg("{t}y")
        .query(&mut c)
        .expect("RENAME");
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut c).expect("KEYS");
    keys.sort();
    assert_eq!(keys, ["a", "b", "{t}y"]);
    let err = redis::cmd("RENAME")
        .arg("a")
        .arg("b")
        .query::<()>(&mut c)
        .expect_err("CROSSSLOT");
    assert_eq!(err.code(), Some("CROSSSLOT"));
    let size: i64 = redis::cmd("DBSIZE").query(&mut c).expect("DBSIZE");
    assert_eq!(size, 3);
    let deleted: i64 = redis::cmd("DEL")
        .arg(&["a", "b", "{t}y"])
        .query(&mut c)
        .expect("DEL");
    assert_eq!(deleted, 3);
    let none: Option<String> = redis::cmd("RANDOMKEY").query(&mut c).expect("RANDOMKEY");
    assert_eq!(none, None);
}

#[test]
fn resp3_replies_match_redis() {
    let steps: &[Step] = &[
        Exact(&["RANDOMKEY"]),
        Exact(&["SET", "{t}a", "1"]),
        Exact(&["TYPE", "{t}a"]),
        Exact(&["EXPIRE", "{t}a", "100"]),
        Exact(&["TTL", "{t}a"]),
        Exact(&["EXPIRETIME", "nope"]),
        Exact(&["KEYS", "*"]),
        Exact(&["RANDOMKEY"]),
        Exact(&["RENAME", "{t}a", "{t}b"]),
        Exact(&["RENAME", "{t}a", "{t}b"]),
        Exact(&["COPY", "{t}b", "{t}c"]),
        Exact(&["MOVE", "{t}c", "1"]),
        Exact(&["EXISTS", "{t}a", "{t}b", "{t}c"]),
        Exact(&["DEL", "{t}b"]),
        Exact(&["SCAN", "0"]),
        Exact(&["DBSIZE"]),
        Exact(&["FLUSHALL"]),
    ];
    Transcript::new()
        .shards(&[1])
        .resp(&[3])
        .steps(steps)
        .assert_same_as_redis();
    // With 3 shards the SCAN cursor walks the shards: not comparable.
    let not_scan: Vec<Step> = steps
        .iter()
        .filter(|step| !matches!(step, Exact(["SCAN", ..])))
        .copied()
        .collect();
    Transcript::new()
        .shards(&[3])
        .resp(&[3])
        .steps(&not_scan)
        .assert_same_as_redis();
}

/// Errors for cursors and options; what a cursor that was never handed out
/// returns is unspecified (Redis masks it into its table), so not compared.
#[test]
fn scan_cursor_edge_cases_match_redis() {
    Transcript::new()
        .steps(&[
            Exact(&["SET", "a", "1"]),
            Exact(&["SCAN", "99999", "COUNT", "0"]),
            Exact(&["SCAN", "x"]),
            Exact(&["SCAN", "18446744073709551616"]),
            Exact(&["SCAN", "-1", "COUNT", "0"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn type_and_scan_type_for_every_value_type() {
    let setup: &[Step] = &[
        Exact(&["SET", "{t}s", "v"]),
        Exact(&["HSET", "{t}h", "f", "v"]),
        Exact(&["RPUSH", "{t}l", "a"]),
        Exact(&["SADD", "{t}set", "a"]),
        Exact(&["ZADD", "{t}z", "1", "a"]),
        Exact(&["TYPE", "{t}s"]),
        Exact(&["TYPE", "{t}h"]),
        Exact(&["TYPE", "{t}l"]),
        Exact(&["TYPE", "{t}set"]),
        Exact(&["TYPE", "{t}z"]),
        Exact(&["TYPE", "{t}none"]),
        Exact(&["RENAME", "{t}z", "{t}z2"]),
        Exact(&["TYPE", "{t}z2"]),
        Exact(&["COPY", "{t}h", "{t}h2"]),
        Exact(&["HGETALL", "{t}h2"]),
        Unordered(&["KEYS", "*"]),
    ];
    Transcript::new().steps(setup).assert_same_as_redis();
    for shards in [1, 3] {
        let s = Server::shardis(shards, &[]);
        let mut c = s.client();
        for step in setup {
            if let Exact(args) = step {
                c.cmd(args);
            }
        }
        for (t, key) in [
            ("string", "{t}s"),
            ("hash", "{t}h"),
            ("list", "{t}l"),
            ("set", "{t}set"),
            ("zset", "{t}z2"),
        ] {
            let mut cursor = "0".to_string();
            let mut found = Vec::new();
            loop {
                let reply = c.cmd(&["SCAN", &cursor, "TYPE", t, "COUNT", "1000"]);
                let (next, keys) = scan_page(&reply);
                cursor = next;
                found.extend(keys);
                if cursor == "0" {
                    break;
                }
            }
            assert!(found.contains(&key.to_string()), "SCAN TYPE {t}: {found:?}");
            assert!(found.iter().all(|k| k.starts_with("{t}")), "{found:?}");
        }
    }
}
