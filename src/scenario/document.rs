//! An editable scenario file: edits go into a `toml_edit` document so that saving keeps the
//! user's comments, key order and formatting for everything that did not change.
//!
//! Every edit is validated by loading the edited text as a `Plan`; an edit that would make
//! the file invalid is refused with the validation message, and the document stays as it was.

use super::{LoadError, Plan, ScenarioError};
use std::path::{Path, PathBuf};
use toml_edit::{ArrayOfTables, DocumentMut, InlineTable, Item, Table, Value};

/// The fields of one endpoint as the editor shows them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct EndpointSpec {
    /// Empty means the default name, "METHOD path".
    pub name: String,
    pub method: String,
    pub path: String,
    pub weight: String,
    /// One `Name: value` per line.
    pub headers: String,
    /// JSON text for a `json` body, the text of a raw `body`, or `key=value` lines of a `form`.
    pub body: String,
    pub body_kind: BodyKind,
    /// `stream`: "" (not streamed), "sse", "lines" or "chunks".
    pub stream: String,
    /// `stream_tokens` (a JSON pointer) and `stream_done`, "" when absent.
    pub stream_tokens: String,
    pub stream_done: String,
}

impl EndpointSpec {
    /// The name reports show: the given one, or "METHOD path".
    pub(crate) fn display_name(&self) -> String {
        if self.name.is_empty() {
            format!("{} {}", self.method, self.path)
        } else {
            self.name.clone()
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum BodyKind {
    #[default]
    Json,
    Raw,
    Form,
}

impl BodyKind {
    pub(crate) fn label(self) -> &'static str {
        match self {
            BodyKind::Json => "JSON",
            BodyKind::Raw => "raw",
            BodyKind::Form => "form",
        }
    }
}

/// A scenario being edited.
pub struct ScenarioDoc {
    pub path: Option<PathBuf>,
    doc: DocumentMut,
    /// The text last loaded or saved: the document is dirty when it differs.
    saved: String,
    /// What the file at `path` held when it was read or written by us; None when we have
    /// not read it (a new scenario, the demo). A save checks it has not changed since.
    on_disk: Option<String>,
    /// `--host`: replaces the file's host while swarm runs, never written into the file.
    host_override: Option<String>,
}

/// A document as it crosses to another process (an attached TUI): its text now, the
/// text last saved, the file's text when read, the `--host` override.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct DocParts {
    pub text: String,
    pub saved: String,
    pub on_disk: Option<String>,
    pub host_override: Option<String>,
}

/// Why a save did not happen.
#[derive(Debug)]
pub enum SaveError {
    /// The file changed on disk since it was loaded (another editor, a `git pull`):
    /// writing would lose those changes.
    ChangedOnDisk(PathBuf),
    /// Save as: a file of that name exists already.
    Exists(PathBuf),
    Io(std::io::Error),
}

impl std::fmt::Display for SaveError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SaveError::ChangedOnDisk(p) => {
                write!(f, "{} changed on disk since it was loaded", p.display())
            }
            SaveError::Exists(p) => write!(f, "{} exists already", p.display()),
            SaveError::Io(e) => write!(f, "{e}"),
        }
    }
}

/// Whether a save may replace what it finds on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Overwrite {
    /// Refuse when the file changed since it was read (or, for save as, exists).
    Check,
    /// The user said to overwrite.
    Force,
}

impl ScenarioDoc {
    /// Opens a file; the document must load as a valid plan.
    pub fn open(path: &Path) -> Result<(ScenarioDoc, Plan), LoadError> {
        let text = super::read_source(path)?;
        let plan = Plan::parse(&text, &path.display().to_string())?;
        Ok((ScenarioDoc::loaded(text, path), plan))
    }

    /// A file's text as it was read, known to load as a plan, to be saved back to `path`.
    pub(crate) fn loaded(text: String, path: &Path) -> ScenarioDoc {
        let doc = text
            .parse::<DocumentMut>()
            .expect("a valid plan is valid TOML");
        ScenarioDoc {
            path: Some(path.to_path_buf()),
            doc,
            on_disk: Some(text.clone()),
            saved: text,
            host_override: None,
        }
    }

