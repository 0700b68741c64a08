//! Turning the load's samples into figures: latency and throughput per
//! key group during the script's window and outside it, a per-100 ms
//! timeline, and the side-by-side table and JSON of several targets.

use std::fmt::Write as _;

use hdrhistogram::Histogram;

use super::load::{Group, Outcome, Sample};
use crate::loadgen::report::string as json_str;

/// Width of one timeline bucket.
pub const BUCKET_MS: u64 = 100;
pub const GROUPS: [Group; 2] = [Group::OtherShards, Group::ScriptShard];

/// Latency and throughput of one key group over one period.
#[derive(Clone, Debug, Default)]
pub struct GroupStats {
    pub requests: u64,
    pub ops_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub p999_us: u64,
    pub max_us: u64,
    pub busy: u64,
    pub errors: u64,
}

/// One timeline bucket: p99 and BUSY replies per group.
#[derive(Clone, Debug)]
pub struct Bucket {
    pub start_ms: u64,
    pub p99_us: [Option<u64>; 2],
    pub busy: [u64; 2],
}

/// How SCRIPT KILL or SHUTDOWN NOSAVE answered while a script spun.
#[derive(Clone, Debug)]
pub struct Check {
    /// The command's own reply and how long it took.
    pub reply: String,
    pub reply_ms: f64,
    /// When the script's caller got its answer (SCRIPT KILL) or the
    /// server closed the connection (SHUTDOWN NOSAVE), from the command.
    pub done: Option<String>,
    pub done_ms: Option<f64>,
}

#[derive(Clone, Debug)]
pub struct TargetResult {
    pub name: String,
    pub addr: String,
    /// Shards the keys were grouped by (the shardis target's count).
    pub shards: usize,
    pub threshold: String,
    pub script_start_ms: u64,
    pub script_end_ms: u64,
    pub script_reply: String,
    pub run_ms: u64,
    /// Indexed like [`GROUPS`].
    pub window: [GroupStats; 2],
    pub outside: [GroupStats; 2],
    pub timeline: Vec<Bucket>,
    pub script_kill: Option<Check>,
    pub shutdown_nosave: Option<Check>,
}

pub fn group_index(g: Group) -> usize {
    GROUPS.iter().position(|&x| x == g).unwrap_or(0)
}

fn histogram() -> Histogram<u64> {
    // 1 µs to 10 minutes at 3 significant digits; new_with_bounds only
    // fails on bounds like these being invalid.
    Histogram::new_with_bounds(1, 600_000_000, 3).expect("valid histogram bounds")
}

fn stats(samples: &[&Sample], seconds: f64) -> GroupStats {
    let mut h = histogram();
    let (mut busy, mut errors) = (0, 0);
    for s in samples {
        h.saturating_record(s.latency_us);
        match s.outcome {
            Outcome::Busy => busy += 1,
            Outcome::Error => errors += 1,
            Outcome::Ok => {}
        }
    }
    GroupStats {
        requests: samples.len() as u64,
        ops_per_sec: if seconds > 0.0 {
            samples.len() as f64 / seconds
        } else {
            0.0
        },
        p50_us: h.value_at_quantile(0.5),
        p99_us: h.value_at_quantile(0.99),
        p999_us: h.value_at_quantile(0.999),
        max_us: h.max(),
        busy,
        errors,
    }
}

/// Window and outside figures per group, and the timeline.
pub fn summarize(
    samples: &[Sample],
    window_ms: (u64, u64),
    run_ms: u64,
) -> ([GroupStats; 2], [GroupStats; 2], Vec<Bucket>) {
    let (start_us, end_us) = (window_ms.0 * 1000, window_ms.1 * 1000);
    let inside = |s: &Sample| s.due_us >= start_us && s.due_us < end_us;
    let window_s = (window_ms.1 - window_ms.0) as f64 / 1000.0;
    let outside_s = (run_ms as f64 / 1000.0 - window_s).max(0.0);
    let pick = |group: Group, want_inside: bool| -> Vec<&Sample> {
        samples
            .iter()
            .filter(|s| s.group == group && inside(s) == want_inside)
            .collect()
    };
    let window = GROUPS.map(|g| stats(&pick(g, true), window_s));
    let outside = GROUPS.map(|g| stats(&pick(g, false), outside_s));
    let buckets = run_ms.div_ceil(BUCKET_MS) as usize;
    let mut hists: Vec<[Histogram<u64>; 2]> =
        (0..buckets).map(|_| [histogram(), histogram()]).collect();
    let mut busy = vec![[0u64; 2]; buckets];
    for s in samples {
        let b = ((s.due_us / 1000) / BUCKET_MS) as usize;
        if b < buckets {
            let g = group_index(s.group);
            hists[b][g].saturating_record(s.latency_us);
            if s.outcome == Outcome::Busy {
                busy[b][g] += 1;
            }
        }
    }
    let timeline = hists
        .iter()
        .zip(busy)
        .enumerate()
        .map(|(i, (h, busy))| Bucket {
            start_ms: i as u64 * BUCKET_MS,
            p99_us: [0, 1].map(|g| (!h[g].is_empty()).then(|| h[g].value_at_quantile(0.99))),
            busy,
        })
        .collect();
    (window, outside, timeline)
}

