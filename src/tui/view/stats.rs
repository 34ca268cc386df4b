//! The statistics view: the per-endpoint table (the report's columns) and the percentile
//! panel for the selected row.
//!
//! ```text
//! ┌ Statistics (ms) · rows 1–3 of 9 (↑↓) ───────────────────────────────┐
//! │Type Name          # reqs   # fails  Avg  Min  Max  Med  req/s fail/s│
//! │GET  list items      3411     0(0%) 0.23 0.07 3.10 0.19   68.2    0.0│
//! │GET  a very long na…  ...                                            │
//! │     Aggregated      5482  39(0.7%) ...   (pinned under the rows)    │
//! └─────────────────────────────────────────────────────────────────────┘
//! ┌ Percentiles (ms): list items ─────────────────────────────────────┐
//! │  50%   66%   75%   80%   90%   95%   98%   99% 99.9% 99.99%   max │
//! │ 0.19  0.22  ...                                                    │
//! │ ▁▂▅█▆▃▁  distribution 0.07 ms … 3.10 ms                            │
//! └────────────────────────────────────────────────────────────────────┘
//! ```
//!
//! Names longer than their column end in "…"; from about 100 columns the table adds p95
//! and p99, and the Name column stops growing at 40 characters.

use crate::report::format::{self, count, fails, ms, rate};
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
    // The table takes what its rows need (header, rows, the pinned aggregate, borders);
    // the percentile panel gets the rest, at least 7 lines.
    let needed = app.snapshot.rows.len().max(1) as u16 + 4;
    let table_h = needed.min(area.height.saturating_sub(7)).max(4);
    let [table, panel] =
        Layout::vertical([Constraint::Length(table_h), Constraint::Min(0)]).areas(area);
    draw_table(frame, table, app);
    draw_percentiles(frame, panel, app);
}

/// The selected row: an endpoint, or the aggregate after the last one.
fn selected_row(app: &App) -> &RowStats {
    app.snapshot
        .rows
        .get(app.stats_row)
        .unwrap_or(&app.snapshot.total)
}

/// Columns after Type and Name: title and width. p95 and p99 join when the terminal is
/// wide enough (Locust's web table and k6's summary show them).
const NARROW: [(&str, u16); 8] = [
    ("# reqs", 7),
    ("# fails", 11),
    ("Avg", 5),
    ("Min", 5),
    ("Max", 5),
    ("Med", 5),
    ("req/s", 7),
    ("fail/s", 7),
];

/// While the run goes on the rate columns are the last seconds'; once it stopped (when
/// those would read 0.0) the run's averages, as Locust's final table, and the header
/// says which.
fn rate_label(label: &'static str, ended: bool) -> &'static str {
    match (label, ended) {
        ("req/s", true) => "avg r/s",
        ("fail/s", true) => "avg f/s",
        (l, _) => l,
    }
}

/// The run is over: its rows' rates are the run's averages.
fn ended(app: &App) -> bool {
    app.snapshot.state == crate::stats::RunState::Stopped
}
const WIDE_EXTRA: [(&str, u16); 2] = [("p95", 5), ("p99", 5)];
/// With streamed rows on a wide terminal: their TTFT p50 and p99, ITL p99 and tokens (or
/// events) per second.
const STREAM_EXTRA: [(&str, u16); 4] = [("TTFT50", 6), ("TTFT99", 6), ("ITL99", 6), ("tok/s", 7)];
/// With `--baseline`: the live p95, the baseline's, and the change.
const BASELINE_EXTRA: [(&str, u16); 3] = [("p95", 5), ("base", 5), ("Δp95", 6)];
/// The Name column grows with the names up to this, so figures stay near their names.
const MAX_NAME: usize = 40;
const MIN_NAME: usize = 12;

/// The table's column layout for an inner width.
struct Columns {
    type_w: u16,
    name_w: u16,
    wide: bool,
    /// The baseline's p95 and the change take the place of p95 and p99.
    baseline: bool,
    /// Streamed rows' TTFT, ITL and tokens/s.
    streams: bool,
}

impl Columns {
    fn of(app: &App, inner_width: u16) -> Columns {
        let rows = &app.snapshot.rows;
        let type_w = rows
            .iter()
            .map(|r| r.method.len())
            .max()
            .unwrap_or(0)
            .max(4) as u16;
        let fixed = |cols: &[(&str, u16)]| cols.iter().map(|c| c.1 + 1).sum::<u16>();
        let base = type_w + 1 + fixed(&NARROW);
        let longest = rows
            .iter()
            .map(|r| crate::fmt::width(r.short_name()))
            .chain([10]) // "Aggregated"
            .max()
            .unwrap_or(0)
            .clamp(MIN_NAME, MAX_NAME) as u16;
        let extra = if app.baseline.is_some() {
            fixed(&BASELINE_EXTRA)
        } else {
            fixed(&WIDE_EXTRA)
        };
        // The baseline's columns are worth a shorter Name column than p95 and p99 are.
        let name_room = if app.baseline.is_some() { 14 } else { 24 };
        let wide = inner_width >= base + extra + longest.min(name_room);
        let streamed = rows.iter().any(|r| r.stream.is_some());
        let streams = wide
            && streamed
            && inner_width >= base + extra + fixed(&STREAM_EXTRA) + longest.min(name_room);
        let used =
            base + if wide { extra } else { 0 } + if streams { fixed(&STREAM_EXTRA) } else { 0 };
        let name_w = longest.min(inner_width.saturating_sub(used)).max(4);
        Columns {
            type_w,
            name_w,
            wide,
            baseline: wide && app.baseline.is_some(),
            streams,
        }
    }

    fn widths(&self) -> Vec<Constraint> {
        let mut w = vec![
            Constraint::Length(self.type_w),
            Constraint::Length(self.name_w),
        ];
        w.extend(self.figures().map(|c| Constraint::Length(c.1)));
        w
    }

    fn figures(&self) -> impl Iterator<Item = &'static (&'static str, u16)> {
        let extra: &'static [(&str, u16)] = match (self.wide, self.baseline) {
            (true, true) => &BASELINE_EXTRA,
            (true, false) => &WIDE_EXTRA,
            _ => &[],
        };
        let streams: &'static [(&str, u16)] = if self.streams { &STREAM_EXTRA } else { &[] };
        NARROW[..6]
            .iter()
            .chain(extra)
            .chain(streams)
            .chain(&NARROW[6..])
    }
}

