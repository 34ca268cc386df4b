//! Where a run starts and ends, above the engine, the cluster and the reports. `Run::start`
//! puts the engine (local, or a cluster's controller) behind one handle with the outputs
//! that follow it while it goes (the saved run's log, Prometheus, the CSV history);
//! `Run::finish` writes how it ended (`finish`). The front-ends (the headless run, the
//! TUI) only watch its snapshots and send it commands; the capacity search's driver
//! without a terminal is `capacity`.

pub mod capacity;
pub mod control;
pub mod finish;

use crate::engine::{Command, Engine};
use crate::report::csv::CsvReport;
use crate::report::prometheus;
use crate::report::saved::RunLog;
use crate::scenario::{Plan, format_duration};
use crate::stats::{Interval, RunState, Snapshot};
use finish::Output;
use std::sync::Arc;
use std::time::{Duration, SystemTime};
use tokio::sync::{mpsc, oneshot, watch};
use tokio::task::JoinHandle;

/// Which front-end drives the run: the few things that differ between them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Front {
    /// Without a terminal UI: the load starts at once and the CSV files grow while it
    /// goes on; a cluster's controller says on standard error what its workers do.
    Headless,
    /// The TUI: the user starts (and may start again) the load, so the CSV files are
    /// written at the end; standard error is the screen, so nothing is printed there.
    Tui,
}

/// What a front-end needs of a run: in this process (`Run`), or behind its control
/// endpoint (`control::client::Remote`, an attached TUI).
pub trait Steer {
    /// Sends the run a command (start, stop, users, an edit ...).
    fn send(&self, command: Command);
    /// The newest snapshot, as it changes.
    fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>>;
    /// Whether a cluster's controller runs the load (the TUI shows its workers).
    fn is_distributed(&self) -> bool;
    /// Whether an edit goes as the scenario's text ahead of its commands (to workers, or
    /// over the control endpoint).
    fn edits_as_text(&self) -> bool {
        self.is_distributed()
    }
}

impl Steer for Run {
    fn send(&self, command: Command) {
        self.engine.send(command);
    }

    fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.engine.snapshots()
    }

    fn is_distributed(&self) -> bool {
        self.distributed
    }
}

/// A run: its engine and the outputs that follow it.
pub struct Run {
    engine: Engine,
    control: control::Control,
    front: Front,
    /// When the load started, once known (a headless run starts with its engine).
    started: Option<SystemTime>,
    follower: Option<Follower>,
    metrics: Option<(JoinHandle<()>, Duration)>,
    distributed: bool,
}

/// The task that writes the CSV history and the saved run's seconds while the run goes on.
struct Follower {
    stop: oneshot::Sender<()>,
    task: JoinHandle<(Option<CsvReport>, Option<RunLog>)>,
}

impl Run {
    /// Builds the engine (a cluster's controller with `--workers`) with every output asked
    /// for attached; the load waits for `Command::Start`. A file or address that cannot be
    /// used stops it here, before any request.
    pub async fn start(plan: &Plan, out: &Output, front: Front) -> anyhow::Result<Run> {
        let csv = match (&out.csv, front) {
            (Some((prefix, full)), Front::Headless) => {
                Some(CsvReport::create(prefix, *full).map_err(anyhow::Error::msg)?)
            }
            _ => None,
        };
        let listener = match &out.prometheus {
            Some((addr, linger)) => Some((
                prometheus::bind(addr).await.map_err(anyhow::Error::msg)?,
                *linger,
            )),
            None => None,
        };
        let engine = match &out.distributed {
            Some(cfg) => {
                let quiet = cfg.quiet || front == Front::Tui;
                let cfg = crate::cluster::controller::Config {
                    quiet,
                    ..cfg.clone()
                };
                crate::cluster::controller::spawn(plan, cfg).await?
            }
            None => Engine::spawn(plan),
        };
        let control = serve_control(plan, out, front, &engine).await?;
        let metrics = listener.map(|(l, linger)| {
            if front == Front::Headless
                && let Ok(addr) = l.local_addr()
            {
                eprintln!("swarm: metrics for Prometheus at http://{addr}/metrics");
            }
            (prometheus::serve(l, engine.snapshots()), linger)
        });
        let started = (front == Front::Headless).then(SystemTime::now);
        let log = match &out.save_run {
            Some(path) => Some(RunLog::create(path, started).map_err(anyhow::Error::msg)?),
            None => None,
        };
        let intervals = log.as_ref().map(|_| {
            let (tx, rx) = mpsc::unbounded_channel();
            engine.send(Command::RecordIntervals(tx));
            rx
        });
        let follower = (csv.is_some() || log.is_some())
            .then(|| Follower::spawn(engine.snapshots(), csv, log.zip(intervals)));
        Ok(Run {
            distributed: out.distributed.is_some(),
            engine,
            control,
            front,
            started,
            follower,
            metrics,
        })
    }

    /// The run's control endpoint.
    pub fn control(&self) -> &control::Control {
        &self.control
    }

