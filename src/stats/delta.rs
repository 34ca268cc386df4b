//! `Delta`: what one process recorded since its last report, in a form that crosses a
//! process boundary. Rows are keyed by `RowKey` (method and name, the same on every
//! process that loads the same scenario), not by the order a process first met them;
//! histograms travel in HdrHistogram's V2 deflate encoding (the hdrhistogram crate's own
//! serializer). A receiver reads them as `Buckets`, the non-zero buckets only, and merges
//! those straight into its accumulators: a controller merging sixteen workers' deltas a
//! second spent a third of its time allocating, zeroing and scanning decoded histograms
//! the size of their largest value, so a coordinator merging deltas gets exactly the statistics that one
//! process recording everything would have.

use super::FailureKind;
use super::hist::new_histogram;
use super::shard::{RowDelta, Shard};
use base64::Engine as _;
use hdrhistogram::Histogram;
use hdrhistogram::serialization::{Deserializer, Serializer, V2DeflateSerializer};
use serde::{Deserialize, Serialize};

/// A statistics row's identity across processes.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct RowKey {
    pub method: String,
    pub name: String,
}

/// One row's counts since the last delta.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeltaRow {
    pub key: RowKey,
    /// Response times in µs, V2 deflate encoded.
    pub hist: Buckets,
    pub requests: u64,
    pub failures: u64,
    pub resent: u64,
    pub bytes: u64,
    pub sum_us: u64,
    pub min_us: u64,
    pub max_us: u64,
    pub statuses: Vec<(u16, u64)>,
    /// Open model: latencies from the intended start.
    #[serde(default)]
    pub corrected: Option<Buckets>,
    /// Streamed endpoints: TTFT, ITL, TPOT and the stream counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<DeltaStream>,
    /// WebSocket steps: sockets, messages and bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ws: Option<super::WsCounts>,
}

/// A histogram as deltas carry it: its non-zero buckets, each as a value in it and its
/// count (a 30 s timeout once seen costs nothing more here). On the wire it is the
/// histogram's V2 deflate encoding; it is read without building the histogram.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Buckets(pub Vec<(u64, u64)>);

impl Buckets {
    pub fn of(h: &Histogram<u64>) -> Buckets {
        Buckets(
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect(),
        )
    }

    /// Adds every bucket's count to `h` (swarm's histograms, same precision: each value
    /// lands in its own bucket).
    pub(crate) fn add_to(&self, h: &mut Histogram<u64>) {
        for &(value, count) in &self.0 {
            h.record_n(value, count).expect("auto-resizing histogram");
        }
    }

    pub fn to_histogram(&self) -> Histogram<u64> {
        let mut h = new_histogram();
        self.add_to(&mut h);
        h
    }

