//! The controls row (users and spawn-rate sliders) and the key hints or latest message.
//!
//! ```text
//! Users ━━━━━━━━●──────── 20 (+/-, PgUp/PgDn)   Spawn rate ━━●────── 5/s ([ ])
//! s start  x stop  u ramp  r reset  e edit  a add  ^S save  ? help  q quit
//! ```

use crate::tui::app::{App, View};
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

pub fn draw(frame: &mut Frame, controls: Rect, hints: Rect, app: &App) {
    let t = &app.theme;
    let slider_w = ((controls.width as usize).saturating_sub(60) / 2).clamp(8, 40);
    // Users on a log scale up to 10 000 so small and large swarms both move the knob.
    let users_pos = ((app.current_users() as f64).ln() / 10_000f64.ln()).clamp(0.0, 1.0);
    let rate_pos = ((app.spawn_rate / 0.1).ln() / (2000f64 / 0.1).ln()).clamp(0.0, 1.0);
    let line = match app.current_rate() {
        Some(rate) => {
            // Rates on a log scale up to 100 000/s.
            let pos = ((rate + 1.0).ln() / 100_000f64.ln()).clamp(0.0, 1.0);
            let max_users = app.snapshot.arrivals.as_ref().map_or(String::new(), |a| {
                format!(
                    "  busy {}/{} (max {})  dropped {}",
                    a.busy, app.snapshot.users, a.max_users, a.dropped
                )
            });
            Line::from(vec![
                Span::styled("Arrival rate ", t.header()),
                Span::styled(slider(pos, slider_w), t.series(0)),
                Span::raw(format!(" {}/s ", rate_text(rate))),
                Span::styled("(+/- PgUp/PgDn)", t.dim()),
                Span::raw(max_users),
            ])
        }
        None => closed_controls(app, users_pos, rate_pos, slider_w),
    };
    frame.render_widget(Paragraph::new(line), controls);
    let bottom = match &app.message {
        Some((text, true)) => Line::from(Span::styled(text.clone(), t.bad())),
        Some((text, false)) => Line::from(Span::styled(text.clone(), t.good())),
        None => hint_line(app, hints.width as usize),
    };
    frame.render_widget(Paragraph::new(bottom), hints);
}

fn closed_controls(app: &App, users_pos: f64, rate_pos: f64, slider_w: usize) -> Line<'static> {
    let t = &app.theme;
    Line::from(vec![
        Span::styled("Users ", t.header()),
        Span::styled(slider(users_pos, slider_w), t.series(0)),
        Span::raw(format!(" {} ", app.current_users())),
        Span::styled("(+/- PgUp/PgDn)   ", t.dim()),
        Span::styled("Spawn rate ", t.header()),
        Span::styled(slider(rate_pos, slider_w), t.series(0)),
        Span::raw(format!(" {}/s ", app.spawn_rate)),
        Span::styled("([ ])", t.dim()),
    ])
}

fn slider(pos: f64, width: usize) -> String {
    let knob = ((width - 1) as f64 * pos).round() as usize;
    format!("{}●{}", "━".repeat(knob), "─".repeat(width - 1 - knob))
}

fn hint_line(app: &App, width: usize) -> Line<'static> {
    let t = &app.theme;
    let run = if app.is_running() {
        ("x", "stop")
    } else {
        ("s", "start")
    };
    let mut hints = vec![
        run,
        (
            "u",
            if app.arrival_rate.is_some() {
                "rate"
            } else {
                "ramp"
            },
        ),
        ("r", "reset"),
    ];
    // Endpoint keys act in the Endpoints view only; Enter opens a failure in full.
    match app.view {
        View::Endpoints => {
            // Resetting statistics makes room: it stays in the help.
            hints.retain(|h| h.0 != "r");
            hints.extend([("e", "edit"), ("a", "add"), ("d", "delete")]);
        }
        View::Failures => hints.extend([("Enter", "details"), ("a", "add")]),
        _ => hints.extend([("a", "add")]),
    }
    hints.extend([
        ("^S", "save"),
        ("Tab", "view"),
        ("?", "help"),
        ("q", "quit"),
    ]);
    let room: usize = hints.iter().map(|(k, w)| k.len() + w.len() + 3).sum();
    if app.detachable.is_some() && app.is_running() && room + 10 <= width {
        hints.push(("D", "detach"));
    }
    if !app.stages.is_empty() {
        // "a add" makes room; it stays in the help.
        hints.retain(|h| h.0 != "a");
        hints.insert(2, ("p", "plan"));
    }
    key_hints(&hints, t)
}

/// "k what  k what": keys in bold, what they do dimmed.
pub(crate) fn key_hints(hints: &[(&str, &str)], t: &Theme) -> Line<'static> {
    let spans: Vec<Span> = hints
        .iter()
        .flat_map(|(k, what)| {
            [
                Span::styled(k.to_string(), t.header()),
                Span::styled(format!(" {what}  "), t.dim()),
            ]
        })
        .collect();
    Line::from(spans)
}

/// A rate for the slider: whole numbers plain, small rates with a decimal.
fn rate_text(r: f64) -> String {
    if r >= 10.0 || r.fract() == 0.0 {
        format!("{r:.0}")
    } else {
        format!("{r:.1}")
    }
}
