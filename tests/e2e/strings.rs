//! End-to-end: the string family against the real redis-server.

use crate::common;

use common::{Server, Step, Step::*, Transcript};

/// Every string command: options, edge cases and error texts. Multi-key
/// commands use one hash tag so they also run on a single shard of three.
const BASICS: &[Step] = &[
    // GET / SET and SET's option grammar.
    Exact(&["GET", "k"]),
    Exact(&["SET", "k", "v"]),
    Exact(&["GET", "k"]),
    Exact(&["SET", "k", ""]),
    Exact(&["GET", "k"]),
    Exact(&["SET", "k", "v", "XX"]),
    Exact(&["SET", "k", "w", "NX"]),
    Exact(&["GET", "k"]),
    Exact(&["SET", "nx1", "v", "nx"]),
    Exact(&["SET", "xx1", "v", "xx"]),
    Exact(&["GET", "xx1"]),
    Exact(&["SET", "k", "v2", "GET"]),
    Exact(&["SET", "new", "v", "GET"]),
    Exact(&["SET", "k", "v3", "NX", "GET"]),
    Exact(&["SET", "k", "v4", "XX", "GET"]),
    Exact(&["SET", "absent", "v", "XX", "GET"]),
    Exact(&["GET", "absent"]),
    Exact(&["SET", "k", "v", "EX", "100"]),
    Exact(&["GET", "k"]),
    Exact(&["SET", "k", "v", "PX", "100000", "GET"]),
    Exact(&["SET", "k", "v", "EXAT", "99999999999"]),
    Exact(&["SET", "k", "v", "PXAT", "99999999999999"]),
    Exact(&["SET", "k", "v", "KEEPTTL"]),
    Exact(&["SET", "k", "v", "ex", "10", "ex", "20"]),
    Exact(&["SET", "k", "v", "keepttl", "KEEPTTL", "nx", "NX"]),
    Exact(&["SET", "k", "v", "NX\0junk"]),
    Exact(&["SET", "k", "v", "NX", "XX"]),
    Exact(&["SET", "k", "v", "XX", "NX"]),
    Exact(&["SET", "k", "v", "EX", "10", "PX", "10"]),
    Exact(&["SET", "k", "v", "EX", "10", "KEEPTTL"]),
    Exact(&["SET", "k", "v", "KEEPTTL", "PXAT", "10"]),
    Exact(&["SET", "k", "v", "EXAT", "10", "PXAT", "10"]),
    Exact(&["SET", "k", "v", "PERSIST"]),
    Exact(&["SET", "k", "v", "EX"]),
    Exact(&["SET", "k", "v", "foo"]),
    Exact(&["SET", "k", "v", "NXX"]),
    Exact(&["SET", "k", "v", "EX", "abc"]),
    Exact(&["SET", "k", "v", "EX", "1.5"]),
    Exact(&["SET", "k", "v", "EX", "0"]),
    Exact(&["SET", "k", "v", "EX", "-1"]),
    Exact(&["SET", "k", "v", "PX", "0"]),
    Exact(&["SET", "k", "v", "EXAT", "0"]),
    Exact(&["SET", "k", "v", "PXAT", "-5"]),
    Exact(&["SET", "k", "v", "EX", "9223372036854775"]),
    Exact(&["SET", "k", "v", "EX", "9223372036854776"]),
    Exact(&["SET", "k", "v", "PX", "9223372036854775807"]),
    Exact(&["SET", "k", "v", "PX", "9223372036854775808"]),
    Exact(&["SET", "k", "v", "EXAT", "9223372036854775"]),
    Exact(&["SET", "k", "v", "PXAT", "9223372036854775807"]),
    Exact(&["GET", "k"]),
    // A deadline in the past: OK, and the key is gone.
    Exact(&["SET", "past", "v", "PXAT", "1"]),
    Exact(&["EXISTS", "past"]),
    Exact(&["SET", "past", "v"]),
    Exact(&["SET", "past", "w", "EXAT", "1", "GET"]),
    Exact(&["GET", "past"]),
    // Syntax errors come before the key is looked at, expiry errors before GET.
    Exact(&["SET", "k", "v", "EX", "0", "GET"]),
    Exact(&["SET", "k", "v", "GET", "EX"]),
    // SETNX / SETEX / PSETEX
    Exact(&["SETNX", "snx", "1"]),
    Exact(&["SETNX", "snx", "2"]),
    Exact(&["GET", "snx"]),
    Exact(&["SETEX", "sex", "100", "v"]),
    Exact(&["GET", "sex"]),
    Exact(&["SETEX", "sex", "0", "v"]),
    Exact(&["SETEX", "sex", "-3", "v"]),
    Exact(&["SETEX", "sex", "x", "v"]),
    Exact(&["SETEX", "sex", "9223372036854776", "v"]),
    Exact(&["PSETEX", "psex", "100000", "v"]),
    Exact(&["GET", "psex"]),
    Exact(&["PSETEX", "psex", "0", "v"]),
    Exact(&["PSETEX", "psex", "9223372036854775807", "v"]),
    Exact(&["SETEX", "sex", "1"]),
    Exact(&["PSETEX", "psex", "1", "v", "x"]),
    // GETSET / GETDEL
    Exact(&["GETSET", "gs", "a"]),
    Exact(&["GETSET", "gs", "b"]),
    Exact(&["GET", "gs"]),
    Exact(&["GETDEL", "gs"]),
    Exact(&["GETDEL", "gs"]),
    Exact(&["EXISTS", "gs"]),
    // GETEX
    Exact(&["SET", "gx", "v"]),
    Exact(&["GETEX", "gx"]),
    Exact(&["GETEX", "gx", "EX", "100"]),
    Exact(&["GETEX", "gx", "PX", "100000"]),
    Exact(&["GETEX", "gx", "EXAT", "99999999999"]),
    Exact(&["GETEX", "gx", "PXAT", "99999999999999"]),
    Exact(&["GETEX", "gx", "PERSIST"]),
    Exact(&["GETEX", "gx", "persist", "PERSIST"]),
    Exact(&["GETEX", "gx", "ex", "10", "EX", "20"]),
    Exact(&["GETEX", "gx", "EX", "0"]),
    Exact(&["GETEX", "gx", "PX", "-1"]),
    Exact(&["GETEX", "gx", "EX", "9223372036854775"]),
    Exact(&["GETEX", "gx", "EX", "x"]),
    Exact(&["GETEX", "gx", "EX"]),
    Exact(&["GETEX", "gx", "PERSIST", "EX", "10"]),
    Exact(&["GETEX", "gx", "EX", "10", "PERSIST"]),
    Exact(&["GETEX", "gx", "EX", "10", "PX", "10"]),
    Exact(&["GETEX", "gx", "KEEPTTL"]),
    Exact(&["GETEX", "gx", "NX"]),
    Exact(&["GETEX", "gx", "GET"]),
    Exact(&["GETEX", "nokey", "EX", "0"]),
    Exact(&["GETEX", "nokey", "EX", "x"]),
    Exact(&["GETEX", "nokey", "FOO"]),
    Exact(&["GETEX", "gx", "EXAT", "1"]),
    Exact(&["EXISTS", "gx"]),
    Exact(&["GETEX"]),
    // INCR family
    Exact(&["INCR", "n"]),
    Exact(&["INCR", "n"]),
    Exact(&["DECR", "n"]),
    Exact(&["DECR", "n2"]),
    Exact(&["INCRBY", "n", "100"]),
    Exact(&["INCRBY", "n", "-1000"]),
    Exact(&["DECRBY", "n", "-5"]),
    Exact(&["DECRBY", "n", "5"]),
    Exact(&["GET", "n"]),
    Exact(&["INCRBY", "n", "1.5"]),
    Exact(&["INCRBY", "n", "x"]),
    Exact(&["INCRBY", "n", "9223372036854775808"]),
    Exact(&["DECRBY", "n", "-9223372036854775808"]),
    Exact(&["INCRBY", "n", "-9223372036854775808"]),
    Exact(&["SET", "n", "9223372036854775807"]),
    Exact(&["INCR", "n"]),
    Exact(&["INCRBY", "n", "1"]),
    Exact(&["DECR", "n"]),
    Exact(&["SET", "n", "-9223372036854775808"]),
    Exact(&["DECR", "n"]),
    Exact(&["DECRBY", "n", "1"]),
    Exact(&["INCRBY", "n", "-1"]),
    Exact(&["GET", "n"]),
    Exact(&["SET", "n", "  1"]),
    Exact(&["INCR", "n"]),
    Exact(&["SET", "n", "01"]),
    Exact(&["INCR", "n"]),
    Exact(&["SET", "n", "+1"]),
    Exact(&["INCR", "n"]),
    Exact(&["SET", "n", "-0"]),
    Exact(&["DECR", "n"]),
    Exact(&["SET", "n", "1 "]),
    Exact(&["INCRBY", "n", "1"]),
    Exact(&["SET", "n", ""]),
    Exact(&["INCR", "n"]),
    Exact(&["SET", "n", "abc"]),
    Exact(&["DECR", "n"]),
    Exact(&["SET", "n", "0"]),
    Exact(&["DECR", "n"]),
    // INCRBYFLOAT, with values where double and long double agree.
    Exact(&["INCRBYFLOAT", "f", "10.5"]),
    Exact(&["INCRBYFLOAT", "f", "0.1"]),
    Exact(&["GET", "f"]),
    Exact(&["SET", "f", "3"]),
    Exact(&["INCRBYFLOAT", "f", "1.1"]),
    Exact(&["INCRBYFLOAT", "f", "-4.1"]),
    Exact(&["SET", "f", "5.0e3"]),
    Exact(&["INCRBYFLOAT", "f", "2.5e2"]),
    Exact(&["INCRBYFLOAT", "f", "-1.5E3"]),
    Exact(&["INCRBYFLOAT", "f", "+.5"]),
    Exact(&["INCRBYFLOAT", "f", "5."]),
    Exact(&["SET", "f", "-0.5"]),
    Exact(&["INCRBYFLOAT", "f", "0.5"]),
    Exact(&["SET", "f", "1"]),
    Exact(&["INCRBYFLOAT", "f", "inf"]),
    Exact(&["INCRBYFLOAT", "f", "-Infinity"]),
    Exact(&["INCRBYFLOAT", "f", "nan"]),
    Exact(&["INCRBYFLOAT", "f", "abc"]),
    Exact(&["INCRBYFLOAT", "f", ""]),
    Exact(&["INCRBYFLOAT", "f", " 1"]),
    Exact(&["INCRBYFLOAT", "f", "1 "]),
    Exact(&["INCRBYFLOAT", "f", "1.5.5"]),
    Exact(&["GET", "f"]),
    Exact(&["SET", "f", "abc"]),
    Exact(&["INCRBYFLOAT", "f", "1"]),
    Exact(&["SET", "f", "1\0"]),
    Exact(&["INCRBYFLOAT", "f", "1"]),
    Exact(&["SET", "f", ""]),
    Exact(&["INCRBYFLOAT", "f", "1"]),
    Exact(&["INCRBYFLOAT", "nof", "x"]),
    Exact(&["EXISTS", "nof"]),
    // APPEND / STRLEN
    Exact(&["STRLEN", "ap"]),
    Exact(&["APPEND", "ap", "Hello"]),
    Exact(&["APPEND", "ap", " World"]),
    Exact(&["APPEND", "ap", ""]),
    Exact(&["GET", "ap"]),
    Exact(&["STRLEN", "ap"]),
    Exact(&["APPEND", "ap2", ""]),
    Exact(&["EXISTS", "ap2"]),
    Exact(&["SET", "num", "12"]),
    Exact(&["APPEND", "num", "3"]),
    Exact(&["INCR", "num"]),
    // GETRANGE / SUBSTR
    Exact(&["GETRANGE", "ap", "0", "4"]),
    Exact(&["GETRANGE", "ap", "0", "-1"]),
    Exact(&["GETRANGE", "ap", "-5", "-1"]),
    Exact(&["GETRANGE", "ap", "-3", "-5"]),
    Exact(&["GETRANGE", "ap", "5", "3"]),
    Exact(&["GETRANGE", "ap", "-100", "-99"]),
    Exact(&["GETRANGE", "ap", "-100", "100"]),
    Exact(&["GETRANGE", "ap", "10", "100"]),
    Exact(&["GETRANGE", "ap", "11", "100"]),
    Exact(&["GETRANGE", "ap", "-1", "-1"]),
    Exact(&[
        "GETRANGE",
        "ap",
        "-9223372036854775808",
        "9223372036854775807",
    ]),
    Exact(&["GETRANGE", "ap", "a", "1"]),
    Exact(&["GETRANGE", "ap", "0", "9223372036854775808"]),
    Exact(&["GETRANGE", "nokey", "0", "-1"]),
    Exact(&["GETRANGE", "nokey", "x", "-1"]),
    Exact(&["SET", "empty", ""]),
    Exact(&["GETRANGE", "empty", "0", "-1"]),
    Exact(&["GETRANGE", "empty", "0", "0"]),
    Exact(&["SUBSTR", "ap", "0", "4"]),
    Exact(&["SUBSTR", "ap", "-5", "-1"]),
    Exact(&["SUBSTR", "ap", "0"]),
    // SETRANGE
    Exact(&["SETRANGE", "sr", "5", "x"]),
    Exact(&["GET", "sr"]),
    Exact(&["SETRANGE", "sr", "0", "abc"]),
    Exact(&["SETRANGE", "sr", "2", "ZZZZZZZZ"]),
    Exact(&["GET", "sr"]),
    Exact(&["SETRANGE", "sr", "100", ""]),
    Exact(&["STRLEN", "sr"]),
    Exact(&["SETRANGE", "sr2", "0", ""]),
    Exact(&["SETRANGE", "sr2", "10", ""]),
    Exact(&["EXISTS", "sr2"]),
    Exact(&["SETRANGE", "sr", "-1", "x"]),
    Exact(&["SETRANGE", "sr", "x", "x"]),
    Exact(&["SETRANGE", "sr", "536870912", "x"]),
    Exact(&["SETRANGE", "sr", "536870911", "xy"]),
    Exact(&["SETRANGE", "sr", "9223372036854775807", "x"]),
    Exact(&["SETRANGE", "sr3", "536870912", "x"]),
    Exact(&["SETRANGE", "sr3", "536870912", ""]),
    Exact(&["EXISTS", "sr3"]),
    Exact(&["SET", "num", "10"]),
    Exact(&["SETRANGE", "num", "1", "5"]),
    Exact(&["INCR", "num"]),
    // MGET / MSET / MSETNX on one hash tag.
    Exact(&["MSET", "{t}a", "1", "{t}b", "2"]),
    Exact(&["MGET", "{t}a", "{t}b", "{t}c", "{t}a"]),
    Exact(&["MSET", "{t}a", "1", "{t}b"]),
    Exact(&["MSETNX", "{t}c", "3", "{t}d", "4"]),
    Exact(&["MGET", "{t}c", "{t}d"]),
    Exact(&["MSETNX", "{t}e", "5", "{t}a", "x"]),
    Exact(&["MGET", "{t}e", "{t}a"]),
    Exact(&["MSETNX", "{t}e", "5", "{t}f"]),
    Exact(&["MSETNX", "{t}e", "5", "{t}e", "6"]),
    Exact(&["GET", "{t}e"]),
    Exact(&["MSETNX", "{t}e"]),
    Exact(&["MSET"]),
    Exact(&["MGET"]),
    // Arity.
    Exact(&["SET", "k"]),
    Exact(&["SETNX", "k", "v", "x"]),
    Exact(&["GETSET", "k"]),
    Exact(&["GETDEL", "k", "x"]),
    Exact(&["INCR", "k", "x"]),
    Exact(&["INCRBY", "k"]),
    Exact(&["INCRBYFLOAT", "k"]),
    Exact(&["APPEND", "k"]),
    Exact(&["STRLEN"]),
    Exact(&["GETRANGE", "k", "0"]),
    Exact(&["SETRANGE", "k", "0"]),
    Exact(&["DBSIZE"]),
];

