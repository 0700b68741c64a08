//! The busy-script benchmark (issue 4): while a 2 s write-free busy loop
//! runs on shard 0 with `busy-reply-threshold` 100 ms, how fast is GET/SET
//! traffic to the other shard, on connections of both cores? And what do
//! the yields cost the script? redis-server runs the same load in the same
//! run for comparison (there every command waits, then gets BUSY).
//!
//! `cargo bench --bench busy` (needs `redis-server` on PATH). Options as
//! environment variables: RUNS (3), CONNECTIONS (8), RATE (requests/s per
//! connection, 1000), SCRIPT_MS (2000), THRESHOLD_MS (100).
//!
//! Latency is measured from each request's scheduled send time, so a stall
//! counts in full (no coordinated omission). One thread drives every load
//! connection (ppoll), to take as little CPU from the servers as it can;
//! on a 2-core machine it still shares their cores. SHARDS (2) and
//! SHARDIS_ARGS (extra flags) vary the shardis side; SKIP_COST=1 skips the
//! yield-cost runs.

use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use shardis::scenario::busy_loop;
use shardis::scenario::client::Client;
use shardis::scenario::load::{self, Group, Key};
use shardis::util::slot::shard_of_key;
use support::{env, median, ms, start, start_redis};

mod support;

/// A fixed amount of pure-Lua work, to time the yields' cost.
const FIXED_WORK: &str = "local n = 0 for i = 1, 300000000 do n = n + i end return 1";

struct Outcome {
    /// Other-shard traffic during the script: p50, p99, p99.9, max (µs).
    window: [u64; 4],
    /// The same traffic outside the script.
    baseline: [u64; 4],
    /// p99 during the script on connections of core 0 and of core 1.
    p99_by_core: [Option<u64>; 2],
    busy: u64,
    errors: u64,
    script_ms: u64,
}

fn histogram() -> Histogram<u64> {
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("histogram bounds")
}

fn quantiles(h: &Histogram<u64>) -> [u64; 4] {
    [
        h.value_at_quantile(0.5),
        h.value_at_quantile(0.99),
        h.value_at_quantile(0.999),
        h.max(),
    ]
}

/// Runs the library's load against `port` while `during` runs; the load's
/// samples, the connections' cores and `during`'s result.
fn under_load<T>(
    port: u16,
    keys: &[Key],
    opts: &Opts,
    connections: u64,
    during: impl FnOnce(Instant) -> T,
) -> (load::LoadRun, T) {
    let spec = load::LoadSpec {
        host: "127.0.0.1",
        port,
        connections: connections as usize,
        rate: opts.rate,
        set_every: 10,
        value: "value",
        keys,
    };
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    thread::scope(|scope| {
        let loader = scope.spawn(|| load::run(&spec, started, &stop));
        let result = during(started);
        stop.store(true, Ordering::Relaxed);
        let run = loader.join().expect("load thread").expect("load run");
        (run, result)
    })
}

fn scenario(port: u16, keys: &[Key], script_key: &str, opts: &Opts) -> Outcome {
    let (run, (start_us, end_us)) = under_load(port, keys, opts, opts.connections, |started| {
        thread::sleep(Duration::from_secs(1));
        let mut script = Client::connect("127.0.0.1", port).expect("connect");
        let start_us = started.elapsed().as_micros() as u64;
        let reply = script
            .cmd(&["EVAL", &busy_loop(opts.script_ms, false), "1", script_key])
            .expect("the busy script");
        let end_us = started.elapsed().as_micros() as u64;
        assert_eq!(reply, ":1\r\n", "the busy script failed");
        thread::sleep(Duration::from_secs(1));
        (start_us, end_us)
    });
    let mut in_window = histogram();
    let mut outside = histogram();
    let mut by_core = [histogram(), histogram()];
    let (mut busy, mut errors) = (0, 0);
    for s in &run.samples {
        let inside = s.due_us >= start_us && s.due_us <= end_us;
        if inside {
            in_window.saturating_record(s.latency_us);
            let core = run.conn_cores.get(s.conn as usize).copied().flatten();
            if let Some(h) = core.and_then(|c| by_core.get_mut(c)) {
                h.saturating_record(s.latency_us);
            }
        } else {
            outside.saturating_record(s.latency_us);
        }
        match s.outcome {
            load::Outcome::Busy => busy += 1,
            load::Outcome::Error => errors += 1,
            load::Outcome::Ok => {}
        }
    }
    let p99 = |h: &Histogram<u64>| (!h.is_empty()).then(|| h.value_at_quantile(0.99));
    Outcome {
        window: quantiles(&in_window),
        baseline: quantiles(&outside),
        p99_by_core: [p99(&by_core[0]), p99(&by_core[1])],
        busy,
        errors,
        script_ms: (end_us - start_us) / 1000,
    }
}

/// Elapsed ms of FIXED_WORK on shard 0 under `connections` of the load.
fn fixed_work_ms(port: u16, keys: &[Key], script_key: &str, opts: &Opts, connections: u64) -> u64 {
    let (_, ms) = under_load(port, keys, opts, connections, |_| {
        let mut script = Client::connect("127.0.0.1", port).expect("connect");
        let t = Instant::now();
        let reply = script
            .cmd(&["EVAL", FIXED_WORK, "1", script_key])
            .expect("the fixed-work script");
        assert_eq!(reply, ":1\r\n", "the fixed-work script failed");
        t.elapsed().as_millis() as u64
    });
    ms
}