fn ms(us: u64) -> String {
    format!("{:.2}", us as f64 / 1000.0)
}

fn group_name(g: Group) -> &'static str {
    match g {
        Group::OtherShards => "keys on other shards",
        Group::ScriptShard => "keys on the script's shard",
    }
}

/// A table row: its label, its figure, whether that is a latency in µs.
type Row = (&'static str, fn(&GroupStats) -> f64, bool);

/// The side-by-side table: one column per target, a ratio column for each
/// target after the first (its figure over the first's).
pub fn table(results: &[TargetResult]) -> String {
    let mut out = String::new();
    let rows: [Row; 8] = [
        ("ops/s", |s| s.ops_per_sec, false),
        ("p50 ms", |s| s.p50_us as f64, true),
        ("p99 ms", |s| s.p99_us as f64, true),
        ("p99.9 ms", |s| s.p999_us as f64, true),
        ("max ms", |s| s.max_us as f64, true),
        ("BUSY", |s| s.busy as f64, false),
        ("other errors", |s| s.errors as f64, false),
        ("requests", |s| s.requests as f64, false),
    ];
    // Wide enough for the longest target name and a space.
    let width = results
        .iter()
        .map(|r| r.name.len() + 2)
        .max()
        .unwrap_or(0)
        .max(16);
    let mut header = format!("{:<34}", "");
    for (i, r) in results.iter().enumerate() {
        let _ = write!(header, "{:>width$}", r.name);
        if i > 0 {
            let _ = write!(header, "{:>9}", "ratio");
        }
    }
    for (period, pick) in [("during the script", true), ("outside the script", false)] {
        for (gi, g) in GROUPS.iter().enumerate() {
            let _ = writeln!(out, "\n{} — {period}", group_name(*g));
            let _ = writeln!(out, "{header}");
            for (label, value, is_time) in &rows {
                let _ = write!(out, "  {label:<32}");
                let first = results.first().map(|r| {
                    let s = if pick { &r.window[gi] } else { &r.outside[gi] };
                    value(s)
                });
                for (i, r) in results.iter().enumerate() {
                    let s = if pick { &r.window[gi] } else { &r.outside[gi] };
                    let v = value(s);
                    let shown = if *is_time {
                        ms(v as u64)
                    } else {
                        format!("{v:.0}")
                    };
                    let _ = write!(out, "{shown:>width$}");
                    if i > 0 {
                        let ratio = match first {
                            Some(f) if f > 0.0 => format!("{:.2}", v / f),
                            _ => "-".into(),
                        };
                        let _ = write!(out, "{ratio:>9}");
                    }
                }
                let _ = writeln!(out);
            }
        }
    }
    for r in results {
        script_and_checks(&mut out, r);
    }
    out
}

/// A target's script (threshold, run time, reply) and how SCRIPT KILL and
/// SHUTDOWN NOSAVE went, below the table.
fn script_and_checks(out: &mut String, r: &TargetResult) {
    let _ = writeln!(
        out,
        "\n{} ({}): threshold {} ms, script ran {} ms and answered {}",
        r.name,
        r.addr,
        r.threshold,
        r.script_end_ms - r.script_start_ms,
        r.script_reply.trim_end()
    );
    for (what, check) in [
        ("SCRIPT KILL", &r.script_kill),
        ("SHUTDOWN NOSAVE", &r.shutdown_nosave),
    ] {
        if let Some(c) = check {
            let _ = writeln!(
                out,
                "  {what}: answered {:?} in {:.1} ms; {} after {}",
                c.reply.trim_end(),
                c.reply_ms,
                c.done.as_deref().unwrap_or("no effect seen").trim_end(),
                c.done_ms
                    .map(|m| format!("{m:.1} ms"))
                    .unwrap_or("-".into())
            );
        }
    }
}

fn json_stats(s: &GroupStats) -> String {
    format!(
        "{{\"requests\":{},\"ops_per_sec\":{:.1},\"p50_ms\":{},\"p99_ms\":{},\"p99_9_ms\":{},\"max_ms\":{},\"busy\":{},\"errors\":{}}}",
        s.requests,
        s.ops_per_sec,
        ms(s.p50_us),
        ms(s.p99_us),
        ms(s.p999_us),
        ms(s.max_us),
        s.busy,
        s.errors
    )
}

fn json_check(c: &Option<Check>) -> String {
    match c {
        None => "null".into(),
        Some(c) => format!(
            "{{\"reply\":{},\"reply_ms\":{:.2},\"done\":{},\"done_ms\":{}}}",
            json_str(c.reply.trim_end()),
            c.reply_ms,
            c.done
                .as_deref()
                .map(|d| json_str(d.trim_end()))
                .unwrap_or("null".into()),
            c.done_ms
                .map(|m| format!("{m:.2}"))
                .unwrap_or("null".into())
        ),
    }
}

/// Every figure of every target, with the command line that produced it.
pub fn json(results: &[TargetResult], command: &str) -> String {
    let mut out = format!("{{\"command\":{},\"targets\":[", json_str(command));
    for (i, r) in results.iter().enumerate() {
        if i > 0 {
            out.push(',');
        }
        let groups = |stats: &[GroupStats; 2]| {
            format!(
                "{{\"other_shards\":{},\"script_shard\":{}}}",
                json_stats(&stats[0]),
                json_stats(&stats[1])
            )
        };
        let timeline: Vec<String> = r
            .timeline
            .iter()
            .map(|b| {
                let p99 = |g: usize| {
                    b.p99_us[g]
                        .map(ms)
                        .unwrap_or_else(|| "null".into())
                };
                format!(
                    "{{\"start_ms\":{},\"p99_ms\":{{\"other_shards\":{},\"script_shard\":{}}},\"busy\":{{\"other_shards\":{},\"script_shard\":{}}}}}",
                    b.start_ms,
                    p99(0),
                    p99(1),
                    b.busy[0],
                    b.busy[1]
                )
            })
            .collect();
        let _ = write!(
            out,
            "{{\"name\":{},\"addr\":{},\"shards\":{},\"threshold_ms\":{},\"script\":{{\"start_ms\":{},\"end_ms\":{},\"reply\":{}}},\"run_ms\":{},\"during_script\":{},\"outside_script\":{},\"script_kill\":{},\"shutdown_nosave\":{},\"timeline\":[{}]}}",
            json_str(&r.name),
            json_str(&r.addr),
            r.shards,
            json_str(&r.threshold),
            r.script_start_ms,
            r.script_end_ms,
            json_str(r.script_reply.trim_end()),
            r.run_ms,
            groups(&r.window),
            groups(&r.outside),
            json_check(&r.script_kill),
            json_check(&r.shutdown_nosave),
            timeline.join(",")
        );
    }
    out.push_str("]}\n");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(due_ms: u64, latency_us: u64, group: Group, outcome: Outcome) -> Sample {
        Sample {
            due_us: due_ms * 1000,
            latency_us,
            group,
            outcome,
            conn: 0,
        }
    }

    #[test]
    fn window_outside_and_timeline_split_by_time_and_group() {
        let samples = vec![
            sample(50, 100, Group::OtherShards, Outcome::Ok),
            sample(150, 200, Group::OtherShards, Outcome::Ok),
            sample(160, 90_000, Group::ScriptShard, Outcome::Busy),
            sample(250, 300, Group::OtherShards, Outcome::Error),
        ];
        let (window, outside, timeline) = summarize(&samples, (100, 200), 300);
        assert_eq!(window[0].requests, 1);
        assert_eq!(window[0].p99_us, 200);
        assert_eq!(window[1].busy, 1);
        assert_eq!(outside[0].requests, 2);
        assert_eq!(outside[0].errors, 1);
        assert_eq!(timeline.len(), 3);
        assert_eq!(timeline[1].busy, [0, 1]);
        assert_eq!(timeline[0].p99_us[1], None);
        assert!(timeline[1].p99_us[1].is_some_and(|v| v >= 89_000));
    }
}
