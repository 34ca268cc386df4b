//! swarm: a load tester for HTTP backends, driven from a TOML scenario.

pub mod capacity;
pub mod cli;
pub mod cluster;
pub mod commands;
pub mod compare;
pub mod demo;
pub mod doctor;
pub mod engine;
pub mod fsutil;
#[doc(hidden)]
pub mod fuzzing;
pub mod headless;
pub mod report;
pub mod scenario;
pub mod signals;
pub mod stats;
pub mod tui;
