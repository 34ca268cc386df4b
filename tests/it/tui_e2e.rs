//! The real binary in a pseudo-terminal, read through a terminal emulator (vt100), against a
//! counting server: open idle, start, raise users, edit an endpoint, save, stop, quit.

use crate::support::CountingServer;
use portable_pty::{CommandBuilder, PtySize, native_pty_system};
use std::io::{Read, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

pub(crate) struct Tui {
    /// Its own folder of run sockets (XDG_RUNTIME_DIR): its runs, and no other test's;
    /// None when the test gave it one (and ends the runs there itself).
    runtime: Option<std::path::PathBuf>,
    parser: Arc<Mutex<vt100::Parser>>,
    raw: Arc<Mutex<Vec<u8>>>,
    writer: Box<dyn Write + Send>,
    child: Box<dyn portable_pty::Child + Send + Sync>,
}

impl Tui {
    pub(crate) fn start(args: &[&str]) -> Tui {
        Tui::sized(args, 24, 80)
    }

    fn sized(args: &[&str], rows: u16, cols: u16) -> Tui {
        let runtime = runtime_dir();
        let mut tui = Tui::in_runtime(args, (rows, cols), &runtime);
        tui.runtime = Some(runtime);
        tui
    }

    /// A terminal on the runs of `runtime` (a second terminal attaches to the first's).
    pub(crate) fn in_runtime(
        args: &[&str],
        (rows, cols): (u16, u16),
        runtime: &std::path::Path,
    ) -> Tui {
        let pair = native_pty_system()
            .openpty(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            })
            .unwrap();
        let mut cmd = CommandBuilder::new(env!("CARGO_BIN_EXE_swarm"));
        cmd.args(args);
        cmd.cwd(env!("CARGO_MANIFEST_DIR"));
        cmd.env("TERM", "xterm-256color");
        cmd.env("XDG_RUNTIME_DIR", runtime);
        let child = pair.slave.spawn_command(cmd).unwrap();
        drop(pair.slave);
        let mut reader = pair.master.try_clone_reader().unwrap();
        let writer = pair.master.take_writer().unwrap();
        let parser = Arc::new(Mutex::new(vt100::Parser::new(
            std::num::NonZero::new(rows).unwrap(),
            std::num::NonZero::new(cols).unwrap(),
            0,
        )));
        let raw = Arc::new(Mutex::new(Vec::new()));
        let (p, r) = (Arc::clone(&parser), Arc::clone(&raw));
        std::thread::spawn(move || {
            let _master = pair.master;
            let mut buf = [0u8; 8192];
            while let Ok(n) = reader.read(&mut buf) {
                if n == 0 {
                    break;
                }
                p.lock().unwrap().process(&buf[..n]);
                r.lock().unwrap().extend_from_slice(&buf[..n]);
            }
        });
        Tui {
            runtime: None,
            parser,
            raw,
            writer,
            child,
        }
    }

    /// The process id of swarm in the terminal.
    pub(crate) fn pid(&self) -> u32 {
        self.child.process_id().unwrap()
    }

    pub(crate) fn screen(&self) -> String {
        self.parser.lock().unwrap().screen().contents()
    }

    pub(crate) fn send(&mut self, keys: &str) {
        self.writer.write_all(keys.as_bytes()).unwrap();
        self.writer.flush().unwrap();
        std::thread::sleep(Duration::from_millis(150));
    }

    /// Waits up to 15 s for `cond`, failing with the screen as it was.
    pub(crate) async fn wait(&self, what: &str, cond: impl Fn(&str) -> bool) {
        let start = Instant::now();
        while start.elapsed() < Duration::from_secs(15) {
            if cond(&self.screen()) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!("timed out waiting for {what}; screen:\n{}", self.screen());
    }
}

impl Tui {
    /// Waits up to 10 s for swarm to exit; its status and everything it wrote.
    pub(crate) async fn exited(&mut self) -> (portable_pty::ExitStatus, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "swarm did not exit; screen:\n{}",
                self.screen()
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        };
        // The reader thread takes the last bytes after the exit.
        tokio::time::sleep(Duration::from_millis(200)).await;
        let output = String::from_utf8_lossy(&self.raw.lock().unwrap()).into_owned();
        (status, output)
    }
}

