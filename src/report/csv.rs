//! `--csv PREFIX`: Locust's four CSV files, with its headers, column order, units (ms) and
//! row conventions, so scripts and dashboards made for Locust read swarm's as they are.
//!
//! - `PREFIX_stats.csv`: a row per endpoint (sorted by name, then method, as Locust sorts),
//!   then `Aggregated` with an empty Type; percentiles are whole milliseconds, `N/A` for a
//!   row without requests. Rewritten (atomically) as the run goes on.
//! - `PREFIX_stats_history.csv`: appended once a second while the run goes on (so a crash
//!   still leaves the history so far): the aggregate only, or every row first with
//!   `--csv-full-history`.
//! - `PREFIX_failures.csv`: Method, Name, Error, Occurrences, First Seen, Last Seen (UTC).
//! - `PREFIX_exceptions.csv`: the header only; swarm has no user code that raises.
//! - `PREFIX_streams.csv` (swarm's own, only when an endpoint is streamed): a row per
//!   streamed endpoint and `Aggregated`: streams, incomplete ones, events, tokens, their
//!   rates, and TTFT, ITL and TPOT at 50, 90, 95, 99 and 100 % in ms (three decimals).
//! - `PREFIX_websocket.csv` (swarm's own, only with WebSocket steps): a row per step and
//!   `Aggregated`: sockets opened, closed and open, messages and bytes each way, skipped.
//!
//! The figures are the snapshot's, the same as the JSON report's.

use crate::stats::{FailureGroup, PERCENTILES, RowStats, Snapshot, StreamStats};
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

const PERCENTILE_COLUMNS: &str = "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%";

/// Locust's `_stats.csv` header.
fn stats_header() -> String {
    format!(
        "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,{PERCENTILE_COLUMNS}"
    )
}

/// Locust's `_stats_history.csv` header.
fn history_header() -> String {
    format!(
        "Timestamp,User Count,Type,Name,Requests/s,Failures/s,{PERCENTILE_COLUMNS},Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size"
    )
}

pub const FAILURES_HEADER: &str = "Method,Name,Error,Occurrences,First Seen,Last Seen";
const EXCEPTIONS_HEADER: &str = "Count,Message,Traceback,Nodes";

/// Line ends as Python's csv module writes them (Locust's files end their lines so).
const EOL: &str = "\r\n";

/// The four file names for a prefix.
pub fn paths(prefix: &Path) -> [PathBuf; 4] {
    ["stats", "stats_history", "failures", "exceptions"].map(|kind| {
        let mut name = prefix.as_os_str().to_owned();
        name.push(format!("_{kind}.csv"));
        PathBuf::from(name)
    })
}

/// `PREFIX_streams.csv`, written beside Locust's four when an endpoint is streamed.
pub fn streams_path(prefix: &Path) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push("_streams.csv");
    PathBuf::from(name)
}

/// `PREFIX_websocket.csv`, written beside Locust's four when a step is a WebSocket one.
pub fn websocket_path(prefix: &Path) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push("_websocket.csv");
    PathBuf::from(name)
}

/// The `_websocket.csv` text, None when no row is a WebSocket step.
pub(crate) fn websocket_csv(snap: &Snapshot) -> Option<String> {
    let mut out = "Type,Name,Opened,Closed,Open,Sent,Received,Sent/s,Received/s,Bytes Sent,Bytes Received,Unmatched".to_string() + EOL;
    let mut any = false;
    for r in rows_in_order(snap) {
        let Some(w) = &r.ws else { continue };
        any = true;
        let fields = [
            field(&r.method),
            field(&r.name),
            w.opened.to_string(),
            w.closed.to_string(),
            w.open.to_string(),
            w.sent.to_string(),
            w.received.to_string(),
            num(w.sent_per_s),
            num(w.received_per_s),
            w.bytes_sent.to_string(),
            w.bytes_received.to_string(),
            w.unmatched.to_string(),
        ];
        out += &fields.join(",");
        out += EOL;
    }
    any.then_some(out)
}

