//! End-to-end: the hash family against redis-server 7, in RESP2 and RESP3,
//! with 1 and 3 shards.

use crate::common;

use common::{bulks, Server, Step::*, Transcript};

#[test]
fn set_get_and_delete_match_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["HSET", "h", "f1", "v1", "f2", "v2"]),
            Exact(&["HSET", "h", "f1", "new", "f3", "v3", "f3", "again"]),
            Exact(&["HGET", "h", "f1"]),
            Exact(&["HGET", "h", "f3"]),
            Exact(&["HGET", "h", "nope"]),
            Exact(&["HGET", "nokey", "f"]),
            Exact(&["HMGET", "h", "f1", "nope", "f2", "f1"]),
            Exact(&["HMGET", "nokey", "a", "b"]),
            Exact(&["HMSET", "h", "f4", "v4"]),
            Exact(&["HMSET", "h2", "a", "1", "b", "2"]),
            Exact(&["HSETNX", "h", "f1", "x"]),
            Exact(&["HSETNX", "h", "f5", "x"]),
            Exact(&["HSETNX", "h3", "f", ""]),
            Exact(&["HGET", "h3", "f"]),
            Exact(&["HSTRLEN", "h3", "f"]),
            Exact(&["HLEN", "h"]),
            Exact(&["HLEN", "nokey"]),
            Exact(&["HEXISTS", "h", "f1"]),
            Exact(&["HEXISTS", "h", "nope"]),
            Exact(&["HEXISTS", "nokey", "f1"]),
            Exact(&["HSTRLEN", "h", "f1"]),
            Exact(&["HSTRLEN", "h", "nope"]),
            Exact(&["HSTRLEN", "nokey", "f"]),
            Unordered(&["HKEYS", "h"]),
            Unordered(&["HVALS", "h"]),
            Pairs(&["HGETALL", "h"]),
            Exact(&["HKEYS", "nokey"]),
            Exact(&["HVALS", "nokey"]),
            Exact(&["HGETALL", "nokey"]),
            Exact(&["HDEL", "h", "nope"]),
            Exact(&["HDEL", "nokey", "f1"]),
            Exact(&["HDEL", "h", "f1", "f1", "f2", "nope"]),
            Exact(&["HLEN", "h"]),
            Exact(&["HDEL", "h2", "a", "b"]),
            Exact(&["EXISTS", "h2"]),
            Exact(&["HDEL", "h3", "f"]),
            Exact(&["EXISTS", "h3"]),
            // Binary-safe fields and values, empty ones included.
            Exact(&["HSET", "bin", "", "", "a\r\nb", "\u{0}\u{1}"]),
            Pairs(&["HGETALL", "bin"]),
            Exact(&["HGET", "bin", ""]),
            Exact(&["HMGET", "bin", "a\r\nb", ""]),
        ])
        .assert_same_as_redis();
}

