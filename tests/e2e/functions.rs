//! End-to-end: Redis 7 functions. FUNCTION LOAD and its errors,
//! `redis.register_function`, FCALL / FCALL_RO, the other FUNCTION
//! subcommands in RESP2 and RESP3, DUMP / RESTORE (also across servers),
//! libraries shared by every shard, routing by declared keys.

use crate::common;

use common::{Raw, Server, Step::*, Transcript};

const LOAD_ERRORS: &[common::Step] = &[
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return keys[1] end)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=mylib\nredis.register_function('f1', function(keys, args) return 1 end)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=mylib2\nredis.register_function('F1', function(keys, args) return 1 end)",
    ]),
    Exact(&["FUNCTION", "LOAD", "return 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x"]),
    Exact(&["FUNCTION", "LOAD", "#!"]),
    Exact(&["FUNCTION", "LOAD", "#!lua\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=a-b\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=\"a b\"\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=\"a\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x foo=bar\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x name=y\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x name\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!js name=x\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\n"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nerror('boom')"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nlocal t = string"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nredis.call('ping')"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nx = 5"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nredis.foo = 5"]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function('w', function() end)\nredis.setresp(3)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function('a-b', function() end)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function('', function() end)",
    ]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('h', 5)"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function('h')"]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function()"]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function({}, function() end)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function('h', function() end, 3)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function('h', function() end)\nredis.register_function('h', function() end)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{function_name='h', callback=function() end, flags={'no-writes','bogus'}}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{function_name='h', callback=function() end, flags={1}}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{function_name='h', callback=function() end, flags='no-writes'}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{function_name='h', callback=function() end, bogus=1}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{function_name='h'}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{callback=function() end}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{function_name={}, callback=function() end}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{function_name='h', callback=function() end, description={}}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function{function_name='h', callback=5}",
    ]),
    Exact(&["FUNCTION", "LOAD", "#!lua name=x\nredis.register_function{[1]=2}"]),
    Exact(&["FUNCTION", "LOAD", "REPLACEX", "#!lua name=x\nreturn 1"]),
    Exact(&["FUNCTION", "LOAD"]),
    // What loads: numbers as names and descriptions, flags in any case,
    // any case for the shebang, a return value, logging, two spaces.
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function(5, function() return 5 end)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!LUA NAME=AbC\nredis.register_function{function_name='MiXed', callback=function() return redis.REDIS_VERSION end, flags={'NO-WRITES'}, description=7}",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua  name=y\nredis.log(redis.LOG_NOTICE, 'loading y')\nredis.register_function('y', function() return 1 end)\nreturn 5",
    ]),
    Exact(&["FCALL", "5", "0"]),
    Exact(&["FCALL", "mixed", "0"]),
    Exact(&["FCALL", "MIXED", "0"]),
    Exact(&["FUNCTION", "LIST", "LIBRARYNAME", "abc"]),
    Exact(&["FUNCTION", "DELETE", "abc"]),
    Exact(&["FUNCTION", "DELETE", "AbC"]),
    Exact(&["FCALL", "mixed", "0"]),
    // REPLACE: the library's own names may be reused, others' may not.
    Exact(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=y\nredis.register_function('y', function() return 2 end)",
    ]),
    Exact(&["FCALL", "y", "0"]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=y\nredis.register_function('f1', function() return 2 end)",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "replace",
        "REPLACE",
        "#!lua name=new\nredis.register_function('n', function() return 3 end)",
    ]),
    Exact(&["FCALL", "n", "0"]),
    Exact(&["FCALL", "y", "0"]),
];

#[test]
fn load_and_its_errors_match_redis() {
    Transcript::new().steps(LOAD_ERRORS).assert_same_as_redis();
}

