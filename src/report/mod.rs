//! Reports built from snapshots: text for people, JSON for scripts, Locust's CSV files,
//! JUnit XML for CI.

pub mod csv;
pub mod format;
pub mod json;
pub mod junit;
pub mod saved;
pub mod text;
