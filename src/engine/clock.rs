//! What a run's snapshot says about time, and how a snapshot goes out, whoever runs the
//! load: the local engine's controller and a cluster's coordinator both keep a `RunClock`
//! and publish through `publish`.
//!
//! The clock is a pure function of the instants it is told (the start, a statistics
//! reset, the load plan's pauses, the stop), so it is tested under tokio's paused clock.

use crate::stats::{RunState, Snapshot, Stats};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::watch;
use tokio::time::Instant;

/// A run's clock: its start, the start of its statistics, the plan's pauses, its end.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RunClock {
    start: Instant,
    stats_start: Instant,
    end: Option<Instant>,
    /// Since when the load plan is paused (its stages and the run time hold).
    paused_at: Option<Instant>,
    /// How long the plan has been paused, all pauses together.
    paused_total: Duration,
}

impl RunClock {
    /// A run that starts at `at`.
    pub fn starting(at: Instant) -> RunClock {
        RunClock {
            start: at,
            stats_start: at,
            end: None,
            paused_at: None,
            paused_total: Duration::ZERO,
        }
    }

    /// The statistics start again (the run's clock goes on).
    pub(crate) fn reset_stats(&mut self, at: Instant) {
        self.stats_start = at;
    }

    /// The run has stopped at `at`: its figures stay as they were then.
    pub fn stop(&mut self, at: Instant) {
        self.end = Some(at);
    }

    /// Pauses the plan; false when it was paused already.
    pub fn pause(&mut self, at: Instant) -> bool {
        if self.paused_at.is_some() {
            return false;
        }
        self.paused_at = Some(at);
        true
    }

    /// Resumes the plan; how long it was held, when it was paused.
    pub(crate) fn resume(&mut self, at: Instant) -> Option<Duration> {
        let held = at.saturating_duration_since(self.paused_at.take()?);
        self.paused_total += held;
        Some(held)
    }

    pub fn paused_at(&self) -> Option<Instant> {
        self.paused_at
    }

    /// The plan's time at `at`: the run's time without its pauses, stopped at the run's
    /// end and while paused.
    pub(crate) fn plan_time(&self, at: Instant) -> Duration {
        let until = self.end.map_or(at, |e| e.min(at));
        let until = self.paused_at.map_or(until, |p| p.min(until));
        until
            .saturating_duration_since(self.start)
            .saturating_sub(self.paused_total)
    }

    /// The instant the plan's time counts from (the start, moved on by past pauses).
    pub(crate) fn plan_origin(&self) -> Instant {
        self.start + self.paused_total
    }

    /// What the statistics cover at `at`: from their start to the run's end or `at`.
    pub fn elapsed(&self, at: Instant) -> Duration {
        self.end
            .unwrap_or(at)
            .saturating_duration_since(self.stats_start)
    }

    /// When a run of `run_time` ends, while the plan is not paused.
    pub fn deadline(&self, run_time: Duration) -> Option<Instant> {
        self.paused_at
            .is_none()
            .then(|| self.plan_origin() + run_time)
    }
}

/// Fills in the statistics of a snapshot whose run figures are set, as of `now`; nothing
/// is current once the run has stopped (its averages stay).
pub(crate) fn with_stats(mut snap: Snapshot, stats: &Stats, now: Instant) -> Snapshot {
    let elapsed = snap.elapsed;
    stats.fill(&mut snap, elapsed, now.into_std());
    if snap.state == RunState::Stopped {
        for r in snap.rows.iter_mut().chain(std::iter::once(&mut snap.total)) {
            (r.current_rps, r.current_fps) = (0.0, 0.0);
        }
    }
    snap
}

/// Sends the snapshot to every watcher, unless it equals the last one (an idle screen is
/// then not redrawn).
pub(crate) fn publish(to: &watch::Sender<Arc<Snapshot>>, snap: Snapshot) {
    to.send_if_modified(|old| {
        let changed = **old != snap;
        if changed {
            *old = Arc::new(snap);
        }
        changed
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: fn(u64) -> Duration = Duration::from_secs;

    #[tokio::test(start_paused = true)]
    async fn the_plan_s_time_stops_while_paused_and_at_the_end() {
        let t0 = Instant::now();
        let mut c = RunClock::starting(t0);
        assert_eq!(c.plan_time(t0 + S(10)), S(10));
        assert!(c.pause(t0 + S(10)));
        assert!(!c.pause(t0 + S(11)), "a second pause changes nothing");
        assert_eq!(c.plan_time(t0 + S(15)), S(10));
        assert_eq!(c.deadline(S(60)), None, "no deadline while paused");
        assert_eq!(c.resume(t0 + S(20)), Some(S(10)));
        assert_eq!(c.resume(t0 + S(21)), None);
        assert_eq!(c.plan_time(t0 + S(25)), S(15));
        assert_eq!(c.plan_origin(), t0 + S(10));
        assert_eq!(c.deadline(S(60)), Some(t0 + S(70)));
        c.stop(t0 + S(30));
        assert_eq!(c.plan_time(t0 + S(99)), S(20));
        assert_eq!(c.elapsed(t0 + S(99)), S(30));
    }

    #[tokio::test(start_paused = true)]
    async fn a_statistics_reset_moves_elapsed_but_not_the_plan() {
        let t0 = Instant::now();
        let mut c = RunClock::starting(t0);
        tokio::time::advance(S(5)).await;
        c.reset_stats(Instant::now());
        tokio::time::advance(S(3)).await;
        let now = Instant::now();
        assert_eq!(c.elapsed(now), S(3));
        assert_eq!(c.plan_time(now), S(8));
    }

    #[tokio::test(start_paused = true)]
    async fn a_start_in_the_future_counts_nothing_yet() {
        let now = Instant::now();
        let c = RunClock::starting(now + S(1));
        assert_eq!(c.elapsed(now), Duration::ZERO);
        assert_eq!(c.plan_time(now), Duration::ZERO);
    }

    #[test]
    fn an_unchanged_snapshot_is_not_sent_and_a_stopped_one_has_nothing_current() {
        let (tx, mut rx) = watch::channel(Arc::new(Snapshot::default()));
        publish(&tx, Snapshot::default());
        assert!(!rx.has_changed().unwrap());
        let stats = Stats::new(std::time::Instant::now());
        let mut snap = Snapshot {
            state: RunState::Stopped,
            ..Snapshot::default()
        };
        snap.total.current_rps = 5.0;
        let snap = with_stats(snap, &stats, Instant::now());
        assert_eq!(snap.total.current_rps, 0.0);
        publish(&tx, snap);
        assert!(rx.has_changed().unwrap());
        assert_eq!(rx.borrow_and_update().state, RunState::Stopped);
    }
}
