//! Every run's control endpoint, used as a user would: `swarm scale` and `POST /v1/scale`
//! against a headless run (the server counts the requests it holds at once), `swarm
//! attach` in a pty, a TUI detached with D and attached again, `/v1/status` against the
//! final `--json`, the token, the live page in headless Chromium.

use crate::support::{free_loopback_addr, swarm, tempdir, text};
use crate::tui_e2e::{Tui, kill_runs, runtime_dir};
use bytes::Bytes;
use http_body_util::Full;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};

/// A server that holds each request 100 ms and knows how many it holds at once: with
/// no think time, that is the number of users.
struct InFlight {
    url: String,
    now: Arc<AtomicUsize>,
    most: Arc<AtomicUsize>,
    total: Arc<AtomicUsize>,
    task: tokio::task::JoinHandle<()>,
}

impl InFlight {
    async fn start() -> InFlight {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}", listener.local_addr().unwrap());
        let (now, most, total) = (Arc::default(), Arc::default(), Arc::default());
        let counters: (Arc<AtomicUsize>, Arc<AtomicUsize>, Arc<AtomicUsize>) =
            (Arc::clone(&now), Arc::clone(&most), Arc::clone(&total));
        let task = crate::support::accept_each(listener, move |stream| {
            let (now, most, total) = counters.clone();
            async move {
                let service = service_fn(move |_req| {
                    let (now, most, total) = (now.clone(), most.clone(), total.clone());
                    async move {
                        let n = now.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(n, Ordering::SeqCst);
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        now.fetch_sub(1, Ordering::SeqCst);
                        total.fetch_add(1, Ordering::SeqCst);
                        Ok::<_, std::convert::Infallible>(hyper::Response::new(Full::new(
                            Bytes::from_static(b"ok"),
                        )))
                    }
                });
                let _ = http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            }
        });
        InFlight {
            url,
            now,
            most,
            total,
            task,
        }
    }

    /// The most requests held at once over the next 600 ms.
    async fn window_most(&self) -> usize {
        self.most
            .store(self.now.load(Ordering::SeqCst), Ordering::SeqCst);
        tokio::time::sleep(Duration::from_millis(600)).await;
        self.most.load(Ordering::SeqCst)
    }

    /// Waits up to 15 s until a window holds exactly `n` at most.
    async fn wait_for(&self, n: usize) {
        let start = Instant::now();
        let mut seen = 0;
        while start.elapsed() < Duration::from_secs(15) {
            seen = self.window_most().await;
            if seen == n {
                return;
            }
        }
        panic!("the server never held {n} requests at once (last window: {seen})");
    }

    fn total(&self) -> usize {
        self.total.load(Ordering::SeqCst)
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn scenario(dir: &Path, host: &str, users: u32) -> PathBuf {
    let file = dir.join("control.toml");
    let text = format!(
        "name = \"control\"\nhost = \"{host}\"\n\n[load]\nusers = {users}\nspawn_rate = 100\nstop_timeout = \"1s\"\n\n[[endpoints]]\nname = \"held\"\npath = \"/held\"\n"
    );
    std::fs::write(&file, text).unwrap();
    file
}

/// A test's server, folders and scenario; the runs it left behind end with it.
struct Setup {
    server: InFlight,
    dir: PathBuf,
    runtime: PathBuf,
    file: PathBuf,
}

impl Setup {
    async fn new(users: u32) -> Setup {
        let server = InFlight::start().await;
        let (dir, runtime) = (tempdir(), runtime_dir());
        let file = scenario(&dir, &server.url, users);
        Setup {
            server,
            dir,
            runtime,
            file,
        }
    }

    fn file(&self) -> &str {
        self.file.to_str().unwrap()
    }

    /// `swarm run FILE --headless -t 60s --quiet ARGS` with this runtime folder.
    fn headless(&self, args: &[&str]) -> tokio::process::Child {
        swarm()
            .args(["run", self.file(), "--headless", "-t", "60s", "--quiet"])
            .args(args)
            .env("XDG_RUNTIME_DIR", &self.runtime)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap()
    }
}

impl Drop for Setup {
    fn drop(&mut self) {
        kill_runs(&self.runtime);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// One request and its whole answer: (status, body).
async fn http<S: AsyncRead + AsyncWrite + Unpin>(
    mut stream: S,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (u16, String) {
    let auth = token.map_or(String::new(), |t| format!("Authorization: Bearer {t}\r\n"));
    let req = format!(
        "{method} {path} HTTP/1.1\r\nHost: swarm\r\nConnection: close\r\n{auth}Content-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(req.as_bytes()).await.unwrap();
    let mut answer = Vec::new();
    stream.read_to_end(&mut answer).await.unwrap();
    let answer = text(&answer);
    let status = answer[9..12].parse().unwrap();
    let body = answer.split_once("\r\n\r\n").map_or("", |(_, b)| b);
    (status, body.to_string())
}

async fn tcp(
    addr: &str,
    method: &str,
    path: &str,
    body: &str,
    token: Option<&str>,
) -> (u16, String) {
    let stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    http(stream, method, path, body, token).await
}

async fn unix(socket: &Path, method: &str, path: &str) -> (u16, String) {
    let stream = tokio::net::UnixStream::connect(socket).await.unwrap();
    http(stream, method, path, "", None).await
}

/// The one run's socket under `runtime`, once it is there.
async fn socket_of(runtime: &Path) -> PathBuf {
    let start = Instant::now();
    while start.elapsed() < Duration::from_secs(15) {
        let found: Vec<PathBuf> = std::fs::read_dir(runtime.join("swarm"))
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "sock"))
            .collect();
        if let [one] = found.as_slice()
            && std::os::unix::net::UnixStream::connect(one).is_ok()
        {
            return one.clone();
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("no run socket appeared under {}", runtime.display());
}

/// `swarm ARGS` with this runtime folder; its output.
async fn swarm_in(runtime: &Path, args: &[&str]) -> std::process::Output {
    let out = swarm().args(args).env("XDG_RUNTIME_DIR", runtime).output();
    tokio::time::timeout(Duration::from_secs(30), out)
        .await
        .expect("swarm answers")
        .unwrap()
}

/// The Aggregated line of a TUI screen.
fn aggregated(screen: &str) -> String {
    screen
        .lines()
        .find(|l| l.contains("Aggregated"))
        .unwrap_or_default()
        .trim()
        .to_string()
}

/// The request count of the Aggregated line.
fn requests_on(screen: &str) -> u64 {
    aggregated(screen)
        .trim_matches('│')
        .split_whitespace()
        .nth(1)
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_headless_run_is_scaled_by_swarm_scale_and_by_post_v1_scale() {
    let t = Setup::new(2).await;
    let (server, runtime) = (&t.server, &t.runtime);
    let json = t.dir.join("run.json");
    let control = free_loopback_addr();
    let run = t.headless(&["--control", &control, "--json", json.to_str().unwrap()]);
    server.wait_for(2).await;

    let attach = swarm_in(runtime, &["attach"]).await;
    assert_eq!(attach.status.code(), Some(2), "no terminal, no TUI");
    assert!(
        text(&attach.stderr).contains("not a terminal"),
        "{}",
        text(&attach.stderr)
    );
    let ps = swarm_in(runtime, &["ps"]).await;
    assert!(
        text(&ps.stdout).contains("headless      control"),
        "{}",
        text(&ps.stdout)
    );
    let out = swarm_in(runtime, &["scale", "-u", "5"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stdout).contains("set the users to 5"),
        "{}",
        text(&out.stdout)
    );
    server.wait_for(5).await;
    let status = swarm_in(runtime, &["status", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["users_now"], 5, "{doc}");

    let (code, body) = tcp(&control, "POST", "/v1/scale", "{\"users\":3}", None).await;
    assert_eq!(code, 200, "{body}");
    server.wait_for(3).await;
    let (code, body) = tcp(&control, "POST", "/v1/scale", "{\"users\":\"many\"}", None).await;
    assert_eq!(code, 400, "a bad body is refused: {body}");
    // A typo's zeros: more users than this machine's memory holds would have had the
    // kernel kill the run. Refused, and the run goes on as it was.
    let (code, body) = tcp(
        &control,
        "POST",
        "/v1/scale",
        "{\"users\":4000000000}",
        None,
    )
    .await;
    assert_eq!(code, 400, "{body}");
    assert!(
        body.contains("more than the") && body.contains("MB this machine has available"),
        "{body}"
    );
    let status = swarm_in(runtime, &["status", "--json"]).await;
    let doc: serde_json::Value = serde_json::from_slice(&status.stdout).unwrap();
    assert_eq!(doc["users_now"], 3, "{doc}");

    // What a script gets wrong is answered with what was wrong.
    let (code, body) = tcp(&control, "GET", "/v1/scale", "", None).await;
    assert_eq!(code, 405, "{body}");
    let (code, body) = tcp(&control, "GET", "/v2/nothing", "", None).await;
    assert_eq!(code, 404);
    assert!(
        body.contains("/v1/status"),
        "the 404 lists the routes: {body}"
    );
    let (code, body) = tcp(&control, "POST", "/v1/scale", "{\"arrival_rate\":5}", None).await;
    assert_eq!(code, 409, "a closed-model run has no arrival rate: {body}");
    let (code, _) = tcp(
        &control,
        "POST",
        "/v1/scale",
        "{\"users\":3,\"oops\":1}",
        None,
    )
    .await;
    assert_eq!(code, 400, "an unknown key is refused, not ignored");

    let (code, _) = tcp(&control, "POST", "/v1/stop", "", None).await;
    assert_eq!(code, 200);
    let out = tokio::time::timeout(Duration::from_secs(20), run.wait_with_output())
        .await
        .expect("the run ends after /v1/stop")
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    let controls: Vec<String> = report["controls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            format!(
                "{}: {}",
                c["who"].as_str().unwrap(),
                c["what"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(controls.len(), 3, "{controls:?}");
    assert!(
        controls[0].starts_with("swarm scale (pid ") && controls[0].ends_with("set the users to 5")
    );
    assert!(controls[1].starts_with("127.0.0.1:") && controls[1].ends_with("set the users to 3"));
    assert!(text(&out.stdout).contains("Controls during the run"));
    let requests = report["aggregated"]["requests"].as_u64().unwrap() as usize;
    assert_eq!(requests, server.total(), "swarm's count is the server's");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn swarm_attach_shows_a_headless_run_and_its_keys_steer_it() {
    let t = Setup::new(2).await;
    let (server, runtime) = (&t.server, &t.runtime);
    let mut run = t.headless(&[]);
    server.wait_for(2).await;

    let mut tui = Tui::in_runtime(&["attach"], (24, 80), runtime);
    tui.wait("the live run", |s| {
        s.contains("● running") && s.contains("users 2/2") && requests_on(s) > 0
    })
    .await;
    let before = requests_on(&tui.screen());
    tui.wait("figures that move", |s| requests_on(s) > before)
        .await;
    tui.send("+");
    tui.wait("three users", |s| s.contains("users 3/3")).await;
    server.wait_for(3).await;

    // A control from elsewhere moves the slider and says who did it.
    let out = swarm_in(runtime, &["scale", "-u", "4"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    tui.wait("the scale from elsewhere", |s| {
        s.contains("users 4/4") && s.contains("swarm scale (pid") && s.contains("Users ")
    })
    .await;
    assert!(
        tui.screen().contains(" 4 (+/-"),
        "the slider follows:\n{}",
        tui.screen()
    );
    tui.send("-");
    tui.wait("three users", |s| s.contains("users 3/3")).await;
    server.wait_for(3).await;

    // A second terminal sees the same run.
    let second = Tui::in_runtime(&["attach"], (24, 80), runtime);
    second
        .wait("the same users", |s| s.contains("users 3/3"))
        .await;

    tui.send("D");
    let (status, output) = tui.exited().await;
    assert!(status.success(), "{output}");
    assert!(output.contains("detached"), "{output}");
    assert!(
        run.try_wait().unwrap().is_none(),
        "the run goes on after a detach"
    );
    drop(second);
    let out = swarm_in(runtime, &["stop"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ended = tokio::time::timeout(Duration::from_secs(20), run.wait()).await;
    assert!(ended.is_ok_and(|s| s.unwrap().success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_detached_tui_run_goes_on_and_attach_brings_it_back_with_its_history() {
    let t = Setup::new(2).await;
    let (server, runtime, file) = (&t.server, &t.runtime, &t.file);
    let (json, csv) = (t.dir.join("detached.json"), t.dir.join("detached"));
    let args = [
        "run",
        file.to_str().unwrap(),
        "--json",
        json.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ];
    let mut owner = Tui::in_runtime(&args, (24, 80), runtime);
    owner
        .wait("the idle screen", |s| s.contains("● idle"))
        .await;
    owner.send("s");
    owner.wait("traffic", |s| requests_on(s) > 20).await;
    owner.send("D");
    let (status, output) = owner.exited().await;
    assert!(status.success(), "{output}");
    assert!(
        output.contains("swarm attach"),
        "it says how to come back: {output}"
    );
    // The terminal closes.
    drop(owner);
    let at_detach = server.total();
    tokio::time::sleep(Duration::from_millis(800)).await;
    assert!(
        server.total() > at_detach,
        "the run goes on with its terminal gone"
    );

    let mut back = Tui::in_runtime(&["attach"], (24, 80), runtime);
    back.wait("the run again", |s| s.contains("● running"))
        .await;
    let shown = requests_on(&back.screen()) as usize;
    assert!(
        shown >= at_detach,
        "the figures from before the detach are there: {shown} < {at_detach}"
    );
    back.send("2");
    back.wait("the chart from the start", |s| {
        s.contains("Requests/s") && s.contains("0s")
    })
    .await;
    back.send("q");
    back.wait("the quit question", |s| {
        s.contains("Quit?") && s.contains("d detach")
    })
    .await;
    back.send("y");
    let (status, output) = back.exited().await;
    assert!(status.success(), "{output}");
    let report = output.rsplit("\x1b[?1049l").next().unwrap_or("");
    assert!(
        report.contains("Aggregated"),
        "the run's report comes to the terminal that ended it:\n{report}"
    );
    // The detached run wrote every report file it was asked for.
    let doc: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        doc["aggregated"]["requests"].as_u64().unwrap() as usize,
        server.total()
    );
    assert!(t.dir.join("detached_stats.csv").exists());
    let ps = swarm_in(runtime, &["ps"]).await;
    assert!(
        text(&ps.stdout).contains("no swarm run"),
        "{}",
        text(&ps.stdout)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_status_at_the_end_is_the_final_json_and_every_terminal_sees_the_same() {
    let t = Setup::new(3).await;
    let (server, runtime, file) = (&t.server, &t.runtime, &t.file);
    let json = t.dir.join("final.json");
    let args = [
        "run",
        file.to_str().unwrap(),
        "--autostart",
        "-t",
        "2s",
        "--json",
        json.to_str().unwrap(),
    ];
    let mut owner = Tui::in_runtime(&args, (24, 80), runtime);
    owner
        .wait("the run's end", |s| s.contains("● stopped"))
        .await;
    let socket = socket_of(runtime).await;
    let (code, live) = unix(&socket, "GET", "/v1/status").await;
    assert_eq!(code, 200);

    let second = Tui::in_runtime(&["attach"], (24, 80), runtime);
    second
        .wait("the stopped run", |s| s.contains("● stopped"))
        .await;
    assert_eq!(aggregated(&second.screen()), aggregated(&owner.screen()));
    drop(second);

    owner.send("q");
    let (status, output) = owner.exited().await;
    assert!(status.success(), "{output}");
    let live: serde_json::Value = serde_json::from_str(&live).unwrap();
    let fin: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&json).unwrap()).unwrap();
    assert_eq!(
        live, fin,
        "GET /v1/status at the end is the --json document"
    );
    assert_eq!(
        fin["aggregated"]["requests"].as_u64().unwrap() as usize,
        server.total()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_port_asks_for_its_token() {
    let t = Setup::new(1).await;
    let (server, runtime, file) = (&t.server, &t.runtime, &t.file);
    let f = file.to_str().unwrap();
    let out = swarm_in(
        runtime,
        &["run", f, "--headless", "-t", "5s", "--control", "0.0.0.0:0"],
    )
    .await;
    assert_eq!(out.status.code(), Some(2));
    assert!(
        text(&out.stderr).contains("needs a token"),
        "{}",
        text(&out.stderr)
    );
    assert_eq!(server.total(), 0, "refused before any request");

    let token_file = t.dir.join("token");
    std::fs::write(&token_file, "s3cret-token-for-the-test\n").unwrap();
    let control = free_loopback_addr();
    let mut run = t.headless(&[
        "--control",
        &control,
        "--token-file",
        token_file.to_str().unwrap(),
    ]);
    server.wait_for(1).await;
    assert_eq!(tcp(&control, "GET", "/v1/status", "", None).await.0, 401);
    assert_eq!(
        tcp(
            &control,
            "POST",
            "/v1/scale",
            "{\"users\":9}",
            Some("wrong")
        )
        .await
        .0,
        401
    );
    assert_eq!(
        tcp(
            &control,
            "GET",
            "/metrics",
            "",
            Some("s3cret-token-for-the-test")
        )
        .await
        .0,
        200
    );
    server.wait_for(1).await;
    let (code, _) = tcp(
        &control,
        "POST",
        "/v1/stop",
        "",
        Some("s3cret-token-for-the-test"),
    )
    .await;
    assert_eq!(code, 200);
    let ended = tokio::time::timeout(Duration::from_secs(20), run.wait()).await;
    assert!(ended.is_ok_and(|s| s.unwrap().success()));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_live_page_renders_in_chromium_with_nothing_from_elsewhere() {
    let Some(bin) = crate::reports::chromium() else {
        return;
    };
    let t = Setup::new(2).await;
    let server = &t.server;
    let control = free_loopback_addr();
    let mut run = t.headless(&["--control", &control]);
    server.wait_for(2).await;
    let (code, page) = tcp(&control, "GET", "/", "", None).await;
    assert_eq!(code, 200);
    assert!(
        page.contains("http-equiv=\"refresh\""),
        "the page refreshes itself"
    );
    for attr in ["src=", "href=", "@import", "url("] {
        for (i, _) in page.match_indices(attr) {
            let after = &page[i..(i + 40).min(page.len())];
            assert!(!after.contains("http"), "an external reference: {after}");
        }
    }
    assert!(!page.contains("<script"), "no script");
    let dom = crate::reports::in_chromium_at(
        &bin,
        &t.dir.join("profile"),
        &format!("http://{control}/"),
        "--dump-dom",
    )
    .await;
    assert!(
        dom.contains("swarm report: control") && dom.contains("held"),
        "{dom}"
    );
    let _ = tcp(&control, "POST", "/v1/stop", "", None).await;
    let _ = tokio::time::timeout(Duration::from_secs(20), run.wait()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_closed_terminal_detaches_and_stop_on_hangup_stops() {
    let t = Setup::new(2).await;
    let (server, runtime, file) = (&t.server, &t.runtime, &t.file);
    let f = file.to_str().unwrap();
    for stop in [false, true] {
        let args: &[&str] = if stop {
            &["run", f, "--autostart", "--stop-on-hangup"]
        } else {
            &["run", f, "--autostart"]
        };
        let mut tui = Tui::in_runtime(args, (24, 80), runtime);
        tui.wait("traffic", |s| requests_on(s) > 10).await;
        crate::support::send_signal("HUP", &tui.pid().to_string());
        let (status, output) = tui.exited().await;
        assert!(status.success(), "{output}");
        drop(tui);
        let ps = swarm_in(runtime, &["ps"]).await;
        let listed = text(&ps.stdout).contains("tui           control");
        if stop {
            assert!(
                !listed,
                "--stop-on-hangup ends the run: {}",
                text(&ps.stdout)
            );
            let at_stop = server.total();
            tokio::time::sleep(Duration::from_millis(500)).await;
            assert_eq!(server.total(), at_stop, "no traffic after the run ended");
        } else {
            assert!(listed, "the run goes on: {}", text(&ps.stdout));
            let out = swarm_in(runtime, &["stop"]).await;
            assert!(out.status.success(), "{}", text(&out.stderr));
            let start = Instant::now();
            while text(&swarm_in(runtime, &["ps"]).await.stdout).contains("control")
                && start.elapsed() < Duration::from_secs(15)
            {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_control_port_speaks_tls_with_tls_cert() {
    let t = Setup::new(1).await;
    let (ca, cert, key) = crate::cluster::loopback_tls_files(&t.dir);
    let control = free_loopback_addr();
    let mut run = t.headless(&[
        "--control",
        &control,
        "--tls-cert",
        &cert,
        "--tls-key",
        &key,
    ]);
    t.server.wait_for(1).await;
    let https = format!("https://{control}");
    let status = swarm_in(&t.runtime, &["status", &https, "--tls-ca", &ca]).await;
    assert!(status.status.success(), "{}", text(&status.stderr));
    assert!(
        text(&status.stdout).contains("running"),
        "{}",
        text(&status.stdout)
    );
    // Without the CA the run's certificate is not trusted; plain HTTP gets no answer.
    let refused = swarm_in(&t.runtime, &["status", &https]).await;
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr).contains("TLS"),
        "{}",
        text(&refused.stderr)
    );
    let plain = swarm_in(&t.runtime, &["status", &control]).await;
    assert!(!plain.status.success());
    let out = swarm_in(&t.runtime, &["scale", &https, "--tls-ca", &ca, "-u", "2"]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    t.server.wait_for(2).await;
    let out = swarm_in(&t.runtime, &["stop", &https, "--tls-ca", &ca]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    let ended = tokio::time::timeout(Duration::from_secs(20), run.wait()).await;
    assert!(ended.is_ok_and(|s| s.unwrap().success()));
}

/// A socket folder others can open is not used (whoever opens the socket steers the run),
/// and the run goes on without it, saying so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_run_without_a_safe_socket_folder_still_runs() {
    use std::os::unix::fs::PermissionsExt;
    let t = Setup::new(1).await;
    let open = t.dir.join("open");
    std::fs::create_dir_all(open.join("swarm")).unwrap();
    std::fs::set_permissions(open.join("swarm"), std::fs::Permissions::from_mode(0o777)).unwrap();
    let out = swarm()
        .args(["run", t.file(), "--headless", "-t", "1s", "--json", "-"])
        .env("XDG_RUNTIME_DIR", &open)
        .output()
        .await
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert!(
        text(&out.stderr).contains("no control socket for this run"),
        "{}",
        text(&out.stderr)
    );
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(
        doc["aggregated"]["requests"].as_u64().unwrap() as usize,
        t.server.total()
    );
    assert_eq!(std::fs::read_dir(open.join("swarm")).unwrap().count(), 0);
}
