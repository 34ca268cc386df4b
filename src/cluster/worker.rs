//! `swarm worker`: joins a controller, takes the scenario and a segment from it, runs
//! that segment's share of the load in a local engine, and reports every second (a delta
//! of what its users recorded, its state, a heartbeat). A worker that loses its
//! controller stops its users and exits.

use super::proto::control_client::ControlClient;
use super::proto::{self, FromWorker, ToWorker, from_worker, order, to_worker};
use super::{EXIT_WORKER_LOST, MISSING_AFTER, VERSION, wall_us};
use crate::engine::share::Segment;
use crate::engine::{Command, Engine};
use crate::report::saved::RunLog;
use crate::scenario::Plan;
use crate::stats::{Delta, RunState, Snapshot};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;

/// How long a worker keeps trying to reach a controller that is not up yet.
const CONNECT_FOR: Duration = Duration::from_secs(60);
/// How often a worker reports (its heartbeat).
const REPORT_EVERY: Duration = Duration::from_secs(1);
/// ... and while a window is measured (a capacity-search step), as often as its engine
/// publishes.
const WINDOW_REPORT_EVERY: Duration = Duration::from_millis(250);
/// How long a worker that lost its controller gives its users to stop.
const STOP_WITHIN: Duration = Duration::from_secs(10);
/// How long a worker leaving on a signal waits for the controller's goodbye to its last
/// report.
const BYE_WITHIN: Duration = Duration::from_secs(3);
/// Largest message the controller may send (the scenario and its data files).
const MAX_MESSAGE: usize = 256 << 20;

#[derive(Debug, Clone)]
pub struct Options {
    /// HOST:PORT (or a URL) of the controller.
    pub controller: String,
    pub token: Option<String>,
    /// The segment to ask for (a Kubernetes completion index); None takes the next free.
    pub index: Option<u32>,
    /// TLS: the CA (PEM) that signed the controller's certificate, and a client
    /// certificate and key for a controller that asks for one.
    pub tls_ca: Option<String>,
    pub tls_identity: Option<(String, String)>,
    /// `--reconnect`: after losing the controller, stop the users and join again (for up
    /// to a minute, as at the start) instead of exiting.
    pub reconnect: bool,
    /// `--save-run FILE`: this worker's own samples, as a saved run.
    pub save_run: Option<std::path::PathBuf>,
}

/// Runs one worker's life; the result is its exit code.
pub async fn run(opts: Options) -> anyhow::Result<i32> {
    let mut index = opts.index;
    loop {
        let (code, segment) = session(&opts, index).await?;
        if code != EXIT_WORKER_LOST || !opts.reconnect {
            return Ok(code);
        }
        // Back to the controller (a restarted one, say), asking for the same segment.
        eprintln!(
            "swarm worker: reconnecting to {} for segment {segment} (--reconnect)",
            opts.controller
        );
        index = Some(segment);
    }
}

/// One life with one controller: join it, run its orders. Its exit code, and the segment
/// it ran.
async fn session(opts: &Options, index: Option<u32>) -> anyhow::Result<(i32, u32)> {
    let channel = connect(opts).await?;
    let (out, mut inbound, mut welcome) = join(opts, channel, index).await?;
    let plan = plan_of(&welcome, Take::All)?;
    let segment = Segment {
        index: welcome.index,
        count: welcome.count,
    };
    let mine = segment.plan(&plan);
    crate::scenario::addresses::check_local(&mine.net.local_addresses)
        .map_err(|e| anyhow::anyhow!("local_addresses: {e}"))?;
    if let Some(why) = crate::doctor::beyond_memory(crate::doctor::peak_users(&mine), 0) {
        anyhow::bail!("this worker's share: {why}");
    }
    for problem in crate::doctor::preflight(&mine) {
        eprintln!("swarm worker: warning: {problem}");
    }
    eprintln!(
        "swarm worker: joined {} as worker {} of {}; scenario {} against {}",
        opts.controller, welcome.index, welcome.count, welcome.file_name, plan.host
    );
    let (engine, deltas) = Engine::spawn_worker(&mine);
    let saved = match &opts.save_run {
        Some(path) => {
            let log = RunLog::create(path, None).map_err(anyhow::Error::msg)?;
            let (tx, rx) = mpsc::unbounded_channel();
            engine.send(Command::RecordIntervals(tx));
            let forward = log.forward(rx);
            Some((log, forward, path))
        }
        None => None,
    };
    let (code, last) = follow(engine, deltas, &mut inbound, &out, segment, &mut welcome).await;
    if let Some((log, forward, path)) = saved {
        // The engine is gone: every second it closed has been sent on.
        let _ = forward.await;
        save_share(log, path, last, (&mine, &welcome.scenario));
    }
    Ok((code, welcome.index))
}

