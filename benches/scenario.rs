//! The scenario bench (issue 5): shardis and redis-server side by side in
//! one run, each started here on a free port.
//!
//! 1. Throughput: SET, then GET, of 32-byte values over 100,000 random
//!    keys, without and with pipelining (16). One shardis shard on core 0
//!    against redis-server on core 0; the load (shardis-bench's engine, one
//!    thread, 50 connections) on core 1.
//! 2. Latency at a fixed rate: the same servers, 50 connections x 1,000
//!    requests/s (GET:SET 10:1), latency from each request's scheduled
//!    time (no coordinated omission).
//! 3. Scripts (issue 14): EVALSHA of a one-INCR script without and with
//!    pipelining, EVALSHA of a ten-call script (nine HSETs and an EXPIRE,
//!    as a rate limiter does) and FCALL of the same as a function, on the
//!    same servers, and the one-INCR script at the fixed rate of 2 (its
//!    latency; skipped with `latency`); then shardis with 2 shards (cores
//!    0 and 1, the load sharing core 1) against the same redis-server,
//!    keys over both shards.
//! 4. The blocking-script scenario (`shardis-bench scenario
//!    blocking-script`): shardis with 2 shards on both cores against
//!    redis-server with `lua-time-limit 100`, a 2 s busy loop on shard 0
//!    under 8 x 1,000 requests/s of GET/SET; the last run's JSON and SVG
//!    go to target/scenario-bench/.
//!
//! 5. Pub/Sub (issue 16): PUBLISH with no subscriber (ops/s, the load's
//!    engine); fan-out, 1 publisher (pipeline 16) and 100 subscribers of
//!    one channel, 64-byte messages (delivered/s, publish-to-receive p50
//!    and p99); many channels, 1,000 channels of one subscriber each and
//!    a publisher on every core (delivered/s). shardis with 1 shard on
//!    core 0 and with 2 shards on cores 0 and 1, redis-server on core 0;
//!    the load on core 1.
//!
//! `cargo bench --bench scenario`. Environment: RUNS (3; each figure is
//! the median of RUNS runs, servers alternating), RUN_SECONDS (5, each
//! throughput and latency run), SKIP (a comma list of `throughput`,
//! `latency`, `scripts`, `blocking`, `pubsub`), SHARDIS_ARGS (extra shardis flags, e.g.
//! `--spin-before-park-us 50`; tuning/sweep varies them). Without
//! redis-server on PATH only shardis runs.
//! Every figure comes with the shardis-bench command that measures it.

use std::sync::atomic::AtomicBool;

use clap::Parser;
use shardis::loadgen::args::BenchArgs;
use shardis::loadgen::stats::{merged, RunStats, TypeStats};
use shardis::scenario::load::Group;
use shardis::scenario::pubsub::{PubsubResult, PubsubSpec};
use shardis::scenario::report::{group_index, TargetResult};
use shardis::scenario::{self, BlockingScript};
use support::{command, env, median, median_f64, ms, redis_installed, start, start_redis, Server};

mod support;

/// The servers' core in the throughput and latency runs, and the load's.
const SERVER_CORE: &str = "0";
const LOAD_CORE: usize = 1;
/// Keys of the throughput and latency runs.
const KEYS: u64 = 100_000;
/// Connections of the throughput and latency runs (one thread).
const CONNECTIONS: u64 = 50;
/// Requests/s per connection in the fixed-rate run.
const FIXED_RATE: u64 = 1_000;
/// Where the blocking-script scenario's JSON and SVG go.
const OUT_DIR: &str = "target/scenario-bench";

/// shardis with `args` and whatever SHARDIS_ARGS adds.
fn start_shardis(args: &[&str], cores: Option<&str>) -> Server {
    let extra = std::env::var("SHARDIS_ARGS").unwrap_or_default();
    let args: Vec<String> = args
        .iter()
        .map(|a| a.to_string())
        .chain(extra.split_whitespace().map(String::from))
        .collect();
    start(env!("CARGO_BIN_EXE_shardis"), &args, cores)
}

