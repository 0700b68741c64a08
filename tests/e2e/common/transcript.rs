//! The differential harness: one transcript of steps played against
//! redis-server and against shardis, every reply compared.
//!
//! ```ignore
//! Transcript::new()                      // shardis with 1 and 3 shards, RESP2
//!     .steps(&[Exact(&["SET", "k", "v"]), Unordered(&["KEYS", "*"])])
//!     .on("b", &["GET", "k"])            // a second connection
//!     .sleep_ms(150)                     // e.g. for an expiry
//!     .cmd(&["GET", "k"])
//!     .assert_same_as_redis();
//! ```
//!
//! Connections are named (the unnamed steps use `"a"`) and all opened, in
//! the order they first appear, before the first step; with `.resp(&[3])`
//! each sends `HELLO 3` first. The transcript is played on a fresh
//! redis-server once per protocol and on a fresh shardis per shard count
//! and protocol, each server from the first step to the last, so sleeps
//! and waits keep their meaning on both.

use std::collections::HashMap;
use std::time::Duration;

use super::{assert_no_differences, frame, Raw, Server};
use shardis::protocol::frame::Frame;

/// One command and how its replies are compared.
#[derive(Debug, Clone, Copy)]
pub enum Step<'a> {
    /// Identical bytes.
    Exact(&'a [&'a str]),
    /// Identical after sorting the top-level elements (SMEMBERS, KEYS ...,
    /// whose order is unspecified).
    Unordered(&'a [&'a str]),
    /// Identical after sorting the top-level (field, value) pairs: a flat
    /// RESP2 array or a RESP3 map (HGETALL).
    Pairs(&'a [&'a str]),
    /// A SCAN-family page: the cursor identical, the elements in any order.
    Scan(&'a [&'a str]),
    /// [`Step::Scan`] of field-value pairs (HSCAN).
    ScanPairs(&'a [&'a str]),
}

/// The connection of the steps that name none.
const DEFAULT_CONNECTION: &str = "a";

/// Steps to play on both servers, and the setups to play them in.
pub struct Transcript {
    shards: Vec<usize>,
    protocols: Vec<u8>,
    flags: Vec<String>,
    /// Each step with the name of its connection ("" for none).
    steps: Vec<(String, Action)>,
    /// Connections served by a given shard's core (see
    /// [`Transcript::pin`]).
    pinned: HashMap<String, usize>,
}

enum Action {
    /// Send a command and read its reply (normalized before comparing).
    Command(Vec<Vec<u8>>, Normalize),
    /// Send a command without reading (a script that will block).
    Send(Vec<Vec<u8>>),
    /// Read the reply to what the connection sent.
    Read,
    Sleep(Duration),
    /// Poll the server being played until something holds (or panic).
    Wait(Box<dyn Fn(&Server)>),
}

/// Puts in order what a reply leaves unordered; `None`: compare bytes.
type Normalize = Option<fn(&mut Frame)>;

impl Default for Transcript {
    fn default() -> Transcript {
        Transcript::new()
    }
}

impl Transcript {
    /// An empty transcript for shardis with 1 and with 3 shards, in RESP2,
    /// both servers started without extra flags.
    pub fn new() -> Transcript {
        Transcript {
            shards: vec![1, 3],
            protocols: vec![2],
            flags: Vec::new(),
            steps: Vec::new(),
            pinned: HashMap::new(),
        }
    }

    /// The shard counts shardis runs with.
    pub fn shards(&mut self, shards: &[usize]) -> &mut Self {
        self.shards = shards.to_vec();
        self
    }

    /// The protocols (2, 3) each server is played in.
    pub fn resp(&mut self, protocols: &[u8]) -> &mut Self {
        self.protocols = protocols.to_vec();
        self
    }

    /// Command-line flags for both servers (`--name value` ...).
    pub fn flags(&mut self, flags: &[&str]) -> &mut Self {
        self.flags = flags.iter().map(|f| f.to_string()).collect();
        self
    }