    /// How many values in all.
    pub fn count(&self) -> u64 {
        self.0.iter().map(|b| b.1).sum()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// Reads a V2 (or V2 deflate) encoding of a histogram of swarm's precision.
    fn read(bytes: &[u8]) -> Result<Buckets, String> {
        let cookie = be_u32(bytes, 0)?;
        if cookie == V2_DEFLATE_COOKIE {
            let len = be_u32(bytes, 4)? as usize;
            let body = bytes.get(8..8 + len).ok_or("a histogram cut short")?;
            return INFLATE.with_borrow_mut(|(z, inner)| {
                inflate(z, body, inner)?;
                if be_u32(inner, 0)? != V2_COOKIE {
                    return Err("not a histogram inside the deflate encoding".into());
                }
                Buckets::read_v2(inner)
            });
        }
        if cookie != V2_COOKIE {
            return Err(format!("not a histogram (cookie {cookie:#x})"));
        }
        Buckets::read_v2(bytes)
    }

    fn read_v2(bytes: &[u8]) -> Result<Buckets, String> {
        let payload_len = be_u32(bytes, 4)? as usize;
        let offset = be_u32(bytes, 8)?;
        let sigfig = be_u32(bytes, 12)?;
        let low = be_u64(bytes, 16)?;
        let ratio = f64::from_bits(be_u64(bytes, 32)?);
        if offset != 0 || ratio != 1.0 {
            return Err("a histogram with a normalizing offset or a conversion ratio".into());
        }
        if sigfig != SIGFIG || low != 1 {
            return Err(format!(
                "a histogram of {sigfig} significant figures from {low}, not {SIGFIG} from 1"
            ));
        }
        let mut payload = bytes
            .get(40..40 + payload_len)
            .ok_or("a histogram cut short")?;
        let mut out = Vec::new();
        let mut index: u64 = 0;
        while !payload.is_empty() {
            let n = zig_zag(leb128(&mut payload)?);
            if n < 0 {
                index = index
                    .checked_add(n.unsigned_abs())
                    .ok_or("a histogram's zeros run past its end")?;
            } else {
                if n > 0 {
                    out.push((value_at_index(index)?, n as u64));
                }
                index += 1;
            }
        }
        Ok(Buckets(out))
    }
}

thread_local! {
    /// One inflater and its output, reused: a controller reads a few hundred histograms a
    /// second, and a new inflater is a zeroed state and window each time.
    static INFLATE: std::cell::RefCell<(flate2::Decompress, Vec<u8>)> =
        std::cell::RefCell::new((flate2::Decompress::new(true), Vec::new()));
}

/// Inflates a zlib stream into `out` (cleared first), at most `MAX_INFLATED` bytes.
///
/// Without a flush: miniz (flate2's backend) takes `Finish` on a first call as a promise
/// that the output fits the buffer, and a histogram that inflated past the first 4 KB
/// then read as "deflate decompression error" (a worker's delta of a few thousand
/// distinct latencies was refused).
fn inflate(z: &mut flate2::Decompress, body: &[u8], out: &mut Vec<u8>) -> Result<(), String> {
    const MAX_INFLATED: usize = 64 << 20;
    z.reset(true);
    out.clear();
    loop {
        if out.len() == out.capacity() {
            if out.len() >= MAX_INFLATED {
                return Err("a histogram that inflates beyond 64 MB".into());
            }
            out.reserve(out.len().max(4096));
        }
        let (read, written) = (z.total_in(), z.total_out());
        let status = z
            .decompress_vec(&body[read as usize..], out, flate2::FlushDecompress::None)
            .map_err(|e| format!("a histogram that does not inflate: {e}"))?;
        if status == flate2::Status::StreamEnd {
            return Ok(());
        }
        if (z.total_in(), z.total_out()) == (read, written) && out.len() < out.capacity() {
            // Room to write and nothing read or written: the input ended before the stream.
            return Err("a histogram cut short".into());
        }
    }
}

/// HdrHistogram's V2 cookies (the base, with 0x10 for 8-byte word size).
const V2_COOKIE: u32 = 0x1c84_9303 | 0x10;
const V2_DEFLATE_COOKIE: u32 = 0x1c84_9304 | 0x10;
/// swarm's histograms: 3 significant figures from 1 µs (`new_histogram`), so 2048
/// sub-buckets, the upper half of each bucket counting at its unit.
const SIGFIG: u32 = 3;
const HALF_MAGNITUDE: u32 = 10;

/// The lowest value of bucket `index` (HdrHistogram's counts layout).
fn value_at_index(index: u64) -> Result<u64, String> {
    let half = 1u64 << HALF_MAGNITUDE;
    let mut bucket = (index >> HALF_MAGNITUDE) as i64 - 1;
    let mut sub = (index & (half - 1)) + half;
    if bucket < 0 {
        sub -= half;
        bucket = 0;
    }
    if bucket > 52 {
        return Err("a histogram bucket beyond 64-bit values".into());
    }
    Ok(sub << bucket)
}

fn be_u32(b: &[u8], at: usize) -> Result<u32, String> {
    b.get(at..at + 4)
        .map(|s| u32::from_be_bytes(s.try_into().expect("four bytes")))
        .ok_or_else(|| "a histogram cut short".into())
}

fn be_u64(b: &[u8], at: usize) -> Result<u64, String> {
    b.get(at..at + 8)
        .map(|s| u64::from_be_bytes(s.try_into().expect("eight bytes")))
        .ok_or_else(|| "a histogram cut short".into())
}

/// One LEB128-64b9B number (HdrHistogram's: the ninth byte carries 8 bits).
fn leb128(b: &mut &[u8]) -> Result<u64, String> {
    let mut value = 0u64;
    for i in 0..9 {
        let (&byte, rest) = b.split_first().ok_or("a histogram cut short")?;
        *b = rest;
        if i == 8 {
            return Ok(value | (u64::from(byte) << 56));
        }
        value |= u64::from(byte & 0x7f) << (7 * i);
        if byte & 0x80 == 0 {
            break;
        }
    }
    Ok(value)
}

fn zig_zag(n: u64) -> i64 {
    ((n >> 1) as i64) ^ -((n & 1) as i64)
}

impl Serialize for Buckets {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let bytes = encode(&self.to_histogram()).map_err(serde::ser::Error::custom)?;
        s.serialize_str(&BASE64.encode(bytes))
    }
}

