//! Function libraries and the append-only log: every change of the
//! libraries is logged (in shard 0's log, whatever core made it) and
//! replayed at start, before any client is served.

use crate::aof::{kill9, shutdown};
use crate::common::{connect_to_core, Raw, Server, TempDir};

fn start(dir: &TempDir, shards: usize) -> Server {
    crate::aof::start_logged(dir, shards, "always")
}

/// A library `name` with one function, `<name>_set`, that SETs its key.
fn library(name: &str, version: usize) -> String {
    format!(
        "#!lua name={name}\n\
         -- version {version}\n\
         redis.register_function('{name}_set', function(keys, args)\n\
           return redis.call('SET', keys[1], args[1])\n\
         end)\n"
    )
}

fn list(c: &mut Raw) -> String {
    c.cmd(&["FUNCTION", "LIST", "WITHCODE"])
}

#[test]
fn libraries_loaded_and_deleted_come_back_after_kill_9() {
    for shards in [1, 3] {
        let dir = TempDir::new("aof-functions");
        let mut server = start(&dir, shards);
        let mut c = server.client();
        for name in ["keep", "gone"] {
            let reply = c.cmd(&["FUNCTION", "LOAD", &library(name, 1)]);
            assert_eq!(reply, format!("${}\r\n{name}\r\n", name.len()));
        }
        assert_eq!(
            c.cmd(&["FUNCTION", "LOAD", "REPLACE", &library("keep", 2)]),
            "$4\r\nkeep\r\n"
        );
        assert_eq!(c.cmd(&["FCALL", "keep_set", "1", "k", "v"]), "+OK\r\n");
        assert_eq!(c.cmd(&["FUNCTION", "DELETE", "gone"]), "+OK\r\n");
        let before = list(&mut c);
        assert!(before.contains("version 2"), "{before}");
        drop(c);
        kill9(&mut server);

        let server = start(&dir, shards);
        let mut c = server.client();
        assert_eq!(list(&mut c), before, "{shards} shard(s)");
        assert_eq!(c.cmd(&["GET", "k"]), "$1\r\nv\r\n");
        assert_eq!(c.cmd(&["FCALL", "keep_set", "1", "k2", "w"]), "+OK\r\n");
        assert_eq!(c.cmd(&["GET", "k2"]), "$1\r\nw\r\n");
        assert!(c
            .cmd(&["FCALL", "gone_set", "1", "k", "v"])
            .starts_with("-ERR Function not found"));
    }
}

#[test]
fn a_flush_and_a_restore_replay_as_they_ran() {
    let dir = TempDir::new("aof-functions-flush");
    let mut server = start(&dir, 2);
    let mut c = server.client();
    c.cmd(&["FUNCTION", "LOAD", &library("a", 1)]);
    c.cmd(&["FUNCTION", "LOAD", &library("b", 1)]);
    let loaded = list(&mut c);
    let dump = c.cmd_bytes(&[b"FUNCTION", b"DUMP"]);
    let payload = crate::common::frame(&dump).body.expect("a payload");
    assert_eq!(c.cmd(&["FUNCTION", "FLUSH"]), "+OK\r\n");
    drop(c);
    shutdown(&mut server);

    let mut server = start(&dir, 2);
    let mut c = server.client();
    assert_eq!(list(&mut c), "*0\r\n", "flushed before the restart");
    assert_eq!(
        c.cmd_bytes(&[b"FUNCTION", b"RESTORE", &payload]),
        b"+OK\r\n"
    );
    drop(c);
    kill9(&mut server);

    let server = start(&dir, 2);
    let mut c = server.client();
    assert_eq!(list(&mut c), loaded, "restored before the restart");
    assert_eq!(c.cmd(&["FCALL", "b_set", "1", "x", "1"]), "+OK\r\n");
}