    /// Has shardis serve `connection` on shard `shard`'s core (modulo
    /// the shard count), so that steps span cores; redis-server ignores it.
    pub fn pin(&mut self, connection: &str, shard: usize) -> &mut Self {
        self.pinned.insert(connection.to_string(), shard);
        self
    }

    /// Steps on the default connection.
    pub fn steps(&mut self, steps: &[Step]) -> &mut Self {
        for step in steps {
            let (args, normalize): (_, Normalize) = match *step {
                Step::Exact(args) => (args, None),
                Step::Unordered(args) => (args, Some(|r| r.items.sort())),
                Step::Pairs(args) => (args, Some(|r| sort_pairs(&mut r.items))),
                Step::Scan(args) => (args, Some(|r| page(r).sort())),
                Step::ScanPairs(args) => (args, Some(|r| sort_pairs(page(r)))),
            };
            self.push(DEFAULT_CONNECTION, Action::Command(owned(args), normalize));
        }
        self
    }

    /// A [`Step::Exact`] command on the default connection.
    pub fn cmd(&mut self, args: &[&str]) -> &mut Self {
        self.on(DEFAULT_CONNECTION, args)
    }

    /// [`Transcript::cmd`] with arguments that are not text.
    pub fn cmd_bytes(&mut self, args: &[&[u8]]) -> &mut Self {
        let args = args.iter().map(|a| a.to_vec()).collect();
        self.push(DEFAULT_CONNECTION, Action::Command(args, None))
    }

    /// A [`Step::Exact`] command on the connection named `connection`.
    pub fn on(&mut self, connection: &str, args: &[&str]) -> &mut Self {
        self.push(connection, Action::Command(owned(args), None))
    }

    /// Sends a command on `connection` without reading its reply: read it
    /// later with [`Transcript::read`].
    pub fn send(&mut self, connection: &str, args: &[&str]) -> &mut Self {
        self.push(connection, Action::Send(owned(args)))
    }

    /// Reads (and compares) the reply to what `connection` sent.
    pub fn read(&mut self, connection: &str) -> &mut Self {
        self.push(connection, Action::Read)
    }

    pub fn sleep_ms(&mut self, ms: u64) -> &mut Self {
        self.push("", Action::Sleep(Duration::from_millis(ms)))
    }

    /// Calls `until` with the server being played (e.g. to poll until a
    /// script is busy) before the next step.
    pub fn wait(&mut self, until: impl Fn(&Server) + 'static) -> &mut Self {
        self.push("", Action::Wait(Box::new(until)))
    }

    fn push(&mut self, connection: &str, action: Action) -> &mut Self {
        self.steps.push((connection.to_string(), action));
        self
    }

    /// Plays the transcript on redis-server and on shardis in every setup
    /// and fails, listing every difference, at the first setup with any.
    pub fn assert_same_as_redis(&self) {
        let flags: Vec<&str> = self.flags.iter().map(String::as_str).collect();
        for &protocol in &self.protocols {
            let expected = self.play(&Server::redis(&flags), protocol, None);
            for &shards in &self.shards {
                let got = self.play(&Server::shardis(shards, &flags), protocol, Some(shards));
                assert_no_differences(
                    &self.differences(&got, &expected),
                    &format!(" ({shards} shard(s), RESP{protocol})"),
                );
            }
        }
    }

    /// The differences between `ours` and `reference` (servers the caller
    /// started), the transcript played on each in each of its protocols.
    pub fn diff(&self, ours: &Server, reference: &Server) -> Vec<String> {
        self.protocols
            .iter()
            .flat_map(|&p| {
                self.differences(&self.play(ours, p, None), &self.play(reference, p, None))
            })
            .collect()
    }

