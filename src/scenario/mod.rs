//! `shardis-bench scenario blocking-script`: what a long Lua script does
//! to everyone else. A steady, rate-limited GET/SET load runs on keys of
//! every shard; after a warm-up one more connection runs a long busy loop
//! on a key of shard 0; the load goes on after it. Latency and BUSY
//! replies are reported for the script's window and outside it, for keys
//! on the script's shard and on the others, per target, side by side;
//! then SCRIPT KILL (and, on request, SHUTDOWN NOSAVE) are timed against a
//! spinning script. The JSON and an SVG chart are written to files.

pub mod client;
pub mod load;
pub mod pubsub;
pub mod report;
pub mod svg;

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use client::Client;
use load::{Group, Key, LoadSpec};
use report::{Check, TargetResult};

use crate::util::slot::shard_of_key;

/// The shard whose key the script uses.
const SCRIPT_SHARD: usize = 0;
/// How long a check waits for a script to turn busy, past the threshold.
const BUSY_WAIT_SLACK: Duration = Duration::from_secs(5);
/// How long a check waits for SCRIPT KILL / SHUTDOWN NOSAVE to take effect.
const EFFECT_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(clap::Args, Debug, Clone)]
pub struct BlockingScript {
    /// A server to measure, host:port; give it more than once to measure
    /// several one after another (e.g. shardis and redis-server).
    #[arg(long = "target", default_value = "127.0.0.1:6379")]
    pub targets: Vec<String>,
    /// Load connections.
    #[arg(long, default_value_t = 8)]
    pub connections: usize,
    /// Requests per second on each load connection.
    #[arg(long, default_value_t = 1000)]
    pub rate: u64,
    /// SET:GET ratio of the load.
    #[arg(long, default_value = "1:9")]
    pub ratio: String,
    /// Keys of the load, spread over every shard; load connections
    /// alternate between keys on the script's shard and keys on the others.
    #[arg(long, default_value_t = 1000)]
    pub keys: usize,
    #[arg(long, default_value = "scenario:")]
    pub key_prefix: String,
    /// Bytes of each SET's value.
    #[arg(short = 'd', long, default_value_t = 32)]
    pub data_size: usize,
    #[arg(long, default_value_t = 1000)]
    pub warmup_ms: u64,
    /// How long the script runs.
    #[arg(long, default_value_t = 2000)]
    pub script_ms: u64,
    /// Load after the script ends.
    #[arg(long, default_value_t = 1000)]
    pub after_ms: u64,
    /// The script writes its key before it loops (then SCRIPT KILL cannot
    /// stop it, in Redis as in shardis).
    #[arg(long)]
    pub write_first: bool,
    /// Shards to group keys by; default: what the first target's INFO
    /// says (1 for redis-server), at least 2.
    #[arg(long)]
    pub shards: Option<usize>,
    /// Skip timing SCRIPT KILL against a spinning script.
    #[arg(long)]
    pub skip_kill_check: bool,
    /// Also time SHUTDOWN NOSAVE against a spinning script: this stops
    /// every target.
    #[arg(long)]
    pub check_shutdown: bool,
    /// Where the JSON goes; the SVG chart is written beside it.
    #[arg(long, default_value = "blocking-script.json")]
    pub json_out_file: String,
}

/// Runs the scenario against every target, prints the table and writes
/// the JSON and SVG files.
pub fn main(args: &BlockingScript, command_line: &str) -> Result<(), String> {
    let results = run(args)?;
    println!("{}", report::table(&results));
    let svg_path = write_files(args, &results, command_line)?;
    println!("wrote {} and {svg_path}", args.json_out_file);
    println!("reproduce: {command_line}");
    Ok(())
}