struct Opts {
    runs: u64,
    connections: u64,
    rate: u64,
    script_ms: u64,
    threshold_ms: u64,
}

fn median_opt(v: Vec<Option<u64>>) -> String {
    let v: Vec<u64> = v.into_iter().flatten().collect();
    if v.is_empty() {
        "-".into()
    } else {
        format!("{:.2}", median(v) as f64 / 1000.0)
    }
}

fn report(name: &str, runs: &[Outcome]) {
    let col = |f: &dyn Fn(&Outcome) -> u64| median(runs.iter().map(f).collect());
    println!(
        "{name:<22} script window: p50 {} p99 {} p99.9 {} max {} ms | outside: p99 {} p99.9 {} ms | BUSY {} errors {} | script {} ms",
        ms(col(&|o| o.window[0])),
        ms(col(&|o| o.window[1])),
        ms(col(&|o| o.window[2])),
        ms(col(&|o| o.window[3])),
        ms(col(&|o| o.baseline[1])),
        ms(col(&|o| o.baseline[2])),
        col(&|o| o.busy),
        col(&|o| o.errors),
        col(&|o| o.script_ms),
    );
    if runs
        .iter()
        .any(|o| o.p99_by_core.iter().any(Option::is_some))
    {
        println!(
            "{:<22} script window p99 by accepting core: core 0 {} ms, core 1 {} ms",
            "",
            median_opt(runs.iter().map(|o| o.p99_by_core[0]).collect()),
            median_opt(runs.iter().map(|o| o.p99_by_core[1]).collect()),
        );
    }
}

/// Extra shardis flags from SHARDIS_ARGS.
fn shardis_args() -> Vec<String> {
    std::env::var("SHARDIS_ARGS")
        .unwrap_or_default()
        .split_whitespace()
        .map(String::from)
        .collect()
}

fn main() {
    let opts = Opts {
        runs: env("RUNS", 3),
        connections: env("CONNECTIONS", 8),
        rate: env("RATE", 1000),
        script_ms: env("SCRIPT_MS", 2000),
        threshold_ms: env("THRESHOLD_MS", 100),
    };
    let shardis = env!("CARGO_BIN_EXE_shardis");
    let threshold = opts.threshold_ms.to_string();
    // The script's key lives on shard 0; the load's keys on shard 1.
    let script_key = (0..)
        .map(|n| format!("script:{n}"))
        .find(|k| shard_of_key(k.as_bytes(), 2) == 0)
        .expect("a key on shard 0");
    let keys: Vec<Key> = (0..)
        .map(|n| format!("key:{n}"))
        .filter(|k| shard_of_key(k.as_bytes(), 2) == 1)
        .take(100)
        .map(|name| Key {
            name,
            group: Group::OtherShards,
        })
        .collect();
    println!(
        "busy-script benchmark: {} connections x {} req/s (GET:SET 9:1) to shard 1, a {} ms write-free loop on shard 0, threshold {} ms, median of {} runs",
        opts.connections, opts.rate, opts.script_ms, opts.threshold_ms, opts.runs
    );
    let mut ours = Vec::new();
    let mut theirs = Vec::new();
    for _ in 0..opts.runs {
        let mut args: Vec<String> = vec![
            "--shards".into(),
            env("SHARDS", 2).to_string(),
            "--busy-reply-threshold".into(),
            threshold.clone(),
        ];
        args.extend(shardis_args());
        let s = start(shardis, &args, None);
        ours.push(scenario(s.port, &keys, &script_key, &opts));
        drop(s);
        let r = start_redis(&["--lua-time-limit", &threshold], None);
        theirs.push(scenario(r.port, &keys, &script_key, &opts));
    }
    report("shardis (2 shards)", &ours);
    report("redis-server", &theirs);

    // The yields' cost: a fixed script, alone and under the same load,
    // yielding every 100 us (the default) against not yielding for I/O.
    // Under load the yielding server also serves shard 0's connections
    // meanwhile (the other one leaves them waiting), so that figure is
    // the price of serving them, not of the yields alone.
    if std::env::var("SKIP_COST").is_ok() {
        return;
    }
    for (label, connections) in [("alone", 0), ("under the load", opts.connections)] {
        let mut yielding = Vec::new();
        let mut not_yielding = Vec::new();
        for _ in 0..opts.runs {
            for (yield_us, out) in [("100", &mut yielding), ("0", &mut not_yielding)] {
                let mut args: Vec<String> = vec![
                    "--shards".into(),
                    "2".into(),
                    "--busy-reply-threshold".into(),
                    threshold.clone(),
                ];
                args.extend(shardis_args());
                args.extend(["--script-yield-us".into(), yield_us.into()]);
                let s = start(shardis, &args, None);
                out.push(fixed_work_ms(
                    s.port,
                    &keys,
                    &script_key,
                    &opts,
                    connections,
                ));
            }
        }
        let (y, n) = (median(yielding), median(not_yielding));
        println!(
            "fixed script {label}: {y} ms yielding every 100 us, {n} ms with script-yield-us 0 (x{:.2})",
            y as f64 / n as f64
        );
    }
}