    /// Plays every step on `server` (shardis with `shards` shards, or
    /// redis-server): the (normalized) reply of each step that reads one.
    fn play(&self, server: &Server, protocol: u8, shards: Option<usize>) -> Vec<Option<Vec<u8>>> {
        let mut connections: HashMap<&str, Raw> = HashMap::new();
        for (name, _) in self.steps.iter().filter(|(name, _)| !name.is_empty()) {
            let core = shards.and_then(|n| self.pinned.get(name).map(|s| s % n));
            connections
                .entry(name)
                .or_insert_with(|| connect(server, protocol, core));
        }
        let mut replies = Vec::new();
        for (name, action) in &self.steps {
            replies.push(match (action, connections.get_mut(name.as_str())) {
                (Action::Command(args, normalize), Some(c)) => {
                    let reply = c.cmd_bytes(&slices(args));
                    Some(match normalize {
                        Some(normalize) => sorted(&reply, *normalize),
                        None => reply,
                    })
                }
                (Action::Send(args), Some(c)) => {
                    c.send(&slices(args));
                    None
                }
                (Action::Read, Some(c)) => Some(c.read_reply_bytes()),
                (Action::Sleep(pause), _) => {
                    std::thread::sleep(*pause);
                    None
                }
                (Action::Wait(until), _) => {
                    until(server);
                    None
                }
                (_, None) => unreachable!("every connection is opened first"),
            });
        }
        replies
    }

    /// A description of every step whose replies differ.
    fn differences(&self, ours: &[Option<Vec<u8>>], reference: &[Option<Vec<u8>>]) -> Vec<String> {
        let text = |r: &Option<Vec<u8>>| {
            String::from_utf8_lossy(r.as_deref().unwrap_or_default()).into_owned()
        };
        let mut problems = Vec::new();
        for (((name, action), a), b) in self.steps.iter().zip(ours).zip(reference) {
            if a != b {
                let (a, b) = (text(a), text(b));
                let who = match name.as_str() {
                    DEFAULT_CONNECTION => String::new(),
                    name => format!("{name}: "),
                };
                let what = match action {
                    Action::Command(args, _) => {
                        let args: Vec<_> =
                            args.iter().map(|a| String::from_utf8_lossy(a)).collect();
                        format!("{args:?}")
                    }
                    _ => "the reply to what it sent".to_string(),
                };
                problems.push(format!("{who}{what}\n  shardis: {a:?}\n  redis:   {b:?}"));
            }
        }
        problems
    }
}

fn owned(args: &[&str]) -> Vec<Vec<u8>> {
    args.iter().map(|a| a.as_bytes().to_vec()).collect()
}

fn slices(args: &[Vec<u8>]) -> Vec<&[u8]> {
    args.iter().map(Vec::as_slice).collect()
}

/// A client of `server` in `protocol` (on shard `core`'s core if given).
fn connect(server: &Server, protocol: u8, core: Option<usize>) -> Raw {
    let mut c = match core {
        Some(shard) => super::connect_to_core(server.port, shard),
        None => server.client(),
    };
    if protocol == 3 {
        c.cmd(&["HELLO", "3"]); // the reply names the server: not comparable
    }
    c
}

/// `reply` decoded, normalized and encoded again.
fn sorted(reply: &[u8], normalize: fn(&mut Frame)) -> Vec<u8> {
    let mut reply = frame(reply);
    normalize(&mut reply);
    reply.to_bytes()
}

/// The elements of a SCAN-family page `[cursor, [elements...]]`; of any
/// other reply (an error), its own items, if any.
fn page(reply: &mut Frame) -> &mut Vec<Frame> {
    if reply.items.len() > 1 {
        &mut reply.items[1].items
    } else {
        &mut reply.items
    }
}

fn sort_pairs(items: &mut Vec<Frame>) {
    let mut pairs: Vec<Vec<Frame>> = items.chunks(2).map(|c| c.to_vec()).collect();
    pairs.sort();
    *items = pairs.into_iter().flatten().collect();
}