    /// Wraps text that is already known to be valid TOML (e.g. the built-in demo).
    pub fn from_text(text: &str, path: Option<PathBuf>) -> Result<ScenarioDoc, ScenarioError> {
        let doc = text.parse::<DocumentMut>().map_err(|e| ScenarioError {
            file: label(path.as_deref()),
            line: 0,
            col: 0,
            key: String::new(),
            message: e.to_string(),
        })?;
        Ok(ScenarioDoc {
            path,
            doc,
            saved: text.to_string(),
            on_disk: None,
            host_override: None,
        })
    }

    /// What a TUI in another process needs to edit this document as this one would.
    pub fn parts(&self) -> DocParts {
        DocParts {
            text: self.text(),
            saved: self.saved.clone(),
            on_disk: self.on_disk.clone(),
            host_override: self.host_override.clone(),
        }
    }

    /// The document `parts` describe.
    pub fn from_parts(
        path: Option<PathBuf>,
        parts: DocParts,
    ) -> Result<ScenarioDoc, ScenarioError> {
        let mut doc = ScenarioDoc::from_text(&parts.text, path)?;
        doc.saved = parts.saved;
        doc.on_disk = parts.on_disk;
        doc.host_override = parts.host_override;
        Ok(doc)
    }

    /// A new scenario with a host and a load, not yet saved.
    pub(crate) fn new_scenario(
        path: Option<PathBuf>,
        host: &str,
        load: &super::Load,
    ) -> ScenarioDoc {
        let text = format!(
            "# swarm scenario: keys are documented in scenarios/README.md\nhost = {}\n\n[load]\nusers = {}\nspawn_rate = {}\n",
            Value::from(host),
            load.users,
            load.spawn_rate
        );
        let doc = text.parse::<DocumentMut>().expect("template is valid TOML");
        ScenarioDoc {
            path,
            doc,
            saved: String::new(),
            on_disk: None,
            host_override: None,
        }
    }

    pub fn text(&self) -> String {
        self.doc.to_string()
    }

    /// True when the document differs from what is on disk.
    pub(crate) fn is_dirty(&self) -> bool {
        self.doc.to_string() != self.saved
    }

    /// Validates the current text.
    pub fn plan(&self) -> Result<Plan, ScenarioError> {
        self.validate(&self.doc)
    }

    /// Loads `doc` (this document or an edited copy) as a plan, named by this file.
    fn validate(&self, doc: &DocumentMut) -> Result<Plan, ScenarioError> {
        self.validate_text(&doc.to_string())
    }

    fn validate_text(&self, text: &str) -> Result<Plan, ScenarioError> {
        super::validate::parse(
            text,
            &label(self.path.as_deref()),
            self.host_override.as_deref(),
        )
    }

    /// Replaces the whole text (the TUI's raw TOML editor); refused, with the reason and
    /// its line and column, when it does not load.
    pub(crate) fn replace_text(&mut self, text: &str) -> Result<Plan, String> {
        let plan = self.validate_text(text).map_err(|e| e.to_string())?;
        self.doc = text.parse::<DocumentMut>().map_err(|e| e.to_string())?;
        Ok(plan)
    }

    /// Runs against `host` instead of the file's (`--host`), without writing it into the
    /// file; refused when it is not a valid host.
    pub(crate) fn override_host(&mut self, host: &str) -> Result<(), String> {
        let before = self.host_override.replace(host.to_string());
        match self.plan() {
            Err(e) if e.file == "--host" || e.key == "host" => {
                self.host_override = before;
                Err(e.to_string())
            }
            _ => Ok(()),
        }
    }

    /// The host the scenario runs against: `--host` when given, else the file's.
    pub fn host(&self) -> String {
        if let Some(h) = &self.host_override {
            return h.clone();
        }
        self.doc
            .get("host")
            .and_then(Item::as_str)
            .unwrap_or("")
            .to_string()
    }

