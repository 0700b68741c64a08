//! End-to-end: the hash family against redis-server 7, in RESP2 and RESP3,
//! with 1 and 3 shards.

use crate::common;
use crate::hashsets_support;

use common::Server;
use hashsets_support::{bulks, same_as_redis_everywhere, Check::*};

#[test]
fn set_get_and_delete_match_redis() {
    same_as_redis_everywhere(&[
        Same(&["HSET", "h", "f1", "v1", "f2", "v2"]),
        Same(&["HSET", "h", "f1", "new", "f3", "v3", "f3", "again"]),
        Same(&["HGET", "h", "f1"]),
        Same(&["HGET", "h", "f3"]),
        Same(&["HGET", "h", "nope"]),
        Same(&["HGET", "nokey", "f"]),
        Same(&["HMGET", "h", "f1", "nope", "f2", "f1"]),
        Same(&["HMGET", "nokey", "a", "b"]),
        Same(&["HMSET", "h", "f4", "v4"]),
        Same(&["HMSET", "h2", "a", "1", "b", "2"]),
        Same(&["HSETNX", "h", "f1", "x"]),
        Same(&["HSETNX", "h", "f5", "x"]),
        Same(&["HSETNX", "h3", "f", ""]),
        Same(&["HGET", "h3", "f"]),
        Same(&["HSTRLEN", "h3", "f"]),
        Same(&["HLEN", "h"]),
        Same(&["HLEN", "nokey"]),
        Same(&["HEXISTS", "h", "f1"]),
        Same(&["HEXISTS", "h", "nope"]),
        Same(&["HEXISTS", "nokey", "f1"]),
        Same(&["HSTRLEN", "h", "f1"]),
        Same(&["HSTRLEN", "h", "nope"]),
        Same(&["HSTRLEN", "nokey", "f"]),
        Bag(&["HKEYS", "h"]),
        Bag(&["HVALS", "h"]),
        Pairs(&["HGETALL", "h"]),
        Same(&["HKEYS", "nokey"]),
        Same(&["HVALS", "nokey"]),
        Same(&["HGETALL", "nokey"]),
        Same(&["HDEL", "h", "nope"]),
        Same(&["HDEL", "nokey", "f1"]),
        Same(&["HDEL", "h", "f1", "f1", "f2", "nope"]),
        Same(&["HLEN", "h"]),
        Same(&["HDEL", "h2", "a", "b"]),
        Same(&["EXISTS", "h2"]),
        Same(&["HDEL", "h3", "f"]),
        Same(&["EXISTS", "h3"]),
        // Binary-safe fields and values, empty ones included.
        Same(&["HSET", "bin", "", "", "a\r\nb", "\u{0}\u{1}"]),
        Pairs(&["HGETALL", "bin"]),
        Same(&["HGET", "bin", ""]),
        Same(&["HMGET", "bin", "a\r\nb", ""]),
    ]);
}

#[test]
fn errors_match_redis() {
    same_as_redis_everywhere(&[
        Same(&["SET", "str", "x"]),
        Same(&["HSET", "str", "f", "v"]),
        Same(&["HMSET", "str", "f", "v"]),
        Same(&["HSETNX", "str", "f", "v"]),
        Same(&["HGET", "str", "f"]),
        Same(&["HMGET", "str", "f"]),
        Same(&["HDEL", "str", "f"]),
        Same(&["HEXISTS", "str", "f"]),
        Same(&["HLEN", "str"]),
        Same(&["HSTRLEN", "str", "f"]),
        Same(&["HGETALL", "str"]),
        Same(&["HKEYS", "str"]),
        Same(&["HVALS", "str"]),
        Same(&["HINCRBY", "str", "f", "1"]),
        Same(&["HINCRBYFLOAT", "str", "f", "1"]),
        Same(&["HSCAN", "str", "0"]),
        Same(&["HRANDFIELD", "str"]),
        Same(&["HRANDFIELD", "str", "1"]),
        // Arity, including the odd field/value count.
        Same(&["HSET", "h", "f"]),
        Same(&["HSET", "h", "f", "v", "g"]),
        Same(&["HMSET", "h", "f", "v", "g"]),
        Same(&["HSETNX", "h", "f"]),
        Same(&["HGET", "h"]),
        Same(&["HMGET", "h"]),
        Same(&["HDEL", "h"]),
        Same(&["HLEN"]),
        Same(&["HLEN", "h", "x"]),
        Same(&["HGETALL", "h", "x"]),
        Same(&["HINCRBY", "h", "f"]),
        Same(&["HINCRBYFLOAT", "h", "f", "1", "2"]),
        Same(&["HSCAN", "h"]),
        Same(&["HRANDFIELD"]),
        Same(&["EXISTS", "h"]),
    ]);
}