/// The channel to the controller, over TLS with `--tls-ca`; a controller that is not up
/// yet is tried again for CONNECT_FOR.
async fn connect(opts: &Options) -> anyhow::Result<tonic::transport::Channel> {
    let scheme = if opts.tls_ca.is_some() {
        "https"
    } else {
        "http"
    };
    let url = if opts.controller.contains("://") {
        opts.controller.clone()
    } else {
        format!("{scheme}://{}", opts.controller)
    };
    let mut endpoint = tonic::transport::Endpoint::from_shared(url.clone())
        .map_err(|e| anyhow::anyhow!("--controller {}: {e}", opts.controller))?
        .connect_timeout(Duration::from_secs(3))
        // A controller that stopped answering (SIGSTOP, a partition without a reset) is
        // found the way the controller finds a silent worker: HTTP/2 pings, unanswered
        // for MISSING_AFTER, close the connection, and the users stop.
        .http2_keep_alive_interval(Duration::from_secs(1))
        .keep_alive_timeout(MISSING_AFTER)
        .keep_alive_while_idle(true);
    if let Some(ca) = &opts.tls_ca {
        use tonic::transport::{Certificate, ClientTlsConfig, Identity};
        let mut tls = ClientTlsConfig::new().ca_certificate(Certificate::from_pem(ca));
        if let Some((cert, key)) = &opts.tls_identity {
            tls = tls.identity(Identity::from_pem(cert, key));
        }
        endpoint = endpoint
            .tls_config(tls)
            .map_err(|e| anyhow::anyhow!("--tls-ca: {e}"))?;
    }
    let give_up = tokio::time::Instant::now() + CONNECT_FOR;
    loop {
        match endpoint.connect().await {
            Ok(c) => return Ok(c),
            // A certificate the worker does not trust will not change by waiting.
            Err(e) if is_tls_failure(&e) => anyhow::bail!(
                "the TLS handshake with the controller at {} failed: {}; --tls-ca must be the authority that signed the controller's --tls-cert, for the name or address given to --controller",
                opts.controller,
                source_text(&e)
            ),
            Err(e) if tokio::time::Instant::now() < give_up => {
                eprintln!(
                    "swarm worker: cannot reach the controller at {} yet ({}); trying again",
                    opts.controller,
                    source_text(&e)
                );
                tokio::time::sleep(Duration::from_secs(1)).await;
            }
            Err(e) => anyhow::bail!(
                "cannot reach the controller at {} for {} s: {}",
                opts.controller,
                CONNECT_FOR.as_secs(),
                source_text(&e)
            ),
        }
    }
}

