//! The end-of-run text report: endpoint table, percentile table, status codes, failures.
//! A pure function of a snapshot; every line fits the given width.

use super::format::{bytes, count, fails, fit, ms, ms_of, pad, plural, rate, wrap};
use crate::stats::{RowStats, Snapshot};
use std::fmt::Write;

/// Renders the report for a terminal `width` columns wide (at least 80 is assumed).
pub fn render(snap: &Snapshot, title: &str, width: usize) -> String {
    let width = width.max(80);
    let mut out = String::new();
    let _ = writeln!(out, "{}", fit(title, width));
    // What needs saying about the run wraps (advice cut at the edge helps nobody).
    for line in summary(snap).iter().flat_map(|l| wrap(l, width)) {
        let _ = writeln!(out, "{line}");
    }
    out.push('\n');
    endpoint_table(&mut out, snap, width);
    out.push('\n');
    if snap.total.corrected_ms.is_some() {
        percentile_table(
            &mut out,
            snap,
            width,
            "Latency from intended start (ms), corrected for coordinated omission",
            |r| r.corrected_ms.unwrap_or(r.percentiles_ms),
        );
        out.push('\n');
        percentile_table(
            &mut out,
            snap,
            width,
            "Service time (ms), raw: from send to response",
            |r| r.percentiles_ms,
        );
    } else {
        percentile_table(
            &mut out,
            snap,
            width,
            "Response time percentiles (ms)",
            |r| r.percentiles_ms,
        );
    }
    stream_table(&mut out, snap, width);
    ws_table(&mut out, snap, width);
    status_table(&mut out, snap, width);
    failure_table(&mut out, snap, width);
    if !snap.controls.is_empty() {
        out.push_str("\nControls during the run (swarm scale, the API, attached terminals)\n");
        for c in &snap.controls {
            let _ = writeln!(out, "{}", fit(&c.line(), width));
        }
    }
    out
}

/// WebSocket rows: sockets, messages each way and their rates, bytes, messages skipped.
fn ws_table(out: &mut String, snap: &Snapshot, width: usize) {
    let rows: Vec<(&RowStats, &crate::stats::WsStats)> = snap
        .rows
        .iter()
        .filter_map(|r| r.ws.as_ref().map(|w| (r, w)))
        .collect();
    let Some(total) = snap.total.ws.as_ref().filter(|_| !rows.is_empty()) else {
        return;
    };
    let line = format!(
        "WebSocket: {} sockets opened, {} closed, {} open; {} messages sent, {} received",
        total.opened, total.closed, total.open, total.sent, total.received
    );
    let _ = writeln!(out, "\n{}", fit(&line, width));
    let nw = name_width(
        rows.iter().map(|(r, _)| crate::fmt::width(&r.name)).max(),
        width - 56,
    );
    let header = format!(
        "{} {:>6} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6}",
        pad("Name", nw),
        "opened",
        "closed",
        "sent",
        "recv",
        "recv/s",
        "out",
        "in",
        "skipd"
    );
    let rule = "-".repeat(header.chars().count());
    let _ = writeln!(out, "{header}\n{rule}");
    for (r, w) in rows {
        let _ = writeln!(
            out,
            "{} {:>6} {:>6} {:>7} {:>7} {:>7} {:>8} {:>8} {:>6}",
            pad(&r.name, nw),
            count(w.opened, 6),
            count(w.closed, 6),
            count(w.sent, 7),
            count(w.received, 7),
            rate(w.received_per_s),
            bytes(w.bytes_sent as f64),
            bytes(w.bytes_received as f64),
            count(w.unmatched, 6),
        );
    }
}

