//! Where a run starts and ends, above the engine, the cluster and the reports: today the
//! capacity search's driver (the headless run and the TUI have theirs in `headless` and
//! `tui`, to be brought here).

pub mod capacity;
