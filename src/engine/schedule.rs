//! The load schedule's arithmetic, as pure functions of the plan and of time since a
//! start (a `Duration`, not an `Instant`), so it is tested without tokio and shared by
//! every process that runs a share of the same load:
//!
//! - `RateCourse`: the open model's arrival rate over time, linear pieces through rate
//!   stages, and when each iteration is due (where the rate's integral reaches the next
//!   whole number).
//! - `Partition`: a split of the whole load into segments (k6's execution segments): the
//!   users and the arrivals each segment runs, such that the segments of a partition add
//!   up exactly to the whole and every segment stays within one of its ideal share at
//!   every count.

use crate::scenario::Stage;
use std::time::Duration;

/// How far ahead the next arrival is looked for; a rate that stays at zero longer than
/// this means no arrival until the rate changes.
const HORIZON: Duration = Duration::from_secs(7 * 24 * 3600);

/// The arrival rate from a moment on: `start` at time 0, then each piece ramps linearly to
/// its rate over its length; after the last piece the rate holds.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct RateCourse {
    pub start: f64,
    /// (length, rate at its end).
    pub pieces: Vec<(Duration, f64)>,
}

impl RateCourse {
    /// A rate that never changes.
    pub fn constant(rate: f64) -> RateCourse {
        RateCourse {
            start: rate,
            pieces: Vec::new(),
        }
    }

    /// The course from the start of rate stage `from` on: `base` is the rate before the
    /// first stage (`[load].arrival_rate`); a stage without a rate holds the one before.
    pub(crate) fn of_stages(base: f64, stages: &[Stage], from: usize) -> RateCourse {
        let rate_before = |i: usize| match i {
            0 => base,
            _ => stages[..i]
                .iter()
                .rev()
                .find_map(|s| s.arrival_rate)
                .unwrap_or(base),
        };
        let start = rate_before(from);
        let mut previous = start;
        let pieces = stages
            .iter()
            .skip(from)
            .map(|s| {
                previous = s.arrival_rate.unwrap_or(previous);
                (s.duration, previous)
            })
            .collect();
        RateCourse { start, pieces }
    }

    /// The rate at `t`.
    pub(crate) fn rate_at(&self, t: Duration) -> f64 {
        let mut at = Duration::ZERO;
        let mut r = self.start;
        for &(len, end_rate) in &self.pieces {
            if t < at + len {
                let frac = (t - at).as_secs_f64() / len.as_secs_f64();
                return r + (end_rate - r) * frac;
            }
            at += len;
            r = end_rate;
        }
        r
    }

    #[cfg(test)]
    /// Iterations due from 0 to `t`: the rate's integral.
    fn arrivals_by(&self, t: Duration) -> f64 {
        let mut at = Duration::ZERO;
        let mut r = self.start;
        let mut sum = 0.0;
        for &(len, end_rate) in &self.pieces {
            if t <= at {
                return sum;
            }
            let span = (t - at).min(len).as_secs_f64();
            let r_then = r + (end_rate - r) * span / len.as_secs_f64().max(f64::MIN_POSITIVE);
            sum += (r + r_then) / 2.0 * span;
            at += len;
            r = end_rate;
        }
        sum + r * t.saturating_sub(at).as_secs_f64()
    }

    /// When the integral since `from` reaches `need` (1 for the next iteration after one at
    /// `from`); exact for linear ramps. None when the rate stays at zero past the horizon.
    pub(crate) fn next_after(&self, from: Duration, need: f64) -> Option<Duration> {
        let mut need = need;
        let mut t = from;
        let mut r = self.rate_at(from);
        let mut at = Duration::ZERO;
        let ends = self
            .pieces
            .iter()
            .map(|&(len, rate)| {
                at += len;
                (Some(at), rate)
            })
            .chain(std::iter::once((None, self.final_rate())));
        for (end, r_end) in ends {
            let end = end.unwrap_or(t + HORIZON);
            if end <= t {
                r = r_end;
                continue;
            }
            let len = (end - t).as_secs_f64();
            let area = (r + r_end) / 2.0 * len;
            if area >= need {
                // Solve r·x + slope·x²/2 = need in a form that holds for any slope.
                let slope = (r_end - r) / len;
                let root = (r * r + 2.0 * slope * need).max(0.0).sqrt();
                let x = 2.0 * need / (r + root);
                if x.is_finite() {
                    return Some(t + Duration::from_secs_f64(x.min(len)));
                }
            }
            need -= area;
            t = end;
            r = r_end;
        }
        None
    }

    fn final_rate(&self) -> f64 {
        self.pieces.last().map_or(self.start, |p| p.1)
    }
}

