//! A streamed response read as it arrives (`stream = "sse" | "lines" | "chunks"`): the body
//! is cut into events, each timed when the read that completed it returned, and events are
//! counted as tokens when `stream_tokens` points at a non-empty string in their data.
//!
//! Server-sent events follow the WHATWG format: `data:` lines (one optional space after
//! the colon) are joined with "\n" and dispatched by a blank line; comments (`:`), `event:`,
//! `id:` and `retry:` are skipped; an event without data is not dispatched. An event still
//! open when the body ends is counted (a server that omits the last blank line still sent it).

use crate::scenario::{StreamKind, StreamSpec};
use crate::stats::StreamSample;
use hdrhistogram::Histogram;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// A line (or an event's data) longer than this is cut: counted, its excess not kept.
const MAX_LINE: usize = 1 << 20;
/// The token text kept for `extract = { x = "tokens" }` is cut at this size.
const MAX_TEXT: usize = 16 << 20;
/// Gaps kept per stream before they spill into a histogram.
const GAPS: usize = 4096;

/// The state of one streamed response.
#[derive(Debug)]
pub struct StreamRead {
    spec: Arc<StreamSpec>,
    start: Instant,
    /// The line being read (SSE and lines).
    line: Vec<u8>,
    line_cut: bool,
    /// SSE: the last piece ended with a CR (an LF opening the next one ends no line).
    after_cr: bool,
    /// SSE: the first bytes were seen (a byte order mark there is skipped).
    began: bool,
    /// SSE: the data of the event being read.
    data: Vec<u8>,
    has_data: bool,
    pub events: u64,
    pub tokens: u64,
    /// The first and last token (or event).
    first: Option<Instant>,
    last: Option<Instant>,
    /// The last event of any kind (what the idle timeout runs from).
    last_event: Option<Instant>,
    /// When the `stream_done` event came.
    done_at: Option<Instant>,
    /// When the body ended.
    ended_at: Option<Instant>,
    gaps: Vec<u32>,
    more_gaps: Option<Histogram<u64>>,
    /// The last event's data (what checks and extractions read).
    last_data: Vec<u8>,
    /// The tokens' text, when an extraction takes it.
    text: Option<String>,
}

impl StreamRead {
    pub fn new(spec: Arc<StreamSpec>, keep_text: bool, start: Instant) -> Self {
        StreamRead {
            spec,
            start,
            line: Vec::new(),
            line_cut: false,
            after_cr: false,
            began: false,
            data: Vec::new(),
            has_data: false,
            events: 0,
            tokens: 0,
            first: None,
            last: None,
            last_event: None,
            done_at: None,
            ended_at: None,
            gaps: Vec::new(),
            more_gaps: None,
            last_data: Vec::new(),
            text: keep_text.then(String::new),
        }
    }

    /// A piece of the body, read at `now`.
    pub fn add(&mut self, piece: &[u8], now: Instant) {
        if self.done_at.is_some() || piece.is_empty() {
            return;
        }
        match self.spec.kind {
            StreamKind::Chunks => self.event(piece, now),
            StreamKind::Lines => {
                let mut rest = piece;
                while let Some(end) = rest.iter().position(|&b| b == b'\n') {
                    self.push_line(&rest[..end]);
                    rest = &rest[end + 1..];
                    self.take_line(now);
                    if self.done_at.is_some() {
                        return;
                    }
                }
                self.push_line(rest);
            }
            StreamKind::Sse => self.sse_piece(piece, now),
        }
    }

    /// Server-sent events end their lines with CRLF, LF or a lone CR (WHATWG); a CRLF cut
    /// between two reads is one line end. The UTF-8 byte order mark that may open the
    /// stream is not part of its first line.
    fn sse_piece(&mut self, piece: &[u8], now: Instant) {
        let mut rest = piece;
        if std::mem::take(&mut self.after_cr) {
            rest = rest.strip_prefix(b"\n").unwrap_or(rest);
        }
        if !self.began {
            self.began = true;
            rest = rest.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(rest);
        }
        while let Some(end) = rest.iter().position(|&b| b == b'\n' || b == b'\r') {
            self.push_line(&rest[..end]);
            let cr = rest[end] == b'\r';
            rest = &rest[end + 1..];
            if cr {
                match rest.first() {
                    Some(b'\n') => rest = &rest[1..],
                    None => self.after_cr = true,
                    Some(_) => {}
                }
            }
            self.take_line(now);
            if self.done_at.is_some() {
                return;
            }
        }
        self.push_line(rest);
    }

