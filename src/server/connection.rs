//! One client connection: read, parse, route, gather, reply, in order.
//!
//! Commands parsed from one read form a batch. Local commands run in place;
//! commands for other shards are queued per destination and sent as one
//! message per shard; then every reply is encoded in request order and the
//! batch is written with one syscall (or a few, for big replies).
//!
//! Transactions (MULTI ... EXEC, WATCH) are in [`transaction`].

mod transaction;

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
use crate::cmd::connection::Session;
use crate::cmd::{self, errors, flags, Gather, Route};
use crate::config::{MAX_PIPELINE_BATCH_COMMANDS, MAX_REPLY_BUFFER_BYTES, P, READ_CHUNK_BYTES};
use crate::node::{ClientInfo, Core};
use crate::protocol::{ParseLimits, Reply, RequestParser};
use crate::shard::mesh::Request;
use crate::shard::Call;
use transaction::{Transaction, Watches};

/// The reply to a call whose shard stopped before answering (shutdown).
const SHARD_UNAVAILABLE: &str = "ERR shard unavailable (shutting down)";

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

/// Commands of the current batch waiting for other shards.
struct Outbox {
    calls: Vec<Vec<Call>>,
    pending: Vec<(Pending, bool)>,
}

impl Outbox {
    fn push_remote(&mut self, shard: usize, call: Call) -> usize {
        self.calls[shard].push(call);
        self.calls[shard].len() - 1
    }