/// A server under test: its name and port.
struct Target {
    name: &'static str,
    server: Server,
}

fn main() {
    let runs = env("RUNS", 3).max(1) as usize;
    let seconds = env("RUN_SECONDS", 5).max(1);
    let skip = std::env::var("SKIP").unwrap_or_default();
    let with_redis = redis_installed();
    if !with_redis {
        println!("redis-server is not installed: measuring shardis alone");
    }
    println!("scenario bench: median of {runs} runs");
    let measured = ["throughput", "latency", "scripts"];
    if measured.iter().any(|m| !skip.contains(m)) {
        let mut targets = vec![Target {
            name: "shardis (1 shard)",
            server: start_shardis(&["--cores", SERVER_CORE], None),
        }];
        if with_redis {
            targets.push(Target {
                name: "redis-server",
                server: start_redis(&[], Some(SERVER_CORE)),
            });
        }
        for t in &targets {
            preload(t.server.port);
        }
        if !skip.contains("throughput") {
            throughput(&targets, runs, seconds);
        }
        if !skip.contains("latency") {
            let run = words("--ratio 1:10");
            fixed_rate(&targets, runs, seconds, "GET:SET 10:1", &run);
        }
        if !skip.contains("scripts") {
            scripts(&mut targets, runs, seconds);
        }
    }
    if !skip.contains("blocking") {
        blocking_script(runs, with_redis);
    }
    if !skip.contains("pubsub") {
        pubsub(runs, seconds, with_redis);
    }
}

/// shardis-bench flags of one run against one server: those every run
/// shares, then `run`'s own.
fn load_flags(port: u16, run: &str) -> Vec<String> {
    format!(
        "-p {port} -t 1 -c {CONNECTIONS} -d 32 --key-maximum {} --distinct-client-seed {run}",
        KEYS - 1
    )
    .split_whitespace()
    .map(String::from)
    .collect()
}

/// Runs shardis-bench's engine with these flags from a thread pinned to
/// the load's core (its workers inherit the pinning); the run and its
/// totals, which must have no errors (`what` names the run if they do).
fn load(flags: &[String], what: &str) -> (RunStats, TypeStats) {
    let argv = std::iter::once("shardis-bench".to_string()).chain(flags.iter().cloned());
    let args = BenchArgs::try_parse_from(argv).expect("valid shardis-bench flags");
    let plan = args.plan().expect("a valid plan");
    let stats = std::thread::scope(|s| {
        s.spawn(|| {
            core_affinity::set_for_current(core_affinity::CoreId { id: LOAD_CORE });
            shardis::loadgen::run::run(&plan, &AtomicBool::new(false), |_| {})
                .expect("the load ran")
        })
        .join()
        .expect("the load thread")
    });
    let total = merged(&stats.types);
    assert_eq!(total.errors, 0, "errors in {what}");
    (stats, total)
}

/// Every key set once, so GETs hit.
fn preload(port: u16) {
    let per_client = KEYS / CONNECTIONS;
    let run = format!("--ratio 1:0 --key-pattern P:P -n {per_client} --pipeline 16");
    load(&load_flags(port, &run), "the preload");
}

/// The command line that reproduces a run (the port is this run's).
fn reproduce(flags: &[String]) -> String {
    let quoted: Vec<String> = flags
        .iter()
        .map(|f| {
            if f.contains(' ') {
                format!("'{f}'")
            } else {
                f.clone()
            }
        })
        .collect();
    format!("taskset -c {LOAD_CORE} shardis-bench {}", quoted.join(" "))
}

fn words(text: &str) -> Vec<String> {
    text.split_whitespace().map(String::from).collect()
}