/// Says hello and waits for the welcome: the way to the controller, its orders, and the
/// welcome (the scenario and this worker's segment).
async fn join(
    opts: &Options,
    channel: tonic::transport::Channel,
    index: Option<u32>,
) -> anyhow::Result<(
    mpsc::Sender<FromWorker>,
    tonic::Streaming<ToWorker>,
    proto::Welcome,
)> {
    let mut client = ControlClient::new(channel).max_decoding_message_size(MAX_MESSAGE);
    let (out, rx) = mpsc::channel::<FromWorker>(64);
    let hello = proto::Hello {
        version: VERSION.into(),
        token: opts.token.clone().unwrap_or_default(),
        host: super::host_name(),
        index: index.map_or(-1, |i| i as i32),
        wall_us: wall_us(),
    };
    let _ = out
        .send(FromWorker {
            msg: Some(from_worker::Msg::Hello(hello)),
        })
        .await;
    let mut inbound = client
        .join(ReceiverStream::new(rx))
        .await
        .map_err(|e| {
            let hint = if opts.tls_ca.is_some() {
                " (does the controller ask for a client certificate? give --tls-cert and --tls-key)"
            } else {
                " (if the controller uses TLS, give --tls-ca)"
            };
            anyhow::anyhow!(
                "the controller at {} did not take the worker: {}{hint}",
                opts.controller,
                e.message()
            )
        })?
        .into_inner();
    let welcome = match inbound.message().await {
        Ok(Some(ToWorker {
            msg: Some(to_worker::Msg::Welcome(w)),
        })) => w,
        Ok(Some(ToWorker {
            msg: Some(to_worker::Msg::Refused(why)),
        })) => anyhow::bail!(
            "the controller at {} refused this worker: {why}",
            opts.controller
        ),
        Ok(_) => anyhow::bail!(
            "the controller at {} closed the connection before it said anything",
            opts.controller
        ),
        Err(e) => anyhow::bail!("the controller at {}: {}", opts.controller, e.message()),
    };
    Ok((out, inbound, welcome))
}

/// `--save-run`: this worker's share of the run, once it ran (the partial file goes
/// when it never started).
fn save_share(
    log: RunLog,
    path: &std::path::Path,
    last: Option<Arc<Snapshot>>,
    (mine, scenario): (&Plan, &str),
) {
    let Some(last) = last.filter(|s| s.elapsed > Duration::ZERO) else {
        log.abandon(path);
        return;
    };
    let started = std::time::SystemTime::now()
        .checked_sub(last.elapsed)
        .unwrap_or(std::time::UNIX_EPOCH);
    let run = crate::report::saved::SavedRun::of(mine, &last, &[], started, scenario);
    match log.finish(run) {
        Ok(()) => eprintln!(
            "swarm worker: saved its share of the run to {}",
            path.display()
        ),
        Err(e) => eprintln!("swarm worker: --save-run: {e}"),
    }
}

/// How much of the controller's command line a scenario's text takes.
#[derive(Clone, Copy, PartialEq)]
enum Take {
    /// All of it: the first load.
    All,
    /// Only the selection (`--tags`, `--insecure`): an edit's text, whose figures stand.
    Selection,
}

/// The scenario of a welcome, loaded from a folder of its own (its data files beside it,
/// where its paths expect them), after the hash says it arrived whole.
fn plan_of(w: &proto::Welcome, take: Take) -> anyhow::Result<Plan> {
    if super::hash(&w.scenario, &w.files) != w.hash {
        anyhow::bail!(
            "the scenario from the controller does not match its hash; it was damaged on the way"
        );
    }
    let dir = std::env::temp_dir().join(format!("swarm-worker-{}-{}", std::process::id(), w.index));
    std::fs::create_dir_all(&dir)?;
    for f in &w.files {
        if !super::inside_folder(&f.path) {
            anyhow::bail!(
                "the controller sent a data file outside the scenario's folder: {}",
                f.path
            );
        }
        let path = dir.join(&f.path);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, &f.content)?;
    }
    let name = std::path::Path::new(&w.file_name)
        .file_name()
        .map_or_else(|| "scenario.toml".into(), |n| n.to_os_string());
    let path = dir.join(name);
    std::fs::write(&path, &w.scenario)?;
    let plan = Plan::load_with_host(&path, Some(&w.host))
        .map_err(|e| anyhow::anyhow!("the controller's scenario does not load here: {e}"));
    let _ = std::fs::remove_dir_all(&dir);
    let mut plan = plan?;
    let overrides: super::Overrides = serde_json::from_str(&w.overrides).map_err(|e| {
        anyhow::anyhow!("the controller's command-line settings do not read here: {e}")
    })?;
    match take {
        Take::All => overrides.apply(&mut plan),
        Take::Selection => overrides.apply_selection(&mut plan),
    }
    .map_err(|e| anyhow::anyhow!("the controller's command-line settings: {e}"))?;
    Ok(plan)
}

