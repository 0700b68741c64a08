//! End-to-end tests of keyspace notifications delivered through pub/sub:
//! a subscriber (`PSUBSCRIBE __key*@*__:*`) receives exactly the messages
//! redis-server sends for the same commands, with 1 shard and with 2
//! shards where the subscriber's core is not the keys' shard.
//!
//! Each scenario's keys share one hash tag, so all its events come from
//! one shard, in the order that shard applied the changes (events of
//! different shards may interleave in any order). The messages are
//! compared as one sequence per scenario: redis-server's are read until
//! the subscriber is quiet, shardis's are read by that count, then it
//! must be quiet too.

use crate::common;

use std::time::Duration;

use common::{connect_to_core, key_on, Raw, Server};

/// The pattern every scenario subscribes to.
const PATTERN: &str = "__key*@*__:*";
/// How long a subscriber with nothing more to read stays quiet before
/// the scenario counts as over (redis-server delivers before it replies).
const QUIET: Duration = Duration::from_millis(300);

/// One step of a scenario, on the connection that runs commands.
enum Step<'a> {
    /// A command; its reply is compared too.
    Cmd(&'a [&'a str]),
    /// A pause (an expiry to happen).
    Sleep(u64),
}
use Step::*;

/// What a server sent: every reply of the command connection, then every
/// message the subscriber received.
#[derive(Debug, PartialEq, Eq)]
struct Played {
    replies: Vec<String>,
    messages: Vec<String>,
}

/// Plays `steps` with `notify-keyspace-events` set to `flags`; `sub` and
/// `cmds` are the subscriber's and the command connection's; `expected`
/// messages are read (None: read until quiet), then the subscriber must
/// be quiet.
fn play(
    mut sub: Raw,
    mut cmds: Raw,
    flags: &str,
    steps: &[Step],
    expected: Option<usize>,
) -> Played {
    let setup = cmds.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    assert_eq!(setup, "+OK\r\n", "flags {flags:?}");
    cmds.cmd(&["FLUSHALL"]);
    sub.send(&[b"PSUBSCRIBE", PATTERN.as_bytes()]);
    let confirmed = sub.read_reply();
    assert!(confirmed.contains("psubscribe"), "{confirmed:?}");
    let mut replies = Vec::new();
    for step in steps {
        match step {
            Cmd(args) => replies.push(cmds.cmd(args)),
            Sleep(ms) => std::thread::sleep(Duration::from_millis(*ms)),
        }
    }
    let mut messages = Vec::new();
    if let Some(n) = expected {
        for _ in 0..n {
            messages.push(sub.read_reply());
        }
    }
    while let Some(extra) = sub.read_reply_within(QUIET) {
        messages.push(String::from_utf8_lossy(&extra).into_owned());
    }
    Played { replies, messages }
}

/// A key tag on shard 1 of 2 (shard 0 of 1): `{tag}name` keys.
fn tag() -> String {
    key_on(1, 2, "t")
}

/// Runs a scenario against redis-server, then shardis with 1 shard and
/// with 2 (the subscriber on core 0, the keys on shard 1, the commands
/// sent from core 0 too, so they are forwarded), and compares.
fn assert_same_events(flags: &str, steps: &[Step]) {
    let redis = Server::redis(&[]);
    let expected = play(redis.client(), redis.client(), flags, steps, None);
    assert!(
        !expected.messages.is_empty() || steps.is_empty(),
        "redis-server published nothing: the scenario tests nothing"
    );
    for shards in [1, 2] {
        let server = Server::shardis(shards, &[]);
        let sub = connect_to_core(server.port, 0);
        let cmds = connect_to_core(server.port, 0);
        let got = play(sub, cmds, flags, steps, Some(expected.messages.len()));
        assert_eq!(
            got, expected,
            "shardis with {shards} shard(s) (left) against redis-server (right)"
        );
    }
}

/// `{tag}name`.
fn k(tag: &str, name: &str) -> String {
    format!("{{{tag}}}{name}")
}

#[test]
fn notify_generic_and_string_commands() {
    let t = tag();
    let (a, b, c) = (k(&t, "a"), k(&t, "b"), k(&t, "c"));
    assert_same_events(
        "KEA",
        &[
            Cmd(&["SET", &a, "1"]),
            Cmd(&["SET", &a, "2", "EX", "100"]),
            Cmd(&["INCR", &b]),
            Cmd(&["INCRBYFLOAT", &b, "1.5"]),
            Cmd(&["APPEND", &c, "x"]),
            Cmd(&["SETRANGE", &c, "3", "y"]),
            Cmd(&["GETSET", &c, "z"]),
            Cmd(&["MSET", &a, "1", &c, "2"]),
            Cmd(&["EXPIRE", &a, "100"]),
            Cmd(&["PERSIST", &a]),
            Cmd(&["RENAME", &a, &b]),
            Cmd(&["COPY", &b, &a]),
            Cmd(&["MOVE", &a, "3"]),
            Cmd(&["GETDEL", &c]),
            Cmd(&["EXPIRE", &b, "0"]),
            Cmd(&["SET", &a, "v"]),
            Cmd(&["DEL", &a, &b, &c]),
        ],
    );
}

