//! The `--json` report: final statistics in a stable shape documented in the README.

use crate::scenario::threshold::Verdict;
use crate::stats::{FailureGroup, FailureKind, PERCENTILES, RowStats, Snapshot};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Serialize)]
struct JsonReport<'a> {
    pub scenario: Option<&'a str>,
    pub host: &'a str,
    pub state: String,
    pub duration_s: f64,
    pub users: u32,
    /// Users running when the document was made (0 once the run stopped).
    pub users_now: u32,
    /// Users that stopped because a step of their on_start failed.
    pub stopped_users: u64,
    /// `[[users]]`: each type's name, users at the end and the most at once.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub user_types: &'a [crate::stats::TypeCount],
    pub endpoints: Vec<JsonRow>,
    pub aggregated: JsonRow,
    pub failures: Vec<JsonFailure>,
    /// Per-second points (coarser for long runs): t, rps, fps, p50_ms, p95_ms, p99_ms, users.
    pub history: &'a [crate::stats::Point],
    /// Each threshold: scope ("all" or an endpoint), threshold, actual, passed.
    pub thresholds: &'a [Verdict],
    pub generator: JsonGenerator,
    /// Open model only: the arrival schedule's counts.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub arrivals: Option<JsonArrivals>,
    /// A distributed run: each worker as the controller last heard of it.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub workers: &'a [crate::stats::WorkerStatus],
    /// A distributed run that stopped because a worker went missing: which, and when.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub worker_lost: Option<&'a str>,
    /// The others carried the lost worker's share (`--tolerate-worker-loss`).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub degraded: bool,
    /// Every worker lost during the run: index, host, lost_at_s, unreported_s (the span
    /// of its requests that never arrived: the figures are short by up to that much of
    /// its share) and why. Empty when the figures are complete.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub lost_workers: &'a [crate::stats::LostWorker],
    /// What arrived over the control endpoint while the run went on (`swarm scale`, the
    /// API, an attached TUI): when, who, what.
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    pub controls: &'a [crate::stats::ControlEvent],
}

/// The open model's schedule at the end of the run.
#[derive(Serialize)]
struct JsonArrivals {
    pub scheduled: u64,
    pub dropped: u64,
    pub max_users: u32,
}

/// The load generator's own health.
#[derive(Serialize)]
struct JsonGenerator {
    pub think_samples: u64,
    /// How far think-time sleeps woke from their intended time, early or late: "50", "99"
    /// and "100" (max), in ms.
    pub think_lateness_ms: serde_json::Map<String, serde_json::Value>,
}

#[derive(Serialize)]
struct JsonRow {
    pub name: String,
    pub method: String,
    pub requests: u64,
    /// Failures of every cause, `interrupted` and `not_resent` included.
    pub failures: u64,
    /// Requests cut in flight when the run stopped (cause `interrupted`): counted in
    /// `requests` and `failures`, not in the latencies.
    pub interrupted: u64,
    /// Requests sent a second time after a server's keep-alive close took the first try
    /// before any byte of the answer (GET, HEAD, OPTIONS, TRACE without a body).
    pub resent: u64,
    pub fail_ratio: f64,
    pub min_ms: f64,
    pub avg_ms: f64,
    pub max_ms: f64,
    pub median_ms: f64,
    /// Keyed by percentile: "50", "66", ... "99.99", "100". The raw service time: from
    /// sending the request to its response.
    pub percentiles_ms: serde_json::Map<String, serde_json::Value>,
    /// Open model only: latency from each iteration's intended start (time spent waiting
    /// for a free user included), free of coordinated omission; keyed like percentiles_ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub corrected_percentiles_ms: Option<serde_json::Map<String, serde_json::Value>>,
    pub rps: f64,
    /// Requests per second over the last seconds (what a live `/v1/status` is read for).
    pub current_rps: f64,
    pub failures_per_s: f64,
    pub avg_bytes: f64,
    pub status_counts: BTreeMap<String, u64>,
    pub failure_groups: Vec<JsonFailure>,
    /// Streamed endpoints only (`stream = "sse"`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub stream: Option<JsonStream>,
    /// WebSocket steps only: sockets opened, closed and open, messages and bytes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ws: Option<crate::stats::WsStats>,
}

/// A streamed row's figures; the times are keyed like `percentiles_ms`.
#[derive(Serialize)]
struct JsonStream {
    pub streams: u64,
    pub events: u64,
    /// Null when the endpoint does not count tokens (no `stream_tokens`).
    pub tokens: Option<u64>,
    /// Streams that ended before their `stream_done`, or were cut (timeout, reset).
    pub incomplete: u64,
    /// Time to the first token (or event).
    pub ttft_ms: serde_json::Map<String, serde_json::Value>,
    /// Open model only: TTFT from each iteration's intended start.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttft_corrected_ms: Option<serde_json::Map<String, serde_json::Value>>,
    /// Every gap between consecutive tokens (or events).
    pub itl_ms: serde_json::Map<String, serde_json::Value>,
    /// (end - first token) / (tokens - 1) per complete stream; null without tokens.
    pub tpot_ms: Option<serde_json::Map<String, serde_json::Value>>,
    pub events_per_s: f64,
    pub tokens_per_s: f64,
}

