//! HTTPS (rustls) against a self-signed server, HTTP/2 (prior knowledge and ALPN), and
//! redirects. Servers are bound by the tests on 127.0.0.1:0.

use crate::support::{started, stop, wait_for};
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;
use swarm::stats::{FailureKind, Snapshot};
use tokio::net::TcpListener;

#[derive(Default)]
struct Counts {
    h1: AtomicU64,
    h2: AtomicU64,
    /// The hosts requests named: HTTP/2's :authority, HTTP/1.1's Host.
    hosts: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

/// Answers 200 "ok" and counts requests by HTTP version. Redirect routes:
/// `/hop/N` redirects to `/hop/N-1` (302) down to `/hop/0`, which answers;
/// `/away` redirects to `http://127.0.0.2:9/` (another host); `/loop` to itself.
async fn handle(
    req: Request<Incoming>,
    counts: Arc<Counts>,
) -> Result<Response<Full<Bytes>>, std::convert::Infallible> {
    let host = match req.version() {
        http::Version::HTTP_2 => {
            counts.h2.fetch_add(1, Ordering::Relaxed);
            req.uri().authority().map(ToString::to_string)
        }
        _ => {
            counts.h1.fetch_add(1, Ordering::Relaxed);
            req.headers()
                .get("host")
                .map(|h| String::from_utf8_lossy(h.as_bytes()).into_owned())
        }
    };
    counts.hosts.lock().unwrap().extend(host);
    let path = req.uri().path().to_string();
    let redirect = |to: String| {
        let mut r = Response::new(Full::new(Bytes::new()));
        *r.status_mut() = StatusCode::FOUND;
        r.headers_mut().insert("location", to.parse().unwrap());
        Ok(r)
    };
    if let Some(n) = path.strip_prefix("/hop/") {
        let n: u32 = n.parse().unwrap_or(0);
        if n > 0 {
            return redirect(format!("/hop/{}", n - 1));
        }
    } else if path == "/away" {
        return redirect("http://127.0.0.2:9/".into());
    } else if path == "/loop" {
        return redirect("/loop".into());
    }
    Ok(Response::new(Full::new(Bytes::from_static(b"ok"))))
}

enum Kind {
    Plain,
    H2c,
    Tls { alpn_h2: bool },
}

async fn server(kind: Kind) -> (String, Arc<Counts>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = listener.local_addr().unwrap().port();
    let counts: Arc<Counts> = Arc::default();
    let c = Arc::clone(&counts);
    let tls = match &kind {
        Kind::Tls { alpn_h2 } => {
            let config = crate::support::self_signed_tls(if *alpn_h2 {
                vec![b"h2".to_vec(), b"http/1.1".to_vec()]
            } else {
                vec![b"http/1.1".to_vec()]
            });
            Some(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
        }
        _ => None,
    };
    let h2c = matches!(kind, Kind::H2c);
    tokio::spawn(async move {
        loop {
            let Ok((tcp, _)) = listener.accept().await else {
                continue;
            };
            let c = Arc::clone(&c);
            let tls = tls.clone();
            tokio::spawn(async move {
                let service = hyper::service::service_fn(move |req| handle(req, Arc::clone(&c)));
                let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
                match tls {
                    Some(acceptor) => {
                        let Ok(stream) = acceptor.accept(tcp).await else {
                            return;
                        };
                        let _ = builder
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    }
                    None if h2c => {
                        let _ = builder
                            .http2_only()
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    }
                    None => {
                        let _ = builder
                            .http1_only()
                            .serve_connection(TokioIo::new(tcp), service)
                            .await;
                    }
                }
            });
        }
    });
    let scheme = if matches!(kind, Kind::Tls { .. }) {
        "https://localhost"
    } else {
        "http://127.0.0.1"
    };
    (format!("{scheme}:{port}"), counts)
}

async fn run(src: &str, url: &str, requests: u64) -> std::sync::Arc<Snapshot> {
    let engine = started(src, url);
    wait_for(&engine, Duration::from_secs(15), |s| {
        s.total.requests >= requests
    })
    .await;
    stop(&engine).await
}

const ONE: &str =
    "host = \"{host}\"\n[load]\nusers = 2\nspawn_rate = 100\n[[endpoints]]\npath = \"/\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn https_against_a_self_signed_server() {
    let (url, counts) = server(Kind::Tls { alpn_h2: false }).await;
    let insecure = ONE.replace("[load]", "[defaults]\ninsecure = true\n[load]");
    let snap = run(&insecure, &url, 200).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    assert_eq!(counts.h1.load(Ordering::Relaxed), snap.total.requests);
    // Without insecure the certificate is refused, and the report says what to do.
    let snap = run(ONE, &url, 5).await;
    assert_eq!(snap.total.failures, snap.total.requests);
    let f = &snap.failures[0];
    assert_eq!(f.kind, FailureKind::Tls);
    assert!(
        f.message.contains("certificate") && f.message.contains("insecure = true"),
        "{}",
        f.message
    );
    // A sentence, not rustls' enum names.
    assert!(!f.message.contains("InvalidCertificate("), "{}", f.message);
    assert!(!f.message.contains("OtherError"), "{}", f.message);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_by_prior_knowledge_and_by_alpn() {
    let h2 = ONE.replace(
        "[load]",
        "[defaults]\nhttp2 = true\ninsecure = true\n[load]",
    );
    let (url, counts) = server(Kind::H2c).await;
    let snap = run(&h2, &url, 200).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    assert_eq!(counts.h2.load(Ordering::Relaxed), snap.total.requests);
    assert_eq!(counts.h1.load(Ordering::Relaxed), 0);

    let (url, counts) = server(Kind::Tls { alpn_h2: true }).await;
    let snap = run(&h2, &url, 200).await;
    assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
    assert_eq!(counts.h2.load(Ordering::Relaxed), snap.total.requests);
    // Without http2, the same server is spoken to in HTTP/1.1.
    let h1 = ONE.replace("[load]", "[defaults]\ninsecure = true\n[load]");
    let before = counts.h1.load(Ordering::Relaxed);
    let snap = run(&h1, &url, 50).await;
    assert_eq!(
        counts.h1.load(Ordering::Relaxed) - before,
        snap.total.requests
    );

    // oha's --http2 on the command line: every request of a URL run in HTTP/2.
    let (url, counts) = server(Kind::H2c).await;
    let out = crate::support::run(&["run", &url, "--http2", "-n", "30", "-c", "3"]).await;
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        crate::support::text(&out.stderr)
    );
    assert_eq!(counts.h2.load(Ordering::Relaxed), 30);
    assert_eq!(counts.h1.load(Ordering::Relaxed), 0);
}

/// A Host header in the scenario names a virtual host behind the address swarm connects
/// to, as curl -H Host does: in HTTP/1.1 it is the Host sent, in HTTP/2 the :authority.
/// It had been replaced by the address when it came from [defaults].
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_host_header_names_the_virtual_host_in_http1_and_http2() {
    let src = "host = \"{host}\"\n[load]\nusers = 1\nspawn_rate = 100\n[defaults]\n\
               headers = { host = \"api.example.com\" }\nHTTP2\n[[endpoints]]\npath = \"/hop/1\"\n\
               [[endpoints]]\npath = \"/\"\nheaders = { Host = \"b.example.com:8080\" }\n";
    for (kind, http2) in [(Kind::Plain, ""), (Kind::H2c, "http2 = true")] {
        let (url, counts) = server(kind).await;
        let snap = run(&src.replace("HTTP2", http2), &url, 50).await;
        assert_eq!(snap.total.failures, 0, "{:?}", snap.failures);
        let hosts = counts.hosts.lock().unwrap().clone();
        assert_eq!(
            hosts.into_iter().collect::<Vec<_>>(),
            ["api.example.com", "b.example.com:8080"],
            "{http2}"
        );
    }
    // One that is no host is refused where it is written.
    let bad = src
        .replace("HTTP2", "")
        .replace("api.example.com", "api example");
    let err = swarm::scenario::Plan::parse(&bad.replace("{host}", "http://127.0.0.1:9"), "s.toml")
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("defaults.headers.host") && err.contains("is not a host"),
        "{err}"
    );
    // Two spellings of one header in one table: one value would have been dropped unseen.
    let twice = src
        .replace("HTTP2", "")
        .replace("{ Host = ", "{ \"X-Id\" = \"1\", \"x-id\" = \"2\", Host = ");
    let err =
        swarm::scenario::Plan::parse(&twice.replace("{host}", "http://127.0.0.1:9"), "s.toml")
            .unwrap_err()
            .to_string();
    assert!(
        err.contains("\"X-Id\" and \"x-id\" name the same header"),
        "{err}"
    );
}

