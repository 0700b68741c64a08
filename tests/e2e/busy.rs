//! End-to-end: a long script stalls its own shard, never the node (issue 4).
//! BUSY on the busy shard only, waiting before the threshold, the commands
//! allowed while busy, SCRIPT KILL / FUNCTION KILL (OK, NOTBUSY,
//! UNKILLABLE), pcall cannot swallow a kill, SHUTDOWN NOSAVE, defer mode,
//! script-kill-after, two busy shards, INFO scripting and SCRIPT STATUS,
//! CONFIG SET of the threshold while a script runs, and the exact texts
//! against a real redis-server.
//!
//! A spinning script is sent on its own connection without reading its
//! reply; the test ends it (SCRIPT KILL) and then reads the reply. Bounded
//! loops use `redis.call('time')` (wall clock) rather than `os.clock`,
//! which redis-server 7.0 does not offer, so the same script runs on both.

use crate::common;

use std::collections::HashMap;
use std::time::{Duration, Instant};

use common::{key_on, Raw, Server, Transcript};

const SPIN: &str = "while true do end";
/// SHA1 of `SPIN`.
const SPIN_SHA: &str = "694a5fe1ddb97a4c6a1bf299d9537c7d3d0f84e7";
const BUSY_EVAL: &str =
    "-BUSY Redis is busy running a script. You can only call SCRIPT KILL or SHUTDOWN NOSAVE.\r\n";
const BUSY_FUNCTION: &str =
    "-BUSY Redis is busy running a script. You can only call FUNCTION KILL or SHUTDOWN NOSAVE.\r\n";
const NOTBUSY: &str = "-NOTBUSY No scripts in execution right now.\r\n";
const UNKILLABLE: &str = "-UNKILLABLE Sorry the script already executed write commands against the dataset. You can either wait the script termination or kill the server in a hard way using the SHUTDOWN NOSAVE command.\r\n";
/// A library whose `spin` never ends (defined on line 2) and whose
/// `wspin` writes and then spins for 600 ms.
const LIBRARY: &str = "#!lua name=busylib\n\
redis.register_function('spin', function(keys, args) while true do end end)\n\
redis.register_function('wspin', function(keys, args)\n\
  redis.call('set', keys[1], 'w')\n\
  local t = redis.call('time')\n\
  local stop = tonumber(t[1]) + tonumber(t[2]) / 1000000 + 0.6\n\
  while true do\n\
    t = redis.call('time')\n\
    if tonumber(t[1]) + tonumber(t[2]) / 1000000 > stop then return 1 end\n\
  end\n\
end)";
/// How long a test waits for a shard to turn busy.
const BUSY_TIMEOUT: Duration = Duration::from_secs(10);

/// The error a script's caller gets when SCRIPT KILL / FUNCTION KILL
/// stops it.
fn killed_eval(sha: &str, line: u32) -> String {
    format!(
        "-ERR Script killed by user with SCRIPT KILL... script: {sha}, on @user_script:{line}.\r\n"
    )
}

fn killed_function(name: &str, line: u32) -> String {
    format!("-ERR Script killed by user with SCRIPT KILL... script: {name}, on @user_function:{line}.\r\n")
}

/// A script that (when `write`) sets KEYS[1] to 'w', then spins on the
/// wall clock for `ms` milliseconds and returns 1.
fn timed_script(ms: u64, write: bool) -> String {
    format!(
        "local function now() local t = redis.call('time') return tonumber(t[1]) + tonumber(t[2]) / 1000000 end\n\
         {}\n\
         local stop = now() + {}\n\
         while now() < stop do end\n\
         return 1",
        if write {
            "redis.call('set', KEYS[1], 'w')"
        } else {
            "local _ = 0"
        },
        ms as f64 / 1000.0
    )
}

/// Opens a connection and sends `EVAL <script> 1 <key>` on it without
/// reading the reply.
fn start_eval(server: &Server, script: &str, key: &str) -> Raw {
    let mut c = server.client();
    c.send(&[b"EVAL", script.as_bytes(), b"1", key.as_bytes()]);
    c
}

fn spin(server: &Server, key: &str) -> Raw {
    start_eval(server, SPIN, key)
}

/// Sends GET `key` on a fresh connection until it answers `busy` (the
/// exact BUSY text expected); panics after BUSY_TIMEOUT.
fn wait_busy(server: &Server, key: &str, busy: &str) {
    let mut c = server.client();
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let reply = c.cmd(&["GET", key]);
        if reply == busy {
            return;
        }
        assert!(
            !reply.starts_with("-BUSY"),
            "GET {key} got an unexpected BUSY text: {reply:?}"
        );
        assert!(
            Instant::now() < deadline,
            "the shard of {key} never turned busy (last reply {reply:?})"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

/// The lines of an INFO reply as name -> value.
fn info_map(reply: &str) -> HashMap<String, String> {
    reply
        .lines()
        .filter_map(|l| l.split_once(':'))
        .map(|(k, v)| (k.to_string(), v.trim_end().to_string()))
        .collect()
}

/// The `shard<i>:` line of INFO scripting as field -> value, in order.
fn info_shard(info: &HashMap<String, String>, shard: usize) -> Vec<(String, String)> {
    let line = info
        .get(&format!("shard{shard}"))
        .unwrap_or_else(|| panic!("INFO scripting has no shard{shard} line: {info:?}"));
    line.split(',')
        .map(|f| {
            let (k, v) = f.split_once('=').unwrap_or((f, ""));
            (k.to_string(), v.to_string())
        })
        .collect()
}

fn field<'a>(fields: &'a [(String, String)], name: &str) -> &'a str {
    fields
        .iter()
        .find(|(k, _)| k == name)
        .map(|(_, v)| v.as_str())
        .unwrap_or_else(|| panic!("no field {name} in {fields:?}"))
}