#[derive(Serialize)]
struct JsonFailure {
    pub name: String,
    pub method: String,
    pub cause: String,
    pub description: String,
    pub count: u64,
    pub message: String,
    /// Seconds from the run's start to the first and the latest of these failures.
    pub first_seen_s: f64,
    pub last_seen_s: f64,
}

/// Builds the JSON document for a final snapshot.
pub(crate) fn to_json(
    snap: &Snapshot,
    scenario: Option<&str>,
    host: &str,
    thresholds: &[Verdict],
) -> String {
    let rows = snap.rows.iter().map(|r| row(r, &snap.failures)).collect();
    let report = JsonReport {
        scenario,
        host,
        state: snap.state.to_string(),
        duration_s: snap.elapsed.as_secs_f64(),
        users: snap.peak_users,
        users_now: snap.users,
        stopped_users: snap.stopped_users,
        user_types: &snap.user_types,
        endpoints: rows,
        aggregated: row(&snap.total, &snap.failures),
        failures: snap.failures.iter().map(failure).collect(),
        history: &snap.history,
        thresholds,
        generator: JsonGenerator {
            think_samples: snap.generator.think_samples,
            think_lateness_ms: ["50", "99", "100"]
                .iter()
                .zip(snap.generator.think_lateness_ms)
                .map(|(k, v)| (k.to_string(), serde_json::Value::from(round3(v))))
                .collect(),
        },
        arrivals: snap.arrivals.as_ref().map(|a| JsonArrivals {
            scheduled: a.scheduled,
            dropped: a.dropped,
            max_users: a.max_users,
        }),
        workers: &snap.workers,
        worker_lost: snap.worker_lost.as_deref(),
        degraded: snap.degraded,
        lost_workers: &snap.lost_workers,
        controls: &snap.controls,
    };
    serde_json::to_string_pretty(&report).expect("report serializes")
}

fn row(r: &RowStats, failures: &[FailureGroup]) -> JsonRow {
    let keyed = |values: [f64; 11]| {
        PERCENTILES
            .iter()
            .zip(values)
            .map(|(q, v)| (percentile_key(*q), serde_json::Value::from(round3(v))))
            .collect()
    };
    let percentiles_ms = keyed(r.percentiles_ms);
    let is_total = r.method.is_empty();
    let groups: Vec<&FailureGroup> = failures
        .iter()
        .filter(|f| is_total || (f.name == r.name && f.method == r.method))
        .collect();
    JsonRow {
        name: r.name.clone(),
        method: r.method.clone(),
        requests: r.requests,
        failures: r.failures,
        interrupted: groups
            .iter()
            .filter(|f| f.kind == FailureKind::Interrupted)
            .map(|f| f.count)
            .sum(),
        resent: r.resent,
        fail_ratio: round3(r.fail_ratio()),
        min_ms: round3(r.min_ms),
        avg_ms: round3(r.avg_ms),
        max_ms: round3(r.max_ms),
        median_ms: round3(r.median_ms()),
        percentiles_ms,
        corrected_percentiles_ms: r.corrected_ms.map(keyed),
        rps: round3(r.total_rps),
        current_rps: round3(r.current_rps),
        failures_per_s: round3(r.total_fps),
        avg_bytes: round3(r.avg_bytes),
        status_counts: r
            .statuses
            .iter()
            .map(|(c, n)| (c.to_string(), *n))
            .collect(),
        failure_groups: groups.into_iter().map(failure).collect(),
        stream: r.stream.as_ref().map(|s| JsonStream {
            streams: s.streams,
            events: s.events,
            tokens: s.tokens,
            incomplete: s.incomplete,
            ttft_ms: keyed(s.ttft_ms),
            ttft_corrected_ms: s.ttft_corrected_ms.map(keyed),
            itl_ms: keyed(s.itl_ms),
            tpot_ms: s.tpot_ms.map(keyed),
            events_per_s: round3(s.events_per_s),
            tokens_per_s: round3(s.tokens_per_s),
        }),
        ws: r.ws.as_ref().map(|w| crate::stats::WsStats {
            sent_per_s: round3(w.sent_per_s),
            received_per_s: round3(w.received_per_s),
            ..w.clone()
        }),
    }
}

fn failure(f: &FailureGroup) -> JsonFailure {
    JsonFailure {
        name: f.name.clone(),
        method: f.method.clone(),
        cause: f.kind.code(),
        description: f.kind.to_string(),
        count: f.count,
        message: f.message.clone(),
        first_seen_s: round3(f.first_seen.as_secs_f64()),
        last_seen_s: round3(f.last_seen.as_secs_f64()),
    }
}

/// "50", "99.9", "100": the percentile as a JSON key.
fn percentile_key(q: f64) -> String {
    let p = (q * 100.0 * 1000.0).round() / 1000.0;
    format!("{p}")
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}
