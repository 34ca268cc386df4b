//! Scenario files: parsed from TOML once, validated into a typed `Plan` that the engine runs.
//!
//! Nothing downstream of this module sees strings such as `"30s"`: the CLI, the engine and
//! the reports consume `Plan`, `Load` and `Endpoint`.

pub mod addresses;
pub mod datafile;
mod document;
mod duration;
mod error;
mod raw;
pub mod tags;
pub mod template;
pub mod threshold;
mod validate;

pub use document::{BodyKind, DocParts, EndpointSpec, Overwrite, SaveError, ScenarioDoc};
pub use duration::{Wait, format_duration, format_rate, parse_duration, parse_rate, parse_wait};
// `Stage` and `parse_stages` are defined below.
pub use error::ScenarioError;
pub(crate) use error::control_char;
pub use validate::MIN_SPAWN_RATE;

use bytes::Bytes;
use http::{HeaderMap, Method, Uri};
use std::path::Path;
use std::time::Duration;

/// Default request timeout when neither the endpoint nor `[defaults]` sets one.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
/// Default bound on how long in-flight requests may take to finish after a stop.
pub(crate) const DEFAULT_STOP_TIMEOUT: Duration = Duration::from_secs(5);

/// A validated scenario.
#[derive(Debug, Clone, Default)]
pub struct Plan {
    pub name: Option<String>,
    /// Base URL as written, e.g. `http://127.0.0.1:5000`.
    pub host: String,
    pub load: Load,
    pub endpoints: Vec<Endpoint>,
    /// Pass/fail conditions; any failure makes the exit code 1.
    pub thresholds: Vec<threshold::Threshold>,
    /// Stop the run as soon as a threshold fails.
    pub abort_on_threshold: bool,
    /// Ordered steps run as one weighted task.
    pub flows: Vec<Flow>,
    /// Steps each user runs once when it starts, and when it stops.
    pub on_start: Vec<Endpoint>,
    pub on_stop: Vec<Endpoint>,
    /// Data files: each user takes a row of each.
    pub data: Vec<DataSet>,
    /// Each user keeps its own cookie jar (on unless `[defaults] cookies = false`).
    pub cookies: bool,
    /// `[vars]`: each user's own variables, rendered once when it starts, in order.
    pub vars: Vec<(String, template::Template)>,
    pub net: NetOptions,
    /// `--tags` / `--exclude-tags`, applied (the TUI applies it again after edits).
    pub tag_filter: tags::TagFilter,
    /// `[[users]]`; empty for a scenario of one implicit type, made of the top-level
    /// endpoints, flows and hooks.
    pub user_types: Vec<UserType>,
    /// Which user ids, `{{seq}}` values and data rows this process takes: all of them,
    /// or, as a worker of a distributed run, every `step`-th from its segment's `offset`,
    /// so that they stay unique across the swarm.
    pub ids: Stride,
    /// `--timeout`: every request's timeout, set over the scenario's (None: as written).
    pub request_timeout: Option<Duration>,
}

/// Every `step`-th number from `offset`: 0, 1, 2, ... by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stride {
    pub offset: u64,
    pub step: u64,
}

impl Default for Stride {
    fn default() -> Self {
        Stride { offset: 0, step: 1 }
    }
}

impl Stride {
    /// The `i`-th number of this process (from 0).
    pub fn nth(&self, i: u64) -> u64 {
        self.offset + i * self.step.max(1)
    }
}

/// `[[users]]`: a kind of user (Locust's user class) with its own tasks, hooks and think
/// time, and its share of the users.
#[derive(Debug, Clone)]
pub struct UserType {
    pub name: String,
    /// Share of the users, like a Locust user class's weight.
    pub weight: u32,
    /// Exactly this many users of the type, started first (0: by weight).
    pub fixed_count: u32,
    /// This type's think time; None takes `[load].wait`.
    pub wait: Option<Wait>,
    pub endpoints: Vec<Endpoint>,
    pub flows: Vec<Flow>,
    pub on_start: Vec<Endpoint>,
    pub on_stop: Vec<Endpoint>,
    /// Tags every task of the type carries.
    pub tags: Vec<String>,
}

/// Ordered steps that run as one weighted task (like Locust's SequentialTaskSet).
#[derive(Debug, Clone)]
pub struct Flow {
    pub name: String,
    pub weight: u32,
    pub steps: Vec<Endpoint>,
    /// `tags = [...]`: what `--tags` and `--exclude-tags` select by.
    pub tags: Vec<String>,
}

