//! Tags: `tags = ["checkout", "slow"]` on endpoints and flows; `--tags` runs only what
//! carries one of the given tags, `--exclude-tags` leaves out what carries one of those
//! (exclusion wins, as in Locust). A flow carries its own tags and its steps'.
//! on_start and on_stop steps always run: they set a user up, they are not tasks.

use super::{Endpoint, Flow, Plan};
use std::collections::BTreeSet;

/// Which tasks run.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct TagFilter {
    /// Run only tasks with one of these (none: every task).
    pub include: Vec<String>,
    /// Never run tasks with one of these.
    pub exclude: Vec<String>,
}

impl TagFilter {
    pub fn is_empty(&self) -> bool {
        self.include.is_empty() && self.exclude.is_empty()
    }

    /// Whether a task with these tags runs.
    fn admits<'a>(&self, mut tags: impl Iterator<Item = &'a String> + Clone) -> bool {
        let excluded = tags.clone().any(|t| self.exclude.contains(t));
        let included = self.include.is_empty() || tags.any(|t| self.include.contains(t));
        included && !excluded
    }

    /// "--tags a,b --exclude-tags c", as the user wrote it.
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if !self.include.is_empty() {
            parts.push(format!("--tags {}", self.include.join(",")));
        }
        if !self.exclude.is_empty() {
            parts.push(format!("--exclude-tags {}", self.exclude.join(",")));
        }
        parts.join(" ")
    }
}

/// Parses `--tags` / `--exclude-tags`: tags separated by commas.
pub(crate) fn parse_tag_list(s: &str) -> Result<Vec<String>, String> {
    let tags: Vec<String> = s
        .split(',')
        .map(|t| t.trim().to_string())
        .filter(|t| !t.is_empty())
        .collect();
    if tags.is_empty() {
        return Err("is empty; give tags separated by commas, e.g. checkout,slow".into());
    }
    Ok(tags)
}

fn flow_tags(f: &Flow) -> impl Iterator<Item = &String> + Clone {
    f.tags
        .iter()
        .chain(f.steps.iter().flat_map(|s| s.tags.iter()))
}

fn endpoint_tags(e: &Endpoint) -> impl Iterator<Item = &String> + Clone {
    e.tags.iter()
}

impl Plan {
    /// Every tag the scenario's tasks carry, sorted.
    fn all_tags(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self
            .endpoints
            .iter()
            .flat_map(endpoint_tags)
            .cloned()
            .collect();
        all.extend(self.flows.iter().flat_map(flow_tags).cloned());
        for t in &self.user_types {
            all.extend(t.tags.iter().cloned());
            all.extend(t.endpoints.iter().flat_map(endpoint_tags).cloned());
            all.extend(t.flows.iter().flat_map(flow_tags).cloned());
        }
        all
    }

    /// Keeps the tasks the filter admits (and remembers the filter, for edits in the TUI).
    /// Refuses a filter that leaves nothing to run.
    pub(crate) fn apply_tags(&mut self, filter: &TagFilter) -> Result<(), String> {
        self.tag_filter = filter.clone();
        if filter.is_empty() {
            return Ok(());
        }
        let known = self.all_tags();
        for t in filter.include.iter().chain(&filter.exclude) {
            if !known.contains(t) {
                let list = if known.is_empty() {
                    "none: add tags = [\"...\"] to endpoints or flows".to_string()
                } else {
                    known.iter().cloned().collect::<Vec<_>>().join(", ")
                };
                return Err(format!(
                    "{}: no endpoint or flow has the tag \"{t}\" (the scenario's tags: {list})",
                    filter.describe()
                ));
            }
        }
        self.endpoints.retain(|e| filter.admits(endpoint_tags(e)));
        self.flows.retain(|f| filter.admits(flow_tags(f)));
        // A type's tags are every one of its tasks'; a type left with nothing to run is
        // left out.
        for t in &mut self.user_types {
            let own = t.tags.clone();
            t.endpoints
                .retain(|e| filter.admits(endpoint_tags(e).chain(own.iter())));
            t.flows
                .retain(|f| filter.admits(flow_tags(f).chain(own.iter())));
        }
        self.user_types.retain(|t| {
            t.endpoints.iter().any(|e| e.weight > 0) || t.flows.iter().any(|f| f.weight > 0)
        });
        let runnable = if self.user_types.is_empty() {
            self.endpoints.iter().any(|e| e.weight > 0) || self.flows.iter().any(|f| f.weight > 0)
        } else {
            self.user_types
                .iter()
                .any(|t| t.weight > 0 || t.fixed_count > 0)
        };
        if !runnable {
            return Err(format!(
                "{} leaves no endpoint or flow to run (the scenario's tags: {})",
                filter.describe(),
                known.into_iter().collect::<Vec<_>>().join(", ")
            ));
        }
        Ok(())
    }
}