/// Streamed rows: their counts, then TTFT, ITL and TPOT (vLLM's definitions).
fn stream_table(out: &mut String, snap: &Snapshot, width: usize) {
    let rows: Vec<(&RowStats, &crate::stats::StreamStats)> = snap
        .rows
        .iter()
        .filter_map(|r| r.stream.as_ref().map(|s| (r, s)))
        .collect();
    if rows.is_empty() {
        return;
    }
    let nw = name_width(
        rows.iter().map(|(r, _)| crate::fmt::width(&r.name)).max(),
        width - 48,
    );
    let _ = writeln!(
        out,
        "\n{}",
        fit(
            "Streams (ms): TTFT to first token, ITL between tokens, TPOT per output token",
            width
        )
    );
    let header = format!(
        "{} {:>7} {:>7} {:>8} {:>8} {:>7} {:>6}",
        pad("Name", nw),
        "streams",
        "incompl",
        "events",
        "tokens",
        "tok/s",
        "ev/s"
    );
    let rule = "-".repeat(header.chars().count());
    let _ = writeln!(out, "{header}\n{rule}");
    for (r, s) in &rows {
        let tokens = s.tokens.map(|t| count(t, 8));
        let tok_s = s.tokens.map_or("-".into(), |_| rate(s.tokens_per_s));
        let _ = writeln!(
            out,
            "{} {:>7} {:>7} {:>8} {:>8} {:>7} {:>6}",
            pad(&r.name, nw),
            count(s.streams, 7),
            count(s.incomplete, 7),
            count(s.events, 8),
            tokens.unwrap_or_else(|| "-".into()),
            tok_s,
            rate(s.events_per_s),
        );
    }
    stream_times(out, &rows, nw, &rule);
}

/// TTFT, ITL and TPOT of each streamed row.
fn stream_times(
    out: &mut String,
    rows: &[(&RowStats, &crate::stats::StreamStats)],
    nw: usize,
    rule: &str,
) {
    let opt = |v: Option<f64>| v.map_or("-".into(), ms);
    let header = format!(
        "{} {:>8} {:>5} {:>5} {:>7} {:>5} {:>5} {:>8} {:>5}",
        pad("", nw),
        "TTFT p50",
        "p95",
        "p99",
        "ITL p50",
        "p95",
        "p99",
        "TPOT p50",
        "p95"
    );
    let _ = writeln!(out, "{}\n{rule}", header.trim_end());
    for (r, s) in rows {
        let at = |v: &[f64; 11], q: f64| crate::stats::StreamStats::at(v, q).unwrap_or(0.0);
        let t = |v: &[f64; 11], q: f64, n: u64| opt((n > 0).then(|| at(v, q)));
        let tpot = |q: f64| opt(s.tpot_ms.as_ref().map(|v| at(v, q)));
        let _ = writeln!(
            out,
            "{} {:>8} {:>5} {:>5} {:>7} {:>5} {:>5} {:>8} {:>5}",
            pad(&r.name, nw),
            t(&s.ttft_ms, 0.5, s.ttft_count),
            t(&s.ttft_ms, 0.95, s.ttft_count),
            t(&s.ttft_ms, 0.99, s.ttft_count),
            t(&s.itl_ms, 0.5, s.itl_count),
            t(&s.itl_ms, 0.95, s.itl_count),
            t(&s.itl_ms, 0.99, s.itl_count),
            tpot(0.5),
            tpot(0.95),
        );
    }
}

/// What makes the run's figures read differently: lost workers, a degraded run, a server
/// never reached, requests cut or interrupted at the stop, requests resent.
fn caveats(snap: &Snapshot) -> Vec<String> {
    let mut lines = Vec::new();
    for lost in &snap.lost_workers {
        lines.push(lost.describe());
    }
    if snap.degraded {
        lines.push(
            "degraded run: the other workers carried the lost worker's share (--tolerate-worker-loss)"
                .into(),
        );
    }
    if snap.reached_no_server() {
        // The cause is in the failures table; this says what to do about it.
        lines.push(
            "no request reached the server: is it running, at that address? (with a scenario file, -H URL aims swarm at another host; with swarm run URL, the URL names it)"
                .into(),
        );
    }
    let cut = snap.cut_mid_response();
    if cut > 0 {
        lines.push(format!(
            "{cut} responses cut at the stop while their body still arrived (counted as failed; the body bytes that came are counted)"
        ));
    }
    let interrupted = snap.interrupted();
    if interrupted > 0 {
        let every = if snap.all_interrupted() {
            ": the server answered none"
        } else {
            ""
        };
        lines.push(format!(
            "{interrupted} requests interrupted at the stop{every} (counted as failed, not in the latencies)"
        ));
    }
    if snap.total.resent > 0 {
        lines.push(format!(
            "{} requests resent after a keep-alive close (GET/HEAD/OPTIONS/TRACE without a body)",
            snap.total.resent
        ));
    }
    lines
}

