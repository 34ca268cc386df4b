//! The engine's control task: follows the load schedule (stages, pauses, the open model's
//! arrivals, the run clock), tells the runner when to start and stop users, merges what
//! they recorded into the statistics and publishes snapshots. Commands arrive from the
//! `Engine` handle.

use super::Command;
use super::clock::{self, RunClock};
use super::open::OpenQueue;
use super::runner::Runner;
use super::schedule::{self, RateCourse};
use super::session::{RunShared, SessionSettings};
use crate::scenario::{Endpoint, Load, Plan};
use crate::stats::{Arrivals, RunState, Shards, Snapshot, Stats};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::{Instant, MissedTickBehavior};

/// The most iterations the open model queues in one wake of the control task (a tenth of
/// a second at the highest rate, `MAX_ARRIVAL_RATE`).
const MAX_ARRIVALS_PER_WAKE: u32 = 100_000;

/// How often statistics are merged and a snapshot is published.
pub(crate) const TICK: Duration = Duration::from_millis(250);

pub struct Controller {
    load: Load,
    /// The users, their types and their shards.
    runner: Runner,
    /// `SetStages`: the stages the next start follows.
    next_stages: Option<Vec<crate::scenario::Stage>>,
    /// Data files, vars, cookies and connection settings, applied at each start.
    sessions: SessionSettings,
    /// Shared by the users of the current run: `{{seq}}`, data cursors.
    run: Arc<RunShared>,
    stats: Stats,
    state: RunState,
    peak_users: u32,
    next_spawn: Instant,
    /// How long after the next ramp begins its first user moves (a worker's place in
    /// its swarm's ramp); used once.
    spawn_delay: Duration,
    /// The run's start, its statistics' start (the latest reset, which does not move the
    /// run clock or the run's end), the plan's pauses (stages and the run clock hold
    /// meanwhile, and the run's end moves back) and its end.
    clock: RunClock,
    stop_deadline: Option<Instant>,
    /// The stop timeout ran out and the users' tasks were aborted.
    cutting: bool,
    /// The load stage being followed and when it began; None without stages, or once the
    /// user has taken manual control.
    stage: Option<(usize, Instant)>,
    /// Open model: the queue of scheduled iterations, and the next one's intended start.
    open: Option<Arc<OpenQueue>>,
    /// None while the rate stays at zero for good.
    next_arrival: Option<Instant>,
    scheduled: u64,
    snapshots: watch::Sender<Arc<Snapshot>>,
    /// A worker's: where what the users recorded goes, besides this process's statistics.
    pub deltas: Option<mpsc::UnboundedSender<crate::stats::Delta>>,
}

/// How long aborted users' tasks get to end (and count their requests as interrupted).
const CUT_GRACE: Duration = Duration::from_secs(1);

