//! Where a shard's keyspace events go: drained from its queue
//! (`crate::notify::Notifications`) to the pub/sub bus, in order, after
//! each command (a script's and an `EXEC`'s as each of their commands
//! runs, as Redis delivers them) and each tick of active expiry.
//!
//! The bus is not on this branch yet: [`publish`] is the one place to
//! connect it; until then the events are dropped here.

use super::core::Core;

/// Publishes this shard's pending keyspace events, oldest first.
pub fn publish_pending(core: &Core) {
    let pending = core.state.borrow_mut().notify.take_pending();
    for (channel, message) in pending {
        publish(core, &channel, &message);
    }
}

/// Publishes `message` on `channel` from `core`'s shard to subscribers on
/// every core.
fn publish(core: &Core, channel: &[u8], message: &[u8]) {
    let _ = (core, channel, message);
}

#[cfg(test)]
mod command_events;
