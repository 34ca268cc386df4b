//! Statistics: recording (per-user shards), aggregation, history and immutable snapshots.
//!
//! Virtual users hold a `Recorder`; the engine's control task owns `Stats`, drains the
//! shards a few times a second and publishes `Snapshot`s that the reports and the TUI read.

mod aggregate;
mod delta;
mod failure;
mod hist;
mod history;
mod shard;
mod snapshot;
mod stream;
mod ws;

pub use aggregate::{CURRENT_WINDOW, DISTRIBUTION_BUCKETS, Interval, IntervalRow, Stats};
pub use delta::DeltaStream;
pub use delta::{Buckets, Delta, DeltaFailure, DeltaRow, DeltaWindow, RowKey};
pub use failure::FailureKind;
pub use history::{HISTORY_CAP, History, Point, StreamPoint};
pub use shard::{NOT_SENT, Recorder, Sample, Shard, Shards};
pub use snapshot::{
    Arrivals, FailureGroup, Generator, LE_BOUNDS_MS, LostWorker, PERCENTILES, RowStats, RunState,
    Snapshot, TypeCount, WindowStats, WorkerStatus, short_name,
};
pub use snapshot::{ControlEvent, Shape, StreamStats};
pub use stream::StreamSample;
pub use ws::{WsCounts, WsStats};
