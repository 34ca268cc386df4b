//! Test servers bound on 127.0.0.1 port 0, and helpers to drive the engine.

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swarm::engine::{Command, Engine};
use swarm::scenario::Plan;
use swarm::stats::{RunState, Snapshot};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::task::JoinHandle;

/// Serves every connection `listener` accepts with `serve`, each in a task of its own,
/// until the returned task is aborted (or the test's runtime ends).
pub fn accept_each<F, Fut>(listener: TcpListener, serve: F) -> JoinHandle<()>
where
    F: Fn(tokio::net::TcpStream) -> Fut + Send + 'static,
    Fut: std::future::Future<Output = ()> + Send + 'static,
{
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            tokio::spawn(serve(stream));
        }
    })
}

/// An HTTP server that counts requests per path.
///
/// Routes: `/delay/{ms}` answers after ms, `/jitter/{ms}` after a random 0 to ms,
/// `/status/{code}` answers that status, `/stall` never answers, anything else answers
/// 200 "ok". `stall_for` holds every request until a deadline.
pub struct CountingServer {
    pub addr: SocketAddr,
    counts: Arc<Mutex<HashMap<String, u64>>>,
    stall_until: Arc<Mutex<Option<tokio::time::Instant>>>,
    task: JoinHandle<()>,
}

