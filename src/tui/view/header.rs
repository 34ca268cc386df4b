//! The header: what is being swarmed and how it is going.
//!
//! ```text
//! swarm · Testing types API · http://127.0.0.1:5000                  [modified]
//! ● running  users 20/50 at 5/s  req/s 123.4  failures 0.5%  p95 12.0 ms  0:12 / 2:00
//! plan ▶ 2/3: 100 users 2:13/5:00 ━━━━━━──────  next 0 users 0:30  p pause
//! ```
//!
//! The plan row is there only when the scenario has load stages.

use crate::report::format;
use crate::scenario::{Stage, format_rate};
use crate::stats::RunState;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::time::Duration;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let name = app.doc.name().unwrap_or_else(|| "scenario".into());
    // What must show goes after the title; the name and the host give way to it.
    let status = status(app);
    let room = (area.width as usize)
        .saturating_sub("swarm".len() + status.iter().map(|s| s.width()).sum::<usize>());
    let mut first = vec![
        Span::styled("swarm", t.title()),
        Span::raw(title(&name, &app.doc.host(), room)),
    ];
    first.extend(status);
    let mut lines = vec![Line::from(first), Line::from(figures(app))];
    if !app.stages.is_empty() {
        lines.push(plan_line(app));
    }
    frame.render_widget(Paragraph::new(lines), area);
}

/// What the first line must show: unsaved changes, an unreachable host, the workers,
/// the open WebSocket sockets, the thresholds.
fn status(app: &App) -> Vec<Span<'static>> {
    let t = &app.theme;
    let s = &app.snapshot;
    let mut status: Vec<Span> = Vec::new();
    if app.doc.is_dirty() {
        status.push(Span::styled("  [modified]", t.warn()));
    }
    if s.unreachable().is_some() {
        status.push(Span::styled("  ⚠ host unreachable (view 3)", t.bad()));
    }
    // A distributed run: how many workers are in (view 6 lists them).
    if s.workers_wanted > 0 {
        let joined = s.joined_workers() as u32;
        let style = if joined < s.workers_wanted || s.worker_lost.is_some() {
            t.warn()
        } else {
            t.good()
        };
        status.push(Span::styled(
            format!("  workers {joined}/{} (view 6)", s.workers_wanted),
            style,
        ));
    }
    // WebSocket steps: the sockets open now.
    if let Some(w) = &s.total.ws {
        status.push(Span::styled(format!("  sockets {}", w.open), t.good()));
    }
    // On the first line, which has room at 80 columns; view 3 says which and by how much.
    if !app.verdicts.is_empty() {
        let total = app.verdicts.len();
        let (text, style) = match app.verdict_counts() {
            (_, 0, waiting) if waiting == total => {
                (format!("  thresholds: {total} waiting"), t.dim())
            }
            (passed, 0, 0) => (format!("  thresholds ✓ {passed}"), t.good()),
            (passed, 0, waiting) => (
                format!("  thresholds ✓ {passed}, {waiting} waiting"),
                t.good(),
            ),
            (_, n, _) => (format!("  thresholds ✗ {n}/{total} (view 3)"), t.bad()),
        };
        status.push(Span::styled(text, style));
    }
    status
}

/// The second line: state, clock, load, rate, failures, p95, and what the run may still
/// start.
fn figures(app: &App) -> Vec<Span<'static>> {
    let t = &app.theme;
    let s = &app.snapshot;
    let state_style = match s.state {
        RunState::Running | RunState::Spawning => t.good(),
        RunState::Stopping => t.warn(),
        _ => t.dim(),
    };
    let fail_style = if s.total.failures > 0 {
        t.bad()
    } else {
        t.good()
    };
    let load = load_text(app);
    let mut second = vec![
        Span::styled(format!("● {}", s.state_label()), state_style),
        // The clock beside the state: it fits at any width.
        Span::raw(format!(
            "  {}{}",
            clock(s.run_clock),
            s.run_time
                .map_or(String::new(), |r| format!("/{}", clock(r)))
        )),
        Span::raw(load),
        // While the swarm runs, the rate over the last seconds; after the stop, the run's.
        Span::raw(if s.state == RunState::Stopped {
            format!("  avg req/s {}", format::rate(s.total.total_rps))
        } else {
            format!("  req/s {}", format::rate(s.total.current_rps))
        }),
        Span::styled(
            format!("  fail {:.1}%", s.total.fail_ratio() * 100.0),
            fail_style,
        ),
        Span::raw(format!(
            "  p95 {}ms",
            format::ms(s.total.percentile_ms(0.95).unwrap_or(0.0))
        )),
    ];

    // [[users]]: how many of each type run.
    if !s.user_types.is_empty() && s.state != RunState::Idle {
        let types: Vec<String> = s
            .user_types
            .iter()
            .map(|t| format!("{} {}", t.name, t.users))
            .collect();
        second.push(Span::styled(format!("  ({})", types.join(" · ")), t.dim()));
    }
    // -i / -n: what the run may still start.
    match (s.iterations_left, s.requests_left) {
        (Some(i), _) => second.push(Span::raw(format!("  {i} iter left"))),
        (None, Some(n)) => second.push(Span::raw(format!("  {n} req left"))),
        _ => {}
    }
    // With stages, the plan row below says where the run is.
    if let Some((i, n)) = s.stage.filter(|_| app.stages.is_empty()) {
        second.insert(1, Span::styled(format!("  stage {i}/{n}"), t.warn()));
    }
    second
}

