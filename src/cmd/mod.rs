//! The command table: every command's name, arity, flags, key positions and
//! routing, and the code that runs it ([`Run`]). One file per family (Redis's
//! groups; `session` is the connection group, `admin` the server group),
//! each starting with its table, one line per command, all built the same
//! way (see [`command`]). A container command (CLIENT, CONFIG, COMMAND,
//! SCRIPT, FUNCTION) has its subcommands as entries of their own;
//! [`resolve`] finds the entry a request names, as Redis does.
//!
//! Shard-side commands only touch the keyspace and return a [`Reply`]; the
//! same code serves a local call, a forwarded call and a script's
//! `redis.call`. Connection-side commands see the connection's [`Session`]
//! and their core through [`CoreAccess`] ([`ConnCtx`]); scripts run with
//! a `lua::ScriptHost`. Nothing here names the shard's types: the shard
//! (above) dispatches to this table.

/// The [`ShardFn`] of shard code that returns `Result<Reply, Reply>`
/// (argument errors travel with `?`): `.shard(fallible!(get))`. Defined
/// before the family modules so they can use it.
macro_rules! fallible {
    ($run:path) => {{
        fn run(ctx: &mut $crate::cmd::Ctx, argv: &[::bytes::Bytes]) -> $crate::protocol::Reply {
            $crate::cmd::reply($run(ctx, argv))
        }
        run as $crate::cmd::ShardFn
    }};
}

pub mod access;
pub mod admin;
pub mod args;
pub mod dump;
pub mod errors;
pub mod functions;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod monitor;
pub mod persistence;
pub mod pubsub;
pub mod replica;
pub mod replication;
pub mod scripting;
pub mod session;
pub mod sets;
pub mod strings;
pub mod transactions;
pub mod zsets;

use std::sync::LazyLock;

use bytes::Bytes;
use hashbrown::HashMap;

use crate::lua::ScriptHost;
use crate::node::{Node, ShardReport};
use crate::notify::{Class, Notifications};
use crate::protocol::Reply;
use crate::store::{Db, Keyspace};

pub use args::*;
pub use session::Session;
pub use transactions::Tx;

/// Command flags (bit set), as reported by COMMAND.
pub mod flags {
    pub const WRITE: u32 = 1 << 0;
    pub const READONLY: u32 = 1 << 1;
    pub const DENYOOM: u32 = 1 << 2;
    pub const ADMIN: u32 = 1 << 3;
    pub const NOSCRIPT: u32 = 1 << 4;
    pub const FAST: u32 = 1 << 5;
    /// Allowed before AUTH.
    pub const NO_AUTH: u32 = 1 << 6;
    /// Allowed while a script is busy.
    pub const ALLOW_BUSY: u32 = 1 << 7;
    pub const LOADING: u32 = 1 << 8;
    pub const STALE: u32 = 1 << 9;
    /// Not allowed inside MULTI.
    pub const NO_MULTI: u32 = 1 << 10;
    /// Refused while a replica loads its data in the background.
    pub const NO_ASYNC_LOADING: u32 = 1 << 11;
    pub const PUBSUB: u32 = 1 << 12;

    // shardis's own flags: properties the connection acts on, which COMMAND
    // does not report (they are not in NAMES).

    /// Runs at once inside MULTI instead of being queued (MULTI EXEC
    /// DISCARD WATCH, and QUIT RESET), as Redis exempts them.
    pub const RUNS_IN_MULTI: u32 = 1 << 16;
    /// Switches the connection's database to `argv[1]` (SELECT): inside
    /// MULTI, the commands queued after it use that database.
    pub const SWITCHES_DB: u32 = 1 << 17;
    /// Runs while this core's shard is busy, though Redis refuses it
    /// (INFO: how an operator sees the busy shard).
    pub const BUSY_OK: u32 = 1 << 18;

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (PUBSUB, "pubsub"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (ALLOW_BUSY, "allow_busy"),
        (NO_ASYNC_LOADING, "no_async_loading"),
        (NO_MULTI, "no_multi"),
    ];
}

/// Where a command's keys are in its arguments.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keys {
    None,
    /// `argv[first..=last]` by `step`; a negative `last` counts from the end.
    Range {
        first: usize,
        last: i32,
        step: usize,
    },
    /// A key count at `count_at`, the keys right after it; with `dest`,
    /// `argv[1]` is a key too (ZUNIONSTORE dest numkeys ...).
    Numkeys {
        count_at: usize,
        dest: bool,
    },
}

