//! Immutable statistics snapshots: what the headless report, the JSON and the TUI read.

use super::{FailureKind, Point};
use hdrhistogram::Histogram;
use serde::{Deserialize, Serialize};
use std::sync::Arc;
use std::time::Duration;

/// The percentiles every report shows, as fractions.
pub const PERCENTILES: [f64; 11] = [
    0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 0.9999, 1.0,
];

/// Fixed response-time bounds (ms) for histograms that must keep their buckets over a
/// run (Prometheus's `le`): 0.1 ms to 60 s.
pub const LE_BOUNDS_MS: [f64; 18] = [
    0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 25.0, 50.0, 100.0, 250.0, 500.0, 1000.0, 2500.0, 5000.0,
    10000.0, 30000.0, 60000.0,
];

/// Where a run is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum RunState {
    #[default]
    Idle,
    Spawning,
    Running,
    Stopping,
    Stopped,
}

impl std::fmt::Display for RunState {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let s = match self {
            RunState::Idle => "idle",
            RunState::Spawning => "spawning",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
        };
        f.write_str(s)
    }
}

/// A worker lost during a run, and how much of its work the figures may lack.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct LostWorker {
    pub index: u32,
    pub host: String,
    /// When it was lost, seconds from the run's start.
    pub lost_at_s: f64,
    /// Seconds from its last report to its loss: what it recorded in this span never
    /// arrived (0 when it left with a goodbye after its last report).
    pub unreported_s: f64,
    pub why: String,
}

impl LostWorker {
    /// One line for a report: which worker, when, and the bound on what is missing.
    pub fn describe(&self) -> String {
        let missing = if self.unreported_s > 0.0 {
            format!(
                "its last {:.1} s of requests never arrived, so the figures are short",
                self.unreported_s
            )
        } else {
            "it reported everything before it left".into()
        };
        format!(
            "worker {} ({}) lost at {:.1} s: {missing} ({})",
            self.index, self.host, self.lost_at_s, self.why
        )
    }
}

/// Statistics of one endpoint row (or the aggregate).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct RowStats {
    pub name: String,
    pub method: String,
    pub requests: u64,
    pub failures: u64,
    /// Requests sent a second time after a server's keep-alive close took the first try
    /// before any byte of its answer (GET, HEAD, OPTIONS and TRACE without a body only).
    pub resent: u64,
    pub avg_ms: f64,
    pub min_ms: f64,
    pub max_ms: f64,
    /// Values at `PERCENTILES`, in milliseconds.
    pub percentiles_ms: [f64; 11],
    pub avg_bytes: f64,
    /// Response body bytes received in all.
    pub bytes: u64,
    /// Requests and failures per second over the last seconds.
    pub current_rps: f64,
    pub current_fps: f64,
    /// Requests and failures per second over the whole run.
    pub total_rps: f64,
    pub total_fps: f64,
    /// (status code, count), sorted by code.
    pub statuses: Vec<(u16, u64)>,
    /// Latency distribution: (bucket upper bound in ms, count), log-spaced from min to max.
    pub distribution: Vec<(f64, u64)>,
    /// Requests with a response time (those never sent have none).
    #[serde(default)]
    pub timed: u64,
    /// The sum of their response times, in ms.
    #[serde(default)]
    pub sum_ms: f64,
    /// Cumulative counts at `LE_BOUNDS_MS`.
    #[serde(default)]
    pub le_counts: [u64; 18],
    /// Open model only: latency from each iteration's intended start (queueing for a free
    /// user included, so free of coordinated omission), at `PERCENTILES`, in milliseconds.
    /// `percentiles_ms` stays the raw service time.
    pub corrected_ms: Option<[f64; 11]>,
    /// Streamed endpoints (`stream = "sse"`): TTFT, ITL, TPOT and the counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamStats>,
    /// WebSocket steps: sockets, messages and bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<super::WsStats>,
}

