//! The `rdb` codec against the real redis-server 7.0.15 and its
//! `redis-check-rdb`: files Redis writes (every encoding it uses) read by
//! shardis's reader match what Redis answers for them, and files shardis's
//! writer produces pass `redis-check-rdb` and load into Redis with every
//! key, value, TTL and function intact. Fails, never skips, when Redis is
//! not installed.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{SystemTime, UNIX_EPOCH};

use redis::Connection;
use shardis::rdb::snapshot::{load_keyspace, write_keyspace};
use shardis::rdb::{Item, Reader, Writer};
use shardis::store::value::{Hash, List, Set};
use shardis::store::{Keyspace, Value, ZSet};

use crate::common::dataset::{contents_of, fill, Canon, Contents};
use crate::common::{assert_redis_check_rdb, run, Server, TempDir};

fn canon(value: &Value) -> Canon {
    match value {
        Value::Str(s) => Canon::Str(s.clone()),
        Value::List(l) => Canon::List(l.iter().cloned().collect()),
        Value::Set(s) => Canon::Set(s.iter().map(|m| m.to_vec()).collect()),
        Value::Hash(h) => Canon::Hash(h.iter().map(|(f, v)| (f.to_vec(), v.clone())).collect()),
        Value::ZSet(z) => Canon::ZSet(z.iter().map(|(m, s)| (m.to_vec(), s)).collect()),
    }
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock after 1970")
        .as_millis() as u64
}

/// What the reader finds in `file`: keys by db, function codes, AUX names.
fn read_file(file: &[u8]) -> (Contents, Vec<Vec<u8>>, BTreeSet<String>) {
    let mut contents = Contents::new();
    let mut functions = Vec::new();
    let mut aux = BTreeSet::new();
    let mut reader = Reader::new(file).expect("an RDB header");
    while let Some(item) = reader.next_item().unwrap_or_else(|e| panic!("{e}")) {
        match item {
            Item::Key {
                db,
                key,
                value,
                expires_at_ms,
            } => {
                contents
                    .entry(db)
                    .or_default()
                    .insert(key, (canon(&value), expires_at_ms));
            }
            Item::Function(code) => functions.push(code),
            Item::Aux(name, _) => {
                aux.insert(String::from_utf8_lossy(&name).into_owned());
            }
            Item::DbSize { .. } => {}
        }
    }
    (contents, functions, aux)
}

/// Fills a Redis so that every encoding 7.0 writes appears; returns the
/// function library's code.
/// The OBJECT ENCODING of every key of the three filled dbs.
fn encodings(con: &mut Connection) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for db in [0u32, 1, 5] {
        redis::cmd("SELECT").arg(db).exec(con).expect("SELECT");
        let keys: Vec<Vec<u8>> = redis::cmd("KEYS").arg("*").query(con).expect("KEYS");
        for key in keys {
            let enc: String = redis::cmd("OBJECT")
                .arg("ENCODING")
                .arg(&key)
                .query(con)
                .expect("OBJECT ENCODING");
            out.insert(enc);
        }
    }
    out
}

/// Saves a filled Redis started with `extra` settings; checks what the
/// reader finds in its dump.rdb against what Redis answers.
fn redis_dump_reads_back(name: &str, extra: &[&str]) -> Vec<u8> {
    let dir = TempDir::new(&format!("rdb-{name}"));
    let mut args = vec!["--dir", dir.path(), "--enable-debug-command", "yes"];
    args.extend_from_slice(extra);
    let redis = Server::redis(&args);
    let mut con = redis.redis_client();
    let code = fill(&mut con);
    let seen = encodings(&mut con);
    for enc in [
        "int",
        "embstr",
        "raw",
        "listpack",
        "quicklist",
        "hashtable",
        "intset",
        "skiplist",
    ] {
        assert!(seen.contains(enc), "no {enc} value in the fill: {seen:?}");
    }
    run(&mut con, &[b"SAVE"]);
    let file = std::fs::read(dir.0.join("dump.rdb")).expect("dump.rdb");
    let (read, functions, aux) = read_file(&file);
    let expected = contents_of(&mut con);
    assert_eq!(read.keys().collect::<Vec<_>>(), vec![&0, &1, &5]);
    assert_eq!(read, expected);
    assert_eq!(functions, vec![code]);
    for field in ["redis-ver", "redis-bits", "ctime", "used-mem", "aof-base"] {
        assert!(aux.contains(field), "no {field} AUX field: {aux:?}");
    }
    file
}

#[test]
fn reads_what_redis_saves_in_every_encoding() {
    let file = redis_dump_reads_back("default", &["--rdbcompression", "yes"]);
    let n = file.len();
    assert_ne!(&file[n - 8..], &[0; 8], "checksummed");
}

