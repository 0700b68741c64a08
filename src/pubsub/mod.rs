//! Pub/Sub across cores.
//!
//! - [`Index`] (in `node::subscriptions`, as every core shares it): the
//!   node-wide subscription index (per name, per core counts), read by
//!   publishers, written by (un)subscribes.
//! - [`hub`]: a core's subscribers and its outgoing messages to other
//!   cores; the publish API shard-side code calls (`Ctx::publish`,
//!   `ShardState::publish`).
//! - [`inbox`]: a subscribed connection's queue of encoded messages, with
//!   its `client-output-buffer-limit` enforcement.
//! - [`subscriptions`]: what one connection is subscribed to, and the
//!   (un)subscribe steps the commands (`cmd::pubsub`) take.
//!
//! A message travels: publisher's core → index (count, destination cores)
//! → the local hub delivers at once; other cores' messages are queued per
//! destination and sent by the core's forwarding task over the mesh, in
//! order, so messages from one core to one channel arrive in publish order.

pub mod hub;
pub mod inbox;
pub mod subscriptions;

pub use crate::node::subscriptions::{Index, Kind};
pub use hub::Hub;
pub use inbox::Inbox;
pub use subscriptions::Subscriptions;

/// The first element of a message of `kind`.
pub fn message_name(kind: Kind) -> &'static [u8] {
    match kind {
        Kind::Channel => b"message",
        Kind::Pattern => b"pmessage",
        Kind::Shard => b"smessage",
    }
}

/// The first element of a subscribe / unsubscribe confirmation.
pub fn confirm_name(kind: Kind, subscribe: bool) -> &'static str {
    match (kind, subscribe) {
        (Kind::Channel, true) => "subscribe",
        (Kind::Channel, false) => "unsubscribe",
        (Kind::Pattern, true) => "psubscribe",
        (Kind::Pattern, false) => "punsubscribe",
        (Kind::Shard, true) => "ssubscribe",
        (Kind::Shard, false) => "sunsubscribe",
    }
}

/// One published message, as it crosses cores.
#[derive(Debug, Clone)]
pub struct Envelope {
    /// `Kind::Channel` (PUBLISH: channel and pattern subscribers) or
    /// `Kind::Shard` (SPUBLISH).
    pub kind: Kind,
    pub channel: bytes::Bytes,
    pub message: bytes::Bytes,
}

/// Appends a message frame: `message channel payload`, `pmessage pattern
/// channel payload` or `smessage channel payload`; a push (`>`) in RESP3,
/// an array in RESP2, as Redis sends them.
pub fn encode_message(
    out: &mut Vec<u8>,
    resp3: bool,
    kind: Kind,
    pattern: Option<&[u8]>,
    channel: &[u8],
    message: &[u8],
) {
    let parts = if pattern.is_some() { 4 } else { 3 };
    out.push(if resp3 { b'>' } else { b'*' });
    out.extend_from_slice(if parts == 4 { b"4\r\n" } else { b"3\r\n" });
    bulk(out, message_name(kind));
    if let Some(pattern) = pattern {
        bulk(out, pattern);
    }
    bulk(out, channel);
    bulk(out, message);
}

fn bulk(out: &mut Vec<u8>, data: &[u8]) {
    out.push(b'$');
    crate::util::numbers::format_i64(data.len() as i64, out);
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(data);
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn message_frames_as_redis_sends_them() {
        let mut out = Vec::new();
        encode_message(&mut out, false, Kind::Channel, None, b"ch", b"hi");
        assert_eq!(out, b"*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n");
        out.clear();
        encode_message(&mut out, true, Kind::Pattern, Some(b"c*"), b"ch", b"");
        assert_eq!(
            out,
            b">4\r\n$8\r\npmessage\r\n$2\r\nc*\r\n$2\r\nch\r\n$0\r\n\r\n"
        );
    }
}