impl RowStats {
    /// The name for a table that shows the method in a column of its own: the default
    /// name "GET /tests" becomes "/tests".
    pub fn short_name(&self) -> &str {
        short_name(&self.name, &self.method)
    }

    pub fn median_ms(&self) -> f64 {
        self.percentiles_ms[0]
    }

    /// Share of failed requests, 0 to 1.
    pub fn fail_ratio(&self) -> f64 {
        if self.requests == 0 {
            0.0
        } else {
            self.failures as f64 / self.requests as f64
        }
    }

    /// The value at a percentile listed in `PERCENTILES` (e.g. 0.95).
    pub(crate) fn percentile_ms(&self, q: f64) -> Option<f64> {
        PERCENTILES
            .iter()
            .position(|p| (p - q).abs() < 1e-9)
            .map(|i| self.percentiles_ms[i])
    }
}

/// `name` without a leading "METHOD ".
pub fn short_name<'a>(name: &'a str, method: &str) -> &'a str {
    name.strip_prefix(method)
        .and_then(|rest| rest.strip_prefix(' '))
        .filter(|rest| !method.is_empty() && !rest.is_empty())
        .unwrap_or(name)
}

impl Snapshot {
    /// A distributed run's workers that joined and are not missing.
    pub(crate) fn joined_workers(&self) -> usize {
        self.workers.iter().filter(|w| w.state != "missing").count()
    }

    /// Requests of every row that were cut in flight when the run stopped, with no
    /// response yet.
    pub fn interrupted(&self) -> u64 {
        self.count_of(FailureKind::Interrupted)
    }

    /// Responses cut at the stop while their body was still arriving.
    pub(crate) fn cut_mid_response(&self) -> u64 {
        self.count_of(FailureKind::InterruptedMidResponse)
    }

    fn count_of(&self, kind: FailureKind) -> u64 {
        self.failures
            .iter()
            .filter(|f| f.kind == kind)
            .map(|f| f.count)
            .sum()
    }

    /// The state as a user reads it: a ramp toward fewer users is not "spawning".
    pub fn state_label(&self) -> &'static str {
        match self.state {
            RunState::Spawning if self.users > self.target_users => "ramping down",
            RunState::Idle => "idle",
            RunState::Spawning => "spawning",
            RunState::Running => "running",
            RunState::Stopping => "stopping",
            RunState::Stopped => "stopped",
        }
    }

    /// The latest connect error, while every recent request fails because the host
    /// refuses connections or cannot be reached.
    pub fn unreachable(&self) -> Option<&str> {
        let all_failing = self.all_failed()
            || (self.total.current_rps > 0.0 && self.total.current_fps >= self.total.current_rps);
        if !all_failing {
            return None;
        }
        self.failures
            .iter()
            .find(|f| f.kind.is_connect())
            .map(|f| f.message.as_str())
    }

    /// True when requests were made and every one failed to connect (refused, or the host
    /// could not be reached): no request reached the server.
    pub(crate) fn reached_no_server(&self) -> bool {
        self.all_failed() && self.failures.iter().all(|f| f.kind.is_connect())
    }

    /// True when requests were made and every one failed.
    fn all_failed(&self) -> bool {
        self.total.requests > 0 && self.total.failures == self.total.requests
    }

    /// True when requests were made and every one was cut at the stop: the server
    /// answered none of them within the run.
    pub fn all_interrupted(&self) -> bool {
        self.total.requests > 0 && self.interrupted() == self.total.requests
    }
}

/// Users of one type: running now, and the most at once in this run.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TypeCount {
    pub name: String,
    pub users: u32,
    pub peak: u32,
}

/// Failures of one cause on one endpoint.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FailureGroup {
    pub name: String,
    pub method: String,
    pub kind: FailureKind,
    pub count: u64,
    /// The latest error text seen for this group.
    pub message: String,
    /// When the first and the latest of these failures were counted, from the run's
    /// start (to the statistics' quarter-second tick).
    pub first_seen: Duration,
    pub last_seen: Duration,
}

