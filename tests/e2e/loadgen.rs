//! shardis-bench against a real shardis and a real redis-server: counts,
//! errors, what the custom command really sends, BUSY counting, the
//! library's stop flag and key lists, and the JSON file.

use crate::common;

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use clap::Parser;
use common::Server;
use shardis::loadgen::args::BenchArgs;
use shardis::loadgen::{run, CommandSpec, KeyPattern, KeySpace, Limit, Plan, RunStats, Template};

/// A run of shardis-bench's library entry point with these flags.
fn bench(port: u16, flags: &[&str]) -> RunStats {
    let port = port.to_string();
    let argv = ["shardis-bench", "-p", &port]
        .into_iter()
        .chain(flags.iter().copied());
    let args = BenchArgs::try_parse_from(argv).expect("flags parse");
    let plan = args.plan().expect("flags make a valid plan");
    run(&plan, &AtomicBool::new(false), |_| {}).expect("the run succeeds")
}

fn servers() -> Vec<(&'static str, Server)> {
    vec![
        ("shardis", Server::shardis(2, &[])),
        ("redis-server", Server::redis(&[])),
    ]
}

fn dbsize(server: &Server) -> u64 {
    let reply = server.client().cmd(&["DBSIZE"]);
    reply
        .trim()
        .trim_start_matches(':')
        .parse()
        .unwrap_or_else(|_| panic!("DBSIZE reply {reply:?}"))
}

#[test]
fn set_get_counts_every_request() {
    for (name, server) in servers() {
        let stats = bench(
            server.port,
            &[
                "-t",
                "2",
                "-c",
                "2",
                "-n",
                "200",
                "--ratio",
                "1:1",
                "--pipeline",
                "4",
            ],
        );
        let totals = stats.totals();
        assert_eq!(totals.ops, 2 * 2 * 200, "{name}: every request answered");
        assert_eq!(totals.errors, 0, "{name}");
        assert_eq!(stats.labels, ["Sets", "Gets"], "{name}");
        assert_eq!(stats.types[0].ops, 400, "{name}: half SET");
        assert_eq!(stats.types[1].ops, 400, "{name}: half GET");
        assert_eq!(stats.abandoned, 0, "{name}");
        assert!(totals.max_us() > 0, "{name}: latencies recorded");
        assert!(!stats.intervals.is_empty(), "{name}: a time series");
        let series_ops: u64 = stats.intervals.iter().map(|p| p.totals.ops).sum();
        assert_eq!(series_ops, totals.ops, "{name}: the series adds up");
        assert!(dbsize(&server) > 0, "{name}: keys were written");
    }
}

#[test]
fn custom_command_sends_key_and_data() {
    for (name, server) in servers() {
        let stats = bench(
            server.port,
            &[
                "-t",
                "1",
                "-c",
                "1",
                "-n",
                "10",
                "-d",
                "100",
                "--key-prefix",
                "custom:",
                "--key-maximum",
                "9",
                "--command",
                "SET __key__ __data__",
                "--command-key-pattern",
                "S",
            ],
        );
        assert_eq!(stats.labels, ["SET"], "{name}");
        assert_eq!(
            (stats.totals().ops, stats.totals().errors),
            (10, 0),
            "{name}"
        );
        assert_eq!(dbsize(&server), 10, "{name}: custom:0 to custom:9");
        let value = server.client().cmd(&["GET", "custom:7"]);
        assert_eq!(value, format!("$100\r\n{}\r\n", "x".repeat(100)), "{name}");

        // A command the server refuses: every reply is an error.
        let stats = bench(
            server.port,
            &[
                "-t",
                "1",
                "-c",
                "2",
                "-n",
                "5",
                "--command",
                "LPUSH __key__",
            ],
        );
        let totals = stats.totals();
        assert_eq!(
            (totals.ops, totals.errors, totals.busy),
            (10, 10, 0),
            "{name}"
        );
    }
}

/// A write-free script that runs for `ms` milliseconds.
fn timed_loop(ms: u64) -> String {
    format!(
        "local t = redis.call('time') local stop = t[1] * 1000000 + t[2] + {us} \
         while true do t = redis.call('time') \
         if t[1] * 1000000 + t[2] >= stop then return 1 end end",
        us = ms * 1000
    )
}