/// A CSV file whose rows the users take, one each; fields are `{{name.column}}`.
#[derive(Debug, Clone)]
pub struct DataSet {
    pub name: String,
    pub file: String,
    pub columns: Vec<String>,
    pub rows: std::sync::Arc<Vec<Vec<String>>>,
    /// Each row goes to one user only; later users find none (a failure).
    pub unique: bool,
}

/// How many users, how fast, for how long.
#[derive(Debug, Clone, PartialEq)]
pub struct Load {
    pub users: u32,
    /// Users started (or stopped) per second; always > 0.
    pub spawn_rate: f64,
    pub run_time: Option<Duration>,
    pub wait: Wait,
    pub stop_timeout: Duration,
    /// Load stages, run in order from the start; empty for a constant target.
    pub stages: Vec<Stage>,
    /// Open model: iterations started per second whatever the response times (the rate at
    /// the start when stages ramp it). None for the closed model, where users loop.
    pub arrival_rate: Option<f64>,
    /// Open model: the most users running at once.
    pub max_users: u32,
    /// Open model: how long an iteration may wait for a free user before it is dropped.
    pub queue_timeout: Duration,
    /// `-n/--requests`: the run ends after this many requests (on_start and on_stop steps
    /// not counted), exactly.
    pub max_requests: Option<u64>,
    /// `-i` / `[load] iterations`: the run ends after this many tasks in all (a flow is
    /// one), shared by the users (k6's shared-iterations, Locust's `-i`).
    pub max_iterations: Option<u64>,
    /// A distributed run's worker: the whole swarm's users of each stage (`stages` holds
    /// this worker's shares), for its place in each stage's ramp. Empty otherwise.
    pub swarm_stage_users: Vec<u32>,
}

/// Default cap on concurrent users in the open model.
const DEFAULT_MAX_USERS: u32 = 1000;
/// Default wait for a free user in the open model.
pub(crate) const DEFAULT_QUEUE_TIMEOUT: Duration = Duration::from_secs(5);

impl Load {
    /// True when iterations follow an arrival rate rather than looping users.
    pub(crate) fn is_open(&self) -> bool {
        self.arrival_rate.is_some()
    }
}

/// One stage of a load shape. Closed model: move to `users` (at `spawn_rate`, or the
/// run's rate) and hold for the rest of `duration`. Open model: ramp the arrival rate
/// linearly from the previous stage's rate to `arrival_rate` over `duration` (k6's
/// ramping-arrival-rate).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Stage {
    pub users: u32,
    pub duration: Duration,
    pub spawn_rate: Option<f64>,
    /// Open-model stages only: the rate reached at the end of the stage.
    pub arrival_rate: Option<f64>,
}

/// Parses `--stages "50:1m,100:5m,0:30s"` (users:duration, optionally :spawn_rate), or
/// open-model stages `"100/s:1m,300/s:5m"` (rate:duration).
pub fn parse_stages(text: &str) -> Result<Vec<Stage>, String> {
    let stages = text
        .split(',')
        .map(|part| {
            let fields: Vec<&str> = part.trim().split(':').collect();
            let bad = || {
                format!(
                    "\"{part}\" is not users:duration[:spawn_rate] or rate:duration, e.g. \"50:1m\" or \"200/s:1m\""
                )
            };
            if fields[0].contains('/') {
                let [rate, d] = fields[..] else {
                    return Err(bad());
                };
                return Ok(Stage {
                    users: 0,
                    duration: parse_duration(d)?,
                    spawn_rate: None,
                    arrival_rate: Some(parse_rate(rate)?),
                });
            }
            let (users, duration) = match fields[..] {
                [u, d] | [u, d, _] => (u.parse::<u32>().map_err(|_| bad())?, parse_duration(d)?),
                _ => return Err(bad()),
            };
            let spawn_rate = match fields.get(2) {
                Some(r) => Some(r.parse::<f64>().ok().filter(|r| *r > 0.0).ok_or_else(bad)?),
                None => None,
            };
            Ok(Stage {
                users,
                duration,
                spawn_rate,
                arrival_rate: None,
            })
        })
        .collect::<Result<Vec<_>, _>>()?;
    let open = stages.iter().filter(|s| s.arrival_rate.is_some()).count();
    if open != 0 && open != stages.len() {
        return Err("mixes user stages and rate stages; use one kind throughout".into());
    }
    Ok(stages)
}