impl<'de> Deserialize<'de> for Buckets {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Buckets, D::Error> {
        let text: std::borrow::Cow<'de, str> = serde::Deserialize::deserialize(d)?;
        let bytes = unbase64(&text).map_err(serde::de::Error::custom)?;
        Buckets::read(&bytes).map_err(serde::de::Error::custom)
    }
}

/// Failures of one cause on one row since the last delta.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DeltaFailure {
    pub key: RowKey,
    pub kind: FailureKind,
    pub count: u64,
    pub message: Option<String>,
}

/// Everything a process recorded since its last delta.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Delta {
    pub rows: Vec<DeltaRow>,
    pub failures: Vec<DeltaFailure>,
    /// Think-time lateness in µs.
    #[serde(with = "encoded_opt", default)]
    pub lateness: Option<Histogram<u64>>,
    /// The measurement window (a capacity-search step) all of this was recorded in.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub window: Option<DeltaWindow>,
}

/// Which window a delta belongs to, and how much of it the sender had covered when it
/// took the delta: a controller measures a step over exactly what its workers measured.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeltaWindow {
    pub id: u32,
    /// The sender's time from its mark to this delta, µs.
    pub elapsed_us: u64,
    /// The latest the sender's control task woke in the window so far, µs.
    pub max_tick_late_us: u64,
}

impl Delta {
    /// Takes what a shard recorded (leaving it cleared); `keys[i]` is row i's identity.
    pub fn take(shard: &mut Shard, keys: &[RowKey]) -> Delta {
        let mut delta = Delta::default();
        for (i, row) in shard.rows.iter_mut().enumerate() {
            if row.is_empty() || i >= keys.len() {
                continue;
            }
            delta.rows.push(DeltaRow::of(keys[i].clone(), row));
            row.clear();
        }
        for f in shard.failures.drain(..) {
            if let Some(key) = keys.get(f.row) {
                delta.failures.push(DeltaFailure {
                    key: key.clone(),
                    kind: f.kind,
                    count: f.count,
                    message: f.message,
                });
            }
        }
        if let Some(late) = shard.lateness.as_mut().filter(|h| !h.is_empty()) {
            delta.lateness = Some(late.clone());
            late.reset();
        }
        delta
    }
}

impl DeltaRow {
    fn of(key: RowKey, r: &RowDelta) -> DeltaRow {
        DeltaRow {
            key,
            hist: Buckets::of(&r.hist),
            requests: r.requests,
            failures: r.failures,
            resent: r.resent,
            bytes: r.bytes,
            sum_us: r.sum_us,
            min_us: r.min_us,
            max_us: r.max_us,
            statuses: r.statuses.iter().copied().filter(|s| s.1 > 0).collect(),
            corrected: r
                .corrected
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(Buckets::of),
            stream: r
                .stream
                .as_deref()
                .filter(|s| s.streams > 0)
                .map(DeltaStream::of),
            ws: r.ws.as_deref().filter(|w| !w.is_zero()).copied(),
        }
    }
}

