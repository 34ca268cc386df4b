//! `swarm run`: a scenario file or a URL, with the command line's overrides, run headless
//! or in the TUI (alone, or as a distributed run's controller).

use super::new::new_scenario;
use super::{check_outputs, explain, headless_output, refuse_stdout_save_run, use_tui};
use crate::cli::{OutputArgs, RunArgs, is_url, url_hint};
use crate::headless;
use crate::report::saved;
use crate::run::finish::Output;
use crate::run::{Front, Run};
use crate::scenario::{Plan, ScenarioDoc};
use crate::tui::{self, Launch};
use anyhow::Context;
use std::path::{Path, PathBuf};

pub(super) async fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    // --http-debug writes on standard error, which the terminal UI's screen is.
    args.output.headless |= args.load.http_debug.is_some();
    control_token(&mut args.output, &args.dist)?;
    let url = is_url(&args.target);
    let until_count = args.load.requests.is_some() && args.load.run_time.is_none();
    let request = args
        .request
        .request(url, until_count)
        .map_err(anyhow::Error::msg)?;
    if url {
        refuse_host_in_url_mode(args.host.as_deref())?;
        let mut plan = Plan::for_request(&args.target, &request)?;
        args.load.apply(&mut plan).map_err(anyhow::Error::msg)?;
        if args.load.spawn_rate.is_none() {
            // oha's -c: every user from the start (-n 25 -u 3 ran on one user at 50/s).
            plan.load.spawn_rate = f64::from(plan.load.users.max(1)) * crate::scenario::AT_ONCE;
        }
        let text = Plan::url_scenario(&args.target, &request);
        let dist = distributed(&args.dist, &plan, &text, &args.target)?;
        let doc = ScenarioDoc::from_text(&text, None)?;
        return execute(plan, text, Some(doc), &args.output, dist).await;
    }
    if args.target == "-" {
        return from_stdin(&args).await;
    }
    if let Some(url) = url_hint(&args.target) {
        anyhow::bail!(
            "{} is not a scenario file; did you mean {url}? (swarm run {url})",
            args.target
        );
    }
    let path = PathBuf::from(&args.target);
    if !path.exists() && use_tui(&args.output) {
        return new_scenario(path, &args.load, &args.output).await;
    }
    let text = crate::scenario::read_source(&path).map_err(explain)?;
    run_text(&args, text, &args.target, Some(&path)).await
}

/// `swarm run -`: the scenario from standard input (as `k6 run -`), its data files found
/// from the working directory; the TUI saves it only with a name (save as).
async fn from_stdin(args: &RunArgs) -> anyhow::Result<i32> {
    let text = crate::scenario::read_stdin().map_err(explain)?;
    run_text(args, text, crate::scenario::STDIN, None).await
}

/// Runs scenario text named `label` (its file, or standard input) with the command line's
/// overrides; the TUI saves it back to `path` when it came from a file.
async fn run_text(
    args: &RunArgs,
    text: String,
    label: &str,
    path: Option<&Path>,
) -> anyhow::Result<i32> {
    let mut plan = match &args.host {
        Some(h) => Plan::parse_with_host(&text, label, h),
        None => Plan::parse(&text, label),
    }?;
    args.load.apply(&mut plan).map_err(anyhow::Error::msg)?;
    let dist = distributed(&args.dist, &plan, &text, label)?;
    let doc = if use_tui(&args.output) {
        let mut doc = match path {
            Some(p) => ScenarioDoc::loaded(text.clone(), p),
            None => ScenarioDoc::from_text(&text, None)?,
        };
        if let Some(h) = &args.host {
            doc.override_host(h).map_err(anyhow::Error::msg)?;
        }
        Some(doc)
    } else {
        None
    };
    execute(plan, text, doc, &args.output, dist).await
}

