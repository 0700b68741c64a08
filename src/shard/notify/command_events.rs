//! Events as commands generate them on one shard, compared with what
//! redis-server 7.0 published for the same commands.

use bytes::Bytes;

use crate::cmd::Call;
use crate::notify::Class;
use crate::protocol::Reply;
use crate::shard::gate::Gate;
use crate::shard::ShardState;
use crate::store::Value;
use crate::util::keyspace_events::parse_flags;

const NOW: u64 = 1_000_000;

/// A one-shard keyspace announcing the classes `flags` names.
fn announcing(flags: &str) -> ShardState {
    let hub = std::rc::Rc::new(crate::pubsub::Hub::detached());
    let mut shard = ShardState::new(0, 0, 1, hub);
    shard.set_keyspace_events(parse_flags(flags.as_bytes()).expect("valid flags"));
    shard
}

fn run_argv(shard: &mut ShardState, argv: Vec<Bytes>, now_ms: u64) -> Reply {
    let cmd = crate::cmd::lookup(&argv[0]).expect("a known command");
    let gate = Gate::default();
    let access = gate.open().expect("an open gate");
    let call = Call {
        cmd,
        db: 0,
        resp3: false,
        argv,
    };
    shard.execute(access, &call, now_ms)
}

/// Runs one command line (words one space apart; `""` an empty word).
fn run(shard: &mut ShardState, line: &str, now_ms: u64) -> Reply {
    let argv = line
        .split(' ')
        .map(|w| if w == "\"\"" { "" } else { w })
        .map(|w| Bytes::copy_from_slice(w.as_bytes()))
        .collect();
    run_argv(shard, argv, now_ms)
}

/// The published messages, as `channel message` lines.
fn published(shard: &mut ShardState) -> Vec<String> {
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    shard
        .notify
        .take_pending()
        .iter()
        .map(|(channel, message)| format!("{} {}", text(channel), text(message)))
        .collect()
}

/// Keyevent messages as the golden file writes them: `db event key`.
fn keyevents(shard: &mut ShardState) -> Vec<String> {
    published(shard)
        .iter()
        .map(|line| {
            let (channel, key) = line.split_once(' ').unwrap_or((line, ""));
            let rest = channel.strip_prefix("__keyevent@").unwrap_or(channel);
            let (db, event) = rest.split_once("__:").unwrap_or((rest, ""));
            format!("{db} {event} {key}")
        })
        .collect()
}

