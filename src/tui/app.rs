//! The TUI's state and its `update` step: actions in, state changes and effects out.
//! No terminal and no network here, so every behaviour is unit-testable.

use super::form::{Form, FormOutcome};
use super::input::TextInput;
use super::theme::Theme;
use crate::capacity::{Search, SearchConfig, parse_slo};
use crate::engine::Command;
use crate::scenario::threshold::{Threshold, Verdict, check_all};
use crate::scenario::{
    EndpointSpec, Overwrite, Plan, ScenarioDoc, Stage, format_rate, parse_duration, parse_rate,
};
use crate::stats::{RunState, Snapshot};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;

/// The main views, in Tab order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    Stats,
    Charts,
    Failures,
    Endpoints,
    Capacity,
    /// A distributed run's workers (a tab only then).
    Workers,
}

pub const VIEWS: [View; 5] = [
    View::Stats,
    View::Charts,
    View::Failures,
    View::Endpoints,
    View::Capacity,
];

impl View {
    pub fn title(self) -> &'static str {
        match self {
            View::Stats => "Statistics",
            View::Charts => "Charts",
            View::Failures => "Failures",
            View::Endpoints => "Endpoints",
            View::Capacity => "Capacity",
            View::Workers => "Workers",
        }
    }
}

impl App {
    /// A threshold with nothing measured yet, while the run may still measure it: not
    /// failed, waiting (the final report fails it when the run ends with nothing).
    pub fn waiting(&self, v: &Verdict) -> bool {
        v.actual.is_none() && self.snapshot.state != crate::stats::RunState::Stopped
    }

    /// The verdicts' tally: (passed, failed, waiting).
    pub fn verdict_counts(&self) -> (usize, usize, usize) {
        let waiting = self.verdicts.iter().filter(|v| self.waiting(v)).count();
        let failed = (self.verdicts.iter())
            .filter(|v| !v.passed && !self.waiting(v))
            .count();
        (self.verdicts.len() - failed - waiting, failed, waiting)
    }

    /// The tabs there are: the five, and Workers in a distributed run.
    pub fn views(&self) -> Vec<View> {
        let mut v = VIEWS.to_vec();
        if self.distributed {
            v.push(View::Workers);
        }
        v
    }

    fn view_index(&self) -> usize {
        self.views()
            .iter()
            .position(|v| *v == self.view)
            .unwrap_or(0)
    }
}

/// Something the user asked for, from the keymap (or a key for an open popup).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Start,
    Stop,
    Users(i32),
    SpawnFaster,
    SpawnSlower,
    RampPrompt,
    PausePlan,
    FindCapacity,
    RawToml,
    ResetStats,
    NextView,
    PrevView,
    Show(View),
    Up,
    Down,
    Edit,
    Add,
    Duplicate,
    Delete,
    Toggle,
    Save,
    SaveAs,
    /// Write the HTML report of the run on screen.
    HtmlReport,
    Help,
    Quit,
    /// Leave the run going in the background and close this terminal's view of it.
    Detach,
    ForceQuit,
    Close,
    /// A key for the open popup.
    Key(KeyEvent),
}

/// What `update` asks the main loop to do.
#[derive(Debug, Clone)]
pub enum Effect {
    Engine(Command),
    Save(Overwrite),
    SaveAs(PathBuf, Overwrite),
    /// Write the HTML report of the newest snapshot to this file.
    WriteHtml(PathBuf),
    /// Read the scenario file again, dropping unsaved edits.
    Reload,
    /// Quit when the document has nothing left unsaved (after a save that worked).
    QuitIfSaved,
}

/// Single-line questions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PromptKind {
    /// The base URL of a new scenario.
    Host,
    SaveAs,
    RampTo,
    ArrivalRate,
    Slo,
    HtmlReport,
}