/// The percentiles the streams file gives of TTFT, ITL and TPOT.
const STREAM_PERCENTILES: [(f64, &str); 5] = [
    (0.5, "50%"),
    (0.9, "90%"),
    (0.95, "95%"),
    (0.99, "99%"),
    (1.0, "100%"),
];

/// The `_streams.csv` text, None when no row was streamed.
pub(crate) fn streams_csv(snap: &Snapshot) -> Option<String> {
    let mut header = "Type,Name,Streams,Incomplete,Events,Tokens,Events/s,Tokens/s".to_string();
    for time in ["TTFT", "ITL", "TPOT"] {
        for (_, label) in STREAM_PERCENTILES {
            header += &format!(",{time} {label}");
        }
    }
    let mut out = header + EOL;
    let mut any = false;
    for r in rows_in_order(snap) {
        let Some(st) = &r.stream else { continue };
        any = true;
        let mut fields = vec![
            field(&r.method),
            field(&r.name),
            st.streams.to_string(),
            st.incomplete.to_string(),
            st.events.to_string(),
            st.tokens.map_or("N/A".into(), |t| t.to_string()),
            num(st.events_per_s),
            st.tokens.map_or("N/A".into(), |_| num(st.tokens_per_s)),
        ];
        let times = [
            (st.ttft_count > 0).then_some(&st.ttft_ms),
            (st.itl_count > 0).then_some(&st.itl_ms),
            st.tpot_ms.as_ref(),
        ];
        for values in times {
            for (q, _) in STREAM_PERCENTILES {
                fields.push(
                    values
                        .and_then(|v| StreamStats::at(v, q))
                        .map_or("N/A".into(), num),
                );
            }
        }
        out += &fields.join(",");
        out += EOL;
    }
    any.then_some(out)
}