fn throughput(targets: &[Target], runs: usize, seconds: u64) {
    println!("\n## Throughput (ops/s; server on core {SERVER_CORE}, load on core {LOAD_CORE})");
    rate_header(targets);
    let mut commands = Vec::new();
    for pipeline in [1, 16] {
        for (name, ratio) in [("SET", "1:0"), ("GET", "0:1")] {
            let run = format!("--ratio {ratio} --pipeline {pipeline} --test-time {seconds}");
            commands.push(rate_row(targets, name, pipeline, &words(&run), runs));
        }
    }
    print_reproduce(&commands);
}

fn rate_header(targets: &[Target]) {
    println!(
        "{:<24} {:>10} {:>12} {:>12} {:>8}",
        "command",
        "pipeline",
        targets[0].name,
        targets.get(1).map_or("-", |t| t.name),
        "ratio"
    );
}

/// One row of a throughput table: `run` (shardis-bench flags) against
/// every target, `runs` times alternating, medians printed with the ratio
/// of the first target to the second. Returns the command line that
/// reproduces the last run.
fn rate_row(targets: &[Target], name: &str, pipeline: u32, run: &[String], runs: usize) -> String {
    let mut figures: Vec<Vec<f64>> = vec![Vec::new(); targets.len()];
    let mut last = Vec::new();
    for _ in 0..runs {
        for (t, out) in targets.iter().zip(&mut figures) {
            let mut flags = load_flags(t.server.port, "");
            flags.extend(run.iter().cloned());
            let (stats, total) = load(&flags, &format!("{name} against {}", t.name));
            out.push(total.ops as f64 / stats.duration.as_secs_f64());
            last = flags;
        }
    }
    let m: Vec<f64> = figures.into_iter().map(median_f64).collect();
    println!(
        "{:<24} {:>10} {:>12.0} {:>12} {:>8}",
        name,
        pipeline,
        m[0],
        m.get(1).map_or("-".into(), |r| format!("{r:.0}")),
        m.get(1).map_or("-".into(), |r| format!("{:.2}x", m[0] / r)),
    );
    reproduce(&last)
}

fn print_reproduce(commands: &[String]) {
    println!("reproduce (one server per run, ports vary):");
    commands.iter().for_each(|c| println!("  {c}"));
}

/// The scripts rows' scripts: one INCR, and ten calls (nine HSETs and an
/// EXPIRE, as a rate limiter or a lock does), as a script and a function.
const INCR_SCRIPT: &str = "return redis.call('incr', KEYS[1])";
const TEN_CALLS_SCRIPT: &str =
    "for i = 1, 9 do redis.call('hset', KEYS[1], 'f' .. i, ARGV[1]) end \
     return redis.call('expire', KEYS[1], 60)";
const TEN_CALLS_LIBRARY: &str = "#!lua name=scenario\n\
     redis.register_function('ten_calls', function(keys, args) \
     for i = 1, 9 do redis.call('hset', keys[1], 'f' .. i, args[1]) end \
     return redis.call('expire', keys[1], 60) end)";

/// Loads the scripts rows' scripts and library on a server; the two
/// scripts' sha1s.
fn load_scripts(port: u16) -> (String, String) {
    let sha = |body: &str| {
        let reply = command(port, &[b"SCRIPT", b"LOAD", body.as_bytes()]);
        String::from_utf8(reply.text().to_vec()).expect("a sha1")
    };
    let library = command(
        port,
        &[
            b"FUNCTION",
            b"LOAD",
            b"REPLACE",
            TEN_CALLS_LIBRARY.as_bytes(),
        ],
    );
    assert_eq!(library.text(), b"scenario", "FUNCTION LOAD on port {port}");
    (sha(INCR_SCRIPT), sha(TEN_CALLS_SCRIPT))
}

