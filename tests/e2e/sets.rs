//! End-to-end: the set family against redis-server 7, in RESP2 and RESP3,
//! with 1 and 3 shards ({tags} keep multi-key commands on one shard).

use crate::common;
use crate::hashsets_support;

use common::Server;
use hashsets_support::{bulks, same_as_redis, same_as_redis_everywhere, Check::*};

#[test]
fn add_remove_and_membership_match_redis() {
    same_as_redis_everywhere(&[
        Same(&["SADD", "s", "a", "b", "c", "a"]),
        Same(&["SADD", "s", "a", "d"]),
        Same(&["SADD", "s", "a"]),
        Same(&["SADD", "ints", "3", "1", "2", "-5", "1"]),
        Bag(&["SMEMBERS", "s"]),
        Bag(&["SMEMBERS", "ints"]),
        Same(&["SMEMBERS", "nokey"]),
        Same(&["SCARD", "s"]),
        Same(&["SCARD", "nokey"]),
        Same(&["SISMEMBER", "s", "a"]),
        Same(&["SISMEMBER", "s", "z"]),
        Same(&["SISMEMBER", "nokey", "a"]),
        Same(&["SMISMEMBER", "s", "a", "z", "b", "a"]),
        Same(&["SMISMEMBER", "nokey", "a", "b"]),
        Same(&["SREM", "s", "z"]),
        Same(&["SREM", "nokey", "a"]),
        Same(&["SREM", "s", "a", "a", "b", "z"]),
        Same(&["SCARD", "s"]),
        Same(&["SREM", "s", "c", "d"]),
        Same(&["EXISTS", "s"]),
        Same(&["SADD", "bin", "", "a\r\nb", "\u{0}"]),
        Same(&["SISMEMBER", "bin", ""]),
        Same(&["SMISMEMBER", "bin", "a\r\nb", "\u{0}", "x"]),
        Bag(&["SMEMBERS", "bin"]),
    ]);
}

#[test]
fn errors_match_redis() {
    same_as_redis_everywhere(&[
        Same(&["SET", "str", "x"]),
        Same(&["SADD", "str", "a"]),
        Same(&["SREM", "str", "a"]),
        Same(&["SMEMBERS", "str"]),
        Same(&["SISMEMBER", "str", "a"]),
        Same(&["SMISMEMBER", "str", "a"]),
        Same(&["SCARD", "str"]),
        Same(&["SPOP", "str"]),
        Same(&["SPOP", "str", "1"]),
        Same(&["SRANDMEMBER", "str"]),
        Same(&["SRANDMEMBER", "str", "1"]),
        Same(&["SSCAN", "str", "0"]),
        Same(&["SADD", "s"]),
        Same(&["SREM", "s"]),
        Same(&["SMEMBERS"]),
        Same(&["SMEMBERS", "s", "t"]),
        Same(&["SISMEMBER", "s"]),
        Same(&["SMISMEMBER", "s"]),
        Same(&["SCARD"]),
        Same(&["SPOP"]),
        Same(&["SRANDMEMBER"]),
        Same(&["SINTER"]),
        Same(&["SUNIONSTORE", "d"]),
        Same(&["SINTERCARD", "1"]),
        Same(&["SMOVE", "a", "b"]),
        Same(&["SSCAN", "s"]),
        Same(&["EXISTS", "s"]),
    ]);
}

#[test]
fn spop_and_srandmember_deterministic_cases_match_redis() {
    same_as_redis_everywhere(&[
        Same(&["SPOP", "nokey"]),
        Same(&["SPOP", "nokey", "3"]),
        Same(&["SPOP", "nokey", "0"]),
        Same(&["SRANDMEMBER", "nokey"]),
        Same(&["SRANDMEMBER", "nokey", "3"]),
        Same(&["SRANDMEMBER", "nokey", "-3"]),
        Same(&["SADD", "one", "m"]),
        Same(&["SRANDMEMBER", "one"]),
        Same(&["SRANDMEMBER", "one", "1"]),
        Same(&["SRANDMEMBER", "one", "5"]),
        Same(&["SRANDMEMBER", "one", "-4"]),
        Same(&["SRANDMEMBER", "one", "0"]),
        Same(&["SPOP", "one", "0"]),
        Same(&["SPOP", "one"]),
        Same(&["EXISTS", "one"]),
        Same(&["SADD", "s", "a", "b", "c"]),
        Bag(&["SRANDMEMBER", "s", "3"]),
        Bag(&["SRANDMEMBER", "s", "10"]),
        Same(&["SRANDMEMBER", "s", "x"]),
        Same(&["SRANDMEMBER", "s", "1", "2"]),
        Same(&["SRANDMEMBER", "s", "-9223372036854775808"]),
        Same(&["SRANDMEMBER", "nokey", "-9223372036854775808"]),
        Same(&["SPOP", "s", "-1"]),
        Same(&["SPOP", "s", "x"]),
        Same(&["SPOP", "s", "1", "2"]),
        Same(&["SPOP", "str", "x"]),
        Bag(&["SPOP", "s", "3"]),
        Same(&["EXISTS", "s"]),
        Same(&["SADD", "s", "a", "b", "c"]),
        Bag(&["SPOP", "s", "9223372036854775807"]),
        Same(&["EXISTS", "s"]),
    ]);
}

