//! The headless front-end: starts a `Run` at once and follows it without a terminal UI,
//! printing progress on stderr; Ctrl-C and SIGTERM stop it (a second one cuts in-flight
//! requests), `--reset-stats` and a threshold's `abort` steer it. The run writes its
//! reports and gives the exit code.

use crate::engine::Command;
use crate::report::format;
use crate::run::finish::Output;
use crate::run::{Front, Run, Steer};
use crate::scenario::threshold::check_all;
use crate::scenario::{Plan, format_duration, format_rate};
use crate::signals::Signals;
use crate::stats::{RunState, Snapshot};
use std::sync::Arc;
use std::time::Duration;

/// How often the progress line is printed.
const PROGRESS_EVERY: Duration = Duration::from_secs(2);

/// Runs the plan to its end (run time, or Ctrl-C / SIGTERM) and returns the exit code.
pub async fn run(plan: &Plan, out: &Output) -> anyhow::Result<i32> {
    let l = &plan.load;
    let load = match l.arrival_rate {
        Some(rate) => format!(
            "{} iterations started (up to {} users)",
            format_rate(rate),
            l.max_users
        ),
        None if l.spawn_rate >= f64::from(l.users) * crate::scenario::AT_ONCE => {
            format!("{}, all started at once", format::plural(l.users, "user"))
        }
        None => format!("{} at {}/s", format::plural(l.users, "user"), l.spawn_rate),
    };
    eprintln!("swarm: {load} against {}, {}", plan.host, {
        let mut ends: Vec<String> = Vec::new();
        ends.extend(l.run_time.map(format_duration));
        ends.extend(l.max_requests.map(|n| format::plural(n, "request")));
        ends.extend(l.max_iterations.map(|n| format::plural(n, "iteration")));
        if ends.is_empty() {
            "until Ctrl-C".to_string()
        } else {
            format!("for {}", ends.join(" or "))
        }
    });
    let run = Run::start(plan, out, Front::Headless).await?;
    run.send(Command::Start);
    // After a second interrupt the run is not stopped yet; its users die with the runtime.
    let last = watch_run(&run, plan, out).await;
    run.finish(plan, out, Some(last)).await
}

/// Follows the run until it stops, printing progress and handling interrupts.
async fn watch_run(run: &Run, plan: &Plan, out: &Output) -> Arc<Snapshot> {
    // `--reset-stats` waits for the ramp to end (Locust resets once spawning is done).
    let mut reset_pending = out.reset_stats;
    let mut snaps = run.snapshots();
    let mut progress = tokio::time::interval(PROGRESS_EVERY);
    progress.tick().await;
    let mut interrupts = Signals::stop_requests();
    let mut stopping = false;
    loop {
        tokio::select! {
            changed = snaps.changed() => {
                if changed.is_err() || snaps.borrow().state == RunState::Stopped {
                    return snaps.borrow().clone();
                }
                if reset_pending && snaps.borrow().state == RunState::Running {
                    reset_pending = false;
                    run.send(Command::ResetStats);
                    eprintln!("swarm: every user started; statistics reset (--reset-stats)");
                }
                if plan.abort_on_threshold && !stopping && let Some(v) = broken(plan, &snaps.borrow()) {
                    eprintln!("swarm: threshold {} ({}) failed; stopping (abort = true)", v.threshold, v.scope);
                    run.send(Command::Stop);
                    stopping = true;
                }
            }
            _ = progress.tick(), if !out.quiet => eprintln!("{}", progress_line(&snaps.borrow())),
            _ = interrupts.next() => {
                if stopping {
                    eprintln!("swarm: interrupted again; cutting in-flight requests");
                    run.send(Command::Stop);
                    return cut(&mut snaps).await;
                }
                eprintln!("swarm: stopping (in-flight requests may finish; interrupt again to cut them)");
                run.send(Command::Stop);
                stopping = true;
            }
        }
    }
}

/// After a second interrupt: the run's end, once the cut requests are counted (at most
/// two seconds), or the latest snapshot.
async fn cut(snaps: &mut tokio::sync::watch::Receiver<Arc<Snapshot>>) -> Arc<Snapshot> {
    let stopped = async {
        snaps
            .wait_for(|s| s.state == RunState::Stopped)
            .await
            .map(|s| s.clone())
    };
    let found = tokio::time::timeout(Duration::from_secs(2), stopped).await;
    match found {
        Ok(Ok(s)) => s,
        _ => snaps.borrow().clone(),
    }
}

/// The first threshold that has data and fails, if any.
fn broken(plan: &Plan, snap: &Snapshot) -> Option<crate::scenario::threshold::Verdict> {
    check_all(&plan.thresholds, snap)
        .into_iter()
        .find(|v| v.actual.is_some() && !v.passed)
}

/// One progress line: elapsed, users, req/s, failures, p95.
pub fn progress_line(s: &Snapshot) -> String {
    if s.state == RunState::Idle && s.workers_wanted > 0 {
        let joined = s.joined_workers();
        return format!(
            "[{:>5.0}s] waiting for workers {joined}/{}",
            s.run_clock.as_secs_f64(),
            s.workers_wanted
        );
    }
    let stage = s
        .stage
        .map_or(String::new(), |(i, n)| format!(" stage {i}/{n}"));
    let paused = if s.plan_paused { " (plan paused)" } else { "" };
    let stopped = if s.stopped_users > 0 {
        format!("  ({} stopped: on_start failed)", s.stopped_users)
    } else {
        String::new()
    };
    let users = match &s.arrivals {
        Some(a) => format!(
            "rate {}  busy {}/{} users  dropped {}",
            format_rate(a.rate),
            a.busy,
            s.users,
            a.dropped
        ),
        None if !s.user_types.is_empty() => {
            let types: Vec<String> = s
                .user_types
                .iter()
                .map(|t| format!("{} {}", t.name, t.users))
                .collect();
            format!(
                "users {}/{} ({}){stopped}",
                s.users,
                s.target_users,
                types.join(", ")
            )
        }
        None => format!("users {}/{}{stopped}", s.users, s.target_users),
    };
    let unreachable = s
        .unreachable()
        .map_or(String::new(), |why| format!("  ({why})"));
    let left = match (s.requests_left, s.iterations_left) {
        (_, Some(i)) => format!("  {i} iterations left"),
        (Some(n), None) => format!("  {n} requests left"),
        (None, None) => String::new(),
    };
    format!(
        "[{:>5.0}s] {}{stage}{paused} {users}  req/s {}  failures {} ({:.1}%)  p95 {} ms{left}{unreachable}",
        s.run_clock.as_secs_f64(),
        s.state_label(),
        format::rate(s.total.current_rps),
        s.total.failures,
        s.total.fail_ratio() * 100.0,
        format::ms(s.total.percentile_ms(0.95).unwrap_or(0.0)),
    )
}
