//! The runner: one process's users and the shards they record into. It starts users of
//! the type the dispatcher picks, stops the newest first, swaps what they run, and hands
//! over what they recorded: merged straight into this process's statistics, or as a
//! `Delta` for another process to merge. The controller decides when (the schedule); the
//! statistics build the snapshots.

use super::dispatch::{Share, next_type};
use super::endpoints::{EndpointSet, SharedEndpoints, Workload};
use super::open::OpenQueue;
use super::session::RunShared;
use super::user::User;
use crate::scenario::{Endpoint, Load, Plan, Wait};
use crate::stats::{Delta, RowKey, Shards, Stats, TypeCount};
use std::sync::Arc;
use tokio::task::JoinSet;
use tokio_util::sync::CancellationToken;

pub struct Runner {
    /// The user types and what each runs (one implicit type without `[[users]]`; the TUI
    /// replaces its endpoints).
    types: Vec<TypeRun>,
    /// How many users of each type run now, and the most at once in this run.
    type_counts: Vec<u32>,
    type_peaks: Vec<u32>,
    /// The scenario has `[[users]]`: snapshots say how many of each type run.
    named_types: bool,
    /// Active users, oldest first: what cancels each, and its type.
    users: Vec<(CancellationToken, usize)>,
    pub tasks: JoinSet<()>,
    next_user: u64,
    /// Which user ids this process gives out (every one, or a worker's segment's).
    ids: crate::scenario::Stride,
    pub shards: Arc<Shards>,
}

impl Runner {
    pub fn new(plan: &Plan, stats: &mut Stats, shards: Arc<Shards>) -> Runner {
        let types = type_runs(plan, stats, &plan.load);
        Runner {
            type_counts: vec![0; types.len()],
            type_peaks: vec![0; types.len()],
            named_types: !plan.user_types.is_empty(),
            types,
            users: Vec::new(),
            tasks: JoinSet::new(),
            next_user: 0,
            ids: plan.ids,
            shards,
        }
    }

    /// Names the plan's rows in `stats` in the order one process lists them, without a
    /// runner (a cluster's coordinator, whose users run on its workers).
    pub(crate) fn register_rows(plan: &Plan, stats: &mut Stats) {
        type_runs(plan, stats, &plan.load);
    }

    /// Which ids this process gives out: a worker's segment is every `step`-th from
    /// `offset`.
    pub(crate) fn stride(&self) -> crate::scenario::Stride {
        self.ids
    }

    pub fn len(&self) -> usize {
        self.users.len()
    }

    pub fn is_empty(&self) -> bool {
        self.users.is_empty()
    }

    /// Starts one user, of the type the dispatcher picks.
    pub fn spawn(&mut self, run: &Arc<RunShared>, open: Option<Arc<OpenQueue>>) {
        let cancel = CancellationToken::new();
        let shares: Vec<Share> = self.types.iter().map(|t| t.share).collect();
        let t = next_type(&shares, &self.type_counts);
        self.type_counts[t] += 1;
        self.type_peaks[t] = self.type_peaks[t].max(self.type_counts[t]);
        let user = User {
            id: self.ids.nth(self.next_user),
            shared: Arc::clone(&self.types[t].shared),
            run: Arc::clone(run),
            recorder: self.shards.recorder(self.next_user),
            cancel: cancel.clone(),
            open,
        };
        self.next_user += 1;
        self.tasks.spawn(user.run());
        self.users.push((cancel, t));
    }

    /// Stops the newest user; false when none runs.
    pub(crate) fn stop_newest(&mut self) -> bool {
        let Some((token, t)) = self.users.pop() else {
            return false;
        };
        token.cancel();
        self.type_counts[t] = self.type_counts[t].saturating_sub(1);
        true
    }

    /// Stops every user (their tasks end in their own time).
    pub(crate) fn stop_all(&mut self) {
        for (token, _) in self.users.drain(..) {
            token.cancel();
        }
        self.type_counts.iter_mut().for_each(|c| *c = 0);
    }

    /// A new run: the most at once starts from zero.
    pub(crate) fn reset_peaks(&mut self) {
        self.type_peaks.iter_mut().for_each(|p| *p = 0);
    }

    /// The TUI's endpoint edits: the endpoints of the first (the implicit) type.
    pub(crate) fn replace_endpoints(
        &mut self,
        endpoints: Vec<Endpoint>,
        stats: &mut Stats,
        wait: Wait,
    ) {
        self.types[0].work.endpoints = endpoints;
        self.rebuild_sets(stats, wait);
    }

    /// Every type's set again, from its workload and think time (`wait` is `[load]`'s).
    pub(crate) fn rebuild_sets(&mut self, stats: &mut Stats, wait: Wait) {
        stats.retire_rows();
        for t in &self.types {
            let set = endpoint_set(stats, &t.work, t.wait.unwrap_or(wait));
            t.shared.replace(set);
        }
    }