fn scripts(targets: &mut [Target], runs: usize, seconds: u64) {
    println!("\n## Scripts (ops/s; server on core {SERVER_CORE}, load on core {LOAD_CORE})");
    let shas: Vec<(String, String)> = targets
        .iter()
        .map(|t| load_scripts(t.server.port))
        .collect();
    // The same script has the same sha1 everywhere.
    assert!(shas.windows(2).all(|w| w[0] == w[1]), "sha1s differ");
    let (incr, ten) = &shas[0];
    let rows = [
        ("EVALSHA INCR", 1, format!("EVALSHA {incr} 1 __key__")),
        ("EVALSHA INCR", 16, format!("EVALSHA {incr} 1 __key__")),
        (
            "EVALSHA 10 calls",
            1,
            format!("EVALSHA {ten} 1 __key__ __data__"),
        ),
        (
            "FCALL 10 calls",
            1,
            "FCALL ten_calls 1 __key__ __data__".to_string(),
        ),
    ];
    let run = |command: &str, pipeline: u32| {
        // Keys of their own per script (the preloaded values are not
        // counters, a counter is not a hash).
        let name = command.split(' ').nth(1).unwrap_or("s");
        let prefix = &name[..name.len().min(8)];
        let flags = format!("--key-prefix {prefix}: --pipeline {pipeline} --test-time {seconds}");
        let mut flags = words(&flags);
        flags.extend(["--command".to_string(), command.to_string()]);
        flags
    };
    let table = |targets: &[Target], rows: &[(&str, u32, String)]| {
        rate_header(targets);
        let commands: Vec<String> = rows
            .iter()
            .map(|(name, pipeline, cmd)| {
                rate_row(targets, name, *pipeline, &run(cmd, *pipeline), runs)
            })
            .collect();
        print_reproduce(&commands);
    };
    table(targets, &rows);
    if !std::env::var("SKIP")
        .unwrap_or_default()
        .contains("latency")
    {
        // Counters of their own (a preloaded value is not an integer).
        let mut latency = words("--key-prefix latency:");
        latency.extend(["--command".to_string(), rows[0].2.clone()]);
        fixed_rate(targets, runs, seconds, "EVALSHA INCR", &latency);
    }

    // Two shards, the keys over both: shardis on both cores (the load
    // shares core 1 with shard 1) against the same redis-server.
    targets[0] = Target {
        name: "shardis (2 shards)",
        server: start_shardis(&["--cores", "0,1"], None),
    };
    load_scripts(targets[0].server.port);
    println!("\n## Scripts, shardis with 2 shards on cores 0 and 1 (load on core {LOAD_CORE})");
    table(targets, &rows[..2]);
}

/// Latency at a fixed rate: `what` (the title's name of the load) run
/// with shardis-bench flags `run`, against every target.
fn fixed_rate(targets: &[Target], runs: usize, seconds: u64, what: &str, run: &[String]) {
    println!(
        "\n## Latency at a fixed rate ({CONNECTIONS} connections x {FIXED_RATE} req/s, {what}; ms)"
    );
    println!(
        "{:<20} {:>8} {:>8} {:>8} {:>8} {:>12}",
        "server", "p50", "p99", "p99.9", "max", "ops/s"
    );
    let mut last = Vec::new();
    let mut p99s = Vec::new();
    for t in targets {
        let mut rows: Vec<[u64; 4]> = Vec::new();
        let mut rates = Vec::new();
        for _ in 0..runs {
            let mut flags = load_flags(t.server.port, "");
            flags.extend(words(&format!(
                "--rate-limiting {FIXED_RATE} --test-time {seconds}"
            )));
            flags.extend(run.iter().cloned());
            let (stats, total) = load(&flags, &format!("the fixed rate against {}", t.name));
            rows.push([
                total.percentile_us(50.0),
                total.percentile_us(99.0),
                total.percentile_us(99.9),
                total.max_us(),
            ]);
            rates.push(total.ops as f64 / stats.duration.as_secs_f64());
            last = flags;
        }
        let col = |i: usize| median(rows.iter().map(|r| r[i]).collect());
        p99s.push(col(1));
        println!(
            "{:<20} {:>8} {:>8} {:>8} {:>8} {:>12.0}",
            t.name,
            ms(col(0)),
            ms(col(1)),
            ms(col(2)),
            ms(col(3)),
            median_f64(rates)
        );
    }
    if let [ours, theirs] = p99s[..] {
        println!(
            "p99 ratio shardis / redis-server: {:.2}x",
            ours as f64 / theirs as f64
        );
    }
    println!("reproduce: {}", reproduce(&last));
}

