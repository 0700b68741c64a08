//! Micro-benchmarks of the hot paths (issue 5): RESP parsing and reply
//! encoding, the load generator's reply scan, slot hashing, the keyspace, a cross-core request round trip
//! through the shard mesh, and EVALSHA through a shard's Lua engine.
//!
//! `cargo bench --bench hot_paths -- --warm-up-time 1 --measurement-time 3`
//! (a name filter after `--` runs a subset, e.g. `-- cross_core`).
//!
//! The cross-core and EVALSHA benchmarks build real shard cores with
//! `shardis::shard::serve::build_core`, the function the server itself uses, on
//! glommio executors pinned to cores 0 and 1: everything but the sockets.

use std::hint::black_box;
use std::rc::Rc;
use std::sync::mpsc;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::{Bytes, BytesMut};
use criterion::{criterion_group, criterion_main, BatchSize, Criterion};
use futures_channel::oneshot;
use glommio::{ExecutorJoinHandle, LocalExecutorBuilder, Placement};
use shardis::cmd::Call;
use shardis::config::{Config, Param};
use shardis::loadgen::reply::read_reply;
use shardis::node::Node;
use shardis::protocol::encode_command;
use shardis::protocol::{ParseLimits, Reply, RequestParser};
use shardis::shard::core::Core;
use shardis::shard::mesh::{self, Request};
use shardis::store::{Db, Value, ValueRef};
use shardis::util::slot::shard_of_key;
use shardis::util::slot::{key_hash_slot, SLOT_COUNT};
use shardis::util::time::now_ms;

/// Keys preloaded for the keyspace benchmarks.
const PRELOADED_KEYS: usize = 100_000;
/// Value size of the SET / MSET / GET benchmarks (bytes).
const VALUE_BYTES: usize = 100;
/// Commands in the pipelined-parse benchmark (as `redis-benchmark -P 16`).
const PIPELINE_DEPTH: usize = 16;

fn value() -> Vec<u8> {
    vec![b'x'; VALUE_BYTES]
}

fn argv(args: &[&[u8]]) -> Vec<Bytes> {
    args.iter().map(|a| Bytes::copy_from_slice(a)).collect()
}

fn call(args: &[&[u8]]) -> Call {
    Call {
        cmd: shardis::cmd::lookup(args[0]).expect("a known command"),
        db: 0,
        resp3: false,
        argv: argv(args),
    }
}

// ---- RESP ----

fn parse(c: &mut Criterion) {
    let limits = ParseLimits {
        max_bulk_bytes: Config::default().int(Param::ProtoMaxBulkLen) as usize,
        authenticated: true,
    };
    let value = value();
    let mset_args: Vec<Vec<u8>> = (0..10).map(|i| format!("key:{i}").into_bytes()).collect();
    let mut mset: Vec<&[u8]> = vec![b"MSET"];
    for k in &mset_args {
        mset.push(k);
        mset.push(&value);
    }
    let pipeline: Vec<u8> = (0..PIPELINE_DEPTH)
        .flat_map(|i| encode_command::<&[u8]>(&[b"GET", format!("key:{i:06}").as_bytes()]))
        .collect();
    let cases: [(&str, Vec<u8>, usize); 4] = [
        ("get", encode_command::<&[u8]>(&[b"GET", b"key:000001"]), 1),
        (
            "set_100b",
            encode_command::<&[u8]>(&[b"SET", b"key:000001", &value]),
            1,
        ),
        ("pipeline_16_get", pipeline, PIPELINE_DEPTH),
        ("mset_10", encode_command(&mset), 1),
    ];
    let mut group = c.benchmark_group("parse");
    for (name, bytes, commands) in cases {
        group.bench_function(name, |b| {
            // A fresh read buffer per iteration, built outside the timing
            // (the parser splits its arguments off it), in the state of a
            // connection's: already shared with arguments split off before,
            // and an argument vector with room to spare.
            b.iter_batched(
                || {
                    let mut buf = BytesMut::with_capacity(1 + bytes.len());
                    buf.extend_from_slice(b"*");
                    drop(buf.split_to(1));
                    buf.extend_from_slice(&bytes);
                    (buf, Vec::with_capacity(2 * mset_args.len() + 1))
                },
                |(mut buf, mut args)| {
                    let mut parser = RequestParser::new();
                    for _ in 0..commands {
                        let done = parser.parse(&mut buf, &mut args, limits);
                        assert_eq!(done, Ok(true), "a whole command");
                        black_box(&args);
                    }
                    (buf, args)
                },
                BatchSize::SmallInput,
            )
        });
    }
    group.finish();
}

