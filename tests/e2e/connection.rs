//! End-to-end: connection and server commands, configuration, start-up.

use crate::common;

use std::time::Duration;

use common::{free_port, Server, Step::*, Transcript};

#[test]
fn select_isolates_databases_on_every_shard() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    assert_eq!(c.cmd(&["MSET", "a", "0", "b", "0", "c", "0"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SELECT", "5"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["MGET", "a", "b", "c"]),
        "*3\r\n$-1\r\n$-1\r\n$-1\r\n"
    );
    assert_eq!(c.cmd(&["MSET", "a", "5", "b", "5"]), "+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), ":2\r\n");
    assert_eq!(c.cmd(&["SELECT", "0"]), "+OK\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), ":3\r\n");
    assert_eq!(c.cmd(&["GET", "a"]), "$1\r\n0\r\n");
}

#[test]
fn connection_commands_match_redis() {
    Transcript::new()
        .shards(&[2])
        .steps(&[
            Exact(&["SELECT", "16"]),
            Exact(&["SELECT", "-1"]),
            Exact(&["SELECT", "x"]),
            Exact(&["SELECT", "15"]),
            Exact(&["ECHO"]),
            Exact(&["AUTH", "x"]),
            Exact(&["AUTH", "default", "x"]),
            Exact(&["HELLO", "4"]),
            Exact(&["HELLO", "x"]),
            Exact(&["HELLO", "3", "BOGUS"]),
            Exact(&["CLIENT", "GETNAME"]),
            Exact(&["CLIENT", "SETNAME", "my-name"]),
            Exact(&["CLIENT", "GETNAME"]),
            Exact(&["CLIENT", "SETNAME", "a b"]),
            Exact(&["CLIENT", "NOSUCH"]),
            Exact(&["CONFIG", "GET", "maxmemory"]),
            Exact(&["CONFIG", "GET", "databases"]),
            Exact(&["CONFIG", "SET", "nosuch", "1"]),
            Exact(&["CONFIG", "NOSUCH"]),
            Exact(&["COMMAND", "NOSUCH"]),
            Exact(&["RESET"]),
            Exact(&["QUIT"]),
        ])
        .assert_same_as_redis();
}

#[test]
fn hello_switches_protocol_and_reset_restores_it() {
    let s = Server::shardis(2, &[]);
    let mut c = s.client();
    let hello = c.cmd(&["HELLO", "3", "SETNAME", "conn1"]);
    assert!(
        hello.starts_with("%7\r\n$6\r\nserver\r\n$5\r\nredis\r\n"),
        "{hello}"
    );
    assert!(hello.contains("$5\r\nproto\r\n:3\r\n"));
    assert_eq!(c.cmd(&["GET", "missing"]), "_\r\n");
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), "$5\r\nconn1\r\n");
    assert_eq!(c.cmd(&["RESET"]), "+RESET\r\n");
    assert_eq!(c.cmd(&["GET", "missing"]), "$-1\r\n");
    assert_eq!(c.cmd(&["CLIENT", "GETNAME"]), "$-1\r\n");
}

#[test]
fn hello_auth_and_noauth() {
    let s = Server::shardis(1, &["--requirepass", "pw"]);
    let mut c = s.client();
    assert!(c
        .cmd(&["HELLO", "3"])
        .starts_with("-NOAUTH HELLO must be called"));
    assert_eq!(c.cmd(&["PING"]), "-NOAUTH Authentication required.\r\n");
    assert!(c
        .cmd(&["HELLO", "2", "AUTH", "default", "pw"])
        .starts_with("*14\r\n"));
    assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    // Unauthenticated clients get Redis's tighter frame limits.
    let mut d = s.client();
    d.send_raw(b"*20\r\n");
    assert_eq!(
        d.read_reply(),
        "-ERR Protocol error: unauthenticated multibulk length\r\n"
    );
    assert!(d.is_closed());
}

#[test]
fn client_list_id_and_kill() {
    let s = Server::shardis(2, &[]);
    let mut a = s.client();
    let mut b = s.client();
    let id_b = b.cmd(&["CLIENT", "ID"]);
    let id_b = id_b.trim_start_matches(':').trim();
    assert_eq!(b.cmd(&["CLIENT", "SETNAME", "victim"]), "+OK\r\n");
    let list = a.cmd(&["CLIENT", "LIST"]);
    assert!(list.contains(&format!("id={id_b} ")), "{list}");
    assert!(list.contains("name=victim "), "{list}");
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", id_b]), ":1\r\n");
    assert!(b.is_closed());
    assert_eq!(a.cmd(&["CLIENT", "KILL", "ID", id_b]), ":0\r\n");
}

#[test]
fn config_get_set_and_aliases() {
    let s = Server::shardis(2, &["--busy-reply-threshold", "1234"]);
    let mut c = s.client();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "lua-time-limit"]),
        "*2\r\n$14\r\nlua-time-limit\r\n$4\r\n1234\r\n"
    );
    assert_eq!(c.cmd(&["CONFIG", "SET", "lua-time-limit", "50"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "busy-reply-threshold"]),
        "*2\r\n$20\r\nbusy-reply-threshold\r\n$2\r\n50\r\n"
    );
    assert!(c
        .cmd(&["CONFIG", "SET", "port", "1"])
        .contains("can't set immutable config"));
    // A failed multi-set changes nothing.
    assert!(c
        .cmd(&["CONFIG", "SET", "hz", "20", "maxclients", "x"])
        .starts_with("-ERR CONFIG SET failed"));
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz"]),
        "*2\r\n$2\r\nhz\r\n$2\r\n10\r\n"
    );
}