impl Drop for Tui {
    fn drop(&mut self) {
        let _ = self.child.kill();
        if let Some(r) = &self.runtime {
            kill_runs(r);
        }
    }
}

/// A fresh folder for run sockets, only this user's (as swarm asks).
pub(crate) fn runtime_dir() -> std::path::PathBuf {
    use std::os::unix::fs::PermissionsExt;
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let dir = std::env::temp_dir().join(format!("swarm-rt-{}-{n}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::set_permissions(&dir, std::fs::Permissions::from_mode(0o700)).unwrap();
    dir
}

/// Ends every run still listed under `runtime` (a test that failed midway leaves its
/// background run behind otherwise) and removes the folder.
pub(crate) fn kill_runs(runtime: &std::path::Path) {
    for entry in std::fs::read_dir(runtime.join("swarm"))
        .into_iter()
        .flatten()
        .flatten()
    {
        let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
        let pid = serde_json::from_str::<serde_json::Value>(&text)
            .ok()
            .and_then(|v| v["pid"].as_u64());
        if let Some(pid) = pid {
            let _ = std::process::Command::new("kill")
                .args(["-9", &pid.to_string()])
                .status();
        }
    }
    let _ = std::fs::remove_dir_all(runtime);
}

/// The req/s figure in the header.
fn header_rps(screen: &str) -> f64 {
    screen
        .split("req/s ")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.parse().ok())
        .unwrap_or(0.0)
}

const SCENARIO: &str = "# e2e scenario: this comment must survive a save\nhost = \"{host}\"\n\n[load]\nusers = 2   # two to begin with\nspawn_rate = 20\nwait = \"20ms\"\nstop_timeout = \"1s\"\n\n[[endpoints]]\nname = \"alpha\"\npath = \"/a\"\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_drives_a_real_swarm() {
    let server = CountingServer::start().await;
    let dir = std::env::temp_dir().join(format!("swarm-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("e2e.toml");
    std::fs::write(&file, SCENARIO.replace("{host}", &server.url())).unwrap();
    let mut tui = Tui::start(&["run", file.to_str().unwrap()]);

    tui.wait("the idle screen", |s| {
        s.contains("● idle") && s.contains("alpha")
    })
    .await;
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.total(), 0, "the TUI opens idle");

    tui.send("s");
    tui.wait("traffic on screen", |s| header_rps(s) > 0.0).await;
    assert!(server.count("/a") > 0);

    tui.send("+");
    tui.wait("three users", |s| s.contains("users 3/3")).await;

    tui.send("4");
    tui.send("e");
    tui.send("\t\t\x15/b\r");
    tui.wait("the edit applied", |s| s.contains("endpoint saved"))
        .await;
    let start = Instant::now();
    while server.count("/b") == 0 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(
        server.count("/b") > 0,
        "the edited endpoint reached the server"
    );

    tui.send("\x13");
    // "endpoint saved" from the edit may still be on screen: wait for the file's path.
    tui.wait("saved", |s| s.contains("saved /")).await;
    let saved = std::fs::read_to_string(&file).unwrap();
    assert!(
        saved.starts_with("# e2e scenario: this comment must survive a save\n"),
        "{saved}"
    );
    assert!(saved.contains("users = 3   # two to begin with"), "{saved}");
    assert!(saved.contains("path = \"/b\""), "{saved}");

    tui.send("x");
    tui.wait("stopped", |s| s.contains("● stopped")).await;
    let after_stop = server.total();
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(server.total(), after_stop, "no traffic after x");

    tui.send("+");
    tui.send("q");
    tui.wait("the quit question", |s| s.contains("Quit?")).await;
    tui.send("y");
    let (status, output) = tui.exited().await;
    assert!(status.success(), "exit status {status:?}");
    let report = output.rsplit("\x1b[?1049l").next().unwrap_or("");
    assert!(
        report.contains("Aggregated") && report.contains("Response time percentiles"),
        "report after the TUI:\n{report}"
    );
    assert!(report.contains("alpha"));
    let _ = std::fs::remove_dir_all(dir);
}

/// Saving never loses work: a file changed on disk is not silently overwritten, a 0600
/// file stays 0600, a symlink keeps pointing at the file it names, and `-H` is not
/// written into the file.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_ask_before_losing_work_and_keep_the_file_as_it_was() {
    use std::os::unix::fs::PermissionsExt;
    let server = CountingServer::start().await;
    let dir = std::env::temp_dir().join(format!("swarm-e2e-save-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let real = dir.join("real.toml");
    // The file's own host is not where the run goes: -H points at the test server.
    std::fs::write(&real, SCENARIO.replace("{host}", "http://127.0.0.1:9")).unwrap();
    std::fs::set_permissions(&real, std::fs::Permissions::from_mode(0o600)).unwrap();
    let link = dir.join("link.toml");
    std::os::unix::fs::symlink("real.toml", &link).unwrap();
    let mut tui = Tui::start(&["run", link.to_str().unwrap(), "-H", &server.url()]);
    tui.wait("the idle screen", |s| s.contains("● idle")).await;

    tui.send("+");
    let theirs = std::fs::read_to_string(&real).unwrap() + "# added by another editor\n";
    std::fs::write(&real, &theirs).unwrap();
    tui.send("\x13");
    tui.wait("the changed-on-disk question", |s| {
        s.contains("changed on disk") && s.contains("reload")
    })
    .await;
    assert_eq!(
        std::fs::read_to_string(&real).unwrap(),
        theirs,
        "nothing written yet"
    );

    tui.send("r");
    tui.wait("the reload", |s| s.contains("reloaded")).await;
    tui.send("+");
    tui.send("\x13");
    tui.wait("saved", |s| s.contains("saved /")).await;
    let saved = std::fs::read_to_string(&real).unwrap();
    assert!(saved.contains("# added by another editor"), "{saved}");
    assert!(saved.contains("users = 3"), "{saved}");
    assert!(
        saved.contains("http://127.0.0.1:9\""),
        "-H is not saved: {saved}"
    );
    assert!(!saved.contains(&server.url()), "{saved}");
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    let mode = std::fs::metadata(&real).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode, 0o600);

    // Overwrite, when the user says so.
    std::fs::write(&real, "# replaced\n").unwrap();
    tui.send("+");
    tui.send("\x13");
    tui.wait("the question again", |s| s.contains("changed on disk"))
        .await;
    tui.send("o");
    tui.wait("saved", |s| s.contains("saved /")).await;
    assert!(
        std::fs::read_to_string(&real)
            .unwrap()
            .contains("users = 4")
    );

    // The run went to -H's server.
    tui.send("s");
    let start = Instant::now();
    while server.total() == 0 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(server.total() > 0, "traffic reached the -H server");
    let _ = std::fs::remove_dir_all(dir);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_tui_drives_a_distributed_run_of_two_workers() {
    let server = CountingServer::start().await;
    let dir = crate::support::tempdir();
    let file = dir.join("dist.toml");
    std::fs::write(&file, SCENARIO.replace("{host}", &server.url())).unwrap();
    // A free port for the controller (the TUI's screen hides what it prints first).
    let listen = crate::support::free_loopback_addr();
    let mut tui = Tui::start(&[
        "run",
        file.to_str().unwrap(),
        "--workers",
        "2",
        "--listen",
        &listen,
    ]);
    tui.wait("the controller waiting", |s| s.contains("workers 0/2"))
        .await;
    let spawn_worker = || {
        crate::support::swarm()
            .args(["worker", "--controller", &listen])
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap()
    };
    let mut w1 = spawn_worker();
    let mut w2 = spawn_worker();
    tui.wait("both workers in", |s| s.contains("workers 2/2"))
        .await;
    assert_eq!(server.total(), 0, "nothing runs before the start");
    tui.send("s");
    tui.wait("two users over two workers", |s| s.contains("users 2/2"))
        .await;
    // The users slider reaches the whole swarm: two more, one on each worker.
    tui.send("+");
    tui.send("+");
    tui.wait("four users", |s| s.contains("users 4/4")).await;
    tui.send("6");
    tui.wait("the workers view with both running two users", |s| {
        s.contains("Workers: 2/2 connected")
            && s.lines()
                .filter(|l| l.contains("running") && l.split_whitespace().nth(4) == Some("2"))
                .count()
                == 2
    })
    .await;
    assert!(server.total() > 0);
    // An endpoint edit reaches every worker: both send to the new path (the server sees
    // user ids of both, 0 and 1 mod 2, in its query).
    tui.send("4");
    tui.send("e");
    tui.send("\t\t\x15/b?u={{user.id}}\r");
    tui.wait("the edit applied", |s| s.contains("endpoint saved"))
        .await;
    let start = Instant::now();
    let users_on_b = || {
        server
            .paths()
            .iter()
            .filter_map(|p| p.strip_prefix("/b?u="))
            .filter_map(|id| id.parse::<u64>().ok())
            .map(|id| id % 2)
            .collect::<std::collections::BTreeSet<u64>>()
    };
    while users_on_b().len() < 2 && start.elapsed() < Duration::from_secs(15) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(
        users_on_b().len(),
        2,
        "both workers took the edit; screen:\n{}",
        tui.screen()
    );
    let a_before = server.count("/a");
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        server.count("/a"),
        a_before,
        "no worker kept the old endpoint"
    );
    tui.send("x");
    tui.wait("stopped", |s| s.contains("stopped")).await;
    tui.send("q");
    tui.wait("the quit question", |s| s.contains("unsaved changes"))
        .await;
    tui.send("y");
    let ended = tokio::time::timeout(Duration::from_secs(20), async {
        (
            w1.wait().await.unwrap().code(),
            w2.wait().await.unwrap().code(),
        )
    })
    .await
    .expect("the workers leave when the controller quits");
    assert_eq!(ended, (Some(0), Some(0)));
}

/// Keys that acted wrongly, through the real key map and screen, at 80x24 and 200x50:
/// a pre-filled prompt is replaced by what is typed (7 users and "12" gave 712), Esc
/// closes the popups that say "Esc cancels", Esc on an edited TOML or endpoint form asks
/// before it throws the edits away, and `f` after a finished run searches (it ended at
/// once on the old run's "stopped" and left the load running).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prompts_and_popups_do_what_their_keys_say() {
    for (rows, cols) in [(24, 80), (50, 200)] {
        let server = CountingServer::start().await;
        let dir = crate::support::tempdir();
        let file = dir.join("keys.toml");
        std::fs::write(&file, SCENARIO.replace("{host}", &server.url())).unwrap();
        let mut tui = Tui::sized(&["run", file.to_str().unwrap()], rows, cols);
        tui.wait("the idle screen", |s| s.contains("● idle")).await;
        tui.send("s");
        tui.wait("two users", |s| s.contains("users 2/2")).await;

        // u: the current target is proposed, selected; typing replaces it.
        tui.send("u");
        tui.wait("the ramp prompt", |s| s.contains("type to replace"))
            .await;
        tui.send("5\r");
        tui.wait("five users, not 25", |s| s.contains("users 5/5"))
            .await;

        // Esc closes the quit question.
        tui.send("q");
        tui.wait("the quit question", |s| s.contains("Quit?")).await;
        tui.send("\x1b");
        tui.wait("the question closed", |s| !s.contains("Quit?"))
            .await;

        // Esc on an edited TOML asks; a second Esc discards.
        tui.send("t");
        tui.wait("the TOML editor", |s| s.contains("Scenario TOML"))
            .await;
        tui.send("#");
        tui.send("\x1b");
        tui.wait("the question", |s| s.contains("Discard your edits"))
            .await;
        tui.send("\x1b");
        tui.wait("the editor closed", |s| !s.contains("Scenario TOML"))
            .await;

        // Esc on an edited endpoint form asks too.
        tui.send("4");
        tui.send("e");
        tui.wait("the form", |s| s.contains("Edit endpoint")).await;
        tui.send("z");
        tui.send("\x1b");
        tui.wait("the form's question", |s| {
            s.contains("Discard your changes")
        })
        .await;
        tui.send("\x1b");
        tui.wait("the form closed", |s| !s.contains("Edit endpoint"))
            .await;
        tui.send("1");

        // f after the run: the search runs its own steps and ends its load.
        tui.send("x");
        tui.wait("stopped", |s| s.contains("● stopped")).await;
        // A setting the search would not honour is refused in the prompt.
        tui.send("f");
        tui.wait("the SLO prompt", |s| s.contains("Capacity search"))
            .await;
        tui.send("p95<5s start=3 max=2\r");
        tui.wait("the refusal", |s| s.contains("start=3 is above max=2"))
            .await;
        // So is an SLO on a stream's time where nothing streams.
        for _ in 0.."p95<5s start=3 max=2".len() {
            tui.send("\x7f");
        }
        tui.send("ttft_p95<1s\r");
        tui.wait("the stream refusal", |s| {
            s.contains("ttft_p95<1s: no endpoint of this scenario streams")
        })
        .await;
        tui.send("\x1b");
        tui.wait("the prompt closed", |s| !s.contains("Capacity search"))
            .await;
        tui.send("f");
        tui.wait("the SLO prompt", |s| s.contains("Capacity search"))
            .await;
        tui.send("p95<5s start=1 step=1 max=2 hold=1s settle=0s\r");
        tui.wait("the search done", |s| s.contains("Capacity: 2 users and"))
            .await;
        let screen = tui.screen();
        assert!(!screen.contains("no step met the SLO"), "{screen}");
        tui.wait("the load ended", |s| s.contains("● stopped"))
            .await;
        let after = server.total();
        tokio::time::sleep(Duration::from_millis(500)).await;
        assert_eq!(server.total(), after, "no load after the search ended");
        let _ = std::fs::remove_dir_all(dir);
    }
}