impl CountingServer {
    pub async fn start() -> CountingServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let counts: Arc<Mutex<HashMap<String, u64>>> = Arc::default();
        let stall_until: Arc<Mutex<Option<tokio::time::Instant>>> = Arc::default();
        let c = Arc::clone(&counts);
        let st = Arc::clone(&stall_until);
        let task = accept_each(listener, move |stream| {
            let (c, st) = (Arc::clone(&c), Arc::clone(&st));
            async move {
                let service = service_fn(move |req| {
                    let (c, st) = (Arc::clone(&c), Arc::clone(&st));
                    async move {
                        let until = *st.lock().unwrap();
                        if let Some(until) = until {
                            tokio::time::sleep_until(until).await;
                        }
                        handle(req, c).await
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
        });
        CountingServer {
            addr,
            counts,
            stall_until,
            task,
        }
    }

    /// Holds every request (those arriving from now on) until `d` from now.
    pub fn stall_for(&self, d: Duration) {
        *self.stall_until.lock().unwrap() = Some(tokio::time::Instant::now() + d);
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Requests seen for a path (query included).
    pub fn count(&self, path: &str) -> u64 {
        self.counts.lock().unwrap().get(path).copied().unwrap_or(0)
    }

    /// Every path (with query) seen.
    pub fn paths(&self) -> Vec<String> {
        self.counts.lock().unwrap().keys().cloned().collect()
    }

    pub fn total(&self) -> u64 {
        self.counts.lock().unwrap().values().sum()
    }
}

impl Drop for CountingServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn handle(
    req: Request<Incoming>,
    counts: Arc<Mutex<HashMap<String, u64>>>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let path = req
        .uri()
        .path_and_query()
        .map_or("/".to_string(), |p| p.to_string());
    *counts.lock().unwrap().entry(path.clone()).or_default() += 1;
    let body = req
        .into_body()
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let mut status = StatusCode::OK;
    if let Some(ms) = path.strip_prefix("/delay/") {
        tokio::time::sleep(Duration::from_millis(
            ms.split('?').next().unwrap_or("0").parse().unwrap_or(0),
        ))
        .await;
    } else if let Some(ms) = path.strip_prefix("/jitter/") {
        let max: u64 = ms.parse().unwrap_or(0);
        tokio::time::sleep(Duration::from_millis(fastrand::u64(0..=max))).await;
    } else if let Some(code) = path.strip_prefix("/status/") {
        status = StatusCode::from_u16(code.parse().unwrap_or(500)).unwrap();
    } else if path == "/stall" {
        tokio::time::sleep(Duration::from_secs(3600)).await;
    } else if path == "/echo" {
        return Ok(Response::new(Full::new(body)));
    }
    let mut r = Response::new(Full::new(Bytes::from_static(b"ok")));
    *r.status_mut() = status;
    Ok(r)
}

/// A TCP server that misbehaves on every connection, for failure tests.
pub enum Misbehaviour {
    /// Reads the request, then closes without answering.
    CloseEarly,
    /// Answers with bytes that are not HTTP.
    Garbage,
    /// Answers one request with a keep-alive response, then closes the idle connection
    /// 100 ms later (as servers with a short keep-alive timeout do).
    IdleClose,
    /// Answers the first request of each connection as keep-alive, then reads the next one
    /// and closes without answering (a keep-alive timeout racing the request).
    DropSecond,
}

pub async fn misbehaving_server(kind: Misbehaviour) -> (String, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let task = tokio::spawn(async move {
        loop {
            let Ok((mut stream, _)) = listener.accept().await else {
                continue;
            };
            let kind = match kind {
                Misbehaviour::CloseEarly => 0,
                Misbehaviour::Garbage => 1,
                Misbehaviour::IdleClose => 2,
                Misbehaviour::DropSecond => 3,
            };
            tokio::spawn(async move {
                let mut buf = [0u8; 4096];
                let _ = stream.read(&mut buf).await;
                match kind {
                    1 => drop(stream.write_all(b"SPLAT garbage \x00\x01\r\n\r\n").await),
                    2 => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                        tokio::time::sleep(Duration::from_millis(100)).await;
                    }
                    3 => {
                        let _ = stream
                            .write_all(b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok")
                            .await;
                        let _ = stream.read(&mut buf).await;
                    }
                    _ => {}
                }
            });
        }
    });
    (url, task)
}

/// A URL on which nothing listens.
pub async fn refused_url() -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    format!("http://{addr}")
}

/// A plan from scenario text with `{host}` replaced.
pub fn plan(src: &str, host: &str) -> Plan {
    Plan::parse(&src.replace("{host}", host), "test.toml").unwrap()
}

/// An engine for the scenario text, started.
pub fn started(src: &str, host: &str) -> Engine {
    let engine = Engine::spawn(&plan(src, host));
    engine.send(Command::Start);
    engine
}

/// Waits (at most `limit`) for a snapshot that satisfies `pred`.
pub async fn wait_for(
    engine: &Engine,
    limit: Duration,
    pred: impl Fn(&Snapshot) -> bool,
) -> Arc<Snapshot> {
    let mut rx = engine.snapshots();
    let found = tokio::time::timeout(limit, async {
        loop {
            if pred(&rx.borrow_and_update()) {
                return;
            }
            if rx.changed().await.is_err() {
                return;
            }
        }
    })
    .await;
    let snap = rx.borrow().clone();
    assert!(
        found.is_ok(),
        "condition not met within {limit:?}; last snapshot: {snap:#?}"
    );
    snap
}

/// Waits (at most `limit`) for the run to stop by itself; returns the final snapshot.
pub async fn until_stopped(engine: &Engine, limit: Duration) -> Arc<Snapshot> {
    wait_for(engine, limit, |s| s.state == RunState::Stopped).await
}

/// Stops the engine and waits for the final snapshot.
pub async fn stop(engine: &Engine) -> Arc<Snapshot> {
    engine.send(Command::Stop);
    until_stopped(engine, Duration::from_secs(10)).await
}

/// The swarm binary, killed when the test drops it.
pub fn swarm() -> tokio::process::Command {
    let mut c = tokio::process::Command::new(env!("CARGO_BIN_EXE_swarm"));
    c.kill_on_drop(true);
    c
}

pub async fn run(args: &[&str]) -> std::process::Output {
    let out = swarm().args(args).output();
    tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("swarm finished")
        .unwrap()
}

/// Sends `signal` (INT, TERM, ...) to a process id, or to a process group as -PGID.
pub fn send_signal(signal: &str, target: &str) {
    let sent = std::process::Command::new("kill")
        .args([&format!("-{signal}"), "--", target])
        .status()
        .unwrap();
    assert!(sent.success(), "kill -{signal} {target}");
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A loopback address with a port free just now, for a process the test starts to listen
/// on (a controller whose address its workers must know before it prints it).
pub fn free_loopback_addr() -> String {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    format!("127.0.0.1:{port}")
}

/// A fresh folder under the system's temporary one.
pub fn tempdir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!(
        "swarm-test-{}-{}",
        std::process::id(),
        fastrand::u64(..)
    ));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A Python interpreter that can import `module` (SWARM_TEST_PYTHON, else python3), for the
/// checks that use an independent reader from PyPI. Without one the test is skipped with
/// a message, unless SWARM_REQUIRE_TOOLS=1 (CI, which installs them) makes it a failure.
pub fn python_with(module: &str) -> Option<String> {
    let python = std::env::var("SWARM_TEST_PYTHON").unwrap_or_else(|_| "python3".into());
    let ok = std::process::Command::new(&python)
        .args(["-c", &format!("import {module}")])
        .output()
        .is_ok_and(|o| o.status.success());
    if ok {
        return Some(python);
    }
    missing(&format!(
        "{python} cannot import {module} (pip install {module}, or set SWARM_TEST_PYTHON)"
    ));
    None
}

/// Says that a tool a test needs is missing: a skip, or under SWARM_REQUIRE_TOOLS=1 a failure.
pub fn missing(what: &str) {
    if std::env::var("SWARM_REQUIRE_TOOLS").is_ok_and(|v| v == "1") {
        panic!("SWARM_REQUIRE_TOOLS=1 and {what}");
    }
    eprintln!("skipped: {what}");
}

/// A TLS server config with a fresh self-signed certificate for "localhost", offering
/// `alpn` (empty: no ALPN).
pub fn self_signed_tls(alpn: Vec<Vec<u8>>) -> rustls::ServerConfig {
    let cert = rcgen::generate_simple_self_signed(vec!["localhost".into()]).unwrap();
    let key = rustls::pki_types::PrivateKeyDer::Pkcs8(cert.signing_key.serialize_der().into());
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_no_client_auth()
    .with_single_cert(vec![cert.cert.der().clone()], key)
    .unwrap();
    config.alpn_protocols = alpn;
    config
}
