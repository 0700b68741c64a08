//! End-to-end: the list family against the real redis-server 7.

use crate::common;

use common::{Server, Step, Step::*, Transcript};

#[test]
fn push_pop_and_len() {
    Transcript::new()
        .steps(&[
            Exact(&["SET", "s", "x"]),
            Exact(&["LPUSH", "l", "a", "b", "c"]),
            Exact(&["RPUSH", "l", "d", "e"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LLEN", "l"]),
            Exact(&["LLEN", "nokey"]),
            Exact(&["LLEN", "s"]),
            Exact(&["LPUSHX", "nokey", "a"]),
            Exact(&["RPUSHX", "nokey", "a", "b"]),
            Exact(&["EXISTS", "nokey"]),
            Exact(&["LPUSHX", "l", "x", "y"]),
            Exact(&["RPUSHX", "l", "z"]),
            Exact(&["LPUSH", "s", "a"]),
            Exact(&["RPUSH", "s", "a"]),
            Exact(&["LPUSHX", "s", "a"]),
            Exact(&["RPUSHX", "s", "a"]),
            Exact(&["LPUSH", "l"]),
            Exact(&["LPUSHX", "l"]),
            // Pops without a count: bulk or nil.
            Exact(&["LPOP", "l"]),
            Exact(&["RPOP", "l"]),
            Exact(&["LPOP", "nokey"]),
            Exact(&["RPOP", "nokey"]),
            Exact(&["LPOP", "s"]),
            // With a count: array, empty array for 0, nil array for no key.
            Exact(&["LPOP", "l", "2"]),
            Exact(&["RPOP", "l", "2"]),
            Exact(&["LPOP", "l", "0"]),
            Exact(&["RPOP", "l", "0"]),
            Exact(&["LPOP", "nokey", "0"]),
            Exact(&["LPOP", "nokey", "3"]),
            Exact(&["RPOP", "nokey", "3"]),
            Exact(&["LPOP", "s", "0"]),
            Exact(&["LPOP", "l", "-1"]),
            Exact(&["LPOP", "nokey", "abc"]),
            Exact(&["RPOP", "s", "abc"]),
            Exact(&["LPOP", "l", "1", "2"]),
            Exact(&["RPOP", "l", "1", "2"]),
            Exact(&["LPOP"]),
            // A huge count pops what there is; the emptied list is deleted.
            Exact(&["RPOP", "l", "4611686018427387904"]),
            Exact(&["EXISTS", "l"]),
            Exact(&["RPUSH", "l", "only"]),
            Exact(&["LPOP", "l"]),
            Exact(&["EXISTS", "l"]),
            Exact(&["RPUSH", "l", "one"]),
            Exact(&["LPOP", "l", "9223372036854775807"]),
            Exact(&["EXISTS", "l"]),
            Exact(&["GET", "s"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn range_index_set_and_trim() {
    Transcript::new()
        .steps(&[
            Exact(&["SET", "s", "x"]),
            Exact(&[
                "RPUSH", "l", "0", "1", "2", "3", "4", "5", "6", "7", "8", "9",
            ]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LRANGE", "l", "-100", "100"]),
            Exact(&["LRANGE", "l", "5", "2"]),
            Exact(&["LRANGE", "l", "-3", "-1"]),
            Exact(&["LRANGE", "l", "9", "100"]),
            Exact(&["LRANGE", "l", "10", "100"]),
            Exact(&["LRANGE", "l", "2", "2"]),
            Exact(&["LRANGE", "l", "-1", "-3"]),
            Exact(&["LRANGE", "l", "-9223372036854775808", "9223372036854775807"]),
            Exact(&["LRANGE", "l", "0", "-9223372036854775808"]),
            Exact(&["LRANGE", "l", "a", "1"]),
            Exact(&["LRANGE", "l", "0", "1.5"]),
            Exact(&["LRANGE", "nokey", "0", "-1"]),
            Exact(&["LRANGE", "nokey", "x", "-1"]),
            Exact(&["LRANGE", "s", "0", "-1"]),
            Exact(&["LRANGE", "s", "x", "-1"]),
            Exact(&["LINDEX", "l", "0"]),
            Exact(&["LINDEX", "l", "-1"]),
            Exact(&["LINDEX", "l", "-10"]),
            Exact(&["LINDEX", "l", "-11"]),
            Exact(&["LINDEX", "l", "10"]),
            Exact(&["LINDEX", "l", "9223372036854775807"]),
            Exact(&["LINDEX", "l", "-9223372036854775808"]),
            Exact(&["LINDEX", "l", "abc"]),
            Exact(&["LINDEX", "nokey", "abc"]),
            Exact(&["LINDEX", "nokey", "0"]),
            Exact(&["LINDEX", "s", "abc"]),
            Exact(&["LSET", "l", "0", "first"]),
            Exact(&["LSET", "l", "-1", "last"]),
            Exact(&["LSET", "l", "10", "x"]),
            Exact(&["LSET", "l", "-11", "x"]),
            Exact(&["LSET", "l", "-9223372036854775808", "x"]),
            Exact(&["LSET", "l", "abc", "x"]),
            Exact(&["LSET", "nokey", "abc", "x"]),
            Exact(&["LSET", "nokey", "0", "x"]),
            Exact(&["LSET", "s", "abc", "x"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LTRIM", "l", "1", "-2"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LTRIM", "l", "-3", "100"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LTRIM", "l", "a", "1"]),
            Exact(&["LTRIM", "nokey", "a", "1"]),
            Exact(&["LTRIM", "nokey", "0", "1"]),
            Exact(&["EXISTS", "nokey"]),
            Exact(&["LTRIM", "s", "0", "1"]),
            Exact(&["LTRIM", "l", "2", "1"]),
            Exact(&["EXISTS", "l"]),
            Exact(&["RPUSH", "l", "a", "b", "c"]),
            Exact(&["LTRIM", "l", "0", "-9223372036854775808"]),
            Exact(&["EXISTS", "l"]),
            Exact(&["RPUSH", "l", "a", "b", "c"]),
            Exact(&["LTRIM", "l", "5", "10"]),
            Exact(&["EXISTS", "l"]),
            Exact(&["RPUSH", "l", "a", "b", "c"]),
            Exact(&["LTRIM", "l", "-9223372036854775808", "9223372036854775807"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn lrem_and_linsert() {
    Transcript::new()
        .steps(&[
            Exact(&["SET", "s", "x"]),
            Exact(&["RPUSH", "l", "a", "b", "a", "c", "a", "d", "a"]),
            Exact(&["LREM", "l", "-2", "a"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LREM", "l", "1", "a"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LREM", "l", "5", "zz"]),
            Exact(&["RPUSH", "l", "a", "b", "a", "b"]),
            Exact(&["LREM", "l", "0", "b"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LREM", "l", "-100", "a"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["RPUSH", "l", "a", "x", "a"]),
            Exact(&["LREM", "l", "-9223372036854775808", "a"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LREM", "l", "9223372036854775807", "x"]),
            Exact(&["LREM", "l", "x", "a"]),
            Exact(&["LREM", "nokey", "x", "a"]),
            Exact(&["LREM", "nokey", "1", "a"]),
            Exact(&["LREM", "s", "1", "a"]),
            Exact(&["LREM", "l", "0", "c"]),
            Exact(&["LREM", "l", "0", "d"]),
            Exact(&["EXISTS", "l"]),
            Exact(&["RPUSH", "l", "1", "2", "3", "2"]),
            Exact(&["LINSERT", "l", "BEFORE", "2", "x"]),
            Exact(&["LINSERT", "l", "after", "2", "y"]),
            Exact(&["LINSERT", "l", "AFTER", "2", "z"]),
            Exact(&["LINSERT", "l", "before", "1", "first"]),
            Exact(&["LINSERT", "l", "after", "2", "last"]),
            Exact(&["LRANGE", "l", "0", "-1"]),
            Exact(&["LINSERT", "l", "before", "nope", "x"]),
            Exact(&["LINSERT", "l", "middle", "2", "x"]),
            Exact(&["LINSERT", "nokey", "middle", "2", "x"]),
            Exact(&["LINSERT", "nokey", "before", "2", "x"]),
            Exact(&["EXISTS", "nokey"]),
            Exact(&["LINSERT", "s", "before", "2", "x"]),
            Exact(&["LINSERT", "s", "middle", "2", "x"]),
            Exact(&["LINSERT", "l", "before", "2"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn lpos_options_and_errors() {
    Transcript::new()
        .steps(&[
            Exact(&["SET", "s", "x"]),
            Exact(&["RPUSH", "l", "a", "b", "c", "a", "b", "c", "a"]),
            Exact(&["LPOS", "l", "a"]),
            Exact(&["LPOS", "l", "c"]),
            Exact(&["LPOS", "l", "zz"]),
            Exact(&["LPOS", "l", "a", "RANK", "2"]),
            Exact(&["LPOS", "l", "a", "RANK", "4"]),
            Exact(&["LPOS", "l", "a", "RANK", "-1"]),
            Exact(&["LPOS", "l", "a", "RANK", "-3"]),
            Exact(&["LPOS", "l", "a", "RANK", "9223372036854775807"]),
            Exact(&["LPOS", "l", "a", "RANK", "-9223372036854775807"]),
            Exact(&["LPOS", "l", "a", "RANK", "-9223372036854775808"]),
            Exact(&[
                "LPOS",
                "l",
                "a",
                "RANK",
                "-9223372036854775808",
                "COUNT",
                "2",
            ]),
            Exact(&["LPOS", "l", "a", "COUNT", "0"]),
            Exact(&["LPOS", "l", "a", "COUNT", "2"]),
            Exact(&["LPOS", "l", "a", "COUNT", "9223372036854775807"]),
            Exact(&["LPOS", "l", "zz", "COUNT", "0"]),
            Exact(&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "0"]),
            Exact(&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "1"]),
            Exact(&["LPOS", "l", "a", "COUNT", "0", "MAXLEN", "4"]),
            Exact(&["LPOS", "l", "a", "RANK", "-1", "COUNT", "0", "MAXLEN", "4"]),
            Exact(&["LPOS", "l", "a", "RANK", "-2", "COUNT", "2"]),
            Exact(&["LPOS", "l", "a", "RANK", "2", "COUNT", "1"]),
            Exact(&["LPOS", "l", "c", "MAXLEN", "2"]),
            Exact(&["LPOS", "l", "c", "MAXLEN", "3"]),
            Exact(&["LPOS", "l", "c", "MAXLEN", "9223372036854775807"]),
            Exact(&["LPOS", "l", "a", "rank", "2", "rank", "1"]),
            Exact(&["LPOS", "l", "a", "count", "2", "count", "1"]),
            Exact(&["LPOS", "nokey", "a"]),
            Exact(&["LPOS", "nokey", "a", "COUNT", "0"]),
            Exact(&["LPOS", "nokey", "a", "COUNT", "1"]),
            Exact(&["LPOS", "s", "a"]),
            Exact(&["LPOS", "s", "a", "COUNT", "1"]),
            Exact(&["LPOS", "nokey", "a", "RANK", "0"]),
            Exact(&["LPOS", "l", "a", "RANK", "0"]),
            Exact(&["LPOS", "l", "a", "RANK", "x"]),
            Exact(&["LPOS", "l", "a", "RANK", "1.5"]),
            Exact(&["LPOS", "l", "a", "COUNT", "-1"]),
            Exact(&["LPOS", "l", "a", "COUNT", "x"]),
            Exact(&["LPOS", "l", "a", "MAXLEN", "-1"]),
            Exact(&["LPOS", "l", "a", "MAXLEN", "x"]),
            Exact(&["LPOS", "l", "a", "RANK"]),
            Exact(&["LPOS", "l", "a", "COUNT"]),
            Exact(&["LPOS", "l", "a", "FOO", "1"]),
            Exact(&["LPOS", "l", "a", "RANK", "0", "FOO"]),
            Exact(&["LPOS", "s", "a", "FOO"]),
            Exact(&["LPOS", "l"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn lmove_rpoplpush_and_lmpop() {
    Transcript::new()
        .steps(&[
            Exact(&["SET", "{t}s", "x"]),
            Exact(&["RPUSH", "{t}a", "1", "2", "3"]),
            Exact(&["LMOVE", "{t}a", "{t}b", "LEFT", "RIGHT"]),
            Exact(&["LMOVE", "{t}a", "{t}b", "right", "left"]),
            Exact(&["LRANGE", "{t}a", "0", "-1"]),
            Exact(&["LRANGE", "{t}b", "0", "-1"]),
            Exact(&["LMOVE", "{t}b", "{t}b", "LEFT", "RIGHT"]),
            Exact(&["LRANGE", "{t}b", "0", "-1"]),
            Exact(&["LMOVE", "{t}b", "{t}b", "RIGHT", "LEFT"]),
            Exact(&["LMOVE", "{t}b", "{t}b", "LEFT", "LEFT"]),
            Exact(&["LRANGE", "{t}b", "0", "-1"]),
            Exact(&["LMOVE", "{t}a", "{t}b", "left", "left"]),
            Exact(&["EXISTS", "{t}a"]),
            Exact(&["LMOVE", "{t}a", "{t}b", "left", "left"]),
            Exact(&["LMOVE", "{t}a", "{t}s", "left", "left"]),
            Exact(&["LMOVE", "{t}s", "{t}b", "left", "left"]),
            Exact(&["LMOVE", "{t}b", "{t}s", "left", "left"]),
            Exact(&["LRANGE", "{t}b", "0", "-1"]),
            Exact(&["LMOVE", "{t}b", "{t}a", "middle", "left"]),
            Exact(&["LMOVE", "{t}b", "{t}a", "left", "middle"]),
            Exact(&["LMOVE", "{t}s", "{t}a", "middle", "left"]),
            Exact(&["LMOVE", "{t}b", "{t}a"]),
            Exact(&["RPOPLPUSH", "{t}b", "{t}c"]),
            Exact(&["RPOPLPUSH", "{t}b", "{t}c"]),
            Exact(&["RPOPLPUSH", "{t}c", "{t}c"]),
            Exact(&["LRANGE", "{t}c", "0", "-1"]),
            Exact(&["RPOPLPUSH", "{t}b", "{t}c"]),
            Exact(&["EXISTS", "{t}b"]),
            Exact(&["RPOPLPUSH", "{t}b", "{t}c"]),
            Exact(&["RPOPLPUSH", "{t}s", "{t}c"]),
            Exact(&["RPOPLPUSH", "{t}c", "{t}s"]),
            Exact(&["RPOPLPUSH", "{t}nokey", "{t}s"]),
            Exact(&["LRANGE", "{t}c", "0", "-1"]),
            // LMPOP: the first non-empty list, nil array when there is none.
            Exact(&["RPUSH", "{t}x", "1", "2", "3", "4"]),
            Exact(&["LMPOP", "2", "{t}none", "{t}x", "LEFT"]),
            Exact(&["LMPOP", "2", "{t}none", "{t}x", "RIGHT", "COUNT", "2"]),
            Exact(&["LMPOP", "1", "{t}x", "left", "count", "9223372036854775807"]),
            Exact(&["EXISTS", "{t}x"]),
            Exact(&["LMPOP", "2", "{t}none", "{t}x", "LEFT"]),
            Exact(&["LMPOP", "1", "{t}s", "LEFT"]),
            Exact(&["LMPOP", "2", "{t}none", "{t}s", "LEFT"]),
            Exact(&[
                "LMPOP", "3", "{t}none", "{t}c", "{t}s", "LEFT", "COUNT", "1",
            ]),
            Exact(&["LMPOP", "1", "{t}x", "middle"]),
            Exact(&["LMPOP", "1", "{t}x", "left", "count", "0"]),
            Exact(&["LMPOP", "1", "{t}x", "left", "count", "-1"]),
            Exact(&["LMPOP", "1", "{t}x", "left", "count", "x"]),
            Exact(&["LMPOP", "1", "{t}x", "left", "count", "1", "count", "2"]),
            Exact(&["LMPOP", "1", "{t}x", "left", "count"]),
            Exact(&["LMPOP", "1", "{t}x", "left", "foo"]),
            Exact(&["LMPOP", "1", "{t}x"]),
            Exact(&["LMPOP", "0", "{t}x", "left"]),
            Exact(&["LMPOP", "-1", "{t}x", "left"]),
            Exact(&["LMPOP", "x", "{t}x", "left"]),
        ])
        .assert_same_as_redis();
}

/// Malformed key counts: with several shards the words after the keys can
/// be taken for keys (as Redis Cluster would), so these run on one shard.
#[test]
fn lmpop_bad_numkeys_on_one_shard() {
    Transcript::new()
        .shards(&[1])
        .steps(&[
            Exact(&["RPUSH", "a", "1"]),
            Exact(&["LMPOP", "2", "a", "left"]),
            Exact(&["LMPOP", "3", "a", "left"]),
            Exact(&["LMPOP", "9223372036854775807", "a", "left"]),
            Exact(&["LMPOP", "18446744073709551616", "a", "left"]),
            Exact(&["LMPOP", "1", "a", "left", "count", "2"]),
        ])
        .assert_same_as_redis();
}

/// The nil forms in RESP3: `_` for both the nil bulk and the nil array.
#[test]
fn resp3_nil_forms() {
    let steps: &[Step] = &[
        Exact(&["SET", "{t}s", "x"]),
        Exact(&["LPOP", "{t}nokey"]),
        Exact(&["RPOP", "{t}nokey"]),
        Exact(&["LPOP", "{t}nokey", "0"]),
        Exact(&["RPOP", "{t}nokey", "2"]),
        Exact(&["LINDEX", "{t}nokey", "0"]),
        Exact(&["LPOS", "{t}nokey", "a"]),
        Exact(&["LPOS", "{t}nokey", "a", "COUNT", "0"]),
        Exact(&["LMOVE", "{t}nokey", "{t}b", "LEFT", "LEFT"]),
        Exact(&["RPOPLPUSH", "{t}nokey", "{t}b"]),
        Exact(&["LMPOP", "2", "{t}nokey", "{t}other", "LEFT"]),
        Exact(&["RPUSH", "{t}l", "a", "b", "c"]),
        Exact(&["LPOP", "{t}l", "0"]),
        Exact(&["RPOP", "{t}l", "2"]),
        Exact(&["LPOS", "{t}l", "zz"]),
        Exact(&["LPOS", "{t}l", "zz", "COUNT", "0"]),
        Exact(&["LINDEX", "{t}l", "5"]),
        Exact(&["LMPOP", "1", "{t}l", "RIGHT", "COUNT", "5"]),
        Exact(&["LPOP", "{t}s", "1"]),
    ];
    Transcript::new()
        .resp(&[3])
        .steps(steps)
        .assert_same_as_redis();
}

#[test]
fn multi_key_commands_across_shards_are_crossslot() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    // "a" (slot 15495) and "b" (slot 3300) are on different shards of 3.
    let crossslot = "-CROSSSLOT Keys in request don't hash to the same slot\r\n";
    assert_eq!(c.cmd(&["RPUSH", "a", "1"]), ":1\r\n");
    assert_eq!(c.cmd(&["LMOVE", "a", "b", "LEFT", "LEFT"]), crossslot);
    assert_eq!(c.cmd(&["RPOPLPUSH", "a", "b"]), crossslot);
    assert_eq!(c.cmd(&["LMPOP", "2", "a", "b", "LEFT"]), crossslot);
    // Nothing moved.
    assert_eq!(c.cmd(&["LLEN", "a"]), ":1\r\n");
    assert_eq!(c.cmd(&["EXISTS", "b"]), ":0\r\n");
    // Hash tags keep keys together.
    assert_eq!(c.cmd(&["RPUSH", "{u}a", "1"]), ":1\r\n");
    assert_eq!(
        c.cmd(&["LMOVE", "{u}a", "{u}b", "LEFT", "LEFT"]),
        "$1\r\n1\r\n"
    );
    assert_eq!(
        c.cmd(&["LMPOP", "2", "{u}a", "{u}b", "LEFT"]),
        "*2\r\n$4\r\n{u}b\r\n*1\r\n$1\r\n1\r\n"
    );
}

#[test]
fn through_the_redis_crate() {
    let s = Server::shardis(3, &[]);
    let mut con = s.redis_client();
    let n: i64 = redis::cmd("RPUSH")
        .arg("q")
        .arg(&["a", "b", "c", "b"])
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 4);
    let all: Vec<String> = redis::cmd("LRANGE")
        .arg("q")
        .arg(0)
        .arg(-1)
        .query(&mut con)
        .unwrap();
    assert_eq!(all, ["a", "b", "c", "b"]);
    let pos: Vec<i64> = redis::cmd("LPOS")
        .arg("q")
        .arg("b")
        .arg("COUNT")
        .arg(0)
        .query(&mut con)
        .unwrap();
    assert_eq!(pos, [1, 3]);
    let first: Option<String> = redis::cmd("LPOP").arg("q").query(&mut con).unwrap();
    assert_eq!(first.as_deref(), Some("a"));
    let popped: Option<Vec<String>> = redis::cmd("RPOP")
        .arg("nokey")
        .arg(2)
        .query(&mut con)
        .unwrap();
    assert_eq!(popped, None);
    let (key, items): (String, Vec<String>) = redis::cmd("LMPOP")
        .arg(2)
        .arg("nokey")
        .arg("q")
        .arg("RIGHT")
        .arg("COUNT")
        .arg(10)
        .query(&mut con)
        .unwrap();
    assert_eq!(
        (key.as_str(), items),
        ("q", vec!["b".to_string(), "c".into(), "b".into()])
    );
    let exists: i64 = redis::cmd("EXISTS").arg("q").query(&mut con).unwrap();
    assert_eq!(exists, 0);
}

/// Whole-list edits on a big list stay linear: LREM of every other element
/// and an LTRIM of 100k elements answer promptly.
#[test]
fn big_lists_stay_fast() {
    let s = Server::shardis(1, &[]);
    let mut c = s.client();
    let chunk: Vec<&str> = std::iter::once("RPUSH")
        .chain(std::iter::once("big"))
        .chain(["x", "y"].repeat(500))
        .collect();
    for _ in 0..100 {
        c.cmd(&chunk);
    }
    assert_eq!(c.cmd(&["LLEN", "big"]), ":100000\r\n");
    let start = std::time::Instant::now();
    assert_eq!(c.cmd(&["LREM", "big", "0", "x"]), ":50000\r\n");
    assert_eq!(c.cmd(&["LREM", "big", "-25000", "y"]), ":25000\r\n");
    assert_eq!(c.cmd(&["LTRIM", "big", "10", "-10"]), "+OK\r\n");
    assert_eq!(c.cmd(&["LLEN", "big"]), ":24981\r\n");
    assert_eq!(
        c.cmd(&["LPOS", "big", "y", "RANK", "-1", "MAXLEN", "0"]),
        ":24980\r\n"
    );
    assert!(
        start.elapsed() < std::time::Duration::from_secs(2),
        "took {:?}",
        start.elapsed()
    );
}