impl Controller {
    pub fn new(plan: &Plan, snapshots: watch::Sender<Arc<Snapshot>>) -> Self {
        let now = Instant::now();
        let workers = std::thread::available_parallelism().map_or(1, |n| n.get());
        let mut stats = Stats::new(now.into_std());
        let runner = Runner::new(plan, &mut stats, Shards::new(workers * 4));
        Controller {
            load: plan.load.clone(),
            next_stages: None,
            runner,
            sessions: SessionSettings::of(plan),
            run: Arc::new(RunShared::new(&SessionSettings::of(plan))),
            stats,
            state: RunState::Idle,
            peak_users: 0,
            next_spawn: now,
            spawn_delay: Duration::ZERO,
            clock: RunClock::starting(now),
            stop_deadline: None,
            cutting: false,
            stage: None,
            open: plan
                .load
                .is_open()
                .then(|| Arc::new(OpenQueue::new(plan.load.queue_timeout))),
            next_arrival: None,
            scheduled: 0,
            snapshots,
            deltas: None,
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
                due = tick.tick() => {
                    let now = Instant::now();
                    self.stats.note_tick_lateness(now.saturating_duration_since(due));
                    self.on_tick(now);
                }
                _ = sleep_until(wake), if wake.is_some() => self.on_wake(Instant::now()),
                Some(_) = self.runner.tasks.join_next(), if !self.runner.tasks.is_empty() => {
                    let now = Instant::now();
                    self.maybe_finish_stop(now);
                    self.end_if_every_user_stopped(now);
                }
            }
        }
        if self.is_running() {
            self.begin_stop(Instant::now());
        }
        while self.state == RunState::Stopping {
            let deadline = self.next_wake();
            tokio::select! {
                _ = sleep_until(deadline) => self.on_wake(Instant::now()),
                Some(_) = self.runner.tasks.join_next(), if !self.runner.tasks.is_empty() => self.maybe_finish_stop(Instant::now()),
            }
        }
    }

    // A flat dispatcher: one arm per engine command, each a line or two or a named step.
    #[allow(clippy::too_many_lines)]
    fn handle(&mut self, command: Command, now: Instant) {
        match command {
            Command::Start => self.start(now),
            Command::Stop => self.begin_stop(now),
            Command::SetUsers(n) if self.open.is_some() => {
                self.load.max_users = n.max(1);
            }
            Command::SetUsers(n) => {
                self.take_manual_control(now);
                self.load.users = n;
                self.retarget(now);
            }
            Command::SetArrivalRate(r) if r >= 0.0 && r.is_finite() && self.open.is_some() => {
                self.take_manual_control(now);
                self.load.arrival_rate = Some(r);
                self.next_arrival = self.next_arrival_after(now, 1.0);
            }
            Command::SetArrivalRate(_) => {}
            Command::PausePlan => {
                if self.stage.is_some() && self.is_running() && self.clock.pause(now) {
                    self.replan_arrivals(now);
                }
            }
            Command::ResumePlan => {
                self.resume_plan(now);
                self.replan_arrivals(now);
            }
            Command::SetSpawnRate(r) if r > 0.0 && r.is_finite() => {
                self.load.spawn_rate = r;
                self.next_spawn = self.next_spawn.min(now + spawn_interval(r));
            }
            Command::SetSpawnRate(_) => {}
            Command::SetWait(w) => {
                self.load.wait = w;
                self.runner.rebuild_sets(&mut self.stats, self.load.wait);
            }
            Command::ResetStats => {
                self.stats.reset(&self.runner.shards, now.into_std());
                self.scheduled = 0;
                if let Some(q) = &self.open {
                    q.reset_dropped();
                }
                self.clock.reset_stats(now);
            }
            Command::SetEndpoints(list) => self.replace(list),
            Command::SetRunTime(t) => self.load.run_time = t,
            Command::SetStages(stages) => self.next_stages = Some(stages),
            Command::RecordIntervals(to) => self.stats.record_intervals(to),
            Command::SetScenarioText(_) => {}
            Command::DelayNextSpawn(d) => self.spawn_delay = d,
            Command::SetWorkload(plan) => {
                let plan = *plan;
                self.sessions = SessionSettings::of(&plan);
                self.load.wait = plan.load.wait;
                self.runner.set_workload(&plan, &mut self.stats, &self.load);
            }
            Command::MarkWindow | Command::MarkWindowAs(_) => {
                let id = match command {
                    Command::MarkWindowAs(id) => Some(id),
                    _ => None,
                };
                // What came before the mark leaves first (a worker's delta is tagged
                // with the window it was recorded in).
                self.merge_recorded(now);
                self.stats.mark_window(
                    &self.runner.shards,
                    now.into_std(),
                    self.runner.len() as u32,
                    id,
                );
            }
        }
        self.publish(now);
    }

    /// Leaves the load plan: the target stays where it is until the user moves it.
    fn take_manual_control(&mut self, now: Instant) {
        if self.stage.is_some() && self.open.is_some() {
            self.load.arrival_rate = Some(self.rate_at(now));
        }
        self.resume_plan(now);
        self.stage = None;
    }

    fn resume_plan(&mut self, now: Instant) {
        if let Some(held) = self.clock.resume(now)
            && let Some((_, started)) = &mut self.stage
        {
            *started += held;
        }
    }

    /// The TUI's endpoint edits: the endpoints of the first (the implicit) type.
    fn replace(&mut self, endpoints: Vec<Endpoint>) {
        self.runner
            .replace_endpoints(endpoints, &mut self.stats, self.load.wait);
    }

    fn is_running(&self) -> bool {
        matches!(self.state, RunState::Spawning | RunState::Running)
    }

    fn start(&mut self, now: Instant) {
        match self.state {
            RunState::Idle | RunState::Stopped => {}
            _ => return,
        }
        // The statistics' clock (history, failure times) starts with the run, not when
        // the engine was created: idle time before the first start is not part of it.
        self.stats.reset(&self.runner.shards, now.into_std());
        if let Some(stages) = self.next_stages.take() {
            self.load.stages = stages;
        }
        self.clock = RunClock::starting(now);
        self.peak_users = 0;
        self.runner.reset_peaks();
        self.run = Arc::new(RunShared::new(&self.sessions));
        self.state = RunState::Spawning;
        self.next_spawn = now + std::mem::take(&mut self.spawn_delay);
        self.stage = None;
        if let Some(q) = &self.open {
            q.reset_dropped();
            self.scheduled = 0;
            // Users are spawned as iterations need them.
            self.state = RunState::Running;
        }
        if !self.load.stages.is_empty() {
            self.enter_stage(0, now);
        }
        if self.open.is_some() {
            // A steady rate starts its first iteration at once; a ramp from zero once
            // its first iteration is due.
            let need = self.arrival_phase(if self.rate_at(now) > 0.0 { 0 } else { 1 });
            self.next_arrival = if need == 0.0 {
                Some(now)
            } else {
                self.next_arrival_after(now, need)
            };
        }
        self.retarget(now);
        self.schedule_due(now);
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
            // The retarget that follows starts the ramp this long after.
            self.spawn_delay = self.stage_ramp_delay(i);
        }
    }

    /// A worker of a distributed run: its place in the swarm's ramp into stage `i` from
    /// the stage before (whose ramp is done), as `Segment::ramp_delay` gives it.
    fn stage_ramp_delay(&self, i: usize) -> Duration {
        let swarm = &self.load.swarm_stage_users;
        let ids = self.runner.stride();
        if i == 0 || i >= swarm.len() || ids.step <= 1 {
            return Duration::ZERO;
        }
        let segment = super::share::Segment {
            index: ids.offset as u32,
            count: ids.step as u32,
        };
        // This worker's rate is its share: the swarm's is `count` times it.
        let rate = self.load.spawn_rate * f64::from(segment.count);
        segment.ramp_delay(swarm[i - 1], swarm[i], rate)
    }

    fn stage_end(&self) -> Option<Instant> {
        let (i, started) = self.stage?;
        (self.is_running() && self.clock.paused_at().is_none())
            .then(|| started + self.load.stages[i].duration)
    }

    /// The open model's rate from now on, and the moment its course counts from: the
    /// current stage's start while stages are followed, or `at` for a rate that holds
    /// (no stages, manual control, or the plan paused, which holds the rate it had).
    fn course(&self, at: Instant) -> (RateCourse, Instant) {
        let base = self.load.arrival_rate.unwrap_or(0.0);
        match (self.stage, self.clock.paused_at()) {
            (Some((i, started)), None) => {
                (RateCourse::of_stages(base, &self.load.stages, i), started)
            }
            (Some((i, started)), Some(paused)) => {
                let held = RateCourse::of_stages(base, &self.load.stages, i)
                    .rate_at(paused.saturating_duration_since(started));
                (RateCourse::constant(held), at)
            }
            (None, _) => (RateCourse::constant(base), at),
        }
    }

    /// The open model's arrival rate at `t`: ramps linearly through rate stages, held
    /// while the plan is paused.
    fn rate_at(&self, t: Instant) -> f64 {
        let (course, origin) = self.course(t);
        course.rate_at(t.saturating_duration_since(origin))
    }

    /// When the next iteration is due after one at `from` (engine/schedule.rs does the
    /// arithmetic); None while the rate stays at zero.
    fn next_arrival_after(&self, from: Instant, need: f64) -> Option<Instant> {
        let (course, origin) = self.course(from);
        course
            .next_after(from.saturating_duration_since(origin), need)
            .map(|d| origin + d)
    }

    /// Restarts the arrival schedule from `now` after the rate's course changed.
    fn replan_arrivals(&mut self, now: Instant) {
        if self.open.is_some() && self.is_running() {
            self.next_arrival = self.next_arrival_after(now, self.arrival_phase(1));
        }
    }

    /// How many of this process's own iterations (at its share of the rate) come before
    /// its first from a schedule's start, when the swarm's first is iteration `first` of
    /// the course (0: at once, 1: when one is due). A worker of segment i of n takes the
    /// swarm's iterations i, i + n, ...: its first is due at (first + i) / n of its own,
    /// so the workers' iterations together are the one-process schedule (k6's striped
    /// arrivals). One process: `first` itself.
    fn arrival_phase(&self, first: u64) -> f64 {
        let ids = self.runner.stride();
        (first + ids.offset) as f64 / ids.step.max(1) as f64
    }

    /// Open model: queues every iteration whose start time has come, and spawns users
    /// for those that find none idle, up to the cap.
    fn schedule_due(&mut self, now: Instant) {
        let Some(queue) = self.open.clone() else {
            return;
        };
        if !self.is_running() || self.run.budget_spent() {
            return;
        }
        // A bounded batch per wake: the control task goes back to its select (commands,
        // the run's deadline, the tick that publishes) before it schedules more, however
        // far behind a high rate left it.
        let mut batch = 0;
        while let Some(at) = self.next_arrival.filter(|at| *at <= now) {
            queue.push(at);
            self.scheduled += 1;
            // A rate so high that the next start rounds to this nanosecond still moves on.
            self.next_arrival = self
                .next_arrival_after(at, 1.0)
                .map(|next| next.max(at + Duration::from_nanos(1)));
            batch += 1;
            if batch == MAX_ARRIVALS_PER_WAKE {
                break;
            }
        }
        queue.expire_now(now);
        let need = queue.waiting().saturating_sub(queue.idle());
        let room = (self.load.max_users as usize).saturating_sub(self.runner.len());
        for _ in 0..need.min(room) {
            queue.add_idle_user();
            self.spawn_user();
        }
    }

    /// Follows the stages whose time has come.
    fn advance_stages(&mut self, now: Instant) {
        let Some((current, _)) = self.stage else {
            return;
        };
        if self.stage_end().is_none_or(|end| now < end) {
            return;
        }
        // Where the plan's clock (the run's time without its pauses) has got to.
        let clock = self.clock.plan_time(now);
        let stages = &self.load.stages;
        let reached = schedule::stage_at(stages, clock).map_or(stages.len(), |(i, _)| i);
        // Each stage passed is entered in turn, at the time it began, so the last one's
        // spawn rate is the one that holds.
        // After the plan, the last stage's target and rate hold.
        let origin = self.clock.plan_origin();
        let last = self.load.stages.len() - 1;
        for j in current + 1..=reached.min(last) {
            let began = origin + schedule::stage_start(&self.load.stages, j);
            self.enter_stage(j, began);
        }
        if reached > last {
            if let Some(rate) = self.load.stages[last].arrival_rate {
                self.load.arrival_rate = Some(rate);
            }
            self.stage = None;
        }
        self.retarget(now);
    }

    /// Begins moving toward `load.users` at the spawn rate.
    fn retarget(&mut self, now: Instant) {
        if !self.is_running() || self.open.is_some() {
            return;
        }
        // A ramp under way keeps its pace; a new one starts now, or at this worker's
        // place in its swarm's ramp.
        let delay = std::mem::take(&mut self.spawn_delay);
        if self.runner.len() != self.load.users as usize {
            if self.state == RunState::Running {
                self.next_spawn = now + delay;
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
            && self.runner.len() != target
            && !(self.runner.len() < target && self.run.budget_spent())
        {
            if self.runner.len() < target {
                self.spawn_user();
            } else {
                self.runner.stop_newest();
            }
            self.next_spawn += interval;
        }
        if self.state == RunState::Spawning && self.runner.len() == target {
            self.state = RunState::Running;
        }
    }

    fn spawn_user(&mut self) {
        self.runner.spawn(&self.run, self.open.clone());
        self.peak_users = self.peak_users.max(self.runner.len() as u32);
    }

    /// Stops the users; asked again while they finish, cuts their requests at once.
    fn begin_stop(&mut self, now: Instant) {
        if self.state == RunState::Stopping && !self.cutting {
            self.stop_deadline = Some(now);
            self.maybe_finish_stop(now);
            return;
        }
        if !self.is_running() {
            return;
        }
        self.runner.stop_all();
        if let Some(q) = &self.open {
            q.clear();
        }
        self.resume_plan(now);
        self.state = RunState::Stopping;
        self.stop_deadline = Some(now + self.load.stop_timeout);
        self.maybe_finish_stop(now);
    }

    /// Ends a stop once every user has finished, or cuts them off at the stop timeout.
    /// A cut user's request in flight is counted as interrupted as its task is dropped,
    /// so the stop waits for the aborted tasks to end (at most `CUT_GRACE`) before the
    /// last statistics are merged.
    fn maybe_finish_stop(&mut self, now: Instant) {
        if self.state != RunState::Stopping {
            return;
        }
        if self.stop_deadline.is_some_and(|d| now >= d) {
            if self.cutting {
                // Tasks that did not end when aborted are left behind.
                self.runner.tasks.detach_all();
            } else {
                self.runner.tasks.abort_all();
                self.cutting = true;
                self.stop_deadline = Some(now + CUT_GRACE);
            }
        }
        if !self.runner.tasks.is_empty() {
            return;
        }
        self.cutting = false;
        // The last samples are merged once; a stopped run's statistics (and its history)
        // stay as they were at the stop.
        self.merge_recorded(now);
        self.stats
            .close_run(now.into_std(), self.runner.len() as u32);
        self.state = RunState::Stopped;
        self.stop_deadline = None;
        self.clock.stop(now);
        self.publish(now);
    }

    /// The run has nothing left to do and stops: its `-n` request budget is spent and the
    /// last request has its outcome, or (closed model) every user has stopped by itself
    /// (each failed an on_start step) and none is due to start.
    fn end_if_every_user_stopped(&mut self, now: Instant) {
        // `-n`: the budget is spent and the last request has its outcome (open model:
        // every user is back in the pool, waiting for iterations that no longer come).
        let all_done = self.runner.tasks.is_empty()
            || self
                .open
                .as_ref()
                .is_some_and(|q| q.idle() >= self.runner.len() && q.waiting() == 0);
        if self.is_running() && self.run.budget_spent() && all_done {
            self.begin_stop(now);
            return;
        }
        let stopped = self
            .run
            .stopped_users
            .load(std::sync::atomic::Ordering::Relaxed);
        if self.state == RunState::Running
            && self.open.is_none()
            && self.runner.tasks.is_empty()
            && !self.runner.is_empty()
            && stopped >= self.runner.len() as u64
        {
            self.begin_stop(now);
        }
    }

    fn run_deadline(&self) -> Option<Instant> {
        let run_time = self.load.run_time?;
        self.is_running()
            .then(|| self.clock.deadline(run_time))
            .flatten()
    }

    fn next_wake(&self) -> Option<Instant> {
        let spawn = (self.state == RunState::Spawning).then_some(self.next_spawn);
        let arrival = self
            .next_arrival
            .filter(|_| self.open.is_some() && self.is_running());
        [
            spawn,
            arrival,
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
        self.schedule_due(now);
        self.maybe_finish_stop(now);
    }

    fn on_tick(&mut self, now: Instant) {
        self.on_wake(now);
        self.end_if_every_user_stopped(now);
        if self.state != RunState::Idle {
            self.publish(now);
        }
    }

    /// Merges what the users recorded into this process's statistics; a worker of a
    /// distributed run also sends it on, as a `Delta`, to its controller.
    fn merge_recorded(&mut self, now: Instant) {
        let users = self.runner.len() as u32;
        match &self.deltas {
            None => self.stats.drain(&self.runner.shards, now.into_std(), users),
            Some(out) => {
                let mut delta = self.runner.take_delta(&self.stats.row_keys());
                delta.window = self.stats.window_tag(now.into_std());
                self.stats.apply(&delta, now.into_std(), users);
                let _ = out.send(delta);
            }
        }
    }

    fn publish(&mut self, now: Instant) {
        if !matches!(self.state, RunState::Idle | RunState::Stopped) {
            self.merge_recorded(now);
        }
        let idle = self.state == RunState::Idle;
        let snap = Snapshot {
            state: self.state,
            users: self.runner.len() as u32,
            peak_users: self.peak_users,
            stage: self.stage.map(|(i, _)| (i + 1, self.load.stages.len())),
            stage_elapsed: self.stage.map_or(Duration::ZERO, |(_, started)| {
                (self.clock.paused_at())
                    .unwrap_or(now)
                    .saturating_duration_since(started)
            }),
            plan_paused: self.clock.paused_at().is_some(),
            stopped_users: self
                .run
                .stopped_users
                .load(std::sync::atomic::Ordering::Relaxed),
            user_types: self.runner.type_counts(),
            requests_left: self.run.budgets_left().0,
            iterations_left: self.run.budgets_left().1,
            arrivals: self.open.as_ref().map(|q| Arrivals {
                rate: if self.is_running() {
                    self.rate_at(now)
                } else {
                    0.0
                },
                max_users: self.load.max_users,
                scheduled: self.scheduled,
                dropped: q.dropped(),
                waiting: q.waiting() as u64,
                busy: (self.runner.len() as u64).saturating_sub(q.idle() as u64),
            }),
            target_users: self.load.users,
            spawn_rate: self.load.spawn_rate,
            elapsed: if idle {
                Duration::ZERO
            } else {
                self.clock.elapsed(now)
            },
            run_clock: if idle {
                Duration::ZERO
            } else {
                self.clock.plan_time(now)
            },
            run_time: self.load.run_time,
            ..Snapshot::default()
        };
        clock::publish(&self.snapshots, clock::with_stats(snap, &self.stats, now));
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