/// Where a plan of stages is at `clock` (time since the start, without the time the plan
/// was paused): the stage's index and how long it has run, or None once every stage is
/// over (the last stage's target then holds).
pub(crate) fn stage_at(stages: &[Stage], clock: Duration) -> Option<(usize, Duration)> {
    let mut start = Duration::ZERO;
    for (i, s) in stages.iter().enumerate() {
        if clock < start + s.duration {
            return Some((i, clock - start));
        }
        start += s.duration;
    }
    None
}

/// When stage `i` begins on the plan's clock.
pub(crate) fn stage_start(stages: &[Stage], i: usize) -> Duration {
    stages[..i.min(stages.len())]
        .iter()
        .map(|s| s.duration)
        .sum()
}

#[cfg(test)]
/// The closed model's target at `clock`: the stage's users, the last stage's once the
/// plan is over, or `users` without stages.
fn users_at(users: u32, stages: &[Stage], clock: Duration) -> u32 {
    match stage_at(stages, clock) {
        Some((i, _)) => stages[i].users,
        None => stages.last().map_or(users, |s| s.users),
    }
}

/// A split of the load into segments, given by its cut points `0 = c0 < c1 < … < ck = 1`;
/// segment `i` is the share from `c(i)` to `c(i+1)`. Every process of a distributed run
/// knows the whole partition and its own index, and computes the same answers.
#[derive(Debug, Clone, PartialEq)]
pub struct Partition {
    cuts: Vec<f64>,
}

impl Partition {
    /// From cut points strictly between 0 and 1, in increasing order.
    pub fn new(inner: &[f64]) -> Result<Partition, String> {
        let mut cuts = vec![0.0];
        for &c in inner {
            if !(c > *cuts.last().unwrap_or(&0.0) && c < 1.0) {
                return Err(format!(
                    "segment cuts must rise strictly between 0 and 1; {c} does not"
                ));
            }
            cuts.push(c);
        }
        cuts.push(1.0);
        Ok(Partition { cuts })
    }

    /// `n` equal segments.
    pub fn equal(n: usize) -> Partition {
        let n = n.max(1);
        Partition {
            cuts: (0..=n).map(|i| i as f64 / n as f64).collect(),
        }
    }

