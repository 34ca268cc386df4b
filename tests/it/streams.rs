//! Streamed responses (`stream = "sse"`): events, tokens and streams counted as the server
//! sent them, over HTTP/1.1 and HTTP/2; a stream cut before its done event, one that goes
//! idle, one past its `stream_max`; the token text carried on to the next step. The
//! server is bound by the test on 127.0.0.1:0 and counts what it sent.

use crate::support::{started, until_stopped};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, StreamBody};
use hyper::body::{Frame, Incoming};
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::convert::Infallible;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;
use swarm::stats::{FailureKind, Snapshot, StreamStats};
use tokio::net::TcpListener;

/// What the server sent, counted by the server.
#[derive(Default)]
pub(crate) struct Sent {
    /// Streams whose head went out.
    streams: AtomicU64,
    /// Events (the done marker not included), and the tokens among them.
    events: AtomicU64,
    tokens: AtomicU64,
    /// Request bodies sent to `/echo`.
    echoed: Mutex<Vec<String>>,
}

type Body = http_body_util::combinators::UnsyncBoxBody<Bytes, Infallible>;

fn param(query: &str, name: &str, default: u64) -> u64 {
    query
        .split('&')
        .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// `/chat?n=N&gap_ms=G&end=done|cut|stall|linger`: an event with no token (the role), then
/// `n` token events `G` ms apart, then `data: [DONE]` (`done`), the body's end (`cut`),
/// nothing more, the body held open (`stall`), or `[DONE]` and then a comment every `G`
/// ms, the body never ending (`linger`). `/echo` keeps its request body.
async fn handle(req: Request<Incoming>, sent: Arc<Sent>) -> Result<Response<Body>, Infallible> {
    let query = req.uri().query().unwrap_or("").to_string();
    if req.uri().path() == "/echo" {
        let body = req.into_body().collect().await.unwrap().to_bytes();
        sent.echoed
            .lock()
            .unwrap()
            .push(String::from_utf8_lossy(&body).into_owned());
        return Ok(Response::new(
            http_body_util::Full::new(Bytes::from("ok")).boxed_unsync(),
        ));
    }
    // A gateway that compresses what the client accepts (the body itself is not
    // compressed here: the client is to refuse it at the head).
    let gzip = req
        .headers()
        .get("accept-encoding")
        .is_some_and(|v| v.to_str().unwrap_or("").contains("gzip"));
    let n = param(&query, "n", 5);
    let gap = Duration::from_millis(param(&query, "gap_ms", 10));
    let end = query
        .split('&')
        .find_map(|kv| kv.strip_prefix("end="))
        .unwrap_or("done")
        .to_string();
    sent.streams.fetch_add(1, Ordering::Relaxed);
    let stream = futures_util::stream::unfold(0u64, move |i| {
        let (sent, end) = (Arc::clone(&sent), end.clone());
        async move {
            tokio::time::sleep(gap).await;
            let text = match i {
                0 => "data: {\"choices\":[{\"delta\":{\"role\":\"assistant\"}}]}\n\n".to_string(),
                i if i <= n => {
                    sent.tokens.fetch_add(1, Ordering::Relaxed);
                    format!("data: {{\"choices\":[{{\"delta\":{{\"content\":\"t{i} \"}}}}]}}\n\n")
                }
                _ if (end == "done" || end == "linger") && i == n + 1 => {
                    "data: [DONE]\n\n".to_string()
                }
                _ if end == "linger" => {
                    // After its done event, the body stays open with a comment now and
                    // then (a keep-alive), and never ends.
                    ": still here\n\n".to_string()
                }
                _ if end == "stall" => {
                    std::future::pending::<()>().await;
                    unreachable!()
                }
                _ => return None,
            };
            if !text.contains("[DONE]") && !text.starts_with(':') {
                sent.events.fetch_add(1, Ordering::Relaxed);
            }
            Some((Ok::<_, Infallible>(Frame::data(Bytes::from(text))), i + 1))
        }
    });
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    r.headers_mut()
        .insert("content-type", "text/event-stream".parse().unwrap());
    if gzip {
        r.headers_mut()
            .insert("content-encoding", "gzip".parse().unwrap());
    }
    Ok(r)
}

/// The server (HTTP/1.1 and HTTP/2 by prior knowledge, as the client speaks) and its counts.
pub(crate) async fn server() -> (String, Arc<Sent>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let sent: Arc<Sent> = Arc::default();
    let s = Arc::clone(&sent);
    crate::support::accept_each(listener, move |tcp| {
        let s = Arc::clone(&s);
        async move {
            let service = hyper::service::service_fn(move |req| handle(req, Arc::clone(&s)));
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection(TokioIo::new(tcp), service)
                .await;
        }
    });
    (url, sent)
}

const CHAT: &str = r#"
host = "{host}"
[load]
users = 4
spawn_rate = 100
iterations = 12
[defaults]
http2 = HTTP2
[[endpoints]]
name = "chat"
method = "POST"
path = "/chat?n=8&gap_ms=15"
json = { stream = true }
stream = "sse"
stream_tokens = "/choices/0/delta/content"
stream_done = "[DONE]"
"#;

fn stream_of<'a>(snap: &'a Snapshot, name: &str) -> &'a StreamStats {
    let row = snap.rows.iter().find(|r| r.name == name).expect("the row");
    row.stream.as_ref().expect("a streamed row")
}

