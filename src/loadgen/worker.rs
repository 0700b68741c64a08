//! One worker thread: its connections and the event loop that drives them.
//!
//! Each connection keeps up to `pipeline` requests in flight. A reply
//! frees a slot, which is refilled at once (without a rate limit) or at
//! the next request's scheduled time (with one). Requests are encoded
//! straight into the connection's output buffer and replies are parsed in
//! place in its input buffer, so the steady state allocates nothing.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::{TcpStream, ToSocketAddrs};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::gate::StartGate;
use super::keys::{KeyCursor, Rng};
use super::plan::{Credentials, Limit, LoadError, Plan};
use super::poll::{tighten_timer_slack, Event, Poller};
use super::reply::{read_reply, ReplyError, ReplyKind};
use super::request::{encode_command, Encoder};
use super::stats::{interval_start, IntervalStats};
use super::{MAX_REPLY_BYTES, READ_BUFFER_BYTES};

/// How long a stopping worker waits for replies still in flight.
const DRAIN_TIMEOUT: Duration = Duration::from_secs(10);
/// Longest wait between looks at the stop flag.
const STOP_CHECK_INTERVAL: Duration = Duration::from_millis(10);
/// How long connecting and AUTH may take.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// Largest reply to AUTH the handshake reads.
const MAX_HANDSHAKE_REPLY_BYTES: usize = 4096;

/// What the workers share (the run builds it).
pub(crate) struct Shared<'a> {
    pub plan: &'a Plan,
    pub encoders: &'a [Encoder],
    /// Set by the caller: finish what is in flight and stop.
    pub stop: &'a AtomicBool,
    /// Set when a worker failed: every worker quits at once.
    pub abort: AtomicBool,
    pub gate: StartGate,
}

/// An interval a worker has left (or its last, with the time it finished).
pub(crate) struct Handover {
    pub worker: usize,
    pub stats: IntervalStats,
    pub finished_at: Option<Duration>,
}

/// What a worker reports besides its intervals.
pub(crate) struct Outcome {
    /// Requests still unanswered when it stopped.
    pub abandoned: u64,
}

/// A request on the wire.
struct InFlight {
    command: usize,
    /// When it was sent, or when it was due (rate-limited runs).
    started: Instant,
}

/// What every connection of a worker needs to issue requests.
struct Work<'a> {
    shared: &'a Shared<'a>,
    /// Requests per connection (`u64::MAX`: until time or stop).
    requests: u64,
    /// Time between two requests of one connection, when rate-limited.
    spacing: Option<Duration>,
    uses_key: Vec<bool>,
}

/// One connection.
struct Client {
    /// Its number over all workers (seeds, key slices, error messages).
    id: usize,
    stream: TcpStream,
    /// Replies read: `input[unparsed..filled]` is not yet parsed. It
    /// starts at READ_BUFFER_BYTES and grows to MAX_REPLY_BYTES at most.
    input: Vec<u8>,
    unparsed: usize,
    filled: usize,
    /// Requests encoded: `output[written..]` is not yet sent. It holds at
    /// most `pipeline` requests, within MAX_OUTPUT_BYTES (run() checks).
    output: Vec<u8>,
    written: usize,
    /// Whether epoll is watching for writability (output is blocked).
    watching_writes: bool,
    in_flight: VecDeque<InFlight>,
    /// The command whose turn it is, and how many of it were sent.
    turn: usize,
    sent_in_turn: u32,
    /// One key cursor per command.
    cursors: Vec<KeyCursor>,
    rng: Rng,
    /// Scratch for the next key.
    key: Vec<u8>,
    issued: u64,
    answered: u64,
    /// The next request's scheduled time (rate-limited runs).
    due: Instant,
}