/// How results of a command split over shards are gathered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Gather {
    /// Integer replies added up (DEL, EXISTS, DBSIZE).
    SumInt,
    /// Every part answered OK (MSET, FLUSHALL).
    AllOk,
    /// Array replies put back in key order (MGET).
    ByKeyPosition,
    /// Array replies concatenated (KEYS).
    Concat,
    /// One non-nil reply picked at random (RANDOMKEY).
    AnyNonNil,
}

/// Which core runs a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// The shard owning its keys (all must share it, else CROSSSLOT);
    /// without keys, the connection's own shard.
    Keyed,
    /// Keys split per shard (step-sized groups stay together), then gathered.
    Fanout(Gather),
    /// Sent to every shard, then gathered.
    AllShards(Gather),
    /// SCAN: the cursor names the slot, hence the shard, to continue at.
    Scan,
    /// Runs on the connection (connection state or node-wide work).
    Connection,
}

/// Shard-side code: touches only the keyspace, returns the reply.
pub type ShardFn = fn(&mut Ctx, &[Bytes]) -> Reply;

/// A running script's reply, once it ends.
pub type ScriptFuture = std::pin::Pin<Box<dyn std::future::Future<Output = Reply>>>;

/// Scripts: they run in the core's Lua VM, which reaches the shard per
/// `redis.call` through [`ScriptHost`], and may be suspended while they
/// run, so they are async and own their arguments.
pub type ScriptFn = fn(std::rc::Rc<dyn ScriptHost>, Call, u64) -> ScriptFuture;

/// What connection-side code sees: the connection's session and its core.
pub struct ConnCtx<'a> {
    pub session: &'a mut Session,
    pub core: &'a dyn CoreAccess,
}

/// A future that runs on one core (not `Send`).
pub type LocalFuture<'a, T> = std::pin::Pin<Box<dyn std::future::Future<Output = T> + 'a>>;

/// What connection commands need from the core they run on: the node,
/// the script host (the VM, the node's scripts and functions), and the few
/// things only the shard can do. The shard implements it
/// (`shard::core`), so command code never names the shard's types.
pub trait CoreAccess: ScriptHost {
    /// What every core shares.
    fn node(&self) -> &Node;
    /// Whether a script or an EXEC holds this core's shard now.
    fn shard_held(&self) -> bool;
    /// This core's Pub/Sub hub.
    fn pubsub(&self) -> &std::rc::Rc<crate::pubsub::Hub>;
    /// A statistics snapshot of every shard, in shard order (INFO).
    fn reports(&self) -> LocalFuture<'_, Vec<ShardReport>>;
    /// Zeroes every shard's statistics (CONFIG RESETSTAT).
    fn reset_shard_stats(&self) -> LocalFuture<'_, ()>;
    /// Starts an RDB save of every shard (the node's background job
    /// slot must be claimed for it, see `node::Background`): returns once
    /// every shard is frozen (BGSAVE) or once the file is in place (SAVE);
    /// `Err`: the error reply's text.
    fn save(&self, wait: bool) -> LocalFuture<'_, Result<(), String>>;
    /// Starts a rewrite of the append-only log (slot claimed as for
    /// [`CoreAccess::save`]): returns once every shard has moved to its
    /// new file and is frozen.
    fn rewrite_log(&self) -> LocalFuture<'_, Result<(), String>>;
    /// DEBUG RELOAD's second half: every shard's keyspace (and the function
    /// libraries) become the RDB file's; `Err`: why, for the server log.
    fn reload_rdb(&self) -> LocalFuture<'_, Result<(), String>>;
    /// `CONFIG SET appendonly yes|no`: opens the log on every shard (its
    /// base written on in the background) or closes it; returns once the
    /// switch is made; `Err`: the error reply's text.
    fn set_appendonly(&self, on: bool) -> LocalFuture<'_, Result<(), String>>;
    /// Applies a change of the function libraries (FUNCTION LOAD, DELETE,
    /// FLUSH or RESTORE, `argv` the whole command) on core 0, where every
    /// such change is made and logged (see `functions`); its reply, once
    /// its record is committed as `appendfsync` asks.
    fn change_functions<'a>(&'a self, argv: &'a [Bytes]) -> LocalFuture<'a, Reply>;
}

