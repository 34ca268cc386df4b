//! Popups over the main screen: help (generated from the keymap), the endpoint form,
//! single-line prompts, and the quit confirmation.

use crate::tui::app::{App, Popup, Prompt};
use crate::tui::form::{FIELDS, Field, Form, METHODS, STREAMS};
use crate::tui::input::TextInput;
use crate::tui::keymap::{FORM_KEYS, help_rows};
use ratatui::Frame;
use ratatui::layout::{Constraint, Flex, Layout, Position, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

pub fn draw(frame: &mut Frame, area: Rect, app: &App) {
    match &app.popup {
        None => {}
        Some(Popup::Help) => help(frame, area, app),
        Some(Popup::Form(form)) => form_popup(frame, area, app, form),
        Some(Popup::Prompt(p)) => prompt(frame, area, app, p),
        Some(Popup::ConfirmQuit) => confirm(frame, area, app),
        Some(Popup::ChangedOnDisk(path)) => question(
            frame,
            area,
            app,
            " Changed on disk ",
            format!(
                "{} changed on disk since swarm loaded it; saving now would lose those changes.",
                path.display()
            ),
            &[
                ("o", "overwrite"),
                ("r", "reload (drop my edits)"),
                ("a", "save as..."),
                ("Esc", "cancel"),
            ],
        ),
        Some(Popup::ConfirmDelete(_, name)) => question(
            frame,
            area,
            app,
            " Delete endpoint? ",
            format!("Delete \"{name}\" from the scenario (and the running swarm)?"),
            &[("y", "delete"), ("n", "keep")],
        ),
        Some(Popup::FailureDetail(name, method, kind)) => {
            failure_detail(frame, area, app, (name, method, *kind));
        }
        Some(Popup::ConfirmOverwrite(path)) => question(
            frame,
            area,
            app,
            " Overwrite? ",
            format!("{} exists already.", path.display()),
            &[("y", "overwrite it"), ("n", "keep it (not saved)")],
        ),
        Some(Popup::Raw(r)) => raw(frame, area, app, r),
    }
}

/// The whole scenario as TOML, scrolled to the cursor.
fn raw(frame: &mut Frame, area: Rect, app: &App, r: &crate::tui::app::RawEditor) {
    let t = &app.theme;
    let rect = centered(
        area,
        area.width.saturating_sub(2),
        area.height.saturating_sub(2),
    );
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(
            " Scenario TOML (Ctrl-S applies and saves, Esc discards; keys: scenarios/README.md) ",
        )
        .border_style(t.title());
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [text, msg] = Layout::vertical([Constraint::Min(1), Constraint::Length(2)]).areas(inner);
    let (line, col) = r.input.cursor_line_col();
    let scroll = line.saturating_sub(text.height.saturating_sub(1) as usize) as u16;
    let hscroll = col.saturating_sub(text.width.saturating_sub(1) as usize) as u16;
    frame.render_widget(
        Paragraph::new(r.input.text.as_str()).scroll((scroll, hscroll)),
        text,
    );
    let msg_line = match &r.error {
        Some(e) => Line::styled(e.clone(), t.bad()),
        None => Line::styled(
            "Edits apply to the running swarm; flows, on_start, vars, data files and checks live here",
            t.dim(),
        ),
    };
    frame.render_widget(Paragraph::new(msg_line).wrap(Wrap { trim: true }), msg);
    let x = text.x + (col as u16).saturating_sub(hscroll);
    let y = text.y + (line as u16).saturating_sub(scroll);
    frame.set_cursor_position(Position::new(
        x.min(text.right().saturating_sub(1)),
        y.min(text.bottom().saturating_sub(1)),
    ));
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let [v] = Layout::vertical([Constraint::Length(height.min(area.height))])
        .flex(Flex::Center)
        .areas(area);
    let [h] = Layout::horizontal([Constraint::Length(width.min(area.width))])
        .flex(Flex::Center)
        .areas(v);
    h
}

/// Two columns: the main keys from the keymap, and the form's keys.
fn help(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut rows = help_rows();
    // Quitting, detaching and closing go in the right column, under the form's keys:
    // the left one then fits 80x24.
    let leaving = rows.split_off(rows.len().saturating_sub(LEAVING_KEYS));
    let key_w = rows
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(0);
    let main: Vec<Line> = rows
        .iter()
        .map(|(k, what)| {
            Line::from(vec![
                Span::styled(format!("{k:>key_w$} "), t.header()),
                Span::raw(*what),
            ])
        })
        .collect();
    let mut form = vec![Line::styled("In the endpoint form", t.title())];
    let line = |(k, what): (&str, &str), w: usize| {
        Line::from(vec![
            Span::styled(format!("{k:>w$} "), t.header()),
            Span::raw(what.to_string()),
        ])
    };
    form.extend(FORM_KEYS.iter().map(|&(k, what)| line((k, what), 9)));
    form.push(Line::raw(""));
    form.push(Line::styled("Leaving", t.title()));
    form.extend(leaving.iter().map(|&(k, what)| line((k, what), 6)));
    let rect = centered(area, 79, main.len() as u16 + 2);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(" Keys (Esc closes) ")
        .border_style(t.title());
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [left, right] =
        Layout::horizontal([Constraint::Length(44), Constraint::Min(0)]).areas(inner);
    frame.render_widget(Paragraph::new(main), left);
    frame.render_widget(Paragraph::new(form), right);
}

/// The key map's last bindings (q, D, Ctrl-C, Esc): shown under "Leaving".
const LEAVING_KEYS: usize = 4;

fn confirm(frame: &mut Frame, area: Rect, app: &App) {
    let t = &app.theme;
    let mut why = Vec::new();
    if app.is_running() {
        why.push("the swarm is running");
    }
    if app.doc.is_dirty() {
        why.push("the scenario has unsaved changes");
    }
    let mut keys = vec![("y", "quit")];
    if app.doc.is_dirty() {
        keys.push(("s", "save and quit"));
    }
    if app.detachable.is_some() && app.is_running() {
        keys.push(("d", "detach (it goes on)"));
    }
    keys.push(("n", "stay"));
    let text = vec![
        Line::from(format!("Quit? {}.", why.join(" and "))),
        key_line(app, &keys),
    ];
    let rect = centered(area, 64, 4);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(text).block(Block::bordered().title(" Quit ").border_style(t.warn())),
        rect,
    );
}