#[test]
fn set_algebra_matches_redis() {
    same_as_redis_everywhere(&[
        Same(&["SADD", "{t}a", "1", "2", "3", "4", "x"]),
        Same(&["SADD", "{t}b", "2", "3", "y"]),
        Same(&["SADD", "{t}c", "3", "4", "y", "z"]),
        Same(&["SET", "{t}str", "v"]),
        Bag(&["SINTER", "{t}a"]),
        Bag(&["SINTER", "{t}a", "{t}b"]),
        Bag(&["SINTER", "{t}a", "{t}b", "{t}c"]),
        Bag(&["SINTER", "{t}a", "{t}a"]),
        Same(&["SINTER", "{t}a", "{t}none"]),
        Same(&["SINTER", "{t}none", "{t}str"]),
        Same(&["SINTER", "{t}a", "{t}str"]),
        Bag(&["SUNION", "{t}a", "{t}b", "{t}c"]),
        Bag(&["SUNION", "{t}none", "{t}b"]),
        Same(&["SUNION", "{t}none"]),
        Same(&["SUNION", "{t}none", "{t}str"]),
        Bag(&["SDIFF", "{t}a", "{t}b"]),
        Bag(&["SDIFF", "{t}a", "{t}b", "{t}c"]),
        Bag(&["SDIFF", "{t}a", "{t}none"]),
        Same(&["SDIFF", "{t}a", "{t}a"]),
        Same(&["SDIFF", "{t}none", "{t}a"]),
        Same(&["SDIFF", "{t}none", "{t}str"]),
        Same(&["SDIFF", "{t}a", "{t}str"]),
        // STORE variants replace the destination whatever its type.
        Same(&["SINTERSTORE", "{t}d", "{t}a", "{t}b"]),
        Bag(&["SMEMBERS", "{t}d"]),
        Same(&["SUNIONSTORE", "{t}str2", "{t}a", "{t}c"]),
        Same(&["SET", "{t}str2", "v"]),
        Same(&["SUNIONSTORE", "{t}str2", "{t}a", "{t}c"]),
        Bag(&["SMEMBERS", "{t}str2"]),
        Same(&["SDIFFSTORE", "{t}d", "{t}a", "{t}b", "{t}c"]),
        Bag(&["SMEMBERS", "{t}d"]),
        Same(&["SDIFFSTORE", "{t}a2", "{t}a"]),
        Bag(&["SMEMBERS", "{t}a2"]),
        Same(&["SINTERSTORE", "{t}a2", "{t}a2", "{t}b"]),
        Bag(&["SMEMBERS", "{t}a2"]),
        // An empty result deletes the destination.
        Same(&["SINTERSTORE", "{t}d", "{t}a", "{t}none"]),
        Same(&["EXISTS", "{t}d"]),
        Same(&["SET", "{t}d", "v"]),
        Same(&["SDIFFSTORE", "{t}d", "{t}a", "{t}a"]),
        Same(&["EXISTS", "{t}d"]),
        Same(&["SUNIONSTORE", "{t}d", "{t}none"]),
        Same(&["SINTERSTORE", "{t}d", "{t}a", "{t}str"]),
        Same(&["SUNIONSTORE", "{t}d", "{t}str"]),
        Same(&["SDIFFSTORE", "{t}d", "{t}none", "{t}str"]),
    ]);
}

