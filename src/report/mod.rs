//! Reports built from snapshots: text for people, JSON for scripts, Locust's CSV files,
//! JUnit XML for CI, a self-contained HTML page, and saved runs.

pub mod csv;
pub use crate::fmt as format;
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
    /// The command line that ran it, whose flags override the text ("" when not known:
    /// a saved run rendered later).
    pub command: &'a str,
}

/// This process's command line, as a shell would take it back.
pub(crate) fn command_line() -> String {
    std::env::args()
        .map(|a| crate::fmt::shell_word(&a))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Text for XML and HTML attributes and elements: `&`, `<`, `>` and quotes escaped, and
/// the control characters XML 1.0 does not allow replaced by spaces.
pub(crate) fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            c if (c as u32) < 0x20 && !matches!(c, '\n' | '\t' | '\r') => out.push(' '),
            c => out.push(c),
        }
    }
    out
}
