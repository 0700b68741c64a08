//! A run: the worker threads, the start gate that lets every connection
//! be made before the clock starts, and the merging of the workers'
//! intervals into the run's statistics.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;
use std::thread;

use super::gate::StartGate;
use super::plan::{LoadError, Plan};
use super::request::Encoder;
use super::stats::{IntervalMerger, IntervalStats, RunStats, TypeStats};
use super::worker::{self, Handover, Shared};
use super::MAX_OUTPUT_BYTES;

/// Runs `plan` until its limit or until `stop` is set, calling
/// `on_interval` with each completed interval (in order, histograms
/// included) from the calling thread while the run goes on.
pub fn run(
    plan: &Plan,
    stop: &AtomicBool,
    mut on_interval: impl FnMut(&IntervalStats),
) -> Result<RunStats, LoadError> {
    plan.validate()?;
    let encoders = plan
        .commands
        .iter()
        .map(|c| Encoder::new(&c.template, plan.data_size))
        .collect::<Result<Vec<_>, _>>()
        .map_err(LoadError::Config)?;
    // A connection's output holds at most `pipeline` requests.
    let longest_request = encoders
        .iter()
        .zip(&plan.commands)
        .map(|(e, c)| e.longest_request(c.keys.longest_key()))
        .max()
        .unwrap_or(0);
    if longest_request.saturating_mul(plan.pipeline) > MAX_OUTPUT_BYTES {
        return Err(LoadError::Config(format!(
            "pipeline x request size ({} x {longest_request} bytes) is over {MAX_OUTPUT_BYTES} bytes",
            plan.pipeline
        )));
    }
    let shared = Shared {
        plan,
        encoders: &encoders,
        stop,
        abort: AtomicBool::new(false),
        gate: StartGate::new(),
    };
    let types = plan.commands.len();
    let (handover, handed_in) = mpsc::channel::<Handover>();
    thread::scope(|scope| {
        let mut workers = Vec::new();
        let mut failures = Vec::new();
        for index in 0..plan.threads {
            let (shared, handover) = (&shared, handover.clone());
            let spawned = thread::Builder::new()
                .name(format!("bench-{index}"))
                .spawn_scoped(scope, move || worker::run_worker(shared, index, handover));
            match spawned {
                Ok(handle) => workers.push(handle),
                Err(e) => {
                    shared.abort.store(true, Ordering::Relaxed);
                    failures.push(LoadError::Thread(e.to_string()));
                    break;
                }
            }
        }
        drop(handover);
        shared.gate.open_after(workers.len());

        let mut merger = IntervalMerger::new(workers.len(), plan.interval, types);
        let mut totals: Vec<TypeStats> = (0..types).map(|_| TypeStats::default()).collect();
        let mut points = Vec::new();
        let mut take = |merger: &mut IntervalMerger| {
            for interval in merger.complete() {
                for (total, stats) in totals.iter_mut().zip(&interval.types) {
                    total.add(stats);
                }
                on_interval(&interval);
                points.push(interval.point());
            }
        };
        // Ends when every worker has dropped its sender.
        for handed in handed_in {
            merger.hand_in(handed.worker, handed.stats, handed.finished_at);
            take(&mut merger);
        }
        let mut abandoned = 0;
        for handle in workers {
            match handle.join() {
                Ok(Ok(outcome)) => abandoned += outcome.abandoned,
                Ok(Err(e)) => failures.push(e),
                Err(_) => failures.push(LoadError::Thread("a worker panicked".into())),
            }
        }
        if !failures.is_empty() {
            // The first failure is the cause; the others are workers that
            // quit because of it.
            return Err(failures.remove(0));
        }
        Ok(RunStats {
            labels: plan.commands.iter().map(|c| c.label.clone()).collect(),
            duration: merger.end(),
            types: totals,
            intervals: points,
            abandoned,
        })
    })
}
