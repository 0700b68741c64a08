//! The `shardis` server binary: command line, configuration, start.

use std::process::ExitCode;
use std::sync::Arc;

use clap::Parser;

use shardis::config::{is_param, parse_config_file, Config};
use shardis::node::Node;

#[global_allocator]
static ALLOC: shardis::alloc::CountingAlloc = shardis::alloc::CountingAlloc;

/// A Redis-compatible in-memory server: one pinned shard per core.
///
/// Any CONFIG parameter can also be given as `--name value`
/// (e.g. `--hz 20`); flags override the config file, which overrides
/// the defaults.
#[derive(Parser, Debug)]
#[command(name = "shardis", version)]
struct Cli {
    /// redis.conf-style file: `name value` lines, `#` comments.
    #[arg(long)]
    config: Option<String>,
    /// Address to listen on.
    #[arg(long)]
    bind: Option<String>,
    /// TCP port.
    #[arg(long)]
    port: Option<u16>,
    /// Number of shards (default: one per available core). More shards than
    /// cores is allowed, with a warning.
    #[arg(long, conflicts_with = "cores")]
    shards: Option<usize>,
    /// Cores to run shards on, one shard each, e.g. `0-3,6`.
    #[arg(long)]
    cores: Option<String>,
    /// Password clients must AUTH with.
    #[arg(long)]
    requirepass: Option<String>,
    /// Milliseconds a script may run before its shard answers BUSY.
    #[arg(long, allow_hyphen_values = true)]
    busy_reply_threshold: Option<i64>,
}

fn main() -> ExitCode {
    match start() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shardis: {e}");
            ExitCode::FAILURE
        }
    }
}

fn start() -> Result<(), String> {
    let (args, extra) = split_config_flags(std::env::args().collect())?;
    let cli = Cli::parse_from(args);
    let config = Config::default();
    if let Some(path) = &cli.config {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read config file {path}: {e}"))?;
        for (name, value) in parse_config_file(&text).map_err(|e| format!("{path}: {e}"))? {
            config
                .set_initial(&name, &value)
                .map_err(|e| format!("{path}: {name}: {e}"))?;
        }
    }
    for (name, value) in &extra {
        config
            .set_initial(name, value)
            .map_err(|e| format!("--{name}: {e}"))?;
    }
    let flags = [
        ("bind", cli.bind.clone()),
        ("port", cli.port.map(|p| p.to_string())),
        ("requirepass", cli.requirepass.clone()),
        (
            "busy-reply-threshold",
            cli.busy_reply_threshold.map(|v| v.to_string()),
        ),
    ];
    for (name, value) in flags {
        if let Some(v) = value {
            config
                .set_initial(name, &v)
                .map_err(|e| format!("--{name}: {e}"))?;
        }
    }
    let cores = choose_cores(&cli)?;
    let node = Arc::new(Node::new(config, cores));
    watch_signals(node.clone())?;
    shardis::server::run(node)
}

type ConfigPairs = Vec<(String, String)>;

/// Pulls `--name value` pairs for CONFIG parameters that are not clap flags
/// out of the arguments.
fn split_config_flags(args: Vec<String>) -> Result<(Vec<String>, ConfigPairs), String> {
    const CLAP_FLAGS: &[&str] = &[
        "config",
        "bind",
        "port",
        "shards",
        "cores",
        "requirepass",
        "busy-reply-threshold",
    ];
    let mut kept = Vec::new();
    let mut extra = Vec::new();
    let mut it = args.into_iter();
    while let Some(a) = it.next() {
        match a.strip_prefix("--") {
            Some(name) if !CLAP_FLAGS.contains(&name) && is_param(name) => {
                let value = it.next().ok_or_else(|| format!("--{name} needs a value"))?;
                extra.push((name.to_string(), value));
            }
            _ => kept.push(a),
        }
    }
    Ok((kept, extra))
}

fn choose_cores(cli: &Cli) -> Result<Vec<usize>, String> {
    let available: Vec<usize> = core_affinity::get_core_ids()
        .map(|ids| ids.into_iter().map(|c| c.id).collect())
        .filter(|ids: &Vec<usize>| !ids.is_empty())
        .ok_or("cannot list the CPU cores this process may run on")?;
    if let Some(list) = &cli.cores {
        let cores = parse_core_list(list)?;
        if let Some(bad) = cores.iter().find(|c| !available.contains(c)) {
            return Err(format!(
                "--cores: core {bad} is not available (available: {available:?})"
            ));
        }
        return Ok(cores);
    }
    let shards = cli.shards.unwrap_or(available.len());
    if shards == 0 || shards > 1024 {
        return Err("--shards must be between 1 and 1024".into());
    }
    if shards > available.len() {
        eprintln!(
            "warning: {shards} shards on {} cores: shards share cores, so a busy shard slows its neighbours",
            available.len()
        );
    }
    Ok((0..shards)
        .map(|i| available[i % available.len()])
        .collect())
}

/// `0-3,6` -> [0, 1, 2, 3, 6]
fn parse_core_list(list: &str) -> Result<Vec<usize>, String> {
    let bad = || format!("--cores: cannot parse '{list}' (expected e.g. 0-3,6)");
    let mut cores = Vec::new();
    for part in list.split(',') {
        let part = part.trim();
        match part.split_once('-') {
            Some((a, b)) => {
                let (a, b): (usize, usize) =
                    (a.parse().map_err(|_| bad())?, b.parse().map_err(|_| bad())?);
                if a > b || b - a > 1024 {
                    return Err(bad());
                }
                cores.extend(a..=b);
            }
            None => cores.push(part.parse().map_err(|_| bad())?),
        }
    }
    if cores.is_empty() || cores.len() > 1024 {
        return Err(bad());
    }
    let mut seen = cores.clone();
    seen.sort_unstable();
    seen.dedup();
    if seen.len() != cores.len() {
        return Err(format!("--cores: '{list}' names a core twice"));
    }
    Ok(cores)
}

/// SIGINT / SIGTERM: clean shutdown; a second one exits at once. SIGHUP
/// is ignored, as Redis ignores it (a closed terminal must not stop the
/// server).
fn watch_signals(node: Arc<Node>) -> Result<(), String> {
    use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGHUP])
        .map_err(|e| format!("cannot install signal handlers: {e}"))?;
    std::thread::Builder::new()
        .name("signals".into())
        .spawn(move || {
            for signal in signals.forever() {
                if signal == SIGHUP {
                    continue;
                }
                let again = node
                    .shutdown_requested
                    .swap(true, std::sync::atomic::Ordering::SeqCst);
                if node.is_shutting_down() || again {
                    std::process::exit(1);
                }
                eprintln!("Received signal, shutting down...");
                // With save points, as Redis, the data is saved first
                // (`cmd::persistence::cron`); without, nothing waits.
                if node.config.save_points().is_empty() {
                    node.begin_shutdown();
                }
            }
        })
        .map_err(|e| format!("cannot start the signal thread: {e}"))?;
    Ok(())
}