fn num(fields: &[(String, String)], name: &str) -> u64 {
    field(fields, name)
        .parse()
        .unwrap_or_else(|_| panic!("field {name} is not a number in {fields:?}"))
}

fn info_scripting(c: &mut Raw) -> HashMap<String, String> {
    let reply = c.cmd(&["INFO", "scripting"]);
    assert!(
        reply.starts_with('$') || reply.starts_with('='),
        "INFO scripting: {reply:?}"
    );
    info_map(&reply)
}

const INFO_SHARD_FIELDS: &[&str] = &[
    "state",
    "kind",
    "name",
    "elapsed_ms",
    "wrote",
    "slow_scripts",
    "killed_scripts",
    "busy_replies",
];

const STATUS_FIELDS: &[&str] = &[
    "shard",
    "state",
    "kind",
    "name",
    "elapsed_ms",
    "wrote",
    "slow_scripts",
    "killed_scripts",
    "busy_replies",
];

/// A parsed reply: every scalar as text, arrays and maps (flattened to
/// key, value, ...) as lists.
#[derive(Debug, Clone, PartialEq)]
enum V {
    S(String),
    A(Vec<V>),
}

fn parse(b: &[u8]) -> V {
    to_v(&common::frame(b))
}

fn to_v(f: &shardis::protocol::frame::Frame) -> V {
    if matches!(f.kind, b'$' | b'*') && f.is_null() {
        V::S("(nil)".into())
    } else if f.is_aggregate() {
        V::A(f.items.iter().map(to_v).collect())
    } else {
        V::S(String::from_utf8_lossy(f.text()).into_owned())
    }
}

/// SCRIPT STATUS as one list of (field, value) per shard; checks the
/// field names and their order.
fn script_status(c: &mut Raw, shards: usize) -> Vec<Vec<(String, String)>> {
    let reply = c.cmd(&["SCRIPT", "STATUS"]);
    let V::A(entries) = parse(reply.as_bytes()) else {
        panic!("SCRIPT STATUS is not an array: {reply:?}")
    };
    assert_eq!(entries.len(), shards, "one entry per shard: {reply:?}");
    entries
        .into_iter()
        .map(|e| {
            let V::A(flat) = e else {
                panic!("SCRIPT STATUS entry is not an array/map: {reply:?}")
            };
            let pairs: Vec<(String, String)> = flat
                .chunks(2)
                .map(|kv| match kv {
                    [V::S(k), V::S(v)] => (k.clone(), v.clone()),
                    _ => panic!("SCRIPT STATUS entry is not flat: {reply:?}"),
                })
                .collect();
            let names: Vec<&str> = pairs.iter().map(|(k, _)| k.as_str()).collect();
            assert_eq!(names, STATUS_FIELDS, "SCRIPT STATUS fields: {reply:?}");
            pairs
        })
        .collect()
}

fn config_get(c: &mut Raw, name: &str) -> String {
    let reply = c.cmd(&["CONFIG", "GET", name]);
    match parse(reply.as_bytes()) {
        V::A(v) if v.len() == 2 && v[0] == V::S(name.to_string()) => match &v[1] {
            V::S(s) => s.clone(),
            _ => panic!("CONFIG GET {name}: {reply:?}"),
        },
        _ => panic!("CONFIG GET {name}: {reply:?}"),
    }
}

#[test]
fn config_parameters_defaults_flags_and_alias() {
    let s = Server::shardis(2, &[]);
    let mut c = s.client();
    assert_eq!(config_get(&mut c, "busy-reply-threshold"), "5000");
    assert_eq!(config_get(&mut c, "lua-time-limit"), "5000");
    assert_eq!(config_get(&mut c, "busy-behavior"), "reply");
    assert_eq!(config_get(&mut c, "busy-defer-max-ms"), "5000");
    assert_eq!(config_get(&mut c, "script-kill-after"), "0");
    assert_eq!(c.cmd(&["CONFIG", "SET", "lua-time-limit", "70"]), "+OK\r\n");
    assert_eq!(config_get(&mut c, "busy-reply-threshold"), "70");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "busy-reply-threshold", "80"]),
        "+OK\r\n"
    );
    assert_eq!(config_get(&mut c, "lua-time-limit"), "80");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "busy-behavior", "defer"]),
        "+OK\r\n"
    );
    assert_eq!(config_get(&mut c, "busy-behavior"), "defer");
    let bad = c.cmd(&["CONFIG", "SET", "busy-behavior", "bogus"]);
    assert!(bad.starts_with("-ERR"), "{bad:?}");
    assert_eq!(config_get(&mut c, "busy-behavior"), "defer");

    let s = Server::shardis(
        2,
        &[
            "--lua-time-limit",
            "70",
            "--busy-behavior",
            "defer",
            "--busy-defer-max-ms",
            "300",
            "--script-kill-after",
            "900",
        ],
    );
    let mut c = s.client();
    assert_eq!(config_get(&mut c, "busy-reply-threshold"), "70");
    assert_eq!(config_get(&mut c, "lua-time-limit"), "70");
    assert_eq!(config_get(&mut c, "busy-behavior"), "defer");
    assert_eq!(config_get(&mut c, "busy-defer-max-ms"), "300");
    assert_eq!(config_get(&mut c, "script-kill-after"), "900");
}