/// Every command on a key of another type (a list).
const WRONG_TYPE: &[Step] = &[
    Exact(&["RPUSH", "list", "a"]),
    Exact(&["GET", "list"]),
    Exact(&["SET", "list", "v", "GET"]),
    Exact(&["SET", "list", "v", "NX", "GET"]),
    Exact(&["SET", "list", "v", "NX"]),
    Exact(&["SETNX", "list", "v"]),
    Exact(&["GETSET", "list", "v"]),
    Exact(&["GETDEL", "list"]),
    Exact(&["GETEX", "list"]),
    Exact(&["GETEX", "list", "EX", "0"]),
    Exact(&["INCR", "list"]),
    Exact(&["DECRBY", "list", "1"]),
    Exact(&["INCRBY", "list", "x"]),
    Exact(&["DECRBY", "list", "-9223372036854775808"]),
    Exact(&["INCRBYFLOAT", "list", "x"]),
    Exact(&["APPEND", "list", "x"]),
    Exact(&["STRLEN", "list"]),
    Exact(&["GETRANGE", "list", "0", "-1"]),
    Exact(&["GETRANGE", "list", "x", "-1"]),
    Exact(&["SETRANGE", "list", "0", "x"]),
    Exact(&["SETRANGE", "list", "0", ""]),
    Exact(&["SETRANGE", "list", "-1", ""]),
    Exact(&["MGET", "list", "k"]),
    Exact(&["LLEN", "list"]),
    Exact(&["SET", "list", "v"]),
    Exact(&["GET", "list"]),
];