/// One failure group in full: cause, count, first and last seen, the latest message.
fn failure_detail(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    (name, method, kind): (&str, &str, crate::stats::FailureKind),
) {
    let t = &app.theme;
    let group = app
        .snapshot
        .failures
        .iter()
        .find(|g| g.name == name && g.method == method && g.kind == kind);
    let mut lines = vec![Line::from(vec![
        Span::styled("Endpoint  ", t.header()),
        Span::raw(format!(
            "{method} {}",
            crate::stats::short_name(name, method)
        )),
    ])];
    match group {
        Some(g) => {
            let field = |label: &'static str, value: String| {
                Line::from(vec![Span::styled(label, t.header()), Span::raw(value)])
            };
            lines.push(field(
                "Cause     ",
                format!("{} ({})", g.kind, g.kind.code()),
            ));
            lines.push(field("Count     ", g.count.to_string()));
            lines.push(field(
                "Seen      ",
                format!(
                    "first at {:.1}s, latest at {:.1}s of the run",
                    g.first_seen.as_secs_f64(),
                    g.last_seen.as_secs_f64()
                ),
            ));
            lines.push(Line::styled("Latest message", t.header()));
            lines.push(Line::raw(g.message.clone()));
        }
        None => lines.push(Line::styled("(reset since: no such failures now)", t.dim())),
    }
    lines.push(Line::raw(""));
    lines.push(key_line(app, &[("Esc", "close")]));
    let width = area.width.saturating_sub(4).min(100);
    let inner = width.saturating_sub(2).max(1) as usize;
    let text_rows: usize = lines.iter().map(|l| l.width().div_ceil(inner).max(1)).sum();
    let rect = centered(area, width, (text_rows as u16 + 2).min(area.height));
    frame.render_widget(Clear, rect);
    let block = Block::bordered().title(" Failure ").border_style(t.bad());
    frame.render_widget(
        Paragraph::new(lines)
            .wrap(Wrap { trim: false })
            .block(block),
        rect,
    );
}

/// `key what   key what`, keys highlighted.
fn key_line<'a>(app: &App, keys: &[(&'a str, &'a str)]) -> Line<'a> {
    let t = &app.theme;
    let mut spans = Vec::new();
    for (i, (k, what)) in keys.iter().enumerate() {
        if i > 0 {
            spans.push(Span::raw("   "));
        }
        spans.push(Span::styled(*k, t.header()));
        spans.push(Span::raw(format!(" {what}")));
    }
    Line::from(spans)
}

/// A question with a sentence (wrapped) and its answer keys.
fn question(
    frame: &mut Frame,
    area: Rect,
    app: &App,
    title: &str,
    text: String,
    keys: &[(&str, &str)],
) {
    let width = area.width.saturating_sub(4).min(76);
    let inner = width.saturating_sub(2).max(1) as usize;
    let lines = text.chars().count().div_ceil(inner) as u16;
    let rect = centered(area, width, lines + 4);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(title.to_string())
        .border_style(app.theme.warn());
    let body = Paragraph::new(vec![Line::from(text), Line::raw(""), key_line(app, keys)])
        .wrap(Wrap { trim: true })
        .block(block);
    frame.render_widget(body, rect);
}