pub(crate) fn run_worker(
    shared: &Shared,
    worker: usize,
    handover: Sender<Handover>,
) -> Result<Outcome, LoadError> {
    let plan = shared.plan;
    tighten_timer_slack();
    let connected = connect_all(plan, worker);
    if connected.is_err() {
        shared.abort.store(true, Ordering::Relaxed);
    }
    // Every worker arrives, even a failed one, so the gate opens.
    let start = shared.gate.arrive();
    let mut clients = connected?;
    if shared.abort.load(Ordering::Relaxed) {
        return Ok(Outcome { abandoned: 0 });
    }
    let result = drive(shared, worker, &mut clients, start, &handover);
    if result.is_err() {
        shared.abort.store(true, Ordering::Relaxed);
    }
    result
}

fn connect_all(plan: &Plan, worker: usize) -> Result<Vec<(usize, TcpStream)>, LoadError> {
    (0..plan.clients_per_thread)
        .map(|c| {
            let id = worker * plan.clients_per_thread + c;
            connect(plan).map(|stream| (id, stream))
        })
        .collect()
}

/// A connected, authenticated, non-blocking socket.
fn connect(plan: &Plan) -> Result<TcpStream, LoadError> {
    let address = format!("{}:{}", plan.server, plan.port);
    let failed = |source: io::Error| LoadError::Connect {
        address: address.clone(),
        source,
    };
    let stream = connect_any(&plan.server, plan.port).map_err(failed)?;
    stream.set_nodelay(true).map_err(failed)?;
    if let Some(credentials) = &plan.credentials {
        stream
            .set_read_timeout(Some(HANDSHAKE_TIMEOUT))
            .map_err(failed)?;
        authenticate(&stream, credentials).map_err(|e| match e {
            HandshakeError::Io(e) => failed(e),
            HandshakeError::Refused(reply) => LoadError::Auth(reply),
        })?;
    }
    stream.set_nonblocking(true).map_err(failed)?;
    Ok(stream)
}

/// The first of the server's addresses that accepts within the timeout.
fn connect_any(server: &str, port: u16) -> io::Result<TcpStream> {
    let mut last = io::Error::new(io::ErrorKind::NotFound, "no address");
    for address in (server, port).to_socket_addrs()? {
        match TcpStream::connect_timeout(&address, HANDSHAKE_TIMEOUT) {
            Ok(stream) => return Ok(stream),
            Err(e) => last = e,
        }
    }
    Err(last)
}

enum HandshakeError {
    Io(io::Error),
    Refused(String),
}

fn authenticate(mut stream: &TcpStream, credentials: &Credentials) -> Result<(), HandshakeError> {
    let mut words: Vec<&[u8]> = vec![b"AUTH"];
    if let Some(user) = &credentials.user {
        words.push(user.as_bytes());
    }
    words.push(credentials.password.as_bytes());
    let mut request = Vec::new();
    encode_command(&words, &mut request);
    stream.write_all(&request).map_err(HandshakeError::Io)?;
    let mut reply = Vec::new();
    let mut chunk = [0u8; 512];
    loop {
        match read_reply(&reply) {
            Ok(Some(r)) if r.kind == ReplyKind::Ok => return Ok(()),
            Ok(Some(r)) => {
                let text = String::from_utf8_lossy(&reply[..r.len]);
                return Err(HandshakeError::Refused(text.trim_end().to_string()));
            }
            Ok(None) if reply.len() < MAX_HANDSHAKE_REPLY_BYTES => {}
            Ok(None) | Err(_) => {
                return Err(HandshakeError::Refused("malformed reply to AUTH".into()))
            }
        }
        let n = stream.read(&mut chunk).map_err(HandshakeError::Io)?;
        if n == 0 {
            return Err(HandshakeError::Io(io::ErrorKind::UnexpectedEof.into()));
        }
        reply.extend_from_slice(&chunk[..n]);
    }
}

