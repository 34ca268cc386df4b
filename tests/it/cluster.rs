//! Distributed runs on loopback: a controller process (`swarm run --workers N`) and
//! worker processes (`swarm worker`), against a server the test starts. The merged counts
//! are compared with the server's own.

use crate::support::{CountingServer, send_signal, swarm, tempdir, text};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::Duration;
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::Child;

/// A process whose standard error is collected while it runs.
struct Proc {
    child: Child,
    err: Arc<Mutex<String>>,
    /// The task that reads standard error; it ends when the pipe closes.
    reader: Option<tokio::task::JoinHandle<()>>,
}

impl Proc {
    fn start(args: &[&str]) -> Proc {
        Proc::spawn(swarm().args(args))
    }

    fn spawn(command: &mut tokio::process::Command) -> Proc {
        let mut child = command
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let err = Arc::new(Mutex::new(String::new()));
        let lines = child.stderr.take().unwrap();
        let e = Arc::clone(&err);
        let reader = tokio::spawn(async move {
            let mut lines = BufReader::new(lines).lines();
            while let Ok(Some(l)) = lines.next_line().await {
                let mut e = e.lock().unwrap();
                e.push_str(&l);
                e.push('\n');
            }
        });
        Proc {
            child,
            err,
            reader: Some(reader),
        }
    }

    fn stderr(&self) -> String {
        self.err.lock().unwrap().clone()
    }

