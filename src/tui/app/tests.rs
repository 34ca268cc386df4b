//! `update` without a terminal: keys in, state and effects out.

use super::*;
use crate::engine::Command;
use crossterm::event::KeyModifiers;

const SRC: &str = "# demo\nhost = \"http://127.0.0.1:1\"\n[load]\nusers = 5\nspawn_rate = 2\n\n[[endpoints]]\nname = \"list\"\npath = \"/items\"\nweight = 2\n\n[[endpoints]]\npath = \"/other\"\n";

fn app() -> App {
    let doc = ScenarioDoc::from_text(SRC, None).unwrap();
    let plan = doc.plan().unwrap();
    App::new(doc, &plan, Theme { color: false })
}

fn key(c: char) -> Action {
    Action::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE))
}

fn special(code: KeyCode) -> Action {
    Action::Key(KeyEvent::new(code, KeyModifiers::NONE))
}

fn commands(effects: &[Effect]) -> Vec<String> {
    effects
        .iter()
        .map(|e| match e {
            Effect::Engine(Command::SetEndpoints(list)) => format!("SetEndpoints({})", list.len()),
            Effect::Engine(c) => format!("{c:?}"),
            other => format!("{other:?}"),
        })
        .collect()
}

#[test]
fn start_sends_the_target_then_start() {
    let mut a = app();
    assert_eq!(
        commands(&update(&mut a, Action::Start)),
        ["SetUsers(5)", "Start"]
    );
}

#[test]
fn users_and_spawn_rate_reach_engine_and_scenario() {
    let mut a = app();
    assert_eq!(commands(&update(&mut a, Action::Users(1))), ["SetUsers(6)"]);
    assert_eq!(
        commands(&update(&mut a, Action::Users(-10))),
        ["SetUsers(1)"]
    );
    update(&mut a, Action::Users(10));
    assert_eq!(a.users, 11);
    assert_eq!(
        commands(&update(&mut a, Action::SpawnFaster)),
        ["SetSpawnRate(5.0)"]
    );
    assert_eq!(
        commands(&update(&mut a, Action::SpawnSlower)),
        ["SetSpawnRate(2.0)"]
    );
    assert!(a.doc.text().contains("users = 11"));
    assert!(a.doc.is_dirty());
}