/// The load generator's own health: how far think-time sleeps woke from their intended time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Generator {
    pub think_samples: u64,
    /// p50, p99 and max lateness in milliseconds.
    pub think_lateness_ms: [f64; 3],
}

/// Statistics since the last window mark (a capacity-search step).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WindowStats {
    pub elapsed: Duration,
    /// The aggregate over the window; its `total_rps` is the window's rate.
    pub total: RowStats,
    /// Failures caused by swarm's own machine (open files, ports).
    pub local_failures: u64,
    /// The generator's own lag: the latest its control task woke, and think-time lateness.
    pub max_tick_late_ms: f64,
    pub think_late_p99_ms: f64,
}

/// The open model's schedule: iterations started at a rate, whatever the response times.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Arrivals {
    /// Iterations per second the schedule asks for now.
    pub rate: f64,
    /// Most users allowed at once.
    pub max_users: u32,
    /// Iterations the schedule has asked for so far.
    pub scheduled: u64,
    /// Iterations that found no free user within the queue timeout (k6's dropped iterations).
    pub dropped: u64,
    /// Iterations waiting for a free user right now.
    pub waiting: u64,
    /// Users running an iteration right now.
    pub busy: u64,
}

/// Everything a view needs, published a few times a second.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Snapshot {
    pub state: RunState,
    pub users: u32,
    /// The most users that ran at once in this run.
    pub peak_users: u32,
    /// (stage number from 1, number of stages) while a load shape is followed.
    pub stage: Option<(usize, usize)>,
    /// Time spent in the current stage.
    pub stage_elapsed: Duration,
    /// The load plan is paused: the current target holds and the run clock stops.
    pub plan_paused: bool,
    /// Users that stopped because a step of their on_start failed.
    pub stopped_users: u64,
    /// `[[users]]`: how many users of each type run now, in the scenario's order (empty
    /// for a scenario of one implicit type).
    #[serde(default)]
    pub user_types: Vec<TypeCount>,
    /// `-n` and `-i`: requests and tasks the run may still start (None without a limit).
    #[serde(default)]
    pub requests_left: Option<u64>,
    #[serde(default)]
    pub iterations_left: Option<u64>,
    pub target_users: u32,
    pub spawn_rate: f64,
    /// How long the statistics cover: since the start, or the latest reset. Rates are
    /// over this.
    pub elapsed: Duration,
    /// The run's clock, what `run_time` is measured against: since the start, without the
    /// time the load plan was paused; a statistics reset does not move it.
    pub run_clock: Duration,
    pub run_time: Option<Duration>,
    /// One per endpoint name, in the order they were first seen.
    pub rows: Vec<RowStats>,
    pub total: RowStats,
    pub failures: Vec<FailureGroup>,
    pub history: Arc<Vec<Point>>,
    pub generator: Generator,
    /// Seconds each history point covers.
    pub history_step: u32,
    /// Present when the run follows an arrival rate (open model).
    pub arrivals: Option<Arrivals>,
    /// Present after a `MarkWindow` command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<WindowStats>,
    /// A distributed run: the workers it waits for (0 for a run in one process) ...
    #[serde(default)]
    pub workers_wanted: u32,
    /// ... and those that joined, by segment.
    #[serde(default)]
    pub workers: Vec<WorkerStatus>,
    /// Set when a worker went missing and the run stopped for it: which, and when.
    #[serde(default)]
    pub worker_lost: Option<String>,
    /// ... and the others carried its share (`--tolerate-worker-loss`).
    #[serde(default)]
    pub degraded: bool,
    /// Every worker lost while the run went on, in the order they were lost: the figures
    /// lack what each recorded after its last report.
    #[serde(default)]
    pub lost_workers: Vec<LostWorker>,
    /// Where the workers reach the controller.
    #[serde(default)]
    pub controller_addr: String,
    /// An edit of the scenario the controller could not send its workers, and why.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edit_refused: Option<String>,
    /// What arrived over the run's control endpoint (`swarm scale`, `POST /v1/scale`, an
    /// attached TUI), in order: the report says how the load was shaped.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub controls: Vec<ControlEvent>,
}