fn drive(
    shared: &Shared,
    worker: usize,
    sockets: &mut Vec<(usize, TcpStream)>,
    start: Instant,
    handover: &Sender<Handover>,
) -> Result<Outcome, LoadError> {
    let mut event_loop = EventLoop::new(shared, worker, sockets, start, handover)?;
    event_loop.issue_all(Instant::now())?;
    loop {
        let now = Instant::now();
        event_loop.roll_interval(now);
        if shared.abort.load(Ordering::Relaxed) {
            return Ok(Outcome { abandoned: 0 });
        }
        if let Some(abandoned) = event_loop.finished(now) {
            event_loop.hand_in_last(now);
            return Ok(Outcome { abandoned });
        }
        if event_loop.work.spacing.is_some() && event_loop.stopping_since.is_none() {
            event_loop.issue_all(now)?;
        }
        event_loop.poll(now)?;
    }
}

/// A worker's state between two turns of its loop.
struct EventLoop<'a> {
    work: Work<'a>,
    worker: usize,
    handover: &'a Sender<Handover>,
    start: Instant,
    /// End of a `--test-time` run.
    deadline: Option<Instant>,
    poller: Poller,
    /// Indexed by epoll token.
    clients: Vec<Client>,
    ready: Vec<Event>,
    /// The interval being recorded.
    interval: IntervalStats,
    /// Since when no new requests are sent (stop flag or deadline).
    stopping_since: Option<Instant>,
    /// Clients that have all their replies (`-n` runs).
    finished: usize,
}

impl<'a> EventLoop<'a> {
    fn new(
        shared: &'a Shared<'a>,
        worker: usize,
        sockets: &mut Vec<(usize, TcpStream)>,
        start: Instant,
        handover: &'a Sender<Handover>,
    ) -> Result<EventLoop<'a>, LoadError> {
        let plan = shared.plan;
        let work = Work {
            shared,
            requests: match plan.limit {
                Limit::RequestsPerClient(n) => n,
                Limit::Duration(_) | Limit::UntilStopped => u64::MAX,
            },
            spacing: plan
                .rate_per_connection
                .map(|rate| Duration::from_nanos(1_000_000_000 / rate.max(1))),
            uses_key: plan
                .commands
                .iter()
                .map(|c| c.template.uses_key())
                .collect(),
        };
        let poller = Poller::new(sockets.len()).map_err(LoadError::Poll)?;
        let mut clients = Vec::with_capacity(sockets.len());
        for (token, (id, stream)) in sockets.drain(..).enumerate() {
            poller
                .add(stream.as_raw_fd(), token, false)
                .map_err(LoadError::Poll)?;
            clients.push(Client::new(id, stream, &work, start));
        }
        Ok(EventLoop {
            worker,
            handover,
            start,
            deadline: match plan.limit {
                Limit::Duration(d) => Some(start + d),
                _ => None,
            },
            poller,
            ready: Vec::with_capacity(clients.len()),
            clients,
            interval: IntervalStats::new(0, plan.interval, plan.commands.len()),
            stopping_since: None,
            finished: 0,
            work,
        })
    }

    /// Hands the current interval in once the clock has left it.
    fn roll_interval(&mut self, now: Instant) {
        let plan = self.work.shared.plan;
        let index = interval_index(now - self.start, plan.interval);
        if index > self.interval.index {
            let next = IntervalStats::new(index, plan.interval, plan.commands.len());
            let left = std::mem::replace(&mut self.interval, next);
            // The receiver lives until every worker is done.
            let _ = self.handover.send(Handover {
                worker: self.worker,
                stats: left,
                finished_at: None,
            });
        }
    }

    /// `Some(requests left unanswered)` when the worker is done: every
    /// client has its replies, or it is stopping and the replies in
    /// flight have come (or the drain time is over).
    fn finished(&mut self, now: Instant) -> Option<u64> {
        let shared = self.work.shared;
        if self.stopping_since.is_none()
            && (shared.stop.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| now >= d))
        {
            self.stopping_since = Some(now);
        }
        let in_flight: usize = self.clients.iter().map(|c| c.in_flight.len()).sum();
        let done = match self.stopping_since {
            Some(since) => in_flight == 0 || now - since >= DRAIN_TIMEOUT,
            None => self.finished == self.clients.len(),
        };
        done.then_some(in_flight as u64)
    }

    fn hand_in_last(self, now: Instant) {
        let _ = self.handover.send(Handover {
            worker: self.worker,
            stats: self.interval,
            finished_at: Some(now - self.start),
        });
    }

    fn issue_all(&mut self, now: Instant) -> Result<(), LoadError> {
        for (token, client) in self.clients.iter_mut().enumerate() {
            client.issue(now, &self.work);
            client.flush(&self.poller, token)?;
        }
        Ok(())
    }

    /// Waits for readiness, then reads replies, refills pipelines and
    /// sends.
    fn poll(&mut self, now: Instant) -> Result<(), LoadError> {
        let timeout = self.next_wakeup(now);
        self.poller
            .wait(timeout, &mut self.ready)
            .map_err(LoadError::Poll)?;
        let requests = self.work.requests;
        for &event in &self.ready {
            let Some(client) = self.clients.get_mut(event.token) else {
                continue;
            };
            if event.readable || event.failed {
                let was_done = client.answered >= requests;
                client.receive(&mut self.interval)?;
                if !was_done && client.answered >= requests {
                    self.finished += 1;
                }
                if self.stopping_since.is_none() {
                    client.issue(Instant::now(), &self.work);
                }
            }
            client.flush(&self.poller, event.token)?;
        }
        Ok(())
    }

    /// How long the loop may sleep: until the next interval, the deadline,
    /// the next scheduled request, or the next look at the stop flag.
    fn next_wakeup(&self, now: Instant) -> Duration {
        let plan = self.work.shared.plan;
        let mut wake = self.start + interval_start(plan.interval, self.interval.index + 1);
        wake = wake.min(now + STOP_CHECK_INTERVAL);
        if let Some(d) = self.deadline {
            wake = wake.min(d);
        }
        if self.work.spacing.is_some() && self.stopping_since.is_none() {
            let next_due = self
                .clients
                .iter()
                .filter(|c| c.in_flight.len() < plan.pipeline && c.issued < self.work.requests)
                .map(|c| c.due)
                .min();
            if let Some(due) = next_due {
                wake = wake.min(due);
            }
        }
        wake.saturating_duration_since(now)
    }
}