#[test]
fn busy_replies_are_counted_apart() {
    let busy_servers = [
        (
            "shardis",
            Server::shardis(1, &["--busy-reply-threshold", "100"]),
        ),
        ("redis-server", Server::redis(&["--lua-time-limit", "100"])),
    ];
    for (name, server) in busy_servers {
        let port = server.port;
        let script = std::thread::spawn(move || {
            common::Raw::connect(port).cmd(&["EVAL", &timed_loop(1500), "1", "script-key"])
        });
        // Past the threshold (polled, not slept on), well before the
        // script ends.
        common::wait_busy_reply(port, "GET", "__probe__");
        let stats = bench(
            port,
            &["-t", "1", "-c", "2", "-n", "10", "--command", "GET __key__"],
        );
        let totals = stats.totals();
        assert_eq!(totals.ops, 20, "{name}");
        assert_eq!(totals.busy, 20, "{name}: every GET got BUSY");
        assert_eq!(totals.errors, 20, "{name}: BUSY counts as an error");
        assert_eq!(script.join().expect("script thread"), ":1\r\n", "{name}");
    }
}

#[test]
fn rate_limiting_paces_each_connection() {
    let server = Server::shardis(1, &[]);
    let stats = bench(
        server.port,
        &[
            "-t",
            "1",
            "-c",
            "2",
            "--rate-limiting",
            "200",
            "--test-time",
            "1",
        ],
    );
    // 2 connections x 200/s x 1 s, give or take the requests still due
    // when the time ran out.
    let ops = stats.totals().ops;
    assert!((300..=402).contains(&ops), "{ops} requests");
    assert_eq!(stats.totals().errors, 0);
}

/// What a scenario does: its own commands and key list, stopped by a flag,
/// watching the intervals as they come.
#[test]
fn library_run_with_key_list_and_stop_flag() {
    let server = Server::shardis(2, &[]);
    let keys: Vec<Vec<u8>> = (0..5)
        .map(|i| format!("{{tag}}:{i}").into_bytes())
        .collect();
    let keys = Arc::new(KeySpace::listed(keys).expect("key list"));
    let mut plan = Plan::new(
        "127.0.0.1",
        server.port,
        vec![
            CommandSpec {
                label: "Incr".into(),
                template: Template::parse("INCR __key__").expect("template"),
                ratio: 1,
                pattern: KeyPattern::Sequential,
                keys: keys.clone(),
            },
            CommandSpec {
                label: "Get".into(),
                template: Template::parse("GET __key__").expect("template"),
                ratio: 2,
                pattern: KeyPattern::Random,
                keys,
            },
        ],
    );
    plan.threads = 2;
    plan.clients_per_thread = 2;
    plan.rate_per_connection = Some(1000);
    plan.limit = Limit::UntilStopped;
    plan.interval = Duration::from_millis(100);
    let stop = AtomicBool::new(false);
    let mut seen = Vec::new();
    let stats = std::thread::scope(|scope| {
        scope.spawn(|| {
            std::thread::sleep(Duration::from_millis(700));
            stop.store(true, Ordering::Relaxed);
        });
        run(&plan, &stop, |interval| {
            seen.push((interval.index, interval.totals().ops));
        })
        .expect("the run succeeds")
    });
    assert!(seen.len() >= 5, "about 7 intervals of 100 ms: {seen:?}");
    let indexes: Vec<u64> = seen.iter().map(|&(i, _)| i).collect();
    assert_eq!(
        indexes,
        (0..seen.len() as u64).collect::<Vec<_>>(),
        "in order, no holes"
    );
    let totals = stats.totals();
    assert_eq!(totals.errors, 0);
    assert_eq!(seen.iter().map(|&(_, ops)| ops).sum::<u64>(), totals.ops);
    assert_eq!(stats.abandoned, 0);
    let (incrs, gets) = (stats.types[0].ops, stats.types[1].ops);
    assert!(
        incrs > 0 && gets.abs_diff(2 * incrs) <= 8,
        "GET:INCR 2:1, give or take a turn per client: {gets}:{incrs}"
    );
    // Only the listed keys were touched, and the INCRs add up.
    assert_eq!(dbsize(&server), 5);
    let mut client = server.client();
    let sum: u64 = (0..5)
        .map(|i| {
            let reply = client.cmd(&["GET", &format!("{{tag}}:{i}")]);
            let value = reply.lines().nth(1).unwrap_or("0");
            value.parse::<u64>().expect("a counter")
        })
        .sum();
    assert_eq!(sum, stats.types[0].ops);
}

