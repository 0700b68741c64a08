//! Sorted-set commands, end to end: differential tests against a real
//! redis-server (1 and 3 shards, RESP2 and RESP3), plus the random commands
//! checked by shape, and a few calls through the `redis` crate.

use crate::common;

use std::collections::{BTreeMap, HashSet};

use common::{scan_page, Raw, Server, Step, Step::*, Transcript};

#[test]
fn zadd_options_and_errors() {
    Transcript::new()
        .steps(&[
            Exact(&["ZADD", "z", "1", "a", "2", "b", "3", "c"]),
            Exact(&["ZADD", "z", "1", "a"]),
            Exact(&["ZADD", "z", "CH", "5", "a", "6", "d"]),
            Exact(&["ZADD", "z", "NX", "10", "a", "11", "e"]),
            Exact(&["ZADD", "z", "XX", "20", "a", "21", "f"]),
            Exact(&["ZADD", "z", "xx", "ch", "20", "a", "21", "f"]),
            Exact(&["ZADD", "z", "GT", "1", "a"]),
            Exact(&["ZADD", "z", "GT", "CH", "30", "a", "1", "new"]),
            Exact(&["ZADD", "z", "LT", "CH", "40", "a"]),
            Exact(&["ZADD", "z", "LT", "CH", "1", "a"]),
            Exact(&["ZADD", "z", "XX", "GT", "CH", "100", "a", "100", "nosuch"]),
            Exact(&["ZADD", "z", "INCR", "5", "a"]),
            Exact(&["ZADD", "z", "INCR", "NX", "5", "a"]),
            Exact(&["ZADD", "z", "INCR", "XX", "5", "nosuch"]),
            Exact(&["ZADD", "z", "INCR", "GT", "-1", "a"]),
            Exact(&["ZADD", "z", "INCR", "LT", "-1", "a"]),
            Exact(&["ZADD", "z", "INCR", "NX", "7", "brand-new"]),
            Exact(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
            Exact(&["ZADD", "newkey", "XX", "1", "a"]),
            Exact(&["ZADD", "newkey", "XX", "INCR", "1", "a"]),
            Exact(&["EXISTS", "newkey"]),
            Exact(&["ZADD", "z", "NX", "XX", "1", "a"]),
            Exact(&["ZADD", "z", "GT", "LT", "1", "a"]),
            Exact(&["ZADD", "z", "NX", "GT", "1", "a"]),
            Exact(&["ZADD", "z", "LT", "NX", "1", "a"]),
            Exact(&["ZADD", "z", "INCR", "1", "a", "2", "b"]),
            Exact(&["ZADD", "z", "NX", "XX", "1"]),
            Exact(&["ZADD", "z", "1"]),
            Exact(&["ZADD", "z", "1", "a", "2"]),
            Exact(&["ZADD", "z", "nx"]),
            Exact(&["ZADD", "z", "1", "a", "CH"]),
            Exact(&["ZADD", "z", "abc", "a"]),
            Exact(&["ZADD", "z", "1", "a", "nan", "b"]),
            Exact(&["ZADD", "z", " 1", "a"]),
            Exact(&["ZADD", "z", "1 ", "a"]),
            Exact(&["ZADD", "z", ""]),
            Exact(&["ZADD", "z", "", "a"]),
            Exact(&[
                "ZADD",
                "z",
                "inf",
                "i",
                "-inf",
                "j",
                "+inf",
                "k",
                "-Infinity",
                "l",
            ]),
            Exact(&["ZADD", "z", "1e400", "a"]),
            Exact(&["ZADD", "z", "-0", "zero", "-0.0", "zero2"]),
            Exact(&["ZSCORE", "z", "zero"]),
            Exact(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
            Exact(&["ZCARD", "z"]),
            Exact(&["SET", "str", "x"]),
            Exact(&["ZADD", "str", "1", "a"]),
            Exact(&["ZADD", "str", "abc", "a"]),
            Exact(&["ZADD", "str", "NX", "XX", "1", "a"]),
            Exact(&["ZADD", "str", "XX", "1", "a"]),
            Exact(&["ZADD", "z"]),
            Exact(&["ZADD", "z", "1"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn zincrby_zscore_zmscore_zcard_zrem() {
    Transcript::new()
        .steps(&[
            Exact(&["ZINCRBY", "z", "1", "a"]),
            Exact(&["ZINCRBY", "z", "2.5", "a"]),
            Exact(&["ZINCRBY", "z", "-0.1", "a"]),
            Exact(&["ZINCRBY", "z", "abc", "a"]),
            Exact(&["ZINCRBY", "z", "nx", "a"]),
            Exact(&["ZINCRBY", "z", "incr", "a"]),
            Exact(&["ZINCRBY", "z", "1e308", "big"]),
            Exact(&["ZINCRBY", "z", "1e308", "big"]),
            Exact(&["ZINCRBY", "z", "-inf", "big"]),
            Exact(&["ZADD", "z", "INCR", "-inf", "big"]),
            Exact(&["ZINCRBY", "z", "inf", "ninf"]),
            Exact(&["ZINCRBY", "z", "-inf", "ninf"]),
            Exact(&["ZSCORE", "z", "big"]),
            Exact(&["ZSCORE", "z", "ninf"]),
            Exact(&[
                "ZADD",
                "fmt",
                "0.1",
                "a",
                "1e20",
                "b",
                "1.5e-7",
                "c",
                "123456789012345678",
                "d",
            ]),
            Exact(&[
                "ZADD",
                "fmt",
                "-2.5",
                "e",
                "3.0",
                "f",
                "1e-320",
                "g",
                "0.30000000000000004",
                "h",
            ]),
            Exact(&[
                "ZADD",
                "fmt",
                "1e16",
                "i",
                "12345678901234567890",
                "j",
                "-1e-5",
                "k",
            ]),
            Exact(&["ZRANGE", "fmt", "0", "-1", "WITHSCORES"]),
            Exact(&["ZSCORE", "fmt", "a"]),
            Exact(&["ZSCORE", "fmt", "nosuch"]),
            Exact(&["ZSCORE", "nokey", "a"]),
            Exact(&["ZMSCORE", "fmt", "a", "nosuch", "c"]),
            Exact(&["ZMSCORE", "nokey", "a", "b"]),
            Exact(&["ZCARD", "fmt"]),
            Exact(&["ZCARD", "nokey"]),
            Exact(&["SET", "str", "x"]),
            Exact(&["ZSCORE", "str", "a"]),
            Exact(&["ZMSCORE", "str", "a"]),
            Exact(&["ZCARD", "str"]),
            Exact(&["ZINCRBY", "str", "1", "a"]),
            Exact(&["ZREM", "str", "a"]),
            Exact(&["ZREM", "fmt", "a", "nosuch", "b", "a"]),
            Exact(&["ZREM", "nokey", "a"]),
            Exact(&["ZCARD", "fmt"]),
            Exact(&["ZREM", "fmt", "c", "d", "e", "f", "g", "h", "i", "j"]),
            Exact(&["EXISTS", "fmt"]),
            Exact(&["ZREM", "fmt", "k"]),
            Exact(&["EXISTS", "fmt"]),
            Exact(&["ZINCRBY", "z"]),
            Exact(&["ZSCORE", "z"]),
            Exact(&["ZMSCORE", "z"]),
            Exact(&["ZREM", "z"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn ranges_by_rank_and_score() {
    Transcript::new()
        .steps(&[
            Exact(&[
                "ZADD", "r", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "5", "f", "6", "g",
            ]),
            Exact(&["ZRANGE", "r", "0", "-1"]),
            Exact(&["ZRANGE", "r", "0", "-1", "WITHSCORES"]),
            Exact(&["ZRANGE", "r", "2", "3"]),
            Exact(&["ZRANGE", "r", "-2", "-1"]),
            Exact(&["ZRANGE", "r", "-100", "100"]),
            Exact(&["ZRANGE", "r", "5", "2"]),
            Exact(&["ZRANGE", "r", "7", "10"]),
            Exact(&["ZRANGE", "r", "-1", "-2"]),
            Exact(&["ZRANGE", "r", "-9223372036854775808", "9223372036854775807"]),
            Exact(&["ZRANGE", "r", "0", "-1", "REV"]),
            Exact(&["ZRANGE", "r", "0", "1", "rev", "withscores"]),
            Exact(&["ZRANGE", "r", "0", "-1", "REV", "REV"]),
            Exact(&["ZREVRANGE", "r", "0", "1"]),
            Exact(&["ZREVRANGE", "r", "-3", "-1", "WITHSCORES"]),
            Exact(&["ZREVRANGE", "r", "0", "-1", "REV"]),
            Exact(&["ZREVRANGE", "r", "0", "-1", "BYSCORE"]),
            Exact(&["ZREVRANGE", "r", "0", "-1", "LIMIT", "0", "1"]),
            Exact(&["ZRANGE", "r", "a", "b"]),
            Exact(&["ZRANGE", "r", "0", "-1", "LIMIT", "0", "1"]),
            Exact(&["ZRANGE", "r", "0", "-1", "LIMIT", "0", "-1"]),
            Exact(&["ZRANGE", "r", "0", "-1", "LIMIT", "0"]),
            Exact(&["ZRANGE", "r", "0", "-1", "LIMIT", "x", "1"]),
            Exact(&["ZRANGE", "r", "0", "-1", "FOO"]),
            Exact(&["ZRANGE", "r", "0", "-1", "BYSCORE", "BYLEX"]),
            Exact(&["ZRANGE", "r", "1", "4", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "(1", "(4", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "-inf", "+inf", "BYSCORE", "WITHSCORES"]),
            Exact(&["ZRANGE", "r", "5", "1", "BYSCORE", "REV"]),
            Exact(&["ZRANGE", "r", "1", "5", "BYSCORE", "REV"]),
            Exact(&[
                "ZRANGE",
                "r",
                "+inf",
                "-inf",
                "BYSCORE",
                "REV",
                "LIMIT",
                "1",
                "2",
                "WITHSCORES",
            ]),
            Exact(&["ZRANGE", "r", "(5", "5", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "5", "(5", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "5", "5", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "1", "6", "BYSCORE", "LIMIT", "2", "3"]),
            Exact(&["ZRANGE", "r", "1", "6", "BYSCORE", "LIMIT", "-1", "2"]),
            Exact(&["ZRANGE", "r", "1", "6", "BYSCORE", "LIMIT", "2", "-1"]),
            Exact(&["ZRANGE", "r", "1", "6", "BYSCORE", "LIMIT", "2", "-5"]),
            Exact(&["ZRANGE", "r", "1", "6", "BYSCORE", "LIMIT", "0", "0"]),
            Exact(&["ZRANGE", "r", "1", "6", "BYSCORE", "LIMIT", "100", "1"]),
            Exact(&["ZRANGE", "r", "1", "6", "BYSCORE", "LIMIT", "6", "5"]),
            Exact(&["ZRANGE", "r", "6", "1", "BYSCORE", "REV", "LIMIT", "6", "5"]),
            Exact(&["ZRANGE", "r", "abc", "1", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "(", "3", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "", "3", "BYSCORE"]),
            Exact(&["ZRANGE", "r", " 2", "3", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "2 ", "3", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "nan", "3", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "1e999", "inf", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "-1e999", "2", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "(-inf", "(+inf", "BYSCORE"]),
            Exact(&["ZRANGE", "r", ".5e1", "6.", "BYSCORE"]),
            Exact(&["ZRANGE", "r", "1e", "6", "BYSCORE"]),
            Exact(&["ZRANGEBYSCORE", "r", "2", "5"]),
            Exact(&[
                "ZRANGEBYSCORE",
                "r",
                "2",
                "5",
                "WITHSCORES",
                "LIMIT",
                "1",
                "2",
            ]),
            Exact(&[
                "ZRANGEBYSCORE",
                "r",
                "2",
                "5",
                "LIMIT",
                "1",
                "2",
                "WITHSCORES",
            ]),
            Exact(&["ZRANGEBYSCORE", "r", "-inf", "+inf", "LIMIT", "1"]),
            Exact(&["ZRANGEBYSCORE", "r", "0", "10", "BYSCORE"]),
            Exact(&["ZRANGEBYSCORE", "r", "0", "10", "REV"]),
            Exact(&["ZRANGEBYSCORE", "r", "0", "10", "LIMIT", "a", "1"]),
            Exact(&["ZRANGEBYSCORE", "r", "x", "10"]),
            Exact(&["ZREVRANGEBYSCORE", "r", "5", "2"]),
            Exact(&["ZREVRANGEBYSCORE", "r", "2", "5"]),
            Exact(&[
                "ZREVRANGEBYSCORE",
                "r",
                "+inf",
                "-inf",
                "WITHSCORES",
                "LIMIT",
                "0",
                "3",
            ]),
            Exact(&["ZREVRANGEBYSCORE", "r", "(5", "(1"]),
            Exact(&["ZRANGE", "nokey", "0", "-1"]),
            Exact(&["ZRANGE", "nokey", "0", "-1", "BYSCORE"]),
            Exact(&["SET", "str", "x"]),
            Exact(&["ZRANGE", "str", "0", "-1"]),
            Exact(&["ZRANGE", "str", "a", "b"]),
            Exact(&["ZRANGEBYSCORE", "str", "0", "1"]),
            Exact(&["ZREVRANGE", "str", "0", "1"]),
            Exact(&["ZCOUNT", "r", "-inf", "+inf"]),
            Exact(&["ZCOUNT", "r", "(1", "5"]),
            Exact(&["ZCOUNT", "r", "5", "(5"]),
            Exact(&["ZCOUNT", "r", "10", "1"]),
            Exact(&["ZCOUNT", "r", "a", "b"]),
            Exact(&["ZCOUNT", "nokey", "0", "1"]),
            Exact(&["ZCOUNT", "str", "0", "1"]),
            Exact(&["ZCOUNT", "str", "a", "b"]),
            Exact(&["ZRANK", "r", "a"]),
            Exact(&["ZRANK", "r", "g"]),
            Exact(&["ZRANK", "r", "f"]),
            Exact(&["ZRANK", "r", "nosuch"]),
            Exact(&["ZREVRANK", "r", "a"]),
            Exact(&["ZREVRANK", "r", "e"]),
            Exact(&["ZREVRANK", "r", "nosuch"]),
            Exact(&["ZRANK", "nokey", "a"]),
            Exact(&["ZRANK", "str", "a"]),
            Exact(&["ZREVRANK", "str", "a"]),
            Exact(&["ZRANK", "r", "a", "WITHSCORE"]),
            Exact(&["ZRANGE", "r", "0"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn lex_ranges() {
    Transcript::new()
        .steps(&[
            Exact(&[
                "ZADD", "l", "0", "a", "0", "b", "0", "c", "0", "d", "0", "e", "0", "f", "0", "",
            ]),
            Exact(&["ZRANGEBYLEX", "l", "-", "+"]),
            Exact(&["ZRANGEBYLEX", "l", "[b", "[d"]),
            Exact(&["ZRANGEBYLEX", "l", "(b", "(d"]),
            Exact(&["ZRANGEBYLEX", "l", "[b", "(d"]),
            Exact(&["ZRANGEBYLEX", "l", "-", "[c"]),
            Exact(&["ZRANGEBYLEX", "l", "(c", "+"]),
            Exact(&["ZRANGEBYLEX", "l", "+", "-"]),
            Exact(&["ZRANGEBYLEX", "l", "-", "-"]),
            Exact(&["ZRANGEBYLEX", "l", "+", "+"]),
            Exact(&["ZRANGEBYLEX", "l", "[a", "[a"]),
            Exact(&["ZRANGEBYLEX", "l", "(a", "[a"]),
            Exact(&["ZRANGEBYLEX", "l", "[d", "[b"]),
            Exact(&["ZRANGEBYLEX", "l", "[", "[a"]),
            Exact(&["ZRANGEBYLEX", "l", "(", "+"]),
            Exact(&["ZRANGEBYLEX", "l", "[bb", "[dd"]),
            Exact(&["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "1", "2"]),
            Exact(&["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "-1", "2"]),
            Exact(&["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "2", "-1"]),
            Exact(&["ZRANGEBYLEX", "l", "-", "+", "LIMIT", "2"]),
            Exact(&["ZRANGEBYLEX", "l", "-", "+", "WITHSCORES"]),
            Exact(&["ZRANGEBYLEX", "l", "-", "+", "BYLEX"]),
            Exact(&["ZREVRANGEBYLEX", "l", "+", "-"]),
            Exact(&["ZREVRANGEBYLEX", "l", "[d", "[b"]),
            Exact(&["ZREVRANGEBYLEX", "l", "[b", "[d"]),
            Exact(&["ZREVRANGEBYLEX", "l", "+", "-", "LIMIT", "1", "2"]),
            Exact(&["ZRANGE", "l", "[b", "[d", "BYLEX"]),
            Exact(&["ZRANGE", "l", "[d", "[b", "BYLEX", "REV"]),
            Exact(&["ZRANGE", "l", "+", "-", "BYLEX", "REV", "LIMIT", "0", "2"]),
            Exact(&["ZRANGE", "l", "-", "+", "BYLEX", "WITHSCORES"]),
            Exact(&["ZRANGE", "l", "0", "-1", "BYLEX"]),
            Exact(&["ZRANGEBYLEX", "l", "a", "[c"]),
            Exact(&["ZRANGEBYLEX", "l", "+a", "[c"]),
            Exact(&["ZRANGEBYLEX", "l", "-a", "[c"]),
            Exact(&["ZRANGEBYLEX", "l", "", "+"]),
            Exact(&["ZRANGEBYLEX", "nokey", "-", "+"]),
            Exact(&["ZRANGEBYLEX", "nokey", "x", "+"]),
            Exact(&["ZLEXCOUNT", "l", "-", "+"]),
            Exact(&["ZLEXCOUNT", "l", "[b", "(e"]),
            Exact(&["ZLEXCOUNT", "l", "+", "-"]),
            Exact(&["ZLEXCOUNT", "l", "a", "b"]),
            Exact(&["ZLEXCOUNT", "nokey", "-", "+"]),
            Exact(&["SET", "str", "x"]),
            Exact(&["ZLEXCOUNT", "str", "-", "+"]),
            Exact(&["ZRANGEBYLEX", "str", "-", "+"]),
            Exact(&["ZREMRANGEBYLEX", "l", "[b", "(d"]),
            Exact(&["ZREMRANGEBYLEX", "l", "x", "(d"]),
            Exact(&["ZREMRANGEBYLEX", "nokey", "-", "+"]),
            Exact(&["ZREMRANGEBYLEX", "str", "-", "+"]),
            Exact(&["ZRANGE", "l", "0", "-1"]),
            Exact(&["ZREMRANGEBYLEX", "l", "-", "+"]),
            Exact(&["EXISTS", "l"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn pops_and_range_removal() {
    Transcript::new()
        .steps(&[
            Exact(&[
                "ZADD", "p", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f",
            ]),
            Exact(&["ZPOPMIN", "p"]),
            Exact(&["ZPOPMAX", "p"]),
            Exact(&["ZPOPMIN", "p", "2"]),
            Exact(&["ZPOPMAX", "p", "1"]),
            Exact(&["ZPOPMIN", "p", "0"]),
            Exact(&["ZPOPMIN", "p", "-1"]),
            Exact(&["ZPOPMIN", "p", "abc"]),
            Exact(&["ZPOPMIN", "p", "1", "2"]),
            Exact(&["ZPOPMAX", "p", "100"]),
            Exact(&["EXISTS", "p"]),
            Exact(&["ZPOPMIN", "nokey"]),
            Exact(&["ZPOPMIN", "nokey", "5"]),
            Exact(&["ZPOPMAX", "nokey", "0"]),
            Exact(&["ZPOPMIN", "nokey", "-5"]),
            Exact(&["SET", "str", "x"]),
            Exact(&["ZPOPMIN", "str"]),
            Exact(&["ZPOPMAX", "str", "0"]),
            Exact(&[
                "ZADD", "rr", "1", "a", "2", "b", "3", "c", "4", "d", "5", "e", "6", "f", "7", "g",
            ]),
            Exact(&["ZREMRANGEBYRANK", "rr", "0", "0"]),
            Exact(&["ZREMRANGEBYRANK", "rr", "-1", "-1"]),
            Exact(&["ZREMRANGEBYRANK", "rr", "5", "1"]),
            Exact(&["ZREMRANGEBYRANK", "rr", "10", "20"]),
            Exact(&["ZREMRANGEBYRANK", "rr", "a", "1"]),
            Exact(&["ZRANGE", "rr", "0", "-1"]),
            Exact(&["ZREMRANGEBYSCORE", "rr", "(2", "4"]),
            Exact(&["ZREMRANGEBYSCORE", "rr", "a", "b"]),
            Exact(&["ZREMRANGEBYSCORE", "rr", "10", "1"]),
            Exact(&["ZRANGE", "rr", "0", "-1", "WITHSCORES"]),
            Exact(&["ZREMRANGEBYSCORE", "nokey", "0", "1"]),
            Exact(&["ZREMRANGEBYSCORE", "str", "0", "1"]),
            Exact(&["ZREMRANGEBYRANK", "str", "0", "1"]),
            Exact(&["ZREMRANGEBYRANK", "nokey", "0", "1"]),
            Exact(&["ZREMRANGEBYRANK", "rr", "-100", "100"]),
            Exact(&["EXISTS", "rr"]),
            Exact(&["ZADD", "rr", "1", "a", "2", "b"]),
            Exact(&["ZREMRANGEBYSCORE", "rr", "-inf", "+inf"]),
            Exact(&["EXISTS", "rr"]),
            Exact(&["ZPOPMIN"]),
            Exact(&["ZREMRANGEBYRANK", "rr", "0"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn zrandmember_and_zscan_deterministic_parts() {
    Transcript::new()
        .steps(&[
            Exact(&["ZADD", "z", "1", "a", "2", "b", "3", "c", "-1", "d"]),
            Exact(&["ZADD", "one", "7", "only"]),
            Exact(&["ZRANDMEMBER", "nokey"]),
            Exact(&["ZRANDMEMBER", "nokey", "5"]),
            Exact(&["ZRANDMEMBER", "nokey", "abc"]),
            Exact(&["ZRANDMEMBER", "z", "0"]),
            Exact(&["ZRANDMEMBER", "z", "0", "WITHSCORES"]),
            Exact(&["ZRANDMEMBER", "z", "abc"]),
            Exact(&["ZRANDMEMBER", "z", "1", "foo"]),
            Exact(&["ZRANDMEMBER", "z", "1", "withscores", "x"]),
            Exact(&["ZRANDMEMBER", "z", "-9223372036854775808"]),
            Exact(&["ZRANDMEMBER", "z", "4611686018427387904", "WITHSCORES"]),
            Exact(&["ZRANDMEMBER", "z", "-4611686018427387904", "WITHSCORES"]),
            Exact(&["ZRANDMEMBER", "z", "4", "WITHSCORES"]),
            Exact(&["ZRANDMEMBER", "z", "100", "WITHSCORES"]),
            Exact(&["ZRANDMEMBER", "z", "100"]),
            Exact(&["ZRANDMEMBER", "one"]),
            Exact(&["ZRANDMEMBER", "one", "1"]),
            Exact(&["ZRANDMEMBER", "one", "-3", "WITHSCORES"]),
            Exact(&["SET", "str", "x"]),
            Exact(&["ZRANDMEMBER", "str"]),
            Exact(&["ZRANDMEMBER", "str", "1"]),
            Exact(&["ZSCAN", "z", "0"]),
            Exact(&["ZSCAN", "z", "0", "MATCH", "[ab]"]),
            Exact(&["ZSCAN", "z", "0", "COUNT", "1"]),
            Exact(&["ZSCAN", "z", "0", "match", "*", "count", "2"]),
            Exact(&["ZSCAN", "z", "0", "COUNT", "0"]),
            Exact(&["ZSCAN", "z", "0", "COUNT", "x"]),
            Exact(&["ZSCAN", "z", "0", "MATCH"]),
            Exact(&["ZSCAN", "z", "0", "TYPE", "zset"]),
            Exact(&["ZSCAN", "z", "x"]),
            Exact(&["ZSCAN", "z", " 1"]),
            Exact(&["ZSCAN", "z", ""]),
            Exact(&["ZSCAN", "z", "-1"]),
            Exact(&["ZSCAN", "z", "18446744073709551616"]),
            Exact(&["ZSCAN", "nokey", "0"]),
            Exact(&["ZSCAN", "nokey", "0", "COUNT", "0"]),
            Exact(&["ZSCAN", "str", "0"]),
            Exact(&["ZADD", "e", "1", "", "2", "x"]),
            Exact(&["ZSCAN", "e", "0", "MATCH", "*"]),
            Exact(&["ZSCAN", "e", "0", "MATCH", ""]),
            Exact(&["ZSCAN", "e", "0", "MATCH", "?*"]),
            Exact(&[
                "ZADD", "s", "0.1", "a", "inf", "b", "-inf", "c", "1e100", "d",
            ]),
            Exact(&["ZSCAN", "s", "0"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn zrangestore() {
    Transcript::new()
        .steps(&[
            Exact(&["ZADD", "{t}src", "1", "a", "2", "b", "3", "c", "4", "d"]),
            Exact(&["ZRANGESTORE", "{t}dst", "{t}src", "0", "1"]),
            Exact(&["ZRANGE", "{t}dst", "0", "-1", "WITHSCORES"]),
            Exact(&[
                "ZRANGESTORE",
                "{t}dst",
                "{t}src",
                "3",
                "2",
                "BYSCORE",
                "REV",
                "LIMIT",
                "0",
                "1",
            ]),
            Exact(&["ZRANGE", "{t}dst", "0", "-1", "WITHSCORES"]),
            Exact(&["ZRANGESTORE", "{t}dst", "{t}src", "[a", "[c", "BYLEX"]),
            Exact(&["ZRANGE", "{t}dst", "0", "-1", "WITHSCORES"]),
            Exact(&["ZRANGESTORE", "{t}dst", "{t}src", "0", "-1", "REV"]),
            Exact(&["ZRANGESTORE", "{t}dst", "{t}src", "0", "-1", "WITHSCORES"]),
            Exact(&[
                "ZRANGESTORE",
                "{t}dst",
                "{t}src",
                "0",
                "-1",
                "LIMIT",
                "0",
                "1",
            ]),
            Exact(&[
                "ZRANGESTORE",
                "{t}dst",
                "{t}src",
                "0",
                "-1",
                "LIMIT",
                "0",
                "-1",
            ]),
            Exact(&["ZRANGESTORE", "{t}dst", "{t}src", "5", "10"]),
            Exact(&["EXISTS", "{t}dst"]),
            Exact(&["ZRANGESTORE", "{t}dst", "{t}nokey", "0", "-1"]),
            Exact(&["SET", "{t}str", "x"]),
            Exact(&["SET", "{t}dst", "x"]),
            Exact(&["ZRANGESTORE", "{t}dst", "{t}str", "0", "-1"]),
            Exact(&["EXISTS", "{t}dst"]),
            Exact(&["ZRANGESTORE", "{t}str", "{t}src", "0", "-1"]),
            Exact(&["ZRANGE", "{t}str", "0", "-1", "WITHSCORES"]),
            Exact(&["ZRANGESTORE", "{t}src", "{t}src", "1", "2"]),
            Exact(&["ZRANGE", "{t}src", "0", "-1", "WITHSCORES"]),
            Exact(&["ZRANGESTORE", "{t}dst", "{t}src", "0"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn union_inter_diff() {
    Transcript::new()
        .steps(&[
            Exact(&["ZADD", "{s}a", "1", "x", "2", "y", "3", "z"]),
            Exact(&["ZADD", "{s}b", "10", "y", "20", "z", "30", "w"]),
            Exact(&["ZADD", "{s}c", "5", "z"]),
            Exact(&["ZUNION", "2", "{s}a", "{s}b"]),
            Exact(&["ZUNION", "2", "{s}a", "{s}b", "WITHSCORES"]),
            Exact(&[
                "ZUNION",
                "2",
                "{s}a",
                "{s}b",
                "WEIGHTS",
                "2",
                "3",
                "WITHSCORES",
            ]),
            Exact(&[
                "ZUNION",
                "2",
                "{s}a",
                "{s}b",
                "AGGREGATE",
                "MIN",
                "WITHSCORES",
            ]),
            Exact(&[
                "ZUNION",
                "2",
                "{s}a",
                "{s}b",
                "aggregate",
                "max",
                "withscores",
                "withscores",
            ]),
            Exact(&[
                "ZUNION",
                "3",
                "{s}a",
                "{s}b",
                "{s}nokey",
                "WEIGHTS",
                "1",
                "-1",
                "5",
                "WITHSCORES",
            ]),
            Exact(&["ZUNION", "2", "{s}a", "{s}b", "WEIGHTS", "1"]),
            Exact(&["ZUNION", "2", "{s}a", "{s}b", "WEIGHTS", "1", "abc"]),
            Exact(&["ZUNION", "2", "{s}a", "{s}b", "AGGREGATE", "foo"]),
            Exact(&["ZUNION", "2", "{s}a", "{s}b", "AGGREGATE"]),
            Exact(&["ZUNION", "2", "{s}a", "{s}b", "LIMIT", "1"]),
            Exact(&["ZINTER", "2", "{s}a", "{s}b"]),
            Exact(&["ZINTER", "2", "{s}a", "{s}b", "WITHSCORES"]),
            Exact(&[
                "ZINTER",
                "3",
                "{s}a",
                "{s}b",
                "{s}c",
                "WITHSCORES",
                "AGGREGATE",
                "MAX",
            ]),
            Exact(&[
                "ZINTER",
                "2",
                "{s}a",
                "{s}b",
                "WEIGHTS",
                "-1",
                "1",
                "AGGREGATE",
                "MIN",
                "WITHSCORES",
            ]),
            Exact(&["ZINTER", "2", "{s}a", "{s}nokey"]),
            Exact(&["ZINTER", "1", "{s}a", "WITHSCORES"]),
            Exact(&[
                "ZINTER",
                "2",
                "{s}a",
                "{s}a",
                "WEIGHTS",
                "1",
                "2",
                "WITHSCORES",
            ]),
            Exact(&["ZDIFF", "2", "{s}a", "{s}b"]),
            Exact(&["ZDIFF", "2", "{s}a", "{s}b", "WITHSCORES"]),
            Exact(&["ZDIFF", "3", "{s}b", "{s}c", "{s}a", "WITHSCORES"]),
            Exact(&["ZDIFF", "2", "{s}a", "{s}a"]),
            Exact(&["ZDIFF", "2", "{s}nokey", "{s}a"]),
            Exact(&["ZDIFF", "2", "{s}a", "{s}nokey", "WITHSCORES"]),
            Exact(&["ZDIFF", "1", "{s}a", "WEIGHTS", "1"]),
            Exact(&["ZDIFF", "1", "{s}a", "AGGREGATE", "SUM"]),
            Exact(&["ZINTERCARD", "2", "{s}a", "{s}b"]),
            Exact(&["ZINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "1"]),
            Exact(&["ZINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "0"]),
            Exact(&["ZINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "-1"]),
            Exact(&["ZINTERCARD", "2", "{s}a", "{s}b", "LIMIT", "x"]),
            Exact(&["ZINTERCARD", "2", "{s}a", "{s}b", "WITHSCORES"]),
            Exact(&["ZINTERCARD", "2", "{s}a", "{s}b", "WEIGHTS", "1", "2"]),
            Exact(&["ZINTERCARD", "1", "{s}nokey"]),
            Exact(&["ZINTERCARD", "0", "{s}a"]),
            Exact(&["ZUNIONSTORE", "{s}d", "2", "{s}a", "{s}b"]),
            Exact(&["ZRANGE", "{s}d", "0", "-1", "WITHSCORES"]),
            Exact(&["ZUNIONSTORE", "{s}d", "2", "{s}a", "{s}b", "WITHSCORES"]),
            Exact(&[
                "ZINTERSTORE",
                "{s}d",
                "2",
                "{s}a",
                "{s}b",
                "AGGREGATE",
                "MAX",
            ]),
            Exact(&["ZRANGE", "{s}d", "0", "-1", "WITHSCORES"]),
            Exact(&["ZDIFFSTORE", "{s}d", "2", "{s}b", "{s}a"]),
            Exact(&["ZRANGE", "{s}d", "0", "-1", "WITHSCORES"]),
            Exact(&["ZINTERSTORE", "{s}d", "2", "{s}a", "{s}nokey"]),
            Exact(&["EXISTS", "{s}d"]),
            Exact(&["ZUNIONSTORE", "{s}a", "2", "{s}a", "{s}b"]),
            Exact(&["ZRANGE", "{s}a", "0", "-1", "WITHSCORES"]),
            Exact(&["ZUNION", "0", "{s}a"]),
            Exact(&["ZUNION", "-1", "{s}a"]),
            Exact(&["ZUNION", "x", "{s}a"]),
            Exact(&["ZUNION", "3", "{s}a", "{s}b"]),
            Exact(&["ZUNION", "9223372036854775807", "{s}a"]),
            Exact(&["ZUNIONSTORE", "{s}d", "0", "{s}a"]),
            Exact(&["ZINTERSTORE", "{s}d", "3", "{s}a"]),
            Exact(&["ZDIFFSTORE", "{s}d", "-1", "{s}a"]),
            Exact(&["ZINTER", "0", "{s}a"]),
            Exact(&["ZDIFF", "0", "{s}a"]),
            Exact(&["SET", "{s}str", "x"]),
            Exact(&["ZUNION", "2", "{s}a", "{s}str"]),
            Exact(&["ZUNION", "2", "{s}a", "{s}str", "WEIGHTS", "x"]),
            Exact(&["ZINTER", "2", "{s}nokey", "{s}str"]),
            Exact(&["ZDIFFSTORE", "{s}d", "2", "{s}a", "{s}str"]),
            Exact(&["ZUNIONSTORE", "{s}str", "1", "{s}b"]),
            Exact(&["ZRANGE", "{s}str", "0", "-1"]),
            Exact(&["ZADD", "{s}inf", "inf", "m", "0", "zero"]),
            Exact(&["ZADD", "{s}ninf", "-inf", "m", "1", "zero"]),
            Exact(&["ZUNION", "2", "{s}inf", "{s}ninf", "WITHSCORES"]),
            Exact(&["ZINTER", "2", "{s}inf", "{s}ninf", "WITHSCORES"]),
            Exact(&[
                "ZINTER",
                "2",
                "{s}inf",
                "{s}ninf",
                "WEIGHTS",
                "0",
                "1",
                "WITHSCORES",
            ]),
            Exact(&["ZUNION", "1", "{s}inf", "WEIGHTS", "0", "WITHSCORES"]),
            Exact(&["ZUNION", "1", "{s}inf", "WEIGHTS", "-1", "WITHSCORES"]),
            Exact(&[
                "ZUNION",
                "2",
                "{s}inf",
                "{s}ninf",
                "AGGREGATE",
                "MIN",
                "WITHSCORES",
            ]),
            Exact(&["ZUNIONSTORE", "{s}d", "1", "{s}inf", "WEIGHTS", "-1"]),
            Exact(&["ZRANGE", "{s}d", "0", "-1", "WITHSCORES"]),
            Exact(&["ZUNION", "2", "{s}a"]),
        ])
        .assert_same_as_redis();
}

/// Members past Redis's compact-encoding size (128): same ranks, ranges
/// and order, and ZSCAN pages that together return every member.
#[test]
fn large_sorted_sets() {
    let mut zadd: Vec<String> = vec!["ZADD".into(), "big".into()];
    for i in 0..1000 {
        // Scores repeat, so ties are ordered by member.
        zadd.push(format!("{}", (i * 37) % 250));
        zadd.push(format!("member:{i}"));
    }
    let zadd: Vec<&str> = zadd.iter().map(String::as_str).collect();
    Transcript::new()
        .steps(&[
            Exact(&zadd),
            Exact(&["ZCARD", "big"]),
            Exact(&["ZRANGE", "big", "100", "110", "WITHSCORES"]),
            Exact(&["ZRANGE", "big", "-5", "-1"]),
            Exact(&["ZREVRANGE", "big", "500", "505", "WITHSCORES"]),
            Exact(&["ZRANK", "big", "member:150"]),
            Exact(&["ZREVRANK", "big", "member:999"]),
            Exact(&["ZCOUNT", "big", "(10", "20"]),
            Exact(&["ZRANGEBYSCORE", "big", "50", "60", "LIMIT", "2", "3"]),
            Exact(&[
                "ZREVRANGEBYSCORE",
                "big",
                "60",
                "50",
                "WITHSCORES",
                "LIMIT",
                "7",
                "4",
            ]),
            Exact(&[
                "ZRANGEBYLEX",
                "big",
                "[member:10",
                "(member:11",
                "LIMIT",
                "0",
                "5",
            ]),
            Exact(&["ZREMRANGEBYRANK", "big", "10", "20"]),
            Exact(&["ZREMRANGEBYSCORE", "big", "100", "(120"]),
            Exact(&["ZPOPMIN", "big", "5"]),
            Exact(&["ZPOPMAX", "big", "3"]),
            Exact(&["ZADD", "big", "INCR", "1000", "member:500"]),
            Exact(&["ZRANK", "big", "member:500"]),
            Exact(&["ZCARD", "big"]),
            Exact(&["ZRANGE", "big", "0", "-1", "WITHSCORES"]),
            Exact(&["ZRANDMEMBER", "big", "5000", "WITHSCORES"]),
            Exact(&["ZREMRANGEBYRANK", "big", "0", "-1"]),
            Exact(&["EXISTS", "big"]),
        ])
        .assert_same_as_redis();

    // ZSCAN: paging differs from Redis's hash table walk; the union of the
    // pages must be the whole set, with the scores Redis reports.
    let ours = Server::shardis(3, &[]);
    let reference = Server::redis(&[]);
    let mut a = ours.client();
    let mut b = reference.client();
    let args: Vec<&str> = zadd.clone();
    assert_eq!(a.cmd(&args), b.cmd(&args));
    let scanned_ours = full_zscan(&mut a, "big", &["COUNT", "7"]);
    let scanned_redis = full_zscan(&mut b, "big", &["COUNT", "7"]);
    assert_eq!(scanned_ours.len(), 1000);
    assert_eq!(scanned_ours, scanned_redis);
    let matched = full_zscan(&mut a, "big", &["MATCH", "member:1?", "COUNT", "50"]);
    assert_eq!(
        matched,
        full_zscan(&mut b, "big", &["MATCH", "member:1?", "COUNT", "50"])
    );
    assert_eq!(matched.len(), 10);
}

/// Follows ZSCAN cursors to the end; member -> score.
fn full_zscan(c: &mut Raw, key: &str, opts: &[&str]) -> BTreeMap<String, String> {
    let mut cursor = "0".to_string();
    let mut out = BTreeMap::new();
    for _ in 0..100_000 {
        let mut args = vec!["ZSCAN", key, &cursor];
        args.extend_from_slice(opts);
        let reply = c.cmd(&args);
        let (next, items) = scan_page(&reply);
        for pair in items.chunks(2) {
            out.insert(pair[0].clone(), pair[1].clone());
        }
        if next == "0" {
            return out;
        }
        cursor = next;
    }
    panic!("ZSCAN never finished");
}

#[test]
fn resp3_reply_shapes() {
    let steps: &[Step] = &[
        Exact(&["ZADD", "z", "1", "a", "2.5", "b", "inf", "c", "-inf", "d"]),
        Exact(&["ZRANGE", "z", "0", "-1", "WITHSCORES"]),
        Exact(&["ZRANGE", "z", "0", "-1"]),
        Exact(&["ZRANGE", "z", "5", "9", "WITHSCORES"]),
        Exact(&[
            "ZRANGEBYSCORE",
            "z",
            "-inf",
            "+inf",
            "WITHSCORES",
            "LIMIT",
            "0",
            "2",
        ]),
        Exact(&["ZREVRANGE", "z", "0", "1", "WITHSCORES"]),
        Exact(&["ZREVRANGEBYSCORE", "z", "+inf", "(1", "WITHSCORES"]),
        Exact(&["ZSCORE", "z", "b"]),
        Exact(&["ZSCORE", "z", "c"]),
        Exact(&["ZSCORE", "z", "d"]),
        Exact(&["ZSCORE", "z", "nosuch"]),
        Exact(&["ZMSCORE", "z", "a", "nosuch"]),
        Exact(&["ZINCRBY", "z", "1", "a"]),
        Exact(&["ZADD", "z", "INCR", "1", "a"]),
        Exact(&["ZADD", "z", "XX", "INCR", "1", "nosuch"]),
        Exact(&["ZRANK", "z", "nosuch"]),
        Exact(&["ZRANK", "z", "a"]),
        Exact(&["ZPOPMIN", "z"]),
        Exact(&["ZPOPMIN", "z", "1"]),
        Exact(&["ZPOPMAX", "z", "2"]),
        Exact(&["ZPOPMIN", "z", "0"]),
        Exact(&["ZPOPMIN", "nokey"]),
        Exact(&["ZADD", "z", "1", "a", "2.5", "b", "0.1", "c", "-5", "d"]),
        Exact(&["ZRANDMEMBER", "z", "10", "WITHSCORES"]),
        Exact(&["ZRANDMEMBER", "z", "10"]),
        Exact(&["ZRANDMEMBER", "nokey"]),
        Exact(&["ZRANDMEMBER", "nokey", "3"]),
        Exact(&["ZADD", "one", "3", "only"]),
        Exact(&["ZRANDMEMBER", "one", "-2", "WITHSCORES"]),
        Exact(&["ZRANDMEMBER", "one", "1", "WITHSCORES"]),
        Exact(&["ZRANDMEMBER", "one", "-2"]),
        Exact(&["ZSCAN", "z", "0"]),
        Exact(&["ZUNION", "1", "z", "WITHSCORES"]),
        Exact(&["ZINTER", "1", "z", "WEIGHTS", "-1", "WITHSCORES"]),
        Exact(&["ZDIFF", "1", "z", "WITHSCORES"]),
        Exact(&["ZDIFF", "1", "z"]),
        Exact(&["ZINTERCARD", "1", "z"]),
    ];
    Transcript::new()
        .resp(&[3])
        .steps(steps)
        .assert_same_as_redis();
}

fn query<T: redis::FromRedisValue>(con: &mut redis::Connection, args: &[&str]) -> T {
    let mut cmd = redis::cmd(args[0]);
    for a in &args[1..] {
        cmd.arg(*a);
    }
    cmd.query(con).unwrap_or_else(|e| panic!("{args:?}: {e}"))
}

/// ZRANDMEMBER and ZSCAN results are random or unordered: check their
/// shape and contents through the `redis` crate.
#[test]
fn random_members_by_shape() {
    let s = Server::shardis(3, &[]);
    let mut con = s.redis_client();
    let members: Vec<String> = (0..10).map(|i| format!("m{i}")).collect();
    for (i, m) in members.iter().enumerate() {
        let added: i64 = query(&mut con, &["ZADD", "rz", &i.to_string(), m]);
        assert_eq!(added, 1);
    }
    let all: HashSet<&str> = members.iter().map(String::as_str).collect();

    for _ in 0..20 {
        let one: String = query(&mut con, &["ZRANDMEMBER", "rz"]);
        assert!(all.contains(one.as_str()));
    }
    // Distinct members: few (sampling) and many (shuffling) paths.
    for count in [1, 2, 3, 4, 9, 10, 11] {
        let got: Vec<String> = query(&mut con, &["ZRANDMEMBER", "rz", &count.to_string()]);
        assert_eq!(got.len(), count.min(10));
        let distinct: HashSet<&str> = got.iter().map(String::as_str).collect();
        assert_eq!(distinct.len(), got.len());
        assert!(distinct.is_subset(&all));
    }
    // Repeats allowed: exactly |count| members.
    let got: Vec<String> = query(&mut con, &["ZRANDMEMBER", "rz", "-25"]);
    assert_eq!(got.len(), 25);
    assert!(got.iter().all(|m| all.contains(m.as_str())));
    // WITHSCORES pairs carry each member's own score.
    let pairs: Vec<(String, f64)> = query(&mut con, &["ZRANDMEMBER", "rz", "-7", "WITHSCORES"]);
    assert_eq!(pairs.len(), 7);
    for (m, score) in &pairs {
        assert_eq!(format!("m{score}"), *m);
    }
    let pairs: Vec<(String, f64)> = query(&mut con, &["ZRANDMEMBER", "rz", "6", "WITHSCORES"]);
    let distinct: HashSet<&str> = pairs.iter().map(|(m, _)| m.as_str()).collect();
    assert_eq!(distinct.len(), 6);
    // A count of repeats too large to build is refused, not allocated.
    let err = redis::cmd("ZRANDMEMBER")
        .arg("rz")
        .arg("-4611686018427387903")
        .query::<Vec<String>>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("out of range"), "{err}");

    // ZPOPMIN / ZPOPMAX take the ends, whatever the count.
    let low: Vec<(String, f64)> = query(&mut con, &["ZPOPMIN", "rz", "3"]);
    assert_eq!(
        low,
        vec![("m0".into(), 0.0), ("m1".into(), 1.0), ("m2".into(), 2.0)]
    );
    let high: Vec<(String, f64)> = query(&mut con, &["ZPOPMAX", "rz", "2"]);
    assert_eq!(high, vec![("m9".into(), 9.0), ("m8".into(), 8.0)]);
    let card: i64 = query(&mut con, &["ZCARD", "rz"]);
    assert_eq!(card, 5);
}

#[test]
fn through_the_redis_crate() {
    let s = Server::shardis(3, &[]);
    let mut con = s.redis_client();
    let added: i64 = query(
        &mut con,
        &["ZADD", "board", "10", "ann", "20", "bob", "15", "cid"],
    );
    assert_eq!(added, 3);
    let score: f64 = query(&mut con, &["ZINCRBY", "board", "7.5", "ann"]);
    assert_eq!(score, 17.5);
    let top: Vec<(String, f64)> = query(&mut con, &["ZREVRANGE", "board", "0", "1", "WITHSCORES"]);
    assert_eq!(top, vec![("bob".into(), 20.0), ("ann".into(), 17.5)]);
    let rank: Option<i64> = query(&mut con, &["ZRANK", "board", "cid"]);
    assert_eq!(rank, Some(0));
    let missing: Option<f64> = query(&mut con, &["ZSCORE", "board", "nobody"]);
    assert_eq!(missing, None);
    let stored: i64 = query(&mut con, &["ZUNIONSTORE", "{b}all", "1", "{b}none"]);
    assert_eq!(stored, 0);
    // Multi-key commands across shards are refused, as in Redis Cluster
    // (slots 15495 and 3300 belong to different shards of three).
    let err = redis::cmd("ZUNIONSTORE")
        .arg("{a}dest")
        .arg(2)
        .arg("{a}x")
        .arg("{b}y")
        .query::<i64>(&mut con)
        .unwrap_err();
    assert!(
        err.to_string().to_lowercase().contains("crossslot"),
        "{err}"
    );
}