fn encode(c: &mut Criterion) {
    let bulk = Bytes::from(value());
    let cases = [
        ("status", Reply::ok()),
        ("bulk_100b", Reply::Bulk(bulk.clone())),
        ("integer", Reply::Int(1_234_567)),
        (
            "array_10_bulks",
            Reply::Array(vec![Reply::Bulk(bulk.clone()); 10]),
        ),
        // These two differ between the protocols (`%` / `,` in RESP3).
        (
            "map_5_pairs",
            Reply::Map(
                (0..5)
                    .map(|i| (Reply::bulk(format!("field{i}").as_bytes()), Reply::Int(i)))
                    .collect(),
            ),
        ),
        ("double", Reply::Double(1234.5678)),
    ];
    let mut group = c.benchmark_group("encode");
    for (name, reply) in &cases {
        for (proto, resp3) in [("resp2", false), ("resp3", true)] {
            // One output buffer reused, as a connection reuses its own.
            let mut out = Vec::with_capacity(4096);
            group.bench_function(format!("{name}/{proto}"), |b| {
                b.iter(|| {
                    out.clear();
                    black_box(reply).encode(&mut out, resp3);
                    black_box(&out);
                })
            });
        }
    }
    group.finish();
}

// ---- Slots ----

/// The load generator's reply scan: how many replies it finds per second
/// in a read buffer (it runs once per reply received).
fn reply_scan(c: &mut Criterion) {
    let mut bulk = format!("${VALUE_BYTES}\r\n").into_bytes();
    bulk.extend_from_slice(&value());
    bulk.extend_from_slice(b"\r\n");
    let mut array = b"*10\r\n".to_vec();
    (0..10).for_each(|_| array.extend_from_slice(&bulk));
    let cases: [(&str, Vec<u8>, usize); 4] = [
        ("ok", b"+OK\r\n".to_vec(), 1),
        ("bulk_100b", bulk.clone(), 1),
        (
            "pipeline_16_get",
            bulk.repeat(PIPELINE_DEPTH),
            PIPELINE_DEPTH,
        ),
        ("array_10_bulks", array, 1),
    ];
    let mut group = c.benchmark_group("reply_scan");
    for (name, bytes, replies) in cases {
        group.bench_function(name, |b| {
            b.iter(|| {
                let mut pos = 0;
                for _ in 0..replies {
                    let reply = read_reply(black_box(&bytes[pos..]))
                        .expect("valid reply")
                        .expect("a whole reply");
                    pos += reply.len;
                }
                assert_eq!(pos, bytes.len(), "every reply found");
                pos
            })
        });
    }
    group.finish();
}

fn slots(c: &mut Criterion) {
    let plain: &[u8] = b"user:1000:profile";
    let tagged: &[u8] = b"{user:1000}:profile";
    let mut group = c.benchmark_group("slot");
    group.bench_function("key_hash_slot/plain", |b| {
        b.iter(|| key_hash_slot(black_box(plain)))
    });
    group.bench_function("key_hash_slot/hash_tag", |b| {
        b.iter(|| key_hash_slot(black_box(tagged)))
    });
    group.bench_function("shard_of_key/plain_2_shards", |b| {
        b.iter(|| shard_of_key(black_box(plain), black_box(2)))
    });
    group.bench_function("shard_of_key/hash_tag_2_shards", |b| {
        b.iter(|| shard_of_key(black_box(tagged), black_box(2)))
    });
    group.finish();
}

// ---- Keyspace ----

/// Which preloaded key each iteration uses: always the same one (its
/// memory stays in cache: the code path alone), or keys walked with a
/// stride coprime with their count (mostly cache misses, as random keys
/// of a large keyspace are).
struct KeyCycle<'k> {
    keys: &'k [Vec<u8>],
    stride: usize,
    next: usize,
}

impl KeyCycle<'_> {
    fn next(&mut self) -> &[u8] {
        self.next = (self.next + self.stride) % self.keys.len();
        &self.keys[self.next]
    }
}

/// Stride of the scattered walk (a prime: every key is visited).
const SCATTERED_STRIDE: usize = 7_919;

fn preloaded_keys() -> Vec<Vec<u8>> {
    (0..PRELOADED_KEYS)
        .map(|i| format!("key:{i:06}").into_bytes())
        .collect()
}

fn preloaded_db(keys: &[Vec<u8>]) -> Db {
    // One shard owns every slot, as with `--shards 1`.
    let mut db = Db::new(0..SLOT_COUNT as u16);
    for k in keys {
        db.set(k, Value::Str(value()));
    }
    db
}

