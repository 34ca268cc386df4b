//! What each subcommand does: loads the scenario, then runs it headless or in the TUI.

use crate::capacity::SearchConfig;
use crate::cli::{
    CapacityArgs, Cmd, CompareArgs, DemoArgs, LoadArgs, OutputArgs, ReportArgs, RunArgs, is_url,
    url_hint,
};
use crate::demo::DemoServer;
use crate::headless;
use crate::report::saved;
use crate::run::finish::Output;
use crate::run::{Front, Run};
use crate::scenario::{LoadError, Plan, ScenarioDoc, format_duration, format_rate};
use crate::stats::RunState;
use crate::tui::{self, Launch};
use anyhow::Context;
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// The demo scenario, built in so `swarm demo` works from any directory.
pub const DEMO_SCENARIO: &str = include_str!("../scenarios/demo.toml");
/// The host written in `scenarios/demo.toml`, replaced by the demo server's address.
const DEMO_HOST: &str = "http://127.0.0.1:8089";

/// Runs a subcommand; the result is the process exit code (errors mean bad input).
pub async fn dispatch(command: Cmd) -> anyhow::Result<i32> {
    match command {
        Cmd::Run(args) => run(*args).await,
        Cmd::FindCapacity(args) => find_capacity(args).await,
        Cmd::Check { file } => check(&file),
        Cmd::Report(args) => report(&args),
        Cmd::Doctor { target, load } => {
            let plan = match target {
                None => None,
                Some(t) if is_url(&t) => Some(Plan::for_url(&t)?),
                Some(t) => Some(Plan::load(Path::new(&t)).map_err(explain)?),
            };
            let plan = match plan {
                Some(mut p) => {
                    load.apply(&mut p).map_err(anyhow::Error::msg)?;
                    Some(p)
                }
                None => None,
            };
            print!("{}", crate::doctor::render(plan.as_ref()));
            Ok(i32::from(
                plan.is_some_and(|p| !crate::doctor::preflight(&p).is_empty()),
            ))
        }
        Cmd::Compare(args) => compare(&args),
        Cmd::Worker(args) => {
            let token = match &args.token_file {
                Some(p) => Some(crate::cluster::read_token(p)?),
                None => args.token.clone().filter(|t| !t.is_empty()),
            };
            let pem = |flag: &str, p: &Option<PathBuf>| -> anyhow::Result<Option<String>> {
                p.as_deref()
                    .map(|p| crate::cluster::read_pem(flag, p))
                    .transpose()
            };
            let tls_ca = pem("--tls-ca", &args.tls_ca)?;
            let tls_identity = match (
                pem("--tls-cert", &args.tls_cert)?,
                pem("--tls-key", &args.tls_key)?,
            ) {
                (Some(c), Some(k)) => Some((c, k)),
                _ => None,
            };
            refuse_stdout_save_run(args.save_run.as_deref(), "worker.hlog")?;
            crate::cluster::worker::run(crate::cluster::worker::Options {
                controller: args.controller,
                token,
                index: args.index,
                tls_ca,
                tls_identity,
                reconnect: args.reconnect,
                save_run: args.save_run,
            })
            .await
        }
        Cmd::Completions { shell } => {
            let mut cmd = <crate::cli::Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut cmd, "swarm", &mut std::io::stdout());
            Ok(0)
        }
        Cmd::Man => man(&mut std::io::stdout().lock()),
        Cmd::Demo(args) => demo(args).await,
        Cmd::New { file } => {
            let output = OutputArgs::default();
            if file.exists() {
                anyhow::bail!(
                    "{} exists already; open it with swarm run {}",
                    file.display(),
                    file.display()
                );
            }
            new_scenario(file, &LoadArgs::default(), &output).await
        }
    }
}

