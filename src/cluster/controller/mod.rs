//! The controller of a distributed run: a gRPC server the workers join, and an `Engine`
//! whose task (the `Coordinator`) turns commands into orders for every worker and merges
//! the workers' deltas into one set of statistics. Until the wanted number of workers has
//! joined, a start waits; then every worker is told to start at one wall-clock instant
//! a moment ahead, corrected by its measured clock offset.

use super::proto::control_server::{Control, ControlServer};
use super::proto::{self, FromWorker, ToWorker, from_worker, order, to_worker};
use super::wall_us;
use crate::engine::clock::{self, RunClock};
use crate::engine::{Command, Engine};
use crate::scenario::{Load, Plan};
use crate::stats::{Arrivals, RunState, Shards, Snapshot, Stats, WorkerStatus};
use std::collections::HashMap;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;
use tokio_stream::wrappers::{ReceiverStream, TcpListenerStream};
use tonic::{Request, Response, Status, Streaming};

/// eprintln!, unless the controller is to keep quiet.
macro_rules! say {
    ($quiet:expr, $($arg:tt)*) => {
        if !$quiet {
            eprintln!($($arg)*);
        }
    };
}

mod workers;

/// How far ahead of the order the workers start, so that all have it in time.
const START_AHEAD: Duration = Duration::from_millis(500);
/// How often the controller looks at its workers and publishes a snapshot.
const TICK: Duration = Duration::from_millis(250);
/// Largest message a worker may send (a report with many rows).
const MAX_MESSAGE: usize = 64 << 20;

/// Workers report each second of the run just after it ends (counted from the common
/// start); the controller's seconds close this much later, so each holds one report of
/// every worker.
const SECONDS_LAG: Duration = Duration::from_millis(500);

/// What a distributed run needs besides its plan.
#[derive(Debug, Clone)]
pub struct Config {
    pub workers: u32,
    /// `--processes`: this many of the workers are processes of this machine that the
    /// controller starts itself (`swarm worker` on its own port, with its token).
    pub processes: u32,
    pub listen: SocketAddr,
    pub token: Option<String>,
    /// The scenario as written, its file name, and the data files it reads.
    pub scenario: String,
    pub file_name: String,
    pub files: Vec<proto::DataFile>,
    /// The scenario's folder: an edit's data files are read from it.
    pub dir: std::path::PathBuf,
    /// `--tolerate-worker-loss`: a lost worker's share goes to the others.
    pub tolerate_loss: bool,
    /// `--expect-workers-max-wait`: how long a start waits for every worker to join.
    pub expect_wait: Option<Duration>,
    /// Say nothing on standard error (the TUI shows the workers instead).
    pub quiet: bool,
    /// TLS on the control port: certificate and key (PEM), and the CA whose client
    /// certificates the workers must present, if any.
    pub tls: Option<Tls>,
}

#[derive(Debug, Clone)]
pub struct Tls {
    pub cert: String,
    pub key: String,
    pub client_ca: Option<String>,
}

/// The data files a scenario reads, for the workers (who have no copy of them).
pub(crate) fn data_files(
    plan: &Plan,
    scenario_dir: &std::path::Path,
) -> anyhow::Result<Vec<proto::DataFile>> {
    let mut files = Vec::new();
    for d in &plan.data {
        if !super::inside_folder(&d.file) {
            anyhow::bail!(
                "data.{}: file = \"{}\": a distributed run sends data files to its workers, so their paths must lie inside the scenario's folder (write it relative, without ..)",
                d.name,
                d.file
            );
        }
        let content = std::fs::read(scenario_dir.join(&d.file))
            .map_err(|e| anyhow::anyhow!("data.{}: {}: {e}", d.name, d.file))?;
        files.push(proto::DataFile {
            path: d.file.clone(),
            content,
        });
    }
    Ok(files)
}

