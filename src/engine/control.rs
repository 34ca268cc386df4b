//! The engine's control task: owns the users, the spawn schedule, the run clock and the
//! statistics, and publishes snapshots. Commands arrive from the `Engine` handle.

use super::Command;
use super::endpoints::{EndpointSet, SharedEndpoints};
use super::user::User;
use crate::scenario::{Endpoint, Load, Plan};
use crate::stats::{RunState, Shards, Snapshot, Stats};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tokio_util::sync::CancellationToken;

/// How often statistics are merged and a snapshot is published.
pub const TICK: Duration = Duration::from_millis(250);

pub struct Controller {
    load: Load,
    shared: Arc<SharedEndpoints>,
    shards: Arc<Shards>,
    stats: Stats,
    state: RunState,
    /// Active users, oldest first; each entry cancels one user.
    users: Vec<CancellationToken>,
    tasks: JoinSet<()>,
    next_user: u64,
    peak_users: u32,
    next_spawn: Instant,
    run_start: Instant,
    run_end: Option<Instant>,
    stop_deadline: Option<Instant>,
    /// The load stage being followed and when it began; None without stages, or once the
    /// user has taken manual control.
    stage: Option<(usize, Instant)>,
    snapshots: watch::Sender<Arc<Snapshot>>,
}

impl Controller {
    pub fn new(plan: &Plan, snapshots: watch::Sender<Arc<Snapshot>>) -> Self {
        let now = Instant::now();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut stats = Stats::new(now.into_std());
        let set = endpoint_set(&mut stats, plan.endpoints.clone(), &plan.load);
        Controller {
            load: plan.load.clone(),
            shared: Arc::new(SharedEndpoints::new(set)),
            shards: Shards::new(workers * 4),
            stats,
            state: RunState::Idle,
            users: Vec::new(),
            tasks: JoinSet::new(),
            next_user: 0,
            peak_users: 0,
            next_spawn: now,
            run_start: now,
            run_end: None,
            stop_deadline: None,
            stage: None,
            snapshots,
        }
    }

    /// Runs until the command channel closes, then stops the swarm and returns.
    pub async fn run(mut self, mut commands: mpsc::UnboundedReceiver<Command>) {
        let mut tick = tokio::time::interval(TICK);
        tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
        self.publish(Instant::now());
        loop {
            let wake = self.next_wake();
            tokio::select! {
                command = commands.recv() => match command {
                    Some(c) => self.handle(c, Instant::now()),
                    None => break,
                },
                _ = tick.tick() => self.on_tick(Instant::now()),
                _ = sleep_until(wake), if wake.is_some() => self.on_wake(Instant::now()),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => {
                    self.maybe_finish_stop(Instant::now());
                }
            }
        }
        self.begin_stop(Instant::now());
        while self.state == RunState::Stopping {
            let deadline = self.next_wake();
            tokio::select! {
                _ = sleep_until(deadline) => self.on_wake(Instant::now()),
                Some(_) = self.tasks.join_next(), if !self.tasks.is_empty() => self.maybe_finish_stop(Instant::now()),
            }
        }
    }

    fn handle(&mut self, command: Command, now: Instant) {
        match command {
            Command::Start => self.start(now),
            Command::Stop => self.begin_stop(now),
            Command::SetUsers(n) => {
                self.stage = None;
                self.load.users = n;
                self.retarget(now);
            }
            Command::SetSpawnRate(r) if r > 0.0 && r.is_finite() => {
                self.load.spawn_rate = r;
                self.next_spawn = self.next_spawn.min(now + spawn_interval(r));
            }
            Command::SetSpawnRate(_) => {}
            Command::SetWait(w) => {
                self.load.wait = w;
                let (_, set) = self.shared.load();
                self.replace(set.endpoints.clone());
            }
            Command::ResetStats => {
                self.stats.reset(&self.shards, now.into_std());
                if self.is_running() {
                    self.run_start = now;
                }
            }
            Command::SetEndpoints(list) => self.replace(list),
        }
        self.publish(now);
    }

    fn replace(&mut self, endpoints: Vec<Endpoint>) {
        let set = endpoint_set(&mut self.stats, endpoints, &self.load);
        self.shared.replace(set);
    }

    fn is_running(&self) -> bool {
        matches!(self.state, RunState::Spawning | RunState::Running)
    }

    fn start(&mut self, now: Instant) {
        match self.state {
            RunState::Idle | RunState::Stopped => {}
            _ => return,
        }
        if self.state == RunState::Stopped {
            self.stats.reset(&self.shards, now.into_std());
        }
        self.run_start = now;
        self.run_end = None;
        self.peak_users = 0;
        self.state = RunState::Spawning;
        self.next_spawn = now;
        self.stage = None;
        if !self.load.stages.is_empty() {
            self.enter_stage(0, now);
        }
        self.retarget(now);
    }

    /// Moves to stage `i`: its user target, and its spawn rate when it has one.
    fn enter_stage(&mut self, i: usize, now: Instant) {
        let stage = &self.load.stages[i];
        self.load.users = stage.users;
        if let Some(rate) = stage.spawn_rate {
            self.load.spawn_rate = rate;
        }
        self.stage = Some((i, now));
        if self.state == RunState::Running {
            self.next_spawn = now;
        }
    }

    fn stage_end(&self) -> Option<Instant> {
        let (i, started) = self.stage?;
        self.is_running()
            .then(|| started + self.load.stages[i].duration)
    }

