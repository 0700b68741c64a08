//! Connection commands (Redis's `connection` group): PING ECHO SELECT AUTH
//! HELLO QUIT RESET CLIENT. They act on the connection's [`Session`], never
//! on a shard. (Named `session`, not `connection`, so that it is never
//! confused with `server::connection`, the connection loop that runs them.)

use std::sync::atomic::Ordering;
use std::sync::Arc;

use bytes::Bytes;

use super::flags::*;
use super::{command, errors, is, Command, ConnCtx, CoreAccess, Tx};
use crate::config::{Param, DATABASES};
use crate::node::ClientInfo;
use crate::protocol::Reply;

/// Per-connection state that commands read and change.
pub struct Session {
    pub db: usize,
    pub resp3: bool,
    pub authenticated: bool,
    pub client: Arc<ClientInfo>,
    /// QUIT was received: reply, then close.
    pub quit: bool,
    /// Pub/Sub: what the connection is subscribed to and its inbox, from
    /// its first subscribe on.
    pub pubsub: Option<Box<crate::pubsub::Subscriptions>>,
    /// What a replica said of itself (`REPLCONF`), and its PSYNC.
    pub replica: crate::replication::Handshake,
}

impl Session {
    pub fn new(client: Arc<ClientInfo>, authenticated: bool) -> Self {
        Session {
            db: 0,
            resp3: false,
            authenticated,
            client,
            quit: false,
            replica: Default::default(),
            pubsub: None,
        }
    }

    /// In subscribed mode: subscribed to anything (in RESP2 only the
    /// Pub/Sub commands, PING, QUIT and RESET may run then).
    pub fn subscribed(&self) -> bool {
        self.pubsub.as_ref().is_some_and(|s| s.total() > 0)
    }

    /// Switches the protocol (HELLO, RESET): replies and messages.
    fn set_resp3(&mut self, resp3: bool) {
        self.resp3 = resp3;
        self.client
            .resp
            .store(if resp3 { 3 } else { 2 }, Ordering::Relaxed);
        if let Some(subs) = &self.pubsub {
            subs.inbox.set_resp3(resp3);
        }
    }

    fn set_db(&mut self, db: usize) {
        self.db = db;
        self.client.db.store(db as u8, Ordering::Relaxed);
    }
}

#[rustfmt::skip]
pub static COMMANDS: &[Command] = &[
    command("ping",   -1, FAST)                                                                    .connection(ping),
    command("echo",   2,  FAST | STALE)                                                            .connection(echo),
    command("select", 2,  LOADING | STALE | FAST | SWITCHES_DB)                                    .connection(select),
    command("auth",   -2, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY)                .connection(auth),
    command("hello",  -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY)                .connection(hello),
    command("quit",   -1, NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | RUNS_IN_MULTI).connection(quit),
    command("reset",  1,  NOSCRIPT | LOADING | STALE | FAST | NO_AUTH | ALLOW_BUSY | RUNS_IN_MULTI).transaction(Tx::Reset),
    command("client", -2, 0)                                                                       .subcommands(CLIENT).container(),
];

/// CLIENT's subcommands (Redis 7.0's arities and flags; SETINFO is 7.2's).
#[rustfmt::skip]
const CLIENT: &[Command] = &[
    command("client|id",      2,  NOSCRIPT | LOADING | STALE)        .connection(client_id),
    command("client|getname", 2,  NOSCRIPT | LOADING | STALE)        .connection(client_getname),
    command("client|setname", 3,  NOSCRIPT | LOADING | STALE)        .connection(client_setname),
    command("client|setinfo", 4,  NOSCRIPT | LOADING | STALE)        .connection(client_setinfo),
    command("client|info",    2,  NOSCRIPT | LOADING | STALE)        .connection(client_info),
    command("client|list",    -2, ADMIN | NOSCRIPT | LOADING | STALE).connection(client_list),
    command("client|kill",    -3, ADMIN | NOSCRIPT | LOADING | STALE).connection(client_kill),
    command("client|help",    2,  LOADING | STALE)                   .connection(client_help),
];

fn ping(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    if argv.len() <= 2 && !ctx.session.resp3 && ctx.session.subscribed() {
        return super::pubsub::subscribed_ping(argv);
    }
    match argv.len() {
        1 => Reply::status("PONG"),
        2 => Reply::Bulk(argv[1].clone()),
        _ => Reply::error(errors::wrong_args("ping")),
    }
}

