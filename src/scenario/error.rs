//! Scenario errors that point at the file, line, column and key that is wrong.

use std::ops::Range;
use toml::de::{DeTable, DeValue};

/// A problem in a scenario file, located for the user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScenarioError {
    pub file: String,
    pub line: usize,
    pub col: usize,
    /// Dotted key path such as `load.wait` or `endpoints[2].weight`; empty for syntax errors.
    pub key: String,
    pub message: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Each part that is there, joined by ": " (a URL's error has no file).
        let mut place = self.file.clone();
        if self.line > 0 {
            place += &format!(":{}:{}", self.line, self.col);
        }
        for part in [&place, &self.key] {
            if !part.is_empty() {
                write!(f, "{part}: ")?;
            }
        }
        write!(f, "{}", self.message)
    }
}

impl std::error::Error for ScenarioError {}

/// Turns byte spans into located errors for one source text.
pub(crate) struct Locator<'a> {
    pub file: &'a str,
    pub src: &'a str,
}

impl Locator<'_> {
    pub fn error(
        &self,
        span: Range<usize>,
        key: &str,
        message: impl Into<String>,
    ) -> ScenarioError {
        let (line, col) = line_col(self.src, span.start);
        ScenarioError {
            file: self.file.to_string(),
            line,
            col,
            key: key.to_string(),
            message: message.into(),
        }
    }

    /// Converts a toml/serde error, naming the key and suggesting the nearest known key.
    pub(crate) fn toml_error(&self, err: &toml::de::Error) -> ScenarioError {
        let span = err.span().unwrap_or(0..0);
        let key = short_key(&key_path_at(self.src, span.start).unwrap_or_default());
        let mut message = rewrite_message(err.message());
        if DeTable::parse(self.src).is_err() {
            message = format!("invalid TOML: {message}");
        }
        self.error(span, &key, message)
    }
}

/// 1-based line and column (in characters) of a byte offset.
pub fn line_col(src: &str, offset: usize) -> (usize, usize) {
    let offset = offset.min(src.len());
    let before = &src[..floor_char_boundary(src, offset)];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (line, before[line_start..].chars().count() + 1)
}

fn floor_char_boundary(s: &str, mut i: usize) -> usize {
    while !s.is_char_boundary(i) {
        i -= 1;
    }
    i
}

/// The dotted path of the innermost key whose key or value contains `offset`.
/// Table headers only span the header, so every table is searched, not just enclosing ones.
fn key_path_at(src: &str, offset: usize) -> Option<String> {
    let (table, _) = DeTable::parse_recoverable(src);
    find_in_table(table.get_ref(), offset)
}

fn find_in_table(table: &DeTable<'_>, offset: usize) -> Option<String> {
    table.iter().find_map(|(key, value)| {
        let name = key.get_ref();
        if key.span().contains(&offset) {
            return Some(name.to_string());
        }
        if let Some(inner) = find_in_value(value.get_ref(), offset) {
            let sep = if inner.starts_with('[') { "" } else { "." };
            return Some(format!("{name}{sep}{inner}"));
        }
        value.span().contains(&offset).then(|| name.to_string())
    })
}

fn find_in_value(value: &DeValue<'_>, offset: usize) -> Option<String> {
    match value {
        DeValue::Table(t) => find_in_table(t, offset),
        DeValue::Array(items) => {
            items.iter().enumerate().find_map(|(i, item)| {
                match find_in_value(item.get_ref(), offset) {
                    Some(inner) if inner.starts_with('[') => Some(format!("[{i}]{inner}")),
                    Some(inner) => Some(format!("[{i}].{inner}")),
                    None if item.span().contains(&offset) && !item.get_ref().is_table() => {
                        Some(format!("[{i}]"))
                    }
                    None => None,
                }
            })
        }
        _ => None,
    }
}