#[test]
fn binary_writes_json() {
    let server = Server::shardis(1, &[]);
    let dir = crate::common::TempDir::new("bench");
    let path = dir.0.join("out.json");
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_shardis-bench"))
        .args([
            "-p",
            &server.port.to_string(),
            "-t",
            "2",
            "-c",
            "2",
            "-n",
            "50",
        ])
        .args(["--print-percentiles", "50,99.9", "--json-out-file"])
        .arg(&path)
        .output()
        .expect("run shardis-bench");
    assert!(output.status.success(), "{output:?}");
    let table = String::from_utf8_lossy(&output.stdout);
    for column in [
        "Type",
        "Ops/sec",
        "Avg. Latency",
        "p50 Latency",
        "p99.9 Latency",
        "Totals",
    ] {
        assert!(table.contains(column), "{column} in\n{table}");
    }
    let json = std::fs::read_to_string(&path).expect("JSON file written");
    json::validate(&json).unwrap_or_else(|e| panic!("invalid JSON ({e}):\n{json}"));
    for field in [
        "\"configuration\"",
        "\"types\": {\"Sets\": {\"ops\": ",
        "\"Gets\": {\"ops\": ",
        "\"totals\": {\"ops\": 200, ",
        "\"percentiles_ms\": {\"p50\": ",
        "\"p99.9\": ",
        "\"errors\": 0, \"busy\": 0",
        "\"time_series\": [",
        "\"ops_per_sec\": ",
        "\"p99_ms\": ",
    ] {
        assert!(json.contains(field), "{field} in\n{json}");
    }
}

/// Just enough of a JSON parser to say whether a document is valid.
mod json {
    pub fn validate(text: &str) -> Result<(), String> {
        let mut p = Parser {
            bytes: text.as_bytes(),
            pos: 0,
        };
        p.value()?;
        p.space();
        if p.pos == p.bytes.len() {
            Ok(())
        } else {
            Err(format!("trailing bytes at {}", p.pos))
        }
    }

    struct Parser<'a> {
        bytes: &'a [u8],
        pos: usize,
    }

    impl Parser<'_> {
        fn space(&mut self) {
            while self.pos < self.bytes.len() && self.bytes[self.pos].is_ascii_whitespace() {
                self.pos += 1;
            }
        }

        fn eat(&mut self, byte: u8) -> bool {
            self.space();
            if self.bytes.get(self.pos) == Some(&byte) {
                self.pos += 1;
                true
            } else {
                false
            }
        }

        fn error(&self, what: &str) -> String {
            format!("{what} at byte {}", self.pos)
        }

        fn value(&mut self) -> Result<(), String> {
            self.space();
            match self.bytes.get(self.pos) {
                Some(b'{') => self.sequence(b'{', b'}', true),
                Some(b'[') => self.sequence(b'[', b']', false),
                Some(b'"') => self.string(),
                Some(b't') => self.literal("true"),
                Some(b'f') => self.literal("false"),
                Some(b'n') => self.literal("null"),
                Some(_) => self.number(),
                None => Err(self.error("a value expected")),
            }
        }

        fn sequence(&mut self, open: u8, close: u8, object: bool) -> Result<(), String> {
            self.eat(open);
            if self.eat(close) {
                return Ok(());
            }
            loop {
                if object {
                    self.space();
                    self.string()?;
                    if !self.eat(b':') {
                        return Err(self.error("':' expected"));
                    }
                }
                self.value()?;
                if self.eat(close) {
                    return Ok(());
                }
                if !self.eat(b',') {
                    return Err(self.error("',' expected"));
                }
            }
        }

        fn string(&mut self) -> Result<(), String> {
            if self.bytes.get(self.pos) != Some(&b'"') {
                return Err(self.error("string expected"));
            }
            self.pos += 1;
            while let Some(&b) = self.bytes.get(self.pos) {
                self.pos += 1;
                match b {
                    b'"' => return Ok(()),
                    b'\\' => self.pos += 1,
                    b if b < 0x20 => return Err(self.error("control byte in string")),
                    _ => {}
                }
            }
            Err(self.error("unterminated string"))
        }

        fn literal(&mut self, word: &str) -> Result<(), String> {
            if self.bytes[self.pos..].starts_with(word.as_bytes()) {
                self.pos += word.len();
                Ok(())
            } else {
                Err(self.error("bad literal"))
            }
        }

        fn number(&mut self) -> Result<(), String> {
            let start = self.pos;
            while self
                .bytes
                .get(self.pos)
                .is_some_and(|b| b.is_ascii_digit() || b"+-.eE".contains(b))
            {
                self.pos += 1;
            }
            let text = std::str::from_utf8(&self.bytes[start..self.pos]).unwrap_or("");
            match text.parse::<f64>() {
                Ok(_) if !text.starts_with('.') && !text.ends_with('.') => Ok(()),
                _ => Err(self.error("bad number")),
            }
        }
    }
}