#[test]
fn reads_redis_files_with_small_nodes_plain_nodes_and_no_checksum() {
    // Quicklist nodes of at most 4 entries, a plain node for every list
    // element over 20 bytes, ziplist-sized thresholds off, no checksum.
    let dir = TempDir::new("rdb-settings");
    let args = [
        "--dir",
        dir.path(),
        "--enable-debug-command",
        "yes",
        "--rdbchecksum",
        "no",
        "--rdbcompression",
        "no",
        "--list-max-listpack-size",
        "4",
        "--hash-max-listpack-entries",
        "2",
        "--zset-max-listpack-entries",
        "2",
        "--set-max-intset-entries",
        "2",
    ];
    let redis = Server::redis(&args);
    let mut con = redis.redis_client();
    run(&mut con, &[b"DEBUG", b"QUICKLIST-PACKED-THRESHOLD", b"20"]);
    fill(&mut con);
    run(&mut con, &[b"SAVE"]);
    let file = std::fs::read(dir.0.join("dump.rdb")).expect("dump.rdb");
    let n = file.len();
    assert_eq!(
        &file[n - 8..],
        &[0; 8],
        "rdbchecksum no writes a zero checksum"
    );
    let (read, _, _) = read_file(&file);
    assert_eq!(read, contents_of(&mut con));
}

/// Every type, in several dbs, with small and big collections, as the
/// store holds them.
fn shardis_contents() -> BTreeMap<u32, Vec<(Vec<u8>, Value, u64)>> {
    let later = now_ms() + 3_600_000;
    let mut out = BTreeMap::new();
    for db in [0u32, 3, 15] {
        let mut keys = Vec::new();
        for size in [3usize, 700] {
            let mut hash = Hash::new();
            let mut list = List::new();
            let mut set = Set::new();
            let mut intset = Set::new();
            let mut pairs = Vec::new();
            for i in 0..size {
                hash.insert(
                    format!("f{i}").into_bytes().into_boxed_slice(),
                    format!("{i}").into_bytes(),
                );
                list.push_back(format!("item {i}").into_bytes());
                set.insert(format!("m{i}").into_bytes().into_boxed_slice());
                intset.insert(format!("{}", i as i64 - 5).into_bytes().into_boxed_slice());
                pairs.push((
                    format!("z{i}").into_bytes().into_boxed_slice(),
                    i as f64 / 4.0 - 1.0,
                ));
            }
            pairs.push((b"low".to_vec().into_boxed_slice(), f64::NEG_INFINITY));
            keys.push((format!("hash{size}").into_bytes(), Value::Hash(hash), 0));
            keys.push((format!("list{size}").into_bytes(), Value::List(list), later));
            keys.push((format!("set{size}").into_bytes(), Value::Set(set), 0));
            keys.push((format!("intset{size}").into_bytes(), Value::Set(intset), 0));
            keys.push((
                format!("zset{size}").into_bytes(),
                Value::ZSet(ZSet::from_pairs(pairs)),
                0,
            ));
        }
        keys.push((b"str".to_vec(), Value::Str(b"hello".to_vec()), 0));
        keys.push((b"int".to_vec(), Value::Str(b"-32768".to_vec()), later + 1));
        keys.push((
            b"bigint".to_vec(),
            Value::Str(b"9007199254740993".to_vec()),
            0,
        ));
        keys.push((b"long".to_vec(), Value::Str(vec![b'q'; 100_000]), 0));
        keys.push((
            b"bin\x00\xff".to_vec(),
            Value::Str(b"\x00\x01\xfe".to_vec()),
            0,
        ));
        out.insert(db, keys);
    }
    out
}

#[test]
fn redis_loads_what_shardis_writes() {
    let dir = TempDir::new("rdb-written");
    let contents = shardis_contents();
    let code = b"#!lua name=shardislib\nredis.register_function('shardisf', function() return 'from shardis' end)";
    let path = dir.0.join("shardis.rdb");
    let file = std::io::BufWriter::new(std::fs::File::create(&path).expect("create the file"));
    let mut writer = Writer::new(file);
    writer.begin(0).expect("write");
    // Through a store keyspace, as a shard's SAVE would write it.
    let mut keyspace = Keyspace::for_shard(0, 1);
    for (db, keys) in &contents {
        for (key, value, at) in keys {
            keyspace.dbs[*db as usize].insert(key, value.clone(), *at);
        }
    }
    write_keyspace(&mut writer, &keyspace, now_ms()).expect("write");
    writer.function(code).expect("write");
    writer.finish().expect("finish");

    assert_redis_check_rdb(&path);

    let redis = Server::redis(&["--dir", dir.path(), "--dbfilename", "shardis.rdb"]);
    let mut con = redis.redis_client();
    let loaded = contents_of(&mut con);
    let expected: Contents = contents
        .iter()
        .map(|(db, keys)| {
            (
                *db,
                keys.iter()
                    .map(|(k, v, at)| (k.clone(), (canon(v), *at)))
                    .collect(),
            )
        })
        .collect();
    assert_eq!(loaded, expected);
    let reply: String = redis::cmd("FCALL")
        .arg("shardisf")
        .arg(0)
        .query(&mut con)
        .expect("FCALL");
    assert_eq!(reply, "from shardis");
    // And what Redis saves of it reads back the same.
    run(&mut con, &[b"SAVE"]);
    let saved = std::fs::read(dir.0.join("shardis.rdb")).expect("saved file");
    let (read, functions, _) = read_file(&saved);
    assert_eq!(read, expected);
    assert_eq!(functions, vec![code.to_vec()]);
    // And a shardis keyspace loads it whole.
    let mut back = Keyspace::for_shard(0, 1);
    let loaded = load_keyspace(&saved, &mut back, now_ms()).expect("loads");
    assert_eq!(
        loaded.keys,
        expected.values().map(|db| db.len()).sum::<usize>()
    );
}

