//! `client-output-buffer-limit`'s rule, as Redis's
//! `checkClientOutputBufferLimits`: a client whose unwritten reply bytes
//! reach its class's hard limit is over at once; one above the soft limit
//! is over once it has stayed above it for more than the soft seconds.

use std::cell::Cell;
use std::time::Instant;

/// One class's output buffer limits (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct BufferLimit {
    pub hard_bytes: u64,
    pub soft_bytes: u64,
    pub soft_seconds: u64,
}

/// One client's soft-limit clock.
#[derive(Default)]
pub struct LimitWatch {
    /// Since when the unwritten bytes have been above the soft limit.
    over_soft_since: Cell<Option<Instant>>,
}

impl LimitWatch {
    /// Whether `unwritten` bytes break `limit` at `now` (0 limits: none).
    pub fn exceeded(&self, limit: BufferLimit, unwritten: usize, now: Instant) -> bool {
        let unwritten = unwritten as u64;
        if limit.hard_bytes > 0 && unwritten >= limit.hard_bytes {
            return true;
        }
        if limit.soft_bytes == 0 || unwritten < limit.soft_bytes {
            self.over_soft_since.set(None);
            return false;
        }
        match self.over_soft_since.get() {
            None => {
                self.over_soft_since.set(Some(now));
                false
            }
            Some(since) => now.duration_since(since).as_secs() > limit.soft_seconds,
        }
    }

    /// Everything was written: the soft-limit clock stops.
    pub fn drained(&self) {
        self.over_soft_since.set(None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn hard_limit_at_once_soft_limit_after_its_seconds() {
        let watch = LimitWatch::default();
        let limit = BufferLimit {
            hard_bytes: 100,
            soft_bytes: 50,
            soft_seconds: 2,
        };
        let t0 = Instant::now();
        assert!(!watch.exceeded(limit, 10, t0));
        assert!(watch.exceeded(limit, 100, t0));
        assert!(!watch.exceeded(limit, 60, t0));
        assert!(!watch.exceeded(limit, 60, t0 + Duration::from_secs(2)));
        assert!(watch.exceeded(limit, 60, t0 + Duration::from_secs(3)));
        // Back under the soft limit: the clock starts again.
        assert!(!watch.exceeded(limit, 10, t0 + Duration::from_secs(3)));
        assert!(!watch.exceeded(limit, 60, t0 + Duration::from_secs(4)));
        let none = BufferLimit {
            hard_bytes: 0,
            soft_bytes: 0,
            soft_seconds: 0,
        };
        assert!(!watch.exceeded(none, usize::MAX / 2, t0));
    }
}
