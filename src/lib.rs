//! swarm: a load tester for HTTP backends, driven from a TOML scenario.
//!
//! # Layout
//!
//! The modules stand on floors; each uses only the floors below its own (`tests/it/layers.rs`
//! fails on a `crate::` path that points up or sideways, and names it), so there is no import
//! cycle between them and a change has one place to go:
//!
//! ```text
//! 8  commands, fuzzing        what a command line asks for (main.rs is thinner still)
//! 7  tui, headless, cli       the front-ends, which watch and steer a `run::Run`; clap's types
//! 6  run                      `Run`: the one place a run starts (engine or cluster, and its
//!                             outputs) and ends (reports, exit code); the capacity driver
//! 5  compare, cluster         two saved runs side by side; the distributed controller and worker
//! 4  report                   renderers: text, JSON, CSV, HTML, JUnit, Prometheus, saved runs
//! 3  capacity                 the capacity search as a state machine (snapshots in, commands out)
//! 2  engine, doctor           users, connections, the schedule, a worker's share; machine limits
//! 1  fmt, scenario            number formatting; the scenario file, validated into a Plan
//! 0  stats, fsutil, signals, demo
//! ```

// Functions stay short enough to read at once (clippy.toml sets 60 lines); the few flat
// dispatchers that stay longer say why with an `#[allow]`.
#![warn(clippy::too_many_lines)]

/// `swarm --version`: the version and the commit it was built from.
pub const VERSION: &str = concat!(env!("CARGO_PKG_VERSION"), " (", env!("SWARM_COMMIT"), ")");

pub mod capacity;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod compare;
pub mod demo;
pub mod doctor;
pub mod engine;
pub mod fmt;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod headless;
pub mod report;
pub mod run;
pub mod scenario;
pub mod signals;
pub mod stats;
pub mod tui;