/// Binds the control port and starts the controller. A port that is taken, or an address
/// other than loopback without a token, is an error here, before anything runs.
pub async fn spawn(plan: &Plan, cfg: Config) -> anyhow::Result<Engine> {
    if cfg.workers == 0 {
        anyhow::bail!("--workers: give at least 1");
    }
    let client_certs = cfg.tls.as_ref().is_some_and(|t| t.client_ca.is_some());
    if cfg.token.is_none() && !client_certs && !cfg.listen.ip().is_loopback() {
        anyhow::bail!(
            "--listen {}: a control port reachable from other machines needs a token, or anyone who reaches it can run load from your workers; make one with `{}` and give it to the controller and every worker with --token-file swarm.token",
            cfg.listen,
            super::MAKE_TOKEN
        );
    }
    let listener = tokio::net::TcpListener::bind(cfg.listen)
        .await
        .map_err(|e| anyhow::anyhow!("--listen {}: {e}", cfg.listen))?;
    let addr = listener.local_addr()?;
    if cfg.processes == 0 {
        eprintln!(
            "swarm: controller listening on {addr}; waiting for {} worker{} (swarm worker --controller {addr})",
            cfg.workers,
            if cfg.workers == 1 { "" } else { "s" }
        );
    } else {
        say!(
            cfg.quiet,
            "swarm: running over {} worker processes on this machine (controller on {addr})",
            cfg.processes
        );
    }
    let (events, event_rx) = mpsc::unbounded_channel();
    let server = serve(listener, events, cfg.tls.as_ref())?;
    let (commands, command_rx) = mpsc::unbounded_channel();
    let first = Snapshot {
        workers_wanted: cfg.workers,
        controller_addr: addr.to_string(),
        ..Snapshot::default()
    };
    let (snap_tx, snapshots) = watch::channel(Arc::new(first));
    let (exited_tx, exited) = mpsc::unbounded_channel();
    let processes = match (cfg.processes, &cfg.token) {
        (0, _) => None,
        (n, Some(token)) => Some(super::local::Processes::start(
            n, addr, token, cfg.quiet, exited_tx,
        )?),
        (_, None) => anyhow::bail!("--processes: the workers need a token"),
    };
    let mut coordinator = Coordinator::new(plan, cfg, snap_tx);
    coordinator.addr = addr.to_string();
    let task = tokio::spawn(async move {
        coordinator.run(command_rx, event_rx, exited).await;
        if let Some(p) = processes {
            p.finish().await;
        }
        server.abort();
    });
    Ok(Engine::from_parts(commands, snapshots, task))
}

/// Serves the control port (over TLS with `--tls-cert`); every connection's events go
/// to `events`.
fn serve(
    listener: tokio::net::TcpListener,
    events: mpsc::UnboundedSender<Event>,
    tls: Option<&Tls>,
) -> anyhow::Result<tokio::task::JoinHandle<Result<(), tonic::transport::Error>>> {
    let service = Service {
        events,
        next_conn: Arc::new(AtomicU64::new(0)),
    };
    let mut builder = tonic::transport::Server::builder();
    if let Some(t) = tls {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(&t.cert, &t.key));
        if let Some(ca) = &t.client_ca {
            tls = tls.client_ca_root(Certificate::from_pem(ca));
        }
        builder = builder
            .tls_config(tls)
            .map_err(|e| anyhow::anyhow!("--tls-cert/--tls-key: {e}"))?;
    }
    Ok(tokio::spawn(
        builder
            .add_service(ControlServer::new(service).max_decoding_message_size(MAX_MESSAGE))
            .serve_with_incoming(TcpListenerStream::new(listener)),
    ))
}

type Outbox = mpsc::Sender<Result<ToWorker, Status>>;

enum Event {
    Connected {
        conn: u64,
        out: Outbox,
        peer: Option<SocketAddr>,
    },
    Message {
        conn: u64,
        msg: FromWorker,
    },
    Closed {
        conn: u64,
        why: String,
    },
}

