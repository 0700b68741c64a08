//! The command table: every command's name, arity, flags, key positions and
//! routing, and the code that runs it. One file per family; the connection
//! and the shards both dispatch through [`lookup`].
//!
//! Shard-side commands only touch the keyspace and return a [`Reply`]; the
//! same code serves a local call, a forwarded call and a script's
//! `redis.call`.

/// A [`keyed`] table entry for code that returns `Result<Reply, Reply>`
/// (argument errors travel with `?`). Defined before the family modules so
/// they can use it.
macro_rules! keyed_try {
    ($name:expr, $arity:expr, $flags:expr, $run:path) => {
        $crate::cmd::keyed($name, $arity, $flags, |ctx, argv| {
            $crate::cmd::reply($run(ctx, argv))
        })
    };
}

pub mod access;
pub mod args;
pub mod connection;
pub mod errors;
pub mod functions;
pub mod hashes;
pub mod keys;
pub mod lists;
pub mod scripting;
pub mod server;
pub mod sets;
pub mod strings;
pub mod zsets;

use std::sync::LazyLock;

use bytes::Bytes;
use hashbrown::HashMap;

use crate::protocol::Reply;
use crate::shard::ShardState;
use crate::store::Db;

pub use args::*;

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

    pub const NAMES: &[(u32, &str)] = &[
        (WRITE, "write"),
        (READONLY, "readonly"),
        (DENYOOM, "denyoom"),
        (ADMIN, "admin"),
        (NOSCRIPT, "noscript"),
        (LOADING, "loading"),
        (STALE, "stale"),
        (FAST, "fast"),
        (NO_AUTH, "no_auth"),
        (ALLOW_BUSY, "allow_busy"),
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

/// Scripts: they need the whole core (its Lua VM borrows the keyspace per
/// `redis.call`) and may be suspended while they run, so they are async
/// and own their arguments.
pub type ScriptFn = fn(std::rc::Rc<crate::node::Core>, crate::shard::Call, u64) -> ScriptFuture;

/// How a command runs.
#[derive(Clone, Copy)]
pub enum Run {
    /// On the owning shard, with its keyspace borrowed.
    Shard(ShardFn),
    /// A script on the owning shard's core, holding the shard's gate.
    Script(ScriptFn),
    /// On the connection (connection state or node-wide work).
    Connection,
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
    /// Lower case, as COMMAND reports it.
    pub name: &'static str,
    /// Redis arity: N means exactly N arguments (name included), -N at least N.
    pub arity: i32,
    pub flags: u32,
    pub keys: Keys,
    pub route: Route,
    pub run: Run,
}

impl Command {
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

/// A command whose only key is `argv[1]`, run on that key's shard.
pub const fn keyed(name: &'static str, arity: i32, flags: u32, run: ShardFn) -> Command {
    Command {
        name,
        arity,
        flags,
        keys: Keys::Range {
            first: 1,
            last: 1,
            step: 1,
        },
        route: Route::Keyed,
        run: Run::Shard(run),
    }
}

/// Keys `argv[1]` and `argv[2]` (source and destination), on one shard.
pub const fn two_keys(name: &'static str, arity: i32, flags: u32, run: ShardFn) -> Command {
    Command {
        keys: Keys::Range {
            first: 1,
            last: 2,
            step: 1,
        },
        ..keyed(name, arity, flags, run)
    }
}

/// A command that runs on the connection.
pub const fn on_connection(name: &'static str, arity: i32, flags: u32) -> Command {
    Command {
        name,
        arity,
        flags,
        keys: Keys::None,
        route: Route::Connection,
        run: Run::Connection,
    }
}

/// What shard-side code sees while it runs.
pub struct Ctx<'a> {
    pub shard: &'a mut ShardState,
    /// The client's selected database.
    pub db: usize,
    pub now_ms: u64,
    pub resp3: bool,
}

impl Ctx<'_> {
    /// The selected database.
    pub fn db(&mut self) -> &mut Db {
        &mut self.shard.dbs[self.db]
    }

    /// The live value of `key` for a read command, counted in INFO as a
    /// keyspace hit or miss. Write paths use `db().get_mut` instead.
    pub fn read(&mut self, key: &[u8]) -> Option<crate::store::ValueRef<'_>> {
        let shard = &mut *self.shard;
        let value = shard.dbs[self.db].value(key, self.now_ms);
        if value.is_some() {
            shard.stats.keyspace_hits += 1;
        } else {
            shard.stats.keyspace_misses += 1;
        }
        value
    }

    /// A pseudo-random number (SPOP, SRANDMEMBER, RANDOMKEY ...).
    pub fn random(&mut self) -> u64 {
        self.shard.random()
    }
}

/// All commands of every family.
fn families() -> impl Iterator<Item = &'static Command> {
    [
        strings::COMMANDS,
        keys::COMMANDS,
        hashes::COMMANDS,
        lists::COMMANDS,
        sets::COMMANDS,
        zsets::COMMANDS,
        scripting::COMMANDS,
        functions::COMMANDS,
        connection::COMMANDS,
        server::COMMANDS,
    ]
    .into_iter()
    .flatten()
}

static TABLE: LazyLock<HashMap<&'static str, &'static Command>> =
    LazyLock::new(|| families().map(|c| (c.name, c)).collect());

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
    TABLE.get(std::str::from_utf8(lower).ok()?).copied()
}

/// Every command, for COMMAND.
pub fn all() -> impl Iterator<Item = &'static Command> {
    families()
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
            assert_eq!(
                matches!(c.run, Run::Connection),
                c.route == Route::Connection,
                "{}",
                c.name
            );
        }
    }

    #[test]
    fn key_positions() {
        let argv: Vec<Bytes> = ["mset", "a", "1", "b", "2"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        let mset = Command {
            name: "mset",
            arity: -3,
            flags: 0,
            keys: Keys::Range {
                first: 1,
                last: -1,
                step: 2,
            },
            route: Route::Keyed,
            run: Run::Connection,
        };
        assert_eq!(mset.key_indices(&argv), vec![1, 3]);
        let z: Vec<Bytes> = ["zunionstore", "d", "2", "a", "b", "weights"]
            .iter()
            .map(|s| Bytes::from(*s))
            .collect();
        let zc = Command {
            keys: Keys::Numkeys {
                count_at: 2,
                dest: true,
            },
            ..mset
        };
        assert_eq!(zc.key_indices(&z), vec![1, 3, 4]);
    }
}
