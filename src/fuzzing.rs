//! Entry points for the `cargo fuzz` targets in `fuzz/` (and their regression tests): each
//! takes arbitrary bytes and must return without a panic, a hang or an unbounded
//! allocation. Not part of swarm's interface.

use crate::engine::h1::H1;
use crate::engine::http::Capture;
use crate::scenario::template::{Context, Escape, Template};
use std::io;
use std::pin::Pin;
use std::task::{Context as TaskContext, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// The scenario loader: TOML text to a validated plan (or a located error).
pub fn scenario(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    if let Err(e) = crate::scenario::Plan::parse(text, "fuzz.toml") {
        // Every error renders, and points inside the text.
        let _ = e.to_string();
        assert!(e.line <= text.lines().count() + 1, "{e}");
    }
}

/// The saved-run reader (`swarm report`, `swarm compare`), then every report of what it
/// read, and its comparison with itself.
pub fn saved_run(data: &[u8]) {
    let Ok(run) = crate::report::saved::parse(data, "fuzz.log") else {
        return;
    };
    let about = crate::report::About {
        name: run.name.as_deref(),
        host: &run.host,
        started: run.started(),
        scenario: &run.scenario,
        command: "swarm report fuzz.log",
    };
    let snap = &run.stats;
    for width in [40, 80, 200] {
        let _ = crate::report::text::render(snap, "fuzz", width);
        let _ = crate::report::text::thresholds(&run.verdicts, width);
        let _ = crate::compare::table(snap, snap, &[], width);
    }
    let _ = crate::report::json::to_json(snap, about.name, about.host, &run.verdicts);
    let _ = crate::report::html::render(&about, snap, &run.verdicts, None);
    let _ = crate::report::junit::render(snap, "fuzz", &run.verdicts, "1970-01-01T00:00:00Z");
    let _ = crate::report::csv::stats_csv(snap);
    let _ = crate::report::csv::failures_csv(snap, about.started);
    let _ = crate::report::prometheus::render(snap);
    let _ = crate::headless::progress_line(snap);
}

struct Fixed(fastrand::Rng);

impl Context for Fixed {
    fn user_id(&self) -> u64 {
        7
    }
    fn next_seq(&mut self) -> u64 {
        1
    }
    fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.0
    }
    fn var(&self, name: &str) -> Option<&str> {
        name.len().is_multiple_of(2).then_some("v\"\\\n%")
    }
}

/// The template engine: parse with every escape, then render.
pub fn template(data: &[u8]) {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    for escape in [Escape::None, Escape::Json, Escape::Form, Escape::Path] {
        match Template::parse(text, escape, &|n| (n.len() < 3).then(|| n.to_string())) {
            Ok(t) => {
                let _ = t.render_string(&mut Fixed(fastrand::Rng::with_seed(1)));
            }
            Err(e) => assert!(e.offset <= text.len(), "offset {} past the text", e.offset),
        }
    }
}

/// A server's bytes, handed out in pieces of a size the input chooses; what is written
/// is dropped.
struct Scripted<'a> {
    data: &'a [u8],
    piece: usize,
}

impl AsyncRead for Scripted<'_> {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let n = self.data.len().min(self.piece).min(buf.remaining());
        buf.put_slice(&self.data[..n]);
        self.data = &self.data[n..];
        Poll::Ready(Ok(()))
    }
}

impl AsyncWrite for Scripted<'_> {
    fn poll_write(
        self: Pin<&mut Self>,
        _: &mut TaskContext<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Poll::Ready(Ok(buf.len()))
    }
    fn poll_flush(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
    fn poll_shutdown(self: Pin<&mut Self>, _: &mut TaskContext<'_>) -> Poll<io::Result<()>> {
        Poll::Ready(Ok(()))
    }
}

/// The event-stream reader of streamed endpoints: the first byte picks the format (SSE,
/// lines, chunks), whether events carry tokens and whether the stream has a done
/// event; the second the size of the pieces the rest arrives in. Every figure it gives
/// stays within what arrived.
pub fn event_stream(data: &[u8]) {
    use crate::engine::stream::StreamRead;
    use crate::scenario::{StreamKind, StreamSpec};
    let [first, piece, rest @ ..] = data else {
        return;
    };
    let kind = match first % 3 {
        0 => StreamKind::Sse,
        1 => StreamKind::Lines,
        _ => StreamKind::Chunks,
    };
    let spec = StreamSpec {
        kind,
        tokens: (first & 0x10 != 0).then(|| "/t".to_string()),
        done: (first & 0x20 != 0).then(|| "[DONE]".to_string()),
        max: None,
    };
    let start = std::time::Instant::now();
    let mut read = StreamRead::new(std::sync::Arc::new(spec), first & 0x40 != 0, start);
    let mut at = start;
    for chunk in rest.chunks(usize::from(*piece) + 1) {
        at += std::time::Duration::from_micros(u64::from(chunk[0]));
        read.add(chunk, at);
    }
    read.finish(at);
    let sample = read.sample(first & 0x80 != 0, None);
    let arrived = rest.len() as u64;
    assert!(sample.events <= arrived.max(1) && sample.tokens.unwrap_or(0) <= sample.events);
    assert!(read.last_data().len() <= rest.len());
    assert!(read.text().map_or(0, str::len) <= rest.len());
}