impl Default for Load {
    fn default() -> Self {
        Load {
            users: 1,
            spawn_rate: 1.0,
            run_time: None,
            wait: Wait::None,
            stop_timeout: DEFAULT_STOP_TIMEOUT,
            stages: Vec::new(),
            arrival_rate: None,
            max_users: DEFAULT_MAX_USERS,
            queue_timeout: DEFAULT_QUEUE_TIMEOUT,
            max_requests: None,
            max_iterations: None,
            swarm_stage_users: Vec::new(),
        }
    }
}

/// Where a request goes: scheme, host and port.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    pub host: String,
    pub port: u16,
    /// https (TLS) rather than http.
    pub tls: bool,
}

impl Origin {
    /// The `Host` header value: the port is left out when it is the default.
    pub(crate) fn authority(&self) -> String {
        let host = if self.host.contains(':') {
            format!("[{}]", self.host)
        } else {
            self.host.clone()
        };
        if self.port == self.default_port() {
            host
        } else {
            format!("{host}:{}", self.port)
        }
    }

    pub fn default_port(&self) -> u16 {
        if self.tls { 443 } else { 80 }
    }

    pub fn scheme(&self) -> &'static str {
        if self.tls { "https" } else { "http" }
    }
}

/// How connections are made: TLS settings, HTTP/2, redirects.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NetOptions {
    /// Speak HTTP/2: ALPN over TLS (falling back to HTTP/1.1 when the server does not
    /// offer h2), prior knowledge over plain TCP.
    pub http2: bool,
    /// Accept any TLS certificate (self-signed test servers).
    pub insecure: bool,
    /// Trust the operating system's roots instead of the bundled Mozilla (webpki) roots.
    pub system_roots: bool,
    /// Source addresses: each new connection takes the next one in turn (none: the
    /// system picks).
    pub local_addresses: Vec<std::net::IpAddr>,
    /// `--http-debug N`: show the first N exchanges and the first of every failure (0:
    /// none).
    pub http_debug: u64,
}

/// Which redirects are followed (at most `MAX_REDIRECTS` in a row).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Redirects {
    /// Follow redirects to the same scheme, host and port (the default).
    #[default]
    SameHost,
    /// Do not follow: a 3xx is the response.
    None,
    /// Follow redirects anywhere.
    Any,
}

/// Redirects followed in a row before the request fails.
pub(crate) const MAX_REDIRECTS: usize = 10;

/// What counts as a successful status.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Expect {
    /// Any status below 400.
    #[default]
    Below400,
    /// Inclusive ranges; a single code is a range of one.
    Statuses(Vec<(u16, u16)>),
}

impl Expect {
    pub fn accepts(&self, status: u16) -> bool {
        match self {
            Expect::Below400 => status < 400,
            Expect::Statuses(list) => list.iter().any(|(a, b)| (*a..=*b).contains(&status)),
        }
    }
}

/// A check on the response beyond its status; a failed check is a failure of its own cause.
#[derive(Debug, Clone, PartialEq)]
pub enum Check {
    BodyContains(String),
    /// The JSON value at the pointer equals this.
    JsonEq(String, serde_json::Value),
}

/// Where an extracted variable comes from.
#[derive(Debug, Clone)]
pub enum ExtractFrom {
    /// A JSON pointer into the response body, e.g. `/token` or `/data/0/id`.
    Json(String),
    Header(http::HeaderName),
    /// The first capture group (or the whole match) of a regex on the body.
    Regex(regex::Regex),
    /// A streamed response's token text, concatenated (`extract = { reply = "tokens" }`).
    Tokens,
}

/// How a streamed response's body is cut into events.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamKind {
    /// Server-sent events: `data:` lines up to a blank line.
    Sse,
    /// One event per non-empty line (NDJSON).
    Lines,
    /// One event per piece of the body as it arrives.
    Chunks,
}

impl StreamKind {
    pub fn label(self) -> &'static str {
        match self {
            StreamKind::Sse => "sse",
            StreamKind::Lines => "lines",
            StreamKind::Chunks => "chunks",
        }
    }
}

