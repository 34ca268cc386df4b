//! The charts view: requests and failures per second, response time (p50, p95) and users
//! over the whole run, each with labelled axes so values can be read, not only shapes.
//!
//! ```text
//! ┌ Requests/s ─────────────────┐
//! │ 120┤   ⣀⡠⠤⠒⠉ req/s           │
//! │   0┼──────────── fail/s      │
//! │    0s        30s        60s  │
//! ├ Response time (ms) ─────────┤
//! ├ Users ──────────────────────┤
//! ```
//!
//! With streamed endpoints, TTFT (p50, p99) and ITL p99 take the users' chart.

use crate::stats::Point;
use crate::tui::app::App;
use crate::tui::theme::Theme;
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::symbols::Marker;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Axis, Block, Chart, Dataset, GraphType, Paragraph};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    let history = &app.snapshot.history;
    if history.is_empty() {
        let text = Line::styled(
            "No history yet: charts fill in once the swarm has run for a second.",
            app.theme.dim(),
        );
        frame.render_widget(
            Paragraph::new(text).block(Block::bordered().title(" Charts ")),
            area,
        );
        return;
    }
    // On a small screen (80x24) three charts are two rows tall each, flat lines: the
    // users chart gives way (the header says the users) and the other two grow.
    let small = area.height < SMALL;
    let n = if small { 2 } else { 3 };
    let rows = Layout::vertical(vec![Constraint::Ratio(1, n); n as usize]).split(area);
    let step = app.snapshot.history_step;
    let series = |f: fn(&Point) -> f64| history.iter().map(|p| (p.t, f(p))).collect::<Vec<_>>();
    let rps = series(|p| p.rps);
    let fps = series(|p| p.fps);
    let p50 = series(|p| p.p50_ms);
    let p95 = series(|p| p.p95_ms);
    let users = series(|p| f64::from(p.users));
    let t = &app.theme;
    let note = if step > 1 {
        format!(" (one point per {step} s)")
    } else {
        String::new()
    };
    // The legend's req/s is the header's: the last seconds' while running, the run's
    // average once stopped (a history point's differed from it on the same screen).
    let s = &app.snapshot;
    let now = if s.state == crate::stats::RunState::Stopped {
        (s.total.total_rps, s.total.total_fps)
    } else {
        (s.total.current_rps, s.total.current_fps)
    };
    chart(
        frame,
        rows[0],
        t,
        &format!(" Requests/s{note} "),
        &[
            ("req/s", &rps, Some(now.0)),
            ("failures/s", &fps, Some(now.1)),
        ],
    );
    // With streamed endpoints their TTFT and ITL take the users' place (on a small
    // screen, the response time's: a stream's end-to-end time says less than its TTFT).
    let streamed = history.iter().any(|p| p.stream.is_some());
    let latency_at = if streamed && small { None } else { Some(1) };
    if let Some(i) = latency_at {
        chart(
            frame,
            rows[i],
            t,
            " Response time (ms) ",
            &[("p50", &p50, None), ("p95", &p95, None)],
        );
    }
    if streamed {
        stream_chart(frame, rows[if small { 1 } else { 2 }], app);
    } else if !small {
        chart(frame, rows[2], t, " Users ", &[("users", &users, None)]);
    }
}

/// TTFT (p50, p99) and ITL p99 of the streams, over time.
fn stream_chart(frame: &mut Frame, area: Rect, app: &App) {
    let history = &app.snapshot.history;
    let stream = |f: fn(&crate::stats::StreamPoint) -> f64| {
        history
            .iter()
            .filter_map(|p| p.stream.as_ref().map(|s| (p.t, f(s))))
            .collect::<Vec<_>>()
    };
    let (ttft50, ttft99) = (stream(|s| s.ttft_p50_ms), stream(|s| s.ttft_p99_ms));
    let itl99 = stream(|s| s.itl_p99_ms);
    chart(
        frame,
        area,
        &app.theme,
        " Streams (ms) ",
        &[
            ("TTFT p50", &ttft50, None),
            ("TTFT p99", &ttft99, None),
            ("ITL p99", &itl99, None),
        ],
    );
}

/// Below this many rows the charts view shows two charts, not three.
const SMALL: u16 = 24;

/// A series: its name, its points, and the value its legend shows (None: its last).
type Series<'a> = (&'a str, &'a [(f64, f64)], Option<f64>);

