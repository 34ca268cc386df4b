//! Unit tests of `aggregate`.
use super::*;
use crate::stats::{Delta, Sample};

/// A successful request of `us` µs on `row`.
fn ok(row: usize, us: u64) -> Sample {
    Sample {
        row,
        latency_us: us,
        status: Some(200),
        bytes: 0,
        failure: None,
        corrected_us: None,
        resent: false,
    }
}

#[test]
fn exact_counts_and_percentiles() {
    let t0 = Instant::now();
    let shards = Shards::new(4);
    let mut stats = Stats::new(t0);
    let row = stats.row_for("GET", "/a");
    for i in 0..1000u64 {
        let failure = (i % 10 == 0).then_some(FailureKind::Status(500));
        let status = Some(if failure.is_some() { 500 } else { 200 });
        let s = Sample {
            row,
            latency_us: (i + 1) * 1000,
            status,
            bytes: 10,
            failure,
            corrected_us: None,
            resent: false,
        };
        shards.recorder(i).record(s, || "boom".into());
    }
    stats.drain(&shards, t0 + Duration::from_secs(1), 5);
    let mut snap = Snapshot::default();
    stats.fill(&mut snap, Duration::from_secs(10), t0);
    let r = &snap.rows[0];
    assert_eq!((r.requests, r.failures), (1000, 100));
    assert_eq!(r.min_ms, 1.0);
    assert_eq!(r.max_ms, 1000.0);
    assert!((r.median_ms() - 500.0).abs() < 1.0, "{}", r.median_ms());
    assert!((r.avg_ms - 500.5).abs() < 0.01);
    assert_eq!(r.total_rps, 100.0);
    assert_eq!(r.statuses, vec![(200, 900), (500, 100)]);
    assert_eq!(snap.total.requests, 1000);
    assert_eq!(snap.failures.len(), 1);
    assert_eq!(snap.failures[0].count, 100);
    assert_eq!(snap.failures[0].message, "boom");
    assert_eq!(snap.history.len(), 1);
    assert_eq!(snap.history[0].users, 5);
    let dist = &snap.rows[0].distribution;
    assert_eq!(dist.len(), DISTRIBUTION_BUCKETS);
    assert_eq!(dist.iter().map(|b| b.1).sum::<u64>(), 1000);
    assert!((dist.last().unwrap().0 - 1000.0).abs() < 1.0);
}

#[test]
fn no_percentile_is_above_the_maximum() {
    let t0 = Instant::now();
    let shards = Shards::new(1);
    let mut stats = Stats::new(t0);
    let row = stats.row_for("GET", "/");
    // HDR keeps 3 significant figures: 123 457 µs falls in a bucket whose upper
    // bound is above it.
    for us in [1_000, 123_457] {
        shards.recorder(0).record(ok(row, us), String::new);
    }
    stats.drain(&shards, t0 + Duration::from_secs(1), 1);
    let mut snap = Snapshot::default();
    stats.fill(&mut snap, Duration::from_secs(1), t0);
    let r = &snap.rows[0];
    assert_eq!(r.max_ms, 123.457);
    for p in r.percentiles_ms {
        assert!(p <= r.max_ms, "{p} > max {}", r.max_ms);
    }
    assert_eq!(r.percentiles_ms[9], 123.457, "p99.99 is the max itself");
}

#[test]
fn current_rate_falls_to_zero() {
    let t0 = Instant::now();
    let shards = Shards::new(1);
    let mut stats = Stats::new(t0);
    let row = stats.row_for("GET", "/");
    let rec = shards.recorder(0);
    for tick in 1..=8u64 {
        for _ in 0..25 {
            rec.record(ok(row, 5), String::new);
        }
        stats.drain(&shards, t0 + Duration::from_millis(250 * tick), 1);
    }
    let mut snap = Snapshot::default();
    stats.fill(&mut snap, Duration::from_secs(2), t0);
    assert!(
        (snap.total.current_rps - 100.0).abs() < 1.0,
        "{}",
        snap.total.current_rps
    );
    for tick in 9..=20u64 {
        stats.drain(&shards, t0 + Duration::from_millis(250 * tick), 1);
    }
    stats.fill(&mut snap, Duration::from_secs(5), t0);
    assert_eq!(snap.total.current_rps, 0.0);
}

/// A row that appears while the run goes on (an endpoint edited in) has its own rate
/// from its first request: the window's older samples, taken before it existed, count 0
/// for it (they used to be read at the total's place: a rate in the millions, and in a
/// debug build a subtraction overflow that took a worker process down).
#[test]
fn a_row_added_during_the_run_has_its_own_current_rate() {
    let t0 = Instant::now();
    let shards = Shards::new(1);
    let mut stats = Stats::new(t0);
    let first = stats.row_for("GET", "/");
    let rec = shards.recorder(0);
    let mut second = None;
    for tick in 1..=8u64 {
        for _ in 0..25 {
            rec.record(ok(first, 5), String::new);
        }
        if tick >= 5 {
            let row = *second.get_or_insert_with(|| stats.row_for("GET", "/new"));
            for _ in 0..10 {
                rec.record(ok(row, 5), String::new);
            }
        }
        stats.drain(&shards, t0 + Duration::from_millis(250 * tick), 1);
    }
    let mut snap = Snapshot::default();
    stats.fill(&mut snap, Duration::from_secs(2), t0);
    let new = &snap.rows[1];
    assert_eq!(new.requests, 40);
    assert!(
        new.current_rps > 0.0 && new.current_rps <= 40.0 / 1.75 + 1.0,
        "{}",
        new.current_rps
    );
    assert!((snap.total.current_rps - snap.rows[0].current_rps - new.current_rps).abs() < 1.0);
}