#[test]
fn sintercard_matches_redis() {
    same_as_redis_everywhere(&[
        Same(&["SADD", "{t}a", "1", "2", "3", "4"]),
        Same(&["SADD", "{t}b", "2", "3", "4", "5"]),
        Same(&["SET", "{t}str", "v"]),
        Same(&["SINTERCARD", "1", "{t}a"]),
        Same(&["SINTERCARD", "2", "{t}a", "{t}b"]),
        Same(&["SINTERCARD", "2", "{t}a", "{t}b", "LIMIT", "0"]),
        Same(&["SINTERCARD", "2", "{t}a", "{t}b", "LIMIT", "2"]),
        Same(&["SINTERCARD", "2", "{t}a", "{t}b", "limit", "10"]),
        Same(&[
            "SINTERCARD",
            "2",
            "{t}a",
            "{t}b",
            "LIMIT",
            "1",
            "LIMIT",
            "0",
        ]),
        Same(&["SINTERCARD", "2", "{t}a", "{t}none"]),
        Same(&["SINTERCARD", "2", "{t}none", "{t}str"]),
        Same(&["SINTERCARD", "2", "{t}a", "{t}str", "LIMIT", "1"]),
        Same(&["SINTERCARD", "0", "{t}a"]),
        Same(&["SINTERCARD", "-1", "{t}a"]),
        Same(&["SINTERCARD", "x", "{t}a"]),
        Same(&["SINTERCARD", "3", "{t}a", "{t}b"]),
        Same(&["SINTERCARD", "1", "{t}a", "LIMIT"]),
        Same(&["SINTERCARD", "1", "{t}a", "LIMIT", "-1"]),
        Same(&["SINTERCARD", "1", "{t}a", "LIMIT", "x"]),
        Same(&["SINTERCARD", "1", "{t}a", "LIMT", "1"]),
        Same(&["SINTERCARD", "1", "{t}a", "{t}b"]),
    ]);
}

#[test]
fn smove_matches_redis() {
    same_as_redis_everywhere(&[
        Same(&["SADD", "{t}src", "a", "b"]),
        Same(&["SADD", "{t}dst", "c"]),
        Same(&["SET", "{t}str", "v"]),
        Same(&["SMOVE", "{t}src", "{t}dst", "a"]),
        Same(&["SMOVE", "{t}src", "{t}dst", "a"]),
        Same(&["SMISMEMBER", "{t}dst", "a", "c"]),
        Same(&["SMOVE", "{t}none", "{t}str", "a"]),
        Same(&["SMOVE", "{t}src", "{t}str", "zz"]),
        Same(&["SMOVE", "{t}str", "{t}dst", "a"]),
        Same(&["SMOVE", "{t}src", "{t}src", "b"]),
        Same(&["SMOVE", "{t}src", "{t}src", "zz"]),
        Same(&["SMOVE", "{t}src", "{t}new", "b"]),
        Same(&["EXISTS", "{t}src"]),
        Same(&["SMEMBERS", "{t}new"]),
        Same(&["SMOVE", "{t}new", "{t}dst", "b"]),
        Same(&["EXISTS", "{t}new"]),
        Same(&["SCARD", "{t}dst"]),
        Same(&["SMOVE", "{t}dst", "{t}dst2", "c"]),
        Same(&["SMOVE", "{t}dst2", "{t}dst", "c"]),
        Same(&["SCARD", "{t}dst"]),
    ]);
}

#[test]
fn sscan_matches_redis() {
    same_as_redis_everywhere(&[
        Same(&["SSCAN", "nokey", "0"]),
        Same(&["SSCAN", "nokey", "0", "COUNT", "0", "bogus"]),
        Same(&["SSCAN", "nokey", "x"]),
        Same(&["SADD", "s", "alpha", "beta", "gamma", "", "a*b"]),
        Same(&["SADD", "ints", "1", "22", "333"]),
        Scan(&["SSCAN", "s", "0"], false),
        Scan(&["SSCAN", "ints", "0"], false),
        Scan(&["SSCAN", "ints", "0", "MATCH", "2*"], false),
        Scan(&["SSCAN", "ints", "0", "COUNT", "1"], false),
        Scan(&["SSCAN", "s", "0", "MATCH", "*a"], false),
        Scan(&["SSCAN", "s", "0", "MATCH", "a\\*b"], false),
        Scan(
            &["SSCAN", "s", "0", "MATCH", "[bg]*", "COUNT", "100"],
            false,
        ),
        Scan(&["SSCAN", "s", "0", "MATCH", "*"], false),
        Scan(&["SSCAN", "s", "00"], false),
        Same(&["SSCAN", "s", "0", "MATCH", "none"]),
        Same(&["SSCAN", "s", "1.5"]),
        Same(&["SSCAN", "s", "0", "COUNT", "0"]),
        Same(&["SSCAN", "s", "0", "COUNT", "x"]),
        Same(&["SSCAN", "s", "0", "MATCH"]),
        Same(&["SSCAN", "s", "0", "TYPE", "set"]),
        Same(&["SSCAN", "s", "0", "bogus", "1"]),
    ]);
}