/// Writes the JSON to `--json-out-file` and the SVG chart beside it; the
/// chart's path.
pub fn write_files(
    args: &BlockingScript,
    results: &[TargetResult],
    command_line: &str,
) -> Result<String, String> {
    std::fs::write(&args.json_out_file, report::json(results, command_line))
        .map_err(|e| format!("cannot write {}: {e}", args.json_out_file))?;
    let svg_path = svg_path(&args.json_out_file);
    let title = format!(
        "{} ms script on shard 0 under {} x {} req/s",
        args.script_ms, args.connections, args.rate
    );
    std::fs::write(&svg_path, svg::chart(results, &title))
        .map_err(|e| format!("cannot write {svg_path}: {e}"))?;
    Ok(svg_path)
}

fn svg_path(json: &str) -> String {
    match json.strip_suffix(".json") {
        Some(stem) => format!("{stem}.svg"),
        None => format!("{json}.svg"),
    }
}

pub fn run(args: &BlockingScript) -> Result<Vec<TargetResult>, String> {
    let set_every = set_every(&args.ratio)?;
    let targets: Vec<(String, u16)> = args
        .targets
        .iter()
        .map(|t| parse_target(t))
        .collect::<Result<_, _>>()?;
    let shards = match args.shards {
        Some(n) => n.max(1),
        None => {
            let (host, port) = &targets[0];
            shards_of(host, *port).unwrap_or(1).max(2)
        }
    };
    let keys: Vec<Key> = (0..args.keys.max(1))
        .map(|n| {
            let name = format!("{}{n}", args.key_prefix);
            let group = if shard_of_key(name.as_bytes(), shards) == SCRIPT_SHARD {
                Group::ScriptShard
            } else {
                Group::OtherShards
            };
            Key { name, group }
        })
        .collect();
    let script_key = (0..)
        .map(|n| format!("{}script:{n}", args.key_prefix))
        .find(|k| shard_of_key(k.as_bytes(), shards) == SCRIPT_SHARD)
        .unwrap_or_default();
    let mut results = Vec::new();
    for (host, port) in &targets {
        eprintln!("measuring {host}:{port} ...");
        results.push(measure(
            args,
            host,
            *port,
            shards,
            set_every,
            &keys,
            &script_key,
        )?);
    }
    if args.check_shutdown {
        for ((host, port), result) in targets.iter().zip(results.iter_mut()) {
            result.shutdown_nosave = Some(check_shutdown(host, *port, &script_key)?);
        }
    }
    Ok(results)
}

fn measure(
    args: &BlockingScript,
    host: &str,
    port: u16,
    shards: usize,
    set_every: usize,
    keys: &[Key],
    script_key: &str,
) -> Result<TargetResult, String> {
    let fail = |e: std::io::Error| format!("{host}:{port}: {e}");
    let mut control = Client::connect(host, port).map_err(fail)?;
    let name = server_name(&mut control, port);
    let threshold = config_value(&mut control, "busy-reply-threshold")
        .or_else(|| config_value(&mut control, "lua-time-limit"))
        .unwrap_or_else(|| "?".into());
    let value = "v".repeat(args.data_size);
    for k in keys {
        control.cmd(&["SET", &k.name, &value]).map_err(fail)?;
    }
    let spec = LoadSpec {
        host,
        port,
        connections: args.connections,
        rate: args.rate,
        set_every,
        value: &value,
        keys,
    };
    let stop = AtomicBool::new(false);
    let started = Instant::now();
    let (samples, script) = std::thread::scope(|scope| {
        let load = scope.spawn(|| load::run(&spec, started, &stop));
        std::thread::sleep(Duration::from_millis(args.warmup_ms));
        let script = run_script(host, port, script_key, args, started);
        std::thread::sleep(Duration::from_millis(args.after_ms));
        stop.store(true, Ordering::Relaxed);
        let samples = load
            .join()
            .map_err(|_| "the load thread panicked".to_string())
            .and_then(|r| r.map(|run| run.samples).map_err(fail));
        (samples, script)
    });
    let samples = samples?;
    let (start_ms, end_ms, reply) = script.map_err(fail)?;
    let run_ms = started.elapsed().as_millis() as u64;
    let (window, outside, timeline) = report::summarize(&samples, (start_ms, end_ms), run_ms);
    let script_kill = if args.skip_kill_check {
        None
    } else {
        Some(check_kill(host, port, script_key, &threshold).map_err(fail)?)
    };
    Ok(TargetResult {
        name,
        addr: format!("{host}:{port}"),
        shards,
        threshold,
        script_start_ms: start_ms,
        script_end_ms: end_ms,
        script_reply: reply,
        run_ms,
        window,
        outside,
        timeline,
        script_kill,
        shutdown_nosave: None,
    })
}