struct Service {
    events: mpsc::UnboundedSender<Event>,
    next_conn: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl Control for Service {
    type JoinStream = Pin<Box<dyn tokio_stream::Stream<Item = Result<ToWorker, Status>> + Send>>;

    async fn join(
        &self,
        request: Request<Streaming<FromWorker>>,
    ) -> Result<Response<Self::JoinStream>, Status> {
        let peer = request.remote_addr();
        let mut inbound = request.into_inner();
        let conn = self.next_conn.fetch_add(1, Ordering::Relaxed);
        let (out, rx) = mpsc::channel(64);
        let events = self.events.clone();
        let _ = events.send(Event::Connected { conn, out, peer });
        tokio::spawn(async move {
            let why = loop {
                match inbound.message().await {
                    Ok(Some(msg)) => {
                        if events.send(Event::Message { conn, msg }).is_err() {
                            return;
                        }
                    }
                    Ok(None) => break "it closed the connection".to_string(),
                    Err(e) => break format!("the connection failed: {}", e.message()),
                }
            };
            let _ = events.send(Event::Closed { conn, why });
        });
        Ok(Response::new(Box::pin(ReceiverStream::new(rx))))
    }
}

/// A worker that joined, as the controller knows it.
struct Worker {
    conn: u64,
    host: String,
    out: Outbox,
    state: RunState,
    users: u32,
    run_clock_ms: u64,
    stopped_users: u64,
    scheduled: u64,
    dropped: u64,
    cpu_percent: f64,
    think_late_p99_ms: f64,
    /// Its clock minus ours, µs.
    offset_us: i64,
    last_heard: Instant,
    /// Its requests in this run (since the start or the latest statistics reset).
    requests: u64,
    missing: bool,
    /// The most users it ran at once in this run.
    peak_users: u32,
    /// Its part of the open window, if it was there at the mark: requests, and how long
    /// it has covered.
    window: Option<(u64, Duration)>,
    /// It said it leaves on its own: stopped, it is still a loss to the run.
    leaving: bool,
}

impl Worker {
    /// A worker that has just joined, on connection `conn`; its clock is `offset_us`
    /// ahead of the controller's.
    fn new(conn: u64, host: String, out: Outbox, offset_us: i64) -> Worker {
        Worker {
            conn,
            host,
            out,
            state: RunState::Idle,
            users: 0,
            run_clock_ms: 0,
            stopped_users: 0,
            scheduled: 0,
            dropped: 0,
            cpu_percent: 0.0,
            think_late_p99_ms: 0.0,
            offset_us,
            last_heard: Instant::now(),
            requests: 0,
            missing: false,
            peak_users: 0,
            window: None,
            leaving: false,
        }
    }
}

/// An edit on its way to the workers.
#[derive(Default)]
struct Edit {
    text: Option<String>,
    workload: bool,
    stages: bool,
}

struct Coordinator {
    plan: Plan,
    edit: Edit,
    /// The last edit that could not go to the workers, and why.
    edit_error: Option<String>,
    load: Load,
    cfg: Config,
    hash: String,
    /// By segment index; None while the segment has no worker.
    workers: Vec<Option<Worker>>,
    /// Connections that have not said hello yet, and where they come from.
    pending: HashMap<u64, (Outbox, Option<SocketAddr>)>,
    stats: Stats,
    state: RunState,
    start_wanted: bool,
    /// Since when the start has been waiting for its workers.
    wanted_since: Instant,
    /// The run's clock, from the instant the workers were told to start.
    clock: Option<RunClock>,
    stop_sent: bool,
    peak_users: u32,
    lost: Option<String>,
    lost_workers: Vec<crate::stats::LostWorker>,
    /// A worker was lost and the others carried its share.
    degraded: bool,
    /// The control port's address, for the workers view.
    addr: String,
    snapshots: watch::Sender<Arc<Snapshot>>,
}

impl Coordinator {
    fn new(plan: &Plan, cfg: Config, snapshots: watch::Sender<Arc<Snapshot>>) -> Coordinator {
        let mut stats = Stats::new(Instant::now().into_std());
        // The rows in the order one process would list them (its runner names them).
        crate::engine::runner::Runner::register_rows(plan, &mut stats);
        Coordinator {
            hash: super::hash(&cfg.scenario, &cfg.files),
            workers: (0..cfg.workers).map(|_| None).collect(),
            plan: plan.clone(),
            edit: Edit::default(),
            edit_error: None,
            load: plan.load.clone(),
            cfg,
            pending: HashMap::new(),
            stats,
            state: RunState::Idle,
            start_wanted: false,
            wanted_since: Instant::now(),
            clock: None,
            stop_sent: false,
            peak_users: 0,
            lost: None,
            lost_workers: Vec::new(),
            degraded: false,
            addr: String::new(),
            snapshots,
        }
    }

