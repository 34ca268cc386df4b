//! Every run's control endpoint: HTTP/1.1 with JSON on a Unix socket only its user can
//! open (the registry's folder), and on `--control ADDR` over TCP too (a token is asked
//! for there, and anywhere but loopback it is required). Scripts and `swarm status |
//! pause | resume | stop | scale` use `/v1/...`; `swarm attach` opens the TUI on the run
//! through `/v1/launch`, `/v1/watch` and `/v1/command`; teammates read `GET /` (the HTML
//! report so far) and Prometheus `/metrics`. The run owns it (`Run::start`); it holds the
//! engine's command sender and a snapshot receiver, nothing else of the run.

pub mod client;
mod handle;
pub mod registry;
pub mod wire;

use crate::cluster::Overrides;
use crate::engine::Command;
use crate::scenario::Plan;
use crate::stats::{ControlEvent, Snapshot};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use wire::{LaunchInfo, Order};

/// The environment variable that gives a TUI's background run its id (set by the
/// terminal that starts it).
pub const RUN_ID_ENV: &str = "SWARM_RUN_ID";

/// `--control ADDR`, its token and its TLS (`--tls-cert`, `--tls-key`: PEM text).
#[derive(Debug, Clone, Default)]
pub struct Config {
    pub tcp: Option<SocketAddr>,
    pub token: Option<String>,
    pub tls: Option<(String, String)>,
}

impl Config {
    /// Refuses an address other than loopback without a token: whoever reaches it could
    /// steer the load.
    pub fn check(&self) -> anyhow::Result<()> {
        if let Some(addr) = self.tcp
            && !addr.ip().is_loopback()
            && self.token.is_none()
        {
            anyhow::bail!(
                "--control {addr}: an address other than loopback needs a token (--token-file FILE; make one with: head -c 32 /dev/urandom | base64 > FILE)"
            );
        }
        Ok(())
    }
}

/// What the endpoint says of the run, fixed at its start.
pub(crate) struct Desc {
    pub name: Option<String>,
    pub host: String,
    pub thresholds: Vec<crate::scenario::threshold::Threshold>,
    pub front: &'static str,
    pub started: SystemTime,
}

/// The endpoint's state, shared by its connections.
pub(crate) struct Shared {
    pub desc: Desc,
    /// Weak: the engine ends when its owner lets go of it, whatever the endpoint holds.
    commands: mpsc::WeakUnboundedSender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    /// What a TUI opens with; its text follows the edits.
    launch: Mutex<LaunchInfo>,
    controls: Mutex<Vec<ControlEvent>>,
    /// Watchers (attached TUIs) connected now.
    attached: AtomicUsize,
    quit: watch::Sender<bool>,
    /// What `resume` brings back after a `pause`.
    held: Mutex<Option<Held>>,
    /// Set when something else steers the load (the capacity search): scale is refused.
    steered_by: Option<&'static str>,
    token: Option<String>,
}

#[derive(Debug, Clone, Copy)]
enum Held {
    Users(u32),
    Rate(f64),
}

/// A run's endpoint: its listeners and its entry in the registry, gone when dropped.
pub struct Control {
    shared: Arc<Shared>,
    tasks: Vec<JoinHandle<()>>,
    entry: Option<registry::Entry>,
}

/// What `Control::start` needs of the run.
pub(crate) struct Start<'a> {
    pub plan: &'a Plan,
    pub text: &'a str,
    pub front: &'static str,
    pub distributed: bool,
    pub commands: mpsc::UnboundedSender<Command>,
    pub snapshots: watch::Receiver<Arc<Snapshot>>,
    pub config: &'a Config,
    pub steered_by: Option<&'static str>,
}

