//! The engine measured against the wall clock: spawn rate, think time, latency, the stop
//! timeout, run time and stages. Each test takes the quiet lock, so they run one at a time.

use crate::support::*;
use std::time::{Duration, Instant};
use swarm::engine::{Command, Engine};
use swarm::stats::RunState;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_rate_is_honoured() {
    let _quiet = crate::one_at_a_time().await;
    let server = CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
users = 20
spawn_rate = 10
wait = "100ms"
[[endpoints]]
path = "/"
"#;
    let engine = Engine::spawn(&plan(src, &server.url()));
    let start = Instant::now();
    engine.send(Command::Start);
    let mid = wait_for(&engine, Duration::from_secs(5), |s| s.users >= 10).await;
    let at_10 = start.elapsed();
    let full = wait_for(&engine, Duration::from_secs(5), |s| s.users == 20).await;
    let at_20 = start.elapsed();
    assert!(mid.users < 20);
    assert_eq!(full.state, RunState::Running);
    assert!(
        at_10 >= Duration::from_millis(800),
        "10 users after {at_10:?}"
    );
    assert!(
        at_20 >= Duration::from_millis(1800) && at_20 <= Duration::from_millis(2600),
        "20 users at 10/s took {at_20:?}"
    );
    stop(&engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn think_time_is_honoured() {
    let _quiet = crate::one_at_a_time().await;
    let server = CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
users = 2
spawn_rate = 100
wait = "200ms..300ms"
[[endpoints]]
path = "/"
"#;
    let engine = started(src, &server.url());
    tokio::time::sleep(Duration::from_millis(2000)).await;
    let snap = stop(&engine).await;
    // Two users, each one request per 200-300 ms: 2 * (1 + 2.0 / 0.25) = about 18.
    let n = snap.total.requests;
    assert!(
        (14..=22).contains(&n),
        "2 users with 200-300 ms think time sent {n} in 2 s"
    );
    assert!(snap.generator.think_samples >= 10, "{:?}", snap.generator);
    assert!(
        snap.generator.think_lateness_ms[1] < 20.0,
        "{:?}",
        snap.generator
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn median_latency_is_accurate() {
    let _quiet = crate::one_at_a_time().await;
    let server = CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
users = 10
spawn_rate = 100
[[endpoints]]
path = "/delay/50"
"#;
    let engine = started(src, &server.url());
    wait_for(&engine, Duration::from_secs(20), |s| {
        s.total.requests >= 300
    })
    .await;
    let snap = stop(&engine).await;
    let median = snap.total.median_ms();
    // Never below the server's delay; above it by no more than a loaded machine's timer
    // and scheduling slack (the server's own sleep wakes late there too).
    assert!(
        (50.0..=54.0).contains(&median),
        "median {median} ms for a 50 ms server"
    );
    assert!(
        snap.total.min_ms >= 50.0,
        "min {} below the server's delay",
        snap.total.min_ms
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_requests_in_flight_ends_within_the_stop_timeout() {
    let _quiet = crate::one_at_a_time().await;
    let server = CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
users = 5
spawn_rate = 100
stop_timeout = "500ms"
[[endpoints]]
path = "/stall"
"#;
    let engine = started(src, &server.url());
    wait_for(&engine, Duration::from_secs(5), |_| {
        server.count("/stall") == 5
    })
    .await;
    let t = Instant::now();
    let snap = stop(&engine).await;
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(450) && took < Duration::from_millis(1500),
        "stop took {took:?}"
    );
    assert_eq!(snap.users, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_time_stops_the_run_and_current_rate_falls_to_zero() {
    let _quiet = crate::one_at_a_time().await;
    let server = CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
users = 2
spawn_rate = 100
run_time = "1s"
wait = "20ms"
[[endpoints]]
path = "/"
"#;
    let engine = Engine::spawn(&plan(src, &server.url()));
    let t = Instant::now();
    engine.send(Command::Start);
    let snap = until_stopped(&engine, Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(990) && took < Duration::from_millis(1600),
        "1 s run took {took:?}"
    );
    assert!(snap.total.requests > 10);
    assert!((snap.elapsed.as_secs_f64() - 1.0).abs() < 0.3);
    // Statistics are frozen, and "current" rates fall to zero once traffic has stopped.
    let total = snap.total.requests;
    tokio::time::sleep(swarm::stats::CURRENT_WINDOW + Duration::from_millis(500)).await;
    engine.send(Command::SetSpawnRate(5.0));
    let later = wait_for(&engine, Duration::from_secs(2), |s| s.spawn_rate == 5.0).await;
    assert_eq!(later.total.requests, total);
    assert_eq!(later.total.current_rps, 0.0);
    assert!(later.total.total_rps > 0.0);
    assert_eq!(server.total(), total);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_stages_move_the_target_and_end_the_run() {
    let _quiet = crate::one_at_a_time().await;
    let server = CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
spawn_rate = 200
wait = "20ms"
[[load.stages]]
users = 3
duration = "600ms"
[[load.stages]]
users = 6
duration = "600ms"
[[load.stages]]
users = 0
duration = "600ms"
[[endpoints]]
path = "/"
"#;
    let t = Instant::now();
    let engine = started(src, &server.url());
    let first = wait_for(&engine, Duration::from_secs(2), |s| s.users == 3).await;
    assert_eq!(first.stage, Some((1, 3)));
    let second = wait_for(&engine, Duration::from_secs(2), |s| s.users == 6).await;
    assert_eq!(second.stage, Some((2, 3)));
    assert!(
        t.elapsed() >= Duration::from_millis(550),
        "stage 2 began after {:?}",
        t.elapsed()
    );
    let third = wait_for(&engine, Duration::from_secs(2), |s| s.stage == Some((3, 3))).await;
    assert_eq!(third.target_users, 0);
    let end = until_stopped(&engine, Duration::from_secs(5)).await;
    let took = t.elapsed();
    assert!(
        took >= Duration::from_millis(1750) && took < Duration::from_millis(2600),
        "3 x 600 ms took {took:?}"
    );
    assert_eq!(end.peak_users, 6);
}

/// Requests per second the server saw over two seconds of a run already going.
async fn steady_rate(src: &str) -> f64 {
    let server = CountingServer::start().await;
    let engine = started(src, &server.url());
    wait_for(&engine, Duration::from_secs(5), |s| s.users == 10).await;
    tokio::time::sleep(Duration::from_millis(1200)).await;
    let before = server.total();
    tokio::time::sleep(Duration::from_secs(2)).await;
    let after = server.total();
    stop(&engine).await;
    (after - before) as f64 / 2.0
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pacing_starts_a_task_once_a_period_whatever_it_took() {
    let _quiet = crate::one_at_a_time().await;
    // 10 users, a task every second, each taking 200 ms: 10 requests a second (a
    // constant 1 s wait would give 10 / 1.2 = 8.3).
    let rate = steady_rate(
        "host = \"{host}\"\n[load]\nusers = 10\nspawn_rate = 100\nwait = { pacing = \"1s\" }\n[[endpoints]]\npath = \"/delay/200\"\n",
    )
    .await;
    assert!((9.0..=11.0).contains(&rate), "{rate} req/s");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn constant_throughput_is_tasks_per_second_per_user() {
    let _quiet = crate::one_at_a_time().await;
    let rate = steady_rate(
        "host = \"{host}\"\n[load]\nusers = 10\nspawn_rate = 100\nwait = { throughput = 2 }\n[[endpoints]]\npath = \"/delay/200\"\n",
    )
    .await;
    assert!((18.0..=22.0).contains(&rate), "{rate} req/s");
}
