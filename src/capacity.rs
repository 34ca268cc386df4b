//! Capacity search: raise the users step by step, hold each step long enough for stable
//! figures, and stop when the SLO breaks. The answer is the knee: the largest user count
//! and req/s that still met the SLO.
//!
//! `Search` is a state machine fed with snapshots and the time; it answers with engine
//! commands. The headless runner here drives it, and so can the TUI.

use crate::engine::Command;
use crate::fmt::{self as format, plural};
use crate::scenario::format_duration;
use crate::scenario::threshold::{self, Threshold, Verdict, check_all};
use crate::stats::{RunState, Snapshot, WindowStats};
use serde::Serialize;
use std::fmt::Write;
use std::time::Duration;
use tokio::time::Instant;

/// How the users are stepped.
#[derive(Debug, Clone)]
pub struct SearchConfig {
    /// Users in the first step.
    pub start: u32,
    /// Users added per step.
    pub step: u32,
    /// How long each step is measured.
    pub hold: Duration,
    /// How long each step runs, once all its users are up, before it is measured: the
    /// warm-up of the step, left out of its figures.
    pub settle: Duration,
    /// The most users tried.
    pub limit: u32,
}

impl Default for SearchConfig {
    fn default() -> Self {
        SearchConfig {
            start: 10,
            step: 10,
            hold: Duration::from_secs(20),
            settle: Duration::from_secs(5),
            limit: 10_000,
        }
    }
}

/// The generator's timer coming this late (ms) means swarm itself is short of CPU.
const GENERATOR_LAG_MS: f64 = 100.0;

/// Parses `--slo "p95<450ms,fail<1%"`: threshold conditions on the whole run, comma
/// separated; `fail` is short for `fail_ratio`.
pub(crate) fn parse_slo(text: &str) -> Result<Vec<Threshold>, String> {
    let list: Vec<Threshold> = text
        .split(',')
        .filter(|part| !part.trim().is_empty())
        .map(|part| {
            let part = part.trim();
            let part = match part.strip_prefix("fail") {
                Some(rest) if !rest.starts_with('_') => format!("fail_ratio{rest}"),
                _ => part.to_string(),
            };
            threshold::parse_flag(&part)
        })
        .collect::<Result<_, _>>()?;
    if list.is_empty() {
        return Err("is empty; write conditions such as \"p95<450ms,fail<1%\"".into());
    }
    Ok(list)
}

/// One measured step.
#[derive(Debug, Clone, Serialize)]
pub struct Step {
    pub users: u32,
    pub requests: u64,
    pub rps: f64,
    pub p50_ms: f64,
    pub p95_ms: f64,
    pub p99_ms: f64,
    pub fail_ratio: f64,
    pub passed: bool,
    /// The step broke the SLO once and was measured again.
    pub remeasured: bool,
    pub verdicts: Vec<Verdict>,
}

/// What the search found.
#[derive(Debug, Clone, Serialize)]
pub struct Outcome {
    /// False while the search goes on (the TUI shows it as it runs).
    pub finished: bool,
    pub slo: Vec<String>,
    /// The largest user count that met the SLO; None when even the first step broke it.
    pub max_users: Option<u32>,
    /// The highest req/s among the steps that met the SLO.
    pub max_rps: Option<f64>,
    /// The user count at which the SLO broke (None when it never did).
    pub broken_at_users: Option<u32>,
    pub steps: Vec<Step>,
    /// Why the answer may not be the server's capacity.
    pub uncertain: Vec<String>,
    /// What else happened on the way (e.g. a breach that did not repeat).
    pub notes: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Phase {
    /// Waiting for the step's users to be up.
    Ramping,
    /// Users are up; measuring starts at this time.
    Settling(Instant),
    /// Measuring until this time.
    Measuring(Instant),
    Done,
}

pub struct Search {
    cfg: SearchConfig,
    slo: Vec<Threshold>,
    users: u32,
    phase: Phase,
    steps: Vec<Step>,
    /// The current step broke the SLO once and is being measured again.
    remeasuring: bool,
    broken_at: Option<u32>,
    uncertain: Vec<String>,
    notes: Vec<String>,
    /// A snapshot of this search's own run has come (spawning or running): until then a
    /// snapshot is the previous run's, whose "stopped" says nothing of this one.
    started: bool,
}

impl Search {
    pub fn new(cfg: SearchConfig, slo: Vec<Threshold>) -> Search {
        Search {
            users: cfg.start.max(1),
            cfg,
            slo,
            phase: Phase::Ramping,
            steps: Vec::new(),
            remeasuring: false,
            broken_at: None,
            uncertain: Vec::new(),
            notes: Vec::new(),
            started: false,
        }
    }