#[test]
fn config_file_and_flag_precedence() {
    let dir = crate::common::TempDir::new("conf");
    let path = dir.0.join("test.conf");
    std::fs::write(&path, "# test\nhz 25\nmaxclients 77\n").unwrap();
    let s = Server::shardis(
        1,
        &["--config", path.to_str().unwrap(), "--maxclients", "88"],
    );
    let mut c = s.client();
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "hz"]),
        "*2\r\n$2\r\nhz\r\n$2\r\n25\r\n"
    );
    assert_eq!(
        c.cmd(&["CONFIG", "GET", "maxclients"]),
        "*2\r\n$10\r\nmaxclients\r\n$2\r\n88\r\n"
    );
}

/// Two servers started at the same moment on one port: exactly one runs
/// (SO_REUSEPORT would otherwise let both listen and split the clients).
#[test]
fn two_servers_racing_for_one_port_leave_one() {
    for _ in 0..5 {
        // A fresh port each round: a killed server's io_uring lets go of
        // its listening sockets a moment after the process is gone.
        let port = free_port();
        let start = || {
            std::process::Command::new(env!("CARGO_BIN_EXE_shardis"))
                .args(["--port", &port.to_string(), "--shards", "2"])
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()
                .expect("start shardis")
        };
        let (mut a, mut b) = (start(), start());
        // The loser exits at once: wait (with a deadline, not a fixed
        // sleep a loaded machine may outlast) until one has, give the
        // other as long to follow if it wrongly would, then count.
        let count_exited = |a: &mut std::process::Child, b: &mut std::process::Child| {
            [a, b]
                .into_iter()
                .filter_map(|c| c.try_wait().ok().flatten())
                .count()
        };
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let started = std::time::Instant::now();
        while count_exited(&mut a, &mut b) == 0 && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
        std::thread::sleep(started.elapsed().max(std::time::Duration::from_millis(200)));
        let exited = count_exited(&mut a, &mut b);
        for c in [&mut a, &mut b] {
            let _ = c.kill();
            let _ = c.wait();
        }
        assert_eq!(
            exited, 1,
            "exactly one of two servers on port {port} must exit"
        );
    }
}

#[test]
fn start_failures_are_one_clear_line() {
    let s = Server::shardis(1, &[]);
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--port", &s.port.to_string(), "--shards", "1"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("address already in use"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--cores", "0-x"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--cores"));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--hz", "0"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--hz"));
}

