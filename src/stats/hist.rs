//! swarm's histograms: microseconds, three significant figures, growing as needed.

use hdrhistogram::Histogram;

/// Latencies above this (one hour, in µs) are recorded as this.
pub(crate) const MAX_LATENCY_US: u64 = 3_600_000_000;

/// Records a value, clamped to `MAX_LATENCY_US`.
pub(crate) fn record(hist: &mut Histogram<u64>, us: u64) {
    let us = us.min(MAX_LATENCY_US);
    if hist.record(us).is_err() {
        hist.saturating_record(us);
    }
}

/// A histogram of latencies in microseconds, 3 significant figures, growing as needed.
pub(crate) fn new_histogram() -> Histogram<u64> {
    Histogram::new(3).expect("3 significant figures is valid")
}
