//! Run-wide statistics: merges what the shards recorded and builds snapshots.
//! Owned by the engine's control task; nothing else touches it.

use super::shard::{RowDelta, Shards, new_histogram};
use super::snapshot::{
    FailureGroup, Generator, LE_BOUNDS_MS, PERCENTILES, RowStats, Snapshot, WindowStats,
};
use super::{FailureKind, History, Point};
use hdrhistogram::Histogram;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// How far back "current" requests/s looks.
pub const CURRENT_WINDOW: Duration = Duration::from_secs(2);

struct Row {
    name: String,
    method: String,
    acc: RowDelta,
    /// An endpoint of the workload as it is now (`retire_rows` clears it, `row_for`
    /// sets it): a row renamed away or deleted is shown only while it has requests.
    current: bool,
}

struct FailureTotal {
    row: usize,
    kind: FailureKind,
    count: u64,
    message: String,
    /// When the group was first and last merged, from the run's start.
    first_seen: Duration,
    last_seen: Duration,
}

/// One second of traffic on its way into the history.
struct Second {
    hist: Histogram<u64>,
    requests: u64,
    failures: u64,
    since: Instant,
    /// Per row, this second's latencies and counts; kept only while intervals are sent.
    rows: Vec<(Histogram<u64>, u64, u64)>,
    /// The most users that ran in this second (a point's users, as merged points keep
    /// the most of theirs): the second a run stops in is not drawn at the stop's zero.
    users: u32,
    /// The streams that ended in this second, every row's together.
    stream: super::stream::StreamDelta,
    /// Per row, this second's TTFT and ITL; kept only while intervals are sent.
    stream_rows: Vec<Option<(Histogram<u64>, Histogram<u64>)>>,
}

/// One second of a run (or the part of one at its stop), every row's latencies apart:
/// what a saved run's interval log is written from.
#[derive(Debug)]
pub struct Interval {
    /// From the run's start.
    pub start: Duration,
    pub length: Duration,
    pub users: u32,
    /// The rows that had requests in it.
    pub rows: Vec<IntervalRow>,
    /// Every row's latencies together, in µs.
    pub total: Histogram<u64>,
}

/// One row's part of an `Interval`.
#[derive(Debug)]
pub struct IntervalRow {
    pub method: String,
    pub name: String,
    /// Latencies in µs (requests never sent have none).
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub failures: u64,
    /// Streamed rows: the second's times to first token and inter-token gaps, in µs.
    pub stream: Option<(Histogram<u64>, Histogram<u64>)>,
}

/// Statistics since a mark: what one step of a capacity search measures.
struct Window {
    /// Names the window in deltas (a controller's windows are its workers' too).
    id: u32,
    since: Instant,
    /// Set by a controller: how long all its workers covered, and their summed rate.
    covered: Option<(Duration, f64)>,
    total: RowDelta,
    local_failures: u64,
    /// The latest the control task's tick came, in µs: the generator's own lag.
    max_tick_late_us: u64,
    lateness: Histogram<u64>,
}

pub struct Stats {
    /// A row's counts without a histogram, reused for each row of a delta.
    scratch: RowDelta,
    /// How far behind the run's seconds this one's close (`lag_seconds`).
    lag: Duration,
    mark: Option<Window>,
    /// The last window's id.
    marks: u32,
    rows: Vec<Row>,
    total: RowDelta,
    failures: Vec<FailureTotal>,
    /// (time, cumulative (requests, failures) per row, then the total).
    window: VecDeque<(Instant, Vec<(u64, u64)>)>,
    history: History,
    second: Second,
    lateness: Histogram<u64>,
    run_start: Instant,
    /// Where each closed second goes, once asked for (`record_intervals`).
    intervals: Option<tokio::sync::mpsc::UnboundedSender<Interval>>,
}