fn echo(_: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    Reply::Bulk(argv[1].clone())
}

/// QUIT: the reply, then the connection closes.
fn quit(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    ctx.session.quit = true;
    Reply::ok()
}

/// RESET's part on the session (the connection has already ended any
/// transaction and forgotten the watched keys: [`Tx::Reset`]).
pub fn reset(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    let s = &mut *ctx.session;
    s.set_db(0);
    // Out of subscribed mode: every subscription goes.
    s.pubsub = None;
    s.set_resp3(false);
    s.authenticated = ctx.core.node().config.string(Param::Requirepass).is_empty();
    lock(&s.client.name).clear();
    Reply::status("RESET")
}

fn select(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let Some(db) = crate::util::numbers::parse_i64(&argv[1]) else {
        return Reply::error(errors::NOT_INTEGER);
    };
    if db < 0 || db >= DATABASES as i64 {
        return Reply::error(errors::DB_INDEX_OUT_OF_RANGE);
    }
    ctx.session.set_db(db as usize);
    Reply::ok()
}

/// Checks a username/password pair against `requirepass` (only the
/// `default` user exists).
fn check_password(core: &dyn CoreAccess, user: &[u8], pass: &[u8]) -> Result<(), Reply> {
    let required = core.node().config.string(Param::Requirepass);
    if user == b"default" && (required.is_empty() || required.as_bytes() == pass) {
        Ok(())
    } else {
        Err(Reply::error(errors::WRONGPASS))
    }
}

fn auth(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let (s, core) = (&mut *ctx.session, ctx.core);
    let (user, pass) = match argv.len() {
        2 => (&b"default"[..], &argv[1]),
        3 => (&argv[1][..], &argv[2]),
        _ => return Reply::error(errors::SYNTAX),
    };
    if argv.len() == 2 && core.node().config.string(Param::Requirepass).is_empty() {
        return Reply::error(
            "ERR AUTH <password> called without any password configured for the default user. Are you sure your configuration is correct?",
        );
    }
    match check_password(core, user, pass) {
        Ok(()) => {
            s.authenticated = true;
            Reply::ok()
        }
        Err(e) => e,
    }
}

fn hello(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let (s, core) = (&mut *ctx.session, ctx.core);
    let mut resp3 = s.resp3;
    let mut i = 1;
    if let Some(v) = argv.get(1) {
        match crate::util::numbers::parse_i64(v) {
            Some(2) => resp3 = false,
            Some(3) => resp3 = true,
            Some(_) => return Reply::error("NOPROTO unsupported protocol version"),
            None => return Reply::error("ERR Protocol version is not an integer or out of range"),
        }
        i = 2;
    }
    let mut name = None;
    while i < argv.len() {
        let more = argv.len() - i - 1;
        if is(&argv[i], "AUTH") && more >= 2 {
            if let Err(e) = check_password(core, &argv[i + 1], &argv[i + 2]) {
                return e;
            }
            s.authenticated = true;
            i += 3;
        } else if is(&argv[i], "SETNAME") && more >= 1 {
            if let Err(e) = valid_client_name(&argv[i + 1]) {
                return e;
            }
            name = Some(argv[i + 1].clone());
            i += 2;
        } else {
            return Reply::error(format!(
                "ERR Syntax error in HELLO option '{}'",
                String::from_utf8_lossy(&argv[i])
            ));
        }
    }
    if !s.authenticated {
        return Reply::error("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO <proto> AUTH <user> <pass> option can be used to authenticate the client and select the RESP protocol version at the same time");
    }
    if let Some(name) = name {
        *s.client.name.lock().unwrap_or_else(|e| e.into_inner()) =
            String::from_utf8_lossy(&name).into_owned();
    }
    s.set_resp3(resp3);
    let text = |t: &str| Reply::bulk(t.as_bytes());
    Reply::Map(vec![
        (text("server"), text("redis")),
        (text("version"), text(crate::REDIS_VERSION)),
        (text("proto"), Reply::Int(if resp3 { 3 } else { 2 })),
        (text("id"), Reply::Int(s.client.id as i64)),
        (text("mode"), text("standalone")),
        (
            text("role"),
            text(if core.node().replication.is_replica() {
                "replica"
            } else {
                "master"
            }),
        ),
        (text("modules"), Reply::Array(Vec::new())),
    ])
}

