//! The start gate: every worker makes its connections, then they all
//! start on one clock.

use std::sync::{Condvar, Mutex, PoisonError};
use std::time::Instant;

/// Holds the workers until every connection is made, then starts them
/// all on one clock.
pub(crate) struct StartGate {
    state: Mutex<GateState>,
    changed: Condvar,
}

struct GateState {
    arrived: usize,
    start: Option<Instant>,
}

impl StartGate {
    pub(crate) fn new() -> StartGate {
        StartGate {
            state: Mutex::new(GateState {
                arrived: 0,
                start: None,
            }),
            changed: Condvar::new(),
        }
    }

    /// A worker is ready (or gave up); returns the common start.
    pub(crate) fn arrive(&self) -> Instant {
        // A poisoned lock only means another worker panicked; the state
        // (a counter and a time) is still consistent.
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        state.arrived += 1;
        self.changed.notify_all();
        loop {
            if let Some(start) = state.start {
                return start;
            }
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
    }

    /// Waits for `workers` arrivals, then starts the clock.
    pub(crate) fn open_after(&self, workers: usize) -> Instant {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        while state.arrived < workers {
            state = self
                .changed
                .wait(state)
                .unwrap_or_else(PoisonError::into_inner);
        }
        let start = Instant::now();
        state.start = Some(start);
        self.changed.notify_all();
        start
    }
}
