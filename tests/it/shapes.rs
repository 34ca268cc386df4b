//! Load shapes and the open model: stage timing under a paused clock, arrival-rate
//! accuracy, dropped iterations, and latency corrected for coordinated omission.

use crate::support::*;
use std::time::Duration;
use swarm::engine::{Command, Engine};
use swarm::stats::{RunState, Snapshot};

const NO_TRAFFIC: &str = r#"
host = "http://127.0.0.1:9"
[[endpoints]]
path = "/"
"#;

/// An engine whose only endpoint is disabled (weight 0, as the TUI's toggle does), so its
/// users run without any network and the paused clock decides everything.
fn quiet_engine(src: &str) -> Engine {
    let mut p = plan(src, "");
    p.endpoints[0].weight = 0;
    Engine::spawn(&p)
}

async fn at(engine: &Engine, t: Duration, since: tokio::time::Instant) -> Snapshot {
    tokio::time::sleep_until(since + t).await;
    // Let the control task run its wake-up for this instant.
    tokio::time::sleep(Duration::from_millis(1)).await;
    (**engine.snapshots().borrow()).clone()
}

#[tokio::test(start_paused = true)]
async fn stages_follow_their_durations_under_a_paused_clock() {
    let src = format!(
        "{NO_TRAFFIC}\n[load]\nspawn_rate = 100\n\
         [[load.stages]]\nusers = 4\nduration = \"10s\"\n\
         [[load.stages]]\nusers = 8\nduration = \"10s\"\n\
         [[load.stages]]\nusers = 2\nduration = \"5s\"\n"
    );
    let engine = quiet_engine(&src);
    let t0 = tokio::time::Instant::now();
    engine.send(Command::Start);
    // Snapshots come every 250 ms, so each look is just after one.
    let s = at(&engine, Duration::from_millis(9_750), t0).await;
    assert_eq!((s.stage, s.users), (Some((1, 3)), 4), "{s:?}");
    let s = at(&engine, Duration::from_millis(10_250), t0).await;
    assert_eq!((s.stage, s.users), (Some((2, 3)), 8), "{s:?}");
    // Pausing the plan (at 10.251 s) holds stage 2 however long the pause lasts.
    engine.send(Command::PausePlan);
    let s = at(&engine, Duration::from_secs(60), t0).await;
    assert!(s.plan_paused);
    assert_eq!(
        (s.stage, s.users, s.state),
        (Some((2, 3)), 8, RunState::Running)
    );
    assert_eq!(s.stage_elapsed.as_millis(), 251);
    // Resumed at 60.001 s with 9.749 s of stage 2 left: it ends at 69.75 s.
    engine.send(Command::ResumePlan);
    let s = at(&engine, Duration::from_millis(69_500), t0).await;
    assert_eq!(s.stage, Some((2, 3)), "{s:?}");
    let s = at(&engine, Duration::from_millis(70_000), t0).await;
    assert_eq!((s.stage, s.users), (Some((3, 3)), 2), "{s:?}");
    // The run ends with the last stage: 25 s of plan plus the 49.75 s pause.
    let s = at(&engine, Duration::from_millis(74_500), t0).await;
    assert_eq!(s.state, RunState::Running);
    let s = at(&engine, Duration::from_millis(75_000), t0).await;
    assert_eq!(s.state, RunState::Stopped, "{s:?}");
}