/// Saving from `swarm demo` keeps the file's host: the demo server's port is for this run
/// only (it was written into the file).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scenario_saved_from_the_demo_keeps_its_host() {
    let dir = crate::support::tempdir();
    let saved = dir.join("mine.toml");
    let mut tui = Tui::start(&["demo"]);
    tui.wait("the demo", |s| s.contains("● idle")).await;
    tui.send("\x13");
    tui.wait("the save-as prompt", |s| s.contains("Save")).await;
    tui.send(&format!("{}\r", saved.display()));
    tui.wait("saved", |s| s.contains("saved /")).await;
    let text = std::fs::read_to_string(&saved).unwrap();
    assert!(text.contains("host = \"http://127.0.0.1:8089\""), "{text}");
    tui.send("q");
    let _ = std::fs::remove_dir_all(dir);
}

/// Ctrl-S means one thing in every place: save the file (the TOML editor applied its
/// text and left the file unsaved); the help names view 6.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_s_saves_from_the_toml_editor_too() {
    let server = CountingServer::start().await;
    let dir = crate::support::tempdir();
    let file = dir.join("ctrl_s.toml");
    std::fs::write(&file, SCENARIO.replace("{host}", &server.url())).unwrap();
    let mut tui = Tui::start(&["run", file.to_str().unwrap()]);
    tui.wait("the idle screen", |s| s.contains("● idle")).await;
    tui.send("?");
    tui.wait("the help", |s| s.contains("1 … 6")).await;
    tui.send("\x1b");
    tui.send("t");
    tui.wait("the TOML editor", |s| s.contains("Scenario TOML"))
        .await;
    tui.send("# edited in the TUI\r");
    tui.send("\x13");
    tui.wait("saved", |s| s.contains("saved /")).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(
        text.starts_with("# edited in the TUI\n# e2e scenario"),
        "{text}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// An endpoint renamed in the form leaves no stale 0-request row behind in the table, for
/// a run started after the edit (nor in the report after it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_renamed_endpoint_leaves_no_stale_row() {
    let server = CountingServer::start().await;
    let dir = crate::support::tempdir();
    let file = dir.join("rename.toml");
    std::fs::write(&file, SCENARIO.replace("{host}", &server.url())).unwrap();
    let mut tui = Tui::start(&["run", file.to_str().unwrap()]);
    tui.wait("the idle screen", |s| {
        s.contains("● idle") && s.contains("alpha")
    })
    .await;
    tui.send("4");
    tui.send("e");
    tui.wait("the form", |s| s.contains("Edit endpoint")).await;
    tui.send("\x15omega\r");
    tui.wait("the edit applied", |s| s.contains("endpoint saved"))
        .await;
    tui.send("1");
    tui.send("s");
    tui.wait("traffic on screen", |s| {
        header_rps(s) > 0.0 && s.contains("omega")
    })
    .await;
    let screen = tui.screen();
    assert!(!screen.contains("alpha"), "{screen}");
    tui.send("x");
    tui.wait("stopped", |s| s.contains("● stopped")).await;
    assert!(!tui.screen().contains("alpha"), "{}", tui.screen());
    let _ = std::fs::remove_dir_all(dir);
}

