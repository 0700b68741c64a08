//! MULTI / EXEC / DISCARD / WATCH / UNWATCH, run by the connection.
//!
//! Between MULTI and EXEC the connection queues commands (+QUEUED) instead
//! of running them. All keys of a transaction must live on one shard: a
//! command whose keys are elsewhere gets CROSSSLOT when it is queued, and
//! like any queue-time error (unknown command, arity, NOAUTH, a NO_MULTI
//! command) it makes EXEC answer EXECABORT. So EXEC runs the queued shard
//! commands as one batch on that shard, with nothing interleaved: in place
//! without an await in between, or as one [`Request::Transaction`] that the
//! owning core's request loop runs whole.
//!
//! Queued connection commands (PING, ECHO, SELECT, CLIENT ...) run after
//! the shard commands; EXEC's array keeps the queue order. SELECT changes
//! the database of the commands queued after it.
//!
//! WATCH registers keys with the shards that own them (any shards); a shard
//! bumps a version of each watched key on every change (see `Db::watch`).
//! EXEC first checks and forgets the watched keys of other shards than the
//! transaction's, then those of its own shard in the same atomic step as
//! the batch. The race that remains: a watched key of *another* shard that
//! changes after its check and before the batch runs goes unnoticed.

use std::collections::hash_map::{self, HashMap};

use bytes::Bytes;
use futures_channel::oneshot;

use super::Connection;
use crate::cmd::Call;
use crate::cmd::{errors, flags, Command, ConnectionFn, Gather, Route, Run, Tx};
use crate::config::DATABASES;
use crate::protocol::Reply;
use crate::server::route::{self, Plan};
use crate::shard::core::run_transaction;
use crate::shard::mesh::Request;
use crate::shard::Watched;
use crate::util::slot::shard_of_key;
use crate::util::time::now_ms;

const EXECABORT: &str = "EXECABORT Transaction discarded because of previous errors.";
const NOT_IN_MULTI: &str = "ERR Command not allowed inside a transaction";

/// What MULTI started.
pub(super) struct Transaction {
    /// Where each element of EXEC's reply comes from, in queue order.
    order: Vec<Queued>,
    /// The shard commands, in order: one batch at EXEC.
    calls: Vec<Call>,
    /// The shard the queued keys live on (None: no key yet).
    shard: Option<usize>,
    /// The database of the next queued command (SELECT inside MULTI).
    db: usize,
    /// A command was refused at queue time: EXEC answers EXECABORT.
    aborted: bool,
}

impl Transaction {
    /// A command was refused at queue time: EXEC will answer EXECABORT.
    pub(super) fn abort(&mut self) {
        self.aborted = true;
    }
}

enum Queued {
    /// The next reply of the batch; with the gather of a one-part split
    /// (FLUSHALL, DBSIZE ... on a single shard).
    Shard(Option<(Gather, Vec<usize>)>),
    /// A connection command, run after the batch.
    Connection(ConnectionFn, Vec<Bytes>),
    /// A reply known at queue time (a bad SCAN cursor: a runtime error;
    /// UNWATCH).
    Ready(Reply),
}

/// The keys a connection watches: (database, key) -> (shard, version).
pub(super) type Watches = HashMap<(u8, Bytes), (usize, u64)>;

