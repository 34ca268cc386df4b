//! One virtual user: pick an endpoint by weight, send it, record, think, repeat.

use super::endpoints::{EndpointSet, SharedEndpoints};
use super::http::{self, Conn};
use crate::stats::{Recorder, Sample};
use std::sync::Arc;
use std::time::Duration;
use tokio_util::sync::CancellationToken;

/// What a user task owns.
pub struct User {
    pub id: u64,
    pub shared: Arc<SharedEndpoints>,
    pub recorder: Recorder,
    /// Cancelled when the user should stop; an in-flight request still completes.
    pub cancel: CancellationToken,
}

/// Pause when every endpoint is disabled, before looking for a new set.
const IDLE_POLL: Duration = Duration::from_millis(100);

impl User {
    pub async fn run(self) {
        let mut rng = fastrand::Rng::with_seed(
            self.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ fastrand::u64(..),
        );
        let (mut generation, mut set) = self.shared.load();
        let mut conns: Vec<Option<Conn>> = new_conns(&set);
        while !self.cancel.is_cancelled() {
            if self.shared.generation() != generation {
                let (g, s) = self.shared.load();
                if s.origins != set.origins {
                    conns = new_conns(&s);
                }
                (generation, set) = (g, s);
            }
            let Some(i) = set.pick(&mut rng) else {
                self.pause(IDLE_POLL).await;
                continue;
            };
            let endpoint = &set.endpoints[i];
            let outcome = http::send(&mut conns[set.origin_of[i]], endpoint).await;
            let sample = Sample {
                row: set.rows[i],
                latency_us: outcome.latency_us,
                status: outcome.status,
                bytes: outcome.bytes,
                failure: outcome.failure,
            };
            self.recorder.record(sample, || outcome.describe(endpoint));
            // A request can fail without ever waiting (no file descriptors left, say); the
            // budget check makes such a loop yield so the runtime's other tasks still run.
            tokio::task::consume_budget().await;
            let think = set.wait.sample(rng.f64());
            if !think.is_zero() {
                let due = tokio::time::Instant::now() + think;
                self.pause(think).await;
                if !self.cancel.is_cancelled() {
                    let late = tokio::time::Instant::now().saturating_duration_since(due);
                    self.recorder.record_lateness(late.as_micros() as u64);
                }
            }
        }
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