/// A TUI quit before any start sent no request: it says so and exits 1, as a headless
/// run that sent nothing does (a script must not read it as a run that passed).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tui_quit_before_a_start_exits_non_zero() {
    let server = CountingServer::start().await;
    let dir = crate::support::tempdir();
    let file = dir.join("idle.toml");
    std::fs::write(&file, SCENARIO.replace("{host}", &server.url())).unwrap();
    let mut tui = Tui::start(&["run", file.to_str().unwrap()]);
    tui.wait("the idle screen", |s| s.contains("● idle")).await;
    tui.send("q");
    let (status, output) = tui.exited().await;
    assert_eq!(status.exit_code(), 1, "{output}");
    assert!(output.contains("the swarm was not started"), "{output}");
    assert_eq!(server.total(), 0);
    let _ = std::fs::remove_dir_all(dir);
}

/// The TUI's run writes the files a headless run writes: the saved run (its seconds
/// included), the JSON and Locust's CSV files, each counting what the server counted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tui_run_writes_every_report_file_asked_for() {
    let server = CountingServer::start().await;
    let dir = crate::support::tempdir();
    let file = dir.join("files.toml");
    std::fs::write(&file, SCENARIO.replace("{host}", &server.url())).unwrap();
    let path = |name: &str| dir.join(name).to_str().unwrap().to_string();
    let mut tui = Tui::start(&[
        "run",
        file.to_str().unwrap(),
        "--autostart",
        "--save-run",
        &path("tui.hlog"),
        "--json",
        &path("tui.json"),
        "--csv",
        &path("tui"),
    ]);
    tui.wait("traffic on screen", |s| header_rps(s) > 0.0).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    tui.send("x");
    tui.wait("stopped", |s| s.contains("● stopped")).await;
    tui.send("q");
    let (status, output) = tui.exited().await;
    assert!(status.success(), "{output}");
    let served = server.total();
    assert!(served > 0);
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path("tui.json")).unwrap()).unwrap();
    assert_eq!(json["aggregated"]["requests"], served, "{json}");
    let stats = std::fs::read_to_string(path("tui_stats.csv")).unwrap();
    let aggregated = stats.lines().find(|l| l.contains("Aggregated")).unwrap();
    assert_eq!(
        aggregated.split(',').nth(2),
        Some(served.to_string().as_str())
    );
    assert!(
        !dir.join("tui.partial").exists(),
        "the CSV's partial marker is gone"
    );
    let report = crate::support::run(&["report", &path("tui.hlog"), "--json", "-"]).await;
    let saved: serde_json::Value = serde_json::from_slice(&report.stdout).unwrap();
    assert_eq!(saved["aggregated"]["requests"], served);
    assert!(!dir.join("tui.hlog.partial").exists());
    let _ = std::fs::remove_dir_all(dir);
}