    /// A whole new workload. Types that stay keep their shared sets (their users pick up
    /// the new one); users of a type that is gone go on, and no new one starts.
    pub(crate) fn set_workload(&mut self, plan: &Plan, stats: &mut Stats, load: &Load) {
        stats.retire_rows();
        let fresh = type_runs(plan, stats, load);
        let kept = fresh.len();
        for (i, t) in fresh.into_iter().enumerate() {
            match self.types.get_mut(i) {
                Some(old) => {
                    (old.name, old.share, old.wait, old.work) = (t.name, t.share, t.wait, t.work);
                }
                None => self.types.push(t),
            }
        }
        self.type_counts.resize(self.types.len(), 0);
        self.type_peaks.resize(self.types.len(), 0);
        for gone in self.types.iter_mut().skip(kept) {
            gone.share = Share {
                weight: 0,
                fixed: 0,
            };
        }
        self.named_types = !plan.user_types.is_empty();
        self.rebuild_sets(stats, load.wait);
    }

    /// How many users of each type run, for the snapshot (empty without `[[users]]`).
    pub(crate) fn type_counts(&self) -> Vec<TypeCount> {
        if !self.named_types {
            return Vec::new();
        }
        self.types
            .iter()
            .zip(&self.type_counts)
            .zip(&self.type_peaks)
            .filter(|((t, _), _)| {
                t.share
                    != Share {
                        weight: 0,
                        fixed: 0,
                    }
            })
            .map(|((t, n), peak)| TypeCount {
                name: t.name.clone(),
                users: *n,
                peak: *peak,
            })
            .collect()
    }

    /// What the users recorded since the last drain, as one `Delta` keyed by row (for a
    /// coordinator in another process; `keys` are the statistics' row keys).
    pub(crate) fn take_delta(&self, keys: &[RowKey]) -> Delta {
        let mut all = Delta::default();
        self.shards.drain(|shard| {
            let d = Delta::take(shard, keys);
            all.rows.extend(d.rows);
            all.failures.extend(d.failures);
            if let Some(late) = d.lateness {
                match &mut all.lateness {
                    Some(h) => h.add(&late).expect("auto-resizing histogram"),
                    None => all.lateness = Some(late),
                }
            }
        });
        all
    }
}

/// One user type of the run.
struct TypeRun {
    name: String,
    share: Share,
    /// The type's own think time; None follows `[load].wait`.
    wait: Option<Wait>,
    work: Workload,
    /// The set its users pick from, swapped when it changes.
    shared: Arc<SharedEndpoints>,
}

/// The plan's user types: its `[[users]]`, or one implicit type of the top-level tasks.
fn type_runs(plan: &Plan, stats: &mut Stats, load: &Load) -> Vec<TypeRun> {
    let implicit = || crate::scenario::UserType {
        name: "user".into(),
        weight: 1,
        fixed_count: 0,
        wait: None,
        endpoints: plan.endpoints.clone(),
        flows: plan.flows.clone(),
        on_start: plan.on_start.clone(),
        on_stop: plan.on_stop.clone(),
        tags: Vec::new(),
    };
    let types = if plan.user_types.is_empty() {
        vec![implicit()]
    } else {
        plan.user_types.clone()
    };
    types
        .into_iter()
        .map(|t| {
            let work = Workload {
                endpoints: t.endpoints,
                flows: t.flows,
                on_start: t.on_start,
                on_stop: t.on_stop,
            };
            let set = endpoint_set(stats, &work, t.wait.unwrap_or(load.wait));
            TypeRun {
                name: t.name,
                share: Share {
                    weight: t.weight,
                    fixed: t.fixed_count,
                },
                wait: t.wait,
                work,
                shared: Arc::new(SharedEndpoints::new(set)),
            }
        })
        .collect()
}

fn endpoint_set(stats: &mut Stats, work: &Workload, wait: Wait) -> EndpointSet {
    // Rows in the order a user meets them: on_start steps first.
    for e in &work.on_start {
        stats.row_for(e.method.as_str(), &e.name);
    }
    let rows = work
        .requests()
        .map(|e| stats.row_for(e.method.as_str(), &e.name))
        .collect();
    EndpointSet::from_workload(work, rows, wait)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::Sample;

    #[test]
    fn what_the_users_recorded_goes_out_as_a_delta_another_process_can_merge() {
        let plan = Plan::parse(
            "host = \"http://127.0.0.1:9\"\n[[endpoints]]\npath = \"/a\"\n[[endpoints]]\npath = \"/b\"\n",
            "t.toml",
        )
        .unwrap();
        let start = std::time::Instant::now();
        let mut here = Stats::new(start);
        let runner = Runner::new(&plan, &mut here, Shards::new(4));
        for user in 0..8u64 {
            let r = runner.shards.recorder(user);
            for i in 0..25u64 {
                r.record(
                    Sample {
                        row: (i % 2) as usize,
                        latency_us: 100 + i * 10 + user,
                        status: Some(200),
                        bytes: 10,
                        failure: None,
                        corrected_us: None,
                        resent: false,
                    },
                    String::new,
                );
            }
        }
        let delta = runner.take_delta(&here.row_keys());
        let mut there = Stats::new(start);
        there.apply(&delta, start, 8);
        let mut snap = crate::stats::Snapshot::default();
        there.fill(&mut snap, std::time::Duration::from_secs(1), start);
        assert_eq!(snap.total.requests, 200);
        let names: Vec<&str> = snap.rows.iter().map(|r| r.name.as_str()).collect();
        assert_eq!(names, ["GET /a", "GET /b"]);
        assert_eq!((snap.rows[0].requests, snap.rows[1].requests), (104, 96));
        // The shards are empty afterwards.
        assert!(runner.take_delta(&here.row_keys()).rows.is_empty());
    }
}
