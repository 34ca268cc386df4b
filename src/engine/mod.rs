//! The load engine: virtual users, their spawning and stopping, and the statistics they feed.
//!
//! The headless runner and the TUI drive it the same way: `Command`s in through a channel,
//! `Snapshot`s out through a watch channel. Only this module knows hyper.

mod capture;
pub mod clock;
mod coding;
mod control;
mod debug;
pub mod dispatch;
mod endpoints;
pub(crate) mod h1;
pub mod http;
mod net;
mod open;
mod redirect;
pub mod runner;
pub mod schedule;
mod session;
pub mod share;
pub(crate) mod stream;
mod user;
mod ws;

pub use endpoints::EndpointSet;

use crate::scenario::{Endpoint, Plan, Wait};
use crate::stats::Snapshot;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// What the engine can be told to do.
#[derive(Debug, Clone)]
pub enum Command {
    /// Start spawning users toward the target (a stopped run starts afresh).
    Start,
    /// Stop all users gracefully; in-flight requests get the stop timeout to finish, and
    /// those still in flight then are cut and counted as interrupted. Sent again while
    /// the users finish, it cuts them at once.
    Stop,
    /// Move to a new user count at the spawn rate; ramping down stops the newest users first.
    /// Leaves the load plan. In the open model it sets the cap on concurrent users.
    SetUsers(u32),
    /// Users started or stopped per second (> 0).
    SetSpawnRate(f64),
    /// Open model: iterations started per second (>= 0); leaves the load plan.
    SetArrivalRate(f64),
    /// Hold the load plan where it is (its stage, target and the run clock) ...
    PausePlan,
    /// ... and carry on from there.
    ResumePlan,
    SetWait(Wait),
    ResetStats,
    /// Replace the endpoints; users pick up the new set before their next request.
    SetEndpoints(Vec<Endpoint>),
    /// Start measuring a window: snapshots then carry statistics since this moment.
    MarkWindow,
    /// As `MarkWindow`, the window named by its controller (a distributed run's worker).
    MarkWindowAs(u32),
    /// A worker's place in the swarm's ramp: the next ramp (the start, or a new users
    /// target once the last ramp is done) moves its first user this long after it begins
    /// (`Segment::ramp_delay`).
    DelayNextSpawn(std::time::Duration),
    /// The scenario's text after an edit, ahead of the edit's own commands: a controller
    /// sends it to its workers, who load it as they loaded the first (one process has the
    /// plan already and ignores it).
    SetScenarioText(String),
    /// Replace everything the users run (endpoints, flows, on_start/on_stop) at once; the
    /// plan's vars, data files and connection settings apply from the next start.
    SetWorkload(Box<Plan>),
    /// Run until stopped (None), or for this long from the start.
    SetRunTime(Option<std::time::Duration>),
    /// The load stages for the next start (a run that follows stages keeps its own).
    SetStages(Vec<crate::scenario::Stage>),
    /// Send every second of the run from now on, each row's latencies apart, to this
    /// channel (a saved run's interval log); the last part second follows the stop.
    RecordIntervals(mpsc::UnboundedSender<crate::stats::Interval>),
}

/// A running engine task and its two channels.
pub struct Engine {
    commands: mpsc::UnboundedSender<Command>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    task: JoinHandle<()>,
}

impl Engine {
    /// Starts the engine task, idle, on the current tokio runtime.
    pub fn spawn(plan: &Plan) -> Engine {
        let (commands, rx) = mpsc::unbounded_channel();
        let (snap_tx, snapshots) = watch::channel(Arc::new(Snapshot::default()));
        let controller = control::Controller::new(plan, snap_tx);
        let task = tokio::spawn(controller.run(rx));
        Engine {
            commands,
            snapshots,
            task,
        }
    }

    /// A worker's engine: as `spawn`, and everything its users record also comes out of
    /// the receiver, as deltas (a few a second while a run goes on).
    pub fn spawn_worker(plan: &Plan) -> (Engine, mpsc::UnboundedReceiver<crate::stats::Delta>) {
        let (commands, rx) = mpsc::unbounded_channel();
        let (snap_tx, snapshots) = watch::channel(Arc::new(Snapshot::default()));
        let (delta_tx, deltas) = mpsc::unbounded_channel();
        let mut controller = control::Controller::new(plan, snap_tx);
        controller.deltas = Some(delta_tx);
        let task = tokio::spawn(controller.run(rx));
        (
            Engine {
                commands,
                snapshots,
                task,
            },
            deltas,
        )
    }

    /// An engine made of parts: what a distributed run's controller builds (its task
    /// takes the commands and publishes the snapshots).
    pub(crate) fn from_parts(
        commands: mpsc::UnboundedSender<Command>,
        snapshots: watch::Receiver<Arc<Snapshot>>,
        task: JoinHandle<()>,
    ) -> Engine {
        Engine {
            commands,
            snapshots,
            task,
        }
    }

    /// Sends a command; ignored once the engine has shut down.
    pub fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    /// Another sender of commands (a run's control endpoint holds one).
    pub(crate) fn commander(&self) -> mpsc::UnboundedSender<Command> {
        self.commands.clone()
    }

    /// A receiver of the newest snapshot.
    pub fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    /// Stops any run (gracefully, within the stop timeout) and ends the engine task.
    /// Returns the last snapshot.
    pub async fn shutdown(self) -> Arc<Snapshot> {
        let Engine {
            commands,
            snapshots,
            task,
        } = self;
        drop(commands);
        let _ = task.await;
        snapshots.borrow().clone()
    }
}