/// The marker beside the CSV files while their run goes on: `PREFIX.partial`. The files
/// keep Locust's names (and grow as Locust's do); the marker is removed only after the
/// final figures are written, so a run killed midway leaves it, and a script tells a
/// finished run's files from a crashed one's by its absence.
fn partial_marker(prefix: &Path) -> PathBuf {
    let mut name = prefix.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Writes the CSV files of one run as it goes on.
pub struct CsvReport {
    prefix: PathBuf,
    full_history: bool,
    history: BufWriter<File>,
    /// Wall-clock time of the run's start: failure times are offsets from it.
    started: SystemTime,
    /// The last second a history row was written for.
    last_second: Option<u64>,
}

impl CsvReport {
    /// Creates the files (headers only) at the start of a run.
    pub fn create(prefix: &Path, full_history: bool) -> Result<CsvReport, String> {
        Self::create_at(prefix, full_history, SystemTime::now())
    }

    /// The same, for a run that started at `started` (a saved run, rendered later).
    pub(crate) fn create_at(
        prefix: &Path,
        full_history: bool,
        started: SystemTime,
    ) -> Result<CsvReport, String> {
        let [stats, history, failures, exceptions] = paths(prefix);
        let fail = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
        let marker = partial_marker(prefix);
        let note = format!(
            "swarm (pid {}) is writing {}_*.csv; they hold mid-run figures until this file is removed at the end of the run. If the run is gone and this file is still here, it did not finish.\n",
            std::process::id(),
            prefix.display()
        );
        crate::fsutil::write_atomic(&marker, note.as_bytes()).map_err(|e| fail(&marker, e))?;
        let mut file = File::create(&history).map_err(|e| fail(&history, e))?;
        write!(file, "{}{EOL}", history_header()).map_err(|e| fail(&history, e))?;
        for (path, header) in [
            (&stats, stats_header()),
            (&failures, FAILURES_HEADER.to_string()),
            (&exceptions, EXCEPTIONS_HEADER.to_string()),
        ] {
            crate::fsutil::write_atomic(path, format!("{header}{EOL}").as_bytes())
                .map_err(|e| fail(path, e))?;
        }
        Ok(CsvReport {
            prefix: prefix.to_path_buf(),
            full_history,
            history: BufWriter::new(file),
            started,
            last_second: None,
        })
    }

    /// Called with each new snapshot: at most once a second, rewrites the stats and
    /// failures files and appends the history rows.
    pub fn update(&mut self, snap: &Snapshot) -> Result<(), String> {
        let now = SystemTime::now();
        let second = unix_seconds(now);
        if self.last_second == Some(second) {
            return Ok(());
        }
        self.last_second = Some(second);
        self.write(snap, second)
    }

    /// The last word at the end of the run: every file as the final snapshot says.
    pub fn finish(&mut self, snap: &Snapshot) -> Result<(), String> {
        // The run's end, not the time this runs (swarm report writes a saved run's later).
        let second = unix_seconds(self.started + snap.elapsed);
        if self.last_second.is_some() {
            // The history's last row stays the last full second: a row at the stop reads
            // its current rates as 0 (the users are gone), which is not how it ended.
            self.write_files(snap)?;
        } else {
            self.write(snap, second)?;
        }
        let marker = partial_marker(&self.prefix);
        std::fs::remove_file(&marker)
            .map_err(|e| format!("cannot remove {}: {e}", marker.display()))
    }

    /// The stats and failures files, rewritten whole.
    fn write_files(&self, snap: &Snapshot) -> Result<(), String> {
        let [stats, _, failures, _] = paths(&self.prefix);
        let fail = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
        crate::fsutil::write_atomic(&stats, stats_csv(snap).as_bytes())
            .map_err(|e| fail(&stats, e))?;
        let extra = [
            (streams_path(&self.prefix), streams_csv(snap)),
            (websocket_path(&self.prefix), websocket_csv(snap)),
        ];
        for (path, text) in extra {
            if let Some(text) = text {
                crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| fail(&path, e))?;
            }
        }
        crate::fsutil::write_atomic(&failures, failures_csv(snap, self.started).as_bytes())
            .map_err(|e| fail(&failures, e))
    }

    fn write(&mut self, snap: &Snapshot, second: u64) -> Result<(), String> {
        self.write_files(snap)?;
        let [_, history, _, _] = paths(&self.prefix);
        let fail = |p: &Path, e: std::io::Error| format!("cannot write {}: {e}", p.display());
        let rows = history_rows(snap, second, self.full_history);
        self.history
            .write_all(rows.as_bytes())
            .and_then(|()| self.history.flush())
            .map_err(|e| fail(&history, e))
    }
}

fn unix_seconds(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).unwrap_or_default().as_secs()
}

/// Endpoint rows in Locust's order (name, then method), then the aggregate.
fn rows_in_order(snap: &Snapshot) -> Vec<&RowStats> {
    let mut rows: Vec<&RowStats> = snap.rows.iter().collect();
    rows.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
    rows.push(&snap.total);
    rows
}

/// The `_stats.csv` text.
pub(crate) fn stats_csv(snap: &Snapshot) -> String {
    let mut out = stats_header() + EOL;
    for r in rows_in_order(snap) {
        let mut fields = vec![field(&r.method), field(&r.name)];
        fields.extend(totals(r));
        fields.push(num(r.total_rps));
        fields.push(num(r.total_fps));
        fields.extend(percentiles(r));
        out += &fields.join(",");
        out += EOL;
    }
    out
}

/// History rows for one second: every endpoint first with `full`, the aggregate last.
fn history_rows(snap: &Snapshot, second: u64, full: bool) -> String {
    let rows = rows_in_order(snap);
    let chosen = if full {
        &rows[..]
    } else {
        &rows[rows.len() - 1..]
    };
    let mut out = String::new();
    for r in chosen {
        let mut fields = vec![
            second.to_string(),
            snap.users.to_string(),
            field(&r.method),
            field(&r.name),
            format!("{:.6}", r.current_rps),
            format!("{:.6}", r.current_fps),
        ];
        fields.extend(percentiles(r));
        fields.extend(totals(r));
        out += &fields.join(",");
        out += EOL;
    }
    out
}