    async fn run(
        mut self,
        mut commands: mpsc::UnboundedReceiver<Command>,
        mut events: mpsc::UnboundedReceiver<Event>,
        mut exited: mpsc::UnboundedReceiver<super::local::Exited>,
    ) {
        let mut tick = tokio::time::interval(TICK);
        loop {
            tokio::select! {
                c = commands.recv() => match c {
                    Some(c) => {
                        self.command(c);
                        // An edit comes as a few commands at once: one order for them.
                        while let Ok(c) = commands.try_recv() {
                            self.command(c);
                        }
                        self.send_edit();
                    }
                    None => break,
                },
                Some(e) = events.recv() => self.event(e),
                Some(x) = exited.recv() => self.process_exited(x),
                _ = tick.tick() => {
                    self.check_missing();
                    self.give_up_waiting();
                    self.maybe_start();
                    self.publish();
                }
            }
        }
        // Shut down: a run still going is stopped, and the workers' last reports are
        // waited for (the stop timeout and a little more).
        if matches!(self.state, RunState::Spawning | RunState::Running) {
            self.stop();
        }
        let deadline = Instant::now() + self.load.stop_timeout + Duration::from_secs(5);
        while self.state == RunState::Stopping && Instant::now() < deadline {
            tokio::select! {
                Some(e) = events.recv() => self.event(e),
                _ = tick.tick() => { self.check_missing(); self.publish(); }
            }
        }
        self.broadcast(order::What::Bye(true));
        // Give the byes a moment to leave.
        tokio::time::sleep(Duration::from_millis(100)).await;
    }

    fn live(&self) -> impl Iterator<Item = &Worker> {
        self.workers.iter().flatten().filter(|w| !w.missing)
    }

    fn joined(&self) -> usize {
        self.live().count()
    }

    fn send(out: &Outbox, what: order::What) {
        let msg = ToWorker {
            msg: Some(to_worker::Msg::Order(proto::Order { what: Some(what) })),
        };
        let _ = out.try_send(Ok(msg));
    }

    fn broadcast(&self, what: order::What) {
        for w in self.live() {
            Self::send(&w.out, what.clone());
        }
    }

