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

use crate::report::format::count;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
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
    let rows = groups.into_iter().enumerate().map(|(i, g)| {
        let style = if i == selected {
            t.selected()
        } else {
            ratatui::style::Style::default()
        };
        Row::new(vec![
            Cell::from(Line::from(count(g.count, 8)).right_aligned()),
            Cell::from(g.method.clone()),
            Cell::from(crate::stats::short_name(&g.name, &g.method).to_string()),
            Cell::from(g.kind.to_string()).style(t.bad()),
            Cell::from(g.message.clone()),
        ])
        .style(style)
    });
    let widths = [
        Constraint::Length(8),
        Constraint::Length(7),
        Constraint::Percentage(18),
        Constraint::Length(31),
        Constraint::Min(10),
    ];
    frame.render_widget(Table::new(rows, widths).header(header).block(block), area);
}