/// A worker's deltas, as its engine takes them: `n` requests of `us` each.
fn worker_delta(worker: &mut Stats, shards: &Arc<Shards>, n: u64, us: u64, at: Instant) -> Delta {
    let row = worker.row_for("GET", "/");
    for _ in 0..n {
        shards.recorder(0).record(ok(row, us), String::new);
    }
    let mut d = Delta::default();
    shards.drain(|shard| d = Delta::take(shard, &worker.row_keys()));
    d.window = worker.window_tag(at);
    worker.apply(&d, at, 1);
    d
}

#[test]
fn a_controller_window_takes_only_what_was_recorded_inside_it() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let (shards, mut worker, mut ctl) = (Shards::new(1), Stats::new(t0), Stats::new(t0));
    // Recorded before the mark, arriving after it: the whole run has it, the window not.
    let before = worker_delta(&mut worker, &shards, 7, 9_000, at(100));
    ctl.mark_window(&Shards::new(1), at(150), 1, None);
    let id = ctl.window_id().unwrap();
    ctl.apply_owned(before, at(200), 1);
    worker.mark_window(&shards, at(210), 1, Some(id));
    let inside = worker_delta(&mut worker, &shards, 40, 1_000, at(710));
    assert_eq!(inside.window.unwrap().id, id);
    assert_eq!(inside.window.unwrap().elapsed_us, 500_000);
    ctl.apply_owned(inside, at(720), 1);
    ctl.set_window_coverage(Duration::from_millis(500), 80.0);
    let mut snap = Snapshot::default();
    ctl.fill(&mut snap, Duration::from_secs(1), at(720));
    assert_eq!(snap.total.requests, 47);
    let w = snap.window.take().unwrap();
    assert_eq!(w.total.requests, 40);
    assert_eq!(
        w.total.max_ms, 1.0,
        "the 9 ms requests came before the mark"
    );
    assert_eq!(
        (w.elapsed, w.total.total_rps),
        (Duration::from_millis(500), 80.0)
    );
    // The worker's own window agrees.
    worker.fill(&mut snap, Duration::from_secs(1), at(710));
    assert_eq!(snap.window.unwrap().total.requests, 40);
}

/// The one-pass percentiles are value_at_quantile's, one by one.
#[test]
fn one_pass_percentiles_are_the_quantiles() {
    let mut rng = fastrand::Rng::with_seed(3);
    for _ in 0..50 {
        let mut h = new_histogram();
        let top = 10u64.pow(rng.u32(1..8));
        for _ in 0..rng.usize(1..500) {
            h.record(rng.u64(1..top)).unwrap();
        }
        let one: Vec<u64> = h.value_at_quantiles(PERCENTILES).collect();
        let each: Vec<u64> = PERCENTILES
            .iter()
            .map(|&q| h.value_at_quantile(q))
            .collect();
        assert_eq!(one, each);
    }
}

/// A controller's history: with its seconds half a second behind the run's, each
/// point holds the report every worker sent just after that second of the run.
#[test]
fn a_lagging_second_takes_every_workers_report_of_it() {
    let t0 = Instant::now();
    let at = |ms| t0 + Duration::from_millis(ms);
    let mut ctl = Stats::new(t0);
    ctl.lag_seconds(Duration::from_millis(500));
    let workers: Vec<(Arc<Shards>, Stats)> =
        (0..2).map(|_| (Shards::new(1), Stats::new(t0))).collect();
    let mut workers = workers;
    // Second k of the run: worker 0 sends 10 + k requests, worker 1 20 + k, each
    // just after the second ends (a few ms apart).
    for k in 0..3u64 {
        for (w, (shards, stats)) in workers.iter_mut().enumerate() {
            let n = 10 * (w as u64 + 1) + k;
            let sent = 1000 * (k + 1) + 3 * w as u64;
            let d = worker_delta(stats, shards, n, 1_000, at(sent));
            ctl.apply_owned(d, at(sent + 2), 2);
        }
    }
    let mut snap = Snapshot::default();
    ctl.fill(&mut snap, Duration::from_secs(3), at(3_010));
    let points: Vec<(f64, f64)> = snap.history.iter().map(|p| (p.t, p.rps)).collect();
    assert_eq!(points.len(), 2, "{points:?}");
    assert_eq!(points[0].0, 0.0);
    assert_eq!(points[1].0, 1.0);
    // 30 requests over its second, then 32 (the third is still open).
    assert!((points[0].1 - 30.0).abs() < 0.5, "{points:?}");
    assert!((points[1].1 - 32.0).abs() < 0.5, "{points:?}");
}
