//! One virtual user: pick an endpoint by weight, send it, record, think, repeat (closed
//! model), or run one iteration per scheduled start taken from the open model's queue.

use super::endpoints::{EndpointSet, SharedEndpoints};
use super::http::{self, Conn};
use super::open::OpenQueue;
use crate::stats::{Recorder, Sample};
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a user task owns.
pub struct User {
    pub id: u64,
    pub shared: Arc<SharedEndpoints>,
    pub recorder: Recorder,
    /// Cancelled when the user should stop; an in-flight request still completes.
    pub cancel: CancellationToken,
    /// Open model: where the scheduled iterations come from.
    pub open: Option<Arc<OpenQueue>>,
}

/// Pause when every endpoint is disabled, before looking for a new set.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// A user's working state: its random stream, endpoint set and connections.
struct Session {
    rng: fastrand::Rng,
    generation: u64,
    set: Arc<EndpointSet>,
    conns: Vec<Option<Conn>>,
}

impl User {
    pub async fn run(self) {
        let (generation, set) = self.shared.load();
        let mut session = Session {
            rng: fastrand::Rng::with_seed(
                self.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ fastrand::u64(..),
            ),
            generation,
            conns: new_conns(&set),
            set,
        };
        match self.open.clone() {
            None => self.run_closed(&mut session).await,
            Some(queue) => self.run_open(&mut session, &queue).await,
        }
    }

    async fn run_closed(&self, s: &mut Session) {
        while !self.cancel.is_cancelled() {
            if !self.iterate(s, None).await {
                self.pause(IDLE_POLL).await;
                continue;
            }
            // A request can fail without ever waiting (no file descriptors left, say); the
            // budget check makes such a loop yield so the runtime's other tasks still run.
            tokio::task::consume_budget().await;
            let think = s.set.wait.sample(s.rng.f64());
            if !think.is_zero() {
                let due = Instant::now() + think;
                self.pause(think).await;
                if !self.cancel.is_cancelled() {
                    let late = Instant::now().saturating_duration_since(due);
                    self.recorder.record_lateness(late.as_micros() as u64);
                }
            }
        }
    }

    /// Open model: one iteration per scheduled start; think time does not apply, since
    /// the schedule sets the pace.
    async fn run_open(&self, s: &mut Session, queue: &OpenQueue) {
        while let Some(intended) = queue.next(&self.cancel).await {
            self.iterate(s, Some(intended)).await;
            queue.done();
            tokio::task::consume_budget().await;
        }
    }

    /// Sends one weighted pick and records it; false when every endpoint is disabled.
    /// `intended` is the open model's scheduled start, from which the corrected latency
    /// is measured.
    async fn iterate(&self, s: &mut Session, intended: Option<Instant>) -> bool {
        if self.shared.generation() != s.generation {
            let (g, set) = self.shared.load();
            if set.origins != s.set.origins {
                s.conns = new_conns(&set);
            }
            (s.generation, s.set) = (g, set);
        }
        let Some(i) = s.set.pick(&mut s.rng) else {
            return false;
        };
        let began = Instant::now();
        let endpoint = &s.set.endpoints[i];
        let outcome = http::send(&mut s.conns[s.set.origin_of[i]], endpoint).await;
        let queued_us = intended.map(|at| began.saturating_duration_since(at).as_micros() as u64);
        let sample = Sample {
            row: s.set.rows[i],
            latency_us: outcome.latency_us,
            status: outcome.status,
            bytes: outcome.bytes,
            failure: outcome.failure,
            corrected_us: queued_us.map(|q| q + outcome.latency_us),
        };
        self.recorder.record(sample, || outcome.describe(endpoint));
        true
    }

    /// Sleeps, waking early when cancelled.
    async fn pause(&self, d: Duration) {
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = tokio::time::sleep(d) => {}
        }
    }
}

fn new_conns(set: &EndpointSet) -> Vec<Option<Conn>> {
    (0..set.origins.len()).map(|_| None).collect()
}