/// What each table of the scenario looks like, for a value of the wrong type.
const TABLES: &[(&str, &str)] = &[
    ("RawExpect", "a table, e.g. expect = { status = [200] }"),
    (
        "RawEndpoint",
        "an [[endpoints]] table with a path, e.g. path = \"/\"",
    ),
    (
        "RawFlow",
        "a [[flows]] table with a name and [[flows.steps]]",
    ),
    ("RawData", "a table, e.g. [data.users] file = \"users.csv\""),
    ("RawLoad", "a [load] table, e.g. users = 10"),
    (
        "RawStage",
        "a table, e.g. { users = 10, duration = \"1m\" }",
    ),
    ("RawDefaults", "a [defaults] table, e.g. timeout = \"10s\""),
    ("RawScenario", "a scenario table"),
];

/// Serde's names for what it wanted, in the scenario's words.
fn rewrite_expected(message: &str) -> String {
    let mut out = message.to_string();
    for (name, what) in TABLES {
        out = out.replace(
            &format!("expected struct {name}"),
            &format!("expected {what}"),
        );
    }
    out.replace("expected a sequence", "expected a list, e.g. [1, 2]")
        .replace("expected a map", "expected a table")
        .replace(
            "cannot recurse further; max recursion depth met",
            "nested too deeply (more than about 80 levels of arrays or tables)",
        )
}

/// A key path cut to a readable length (a value nested 200 levels deep has a path of
/// 200 indexes).
fn short_key(key: &str) -> String {
    const MAX: usize = 60;
    if key.len() <= MAX {
        return key.to_string();
    }
    let cut = key[..MAX].rfind('[').unwrap_or(MAX);
    format!("{}…", &key[..cut])
}

/// Rewrites serde's "unknown field `x`, expected one of `a`, `b`" into advice.
fn rewrite_message(message: &str) -> String {
    let Some(rest) = message.strip_prefix("unknown field `") else {
        return rewrite_expected(message.trim());
    };
    let Some((name, rest)) = rest.split_once('`') else {
        return message.to_string();
    };
    let known: Vec<&str> = rest.split('`').skip(1).step_by(2).collect();
    let mut out = format!("unknown key \"{name}\"");
    if let Some(best) = nearest(name, &known) {
        out += &format!("; did you mean \"{best}\"?");
    }
    if !known.is_empty() {
        out += &format!(" (known keys: {})", known.join(", "));
    }
    out
}

/// The known word closest to `word`, if it is close enough to be a plausible typo.
pub fn nearest<'k>(word: &str, known: &[&'k str]) -> Option<&'k str> {
    let word = word.to_ascii_lowercase();
    known
        .iter()
        .map(|k| {
            (
                strsim::damerau_levenshtein(&word, &k.to_ascii_lowercase()),
                *k,
            )
        })
        .filter(|(d, k)| *d <= (k.len() / 3).max(1))
        .min_by_key(|(d, _)| *d)
        .map(|(_, k)| k)
}

/// A control character, named for a message: "a line break", or "the control character
/// '\t'".
pub(crate) fn control_char(c: char) -> String {
    match c {
        '\r' | '\n' => "a line break".into(),
        c => format!("the control character {c:?}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn line_and_column() {
        let src = "a = 1\nbb = 2\n";
        assert_eq!(line_col(src, 0), (1, 1));
        assert_eq!(line_col(src, 6), (2, 1));
        assert_eq!(line_col(src, 11), (2, 6));
    }

    #[test]
    fn key_paths() {
        let src = "host = \"x\"\n[load]\nusers = 5\n[[endpoints]]\npath = \"/\"\n[[endpoints]]\nwieght = 2\n";
        let at = src.find("5").unwrap();
        assert_eq!(key_path_at(src, at).as_deref(), Some("load.users"));
        let at = src.find("wieght").unwrap();
        assert_eq!(key_path_at(src, at).as_deref(), Some("endpoints[1].wieght"));
    }

    #[test]
    fn suggests_nearest_key() {
        let m = rewrite_message("unknown field `usrs`, expected one of `users`, `spawn_rate`");
        assert_eq!(
            m,
            "unknown key \"usrs\"; did you mean \"users\"? (known keys: users, spawn_rate)"
        );
    }
}