    /// The commands that start the search: a run without an end, at the first step's
    /// users (set again after the start, which leaves any load stages of the scenario).
    pub fn begin(&self) -> Vec<Command> {
        vec![
            Command::SetRunTime(None),
            Command::SetUsers(self.users),
            Command::Start,
            Command::SetUsers(self.users),
        ]
    }

    pub fn is_done(&self) -> bool {
        self.phase == Phase::Done
    }

    /// Users of the step in progress.
    pub fn users(&self) -> u32 {
        self.users
    }

    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// One line on where the search is.
    pub fn status(&self, now: Instant) -> String {
        match self.phase {
            Phase::Settling(until) | Phase::Measuring(until) => format!(
                "{} ({:.0}s left)",
                self.phase_label(),
                until.saturating_duration_since(now).as_secs_f64()
            ),
            _ => self.phase_label(),
        }
    }

    /// Where the search is, without the time left: it changes once per phase.
    pub(crate) fn phase_label(&self) -> String {
        let step = self.steps.len() + 1;
        match self.phase {
            Phase::Ramping => format!("step {step}: ramping to {}", plural(self.users, "user")),
            Phase::Settling(_) => format!("step {step}: {}, settling", plural(self.users, "user")),
            Phase::Measuring(_) => format!(
                "step {step}: {}, measuring{}",
                plural(self.users, "user"),
                if self.remeasuring { " again" } else { "" },
            ),
            Phase::Done => "capacity search done".into(),
        }
    }

    /// Something that makes the answer less certain, said beside it (a limit of this
    /// machine the search may meet before its own).
    pub(crate) fn note_uncertain(&mut self, why: String) {
        self.uncertain.push(why);
    }

    /// The search was cut short (Ctrl-C, or the run stopped).
    pub(crate) fn interrupt(&mut self, why: &str) {
        if self.phase != Phase::Done {
            self.uncertain.push(format!(
                "the search was {why} at {}, before the SLO broke",
                plural(self.users, "user")
            ));
            self.phase = Phase::Done;
        }
    }

    /// Moves the search on with the newest snapshot; returns commands for the engine.
    pub(crate) fn poll(&mut self, snap: &Snapshot, now: Instant) -> Vec<Command> {
        if !self.started {
            if !matches!(snap.state, RunState::Spawning | RunState::Running) {
                return vec![];
            }
            self.started = true;
        }
        if snap.state == RunState::Stopped && self.phase != Phase::Done {
            self.interrupt("stopped");
            return vec![];
        }
        match self.phase {
            Phase::Ramping if snap.users == self.users && snap.state == RunState::Running => {
                self.phase = Phase::Settling(now + self.cfg.settle);
                self.poll(snap, now)
            }
            Phase::Settling(until) if now >= until => {
                self.phase = Phase::Measuring(now + self.cfg.hold);
                vec![Command::MarkWindow]
            }
            Phase::Measuring(until) if now >= until => match &snap.window {
                // The snapshot must cover the whole hold (snapshots come every 250 ms).
                Some(w) if w.elapsed + Duration::from_millis(300) >= self.cfg.hold => {
                    let w = w.clone();
                    self.measured(&w, now)
                }
                _ => vec![],
            },
            _ => vec![],
        }
    }

