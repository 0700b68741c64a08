//! `shardis-bench`: a memtier_benchmark-style load generator, and
//! `shardis-bench scenario blocking-script`. The flags and the work live in
//! `shardis::loadgen` and `shardis::scenario`; this only wires them to the
//! terminal and to the output files.

use std::io::IsTerminal;
use std::process::ExitCode;
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;

use shardis::loadgen::args::BenchArgs;
use shardis::loadgen::{report, run, Limit};

/// Intervals shorter than this get no progress line.
const SHORTEST_PROGRESS_INTERVAL: Duration = Duration::from_millis(100);

/// `shardis-bench scenario ...`: the scripted scenarios.
#[derive(Parser)]
#[command(name = "shardis-bench scenario", bin_name = "shardis-bench scenario")]
struct ScenarioCli {
    #[command(subcommand)]
    scenario: Scenario,
}

#[derive(clap::Subcommand)]
enum Scenario {
    /// Latency of everyone else while a long Lua script runs.
    BlockingScript(shardis::scenario::BlockingScript),
}

fn scenario_main(argv: Vec<String>) -> ExitCode {
    let command_line = argv.join(" ");
    let cli = ScenarioCli::parse_from(argv.into_iter().skip(1));
    let result = match cli.scenario {
        Scenario::BlockingScript(args) => shardis::scenario::main(&args, &command_line),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shardis-bench: {e}");
            ExitCode::FAILURE
        }
    }
}

fn main() -> ExitCode {
    let argv: Vec<String> = std::env::args().collect();
    if argv.get(1).map(String::as_str) == Some("scenario") {
        return scenario_main(argv);
    }
    let args = BenchArgs::parse();
    let plan = match args.plan() {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("shardis-bench: {e}");
            return ExitCode::from(2);
        }
    };
    // The first Ctrl-C ends the run early with a report; a second one
    // exits at once.
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        let _ = signal_hook::flag::register_conditional_shutdown(signal, 1, stop.clone());
        let _ = signal_hook::flag::register(signal, stop.clone());
    }
    let limit = match plan.limit {
        Limit::RequestsPerClient(n) => format!("{n} requests per client"),
        Limit::Duration(d) => format!("{} s", d.as_secs()),
        Limit::UntilStopped => "until stopped".into(),
    };
    eprintln!(
        "shardis-bench: {}:{}, {} threads x {} clients, pipeline {}, {}",
        plan.server, plan.port, plan.threads, plan.clients_per_thread, plan.pipeline, limit
    );
    // On a terminal the progress line redraws in place; in a log, one line
    // per second.
    let live = std::io::stderr().is_terminal();
    let result = run(&plan, &stop, |interval| {
        // The sliver after the last full second says little at a glance
        // (the JSON keeps it).
        if interval.length < SHORTEST_PROGRESS_INTERVAL {
            return;
        }
        let line = report::progress_line(interval);
        if live {
            eprint!("\r{line}\x1b[K");
        } else {
            eprintln!("{line}");
        }
    });
    if live {
        eprintln!();
    }
    let stats = match result {
        Ok(stats) => stats,
        Err(e) => {
            eprintln!("shardis-bench: {e}");
            return ExitCode::FAILURE;
        }
    };
    let percentiles = &args.print_percentiles.0;
    print!("{}", report::table(&stats, percentiles));
    if let Some(path) = &args.json_out_file {
        if let Err(e) = std::fs::write(path, report::json(&stats, &plan, percentiles)) {
            eprintln!("shardis-bench: cannot write {}: {e}", path.display());
            return ExitCode::FAILURE;
        }
    }
    ExitCode::SUCCESS
}
