//! The write hook's sink that feeds the replication stream, as Redis 7.0
//! propagates: each effect as its command; a script's or an `EXEC`'s
//! effects as one `MULTI` ... `EXEC` when it ends (one command alone
//! needs no wrapping, as in Redis); a key that expired as `DEL`. Each
//! shard appends its own effects to the node's backlog (see
//! `replication::backlog`), in the order it applied them.

use std::sync::Arc;

use super::effects::{Effect, Sink};
use crate::replication::backlog::{encode_command, select_command, Backlog};

/// The effects of a batch not appended yet.
#[derive(Default)]
struct Batch {
    /// The database of its first command, and of its last.
    first_db: Option<usize>,
    db: Option<usize>,
    commands: usize,
    bytes: Vec<u8>,
}

impl Batch {
    fn push<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        if self.commands == 0 {
            self.first_db = Some(db);
        } else if self.db != Some(db) {
            select_command(&mut self.bytes, db);
        }
        self.db = Some(db);
        self.commands += 1;
        encode_command(&mut self.bytes, argv);
    }
}

/// The sink of shard `shard` into `backlog`.
pub fn sink(backlog: Arc<Backlog>, shard: usize) -> Sink {
    let mut feed = Feed {
        backlog,
        shard,
        batch: None,
        single: Vec::new(),
    };
    Box::new(move |effect| feed.record(effect))
}

struct Feed {
    backlog: Arc<Backlog>,
    shard: usize,
    batch: Option<Batch>,
    /// One command's bytes (reused).
    single: Vec<u8>,
}

impl Feed {
    fn record(&mut self, effect: &Effect) {
        match *effect {
            Effect::BatchBegin => self.batch = Some(Batch::default()),
            Effect::Command { db, argv } => self.command(db, argv),
            Effect::Expired { db, key } => self.command(db, &[b"DEL".as_slice(), key]),
            Effect::BatchEnd => {
                if let Some(batch) = self.batch.take() {
                    self.end_batch(batch);
                }
            }
        }
    }

    fn command<A: AsRef<[u8]>>(&mut self, db: usize, argv: &[A]) {
        match self.batch.as_mut() {
            Some(batch) => batch.push(db, argv),
            None => {
                self.single.clear();
                encode_command(&mut self.single, argv);
                self.backlog
                    .append(Some(self.shard), Some(db), &self.single, None);
            }
        }
    }

    fn end_batch(&mut self, batch: Batch) {
        let Some(first_db) = batch.first_db else {
            return;
        };
        if batch.commands == 1 {
            self.backlog
                .append(Some(self.shard), Some(first_db), &batch.bytes, batch.db);
            return;
        }
        self.single.clear();
        encode_command(&mut self.single, &[b"MULTI"]);
        self.single.extend_from_slice(&batch.bytes);
        encode_command(&mut self.single, &[b"EXEC"]);
        self.backlog
            .append(Some(self.shard), Some(first_db), &self.single, batch.db);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;

    fn stream(effects: &[Effect]) -> String {
        let backlog = Arc::new(Backlog::new(1 << 20, 1 << 20, 0));
        let reader = backlog.add_reader(0);
        let mut sink = sink(backlog.clone(), 0);
        for e in effects {
            sink(e);
        }
        match backlog.read(reader, usize::MAX, std::task::Waker::noop()) {
            Ok(crate::replication::backlog::Read::Data(d)) => String::from_utf8(d).unwrap(),
            _ => String::new(),
        }
    }

    #[test]
    fn batches_are_wrapped_in_multi_exec_only_with_two_commands_or_more() {
        let set: Vec<Bytes> = ["SET", "k", "v"]
            .map(|a| Bytes::from_static(a.as_bytes()))
            .to_vec();
        let incr: Vec<Bytes> = ["INCR", "n"]
            .map(|a| Bytes::from_static(a.as_bytes()))
            .to_vec();
        let one = stream(&[
            Effect::BatchBegin,
            Effect::Command { db: 2, argv: &set },
            Effect::BatchEnd,
        ]);
        assert_eq!(
            one,
            "*2\r\n$6\r\nSELECT\r\n$1\r\n2\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1\r\nv\r\n"
        );
        let two = stream(&[
            Effect::Command { db: 0, argv: &incr },
            Effect::BatchBegin,
            Effect::Command { db: 0, argv: &set },
            Effect::Expired { db: 1, key: b"old" },
            Effect::BatchEnd,
            Effect::Command { db: 1, argv: &incr },
        ]);
        assert_eq!(
            two.split("\r\n")
                .filter(|l| !l.is_empty() && !l.starts_with(['*', '$']))
                .collect::<Vec<_>>(),
            [
                "SELECT", "0", "INCR", "n", "MULTI", "SET", "k", "v", "SELECT", "1", "DEL", "old",
                "EXEC", "INCR", "n"
            ]
        );
    }
}