    pub fn name(&self) -> Option<String> {
        self.doc
            .get("name")
            .and_then(Item::as_str)
            .map(str::to_string)
    }

    /// Writes the document to its path (atomically). With `Overwrite::Check`, refuses
    /// when the file on disk is no longer what was loaded (or last saved).
    pub fn save(&mut self, overwrite: Overwrite) -> Result<PathBuf, SaveError> {
        let path = self.path.clone().ok_or_else(|| {
            SaveError::Io(std::io::Error::other(
                "this scenario has no file yet; use save as (Ctrl-O)",
            ))
        })?;
        if overwrite == Overwrite::Check {
            let now = match std::fs::read_to_string(&path) {
                Ok(text) => Some(text),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => return Err(SaveError::Io(e)),
            };
            if now.is_some() && now != self.on_disk {
                return Err(SaveError::ChangedOnDisk(path));
            }
        }
        let text = self.text();
        crate::fsutil::write_atomic(&path, text.as_bytes()).map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => SaveError::Io(std::io::Error::other(format!(
                "the folder of {} does not exist (create it first, or pick another name)",
                path.display()
            ))),
            _ => SaveError::Io(e),
        })?;
        self.on_disk = Some(text.clone());
        self.saved = text;
        Ok(path)
    }

    /// Saves to a new path, which becomes the document's path. With `Overwrite::Check`,
    /// refuses to replace another file that exists.
    pub(crate) fn save_as(
        &mut self,
        path: &Path,
        overwrite: Overwrite,
    ) -> Result<PathBuf, SaveError> {
        let same = self.path.as_deref() == Some(path);
        if overwrite == Overwrite::Check && !same && path.exists() {
            return Err(SaveError::Exists(path.to_path_buf()));
        }
        let old = self.path.replace(path.to_path_buf());
        let old_disk = if same {
            self.on_disk.clone()
        } else {
            self.on_disk.take()
        };
        let force = if same { overwrite } else { Overwrite::Force };
        self.save(force).inspect_err(|_| {
            self.path = old;
            self.on_disk = old_disk;
        })
    }

    /// Reads the file again, dropping the edits not saved; keeps `--host`.
    pub fn reload(&self) -> Result<(ScenarioDoc, Plan), LoadError> {
        let path = self.path.as_deref().ok_or_else(|| LoadError::Io {
            path: "new scenario".into(),
            error: std::io::Error::other("this scenario has no file to reload"),
        })?;
        let (mut doc, plan) = ScenarioDoc::open(path)?;
        match &self.host_override {
            None => Ok((doc, plan)),
            Some(h) => {
                doc.host_override = Some(h.clone());
                let plan = doc.plan()?;
                Ok((doc, plan))
            }
        }
    }

    pub fn endpoint_count(&self) -> usize {
        self.endpoints_aot().map_or(0, ArrayOfTables::len)
    }

    /// The endpoints as editable fields, in file order.
    pub fn endpoints(&self) -> Vec<EndpointSpec> {
        self.endpoints_aot()
            .map(|a| a.iter().map(spec_of).collect())
            .unwrap_or_default()
    }

    /// Replaces endpoint `index` (or appends when None) with `spec`, if the result is valid.
    pub(crate) fn set_endpoint(
        &mut self,
        index: Option<usize>,
        spec: &EndpointSpec,
    ) -> Result<Plan, String> {
        self.try_edit(|doc| {
            let aot = endpoints_mut(doc);
            let i = match index {
                Some(i) if i < aot.len() => i,
                _ => {
                    aot.push(Table::new());
                    aot.len() - 1
                }
            };
            let table = aot.get_mut(i).expect("index checked");
            apply_spec(table, spec)
        })
    }

    pub fn remove_endpoint(&mut self, index: usize) -> Result<Plan, String> {
        self.try_edit(|doc| {
            let aot = endpoints_mut(doc);
            if index < aot.len() {
                aot.remove(index);
            }
            Ok(())
        })
    }

    pub fn duplicate_endpoint(&mut self, index: usize) -> Result<Plan, String> {
        self.try_edit(|doc| {
            let aot = endpoints_mut(doc);
            let Some(copy) = aot.get(index).cloned() else {
                return Ok(());
            };
            aot.insert(index + 1, copy);
            let t = aot.get_mut(index + 1).expect("just inserted");
            if let Some(name) = t
                .get("name")
                .and_then(Item::as_str)
                .map(|n| format!("{n} (copy)"))
            {
                set_value(t, "name", Value::from(name));
            }
            Ok(())
        })
    }

    pub fn set_weight(&mut self, index: usize, weight: u32) -> Result<Plan, String> {
        self.try_edit(|doc| {
            if let Some(t) = endpoints_mut(doc).get_mut(index) {
                set_value(t, "weight", Value::from(i64::from(weight)));
            }
            Ok(())
        })
    }

    pub fn set_users(&mut self, users: u32) -> Result<(), String> {
        self.edit_load("users", Value::from(i64::from(users)))
    }

    pub fn set_spawn_rate(&mut self, rate: f64) -> Result<(), String> {
        let v = if rate.fract() == 0.0 {
            Value::from(rate as i64)
        } else {
            Value::from(rate)
        };
        self.edit_load("spawn_rate", v)
    }

    /// Sets `[load] arrival_rate` as `"N/s"`.
    /// (A `users` key goes: the open model caps users with `max_users`, and a scenario
    /// made for the closed model, e.g. by `swarm run URL --arrival-rate`, has one.)
    pub(crate) fn set_arrival_rate(&mut self, per_sec: f64) -> Result<(), String> {
        let rate = Value::from(super::format_rate(per_sec));
        self.try_edit_lenient(|doc| {
            let load = load_mut(doc);
            load.remove("users");
            set_value(load, "arrival_rate", rate);
        })
    }

    /// Sets a `[load]` key.
    fn edit_load(&mut self, key: &str, value: Value) -> Result<(), String> {
        self.try_edit_lenient(|doc| set_value(load_mut(doc), key, value))
    }

    /// Applies `edit` unless it adds a problem the file did not already have, so a new
    /// scenario without endpoints can still have its sliders moved.
    fn try_edit_lenient(&mut self, edit: impl FnOnce(&mut DocumentMut)) -> Result<(), String> {
        let before = self.plan().err().map(|e| e.to_string());
        let mut copy = self.doc.clone();
        edit(&mut copy);
        let after = self.validate(&copy).err().map(|e| e.to_string());
        match after {
            Some(e) if Some(&e) != before.as_ref() => Err(e),
            _ => {
                self.doc = copy;
                Ok(())
            }
        }
    }

    fn endpoints_aot(&self) -> Option<&ArrayOfTables> {
        self.doc.get("endpoints").and_then(Item::as_array_of_tables)
    }

    /// Applies `edit` to a copy; keeps it only if the copy still loads as a plan.
    fn try_edit(
        &mut self,
        edit: impl FnOnce(&mut DocumentMut) -> Result<(), String>,
    ) -> Result<Plan, String> {
        let mut copy = self.doc.clone();
        edit(&mut copy)?;
        let plan = self.validate(&copy).map_err(|e| e.to_string())?;
        self.doc = copy;
        Ok(plan)
    }
}