/// `stream = ...` on an endpoint: its body is read as events as they arrive, and timed
/// per event (time to first token, inter-token latency).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StreamSpec {
    pub kind: StreamKind,
    /// `stream_tokens`: a JSON pointer into each event's data; an event whose value there
    /// is a non-empty string is one output token.
    pub tokens: Option<String>,
    /// `stream_done`: the data that ends the stream; without it, the body's end does.
    pub done: Option<String>,
    /// `stream_max`: the longest a whole stream may take (`timeout` bounds each wait).
    pub max: Option<Duration>,
}

/// What a WebSocket flow step does (`ws`, `send` and `receive`, `hold`, `close`).
#[derive(Debug, Clone, PartialEq)]
pub enum WsAction {
    /// `ws = "/path"`: opens the user's socket (the upgrade handshake).
    Connect,
    /// `send` (the endpoint's body; binary with `send_binary`) and/or `receive`.
    Exchange {
        send: bool,
        binary: bool,
        receive: Option<WsMatch>,
    },
    /// `hold = "30s"`: keeps the socket open, answering pings, counting what arrives.
    Hold(Duration),
    /// `close = 1000`: closes the socket with this code.
    Close(u16),
}

/// Which arriving message a `receive` waits for.
#[derive(Debug, Clone)]
pub enum WsMatch {
    /// Any message.
    Any,
    Contains(String),
    /// `contains` with `{{...}}` in it: rendered for each receive, then `Contains`.
    ContainsTemplate(template::Template),
    Regex(regex::Regex),
    /// The value at a JSON pointer equals this (any value there when None).
    Json(String, Option<serde_json::Value>),
}

impl PartialEq for WsMatch {
    fn eq(&self, other: &Self) -> bool {
        match (self, other) {
            (WsMatch::Any, WsMatch::Any) => true,
            (WsMatch::Contains(a), WsMatch::Contains(b)) => a == b,
            (WsMatch::ContainsTemplate(_), WsMatch::ContainsTemplate(_)) => true,
            (WsMatch::Regex(a), WsMatch::Regex(b)) => a.as_str() == b.as_str(),
            (WsMatch::Json(a, x), WsMatch::Json(b, y)) => a == b && x == y,
            _ => false,
        }
    }
}

impl WsMatch {
    /// True when the message's text matches.
    pub fn matches(&self, text: &str) -> bool {
        match self {
            WsMatch::Any => true,
            WsMatch::Contains(t) => text.contains(t.as_str()),
            // Rendered before it is matched (`UserState::render`); unrendered, no match.
            WsMatch::ContainsTemplate(_) => false,
            WsMatch::Regex(r) => r.is_match(text),
            WsMatch::Json(pointer, want) => serde_json::from_str::<serde_json::Value>(text)
                .ok()
                .and_then(|v| v.pointer(pointer).cloned())
                .is_some_and(|got| want.as_ref().is_none_or(|w| *w == got)),
        }
    }
}

/// A value taken out of a response into the user's variables.
#[derive(Debug, Clone)]
pub struct Extract {
    pub var: String,
    pub from: ExtractFrom,
}

/// The parts of a request rendered per request from templates.
#[derive(Debug, Clone, Default)]
pub struct Dynamic {
    /// Path and query (origin-form), when templated.
    pub target: Option<template::Template>,
    /// Templated header values.
    pub headers: Vec<(http::HeaderName, template::Template)>,
    pub body: Option<template::Template>,
}

/// One weighted task: a request with everything needed to send it.
#[derive(Debug, Clone)]
pub struct Endpoint {
    /// The row name in every report.
    pub name: String,
    pub method: Method,
    /// The path or URL as the user wrote it.
    pub path: String,
    pub origin: Origin,
    /// Origin-form request target (`/tests?x=1`).
    pub target: Uri,
    /// 0 disables the endpoint.
    pub weight: u32,
    /// Defaults merged with the endpoint's own headers, `Host` and content type included.
    pub headers: HeaderMap,
    pub body: Bytes,
    pub timeout: Duration,
    pub expect: Expect,
    pub checks: Vec<Check>,
    pub extract: Vec<Extract>,
    /// Set when part of the request is a template.
    pub dynamic: Option<std::sync::Arc<Dynamic>>,
    pub redirects: Redirects,
    /// `tags = [...]`: what `--tags` and `--exclude-tags` select by.
    pub tags: Vec<String>,
    /// Read the body as a stream of events (`stream = "sse"`).
    pub stream: Option<std::sync::Arc<StreamSpec>>,
    /// A WebSocket step: the rest of the endpoint is the upgrade request (`ws`) or the
    /// message it sends (`send`, in `body`).
    pub ws: Option<std::sync::Arc<WsAction>>,
}