    fn measured(&mut self, w: &WindowStats, now: Instant) -> Vec<Command> {
        let probe = Snapshot {
            total: w.total.clone(),
            ..Snapshot::default()
        };
        let verdicts = check_all(&self.slo, &probe);
        let passed = verdicts.iter().all(|v| v.passed);
        let t = &w.total;
        let step = Step {
            users: self.users,
            requests: t.requests,
            rps: round3(t.total_rps),
            p50_ms: round3(t.percentile_ms(0.5).unwrap_or(0.0)),
            p95_ms: round3(t.percentile_ms(0.95).unwrap_or(0.0)),
            p99_ms: round3(t.percentile_ms(0.99).unwrap_or(0.0)),
            fail_ratio: round3(t.fail_ratio()),
            passed,
            remeasured: self.remeasuring,
            verdicts,
        };
        self.check_generator(w);
        if !passed && !self.remeasuring {
            // A breach is confirmed by a second measurement of the same step, so a
            // warm-up spike or a passing hiccup does not end the search.
            self.remeasuring = true;
            self.phase = Phase::Measuring(now + self.cfg.hold);
            return vec![Command::MarkWindow];
        }
        if passed && self.remeasuring {
            let note = format!(
                "at {} the SLO broke once and held when measured again: a warm-up spike or noise, not the limit",
                plural(self.users, "user")
            );
            if !self.notes.contains(&note) {
                self.notes.push(note);
            }
        }
        self.remeasuring = false;
        self.steps.push(step);
        if !passed {
            self.broken_at = Some(self.users);
            self.phase = Phase::Done;
            return vec![Command::Stop];
        }
        let next = self.users.saturating_add(self.cfg.step.max(1));
        if next > self.cfg.limit {
            self.uncertain.push(format!(
                "the SLO still held at {}, the most this search tries (--max-users): the capacity is at least that",
                plural(self.users, "user")
            ));
            self.phase = Phase::Done;
            return vec![Command::Stop];
        }
        self.users = next;
        self.phase = Phase::Ramping;
        vec![Command::SetUsers(next)]
    }

    /// Notes when the figures may say more about swarm's machine than the server.
    fn check_generator(&mut self, w: &WindowStats) {
        if w.local_failures > 0 {
            let text = format!(
                "at {}, {} failed on swarm's own side (out of open files or local ports): the load generator's machine may be the limit, not the server",
                plural(self.users, "user"),
                plural(w.local_failures, "request")
            );
            self.uncertain.push(text);
        }
        let lag = w.max_tick_late_ms.max(w.think_late_p99_ms);
        if lag >= GENERATOR_LAG_MS {
            self.uncertain.push(format!(
                "at {} swarm itself lagged (its timers ran up to {} ms late): it was short of CPU, so its figures are suspect",
                plural(self.users, "user"),
                format::ms(lag)
            ));
        }
    }

