//! `swarm find-capacity` against a server of known capacity: it serves K requests at once,
//! each in D ms, and queues the rest (or turns them away with 503), so the knee is at K
//! users.

use http::Response;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tokio::process::Command;
use tokio::sync::Semaphore;

/// Serves `k` requests at a time, each taking `d`; for the first `warmup` after start
/// every request takes `slow` more (a cold cache). With `reject`, a request beyond `k` in
/// flight is answered 503 at once instead of waiting its turn: the knee is then exact,
/// whatever the machine's timing, since up to `k` users never meet a 503.
async fn limited_server(
    k: usize,
    d: Duration,
    (warmup, slow): (Duration, Duration),
    reject: bool,
) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let slots = Arc::new(Semaphore::new(k));
    let started = tokio::time::Instant::now();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                continue;
            };
            let slots = Arc::clone(&slots);
            tokio::spawn(async move {
                let service = service_fn(move |_req| {
                    let slots = Arc::clone(&slots);
                    async move {
                        let _slot = match slots.try_acquire() {
                            Ok(slot) => slot,
                            Err(_) if reject => {
                                let mut busy =
                                    Response::new(Full::new(bytes::Bytes::from_static(b"busy")));
                                *busy.status_mut() = http::StatusCode::SERVICE_UNAVAILABLE;
                                return Ok::<_, std::convert::Infallible>(busy);
                            }
                            Err(_) => slots.acquire().await.unwrap(),
                        };
                        let extra = if started.elapsed() < warmup {
                            slow
                        } else {
                            Duration::ZERO
                        };
                        tokio::time::sleep(d + extra).await;
                        Ok::<_, std::convert::Infallible>(Response::new(Full::new(
                            bytes::Bytes::from_static(b"ok"),
                        )))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    url
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn finds_the_knee_of_a_server_that_serves_k_at_once_despite_a_warm_up_spike() {
    let _quiet = crate::one_at_a_time().await;
    // K = 8 requests of 60 ms at once, and a 503 for a ninth: up to 8 users nothing fails
    // and every request takes 60 ms (40 ms below the p95 limit, for a busy machine's
    // scheduling); at 10 users requests fail, so "fail<1%" breaks just above K.
    // The first 1.2 s are slow (+150 ms): the first step's first measurement breaks the
    // SLO, and the search must not stop there.
    let url = limited_server(
        8,
        Duration::from_millis(60),
        (Duration::from_millis(1200), Duration::from_millis(150)),
        true,
    )
    .await;
    let dir = std::env::temp_dir().join(format!("swarm-cap-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let json = dir.join("capacity.json");
    let html = dir.join("capacity.html");
    let run = Command::new(env!("CARGO_BIN_EXE_swarm"))
        .args([
            "find-capacity",
            &format!("{url}/"),
            "--slo",
            "p95<100ms,fail<1%",
            "--start",
            "2",
            "--step",
            "2",
            "--hold",
            "1s",
            "--settle",
            "300ms",
            "--max-users",
            "20",
            "-r",
            "100",
            "--json",
            json.to_str().unwrap(),
            "--html",
            html.to_str().unwrap(),
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(60), run)
        .await
        .expect("the search ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{stderr}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let max_users = doc["max_users"].as_u64().unwrap();
    assert_eq!(max_users, 8, "the knee is at 8 users\n{stdout}");
    // At the knee, 8 slots of 60 ms give about 133 req/s.
    let max_rps = doc["max_rps"].as_f64().unwrap();
    assert!((90.0..=140.0).contains(&max_rps), "{max_rps}\n{stdout}");
    let broken = doc["broken_at_users"].as_u64().unwrap();
    assert_eq!(broken, max_users + 2, "{stdout}");
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.first().unwrap()["users"], 2);
    assert_eq!(steps.first().unwrap()["remeasured"], true, "{stdout}");
    assert!(
        doc["notes"][0].as_str().unwrap().contains("warm-up"),
        "{stdout}"
    );
    assert!(doc["uncertain"].as_array().unwrap().is_empty(), "{stdout}");
    for needle in ["Capacity: ", "req/s by users", "broken: fail_ratio<1%"] {
        assert!(stdout.contains(needle), "no {needle:?} in\n{stdout}");
    }
    // The HTML report has the steps, as the JSON does.
    let page = std::fs::read_to_string(&html).unwrap();
    assert!(page.contains("<table id=\"capacity\">"), "no steps table");
    assert_eq!(
        page.matches("<td class=\"l pass\">met</td>").count(),
        steps.iter().filter(|s| s["passed"] == true).count()
    );
    assert!(page.contains(&format!("Capacity: {max_users} users")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_slo_broken_at_the_first_step_is_no_answer() {
    let _quiet = crate::one_at_a_time().await;
    let url = limited_server(
        1,
        Duration::from_millis(30),
        (Duration::ZERO, Duration::ZERO),
        false,
    )
    .await;
    let out = Command::new(env!("CARGO_BIN_EXE_swarm"))
        .args([
            "find-capacity",
            &format!("{url}/"),
            "--slo",
            "p95<10ms",
            "--start",
            "3",
            "--hold",
            "500ms",
            "--settle",
            "100ms",
            // More users than any machine's open files allow: the doctor's check says so.
            "--max-users",
            "3000000",
        ])
        .kill_on_drop(true)
        .output();
    let out = tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("the search ends")
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("no step met the SLO"), "{stdout}");
    assert!(
        stdout.contains("uncertain: this machine may cap the search before 3000000 users: 3000000 users need about"),
        "{stdout}"
    );
    assert!(
        stdout.contains("uncertain: the SLO broke already at the first step (3 users)"),
        "{stdout}"
    );
    // A bad SLO is refused before anything is sent.
    let out = Command::new(env!("CARGO_BIN_EXE_swarm"))
        .args(["find-capacity", &format!("{url}/"), "--slo", "p42<1s"])
        .output()
        .await
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("not a threshold metric"));
}
