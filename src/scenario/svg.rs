//! The scenario's chart: p99 latency over time (per 100 ms, log scale),
//! one line per target and key group, the script's window shaded.

use std::fmt::Write as _;

use super::report::{TargetResult, BUCKET_MS};

const WIDTH: f64 = 1060.0;
const HEIGHT: f64 = 440.0;
const LEFT: f64 = 70.0;
const RIGHT: f64 = 350.0;
const TOP: f64 = 40.0;
const BOTTOM: f64 = 50.0;
/// Lowest latency on the axis: 0.1 ms.
const FLOOR_MS: f64 = 0.1;
const COLORS: [&str; 6] = [
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd", "#8c564b",
];

pub fn chart(results: &[TargetResult], title: &str) -> String {
    let run_ms = results.iter().map(|r| r.run_ms).max().unwrap_or(1).max(1) as f64;
    let top_ms = results
        .iter()
        .flat_map(|r| r.timeline.iter())
        .flat_map(|b| b.p99_us.iter().flatten())
        .map(|&us| us as f64 / 1000.0)
        .fold(1.0, f64::max);
    // Whole decades from 0.1 ms up to the slowest bucket.
    let decades = (top_ms / FLOOR_MS).log10().ceil().max(1.0);
    let plot_w = WIDTH - LEFT - RIGHT;
    let plot_h = HEIGHT - TOP - BOTTOM;
    let x = |ms: f64| LEFT + ms / run_ms * plot_w;
    let y = |latency_ms: f64| {
        let d = (latency_ms.max(FLOOR_MS) / FLOOR_MS).log10() / decades;
        TOP + plot_h * (1.0 - d.min(1.0))
    };
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(
        svg,
        r#"<rect width="{WIDTH}" height="{HEIGHT}" fill="white"/><text x="{LEFT}" y="22" font-size="15">{}</text>"#,
        escape(title)
    );
    // The script windows (each target's run has its own).
    for r in results {
        let (x0, x1) = (x(r.script_start_ms as f64), x(r.script_end_ms as f64));
        let _ = writeln!(
            svg,
            r##"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{plot_h}" fill="#888" fill-opacity="0.12"/>"##,
            (x1 - x0).max(1.0)
        );
    }
    // Axes, decade grid lines and labels.
    for d in 0..=decades as i32 {
        let v = FLOOR_MS * 10f64.powi(d);
        let yy = y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v} ms</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0
        );
    }
    let seconds = (run_ms / 1000.0).ceil() as u64;
    for s in 0..=seconds {
        let xx = x(s as f64 * 1000.0);
        if xx > LEFT + plot_w + 0.5 {
            break;
        }
        let _ = writeln!(
            svg,
            r#"<text x="{xx:.1}" y="{:.1}" text-anchor="middle">{s} s</text>"#,
            TOP + plot_h + 18.0
        );
    }
    let _ = writeln!(
        svg,
        r#"<text x="{:.1}" y="{:.1}" text-anchor="middle">time (script window shaded); p99 latency per {BUCKET_MS} ms, log scale</text>"#,
        LEFT + plot_w / 2.0,
        HEIGHT - 10.0
    );
    let _ = writeln!(
        svg,
        r##"<rect x="{LEFT}" y="{TOP}" width="{plot_w}" height="{plot_h}" fill="none" stroke="#444"/>"##
    );
    // One line per target and group; a gap where a bucket had no sample.
    let mut legend = 0;
    for (ti, r) in results.iter().enumerate() {
        for (gi, group) in ["other shards", "script's shard"].iter().enumerate() {
            let color = COLORS[(ti * 2 + gi) % COLORS.len()];
            let dash = if gi == 1 {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            };
            let mut path = String::new();
            let mut pen_down = false;
            for b in &r.timeline {
                match b.p99_us[gi] {
                    Some(us) => {
                        let cmd = if pen_down { 'L' } else { 'M' };
                        let _ = write!(
                            path,
                            "{cmd}{:.1},{:.1} ",
                            x(b.start_ms as f64 + BUCKET_MS as f64 / 2.0),
                            y(us as f64 / 1000.0)
                        );
                        pen_down = true;
                    }
                    None => pen_down = false,
                }
            }
            if path.is_empty() {
                continue;
            }
            let _ = writeln!(
                svg,
                r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>"#
            );
            let ly = TOP + 14.0 + legend as f64 * 18.0;
            let lx = LEFT + plot_w + 14.0;
            let _ = writeln!(
                svg,
                r#"<line x1="{lx:.1}" y1="{ly:.1}" x2="{:.1}" y2="{ly:.1}" stroke="{color}" stroke-width="2"{dash}/><text x="{:.1}" y="{:.1}">{} — {group}</text>"#,
                lx + 24.0,
                lx + 30.0,
                ly + 4.0,
                escape(&r.name)
            );
            legend += 1;
        }
    }
    svg.push_str("</svg>\n");
    svg
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