fn prompt(frame: &mut Frame, area: Rect, app: &App, p: &Prompt) {
    let t = &app.theme;
    let rect = centered(area, 70, 5);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .title(format!(" {} ", p.kind.title()))
        .border_style(t.title());
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let [input, msg] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(2)]).areas(inner);
    // A proposed value is shown selected: typing replaces it.
    let value = if p.input.selected {
        Span::styled(p.input.text.as_str(), t.selected())
    } else {
        Span::raw(p.input.text.as_str())
    };
    frame.render_widget(
        Paragraph::new(Line::from(vec![Span::raw("> "), value])),
        input,
    );
    let hint = if p.input.selected {
        "type to replace, ← → to edit · Enter accepts, Esc cancels"
    } else {
        "Enter accepts, Esc cancels"
    };
    let msg_line = match &p.error {
        Some(e) => Line::styled(e.clone(), t.bad()),
        None => Line::styled(hint, t.dim()),
    };
    frame.render_widget(Paragraph::new(msg_line).wrap(Wrap { trim: true }), msg);
    set_cursor(frame, input, 2, &p.input);
}

fn form_popup(frame: &mut Frame, area: Rect, app: &App, form: &Form) {
    let t = &app.theme;
    let rect = centered(
        area,
        area.width.saturating_sub(4).min(100),
        area.height.saturating_sub(2).min(22),
    );
    frame.render_widget(Clear, rect);
    let title = if form.index.is_some() {
        " Edit endpoint "
    } else {
        " New endpoint "
    };
    let block = Block::bordered().title(title).border_style(t.title());
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let mut constraints: Vec<Constraint> = FIELDS
        .map(|f| match f {
            Field::Headers => Constraint::Length(3),
            Field::Body => Constraint::Min(3),
            _ => Constraint::Length(1),
        })
        .to_vec();
    constraints.push(Constraint::Length(2));
    let rows = Layout::vertical(constraints).split(inner);
    for (i, field) in FIELDS.iter().enumerate() {
        let focused = form.focus == i;
        let label_style = if focused { t.selected() } else { t.header() };
        let [label, value] =
            Layout::horizontal([Constraint::Length(11), Constraint::Min(1)]).areas(rows[i]);
        frame.render_widget(
            Paragraph::new(Span::styled(format!("{:>10} ", field.label()), label_style)),
            label,
        );
        field_value(frame, value, app, form, *field, focused);
    }
    let status = match (&form.error, &form.body_check) {
        (Some(e), _) => Line::styled(e.clone(), t.bad()),
        (None, Err(e)) => Line::styled(format!("JSON: {e}"), t.bad()),
        (None, Ok(())) => Line::styled(
            "Tab next field · ←/→ change · Enter apply · Ctrl-S apply and save · Esc cancel",
            t.dim(),
        ),
    };
    frame.render_widget(
        Paragraph::new(status).wrap(Wrap { trim: true }),
        rows[FIELDS.len()],
    );
}

fn field_value(frame: &mut Frame, area: Rect, app: &App, form: &Form, field: Field, focused: bool) {
    let t = &app.theme;
    match field {
        Field::Method => {
            let spans = choices(&METHODS, form.method, t);
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
        }
        Field::Stream => {
            let mut spans = choices(&STREAMS, form.stream, t);
            spans.push(Span::styled(
                "  read the body as events: TTFT, ITL",
                t.dim(),
            ));
            frame.render_widget(Paragraph::new(Line::from(spans)), area);
        }
        Field::BodyKind => {
            let check = match (&form.body_check, form.body.text.trim().is_empty()) {
                (_, true) => Span::styled("  (no body)", t.dim()),
                (Ok(()), false) => Span::styled("  ✓ valid", t.good()),
                (Err(_), false) => Span::styled("  ✗ invalid JSON", t.bad()),
            };
            let line = Line::from(vec![
                Span::styled(format!(" {} ", form.body_kind.label()), t.selected()),
                Span::styled("  ←/→ JSON, raw, form", t.dim()),
                check,
            ]);
            frame.render_widget(Paragraph::new(line), area);
        }
        _ => {
            let input = form.input(field).expect("text field");
            let block_style = if focused { t.header() } else { t.dim() };
            let text = match field {
                _ if !input.text.is_empty() => input.text.clone(),
                Field::Name => "(default: METHOD path)".to_string(),
                Field::StreamTokens => {
                    "(optional) a JSON pointer, e.g. /choices/0/delta/content".into()
                }
                Field::StreamDone => "(optional) the data that ends the stream, e.g. [DONE]".into(),
                _ => String::new(),
            };
            let style = if input.text.is_empty() {
                t.dim()
            } else {
                block_style
            };
            frame.render_widget(Paragraph::new(text).style(style), area);
            if focused {
                set_cursor(frame, area, 0, input);
            }
        }
    }
}

/// A selector's choices, the chosen one highlighted.
fn choices<'a>(items: &[&str], chosen: usize, t: &crate::tui::theme::Theme) -> Vec<Span<'a>> {
    items
        .iter()
        .enumerate()
        .map(|(i, m)| {
            let style = if i == chosen { t.selected() } else { t.dim() };
            Span::styled(format!(" {m} "), style)
        })
        .collect()
}

fn set_cursor(frame: &mut Frame, area: Rect, offset: u16, input: &TextInput) {
    let (line, col) = input.cursor_line_col();
    let x = (area.x + offset + col as u16).min(area.right().saturating_sub(1));
    let y = (area.y + line as u16).min(area.bottom().saturating_sub(1));
    frame.set_cursor_position(Position::new(x, y));
}