/// Connection-side code that answers at once.
pub type ConnNowFn = fn(&mut ConnCtx<'_>, &[Bytes]) -> Reply;

/// A connection command's reply, once what it waits for is there.
pub type ConnFuture<'a> = std::pin::Pin<Box<dyn std::future::Future<Output = Reply> + 'a>>;

/// Connection-side code that may wait.
pub type ConnWaitFn = for<'a> fn(&'a mut ConnCtx<'_>, &'a [Bytes]) -> ConnFuture<'a>;

/// How a connection command runs.
#[derive(Clone, Copy)]
pub enum ConnectionFn {
    /// Answers at once (PING, SELECT, CLIENT ...): a plain call.
    Now(ConnNowFn),
    /// May wait: for every shard's report (INFO), a timer (DEBUG SLEEP),
    /// core 0 (a FUNCTION change). The connection watches for its
    /// client going away meanwhile, and then drops the future.
    Waits(ConnWaitFn),
}

/// How a command runs.
#[derive(Clone, Copy)]
pub enum Run {
    /// On the owning shard, with its keyspace borrowed.
    Shard(ShardFn),
    /// A script on the owning shard's core, holding the shard's gate.
    Script(ScriptFn),
    /// On the connection (connection state or node-wide work).
    Connection(ConnectionFn),
    /// A step of a transaction (MULTI EXEC DISCARD WATCH UNWATCH, and
    /// RESET, which ends one): the connection runs it on its own state
    /// (`server::connection::transaction`).
    Transaction(Tx),
}

impl Run {
    pub fn shard_fn(&self) -> Option<ShardFn> {
        match self {
            Run::Shard(f) => Some(*f),
            _ => None,
        }
    }
}

pub struct Command {
    /// Lower case, as COMMAND reports it; a subcommand's is
    /// `container|sub` (`script|load`).
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments (name included), -N at
    /// least N. A subcommand's counts the container's name too.
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    pub route: Route,
    pub run: Run,
    /// A container's subcommands (CLIENT KILL, SCRIPT LOAD ...), each a
    /// whole entry with its own arity, flags and code; empty for other
    /// commands.
    pub subcommands: &'static [Command],
}

impl Command {
    /// The subcommand `name` (any case) of this container.
    pub fn subcommand(&self, name: &[u8]) -> Option<&'static Command> {
        let prefix = self.name.len() + 1;
        self.subcommands
            .iter()
            .find(|s| s.name.as_bytes()[prefix..].eq_ignore_ascii_case(name))
    }

    pub fn has(&self, flag: u32) -> bool {
        self.flags & flag != 0
    }

    pub fn arity_ok(&self, argc: usize) -> bool {
        let argc = argc as i64;
        let arity = self.arity as i64;
        if arity >= 0 {
            argc == arity
        } else {
            argc >= -arity
        }
    }

    /// Indices of the key arguments in `argv`, without allocating.
    /// Malformed key counts yield what can be found; the command itself
    /// reports the error.
    pub fn key_positions(&self, argv: &[Bytes]) -> KeyPositions {
        let none = KeyPositions {
            dest: None,
            next: 0,
            end: 0,
            step: 1,
        };
        match self.keys {
            Keys::None => none,
            Keys::Range { first, last, step } => {
                let end = if last < 0 {
                    (argv.len() as i64 + last as i64 + 1).max(0) as usize
                } else {
                    (last as usize + 1).min(argv.len())
                };
                KeyPositions {
                    dest: None,
                    next: first,
                    end,
                    step: step.max(1),
                }
            }
            Keys::Numkeys { count_at, dest } => {
                let n = argv
                    .get(count_at)
                    .and_then(|a| crate::util::numbers::parse_i64(a))
                    .filter(|n| *n > 0)
                    .unwrap_or(0) as usize;
                let first = count_at + 1;
                KeyPositions {
                    dest: (dest && argv.len() > 1).then_some(1),
                    next: first,
                    end: first.saturating_add(n).min(argv.len()),
                    step: 1,
                }
            }
        }
    }

    /// [`Self::key_positions`] collected.
    pub fn key_indices(&self, argv: &[Bytes]) -> Vec<usize> {
        self.key_positions(argv).collect()
    }
}

/// Iterator over a command's key positions.
pub struct KeyPositions {
    dest: Option<usize>,
    next: usize,
    end: usize,
    step: usize,
}

impl Iterator for KeyPositions {
    type Item = usize;