    /// Waits (at most `limit`) for a line of standard error that contains `what`.
    async fn line_with(&self, what: &str, limit: Duration) -> String {
        let end = tokio::time::Instant::now() + limit;
        loop {
            if let Some(l) = self.stderr().lines().find(|l| l.contains(what)) {
                return l.to_string();
            }
            assert!(
                tokio::time::Instant::now() < end,
                "no line with {what:?} in:\n{}",
                self.stderr()
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    }

    /// Waits for the process to exit 0; fails with its standard error otherwise.
    async fn succeeds(&mut self, limit: Duration) {
        let code = self.exit_code(limit).await;
        assert_eq!(code, Some(0), "{}", self.stderr());
    }

    /// The control address a controller printed.
    async fn listening(&self) -> String {
        let line = self
            .line_with("controller listening on", Duration::from_secs(20))
            .await;
        line.split("listening on ")
            .nth(1)
            .and_then(|r| r.split(';').next())
            .unwrap()
            .to_string()
    }

    /// What it wrote on standard output, once it has exited (the report; small enough
    /// for the pipe's buffer).
    async fn stdout(&mut self) -> String {
        let mut out = String::new();
        if let Some(mut pipe) = self.child.stdout.take() {
            let read = tokio::io::AsyncReadExt::read_to_string(&mut pipe, &mut out);
            let _ = tokio::time::timeout(Duration::from_secs(5), read).await;
        }
        out
    }

    /// Waits (at most `limit`) for the process to exit, and then for the last of its
    /// standard error to be read: `wait` can return before the reader has drained the
    /// pipe, and a test that looked at the stderr then saw it empty (seen once in CI).
    async fn exit_code(&mut self, limit: Duration) -> Option<i32> {
        let status = tokio::time::timeout(limit, self.child.wait())
            .await
            .unwrap_or_else(|_| panic!("still running after {limit:?}:\n{}", self.stderr()))
            .unwrap();
        if let Some(reader) = self.reader.take() {
            // A process it left behind may hold the pipe open; do not wait for that.
            let _ = tokio::time::timeout(Duration::from_secs(5), reader).await;
        }
        status.code()
    }
}

/// Starts a controller with `args` (after `run`) listening on a free loopback port; its
/// address for the workers.
async fn controller(args: &[&str]) -> (Proc, String) {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend_from_slice(&["--headless", "--listen", "127.0.0.1:0"]);
    let p = Proc::start(&all);
    let addr = p.listening().await;
    (p, addr)
}

fn worker(addr: &str, more: &[&str]) -> Proc {
    let mut args = vec!["worker", "--controller", addr];
    args.extend_from_slice(more);
    Proc::start(&args)
}

fn scenario(dir: &std::path::Path, host: &str, body: &str) -> String {
    let path = dir.join("dist.toml");
    std::fs::write(&path, format!("host = \"{host}\"\n{body}")).unwrap();
    path.display().to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_run_one_swarm_and_the_merged_counts_are_the_servers() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    // {{seq}} in the path: the server sees every value once if the workers never share one.
    let file = scenario(
        &dir,
        &server.url(),
        r#"
[load]
users = 5
spawn_rate = 100
run_time = "2s"
wait = "10ms"

[[endpoints]]
name = "seq"
path = "/seq/{{seq}}"
"#,
    );
    let json = dir.join("out.json");
    let (mut ctl, addr) =
        controller(&[&file, "--workers", "2", "--json", json.to_str().unwrap()]).await;
    ctl.line_with("waiting for 2 workers", Duration::from_secs(5))
        .await;
    let mut w1 = worker(&addr, &[]);
    ctl.line_with("(1/2 workers connected)", Duration::from_secs(20))
        .await;
    let mut w2 = worker(&addr, &[]);
    ctl.succeeds(Duration::from_secs(60)).await;
    w1.succeeds(Duration::from_secs(20)).await;
    w2.succeeds(Duration::from_secs(20)).await;
    assert!(
        ctl.stderr()
            .contains("2 workers connected; starting them together")
    );

    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let merged = doc["aggregated"]["requests"].as_u64().unwrap();
    assert!(merged > 20, "{doc}");
    assert_eq!(merged, server.total(), "the merged count is the server's");
    assert_eq!(doc["aggregated"]["failures"].as_u64(), Some(0));
    // 5 users over two workers: 3 and 2, all 5 at the peak.
    assert_eq!(doc["users"].as_u64(), Some(5), "{doc}");
    let workers = doc["workers"].as_array().unwrap();
    assert_eq!(workers.len(), 2);
    assert!(workers.iter().all(|w| w["state"] == "stopped"), "{doc}");
    // Each worker's rate is its share over the run: they add up to the aggregate's (they
    // read 14 469 and 39 648 for 390 in all, rates over the last tiny flush), and its CPU
    // is over the run, within what this machine's cores can give.
    let rps = |v: &serde_json::Value| v["rps"].as_f64().unwrap();
    let sum: f64 = workers.iter().map(rps).sum();
    let all = doc["aggregated"]["rps"].as_f64().unwrap();
    assert!(
        (sum - all).abs() <= all * 0.03,
        "workers {sum} req/s, aggregate {all}: {doc}"
    );
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get()) as f64;
    for w in workers {
        assert!(rps(w) > 0.0, "{w}");
        let cpu = w["cpu_percent"].as_f64().unwrap();
        assert!((0.0..=100.0 * cores).contains(&cpu), "{w}");
    }
    // Every {{seq}} value went out once across the swarm.
    let paths = server.paths();
    let distinct: std::collections::HashSet<&String> = paths.iter().collect();
    assert_eq!(
        distinct.len() as u64,
        server.total(),
        "a {{seq}} value was used twice"
    );
}

/// The controller's command line reaches the workers: `--tags` selects what they run and
/// `-n` is the whole swarm's budget, split between them (the file has neither).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_command_lines_tags_and_budget_reach_every_worker() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        r#"
[load]
users = 2
spawn_rate = 100

[[endpoints]]
path = "/a"
tags = ["a"]

[[endpoints]]
path = "/b"
tags = ["b"]
"#,
    );
    let json = dir.join("out.json");
    let (mut ctl, addr) = controller(&[
        &file,
        "--workers",
        "2",
        "--tags",
        "a",
        "-n",
        "301",
        "-u",
        "3",
        "--json",
        json.to_str().unwrap(),
    ])
    .await;
    let mut w1 = worker(&addr, &[]);
    let mut w2 = worker(&addr, &[]);
    ctl.succeeds(Duration::from_secs(60)).await;
    w1.succeeds(Duration::from_secs(20)).await;
    w2.succeeds(Duration::from_secs(20)).await;
    assert_eq!(server.count("/b"), 0, "--tags a left /b out");
    assert_eq!(server.count("/a"), 301, "-n 301 over two workers, exactly");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["aggregated"]["requests"].as_u64(), Some(301), "{doc}");
    assert_eq!(doc["users"].as_u64(), Some(3), "-u 3 over both: {doc}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_with_the_wrong_token_is_refused_and_loopback_is_the_default() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "[[endpoints]]\npath = \"/\"\n");
    let token = dir.join("token");
    std::fs::write(&token, "right\n").unwrap();
    let wrong = dir.join("wrong");
    std::fs::write(&wrong, "wrong\n").unwrap();
    let (mut ctl, addr) = controller(&[
        &file,
        "--workers",
        "1",
        "-t",
        "1s",
        "--token-file",
        token.to_str().unwrap(),
    ])
    .await;
    let mut bad = worker(&addr, &["--token-file", wrong.to_str().unwrap()]);
    assert_eq!(bad.exit_code(Duration::from_secs(20)).await, Some(2));
    assert!(
        bad.stderr().contains("refused this worker: wrong token"),
        "{}",
        bad.stderr()
    );
    ctl.line_with("refused a worker", Duration::from_secs(5))
        .await;
    assert_eq!(server.total(), 0, "nothing ran");
    // The right token joins and the run goes ahead.
    let mut good = worker(&addr, &["--token-file", token.to_str().unwrap()]);
    ctl.succeeds(Duration::from_secs(60)).await;
    assert_eq!(good.exit_code(Duration::from_secs(20)).await, Some(0));
    assert!(server.total() > 0);

    // Beyond loopback a token is required.
    let out = crate::support::run(&[
        "run",
        &file,
        "--headless",
        "--workers",
        "1",
        "--listen",
        "0.0.0.0:0",
    ])
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs a token"),
        "{}",
        text(&out.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_worker_stops_the_run_with_its_own_exit_code() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        "[load]\nusers = 4\nrun_time = \"60s\"\nwait = \"20ms\"\n[[endpoints]]\npath = \"/\"\n",
    );
    let json = dir.join("out.json");
    let (mut ctl, addr) =
        controller(&[&file, "--workers", "2", "--json", json.to_str().unwrap()]).await;
    let mut w1 = worker(&addr, &[]);
    let mut w2 = worker(&addr, &[]);
    ctl.line_with("starting them together", Duration::from_secs(20))
        .await;
    ctl.line_with("running users 4/4", Duration::from_secs(20))
        .await;
    w2.child.start_kill().unwrap();
    let code = ctl.exit_code(Duration::from_secs(30)).await;
    assert_eq!(code, Some(3), "{}", ctl.stderr());
    assert!(ctl.stderr().contains("was lost"), "{}", ctl.stderr());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert!(
        doc["worker_lost"].as_str().unwrap().contains("worker"),
        "{doc}"
    );
    // The report on stdout and the JSON say the figures are short, which worker, when,
    // and the bound on what is missing (its requests since its last report).
    let lost = &doc["lost_workers"][0];
    let unreported = lost["unreported_s"].as_f64().unwrap();
    assert!((0.0..=4.0).contains(&unreported), "{doc}");
    assert!(lost["lost_at_s"].as_f64().unwrap() > 0.0, "{doc}");
    let report = ctl.stdout().await;
    let said = format!(
        "worker {} ({}) lost at",
        lost["index"],
        lost["host"].as_str().unwrap()
    );
    assert!(report.contains(&said), "{report}");
    assert!(report.contains("the figures are short"), "{report}");
    // The survivor was told to stop and leave.
    w1.succeeds(Duration::from_secs(20)).await;
    let _ = w2.exit_code(Duration::from_secs(5)).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn find_capacity_steps_the_whole_swarm() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let json = dir.join("cap.json");
    let url = format!("{}/", server.url());
    let mut ctl = Proc::start(&[
        "find-capacity",
        &url,
        "--slo",
        "p95<5s",
        "--start",
        "2",
        "--step",
        "2",
        "--max-users",
        "4",
        "--hold",
        "500ms",
        "--settle",
        "100ms",
        "--workers",
        "2",
        "--listen",
        "127.0.0.1:0",
        "--json",
        json.to_str().unwrap(),
    ]);
    let addr = ctl.listening().await;
    let mut w1 = worker(&addr, &[]);
    let mut w2 = worker(&addr, &[]);
    ctl.exit_code(Duration::from_secs(60)).await;
    w1.succeeds(Duration::from_secs(20)).await;
    w2.succeeds(Duration::from_secs(20)).await;
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    // Both steps were measured on the merged figures; the search reached its limit.
    assert_eq!(
        doc["max_users"].as_u64(),
        Some(4),
        "{doc}\n{}",
        ctl.stderr()
    );
    assert!(ctl.stderr().contains("4 users:"), "{}", ctl.stderr());
    // Each step was measured over what the workers recorded inside it (their reports
    // come every second, faster than the 500 ms hold only while a window is open): none
    // is empty, and together they are no more than the server answered.
    let steps = doc["steps"].as_array().unwrap();
    assert_eq!(steps.len(), 2, "{doc}");
    let mut measured = 0;
    for step in steps {
        let requests = step["requests"].as_u64().unwrap();
        assert!(requests > 0 && step["rps"].as_f64().unwrap() > 0.0, "{doc}");
        measured += requests;
    }
    assert!(measured <= server.total(), "{doc}");
}