/// A ziplist entry's encoding and data: small integers as Redis stores
/// them, everything else as a string.
fn ziplist_entry(value: &[u8]) -> Vec<u8> {
    let int = std::str::from_utf8(value)
        .ok()
        .and_then(|s| s.parse::<i64>().ok())
        .filter(|v| v.to_string().as_bytes() == value);
    match int {
        Some(v @ 0..=12) => vec![0xf1 + v as u8],
        Some(v) if i8::try_from(v).is_ok() => vec![0xfe, v as i8 as u8],
        Some(v) if i16::try_from(v).is_ok() => [&[0xc0][..], &(v as i16).to_le_bytes()].concat(),
        Some(v) if i32::try_from(v).is_ok() => [&[0xd0][..], &(v as i32).to_le_bytes()].concat(),
        Some(v) => [&[0xe0][..], &v.to_le_bytes()].concat(),
        None => {
            assert!(value.len() < 64, "short strings only");
            [&[value.len() as u8][..], value].concat()
        }
    }
}

/// A ziplist of `values`, with its tail offset and previous lengths as
/// Redis's integrity check wants them.
fn ziplist(values: &[&[u8]]) -> Vec<u8> {
    let mut body = Vec::new();
    let mut prev = 0usize;
    let mut tail = 10;
    for v in values {
        tail = 10 + body.len();
        let start = body.len();
        if prev < 254 {
            body.push(prev as u8);
        } else {
            body.push(254);
            body.extend_from_slice(&(prev as u32).to_le_bytes());
        }
        body.extend_from_slice(&ziplist_entry(v));
        prev = body.len() - start;
    }
    let mut out = ((10 + body.len() + 1) as u32).to_le_bytes().to_vec();
    out.extend_from_slice(&(tail as u32).to_le_bytes());
    out.extend_from_slice(&(values.len() as u16).to_le_bytes());
    out.extend_from_slice(&body);
    out.push(0xff);
    out
}

/// A zipmap of short pairs, with one byte of free space after each value.
fn zipmap(pairs: &[(&[u8], &[u8])]) -> Vec<u8> {
    let mut out = vec![pairs.len() as u8];
    for (field, value) in pairs {
        out.push(field.len() as u8);
        out.extend_from_slice(field);
        out.push(value.len() as u8);
        out.push(1);
        out.extend_from_slice(value);
        out.push(b'_');
    }
    out.push(0xff);
    out
}

#[test]
fn reads_pre_7_encodings_as_redis_loads_them() {
    use shardis::rdb::encode;
    // Types redis-server 7.0 reads but no longer writes, hand-built as
    // Redis wrote them (a zset ziplist in score order: Redis loads one
    // as it is, where shardis sorts it).
    let mut file = b"REDIS0009\xfe\x00".to_vec();
    let key = |file: &mut Vec<u8>, kind: u8, name: &[u8], blob: &[u8]| {
        file.push(kind);
        encode::string(file, name, false);
        encode::string_plain(file, blob);
    };
    key(
        &mut file,
        10,
        b"zl_list",
        &ziplist(&[
            b"a",
            b"1",
            b"-300",
            b"70000",
            b"hello world",
            b"-9000000000",
            b"100",
        ]),
    );
    key(
        &mut file,
        12,
        b"zl_zset",
        &ziplist(&[b"m3", b"-inf", b"m1", b"1.5", b"m2", b"2"]),
    );
    key(
        &mut file,
        13,
        b"zl_hash",
        &ziplist(&[b"f1", b"v1", b"f2", b"12"]),
    );
    key(
        &mut file,
        9,
        b"zipmap",
        &zipmap(&[(b"a", b"1"), (b"bb", b"xyz")]),
    );
    // A quicklist (type 14) of two ziplist nodes.
    file.push(14);
    encode::string(&mut file, b"quicklist", false);
    encode::length(&mut file, 2);
    encode::string_plain(&mut file, &ziplist(&[b"n1", b"2"]));
    encode::string_plain(&mut file, &ziplist(&[b"n3", b"-4", b"n5"]));
    // A type 3 zset (scores as text, 254 = +inf), under a seconds expiry.
    file.push(0xfd);
    file.extend_from_slice(&2_000_000_000u32.to_le_bytes());
    file.push(3);
    encode::string(&mut file, b"textzset", false);
    encode::length(&mut file, 2);
    encode::string(&mut file, b"a", false);
    file.extend_from_slice(b"\x042.25");
    encode::string(&mut file, b"b", false);
    file.push(254);
    file.push(0xff);
    let crc = shardis::rdb::crc::crc64(&file);
    file.extend_from_slice(&crc.to_le_bytes());

    let dir = TempDir::new("rdb-legacy");
    let path = dir.0.join("legacy.rdb");
    std::fs::write(&path, &file).expect("write the file");
    assert_redis_check_rdb(&path);

    let redis = Server::redis(&["--dir", dir.path(), "--dbfilename", "legacy.rdb"]);
    let mut con = redis.redis_client();
    let loaded = contents_of(&mut con);
    assert_eq!(loaded.get(&0).map(|db| db.len()), Some(6), "{loaded:?}");
    let (read, _, _) = read_file(&file);
    assert_eq!(read, loaded);
}

