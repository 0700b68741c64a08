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

/// Where latencies and times land on the plot.
struct Plot {
    run_ms: f64,
    /// Decades of latency on the y axis, from FLOOR_MS up.
    decades: f64,
    width: f64,
    height: f64,
}

impl Plot {
    fn new(results: &[TargetResult]) -> Plot {
        let run_ms = results.iter().map(|r| r.run_ms).max().unwrap_or(1).max(1) as f64;
        let top_ms = results
            .iter()
            .flat_map(|r| r.timeline.iter())
            .flat_map(|b| b.p99_us.iter().flatten())
            .map(|&us| us as f64 / 1000.0)
            .fold(1.0, f64::max);
        Plot {
            run_ms,
            // Whole decades from 0.1 ms up to the slowest bucket.
            decades: (top_ms / FLOOR_MS).log10().ceil().max(1.0),
            width: WIDTH - LEFT - RIGHT,
            height: HEIGHT - TOP - BOTTOM,
        }
    }

    fn x(&self, ms: f64) -> f64 {
        LEFT + ms / self.run_ms * self.width
    }

    fn y(&self, latency_ms: f64) -> f64 {
        let d = (latency_ms.max(FLOOR_MS) / FLOOR_MS).log10() / self.decades;
        TOP + self.height * (1.0 - d.min(1.0))
    }
}

pub fn chart(results: &[TargetResult], title: &str) -> String {
    let plot = Plot::new(results);
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
        let (x0, x1) = (
            plot.x(r.script_start_ms as f64),
            plot.x(r.script_end_ms as f64),
        );
        let _ = writeln!(
            svg,
            r##"<rect x="{x0:.1}" y="{TOP}" width="{:.1}" height="{}" fill="#888" fill-opacity="0.12"/>"##,
            (x1 - x0).max(1.0),
            plot.height
        );
    }
    axes(&mut svg, &plot);
    lines(&mut svg, &plot, results);
    svg.push_str("</svg>\n");
    svg
}

/// Axes, decade grid lines and labels, the frame.
fn axes(svg: &mut String, plot: &Plot) {
    let (plot_w, plot_h) = (plot.width, plot.height);
    for d in 0..=plot.decades as i32 {
        let v = FLOOR_MS * 10f64.powi(d);
        let yy = plot.y(v);
        let _ = writeln!(
            svg,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ddd"/><text x="{:.1}" y="{:.1}" text-anchor="end">{v} ms</text>"##,
            LEFT + plot_w,
            LEFT - 6.0,
            yy + 4.0
        );
    }
    let seconds = (plot.run_ms / 1000.0).ceil() as u64;
    for s in 0..=seconds {
        let xx = plot.x(s as f64 * 1000.0);
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
}

/// One line per target and group, each with its legend entry.
fn lines(svg: &mut String, plot: &Plot, results: &[TargetResult]) {
    let mut legend = 0;
    for (ti, r) in results.iter().enumerate() {
        for (gi, group) in ["other shards", "script's shard"].iter().enumerate() {
            let color = COLORS[(ti * 2 + gi) % COLORS.len()];
            let dash = if gi == 1 {
                r#" stroke-dasharray="5,3""#
            } else {
                ""
            };
            let path = path(plot, r, gi);
            if path.is_empty() {
                continue;
            }
            let _ = writeln!(
                svg,
                r#"<path d="{path}" fill="none" stroke="{color}" stroke-width="1.8"{dash}/>"#
            );
            let ly = TOP + 14.0 + legend as f64 * 18.0;
            let lx = LEFT + plot.width + 14.0;
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
}

/// The SVG path of group `gi`'s p99 over `r`'s timeline; a gap where a
/// bucket had no sample.
fn path(plot: &Plot, r: &TargetResult, gi: usize) -> String {
    let mut path = String::new();
    let mut pen_down = false;
    for b in &r.timeline {
        match b.p99_us[gi] {
            Some(us) => {
                let cmd = if pen_down { 'L' } else { 'M' };
                let _ = write!(
                    path,
                    "{cmd}{:.1},{:.1} ",
                    plot.x(b.start_ms as f64 + BUCKET_MS as f64 / 2.0),
                    plot.y(us as f64 / 1000.0)
                );
                pen_down = true;
            }
            None => pen_down = false,
        }
    }
    path
}

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