/// `--token-file` is the workers' secret with `--workers`, the control API's with
/// `--control`; alone it would be ignored.
pub(super) fn control_token(
    output: &mut crate::cli::OutputArgs,
    dist: &crate::cli::DistArgs,
) -> anyhow::Result<()> {
    match &dist.token_file {
        Some(p) if output.control.is_some() => {
            output.control_token = Some(crate::cluster::read_token(p)?);
        }
        Some(_) if dist.workers.is_none() => anyhow::bail!(
            "--token-file: give it with --workers (the workers' secret) or --control (the control API's)"
        ),
        _ => {}
    }
    match (&dist.tls_cert, &dist.tls_key) {
        (Some(cert), Some(key)) if output.control.is_some() => {
            let read = crate::cluster::read_pem;
            output.control_tls = Some((read("--tls-cert", cert)?, read("--tls-key", key)?));
        }
        (Some(_), _) if dist.workers.is_none() => anyhow::bail!(
            "--tls-cert: give it with --workers (their control port) or --control (the control API)"
        ),
        _ => {}
    }
    Ok(())
}

/// `swarm run URL -H ...`: the URL names the host, so `-H` would be ignored; oha and curl
/// users type `-H "Name: value"` for a header, which must not pass silently either.
pub(super) fn refuse_host_in_url_mode(host: Option<&str>) -> anyhow::Result<()> {
    let Some(host) = host else {
        return Ok(());
    };
    let header = host.split_once(':').is_some_and(|(name, _)| {
        !name.is_empty() && !name.contains(['/', ' ']) && !host.contains("://")
    });
    if header {
        anyhow::bail!(
            "-H is --host in swarm (as in Locust), and the URL names the host; \"{host}\" looks like a header: for a header, use --header \"{host}\""
        );
    }
    anyhow::bail!(
        "-H/--host \"{host}\": the URL names the host in swarm run URL; put the host in the URL and leave -H out (a request header is --header \"Name: value\")"
    )
}

/// Output paths as Locust takes them: `--html 'report_{u}_{r}_{t}.html'` gets the users,
/// the spawn rate and the run time (seconds) filled in, and `--csv` into a folder that does
/// not exist yet creates it.
fn as_locust_does(output: &OutputArgs, plan: &Plan) -> anyhow::Result<OutputArgs> {
    let mut output = output.clone();
    if let Some(html) = &output.html {
        let l = &plan.load;
        let t = l
            .run_time
            .map_or("none".into(), |d| d.as_secs().to_string());
        let filled = html
            .to_string_lossy()
            .replace("{u}", &l.users.to_string())
            .replace("{r}", &l.spawn_rate.to_string())
            .replace("{t}", &t);
        output.html = Some(PathBuf::from(filled));
    }
    if let Some(dir) = output
        .csv
        .as_deref()
        .and_then(Path::parent)
        .filter(|d| !d.as_os_str().is_empty() && !d.exists())
    {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("--csv: cannot create the folder {}", dir.display()))?;
    }
    Ok(output)
}

