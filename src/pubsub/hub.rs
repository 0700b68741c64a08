//! A core's pub/sub hub: the subscribers whose connections live on this
//! core, and the messages waiting to go to other cores.
//!
//! The publish API for shard-side code is [`Hub::publish`]: commands and
//! scripts reach it as `Ctx::publish` (see `cmd::Ctx`), other shard code
//! (active expiry, keyspace notifications) as `ShardState::publish`. It
//! never waits: local subscribers get the message in their inboxes at
//! once; for each other core with receivers it is queued here and sent by
//! the core's forwarding task (`shard::serve::forward_pubsub`), one mesh
//! request per destination per turn, first in first out, so messages from
//! one core to one channel arrive in the order published.

use std::cell::{Cell, RefCell};
use std::rc::{Rc, Weak};
use std::sync::Arc;
use std::task::{Poll, Waker};

use std::collections::VecDeque;

use bytes::Bytes;
use hashbrown::HashMap;

use super::{Envelope, Inbox, Kind};
use crate::config::{
    PUBSUB_FORWARD_BATCH_MESSAGES, PUBSUB_FORWARD_PAUSE_BYTES, PUBSUB_FORWARD_QUEUE_MAX_BYTES,
};
use crate::node::Node;
use crate::util::glob::glob_match;

/// Local subscribers of one kind, by name.
type Subscribers = HashMap<Bytes, Vec<Rc<Inbox>>>;

/// Messages for one other core, not sent yet.
#[derive(Default)]
struct Outgoing {
    messages: VecDeque<Envelope>,
    /// About how many bytes they hold (see
    /// [`PUBSUB_FORWARD_QUEUE_MAX_BYTES`]).
    bytes: usize,
    /// Messages dropped since the queue last had room (logged once per
    /// overflow).
    dropped: u64,
}

/// About how many bytes a queued message holds (its bytes and the
/// envelope's).
fn queued_size(envelope: &Envelope) -> usize {
    envelope.channel.len() + envelope.message.len() + std::mem::size_of::<Envelope>()
}

impl Outgoing {
    fn push(&mut self, envelope: &Envelope, to: usize) {
        let size = queued_size(envelope);
        if self.bytes + size > PUBSUB_FORWARD_QUEUE_MAX_BYTES {
            if self.dropped == 0 {
                eprintln!(
                    "Pub/Sub: core {to} is not taking messages ({} bytes queued for it): dropping messages for it until it catches up",
                    self.bytes
                );
            }
            self.dropped += 1;
            return;
        }
        if self.dropped > 0 {
            eprintln!(
                "Pub/Sub: core {to} caught up; {} messages for it were dropped",
                self.dropped
            );
            self.dropped = 0;
        }
        self.bytes += size;
        self.messages.push_back(envelope.clone());
    }

    /// The oldest messages, at most [`PUBSUB_FORWARD_BATCH_MESSAGES`].
    fn take_batch(&mut self) -> Vec<Envelope> {
        let n = self.messages.len().min(PUBSUB_FORWARD_BATCH_MESSAGES);
        let batch: Vec<Envelope> = self.messages.drain(..n).collect();
        let taken: usize = batch.iter().map(queued_size).sum();
        self.bytes = self.bytes.saturating_sub(taken);
        batch
    }
}

pub struct Hub {
    core: usize,
    node: Arc<Node>,
    /// Per kind (index `Kind as usize`).
    local: RefCell<[Subscribers; 4]>,
    /// Per destination core, the messages not sent yet, oldest first.
    outgoing: RefCell<Vec<Outgoing>>,
    /// The forwarding task, waiting for messages to send.
    forwarder: Cell<Option<Waker>>,
    /// Scratch per-core receiver counts (no allocation per publish).
    per_core: RefCell<Vec<u32>>,
    /// Inboxes above their soft limit, for [`Hub::check_limits`] (Redis's
    /// `clientsCron` checks every client; only these can be cut off).
    over_soft: RefCell<Vec<Weak<Inbox>>>,
}

impl Hub {
    /// The hub of shard `core` of `node`.
    pub fn new(core: usize, node: Arc<Node>) -> Hub {
        let cores = node.shards();
        Hub {
            core,
            local: RefCell::default(),
            outgoing: RefCell::new((0..cores).map(|_| Outgoing::default()).collect()),
            forwarder: Cell::new(None),
            per_core: RefCell::new(vec![0; cores]),
            over_soft: RefCell::default(),
            node,
        }
    }

