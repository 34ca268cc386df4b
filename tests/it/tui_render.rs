//! The TUI's views rendered with ratatui's TestBackend from fixed snapshots, compared with
//! the reviewed screens under tests/it/snapshots (insta).

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use std::sync::Arc;
use std::time::Duration;
use swarm::scenario::ScenarioDoc;
use swarm::stats::{FailureGroup, FailureKind, Point, RowStats, RunState, Snapshot};
use swarm::tui::app::{Action, App, View, update};
use swarm::tui::theme::Theme;
use swarm::tui::view;

const SCENARIO: &str = r#"# a fixed scenario for screen tests
name = "Testing types API"
host = "http://127.0.0.1:5000"

[load]
users = 50
spawn_rate = 10
run_time = "2m"

[[endpoints]]
name = "list tests"
path = "/tests"
weight = 3

[[endpoints]]
name = "add test"
method = "POST"
path = "/tests"
json = { name = "load testing" }
expect = { status = [201] }

[[endpoints]]
name = "a rather long endpoint name that will not fit"
path = "/tests/search?q=load&limit=20"
weight = 0
"#;

fn row(name: &str, method: &str, requests: u64, failures: u64, scale: f64) -> RowStats {
    let percentiles_ms =
        [1.0, 1.2, 1.4, 1.6, 2.0, 2.6, 3.5, 4.8, 9.0, 15.0, 21.0].map(|v| v * scale);
    RowStats {
        name: name.into(),
        method: method.into(),
        requests,
        failures,
        resent: 0,
        avg_ms: 1.3 * scale,
        min_ms: 0.4 * scale,
        max_ms: 21.0 * scale,
        percentiles_ms,
        avg_bytes: 120.0,
        bytes: 120 * requests,
        current_rps: requests as f64 / 60.0,
        current_fps: failures as f64 / 60.0,
        total_rps: requests as f64 / 62.0,
        total_fps: failures as f64 / 62.0,
        statuses: vec![(200, requests - failures), (500, failures)],
        corrected_ms: None,
        distribution: (1..=12)
            .map(|i| {
                (
                    0.4 * scale * 1.4f64.powi(i),
                    [1, 3, 9, 30, 80, 120, 90, 40, 12, 4, 1, 1][i as usize - 1],
                )
            })
            .collect(),
        ..RowStats::default()
    }
}

fn snapshot() -> Snapshot {
    let rows = vec![
        row("list tests", "GET", 12_345, 0, 1.0),
        row("add test", "POST", 4_100, 37, 3.0),
    ];
    let mut total = row("Aggregated", "", 16_445, 37, 1.5);
    total.statuses.clear();
    let history = (0..62)
        .map(|s| {
            let ramp = (s as f64 / 5.0).min(1.0);
            Point {
                t: s as f64,
                rps: 265.0 * ramp,
                fps: if s > 40 { 1.5 } else { 0.0 },
                p50_ms: 1.2 + ramp * 0.3,
                p95_ms: 2.6 + (s % 7) as f64 * 0.2,
                p99_ms: 3.1 + (s % 7) as f64 * 0.3,
                users: (ramp * 50.0) as u32,
                stream: None,
            }
        })
        .collect();
    Snapshot {
        state: RunState::Running,
        users: 50,
        peak_users: 50,
        target_users: 50,
        spawn_rate: 10.0,
        elapsed: Duration::from_secs(62),
        run_clock: Duration::from_secs(62),
        run_time: Some(Duration::from_secs(120)),
        rows,
        total,
        failures: vec![FailureGroup {
            name: "add test".into(),
            method: "POST".into(),
            kind: FailureKind::Status(500),
            count: 37,
            message: "POST /tests answered 500".into(),
            first_seen: Duration::from_secs(3),
            last_seen: Duration::from_secs(61),
        }],
        history: Arc::new(history),
        history_step: 1,
        generator: Default::default(),
        stage: None,
        ..Snapshot::default()
    }
}