#[test]
fn busy_only_on_the_scripts_shard() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "50"]);
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    let mut setup = s.client();
    assert_eq!(setup.cmd(&["SET", &a, "va"]), "+OK\r\n");
    assert_eq!(setup.cmd(&["SET", &b, "vb"]), "+OK\r\n");
    for (busy_key, free_key, free_value) in [(&a, &b, "vb"), (&b, &a, "va")] {
        let mut spinner = spin(&s, busy_key);
        wait_busy(&s, busy_key, BUSY_EVAL);
        // Several connections, so that both cores' connections are covered.
        for i in 0..8 {
            let mut c = s.client();
            assert_eq!(c.cmd(&["GET", busy_key]), BUSY_EVAL, "connection {i}");
            assert_eq!(c.cmd(&["SET", busy_key, "x"]), BUSY_EVAL, "connection {i}");
            assert_eq!(
                c.cmd(&["GET", free_key]),
                format!("$2\r\n{free_value}\r\n"),
                "connection {i}"
            );
            let other = format!("{{{free_key}}}n{i}");
            assert_eq!(c.cmd(&["SET", &other, "1"]), "+OK\r\n", "connection {i}");
            assert_eq!(c.cmd(&["INCR", &other]), ":2\r\n", "connection {i}");
            assert_eq!(
                c.cmd(&["EVAL", "return redis.call('get', KEYS[1])", "1", free_key]),
                format!("$2\r\n{free_value}\r\n"),
                "a script on the other shard runs, connection {i}"
            );
        }
        assert_eq!(setup.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
        assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
        // The shard serves again, and nothing was written while busy.
        let mut c = s.client();
        let value = if busy_key == &a { "va" } else { "vb" };
        assert_eq!(c.cmd(&["GET", busy_key]), format!("$2\r\n{value}\r\n"));
    }
}

#[test]
fn commands_wait_before_the_threshold() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "1000"]);
    let a = key_on(0, 2, "a");
    let mut c = s.client();
    assert_eq!(c.cmd(&["SET", &a, "before"]), "+OK\r\n");
    // The script spins ~250 ms, then writes: a GET sent meanwhile waits
    // for it (atomicity) and sees its write, never BUSY.
    let script = format!(
        "{}\nredis.call('set', KEYS[1], 'after')\nreturn 1",
        timed_script(250, false).trim_end_matches("return 1")
    );
    let mut runner = start_eval(&s, &script, &a);
    // A GET sent before the script starts would not wait for it.
    wait_running(&mut c, 0);
    let started = Instant::now();
    assert_eq!(c.cmd(&["GET", &a]), "$5\r\nafter\r\n");
    let waited = started.elapsed();
    assert!(
        waited >= Duration::from_millis(100),
        "GET answered after {waited:?}, while the script still ran"
    );
    assert_eq!(runner.read_reply(), ":1\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
}

/// A command (and a script) that waited for the shard runs at the time it
/// runs, not at the time it arrived: an expiry set after the wait counts
/// from then.
#[test]
fn a_command_that_waited_for_the_shard_reads_the_clock_again() {
    let s = Server::shardis(1, &["--busy-reply-threshold", "5000"]);
    let mut c = s.client();
    let mut runner = start_eval(&s, &timed_script(700, false), "k");
    wait_running(&mut c, 0);
    // Both wait ~700 ms for the script, then set a 1000 ms expiry.
    c.send(&[b"SET", b"plain", b"v", b"PX", b"1000"]);
    c.send(&[
        b"EVAL",
        b"return redis.call('set', KEYS[1], 'v', 'PX', 1000)",
        b"1",
        b"scripted",
    ]);
    assert_eq!(c.read_reply(), "+OK\r\n");
    assert_eq!(c.read_reply(), "+OK\r\n");
    assert_eq!(runner.read_reply(), ":1\r\n");
    for key in ["plain", "scripted"] {
        let pttl: i64 = c
            .cmd(&["PTTL", key])
            .trim_start_matches(':')
            .trim_end()
            .parse()
            .expect("an integer");
        assert!(
            pttl > 500,
            "{key}: PTTL {pttl} ms right after the wait: its expiry counted from before it"
        );
    }
}

#[test]
fn zero_threshold_disables_busy() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "0"]);
    let a = key_on(1, 2, "a");
    let mut runner = start_eval(&s, &timed_script(300, true), &a);
    let mut c = s.client();
    // Once it has written (the GET then waits for the script to end).
    wait_field(&mut c, 1, "wrote", "1");
    assert_eq!(c.cmd(&["GET", &a]), "$1\r\nw\r\n");
    assert_eq!(runner.read_reply(), ":1\r\n");
}