impl PromptKind {
    pub fn title(self) -> &'static str {
        match self {
            PromptKind::Host => "New scenario: base URL of the server under test",
            PromptKind::SaveAs => "Save scenario as",
            PromptKind::RampTo => "Ramp to how many users?",
            PromptKind::ArrivalRate => "Arrival rate (iterations started per second, e.g. 200/s)",
            PromptKind::Slo => "Capacity search: SLO [start=N step=N hold=20s settle=5s max=N]",
            PromptKind::HtmlReport => "Write the HTML report of this run to",
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct Prompt {
    pub kind: PromptKind,
    pub input: TextInput,
    pub error: Option<String>,
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help,
    Form(Box<Form>),
    Prompt(Prompt),
    ConfirmQuit,
    /// Delete endpoint N (named so)? y / n.
    ConfirmDelete(usize, String),
    /// One failure group in full: (name, method, cause) of the group, looked up in the
    /// newest snapshot so its count stays live.
    FailureDetail(String, String, crate::stats::FailureKind),
    /// The file changed on disk since it was loaded: overwrite, reload or save as?
    ChangedOnDisk(PathBuf),
    /// Save as would replace this existing file: overwrite?
    ConfirmOverwrite(PathBuf),
    /// The whole scenario as TOML, for what the forms do not cover (flows, on_start,
    /// vars, data files, checks...).
    Raw(Box<RawEditor>),
}

#[derive(Debug, Clone, PartialEq)]
pub struct RawEditor {
    pub input: TextInput,
    pub error: Option<String>,
    /// The text as it was opened: Esc discards without asking only when it is unchanged.
    pub original: String,
    /// Esc was pressed once on changed text; a second one discards.
    pub confirm_discard: bool,
}

/// Spawn-rate steps for `[` and `]`.
const RATES: [f64; 14] = [
    0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 20.0, 50.0, 100.0, 200.0, 500.0, 1000.0, 2000.0,
];
/// The most users the sliders go to.
pub(crate) const MAX_USERS: u32 = 1_000_000;

pub struct App {
    pub doc: ScenarioDoc,
    /// The endpoints as the form shows them, refreshed after each edit.
    pub specs: Vec<EndpointSpec>,
    /// Why the scenario cannot run yet (e.g. no endpoints), if it cannot.
    pub plan_error: Option<String>,
    pub snapshot: Arc<Snapshot>,
    /// The engine is a distributed run's controller (edits go to its workers as text).
    pub distributed: bool,
    pub view: View,
    /// Selected row of the statistics table; `rows.len()` selects the aggregate.
    pub stats_row: usize,
    pub endpoint_row: usize,
    /// Selected row of the failures view (most frequent first).
    pub failure_row: usize,
    /// Lines the capacity view is scrolled down by.
    pub capacity_scroll: usize,
    pub popup: Option<Popup>,
    pub users: u32,
    pub spawn_rate: f64,
    /// Open model: the arrival rate the slider sets; None in the closed model.
    pub arrival_rate: Option<f64>,
    /// The load plan from the scenario (empty for a constant target).
    pub stages: Vec<Stage>,
    /// How long a run goes on (None: until stopped).
    pub run_time: Option<std::time::Duration>,
    /// A one-line message for the user: (text, is_error). Cleared by the next key.
    pub message: Option<(String, bool)>,
    pub quit: bool,
    /// The view closes and the run goes on (D, or d at the quit question).
    pub detach: bool,
    /// The run lives in a process of its own (it can be detached), and this client's
    /// name in its list of controls.
    pub detachable: Option<String>,
    pub theme: Theme,
    /// Weights of endpoints disabled from the TUI, to restore on enable.
    disabled: HashMap<usize, u32>,
    pub thresholds: Vec<Threshold>,
    /// The thresholds checked against the newest snapshot.
    pub verdicts: Vec<Verdict>,
    /// A capacity search started from the TUI, its settings, and where it is.
    pub capacity: Option<(Search, SearchConfig)>,
    pub capacity_status: String,
    /// What the scenario has beyond its endpoints (shown under the endpoints table).
    pub extras: Extras,
    /// `--baseline RUN`: its path, and the saved run shown beside the live figures.
    pub baseline: Option<(String, Arc<crate::report::saved::SavedRun>)>,
    /// `--tags` / `--exclude-tags`, applied again to every edit the engine is sent.
    pub tag_filter: crate::scenario::tags::TagFilter,
    /// `--timeout`, applied again to every edit the engine is sent.
    pub request_timeout: Option<std::time::Duration>,
}

/// Flows and hooks: edited as TOML (`t`), summarised in the endpoints view.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Extras {
    /// (name, weight) of each flow, and its number of steps.
    pub flows: Vec<(String, u32, usize)>,
    pub on_start: usize,
    pub on_stop: usize,
    /// `[[users]]`: each type, its share and its tasks.
    pub types: Vec<TypeSummary>,
}

/// A user type as the endpoints view lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct TypeSummary {
    pub name: String,
    /// "weight 9" or "exactly 2".
    pub share: String,
    /// Each task's name and weight.
    pub tasks: Vec<(String, u32)>,
}