/// Endpoint rows scroll; the Aggregated row stays pinned under them, and the title says
/// which rows are in view when they do not all fit.
fn draw_table(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let block = Block::bordered().border_style(t.dim());
    let inner = block.inner(area);
    let cols = Columns::of(app, inner.width);
    let titles = ["Type", "Name"]
        .into_iter()
        .map(|h| Cell::from(Line::from(h)))
        .chain(
            cols.figures()
                .map(|(h, _)| Cell::from(Line::from(rate_label(h, ended(app))).right_aligned())),
        );
    let header = Row::new(titles).style(t.header());
    let n = app.snapshot.rows.len();
    let [body, total] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
    // Rows that fit under the header.
    let visible = body.height.saturating_sub(1) as usize;
    let selected = app.stats_row.min(n);
    let first = if selected < n && selected >= visible {
        selected + 1 - visible
    } else {
        0
    };
    let title = table_title((first, visible, n), &cols, app);
    frame.render_widget(block.title(title), area);
    let rows: Vec<Row> = app
        .snapshot
        .rows
        .iter()
        .map(|r| row(r, app, &cols))
        .collect();
    if rows.is_empty() && body.height > 1 {
        draw_no_requests(frame, body, t);
    }
    let table = Table::new(rows, cols.widths())
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected());
    let mut state = TableState::default()
        .with_offset(first)
        .with_selected((selected < n).then_some(selected));
    frame.render_stateful_widget(table, body, &mut state);
    let aggregate = row(&app.snapshot.total, app, &cols).style(if selected == n {
        t.selected().patch(t.header())
    } else {
        t.header()
    });
    frame.render_widget(
        Table::new([aggregate], cols.widths()).column_spacing(1),
        total,
    );
}

/// " Statistics (ms) ", with the rows in view when they do not all fit and the
/// baseline the p95 column compares with.
fn table_title((first, visible, n): (usize, usize, usize), cols: &Columns, app: &App) -> String {
    let mut title = if n > visible && visible > 0 {
        format!(
            " Statistics (ms) · rows {}–{} of {n} (↑↓) ",
            first + 1,
            (first + visible).min(n)
        )
    } else {
        " Statistics (ms) ".to_string()
    };
    if let (true, Some((path, _))) = (cols.baseline, &app.baseline) {
        title += &format!("· base: p95 of {path} ");
    }
    title
}