impl Stats {
    pub fn new(now: Instant) -> Self {
        Stats {
            scratch: RowDelta::new(),
            lag: Duration::ZERO,
            mark: None,
            marks: 0,
            rows: Vec::new(),
            total: RowDelta::new(),
            failures: Vec::new(),
            window: VecDeque::new(),
            history: History::default(),
            lateness: new_histogram(),
            second: Second {
                hist: new_histogram(),
                requests: 0,
                failures: 0,
                since: now,
                rows: Vec::new(),
                users: 0,
                stream: super::stream::StreamDelta::default(),
                stream_rows: Vec::new(),
            },
            run_start: now,
            intervals: None,
        }
    }

    /// The row index for an endpoint name, created on first use.
    pub(crate) fn row_for(&mut self, method: &str, name: &str) -> usize {
        if let Some(i) = self
            .rows
            .iter()
            .position(|r| r.name == name && r.method == method)
        {
            self.rows[i].current = true;
            return i;
        }
        self.rows.push(Row {
            name: name.to_string(),
            method: method.to_string(),
            acc: RowDelta::new(),
            current: true,
        });
        self.rows.len() - 1
    }

    /// The workload is about to be registered again (an edit): rows it does not name
    /// again keep their index (recorders hold it) but leave the reports once empty.
    pub(crate) fn retire_rows(&mut self) {
        self.rows.iter_mut().for_each(|r| r.current = false);
    }

    /// Forgets all counts (rows are kept) and restarts the clock at `now`.
    pub fn reset(&mut self, shards: &Shards, now: Instant) {
        shards.drain(|s| {
            s.rows.iter_mut().for_each(RowDelta::clear);
            s.failures.clear();
            s.lateness = None;
        });
        self.rows.iter_mut().for_each(|r| r.acc = RowDelta::new());
        *self = Stats {
            rows: std::mem::take(&mut self.rows),
            intervals: self.intervals.take(),
            marks: self.marks,
            ..Stats::new(now)
        };
    }

    /// From now on every closed second goes to `to`, each row's latencies apart.
    pub(crate) fn record_intervals(&mut self, to: tokio::sync::mpsc::UnboundedSender<Interval>) {
        self.intervals = Some(to);
    }

    /// Sends the unfinished second, if it has requests: the run has stopped.
    pub(crate) fn close_run(&mut self, now: Instant, users: u32) {
        if self.second.requests > 0 {
            self.send_interval(now, users);
        }
    }

    /// Starts measuring a window from `now` (after merging what came before it); `id`
    /// names it (a worker takes its controller's), or the next number does.
    pub(crate) fn mark_window(
        &mut self,
        shards: &Shards,
        now: Instant,
        users: u32,
        id: Option<u32>,
    ) {
        self.drain(shards, now, users);
        self.marks = id.unwrap_or(self.marks + 1);
        self.mark = Some(Window {
            id: self.marks,
            since: now,
            covered: None,
            total: RowDelta::new(),
            local_failures: 0,
            max_tick_late_us: 0,
            lateness: new_histogram(),
        });
    }

    /// A controller's seconds: its workers report each second of the run just after it
    /// ends, so each of its seconds closes `lag` after the run's, and holds one report
    /// from every worker; the history and the intervals still count from the run's start.
    pub(crate) fn lag_seconds(&mut self, lag: Duration) {
        self.lag = lag;
        self.second.since = self.run_start + lag;
    }

    /// The open window, as a delta taken at `now` names it.
    pub(crate) fn window_tag(&self, now: Instant) -> Option<super::DeltaWindow> {
        self.mark.as_ref().map(|w| super::DeltaWindow {
            id: w.id,
            elapsed_us: now.saturating_duration_since(w.since).as_micros() as u64,
            max_tick_late_us: w.max_tick_late_us,
        })
    }

    /// The open window's id, if one is open.
    pub(crate) fn window_id(&self) -> Option<u32> {
        self.mark.as_ref().map(|w| w.id)
    }