#[tokio::test(start_paused = true)]
async fn the_run_clock_stops_while_paused_and_a_reset_does_not_move_it() {
    let src = format!(
        "{NO_TRAFFIC}\n[load]\nspawn_rate = 100\nrun_time = \"20s\"\n\
         [[load.stages]]\nusers = 4\nduration = \"20s\"\n"
    );
    let engine = quiet_engine(&src);
    let t0 = tokio::time::Instant::now();
    engine.send(Command::Start);
    let s = at(&engine, Duration::from_secs(5), t0).await;
    assert_eq!(s.run_clock.as_secs(), 5);
    engine.send(Command::PausePlan);
    let s = at(&engine, Duration::from_secs(30), t0).await;
    assert_eq!(s.run_clock.as_secs(), 5, "paused: the clock holds");
    // Statistics cover the whole run so far, pause included.
    assert_eq!(s.elapsed.as_secs(), 30);
    engine.send(Command::ResumePlan);
    let s = at(&engine, Duration::from_secs(35), t0).await;
    assert_eq!(s.run_clock.as_secs(), 10);
    engine.send(Command::ResetStats);
    let s = at(&engine, Duration::from_secs(40), t0).await;
    assert_eq!(
        s.run_clock.as_secs(),
        15,
        "a reset does not restart the run clock"
    );
    assert!(
        (s.elapsed.as_secs_f64() - 5.0).abs() < 0.01,
        "the statistics start again: {:?}",
        s.elapsed
    );
    // 20 s of run time plus the 25 s pause: the run ends at 45 s, not later.
    let s = at(&engine, Duration::from_millis(44_500), t0).await;
    assert_eq!(s.state, RunState::Running);
    let s = at(&engine, Duration::from_millis(45_300), t0).await;
    assert_eq!(s.state, RunState::Stopped, "{s:?}");
    assert_eq!(s.run_clock.as_secs(), 20);
}

#[tokio::test(start_paused = true)]
async fn a_ramp_down_is_not_called_spawning() {
    let src = format!("{NO_TRAFFIC}\n[load]\nusers = 6\nspawn_rate = 1\n");
    let engine = quiet_engine(&src);
    let t0 = tokio::time::Instant::now();
    engine.send(Command::Start);
    let s = at(&engine, Duration::from_secs(2), t0).await;
    assert_eq!(s.state_label(), "spawning");
    let s = at(&engine, Duration::from_secs(10), t0).await;
    assert_eq!((s.users, s.state_label()), (6, "running"));
    engine.send(Command::SetUsers(1));
    let s = at(&engine, Duration::from_secs(12), t0).await;
    assert_eq!(s.state_label(), "ramping down", "{s:?}");
}

#[tokio::test(start_paused = true)]
async fn moving_the_users_takes_manual_control() {
    let src = format!(
        "{NO_TRAFFIC}\n[load]\nspawn_rate = 100\nrun_time = \"1h\"\n\
         [[load.stages]]\nusers = 4\nduration = \"10s\"\n\
         [[load.stages]]\nusers = 8\nduration = \"10s\"\n"
    );
    let engine = quiet_engine(&src);
    let t0 = tokio::time::Instant::now();
    engine.send(Command::Start);
    at(&engine, Duration::from_secs(5), t0).await;
    engine.send(Command::SetUsers(6));
    let s = at(&engine, Duration::from_secs(30), t0).await;
    assert_eq!((s.stage, s.users), (None, 6));
}