impl Connection {
    /// Runs a transaction step (outside MULTI, or one that
    /// [`flags::RUNS_IN_MULTI`] inside it).
    pub(super) async fn transaction_command(&mut self, tx: Tx, argv: &[Bytes]) -> Reply {
        match tx {
            Tx::Multi if self.multi.is_some() => Reply::error("ERR MULTI calls can not be nested"),
            Tx::Multi => {
                self.multi = Some(Transaction {
                    order: Vec::new(),
                    calls: Vec::new(),
                    shard: None,
                    db: self.session.db,
                    aborted: false,
                });
                Reply::ok()
            }
            Tx::Exec => self.exec().await,
            Tx::Discard if self.multi.is_none() => Reply::error("ERR DISCARD without MULTI"),
            Tx::Watch if self.multi.is_some() => {
                Reply::error("ERR WATCH inside MULTI is not allowed")
            }
            Tx::Watch => {
                // Earlier pipelined commands come first (they may change
                // the keys: a change after WATCH would abort the EXEC).
                self.resolve().await;
                self.watch(&argv[1..]).await;
                Reply::ok()
            }
            Tx::Discard | Tx::Unwatch => {
                self.multi = None;
                self.resolve().await;
                self.unwatch_all().await;
                Reply::ok()
            }
            Tx::Reset => {
                self.multi = None;
                self.resolve().await;
                self.unwatch_all().await;
                self.run_connection(ConnectionFn::Now(crate::cmd::session::reset), argv)
                    .await
            }
        }
    }

    /// EXEC refused before it runs (wrong arity, NOAUTH): as Redis, the
    /// transaction (if any) and the watched keys are dropped, and the reply
    /// says why.
    pub(super) async fn exec_refused(&mut self, refusal: Reply) -> Reply {
        self.multi = None;
        self.resolve().await;
        self.unwatch_all().await;
        let why = match &refusal {
            Reply::Error(text) => text.strip_prefix("ERR ").unwrap_or(text),
            _ => "",
        };
        Reply::error(format!("EXECABORT Transaction discarded because of: {why}"))
    }