    fn next(&mut self) -> Option<usize> {
        if let Some(d) = self.dest.take() {
            return Some(d);
        }
        (self.next < self.end).then(|| {
            let i = self.next;
            self.next += self.step;
            i
        })
    }
}

/// Starts a table entry: its name (lower case, as COMMAND reports it), its
/// Redis arity (N: exactly N arguments, the name included; -N: at least N)
/// and its flags. Without more, it has no keys and runs on the connection's
/// own shard; the methods of [`Spec`] add keys and routing, and one of its
/// run methods (`shard`, `script`, `connection`) finishes the entry:
///
/// ```ignore
/// command("get", 2, READONLY | FAST).key().shard(fallible!(get)),
/// command("mset", -3, WRITE | DENYOOM).keys(1, -1, 2).fanout(Gather::AllOk).shard(mset),
/// command("eval", -3, NOSCRIPT | STALE).numkeys(2).script(eval),
/// ```
pub const fn command(name: &'static str, arity: i32, flags: u32) -> Spec {
    Spec {
        name,
        arity,
        flags,
        keys: Keys::None,
        route: Route::Keyed,
        subcommands: &[],
    }
}

/// A table entry being built (see [`command`]).
#[derive(Clone, Copy)]
pub struct Spec {
    name: &'static str,
    arity: i32,
    flags: u32,
    keys: Keys,
    route: Route,
    subcommands: &'static [Command],
}

impl Spec {
    /// `argv[1]` is the key (most commands).
    pub const fn key(self) -> Spec {
        self.keys(1, 1, 1)
    }

    /// The keys are `argv[first..=last]` by `step`; a negative `last`
    /// counts from the end (`1, -1, 1`: every argument).
    pub const fn keys(self, first: usize, last: i32, step: usize) -> Spec {
        Spec {
            keys: Keys::Range { first, last, step },
            ..self
        }
    }

    /// A key count at `argv[count_at]`, the keys right after it (EVAL,
    /// LMPOP, ZUNION).
    pub const fn numkeys(self, count_at: usize) -> Spec {
        Spec {
            keys: Keys::Numkeys {
                count_at,
                dest: false,
            },
            ..self
        }
    }

    /// Like [`Spec::numkeys`], after a destination key at `argv[1]`
    /// (ZUNIONSTORE dest numkeys key ...).
    pub const fn dest_numkeys(self, count_at: usize) -> Spec {
        Spec {
            keys: Keys::Numkeys {
                count_at,
                dest: true,
            },
            ..self
        }
    }

    /// The keys split per shard (step-sized groups stay together), the
    /// parts' replies gathered.
    pub const fn fanout(self, gather: Gather) -> Spec {
        Spec {
            route: Route::Fanout(gather),
            ..self
        }
    }

    /// Sent to every shard, the replies gathered.
    pub const fn all_shards(self, gather: Gather) -> Spec {
        Spec {
            route: Route::AllShards(gather),
            ..self
        }
    }

    /// SCAN: the cursor names the shard to continue at.
    pub const fn scan(self) -> Spec {
        Spec {
            route: Route::Scan,
            ..self
        }
    }

    /// A container's subcommands, each named `container|sub`: the entry
    /// `argv[1]` names runs (see [`resolve`]).
    pub const fn subcommands(self, subcommands: &'static [Command]) -> Spec {
        Spec {
            subcommands,
            ..self
        }
    }

    /// A container that runs only through its subcommands (its arity
    /// asks for one).
    pub const fn container(self) -> Command {
        self.connection(no_subcommand)
    }

    /// Runs on the shard that owns the keys, with its keyspace borrowed.
    pub const fn shard(self, run: ShardFn) -> Command {
        self.finish(Run::Shard(run))
    }

    /// A script on the owning shard's core, holding the shard's gate.
    pub const fn script(self, run: ScriptFn) -> Command {
        self.finish(Run::Script(run))
    }

    /// Runs on the connection and answers at once.
    pub const fn connection(self, run: ConnNowFn) -> Command {
        self.on_connection(Run::Connection(ConnectionFn::Now(run)))
    }

    /// Runs on the connection and may wait (see [`ConnectionFn::Waits`]).
    pub const fn connection_waits(self, run: ConnWaitFn) -> Command {
        self.on_connection(Run::Connection(ConnectionFn::Waits(run)))
    }

