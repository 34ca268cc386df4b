//! The built-in demo target: a small HTTP API of the kind load-testing tutorials use.
//!
//! | route | what it does |
//! |---|---|
//! | `GET /` | a short text index |
//! | `GET /items`, `POST /items` | a JSON list (the newest 100 items) and adding to it |
//! | `GET /items/{id}` | one item, or 404 |
//! | `GET /primes?below=N` | counts primes below N (default 10 000) by trial division: CPU-bound |
//! | `GET /delay?ms=N` | answers after N ms (default 100, at most 10 000) |
//! | `GET /flaky?fail=P` | answers 500 with probability P (default 0.1) |
//! | `POST /signup`, `POST /signin` | `{"username", "password"}`: 201 (409 if taken); 200 `{"token"}` and a `sid` cookie (401 if wrong) |
//! | `GET /me`, `POST /signout` | with `Authorization: Bearer TOKEN`: 200 `{"username"}`; 204; 401 without a valid token |
//! | `GET /events?n=20&gap_ms=50&first_ms=50` | `n` server-sent events `data: {"n": i}`, the first after `first_ms`, then one every `gap_ms` |
//! | `GET /ws/echo` | WebSocket: every message back as it came |
//! | `GET /ws/chat?room=R&tick_ms=1000` | WebSocket room: `{"type":"join"}` answered `{"type":"joined","member_id":N}`, other messages broadcast to the room, a `{"type":"tick"}` every `tick_ms` |
//! | `POST /v1/chat/completions?tokens=20&first_ms=200&gap_ms=20&capacity=N` | OpenAI-compatible: with `"stream": true`, `tokens` chunks (or `max_tokens`) as SSE ending in `data: [DONE]`; else the whole answer when the last token is due; beyond `capacity` chats at once, slower in proportion |

mod stream;
mod ws;

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use serde_json::{Value, json};
use std::net::SocketAddr;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

const MAX_ITEMS: usize = 100;

#[derive(Default)]
struct Items {
    next_id: u64,
    list: Vec<Value>,
    /// Accounts (name -> password) and sign-in tokens (token -> name).
    accounts: std::collections::HashMap<String, String>,
    tokens: std::collections::HashMap<String, String>,
}

/// The demo forgets all accounts beyond this many (it is a demo, not a user store).
const MAX_ACCOUNTS: usize = 100_000;

/// A running demo server.
pub(crate) struct DemoServer {
    pub addr: SocketAddr,
    stop: CancellationToken,
    task: tokio::task::JoinHandle<()>,
}

impl DemoServer {
    /// Binds 127.0.0.1:`port` (0 picks a free port) and serves until `shutdown`.
    pub async fn start(port: u16) -> std::io::Result<DemoServer> {
        let listener = TcpListener::bind(("127.0.0.1", port)).await?;
        let addr = listener.local_addr()?;
        let stop = CancellationToken::new();
        let task = tokio::spawn(serve(listener, stop.clone()));
        Ok(DemoServer { addr, stop, task })
    }

    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Serves until the task is cancelled (for `swarm demo --serve`).
    pub async fn wait(self) {
        let _ = self.task.await;
    }

    pub async fn shutdown(self) {
        self.stop.cancel();
        let _ = self.task.await;
    }
}

async fn serve(listener: TcpListener, stop: CancellationToken) {
    let items = Arc::new(Mutex::new(Items {
        next_id: 1,
        ..Items::default()
    }));
    let mut connections = tokio::task::JoinSet::new();
    loop {
        let accepted = tokio::select! {
            _ = stop.cancelled() => break,
            a = listener.accept() => a,
        };
        let Ok((stream, _)) = accepted else {
            // Out of file descriptors and the like: wait a little rather than spin.
            tokio::time::sleep(Duration::from_millis(10)).await;
            continue;
        };
        let _ = stream.set_nodelay(true);
        let items = Arc::clone(&items);
        let stop = stop.clone();
        connections.spawn(async move {
            let service = service_fn(move |req| handle(req, Arc::clone(&items)));
            let conn = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .with_upgrades();
            tokio::select! {
                _ = conn => {}
                _ = stop.cancelled() => {}
            }
        });
        while connections.try_join_next().is_some() {}
    }
    connections.abort_all();
}