fn valid_client_name(name: &[u8]) -> Result<(), Reply> {
    if name.iter().all(|&c| (b'!'..=b'~').contains(&c)) {
        Ok(())
    } else {
        Err(Reply::error(
            "ERR Client names cannot contain spaces, newlines or special characters.",
        ))
    }
}

fn lock(m: &std::sync::Mutex<String>) -> std::sync::MutexGuard<'_, String> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn client_id(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Int(ctx.session.client.id as i64)
}

fn client_getname(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    let name = lock(&ctx.session.client.name);
    if name.is_empty() {
        Reply::Nil
    } else {
        Reply::bulk(name.as_bytes())
    }
}

fn client_setname(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    match valid_client_name(&argv[2]) {
        Ok(()) => {
            *lock(&ctx.session.client.name) = String::from_utf8_lossy(&argv[2]).into_owned();
            Reply::ok()
        }
        Err(e) => e,
    }
}

/// CLIENT SETINFO LIB-NAME | LIB-VER value (Redis 7.2).
fn client_setinfo(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let client = &ctx.session.client;
    let value = String::from_utf8_lossy(&argv[3]).into_owned();
    if value.contains(|c: char| !('!'..='~').contains(&c)) {
        return Reply::error(format!(
            "ERR {} cannot contain spaces, newlines or special characters.",
            String::from_utf8_lossy(&argv[2]).to_ascii_uppercase()
        ));
    }
    if is(&argv[2], "lib-name") {
        *lock(&client.lib_name) = value;
    } else if is(&argv[2], "lib-ver") {
        *lock(&client.lib_ver) = value;
    } else {
        return Reply::error(format!(
            "ERR Unrecognized option '{}'",
            String::from_utf8_lossy(&argv[2])
        ));
    }
    Reply::ok()
}

fn client_info(ctx: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Verbatim("txt", Bytes::from(client_line(&ctx.session.client)))
}

fn client_help(_: &mut ConnCtx, _: &[Bytes]) -> Reply {
    Reply::Array(
        [
            "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
            "ID",
            "    Return the ID of the current connection.",
            "GETNAME",
            "    Return the name of the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "SETINFO <option> <value>",
            "    Set client meta attr (LIB-NAME, LIB-VER).",
            "INFO",
            "    Return information about the current client connection.",
            "LIST [TYPE normal] [ID <id> [<id> ...]]",
            "    Return information about client connections.",
            "KILL <ip:port> | KILL <option> <value> [...]",
            "    Kill connections: ID, ADDR, LADDR, SKIPME.",
        ]
        .iter()
        .map(|l| Reply::Status((*l).into()))
        .collect(),
    )
}

/// CLIENT LIST's `flags=`: `O` for a MONITOR client, `P` for a
/// subscriber, `N` for none (as Redis 7.0 writes them).
fn client_flags(c: &ClientInfo) -> String {
    let mut flags = String::new();
    if c.monitor.load(Ordering::Relaxed) {
        flags.push('O');
    }
    if c.is_pubsub() {
        flags.push('P');
    }
    if flags.is_empty() {
        flags.push('N');
    }
    flags
}

/// One CLIENT LIST line, in Redis 7's field order.
fn client_line(c: &ClientInfo) -> String {
    let now = crate::util::time::now_ms();
    format!(
        "id={} addr={} laddr={} fd={} name={} age={} idle={} flags={} db={} sub={} psub={} ssub={} multi=-1 qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 omem=0 tot-mem=0 events=r cmd=NULL user=default redir=-1 resp={} lib-name={} lib-ver={} shard={}\n",
        c.id,
        c.addr,
        c.laddr,
        c.fd,
        lock(&c.name),
        c.created.elapsed().as_secs(),
        now.saturating_sub(c.last_command_ms.load(Ordering::Relaxed)) / 1000,
        client_flags(c),
        c.db.load(Ordering::Relaxed),
        c.sub.load(Ordering::Relaxed),
        c.psub.load(Ordering::Relaxed),
        c.ssub.load(Ordering::Relaxed),
        c.resp.load(Ordering::Relaxed),
        lock(&c.lib_name),
        lock(&c.lib_ver),
        c.shard,
    )
}

