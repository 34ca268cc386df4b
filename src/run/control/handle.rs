//! The control endpoint's HTTP side: the listeners' accept loops and one handler that
//! routes a request to the shared state (`Shared`). Bodies are JSON, at most 4 MiB.

use super::Shared;
use super::wire::{HistoryCursor, Order, Scale};
use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, Limited, StreamBody};
use hyper::body::Incoming;
use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::Ordering;

type Body = BoxBody<Bytes, Infallible>;

/// How long a client may take over its TLS handshake, or its request's head.
const HANDSHAKE: std::time::Duration = std::time::Duration::from_secs(10);

/// The largest request body taken (an edited scenario's text).
const MAX_BODY: usize = 4 << 20;

/// Who is at the other end of a connection (None: the local socket, only this user's),
/// and whether it must show the token.
#[derive(Clone)]
struct Peer {
    addr: Option<std::net::SocketAddr>,
    needs_token: bool,
}

pub(super) async fn serve_unix(listener: tokio::net::UnixListener, shared: Arc<Shared>) {
    loop {
        match listener.accept().await {
            Ok((stream, _)) => {
                let peer = Peer {
                    addr: None,
                    needs_token: false,
                };
                tokio::spawn(serve(stream, peer, Arc::clone(&shared)));
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

pub(super) async fn serve_tcp(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    shared: Arc<Shared>,
) {
    loop {
        match listener.accept().await {
            Ok((stream, addr)) => {
                let peer = Peer {
                    addr: Some(addr),
                    needs_token: shared.token.is_some(),
                };
                let _ = stream.set_nodelay(true);
                let (shared, tls) = (Arc::clone(&shared), tls.clone());
                tokio::spawn(async move {
                    let Some(tls) = tls else {
                        return serve(stream, peer, shared).await;
                    };
                    // A failed handshake (a plain-HTTP client, a wrong CA) is its client's
                    // problem: the connection ends.
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(HANDSHAKE, tls.accept(stream)).await
                    {
                        serve(stream, peer, shared).await;
                    }
                });
            }
            Err(_) => tokio::time::sleep(std::time::Duration::from_millis(100)).await,
        }
    }
}

async fn serve<S>(stream: S, peer: Peer, shared: Arc<Shared>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let service = hyper::service::service_fn(move |req| {
        let shared = Arc::clone(&shared);
        let peer = peer.clone();
        async move { Ok::<_, Infallible>(route(&shared, &peer, req).await) }
    });
    // A client that never finishes its request's head is let go.
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(HANDSHAKE)
        .serve_connection(hyper_util::rt::TokioIo::new(stream), service)
        .await;
}

async fn route(shared: &Arc<Shared>, peer: &Peer, req: Request<Incoming>) -> Response<Body> {
    if peer.needs_token && !authorized(&req, shared.token.as_deref()) {
        return text(
            StatusCode::UNAUTHORIZED,
            "this endpoint needs the run's token: Authorization: Bearer TOKEN (swarm ... --token-file FILE)\n".into(),
        );
    }
    let who = client_name(&req, peer);
    let path = req.uri().path().to_string();
    match (req.method().clone(), path.as_str()) {
        (Method::GET, "/") => page(shared),
        (Method::GET, "/v1/status") => status(shared),
        (Method::GET, "/metrics") => reply(
            StatusCode::OK,
            crate::report::prometheus::CONTENT_TYPE,
            crate::report::prometheus::render(&shared.snapshot()),
        ),
        (Method::GET, "/v1/launch") => json(StatusCode::OK, &shared.launch_when_set().await),
        (Method::GET, "/v1/watch") => watch(shared),
        (Method::POST, "/v1/pause") => outcome(shared.pause(&who)),
        (Method::POST, "/v1/resume") => outcome(shared.resume(&who)),
        (Method::POST, "/v1/stop") => outcome(shared.stop(&who)),
        (Method::POST, "/v1/quit") => outcome(Ok(shared.quit(&who))),
        (Method::POST, "/v1/scale") => outcome(
            body::<Scale>(req)
                .await
                .and_then(|s| shared.scale(&who, &s)),
        ),
        (Method::PATCH, "/v1/status") => outcome(
            body::<K6Status>(req)
                .await
                .and_then(|s| k6_patch(shared, &who, s)),
        ),
        (Method::POST, "/v1/command") => {
            outcome(body::<Order>(req).await.and_then(|o| shared.apply(&who, o)))
        }
        (_, p) if ROUTES.iter().any(|(_, r, _)| *r == p) => text(
            StatusCode::METHOD_NOT_ALLOWED,
            format!("{p}: see GET /v1 for the routes and their methods\n"),
        ),
        (Method::GET, "/v1") => text(StatusCode::OK, routes()),
        _ => text(
            StatusCode::NOT_FOUND,
            format!("no such route\n{}", routes()),
        ),
    }
}

/// The routes, for `GET /v1` and a 404.
pub(crate) const ROUTES: [(&str, &str, &str); 12] = [
    ("GET", "/", "the live HTML report (refreshes every 3 s)"),
    ("GET", "/v1/status", "the --json report's document, live"),
    (
        "PATCH",
        "/v1/status",
        "k6's form: {\"data\":{\"attributes\":{\"vus\":N,\"paused\":B,\"stopped\":true}}}",
    ),
    (
        "POST",
        "/v1/scale",
        "{\"users\":N,\"spawn_rate\":R} or {\"arrival_rate\":R}",
    ),
    (
        "POST",
        "/v1/pause",
        "traffic to none, the plan's clock held",
    ),
    (
        "POST",
        "/v1/resume",
        "back to what was there before the pause",
    ),
    (
        "POST",
        "/v1/stop",
        "stop the load (the run writes its reports)",
    ),
    ("GET", "/metrics", "Prometheus"),
    ("GET", "/v1/launch", "what swarm attach opens"),
    (
        "GET",
        "/v1/watch",
        "snapshots as they come, one JSON line each",
    ),
    ("POST", "/v1/command", "an attached TUI's command"),
    ("POST", "/v1/quit", "end the run (a TUI's quit)"),
];

fn routes() -> String {
    ROUTES
        .iter()
        .map(|(m, p, what)| format!("{m:<6} {p:<12} {what}\n"))
        .collect()
}

fn authorized(req: &Request<Incoming>, token: Option<&str>) -> bool {
    let Some(expected) = token else {
        return true;
    };
    req.headers()
        .get(http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .is_some_and(|given| crate::cluster::tokens_match(given.trim(), expected))
}

/// The client's own name (`X-Swarm-Client`, sent by swarm's commands), else its address.
fn client_name(req: &Request<Incoming>, peer: &Peer) -> String {
    let named = req
        .headers()
        .get("x-swarm-client")
        .and_then(|v| v.to_str().ok())
        .map(|s| {
            s.chars()
                .filter(|c| !c.is_control())
                .take(80)
                .collect::<String>()
        })
        .filter(|s| !s.is_empty());
    match (named, peer.addr) {
        (Some(n), None) => n,
        (Some(n), Some(addr)) => format!("{n} at {addr}"),
        (None, None) => "a client of the local socket".into(),
        (None, Some(addr)) => addr.to_string(),
    }
}

async fn body<T: serde::de::DeserializeOwned>(req: Request<Incoming>) -> Result<T, (u16, String)> {
    let bytes = Limited::new(req.into_body(), MAX_BODY)
        .collect()
        .await
        .map_err(|e| (413, format!("the request's body: {e}")))?
        .to_bytes();
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        Bytes::from_static(b"{}")
    } else {
        bytes
    };
    serde_json::from_slice(&bytes).map_err(|e| (400, format!("the request's JSON: {e}")))
}

/// k6's `PATCH /v1/status` body.
#[derive(serde::Deserialize)]
struct K6Status {
    data: K6Data,
}

#[derive(serde::Deserialize)]
struct K6Data {
    attributes: K6Attributes,
}

#[derive(serde::Deserialize)]
struct K6Attributes {
    vus: Option<u32>,
    paused: Option<bool>,
    stopped: Option<bool>,
}

fn k6_patch(shared: &Shared, who: &str, s: K6Status) -> Result<String, (u16, String)> {
    let a = s.data.attributes;
    let mut done = Vec::new();
    if a.stopped == Some(true) {
        return shared.stop(who);
    }
    match a.paused {
        Some(true) => done.push(shared.pause(who)?),
        Some(false) => done.push(shared.resume(who)?),
        None => {}
    }
    if let Some(n) = a.vus {
        let scale = Scale {
            users: Some(n),
            ..Scale::default()
        };
        done.push(shared.scale(who, &scale)?);
    }
    Ok(done.join("; "))
}

fn status(shared: &Shared) -> Response<Body> {
    let snap = shared.snapshot();
    let verdicts = crate::scenario::threshold::check_all(&shared.desc.thresholds, &snap);
    let doc = crate::report::json::to_json(
        &snap,
        shared.desc.name.as_deref(),
        &shared.desc.host,
        &verdicts,
    );
    reply(StatusCode::OK, "application/json", doc)
}

/// The HTML report of the run so far, refreshed by the browser (no script).
fn page(shared: &Shared) -> Response<Body> {
    let snap = shared.snapshot();
    let verdicts = crate::scenario::threshold::check_all(&shared.desc.thresholds, &snap);
    let scenario = shared.launch().doc.text;
    let about = crate::report::About {
        name: shared.desc.name.as_deref(),
        host: &shared.desc.host,
        started: shared.desc.started,
        scenario: &scenario,
        command: "",
    };
    let live = format!(
        "</h1>\n<p class=\"sub\">Live: {}, {}; this page reloads every 3 s</p>",
        snap.state_label(),
        crate::fmt::plural(snap.users, "user")
    );
    let html = crate::report::html::render(&about, &snap, &verdicts, None)
        .replacen(
            "<head>",
            "<head><meta http-equiv=\"refresh\" content=\"3\">",
            1,
        )
        .replacen("</h1>", &live, 1);
    let mut page = reply(StatusCode::OK, "text/html; charset=utf-8", html);
    page.headers_mut().insert(
        http::header::CACHE_CONTROL,
        http::HeaderValue::from_static("no-store"),
    );
    page
}

/// Snapshots as they change, one JSON line each, for as long as the client reads.
fn watch(shared: &Arc<Shared>) -> Response<Body> {
    let guard = Attached::new(Arc::clone(shared));
    let rx = shared.snapshots.clone();
    let state = (rx, HistoryCursor::default(), guard, true);
    let stream =
        futures_util::stream::unfold(state, |(mut rx, mut cursor, guard, first)| async move {
            if !first && rx.changed().await.is_err() {
                return None;
            }
            rx.borrow_and_update();
            let snap = guard.0.snapshot();
            let mut line = serde_json::to_vec(&cursor.frame(&snap)).unwrap_or_default();
            line.push(b'\n');
            let frame = hyper::body::Frame::data(Bytes::from(line));
            Some((Ok::<_, Infallible>(frame), (rx, cursor, guard, false)))
        });
    Response::builder()
        .header(http::header::CONTENT_TYPE, "application/x-ndjson")
        .body(BodyExt::boxed(StreamBody::new(stream)))
        .expect("a valid response")
}

/// Counts a watcher while its stream lives.
struct Attached(Arc<Shared>);

impl Attached {
    fn new(shared: Arc<Shared>) -> Attached {
        shared.attached.fetch_add(1, Ordering::Relaxed);
        Attached(shared)
    }
}

impl Drop for Attached {
    fn drop(&mut self) {
        self.0.attached.fetch_sub(1, Ordering::Relaxed);
    }
}

fn outcome(result: Result<String, (u16, String)>) -> Response<Body> {
    match result {
        Ok(done) => json(
            StatusCode::OK,
            &serde_json::json!({ "ok": true, "done": done }),
        ),
        Err((code, why)) => json(
            StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_REQUEST),
            &serde_json::json!({ "ok": false, "error": why }),
        ),
    }
}

fn json<T: serde::Serialize>(code: StatusCode, value: &T) -> Response<Body> {
    let text = serde_json::to_string(value).unwrap_or_default();
    reply(code, "application/json", text + "\n")
}

fn text(code: StatusCode, body: String) -> Response<Body> {
    reply(code, "text/plain; charset=utf-8", body)
}

/// A whole answer: its status, its type and its body.
fn reply(code: StatusCode, content_type: &'static str, body: String) -> Response<Body> {
    Response::builder()
        .status(code)
        .header(http::header::CONTENT_TYPE, content_type)
        .body(BodyExt::boxed(Full::new(Bytes::from(body))))
        .expect("a valid response")
}