/// Multi-key commands need all their keys on one shard; across shards they
/// fail with CROSSSLOT (Redis Cluster's answer), where one shard is like
/// standalone Redis.
#[test]
fn multi_key_commands_across_shards() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    // "a" and "b" hash to slots 15495 and 3300: different shards of 3.
    c.cmd(&["SADD", "a", "1"]);
    c.cmd(&["SADD", "b", "1"]);
    for args in [
        &["SINTER", "a", "b"][..],
        &["SUNION", "a", "b"],
        &["SDIFF", "a", "b"],
        &["SINTERSTORE", "a", "b"],
        &["SUNIONSTORE", "d", "a", "b"],
        &["SDIFFSTORE", "a", "a", "b"],
        &["SINTERCARD", "2", "a", "b"],
        &["SMOVE", "a", "b", "1"],
    ] {
        let reply = c.cmd(args);
        assert!(reply.starts_with("-CROSSSLOT "), "{args:?}: {reply}");
    }
    assert_eq!(
        c.cmd(&["SINTERCARD", "1", "a", "LIMIT", "b"]),
        "-ERR LIMIT can't be negative\r\n"
    );
    let one = Server::shardis(1, &[]);
    let mut c = one.client();
    c.cmd(&["SADD", "a", "1"]);
    c.cmd(&["SADD", "b", "1", "2"]);
    assert_eq!(c.cmd(&["SINTERCARD", "2", "a", "b"]), ":1\r\n");
    assert_eq!(c.cmd(&["SMOVE", "b", "a", "2"]), ":1\r\n");
}

/// Replies that depend on random choices: checked for their shape.
#[test]
fn random_replies() {
    for shards in [1, 3] {
        let s = Server::shardis(shards, &[]);
        let mut c = s.client();
        let members: Vec<String> = (0..40).map(|i| format!("m{i}")).collect();
        let mut sadd = vec!["SADD", "s"];
        sadd.extend(members.iter().map(String::as_str));
        assert_eq!(c.cmd(&sadd), ":40\r\n");

        let mut picked = bulks(&c.cmd(&["SRANDMEMBER", "s", "15"]));
        assert_eq!(picked.len(), 15);
        picked.sort();
        picked.dedup();
        assert_eq!(picked.len(), 15, "distinct members");
        assert!(picked.iter().all(|m| members.contains(m)));

        let repeated = bulks(&c.cmd(&["SRANDMEMBER", "s", "-100"]));
        assert_eq!(repeated.len(), 100);
        assert!(repeated.iter().all(|m| members.contains(m)));
        let mut distinct = repeated.clone();
        distinct.sort();
        distinct.dedup();
        assert!(distinct.len() > 10, "choices spread over the set");

        let huge = c.cmd(&["SRANDMEMBER", "s", "-9223372036854775807"]);
        assert!(huge.starts_with("-ERR value is out of range"), "{huge}");

        // SPOP removes what it returns.
        let popped = bulks(&c.cmd(&["SPOP", "s", "10"]));
        assert_eq!(popped.len(), 10);
        assert_eq!(c.cmd(&["SCARD", "s"]), ":30\r\n");
        for m in &popped {
            assert_eq!(c.cmd(&["SISMEMBER", "s", m]), ":0\r\n");
        }
        let one = c.cmd(&["SPOP", "s"]);
        assert!(one.starts_with('$'), "{one}");
        assert_eq!(c.cmd(&["SCARD", "s"]), ":29\r\n");
        let rest = bulks(&c.cmd(&["SPOP", "s", "1000"]));
        assert_eq!(rest.len(), 29);
        assert_eq!(c.cmd(&["EXISTS", "s"]), ":0\r\n");
        let mut all: Vec<String> = popped.into_iter().chain(rest).collect();
        all.push(one.split("\r\n").nth(1).unwrap().to_string());
        all.sort();
        let mut expected = members.clone();
        expected.sort();
        assert_eq!(all, expected, "every member popped exactly once");

        // RESP3: SPOP with a count is a set, SRANDMEMBER an array.
        c.cmd(&["SADD", "s", "a", "b", "c"]);
        c.cmd(&["HELLO", "3"]);
        assert!(c.cmd(&["SPOP", "s", "2"]).starts_with("~2\r\n"));
        assert!(c.cmd(&["SRANDMEMBER", "s", "-2"]).starts_with("*2\r\n"));
    }
}