fn client_list(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let mut ids: Option<Vec<u64>> = None;
    // `Some(pubsub)`: only clients of that type (normal or pubsub).
    let mut of_type: Option<bool> = None;
    let mut i = 2;
    while i < argv.len() {
        if is(&argv[i], "type") && i + 1 < argv.len() {
            let t = argv[i + 1].to_ascii_lowercase();
            if !matches!(t.as_slice(), b"normal" | b"master" | b"replica" | b"pubsub") {
                return Reply::error(format!(
                    "ERR Unknown client type '{}'",
                    String::from_utf8_lossy(&argv[i + 1])
                ));
            }
            match t.as_slice() {
                b"normal" => of_type = Some(false),
                b"pubsub" => of_type = Some(true),
                _ => return Reply::Verbatim("txt", Bytes::new()),
            }
            i += 2;
        } else if is(&argv[i], "id") && i + 1 < argv.len() {
            let mut list = Vec::new();
            for a in &argv[i + 1..] {
                match crate::util::numbers::parse_i64(a) {
                    Some(n) if n > 0 => list.push(n as u64),
                    _ => return Reply::error("ERR Invalid client ID"),
                }
            }
            ids = Some(list);
            i = argv.len();
        } else {
            return Reply::error(errors::SYNTAX);
        }
    }
    let text: String = ctx
        .core
        .node()
        .clients()
        .iter()
        .filter(|c| ids.as_ref().is_none_or(|ids| ids.contains(&c.id)))
        .filter(|c| of_type.is_none_or(|pubsub| c.is_pubsub() == pubsub))
        .map(|c| client_line(c))
        .collect();
    Reply::Verbatim("txt", Bytes::from(text))
}

fn client_kill(ctx: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let core = ctx.core;
    if argv.len() == 3 {
        // Old form: CLIENT KILL addr:port
        let addr = String::from_utf8_lossy(&argv[2]).into_owned();
        let n = core.node().kill_clients(|c| c.addr == addr);
        return if n == 0 {
            Reply::error("ERR No such client")
        } else {
            Reply::ok()
        };
    }
    let (mut id, mut addr, mut laddr, mut skipme) = (None, None, None, true);
    // `Some(pubsub)`: only clients of that type (normal or pubsub).
    let mut of_type: Option<bool> = None;
    // Clients here are normal or pubsub ones of the `default` user: a
    // filter for another type (Sentinel and replication send `TYPE
    // master`/`replica`) matches none, but `TYPE master` breaks the link to
    // the master.
    let mut only_other_type = false;
    let mut master = false;
    let mut i = 2;
    while i + 1 < argv.len() {
        let v = String::from_utf8_lossy(&argv[i + 1]).into_owned();
        if is(&argv[i], "id") {
            match v.parse::<u64>() {
                Ok(n) if n > 0 => id = Some(n),
                _ => return Reply::error("ERR client-id should be greater than 0"),
            }
        } else if is(&argv[i], "addr") {
            addr = Some(v);
        } else if is(&argv[i], "laddr") {
            laddr = Some(v);
        } else if is(&argv[i], "skipme") {
            skipme = match v.to_ascii_lowercase().as_str() {
                "yes" => true,
                "no" => false,
                _ => return Reply::error(errors::SYNTAX),
            };
        } else if is(&argv[i], "type") {
            match v.to_ascii_lowercase().as_str() {
                "normal" => of_type = Some(false),
                "pubsub" => of_type = Some(true),
                "master" => master = true,
                "slave" | "replica" => only_other_type = true,
                _ => return Reply::error(format!("ERR Unknown client type '{v}'")),
            }
        } else if is(&argv[i], "user") {
            if v != "default" {
                return Reply::error(format!("ERR No such user '{v}'"));
            }
        } else {
            return Reply::error(errors::SYNTAX);
        }
        i += 2;
    }
    if i != argv.len() {
        return Reply::error(errors::SYNTAX);
    }
    if only_other_type {
        return Reply::Int(0);
    }
    if master {
        return Reply::Int(i64::from(core.node().replication.kill_link()));
    }
    let me = ctx.session.client.id;
    let n = core.node().kill_clients(|c| {
        id.is_none_or(|id| c.id == id)
            && addr.as_ref().is_none_or(|a| &c.addr == a)
            && laddr.as_ref().is_none_or(|a| &c.laddr == a)
            && of_type.is_none_or(|pubsub| c.is_pubsub() == pubsub)
            && !(skipme && c.id == me)
    });
    Reply::Int(n as i64)
}
