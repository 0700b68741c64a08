//! The master side's commands: PSYNC and SYNC (the connection becomes a
//! replica's feed, `server::feed`), REPLCONF, and WAIT.

use std::time::{Duration, Instant};

use bytes::Bytes;

use super::flags::*;
use super::{command, errors, Command, ConnCtx, ConnFuture};
use crate::protocol::Reply;
use crate::replication::backlog::encode_command;
use crate::replication::Psync;
use crate::util::numbers::parse_i64;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("psync",    -3, ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI).connection(psync),
    command("sync",     1,  ADMIN | NOSCRIPT | NO_ASYNC_LOADING | NO_MULTI).connection(sync),
    command("replconf", -1, ADMIN | NOSCRIPT | LOADING | STALE | ALLOW_BUSY).connection(replconf),
    command("wait",     3,  NOSCRIPT).connection_waits(wait),
];

/// Redis's refusal of WAIT on a replica.
const WAIT_ON_REPLICA: &str = "ERR WAIT cannot be used with replica instances. Please also note that since Redis 4.0 if a replica is configured to be writable (which is not the default) writes to replicas are just local and are not propagated.";

/// How often a WAIT looks at the acknowledgements even if none came.
const WAIT_RECHECK: Duration = Duration::from_millis(100);

/// PSYNC replid offset: the connection turns into the replica's feed
/// once this reply-less command is done (see `server::feed`).
fn psync(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let Some(offset) = parse_i64(&argv[2]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    ask_for_stream(
        ctx,
        String::from_utf8_lossy(&argv[1]).into_owned(),
        offset,
        false,
    )
}

/// SYNC: the old full sync, with no `+FULLRESYNC` line.
fn sync(ctx: &mut ConnCtx, _argv: &[Bytes]) -> Reply {
    ask_for_stream(ctx, "?".into(), -1, true)
}

fn ask_for_stream(ctx: &mut ConnCtx, replid: String, offset: i64, legacy: bool) -> Reply {
    if ctx.core.node().replication.is_replica() {
        // Its stream would be its own shards' effects under its master's
        // id and offsets: a sub-replica could later resume from its
        // master at the wrong place.
        return Reply::error(
            "ERR chained replication is not supported: this node is a replica itself",
        );
    }
    if ctx.session.replica.psync.is_none() {
        ctx.session.replica.psync = Some(Psync {
            replid,
            offset,
            legacy,
        });
    }
    Reply::NoReply
}

/// REPLCONF option value ...: what a replica says of itself before PSYNC.
/// `ACK` from a client that is not a fed replica is ignored without a
/// reply, as Redis does (a fed replica's ACKs are read by its feed).
fn replconf(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    if argv.len().is_multiple_of(2) {
        return Reply::error(errors::wrong_args("replconf"));
    }
    let hello = &mut ctx.session.replica;
    for pair in argv[1..].chunks(2) {
        let (option, value) = (&pair[0], &pair[1]);
        let lower = option.to_ascii_lowercase();
        match lower.as_slice() {
            b"listening-port" => match parse_i64(value).and_then(|p| u16::try_from(p).ok()) {
                Some(port) => hello.listening_port = Some(port),
                None => return Reply::error(errors::NOT_INTEGER),
            },
            b"ip-address" => {
                hello.ip_address = Some(String::from_utf8_lossy(value).into_owned());
            }
            b"capa" => {
                if value.eq_ignore_ascii_case(b"eof") {
                    hello.capa_eof = true;
                } else if value.eq_ignore_ascii_case(b"psync2") {
                    hello.capa_psync2 = true;
                }
            }
            b"ack" | b"fack" => return Reply::NoReply,
            b"getack" | b"rdb-only" | b"rdb-filter-only" => {}
            _ => {
                return Reply::error(format!(
                    "ERR Unrecognized REPLCONF option: {}",
                    String::from_utf8_lossy(option)
                ))
            }
        }
    }
    Reply::ok()
}

/// WAIT numreplicas timeout: how many replicas have acknowledged the
/// stream up to where it was when WAIT began (so at least this client's
/// writes, which are all in the stream by then), waiting up to `timeout`
/// ms (0: for ever) for `numreplicas` of them.
fn wait<'a>(ctx: &'a mut ConnCtx<'_>, argv: &'a [Bytes]) -> ConnFuture<'a> {
    Box::pin(async move {
        let Some(wanted) = parse_i64(&argv[1]) else {
            return Reply::error(errors::NOT_INTEGER);
        };
        let timeout = match parse_i64(&argv[2]) {
            Some(t) if t < 0 => return Reply::error("ERR timeout is negative"),
            Some(t) => t as u64,
            None => return Reply::error("ERR timeout is not an integer or out of range"),
        };
        if ctx.core.node().replication.is_replica() {
            return Reply::error(WAIT_ON_REPLICA);
        }
        let master = &ctx.core.node().master;
        let target = master.offset();
        let acked = master.acked_at_least(target) as i64;
        if acked >= wanted {
            return Reply::Int(acked);
        }
        if let Some(backlog) = master.backlog() {
            let mut getack = Vec::new();
            encode_command(&mut getack, &[b"REPLCONF".as_slice(), b"GETACK", b"*"]);
            backlog.append(None, None, &getack, None);
        }
        let deadline = (timeout > 0).then(|| Instant::now() + Duration::from_millis(timeout));
        loop {
            let acked = master.acked_at_least(target) as i64;
            let left = deadline.map(|d| d.saturating_duration_since(Instant::now()));
            if acked >= wanted || left.is_some_and(|l| l.is_zero()) {
                return Reply::Int(acked);
            }
            let mut registered = false;
            let ack = futures_lite::future::poll_fn(|cx| {
                if registered {
                    return std::task::Poll::Ready(());
                }
                registered = true;
                master.wait_for_ack(cx.waker());
                std::task::Poll::Pending
            });
            let pause = left.map_or(WAIT_RECHECK, |l| l.min(WAIT_RECHECK));
            futures_lite::future::or(ack, glommio::timer::sleep(pause)).await;
        }
    })
}