    /// A transaction step, run by the connection (see [`Run::Transaction`]).
    pub const fn transaction(self, tx: Tx) -> Command {
        self.on_connection(Run::Transaction(tx))
    }

    const fn on_connection(self, run: Run) -> Command {
        Spec {
            route: Route::Connection,
            ..self
        }
        .finish(run)
    }

    const fn finish(self, run: Run) -> Command {
        Command {
            name: self.name,
            arity: self.arity,
            flags: self.flags,
            keys: self.keys,
            route: self.route,
            run,
            subcommands: self.subcommands,
        }
    }
}

/// A container's own code, which [`resolve`] never picks (it resolves
/// `argv[1]` to a subcommand or refuses it).
fn no_subcommand(_: &mut ConnCtx, argv: &[Bytes]) -> Reply {
    let container = String::from_utf8_lossy(&argv[0]);
    let sub = argv.get(1).map_or(&b""[..], |s| &s[..]);
    Reply::error(errors::unknown_subcommand(sub, &container))
}

/// A command to run on a shard: the same for local and forwarded calls.
#[derive(Clone)]
pub struct Call {
    pub cmd: &'static Command,
    pub db: u8,
    pub resp3: bool,
    pub argv: Vec<Bytes>,
}

impl Call {
    /// Scripts suspend while they run and hold the shard's gate.
    pub fn is_script(&self) -> bool {
        matches!(self.cmd.run, Run::Script(_))
    }
}

/// What shard-side code sees while it runs.
pub struct Ctx<'a> {
    pub keyspace: &'a mut Keyspace,
    /// The shard's keyspace events waiting to be published.
    pub notify: &'a mut Notifications,
    /// The client's selected database.
    pub db: usize,
    pub now_ms: u64,
    pub resp3: bool,
    /// The core's Pub/Sub hub (see [`Ctx::publish`]).
    pub pubsub: &'a crate::pubsub::Hub,
}

impl Ctx<'_> {
    /// Publishes `message` to `channel`, as PUBLISH does: delivered to its
    /// subscribers and to matching pattern subscribers on every core, in
    /// publish order per channel from this core. Returns the receivers
    /// counted as PUBLISH replies (every core's). Never waits: subscribers
    /// on other cores get it once this core's forwarding task has sent
    /// it, right after the current command (see `pubsub::hub`).
    pub fn publish(&mut self, channel: &[u8], message: &[u8]) -> usize {
        self.pubsub.publish(channel, message)
    }

    /// The selected database.
    pub fn db(&mut self) -> &mut Db {
        &mut self.keyspace.dbs[self.db]
    }

    /// The live value of `key` for a read command, counted in INFO as a
    /// keyspace hit or miss. Write paths use `db().get_mut` instead.
    pub fn read(&mut self, key: &[u8]) -> Option<crate::store::ValueRef<'_>> {
        if self.notify.wants(Class::KEY_MISS) && !self.db_contains(key) {
            // Redis's `lookupKeyRead`: a miss is announced (after the
            // key's expiry, if that is why it is missing).
            self.keyspace.misses += 1;
            self.notify(Class::KEY_MISS, "keymiss", key);
            return None;
        }
        let keyspace = &mut *self.keyspace;
        let value = keyspace.dbs[self.db].value(key, self.now_ms);
        if value.is_some() {
            keyspace.hits += 1;
        } else {
            keyspace.misses += 1;
        }
        value
    }

    /// Before a write replaces whatever is at `key` without looking
    /// (SET, MSET, a *STORE destination): an expired key there is deleted
    /// first, as Redis's `lookupKeyWrite` does, so that its expiry and the
    /// new key are announced. Nothing when neither is announced.
    #[inline]
    pub fn before_overwrite(&mut self, key: &[u8]) {
        if self.notify.wants(Class::EXPIRED) || self.notify.wants(Class::NEW) {
            self.db_contains(key);
        }
    }

    fn db_contains(&mut self, key: &[u8]) -> bool {
        let now = self.now_ms;
        self.db().contains(key, now)
    }

    /// Announces keyspace event `event` of `class` for `key` of the
    /// selected database (Redis's `notifyKeyspaceEvent`), right after the
    /// change it names. Only a branch when notifications are off.
    #[inline]
    pub fn notify(&mut self, class: Class, event: &'static str, key: &[u8]) {
        self.notify_in(self.db, class, event, key);
    }

    /// [`Ctx::notify`] for a key of database `db` (MOVE, COPY ... DB).
    #[inline]
    pub fn notify_in(&mut self, db: usize, class: Class, event: &'static str, key: &[u8]) {
        if self.notify.wants(class) {
            self.notify
                .event(&mut self.keyspace.dbs, class, event, db, key);
        }
    }

    /// A pseudo-random number (SPOP, SRANDMEMBER, RANDOMKEY ...).
    pub fn random(&mut self) -> u64 {
        self.keyspace.random()
    }
}

