//! Keyspace notifications (`notify-keyspace-events`): each shard's queue
//! of events waiting to be published ([`queue::Notifications`]); the
//! classes and their letters are `util::keyspace_events`'s.
//!
//! Command code announces an event next to the change, as Redis's
//! `notifyKeyspaceEvent` calls sit next to each command's change:
//! `ctx.notify(Class::LIST, "lpush", key)`. Expired keys and keys created
//! are announced from what the databases report (the expired keys they
//! keep, `Db::take_created`), in the order the shard applied them. The
//! shard drains the queue to the pub/sub bus after each command and each
//! tick of active expiry (`shard::notify`).

pub mod queue;

pub use crate::util::keyspace_events::Class;
pub use queue::Notifications;
