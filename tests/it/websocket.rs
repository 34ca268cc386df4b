//! WebSocket flow steps against a server the test starts on 127.0.0.1:0, which counts the
//! sockets it accepted, the messages it got and sent, and the closes: swarm's counts must
//! be the server's; a refused upgrade, a server's close and a silent server fail with their
//! own causes.

use crate::support::{started, until_stopped};
use futures_util::{SinkExt, StreamExt};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use swarm::stats::{FailureKind, Snapshot};
use tokio::net::TcpListener;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::handshake::server::{ErrorResponse, Request, Response};
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;

#[derive(Default)]
struct Seen {
    sockets: AtomicU64,
    received: AtomicU64,
    sent: AtomicU64,
    closes: AtomicU64,
    /// Upgrades that carried the scenario's header.
    with_header: AtomicU64,
    /// Pongs that answered `/ping`'s ping in time.
    pongs: AtomicU64,
    /// Connections whose task has not ended yet.
    live: AtomicU64,
}

impl Seen {
    /// Waits (at most 10 s) until every connection's task has ended, so that what the
    /// server counted is final: swarm's end of a flow closes without waiting for the
    /// answer, and the server may count after swarm's run has stopped.
    async fn settled(&self) -> &Self {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while self.live.load(Ordering::Acquire) > 0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
        self
    }
}

/// Counts a connection's task as live until it is dropped.
struct Live(Arc<Seen>);

impl Drop for Live {
    fn drop(&mut self) {
        self.0.live.fetch_sub(1, Ordering::Release);
    }
}

/// `/echo` answers every message with itself; `/refuse` refuses the upgrade (403, "go
/// away"); `/bye` closes with 4000 "bye" after the first message; `/silent` reads and
/// never answers; `/ping` sends a ping and "news" at once, closes with 4001 when no pong
/// comes within 200 ms, and echoes after one does; `/later` says "hello" and closes
/// with 4002 "later" 100 ms after the upgrade.
async fn server() -> (String, Arc<Seen>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Seen> = Arc::default();
    let s = Arc::clone(&seen);
    crate::support::accept_each(listener, move |tcp| {
        let s = Arc::clone(&s);
        s.live.fetch_add(1, Ordering::Release);
        let live = Live(Arc::clone(&s));
        async move {
            let _live = live;
            let mut path = String::new();
            #[expect(
                clippy::result_large_err,
                reason = "tungstenite's callback type, not ours"
            )]
            let callback = |req: &Request, resp: Response| -> Result<Response, ErrorResponse> {
                path = req.uri().path().to_string();
                if req.headers().get("x-team").is_some_and(|v| v == "swarm") {
                    s.with_header.fetch_add(1, Ordering::Relaxed);
                }
                if path == "/refuse" {
                    let mut r = ErrorResponse::new(Some("go away".into()));
                    *r.status_mut() = http::StatusCode::FORBIDDEN;
                    return Err(r);
                }
                Ok(resp)
            };
            let Ok(mut socket) = tokio_tungstenite::accept_hdr_async(tcp, callback).await else {
                return;
            };
            s.sockets.fetch_add(1, Ordering::Relaxed);
            if path == "/later" {
                // Says one thing, then closes 100 ms after the upgrade.
                send_counted(&mut socket, Message::text("hello"), &s.sent).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
                let frame = CloseFrame {
                    code: CloseCode::from(4002),
                    reason: "later".into(),
                };
                let _ = socket.close(Some(frame)).await;
                while let Some(Ok(_)) = socket.next().await {}
                return;
            }
            if path == "/ping" {
                let _ = socket.send(Message::Ping(Vec::new().into())).await;
                send_counted(&mut socket, Message::text("news"), &s.sent).await;
                let pong = tokio::time::timeout(Duration::from_millis(200), async {
                    while let Some(Ok(m)) = socket.next().await {
                        if matches!(m, Message::Pong(_)) {
                            return true;
                        }
                    }
                    false
                });
                if !matches!(pong.await, Ok(true)) {
                    let frame = CloseFrame {
                        code: CloseCode::from(4001),
                        reason: "no pong".into(),
                    };
                    let _ = socket.close(Some(frame)).await;
                    return;
                }
                s.pongs.fetch_add(1, Ordering::Relaxed);
            }
            while let Some(Ok(m)) = socket.next().await {
                match m {
                    Message::Close(_) => {
                        s.closes.fetch_add(1, Ordering::Relaxed);
                        let _ = socket.flush().await;
                        return;
                    }
                    Message::Text(_) | Message::Binary(_) => {
                        s.received.fetch_add(1, Ordering::Relaxed);
                        if path == "/bye" {
                            let frame = CloseFrame {
                                code: CloseCode::from(4000),
                                reason: "bye".into(),
                            };
                            let _ = socket.close(Some(frame)).await;
                            return;
                        }
                        if path == "/echo" || path == "/ping" {
                            send_counted(&mut socket, m, &s.sent).await;
                        }
                    }
                    _ => {}
                }
            }
        }
    });
    (url, seen)
}