#[test]
fn incrby_matches_redis() {
    same_as_redis_everywhere(&[
        Same(&["HINCRBY", "h", "n", "5"]),
        Same(&["HINCRBY", "h", "n", "-12"]),
        Same(&["HGET", "h", "n"]),
        Same(&["HINCRBY", "h", "n", "x"]),
        Same(&["HINCRBY", "h", "n", "1.5"]),
        Same(&["HINCRBY", "h", "n", " 1"]),
        Same(&["HINCRBY", "h", "n", "99999999999999999999"]),
        Same(&["HINCRBY", "nokey", "n", "x"]),
        Same(&["EXISTS", "nokey"]),
        Same(&[
            "HSET",
            "h",
            "big",
            "9223372036854775806",
            "s",
            "abc",
            "sp",
            " 5",
            "e",
            "",
        ]),
        Same(&["HINCRBY", "h", "big", "1"]),
        Same(&["HINCRBY", "h", "big", "1"]),
        Same(&["HINCRBY", "h", "big", "-9223372036854775807"]),
        Same(&["HINCRBY", "h", "big", "-9223372036854775808"]),
        Same(&["HINCRBY", "h", "big", "-1"]),
        Same(&["HINCRBY", "h", "big", "-9223372036854775807"]),
        Same(&["HINCRBY", "h", "s", "1"]),
        Same(&["HINCRBY", "h", "sp", "1"]),
        Same(&["HINCRBY", "h", "e", "1"]),
        Same(&["HINCRBY", "h", "new", "-9223372036854775808"]),
        Same(&["HGET", "h", "new"]),
    ]);
}

#[test]
fn incrbyfloat_matches_redis() {
    same_as_redis_everywhere(&[
        Same(&["HINCRBYFLOAT", "h", "f", "10.5"]),
        Same(&["HINCRBYFLOAT", "h", "f", "0.1"]),
        Same(&["HGET", "h", "f"]),
        Same(&["HINCRBYFLOAT", "h", "f", "-10.6"]),
        Same(&["HINCRBYFLOAT", "h", "g", "5.0e3"]),
        Same(&["HINCRBYFLOAT", "h", "g", "-2.5"]),
        Same(&["HINCRBYFLOAT", "h", "g", "+1"]),
        Same(&["HINCRBYFLOAT", "h", "i", "3"]),
        Same(&["HINCRBY", "h", "i", "1"]),
        Same(&["HINCRBYFLOAT", "h", "f", "abc"]),
        Same(&["HINCRBYFLOAT", "h", "f", ""]),
        Same(&["HINCRBYFLOAT", "h", "f", "nan"]),
        Same(&["HINCRBYFLOAT", "h", "f", "inf"]),
        Same(&["HINCRBYFLOAT", "h", "f", "-Infinity"]),
        Same(&["HINCRBYFLOAT", "nokey", "f", "inf"]),
        Same(&["EXISTS", "nokey"]),
        Same(&[
            "HSET", "h", "s", "abc", "inf", "inf", "sp", " 1", "e", "", "exp", "1e3",
        ]),
        Same(&["HINCRBYFLOAT", "h", "s", "1"]),
        Same(&["HINCRBYFLOAT", "h", "inf", "1"]),
        Same(&["HINCRBYFLOAT", "h", "sp", "1"]),
        Same(&["HINCRBYFLOAT", "h", "e", "1"]),
        Same(&["HINCRBYFLOAT", "h", "exp", "1"]),
        Same(&["HGET", "h", "exp"]),
    ]);
}