    /// A hub of its own one-core node (unit tests and benchmarks that
    /// build a shard without a server).
    pub fn detached() -> Hub {
        let node = Node::new(crate::config::Config::default(), vec![0]);
        Hub::new(0, Arc::new(node))
    }

    pub fn node(&self) -> &Node {
        &self.node
    }

    /// Publishes `message` to `channel` (PUBLISH's semantics: channel and
    /// matching pattern subscribers on every core) and returns how many
    /// receivers it has, as PUBLISH replies. Never waits.
    pub fn publish(&self, channel: &[u8], message: &[u8]) -> usize {
        self.send(Kind::Channel, channel, message)
    }

    /// SPUBLISH: to the subscribers of shard channel `channel`.
    pub fn publish_shard(&self, channel: &[u8], message: &[u8]) -> usize {
        self.send(Kind::Shard, channel, message)
    }

    /// Whether any core has a MONITOR client (one atomic load).
    pub fn monitored(&self) -> bool {
        self.node.pubsub.any(Kind::Monitor)
    }

    /// Sends a MONITOR line (already encoded, see `pubsub::monitor`) to
    /// every monitor on every core.
    pub fn feed_monitors(&self, line: &[u8]) {
        self.send(Kind::Monitor, b"", line);
    }

    fn send(&self, kind: Kind, channel: &[u8], message: &[u8]) -> usize {
        let index = &self.node.pubsub;
        if !index.may_receive(kind) {
            return 0;
        }
        let mut per_core = self.per_core.borrow_mut();
        per_core.iter_mut().for_each(|n| *n = 0);
        let total = index.receivers(kind, channel, &mut per_core);
        if total == 0 {
            return 0;
        }
        let mut envelope = None;
        let mut queued = false;
        for (core, &n) in per_core.iter().enumerate() {
            if n == 0 {
                continue;
            }
            if core == self.core {
                self.deliver_here(kind, channel, message);
                continue;
            }
            // Copied once, for every other core with receivers.
            let envelope = envelope.get_or_insert_with(|| Envelope {
                kind,
                channel: Bytes::copy_from_slice(channel),
                message: Bytes::copy_from_slice(message),
            });
            if let Some(queue) = self.outgoing.borrow_mut().get_mut(core) {
                queue.push(envelope, core);
                queued = true;
            }
        }
        if queued {
            if let Some(waker) = self.forwarder.take() {
                waker.wake();
            }
        }
        total
    }

    /// Delivers a message from another core's forwarding task to this
    /// core's subscribers.
    pub fn deliver(&self, envelope: &Envelope) {
        self.deliver_here(envelope.kind, &envelope.channel, &envelope.message);
    }

    /// Delivers a message of `kind` to this core's subscribers.
    fn deliver_here(&self, kind: Kind, channel: &[u8], message: &[u8]) {
        let local = self.local.borrow();
        if let Some(inboxes) = local[kind as usize].get(channel) {
            for inbox in inboxes {
                match kind {
                    Kind::Monitor => inbox.push_encoded(&self.node, message),
                    kind => inbox.push(&self.node, kind, None, channel, message),
                }
                self.watch_soft_limit(inbox);
            }
        }
        if kind == Kind::Channel {
            for (pattern, inboxes) in &local[Kind::Pattern as usize] {
                if glob_match(pattern, channel, false) {
                    for inbox in inboxes {
                        inbox.push(&self.node, Kind::Pattern, Some(pattern), channel, message);
                        self.watch_soft_limit(inbox);
                    }
                }
            }
        }
    }

    /// Remembers an inbox that went above its soft limit, so that it is
    /// cut off in time even if no message comes any more.
    fn watch_soft_limit(&self, inbox: &Rc<Inbox>) {
        if inbox.over_soft_limit() && inbox.mark_watched() {
            self.over_soft.borrow_mut().push(Rc::downgrade(inbox));
        }
    }