async fn counts_match(http2: bool) {
    let (url, sent) = server().await;
    let src = CHAT.replace("HTTP2", if http2 { "true" } else { "false" });
    let engine = started(&src, &url);
    let snap = until_stopped(&engine, Duration::from_secs(30)).await;
    let s = stream_of(&snap, "chat");
    assert_eq!(snap.total.requests, 12);
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    assert_eq!(s.streams, sent.streams.load(Ordering::Relaxed));
    assert_eq!(s.streams, 12);
    assert_eq!(s.events, sent.events.load(Ordering::Relaxed));
    assert_eq!(s.tokens, Some(sent.tokens.load(Ordering::Relaxed)));
    assert_eq!(s.tokens, Some(12 * 8));
    assert_eq!(s.incomplete, 0);
    // TTFT is to the first token: the role event (15 ms) carries none, so two gaps.
    let ttft = StreamStats::at(&s.ttft_ms, 0.5).unwrap();
    assert!((28.0..1000.0).contains(&ttft), "TTFT p50 {ttft} ms");
    // Seven gaps a stream between its eight tokens.
    assert_eq!(s.itl_count, 12 * 7);
    let itl = StreamStats::at(&s.itl_ms, 0.5).unwrap();
    assert!((13.0..500.0).contains(&itl), "ITL p50 {itl} ms");
    let tpot = StreamStats::at(s.tpot_ms.as_ref().unwrap(), 0.5).unwrap();
    assert!(tpot >= 13.0, "TPOT p50 {tpot} ms");
    // The stream's end to end time is the row's response time: 10 events, 15 ms apart.
    assert!(snap.total.percentiles_ms[0] >= 150.0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_counts_are_the_servers_over_http1() {
    counts_match(false).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_counts_are_the_servers_over_http2() {
    counts_match(true).await;
}

/// One endpoint, run for `iterations`; its final snapshot.
async fn one(path: &str, extra: &str, iterations: u32) -> (Arc<Snapshot>, Arc<Sent>) {
    let (url, sent) = server().await;
    let src = format!(
        "host = \"{url}\"\n[load]\nusers = 2\nspawn_rate = 100\niterations = {iterations}\n\
         [[endpoints]]\nname = \"s\"\npath = \"{path}\"\nstream = \"sse\"\n\
         stream_tokens = \"/choices/0/delta/content\"\nstream_done = \"[DONE]\"\n{extra}"
    );
    let engine = started(&src, &url);
    (until_stopped(&engine, Duration::from_secs(30)).await, sent)
}

/// A stream that comes compressed (a gateway honouring the Accept-Encoding a scenario
/// copied from a browser) cannot be read event by event: each fails at once and says why,
/// instead of reading compressed bytes as events (none) until the timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_compressed_stream_fails_and_says_why() {
    for http2 in ["false", "true"] {
        let extra = format!(
            "headers = {{ Accept-Encoding = \"gzip, br\" }}\ntimeout = \"10s\"\n[defaults]\nhttp2 = {http2}\n"
        );
        let (snap, _) = one("/chat?n=3&gap_ms=5", &extra, 3).await;
        assert_eq!((snap.total.requests, snap.total.failures), (3, 3));
        let f = &snap.failures[0];
        assert_eq!(f.kind, FailureKind::Malformed);
        assert!(
            f.message.contains("the stream came gzip-encoded")
                && f.message.contains("leave Accept-Encoding out"),
            "{}",
            f.message
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_cut_before_its_done_event_is_stream_incomplete_with_its_events_kept() {
    let (snap, sent) = one("/chat?n=3&gap_ms=5&end=cut", "", 4).await;
    assert_eq!(snap.total.failures, 4);
    let f = &snap.failures[0];
    assert_eq!(f.kind, FailureKind::StreamIncomplete);
    assert_eq!(f.kind.code(), "stream_incomplete");
    assert!(
        f.message.contains("4 events, 3 tokens") && f.message.contains("[DONE]"),
        "{}",
        f.message
    );
    let s = stream_of(&snap, "s");
    assert_eq!((s.streams, s.incomplete), (4, 4));
    assert_eq!(s.events, sent.events.load(Ordering::Relaxed));
    assert_eq!(s.tokens, Some(12));
    assert_eq!(s.tpot_ms, None, "no TPOT for a cut stream");
}

/// A stream ends at its `stream_done` event, as OpenAI's client ends it: a server that
/// keeps the body open after it (a keep-alive comment now and then) fails nothing, and
/// the row's time is the time to that event.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stream_ends_at_its_done_event_even_when_the_body_goes_on() {
    let (snap, sent) = one("/chat?n=2&gap_ms=20&end=linger", "timeout = \"300ms\"\n", 3).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    let s = stream_of(&snap, "s");
    assert_eq!((s.streams, s.incomplete), (3, 0));
    assert_eq!(s.events, sent.events.load(Ordering::Relaxed));
    assert_eq!(s.tokens, Some(6));
    // The role, two tokens and [DONE], 20 ms apart: 80 ms, not the 300 ms timeout.
    let p100 = snap.total.percentiles_ms[10];
    assert!(
        (75.0..250.0).contains(&p100),
        "the slowest stream took {p100} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_idle_stream_times_out_and_keeps_its_events() {
    let (snap, sent) = one("/chat?n=2&gap_ms=5&end=stall", "timeout = \"300ms\"\n", 2).await;
    assert_eq!(snap.total.failures, 2);
    let f = &snap.failures[0];
    assert_eq!(f.kind, FailureKind::Timeout);
    assert!(
        f.message.contains("300ms without an event") && f.message.contains("3 events, 2 tokens"),
        "{}",
        f.message
    );
    let s = stream_of(&snap, "s");
    assert_eq!((s.streams, s.incomplete), (2, 2));
    assert_eq!(s.events, sent.events.load(Ordering::Relaxed));
    assert_eq!(s.events, 6);
    assert!(s.ttft_count == 2 && s.itl_count == 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_max_bounds_the_whole_stream_while_timeout_bounds_each_wait() {
    let (snap, _) = one(
        "/chat?n=1000&gap_ms=10",
        "timeout = \"1s\"\nstream_max = \"250ms\"\n",
        1,
    )
    .await;
    let f = &snap.failures[0];
    assert_eq!(f.kind, FailureKind::Timeout);
    assert!(f.message.contains("stream_max of 250ms"), "{}", f.message);
    let s = stream_of(&snap, "s");
    assert!(s.events >= 3 && s.events < 60, "{} events", s.events);
    assert!(snap.total.max_ms < 900.0, "{} ms", snap.total.max_ms);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_text_goes_on_to_the_next_step() {
    let (url, sent) = server().await;
    let src = r#"
host = "{host}"
[load]
users = 1
spawn_rate = 10
iterations = 2
[[flows]]
name = "chat then send"
[[flows.steps]]
name = "chat"
path = "/chat?n=3&gap_ms=5"
stream = "sse"
stream_tokens = "/choices/0/delta/content"
stream_done = "[DONE]"
extract = { reply = "tokens", last = "/choices/0/delta/content" }
[[flows.steps]]
name = "echo"
method = "POST"
path = "/echo"
body = "{{reply}}|{{last}}"
"#;
    let engine = started(src, &url);
    let snap = until_stopped(&engine, Duration::from_secs(30)).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    let echoed = sent.echoed.lock().unwrap().clone();
    assert_eq!(echoed, vec!["t1 t2 t3 |t3 ".to_string(); 2]);
}

/// The demo's OpenAI-compatible endpoint under `scenarios/llm_stream.toml`, headless: the
/// JSON row's `stream` has the documented keys, its counts are the demo's fixed answer
/// (32 tokens and a closing chunk a chat, 10 events a feed), `PREFIX_streams.csv` and the
/// saved run's TTFT and ITL lines are written, and `swarm compare --fail-if` judges TTFT.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_llm_scenario_against_the_demo_reports_its_streams() {
    use crate::support::{run, tempdir, text};
    let (_demo, host) = demo().await;
    let dir = tempdir();
    let (csv, saved) = (dir.join("r"), dir.join("run.log"));
    let out = run(&[
        "run",
        "scenarios/llm_stream.toml",
        "--headless",
        "-H",
        &host,
        "-t",
        "2s",
        "--json",
        "-",
        "--csv",
        csv.to_str().unwrap(),
        "--save-run",
        saved.to_str().unwrap(),
    ])
    .await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let row = |name: &str| {
        let rows = doc["endpoints"].as_array().unwrap();
        rows.iter().find(|r| r["name"] == name).unwrap()["stream"].clone()
    };
    let chat = row("chat (streamed)");
    let keys =
        |v: &serde_json::Value| -> Vec<String> { v.as_object().unwrap().keys().cloned().collect() };
    assert_eq!(
        keys(&chat),
        [
            "streams",
            "events",
            "tokens",
            "incomplete",
            "ttft_ms",
            "itl_ms",
            "tpot_ms",
            "events_per_s",
            "tokens_per_s"
        ]
    );
    assert_eq!(
        keys(&chat["ttft_ms"]),
        [
            "50", "66", "75", "80", "90", "95", "98", "99", "99.9", "99.99", "100"
        ]
    );
    let streams = chat["streams"].as_u64().unwrap();
    assert!(streams > 0);
    assert_eq!(chat["tokens"].as_u64(), Some(streams * 32));
    assert_eq!(chat["events"].as_u64(), Some(streams * 33));
    assert_eq!(chat["incomplete"], 0);
    // The demo's schedule: the first token at 150 ms, then one every 15 ms.
    let ttft = chat["ttft_ms"]["50"].as_f64().unwrap();
    assert!((150.0..400.0).contains(&ttft), "TTFT p50 {ttft}");
    let tpot = chat["tpot_ms"]["50"].as_f64().unwrap();
    assert!((14.0..60.0).contains(&tpot), "TPOT p50 {tpot}");
    let feed = row("events");
    assert_eq!(
        feed["events"].as_u64(),
        Some(feed["streams"].as_u64().unwrap() * 10)
    );
    assert!(feed["tokens"].is_null() && feed["tpot_ms"].is_null());
    let streams_csv = std::fs::read_to_string(dir.join("r_streams.csv")).unwrap();
    assert!(streams_csv.starts_with("Type,Name,Streams,Incomplete,Events,Tokens"));
    assert!(streams_csv.contains("POST,chat (streamed),") && streams_csv.contains(",Aggregated,"));
    let log = std::fs::read_to_string(&saved).unwrap();
    assert!(
        log.contains("Tag=ttft:POST%20chat%20(streamed)") && log.contains("Tag=itl:GET%20events")
    );
    let s = saved.to_str().unwrap();
    let same = run(&[
        "compare",
        s,
        s,
        "--fail-if",
        "ttft_p95 +10%",
        "--fail-if",
        "itl_p99 +10%",
    ])
    .await;
    assert!(same.status.success(), "{}", text(&same.stdout));
    assert!(text(&same.stdout).contains("TTFT p95 ms"));
    let _ = std::fs::remove_dir_all(dir);
}

/// `swarm demo --serve` on a free loopback port, killed when dropped; its URL.
pub(crate) async fn demo() -> (tokio::process::Child, String) {
    let addr = crate::support::free_loopback_addr();
    let port = addr.rsplit(':').next().unwrap().to_string();
    let child = crate::support::swarm()
        .args(["demo", "--serve", "--port", &port])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    for _ in 0..100 {
        if tokio::net::TcpStream::connect(&addr).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (child, format!("http://{addr}"))
}

/// `find-capacity --slo` on TTFT finds the knee of the demo's overloaded model: beyond
/// 20 chats at once its first token comes later (300 ms at 60 against 100 ms at 10; the
/// SLO's 200 ms leaves room for a loaded machine's lateness on both sides).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_capacity_finds_the_knee_of_an_llm_server_by_its_ttft() {
    use crate::support::{run, tempdir, text};
    let (_demo, host) = demo().await;
    let dir = tempdir();
    let file = dir.join("llm.toml");
    std::fs::write(
        &file,
        format!(
            "host = \"{host}\"\n[load]\nusers = 1\nspawn_rate = 100\n[[endpoints]]\nname = \"chat\"\n\
             method = \"POST\"\npath = \"/v1/chat/completions?tokens=8&first_ms=100&gap_ms=10&capacity=20\"\n\
             json = {{ model = \"demo\", stream = true }}\nstream = \"sse\"\n\
             stream_tokens = \"/choices/0/delta/content\"\nstream_done = \"[DONE]\"\n"
        ),
    )
    .unwrap();
    let json = dir.join("cap.json");
    let out = run(&[
        "find-capacity",
        file.to_str().unwrap(),
        "--slo",
        "ttft_p95<200ms,fail<1%",
        "--start",
        "10",
        "--step",
        "50",
        "--hold",
        "1s",
        "--settle",
        "500ms",
        "--max-users",
        "60",
        "--json",
        json.to_str().unwrap(),
    ])
    .await;
    assert!(
        out.status.success(),
        "{}{}",
        text(&out.stdout),
        text(&out.stderr)
    );
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        (doc["max_users"].as_u64(), doc["broken_at_users"].as_u64()),
        (Some(10), Some(60)),
        "{}",
        text(&out.stdout)
    );
    assert!(
        text(&out.stdout).contains("broken: ttft_p95<200ms ("),
        "{}",
        text(&out.stdout)
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// Over two worker processes the controller merges the workers' streams: every count is
/// the demo's fixed answer times the streams, and every iteration is there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_distributed_run_merges_its_workers_streams_exactly() {
    let doc = distributed("scenarios/llm_stream.toml", "30").await;
    assert_eq!(doc["workers"].as_array().map(Vec::len), Some(2));
    let mut streams = 0;
    for row in doc["endpoints"].as_array().unwrap() {
        let s = &row["stream"];
        let n = s["streams"].as_u64().unwrap();
        assert_eq!(Some(n), row["requests"].as_u64());
        let per = if row["name"] == "events" { 10 } else { 33 };
        assert_eq!(s["events"].as_u64(), Some(n * per), "{row}");
        streams += n;
    }
    assert_eq!(streams, 30);
    let total = &doc["aggregated"]["stream"];
    assert_eq!(total["streams"].as_u64(), Some(30));
    assert_eq!(total["incomplete"].as_u64(), Some(0));
}

/// `scenario` against the demo over two worker processes for `iterations`: the JSON.
pub(crate) async fn distributed(scenario: &str, iterations: &str) -> serde_json::Value {
    use crate::support::{run, text};
    let (_demo, host) = demo().await;
    let args = [
        "run",
        scenario,
        "-H",
        &host,
        "--headless",
        "--processes",
        "2",
        "-i",
        iterations,
    ];
    let out = run(&[&args[..], &["--json", "-"]].concat()).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// In the open model a stream's TTFT is also given from the iteration's intended start:
/// with one user for arrivals every 10 ms and streams of 60 ms, iterations queue, and the
/// corrected TTFT grows past the raw one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_open_model_gives_ttft_from_the_intended_start() {
    let (url, _sent) = server().await;
    let src = "host = \"{host}\"\n[load]\narrival_rate = \"100/s\"\nmax_users = 1\niterations = 12\n\
               [[endpoints]]\nname = \"s\"\npath = \"/chat?n=3&gap_ms=15\"\nstream = \"sse\"\n\
               stream_tokens = \"/choices/0/delta/content\"\nstream_done = \"[DONE]\"\n";
    let engine = started(src, &url);
    let snap = until_stopped(&engine, Duration::from_secs(30)).await;
    let s = stream_of(&snap, "s");
    assert!(s.streams >= 2, "{} streams", s.streams);
    let corrected = s
        .ttft_corrected_ms
        .expect("the open model's TTFT from the intended start");
    let (raw, late) = (
        StreamStats::at(&s.ttft_ms, 1.0).unwrap(),
        StreamStats::at(&corrected, 1.0).unwrap(),
    );
    assert!(
        late > raw + 20.0,
        "corrected max {late} ms, raw max {raw} ms"
    );
}