#[test]
fn hscan_matches_redis() {
    same_as_redis_everywhere(&[
        Same(&["HSCAN", "nokey", "0"]),
        // Options are not even parsed for a missing key.
        Same(&["HSCAN", "nokey", "0", "COUNT", "0", "bogus"]),
        Same(&[
            "HSET", "h", "alpha", "1", "beta", "2", "gamma", "3", "", "empty",
        ]),
        Scan(&["HSCAN", "h", "0"], true),
        Scan(&["HSCAN", "h", "0", "COUNT", "1"], true),
        Scan(&["HSCAN", "h", "0", "MATCH", "*a"], true),
        Scan(&["HSCAN", "h", "0", "MATCH", "*"], true),
        Scan(&["HSCAN", "h", "0", "match", "b*", "count", "100"], true),
        Scan(&["HSCAN", "h", "0", "MATCH", "x*", "MATCH", "?eta"], true),
        Scan(&["HSCAN", "h", "0", "MATCH", "nothing"], true),
        Scan(&["HSCAN", "h", "+0"], true),
        Scan(&["HSCAN", "h", ""], true),
        Same(&["HSCAN", "h", "-1", "MATCH", "nothing"]),
        Same(&["HSCAN", "h", "abc"]),
        Same(&["HSCAN", "h", " 0"]),
        Same(&["HSCAN", "h", "0 "]),
        Same(&["HSCAN", "h", "-"]),
        Same(&["HSCAN", "h", "18446744073709551616"]),
        Same(&["HSCAN", "str", "abc"]),
        Same(&["HSCAN", "h", "0", "COUNT", "0"]),
        Same(&["HSCAN", "h", "0", "COUNT", "-1"]),
        Same(&["HSCAN", "h", "0", "COUNT", "x"]),
        Same(&["HSCAN", "h", "0", "COUNT"]),
        Same(&["HSCAN", "h", "0", "MATCH"]),
        Same(&["HSCAN", "h", "0", "TYPE", "hash"]),
        Same(&["HSCAN", "h", "0", "NOVALUES"]),
        Same(&["HSCAN", "h", "0", "MATCH", "*", "COUNT", "x"]),
    ]);
}

#[test]
fn hrandfield_deterministic_cases_match_redis() {
    same_as_redis_everywhere(&[
        Same(&["HRANDFIELD", "nokey"]),
        Same(&["HRANDFIELD", "nokey", "5"]),
        Same(&["HRANDFIELD", "nokey", "-5", "WITHVALUES"]),
        Same(&["HSET", "one", "f", "v"]),
        Same(&["HRANDFIELD", "one"]),
        Same(&["HRANDFIELD", "one", "1"]),
        Same(&["HRANDFIELD", "one", "3"]),
        Same(&["HRANDFIELD", "one", "-3"]),
        Same(&["HRANDFIELD", "one", "0"]),
        Same(&["HRANDFIELD", "one", "0", "WITHVALUES"]),
        Same(&["HRANDFIELD", "one", "2", "withvalues"]),
        Same(&["HRANDFIELD", "one", "-3", "WITHVALUES"]),
        Same(&["HSET", "h", "a", "1", "b", "2", "c", "3"]),
        Bag(&["HRANDFIELD", "h", "3"]),
        Bag(&["HRANDFIELD", "h", "100"]),
        Same(&["HRANDFIELD", "h", "x"]),
        Same(&["HRANDFIELD", "h", "1.5"]),
        Same(&["HRANDFIELD", "h", "1", "WITHVALUE"]),
        Same(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
        Same(&["HRANDFIELD", "h", "x", "WITHVALUES", "x"]),
        Same(&["HRANDFIELD", "h", "-9223372036854775808"]),
        Same(&["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"]),
        Same(&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]),
        Same(&["HRANDFIELD", "nokey", "4611686018427387904", "WITHVALUES"]),
        Same(&["SET", "str", "x"]),
        Same(&["HRANDFIELD", "str", "x"]),
        Same(&["HRANDFIELD", "str", "0"]),
    ]);
}

