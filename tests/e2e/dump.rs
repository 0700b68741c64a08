//! DUMP and RESTORE against the real redis-server 7.0: payloads of every
//! type and encoding Redis dumps restore in shardis (1 and 3 shards) with
//! the same contents and expiry, shardis's payloads restore in Redis, and
//! RESTORE's replies and errors are Redis's.

use std::collections::{BTreeMap, BTreeSet};

use redis::Connection;

use crate::common::{run, Server, Step::*, Transcript};

/// `SET k hello` then `DUMP k` on redis-server 7.0 (shardis dumps a short
/// string byte for byte the same).
const HELLO: &[u8] = b"\x00\x05hello\x0a\x00cr\xdfve4 \x0a";
/// The same with its version byte made 11 and a matching checksum.
const VERSION_11: &[u8] = b"\x00\x05hello\x0b\x00\x0a\xad\x62\x05\x98\xab\xc9\x83";
/// An empty set (type 2, no members) behind a good footer: Redis
/// verifies it, then refuses to load it.
const EMPTY_SET: &[u8] = b"\x02\x00\x0a\x00\x3a\xce\x39\x00\x9b\x89\x39\xe8";
/// The RDB value types redis-server 7.0 dumps [`populate`]'s keys in:
/// string, set, hash, zset2, intset, hash and zset listpacks, quicklist 2.
const REDIS_TYPES: [u8; 8] = [0, 2, 4, 5, 11, 16, 17, 18];
/// How far apart two servers' expiries may be when each set it from its
/// own clock (a relative ttl).
const EXPIRY_TOLERANCE_MS: i64 = 2000;
/// A relative ttl far enough ahead that no key expires during a test.
const TTL_MS: i64 = 1_000_000;

/// Keys of every type, in every encoding redis-server 7.0 picks by size:
/// strings as ints, short, long (LZF in a dump); lists of one listpack
/// node and of many; intsets, and sets too big or not numeric for one;
/// listpack and hashtable hashes and skiplist zsets. Some expire.
fn populate(con: &mut Connection) {
    let big_list: Vec<String> = (0..3000).map(|i| format!("item-{i}-xxxxxxxxxx")).collect();
    let ints: Vec<String> = (0..600).map(|i| (i * 7 - 300).to_string()).collect();
    let fields: Vec<String> = (0..200)
        .flat_map(|i| [format!("f{i}"), format!("v{i}")])
        .collect();
    let scored: Vec<String> = (0..200)
        .flat_map(|i| [format!("{}.25", i - 50), format!("m{i}")])
        .collect();
    let long = "abc".repeat(50);
    let mut cmds: Vec<Vec<String>> = vec![
        vec!["SET".into(), "s:raw".into(), "hello".into()],
        vec!["SET".into(), "s:int".into(), "12345".into()],
        vec!["SET".into(), "s:neg".into(), "-7".into()],
        vec!["SET".into(), "s:bigint".into(), "12345678901234".into()],
        vec!["SET".into(), "s:long".into(), long.clone()],
        vec!["SET".into(), "s:empty".into(), "".into()],
        vec![
            "RPUSH".into(),
            "l:small".into(),
            "a".into(),
            "1".into(),
            "".into(),
        ],
        vec![
            "SADD".into(),
            "set:int".into(),
            "1".into(),
            "-5".into(),
            "100000".into(),
        ],
        vec![
            "SADD".into(),
            "set:str".into(),
            "a".into(),
            "b".into(),
            "7".into(),
        ],
        vec![
            "HSET".into(),
            "h:small".into(),
            "f".into(),
            "v".into(),
            "n".into(),
            "1".into(),
        ],
        vec!["HSET".into(), "h:longval".into(), "f".into(), long],
        vec![
            "ZADD".into(),
            "z:small".into(),
            "1".into(),
            "a".into(),
            "2.5".into(),
            "b".into(),
            "-inf".into(),
            "c".into(),
        ],
        vec!["PEXPIRE".into(), "s:raw".into(), TTL_MS.to_string()],
        vec!["PEXPIRE".into(), "l:small".into(), TTL_MS.to_string()],
    ];
    let with = |head: &[&str], rest: &[String]| -> Vec<String> {
        head.iter()
            .map(|s| s.to_string())
            .chain(rest.iter().cloned())
            .collect()
    };
    cmds.push(with(&["RPUSH", "l:big"], &big_list));
    cmds.push(with(&["SADD", "set:big"], &ints));
    cmds.push(with(&["HSET", "h:big"], &fields));
    cmds.push(with(&["ZADD", "z:big"], &scored));
    cmds.push(vec!["PEXPIRE".into(), "z:big".into(), TTL_MS.to_string()]);
    for cmd in cmds {
        let args: Vec<&[u8]> = cmd.iter().map(|a| a.as_bytes()).collect();
        run(con, &args);
    }
}