/// A row's stream counts in a delta from another process.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct DeltaStream {
    pub streams: u64,
    pub events: u64,
    pub tokens: Option<u64>,
    pub incomplete: u64,
    pub ttft: Buckets,
    #[serde(default)]
    pub ttft_corrected: Option<Buckets>,
    pub itl: Buckets,
    pub tpot: Buckets,
}

impl DeltaStream {
    pub(crate) fn of(s: &super::stream::StreamDelta) -> DeltaStream {
        DeltaStream {
            streams: s.streams,
            events: s.events,
            tokens: s.tokens,
            incomplete: s.incomplete,
            ttft: Buckets::of(&s.ttft),
            ttft_corrected: s
                .ttft_corrected
                .as_ref()
                .filter(|h| !h.is_empty())
                .map(Buckets::of),
            itl: Buckets::of(&s.itl),
            tpot: Buckets::of(&s.tpot),
        }
    }
    /// Adds this row's counts to `to` (a receiver's accumulator).
    pub(crate) fn add_to(&self, to: &mut super::stream::StreamDelta) {
        let (o, s) = (self, to);
        s.streams += o.streams;
        s.events += o.events;
        if let Some(t) = o.tokens {
            *s.tokens.get_or_insert(0) += t;
        }
        s.incomplete += o.incomplete;
        o.ttft.add_to(&mut s.ttft);
        o.itl.add_to(&mut s.itl);
        o.tpot.add_to(&mut s.tpot);
        if let Some(c) = o.ttft_corrected.as_ref().filter(|c| !c.is_empty()) {
            c.add_to(s.ttft_corrected.get_or_insert_with(new_histogram));
        }
    }
}

/// A histogram's V2 deflate encoding.
fn encode(h: &Histogram<u64>) -> Result<Vec<u8>, String> {
    let mut bytes = Vec::new();
    V2DeflateSerializer::new()
        .serialize(h, &mut bytes)
        .map_err(|e| format!("{e:?}"))?;
    Ok(bytes)
}

/// A histogram from its encoding, auto-resizing like swarm's own (so it merges with any
/// other and takes any later value). One of another precision is refused: merged into
/// swarm's it would not be exact.
fn decode(bytes: &[u8]) -> Result<Histogram<u64>, String> {
    let mut h: Histogram<u64> = Deserializer::new()
        .deserialize(&mut &bytes[..])
        .map_err(|e| format!("not a histogram: {e:?}"))?;
    let ours = new_histogram();
    if h.sigfig() != ours.sigfig() || h.low() != ours.low() {
        return Err(format!(
            "a histogram of {} significant figures from {}, not {} from {}",
            h.sigfig(),
            h.low(),
            ours.sigfig(),
            ours.low()
        ));
    }
    h.auto(true);
    Ok(h)
}

/// Histogram bytes travel as base64 text in a delta's JSON (a JSON array of numbers took
/// a tenth of a controller's time to read).
const BASE64: base64::engine::GeneralPurpose = base64::engine::general_purpose::STANDARD;

fn unbase64(text: &str) -> Result<Vec<u8>, String> {
    use base64::Engine;
    BASE64
        .decode(text)
        .map_err(|e| format!("a histogram that is not base64: {e}"))
}

/// serde for an optional histogram as the bytes of its V2 deflate encoding.
mod encoded_opt {
    use super::*;

