//! `swarm new FILE` (and `swarm run FILE` for a file that does not exist yet): the TUI
//! asks for the host and writes the scenario.

use super::headless_output;
use crate::cli::{LoadArgs, OutputArgs};
use crate::run::{Front, Run, Steer};
use crate::scenario::{Plan, ScenarioDoc};
use crate::stats::RunState;
use crate::tui::{self, Launch};
use std::io::IsTerminal;
use std::path::PathBuf;

pub(super) async fn new_scenario(
    path: PathBuf,
    load: &LoadArgs,
    output: &OutputArgs,
) -> anyhow::Result<i32> {
    if !std::io::stdout().is_terminal() {
        anyhow::bail!(
            "{} does not exist; swarm new needs a terminal to write a scenario",
            path.display()
        );
    }
    let mut plan = Plan::default();
    (plan.load.users, plan.load.spawn_rate) = (10, 2.0);
    load.apply(&mut plan).map_err(anyhow::Error::msg)?;
    let doc = ScenarioDoc::new_scenario(Some(path), "", &plan.load);
    let launch = Launch {
        doc,
        plan: plan.clone(),
        autostart: false,
        ask_host: true,
        baseline: None,
        detachable: None,
        detach_on_hangup: false,
    };
    let out = headless_output(output, Some(String::new()));
    let run = Run::start(&plan, &out, Front::Tui).await?;
    tui::run(launch, &run).await?;
    if run.snapshots().borrow().state == RunState::Idle {
        // Writing a scenario without running it is what `swarm new` is for.
        run.abandon(&out).await;
        return Ok(0);
    }
    run.finish(&plan, &out, None).await
}

/// `swarm new FILE`: a scenario that does not exist yet, written in the TUI.
pub(super) async fn new(file: PathBuf) -> anyhow::Result<i32> {
    if file.exists() {
        anyhow::bail!(
            "{} exists already; open it with swarm run {}",
            file.display(),
            file.display()
        );
    }
    new_scenario(file, &LoadArgs::default(), &OutputArgs::default()).await
}
