//! The replica side of replication (Redis's `server` group): REPLICAOF
//! (and its old name SLAVEOF) and ROLE. The link itself is
//! `server::replica`.

use bytes::Bytes;

use super::flags::*;
use super::{command, is, Command, ConnCtx};
use crate::protocol::Reply;
use crate::replication::SetMaster;

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("replicaof", 3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING).connection(replicaof),
    command("slaveof",   3, ADMIN | NOSCRIPT | STALE | NO_ASYNC_LOADING).connection(replicaof),
    command("role",      1, NOSCRIPT | LOADING | STALE | FAST)          .connection(role),
];

/// REPLICAOF host port | NO ONE (Redis 7.0's replies).
fn replicaof(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let node = ctx.core.node();
    let repl = &node.replication;
    if is(&argv[1], "no") && is(&argv[2], "one") {
        if repl.is_replica() {
            repl.unset_master();
            // CONFIG GET replicaof shows the master, as Redis's does.
            let _ = node.config.set_initial("replicaof", "");
            eprintln!("MASTER MODE enabled (user request)");
        }
        return Reply::ok();
    }
    let port = std::str::from_utf8(&argv[2])
        .ok()
        .and_then(crate::config::parse_port);
    let Some(port) = port else {
        return Reply::error("ERR Invalid master port");
    };
    let host = String::from_utf8_lossy(&argv[1]).into_owned();
    match repl.set_master(host.clone(), port) {
        SetMaster::AlreadyConnected => Reply::status("OK Already connected to specified master"),
        SetMaster::Started => {
            let _ = node
                .config
                .set_initial("replicaof", &format!("{host} {port}"));
            eprintln!("REPLICAOF {host}:{port} enabled (user request)");
            Reply::ok()
        }
    }
}

/// ROLE (see `replication::info::role_reply`).
fn role(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    crate::replication::info::role_reply(&ctx.core.node().replication, &ctx.core.node().master)
}