    fn is_empty(&self) -> bool {
        self.pending.is_empty()
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
}

pub async fn serve(core: Rc<Core>, stream: TcpStream, client: Arc<ClientInfo>) {
    let shards = core.node.shards();
    let authenticated = core.node.config.string(P::Requirepass).is_empty();
    let mut conn = Connection {
        session: Session::new(client, authenticated),
        core,
        stream,
        parser: RequestParser::new(),
        inbuf: BytesMut::with_capacity(READ_CHUNK_BYTES),
        out: Vec::with_capacity(READ_CHUNK_BYTES),
        outbox: Outbox {
            calls: (0..shards).map(|_| Vec::new()).collect(),
            pending: Vec::new(),
        },
        now_ms: 0,
        multi: None,
        watched: Watches::new(),
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
        loop {
            let n = self.receive().await?;
            if n == 0 || self.session.client.killed.load(Ordering::Relaxed) {
                return Ok(());
            }
            self.core.state.borrow_mut().stats.net_input_bytes += n as u64;
            self.now_ms = crate::shard::now_ms();
            let node = &self.core.node;
            let limit = node.config.int(P::ClientQueryBufferLimit) as usize;
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
                    max_bulk_bytes: self.core.node.config.int(P::ProtoMaxBulkLen) as usize,
                    authenticated: self.session.authenticated,
                };
                match self.parser.parse(&mut self.inbuf, &mut argv, limits) {
                    Ok(true) => {
                        self.dispatch(&mut argv).await;
                        commands += 1;
                        if self.session.quit {
                            self.flush().await?;
                            return Ok(());
                        }
                        if commands >= MAX_PIPELINE_BATCH_COMMANDS
                            || self.out.len() > MAX_REPLY_BUFFER_BYTES
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
            self.flush().await?;
            if self.core.node.is_shutting_down() {
                return Ok(());
            }
        }
    }

    /// Waits for input and appends it to `inbuf`; 0 at end of stream. The
    /// core's read chunk is borrowed only inside each poll, never across a
    /// wait, so every connection on the core can share it.
    async fn receive(&mut self) -> std::io::Result<usize> {
        let (stream, inbuf, core) = (&mut self.stream, &mut self.inbuf, &self.core);
        future::poll_fn(|cx| {
            let mut chunk = core.read_chunk.borrow_mut();
            let n = ready!(Pin::new(&mut *stream).poll_read(cx, &mut chunk))?;
            inbuf.extend_from_slice(&chunk[..n]);
            Poll::Ready(Ok(n))
        })
        .await
    }

    /// Routes one command: runs it here, queues it for another shard, or
    /// (for connection commands) resolves everything queued and runs it.
    /// `argv` keeps its allocation when the command runs here.
    async fn dispatch(&mut self, argv: &mut Vec<Bytes>) {
        let resp3 = self.session.resp3;
        let in_multi = self.multi.is_some();
        let reply = match self.check(argv) {
            Err(reply) if cmd::lookup(&argv[0]).is_some_and(|c| c.name == "exec") => {
                self.exec_refused(reply).await
            }
            Err(reply) => {
                // A command refused inside MULTI makes EXEC fail.
                if let Some(tx) = self.multi.as_mut() {
                    tx.abort();
                }
                reply
            }
            Ok(c) if transaction::runs_at_once(c, in_multi) => {
                self.transaction_command(c, argv).await
            }
            Ok(c) if in_multi && !matches!(c.name, "quit" | "reset") => self.queue(c, argv),
            Ok(c) if c.route == Route::Connection => {
                // Connection commands see the effects of everything before
                // them, so resolve the queue first.
                self.resolve().await;
                if let Some(busy) = self.busy_for_connection_command(c, argv) {
                    Reply::error(busy).encode(&mut self.out, resp3);
                    return;
                }
                if c.name == "reset" {
                    self.multi = None;
                    self.unwatch_all().await;
                }
                let reply = crate::cmd::server::run(c, &mut self.session, &self.core, argv).await;
                // HELLO answers in the protocol it switches to.
                reply.encode(&mut self.out, self.session.resp3);
                return;
            }
            Ok(c) => {
                self.session
                    .client
                    .last_command_ms
                    .store(self.now_ms, Ordering::Relaxed);
                let own = self.core.shard_id;
                match route::plan(c, argv, own, self.core.node.shards()) {
                    Plan::Refuse(reply) => reply,
                    Plan::One(shard) => {
                        let call = Call {
                            cmd: c,
                            db: self.session.db as u8,
                            resp3,
                            argv: std::mem::take(argv),
                        };
                        if shard == own {
                            let reply = self.execute_here(&call).await;
                            *argv = call.argv;
                            reply
                        } else if let Some(busy) = self.busy_elsewhere(shard, c) {
                            Reply::error(busy)
                        } else {
                            let index = self.outbox.push_remote(shard, call);
                            self.outbox
                                .pending
                                .push((Pending::Remote { shard, index }, resp3));
                            return;
                        }
                    }
                    Plan::Split { gather, parts } => {
                        self.split(c, gather, parts).await;
                        return;
                    }
                }
            }
        };
        if self.outbox.is_empty() {
            reply.encode(&mut self.out, resp3);
        } else {
            self.outbox.pending.push((Pending::Ready(reply), resp3));
        }
    }

    /// The checks every command passes before it runs, in Redis's order.
    fn check(&self, argv: &[Bytes]) -> Result<&'static cmd::Command, Reply> {
        let c = cmd::lookup(&argv[0]).ok_or_else(|| Reply::error(errors::unknown_command(argv)))?;
        if !c.arity_ok(argv.len()) {
            return Err(Reply::error(errors::wrong_args(c.name)));
        }
        if !self.session.authenticated && !c.has(flags::NO_AUTH) {
            return Err(Reply::error(errors::NOAUTH));
        }
        Ok(c)
    }

    /// Runs a call on this core's shard: in place, unless a script holds
    /// the shard or the call is a script (then through the shard's gate).
    async fn execute_here(&self, call: &Call) -> Reply {
        if self.core.gate.is_held() || call.is_script() {
            self.core.execute_when_free(call, self.now_ms).await
        } else {
            self.core.execute(call, self.now_ms)
        }
    }

    /// `-BUSY` for a command to another core's shard whose script is past
    /// the threshold, answered here without a hop.
    fn busy_elsewhere(&self, shard: usize, c: &cmd::Command) -> Option<&'static str> {
        busy_at(&self.core.node, shard).filter(|_| !c.has(flags::ALLOW_BUSY))
    }