/// Replies that depend on random choices: checked for their shape.
#[test]
fn hrandfield_random_replies() {
    for shards in [1, 3] {
        let s = Server::shardis(shards, &[]);
        let mut c = s.client();
        let fields: Vec<String> = (0..50).map(|i| format!("f{i}")).collect();
        let mut hset = vec!["HSET".to_string(), "h".into()];
        for f in &fields {
            hset.push(f.clone());
            hset.push(format!("v{f}"));
        }
        let args: Vec<&str> = hset.iter().map(String::as_str).collect();
        assert_eq!(c.cmd(&args), ":50\r\n");

        let one = c.cmd(&["HRANDFIELD", "h"]);
        assert!(
            fields
                .iter()
                .any(|f| one == format!("${}\r\n{f}\r\n", f.len())),
            "{one}"
        );

        let mut picked = bulks(&c.cmd(&["HRANDFIELD", "h", "10"]));
        assert_eq!(picked.len(), 10);
        picked.sort();
        picked.dedup();
        assert_eq!(picked.len(), 10, "distinct fields");
        assert!(picked.iter().all(|f| fields.contains(f)));

        let repeated = bulks(&c.cmd(&["HRANDFIELD", "h", "-200"]));
        assert_eq!(repeated.len(), 200);
        assert!(repeated.iter().all(|f| fields.contains(f)));
        let mut distinct = repeated.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 10, "choices spread over the hash");

        let flat = bulks(&c.cmd(&["HRANDFIELD", "h", "-7", "WITHVALUES"]));
        assert_eq!(flat.len(), 14);
        for pair in flat.chunks(2) {
            assert_eq!(pair[1], format!("v{}", pair[0]));
        }

        // RESP3: WITHVALUES pairs are 2-element arrays.
        c.cmd(&["HELLO", "3"]);
        let nested = c.cmd(&["HRANDFIELD", "h", "5", "WITHVALUES"]);
        assert!(nested.starts_with("*5\r\n*2\r\n$"), "{nested}");
        assert_eq!(nested.matches("*2\r\n").count(), 5);

        // A repeating count beyond any sane reply is refused, not built.
        let huge = c.cmd(&["HRANDFIELD", "h", "-4611686018427387903"]);
        assert!(huge.starts_with("-ERR value is out of range"), "{huge}");
    }
}

#[test]
fn through_the_redis_crate() {
    use std::collections::HashMap;
    let s = Server::shardis(3, &[]);
    let mut con = s.redis_client();
    let added: i64 = redis::cmd("HSET")
        .arg("user:1")
        .arg("name")
        .arg("ann")
        .arg("age")
        .arg("41")
        .query(&mut con)
        .unwrap();
    assert_eq!(added, 2);
    let all: HashMap<String, String> = redis::cmd("HGETALL").arg("user:1").query(&mut con).unwrap();
    assert_eq!(all.len(), 2);
    assert_eq!(all["name"], "ann");
    let age: i64 = redis::cmd("HINCRBY")
        .arg("user:1")
        .arg("age")
        .arg(1)
        .query(&mut con)
        .unwrap();
    assert_eq!(age, 42);
    let score: f64 = redis::cmd("HINCRBYFLOAT")
        .arg("user:1")
        .arg("score")
        .arg(2.5)
        .query(&mut con)
        .unwrap();
    assert_eq!(score, 2.5);
    let got: Vec<Option<String>> = redis::cmd("HMGET")
        .arg("user:1")
        .arg("name")
        .arg("nope")
        .query(&mut con)
        .unwrap();
    assert_eq!(got, vec![Some("ann".to_string()), None]);
    let (cursor, items): (u64, Vec<String>) = redis::cmd("HSCAN")
        .arg("user:1")
        .arg(0)
        .arg("MATCH")
        .arg("a*")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        (cursor, items),
        (0, vec!["age".to_string(), "42".to_string()])
    );
    let err = redis::cmd("HGET")
        .arg("user:1")
        .query::<Option<String>>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string().contains("wrong number of arguments"),
        "{err}"
    );
}

#[test]
fn hgetall_pairs_hold_together() {
    // Pairs(...) sorts whole pairs, so a value attached to the wrong field
    // would differ; check the same directly, RESP2 and RESP3.
    let s = Server::shardis(1, &[]);
    let mut c = s.client();
    c.cmd(&["HSET", "h", "a", "1", "b", "2", "c", "3"]);
    for resp3 in [false, true] {
        if resp3 {
            c.cmd(&["HELLO", "3"]);
        }
        let reply = c.cmd(&["HGETALL", "h"]);
        assert!(
            reply.starts_with(if resp3 { "%3\r\n" } else { "*6\r\n" }),
            "{reply}"
        );
        // Read the map's entries as a flat array of bulks.
        let flat = bulks(&format!("*6\r\n{}", reply.split_once("\r\n").unwrap().1));
        let mut pairs: Vec<(String, String)> = flat
            .chunks(2)
            .map(|p| (p[0].clone(), p[1].clone()))
            .collect();
        pairs.sort();
        assert_eq!(
            pairs,
            [("a", "1"), ("b", "2"), ("c", "3")].map(|(f, v)| (f.to_string(), v.to_string()))
        );
    }
}