    // A flat dispatcher: one arm per engine command, each the order it becomes.
    #[allow(clippy::too_many_lines)]
    fn command(&mut self, c: Command) {
        match c {
            Command::Start => {
                if matches!(self.state, RunState::Idle | RunState::Stopped) {
                    self.start_wanted = true;
                    self.wanted_since = Instant::now();
                    self.maybe_start();
                }
            }
            Command::Stop => {
                if self.clock.is_none() {
                    // Nothing ran: the wait for workers ends.
                    self.start_wanted = false;
                    self.state = RunState::Stopped;
                    self.publish();
                } else {
                    self.stop();
                }
            }
            Command::SetUsers(n) => {
                self.load.users = n;
                self.broadcast(order::What::SetUsers(n));
            }
            Command::SetSpawnRate(r) => {
                self.load.spawn_rate = r;
                self.broadcast(order::What::SetSpawnRate(r));
            }
            Command::SetArrivalRate(r) => {
                self.load.arrival_rate = Some(r);
                self.broadcast(order::What::SetArrivalRate(r));
            }
            Command::PausePlan => self.broadcast(order::What::PausePlan(true)),
            Command::ResumePlan => self.broadcast(order::What::ResumePlan(true)),
            Command::ResetStats => {
                let now = Instant::now();
                self.stats.reset(&Shards::new(1), now.into_std());
                if let Some(c) = &mut self.clock {
                    // The workers' rates count from here, as their requests do.
                    c.reset_stats(now);
                }
                for w in self.workers.iter_mut().flatten() {
                    w.requests = 0;
                }
                self.stats.lag_seconds(SECONDS_LAG);
                self.broadcast(order::What::ResetStats(true));
            }
            Command::SetRunTime(d) => {
                self.load.run_time = d;
                self.broadcast(order::What::SetRunTimeMs(
                    d.map_or(0, |d| d.as_millis() as u64),
                ));
            }
            Command::RecordIntervals(to) => self.stats.record_intervals(to),
            // A worker's own engine takes this (the worker computes it from its orders).
            Command::DelayNextSpawn(_) => {}
            Command::MarkWindow | Command::MarkWindowAs(_) => {
                // The window is measured by the workers there now, over what each
                // recorded after it had the mark.
                let users = self.live().map(|w| w.users).sum();
                self.stats
                    .mark_window(&Shards::new(1), Instant::now().into_std(), users, None);
                let id = self.stats.window_id().expect("just marked");
                for w in self.workers.iter_mut().flatten() {
                    w.window = (!w.missing).then_some((0, Duration::ZERO));
                }
                self.broadcast(order::What::MarkWindow(id));
            }
            // An edit: the workers load the edited text (sent just before) as they loaded
            // the first, once the edit's commands are all in (`send_edit`).
            Command::SetScenarioText(text) => self.edit.text = Some(text),
            Command::SetWait(_) | Command::SetEndpoints(_) | Command::SetWorkload(_) => {
                self.edit.workload = true;
            }
            Command::SetStages(stages) => {
                self.load.stages = stages;
                self.edit.stages = true;
            }
        }
    }

    /// Sends an edit of the scenario to the workers: its text, the data files it reads
    /// now (read again: the edit may name others), and what it changed.
    fn send_edit(&mut self) {
        let Edit {
            text,
            workload,
            stages,
        } = std::mem::take(&mut self.edit);
        if !workload && !stages {
            self.edit.text = text;
            return;
        }
        let text = text.unwrap_or_else(|| self.cfg.scenario.clone());
        let label = self.cfg.dir.join(&self.cfg.file_name);
        let files = Plan::parse_with_host(&text, &label.display().to_string(), &self.plan.host)
            .map_err(|e| anyhow::anyhow!("{e}"))
            .and_then(|plan| data_files(&plan, &self.cfg.dir));
        let files = match files {
            Ok(f) => f,
            Err(e) => {
                self.edit_error = Some(format!("the workers did not get the edit: {e}"));
                say!(
                    self.cfg.quiet,
                    "swarm: the workers did not get the edit: {e}"
                );
                return;
            }
        };
        self.hash = super::hash(&text, &files);
        self.cfg.scenario = text;
        self.cfg.files = files;
        self.edit_error = None;
        self.broadcast(order::What::Rescenario(proto::Rescenario {
            scenario: self.cfg.scenario.clone(),
            files: self.cfg.files.clone(),
            hash: self.hash.clone(),
            workload,
            stages,
        }));
        say!(
            self.cfg.quiet,
            "swarm: sent the edited scenario to the workers"
        );
    }

    fn stop(&mut self) {
        if !self.stop_sent {
            self.stop_sent = true;
            self.broadcast(order::What::Stop(true));
            if matches!(self.state, RunState::Spawning | RunState::Running) {
                self.state = RunState::Stopping;
            }
        }
    }