/// The lines under the title: totals, bytes, and what needs saying about the run
/// (interrupted and resent requests, stopped users, the open model's schedule).
fn summary(snap: &Snapshot) -> Vec<String> {
    let secs = snap.elapsed.as_secs_f64();
    let mut lines = vec![format!(
        "{}, {secs:.1}s, {}, {} failed",
        plural(snap.peak_users, "user"),
        plural(snap.total.requests, "request"),
        snap.total.failures
    )];
    let throughput = if secs > 0.0 {
        format!(" ({}/s)", bytes(snap.total.bytes as f64 / secs))
    } else {
        String::new()
    };
    lines.push(format!(
        "{} of response bodies received{throughput}",
        bytes(snap.total.bytes as f64)
    ));
    lines.extend(caveats(snap));
    if !snap.user_types.is_empty() {
        let types: Vec<String> = snap
            .user_types
            .iter()
            .map(|t| format!("{} {}", t.name, t.peak))
            .collect();
        lines.push(format!("users by type (at the peak): {}", types.join(", ")));
    }
    if snap.stopped_users > 0 {
        lines.push(format!(
            "{} stopped: a step of their on_start failed (see Failures)",
            crate::fmt::plural(snap.stopped_users, "user")
        ));
    }
    if let Some(a) = &snap.arrivals {
        lines.push(format!(
            "open model: {} scheduled, {} dropped (no free user in time), {} at most",
            a.scheduled,
            a.dropped,
            crate::fmt::plural(snap.peak_users, "user")
        ));
    }
    lines
}

/// The longest name a Name column shows whole; longer ones end in "…" (as the TUI's).
const MAX_NAME: usize = 40;

/// The Name column: as wide as the longest name up to `MAX_NAME` (and at least
/// "Aggregated"), within the `room` the terminal leaves: on a wide terminal the figures
/// stay beside their names instead of 135 columns away.
fn name_width(longest: Option<usize>, room: usize) -> usize {
    longest
        .unwrap_or(0)
        .clamp("Aggregated".len(), MAX_NAME)
        .min(room)
}

fn type_width(snap: &Snapshot) -> usize {
    snap.rows
        .iter()
        .map(|r| r.method.len())
        .max()
        .unwrap_or(0)
        .max(4)
}

fn endpoint_table(out: &mut String, snap: &Snapshot, width: usize) {
    let tw = type_width(snap);
    // Fixed columns: reqs 7, fails 12, four latencies 5, req/s 7, fail/s 6, and 10 spaces.
    let longest = snap
        .rows
        .iter()
        .map(|r| crate::fmt::width(r.short_name()))
        .max();
    let nw = name_width(longest, width - tw - 62);
    let header = format!(
        "{:<tw$} {} {:>7} {:>12} {:>5} {:>5} {:>5} {:>5} {:>7} {:>6}",
        "Type",
        pad("Name", nw),
        "# reqs",
        "# fails",
        "Avg",
        "Min",
        "Max",
        "Med",
        "req/s",
        "fail/s"
    );
    let rule = "-".repeat(header.chars().count());
    let _ = writeln!(out, "{header}\n{rule}");
    for row in &snap.rows {
        let _ = writeln!(out, "{}", endpoint_line(row, tw, nw));
    }
    let _ = writeln!(out, "{rule}\n{}", endpoint_line(&snap.total, tw, nw));
}

fn endpoint_line(r: &RowStats, tw: usize, nw: usize) -> String {
    format!(
        "{:<tw$} {} {:>7} {:>12} {:>5} {:>5} {:>5} {:>5} {:>7} {:>6}",
        fit(&r.method, tw),
        pad(r.short_name(), nw),
        count(r.requests, 7),
        fails(r.failures, r.requests),
        ms_of(r, r.avg_ms),
        ms_of(r, r.min_ms),
        ms_of(r, r.max_ms),
        ms_of(r, r.median_ms()),
        rate(r.total_rps),
        rate(r.total_fps)
    )
}

const PCT_LABELS: [&str; 11] = [
    "50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100",
];