#[test]
fn notify_list_hash_set_and_sorted_set_commands() {
    let t = tag();
    let (l, l2, h, s, s2, z, d) = (
        k(&t, "l"),
        k(&t, "l2"),
        k(&t, "h"),
        k(&t, "s"),
        k(&t, "s2"),
        k(&t, "z"),
        k(&t, "d"),
    );
    assert_same_events(
        "KEA",
        &[
            Cmd(&["RPUSH", &l, "a", "b", "c"]),
            Cmd(&["LPUSH", &l, "x"]),
            Cmd(&["LSET", &l, "0", "y"]),
            Cmd(&["LINSERT", &l, "BEFORE", "y", "w"]),
            Cmd(&["LREM", &l, "1", "w"]),
            Cmd(&["LMOVE", &l, &l2, "LEFT", "RIGHT"]),
            Cmd(&["LTRIM", &l, "0", "0"]),
            Cmd(&["RPOP", &l]),
            Cmd(&["LMPOP", "1", &l2, "LEFT", "COUNT", "5"]),
            Cmd(&["HSET", &h, "f", "1", "g", "2"]),
            Cmd(&["HINCRBY", &h, "f", "1"]),
            Cmd(&["HINCRBYFLOAT", &h, "f", "0.5"]),
            Cmd(&["HDEL", &h, "f", "g"]),
            Cmd(&["SADD", &s, "a", "b", "c"]),
            Cmd(&["SREM", &s, "a"]),
            Cmd(&["SMOVE", &s, &s2, "b"]),
            Cmd(&["SUNIONSTORE", &d, &s, &s2]),
            Cmd(&["SINTERSTORE", &d, &s, &s2]),
            Cmd(&["SPOP", &s]),
            Cmd(&["ZADD", &z, "1", "a", "2", "b", "3", "c"]),
            Cmd(&["ZINCRBY", &z, "5", "a"]),
            Cmd(&["ZREM", &z, "b"]),
            Cmd(&["ZRANGESTORE", &d, &z, "0", "-1"]),
            Cmd(&["ZUNIONSTORE", &d, "2", &z, &d]),
            Cmd(&["ZPOPMIN", &z]),
            Cmd(&["ZREMRANGEBYSCORE", &z, "0", "100"]),
        ],
    );
}

#[test]
fn notify_key_misses_and_new_keys() {
    let t = tag();
    let (a, b) = (k(&t, "a"), k(&t, "b"));
    assert_same_events(
        "KEmn",
        &[
            Cmd(&["GET", &a]),
            Cmd(&["SET", &a, "1"]),
            Cmd(&["GET", &a]),
            Cmd(&["SET", &a, "2"]),
            Cmd(&["LRANGE", &b, "0", "-1"]),
            Cmd(&["EXISTS", &a, &b]),
            Cmd(&["RPUSH", &b, "x"]),
            Cmd(&["MGET", &a, &b]),
        ],
    );
}

/// `notify-keyspace-events Kl`: list events only, on keyspace channels
/// only.
#[test]
fn notify_flags_filter_what_is_published() {
    let t = tag();
    let (a, l, s) = (k(&t, "a"), k(&t, "l"), k(&t, "s"));
    let steps = [
        Cmd(&["SET", &a, "1"]),
        Cmd(&["LPUSH", &l, "x", "y"]),
        Cmd(&["SADD", &s, "m"]),
        Cmd(&["RPOP", &l]),
        Cmd(&["DEL", &a, &s]),
        Cmd(&["LPOP", &l]),
    ];
    assert_same_events("Kl", &steps);
    assert_same_events("Eg", &steps);
    assert_same_events("E$s", &steps);
}

#[test]
fn notify_events_of_a_script_and_of_exec_in_order() {
    let t = tag();
    let (a, b) = (k(&t, "a"), k(&t, "b"));
    let script = "redis.call('set', KEYS[1], 'x'); redis.call('lpush', KEYS[2], 'a'); \
                  redis.call('del', KEYS[1]); redis.call('get', KEYS[1]); \
                  return redis.call('rpop', KEYS[2])";
    assert_same_events(
        "KEAm",
        &[
            Cmd(&["EVAL", script, "2", &a, &b]),
            Cmd(&["MULTI"]),
            Cmd(&["SET", &a, "1"]),
            Cmd(&["RPUSH", &b, "x", "y"]),
            Cmd(&["EXPIRE", &a, "100"]),
            Cmd(&["DEL", &a]),
            Cmd(&["GET", &a]),
            Cmd(&["EXEC"]),
        ],
    );
}

/// Active expiry: the key's `expired` event comes without any access.
/// (One key per run: the order active expiry finds keys in is each
/// server's own.)
#[test]
fn notify_expired_by_active_expiry() {
    let t = tag();
    let (a, b) = (k(&t, "a"), k(&t, "b"));
    assert_same_events(
        "KEA",
        &[
            Cmd(&["SET", &a, "1"]),
            Cmd(&["PEXPIRE", &a, "50"]),
            Sleep(600),
            Cmd(&["SET", &b, "1", "PX", "50"]),
            Sleep(600),
        ],
    );
}

/// A key found expired by a read: `expired`, then the read's miss (when
/// active expiry deletes it first, the messages are the same).
#[test]
fn notify_expired_by_access() {
    let t = tag();
    let a = k(&t, "a");
    assert_same_events(
        "KExm",
        &[
            Cmd(&["SET", &a, "1", "PX", "20"]),
            Sleep(25),
            Cmd(&["GET", &a]),
            Cmd(&["GET", &a]),
        ],
    );
}
