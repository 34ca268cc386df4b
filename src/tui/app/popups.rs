//! Keys while a popup is open: the endpoint form, the TOML editor, the prompts (users,
//! rate, SLO, save as, HTML report) and the confirmations.

use super::edits::{adopt, after_edit};
use super::*;

pub(super) fn update_popup(app: &mut App, popup: Popup, action: Action) -> Vec<Effect> {
    // The key map turns Esc into Close; a question answers Close as it answers Esc (it
    // says "Esc cancels").
    let action = match (&popup, action) {
        (Popup::Help, a) => a,
        (_, Action::Close) => Action::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
        (_, a) => a,
    };
    match (popup, action) {
        (_, Action::ForceQuit) => {
            app.quit = true;
            vec![]
        }
        (Popup::Help, Action::Close | Action::Help | Action::Quit) => vec![],
        (Popup::ConfirmQuit, Action::Key(k)) => confirm_quit(app, k),
        (Popup::ConfirmDelete(i, name), Action::Key(k)) => confirm_delete(app, (i, name), k),
        (Popup::FailureDetail(..), Action::Key(k))
            if matches!(k.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q')) =>
        {
            vec![]
        }
        (Popup::ChangedOnDisk(path), Action::Key(k)) => changed_on_disk(app, path, k),
        (Popup::ConfirmOverwrite(path), Action::Key(k)) => confirm_overwrite(app, path, k),
        (Popup::Form(form), Action::Key(k)) => form_key(app, *form, k),
        (Popup::Prompt(p), Action::Key(k)) => prompt_key(app, p, k),
        (Popup::Raw(r), Action::Key(k)) => raw_key(app, *r, k),
        // Anything else leaves the popup open (Help and the quit question included).
        (other, _) => {
            app.popup = Some(other);
            vec![]
        }
    }
}

/// The letter of a key, upper or lower case.
fn letter(k: KeyEvent) -> Option<char> {
    match k.code {
        KeyCode::Char(c) => Some(c.to_ascii_lowercase()),
        _ => None,
    }
}

fn is_no(k: KeyEvent) -> bool {
    k.code == KeyCode::Esc || letter(k) == Some('n')
}

/// "Quit?": y quits, s saves first (when there is something to save), n or Esc stay.
fn confirm_quit(app: &mut App, k: KeyEvent) -> Vec<Effect> {
    match letter(k) {
        Some('y') => app.quit = true,
        Some('d') if app.detachable.is_some() && app.is_running() => {
            app.detach = true;
            app.quit = true;
        }
        Some('s') if app.doc.is_dirty() => {
            let mut effects = save(app);
            effects.push(Effect::QuitIfSaved);
            return effects;
        }
        _ if is_no(k) => {}
        _ => app.popup = Some(Popup::ConfirmQuit),
    }
    vec![]
}

fn confirm_delete(app: &mut App, (i, name): (usize, String), k: KeyEvent) -> Vec<Effect> {
    if letter(k) == Some('y') {
        app.endpoint_row = i;
        return endpoint_edit(app, |doc, i| doc.remove_endpoint(i), "endpoint deleted");
    }
    if is_no(k) {
        app.info("kept");
    } else {
        app.popup = Some(Popup::ConfirmDelete(i, name));
    }
    vec![]
}

/// The file changed on disk since it was read: overwrite, reload, save as, or leave it.
fn changed_on_disk(app: &mut App, path: PathBuf, k: KeyEvent) -> Vec<Effect> {
    match letter(k) {
        Some('o') => vec![Effect::Save(Overwrite::Force)],
        Some('r') => vec![Effect::Reload],
        Some('a') => {
            app.popup = Some(prompt(PromptKind::SaveAs, &path.display().to_string()));
            vec![]
        }
        _ if is_no(k) => {
            app.info("not saved: the file on disk is as the other program left it");
            vec![]
        }
        _ => {
            app.popup = Some(Popup::ChangedOnDisk(path));
            vec![]
        }
    }
}

fn confirm_overwrite(app: &mut App, path: PathBuf, k: KeyEvent) -> Vec<Effect> {
    if letter(k) == Some('y') {
        return vec![Effect::SaveAs(path, Overwrite::Force)];
    }
    if is_no(k) {
        app.info(format!("not saved: {} is left as it was", path.display()));
    } else {
        app.popup = Some(Popup::ConfirmOverwrite(path));
    }
    vec![]
}

pub(super) fn form_key(app: &mut App, mut form: Form, key: KeyEvent) -> Vec<Effect> {
    let asked = std::mem::take(&mut form.confirm_cancel);
    let outcome = form.handle(key);
    match outcome {
        FormOutcome::Editing => {
            if asked {
                form.error = None;
            }
            app.popup = Some(Popup::Form(Box::new(form)));
            vec![]
        }
        FormOutcome::Cancel if !asked && form.spec() != form.original => {
            form.confirm_cancel = true;
            form.error = Some(
                "Discard your changes to this endpoint? Esc again discards; any other key goes on editing"
                    .into(),
            );
            app.popup = Some(Popup::Form(Box::new(form)));
            vec![]
        }
        FormOutcome::Cancel => vec![],
        FormOutcome::Apply | FormOutcome::ApplyAndSave => {
            if let Err(e) = &form.body_check {
                form.error = Some(format!("body: {e}"));
                app.popup = Some(Popup::Form(Box::new(form)));
                return vec![];
            }
            match app.doc.set_endpoint(form.index, &form.spec()) {
                Ok(plan) => {
                    if form.index.is_none() {
                        app.endpoint_row = plan.endpoints.len() - 1;
                    }
                    let mut effects = after_edit(app, Ok(plan), "endpoint saved");
                    if outcome == FormOutcome::ApplyAndSave {
                        effects.extend(save(app));
                    }
                    effects
                }
                Err(e) => {
                    form.error = Some(e);
                    app.popup = Some(Popup::Form(Box::new(form)));
                    vec![]
                }
            }
        }
    }
}

/// The raw TOML editor: Ctrl-S applies the text (when it loads) and saves the file, Esc
/// discards it (asking first when it changed).
pub(super) fn raw_key(app: &mut App, mut r: RawEditor, key: KeyEvent) -> Vec<Effect> {
    let ctrl = key
        .modifiers
        .contains(crossterm::event::KeyModifiers::CONTROL);
    let asked = std::mem::take(&mut r.confirm_discard);
    match key.code {
        KeyCode::Esc if asked || r.input.text == r.original => {
            if asked {
                app.info("TOML edit discarded");
            }
            return vec![];
        }
        KeyCode::Esc => {
            r.confirm_discard = true;
            r.error = Some("Discard your edits of the TOML? Esc again discards; any other key goes on editing (Ctrl-S applies and saves)".into());
        }
        // Ctrl-S means one thing everywhere: save the file (here, with the text applied
        // first, as in the endpoint form).
        KeyCode::Char('s') if ctrl => match app.doc.replace_text(&r.input.text) {
            Ok(plan) => {
                let mut effects = adopt(app, plan);
                app.info("scenario replaced from the TOML editor");
                effects.extend(save(app));
                return effects;
            }
            Err(e) => r.error = Some(e),
        },
        _ => {
            r.input.handle(key);
            r.error = None;
        }
    }
    app.popup = Some(Popup::Raw(Box::new(r)));
    vec![]
}

pub(super) fn prompt_key(app: &mut App, mut p: Prompt, key: KeyEvent) -> Vec<Effect> {
    match key.code {
        KeyCode::Esc if p.kind == PromptKind::Host => {
            // Nothing written yet: leaving the wizard leaves swarm.
            app.quit = true;
            return vec![];
        }
        KeyCode::Esc => return vec![],
        KeyCode::Enter => match submit_prompt(app, &p) {
            Ok(effects) => return effects,
            Err(e) => p.error = Some(e),
        },
        _ => {
            p.input.handle(key);
            p.error = None;
        }
    }
    app.popup = Some(Popup::Prompt(p));
    vec![]
}

pub(super) fn submit_prompt(app: &mut App, p: &Prompt) -> Result<Vec<Effect>, String> {
    let text = p.input.text.trim();
    match p.kind {
        PromptKind::RampTo => {
            let n: u32 = text
                .parse()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or("enter a whole number of users, 1 or more")?;
            Ok(set_users(app, n))
        }
        PromptKind::ArrivalRate => {
            let r = parse_rate(text)?;
            Ok(set_arrival_rate(app, r))
        }
        PromptKind::Slo => {
            let (slo, cfg) = parse_search(text)?;
            if let Ok(plan) = app.doc.plan()
                && let Some((t, why)) = slo.iter().find_map(|t| Some((t, plan.unmeasurable(t)?)))
            {
                return Err(format!("{}: {why}", t.text));
            }
            let search = Search::new(cfg.clone(), slo);
            let effects = search.begin().into_iter().map(Effect::Engine).collect();
            app.capacity_status = format!("step 1: ramping to {} users", search.users());
            app.capacity = Some((search, cfg));
            app.view = View::Capacity;
            Ok(effects)
        }
        PromptKind::SaveAs if text.is_empty() => {
            Err("enter a file name, e.g. scenarios/mine.toml".into())
        }
        PromptKind::SaveAs => Ok(vec![Effect::SaveAs(PathBuf::from(text), Overwrite::Check)]),
        PromptKind::HtmlReport if text.is_empty() => {
            Err("enter a file name, e.g. report.html".into())
        }
        PromptKind::HtmlReport => {
            let path = PathBuf::from(text);
            crate::fsutil::check_writable(&path)?;
            Ok(vec![Effect::WriteHtml(path)])
        }
        PromptKind::Host => {
            let load = crate::scenario::Load {
                users: app.users,
                spawn_rate: app.spawn_rate,
                ..Default::default()
            };
            let doc = ScenarioDoc::new_scenario(app.doc.path.clone(), text, &load);
            match doc.plan() {
                Err(e) if e.key == "host" => Err(e.message),
                _ => {
                    app.doc = doc;
                    app.specs = app.doc.endpoints();
                    app.view = View::Endpoints;
                    app.popup = Some(Popup::Form(Box::new(Form::blank())));
                    Ok(vec![])
                }
            }
        }
    }
}

/// Where `h` proposes to write the HTML report: beside the scenario, named after it.
pub(super) fn html_report_path(scenario: Option<&std::path::Path>) -> String {
    match scenario.and_then(|p| Some((p.parent()?, p.file_stem()?))) {
        Some((dir, stem)) => dir
            .join(format!("{}-report.html", stem.to_string_lossy()))
            .display()
            .to_string(),
        None => "swarm-report.html".into(),
    }
}

/// `p95<450ms,fail<1% start=5 step=5 hold=10s settle=3s max=200`: the SLO, then optional
/// settings of the search.
pub(super) fn parse_search(text: &str) -> Result<(Vec<Threshold>, SearchConfig), String> {
    let mut words = text.split_whitespace();
    let slo = parse_slo(words.next().unwrap_or(""))?;
    let mut cfg = SearchConfig::default();
    let mut max = None;
    for w in words {
        let (k, v) = w
            .split_once('=')
            .ok_or_else(|| format!("\"{w}\": write settings as key=value, e.g. step=5"))?;
        let number = || {
            v.parse::<u32>()
                .ok()
                .filter(|n| *n >= 1)
                .ok_or_else(|| format!("{k}: \"{v}\" is not a whole number >= 1"))
        };
        let time = || parse_duration(v).map_err(|e| format!("{k}: {e}"));
        match k {
            "start" => cfg.start = number()?,
            "step" => cfg.step = number()?,
            "max" => max = Some(number()?),
            "hold" => cfg.hold = time()?,
            "settle" => cfg.settle = time()?,
            _ => {
                return Err(format!(
                    "unknown setting \"{k}\" (start, step, hold, settle, max)"
                ));
            }
        }
    }
    if cfg.hold.is_zero() {
        return Err("hold: 0s measures nothing; give each step time, e.g. hold=20s".into());
    }
    cfg.limit = match max {
        Some(m) if m < cfg.start => {
            return Err(format!(
                "start={} is above max={m}: the search would try more users than it may",
                cfg.start
            ));
        }
        Some(m) => m,
        None => cfg.limit.max(cfg.start),
    };
    Ok((slo, cfg))
}