#[test]
fn hostile_cuts_and_flips_of_a_redis_dump_are_errors_not_panics() {
    let file = redis_dump_reads_back("hostile", &["--rdbcompression", "yes"]);
    // A few hundred positions spread over the file: it is large.
    let step = file.len() / 300 + 1;
    // Every cut is an error.
    for len in (0..file.len()).step_by(step) {
        let mut reader = match Reader::new(&file[..len]) {
            Ok(reader) => reader,
            Err(e) => {
                assert!(e.offset <= len);
                continue;
            }
        };
        let e = loop {
            match reader.next_item() {
                Ok(Some(_)) => {}
                Ok(None) => panic!("a file cut at {len} read to the end"),
                Err(e) => break e,
            }
        };
        assert!(
            e.offset <= len,
            "error offset {} past the cut {len}",
            e.offset
        );
    }
    // Every flipped byte is caught: by the parser or by the checksum.
    for i in (9..file.len()).step_by(step) {
        let mut bad = file.clone();
        bad[i] ^= 0x5a;
        assert!(
            Reader::read_all(&bad).is_err(),
            "flip at {i} went unnoticed"
        );
    }
}

#[test]
fn shardis_save_writes_a_file_redis_loads() {
    let dir = TempDir::new("rdb-save");
    let protected = ["--enable-protected-configs", "yes"];
    let shardis = Server::shardis(3, &[&["--dir", dir.path()][..], &protected].concat());
    let mut con = shardis.redis_client();
    let code = fill(&mut con);
    // Long strings that compress, as values, members and keys.
    let long = "compressible ".repeat(200);
    run(&mut con, &[b"SET", long.as_bytes(), long.as_bytes()]);
    run(&mut con, &[b"RPUSH", b"longs", long.as_bytes(), b"short"]);
    let expected = contents_of(&mut con);
    let mut sizes = Vec::new();
    for compression in ["yes", "no"] {
        let name = format!("s-{compression}.rdb");
        run(
            &mut con,
            &[b"CONFIG", b"SET", b"dbfilename", name.as_bytes()],
        );
        run(
            &mut con,
            &[b"CONFIG", b"SET", b"rdbcompression", compression.as_bytes()],
        );
        let reply: String = redis::cmd("SAVE").query(&mut con).expect("SAVE");
        assert_eq!(reply, "OK");
        let path = dir.0.join(&name);
        let file = std::fs::read(&path).expect("SAVE wrote dir/dbfilename");
        sizes.push(file.len());
        let (read, functions, _) = read_file(&file);
        assert_eq!(read, expected, "rdbcompression {compression}");
        assert_eq!(functions, vec![code.clone()]);
        assert_redis_check_rdb(&path);
        let redis = Server::redis(&["--dir", dir.path(), "--dbfilename", &name]);
        let mut redis_con = redis.redis_client();
        assert_eq!(
            contents_of(&mut redis_con),
            expected,
            "rdbcompression {compression}"
        );
        assert_function_runs(&mut redis_con);
    }
    // Three copies of the long string shrink to a few dozen bytes each.
    assert!(
        sizes[0] + 3 * long.len() - 300 < sizes[1],
        "rdbcompression yes wrote {} bytes, no {}",
        sizes[0],
        sizes[1]
    );
}

#[test]
fn shardis_loads_its_own_save_and_a_redis_dump_at_any_shard_count() {
    let dir = TempDir::new("rdb-load");
    // A dump written by redis-server.
    let redis = Server::redis(&["--dir", dir.path(), "--dbfilename", "r.rdb"]);
    let mut redis_con = redis.redis_client();
    fill(&mut redis_con);
    run(&mut redis_con, &[b"SAVE"]);
    let expected = contents_of(&mut redis_con);
    drop(redis);
    let loaded = Server::shardis(3, &["--dir", dir.path(), "--dbfilename", "r.rdb"]);
    let mut con = loaded.redis_client();
    assert_eq!(contents_of(&mut con), expected);
    assert_function_runs(&mut con);
    // Saved by 3 shards, loaded by 2.
    let reply: String = redis::cmd("SAVE").query(&mut con).expect("SAVE");
    assert_eq!(reply, "OK");
    drop(loaded);
    let reloaded = Server::shardis(2, &["--dir", dir.path(), "--dbfilename", "r.rdb"]);
    let mut con = reloaded.redis_client();
    assert_eq!(contents_of(&mut con), expected);
    assert_function_runs(&mut con);
}

#[test]
fn shardis_refuses_to_start_on_a_corrupt_file() {
    let dir = TempDir::new("rdb-corrupt");
    std::fs::write(dir.0.join("bad.rdb"), b"REDIS0010\xfe\x00\x00\x01k\x05v").expect("write");
    let port = crate::common::free_port().to_string();
    let status = Command::new(env!("CARGO_BIN_EXE_shardis"))
        .args(["--port", &port, "--shards", "2", "--dir", dir.path()])
        .args(["--dbfilename", "bad.rdb"])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .output()
        .expect("shardis runs");
    assert!(!status.status.success());
    let stderr = String::from_utf8_lossy(&status.stderr);
    assert!(
        stderr.contains("bad.rdb") && stderr.contains("byte"),
        "{stderr}"
    );
}

