//! A run: what to send (the plan), the worker threads, the start gate
//! that lets every connection be made before the clock starts, and the
//! merging of the workers' intervals into the run's statistics.

use std::io;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::thread;
use std::time::{Duration, Instant};

use super::keys::{KeyPattern, KeySpace};
use super::request::{Encoder, Template};
use super::stats::{IntervalMerger, IntervalStats, RunStats, TypeStats};
use super::worker::{self, Handover};
use super::{MAX_CLIENTS_PER_THREAD, MAX_COMMANDS, MAX_OUTPUT_BYTES, MAX_PIPELINE, MAX_THREADS};

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

/// Holds the workers until every connection is made, then starts them
/// all on one clock.
pub(crate) struct StartGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

struct GateState {
    arrived: usize,
    start: Option<Instant>,
}

impl StartGate {
    fn new() -> StartGate {
        StartGate {
            state: Mutex::new(GateState {
                arrived: 0,
                start: None,
            }),
            changed: Condvar::new(),
        }
    }

    /// A worker is ready (or gave up); returns the common start.
    pub(crate) fn arrive(&self) -> Instant {
        // A poisoned lock only means another worker panicked; the state
        // (a counter and a time) is still consistent.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.arrived += 1;
        self.changed.notify_all();
        loop {
            if let Some(start) = state.start {
                return start;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits for `workers` arrivals, then starts the clock.
    fn open_after(&self, workers: usize) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.arrived < workers {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let start = Instant::now();
        state.start = Some(start);
        self.changed.notify_all();
        start
    }
}

/// What the workers share.
pub(crate) struct Shared<'a> {
    pub plan: &'a Plan,
    pub encoders: &'a [Encoder],
    /// Set by the caller: finish what is in flight and stop.
    pub stop: &'a AtomicBool,
    /// Set when a worker failed: every worker quits at once.
    pub abort: AtomicBool,
    pub gate: StartGate,
}

/// Runs `plan` until its limit or until `stop` is set, calling
/// `on_interval` with each completed interval (in order, histograms
/// included) from the calling thread while the run goes on.
pub fn run(
    plan: &Plan,
    stop: &AtomicBool,
    mut on_interval: impl FnMut(&IntervalStats),
) -> Result<RunStats, LoadError> {
    plan.validate()?;
    let encoders = plan
        .commands
        .iter()
        .map(|c| Encoder::new(&c.template, plan.data_size))
        .collect::<Result<Vec<_>, _>>()
        .map_err(LoadError::Config)?;
    // A connection's output holds at most `pipeline` requests.
    let longest_request = encoders
        .iter()
        .zip(&plan.commands)
        .map(|(e, c)| e.longest_request(c.keys.longest_key()))
        .max()
        .unwrap_or(0);
    if longest_request.saturating_mul(plan.pipeline) > MAX_OUTPUT_BYTES {
        return Err(LoadError::Config(format!(
            "pipeline x request size ({} x {longest_request} bytes) is over {MAX_OUTPUT_BYTES} bytes",
            plan.pipeline
        )));
    }
    let shared = Shared {
        plan,
        encoders: &encoders,
        stop,
        abort: AtomicBool::new(false),
        gate: StartGate::new(),
    };
    let types = plan.commands.len();
    let (handover, handed_in) = mpsc::channel::<Handover>();
    thread::scope(|scope| {
        let mut workers = Vec::new();
        let mut failures = Vec::new();
        for index in 0..plan.threads {
            let (shared, handover) = (&shared, handover.clone());
            let spawned = thread::Builder::new()
                .name(format!("bench-{index}"))
                .spawn_scoped(scope, move || worker::run_worker(shared, index, handover));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    shared.abort.store(true, Ordering::Relaxed);
                    failures.push(LoadError::Thread(e.to_string()));
                    break;
                }
            }
        }
        drop(handover);
        shared.gate.open_after(workers.len());

        let mut merger = IntervalMerger::new(workers.len(), plan.interval, types);
        let mut totals: Vec<TypeStats> = (0..types).map(|_| TypeStats::default()).collect();
        let mut points = Vec::new();
        let mut take = |merger: &mut IntervalMerger| {
            for interval in merger.complete() {
                for (total, stats) in totals.iter_mut().zip(&interval.types) {
                    total.add(stats);
                }
                on_interval(&interval);
                points.push(interval.point());
            }
        };
        // Ends when every worker has dropped its sender.
        for handed in handed_in {
            merger.hand_in(handed.worker, handed.stats, handed.finished_at);
            take(&mut merger);
        }
        let mut abandoned = 0;
        for handle in workers {
            match handle.join() {
                Ok(Ok(outcome)) => abandoned += outcome.abandoned,
                Ok(Err(e)) => failures.push(e),
                Err(_) => failures.push(LoadError::Thread("a worker panicked".into())),
            }
        }
        if !failures.is_empty() {
            // The first failure is the cause; the others are workers that
            // quit because of it.
            return Err(failures.remove(0));
        }
        Ok(RunStats {
            labels: plan.commands.iter().map(|c| c.label.clone()).collect(),
            duration: merger.end(),
            types: totals,
            intervals: points,
            abandoned,
        })
    })
}