/// A value as text both servers give alike, and its PEXPIRETIME.
type Contents = BTreeMap<String, (String, i64)>;

fn contents(con: &mut Connection) -> Contents {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(con).expect("KEYS");
    let mut out = Contents::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query(con).expect("TYPE");
        let read = |con: &mut Connection, args: &[&str]| -> Vec<Vec<u8>> {
            let mut cmd = redis::cmd(args[0]);
            cmd.arg(&key);
            for a in &args[1..] {
                cmd.arg(*a);
            }
            cmd.query(con).expect("read")
        };
        let mut items = match kind.as_str() {
            "string" => vec![redis::cmd("GET").arg(&key).query(con).expect("GET")],
            "list" => read(con, &["LRANGE", "0", "-1"]),
            "set" => read(con, &["SMEMBERS"]),
            "hash" => read(con, &["HGETALL"])
                .chunks(2)
                .map(|p| p.concat())
                .collect(),
            "zset" => read(con, &["ZRANGE", "0", "-1", "WITHSCORES"]),
            other => panic!("{key}: unexpected type {other}"),
        };
        if kind == "set" || kind == "hash" {
            items.sort();
        }
        let text = format!("{kind} {:?}", items);
        let expiry: i64 = redis::cmd("PEXPIRETIME")
            .arg(&key)
            .query(con)
            .expect("PEXPIRETIME");
        out.insert(key, (text, expiry));
    }
    out
}

/// Every key of `from` DUMPed and RESTOREd into `to`: keys with an expiry
/// get it absolute (ABSTTL), except `s:raw`, which gets its time left.
/// The payloads' first bytes: the RDB value types `from` dumped.
fn copy_all(from: &mut Connection, to: &mut Connection) -> BTreeSet<u8> {
    let keys: Vec<String> = redis::cmd("KEYS").arg("*").query(from).expect("KEYS");
    let mut types = BTreeSet::new();
    for key in keys {
        let payload: Vec<u8> = redis::cmd("DUMP").arg(&key).query(from).expect("DUMP");
        types.extend(payload.first());
        let at: i64 = redis::cmd("PEXPIRETIME")
            .arg(&key)
            .query(from)
            .expect("PEXPIRETIME");
        let mut restore = redis::cmd("RESTORE");
        restore.arg(&key);
        if at < 0 {
            restore.arg(0).arg(&payload);
        } else if key == "s:raw" {
            let left: i64 = redis::cmd("PTTL").arg(&key).query(from).expect("PTTL");
            restore.arg(left).arg(&payload);
        } else {
            restore.arg(at).arg(&payload).arg("ABSTTL");
        }
        let reply: String = restore
            .query(to)
            .unwrap_or_else(|e| panic!("RESTORE {key}: {e}"));
        assert_eq!(reply, "OK", "RESTORE {key}");
    }
    types
}

/// The two contents equal, expiries within [`EXPIRY_TOLERANCE_MS`].
fn assert_same(mine: &Contents, theirs: &Contents, context: &str) {
    assert_eq!(
        mine.keys().collect::<Vec<_>>(),
        theirs.keys().collect::<Vec<_>>(),
        "{context}: keys"
    );
    assert!(mine.len() >= 15, "{context}: too few keys: {mine:?}");
    for (key, (value, expiry)) in mine {
        let (their_value, their_expiry) = &theirs[key];
        assert_eq!(value, their_value, "{context}: {key}");
        assert_eq!(*expiry < 0, *their_expiry < 0, "{context}: {key} expiry");
        assert!(
            (expiry - their_expiry).abs() <= EXPIRY_TOLERANCE_MS,
            "{context}: {key} expires at {expiry}, not {their_expiry}"
        );
    }
}

#[test]
fn redis_payloads_of_every_type_and_encoding_restore_in_shardis() {
    let redis = Server::redis(&[]);
    let mut theirs = redis.redis_client();
    populate(&mut theirs);
    let expected = contents(&mut theirs);
    for shards in [1, 3] {
        let shardis = Server::shardis(shards, &[]);
        let mut ours = shardis.redis_client();
        let types = copy_all(&mut theirs, &mut ours);
        assert_eq!(
            types,
            REDIS_TYPES.into_iter().collect(),
            "the encodings redis-server dumps"
        );
        assert_same(
            &contents(&mut ours),
            &expected,
            &format!("{shards} shard(s)"),
        );
    }
}