/// A `--tolerate-worker-loss` run of 4 users over two workers for 5 s, users thinking
/// `wait`, with all four running.
struct Tolerant {
    ctl: Proc,
    w1: Proc,
    w2: Proc,
    json: std::path::PathBuf,
    dir: std::path::PathBuf,
}

impl Tolerant {
    async fn running(server: &CountingServer, wait: &str) -> Tolerant {
        let dir = tempdir();
        let file = scenario(
            &dir,
            &server.url(),
            &format!(
                "[load]\nusers = 4\nspawn_rate = 100\nrun_time = \"5s\"\nwait = \"{wait}\"\n[[endpoints]]\npath = \"/\"\n"
            ),
        );
        let json = dir.join("out.json");
        let (ctl, addr) = controller(&[
            &file,
            "--workers",
            "2",
            "--tolerate-worker-loss",
            "--json",
            json.to_str().unwrap(),
        ])
        .await;
        let w1 = worker(&addr, &[]);
        let w2 = worker(&addr, &[]);
        ctl.line_with("running users 4/4", Duration::from_secs(20))
            .await;
        Tolerant {
            ctl,
            w1,
            w2,
            json,
            dir,
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_tolerate_worker_loss_the_survivor_carries_every_user() {
    let server = CountingServer::start().await;
    let Tolerant {
        mut ctl,
        mut w1,
        mut w2,
        json,
        ..
    } = Tolerant::running(&server, "20ms").await;
    w2.child.start_kill().unwrap();
    ctl.line_with("carry its share", Duration::from_secs(10))
        .await;
    ctl.succeeds(Duration::from_secs(30)).await;
    assert!(ctl.stderr().contains("degraded run"), "{}", ctl.stderr());
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["degraded"], true, "{doc}");
    // The peak is the swarm's 4 users, not the lost worker's 2 added to the survivor's 4.
    assert_eq!(doc["users"].as_u64(), Some(4), "{doc}");
    assert_eq!(
        doc["lost_workers"].as_array().map(Vec::len),
        Some(1),
        "{doc}"
    );
    let report = ctl.stdout().await;
    assert!(report.contains("degraded run:"), "{report}");
    assert!(report.contains("the figures are short"), "{report}");
    // After the loss the one survivor ran all four users.
    let live: Vec<&serde_json::Value> = doc["workers"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|w| w["state"] != "missing")
        .collect();
    assert_eq!(live.len(), 1, "{doc}");
    // (The point before the last: the last is the second the run stopped in.)
    let history = doc["history"].as_array().unwrap();
    let before_stop = &history[history.len() - 2];
    assert_eq!(before_stop["users"].as_u64(), Some(4), "{doc}");
    w1.succeeds(Duration::from_secs(20)).await;
    assert!(
        w1.stderr().contains("now segment 0 of 1"),
        "{}",
        w1.stderr()
    );
    let _ = w2.exit_code(Duration::from_secs(5)).await;
}

/// A CA, and a certificate it signed for `names`, each as PEM (certificate, key).
pub(crate) fn ca_and_cert(names: &[&str]) -> ((String, String), (String, String)) {
    let ca_key = rcgen::KeyPair::generate().unwrap();
    let mut ca = rcgen::CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = rcgen::IsCa::Ca(rcgen::BasicConstraints::Unconstrained);
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let issuer = rcgen::Issuer::new(ca, &ca_key);
    let key = rcgen::KeyPair::generate().unwrap();
    let params =
        rcgen::CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
            .unwrap();
    let cert = params.signed_by(&key, &issuer).unwrap();
    (
        (ca_cert.pem(), ca_key.serialize_pem()),
        (cert.pem(), key.serialize_pem()),
    )
}

/// `text` written to `dir/name`; its path.
pub(crate) fn write_in(dir: &std::path::Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

/// A CA and a certificate it signed for 127.0.0.1, written to `dir` as ca.pem, cert.pem
/// and key.pem; their paths.
pub(crate) fn loopback_tls_files(dir: &std::path::Path) -> (String, String, String) {
    let ((ca, _), (cert, key)) = ca_and_cert(&["127.0.0.1"]);
    (
        write_in(dir, "ca.pem", &ca),
        write_in(dir, "cert.pem", &cert),
        write_in(dir, "key.pem", &key),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tls_on_the_control_port_with_client_certificates() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(&dir, &server.url(), "[[endpoints]]\npath = \"/\"\n");
    let (ca, cert, key) = loopback_tls_files(&dir);
    let ((client_ca, _), (client_cert, client_key)) = ca_and_cert(&["worker"]);
    let write = |name: &str, text: &str| write_in(&dir, name, text);
    let client_ca = write("client-ca.pem", &client_ca);
    let (client_cert, client_key) = (
        write("client.pem", &client_cert),
        write("client-key.pem", &client_key),
    );
    let (mut ctl, addr) = controller(&[
        &file,
        "--workers",
        "1",
        "-t",
        "1s",
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
        "--tls-client-ca",
        &client_ca,
    ])
    .await;
    // Without a client certificate the handshake fails: no segment is taken.
    let mut bare = worker(&addr, &["--tls-ca", &ca]);
    assert_ne!(bare.exit_code(Duration::from_secs(90)).await, Some(0));
    assert_eq!(server.total(), 0);
    let mut good = worker(
        &addr,
        &[
            "--tls-ca",
            &ca,
            "--tls-cert",
            &client_cert,
            "--tls-key",
            &client_key,
        ],
    );
    ctl.succeeds(Duration::from_secs(60)).await;
    good.succeeds(Duration::from_secs(20)).await;
    assert!(server.total() > 0);
}

/// The protocol in process: a controller engine and a hand-made worker stream.
mod protocol {
    use std::time::Duration;
    use swarm::cluster::proto::control_client::ControlClient;
    use swarm::cluster::proto::{FromWorker, Hello, from_worker, to_worker};
    use tokio_stream::wrappers::ReceiverStream;

    async fn controller(workers: u32) -> (swarm::engine::Engine, String) {
        let plan = swarm::scenario::Plan::for_url("http://127.0.0.1:9/").unwrap();
        let cfg = swarm::cluster::controller::Config {
            workers,
            processes: 0,
            listen: "127.0.0.1:0".parse().unwrap(),
            token: Some("s3cret".into()),
            scenario: "host = \"http://127.0.0.1:9\"\n[[endpoints]]\npath = \"/\"\n".into(),
            file_name: "x.toml".into(),
            files: vec![],
            dir: std::path::PathBuf::from("."),
            tolerate_loss: false,
            expect_wait: None,
            quiet: true,
            tls: None,
        };
        let engine = swarm::cluster::controller::spawn(&plan, cfg).await.unwrap();
        let addr = engine.snapshots().borrow().controller_addr.clone();
        (engine, addr)
    }

    /// Says hello and returns the controller's first answer.
    async fn hello(addr: &str, h: Hello) -> to_worker::Msg {
        let mut client = ControlClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(4);
        tx.send(FromWorker {
            msg: Some(from_worker::Msg::Hello(h)),
        })
        .await
        .unwrap();
        let mut inbound = client
            .join(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let first = tokio::time::timeout(Duration::from_secs(10), inbound.message())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        // The stream stays open for the rest of the test (the sender is leaked), so the
        // controller keeps the worker and its segment.
        std::mem::forget(tx);
        first.msg.unwrap()
    }

    fn h(version: &str, token: &str, index: i32) -> Hello {
        Hello {
            version: version.into(),
            token: token.into(),
            host: "test".into(),
            index,
            wall_us: swarm::cluster::wall_us(),
        }
    }

    #[tokio::test]
    async fn handshake_refusals_and_segment_assignment() {
        let (_engine, addr) = controller(2).await;
        let v = swarm::cluster::VERSION;
        match hello(&addr, h("0.0.1", "s3cret", -1)).await {
            to_worker::Msg::Refused(why) => assert!(why.contains("same version"), "{why}"),
            other => panic!("{other:?}"),
        }
        match hello(&addr, h(v, "nope", -1)).await {
            to_worker::Msg::Refused(why) => assert!(why.contains("wrong token"), "{why}"),
            other => panic!("{other:?}"),
        }
        match hello(&addr, h(v, "s3cret", 5)).await {
            to_worker::Msg::Refused(why) => assert!(why.contains("0 to 1"), "{why}"),
            other => panic!("{other:?}"),
        }
        // Segment 1 asked for, then the next free one is 0; a third finds none.
        let to_worker::Msg::Welcome(w) = hello(&addr, h(v, "s3cret", 1)).await else {
            panic!("not welcomed")
        };
        assert_eq!((w.index, w.count), (1, 2));
        assert_eq!(w.hash, swarm::cluster::hash(&w.scenario, &w.files));
        let to_worker::Msg::Welcome(w) = hello(&addr, h(v, "s3cret", -1)).await else {
            panic!("not welcomed")
        };
        assert_eq!((w.index, w.count), (0, 2));
        match hello(&addr, h(v, "s3cret", -1)).await {
            to_worker::Msg::Refused(why) => assert!(why.contains("all 2 workers"), "{why}"),
            other => panic!("{other:?}"),
        }
    }

    /// Heartbeats under tokio's paused clock: a worker that reports within 3 s of its last
    /// report stays, one silent for longer is marked missing and the run stops for it,
    /// naming it. The fake worker here reports only when the test says so.
    #[tokio::test]
    async fn a_worker_silent_for_three_seconds_is_lost() {
        use swarm::cluster::proto::Report;
        use swarm::engine::Command;
        use swarm::stats::RunState;
        let (engine, addr) = controller(1).await;
        let mut client = ControlClient::connect(format!("http://{addr}"))
            .await
            .unwrap();
        let (tx, rx) = tokio::sync::mpsc::channel(16);
        let say = |msg| FromWorker { msg: Some(msg) };
        let h = h(swarm::cluster::VERSION, "s3cret", -1);
        tx.send(say(from_worker::Msg::Hello(h))).await.unwrap();
        let mut inbound = client
            .join(ReceiverStream::new(rx))
            .await
            .unwrap()
            .into_inner();
        let first = inbound.message().await.unwrap().unwrap();
        assert!(matches!(first.msg, Some(to_worker::Msg::Welcome(_))));
        // Orders are read (and dropped) as they come.
        tokio::spawn(async move { while let Ok(Some(_)) = inbound.message().await {} });
        let mut seq = 0;
        let mut report = || {
            seq += 1;
            say(from_worker::Msg::Report(Report {
                seq,
                state: "running".into(),
                users: 1,
                wall_us: swarm::cluster::wall_us(),
                ..Report::default()
            }))
        };
        engine.send(Command::Start);
        tx.send(report()).await.unwrap();
        // The handshake ran on the real clock (a paused one would jump over the network's
        // waits); from here the test moves time itself.
        let joined = tokio::time::Instant::now() + Duration::from_secs(5);
        while engine.snapshots().borrow().state != RunState::Running {
            assert!(
                tokio::time::Instant::now() < joined,
                "the run did not start"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        tokio::time::pause();
        let t0 = tokio::time::Instant::now();
        tx.send(report()).await.unwrap();
        let snap = || engine.snapshots().borrow().clone();
        // Reports 2.5 s apart: never missing.
        for i in 1..=3u32 {
            tokio::time::sleep_until(t0 + Duration::from_millis(2_500) * i).await;
            let s = snap();
            assert!(
                s.worker_lost.is_none(),
                "at {i} x 2.5 s: {:?}",
                s.worker_lost
            );
            assert_eq!(s.workers[0].state, "running", "{:?}", s.workers);
            tx.send(report()).await.unwrap();
        }
        // Silent from 7.5 s: still there at 10 s, missing by 11 s, and the run stops.
        tokio::time::sleep_until(t0 + Duration::from_millis(10_000)).await;
        assert!(snap().worker_lost.is_none());
        tokio::time::sleep_until(t0 + Duration::from_millis(11_000)).await;
        let s = snap();
        assert_eq!(s.workers[0].state, "missing", "{:?}", s.workers);
        let lost = s.worker_lost.clone().expect("the worker is named");
        assert!(lost.contains("no report for 3 s"), "{lost}");
        assert!(
            matches!(s.state, RunState::Stopping | RunState::Stopped),
            "{:?}",
            s.state
        );
        drop(tx);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_reconnect_a_worker_outlives_its_controller_and_joins_the_next() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        "[load]\nusers = 2\nwait = \"20ms\"\n[[endpoints]]\npath = \"/\"\n",
    );
    let listen = crate::support::free_loopback_addr();
    let start = |time: &str| {
        Proc::start(&[
            "run",
            &file,
            "--headless",
            "--workers",
            "1",
            "--listen",
            &listen,
            "-t",
            time,
        ])
    };
    let mut first = start("60s");
    first
        .line_with("controller listening", Duration::from_secs(20))
        .await;
    let mut w = worker(&listen, &["--reconnect"]);
    first
        .line_with("running users 2/2", Duration::from_secs(20))
        .await;
    first.child.start_kill().unwrap();
    let _ = first.exit_code(Duration::from_secs(10)).await;
    w.line_with("reconnecting to", Duration::from_secs(20))
        .await;
    // A new controller on the same port: the worker joins it and runs its scenario.
    let mut second = start("1s");
    second.succeeds(Duration::from_secs(60)).await;
    w.succeeds(Duration::from_secs(20)).await;
    assert!(w.stderr().contains("for segment 0"), "{}", w.stderr());
}

/// The merged statistics are one histogram fed every worker's samples: each worker keeps
/// its own share (`swarm worker --save-run`), and the sum of the workers' interval
/// histograms equals the controller's, bucket for bucket, for the whole run and for each
/// endpoint; the controller's JSON percentiles are read from it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn merged_percentiles_are_one_histogram_of_every_workers_samples() {
    use crate::reports::intervals;
    use hdrhistogram::Histogram;
    use std::collections::BTreeMap;
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        r#"
[load]
users = 6
spawn_rate = 100
run_time = "2500ms"
wait = "2ms"

[[endpoints]]
name = "slow"
path = "/delay/3"

[[endpoints]]
name = "quick"
path = "/"
weight = 2
"#,
    );
    let (json, saved) = (dir.join("out.json"), dir.join("ctl.hlog"));
    let (mut ctl, addr) = controller(&[
        &file,
        "--workers",
        "3",
        "--json",
        json.to_str().unwrap(),
        "--save-run",
        saved.to_str().unwrap(),
    ])
    .await;
    let logs: Vec<_> = (0..3).map(|i| dir.join(format!("w{i}.hlog"))).collect();
    let mut workers: Vec<Proc> = logs
        .iter()
        .map(|l| worker(&addr, &["--save-run", l.to_str().unwrap()]))
        .collect();
    ctl.succeeds(Duration::from_secs(60)).await;
    for w in &mut workers {
        w.succeeds(Duration::from_secs(20)).await;
        assert!(
            w.stderr().contains("saved its share of the run"),
            "{}",
            w.stderr()
        );
    }
    // Per tag (None: all requests), the sum of a log's intervals.
    let sums = |paths: &[std::path::PathBuf]| {
        let mut by_tag: BTreeMap<Option<String>, Histogram<u64>> = BTreeMap::new();
        for p in paths {
            for (tag, h) in intervals(&std::fs::read(p).unwrap()) {
                by_tag
                    .entry(tag)
                    .or_insert_with(|| Histogram::new(3).unwrap())
                    .add(&h)
                    .unwrap();
            }
        }
        by_tag
    };
    let workers_sum = sums(&logs);
    let controller_sum = sums(std::slice::from_ref(&saved));
    assert_eq!(
        workers_sum.len(),
        3,
        "all, slow and quick: {:?}",
        workers_sum.keys()
    );
    for (tag, w) in &workers_sum {
        let c = &controller_sum[tag];
        assert!(w.len() > 50, "{tag:?}: {}", w.len());
        assert_eq!(w.len(), c.len(), "{tag:?}: as many samples");
        let buckets = |h: &Histogram<u64>| -> Vec<(u64, u64)> {
            h.iter_recorded()
                .map(|v| (v.value_iterated_to(), v.count_at_value()))
                .collect()
        };
        assert_eq!(buckets(w), buckets(c), "{tag:?}: the same histogram");
    }
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let all = &workers_sum[&None];
    assert_eq!(doc["aggregated"]["requests"].as_u64(), Some(all.len()));
    for (q, key) in [(0.5, "50"), (0.95, "95"), (0.99, "99")] {
        let ours = doc["aggregated"]["percentiles_ms"][key].as_f64().unwrap();
        let one = all.value_at_quantile(q) as f64 / 1000.0;
        // HDR's three significant digits; the JSON rounds to µs.
        assert!(
            (ours - one).abs() <= one * 0.002 + 0.001,
            "p{key}: merged {ours} ms, one histogram {one} ms"
        );
    }
}

/// `--processes N`: swarm starts its workers itself. Under an open-files hard limit too
/// low for the users, a plain run says so and names the process count that holds them;
/// that run then completes under the same limit: the server's count is the swarm's, every
/// user ran, and no worker process outlives the run.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn processes_hold_more_users_than_one_process_may_and_leave_with_the_run() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        r#"
[load]
users = 500
spawn_rate = 2000
run_time = "60s"
wait = "50ms"

[[endpoints]]
name = "seq"
path = "/seq/{{seq}}"
"#,
    );
    // 256 open files at most, soft and hard: 500 users do not fit in one process.
    let limited = |args: &[&str]| {
        let mut c = swarm();
        c.args(args);
        // SAFETY: between fork and exec only setrlimit, which is async-signal-safe.
        unsafe {
            c.pre_exec(|| {
                rlimit::setrlimit(rlimit::Resource::NOFILE, 256, 256)?;
                Ok(())
            });
        }
        c
    };
    let mut plain = Proc::spawn(&mut limited(&[
        "run",
        &file,
        "--headless",
        "-r",
        "1",
        "-t",
        "1s",
    ]));
    plain.succeeds(Duration::from_secs(30)).await;
    let warning = plain.stderr();
    assert!(
        warning.contains("500 users need about 564 open files, above the hard limit of 256")
            && warning.contains("--processes 3"),
        "{warning}"
    );
    let none = crate::support::run(&["run", &file, "--headless", "--processes", "0"]).await;
    assert_eq!(none.status.code(), Some(2));
    assert!(text(&none.stderr).contains("--processes: give at least 1"));
    // A server of its own for the split run (-H), whose every request is the run's.
    let server = CountingServer::start().await;
    let json = dir.join("out.json");
    let mut split = Proc::spawn(&mut limited(&[
        "run",
        &file,
        "--headless",
        "-H",
        &server.url(),
        "--processes",
        "3",
        "-n",
        "3000",
        "--json",
        json.to_str().unwrap(),
    ]));
    let line = split
        .line_with("running over 3 worker processes", Duration::from_secs(20))
        .await;
    let addr = line
        .split("controller on ")
        .nth(1)
        .unwrap()
        .trim_end_matches(')')
        .to_string();
    split.succeeds(Duration::from_secs(90)).await;
    let err = split.stderr();
    assert!(!err.contains("warning"), "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["aggregated"]["requests"].as_u64(), Some(3000), "{doc}");
    assert_eq!(server.total(), 3000, "the server's count is the swarm's");
    assert_eq!(doc["aggregated"]["failures"].as_u64(), Some(0), "{doc}");
    assert_eq!(doc["users"].as_u64(), Some(500), "{doc}");
    assert_eq!(doc["workers"].as_array().map(Vec::len), Some(3), "{doc}");
    assert_eq!(server.paths().len(), 3000, "a {{seq}} value was used twice");
    // No `swarm worker --controller ADDR` is left.
    let left: Vec<String> = std::fs::read_dir("/proc")
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("worker --controller") && c.contains(&addr))
        .collect();
    assert!(left.is_empty(), "still running: {left:?}");
    let _ = std::fs::remove_dir_all(dir);
}

/// Ctrl-C at the terminal (SIGINT to the foreground process group) stops a `--processes`
/// run as it stops one process: the workers, in a group of their own, are not killed by
/// it; the controller stops them, the run ends with exit code 0, and every request the
/// server answered is in the report.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_stops_a_processes_run_with_every_workers_last_requests() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        r#"
[load]
users = 4
spawn_rate = 100
run_time = "60s"
wait = "20ms"

[[endpoints]]
path = "/"
"#,
    );
    let json = dir.join("out.json");
    let mut command = swarm();
    command
        .args(["run", &file, "--headless", "--processes", "2", "--json"])
        .arg(&json)
        // A group of its own, as a shell gives a foreground job.
        .process_group(0);
    let mut run = Proc::spawn(&mut command);
    run.line_with("starting them together", Duration::from_secs(20))
        .await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_signal("INT", &format!("-{}", run.child.id().unwrap()));
    run.succeeds(Duration::from_secs(30)).await;
    let err = run.stderr();
    assert!(!err.contains("was lost"), "{err}");
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let merged = doc["aggregated"]["requests"].as_u64().unwrap();
    assert!(merged > 20, "{doc}");
    assert_eq!(
        merged,
        server.total(),
        "the report holds every answered request"
    );
    assert!(doc.get("worker_lost").is_none_or(|v| v.is_null()), "{doc}");
    let _ = std::fs::remove_dir_all(dir);
}

/// A worker asked to stop by a signal (SIGTERM: a pod deleted) sends all its users
/// recorded before it leaves: the merged count is still the server's. The controller
/// counts it lost all the same (its share is gone), and with --tolerate-worker-loss the
/// other carries on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_worker_stopped_by_sigterm_leaves_with_every_request_it_made_reported() {
    let server = CountingServer::start().await;
    let Tolerant {
        mut ctl,
        mut w1,
        mut w2,
        json,
        dir,
    } = Tolerant::running(&server, "5ms").await;
    // Half a report's time after the last one, so that some requests are unreported.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    send_signal("TERM", &w2.child.id().unwrap().to_string());
    assert_eq!(
        w2.exit_code(Duration::from_secs(20)).await,
        Some(0),
        "{}",
        w2.stderr()
    );
    assert!(w2.stderr().contains("asked to stop"), "{}", w2.stderr());
    ctl.line_with("carry its share", Duration::from_secs(10))
        .await;
    ctl.succeeds(Duration::from_secs(30)).await;
    w1.succeeds(Duration::from_secs(20)).await;
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(doc["degraded"], true, "{doc}");
    assert_eq!(
        doc["aggregated"]["requests"].as_u64(),
        Some(server.total()),
        "every request the server answered is in the report: {doc}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// A controller whose workers never all join does not pass as a run: the wait has a bound
/// (Locust's --expect-workers-max-wait, exit 3 with the joined ones named), the progress
/// line says what it waits for, and one stopped by SIGTERM before any request exits
/// non-zero too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_whose_workers_never_joined_does_not_pass() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        "[load]\nusers = 2\nrun_time = \"2s\"\n[[endpoints]]\npath = \"/\"\n",
    );
    let (mut ctl, addr) =
        controller(&[&file, "--workers", "2", "--expect-workers-max-wait", "4"]).await;
    ctl.line_with("waiting for workers 0/2", Duration::from_secs(10))
        .await;
    let mut w1 = worker(&addr, &[]);
    ctl.line_with("(1/2 workers connected)", Duration::from_secs(20))
        .await;
    let code = ctl.exit_code(Duration::from_secs(20)).await;
    let said = ctl.stderr();
    assert_eq!(code, Some(3), "{said}");
    assert!(
        said.contains(
            "only 1/2 workers joined within 4s (--expect-workers-max-wait); joined: worker 0 ("
        ),
        "{said}"
    );
    assert!(said.contains("the run sent no request"), "{said}");
    let _ = w1.exit_code(Duration::from_secs(20)).await;