    pub fn len(&self) -> usize {
        self.cuts.len() - 1
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn share(&self, i: usize) -> f64 {
        self.cuts[i + 1] - self.cuts[i]
    }

    /// Which segment the next unit goes to, given how many each has: the one furthest
    /// below its share (ties to the first).
    fn next(&self, counts: &[u64]) -> usize {
        let n: u64 = counts.iter().sum::<u64>() + 1;
        (0..self.len())
            .map(|i| (i, n as f64 * self.share(i) - counts[i] as f64))
            .fold((0, f64::MIN), |best, c| if c.1 > best.1 { c } else { best })
            .0
    }

    /// The users each segment runs when the whole run has `total`: they add up to
    /// `total`, each within one of its share.
    pub fn users(&self, total: u32) -> Vec<u32> {
        let mut counts = vec![0u64; self.len()];
        for _ in 0..total {
            let i = self.next(&counts);
            counts[i] += 1;
        }
        counts.into_iter().map(|c| c as u32).collect()
    }

    #[cfg(test)]
    /// The segment that runs each of the whole run's arrivals, in order: every arrival
    /// goes to exactly one, and after any number of them each segment has had within one
    /// of its share.
    fn owners(&self) -> impl Iterator<Item = usize> + '_ {
        let mut counts = vec![0u64; self.len()];
        std::iter::from_fn(move || {
            let i = self.next(&counts);
            counts[i] += 1;
            Some(i)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(secs: u64) -> Duration {
        Duration::from_secs(secs)
    }

    fn stage(rate: Option<f64>, secs: u64) -> Stage {
        Stage {
            users: 0,
            duration: s(secs),
            spawn_rate: None,
            arrival_rate: rate,
        }
    }

    #[test]
    fn a_constant_rate_starts_an_iteration_every_period() {
        let c = RateCourse::constant(4.0);
        assert_eq!(c.next_after(s(0), 1.0), Some(Duration::from_millis(250)));
        assert_eq!(c.arrivals_by(s(10)), 40.0);
        assert_eq!(RateCourse::constant(0.0).next_after(s(0), 1.0), None);
    }

    #[test]
    fn ramps_are_linear_and_their_integral_is_exact() {
        // 0 → 10/s over 10 s, then hold: 50 iterations in the ramp, 10 a second after.
        let c = RateCourse::of_stages(0.0, &[stage(Some(10.0), 10)], 0);
        assert_eq!(c.rate_at(s(5)), 5.0);
        assert_eq!(c.rate_at(s(20)), 10.0);
        assert!((c.arrivals_by(s(10)) - 50.0).abs() < 1e-9);
        assert!((c.arrivals_by(s(12)) - 70.0).abs() < 1e-9);
        // The first iteration is due where t²/2 = 1: √2 s.
        let first = c.next_after(s(0), 1.0).unwrap().as_secs_f64();
        assert!((first - 2f64.sqrt()).abs() < 1e-6, "{first}");
        // Walking arrival after arrival gives the integral's count.
        let mut t = Duration::ZERO;
        let mut n = 0;
        while let Some(next) = c.next_after(t, 1.0).filter(|x| *x <= s(12)) {
            t = next;
            n += 1;
        }
        assert_eq!(n, 70);
    }

    #[test]
    fn a_stage_without_a_rate_holds_the_one_before() {
        let stages = [stage(Some(10.0), 5), stage(None, 5), stage(Some(0.0), 5)];
        let c = RateCourse::of_stages(2.0, &stages, 1);
        assert_eq!(c.start, 10.0);
        assert_eq!(c.rate_at(s(3)), 10.0);
        assert_eq!(c.rate_at(Duration::from_millis(7500)), 5.0);
        assert_eq!(c.rate_at(s(60)), 0.0);
        // After the ramp down to 0 nothing more is due.
        assert_eq!(c.next_after(s(11), 1000.0), None);
    }

    #[test]
    fn stages_follow_the_plan_clock() {
        let users = |n: u32, secs: u64| Stage {
            users: n,
            duration: s(secs),
            spawn_rate: None,
            arrival_rate: None,
        };
        let plan = [users(10, 60), users(50, 300), users(0, 30)];
        assert_eq!(stage_at(&plan, s(0)), Some((0, s(0))));
        assert_eq!(stage_at(&plan, s(59)), Some((0, s(59))));
        assert_eq!(stage_at(&plan, s(60)), Some((1, s(0))));
        assert_eq!(stage_at(&plan, s(365)), Some((2, s(5))));
        assert_eq!(stage_at(&plan, s(390)), None);
        assert_eq!(stage_start(&plan, 2), s(360));
        assert_eq!(users_at(7, &plan, s(100)), 50);
        assert_eq!(
            users_at(7, &plan, s(1000)),
            0,
            "the last stage's target holds"
        );
        assert_eq!(users_at(7, &[], s(1000)), 7);
        // A pause is time the plan's clock does not count: 10 s paused at 55 s leaves
        // the plan in stage 0 at 65 s of wall time.
        let paused = s(10);
        assert_eq!(stage_at(&plan, s(65) - paused), Some((0, s(55))));
    }

    #[test]
    fn partitions_refuse_cuts_out_of_order() {
        assert!(Partition::new(&[0.5, 0.3]).is_err());
        assert!(Partition::new(&[0.0]).is_err());
        assert!(Partition::new(&[1.0]).is_err());
        assert_eq!(Partition::new(&[]).unwrap().len(), 1);
    }

    /// For random partitions and counts, the segments' users sum exactly to the whole,
    /// and every prefix of the arrivals leaves each segment within one of its share.
    #[test]
    fn segments_add_up_exactly_and_stay_within_one_of_their_share() {
        let mut rng = fastrand::Rng::with_seed(7);
        for _ in 0..200 {
            let k = rng.usize(1..8);
            let mut inner: Vec<f64> = (0..k - 1).map(|_| rng.f64()).collect();
            inner.sort_by(f64::total_cmp);
            inner.dedup();
            let Ok(p) = Partition::new(&inner.into_iter().filter(|c| *c > 0.0).collect::<Vec<_>>())
            else {
                continue;
            };
            let total = rng.u32(0..2000);
            let users = p.users(total);
            assert_eq!(
                users.iter().map(|&u| u64::from(u)).sum::<u64>(),
                u64::from(total)
            );
            for (i, &u) in users.iter().enumerate() {
                let ideal = f64::from(total) * p.share(i);
                assert!(
                    (f64::from(u) - ideal).abs() < 1.0,
                    "{p:?} {total}: {users:?}"
                );
            }
            let mut seen = vec![0u64; p.len()];
            for (n, owner) in p.owners().take(3000).enumerate() {
                seen[owner] += 1;
                for (i, &c) in seen.iter().enumerate() {
                    let ideal = (n + 1) as f64 * p.share(i);
                    assert!(
                        (c as f64 - ideal).abs() < 1.0,
                        "{p:?} after {}: {seen:?}",
                        n + 1
                    );
                }
            }
        }
    }

    #[test]
    fn equal_halves_take_turns() {
        let p = Partition::equal(2);
        assert_eq!(p.owners().take(6).collect::<Vec<_>>(), [0, 1, 0, 1, 0, 1]);
        assert_eq!(p.users(5), vec![3, 2]);
    }
}
