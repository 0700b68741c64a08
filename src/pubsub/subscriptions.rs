//! What one connection is subscribed to: its channels, patterns and shard
//! channels, in the order subscribed, and its inbox. Dropping it (the
//! connection closed, RESET) unsubscribes everything, so the node's index
//! never counts a subscriber that is gone.

use std::rc::Rc;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;
use hashbrown::HashSet;

use super::{Hub, Inbox, Kind};
use crate::node::ClientInfo;

pub struct Subscriptions {
    pub inbox: Rc<Inbox>,
    hub: Rc<Hub>,
    client: Arc<ClientInfo>,
    /// Per kind (index `Kind as usize`): names in subscription order, and
    /// the same names for lookups.
    order: [Vec<Bytes>; 3],
    names: [HashSet<Bytes>; 3],
}

impl Subscriptions {
    pub fn new(hub: Rc<Hub>, client: Arc<ClientInfo>, resp3: bool) -> Subscriptions {
        Subscriptions {
            inbox: Rc::new(Inbox::new(client.clone(), resp3)),
            hub,
            client,
            order: Default::default(),
            names: Default::default(),
        }
    }

    /// Subscriptions of `kind`.
    pub fn count(&self, kind: Kind) -> usize {
        self.order[kind as usize].len()
    }

    /// Channels plus patterns: what SUBSCRIBE / PSUBSCRIBE confirmations
    /// count (Redis's `clientSubscriptionsCount`).
    pub fn channels_and_patterns(&self) -> usize {
        self.count(Kind::Channel) + self.count(Kind::Pattern)
    }

    /// Every subscription: a RESP2 connection with any is in subscribed
    /// mode.
    pub fn total(&self) -> usize {
        self.order.iter().map(Vec::len).sum()
    }

    /// The names of `kind`, in subscription order.
    pub fn names(&self, kind: Kind) -> Vec<Bytes> {
        self.order[kind as usize].clone()
    }

    /// Subscribes to `name`; false if already subscribed.
    pub fn subscribe(&mut self, kind: Kind, name: &Bytes) -> bool {
        if !self.names[kind as usize].insert(name.clone()) {
            return false;
        }
        self.order[kind as usize].push(name.clone());
        self.hub.subscribe(kind, name, &self.inbox);
        self.publish_counts();
        true
    }

    /// Unsubscribes from `name`; false if not subscribed.
    pub fn unsubscribe(&mut self, kind: Kind, name: &[u8]) -> bool {
        if !self.names[kind as usize].remove(name) {
            return false;
        }
        let order = &mut self.order[kind as usize];
        if let Some(at) = order.iter().position(|n| n[..] == *name) {
            order.remove(at);
        }
        self.hub.unsubscribe(kind, name, &self.inbox);
        self.publish_counts();
        true
    }

    /// Shows the counts in CLIENT LIST (`sub=`, `psub=`, `ssub=`).
    fn publish_counts(&self) {
        let c = &self.client;
        c.sub
            .store(self.count(Kind::Channel) as u32, Ordering::Relaxed);
        c.psub
            .store(self.count(Kind::Pattern) as u32, Ordering::Relaxed);
        c.ssub
            .store(self.count(Kind::Shard) as u32, Ordering::Relaxed);
    }
}

impl Drop for Subscriptions {
    fn drop(&mut self) {
        for kind in [Kind::Channel, Kind::Pattern, Kind::Shard] {
            for name in std::mem::take(&mut self.order[kind as usize]) {
                self.hub.unsubscribe(kind, &name, &self.inbox);
            }
            self.names[kind as usize].clear();
        }
        self.publish_counts();
    }
}