impl Endpoint {
    /// True when the response body must be read into memory (checks or extraction).
    pub(crate) fn needs_body(&self) -> bool {
        !self.checks.is_empty()
            || self
                .extract
                .iter()
                .any(|e| !matches!(e.from, ExtractFrom::Header(_) | ExtractFrom::Tokens))
    }

    /// True when an extraction takes the stream's token text.
    pub(crate) fn needs_tokens(&self) -> bool {
        self.extract
            .iter()
            .any(|e| matches!(e.from, ExtractFrom::Tokens))
    }
}

impl Plan {
    /// `--timeout`: every request's timeout, wherever it is declared.
    pub(crate) fn set_request_timeout(&mut self, timeout: Duration) {
        self.request_timeout = Some(timeout);
        let lists = [&mut self.endpoints, &mut self.on_start, &mut self.on_stop]
            .into_iter()
            .chain(self.flows.iter_mut().map(|f| &mut f.steps));
        let typed = self.user_types.iter_mut().flat_map(|t| {
            [&mut t.endpoints, &mut t.on_start, &mut t.on_stop]
                .into_iter()
                .chain(t.flows.iter_mut().map(|f| &mut f.steps))
        });
        for list in lists.chain(typed) {
            for e in list.iter_mut() {
                e.timeout = timeout;
            }
        }
    }

    /// Every endpoint the users may call: endpoints, flow steps and hooks, of every user
    /// type too.
    pub(crate) fn every_endpoint(&self) -> impl Iterator<Item = &Endpoint> {
        let lists = [&self.endpoints, &self.on_start, &self.on_stop]
            .into_iter()
            .chain(self.flows.iter().map(|f| &f.steps));
        let typed = self.user_types.iter().flat_map(|t| {
            [&t.endpoints, &t.on_start, &t.on_stop]
                .into_iter()
                .chain(t.flows.iter().map(|f| &f.steps))
        });
        lists.chain(typed).flatten()
    }

    /// Why a threshold could never be measured by this plan (`threshold::never_measured`).
    pub(crate) fn unmeasurable(&self, t: &threshold::Threshold) -> Option<String> {
        let streams = self
            .every_endpoint()
            .any(|e| e.stream.is_some() && t.endpoint.as_ref().is_none_or(|name| &e.name == name));
        threshold::never_measured(t.metric, t.endpoint.is_some(), streams)
    }

    /// Reads and validates a scenario file.
    pub fn load(path: &Path) -> Result<Plan, LoadError> {
        Plan::load_with_host(path, None)
    }

    /// Every error of scenario text that one pass finds, in file order (`swarm check`);
    /// empty when it loads.
    pub(crate) fn all_errors(src: &str, file: &str) -> Vec<ScenarioError> {
        validate::all_errors(src, file)
    }

    /// Reads and validates a scenario file, with `--host` replacing the file's host.
    pub(crate) fn load_with_host(path: &Path, host: Option<&str>) -> Result<Plan, LoadError> {
        let src = read_source(path)?;
        Ok(validate::parse(&src, &path.display().to_string(), host)?)
    }

    /// Validates scenario text; `file` names it in error messages.
    pub fn parse(src: &str, file: &str) -> Result<Plan, ScenarioError> {
        validate::parse(src, file, None)
    }

    /// As `parse`, with `host` replacing the text's (`--host`).
    pub(crate) fn parse_with_host(
        src: &str,
        file: &str,
        host: &str,
    ) -> Result<Plan, ScenarioError> {
        validate::parse(src, file, Some(host))
    }

    /// A one-endpoint plan for `swarm run URL`: GET the URL with defaults.
    pub fn for_url(url: &str) -> Result<Plan, ScenarioError> {
        Plan::for_request(url, &UrlRequest::default())
    }

