//! The failures view: failures grouped by endpoint and cause, with counts and the latest
//! error text.
//!
//! ```text
//! # fails  Type Name        Cause                  Latest error
//!      39  GET  flaky       HTTP 500 Internal ...  GET /flaky answered 500
//! ```
//!
//! ↑ ↓ select a group; Enter shows it in full (cause, count, first and last seen, the
//! latest message unabridged).

use crate::report::format::{count, fit};
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    // The thresholds, when the scenario has any, above the failures: each with its
    // verdict and the measured value.
    let area = if app.verdicts.is_empty() {
        area
    } else {
        let rows = (app.verdicts.len() as u16 + 2).min(area.height / 2);
        let [top, rest] =
            Layout::vertical([Constraint::Length(rows), Constraint::Min(0)]).areas(area);
        draw_thresholds(frame, top, app);
        rest
    };
    let t = &app.theme;
    let block = Block::bordered().title(" Failures ").border_style(t.dim());
    if app.snapshot.failures.is_empty() {
        let text = Line::styled("No failures.", t.good());
        frame.render_widget(Paragraph::new(text).block(block), area);
        return;
    }
    let groups = crate::tui::app::failure_groups(&app.snapshot);
    let header = Row::new(["# fails", "Type", "Name", "Cause", "Latest error"]).style(t.header());
    let selected = app.failure_row.min(groups.len().saturating_sub(1));
    // Widths inside the borders and the column gaps; what does not fit ends in "…".
    let inner = area.width.saturating_sub(2) as usize;
    let type_w = groups
        .iter()
        .map(|g| g.method.len())
        .max()
        .unwrap_or(4)
        .max(4);
    let cause_w = groups
        .iter()
        .map(|g| g.kind.to_string().chars().count())
        .max()
        .unwrap_or(5)
        .min(31);
    let name_w = (inner * 18 / 100).max(8);
    let message_w = inner
        .saturating_sub(8 + type_w + name_w + cause_w + 4)
        .max(10);
    let rows = groups.into_iter().enumerate().map(|(i, g)| {
        let style = if i == selected {
            t.selected()
        } else {
            ratatui::style::Style::default()
        };
        Row::new(vec![
            Cell::from(Line::from(count(g.count, 8)).right_aligned()),
            Cell::from(fit(&g.method, type_w)),
            Cell::from(fit(crate::stats::short_name(&g.name, &g.method), name_w)),
            Cell::from(fit(&g.kind.to_string(), cause_w)).style(t.bad()),
            Cell::from(fit(&g.message, message_w)),
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(8),
        Constraint::Length(type_w as u16),
        Constraint::Length(name_w as u16),
        Constraint::Length(cause_w as u16),
        Constraint::Min(10),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}

fn draw_thresholds(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let (passed, failed, waiting) = app.verdict_counts();
    let title = match waiting {
        0 => format!(" Thresholds: {passed} passed, {failed} failed "),
        w => format!(" Thresholds: {passed} passed, {failed} failed, {w} waiting "),
    };
    let lines: Vec<Line> = app
        .verdicts
        .iter()
        .map(|v| {
            let (mark, style) = if app.waiting(v) {
                ("WAIT", t.dim())
            } else if v.passed {
                ("PASS", t.good())
            } else {
                ("FAIL", t.bad())
            };
            Line::from(vec![
                ratatui::text::Span::styled(format!("{mark}  "), style),
                ratatui::text::Span::raw(format!(
                    "{}  {}  measured {}",
                    v.scope,
                    v.threshold,
                    crate::report::text::measured(v)
                )),
            ])
        })
        .collect();
    let border = if failed > 0 { t.bad() } else { t.dim() };
    frame.render_widget(
        Paragraph::new(lines).block(Block::bordered().title(title).border_style(border)),
        area,
    );
}
