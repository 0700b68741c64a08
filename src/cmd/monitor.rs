//! MONITOR: every command executed on any core, as Redis 7.0 shows it.
//! The connection feeds each command it runs ([`feed`]: after it runs,
//! with the database it leaves selected; a script before it runs, so that
//! its `redis.call`s, fed by the shard as `lua`, come after it); lines
//! reach the monitors through the Pub/Sub bus (`pubsub::monitor`).
//! Not shown, as in Redis: admin commands (CONFIG, CLIENT KILL, DEBUG,
//! MONITOR ...) and refused ones (unknown, wrong arity, NOAUTH);
//! passwords (AUTH, HELLO ... AUTH) are shown as `(redacted)`.

use bytes::Bytes;

use super::flags::*;
use super::{command, Command, ConnCtx};
use crate::protocol::Reply;
use crate::pubsub::{monitor, Hub, Kind};

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("monitor", 1, ADMIN | NOSCRIPT | LOADING | STALE).connection(start_monitor),
];

/// Redis's refusal of keyspace commands from a MONITOR client (Redis
/// counts it as a replica).
pub const REPLICA_KEYSPACE: &str = "ERR Replica can't interact with the keyspace";

/// MONITOR: from now on the connection receives every command's line.
fn start_monitor(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    let subs = super::pubsub::subscriptions(ctx);
    subs.subscribe(Kind::Monitor, &Bytes::new());
    Reply::ok()
}

/// Whether `c` is shown to monitors at all.
pub fn shown(c: &Command) -> bool {
    !c.has(ADMIN)
}

/// Whether `c` is fed before it runs (scripts: their calls follow them).
pub fn fed_before(c: &Command) -> bool {
    matches!(c.run, super::Run::Script(_))
}

/// Feeds the monitors a command `client` ran in database `db` (the
/// caller checked [`shown`] and that anyone monitors).
pub fn feed(hub: &Hub, db: usize, client: &str, argv: &[Bytes]) {
    let redacted = redacted_from(argv);
    let args = argv.iter().enumerate().map(|(i, a)| {
        if redacted.contains(&i) {
            &b"(redacted)"[..]
        } else {
            &a[..]
        }
    });
    hub.feed_monitors(&monitor::line(db, client, args));
}

/// The positions of passwords in `argv`: every argument of AUTH; the two
/// after each of HELLO's AUTH options, found as HELLO parses them.
fn redacted_from(argv: &[Bytes]) -> Vec<usize> {
    if argv[0].eq_ignore_ascii_case(b"auth") {
        return (1..argv.len()).collect();
    }
    let mut redacted = Vec::new();
    if argv[0].eq_ignore_ascii_case(b"hello") {
        let mut i = 2;
        while i < argv.len() {
            let more = argv.len() - i - 1;
            if argv[i].eq_ignore_ascii_case(b"auth") && more >= 2 {
                redacted.extend([i + 1, i + 2]);
                i += 3;
            } else if argv[i].eq_ignore_ascii_case(b"setname") && more >= 1 {
                i += 2;
            } else {
                break;
            }
        }
    }
    redacted
}

#[cfg(test)]
mod tests {
    use super::*;

    fn argv(args: &[&str]) -> Vec<Bytes> {
        args.iter()
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect()
    }

    #[test]
    fn passwords_are_redacted_where_redis_redacts_them() {
        assert_eq!(redacted_from(&argv(&["AUTH", "pw"])), [1]);
        assert_eq!(redacted_from(&argv(&["auth", "user", "pw"])), [1, 2]);
        let hello = argv(&["HELLO", "3", "SETNAME", "auth", "AUTH", "u", "p"]);
        assert_eq!(redacted_from(&hello), [5, 6]);
        assert!(redacted_from(&argv(&["HELLO", "3", "AUTH", "u"])).is_empty());
        assert!(redacted_from(&argv(&["SET", "auth", "x"])).is_empty());
    }
}
