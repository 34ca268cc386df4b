//! The full-screen terminal UI, a front-end of a `Run`: it steers the run with commands and
//! draws its snapshots; it never starts an engine or waits on the network itself.
//!
//! Keys become `Action`s through the keymap, `update` turns them into state changes and
//! `Effect`s, and `view::draw` renders the state. The loop is generic over the ratatui
//! backend and the event stream, so tests drive it without a terminal.

pub mod app;
pub mod form;
pub mod input;
pub mod keymap;
pub mod theme;
pub mod view;

use crate::engine::Command;
use crate::run::Steer;
use crate::scenario::{Plan, SaveError, ScenarioDoc};
use crate::signals::Signals;
use app::{Action, App, Effect, Popup, Prompt, PromptKind};
use crossterm::event::{Event, KeyEvent, KeyEventKind, KeyModifiers};
use futures_util::{Stream, StreamExt};
use input::TextInput;
use ratatui::Terminal;
use ratatui::backend::Backend;
use std::future::Future;
use std::sync::Arc;
use std::time::Duration;
use tokio::time::Instant;

/// Snapshots redraw at most once in this long, and nothing when nothing changed; a key
/// redraws at once.
const MIN_FRAME: Duration = Duration::from_millis(100);

/// How the TUI starts.
pub struct Launch {
    pub doc: ScenarioDoc,
    /// The plan the engine starts with (the file plus command-line overrides).
    pub plan: Plan,
    pub autostart: bool,
    /// A new scenario: ask for the host first.
    pub ask_host: bool,
    /// `--baseline RUN`: its path, and the run shown beside the live figures.
    pub baseline: Option<(String, Arc<crate::report::saved::SavedRun>)>,
    /// The run lives in a process of its own, so the TUI can leave it going (D); this
    /// terminal's name in the run's list of controls.
    pub detachable: Option<String>,
    /// A closed terminal (SIGHUP) detaches instead of stopping the run.
    pub detach_on_hangup: bool,
}

/// How the TUI ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Exit {
    /// The user quit (or SIGTERM): the run ends.
    Quit,
    /// The run goes on without this terminal (D, or the terminal closed).
    Detach,
}

/// A signal that ended the TUI.
enum Ended {
    Hangup,
    Terminate,
}

/// Runs the TUI on the real terminal, watching and steering `run`, until the user quits
/// or detaches.
pub async fn run(launch: Launch, run: &dyn Steer) -> anyhow::Result<Exit> {
    let on_hangup = if launch.detach_on_hangup && launch.detachable.is_some() {
        Exit::Detach
    } else {
        Exit::Quit
    };
    let mut app = new_app(launch, run);
    app.distributed = run.is_distributed();
    let mut terminal = ratatui::try_init()?;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::cursor::Hide);
    let mut hangup = Signals::hangup();
    let mut terminate = Signals::terminate();
    let signal = async {
        tokio::select! {
            () = hangup.next() => Ended::Hangup,
            () = terminate.next() => Ended::Terminate,
        }
    };
    let result = run_loop(
        &mut terminal,
        &mut app,
        run,
        crossterm::event::EventStream::new(),
        signal,
    )
    .await;
    // A closed terminal cannot be restored; the run goes on all the same.
    let restored = ratatui::try_restore();
    let exit = match result? {
        Some(Ended::Hangup) => on_hangup,
        Some(Ended::Terminate) => Exit::Quit,
        None if app.detach => Exit::Detach,
        None => Exit::Quit,
    };
    if exit == Exit::Quit {
        restored?;
    }
    Ok(exit)
}

/// Builds the app state and applies `--autostart`.
fn new_app(launch: Launch, run: &dyn Steer) -> App {
    let mut app = App::new(launch.doc, &launch.plan, theme::Theme::from_env());
    app.baseline = launch.baseline;
    app.detachable = launch.detachable;
    if launch.ask_host {
        let input = TextInput::proposing("http://127.0.0.1:8080");
        app.popup = Some(Popup::Prompt(Prompt {
            kind: PromptKind::Host,
            input,
            error: None,
        }));
    }
    if launch.autostart {
        let effects = app::update(&mut app, Action::Start);
        apply(&mut app, run, effects);
    }
    app
}

