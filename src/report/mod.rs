//! Reports built from snapshots: text for people, JSON for scripts, Locust's CSV files,
//! JUnit XML for CI, a self-contained HTML page, and saved runs.

pub mod csv;
pub mod format;
pub mod html;
pub mod json;
pub mod junit;
pub mod prometheus;
pub mod saved;
pub mod text;

/// What a report says about the run besides its figures.
pub struct About<'a> {
    pub name: Option<&'a str>,
    pub host: &'a str,
    /// The run's start.
    pub started: std::time::SystemTime,
    /// The scenario text that ran ("" when not known).
    pub scenario: &'a str,
}