/// A library changed through a core other than shard 0's (sent to core 0,
/// which makes and logs every change), and two cores racing changes of
/// the same library: the log replays to the state the clients saw.
#[test]
fn changes_made_through_any_core_replay_in_the_order_they_applied() {
    let dir = TempDir::new("aof-functions-cores");
    let mut server = start(&dir, 2);
    let mut other = connect_to_core(server.port, 1);
    assert_eq!(
        other.cmd(&["FUNCTION", "LOAD", &library("remote", 1)]),
        "$6\r\nremote\r\n"
    );
    let port = server.port;
    let racers: Vec<_> = (0..2)
        .map(|shard| {
            std::thread::spawn(move || {
                let mut c = connect_to_core(port, shard);
                for i in 0..40 {
                    if (i + shard) % 3 == 0 {
                        c.cmd(&["FUNCTION", "DELETE", "raced"]);
                    } else {
                        let code = library("raced", i * 10 + shard);
                        let reply = c.cmd(&["FUNCTION", "LOAD", "REPLACE", &code]);
                        assert_eq!(reply, "$5\r\nraced\r\n");
                    }
                }
            })
        })
        .collect();
    for racer in racers {
        racer.join().expect("a racer");
    }
    let before = list(&mut other);
    assert!(before.contains("remote"), "{before}");
    drop(other);
    kill9(&mut server);

    let server = start(&dir, 2);
    // Either core serves the libraries at once.
    for shard in [0, 1] {
        let mut c = connect_to_core(server.port, shard);
        assert_eq!(list(&mut c), before);
        let key = format!("k{shard}");
        assert_eq!(c.cmd(&["FCALL", "remote_set", "1", &key, "v"]), "+OK\r\n");
    }
}

/// With both a `dump.rdb` and a log, the log is authoritative: the
/// libraries are the log's, not the snapshot's.
#[test]
fn the_libraries_come_from_the_log_not_from_dump_rdb() {
    let dir = TempDir::new("aof-functions-rdb");
    let mut server = start(&dir, 2);
    let mut c = server.client();
    c.cmd(&["FUNCTION", "LOAD", &library("saved", 1)]);
    assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
    assert_eq!(c.cmd(&["FUNCTION", "DELETE", "saved"]), "+OK\r\n");
    c.cmd(&["FUNCTION", "LOAD", &library("logged", 1)]);
    let logged = list(&mut c);
    drop(c);
    shutdown(&mut server);
    assert!(std::path::Path::new(dir.path()).join("dump.rdb").exists());

    let server = start(&dir, 2);
    let mut c = server.client();
    assert_eq!(list(&mut c), logged);
    assert!(!logged.contains("saved"), "{logged}");
}

/// A library record that no longer loads (its code changed on disk, the
/// record's checksums made right again) stops the start with one line
/// naming the file.
#[test]
fn a_library_record_that_fails_to_load_refuses_the_start() {
    use shardis::aof::record::{parse_header, seal, HEADER_BYTES, MAX_PAYLOAD_BYTES};
    let dir = TempDir::new("aof-functions-bad");
    let mut server = start(&dir, 1);
    server
        .client()
        .cmd(&["FUNCTION", "LOAD", &library("bad", 1)]);
    shutdown(&mut server);
    let file = std::path::Path::new(dir.path()).join("appendonlydir/appendonly.aof.0.1.incr.aof");
    let mut bytes = std::fs::read(&file).expect("the log");
    let header = parse_header(&bytes).expect("a record");
    let end = HEADER_BYTES + header.len;
    let record = &mut bytes[HEADER_BYTES..end];
    let at = record
        .windows(8)
        .position(|w| w == b"redis.re")
        .expect("the library's code in the record");
    // `redis.xe...`: a global that does not exist at load time.
    record[at + 6] = b'x';
    seal(&mut bytes[..end], 0, header.lsn, MAX_PAYLOAD_BYTES).expect("seals");
    std::fs::write(&file, &bytes).expect("write");

    let out = std::process::Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--port", &crate::common::free_port().to_string()])
        .args(["--shards", "1", "--dir", dir.path(), "--appendonly", "yes"])
        .output()
        .expect("run shardis");
    assert!(!out.status.success(), "refused to start");
    let err = String::from_utf8_lossy(&out.stderr);
    let line = err
        .lines()
        .find(|l| l.contains("appendonly.aof.0.1.incr.aof"))
        .unwrap_or_else(|| panic!("no line names the file: {err}"));
    assert!(line.contains("a function library change failed"), "{err}");
}
