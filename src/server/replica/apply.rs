//! Applying a master's command stream on a replica: each command goes to
//! the shard that owns its keys (the master's shard count does not
//! matter), as the master's client does in Redis: no replies, no READONLY
//! check, `SELECT` switches the database, `MULTI` ... `EXEC` is one
//! atomic batch when its keys share a shard.
//!
//! A dedicated applier rather than the client connection's machinery:
//! the stream needs none of a connection's reply ordering, MISCONF claims,
//! WATCH or client bookkeeping, and its calls must never be answered BUSY
//! (they wait for the shard instead, see `Core::apply_from_master`).
//!
//! The applier runs on one core (the link's) and queues calls per shard;
//! [`Applier::flush`] sends each shard its calls as one request and waits
//! for all of them. Each shard applies its calls in stream order, so every
//! key sees the master's order; two shards may apply their parts of one
//! round in any order (a reader may see shard A ahead of shard B).
//!
//! Limitations (logged when met): a MULTI block whose keys are on several
//! shards of this node is applied command by command, not atomically; a
//! keyed command whose keys are on several shards here (RENAME a b across
//! shards, while `cross-shard` support is missing for it) is refused by
//! the router and skipped.

use std::rc::Rc;

use bytes::Bytes;
use futures_channel::oneshot;

use crate::cmd::{self, flags, Call, CoreAccess, Run, Tx};
use crate::config::DATABASES;
use crate::server::route::{self, Plan};
use crate::shard::core::Core;
use crate::shard::mesh::Request;

/// Commands of a MULTI block queued at most (a master's transaction is as
/// big as its client made it; past this, the block is applied in parts).
const MAX_MULTI_COMMANDS: usize = 1_000_000;

pub struct Applier {
    core: Rc<Core>,
    /// The database the stream's commands are for (SELECT).
    db: u8,
    /// Inside MULTI: the commands queued for EXEC.
    multi: Option<Vec<Call>>,
    /// Per shard, the calls not sent yet, in stream order.
    outbox: Vec<Vec<Call>>,
    /// Commands skipped so far (logged the first few times).
    skipped: u64,
}

impl Applier {
    pub fn new(core: Rc<Core>) -> Applier {
        let shards = core.node.shards();
        Applier {
            core,
            db: 0,
            multi: None,
            outbox: (0..shards).map(|_| Vec::new()).collect(),
            skipped: 0,
        }
    }

    /// Whether a MULTI block is open (the applied offset stays before it).
    pub fn in_multi(&self) -> bool {
        self.multi.is_some()
    }

    /// Queues (or for a few commands, applies at once) one command of the
    /// stream.
    pub async fn apply(&mut self, argv: Vec<Bytes>) {
        let c = match cmd::resolve(&argv) {
            Ok(c) => c,
            Err(_) => return self.skip(&argv, "unknown command or wrong arity"),
        };
        match c.run {
            Run::Transaction(Tx::Multi) => {
                if self.multi.is_none() {
                    self.multi = Some(Vec::new());
                }
            }
            Run::Transaction(Tx::Exec) => {
                if let Some(calls) = self.multi.take() {
                    self.exec(calls).await;
                }
            }
            Run::Transaction(Tx::Discard) => self.multi = None,
            Run::Transaction(_) => {}
            Run::Connection(_) if c.has(flags::SWITCHES_DB) => {
                match crate::util::numbers::parse_i64(&argv[1]) {
                    Some(db) if (0..DATABASES as i64).contains(&db) => self.db = db as u8,
                    _ => self.skip(&argv, "bad database"),
                }
            }
            Run::Connection(_) if c.name.starts_with("function|") && c.has(flags::WRITE) => {
                // Made on core 0 like a client's; after what came before.
                self.flush().await;
                let reply = self.core.change_functions(&argv).await;
                if reply.is_error() {
                    self.skip(&argv, "the function change failed");
                }
            }
            // PING, REPLCONF (the link answers GETACK) and the like.
            Run::Connection(_) => {}
            Run::Shard(_) | Run::Script(_) => {
                let call = Call {
                    cmd: c,
                    db: self.db,
                    resp3: false,
                    argv,
                };
                match self.multi.as_mut() {
                    Some(queued) if queued.len() < MAX_MULTI_COMMANDS => queued.push(call),
                    _ => self.route(call),
                }
            }
        }
    }