#[test]
fn ramp_prompt_takes_a_number() {
    let mut a = app();
    update(&mut a, Action::RampPrompt);
    update(
        &mut a,
        Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    update(&mut a, key('x'));
    assert!(update(&mut a, special(KeyCode::Enter)).is_empty());
    assert!(matches!(&a.popup, Some(Popup::Prompt(p)) if p.error.is_some()));
    update(&mut a, special(KeyCode::Backspace));
    update(&mut a, key('4'));
    update(&mut a, key('0'));
    assert_eq!(
        commands(&update(&mut a, special(KeyCode::Enter))),
        ["SetUsers(40)"]
    );
    assert!(a.popup.is_none());
}

#[test]
fn views_cycle_and_selection_stays_in_range() {
    let mut a = app();
    update(&mut a, Action::NextView);
    assert_eq!(a.view, View::Charts);
    update(&mut a, Action::PrevView);
    update(&mut a, Action::PrevView);
    assert_eq!(a.view, View::Capacity);
    update(&mut a, Action::PrevView);
    assert_eq!(a.view, View::Endpoints);
    for _ in 0..5 {
        update(&mut a, Action::Down);
    }
    assert_eq!(a.endpoint_row, 1);
    update(&mut a, Action::Show(View::Stats));
    update(&mut a, Action::Down);
    assert_eq!(
        a.stats_row, 0,
        "only the aggregate row exists before traffic"
    );
}

#[test]
fn editing_an_endpoint_reaches_the_engine() {
    let mut a = app();
    update(&mut a, Action::Show(View::Endpoints));
    update(&mut a, Action::Edit);
    assert!(matches!(a.popup, Some(Popup::Form(_))));
    // Focus the path field and replace its text.
    update(&mut a, special(KeyCode::Tab));
    update(&mut a, special(KeyCode::Tab));
    update(
        &mut a,
        Action::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    for c in "/v2/items".chars() {
        update(&mut a, key(c));
    }
    let effects = update(&mut a, special(KeyCode::Enter));
    assert_eq!(commands(&effects), ["SetWait(None)", "SetEndpoints(2)"]);
    assert!(a.popup.is_none());
    assert_eq!(a.specs[0].path, "/v2/items");
    assert!(a.doc.text().contains("path = \"/v2/items\""));
    assert!(a.doc.text().starts_with("# demo\n"), "comments kept");
}

#[test]
fn an_invalid_form_stays_open_with_the_reason() {
    let mut a = app();
    update(&mut a, Action::Add);
    update(&mut a, special(KeyCode::Tab));
    update(&mut a, special(KeyCode::Tab));
    update(&mut a, special(KeyCode::Backspace));
    for c in "nope".chars() {
        update(&mut a, key(c));
    }
    assert!(update(&mut a, special(KeyCode::Enter)).is_empty());
    let Some(Popup::Form(f)) = &a.popup else {
        panic!("form closed")
    };
    assert!(
        f.error
            .as_deref()
            .unwrap()
            .contains("must start with \"/\"")
    );
    assert_eq!(a.specs.len(), 2);
    // Esc on changed fields asks first; a second Esc discards.
    update(&mut a, special(KeyCode::Esc));
    let Some(Popup::Form(f)) = &a.popup else {
        panic!("Esc discarded the edits without asking")
    };
    assert!(f.error.as_deref().unwrap().contains("Discard your changes"));
    update(&mut a, special(KeyCode::Esc));
    assert!(a.popup.is_none());
}

#[test]
fn delete_duplicate_and_toggle() {
    let mut a = app();
    update(&mut a, Action::Show(View::Endpoints));
    assert_eq!(
        commands(&update(&mut a, Action::Duplicate)),
        ["SetWait(None)", "SetEndpoints(3)"]
    );
    assert_eq!(a.specs[1].name, "list (copy)");
    // Delete asks first; n keeps the endpoint, y deletes it.
    assert!(update(&mut a, Action::Delete).is_empty());
    assert!(matches!(&a.popup, Some(Popup::ConfirmDelete(0, n)) if n == "list"));
    update(&mut a, key('n'));
    assert_eq!(a.specs.len(), 3);
    update(&mut a, Action::Delete);
    assert_eq!(
        commands(&update(&mut a, key('y'))),
        ["SetWait(None)", "SetEndpoints(2)"]
    );
    assert_eq!(a.specs.len(), 2);
    update(&mut a, Action::Toggle);
    assert_eq!(a.specs[0].weight, "0");
    update(&mut a, Action::Toggle);
    assert_eq!(a.specs[0].weight, "2", "the old weight comes back");
    update(&mut a, Action::Down);
    update(&mut a, Action::Toggle);
    update(&mut a, Action::Up);
    let effects = update(&mut a, Action::Toggle);
    assert!(
        effects.is_empty(),
        "the last enabled endpoint cannot be disabled"
    );
    assert!(a.message.as_ref().unwrap().1);
}

#[test]
fn endpoint_keys_act_only_in_the_endpoints_view() {
    for view in [View::Stats, View::Charts, View::Capacity] {
        let mut a = app();
        update(&mut a, Action::Show(view));
        for action in [
            Action::Delete,
            Action::Duplicate,
            Action::Toggle,
            Action::Edit,
        ] {
            assert!(update(&mut a, action).is_empty(), "{view:?} {action:?}");
            assert!(a.popup.is_none(), "{view:?} {action:?}");
            assert_eq!(a.specs.len(), 2);
            assert_eq!(a.specs[0].weight, "2");
            assert!(a.message.as_ref().unwrap().0.contains("Endpoints view"));
        }
        assert!(!a.doc.is_dirty());
    }
}

#[test]
fn enter_on_a_failure_shows_it_in_full() {
    use crate::stats::{FailureGroup, FailureKind};
    let mut a = app();
    let mut snap = Snapshot::default();
    for (count, kind) in [(3, FailureKind::Timeout), (9, FailureKind::Status(500))] {
        snap.failures.push(FailureGroup {
            name: "list".into(),
            method: "GET".into(),
            kind,
            count,
            message: "a long message".into(),
            first_seen: std::time::Duration::ZERO,
            last_seen: std::time::Duration::from_secs(4),
        });
    }
    a.set_snapshot(Arc::new(snap));
    update(&mut a, Action::Show(View::Failures));
    update(&mut a, Action::Down);
    assert!(update(&mut a, Action::Edit).is_empty());
    // Most frequent first: the second row is the timeout.
    assert!(
        matches!(&a.popup, Some(Popup::FailureDetail(n, m, FailureKind::Timeout)) if n == "list" && m == "GET")
    );
    update(&mut a, special(KeyCode::Esc));
    assert!(a.popup.is_none());
    assert_eq!(a.specs.len(), 2, "no endpoint was touched");
}

#[test]
fn quit_asks_when_unsaved_or_running() {
    let mut a = app();
    update(&mut a, Action::Quit);
    assert!(a.quit, "nothing to lose: quits at once");
    let mut a = app();
    update(&mut a, Action::Users(1));
    update(&mut a, Action::Quit);
    assert!(!a.quit);
    assert_eq!(a.popup, Some(Popup::ConfirmQuit));
    update(&mut a, key('n'));
    assert!(!a.quit && a.popup.is_none());
    update(&mut a, Action::Quit);
    update(&mut a, key('y'));
    assert!(a.quit);
}

#[test]
fn quit_offers_save_and_quit_when_unsaved() {
    let mut a = app();
    update(&mut a, Action::Users(1));
    update(&mut a, Action::Quit);
    let effects = update(&mut a, key('s'));
    // No path yet: save asks for one, and the quit waits for a save that works.
    assert!(matches!(&a.popup, Some(Popup::Prompt(p)) if p.kind == PromptKind::SaveAs));
    assert!(matches!(&effects[..], [Effect::QuitIfSaved]));
    assert!(!a.quit);
}

#[test]
fn a_file_changed_on_disk_asks_overwrite_reload_or_save_as() {
    let path = PathBuf::from("scenarios/x.toml");
    let mut a = app();
    a.popup = Some(Popup::ChangedOnDisk(path.clone()));
    assert!(update(&mut a, key('z')).is_empty());
    assert_eq!(
        a.popup,
        Some(Popup::ChangedOnDisk(path.clone())),
        "other keys wait"
    );
    assert!(matches!(
        &update(&mut a, key('o'))[..],
        [Effect::Save(Overwrite::Force)]
    ));
    a.popup = Some(Popup::ChangedOnDisk(path.clone()));
    assert!(matches!(&update(&mut a, key('r'))[..], [Effect::Reload]));
    a.popup = Some(Popup::ChangedOnDisk(path.clone()));
    assert!(update(&mut a, key('a')).is_empty());
    assert!(
        matches!(&a.popup, Some(Popup::Prompt(p)) if p.kind == PromptKind::SaveAs && p.input.text == "scenarios/x.toml")
    );
    a.popup = Some(Popup::ChangedOnDisk(path.clone()));
    assert!(update(&mut a, special(KeyCode::Esc)).is_empty());
    assert!(a.popup.is_none());
}

#[test]
fn save_as_over_an_existing_file_asks_first() {
    let path = PathBuf::from("taken.toml");
    let mut a = app();
    a.popup = Some(Popup::ConfirmOverwrite(path.clone()));
    assert!(update(&mut a, key('n')).is_empty());
    assert!(a.popup.is_none());
    a.popup = Some(Popup::ConfirmOverwrite(path.clone()));
    let effects = update(&mut a, key('y'));
    assert!(matches!(&effects[..], [Effect::SaveAs(p, Overwrite::Force)] if *p == path));
}

#[test]
fn save_without_a_path_asks_for_one() {
    let mut a = app();
    assert!(update(&mut a, Action::Save).is_empty());
    assert!(matches!(&a.popup, Some(Popup::Prompt(p)) if p.kind == PromptKind::SaveAs));
    for c in "out.toml".chars() {
        update(&mut a, key(c));
    }
    let effects = update(&mut a, special(KeyCode::Enter));
    assert!(
        matches!(&effects[..], [Effect::SaveAs(p, Overwrite::Check)] if p.to_str() == Some("out.toml"))
    );
}

#[test]
fn esc_leaves_the_new_scenario_wizard() {
    let doc = ScenarioDoc::new_scenario(None, "", &Default::default());
    let mut a = App::new(doc, &Plan::default(), Theme { color: false });
    a.popup = Some(prompt(PromptKind::Host, ""));
    assert!(update(&mut a, special(KeyCode::Esc)).is_empty());
    assert!(a.quit, "Esc leaves swarm: there is nothing to save yet");
}

#[test]
fn new_scenario_asks_for_the_host_then_an_endpoint() {
    let doc = ScenarioDoc::new_scenario(None, "", &Default::default());
    let plan = Plan::default();
    let mut a = App::new(doc, &plan, Theme { color: false });
    a.popup = Some(Popup::Prompt(Prompt {
        kind: PromptKind::Host,
        input: TextInput::new("ftp://x", false),
        error: None,
    }));
    update(&mut a, special(KeyCode::Enter));
    assert!(
        matches!(&a.popup, Some(Popup::Prompt(p)) if p.error.as_deref().unwrap_or("").contains("not an http:// or https:// URL"))
    );
    a.popup = Some(Popup::Prompt(Prompt {
        kind: PromptKind::Host,
        input: TextInput::new("http://127.0.0.1:9000", false),
        error: None,
    }));
    update(&mut a, special(KeyCode::Enter));
    assert!(matches!(a.popup, Some(Popup::Form(_))));
    assert!(update(&mut a, Action::Start).is_empty() || a.plan_error.is_some());
    let effects = update(&mut a, special(KeyCode::Enter));
    assert_eq!(commands(&effects), ["SetWait(None)", "SetEndpoints(1)"]);
    assert!(a.plan_error.is_none());
    assert_eq!(a.doc.host(), "http://127.0.0.1:9000");
}

#[test]
fn thresholds_are_checked_against_each_snapshot() {
    let src = SRC.replace("[load]", "[thresholds]\nfail_ratio = \"< 1%\"\n\n[load]");
    let doc = ScenarioDoc::from_text(&src, None).unwrap();
    let plan = doc.plan().unwrap();
    let mut a = App::new(doc, &plan, Theme { color: false });
    let mut snap = Snapshot::default();
    snap.total.requests = 10;
    snap.total.failures = 5;
    a.set_snapshot(Arc::new(snap));
    assert_eq!(a.verdicts.len(), 1);
    assert!(!a.verdicts[0].passed);
}

const OPEN: &str = "host = \"http://127.0.0.1:1\"\n[load]\narrival_rate = \"20/s\"\n[[load.stages]]\narrival_rate = \"100/s\"\nduration = \"1m\"\n\n[[endpoints]]\npath = \"/\"\n";

fn open_app() -> App {
    let doc = ScenarioDoc::from_text(OPEN, None).unwrap();
    let plan = doc.plan().unwrap();
    App::new(doc, &plan, Theme { color: false })
}

#[test]
fn open_model_keys_move_the_arrival_rate() {
    let mut a = open_app();
    assert_eq!(
        commands(&update(&mut a, Action::Start)),
        ["SetArrivalRate(20.0)", "Start"]
    );
    assert_eq!(
        commands(&update(&mut a, Action::Users(10))),
        ["SetArrivalRate(30.0)"]
    );
    assert!(
        a.doc.text().contains("arrival_rate = \"30/s\""),
        "{}",
        a.doc.text()
    );
    assert!(commands(&update(&mut a, Action::SpawnFaster)).is_empty());
    update(&mut a, Action::RampPrompt);
    for _ in 0..8 {
        update(&mut a, special(KeyCode::Backspace));
    }
    for c in "90/m".chars() {
        update(&mut a, key(c));
    }
    assert_eq!(
        commands(&update(&mut a, special(KeyCode::Enter))),
        ["SetArrivalRate(1.5)"]
    );
}

#[test]
fn p_pauses_and_resumes_a_running_plan() {
    let mut a = open_app();
    assert!(commands(&update(&mut a, Action::PausePlan)).is_empty());
    let running = Snapshot {
        state: RunState::Running,
        stage: Some((1, 1)),
        ..Snapshot::default()
    };
    a.set_snapshot(Arc::new(running.clone()));
    assert_eq!(commands(&update(&mut a, Action::PausePlan)), ["PausePlan"]);
    a.set_snapshot(Arc::new(Snapshot {
        plan_paused: true,
        ..running
    }));
    assert_eq!(commands(&update(&mut a, Action::PausePlan)), ["ResumePlan"]);
    // Without stages there is nothing to pause.
    let mut closed = app();
    assert!(commands(&update(&mut closed, Action::PausePlan)).is_empty());
    assert!(
        closed
            .message
            .as_ref()
            .unwrap()
            .0
            .contains("no load stages")
    );
}

#[test]
fn f_starts_a_capacity_search_from_an_slo() {
    let mut a = app();
    update(&mut a, Action::FindCapacity);
    for _ in 0..20 {
        update(&mut a, special(KeyCode::Backspace));
    }
    for c in "p95<200ms step=5 hold=2s".chars() {
        update(&mut a, key(c));
    }
    let effects = commands(&update(&mut a, special(KeyCode::Enter)));
    assert_eq!(
        effects,
        ["SetRunTime(None)", "SetUsers(10)", "Start", "SetUsers(10)"]
    );
    assert_eq!(a.view, View::Capacity);
    let (_, cfg) = a.capacity.as_ref().unwrap();
    assert_eq!((cfg.step, cfg.hold), (5, std::time::Duration::from_secs(2)));
    assert!(a.searching());
    // While it runs, the users are the search's.
    a.set_snapshot(Arc::new(Snapshot {
        state: RunState::Running,
        ..Snapshot::default()
    }));
    assert!(commands(&update(&mut a, Action::Users(1))).is_empty());
    // A bad setting is refused in the prompt.
    let mut b = app();
    update(&mut b, Action::FindCapacity);
    // The proposed SLO is selected: End keeps it to add to.
    update(&mut b, special(KeyCode::End));
    for c in " steps=4".chars() {
        update(&mut b, key(c));
    }
    update(&mut b, special(KeyCode::Enter));
    match &b.popup {
        Some(Popup::Prompt(p)) => assert!(p.error.as_ref().unwrap().contains("unknown setting")),
        other => panic!("{other:?}"),
    }
}

#[test]
fn t_edits_the_whole_scenario_as_toml() {
    let mut a = app();
    update(&mut a, Action::RawToml);
    // A typo is refused in the editor, with its location.
    for c in "oops = 1\n".chars() {
        update(&mut a, key(c));
    }
    let ctrl_s = Action::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    assert!(commands(&update(&mut a, ctrl_s)).is_empty());
    match &a.popup {
        Some(Popup::Raw(r)) => {
            let e = r.error.as_deref().unwrap();
            assert!(
                e.contains("1:1") && e.contains("unknown key \"oops\""),
                "{e}"
            );
        }
        other => panic!("{other:?}"),
    }
    // Fixed, and a flow added: applied to the engine, the document marked modified.
    update(&mut a, special(KeyCode::Up));
    update(&mut a, special(KeyCode::Home));
    for _ in 0..9 {
        update(&mut a, special(KeyCode::Delete));
    }
    for _ in 0..40 {
        update(&mut a, special(KeyCode::PageDown));
    }
    update(&mut a, special(KeyCode::End));
    for c in "\n[[flows]]\nname = \"f\"\n[[flows.steps]]\npath = \"/x\"\n".chars() {
        update(&mut a, key(c));
    }
    let effects = commands(&update(&mut a, ctrl_s));
    assert_eq!(effects.len(), 1);
    assert!(effects[0].starts_with("SetWorkload"), "{effects:?}");
    // Ctrl-S saves, as everywhere: this document has no file yet, so it asks for one.
    assert!(
        matches!(&a.popup, Some(Popup::Prompt(p)) if p.kind == PromptKind::SaveAs),
        "{:?}",
        a.popup
    );
    update(&mut a, special(KeyCode::Esc));
    assert!(a.doc.is_dirty());
    assert!(a.doc.text().contains("[[flows.steps]]"));
    assert!(a.doc.text().starts_with("# demo\n"), "comments stay");
}

#[test]
fn a_toml_edit_of_load_reaches_the_engine_and_the_sliders() {
    let mut a = app();
    update(&mut a, Action::RawToml);
    let edited = SRC.replace("users = 5", "users = 30").replace(
        "spawn_rate = 2",
        "spawn_rate = 7\nrun_time = \"2m\"\n[[load.stages]]\nusers = 3\nduration = \"10s\"",
    );
    match &mut a.popup {
        Some(Popup::Raw(r)) => r.input = TextInput::new(&edited, true),
        other => panic!("{other:?}"),
    }
    let ctrl_s = Action::Key(KeyEvent::new(KeyCode::Char('s'), KeyModifiers::CONTROL));
    let effects = commands(&update(&mut a, ctrl_s));
    assert!(
        matches!(&a.popup, Some(Popup::Prompt(p)) if p.kind == PromptKind::SaveAs),
        "{:?}",
        a.popup
    );
    update(&mut a, special(KeyCode::Esc));
    assert!(effects[0].starts_with("SetWorkload"), "{effects:?}");
    for want in [
        "SetUsers(30)",
        "SetSpawnRate(7.0)",
        "SetRunTime(Some(120s))",
        "SetStages([Stage { users: 3",
    ] {
        assert!(
            effects.iter().any(|e| e.starts_with(want)),
            "no {want} in {effects:?}"
        );
    }
    assert_eq!((a.users, a.spawn_rate), (30, 7.0));
    assert_eq!(a.run_time, Some(std::time::Duration::from_secs(120)));
    // Nothing changed in [load]: nothing of it is sent again.
    update(&mut a, Action::RawToml);
    let effects = commands(&update(&mut a, ctrl_s));
    assert_eq!(effects.len(), 1, "{effects:?}");
}

/// The search prompt refuses settings it would not honour: a step held 0 s measures
/// nothing, and a start above max had max raised to it silently.
#[test]
fn the_search_prompt_refuses_a_zero_hold_and_a_start_above_max() {
    use super::popups::parse_search;
    let e = parse_search("p95<200ms hold=0s").unwrap_err();
    assert!(e.contains("0s measures nothing"), "{e}");
    let e = parse_search("p95<200ms start=50 max=20").unwrap_err();
    assert!(e.contains("start=50 is above max=20"), "{e}");
    let (_, cfg) = parse_search("p95<200ms start=20 max=50").unwrap();
    assert_eq!((cfg.start, cfg.limit), (20, 50));
}
