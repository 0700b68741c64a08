//! One client connection: read, parse, route, gather, reply, in order.
//!
//! Commands parsed from one read form a batch. Local commands run in place;
//! commands for other shards are queued per destination and sent as one
//! message per shard; then every reply is encoded in request order and the
//! batch is written with one syscall (or a few, for big replies).
//!
//! Transactions (MULTI ... EXEC, WATCH) are in [`transaction`].

mod transaction;

use std::collections::VecDeque;
use std::future::Future;
use std::pin::Pin;
use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::task::Poll;

use bytes::{Bytes, BytesMut};
use futures_channel::oneshot;
use futures_lite::{future, ready, AsyncRead, AsyncWriteExt};
use glommio::net::TcpStream;

use super::route::{self, Piece, Plan};
use crate::cmd::Call;
use crate::cmd::{self, errors, flags, Command, ConnCtx, ConnectionFn, Gather, Run, Session, Tx};
use crate::config::{
    ClientClass, Param, IDLE_BUFFER_MAX_BYTES, MAX_PIPELINE_BATCH_COMMANDS, MAX_REPLY_BUFFER_BYTES,
    READ_BUFFER_GROWTH_BYTES, READ_CHUNK_BYTES, REPLY_BUFFER_NOT_COUNTED_BYTES,
};
use crate::node::ClientInfo;
use crate::protocol::{ParseLimits, Reply, RequestParser};
use crate::shard::core::{Core, BUSY_BEHAVIOR_DEFER};
use crate::shard::mesh::{BatchReplies, Request};
use crate::shard::serve::{claim_since, log_records};
use crate::util::output_limit::LimitWatch;
use transaction::{Transaction, Watches};