/// A library exercising calls, errors and flags.
const ERRORS_LIB: &str = "#!lua name=e
redis.register_function('e1', function(keys, args) error('boom') end)
redis.register_function('e2', function(keys, args) return redis.call('nosuch') end)
redis.register_function('e3', function(keys, args) return {#keys, #args, keys[1], args[1]} end)
redis.register_function('e4', function(keys, args) return KEYS end)
redis.register_function('e5', function(keys, args) return redis.call('set', keys[1], args[1]) end)
redis.register_function{function_name='e6', callback=function(keys, args) return redis.call('set', keys[1], args[1]) end, flags={'no-writes'}}
redis.register_function{function_name='e7', callback=function(keys, args) return redis.call('get', keys[1]) end, flags={'no-writes'}}
redis.register_function('e8', function(keys, args) return x end)
redis.register_function('e9', function(keys, args) x = 1 end)
redis.register_function('e10', function(keys, args) return redis.pcall('incr', keys[1]) end)
redis.register_function('e11', function(keys, args) return redis.call('incr', keys[1]) end)
redis.register_function('e12', function(keys, args) return redis.register_function end)
redis.register_function('e13', function(keys, args) return string.format('%s-%d', args[1], #args) end)
local register = redis.register_function
redis.register_function('e14', function(keys, args) return register('zz', function() end) end)
redis.register_function('e15', function(keys, args) return {err = 'MY failure'} end)
redis.register_function('e16', function(keys, args) return redis.error_reply('E2 text') end)
redis.register_function('e17', function(keys, args) return {1, 'two', {3.5, true, false}} end)
redis.register_function('e18', function(keys, args) return redis.call('fcall', 'e3', 0) end)
redis.register_function('e19', function(keys, args) return redis.call('function', 'list') end)
redis.register_function('e20', function(keys, args) return ARGV end)
";

const FCALL_STEPS: &[common::Step] = &[
    Exact(&["FUNCTION", "LOAD", ERRORS_LIB]),
    Exact(&["FCALL", "e1", "0"]),
    Exact(&["FCALL", "e2", "0"]),
    Exact(&["FCALL", "e3", "2", "{k}1", "{k}2", "a1"]),
    Exact(&["FCALL", "e3", "0"]),
    Exact(&["FCALL", "e4", "0"]),
    Exact(&["FCALL", "e5", "1", "{k}1", "v"]),
    Exact(&["FCALL_RO", "e5", "1", "{k}1", "v"]),
    Exact(&["FCALL", "e6", "1", "{k}1", "v"]),
    Exact(&["FCALL_RO", "e6", "1", "{k}1", "v"]),
    Exact(&["FCALL_RO", "e7", "1", "{k}1"]),
    Exact(&["FCALL", "E7", "1", "{k}1"]),
    Exact(&["FCALL", "e8", "0"]),
    Exact(&["FCALL", "e9", "0"]),
    Exact(&["FCALL", "e10", "1", "{k}1"]),
    Exact(&["FCALL", "e11", "1", "{k}1"]),
    Exact(&["FCALL", "e12", "0"]),
    Exact(&["FCALL", "e13", "0", "hey", "you"]),
    Exact(&["FCALL", "e14", "0"]),
    Exact(&["FCALL", "e15", "0"]),
    Exact(&["FCALL", "e16", "0"]),
    Exact(&["FCALL", "e17", "0"]),
    Exact(&["FCALL", "e18", "0"]),
    Exact(&["FCALL", "e19", "0"]),
    Exact(&["FCALL", "e20", "0"]),
    Exact(&["FCALL", "nosuch", "0"]),
    Exact(&["FCALL", "nosuch", "x"]),
    Exact(&["FCALL_RO", "nosuch", "0"]),
    Exact(&["FCALL", "e3", "x"]),
    Exact(&["FCALL", "e3", "-1"]),
    Exact(&["FCALL", "e3", "2", "a"]),
    Exact(&["FCALL", "e3"]),
    Exact(&["FCALL_RO", "e3"]),
    Exact(&["FCALL_RO", "e3", "0"]),
    Exact(&["EVAL", "return redis.call('fcall', 'e3', 0)", "0"]),
];

#[test]
fn fcall_matches_redis() {
    Transcript::new().steps(FCALL_STEPS).assert_same_as_redis();
}

/// Luau words some messages differently from Lua 5.1; the rest of the
/// reply (prefix, position, suffix) is Redis's.
#[test]
fn luau_specific_messages_keep_redis_framing() {
    let s = Server::shardis(1, &[]);
    let mut c = s.client();
    let reply = c.cmd(&["FUNCTION", "LOAD", "#!lua name=x\nreturn +"]);
    assert!(
        reply.starts_with("-ERR Error compiling function: user_function:2: "),
        "{reply}"
    );
    let reply = c.cmd(&["FUNCTION", "LOAD", "#!lua name=x\nlocal f = nil; f()"]);
    assert!(
        reply.starts_with("-ERR Error registering functions: ERR user_function:2: attempt to call"),
        "{reply}"
    );
    c.cmd(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=x\nredis.register_function('f', function()\n  local t = nil\n  return t.x\nend)",
    ]);
    let reply = c.cmd(&["FCALL", "f", "0"]);
    assert!(
        reply.starts_with("-ERR user_function:4: attempt to index")
            && reply.ends_with(" script: f, on @user_function:4.\r\n"),
        "{reply}"
    );
}

/// Steps whose replies list at most one library (library order in
/// FUNCTION LIST and DUMP is Redis's hash order, not reproducible).
const SUBCOMMANDS: &[common::Step] = &[
    Exact(&["FUNCTION", "LIST"]),
    Exact(&["FUNCTION", "STATS"]),
    Exact(&["FUNCTION", "DUMP"]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=lib1\nredis.register_function{function_name='f', callback=function() return 1 end, description='desc f', flags={'no-writes','allow-oom','allow-stale','no-cluster','allow-cross-slot-keys'}}",
    ]),
    Exact(&["FUNCTION", "LIST"]),
    Exact(&["FUNCTION", "LIST", "WITHCODE"]),
    Exact(&["FUNCTION", "LIST", "LIBRARYNAME", "li*"]),
    Exact(&["FUNCTION", "LIST", "LIBRARYNAME", "LI*"]),
    Exact(&["FUNCTION", "LIST", "LIBRARYNAME", "x*"]),
    Exact(&["FUNCTION", "LIST", "withcode", "libraryname", "*"]),
    Exact(&["FUNCTION", "LIST", "LIBRARYNAME"]),
    Exact(&["FUNCTION", "LIST", "WITHCODE", "WITHCODE"]),
    Exact(&["FUNCTION", "LIST", "LIBRARYNAME", "a", "LIBRARYNAME", "lib1"]),
    Exact(&["FUNCTION", "LIST", "foo"]),
    Exact(&["FUNCTION", "STATS"]),
    Exact(&["FUNCTION", "STATS", "x"]),
    Exact(&["FUNCTION", "KILL"]),
    Exact(&["FUNCTION", "KILL", "x"]),
    Exact(&["FUNCTION", "HELP"]),
    Exact(&["FUNCTION", "HELP", "x"]),
    Exact(&["FUNCTION", "NOSUCH"]),
    Exact(&["FUNCTION"]),
    Exact(&["FUNCTION", "DELETE"]),
    Exact(&["FUNCTION", "DELETE", "nosuch"]),
    Exact(&["FUNCTION", "DELETE", "a", "b"]),
    Exact(&["FUNCTION", "DUMP", "x"]),
    Exact(&["FUNCTION", "FLUSH", "x"]),
    Exact(&["FUNCTION", "FLUSH", "sync", "async"]),
    Exact(&["FUNCTION", "RESTORE"]),
    Exact(&["FUNCTION", "RESTORE", "garbage"]),
    Exact(&["FUNCTION", "RESTORE", "garbage", "FLUSH"]),
    Exact(&["FUNCTION", "RESTORE", "garbage", "BOGUS"]),
    Exact(&["FUNCTION", "RESTORE", "garbage", "FLUSH", "APPEND"]),
    Exact(&["FUNCTION", "FLUSH", "async"]),
    Exact(&["FUNCTION", "LIST"]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=small\nredis.register_function('s', function() return 1 end)",
    ]),
    // Too small for Redis to compress it: byte-identical payloads.
    Exact(&["FUNCTION", "DUMP"]),
    Exact(&["FUNCTION", "FLUSH", "SYNC"]),
    Exact(&["FUNCTION", "STATS"]),
    Exact(&["FUNCTION", "FLUSH"]),
];

#[test]
fn function_subcommands_match_redis() {
    Transcript::new().steps(SUBCOMMANDS).assert_same_as_redis();
}

/// A counter library as an application would ship it.
const COUNTER_LIB: &str = r#"#!lua name=counter

local function key_of(keys)
  return keys[1]
end

-- counter_incr key [by]: adds and returns the new value.
redis.register_function('counter_incr', function(keys, args)
  local by = tonumber(args[1] or '1')
  if by == nil then
    return redis.error_reply('ERR increment is not a number')
  end
  local value = redis.call('incrby', key_of(keys), by)
  redis.call('sadd', keys[2], key_of(keys))
  return value
end)

redis.register_function{
  function_name = 'counter_get',
  callback = function(keys, args)
    return tonumber(redis.call('get', key_of(keys)) or '0')
  end,
  flags = { 'no-writes' },
  description = 'reads a counter',
}

redis.register_function('counter_reset', function(keys, args)
  local names = redis.call('smembers', keys[1])
  table.sort(names)
  for _, name in ipairs(names) do
    redis.call('del', name)
  end
  redis.call('del', keys[1])
  return names
end)
"#;

const COUNTER_STEPS: &[common::Step] = &[
    Exact(&["FUNCTION", "LOAD", COUNTER_LIB]),
    Exact(&["FCALL", "counter_incr", "2", "{c}a", "{c}all"]),
    Exact(&["FCALL", "counter_incr", "2", "{c}a", "{c}all", "5"]),
    Exact(&["FCALL", "counter_incr", "2", "{c}b", "{c}all", "-2"]),
    Exact(&["FCALL", "counter_incr", "2", "{c}b", "{c}all", "x"]),
    Exact(&["FCALL_RO", "counter_get", "1", "{c}a"]),
    Exact(&["FCALL_RO", "counter_get", "1", "{c}none"]),
    Exact(&["FCALL_RO", "counter_incr", "2", "{c}a", "{c}all"]),
    Exact(&["FCALL", "counter_get", "1", "{c}b"]),
    Exact(&["SET", "{c}s", "text"]),
    Exact(&["FCALL", "counter_incr", "2", "{c}s", "{c}all"]),
    Exact(&["FUNCTION", "LIST", "LIBRARYNAME", "nomatch"]),
    Exact(&["FUNCTION", "STATS"]),
    Exact(&["FCALL", "counter_reset", "1", "{c}all"]),
    Exact(&["EXISTS", "{c}a", "{c}b", "{c}all"]),
    Exact(&["FUNCTION", "DELETE", "counter"]),
    Exact(&["FCALL", "counter_get", "1", "{c}a"]),
];

#[test]
fn counter_library_matches_redis() {
    Transcript::new()
        .steps(COUNTER_STEPS)
        .assert_same_as_redis();
}

#[test]
fn resp3_shapes_match_redis() {
    // One function per listed library: the order of functions inside a
    // library is Redis's hash order.
    let lib = "#!lua name=r3\n\
        redis.register_function{function_name='m', callback=function(keys, args) return {map={a=1}} end, flags={'no-writes', 'allow-oom'}, description='d'}";
    let more = "#!lua name=more\n\
        redis.register_function('h', function(keys, args) redis.setresp(3); return redis.call('hgetall', keys[1]) end)\n\
        redis.register_function('n', function(keys, args) return redis.call('get', 'missing') end)";
    Transcript::new()
        .shards(&[1])
        .resp(&[3])
        .steps(&[
            Exact(&["FUNCTION", "LIST"]),
            Exact(&["FUNCTION", "STATS"]),
            Exact(&["FUNCTION", "LOAD", lib]),
            Exact(&["FUNCTION", "LIST"]),
            Exact(&["FUNCTION", "LOAD", more]),
            Exact(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", "r*"]),
            Exact(&["FUNCTION", "STATS"]),
            Exact(&["HSET", "hh", "f", "v"]),
            Exact(&["FCALL", "m", "0"]),
            Exact(&["FCALL", "h", "1", "hh"]),
            Exact(&["FCALL", "n", "0"]),
            Exact(&["FCALL_RO", "m", "0"]),
        ])
        .assert_same_as_redis();
}

/// Redis's CRC64 (Jones), to build payloads.
fn crc64(data: &[u8]) -> u64 {
    let mut crc = 0u64;
    for &b in data {
        crc ^= b as u64;
        for _ in 0..8 {
            crc = (crc >> 1)
                ^ if crc & 1 == 1 {
                    0x95ac_9329_ac4b_c9b5
                } else {
                    0
                };
        }
    }
    crc
}

/// A FUNCTION DUMP payload around `body`, with RDB version `version`.
fn payload(body: &[u8], version: u16) -> Vec<u8> {
    let mut p = body.to_vec();
    p.extend_from_slice(&version.to_le_bytes());
    let crc = crc64(&p);
    p.extend_from_slice(&crc.to_le_bytes());
    p
}

/// One library record: opcode 245 and a short RDB string.
fn record(code: &str) -> Vec<u8> {
    assert!(code.len() < 64);
    let mut r = vec![0xf5, code.len() as u8];
    r.extend_from_slice(code.as_bytes());
    r
}

/// The bulk string inside a RESP reply.
fn bulk_body(reply: &[u8]) -> Vec<u8> {
    let start = reply.iter().position(|&c| c == b'\n').expect("header") + 1;
    reply[start..reply.len() - 2].to_vec()
}

#[test]
fn restore_payloads_match_redis() {
    let g = "#!lua name=g\nredis.register_function('g', function() end)";
    // The 7.0 release candidates' format: name, engine, no description, code.
    let pre_body = "\nredis.register_function('pre', function() return 9 end)";
    let mut pre_ga = b"\xf6\x01k\x03lua\x00".to_vec();
    pre_ga.push(pre_body.len() as u8);
    pre_ga.extend_from_slice(pre_body.as_bytes());
    let cases: Vec<Vec<u8>> = vec![
        payload(&record(g), 10),
        payload(&record(g), 11),
        payload(&record(g), 9),
        payload(b"", 0),
        payload(&[record(g), record(g)].concat(), 10),
        payload(
            &[
                record(g),
                record("#!lua name=h\nredis.register_function('G', function() end)"),
            ]
            .concat(),
            10,
        ),
        payload(&record("#!lua name=q\nreturn 1"), 10),
        payload(&record("#!lua name=q\nx = 1"), 10),
        payload(&record("#!lua name=q\n"), 10),
        payload(&record("x"), 10),
        payload(b"\x00\x01x", 10),
        payload(b"\xf5\x30abc", 10),
        payload(b"\xf5", 10),
        payload(b"\xf5\xc0\x05", 10),
        payload(b"\xf6", 10),
        payload(b"\xf6\x01x", 10),
        payload(b"\xf6\x01x\x01y", 10),
        payload(b"\xf6\x01x\x01y\x01y\x01y\x01y", 10),
        payload(&pre_ga, 10),
        [payload(&record(g), 10), b"x".to_vec()].concat(),
    ];
    let mut t = Transcript::new();
    t.shards(&[1]);
    for p in &cases {
        t.cmd_bytes(&[b"FUNCTION", b"RESTORE", p]);
        t.cmd_bytes(&[b"FUNCTION", b"RESTORE", p, b"REPLACE"]);
    }
    t.cmd(&["FCALL", "pre", "0"]);
    t.cmd(&["FUNCTION", "DELETE", "k"]);
    for policy in [&b"APPEND"[..], b"replace", b"Flush"] {
        t.cmd_bytes(&[b"FUNCTION", b"RESTORE", &cases[0], policy]);
    }
    t.cmd(&["FUNCTION", "LIST"]);
    t.cmd_bytes(&[b"FUNCTION", b"RESTORE", &cases[3], b"FLUSH"]);
    t.cmd(&["FUNCTION", "LIST"]);
    t.assert_same_as_redis();
}

#[test]
fn dumps_restore_across_servers_and_after_flush() {
    let ours = Server::shardis(3, &[]);
    let reference = Server::redis(&[]);
    let (mut a, mut b) = (ours.client(), reference.client());
    // Long, repetitive code: Redis compresses it (LZF) in its payload.
    let long_lib = format!(
        "#!lua name=long\n{}redis.register_function('long', function() return 'long' end)",
        "-- padding padding padding padding padding padding\n".repeat(20)
    );
    for c in [&mut a, &mut b] {
        c.cmd(&["FUNCTION", "LOAD", &long_lib]);
        c.cmd(&["FUNCTION", "LOAD", COUNTER_LIB]);
    }
    let ours_dump = bulk_body(&a.cmd_bytes(&[b"FUNCTION", b"DUMP"]));
    let redis_dump = bulk_body(&b.cmd_bytes(&[b"FUNCTION", b"DUMP"]));
    assert_ne!(ours_dump, redis_dump, "Redis compresses, we do not");
    let listing =
        |c: &mut Raw, lib: &str| c.cmd(&["FUNCTION", "LIST", "WITHCODE", "LIBRARYNAME", lib]);

    // Our own dump, after FLUSH, on every shard.
    assert_eq!(a.cmd(&["FUNCTION", "FLUSH"]), "+OK\r\n");
    assert_eq!(
        a.cmd(&["FCALL", "long", "0"]),
        "-ERR Function not found\r\n"
    );
    assert_eq!(
        a.cmd_bytes(&[b"FUNCTION", b"RESTORE", &ours_dump]),
        b"+OK\r\n"
    );
    for key in ["a", "b", "c", "d", "e", "f"] {
        assert_eq!(a.cmd(&["FCALL", "long", "1", key]), "$4\r\nlong\r\n");
    }
    assert_eq!(
        a.cmd_bytes(&[b"FUNCTION", b"RESTORE", &ours_dump]),
        b"-ERR Library counter already exists\r\n"
    );
    assert_eq!(
        a.cmd_bytes(&[b"FUNCTION", b"RESTORE", &ours_dump, b"REPLACE"]),
        b"+OK\r\n"
    );
    // Each server restores the other's dump.
    assert_eq!(
        a.cmd_bytes(&[b"FUNCTION", b"RESTORE", &redis_dump, b"FLUSH"]),
        b"+OK\r\n"
    );
    assert_eq!(
        b.cmd_bytes(&[b"FUNCTION", b"RESTORE", &ours_dump, b"FLUSH"]),
        b"+OK\r\n"
    );
    assert_eq!(listing(&mut a, "long"), listing(&mut b, "long"));
    // (The order of functions inside a library is Redis's hash order.)
    assert!(listing(&mut a, "counter").contains(COUNTER_LIB));
    assert!(listing(&mut b, "counter").contains(COUNTER_LIB));
    assert_eq!(a.cmd(&["FCALL", "long", "0"]), "$4\r\nlong\r\n");
}

#[test]
fn one_load_serves_every_shard() {
    let s = Server::shardis(3, &[]);
    let (mut loader, mut caller) = (s.client(), s.client());
    let keys = ["a", "b", "c", "d", "e", "f", "g", "h"];
    let v1 = "#!lua name=lib\nredis.register_function('set_it', function(keys, args) redis.call('set', keys[1], args[1]) return 'v1' end)";
    let v2 = "#!lua name=lib\nredis.register_function('set_it', function(keys, args) redis.call('set', keys[1], args[1] .. '!') return 'v2' end)";
    assert_eq!(loader.cmd(&["FUNCTION", "LOAD", v1]), "$3\r\nlib\r\n");
    for key in keys {
        assert_eq!(
            caller.cmd(&["FCALL", "set_it", "1", key, key]),
            "$2\r\nv1\r\n"
        );
        assert_eq!(caller.cmd(&["GET", key]), format!("$1\r\n{key}\r\n"));
    }
    // A new version replaces the old one on every core.
    assert_eq!(
        loader.cmd(&["FUNCTION", "LOAD", "REPLACE", v2]),
        "$3\r\nlib\r\n"
    );
    for key in keys {
        assert_eq!(
            caller.cmd(&["FCALL", "set_it", "1", key, key]),
            "$2\r\nv2\r\n"
        );
        assert_eq!(caller.cmd(&["GET", key]), format!("$2\r\n{key}!\r\n"));
    }
    // Deleted everywhere.
    assert_eq!(loader.cmd(&["FUNCTION", "DELETE", "lib"]), "+OK\r\n");
    for key in keys {
        assert_eq!(
            caller.cmd(&["FCALL", "set_it", "1", key, key]),
            "-ERR Function not found\r\n"
        );
    }
}

#[test]
fn functions_are_routed_by_their_declared_keys() {
    let s = Server::shardis(4, &[]);
    let mut c = s.client();
    let lib = "#!lua name=route\n\
        redis.register_function('set_all', function(keys, args) for i, k in ipairs(keys) do redis.call('set', k, i) end return #keys end)\n\
        redis.register_function('set_other', function(keys, args) redis.call('set', keys[1], 1) return redis.call('set', 'elsewhere', 1) end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), "$5\r\nroute\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "set_all", "2", "a", "b"]),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    assert_eq!(
        c.cmd(&["FCALL_RO", "set_all", "2", "a", "b"]),
        "-CROSSSLOT Keys in request don't hash to the same slot\r\n"
    );
    assert_eq!(c.cmd(&["EXISTS", "a"]), ":0\r\n");
    assert_eq!(
        c.cmd(&["FCALL", "set_all", "3", "{u}a", "{u}b", "{u}c"]),
        ":3\r\n"
    );
    assert_eq!(
        c.cmd(&["MGET", "{u}a", "{u}b", "{u}c"]),
        "*3\r\n$1\r\n1\r\n$1\r\n2\r\n$1\r\n3\r\n"
    );
    let reply = c.cmd(&["FCALL", "set_other", "1", "{u}a"]);
    assert!(
        reply.contains("'elsewhere'")
            && reply.ends_with("script: set_other, on @user_function:3.\r\n"),
        "{reply}"
    );
    assert_eq!(c.cmd(&["EXISTS", "elsewhere"]), ":0\r\n");
    // The connection's database.
    c.cmd(&["SELECT", "2"]);
    assert_eq!(c.cmd(&["FCALL", "set_all", "1", "{u}z"]), ":1\r\n");
    assert_eq!(c.cmd(&["EXISTS", "{u}z"]), ":1\r\n");
    c.cmd(&["SELECT", "0"]);
    assert_eq!(c.cmd(&["EXISTS", "{u}z"]), ":0\r\n");
}

