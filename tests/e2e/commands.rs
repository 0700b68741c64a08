//! End-to-end: the command table as clients see it. Subcommands (SCRIPT
//! LOAD, CLIENT KILL ...) have arities and flags of their own, and COMMAND
//! INFO / DOCS / LIST / COUNT describe container commands as Redis 7 does;
//! all compared with redis-server.

use std::collections::BTreeSet;

use crate::common;

use common::{assert_no_differences, frame, Raw, Server, Step::*, Transcript};
use shardis::protocol::frame::Frame;

/// The containers shardis implements.
const CONTAINERS: &[&str] = &[
    "client", "config", "command", "script", "function", "pubsub",
];

/// Subcommands shardis has that redis-server 7.0 has not: CLIENT SETINFO
/// (Redis 7.2) and SCRIPT STATUS (shardis's own).
const OUR_OWN: &[&str] = &["client|setinfo", "script|status"];

#[test]
fn subcommand_arity_and_unknown_subcommands_match_redis() {
    Transcript::new()
        .shards(&[2])
        .resp(&[2, 3])
        .steps(&[
            Exact(&["SCRIPT", "LOAD"]),
            Exact(&["script", "load", "return 1", "extra"]),
            Exact(&["SCRIPT", "EXISTS"]),
            Exact(&["SCRIPT", "KILL", "now"]),
            Exact(&["SCRIPT", "HELP", "x"]),
            Exact(&["SCRIPT", "FLUSH", "SYNC", "ASYNC"]),
            Exact(&["SCRIPT", "NOSUCH"]),
            Exact(&["ScRiPt", "nosuch", "x"]),
            Exact(&["SCRIPT"]),
            Exact(&["CLIENT"]),
            Exact(&["CLIENT", "ID", "x"]),
            Exact(&["CLIENT", "GETNAME", "x"]),
            Exact(&["CLIENT", "SETNAME"]),
            Exact(&["CLIENT", "INFO", "x"]),
            Exact(&["CLIENT", "KILL"]),
            Exact(&["CLIENT", "HELP", "x"]),
            Exact(&["CLIENT", "NOSUCH", "x"]),
            Exact(&["CONFIG"]),
            Exact(&["CONFIG", "GET"]),
            Exact(&["CONFIG", "SET", "maxclients"]),
            Exact(&["CONFIG", "SET", "maxclients", "100", "hz"]),
            Exact(&["CONFIG", "RESETSTAT", "x"]),
            Exact(&["CONFIG", "REWRITE", "x"]),
            Exact(&["CONFIG", "HELP", "x"]),
            Exact(&["FUNCTION"]),
            Exact(&["FUNCTION", "LOAD"]),
            Exact(&["FUNCTION", "DELETE"]),
            Exact(&["FUNCTION", "DUMP", "x"]),
            Exact(&["FUNCTION", "RESTORE"]),
            Exact(&["FUNCTION", "STATS", "x"]),
            Exact(&["FUNCTION", "KILL", "x"]),
            Exact(&["FUNCTION", "FLUSH", "SYNC", "x"]),
            Exact(&["FUNCTION", "NOSUCH"]),
            Exact(&["COMMAND", "COUNT", "x"]),
            Exact(&["COMMAND", "GETKEYS", "get"]),
            Exact(&["COMMAND", "GETKEYS", "get", "a", "b"]),
            Exact(&["COMMAND", "GETKEYS", "exec", "x"]),
            Exact(&["COMMAND", "GETKEYS", "client", "list"]),
            Exact(&["COMMAND", "GETKEYS", "client", "nosuch"]),
            Exact(&["COMMAND", "GETKEYS", "nosuch", "a"]),
            Exact(&["COMMAND", "GETKEYS", "rename", "a", "b"]),
            Exact(&["COMMAND", "LIST", "x"]),
            Exact(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "zz*"]),
            Exact(&["COMMAND", "NOSUCH"]),
            Exact(&[
                "COMMAND",
                "INFO",
                "nosuch",
                "get|x",
                "script|load|x",
                "client|nosuch",
            ]),
            Exact(&["COMMAND", "DOCS", "nosuch"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn subcommands_queued_in_multi_match_redis() {
    Transcript::new()
        .shards(&[2])
        .steps(&[
            // A subcommand's arity error at queue time aborts the EXEC.
            Exact(&["MULTI"]),
            Exact(&["SCRIPT", "LOAD"]),
            Exact(&["CLIENT", "NOSUCH"]),
            Exact(&["EXEC"]),
            // Subcommands run in order at EXEC.
            Exact(&["MULTI"]),
            Exact(&["CONFIG", "GET", "maxmemory"]),
            Exact(&[
                "SCRIPT",
                "EXISTS",
                "ffffffffffffffffffffffffffffffffffffffff",
            ]),
            Exact(&["CLIENT", "GETNAME"]),
            Exact(&["EXEC"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn unknown_subcommands_and_arity_come_before_noauth_as_in_redis() {
    let ours = Server::shardis(2, &[]);
    let reference = Server::redis(&[]);
    // Set at run time: the fixture checks a server's identity with INFO.
    for server in [&ours, &reference] {
        let set = server.client().cmd(&["CONFIG", "SET", "requirepass", "pw"]);
        assert_eq!(set, "+OK\r\n");
    }
    let steps = [
        Exact(&["CLIENT", "NOSUCH"]),
        Exact(&["SCRIPT", "LOAD"]),
        Exact(&["CLIENT", "ID"]),
        Exact(&["CONFIG", "GET", "maxmemory"]),
        Exact(&["EXEC"]),
        Exact(&["AUTH", "pw"]),
        Exact(&["CLIENT", "GETNAME"]),
    ];
    let problems = Transcript::new().steps(&steps).diff(&ours, &reference);
    assert_no_differences(&problems, " (with requirepass)");
}

/// A COMMAND INFO entry without what shardis does not report (ACL
/// categories, tips, key specs): name, arity, flags (with their reply
/// type), key positions, and the subcommands `keep` picks, summed up the
/// same way and sorted (Redis lists them in hash order).
fn summary(entry: &Frame, keep: &dyn Fn(&str) -> bool) -> String {
    assert_eq!(entry.items.len(), 10, "not a COMMAND INFO entry: {entry:?}");
    let text = |f: &Frame| String::from_utf8_lossy(f.text()).into_owned();
    let mut flags: Vec<String> = entry.items[2].items.iter().map(text).collect();
    flags.sort();
    let subs = &entry.items[9];
    let mut subcommands: Vec<String> = subs
        .items
        .iter()
        .filter(|s| keep(&text(&s.items[0])))
        .map(|s| summary(s, keep))
        .collect();
    subcommands.sort();
    format!(
        "{} arity {} flags {}{:?} keys {} {} {} subcommands {}[{}]",
        text(&entry.items[0]),
        text(&entry.items[1]),
        entry.items[2].kind as char,
        flags,
        text(&entry.items[3]),
        text(&entry.items[4]),
        text(&entry.items[5]),
        subs.kind as char,
        subcommands.join(", ")
    )
}

/// The one entry of `COMMAND INFO name`.
fn info(c: &mut Raw, name: &str) -> Frame {
    let mut reply = frame(c.cmd(&["COMMAND", "INFO", name]).as_bytes());
    assert_eq!(reply.items.len(), 1, "{reply:?}");
    reply.items.remove(0)
}

/// The names of an entry's subcommands.
fn subcommand_names(entry: &Frame) -> BTreeSet<String> {
    entry.items[9]
        .items
        .iter()
        .map(|s| String::from_utf8_lossy(s.items[0].text()).into_owned())
        .collect()
}

/// COMMAND INFO of each container, in RESP2 and RESP3: Redis 7's shape
/// (subcommands as the tenth field, each a whole entry), and Redis's
/// names, arities, flags and key positions for every subcommand shardis
/// implements.
#[test]
fn command_info_of_containers_matches_redis() {
    let ours = Server::shardis(2, &[]);
    let reference = Server::redis(&[]);
    let mut problems = Vec::new();
    for resp3 in [false, true] {
        let (mut a, mut b) = (ours.client(), reference.client());
        if resp3 {
            a.cmd(&["HELLO", "3"]);
            b.cmd(&["HELLO", "3"]);
        }
        for container in CONTAINERS {
            let (mine, theirs) = (info(&mut a, container), info(&mut b, container));
            let (my_subs, their_subs) = (subcommand_names(&mine), subcommand_names(&theirs));
            assert!(
                my_subs.len() >= 2,
                "{container}: subcommands missing from COMMAND INFO: {mine:?}"
            );
            let extra: Vec<&String> = my_subs
                .difference(&their_subs)
                .filter(|s| !OUR_OWN.contains(&s.as_str()))
                .collect();
            assert!(extra.is_empty(), "{container}: unknown to Redis: {extra:?}");
            let keep = |name: &str| my_subs.contains(name) && their_subs.contains(name);
            let (mine, theirs) = (summary(&mine, &keep), summary(&theirs, &keep));
            if mine != theirs {
                problems.push(format!(
                    "COMMAND INFO {container} (RESP{})\n  shardis: {mine}\n  redis:   {theirs}",
                    if resp3 { 3 } else { 2 }
                ));
            }
        }
        // A subcommand by its full name, in any case; commands without
        // subcommands (an empty set in their tenth field).
        let names = [
            "script|load",
            "CLIENT|KILL",
            "config|get",
            "function|stats",
            "get",
            "mset",
            "watch",
            "dump",
            "restore",
            "save",
            "bgsave",
            "bgrewriteaof",
            "subscribe",
            "unsubscribe",
            "psubscribe",
            "punsubscribe",
            "ssubscribe",
            "sunsubscribe",
            "publish",
            "spublish",
            "pubsub|numsub",
        ];
        for name in names {
            let (mine, theirs) = (info(&mut a, name), info(&mut b, name));
            let (mine, theirs) = (summary(&mine, &|_| true), summary(&theirs, &|_| true));
            if mine != theirs {
                problems.push(format!(
                    "COMMAND INFO {name}\n  shardis: {mine}\n  redis:   {theirs}"
                ));
            }
        }
    }
    assert_no_differences(&problems, "");
}

/// COMMAND COUNT counts commands, not subcommands; COMMAND LIST names
/// both; COMMAND DOCS gives a container its subcommands' docs; as in Redis.
#[test]
fn command_count_list_and_docs_know_subcommands() {
    let ours = Server::shardis(1, &[]);
    let reference = Server::redis(&[]);
    for server in [&ours, &reference] {
        let mut c = server.client();
        let all = frame(c.cmd(&["COMMAND"]).as_bytes());
        let count = c.cmd(&["COMMAND", "COUNT"]);
        assert_eq!(count, format!(":{}\r\n", all.items.len()));
        let list = frame(c.cmd(&["COMMAND", "LIST"]).as_bytes());
        let names: BTreeSet<String> = list
            .items
            .iter()
            .map(|n| String::from_utf8_lossy(n.text()).into_owned())
            .collect();
        let subcommands: usize = all.items.iter().map(|e| e.items[9].items.len()).sum();
        assert_eq!(names.len(), all.items.len() + subcommands);
        for name in [
            "get",
            "script",
            "script|load",
            "client|kill",
            "command|info",
        ] {
            assert!(names.contains(name), "COMMAND LIST lacks {name}");
        }
        let scripts = frame(
            c.cmd(&["COMMAND", "LIST", "FILTERBY", "PATTERN", "SCRIPT|*"])
                .as_bytes(),
        );
        assert!(scripts.items.len() >= 5, "{scripts:?}");
    }
    // COMMAND DOCS: a container's map has its subcommands, by full name.
    let docs_subcommands = |server: &Server, name: &str| -> BTreeSet<String> {
        let docs = frame(server.client().cmd(&["COMMAND", "DOCS", name]).as_bytes());
        assert_eq!(docs.items.len(), 2, "{docs:?}");
        assert_eq!(docs.items[0].text(), name.as_bytes());
        let fields = &docs.items[1].items;
        let at = fields
            .iter()
            .position(|f| f.text() == b"subcommands")
            .unwrap_or_else(|| panic!("no subcommands in COMMAND DOCS {name}: {docs:?}"));
        fields[at + 1]
            .items
            .iter()
            .step_by(2)
            .map(|k| String::from_utf8_lossy(k.text()).into_owned())
            .collect()
    };
    for container in CONTAINERS {
        let mine = docs_subcommands(&ours, container);
        let theirs = docs_subcommands(&reference, container);
        let missing: Vec<&String> = mine
            .difference(&theirs)
            .filter(|s| !OUR_OWN.contains(&s.as_str()))
            .collect();
        assert!(
            missing.is_empty(),
            "{container}: unknown to Redis: {missing:?}"
        );
        let mut c = ours.client();
        let info = info(&mut c, container);
        assert_eq!(
            mine,
            subcommand_names(&info),
            "{container}: DOCS and INFO differ"
        );
    }
}
