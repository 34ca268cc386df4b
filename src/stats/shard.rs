//! The recording path: virtual users write into one of a few sharded accumulators, and the
//! engine's control task drains them a few times a second.
//!
//! A user always records into the same shard, so no lock is shared by all users, and a
//! success allocates nothing once its row and status have been seen.

use super::FailureKind;
pub(crate) use super::hist::{MAX_LATENCY_US, new_histogram, record};
use super::stream::{StreamDelta, StreamSample};
use hdrhistogram::Histogram;
use std::sync::{Arc, Mutex};

/// `Sample::latency_us` of a request that was never sent (a template variable without a
/// value, say): it counts as a request and a failure, with no latency.
pub const NOT_SENT: u64 = u64::MAX;

/// What one request did, as the engine saw it.
#[derive(Debug, Clone, Copy)]
pub struct Sample {
    pub row: usize,
    pub latency_us: u64,
    pub status: Option<u16>,
    pub bytes: u64,
    pub failure: Option<FailureKind>,
    /// Open model only: latency from the iteration's intended start, which adds the time
    /// it waited for a free user to the service time (free of coordinated omission).
    pub corrected_us: Option<u64>,
    /// The request met a server's keep-alive close before any byte of its answer and was
    /// sent once more on a new connection (safe requests only).
    pub resent: bool,
}

/// Counts for one statistics row since the last drain.
pub struct RowDelta {
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub failures: u64,
    /// Requests sent a second time after a keep-alive close (see `Sample::resent`).
    pub resent: u64,
    pub bytes: u64,
    pub sum_us: u64,
    pub min_us: u64,
    pub max_us: u64,
    pub statuses: Vec<(u16, u64)>,
    /// Latencies from the intended start; only open-model runs record them.
    pub corrected: Option<Histogram<u64>>,
    /// Streamed endpoints only: time to first token, inter-token latency and the counts.
    pub stream: Option<Box<StreamDelta>>,
    /// WebSocket steps only: sockets, messages and bytes.
    pub ws: Option<Box<super::WsCounts>>,
}

impl Default for RowDelta {
    fn default() -> Self {
        Self::new()
    }
}

impl RowDelta {
    pub fn new() -> Self {
        RowDelta {
            hist: new_histogram(),
            requests: 0,
            failures: 0,
            resent: 0,
            bytes: 0,
            sum_us: 0,
            min_us: u64::MAX,
            max_us: 0,
            statuses: Vec::new(),
            corrected: None,
            stream: None,
            ws: None,
        }
    }

    /// Nothing recorded since the last drain (a socket's close is recorded without a
    /// request).
    pub(crate) fn is_empty(&self) -> bool {
        self.requests == 0 && self.ws.as_deref().is_none_or(super::WsCounts::is_zero)
    }

    fn add(&mut self, s: &Sample) {
        self.requests += 1;
        self.failures += u64::from(s.failure.is_some());
        self.resent += u64::from(s.resent);
        // A request cut mid-response has no latency, but the body bytes it got count.
        self.bytes += s.bytes;
        if s.latency_us == NOT_SENT {
            return;
        }
        let us = s.latency_us.min(MAX_LATENCY_US);
        record(&mut self.hist, us);
        self.sum_us += us;
        self.min_us = self.min_us.min(us);
        self.max_us = self.max_us.max(us);
        if let Some(code) = s.status {
            add_status(&mut self.statuses, code, 1);
        }
        if let Some(c) = s.corrected_us {
            record(self.corrected.get_or_insert_with(new_histogram), c);
        }
    }

    /// Adds another accumulator's counts to this one.
    pub(crate) fn merge(&mut self, other: &RowDelta) {
        if other.is_empty() {
            return;
        }
        self.hist
            .add(&other.hist)
            .expect("auto-resizing histograms accept any value");
        self.requests += other.requests;
        self.failures += other.failures;
        self.resent += other.resent;
        self.bytes += other.bytes;
        self.sum_us += other.sum_us;
        self.min_us = self.min_us.min(other.min_us);
        self.max_us = self.max_us.max(other.max_us);
        for &(code, n) in &other.statuses {
            if n > 0 {
                add_status(&mut self.statuses, code, n);
            }
        }
        if let Some(c) = other.corrected.as_ref().filter(|h| !h.is_empty()) {
            self.corrected
                .get_or_insert_with(new_histogram)
                .add(c)
                .expect("auto-resizing histograms accept any value");
        }
        if let Some(st) = other.stream.as_ref().filter(|s| s.streams > 0) {
            self.stream.get_or_insert_with(Box::default).merge(st);
        }
        if let Some(w) = other.ws.as_deref().filter(|w| !w.is_zero()) {
            self.ws.get_or_insert_with(Box::default).add(w);
        }
    }

    /// Zeroes the counts, keeping allocations.
    pub fn clear(&mut self) {
        if self.requests > 0 {
            self.hist.reset();
        }
        self.requests = 0;
        self.failures = 0;
        self.resent = 0;
        self.bytes = 0;
        self.sum_us = 0;
        self.min_us = u64::MAX;
        self.max_us = 0;
        self.statuses.iter_mut().for_each(|s| s.1 = 0);
        if let Some(c) = &mut self.corrected {
            c.reset();
        }
        if let Some(st) = &mut self.stream {
            st.clear();
        }
        if let Some(w) = &mut self.ws {
            **w = super::WsCounts::default();
        }
    }
}

