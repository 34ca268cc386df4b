//! How a run ends, whichever front-end drove it: the text report on standard output, every
//! report file asked for (JSON, CSV, HTML, JUnit, the saved run), and the exit code from
//! the thresholds, the failures and what went missing (a lost worker, a run that sent no
//! request). `Output` is what was asked for.

pub use crate::report::About;
use crate::report::csv::{self, CsvReport};
use crate::report::saved::{RunLog, SavedRun};
use crate::report::{html, json, junit, text};
use crate::scenario::Plan;
use crate::scenario::threshold::check_all;
use crate::stats::Snapshot;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

/// What to do with the result of a headless run.
#[derive(Debug, Clone, Default)]
pub struct Output {
    pub json: Option<PathBuf>,
    /// `--csv PREFIX`, and whether every row goes into the history (`--csv-full-history`).
    pub csv: Option<(PathBuf, bool)>,
    /// `--junit FILE`.
    pub junit: Option<PathBuf>,
    /// `--html FILE`.
    pub html: Option<PathBuf>,
    /// `--save-run FILE`.
    pub save_run: Option<PathBuf>,
    /// `--baseline RUN`: its path as given, and the run.
    pub baseline: Option<(String, Arc<SavedRun>)>,
    /// `--prometheus ADDR`, and how long to serve after the run.
    pub prometheus: Option<(String, Duration)>,
    /// The scenario text that runs, for the saved run and the HTML report.
    pub scenario: String,
    /// Exit code when requests failed (Locust's `--exit-code-on-error`).
    pub exit_code_on_error: i32,
    /// Terminal width for the report; 80 when unknown.
    pub width: usize,
    /// `--workers N`: the run is a distributed one's controller.
    pub distributed: Option<crate::cluster::controller::Config>,
    /// `--quiet` / `--only-summary`: no progress lines.
    pub quiet: bool,
    /// `--reset-stats`: the statistics start again once every user has started.
    pub reset_stats: bool,
    /// `--control ADDR` and its token (every run serves its Unix socket).
    pub control: super::control::Config,
}

impl Output {
    /// Every file the output writes, with the flag that names it.
    pub fn files(&self) -> impl Iterator<Item = (&'static str, PathBuf)> + '_ {
        let csv = self.csv.iter().flat_map(|(p, _)| {
            let ours = [csv::streams_path(p), csv::websocket_path(p)];
            csv::paths(p).into_iter().chain(ours)
        });
        (self.json.iter().cloned().map(|p| ("--json", p)))
            .chain(csv.map(|p| ("--csv", p)))
            .chain(self.junit.iter().cloned().map(|p| ("--junit", p)))
            .chain(self.html.iter().cloned().map(|p| ("--html", p)))
            .chain(self.save_run.iter().cloned().map(|p| ("--save-run", p)))
    }
}

/// Prints the text report and writes every report file asked for.
pub(crate) fn write_reports(
    about: &About,
    last: &Snapshot,
    verdicts: &[crate::scenario::threshold::Verdict],
    out: &Output,
    csv: Option<CsvReport>,
) -> anyhow::Result<()> {
    let label = format!("{} ({})", about.name.unwrap_or("scenario"), about.host);
    let title = format!("swarm report: {label}");
    let mut report = text::render(last, &title, out.width) + &text::thresholds(verdicts, out.width);
    if let Some((path, base)) = &out.baseline {
        let _ = std::fmt::Write::write_fmt(
            &mut report,
            format_args!(
                "\nCompared with the baseline {path} ({}, started {})\n",
                base.title(),
                csv::utc(base.started())
            ),
        );
        report += &crate::compare::table(&base.stats, last, &[], out.width).0;
    }
    crate::fsutil::print_report(&report, out.json.as_deref());
    if let Some(path) = &out.json {
        let doc = json::to_json(last, about.name, about.host, verdicts);
        crate::fsutil::write_output(path, doc.as_bytes()).map_err(anyhow::Error::msg)?;
    }
    if let Some(mut c) = csv {
        c.finish(last).map_err(anyhow::Error::msg)?;
    }
    if let Some(path) = &out.html {
        let page = html::render(about, last, verdicts, None);
        crate::fsutil::write_output(path, page.as_bytes()).map_err(anyhow::Error::msg)?;
    }
    if let Some(path) = &out.junit {
        let suite = format!("swarm: {label}");
        let doc = junit::render(last, &suite, verdicts, &csv::utc(about.started));
        crate::fsutil::write_output(path, doc.as_bytes()).map_err(anyhow::Error::msg)?;
    }
    Ok(())
}

/// Prints the report and writes the report files (the CSV's from `csv`, the saved run into
/// its log); returns the exit code.
pub fn finish(
    plan: &Plan,
    last: &Snapshot,
    out: &Output,
    csv: Option<CsvReport>,
    (saved, started): (Option<RunLog>, std::time::SystemTime),
) -> anyhow::Result<i32> {
    let verdicts = check_all(&plan.thresholds, last);
    let scenario = out.scenario.as_str();
    let command = crate::report::command_line();
    let about = About {
        name: plan.name.as_deref(),
        host: &plan.host,
        started,
        scenario,
        command: &command,
    };
    write_reports(&about, last, &verdicts, out, csv)?;
    if let (Some(log), Some(path)) = (saved, &out.save_run) {
        let run = SavedRun::of(plan, last, &verdicts, started, scenario);
        log.finish(run).map_err(anyhow::Error::msg)?;
        eprintln!(
            "swarm: saved the run to {} (swarm report {0}; swarm compare BASE {0})",
            path.display()
        );
    }
    Ok(exit_code(last, &verdicts, out.exit_code_on_error))
}

/// The exit code a run ended with, said on standard error when it is not what the
/// thresholds and failures alone would give: 3 when workers were lost or never joined,
/// 1 when no request was sent, a threshold failed or the server answered none,
/// `exit_code_on_error` when requests failed, else 0.
fn exit_code(
    last: &Snapshot,
    verdicts: &[crate::scenario::threshold::Verdict],
    exit_code_on_error: i32,
) -> i32 {
    if let Some(lost) = last.worker_lost.as_ref().filter(|_| last.degraded) {
        eprintln!("swarm: degraded run: {lost}; the other workers carried its share");
    }
    if last.total.requests == 0 {
        // A run that did nothing must not pass a CI gate as one that did.
        let why = match &last.worker_lost {
            Some(lost) => lost.clone(),
            None if last.workers_wanted > 0 => {
                let joined = last.joined_workers();
                format!(
                    "{joined} of {} workers joined before it was stopped",
                    last.workers_wanted
                )
            }
            None => "it was stopped before any user sent one".into(),
        };
        eprintln!("swarm: the run sent no request: {why}");
        return if last.workers_wanted > 0 {
            crate::cluster::EXIT_WORKER_LOST
        } else {
            1
        };
    }
    if let Some(lost) = last.worker_lost.as_ref().filter(|_| !last.degraded) {
        eprintln!(
            "swarm: the run stopped early because {lost} (exit code {})",
            crate::cluster::EXIT_WORKER_LOST
        );
        return crate::cluster::EXIT_WORKER_LOST;
    }
    if last.all_interrupted() {
        eprintln!(
            "swarm: the server answered none of the {} requests before the run stopped (all cut in flight; see `interrupted` in the report)",
            last.total.requests
        );
    }
    if verdicts.iter().any(|v| !v.passed) || last.all_interrupted() {
        1
    } else if last.total.failures > 0 {
        exit_code_on_error
    } else {
        0
    }
}