    /// `--expect-workers-max-wait`: a start that waited that long for its workers ends,
    /// naming those that joined (a run that never started must not pass as one that did).
    fn give_up_waiting(&mut self) {
        let Some(limit) = self.cfg.expect_wait else {
            return;
        };
        let wanted = self.workers.len();
        if !self.start_wanted
            || self.joined() >= wanted
            || Instant::now().saturating_duration_since(self.wanted_since) < limit
        {
            return;
        }
        let joined: Vec<String> = self
            .workers
            .iter()
            .enumerate()
            .filter_map(|(i, w)| {
                w.as_ref()
                    .filter(|w| !w.missing)
                    .map(|w| format!("worker {i} ({})", w.host))
            })
            .collect();
        let named = if joined.is_empty() {
            "none joined".to_string()
        } else {
            format!("joined: {}", joined.join(", "))
        };
        let text = format!(
            "only {}/{wanted} workers joined within {} (--expect-workers-max-wait); {named}",
            joined.len(),
            crate::scenario::format_duration(limit)
        );
        say!(self.cfg.quiet, "swarm: {text}; not starting the run");
        self.lost.get_or_insert(text);
        self.start_wanted = false;
        self.state = RunState::Stopped;
    }

    /// Starts the run once it is wanted and every segment has its worker.
    fn maybe_start(&mut self) {
        if !self.start_wanted || self.joined() < self.workers.len() {
            return;
        }
        self.start_wanted = false;
        let at = Instant::now() + START_AHEAD;
        let at_wall = wall_us() + START_AHEAD.as_micros() as u64;
        self.stats.reset(&Shards::new(1), at.into_std());
        self.stats.lag_seconds(SECONDS_LAG);
        for w in self.live() {
            self.orders_for_start(w, at_wall);
        }
        say!(
            self.cfg.quiet,
            "swarm: {} workers connected; starting them together",
            self.workers.len()
        );
        self.clock = Some(RunClock::starting(at));
        self.stop_sent = false;
        self.peak_users = 0;
        for w in self.workers.iter_mut().flatten() {
            w.peak_users = 0;
            w.requests = 0;
        }
        self.state = RunState::Spawning;
    }

    /// What a worker is told before it starts: the swarm's figures (the command line may
    /// have changed the file's), then the instant, in its own clock.
    fn orders_for_start(&self, w: &Worker, at_wall: u64) {
        let l = &self.load;
        Self::send(
            &w.out,
            order::What::SetRunTimeMs(l.run_time.map_or(0, |d| d.as_millis() as u64)),
        );
        match l.arrival_rate {
            Some(r) => Self::send(&w.out, order::What::SetArrivalRate(r)),
            None => {
                Self::send(&w.out, order::What::SetSpawnRate(l.spawn_rate));
                Self::send(&w.out, order::What::SetUsers(l.users));
            }
        }
        let theirs = (at_wall as i64 + w.offset_us).max(0) as u64;
        Self::send(&w.out, order::What::StartAtUs(theirs));
    }

    fn event(&mut self, e: Event) {
        match e {
            Event::Connected { conn, out, peer } => {
                self.pending.insert(conn, (out, peer));
            }
            Event::Message { conn, msg } => match msg.msg {
                Some(from_worker::Msg::Hello(h)) => self.hello(conn, h),
                Some(from_worker::Msg::Report(r)) => self.report(conn, r),
                None => {}
            },
            Event::Closed { conn, why } => {
                self.pending.remove(&conn);
                if let Some(i) = self.index_of(conn) {
                    self.lose(i, &why);
                }
            }
        }
    }

