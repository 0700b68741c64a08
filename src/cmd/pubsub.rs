//! Pub/Sub commands (Redis's `pubsub` group): SUBSCRIBE and the rest run
//! on the connection (they change what it is subscribed to, see
//! `pubsub::Subscriptions`); PUBLISH runs shard-side on the connection's
//! own shard (or a script's), SPUBLISH on its channel's shard, both
//! through `Ctx`; PUBSUB reads the node's index. The bus is `crate::pubsub`.

use bytes::Bytes;

use super::flags::*;
use super::{command, errors, Command, ConnCtx, Ctx, Session};
use crate::config::MAX_PUBSUB_NAMES_PER_COMMAND;
use crate::protocol::Reply;
use crate::pubsub::{Index, Kind, Subscriptions};
use crate::util::slot::key_hash_slot;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("subscribe",    -2, PUBSUB | NOSCRIPT | LOADING | STALE)                   .connection(subscribe),
    command("unsubscribe",  -1, PUBSUB | NOSCRIPT | LOADING | STALE)                   .connection(unsubscribe),
    command("psubscribe",   -2, PUBSUB | NOSCRIPT | LOADING | STALE)                   .connection(psubscribe),
    command("punsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE)                   .connection(punsubscribe),
    command("ssubscribe",   -2, PUBSUB | NOSCRIPT | LOADING | STALE).keys(1, -1, 1)    .connection(ssubscribe),
    command("sunsubscribe", -1, PUBSUB | NOSCRIPT | LOADING | STALE).keys(1, -1, 1)    .connection(sunsubscribe),
    command("publish",      3,  PUBSUB | LOADING | STALE | FAST)                       .shard(publish),
    command("spublish",     3,  PUBSUB | LOADING | STALE | FAST).key()                 .shard(spublish),
    command("pubsub",       -2, 0)                                                     .subcommands(PUBSUB_SUBCOMMANDS).container(),
];

/// PUBSUB's subcommands (Redis 7.0's arities and flags).
#[rustfmt::skip]
const PUBSUB_SUBCOMMANDS: &[Command] = &[
    command("pubsub|channels",      -2, PUBSUB | LOADING | STALE).connection(pubsub_channels),
    command("pubsub|numsub",        -2, PUBSUB | LOADING | STALE).connection(pubsub_numsub),
    command("pubsub|numpat",        2,  PUBSUB | LOADING | STALE).connection(pubsub_numpat),
    command("pubsub|shardchannels", -2, PUBSUB | LOADING | STALE).connection(pubsub_shardchannels),
    command("pubsub|shardnumsub",   -2, PUBSUB | LOADING | STALE).connection(pubsub_shardnumsub),
    command("pubsub|help",          2,  LOADING | STALE)         .connection(pubsub_help),
];

/// The commands a RESP2 connection in subscribed mode may run (Redis's
/// list in `processCommand`).
const ALLOWED_WHEN_SUBSCRIBED: &[&str] = &[
    "ping",
    "subscribe",
    "ssubscribe",
    "unsubscribe",
    "sunsubscribe",
    "psubscribe",
    "punsubscribe",
    "quit",
    "reset",
];

/// Redis's refusal of `c` on a RESP2 connection in subscribed mode, if
/// it is refused.
pub fn refused_when_subscribed(session: &Session, c: &Command) -> Option<Reply> {
    if session.resp3 || !session.subscribed() || ALLOWED_WHEN_SUBSCRIBED.contains(&c.name) {
        return None;
    }
    Some(Reply::error(format!(
        "ERR Can't execute '{}': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are allowed in this context",
        c.name
    )))
}

/// PUBLISH channel message: the receivers on every core.
fn publish(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    Reply::Int(ctx.publish(&argv[1], &argv[2]) as i64)
}

/// SPUBLISH shardchannel message (runs on the channel's shard).
fn spublish(ctx: &mut Ctx, argv: &[Bytes]) -> Reply {
    Reply::Int(ctx.pubsub.publish_shard(&argv[1], &argv[2]) as i64)
}