#[test]
fn allowed_commands_while_busy() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "50"]);
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    let mut spinner = spin(&s, &a);
    wait_busy(&s, &a, BUSY_EVAL);
    for i in 0..6 {
        let mut c = s.client();
        assert_eq!(c.cmd(&["MULTI"]), "+OK\r\n", "connection {i}");
        assert_eq!(c.cmd(&["DISCARD"]), "+OK\r\n", "connection {i}");
        assert_eq!(c.cmd(&["WATCH", &a]), "+OK\r\n", "connection {i}");
        assert_eq!(c.cmd(&["WATCH", &b]), "+OK\r\n", "connection {i}");
        assert_eq!(c.cmd(&["UNWATCH"]), "+OK\r\n", "connection {i}");
        assert_eq!(
            c.cmd(&["AUTH", "x"]),
            "-ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?\r\n",
            "connection {i}"
        );
        let hello = c.cmd(&["HELLO", "3"]);
        assert!(hello.starts_with('%'), "HELLO 3: {hello:?}");
        assert!(hello.contains("proto"), "HELLO 3: {hello:?}");
        assert_eq!(c.cmd(&["RESET"]), "+RESET\r\n", "connection {i}");
        let hello = c.cmd(&["HELLO", "2"]);
        assert!(hello.starts_with('*'), "HELLO 2: {hello:?}");
        assert_eq!(
            c.cmd(&["SHUTDOWN"]),
            BUSY_EVAL,
            "plain SHUTDOWN, connection {i}"
        );
        assert_eq!(c.cmd(&["GET", &a]), BUSY_EVAL, "connection {i}");
        assert_eq!(c.cmd(&["QUIT"]), "+OK\r\n", "connection {i}");
        assert!(c.is_closed(), "QUIT closes, connection {i}");
    }
    let mut c = s.client();
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
    // The server survived the plain SHUTDOWNs.
    assert_eq!(c.cmd(&["SET", &a, "1"]), "+OK\r\n");
}

#[test]
fn ping_is_busy_with_one_shard() {
    let s = Server::shardis(1, &["--busy-reply-threshold", "50"]);
    let mut spinner = spin(&s, "k");
    wait_busy(&s, "k", BUSY_EVAL);
    let mut c = s.client();
    assert_eq!(c.cmd(&["PING"]), BUSY_EVAL);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
}

/// `busy-behavior defer`: connection commands need no shard, so they answer
/// at once even on the busy shard's own core (here the only one).
#[test]
fn connection_commands_answer_at_once_in_defer_mode() {
    let s = Server::shardis(
        1,
        &["--busy-reply-threshold", "50", "--busy-behavior", "defer"],
    );
    let mut spinner = spin(&s, "k");
    let mut c = s.client();
    wait_field(&mut c, 0, "state", "busy");
    let asked = Instant::now();
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "busy-behavior"]),
        "*2\r\n$13\r\nbusy-behavior\r\n$5\r\ndefer\r\n"
    );
    assert!(
        asked.elapsed() < Duration::from_secs(1),
        "PING and CONFIG GET took {:?} while the script spun",
        asked.elapsed()
    );
    // The script was still running (and busy) all along.
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
}

#[test]
fn script_kill_ok_notbusy_unkillable() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "50"]);
    let a = key_on(1, 2, "a");
    let mut c = s.client();
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), NOTBUSY);

    // A multi-line script is killed where it spins.
    let script = "local x = 1\nwhile true do end";
    let sha = c.cmd(&["SCRIPT", "LOAD", script]);
    let sha = sha.lines().nth(1).unwrap().to_string();
    let mut spinner = start_eval(&s, script, &a);
    wait_busy(&s, &a, BUSY_EVAL);
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), BUSY_EVAL);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(&sha, 2));
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), NOTBUSY);

    // A script that wrote cannot be killed; it ends by itself.
    let started = Instant::now();
    let mut writer = start_eval(&s, &timed_script(600, true), &a);
    wait_busy(&s, &a, BUSY_EVAL);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), UNKILLABLE);
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), UNKILLABLE);
    assert_eq!(writer.read_reply(), ":1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(550));
    assert_eq!(c.cmd(&["GET", &a]), "$1\r\nw\r\n");
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
}

#[test]
fn function_kill_and_the_function_busy_text() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "50"]);
    let a = key_on(0, 2, "a");
    let mut c = s.client();
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", LIBRARY]), "$7\r\nbusylib\r\n");
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), NOTBUSY);

    let mut spinner = s.client();
    spinner.send(&[b"FCALL", b"spin", b"1", a.as_bytes()]);
    wait_busy(&s, &a, BUSY_FUNCTION);
    for _ in 0..4 {
        let mut d = s.client();
        assert_eq!(d.cmd(&["GET", &a]), BUSY_FUNCTION);
        assert_eq!(d.cmd(&["SHUTDOWN"]), BUSY_FUNCTION);
    }
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), BUSY_FUNCTION);
    let stats = c.cmd(&["FUNCTION", "STATS"]);
    assert!(
        stats.contains("running_script") && stats.contains("spin"),
        "FUNCTION STATS while a function runs: {stats:?}"
    );
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_function("spin", 2));
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), NOTBUSY);

    // A function that wrote cannot be killed.
    let mut writer = s.client();
    writer.send(&[b"FCALL", b"wspin", b"1", a.as_bytes()]);
    wait_busy(&s, &a, BUSY_FUNCTION);
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), UNKILLABLE);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), UNKILLABLE);
    assert_eq!(writer.read_reply(), ":1\r\n");

    // EVAL busy: FUNCTION KILL answers the SCRIPT KILL text.
    let mut spinner = spin(&s, &a);
    wait_busy(&s, &a, BUSY_EVAL);
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), BUSY_EVAL);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
}

