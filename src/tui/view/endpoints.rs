//! The endpoints view: the scenario's endpoints as the file has them, with their share of
//! the traffic; the selected one is what e, c, d and Space act on.
//!
//! ```text
//! On  Weight  Share  Method  Name          Path          Body
//! ✓        3    60%  GET     list tests    /tests
//! ✗        0      -  POST    add test      /tests        JSON, 91 bytes
//! ```

use crate::tui::app::App;

/// A scenario with `[[users]]`: its tasks grouped by user type, each type with its share
/// and the users of it running now (read-only: the TOML editor, t, edits them).
fn draw_types(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let [list, help] = Layout::vertical([Constraint::Min(3), Constraint::Length(1)]).areas(area);
    let running = |name: &str| {
        app.snapshot
            .user_types
            .iter()
            .find(|c| c.name == name)
            .map_or(0, |c| c.users)
    };
    let mut rows = Vec::new();
    for crate::tui::app::TypeSummary { name, share, tasks } in &app.extras.types {
        rows.push(
            Row::new(vec![
                Cell::from(name.clone()),
                Cell::from(share.clone()),
                Cell::from(Line::from(format!("{} running", running(name))).right_aligned()),
            ])
            .style(t.header()),
        );
        let total: u64 = tasks.iter().map(|(_, w)| u64::from(*w)).sum();
        for (task, w) in tasks {
            let share = if *w > 0 && total > 0 {
                format!("{:.0}%", f64::from(*w) * 100.0 / total as f64)
            } else {
                "off".into()
            };
            rows.push(Row::new(vec![
                Cell::from(format!("  {task}")),
                Cell::from(format!("weight {w}")),
                Cell::from(Line::from(share).right_aligned()),
            ]));
        }
    }
    let block = Block::bordered()
        .title(format!(
            " Endpoints by user type ({}) ",
            app.extras.types.len()
        ))
        .border_style(t.dim());
    let widths = [
        Constraint::Min(20),
        Constraint::Length(14),
        Constraint::Length(12),
    ];
    frame.render_widget(Table::new(rows, widths).block(block), list);
    let line = Line::styled(
        "User types are edited as TOML: press t (Ctrl-S applies, Esc discards).",
        t.dim(),
    );
    frame.render_widget(Paragraph::new(line), help);
}
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table, TableState};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    if app.specs.is_empty() && !app.extras.types.is_empty() {
        return draw_types(frame, area, app);
    }
    let t = &app.theme;
    let x = &app.extras;
    let extras_rows = u16::from(!x.flows.is_empty() || x.on_start + x.on_stop > 0);
    let [list, extra, help] = Layout::vertical([
        Constraint::Min(3),
        Constraint::Length(extras_rows),
        Constraint::Length(1),
    ])
    .areas(area);
    let block = Block::bordered()
        .title(format!(" Endpoints ({}) ", app.specs.len()))
        .border_style(t.dim());
    let total: u64 = (app.specs.iter())
        .map(|s| s.weight.parse::<u64>().unwrap_or(0))
        .chain(x.flows.iter().map(|f| u64::from(f.1)))
        .sum();
    let header =
        Row::new(["On", "Weight", "Share", "Method", "Name", "Path", "Body"]).style(t.header());
    let rows = app.specs.iter().map(|s| endpoint_row(s, total, t));
    let widths = [
        Constraint::Length(2),
        Constraint::Length(6),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Percentage(28),
        Constraint::Percentage(30),
        Constraint::Min(14),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .block(block)
        .row_highlight_style(t.selected());
    let mut state =
        TableState::default().with_selected((!app.specs.is_empty()).then_some(app.endpoint_row));
    frame.render_stateful_widget(table, list, &mut state);
    let keys = [
        ("a", "add"),
        ("e", "edit"),
        ("c", "duplicate"),
        ("d", "delete"),
        ("Space", "enable/disable"),
        ("^S", "save file"),
    ];
    let line = if app.specs.is_empty() {
        Line::styled("No endpoints yet: press a to add one.", t.warn())
    } else {
        super::footer::key_hints(&keys, t)
    };
    frame.render_widget(Paragraph::new(line), help);
    if extras_rows > 0 {
        let text = extras_line(x, total);
        frame.render_widget(Paragraph::new(Line::styled(text, t.dim())), extra);
    }
}

/// One endpoint's row: on or off, its weight and share of the tasks, what it sends.
fn endpoint_row<'a>(
    s: &'a crate::scenario::EndpointSpec,
    total: u64,
    t: &crate::tui::theme::Theme,
) -> Row<'a> {
    let w: u64 = s.weight.parse().unwrap_or(0);
    let (on, style) = if w > 0 {
        ("✓", t.good())
    } else {
        ("✗", t.bad())
    };
    let share = if w > 0 && total > 0 {
        format!("{:.0}%", w as f64 * 100.0 / total as f64)
    } else {
        "-".into()
    };
    let body = if s.body.trim().is_empty() {
        String::new()
    } else {
        format!("{}, {} bytes", s.body_kind.label(), s.body.len())
    };
    Row::new(vec![
        Cell::from(on).style(style),
        Cell::from(Line::from(s.weight.clone()).right_aligned()),
        Cell::from(Line::from(share).right_aligned()),
        Cell::from(s.method.clone()),
        Cell::from(s.display_name()),
        Cell::from(s.path.clone()),
        Cell::from(body),
    ])
}

/// What runs besides the endpoints: the hooks and the flows with their shares.
fn extras_line(x: &crate::tui::app::Extras, total: u64) -> String {
    let mut parts = Vec::new();
    if x.on_start > 0 {
        parts.push(format!("on_start ×{}", x.on_start));
    }
    for (name, w, steps) in &x.flows {
        let share = if total > 0 {
            u64::from(*w) as f64 * 100.0 / total as f64
        } else {
            0.0
        };
        parts.push(format!("flow \"{name}\" {share:.0}% ({steps} steps)"));
    }
    if x.on_stop > 0 {
        parts.push(format!("on_stop ×{}", x.on_stop));
    }
    format!("Also: {} (t: edit as TOML)", parts.join(", "))
}
