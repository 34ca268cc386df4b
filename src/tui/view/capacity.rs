//! The capacity view: a search started with `f`, its step table, the knee and the chart,
//! as in the report of `swarm find-capacity`.

use crate::capacity;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let block = Block::bordered()
        .title(" Capacity search ")
        .border_style(t.dim());
    let lines: Vec<Line> = match &app.capacity {
        None => vec![
            Line::from("Press f to find how many users the server takes before an SLO breaks."),
            Line::from(""),
            Line::styled(
                "The search raises the users step by step (10 at a time by default), lets each",
                t.dim(),
            ),
            Line::styled(
                "step settle, measures it, and stops when the SLO breaks: e.g. p95<450ms,fail<1%.",
                t.dim(),
            ),
            Line::styled(
                "A breach is measured twice, so a warm-up spike does not end the search.",
                t.dim(),
            ),
        ],
        Some((search, cfg)) => {
            let mut lines = Vec::new();
            if !search.is_done() {
                lines.push(Line::from(Span::styled(
                    format!("▶ {}   (x stops the search)", app.capacity_status),
                    t.warn(),
                )));
            }
            let report = capacity::render(&search.outcome(), "", cfg);
            lines.extend(report.lines().skip(1).map(|l| {
                let style = if l.starts_with("uncertain:") {
                    t.bad()
                } else if l.starts_with("Capacity:") {
                    t.good()
                } else {
                    Default::default()
                };
                Line::styled(l.to_string(), style)
            }));
            lines
        }
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        area,
    );
}
