//! The engine against real servers on 127.0.0.1: counts, weights, spawning, think time,
//! latency, failures, ramps, live endpoint edits and stopping.

use crate::support::*;
use std::time::{Duration, Instant};
use swarm::engine::{Command, Engine};
use swarm::scenario::Plan;
use swarm::stats::{FailureKind, RunState, Snapshot};

const FAST: &str = r#"
host = "{host}"
[load]
users = 8
spawn_rate = 100
[[endpoints]]
path = "/a"
weight = 3
[[endpoints]]
path = "/b"
weight = 1
"#;

fn row<'a>(snap: &'a Snapshot, name: &str) -> &'a swarm::stats::RowStats {
    snap.rows
        .iter()
        .find(|r| r.name == name)
        .unwrap_or_else(|| panic!("no row {name}"))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_counts_match_and_weights_hold() {
    let server = CountingServer::start().await;
    let engine = started(FAST, &server.url());
    wait_for(&engine, Duration::from_secs(30), |s| {
        s.total.requests >= 4000
    })
    .await;
    let snap = stop(&engine).await;
    let (a, b) = (row(&snap, "GET /a"), row(&snap, "GET /b"));
    assert_eq!(
        server.count("/a"),
        a.requests,
        "server and swarm disagree on /a"
    );
    assert_eq!(
        server.count("/b"),
        b.requests,
        "server and swarm disagree on /b"
    );
    let share = a.requests as f64 / (a.requests + b.requests) as f64;
    assert!((share - 0.75).abs() <= 0.03, "weight 3:1 gave {share:.3}");
    assert_eq!(snap.total.failures, 0);
    assert_eq!(snap.total.requests, a.requests + b.requests);
    assert_eq!(a.statuses, vec![(200, a.requests)]);
    assert!(snap.total.avg_bytes == 2.0, "body 'ok' is 2 bytes");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spawn_rate_is_honoured() {
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
    assert!(
        (median - 50.0).abs() <= 2.0,
        "median {median} ms for a 50 ms server"
    );
    assert!(
        snap.total.min_ms >= 50.0,
        "min {} below the server's delay",
        snap.total.min_ms
    );
}

async fn failure_run(src: &str, host: &str) -> std::sync::Arc<Snapshot> {
    let engine = started(src, host);
    wait_for(&engine, Duration::from_secs(20), |s| s.total.failures >= 3).await;
    stop(&engine).await
}

const ONE_USER: &str = r#"
host = "{host}"
[load]
users = 2
spawn_rate = 100
wait = "10ms"
stop_timeout = "1s"
[defaults]
timeout = "200ms"
[[endpoints]]
path = "/x"
"#;

fn only_cause(snap: &Snapshot) -> FailureKind {
    assert_eq!(snap.failures.len(), 1, "failures: {:#?}", snap.failures);
    assert_eq!(
        snap.total.failures, snap.total.requests,
        "every request should fail"
    );
    assert!(
        snap.failures[0].count >= 3,
        "the run went on after the first failure"
    );
    assert!(!snap.failures[0].message.is_empty());
    snap.failures[0].kind
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connection_refused_is_counted() {
    let snap = failure_run(ONE_USER, &refused_url().await).await;
    assert_eq!(only_cause(&snap), FailureKind::Refused);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn server_closing_connections_is_counted() {
    let (url, task) = misbehaving_server(Misbehaviour::CloseEarly).await;
    let snap = failure_run(ONE_USER, &url).await;
    task.abort();
    assert_eq!(only_cause(&snap), FailureKind::Closed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_response_is_counted() {
    let (url, task) = misbehaving_server(Misbehaviour::Garbage).await;
    let snap = failure_run(ONE_USER, &url).await;
    task.abort();
    assert_eq!(only_cause(&snap), FailureKind::Malformed);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_connections_closed_by_the_server_are_not_failures() {
    let (url, task) = misbehaving_server(Misbehaviour::IdleClose).await;
    let src = ONE_USER.replace("wait = \"10ms\"", "wait = \"250ms\"");
    let engine = started(&src, &url);
    let snap = wait_for(&engine, Duration::from_secs(10), |s| s.total.requests >= 8).await;
    stop(&engine).await;
    task.abort();
    assert_eq!(snap.total.failures, 0, "failures: {:#?}", snap.failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_lost_to_a_keep_alive_close_is_sent_again() {
    let (url, task) = misbehaving_server(Misbehaviour::DropSecond).await;
    let engine = started(ONE_USER, &url);
    let snap = wait_for(&engine, Duration::from_secs(10), |s| s.total.requests >= 10).await;
    stop(&engine).await;
    task.abort();
    assert_eq!(snap.total.failures, 0, "failures: {:#?}", snap.failures);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn timeout_is_counted() {
    let server = CountingServer::start().await;
    let snap = failure_run(&ONE_USER.replace("/x", "/stall"), &server.url()).await;
    assert_eq!(only_cause(&snap), FailureKind::Timeout);
    let avg = snap.total.avg_ms;
    assert!(
        (200.0..300.0).contains(&avg),
        "timed-out requests took {avg} ms"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn status_500_is_counted() {
    let server = CountingServer::start().await;
    let snap = failure_run(&ONE_USER.replace("/x", "/status/500"), &server.url()).await;
    assert_eq!(only_cause(&snap), FailureKind::Status(500));
    assert_eq!(snap.rows[0].statuses, vec![(500, snap.total.requests)]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_status_list_is_used() {
    let server = CountingServer::start().await;
    let src = ONE_USER.replace("path = \"/x\"", "path = \"/status/204\"\nexpect = { status = [204] }\n[[endpoints]]\npath = \"/y\"\nexpect = { status = [201] }");
    let engine = started(&src, &server.url());
    wait_for(&engine, Duration::from_secs(10), |s| s.total.requests >= 20).await;
    let snap = stop(&engine).await;
    let ok = row(&snap, "GET /status/204");
    let bad = row(&snap, "GET /y");
    assert_eq!(ok.failures, 0);
    assert_eq!(bad.failures, bad.requests);
    assert_eq!(snap.failures[0].kind, FailureKind::Status(200));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn users_raised_and_lowered_while_running() {
    let server = CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
users = 4
spawn_rate = 50
wait = "50ms"
[[endpoints]]
path = "/"
"#;
    let engine = started(src, &server.url());
    wait_for(&engine, Duration::from_secs(5), |s| {
        s.users == 4 && s.state == RunState::Running
    })
    .await;
    engine.send(Command::SetUsers(12));
    let up = wait_for(&engine, Duration::from_secs(5), |s| s.users == 12).await;
    assert_eq!(up.target_users, 12);
    engine.send(Command::SetUsers(2));
    let down = wait_for(&engine, Duration::from_secs(5), |s| {
        s.users == 2 && s.state == RunState::Running
    })
    .await;
    assert_eq!(down.target_users, 2);
    // With 2 users at one request per ~50 ms, the rate settles near 40/s.
    let before = server.total();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let sent = server.total() - before;
    assert!(
        (20..=45).contains(&sent),
        "2 users sent {sent} requests in 1 s"
    );
    stop(&engine).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn endpoint_edits_reach_the_running_swarm() {
    let server = CountingServer::start().await;
    let engine = started(&ONE_USER.replace("/x", "/old"), &server.url());
    wait_for(&engine, Duration::from_secs(5), |s| s.total.requests >= 5).await;
    let edited = plan(&ONE_USER.replace("/x", "/new"), &server.url());
    engine.send(Command::SetEndpoints(edited.endpoints));
    wait_for(&engine, Duration::from_secs(5), |s| {
        s.rows
            .iter()
            .any(|r| r.name == "GET /new" && r.requests >= 5)
    })
    .await;
    let old_before = server.count("/old");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(
        server.count("/old"),
        old_before,
        "old endpoint still hit after the edit"
    );
    let snap = stop(&engine).await;
    assert_eq!(row(&snap, "GET /old").requests, server.count("/old"));
    assert_eq!(row(&snap, "GET /new").requests, server.count("/new"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stop_with_requests_in_flight_ends_within_the_stop_timeout() {
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
async fn reset_statistics_and_history() {
    let server = CountingServer::start().await;
    let src = ONE_USER.replace("wait = \"10ms\"", "wait = \"5ms\"");
    let engine = started(&src, &server.url());
    let snap = wait_for(&engine, Duration::from_secs(5), |s| !s.history.is_empty()).await;
    assert!(snap.history[0].rps > 0.0);
    assert!(snap.history[0].users >= 1);
    engine.send(Command::ResetStats);
    let reset = wait_for(&engine, Duration::from_secs(2), |s| {
        s.total.requests < snap.total.requests
    })
    .await;
    assert!(reset.elapsed < snap.elapsed);
    stop(&engine).await;
}

#[test]
fn shutdown_of_an_idle_engine_is_quick() {
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let plan = Plan::parse(
            "host = \"http://127.0.0.1:9\"\n[[endpoints]]\npath = \"/\"\n",
            "t.toml",
        )
        .unwrap();
        let engine = Engine::spawn(&plan);
        let last = tokio::time::timeout(Duration::from_secs(2), engine.shutdown())
            .await
            .unwrap();
        assert_eq!(last.state, RunState::Idle);
        assert_eq!(last.total.requests, 0);
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_stages_move_the_target_and_end_the_run() {
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

#[test]
fn stages_from_the_command_line() {
    let stages = swarm::scenario::parse_stages("50:1m,100:5m:20,0:30s").unwrap();
    assert_eq!(stages.len(), 3);
    assert_eq!(stages[1].users, 100);
    assert_eq!(stages[1].duration, Duration::from_secs(300));
    assert_eq!(stages[1].spawn_rate, Some(20.0));
    assert!(swarm::scenario::parse_stages("50-1m").is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_request_budget_ends_the_run_exactly_in_both_models() {
    for load in [
        "users = 6\nspawn_rate = 100",
        "arrival_rate = \"300/s\"\nmax_users = 10",
    ] {
        let server = CountingServer::start().await;
        let src = format!("host = \"{{host}}\"\n[load]\n{load}\n[[endpoints]]\npath = \"/x\"\n");
        let mut p = plan(&src, &server.url());
        p.load.max_requests = Some(75);
        let engine = Engine::spawn(&p);
        engine.send(Command::Start);
        let snap = until_stopped(&engine, Duration::from_secs(10)).await;
        assert_eq!(snap.total.requests, 75, "{load}");
        assert_eq!(server.count("/x"), 75, "{load}");
    }
}