/// A response body: whole, or streamed (`/events`, `/v1/chat/completions`).
type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, std::convert::Infallible>;

type Reply = Result<Response<Body>, std::convert::Infallible>;

async fn handle(req: Request<Incoming>, items: Arc<Mutex<Items>>) -> Reply {
    match (req.method(), req.uri().path()) {
        (&Method::GET, "/events") => Ok(stream::events(req.uri().query().unwrap_or(""))),
        (&Method::POST, "/v1/chat/completions") => Ok(stream::chat(req).await),
        (&Method::GET, "/ws/echo" | "/ws/chat") => Ok(ws::upgrade(req)),
        _ => Ok(whole(req, items).await.map(BodyExt::boxed_unsync)),
    }
}

/// The routes that answer with a whole body.
async fn whole(req: Request<Incoming>, items: Arc<Mutex<Items>>) -> Response<Full<Bytes>> {
    let path = req.uri().path().to_string();
    let query = req.uri().query().unwrap_or("").to_string();
    match (req.method(), path.as_str()) {
        (&Method::GET, "/") => text(StatusCode::OK, INDEX),
        (&Method::GET, "/items") => {
            let list = items.lock().unwrap_or_else(|p| p.into_inner()).list.clone();
            json_reply(StatusCode::OK, &Value::Array(list))
        }
        (&Method::POST, "/items") => add_item(req, &items).await,
        (&Method::GET, p) if p.starts_with("/items/") => get_item(&p[7..], &items),
        (&Method::POST, "/signup" | "/signin") => account(req, &items).await,
        (&Method::GET, "/me") | (&Method::POST, "/signout") => session(&req, &items),
        (&Method::GET, "/primes") => {
            let below = param(&query, "below").unwrap_or(10_000.0).clamp(0.0, 1e7) as u64;
            let count = tokio::task::spawn_blocking(move || count_primes(below))
                .await
                .unwrap_or(0);
            json_reply(StatusCode::OK, &json!({ "below": below, "count": count }))
        }
        (&Method::GET, "/delay") => {
            let ms = param(&query, "ms").unwrap_or(100.0).clamp(0.0, 10_000.0);
            precise_sleep(Duration::from_secs_f64(ms / 1000.0)).await;
            json_reply(StatusCode::OK, &json!({ "delayed_ms": ms }))
        }
        (&Method::GET, "/flaky") => {
            let p = param(&query, "fail").unwrap_or(0.1).clamp(0.0, 1.0);
            if fastrand::f64() < p {
                json_reply(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    &json!({ "error": "flaky failure" }),
                )
            } else {
                json_reply(StatusCode::OK, &json!({ "ok": true }))
            }
        }
        _ => json_reply(
            StatusCode::NOT_FOUND,
            &json!({ "error": "no such route", "path": path }),
        ),
    }
}

/// `GET /me` says who the bearer token belongs to; `POST /signout` ends its session.
fn session(req: &Request<Incoming>, items: &Mutex<Items>) -> Response<Full<Bytes>> {
    let token = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .unwrap_or("")
        .to_string();
    let mut items = items.lock().unwrap_or_else(|p| p.into_inner());
    match items.tokens.get(&token).cloned() {
        None => json_reply(
            StatusCode::UNAUTHORIZED,
            &json!({ "error": "sign in first: Authorization: Bearer TOKEN" }),
        ),
        Some(_) if req.method() == Method::POST => {
            items.tokens.remove(&token);
            json_reply(StatusCode::NO_CONTENT, &json!({}))
        }
        Some(user) => json_reply(StatusCode::OK, &json!({ "username": user })),
    }
}