    pub fn outcome(&self) -> Outcome {
        let passing = self.steps.iter().filter(|s| s.passed);
        let max_users = passing.clone().map(|s| s.users).max();
        let max_rps = passing.map(|s| s.rps).reduce(f64::max);
        let mut uncertain = self.uncertain.clone();
        if max_users.is_none() && self.broken_at.is_some() {
            uncertain.push(format!(
                "the SLO broke already at the first step ({}): start lower with --start",
                plural(self.cfg.start, "user")
            ));
        }
        Outcome {
            finished: self.phase == Phase::Done,
            slo: self.slo.iter().map(|t| t.text.clone()).collect(),
            max_users,
            max_rps,
            broken_at_users: self.broken_at,
            steps: self.steps.clone(),
            uncertain,
            notes: self.notes.clone(),
        }
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The end-of-search report: the step table, the answer, a chart, and doubts.
pub fn render(o: &Outcome, title: &str, cfg: &SearchConfig) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{title}");
    let _ = writeln!(
        out,
        "SLO: {}   steps of {} from {}, each measured {} after {} to settle\n",
        o.slo.join(", "),
        plural(cfg.step, "user"),
        cfg.start,
        format_duration(cfg.hold),
        format_duration(cfg.settle)
    );
    let _ = writeln!(
        out,
        "{:>7} {:>9} {:>8} {:>8} {:>8} {:>7}  SLO",
        "users", "req/s", "p50 ms", "p95 ms", "p99 ms", "fail"
    );
    let _ = writeln!(out, "{}", "-".repeat(60));
    for s in &o.steps {
        step_row(&mut out, s);
    }
    out.push('\n');
    answer(&mut out, o);
    chart(&mut out, o);
    for n in &o.notes {
        let _ = writeln!(out, "note: {n}");
    }
    for u in &o.uncertain {
        let _ = writeln!(out, "uncertain: {u}");
    }
    out
}

/// One step's row: its users, rate, percentiles, failures and what broke the SLO.
fn step_row(out: &mut String, s: &Step) {
    let verdict = if s.passed {
        "met".to_string()
    } else {
        let broken: Vec<String> = s
            .verdicts
            .iter()
            .filter(|v| !v.passed)
            .map(|v| match v.actual {
                Some(x) if v.threshold.starts_with("fail") => {
                    format!("{} ({:.2}%)", v.threshold, x * 100.0)
                }
                Some(x) if v.threshold.starts_with("rps") => {
                    format!("{} ({})", v.threshold, format::rate(x))
                }
                Some(x) => format!("{} ({} ms)", v.threshold, format::ms(x)),
                None => format!("{} (not measured)", v.threshold),
            })
            .collect();
        format!("broken: {}", broken.join(", "))
    };
    let _ = writeln!(
        out,
        "{:>7} {:>9} {:>8} {:>8} {:>8} {:>6.1}%  {verdict}{}",
        s.users,
        format::rate(s.rps),
        format::ms(s.p50_ms),
        format::ms(s.p95_ms),
        format::ms(s.p99_ms),
        s.fail_ratio * 100.0,
        if s.remeasured {
            " (measured twice)"
        } else {
            ""
        }
    );
}

/// The answer: the capacity found (or so far), and the step that broke the SLO.
fn answer(out: &mut String, o: &Outcome) {
    match (o.max_users, o.max_rps) {
        _ if !o.finished && o.steps.is_empty() => {}
        (Some(u), Some(r)) if !o.finished => {
            let _ = writeln!(
                out,
                "So far: {} and {} req/s met the SLO.",
                plural(u, "user"),
                format::rate(r)
            );
        }
        (Some(u), Some(r)) => {
            let _ = write!(
                out,
                "Capacity: {} and {} req/s met the SLO",
                plural(u, "user"),
                format::rate(r)
            );
            match o.broken_at_users {
                Some(b) => {
                    let _ = writeln!(out, "; {b} users broke it.");
                }
                None => out.push_str(".\n"),
            }
        }
        _ => out.push_str("Capacity: no step met the SLO.\n"),
    }
}

/// req/s per step as horizontal bars: █ met the SLO, ░ broke it.
fn chart(out: &mut String, o: &Outcome) {
    let top = o.steps.iter().map(|s| s.rps).fold(0.0, f64::max);
    if o.steps.is_empty() || top <= 0.0 {
        return;
    }
    let _ = writeln!(out, "\nreq/s by users (█ met the SLO, ░ broke it)");
    for s in &o.steps {
        let n = ((s.rps / top) * 50.0).round() as usize;
        let bar = if s.passed { "█" } else { "░" }.repeat(n.max(1));
        let _ = writeln!(out, "{:>7} │{bar:<50} {}", s.users, format::rate(s.rps));
    }
    out.push('\n');
}

/// The `--json` document: the outcome plus what was searched.
pub(crate) fn to_json(
    o: &Outcome,
    scenario: Option<&str>,
    host: &str,
    cfg: &SearchConfig,
) -> String {
    let doc = serde_json::json!({
        "scenario": scenario,
        "host": host,
        "slo": o.slo,
        "max_users": o.max_users,
        "max_rps": o.max_rps.map(|r| (r * 1000.0).round() / 1000.0),
        "broken_at_users": o.broken_at_users,
        "uncertain": o.uncertain,
        "notes": o.notes,
        "search": {
            "start": cfg.start,
            "step": cfg.step,
            "hold_s": cfg.hold.as_secs_f64(),
            "settle_s": cfg.settle.as_secs_f64(),
            "limit_users": cfg.limit,
        },
        "steps": o.steps,
    });
    serde_json::to_string_pretty(&doc).expect("outcome serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slo_text() {
        let slo = parse_slo("p95<450ms, fail<1%").unwrap();
        assert_eq!(slo.len(), 2);
        assert_eq!(slo[0].limit, 450.0);
        assert_eq!(slo[1].text, "fail_ratio<1%");
        assert_eq!(slo[1].limit, 0.01);
        assert!(parse_slo("").is_err());
        assert!(parse_slo("p95 450ms").is_err());
    }
}