fn label(path: Option<&Path>) -> String {
    path.map_or("new scenario".into(), |p| p.display().to_string())
}

fn endpoints_mut(doc: &mut DocumentMut) -> &mut ArrayOfTables {
    let item = doc
        .entry("endpoints")
        .or_insert(Item::ArrayOfTables(ArrayOfTables::new()));
    if !item.is_array_of_tables() {
        *item = Item::ArrayOfTables(ArrayOfTables::new());
    }
    item.as_array_of_tables_mut()
        .expect("made an array of tables above")
}

fn load_mut(doc: &mut DocumentMut) -> &mut Table {
    let item = doc.entry("load").or_insert(Item::Table(Table::new()));
    if !item.is_table() {
        *item = Item::Table(Table::new());
    }
    item.as_table_mut().expect("made a table above")
}

/// Sets `key` to `value`, keeping the old value's comments and spacing; no-op when equal.
fn set_value(table: &mut Table, key: &str, mut value: Value) {
    if let Some(old) = table.get(key).and_then(Item::as_value) {
        if old.to_string().trim() == value.to_string().trim() {
            return;
        }
        *value.decor_mut() = old.decor().clone();
    }
    table.insert(key, Item::Value(value));
}

fn spec_of(t: &Table) -> EndpointSpec {
    let text = |k: &str| t.get(k).and_then(Item::as_str).unwrap_or("").to_string();
    let headers = t
        .get("headers")
        .and_then(Item::as_table_like)
        .map(|h| {
            h.iter()
                .map(|(k, v)| format!("{k}: {}", scalar(v)))
                .collect::<Vec<_>>()
                .join("\n")
        })
        .unwrap_or_default();
    let (body, body_kind) = if let Some(j) = t.get("json") {
        (json_text(j), BodyKind::Json)
    } else if let Some(f) = t.get("form").and_then(Item::as_table_like) {
        // A list is a line for each of its values, as it is sent (tag=a, tag=b).
        let lines: Vec<String> = f
            .iter()
            .flat_map(|(k, v)| match v.as_array() {
                Some(items) => items
                    .iter()
                    .map(|i| format!("{k}={}", scalar_value(i)))
                    .collect(),
                None => vec![format!("{k}={}", scalar(v))],
            })
            .collect();
        (lines.join("\n"), BodyKind::Form)
    } else if t.contains_key("body") {
        (text("body"), BodyKind::Raw)
    } else {
        (String::new(), BodyKind::Json)
    };
    EndpointSpec {
        name: text("name"),
        method: t
            .get("method")
            .and_then(Item::as_str)
            .unwrap_or("GET")
            .to_ascii_uppercase(),
        path: text("path"),
        weight: t
            .get("weight")
            .and_then(Item::as_integer)
            .unwrap_or(1)
            .to_string(),
        headers,
        body,
        body_kind,
        stream: text("stream"),
        stream_tokens: text("stream_tokens"),
        stream_done: text("stream_done"),
    }
}