impl Control {
    /// Binds the socket (and `--control`'s address) and writes the registry entry.
    /// Binds the socket (and `--control`'s address) and writes the registry entry. A
    /// socket that cannot be made is said and left out (the load test matters more than
    /// its remote control); `--control` that cannot listen stops the run here.
    pub(crate) async fn start(s: Start<'_>) -> anyhow::Result<Control> {
        s.config.check()?;
        let tcp = match s.config.tcp {
            Some(addr) => Some(
                tokio::net::TcpListener::bind(addr)
                    .await
                    .map_err(|e| anyhow::anyhow!("--control {addr}: cannot listen there ({e})"))?,
            ),
            None => None,
        };
        let tls = match &s.config.tls {
            Some((cert, key)) => Some(tls_acceptor(cert, key)?),
            None => None,
        };
        let (dir, id, socket, unix) = bind_local();
        let tcp_addr = tcp.as_ref().and_then(|l| l.local_addr().ok());
        let shared = Arc::new(Shared::new(&s, id.clone()));
        let mut tasks = Vec::new();
        if let Some(unix) = unix {
            tasks.push(tokio::spawn(handle::serve_unix(unix, Arc::clone(&shared))));
        }
        if let Some(l) = tcp {
            tasks.push(tokio::spawn(handle::serve_tcp(l, tls, Arc::clone(&shared))));
        }
        let info = registry::RunInfo {
            id,
            pid: std::process::id(),
            scenario: s.plan.name.clone().unwrap_or_else(|| s.text_label()),
            host: s.plan.host.clone(),
            front: s.front.into(),
            started: unix_secs(SystemTime::now()),
            socket,
            tcp: tcp_addr.map(|a| match s.config.tls {
                Some(_) => format!("https://{a}"),
                None => a.to_string(),
            }),
            report: std::env::var_os(REPORT_ENV).map(PathBuf::from),
        };
        let entry = match dir {
            Some(dir) => registry::Entry::write(&dir, info)
                .map_err(|e| eprintln!("swarm: warning: swarm ps will not list this run: {e}"))
                .ok(),
            None => None,
        };
        Ok(Control {
            shared,
            tasks,
            entry,
        })
    }

    pub fn info(&self) -> Option<&registry::RunInfo> {
        self.entry.as_ref().map(|e| &e.info)
    }

    /// The TUI that opens on this run shows this file, its overrides and baseline.
    pub fn set_launch(&self, f: impl FnOnce(&mut LaunchInfo)) {
        f(&mut self.shared.launch.lock().expect("launch"));
    }

    /// Every control that arrived, in order.
    pub fn controls(&self) -> Vec<ControlEvent> {
        self.shared.controls.lock().expect("controls").clone()
    }

    /// Resolves once a client asked the run to end (`POST /v1/quit`, a TUI's quit).
    pub fn quit_requested(&self) -> watch::Receiver<bool> {
        self.shared.quit.subscribe()
    }

    /// TUIs attached now.
    pub fn attached(&self) -> usize {
        self.shared.attached.load(Ordering::Relaxed)
    }
}

impl Drop for Control {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        self.entry.take();
    }
}

/// How the terminal that started a TUI's run names itself.
pub const OWNER: &str = "the terminal that started it";

/// Where a TUI's background run writes its text report (set by the terminal that starts it).
pub const REPORT_ENV: &str = "SWARM_RUN_REPORT";

impl Start<'_> {
    fn text_label(&self) -> String {
        self.plan.host.clone()
    }
}

impl Shared {
    fn new(s: &Start<'_>, id: String) -> Shared {
        let launch = LaunchInfo {
            id,
            path: None,
            text: s.text.to_string(),
            saved: s.text.to_string(),
            on_disk: None,
            // The run's host stands for an edit's text until a TUI says otherwise.
            host_override: Some(s.plan.host.clone()),
            host: s.plan.host.clone(),
            label: "scenario.toml".into(),
            overrides: Overrides::of(s.plan),
            baseline: None,
            distributed: s.distributed,
            report: std::env::var_os(REPORT_ENV).map(PathBuf::from),
        };
        Shared {
            desc: Desc {
                name: s.plan.name.clone(),
                host: s.plan.host.clone(),
                thresholds: s.plan.thresholds.clone(),
                front: s.front,
                started: SystemTime::now(),
            },
            commands: s.commands.downgrade(),
            snapshots: s.snapshots.clone(),
            launch: Mutex::new(launch),
            controls: Mutex::new(Vec::new()),
            attached: AtomicUsize::new(0),
            quit: watch::channel(false).0,
            held: Mutex::new(None),
            steered_by: s.steered_by,
            token: s.config.token.clone(),
        }
    }

    /// The newest snapshot with the controls so far: what `/v1/status` and the watchers
    /// read.
    pub(crate) fn snapshot(&self) -> Arc<Snapshot> {
        let snap = self.snapshots.borrow().clone();
        let controls = self.controls.lock().expect("controls");
        if controls.is_empty() {
            return snap;
        }
        let mut snap = Arc::unwrap_or_clone(snap);
        snap.controls = controls.clone();
        Arc::new(snap)
    }

    /// Records a control: a run of the same kind from the same client within a few
    /// seconds (a held `+` key) is one line, with its latest value.
    fn record(&self, who: &str, order: &Order) {
        // The terminal that started a TUI's run is its TUI, not a control from elsewhere.
        if !matches!(order, Order::MarkWindow) && !who.starts_with(OWNER) {
            self.note(who, order.describe());
        }
    }