    /// A controller's window: what its workers covered (the shortest of their spans) and
    /// their summed rate, each over its own span.
    pub(crate) fn set_window_coverage(&mut self, elapsed: Duration, rps: f64) {
        if let Some(w) = &mut self.mark {
            w.covered = Some((elapsed, rps));
        }
    }

    /// Notes how late the control task's tick came.
    pub(crate) fn note_tick_lateness(&mut self, late: Duration) {
        if let Some(w) = &mut self.mark {
            w.max_tick_late_us = w.max_tick_late_us.max(late.as_micros() as u64);
        }
    }

    /// Merges what the users recorded since the last drain.
    pub fn drain(&mut self, shards: &Shards, now: Instant, users: u32) {
        shards.drain(|shard| {
            for (i, delta) in shard.rows.iter_mut().enumerate() {
                if delta.is_empty() || i >= self.rows.len() {
                    continue;
                }
                self.merge_row(i, delta);
                delta.clear();
            }
            for f in shard.failures.drain(..) {
                self.merge_failure(f.row, f.kind, f.count, f.message, now);
            }
            if let Some(late) = shard.lateness.as_mut().filter(|h| !h.is_empty()) {
                self.merge_lateness(late);
                late.reset();
            }
        });
        self.tick(now, users);
    }

    /// Merges a delta from another process (or this one's, through the wire format):
    /// rows are found by their key, so the processes' row orders need not agree.
    pub fn apply(&mut self, delta: &super::Delta, now: Instant, users: u32) {
        self.apply_owned(delta.clone(), now, users);
    }

    /// As `apply`, taking the delta: its histograms are merged where they are, not copied
    /// first (a controller merges many a second).
    pub(crate) fn apply_owned(&mut self, delta: super::Delta, now: Instant, users: u32) {
        let super::Delta {
            rows,
            failures,
            lateness,
            window,
        } = delta;
        // A second that is over closes before this delta (from a later one) is merged.
        self.tick(now, users);
        // Only what was recorded inside the open window counts for it.
        let inside = matches!((&self.mark, window), (Some(m), Some(w)) if m.id == w.id);
        let held = if inside { None } else { self.mark.take() };
        for r in rows {
            let i = self.row_for(&r.key.method, &r.key.name);
            self.merge_wire_row(i, r);
        }
        for f in failures {
            let i = self.row_for(&f.key.method, &f.key.name);
            self.merge_failure(i, f.kind, f.count, f.message, now);
        }
        if let Some(late) = &lateness {
            self.merge_lateness(late);
        }
        if held.is_some() {
            self.mark = held;
        }
        self.tick(now, users);
    }

    /// After a merge: the recent-rate window, and the second when it is over.
    fn tick(&mut self, now: Instant, users: u32) {
        self.push_window(now);
        let users = users.max(self.second.users);
        self.second.users = users;
        if now.duration_since(self.second.since) >= Duration::from_secs(1) {
            self.close_second(now, users);
        }
    }

