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
