//! A worker's segment of the whole swarm's load: worker `index` of `count` runs its share
//! of every figure (k6's execution segments, here equal ones). Users, budgets and
//! `fixed_count`s split as `Partition::users` splits them, so the shares add up exactly;
//! rates split evenly; ids, `{{seq}}` and data rows stride so they stay unique.

use crate::scenario::{Plan, Stride};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Segment {
    pub index: u32,
    pub count: u32,
}

impl Segment {
    /// This segment's share of `total` whole units (users, requests): the first
    /// `total % count` segments take one more, so the segments add up to `total`, each
    /// within one of its ideal share, and one unit more moves exactly one segment.
    pub fn share(&self, total: u64) -> u64 {
        let n = u64::from(self.count.max(1));
        total / n + u64::from(u64::from(self.index) < total % n)
    }

    pub fn users(&self, total: u32) -> u32 {
        self.share(u64::from(total)) as u32
    }

    /// This segment's part of a rate (users or iterations per second).
    pub fn rate(&self, total: f64) -> f64 {
        total / f64::from(self.count.max(1))
    }

    /// When this segment's first user of a ramp is due, after the ramp begins: the swarm
    /// ramps from `from` users to `to` at `rate` a second, user k (from 0) belonging to
    /// segment k mod count, as `users` splits them. Going up, the next user of this
    /// segment is the first k >= from of its own; going down, the newest, the last k <
    /// from. Each segment then moves one user every count/rate seconds (its share of the
    /// rate), so the segments add up to the swarm's count at every moment of the ramp.
    pub(crate) fn ramp_delay(&self, from: u32, to: u32, rate: f64) -> std::time::Duration {
        let n = i64::from(self.count.max(1));
        let i = i64::from(self.index);
        let steps = match to.cmp(&from) {
            std::cmp::Ordering::Greater => (i - i64::from(from)).rem_euclid(n),
            std::cmp::Ordering::Less => (i64::from(from) - 1 - i).rem_euclid(n),
            std::cmp::Ordering::Equal => 0,
        };
        if rate > 0.0 && rate.is_finite() {
            std::time::Duration::from_secs_f64(steps as f64 / rate)
        } else {
            std::time::Duration::ZERO
        }
    }

    /// The plan a worker of this segment runs.
    pub fn plan(&self, whole: &Plan) -> Plan {
        let mut p = whole.clone();
        let l = &mut p.load;
        l.users = self.users(l.users);
        // A worker's ramp takes as long as the whole swarm's (at least one user a minute
        // so a segment with no users still has a valid rate).
        l.spawn_rate = self.rate(l.spawn_rate).max(1.0 / 60.0);
        l.arrival_rate = l.arrival_rate.map(|r| self.rate(r));
        // The open model's cap on concurrent users: at least one each.
        l.max_users = self.users(l.max_users).max(1);
        l.max_requests = l.max_requests.map(|n| self.share(n));
        l.max_iterations = l.max_iterations.map(|n| self.share(n));
        l.swarm_stage_users = l.stages.iter().map(|s| s.users).collect();
        for s in &mut l.stages {
            s.users = self.users(s.users);
            s.spawn_rate = s.spawn_rate.map(|r| self.rate(r).max(1.0 / 60.0));
            s.arrival_rate = s.arrival_rate.map(|r| self.rate(r));
        }
        for t in &mut p.user_types {
            t.fixed_count = self.users(t.fixed_count);
        }
        p.ids = Stride {
            offset: u64::from(self.index),
            step: u64::from(self.count.max(1)),
        };
        p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Simulates the ramps: every segment moves its users one at a time, count/rate
    /// apart, from its delay on; at every instant the segments add up to the swarm's
    /// count, which moves one user every 1/rate from the ramp's start.
    #[test]
    fn ramps_add_up_at_every_moment() {
        let rate = 10.0;
        for count in 1..=5u32 {
            for (from, to) in [(0u32, 23u32), (23, 7), (7, 8), (8, 0), (3, 3), (5, 17)] {
                let held: Vec<u32> = (0..count)
                    .map(|index| Segment { index, count }.users(from))
                    .collect();
                for tick in 0..400u32 {
                    // Just after t = tick / (4 rate), by whole quarter steps.
                    let t = (f64::from(tick) + 0.5) / (4.0 * rate);
                    let mut sum = 0i64;
                    for (index, &start) in held.iter().enumerate() {
                        let seg = Segment {
                            index: index as u32,
                            count,
                        };
                        let delay = seg.ramp_delay(from, to, rate).as_secs_f64();
                        let target = seg.users(to);
                        let moved = if t < delay {
                            0
                        } else {
                            1 + ((t - delay) * rate / f64::from(count)) as i64
                        };
                        let diff = i64::from(target) - i64::from(start);
                        sum += i64::from(start) + diff.signum() * moved.min(diff.abs());
                    }
                    let steps = 1 + (t * rate) as i64;
                    let diff = i64::from(to) - i64::from(from);
                    let whole = i64::from(from) + diff.signum() * steps.min(diff.abs());
                    assert_eq!(sum, whole, "{count} segments, {from} -> {to}, t = {t}");
                }
            }
        }
    }

    #[test]
    fn shares_add_up_and_a_ramp_moves_one_worker_at_a_time() {
        for count in 1..=7u32 {
            let mut before = vec![0u32; count as usize];
            for total in 0..60u32 {
                let shares: Vec<u32> = (0..count)
                    .map(|index| Segment { index, count }.users(total))
                    .collect();
                assert_eq!(shares.iter().sum::<u32>(), total);
                let ideal = f64::from(total) / f64::from(count);
                assert!(shares.iter().all(|s| (f64::from(*s) - ideal).abs() < 1.0));
                // One more user in the swarm is one more on exactly one worker.
                let grew: Vec<u32> = shares.iter().zip(&before).map(|(a, b)| a - b).collect();
                assert_eq!(grew.iter().sum::<u32>(), total.min(1));
                before = shares;
            }
        }
    }

    #[test]
    fn ids_stride_without_overlap() {
        let plan = crate::scenario::Plan::for_url("http://127.0.0.1:1/").unwrap();
        let mut seen = std::collections::HashSet::new();
        for index in 0..3 {
            let ids = Segment { index, count: 3 }.plan(&plan).ids;
            for i in 0..10 {
                assert!(seen.insert(ids.nth(i)));
            }
        }
        assert_eq!(seen.len(), 30);
        assert!((0..30).all(|n| seen.contains(&n)));
    }
}