/// One control that arrived over the run's endpoint.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ControlEvent {
    /// On the run's clock, seconds.
    pub at_s: f64,
    /// Who sent it: the client's name, or its address.
    pub who: String,
    /// What it did.
    pub what: String,
}

impl ControlEvent {
    /// "12.5 s  swarm scale (pid 42): set the users to 50"
    pub fn line(&self) -> String {
        format!("{:>7.1} s  {}: {}", self.at_s, self.who, self.what)
    }
}

/// One worker of a distributed run, as its controller last heard of it.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct WorkerStatus {
    pub index: u32,
    pub host: String,
    /// idle, spawning, running, stopping, stopped, missing.
    pub state: String,
    pub users: u32,
    /// Its requests per second over the run (its share of the aggregate's rate).
    pub rps: f64,
    /// Its process's CPU over the run, % of one core.
    pub cpu_percent: f64,
    /// How late its users' think times ended, p99 over the run so far, ms: a worker
    /// short of CPU shows it here first.
    #[serde(default)]
    pub think_late_p99_ms: f64,
    /// Its clock minus the controller's, ms (within the network's one-way delay).
    pub clock_offset_ms: f64,
    /// Since its last report, ms.
    pub last_heard_ms: u64,
}

/// A histogram as Prometheus takes it: cumulative counts at `LE_BOUNDS_MS`, and the sum.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Shape {
    pub le_counts: [u64; LE_BOUNDS_MS.len()],
    /// The sum of the values, ms (each at its bucket's middle, as HdrHistogram's mean).
    pub sum_ms: f64,
}

impl Shape {
    pub(crate) fn of(h: &Histogram<u64>) -> Shape {
        let mut le = [0u64; LE_BOUNDS_MS.len()];
        for v in h.iter_recorded() {
            let ms = h.highest_equivalent(v.value_iterated_to()) as f64 / 1000.0;
            if let Some(first) = LE_BOUNDS_MS.iter().position(|&b| ms <= b) {
                for slot in &mut le[first..] {
                    *slot += v.count_at_value();
                }
            }
        }
        Shape {
            le_counts: le,
            sum_ms: h.mean() * h.len() as f64 / 1000.0,
        }
    }
}

/// A streamed row's figures, as reports show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamStats {
    /// Streams whose response began with an accepted status.
    pub streams: u64,
    pub events: u64,
    pub tokens: Option<u64>,
    /// Streams that ended before their `stream_done` or were cut.
    pub incomplete: u64,
    /// Time to first token (or event) at `PERCENTILES`, ms.
    pub ttft_ms: [f64; 11],
    /// Open model: TTFT from the intended start.
    pub ttft_corrected_ms: Option<[f64; 11]>,
    /// Inter-token (or inter-event) latency at `PERCENTILES`, ms.
    pub itl_ms: [f64; 11],
    /// Time per output token at `PERCENTILES`, ms: with `stream_tokens` only, and once a
    /// complete stream of two tokens or more measured one.
    pub tpot_ms: Option<[f64; 11]>,
    pub events_per_s: f64,
    pub tokens_per_s: f64,
    /// How many TTFT and ITL values the percentiles stand on.
    pub ttft_count: u64,
    pub itl_count: u64,
    /// For Prometheus' histograms.
    #[serde(default)]
    pub ttft_shape: Shape,
    #[serde(default)]
    pub itl_shape: Shape,
}

impl StreamStats {
    /// The value at a percentile of `PERCENTILES` of one of the three (ms).
    pub fn at(values: &[f64; 11], q: f64) -> Option<f64> {
        PERCENTILES
            .iter()
            .position(|p| (p - q).abs() < 1e-9)
            .map(|i| values[i])
    }
}