/// The Pub/Sub rows: shardis with 1 shard (core 0) and with 2 shards
/// (cores 0 and 1) against redis-server (core 0), the load on core 1.
fn pubsub(runs: usize, seconds: u64, with_redis: bool) {
    // In table order: each shardis in turn first, redis-server second.
    let mut targets = vec![Target {
        name: "shardis (1 shard)",
        server: start_shardis(&["--cores", SERVER_CORE], None),
    }];
    if with_redis {
        targets.push(Target {
            name: "redis-server",
            server: start_redis(&[], Some(SERVER_CORE)),
        });
    }
    targets.push(Target {
        name: "shardis (2 shards)",
        server: start_shardis(&["--cores", "0,1"], None),
    });
    println!("\n## PUBLISH with no subscriber (ops/s; load on core {LOAD_CORE})");
    let mut commands = Vec::new();
    let last = targets.len() - 1;
    for shardis in [0, last] {
        targets.swap(0, shardis);
        let pair = &targets[..targets.len().min(2)];
        rate_header(pair);
        for pipeline in [1, 16] {
            let mut run = words(&format!(
                "--key-prefix nosub: --pipeline {pipeline} --test-time {seconds}"
            ));
            run.extend([
                "--command".to_string(),
                "PUBLISH __key__ __data__".to_string(),
            ]);
            commands.push(rate_row(pair, "PUBLISH", pipeline, &run, runs));
        }
        targets.swap(0, shardis);
    }
    print_reproduce(&commands);
    let fan_out = PubsubSpec {
        host: "127.0.0.1".into(),
        port: 0,
        channels: 1,
        subscribers_per_channel: 100,
        publishers: 1,
        publisher_cores: 1,
        pipeline: 16,
        payload_bytes: 64,
        duration: std::time::Duration::from_secs(seconds),
        reader_threads: 2,
    };
    let many = PubsubSpec {
        channels: 1000,
        subscribers_per_channel: 1,
        publishers: 2,
        publisher_cores: 2,
        ..fan_out.clone()
    };
    for (title, spec) in [
        (
            "Fan-out: 1 publisher, 100 subscribers of one channel, 64-byte messages",
            fan_out,
        ),
        (
            "Many channels: 1,000 channels x 1 subscriber, a publisher per core",
            many,
        ),
    ] {
        println!("\n## {title} (load on core {LOAD_CORE})");
        println!(
            "{:<20} {:>14} {:>12} {:>10} {:>10}",
            "server", "delivered/s", "publish/s", "p50 ms", "p99 ms"
        );
        let mut rates = Vec::new();
        for t in &targets {
            let mut results = Vec::new();
            for _ in 0..runs {
                let spec = PubsubSpec {
                    port: t.server.port,
                    ..spec.clone()
                };
                results.push(pubsub_load(&spec, t.name));
            }
            let delivered = median_f64(results.iter().map(|r| r.delivered_per_sec).collect());
            rates.push(delivered);
            println!(
                "{:<20} {:>14.0} {:>12.0} {:>10} {:>10}",
                t.name,
                delivered,
                median_f64(results.iter().map(|r| r.publish_per_sec).collect()),
                ms(median(results.iter().map(|r| r.p50_us).collect())),
                ms(median(results.iter().map(|r| r.p99_us).collect())),
            );
        }
        if let (true, [one, redis, two]) = (with_redis, &rates[..]) {
            println!(
                "delivered/s ratio to redis-server: {:.2}x (1 shard), {:.2}x (2 shards)",
                one / redis,
                two / redis
            );
        }
    }
}