#[test]
fn sigterm_shuts_down_cleanly() {
    let mut s = Server::shardis(2, &[]);
    let mut c = s.client();
    assert_eq!(c.cmd(&["SET", "k", "v"]), "+OK\r\n");
    // SAFETY-free: kill(2) via the command line tool.
    let status = std::process::Command::new("kill")
        .args(["-TERM", &s.pid().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    assert!(c.is_closed());
    let exit = s
        .wait_exit(Duration::from_secs(10))
        .expect("exits after SIGTERM");
    assert!(exit.success());
}

#[test]
fn info_reports_sections_and_shards() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    c.cmd(&["MSET", "a", "1", "b", "2", "c", "3", "d", "4"]);
    c.cmd(&["SET", "e", "5", "EX", "100"]);
    let info = c.cmd(&["INFO"]);
    for field in [
        "redis_version:",
        "connected_clients:",
        "used_memory:",
        "total_commands_processed:",
        "shard2:core=",
    ] {
        assert!(info.contains(field), "INFO lacks {field}: {info}");
    }
    assert!(info.contains("db0:keys=5,expires=1"), "{info}");
    let only = c.cmd(&["INFO", "keyspace"]);
    assert!(
        only.contains("# Keyspace") && !only.contains("# Server"),
        "{only}"
    );
}

#[test]
fn command_count_info_and_getkeys() {
    let s = Server::shardis(1, &[]);
    let mut c = s.client();
    assert!(c.cmd(&["COMMAND", "COUNT"]).starts_with(':'));
    let info = c.cmd(&["COMMAND", "INFO", "get"]);
    assert!(
        info.starts_with("*1\r\n*10\r\n$3\r\nget\r\n:2\r\n"),
        "{info}"
    );
    assert_eq!(
        c.cmd(&["COMMAND", "GETKEYS", "MSET", "a", "1", "b", "2"]),
        "*2\r\n$1\r\na\r\n$1\r\nb\r\n"
    );
}

#[test]
fn maxclients_rejects_extra_connections() {
    let s = Server::shardis(1, &["--maxclients", "2"]);
    let mut a = s.client();
    let mut b = s.client();
    assert_eq!(a.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(b.cmd(&["PING"]), "+PONG\r\n");
    let mut c = s.client();
    assert_eq!(c.read_reply(), "-ERR max number of clients reached\r\n");
}

#[test]
fn config_resetstat_zeroes_counters_on_every_shard() {
    let s = Server::shardis(3, &[]);
    let mut c = s.client();
    for i in 0..30 {
        c.cmd(&["GET", &format!("k{i}")]);
    }
    let stat = |c: &mut common::Raw, name: &str| -> u64 {
        let info = c.cmd(&["INFO", "stats"]);
        let line = info
            .lines()
            .find(|l| l.starts_with(name))
            .unwrap_or_else(|| panic!("{name} in {info}"));
        line[name.len() + 1..].trim().parse().unwrap()
    };
    assert_eq!(stat(&mut c, "keyspace_misses"), 30);
    assert_eq!(c.cmd(&["CONFIG", "RESETSTAT"]), "+OK\r\n");
    assert_eq!(stat(&mut c, "keyspace_misses"), 0);
    assert!(stat(&mut c, "total_commands_processed") < 5);
}

#[test]
fn debug_needs_enable_debug_command_like_redis() {
    Transcript::new()
        .shards(&[1])
        .steps(&[
            Exact(&["DEBUG", "SLEEP", "0"]),
            Exact(&["CONFIG", "GET", "enable-debug-command"]),
            Exact(&["CONFIG", "SET", "enable-debug-command", "yes"]),
        ])
        .assert_same_as_redis();
    // Tests connect over loopback, so `local` allows them too.
    for mode in ["yes", "local"] {
        let s = Server::shardis(1, &["--enable-debug-command", mode]);
        assert_eq!(
            s.client().cmd(&["DEBUG", "SLEEP", "0"]),
            "+OK\r\n",
            "{mode}"
        );
    }
}

#[test]
fn client_kill_by_type_kills_only_that_type() {
    Transcript::new()
        .shards(&[2])
        .steps(&[
            Exact(&["CLIENT", "KILL", "TYPE", "master"]),
            Exact(&["CLIENT", "KILL", "TYPE", "slave"]),
            Exact(&["CLIENT", "KILL", "TYPE", "replica"]),
            Exact(&["CLIENT", "KILL", "TYPE", "pubsub"]),
            Exact(&["CLIENT", "KILL", "TYPE", "nosuch"]),
            Exact(&["CLIENT", "KILL", "USER", "bob"]),
            Exact(&["CLIENT", "KILL", "USER", "default", "SKIPME", "yes"]),
            Exact(&["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"]),
            Exact(&["CLIENT", "KILL", "MAXAGE", "5"]),
        ])
        .assert_same_as_redis();
    // Sentinel and replicas send these: a normal client must survive them.
    let s = Server::shardis(2, &[]);
    let (mut killer, mut other) = (s.client(), s.client());
    for kind in ["master", "slave", "replica", "pubsub"] {
        assert_eq!(killer.cmd(&["CLIENT", "KILL", "TYPE", kind]), ":0\r\n");
    }
    assert_eq!(other.cmd(&["PING"]), "+PONG\r\n");
    assert_eq!(killer.cmd(&["CLIENT", "KILL", "TYPE", "normal"]), ":1\r\n");
    assert!(other.is_closed(), "TYPE normal kills the other client");
}
