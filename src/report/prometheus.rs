//! `--prometheus ADDR`: `/metrics` in Prometheus's text exposition format (0.0.4) while
//! the run goes on, from the newest snapshot.
//!
//! Per endpoint (labels `name` and `method`; the aggregate is not repeated, Prometheus
//! sums): `swarm_requests_total`, `swarm_failures_total` (with `cause`, the JSON's cause
//! codes), `swarm_response_time_seconds` (a histogram with fixed buckets from 0.1 ms to
//! 60 s), `swarm_requests_per_second` (over the last seconds) and
//! `swarm_response_bytes_total`. For the run: `swarm_users`, `swarm_target_users`,
//! `swarm_arrival_dropped_total` and `swarm_arrival_scheduled_total` (open model),
//! `swarm_think_lateness_seconds` (p50, p99 and max as `quantile` 0.5, 0.99, 1 of a
//! summary) and `swarm_run_seconds`. Streamed endpoints add `swarm_stream_ttft_seconds`
//! and `swarm_stream_itl_seconds` (histograms, the same buckets) and the counters
//! `swarm_streams_total`, `swarm_stream_incomplete_total`, `swarm_stream_events_total`
//! and `swarm_stream_tokens_total`. WebSocket steps add `swarm_ws_open_sockets` and, per
//! step, `swarm_ws_opened_total`, `swarm_ws_closed_total`, `swarm_ws_messages_sent_total`,
//! `swarm_ws_messages_received_total`, `swarm_ws_sent_bytes_total` and
//! `swarm_ws_received_bytes_total`.

use crate::stats::{LE_BOUNDS_MS, Snapshot};
use bytes::Bytes;
use http_body_util::Full;
use std::fmt::Write;
use std::sync::Arc;
use tokio::sync::watch;

/// The exposition's content type.
pub(crate) const CONTENT_TYPE: &str = "text/plain; version=0.0.4; charset=utf-8";

