//! What a run does (the plan, checked before it starts) and why a run
//! fails: the types the caller, the run and its workers all use.

use std::io;
use std::sync::Arc;
use std::time::Duration;

use super::keys::{KeyPattern, KeySpace};
use super::request::Template;
use super::{MAX_CLIENTS_PER_THREAD, MAX_COMMANDS, MAX_PIPELINE, MAX_THREADS};

/// Shortest and longest statistics interval.
const MIN_INTERVAL: Duration = Duration::from_millis(1);
const MAX_INTERVAL: Duration = Duration::from_secs(3600);

/// One kind of request and how often it is sent.
#[derive(Debug, Clone)]
pub struct CommandSpec {
    /// Its row in the report (`Sets`, `Gets`, `EVALSHA` ...).
    pub label: String,
    pub template: Template,
    /// Requests of this command in a row before the next command's turn.
    pub ratio: u32,
    /// How each client walks `keys` for this command.
    pub pattern: KeyPattern,
    pub keys: Arc<KeySpace>,
}

/// When the run ends (the stop flag ends any of them early).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Each client sends this many requests.
    RequestsPerClient(u64),
    /// Clients send until this long after the start.
    Duration(Duration),
    /// Clients send until the stop flag is set.
    UntilStopped,
}

/// AUTH sent on every connection before the run.
#[derive(Debug, Clone)]
pub struct Credentials {
    pub user: Option<String>,
    pub password: String,
}

/// Everything a run needs.
#[derive(Debug, Clone)]
pub struct Plan {
    pub server: String,
    pub port: u16,
    pub threads: usize,
    pub clients_per_thread: usize,
    /// Requests each connection keeps in flight.
    pub pipeline: usize,
    /// Sent in turn, each `ratio` times.
    pub commands: Vec<CommandSpec>,
    /// Bytes `__data__` stands for.
    pub data_size: usize,
    pub limit: Limit,
    /// Requests per second per connection, at fixed intervals; latency then
    /// counts from each request's scheduled time.
    pub rate_per_connection: Option<u64>,
    /// Seed of every client's key choices.
    pub seed: u64,
    /// Offset the seed by the client's number, so clients draw different
    /// keys (memtier's `--distinct-client-seed`; without it every client
    /// draws the same sequence).
    pub distinct_client_seed: bool,
    pub credentials: Option<Credentials>,
    /// Length of one statistics interval (the time series' step).
    pub interval: Duration,
}

impl Plan {
    /// memtier's defaults against `server:port`, with the given commands.
    pub fn new(server: &str, port: u16, commands: Vec<CommandSpec>) -> Plan {
        Plan {
            server: server.to_string(),
            port,
            threads: 4,
            clients_per_thread: 50,
            pipeline: 1,
            commands,
            data_size: 32,
            limit: Limit::RequestsPerClient(10_000),
            rate_per_connection: None,
            seed: 0,
            distinct_client_seed: false,
            credentials: None,
            interval: Duration::from_secs(1),
        }
    }

    pub fn total_clients(&self) -> usize {
        self.threads * self.clients_per_thread
    }

    pub fn validate(&self) -> Result<(), LoadError> {
        let check = |ok: bool, what: String| {
            if ok {
                Ok(())
            } else {
                Err(LoadError::Config(what))
            }
        };
        check(
            (1..=MAX_THREADS).contains(&self.threads),
            format!("threads must be 1 to {MAX_THREADS}"),
        )?;
        check(
            (1..=MAX_CLIENTS_PER_THREAD).contains(&self.clients_per_thread),
            format!("clients per thread must be 1 to {MAX_CLIENTS_PER_THREAD}"),
        )?;
        check(
            (1..=MAX_PIPELINE).contains(&self.pipeline),
            format!("pipeline must be 1 to {MAX_PIPELINE}"),
        )?;
        check(
            (1..=MAX_COMMANDS).contains(&self.commands.len()),
            format!("a plan needs 1 to {MAX_COMMANDS} commands"),
        )?;
        check(
            self.commands.iter().any(|c| c.ratio > 0),
            "at least one command needs a ratio above 0".into(),
        )?;
        for command in &self.commands {
            command.keys.validate().map_err(LoadError::Config)?;
        }
        match self.limit {
            Limit::RequestsPerClient(0) => {
                return Err(LoadError::Config("requests must be at least 1".into()))
            }
            Limit::Duration(d) if d.is_zero() => {
                return Err(LoadError::Config("test time must be above 0".into()))
            }
            _ => {}
        }
        check(
            self.rate_per_connection != Some(0),
            "rate limit must be at least 1 request/s".into(),
        )?;
        check(
            (MIN_INTERVAL..=MAX_INTERVAL).contains(&self.interval),
            format!("interval must be {MIN_INTERVAL:?} to {MAX_INTERVAL:?}"),
        )
    }
}

/// Why a run failed.
#[derive(Debug)]
pub enum LoadError {
    /// The plan is not runnable.
    Config(String),
    /// A connection could not be made.
    Connect { address: String, source: io::Error },
    /// The server refused AUTH (its reply).
    Auth(String),
    /// A connection failed during the run: closed, I/O error, bad reply.
    Connection { client: usize, problem: String },
    /// epoll itself failed.
    Poll(io::Error),
    /// A worker thread could not start or panicked.
    Thread(String),
}

impl std::fmt::Display for LoadError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LoadError::Config(what) => write!(f, "{what}"),
            LoadError::Connect { address, source } => {
                write!(f, "cannot connect to {address}: {source}")
            }
            LoadError::Auth(reply) => write!(f, "AUTH failed: {reply}"),
            LoadError::Connection { client, problem } => {
                write!(f, "connection {client}: {problem}")
            }
            LoadError::Poll(e) => write!(f, "epoll: {e}"),
            LoadError::Thread(what) => write!(f, "worker thread: {what}"),
        }
    }
}

impl std::error::Error for LoadError {}