/// Sends `m` and counts it. The count comes first: swarm may read the frame, finish its
/// run and have the test read the count before this task is scheduled again, so a count
/// taken after the send returned was sometimes still 0 (CI saw it). A send that fails is
/// taken back.
async fn send_counted<S>(socket: &mut S, m: Message, count: &AtomicU64)
where
    S: futures_util::Sink<Message> + Unpin,
{
    count.fetch_add(1, Ordering::Relaxed);
    if socket.send(m).await.is_err() {
        count.fetch_sub(1, Ordering::Relaxed);
    }
}

fn row<'a>(snap: &'a Snapshot, name: &str) -> &'a swarm::stats::RowStats {
    snap.rows.iter().find(|r| r.name == name).expect("the row")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_counts_are_the_servers() {
    let (url, seen) = server().await;
    let src = r#"
host = "{host}"
[load]
users = 3
spawn_rate = 100
iterations = 12
[defaults]
headers = { X-Team = "swarm" }
[[flows]]
name = "echo"
[[flows.steps]]
name = "connect"
ws = "/echo?u={{user.id}}"
[[flows.steps]]
name = "ping"
send = 'hello {{user.id}}'
receive = { contains = "hello {{user.id}}" }
[[flows.steps]]
name = "binary"
send_binary = "AAEC"
receive = {}
[[flows.steps]]
name = "idle"
hold = "30ms"
[[flows.steps]]
name = "bye"
close = 1000
"#;
    let engine = started(src, &url);
    let snap = until_stopped(&engine, Duration::from_secs(30)).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    seen.settled().await;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!(get(&seen.sockets), 12);
    assert_eq!(
        get(&seen.with_header),
        12,
        "the default headers go with the upgrade"
    );
    let connect = row(&snap, "connect");
    assert_eq!(connect.statuses, vec![(101, 12)]);
    let total = snap.total.ws.as_ref().expect("ws counts");
    assert_eq!((total.opened, total.closed, total.open), (12, 12, 0));
    assert_eq!(total.sent, get(&seen.received));
    assert_eq!(total.received, get(&seen.sent));
    assert_eq!((total.sent, total.received), (24, 24));
    assert_eq!(get(&seen.closes), 12);
    let binary = row(&snap, "binary").ws.as_ref().unwrap();
    assert_eq!((binary.bytes_sent, binary.bytes_received), (12 * 3, 12 * 3));
    assert_eq!(row(&snap, "bye").ws.as_ref().unwrap().closed, 12);
}

/// One user, two iterations of a flow that connects to `path` and then takes `steps`
/// (TOML after `[[flows.steps]]`), thinking `wait` between steps; the final snapshot.
async fn thinking_user(wait: &str, path: &str, steps: &str) -> (Arc<Snapshot>, Arc<Seen>) {
    let (url, seen) = server().await;
    let src = format!(
        "host = \"{url}\"\n[load]\nusers = 1\nspawn_rate = 10\niterations = 2\nwait = \"{wait}\"\n\
         [[flows]]\nname = \"f\"\n[[flows.steps]]\nname = \"connect\"\nws = \"{path}\"\n\
         [[flows.steps]]\n{steps}\n"
    );
    let engine = started(&src, &url);
    (until_stopped(&engine, Duration::from_secs(30)).await, seen)
}