/// The busy loop: `ms` milliseconds on the server's clock, written as
/// plain Lua 5.1 that redis-server runs too.
pub fn busy_loop(ms: u64, write_first: bool) -> String {
    format!(
        "{}local t = redis.call('time') local stop = t[1] * 1000000 + t[2] + {}\n\
         local n = 0\n\
         while true do\n\
           for i = 1, 10000 do n = n + i end\n\
           t = redis.call('time')\n\
           if t[1] * 1000000 + t[2] >= stop then return 1 end\n\
         end",
        if write_first {
            "redis.call('set', KEYS[1], 'written by the script')\n"
        } else {
            ""
        },
        ms * 1000
    )
}

/// Runs the script; its window in ms since `started`, and its reply.
fn run_script(
    host: &str,
    port: u16,
    key: &str,
    args: &BlockingScript,
    started: Instant,
) -> std::io::Result<(u64, u64, String)> {
    let mut c = Client::connect(host, port)?;
    let script = busy_loop(args.script_ms, args.write_first);
    let start = started.elapsed().as_millis() as u64;
    let reply = c.cmd(&["EVAL", &script, "1", key])?;
    let end = started.elapsed().as_millis() as u64;
    Ok((start, end, reply))
}

/// Starts a never-ending write-free script on `key` and waits until the
/// server answers BUSY for that key; the script's connection.
fn spin_until_busy(host: &str, port: u16, key: &str, threshold: &str) -> std::io::Result<Client> {
    let mut spinner = Client::connect(host, port)?;
    spinner.send(&["EVAL", "while true do end", "1", key])?;
    let threshold_ms: u64 = threshold.parse().unwrap_or(5000);
    let deadline = Instant::now() + Duration::from_millis(threshold_ms) + BUSY_WAIT_SLACK;
    let mut probe = Client::connect(host, port)?;
    loop {
        if probe.cmd(&["GET", key])?.starts_with("-BUSY") {
            return Ok(spinner);
        }
        if Instant::now() > deadline {
            return Err(std::io::Error::other(
                "the spinning script never turned busy",
            ));
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn check_kill(host: &str, port: u16, key: &str, threshold: &str) -> std::io::Result<Check> {
    let mut spinner = spin_until_busy(host, port, key, threshold)?;
    spinner.set_timeout(Some(EFFECT_TIMEOUT))?;
    let mut c = Client::connect(host, port)?;
    let sent = Instant::now();
    let reply = c.cmd(&["SCRIPT", "KILL"])?;
    let reply_ms = sent.elapsed().as_secs_f64() * 1000.0;
    let done = spinner.read().ok();
    let done_ms = done.as_ref().map(|_| sent.elapsed().as_secs_f64() * 1000.0);
    Ok(Check {
        reply,
        reply_ms,
        done,
        done_ms,
    })
}

fn check_shutdown(host: &str, port: u16, key: &str) -> Result<Check, String> {
    let fail = |e: std::io::Error| format!("{host}:{port}: {e}");
    let threshold = {
        let mut c = Client::connect(host, port).map_err(fail)?;
        config_value(&mut c, "busy-reply-threshold").unwrap_or_else(|| "5000".into())
    };
    let mut spinner = spin_until_busy(host, port, key, &threshold).map_err(fail)?;
    spinner.set_timeout(Some(EFFECT_TIMEOUT)).map_err(fail)?;
    let mut c = Client::connect(host, port).map_err(fail)?;
    c.set_timeout(Some(EFFECT_TIMEOUT)).map_err(fail)?;
    let sent = Instant::now();
    c.send(&["SHUTDOWN", "NOSAVE"]).map_err(fail)?;
    // Redis closes the connection without a reply when it exits.
    let reply = match c.read() {
        Ok(reply) => reply,
        Err(_) => "(connection closed)".into(),
    };
    let reply_ms = sent.elapsed().as_secs_f64() * 1000.0;
    // The script's caller gets an error (shardis) or nothing, then EOF.
    let last_word = spinner.read().ok();
    let closed = spinner.is_closed();
    let done_ms = sent.elapsed().as_secs_f64() * 1000.0;
    Ok(Check {
        reply,
        reply_ms,
        done: closed.then(|| match last_word {
            Some(reply) => format!("the script's caller got {:?}, then EOF", reply.trim_end()),
            None => "the script's connection was closed".into(),
        }),
        done_ms: closed.then_some(done_ms),
    })
}

/// "shardis (N shards)" or "redis-server X.Y.Z", from INFO.
fn server_name(c: &mut Client, port: u16) -> String {
    let info = c.cmd(&["INFO"]).unwrap_or_default();
    let field = |name: &str| {
        info.lines()
            .find_map(|l| l.strip_prefix(name))
            .map(|v| v.trim().to_string())
    };
    match field("shards:") {
        Some(n) => format!("shardis/{n}@{port}"),
        None => format!(
            "redis-{}@{port}",
            field("redis_version:").unwrap_or_else(|| "?".into())
        ),
    }
}

fn shards_of(host: &str, port: u16) -> Option<usize> {
    let mut c = Client::connect(host, port).ok()?;
    let info = c.cmd(&["INFO", "shards"]).ok()?;
    info.lines()
        .find_map(|l| l.strip_prefix("shards:"))
        .and_then(|v| v.trim().parse().ok())
}

/// A parameter's value from CONFIG GET, if the server has it.
fn config_value(c: &mut Client, name: &str) -> Option<String> {
    let reply = c.cmd(&["CONFIG", "GET", name]).ok()?;
    // *2 $len name $len value
    reply.split("\r\n").nth(4).map(str::to_string)
}

fn parse_target(t: &str) -> Result<(String, u16), String> {
    let (host, port) = t
        .rsplit_once(':')
        .ok_or_else(|| format!("--target {t}: expected host:port"))?;
    let port = port
        .parse()
        .map_err(|_| format!("--target {t}: bad port"))?;
    Ok((host.to_string(), port))
}

/// Every how many requests one is a SET, from a memtier-style SET:GET.
fn set_every(ratio: &str) -> Result<usize, String> {
    let bad = || format!("--ratio {ratio}: expected SET:GET, e.g. 1:9");
    let (s, g) = ratio.split_once(':').ok_or_else(bad)?;
    let (s, g): (usize, usize) = (s.parse().map_err(|_| bad())?, g.parse().map_err(|_| bad())?);
    if s == 0 {
        // Never a SET: one past any request count.
        return Ok(usize::MAX);
    }
    Ok(((s + g) as f64 / s as f64).round().max(1.0) as usize)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratios_and_targets_parse() {
        assert_eq!(set_every("1:9"), Ok(10));
        assert_eq!(set_every("1:1"), Ok(2));
        assert_eq!(set_every("1:0"), Ok(1));
        assert_eq!(set_every("0:1"), Ok(usize::MAX));
        assert!(set_every("x").is_err());
        assert_eq!(
            parse_target("127.0.0.1:7000"),
            Ok(("127.0.0.1".into(), 7000))
        );
        assert!(parse_target("nohost").is_err());
        assert_eq!(svg_path("out/run.json"), "out/run.svg");
    }
}