#[test]
fn functions_through_the_redis_crate() {
    let s = Server::shardis(2, &[]);
    let mut con = s.redis_client();
    let name: String = redis::cmd("FUNCTION")
        .arg("LOAD")
        .arg(COUNTER_LIB)
        .query(&mut con)
        .unwrap();
    assert_eq!(name, "counter");
    let n: i64 = redis::cmd("FCALL")
        .arg("counter_incr")
        .arg(2)
        .arg("{x}n")
        .arg("{x}all")
        .arg(4)
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 4);
    let n: i64 = redis::cmd("FCALL_RO")
        .arg("counter_get")
        .arg(1)
        .arg("{x}n")
        .query(&mut con)
        .unwrap();
    assert_eq!(n, 4);
    let err = redis::cmd("FCALL")
        .arg("nope")
        .arg(0)
        .query::<i64>(&mut con)
        .unwrap_err();
    assert!(err.to_string().contains("Function not found"), "{err}");
}

/// Redis 7.0.15 asserts (and crashes) deleting such a library; we keep
/// serving: the first registration answers for both spellings.
#[test]
fn names_differing_in_case_within_a_library() {
    let s = Server::shardis(1, &[]);
    let mut c = s.client();
    let lib = "#!lua name=lib\nredis.register_function('f', function() return 'lower' end)\nredis.register_function('F', function() return 'upper' end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", lib]), "$3\r\nlib\r\n");
    assert_eq!(c.cmd(&["FCALL", "F", "0"]), "$5\r\nlower\r\n");
    assert_eq!(
        c.cmd(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=other\nredis.register_function('f', function() end)"
        ]),
        "-ERR Function f already exists\r\n"
    );
    assert_eq!(c.cmd(&["FUNCTION", "DELETE", "lib"]), "+OK\r\n");
    assert_eq!(
        c.cmd(&[
            "FUNCTION",
            "LOAD",
            "#!lua name=other\nredis.register_function('f', function() return 1 end)"
        ]),
        "$5\r\nother\r\n"
    );
    assert_eq!(c.cmd(&["FCALL", "F", "0"]), ":1\r\n");
}