/// HTTP/2 with prior knowledge to servers that speak only HTTP/1.1: every request fails,
/// and the report says why and what to do, not hyper's "broken pipe" or "FRAME_SIZE_ERROR".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http2_to_a_server_without_it_says_so() {
    let h2 = ONE.replace("[load]", "[defaults]\nhttp2 = true\n[load]");
    // hyper's HTTP/1 server closes on the preface without a word (a reset, when the rest
    // of the client's first flight was still unread).
    let (url, counts) = server(Kind::Plain).await;
    let snap = run(&h2, &url, 5).await;
    assert_eq!(snap.total.failures, snap.total.requests);
    assert_eq!(counts.h1.load(Ordering::Relaxed), 0);
    // (A request still waiting at the stop is cut, and says so.)
    let answered = snap
        .failures
        .iter()
        .filter(|f| f.kind != FailureKind::Interrupted);
    for f in answered {
        assert!(
            matches!(f.kind, FailureKind::Closed | FailureKind::Reset),
            "{:?} {}",
            f.kind,
            f.message
        );
        assert!(
            f.message.contains("the connection before a byte of HTTP/2")
                && f.message.contains("does it speak HTTP/2 over plain TCP"),
            "{}",
            f.message
        );
    }
    // nginx answers it "400 Bad Request" in HTTP/1.1, and closes.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let nginx = tokio::spawn(async move {
        while let Ok((mut tcp, _)) = listener.accept().await {
            tokio::spawn(async move {
                use tokio::io::{AsyncReadExt, AsyncWriteExt};
                // As nginx: it reads the request line, answers, and closes after the
                // client (a close with unread bytes would be a reset instead).
                let mut preface = [0u8; 24];
                let _ = tcp.read_exact(&mut preface).await;
                let answer =
                    "HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n";
                let _ = tcp.write_all(answer.as_bytes()).await;
                let _ = tcp.shutdown().await;
                let _ = tcp.read_to_end(&mut Vec::new()).await;
            });
        }
    });
    let snap = run(&h2, &url, 5).await;
    nginx.abort();
    assert_eq!(snap.total.failures, snap.total.requests);
    let f = &snap.failures[0];
    assert_eq!(f.kind, FailureKind::Malformed, "{}", f.message);
    assert!(
        f.message
            .contains("answered the HTTP/2 preface with \"HTTP/1.1 400 Bad Request\\r\\n"),
        "{}",
        f.message
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redirects_are_followed_on_the_same_host_only() {
    let (url, counts) = server(Kind::Plain).await;
    let src = "host = \"{host}\"\n[load]\nusers = 1\nspawn_rate = 100\n\
        [[endpoints]]\nname = \"chain\"\npath = \"/hop/3\"\nexpect = { status = [200] }\n\
        [[endpoints]]\nname = \"away\"\npath = \"/away\"\n\
        [[endpoints]]\nname = \"loop\"\npath = \"/loop\"\n\
        [[endpoints]]\nname = \"unfollowed\"\npath = \"/hop/1\"\nredirects = \"none\"\nexpect = { status = [302] }\n";
    let snap = run(src, &url, 200).await;
    let row = |name: &str| snap.rows.iter().find(|r| r.name == name).unwrap().clone();
    let chain = row("chain");
    assert_eq!(chain.failures, 0);
    assert_eq!(
        chain.statuses,
        vec![(200, chain.requests)],
        "three hops, then 200"
    );
    let away = row("away");
    assert_eq!(
        away.statuses,
        vec![(302, away.requests)],
        "another host is not followed"
    );
    assert_eq!(away.failures, 0);
    let looped = row("loop");
    assert_eq!(looped.failures, looped.requests);
    let f = snap.failures.iter().find(|f| f.name == "loop").unwrap();
    assert_eq!(f.kind, FailureKind::Redirects);
    assert!(
        f.message.contains("more than 10 redirects"),
        "{}",
        f.message
    );
    let unfollowed = row("unfollowed");
    assert_eq!(unfollowed.failures, 0);
    // Each "chain" request is 4 exchanges, each "loop" 11, the others 1.
    let expected = chain.requests * 4 + away.requests + looped.requests * 11 + unfollowed.requests;
    assert_eq!(counts.h1.load(Ordering::Relaxed), expected);
}
