//! The control endpoint's client: finds a run (its id from `swarm ps`, a socket's path,
//! or a TCP address), sends it requests, and, for an attached TUI, is a `Steer` whose
//! snapshots come from `/v1/watch` and whose commands go to `/v1/command`.

use super::registry::{self, RunInfo};
use super::wire::{Frame, HistoryCopy, Order};
use crate::engine::Command;
use crate::stats::Snapshot;
use anyhow::Context;
use bytes::Bytes;
use http::{Method, Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use std::path::PathBuf;
use std::sync::Arc;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

/// Where a run's endpoint is.
#[derive(Debug, Clone, PartialEq)]
pub enum Addr {
    Unix(PathBuf),
    Tcp(String),
}

/// A client of one run's endpoint.
#[derive(Debug, Clone)]
pub struct Client {
    pub addr: Addr,
    token: Option<String>,
    /// How the run's report names this client ("swarm scale (pid 42)").
    who: String,
    /// The run's entry, when it was found in the registry.
    pub info: Option<RunInfo>,
    /// TLS to a run served over TCP with `--tls-cert` (RUN as https://HOST:PORT).
    tls: Option<Arc<rustls::ClientConfig>>,
}

impl Client {
    /// The run `run` names (an id or its start from `swarm ps`, a socket's path, an
    /// address), or the only run of this machine when None.
    pub fn find(run: Option<&str>, token: Option<String>, who: String) -> anyhow::Result<Client> {
        let (addr, info) = resolve(run)?;
        Ok(Client {
            addr,
            token,
            who,
            info,
            tls: None,
        })
    }

    /// TLS for an https:// address: the run's certificate checked against `ca` (PEM), or
    /// the system's roots without it.
    pub fn with_tls(mut self, ca: Option<&str>) -> anyhow::Result<Client> {
        let https = match &mut self.addr {
            Addr::Tcp(a) if a.starts_with("https://") => {
                *a = a["https://".len()..].trim_end_matches('/').to_string();
                true
            }
            Addr::Tcp(a) => {
                *a = a
                    .trim_start_matches("http://")
                    .trim_end_matches('/')
                    .to_string();
                ca.is_some()
            }
            Addr::Unix(_) => false,
        };
        if https {
            self.tls = Some(Arc::new(tls_client(ca)?));
        }
        Ok(self)
    }

    pub fn describe(&self) -> String {
        match (&self.info, &self.addr) {
            (Some(i), _) => format!("run {}", i.id),
            (None, Addr::Unix(p)) => p.display().to_string(),
            (None, Addr::Tcp(a)) => a.clone(),
        }
    }

    async fn send(&self, req: Request<Full<Bytes>>) -> anyhow::Result<http::Response<Incoming>> {
        let what = self.describe();
        let fail = |e: std::io::Error| {
            anyhow::anyhow!(
                "cannot reach {what}: {e} (is it still running? swarm ps lists the runs)"
            )
        };
        let (a, tls) = match (&self.addr, &self.tls) {
            (Addr::Unix(p), _) => {
                let stream = tokio::net::UnixStream::connect(p).await.map_err(fail)?;
                return exchange(stream, req).await;
            }
            (Addr::Tcp(a), None) => {
                let stream = tokio::net::TcpStream::connect(a).await.map_err(fail)?;
                return exchange(stream, req).await;
            }
            (Addr::Tcp(a), Some(tls)) => (a, Arc::clone(tls)),
        };
        let tcp = tokio::net::TcpStream::connect(a).await.map_err(fail)?;
        let host = a.rsplit_once(':').map_or(a.as_str(), |(h, _)| h);
        let name =
            rustls::pki_types::ServerName::try_from(host.trim_matches(['[', ']']).to_string())
                .map_err(|e| anyhow::anyhow!("{a}: {e}"))?;
        let stream = tokio_rustls::TlsConnector::from(tls)
            .connect(name, tcp)
            .await
            .map_err(|e| anyhow::anyhow!("{what}: TLS: {e}"))?;
        exchange(stream, req).await
    }

    fn request(&self, method: Method, path: &str, body: Option<String>) -> Request<Full<Bytes>> {
        let host = match &self.addr {
            Addr::Tcp(a) => a.clone(),
            Addr::Unix(_) => "localhost".into(),
        };
        let mut b = Request::builder()
            .method(method)
            .uri(path)
            .header(http::header::HOST, host)
            .header("x-swarm-client", &self.who);
        if let Some(t) = &self.token {
            b = b.header(http::header::AUTHORIZATION, format!("Bearer {t}"));
        }
        if body.is_some() {
            b = b.header(http::header::CONTENT_TYPE, "application/json");
        }
        b.body(Full::new(Bytes::from(body.unwrap_or_default())))
            .expect("a valid request")
    }

    /// A request and its whole answer.
    pub async fn call(
        &self,
        method: Method,
        path: &str,
        body: Option<String>,
    ) -> anyhow::Result<(StatusCode, String)> {
        let exchange = async {
            let resp = self.send(self.request(method, path, body)).await?;
            let status = resp.status();
            let bytes = resp
                .into_body()
                .collect()
                .await
                .with_context(|| format!("{}: the answer was cut", self.describe()))?
                .to_bytes();
            Ok((status, String::from_utf8_lossy(&bytes).into_owned()))
        };
        tokio::time::timeout(ANSWER_WITHIN, exchange)
            .await
            .unwrap_or_else(|_| {
                anyhow::bail!(
                    "{} did not answer within {} s",
                    self.describe(),
                    ANSWER_WITHIN.as_secs()
                )
            })
    }

    /// A GET whose answer is JSON, refused unless 200.
    pub async fn get<T: serde::de::DeserializeOwned>(&self, path: &str) -> anyhow::Result<T> {
        let (status, text) = self.call(Method::GET, path, None).await?;
        if status != StatusCode::OK {
            anyhow::bail!("{} answered {status}: {}", self.describe(), text.trim());
        }
        serde_json::from_str(&text)
            .with_context(|| format!("{}: the answer to {path}", self.describe()))
    }

    /// A POST of JSON; the run's own words on what it did, or why not.
    pub async fn post(&self, path: &str, body: &serde_json::Value) -> anyhow::Result<String> {
        let (status, text) = self
            .call(Method::POST, path, Some(body.to_string()))
            .await?;
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        if status == StatusCode::OK {
            return Ok(v["done"].as_str().unwrap_or("done").to_string());
        }
        let why = v["error"]
            .as_str()
            .map_or_else(|| text.trim().to_string(), str::to_string);
        anyhow::bail!("{} refused: {why} ({status})", self.describe())
    }
}

async fn exchange<S>(
    stream: S,
    req: Request<Full<Bytes>>,
) -> anyhow::Result<http::Response<Incoming>>
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(hyper_util::rt::TokioIo::new(stream)).await?;
    tokio::spawn(conn);
    Ok(sender.send_request(req).await?)
}