/// Why a command is refused before it runs, with the command when known.
type Refusal = (Option<&'static Command>, Reply);

/// The reply to a call whose shard stopped before answering (shutdown).
const SHARD_UNAVAILABLE: &str = "ERR shard unavailable (shutting down)";

/// The reply in place of one a bug lost (see [`crate::util::invariant`]).
const LOST_REPLY: &str = "ERR internal error: a reply was lost (see the server log)";

/// A reply that may not be known yet.
enum Pending {
    Ready(Reply),
    /// Reply `index` of the batch sent to `shard`.
    Remote {
        shard: usize,
        index: usize,
    },
    /// Pieces of a split command, each local (ready) or remote.
    Split {
        gather: Gather,
        pieces: Vec<PieceReply>,
        positions: Vec<Vec<usize>>,
    },
}

enum PieceReply {
    Ready(Reply),
    Remote { shard: usize, index: usize },
}

/// A reply in the batch, not encoded yet.
struct Queued {
    pending: Pending,
    resp3: bool,
    /// The log record its write appended (see [`Claim`]).
    claim: Option<u64>,
}

/// An encoded reply in `out` of a write that appended this core's log
/// records up to `lsn`: if the log loses that record, the reply becomes
/// `-MISCONF` (the write is applied in memory, but no reply may claim it
/// durable), while the batch's other replies stand.
struct Claim {
    at: usize,
    end: usize,
    lsn: u64,
}

/// Commands of the current batch waiting for other shards.
struct Outbox {
    /// Per shard, the calls not sent yet.
    calls: Vec<Vec<Call>>,
    /// Per shard, how many calls were queued since the last resolve: the
    /// index the next one gets.
    queued: Vec<usize>,
    /// Every reply of the batch not encoded yet, in request order.
    pending: VecDeque<Queued>,
    /// About how many bytes the ready replies in `pending` hold.
    ready_bytes: usize,
}

impl Outbox {
    fn push_remote(&mut self, shard: usize, call: Call) -> usize {
        self.calls[shard].push(call);
        self.queued[shard] += 1;
        self.queued[shard] - 1
    }

    fn push_ready(&mut self, reply: Reply, resp3: bool, claim: Option<u64>) {
        self.ready_bytes += reply.size_estimate();
        self.push(Pending::Ready(reply), resp3);
        self.claim_last(claim);
    }

    fn push(&mut self, pending: Pending, resp3: bool) {
        self.pending.push_back(Queued {
            pending,
            resp3,
            claim: None,
        });
    }

    /// The reply queued last claims the record `claim` (if any).
    fn claim_last(&mut self, claim: Option<u64>) {
        if let (Some(lsn), Some(last)) = (claim, self.pending.back_mut()) {
            last.claim = Some(lsn);
        }
    }

    fn is_empty(&self) -> bool {
        self.pending.is_empty()
    }
}

/// The replies that came back from other shards during one resolve, per
/// shard by call index; taken as they are encoded.
struct Arrived(Vec<Vec<Option<Reply>>>);

impl Arrived {
    fn has(&self, shard: usize, index: usize) -> bool {
        self.0[shard].len() > index
    }

    fn take(&mut self, shard: usize, index: usize) -> Reply {
        let reply = self.0[shard][index].take();
        crate::invariant!(
            reply.is_some(),
            "reply {index} of shard {shard} taken twice"
        );
        reply.unwrap_or_else(|| Reply::error(LOST_REPLY))
    }

    /// Whether every reply `pending` needs has arrived.
    fn ready(&self, pending: &Pending) -> bool {
        match pending {
            Pending::Ready(_) => true,
            Pending::Remote { shard, index } => self.has(*shard, *index),
            Pending::Split { pieces, .. } => pieces.iter().all(|p| match p {
                PieceReply::Ready(_) => true,
                PieceReply::Remote { shard, index } => self.has(*shard, *index),
            }),
        }
    }
}

pub struct Connection {
    core: Rc<Core>,
    stream: TcpStream,
    session: Session,
    parser: RequestParser,
    inbuf: BytesMut,
    out: Vec<u8>,
    outbox: Outbox,
    /// The clock, read once per batch of commands.
    now_ms: u64,
    /// Inside MULTI: the queued commands.
    multi: Option<Transaction>,
    /// The keys WATCHed.
    watched: Watches,
    /// The client closed the connection (or was killed) while a command
    /// waited: nothing more is read, run or written.
    gone: bool,
    /// The shard's log was broken when this batch began: its writes were
    /// refused (`-MISCONF`), so its replies wait for nothing.
    log_broken_before: bool,
    /// The replies in `out` that claim a write this core's log holds, in
    /// order.
    claims: Vec<Claim>,
    /// `client-output-buffer-limit` on the replies not written yet.
    reply_limit: LimitWatch,
    /// Some client on some core ran MONITOR when this batch began: the
    /// batch's commands are fed to the monitors.
    monitored: bool,
}

pub async fn serve(core: Rc<Core>, stream: TcpStream, client: Arc<ClientInfo>) {
    let shards = core.node.shards();
    let authenticated = core.node.config.string(Param::Requirepass).is_empty();
    let mut conn = Connection {
        session: Session::new(client, authenticated),
        core,
        stream,
        parser: RequestParser::new(),
        // Both buffers grow on first use (see `buffer_input`).
        inbuf: BytesMut::new(),
        out: Vec::new(),
        outbox: Outbox {
            calls: (0..shards).map(|_| Vec::new()).collect(),
            queued: vec![0; shards],
            pending: VecDeque::new(),
            ready_bytes: 0,
        },
        now_ms: 0,
        multi: None,
        watched: Watches::new(),
        gone: false,
        log_broken_before: false,
        claims: Vec::new(),
        reply_limit: LimitWatch::default(),
        monitored: false,
    };
    let _ = conn.run().await;
    // Watched keys are registered on their shards until forgotten.
    conn.unwatch_all().await;
    let id = conn.session.client.id;
    conn.core.node.unregister_client(id);
    let _ = conn.stream.close().await;
}

impl Connection {
    async fn run(&mut self) -> std::io::Result<()> {
        let _ = self.stream.set_nodelay(true);
        let mut argv: Vec<Bytes> = Vec::new();
        // Input that arrived while the last batch waited (see `unless_gone`)
        // is served before the socket is read again.
        let mut read_ahead = false;
        loop {
            if !read_ahead {
                // A subscriber also wakes for its messages (one branch for
                // every other connection).
                let n = if self.session.pubsub.is_some() {
                    self.receive_or_deliver().await?
                } else {
                    // Publishers pause while other cores fall behind.
                    self.core.pubsub.wait_for_forwarding().await;
                    self.receive().await?
                };
                if n == 0 {
                    return Ok(());
                }
                self.core.state.borrow_mut().stats.net_input_bytes += n as u64;
            }
            if self.session.client.killed.load(Ordering::Relaxed) {
                return Ok(());
            }
            self.now_ms = crate::util::time::now_ms();
            self.log_broken_before = crate::shard::serve::log_broken(&self.core);
            self.monitored = self.core.pubsub.monitored();
            let node = &self.core.node;
            let limit = node.config.int(Param::ClientQueryBufferLimit) as usize;
            if self.inbuf.len() + self.parser.pending_bytes() > limit {
                eprintln!(
                    "closing client id={} addr={}: query buffer exceeds client-query-buffer-limit ({limit} bytes)",
                    self.session.client.id, self.session.client.addr
                );
                return Ok(());
            }
            let mut commands = 0;
            loop {
                let limits = ParseLimits {
                    max_bulk_bytes: self.core.node.config.int(Param::ProtoMaxBulkLen) as usize,
                    authenticated: self.session.authenticated,
                };
                match self.parser.parse(&mut self.inbuf, &mut argv, limits) {
                    Ok(true) => {
                        self.dispatch(&mut argv).await;
                        commands += 1;
                        if self.gone {
                            return Ok(());
                        }
                        if self.session.quit {
                            self.flush().await?;
                            return Ok(());
                        }
                        if self.session.replica.psync.is_some() {
                            return self.become_feed().await;
                        }
                        if commands >= MAX_PIPELINE_BATCH_COMMANDS
                            || self.out.len() + self.outbox.ready_bytes > MAX_REPLY_BUFFER_BYTES
                        {
                            self.flush().await?;
                            commands = 0;
                        }
                    }
                    Ok(false) => break,
                    Err(e) => {
                        self.resolve().await;
                        Reply::error(e.reply_text()).encode(&mut self.out, self.session.resp3);
                        self.flush().await?;
                        return Ok(());
                    }
                }
            }
            let buffered = self.inbuf.len();
            self.flush().await?;
            read_ahead = self.inbuf.len() > buffered;
            if self.core.node.is_shutting_down() {
                return Ok(());
            }
            // Idle until the next read: keep no big buffer.
            if self.inbuf.is_empty() && self.inbuf.capacity() > IDLE_BUFFER_MAX_BYTES {
                self.inbuf = BytesMut::new();
            }
            if self.out.capacity() > IDLE_BUFFER_MAX_BYTES {
                self.out = Vec::new();
            }
        }
    }

    /// PSYNC or SYNC: the connection now feeds a replica (see
    /// `server::feed`) until it goes.
    async fn become_feed(&mut self) -> std::io::Result<()> {
        self.flush().await?;
        let Some(psync) = self.session.replica.psync.take() else {
            return Ok(());
        };
        let inbuf = std::mem::take(&mut self.inbuf);
        super::feed::serve(
            self.core.clone(),
            &mut self.stream,
            inbuf,
            &self.session,
            psync,
        )
        .await
    }

    /// Waits for input and appends it to `inbuf`; 0 at end of stream.
    async fn receive(&mut self) -> std::io::Result<usize> {
        let (stream, inbuf, core) = (&mut self.stream, &mut self.inbuf, &self.core);
        future::poll_fn(|cx| poll_input(core, stream, inbuf, cx)).await
    }

    /// Waits for input while writing the messages that arrive for a
    /// subscribed connection meanwhile; 0 at end of stream or when the
    /// client is disconnected for its output buffer limit.
    async fn receive_or_deliver(&mut self) -> std::io::Result<usize> {
        loop {
            let Some(inbox) = self.session.pubsub.as_ref().map(|s| s.inbox.clone()) else {
                return self.receive().await;
            };
            let (stream, inbuf, core) = (&mut self.stream, &mut self.inbuf, &self.core);
            let input = future::poll_fn(|cx| {
                if inbox.poll_ready(cx).is_ready() {
                    return Poll::Ready(None);
                }
                poll_input(core, stream, inbuf, cx).map(Some)
            })
            .await;
            match input {
                Some(n) => return n,
                None if inbox.is_closed() => return Ok(0),
                None => {
                    inbox.take_into(&mut self.out);
                    self.write_out().await?;
                }
            }
        }
    }

    /// Shows the command to every MONITOR client, if any (see
    /// `cmd::monitor`).
    fn feed_monitors(&self, c: &Command, argv: &[Bytes]) {
        if self.monitored && cmd::monitor::shown(c) && !argv.is_empty() {
            let client = &self.session.client.addr;
            cmd::monitor::feed(&self.core.pubsub, self.session.db, client, argv);
        }
    }

    /// Moves the messages delivered so far after the replies encoded so
    /// far (never inside a reply).
    fn take_messages(&mut self) {
        if let Some(subs) = &self.session.pubsub {
            subs.inbox.take_into(&mut self.out);
        }
    }

    /// Routes one command: runs it here, queues it for another shard, or
    /// (for connection commands) resolves everything queued and runs it.
    /// `argv` keeps its allocation when the command runs here.
    async fn dispatch(&mut self, argv: &mut Vec<Bytes>) {
        let resp3 = self.session.resp3;
        let records_before = log_records(&self.core);
        // Whether the command may write: its reply then claims the records
        // it appended (a read that deleted an expired key claims nothing).
        let mut writes = false;
        let reply = match self.check(argv) {
            Err((Some(c), reply)) if matches!(c.run, Run::Transaction(Tx::Exec)) => {
                Some(self.exec_refused(reply).await)
            }
            Err((_, reply)) => {
                // A command refused inside MULTI makes EXEC fail.
                if let Some(tx) = self.multi.as_mut() {
                    tx.abort();
                }
                Some(reply)
            }
            Ok(c) if self.multi.is_some() && !c.has(flags::RUNS_IN_MULTI) => {
                self.feed_monitors(c, argv);
                Some(self.queue(c, argv))
            }
            Ok(c) => {
                writes = !c.has(flags::READONLY);
                match c.run {
                    Run::Shard(_) | Run::Script(_) => {
                        // Before it runs (its arguments move to the call):
                        // a script's line then comes before its calls'.
                        self.feed_monitors(c, argv);
                        self.shard_command(c, argv).await
                    }
                    Run::Connection(run) => {
                        self.connection_command(c, run, argv).await;
                        // After it runs: SELECT shows the database it chose.
                        self.feed_monitors(c, argv);
                        return;
                    }
                    Run::Transaction(tx) => {
                        let reply = self.transaction_command(tx, argv).await;
                        self.feed_monitors(c, argv);
                        Some(reply)
                    }
                }
            }
        };
        let claim = claim_since(&self.core, writes, records_before);
        match reply {
            // Queued: its own shard's pieces ran here (a split command).
            None => self.outbox.claim_last(claim),
            Some(reply) if self.outbox.is_empty() => {
                // A message it published to this very connection goes
                // first, as in Redis.
                if self.session.pubsub.is_some() {
                    self.take_messages();
                }
                self.encode_claimed(&reply, resp3, claim)
            }
            Some(reply) => self.outbox.push_ready(reply, resp3, claim),
        }
    }

    /// Encodes `reply`, noting where it lies when it claims a write.
    fn encode_claimed(&mut self, reply: &Reply, resp3: bool, claim: Option<u64>) {
        let at = self.out.len();
        reply.encode(&mut self.out, resp3);
        if let Some(lsn) = claim {
            let end = self.out.len();
            self.claims.push(Claim { at, end, lsn });
        }
    }

    /// A connection command: it sees the effects of everything before it,
    /// so the queue is resolved first; its reply is encoded at once.
    async fn connection_command(&mut self, c: &Command, run: ConnectionFn, argv: &[Bytes]) {
        self.resolve().await;
        if let Some(busy) = self.busy_for_connection_command(c) {
            Reply::error(busy).encode(&mut self.out, self.session.resp3);
            return;
        }
        let reply = self.run_connection(run, argv).await;
        // HELLO answers in the protocol it switches to.
        reply.encode(&mut self.out, self.session.resp3);
    }

    /// A command for the keyspace: runs it here, or queues it for the
    /// shard(s) that own its keys (`None`: its reply comes when the batch
    /// is resolved). `argv` keeps its allocation when it runs here.
    async fn shard_command(&mut self, c: &'static Command, argv: &mut Vec<Bytes>) -> Option<Reply> {
        self.session
            .client
            .last_command_ms
            .store(self.now_ms, Ordering::Relaxed);
        let own = self.core.shard_id;
        let resp3 = self.session.resp3;
        match route::plan(c, argv, own, self.core.node.shards()) {
            Plan::Refuse(reply) => Some(reply),
            Plan::One(shard) => {
                let call = Call {
                    cmd: c,
                    db: self.session.db as u8,
                    resp3,
                    argv: std::mem::take(argv),
                };
                if shard == own {
                    // The common case runs without entering an async path.
                    // `argv` keeps its allocation when the call runs now.
                    match self.execute_now(&call) {
                        Some(reply) => {
                            *argv = call.argv;
                            Some(reply)
                        }
                        None => Some(self.execute_here(call).await),
                    }
                } else if let Some(busy) = self.busy_elsewhere(shard, c) {
                    Some(Reply::error(busy))
                } else {
                    let index = self.outbox.push_remote(shard, call);
                    self.outbox.push(Pending::Remote { shard, index }, resp3);
                    None
                }
            }
            Plan::Split { gather, parts } => {
                self.split(c, gather, parts).await;
                None
            }
        }
    }

    /// The checks every command passes before it runs, in Redis's order;
    /// the entry that runs it (a container's subcommand: `SCRIPT LOAD`).
    /// A refusal comes with the command when it is known (EXEC's refusal
    /// ends the transaction).
    fn check(&self, argv: &[Bytes]) -> Result<&'static Command, Refusal> {
        let c = cmd::resolve(argv).map_err(|why| (why.command(), why.reply(argv)))?;
        if !self.session.authenticated && !c.has(flags::NO_AUTH) {
            return Err((Some(c), Reply::error(errors::NOAUTH)));
        }
        if c.has(flags::WRITE)
            && !self
                .core
                .node
                .master
                .enough_good_replicas(&self.core.node.config)
        {
            return Err((Some(c), Reply::error(errors::NOREPLICAS)));
        }
        let node = &self.core.node;
        let (writes, stale_ok) = (c.has(flags::WRITE), c.has(flags::STALE));
        if let Some(refusal) = node.replication.refusal(writes, stale_ok, &node.config) {
            return Err((Some(c), Reply::error(refusal)));
        }
        if let Some(subs) = &self.session.pubsub {
            if let Some(refused) = cmd::pubsub::refused_when_subscribed(&self.session, c) {
                return Err((Some(c), refused));
            }
            if subs.monitoring() && c.has(flags::READONLY | flags::WRITE) {
                return Err((Some(c), Reply::error(cmd::monitor::REPLICA_KEYSPACE)));
            }
        }
        Ok(c)
    }

    /// Runs a call on this core's shard: in place, unless a script holds
    /// the shard or the call is a script (then through the shard's gate,
    /// watching for the client to go away meanwhile).
    async fn execute_here(&mut self, call: Call) -> Reply {
        if let Some(reply) = self.execute_now(&call) {
            return reply;
        }
        let work = self.core.execute_when_free(call, self.now_ms);
        let done = unless_gone(&self.core, &mut self.stream, &mut self.inbuf, work).await;
        // A script ran or the shard was waited for: the batch's clock
        // reading is old for the commands after this one.
        self.now_ms = crate::util::time::now_ms();
        self.reply_unless_gone(done)
    }

    /// Runs `call` on this core's shard at once if it can: not a script,
    /// and nothing holds the shard (the common case).
    fn execute_now(&self, call: &Call) -> Option<Reply> {
        match self.core.gate.open() {
            Some(access) if !call.is_script() => Some(self.core.execute(access, call, self.now_ms)),
            _ => None,
        }
    }

    /// Runs connection-side code (on this core): at once, or watching for
    /// the client to go away while it waits (`DEBUG SLEEP`, `INFO` asking
    /// every shard).
    async fn run_connection(&mut self, run: ConnectionFn, argv: &[Bytes]) -> Reply {
        let mut ctx = ConnCtx {
            session: &mut self.session,
            core: &*self.core,
        };
        match run {
            ConnectionFn::Now(run) => run(&mut ctx, argv),
            ConnectionFn::Waits(run) => {
                let work = run(&mut ctx, argv);
                let done = unless_gone(&self.core, &mut self.stream, &mut self.inbuf, work).await;
                self.reply_unless_gone(done)
            }
        }
    }

    /// The reply of a watched wait, or (the client went away) nothing.
    fn reply_unless_gone(&mut self, done: Option<Reply>) -> Reply {
        self.unless_gone_else(done, Reply::NoReply)
    }

    /// The outcome of a watched wait ([`unless_gone`]), or `otherwise` when
    /// the client went away (and the connection is marked gone).
    fn unless_gone_else<T>(&mut self, done: Option<T>, otherwise: T) -> T {
        done.unwrap_or_else(|| {
            self.gone = true;
            otherwise
        })
    }

    /// `-BUSY` for a command to another core's shard whose script is past
    /// the threshold, answered here without a hop.
    fn busy_elsewhere(&self, shard: usize, c: &Command) -> Option<&'static str> {
        busy_at(&self.core.node, shard).filter(|_| !c.has(flags::ALLOW_BUSY))
    }

    /// Connection commands run on the connection's core: like Redis, they
    /// get `-BUSY` while this core's shard is busy, except those Redis
    /// allows then (and INFO). With `busy-behavior defer` they run at once
    /// instead: they need nothing from the shard, and a PING health check
    /// should not wait on a script.
    fn busy_for_connection_command(&self, c: &Command) -> Option<&'static str> {
        if c.has(flags::ALLOW_BUSY | flags::BUSY_OK) {
            return None;
        }
        let node = &self.core.node;
        let own = self.core.script_status();
        let defer = node.config.int(Param::BusyBehavior) == BUSY_BEHAVIOR_DEFER;
        (own.is_busy() && !defer).then(|| own.busy_reply())
    }

    async fn split(&mut self, c: &'static Command, gather: Gather, parts: Vec<Piece>) {
        let own = self.core.shard_id;
        let resp3 = self.session.resp3;
        let mut pieces = Vec::with_capacity(parts.len());
        let mut positions = Vec::with_capacity(parts.len());
        for part in parts {
            let call = Call {
                cmd: c,
                db: self.session.db as u8,
                resp3,
                argv: part.argv,
            };
            pieces.push(if part.shard == own {
                PieceReply::Ready(self.execute_here(call).await)
            } else if let Some(busy) = self.busy_elsewhere(part.shard, c) {
                PieceReply::Ready(Reply::error(busy))
            } else {
                let index = self.outbox.push_remote(part.shard, call);
                PieceReply::Remote {
                    shard: part.shard,
                    index,
                }
            });
            positions.push(part.positions);
        }
        self.outbox.push(
            Pending::Split {
                gather,
                pieces,
                positions,
            },
            resp3,
        );
    }

    /// Sends the queued calls, waits for their replies and encodes every
    /// pending reply in request order. Unread replies stay bounded wherever
    /// they come from: encoded replies are written out whenever more than
    /// [`MAX_REPLY_BUFFER_BYTES`] wait, and a shard answers about that much
    /// per batch at most (see [`BatchReplies`]), the rest of its calls going
    /// again after the write. A client that does not read is held back by
    /// the socket's write, as for its own shard's replies.
    async fn resolve(&mut self) {
        if self.outbox.pending.is_empty() {
            return;
        }
        let shards = self.outbox.calls.len();
        let mut arrived = Arrived((0..shards).map(|_| Vec::new()).collect());
        while !self.gone {
            self.exchange(&mut arrived).await;
            while let Some(queued) = self.outbox.pending.front() {
                if self.gone || !arrived.ready(&queued.pending) {
                    break;
                }
                let Some(queued) = self.outbox.pending.pop_front() else {
                    break;
                };
                self.encode_pending(queued, &mut arrived);
                if self.out.len() > MAX_REPLY_BUFFER_BYTES && self.write_out().await.is_err() {
                    self.gone = true;
                }
            }
            if self.outbox.pending.is_empty() {
                break;
            }
        }
        self.outbox.pending.clear();
        self.outbox.ready_bytes = 0;
        self.outbox.queued.iter_mut().for_each(|n| *n = 0);
        for calls in &mut self.outbox.calls {
            calls.clear();
        }
    }

    /// Sends every shard the calls it has not run yet, and records what
    /// comes back: the replies in `arrived`, the calls a shard left unrun
    /// back in the outbox. A shard that has stopped (shutdown) answers each
    /// of its calls with an error.
    async fn exchange(&mut self, arrived: &mut Arrived) {
        let mut receivers = Vec::new();
        for shard in 0..self.outbox.calls.len() {
            let calls = std::mem::take(&mut self.outbox.calls[shard]);
            if calls.is_empty() {
                continue;
            }
            let sent = calls.len();
            let (tx, rx) = oneshot::channel();
            let request = Request::Batch { calls, reply: tx };
            let rx = match self.core.senders.send(shard, request).await {
                Ok(()) => Some(rx),
                Err(()) => None,
            };
            receivers.push((shard, sent, rx));
        }
        for (shard, sent, rx) in receivers {
            let got = match rx {
                Some(rx) => unless_gone(&self.core, &mut self.stream, &mut self.inbuf, rx).await,
                None => Some(Err(oneshot::Canceled)),
            };
            let Some(got) = got else {
                self.gone = true;
                return;
            };
            let BatchReplies { replies, unrun } = got.unwrap_or_default();
            let ran = replies.len();
            arrived.0[shard].extend(replies.into_iter().map(Some));
            if ran == 0 && unrun.is_empty() {
                // The shard stopped (shutdown): each call gets an error, so
                // the batch still ends.
                arrived.0[shard].extend((0..sent).map(|_| Some(Reply::error(SHARD_UNAVAILABLE))));
            } else if crate::invariant!(
                ran > 0 && ran + unrun.len() == sent,
                "shard {shard} answered {ran} and returned {} of {sent} calls",
                unrun.len()
            ) {
                self.outbox.calls[shard] = unrun;
            } else {
                arrived.0[shard].extend((ran..sent).map(|_| Some(Reply::error(LOST_REPLY))));
            }
        }
    }

    /// Encodes one pending reply whose remote parts have all arrived.
    fn encode_pending(&mut self, queued: Queued, arrived: &mut Arrived) {
        let reply = match queued.pending {
            Pending::Ready(r) => {
                self.outbox.ready_bytes = self.outbox.ready_bytes.saturating_sub(r.size_estimate());
                r
            }
            Pending::Remote { shard, index } => arrived.take(shard, index),
            Pending::Split {
                gather,
                pieces,
                positions,
            } => {
                let parts = pieces
                    .into_iter()
                    .map(|p| match p {
                        PieceReply::Ready(r) => r,
                        PieceReply::Remote { shard, index } => arrived.take(shard, index),
                    })
                    .collect();
                route::gather(gather, parts, &positions)
            }
        };
        self.encode_claimed(&reply, queued.resp3, queued.claim);
    }

    /// Resolves everything pending and writes all buffered replies.
    async fn flush(&mut self) -> std::io::Result<()> {
        self.resolve().await;
        if self.gone {
            return Err(std::io::ErrorKind::ConnectionAborted.into());
        }
        self.take_messages();
        self.write_out().await
    }

    /// Whether the replies not written yet break the client's class of
    /// `client-output-buffer-limit` (`normal`, or `pubsub` in subscribed
    /// mode; messages are also checked as they are delivered, see
    /// `pubsub::inbox`); then the client is disconnected, as Redis does.
    fn over_output_limit(&self) -> bool {
        let class = if self.session.subscribed() {
            ClientClass::Pubsub
        } else {
            ClientClass::Normal
        };
        let limit = self.core.node.config.buffer_limit(class);
        if limit.hard_bytes == 0 && limit.soft_bytes == 0 {
            return false;
        }
        // Redis counts what does not fit its client's fixed reply buffer.
        let counted = self
            .out
            .len()
            .saturating_sub(REPLY_BUFFER_NOT_COUNTED_BYTES);
        let now = std::time::Instant::now();
        if !self.reply_limit.exceeded(limit, counted, now) {
            return false;
        }
        let client = &self.session.client;
        eprintln!(
            "Client id={} addr={} closed for overcoming of output buffer limits ({class:?}, {} bytes unwritten).",
            client.id,
            client.addr,
            self.out.len()
        );
        true
    }

    /// Waits until the shard's log holds every record so far (see
    /// `shard::log`); if it broke first, each reply that claims a record
    /// it lost becomes `-MISCONF` (see [`Claim`]), and the connection goes
    /// on: its later writes are refused before they run.
    async fn wait_for_log(&mut self) {
        if crate::shard::serve::wait_for_log(&self.core).await.is_ok() {
            return;
        }
        let Some(log) = self.core.log.get() else {
            return;
        };
        let mut out = Vec::with_capacity(self.out.len());
        let mut from = 0;
        for claim in &self.claims {
            if let Some(misconf) = log.lost(claim.lsn) {
                out.extend_from_slice(&self.out[from..claim.at]);
                Reply::error(misconf).encode(&mut out, self.session.resp3);
                from = claim.end;
            }
        }
        out.extend_from_slice(&self.out[from..]);
        self.out = out;
    }

    /// Writes the encoded replies; waits while the client is not reading.
    async fn write_out(&mut self) -> std::io::Result<()> {
        if !self.out.is_empty() {
            if self.over_output_limit() {
                return Err(std::io::ErrorKind::ConnectionAborted.into());
            }
            // Let the other connections this reactor turn woke run first,
            // so that the turn's replies leave in one burst, as Redis
            // writes its replies just before it sleeps: a client's core
            // is woken once per burst, not once per connection.
            future::yield_now().await;
            // Every record this turn appended is committed by the first
            // connection here; a reply never claims a write the log lost.
            if self.core.log.get().is_some() && !self.log_broken_before {
                self.wait_for_log().await;
            }
            self.claims.clear();
            self.stream.write_all(&self.out).await?;
            self.core.state.borrow_mut().stats.net_output_bytes += self.out.len() as u64;
            self.out.clear();
            self.reply_limit.drained();
            if let Some(subs) = &self.session.pubsub {
                subs.inbox.written();
            }
            if self.out.capacity() > MAX_REPLY_BUFFER_BYTES {
                self.out.shrink_to(READ_CHUNK_BYTES);
            }
        }
        Ok(())
    }
}