/// The event loop: keys and snapshots in, frames out, until `app.quit` or `stop` fires
/// (then its output).
async fn run_loop<B, E, T>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    run: &dyn Steer,
    mut events: E,
    stop: impl Future<Output = T>,
) -> anyhow::Result<Option<T>>
where
    B: Backend,
    B::Error: Send + Sync + 'static,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
{
    let mut snapshots = run.snapshots();
    // What the run shows now (an attached run's first figures, a run going on).
    app.set_snapshot(snapshots.borrow_and_update().clone());
    let mut stop = std::pin::pin!(stop);
    let mut dirty = true;
    // A key's effect is drawn at once; snapshots are drawn at most every MIN_FRAME.
    let mut key_pressed = false;
    let mut last_draw: Option<Instant> = None;
    while !app.quit {
        let due = last_draw.map_or(Instant::now(), |t| t + MIN_FRAME);
        if dirty && (key_pressed || Instant::now() >= due) {
            terminal.draw(|f| view::draw(f, app))?;
            last_draw = Some(Instant::now());
            dirty = false;
            key_pressed = false;
        }
        tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) if key.kind != KeyEventKind::Release => {
                    let effects = app::update(app, action_for(app, key));
                    apply(app, run, effects);
                    dirty = true;
                    key_pressed = true;
                }
                Some(Ok(Event::Resize(..))) => dirty = true,
                Some(Ok(_)) => {}
                Some(Err(e)) => return Err(e.into()),
                None => break,
            },
            changed = snapshots.changed() => {
                if changed.is_err() {
                    break;
                }
                app.set_snapshot(snapshots.borrow_and_update().clone());
                let effects = app::poll_capacity(app, Instant::now());
                apply(app, run, effects);
                dirty = true;
            }
            _ = tokio::time::sleep_until(due), if dirty => {}
            ended = &mut stop => return Ok(Some(ended)),
        }
    }
    Ok(None)
}

/// Popups get raw keys; the main screen goes through the keymap.
fn action_for(app: &App, key: KeyEvent) -> Action {
    let ctrl_c = key.code == crossterm::event::KeyCode::Char('c')
        && key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl_c {
        return Action::ForceQuit;
    }
    if app.popup.is_some() {
        return match keymap::action_for(key) {
            Some(a @ (Action::Close | Action::Help))
                if !matches!(
                    app.popup,
                    Some(Popup::Form(_) | Popup::Prompt(_) | Popup::Raw(_))
                ) =>
            {
                a
            }
            _ => Action::Key(key),
        };
    }
    keymap::action_for(key).unwrap_or(Action::Close)
}

/// Carries out what `update` asked for.
pub fn apply(app: &mut App, run: &dyn Steer, effects: Vec<Effect>) {
    let mut text_sent = false;
    for effect in effects {
        match effect {
            // A controller sends its workers the edited text, which they load as they
            // loaded the first; the edit's commands then say what it changed.
            Effect::Engine(
                command @ (Command::SetEndpoints(_)
                | Command::SetWorkload(_)
                | Command::SetWait(_)
                | Command::SetStages(_)),
            ) if run.edits_as_text() => {
                if !text_sent {
                    run.send(Command::SetScenarioText(app.doc.text()));
                    text_sent = true;
                }
                run.send(command);
            }
            Effect::Engine(command) => run.send(command),
            Effect::Save(force) => report_save(app, |doc| doc.save(force)),
            Effect::SaveAs(path, force) => report_save(app, |doc| doc.save_as(&path, force)),
            Effect::Reload => {
                let result = app.doc.reload().map_err(|e| e.to_string());
                let more = app::reloaded(app, result);
                apply(app, run, more);
            }
            Effect::QuitIfSaved => app.quit = !app.doc.is_dirty(),
            Effect::WriteHtml(path) => write_html(app, &path),
        }
    }
}

/// The HTML report of the run on screen, as `--html` writes it at the end.
fn write_html(app: &mut App, path: &std::path::Path) {
    let plan = app.doc.plan().ok();
    let text = app.doc.text();
    let command = crate::report::command_line();
    let snap = Arc::clone(&app.snapshot);
    let about = crate::report::About {
        name: plan.as_ref().and_then(|p| p.name.as_deref()),
        host: plan.as_ref().map_or("", |p| p.host.as_str()),
        started: std::time::SystemTime::now()
            .checked_sub(snap.elapsed)
            .unwrap_or(std::time::UNIX_EPOCH),
        scenario: &text,
        command: &command,
    };
    let verdicts = crate::scenario::threshold::check_all(&app.thresholds, &snap);
    let outcome = app.capacity.as_ref().map(|(search, _)| search.outcome());
    let page = crate::report::html::render(&about, &snap, &verdicts, outcome.as_ref());
    match crate::fsutil::write_output(path, page.as_bytes()) {
        Ok(()) => app.info(format!("HTML report written to {}", path.display())),
        Err(e) => app.error(e),
    }
}

/// Saves, and turns a refusal into the question that resolves it.
fn report_save(
    app: &mut App,
    save: impl FnOnce(&mut ScenarioDoc) -> Result<std::path::PathBuf, SaveError>,
) {
    match save(&mut app.doc) {
        Ok(path) => app.message = Some((format!("saved {}", path.display()), false)),
        Err(SaveError::ChangedOnDisk(path)) => app.popup = Some(Popup::ChangedOnDisk(path)),
        Err(SaveError::Exists(path)) => app.popup = Some(Popup::ConfirmOverwrite(path)),
        Err(e) => app.message = Some((format!("not saved: {e}"), true)),
    }
}