/// Carries out orders and reports until told to leave (0) or the controller is lost.
async fn follow(
    engine: Engine,
    deltas: mpsc::UnboundedReceiver<Delta>,
    inbound: &mut tonic::Streaming<ToWorker>,
    out: &mpsc::Sender<FromWorker>,
    segment: Segment,
    // The scenario as it runs now (an edit replaces it).
    welcome: &mut proto::Welcome,
) -> (i32, Option<Arc<Snapshot>>) {
    let mut w = Following {
        snaps: engine.snapshots(),
        engine: &engine,
        deltas,
        out,
        segment,
        welcome,
        reports: Reports::new(),
        beat: tokio::time::interval(REPORT_EVERY),
        start: None,
        last_state: RunState::Idle,
        swarm: SwarmFigures::default(),
        started: false,
        leave_by: None,
    };
    // SIGTERM (a pod deleted), SIGINT, SIGHUP: stop the users, send all they recorded,
    // leave. A second signal, or STOP_WITHIN, cuts it short.
    let mut signals = crate::signals::Signals::stop_requests();
    let leave = loop {
        let step = tokio::select! {
            _ = signals.next() => w.on_signal().await,
            _ = async { w.leave_by.as_mut().expect("guarded").await }, if w.leave_by.is_some() => {
                Some(Leave::Now)
            }
            m = inbound.message() => w.on_message(m).await,
            _ = async { w.start.as_mut().expect("guarded").await }, if w.start.is_some() => {
                w.on_start();
                None
            }
            Some(d) = w.deltas.recv() => {
                w.reports.absorb(d);
                None
            }
            _ = w.beat.tick() => {
                // A stream that is gone is said by the next message.
                let snap = w.snaps.borrow().clone();
                w.report(&snap).await;
                None
            }
            changed = w.snaps.changed() => match changed {
                Err(_) => Some(Leave::EngineGone),
                Ok(()) => w.on_snapshot().await,
            },
        };
        if let Some(leave) = step {
            break leave;
        }
    };
    let snaps = w.snaps;
    match leave {
        Leave::Now => (0, Some(engine.shutdown().await)),
        Leave::Lost => {
            let stopped = |s: &Arc<Snapshot>| matches!(s.state, RunState::Stopped | RunState::Idle);
            let mut snaps = snaps;
            let _ = tokio::time::timeout(STOP_WITHIN, snaps.wait_for(stopped)).await;
            drop(snaps);
            (EXIT_WORKER_LOST, Some(engine.shutdown().await))
        }
        Leave::EngineGone => (EXIT_WORKER_LOST, None),
    }
}

/// Why a worker stops following its controller.
enum Leave {
    /// Told to (a goodbye), or a signal: the engine shuts down and the worker exits 0.
    Now,
    /// The controller is gone: the users are given STOP_WITHIN to stop.
    Lost,
    /// The engine ended by itself.
    EngineGone,
}

/// A worker following its controller: its engine, what it owes the controller, and
/// its timers.
struct Following<'a> {
    engine: &'a Engine,
    snaps: tokio::sync::watch::Receiver<Arc<Snapshot>>,
    deltas: mpsc::UnboundedReceiver<Delta>,
    out: &'a mpsc::Sender<FromWorker>,
    segment: Segment,
    welcome: &'a mut proto::Welcome,
    /// What the engine recorded since the last report; a delta of another window waits
    /// apart, so no report mixes two.
    reports: Reports,
    beat: tokio::time::Interval,
    /// The instant the controller scheduled the start for.
    start: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
    last_state: RunState,
    swarm: SwarmFigures,
    /// Whether the engine has started the run the controller last scheduled.
    started: bool,
    /// Leaving: by when, at the latest.
    leave_by: Option<std::pin::Pin<Box<tokio::time::Sleep>>>,
}

