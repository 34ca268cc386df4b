//! Streamed responses (`stream = "sse"`): what one stream measured (`StreamSample`), a
//! row's stream counts between drains (`StreamDelta`), on the wire (`DeltaStream`) and in
//! a snapshot (`StreamStats`). The definitions are vLLM's serving benchmark's: TTFT is
//! the time to the first token (or event), ITL every gap between consecutive tokens,
//! TPOT (end − first token) / (tokens − 1). The wire form is `delta::DeltaStream`, the
//! snapshot's `snapshot::StreamStats`.

use super::hist::{new_histogram, record};
use super::snapshot::{PERCENTILES, Shape, StreamStats};
use hdrhistogram::Histogram;

/// What one streamed response measured (times in µs).
#[derive(Debug, Clone, Copy, Default)]
pub struct StreamSample<'a> {
    pub events: u64,
    /// None when the endpoint has no `stream_tokens`.
    pub tokens: Option<u64>,
    /// Time to the first token (or event); None when none came.
    pub ttft_us: Option<u64>,
    /// Open model: the TTFT from the iteration's intended start.
    pub ttft_corrected_us: Option<u64>,
    /// The gaps between consecutive tokens (or events)...
    pub gaps: &'a [u32],
    /// ... and those that did not fit in `gaps`.
    pub more_gaps: Option<&'a Histogram<u64>>,
    /// Only for a complete stream of two tokens (events) or more.
    pub tpot_us: Option<u64>,
    /// It ended before its `stream_done`, or was cut (timeout, reset).
    pub incomplete: bool,
}

/// A row's stream counts since the last drain.
#[derive(Debug, Clone)]
pub struct StreamDelta {
    pub streams: u64,
    pub events: u64,
    /// Tokens, when the endpoint counts them (`stream_tokens`).
    pub tokens: Option<u64>,
    pub incomplete: u64,
    pub ttft: Histogram<u64>,
    pub ttft_corrected: Option<Histogram<u64>>,
    pub itl: Histogram<u64>,
    pub tpot: Histogram<u64>,
}

impl Default for StreamDelta {
    fn default() -> Self {
        StreamDelta {
            streams: 0,
            events: 0,
            tokens: None,
            incomplete: 0,
            ttft: new_histogram(),
            ttft_corrected: None,
            itl: new_histogram(),
            tpot: new_histogram(),
        }
    }
}

impl StreamDelta {
    pub(crate) fn add(&mut self, s: &StreamSample) {
        self.streams += 1;
        self.events += s.events;
        if let Some(t) = s.tokens {
            *self.tokens.get_or_insert(0) += t;
        }
        self.incomplete += u64::from(s.incomplete);
        if let Some(t) = s.ttft_us {
            record(&mut self.ttft, t);
        }
        if let Some(t) = s.ttft_corrected_us {
            record(self.ttft_corrected.get_or_insert_with(new_histogram), t);
        }
        for &g in s.gaps {
            record(&mut self.itl, u64::from(g));
        }
        if let Some(h) = s.more_gaps {
            self.itl.add(h).expect("auto-resizing histogram");
        }
        if let Some(t) = s.tpot_us {
            record(&mut self.tpot, t);
        }
    }

    pub(crate) fn merge(&mut self, o: &StreamDelta) {
        self.streams += o.streams;
        self.events += o.events;
        if let Some(t) = o.tokens {
            *self.tokens.get_or_insert(0) += t;
        }
        self.incomplete += o.incomplete;
        let add = |to: &mut Histogram<u64>, from: &Histogram<u64>| {
            if !from.is_empty() {
                to.add(from).expect("auto-resizing histogram");
            }
        };
        add(&mut self.ttft, &o.ttft);
        add(&mut self.itl, &o.itl);
        add(&mut self.tpot, &o.tpot);
        if let Some(c) = o.ttft_corrected.as_ref().filter(|h| !h.is_empty()) {
            add(self.ttft_corrected.get_or_insert_with(new_histogram), c);
        }
    }

    pub(crate) fn clear(&mut self) {
        self.streams = 0;
        self.events = 0;
        self.tokens = self.tokens.map(|_| 0);
        self.incomplete = 0;
        self.ttft.reset();
        self.itl.reset();
        self.tpot.reset();
        if let Some(c) = &mut self.ttft_corrected {
            c.reset();
        }
    }

    /// The snapshot's view: percentiles in ms, rates over `secs` of run.
    pub(crate) fn stats(&self, secs: f64) -> StreamStats {
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        StreamStats {
            streams: self.streams,
            events: self.events,
            tokens: self.tokens,
            incomplete: self.incomplete,
            ttft_ms: percentiles(&self.ttft),
            ttft_corrected_ms: self
                .ttft_corrected
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(percentiles),
            itl_ms: percentiles(&self.itl),
            tpot_ms: (self.tokens.is_some() && !self.tpot.is_empty())
                .then(|| percentiles(&self.tpot)),
            events_per_s: per_s(self.events),
            tokens_per_s: self.tokens.map_or(0.0, per_s),
            ttft_count: self.ttft.len(),
            itl_count: self.itl.len(),
            ttft_shape: Shape::of(&self.ttft),
            itl_shape: Shape::of(&self.itl),
        }
    }
}

impl StreamDelta {
    /// A history step's view of the streams that ended in it (`secs` long).
    pub(crate) fn point(&self, secs: f64) -> super::StreamPoint {
        let ms = |h: &Histogram<u64>, q: f64| {
            if h.is_empty() {
                0.0
            } else {
                h.value_at_quantile(q).min(h.max()) as f64 / 1000.0
            }
        };
        let per_s = |n: u64| if secs > 0.0 { n as f64 / secs } else { 0.0 };
        super::StreamPoint {
            ttft_p50_ms: ms(&self.ttft, 0.5),
            ttft_p99_ms: ms(&self.ttft, 0.99),
            itl_p99_ms: ms(&self.itl, 0.99),
            events_per_s: per_s(self.events),
            tokens_per_s: per_s(self.tokens.unwrap_or(0)),
        }
    }
}

/// A histogram's values at `PERCENTILES`, in ms (the last is its maximum); zeros when empty.
fn percentiles(h: &Histogram<u64>) -> [f64; 11] {
    let mut out = [0.0; 11];
    if h.is_empty() {
        return out;
    }
    let max = h.max();
    for (o, v) in out.iter_mut().zip(h.value_at_quantiles(PERCENTILES)) {
        *o = v.min(max) as f64 / 1000.0;
    }
    out[10] = max as f64 / 1000.0;
    out
}