/// A TLS client that trusts `ca` (PEM), or the system's roots.
fn tls_client(ca: Option<&str>) -> anyhow::Result<rustls::ClientConfig> {
    use rustls::pki_types::CertificateDer;
    use rustls::pki_types::pem::PemObject;
    let mut roots = rustls::RootCertStore::empty();
    match ca {
        Some(pem) => {
            for cert in CertificateDer::pem_slice_iter(pem.as_bytes()) {
                roots
                    .add(cert.map_err(|e| anyhow::anyhow!("--tls-ca: {e}"))?)
                    .map_err(|e| anyhow::anyhow!("--tls-ca: {e}"))?;
            }
        }
        None => roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned()),
    }
    Ok(rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_root_certificates(roots)
    .with_no_client_auth())
}

/// The run that `run` names; None: the only one there is.
fn resolve(run: Option<&str>) -> anyhow::Result<(Addr, Option<RunInfo>)> {
    if let Some(r) = run {
        if r.starts_with("http://") || r.starts_with("https://") {
            return Ok((Addr::Tcp(r.to_string()), None));
        }
        if r.contains('/') || r.ends_with(".sock") {
            return Ok((Addr::Unix(PathBuf::from(r)), None));
        }
        if r.contains(':') {
            // HOST:PORT; `with_tls` reads a scheme, when given, above.
            return Ok((Addr::Tcp(r.to_string()), None));
        }
    }
    let runs = registry::list();
    let found: Vec<&RunInfo> = runs
        .iter()
        .filter(|i| run.is_none_or(|r| i.id.starts_with(r) || i.pid.to_string() == r))
        .collect();
    match (found.as_slice(), run) {
        ([one], _) => Ok((Addr::Unix(one.socket.clone()), Some((*one).clone()))),
        ([], None) => anyhow::bail!(
            "no swarm run on this machine (swarm ps lists them; a run elsewhere is named by its --control address)"
        ),
        ([], Some(r)) => anyhow::bail!("no run {r} on this machine: swarm ps lists them"),
        (many, _) => {
            let ids: Vec<String> = many
                .iter()
                .map(|i| format!("{} ({})", i.id, i.scenario))
                .collect();
            anyhow::bail!("{} runs here; name one: {}", many.len(), ids.join(", "))
        }
    }
}

/// How long a command waits for a run's answer.
const ANSWER_WITHIN: std::time::Duration = std::time::Duration::from_secs(15);

/// How long an attach waits for a run's first figures.
const FIRST_FRAME: std::time::Duration = std::time::Duration::from_secs(10);

