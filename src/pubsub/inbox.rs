//! A subscribed connection's inbox: the messages delivered to it, already
//! encoded for its protocol, waiting for the connection to write them
//! between its replies. Delivery never waits: a publisher only appends
//! here, and the `pubsub` class of `client-output-buffer-limit` decides
//! when a subscriber that falls behind is disconnected instead (Redis's
//! rules: over the hard limit at once; over the soft limit for longer than
//! its seconds).

use std::cell::{Cell, RefCell};
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::Instant;

use super::{encode_message, Kind};
use crate::config::ClientClass;
use crate::node::{ClientInfo, Node};
use crate::util::output_limit::LimitWatch;

pub struct Inbox {
    client: Arc<ClientInfo>,
    resp3: Cell<bool>,
    /// Encoded messages not taken by the connection yet.
    queued: RefCell<Vec<u8>>,
    /// Bytes the connection took to write and has not written yet: they
    /// count against the limits too (the client has not read them).
    writing: Cell<usize>,
    /// The connection waiting for a message.
    waker: Cell<Option<Waker>>,
    /// How long the unwritten bytes have been over the soft limit.
    limit_watch: LimitWatch,
    /// Over its limit: the client is being disconnected, nothing more is
    /// queued.
    closed: Cell<bool>,
}

impl Inbox {
    pub fn new(client: Arc<ClientInfo>, resp3: bool) -> Inbox {
        Inbox {
            client,
            resp3: Cell::new(resp3),
            queued: RefCell::default(),
            writing: Cell::new(0),
            waker: Cell::new(None),
            limit_watch: LimitWatch::default(),
            closed: Cell::new(false),
        }
    }

    pub fn client_id(&self) -> u64 {
        self.client.id
    }

    /// The protocol messages are encoded in from now on (HELLO, RESET).
    pub fn set_resp3(&self, resp3: bool) {
        self.resp3.set(resp3);
    }

    /// Queues one message for the client and wakes its connection; past
    /// the client's limit, disconnects it instead.
    pub fn push(
        &self,
        node: &Node,
        kind: Kind,
        pattern: Option<&[u8]>,
        channel: &[u8],
        message: &[u8],
    ) {
        if self.closed.get() {
            return;
        }
        let unwritten = {
            let mut queued = self.queued.borrow_mut();
            encode_message(
                &mut queued,
                self.resp3.get(),
                kind,
                pattern,
                channel,
                message,
            );
            queued.len() + self.writing.get()
        };
        let limit = node.config.buffer_limit(ClientClass::Pubsub);
        if self.limit_watch.exceeded(limit, unwritten, Instant::now()) {
            self.close(node, unwritten);
        }
        if let Some(waker) = self.waker.take() {
            waker.wake();
        }
    }

    /// Disconnects the client (over its output buffer limit), as Redis
    /// does: at once, with a line in the log.
    fn close(&self, node: &Node, unwritten: usize) {
        self.closed.set(true);
        *self.queued.borrow_mut() = Vec::new();
        eprintln!(
            "Client id={} addr={} scheduled to be closed ASAP for overcoming of output buffer limits (pubsub, {unwritten} bytes unwritten).",
            self.client.id, self.client.addr
        );
        let id = self.client.id;
        node.kill_clients(|c| c.id == id);
    }

    /// Whether the client is being disconnected for its limit.
    pub fn is_closed(&self) -> bool {
        self.closed.get()
    }

    /// Ready when messages are queued (or the client is closed).
    pub fn poll_ready(&self, cx: &mut Context<'_>) -> Poll<()> {
        if self.closed.get() || !self.queued.borrow().is_empty() {
            return Poll::Ready(());
        }
        self.waker.set(Some(cx.waker().clone()));
        Poll::Pending
    }

    /// Whether messages wait to be taken.
    pub fn has_queued(&self) -> bool {
        !self.queued.borrow().is_empty()
    }

    /// Moves the queued messages to the end of `out`, the connection's
    /// reply bytes: they count as unwritten until [`Inbox::written`].
    pub fn take_into(&self, out: &mut Vec<u8>) {
        let mut queued = self.queued.borrow_mut();
        if queued.is_empty() {
            return;
        }
        self.writing.set(self.writing.get() + queued.len());
        if out.is_empty() {
            std::mem::swap(&mut *queued, out);
        } else {
            out.extend_from_slice(&queued);
            queued.clear();
        }
    }

    /// The connection wrote everything it took.
    pub fn written(&self) {
        self.writing.set(0);
        if self.queued.borrow().is_empty() {
            self.limit_watch.drained();
        }
    }
}
