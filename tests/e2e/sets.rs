//! End-to-end: the set family against redis-server 7, in RESP2 and RESP3,
//! with 1 and 3 shards ({tags} keep multi-key commands on one shard).

use crate::common;

use common::{bulks, Server, Step::*, Transcript};

#[test]
fn add_remove_and_membership_match_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SADD", "s", "a", "b", "c", "a"]),
            Exact(&["SADD", "s", "a", "d"]),
            Exact(&["SADD", "s", "a"]),
            Exact(&["SADD", "ints", "3", "1", "2", "-5", "1"]),
            Unordered(&["SMEMBERS", "s"]),
            Unordered(&["SMEMBERS", "ints"]),
            Exact(&["SMEMBERS", "nokey"]),
            Exact(&["SCARD", "s"]),
            Exact(&["SCARD", "nokey"]),
            Exact(&["SISMEMBER", "s", "a"]),
            Exact(&["SISMEMBER", "s", "z"]),
            Exact(&["SISMEMBER", "nokey", "a"]),
            Exact(&["SMISMEMBER", "s", "a", "z", "b", "a"]),
            Exact(&["SMISMEMBER", "nokey", "a", "b"]),
            Exact(&["SREM", "s", "z"]),
            Exact(&["SREM", "nokey", "a"]),
            Exact(&["SREM", "s", "a", "a", "b", "z"]),
            Exact(&["SCARD", "s"]),
            Exact(&["SREM", "s", "c", "d"]),
            Exact(&["EXISTS", "s"]),
            Exact(&["SADD", "bin", "", "a\r\nb", "\u{0}"]),
            Exact(&["SISMEMBER", "bin", ""]),
            Exact(&["SMISMEMBER", "bin", "a\r\nb", "\u{0}", "x"]),
            Unordered(&["SMEMBERS", "bin"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn errors_match_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SET", "str", "x"]),
            Exact(&["SADD", "str", "a"]),
            Exact(&["SREM", "str", "a"]),
            Exact(&["SMEMBERS", "str"]),
            Exact(&["SISMEMBER", "str", "a"]),
            Exact(&["SMISMEMBER", "str", "a"]),
            Exact(&["SCARD", "str"]),
            Exact(&["SPOP", "str"]),
            Exact(&["SPOP", "str", "1"]),
            Exact(&["SRANDMEMBER", "str"]),
            Exact(&["SRANDMEMBER", "str", "1"]),
            Exact(&["SSCAN", "str", "0"]),
            Exact(&["SADD", "s"]),
            Exact(&["SREM", "s"]),
            Exact(&["SMEMBERS"]),
            Exact(&["SMEMBERS", "s", "t"]),
            Exact(&["SISMEMBER", "s"]),
            Exact(&["SMISMEMBER", "s"]),
            Exact(&["SCARD"]),
            Exact(&["SPOP"]),
            Exact(&["SRANDMEMBER"]),
            Exact(&["SINTER"]),
            Exact(&["SUNIONSTORE", "d"]),
            Exact(&["SINTERCARD", "1"]),
            Exact(&["SMOVE", "a", "b"]),
            Exact(&["SSCAN", "s"]),
            Exact(&["EXISTS", "s"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn spop_and_srandmember_deterministic_cases_match_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SPOP", "nokey"]),
            Exact(&["SPOP", "nokey", "3"]),
            Exact(&["SPOP", "nokey", "0"]),
            Exact(&["SRANDMEMBER", "nokey"]),
            Exact(&["SRANDMEMBER", "nokey", "3"]),
            Exact(&["SRANDMEMBER", "nokey", "-3"]),
            Exact(&["SADD", "one", "m"]),
            Exact(&["SRANDMEMBER", "one"]),
            Exact(&["SRANDMEMBER", "one", "1"]),
            Exact(&["SRANDMEMBER", "one", "5"]),
            Exact(&["SRANDMEMBER", "one", "-4"]),
            Exact(&["SRANDMEMBER", "one", "0"]),
            Exact(&["SPOP", "one", "0"]),
            Exact(&["SPOP", "one"]),
            Exact(&["EXISTS", "one"]),
            Exact(&["SADD", "s", "a", "b", "c"]),
            Unordered(&["SRANDMEMBER", "s", "3"]),
            Unordered(&["SRANDMEMBER", "s", "10"]),
            Exact(&["SRANDMEMBER", "s", "x"]),
            Exact(&["SRANDMEMBER", "s", "1", "2"]),
            Exact(&["SRANDMEMBER", "s", "-9223372036854775808"]),
            Exact(&["SRANDMEMBER", "nokey", "-9223372036854775808"]),
            Exact(&["SPOP", "s", "-1"]),
            Exact(&["SPOP", "s", "x"]),
            Exact(&["SPOP", "s", "1", "2"]),
            Exact(&["SPOP", "str", "x"]),
            Unordered(&["SPOP", "s", "3"]),
            Exact(&["EXISTS", "s"]),
            Exact(&["SADD", "s", "a", "b", "c"]),
            Unordered(&["SPOP", "s", "9223372036854775807"]),
            Exact(&["EXISTS", "s"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn set_algebra_matches_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SADD", "{t}a", "1", "2", "3", "4", "x"]),
            Exact(&["SADD", "{t}b", "2", "3", "y"]),
            Exact(&["SADD", "{t}c", "3", "4", "y", "z"]),
            Exact(&["SET", "{t}str", "v"]),
            Unordered(&["SINTER", "{t}a"]),
            Unordered(&["SINTER", "{t}a", "{t}b"]),
            Unordered(&["SINTER", "{t}a", "{t}b", "{t}c"]),
            Unordered(&["SINTER", "{t}a", "{t}a"]),
            Exact(&["SINTER", "{t}a", "{t}none"]),
            Exact(&["SINTER", "{t}none", "{t}str"]),
            Exact(&["SINTER", "{t}a", "{t}str"]),
            Unordered(&["SUNION", "{t}a", "{t}b", "{t}c"]),
            Unordered(&["SUNION", "{t}none", "{t}b"]),
            Exact(&["SUNION", "{t}none"]),
            Exact(&["SUNION", "{t}none", "{t}str"]),
            Unordered(&["SDIFF", "{t}a", "{t}b"]),
            Unordered(&["SDIFF", "{t}a", "{t}b", "{t}c"]),
            Unordered(&["SDIFF", "{t}a", "{t}none"]),
            Exact(&["SDIFF", "{t}a", "{t}a"]),
            Exact(&["SDIFF", "{t}none", "{t}a"]),
            Exact(&["SDIFF", "{t}none", "{t}str"]),
            Exact(&["SDIFF", "{t}a", "{t}str"]),
            // STORE variants replace the destination whatever its type.
            Exact(&["SINTERSTORE", "{t}d", "{t}a", "{t}b"]),
            Unordered(&["SMEMBERS", "{t}d"]),
            Exact(&["SUNIONSTORE", "{t}str2", "{t}a", "{t}c"]),
            Exact(&["SET", "{t}str2", "v"]),
            Exact(&["SUNIONSTORE", "{t}str2", "{t}a", "{t}c"]),
            Unordered(&["SMEMBERS", "{t}str2"]),
            Exact(&["SDIFFSTORE", "{t}d", "{t}a", "{t}b", "{t}c"]),
            Unordered(&["SMEMBERS", "{t}d"]),
            Exact(&["SDIFFSTORE", "{t}a2", "{t}a"]),
            Unordered(&["SMEMBERS", "{t}a2"]),
            Exact(&["SINTERSTORE", "{t}a2", "{t}a2", "{t}b"]),
            Unordered(&["SMEMBERS", "{t}a2"]),
            // An empty result deletes the destination.
            Exact(&["SINTERSTORE", "{t}d", "{t}a", "{t}none"]),
            Exact(&["EXISTS", "{t}d"]),
            Exact(&["SET", "{t}d", "v"]),
            Exact(&["SDIFFSTORE", "{t}d", "{t}a", "{t}a"]),
            Exact(&["EXISTS", "{t}d"]),
            Exact(&["SUNIONSTORE", "{t}d", "{t}none"]),
            Exact(&["SINTERSTORE", "{t}d", "{t}a", "{t}str"]),
            Exact(&["SUNIONSTORE", "{t}d", "{t}str"]),
            Exact(&["SDIFFSTORE", "{t}d", "{t}none", "{t}str"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn sintercard_matches_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SADD", "{t}a", "1", "2", "3", "4"]),
            Exact(&["SADD", "{t}b", "2", "3", "4", "5"]),
            Exact(&["SET", "{t}str", "v"]),
            Exact(&["SINTERCARD", "1", "{t}a"]),
            Exact(&["SINTERCARD", "2", "{t}a", "{t}b"]),
            Exact(&["SINTERCARD", "2", "{t}a", "{t}b", "LIMIT", "0"]),
            Exact(&["SINTERCARD", "2", "{t}a", "{t}b", "LIMIT", "2"]),
            Exact(&["SINTERCARD", "2", "{t}a", "{t}b", "limit", "10"]),
            Exact(&[
                "SINTERCARD",
                "2",
                "{t}a",
                "{t}b",
                "LIMIT",
                "1",
                "LIMIT",
                "0",
            ]),
            Exact(&["SINTERCARD", "2", "{t}a", "{t}none"]),
            Exact(&["SINTERCARD", "2", "{t}none", "{t}str"]),
            Exact(&["SINTERCARD", "2", "{t}a", "{t}str", "LIMIT", "1"]),
            Exact(&["SINTERCARD", "0", "{t}a"]),
            Exact(&["SINTERCARD", "-1", "{t}a"]),
            Exact(&["SINTERCARD", "x", "{t}a"]),
            Exact(&["SINTERCARD", "3", "{t}a", "{t}b"]),
            Exact(&["SINTERCARD", "1", "{t}a", "LIMIT"]),
            Exact(&["SINTERCARD", "1", "{t}a", "LIMIT", "-1"]),
            Exact(&["SINTERCARD", "1", "{t}a", "LIMIT", "x"]),
            Exact(&["SINTERCARD", "1", "{t}a", "LIMT", "1"]),
            Exact(&["SINTERCARD", "1", "{t}a", "{t}b"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn smove_matches_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SADD", "{t}src", "a", "b"]),
            Exact(&["SADD", "{t}dst", "c"]),
            Exact(&["SET", "{t}str", "v"]),
            Exact(&["SMOVE", "{t}src", "{t}dst", "a"]),
            Exact(&["SMOVE", "{t}src", "{t}dst", "a"]),
            Exact(&["SMISMEMBER", "{t}dst", "a", "c"]),
            Exact(&["SMOVE", "{t}none", "{t}str", "a"]),
            Exact(&["SMOVE", "{t}src", "{t}str", "zz"]),
            Exact(&["SMOVE", "{t}str", "{t}dst", "a"]),
            Exact(&["SMOVE", "{t}src", "{t}src", "b"]),
            Exact(&["SMOVE", "{t}src", "{t}src", "zz"]),
            Exact(&["SMOVE", "{t}src", "{t}new", "b"]),
            Exact(&["EXISTS", "{t}src"]),
            Exact(&["SMEMBERS", "{t}new"]),
            Exact(&["SMOVE", "{t}new", "{t}dst", "b"]),
            Exact(&["EXISTS", "{t}new"]),
            Exact(&["SCARD", "{t}dst"]),
            Exact(&["SMOVE", "{t}dst", "{t}dst2", "c"]),
            Exact(&["SMOVE", "{t}dst2", "{t}dst", "c"]),
            Exact(&["SCARD", "{t}dst"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn sscan_matches_redis() {
    Transcript::new()
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SSCAN", "nokey", "0"]),
            Exact(&["SSCAN", "nokey", "0", "COUNT", "0", "bogus"]),
            Exact(&["SSCAN", "nokey", "x"]),
            Exact(&["SADD", "s", "alpha", "beta", "gamma", "", "a*b"]),
            Exact(&["SADD", "ints", "1", "22", "333"]),
            Scan(&["SSCAN", "s", "0"]),
            Scan(&["SSCAN", "ints", "0"]),
            Scan(&["SSCAN", "ints", "0", "MATCH", "2*"]),
            Scan(&["SSCAN", "ints", "0", "COUNT", "1"]),
            Scan(&["SSCAN", "s", "0", "MATCH", "*a"]),
            Scan(&["SSCAN", "s", "0", "MATCH", "a\\*b"]),
            Scan(&["SSCAN", "s", "0", "MATCH", "[bg]*", "COUNT", "100"]),
            Scan(&["SSCAN", "s", "0", "MATCH", "*"]),
            Scan(&["SSCAN", "s", "00"]),
            Exact(&["SSCAN", "s", "0", "MATCH", "none"]),
            Exact(&["SSCAN", "s", "1.5"]),
            Exact(&["SSCAN", "s", "0", "COUNT", "0"]),
            Exact(&["SSCAN", "s", "0", "COUNT", "x"]),
            Exact(&["SSCAN", "s", "0", "MATCH"]),
            Exact(&["SSCAN", "s", "0", "TYPE", "set"]),
            Exact(&["SSCAN", "s", "0", "bogus", "1"]),
        ])
        .assert_same_as_redis();
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
    Transcript::new()
        .shards(&[1])
        .resp(&[3])
        .steps(&[
            Exact(&["SADD", "{t}s", "m"]),
            Exact(&["SMEMBERS", "{t}s"]),
            Exact(&["SINTER", "{t}s", "{t}s"]),
            Exact(&["SUNION", "{t}s", "{t}none"]),
            Exact(&["SDIFF", "{t}s", "{t}none"]),
            Exact(&["SSCAN", "{t}s", "0"]),
            Exact(&["SRANDMEMBER", "{t}s", "2"]),
            Exact(&["SPOP", "{t}s", "2"]),
            Exact(&["SPOP", "{t}s"]),
        ])
        .assert_same_as_redis();
}