impl Following<'_> {
    fn leave_within(&mut self, d: Duration) {
        self.leave_by = Some(Box::pin(tokio::time::sleep(d)));
    }

    /// Sends what the engine recorded; false when the stream is gone.
    async fn report(&mut self, snap: &Snapshot) -> bool {
        let when = (self.started, self.leave_by.is_some());
        (self.reports)
            .flush(&mut self.deltas, self.out, snap, when)
            .await
    }

    async fn on_signal(&mut self) -> Option<Leave> {
        if self.leave_by.is_some() {
            return Some(Leave::Now);
        }
        eprintln!(
            "swarm worker: asked to stop; stopping the users, sending what they recorded, and leaving"
        );
        self.leave_within(STOP_WITHIN);
        self.engine.send(Command::Stop);
        let snap = self.snaps.borrow().clone();
        if matches!(snap.state, RunState::Idle | RunState::Stopped) {
            self.report(&snap).await;
            self.leave_within(BYE_WITHIN);
        }
        None
    }

    async fn on_message(&mut self, m: Result<Option<ToWorker>, tonic::Status>) -> Option<Leave> {
        match m {
            Ok(Some(ToWorker {
                msg: Some(to_worker::Msg::Order(o)),
            })) => self.on_order(o.what?),
            Ok(Some(_)) => None,
            Ok(None) | Err(_) if self.leave_by.is_some() => Some(Leave::Now),
            Ok(None) | Err(_) => {
                let why = match m {
                    Err(e) if is_silence(&e) => format!(
                        "it stopped answering: no answer to pings for {} s, or the connection broke",
                        MISSING_AFTER.as_secs()
                    ),
                    Err(e) => e.message().to_string(),
                    _ => "it closed the connection".into(),
                };
                eprintln!("swarm worker: lost the controller ({why}); stopping the users");
                self.engine.send(Command::Stop);
                Some(Leave::Lost)
            }
        }
    }

    fn on_order(&mut self, what: order::What) -> Option<Leave> {
        match what {
            order::What::Bye(_) => {
                self.engine.send(Command::Stop);
                return Some(Leave::Now);
            }
            order::What::Resegment(s) => {
                eprintln!("swarm worker: now segment {} of {}", s.index, s.count);
                self.segment = Segment {
                    index: s.index,
                    count: s.count,
                };
            }
            order::What::Rescenario(r) => self.rescenario(r),
            order::What::MarkWindow(id) => {
                self.engine.send(Command::MarkWindowAs(id));
                if self.beat.period() != WINDOW_REPORT_EVERY {
                    let first = tokio::time::Instant::now() + WINDOW_REPORT_EVERY;
                    self.beat = tokio::time::interval_at(first, WINDOW_REPORT_EVERY);
                }
            }
            order::What::StartAtUs(at) => {
                // Until it starts, the engine's peak is the last run's.
                self.started = false;
                let wait = Duration::from_micros(at.saturating_sub(wall_us()));
                self.start = Some(Box::pin(tokio::time::sleep(wait)));
            }
            what => {
                for c in commands_for(what, self.segment, &mut self.swarm) {
                    self.engine.send(c);
                }
            }
        }
        None
    }

    /// An edit of the scenario: loaded as the first was, its figures left as they are.
    fn rescenario(&mut self, r: proto::Rescenario) {
        self.welcome.scenario = r.scenario;
        self.welcome.files = r.files;
        self.welcome.hash = r.hash;
        match plan_of(self.welcome, Take::Selection) {
            Ok(plan) => {
                let mine = self.segment.plan(&plan);
                if r.stages {
                    self.engine
                        .send(Command::SetStages(mine.load.stages.clone()));
                }
                if r.workload {
                    self.engine.send(Command::SetWorkload(Box::new(mine)));
                }
                eprintln!("swarm worker: took the edited scenario");
            }
            Err(e) => eprintln!(
                "swarm worker: the edited scenario does not load here, keeping the last: {e}"
            ),
        }
    }

    /// The scheduled start instant has come.
    fn on_start(&mut self) {
        self.start = None;
        for c in start_commands(self.segment, &self.swarm) {
            self.engine.send(c);
        }
        self.started = true;
        self.reports.cpu.begin();
        // Every worker reports the seconds of the run from the one start instant, so
        // their deltas cover the same seconds of the controller's history.
        let every = self.beat.period();
        self.beat = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
    }

    /// A change of state is reported at once, the stop with its last delta.
    async fn on_snapshot(&mut self) -> Option<Leave> {
        let snap = self.snaps.borrow().clone();
        if snap.state == self.last_state {
            return None;
        }
        self.last_state = snap.state;
        if snap.state == RunState::Stopped {
            self.reports.cpu.freeze();
        }
        let gone =
            self.leave_by.is_some() && matches!(snap.state, RunState::Stopped | RunState::Idle);
        self.report(&snap).await;
        if gone {
            // The controller answers the last report with a goodbye: then it has it (a
            // process that exited now could take it along unsent).
            self.leave_within(BYE_WITHIN);
        }
        None
    }
}

