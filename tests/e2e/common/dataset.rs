//! A dataset for comparing servers: [`fill`] gives a Redis-compatible
//! server every type in every encoding Redis uses (small and big
//! collections, TTLs, three databases, a function library), and
//! [`contents_of`] reads back everything a server holds with commands.

use std::collections::{BTreeMap, BTreeSet};

use redis::Connection;

use super::run;

/// A value in a form both sides can be compared in.
#[derive(Debug, Clone, PartialEq)]
pub enum Canon {
    Str(Vec<u8>),
    List(Vec<Vec<u8>>),
    Set(BTreeSet<Vec<u8>>),
    Hash(BTreeMap<Vec<u8>, Vec<u8>>),
    ZSet(Vec<(Vec<u8>, f64)>),
}

/// db -> key -> (value, expiry in Unix ms or 0).
pub type Contents = BTreeMap<u32, BTreeMap<Vec<u8>, (Canon, u64)>>;

/// Everything a Redis server holds in dbs 0..16, read with commands.
pub fn contents_of(con: &mut Connection) -> Contents {
    let mut out = Contents::new();
    for db in 0..16u32 {
        redis::cmd("SELECT").arg(db).exec(con).expect("SELECT");
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).expect("KEYS");
        for key in keys {
            let kind: String = redis::cmd("TYPE").arg(&key).query(con).expect("TYPE");
            let value = match kind.as_str() {
                "string" => Canon::Str(redis::cmd("GET").arg(&key).query(con).expect("GET")),
                "list" => Canon::List(
                    redis::cmd("LRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .query(con)
                        .expect("LRANGE"),
                ),
                "set" => Canon::Set(
                    redis::cmd("SMEMBERS")
                        .arg(&key)
                        .query(con)
                        .expect("SMEMBERS"),
                ),
                "hash" => Canon::Hash(redis::cmd("HGETALL").arg(&key).query(con).expect("HGETALL")),
                "zset" => {
                    let flat: Vec<(Vec<u8>, String)> = redis::cmd("ZRANGE")
                        .arg(&key)
                        .arg(0)
                        .arg(-1)
                        .arg("WITHSCORES")
                        .query(con)
                        .expect("ZRANGE");
                    Canon::ZSet(
                        flat.into_iter()
                            .map(|(m, s)| (m, parse_score(&s)))
                            .collect(),
                    )
                }
                other => panic!("unexpected type {other}"),
            };
            let pexpiretime: i64 = redis::cmd("PEXPIRETIME")
                .arg(&key)
                .query(con)
                .expect("PEXPIRETIME");
            out.entry(db)
                .or_default()
                .insert(key, (value, pexpiretime.max(0) as u64));
        }
    }
    out
}

fn parse_score(s: &str) -> f64 {
    match s {
        "inf" => f64::INFINITY,
        "-inf" => f64::NEG_INFINITY,
        _ => s.parse().expect("a score"),
    }
}

/// Fills dbs 0, 1 and 5 with every type in every encoding Redis 7.0
/// uses, with TTLs, and loads a function library; returns its code.
pub fn fill(con: &mut Connection) -> Vec<u8> {
    let long = "compressible ".repeat(100);
    for db in [0u32, 1, 5] {
        redis::cmd("SELECT").arg(db).exec(con).expect("SELECT");
        let p = |name: &str| format!("{name}{db}");
        let cmds: Vec<Vec<String>> = vec![
            vec!["SET".into(), p("str"), "hello".into()],
            vec!["SET".into(), p("int8"), "-100".into()],
            vec!["SET".into(), p("int16"), "30000".into()],
            vec!["SET".into(), p("int32"), "-2000000000".into()],
            vec!["SET".into(), p("int64"), "123456789012345".into()],
            vec!["SET".into(), p("lzf"), long.clone()],
            vec![
                "SET".into(),
                p("ttl"),
                "v".into(),
                "PX".into(),
                "100000".into(),
            ],
            vec!["SET".into(), p("empty"), "".into()],
        ];
        for args in cmds {
            let args: Vec<&[u8]> = args.iter().map(|a| a.as_bytes()).collect();
            run(con, &args);
        }
        // Small collections (compact encodings).
        run(
            con,
            &[b"RPUSH", p("list").as_bytes(), b"a", b"1", b"-5", b"", b"b"],
        );
        run(
            con,
            &[b"HSET", p("hash").as_bytes(), b"f", b"v", b"n", b"12"],
        );
        run(
            con,
            &[
                b"SADD",
                p("intset").as_bytes(),
                b"1",
                b"-2",
                b"70000",
                b"5000000000",
            ],
        );
        run(con, &[b"SADD", p("strset").as_bytes(), b"a", b"b", b"1"]);
        run(
            con,
            &[
                b"ZADD",
                p("zset").as_bytes(),
                b"1.5",
                b"a",
                b"-inf",
                b"b",
                b"3",
                b"c",
            ],
        );
        run(con, &[b"EXPIRE", p("hash").as_bytes(), b"5000"]);
        // Big collections (hashtable, skiplist, many quicklist nodes).
        for i in 0..300 {
            let i = i.to_string();
            let member = format!("member-{i}");
            run(con, &[b"RPUSH", p("biglist").as_bytes(), member.as_bytes()]);
            run(
                con,
                &[
                    b"HSET",
                    p("bighash").as_bytes(),
                    member.as_bytes(),
                    i.as_bytes(),
                ],
            );
            run(con, &[b"SADD", p("bigset").as_bytes(), member.as_bytes()]);
            run(con, &[b"SADD", p("bigintset").as_bytes(), i.as_bytes()]);
            run(
                con,
                &[
                    b"ZADD",
                    p("bigzset").as_bytes(),
                    i.as_bytes(),
                    member.as_bytes(),
                ],
            );
        }
        for i in 0..600 {
            run(
                con,
                &[
                    b"SADD",
                    p("hugeintset").as_bytes(),
                    i.to_string().as_bytes(),
                ],
            );
        }
        // A long value turns a small hash and zset into their big encodings.
        run(
            con,
            &[b"HSET", p("longhash").as_bytes(), b"f", long.as_bytes()],
        );
        run(
            con,
            &[b"ZADD", p("longzset").as_bytes(), b"2", long.as_bytes()],
        );
        run(
            con,
            &[b"RPUSH", p("longlist").as_bytes(), long.as_bytes(), b"x"],
        );
    }
    let code =
        b"#!lua name=rdblib\nredis.register_function('rdbf', function() return 7 end)".to_vec();
    run(con, &[b"FUNCTION", b"LOAD", &code]);
    code
}