/// A run behind its endpoint, as the TUI steers it.
pub struct Remote {
    commands: mpsc::UnboundedSender<Command>,
    snapshots: watch::Receiver<Arc<Snapshot>>,
    distributed: bool,
    tasks: Vec<JoinHandle<()>>,
}

impl Remote {
    /// Attaches: the snapshots follow the run's until it ends (then the receiver closes).
    pub async fn open(client: Client, distributed: bool) -> anyhow::Result<Remote> {
        let resp = client
            .send(client.request(Method::GET, "/v1/watch", None))
            .await?;
        if resp.status() != StatusCode::OK {
            anyhow::bail!(
                "{} did not let this terminal watch it ({})",
                client.describe(),
                resp.status()
            );
        }
        let mut body = resp.into_body();
        let mut lines = Lines::default();
        let mut copy = HistoryCopy::default();
        let first = loop {
            if let Some(f) = lines.next_frame() {
                break copy.take(f);
            }
            match tokio::time::timeout(FIRST_FRAME, body.frame()).await {
                Ok(Some(Ok(f))) => lines.push(f.into_data().unwrap_or_default()),
                Ok(_) => anyhow::bail!("{} ended before its first figures", client.describe()),
                Err(_) => anyhow::bail!(
                    "{} sent no figures within {} s: is it a swarm run?",
                    client.describe(),
                    FIRST_FRAME.as_secs()
                ),
            }
        };
        let (tx, snapshots) = watch::channel(Arc::new(first));
        let reader = tokio::spawn(async move {
            while let Some(Ok(f)) = body.frame().await {
                lines.push(f.into_data().unwrap_or_default());
                while let Some(frame) = lines.next_frame() {
                    if tx.send(Arc::new(copy.take(frame))).is_err() {
                        return;
                    }
                }
            }
        });
        let (commands, rx) = mpsc::unbounded_channel();
        let writer = tokio::spawn(send_orders(client, rx));
        Ok(Remote {
            commands,
            snapshots,
            distributed,
            tasks: vec![reader, writer],
        })
    }
}

impl Drop for Remote {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
    }
}

impl crate::run::Steer for Remote {
    fn send(&self, command: Command) {
        let _ = self.commands.send(command);
    }

    fn snapshots(&self) -> watch::Receiver<Arc<Snapshot>> {
        self.snapshots.clone()
    }

    fn is_distributed(&self) -> bool {
        self.distributed
    }

    fn edits_as_text(&self) -> bool {
        true
    }
}

/// Posts the TUI's commands in order; an edit's text and the commands that say what it
/// changed go as one order.
async fn send_orders(client: Client, mut rx: mpsc::UnboundedReceiver<Command>) {
    let mut text = String::new();
    while let Some(first) = rx.recv().await {
        let mut batch = vec![first];
        while let Ok(more) = rx.try_recv() {
            batch.push(more);
        }
        for order in orders(batch, &mut text) {
            let body = serde_json::to_value(&order).unwrap_or_default();
            let _ = client.post("/v1/command", &body).await;
        }
    }
}

/// Commands as orders: SetScenarioText and the edit commands after it become one edit.
fn orders(batch: Vec<Command>, text: &mut String) -> Vec<Order> {
    let mut out: Vec<Order> = Vec::new();
    for c in batch {
        let (workload, stages) = match &c {
            Command::SetScenarioText(t) => {
                t.clone_into(text);
                continue;
            }
            Command::SetWait(_) | Command::SetEndpoints(_) | Command::SetWorkload(_) => {
                (true, false)
            }
            Command::SetStages(_) => (false, true),
            other => {
                out.extend(Order::of(other));
                continue;
            }
        };
        match out.last_mut() {
            Some(Order::Edit {
                text: t,
                workload: w,
                stages: s,
            }) if t == text => {
                *w |= workload;
                *s |= stages;
            }
            _ => out.push(Order::Edit {
                text: text.clone(),
                workload,
                stages,
            }),
        }
    }
    out
}

/// Splits a byte stream into JSON lines.
#[derive(Default)]
struct Lines {
    buf: Vec<u8>,
}

impl Lines {
    fn push(&mut self, b: Bytes) {
        self.buf.extend_from_slice(&b);
    }

    fn next_frame(&mut self) -> Option<Frame> {
        loop {
            let end = self.buf.iter().position(|&b| b == b'\n')?;
            let line: Vec<u8> = self.buf.drain(..=end).collect();
            if let Ok(f) = serde_json::from_slice(&line) {
                return Some(f);
            }
        }
    }
}

impl Client {
    /// How the run's report names this client.
    pub fn request_name(&self) -> &str {
        &self.who
    }
}