async fn find_capacity(args: CapacityArgs) -> anyhow::Result<i32> {
    let mut plan = if is_url(&args.target) {
        refuse_host_in_url_mode(args.host.as_deref())?;
        Plan::for_url(&args.target)?
    } else if let Some(url) = url_hint(&args.target) {
        anyhow::bail!(
            "{} is not a scenario file; did you mean {url}?",
            args.target
        );
    } else {
        Plan::load_with_host(Path::new(&args.target), args.host.as_deref()).map_err(explain)?
    };
    if plan.load.is_open() {
        anyhow::bail!(
            "{}: find-capacity steps the number of users (closed model); remove arrival_rate from [load]",
            args.target
        );
    }
    if let Some(r) = args.spawn_rate {
        plan.load.spawn_rate = r;
    }
    let cfg = SearchConfig {
        start: args.start,
        step: args.step,
        hold: args.hold,
        settle: args.settle,
        limit: args.max_users.max(args.start),
    };
    check_outputs(
        (args.json.iter().map(|p| ("--json", p.clone())))
            .chain(args.html.iter().map(|p| ("--html", p.clone()))),
    )?;
    let text = if is_url(&args.target) {
        Plan::url_scenario(&args.target, &crate::scenario::UrlRequest::default())
    } else {
        std::fs::read_to_string(&args.target).unwrap_or_default()
    };
    let distributed = distributed(&args.dist, &plan, &text, &args.target)?;
    crate::run::capacity::search(
        &plan,
        cfg,
        args.slo,
        (args.json.as_deref(), args.html.as_deref()),
        &text,
        distributed,
    )
    .await
}

fn use_tui(output: &OutputArgs) -> bool {
    !output.headless && std::io::stdout().is_terminal()
}

async fn run(mut args: RunArgs) -> anyhow::Result<i32> {
    // --http-debug writes on standard error, which the terminal UI's screen is.
    args.output.headless |= args.load.http_debug.is_some();
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
    let mut plan = Plan::load_with_host(&path, args.host.as_deref()).map_err(explain)?;
    args.load.apply(&mut plan).map_err(anyhow::Error::msg)?;
    // The text as it ran, for --save-run and the workers (read after the load, which found
    // it readable).
    let text = std::fs::read_to_string(&path).unwrap_or_default();
    let dist = distributed(&args.dist, &plan, &text, &args.target)?;
    let doc = if use_tui(&args.output) {
        let (mut doc, _) = ScenarioDoc::open(&path).map_err(explain)?;
        if let Some(h) = &args.host {
            doc.override_host(h).map_err(anyhow::Error::msg)?;
        }
        Some(doc)
    } else {
        None
    };
    execute(plan, text, doc, &args.output, dist).await
}

