//! Drawing: a pure function of the `App` (its state and newest snapshot). No clock reads,
//! no I/O and no histogram math here.
//!
//! ```text
//! ┌──────────────────────────────────────────────┐
//! │ header: scenario, host, state, users, rates  │  2 rows
//! │ tabs: 1 Statistics 2 Charts 3 Failures 4 ... │  1 row
//! │ the selected view                            │  the rest
//! │ controls: users and spawn-rate sliders       │  1 row
//! │ key hints, or the latest message             │  1 row
//! └──────────────────────────────────────────────┘
//! ```

mod capacity;
mod charts;
mod endpoints;
mod failures;
mod footer;
mod header;
mod popup;
mod stats;
mod workers;

use super::app::{App, View};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Paragraph, Tabs, Wrap};

/// The smallest terminal the full screen is drawn in.
const MIN_WIDTH: u16 = 80;
const MIN_HEIGHT: u16 = 24;

pub fn draw(frame: &mut Frame, app: &App) {
    let area = frame.area();
    if area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(frame, area);
        return;
    }
    let [head, tabs, main, controls, hints] = Layout::vertical([
        Constraint::Length(header::height(app)),
        Constraint::Length(1),
        Constraint::Min(0),
        Constraint::Length(1),
        Constraint::Length(1),
    ])
    .areas(area);
    header::draw(frame, head, app);
    draw_tabs(frame, tabs, app);
    match app.view {
        View::Stats => stats::draw(frame, main, app),
        View::Charts => charts::draw(frame, main, app),
        View::Failures => failures::draw(frame, main, app),
        View::Endpoints => endpoints::draw(frame, main, app),
        View::Capacity => capacity::draw(frame, main, app),
        View::Workers => workers::draw(frame, main, app),
    }
    footer::draw(frame, controls, hints, app);
    popup::draw(frame, area, app);
}

fn draw_tabs(frame: &mut Frame, area: Rect, app: &App) {
    let views = app.views();
    let titles: Vec<String> = views
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{} {}", i + 1, v.title()))
        .collect();
    let selected = views.iter().position(|v| *v == app.view).unwrap_or(0);
    let tabs = Tabs::new(titles)
        .select(selected)
        .style(app.theme.dim())
        .highlight_style(app.theme.selected())
        .divider("│");
    frame.render_widget(tabs, area);
}

fn too_small(frame: &mut Frame, area: Rect) {
    let text = vec![
        Line::from("swarm needs a terminal of at least 80×24."),
        Line::from(format!(
            "This one is {}×{}: make it larger, or press q to quit.",
            area.width, area.height
        )),
    ];
    frame.render_widget(Paragraph::new(text).wrap(Wrap { trim: true }), area);
}