impl Extras {
    pub fn of(plan: &Plan) -> Extras {
        Extras {
            flows: plan
                .flows
                .iter()
                .map(|f| (f.name.clone(), f.weight, f.steps.len()))
                .collect(),
            on_start: plan.on_start.len(),
            on_stop: plan.on_stop.len(),
            types: plan
                .user_types
                .iter()
                .map(|t| {
                    let share = if t.fixed_count > 0 {
                        format!("exactly {}", t.fixed_count)
                    } else {
                        format!("weight {}", t.weight)
                    };
                    let tasks = t
                        .endpoints
                        .iter()
                        .map(|e| (e.name.clone(), e.weight))
                        .chain(
                            t.flows
                                .iter()
                                .map(|f| (format!("flow {}", f.name), f.weight)),
                        )
                        .collect();
                    TypeSummary {
                        name: t.name.clone(),
                        share,
                        tasks,
                    }
                })
                .collect(),
        }
    }
}

impl App {
    pub fn new(doc: ScenarioDoc, plan: &Plan, theme: Theme) -> App {
        let specs = doc.endpoints();
        let plan_error = doc.plan().err().map(|e| e.message);
        App {
            doc,
            specs,
            plan_error,
            snapshot: Arc::new(Snapshot::default()),
            distributed: false,
            view: View::Stats,
            stats_row: 0,
            failure_row: 0,
            capacity_scroll: 0,
            endpoint_row: 0,
            popup: None,
            users: plan.load.users,
            spawn_rate: plan.load.spawn_rate,
            arrival_rate: plan.load.arrival_rate,
            stages: plan.load.stages.clone(),
            run_time: plan.load.run_time,
            message: None,
            quit: false,
            detach: false,
            detachable: None,
            theme,
            disabled: HashMap::new(),
            thresholds: plan.thresholds.clone(),
            verdicts: Vec::new(),
            capacity: None,
            capacity_status: String::new(),
            baseline: None,
            tag_filter: plan.tag_filter.clone(),
            request_timeout: plan.request_timeout,
            extras: Extras::of(plan),
        }
    }

    /// Controls from elsewhere (`swarm scale`, the API, another terminal): the sliders
    /// follow, and the status line says who did what.
    fn take_controls(&mut self, snap: &Snapshot) {
        let me = self.detachable.as_deref();
        let Some(other) = snap
            .controls
            .iter()
            .rev()
            .find(|c| Some(c.who.as_str()) != me)
        else {
            return;
        };
        if self.snapshot.controls.contains(other) {
            return;
        }
        if snap.arrivals.is_none() {
            self.users = snap.target_users;
        }
        self.spawn_rate = snap.spawn_rate;
        if let (Some(_), Some(a)) = (self.arrival_rate, &snap.arrivals) {
            self.arrival_rate = Some(a.rate);
        }
        self.info(format!(
            "{:.0} s: {}: {}",
            other.at_s, other.who, other.what
        ));
    }

    pub fn is_running(&self) -> bool {
        matches!(
            self.snapshot.state,
            RunState::Spawning | RunState::Running | RunState::Stopping
        )
    }

    /// True while a capacity search drives the swarm.
    pub(crate) fn searching(&self) -> bool {
        self.capacity.as_ref().is_some_and(|(s, _)| !s.is_done())
    }

    /// True while the engine follows the load plan's stages.
    fn following_plan(&self) -> bool {
        self.is_running() && self.snapshot.stage.is_some()
    }

    /// The user target the slider shows: the plan's while it is followed.
    pub(crate) fn current_users(&self) -> u32 {
        if self.following_plan() || self.searching() {
            self.snapshot.target_users
        } else {
            self.users
        }
    }