/// `swarm run URL -H ...`: the URL names the host, so `-H` would be ignored; oha and curl
/// users type `-H "Name: value"` for a header, which must not pass silently either.
fn refuse_host_in_url_mode(host: Option<&str>) -> anyhow::Result<()> {
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

/// `swarm man`: the pages on `out`.
fn man(out: &mut impl std::io::Write) -> anyhow::Result<i32> {
    match man_pages(out) {
        // `swarm man | head`: the reader had enough; not an error.
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(0),
        Err(e) => Err(anyhow::anyhow!("cannot write the manual page: {e}")),
        Ok(()) => Ok(0),
    }
}

/// The main page, with the exit codes, the TUI's keys and where the scenario format is
/// written down, then one page per subcommand (swarm-run, swarm-check, ...), each with the
/// version.
fn man_pages(out: &mut impl std::io::Write) -> std::io::Result<()> {
    let cmd = <crate::cli::Cli as clap::CommandFactory>::command();
    let version = cmd.get_version().unwrap_or_default().to_string();
    let subcommands: Vec<clap::Command> = cmd.get_subcommands().cloned().collect();
    clap_mangen::Man::new(cmd).render(out)?;
    out.write_all(man_extra().as_bytes())?;
    for sub in subcommands {
        let name = format!("swarm-{}", sub.get_name());
        clap_mangen::Man::new(sub.name(name).version(version.clone())).render(out)?;
    }
    Ok(())
}

/// roff text for the main page's own sections.
fn man_extra() -> String {
    let roff = |s: &str| s.replace('\\', "\\\\").replace('-', "\\-");
    let mut page = String::from(".SH \"EXIT STATUS\"\n");
    for (code, meaning) in [
        ("0", "the run completed and no request failed"),
        (
            "1",
            "failed requests (--exit-code-on-error picks another code), a failed threshold, every request cut at the stop, or a run that sent no request",
        ),
        (
            "2",
            "bad input: a scenario that does not load, a bad flag, an unreadable file, a file that is not a saved run",
        ),
        (
            "3",
            "a distributed run lost a worker or its workers did not all join, or a worker lost its controller",
        ),
    ] {
        page += &format!(".TP\n{code}\n{}\n", roff(meaning));
    }
    page += ".SH \"TERMINAL UI KEYS\"\n";
    for (keys, what) in crate::tui::keymap::help_rows() {
        page += &format!(".TP\n{}\n{}\n", roff(keys), roff(what));
    }
    page += ".SH \"SCENARIO FORMAT\"\nEvery key of a scenario file, its default and unit: scenarios/README.md in the source tree; \\fBswarm check FILE\\fR validates one and says what it would do.\n";
    page
}

/// `--save-run -` is refused: a saved run grows a line a second, so it is a file
/// (`example` names one).
fn refuse_stdout_save_run(path: Option<&Path>, example: &str) -> anyhow::Result<()> {
    if path.is_some_and(crate::fsutil::is_stdout) {
        anyhow::bail!(
            "--save-run: a saved run is a file that grows a line a second; give a file name, e.g. {example}"
        );
    }
    Ok(())
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

/// `--workers N`: the controller's settings (None without the flag).
/// (`run` and `find-capacity`; `target` is the scenario file or URL, whose folder holds
/// the data files the workers are sent.)
fn distributed(
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

/// Runs a plan headless, or in the TUI when `doc` is given and stdout is a terminal;
/// `text` is the scenario as written.
async fn execute(
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
        Some(doc) if use_tui(output) => {
            let run = Run::start(&plan, &out, Front::Tui).await?;
            let launch = Launch {
                doc,
                plan: plan.clone(),
                autostart: output.autostart,
                ask_host: false,
                baseline,
            };
            tui::run(launch, &run).await?;
            run.finish(&plan, &out, None).await
        }
        _ => headless::run(&plan, &out).await,
    }
}

fn headless_output(output: &OutputArgs, text: Option<String>) -> Output {
    Output {
        distributed: None,
        save_run: output.save_run.clone(),
        scenario: text.unwrap_or_default(),
        baseline: None,
        prometheus: output
            .prometheus
            .clone()
            .map(|a| (a, output.prometheus_linger.unwrap_or_default())),
        json: output.json.clone(),
        csv: output
            .csv
            .clone()
            .map(|prefix| (prefix, output.csv_full_history)),
        junit: output.junit.clone(),
        html: output.html.clone(),
        exit_code_on_error: output.exit_code_on_error,
        width: report_width(),
        quiet: output.quiet,
        reset_stats: output.reset_stats,
    }
}

async fn new_scenario(path: PathBuf, load: &LoadArgs, output: &OutputArgs) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "{} does not exist; swarm new needs a terminal to write a scenario",
            path.display()
        );
    }
    let mut plan = Plan::default();
    (plan.load.users, plan.load.spawn_rate) = (10, 2.0);
    load.apply(&mut plan).map_err(anyhow::Error::msg)?;
    let doc = ScenarioDoc::new_scenario(Some(path), "", &plan.load);
    let launch = Launch {
        doc,
        plan: plan.clone(),
        autostart: false,
        ask_host: true,
        baseline: None,
    };
    let out = headless_output(output, Some(String::new()));
    let run = Run::start(&plan, &out, Front::Tui).await?;
    tui::run(launch, &run).await?;
    if run.snapshots().borrow().state == RunState::Idle {
        // Writing a scenario without running it is what `swarm new` is for.
        run.abandon(&out).await;
        return Ok(0);
    }
    run.finish(&plan, &out, None).await
}