#[test]
fn pcall_cannot_swallow_a_kill() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "50"]);
    let a = key_on(1, 2, "a");
    let mut c = s.client();
    for script in [
        "while true do pcall(function() while true do end end) end",
        "while true do xpcall(function() while true do end end, function(e) return e end) end",
        "while true do pcall(redis.call, 'eval', 'while true do end', '0') pcall(function() while true do end end) end",
    ] {
        let sha = c.cmd(&["SCRIPT", "LOAD", script]);
        let sha = sha.lines().nth(1).unwrap().to_string();
        let mut spinner = start_eval(&s, script, &a);
        wait_busy(&s, &a, BUSY_EVAL);
        assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n", "{script}");
        assert_eq!(spinner.read_reply(), killed_eval(&sha, 1), "{script}");
        assert_eq!(c.cmd(&["SCRIPT", "KILL"]), NOTBUSY, "{script}");
    }
}

#[test]
fn shutdown_nosave_while_scripts_spin_on_every_shard() {
    for shards in [2, 3] {
        let mut s = Server::shardis(shards, &["--busy-reply-threshold", "50"]);
        let keys: Vec<String> = (0..shards).map(|i| key_on(i, shards, "k")).collect();
        let _spinners: Vec<Raw> = keys.iter().map(|k| spin(&s, k)).collect();
        for k in &keys {
            wait_busy(&s, k, BUSY_EVAL);
        }
        let mut c = s.client();
        assert_eq!(c.cmd(&["SHUTDOWN"]), BUSY_EVAL, "{shards} shards");
        c.send(&[b"SHUTDOWN", b"NOSAVE"]);
        let status = s.wait_exit(Duration::from_secs(1));
        assert!(
            status.is_some(),
            "{shards} shards: still running 1 s after SHUTDOWN NOSAVE"
        );
    }
}

#[test]
fn shutdown_is_busy_when_any_shard_is_busy() {
    let s = Server::shardis(3, &["--busy-reply-threshold", "50"]);
    let a = key_on(2, 3, "a");
    let mut spinner = spin(&s, &a);
    wait_busy(&s, &a, BUSY_EVAL);
    for i in 0..6 {
        let mut c = s.client();
        assert_eq!(c.cmd(&["SHUTDOWN"]), BUSY_EVAL, "connection {i}");
    }
    let mut c = s.client();
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
}

#[test]
fn defer_mode_waits_for_the_script() {
    let s = Server::shardis(
        2,
        &["--busy-reply-threshold", "30", "--busy-behavior", "defer"],
    );
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    let mut c = s.client();
    assert_eq!(c.cmd(&["SET", &b, "vb"]), "+OK\r\n");
    let started = Instant::now();
    let mut runner = start_eval(&s, &timed_script(500, true), &a);
    let mut d = s.client();
    wait_field(&mut d, 0, "state", "busy");
    // Past the threshold: the other shard serves, this one defers.
    assert_eq!(d.cmd(&["GET", &b]), "$2\r\nvb\r\n");
    assert_eq!(c.cmd(&["GET", &a]), "$1\r\nw\r\n");
    assert!(
        started.elapsed() >= Duration::from_millis(450),
        "the deferred GET answered before the script ended ({:?})",
        started.elapsed()
    );
    assert_eq!(runner.read_reply(), ":1\r\n");
    assert_eq!(c.cmd(&["SET", &a, "again"]), "+OK\r\n");

    // Waiting is bounded by busy-defer-max-ms, then BUSY.
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "busy-defer-max-ms", "100"]),
        "+OK\r\n"
    );
    let mut spinner = spin(&s, &a);
    wait_field(&mut d, 0, "state", "busy");
    let asked = Instant::now();
    assert_eq!(c.cmd(&["GET", &a]), BUSY_EVAL);
    let waited = asked.elapsed();
    assert!(
        waited >= Duration::from_millis(80) && waited < Duration::from_secs(3),
        "BUSY after {waited:?} of waiting with busy-defer-max-ms 100"
    );
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
    assert_eq!(c.cmd(&["GET", &a]), "$5\r\nagain\r\n");
}

#[test]
fn script_kill_after_kills_only_scripts_that_did_not_write() {
    let s = Server::shardis(
        2,
        &["--busy-reply-threshold", "50", "--script-kill-after", "200"],
    );
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    let started = Instant::now();
    let mut spinner = spin(&s, &a);
    assert_eq!(
        spinner.read_reply(),
        format!(
            "-ERR Script killed by script-kill-after (200 ms)... script: {SPIN_SHA}, on @user_script:1.\r\n"
        )
    );
    let took = started.elapsed();
    assert!(
        took >= Duration::from_millis(180) && took < Duration::from_secs(5),
        "killed after {took:?}"
    );

    let started = Instant::now();
    let mut writer = start_eval(&s, &timed_script(700, true), &b);
    let mut c = s.client();
    // Busy and written: past the threshold, and beyond SCRIPT KILL.
    wait_field(&mut c, 1, "state", "busy");
    wait_field(&mut c, 1, "wrote", "1");
    assert_eq!(c.cmd(&["GET", &b]), BUSY_EVAL);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), UNKILLABLE);
    assert_eq!(writer.read_reply(), ":1\r\n");
    assert!(started.elapsed() >= Duration::from_millis(650));
    assert_eq!(c.cmd(&["GET", &b]), "$1\r\nw\r\n");
    let info = info_scripting(&mut c);
    assert_eq!(info.get("killed_scripts").map(String::as_str), Some("1"));
    assert_eq!(num(&info_shard(&info, 0), "killed_scripts"), 1);
    assert_eq!(num(&info_shard(&info, 1), "killed_scripts"), 0);
}

