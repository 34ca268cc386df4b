//! `swarm find-capacity`: the search's settings from the command line, run without a
//! terminal UI.

use super::run::{distributed, refuse_host_in_url_mode};
use super::{check_outputs, explain};
use crate::capacity::SearchConfig;
use crate::cli::{CapacityArgs, is_url, url_hint};
use crate::scenario::Plan;
use std::path::Path;

pub(super) async fn find_capacity(args: CapacityArgs) -> anyhow::Result<i32> {
    let mut plan = if is_url(&args.target) {
        refuse_host_in_url_mode(args.host.as_deref())?;
        Plan::for_url(&args.target)?
    } else if let Some(url) = url_hint(&args.target) {
        anyhow::bail!(
            "{} is not a scenario file; did you mean {url}?",
            args.target
        );
    } else {
        Plan::load_with_host(Path::new(&args.target), args.host.as_deref()).map_err(explain)?
    };
    if plan.load.is_open() {
        anyhow::bail!(
            "{}: find-capacity steps the number of users (closed model); remove arrival_rate from [load]",
            args.target
        );
    }
    if let Some(r) = args.spawn_rate {
        plan.load.spawn_rate = r;
    }
    refuse_what_it_would_not_honour(&args, &plan)?;
    let cfg = SearchConfig {
        start: args.start,
        step: args.step,
        hold: args.hold,
        settle: args.settle,
        limit: args.max_users,
    };
    check_outputs(
        (args.json.iter().map(|p| ("--json", p.clone())))
            .chain(args.html.iter().map(|p| ("--html", p.clone()))),
    )?;
    let text = if is_url(&args.target) {
        Plan::url_scenario(&args.target, &crate::scenario::UrlRequest::default())
    } else {
        std::fs::read_to_string(&args.target).unwrap_or_default()
    };
    let distributed = distributed(&args.dist, &plan, &text, &args.target)?;
    crate::run::capacity::search(
        &plan,
        cfg,
        args.slo,
        (args.json.as_deref(), args.html.as_deref()),
        &text,
        distributed,
    )
    .await
}

/// Settings the search would not honour, refused before it starts: an SLO on a stream's
/// time where nothing streams (never measured, so "broken" at every step), a first step
/// above `--max-users` (it was tried anyway), a step held 0 s.
fn refuse_what_it_would_not_honour(args: &CapacityArgs, plan: &Plan) -> anyhow::Result<()> {
    if let Some((t, why)) = args
        .slo
        .iter()
        .find_map(|t| Some((t, plan.unmeasurable(t)?)))
    {
        anyhow::bail!("--slo {}: {why}", t.text);
    }
    if args.start > args.max_users {
        anyhow::bail!(
            "--start {} is above --max-users {}: the search would try more users than it may",
            args.start,
            args.max_users
        );
    }
    if args.hold.is_zero() {
        anyhow::bail!("--hold 0s measures nothing; give each step time to measure, e.g. 20s");
    }
    Ok(())
}
