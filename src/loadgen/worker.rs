//! One worker thread: its connections and the event loop that drives them.
//!
//! Each connection keeps up to `pipeline` requests in flight. A reply
//! frees a slot, which is refilled at once (without a rate limit) or at
//! the next request's scheduled time (with one). Requests are encoded
//! straight into the connection's output buffer and replies are parsed in
//! place in its input buffer, so the steady state allocates nothing.

use std::collections::VecDeque;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::os::fd::AsRawFd;
use std::sync::atomic::Ordering;
use std::sync::mpsc::Sender;
use std::time::{Duration, Instant};

use super::keys::{KeyCursor, Rng};
use super::poll::{tighten_timer_slack, Poller};
use super::reply::{read_reply, ReplyError, ReplyKind};
use super::request::encode_command;
use super::run::{Credentials, Limit, LoadError, Plan, Shared};
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
    /// Replies read: `input[unparsed..filled]` is not yet parsed.
    input: Vec<u8>,
    unparsed: usize,
    filled: usize,
    /// Requests encoded: `output[written..]` is not yet sent.
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
    let stream = TcpStream::connect((plan.server.as_str(), plan.port)).map_err(failed)?;
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
    let deadline = match plan.limit {
        Limit::Duration(d) => Some(start + d),
        _ => None,
    };
    let mut poller = Poller::new(sockets.len()).map_err(LoadError::Poll)?;
    let mut clients = Vec::with_capacity(sockets.len());
    for (token, (id, stream)) in sockets.drain(..).enumerate() {
        poller
            .add(stream.as_raw_fd(), token, false)
            .map_err(LoadError::Poll)?;
        clients.push(Client::new(id, stream, &work, start));
    }
    let types = plan.commands.len();
    let mut interval = IntervalStats::new(0, plan.interval, types);
    let mut stopping_since: Option<Instant> = None;
    let mut finished = 0;
    let mut ready = Vec::with_capacity(clients.len());
    let now = Instant::now();
    for (token, client) in clients.iter_mut().enumerate() {
        client.issue(now, &work);
        client.flush(&poller, token)?;
    }
    loop {
        let now = Instant::now();
        let index = interval_index(now - start, plan.interval);
        if index > interval.index {
            let left = std::mem::replace(
                &mut interval,
                IntervalStats::new(index, plan.interval, types),
            );
            // The receiver lives until every worker is done.
            let _ = handover.send(Handover {
                worker,
                stats: left,
                finished_at: None,
            });
        }
        if shared.abort.load(Ordering::Relaxed) {
            return Ok(Outcome { abandoned: 0 });
        }
        if stopping_since.is_none()
            && (shared.stop.load(Ordering::Relaxed) || deadline.is_some_and(|d| now >= d))
        {
            stopping_since = Some(now);
        }
        let in_flight: usize = clients.iter().map(|c| c.in_flight.len()).sum();
        let done = match stopping_since {
            Some(since) => in_flight == 0 || now - since >= DRAIN_TIMEOUT,
            None => finished == clients.len(),
        };
        if done {
            let _ = handover.send(Handover {
                worker,
                stats: interval,
                finished_at: Some(now - start),
            });
            return Ok(Outcome {
                abandoned: in_flight as u64,
            });
        }
        if work.spacing.is_some() && stopping_since.is_none() {
            for (token, client) in clients.iter_mut().enumerate() {
                client.issue(now, &work);
                client.flush(&poller, token)?;
            }
        }
        let timeout = next_wakeup(&clients, &work, now, start, index, deadline, stopping_since);
        poller.wait(timeout, &mut ready).map_err(LoadError::Poll)?;
        for &event in &ready {
            let Some(client) = clients.get_mut(event.token) else {
                continue;
            };
            if event.readable || event.failed {
                let was_done = client.answered >= work.requests;
                client.receive(&mut interval)?;
                if !was_done && client.answered >= work.requests {
                    finished += 1;
                }
                if stopping_since.is_none() {
                    client.issue(Instant::now(), &work);
                }
            }
            client.flush(&poller, event.token)?;
        }
    }
}

fn interval_index(elapsed: Duration, interval: Duration) -> u64 {
    u64::try_from(elapsed.as_nanos() / interval.as_nanos().max(1)).unwrap_or(u64::MAX)
}

/// How long the loop may sleep: until the next interval, the deadline,
/// the next scheduled request, or the next look at the stop flag.
fn next_wakeup(
    clients: &[Client],
    work: &Work,
    now: Instant,
    start: Instant,
    index: u64,
    deadline: Option<Instant>,
    stopping_since: Option<Instant>,
) -> Duration {
    let interval = work.shared.plan.interval;
    let mut wake = start + interval_start(interval, index + 1);
    wake = wake.min(now + STOP_CHECK_INTERVAL);
    if let Some(d) = deadline {
        wake = wake.min(d);
    }
    if work.spacing.is_some() && stopping_since.is_none() {
        let pipeline = work.shared.plan.pipeline;
        let next_due = clients
            .iter()
            .filter(|c| c.in_flight.len() < pipeline && c.issued < work.requests)
            .map(|c| c.due)
            .min();
        if let Some(due) = next_due {
            wake = wake.min(due);
        }
    }
    wake.saturating_duration_since(now)
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