#[test]
fn every_table_a_function_reaches_is_read_only() {
    let s = Server::shardis(2, &[]);
    let mut c = s.client();
    let library = format!(
        "#!lua name=walk\nredis.register_function('walk', function(keys, args)\n{}\nend)",
        common::WALK_READONLY
    );
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", &library]), "$4\r\nwalk\r\n");
    common::assert_all_readonly(&c.cmd(&["FCALL", "walk", "0"]), 15);
    // And on the other shard's VM, which loads the library on first use.
    common::assert_all_readonly(&c.cmd(&["FCALL", "walk", "1", "{b}"]), 15);
    common::assert_all_readonly(&c.cmd(&["FCALL", "walk", "1", "{a}"]), 15);
}

/// Redis's outcome for the sandbox escapes, from a function and while a
/// library loads.
const FUNCTION_ESCAPES: &[common::Step] = &[
    Exact(&[
        "FUNCTION",
        "LOAD",
        "#!lua name=t\nredis.register_function('g', function(keys, args) getmetatable('').__index = nil end)\nredis.register_function('i', function(keys, args) return {pcall(rawset, _G, 'x', 1)} end)\nredis.register_function('j', function(keys, args) getmetatable(_G).__index = nil end)\nredis.register_function('k', function(keys, args) return ('abc'):upper() end)",
    ]),
    Exact(&["FCALL", "g", "0"]),
    Exact(&["FCALL", "i", "0"]),
    Exact(&["FCALL", "j", "0"]),
    Exact(&["FCALL", "k", "0"]),
    Exact(&["EVAL", "return ('abc'):upper()", "0"]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=t3\nlocal f = loadstring('return 1')",
    ]),
    Exact(&[
        "FUNCTION",
        "LOAD",
        "REPLACE",
        "#!lua name=t3\nlocal f = getmetatable('')",
    ]),
    Exact(&["FUNCTION", "LOAD", "REPLACE", "#!lua name=t3\nlocal f = getfenv"]),
    Exact(&["FUNCTION", "LOAD", "REPLACE", "#!lua name=t3\nlocal f = debug"]),
];