fn keyspace(c: &mut Criterion) {
    let all_keys = preloaded_keys();
    let mut db = preloaded_db(&all_keys);
    let now = now_ms();
    let value = value();
    let mut group = c.benchmark_group("keyspace_100k");
    for (walk, stride) in [("hot_key", 0), ("scattered", SCATTERED_STRIDE)] {
        let mut keys = KeyCycle {
            keys: &all_keys,
            stride,
            next: 0,
        };
        // What GET does (strings.rs read_str through Ctx::read): Db::value.
        group.bench_function(format!("db_get/{walk}"), |b| {
            b.iter(|| match db.value(keys.next(), now) {
                Some(ValueRef::Str(s)) => {
                    black_box(s);
                }
                _ => panic!("a preloaded string"),
            })
        });
        // What a plain SET does (strings.rs set_generic): look up the old
        // entry (for NX/XX and KEEPTTL), then insert an owned copy.
        group.bench_function(format!("db_set_overwrite/{walk}"), |b| {
            b.iter(|| {
                let key = keys.next();
                let found = db.get(key, now).map(|e| e.expires_at_ms()).is_some();
                black_box(found);
                db.insert(key, Value::Str(value.to_vec()), 0);
            })
        });
    }
    group.finish();

    // The same through the command table, as a shard runs a call: argument
    // checks, options, stats and the panic guard included (one hot key).
    let mut shard = shardis::shard::ShardState::new(
        0,
        0,
        1,
        std::rc::Rc::new(shardis::pubsub::Hub::detached()),
    );
    shard.keyspace.dbs[0] = db;
    let gate = shardis::shard::gate::Gate::default();
    let access = || gate.open().expect("nobody holds the gate");
    let get = call(&[b"GET", b"key:012345"]);
    let set = call(&[b"SET", b"key:012345", &value]);
    let mut group = c.benchmark_group("shard_execute_100k");
    group.bench_function("get/hot_key", |b| {
        b.iter(|| black_box(shard.execute(access(), black_box(&get), now)))
    });
    group.bench_function("set_100b/hot_key", |b| {
        b.iter(|| black_box(shard.execute(access(), black_box(&set), now)))
    });
    group.finish();
}

// ---- Executors ----

/// Shard executors running a benchmark loop: the bench thread asks for N
/// iterations and gets back the time they took, measured inside the
/// executor (criterion's `iter_custom`).
struct Executors {
    ask: Option<mpsc::Sender<u64>>,
    took: mpsc::Receiver<Duration>,
    threads: Vec<ExecutorJoinHandle<()>>,
}

impl Executors {
    fn time(&self, iterations: u64) -> Duration {
        self.ask
            .as_ref()
            .expect("executors running")
            .send(iterations)
            .expect("the timing executor is alive");
        self.took.recv().expect("the timing executor answers")
    }
}

impl Drop for Executors {
    fn drop(&mut self) {
        // Ends the timing loop; its core drops its mesh senders, which ends
        // the peer's serving loop, so every executor returns.
        self.ask.take();
        for t in self.threads.drain(..) {
            if t.join().is_err() {
                eprintln!("a benchmark executor failed");
            }
        }
    }
}

fn executor(core: usize, spin: Duration) -> LocalExecutorBuilder {
    let preempt = Duration::from_millis(Config::default().int(Param::PreemptTimerMs) as u64);
    let builder = LocalExecutorBuilder::new(Placement::Fixed(core))
        .name(&format!("bench-{core}"))
        .preempt_timer(preempt);
    // As the server: spinning only when configured (`spin-before-park-us`).
    if spin.is_zero() {
        builder
    } else {
        builder.spin_before_park(spin)
    }
}

/// Runs `body` on a timing executor pinned to core 0, with the core of
/// shard 0; `body` answers one request for N iterations with their time.
/// The loop blocks its executor thread between requests on purpose:
/// nothing else is scheduled on it, and the peer's core never sends to it.
fn spawn_timing<F, Fut>(
    node: Arc<Node>,
    ends: mesh::MeshEnds,
    spin: Duration,
    body: F,
) -> (
    mpsc::Sender<u64>,
    mpsc::Receiver<Duration>,
    ExecutorJoinHandle<()>,
)
where
    F: Fn(Rc<Core>, u64) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = Duration>,
{
    let (ask, asked) = mpsc::channel::<u64>();
    let (report, took) = mpsc::channel::<Duration>();
    let handle = executor(0, spin)
        .spawn(move || async move {
            let (core, _from_peers, _queue) = shardis::shard::serve::build_core(0, &node, ends)
                .await
                .expect("shard 0's core");
            while let Ok(iterations) = asked.recv() {
                let took = body(core.clone(), iterations).await;
                if report.send(took).is_err() {
                    break;
                }
            }
        })
        .expect("an executor on core 0");
    (ask, took, handle)
}