/// One Pub/Sub load from threads pinned to the load's core; every
/// message counted by PUBLISH must arrive.
fn pubsub_load(spec: &PubsubSpec, name: &str) -> PubsubResult {
    let result = std::thread::scope(|s| {
        s.spawn(|| {
            core_affinity::set_for_current(core_affinity::CoreId { id: LOAD_CORE });
            shardis::scenario::pubsub::run(spec)
        })
        .join()
        .expect("the Pub/Sub load thread")
    })
    .unwrap_or_else(|e| panic!("the Pub/Sub load against {name}: {e}"));
    assert_eq!(
        result.delivered, result.receivers_counted,
        "messages lost against {name}"
    );
    result
}

/// `shardis-bench scenario blocking-script`'s flags, parsed as it parses
/// them.
#[derive(Parser)]
struct ScenarioFlags {
    #[command(flatten)]
    args: BlockingScript,
}

fn blocking_script(runs: usize, with_redis: bool) {
    println!("\n## Blocking script (2 s busy loop on shard 0; ms)");
    std::fs::create_dir_all(OUT_DIR).expect("the output directory");
    let json = format!("{OUT_DIR}/blocking-script.json");
    let mut results: Vec<Vec<TargetResult>> = Vec::new();
    let mut command = String::new();
    for _ in 0..runs {
        // Fresh servers each run: the scenario ends with SCRIPT KILL.
        let ours = start_shardis(&["--shards", "2"], None);
        let theirs = with_redis.then(|| start_redis(&["--lua-time-limit", "100"], None));
        let mut flags = vec!["--target".to_string(), format!("127.0.0.1:{}", ours.port)];
        if let Some(r) = &theirs {
            flags.extend(["--target".into(), format!("127.0.0.1:{}", r.port)]);
        }
        flags.extend(["--json-out-file".into(), json.clone()]);
        let argv = std::iter::once("blocking-script".to_string()).chain(flags.iter().cloned());
        let args = ScenarioFlags::try_parse_from(argv)
            .expect("valid scenario flags")
            .args;
        command = format!("shardis-bench scenario blocking-script {}", flags.join(" "));
        let run = scenario::run(&args).expect("the scenario ran");
        // The last run's files, as the command writes them.
        scenario::write_files(&args, &run, &command).expect("the scenario's files");
        results.push(run);
    }
    let targets = results[0].len();
    println!(
        "{:<22} {:>9} {:>9} {:>9} {:>9} {:>7} {:>9} {:>9}",
        "target", "p99 in", "p99.9 in", "p99 out", "in/out", "BUSY", "KILL", "killed"
    );
    for t in 0..targets {
        let of =
            |f: &dyn Fn(&TargetResult) -> u64| median(results.iter().map(|r| f(&r[t])).collect());
        let of_ms = |f: &dyn Fn(&TargetResult) -> Option<f64>| {
            let v: Vec<f64> = results.iter().filter_map(|r| f(&r[t])).collect();
            if v.is_empty() {
                "-".to_string()
            } else {
                format!("{:.1}", median_f64(v))
            }
        };
        // Keys on the other shards; for redis-server the same single
        // thread as the script's.
        let other = group_index(Group::OtherShards);
        let (p99_in, p99_out) = (
            of(&|r| r.window[other].p99_us),
            of(&|r| r.outside[other].p99_us),
        );
        println!(
            "{:<22} {:>9} {:>9} {:>9} {:>8.1}x {:>7} {:>9} {:>9}",
            results[0][t].name,
            ms(p99_in),
            ms(of(&|r| r.window[other].p999_us)),
            ms(p99_out),
            p99_in as f64 / p99_out.max(1) as f64,
            of(&|r| r.window[0].busy + r.window[1].busy),
            of_ms(&|r| r.script_kill.as_ref().map(|k| k.reply_ms)),
            of_ms(&|r| r.script_kill.as_ref().and_then(|k| k.done_ms)),
        );
    }
    println!(
        "p99 in/out: other-shard p99 during the script over the same traffic's p99 outside it;\n\
         KILL: SCRIPT KILL's reply; killed: when the script's caller got its error (after SCRIPT KILL was sent)"
    );
    println!("wrote {json} and its SVG (last run)");
    println!("reproduce (ports vary): {command}");
}
