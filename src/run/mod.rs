//! Where a run starts and ends, above the engine, the cluster and the reports: the capacity
//! search's driver, and how every run ends (its reports, files and exit code). The headless
//! run and the TUI still start their engines themselves, to be brought here.

pub mod capacity;
pub mod finish;