/// All commands of every family.
fn families() -> impl Iterator<Item = &'static Command> {
    [
        strings::COMMANDS,
        keys::COMMANDS,
        dump::COMMANDS,
        hashes::COMMANDS,
        lists::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        scripting::COMMANDS,
        functions::COMMANDS,
        session::COMMANDS,
        transactions::COMMANDS,
        admin::COMMANDS,
        persistence::COMMANDS,
        pubsub::COMMANDS,
        monitor::COMMANDS,
        replica::COMMANDS,
        replication::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

/// Every command by name (bytes: no UTF-8 check per lookup).
static TABLE: LazyLock<HashMap<&'static [u8], &'static Command>> =
    LazyLock::new(|| families().map(|c| (c.name.as_bytes(), c)).collect());

/// Longest command name looked up; longer names are unknown.
const MAX_COMMAND_NAME_BYTES: usize = 32;

/// Case-insensitive lookup without allocating.
pub fn lookup(name: &[u8]) -> Option<&'static Command> {
    if name.len() > MAX_COMMAND_NAME_BYTES {
        return None;
    }
    let mut buf = [0u8; MAX_COMMAND_NAME_BYTES];
    let lower = &mut buf[..name.len()];
    lower.copy_from_slice(name);
    lower.make_ascii_lowercase();
    TABLE.get(&*lower).copied()
}

/// Why [`resolve`] found no entry to run.
#[derive(Clone, Copy)]
pub enum Unresolved {
    /// `argv[0]` names no command.
    Unknown,
    /// This container has no subcommand `argv[1]`.
    UnknownSubcommand(&'static Command),
    /// This command or subcommand takes another number of arguments.
    Arity(&'static Command),
}

impl Unresolved {
    /// The command `argv[0]` names, if any.
    pub fn command(self) -> Option<&'static Command> {
        match self {
            Unresolved::Unknown => None,
            Unresolved::UnknownSubcommand(c) | Unresolved::Arity(c) => Some(c),
        }
    }

    /// Redis's error text for it.
    pub fn reply(self, argv: &[Bytes]) -> Reply {
        Reply::error(match self {
            Unresolved::Unknown => errors::unknown_command(argv),
            Unresolved::UnknownSubcommand(c) => errors::unknown_subcommand(&argv[1], c.name),
            Unresolved::Arity(c) => errors::wrong_args(c.name),
        })
    }
}

/// The entry that runs `argv`, as Redis finds it: the command `argv[0]`
/// names or, for a container (CLIENT, CONFIG, SCRIPT ...) given more
/// arguments, its subcommand `argv[1]`; then that entry's arity.
#[inline]
pub fn resolve(argv: &[Bytes]) -> Result<&'static Command, Unresolved> {
    let mut c = lookup(&argv[0]).ok_or(Unresolved::Unknown)?;
    if !c.subcommands.is_empty() {
        if let Some(sub) = argv.get(1) {
            c = c.subcommand(sub).ok_or(Unresolved::UnknownSubcommand(c))?;
        }
    }
    if !c.arity_ok(argv.len()) {
        return Err(Unresolved::Arity(c));
    }
    Ok(c)
}

/// A command or, by its full name (`script|load`, any case), a subcommand:
/// COMMAND INFO and COMMAND DOCS look names up this way.
pub fn lookup_full_name(name: &[u8]) -> Option<&'static Command> {
    match name.iter().position(|&b| b == b'|') {
        None => lookup(name),
        Some(bar) => lookup(&name[..bar])?.subcommand(&name[bar + 1..]),
    }
}

/// Every command (containers with their subcommands inside), for COMMAND.
pub fn all() -> impl Iterator<Item = &'static Command> {
    families()
}