const INDEX: &str = "swarm demo API\n\
GET  /items           list items (JSON)\n\
POST /items           add an item: {\"name\": ..., \"description\": ...}\n\
GET  /items/{id}      one item\n\
GET  /primes?below=N  count primes below N (CPU-bound, default 10000)\n\
GET  /delay?ms=N      answer after N ms (default 100)\n\
GET  /flaky?fail=P    fail with probability P (default 0.1)\n\
POST /signup          {\"username\": ..., \"password\": ...}: 201, or 409 when taken\n\
POST /signin          the same: 200 {\"token\": ...} and a sid cookie, or 401\n\
GET  /me              with Authorization: Bearer TOKEN: {\"username\": ...}, or 401\n\
POST /signout         with the token: 204\n\
GET  /events?n=20&gap_ms=50             n server-sent events, one every gap_ms\n\
POST /v1/chat/completions?tokens=20     OpenAI-compatible chat; \"stream\": true streams tokens\n\
GET  /ws/echo                           WebSocket echo\n\
GET  /ws/chat?room=R                    WebSocket chat room (join, broadcast, ticks)\n";

/// `/signup` and `/signin`.
async fn account(req: Request<Incoming>, items: &Mutex<Items>) -> Response<Full<Bytes>> {
    let signup = req.uri().path() == "/signup";
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let input: Value = body
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or(Value::Null);
    let (Some(user), Some(password)) = (input["username"].as_str(), input["password"].as_str())
    else {
        let error = json!({ "error": "send {\"username\": ..., \"password\": ...}" });
        return json_reply(StatusCode::BAD_REQUEST, &error);
    };
    let mut items = items.lock().unwrap_or_else(|p| p.into_inner());
    if signup {
        if items.accounts.contains_key(user) {
            return json_reply(StatusCode::CONFLICT, &json!({ "error": "username taken" }));
        }
        if items.accounts.len() >= MAX_ACCOUNTS {
            items.accounts.clear();
            items.tokens.clear();
        }
        items
            .accounts
            .insert(user.to_string(), password.to_string());
        return json_reply(StatusCode::CREATED, &json!({ "username": user }));
    }
    if items.accounts.get(user).map(String::as_str) != Some(password) {
        let error = json!({ "error": "wrong username or password" });
        return json_reply(StatusCode::UNAUTHORIZED, &error);
    }
    let token = format!("{:032x}", fastrand::u128(..));
    items.tokens.insert(token.clone(), user.to_string());
    let mut r = json_reply(StatusCode::OK, &json!({ "token": token }));
    let cookie = format!("sid={:016x}; Path=/; HttpOnly", fastrand::u64(..));
    if let Ok(v) = header::HeaderValue::from_str(&cookie) {
        r.headers_mut().insert(header::SET_COOKIE, v);
    }
    r
}

async fn add_item(req: Request<Incoming>, items: &Mutex<Items>) -> Response<Full<Bytes>> {
    let is_form = req.headers().get(header::CONTENT_TYPE).is_some_and(|v| {
        v.as_bytes()
            .starts_with(b"application/x-www-form-urlencoded")
    });
    let Ok(body) = req.into_body().collect().await.map(|b| b.to_bytes()) else {
        return json_reply(
            StatusCode::BAD_REQUEST,
            &json!({ "error": "unreadable body" }),
        );
    };
    let parsed = if is_form {
        let pairs = form_urlencoded::parse(&body)
            .map(|(k, v)| (k.into_owned(), Value::from(v.into_owned())));
        Some(pairs.collect::<serde_json::Map<_, _>>())
    } else {
        match serde_json::from_slice::<Value>(&body) {
            Ok(Value::Object(o)) => Some(o),
            _ => None,
        }
    };
    let Some(mut item) = parsed else {
        let error = json!({ "error": "expected a JSON object or a form" });
        return json_reply(StatusCode::BAD_REQUEST, &error);
    };
    let mut items = items.lock().unwrap_or_else(|p| p.into_inner());
    item.insert("id".into(), json!(items.next_id));
    items.next_id += 1;
    let item = Value::Object(item);
    items.list.push(item.clone());
    if items.list.len() > MAX_ITEMS {
        items.list.remove(0);
    }
    json_reply(StatusCode::CREATED, &item)
}

