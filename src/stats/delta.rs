//! `Delta`: what one process recorded since its last report, in a form that crosses a
//! process boundary. Rows are keyed by `RowKey` (method and name, the same on every
//! process that loads the same scenario), not by the order a process first met them;
//! histograms travel in HdrHistogram's V2 deflate encoding (the hdrhistogram crate's own
//! serializer), so a coordinator merging deltas gets exactly the statistics that one
//! process recording everything would have.

use super::FailureKind;
use super::shard::{RowDelta, Shard, new_histogram};
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
    #[serde(with = "encoded")]
    pub hist: Histogram<u64>,
    pub requests: u64,
    pub failures: u64,
    pub resent: u64,
    pub bytes: u64,
    pub sum_us: u64,
    pub min_us: u64,
    pub max_us: u64,
    pub statuses: Vec<(u16, u64)>,
    /// Open model: latencies from the intended start.
    #[serde(with = "encoded_opt", default)]
    pub corrected: Option<Histogram<u64>>,
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
            if row.requests == 0 || i >= keys.len() {
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

/// A copy of `h` only as large as its values need. A shard's histogram keeps the size its
/// largest value ever gave it (a 30 s timeout, say); the second's delta, encoded and
/// decoded, would otherwise cost its receiver that whole size again every time.
fn compact(h: &Histogram<u64>) -> Histogram<u64> {
    let mut out = new_histogram();
    out.add(h).expect("auto-resizing histogram");
    out
}

impl DeltaRow {
    fn of(key: RowKey, r: &RowDelta) -> DeltaRow {
        DeltaRow {
            key,
            hist: compact(&r.hist),
            requests: r.requests,
            failures: r.failures,
            resent: r.resent,
            bytes: r.bytes,
            sum_us: r.sum_us,
            min_us: r.min_us,
            max_us: r.max_us,
            statuses: r.statuses.iter().copied().filter(|s| s.1 > 0).collect(),
            corrected: r.corrected.as_ref().filter(|h| !h.is_empty()).map(compact),
        }
    }

    /// The row as an accumulator, to merge.
    pub fn into_row_delta(self) -> RowDelta {
        RowDelta {
            hist: self.hist,
            requests: self.requests,
            failures: self.failures,
            resent: self.resent,
            bytes: self.bytes,
            sum_us: self.sum_us,
            min_us: self.min_us,
            max_us: self.max_us,
            statuses: self.statuses,
            corrected: self.corrected,
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

/// serde for a histogram as the bytes of its V2 deflate encoding.
mod encoded {
    use super::*;

    pub fn serialize<S: serde::Serializer>(h: &Histogram<u64>, s: S) -> Result<S::Ok, S::Error> {
        let bytes = encode(h).map_err(serde::ser::Error::custom)?;
        serde::Serialize::serialize(&bytes, s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Histogram<u64>, D::Error> {
        let bytes: Vec<u8> = serde::Deserialize::deserialize(d)?;
        decode(&bytes).map_err(serde::de::Error::custom)
    }
}

/// The same for an optional histogram.
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
        serde::Serialize::serialize(&bytes, s)
    }

    pub fn deserialize<'de, D: serde::Deserializer<'de>>(
        d: D,
    ) -> Result<Option<Histogram<u64>>, D::Error> {
        let bytes: Option<Vec<u8>> = serde::Deserialize::deserialize(d)?;
        bytes
            .map(|b| decode(&b))
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
            r.record(
                Sample {
                    row,
                    latency_us: rng.u64(50..2_000_000),
                    status: Some(if fail { 503 } else { 200 }),
                    bytes: rng.u64(0..5000),
                    failure: fail.then_some(FailureKind::Status(503)),
                    corrected_us: None,
                    resent: rng.u8(..) < 3,
                },
                || "answered 503".into(),
            );
            r.record_lateness(rng.u64(0..3000));
        }
    }

    fn snapshot(stats: &Stats, now: Instant) -> Snapshot {
        let mut snap = Snapshot::default();
        stats.fill(&mut snap, Duration::from_secs(10), now);
        snap
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
        // A damaged histogram is an error, not a panic.
        assert!(
            wire.contains("\"hist\":[28,"),
            "V2 deflate's cookie starts 0x1c"
        );
        let broken = wire.replacen("\"hist\":[28,", "\"hist\":[29,", 1);
        assert!(serde_json::from_str::<Delta>(&broken).is_err());
    }
}
