//! The `swarm` binary: parses flags, runs the chosen command, maps the outcome to an exit code.

use clap::Parser;
use std::io::IsTerminal;
use std::path::Path;
use std::process::ExitCode;
use swarm::cli::{Cli, Cmd, DemoArgs, OutputArgs, RunArgs, is_url};
use swarm::demo::DemoServer;
use swarm::headless::{self, Output};
use swarm::scenario::{LoadError, Plan, format_duration};

/// Exit code for bad input: a scenario that does not load, a bad flag.
const BAD_INPUT: u8 = 2;

/// The demo scenario, built in so `swarm demo` works from any directory.
const DEMO_SCENARIO: &str = include_str!("../scenarios/demo.toml");

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(r) => r,
        Err(e) => {
            eprintln!("swarm: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let result = runtime.block_on(dispatch(cli.command));
    runtime.shutdown_timeout(std::time::Duration::from_millis(100));
    match result {
        Ok(code) => ExitCode::from(code.clamp(0, 255) as u8),
        Err(e) => {
            eprintln!("swarm: {e:#}");
            ExitCode::from(BAD_INPUT)
        }
    }
}

async fn dispatch(command: Cmd) -> anyhow::Result<i32> {
    match command {
        Cmd::Run(args) => run(args).await,
        Cmd::Check { file } => check(&file),
        Cmd::Demo(args) => demo(args).await,
    }
}

async fn run(args: RunArgs) -> anyhow::Result<i32> {
    let mut plan = if is_url(&args.target) {
        Plan::for_url(&args.target)?
    } else {
        Plan::load_with_host(Path::new(&args.target), args.host.as_deref()).map_err(explain)?
    };
    args.load.apply(&mut plan);
    run_plan(&plan, &args.output).await
}

async fn run_plan(plan: &Plan, output: &OutputArgs) -> anyhow::Result<i32> {
    if !output.headless && std::io::stdout().is_terminal() {
        eprintln!("swarm: the terminal UI is not built yet; running headless");
    }
    let out = Output {
        json: output.json.clone(),
        exit_code_on_error: output.exit_code_on_error,
        width: terminal_width(),
    };
    headless::run(plan, &out).await
}

fn terminal_width() -> usize {
    if !std::io::stdout().is_terminal() {
        return 80;
    }
    crossterm_free_width().unwrap_or(80)
}

/// Terminal width from $COLUMNS when set (the TUI issue brings crossterm).
fn crossterm_free_width() -> Option<usize> {
    std::env::var("COLUMNS").ok()?.parse().ok()
}

fn check(file: &Path) -> anyhow::Result<i32> {
    let plan = Plan::load(file).map_err(explain)?;
    print!("{}", describe(&plan));
    Ok(0)
}

fn explain(e: LoadError) -> anyhow::Error {
    anyhow::anyhow!(e)
}

/// What `swarm check` prints: the plan in words.
fn describe(plan: &Plan) -> String {
    let l = &plan.load;
    let mut s = format!("{}: OK\n", plan.name.as_deref().unwrap_or("scenario"));
    s += &format!("host: {}\n", plan.host);
    let ramp = f64::from(l.users.saturating_sub(1)) / l.spawn_rate;
    s += &format!(
        "load: {} users, started at {}/s (all running after {:.1}s), run time {}, think time {}\n",
        l.users,
        l.spawn_rate,
        ramp,
        l.run_time.map_or("until stopped".into(), format_duration),
        l.wait
    );
    let total: u32 = plan.endpoints.iter().map(|e| e.weight).sum();
    s += &format!("endpoints ({}):\n", plan.endpoints.len());
    for e in &plan.endpoints {
        let share = if e.weight == 0 {
            "disabled".to_string()
        } else {
            format!("{:.0}%", f64::from(e.weight) * 100.0 / f64::from(total))
        };
        s += &format!(
            "  {:>8}  {:<7} http://{}{}  name \"{}\", timeout {}, body {} bytes\n",
            share,
            e.method.as_str(),
            e.origin.authority(),
            e.target,
            e.name,
            format_duration(e.timeout),
            e.body.len()
        );
    }
    s
}

async fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let server = DemoServer::start(args.port).await?;
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
    let mut plan = demo_plan(&server.url())?;
    args.load.apply(&mut plan);
    let code = run_plan(&plan, &args.output).await;
    server.shutdown().await;
    code
}

/// `scenarios/demo.toml` from the working directory when present, else the built-in copy,
/// aimed at the demo server's address.
fn demo_plan(url: &str) -> anyhow::Result<Plan> {
    let path = Path::new("scenarios/demo.toml");
    if path.exists() {
        return Plan::load_with_host(path, Some(url)).map_err(explain);
    }
    let src = DEMO_SCENARIO.replace("http://127.0.0.1:8089", url);
    Ok(Plan::parse(&src, "demo.toml (built in)")?)
}