/// Before the first request: what to press, across the whole width (not squeezed into
/// the Name column).
fn draw_no_requests(frame: &mut Frame, body: Rect, t: &crate::tui::theme::Theme) {
    let hint = format::fit(
        "     no requests yet: press s to start",
        body.width as usize,
    );
    let line = Rect {
        y: body.y + 1,
        height: 1,
        ..body
    };
    frame.render_widget(Paragraph::new(Line::styled(hint, t.dim())), line);
}

fn row<'a>(r: &RowStats, app: &App, cols: &Columns) -> Row<'a> {
    let fail_style = if r.failures > 0 {
        app.theme.bad()
    } else {
        Default::default()
    };
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    let mut cells = vec![
        Cell::from(format::fit(&r.method, cols.type_w as usize)),
        Cell::from(format::fit(r.short_name(), cols.name_w as usize)),
        right(count(r.requests, 7)),
        Cell::from(
            Line::from(fails(r.failures, r.requests))
                .right_aligned()
                .style(fail_style),
        ),
        right(format::ms_of(r, r.avg_ms)),
        right(format::ms_of(r, r.min_ms)),
        right(format::ms_of(r, r.max_ms)),
        right(format::ms_of(r, r.median_ms())),
    ];
    if cols.baseline {
        let p95 = r.percentile_ms(0.95).unwrap_or(0.0);
        cells.push(right(format::ms_of(r, p95)));
        cells.extend(baseline_cells(r, p95, app));
    } else if cols.wide {
        for q in [0.95, 0.99] {
            cells.push(right(format::ms_of(r, r.percentile_ms(q).unwrap_or(0.0))));
        }
    }
    if cols.streams {
        cells.extend(stream_cells(r).into_iter().map(right));
    }
    let (rps, fps) = if ended(app) {
        (r.total_rps, r.total_fps)
    } else {
        (r.current_rps, r.current_fps)
    };
    cells.push(right(rate(rps)));
    cells.push(right(rate(fps)));
    Row::new(cells)
}

/// A streamed row's TTFT p50 and p99, ITL p99 and tokens (or events) per second; blanks
/// for a row that is not streamed.
fn stream_cells(r: &RowStats) -> [String; 4] {
    let Some(s) = &r.stream else {
        return Default::default();
    };
    let at = |v: &[f64; 11], q: f64, n: u64| {
        crate::stats::StreamStats::at(v, q)
            .filter(|_| n > 0)
            .map_or("-".into(), ms)
    };
    [
        at(&s.ttft_ms, 0.5, s.ttft_count),
        at(&s.ttft_ms, 0.99, s.ttft_count),
        at(&s.itl_ms, 0.99, s.itl_count),
        rate(if s.tokens.is_some() {
            s.tokens_per_s
        } else {
            s.events_per_s
        }),
    ]
}

/// The baseline's p95 for the row and the change from it (marked when worse), or
/// dashes for a row the baseline does not have.
fn baseline_cells<'a>(r: &RowStats, p95: f64, app: &App) -> Vec<Cell<'a>> {
    let right = |s: String| Cell::from(Line::from(s).right_aligned());
    let mut cells = Vec::new();
    let base = app
        .baseline
        .as_ref()
        .and_then(|(_, b)| crate::compare::matching(&b.stats, r))
        .filter(|b| b.requests > 0);
    match base {
        Some(b) => {
            let was = b.percentile_ms(0.95).unwrap_or(0.0);
            cells.push(right(ms(was)));
            let change = if r.requests == 0 || was <= 0.0 {
                "-".to_string()
            } else {
                format!("{:+.0}%", (p95 - was) / was * 100.0)
            };
            let worse = r.requests > 0
                && p95 - was >= crate::compare::NOISE_MS
                && was > 0.0
                && (p95 - was) / was > crate::compare::MARK_WORSE;
            let style = if worse {
                app.theme.bad()
            } else {
                Default::default()
            };
            cells.push(Cell::from(Line::from(change).right_aligned().style(style)));
        }
        None => {
            cells.push(right("-".into()));
            cells.push(right("-".into()));
        }
    }
    cells
}

/// Open model: the latency from the intended start first, the service time below, and
/// a legend.
fn draw_corrected(
    frame: &mut Frame,
    area: Rect,
    (corrected, raw): (String, String),
    t: &crate::tui::theme::Theme,
) {
    let [first, second, legend] = Layout::vertical([Constraint::Length(1); 3]).areas(area);
    frame.render_widget(Paragraph::new(Line::styled(corrected, t.warn())), first);
    frame.render_widget(Paragraph::new(raw), second);
    let text = Line::from(vec![
        Span::styled("1: ", t.warn()),
        Span::styled("from intended start (no coordinated omission)  ", t.dim()),
        Span::raw("2: "),
        Span::styled("service time (raw)", t.dim()),
    ]);
    frame.render_widget(Paragraph::new(text), legend);
}

