//! `swarm find-capacity` without a terminal UI: the engine (local, or a cluster's
//! controller) driven step by step by a `capacity::Search`, progress on standard error,
//! and the search's reports (text, JSON, HTML) at its end. The search itself, a state
//! machine of snapshots in and engine commands out, is `crate::capacity`.

use crate::capacity::{Search, SearchConfig, render, to_json};
use crate::fmt as format;
use crate::scenario::format_duration;
use crate::scenario::threshold::Threshold;
use std::time::Duration;
use tokio::time::Instant;

/// Runs a capacity search without a terminal UI: progress on stderr, the report on
/// stdout, the JSON to `json`. Exit code 0 when a step met the SLO, 1 when none did.
pub async fn search(
    plan: &crate::scenario::Plan,
    cfg: SearchConfig,
    slo: Vec<Threshold>,
    (json, html): (Option<&std::path::Path>, Option<&std::path::Path>),
    scenario: &str,
    distributed: Option<crate::cluster::controller::Config>,
) -> anyhow::Result<i32> {
    let started = std::time::SystemTime::now();
    let mut plan = plan.clone();
    // The search sets the users itself: the scenario's shape and run time do not apply.
    plan.load.stages.clear();
    plan.load.run_time = None;
    plan.load.users = cfg.start.max(1);
    plan.abort_on_threshold = false;
    eprintln!(
        "swarm: capacity search against {}: SLO {}, users from {} in steps of {} (up to {}), each held {} after {} to settle",
        plan.host,
        slo.iter()
            .map(|t| t.text.as_str())
            .collect::<Vec<_>>()
            .join(", "),
        cfg.start,
        cfg.step,
        cfg.limit,
        format_duration(cfg.hold),
        format_duration(cfg.settle),
    );
    let is_distributed = distributed.is_some();
    if !is_distributed && let Some(why) = crate::doctor::beyond_memory(cfg.limit.into(), 0) {
        anyhow::bail!("--max-users {}: {why}", cfg.limit);
    }
    let engine = match distributed {
        Some(d) => crate::cluster::controller::spawn(&plan, d).await?,
        None => crate::engine::Engine::spawn(&plan),
    };
    let control = serve_control(&plan, scenario, is_distributed, &engine).await?;
    let mut search = Search::new(cfg.clone(), slo);
    // The search may climb to its limit: what would cap this machine before then (swarm
    // doctor's checks) makes a knee found there suspect.
    let mut at_limit = plan.clone();
    at_limit.load.users = cfg.limit;
    let problems = if is_distributed {
        Vec::new()
    } else {
        crate::doctor::preflight(&at_limit)
    };
    for problem in problems {
        eprintln!("swarm: warning: {problem}");
        search.note_uncertain(format!(
            "this machine may cap the search before {} users: {problem}",
            cfg.limit
        ));
    }
    for c in search.begin() {
        engine.send(c);
    }
    drive(&mut search, &engine, control.quit_requested()).await;
    let last = engine.shutdown().await;
    write_outcome(
        &search,
        &plan,
        &cfg,
        (json, html),
        (&last, started, scenario),
    )
}

/// The search's control endpoint: it shows the search live; the search alone sets the
/// users.
async fn serve_control(
    plan: &crate::scenario::Plan,
    scenario: &str,
    distributed: bool,
    engine: &crate::engine::Engine,
) -> anyhow::Result<super::control::Control> {
    super::control::Control::start(super::control::Start {
        plan,
        text: scenario,
        front: "find-capacity",
        distributed,
        commands: engine.commander(),
        snapshots: engine.snapshots(),
        config: &super::control::Config::default(),
        steered_by: Some("the capacity search"),
    })
    .await
}

/// Moves the search on every 100 ms until it is done or interrupted, printing each step
/// as it ends and the phase as it changes.
async fn drive(
    search: &mut Search,
    engine: &crate::engine::Engine,
    mut stopped: tokio::sync::watch::Receiver<bool>,
) {
    let snaps = engine.snapshots();
    let mut tick = tokio::time::interval(Duration::from_millis(100));
    let mut interrupts = crate::signals::Signals::stop_requests();
    let mut reported = 0;
    let mut last_status = String::new();
    while !search.is_done() {
        tokio::select! {
            _ = tick.tick() => {
                let snap = snaps.borrow().clone();
                for c in search.poll(&snap, Instant::now()) {
                    engine.send(c);
                }
            }
            _ = interrupts.next() => {
                search.interrupt("interrupted");
                break;
            }
            _ = stopped.changed() => {
                search.interrupt("stopped over the control endpoint");
                break;
            }
        }
        for s in &search.steps()[reported..] {
            eprintln!(
                "swarm: {}: {} req/s, p95 {} ms, {:.1}% failed: SLO {}",
                format::plural(s.users, "user"),
                format::rate(s.rps),
                format::ms(s.p95_ms),
                s.fail_ratio * 100.0,
                if s.passed { "met" } else { "broken" }
            );
        }
        reported = search.steps().len();
        let phase = search.phase_label();
        if phase != last_status && !search.is_done() {
            eprintln!("swarm: {phase}");
            last_status = phase;
        }
    }
}

/// The search's report on stdout, and its JSON and HTML files; the exit code.
fn write_outcome(
    search: &Search,
    plan: &crate::scenario::Plan,
    cfg: &SearchConfig,
    (json, html): (Option<&std::path::Path>, Option<&std::path::Path>),
    (last, started, scenario): (&crate::stats::Snapshot, std::time::SystemTime, &str),
) -> anyhow::Result<i32> {
    let outcome = search.outcome();
    let title = format!(
        "swarm capacity search: {} ({})",
        plan.name.as_deref().unwrap_or("scenario"),
        plan.host
    );
    let report = render(&outcome, &title, cfg);
    crate::fsutil::print_report(&report, json);
    if let Some(path) = json {
        let doc = to_json(&outcome, plan.name.as_deref(), &plan.host, cfg);
        crate::fsutil::write_output(path, doc.as_bytes()).map_err(anyhow::Error::msg)?;
    }
    if let Some(path) = html {
        let command = crate::report::command_line();
        let about = crate::report::About {
            name: plan.name.as_deref(),
            host: &plan.host,
            started,
            scenario,
            command: &command,
        };
        let page = crate::report::html::render(&about, last, &[], Some(&outcome));
        crate::fsutil::write_output(path, page.as_bytes()).map_err(anyhow::Error::msg)?;
    }
    Ok(if outcome.max_users.is_some() { 0 } else { 1 })
}