/// Request count, failure count, median (whole ms), average, min, max, average content
/// size: the figures both the stats and the history files carry.
fn totals(r: &RowStats) -> [String; 7] {
    let content = if r.requests > 0 {
        r.bytes as f64 / r.requests as f64
    } else {
        0.0
    };
    [
        r.requests.to_string(),
        r.failures.to_string(),
        locust_round(r.median_ms()).to_string(),
        num(r.avg_ms),
        num(r.min_ms),
        num(r.max_ms),
        num(content),
    ]
}

/// Percentiles as Locust writes them: its response-time buckets (whole ms below 100 ms,
/// tens below 1 s, hundreds below 10 s, thousands above, rounded half to even as
/// Python's `round`); N/A without requests.
fn percentiles(r: &RowStats) -> Vec<String> {
    if r.requests == 0 {
        return vec!["N/A".into(); PERCENTILES.len()];
    }
    r.percentiles_ms
        .iter()
        .map(|v| locust_round(*v).to_string())
        .collect()
}

/// Locust's rounding of a response time (ms) to the key of its bucket.
pub fn locust_round(ms: f64) -> u64 {
    let ms = ms.max(0.0);
    let unit = match ms {
        m if m < 100.0 => 1.0,
        m if m < 1000.0 => 10.0,
        m if m < 10_000.0 => 100.0,
        _ => 1000.0,
    };
    ((ms / unit).round_ties_even() * unit) as u64
}

/// The `_failures.csv` text; `started` turns offsets into UTC times.
pub(crate) fn failures_csv(snap: &Snapshot, started: SystemTime) -> String {
    let mut groups: Vec<&FailureGroup> = snap.failures.iter().collect();
    groups.sort_by(|a, b| (&a.name, &a.method).cmp(&(&b.name, &b.method)));
    let mut out = format!("{FAILURES_HEADER}{EOL}");
    for g in groups {
        let error = if g.message.is_empty() {
            g.kind.to_string()
        } else {
            format!("{}: {}", g.kind, g.message)
        };
        let fields = [
            field(&g.method),
            field(&g.name),
            field(&error),
            g.count.to_string(),
            utc(started + g.first_seen),
            utc(started + g.last_seen),
        ];
        out += &fields.join(",");
        out += EOL;
    }
    out
}

/// `2026-12-01T10:44:12Z`, as Locust writes its failure times.
pub(crate) fn utc(t: SystemTime) -> String {
    let secs = t
        .duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs();
    match cookie::time::OffsetDateTime::from_unix_timestamp(secs as i64) {
        Ok(d) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            d.year(),
            u8::from(d.month()),
            d.day(),
            d.hour(),
            d.minute(),
            d.second()
        ),
        Err(_) => String::new(),
    }
}

/// A number as Locust's CSV holds it: up to three decimals (µs), no trailing zeros.
fn num(v: f64) -> String {
    let rounded = (v * 1000.0).round() / 1000.0;
    format!("{rounded}")
}

/// A CSV field, quoted when it holds a comma, a quote or a line break (RFC 4180, as
/// Python's csv module writes).
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers_are_locusts() {
        assert_eq!(
            stats_header(),
            "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"
        );
        assert_eq!(
            history_header(),
            "Timestamp,User Count,Type,Name,Requests/s,Failures/s,50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%,Total Request Count,Total Failure Count,Total Median Response Time,Total Average Response Time,Total Min Response Time,Total Max Response Time,Total Average Content Size"
        );
    }

    #[test]
    fn rows_without_requests_say_n_a_and_fields_are_quoted() {
        let mut snap = Snapshot::default();
        snap.rows.push(RowStats {
            name: "a, \"b\"".into(),
            method: "GET".into(),
            ..RowStats::default()
        });
        snap.total.name = "Aggregated".into();
        let text = stats_csv(&snap);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(
            lines[1],
            "GET,\"a, \"\"b\"\"\",0,0,0,0,0,0,0,0,0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A"
        );
        assert!(lines[2].starts_with(",Aggregated,0,0,"));
        assert_eq!(
            utc(UNIX_EPOCH + Duration::from_secs(1_764_585_852)),
            "2025-12-01T10:44:12Z"
        );
    }
}
