//! What each subcommand does, one file each: the command line's arguments become a plan
//! and the run's outputs, and the run goes to a front-end (the TUI, the headless run) or
//! to a report.

mod attach;
mod capacity;
mod check;
mod control;
mod demo;
mod man;
mod new;
mod report;
mod run;
mod worker;

pub use check::describe;
pub use demo::DEMO_SCENARIO;

use crate::cli::{Cmd, LoadArgs, OutputArgs, is_url};
use crate::run::finish::Output;
use crate::scenario::{LoadError, Plan};
use std::io::IsTerminal;
use std::path::{Path, PathBuf};

/// Runs a subcommand; the result is the process exit code (errors mean bad input).
pub async fn dispatch(command: Cmd) -> anyhow::Result<i32> {
    // Without the folder for the run's socket the TUI runs in this process, as before
    // (it cannot be detached then; Run::start says why).
    if let Some(stop_on_hangup) = detachable(&command)
        && crate::run::control::registry::dir().is_ok()
    {
        return attach::own(!stop_on_hangup).await;
    }
    match command {
        Cmd::Run(args) => run::run(*args).await,
        Cmd::FindCapacity(args) => capacity::find_capacity(args).await,
        Cmd::Check { file } => check::check(&file),
        Cmd::Report(args) => report::report(&args),
        Cmd::Doctor { target, load } => doctor(target, &load),
        Cmd::Compare(args) => report::compare(&args),
        Cmd::Worker(args) => worker::worker(args).await,
        Cmd::Completions { shell } => man::completions(shell),
        Cmd::Man => man::man(&mut std::io::stdout().lock()),
        Cmd::Demo(args) => demo::demo(*args).await,
        Cmd::New { file } => new::new(file).await,
        Cmd::Ps { json } => control::ps(json).await,
        Cmd::Attach(args) => attach::attach(&args).await,
        Cmd::Status { target, json } => control::status(&target, json).await,
        Cmd::Pause(args) => control::simple(&args, "pause").await,
        Cmd::Resume(args) => control::simple(&args, "resume").await,
        Cmd::Stop(args) => control::simple(&args, "stop").await,
        Cmd::Scale(args) => control::scale(&args).await,
    }
}

/// A run in the TUI: it goes to a process of its own that this terminal attaches to, so
/// it can be detached; Some(--stop-on-hangup). (`swarm new`, a scenario not yet
/// written, stays in this one.)
fn detachable(command: &Cmd) -> Option<bool> {
    if attach::serving() {
        return None;
    }
    let output = match command {
        Cmd::Run(args)
            if args.load.http_debug.is_none()
                && (is_url(&args.target) || Path::new(&args.target).exists()) =>
        {
            &args.output
        }
        Cmd::Demo(args) if !args.serve => &args.output,
        _ => return None,
    };
    use_tui(output).then_some(output.stop_on_hangup)
}

/// `swarm doctor [TARGET]`: this machine's limits, and what would cap the plan's run.
fn doctor(target: Option<String>, load: &LoadArgs) -> anyhow::Result<i32> {
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

pub(super) fn use_tui(output: &OutputArgs) -> bool {
    !output.headless && (std::io::stdout().is_terminal() || attach::serving())
}

/// `--save-run -` is refused: a saved run grows a line a second, so it is a file
/// (`example` names one).
pub(super) fn refuse_stdout_save_run(path: Option<&Path>, example: &str) -> anyhow::Result<()> {
    if path.is_some_and(crate::fsutil::is_stdout) {
        anyhow::bail!(
            "--save-run: a saved run is a file that grows a line a second; give a file name, e.g. {example}"
        );
    }
    Ok(())
}

/// Every file the run will write is checked first: a run that cannot save its results
/// must not run for an hour before it says so.
/// Each output is (the flag that names it, its path).
pub(super) fn check_outputs(
    outputs: impl Iterator<Item = (&'static str, PathBuf)>,
) -> anyhow::Result<()> {
    for (flag, path) in outputs {
        crate::fsutil::check_writable(&path).map_err(|e| anyhow::anyhow!("{flag}: {e}"))?;
    }
    Ok(())
}

/// Width for the final report: the terminal's when stdout is one, else 80.
pub(super) fn report_width() -> usize {
    // A TUI's run in the background prints for the terminal that started it.
    if let Some(w) = std::env::var(attach::WIDTH_ENV)
        .ok()
        .and_then(|w| w.parse().ok())
    {
        return w;
    }
    if !std::io::stdout().is_terminal() {
        return 80;
    }
    crossterm::terminal::size().map_or(80, |(w, _)| w as usize)
}

pub(super) fn explain(e: LoadError) -> anyhow::Error {
    anyhow::anyhow!(e)
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
        control: crate::run::control::Config {
            tcp: output.control,
            token: output.control_token.clone(),
            tls: output.control_tls.clone(),
        },
    }
}