    /// The soft-limit part of `client-output-buffer-limit` for the
    /// inboxes above it: run by the core's cron (`hz` times a second).
    pub fn check_limits(&self) {
        let watched = std::mem::take(&mut *self.over_soft.borrow_mut());
        let mut still = Vec::new();
        for inbox in watched.into_iter().filter_map(|w| w.upgrade()) {
            inbox.check_limit(&self.node);
            if inbox.over_soft_limit() {
                still.push(Rc::downgrade(&inbox));
            } else {
                inbox.unmark_watched();
            }
        }
        self.over_soft.borrow_mut().extend(still);
    }

    /// Subscribes `inbox` (a connection on this core) to `name`.
    pub fn subscribe(&self, kind: Kind, name: &Bytes, inbox: &Rc<Inbox>) {
        self.local.borrow_mut()[kind as usize]
            .entry(name.clone())
            .or_default()
            .push(inbox.clone());
        self.node.pubsub.add(kind, name, self.core);
    }

    /// Unsubscribes `inbox` from `name`.
    pub fn unsubscribe(&self, kind: Kind, name: &[u8], inbox: &Rc<Inbox>) {
        let mut local = self.local.borrow_mut();
        let map = &mut local[kind as usize];
        let Some(inboxes) = map.get_mut(name) else {
            return;
        };
        let Some(at) = inboxes.iter().position(|i| Rc::ptr_eq(i, inbox)) else {
            return;
        };
        inboxes.swap_remove(at);
        if inboxes.is_empty() {
            map.remove(name);
        }
        self.node.pubsub.remove(kind, name, self.core);
    }

    /// Bytes of messages waiting to go to other cores.
    pub fn forward_backlog_bytes(&self) -> usize {
        self.outgoing.borrow().iter().map(|q| q.bytes).sum()
    }

    /// Flow control: while more than [`PUBSUB_FORWARD_PAUSE_BYTES`] wait
    /// to go to other cores (they are slower than this core's publishers),
    /// this core's connections read no new commands until half of that
    /// is left, so publishers slow down instead of messages piling up.
    /// A message is never dropped for a publisher that keeps going.
    pub async fn wait_for_forwarding(&self) {
        if self.forward_backlog_bytes() <= PUBSUB_FORWARD_PAUSE_BYTES {
            return;
        }
        while self.forward_backlog_bytes() > PUBSUB_FORWARD_PAUSE_BYTES / 2 {
            glommio::timer::sleep(std::time::Duration::from_millis(1)).await;
        }
    }

    /// Waits for messages to other cores; returns them per destination,
    /// at most [`PUBSUB_FORWARD_BATCH_MESSAGES`] each, oldest first (the
    /// rest come next time).
    pub async fn outgoing(&self) -> Vec<(usize, Vec<Envelope>)> {
        std::future::poll_fn(|cx| {
            let mut outgoing = self.outgoing.borrow_mut();
            let mut batches = Vec::new();
            for (core, queue) in outgoing.iter_mut().enumerate() {
                if !queue.messages.is_empty() {
                    batches.push((core, queue.take_batch()));
                }
            }
            if batches.is_empty() {
                self.forwarder.set(Some(cx.waker().clone()));
                Poll::Pending
            } else {
                Poll::Ready(batches)
            }
        })
        .await
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn local_delivery_counts_channel_and_pattern_receivers() {
        let hub = Hub::detached();
        let client = hub
            .node
            .register_client("a:1".into(), "b:2".into(), -1, 0)
            .expect("a client");
        let inbox = Rc::new(Inbox::new(client, false));
        assert_eq!(hub.publish(b"ch", b"x"), 0);
        hub.subscribe(Kind::Channel, &Bytes::from_static(b"ch"), &inbox);
        hub.subscribe(Kind::Pattern, &Bytes::from_static(b"c*"), &inbox);
        assert_eq!(hub.publish(b"ch", b"x"), 2);
        assert_eq!(hub.publish_shard(b"ch", b"x"), 0);
        let mut out = Vec::new();
        inbox.take_into(&mut out);
        assert_eq!(
            out,
            b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$1\r\nx\r\n\
              *4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$1\r\nx\r\n"
        );
        hub.unsubscribe(Kind::Channel, b"ch", &inbox);
        hub.unsubscribe(Kind::Pattern, b"c*", &inbox);
        assert_eq!(hub.publish(b"ch", b"x"), 0);
        assert!(!hub.node.pubsub.any(Kind::Pattern));
    }
}
