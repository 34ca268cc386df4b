//! The open model's hand-off between the schedule and the users: the control task pushes
//! each iteration's intended start time; idle users take them in order. An iteration that
//! finds no free user within the queue timeout is dropped and counted (k6's dropped
//! iterations).

use std::collections::VecDeque;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::time::Duration;
use tokio::sync::Notify;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// Beyond this many waiting iterations, new ones are dropped at once (bounds memory when
/// the rate is far beyond what the users can start).
const MAX_WAITING: usize = 1_000_000;

pub struct OpenQueue {
    pending: Mutex<VecDeque<Instant>>,
    notify: Notify,
    /// Users not running an iteration, including those spawned but not yet polled.
    idle: AtomicUsize,
    dropped: AtomicU64,
    timeout: Duration,
}

impl OpenQueue {
    pub fn new(timeout: Duration) -> Self {
        OpenQueue {
            pending: Mutex::new(VecDeque::new()),
            notify: Notify::new(),
            idle: AtomicUsize::new(0),
            dropped: AtomicU64::new(0),
            timeout,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, VecDeque<Instant>> {
        self.pending.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Schedules an iteration intended to start at `at`.
    pub fn push(&self, at: Instant) {
        {
            let mut q = self.lock();
            if q.len() >= MAX_WAITING {
                self.dropped.fetch_add(1, Ordering::Relaxed);
                return;
            }
            q.push_back(at);
        }
        self.notify.notify_one();
    }

    /// Takes the oldest iteration still within the timeout, dropping the expired ones.
    fn pop(&self, now: Instant) -> Option<Instant> {
        let mut q = self.lock();
        self.expire(&mut q, now);
        q.pop_front()
    }

    fn expire(&self, q: &mut VecDeque<Instant>, now: Instant) {
        while let Some(&front) = q.front() {
            if now.saturating_duration_since(front) <= self.timeout {
                break;
            }
            q.pop_front();
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Drops the iterations that waited too long, so the count rises even while every
    /// user is stuck.
    pub(crate) fn expire_now(&self, now: Instant) {
        let mut q = self.lock();
        self.expire(&mut q, now);
    }

    /// Forgets waiting iterations (at a stop: they were never due to run).
    pub fn clear(&self) {
        self.lock().clear();
    }

    pub fn waiting(&self) -> usize {
        self.lock().len()
    }

    pub fn idle(&self) -> usize {
        self.idle.load(Ordering::Relaxed)
    }

    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    pub fn reset_dropped(&self) {
        self.dropped.store(0, Ordering::Relaxed);
    }

    /// Counts a user about to be spawned as idle, so the schedule does not spawn another
    /// for the same iteration before it is polled.
    pub(crate) fn add_idle_user(&self) {
        self.idle.fetch_add(1, Ordering::Relaxed);
    }

    /// Marks the calling user idle again after an iteration.
    pub fn done(&self) {
        self.idle.fetch_add(1, Ordering::Relaxed);
    }

    /// Waits for the next iteration; None once `cancel` fires. The caller must be counted
    /// idle (spawned through `add_idle_user`, or after `done`); taking an iteration makes
    /// it busy.
    pub async fn next(&self, cancel: &CancellationToken) -> Option<Instant> {
        loop {
            let notified = self.notify.notified();
            tokio::pin!(notified);
            notified.as_mut().enable();
            if cancel.is_cancelled() {
                self.idle.fetch_sub(1, Ordering::Relaxed);
                return None;
            }
            if let Some(at) = self.pop(Instant::now()) {
                self.idle.fetch_sub(1, Ordering::Relaxed);
                return Some(at);
            }
            tokio::select! {
                _ = notified => {}
                _ = cancel.cancelled() => {}
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn expired_iterations_are_dropped() {
        let q = OpenQueue::new(Duration::from_secs(1));
        let t0 = Instant::now();
        q.push(t0);
        q.push(t0 + Duration::from_millis(1500));
        q.expire_now(t0 + Duration::from_secs(2));
        assert_eq!((q.waiting(), q.dropped()), (1, 1));
        q.add_idle_user();
        let cancel = CancellationToken::new();
        tokio::time::advance(Duration::from_secs(2)).await;
        // The second one is now 0.5 s late: still within the timeout.
        assert_eq!(
            q.next(&cancel).await,
            Some(t0 + Duration::from_millis(1500))
        );
        assert_eq!(q.idle(), 0);
        q.done();
        cancel.cancel();
        assert_eq!(q.next(&cancel).await, None);
        assert_eq!(q.idle(), 0);
    }
}
