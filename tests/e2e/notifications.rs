//! End-to-end tests of keyspace notifications (`notify-keyspace-events`):
//! the parameter as CONFIG SET and CONFIG GET treat it, differential
//! against redis-server.

use crate::common;

use common::Transcript;

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