#[test]
fn two_shards_busy_at_once() {
    let s = Server::shardis(3, &["--busy-reply-threshold", "50"]);
    let (a, b, f) = (key_on(0, 3, "a"), key_on(1, 3, "b"), key_on(2, 3, "f"));
    let mut sa = spin(&s, &a);
    let mut sb = spin(&s, &b);
    wait_busy(&s, &a, BUSY_EVAL);
    wait_busy(&s, &b, BUSY_EVAL);
    for i in 0..6 {
        let mut c = s.client();
        assert_eq!(c.cmd(&["GET", &a]), BUSY_EVAL, "connection {i}");
        assert_eq!(c.cmd(&["GET", &b]), BUSY_EVAL, "connection {i}");
        assert_eq!(c.cmd(&["SET", &f, "1"]), "+OK\r\n", "connection {i}");
    }
    let mut c = s.client();
    let info = info_scripting(&mut c);
    assert_eq!(info.get("busy_shards").map(String::as_str), Some("2"));
    // One SCRIPT KILL ends both.
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(sa.read_reply(), killed_eval(SPIN_SHA, 1));
    assert_eq!(sb.read_reply(), killed_eval(SPIN_SHA, 1));
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
    assert_eq!(c.cmd(&["SET", &a, "1"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SET", &b, "1"]), "+OK\r\n");
    let info = info_scripting(&mut c);
    assert_eq!(info.get("busy_shards").map(String::as_str), Some("0"));
    assert_eq!(info.get("killed_scripts").map(String::as_str), Some("2"));
}

#[test]
fn info_scripting_and_script_status() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "50"]);
    let a = key_on(1, 2, "a");
    let mut c = s.client();

    // Idle.
    let info = info_scripting(&mut c);
    for total in [
        "busy_shards",
        "slow_scripts",
        "killed_scripts",
        "busy_replies",
    ] {
        assert_eq!(info.get(total).map(String::as_str), Some("0"), "{total}");
    }
    for shard in 0..2 {
        let f = info_shard(&info, shard);
        let names: Vec<&str> = f.iter().map(|(k, _)| k.as_str()).collect();
        assert_eq!(names, INFO_SHARD_FIELDS, "shard{shard} fields");
        assert_eq!(field(&f, "state"), "idle");
        assert_eq!(field(&f, "kind"), "");
        assert_eq!(field(&f, "name"), "");
        assert_eq!(field(&f, "wrote"), "0");
    }
    for (i, e) in script_status(&mut c, 2).iter().enumerate() {
        assert_eq!(field(e, "shard"), i.to_string());
        assert_eq!(field(e, "state"), "idle");
        assert_eq!(field(e, "kind"), "");
        assert_eq!(field(e, "name"), "");
    }

    // Busy: a script that wrote and spins ~1.5 s.
    let script = timed_script(1500, true);
    let sha = c.cmd(&["SCRIPT", "LOAD", &script]);
    let sha = sha.lines().nth(1).unwrap().to_string();
    let mut runner = start_eval(&s, &script, &a);
    wait_busy(&s, &a, BUSY_EVAL);
    let mut d = s.client();
    assert_eq!(d.cmd(&["GET", &a]), BUSY_EVAL);
    let info = info_scripting(&mut c);
    assert_eq!(info.get("busy_shards").map(String::as_str), Some("1"));
    assert_eq!(info.get("slow_scripts").map(String::as_str), Some("1"));
    let busy_replies: u64 = info["busy_replies"].parse().unwrap();
    assert!(busy_replies >= 2, "busy_replies {busy_replies}");
    let f = info_shard(&info, 1);
    assert_eq!(field(&f, "state"), "busy");
    assert_eq!(field(&f, "kind"), "eval");
    assert_eq!(field(&f, "name"), sha);
    assert!(num(&f, "elapsed_ms") >= 50, "{f:?}");
    assert_eq!(field(&f, "wrote"), "1");
    assert_eq!(num(&f, "slow_scripts"), 1);
    // Per-shard BUSY counts add up to the total (whichever shard a BUSY
    // reply is counted on: the busy one or the answering core's).
    let idle = info_shard(&info, 0);
    assert_eq!(field(&idle, "state"), "idle");
    assert_eq!(
        num(&f, "busy_replies") + num(&idle, "busy_replies"),
        busy_replies
    );

    let status = script_status(&mut c, 2);
    assert_eq!(field(&status[1], "shard"), "1");
    assert_eq!(field(&status[1], "state"), "busy");
    assert_eq!(field(&status[1], "kind"), "eval");
    assert_eq!(field(&status[1], "name"), sha);
    assert!(num(&status[1], "elapsed_ms") >= 50);
    assert_eq!(field(&status[1], "wrote"), "1");
    assert_eq!(field(&status[1], "slow_scripts"), "1");
    assert_eq!(field(&status[0], "state"), "idle");
    // RESP3: maps.
    let mut r3 = s.client();
    r3.cmd(&["HELLO", "3"]);
    let raw = r3.cmd(&["SCRIPT", "STATUS"]);
    assert!(
        raw.starts_with("*2\r\n%9\r\n"),
        "RESP3 SCRIPT STATUS: {raw:?}"
    );
    assert_eq!(script_status(&mut r3, 2)[1][1].1, "busy");

    assert_eq!(runner.read_reply(), ":1\r\n");

    // A function, killed.
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", LIBRARY]), "$7\r\nbusylib\r\n");
    let mut spinner = s.client();
    spinner.send(&[b"FCALL", b"spin", b"1", a.as_bytes()]);
    wait_busy(&s, &a, BUSY_FUNCTION);
    let f = info_shard(&info_scripting(&mut c), 1);
    assert_eq!(field(&f, "state"), "busy");
    assert_eq!(field(&f, "kind"), "function");
    assert_eq!(field(&f, "name"), "spin");
    assert_eq!(field(&f, "wrote"), "0");
    let status = script_status(&mut c, 2);
    assert_eq!(field(&status[1], "kind"), "function");
    assert_eq!(field(&status[1], "name"), "spin");
    assert_eq!(c.cmd(&["FUNCTION", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_function("spin", 2));

    // After: idle, with the counts kept.
    let info = info_scripting(&mut c);
    assert_eq!(info.get("busy_shards").map(String::as_str), Some("0"));
    assert_eq!(info.get("slow_scripts").map(String::as_str), Some("2"));
    assert_eq!(info.get("killed_scripts").map(String::as_str), Some("1"));
    let f = info_shard(&info, 1);
    assert_eq!(field(&f, "state"), "idle");
    assert_eq!(field(&f, "kind"), "");
    assert_eq!(field(&f, "name"), "");
    assert_eq!(field(&f, "wrote"), "0");
    assert_eq!(num(&f, "slow_scripts"), 2);
    assert_eq!(num(&f, "killed_scripts"), 1);
    let total: u64 = info["busy_replies"].parse().unwrap();
    assert!(total > busy_replies, "busy_replies {total}");
    assert_eq!(
        num(&f, "busy_replies") + num(&info_shard(&info, 0), "busy_replies"),
        total
    );
    let status = script_status(&mut c, 2);
    assert_eq!(field(&status[1], "state"), "idle");
    assert_eq!(field(&status[1], "killed_scripts"), "1");
    assert_eq!(field(&status[1], "slow_scripts"), "2");
    assert_eq!(field(&status[0], "slow_scripts"), "0");
}

#[test]
fn info_shows_a_running_script_before_the_threshold() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "100000"]);
    let a = key_on(0, 2, "a");
    let _spinner = spin(&s, &a);
    let mut c = s.client();
    // Then long enough for elapsed_ms to pass 100, whenever it started.
    wait_running(&mut c, 0);
    std::thread::sleep(Duration::from_millis(150));
    let info = info_scripting(&mut c);
    assert_eq!(info.get("busy_shards").map(String::as_str), Some("0"));
    let f = info_shard(&info, 0);
    assert_eq!(field(&f, "state"), "running");
    assert_eq!(field(&f, "kind"), "eval");
    assert_eq!(field(&f, "name"), SPIN_SHA);
    assert!(num(&f, "elapsed_ms") >= 100, "{f:?}");
    assert_eq!(field(&info_shard(&info, 1), "state"), "idle");
    // The spinner is never killable here; dropping the server ends it.
}