    /// Queues a command inside MULTI, or refuses it (and flags the
    /// transaction) as Redis does at queue time.
    pub(super) fn queue(&mut self, c: &'static Command, argv: &mut Vec<Bytes>) -> Reply {
        let own = self.core.shard_id;
        let shards = self.core.node.shards();
        let resp3 = self.session.resp3;
        let node = &self.core.node;
        let on_connection = c.route == Route::Connection;
        let connection_busy = if on_connection {
            self.busy_for_connection_command(c)
        } else {
            None
        };
        let Some(tx) = self.multi.as_mut() else {
            return Reply::error(errors::unknown_command(argv));
        };
        let refuse = |tx: &mut Transaction, text: &'static str| {
            tx.abort();
            Reply::error(text)
        };
        if c.has(flags::NO_MULTI) {
            return refuse(tx, NOT_IN_MULTI);
        }
        if on_connection {
            if let Some(busy) = connection_busy {
                return refuse(tx, busy);
            }
            if c.has(flags::SWITCHES_DB) {
                let db = crate::util::numbers::parse_i64(&argv[1]);
                if let Some(db) = db.filter(|db| (0..DATABASES as i64).contains(db)) {
                    tx.db = db as usize;
                }
            }
            tx.order.push(match c.run {
                Run::Connection(run) => Queued::Connection(run, std::mem::take(argv)),
                // UNWATCH, the one transaction step that is queued: EXEC
                // forgets the watched keys anyway.
                _ => Queued::Ready(Reply::ok()),
            });
            return Reply::status("QUEUED");
        }
        let (shard, gather) = match route::plan(c, argv, own, shards) {
            Plan::One(shard) => {
                let keyed = c.route == Route::Scan || c.key_positions(argv).next().is_some();
                (keyed.then_some(shard), None)
            }
            Plan::Split { gather, mut parts } if parts.len() == 1 => {
                let part = parts.remove(0);
                (Some(part.shard), Some((gather, part.positions)))
            }
            Plan::Refuse(reply) if c.route == Route::Scan => {
                tx.order.push(Queued::Ready(reply));
                return Reply::status("QUEUED");
            }
            Plan::Refuse(reply) => {
                tx.abort();
                return reply;
            }
            Plan::Split { .. } => return refuse(tx, errors::CROSSSLOT),
        };
        if let Some(shard) = shard {
            if tx.shard.is_some_and(|s| s != shard) {
                return refuse(tx, errors::CROSSSLOT);
            }
            tx.shard = Some(shard);
        }
        // As in Redis, a command refused for BUSY fails the transaction.
        let busy = match shard {
            Some(shard) => super::busy_at(node, shard),
            None => super::busy_at(node, own),
        };
        if let Some(busy) = busy {
            return refuse(tx, busy);
        }
        tx.calls.push(Call {
            cmd: c,
            db: tx.db as u8,
            resp3,
            argv: std::mem::take(argv),
        });
        tx.order.push(Queued::Shard(gather));
        Reply::status("QUEUED")
    }

    /// EXEC: the array of the queued commands' replies, a null array when
    /// a watched key changed, or EXECABORT.
    async fn exec(&mut self) -> Reply {
        // EXEC for a busy shard discards the transaction, as in Redis.
        let target = self
            .multi
            .as_ref()
            .and_then(|tx| tx.shard)
            .unwrap_or(self.core.shard_id);
        if let Some(busy) = super::busy_at(&self.core.node, target) {
            return self.exec_refused(Reply::error(busy)).await;
        }
        let Some(tx) = self.multi.take() else {
            return Reply::error("ERR EXEC without MULTI");
        };
        // Earlier pipelined commands take effect first.
        self.resolve().await;
        if tx.aborted {
            self.unwatch_all().await;
            return Reply::error(EXECABORT);
        }
        let target = tx.shard.unwrap_or(self.core.shard_id);
        let mut watched = self.take_watches();
        let here = std::mem::take(&mut watched[target]);
        let clean = self.forget(watched).await;
        let calls = if clean { tx.calls } else { Vec::new() };
        let sent = calls.len();
        let replies = if calls.is_empty() && here.is_empty() {
            Some(Vec::new())
        } else {
            self.run_on(target, here, calls).await
        };
        let Some(replies) = replies.filter(|_| clean) else {
            return Reply::NilArray;
        };
        // None at all: the shard stopped (shutdown); each command gets an
        // error below.
        crate::invariant!(
            replies.is_empty() || replies.len() == sent,
            "EXEC got {} replies for {sent} commands",
            replies.len()
        );
        let mut replies = replies.into_iter();
        let mut out = Vec::with_capacity(tx.order.len());
        for queued in tx.order {
            out.push(match queued {
                Queued::Shard(gather) => {
                    let reply = replies
                        .next()
                        .unwrap_or_else(|| Reply::error(super::SHARD_UNAVAILABLE));
                    match gather {
                        Some((g, positions)) => route::gather(g, vec![reply], &[positions]),
                        None => reply,
                    }
                }
                Queued::Ready(reply) => reply,
                Queued::Connection(run, argv) => self.run_connection(run, &argv).await,
            });
        }
        Reply::Array(out)
    }

    /// Registers `keys` of the selected database with their shards.
    async fn watch(&mut self, keys: &[Bytes]) {
        let db = self.session.db as u8;
        let shards = self.core.node.shards();
        let mut groups: Vec<Vec<Bytes>> = vec![Vec::new(); shards];
        for key in keys {
            // Copied: a slice of the read buffer would keep it all alive.
            let key = Bytes::copy_from_slice(key);
            if let hash_map::Entry::Vacant(v) = self.watched.entry((db, key.clone())) {
                let shard = shard_of_key(&key, shards);
                v.insert((shard, 0));
                groups[shard].push(key);
            }
        }
        let mut waiting = Vec::new();
        for (shard, keys) in groups.into_iter().enumerate() {
            if keys.is_empty() {
                continue;
            }
            if shard == self.core.shard_id {
                let now = now_ms();
                let versions = self.core.state.borrow_mut().watch(db, &keys, now);
                self.record_versions(db, keys, versions);
            } else {
                let (tx, rx) = oneshot::channel();
                let request = Request::Watch {
                    db,
                    keys: keys.clone(),
                    reply: tx,
                };
                let sent = self.core.senders.send(shard, request).await;
                waiting.push((keys, sent.ok().map(|_| rx)));
            }
        }
        for (keys, rx) in waiting {
            let versions = match rx {
                Some(rx) => rx.await.unwrap_or_default(),
                None => Vec::new(),
            };
            self.record_versions(db, keys, versions);
        }
    }

    /// Stores the versions WATCH got; a key without one (its shard has
    /// stopped: shutdown) is not watched.
    fn record_versions(&mut self, db: u8, keys: Vec<Bytes>, versions: Vec<u64>) {
        let mut versions = versions.into_iter();
        for key in keys {
            match versions.next() {
                Some(v) => {
                    if let Some(w) = self.watched.get_mut(&(db, key)) {
                        w.1 = v;
                    }
                }
                None => {
                    self.watched.remove(&(db, key));
                }
            }
        }
    }

    /// Empties the watch list, grouped per shard.
    fn take_watches(&mut self) -> Vec<Vec<Watched>> {
        let mut per_shard: Vec<Vec<Watched>> = vec![Vec::new(); self.core.node.shards()];
        for ((db, key), (shard, version)) in self.watched.drain() {
            if let Some(list) = per_shard.get_mut(shard) {
                list.push(Watched { db, key, version });
            }
        }
        per_shard
    }

    /// UNWATCH, DISCARD, RESET, a failed EXEC and disconnection: every
    /// shard forgets this connection's watched keys.
    pub(super) async fn unwatch_all(&mut self) {
        if !self.watched.is_empty() {
            let watched = self.take_watches();
            self.forget(watched).await;
        }
    }

    /// Forgets the `per_shard` watched keys on their shards (concurrently);
    /// true if none changed.
    async fn forget(&mut self, per_shard: Vec<Vec<Watched>>) -> bool {
        let mut clean = true;
        let mut waiting = Vec::new();
        for (shard, watched) in per_shard.into_iter().enumerate() {
            if watched.is_empty() {
                continue;
            }
            if shard == self.core.shard_id {
                clean &= self.core.state.borrow_mut().unwatch(&watched, now_ms());
            } else {
                waiting.push(self.send_transaction(shard, watched, Vec::new()).await);
            }
        }
        for rx in waiting {
            clean &= matches!(rx.await, Ok(Some(_)));
        }
        clean
    }

    /// Runs a transaction's batch (after checking `watched`) on `shard`.
    async fn run_on(
        &mut self,
        shard: usize,
        watched: Vec<Watched>,
        calls: Vec<Call>,
    ) -> Option<Vec<Reply>> {
        let now = now_ms();
        if shard == self.core.shard_id {
            let may_wait = self.core.gate.is_held() || calls.iter().any(Call::is_script);
            if !may_wait {
                return run_transaction(&self.core, &watched, &calls, now).await;
            }
            // A transaction that waits for the shard, or runs scripts, runs
            // in a task of its own: if the client goes away meanwhile, the
            // connection stops waiting, and the batch is never cut in half.
            let core = self.core.clone();
            let task =
                glommio::spawn_local(
                    async move { run_transaction(&core, &watched, &calls, now).await },
                );
            let done =
                super::unless_gone(&self.core, &mut self.stream, &mut self.inbuf, task.detach())
                    .await
                    .map(|replies| replies.unwrap_or(Some(Vec::new())));
            return self.unless_gone_else(done, Some(Vec::new()));
        }
        // A stopped shard (shutdown) answers each call with an error.
        let rx = self.send_transaction(shard, watched, calls).await;
        let done = super::unless_gone(&self.core, &mut self.stream, &mut self.inbuf, rx)
            .await
            .map(|replies| replies.unwrap_or(Some(Vec::new())));
        self.unless_gone_else(done, Some(Vec::new()))
    }

    async fn send_transaction(
        &self,
        shard: usize,
        watched: Vec<Watched>,
        calls: Vec<Call>,
    ) -> oneshot::Receiver<Option<Vec<Reply>>> {
        let (tx, rx) = oneshot::channel();
        let request = Request::Transaction {
            watched,
            calls,
            reply: tx,
        };
        // On failure `tx` is dropped with the request: `rx` reports it.
        let _ = self.core.senders.send(shard, request).await;
        rx
    }
}