#[test]
fn save_waits_for_a_running_script_and_never_holds_half_of_it() {
    let dir = TempDir::new("rdb-script");
    let shardis = Server::shardis(2, &["--dir", dir.path()]);
    let port = shardis.port;
    let script = "redis.call('SET', KEYS[1], '1') \
        local t = redis.call('TIME') local start = t[1] * 1000000 + t[2] \
        repeat t = redis.call('TIME') until t[1] * 1000000 + t[2] - start > 300000 \
        redis.call('SET', KEYS[2], '1') return 1";
    let runner = std::thread::spawn(move || {
        let mut raw = crate::common::Raw::connect(port);
        raw.cmd(&["EVAL", script, "2", "{s}first", "{s}second"])
    });
    std::thread::sleep(std::time::Duration::from_millis(100));
    let mut con = shardis.redis_client();
    let reply: String = redis::cmd("SAVE").query(&mut con).expect("SAVE");
    assert_eq!(reply, "OK");
    assert_eq!(runner.join().expect("the script ran"), ":1\r\n");
    let file = std::fs::read(dir.0.join("dump.rdb")).expect("dump.rdb");
    let (read, _, _) = read_file(&file);
    let keys: Vec<Vec<u8>> = read
        .get(&0)
        .map(|db| db.keys().cloned().collect())
        .unwrap_or_default();
    assert_eq!(
        keys,
        vec![b"{s}first".to_vec(), b"{s}second".to_vec()],
        "the whole script or none of it"
    );
}

