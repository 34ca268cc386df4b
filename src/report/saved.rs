//! `--save-run FILE`: a run kept for later, as one text file that HdrHistogram's own tools
//! read as they are.
//!
//! The file is an HdrHistogram interval log (the format of Java's `HistogramLogWriter`):
//! a `#[StartTime: ...]` and `#[BaseTime: ...]` header (the run's start, seconds since the
//! epoch), then one line per second of the run: the aggregate's histogram untagged, and one
//! tagged line per endpoint row (`Tag=GET%20/tests,...`: the row's method and short name,
//! with `%`, `,`, spaces and control characters percent-encoded, as tags cannot hold them).
//! A streamed row adds two more lines a second: `Tag=ttft:GET%20/chat` (times to first
//! token) and `Tag=itl:GET%20/chat` (inter-token gaps), in µs too.
//! Values are response times in microseconds (`#[MaxValueDivisor: 1000.0]` shows the
//! interval maxima in milliseconds). Comment lines carry what swarm needs besides: the
//! last line, `#swarm-summary {JSON}`, holds the scenario text that ran, the final
//! statistics and the threshold verdicts, from which `swarm report` and `swarm compare`
//! work.
//!
//! While the run goes on the log is written to `FILE.partial`, a second at a time, so a
//! crash leaves the intervals so far; at the end the summary is appended and the file is
//! renamed to FILE.

use crate::scenario::threshold::Verdict;
use crate::stats::{Interval, Snapshot};
use hdrhistogram::serialization::V2DeflateSerializer;
use hdrhistogram::serialization::interval_log::{IntervalLogWriter, IntervalLogWriterBuilder, Tag};
use serde::{Deserialize, Serialize};
use std::io::{BufRead, Seek, Write};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The version of the summary's layout; a newer swarm reads older ones.
pub const FORMAT: u32 = 1;

/// The first line of every saved run.
const MAGIC: &str = "#[swarm saved run: an HdrHistogram interval log of response times in µs, one line a second per endpoint (tagged) and for all (untagged)]";

/// The comment that holds the summary.
const SUMMARY: &str = "swarm-summary ";

/// What the last line of a saved run holds.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SavedRun {
    pub format: u32,
    /// The swarm that ran it (`swarm --version`).
    pub swarm: String,
    pub name: Option<String>,
    pub host: String,
    /// The run's start, seconds since the epoch.
    pub started_unix: f64,
    /// The scenario text that ran, as written (`{{env.*}}` unexpanded).
    pub scenario: String,
    pub verdicts: Vec<Verdict>,
    /// Each endpoint row's tag in the interval log.
    pub tags: Vec<RowTag>,
    /// The final statistics.
    pub stats: Snapshot,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct RowTag {
    pub tag: String,
    pub method: String,
    pub name: String,
}

impl SavedRun {
    /// What `--save-run` keeps of a finished run.
    pub fn of(
        plan: &crate::scenario::Plan,
        last: &Snapshot,
        verdicts: &[Verdict],
        started: SystemTime,
        scenario: &str,
    ) -> SavedRun {
        SavedRun {
            format: FORMAT,
            swarm: crate::VERSION.to_string(),
            name: plan.name.clone(),
            host: plan.host.clone(),
            started_unix: unix(started),
            scenario: scenario.to_string(),
            verdicts: verdicts.to_vec(),
            tags: last
                .rows
                .iter()
                .map(|r| RowTag {
                    tag: tag_for(&r.method, &r.name),
                    method: r.method.clone(),
                    name: r.name.clone(),
                })
                .collect(),
            stats: last.clone(),
        }
    }

    pub fn started(&self) -> SystemTime {
        let secs = self.started_unix.clamp(0.0, MAX_STARTED_UNIX);
        UNIX_EPOCH + Duration::try_from_secs_f64(secs).unwrap_or_default()
    }

    /// A saved run's title line: its name and host.
    pub fn title(&self) -> String {
        format!(
            "{} ({})",
            self.name.as_deref().unwrap_or("scenario"),
            self.host
        )
    }
}