    fn note(&self, who: &str, what: String) {
        let at_s = self.snapshots.borrow().run_clock.as_secs_f64();
        let mut list = self.controls.lock().expect("controls");
        if let Some(last) = list.last_mut()
            && last.who == who
            && at_s - last.at_s < 3.0
            && same_kind(&last.what, &what)
        {
            last.what = what;
            return;
        }
        list.push(ControlEvent {
            at_s,
            who: who.to_string(),
            what,
        });
    }

    /// Carries out one order from `who`; Err is (status, why).
    pub(crate) fn apply(&self, who: &str, order: Order) -> Result<String, (u16, String)> {
        let sets_load = matches!(
            order,
            Order::Users { .. }
                | Order::SpawnRate { .. }
                | Order::ArrivalRate { .. }
                | Order::PausePlan
                | Order::ResumePlan
                | Order::Start
        );
        if sets_load {
            self.refuse_if_steered()?;
        }
        if let Order::Edit {
            text,
            workload,
            stages,
        } = &order
        {
            self.edit(text, *workload, *stages)?;
        } else if let Some(c) = order.command() {
            if matches!(c, Command::Stop) && (self.idle_tui() || self.steered_by.is_some()) {
                // A TUI's run that never started ends when stopped (nothing else would);
                // a capacity search ends as when interrupted.
                self.quit.send_replace(true);
            }
            self.send(c);
        }
        self.record(who, &order);
        Ok(order.describe())
    }

    fn send(&self, c: Command) {
        if let Some(tx) = self.commands.upgrade() {
            let _ = tx.send(c);
        }
    }

    fn idle_tui(&self) -> bool {
        self.desc.front == "tui" && self.snapshots.borrow().state == crate::stats::RunState::Idle
    }

    /// An edit from a TUI: the text loads as the first did (its host, the command line's
    /// selection and `--timeout`); a text that does not load changes nothing.
    fn edit(&self, text: &str, workload: bool, stages: bool) -> Result<(), (u16, String)> {
        let mut launch = self.launch.lock().expect("launch");
        let parsed = match &launch.host_override {
            Some(host) => Plan::parse_with_host(text, &launch.label, host),
            None => Plan::parse(text, &launch.label),
        };
        let mut plan =
            parsed.map_err(|e| (422, format!("the edited scenario does not load: {e}")))?;
        launch
            .overrides
            .apply_selection(&mut plan)
            .map_err(|e| (422, format!("the edited scenario: {e}")))?;
        launch.text = text.to_string();
        drop(launch);
        self.send(Command::SetScenarioText(text.to_string()));
        if stages {
            self.send(Command::SetStages(plan.load.stages.clone()));
        }
        if workload {
            self.send(Command::SetWorkload(Box::new(plan)));
        }
        Ok(())
    }

    /// `pause`: the traffic goes to none (users, or the arrival rate, to 0 at the spawn
    /// rate) and the load plan's clock holds; `resume` brings back what was there.
    pub(crate) fn pause(&self, who: &str) -> Result<String, (u16, String)> {
        self.refuse_if_steered()?;
        let snap = self.snapshots.borrow().clone();
        let mut held = self.held.lock().expect("held");
        if held.is_some() {
            return Ok("already paused (swarm resume)".into());
        }
        let (h, order) = match &snap.arrivals {
            Some(a) => (Held::Rate(a.rate), Order::ArrivalRate { arrival_rate: 0.0 }),
            None => (Held::Users(snap.target_users), Order::Users { users: 0 }),
        };
        *held = Some(h);
        drop(held);
        self.send(Command::PausePlan);
        self.send(order.command().expect("a command"));
        let what = format!("paused: {}", describe_held(h, true));
        self.note(who, what.clone());
        Ok(what)
    }

    pub(crate) fn resume(&self, who: &str) -> Result<String, (u16, String)> {
        self.refuse_if_steered()?;
        let Some(h) = self.held.lock().expect("held").take() else {
            return Ok("not paused".into());
        };
        self.send(match h {
            Held::Users(n) => Command::SetUsers(n),
            Held::Rate(r) => Command::SetArrivalRate(r),
        });
        self.send(Command::ResumePlan);
        let what = format!("resumed: {}", describe_held(h, false));
        self.note(who, what.clone());
        Ok(what)
    }