    /// As `merge_row`, for a row from a delta: its buckets go straight into each
    /// accumulator, the counts through `merge_row` (with no histogram of its own).
    fn merge_wire_row(&mut self, i: usize, r: super::DeltaRow) {
        let mut counts = std::mem::take(&mut self.scratch);
        counts.requests = r.requests;
        counts.failures = r.failures;
        counts.resent = r.resent;
        counts.bytes = r.bytes;
        counts.sum_us = r.sum_us;
        counts.min_us = r.min_us;
        counts.max_us = r.max_us;
        counts.statuses = r.statuses;
        self.merge_row(i, &counts);
        counts.statuses = Vec::new();
        self.scratch = counts;
        if let Some(w) = r.ws.as_ref().filter(|w| !w.is_zero()) {
            let add = |to: &mut RowDelta| to.ws.get_or_insert_with(Box::default).add(w);
            add(&mut self.rows[i].acc);
            add(&mut self.total);
            if let Some(m) = &mut self.mark {
                add(&mut m.total);
            }
        }
        if r.requests == 0 {
            return;
        }
        let add_corrected = |to: &mut RowDelta, c: &super::Buckets| {
            c.add_to(to.corrected.get_or_insert_with(new_histogram));
        };
        r.hist.add_to(&mut self.rows[i].acc.hist);
        r.hist.add_to(&mut self.total.hist);
        r.hist.add_to(&mut self.second.hist);
        if let Some(c) = r.corrected.as_ref().filter(|c| !c.is_empty()) {
            add_corrected(&mut self.rows[i].acc, c);
            add_corrected(&mut self.total, c);
        }
        if let Some(w) = &mut self.mark {
            r.hist.add_to(&mut w.total.hist);
            if let Some(c) = r.corrected.as_ref().filter(|c| !c.is_empty()) {
                add_corrected(&mut w.total, c);
            }
        }
        if self.intervals.is_some()
            && let Some(row) = self.second.rows.get_mut(i)
        {
            r.hist.add_to(&mut row.0);
        }
        if let Some(st) = r.stream.as_ref().filter(|s| s.streams > 0) {
            let add = |to: &mut RowDelta| st.add_to(to.stream.get_or_insert_with(Box::default));
            add(&mut self.rows[i].acc);
            add(&mut self.total);
            st.add_to(&mut self.second.stream);
            if let Some((ttft, itl)) = self.second_stream_row(i) {
                st.ttft.add_to(ttft);
                st.itl.add_to(itl);
            }
            if let Some(w) = &mut self.mark {
                add(&mut w.total);
            }
        }
    }

    fn merge_row(&mut self, i: usize, delta: &RowDelta) {
        self.rows[i].acc.merge(delta);
        self.total.merge(delta);
        if let Some(w) = &mut self.mark {
            w.total.merge(delta);
        }
        self.second
            .hist
            .add(&delta.hist)
            .expect("auto-resizing histogram");
        self.second.requests += delta.requests;
        self.second.failures += delta.failures;
        if let Some(st) = delta.stream.as_deref().filter(|s| s.streams > 0) {
            self.second.stream.merge(st);
            if let Some((ttft, itl)) = self.second_stream_row(i) {
                ttft.add(&st.ttft).expect("auto-resizing histogram");
                itl.add(&st.itl).expect("auto-resizing histogram");
            }
        }
        if self.intervals.is_some() {
            let rows = &mut self.second.rows;
            if rows.len() <= i {
                rows.resize_with(i + 1, || (new_histogram(), 0, 0));
            }
            let (hist, requests, failures) = &mut rows[i];
            hist.add(&delta.hist).expect("auto-resizing histogram");
            *requests += delta.requests;
            *failures += delta.failures;
        }
    }

    fn merge_failure(
        &mut self,
        row: usize,
        kind: FailureKind,
        count: u64,
        message: Option<String>,
        now: Instant,
    ) {
        if let Some(w) = self.mark.as_mut().filter(|_| kind == FailureKind::Local) {
            w.local_failures += count;
        }
        let at = now.saturating_duration_since(self.run_start);
        merge_failure(&mut self.failures, (row, kind), count, message, at);
    }

    fn merge_lateness(&mut self, late: &Histogram<u64>) {
        self.lateness.add(late).expect("auto-resizing histogram");
        if let Some(w) = &mut self.mark {
            w.lateness.add(late).expect("auto-resizing histogram");
        }
    }

    /// Each row's key, in row order (what `Delta::take` names rows by).
    pub(crate) fn row_keys(&self) -> Vec<super::RowKey> {
        self.rows
            .iter()
            .map(|r| super::RowKey {
                method: r.method.clone(),
                name: r.name.clone(),
            })
            .collect()
    }