/// A row's tag: `METHOD short-name`, percent-encoded where a tag may not hold a character.
fn tag_for(method: &str, name: &str) -> String {
    let short = crate::stats::short_name(name, method);
    let text = if method.is_empty() {
        short.to_string()
    } else {
        format!("{method} {short}")
    };
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        if c == '%' || c == ',' || c.is_whitespace() || c.is_control() {
            let mut buf = [0u8; 4];
            for b in c.encode_utf8(&mut buf).bytes() {
                out.push_str(&format!("%{b:02X}"));
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// What the writer thread is told.
enum LogEvent {
    Interval(Interval),
    /// The run ended: append this summary and put the file in place.
    Finish(Box<SavedRun>),
}

/// The partial file a run writes while it goes on.
fn partial_path(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".partial");
    PathBuf::from(name)
}

/// Writes a saved run on a thread of its own (encoding and compressing histograms is not
/// the engine's work).
pub struct RunLog {
    events: std::sync::mpsc::Sender<LogEvent>,
    thread: std::thread::JoinHandle<Result<(), String>>,
}

impl RunLog {
    /// Creates `FILE.partial` now (so a path that cannot be written fails before the run)
    /// and starts the writer; `started` is the run's start when known (else the first
    /// second tells).
    pub fn create(path: &Path, started: Option<SystemTime>) -> Result<RunLog, String> {
        let partial = partial_path(path);
        let file = std::fs::File::create(&partial)
            .map_err(|e| format!("cannot write {}: {e}", partial.display()))?;
        let (events, rx) = std::sync::mpsc::channel();
        let path = path.to_path_buf();
        let thread = std::thread::Builder::new()
            .name("swarm-save-run".into())
            .spawn(move || write_log(file, started, (&partial, &path), &rx))
            .map_err(|e| format!("cannot start the saved run's writer: {e}"))?;
        Ok(RunLog { events, thread })
    }

    pub fn interval(&self, i: Interval) {
        let _ = self.events.send(LogEvent::Interval(i));
    }

    /// Forwards the engine's seconds to the writer until the engine drops its sender.
    pub(crate) fn forward(
        &self,
        mut from: tokio::sync::mpsc::UnboundedReceiver<Interval>,
    ) -> tokio::task::JoinHandle<()> {
        let to = self.events.clone();
        tokio::spawn(async move {
            while let Some(i) = from.recv().await {
                let _ = to.send(LogEvent::Interval(i));
            }
        })
    }

    /// Nothing ran: the partial file goes.
    pub(crate) fn abandon(self, path: &Path) {
        drop(self.events);
        let _ = self.thread.join();
        let _ = std::fs::remove_file(partial_path(path));
    }

    /// Appends the summary, renames the file into place and waits for the writer.
    pub fn finish(self, run: SavedRun) -> Result<(), String> {
        let _ = self.events.send(LogEvent::Finish(Box::new(run)));
        drop(self.events);
        self.thread
            .join()
            .unwrap_or_else(|_| Err("the saved run's writer failed".into()))
    }
}

/// One second: the aggregate's line, and each row's (with a streamed row's TTFT and ITL).
fn write_interval<W: Write>(
    log: &mut IntervalLogWriter<W, V2DeflateSerializer>,
    i: &Interval,
) -> Result<
    (),
    hdrhistogram::serialization::interval_log::IntervalLogWriterError<
        hdrhistogram::serialization::V2DeflateSerializeError,
    >,
> {
    log.write_histogram(&i.total, i.start, i.length, None)?;
    for row in &i.rows {
        let tag = tag_for(&row.method, &row.name);
        log.write_histogram(&row.hist, i.start, i.length, Tag::new(&tag))?;
        for (what, hist) in row
            .stream
            .iter()
            .flat_map(|(t, g)| [("ttft", t), ("itl", g)])
        {
            let tag = format!("{what}:{tag}");
            log.write_histogram(hist, i.start, i.length, Tag::new(&tag))?;
        }
    }
    Ok(())
}

fn write_log(
    file: std::fs::File,
    started: Option<SystemTime>,
    (partial, path): (&Path, &Path),
    events: &std::sync::mpsc::Receiver<LogEvent>,
) -> Result<(), String> {
    let fail = |e: std::io::Error| format!("cannot write {}: {e}", partial.display());
    // Unbuffered: each line reaches the file as it is written, so a crash keeps the run
    // so far (a few writes a second).
    let mut out = file;
    let mut serializer = V2DeflateSerializer::new();
    let mut started = started;
    // The header is written with the first second, whose start it then knows.
    let mut log = None;
    let mut latest = Duration::ZERO;
    while let Ok(event) = events.recv() {
        match event {
            LogEvent::Interval(i) => {
                let restarted = i.start < latest;
                if restarted {
                    // The run started again (the TUI's s after a stop): the file keeps
                    // the newest run only, from its own start.
                    log = None;
                    started = None;
                    out.set_len(0).map_err(fail)?;
                    out.seek(std::io::SeekFrom::Start(0)).map_err(fail)?;
                }
                latest = i.start;
                if log.is_none() {
                    let at = *started.get_or_insert_with(|| {
                        SystemTime::now()
                            .checked_sub(i.start + i.length)
                            .unwrap_or(UNIX_EPOCH)
                    });
                    log = Some(begin(&mut out, &mut serializer, at).map_err(fail)?);
                }
                let Some(log) = log.as_mut() else { continue };
                write_interval(log, &i)
                    .map_err(|e| format!("cannot write {}: {e:?}", partial.display()))?;
            }
            LogEvent::Finish(mut run) => {
                let at = *started.get_or_insert_with(|| run.started());
                run.started_unix = unix(at);
                if log.is_none() {
                    log = Some(begin(&mut out, &mut serializer, at).map_err(fail)?);
                }
                let json = serde_json::to_string(&*run).map_err(|e| e.to_string())?;
                if let Some(log) = log.as_mut() {
                    log.write_comment(&format!("{SUMMARY}{json}"))
                        .map_err(fail)?;
                }
                drop(log);
                out.sync_all().map_err(fail)?;
                std::fs::rename(partial, path)
                    .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
                return Ok(());
            }
        }
    }
    // The run did not finish: FILE.partial keeps the intervals so far.
    Ok(())
}

/// The log's header, from the run's start.
fn begin<'a, 'b>(
    out: &'a mut std::fs::File,
    serializer: &'b mut V2DeflateSerializer,
    started: SystemTime,
) -> std::io::Result<IntervalLogWriter<'a, 'b, std::fs::File, V2DeflateSerializer>> {
    out.write_all(format!("{MAGIC}\n").as_bytes())?;
    IntervalLogWriterBuilder::new()
        .with_start_time(started)
        .with_base_time(started)
        .with_max_value_divisor(1000.0)
        .begin_log_with(out, serializer)
}

/// Seconds since the epoch.
pub fn unix(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or_default()
        .as_secs_f64()
}

/// The largest saved run `swarm report` and `swarm compare` read (a day-long run of 20
/// endpoints writes about 0.6 GB).
const MAX_SIZE: u64 = 4 << 30;

/// The longest line of a saved run (the summary holds the scenario text and the final
/// statistics; an interval line is a few hundred bytes).
const MAX_LINE: u64 = 256 << 20;

/// The latest start a saved run may claim: the last second of the year 9999.
const MAX_STARTED_UNIX: f64 = 253_402_300_799.0;

/// Reads a saved run, refusing what is not a regular file (a FIFO that would block, a
/// device such as /dev/zero that never ends) and files above `MAX_SIZE`.
pub fn read(path: &Path) -> Result<SavedRun, String> {
    let shown = path.display();
    let meta =
        crate::fsutil::regular_file(path, "give a file written by swarm run --save-run FILE")?;
    if meta.len() > MAX_SIZE {
        return Err(format!(
            "{shown} is {} bytes, above the {} GB a saved run may have",
            meta.len(),
            MAX_SIZE >> 30
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    let reader = std::io::BufReader::new(std::io::Read::take(file, MAX_SIZE));
    parse(reader, &shown.to_string())
}

/// The saved run's summary line, if it has one, after every other line was checked to
/// be a saved run's (the magic line, HdrHistogram intervals, comments).
fn summary_line(mut reader: impl std::io::BufRead, shown: &str) -> Result<Option<Vec<u8>>, String> {
    let mut line = Vec::new();
    let mut summary: Option<Vec<u8>> = None;
    let mut number = 0usize;
    loop {
        line.clear();
        // The first line is the magic one: a file of something else is refused after it.
        let most = if number == 0 {
            MAGIC.len() as u64 + 2
        } else {
            MAX_LINE + 1
        };
        let n = std::io::Read::take(&mut reader, most)
            .read_until(b'\n', &mut line)
            .map_err(|e| format!("cannot read {shown}: {e}"))?;
        if n == 0 {
            break;
        }
        number += 1;
        if number > 1 && n as u64 > MAX_LINE {
            return Err(format!(
                "{shown}: line {number} is longer than {} MB: not a saved swarm run",
                MAX_LINE >> 20
            ));
        }
        let text = line.strip_suffix(b"\n").unwrap_or(&line);
        let text = text.strip_suffix(b"\r").unwrap_or(text);
        if number == 1 {
            if text != MAGIC.as_bytes() {
                return Err(format!(
                    "{shown} is not a saved swarm run (those are written by swarm run --save-run FILE)"
                ));
            }
            continue;
        }
        if let Some(json) = text
            .strip_prefix(b"#")
            .and_then(|t| t.strip_prefix(SUMMARY.as_bytes()))
        {
            summary = Some(json.to_vec());
        } else if !is_log_line(text) {
            return Err(format!(
                "{shown}: line {number} is not a line of a saved run (an HdrHistogram interval or a comment); the file is damaged"
            ));
        }
    }
    if number == 0 {
        return Err(format!(
            "{shown} is empty, not a saved swarm run (those are written by swarm run --save-run FILE)"
        ));
    }
    Ok(summary)
}

/// Reads a saved run line by line, stopping at the first line that is not a saved run's
/// (so a large file of something else is refused after its first line, not read whole).
/// Every field of the summary is checked: the file is input swarm does not control.
pub fn parse(reader: impl std::io::BufRead, shown: &str) -> Result<SavedRun, String> {
    let summary = summary_line(reader, shown)?;
    let Some(json) = summary else {
        return Err(format!(
            "{shown} has no summary: the run that wrote it did not finish (its per-second intervals are there for HdrHistogram tools, but swarm needs the summary line)"
        ));
    };
    let run: SavedRun = serde_json::from_slice(&json)
        .map_err(|e| format!("{shown}: the summary line is damaged ({e})"))?;
    if run.format > FORMAT {
        return Err(format!(
            "{shown} was saved by a newer swarm ({}, format {}); this one reads format {FORMAT} and older",
            run.swarm, run.format
        ));
    }
    run.check()
        .map_err(|e| format!("{shown}: the summary line is damaged ({e})"))?;
    Ok(run)
}

/// A line an interval log holds: a comment or header, the column legend, an interval
/// (tagged or not), or nothing.
fn is_log_line(text: &[u8]) -> bool {
    match text.first() {
        None => true,
        Some(b'#') | Some(b'"') => true,
        Some(c) if c.is_ascii_digit() => true,
        Some(_) => text.starts_with(b"Tag="),
    }
}

impl SavedRun {
    /// The summary's figures that a report turns into a time, within what they can be
    /// (every other number renders as it is, however absurd: see the fuzzing tests).
    fn check(&self) -> Result<(), String> {
        if !(self.started_unix.is_finite() && (0.0..=MAX_STARTED_UNIX).contains(&self.started_unix))
        {
            return Err(format!(
                "started_unix {} is not a time between 1970 and 9999",
                self.started_unix
            ));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tags_hold_no_comma_or_space() {
        assert_eq!(tag_for("GET", "GET /tests"), "GET%20/tests");
        assert_eq!(tag_for("POST", "add, test"), "POST%20add%2C%20test");
        assert_eq!(tag_for("GET", "50% off"), "GET%2050%25%20off");
        assert!(Tag::new(&tag_for("GET", "a b,c\nd")).is_some());
    }
}