/// A browser answers a server's pings whenever they come; so does a user between steps
/// (its think time), and what arrived meanwhile waits for the next step.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_user_between_steps_answers_pings_and_keeps_what_arrived() {
    let (snap, seen) = thinking_user(
        "500ms",
        "/ping",
        "name = \"news\"\nreceive = { contains = \"news\" }\n[[flows.steps]]\n\
         name = \"echo\"\nsend = \"hi\"\nreceive = { contains = \"hi\" }\n[[flows.steps]]\n\
         name = \"bye\"\nclose = 1000",
    )
    .await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    seen.settled().await;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!(
        get(&seen.pongs),
        2,
        "each ping answered within 200 ms, mid-think"
    );
    let news = row(&snap, "news");
    assert_eq!(news.requests, 2);
    assert_eq!(news.ws.as_ref().unwrap().received, 2);
    let total = snap.total.ws.as_ref().unwrap();
    assert_eq!(total.received, get(&seen.sent), "news and the echoes");
    assert_eq!((total.sent, get(&seen.received)), (2, 2));
    assert_eq!(get(&seen.closes), 2);
}

/// A server that closed the socket while the user thought: the next send says how (its
/// code and reason), and what it said before is counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_close_between_steps_is_reported_with_its_code_at_the_next_send() {
    let (snap, seen) = thinking_user("300ms", "/later", "name = \"say\"\nsend = \"hi\"").await;
    let say = snap.failures.iter().find(|f| f.name == "say").unwrap();
    assert_eq!(say.kind, FailureKind::WsClosed);
    assert!(
        say.message.contains("4002") && say.message.contains("later"),
        "{}",
        say.message
    );
    let total = snap.total.ws.as_ref().unwrap();
    seen.settled().await;
    assert_eq!(total.received, seen.sent.load(Ordering::Relaxed));
    assert_eq!((total.received, total.sent, total.open), (2, 0, 0));
}

/// One step after a connect to `path`; the final snapshot.
async fn after_connect(path: &str, step: &str) -> Arc<Snapshot> {
    let (url, _) = server().await;
    let src = format!(
        "host = \"{url}\"\n[load]\nusers = 1\nspawn_rate = 10\niterations = 2\n\
         [defaults]\ntimeout = \"300ms\"\n[[flows]]\nname = \"f\"\n\
         [[flows.steps]]\nname = \"connect\"\nws = \"{path}\"\n[[flows.steps]]\nname = \"step\"\n{step}\n"
    );
    let engine = started(&src, &url);
    until_stopped(&engine, Duration::from_secs(30)).await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn websocket_failures_have_their_own_causes() {
    let snap = after_connect("/refuse", "send = \"x\"").await;
    let refused = snap.failures.iter().find(|f| f.name == "connect").unwrap();
    assert_eq!(refused.kind, FailureKind::WsHandshake);
    assert_eq!(refused.kind.code(), "ws_handshake");
    assert!(
        refused.message.contains("403") && refused.message.contains("go away"),
        "{}",
        refused.message
    );
    assert_eq!(row(&snap, "connect").statuses, vec![(403, 2)]);
    let no_socket = snap.failures.iter().find(|f| f.name == "step").unwrap();
    assert_eq!(no_socket.kind, FailureKind::WsProtocol);
    assert!(
        no_socket.message.contains("no WebSocket is open"),
        "{}",
        no_socket.message
    );

    let snap = after_connect("/bye", "send = \"x\"\nreceive = {}").await;
    let closed = &snap.failures[0];
    assert_eq!(closed.kind, FailureKind::WsClosed);
    assert!(
        closed.message.contains("4000") && closed.message.contains("bye"),
        "{}",
        closed.message
    );

    let snap = after_connect(
        "/silent",
        "send = \"x\"\nreceive = { json = \"/type\", equals = \"pong\" }",
    )
    .await;
    let timeout = &snap.failures[0];
    assert_eq!(timeout.kind, FailureKind::WsTimeout);
    assert!(
        timeout.message.contains("/type = \"pong\""),
        "{}",
        timeout.message
    );
    let total = snap.total.ws.as_ref().unwrap();
    assert_eq!(
        (total.opened, total.closed),
        (2, 2),
        "the flow's end closes the socket"
    );
}

/// `scenarios/websocket.toml` against the demo's chat room over two worker processes:
/// the controller's merged counts are every flow's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_websocket_run_merges_its_workers_counts() {
    let doc = crate::streams::distributed("scenarios/websocket.toml", "10").await;
    let total = &doc["aggregated"];
    assert_eq!(total["requests"], 60, "six steps a flow");
    assert_eq!(total["failures"], 0, "{doc}");
    let ws = &total["ws"];
    assert_eq!(
        (
            ws["opened"].as_u64(),
            ws["closed"].as_u64(),
            ws["open"].as_u64()
        ),
        (Some(10), Some(10), Some(0))
    );
    assert_eq!(ws["sent"], 20, "a join and a message a flow");
}

