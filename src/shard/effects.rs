//! The write hook: every change a shard applies is recorded here, once, in
//! the order the shard applied it.
//!
//! Contract, for whoever plugs in (the append-only log, the replication
//! stream, keyspace notifications, a script's undo log):
//!
//! - An [`Effect::Command`] is a command that changed the keyspace, as it
//!   ran: its database and its arguments. Every command that changed
//!   something is recorded, whatever its reply; a command that asked to
//!   change a value and then found nothing to do may be recorded too
//!   (replaying it changes nothing either). A read is never recorded.
//! - An [`Effect::Expired`] is a key deleted because its time was up, by
//!   a read or write that found it expired (before that command's own
//!   effect) or by active expiry.
//! - [`Effect::BatchBegin`] and [`Effect::BatchEnd`] enclose the effects of
//!   something that applies as one: a script, an `EXEC`. A batch that
//!   changed nothing emits neither; batches nest (an `EVAL` inside `EXEC`),
//!   and only the outermost one is emitted.
//! - A command that chose at random is recorded as the command with the
//!   same effect, and a relative expiry as the absolute one it set
//!   ([`replayable`]: `SPOP` as `SREM`, `EXPIRE` as `PEXPIREAT`).
//! - Effects are emitted in the order the shard applied them, each shard
//!   its own stream. The function libraries' changes are shard 0's
//!   effects: every one is made on core 0 and recorded there as the
//!   `FUNCTION` command that replays it (see `cmd::functions`), outside any
//!   batch. Other changes outside the keyspace (configuration) are not
//!   effects.
//!
//! Keyspace notifications are not a sink: their events name what a
//! command did in Redis's words (`lpop` then `del`), which its arguments
//! do not tell, so command code announces them next to each change
//! (`Ctx::notify`, see `crate::notify`); the expired keys they announce
//! are the ones recorded here, taken in the same step
//! (`ShardState::record_expired`).
//!
//! Per key, the database keeps its own record of changes for `WATCH`
//! (see `Db::watch`): every path that records an effect here also bumps
//! the versions of the watched keys it changed.

mod absolute;

use bytes::Bytes;

/// The command to record for `argv`, which ran at `now_ms` and answered
/// `reply`, when `argv` itself would not replay to the same state, as
/// Redis propagates it: `SPOP` picks at random, so it is recorded as the
/// `SREM` of what it popped; a relative expiry is made absolute from the
/// time the command ran (see [`absolute`]). `None`: record `argv` as it
/// is.
pub fn replayable(
    argv: &[Bytes],
    reply: &crate::protocol::Reply,
    now_ms: u64,
) -> Option<Vec<Bytes>> {
    use crate::protocol::Reply;
    if !argv.first()?.eq_ignore_ascii_case(b"spop") {
        return absolute::rewrite(argv, now_ms);
    }
    let key = argv.get(1)?.clone();
    let mut out = vec![Bytes::from_static(b"SREM"), key];
    match reply {
        Reply::Bulk(member) => out.push(member.clone()),
        Reply::Set(members) | Reply::Array(members) => {
            for m in members {
                if let Reply::Bulk(member) = m {
                    out.push(member.clone());
                }
            }
        }
        _ => {}
    }
    Some(out)
}

