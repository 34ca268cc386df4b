//! Per-second history for charts, bounded in memory: when full, neighbouring points are
//! merged and the step doubles, so a long run keeps its whole shape at a coarser grain.

use serde::{Deserialize, Serialize};

/// How many points the history holds before it compresses.
pub const HISTORY_CAP: usize = 720;

/// One step of the history (one second until the history compresses).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// Seconds since the run started, at the start of this step.
    pub t: f64,
    pub rps: f64,
    pub fps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    /// Saved runs of older swarms have no p99.
    #[serde(default)]
    pub p99_ms: f64,
    pub users: u32,
    /// The streams that ended in this step, when any did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stream: Option<StreamPoint>,
}

/// A step's streamed responses: TTFT and ITL, and the events and tokens they brought.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct StreamPoint {
    pub ttft_p50_ms: f64,
    pub ttft_p99_ms: f64,
    pub itl_p99_ms: f64,
    pub events_per_s: f64,
    /// 0 when no endpoint counts tokens.
    pub tokens_per_s: f64,
}

#[derive(Debug, Clone)]
pub struct History {
    points: Vec<Point>,
    /// Seconds per point.
    step: u32,
    /// The unfinished last point and how many seconds it covers so far.
    pending: Option<(Point, u32)>,
}

impl Default for History {
    fn default() -> Self {
        History {
            points: Vec::new(),
            step: 1,
            pending: None,
        }
    }
}

impl History {
    /// The finished points followed by the unfinished one, if any.
    pub fn points(&self) -> Vec<Point> {
        let mut out = self.points.clone();
        out.extend(self.pending.map(|p| p.0));
        out
    }

    /// Seconds each point covers.
    pub(crate) fn step_secs(&self) -> u32 {
        self.step
    }

    /// Appends one second.
    pub fn push(&mut self, p: Point) {
        let (acc, n) = match self.pending.take() {
            Some((a, n)) => (merge(&a, &p, f64::from(n), 1.0), n + 1),
            None => (p, 1),
        };
        if n < self.step {
            self.pending = Some((acc, n));
            return;
        }
        self.points.push(acc);
        if self.points.len() >= HISTORY_CAP {
            self.points = self
                .points
                .chunks(2)
                .map(|c| {
                    if c.len() == 2 {
                        merge(&c[0], &c[1], 1.0, 1.0)
                    } else {
                        c[0]
                    }
                })
                .collect();
            self.step *= 2;
        }
    }
}

/// Weighted merge of `a` (covering `wa` seconds) and `b` (`wb` seconds).
fn merge(a: &Point, b: &Point, wa: f64, wb: f64) -> Point {
    let avg = |x: f64, y: f64| (x * wa + y * wb) / (wa + wb);
    Point {
        t: a.t,
        rps: avg(a.rps, b.rps),
        fps: avg(a.fps, b.fps),
        p50_ms: avg(a.p50_ms, b.p50_ms),
        p95_ms: a.p95_ms.max(b.p95_ms),
        p99_ms: a.p99_ms.max(b.p99_ms),
        users: a.users.max(b.users),
        stream: match (a.stream, b.stream) {
            (Some(x), Some(y)) => Some(StreamPoint {
                ttft_p50_ms: avg(x.ttft_p50_ms, y.ttft_p50_ms),
                ttft_p99_ms: x.ttft_p99_ms.max(y.ttft_p99_ms),
                itl_p99_ms: x.itl_p99_ms.max(y.itl_p99_ms),
                events_per_s: avg(x.events_per_s, y.events_per_s),
                tokens_per_s: avg(x.tokens_per_s, y.tokens_per_s),
            }),
            (Some(x), None) | (None, Some(x)) => Some(StreamPoint {
                events_per_s: x.events_per_s * if a.stream.is_some() { wa } else { wb } / (wa + wb),
                tokens_per_s: x.tokens_per_s * if a.stream.is_some() { wa } else { wb } / (wa + wb),
                ..x
            }),
            (None, None) => None,
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64) -> Point {
        Point {
            t,
            rps: t,
            fps: 0.0,
            p50_ms: 1.0,
            p95_ms: t,
            p99_ms: t,
            users: 1,
            stream: None,
        }
    }

    #[test]
    fn stays_bounded_and_keeps_the_whole_run() {
        let mut h = History::default();
        for s in 0..10_000 {
            h.push(point(s as f64));
        }
        assert!(h.points().len() <= HISTORY_CAP);
        assert_eq!(h.points()[0].t, 0.0);
        let points = h.points();
        let last = points.last().unwrap();
        assert!(
            last.t > 10_000.0 - 2.0 * h.step_secs() as f64,
            "last {} step {}",
            last.t,
            h.step_secs()
        );
        // Time stays increasing and evenly spaced.
        for w in h.points().windows(2) {
            assert_eq!(w[1].t - w[0].t, h.step_secs() as f64);
        }
    }

    #[test]
    fn compression_averages_rates() {
        let mut h = History::default();
        for s in 0..=HISTORY_CAP {
            h.push(point(s as f64));
        }
        assert_eq!(h.step_secs(), 2);
        assert_eq!(h.points()[0].rps, 0.5);
        assert_eq!(h.points()[0].p95_ms, 1.0);
    }
}