fn interval_index(elapsed: Duration, interval: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos() / interval.as_nanos().max(1)).unwrap_or(u64::MAX)
}

impl Client {
    fn new(id: usize, stream: TcpStream, work: &Work, start: Instant) -> Client {
        let plan = work.shared.plan;
        let total = plan.total_clients() as u64;
        let seed = if plan.distinct_client_seed {
            plan.seed.wrapping_add(id as u64)
        } else {
            plan.seed
        };
        // Spread the connections' first requests over one spacing, so
        // rate-limited connections do not all fire at once.
        let offset = work
            .spacing
            .map(|s| s.mul_f64(id as f64 / total.max(1) as f64))
            .unwrap_or_default();
        Client {
            id,
            stream,
            input: vec![0; READ_BUFFER_BYTES],
            unparsed: 0,
            filled: 0,
            output: Vec::new(),
            written: 0,
            watching_writes: false,
            in_flight: VecDeque::with_capacity(plan.pipeline),
            turn: 0,
            sent_in_turn: 0,
            cursors: plan
                .commands
                .iter()
                .map(|c| KeyCursor::new(&c.keys, c.pattern, id as u64, total))
                .collect(),
            rng: Rng::new(seed),
            key: Vec::new(),
            issued: 0,
            answered: 0,
            due: start + offset,
        }
    }