/// The users and spawn rate (closed model) or the arrival rate (open model).
fn load_text(app: &App) -> String {
    let s = &app.snapshot;
    // The engine's target follows load stages; before a run, the slider's value.
    let target = if s.state == RunState::Idle {
        app.stages.first().map_or(app.users, |st| st.users)
    } else {
        s.target_users
    };
    match (&s.arrivals, app.arrival_rate) {
        (Some(a), _) if s.state != RunState::Idle => {
            format!("  rate {}/s  users {}", format::rate(a.rate), s.users)
        }
        (_, Some(r)) => format!("  rate {}", format_rate(r)),
        _ => format!(
            "  users {}/{} ({}/s)",
            s.users,
            target,
            rate(app.spawn_rate)
        ),
    }
}

/// " · name · host" in `room` columns: the name gives way first, then the host is
/// shortened, so that what follows it (modified, thresholds, workers) always shows.
fn title(name: &str, host: &str, room: usize) -> String {
    let whole = format!(" · {name} · {host}");
    if crate::fmt::width(&whole) <= room {
        return whole;
    }
    let host_only = format!(" · {host}");
    if crate::fmt::width(&host_only) <= room {
        return host_only;
    }
    format::fit(&host_only, room)
}

/// Rows the header needs.
pub fn height(app: &App) -> u16 {
    if app.stages.is_empty() { 2 } else { 3 }
}

/// "100 users" or "→ 200/s".
fn stage_target(st: &Stage) -> String {
    match st.arrival_rate {
        Some(r) => format!("→ {}", format_rate(r)),
        None => crate::fmt::plural(st.users, "user"),
    }
}

/// Where the run is on its load plan.
fn plan_line(app: &App) -> Line<'static> {
    let t = &app.theme;
    let s = &app.snapshot;
    let stages = &app.stages;
    let running = matches!(s.state, RunState::Spawning | RunState::Running);
    let Some((i, n)) = s.stage.filter(|_| running) else {
        let text = if running {
            "plan: left (manual control, or the stages are over)".to_string()
        } else {
            let total: Duration = stages.iter().map(|st| st.duration).sum();
            let list: Vec<String> = stages
                .iter()
                .map(|st| format!("{} {}", stage_target(st), clock(st.duration)))
                .collect();
            format!(
                "plan: {} stages, {} · {}",
                stages.len(),
                clock(total),
                list.join(" → ")
            )
        };
        return Line::from(Span::styled(text, t.dim()));
    };
    let st = &stages[i - 1];
    let frac = (s.stage_elapsed.as_secs_f64() / st.duration.as_secs_f64().max(1e-9)).min(1.0);
    let width = 12;
    let done = (frac * width as f64).round() as usize;
    let (mark, key) = if s.plan_paused {
        ("plan ⏸", "p resume")
    } else {
        ("plan ▶", "p pause")
    };
    let next = stages.get(i).map_or("last stage".to_string(), |nx| {
        format!("next {} {}", stage_target(nx), clock(nx.duration))
    });
    Line::from(vec![
        Span::styled(format!("{mark} {i}/{n}: "), t.warn()),
        Span::raw(format!(
            "{} {}/{} ",
            stage_target(st),
            clock(s.stage_elapsed),
            clock(st.duration)
        )),
        Span::styled("━".repeat(done), t.series(0)),
        Span::styled("─".repeat(width - done), t.dim()),
        Span::raw(format!("  {next}  ")),
        Span::styled(key.to_string(), t.header()),
    ])
}

fn rate(r: f64) -> String {
    if r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r}")
    }
}

/// `m:ss`, or `h:mm:ss` from an hour on.
pub fn clock(d: Duration) -> String {
    let s = d.as_secs();
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{}:{:02}", s / 60, s % 60)
    }
}
