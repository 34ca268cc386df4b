//! What a run's control endpoint and its clients say to each other, as JSON: the orders a
//! front-end sends (the engine's commands, an edit as the scenario's text), a scale, the
//! frames an attached TUI reads, and what a TUI needs to open on a run that is going.

use crate::cluster::Overrides;
use crate::engine::Command;
use crate::scenario::DocParts;
use crate::stats::{Point, Snapshot};
use serde::{Deserialize, Serialize};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// A front-end's command, as it crosses the endpoint (`POST /v1/command`). An edit of the
/// scenario goes as its text: the run loads it as it loaded the first, with the command
/// line's selection and `--timeout` over it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "command", rename_all = "snake_case")]
pub enum Order {
    Start,
    Stop,
    Users {
        users: u32,
    },
    SpawnRate {
        spawn_rate: f64,
    },
    ArrivalRate {
        arrival_rate: f64,
    },
    PausePlan,
    ResumePlan,
    ResetStats,
    MarkWindow,
    RunTime {
        seconds: Option<f64>,
    },
    Edit {
        text: String,
        workload: bool,
        stages: bool,
    },
}

impl Order {
    /// The order for an engine command; None for the parts of an edit (`Edits` gathers
    /// those) and the commands a front-end never sends.
    pub fn of(command: &Command) -> Option<Order> {
        Some(match command {
            Command::Start => Order::Start,
            Command::Stop => Order::Stop,
            Command::SetUsers(n) => Order::Users { users: *n },
            Command::SetSpawnRate(r) => Order::SpawnRate { spawn_rate: *r },
            Command::SetArrivalRate(r) => Order::ArrivalRate { arrival_rate: *r },
            Command::PausePlan => Order::PausePlan,
            Command::ResumePlan => Order::ResumePlan,
            Command::ResetStats => Order::ResetStats,
            Command::MarkWindow => Order::MarkWindow,
            Command::SetRunTime(t) => Order::RunTime {
                seconds: t.map(|d| d.as_secs_f64()),
            },
            _ => return None,
        })
    }

    /// The engine command it stands for (an edit is loaded by the endpoint first).
    pub fn command(&self) -> Option<Command> {
        Some(match self {
            Order::Start => Command::Start,
            Order::Stop => Command::Stop,
            Order::Users { users } => Command::SetUsers(*users),
            Order::SpawnRate { spawn_rate } => Command::SetSpawnRate(*spawn_rate),
            Order::ArrivalRate { arrival_rate } => Command::SetArrivalRate(*arrival_rate),
            Order::PausePlan => Command::PausePlan,
            Order::ResumePlan => Command::ResumePlan,
            Order::ResetStats => Command::ResetStats,
            Order::MarkWindow => Command::MarkWindow,
            Order::RunTime { seconds } => Command::SetRunTime(
                seconds
                    .filter(|s| s.is_finite() && *s >= 0.0)
                    .map(Duration::from_secs_f64),
            ),
            Order::Edit { .. } => return None,
        })
    }

    /// What the order did, for the status line and the report's list of controls.
    pub fn describe(&self) -> String {
        match self {
            Order::Start => "started the swarm".into(),
            Order::Stop => "stopped the swarm".into(),
            Order::Users { users } => format!("set the users to {users}"),
            Order::SpawnRate { spawn_rate } => format!("set the spawn rate to {spawn_rate}/s"),
            Order::ArrivalRate { arrival_rate } => {
                format!("set the arrival rate to {arrival_rate}/s")
            }
            Order::PausePlan => "paused the load plan".into(),
            Order::ResumePlan => "resumed the load plan".into(),
            Order::ResetStats => "reset the statistics".into(),
            Order::MarkWindow => "marked a measuring window".into(),
            Order::RunTime { seconds: None } => "let the run go on until stopped".into(),
            Order::RunTime { seconds: Some(s) } => format!("set the run time to {s:.0} s"),
            Order::Edit { .. } => "edited the scenario".into(),
        }
    }
}

/// `POST /v1/scale`: any of the three; what is left out stays.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scale {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub users: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub spawn_rate: Option<f64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub arrival_rate: Option<f64>,
}

