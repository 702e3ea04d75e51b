//! Activity tracking for `status` and the idle timeout.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Instant;

/// Requests in flight and when the last one ended.
#[derive(Clone)]
pub(crate) struct Activity {
    started: Instant,
    in_flight: Arc<AtomicUsize>,
    last_secs: Arc<AtomicU64>,
}

/// Counts one request while it lives.
pub(crate) struct InFlight(Activity);

impl Activity {
    pub(crate) fn new() -> Activity {
        Activity {
            started: Instant::now(),
            in_flight: Arc::default(),
            last_secs: Arc::default(),
        }
    }

    /// Marks a request as running until the guard drops.
    pub(crate) fn begin(&self) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        InFlight(self.clone())
    }

    /// Seconds since the daemon started.
    pub(crate) fn uptime(&self) -> u64 {
        self.started.elapsed().as_secs()
    }

    /// Seconds since the last request ended, or `None` while one runs.
    pub(crate) fn idle_for(&self) -> Option<u64> {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return None;
        }
        Some(
            self.uptime()
                .saturating_sub(self.last_secs.load(Ordering::SeqCst)),
        )
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.last_secs.store(self.0.uptime(), Ordering::SeqCst);
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}
