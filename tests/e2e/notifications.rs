//! End-to-end tests of keyspace notifications (`notify-keyspace-events`),
//! differential against redis-server: the parameter as CONFIG SET and
//! CONFIG GET treat it, and the events a subscriber
//! (`PSUBSCRIBE __key*@*__:*`) receives for the same commands, with 1
//! shard and with 2 shards where the subscriber's core is not the keys'
//! shard.
//!
//! Each delivery scenario's keys share one hash tag, so all its events
//! come from one shard, in the order that shard applied the changes
//! (events of different shards may interleave in any order). The
//! messages are compared as one sequence per scenario: redis-server's are
//! read until the subscriber is quiet, shardis's are read by that count,
//! then it must be quiet too.

use crate::common;

use std::time::Duration;

use common::{connect_to_core, key_on, Raw, Server, Transcript};

/// Every flag letter, `A`'s expansion, the canonical order CONFIG GET
/// shows, and the refusal of anything else (the whole CONFIG SET then
/// changes nothing).
#[test]
fn notify_keyspace_events_config_set_and_get_as_redis() {
    let mut t = Transcript::new();
    t.shards(&[1]);
    t.cmd(&["CONFIG", "GET", "notify-keyspace-events"]);
    for value in [
        "KEA",
        "g",
        "A",
        "Ag",
        "AKEmn",
        "n",
        "m",
        "lzK",
        "Kl",
        "xE",
        "gx$lshzetdmnKE",
        "AAK",
        "EKnmA",
        "d",
        "t",
        "e",
        "$",
        "s",
        "h",
        "z",
        "x",
        "K",
        "E",
        "",
        "Elsh",
    ] {
        t.cmd(&["CONFIG", "SET", "notify-keyspace-events", value]);
        t.cmd(&["CONFIG", "GET", "notify-keyspace-events"]);
    }
    for bad in ["Q", "Kq", "a", "KEA ", "k", "é", "KE\tA"] {
        t.cmd(&["CONFIG", "SET", "notify-keyspace-events", bad]);
        t.cmd(&["CONFIG", "GET", "notify-keyspace-events"]);
    }
    // All or nothing with another parameter; the glob finds it.
    t.cmd(&[
        "CONFIG",
        "SET",
        "notify-keyspace-events",
        "Kx",
        "hz",
        "nope",
    ]);
    t.cmd(&["CONFIG", "SET", "notify-keyspace-events", "Kx", "hz", "11"]);
    t.cmd(&["CONFIG", "GET", "notify-*"]);
    t.cmd(&[
        "CONFIG",
        "SET",
        "notify-keyspace-events",
        "KE",
        "notify-keyspace-events",
        "A",
    ]);
    t.cmd(&["CONFIG", "GET", "notify-keyspace-events"]);
    t.assert_same_as_redis();
}

/// Set at start-up, the value shows in its canonical form.
#[test]
fn notify_keyspace_events_from_the_command_line() {
    Transcript::new()
        .shards(&[1])
        .flags(&["--notify-keyspace-events", "lKEgnm"])
        .cmd(&["CONFIG", "GET", "notify-keyspace-events"])
        .assert_same_as_redis();
}

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

/// How a scenario is played and compared.
#[derive(Clone, Copy)]
struct Setup {
    /// The subscriber speaks RESP3 (push messages).
    resp3: bool,
    /// Messages compared as a multiset: keys on several shards, whose
    /// events may interleave in any order.
    unordered: bool,
}

const IN_ORDER: Setup = Setup {
    resp3: false,
    unordered: false,
};

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
    setup: Setup,
) -> Played {
    if setup.resp3 {
        sub.cmd(&["HELLO", "3"]); // names the server: not compared
    }
    let setup_reply = cmds.cmd(&["CONFIG", "SET", "notify-keyspace-events", flags]);
    assert_eq!(setup_reply, "+OK\r\n", "flags {flags:?}");
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
    if setup.unordered {
        messages.sort();
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
    assert_same_events_in(flags, steps, IN_ORDER);
}

/// [`assert_same_events`] played and compared as `setup` says.
fn assert_same_events_in(flags: &str, steps: &[Step], setup: Setup) {
    let redis = Server::redis(&[]);
    let expected = play(redis.client(), redis.client(), flags, steps, None, setup);
    assert!(
        !expected.messages.is_empty() || steps.is_empty(),
        "redis-server published nothing: the scenario tests nothing"
    );
    for shards in [1, 2] {
        let server = Server::shardis(shards, &[]);
        let sub = connect_to_core(server.port, 0);
        let cmds = connect_to_core(server.port, 0);
        let got = play(
            sub,
            cmds,
            flags,
            steps,
            Some(expected.messages.len()),
            setup,
        );
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
            // Another database's channels.
            Cmd(&["SELECT", "9"]),
            Cmd(&["SET", &a, "v"]),
            Cmd(&["DEL", &a]),
            Cmd(&["SELECT", "0"]),
        ],
    );
}

/// Keys on both shards: one subscriber receives the events of every
/// shard (in any order between shards), from commands split over them.
#[test]
fn notify_events_of_every_shard_reach_one_subscriber() {
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    assert_same_events_in(
        "KEA",
        &[
            Cmd(&["MSET", &a, "1", &b, "2"]),
            Cmd(&["EXPIRE", &a, "100"]),
            Cmd(&["LPUSH", &b, "x"]),
            Cmd(&["DEL", &a, &b, "nope"]),
        ],
        Setup {
            resp3: false,
            unordered: true,
        },
    );
}

/// A RESP3 subscriber gets the same events as push messages.
#[test]
fn notify_events_to_a_resp3_subscriber() {
    let t = tag();
    let (a, l) = (k(&t, "a"), k(&t, "l"));
    assert_same_events_in(
        "KEAm",
        &[
            Cmd(&["SET", &a, "1"]),
            Cmd(&["RPUSH", &l, "x"]),
            Cmd(&["GET", &l]),
            Cmd(&["GET", &k(&t, "nope")]),
            Cmd(&["LPOP", &l]),
        ],
        Setup {
            resp3: true,
            unordered: false,
        },
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
