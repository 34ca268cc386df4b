//! The statistics view: the per-endpoint table (the report's columns) and the percentile
//! panel for the selected row.
//!
//! ```text
//! Type Name          # reqs   # fails  Avg  Min  Max  Med  req/s fail/s
//! GET  list items      3411     0(0%) 0.23 0.07 3.10 0.19   68.2    0.0
//!      Aggregated      5482  39(0.7%) ...
//! ┌ Percentiles (ms): list items ─────────────────────────────────────┐
//! │  50%   66%   75%   80%   90%   95%   98%   99% 99.9% 99.99%   max │
//! │ 0.19  0.22  ...                                                    │
//! │ ▁▂▅█▆▃▁  distribution 0.07 ms … 3.10 ms                            │
//! └────────────────────────────────────────────────────────────────────┘
//! ```

use crate::report::format::{count, fails, ms, rate};
use crate::stats::RowStats;
use crate::tui::app::App;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Sparkline, Table, TableState};

const LABELS: [&str; 11] = [
    "50%", "66%", "75%", "80%", "90%", "95%", "98%", "99%", "99.9%", "99.99%", "max",
];

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let [table, panel] = Layout::vertical([Constraint::Min(4), Constraint::Length(7)]).areas(area);
    draw_table(frame, table, app);
    draw_percentiles(frame, panel, app);
}

/// The selected row: an endpoint, or the aggregate after the last one.
pub fn selected_row(app: &App) -> &RowStats {
    app.snapshot
        .rows
        .get(app.stats_row)
        .unwrap_or(&app.snapshot.total)
}

fn draw_table(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let titles = [
        "Type", "Name", "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "fail/s",
    ];
    let header = Row::new(titles.iter().enumerate().map(|(i, h)| {
        let line = Line::from(*h);
        Cell::from(if i < 2 { line } else { line.right_aligned() })
    }))
    .style(t.header());
    let mut rows: Vec<Row> = app.snapshot.rows.iter().map(|r| row(r, app)).collect();
    rows.push(row(&app.snapshot.total, app).style(t.header()));
    if app.snapshot.rows.is_empty() {
        rows.insert(
            0,
            Row::new(["", "no requests yet: press s to start"]).style(t.dim()),
        );
    }
    let type_width = app
        .snapshot
        .rows
        .iter()
        .map(|r| r.method.len())
        .max()
        .unwrap_or(0)
        .max(4);
    let widths = [
        Constraint::Length(type_width as u16),
        Constraint::Min(12),
        Constraint::Length(7),
        Constraint::Length(11),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(5),
        Constraint::Length(7),
        Constraint::Length(6),
    ];
    let table = Table::new(rows, widths)
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected())
        .block(
            Block::bordered()
                .title(" Statistics (ms) ")
                .border_style(t.dim()),
        );
    let selected = if app.snapshot.rows.is_empty() {
        app.stats_row + 1
    } else {
        app.stats_row
    };
    let mut state = TableState::default().with_selected(Some(selected));
    frame.render_stateful_widget(table, area, &mut state);
}

fn row<'a>(r: &RowStats, app: &App) -> Row<'a> {
    let fail_style = if r.failures > 0 {
        app.theme.bad()
    } else {
        Default::default()
    };
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    Row::new(vec![
        Cell::from(r.method.clone()),
        Cell::from(r.short_name().to_string()),
        right(count(r.requests, 7)),
        Cell::from(
            Line::from(fails(r.failures, r.requests))
                .right_aligned()
                .style(fail_style),
        ),
        right(ms(r.avg_ms)),
        right(ms(r.min_ms)),
        right(ms(r.max_ms)),
        right(ms(r.median_ms())),
        right(rate(r.current_rps)),
        right(rate(r.current_fps)),
    ])
}

fn draw_percentiles(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let r = selected_row(app);
    let block = Block::bordered()
        .title(format!(" Percentiles (ms): {} ", r.name))
        .border_style(t.dim());
    let inner = block.inner(area);
    frame.render_widget(block, area);
    let [labels, values, dist] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    let cell = |s: &str| format!("{s:>7}");
    let label_line: String = LABELS.iter().map(|l| cell(l)).collect();
    let value_line = |values: &[f64; 11]| -> String {
        values
            .iter()
            .map(|v| cell(&if r.requests == 0 { "-".into() } else { ms(*v) }))
            .collect()
    };
    frame.render_widget(Paragraph::new(Line::styled(label_line, t.header())), labels);
    match &r.corrected_ms {
        // Open model: the latency from the intended start first, the service time below.
        Some(corrected) => {
            let [first, second, legend] =
                Layout::vertical([Constraint::Length(1); 3]).areas(Rect {
                    height: (values.height + dist.height).min(3),
                    ..values
                });
            frame.render_widget(
                Paragraph::new(Line::styled(value_line(corrected), t.warn())),
                first,
            );
            frame.render_widget(Paragraph::new(value_line(&r.percentiles_ms)), second);
            let text = Line::from(vec![
                Span::styled("1: ", t.warn()),
                Span::styled("from intended start (no coordinated omission)  ", t.dim()),
                Span::raw("2: "),
                Span::styled("service time (raw)", t.dim()),
            ]);
            frame.render_widget(Paragraph::new(text), legend);
        }
        None => {
            frame.render_widget(Paragraph::new(value_line(&r.percentiles_ms)), values);
            draw_distribution(frame, dist, r, app);
        }
    }
}

fn draw_distribution(frame: &mut Frame, area: Rect, r: &RowStats, app: &App) {
    if r.distribution.is_empty() || area.height == 0 {
        return;
    }
    let t = &app.theme;
    let bars: Vec<u64> = r.distribution.iter().map(|b| b.1).collect();
    let width = (bars.len() * 2) as u16;
    let [spark, label] =
        Layout::horizontal([Constraint::Length(width + 1), Constraint::Min(0)]).areas(area);
    let doubled: Vec<u64> = bars.iter().flat_map(|&b| [b, b]).collect();
    frame.render_widget(
        Sparkline::default().data(&doubled).style(t.series(0)),
        spark,
    );
    let text = Line::from(vec![
        Span::styled("latency distribution ", t.dim()),
        Span::raw(format!(
            "{} ms … {} ms, log scale",
            ms(r.min_ms),
            ms(r.max_ms)
        )),
    ]);
    let rows = Layout::vertical([Constraint::Min(0), Constraint::Length(1)]).areas::<2>(label);
    frame.render_widget(Paragraph::new(text), rows[1]);
}