#[test]
fn shardis_payloads_of_every_type_restore_in_redis() {
    for shards in [1, 3] {
        let shardis = Server::shardis(shards, &[]);
        let mut ours = shardis.redis_client();
        populate(&mut ours);
        let redis = Server::redis(&[]);
        let mut theirs = redis.redis_client();
        copy_all(&mut ours, &mut theirs);
        assert_same(
            &contents(&mut theirs),
            &contents(&mut ours),
            &format!("{shards} shard(s)"),
        );
    }
}

#[test]
fn restore_replies_and_errors_match_redis() {
    let abs_future = "4102444800000"; // 2100-01-01
    Transcript::new()
        .steps(&[
            Exact(&["DUMP", "nope"]),
            Exact(&["SET", "str", "hello"]),
            Exact(&["DUMP", "str"]),
            Exact(&["SET", "k", "v"]),
        ])
        .cmd_bytes(&[b"RESTORE", b"new", b"0", HELLO])
        .cmd(&["GET", "new"])
        .cmd(&["TTL", "new"])
        // BUSYKEY, and what is checked before and after it.
        .cmd_bytes(&[b"RESTORE", b"k", b"0", HELLO])
        .cmd_bytes(&[b"RESTORE", b"k", b"x", HELLO])
        .cmd_bytes(&[b"RESTORE", b"k", b"0", HELLO, b"BOGUS"])
        .cmd_bytes(&[b"RESTORE", b"k", b"0", b"garbage"])
        .cmd_bytes(&[b"RESTORE", b"k", b"0", HELLO, b"REPLACE"])
        .cmd(&["GET", "k"])
        // The ttl.
        .cmd_bytes(&[b"RESTORE", b"t", b"-1", HELLO])
        .cmd_bytes(&[b"RESTORE", b"t", b"1.5", HELLO])
        .cmd_bytes(&[b"RESTORE", b"t", b"100000", HELLO])
        .cmd(&["TTL", "t"])
        .cmd_bytes(&[b"RESTORE", b"a", abs_future.as_bytes(), HELLO, b"absttl"])
        .cmd(&["PEXPIRETIME", "a"])
        .cmd_bytes(&[b"RESTORE", b"z", b"0", HELLO, b"ABSTTL"])
        .cmd(&["TTL", "z"])
        // A deadline already past: nothing created; REPLACE still deletes.
        .cmd_bytes(&[b"RESTORE", b"p", b"1000", HELLO, b"ABSTTL"])
        .cmd(&["EXISTS", "p"])
        .cmd_bytes(&[b"RESTORE", b"k", b"1", HELLO, b"ABSTTL", b"REPLACE"])
        .cmd(&["EXISTS", "k"])
        // Payloads: version, checksum, data.
        .cmd_bytes(&[b"RESTORE", b"b", b"0", b""])
        .cmd_bytes(&[b"RESTORE", b"b", b"0", &HELLO[..HELLO.len() - 1]])
        .cmd_bytes(&[b"RESTORE", b"b", b"0", VERSION_11])
        .cmd_bytes(&[b"RESTORE", b"b", b"0", EMPTY_SET])
        .cmd(&["EXISTS", "b"])
        // IDLETIME and FREQ: checked, exclusive, then ignored.
        .cmd_bytes(&[b"RESTORE", b"i", b"0", HELLO, b"IDLETIME", b"-1"])
        .cmd_bytes(&[b"RESTORE", b"i", b"0", HELLO, b"IDLETIME", b"x"])
        .cmd_bytes(&[b"RESTORE", b"i", b"0", HELLO, b"IDLETIME"])
        .cmd_bytes(&[b"RESTORE", b"i", b"0", HELLO, b"FREQ", b"256"])
        .cmd_bytes(&[b"RESTORE", b"i", b"0", HELLO, b"FREQ", b"-1"])
        .cmd_bytes(&[
            b"RESTORE",
            b"i",
            b"0",
            HELLO,
            b"IDLETIME",
            b"1",
            b"FREQ",
            b"1",
        ])
        .cmd_bytes(&[
            b"RESTORE",
            b"i",
            b"0",
            HELLO,
            b"FREQ",
            b"1",
            b"IDLETIME",
            b"1",
        ])
        .cmd_bytes(&[
            b"RESTORE",
            b"i",
            b"0",
            HELLO,
            b"IDLETIME",
            b"5",
            b"IDLETIME",
            b"0",
        ])
        .cmd_bytes(&[b"RESTORE", b"f", b"0", HELLO, b"FREQ", b"255", b"REPLACE"])
        .cmd(&["GET", "f"])
        // Arity.
        .steps(&[
            Exact(&["DUMP"]),
            Exact(&["DUMP", "a", "b"]),
            Exact(&["RESTORE", "k", "0"]),
            Exact(&["RESTORE"]),
        ])
        .assert_same_as_redis();
}