/// Runs a plan headless, or in the TUI when `doc` is given and stdout is a terminal;
/// `text` is the scenario as written.
pub(super) async fn execute(
    plan: Plan,
    text: String,
    doc: Option<ScenarioDoc>,
    output: &OutputArgs,
    distributed: Option<crate::cluster::controller::Config>,
) -> anyhow::Result<i32> {
    // What would cap the run is said before it starts (swarm doctor tells more); in a
    // distributed run each worker checks its own share on its own machine.
    if distributed.is_none() {
        crate::scenario::addresses::check_local(&plan.net.local_addresses)
            .map_err(|e| anyhow::anyhow!("local_addresses: {e}"))?;
        if let Some(why) = crate::doctor::beyond_memory(crate::doctor::peak_users(&plan), 0) {
            anyhow::bail!(why);
        }
        for problem in crate::doctor::preflight(&plan) {
            eprintln!("swarm: warning: {problem}");
        }
    }
    refuse_stdout_save_run(output.save_run.as_deref(), "runs/today.hlog")?;
    let output = &as_locust_does(output, &plan)?;
    let baseline = match &output.baseline {
        Some(path) => Some((
            path.display().to_string(),
            std::sync::Arc::new(saved::read(path).map_err(|e| anyhow::anyhow!("--baseline: {e}"))?),
        )),
        None => None,
    };
    let out = Output {
        baseline: baseline.clone(),
        distributed,
        ..headless_output(output, Some(text))
    };
    check_outputs(out.files())?;
    match doc {
        Some(doc) if super::attach::serving() && use_tui(output) => {
            let detail = (output.baseline.clone(), output.autostart);
            super::attach::serve_tui(&plan, &doc, &out, detail).await
        }
        Some(doc) if use_tui(output) => {
            let run = Run::start(&plan, &out, Front::Tui).await?;
            let launch = Launch {
                doc,
                plan: plan.clone(),
                autostart: output.autostart,
                ask_host: false,
                baseline,
                detachable: None,
                detach_on_hangup: false,
            };
            tui::run(launch, &run).await?;
            run.finish(&plan, &out, None).await
        }
        _ => headless::run(&plan, &out).await,
    }
}

/// `--workers N`: the controller's settings (None without the flag).
/// (`run` and `find-capacity`; `target` is the scenario file or URL, whose folder holds
/// the data files the workers are sent.)
pub(super) fn distributed(
    dist: &crate::cli::DistArgs,
    plan: &Plan,
    text: &str,
    target: &str,
) -> anyhow::Result<Option<crate::cluster::controller::Config>> {
    let Some(workers) = dist.workers.or(dist.processes) else {
        return Ok(None);
    };
    let processes = dist.processes.unwrap_or(0);
    if dist.processes == Some(0) {
        anyhow::bail!(
            "--processes: give at least 1 (one per core, say, or the number the open-files warning names)"
        );
    }
    let (dir, file_name) = if is_url(target) {
        (Path::new("."), "url.toml".to_string())
    } else {
        let p = Path::new(target);
        (
            p.parent().unwrap_or(Path::new(".")),
            p.file_name()
                .map_or("scenario.toml".into(), |n| n.to_string_lossy().to_string()),
        )
    };
    let token = match &dist.token_file {
        Some(p) => Some(crate::cluster::read_token(p)?),
        // swarm's own processes get a fresh secret: no other program on this machine
        // can take one of their places.
        None if processes > 0 => Some(crate::cluster::fresh_token()?),
        None => None,
    };
    let listen = if processes > 0 {
        "127.0.0.1:0"
    } else {
        &dist.listen
    };
    Ok(Some(crate::cluster::controller::Config {
        workers,
        listen: crate::cluster::parse_listen(listen)?,
        processes,
        token,
        scenario: text.to_string(),
        file_name,
        files: crate::cluster::controller::data_files(plan, dir)?,
        dir: dir.to_path_buf(),
        tolerate_loss: dist.tolerate_worker_loss,
        expect_wait: dist.expect_workers_max_wait,
        quiet: false,
        tls: tls_of(dist)?,
    }))
}

/// `--tls-cert`, `--tls-key`, `--tls-client-ca`: the control port's TLS, read.
fn tls_of(d: &crate::cli::DistArgs) -> anyhow::Result<Option<crate::cluster::controller::Tls>> {
    let (Some(cert), Some(key)) = (&d.tls_cert, &d.tls_key) else {
        return Ok(None);
    };
    Ok(Some(crate::cluster::controller::Tls {
        cert: crate::cluster::read_pem("--tls-cert", cert)?,
        key: crate::cluster::read_pem("--tls-key", key)?,
        client_ca: d
            .tls_client_ca
            .as_deref()
            .map(|p| crate::cluster::read_pem("--tls-client-ca", p))
            .transpose()?,
    }))
}
