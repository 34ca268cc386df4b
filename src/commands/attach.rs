//! `swarm attach`, and the terminal that starts a TUI run. The run itself goes to a
//! process of its own (this program again, with the run's id in `RUN_ID_ENV`, its output
//! in files of the registry's folder) and the terminal attaches to it over the control
//! socket, as `swarm attach` does: so the TUI can leave the run going (D, or the
//! terminal closing) and any terminal can come back to it.

use crate::cli::ControlArgs;
use crate::run::control::client::{Addr, Client, Remote};
use crate::run::control::wire::LaunchInfo;
use crate::run::control::{OWNER, REPORT_ENV, RUN_ID_ENV, registry};
use crate::run::finish::Output;
use crate::run::{Front, Run, Steer};
use crate::scenario::{Plan, ScenarioDoc};
use crate::stats::RunState;
use crate::tui::{self, Exit, Launch};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

/// The width of the terminal that started a TUI's run, for its text report.
pub(super) const WIDTH_ENV: &str = "SWARM_REPORT_WIDTH";

/// Whether this process is a TUI's run in the background (started by `own`).
pub(super) fn serving() -> bool {
    std::env::var_os(RUN_ID_ENV).is_some()
}

/// `swarm attach [RUN]`.
pub(super) async fn attach(args: &ControlArgs) -> anyhow::Result<i32> {
    let client = match super::control::client(args, "attach") {
        Ok(c) => c,
        Err(e) => return ended(args.run.as_deref()).ok_or(e),
    };
    if !std::io::stdout().is_terminal() {
        // A TUI without a terminal would hold the run (it waits for its terminals) unseen.
        anyhow::bail!(
            "swarm attach opens the terminal UI, and standard output is not a terminal; swarm status [RUN] --json gives the figures"
        );
    }
    let report = client.info.as_ref().and_then(|i| i.report.clone());
    match open(&client, true).await? {
        Exit::Detach => {
            say_detached(&client, report.as_deref());
            Ok(0)
        }
        Exit::Quit => {
            end(&client).await;
            if let Some(out) = report.filter(|p| p.exists()) {
                relay_and_remove(&out, &out.with_extension("err"));
            }
            Ok(0)
        }
    }
}

/// `swarm attach ID` for a detached run that has ended: its report, and exit 0.
fn ended(run: Option<&str>) -> Option<i32> {
    let (id, path) = registry::ended_reports(&registry::list())
        .into_iter()
        .find(|(id, _)| run.is_some_and(|r| id.starts_with(r)))?;
    eprintln!(
        "swarm: run {id} ended in the background; its report ({}):",
        path.display()
    );
    relay(&path, &mut std::io::stdout());
    Some(0)
}