    fn push_window(&mut self, now: Instant) {
        let mut counts: Vec<(u64, u64)> = self
            .rows
            .iter()
            .map(|r| (r.acc.requests, r.acc.failures))
            .collect();
        counts.push((self.total.requests, self.total.failures));
        self.window.push_back((now, counts));
        while self.window.len() > 2 && now.duration_since(self.window[1].0) >= CURRENT_WINDOW {
            self.window.pop_front();
        }
    }

    /// Sends the second so far to the interval log's writer, and empties its rows.
    fn send_interval(&mut self, now: Instant, users: u32) {
        let Some(to) = &self.intervals else {
            return;
        };
        let length = self.second_length(now);
        let s = &mut self.second;
        let rows = s
            .rows
            .iter_mut()
            .enumerate()
            .filter(|(_, (_, requests, _))| *requests > 0)
            .map(|(i, (hist, requests, failures))| IntervalRow {
                method: self.rows[i].method.clone(),
                name: self.rows[i].name.clone(),
                hist: std::mem::replace(hist, new_histogram()),
                requests: std::mem::take(requests),
                failures: std::mem::take(failures),
                stream: s.stream_rows.get_mut(i).and_then(Option::take),
            })
            .collect();
        let _ = to.send(Interval {
            start: s.since.saturating_duration_since(self.run_start + self.lag),
            length,
            users,
            rows,
            total: s.hist.clone(),
        });
    }

    /// Row `i`'s TTFT and ITL of this second, when intervals are sent.
    fn second_stream_row(&mut self, i: usize) -> Option<&mut (Histogram<u64>, Histogram<u64>)> {
        self.intervals.as_ref()?;
        let rows = &mut self.second.stream_rows;
        if rows.len() <= i {
            rows.resize_with(i + 1, || None);
        }
        Some(rows[i].get_or_insert_with(|| (new_histogram(), new_histogram())))
    }

    /// How long the second that closes at `now` lasted: up to `now` where its data was
    /// merged up to then (one process), one second where a controller's lagging second
    /// closed when a later report came.
    fn second_length(&self, now: Instant) -> Duration {
        let took = now.saturating_duration_since(self.second.since);
        if self.lag.is_zero() || took >= Duration::from_secs(2) {
            took
        } else {
            Duration::from_secs(1)
        }
    }

    fn close_second(&mut self, now: Instant, users: u32) {
        self.send_interval(now, users);
        let secs = self.second_length(now).as_secs_f64();
        let s = &mut self.second;
        self.history.push(Point {
            t: s.since
                .duration_since(self.run_start + self.lag)
                .as_secs_f64()
                .round(),
            rps: s.requests as f64 / secs,
            fps: s.failures as f64 / secs,
            p50_ms: us_to_ms(s.hist.value_at_quantile(0.5)),
            p95_ms: us_to_ms(s.hist.value_at_quantile(0.95)),
            p99_ms: us_to_ms(s.hist.value_at_quantile(0.99)),
            users,
            stream: (s.stream.streams > 0).then(|| s.stream.point(secs)),
        });
        s.stream.clear();
        s.hist.reset();
        s.requests = 0;
        s.failures = 0;
        s.users = 0;
        // Whole seconds from the run's start, so points are one second apart; after a
        // stall longer than a second the clock catches up instead of drifting.
        let next = s.since + Duration::from_secs(1);
        s.since = if now.duration_since(next) < Duration::from_secs(1) {
            next
        } else {
            now
        };
    }