    fn push_line(&mut self, bytes: &[u8]) {
        let room = MAX_LINE.saturating_sub(self.line.len());
        self.line_cut |= bytes.len() > room;
        self.line.extend_from_slice(&bytes[..bytes.len().min(room)]);
    }

    /// A whole line has been read.
    fn take_line(&mut self, now: Instant) {
        let mut line = std::mem::take(&mut self.line);
        if line.last() == Some(&b'\r') {
            line.pop();
        }
        self.line_cut = false;
        match self.spec.kind {
            StreamKind::Lines => {
                if !line.iter().all(u8::is_ascii_whitespace) {
                    self.event(&line, now);
                }
            }
            _ => self.sse_line(&line, now),
        }
        line.clear();
        self.line = line;
    }

    fn sse_line(&mut self, line: &[u8], now: Instant) {
        if line.is_empty() {
            if self.has_data {
                let data = std::mem::take(&mut self.data);
                self.event(&data, now);
                self.data = data;
                self.data.clear();
                self.has_data = false;
            }
            return;
        }
        let (field, value) = match line.iter().position(|&b| b == b':') {
            Some(0) => return,
            Some(i) => {
                let v = &line[i + 1..];
                (&line[..i], v.strip_prefix(b" ").unwrap_or(v))
            }
            None => (line, &b""[..]),
        };
        if field != b"data" {
            return;
        }
        if self.has_data {
            self.data.push(b'\n');
        }
        let room = MAX_LINE.saturating_sub(self.data.len());
        self.data.extend_from_slice(&value[..value.len().min(room)]);
        self.has_data = true;
    }

    /// One event, with its data.
    fn event(&mut self, data: &[u8], now: Instant) {
        if let Some(done) = &self.spec.done
            && data.trim_ascii() == done.as_bytes()
        {
            self.done_at = Some(now);
            return;
        }
        self.events += 1;
        self.last_event = Some(now);
        self.last_data.clear();
        self.last_data.extend_from_slice(data);
        let spec = Arc::clone(&self.spec);
        let timed = match &spec.tokens {
            None => true,
            Some(pointer) => self.token(data, pointer),
        };
        if timed {
            if let Some(last) = self.last {
                self.gap(now.saturating_duration_since(last));
            }
            self.first.get_or_insert(now);
            self.last = Some(now);
        }
    }

    /// True when the event's data holds a token at `pointer`; its text is kept if asked.
    fn token(&mut self, data: &[u8], pointer: &str) -> bool {
        let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else {
            return false;
        };
        let Some(text) = value
            .pointer(pointer)
            .and_then(|v| v.as_str())
            .filter(|t| !t.is_empty())
        else {
            return false;
        };
        self.tokens += 1;
        if let Some(kept) = self.text.as_mut()
            && kept.len() + text.len() <= MAX_TEXT
        {
            kept.push_str(text);
        }
        true
    }

    fn gap(&mut self, d: Duration) {
        let us = u32::try_from(d.as_micros()).unwrap_or(u32::MAX);
        if self.gaps.len() < GAPS {
            self.gaps.push(us);
            return;
        }
        let h = self
            .more_gaps
            .get_or_insert_with(|| Histogram::new(3).expect("3 significant figures is valid"));
        let _ = h.record(u64::from(us));
    }

    /// The body ended at `now`: an event still open counts.
    pub fn finish(&mut self, now: Instant) {
        if self.done_at.is_none() {
            if !self.line.is_empty() {
                self.take_line(now);
            }
            if self.spec.kind == StreamKind::Sse && self.done_at.is_none() {
                self.take_line(now);
            }
        }
        self.ended_at.get_or_insert(now);
    }

    /// The `stream_done` event came: the stream is over, whatever follows it.
    pub fn done(&self) -> bool {
        self.done_at.is_some()
    }

    /// When the `stream_done` event came: the stream's end, and the row's response time.
    pub fn done_at(&self) -> Option<Instant> {
        self.done_at
    }

