//! Counting: latency histograms and error counts per command type, per
//! interval and per run, and the merging of the workers' intervals.
//!
//! Workers record into the histograms of the interval they are in and hand
//! each interval over when it ends; the caller's thread merges the
//! workers' copies of an interval once every worker is past it, then adds
//! it to the run's totals. So recording is one histogram update, and no
//! lock is shared between workers.

use std::collections::BTreeMap;
use std::time::Duration;

use hdrhistogram::Histogram;

use super::reply::ReplyKind;
use super::MAX_LATENCY_US;

/// Significant decimal digits the histograms keep (0.1% resolution).
const HISTOGRAM_PRECISION: u8 = 3;

fn new_histogram() -> Histogram<u64> {
    // The bounds are constants that hdrhistogram accepts: 1 us to
    // MAX_LATENCY_US at 3 digits.
    Histogram::new_with_bounds(1, MAX_LATENCY_US, HISTOGRAM_PRECISION)
        .expect("constant histogram bounds are valid")
}

/// What one command type saw.
#[derive(Debug, Clone)]
pub struct TypeStats {
    /// Replies received (errors included).
    pub ops: u64,
    /// Error replies, BUSY ones included.
    pub errors: u64,
    /// `-BUSY` replies (a subset of `errors`).
    pub busy: u64,
    /// Exact sum of latencies, for the average.
    pub latency_sum_us: u64,
    /// Latency per reply in microseconds, capped at MAX_LATENCY_US.
    pub latency_us: Histogram<u64>,
}

impl Default for TypeStats {
    fn default() -> Self {
        TypeStats {
            ops: 0,
            errors: 0,
            busy: 0,
            latency_sum_us: 0,
            latency_us: new_histogram(),
        }
    }
}

impl TypeStats {
    pub fn record(&mut self, latency: Duration, kind: ReplyKind) {
        let us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX);
        self.ops += 1;
        self.latency_sum_us = self.latency_sum_us.saturating_add(us);
        self.latency_us
            .saturating_record(us.clamp(1, MAX_LATENCY_US));
        match kind {
            ReplyKind::Ok => {}
            ReplyKind::Error => self.errors += 1,
            ReplyKind::Busy => {
                self.errors += 1;
                self.busy += 1;
            }
        }
    }

    pub fn add(&mut self, other: &TypeStats) {
        self.ops += other.ops;
        self.errors += other.errors;
        self.busy += other.busy;
        self.latency_sum_us = self.latency_sum_us.saturating_add(other.latency_sum_us);
        // Same bounds on both sides, so adding cannot fail.
        let _ = self.latency_us.add(&other.latency_us);
    }

    /// Mean latency in microseconds (0 without replies).
    pub fn mean_us(&self) -> f64 {
        if self.ops == 0 {
            0.0
        } else {
            self.latency_sum_us as f64 / self.ops as f64
        }
    }

    /// Latency at `percentile` (0-100] in microseconds (0 without replies).
    pub fn percentile_us(&self, percentile: f64) -> u64 {
        if self.ops == 0 {
            0
        } else {
            self.latency_us.value_at_percentile(percentile)
        }
    }

    pub fn max_us(&self) -> u64 {
        if self.ops == 0 {
            0
        } else {
            self.latency_us.max()
        }
    }
}

/// Every type's stats merged into one.
pub fn merged(types: &[TypeStats]) -> TypeStats {
    let mut total = TypeStats::default();
    for stats in types {
        total.add(stats);
    }
    total
}

/// One interval of the run (a second, by default) as the workers saw it.
#[derive(Debug, Clone)]
pub struct IntervalStats {
    /// The interval covers `[index * length, (index + 1) * length)` after
    /// the start (the last one may end early).
    pub index: u64,
    /// When it starts, from the run's start.
    pub start: Duration,
    /// Its real length: the nominal one, or less for the last.
    pub length: Duration,
    /// Per command type, in the order of the plan's commands.
    pub types: Vec<TypeStats>,
}