    /// Fills the statistics part of a snapshot; `elapsed` is the run's length so far and
    /// `now` the time of the last drain.
    pub fn fill(&self, snap: &mut Snapshot, elapsed: Duration, now: Instant) {
        snap.window = self.mark.as_ref().map(|w| {
            let secs = w
                .covered
                .map_or_else(|| now.saturating_duration_since(w.since), |c| c.0);
            let mut total = row_stats("Aggregated", "", &w.total, (0.0, 0.0), secs.as_secs_f64());
            if let Some((_, rps)) = w.covered {
                total.total_rps = rps;
                total.total_fps = rps * w.total.failures as f64 / w.total.requests.max(1) as f64;
            }
            WindowStats {
                elapsed: secs,
                total,
                local_failures: w.local_failures,
                max_tick_late_ms: us_to_ms(w.max_tick_late_us),
                think_late_p99_ms: us_to_ms(w.lateness.value_at_quantile(0.99)),
            }
        });
        let rates = self.current_rates();
        let secs = elapsed.as_secs_f64();
        snap.rows = self
            .rows
            .iter()
            .enumerate()
            .filter(|(_, r)| r.current || r.acc.requests > 0)
            .map(|(i, r)| row_stats(&r.name, &r.method, &r.acc, rates[i], secs))
            .collect();
        snap.total = row_stats("Aggregated", "", &self.total, rates[self.rows.len()], secs);
        snap.failures = self
            .failures
            .iter()
            .map(|f| FailureGroup {
                name: self.rows[f.row].name.clone(),
                method: self.rows[f.row].method.clone(),
                kind: f.kind,
                count: f.count,
                message: f.message.clone(),
                first_seen: f.first_seen,
                last_seen: f.last_seen,
            })
            .collect();
        snap.history = Arc::new(self.history.points());
        snap.history_step = self.history.step_secs();
        let late = &self.lateness;
        if !late.is_empty() {
            snap.generator = Generator {
                think_samples: late.len(),
                think_lateness_ms: [0.5, 0.99, 1.0].map(|q| us_to_ms(late.value_at_quantile(q))),
            };
        }
    }

    /// Requests/s and failures/s over the recent window, per row then the total.
    fn current_rates(&self) -> Vec<(f64, f64)> {
        let n = self.rows.len() + 1;
        let (Some(first), Some(last)) = (self.window.front(), self.window.back()) else {
            return vec![(0.0, 0.0); n];
        };
        let span = last.0.duration_since(first.0).as_secs_f64();
        // Each sample is its rows, then the total last: a row that appeared after the
        // first sample has no place in it (its count there is 0), and the total is the
        // last entry of each, wherever the rows put it.
        let at = |sample: &[(u64, u64)], i: usize| -> (u64, u64) {
            let rows = sample.len().saturating_sub(1);
            match i {
                _ if i == n - 1 => sample.last().copied().unwrap_or_default(),
                _ if i < rows => sample[i],
                _ => (0, 0),
            }
        };
        (0..n)
            .map(|i| {
                let (a, b) = (at(&first.1, i), at(&last.1, i));
                if span <= 0.0 {
                    (0.0, 0.0)
                } else {
                    (
                        b.0.saturating_sub(a.0) as f64 / span,
                        b.1.saturating_sub(a.1) as f64 / span,
                    )
                }
            })
            .collect()
    }
}

fn merge_failure(
    list: &mut Vec<FailureTotal>,
    (row, kind): (usize, FailureKind),
    count: u64,
    message: Option<String>,
    at: Duration,
) {
    match list.iter_mut().find(|f| f.row == row && f.kind == kind) {
        Some(f) => {
            f.count += count;
            f.last_seen = at;
            if let Some(m) = message {
                f.message = m;
            }
        }
        None => list.push(FailureTotal {
            row,
            kind,
            count,
            message: message.unwrap_or_default(),
            first_seen: at,
            last_seen: at,
        }),
    }
}

fn us_to_ms(us: u64) -> f64 {
    us as f64 / 1000.0
}

