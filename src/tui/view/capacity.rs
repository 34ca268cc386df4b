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
    let lines = match &app.capacity {
        None => explanation(t),
        Some((search, cfg)) => search_lines(app, search, cfg),
    };
    // The step table and the chart scroll (↑ ↓) when they do not fit.
    let inner_h = area.height.saturating_sub(2) as usize;
    let inner_w = area.width.saturating_sub(2).max(1) as usize;
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let max_scroll = rows.saturating_sub(inner_h);
    let scroll = app.capacity_scroll.min(max_scroll);
    let block = if max_scroll > 0 {
        block.title_bottom(format!(" ↑↓ scroll ({}/{}) ", scroll, max_scroll))
    } else {
        block
    };
    frame.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false })
            .scroll((scroll as u16, 0)),
        area,
    );
}

/// Before any search: what `f` does.
fn explanation(t: &crate::tui::theme::Theme) -> Vec<Line<'static>> {
    vec![
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
    ]
}

/// A search's report: where it is, the verdict first (it is what the search is for),
/// then the steps and the chart.
fn search_lines(
    app: &App,
    search: &capacity::Search,
    cfg: &capacity::SearchConfig,
) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    if !search.is_done() {
        lines.push(Line::from(Span::styled(
            format!("▶ {}   (x stops the search)", app.capacity_status),
            t.warn(),
        )));
    }
    let report = capacity::render(&search.outcome(), "", cfg);
    let verdict = |l: &str| l.starts_with("Capacity:") || l.starts_with("uncertain:");
    for l in report.lines().filter(|l| verdict(l)) {
        let style = if l.starts_with("uncertain:") {
            t.bad()
        } else {
            t.good()
        };
        lines.push(Line::styled(l.to_string(), style));
    }
    let rest = report.lines().skip(1).filter(|l| !verdict(l));
    lines.extend(rest.map(|l| Line::raw(l.to_string())));
    lines
}