/// Every command and, after each container, its subcommands (COMMAND
/// LIST).
pub fn all_with_subcommands() -> impl Iterator<Item = &'static Command> {
    families().flat_map(|c| std::iter::once(c).chain(c.subcommands))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_unique_and_lowercase() {
        let mut seen = std::collections::HashSet::new();
        for c in all() {
            assert_eq!(c.name, c.name.to_ascii_lowercase());
            assert!(seen.insert(c.name), "duplicate command {}", c.name);
            let on_connection = matches!(c.run, Run::Connection(_) | Run::Transaction(_));
            assert_eq!(on_connection, c.route == Route::Connection, "{}", c.name);
            // Scripts see only Shard and Connection entries (lua::api).
            if matches!(c.run, Run::Transaction(_)) {
                assert!(c.has(flags::NOSCRIPT), "{}", c.name);
            }
        }
    }

    #[test]
    fn subcommands_are_named_after_their_container() {
        let mut containers = 0;
        for c in all().filter(|c| !c.subcommands.is_empty()) {
            containers += 1;
            // Containers run on the connection; subcommands have no keys.
            assert_eq!(c.route, Route::Connection, "{}", c.name);
            let mut seen = std::collections::HashSet::new();
            for sub in c.subcommands {
                let (container, name) = sub.name.split_once('|').expect("container|sub");
                assert_eq!(container, c.name);
                assert!(!name.is_empty() && !name.contains('|'), "{}", sub.name);
                assert_eq!(sub.name, sub.name.to_ascii_lowercase());
                assert!(seen.insert(name), "duplicate subcommand {}", sub.name);
                assert!(sub.subcommands.is_empty(), "{}", sub.name);
                assert!(matches!(sub.run, Run::Connection(_)), "{}", sub.name);
                assert_eq!(sub.keys, Keys::None, "{}", sub.name);
                assert!(sub.arity.abs() >= 2, "{}", sub.name);
                assert!(std::ptr::eq(
                    c.subcommand(name.to_uppercase().as_bytes()).unwrap(),
                    sub
                ));
                assert!(std::ptr::eq(
                    lookup_full_name(sub.name.to_uppercase().as_bytes()).unwrap(),
                    sub
                ));
            }
        }
        assert!(containers >= 5);
    }

    #[test]
    fn resolve_finds_subcommands_and_checks_their_arity() {
        let argv = |args: &[&str]| -> Vec<Bytes> {
            args.iter()
                .map(|a| Bytes::copy_from_slice(a.as_bytes()))
                .collect()
        };
        let name = |r: Result<&Command, Unresolved>| match r {
            Ok(c) => format!("ok {}", c.name),
            Err(Unresolved::Unknown) => "unknown".into(),
            Err(Unresolved::UnknownSubcommand(c)) => format!("no sub of {}", c.name),
            Err(Unresolved::Arity(c)) => format!("arity {}", c.name),
        };
        let cases: &[(&[&str], &str)] = &[
            (&["GET", "k"], "ok get"),
            (&["get"], "arity get"),
            (&["nosuch"], "unknown"),
            (&["SCRIPT", "Load", "return 1"], "ok script|load"),
            (&["script", "load"], "arity script|load"),
            (&["script"], "arity script"),
            (&["script", "nope"], "no sub of script"),
            (&["command"], "ok command"),
            (&["command", "count"], "ok command|count"),
        ];
        for (args, want) in cases {
            assert_eq!(name(resolve(&argv(args))), *want, "{args:?}");
        }
        assert!(lookup_full_name(b"script|load|x").is_none());
        assert!(lookup_full_name(b"get|x").is_none());
    }

    #[test]
    fn own_flags_are_not_reported() {
        let reported = flags::NAMES.iter().fold(0, |all, (f, _)| all | f);
        for own in [flags::RUNS_IN_MULTI, flags::SWITCHES_DB, flags::BUSY_OK] {
            assert_eq!(own & reported, 0);
        }
    }

    #[test]
    fn key_positions() {
        let argv: Vec<Bytes> = ["mset", "a", "1", "b", "2"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        let mset = command("mset", -3, 0)
            .keys(1, -1, 2)
            .shard(|_, _| Reply::Nil);
        assert_eq!(mset.key_indices(&argv), vec![1, 3]);
        let z: Vec<Bytes> = ["zunionstore", "d", "2", "a", "b", "weights"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        let zc = command("zunionstore", -4, 0)
            .dest_numkeys(2)
            .shard(|_, _| Reply::Nil);
        assert_eq!(zc.key_indices(&z), vec![1, 3, 4]);
    }
}