fn get_item(id: &str, items: &Mutex<Items>) -> Response<Full<Bytes>> {
    let items = items.lock().unwrap_or_else(|p| p.into_inner());
    let found = id
        .parse::<u64>()
        .ok()
        .and_then(|id| items.list.iter().find(|i| i["id"] == json!(id)).cloned());
    match found {
        Some(item) => json_reply(StatusCode::OK, &item),
        None => json_reply(StatusCode::NOT_FOUND, &json!({ "error": "no such item" })),
    }
}

fn param(query: &str, name: &str) -> Option<f64> {
    form_urlencoded::parse(query.as_bytes())
        .find(|(k, _)| k == name)
        .and_then(|(_, v)| v.parse().ok())
}

/// Sleeps with about 0.1 ms precision (tokio's timer rounds up to whole milliseconds), so
/// `/delay` answers when it says and latency accuracy can be checked against it. One
/// thread serves every delay of the process.
async fn precise_sleep(d: Duration) {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let sent = precise_timer()
        .lock()
        .map(|t| t.send((Instant::now() + d, tx)).is_ok())
        .unwrap_or(false);
    if sent {
        let _ = rx.await;
    } else {
        tokio::time::sleep(d).await;
    }
}

type Wakeup = (Instant, tokio::sync::oneshot::Sender<()>);

fn precise_timer() -> &'static Mutex<std::sync::mpsc::Sender<Wakeup>> {
    static TIMER: OnceLock<Mutex<std::sync::mpsc::Sender<Wakeup>>> = OnceLock::new();
    TIMER.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Wakeup>();
        std::thread::Builder::new()
            .name("swarm-demo-timer".into())
            .spawn(move || timer_loop(rx))
            .expect("cannot start the demo timer thread");
        Mutex::new(tx)
    })
}

fn timer_loop(rx: std::sync::mpsc::Receiver<Wakeup>) {
    use std::collections::{BinaryHeap, HashMap};
    use std::sync::mpsc::RecvTimeoutError;
    let mut due: BinaryHeap<std::cmp::Reverse<(Instant, u64)>> = BinaryHeap::new();
    let mut waiting: HashMap<u64, tokio::sync::oneshot::Sender<()>> = HashMap::new();
    let mut seq = 0u64;
    loop {
        let now = Instant::now();
        while let Some(std::cmp::Reverse((at, id))) = due.peek().copied() {
            if at > now {
                break;
            }
            due.pop();
            if let Some(tx) = waiting.remove(&id) {
                let _ = tx.send(());
            }
        }
        let next = match due.peek() {
            Some(std::cmp::Reverse((at, _))) => rx.recv_timeout(at.saturating_duration_since(now)),
            None => rx.recv().map_err(|_| RecvTimeoutError::Disconnected),
        };
        match next {
            Ok((at, tx)) => {
                seq += 1;
                due.push(std::cmp::Reverse((at, seq)));
                waiting.insert(seq, tx);
            }
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => return,
        }
    }
}

/// Trial division on purpose: the point is to burn CPU.
fn count_primes(below: u64) -> u64 {
    (2..below)
        .filter(|&n| (2..).take_while(|d| d * d <= n).all(|d| n % d != 0))
        .count() as u64
}

fn json_reply(status: StatusCode, value: &Value) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}

fn text(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/plain"),
    );
    r
}

#[cfg(test)]
mod tests {
    /// Never early; late by under 5 ms in the best of three tries (one try on a loaded
    /// machine can be descheduled for longer, which says nothing of the sleep).
    #[tokio::test]
    async fn precise_sleep_is_precise() {
        let mut best = std::time::Duration::MAX;
        for _ in 0..3 {
            let mut worst = std::time::Duration::ZERO;
            for ms in [3u64, 7, 20] {
                let d = std::time::Duration::from_millis(ms);
                let t = std::time::Instant::now();
                super::precise_sleep(d).await;
                let took = t.elapsed();
                assert!(took >= d, "woke early: {took:?} < {d:?}");
                worst = worst.max(took - d);
            }
            best = best.min(worst);
        }
        assert!(
            best < std::time::Duration::from_millis(5),
            "late by {best:?}"
        );
    }

    #[test]
    fn primes() {
        assert_eq!(super::count_primes(10_000), 1229);
        assert_eq!(super::count_primes(2), 0);
    }
}