/// `--timeout` outlives an edit in the TUI: an endpoint edited to a path slower than the
/// timeout still times out (the edit used to bring back the file's 30 s default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_timeout_flag_holds_after_an_endpoint_edit() {
    let server = CountingServer::start().await;
    let dir = crate::support::tempdir();
    let file = dir.join("timeout.toml");
    std::fs::write(&file, SCENARIO.replace("{host}", &server.url())).unwrap();
    let mut tui = Tui::start(&[
        "run",
        file.to_str().unwrap(),
        "--timeout",
        "200ms",
        "--autostart",
    ]);
    tui.wait("traffic on screen", |s| header_rps(s) > 0.0).await;
    tui.send("4");
    tui.send("e");
    tui.send("\t\t\x15/delay/700\r");
    tui.wait("the edit applied", |s| s.contains("endpoint saved"))
        .await;
    let start = Instant::now();
    while server.count("/delay/700") < 4 && start.elapsed() < Duration::from_secs(10) {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    tui.send("x");
    tui.wait("stopped", |s| s.contains("● stopped")).await;
    tui.send("q");
    tui.wait("the quit question", |s| s.contains("Quit?")).await;
    tui.send("y");
    let (_, output) = tui.exited().await;
    let report = output.rsplit("\x1b[?1049l").next().unwrap_or("");
    assert!(server.count("/delay/700") >= 4, "{report}");
    assert!(
        report.contains("timeout: no complete response within 200ms"),
        "requests to the edited path time out at 200 ms:\n{report}"
    );
    let _ = std::fs::remove_dir_all(dir);
}