    /// A one-endpoint plan for `swarm run URL` with the request's method, body and headers
    /// from the command line (`-m`, `-d`, `--json-data`, `--header`).
    pub(crate) fn for_request(url: &str, request: &UrlRequest) -> Result<Plan, ScenarioError> {
        // Errors name the URL, unless it carries credentials that must not be echoed.
        let authority = url.split("://").nth(1).and_then(|r| r.split('/').next());
        let label = if authority.is_some_and(|a| a.contains('@')) {
            "the URL"
        } else {
            url
        };
        if let Err(e) = url.parse::<Uri>() {
            return Err(ScenarioError {
                file: String::new(),
                line: 0,
                col: 0,
                key: String::new(),
                message: bad_url(label, url, &e),
            });
        }
        // The scenario is made up from the URL and the flags: a place or a key in it
        // would point nowhere, so a header's error names the flag.
        validate::parse(&Plan::url_scenario(url, request), label, None).map_err(|e| {
            let key = match e.key.strip_prefix("endpoints[0].headers.") {
                Some(name) => format!("--header {name}"),
                None => String::new(),
            };
            // The way to send credentials from the command line is a flag, not a file's
            // [defaults].
            let message = e.message.replace(
                "[defaults] headers = { Authorization = \"Basic ...\" }",
                "--header \"Authorization: Basic ...\"",
            );
            ScenarioError {
                line: 0,
                col: 0,
                key,
                message,
                ..e
            }
        })
    }

    /// The scenario text behind `for_request`: 50 users for 10 s (until `-n` requests when
    /// that is given), the URL with the request's method, body and headers.
    pub(crate) fn url_scenario(url: &str, request: &UrlRequest) -> String {
        let host = match url.parse::<Uri>() {
            Ok(u) if u.authority().is_some() => {
                format!(
                    "{}://{}",
                    u.scheme_str().unwrap_or("http"),
                    u.authority().unwrap()
                )
            }
            _ => url.to_string(),
        };
        let run_time = if request.until_count {
            ""
        } else {
            "run_time = \"10s\"\n"
        };
        let mut text = format!(
            "host = {}\n\n[load]\nusers = 50\nspawn_rate = 50\n{run_time}\n[[endpoints]]\npath = {}\n",
            toml_string(&host),
            toml_string(url)
        );
        let method = match (&request.method, &request.body) {
            (Some(m), _) => Some(m.as_str()),
            // As curl does: a body makes the request a POST.
            (None, Some(_)) => Some("POST"),
            (None, None) => None,
        };
        if let Some(m) = method {
            text += &format!("method = {}\n", toml_string(m));
        }
        if let Some((body, content_type)) = &request.body {
            text += &format!(
                "body = {}\ncontent_type = {}\n",
                toml_string(body),
                toml_string(content_type)
            );
        }
        if !request.headers.is_empty() {
            let pairs: Vec<String> = request
                .headers
                .iter()
                .map(|(n, v)| format!("{} = {}", toml_string(n), toml_string(v)))
                .collect();
            text += &format!("headers = {{ {} }}\n", pairs.join(", "));
        }
        text
    }

    /// Endpoints that can be picked (weight > 0).
    pub fn active_endpoints(&self) -> impl Iterator<Item = &Endpoint> {
        self.endpoints
            .iter()
            .chain(self.user_types.iter().flat_map(|t| t.endpoints.iter()))
            .filter(|e| e.weight > 0)
    }
}