/// Over TLS: an https host's `ws` step speaks wss through swarm's rustls (a self-signed
/// certificate, accepted with `insecure = true`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wss_over_rustls() {
    let config = crate::support::self_signed_tls(Vec::new());
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let echoed: Arc<AtomicU64> = Arc::default();
    let e = Arc::clone(&echoed);
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, e) = (acceptor.clone(), Arc::clone(&e));
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                let Ok(mut socket) = tokio_tungstenite::accept_async(tls).await else {
                    return;
                };
                while let Some(Ok(m)) = socket.next().await {
                    if m.is_text() {
                        send_counted(&mut socket, m, &e).await;
                    }
                }
            });
        }
    });
    let src = "host = \"https://localhost:{port}\"\n[load]\nusers = 2\nspawn_rate = 100\n\
               iterations = 4\n[defaults]\ninsecure = true\n[[flows]]\nname = \"f\"\n\
               [[flows.steps]]\nname = \"connect\"\nws = \"/\"\n[[flows.steps]]\nname = \"echo\"\n\
               send = \"over tls\"\nreceive = { contains = \"tls\" }\n"
        .replace("{port}", &port.to_string());
    let engine = started(&src, "");
    let snap = until_stopped(&engine, Duration::from_secs(30)).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    assert_eq!(echoed.load(Ordering::Relaxed), 4);
    assert_eq!(snap.total.ws.as_ref().unwrap().received, 4);
}

/// A socket opened by on_start is the user's for life: its tasks use it, and it closes
/// when the user stops.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_on_start_socket_lives_as_long_as_its_user() {
    let (url, seen) = server().await;
    let src = "host = \"{host}\"\n[load]\nusers = 2\nspawn_rate = 100\niterations = 8\nwait = \"30ms\"\n\
               [[on_start]]\nname = \"connect\"\nws = \"/echo\"\n\
               [[endpoints]]\nname = \"echo\"\nsend = \"hi\"\nreceive = { contains = \"hi\" }\n";
    let engine = started(src, &url);
    let snap = until_stopped(&engine, Duration::from_secs(30)).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    seen.settled().await;
    let get = |a: &AtomicU64| a.load(Ordering::Relaxed);
    assert_eq!(get(&seen.sockets), 2, "one socket a user");
    assert_eq!((get(&seen.received), get(&seen.sent)), (8, 8));
    let total = snap.total.ws.as_ref().unwrap();
    assert_eq!((total.opened, total.closed, total.open), (2, 2, 0));
}

/// `http2 = true` on a plain host (prior knowledge, swarm's own choice for its HTTP
/// requests) leaves the WebSocket upgrade on HTTP/1.1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_websocket_upgrade_stays_http1_when_http2_is_on() {
    let (url, seen) = server().await;
    let src = "host = \"{host}\"\n[load]\nusers = 1\nspawn_rate = 10\niterations = 1\n\
               [defaults]\nhttp2 = true\n[[flows]]\nname = \"f\"\n[[flows.steps]]\nname = \"connect\"\n\
               ws = \"/echo\"\n[[flows.steps]]\nname = \"echo\"\nsend = \"x\"\nreceive = {}\n";
    let engine = started(src, &url);
    let snap = until_stopped(&engine, Duration::from_secs(30)).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    seen.settled().await;
    assert_eq!(seen.sent.load(Ordering::Relaxed), 1);
}