/// The endpoint form edits `stream`, `stream_tokens` and `stream_done` through its keys:
/// the saved file has them (its comment kept), and the run that follows shows the row's
/// TTFT in the percentile panel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_endpoint_form_turns_an_endpoint_into_a_stream() {
    let (url, _sent) = crate::streams::server().await;
    let dir = crate::support::tempdir();
    let file = dir.join("stream.toml");
    let src = SCENARIO
        .replace("{host}", &url)
        .replace("/a", "/chat?n=3&gap_ms=5");
    std::fs::write(&file, src).unwrap();
    let mut tui = Tui::start(&["run", file.to_str().unwrap()]);
    tui.wait("the idle screen", |s| s.contains("● idle")).await;
    tui.send("4");
    tui.send("e");
    tui.wait("the form", |s| {
        s.contains("Edit endpoint") && s.contains("Stream")
    })
    .await;
    tui.send("\t\t\t\t");
    tui.send("\x1b[C"); // Right: off -> sse
    tui.send("\t/choices/0/delta/content\t[DONE]\r");
    tui.wait("the edit applied", |s| s.contains("endpoint saved"))
        .await;
    tui.send("\x13"); // Ctrl-S
    tui.wait("the file saved", |s| s.contains("saved ")).await;
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("this comment must survive a save"), "{text}");
    assert!(
        text.contains("stream = \"sse\"")
            && text.contains("stream_tokens = \"/choices/0/delta/content\"")
            && text.contains("stream_done = \"[DONE]\""),
        "{text}"
    );
    tui.send("1");
    tui.send("s");
    tui.wait("the stream's TTFT on screen", |s| {
        s.contains("TTFT p50") && s.contains("tok/s")
    })
    .await;
    tui.send("x");
    tui.wait("stopped", |s| s.contains("● stopped")).await;
    let _ = std::fs::remove_dir_all(dir);
}

/// On a wide terminal the statistics table gives streamed rows their TTFT p50 and p99,
/// ITL p99 and tokens/s; at 80 columns they stay in the percentile panel.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_wide_table_shows_the_streams_times() {
    let (url, _sent) = crate::streams::server().await;
    let dir = crate::support::tempdir();
    let file = dir.join("wide.toml");
    let src = SCENARIO.replace("{host}", &url).replace(
        "path = \"/a\"\n",
        "path = \"/chat?n=3&gap_ms=5\"\nstream = \"sse\"\nstream_tokens = \"/choices/0/delta/content\"\n",
    );
    std::fs::write(&file, src).unwrap();
    let mut tui = Tui::sized(&["run", file.to_str().unwrap(), "--autostart"], 50, 200);
    tui.wait("the stream columns with figures", |s| {
        s.contains("TTFT50")
            && s.contains("tok/s")
            && s.lines()
                .any(|l| l.contains("alpha") && l.matches('.').count() >= 4)
    })
    .await;
    tui.send("x");
    tui.wait("stopped", |s| s.contains("● stopped")).await;
    let _ = std::fs::remove_dir_all(dir);
}