impl IntervalStats {
    /// Interval `index` of a run whose intervals last `length`.
    pub fn new(index: u64, length: Duration, types: usize) -> IntervalStats {
        IntervalStats {
            index,
            start: interval_start(length, index),
            length,
            types: (0..types).map(|_| TypeStats::default()).collect(),
        }
    }

    pub fn add(&mut self, other: &IntervalStats) {
        for (mine, theirs) in self.types.iter_mut().zip(&other.types) {
            mine.add(theirs);
        }
    }

    pub fn totals(&self) -> TypeStats {
        merged(&self.types)
    }

    /// The figures kept for the time series.
    pub fn point(&self) -> IntervalPoint {
        let summarize = |stats: &TypeStats| PointFigures {
            ops: stats.ops,
            ops_per_sec: per_second(stats.ops, self.length),
            p50_us: stats.percentile_us(50.0),
            p99_us: stats.percentile_us(99.0),
            max_us: stats.max_us(),
            errors: stats.errors,
            busy: stats.busy,
        };
        IntervalPoint {
            index: self.index,
            start: self.start,
            length: self.length,
            types: self.types.iter().map(summarize).collect(),
            totals: summarize(&self.totals()),
        }
    }
}

/// Where interval `index` starts, from the run's start.
pub fn interval_start(interval: Duration, index: u64) -> Duration {
    let nanos = u64::try_from(interval.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(nanos.saturating_mul(index))
}

pub fn per_second(count: u64, over: Duration) -> f64 {
    if over.is_zero() {
        0.0
    } else {
        count as f64 / over.as_secs_f64()
    }
}

/// One interval's figures, without histograms (what a run keeps per
/// interval, so a long run stays small).
#[derive(Debug, Clone, PartialEq)]
pub struct IntervalPoint {
    pub index: u64,
    pub start: Duration,
    pub length: Duration,
    pub types: Vec<PointFigures>,
    pub totals: PointFigures,
}

#[derive(Debug, Clone, PartialEq)]
pub struct PointFigures {
    pub ops: u64,
    pub ops_per_sec: f64,
    pub p50_us: u64,
    pub p99_us: u64,
    pub max_us: u64,
    pub errors: u64,
    pub busy: u64,
}

/// What a whole run measured.
#[derive(Debug, Clone)]
pub struct RunStats {
    /// Row labels, one per command type.
    pub labels: Vec<String>,
    /// From the start to the last reply (or the stop).
    pub duration: Duration,
    /// Per command type over the whole run.
    pub types: Vec<TypeStats>,
    /// The time series, one point per interval.
    pub intervals: Vec<IntervalPoint>,
    /// Requests still unanswered when the run stopped (after the drain
    /// time): sent, but in no count.
    pub abandoned: u64,
}

impl RunStats {
    pub fn totals(&self) -> TypeStats {
        merged(&self.types)
    }
}

/// Merges the workers' intervals: an interval is complete once every
/// worker has handed in that interval or a later one, or has finished.
#[derive(Debug)]
pub struct IntervalMerger {
    interval: Duration,
    types: usize,
    /// Per worker: the latest interval it handed in (a worker hands an
    /// interval in when it leaves it, so it adds nothing to it or to any
    /// earlier one afterwards), and whether it is done.
    latest: Vec<Option<u64>>,
    finished: Vec<bool>,
    pending: BTreeMap<u64, IntervalStats>,
    /// The next interval to emit.
    next: u64,
    /// When the last worker finished, from the start.
    end: Duration,
}

impl IntervalMerger {
    pub fn new(workers: usize, interval: Duration, types: usize) -> IntervalMerger {
        IntervalMerger {
            interval,
            types,
            latest: vec![None; workers],
            finished: vec![false; workers],
            pending: BTreeMap::new(),
            next: 0,
            end: Duration::ZERO,
        }
    }

    /// Takes a worker's interval; `finished_at` marks its last one.
    pub fn hand_in(&mut self, worker: usize, stats: IntervalStats, finished_at: Option<Duration>) {
        let index = stats.index;
        match self.pending.get_mut(&index) {
            Some(merged) => merged.add(&stats),
            None => {
                if index >= self.next {
                    self.pending.insert(index, stats);
                }
            }
        }
        if let Some(latest) = self.latest.get_mut(worker) {
            *latest = Some(latest.map_or(index, |l| l.max(index)));
        }
        if let Some(at) = finished_at {
            if let Some(done) = self.finished.get_mut(worker) {
                *done = true;
            }
            self.end = self.end.max(at);
        }
    }

    /// The intervals now complete, in order; an interval in which no worker
    /// recorded anything comes out empty, so the series has no holes.
    pub fn complete(&mut self) -> Vec<IntervalStats> {
        let mut out = Vec::new();
        loop {
            let index = self.next;
            let everyone_past = self
                .latest
                .iter()
                .zip(&self.finished)
                .all(|(latest, &done)| done || latest.is_some_and(|l| l >= index));
            let all_done = self.finished.iter().all(|&d| d);
            if all_done && self.pending.range(index..).next().is_none() {
                break;
            }
            if !everyone_past {
                break;
            }
            let mut stats = self
                .pending
                .remove(&index)
                .unwrap_or_else(|| IntervalStats::new(index, self.interval, self.types));
            stats.length = self.length_of(index, all_done);
            out.push(stats);
            self.next += 1;
        }
        out
    }

    /// When the last worker finished.
    pub fn end(&self) -> Duration {
        self.end
    }

    fn length_of(&self, index: u64, all_done: bool) -> Duration {
        let start = interval_start(self.interval, index);
        let nominal_end = start + self.interval;
        if all_done && self.end < nominal_end {
            self.end.saturating_sub(start)
        } else {
            self.interval
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn interval_with(index: u64, ops: u64) -> IntervalStats {
        let mut stats = IntervalStats::new(index, Duration::from_secs(1), 1);
        for _ in 0..ops {
            stats.types[0].record(Duration::from_micros(100), ReplyKind::Ok);
        }
        stats
    }

    #[test]
    fn record_counts_errors_and_busy() {
        let mut stats = TypeStats::default();
        stats.record(Duration::from_micros(10), ReplyKind::Ok);
        stats.record(Duration::from_micros(20), ReplyKind::Error);
        stats.record(Duration::from_micros(30), ReplyKind::Busy);
        assert_eq!((stats.ops, stats.errors, stats.busy), (3, 2, 1));
        assert_eq!(stats.mean_us(), 20.0);
        assert_eq!(stats.max_us(), 30);
        // Beyond the histogram's range: counted, capped.
        stats.record(Duration::from_secs(3600), ReplyKind::Ok);
        assert_eq!(stats.ops, 4);
    }

    #[test]
    fn merger_waits_for_every_worker() {
        let mut merger = IntervalMerger::new(2, Duration::from_secs(1), 1);
        // Workers hand an interval in when they leave it.
        merger.hand_in(0, interval_with(0, 3), None);
        assert!(merger.complete().is_empty(), "worker 1 is still in 0");
        merger.hand_in(1, interval_with(0, 4), None);
        let done = merger.complete();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].types[0].ops, 7);
        // Worker 0 stalled through 1 and hands in 2: 1 is empty for it.
        merger.hand_in(0, interval_with(2, 1), None);
        merger.hand_in(1, interval_with(1, 5), None);
        let done = merger.complete();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].types[0].ops, 5);
        merger.hand_in(1, interval_with(2, 2), Some(Duration::from_millis(2500)));
        let done = merger.complete();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].types[0].ops, 3);
        assert_eq!(done[0].length, Duration::from_secs(1), "worker 0 went on");
        merger.hand_in(0, interval_with(3, 2), Some(Duration::from_millis(3200)));
        let done = merger.complete();
        assert_eq!(done.len(), 1);
        assert_eq!(done[0].length, Duration::from_millis(200));
        assert_eq!(merger.end(), Duration::from_millis(3200));
        assert!(merger.complete().is_empty());
    }
}