#[test]
fn big_sets_stay_fast() {
    // Intersections walk the smallest set; a huge COUNT allocates nothing.
    let s = Server::shardis(1, &[]);
    let mut c = s.client();
    let mut batch = Vec::new();
    for chunk in 0..20 {
        let mut args: Vec<Vec<u8>> = vec![b"SADD".to_vec(), b"big".to_vec()];
        args.extend((0..1000).map(|i| format!("{}", chunk * 1000 + i).into_bytes()));
        let refs: Vec<&[u8]> = args.iter().map(Vec::as_slice).collect();
        batch.extend(common::encode(&refs));
    }
    c.send_raw(&batch);
    for _ in 0..20 {
        assert_eq!(c.read_reply(), ":1000\r\n");
    }
    c.cmd(&["SADD", "small", "5", "19999", "x"]);
    assert_eq!(c.cmd(&["SINTERCARD", "2", "big", "small"]), ":2\r\n");
    assert_eq!(c.cmd(&["SDIFFSTORE", "d", "small", "big"]), ":1\r\n");
    assert_eq!(c.cmd(&["SUNIONSTORE", "u", "big", "small"]), ":20001\r\n");
    assert_eq!(
        bulks(&c.cmd(&["SRANDMEMBER", "small", "4611686018427387903"])).len(),
        3
    );
    assert_eq!(
        bulks(&c.cmd(&["SPOP", "big", "4611686018427387903"])).len(),
        20000
    );
    let reply = c.cmd(&[
        "SSCAN",
        "u",
        "0",
        "MATCH",
        "1999?",
        "COUNT",
        "4611686018427387903",
    ]);
    assert!(reply.starts_with("*2\r\n$1\r\n0\r\n*10\r\n"), "{reply}");
}

#[test]
fn through_the_redis_crate() {
    use std::collections::HashSet;
    let s = Server::shardis(3, &[]);
    let mut con = s.redis_client();
    let added: i64 = redis::cmd("SADD")
        .arg("{u}tags")
        .arg(&["x", "y", "z"])
        .query(&mut con)
        .unwrap();
    assert_eq!(added, 3);
    redis::cmd("SADD")
        .arg("{u}other")
        .arg(&["y", "w"])
        .query::<i64>(&mut con)
        .unwrap();
    let members: HashSet<String> = redis::cmd("SMEMBERS")
        .arg("{u}tags")
        .query(&mut con)
        .unwrap();
    assert_eq!(
        members,
        ["x", "y", "z"].iter().map(|m| m.to_string()).collect()
    );
    let inter: Vec<String> = redis::cmd("SINTER")
        .arg("{u}tags")
        .arg("{u}other")
        .query(&mut con)
        .unwrap();
    assert_eq!(inter, vec!["y".to_string()]);
    let flags: Vec<bool> = redis::cmd("SMISMEMBER")
        .arg("{u}tags")
        .arg("x")
        .arg("w")
        .query(&mut con)
        .unwrap();
    assert_eq!(flags, vec![true, false]);
    let moved: bool = redis::cmd("SMOVE")
        .arg("{u}tags")
        .arg("{u}other")
        .arg("x")
        .query(&mut con)
        .unwrap();
    assert!(moved);
    let card: i64 = redis::cmd("SCARD").arg("{u}other").query(&mut con).unwrap();
    assert_eq!(card, 3);
    let err = redis::cmd("SINTER")
        .arg("{u}tags")
        .arg("elsewhere")
        .query::<Vec<String>>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string().to_uppercase().contains("CROSSSLOT"),
        "{err}"
    );
}

#[test]
fn resp3_set_replies_in_detail() {
    // A one-member set makes the bytes deterministic for every command.
    same_as_redis(
        1,
        true,
        &[
            Same(&["SADD", "{t}s", "m"]),
            Same(&["SMEMBERS", "{t}s"]),
            Same(&["SINTER", "{t}s", "{t}s"]),
            Same(&["SUNION", "{t}s", "{t}none"]),
            Same(&["SDIFF", "{t}s", "{t}none"]),
            Same(&["SSCAN", "{t}s", "0"]),
            Same(&["SRANDMEMBER", "{t}s", "2"]),
            Same(&["SPOP", "{t}s", "2"]),
            Same(&["SPOP", "{t}s"]),
        ],
    );
}