fn scalar(item: &Item) -> String {
    match item.as_value() {
        Some(v) => scalar_value(v),
        None => item.to_string().trim().to_string(),
    }
}

/// A value as the editor shows it: a string's text, anything else as TOML writes it.
fn scalar_value(v: &Value) -> String {
    match v.as_str() {
        Some(s) => s.to_string(),
        None => v.to_string().trim().to_string(),
    }
}

/// A TOML value as pretty JSON text.
fn json_text(item: &Item) -> String {
    let inline = match item {
        Item::Table(t) => Value::InlineTable(t.clone().into_inline_table()).to_string(),
        other => other.to_string(),
    };
    toml::from_str::<toml::Table>(&format!("v = {}", inline.trim()))
        .ok()
        .and_then(|t| t.get("v").cloned())
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_default()
}

/// Writes the form fields into an endpoint table, touching only what changed.
fn apply_spec(t: &mut Table, spec: &EndpointSpec) -> Result<(), String> {
    let old = spec_of(t);
    if spec.name.trim() != old.name {
        match spec.name.trim() {
            "" => drop(t.remove("name")),
            n => set_value(t, "name", Value::from(n)),
        }
    }
    let method = spec.method.trim().to_ascii_uppercase();
    if method != old.method || (t.contains_key("method") && method.is_empty()) {
        set_value(t, "method", Value::from(method));
    }
    if spec.path.trim() != old.path {
        set_value(t, "path", Value::from(spec.path.trim()));
    }
    if spec.weight.trim() != old.weight {
        let w: i64 = spec.weight.trim().parse().map_err(|_| {
            format!(
                "weight: \"{}\" is not a whole number >= 0",
                spec.weight.trim()
            )
        })?;
        set_value(t, "weight", Value::from(w));
    }
    if spec.headers.trim() != old.headers.trim() {
        set_headers(t, &spec.headers)?;
    }
    if spec.body.trim() != old.body.trim() || spec.body_kind != old.body_kind {
        set_body(t, spec)?;
    }
    set_stream(t, spec, &old);
    Ok(())
}