fn app() -> App {
    let doc = ScenarioDoc::from_text(SCENARIO, Some("scenarios/types.toml".into())).unwrap();
    let plan = doc.plan().unwrap();
    let mut app = App::new(doc, &plan, Theme { color: false });
    app.set_snapshot(Arc::new(snapshot()));
    app
}

fn render(app: &App, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).unwrap();
    terminal.draw(|f| view::draw(f, app)).unwrap();
    let buffer = terminal.backend().buffer();
    (0..height)
        .map(|y| {
            (0..width)
                .map(|x| buffer[(x, y)].symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn screen(actions: &[Action], width: u16, height: u16) -> String {
    let mut app = app();
    for a in actions {
        update(&mut app, *a);
    }
    render(&app, width, height)
}

#[test]
fn statistics_80x24() {
    insta::assert_snapshot!(screen(&[], 80, 24));
}

/// Twelve endpoints, some with long names, the last one selected: names end in "…", the
/// rows scroll with a position in the title, and the aggregate stays pinned.
fn many_rows_app() -> App {
    let mut app = app();
    let mut snap = snapshot();
    snap.rows = (1..=12)
        .map(|i| {
            let name = if i % 3 == 0 {
                format!("endpoint number {i} with a name far too long for its column")
            } else {
                format!("endpoint {i}")
            };
            row(&name, "GET", 100 * i, 0, 1.0)
        })
        .collect();
    app.set_snapshot(Arc::new(snap));
    for _ in 0..11 {
        update(&mut app, Action::Down);
    }
    app
}

#[test]
fn statistics_with_many_long_rows_80x24() {
    let screen = render(&many_rows_app(), 80, 24);
    assert!(screen.contains("of 12 (↑↓)"), "{screen}");
    assert!(screen.contains("…"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn statistics_with_many_long_rows_200x50() {
    let screen = render(&many_rows_app(), 200, 50);
    assert!(screen.contains("p95") && screen.contains("p99"), "{screen}");
    insta::assert_snapshot!(screen);
}

#[test]
fn statistics_120x40_with_a_row_selected() {
    insta::assert_snapshot!(screen(&[Action::Down], 120, 40));
}

#[test]
fn charts_80x24() {
    insta::assert_snapshot!(screen(&[Action::Show(View::Charts)], 80, 24));
}

#[test]
fn charts_120x40() {
    insta::assert_snapshot!(screen(&[Action::Show(View::Charts)], 120, 40));
}

#[test]
fn failures_80x24() {
    insta::assert_snapshot!(screen(&[Action::Show(View::Failures)], 80, 24));
}

#[test]
fn endpoints_80x24() {
    insta::assert_snapshot!(screen(
        &[Action::Show(View::Endpoints), Action::Down],
        80,
        24
    ));
}

#[test]
fn endpoint_form_80x24() {
    insta::assert_snapshot!(screen(
        &[Action::Show(View::Endpoints), Action::Down, Action::Edit],
        80,
        24
    ));
}

#[test]
fn help_80x24() {
    insta::assert_snapshot!(screen(&[Action::Help], 80, 24));
}

#[test]
fn quit_confirmation_when_running_80x24() {
    insta::assert_snapshot!(screen(&[Action::Quit], 80, 24));
}

#[test]
fn too_small_says_so() {
    let text = screen(&[], 60, 20);
    assert!(text.contains("at least 80×24"), "{text}");
    assert!(text.contains("60×20"), "{text}");
}

#[test]
fn every_key_in_the_keymap_is_in_the_help() {
    let help = screen(&[Action::Help], 80, 24);
    for (keys, what) in swarm::tui::keymap::help_rows() {
        assert!(
            help.contains(keys) && help.contains(what),
            "help lacks {keys}: {what}"
        );
    }
}

#[test]
fn open_model_with_a_paused_plan_80x24() {
    let src = SCENARIO
        .replace("users = 50\nspawn_rate = 10\n", "arrival_rate = \"20/s\"\nmax_users = 200\n")
        .replace(
            "run_time = \"2m\"\n",
            "run_time = \"2m\"\n[[load.stages]]\narrival_rate = \"100/s\"\nduration = \"1m\"\n[[load.stages]]\narrival_rate = \"100/s\"\nduration = \"1m\"\n",
        );
    let doc = ScenarioDoc::from_text(&src, Some("scenarios/open.toml".into())).unwrap();
    let plan = doc.plan().unwrap();
    let mut app = App::new(doc, &plan, Theme { color: false });
    let mut snap = snapshot();
    snap.stage = Some((1, 2));
    snap.stage_elapsed = Duration::from_secs(30);
    snap.plan_paused = true;
    snap.users = 12;
    snap.arrivals = Some(swarm::stats::Arrivals {
        rate: 60.0,
        max_users: 200,
        scheduled: 1200,
        dropped: 3,
        waiting: 0,
        busy: 4,
    });
    snap.total.corrected_ms = Some(snap.total.percentiles_ms.map(|v| v * 1.5));
    app.stats_row = snap.rows.len();
    app.set_snapshot(Arc::new(snap));
    insta::assert_snapshot!(render(&app, 80, 24));
}

/// The app on `src` with two thresholds (p95 < 1 ms fails, fail_ratio < 5 % holds), in
/// the Failures view.
fn failures_with_thresholds(src: &str) -> App {
    let src = src.replace(
        "[load]",
        "[thresholds]\np95 = \"< 1ms\"\nfail_ratio = \"< 5%\"\n\n[load]",
    );
    let doc = ScenarioDoc::from_text(&src, Some("scenarios/types.toml".into())).unwrap();
    let plan = doc.plan().unwrap();
    let mut app = App::new(doc, &plan, Theme { color: false });
    app.set_snapshot(Arc::new(snapshot()));
    update(&mut app, Action::Show(View::Failures));
    app
}

/// Before the run (and while an endpoint has had no request) a threshold has nothing to
/// judge: it waits, it has not failed; a run that ended with nothing fails it, as the
/// report does.
#[test]
fn thresholds_wait_until_something_is_measured() {
    let mut app = failures_with_thresholds(SCENARIO);
    app.set_snapshot(Arc::new(Snapshot::default()));
    let screen = render(&app, 80, 24);
    let first = screen.lines().next().unwrap();
    assert!(first.ends_with("thresholds: 2 waiting"), "{screen}");
    assert!(
        screen.contains("Thresholds: 0 passed, 0 failed, 2 waiting"),
        "{screen}"
    );
    assert!(
        screen.contains("WAIT  all  p95 < 1ms  measured no requests"),
        "{screen}"
    );
    app.set_snapshot(Arc::new(Snapshot {
        state: RunState::Stopped,
        ..Snapshot::default()
    }));
    let screen = render(&app, 80, 24);
    assert!(screen.contains("thresholds ✗ 2/2 (view 3)"), "{screen}");
    assert!(
        screen.contains("FAIL  all  p95 < 1ms  measured no requests"),
        "{screen}"
    );
}

#[test]
fn failures_view_names_the_failed_threshold_and_shows_a_failure_in_full_80x24() {
    let mut app = failures_with_thresholds(SCENARIO);
    let screen = render(&app, 80, 24);
    assert!(screen.contains("thresholds ✗ 1/2 (view 3)"), "{screen}");
    assert!(
        screen.contains("Thresholds: 1 passed, 1 failed"),
        "{screen}"
    );
    assert!(
        screen.contains("FAIL  all  p95 < 1ms  measured 3.90 ms"),
        "{screen}"
    );
    update(&mut app, Action::Edit);
    let detail = render(&app, 80, 24);
    assert!(
        detail.contains("first at 3.0s, latest at 61.0s"),
        "{detail}"
    );
    assert!(detail.contains("POST /tests answered 500"), "{detail}");
    insta::assert_snapshot!(detail);
}

#[test]
fn idle_statistics_say_how_to_start_80x24() {
    let doc = ScenarioDoc::from_text(SCENARIO, Some("scenarios/types.toml".into())).unwrap();
    let plan = doc.plan().unwrap();
    let app = App::new(doc, &plan, Theme { color: false });
    let screen = render(&app, 80, 24);
    assert!(
        screen.contains("no requests yet: press s to start"),
        "{screen}"
    );
}

/// `--baseline`: the table puts the baseline's p95 and the change beside the live p95 (a
/// rise over 10 % and 1 ms in the "bad" style), and the percentile panel a dim line of
/// the baseline's percentiles under the live ones.
#[test]
fn statistics_beside_a_baseline_100x30_and_80x24() {
    let mut app = app();
    let mut base = snapshot();
    for r in base.rows.iter_mut().chain(std::iter::once(&mut base.total)) {
        r.percentiles_ms = r.percentiles_ms.map(|v| v / 2.0);
    }
    let run = swarm::report::saved::SavedRun {
        format: swarm::report::saved::FORMAT,
        swarm: "test".into(),
        name: None,
        host: "http://127.0.0.1:5000".into(),
        started_unix: 0.0,
        scenario: String::new(),
        verdicts: vec![],
        tags: vec![],
        stats: base,
    };
    app.baseline = Some(("runs/monday.hlog".into(), Arc::new(run)));
    let wide = render(&app, 100, 30);
    assert!(
        wide.contains("base: p95 of runs/monday.hlog") && wide.contains("Δp95"),
        "{wide}"
    );
    assert!(wide.contains("+100%"), "p95 doubled: {wide}");
    assert!(wide.contains("dim: baseline runs/monday.hlog"), "{wide}");
    insta::assert_snapshot!("baseline_100x30", wide);
    let narrow = render(&app, 80, 24);
    assert!(!narrow.contains("Δp95"), "no room at 80 columns: {narrow}");
    assert!(narrow.contains("dim: baseline"), "{narrow}");
    insta::assert_snapshot!("baseline_80x24", narrow);
}

/// `[[users]]`: the endpoints view groups the tasks by type, each with its share and the
/// users of it running.
#[test]
fn endpoints_by_user_type_80x24() {
    let src = std::fs::read_to_string("scenarios/shop_users.toml").unwrap();
    let doc = ScenarioDoc::from_text(&src, Some("scenarios/shop_users.toml".into())).unwrap();
    let plan = doc.plan().unwrap();
    let mut app = App::new(doc, &plan, Theme { color: false });
    let mut snap = snapshot();
    snap.user_types = [("visitor", 88), ("buyer", 10), ("admin", 2)]
        .map(|(name, users)| swarm::stats::TypeCount {
            name: name.into(),
            users,
            peak: users,
        })
        .to_vec();
    app.set_snapshot(Arc::new(snap));
    update(&mut app, Action::Show(View::Endpoints));
    let screen = render(&app, 80, 24);
    for needle in [
        "Endpoints by user type (3)",
        "88 running",
        "exactly 2",
        "flow buy",
        "press t",
    ] {
        assert!(screen.contains(needle), "no {needle:?} in\n{screen}");
    }
    insta::assert_snapshot!(screen);
}

/// After the stop each row shows the run's average rates (the last seconds' would read
/// 0.0 beside the header's average), the header of the column says so, and a row with no
/// timed request shows "-" for its times, not 0.00, at 80x24 and 200x50.
#[test]
fn a_stopped_run_shows_its_averages_and_no_times_where_none_were_measured() {
    let mut app = app();
    let mut snap = snapshot();
    snap.state = RunState::Stopped;
    for r in snap.rows.iter_mut().chain([&mut snap.total]) {
        r.current_rps = 0.0;
        r.current_fps = 0.0;
    }
    let mut never = row("never answered", "GET", 3, 3, 1.0);
    (never.timed, never.max_ms, never.total_rps) = (0, 0.0, 0.05);
    snap.rows.push(never);
    app.set_snapshot(Arc::new(snap));
    for (w, h) in [(80, 24), (200, 50)] {
        let screen = render(&app, w, h);
        assert!(
            screen.contains("avg r/s") && screen.contains("avg f/s"),
            "{screen}"
        );
        let list = screen.lines().find(|l| l.contains("list tests")).unwrap();
        assert!(list.contains("199.1"), "12 345 requests over 62 s: {list}");
        let none = screen
            .lines()
            .find(|l| l.contains("never"))
            .unwrap_or_else(|| panic!("{screen}"));
        assert!(!none.contains("0.00") && none.contains(" - "), "{none}");
    }
}

/// At 80x24 the header gives way in order: the scenario's name first, then the host;
/// the clock, the state and the thresholds verdict always show (the clock was cut to
/// "0:11/0:3" and the verdict dropped).
#[test]
fn the_header_keeps_the_clock_and_the_verdict_at_80_columns() {
    let src = SCENARIO
        .replace(
            "Testing types API",
            "A scenario whose name is far too long for eighty columns",
        )
        .replace(
            "http://127.0.0.1:5000",
            "http://a-rather-long-host-name.internal.example:5000",
        );
    let app = failures_with_thresholds(&src);
    for width in [80, 200] {
        let screen = render(&app, width, 24);
        let mut lines = screen.lines();
        let (first, second) = (lines.next().unwrap(), lines.next().unwrap());
        assert!(first.ends_with("thresholds ✗ 1/2 (view 3)"), "{screen}");
        assert!(first.contains("a-rather-long-host-name"), "{screen}");
        assert!(second.starts_with("● running  1:02/2:00"), "{screen}");
        if width == 200 {
            assert!(
                first.contains("far too long for eighty columns"),
                "{screen}"
            );
        }
    }
}

/// At 80x24 the charts view shows two charts tall enough to read (three were two rows
/// each), and its req/s is the header's, written alike; at 120x40 the users chart is back.
#[test]
fn small_charts_are_fewer_and_taller_and_agree_with_the_header() {
    let screen = screen(&[Action::Show(View::Charts)], 80, 24);
    let header_rps = screen
        .lines()
        .nth(1)
        .unwrap()
        .split("req/s ")
        .nth(1)
        .unwrap();
    let header_rps = header_rps.split_whitespace().next().unwrap();
    assert!(screen.contains(&format!("req/s {header_rps} ")), "{screen}");
    assert!(!screen.contains(" Users "), "{screen}");
    let plot_rows = screen
        .lines()
        .filter(|l| l.starts_with("│") && l.contains("│ "))
        .count();
    assert!(plot_rows >= 8, "{screen}");
    assert!(screen_with_users(), "the users chart at 120x40");
}

fn screen_with_users() -> bool {
    screen(&[Action::Show(View::Charts)], 120, 40).contains(" Users ")
}

/// Names in Japanese or with an emoji take two columns a character: the text report's
/// tables are cut and padded by columns, so every line of a table is as wide as its
/// header (a char count had pushed such a row 8 columns out of line).
#[test]
fn the_text_report_keeps_its_columns_with_wide_names() {
    let mut snap = snapshot();
    snap.rows[0].name = "商品一覧を取得する長い名前のエンドポイント".into();
    snap.rows[1].name = "🚀 add 🚀".into();
    let report = swarm::report::text::render(&snap, "t", 80);
    let width = unicode_width::UnicodeWidthStr::width;
    let mut tables = 0;
    for table in report.split("\n\n") {
        let lines: Vec<&str> = table.lines().collect();
        let Some(rule) = lines.iter().position(|l| l.starts_with("----")) else {
            continue;
        };
        tables += 1;
        let header = width(lines[rule - 1]);
        for line in &lines[rule - 1..] {
            assert_eq!(width(line), header, "{line:?} in\n{report}");
        }
    }
    assert!(tables >= 2, "{report}");
    assert!(report.contains("商品一覧を"), "{report}");
}