    fn publish(&mut self) {
        let now = Instant::now();
        self.follow_workers_state(now);
        let users: u32 = self.live().map(|w| w.users).sum();
        // The workers follow one shape from one start, so their peaks come together: a
        // ramp shorter than a report is not missed.
        let peaks: u32 = self.workers.iter().flatten().map(|w| w.peak_users).sum();
        self.peak_users = self.peak_users.max(users).max(peaks);
        let elapsed = self.clock.map_or(Duration::ZERO, |c| c.elapsed(now));
        let snap = Snapshot {
            state: self.state,
            users,
            peak_users: self.peak_users,
            stopped_users: self.live().map(|w| w.stopped_users).sum(),
            target_users: self.load.users,
            spawn_rate: self.load.spawn_rate,
            elapsed,
            run_clock: (self.live())
                .map(|w| Duration::from_millis(w.run_clock_ms))
                .max()
                .unwrap_or(elapsed),
            run_time: self.load.run_time,
            arrivals: self.load.arrival_rate.map(|rate| Arrivals {
                rate: if matches!(self.state, RunState::Spawning | RunState::Running) {
                    rate
                } else {
                    0.0
                },
                max_users: self.load.max_users,
                scheduled: self.live().map(|w| w.scheduled).sum(),
                dropped: self.live().map(|w| w.dropped).sum(),
                waiting: 0,
                busy: 0,
            }),
            workers_wanted: self.workers.len() as u32,
            controller_addr: self.addr.clone(),
            edit_refused: self.edit_error.clone(),
            workers: self.worker_statuses(elapsed, now),
            worker_lost: self.lost.clone(),
            degraded: self.degraded,
            lost_workers: self.lost_workers.clone(),
            ..Snapshot::default()
        };
        clock::publish(&self.snapshots, clock::with_stats(snap, &self.stats, now));
    }

    /// The run's state follows its workers': stopped once every one has stopped (after
    /// the start), spawning while one spawns, running once all run.
    fn follow_workers_state(&mut self, now: Instant) {
        let Some(start) = self.clock.map(|c| c.plan_origin()) else {
            return;
        };
        let going = matches!(
            self.state,
            RunState::Spawning | RunState::Running | RunState::Stopping
        );
        if !going || now < start {
            return;
        }
        let states: Vec<RunState> = self.live().map(|w| w.state).collect();
        let all_stopped = states.iter().all(|s| *s == RunState::Stopped)
            // A worker reports stopped before its first start too.
            && (self.stop_sent || now >= start + Duration::from_secs(1) || self.lost.is_some());
        if all_stopped {
            self.stats.close_run(now.into_std(), 0);
            self.state = RunState::Stopped;
            if let Some(c) = &mut self.clock {
                c.stop(now);
            }
        } else if self.state != RunState::Stopping {
            self.state = if states.contains(&RunState::Spawning) {
                RunState::Spawning
            } else if states.iter().all(|s| *s == RunState::Running) {
                RunState::Running
            } else {
                self.state
            };
        }
    }

    /// Each worker's line in the Workers view and the JSON.
    fn worker_statuses(&self, elapsed: Duration, now: Instant) -> Vec<WorkerStatus> {
        let statuses = self.workers.iter().enumerate().filter_map(|(i, w)| {
            let w = w.as_ref()?;
            Some(WorkerStatus {
                index: i as u32,
                host: w.host.clone(),
                state: if w.missing {
                    "missing".into()
                } else {
                    w.state.to_string()
                },
                users: w.users,
                // Its share of the run's rate: the workers' add up to the aggregate's
                // (same requests, same span).
                rps: if elapsed.is_zero() {
                    0.0
                } else {
                    w.requests as f64 / elapsed.as_secs_f64()
                },
                cpu_percent: w.cpu_percent,
                think_late_p99_ms: w.think_late_p99_ms,
                clock_offset_ms: w.offset_us as f64 / 1000.0,
                last_heard_ms: now.saturating_duration_since(w.last_heard).as_millis() as u64,
            })
        });
        statuses.collect()
    }
}

fn parse_state(s: &str) -> RunState {
    match s {
        "spawning" => RunState::Spawning,
        "running" => RunState::Running,
        "stopping" => RunState::Stopping,
        "stopped" => RunState::Stopped,
        _ => RunState::Idle,
    }
}