/// The swarm's figures a worker last had orders for: what its place in a ramp is
/// measured against.
#[derive(Debug, Clone, Copy, Default)]
pub struct SwarmFigures {
    pub users: u32,
    pub spawn_rate: f64,
}

/// The engine commands for an order; the swarm's figures become this segment's share,
/// and a new users target comes with this segment's place in the swarm's ramp.
pub fn commands_for(what: order::What, segment: Segment, swarm: &mut SwarmFigures) -> Vec<Command> {
    let one = match what {
        order::What::SetUsers(n) => {
            let delay = segment.ramp_delay(swarm.users, n, swarm.spawn_rate);
            swarm.users = n;
            return vec![
                Command::DelayNextSpawn(delay),
                Command::SetUsers(segment.users(n)),
            ];
        }
        order::What::SetSpawnRate(r) => {
            swarm.spawn_rate = r;
            Command::SetSpawnRate(segment.rate(r).max(1.0 / 60.0))
        }
        order::What::Stop(_) => Command::Stop,
        order::What::SetArrivalRate(r) => Command::SetArrivalRate(segment.rate(r)),
        order::What::ResetStats(_) => Command::ResetStats,
        order::What::PausePlan(_) => Command::PausePlan,
        order::What::ResumePlan(_) => Command::ResumePlan,
        order::What::SetRunTimeMs(0) => Command::SetRunTime(None),
        order::What::SetRunTimeMs(ms) => Command::SetRunTime(Some(Duration::from_millis(ms))),
        order::What::StartAtUs(_)
        | order::What::Bye(_)
        | order::What::Resegment(_)
        | order::What::MarkWindow(_)
        | order::What::Rescenario(_) => return vec![],
    };
    vec![one]
}

/// The engine commands at the start instant: the run ramps from no users, this segment
/// at its place in the swarm's ramp.
pub fn start_commands(segment: Segment, swarm: &SwarmFigures) -> Vec<Command> {
    vec![
        Command::DelayNextSpawn(segment.ramp_delay(0, swarm.users, swarm.spawn_rate)),
        Command::Start,
    ]
}

fn is_empty(d: &Delta) -> bool {
    d.rows.is_empty() && d.failures.is_empty() && d.lateness.is_none()
}

/// What the worker reports to its controller: the engine's deltas not sent yet (one of
/// another window waits apart, so that no report mixes two), the reports' numbering, and
/// the process's CPU over the run. Every report goes out through `flush`.
struct Reports {
    pending: Delta,
    ready: Vec<Delta>,
    seq: u64,
    cpu: CpuMeter,
}

impl Reports {
    fn new() -> Self {
        Reports {
            pending: Delta::default(),
            ready: Vec::new(),
            seq: 0,
            cpu: CpuMeter::new(),
        }
    }

    /// Adds the engine's delta to what waits for the next report; one of another window
    /// closes what waits first.
    fn absorb(&mut self, d: Delta) {
        let into = &mut self.pending;
        let window = |d: &Delta| d.window.map(|w| w.id);
        if window(into) != window(&d) && !is_empty(into) {
            self.ready.push(std::mem::take(into));
        }
        // The newest delta says how much of its window is covered.
        into.window = d.window;
        into.rows.extend(d.rows);
        into.failures.extend(d.failures);
        if let Some(late) = d.lateness {
            match &mut into.lateness {
                Some(h) => h.add(&late).expect("auto-resizing histogram"),
                None => into.lateness = Some(late),
            }
        }
    }

