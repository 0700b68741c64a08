//! What a person or a script reads: the live progress line, the final
//! table (memtier's layout), and the JSON file.

use std::fmt::Write as _;

use super::plan::{Limit, Plan};
use super::stats::{per_second, IntervalStats, PointFigures, RunStats, TypeStats};

/// Microseconds to the milliseconds the report shows.
fn ms(us: f64) -> f64 {
    us / 1000.0
}

/// One line per interval: when, how fast, how slow, how many errors.
pub fn progress_line(interval: &IntervalStats) -> String {
    let totals = interval.totals();
    let elapsed = interval.start + interval.length;
    format!(
        "[{:>6.1} s] {:>10.0} ops/s   p50 {:>8.3} ms   p99 {:>8.3} ms   errors {} (BUSY {})",
        elapsed.as_secs_f64(),
        per_second(totals.ops, interval.length),
        ms(totals.percentile_us(50.0) as f64),
        ms(totals.percentile_us(99.0) as f64),
        totals.errors,
        totals.busy,
    )
}

/// The final table: one row per command type and a Totals row.
pub fn table(stats: &RunStats, percentiles: &[f64]) -> String {
    let mut columns = vec!["Ops/sec".to_string(), "Avg. Latency".to_string()];
    columns.extend(percentiles.iter().map(|p| format!("p{p} Latency")));
    columns.extend(["Max Latency", "Errors", "BUSY"].map(String::from));
    let width = 12 + columns.len() * 16;
    let mut out = String::new();
    let _ = writeln!(out, "{}", "=".repeat(width));
    let _ = write!(out, "{:<12}", "Type");
    for column in &columns {
        let _ = write!(out, "{column:>16}");
    }
    let _ = writeln!(out);
    let _ = writeln!(out, "{}", "-".repeat(width));
    let totals = stats.totals();
    let rows = stats
        .labels
        .iter()
        .map(String::as_str)
        .zip(&stats.types)
        .chain(std::iter::once(("Totals", &totals)));
    for (label, row) in rows {
        let _ = write!(
            out,
            "{label:<12}{:>16.2}{:>16.3}",
            per_second(row.ops, stats.duration),
            ms(row.mean_us())
        );
        for &p in percentiles {
            let _ = write!(out, "{:>16.3}", ms(row.percentile_us(p) as f64));
        }
        let _ = writeln!(
            out,
            "{:>16.3}{:>16}{:>16}",
            ms(row.max_us() as f64),
            row.errors,
            row.busy
        );
    }
    let _ = write!(
        out,
        "{} requests in {:.2} s; latency in ms",
        totals.ops,
        stats.duration.as_secs_f64()
    );
    if stats.abandoned > 0 {
        let _ = write!(out, "; {} unanswered at the stop", stats.abandoned);
    }
    out.push('\n');
    out
}

/// The results as JSON: the configuration, the figures of the table, and
/// the time series (one point per interval).
pub fn json(stats: &RunStats, plan: &Plan, percentiles: &[f64]) -> String {
    let mut out = String::from("{\n");
    let _ = writeln!(
        out,
        "  \"configuration\": {},",
        configuration(plan, percentiles)
    );
    let _ = writeln!(
        out,
        "  \"duration_secs\": {},",
        number(stats.duration.as_secs_f64())
    );
    let _ = writeln!(out, "  \"abandoned\": {},", stats.abandoned);
    let types: Vec<String> = stats
        .labels
        .iter()
        .zip(&stats.types)
        .map(|(label, row)| format!("{}: {}", string(label), figures(row, stats, percentiles)))
        .collect();
    let _ = writeln!(out, "  \"types\": {{{}}},", types.join(", "));
    let _ = writeln!(
        out,
        "  \"totals\": {},",
        figures(&stats.totals(), stats, percentiles)
    );
    out.push_str("  \"time_series\": [");
    for (i, point) in stats.intervals.iter().enumerate() {
        let types: Vec<String> = stats
            .labels
            .iter()
            .zip(&point.types)
            .map(|(label, f)| format!("{}: {{{}}}", string(label), point_figures(f)))
            .collect();
        let _ = write!(
            out,
            "{}\n    {{\"index\": {}, \"start_secs\": {}, \"length_secs\": {}, {}, \"types\": {{{}}}}}",
            if i == 0 { "" } else { "," },
            point.index,
            number(point.start.as_secs_f64()),
            number(point.length.as_secs_f64()),
            point_figures(&point.totals),
            types.join(", ")
        );
    }
    out.push_str("\n  ]\n}\n");
    out
}

