//! `swarm report` and `swarm compare`: a saved run's reports, and two saved runs side by
//! side.

use super::{check_outputs, report_width};
use crate::cli::{CompareArgs, ReportArgs};
use crate::report::saved;
use crate::run::finish::Output;

/// `swarm report RUN`: a saved run's reports, as they were at the end of its run.
pub(super) fn report(args: &ReportArgs) -> anyhow::Result<i32> {
    let run = saved::read(&args.run).map_err(anyhow::Error::msg)?;
    let out = Output {
        json: args.json.clone(),
        csv: args.csv.clone().map(|p| (p, false)),
        junit: args.junit.clone(),
        html: args.html.clone(),
        width: report_width(),
        ..Output::default()
    };
    check_outputs(out.files())?;
    let csv = match &args.csv {
        Some(prefix) => Some(
            crate::report::csv::CsvReport::create_at(prefix, false, run.started())
                .map_err(anyhow::Error::msg)?,
        ),
        None => None,
    };
    let about = crate::run::finish::About {
        name: run.name.as_deref(),
        host: &run.host,
        started: run.started(),
        scenario: &run.scenario,
        command: "",
    };
    crate::run::finish::write_reports(&about, &run.stats, &run.verdicts, &out, csv)?;
    Ok(0)
}

/// `swarm compare BASE NEW`: exit 1 when a `--fail-if` limit breaks.
pub(super) fn compare(args: &CompareArgs) -> anyhow::Result<i32> {
    let base = saved::read(&args.base).map_err(anyhow::Error::msg)?;
    let new = saved::read(&args.new).map_err(anyhow::Error::msg)?;
    let (text, held) = crate::compare::render(
        (&args.base.display().to_string(), &base),
        (&args.new.display().to_string(), &new),
        &args.fail_if,
        report_width(),
    );
    print!("{text}");
    Ok(if held { 0 } else { 1 })
}