/// The connection's subscriptions, made on first use.
pub fn subscriptions<'a>(ctx: &'a mut ConnCtx<'_>) -> &'a mut Subscriptions {
    let hub = ctx.core.pubsub();
    let session = &mut *ctx.session;
    let (client, resp3) = (&session.client, session.resp3);
    session
        .pubsub
        .get_or_insert_with(|| Box::new(Subscriptions::new(hub.clone(), client.clone(), resp3)))
}

/// A subscribe / unsubscribe confirmation: a push in RESP3.
fn confirm(kind: Kind, subscribe: bool, name: Option<Bytes>, count: usize) -> Reply {
    Reply::Push(vec![
        Reply::bulk(crate::pubsub::confirm_name(kind, subscribe).as_bytes()),
        name.map_or(Reply::Nil, Reply::Bulk),
        Reply::Int(count as i64),
    ])
}

/// The count a confirmation of `kind` shows: shard channels count apart
/// (Redis's `clientShardSubscriptionsCount`), channels and patterns
/// together.
fn confirm_count(subs: &Subscriptions, kind: Kind) -> usize {
    match kind {
        Kind::Shard => subs.count(Kind::Shard),
        Kind::Channel | Kind::Pattern | Kind::Monitor => subs.channels_and_patterns(),
    }
}

fn too_many(names: &[Bytes]) -> Option<Reply> {
    (names.len() > MAX_PUBSUB_NAMES_PER_COMMAND).then(|| {
        Reply::error(format!(
            "ERR too many channels in one command (at most {MAX_PUBSUB_NAMES_PER_COMMAND})"
        ))
    })
}

fn subscribe_to(ctx: &mut ConnCtx, kind: Kind, names: &[Bytes]) -> Reply {
    if let Some(refused) = too_many(names) {
        return refused;
    }
    let subs = subscriptions(ctx);
    let replies = names
        .iter()
        .map(|name| {
            subs.subscribe(kind, name);
            confirm(kind, true, Some(name.clone()), confirm_count(subs, kind))
        })
        .collect();
    Reply::Sequence(replies)
}

/// Unsubscribes from `names`, or from every name of `kind` when none is
/// given (one confirmation with a nil name if there was none).
fn unsubscribe_from(ctx: &mut ConnCtx, kind: Kind, names: &[Bytes]) -> Reply {
    if let Some(refused) = too_many(names) {
        return refused;
    }
    let Some(subs) = ctx.session.pubsub.as_deref_mut() else {
        return match names {
            [] => confirm(kind, false, None, 0),
            names => Reply::Sequence(
                names
                    .iter()
                    .map(|n| confirm(kind, false, Some(n.clone()), 0))
                    .collect(),
            ),
        };
    };
    let all;
    let names = if names.is_empty() {
        all = subs.names(kind);
        if all.is_empty() {
            return confirm(kind, false, None, confirm_count(subs, kind));
        }
        &all[..]
    } else {
        names
    };
    let replies = names
        .iter()
        .map(|name| {
            subs.unsubscribe(kind, name);
            confirm(kind, false, Some(name.clone()), confirm_count(subs, kind))
        })
        .collect();
    Reply::Sequence(replies)
}

fn subscribe(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    subscribe_to(ctx, Kind::Channel, &argv[1..])
}

fn psubscribe(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    subscribe_to(ctx, Kind::Pattern, &argv[1..])
}

fn unsubscribe(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    unsubscribe_from(ctx, Kind::Channel, &argv[1..])
}

fn punsubscribe(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    unsubscribe_from(ctx, Kind::Pattern, &argv[1..])
}

/// Shard channels named in one command must share a slot, as Redis
/// Cluster requires (a shard channel lives on its slot's shard).
fn cross_slot(names: &[Bytes]) -> Option<Reply> {
    let first = key_hash_slot(names.first()?);
    names
        .iter()
        .any(|n| key_hash_slot(n) != first)
        .then(|| Reply::error(errors::CROSSSLOT))
}