#[tokio::test(start_paused = true)]
async fn arrival_rate_ramps_linearly_through_stages() {
    let src = format!(
        "{NO_TRAFFIC}\n[load]\narrival_rate = \"0/s\"\n\
         [[load.stages]]\narrival_rate = \"100/s\"\nduration = \"10s\"\n\
         [[load.stages]]\narrival_rate = \"100/s\"\nduration = \"5s\"\n"
    );
    let engine = quiet_engine(&src);
    let t0 = tokio::time::Instant::now();
    engine.send(Command::Start);
    // The ramp from 0 to 100/s over 10 s starts 500 iterations; then 100/s for 5 s.
    let s = at(&engine, Duration::from_secs(5), t0).await;
    let a = s.arrivals.clone().unwrap();
    assert!((a.scheduled as i64 - 125).abs() <= 1, "{a:?}");
    assert!((a.rate - 50.0).abs() < 1.0, "{a:?}");
    let s = at(&engine, Duration::from_secs(10), t0).await;
    let a = s.arrivals.clone().unwrap();
    assert!((a.scheduled as i64 - 500).abs() <= 2, "{a:?}");
    let s = at(&engine, Duration::from_millis(15_500), t0).await;
    let a = s.arrivals.clone().unwrap();
    assert_eq!(s.state, RunState::Stopped);
    assert!((a.scheduled as i64 - 1000).abs() <= 2, "{a:?}");
    assert_eq!(a.dropped, 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn arrival_rate_is_kept_whatever_the_response_times() {
    let server = CountingServer::start().await;
    // Responses take 0 to 60 ms at random, so a closed model's rate would wander.
    let src = r#"
host = "{host}"
[load]
arrival_rate = "200/s"
run_time = "3s"
[[endpoints]]
path = "/jitter/60"
"#;
    let engine = started(src, &server.url());
    let snap = until_stopped(&engine, Duration::from_secs(15)).await;
    let a = snap.arrivals.clone().unwrap();
    let expected = 600.0;
    let sent = server.count("/jitter/60") as f64;
    assert!(
        (sent - expected).abs() <= expected * 0.02,
        "server saw {sent} requests; 200/s for 3 s is 600 ± 2 %"
    );
    assert_eq!(snap.total.requests as f64, sent);
    assert_eq!(a.dropped, 0);
    // Concurrency follows the response times: about 200/s × 30 ms on average.
    assert!(
        snap.peak_users >= 3 && snap.peak_users < 100,
        "{}",
        snap.peak_users
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iterations_without_a_free_user_are_dropped_and_counted() {
    let server = CountingServer::start().await;
    // One user answering in 50 ms manages 20/s of the 100/s asked for.
    let src = r#"
host = "{host}"
[load]
arrival_rate = "100/s"
max_users = 1
queue_timeout = "100ms"
run_time = "2s"
[[endpoints]]
path = "/delay/50"
"#;
    let engine = started(src, &server.url());
    let snap = until_stopped(&engine, Duration::from_secs(15)).await;
    let a = snap.arrivals.clone().unwrap();
    assert_eq!(snap.peak_users, 1);
    assert!(
        (30..=45).contains(&snap.total.requests),
        "{}",
        snap.total.requests
    );
    assert!(a.dropped >= 140, "{a:?}");
    // Each scheduled iteration ran, was dropped, or was still waiting at the stop.
    let accounted = snap.total.requests + a.dropped;
    assert!(
        accounted <= a.scheduled && a.scheduled <= accounted + 11,
        "{a:?} requests {}",
        snap.total.requests
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stall_shows_in_corrected_latency_not_in_service_time() {
    let server = CountingServer::start().await;
    // Two users, 200 iterations/s: during a 1 s stall both are stuck and the iterations
    // scheduled meanwhile wait for them. Only the two stuck requests have a long service
    // time; every waiting iteration counts its wait in the corrected latency.
    let src = r#"
host = "{host}"
[load]
arrival_rate = "200/s"
max_users = 2
run_time = "3s"
[[endpoints]]
path = "/"
"#;
    let engine = started(src, &server.url());
    wait_for(&engine, Duration::from_secs(5), |s| {
        s.elapsed >= Duration::from_secs(1)
    })
    .await;
    server.stall_for(Duration::from_secs(1));
    let snap = until_stopped(&engine, Duration::from_secs(15)).await;
    let t = &snap.total;
    let corrected = t.corrected_ms.expect("open runs report corrected latency");
    let p99 = |v: [f64; 11]| v[7];
    // About 200 iterations waited up to 1 s: the slowest 1 % (6 of 600) waited at least
    // 1 s minus the 30 ms over which they were scheduled.
    assert!(p99(corrected) >= 950.0, "corrected {corrected:?}");
    // The first iteration due after the stall began (at most one 5 ms period after it)
    // waited for its end: at least 1 s minus that period.
    assert!(corrected[10] >= 995.0, "corrected max {corrected:?}");
    assert!(p99(t.percentiles_ms) < 100.0, "raw {:?}", t.percentiles_ms);
    assert!(
        t.max_ms >= 900.0,
        "the two stuck requests: raw max {}",
        t.max_ms
    );
    assert_eq!(snap.arrivals.as_ref().unwrap().dropped, 0);
    assert!((595..=605).contains(&t.requests), "{}", t.requests);
}

/// The spawn rate and the run time under tokio's paused clock: exact, whatever the
/// machine's load (the wall-clock versions in tests/timing keep a wide margin).
#[tokio::test(start_paused = true)]
async fn the_spawn_rate_and_the_run_time_hold_exactly_under_a_paused_clock() {
    let src = format!("{NO_TRAFFIC}\n[load]\nusers = 20\nspawn_rate = 10\nrun_time = \"5s\"\n");
    let engine = quiet_engine(&src);
    let t0 = tokio::time::Instant::now();
    engine.send(Command::Start);
    // Snapshots come every 250 ms. One user at once, then one every 100 ms: 13 by
    // 1.25 s (0, 100, ... 1200 ms), all 20 by 2 s (the last at 1.9 s).
    let s = at(&engine, Duration::from_millis(1_250), t0).await;
    assert_eq!((s.users, s.state), (13, RunState::Spawning), "{s:?}");
    let s = at(&engine, Duration::from_millis(1_750), t0).await;
    assert_eq!(s.users, 18, "{s:?}");
    let s = at(&engine, Duration::from_millis(2_000), t0).await;
    assert_eq!((s.users, s.state), (20, RunState::Running), "{s:?}");
    // Ramping down at 5/s removes the newest users, one every 200 ms from the command.
    engine.send(Command::SetSpawnRate(5.0));
    engine.send(Command::SetUsers(10));
    let s = at(&engine, Duration::from_millis(3_000), t0).await;
    assert_eq!(s.users, 15, "{s:?}");
    let s = at(&engine, Duration::from_millis(4_250), t0).await;
    assert_eq!((s.users, s.state), (10, RunState::Running), "{s:?}");
    // The run ends at its run time, to the millisecond.
    let s = at(&engine, Duration::from_millis(4_750), t0).await;
    assert_eq!(s.state, RunState::Running, "{s:?}");
    let s = at(&engine, Duration::from_millis(5_250), t0).await;
    assert_eq!(s.state, RunState::Stopped, "{s:?}");
    assert_eq!(s.run_clock.as_millis(), 5_000);
}

/// A distributed run's workers in this process: one engine per segment, each given the
/// controller's orders through the worker's own translation (`commands_for`).
struct Workers {
    segments: Vec<swarm::engine::share::Segment>,
    engines: Vec<Engine>,
    figures: Vec<swarm::cluster::worker::SwarmFigures>,
}

impl Workers {
    fn of(whole: &swarm::scenario::Plan, count: u32) -> Workers {
        let segments: Vec<_> = (0..count)
            .map(|index| swarm::engine::share::Segment { index, count })
            .collect();
        Workers {
            engines: segments
                .iter()
                .map(|s| Engine::spawn(&s.plan(whole)))
                .collect(),
            figures: vec![Default::default(); count as usize],
            segments,
        }
    }

    fn order(&mut self, what: swarm::cluster::proto::order::What) {
        for (i, e) in self.engines.iter().enumerate() {
            let cs = swarm::cluster::worker::commands_for(
                what.clone(),
                self.segments[i],
                &mut self.figures[i],
            );
            cs.into_iter().for_each(|c| e.send(c));
        }
    }

    /// The start instant, as each worker takes it.
    fn start(&self) {
        for (i, e) in self.engines.iter().enumerate() {
            for c in swarm::cluster::worker::start_commands(self.segments[i], &self.figures[i]) {
                e.send(c);
            }
        }
    }

    fn users(&self) -> u32 {
        self.engines
            .iter()
            .map(|e| e.snapshots().borrow().users)
            .sum()
    }
}

/// A distributed ramp adds up: three workers' engines, each given its orders as a worker
/// translates them, hold together exactly the users one process holds at every moment of
/// a ramp up and a ramp down (the workers start at one instant; each starts its users at
/// its place in the swarm's ramp, at a third of the rate).
#[tokio::test(start_paused = true)]
async fn three_workers_ramp_as_one_process_at_every_moment() {
    use swarm::cluster::proto::order::What;
    let src = format!("{NO_TRAFFIC}\n[load]\nusers = 1\nspawn_rate = 1\n");
    let mut whole = plan(&src, "");
    whole.endpoints[0].weight = 0;
    let one = Engine::spawn(&whole);
    let mut workers = Workers::of(&whole, 3);
    // What the controller sends before the start: the swarm's figures.
    workers.order(What::SetSpawnRate(4.0));
    workers.order(What::SetUsers(7));
    one.send(Command::SetSpawnRate(4.0));
    one.send(Command::SetUsers(7));
    let t0 = tokio::time::Instant::now();
    one.send(Command::Start);
    workers.start();
    let mut seen = std::collections::BTreeSet::new();
    // Up to 7 users at 4/s (one each 250 ms from 0), then down to 2 at 4/s; looked at
    // between the spawns, every 125 ms.
    for step in 0..40u64 {
        let t = Duration::from_millis(125 * step + 60);
        if step == 20 {
            workers.order(What::SetUsers(2));
            one.send(Command::SetUsers(2));
        }
        let s = at(&one, t, t0).await;
        assert_eq!(workers.users(), s.users, "at {t:?}");
        seen.insert(s.users);
    }
    assert!(
        (1..=7).all(|n| seen.contains(&n)),
        "the ramp went through every count: {seen:?}"
    );
    assert_eq!(one.snapshots().borrow().users, 2);
}

/// Striped arrivals: three workers at a third of the rate each take the swarm's
/// iterations 0, 3, 6, ..., 1, 4, 7, ... and 2, 5, 8, ...: together they have scheduled
/// what one process at the whole rate has, at every moment, through a steady rate and a
/// ramp of stages.
#[tokio::test(start_paused = true)]
async fn three_workers_arrivals_are_the_one_process_schedule() {
    let src = format!(
        "{NO_TRAFFIC}\n[load]\narrival_rate = 6.1\nmax_users = 50\n\
         [[load.stages]]\narrival_rate = 6.1\nduration = \"2s\"\n\
         [[load.stages]]\narrival_rate = 18.3\nduration = \"2s\"\n"
    );
    let mut whole = plan(&src, "");
    whole.endpoints[0].weight = 0;
    let one = Engine::spawn(&whole);
    let workers = Workers::of(&whole, 3);
    let t0 = tokio::time::Instant::now();
    one.send(Command::Start);
    workers.start();
    let scheduled = |e: &Engine| e.snapshots().borrow().arrivals.as_ref().unwrap().scheduled;
    // Snapshots come with the 250 ms ticks; the rates are chosen so that no arrival
    // falls on one.
    let mut last = 0;
    for step in 1..16u64 {
        let t = Duration::from_millis(250 * step);
        let s = at(&one, t, t0).await;
        let sum: u64 = workers.engines.iter().map(scheduled).sum();
        let whole = s.arrivals.as_ref().unwrap().scheduled;
        assert!(
            sum.abs_diff(whole) == 0,
            "at {t:?}: the workers scheduled {sum}, one process {whole}"
        );
        last = whole;
    }
    assert!(last > 30, "{last}");
}

/// The same through users stages: each worker follows the stages on its share, and moves
/// into each stage at its place in the swarm's ramp, so three workers hold one process's
/// users at every moment of 0 -> 5 -> 11 -> 3.
#[tokio::test(start_paused = true)]
async fn three_workers_follow_stages_as_one_process() {
    use swarm::cluster::proto::order::What;
    let src = format!(
        "{NO_TRAFFIC}\n[load]\nspawn_rate = 4\n\
         [[load.stages]]\nusers = 5\nduration = \"3s\"\n\
         [[load.stages]]\nusers = 11\nduration = \"3s\"\n\
         [[load.stages]]\nusers = 3\nduration = \"4s\"\n"
    );
    let mut whole = plan(&src, "");
    whole.endpoints[0].weight = 0;
    let one = Engine::spawn(&whole);
    let mut workers = Workers::of(&whole, 3);
    // The controller's orders before the start, as a worker takes them.
    workers.order(What::SetSpawnRate(4.0));
    workers.order(What::SetUsers(whole.load.users));
    let t0 = tokio::time::Instant::now();
    one.send(Command::Start);
    workers.start();
    let mut seen = std::collections::BTreeSet::new();
    for step in 0..76u64 {
        let t = Duration::from_millis(125 * step + 60);
        let s = at(&one, t, t0).await;
        assert_eq!(workers.users(), s.users, "at {t:?}");
        seen.insert(s.users);
    }
    assert!(
        (3..=11).all(|n| seen.contains(&n)),
        "every count on the way: {seen:?}"
    );
}