    let (mut ctl, _) = controller(&[&file, "--workers", "2"]).await;
    ctl.line_with("waiting for workers 0/2", Duration::from_secs(10))
        .await;
    send_signal("TERM", &ctl.child.id().unwrap().to_string());
    let code = ctl.exit_code(Duration::from_secs(20)).await;
    let said = ctl.stderr();
    assert_eq!(code, Some(3), "{said}");
    assert!(
        said.contains("the run sent no request: 0 of 2 workers joined"),
        "{said}"
    );
    assert_eq!(server.total(), 0);
}

/// A frozen controller (SIGSTOP: its socket stays open, nothing answers) no longer leaves
/// its workers loading the server forever: they find it silent as it finds a silent
/// worker, stop their users and say so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workers_stop_when_their_controller_goes_silent() {
    let server = CountingServer::start().await;
    let dir = tempdir();
    let file = scenario(
        &dir,
        &server.url(),
        "[load]\nusers = 2\nspawn_rate = 100\nrun_time = \"10m\"\nwait = \"20ms\"\n[[endpoints]]\npath = \"/\"\n",
    );
    let (mut ctl, addr) = controller(&[&file, "--workers", "1"]).await;
    let mut w = worker(&addr, &[]);
    ctl.line_with("running users 2/2", Duration::from_secs(20))
        .await;
    let pid = ctl.child.id().unwrap().to_string();
    send_signal("STOP", &pid);
    let code = w.exit_code(Duration::from_secs(20)).await;
    let seen = server.total();
    send_signal("CONT", &pid);
    send_signal("KILL", &pid);
    let _ = ctl.exit_code(Duration::from_secs(10)).await;
    assert_eq!(code, Some(3), "{}", w.stderr());
    assert!(
        w.stderr()
            .contains("lost the controller (it stopped answering"),
        "{}",
        w.stderr()
    );
    assert!(seen > 0);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.total(), seen, "no request after the worker left");
}