fn configuration(plan: &Plan, percentiles: &[f64]) -> String {
    let limit = match plan.limit {
        Limit::RequestsPerClient(n) => format!("{{\"requests_per_client\": {n}}}"),
        Limit::Duration(d) => format!("{{\"test_time_secs\": {}}}", number(d.as_secs_f64())),
        Limit::UntilStopped => "\"until_stopped\"".to_string(),
    };
    let commands: Vec<String> = plan
        .commands
        .iter()
        .map(|c| {
            format!(
                "{{\"label\": {}, \"command\": {}, \"ratio\": {}, \"key_pattern\": \"{}\", \"key_minimum\": {}, \"key_maximum\": {}}}",
                string(&c.label),
                string(&c.template.text()),
                c.ratio,
                c.pattern.letter(),
                c.keys.min,
                c.keys.max
            )
        })
        .collect();
    let percentiles: Vec<String> = percentiles.iter().map(|&p| number(p)).collect();
    format!(
        "{{\"server\": {}, \"port\": {}, \"threads\": {}, \"clients_per_thread\": {}, \"pipeline\": {}, \"data_size\": {}, \"limit\": {}, \"rate_limiting\": {}, \"distinct_client_seed\": {}, \"percentiles\": [{}], \"commands\": [{}]}}",
        string(&plan.server),
        plan.port,
        plan.threads,
        plan.clients_per_thread,
        plan.pipeline,
        plan.data_size,
        limit,
        plan.rate_per_connection
            .map_or("null".to_string(), |r| r.to_string()),
        plan.distinct_client_seed,
        percentiles.join(", "),
        commands.join(", ")
    )
}

fn figures(row: &TypeStats, stats: &RunStats, percentiles: &[f64]) -> String {
    let percentiles: Vec<String> = percentiles
        .iter()
        .map(|&p| format!("\"p{p}\": {}", number(ms(row.percentile_us(p) as f64))))
        .collect();
    format!(
        "{{\"ops\": {}, \"ops_per_sec\": {}, \"avg_latency_ms\": {}, \"percentiles_ms\": {{{}}}, \"max_latency_ms\": {}, \"errors\": {}, \"busy\": {}}}",
        row.ops,
        number(per_second(row.ops, stats.duration)),
        number(ms(row.mean_us())),
        percentiles.join(", "),
        number(ms(row.max_us() as f64)),
        row.errors,
        row.busy
    )
}

fn point_figures(f: &PointFigures) -> String {
    format!(
        "\"ops\": {}, \"ops_per_sec\": {}, \"p50_ms\": {}, \"p99_ms\": {}, \"max_ms\": {}, \"errors\": {}, \"busy\": {}",
        f.ops,
        number(f.ops_per_sec),
        number(ms(f.p50_us as f64)),
        number(ms(f.p99_us as f64)),
        number(ms(f.max_us as f64)),
        f.errors,
        f.busy
    )
}

/// A JSON number (JSON has no NaN or infinity: those become null).
fn number(value: f64) -> String {
    if value.is_finite() {
        let text = format!("{value:.3}");
        // Drop zeros after the point, keep one digit: 2.500 -> 2.5, 3.000 -> 3.0.
        let trimmed = text.trim_end_matches('0');
        if trimmed.ends_with('.') {
            format!("{trimmed}0")
        } else {
            trimmed.to_string()
        }
    } else {
        "null".to_string()
    }
}

/// A JSON string literal (the scenarios' JSON uses it too).
pub fn string(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn json_numbers_and_strings() {
        assert_eq!(number(2.5), "2.5");
        assert_eq!(number(3.0), "3.0");
        assert_eq!(number(0.0004), "0.0");
        assert_eq!(number(f64::NAN), "null");
        assert_eq!(string("a\"b\\c\n\u{1}"), "\"a\\\"b\\\\c\\n\\u0001\"");
    }
}