/// Adds `n` to a status code's count in a short list kept sorted by code.
fn add_status(list: &mut Vec<(u16, u64)>, code: u16, n: u64) {
    match list.binary_search_by_key(&code, |s| s.0) {
        Ok(i) => list[i].1 += n,
        Err(i) => list.insert(i, (code, n)),
    }
}

/// Failures of one cause on one row since the last drain, with the first error text.
pub struct FailureDelta {
    pub row: usize,
    pub kind: FailureKind,
    pub count: u64,
    pub message: Option<String>,
}

#[derive(Default)]
pub struct Shard {
    pub rows: Vec<RowDelta>,
    pub failures: Vec<FailureDelta>,
    /// How late think-time sleeps woke up, in µs: the load generator's own health.
    pub lateness: Option<Histogram<u64>>,
}

impl Shard {
    /// Row `i`'s counts, the rows grown to hold it.
    fn row(&mut self, i: usize) -> &mut RowDelta {
        if i >= self.rows.len() {
            self.rows.resize_with(i + 1, RowDelta::new);
        }
        &mut self.rows[i]
    }

    fn record(
        &mut self,
        s: &Sample,
        stream: Option<&StreamSample>,
        describe: impl FnOnce() -> String,
    ) {
        let row = self.row(s.row);
        row.add(s);
        if let Some(st) = stream {
            row.stream.get_or_insert_with(Box::default).add(st);
        }
        let Some(kind) = s.failure else { return };
        match self
            .failures
            .iter_mut()
            .find(|f| f.row == s.row && f.kind == kind)
        {
            Some(f) => {
                f.count += 1;
                if f.message.is_none() {
                    f.message = Some(describe());
                }
            }
            None => self.failures.push(FailureDelta {
                row: s.row,
                kind,
                count: 1,
                message: Some(describe()),
            }),
        }
    }
}

/// The set of shards one engine records into.
pub struct Shards {
    shards: Box<[Mutex<Shard>]>,
    /// A cleared shard for each: a drain swaps it in under the lock and merges the full
    /// one outside it, so users never wait for a merge (only for a swap of three
    /// pointers' worth). Only the control task drains.
    spares: Mutex<Vec<Shard>>,
}

impl Shards {
    pub fn new(count: usize) -> Arc<Shards> {
        let count = count.max(1);
        let shards = (0..count).map(|_| Mutex::default()).collect();
        let spares = Mutex::new((0..count).map(|_| Shard::default()).collect());
        Arc::new(Shards { shards, spares })
    }

    /// The recorder for the user with this sequence number.
    pub(crate) fn recorder(self: &Arc<Self>, user: u64) -> Recorder {
        Recorder {
            shards: Arc::clone(self),
            index: (user % self.shards.len() as u64) as usize,
        }
    }

    /// Hands what every shard recorded to `f`, which must leave it cleared for reuse:
    /// the shard is swapped for its cleared spare under the lock, and `f` runs outside it.
    pub fn drain(&self, mut f: impl FnMut(&mut Shard)) {
        let mut spares = self.spares.lock().unwrap_or_else(|p| p.into_inner());
        for (shard, spare) in self.shards.iter().zip(spares.iter_mut()) {
            {
                let mut guard = shard.lock().unwrap_or_else(|p| p.into_inner());
                std::mem::swap(&mut *guard, spare);
            }
            f(spare);
        }
    }
}

/// A virtual user's handle for recording results.
pub struct Recorder {
    shards: Arc<Shards>,
    index: usize,
}

impl Recorder {
    /// This user's shard, locked.
    fn shard(&self) -> std::sync::MutexGuard<'_, Shard> {
        self.shards.shards[self.index]
            .lock()
            .unwrap_or_else(|p| p.into_inner())
    }

    /// Records one result; `describe` is called only when a failure's text is needed.
    pub(crate) fn record(&self, sample: Sample, describe: impl FnOnce() -> String) {
        let mut shard = self.shard();
        shard.record(&sample, None, describe);
    }

    /// As `record`, for a WebSocket step: its counts go with it.
    pub(crate) fn record_ws(
        &self,
        sample: Sample,
        ws: &super::WsCounts,
        describe: impl FnOnce() -> String,
    ) {
        let mut shard = self.shard();
        shard.record(&sample, None, describe);
        shard
            .row(sample.row)
            .ws
            .get_or_insert_with(Box::default)
            .add(ws);
    }

    /// WebSocket counts with no request: a socket closed at the flow's end.
    pub(crate) fn record_ws_only(&self, row: usize, ws: &super::WsCounts) {
        let mut shard = self.shard();
        shard.row(row).ws.get_or_insert_with(Box::default).add(ws);
    }

    /// As `record`, for a streamed response: its stream's figures go with it.
    pub(crate) fn record_stream(
        &self,
        sample: Sample,
        stream: &StreamSample,
        describe: impl FnOnce() -> String,
    ) {
        let mut shard = self.shard();
        shard.record(&sample, Some(stream), describe);
    }

    /// Records how late a think-time sleep woke up.
    pub(crate) fn record_lateness(&self, late_us: u64) {
        let mut shard = self.shard();
        record(shard.lateness.get_or_insert_with(new_histogram), late_us);
    }
}
