//! Truth under faults: servers that never answer, close reused connections, smuggle a
//! response behind a doubly framed one, or cut an HTTP/2 stream short. Each test compares
//! swarm's counts with what the hostile server itself saw.

use crate::support::{plan, until_stopped, wait_for};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swarm::engine::{Command, Engine};
use swarm::stats::{FailureKind, Snapshot};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinHandle;

/// How a hostile server treats each connection.
#[derive(Clone, Copy)]
pub enum Hostile {
    /// Reads requests and never answers.
    NeverAnswers,
    /// Answers the first request of a connection (keep-alive), then reads the second and
    /// closes without answering it.
    ClosesReused,
    /// Answers with both Transfer-Encoding: chunked and Content-Length, and 50 ms later
    /// writes a second, unasked-for response on the same connection.
    Smuggles,
    /// Sets a new 4000-byte cookie on every response (and one of 5000 bytes, over the
    /// limit), keep-alive.
    CookieBomb,
    /// Answers `200` with `Content-Length: 1000`, then sends the body a byte every 100 ms.
    Trickles,
    /// Answers `200` chunked and sends a one-byte chunk every 100 ms, without end.
    EndlessChunks,
    /// Reads only the request's head, answers `413` with `Connection: close` at once and
    /// closes without reading the body (as servers do with an upload over their limit).
    RejectsEarly,
}

/// What the hostile server saw.
#[derive(Default)]
pub struct Seen {
    pub connections: AtomicU64,
    pub gets: AtomicU64,
    pub posts: AtomicU64,
    /// The longest Cookie header, and the most cookies in one, that requests carried.
    pub max_cookie_len: AtomicU64,
    pub max_cookies: AtomicU64,
}

impl Seen {
    fn requests(&self) -> u64 {
        self.gets.load(Ordering::SeqCst) + self.posts.load(Ordering::SeqCst)
    }
}

pub struct HostileServer {
    pub url: String,
    pub seen: Arc<Seen>,
    task: JoinHandle<()>,
}

impl Drop for HostileServer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl HostileServer {
    pub async fn start(kind: Hostile) -> HostileServer {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let seen: Arc<Seen> = Arc::default();
        let s = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            let mut conns = tokio::task::JoinSet::new();
            while let Ok((stream, _)) = listener.accept().await {
                s.connections.fetch_add(1, Ordering::SeqCst);
                conns.spawn(serve(stream, kind, Arc::clone(&s)));
            }
        });
        HostileServer { url, seen, task }
    }
}

/// Reads one request (head and Content-Length body) and counts it by method; None at
/// the end of the stream.
async fn read_request(stream: &mut TcpStream, buf: &mut Vec<u8>, seen: &Seen) -> Option<String> {
    let head_end = loop {
        if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            break i + 4;
        }
        let mut b = [0u8; 4096];
        match stream.read(&mut b).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    };
    let head = String::from_utf8_lossy(&buf[..head_end]).to_ascii_lowercase();
    let length: usize = head
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .map_or(0, |v| v.trim().parse().unwrap());
    while buf.len() < head_end + length {
        let mut b = [0u8; 4096];
        match stream.read(&mut b).await {
            Ok(0) | Err(_) => return None,
            Ok(n) => buf.extend_from_slice(&b[..n]),
        }
    }
    if head.starts_with("post ") {
        seen.posts.fetch_add(1, Ordering::SeqCst);
    } else {
        seen.gets.fetch_add(1, Ordering::SeqCst);
    }
    if let Some(cookie) = head.lines().find_map(|l| l.strip_prefix("cookie:")) {
        let cookie = cookie.trim();
        seen.max_cookie_len
            .fetch_max(cookie.len() as u64, Ordering::SeqCst);
        seen.max_cookies
            .fetch_max(cookie.split("; ").count() as u64, Ordering::SeqCst);
    }
    buf.drain(..head_end + length);
    Some(head)
}

