//! The workers view (a distributed run only): each worker as the controller last heard of
//! it, and while they join, how to start the ones still missing.
//!
//! ```text
//! #  Host                  State     Users   req/s   CPU %    Offset  Heard
//! 0  load1 (10.0.0.11)     running     250   212.0    31.5   +0.4 ms  0.3 s
//!
//! Offset is the worker's clock minus the controller's; Heard, since its last report.
//! ```

use crate::report::format::fit;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let s = &app.snapshot;
    let joined = s.joined_workers();
    let title = format!(" Workers: {joined}/{} connected ", s.workers_wanted);
    let block = Block::bordered().title(title).border_style(t.dim());
    let notes = notes(app);
    let [note_area, table_area] =
        Layout::vertical([Constraint::Length(notes.len() as u16), Constraint::Min(0)])
            .areas(block.inner(area));
    frame.render_widget(block, area);
    frame.render_widget(Paragraph::new(notes), note_area);
    if s.workers.is_empty() {
        return;
    }
    let inner = table_area.width as usize;
    // The other columns and the eight gaps between the nine.
    let host_w = inner
        .saturating_sub(3 + 9 + 7 + 9 + 7 + 9 + 10 + 7 + 8)
        .clamp(8, 40);
    let header = Row::new([
        "#", "Host", "State", "Users", "req/s", "CPU %", "Late p99", "Offset", "Heard",
    ])
    .style(t.header());
    let rows = s.workers.iter().map(|w| worker_row(w, host_w, t));
    let widths = [
        Constraint::Length(3),
        Constraint::Length(host_w as u16),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(7),
        Constraint::Length(9),
        Constraint::Length(10),
        Constraint::Length(7),
    ];
    frame.render_widget(Table::new(rows, widths).header(header), table_area);
}

/// What the table does not say: workers still awaited, and a lost one.
fn notes(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let s = &app.snapshot;
    let joined = s.joined_workers();
    let mut notes = Vec::new();
    if (joined as u32) < s.workers_wanted {
        notes.push(Line::styled(
            format!(
                "Waiting for {} more: swarm worker --controller {}{}",
                s.workers_wanted - joined as u32,
                s.controller_addr,
                if s.controller_addr.starts_with("127.") {
                    ""
                } else {
                    " --token-file FILE"
                }
            ),
            t.warn(),
        ));
    }
    if let Some(lost) = &s.worker_lost {
        let what = if s.degraded {
            "the others carry its share"
        } else {
            "the run stopped"
        };
        notes.push(Line::styled(format!("{lost}: {what}"), t.bad()));
    }
    for lost in s.lost_workers.iter().filter(|l| l.unreported_s > 0.0) {
        notes.push(Line::styled(lost.describe(), t.bad()));
    }
    notes
}

fn worker_row<'a>(
    w: &'a crate::stats::WorkerStatus,
    host_w: usize,
    t: &crate::tui::theme::Theme,
) -> Row<'a> {
    let state_style = match w.state.as_str() {
        "running" | "spawning" => t.good(),
        "missing" => t.bad(),
        _ => t.dim(),
    };
    let right = |text: String| Cell::from(Line::from(text).right_aligned());
    Row::new(vec![
        Cell::from(w.index.to_string()),
        Cell::from(fit(&w.host, host_w)),
        Cell::from(w.state.clone()).style(state_style),
        right(w.users.to_string()),
        right(format!("{:.1}", w.rps)),
        right(format!("{:.1}", w.cpu_percent)),
        right(format!("{:.1} ms", w.think_late_p99_ms)),
        right(format!("{:+.1} ms", w.clock_offset_ms)),
        right(format!("{:.1} s", w.last_heard_ms as f64 / 1000.0)),
    ])
}
