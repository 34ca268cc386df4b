//! Changes to the scenario from the TUI: endpoint edits, enabling and disabling, saving,
//! and adopting an edited plan (what it changes in a run that is going).

use super::*;

pub(super) fn edit(app: &mut App) -> Vec<Effect> {
    app.view = View::Endpoints;
    match app.specs.get(app.endpoint_row) {
        Some(spec) => {
            app.popup = Some(Popup::Form(Box::new(Form::new(
                Some(app.endpoint_row),
                spec,
            ))))
        }
        None => app.info("no endpoint selected; press a to add one"),
    }
    vec![]
}

/// Runs a document edit on the selected endpoint and hands the new endpoints to the engine.
pub(super) fn endpoint_edit(
    app: &mut App,
    edit: impl FnOnce(&mut ScenarioDoc, usize) -> Result<Plan, String>,
    done: &str,
) -> Vec<Effect> {
    app.view = View::Endpoints;
    if app.specs.is_empty() {
        app.info("no endpoint selected; press a to add one");
        return vec![];
    }
    let result = edit(&mut app.doc, app.endpoint_row);
    after_edit(app, result, done)
}

/// An edited plan with the command line's selection and settings that the file does not
/// hold: `--tags` / `--exclude-tags` and `--timeout`.
fn with_overrides(app: &App, mut plan: Plan) -> Result<Plan, String> {
    plan.apply_tags(&app.tag_filter)?;
    if let Some(t) = app.request_timeout {
        plan.set_request_timeout(t);
    }
    Ok(plan)
}

pub(super) fn after_edit(app: &mut App, result: Result<Plan, String>, done: &str) -> Vec<Effect> {
    match result.and_then(|plan| with_overrides(app, plan)) {
        Ok(plan) => {
            app.thresholds = plan.thresholds.clone();
            app.specs = app.doc.endpoints();
            app.endpoint_row = app.endpoint_row.min(app.specs.len().saturating_sub(1));
            app.plan_error = None;
            app.info(format!("{done} (unsaved: Ctrl-S saves)"));
            vec![
                Effect::Engine(Command::SetWait(plan.load.wait)),
                Effect::Engine(Command::SetEndpoints(plan.endpoints)),
            ]
        }
        Err(e) => {
            app.error(e);
            vec![]
        }
    }
}

pub(super) fn toggle(app: &mut App) -> Vec<Effect> {
    let i = app.endpoint_row;
    let Some(spec) = app.specs.get(i) else {
        return vec![];
    };
    let weight: u32 = spec.weight.parse().unwrap_or(1);
    let (new, done) = if weight == 0 {
        (app.disabled.remove(&i).unwrap_or(1), "endpoint enabled")
    } else {
        app.disabled.insert(i, weight);
        (0, "endpoint disabled")
    };
    endpoint_edit(app, |doc, i| doc.set_weight(i, new), done)
}

pub(super) fn save(app: &mut App) -> Vec<Effect> {
    if app.doc.path.is_none() {
        app.popup = Some(prompt(PromptKind::SaveAs, ""));
        return vec![];
    }
    vec![Effect::Save(Overwrite::Check)]
}

/// Takes a whole new plan from the document (the TOML editor, a reload): the views'
/// copies follow, and the engine gets the new workload.
pub(super) fn adopt(app: &mut App, plan: Plan) -> Vec<Effect> {
    let plan = match with_overrides(app, plan) {
        Ok(plan) => plan,
        Err(e) => {
            app.error(e);
            return vec![];
        }
    };
    let mut effects = load_changes(app, &plan.load);
    app.thresholds = plan.thresholds.clone();
    app.stages = plan.load.stages.clone();
    app.extras = Extras::of(&plan);
    app.specs = app.doc.endpoints();
    app.endpoint_row = app.endpoint_row.min(app.specs.len().saturating_sub(1));
    app.plan_error = None;
    effects.insert(0, Effect::Engine(Command::SetWorkload(Box::new(plan))));
    effects
}

/// What an edit of `[load]` changes, as engine commands: users, spawn rate, arrival rate
/// and run time apply at once; new stages at the next start (the screen says so). Only
/// what differs from the screen's values is sent, so command-line overrides stay until
/// the TOML changes them.
pub(super) fn load_changes(app: &mut App, load: &crate::scenario::Load) -> Vec<Effect> {
    let mut effects = Vec::new();
    let mut later = Vec::new();
    match (app.arrival_rate, load.arrival_rate) {
        (None, None) if load.users != app.users => {
            app.users = load.users.min(MAX_USERS);
            effects.push(Effect::Engine(Command::SetUsers(app.users)));
        }
        (Some(old), Some(new)) if (old - new).abs() > 1e-9 => {
            app.arrival_rate = Some(new);
            effects.push(Effect::Engine(Command::SetArrivalRate(new)));
        }
        (None, Some(_)) | (Some(_), None) => {
            later.push("the switch between users and arrival_rate needs swarm started again");
        }
        _ => {}
    }
    if (load.spawn_rate - app.spawn_rate).abs() > 1e-9 {
        app.spawn_rate = load.spawn_rate;
        effects.push(Effect::Engine(Command::SetSpawnRate(load.spawn_rate)));
    }
    if load.run_time != app.run_time {
        app.run_time = load.run_time;
        effects.push(Effect::Engine(Command::SetRunTime(load.run_time)));
    }
    if load.stages != app.stages {
        app.stages = load.stages.clone();
        effects.push(Effect::Engine(Command::SetStages(load.stages.clone())));
        if app.is_running() {
            later.push("the new stages apply at the next start");
        }
    }
    if !later.is_empty() {
        app.info(format!("applied; {}", later.join("; ")));
    }
    effects
}

/// After `Effect::Reload`: the document read again from disk, or why it could not be.
pub fn reloaded(app: &mut App, result: Result<(ScenarioDoc, Plan), String>) -> Vec<Effect> {
    match result {
        Ok((doc, plan)) => {
            app.doc = doc;
            // The sliders follow the file too: adopt sends what differs in [load].
            let effects = adopt(app, plan);
            let path = app.doc.path.as_ref().map(|p| p.display().to_string());
            app.info(format!(
                "reloaded {} from disk; your unsaved edits were dropped",
                path.unwrap_or_default()
            ));
            effects
        }
        Err(e) => {
            app.error(format!("not reloaded: {e}"));
            vec![]
        }
    }
}