/// The request of `swarm run URL`, as curl and oha users type it.
#[derive(Debug, Clone, Default)]
pub struct UrlRequest {
    /// `-m/--method`; None is GET, or POST when there is a body.
    pub method: Option<String>,
    /// The body and its content type (`-d`: form-encoded, `--json-data`: JSON).
    pub body: Option<(String, &'static str)>,
    /// `--header "Name: value"`, in order.
    pub headers: Vec<(String, String)>,
    /// `-n` is given: the run ends after that many requests rather than after 10 s.
    pub until_count: bool,
}

/// What is wrong with a URL given on the command line, and what to write instead.
fn bad_url(label: &str, url: &str, e: &http::uri::InvalidUri) -> String {
    let shown = if label == url {
        format!("{url:?}")
    } else {
        label.to_string()
    };
    let Some((at, c)) = url
        .chars()
        .enumerate()
        .find(|&(_, c)| c.is_whitespace() || c.is_control() || "\"<>\\^`{|}".contains(c))
    else {
        return format!("{shown} is not a valid URL ({e})");
    };
    let what = match c {
        ' ' => "a space".to_string(),
        c if c.is_control() => error::control_char(c),
        c => format!("{c:?}"),
    };
    let mut utf8 = [0; 4];
    let encoded: String = c
        .encode_utf8(&mut utf8)
        .bytes()
        .map(|b| format!("%{b:02X}"))
        .collect();
    format!(
        "{shown} is not a valid URL: {what} at character {}; percent-encode it ({encoded})",
        at + 1
    )
}

/// Quotes a string as a TOML basic string.
fn toml_string(s: &str) -> String {
    toml::Value::String(s.to_string()).to_string()
}

/// An I/O error as a sentence: "No such file or directory", without "(os error 2)".
/// The largest scenario file swarm reads (data files have their own limit).
const MAX_SCENARIO_BYTES: u64 = 16 << 20;

/// A scenario file's text: a regular file of at most `MAX_SCENARIO_BYTES`, in UTF-8 (a
/// byte that is not is located by line and column, as every other mistake is).
pub(crate) fn read_source(path: &Path) -> Result<String, LoadError> {
    let shown = path.display().to_string();
    let io = |error| LoadError::Io {
        path: shown.clone(),
        error,
    };
    let meta = std::fs::metadata(path).map_err(io)?;
    let refuse = |message: String| {
        LoadError::Invalid(ScenarioError {
            file: shown.clone(),
            line: 0,
            col: 0,
            key: String::new(),
            message,
        })
    };
    if meta.is_dir() {
        return Err(refuse(
            "is a directory; give a scenario file (.toml)".into(),
        ));
    }
    if !meta.is_file() {
        return Err(refuse(
            "is not a regular file (a FIFO, socket or device); give a scenario file (.toml)".into(),
        ));
    }
    let file = std::fs::File::open(path).map_err(io)?;
    source_from(file, &shown)
}

/// What `swarm run -` and `swarm check -` name standard input in messages.
pub(crate) const STDIN: &str = "<stdin>";

/// A scenario read from standard input (`swarm run -`, as `k6 run -`), with a file's
/// bounds.
pub(crate) fn read_stdin() -> Result<String, LoadError> {
    source_from(std::io::stdin().lock(), STDIN)
}

/// Scenario text from `reader`, at most MAX_SCENARIO_BYTES of UTF-8.
fn source_from(reader: impl std::io::Read, shown: &str) -> Result<String, LoadError> {
    let io = |error| LoadError::Io {
        path: shown.to_string(),
        error,
    };
    let refuse = |message: String| {
        LoadError::Invalid(ScenarioError {
            file: shown.to_string(),
            line: 0,
            col: 0,
            key: String::new(),
            message,
        })
    };
    let mut bytes = Vec::new();
    std::io::Read::read_to_end(
        &mut std::io::Read::take(reader, MAX_SCENARIO_BYTES + 1),
        &mut bytes,
    )
    .map_err(io)?;
    if bytes.len() as u64 > MAX_SCENARIO_BYTES {
        return Err(refuse(format!(
            "is larger than {} MB: not a scenario (put large data in a CSV file and name it in [[data]])",
            MAX_SCENARIO_BYTES >> 20
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let good = e.utf8_error().valid_up_to();
        let bytes = e.as_bytes();
        let valid = std::str::from_utf8(&bytes[..good]).unwrap_or_default();
        let (line, col) = error::line_col(valid, good);
        LoadError::Invalid(ScenarioError {
            file: shown.to_string(),
            line,
            col,
            key: String::new(),
            message: format!(
                "byte 0x{:02X} is not UTF-8 text; save the file as UTF-8",
                bytes[good]
            ),
        })
    })
}

fn io_text(e: &std::io::Error) -> String {
    let text = e.to_string();
    match text.find(" (os error") {
        Some(i) => text[..i].to_string(),
        None => text,
    }
}

/// A spawn rate this many times the users starts them all at once (within a
/// millisecond): `swarm run URL`'s default, as oha opens every connection at the start.
pub(crate) const AT_ONCE: f64 = 1000.0;

/// A scenario that could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The message carries the cause's text, so the cause is not a `source` as well
    /// (anyhow's `{:#}` would print it twice).
    #[error("cannot read {path}: {}", io_text(.error))]
    Io { path: String, error: std::io::Error },
    #[error(transparent)]
    Invalid(#[from] ScenarioError),
}