fn ssubscribe(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    if let Some(refused) = cross_slot(&argv[1..]) {
        return refused;
    }
    subscribe_to(ctx, Kind::Shard, &argv[1..])
}

fn sunsubscribe(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    if let Some(refused) = cross_slot(&argv[1..]) {
        return refused;
    }
    unsubscribe_from(ctx, Kind::Shard, &argv[1..])
}

/// PUBSUB CHANNELS / SHARDCHANNELS [pattern].
fn channels(index: &Index, argv: &[Bytes], kind: Kind) -> Reply {
    if argv.len() > 3 {
        return Reply::error(format!(
            "ERR unknown subcommand or wrong number of arguments for '{}'. Try PUBSUB HELP.",
            String::from_utf8_lossy(&argv[1])
        ));
    }
    let pattern = argv.get(2).map(|p| &p[..]);
    let names = index.names(kind, pattern);
    Reply::Array(names.into_iter().map(Reply::Bulk).collect())
}

fn pubsub_channels(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    channels(&ctx.core.node().pubsub, argv, Kind::Channel)
}

fn pubsub_shardchannels(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    channels(&ctx.core.node().pubsub, argv, Kind::Shard)
}

/// PUBSUB NUMSUB / SHARDNUMSUB [channel ...]: name, count pairs in a
/// flat array (in RESP3 too, as Redis 7.0).
fn numsub(index: &Index, argv: &[Bytes], kind: Kind) -> Reply {
    Reply::Array(
        argv[2..]
            .iter()
            .flat_map(|name| {
                let n = index.subscribers(kind, name);
                [Reply::Bulk(name.clone()), Reply::Int(n as i64)]
            })
            .collect(),
    )
}

fn pubsub_numsub(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    numsub(&ctx.core.node().pubsub, argv, Kind::Channel)
}

fn pubsub_shardnumsub(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    numsub(&ctx.core.node().pubsub, argv, Kind::Shard)
}

/// PUBSUB's subcommands from a script's `redis.call` (Redis allows them
/// there): `name` is the subcommand's full name (`pubsub|numsub`).
pub fn from_script(index: &Index, name: &str, argv: &[Bytes]) -> Option<Reply> {
    Some(match name {
        "pubsub|channels" => channels(index, argv, Kind::Channel),
        "pubsub|shardchannels" => channels(index, argv, Kind::Shard),
        "pubsub|numsub" => numsub(index, argv, Kind::Channel),
        "pubsub|shardnumsub" => numsub(index, argv, Kind::Shard),
        "pubsub|numpat" => Reply::Int(index.pattern_count() as i64),
        "pubsub|help" => help(),
        _ => return None,
    })
}

fn pubsub_numpat(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Int(ctx.core.node().pubsub.pattern_count() as i64)
}

fn pubsub_help(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    help()
}

fn help() -> Reply {
    Reply::Array(
        [
            "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "CHANNELS [<pattern>]",
            "    Return the currently active channels matching a <pattern> (default: '*').",
            "NUMPAT",
            "    Return number of subscriptions to patterns.",
            "NUMSUB [<channel> ...]",
            "    Return the number of subscribers for the specified channels, excluding",
            "    pattern subscriptions(default: no channels).",
            "SHARDCHANNELS [<pattern>]",
            "    Return the currently active shard level channels matching a <pattern> (default: '*').",
            "SHARDNUMSUB [<shardchannel> ...]",
            "    Return the number of subscribers for the specified shard level channel(s)",
            "HELP",
            "    Prints this help.",
        ]
        .iter()
        .map(|l| Reply::Status((*l).into()))
        .collect(),
    )
}

/// PING in RESP2 subscribed mode: `pong` and the argument (or an empty
/// string) as an array, as Redis answers there.
pub fn subscribed_ping(argv: &[Bytes]) -> Reply {
    Reply::Array(vec![
        Reply::bulk(b"pong"),
        Reply::Bulk(argv.get(1).cloned().unwrap_or_default()),
    ])
}