/// Two shards on cores 0 and 1 joined by shardis's own mesh; shard 1
/// serves requests with the server's `serve_peer` loop. The timing loop on
/// core 0 sends a batch of `batch` GETs and awaits its replies, as a
/// connection does for the calls of one read (server/connection.rs
/// `resolve`).
fn cross_core_pair(spin: Duration, batch: usize) -> Executors {
    let node = Arc::new(Node::new(Config::default(), vec![0, 1]));
    let mut ends = mesh::build(2).into_iter();
    let (ends0, ends1) = (
        ends.next().expect("shard 0's ends"),
        ends.next().expect("shard 1's ends"),
    );
    let key = (0..)
        .map(|i| format!("key:{i}").into_bytes())
        .find(|k| shard_of_key(k, 2) == 1)
        .expect("a key of shard 1");
    let peer_node = node.clone();
    let peer_key = key.clone();
    let peer = executor(1, spin)
        .spawn(move || async move {
            let (core, mut from_peers, queue) =
                shardis::shard::serve::build_core(1, &peer_node, ends1)
                    .await
                    .expect("shard 1's core");
            core.state.borrow_mut().keyspace.dbs[0].set(&peer_key, Value::Str(value()));
            let from_0 = from_peers.pop().expect("a receiver from shard 0");
            shardis::shard::serve::serve_peer(core, from_0, queue).await;
        })
        .expect("an executor on core 1");
    let get = call(&[b"GET", &key]);
    let (ask, took, timing) = spawn_timing(node, ends0, spin, move |core, iterations| {
        let get = get.clone();
        async move {
            let start = Instant::now();
            for _ in 0..iterations {
                let (tx, rx) = oneshot::channel();
                let request = Request::Batch {
                    calls: vec![get.clone(); batch],
                    reply: tx,
                };
                core.senders.send(1, request).await.expect("shard 1 serves");
                let replies = rx.await.expect("shard 1 replies").replies;
                assert_eq!(replies.len(), batch, "a reply per call");
                assert!(matches!(replies[0], Reply::Bulk(_)), "GET's value");
            }
            start.elapsed()
        }
    });
    Executors {
        ask: Some(ask),
        took,
        threads: vec![timing, peer],
    }
}

fn cross_core(c: &mut Criterion) {
    let mut group = c.benchmark_group("cross_core");
    // The server's default (spin-before-park-us 0) and the spinning knob;
    // one GET per request, and 16 (a pipelined client's batch).
    for (knob, spin) in [
        ("park", Duration::ZERO),
        ("spin_50us", Duration::from_micros(50)),
    ] {
        for batch in [1, PIPELINE_DEPTH] {
            let pair = cross_core_pair(spin, batch);
            group.bench_function(format!("round_trip_{batch}_get/{knob}"), |b| {
                b.iter_custom(|n| pair.time(n))
            });
        }
    }
    group.finish();
}

/// The tiny script of the EVALSHA benchmark.
const INCR_SCRIPT: &[u8] = b"return redis.call('incr', KEYS[1])";

/// One shard on core 0 (as `--shards 1`): EVALSHA runs as the connection
/// runs it on its own shard (`Core::execute_when_free`): through the shard
/// gate, inline in the caller's task for its first slice (where this
/// script ends), in the coroutine of its VM that every script reuses.
fn evalsha(c: &mut Criterion) {
    let node = Arc::new(Node::new(Config::default(), vec![0]));
    let ends = mesh::build(1).pop().expect("shard 0's ends");
    let (ask, took, thread) =
        spawn_timing(node, ends, Duration::ZERO, |core, iterations| async move {
            let load = argv(&[b"SCRIPT", b"LOAD", INCR_SCRIPT]);
            let sha = match shardis::cmd::scripting::load_script(&*core, &load[2]) {
                Reply::Bulk(sha) => sha,
                other => panic!("SCRIPT LOAD failed: {other:?}"),
            };
            let evalsha = call(&[b"EVALSHA", &sha, b"1", b"counter"]);
            let now = now_ms();
            let start = Instant::now();
            for _ in 0..iterations {
                // A client's call arrives as a new argv (the parser's).
                let reply = core.execute_when_free(evalsha.clone(), now).await;
                assert!(matches!(reply, Reply::Int(_)), "INCR's count: {reply:?}");
            }
            start.elapsed()
        });
    let shard = Executors {
        ask: Some(ask),
        took,
        threads: vec![thread],
    };
    let mut group = c.benchmark_group("lua");
    group.bench_function("evalsha_incr", |b| b.iter_custom(|n| shard.time(n)));
    group.finish();
}

criterion_group!(benches, parse, encode, reply_scan, slots, keyspace, cross_core, evalsha);
criterion_main!(benches);