    pub fn serialize<S: serde::Serializer>(
        h: &Option<Histogram<u64>>,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        let bytes = h
            .as_ref()
            .map(encode)
            .transpose()
            .map_err(serde::ser::Error::custom)?;
        serde::Serialize::serialize(&bytes.map(|b| BASE64.encode(b)), s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Histogram<u64>>, D::Error> {
        let text: Option<std::borrow::Cow<'de, str>> = serde::Deserialize::deserialize(d)?;
        text.map(|t| unbase64(&t).and_then(|b| decode(&b)))
            .transpose()
            .map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::{Sample, Shards, Snapshot, Stats};
    use std::time::{Duration, Instant};

    /// The same samples recorded twice: one merged directly, one through a delta that
    /// went to JSON and back (with the rows known in the other order).
    fn record(shards: &std::sync::Arc<Shards>, rng: &mut fastrand::Rng) {
        let r = shards.recorder(0);
        for _ in 0..5000 {
            let row = rng.usize(0..2);
            let fail = rng.u8(..) < 20;
            let sample = Sample {
                row,
                latency_us: rng.u64(50..2_000_000),
                status: Some(if fail { 503 } else { 200 }),
                bytes: rng.u64(0..5000),
                failure: fail.then_some(FailureKind::Status(503)),
                corrected_us: None,
                resent: rng.u8(..) < 3,
            };
            if row == 1 {
                // Row 1 is streamed: its TTFT, ITL and TPOT go over the wire too.
                let gaps: Vec<u32> = (0..rng.usize(0..40)).map(|_| rng.u32(1..90_000)).collect();
                let stream = crate::stats::StreamSample {
                    events: gaps.len() as u64 + 1,
                    tokens: Some(gaps.len() as u64),
                    ttft_us: Some(rng.u64(1000..900_000)),
                    ttft_corrected_us: None,
                    gaps: &gaps,
                    more_gaps: None,
                    tpot_us: (gaps.len() > 2).then(|| rng.u64(1000..50_000)),
                    incomplete: fail,
                };
                r.record_stream(sample, &stream, || "answered 503".into());
            } else {
                r.record(sample, || "answered 503".into());
            }
            r.record_lateness(rng.u64(0..3000));
        }
    }

    fn snapshot(stats: &Stats, now: Instant) -> Snapshot {
        let mut snap = Snapshot::default();
        stats.fill(&mut snap, Duration::from_secs(10), now);
        snap
    }

    /// A histogram whose encoding inflates past 4 KB (thousands of distinct values) reads
    /// back whole; before, the inflater's first call took Finish as "it all fits".
    #[test]
    fn a_wide_histogram_reads_back_whole() {
        let mut h = crate::stats::hist::new_histogram();
        let mut rng = fastrand::Rng::with_seed(1);
        for _ in 0..20_000 {
            h.record(rng.u64(1..90_000)).unwrap();
        }
        let b = Buckets::of(&h);
        assert!(b.0.len() > 4000, "{} buckets", b.0.len());
        let wire = serde_json::to_string(&b).unwrap();
        let back: Buckets = serde_json::from_str(&wire).unwrap();
        // Each bucket is read as a value in it (its lowest), so compare the histograms.
        assert!(Buckets::of(&back.to_histogram()) == b, "the buckets differ");
        // Cut short is an error, not a hang or a panic.
        let bytes = encode(&h).unwrap();
        for cut in [9, bytes.len() / 2, bytes.len() - 1] {
            assert!(Buckets::read(&bytes[..cut]).is_err(), "cut at {cut}");
        }
    }

    /// Row "add" carried its streams (compared with the direct merge field by field).
    fn streamed_row_went_over(x: &Snapshot) {
        let streamed = x.rows.iter().find(|r| r.name == "add").unwrap();
        assert!(
            streamed
                .stream
                .as_ref()
                .is_some_and(|s| s.itl_count > 10_000)
        );
        assert_eq!(x.total.stream, streamed.stream);
    }

    #[test]
    fn a_delta_through_json_merges_to_exactly_the_same_statistics() {
        let start = Instant::now();
        let now = start + Duration::from_millis(250);
        let keys = [
            RowKey {
                method: "GET".into(),
                name: "list".into(),
            },
            RowKey {
                method: "POST".into(),
                name: "add".into(),
            },
        ];
        let (a, b) = (Shards::new(1), Shards::new(1));
        record(&a, &mut fastrand::Rng::with_seed(3));
        record(&b, &mut fastrand::Rng::with_seed(3));

        let mut direct = Stats::new(start);
        for k in &keys {
            direct.row_for(&k.method, &k.name);
        }
        direct.drain(&a, now, 1);

        let mut delta = Delta::default();
        b.drain(|shard| delta = Delta::take(shard, &keys));
        let wire = serde_json::to_string(&delta).unwrap();
        let back: Delta = serde_json::from_str(&wire).unwrap();
        let mut merged = Stats::new(start);
        for k in keys.iter().rev() {
            merged.row_for(&k.method, &k.name);
        }
        merged.apply(&back, now, 1);

        let (x, y) = (snapshot(&direct, now), snapshot(&merged, now));
        assert_eq!(x.total, y.total);
        for row in &x.rows {
            let other = y.rows.iter().find(|r| r.name == row.name).unwrap();
            assert_eq!(row, other, "{}", row.name);
        }
        assert_eq!(x.generator, y.generator);
        assert_eq!(x.failures.len(), 2);
        for f in &x.failures {
            let other = y.failures.iter().find(|g| g.name == f.name).unwrap();
            assert_eq!(
                (f.count, f.kind, &f.message),
                (other.count, other.kind, &other.message)
            );
        }
        assert!(x.total.requests == 5000 && x.total.resent > 0);
        streamed_row_went_over(&x);
        // A damaged histogram is an error, not a panic.
        assert!(
            wire.contains("\"hist\":\"HIST"),
            "V2 deflate's cookie 0x1c849314 starts HIST in base64"
        );
        let broken = wire.replacen("\"hist\":\"HIST", "\"hist\":\"HISU", 1);
        assert!(serde_json::from_str::<Delta>(&broken).is_err());
        let broken = wire.replacen("\"hist\":\"HIST", "\"hist\":\"H!ST", 1);
        assert!(serde_json::from_str::<Delta>(&broken).is_err());
    }

    /// Buckets read from the wire are the histogram, bucket for bucket, whatever its
    /// range (microseconds to hours), as the crate's own deserializer reads it; plain V2
    /// reads too; any cut of the bytes is an error, never a panic.
    #[test]
    fn buckets_read_the_v2_encodings_exactly() {
        use hdrhistogram::serialization::V2Serializer;
        let mut rng = fastrand::Rng::with_seed(7);
        for round in 0..40 {
            let mut h = new_histogram();
            let top = 10u64.pow(1 + round % 10);
            for _ in 0..rng.usize(1..3000) {
                h.record_n(rng.u64(1..top), rng.u64(1..5)).unwrap();
            }
            let buckets = |h: &Histogram<u64>| -> Vec<(u64, u64)> {
                h.iter_recorded()
                    .map(|v| (v.value_iterated_to(), v.count_at_value()))
                    .collect()
            };
            let deflated = encode(&h).unwrap();
            let read = Buckets::read(&deflated).unwrap();
            assert_eq!(read.count(), h.len());
            assert_eq!(buckets(&read.to_histogram()), buckets(&h), "round {round}");
            let theirs: Histogram<u64> =
                Deserializer::new().deserialize(&mut &deflated[..]).unwrap();
            assert_eq!(buckets(&read.to_histogram()), buckets(&theirs));
            let mut plain = Vec::new();
            V2Serializer::new().serialize(&h, &mut plain).unwrap();
            assert_eq!(Buckets::read(&plain).unwrap(), read);
            if round < 3 {
                for cut in 0..plain.len() {
                    let _ = Buckets::read(&plain[..cut]);
                }
                for cut in 0..deflated.len() {
                    let _ = Buckets::read(&deflated[..cut]);
                }
            }
        }
        let mut other = Histogram::<u64>::new(2).unwrap();
        other.record(5).unwrap();
        let bytes = encode(&other).unwrap();
        assert!(
            Buckets::read(&bytes)
                .unwrap_err()
                .contains("significant figures")
        );
    }
}