/// `swarm report RUN`: a saved run's reports, as they were at the end of its run.
fn report(args: &ReportArgs) -> anyhow::Result<i32> {
    let run = saved::read(&args.run).map_err(anyhow::Error::msg)?;
    let out = Output {
        json: args.json.clone(),
        csv: args.csv.clone().map(|p| (p, false)),
        junit: args.junit.clone(),
        html: args.html.clone(),
        width: report_width(),
        ..Output::default()
    };
    check_outputs(out.files())?;
    let csv = match &args.csv {
        Some(prefix) => Some(
            crate::report::csv::CsvReport::create_at(prefix, false, run.started())
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    let about = crate::run::finish::About {
        name: run.name.as_deref(),
        host: &run.host,
        started: run.started(),
        scenario: &run.scenario,
        command: "",
    };
    crate::run::finish::write_reports(&about, &run.stats, &run.verdicts, &out, csv)?;
    Ok(0)
}

/// `swarm compare BASE NEW`: exit 1 when a `--fail-if` limit breaks.
fn compare(args: &CompareArgs) -> anyhow::Result<i32> {
    let base = saved::read(&args.base).map_err(anyhow::Error::msg)?;
    let new = saved::read(&args.new).map_err(anyhow::Error::msg)?;
    let (text, held) = crate::compare::render(
        (&args.base.display().to_string(), &base),
        (&args.new.display().to_string(), &new),
        &args.fail_if,
        report_width(),
    );
    print!("{text}");
    Ok(if held { 0 } else { 1 })
}

/// Every file the run will write is checked first: a run that cannot save its results
/// must not run for an hour before it says so.
/// Each output is (the flag that names it, its path).
fn check_outputs(outputs: impl Iterator<Item = (&'static str, PathBuf)>) -> anyhow::Result<()> {
    for (flag, path) in outputs {
        crate::fsutil::check_writable(&path).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
    }
    Ok(())
}

/// Width for the final report: the terminal's when stdout is one, else 80.
fn report_width() -> usize {
    if !std::io::stdout().is_terminal() {
        return 80;
    }
    crossterm::terminal::size().map_or(80, |(w, _)| w as usize)
}

/// Validates a file and describes the plan; a file with several mistakes gets them all,
/// in file order, not one per run of `swarm check`.
fn check(file: &Path) -> anyhow::Result<i32> {
    let plan = match Plan::load(file) {
        Ok(plan) => plan,
        Err(LoadError::Invalid(first)) => {
            // Loaded once already: read_source only fails here if the file changed since.
            let Ok(src) = crate::scenario::read_source(file) else {
                anyhow::bail!(first);
            };
            // The same walk as the load, collecting instead of stopping at the first.
            let all = Plan::all_errors(&src, &file.display().to_string());
            if all.len() <= 1 {
                anyhow::bail!(first);
            }
            let lines: Vec<String> = all.iter().map(|e| format!("  {e}")).collect();
            anyhow::bail!(
                "{} has {} problems:\n{}",
                file.display(),
                all.len(),
                lines.join("\n")
            );
        }
        Err(e) => return Err(explain(e)),
    };
    print!("{}", describe(&plan));
    Ok(0)
}

fn explain(e: LoadError) -> anyhow::Error {
    anyhow::anyhow!(e)
}

/// `swarm check` for a scenario with `[[users]]`: each type, its share and its tasks.
fn describe_types(plan: &Plan) -> String {
    use crate::engine::dispatch::{Share, split};
    let shares: Vec<Share> = plan
        .user_types
        .iter()
        .map(|t| Share {
            weight: t.weight,
            fixed: t.fixed_count,
        })
        .collect();
    let at = split(&shares, plan.load.users);
    let mut s = format!(
        "user types ({}; at {} users: {}):\n",
        plan.user_types.len(),
        plan.load.users,
        plan.user_types
            .iter()
            .zip(&at)
            .map(|(t, n)| format!("{n} {}", t.name))
            .collect::<Vec<_>>()
            .join(", ")
    );
    for t in &plan.user_types {
        let share = if t.fixed_count > 0 {
            format!("exactly {}", t.fixed_count)
        } else {
            format!("weight {}", t.weight)
        };
        let wait = t.wait.map_or("think time of [load]".to_string(), |w| {
            format!("think time {w}")
        });
        s += &format!("  {}: {share}, {wait}\n", t.name);
        for e in &t.endpoints {
            s += &format!("    {}  (weight {})\n", e.name, e.weight);
        }
        for f in &t.flows {
            s += &format!(
                "    flow {}: {}  (weight {})\n",
                f.name,
                crate::report::format::plural(f.steps.len() as u64, "step"),
                f.weight
            );
        }
        for e in &t.on_start {
            s += &format!("    on_start: {}\n", e.name);
        }
        for e in &t.on_stop {
            s += &format!("    on_stop: {}\n", e.name);
        }
    }
    s
}

/// What `swarm check` prints: the plan in words.
pub fn describe(plan: &Plan) -> String {
    let l = &plan.load;
    let mut s = format!("{}: OK\n", plan.name.as_deref().unwrap_or("scenario"));
    s += &format!("host: {}\n", plan.host);
    let run_time = l.run_time.map_or("until stopped".into(), format_duration);
    if let Some(rate) = l.arrival_rate {
        s += &format!(
            "load: open model, iterations started at {}{} whatever the response times, up to {} users at once (an iteration waits at most {} for a free one, then is dropped), run time {run_time}\n",
            format_rate(rate),
            if l.stages.is_empty() { "" } else { " at first" },
            l.max_users,
            format_duration(l.queue_timeout),
        );
    } else if l.stages.is_empty() {
        let ramp = f64::from(l.users.saturating_sub(1)) / l.spawn_rate;
        s += &format!(
            "load: {} users, started at {}/s (all running after {ramp:.1}s), run time {run_time}, think time {}\n",
            l.users, l.spawn_rate, l.wait
        );
    } else {
        s += &format!(
            "load: in stages, spawn rate {}/s, run time {run_time}, think time {}\n",
            l.spawn_rate, l.wait
        );
    }
    if !l.stages.is_empty() {
        let stages: Vec<String> = l
            .stages
            .iter()
            .map(|st| {
                if let Some(r) = st.arrival_rate {
                    return format!(
                        "ramp to {} over {}",
                        format_rate(r),
                        format_duration(st.duration)
                    );
                }
                let rate = st
                    .spawn_rate
                    .map_or(String::new(), |r| format!(" at {r}/s"));
                format!(
                    "{} users{rate} for {}",
                    st.users,
                    format_duration(st.duration)
                )
            })
            .collect();
        s += &format!("stages: {}\n", stages.join(", then "));
    }
    if !plan.user_types.is_empty() {
        s += &describe_types(plan);
        return s;
    }
    let total: u64 = plan
        .endpoints
        .iter()
        .map(|e| u64::from(e.weight))
        .sum::<u64>()
        + plan.flows.iter().map(|f| u64::from(f.weight)).sum::<u64>();
    let share = |w: u32| match w {
        0 => "disabled".to_string(),
        w => format!("{:.0}%", f64::from(w) * 100.0 / total as f64),
    };
    let line = |e: &crate::scenario::Endpoint| {
        let target = match e.dynamic.as_ref().and_then(|d| d.target.as_ref()) {
            Some(_) => e.path.clone(),
            None => e.target.to_string(),
        };
        let templated = if e.dynamic.is_some() {
            ", templated"
        } else {
            ""
        };
        let extract: Vec<&str> = e.extract.iter().map(|x| x.var.as_str()).collect();
        let extract = if extract.is_empty() {
            String::new()
        } else {
            format!(", extracts {}", extract.join(", "))
        };
        format!(
            "{:<7} {}://{}{}  name \"{}\", timeout {}{templated}{extract}\n",
            e.method.as_str(),
            e.origin.scheme(),
            e.origin.authority(),
            target,
            e.name,
            format_duration(e.timeout),
        )
    };
    if !plan.vars.is_empty() {
        let names: Vec<&str> = plan.vars.iter().map(|v| v.0.as_str()).collect();
        s += &format!("vars per user: {}\n", names.join(", "));
    }
    for d in &plan.data {
        s += &format!(
            "data {}: {} ({} rows, columns {}, {})\n",
            d.name,
            d.file,
            d.rows.len(),
            d.columns.join(", "),
            if d.unique {
                "each row to one user"
            } else {
                "rows in turn"
            }
        );
    }
    for (title, list) in [("on_start", &plan.on_start), ("on_stop", &plan.on_stop)] {
        if !list.is_empty() {
            s += &format!(
                "{title} ({}, in order):\n",
                crate::report::format::plural(list.len() as u64, "step")
            );
            for e in list {
                s += &format!("            {}", line(e));
            }
        }
    }
    s += &format!("endpoints ({}):\n", plan.endpoints.len());
    for e in &plan.endpoints {
        s += &format!("  {:>8}  {}", share(e.weight), line(e));
    }
    for f in &plan.flows {
        s += &format!(
            "flow \"{}\" ({}, in order), picked {}:\n",
            f.name,
            crate::report::format::plural(f.steps.len() as u64, "step"),
            share(f.weight)
        );
        for e in &f.steps {
            s += &format!("            {}", line(e));
        }
    }
    if !plan.cookies {
        s += "cookies: off\n";
    }
    if !plan.thresholds.is_empty() {
        let abort = if plan.abort_on_threshold {
            ", the run stops at the first failure"
        } else {
            ""
        };
        s += &format!("thresholds ({}{abort}):\n", plan.thresholds.len());
        for t in &plan.thresholds {
            let scope = t.endpoint.as_deref().unwrap_or("all requests");
            s += &format!("  {}  ({scope})\n", t.text);
        }
    }
    s
}

async fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let server = DemoServer::start(args.port)
        .await
        .context("cannot start the demo server")?;
    if args.serve {
        eprintln!(
            "swarm demo API listening on {} (Ctrl-C to stop)",
            server.url()
        );
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = server.wait() => {}
        }
        return Ok(0);
    }
    eprintln!("swarm demo API listening on {}", server.url());
    let text = demo_text().replace(DEMO_HOST, &server.url());
    let mut plan = Plan::parse(&text, "demo.toml")?;
    args.load.apply(&mut plan).map_err(anyhow::Error::msg)?;
    // The file's host stays the file's: the demo server's port is this run's only, kept
    // out of a save as a -H override is.
    let mut doc = ScenarioDoc::from_text(&demo_text(), None)?;
    doc.override_host(&server.url())
        .map_err(anyhow::Error::msg)?;
    let code = execute(plan, text, Some(doc), &args.output, None).await;
    server.shutdown().await;
    code
}

/// `scenarios/demo.toml` from the working directory when present, else the built-in copy.
fn demo_text() -> String {
    std::fs::read_to_string("scenarios/demo.toml").unwrap_or_else(|_| DEMO_SCENARIO.to_string())
}

#[cfg(test)]
mod tests {
    /// A reader that closes the pipe after a few bytes (`swarm man | head`).
    struct Head(usize);

    impl std::io::Write for Head {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            if self.0 == 0 {
                return Err(std::io::ErrorKind::BrokenPipe.into());
            }
            let n = buf.len().min(self.0);
            self.0 -= n;
            Ok(n)
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    #[test]
    fn man_to_a_reader_that_leaves_early_is_not_an_error() {
        assert_eq!(super::man(&mut Head(100)).unwrap(), 0);
        let mut all = Vec::new();
        assert_eq!(super::man(&mut all).unwrap(), 0);
        assert!(all.len() > 100);
    }
}