    /// Queues `call` for the shard(s) that own its keys.
    fn route(&mut self, call: Call) {
        let own = self.core.shard_id;
        let shards = self.core.node.shards();
        match route::plan(call.cmd, &call.argv, own, shards) {
            Plan::One(shard) => self.outbox[shard].push(call),
            Plan::Split { parts, .. } => {
                for part in parts {
                    self.outbox[part.shard].push(Call {
                        cmd: call.cmd,
                        db: call.db,
                        resp3: false,
                        argv: part.argv,
                    });
                }
            }
            Plan::Refuse(_) => self.skip(&call.argv, "its keys are on several shards here"),
        }
    }

    /// EXEC: the block as one atomic batch on the shard its keys share;
    /// command by command when they are on several.
    async fn exec(&mut self, calls: Vec<Call>) {
        self.flush().await;
        let own = self.core.shard_id;
        let shards = self.core.node.shards();
        let mut target = None;
        let mut one_shard = true;
        for call in &calls {
            let shard = match route::plan(call.cmd, &call.argv, own, shards) {
                Plan::One(shard) if call.cmd.key_positions(&call.argv).next().is_some() => {
                    Some(shard)
                }
                Plan::One(_) => None,
                Plan::Split { parts, .. } if parts.len() == 1 => Some(parts[0].shard),
                _ => {
                    one_shard = false;
                    None
                }
            };
            if let Some(shard) = shard {
                one_shard &= target.is_none_or(|t| t == shard);
                target = Some(shard);
            }
        }
        if !one_shard {
            eprintln!(
                "replica: a MULTI block of the master touches several shards of this node: applied command by command"
            );
            for call in calls {
                self.route(call);
            }
            self.flush().await;
            return;
        }
        let target = target.unwrap_or(own);
        // Keyless commands (FLUSHALL's one part ...) and one-part splits
        // run whole on the target shard.
        self.send(target, calls, true).await;
    }

    /// Sends every shard its queued calls and waits until all are applied.
    pub async fn flush(&mut self) {
        let own = self.core.shard_id;
        let mut waiting = Vec::new();
        for shard in 0..self.outbox.len() {
            if shard == own || self.outbox[shard].is_empty() {
                continue;
            }
            let calls = std::mem::take(&mut self.outbox[shard]);
            waiting.push(self.request(shard, calls, false).await);
        }
        let local = std::mem::take(&mut self.outbox[own]);
        if !local.is_empty() {
            self.core.apply_from_master(local, false).await;
        }
        for rx in waiting.into_iter().flatten() {
            // A stopped shard (shutdown) drops its reply channel.
            let _ = rx.await;
        }
    }

    /// Applies `calls` on `shard` and waits.
    async fn send(&mut self, shard: usize, calls: Vec<Call>, atomic: bool) {
        if shard == self.core.shard_id {
            self.core.apply_from_master(calls, atomic).await;
        } else if let Some(rx) = self.request(shard, calls, atomic).await {
            let _ = rx.await;
        }
    }

    async fn request(
        &self,
        shard: usize,
        calls: Vec<Call>,
        atomic: bool,
    ) -> Option<oneshot::Receiver<()>> {
        let (reply, rx) = oneshot::channel();
        let request = Request::Apply {
            calls,
            atomic,
            reply,
        };
        self.core.senders.send(shard, request).await.ok()?;
        Some(rx)
    }

    fn skip(&mut self, argv: &[Bytes], why: &str) {
        self.skipped += 1;
        if self.skipped <= 10 {
            let name = argv
                .first()
                .map(|a| String::from_utf8_lossy(a).into_owned())
                .unwrap_or_default();
            eprintln!("replica: skipped a command of the master's stream ({name}): {why}");
        }
    }
}