#[test]
fn sandbox_escapes_from_functions_fail_as_in_redis() {
    Transcript::new()
        .shards(&[1])
        .steps(FUNCTION_ESCAPES)
        .assert_same_as_redis();
    let ours = Server::shardis(1, &[]);
    let mut c = ours.client();
    let library = "#!lua name=h\nredis.register_function('h', function(keys, args) return loadstring('x = 1')() end)\nredis.register_function('x', function(keys, args) return x end)";
    assert_eq!(c.cmd(&["FUNCTION", "LOAD", library]), "$1\r\nh\r\n");
    // Lua 5.1 names the chunk `[string "x = 1"]`, Luau `(loadstring)`.
    let reply = c.cmd(&["FCALL", "h", "0"]);
    assert!(
        reply.starts_with("-ERR (loadstring):1: Attempt to modify a readonly table script: h,"),
        "{reply:?}"
    );
    assert!(c
        .cmd(&["FCALL", "x", "0"])
        .contains("nonexistent global variable 'x'"));
    // Luau bytecode is not verified: libraries are source only.
    for body in ["\x03\x00\x00", "\x06return 1"] {
        let reply = c.cmd(&["FUNCTION", "LOAD", &format!("#!lua name=b\n{body}")]);
        assert!(
            reply.starts_with("-ERR Error compiling function: "),
            "{reply:?}"
        );
        assert_eq!(c.cmd(&["PING"]), "+PONG\r\n");
    }
}
