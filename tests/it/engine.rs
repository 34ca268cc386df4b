//! The engine against real servers on 127.0.0.1: counts, weights, spawning, think time,
//! latency, failures, ramps, live endpoint edits and stopping.

use crate::support::*;
use std::time::Duration;
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
    // The message names what the server was asked for: under a host with a prefix, the
    // prefixed path (it had named the path as written, "/y", which the server never saw).
    let engine = started(&src, &format!("{}/api", server.url()));
    wait_for(&engine, Duration::from_secs(10), |s| {
        s.failures.iter().any(|f| f.name == "GET /y")
    })
    .await;
    let snap = stop(&engine).await;
    let f = snap.failures.iter().find(|f| f.name == "GET /y").unwrap();
    assert_eq!(f.message, "GET /api/y answered 200");
    assert_eq!(server.count("/api/y"), row(&snap, "GET /y").requests);
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_iteration_budget_counts_whole_tasks_in_both_models() {
    for load in [
        "users = 6\nspawn_rate = 100\niterations = 40",
        "arrival_rate = \"300/s\"\nmax_users = 10\niterations = 40",
    ] {
        let server = CountingServer::start().await;
        let src = format!(
            "host = \"{{host}}\"\n[load]\n{load}\n[[endpoints]]\npath = \"/x\"\n\
             [[flows]]\nname = \"two\"\n[[flows.steps]]\npath = \"/c\"\n[[flows.steps]]\npath = \"/d\"\n"
        );
        let engine = Engine::spawn(&plan(&src, &server.url()));
        engine.send(Command::Start);
        let snap = until_stopped(&engine, Duration::from_secs(10)).await;
        // 40 tasks: each an /x, or a whole flow of /c then /d.
        let flows = server.count("/c");
        assert_eq!(server.count("/d"), flows, "{load}: flows run whole");
        assert_eq!(server.count("/x") + flows, 40, "{load}");
        assert_eq!(snap.total.requests, server.total(), "{load}");
        assert_eq!(snap.iterations_left, Some(0), "{load}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_types_split_exactly_while_ramping_up_and_down() {
    let server = CountingServer::start().await;
    let src = r#"
host = "{host}"
[load]
users = 100
spawn_rate = 1000
wait = "20ms"
[[users]]
name = "visitor"
weight = 9
[[users.endpoints]]
path = "/v"
[[users]]
name = "buyer"
weight = 1
[[users.endpoints]]
path = "/b"
[[users]]
name = "admin"
fixed_count = 2
[[users.on_start]]
path = "/admin-login"
[[users.endpoints]]
path = "/a"
"#;
    let split = |s: &Snapshot| -> Vec<(String, u32)> {
        s.user_types
            .iter()
            .map(|t| (t.name.clone(), t.users))
            .collect()
    };
    let of = |v: u32, b: u32, a: u32| {
        vec![
            ("visitor".to_string(), v),
            ("buyer".to_string(), b),
            ("admin".to_string(), a),
        ]
    };
    let engine = started(src, &server.url());
    let full = wait_for(&engine, Duration::from_secs(10), |s| s.users == 100).await;
    assert_eq!(split(&full), of(88, 10, 2));
    // The requests follow the split: each user sends about as many as another.
    wait_for(&engine, Duration::from_secs(20), |_| {
        server.count("/b") >= 200
    })
    .await;
    let (v, b, a) = (server.count("/v"), server.count("/b"), server.count("/a"));
    let per_user = |n: u64, users: u64| n as f64 / users as f64;
    for (path, each) in [("/b", per_user(b, 10)), ("/a", per_user(a, 2))] {
        let visitor = per_user(v, 88);
        assert!(
            (each / visitor - 1.0).abs() < 0.35,
            "{path}: {each:.1} requests a user, visitors {visitor:.1}"
        );
    }
    assert_eq!(server.count("/admin-login"), 2, "on_start once per admin");
    engine.send(Command::SetUsers(40));
    let down = wait_for(&engine, Duration::from_secs(10), |s| s.users == 40).await;
    assert_eq!(split(&down), of(34, 4, 2), "newest first, the split kept");
    engine.send(Command::SetUsers(100));
    let up = wait_for(&engine, Duration::from_secs(10), |s| s.users == 100).await;
    assert_eq!(split(&up), of(88, 10, 2));
    let end = stop(&engine).await;
    assert_eq!(end.user_types[0].peak, 88);
    assert_eq!(end.total.requests, server.total());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stages_set_while_idle_are_followed_at_the_next_start() {
    let server = CountingServer::start().await;
    let engine = Engine::spawn(&plan(ONE_USER, &server.url()));
    let stages = swarm::scenario::parse_stages("2:5s,1:5s").unwrap();
    engine.send(Command::SetStages(stages));
    engine.send(Command::Start);
    let snap = wait_for(&engine, Duration::from_secs(5), |s| s.users == 2).await;
    assert_eq!(snap.stage, Some((1, 2)));
    assert_eq!(snap.target_users, 2);
    stop(&engine).await;
}