fn percentile_table(
    out: &mut String,
    snap: &Snapshot,
    width: usize,
    title: &str,
    values: impl Fn(&RowStats) -> [f64; 11],
) {
    let longest = snap
        .rows
        .iter()
        .map(|r| crate::fmt::width(&r.name) + r.method.len() + 1)
        .max();
    let nw = name_width(longest, width - 1 - PCT_LABELS.len() * 6);
    let _ = writeln!(out, "{}", fit(title, width));
    let mut header = pad("Name", nw);
    for l in PCT_LABELS {
        let _ = write!(header, " {l:>5}");
    }
    let rule = "-".repeat(header.chars().count());
    let _ = writeln!(out, "{header}\n{rule}");
    let ambiguous = |r: &RowStats| snap.rows.iter().filter(|o| o.name == r.name).count() > 1;
    let line = |r: &RowStats| {
        let label = if ambiguous(r) {
            row_label(&r.name, &r.method)
        } else {
            r.name.clone()
        };
        let mut s = pad(&label, nw);
        for v in values(r) {
            let _ = write!(s, " {:>5}", ms_of(r, v));
        }
        s
    };
    for row in &snap.rows {
        let _ = writeln!(out, "{}", line(row));
    }
    let _ = writeln!(out, "{rule}\n{}", line(&snap.total));
}

/// The row's name, with the method in front when the name does not already say it.
fn row_label(name: &str, method: &str) -> String {
    if method.is_empty() || name.starts_with(&format!("{method} ")) {
        name.to_string()
    } else {
        format!("{method} {name}")
    }
}

fn status_table(out: &mut String, snap: &Snapshot, width: usize) {
    if snap.rows.iter().all(|r| r.statuses.is_empty()) {
        return;
    }
    let _ = writeln!(out, "\nStatus codes");
    for r in snap.rows.iter().filter(|r| !r.statuses.is_empty()) {
        let codes: Vec<String> = r
            .statuses
            .iter()
            .map(|(c, n)| format!("{c}: {n}"))
            .collect();
        let _ = writeln!(
            out,
            "{}",
            fit(
                &format!(
                    "{} {}",
                    pad(&row_label(&r.name, &r.method), 24),
                    codes.join("  ")
                ),
                width
            )
        );
    }
}

fn failure_table(out: &mut String, snap: &Snapshot, width: usize) {
    let _ = writeln!(out, "\nFailures");
    if snap.failures.is_empty() {
        let _ = writeln!(out, "none");
        return;
    }
    let mut groups: Vec<_> = snap.failures.iter().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    let _ = writeln!(out, "{:>8}  {}  Cause", "# fails", pad("Name", 24));
    for f in groups {
        let label = row_label(&f.name, &f.method);
        let cause = if f.message.is_empty() {
            f.kind.to_string()
        } else {
            format!("{}: {}", f.kind, f.message)
        };
        // The cause is what the user needs to read in full: it wraps under its column.
        let indent = 8 + 2 + 24 + 2;
        for (i, part) in wrap(&cause, width - indent).iter().enumerate() {
            let lead = if i == 0 {
                format!("{:>8}  {}  ", count(f.count, 8), pad(&label, 24))
            } else {
                " ".repeat(indent)
            };
            let _ = writeln!(out, "{lead}{part}");
        }
    }
}

/// A verdict's measured value in its unit: "1.20%", "95.0/s", "312 ms", "no requests".
pub fn measured(v: &crate::scenario::threshold::Verdict) -> String {
    match v.actual {
        Some(a) if v.threshold.starts_with("fail_ratio") => format!("{:.2}%", a * 100.0),
        Some(a) if v.threshold.starts_with("rps") => format!("{a:.1}/s"),
        Some(a) => format!("{} ms", ms(a)),
        None => "no requests".into(),
    }
}

/// The thresholds section: one line per threshold with its verdict and measured value.
pub fn thresholds(verdicts: &[crate::scenario::threshold::Verdict], width: usize) -> String {
    if verdicts.is_empty() {
        return String::new();
    }
    let failed = verdicts.iter().filter(|v| !v.passed).count();
    let mut out = format!(
        "\nThresholds: {} passed, {} failed\n",
        verdicts.len() - failed,
        failed
    );
    for v in verdicts {
        let actual = measured(v);
        let mark = if v.passed { "PASS" } else { "FAIL" };
        let line = format!(
            "{mark}  {}  {}  (measured {actual})",
            pad(&v.scope, 20),
            v.threshold
        );
        let _ = writeln!(out, "{}", fit(&line, width));
    }
    out
}
