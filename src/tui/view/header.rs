//! The header: what is being swarmed and how it is going.
//!
//! ```text
//! swarm · Testing types API · http://127.0.0.1:5000                  [modified]
//! ● running  users 20/50 at 5/s  req/s 123.4  failures 0.5%  p95 12.0 ms  0:12 / 2:00
//! ```

use crate::report::format;
use crate::stats::RunState;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::time::Duration;

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.snapshot;
    let name = app.doc.name().unwrap_or_else(|| "scenario".into());
    let mut first = vec![
        Span::styled("swarm", t.title()),
        Span::raw(format!(" · {name} · {}", app.doc.host())),
    ];
    if app.doc.is_dirty() {
        first.push(Span::styled("  [modified]", t.warn()));
    }
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
    // The engine's target follows load stages; before a run, the slider's value.
    let target = if s.state == RunState::Idle {
        app.users
    } else {
        s.target_users
    };
    let mut second = vec![
        Span::styled(format!("● {}", s.state), state_style),
        Span::raw(format!(
            "  users {}/{} ({}/s)",
            s.users,
            target,
            rate(app.spawn_rate)
        )),
        Span::raw(format!("  req/s {}", format::rate(s.total.current_rps))),
        Span::styled(
            format!("  fail {:.1}%", s.total.fail_ratio() * 100.0),
            fail_style,
        ),
        Span::raw(format!(
            "  p95 {}ms",
            format::ms(s.total.percentile_ms(0.95).unwrap_or(0.0))
        )),
        Span::raw(format!(
            "  {}{}",
            clock(s.elapsed),
            s.run_time
                .map_or(String::new(), |r| format!("/{}", clock(r)))
        )),
    ];
    if let Some((i, n)) = s.stage {
        second.insert(1, Span::styled(format!("  stage {i}/{n}"), t.warn()));
    }
    if !app.verdicts.is_empty() {
        let failed = app.verdicts.iter().filter(|v| !v.passed).count();
        let (text, style) = match failed {
            0 => (format!("  thresholds ✓ {}", app.verdicts.len()), t.good()),
            n => (
                format!("  thresholds ✗ {n}/{}", app.verdicts.len()),
                t.bad(),
            ),
        };
        second.push(Span::styled(text, style));
    }
    frame.render_widget(
        Paragraph::new(vec![Line::from(first), Line::from(second)]),
        area,
    );
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