/// Every command of the golden file (recorded from redis-server 7.0.15
/// with `notify-keyspace-events AEnm`) publishes the same events here.
#[test]
fn notify_events_match_redis_7_0_command_by_command() {
    let golden = include_str!("redis_7_0_events.txt");
    let mut shard = announcing("AEnm");
    let mut expected: Vec<(String, Vec<String>)> = Vec::new();
    for line in golden.lines().filter(|l| !l.starts_with('#')) {
        match line.strip_prefix("> ") {
            Some(command) => expected.push((command.to_string(), Vec::new())),
            None => expected
                .last_mut()
                .expect("events follow a command")
                .1
                .push(line.to_string()),
        }
    }
    assert!(expected.len() > 200, "the golden file was read");
    let mut wrong = Vec::new();
    for (command, want) in &expected {
        match command.strip_prefix("DUMPRESTORE ") {
            // DUMP src, then RESTORE dst ttl <payload> options...
            Some(rest) => {
                let words: Vec<&str> = rest.split(' ').collect();
                let Reply::Bulk(payload) = run(&mut shard, &format!("DUMP {}", words[0]), NOW)
                else {
                    panic!("DUMP {} found nothing", words[0]);
                };
                let mut argv: Vec<Bytes> = vec!["RESTORE".into(), words[1].to_string().into()];
                argv.push(words[2].to_string().into());
                argv.push(payload);
                argv.extend(words[3..].iter().map(|w| Bytes::from(w.to_string())));
                run_argv(&mut shard, argv, NOW);
            }
            None => {
                run(&mut shard, command, NOW);
            }
        }
        let got = keyevents(&mut shard);
        if &got != want {
            wrong.push(format!("{command}\n  redis: {want:?}\n  here:  {got:?}"));
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

#[test]
fn notify_keyspace_and_keyevent_channels_carry_event_and_key() {
    let mut shard = announcing("KE$");
    run(&mut shard, "SET k v", NOW);
    run(&mut shard, "SELECT 3", NOW);
    assert_eq!(
        published(&mut shard),
        ["__keyspace@0__:k set", "__keyevent@0__:set k"]
    );
    let mut shard = shard_db(5, "K$");
    assert_eq!(published(&mut shard), ["__keyspace@5__:k set"]);
}

/// A shard where `SET k v` ran in database `db`.
fn shard_db(db: u8, flags: &str) -> ShardState {
    let mut shard = announcing(flags);
    let gate = Gate::default();
    let call = Call {
        cmd: crate::cmd::lookup(b"set").expect("SET"),
        db,
        resp3: false,
        argv: vec!["SET".into(), "k".into(), "v".into()],
    };
    shard.execute(gate.open().expect("open"), &call, NOW);
    shard
}

#[test]
fn notify_flags_filter_classes_and_channels() {
    // Only list events, only on keyspace channels.
    let mut shard = announcing("Kl");
    for line in [
        "SET s 1",
        "LPUSH l a",
        "SADD st a",
        "DEL s",
        "RPOP l",
        "GET nope",
    ] {
        run(&mut shard, line, NOW);
    }
    assert_eq!(
        published(&mut shard),
        ["__keyspace@0__:l lpush", "__keyspace@0__:l rpop"]
    );
    // A class without K or E publishes nothing; off, nothing is queued.
    for flags in ["A", "", "Km"] {
        let mut shard = announcing(flags);
        for line in ["SET s 1", "LPUSH l a", "DEL s", "RPOP l"] {
            run(&mut shard, line, NOW);
        }
        assert_eq!(published(&mut shard), Vec::<String>::new(), "{flags:?}");
        assert!(!shard.notify.has_pending());
    }
}

#[test]
fn notify_expired_by_access_comes_before_the_command_events() {
    let mut shard = announcing("AEmn");
    run(&mut shard, "SET k v PX 10", NOW);
    run(&mut shard, "SET j v PX 10", NOW);
    run(&mut shard, "SET other v", NOW);
    published(&mut shard);
    // A read finds k expired: expired, then the miss.
    run(&mut shard, "GET k", NOW + 20);
    assert_eq!(keyevents(&mut shard), ["0 expired k", "0 keymiss k"]);
    // DEL of an expired key and a live one: expired j, then del other.
    run(&mut shard, "DEL j other", NOW + 20);
    assert_eq!(keyevents(&mut shard), ["0 expired j", "0 del other"]);
    // A write on an expired key: expired, new, set.
    run(&mut shard, "SET k2 v PX 10", NOW);
    published(&mut shard);
    run(&mut shard, "SET k2 w", NOW + 20);
    assert_eq!(
        keyevents(&mut shard),
        ["0 expired k2", "0 new k2", "0 set k2"]
    );
    // A command that announces nothing: the expiry still is.
    run(&mut shard, "SET k3 v PX 10", NOW);
    published(&mut shard);
    run(&mut shard, "EXISTS k3", NOW + 20);
    assert_eq!(keyevents(&mut shard), ["0 expired k3", "0 keymiss k3"]);
    run(&mut shard, "SET k4 v PX 10", NOW);
    published(&mut shard);
    run(&mut shard, "TTL k4", NOW + 20);
    assert_eq!(keyevents(&mut shard), ["0 expired k4", "0 keymiss k4"]);
}

#[test]
fn notify_active_expiry_announces_each_key_it_deletes() {
    let mut shard = announcing("Ex");
    // Expired long ago (expiry at 1 ms after the epoch).
    shard.keyspace.dbs[0].insert(b"x", Value::Str(b"1".to_vec()), 1);
    shard.keyspace.dbs[2].insert(b"y", Value::Str(b"1".to_vec()), 1);
    shard.keyspace.dbs[2].insert(b"live", Value::Str(b"1".to_vec()), 0);
    let gate = Gate::default();
    shard.expire_tick(gate.open().expect("an open gate"), 100);
    assert_eq!(
        published(&mut shard),
        ["__keyevent@0__:expired x", "__keyevent@2__:expired y"]
    );
}

#[test]
fn notify_expired_keys_reach_both_the_write_hook_and_subscribers() {
    use std::cell::RefCell;
    use std::rc::Rc;
    let mut shard = announcing("Exg");
    let log = Rc::new(RefCell::new(Vec::new()));
    let sink = log.clone();
    shard.add_effect_sink(Box::new(move |e| {
        sink.borrow_mut()
            .push(crate::shard::effects::tests::seen(e))
    }));
    run(&mut shard, "SET a v PX 10", NOW);
    run(&mut shard, "SET b v PX 10", NOW);
    published(&mut shard);
    log.borrow_mut().clear();
    // `a` is announced mid-command (before `del`), `b` after it; the
    // write hook sees both, once each.
    run(&mut shard, "DEL a c", NOW + 20);
    run(&mut shard, "SET c 1", NOW + 20);
    run(&mut shard, "DEL c b", NOW + 20);
    assert_eq!(
        keyevents(&mut shard),
        ["0 expired a", "0 del c", "0 expired b"]
    );
    use crate::shard::effects::tests::{command, Seen};
    assert_eq!(
        *log.borrow(),
        [
            // DEL deleted nothing itself: only the expiry is an effect.
            Seen::Expired(0, "a".into()),
            command(0, "SET c 1"),
            Seen::Expired(0, "b".into()),
            command(0, "DEL c b"),
        ]
    );
}

#[test]
fn notify_turned_off_stops_collecting() {
    let mut shard = announcing("KEA");
    run(&mut shard, "SET k v PX 10", NOW);
    shard.set_keyspace_events(0);
    published(&mut shard);
    run(&mut shard, "GET k", NOW + 20);
    run(&mut shard, "SET n v", NOW);
    assert_eq!(published(&mut shard), Vec::<String>::new());
    assert!(shard.keyspace.dbs[0].expired_pending().is_empty());
    assert!(shard.keyspace.dbs[0].take_created().is_empty());
    // Turned on again, it announces from then on.
    shard.set_keyspace_events(parse_flags(b"E$").unwrap_or(0));
    run(&mut shard, "SET n w", NOW);
    assert_eq!(published(&mut shard), ["__keyevent@0__:set n"]);
    assert!(Class(parse_flags(b"E$").unwrap_or(0)).has(Class::STRING));
}
