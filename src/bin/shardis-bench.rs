//! shardis-bench: load generator and scenarios (see README, Performance).

use clap::{Parser, Subcommand};

#[derive(Parser)]
#[command(
    name = "shardis-bench",
    about = "Load generator and scenarios for shardis and redis-server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Scripted scenarios.
    #[command(subcommand)]
    Scenario(Scenario),
}

#[derive(Subcommand)]
enum Scenario {
    /// Latency of everyone else while a long Lua script runs.
    BlockingScript(shardis::scenario::BlockingScript),
}

fn main() -> std::process::ExitCode {
    let command_line = std::env::args().collect::<Vec<_>>().join(" ");
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Scenario(Scenario::BlockingScript(args)) => {
            shardis::scenario::main(&args, &command_line)
        }
    };
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("shardis-bench: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