fn chart(frame: &mut Frame, area: Rect, t: &Theme, title: &str, lines: &[Series]) {
    let (x0, x1) = x_bounds(lines);
    let y1 = nice_max(
        lines
            .iter()
            .flat_map(|(_, d, _)| d.iter().map(|p| p.1))
            .fold(0.0, f64::max),
    );
    let datasets = lines
        .iter()
        .enumerate()
        .map(|(i, (_, data, _))| {
            Dataset::default()
                .marker(marker(t, i))
                .graph_type(GraphType::Line)
                .style(t.series(i))
                .data(data)
        })
        .collect();
    // The legend lives in the title, with each series' latest value, so it never hides data.
    let mut title_spans = vec![Span::raw(title.to_string()), Span::raw("— ")];
    for (i, (name, data, shown)) in lines.iter().enumerate() {
        let glyph = if marker(t, i) == Marker::Braille {
            "━"
        } else {
            "•"
        };
        title_spans.push(Span::styled(
            format!("{glyph} {} ", legend(name, data, *shown)),
            t.series(i),
        ));
    }
    let x_labels = [x0, (x0 + x1) / 2.0, x1].map(|x| Line::from(secs_label(x)));
    // Inside the borders, one line goes to the x labels; with fewer than 5 lines left
    // for the plot a middle label would sit on the wrong row, so only 0 and the top show.
    let plot_rows = area.height.saturating_sub(3);
    let y_labels: Vec<Line> = if plot_rows < 5 {
        vec![Line::from(value_label(0.0)), Line::from(value_label(y1))]
    } else {
        [0.0, y1 / 2.0, y1]
            .map(|y| Line::from(value_label(y)))
            .to_vec()
    };
    let chart = Chart::new(datasets)
        .block(
            Block::bordered()
                .title(Line::from(title_spans))
                .border_style(t.dim()),
        )
        .x_axis(
            Axis::default()
                .bounds([x0, x1])
                .labels(x_labels)
                .style(t.dim()),
        )
        .y_axis(
            Axis::default()
                .bounds([0.0, y1])
                .labels(y_labels)
                .style(Style::new()),
        )
        .legend_position(None);
    frame.render_widget(chart, area);
}

/// Without colour (NO_COLOR), the second series is drawn in dots so the two stay apart.
fn marker(t: &Theme, series: usize) -> Marker {
    if t.color || series == 0 {
        Marker::Braille
    } else {
        Marker::Dot
    }
}

/// "req/s 123.4": the legend carries the value given, or the latest point's.
fn legend(name: &str, data: &[(f64, f64)], shown: Option<f64>) -> String {
    match shown {
        // A rate the header shows too, written as it writes it.
        Some(rate) => format!("{name} {}", crate::report::format::rate(rate)),
        None => format!("{name} {}", value_label(data.last().map_or(0.0, |p| p.1))),
    }
}

fn x_bounds(lines: &[Series]) -> (f64, f64) {
    let xs = lines.iter().flat_map(|(_, d, _)| d.iter().map(|p| p.0));
    let (lo, hi) = xs.fold((f64::MAX, f64::MIN), |(lo, hi), x| (lo.min(x), hi.max(x)));
    if hi <= lo {
        (lo.min(0.0), lo.max(0.0) + 1.0)
    } else {
        (lo, hi)
    }
}

/// A round upper bound at or above `v` (1, 2, 5 × 10^n), so axis labels read cleanly.
fn nice_max(v: f64) -> f64 {
    if v <= 0.0 {
        return 1.0;
    }
    let mag = 10f64.powf(v.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|m| *m >= v)
        .unwrap_or(10.0 * mag)
}

fn value_label(v: f64) -> String {
    if v >= 10_000.0 {
        format!("{:.0}k", v / 1000.0)
    } else if v >= 100.0 || v == v.trunc() {
        format!("{v:.0}")
    } else {
        format!("{v:.1}")
    }
}

fn secs_label(s: f64) -> String {
    let s = s.round() as u64;
    if s >= 3600 {
        format!("{}h{:02}m", s / 3600, s / 60 % 60)
    } else if s >= 60 {
        format!("{}m{:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn axis_bounds_are_round() {
        assert_eq!(super::nice_max(87.0), 100.0);
        assert_eq!(super::nice_max(120.0), 200.0);
        assert_eq!(super::nice_max(0.3), 0.5);
        assert_eq!(super::nice_max(0.0), 1.0);
        assert_eq!(super::secs_label(125.0), "2m05s");
    }
}