/// `GET /v1/launch`: what a TUI needs to open on this run (the scenario as it is now,
/// and what the command line that started it changed).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct LaunchInfo {
    pub id: String,
    /// The scenario's file (None for a URL or the demo).
    pub path: Option<PathBuf>,
    /// The scenario as the run has it now (its text follows the edits from a TUI).
    pub doc: DocParts,
    pub overrides: Overrides,
    pub baseline: Option<PathBuf>,
    pub distributed: bool,
    /// Where the run's text report goes when it ends (a detached run's log).
    pub report: Option<PathBuf>,
}

/// One line of `GET /v1/watch`: the newest snapshot, its history from `history_from`
/// on (a client keeps the points before; the last point it has may have grown).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct Frame {
    pub history_from: usize,
    pub snapshot: Snapshot,
}

/// Tracks what a watcher has of the history, so a frame carries the new points only.
#[derive(Debug, Default)]
pub struct HistoryCursor {
    sent: usize,
    step: u32,
    first: Option<f64>,
}

impl HistoryCursor {
    /// The frame for `snap`: its history from the last point sent (which may have grown),
    /// or whole when it was reset or compacted.
    pub fn frame(&mut self, snap: &Snapshot) -> Frame {
        let points = &snap.history;
        let first = points.first().map(|p| p.t);
        let same = self.step == snap.history_step && self.first == first;
        let from = if same && points.len() >= self.sent {
            self.sent.saturating_sub(1)
        } else {
            0
        };
        self.sent = points.len();
        self.step = snap.history_step;
        self.first = first;
        let mut snapshot = snap.clone();
        snapshot.history = Arc::new(points[from..].to_vec());
        Frame {
            history_from: from,
            snapshot,
        }
    }
}

/// A client's copy of the history, grown frame by frame.
#[derive(Debug, Default)]
pub struct HistoryCopy {
    points: Vec<Point>,
}

impl HistoryCopy {
    /// The whole snapshot a frame stands for.
    pub fn take(&mut self, frame: Frame) -> Snapshot {
        let Frame {
            history_from,
            mut snapshot,
        } = frame;
        self.points.truncate(history_from);
        self.points.extend(snapshot.history.iter().cloned());
        snapshot.history = Arc::new(self.points.clone());
        snapshot
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn point(t: f64) -> Point {
        Point {
            t,
            ..Point::default()
        }
    }

    fn snap(ts: &[f64], step: u32) -> Snapshot {
        Snapshot {
            history: Arc::new(ts.iter().map(|&t| point(t)).collect()),
            history_step: step,
            ..Snapshot::default()
        }
    }

    #[test]
    fn a_watcher_rebuilds_the_history_from_the_new_points() {
        let mut cursor = HistoryCursor::default();
        let mut copy = HistoryCopy::default();
        let ts = |s: &Snapshot| s.history.iter().map(|p| p.t).collect::<Vec<_>>();
        for s in [
            snap(&[0.0, 1.0], 1),
            snap(&[0.0, 1.0, 2.0, 3.0], 1),
            snap(&[0.0, 2.0], 2),
            snap(&[5.0], 2),
            snap(&[5.0, 6.0], 2),
        ] {
            let frame = cursor.frame(&s);
            assert!(frame.snapshot.history.len() <= s.history.len());
            let frame: Frame =
                serde_json::from_str(&serde_json::to_string(&frame).unwrap()).unwrap();
            assert_eq!(ts(&copy.take(frame)), ts(&s));
        }
    }

    #[test]
    fn orders_read_back_as_the_commands_they_stand_for() {
        for c in [
            Command::Start,
            Command::SetUsers(7),
            Command::SetArrivalRate(2.5),
            Command::SetRunTime(Some(Duration::from_secs(30))),
        ] {
            let order = Order::of(&c).unwrap();
            let back: Order =
                serde_json::from_str(&serde_json::to_string(&order).unwrap()).unwrap();
            assert_eq!(format!("{:?}", back.command().unwrap()), format!("{c:?}"));
        }
        assert!(Order::of(&Command::SetScenarioText(String::new())).is_none());
    }
}