    /// Follows the stages whose time has come.
    fn advance_stages(&mut self, now: Instant) {
        while let Some(end) = self.stage_end().filter(|end| now >= *end) {
            let (i, _) = self.stage.expect("stage_end implies a stage");
            if i + 1 < self.load.stages.len() {
                self.enter_stage(i + 1, end);
                self.retarget(now);
            } else {
                self.stage = None;
            }
        }
    }

    /// Begins moving toward `load.users` at the spawn rate.
    fn retarget(&mut self, now: Instant) {
        if !self.is_running() {
            return;
        }
        if self.users.len() != self.load.users as usize {
            if self.state == RunState::Running {
                self.next_spawn = now;
            }
            self.state = RunState::Spawning;
        }
        self.spawn_due(now);
    }

    /// Starts or stops every user whose turn has come.
    fn spawn_due(&mut self, now: Instant) {
        let target = self.load.users as usize;
        let interval = spawn_interval(self.load.spawn_rate);
        while self.state == RunState::Spawning
            && self.next_spawn <= now
            && self.users.len() != target
        {
            if self.users.len() < target {
                self.spawn_user();
            } else if let Some(token) = self.users.pop() {
                token.cancel();
            }
            self.next_spawn += interval;
        }
        if self.state == RunState::Spawning && self.users.len() == target {
            self.state = RunState::Running;
        }
    }

    fn spawn_user(&mut self) {
        let cancel = CancellationToken::new();
        let user = User {
            id: self.next_user,
            shared: Arc::clone(&self.shared),
            recorder: self.shards.recorder(self.next_user),
            cancel: cancel.clone(),
        };
        self.next_user += 1;
        self.tasks.spawn(user.run());
        self.users.push(cancel);
        self.peak_users = self.peak_users.max(self.users.len() as u32);
    }

    fn begin_stop(&mut self, now: Instant) {
        if !self.is_running() {
            return;
        }
        for token in self.users.drain(..) {
            token.cancel();
        }
        self.state = RunState::Stopping;
        self.stop_deadline = Some(now + self.load.stop_timeout);
        self.maybe_finish_stop(now);
    }

    /// Ends a stop once every user has finished, or cuts them off at the stop timeout.
    fn maybe_finish_stop(&mut self, now: Instant) {
        if self.state != RunState::Stopping {
            return;
        }
        let expired = self.stop_deadline.is_some_and(|d| now >= d);
        if expired {
            self.tasks.abort_all();
            self.tasks.detach_all();
        }
        if !self.tasks.is_empty() && !expired {
            return;
        }
        self.state = RunState::Stopped;
        self.stop_deadline = None;
        self.run_end = Some(now);
        self.publish(now);
    }

    fn run_deadline(&self) -> Option<Instant> {
        let run_time = self.load.run_time?;
        self.is_running().then(|| self.run_start + run_time)
    }

    fn next_wake(&self) -> Option<Instant> {
        let spawn = (self.state == RunState::Spawning).then_some(self.next_spawn);
        [
            spawn,
            self.run_deadline(),
            self.stop_deadline,
            self.stage_end(),
        ]
        .into_iter()
        .flatten()
        .min()
    }

    fn on_wake(&mut self, now: Instant) {
        if self.run_deadline().is_some_and(|d| now >= d) {
            self.begin_stop(now);
        }
        self.advance_stages(now);
        self.spawn_due(now);
        self.maybe_finish_stop(now);
    }

    fn on_tick(&mut self, now: Instant) {
        self.on_wake(now);
        if self.state != RunState::Idle {
            self.publish(now);
        }
    }

    fn publish(&mut self, now: Instant) {
        if self.state != RunState::Idle {
            self.stats
                .drain(&self.shards, now.into_std(), self.users.len() as u32);
        }
        let end = self.run_end.unwrap_or(now);
        let mut snap = Snapshot {
            state: self.state,
            users: self.users.len() as u32,
            peak_users: self.peak_users,
            stage: self.stage.map(|(i, _)| (i + 1, self.load.stages.len())),
            target_users: self.load.users,
            spawn_rate: self.load.spawn_rate,
            elapsed: if self.state == RunState::Idle {
                Duration::ZERO
            } else {
                end - self.run_start
            },
            run_time: self.load.run_time,
            ..Snapshot::default()
        };
        let elapsed = snap.elapsed;
        self.stats.fill(&mut snap, elapsed);
        // Unchanged snapshots are not sent, so an idle screen is not redrawn.
        self.snapshots.send_if_modified(|old| {
            let changed = **old != snap;
            if changed {
                *old = Arc::new(snap);
            }
            changed
        });
    }
}

fn spawn_interval(rate: f64) -> Duration {
    Duration::from_secs_f64(1.0 / rate.max(1e-6)).min(Duration::from_secs(3600))
}

async fn sleep_until(at: Option<Instant>) {
    match at {
        Some(at) => tokio::time::sleep_until(at).await,
        None => std::future::pending().await,
    }
}

fn endpoint_set(stats: &mut Stats, endpoints: Vec<Endpoint>, load: &Load) -> EndpointSet {
    let rows = endpoints
        .iter()
        .map(|e| stats.row_for(e.method.as_str(), &e.name))
        .collect();
    EndpointSet::new(endpoints, rows, load.wait)
}
