//! `--html FILE`: one self-contained HTML file (no script, font or image from anywhere):
//! the summary, the endpoint and percentile tables, charts over time drawn as inline SVG
//! (req/s and failures/s, p50/p95/p99, users), the response-time distribution, failures by
//! cause, thresholds, the capacity search's steps when there are some, and the scenario
//! text that ran.

use super::About;
use super::escape as esc;
use super::format::{bytes, ms, ms_of, rate};
use crate::capacity::Outcome;
use crate::scenario::threshold::Verdict;
use crate::stats::{PERCENTILES, Point, RowStats, Snapshot};
use std::fmt::Write;

/// The series colours (also what the screenshot test looks for).
pub const BLUE: &str = "#1f77b4";
const RED: &str = "#d62728";
pub const GREEN: &str = "#2ca02c";
pub const ORANGE: &str = "#ff7f0e";
pub const PURPLE: &str = "#9467bd";

const STYLE: &str = r#"
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto; max-width: 1100px; color: #222; padding: 0 16px; }
h1 { font-size: 22px; margin-bottom: 4px; }
h2 { font-size: 17px; margin-top: 32px; border-bottom: 1px solid #ddd; padding-bottom: 4px; }
.sub { color: #666; margin-top: 0; }
.cards { display: flex; flex-wrap: wrap; gap: 12px; margin: 16px 0; }
.card { border: 1px solid #ddd; border-radius: 6px; padding: 8px 14px; min-width: 110px; }
.card b { display: block; font-size: 20px; }
.card span { color: #666; font-size: 12px; }
table { border-collapse: collapse; width: 100%; font-variant-numeric: tabular-nums; }
th, td { padding: 4px 8px; border-bottom: 1px solid #eee; text-align: right; white-space: nowrap; }
th:first-child, td:first-child, th.l, td.l { text-align: left; }
th { background: #f6f6f6; font-weight: 600; }
tr.total td { font-weight: 600; border-top: 2px solid #ccc; }
.fail { color: #b00; font-weight: 600; }
.pass { color: #070; font-weight: 600; }
.note { background: #fff6e0; border-left: 4px solid #f0b000; padding: 6px 10px; margin: 8px 0; }
pre { background: #f6f6f6; padding: 12px; overflow-x: auto; font-size: 12px; }
svg text { font: 11px system-ui, sans-serif; fill: #444; }
.chart { margin: 8px 0 16px; }
"#;

/// The whole page.
pub fn render(
    about: &About,
    snap: &Snapshot,
    verdicts: &[Verdict],
    capacity: Option<&Outcome>,
) -> String {
    let name = about.name.unwrap_or("scenario");
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
         <title>swarm report: {}</title><style>{STYLE}</style></head><body>\n",
        esc(name)
    );
    let _ = writeln!(out, "<h1>swarm report: {}</h1>", esc(name));
    let _ = writeln!(
        out,
        "<p class=\"sub\">{} · started {} · {:.1} s · swarm {}</p>",
        esc(about.host),
        esc(&super::csv::utc(about.started)),
        snap.elapsed.as_secs_f64(),
        esc(crate::VERSION)
    );
    summary(&mut out, snap, verdicts);
    endpoints(&mut out, snap);
    percentiles(&mut out, snap);
    streams(&mut out, snap);
    websocket(&mut out, snap);
    workers(&mut out, snap);
    charts(&mut out, whole_steps(snap), snap.history_step);
    distribution(&mut out, &snap.total);
    failures(&mut out, snap);
    thresholds(&mut out, verdicts);
    controls(&mut out, snap);
    if let Some(c) = capacity.filter(|c| !c.steps.is_empty()) {
        capacity_steps(&mut out, c);
    }
    if !about.scenario.is_empty() || !about.command.is_empty() {
        out.push_str("<h2>Scenario</h2>\n");
    }
    if !about.command.is_empty() {
        // Its flags (-u 4, -H ...) override the text below.
        let _ = writeln!(
            out,
            "<p>Run as <code id=\"command\">{}</code> (its flags override the file)</p>",
            esc(about.command)
        );
    }
    if !about.scenario.is_empty() {
        let _ = writeln!(out, "<pre id=\"scenario\">{}</pre>", esc(about.scenario));
    }
    out.push_str("</body></html>\n");
    out
}

/// A distributed run's workers, as the controller last heard of them.
fn workers(out: &mut String, snap: &Snapshot) {
    if snap.workers.is_empty() {
        return;
    }
    out.push_str("<h2>Workers</h2>\n<table id=\"workers\"><tr><th>#</th><th class=\"l\">host</th><th class=\"l\">state</th><th>users</th><th>req/s</th><th>CPU %</th><th>think late p99 ms</th><th>clock offset ms</th><th>last heard ms</th></tr>\n");
    for w in &snap.workers {
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{:.1}</td><td>{:.0}</td><td>{:.1}</td><td>{:.1}</td><td>{}</td></tr>",
            w.index,
            esc(&w.host),
            esc(&w.state),
            w.users,
            w.rps,
            w.cpu_percent,
            w.think_late_p99_ms,
            w.clock_offset_ms,
            w.last_heard_ms
        );
    }
    out.push_str("</table>\n");
}

/// What arrived over the control endpoint while the run went on.
fn controls(out: &mut String, snap: &Snapshot) {
    if snap.controls.is_empty() {
        return;
    }
    out.push_str("<h2>Controls during the run</h2>\n<table id=\"controls\"><tr><th>at s</th><th class=\"l\">who</th><th class=\"l\">what</th></tr>\n");
    for c in &snap.controls {
        let _ = writeln!(
            out,
            "<tr><td>{:.1}</td><td class=\"l\">{}</td><td class=\"l\">{}</td></tr>",
            c.at_s,
            esc(&c.who),
            esc(&c.what)
        );
    }
    out.push_str("</table>\n");
}

/// The history without a last point cut short by the stop: sampled as the users left, it
/// would draw a ramp-down and a p95 drop that did not happen.
fn whole_steps(snap: &Snapshot) -> &[Point] {
    let h = &snap.history[..];
    let step = f64::from(snap.history_step.max(1));
    match h.split_last() {
        Some((last, rest))
            if !rest.is_empty() && last.t + step > snap.elapsed.as_secs_f64() + 1e-6 =>
        {
            rest
        }
        _ => h,
    }
}

fn summary(out: &mut String, snap: &Snapshot, verdicts: &[Verdict]) {
    let t = &snap.total;
    let broken = verdicts.iter().filter(|v| !v.passed).count();
    let cards = [
        (snap.peak_users.to_string(), "peak users"),
        (t.requests.to_string(), "requests"),
        (
            format!("{} ({:.2}%)", t.failures, t.fail_ratio() * 100.0),
            "failed",
        ),
        (rate(t.total_rps), "req/s"),
        (ms(t.median_ms()), "p50 ms"),
        (ms(t.percentile_ms(0.95).unwrap_or(0.0)), "p95 ms"),
        (ms(t.percentile_ms(0.99).unwrap_or(0.0)), "p99 ms"),
        (bytes(t.bytes as f64), "received"),
    ];
    out.push_str("<div class=\"cards\" id=\"summary\">");
    for (value, label) in cards {
        let _ = write!(
            out,
            "<div class=\"card\"><b>{}</b><span>{label}</span></div>",
            esc(&value)
        );
    }
    if !verdicts.is_empty() {
        let (class, text) = if broken == 0 {
            ("pass", "all passed".to_string())
        } else {
            ("fail", format!("{broken} failed"))
        };
        let _ = write!(
            out,
            "<div class=\"card\"><b class=\"{class}\">{text}</b><span>thresholds</span></div>"
        );
    }
    out.push_str("</div>\n");
    notes(out, snap);
}

/// What makes the figures read differently: nothing sent, lost workers, a degraded run,
/// a server never reached, requests cut at the stop, the open model's schedule.
fn notes(out: &mut String, snap: &Snapshot) {
    if snap.elapsed.as_secs_f64() > 0.0 && snap.total.requests == 0 {
        out.push_str("<p class=\"note\">No request was made in this run.</p>\n");
    }
    for lost in &snap.lost_workers {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(&lost.describe()));
    }
    if snap.degraded {
        out.push_str("<p class=\"note\">Degraded run: the other workers carried the lost worker's share (--tolerate-worker-loss).</p>\n");
    }
    if snap.reached_no_server() {
        out.push_str("<p class=\"note\">No request reached the server: every connection was refused or could not be made (see Failures). Is it running?</p>\n");
    }
    if snap.all_interrupted() {
        out.push_str("<p class=\"note\">The server answered none of the requests: every one was cut in flight at the stop.</p>\n");
    } else if snap.interrupted() > 0 {
        let _ = writeln!(
            out,
            "<p class=\"note\">{} requests were interrupted at the stop (counted as failed, not in the latencies).</p>",
            snap.interrupted()
        );
    }
    if let Some(a) = &snap.arrivals {
        let _ = writeln!(
            out,
            "<p class=\"note\">Arrival rate (open model): {} iterations scheduled, {} dropped (no free user within the queue timeout), up to {}.</p>",
            a.scheduled,
            a.dropped,
            crate::fmt::plural(a.max_users, "user")
        );
    }
}

fn endpoints(out: &mut String, snap: &Snapshot) {
    out.push_str("<h2>Endpoints</h2>\n<table id=\"endpoints\"><tr><th>Type</th><th class=\"l\">Name</th><th># requests</th><th># fails</th><th>Median ms</th><th>Average ms</th><th>Min ms</th><th>Max ms</th><th>Avg size (bytes)</th><th>req/s</th><th>failures/s</th></tr>\n");
    let row = |out: &mut String, r: &RowStats, class: &str, name: &str| {
        let _ = writeln!(
            out,
            "<tr class=\"{class}\"><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.0}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.method),
            esc(name),
            r.requests,
            r.failures,
            ms_of(r, r.median_ms()),
            ms_of(r, r.avg_ms),
            ms_of(r, r.min_ms),
            ms_of(r, r.max_ms),
            r.avg_bytes,
            rate(r.total_rps),
            rate(r.total_fps)
        );
    };
    for r in &snap.rows {
        row(out, r, "", r.short_name());
    }
    row(out, &snap.total, "total", "Aggregated");
    out.push_str("</table>\n");
}

fn percentiles(out: &mut String, snap: &Snapshot) {
    let corrected = snap.total.corrected_ms.is_some();
    let title = if corrected {
        "Response time percentiles (ms): service time, raw"
    } else {
        "Response time percentiles (ms)"
    };
    let _ = writeln!(out, "<h2>{title}</h2>");
    percentile_table(out, snap, "percentiles", |r| Some(r.percentiles_ms));
    if corrected {
        out.push_str(
            "<h2>Latency from intended start (ms), corrected for coordinated omission</h2>\n",
        );
        percentile_table(out, snap, "corrected", |r| r.corrected_ms);
    }
}

fn percentile_table(
    out: &mut String,
    snap: &Snapshot,
    id: &str,
    values: impl Fn(&RowStats) -> Option<[f64; 11]>,
) {
    let _ = write!(
        out,
        "<table id=\"{id}\"><tr><th class=\"l\">Type</th><th class=\"l\">Name</th>"
    );
    for p in PERCENTILES {
        let _ = write!(out, "<th>{}%</th>", p * 100.0);
    }
    out.push_str("</tr>\n");
    let rows = snap.rows.iter().map(|r| (r, "", r.short_name()));
    for (r, class, name) in rows.chain(std::iter::once((&snap.total, "total", "Aggregated"))) {
        let _ = write!(
            out,
            "<tr class=\"{class}\"><td class=\"l\">{}</td><td class=\"l\">{}</td>",
            esc(&r.method),
            esc(name)
        );
        match values(r).filter(|_| r.requests > 0) {
            Some(v) => {
                for x in v {
                    let _ = write!(out, "<td>{}</td>", ms(x));
                }
            }
            None => {
                for _ in PERCENTILES {
                    out.push_str("<td>N/A</td>");
                }
            }
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</table>\n");
}

/// One series of a line chart.
struct Series<'a> {
    label: &'a str,
    color: &'a str,
    values: Vec<f64>,
}

fn series(label: &'static str, color: &'static str, values: Vec<f64>) -> Series<'static> {
    Series {
        label,
        color,
        values,
    }
}

fn charts(out: &mut String, history: &[Point], step: u32) {
    out.push_str("<h2>Over time</h2>\n");
    if history.is_empty() {
        out.push_str("<p>The run was shorter than a second: no history.</p>\n");
        return;
    }
    let t: Vec<f64> = history.iter().map(|p| p.t).collect();
    let pick = |f: fn(&Point) -> f64| history.iter().map(f).collect::<Vec<f64>>();
    let every = if step > 1 {
        format!(" (a point every {step} s)")
    } else {
        String::new()
    };
    line_chart(
        out,
        "chart-rps",
        &format!("Requests and failures per second{every}"),
        "per s",
        &t,
        &[
            series("req/s", BLUE, pick(|p| p.rps)),
            series("failures/s", RED, pick(|p| p.fps)),
        ],
    );
    line_chart(
        out,
        "chart-latency",
        "Response times (ms)",
        "ms",
        &t,
        &[
            series("p50", GREEN, pick(|p| p.p50_ms)),
            series("p95", ORANGE, pick(|p| p.p95_ms)),
            series("p99", PURPLE, pick(|p| p.p99_ms)),
        ],
    );
    line_chart(
        out,
        "chart-users",
        "Users",
        "users",
        &t,
        &[series("users", BLUE, pick(|p| f64::from(p.users)))],
    );
    stream_charts(out, history, &t);
}

/// Streamed endpoints: TTFT and ITL, and tokens (events) per second, over time (each
/// step holds the streams that ended in it).
fn stream_charts(out: &mut String, history: &[Point], t: &[f64]) {
    if history.iter().all(|p| p.stream.is_none()) {
        return;
    }
    let pick = |f: fn(&crate::stats::StreamPoint) -> f64| {
        history
            .iter()
            .map(|p| p.stream.as_ref().map_or(0.0, f))
            .collect::<Vec<f64>>()
    };
    line_chart(
        out,
        "chart-stream-times",
        "Streams: time to first token and inter-token latency (ms)",
        "ms",
        t,
        &[
            series("TTFT p50", GREEN, pick(|s| s.ttft_p50_ms)),
            series("TTFT p99", ORANGE, pick(|s| s.ttft_p99_ms)),
            series("ITL p99", PURPLE, pick(|s| s.itl_p99_ms)),
        ],
    );
    line_chart(
        out,
        "chart-stream-rates",
        "Streams: tokens and events per second",
        "per s",
        t,
        &[
            series("tokens/s", BLUE, pick(|s| s.tokens_per_s)),
            series("events/s", GREEN, pick(|s| s.events_per_s)),
        ],
    );
}

/// WebSocket steps: sockets, messages and bytes each way, skipped messages.
fn websocket(out: &mut String, snap: &Snapshot) {
    let rows: Vec<&RowStats> = snap.rows.iter().filter(|r| r.ws.is_some()).collect();
    let Some(total) = snap.total.ws.as_ref().filter(|_| !rows.is_empty()) else {
        return;
    };
    let _ = writeln!(
        out,
        "<h2>WebSocket</h2>\n<p>{} sockets opened, {} closed, {} open at the end; {} messages \
         sent, {} received.</p>\n<table id=\"websocket\"><tr><th class=\"l\">Name</th>\
         <th>opened</th><th>closed</th><th>sent</th><th>received</th><th>received/s</th>\
         <th>bytes out</th><th>bytes in</th><th>skipped</th></tr>",
        total.opened, total.closed, total.open, total.sent, total.received
    );
    for r in rows {
        let Some(w) = &r.ws else { continue };
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}</td>\
             <td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.name),
            w.opened,
            w.closed,
            w.sent,
            w.received,
            w.received_per_s,
            w.bytes_sent,
            w.bytes_received,
            w.unmatched
        );
    }
    out.push_str("</table>\n");
}

/// Streamed rows: counts, rates, and TTFT, ITL and TPOT percentiles.
fn streams(out: &mut String, snap: &Snapshot) {
    let rows: Vec<&RowStats> = snap.rows.iter().filter(|r| r.stream.is_some()).collect();
    if rows.is_empty() {
        return;
    }
    out.push_str(
        "<h2>Streams</h2>\n<p>TTFT: time to the first token (or event); ITL: every gap between \
         consecutive tokens; TPOT: (end − first token) / (tokens − 1), per complete stream \
         (vLLM's definitions). Times in ms.</p>\n<table id=\"streams\"><tr><th class=\"l\">Type</th>\
         <th class=\"l\">Name</th><th>streams</th><th>incom&shy;plete</th><th>events</th><th>tokens</th>\
         <th>tokens/s</th><th>TTFT<br>p50</th><th>TTFT<br>p95</th><th>TTFT<br>p99</th><th>ITL<br>p50</th>\
         <th>ITL<br>p99</th><th>TPOT<br>p50</th><th>TPOT<br>p95</th></tr>\n",
    );
    for r in rows {
        let Some(st) = &r.stream else { continue };
        let at = |v: Option<&[f64; 11]>, q: f64| {
            v.and_then(|v| crate::stats::StreamStats::at(v, q))
                .map_or("N/A".into(), ms)
        };
        let (ttft, itl) = (
            (st.ttft_count > 0).then_some(&st.ttft_ms),
            (st.itl_count > 0).then_some(&st.itl_ms),
        );
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td><td>{}</td><td>{}</td>\
             <td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            esc(&r.method),
            esc(r.short_name()),
            st.streams,
            st.incomplete,
            st.events,
            st.tokens.map_or("N/A".into(), |t| t.to_string()),
            st.tokens
                .map_or("N/A".into(), |_| format!("{:.1}", st.tokens_per_s)),
            at(ttft, 0.5),
            at(ttft, 0.95),
            at(ttft, 0.99),
            at(itl, 0.5),
            at(itl, 0.99),
            at(st.tpot_ms.as_ref(), 0.5),
            at(st.tpot_ms.as_ref(), 0.95),
        );
    }
    out.push_str("</table>\n");
}

const W: f64 = 1000.0;
const H: f64 = 240.0;
const LEFT: f64 = 60.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 28.0;
const BOTTOM: f64 = 34.0;

/// A "nice" upper bound for an axis (1, 2 or 5 times a power of ten) and its tick step.
fn nice(max: f64) -> (f64, f64) {
    if max <= 0.0 || !max.is_finite() {
        return (1.0, 0.25);
    }
    let raw = max / 4.0;
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 2.5, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    (step * (max / step).ceil().max(1.0), step)
}

fn tick_label(v: f64) -> String {
    if v == 0.0 {
        "0".into()
    } else if v.abs() >= 1000.0 || v.fract() == 0.0 {
        format!("{v:.0}")
    } else {
        format!("{v:.2}")
            .trim_end_matches('0')
            .trim_end_matches('.')
            .to_string()
    }
}

/// Where value `v` sits on a chart whose axis ends at `top`.
fn y_at(v: f64, top: f64) -> f64 {
    TOP + (1.0 - v / top) * (H - TOP - BOTTOM)
}

/// The horizontal grid lines and their labels, every `step` up to `top`.
fn y_grid(out: &mut String, top: f64, step: f64) {
    let mut v = 0.0;
    while v <= top + step / 2.0 {
        let yy = y_at(v, top);
        let _ = writeln!(
            out,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{yy:.1}\" y2=\"{yy:.1}\" stroke=\"#e5e5e5\"/><text x=\"{}\" y=\"{:.1}\" text-anchor=\"end\">{}</text>",
            W - RIGHT,
            LEFT - 6.0,
            yy + 4.0,
            tick_label(v)
        );
        v += step;
    }
}

fn line_chart(out: &mut String, id: &str, title: &str, unit: &str, t: &[f64], series: &[Series]) {
    let max_y = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0, f64::max);
    let (top, step) = nice(max_y);
    let (t0, t1) = (t[0], *t.last().unwrap_or(&t[0]));
    let span = (t1 - t0).max(1.0);
    let x = |v: f64| LEFT + (v - t0) / span * (W - LEFT - RIGHT);
    let y = |v: f64| y_at(v, top);
    let _ = writeln!(
        out,
        "<div class=\"chart\"><svg id=\"{id}\" viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"{}\" xmlns=\"http://www.w3.org/2000/svg\">",
        esc(title)
    );
    let _ = writeln!(
        out,
        "<text x=\"{LEFT}\" y=\"16\" style=\"font-weight:600;font-size:13px\">{}</text>",
        esc(title)
    );
    y_grid(out, top, step);
    let _ = writeln!(
        out,
        "<text x=\"12\" y=\"{:.1}\" transform=\"rotate(-90 12 {:.1})\" text-anchor=\"middle\">{}</text>",
        H / 2.0,
        H / 2.0,
        esc(unit)
    );
    x_axis(out, (t0, span), x);
    for (i, s) in series.iter().enumerate() {
        series_line(out, s, (i, series.len()), t, (&x, &y));
    }
    out.push_str("</svg></div>\n");
}

/// The time axis: about six ticks, in whole seconds, and its line.
fn x_axis(out: &mut String, (t0, span): (f64, f64), x: impl Fn(f64) -> f64) {
    let (_, xstep) = nice(span);
    let mut tv = 0.0;
    while tv <= span + 1e-9 {
        let xx = x(t0 + tv);
        let _ = writeln!(
            out,
            "<line x1=\"{xx:.1}\" x2=\"{xx:.1}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#bbb\"/><text x=\"{xx:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}s</text>",
            H - BOTTOM,
            H - BOTTOM + 4.0,
            H - BOTTOM + 16.0,
            tick_label(t0 + tv)
        );
        tv += xstep.max(1.0);
    }
    let _ = writeln!(
        out,
        "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{:.1}\" y2=\"{:.1}\" stroke=\"#888\"/>",
        W - RIGHT,
        H - BOTTOM,
        H - BOTTOM
    );
}

/// One series: its line (a dot when it has one point) and its legend entry, the `i`-th of
/// `n`.
fn series_line(
    out: &mut String,
    s: &Series,
    (i, n): (usize, usize),
    t: &[f64],
    (x, y): (&dyn Fn(f64) -> f64, &dyn Fn(f64) -> f64),
) {
    let points: Vec<String> = t
        .iter()
        .zip(&s.values)
        .filter(|(_, v)| v.is_finite())
        .map(|(&tt, &v)| format!("{:.1},{:.1}", x(tt), y(v)))
        .collect();
    if points.len() == 1 {
        let (px, py) = points[0].split_once(',').unwrap_or(("0", "0"));
        let _ = writeln!(
            out,
            "<circle cx=\"{px}\" cy=\"{py}\" r=\"3\" fill=\"{}\"/>",
            s.color
        );
    }
    let _ = writeln!(
        out,
        "<polyline class=\"series\" data-label=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"2\" points=\"{}\"/>",
        esc(s.label),
        s.color,
        points.join(" ")
    );
    let lx = W - RIGHT - 110.0 * (n - i) as f64;
    let _ = writeln!(
        out,
        "<rect x=\"{lx:.0}\" y=\"7\" width=\"14\" height=\"4\" fill=\"{}\"/><text x=\"{:.0}\" y=\"13\">{}</text>",
        s.color,
        lx + 18.0,
        esc(s.label)
    );
}

/// The aggregate's response-time distribution as bars: requests per latency bucket.
fn distribution(out: &mut String, total: &RowStats) {
    out.push_str("<h2>Response-time distribution</h2>\n");
    let buckets = &total.distribution;
    if buckets.is_empty() {
        out.push_str("<p>No response times were recorded.</p>\n");
        return;
    }
    let most = buckets.iter().map(|b| b.1).max().unwrap_or(1).max(1) as f64;
    let (top, step) = nice(most);
    let n = buckets.len() as f64;
    let slot = (W - LEFT - RIGHT) / n;
    let y = |v: f64| y_at(v, top);
    let _ = writeln!(
        out,
        "<div class=\"chart\"><svg id=\"chart-distribution\" viewBox=\"0 0 {W} {H}\" width=\"100%\" role=\"img\" aria-label=\"response-time distribution\" xmlns=\"http://www.w3.org/2000/svg\">\n<text x=\"{LEFT}\" y=\"16\" style=\"font-weight:600;font-size:13px\">Requests by response time (all endpoints; each bar up to the time under it)</text>"
    );
    y_grid(out, top, step);
    for (i, (upper, count)) in buckets.iter().enumerate() {
        let x0 = LEFT + i as f64 * slot + slot * 0.1;
        let yy = y(*count as f64);
        let _ = writeln!(
            out,
            "<rect class=\"bar\" x=\"{x0:.1}\" y=\"{yy:.1}\" width=\"{:.1}\" height=\"{:.1}\" fill=\"{BLUE}\"><title>{count} requests up to {} ms</title></rect><text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{} ms</text>",
            slot * 0.8,
            (H - BOTTOM - yy).max(0.0),
            ms(*upper),
            x0 + slot * 0.4,
            H - BOTTOM + 16.0,
            ms(*upper)
        );
    }
    out.push_str("</svg></div>\n");
}

fn failures(out: &mut String, snap: &Snapshot) {
    out.push_str("<h2>Failures by cause</h2>\n");
    if snap.failures.is_empty() {
        out.push_str("<p>No request failed.</p>\n");
        return;
    }
    out.push_str("<table id=\"failures\"><tr><th class=\"l\">Endpoint</th><th class=\"l\">Cause</th><th>Count</th><th class=\"l\">Latest message</th></tr>\n");
    let mut groups: Vec<_> = snap.failures.iter().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    for f in groups {
        let _ = writeln!(
            out,
            "<tr><td class=\"l\">{} {}</td><td class=\"l\">{} ({})</td><td>{}</td><td class=\"l\">{}</td></tr>",
            esc(&f.method),
            esc(crate::stats::short_name(&f.name, &f.method)),
            esc(&f.kind.code()),
            esc(&f.kind.to_string()),
            f.count,
            esc(&f.message)
        );
    }
    out.push_str("</table>\n");
}

fn thresholds(out: &mut String, verdicts: &[Verdict]) {
    out.push_str("<h2>Thresholds</h2>\n");
    if verdicts.is_empty() {
        out.push_str("<p>The scenario sets no thresholds.</p>\n");
        return;
    }
    out.push_str("<table id=\"thresholds\"><tr><th class=\"l\">Result</th><th class=\"l\">Threshold</th><th class=\"l\">Scope</th><th>Measured</th></tr>\n");
    for v in verdicts {
        let (class, word) = if v.passed {
            ("pass", "pass")
        } else {
            ("fail", "FAIL")
        };
        let measured = v
            .actual
            .map_or("no requests".to_string(), |a| format!("{a:.3}"));
        let _ = writeln!(
            out,
            "<tr><td class=\"l {class}\">{word}</td><td class=\"l\">{}</td><td class=\"l\">{}</td><td>{}</td></tr>",
            esc(&v.threshold),
            esc(&v.scope),
            measured
        );
    }
    out.push_str("</table>\n");
}

fn capacity_steps(out: &mut String, c: &Outcome) {
    let _ = writeln!(
        out,
        "<h2>Capacity search</h2>\n<p>SLO: {}. {}</p>",
        esc(&c.slo.join(", ")),
        match (c.max_users, c.max_rps) {
            (Some(u), Some(r)) => format!("Capacity: {u} users, {} req/s.", rate(r)),
            _ => "No step met the SLO.".to_string(),
        }
    );
    out.push_str("<table id=\"capacity\"><tr><th>Users</th><th>req/s</th><th>p50 ms</th><th>p95 ms</th><th>p99 ms</th><th>fail</th><th class=\"l\">SLO</th></tr>\n");
    for s in &c.steps {
        let (class, word) = if s.passed {
            ("pass", "met")
        } else {
            ("fail", "broken")
        };
        let _ = writeln!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{}</td><td>{:.1}%</td><td class=\"l {class}\">{word}</td></tr>",
            s.users,
            rate(s.rps),
            ms(s.p50_ms),
            ms(s.p95_ms),
            ms(s.p99_ms),
            s.fail_ratio * 100.0
        );
    }
    out.push_str("</table>\n");
    for note in c.uncertain.iter().chain(&c.notes) {
        let _ = writeln!(out, "<p class=\"note\">{}</p>", esc(note));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn axes_end_on_round_numbers() {
        assert_eq!(nice(87.0), (100.0, 25.0));
        assert_eq!(nice(4.2), (6.0, 2.0));
        assert_eq!(nice(0.0), (1.0, 0.25));
    }

    /// The history's last point, cut short by the stop (0.4 s of a second, the users
    /// gone), is not drawn: it showed a ramp-down that did not happen.
    #[test]
    fn a_last_second_cut_short_by_the_stop_is_not_drawn() {
        let point = |t: f64, users: u32| Point {
            t,
            rps: 10.0,
            users,
            ..Point::default()
        };
        let snap = Snapshot {
            history: std::sync::Arc::new(vec![point(0.0, 5), point(1.0, 5), point(2.0, 0)]),
            history_step: 1,
            elapsed: std::time::Duration::from_millis(2400),
            ..Snapshot::default()
        };
        assert_eq!(whole_steps(&snap).len(), 2);
        let full = Snapshot {
            elapsed: std::time::Duration::from_secs(3),
            ..snap
        };
        assert_eq!(whole_steps(&full).len(), 3);
    }

    #[test]
    fn text_is_escaped() {
        assert_eq!(
            esc("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&apos;"
        );
    }
}
