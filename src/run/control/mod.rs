//! Every run's control endpoint: HTTP/1.1 with JSON on a Unix socket only its user can
//! open (the registry's folder), and on `--control ADDR` over TCP too (a token is asked
//! for there, and anywhere but loopback it is required). Scripts and `swarm status |
//! pause | resume | stop | scale` use `/v1/...`; `swarm attach` opens the TUI on the run
//! through `/v1/launch`, `/v1/watch` and `/v1/command`; teammates read `GET /` (the HTML
//! report so far) and Prometheus `/metrics`. The run owns it (`Run::start`); it holds the
//! engine's command sender and a snapshot receiver, nothing else of the run.

pub mod client;
mod handle;
mod orders;
pub mod registry;
pub mod wire;

use crate::cluster::Overrides;
use crate::engine::Command;
use crate::scenario::{DocParts, Plan};
use crate::stats::{ControlEvent, Snapshot};
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use wire::LaunchInfo;

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
    /// A TUI's run sets its launch (the file, the text as edited) just after its
    /// endpoint opens: `/v1/launch` waits for it, so that an attach that comes first
    /// does not open a scenario without its file.
    launch_set: watch::Sender<bool>,
    controls: Mutex<Vec<ControlEvent>>,
    /// Watchers (attached TUIs) connected now.
    attached: AtomicUsize,
    quit: watch::Sender<bool>,
    /// What `resume` brings back after a `pause`.
    held: Mutex<Option<orders::Held>>,
    /// Set when something else steers the load (the capacity search): scale is refused.
    steered_by: Option<&'static str>,
    token: Option<String>,
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
            scenario: s.plan.name.clone().unwrap_or_else(|| s.plan.host.clone()),
            host: s.plan.host.clone(),
            front: s.front.into(),
            started: unix_secs(SystemTime::now()),
            socket,
            tcp: tcp_addr.map(|a| match s.config.tls {
                Some(_) => format!("https://{a}"),
                None => a.to_string(),
            }),
            report: report(),
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
        self.shared.launch_set.send_replace(true);
    }

    /// `snap` with every control that arrived so far: the final report lists them.
    pub fn with_controls(&self, snap: Arc<Snapshot>) -> Arc<Snapshot> {
        self.shared.with_controls(snap)
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
    }
}

/// How the terminal that started a TUI's run names itself.
pub const OWNER: &str = "the terminal that started it";

/// Where a TUI's background run writes its text report (set by the terminal that starts it).
pub const REPORT_ENV: &str = "SWARM_RUN_REPORT";

/// Where this run's text report goes, when a terminal that started it said so.
fn report() -> Option<PathBuf> {
    std::env::var_os(REPORT_ENV).map(PathBuf::from)
}

impl Shared {
    fn new(s: &Start<'_>, id: String) -> Shared {
        let launch = LaunchInfo {
            id,
            path: None,
            doc: DocParts {
                text: s.text.to_string(),
                saved: s.text.to_string(),
                on_disk: None,
                // The run's host stands for an edit's text until a TUI says otherwise.
                host_override: Some(s.plan.host.clone()),
            },
            overrides: Overrides::of(s.plan),
            baseline: None,
            distributed: s.distributed,
            report: report(),
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
            launch_set: watch::channel(s.front != "tui").0,
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
        self.with_controls(self.snapshots.borrow().clone())
    }

    fn with_controls(&self, snap: Arc<Snapshot>) -> Arc<Snapshot> {
        let controls = self.controls.lock().expect("controls");
        if controls.is_empty() {
            return snap;
        }
        let mut snap = Arc::unwrap_or_clone(snap);
        snap.controls = controls.clone();
        Arc::new(snap)
    }
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
            (None, registry::random_id(), PathBuf::new(), None)
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