#[test]
fn same_as_redis_one_shard() {
    Transcript::new()
        .shards(&[1])
        .steps(BASICS)
        .assert_same_as_redis();
}

#[test]
fn same_as_redis_three_shards() {
    Transcript::new()
        .shards(&[3])
        .steps(BASICS)
        .assert_same_as_redis();
}

#[test]
fn wrong_type_same_as_redis() {
    Transcript::new().steps(WRONG_TYPE).assert_same_as_redis();
}

#[test]
fn expiry_is_set_kept_and_cleared_like_redis() {
    // Each key gets a 100 ms expiry (or a long one) and then a command that
    // should keep, clear or replace it; after 150 ms GET tells which.
    let before: &[Step] = &[
        Exact(&["SET", "px", "v", "PX", "400"]),
        Exact(&["SET", "ex", "v", "EX", "100"]),
        Exact(&["SETEX", "setex", "100", "v"]),
        Exact(&["PSETEX", "psetex", "400", "v"]),
        Exact(&["SET", "keep", "v", "PX", "400"]),
        Exact(&["SET", "keep", "v2", "KEEPTTL"]),
        Exact(&["SET", "clear", "v", "PX", "400"]),
        Exact(&["SET", "clear", "v2"]),
        Exact(&["SET", "clearget", "v", "PX", "400"]),
        Exact(&["SET", "clearget", "v2", "GET"]),
        Exact(&["SET", "nxkeep", "v", "PX", "400"]),
        Exact(&["SET", "nxkeep", "v2", "NX"]),
        Exact(&["SET", "xxnew", "v", "PX", "400"]),
        Exact(&["SET", "xxnew", "v2", "XX", "EX", "100"]),
        Exact(&["SET", "incr", "1", "PX", "400"]),
        Exact(&["INCR", "incr"]),
        Exact(&["SET", "float", "1", "PX", "400"]),
        Exact(&["INCRBYFLOAT", "float", "1.5"]),
        Exact(&["SET", "append", "a", "PX", "400"]),
        Exact(&["APPEND", "append", "b"]),
        Exact(&["SET", "setrange", "a", "PX", "400"]),
        Exact(&["SETRANGE", "setrange", "3", "b"]),
        Exact(&["SET", "getset", "a", "PX", "400"]),
        Exact(&["GETSET", "getset", "b"]),
        Exact(&["SET", "persist", "a", "PX", "400"]),
        Exact(&["GETEX", "persist", "PERSIST"]),
        Exact(&["SET", "getex", "a"]),
        Exact(&["GETEX", "getex", "PX", "400"]),
        Exact(&["SET", "getexlong", "a", "PX", "400"]),
        Exact(&["GETEX", "getexlong", "EX", "100"]),
        Exact(&["SET", "getexplain", "a", "PX", "400"]),
        Exact(&["GETEX", "getexplain"]),
        Exact(&["MSET", "{m}a", "1", "{m}b", "2"]),
        Exact(&["SET", "{m}c", "v", "PX", "400"]),
        Exact(&["MSETNX", "{m}c", "x", "{m}d", "y"]),
        Exact(&["GET", "px"]),
    ];
    let after: &[Step] = &[
        Exact(&["GET", "px"]),
        Exact(&["GET", "ex"]),
        Exact(&["GET", "setex"]),
        Exact(&["GET", "psetex"]),
        Exact(&["GET", "keep"]),
        Exact(&["GET", "clear"]),
        Exact(&["GET", "clearget"]),
        Exact(&["GET", "nxkeep"]),
        Exact(&["GET", "xxnew"]),
        Exact(&["GET", "incr"]),
        Exact(&["GET", "float"]),
        Exact(&["GET", "append"]),
        Exact(&["GET", "setrange"]),
        Exact(&["GET", "getset"]),
        Exact(&["GET", "persist"]),
        Exact(&["GET", "getex"]),
        Exact(&["GET", "getexlong"]),
        Exact(&["GET", "getexplain"]),
        Exact(&["MGET", "{m}a", "{m}b", "{m}c", "{m}d"]),
        Exact(&["MSETNX", "{m}c", "x", "{m}d", "y"]),
        Exact(&["MGET", "{m}c", "{m}d"]),
        Exact(&["INCR", "incr"]),
        Exact(&["APPEND", "append", "x"]),
        Exact(&["SETNX", "px", "new"]),
        Exact(&["GET", "px"]),
        Exact(&["DBSIZE"]),
    ];
    Transcript::new()
        .steps(before)
        .sleep_ms(700)
        .steps(after)
        .assert_same_as_redis();
}

