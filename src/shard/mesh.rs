//! The cross-core mesh: one bounded channel for every ordered pair of
//! shards, built before the executors start. Requests carry a oneshot for
//! their replies, so replies need no channels of their own and a request
//! loop never blocks on a reply queue (no cycle, no deadlock).

use bytes::Bytes;
use futures_channel::oneshot;
use glommio::channels::shared_channel::{
    self, ConnectedReceiver, ConnectedSender, SharedReceiver, SharedSender,
};

use super::{Call, ShardReport, Watched};
use crate::config::MESH_CHANNEL_CAPACITY;
use crate::protocol::Reply;
use crate::rdb::snapshot::CaptureStep;

/// What one core asks of another.
pub enum Request {
    /// Commands to run in order; the replies come back in the same order
    /// (see [`BatchReplies`]).
    Batch {
        calls: Vec<Call>,
        reply: oneshot::Sender<BatchReplies>,
    },
    /// WATCH: register `keys` of database `db`; replies with their versions.
    Watch {
        db: u8,
        keys: Vec<Bytes>,
        reply: oneshot::Sender<Vec<u64>>,
    },
    /// EXEC: forget the `watched` keys and, if none changed, run `calls`
    /// back to back (see [`super::run_transaction`]); `None` if one changed.
    /// With no calls: check and forget (UNWATCH, DISCARD, disconnect, and
    /// watched keys of other shards than the transaction's).
    Transaction {
        watched: Vec<Watched>,
        calls: Vec<Call>,
        reply: oneshot::Sender<Option<Vec<Reply>>>,
    },
    /// A statistics snapshot for INFO.
    Report { reply: oneshot::Sender<ShardReport> },
    /// CONFIG RESETSTAT: zero the shard's counters.
    ResetStats { reply: oneshot::Sender<()> },
    /// FUNCTION LOAD, DELETE, FLUSH or RESTORE, to shard 0 only: it makes
    /// and logs every change of the libraries (see `cmd::functions`).
    Functions {
        argv: Vec<Bytes>,
        reply: oneshot::Sender<Reply>,
    },
    /// A log rewrite's first step (see `Core::begin_rewrite`).
    RewriteBegin {
        incr: std::path::PathBuf,
        reply: oneshot::Sender<std::io::Result<Vec<Bytes>>>,
    },
    /// DEBUG RELOAD: the keyspace becomes the RDB file's (see
    /// `Core::reload_rdb`).
    Reload {
        path: std::path::PathBuf,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A replica's full sync: the keyspace becomes the payload's (see
    /// `Core::load_sync`); one copy of the bytes serves every shard.
    LoadSync {
        payload: Bytes,
        reply: oneshot::Sender<Result<(), String>>,
    },
    /// A replica's share of its master's stream: `calls` run in order,
    /// waiting for the shard however long a script holds it (see
    /// `Core::apply_from_master`); `atomic` for a MULTI ... EXEC block.
    Apply {
        calls: Vec<Call>,
        atomic: bool,
        reply: oneshot::Sender<()>,
    },
    /// `CONFIG SET appendonly yes` on the shard (see `Core::start_log`).
    LogStart {
        incr: std::path::PathBuf,
        reply: oneshot::Sender<std::io::Result<Vec<Bytes>>>,
    },
    /// `CONFIG SET appendonly no` on the shard (see `Core::stop_log`).
    LogStop {
        reply: oneshot::Sender<std::io::Result<()>>,
    },
    /// Pub/Sub messages published on the sending core for subscribers on
    /// this one, oldest first (see `pubsub::hub`).
    Publish {
        messages: Vec<crate::pubsub::Envelope>,
    },
    /// The first replica came: the shard feeds the replication stream
    /// from now on (see `Core::start_replication`).
    Replicate {
        backlog: std::sync::Arc<crate::replication::backlog::Backlog>,
        reply: oneshot::Sender<std::io::Result<()>>,
    },
    /// A full sync's snapshot of the shard (see `Core::freeze_for_sync`).
    SyncFreeze {
        reply: oneshot::Sender<std::io::Result<Vec<Bytes>>>,
    },
    /// A save's view of the shard (see `rdb::snapshot::Capture`).
    Capture {
        step: CaptureStep,
        reply: oneshot::Sender<std::io::Result<Option<Vec<u8>>>>,
    },
}

/// The answer to a [`Request::Batch`]: the replies of the calls run, in
/// order. The shard stops early once those replies pass
/// [`MAX_REPLY_BUFFER_BYTES`](crate::config::MAX_REPLY_BUFFER_BYTES) (the client may not be reading them): the
/// calls it did not run come back in `unrun`, in order, for the sender to
/// send again once it has written the replies out. At least one call runs.
#[derive(Default)]
pub struct BatchReplies {
    pub replies: Vec<Reply>,
    pub unrun: Vec<Call>,
}

/// One shard's ends of the mesh, before its executor connects them.
pub struct MeshEnds {
    /// `senders[j]`: to shard j (None for itself).
    pub senders: Vec<Option<SharedSender<Request>>>,
    /// `receivers[i]`: from shard i (None for itself).
    pub receivers: Vec<Option<SharedReceiver<Request>>>,
}

/// Builds every shard's ends of a full mesh of `shards` shards.
pub fn build(shards: usize) -> Vec<MeshEnds> {
    let mut ends: Vec<MeshEnds> = (0..shards)
        .map(|_| MeshEnds {
            senders: (0..shards).map(|_| None).collect(),
            receivers: (0..shards).map(|_| None).collect(),
        })
        .collect();
    for from in 0..shards {
        for to in 0..shards {
            if from != to {
                let (tx, rx) = shared_channel::new_bounded(MESH_CHANNEL_CAPACITY);
                ends[from].senders[to] = Some(tx);
                ends[to].receivers[from] = Some(rx);
            }
        }
    }
    ends
}

/// A shard's connected senders, used by every connection on its core.
pub struct Senders {
    to: Vec<Option<ConnectedSender<Request>>>,
}

impl Senders {
    /// Sends `req` to shard `shard`; waits while its channel is full. Fails
    /// only when the peer has stopped (shutdown).
    pub async fn send(&self, shard: usize, req: Request) -> Result<(), ()> {
        match self.to.get(shard) {
            Some(Some(tx)) => tx.send(req).await.map_err(|_| ()),
            _ => Err(()),
        }
    }

    /// Sends every other shard the request `ask` builds around a reply
    /// channel, all at once, and gathers the answers in shard order (a
    /// shard that has stopped, at shutdown, gives none).
    pub async fn ask_others<T>(&self, ask: impl Fn(oneshot::Sender<T>) -> Request) -> Vec<T> {
        let mut waiting = Vec::new();
        for (shard, tx) in self.to.iter().enumerate() {
            if tx.is_some() {
                let (reply, rx) = oneshot::channel();
                if self.send(shard, ask(reply)).await.is_ok() {
                    waiting.push(rx);
                }
            }
        }
        let mut answers = Vec::with_capacity(waiting.len());
        for rx in waiting {
            if let Ok(answer) = rx.await {
                answers.push(answer);
            }
        }
        answers
    }
}

/// Connects this executor's ends; must run on the shard's own executor.
/// Each end waits for its peer, so the receivers connect in tasks of their
/// own while the senders connect: no two shards wait on each other.
pub async fn connect(ends: MeshEnds) -> (Senders, Vec<ConnectedReceiver<Request>>) {
    let receiving: Vec<_> = ends
        .receivers
        .into_iter()
        .flatten()
        .map(|r| glommio::spawn_local(r.connect()))
        .collect();
    let mut to = Vec::with_capacity(ends.senders.len());
    for s in ends.senders {
        to.push(match s {
            Some(s) => Some(s.connect().await),
            None => None,
        });
    }
    let mut from = Vec::new();
    for r in receiving {
        from.push(r.await);
    }
    (Senders { to }, from)
}
