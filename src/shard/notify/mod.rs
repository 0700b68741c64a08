//! Where a shard's keyspace events go: drained from its queue
//! (`crate::notify::Notifications`) to the pub/sub bus (this core's
//! `pubsub::Hub`), in order, after each command (a script's and an
//! `EXEC`'s as each of their commands runs, as Redis delivers them) and
//! each tick of active expiry. The hub delivers to subscribers on every
//! core, in publish order from this core.

use super::core::Core;

/// Publishes this shard's pending keyspace events, oldest first.
pub fn publish_pending(core: &Core) {
    // Taken first: the shard is not borrowed while the hub delivers.
    let pending = core.state.borrow_mut().notify.take_pending();
    for (channel, message) in pending {
        core.pubsub.publish(&channel, &message);
    }
}

#[cfg(test)]
mod command_events;
