//! `swarm demo`: the built-in demo API, and the demo scenario run against it.

use super::run::execute;
use crate::cli::DemoArgs;
use crate::demo::DemoServer;
use crate::scenario::{Plan, ScenarioDoc};
use anyhow::Context;

/// The demo scenario, built in so `swarm demo` works from any directory.
pub const DEMO_SCENARIO: &str = include_str!("../../scenarios/demo.toml");

/// The host written in `scenarios/demo.toml`, replaced by the demo server's address.
const DEMO_HOST: &str = "http://127.0.0.1:8089";

pub(super) async fn demo(args: DemoArgs) -> anyhow::Result<i32> {
    let server = DemoServer::start(args.port)
        .await
        .context("cannot start the demo server")?;
    if args.serve {
        eprintln!(
            "swarm demo API listening on {} (Ctrl-C to stop)",
            server.url()
        );
        tokio::select! {
            _ = tokio::signal::ctrl_c() => {}
            _ = server.wait() => {}
        }
        return Ok(0);
    }
    eprintln!("swarm demo API listening on {}", server.url());
    let text = demo_text().replace(DEMO_HOST, &server.url());
    let mut plan = Plan::parse(&text, "demo.toml")?;
    args.load.apply(&mut plan).map_err(anyhow::Error::msg)?;
    // The file's host stays the file's: the demo server's port is this run's only, kept
    // out of a save as a -H override is.
    let mut doc = ScenarioDoc::from_text(&demo_text(), None)?;
    doc.override_host(&server.url())
        .map_err(anyhow::Error::msg)?;
    let code = execute(plan, text, Some(doc), &args.output, None).await;
    server.shutdown().await;
    code
}

/// `scenarios/demo.toml` from the working directory when present, else the built-in copy.
fn demo_text() -> String {
    std::fs::read_to_string("scenarios/demo.toml").unwrap_or_else(|_| DEMO_SCENARIO.to_string())
}