    /// What the idle timeout runs from: the last event, or the request's start.
    pub fn last_activity(&self) -> Instant {
        self.last_event.unwrap_or(self.start)
    }

    /// The endpoint has a `stream_done` and it has not come.
    pub fn incomplete(&self) -> bool {
        self.spec.done.is_some() && self.done_at.is_none()
    }

    /// The last event's data.
    pub fn last_data(&self) -> &[u8] {
        &self.last_data
    }

    /// The tokens' text, when it was kept.
    pub fn text(&self) -> Option<&str> {
        self.text.as_deref()
    }

    /// What the statistics record of this stream. `complete` is false when it failed
    /// (cut, timed out, or ended before its `stream_done`); `queued` is the open model's
    /// wait for a free user before the request began.
    pub fn sample(&self, complete: bool, queued: Option<Duration>) -> StreamSample<'_> {
        let us = |d: Duration| d.as_micros() as u64;
        let ttft = self.first.map(|f| f.saturating_duration_since(self.start));
        // Per output token: with `stream_tokens` only (events are not tokens).
        let end = self.done_at.or(self.ended_at);
        let tokens = self.spec.tokens.as_ref().map(|_| self.tokens);
        let tpot = match (complete, self.first, end, tokens) {
            (true, Some(first), Some(end), Some(n)) if n >= 2 => Some(
                end.saturating_duration_since(first) / u32::try_from(n - 1).unwrap_or(u32::MAX),
            ),
            _ => None,
        };
        StreamSample {
            events: self.events,
            tokens: self.spec.tokens.as_ref().map(|_| self.tokens),
            ttft_us: ttft.map(us),
            ttft_corrected_us: ttft.zip(queued).map(|(t, q)| us(t + q)),
            gaps: &self.gaps,
            more_gaps: self.more_gaps.as_ref(),
            tpot_us: tpot.map(us),
            incomplete: !complete,
        }
    }

    /// "12 events, 11 tokens" for messages.
    pub fn describe(&self) -> String {
        let plural = |n: u64, what: &str| format!("{n} {what}{}", if n == 1 { "" } else { "s" });
        match self.spec.tokens {
            Some(_) => format!(
                "{}, {}",
                plural(self.events, "event"),
                plural(self.tokens, "token")
            ),
            None => plural(self.events, "event"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(kind: StreamKind, tokens: Option<&str>, done: Option<&str>) -> Arc<StreamSpec> {
        Arc::new(StreamSpec {
            kind,
            tokens: tokens.map(str::to_string),
            done: done.map(str::to_string),
            max: None,
        })
    }

    fn ms(t0: Instant, n: u64) -> Instant {
        t0 + Duration::from_millis(n)
    }

    #[test]
    fn sse_events_are_timed_when_their_blank_line_arrives() {
        let t0 = Instant::now();
        let mut r = StreamRead::new(spec(StreamKind::Sse, None, Some("[DONE]")), false, t0);
        r.add(b": comment\r\ndata: one\r\n", ms(t0, 100));
        r.add(b"\r\nevent: x\ndata: two\ndata: lines\n\n", ms(t0, 200));
        r.add(b"id: 3\ndata:three\n\nretry: 5\n\n", ms(t0, 230));
        r.add(b"data: [DONE]\n\ndata: after\n\n", ms(t0, 260));
        r.finish(ms(t0, 300));
        assert_eq!(r.events, 3);
        assert!(!r.incomplete());
        assert_eq!(r.last_data(), b"three");
        let s = r.sample(true, Some(Duration::from_millis(50)));
        assert_eq!(s.ttft_us, Some(200_000));
        assert_eq!(s.ttft_corrected_us, Some(250_000));
        assert_eq!(s.gaps, &[0, 30_000]);
        assert_eq!(s.tpot_us, None, "events are not tokens");
        assert_eq!(s.tokens, None);
    }

    #[test]
    fn sse_lines_may_end_with_a_lone_cr_and_a_crlf_may_be_cut_between_reads() {
        let t0 = Instant::now();
        let mut r = StreamRead::new(spec(StreamKind::Sse, None, Some("[DONE]")), false, t0);
        r.add(b"\xEF\xBB\xBFdata: one\r\r", ms(t0, 10));
        r.add(b"data: two\r", ms(t0, 20));
        r.add(b"\n\r\n", ms(t0, 30));
        r.add(b"data: three\r", ms(t0, 40));
        r.add(b"\r", ms(t0, 50));
        r.add(b"data: [DONE]\r\r", ms(t0, 60));
        r.finish(ms(t0, 70));
        assert_eq!(r.events, 3, "one, two and three");
        assert!(!r.incomplete());
        assert_eq!(r.last_data(), b"three");
        assert_eq!(
            r.sample(true, None).gaps,
            &[20_000, 20_000],
            "at 10, 30 and 50 ms"
        );
        // Not a line end twice: a CRLF cut after its CR, then data.
        let mut r = StreamRead::new(spec(StreamKind::Sse, None, None), false, t0);
        r.add(b"data: a\r", ms(t0, 1));
        r.add(b"\ndata: b\n\n", ms(t0, 2));
        r.finish(ms(t0, 3));
        assert_eq!((r.events, r.last_data()), (1, &b"a\nb"[..]));
    }

    #[test]
    fn tokens_are_events_with_a_non_empty_string_at_the_pointer() {
        let t0 = Instant::now();
        let mut r = StreamRead::new(
            spec(
                StreamKind::Sse,
                Some("/choices/0/delta/content"),
                Some("[DONE]"),
            ),
            true,
            t0,
        );
        let ev = |c: &str| format!("data: {{\"choices\":[{{\"delta\":{{\"content\":{c}}}}}]}}\n\n");
        r.add(ev("\"\"").as_bytes(), ms(t0, 10));
        r.add(ev("\"Hel\"").as_bytes(), ms(t0, 50));
        r.add(
            format!("{}{}", ev("\"lo\""), ev("null")).as_bytes(),
            ms(t0, 70),
        );
        r.add(b"data: not json\n\n", ms(t0, 80));
        r.add(ev("\"!\"").as_bytes(), ms(t0, 110));
        r.finish(ms(t0, 120));
        assert_eq!((r.events, r.tokens), (6, 3));
        assert!(r.incomplete(), "no [DONE]");
        assert_eq!(r.text(), Some("Hello!"));
        let s = r.sample(false, None);
        assert_eq!(s.ttft_us, Some(50_000));
        assert_eq!(s.gaps, &[20_000, 40_000]);
        assert_eq!(s.tpot_us, None, "an incomplete stream has no TPOT");
        // Complete: (end - first token) / (tokens - 1), the end being the body's.
        assert_eq!(r.sample(true, None).tpot_us, Some(35_000));
        assert_eq!(s.tokens, Some(3));
        assert!(s.incomplete);
    }

    #[test]
    fn lines_and_chunks_and_an_event_left_open_at_the_end() {
        let t0 = Instant::now();
        let mut r = StreamRead::new(spec(StreamKind::Lines, None, None), false, t0);
        r.add(b"{\"a\":1}\n\n{\"a\"", ms(t0, 1));
        r.add(b":2}\r\n{\"a\":3}", ms(t0, 2));
        r.finish(ms(t0, 3));
        assert_eq!(r.events, 3);
        assert_eq!(r.last_data(), b"{\"a\":3}");
        let mut r = StreamRead::new(spec(StreamKind::Chunks, None, None), false, t0);
        r.add(b"abc", ms(t0, 1));
        r.add(b"", ms(t0, 2));
        r.add(b"d", ms(t0, 3));
        r.finish(ms(t0, 4));
        assert_eq!(r.events, 2);
        let mut r = StreamRead::new(spec(StreamKind::Sse, None, None), false, t0);
        r.add(b"data: last", ms(t0, 1));
        r.finish(ms(t0, 2));
        assert_eq!((r.events, r.last_data()), (1, &b"last"[..]));
    }

    #[test]
    fn a_line_without_end_is_cut_not_grown_without_bound() {
        let t0 = Instant::now();
        let mut r = StreamRead::new(spec(StreamKind::Sse, None, None), false, t0);
        let piece = vec![b'x'; 64 << 10];
        r.add(b"data: ", t0);
        for _ in 0..64 {
            r.add(&piece, t0);
        }
        assert!(r.line.len() <= MAX_LINE);
        r.add(b"\n\n", t0);
        assert_eq!(r.events, 1);
        assert!(r.last_data().len() <= MAX_LINE);
    }
}