#[test]
fn msetnx_needs_one_slot() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    let crossslot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    // "a", "b" and "c" live on different shards of three.
    assert_eq!(c.cmd(&["MSETNX", "a", "1", "b", "2", "c", "3"]), crossslot);
    assert_eq!(
        c.cmd(&["MGET", "a", "b", "c"]),
        "*3\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
    assert_eq!(
        c.cmd(&["MSETNX", "{x}a", "1", "{x}b", "2", "{x}c", "3"]),
        ":1\r\n"
    );
    assert_eq!(c.cmd(&["MSETNX", "{x}a", "1", "{x}z", "2"]), ":0\r\n");
    assert_eq!(
        c.cmd(&["MGET", "{x}a", "{x}b", "{x}c", "{x}z"]),
        "*4\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n$-1\r\n"
    );
    // MSET and MGET fan out instead.
    assert_eq!(c.cmd(&["MSET", "a", "1", "b", "2", "c", "3"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["MGET", "c", "b", "a", "d"]),
        "*4\r\n$1\r\n3\r\n$1\r\n2\r\n$1\r\n1\r\n$-1\r\n"
    );
    // On one shard everything shares it.
    let one = Server::shardis(1, &[]);
    let mut c = one.client();
    assert_eq!(c.cmd(&["MSETNX", "a", "1", "b", "2", "c", "3"]), ":1\r\n");
}

#[test]
fn resp3_replies_match_redis() {
    let steps: &[Step] = &[
        Exact(&["GET", "k"]),
        Exact(&["SET", "k", "v", "GET"]),
        Exact(&["SET", "k", "w", "GET"]),
        Exact(&["SET", "k", "v", "NX"]),
        Exact(&["SET", "nx", "v", "XX"]),
        Exact(&["GETEX", "nope"]),
        Exact(&["GETDEL", "nope"]),
        Exact(&["GETSET", "nope", "x"]),
        Exact(&["INCRBYFLOAT", "f", "2.5"]),
        Exact(&["INCR", "i"]),
        Exact(&["SETNX", "i", "1"]),
        Exact(&["STRLEN", "k"]),
        Exact(&["GETRANGE", "k", "0", "-1"]),
        Exact(&["SETRANGE", "k", "3", "x"]),
        Exact(&["APPEND", "k", "y"]),
        Exact(&["MGET", "k", "nope", "f"]),
        Exact(&["MSETNX", "k", "1"]),
        Exact(&["INCR", "k"]),
    ];
    Transcript::new()
        .resp(&[3])
        .steps(steps)
        .assert_same_as_redis();
}

#[test]
fn through_the_redis_crate() {
    let s = Server::shardis(3, &[]);
    let mut con = s.redis_client();
    let q = |con: &mut redis::Connection, args: &[&str]| -> redis::RedisResult<redis::Value> {
        let mut cmd = redis::cmd(args[0]);
        for a in &args[1..] {
            cmd.arg(*a);
        }
        cmd.query(con)
    };
    let ok: String = redis::cmd("SET")
        .arg("k")
        .arg("v")
        .arg("EX")
        .arg(100)
        .query(&mut con)
        .unwrap();
    assert_eq!(ok, "OK");
    let v: Option<String> = redis::cmd("GET").arg("k").query(&mut con).unwrap();
    assert_eq!(v.as_deref(), Some("v"));
    let n: i64 = redis::cmd("INCRBY")
        .arg("n")
        .arg(41)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 41);
    let n: i64 = redis::cmd("INCR").arg("n").query(&mut con).unwrap();
    assert_eq!(n, 42);
    let f: f64 = redis::cmd("INCRBYFLOAT")
        .arg("f")
        .arg(10.5)
        .query(&mut con)
        .unwrap();
    assert_eq!(f, 10.5);
    let len: usize = redis::cmd("APPEND")
        .arg("k")
        .arg("alue")
        .query(&mut con)
        .unwrap();
    assert_eq!(len, 5);
    let part: String = redis::cmd("GETRANGE")
        .arg("k")
        .arg(1)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(part, "alue");
    let all: Vec<Option<String>> = redis::cmd("MGET")
        .arg(&["k", "missing", "n"])
        .query(&mut con)
        .unwrap();
    assert_eq!(all, vec![Some("value".into()), None, Some("42".into())]);
    let err = q(&mut con, &["INCR", "k"]).unwrap_err();
    assert_eq!(err.code(), Some("ERR"));
    assert_eq!(
        err.detail(),
        Some("value is not an integer or out of range")
    );
    let err = q(&mut con, &["MSETNX", "a", "1", "b", "2"]).unwrap_err();
    assert_eq!(err.code(), Some("CROSSSLOT"));
    let set: i64 = redis::cmd("MSETNX")
        .arg(&["{u}a", "1", "{u}b", "2"])
        .query(&mut con)
        .unwrap();
    assert_eq!(set, 1);
    let old: Option<String> = redis::cmd("GETDEL").arg("{u}a").query(&mut con).unwrap();
    assert_eq!(old.as_deref(), Some("1"));
    let gone: Option<String> = redis::cmd("GET").arg("{u}a").query(&mut con).unwrap();
    assert_eq!(gone, None);
}