    /// Open model: the rate the slider shows, the plan's while it is followed.
    pub(crate) fn current_rate(&self) -> Option<f64> {
        let rate = self.arrival_rate?;
        Some(match &self.snapshot.arrivals {
            Some(a) if self.following_plan() => a.rate,
            _ => rate,
        })
    }

    pub fn info(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), false));
    }

    pub fn error(&mut self, text: impl Into<String>) {
        self.message = Some((text.into(), true));
    }

    /// Takes a new snapshot, keeping selections in range.
    pub fn set_snapshot(&mut self, snap: Arc<Snapshot>) {
        self.stats_row = self.stats_row.min(snap.rows.len());
        self.verdicts = check_all(&self.thresholds, &snap);
        if snap.edit_refused.is_some() && snap.edit_refused != self.snapshot.edit_refused {
            self.error(snap.edit_refused.clone().unwrap_or_default());
        }
        // A new control, or the last one grown (a held key elsewhere is one line).
        if snap.controls.last() != self.snapshot.controls.last() {
            self.take_controls(&snap);
        }
        self.snapshot = snap;
    }
}

/// Applies one action; returns what the main loop must do.
// A flat dispatcher: one arm per action of the key map, each a line or a named function.
#[allow(clippy::too_many_lines)]
pub fn update(app: &mut App, action: Action) -> Vec<Effect> {
    if !matches!(action, Action::Key(_)) {
        app.message = None;
    }
    if let Some(popup) = app.popup.take() {
        return update_popup(app, popup, action);
    }
    match action {
        Action::Start => start(app),
        Action::Stop => stop(app),
        Action::Users(_) | Action::RampPrompt | Action::PausePlan if app.searching() => {
            info(app, "a capacity search sets the users; x stops it")
        }
        Action::RawToml => open_raw(app),
        Action::FindCapacity => ask_slo(app),
        Action::Users(delta) => match app.current_rate() {
            Some(r) => set_arrival_rate(app, (r.round() + f64::from(delta)).max(0.0)),
            None => set_users(app, app.current_users().saturating_add_signed(delta).max(1)),
        },
        Action::SpawnFaster | Action::SpawnSlower if app.arrival_rate.is_some() => info(
            app,
            "the open model starts users as iterations need them; cap them with max_users in the file",
        ),
        Action::SpawnFaster | Action::SpawnSlower => {
            change_rate(app, action == Action::SpawnFaster)
        }
        Action::RampPrompt => ask_ramp(app),
        Action::PausePlan => pause_plan(app),
        Action::ResetStats => {
            app.info("statistics reset");
            vec![Effect::Engine(Command::ResetStats)]
        }
        Action::NextView => step_view(app, 1),
        Action::PrevView => step_view(app, -1),
        Action::Show(v) => show(app, v),
        Action::Up | Action::Down => {
            move_selection(app, action == Action::Down);
            vec![]
        }
        Action::Edit if app.view == View::Failures => failure_detail(app),
        Action::Edit | Action::Duplicate | Action::Delete | Action::Toggle
            if app.view != View::Endpoints =>
        {
            info(
                app,
                "e, c, d and Space change endpoints in the Endpoints view: press 4 first",
            )
        }
        Action::Edit => edit(app),
        Action::Add => {
            app.view = View::Endpoints;
            open(app, Popup::Form(Box::new(Form::blank())))
        }
        Action::Duplicate => endpoint_edit(
            app,
            |doc, i| doc.duplicate_endpoint(i),
            "endpoint duplicated",
        ),
        Action::Delete => confirm_delete(app),
        Action::Toggle => toggle(app),
        Action::Save => save(app),
        Action::SaveAs => ask_save_as(app),
        Action::HtmlReport => ask_html_path(app),
        Action::Help => open(app, Popup::Help),
        Action::Quit => quit(app),
        Action::Detach => detach(app),
        Action::ForceQuit => {
            app.quit = true;
            vec![]
        }
        Action::Close | Action::Key(_) => vec![],
    }
}

/// Says something on the status line; nothing else happens.
fn info(app: &mut App, message: &str) -> Vec<Effect> {
    app.info(message);
    vec![]
}

fn open(app: &mut App, popup: Popup) -> Vec<Effect> {
    app.popup = Some(popup);
    vec![]
}