    /// Sends everything the engine has recorded (the deltas still in `deltas` included)
    /// with the snapshot's figures; `started`: the engine runs the run the controller
    /// last scheduled (its peak counts); `leaving`: the worker leaves on its own after
    /// this. False when the stream to the controller is gone.
    async fn flush(
        &mut self,
        deltas: &mut mpsc::UnboundedReceiver<Delta>,
        out: &mpsc::Sender<FromWorker>,
        snap: &Snapshot,
        (started, leaving): (bool, bool),
    ) -> bool {
        while let Ok(d) = deltas.try_recv() {
            self.absorb(d);
        }
        let cpu_percent = self.cpu.percent();
        let mut all = std::mem::take(&mut self.ready);
        all.push(std::mem::take(&mut self.pending));
        for delta in all {
            // An empty delta still says how far its window is covered.
            let bytes = if is_empty(&delta) && delta.window.is_none() {
                Vec::new()
            } else {
                serde_json::to_vec(&delta).unwrap_or_default()
            };
            self.seq += 1;
            let report = proto::Report {
                seq: self.seq,
                delta: bytes,
                state: snap.state.to_string(),
                users: snap.users,
                peak_users: if started { snap.peak_users } else { 0 },
                run_clock_ms: snap.run_clock.as_millis() as u64,
                stopped_users: snap.stopped_users,
                scheduled: snap.arrivals.as_ref().map_or(0, |a| a.scheduled),
                dropped: snap.arrivals.as_ref().map_or(0, |a| a.dropped),
                cpu_percent,
                wall_us: wall_us(),
                think_late_p99_ms: snap.generator.think_lateness_ms[1],
                leaving,
            };
            let msg = FromWorker {
                msg: Some(from_worker::Msg::Report(report)),
            };
            if out.send(msg).await.is_err() {
                return false;
            }
        }
        true
    }
}

/// This process's CPU use over the run, in % of one core: from the run's start to now,
/// or to its stop once it stopped (a rate over the last short flush between two reports
/// read 573 % on 2 cores).
struct CpuMeter {
    since: Option<(f64, std::time::Instant)>,
    frozen: Option<f64>,
}

impl CpuMeter {
    fn new() -> Self {
        CpuMeter {
            since: Self::reading(),
            frozen: None,
        }
    }

    fn cpu_seconds() -> Option<f64> {
        let text = std::fs::read_to_string("/proc/self/stat").ok()?;
        let after = text.rsplit_once(')')?.1;
        let f: Vec<&str> = after.split_whitespace().collect();
        let ticks: f64 = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
        Some(ticks / 100.0)
    }

    fn reading() -> Option<(f64, std::time::Instant)> {
        Self::cpu_seconds().map(|c| (c, std::time::Instant::now()))
    }

    /// The run starts: CPU is counted from now.
    fn begin(&mut self) {
        self.since = Self::reading();
        self.frozen = None;
    }

    /// The run stopped: the figure stays what it was at the stop.
    fn freeze(&mut self) {
        if self.frozen.is_none() {
            self.frozen = Some(self.percent());
        }
    }

    fn percent(&mut self) -> f64 {
        if let Some(p) = self.frozen {
            return p;
        }
        let (Some((c0, t0)), Some((c, t))) = (self.since, Self::reading()) else {
            return 0.0;
        };
        let wall = t.duration_since(t0).as_secs_f64();
        // Under a tenth of a second the clock tick (10 ms) is too coarse for a share.
        if wall < 0.1 {
            return 0.0;
        }
        100.0 * (c - c0) / wall
    }
}

/// The connection ended because the controller's pings went unanswered (hyper closes it,
/// and the stream reads a broken pipe) rather than by a reset or a close.
fn is_silence(e: &tonic::Status) -> bool {
    let mut text = e.message().to_ascii_lowercase();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text += &s.to_string().to_ascii_lowercase();
        source = s.source();
    }
    ["keep-alive", "keepalive", "broken pipe"]
        .iter()
        .any(|k| text.contains(k))
}

fn is_tls_failure(e: &tonic::transport::Error) -> bool {
    let text = source_text(e).to_ascii_lowercase();
    text.contains("certificate") || text.contains("tls") || text.contains("handshake")
}

fn source_text(e: &tonic::transport::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text = s.to_string();
        source = s.source();
    }
    text
}