/// The HTTP/1 response reader: the first byte picks the read size and whether the
/// request was HEAD; the rest is what the server sent. Up to three exchanges run on the
/// connection while it stays reusable.
pub fn h1_response(data: &[u8]) {
    let Some((&first, rest)) = data.split_first() else {
        return;
    };
    let stream = Scripted {
        data: rest,
        piece: usize::from(first & 0x7f) + 1,
    };
    let head = first & 0x80 != 0;
    let keep = Capture {
        stream: None,
        progress: None,
        body: true,
        redirects: true,
        headers: true,
        cookies: true,
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime without I/O drivers builds");
    runtime.block_on(async {
        let mut conn = H1::new(stream);
        for _ in 0..3 {
            let request = if head {
                &b"HEAD / HTTP/1.1\r\n\r\n"[..]
            } else {
                b"GET / HTTP/1.1\r\n\r\n"
            };
            match conn.exchange(request, head, keep).await {
                Ok(r) => {
                    let kept = r.body.as_ref().map_or(0, |b| b.len() as u64);
                    assert!(kept <= r.bytes, "kept {kept} of {} body bytes", r.bytes);
                }
                Err((e, _)) => {
                    let _ = e.to_string();
                    break;
                }
            }
            if !conn.reusable() {
                break;
            }
        }
    });
}

#[cfg(test)]
mod tests {
    /// The event-stream reader on random SSE-shaped bytes (cargo fuzz goes further).
    #[test]
    fn event_streams_of_random_bytes_stay_within_what_arrived() {
        let mut rng = fastrand::Rng::with_seed(24);
        let alphabet: &[&[u8]] = &[
            b"data:",
            b"data: ",
            b"\n",
            b"\r\n",
            b"\r",
            b":",
            b"{\"t\":\"x\"}",
            b"[DONE]",
            b"id: 1",
            b"event: e",
            b" ",
            b"\xff",
        ];
        for _ in 0..3000 {
            let mut input = vec![rng.u8(..), rng.u8(..)];
            for _ in 0..rng.usize(0..60) {
                input.extend_from_slice(alphabet[rng.usize(..alphabet.len())]);
            }
            super::event_stream(&input);
        }
    }

    /// Inputs the fuzz targets found, or that were written to probe them, as regression
    /// tests (`fuzz/regressions/<target>/`).
    #[test]
    fn fuzz_regressions_still_pass() {
        let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions");
        let mut ran = 0;
        for (target, run) in [
            ("scenario", super::scenario as fn(&[u8])),
            ("template", super::template),
            ("h1_response", super::h1_response),
            ("saved_run", super::saved_run),
            ("event_stream", super::event_stream),
        ] {
            let Ok(entries) = std::fs::read_dir(dir.join(target)) else {
                continue;
            };
            for entry in entries.flatten() {
                run(&std::fs::read(entry.path()).unwrap());
                ran += 1;
            }
        }
        assert!(ran > 0, "no regression inputs under {}", dir.display());
    }

    /// Every number of a real saved run's summary set, one at a time, to a value no run
    /// measures: `swarm report` and `swarm compare` refuse or render it, never panic.
    #[test]
    fn a_saved_run_with_any_number_at_an_extreme_does_not_panic() {
        let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("fuzz/regressions/saved_run/demo.log");
        let text = std::fs::read_to_string(path).unwrap();
        let (log, summary) = text.trim_end().rsplit_once('\n').unwrap();
        let json = summary.strip_prefix("#swarm-summary ").unwrap();
        let doc: serde_json::Value = serde_json::from_str(json).unwrap();
        let mut places = Vec::new();
        numbers(&doc, String::new(), &mut places);
        assert!(places.len() > 100, "{} numbers", places.len());
        for place in &places {
            for extreme in [1e308, -1e308, 1.8e19, -1.0, 4_294_967_296.0] {
                let mut doc = doc.clone();
                *doc.pointer_mut(place).unwrap() = serde_json::json!(extreme);
                super::saved_run(format!("{log}\n#swarm-summary {doc}\n").as_bytes());
            }
        }
    }

    fn numbers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
        match v {
            serde_json::Value::Number(_) => out.push(at),
            serde_json::Value::Array(items) => {
                for (i, item) in items.iter().enumerate() {
                    numbers(item, format!("{at}/{i}"), out);
                }
            }
            serde_json::Value::Object(fields) => {
                for (k, item) in fields {
                    numbers(item, format!("{at}/{k}"), out);
                }
            }
            _ => {}
        }
    }
}