#[test]
fn mset_missing_value_writes_nothing() {
    // The keys are on different shards: the arity error must come before
    // any shard's part of the MSET runs.
    let steps: &[Step] = &[
        Exact(&["MSET", "a", "1", "b", "2", "c"]),
        Exact(&["MGET", "a", "b", "c"]),
        Exact(&["MSETNX", "{t}a", "1", "{t}b"]),
        Exact(&["MGET", "{t}a", "{t}b"]),
    ];
    Transcript::new()
        .shards(&[3])
        .steps(steps)
        .assert_same_as_redis();
}

#[test]
fn incrbyfloat_has_redis_long_double_digits() {
    Transcript::new()
        .shards(&[2])
        .steps(&[
            Exact(&["SET", "f", "0.1"]),
            Exact(&["INCRBYFLOAT", "f", "0.2"]),
            Exact(&["SET", "f", "1000"]),
            Exact(&["INCRBYFLOAT", "f", "0.1"]),
            Exact(&["SET", "f", "123456.789"]),
            Exact(&["INCRBYFLOAT", "f", "0.001"]),
            Exact(&["INCRBYFLOAT", "f", "1e400"]),
            Exact(&["INCRBYFLOAT", "f", "0x10"]),
            Exact(&["GET", "f"]),
            Exact(&["HSET", "h", "x", "0.1"]),
            Exact(&["HINCRBYFLOAT", "h", "x", "0.2"]),
            Exact(&["HINCRBYFLOAT", "h", "y", "1000.1"]),
            Exact(&["HINCRBYFLOAT", "h", "y", "-0.05"]),
            Exact(&["HINCRBYFLOAT", "h", "x", "inf"]),
            Exact(&["HGET", "h", "y"]),
        ])
        .assert_same_as_redis();
}