const OK: &[u8] = b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

async fn serve(mut stream: TcpStream, kind: Hostile, seen: Arc<Seen>) {
    let mut buf = Vec::new();
    match kind {
        Hostile::NeverAnswers => {
            while read_request(&mut stream, &mut buf, &seen).await.is_some() {}
        }
        Hostile::ClosesReused => {
            if read_request(&mut stream, &mut buf, &seen).await.is_some() {
                let _ = stream.write_all(OK).await;
                // The second request is read (so counted) and never answered.
                read_request(&mut stream, &mut buf, &seen).await;
            }
        }
        Hostile::CookieBomb => {
            let mut n = 0;
            while read_request(&mut stream, &mut buf, &seen).await.is_some() {
                n += 1;
                let size = if n % 10 == 0 { 5000 } else { 4000 };
                let head = format!(
                    "HTTP/1.1 200 OK\r\nset-cookie: c{n}={}; Path=/\r\ncontent-length: 2\r\n\r\nok",
                    "x".repeat(size)
                );
                if stream.write_all(head.as_bytes()).await.is_err() {
                    return;
                }
            }
        }
        Hostile::Trickles | Hostile::EndlessChunks => {
            if read_request(&mut stream, &mut buf, &seen).await.is_none() {
                return;
            }
            let (head, piece): (&[u8], &[u8]) = match kind {
                Hostile::Trickles => (b"HTTP/1.1 200 OK\r\ncontent-length: 1000\r\n\r\n", b"x"),
                _ => (
                    b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\n",
                    b"1\r\nx\r\n",
                ),
            };
            let _ = stream.write_all(head).await;
            for _ in 0..1000 {
                tokio::time::sleep(Duration::from_millis(100)).await;
                if stream.write_all(piece).await.is_err() {
                    return;
                }
            }
        }
        Hostile::RejectsEarly => {
            loop {
                let mut b = [0u8; 4096];
                match stream.read(&mut b).await {
                    Ok(0) | Err(_) => return,
                    Ok(n) => buf.extend_from_slice(&b[..n]),
                }
                if buf.windows(4).any(|w| w == b"\r\n\r\n") {
                    break;
                }
            }
            seen.posts.fetch_add(1, Ordering::SeqCst);
            let answer = b"HTTP/1.1 413 Payload Too Large\r\nconnection: close\r\ncontent-length: 9\r\n\r\ntoo large";
            let _ = stream.write_all(answer).await;
            // Closed with the body unread: the kernel answers what is still coming with a
            // reset.
        }
        Hostile::Smuggles => {
            while read_request(&mut stream, &mut buf, &seen).await.is_some() {
                let both = b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 2\r\n\r\n2\r\nok\r\n0\r\n\r\n";
                if stream.write_all(both).await.is_err() {
                    return;
                }
                tokio::time::sleep(Duration::from_millis(50)).await;
                let smuggled = b"HTTP/1.1 200 OK\r\ncontent-length: 8\r\n\r\nsmuggled";
                if stream.write_all(smuggled).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Runs a scenario to its own end (bounded by `limit`) and returns the last snapshot.
async fn run_to_end(src: &str, host: &str, limit: Duration) -> Arc<Snapshot> {
    let engine = Engine::spawn(&plan(src, host));
    engine.send(Command::Start);
    until_stopped(&engine, limit).await
}

fn count_of(snap: &Snapshot, kind: FailureKind) -> u64 {
    snap.failures
        .iter()
        .filter(|f| f.kind == kind)
        .map(|f| f.count)
        .sum()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_a_server_never_answers_are_counted_as_interrupted() {
    let server = HostileServer::start(Hostile::NeverAnswers).await;
    let src = r#"
host = "{host}"
[load]
users = 3
spawn_rate = 100
run_time = "300ms"
stop_timeout = "200ms"
[[endpoints]]
path = "/"
timeout = "30s"
"#;
    let snap = run_to_end(src, &server.url, Duration::from_secs(10)).await;
    assert_eq!(
        server.seen.requests(),
        3,
        "the server saw one request per user"
    );
    assert_eq!(snap.total.requests, 3, "{:#?}", snap.failures);
    assert_eq!(snap.total.failures, 3);
    assert_eq!(count_of(&snap, FailureKind::Interrupted), 3);
    assert_eq!(snap.interrupted(), 3);
    assert!(snap.all_interrupted());
    // The stop timeout is not a latency of the server's.
    assert_eq!(snap.total.max_ms, 0.0);
    let message = &snap.failures[0].message;
    assert!(message.contains("cut at the stop after"), "{message}");
    // No request had a response time: the report shows "-", not 0.00 as if measured.
    let report = swarm::report::text::render(&snap, "report", 80);
    let row = report.lines().find(|l| l.starts_with("GET  /")).unwrap();
    assert!(!row.contains("0.00") && row.contains(" - "), "{report}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_stop_cuts_in_flight_requests_at_once() {
    let server = HostileServer::start(Hostile::NeverAnswers).await;
    let src = r#"
host = "{host}"
[load]
users = 2
spawn_rate = 100
stop_timeout = "1h"
[[endpoints]]
path = "/"
timeout = "1h"
"#;
    let engine = Engine::spawn(&plan(src, &server.url));
    engine.send(Command::Start);
    let s = Arc::clone(&server.seen);
    tokio::time::timeout(Duration::from_secs(10), async move {
        while s.requests() < 2 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("both users sent a request");
    engine.send(Command::Stop);
    engine.send(Command::Stop);
    let snap = until_stopped(&engine, Duration::from_secs(5)).await;
    assert_eq!(count_of(&snap, FailureKind::Interrupted), 2);
}

const REUSED: &str = r#"
host = "{host}"
[load]
users = 4
spawn_rate = 100
run_time = "1s"
[[endpoints]]
METHOD_AND_BODY
path = "/x"
"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_post_lost_to_a_keep_alive_close_is_not_sent_twice() {
    let server = HostileServer::start(Hostile::ClosesReused).await;
    let src = REUSED.replace("METHOD_AND_BODY", "method = \"POST\"\njson = { a = 1 }");
    let snap = run_to_end(&src, &server.url, Duration::from_secs(15)).await;
    let posts = server.seen.posts.load(Ordering::SeqCst);
    assert!(posts > 20, "too few requests to tell: {posts}");
    assert_eq!(
        posts, snap.total.requests,
        "every POST swarm counted is one the server saw"
    );
    assert_eq!(snap.total.resent, 0);
    let lost = count_of(&snap, FailureKind::NotResent);
    let answered = server.seen.connections.load(Ordering::SeqCst);
    // Each connection answered its first POST and dropped its second.
    assert_eq!(snap.total.requests - lost, answered, "{:#?}", snap.failures);
    assert_eq!(snap.total.failures, lost, "{:#?}", snap.failures);
    assert!(lost > 0);
    let message = &snap.failures[0].message;
    assert!(message.contains("not sent twice"), "{message}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_get_lost_to_a_keep_alive_close_is_resent_and_counted() {
    let server = HostileServer::start(Hostile::ClosesReused).await;
    let src = REUSED.replace("METHOD_AND_BODY", "");
    let snap = run_to_end(&src, &server.url, Duration::from_secs(15)).await;
    let gets = server.seen.gets.load(Ordering::SeqCst);
    assert!(gets > 20, "too few requests to tell: {gets}");
    assert_eq!(snap.total.failures, 0, "{:#?}", snap.failures);
    assert!(snap.total.resent > 0);
    // The server saw every request once, and the resent ones twice.
    assert_eq!(gets, snap.total.requests + snap.total.resent);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_response_framed_twice_closes_the_connection() {
    let server = HostileServer::start(Hostile::Smuggles).await;
    let src = r#"
host = "{host}"
[load]
users = 1
spawn_rate = 100
[[endpoints]]
path = "/x"
expect = { body_contains = "ok" }
"#;
    let engine = Engine::spawn(&plan(src, &server.url));
    engine.send(Command::Start);
    wait_for(&engine, Duration::from_secs(10), |s| s.total.requests >= 10).await;
    engine.send(Command::Stop);
    let snap = until_stopped(&engine, Duration::from_secs(10)).await;
    assert_eq!(snap.total.failures, 0, "{:#?}", snap.failures);
    assert_eq!(server.seen.requests(), snap.total.requests);
    // No connection carried a second request, so no smuggled response was taken as one.
    assert_eq!(
        server.seen.connections.load(Ordering::SeqCst),
        snap.total.requests
    );
}

/// An HTTP/2 server (prior knowledge) that announces 100 bytes, sends 10 and resets the
/// stream with NO_ERROR; counts the requests it answered that way.
async fn truncating_h2_server() -> (String, Arc<AtomicU64>, JoinHandle<()>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let count = Arc::new(AtomicU64::new(0));
    let c = Arc::clone(&count);
    let task = tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let c = Arc::clone(&c);
            tokio::spawn(async move {
                let Ok(mut conn) = h2::server::handshake(stream).await else {
                    return;
                };
                while let Some(Ok((_req, mut respond))) = conn.accept().await {
                    c.fetch_add(1, Ordering::SeqCst);
                    let response = http::Response::builder()
                        .status(200)
                        .header("content-length", "100")
                        .body(())
                        .unwrap();
                    let Ok(mut body) = respond.send_response(response, false) else {
                        continue;
                    };
                    let _ = body.send_data(bytes::Bytes::from_static(&[b'x'; 10]), false);
                    body.send_reset(h2::Reason::NO_ERROR);
                }
            });
        }
    });
    (url, count, task)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_http2_stream_reset_before_its_length_is_a_failure() {
    let (url, count, task) = truncating_h2_server().await;
    let src = r#"
host = "{host}"
[defaults]
http2 = true
[load]
users = 1
spawn_rate = 100
[[endpoints]]
path = "/x"
"#;
    let engine = Engine::spawn(&plan(src, &url));
    engine.send(Command::Start);
    wait_for(&engine, Duration::from_secs(10), |s| s.total.requests >= 5).await;
    engine.send(Command::Stop);
    let snap = until_stopped(&engine, Duration::from_secs(10)).await;
    task.abort();
    assert_eq!(snap.total.requests, count.load(Ordering::SeqCst));
    assert_eq!(snap.total.failures, snap.total.requests, "none is a 200");
    assert_eq!(count_of(&snap, FailureKind::Reset), snap.total.requests);
    // hyper either ends the body at the reset (swarm then finds it short of its length)
    // or reports the reset itself: each says what happened, neither is a 200.
    for f in &snap.failures {
        let m = &f.message;
        assert!(
            m.contains("ended after 10 of the 100 bytes")
                || m.contains("reset the HTTP/2 stream (RST_STREAM) with NO_ERROR"),
            "{m}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_that_never_answers_fails_the_headless_run() {
    let server = HostileServer::start(Hostile::NeverAnswers).await;
    let dir = std::env::temp_dir().join(format!("swarm-faults-{}", fastrand::u64(..)));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("dead.toml");
    let json = dir.join("out.json");
    std::fs::write(
        &file,
        format!(
            "host = \"{}\"\n[load]\nusers = 2\nspawn_rate = 100\nstop_timeout = \"200ms\"\n[[endpoints]]\npath = \"/\"\n",
            server.url
        ),
    )
    .unwrap();
    let mut cmd = tokio::process::Command::new(env!("CARGO_BIN_EXE_swarm"));
    cmd.kill_on_drop(true).args([
        "run",
        file.to_str().unwrap(),
        "--headless",
        "-t",
        "500ms",
        // Even a run told to ignore failures does not pass when nothing was answered.
        "--exit-code-on-error",
        "0",
        "--json",
        json.to_str().unwrap(),
    ]);
    let out = tokio::time::timeout(Duration::from_secs(20), cmd.output())
        .await
        .expect("swarm finished")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stdout}\n{stderr}");
    assert!(stdout.contains("2 requests, 2 failed"), "{stdout}");
    assert!(
        stdout.contains("2 requests interrupted at the stop: the server answered none"),
        "{stdout}"
    );
    assert!(
        stderr.contains("answered none of the 2 requests"),
        "{stderr}"
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["aggregated"]["interrupted"], 2);
    assert_eq!(
        doc["aggregated"]["failure_groups"][0]["cause"],
        "interrupted"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cookie_bomb_keeps_the_jar_bounded() {
    let server = HostileServer::start(Hostile::CookieBomb).await;
    let src = r#"
host = "{host}"
[load]
users = 2
spawn_rate = 100
[[endpoints]]
path = "/x"
"#;
    let engine = Engine::spawn(&plan(src, &server.url));
    engine.send(Command::Start);
    wait_for(&engine, Duration::from_secs(20), |s| {
        s.total.requests >= 300
    })
    .await;
    engine.send(Command::Stop);
    let snap = until_stopped(&engine, Duration::from_secs(10)).await;
    assert_eq!(snap.total.failures, 0, "{:#?}", snap.failures);
    assert_eq!(server.seen.requests(), snap.total.requests);
    let longest = server.seen.max_cookie_len.load(Ordering::SeqCst);
    let most = server.seen.max_cookies.load(Ordering::SeqCst);
    assert!(longest > 0, "cookies are sent back");
    assert!(longest <= 8190, "Cookie header of {longest} bytes");
    // Two 4 KB cookies fill the header: the jar keeps more (up to 50) but sends what fits.
    assert!((1..=2).contains(&most), "{most} cookies in one header");
}

/// A server that records whether requests carried Authorization and Cookie headers, and
/// answers `/go` with a redirect to `location`, anything else with 200.
async fn header_recorder(
    location: Option<String>,
) -> (
    String,
    Arc<Mutex<Vec<(String, bool, bool)>>>,
    JoinHandle<()>,
) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let seen: Arc<Mutex<Vec<(String, bool, bool)>>> = Arc::default();
    let s = Arc::clone(&seen);
    let task = tokio::spawn(async move {
        while let Ok((mut stream, _)) = listener.accept().await {
            let s = Arc::clone(&s);
            let location = location.clone();
            tokio::spawn(async move {
                let mut buf = Vec::new();
                let counts = Seen::default();
                while let Some(head) = read_request(&mut stream, &mut buf, &counts).await {
                    let path = head.split_whitespace().nth(1).unwrap_or("").to_string();
                    let auth = head.contains("\r\nauthorization:");
                    let cookie = head.contains("\r\ncookie:");
                    s.lock().unwrap().push((path.clone(), auth, cookie));
                    let answer = match (&location, path.as_str()) {
                        (Some(to), "/go") => format!(
                            "HTTP/1.1 302 Found\r\nlocation: {to}\r\nset-cookie: sid=1\r\ncontent-length: 0\r\n\r\n"
                        ),
                        _ => OK_TEXT.to_string(),
                    };
                    if stream.write_all(answer.as_bytes()).await.is_err() {
                        return;
                    }
                }
            });
        }
    });
    (url, seen, task)
}

const OK_TEXT: &str = "HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nok";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_do_not_follow_a_redirect_to_another_origin() {
    let (other, other_seen, t1) = header_recorder(None).await;
    // Scheme-relative, as some servers write it: //127.0.0.1:PORT/landing.
    let to = format!("//{}/landing", other.trim_start_matches("http://"));
    let (first, first_seen, t2) = header_recorder(Some(to)).await;
    let src = r#"
host = "{host}"
[defaults]
redirects = "any"
headers = { Authorization = "Bearer secret" }
[load]
users = 1
spawn_rate = 100
[[endpoints]]
path = "/go"
expect = { status = [200] }
"#;
    let engine = Engine::spawn(&plan(src, &first));
    engine.send(Command::Start);
    wait_for(&engine, Duration::from_secs(10), |s| s.total.requests >= 5).await;
    engine.send(Command::Stop);
    let snap = until_stopped(&engine, Duration::from_secs(10)).await;
    t1.abort();
    t2.abort();
    assert_eq!(snap.total.failures, 0, "{:#?}", snap.failures);
    let first_seen = first_seen.lock().unwrap().clone();
    let other_seen = other_seen.lock().unwrap().clone();
    assert!(
        first_seen.iter().all(|(_, auth, _)| *auth),
        "the first origin gets the header"
    );
    assert!(
        !other_seen.is_empty(),
        "the scheme-relative redirect was followed"
    );
    for (path, auth, cookie) in &other_seen {
        assert_eq!(path, "/landing");
        assert!(!auth, "Authorization went to another origin");
        assert!(!cookie, "the first origin's cookie went to another origin");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_that_refuses_connections_is_not_hammered_and_says_so() {
    let url = crate::support::refused_url().await;
    let src = r#"
host = "{host}"
[load]
users = 5
spawn_rate = 100
run_time = "1500ms"
[[endpoints]]
path = "/"
"#;
    let snap = run_to_end(src, &url, Duration::from_secs(10)).await;
    // Without the backoff, 5 users make tens of thousands of attempts in 1.5 s; with it
    // (10 ms doubling to 1 s) each makes about 8.
    assert!(snap.total.requests >= 5, "{}", snap.total.requests);
    assert!(
        snap.total.requests <= 75,
        "{} attempts",
        snap.total.requests
    );
    assert_eq!(snap.total.failures, snap.total.requests);
    let why = snap.unreachable().expect("the snapshot names the cause");
    assert!(why.contains("refused"), "{why}");
    let line = swarm::headless::progress_line(&snap);
    assert!(line.contains("refused"), "{line}");
    // The report's summary says that nothing got through, and what to check.
    let report = swarm::report::text::render(&snap, "report", 80);
    assert!(
        report.contains("no request reached the server: is it running, at that address?"),
        "{report}"
    );
    // The advice wraps at 80 columns, whole (it was cut: "another hos…"), and says what
    // applies in one-URL mode too, where -H is refused.
    assert!(report.lines().all(|l| l.chars().count() <= 80), "{report}");
    assert!(!report.contains('…'), "{report}");
    assert!(report.contains("the URL names it)"), "{report}");
    // The Name column is as wide as the names, not the terminal.
    let wide = swarm::report::text::render(&snap, "report", 200);
    let row = wide.lines().find(|l| l.starts_with("GET  /")).unwrap();
    assert!(row.len() < 100, "{row}");
    let about = swarm::report::About {
        name: None,
        host: &url,
        started: std::time::SystemTime::now(),
        scenario: src,
        command: "",
    };
    let page = swarm::report::html::render(&about, &snap, &[], None);
    assert!(page.contains("No request reached the server"), "{page}");
}

/// A response whose body still streams at the stop is cut, and says what had arrived: the
/// status, and how many of its body bytes (counted in the report's bytes), not "no
/// response yet" and "0 B received".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_body_still_streaming_at_the_stop_says_what_arrived() {
    for kind in [Hostile::Trickles, Hostile::EndlessChunks] {
        let server = HostileServer::start(kind).await;
        let src = r#"
host = "{host}"
[load]
users = 2
spawn_rate = 100
run_time = "700ms"
stop_timeout = "300ms"
[[endpoints]]
path = "/"
timeout = "30s"
"#;
        let snap = run_to_end(src, &server.url, Duration::from_secs(10)).await;
        assert_eq!(snap.total.requests, 2, "{:#?}", snap.failures);
        assert_eq!(count_of(&snap, FailureKind::InterruptedMidResponse), 2);
        assert_eq!(snap.interrupted(), 0, "not 'no response yet'");
        assert!(!snap.all_interrupted());
        // Each got a byte every 100 ms for about a second.
        assert!(snap.total.bytes >= 10, "{} bytes", snap.total.bytes);
        let message = &snap.failures[0].message;
        let of = if matches!(kind, Hostile::Trickles) {
            " of 1000"
        } else {
            ""
        };
        assert!(message.contains("status 200 received, "), "{message}");
        assert!(
            message.contains(&format!("{of} body bytes read")),
            "{message}"
        );
        let report = swarm::report::text::render(&snap, "report", 80);
        assert!(!report.contains("0 B of response bodies"), "{report}");
    }
}

/// A server that answers 413 to a large POST as soon as its head arrives, and closes
/// without reading the body: the 413 is read and counted, as curl does, not a reset.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_early_answer_to_a_large_upload_is_read_not_reported_as_a_reset() {
    let server = HostileServer::start(Hostile::RejectsEarly).await;
    let body = "x".repeat(5 << 20);
    let src = format!(
        "host = \"{{host}}\"\n[load]\nusers = 2\nspawn_rate = 100\niterations = 20\n\
         [[endpoints]]\nmethod = \"POST\"\npath = \"/upload\"\nbody = \"{body}\"\n"
    );
    let snap = run_to_end(&src, &server.url, Duration::from_secs(60)).await;
    assert_eq!(snap.total.requests, 20, "{:#?}", snap.failures);
    assert_eq!(server.seen.requests(), 20);
    assert_eq!(
        count_of(&snap, FailureKind::Status(413)),
        20,
        "{:#?}",
        snap.failures
    );
    assert_eq!(snap.total.statuses, vec![(413, 20)]);
}

/// A machine out of file descriptors (the hard limit below the users' need): the users
/// that got no socket wait before each next try, as after a refused connect, instead of
/// failing a try a microsecond (a million "Too many open files" in a few seconds, the
/// runtime too busy to spawn the rest or print). The users that got one keep going, and
/// every response they count is one the server answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_without_a_file_descriptor_back_off_and_say_so() {
    let server = crate::support::CountingServer::start().await;
    let dir = crate::support::tempdir();
    let json = dir.join("r.json");
    let script = format!(
        "ulimit -n 48 && exec '{}' run '{}/' -u 120 -r 1000 -t 1500ms --headless --quiet --json '{}'",
        env!("CARGO_BIN_EXE_swarm"),
        server.url(),
        json.display()
    );
    let out = tokio::process::Command::new("bash")
        .args(["-c", &script])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("swarm finished")
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&json).unwrap_or_default()).unwrap_or_else(|e| {
            panic!("{e}: {}", crate::support::text(&out.stderr));
        });
    let local: u64 = report["failures"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["cause"] == "local")
        .map(|f| f["count"].as_u64().unwrap())
        .sum();
    let total = &report["aggregated"];
    let (requests, failures) = (
        total["requests"].as_u64().unwrap(),
        total["failures"].as_u64().unwrap(),
    );
    // Some users found no descriptor, and said so; each tried about 8 times in 1.5 s (10 ms
    // doubling to 1 s), not thousands.
    assert!(local >= 10, "{local} local failures: {report}");
    assert!(local <= 120 * 12, "{local} local failures in 1.5 s");
    assert_eq!(failures, local, "{report}");
    // The others ran, and every success is a request the server answered.
    assert!(requests - failures > 0, "{report}");
    assert_eq!(requests - failures, server.total());
}