/// One change a shard applied (see the module's contract).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect<'a> {
    /// A command that changed the keyspace, as it ran.
    Command { db: usize, argv: &'a [Bytes] },
    /// A key deleted because its time was up.
    Expired { db: usize, key: &'a [u8] },
    /// The first effect of a script or an `EXEC` follows.
    BatchBegin,
    /// The batch that [`Effect::BatchBegin`] opened is complete.
    BatchEnd,
}

/// Where effects go: called with each effect, in order.
pub type Sink = Box<dyn FnMut(&Effect)>;

/// A sink's handle, to remove it (`CONFIG SET appendonly no`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SinkId(u64);

/// The shard's write hook: its sinks and the batch being applied.
#[derive(Default)]
pub struct Effects {
    sinks: Vec<(SinkId, Sink)>,
    /// The next sink's id.
    next_id: u64,
    /// Batches open (nested: an `EVAL` inside an `EXEC`).
    batch_depth: u32,
    /// Whether the open batch emitted its [`Effect::BatchBegin`].
    batch_begun: bool,
}

impl Effects {
    /// Whether anyone listens. Without sinks, recording costs nothing: the
    /// shard does not even collect expired keys.
    pub fn is_active(&self) -> bool {
        !self.sinks.is_empty()
    }

    pub fn add_sink(&mut self, sink: Sink) -> SinkId {
        let id = SinkId(self.next_id);
        self.next_id += 1;
        self.sinks.push((id, sink));
        id
    }

    /// Removes sink `id`: it sees no later effect. Only between batches
    /// (a sink must see a batch whole or not at all); `false` if it was
    /// not there.
    pub fn remove_sink(&mut self, id: SinkId) -> bool {
        crate::invariant!(self.batch_depth == 0, "a sink removed inside a batch");
        let before = self.sinks.len();
        self.sinks.retain(|(sink, _)| *sink != id);
        self.sinks.len() != before
    }

    /// Whether a script or an `EXEC` is applying (a sink added or removed
    /// now would see half of it).
    pub fn in_batch(&self) -> bool {
        self.batch_depth > 0
    }

    /// Records one effect: the one function every change passes through.
    pub fn record(&mut self, effect: Effect) {
        if self.batch_depth > 0 && !self.batch_begun {
            self.batch_begun = true;
            self.emit(&Effect::BatchBegin);
        }
        self.emit(&effect);
    }

    /// A script or an `EXEC` starts applying.
    pub fn begin_batch(&mut self) {
        self.batch_depth += 1;
    }

    /// The script or `EXEC` that [`Self::begin_batch`] announced is done.
    pub fn end_batch(&mut self) {
        crate::invariant!(self.batch_depth > 0, "a batch of effects ended twice");
        self.batch_depth = self.batch_depth.saturating_sub(1);
        if self.batch_depth == 0 && std::mem::take(&mut self.batch_begun) {
            self.emit(&Effect::BatchEnd);
        }
    }

    fn emit(&mut self, effect: &Effect) {
        for (_, sink) in &mut self.sinks {
            sink(effect);
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::cell::RefCell;
    use std::rc::Rc;

    use bytes::Bytes;

    use super::Effect;
    use crate::cmd::Call;
    use crate::protocol::Reply;
    use crate::shard::gate::Gate;
    use crate::shard::ShardState;
    use crate::store::Value;

    /// An effect as a test names it.
    #[derive(Debug, PartialEq, Eq)]
    pub(crate) enum Seen {
        Command(usize, String),
        Expired(usize, String),
        Begin,
        End,
    }

    pub(crate) fn seen(effect: &Effect) -> Seen {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        match *effect {
            Effect::Command { db, argv } => Seen::Command(
                db,
                argv.iter().map(|a| text(a)).collect::<Vec<_>>().join(" "),
            ),
            Effect::Expired { db, key } => Seen::Expired(db, text(key)),
            Effect::BatchBegin => Seen::Begin,
            Effect::BatchEnd => Seen::End,
        }
    }

    pub(crate) fn command(db: usize, line: &str) -> Seen {
        Seen::Command(db, line.to_string())
    }

    /// A one-shard keyspace whose effects land in the returned list.
    fn recorded() -> (ShardState, Rc<RefCell<Vec<Seen>>>) {
        let mut shard = ShardState::new(0, 0, 1, std::rc::Rc::new(crate::pubsub::Hub::detached()));
        let log = Rc::new(RefCell::new(Vec::new()));
        let sink = log.clone();
        shard.add_effect_sink(Box::new(move |e| sink.borrow_mut().push(seen(e))));
        (shard, log)
    }

    fn run(shard: &mut ShardState, db: u8, line: &str, now_ms: u64) -> Reply {
        let argv: Vec<Bytes> = line
            .split(' ')
            .map(|a| Bytes::copy_from_slice(a.as_bytes()))
            .collect();
        let cmd = crate::cmd::lookup(&argv[0]).expect("a known command");
        let gate = Gate::default();
        let access = gate.open().expect("an open gate");
        shard.execute(
            access,
            &Call {
                cmd,
                db,
                resp3: false,
                argv,
            },
            now_ms,
        )
    }

    const NOW: u64 = 1_000_000;

    #[test]
    fn commands_that_change_the_keyspace_are_recorded_and_reads_are_not() {
        let (mut shard, log) = recorded();
        for line in [
            "SET a 1",
            "GET a",
            "SET a 2 NX",
            // Refused as WRONGTYPE: nothing changed.
            "LPUSH a x",
            "SADD a x",
            "ZADD a 1 m",
            "DEL missing",
            "EXISTS a",
            "INCR n",
            "SADD s x",
            "SCARD s",
            "DEL a",
            "FLUSHDB",
        ] {
            run(&mut shard, 0, line, NOW);
        }
        run(&mut shard, 3, "SET b 1", NOW);
        assert_eq!(
            *log.borrow(),
            [
                command(0, "SET a 1"),
                command(0, "INCR n"),
                command(0, "SADD s x"),
                command(0, "DEL a"),
                command(0, "FLUSHDB"),
                command(3, "SET b 1"),
            ]
        );
    }

    #[test]
    fn spop_is_recorded_as_the_srem_of_what_it_popped() {
        let (mut shard, log) = recorded();
        run(&mut shard, 0, "SADD s a b c", NOW);
        run(&mut shard, 0, "SPOP s", NOW);
        run(&mut shard, 0, "SPOP s 5", NOW);
        run(&mut shard, 0, "SPOP s", NOW);
        let log = log.borrow();
        assert_eq!(log.len(), 3, "{log:?}");
        let mut popped = Vec::new();
        for seen in &log[1..] {
            let Seen::Command(0, line) = seen else {
                panic!("{seen:?}");
            };
            let mut words = line.split(' ');
            assert_eq!((words.next(), words.next()), (Some("SREM"), Some("s")));
            popped.extend(words.map(str::to_string));
        }
        popped.sort();
        assert_eq!(popped, ["a", "b", "c"]);
    }

    #[test]
    fn a_key_found_expired_is_recorded_before_the_command_that_found_it() {
        let (mut shard, log) = recorded();
        run(&mut shard, 0, "SET k v PX 10", NOW);
        run(&mut shard, 0, "SET j v PX 10", NOW);
        run(&mut shard, 0, "SET other v", NOW);
        log.borrow_mut().clear();
        // A read finds k expired: the deletion is the only effect.
        run(&mut shard, 0, "GET k", NOW + 20);
        // DEL finds j expired: it deleted nothing itself.
        run(&mut shard, 0, "DEL j other", NOW + 20);
        assert_eq!(
            *log.borrow(),
            [
                Seen::Expired(0, "k".into()),
                Seen::Expired(0, "j".into()),
                command(0, "DEL j other"),
            ]
        );
    }

    #[test]
    fn active_expiry_records_each_key_it_deletes() {
        let (mut shard, log) = recorded();
        // Expired long ago (expiry at 1 ms after the epoch).
        shard.keyspace.dbs[0].insert(b"x", Value::Str(b"1".to_vec()), 1);
        shard.keyspace.dbs[2].insert(b"y", Value::Str(b"1".to_vec()), 1);
        shard.keyspace.dbs[2].insert(b"live", Value::Str(b"1".to_vec()), 0);
        let gate = Gate::default();
        shard.expire_tick(gate.open().expect("an open gate"), 100);
        assert_eq!(
            *log.borrow(),
            [Seen::Expired(0, "x".into()), Seen::Expired(2, "y".into())]
        );
    }

    #[test]
    fn a_removed_sink_sees_nothing_more_and_the_others_go_on() {
        let (mut shard, log) = recorded();
        let other = Rc::new(RefCell::new(Vec::new()));
        let sink = other.clone();
        let id = shard.add_effect_sink(Box::new(move |e| sink.borrow_mut().push(seen(e))));
        run(&mut shard, 0, "SET a 1", NOW);
        shard.remove_effect_sink(id);
        run(&mut shard, 0, "SET b 1", NOW);
        assert_eq!(*other.borrow(), [command(0, "SET a 1")]);
        assert_eq!(
            *log.borrow(),
            [command(0, "SET a 1"), command(0, "SET b 1")]
        );
        assert!(!shard.effects.remove_sink(id), "removed once");
    }

    #[test]
    fn without_sinks_expired_keys_are_not_collected() {
        let mut shard = ShardState::new(0, 0, 1, std::rc::Rc::new(crate::pubsub::Hub::detached()));
        let id = shard.add_effect_sink(Box::new(|_| {}));
        shard.remove_effect_sink(id);
        assert!(!shard.effects.is_active());
        shard.keyspace.dbs[0].insert(b"x", Value::Str(b"1".to_vec()), 1);
        let gate = Gate::default();
        shard.expire_tick(gate.open().expect("an open gate"), 100);
        assert!(shard.keyspace.dbs[0].take_expired().is_empty());
    }

    #[test]
    fn a_batch_encloses_its_effects_once_and_only_if_it_changed_something() {
        let (mut shard, log) = recorded();
        shard.effects.begin_batch();
        run(&mut shard, 0, "GET a", NOW);
        shard.effects.end_batch();
        assert_eq!(*log.borrow(), []);

        shard.effects.begin_batch();
        run(&mut shard, 0, "SET a 1", NOW);
        // A nested batch (EVAL inside EXEC) adds no markers of its own.
        shard.effects.begin_batch();
        run(&mut shard, 0, "GET a", NOW);
        run(&mut shard, 0, "SET b 1", NOW);
        shard.effects.end_batch();
        run(&mut shard, 0, "SET c 1", NOW);
        shard.effects.end_batch();
        run(&mut shard, 0, "SET d 1", NOW);
        assert_eq!(
            *log.borrow(),
            [
                Seen::Begin,
                command(0, "SET a 1"),
                command(0, "SET b 1"),
                command(0, "SET c 1"),
                Seen::End,
                command(0, "SET d 1"),
            ]
        );
    }
}