/// `stream`, `stream_tokens` and `stream_done` as the form has them: an endpoint no
/// longer streamed loses every stream key (`stream_max` too), so none is left orphaned.
fn set_stream(t: &mut Table, spec: &EndpointSpec, old: &EndpointSpec) {
    if spec.stream.trim().is_empty() {
        if !old.stream.is_empty() {
            for key in ["stream", "stream_tokens", "stream_done", "stream_max"] {
                t.remove(key);
            }
        }
        return;
    }
    for (key, new, was) in [
        ("stream", &spec.stream, &old.stream),
        ("stream_tokens", &spec.stream_tokens, &old.stream_tokens),
        ("stream_done", &spec.stream_done, &old.stream_done),
    ] {
        match new.trim() {
            v if v == was.as_str() => {}
            "" => drop(t.remove(key)),
            v => set_value(t, key, Value::from(v)),
        }
    }
}

fn set_headers(t: &mut Table, text: &str) -> Result<(), String> {
    let mut table = InlineTable::new();
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let (k, v) = line
            .split_once(':')
            .ok_or_else(|| format!("headers: \"{line}\" should be \"Name: value\""))?;
        table.insert(k.trim(), Value::from(v.trim()));
    }
    if table.is_empty() {
        t.remove("headers");
    } else {
        set_value(t, "headers", Value::InlineTable(table));
    }
    Ok(())
}

fn set_body(t: &mut Table, spec: &EndpointSpec) -> Result<(), String> {
    for key in ["json", "body", "form"] {
        t.remove(key);
    }
    let text = spec.body.trim();
    if text.is_empty() {
        return Ok(());
    }
    match spec.body_kind {
        BodyKind::Json => {
            let json: serde_json::Value =
                serde_json::from_str(text).map_err(|e| format!("body: invalid JSON: {e}"))?;
            let toml_value = toml::Value::try_from(&json).map_err(|e| {
                format!("body: this JSON cannot be written as TOML ({e}); null is not allowed")
            })?;
            let value = toml_inline(&toml_value)?;
            t.insert("json", Item::Value(value));
        }
        BodyKind::Raw => {
            t.insert("body", Item::Value(Value::from(text)));
        }
        BodyKind::Form => {
            let mut form = InlineTable::new();
            for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
                let (k, v) = line
                    .split_once('=')
                    .ok_or_else(|| format!("body: \"{line}\" should be \"key=value\""))?;
                let (k, v) = (k.trim(), Value::from(v.trim()));
                // A name given again is a list: tag=a, tag=b is tag = ["a", "b"].
                match form.get_mut(k) {
                    Some(Value::Array(items)) => items.push(v),
                    Some(first) => {
                        let mut items = toml_edit::Array::new();
                        items.push(first.clone());
                        items.push(v);
                        *first = Value::Array(items);
                    }
                    None => {
                        form.insert(k, v);
                    }
                }
            }
            t.insert("form", Item::Value(Value::InlineTable(form)));
        }
    }
    Ok(())
}

/// A TOML value rendered inline (tables as `{ ... }`), ready for toml_edit.
fn toml_inline(v: &toml::Value) -> Result<Value, String> {
    let mut wrapper = toml::Table::new();
    wrapper.insert("v".into(), v.clone());
    let doc: DocumentMut = toml::to_string(&wrapper)
        .map_err(|e| e.to_string())?
        .parse()
        .map_err(|e: toml_edit::TomlError| e.to_string())?;
    let item = doc.get("v").cloned().ok_or("empty value")?;
    let value = match item {
        Item::Value(v) => v,
        Item::Table(t) => Value::InlineTable(t.into_inline_table()),
        _ => return Err("this JSON cannot be written as a TOML value".into()),
    };
    let mut value = value;
    value.decor_mut().clear();
    if let Value::InlineTable(t) = &mut value {
        t.fmt();
    }
    Ok(value)
}

#[cfg(test)]
mod tests;