/// A TUI run from this terminal: the run starts in a process of its own, and this
/// terminal attaches to it; the exit code is the run's.
pub(super) async fn own(detach_on_hangup: bool) -> anyhow::Result<i32> {
    let dir = registry::dir()
        .map_err(|e| anyhow::anyhow!("cannot make the folder for the run's socket: {e}"))?;
    let id = registry::fresh_id(&dir);
    let out = dir.join(format!("{id}.out"));
    let err = dir.join(format!("{id}.err"));
    let mut child = tokio::process::Command::new(std::env::current_exe()?)
        .args(std::env::args_os().skip(1))
        .env(RUN_ID_ENV, &id)
        .env(REPORT_ENV, &out)
        .env(WIDTH_ENV, super::report_width().to_string())
        .stdin(std::process::Stdio::null())
        .stdout(std::fs::File::create(&out)?)
        .stderr(std::fs::File::create(&err)?)
        // Its own process group: Ctrl-C and a closed terminal reach this one only.
        .process_group(0)
        .spawn()?;
    let socket = dir.join(format!("{id}.sock"));
    loop {
        if let Some(status) = child.try_wait()? {
            return Ok(finished(status, &out, &err));
        }
        if tokio::net::UnixStream::connect(&socket).await.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let who = format!("{OWNER} (pid {})", std::process::id());
    let mut client = Client::find(Some(&socket.display().to_string()), None, who)?;
    client.info = registry::list().into_iter().find(|i| i.id == id);
    let exit = match open(&client, detach_on_hangup).await {
        Ok(exit) => exit,
        Err(e) => {
            let _ = child.start_kill();
            let _ = child.wait().await;
            return Err(e);
        }
    };
    if exit == Exit::Detach {
        say_detached(&client, Some(&out));
        return Ok(0);
    }
    end(&client).await;
    let status = child.wait().await?;
    Ok(finished(status, &out, &err))
}

/// The background run ended: its output comes here, its files go.
fn finished(status: std::process::ExitStatus, out: &Path, err: &Path) -> i32 {
    relay_and_remove(out, err);
    status.code().unwrap_or(1)
}

/// A background run's output to this terminal (its errors first), its files gone.
fn relay_and_remove(out: &Path, err: &Path) {
    relay(err, &mut std::io::stderr());
    relay(out, &mut std::io::stdout());
    let _ = std::fs::remove_file(out);
    let _ = std::fs::remove_file(err);
}

fn relay(path: &Path, to: &mut dyn Write) {
    if let Ok(mut f) = std::fs::File::open(path) {
        let _ = std::io::copy(&mut f, to);
        let _ = to.flush();
    }
}

/// Opens the TUI on the run behind `client` until the user quits or detaches (a closed
/// terminal detaches with `detach_on_hangup`, else it quits).
async fn open(client: &Client, detach_on_hangup: bool) -> anyhow::Result<Exit> {
    let info: LaunchInfo = client.get("/v1/launch").await?;
    let who = client.request_name().to_string();
    let launch = launch_of(&info, who, detach_on_hangup)?;
    let remote = Remote::open(client.clone(), info.distributed).await?;
    tui::run(launch, &remote).await
}

/// What the TUI opens with, from what the run says of itself.
fn launch_of(info: &LaunchInfo, who: String, detach_on_hangup: bool) -> anyhow::Result<Launch> {
    let doc = ScenarioDoc::from_parts(info.path.clone(), info.doc.clone())?;
    let mut plan = doc
        .plan()
        .map_err(|e| anyhow::anyhow!("the run's scenario does not load here: {e}"))?;
    info.overrides
        .apply(&mut plan)
        .map_err(anyhow::Error::msg)?;
    let baseline = match &info.baseline {
        Some(p) => Some((
            p.display().to_string(),
            Arc::new(
                crate::report::saved::read(p).map_err(|e| anyhow::anyhow!("--baseline: {e}"))?,
            ),
        )),
        None => None,
    };
    Ok(Launch {
        doc,
        plan,
        autostart: false,
        ask_host: false,
        baseline,
        detachable: Some(who),
        detach_on_hangup,
    })
}

/// The TUI quit: the run ends, and this waits (a while) for it to be gone.
async fn end(client: &Client) {
    if client
        .post("/v1/quit", &serde_json::json!({}))
        .await
        .is_err()
    {
        return;
    }
    let gone = async {
        loop {
            let reachable = match &client.addr {
                Addr::Unix(p) => tokio::net::UnixStream::connect(p).await.is_ok(),
                Addr::Tcp(a) => tokio::net::TcpStream::connect(a).await.is_ok(),
            };
            if !reachable {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    };
    let _ = tokio::time::timeout(Duration::from_secs(120), gone).await;
}

fn say_detached(client: &Client, report: Option<&Path>) {
    let id = client
        .info
        .as_ref()
        .map_or_else(|| client.describe(), |i| i.id.clone());
    let report = report.map_or(String::new(), |p| {
        format!("; when it ends, its report is in {}", p.display())
    });
    // The terminal may be gone (it closed): nothing to say then.
    let _ = writeln!(
        std::io::stderr(),
        "swarm: detached; run {id} goes on in the background (swarm attach {id} comes back; swarm stop {id} ends it){report}"
    );
}

/// This process is a TUI's run in the background: the run waits for the terminal's
/// commands and ends when one says quit, when it is stopped with no terminal attached,
/// or on SIGTERM; then it writes its reports.
pub(super) async fn serve_tui(
    plan: &Plan,
    doc: &ScenarioDoc,
    out: &Output,
    (baseline, autostart): (Option<PathBuf>, bool),
) -> anyhow::Result<i32> {
    let run = Run::start(plan, out, Front::Tui).await?;
    run.control().set_launch(|l| {
        l.path = doc
            .path
            .as_deref()
            .map(|p| std::path::absolute(p).unwrap_or(p.to_path_buf()));
        l.doc = doc.parts();
        l.baseline = baseline.map(|p| std::path::absolute(&p).unwrap_or(p));
    });
    if autostart {
        run.send(crate::engine::Command::Start);
    }
    wait_for_end(&run).await;
    run.finish(plan, out, None).await
}

/// How long a TUI's run that never started waits for a terminal before it ends.
const IDLE_ALONE: Duration = Duration::from_secs(600);

async fn wait_for_end(run: &Run) {
    let mut quit = run.control().quit_requested();
    let snaps = run.snapshots();
    let mut terminate = crate::signals::Signals::terminate();
    // A hang-up is not for this process (the terminal's process takes it): held, not taken.
    let _hangups = crate::signals::Signals::hangup();
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut started = false;
    let mut alone_idle = None;
    if *quit.borrow_and_update() {
        return;
    }
    loop {
        tokio::select! {
            _ = quit.changed() => return,
            () = terminate.next() => return,
            _ = tick.tick() => {
                let state = snaps.borrow().state;
                let alone = run.control().attached() == 0;
                started |= state != RunState::Idle;
                if started && state == RunState::Stopped && alone {
                    return;
                }
                // Never started, and no terminal for this long (its own was killed, say).
                let since = *alone_idle.get_or_insert_with(tokio::time::Instant::now);
                if !(alone && state == RunState::Idle) {
                    alone_idle = None;
                } else if since.elapsed() > IDLE_ALONE {
                    return;
                }
            }
        }
    }
}