/// LASTSAVE is a Unix time (the start, then each successful SAVE), and
/// SHUTDOWN SAVE writes the file the next start loads.
#[test]
fn shutdown_save_persists_and_lastsave_is_a_unix_time() {
    let dir = TempDir::new("rdb-shutdown");
    let args = ["--dir", dir.path(), "--dbfilename", "d.rdb"];
    let mut shardis = Server::shardis(2, &args);
    let mut c = shardis.client();
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("a clock after 1970")
        .as_secs() as i64;
    let lastsave = |c: &mut crate::common::Raw| -> i64 {
        let reply = c.cmd(&["LASTSAVE"]);
        reply
            .trim_start_matches(':')
            .trim_end()
            .parse()
            .expect("LASTSAVE is an integer")
    };
    let started = lastsave(&mut c);
    assert!(
        (started - now).abs() <= 5,
        "LASTSAVE before any save is the start: {started} against now {now}"
    );
    assert_eq!(c.cmd(&["SET", "{a}1", "one"]), "+OK\r\n");
    assert_eq!(c.cmd(&["RPUSH", "{b}2", "x", "y"]), ":2\r\n");
    assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
    assert!(lastsave(&mut c) >= started);
    assert_eq!(c.cmd(&["SET", "{a}3", "after the save"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["SHUTDOWN", "SAVE", "NOSAVE"]),
        "-ERR syntax error\r\n"
    );
    c.send(&[b"SHUTDOWN", b"SAVE"]);
    assert!(c.is_closed());
    let status = shardis
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("the server exits");
    assert!(status.success());
    let again = Server::shardis(3, &args);
    let mut c = again.client();
    assert_eq!(c.cmd(&["GET", "{a}1"]), "$3\r\none\r\n");
    assert_eq!(c.cmd(&["GET", "{a}3"]), "$14\r\nafter the save\r\n");
    assert_eq!(
        c.cmd(&["LRANGE", "{b}2", "0", "-1"]),
        "*2\r\n$1\r\nx\r\n$1\r\ny\r\n"
    );
}

/// The library `fill` loads answers (it survived the trip).
fn assert_function_runs(con: &mut Connection) {
    let seven: i64 = redis::cmd("FCALL")
        .arg("rdbf")
        .arg(0)
        .query(con)
        .expect("FCALL");
    assert_eq!(seven, 7);
}

/// Reads `field` of `INFO persistence`.
fn persistence_field(con: &mut Connection, field: &str) -> String {
    let info: String = redis::cmd("INFO")
        .arg("persistence")
        .query(con)
        .expect("INFO");
    info.lines()
        .find_map(|l| l.strip_prefix(&format!("{field}:")))
        .unwrap_or_else(|| panic!("INFO persistence has no {field}:\n{info}"))
        .to_string()
}

/// Waits until no save runs; the last one's status.
fn wait_for_bgsave(con: &mut Connection) -> String {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while persistence_field(con, "rdb_bgsave_in_progress") != "0" {
        assert!(std::time::Instant::now() < deadline, "BGSAVE never ended");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    persistence_field(con, "rdb_last_bgsave_status")
}

/// BGSAVE while scripts keep incrementing counters spread over every slot
/// group of each shard (so the save meets writes to tables it has not
/// taken yet): the file holds each shard as it was at one moment — every
/// counter of a shard equal — with every write acknowledged before the
/// BGSAVE reply and none made after it. The file passes redis-check-rdb.
#[test]
fn bgsave_is_a_point_in_time_view_while_scripts_keep_writing() {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    const FILLER: usize = 60_000;
    const COUNTERS: usize = 40;
    for shards in [1, 2] {
        let dir = TempDir::new("rdb-bgsave");
        let shardis = Server::shardis(shards, &["--dir", dir.path()]);
        let mut con = shardis.redis_client();
        for batch in (0..FILLER).collect::<Vec<_>>().chunks(1000) {
            let mut pipe = redis::pipe();
            for i in batch {
                pipe.cmd("SET").arg(format!("filler:{i}")).arg(i).ignore();
            }
            pipe.exec(&mut con).expect("filler");
        }
        // Per shard, counters on that shard in as many slot groups.
        let counters: Vec<Vec<String>> = (0..shards)
            .map(|s| {
                (0..COUNTERS)
                    .map(|i| crate::common::key_on(s, shards, &format!("counter:{i}:")))
                    .collect()
            })
            .collect();
        let script = "for i = 1, #KEYS do redis.call('INCR', KEYS[i]) end return 1";
        let stop = Arc::new(AtomicBool::new(false));
        let writers: Vec<_> = counters
            .iter()
            .cloned()
            .map(|keys| {
                let stop = stop.clone();
                let port = shardis.port;
                std::thread::spawn(move || {
                    let client =
                        redis::Client::open(format!("redis://127.0.0.1:{port}/")).expect("client");
                    let mut con = client.get_connection().expect("connect");
                    let mut runs = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        let _: i64 = redis::cmd("EVAL")
                            .arg(script)
                            .arg(keys.len())
                            .arg(&keys)
                            .query(&mut con)
                            .expect("EVAL");
                        runs += 1;
                    }
                    runs
                })
            })
            .collect();
        std::thread::sleep(std::time::Duration::from_millis(200));
        let get = |con: &mut Connection, key: &str| -> u64 {
            redis::cmd("GET").arg(key).query(con).expect("GET")
        };
        let before: Vec<u64> = counters.iter().map(|k| get(&mut con, &k[0])).collect();
        let reply: String = redis::cmd("BGSAVE").query(&mut con).expect("BGSAVE");
        assert_eq!(reply, "Background saving started");
        let after: Vec<u64> = counters.iter().map(|k| get(&mut con, &k[0])).collect();
        assert_eq!(wait_for_bgsave(&mut con), "ok");
        stop.store(true, Ordering::Relaxed);
        for w in writers {
            assert!(w.join().expect("writer") > 0);
        }
        assert_eq!(persistence_field(&mut con, "rdb_saves"), "1");

        let path = dir.0.join("dump.rdb");
        assert_redis_check_rdb(&path);
        let (read, _, _) = read_file(&std::fs::read(&path).expect("dump.rdb"));
        let db = read.get(&0).expect("db 0 saved");
        let fillers = db.keys().filter(|k| k.starts_with(b"filler:")).count();
        assert_eq!(fillers, FILLER, "{shards} shards");
        for (s, keys) in counters.iter().enumerate() {
            let values: BTreeSet<u64> = keys
                .iter()
                .map(|k| match db.get(k.as_bytes()) {
                    Some((Canon::Str(v), 0)) => {
                        String::from_utf8_lossy(v).parse().expect("a count")
                    }
                    other => panic!("counter {k}: {other:?}"),
                })
                .collect();
            assert_eq!(
                values.len(),
                1,
                "shard {s} of {shards}: counters differ: {values:?}"
            );
            let saved = *values.iter().next().expect("one value");
            assert!(
                before[s] <= saved && saved <= after[s],
                "shard {s} of {shards}: saved {saved}, acknowledged before BGSAVE {}, read after its reply {}",
                before[s],
                after[s]
            );
        }
    }
}

/// `save` and `stop-writes-on-bgsave-error` answer CONFIG as Redis does.
#[test]
fn save_points_are_configured_as_in_redis() {
    use crate::common::{Step::Exact, Transcript};
    Transcript::new()
        .steps(&[
            Exact(&["CONFIG", "SET", "save", "3600   1 300 100"]),
            Exact(&["CONFIG", "GET", "save"]),
            Exact(&["CONFIG", "SET", "save", "3600"]),
            Exact(&["CONFIG", "SET", "save", "0 1"]),
            Exact(&["CONFIG", "SET", "save", "10 -1"]),
            Exact(&["CONFIG", "SET", "save", "ten 1"]),
            Exact(&["CONFIG", "GET", "save"]),
            Exact(&["CONFIG", "SET", "save", ""]),
            Exact(&["CONFIG", "GET", "save"]),
            Exact(&["CONFIG", "GET", "stop-writes-on-bgsave-error"]),
            Exact(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "maybe"]),
            Exact(&["CONFIG", "GET", "rdbchecksum"]),
            Exact(&["CONFIG", "GET", "rdbcompression"]),
            Exact(&["BGSAVE", "now"]),
        ])
        .assert_same_as_redis();
}