fn draw_percentiles(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let r = selected_row(app);
    let base = app
        .baseline
        .as_ref()
        .and_then(|(path, b)| Some((path, crate::compare::matching(&b.stats, r)?)))
        .filter(|(_, b)| b.requests > 0 && r.corrected_ms.is_none());
    let title = match &base {
        Some((path, _)) => format!(" Percentiles (ms): {} · dim: baseline {path} ", r.name),
        None => format!(" Percentiles (ms): {} ", r.name),
    };
    let block = Block::bordered().title(title).border_style(t.dim());
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
        values.iter().map(|v| cell(&format::ms_of(r, *v))).collect()
    };
    frame.render_widget(Paragraph::new(Line::styled(label_line, t.header())), labels);
    match &r.corrected_ms {
        // Open model: the latency from the intended start first, the service time below.
        Some(corrected) => {
            let area = Rect {
                height: (values.height + dist.height).min(3),
                ..values
            };
            let lines = (value_line(corrected), value_line(&r.percentiles_ms));
            draw_corrected(frame, area, lines, t);
        }
        None => {
            frame.render_widget(Paragraph::new(value_line(&r.percentiles_ms)), values);
            let dist = match &r.stream {
                Some(s) if dist.height > 2 => {
                    let [line, rest] =
                        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(dist);
                    frame.render_widget(Paragraph::new(stream_line(s, t)), line);
                    rest
                }
                _ => dist,
            };
            let dist = match base {
                Some((_, b)) if dist.height > 1 => {
                    let [line, rest] =
                        Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(dist);
                    let was: String = b.percentiles_ms.iter().map(|v| cell(&ms(*v))).collect();
                    frame.render_widget(Paragraph::new(Line::styled(was, t.dim())), line);
                    rest
                }
                _ => dist,
            };
            draw_distribution(frame, dist, r, app);
        }
    }
}

/// A streamed row's times and rate: TTFT p50 and p99, ITL p99, TPOT p50, tokens (or
/// events) per second, streams and the incomplete ones.
fn stream_line<'a>(s: &crate::stats::StreamStats, t: &crate::tui::theme::Theme) -> Line<'a> {
    let at = |v: &[f64; 11], q: f64, n: u64| {
        crate::stats::StreamStats::at(v, q)
            .filter(|_| n > 0)
            .map_or("-".into(), ms)
    };
    let mut text = format!(
        "TTFT p50 {} p99 {} · ITL p99 {}",
        at(&s.ttft_ms, 0.5, s.ttft_count),
        at(&s.ttft_ms, 0.99, s.ttft_count),
        at(&s.itl_ms, 0.99, s.itl_count)
    );
    if let Some(tpot) = &s.tpot_ms {
        text += &format!(" · TPOT p50 {}", at(tpot, 0.5, 1));
    }
    text += &match s.tokens {
        Some(_) => format!(" · {} tok/s", format::rate(s.tokens_per_s)),
        None => format!(" · {} ev/s", format::rate(s.events_per_s)),
    };
    text += &format!(" · {} streams", s.streams);
    let mut spans = vec![Span::styled(text, t.header())];
    if s.incomplete > 0 {
        spans.push(Span::styled(
            format!(", {} incomplete", s.incomplete),
            t.bad(),
        ));
    }
    Line::from(spans)
}

fn draw_distribution(frame: &mut Frame, area: Rect, r: &RowStats, app: &App) {
    if r.distribution.is_empty() || area.height == 0 {
        return;
    }
    let t = &app.theme;
    let bars: Vec<u64> = r.distribution.iter().map(|b| b.1).collect();
    // Wider bars on wider panels (2 to 6 columns a bucket), at most 8 lines high.
    let each = (area.width.saturating_sub(50) as usize / bars.len().max(1)).clamp(2, 6);
    let width = (bars.len() * each) as u16;
    let area = Rect {
        y: area.y + area.height.saturating_sub(8),
        height: area.height.min(8),
        ..area
    };
    let [spark, label] =
        Layout::horizontal([Constraint::Length(width + 1), Constraint::Min(0)]).areas(area);
    let doubled: Vec<u64> = bars
        .iter()
        .flat_map(|&b| std::iter::repeat_n(b, each))
        .collect();
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