/// A label value, escaped as the text format asks (backslash, quote, newline).
fn label(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

fn seconds(ms: f64) -> f64 {
    ms / 1000.0
}

/// The page being written: each family is its HELP and TYPE lines, then its samples.
struct Page(String);

impl Page {
    fn family(&mut self, name: &str, kind: &str, help: &str) -> &mut String {
        let _ = writeln!(self.0, "# HELP {name} {help}");
        let _ = writeln!(self.0, "# TYPE {name} {kind}");
        &mut self.0
    }

    /// A family of one sample without labels.
    fn single(&mut self, name: &str, kind: &str, help: &str, value: impl std::fmt::Display) {
        let o = self.family(name, kind, help);
        let _ = writeln!(o, "{name} {value}");
    }
}

/// The metrics page for a snapshot.
pub fn render(snap: &Snapshot) -> String {
    let rows: Vec<(String, &crate::stats::RowStats)> = (snap.rows.iter())
        .map(|r| {
            let labels = format!(
                "name=\"{}\",method=\"{}\"",
                label(r.short_name()),
                label(&r.method)
            );
            (labels, r)
        })
        .collect();
    let mut page = Page(String::new());
    endpoint_families(&mut page, &rows, snap);
    stream_families(&mut page, &rows);
    ws_families(&mut page, &rows, snap);
    run_families(&mut page, snap);
    page.0
}

/// Streamed endpoints: TTFT and ITL histograms, and the stream, event and token counters.
fn stream_families(page: &mut Page, rows: &[(String, &crate::stats::RowStats)]) {
    let streamed: Vec<(&String, &crate::stats::StreamStats)> = rows
        .iter()
        .filter_map(|(l, r)| r.stream.as_ref().map(|s| (l, s)))
        .collect();
    if streamed.is_empty() {
        return;
    }
    let histograms = [
        (
            "swarm_stream_ttft_seconds",
            "Time to the first token (or event) of each streamed response, per endpoint.",
            (|s: &crate::stats::StreamStats| (&s.ttft_shape, s.ttft_count))
                as fn(&crate::stats::StreamStats) -> (&crate::stats::Shape, u64),
        ),
        (
            "swarm_stream_itl_seconds",
            "Gaps between consecutive tokens (or events) of streamed responses, per endpoint.",
            |s| (&s.itl_shape, s.itl_count),
        ),
    ];
    for (name, help, of) in histograms {
        let o = page.family(name, "histogram", help);
        for (l, s) in &streamed {
            let (shape, count) = of(s);
            for (bound, n) in LE_BOUNDS_MS.iter().zip(shape.le_counts) {
                let _ = writeln!(o, "{name}_bucket{{{l},le=\"{}\"}} {n}", seconds(*bound));
            }
            let _ = writeln!(o, "{name}_bucket{{{l},le=\"+Inf\"}} {count}");
            let _ = writeln!(o, "{name}_sum{{{l}}} {}", seconds(shape.sum_ms));
            let _ = writeln!(o, "{name}_count{{{l}}} {count}");
        }
    }
    stream_counters(page, &streamed);
}

/// WebSocket steps: sockets, messages and bytes per step, and the sockets open now.
fn ws_families(page: &mut Page, rows: &[(String, &crate::stats::RowStats)], snap: &Snapshot) {
    let steps: Vec<(&String, &crate::stats::WsStats)> = rows
        .iter()
        .filter_map(|(l, r)| r.ws.as_ref().map(|w| (l, w)))
        .collect();
    let Some(total) = snap.total.ws.as_ref().filter(|_| !steps.is_empty()) else {
        return;
    };
    page.single(
        "swarm_ws_open_sockets",
        "gauge",
        "WebSocket sockets open now.",
        total.open,
    );
    type Of = fn(&crate::stats::WsStats) -> u64;
    let counters: [(&str, &str, Of); 6] = [
        (
            "swarm_ws_opened_total",
            "WebSocket sockets opened, per step.",
            |w| w.opened,
        ),
        (
            "swarm_ws_closed_total",
            "WebSocket sockets closed, per step.",
            |w| w.closed,
        ),
        (
            "swarm_ws_messages_sent_total",
            "WebSocket messages sent, per step.",
            |w| w.sent,
        ),
        (
            "swarm_ws_messages_received_total",
            "WebSocket messages received, per step.",
            |w| w.received,
        ),
        (
            "swarm_ws_sent_bytes_total",
            "WebSocket message bytes sent, per step.",
            |w| w.bytes_sent,
        ),
        (
            "swarm_ws_received_bytes_total",
            "WebSocket message bytes received, per step.",
            |w| w.bytes_received,
        ),
    ];
    for (name, help, of) in counters {
        let o = page.family(name, "counter", help);
        for (l, w) in &steps {
            let _ = writeln!(o, "{name}{{{l}}} {}", of(w));
        }
    }
}

/// Per streamed endpoint: streams, incomplete ones, events and tokens.
fn stream_counters(page: &mut Page, streamed: &[(&String, &crate::stats::StreamStats)]) {
    let counters = [
        (
            "swarm_streams_total",
            "Streamed responses that began, per endpoint.",
            0,
        ),
        (
            "swarm_stream_incomplete_total",
            "Streams that ended before their done event or were cut.",
            1,
        ),
        (
            "swarm_stream_events_total",
            "Events read from streamed responses.",
            2,
        ),
        (
            "swarm_stream_tokens_total",
            "Tokens read from streamed responses (with stream_tokens).",
            3,
        ),
    ];
    for (name, help, which) in counters {
        let o = page.family(name, "counter", help);
        for (l, s) in streamed {
            let value = match which {
                0 => Some(s.streams),
                1 => Some(s.incomplete),
                2 => Some(s.events),
                _ => s.tokens,
            };
            if let Some(v) = value {
                let _ = writeln!(o, "{name}{{{l}}} {v}");
            }
        }
    }
}

/// The families with a sample per endpoint.
fn endpoint_families(page: &mut Page, rows: &[(String, &crate::stats::RowStats)], snap: &Snapshot) {
    let o = page.family(
        "swarm_requests_total",
        "counter",
        "Requests made, per endpoint (failed ones included).",
    );
    for (l, r) in rows {
        let _ = writeln!(o, "swarm_requests_total{{{l}}} {}", r.requests);
    }
    let o = page.family(
        "swarm_failures_total",
        "counter",
        "Failed requests, per endpoint and cause.",
    );
    for f in &snap.failures {
        let _ = writeln!(
            o,
            "swarm_failures_total{{name=\"{}\",method=\"{}\",cause=\"{}\"}} {}",
            label(crate::stats::short_name(&f.name, &f.method)),
            label(&f.method),
            label(&f.kind.code()),
            f.count
        );
    }
    response_time_family(page, rows);
    let o = page.family(
        "swarm_requests_per_second",
        "gauge",
        "Requests per second over the last seconds, per endpoint.",
    );
    for (l, r) in rows {
        let _ = writeln!(o, "swarm_requests_per_second{{{l}}} {}", r.current_rps);
    }
    let o = page.family(
        "swarm_response_bytes_total",
        "counter",
        "Response body bytes received, per endpoint.",
    );
    for (l, r) in rows {
        let _ = writeln!(o, "swarm_response_bytes_total{{{l}}} {}", r.bytes);
    }
}

/// Response times per endpoint, as a histogram with fixed buckets.
fn response_time_family(page: &mut Page, rows: &[(String, &crate::stats::RowStats)]) {
    let o = page.family(
        "swarm_response_time_seconds",
        "histogram",
        "Response times, per endpoint.",
    );
    for (l, r) in rows {
        for (bound, count) in LE_BOUNDS_MS.iter().zip(r.le_counts) {
            let le = seconds(*bound);
            let _ = writeln!(
                o,
                "swarm_response_time_seconds_bucket{{{l},le=\"{le}\"}} {count}"
            );
        }
        let _ = writeln!(
            o,
            "swarm_response_time_seconds_bucket{{{l},le=\"+Inf\"}} {}",
            r.timed
        );
        let _ = writeln!(
            o,
            "swarm_response_time_seconds_sum{{{l}}} {}",
            seconds(r.sum_ms)
        );
        let _ = writeln!(o, "swarm_response_time_seconds_count{{{l}}} {}", r.timed);
    }
}

/// The families of the run as a whole.
fn run_families(page: &mut Page, snap: &Snapshot) {
    page.single("swarm_users", "gauge", "Virtual users running.", snap.users);
    page.single(
        "swarm_target_users",
        "gauge",
        "The user count the run is moving to.",
        snap.target_users,
    );
    if let Some(a) = &snap.arrivals {
        page.single(
            "swarm_arrival_scheduled_total",
            "counter",
            "Iterations the arrival schedule asked for (open model).",
            a.scheduled,
        );
        page.single(
            "swarm_arrival_dropped_total",
            "counter",
            "Iterations dropped: no free user within the queue timeout (open model).",
            a.dropped,
        );
    }
    let g = &snap.generator;
    let o = page.family(
        "swarm_think_lateness_seconds",
        "summary",
        "How far think-time sleeps woke from their intended time: the load generator's own lag.",
    );
    for (q, v) in [("0.5", 0), ("0.99", 1), ("1", 2)] {
        let lateness = seconds(g.think_lateness_ms[v]);
        let _ = writeln!(
            o,
            "swarm_think_lateness_seconds{{quantile=\"{q}\"}} {lateness}"
        );
    }
    let _ = writeln!(o, "swarm_think_lateness_seconds_count {}", g.think_samples);
    page.single(
        "swarm_run_seconds",
        "gauge",
        "How long the run has gone on.",
        snap.run_clock.as_secs_f64(),
    );
}

/// Binds the metrics address now (so a port in use is said before the run starts).
pub async fn bind(addr: &str) -> Result<tokio::net::TcpListener, String> {
    tokio::net::TcpListener::bind(addr)
        .await
        .map_err(|e| format!("--prometheus {addr}: cannot listen there ({e})"))
}

/// Serves `/metrics` from the newest snapshot until the task is dropped or aborted.
pub fn serve(
    listener: tokio::net::TcpListener,
    snapshots: watch::Receiver<Arc<Snapshot>>,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                // Out of file descriptors, say: wait instead of spinning.
                tokio::time::sleep(std::time::Duration::from_millis(100)).await;
                continue;
            };
            let snapshots = snapshots.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req: http::Request<_>| {
                    let snap = snapshots.borrow().clone();
                    async move {
                        let response = if req.uri().path() == "/metrics" {
                            http::Response::builder()
                                .header(http::header::CONTENT_TYPE, CONTENT_TYPE)
                                .body(Full::new(Bytes::from(render(&snap))))
                        } else {
                            http::Response::builder().status(404).body(Full::new(
                                Bytes::from_static(b"swarm serves its metrics at /metrics\n"),
                            ))
                        };
                        Ok::<_, std::convert::Infallible>(response.expect("a valid response"))
                    }
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
                    .await;
            });
        }
    })
}