    pub(crate) fn scale(&self, who: &str, s: &wire::Scale) -> Result<String, (u16, String)> {
        self.refuse_if_steered()?;
        let open = self.snapshots.borrow().arrivals.is_some();
        let mut orders = Vec::new();
        if let Some(r) = s.spawn_rate {
            if !(r > 0.0 && r.is_finite()) {
                return Err((400, format!("spawn_rate {r}: give a number above 0")));
            }
            orders.push(Order::SpawnRate { spawn_rate: r });
        }
        match (s.users, s.arrival_rate, open) {
            (_, Some(r), _) if !(r >= 0.0 && r.is_finite()) => {
                return Err((400, format!("arrival_rate {r}: give a number, 0 or above")));
            }
            (_, Some(_), false) => {
                return Err((
                    409,
                    "this run has users, not an arrival rate: scale it with users (-u)".into(),
                ));
            }
            (_, Some(r), true) => orders.push(Order::ArrivalRate { arrival_rate: r }),
            (Some(n), None, _) => orders.push(Order::Users { users: n }),
            (None, None, _) if orders.is_empty() => {
                return Err((400, "give users, spawn_rate or arrival_rate".into()));
            }
            (None, None, _) => {}
        }
        // A scale ends a pause: the new figures are what the user wants now.
        self.held.lock().expect("held").take();
        let mut done = Vec::new();
        for o in orders {
            done.push(self.apply(who, o)?);
        }
        Ok(done.join("; "))
    }

    fn refuse_if_steered(&self) -> Result<(), (u16, String)> {
        match self.steered_by {
            Some(what) => Err((
                409,
                format!("{what} sets the load of this run; stop it instead"),
            )),
            None => Ok(()),
        }
    }

    /// The HTTP stop: the load stops; a TUI's run that never started ends.
    pub(crate) fn stop(&self, who: &str) -> Result<String, (u16, String)> {
        self.apply(who, Order::Stop)
    }

    /// The run ends (a TUI's quit): the load stops and the owner writes the reports.
    pub(crate) fn quit(&self, who: &str) -> String {
        self.send(Command::Stop);
        self.record(who, &Order::Stop);
        self.quit.send_replace(true);
        "the run ends".into()
    }

    pub(crate) fn launch(&self) -> LaunchInfo {
        self.launch.lock().expect("launch").clone()
    }
}

fn describe_held(h: Held, paused: bool) -> String {
    let (from, to) = if paused {
        ("from", "to none")
    } else {
        ("back to", "")
    };
    match h {
        Held::Users(n) => format!("users {from} {n} {to}").trim().to_string(),
        Held::Rate(r) => format!("arrival rate {from} {r}/s {to}").trim().to_string(),
    }
}

/// Two descriptions of the same kind of control ("set the users to 5", "... to 6").
fn same_kind(a: &str, b: &str) -> bool {
    let head = |s: &str| s.split(" to ").next().unwrap_or(s).to_string();
    a.contains(" to ") && head(a) == head(b)
}

/// The run's socket in the registry's folder: (the folder, the run's id, the socket's
/// path, its listener); without a folder or a socket, said, and an id all the same.
fn bind_local() -> (
    Option<PathBuf>,
    String,
    PathBuf,
    Option<tokio::net::UnixListener>,
) {
    let local = registry::dir().and_then(|dir| {
        let id = std::env::var(RUN_ID_ENV)
            .ok()
            .filter(|i| !i.is_empty() && i.chars().all(|c| c.is_ascii_alphanumeric()))
            .unwrap_or_else(|| registry::fresh_id(&dir));
        let socket = dir.join(format!("{id}.sock"));
        let _ = std::fs::remove_file(&socket);
        let unix = tokio::net::UnixListener::bind(&socket)?;
        Ok((dir, id, socket, unix))
    });
    match local {
        Ok((dir, id, socket, unix)) => (Some(dir), id, socket, Some(unix)),
        Err(e) => {
            eprintln!(
                "swarm: warning: no control socket for this run ({e}); swarm ps and swarm attach will not see it"
            );
            let id = format!("{:06x}", fastrand::u32(..0x0100_0000));
            (None, id, PathBuf::new(), None)
        }
    }
}

/// The TLS side of `--control` from `--tls-cert` and `--tls-key` (PEM).
fn tls_acceptor(cert: &str, key: &str) -> anyhow::Result<tokio_rustls::TlsAcceptor> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let certs = CertificateDer::pem_slice_iter(cert.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| anyhow::anyhow!("--tls-cert: {e}"))?;
    let key = PrivateKeyDer::from_pem_slice(key.as_bytes())
        .map_err(|e| anyhow::anyhow!("--tls-key: {e}"))?;
    let config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .map_err(|e| anyhow::anyhow!("--tls-cert/--tls-key: {e}"))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

fn unix_secs(t: SystemTime) -> u64 {
    t.duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}