fn row_stats(name: &str, method: &str, acc: &RowDelta, rates: (f64, f64), secs: f64) -> RowStats {
    let n = acc.requests;
    // Requests never sent count in `n` but have no latency.
    let timed = acc.hist.len();
    let per_run = |x: u64| if secs > 0.0 { x as f64 / secs } else { 0.0 };
    let mut percentiles_ms = [0.0; 11];
    if timed > 0 {
        // An HDR bucket's value is its upper bound, which can lie above the largest value
        // recorded: no percentile is reported above the maximum.
        // One pass over the counts for all of them (they are in order).
        for (out, v) in percentiles_ms
            .iter_mut()
            .zip(acc.hist.value_at_quantiles(PERCENTILES))
        {
            *out = us_to_ms(v.min(acc.max_us));
        }
        percentiles_ms[10] = us_to_ms(acc.max_us);
    }
    let (distribution, le_counts) = shape(acc);
    RowStats {
        name: name.to_string(),
        method: method.to_string(),
        requests: n,
        failures: acc.failures,
        resent: acc.resent,
        avg_ms: if timed > 0 {
            acc.sum_us as f64 / timed as f64 / 1000.0
        } else {
            0.0
        },
        min_ms: if timed > 0 { us_to_ms(acc.min_us) } else { 0.0 },
        max_ms: us_to_ms(acc.max_us),
        percentiles_ms,
        avg_bytes: if timed > 0 {
            acc.bytes as f64 / timed as f64
        } else {
            0.0
        },
        bytes: acc.bytes,
        current_rps: rates.0,
        current_fps: rates.1,
        total_rps: per_run(n),
        total_fps: per_run(acc.failures),
        statuses: acc.statuses.iter().copied().filter(|s| s.1 > 0).collect(),
        distribution,
        timed,
        sum_ms: acc.sum_us as f64 / 1000.0,
        le_counts,
        corrected_ms: acc.corrected.as_ref().filter(|h| !h.is_empty()).map(|h| {
            let mut out = [0.0; 11];
            for (o, v) in out.iter_mut().zip(h.value_at_quantiles(PERCENTILES)) {
                *o = us_to_ms(v);
            }
            out
        }),
        stream: acc
            .stream
            .as_deref()
            .filter(|s| s.streams > 0)
            .map(|s| s.stats(secs)),
        ws: acc.ws.as_deref().map(|w| w.stats(secs)),
    }
}

/// How many buckets the latency distribution has.
pub const DISTRIBUTION_BUCKETS: usize = 12;

/// The row's latency shape, from one walk over its recorded buckets: counts per
/// log-spaced bucket between its min and max (the distribution chart), and cumulative
/// counts at or below each of `LE_BOUNDS_MS` (Prometheus' `le` buckets).
fn shape(acc: &RowDelta) -> (Vec<(f64, u64)>, [u64; LE_BOUNDS_MS.len()]) {
    let mut le = [0u64; LE_BOUNDS_MS.len()];
    if acc.hist.is_empty() {
        return (Vec::new(), le);
    }
    let lo = (acc.min_us.max(1)) as f64;
    let hi = (acc.max_us.max(1) as f64).max(lo * 1.0001);
    let ratio = (hi / lo).ln();
    let mut buckets: Vec<(f64, u64)> = (1..=DISTRIBUTION_BUCKETS)
        .map(|i| {
            (
                lo * (ratio * i as f64 / DISTRIBUTION_BUCKETS as f64).exp() / 1000.0,
                0,
            )
        })
        .collect();
    for v in acc.hist.iter_recorded() {
        let value = v.value_iterated_to();
        let count = v.count_at_value();
        let x = (value.max(1) as f64).clamp(lo, hi);
        let i = ((x / lo).ln() / ratio * DISTRIBUTION_BUCKETS as f64) as usize;
        buckets[i.min(DISTRIBUTION_BUCKETS - 1)].1 += count;
        // Against each bucket's highest equivalent value; the bounds ascend, so every
        // one from the first that holds the value counts it.
        let ms = acc.hist.highest_equivalent(value) as f64 / 1000.0;
        if let Some(first) = LE_BOUNDS_MS.iter().position(|&b| ms <= b) {
            for slot in &mut le[first..] {
                *slot += count;
            }
        }
    }
    (buckets, le)
}

#[cfg(test)]
mod tests;