    /// Encodes requests until the pipeline is full, the client has sent
    /// its share, or (rate-limited) the next request is not yet due.
    fn issue(&mut self, now: Instant, work: &Work) {
        let plan = work.shared.plan;
        while self.in_flight.len() < plan.pipeline && self.issued < work.requests {
            let started = match work.spacing {
                Some(spacing) => {
                    if self.due > now {
                        break;
                    }
                    let due = self.due;
                    self.due += spacing;
                    due
                }
                None => now,
            };
            let command = self.next_command(plan);
            self.key.clear();
            if work.uses_key[command] {
                let index = self.cursors[command].next_index(&mut self.rng);
                plan.commands[command].keys.write_key(index, &mut self.key);
            }
            work.shared.encoders[command].encode(&self.key, &mut self.output);
            self.in_flight.push_back(InFlight { command, started });
            self.issued += 1;
        }
    }

    /// The command whose turn it is: each command `ratio` times in a row,
    /// in order (validate() ensures some ratio is above 0).
    fn next_command(&mut self, plan: &Plan) -> usize {
        while self.sent_in_turn >= plan.commands[self.turn].ratio {
            self.turn = (self.turn + 1) % plan.commands.len();
            self.sent_in_turn = 0;
        }
        self.sent_in_turn += 1;
        self.turn
    }

    /// Sends what the socket takes; watches for writability while some is
    /// left.
    fn flush(&mut self, poller: &Poller, token: usize) -> Result<(), LoadError> {
        while self.written < self.output.len() {
            match self.stream.write(&self.output[self.written..]) {
                Ok(0) => return Err(self.failure("the server stopped reading")),
                Ok(n) => self.written += n,
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(self.failure(&format!("write: {e}"))),
            }
        }
        let blocked = self.written < self.output.len();
        if !blocked {
            self.output.clear();
            self.written = 0;
        }
        if blocked != self.watching_writes {
            poller
                .modify(self.stream.as_raw_fd(), token, blocked)
                .map_err(LoadError::Poll)?;
            self.watching_writes = blocked;
        }
        Ok(())
    }

    /// Reads what has arrived and records every complete reply.
    fn receive(&mut self, stats: &mut IntervalStats) -> Result<(), LoadError> {
        if self.filled == self.input.len() {
            self.make_room()?;
        }
        match self.stream.read(&mut self.input[self.filled..]) {
            Ok(0) => return Err(self.failure("the server closed the connection")),
            Ok(n) => self.filled += n,
            Err(e)
                if matches!(
                    e.kind(),
                    io::ErrorKind::WouldBlock | io::ErrorKind::Interrupted
                ) =>
            {
                return Ok(())
            }
            Err(e) => return Err(self.failure(&format!("read: {e}"))),
        }
        let now = Instant::now();
        loop {
            let reply = match read_reply(&self.input[self.unparsed..self.filled]) {
                Ok(Some(reply)) => reply,
                Ok(None) => break,
                Err(e) => return Err(self.failure(&e.to_string())),
            };
            let Some(request) = self.in_flight.pop_front() else {
                return Err(self.failure("a reply arrived with no request in flight"));
            };
            stats.types[request.command]
                .record(now.saturating_duration_since(request.started), reply.kind);
            self.unparsed += reply.len;
            self.answered += 1;
        }
        if self.unparsed == self.filled {
            self.unparsed = 0;
            self.filled = 0;
        }
        Ok(())
    }

    /// Frees space in a full input buffer: moves the partial reply to the
    /// front, or grows the buffer when one reply fills it, up to the limit.
    fn make_room(&mut self) -> Result<(), LoadError> {
        if self.unparsed > 0 {
            self.input.copy_within(self.unparsed..self.filled, 0);
            self.filled -= self.unparsed;
            self.unparsed = 0;
            return Ok(());
        }
        if self.input.len() >= MAX_REPLY_BYTES {
            return Err(self.failure(&ReplyError::TooLarge.to_string()));
        }
        let grown = (self.input.len() * 2).min(MAX_REPLY_BYTES);
        self.input.resize(grown, 0);
        Ok(())
    }

    fn failure(&self, problem: &str) -> LoadError {
        LoadError::Connection {
            client: self.id,
            problem: problem.to_string(),
        }
    }
}