fn stop(app: &mut App) -> Vec<Effect> {
    if app.is_running() {
        return vec![Effect::Engine(Command::Stop)];
    }
    info(app, "the swarm is not running")
}

/// The raw TOML editor, on the scenario as it is now.
fn open_raw(app: &mut App) -> Vec<Effect> {
    let text = app.doc.text();
    let editor = RawEditor {
        input: TextInput {
            cursor: 0,
            ..TextInput::new(&text, true)
        },
        error: None,
        original: text,
        confirm_discard: false,
    };
    open(app, Popup::Raw(Box::new(editor)))
}

/// `f`: asks for the capacity search's SLO.
fn ask_slo(app: &mut App) -> Vec<Effect> {
    if app.arrival_rate.is_some() {
        app.error("a capacity search steps users (closed model); this scenario uses arrival_rate");
        return vec![];
    }
    if app.is_running() {
        return info(
            app,
            "stop the swarm first (x); the search starts its own run",
        );
    }
    open(app, prompt(PromptKind::Slo, "p95<500ms,fail<1%"))
}

fn ask_ramp(app: &mut App) -> Vec<Effect> {
    let popup = match app.arrival_rate {
        Some(r) => prompt(PromptKind::ArrivalRate, &format_rate(r)),
        None => prompt(PromptKind::RampTo, &app.users.to_string()),
    };
    open(app, popup)
}

/// Tab and Shift-Tab: the next or previous view, round.
fn step_view(app: &mut App, step: isize) -> Vec<Effect> {
    let views = app.views();
    let n = views.len() as isize;
    let next = (app.view_index() as isize + step).rem_euclid(n) as usize;
    show(app, views[next])
}

fn confirm_delete(app: &mut App) -> Vec<Effect> {
    match app.specs.get(app.endpoint_row) {
        Some(spec) => {
            let popup = Popup::ConfirmDelete(app.endpoint_row, spec.display_name());
            open(app, popup)
        }
        None => info(app, "no endpoint selected"),
    }
}

fn ask_save_as(app: &mut App) -> Vec<Effect> {
    let current = (app.doc.path.as_ref()).map_or(String::new(), |p| p.display().to_string());
    open(app, prompt(PromptKind::SaveAs, &current))
}

fn ask_html_path(app: &mut App) -> Vec<Effect> {
    if app.snapshot.state == crate::stats::RunState::Idle {
        return info(app, "start the swarm first (s); the report is of a run");
    }
    let path = html_report_path(app.doc.path.as_deref());
    open(app, prompt(PromptKind::HtmlReport, &path))
}

/// `D`: the run goes on in the background; `swarm attach` comes back to it.
fn detach(app: &mut App) -> Vec<Effect> {
    if app.detachable.is_none() {
        return info(
            app,
            "this run cannot be detached: a new scenario runs in this terminal (save it and swarm run it)",
        );
    }
    app.detach = true;
    app.quit = true;
    vec![]
}

/// `q`: asks first when a run is going or the scenario has unsaved changes.
fn quit(app: &mut App) -> Vec<Effect> {
    if app.is_running() || app.doc.is_dirty() {
        return open(app, Popup::ConfirmQuit);
    }
    app.quit = true;
    vec![]
}

/// Moves a running capacity search on with the newest snapshot.
pub(crate) fn poll_capacity(app: &mut App, now: tokio::time::Instant) -> Vec<Effect> {
    let snap = Arc::clone(&app.snapshot);
    let Some((search, _)) = app.capacity.as_mut().filter(|(s, _)| !s.is_done()) else {
        return vec![];
    };
    let commands = search.poll(&snap, now);
    app.capacity_status = search.status(now);
    commands.into_iter().map(Effect::Engine).collect()
}

/// A prompt; a pre-filled value is shown selected, so typing replaces it.
fn prompt(kind: PromptKind, initial: &str) -> Popup {
    Popup::Prompt(Prompt {
        kind,
        input: TextInput::proposing(initial),
        error: None,
    })
}

fn start(app: &mut App) -> Vec<Effect> {
    if let Some(why) = &app.plan_error {
        let why = format!("cannot start: {why}");
        app.error(why);
        return vec![];
    }
    if app.is_running() {
        app.info("the swarm is already running");
        return vec![];
    }
    let target = match app.arrival_rate {
        Some(r) => Command::SetArrivalRate(r),
        None => Command::SetUsers(app.users),
    };
    vec![Effect::Engine(target), Effect::Engine(Command::Start)]
}