/// Polls the socket once for input and appends what it read to `inbuf`;
/// 0 at the end of the stream. The core's read chunk is borrowed only
/// inside the poll, never across a wait, so every connection on the core
/// can share it.
fn poll_input(
    core: &Core,
    stream: &mut TcpStream,
    inbuf: &mut BytesMut,
    cx: &mut std::task::Context<'_>,
) -> Poll<std::io::Result<usize>> {
    let mut chunk = core.read_chunk.borrow_mut();
    let n = ready!(Pin::new(stream).poll_read(cx, &mut chunk))?;
    buffer_input(inbuf, &chunk[..n]);
    Poll::Ready(Ok(n))
}

/// Appends bytes read to the connection's input. The buffer grows by at
/// least [`READ_BUFFER_GROWTH_BYTES`], so a run of small requests shares one
/// allocation, while an idle connection holds little.
fn buffer_input(inbuf: &mut BytesMut, bytes: &[u8]) {
    if inbuf.capacity() - inbuf.len() < bytes.len() {
        inbuf.reserve(bytes.len().max(READ_BUFFER_GROWTH_BYTES));
    }
    inbuf.extend_from_slice(bytes);
}

/// Waits for `work` while watching the client's socket, so a client that
/// closes its connection (or is killed) while its command waits releases
/// its connection at once. Bytes that arrive meanwhile are the client's next
/// requests: they join `inbuf`, up to `client-query-buffer-limit`. `None`
/// when the client went away first: `work` is dropped then, so it must be
/// safe to drop at any await (what is wrapped only waits: a script runs in
/// a task of its own, a remote call on its own shard). During shutdown the
/// read side is closed on purpose and in-flight work is waited for.
async fn unless_gone<T>(
    core: &Core,
    stream: &mut TcpStream,
    inbuf: &mut BytesMut,
    work: impl Future<Output = T>,
) -> Option<T> {
    let mut work = std::pin::pin!(work);
    let limit = core.node.config.int(Param::ClientQueryBufferLimit) as usize;
    let mut watching = true;
    future::poll_fn(|cx| {
        if let Poll::Ready(out) = work.as_mut().poll(cx) {
            return Poll::Ready(Some(out));
        }
        while watching && inbuf.len() < limit {
            match poll_input(core, stream, inbuf, cx) {
                Poll::Ready(Ok(n)) if n > 0 => {
                    core.state.borrow_mut().stats.net_input_bytes += n as u64;
                }
                Poll::Ready(_) if core.node.is_shutting_down() => watching = false,
                Poll::Ready(_) => return Poll::Ready(None),
                Poll::Pending => break,
            }
        }
        Poll::Pending
    })
    .await
}

/// The BUSY text for a command to `shard` while its script is past the
/// threshold; `None` when it is free or busy commands wait there instead
/// (`busy-behavior defer`).
fn busy_at(node: &crate::node::Node, shard: usize) -> Option<&'static str> {
    let status = &node.script_status[shard];
    (status.is_busy() && node.config.int(Param::BusyBehavior) != BUSY_BEHAVIOR_DEFER)
        .then(|| status.busy_reply())
}