/// A save point saves in the background once its time and changes have
/// passed; then nothing has changed since the last save.
#[test]
fn a_save_point_saves_in_the_background() {
    let dir = TempDir::new("rdb-savepoint");
    let shardis = Server::shardis(2, &["--dir", dir.path(), "--save", "1 2"]);
    let mut con = shardis.redis_client();
    assert_eq!(persistence_field(&mut con, "rdb_saves"), "0");
    run(&mut con, &[b"SET", b"{a}1", b"one"]);
    std::thread::sleep(std::time::Duration::from_millis(2500));
    assert_eq!(
        persistence_field(&mut con, "rdb_saves"),
        "0",
        "one change is below the save point's two"
    );
    run(&mut con, &[b"SET", b"{b}2", b"two"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while persistence_field(&mut con, "rdb_saves") == "0" {
        assert!(
            std::time::Instant::now() < deadline,
            "the save point never saved"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(wait_for_bgsave(&mut con), "ok");
    assert_eq!(
        persistence_field(&mut con, "rdb_changes_since_last_save"),
        "0"
    );
    let (read, _, _) = read_file(&std::fs::read(dir.0.join("dump.rdb")).expect("dump.rdb"));
    let keys: Vec<&Vec<u8>> = read[&0].keys().collect();
    assert_eq!(keys, [b"{a}1", b"{b}2"]);
}

/// With save points, SIGTERM and a plain SHUTDOWN save before exiting (as
/// Redis); SHUTDOWN NOSAVE does not.
#[test]
fn sigterm_and_shutdown_save_when_save_points_are_set() {
    let dir = TempDir::new("rdb-sigterm");
    let args = ["--dir", dir.path(), "--save", "3600 1"];
    let file = dir.0.join("dump.rdb");
    let mut shardis = Server::shardis(2, &args);
    let mut c = shardis.client();
    assert_eq!(c.cmd(&["SET", "{a}1", "by sigterm"]), "+OK\r\n");
    let killed = Command::new("kill")
        .args(["-TERM", &shardis.pid().to_string()])
        .status()
        .expect("kill runs");
    assert!(killed.success());
    let status = shardis
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("SIGTERM stops the server");
    assert!(status.success(), "{status:?}");
    let (read, _, _) = read_file(&std::fs::read(&file).expect("SIGTERM saved"));
    assert!(read[&0].contains_key(b"{a}1".as_slice()));

    let mut shardis = Server::shardis(2, &args);
    let mut c = shardis.client();
    assert_eq!(c.cmd(&["GET", "{a}1"]), "$10\r\nby sigterm\r\n");
    assert_eq!(c.cmd(&["SET", "{b}2", "by shutdown"]), "+OK\r\n");
    c.send(&[b"SHUTDOWN"]);
    assert!(c.is_closed());
    shardis
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("SHUTDOWN stops the server");
    let (read, _, _) = read_file(&std::fs::read(&file).expect("SHUTDOWN saved"));
    assert!(read[&0].contains_key(b"{b}2".as_slice()));

    let mut shardis = Server::shardis(2, &args);
    let mut c = shardis.client();
    assert_eq!(c.cmd(&["SET", "{c}3", "never saved"]), "+OK\r\n");
    c.send(&[b"SHUTDOWN", b"NOSAVE"]);
    assert!(c.is_closed());
    shardis
        .wait_exit(std::time::Duration::from_secs(10))
        .expect("SHUTDOWN NOSAVE stops the server");
    let (read, _, _) = read_file(&std::fs::read(&file).expect("dump.rdb"));
    assert!(!read[&0].contains_key(b"{c}3".as_slice()));
}

/// A failed save with save points and `stop-writes-on-bgsave-error yes`
/// refuses writes with Redis's MISCONF text while reads go on, until a
/// save succeeds (or the option is turned off); the old file is intact.
#[test]
fn a_failed_save_stops_writes_until_a_save_succeeds() {
    let dir = TempDir::new("rdb-stopwrites");
    let data = dir.0.join("data");
    std::fs::create_dir_all(&data).expect("mkdir");
    let data_dir = data.to_string_lossy().to_string();
    let shardis = Server::shardis(2, &["--dir", &data_dir, "--save", "3600 1000"]);
    let mut c = shardis.client();
    assert_eq!(c.cmd(&["SET", "{a}1", "one"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
    let saved = std::fs::read(data.join("dump.rdb")).expect("dump.rdb");
    // The file's directory is replaced by a plain file: no temporary file
    // can be made there.
    let moved = dir.0.join("moved");
    std::fs::rename(&data, &moved).expect("move the directory away");
    std::fs::write(&data, b"not a directory").expect("file in its place");
    assert_eq!(c.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    let mut con = shardis.redis_client();
    assert_eq!(wait_for_bgsave(&mut con), "err");
    let misconf = c.cmd(&["SET", "{a}1", "two"]);
    assert!(
        misconf.starts_with("-MISCONF Redis is configured to save RDB snapshots"),
        "{misconf}"
    );
    assert!(c
        .cmd(&["EVAL", "return redis.call('INCR', KEYS[1])", "1", "{b}"])
        .starts_with("-MISCONF"));
    assert_eq!(c.cmd(&["GET", "{a}1"]), "$3\r\none\r\n", "reads go on");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "no"]),
        "+OK\r\n"
    );
    assert_eq!(c.cmd(&["SET", "{a}1", "two"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "stop-writes-on-bgsave-error", "yes"]),
        "+OK\r\n"
    );
    assert!(c.cmd(&["SET", "{a}1", "three"]).starts_with("-MISCONF"));

    std::fs::remove_file(&data).expect("rm");
    std::fs::rename(&moved, &data).expect("move it back");
    assert_eq!(
        std::fs::read(data.join("dump.rdb")).expect("old file"),
        saved
    );
    assert_eq!(c.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    assert_eq!(wait_for_bgsave(&mut con), "ok");
    assert_eq!(c.cmd(&["SET", "{a}1", "three"]), "+OK\r\n");
}

/// DEBUG RELOAD saves and loads the file back in place of every shard's
/// keys: the same contents and library; with NOSAVE, what was written
/// since the last save is gone (the shards hold the file's keys).
#[test]
fn debug_reload_saves_and_loads_back_the_same_contents() {
    let dir = TempDir::new("rdb-reload");
    let shardis = Server::shardis(3, &["--dir", dir.path(), "--enable-debug-command", "yes"]);
    let mut con = shardis.redis_client();
    fill(&mut con);
    let expected = contents_of(&mut con);
    redis::cmd("SELECT").arg(0).exec(&mut con).expect("SELECT");
    let reply: String = redis::cmd("DEBUG")
        .arg("RELOAD")
        .query(&mut con)
        .expect("RELOAD");
    assert_eq!(reply, "OK");
    assert_eq!(contents_of(&mut con), expected);
    assert_function_runs(&mut con);
    redis::cmd("SELECT").arg(0).exec(&mut con).expect("SELECT");
    for i in 0..20 {
        run(&mut con, &[b"SET", format!("unsaved{i}").as_bytes(), b"x"]);
    }
    run(&mut con, &[b"FUNCTION", b"FLUSH"]);
    let reply: String = redis::cmd("DEBUG")
        .arg("RELOAD")
        .arg("NOSAVE")
        .query(&mut con)
        .expect("RELOAD NOSAVE");
    assert_eq!(reply, "OK");
    assert_eq!(contents_of(&mut con), expected);
    assert_function_runs(&mut con);
}

/// `kill -9` in the middle of a BGSAVE: the previous file is intact and
/// loads (the new one was still a temporary file), and the next save
/// replaces the leftover.
#[test]
fn kill_9_during_bgsave_leaves_the_previous_file_intact() {
    let dir = TempDir::new("rdb-kill-bgsave");
    let args = ["--dir", dir.path()];
    let mut shardis = Server::shardis(2, &args);
    let mut c = shardis.client();
    assert_eq!(c.cmd(&["SET", "{a}saved", "before"]), "+OK\r\n");
    assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
    let saved = std::fs::read(dir.0.join("dump.rdb")).expect("dump.rdb");
    crate::common::mset_many(&mut c, "big:", 60000, 200);
    assert_eq!(c.cmd(&["BGSAVE"]), "+Background saving started\r\n");
    std::thread::sleep(std::time::Duration::from_millis(30));
    let mut con = shardis.redis_client();
    assert_eq!(
        persistence_field(&mut con, "rdb_bgsave_in_progress"),
        "1",
        "the save is still running when the server is killed"
    );
    crate::aof::kill9(&mut shardis);
    assert_eq!(
        std::fs::read(dir.0.join("dump.rdb")).expect("dump.rdb"),
        saved
    );

    let again = Server::shardis(2, &args);
    let mut c = again.client();
    assert_eq!(c.cmd(&["GET", "{a}saved"]), "$6\r\nbefore\r\n");
    assert_eq!(c.cmd(&["DBSIZE"]), ":1\r\n");
    assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
    let leftovers: Vec<_> = std::fs::read_dir(&dir.0)
        .expect("dir")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with("temp-"))
        .collect();
    assert!(
        leftovers.is_empty(),
        "the killed save's leftover: {leftovers:?}"
    );
}

/// `dir` and `dbfilename` are protected configs, as in Redis 7: refused
/// unless `enable-protected-configs` allows them; then `CONFIG SET dir`
/// moves where saves go and refuses what is not a directory, and any
/// change while the append-only log is on (its files stay where they
/// are).
#[test]
fn config_set_dir_moves_saves_and_is_refused_while_the_log_is_on() {
    use crate::common::{Step::Exact, Transcript};
    let steps = [
        Exact(&["CONFIG", "SET", "dir", "/nonexistent/shardis"]),
        Exact(&["CONFIG", "SET", "dbfilename", "a/b.rdb"]),
        Exact(&["CONFIG", "SET", "dir", "/tmp"]),
    ];
    Transcript::new().steps(&steps).assert_same_as_redis();
    Transcript::new()
        .flags(&["--enable-protected-configs", "yes"])
        .steps(&steps)
        .assert_same_as_redis();

    let dir = TempDir::new("rdb-setdir");
    let first = dir.0.join("first");
    let second = dir.0.join("second");
    std::fs::create_dir_all(&first).expect("mkdir");
    std::fs::create_dir_all(&second).expect("mkdir");
    let open = ["--enable-protected-configs", "local"];
    let from = first.to_string_lossy().to_string();
    let shardis = Server::shardis(2, &[&["--dir", from.as_str()][..], &open[..]].concat());
    let mut c = shardis.client();
    assert_eq!(c.cmd(&["SET", "{a}k", "v"]), "+OK\r\n");
    let to = second.to_string_lossy().to_string();
    assert_eq!(c.cmd(&["CONFIG", "SET", "dir", &to]), "+OK\r\n");
    assert_eq!(
        c.cmd(&["CONFIG", "SET", "dbfilename", "moved.rdb"]),
        "+OK\r\n"
    );
    assert_eq!(c.cmd(&["SAVE"]), "+OK\r\n");
    assert!(
        second.join("moved.rdb").exists(),
        "the save went to the new place"
    );
    assert!(!first.join("dump.rdb").exists());

    let logged = Server::shardis(
        1,
        &[
            &["--dir", from.as_str(), "--appendonly", "yes"][..],
            &open[..],
        ]
        .concat(),
    );
    let refused = logged.client().cmd(&["CONFIG", "SET", "dir", &to]);
    assert!(
        refused.contains("dir cannot change while the append-only log is on"),
        "{refused}"
    );
}