    /// Ends the run and writes every report asked for; returns the exit code. `last` is
    /// the snapshot the front-end ended on; without it, the engine is stopped and its
    /// last word taken. A TUI that never started the load writes no report and exits 1.
    pub async fn finish(
        mut self,
        plan: &Plan,
        out: &Output,
        last: Option<Arc<Snapshot>>,
    ) -> anyhow::Result<i32> {
        let (last, engine) = match last {
            Some(last) => (last, Some(self.engine)),
            None => (self.engine.shutdown().await, None),
        };
        let last = self.control.with_controls(last);
        let (csv, log) = match self.follower.take() {
            Some(f) => f.finish().await,
            None => (None, None),
        };
        if self.front == Front::Tui && last.state == RunState::Idle {
            eprintln!("swarm: the swarm was not started; no report");
            if let (Some(log), Some(path)) = (log, &out.save_run) {
                log.abandon(path);
            }
            // No request was sent: nothing passed (a script must not read this as a run).
            return Ok(1);
        }
        let started = self.started.unwrap_or_else(|| {
            SystemTime::now()
                .checked_sub(last.elapsed)
                .unwrap_or(std::time::UNIX_EPOCH)
        });
        let csv = match (csv, &out.csv) {
            (Some(c), _) => Some(c),
            (None, Some((prefix, full))) => {
                Some(CsvReport::create(prefix, *full).map_err(anyhow::Error::msg)?)
            }
            (None, None) => None,
        };
        let code = finish::finish(plan, &last, out, csv, (log, started));
        if let Some(engine) = engine.filter(|_| self.distributed) {
            // The controller says goodbye to its workers before the process ends.
            let _ = engine.shutdown().await;
        }
        if let Some((server, linger)) = self.metrics.take() {
            if !linger.is_zero() {
                eprintln!(
                    "swarm: serving the final metrics for {}",
                    format_duration(linger)
                );
                tokio::time::sleep(linger).await;
            }
            server.abort();
        }
        code
    }

    /// Ends a run whose load never started and that wants no report (a scenario written
    /// with `swarm new` and never run): the saved run's partial file goes.
    pub(crate) async fn abandon(mut self, out: &Output) {
        let _ = self.engine.shutdown().await;
        if let Some(f) = self.follower.take()
            && let (_, Some(log)) = f.finish().await
            && let Some(path) = &out.save_run
        {
            log.abandon(path);
        }
        if let Some((server, _)) = self.metrics.take() {
            server.abort();
        }
    }
}

/// The run's control endpoint; a headless run says how to reach it.
async fn serve_control(
    plan: &Plan,
    out: &Output,
    front: Front,
    engine: &Engine,
) -> anyhow::Result<control::Control> {
    let control = control::Control::start(control::Start {
        plan,
        text: &out.scenario,
        front: match front {
            Front::Headless => "headless",
            Front::Tui => "tui",
        },
        distributed: out.distributed.is_some(),
        commands: engine.commander(),
        snapshots: engine.snapshots(),
        config: &out.control,
        steered_by: None,
    })
    .await?;
    if front == Front::Headless
        && !out.quiet
        && let Some(info) = control.info()
    {
        eprintln!(
            "swarm: run {} (swarm status {0}, swarm scale {0} -u N, swarm attach {0}){}",
            info.id,
            info.tcp.as_ref().map_or(String::new(), |a| {
                let scheme = if a.starts_with("https://") {
                    ""
                } else {
                    "http://"
                };
                format!("; control at {scheme}{a}/")
            })
        );
    }
    Ok(control)
}

impl Follower {
    fn spawn(
        mut snaps: watch::Receiver<Arc<Snapshot>>,
        mut csv: Option<CsvReport>,
        mut saving: Option<(RunLog, mpsc::UnboundedReceiver<Interval>)>,
    ) -> Follower {
        let (stop, mut stopped) = oneshot::channel();
        let task = tokio::spawn(async move {
            let mut following = csv.is_some();
            loop {
                tokio::select! {
                    changed = snaps.changed(), if following => {
                        let snap = snaps.borrow_and_update().clone();
                        if changed.is_err() {
                            following = false;
                        } else if snap.state != RunState::Stopped
                            && let Some(c) = csv.as_mut()
                            && let Err(e) = c.update(&snap)
                        {
                            eprintln!("swarm: {e}");
                        }
                    }
                    Some(i) = next_interval(&mut saving) => {
                        if let Some((log, _)) = &saving {
                            log.interval(i);
                        }
                    }
                    _ = &mut stopped => break,
                }
            }
            // Every second the engine closed before it stopped is in the channel by now.
            let log = saving.map(|(log, mut rx)| {
                while let Ok(i) = rx.try_recv() {
                    log.interval(i);
                }
                log
            });
            (csv, log)
        });
        Follower { stop, task }
    }

    async fn finish(self) -> (Option<CsvReport>, Option<RunLog>) {
        let _ = self.stop.send(());
        self.task.await.unwrap_or((None, None))
    }
}

/// The next second for the saved run's log; never, without one (or once the engine has
/// dropped its sender).
async fn next_interval(
    saving: &mut Option<(RunLog, mpsc::UnboundedReceiver<Interval>)>,
) -> Option<Interval> {
    match saving {
        Some((_, rx)) => rx.recv().await,
        None => std::future::pending().await,
    }
}