#[test]
fn script_kill_stops_a_script_before_the_threshold() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "100000"]);
    let a = key_on(0, 2, "a");
    let mut spinner = spin(&s, &a);
    let mut c = s.client();
    wait_running(&mut c, 0);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), NOTBUSY);
    // One that has written runs on, as in Redis.
    let mut writer = start_eval(&s, &timed_script(300, true), &a);
    wait_running(&mut c, 0);
    let deadline = Instant::now() + BUSY_TIMEOUT;
    while field(&info_shard(&info_scripting(&mut c), 0), "wrote") != "1" {
        assert!(Instant::now() < deadline, "the script never wrote");
        std::thread::sleep(Duration::from_millis(5));
    }
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), UNKILLABLE);
    assert_eq!(writer.read_reply(), ":1\r\n");
}

/// Polls INFO scripting until `shard` runs a script (not yet busy).
fn wait_running(c: &mut Raw, shard: usize) {
    wait_field(c, shard, "state", "running");
}

/// Polls INFO scripting until `shard`'s `name` field is `value` (instead
/// of sleeping and hoping a script got that far); panics after
/// BUSY_TIMEOUT.
fn wait_field(c: &mut Raw, shard: usize, name: &str, value: &str) {
    let deadline = Instant::now() + BUSY_TIMEOUT;
    loop {
        let fields = info_shard(&info_scripting(c), shard);
        if field(&fields, name) == value {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "shard {shard}'s {name} never became {value}: {fields:?}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn config_set_threshold_applies_to_the_running_script() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "100000"]);
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    let mut spinner = spin(&s, &a);
    let mut c = s.client();
    wait_running(&mut c, 0);
    assert_eq!(c.cmd(&["SET", &b, "1"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "busy-reply-threshold", "50"]),
        "+OK\r\n"
    );
    wait_busy(&s, &a, BUSY_EVAL);
    assert_eq!(c.cmd(&["GET", &a]), BUSY_EVAL);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
    // Read back once no shard is busy: c may live on the busy shard's
    // core, where CONFIG (as in Redis) gets BUSY.
    assert_eq!(config_get(&mut c, "busy-reply-threshold"), "50");
    assert_eq!(config_get(&mut c, "lua-time-limit"), "50");
}

/// Both servers with one shard and a threshold of 50 ms.
fn busy_setup() -> Transcript {
    let mut t = Transcript::new();
    t.shards(&[1]).flags(&["--busy-reply-threshold", "50"]);
    t
}

/// Waits until GET k answers `busy`.
fn until_busy(busy: &'static str) -> impl Fn(&Server) {
    move |server| wait_busy(server, "k", busy)
}

#[test]
fn busy_texts_match_redis() {
    let mut t = busy_setup();
    t.cmd(&["SCRIPT", "KILL"]).cmd(&["FUNCTION", "KILL"]);
    t.cmd(&["CONFIG", "GET", "busy-reply-threshold"]);
    t.cmd(&["CONFIG", "GET", "lua-time-limit"]);
    t.cmd(&["FUNCTION", "LOAD", LIBRARY])
        .cmd(&["SET", "k", "v"]);

    // EVAL spinning.
    t.send("spinner", &["EVAL", SPIN, "1", "k"]);
    t.wait(until_busy(BUSY_EVAL));
    t.cmd(&["GET", "k"])
        .cmd(&["SET", "other", "1"])
        .cmd(&["PING"]);
    t.cmd(&["SHUTDOWN"]);
    t.cmd(&["FUNCTION", "STATS"]).cmd(&["FUNCTION", "KILL"]);
    t.cmd(&["WATCH", "k"]).cmd(&["UNWATCH"]);
    t.cmd(&["MULTI"]).cmd(&["DISCARD"]).cmd(&["RESET"]);
    t.cmd(&["AUTH", "x"]);
    t.cmd(&["SCRIPT", "KILL"]).read("spinner");
    t.cmd(&["SCRIPT", "KILL"]).cmd(&["GET", "k"]);

    // Killed on line 2; pcall cannot catch it.
    for (spinner, script) in [
        ("line 2", "local x = 1\nwhile true do end"),
        (
            "pcall",
            "while true do pcall(function() while true do end end) end",
        ),
    ] {
        t.send(spinner, &["EVAL", script, "1", "k"]);
        t.wait(until_busy(BUSY_EVAL));
        t.cmd(&["SCRIPT", "KILL"]).read(spinner);
    }

    // An EVAL that wrote.
    t.send("writer", &["EVAL", &timed_script(600, true), "1", "k"]);
    t.wait(until_busy(BUSY_EVAL));
    t.cmd(&["SCRIPT", "KILL"]).cmd(&["FUNCTION", "KILL"]);
    t.read("writer").cmd(&["GET", "k"]);

    // A function spinning.
    t.send("function", &["FCALL", "spin", "1", "k"]);
    t.wait(until_busy(BUSY_FUNCTION));
    t.cmd(&["GET", "k"]).cmd(&["SHUTDOWN"]);
    t.cmd(&["SCRIPT", "KILL"]).cmd(&["FUNCTION", "KILL"]);
    t.read("function").cmd(&["FUNCTION", "KILL"]);

    // A function that wrote.
    t.send("function writer", &["FCALL", "wspin", "1", "k"]);
    t.wait(until_busy(BUSY_FUNCTION));
    t.cmd(&["FUNCTION", "KILL"]).cmd(&["SCRIPT", "KILL"]);
    t.read("function writer").cmd(&["SCRIPT", "KILL"]);
    t.assert_same_as_redis();
}

/// What a client in MULTI sees when the shard turns busy.
#[test]
fn transaction_while_busy_matches_redis() {
    let mut t = busy_setup();
    t.send("spinner", &["EVAL", SPIN, "1", "k"]);
    t.wait(until_busy(BUSY_EVAL));
    t.cmd(&["MULTI"]).cmd(&["SET", "k", "1"]).cmd(&["EXEC"]);
    t.cmd(&["EXEC"]).cmd(&["GET", "k"]);
    t.cmd(&["SCRIPT", "KILL"]).read("spinner");
    t.cmd(&["MULTI"]).cmd(&["SET", "k", "1"]).cmd(&["EXEC"]);
    t.assert_same_as_redis();
}

/// A script starts inline in its connection's task and moves to the
/// script queue once its slice is over (issue 14): pipelined behind and
/// before short scripts that end inline, the replies keep their order,
/// the long one still holds its shard (a GET waits for it), another
/// shard keeps answering meanwhile, and SCRIPT KILL stops a spinning
/// script that started inline.
#[test]
fn a_script_that_outlives_its_inline_slice_moves_to_the_script_queue() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "5000"]);
    let (a, b) = (key_on(0, 2, "a"), key_on(1, 2, "b"));
    let incr = "return redis.call('incr', KEYS[1])";
    let long = timed_script(300, false);
    let mut pipeline = Vec::new();
    for script in [incr, &long, incr, incr] {
        pipeline.extend(common::encode(&[
            b"EVAL",
            script.as_bytes(),
            b"1",
            a.as_bytes(),
        ]));
    }
    let mut runner = s.client();
    runner.send_raw(&pipeline);
    let mut c = s.client();
    wait_running(&mut c, 0);
    let started = Instant::now();
    assert_eq!(c.cmd(&["SET", &b, "1"]), "+OK\r\n");
    assert!(
        started.elapsed() < Duration::from_millis(200),
        "the other shard answered after {:?}",
        started.elapsed()
    );
    // The shard is the script's until it ends: the GET waits and sees
    // the increments before it (the one after may have run too).
    let get = c.cmd(&["GET", &a]);
    assert!(
        get == "$1\r\n1\r\n" || get == "$1\r\n2\r\n" || get == "$1\r\n3\r\n",
        "{get:?}"
    );
    for expected in [":1\r\n", ":1\r\n", ":2\r\n", ":3\r\n"] {
        assert_eq!(runner.read_reply(), expected);
    }
    let mut spinner = spin(&s, &a);
    wait_running(&mut c, 0);
    assert_eq!(c.cmd(&["SCRIPT", "KILL"]), "+OK\r\n");
    assert_eq!(spinner.read_reply(), killed_eval(SPIN_SHA, 1));
    assert_eq!(c.cmd(&["INCR", &a]), ":4\r\n");
}