    /// Connection commands run on the connection's core: like Redis, they
    /// get `-BUSY` while this core's shard is busy, except those Redis
    /// allows then; plain SHUTDOWN gets it while any shard is busy. With
    /// `busy-behavior defer` they run at once instead: they need nothing
    /// from the shard, and a PING health check should not wait on a script.
    fn busy_for_connection_command(
        &self,
        c: &cmd::Command,
        argv: &[Bytes],
    ) -> Option<&'static str> {
        let node = &self.core.node;
        let sub = |names: &[&str]| {
            argv.get(1)
                .is_some_and(|a| names.iter().any(|n| cmd::is(a, n)))
        };
        // INFO too, unlike Redis: it is how operators see the busy shard.
        let allowed = c.name == "info"
            || c.has(flags::ALLOW_BUSY)
                && match c.name {
                    "script" => sub(&["kill", "status"]),
                    "function" => sub(&["kill", "stats"]),
                    "shutdown" => argv[1..].iter().any(|a| cmd::is(a, "nosave")),
                    _ => true,
                };
        if allowed {
            return None;
        }
        if c.name == "shutdown" {
            return node
                .script_status
                .iter()
                .find(|s| s.is_busy())
                .map(|s| s.busy_reply());
        }
        let own = self.core.script_status();
        let defer = node.config.int(P::BusyBehavior) == crate::node::BUSY_BEHAVIOR_DEFER;
        (own.is_busy() && !defer).then(|| own.busy_reply())
    }

    async fn split(&mut self, c: &'static cmd::Command, gather: Gather, parts: Vec<Piece>) {
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
                PieceReply::Ready(self.execute_here(&call).await)
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
        self.outbox.pending.push((
            Pending::Split {
                gather,
                pieces,
                positions,
            },
            resp3,
        ));
    }

    /// Sends the queued calls, waits for their replies and encodes every
    /// pending reply in request order.
    async fn resolve(&mut self) {
        if self.outbox.pending.is_empty() {
            return;
        }
        let mut receivers: Vec<Option<oneshot::Receiver<Vec<Reply>>>> = Vec::new();
        for shard in 0..self.outbox.calls.len() {
            let calls = std::mem::take(&mut self.outbox.calls[shard]);
            if calls.is_empty() {
                receivers.push(None);
                continue;
            }
            let (tx, rx) = oneshot::channel();
            let sent = self
                .core
                .senders
                .send(shard, Request::Batch { calls, reply: tx })
                .await;
            receivers.push(sent.ok().map(|_| rx));
        }
        let mut replies: Vec<Vec<Option<Reply>>> = Vec::with_capacity(receivers.len());
        for rx in receivers {
            let got = match rx {
                Some(rx) => rx.await.unwrap_or_default(),
                None => Vec::new(),
            };
            replies.push(got.into_iter().map(Some).collect());
        }
        let mut take = |shard: usize, index: usize| -> Reply {
            replies
                .get_mut(shard)
                .and_then(|r| r.get_mut(index))
                .and_then(Option::take)
                .unwrap_or_else(|| Reply::error(SHARD_UNAVAILABLE))
        };
        for (pending, resp3) in std::mem::take(&mut self.outbox.pending) {
            let reply = match pending {
                Pending::Ready(r) => r,
                Pending::Remote { shard, index } => take(shard, index),
                Pending::Split {
                    gather,
                    pieces,
                    positions,
                } => {
                    let parts = pieces
                        .into_iter()
                        .map(|p| match p {
                            PieceReply::Ready(r) => r,
                            PieceReply::Remote { shard, index } => take(shard, index),
                        })
                        .collect();
                    route::gather(gather, parts, &positions)
                }
            };
            reply.encode(&mut self.out, resp3);
        }
    }

    /// Resolves everything pending and writes all buffered replies.
    async fn flush(&mut self) -> std::io::Result<()> {
        self.resolve().await;
        if !self.out.is_empty() {
            self.stream.write_all(&self.out).await?;
            self.core.state.borrow_mut().stats.net_output_bytes += self.out.len() as u64;
            self.out.clear();
            if self.out.capacity() > MAX_REPLY_BUFFER_BYTES {
                self.out.shrink_to(READ_CHUNK_BYTES);
            }
        }
        Ok(())
    }
}

/// The BUSY text for a command to `shard` while its script is past the
/// threshold; `None` when it is free or busy commands wait there instead
/// (`busy-behavior defer`).
fn busy_at(node: &crate::node::Node, shard: usize) -> Option<&'static str> {
    let status = &node.script_status[shard];
    (status.is_busy() && node.config.int(P::BusyBehavior) != crate::node::BUSY_BEHAVIOR_DEFER)
        .then(|| status.busy_reply())
}