/// Pauses the load plan, or resumes it.
fn pause_plan(app: &mut App) -> Vec<Effect> {
    let s = &app.snapshot;
    if app.stages.is_empty() {
        app.info("this scenario has no load stages to pause");
        return vec![];
    }
    if !app.is_running() {
        app.info("the plan starts with the swarm: press s");
        return vec![];
    }
    if s.stage.is_none() {
        app.info("the plan is over or under manual control; restart the swarm to follow it again");
        return vec![];
    }
    if s.plan_paused {
        app.info("plan resumed");
        vec![Effect::Engine(Command::ResumePlan)]
    } else {
        app.info(
            "plan paused: the target holds; p resumes, moving the slider takes manual control",
        );
        vec![Effect::Engine(Command::PausePlan)]
    }
}

fn set_arrival_rate(app: &mut App, rate: f64) -> Vec<Effect> {
    app.arrival_rate = Some(rate);
    if let Err(e) = app.doc.set_arrival_rate(rate) {
        app.error(e);
    }
    vec![Effect::Engine(Command::SetArrivalRate(rate))]
}

fn set_users(app: &mut App, users: u32) -> Vec<Effect> {
    app.users = users.min(MAX_USERS);
    if let Err(e) = app.doc.set_users(app.users) {
        app.error(e);
    }
    vec![Effect::Engine(Command::SetUsers(app.users))]
}

fn change_rate(app: &mut App, faster: bool) -> Vec<Effect> {
    let next = if faster {
        RATES.iter().copied().find(|r| *r > app.spawn_rate + 1e-9)
    } else {
        RATES
            .iter()
            .rev()
            .copied()
            .find(|r| *r < app.spawn_rate - 1e-9)
    };
    let Some(rate) = next else { return vec![] };
    app.spawn_rate = rate;
    if let Err(e) = app.doc.set_spawn_rate(rate) {
        app.error(e);
    }
    vec![Effect::Engine(Command::SetSpawnRate(rate))]
}

fn show(app: &mut App, view: View) -> Vec<Effect> {
    if view == View::Workers && !app.distributed {
        app.info("this run is one process; swarm run FILE --workers N runs it over workers");
        return vec![];
    }
    app.view = view;
    vec![]
}

fn move_selection(app: &mut App, down: bool) {
    if app.view == View::Capacity {
        // The view clamps it to what its content needs.
        let lines = app.capacity.as_ref().map_or(0, |(search, cfg)| {
            crate::capacity::render(&search.outcome(), "", cfg)
                .lines()
                .count()
        });
        app.capacity_scroll = if down {
            (app.capacity_scroll + 1).min(lines)
        } else {
            app.capacity_scroll.saturating_sub(1)
        };
        return;
    }
    let (row, len) = match app.view {
        View::Endpoints => (&mut app.endpoint_row, app.specs.len()),
        View::Failures => (&mut app.failure_row, app.snapshot.failures.len()),
        _ => (&mut app.stats_row, app.snapshot.rows.len() + 1),
    };
    if len == 0 {
        return;
    }
    *row = if down {
        (*row + 1).min(len - 1)
    } else {
        row.saturating_sub(1)
    };
}

/// The failures view's groups, most frequent first (as the view lists them).
pub fn failure_groups(snap: &Snapshot) -> Vec<&crate::stats::FailureGroup> {
    let mut groups: Vec<_> = snap.failures.iter().collect();
    groups.sort_by_key(|g| std::cmp::Reverse(g.count));
    groups
}

fn failure_detail(app: &mut App) -> Vec<Effect> {
    let snap = Arc::clone(&app.snapshot);
    match failure_groups(&snap).get(app.failure_row) {
        Some(g) => {
            app.popup = Some(Popup::FailureDetail(
                g.name.clone(),
                g.method.clone(),
                g.kind,
            ));
        }
        None => app.info("no failure selected"),
    }
    vec![]
}

mod edits;
mod popups;

pub use edits::reloaded;
use edits::{edit, endpoint_edit, save, toggle};
use popups::{html_report_path, update_popup};

#[cfg(test)]
mod tests;