#[test]
fn errors_match_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SET", "str", "x"]),
            Exact(&["HSET", "str", "f", "v"]),
            Exact(&["HMSET", "str", "f", "v"]),
            Exact(&["HSETNX", "str", "f", "v"]),
            Exact(&["HGET", "str", "f"]),
            Exact(&["HMGET", "str", "f"]),
            Exact(&["HDEL", "str", "f"]),
            Exact(&["HEXISTS", "str", "f"]),
            Exact(&["HLEN", "str"]),
            Exact(&["HSTRLEN", "str", "f"]),
            Exact(&["HGETALL", "str"]),
            Exact(&["HKEYS", "str"]),
            Exact(&["HVALS", "str"]),
            Exact(&["HINCRBY", "str", "f", "1"]),
            Exact(&["HINCRBYFLOAT", "str", "f", "1"]),
            Exact(&["HSCAN", "str", "0"]),
            Exact(&["HRANDFIELD", "str"]),
            Exact(&["HRANDFIELD", "str", "1"]),
            // Arity, including the odd field/value count.
            Exact(&["HSET", "h", "f"]),
            Exact(&["HSET", "h", "f", "v", "g"]),
            Exact(&["HMSET", "h", "f", "v", "g"]),
            Exact(&["HSETNX", "h", "f"]),
            Exact(&["HGET", "h"]),
            Exact(&["HMGET", "h"]),
            Exact(&["HDEL", "h"]),
            Exact(&["HLEN"]),
            Exact(&["HLEN", "h", "x"]),
            Exact(&["HGETALL", "h", "x"]),
            Exact(&["HINCRBY", "h", "f"]),
            Exact(&["HINCRBYFLOAT", "h", "f", "1", "2"]),
            Exact(&["HSCAN", "h"]),
            Exact(&["HRANDFIELD"]),
            Exact(&["EXISTS", "h"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn incrby_matches_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["HINCRBY", "h", "n", "5"]),
            Exact(&["HINCRBY", "h", "n", "-12"]),
            Exact(&["HGET", "h", "n"]),
            Exact(&["HINCRBY", "h", "n", "x"]),
            Exact(&["HINCRBY", "h", "n", "1.5"]),
            Exact(&["HINCRBY", "h", "n", " 1"]),
            Exact(&["HINCRBY", "h", "n", "99999999999999999999"]),
            Exact(&["HINCRBY", "nokey", "n", "x"]),
            Exact(&["EXISTS", "nokey"]),
            Exact(&[
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
            Exact(&["HINCRBY", "h", "big", "1"]),
            Exact(&["HINCRBY", "h", "big", "1"]),
            Exact(&["HINCRBY", "h", "big", "-9223372036854775807"]),
            Exact(&["HINCRBY", "h", "big", "-9223372036854775808"]),
            Exact(&["HINCRBY", "h", "big", "-1"]),
            Exact(&["HINCRBY", "h", "big", "-9223372036854775807"]),
            Exact(&["HINCRBY", "h", "s", "1"]),
            Exact(&["HINCRBY", "h", "sp", "1"]),
            Exact(&["HINCRBY", "h", "e", "1"]),
            Exact(&["HINCRBY", "h", "new", "-9223372036854775808"]),
            Exact(&["HGET", "h", "new"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn incrbyfloat_matches_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["HINCRBYFLOAT", "h", "f", "10.5"]),
            Exact(&["HINCRBYFLOAT", "h", "f", "0.1"]),
            Exact(&["HGET", "h", "f"]),
            Exact(&["HINCRBYFLOAT", "h", "f", "-10.6"]),
            Exact(&["HINCRBYFLOAT", "h", "g", "5.0e3"]),
            Exact(&["HINCRBYFLOAT", "h", "g", "-2.5"]),
            Exact(&["HINCRBYFLOAT", "h", "g", "+1"]),
            Exact(&["HINCRBYFLOAT", "h", "i", "3"]),
            Exact(&["HINCRBY", "h", "i", "1"]),
            Exact(&["HINCRBYFLOAT", "h", "f", "abc"]),
            Exact(&["HINCRBYFLOAT", "h", "f", ""]),
            Exact(&["HINCRBYFLOAT", "h", "f", "nan"]),
            Exact(&["HINCRBYFLOAT", "h", "f", "inf"]),
            Exact(&["HINCRBYFLOAT", "h", "f", "-Infinity"]),
            Exact(&["HINCRBYFLOAT", "nokey", "f", "inf"]),
            Exact(&["EXISTS", "nokey"]),
            Exact(&[
                "HSET", "h", "s", "abc", "inf", "inf", "sp", " 1", "e", "", "exp", "1e3",
            ]),
            Exact(&["HINCRBYFLOAT", "h", "s", "1"]),
            Exact(&["HINCRBYFLOAT", "h", "inf", "1"]),
            Exact(&["HINCRBYFLOAT", "h", "sp", "1"]),
            Exact(&["HINCRBYFLOAT", "h", "e", "1"]),
            Exact(&["HINCRBYFLOAT", "h", "exp", "1"]),
            Exact(&["HGET", "h", "exp"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn hscan_matches_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["HSCAN", "nokey", "0"]),
            // Options are not even parsed for a missing key.
            Exact(&["HSCAN", "nokey", "0", "COUNT", "0", "bogus"]),
            Exact(&[
                "HSET", "h", "alpha", "1", "beta", "2", "gamma", "3", "", "empty",
            ]),
            ScanPairs(&["HSCAN", "h", "0"]),
            ScanPairs(&["HSCAN", "h", "0", "COUNT", "1"]),
            ScanPairs(&["HSCAN", "h", "0", "MATCH", "*a"]),
            ScanPairs(&["HSCAN", "h", "0", "MATCH", "*"]),
            ScanPairs(&["HSCAN", "h", "0", "match", "b*", "count", "100"]),
            ScanPairs(&["HSCAN", "h", "0", "MATCH", "x*", "MATCH", "?eta"]),
            ScanPairs(&["HSCAN", "h", "0", "MATCH", "nothing"]),
            ScanPairs(&["HSCAN", "h", "+0"]),
            ScanPairs(&["HSCAN", "h", ""]),
            Exact(&["HSCAN", "h", "-1", "MATCH", "nothing"]),
            Exact(&["HSCAN", "h", "abc"]),
            Exact(&["HSCAN", "h", " 0"]),
            Exact(&["HSCAN", "h", "0 "]),
            Exact(&["HSCAN", "h", "-"]),
            Exact(&["HSCAN", "h", "18446744073709551616"]),
            Exact(&["HSCAN", "str", "abc"]),
            Exact(&["HSCAN", "h", "0", "COUNT", "0"]),
            Exact(&["HSCAN", "h", "0", "COUNT", "-1"]),
            Exact(&["HSCAN", "h", "0", "COUNT", "x"]),
            Exact(&["HSCAN", "h", "0", "COUNT"]),
            Exact(&["HSCAN", "h", "0", "MATCH"]),
            Exact(&["HSCAN", "h", "0", "TYPE", "hash"]),
            Exact(&["HSCAN", "h", "0", "NOVALUES"]),
            Exact(&["HSCAN", "h", "0", "MATCH", "*", "COUNT", "x"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn hrandfield_deterministic_cases_match_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["HRANDFIELD", "nokey"]),
            Exact(&["HRANDFIELD", "nokey", "5"]),
            Exact(&["HRANDFIELD", "nokey", "-5", "WITHVALUES"]),
            Exact(&["HSET", "one", "f", "v"]),
            Exact(&["HRANDFIELD", "one"]),
            Exact(&["HRANDFIELD", "one", "1"]),
            Exact(&["HRANDFIELD", "one", "3"]),
            Exact(&["HRANDFIELD", "one", "-3"]),
            Exact(&["HRANDFIELD", "one", "0"]),
            Exact(&["HRANDFIELD", "one", "0", "WITHVALUES"]),
            Exact(&["HRANDFIELD", "one", "2", "withvalues"]),
            Exact(&["HRANDFIELD", "one", "-3", "WITHVALUES"]),
            Exact(&["HSET", "h", "a", "1", "b", "2", "c", "3"]),
            Unordered(&["HRANDFIELD", "h", "3"]),
            Unordered(&["HRANDFIELD", "h", "100"]),
            Exact(&["HRANDFIELD", "h", "x"]),
            Exact(&["HRANDFIELD", "h", "1.5"]),
            Exact(&["HRANDFIELD", "h", "1", "WITHVALUE"]),
            Exact(&["HRANDFIELD", "h", "1", "WITHVALUES", "x"]),
            Exact(&["HRANDFIELD", "h", "x", "WITHVALUES", "x"]),
            Exact(&["HRANDFIELD", "h", "-9223372036854775808"]),
            Exact(&["HRANDFIELD", "h", "9223372036854775807", "WITHVALUES"]),
            Exact(&["HRANDFIELD", "h", "-4611686018427387904", "WITHVALUES"]),
            Exact(&["HRANDFIELD", "nokey", "4611686018427387904", "WITHVALUES"]),
            Exact(&["SET", "str", "x"]),
            Exact(&["HRANDFIELD", "str", "x"]),
            Exact(&["HRANDFIELD", "str", "0"]),
        ])
        .assert_same_as_redis();
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
