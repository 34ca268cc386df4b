//! Turns the raw serde mirror of a scenario into a `Plan`, rejecting bad values with their location.

use super::error::{Locator, ScenarioError, nearest};
use super::raw::{
    RawData, RawDefaults, RawEndpoint, RawExpect, RawFlow, RawLoad, RawScenario, RawStage,
    RawUserType, SpannedValue,
};
use super::template::{Escape, MAX_RENDERED_BYTES, Template};
use super::threshold::{self, Threshold};
use super::{Check, DataSet, Dynamic, Extract, ExtractFrom, Flow, NetOptions, Redirects, UserType};
use super::{DEFAULT_QUEUE_TIMEOUT, parse_duration, parse_rate, parse_wait};
use super::{DEFAULT_STOP_TIMEOUT, DEFAULT_TIMEOUT, Endpoint, Expect, Load, Origin, Plan, Stage};
use bytes::Bytes;
use http::header::{CONTENT_TYPE, HOST, HeaderName, HeaderValue, USER_AGENT};
use http::{HeaderMap, Method, Uri};
use std::collections::BTreeMap;
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use toml::{Spanned, Value};

type Result<T> = std::result::Result<T, ScenarioError>;

/// One user an hour: below this, a ramp would take longer than any test.
pub const MIN_SPAWN_RATE: f64 = 1.0 / 3600.0;

const METHODS: &[&str] = &["GET", "POST", "PUT", "PATCH", "DELETE", "HEAD", "OPTIONS"];
const HOST_EXAMPLE: &str = "host = \"http://127.0.0.1:8080\"";

/// Validates scenario text; `host_override` (from `--host`) replaces the file's host.
/// The error is the first that validation meets.
pub fn parse(src: &str, file: &str, host_override: Option<&str>) -> Result<Plan> {
    walk(src, file, host_override).map_err(|errors| {
        errors
            .into_iter()
            .next()
            .expect("a failed walk has an error")
    })
}

/// Every error a scenario has, in file order: each part (host, load, data, vars,
/// defaults, every hook, flow, endpoint and threshold table) is validated on its own, and
/// the walk is repeated past each mistake's line, so one mistake hides no other, in the
/// same table or elsewhere. A TOML syntax error stops it (nothing after it can be read
/// reliably). Empty when the scenario loads.
pub fn all_errors(src: &str, file: &str) -> Vec<ScenarioError> {
    // A part stops at its first mistake (and serde at the first unknown key or wrong
    // type), so the walk runs again with each mistake's `key = value` line blanked (line
    // numbers stay), until it finds nothing new: a table with three mistakes shows three.
    let mut text = src.to_string();
    let mut errors: Vec<ScenarioError> = Vec::new();
    let mut blanked: Vec<String> = Vec::new();
    for _ in 0..MAX_PASSES {
        let Err(found) = walk(&text, file, None) else {
            break;
        };
        let fresh: Vec<ScenarioError> = found
            .into_iter()
            .filter(|e| !errors.contains(e))
            // Blanking a line may leave its key missing, or the TOML around it broken:
            // neither is the user's mistake.
            .filter(|e| !blanked.contains(&e.key) && (errors.is_empty() || !e.key.is_empty()))
            .collect();
        let mut next = text.clone();
        let mut progressed = false;
        for e in &fresh {
            if let Some(cut) = blank_line(&next, e) {
                next = cut;
                blanked.push(e.key.clone());
                progressed = true;
            }
        }
        errors.extend(fresh);
        if !progressed {
            break;
        }
        text = next;
    }
    errors.sort_by_key(|e| (e.line, e.col));
    errors.dedup();
    errors
}

/// The most passes `all_errors` makes over one file.
const MAX_PASSES: usize = 20;

/// `text` with the line of `e` emptied, when that line holds the key the error names
/// (`users = 0` for `load.users`); None otherwise (a missing key, a table header).
fn blank_line(text: &str, e: &ScenarioError) -> Option<String> {
    let leaf = e.key.rsplit('.').next()?.split('[').next()?;
    if e.line == 0 || leaf.is_empty() {
        return None;
    }
    let mut lines: Vec<&str> = text.split('\n').collect();
    let line = lines.get(e.line - 1)?;
    let trimmed = line.trim_start().trim_start_matches('"');
    let holds = trimmed.starts_with(leaf)
        && trimmed[leaf.len()..]
            .trim_start()
            .trim_start_matches('"')
            .trim_start()
            .starts_with('=');
    if !holds {
        return None;
    }
    lines[e.line - 1] = "";
    Some(lines.join("\n"))
}

/// Errors met so far, in the order validation met them.
#[derive(Default)]
struct Errors(Vec<ScenarioError>);

impl Errors {
    /// The part's value, or None with its error kept.
    fn take<T>(&mut self, r: Result<T>) -> Option<T> {
        r.map_err(|e| self.0.push(e)).ok()
    }
}

/// Validates every part of the scenario, going on past a part that fails (against a
/// stand-in for what it would have given), and builds the plan when none failed.
fn walk(
    src: &str,
    file: &str,
    host_override: Option<&str>,
) -> std::result::Result<Plan, Vec<ScenarioError>> {
    let loc = Locator { file, src };
    let mut raw: RawScenario = toml::from_str(src).map_err(|e| vec![loc.toml_error(&e)])?;
    let mut v = Validator {
        loc,
        vars: HashSet::new(),
        sizes: HashMap::new(),
    };
    if let Some(h) = host_override {
        let flag = Validator {
            loc: Locator {
                file: "--host",
                src: "",
            },
            vars: HashSet::new(),
            sizes: HashMap::new(),
        };
        flag.base(&Spanned::new(0..0, h.to_string())).map_err(|e| {
            vec![ScenarioError {
                line: 0,
                key: String::new(),
                ..e
            }]
        })?;
        raw.host = Some(Spanned::new(0..0, h.to_string()));
    }
    let mut errors = Errors::default();
    let base = match &raw.host {
        None => errors.take(Err(v.err(
            0..0,
            "host",
            format!("is missing; add {HOST_EXAMPLE} at the top"),
        ))),
        Some(h) => errors.take(v.base(h)),
    };
    // Later parts are checked against a stand-in host when the real one is wrong.
    let base = base.unwrap_or_else(|| Base {
        origin: Origin {
            host: "127.0.0.1".into(),
            port: 80,
            tls: false,
        },
        prefix: String::new(),
    });
    let load = errors.take(v.load(raw.load.take().unwrap_or_default()));
    let data = errors
        .take(v.data(raw.data.as_ref(), file))
        .unwrap_or_default();
    let vars = errors.take(v.user_vars(raw.vars.as_ref(), &data));
    v.vars = known_vars(&raw, &data);
    let (defaults, cookies, net) = errors
        .take(v.defaults(raw.defaults.take().unwrap_or_default()))
        .unwrap_or_else(|| {
            v.defaults(RawDefaults::default())
                .expect("the defaults load")
        });
    let mut hooks = |list: &Option<Vec<Spanned<RawEndpoint>>>, key: &str| -> Vec<Endpoint> {
        list.iter()
            .flatten()
            .enumerate()
            .filter_map(|(i, e)| {
                errors.take(v.endpoint(e, &format!("{key}[{i}]"), &base, &defaults))
            })
            .collect()
    };
    let on_start = hooks(&raw.on_start, "on_start");
    let on_stop = hooks(&raw.on_stop, "on_stop");
    let flows: Vec<Flow> = raw
        .flows
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, f)| errors.take(v.flow(f, &format!("flows[{i}]"), &base, &defaults)))
        .collect();
    let user_types: Vec<UserType> = raw
        .users
        .iter()
        .flatten()
        .enumerate()
        .filter_map(|(i, u)| errors.take(v.user_type(u, i, &base, &defaults)))
        .collect();
    if raw.users.as_ref().is_some_and(|u| !u.is_empty()) {
        errors.take(v.user_types_alone(&raw, &user_types));
    }
    let listed = raw.endpoints.as_ref().map_or(&[][..], |l| &l.get_ref()[..]);
    let loaded: Vec<Option<Endpoint>> = listed
        .iter()
        .enumerate()
        .map(|(i, e)| errors.take(v.endpoint(e, &format!("endpoints[{i}]"), &base, &defaults)))
        .collect();
    let endpoints: Vec<Endpoint> = loaded.iter().flatten().cloned().collect();
    if endpoints.len() == listed.len() && raw.users.as_ref().is_none_or(|u| u.is_empty()) {
        // The checks on the list as a whole (none at all, every weight 0).
        errors.take(v.endpoint_list(raw.endpoints.as_ref(), &endpoints, &flows));
    }
    let (mut thresholds, abort_on_threshold) = errors
        .take(v.thresholds(raw.thresholds.as_ref(), "thresholds", None))
        .unwrap_or_default();
    for (i, (e, endpoint)) in listed.iter().zip(&loaded).enumerate() {
        let Some(endpoint) = endpoint else { continue };
        let key = format!("endpoints[{i}].thresholds");
        let table = e.get_ref().thresholds.as_ref();
        let Some((list, abort)) = errors.take(v.thresholds(table, &key, Some(&endpoint.name)))
        else {
            continue;
        };
        if abort {
            errors.take::<()>(Err(v.err(
                e.span(),
                &key,
                "abort goes in the top-level [thresholds] table",
            )));
        }
        thresholds.extend(list);
    }
    if !errors.0.is_empty() {
        return Err(errors.0);
    }
    Ok(Plan {
        name: raw.name.map(|n| n.into_inner()),
        host: raw.host.expect("checked above").into_inner(),
        load: load.expect("no error"),
        endpoints,
        thresholds,
        abort_on_threshold,
        flows,
        on_start,
        on_stop,
        data,
        cookies,
        vars: vars.expect("no error"),
        net,
        tag_filter: Default::default(),
        user_types,
        ids: Default::default(),
        request_timeout: None,
    })
}

/// Every variable a template may use: the names that `extract` sets anywhere in the
/// scenario, and `set.column` for each data file.
fn known_vars(raw: &RawScenario, data: &[DataSet]) -> HashSet<String> {
    let steps = raw
        .endpoints
        .iter()
        .flat_map(|l| l.get_ref().iter())
        .chain(raw.on_start.iter().flatten())
        .chain(raw.on_stop.iter().flatten())
        .chain(
            raw.flows
                .iter()
                .flatten()
                .flat_map(|f| f.get_ref().steps.iter().flatten()),
        )
        .chain(raw.users.iter().flatten().flat_map(|u| {
            let u = u.get_ref();
            u.endpoints
                .iter()
                .flatten()
                .chain(u.on_start.iter().flatten())
                .chain(u.on_stop.iter().flatten())
                .chain(
                    u.flows
                        .iter()
                        .flatten()
                        .flat_map(|f| f.get_ref().steps.iter().flatten()),
                )
        }));
    let mut vars: HashSet<String> = steps
        .flat_map(|e| e.get_ref().extract.iter().flatten().map(|(k, _)| k.clone()))
        .chain(raw.vars.iter().flatten().map(|(k, _)| k.clone()))
        .collect();
    vars.extend(data_fields(data));
    vars
}

/// `set.column` for every column of every data file.
/// The longest value of each data-file field.
fn data_sizes(data: &[DataSet]) -> HashMap<String, usize> {
    let mut sizes = HashMap::new();
    for d in data {
        for (i, c) in d.columns.iter().enumerate() {
            let longest = d
                .rows
                .iter()
                .filter_map(|r| r.get(i))
                .map(String::len)
                .max();
            sizes.insert(format!("{}.{c}", d.name), longest.unwrap_or(0));
        }
    }
    sizes
}

fn data_fields(data: &[DataSet]) -> impl Iterator<Item = String> + '_ {
    data.iter()
        .flat_map(|d| d.columns.iter().map(move |c| format!("{}.{c}", d.name)))
}

/// Values for checking a template at load time: every variable is "x".
struct Probe(fastrand::Rng);

impl super::template::Context for Probe {
    fn user_id(&self) -> u64 {
        0
    }
    fn next_seq(&mut self) -> u64 {
        0
    }
    fn rng(&mut self) -> &mut fastrand::Rng {
        &mut self.0
    }
    fn var(&self, _: &str) -> Option<&str> {
        Some("x")
    }
}

/// How large a data file may be unless its `max_size` says otherwise: its rows are
/// held in memory.
pub const DEFAULT_DATA_LIMIT: u64 = 64 << 20;

/// "64MB" -> bytes (KB, MB, GB are powers of 1024; a plain number is bytes).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "KB" | "K" => 10,
        "MB" | "M" => 20,
        "GB" | "G" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

/// Opens a data file for reading, refusing what is not a regular file (a directory, a
/// FIFO that would block, a device such as /dev/zero that never ends) and files above
/// `limit` bytes. The reader stops past the limit even if the file grows meanwhile.
fn open_data_file(
    path: &std::path::Path,
    limit: u64,
    key: &str,
) -> std::result::Result<impl std::io::Read, String> {
    let shown = path.display();
    let meta = crate::fsutil::regular_file(path, "give a CSV file")?;
    if meta.len() > limit {
        return Err(format!(
            "{shown} is {} bytes, above the limit of {limit} bytes for a data file (its rows are held in memory); raise it with max_size = \"{}MB\" in [{key}]",
            meta.len(),
            meta.len().div_ceil(1 << 20)
        ));
    }
    let file = std::fs::File::open(path).map_err(|e| format!("cannot read {shown}: {e}"))?;
    Ok(std::io::Read::take(file, limit))
}

/// The port as written after the host (None when there is none), IPv6 brackets aware.
fn port_text(authority: &str) -> Option<&str> {
    let after_host = match authority.rfind(']') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    after_host.rfind(':').map(|i| &after_host[i + 1..])
}

/// `user:secret@host` with the password hidden, for an error message.
fn redacted(authority: &str) -> String {
    let (info, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    match info.split_once(':') {
        Some((user, _)) => format!("{user}:***@{host}"),
        None => format!("{info}@{host}"),
    }
}

/// `"2xx"` or `"200-299"` as an inclusive range.
fn status_range(s: &str) -> Option<(u16, u16)> {
    let s = s.trim();
    let range = if let Some(d) = s.strip_suffix("xx") {
        let d: u16 = d.parse().ok()?;
        (d * 100, d * 100 + 99)
    } else if let Some((a, b)) = s.split_once('-') {
        (a.trim().parse().ok()?, b.trim().parse().ok()?)
    } else {
        let c: u16 = s.parse().ok()?;
        (c, c)
    };
    (100 <= range.0 && range.0 <= range.1 && range.1 <= 599).then_some(range)
}

fn encode_form(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The host's origin plus any path prefix (`http://h/api` -> prefix `/api`).
struct Base {
    origin: Origin,
    prefix: String,
}

struct Defaults {
    headers: HeaderMap,
    timeout: Duration,
    /// Default headers whose values are templates.
    templated: Vec<(HeaderName, Template)>,
    redirects: Redirects,
}

struct Validator<'a> {
    loc: Locator<'a>,
    /// Variables templates may use.
    vars: HashSet<String>,
    /// The most bytes each variable known before the run can hold (`[vars]` values and
    /// data-file fields; not extracted ones).
    sizes: HashMap<String, usize>,
}

impl Validator<'_> {
    fn err(
        &self,
        span: std::ops::Range<usize>,
        key: &str,
        msg: impl Into<String>,
    ) -> ScenarioError {
        self.loc.error(span, key, msg)
    }

    fn base(&self, host: &Spanned<String>) -> Result<Base> {
        let (origin, uri) = self.origin(host, "host")?;
        if uri.query().is_some() {
            return Err(self.err(
                host.span(),
                "host",
                "must not have a query string; put it in the endpoint's path",
            ));
        }
        let prefix = uri.path().trim_end_matches('/').to_string();
        Ok(Base { origin, prefix })
    }

    /// Parses an absolute `http://` or `https://` URL.
    fn origin(&self, url: &Spanned<String>, key: &str) -> Result<(Origin, Uri)> {
        let text = url.get_ref().trim();
        let bad = |m: String| self.err(url.span(), key, m);
        let tls = text.starts_with("https://");
        if !tls && !text.starts_with("http://") {
            return Err(bad(format!(
                "\"{text}\" is not an http:// or https:// URL; write e.g. \"http://127.0.0.1:8080\""
            )));
        }
        let uri: Uri = text
            .parse()
            .map_err(|e| bad(format!("\"{text}\" is not a valid URL ({e})")))?;
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad(format!("\"{text}\" has no host name")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let authority = uri.authority().map_or("", |a| a.as_str());
        if authority.contains('@') {
            return Err(bad(format!(
                "has credentials in it ({}); swarm does not send them from the URL, so they never show in a report: \
                 remove them and send a header instead, e.g. [defaults] headers = {{ Authorization = \"Basic ...\" }}",
                redacted(authority)
            )));
        }
        let default_port = if tls { 443 } else { 80 };
        let port = match port_text(authority) {
            None => default_port,
            Some(p) => match p.parse::<u32>() {
                Ok(n @ 1..=65535) => n as u16,
                _ => {
                    return Err(bad(format!(
                        "port \"{p}\" is out of range; a port is a number from 1 to 65535, e.g. \"http://{host}:8080\""
                    )));
                }
            },
        };
        Ok((Origin { host, port, tls }, uri))
    }

    fn load(&self, raw: RawLoad) -> Result<Load> {
        let mut load = Load::default();
        if let Some(u) = &raw.users {
            load.users = self.integer(u, "load.users", 1)? as u32;
        }
        load.spawn_rate = match &raw.spawn_rate {
            Some(r) => self.spawn_rate(r, "load.spawn_rate")?,
            None => f64::from(load.users).max(1.0),
        };
        if let Some(t) = &raw.run_time {
            load.run_time = Some(self.positive_duration(t, "load.run_time")?);
        }
        if let Some(w) = &raw.wait {
            load.wait = self.wait(w, "load.wait")?;
        }
        if let Some(n) = &raw.iterations {
            load.max_iterations = Some(self.integer(n, "load.iterations", 1)? as u64);
        }
        load.stop_timeout = match &raw.stop_timeout {
            Some(t) => self.duration(t, "load.stop_timeout")?,
            None => DEFAULT_STOP_TIMEOUT,
        };
        if let Some(r) = &raw.arrival_rate {
            let rate = self.rate(r, "load.arrival_rate")?;
            if rate == 0.0 && raw.stages.as_ref().is_none_or(Vec::is_empty) {
                return Err(self.err(
                    r.span(),
                    "load.arrival_rate",
                    "0/s would start no iteration at all; give a rate above 0, e.g. \"10/s\", or [[load.stages]] that ramp up from it",
                ));
            }
            load.arrival_rate = Some(rate);
        }
        for (i, stage) in raw.stages.iter().flatten().enumerate() {
            let key = format!("load.stages[{i}]");
            let st = self.stage(stage, &key)?;
            let first_open = load
                .stages
                .first()
                .map(|s: &Stage| s.arrival_rate.is_some());
            if first_open.is_some_and(|open| open != st.arrival_rate.is_some()) {
                return Err(self.err(
                    stage.span(),
                    &key,
                    "mixes user stages and arrival-rate stages; use one kind throughout",
                ));
            }
            load.stages.push(st);
        }
        if load.stages.iter().any(|s| s.arrival_rate.is_some()) && load.arrival_rate.is_none() {
            // k6's ramping-arrival-rate starts from 0 unless told otherwise.
            load.arrival_rate = Some(0.0);
        }
        if load.is_open() {
            if let Some(u) = &raw.users {
                return Err(self.err(
                    u.span(),
                    "load.users",
                    "does not apply with arrival_rate (open model); cap concurrent users with max_users",
                ));
            }
            if let Some(s) = raw
                .stages
                .iter()
                .flatten()
                .find(|s| s.get_ref().users.is_some())
            {
                return Err(self.err(
                    s.span(),
                    "load.stages",
                    "mixes user stages with arrival_rate; give each stage an arrival_rate",
                ));
            }
        } else {
            for (k, v) in [
                ("max_users", &raw.max_users),
                ("queue_timeout", &raw.queue_timeout),
            ] {
                if let Some(v) = v {
                    return Err(self.err(
                        v.span(),
                        &format!("load.{k}"),
                        "applies to the open model only; set load.arrival_rate too",
                    ));
                }
            }
        }
        if let Some(m) = &raw.max_users {
            load.max_users = self.integer(m, "load.max_users", 1)? as u32;
        }
        load.queue_timeout = match &raw.queue_timeout {
            Some(t) => self.positive_duration(t, "load.queue_timeout")?,
            None => DEFAULT_QUEUE_TIMEOUT,
        };
        if load.run_time.is_none() && !load.stages.is_empty() {
            load.run_time = Some(load.stages.iter().map(|s| s.duration).sum());
        }
        Ok(load)
    }

    fn stage(&self, raw: &Spanned<RawStage>, key: &str) -> Result<Stage> {
        let st = raw.get_ref();
        let missing = |k: &str| {
            self.err(
                raw.span(),
                &format!("{key}.{k}"),
                "is missing; a stage needs users (or arrival_rate) and duration",
            )
        };
        let duration = st.duration.as_ref().ok_or_else(|| missing("duration"))?;
        let duration = self.duration(duration, &format!("{key}.duration"))?;
        if let Some(rate) = &st.arrival_rate {
            if let Some(u) = &st.users {
                return Err(self.err(
                    u.span(),
                    &format!("{key}.users"),
                    "cannot go with arrival_rate in one stage; a stage sets one or the other",
                ));
            }
            if let Some(r) = &st.spawn_rate {
                return Err(self.err(
                    r.span(),
                    &format!("{key}.spawn_rate"),
                    "does not apply to an arrival-rate stage, which ramps linearly",
                ));
            }
            return Ok(Stage {
                users: 0,
                duration,
                spawn_rate: None,
                arrival_rate: Some(self.rate(rate, &format!("{key}.arrival_rate"))?),
            });
        }
        let users = st.users.as_ref().ok_or_else(|| missing("users"))?;
        Ok(Stage {
            users: self.integer(users, &format!("{key}.users"), 0)? as u32,
            duration,
            spawn_rate: match &st.spawn_rate {
                Some(r) => Some(self.spawn_rate(r, &format!("{key}.spawn_rate"))?),
                None => None,
            },
            arrival_rate: None,
        })
    }

    fn defaults(&self, raw: RawDefaults) -> Result<(Defaults, bool, NetOptions)> {
        let flag = |v: &Option<SpannedValue>, key: &str, default: bool| -> Result<bool> {
            match v {
                None => Ok(default),
                Some(c) => c
                    .get_ref()
                    .as_bool()
                    .ok_or_else(|| self.err(c.span(), key, "must be true or false")),
            }
        };
        let cookies = flag(&raw.cookies, "defaults.cookies", true)?;
        let mut net = NetOptions {
            http2: flag(&raw.http2, "defaults.http2", false)?,
            insecure: flag(&raw.insecure, "defaults.insecure", false)?,
            system_roots: false,
            local_addresses: Vec::new(),
            http_debug: 0,
        };
        if let Some(v) = &raw.local_addresses {
            let key = "defaults.local_addresses";
            let example = "[\"127.0.0.2\", \"127.0.0.3\"] or [\"127.0.0.2-127.0.0.9\"]";
            let Value::Array(items) = v.get_ref() else {
                return Err(self.err(
                    v.span(),
                    key,
                    format!(
                        "{} is not a list of addresses; write e.g. {example}",
                        v.get_ref()
                    ),
                ));
            };
            for item in items {
                let Value::String(text) = item else {
                    return Err(self.err(
                        v.span(),
                        key,
                        format!("{item} is not an address; write e.g. {example}"),
                    ));
                };
                let found =
                    super::addresses::parse_entry(text).map_err(|m| self.err(v.span(), key, m))?;
                net.local_addresses.extend(found);
            }
        }
        if let Some(r) = &raw.tls_roots {
            net.system_roots = match r.get_ref().as_str() {
                Some("webpki") => false,
                Some("system") => true,
                _ => {
                    return Err(self.err(
                        r.span(),
                        "defaults.tls_roots",
                        "write \"webpki\" (the bundled Mozilla roots, the default) or \"system\" (the operating system's)",
                    ));
                }
            };
        }
        let redirects = match &raw.redirects {
            Some(r) => self.redirects(r, "defaults.redirects")?,
            None => Redirects::SameHost,
        };
        let mut defaults = self.default_headers(raw)?;
        defaults.redirects = redirects;
        Ok((defaults, cookies, net))
    }

    fn redirects(&self, v: &SpannedValue, key: &str) -> Result<Redirects> {
        match v.get_ref().as_str() {
            Some("same-host") => Ok(Redirects::SameHost),
            Some("none") => Ok(Redirects::None),
            Some("any") => Ok(Redirects::Any),
            _ => Err(self.err(
                v.span(),
                key,
                "write \"same-host\" (follow redirects on the same scheme, host and port: the default), \"none\" or \"any\"",
            )),
        }
    }

    fn default_headers(&self, raw: RawDefaults) -> Result<Defaults> {
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("swarm/", env!("CARGO_PKG_VERSION"))),
        );
        let templated = self.headers(raw.headers.as_ref(), "defaults.headers", &mut headers)?;
        let timeout = match &raw.timeout {
            Some(t) => self.positive_duration(t, "defaults.timeout")?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(Defaults {
            headers,
            timeout,
            templated,
            redirects: Redirects::SameHost,
        })
    }

    /// The checks on the endpoint list as a whole: there is something to pick (an
    /// endpoint or a flow) with a weight of 1 or more.
    fn endpoint_list(
        &self,
        raw: Option<&Spanned<Vec<Spanned<RawEndpoint>>>>,
        endpoints: &[Endpoint],
        flows: &[Flow],
    ) -> Result<()> {
        let Some(raw) = raw else {
            if !flows.is_empty() {
                if flows.iter().all(|f| f.weight == 0) {
                    return Err(self.err(
                        0..0,
                        "flows",
                        "every flow has weight 0; give at least one a weight of 1 or more",
                    ));
                }
                return Ok(());
            }
            return Err(self.err(
                0..0,
                "endpoints",
                "no endpoints; add an [[endpoints]] table with a path",
            ));
        };
        if raw.get_ref().is_empty() && flows.is_empty() {
            return Err(self.err(
                raw.span(),
                "endpoints",
                "is empty; add at least one endpoint with a path",
            ));
        }
        if endpoints.iter().all(|e| e.weight == 0) && flows.iter().all(|f| f.weight == 0) {
            return Err(self.err(
                raw.span(),
                "endpoints",
                "every endpoint has weight 0; give at least one a weight of 1 or more",
            ));
        }
        Ok(())
    }

    fn endpoint(
        &self,
        raw: &Spanned<RawEndpoint>,
        key: &str,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<Endpoint> {
        let e = raw.get_ref();
        let k = |field: &str| format!("{key}.{field}");
        let method = match &e.method {
            Some(m) => self.method(m, &k("method"))?,
            None => Method::GET,
        };
        let Some(path) = &e.path else {
            return Err(self.err(raw.span(), &k("path"), "is missing; add e.g. path = \"/\""));
        };
        let (origin, target, target_template) = self.target_with_query(e, path, key, base)?;
        let weight = match &e.weight {
            Some(w) => self.integer(w, &k("weight"), 0)? as u32,
            None => 1,
        };
        let mut headers = defaults.headers.clone();
        headers.insert(
            HOST,
            HeaderValue::from_str(&origin.authority()).expect("host checked by Uri"),
        );
        let (body, body_template) = self.body(e, key, &mut headers)?;
        let own = self.headers(e.headers.as_ref(), &k("headers"), &mut headers)?;
        // Templated defaults, unless the endpoint sets the header itself.
        let mut header_templates: Vec<(HeaderName, Template)> = defaults
            .templated
            .iter()
            .filter(|(name, _)| {
                !e.headers
                    .iter()
                    .flatten()
                    .any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
            })
            .cloned()
            .collect();
        header_templates.extend(own);
        self.content_length(e, key, &body, body_template.is_some())?;
        let timeout = match &e.timeout {
            Some(t) => self.positive_duration(t, &k("timeout"))?,
            None => defaults.timeout,
        };
        let (expect, checks) = match &e.expect {
            Some(x) => self.expect(x.get_ref(), x.span(), &k("expect"))?,
            None => (Expect::Below400, Vec::new()),
        };
        let extract = self.extract(e.extract.as_ref(), &k("extract"))?;
        let dynamic =
            (target_template.is_some() || body_template.is_some() || !header_templates.is_empty())
                .then(|| {
                    Arc::new(Dynamic {
                        target: target_template,
                        headers: header_templates,
                        body: body_template,
                    })
                });
        let name = match &e.name {
            Some(n) if !n.get_ref().trim().is_empty() => n.get_ref().trim().to_string(),
            Some(n) => {
                return Err(self.err(
                    n.span(),
                    &k("name"),
                    "is empty; leave it out for the default \"METHOD path\"",
                ));
            }
            // An absolute URL on the scenario's own host is named by its path, as Locust does.
            None if path.get_ref().starts_with("http") && origin == base.origin => {
                format!("{method} {target}")
            }
            None => format!("{method} {}", path.get_ref()),
        };
        Ok(Endpoint {
            name,
            method,
            path: path.get_ref().clone(),
            origin,
            target,
            weight,
            headers,
            body,
            timeout,
            expect,
            checks,
            extract,
            dynamic,
            redirects: match &e.redirects {
                Some(r) => self.redirects(r, &k("redirects"))?,
                None => defaults.redirects,
            },
            tags: self.tags(e.tags.as_ref(), &k("tags"))?,
        })
    }

    /// One `[[users]]` table.
    fn user_type(
        &self,
        raw: &Spanned<RawUserType>,
        i: usize,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<UserType> {
        let u = raw.get_ref();
        let key = format!("users[{i}]");
        let k = |field: &str| format!("{key}.{field}");
        let name = match &u.name {
            Some(n) if !n.get_ref().trim().is_empty() => n.get_ref().trim().to_string(),
            Some(n) => {
                return Err(self.err(
                    n.span(),
                    &k("name"),
                    "is empty; give the type a name, e.g. \"visitor\"",
                ));
            }
            None => {
                return Err(self.err(
                    raw.span(),
                    &k("name"),
                    "is missing; give each user type a name, e.g. name = \"visitor\"",
                ));
            }
        };
        let endpoints = u
            .endpoints
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, e)| {
                if let Some(t) = &e.get_ref().thresholds
                    && !t.is_empty()
                {
                    return Err(self.err(
                        e.span(),
                        &format!("{}[{j}].thresholds", k("endpoints")),
                        "thresholds of a user type's endpoint go in the top-level [thresholds] table for now; an endpoint's row is shared by every type that has it",
                    ));
                }
                self.endpoint(e, &format!("{}[{j}]", k("endpoints")), base, defaults)
            })
            .collect::<Result<Vec<_>>>()?;
        let flows = u
            .flows
            .iter()
            .flatten()
            .enumerate()
            .map(|(j, f)| self.flow(f, &format!("{}[{j}]", k("flows")), base, defaults))
            .collect::<Result<Vec<_>>>()?;
        let hooks = |list: &Option<Vec<Spanned<RawEndpoint>>>, field: &str| {
            list.iter()
                .flatten()
                .enumerate()
                .map(|(j, e)| self.endpoint(e, &format!("{}[{j}]", k(field)), base, defaults))
                .collect::<Result<Vec<_>>>()
        };
        let on_start = hooks(&u.on_start, "on_start")?;
        let on_stop = hooks(&u.on_stop, "on_stop")?;
        if !endpoints.iter().any(|e| e.weight > 0) && !flows.iter().any(|f| f.weight > 0) {
            return Err(self.err(
                raw.span(),
                &k("endpoints"),
                format!("user type \"{name}\" has nothing to run; add [[users.endpoints]] or [[users.flows]] with a weight above 0"),
            ));
        }
        let weight = match &u.weight {
            Some(w) => self.integer(w, &k("weight"), 0)? as u32,
            None => 1,
        };
        let fixed_count = match &u.fixed_count {
            Some(n) => self.integer(n, &k("fixed_count"), 0)? as u32,
            None => 0,
        };
        let wait = match &u.wait {
            Some(w) => Some(self.wait(w, &k("wait"))?),
            None => None,
        };
        Ok(UserType {
            name,
            weight,
            fixed_count,
            wait,
            endpoints,
            flows,
            on_start,
            on_stop,
            tags: self.tags(u.tags.as_ref(), &k("tags"))?,
        })
    }

    /// With `[[users]]`, every task lives in a type: top-level tasks would belong to none.
    fn user_types_alone(&self, raw: &RawScenario, types: &[UserType]) -> Result<()> {
        let top = [
            ("endpoints", raw.endpoints.as_ref().map(|e| e.span())),
            (
                "flows",
                raw.flows.as_ref().and_then(|f| f.first()).map(|f| f.span()),
            ),
            (
                "on_start",
                raw.on_start
                    .as_ref()
                    .and_then(|f| f.first())
                    .map(|f| f.span()),
            ),
            (
                "on_stop",
                raw.on_stop
                    .as_ref()
                    .and_then(|f| f.first())
                    .map(|f| f.span()),
            ),
        ];
        for (key, span) in top {
            if let Some(span) = span {
                return Err(self.err(
                    span,
                    key,
                    format!("a scenario with [[users]] keeps its tasks in the user types; move this into one, e.g. [[users.{key}]]"),
                ));
            }
        }
        for (i, t) in types.iter().enumerate() {
            if let Some(j) = types[..i].iter().position(|o| o.name == t.name) {
                return Err(self.err(
                    raw.users.as_ref().map_or(0..0, |u| u[i].span()),
                    &format!("users[{i}].name"),
                    format!(
                        "\"{}\" is the name of users[{j}] too; give each type its own name",
                        t.name
                    ),
                ));
            }
        }
        let all_loaded = types.len() == raw.users.as_ref().map_or(0, Vec::len);
        if all_loaded && types.iter().all(|t| t.weight == 0 && t.fixed_count == 0) {
            return Err(self.err(
                raw.users.as_ref().map_or(0..0, |u| u[0].span()),
                "users",
                "every user type has weight 0 and no fixed_count; give one a weight of 1 or more",
            ));
        }
        Ok(())
    }

    fn flow(
        &self,
        raw: &Spanned<RawFlow>,
        key: &str,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<Flow> {
        let f = raw.get_ref();
        let steps = f
            .steps
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, e)| self.endpoint(e, &format!("{key}.steps[{i}]"), base, defaults))
            .collect::<Result<Vec<_>>>()?;
        if steps.is_empty() {
            return Err(self.err(
                raw.span(),
                &format!("{key}.steps"),
                "is missing; a flow needs [[flows.steps]] tables, each with a path",
            ));
        }
        let weight = match &f.weight {
            Some(w) => self.integer(w, &format!("{key}.weight"), 0)? as u32,
            None => 1,
        };
        let name = match &f.name {
            Some(n) => n.get_ref().trim().to_string(),
            None => key.replace('[', " ").replace(']', ""),
        };
        Ok(Flow {
            name,
            weight,
            steps,
            tags: self.tags(f.tags.as_ref(), &format!("{key}.tags"))?,
        })
    }

    /// `[data.NAME] file = "users.csv"`: a CSV file with a header row, read now.
    fn data(
        &self,
        raw: Option<&BTreeMap<String, Spanned<RawData>>>,
        scenario_file: &str,
    ) -> Result<Vec<DataSet>> {
        let dir = std::path::Path::new(scenario_file)
            .parent()
            .map(|p| p.to_path_buf())
            .unwrap_or_default();
        let mut sets = Vec::new();
        for (name, d) in raw.into_iter().flatten() {
            let key = format!("data.{name}");
            let Some(file) = &d.get_ref().file else {
                return Err(self.err(
                    d.span(),
                    &format!("{key}.file"),
                    "is missing; write e.g. file = \"users.csv\" (next to the scenario)",
                ));
            };
            let unique = match &d.get_ref().mode {
                None => false,
                Some(m) => match m.get_ref().as_str() {
                    "cycle" => false,
                    "unique" => true,
                    other => {
                        return Err(self.err(
                            m.span(),
                            &format!("{key}.mode"),
                            format!("\"{other}\" is not a mode; write \"cycle\" (rows in order, from the top again at the end) or \"unique\" (each row to one user only)"),
                        ));
                    }
                },
            };
            let limit = match &d.get_ref().max_size {
                Some(v) => self.size(v, &format!("{key}.max_size"))?,
                None => DEFAULT_DATA_LIMIT,
            };
            let path = dir.join(file.get_ref());
            let fk = format!("{key}.file");
            let bad = |m: String| self.err(file.span(), &fk, m);
            let opened = open_data_file(&path, limit, &key).map_err(bad)?;
            let mut reader = csv::Reader::from_reader(opened);
            let columns: Vec<String> = reader
                .headers()
                .map_err(|e| bad(format!("{}: {e}", path.display())))?
                .iter()
                .map(|c| c.trim().to_string())
                .collect();
            let mut rows = Vec::new();
            for record in reader.records() {
                let record = record.map_err(|e| bad(format!("{}: {e}", path.display())))?;
                rows.push(record.iter().map(str::to_string).collect::<Vec<_>>());
            }
            if rows.is_empty() {
                return Err(bad(format!(
                    "{} has no rows under its header line",
                    path.display()
                )));
            }
            sets.push(DataSet {
                name: name.clone(),
                file: file.get_ref().clone(),
                columns,
                rows: Arc::new(rows),
                unique,
            });
        }
        Ok(sets)
    }

    /// `[vars]`: per-user variables from templates, each able to use the ones above it
    /// and data-file fields.
    fn user_vars(
        &mut self,
        raw: Option<&indexmap::IndexMap<String, SpannedValue>>,
        data: &[DataSet],
    ) -> Result<Vec<(String, Template)>> {
        self.vars = data_fields(data).collect();
        self.sizes = data_sizes(data);
        let mut list = Vec::new();
        for (name, value) in raw.into_iter().flatten() {
            let k = format!("vars.{name}");
            self.var_name(name, value, &k)?;
            let text = self.scalar_text(value, &k)?;
            let t = self.template(&text, value.span(), &k, Escape::None)?;
            self.vars.insert(name.clone());
            if let Some(n) = t.max_len(&|v| self.sizes.get(v).copied()) {
                self.sizes.insert(name.clone(), n);
            }
            list.push((name.clone(), t));
        }
        Ok(list)
    }

    /// A variable name (in `[vars]` or `extract`): letters, digits, `_` and `-`.
    fn var_name(&self, name: &str, at: &SpannedValue, key: &str) -> Result<()> {
        if name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-')
        {
            return Ok(());
        }
        Err(self.err(
            at.span(),
            key,
            "a variable name takes letters, digits, _ and - only",
        ))
    }

    /// A JSON pointer: empty (the whole document) or starting with "/".
    fn json_pointer(&self, p: &str, at: &SpannedValue, key: &str, example: &str) -> Result<()> {
        if p.is_empty() || p.starts_with('/') {
            return Ok(());
        }
        Err(self.err(
            at.span(),
            key,
            format!("\"{p}\" is not a JSON pointer; it starts with \"/\", e.g. {example}"),
        ))
    }

    /// Parses a template and checks its variables against the scenario's.
    fn template(
        &self,
        text: &str,
        span: std::ops::Range<usize>,
        key: &str,
        escape: Escape,
    ) -> Result<Template> {
        let t = Template::parse(text, escape, &env_var)
            .map_err(|e| self.err(span.clone(), key, e.message))?;
        self.check_vars(&t, span.clone(), key)?;
        if let Some(n) = t.max_len(&|v| self.sizes.get(v).copied())
            && n > MAX_RENDERED_BYTES
        {
            let biggest = t
                .vars()
                .filter_map(|v| Some((self.sizes.get(v)?, v)))
                .max()
                .map(|(size, v)| format!(" ({{{{{v}}}}} alone holds up to {size} bytes)"))
                .unwrap_or_default();
            return Err(self.err(
                span,
                key,
                format!(
                    "expands to up to {n} bytes for each user{biggest}, above the {} MB a template may render; variables that repeat each other double at every step",
                    MAX_RENDERED_BYTES >> 20
                ),
            ));
        }
        Ok(t)
    }

    fn check_vars(&self, t: &Template, span: std::ops::Range<usize>, key: &str) -> Result<()> {
        for var in t.vars() {
            if self.vars.contains(var) {
                continue;
            }
            let known: Vec<&str> = self.vars.iter().map(String::as_str).collect();
            let mut msg = format!("{{{{{var}}}}} is not a variable of this scenario");
            if let Some(best) = nearest(var, &known) {
                msg += &format!("; did you mean \"{best}\"?");
            }
            msg += " (variables come from [vars], from extract = { name = \"/json/pointer\" }, or from data files as {{set.column}})";
            return Err(self.err(span, key, msg));
        }
        Ok(())
    }

    /// `extract = { token = "/token", sid = { header = "X-Session" }, id = { regex = "id=(\\d+)" } }`
    fn extract(
        &self,
        raw: Option<&BTreeMap<String, SpannedValue>>,
        key: &str,
    ) -> Result<Vec<Extract>> {
        let mut list = Vec::new();
        for (var, value) in raw.into_iter().flatten() {
            let k = format!("{key}.{var}");
            self.var_name(var, value, &k)?;
            let pointer = |p: &str| -> Result<ExtractFrom> {
                self.json_pointer(p, value, &k, "\"/token\" or \"/data/0/id\"")?;
                Ok(ExtractFrom::Json(p.to_string()))
            };
            let from = match value.get_ref() {
                Value::String(p) => pointer(p)?,
                Value::Table(t) if t.len() == 1 => {
                    let (kind, v) = t.iter().next().expect("one entry");
                    let text = v.as_str().ok_or_else(|| {
                        self.err(value.span(), &k, format!("{kind} must be a string"))
                    })?;
                    match kind.as_str() {
                        "json" => pointer(text)?,
                        "header" => ExtractFrom::Header(HeaderName::from_bytes(text.as_bytes()).map_err(|_| {
                            self.err(value.span(), &k, format!("\"{text}\" is not a valid header name"))
                        })?),
                        "regex" => ExtractFrom::Regex(regex::Regex::new(text).map_err(|e| {
                            self.err(value.span(), &k, format!("is not a valid regex: {e}"))
                        })?),
                        other => return Err(self.err(value.span(), &k, format!("\"{other}\" is not a source; write json = \"/pointer\", header = \"Name\" or regex = \"id=(\\\\d+)\""))),
                    }
                }
                _ => {
                    return Err(self.err(value.span(), &k, "write a JSON pointer (\"/token\"), or { header = \"Name\" }, or { regex = \"...\" }"));
                }
            };
            list.push(Extract {
                var: var.clone(),
                from,
            });
        }
        Ok(list)
    }

    /// The path (with the host's prefix) and the `query` table; a template when either
    /// uses one.
    fn target_with_query(
        &self,
        e: &RawEndpoint,
        path: &Spanned<String>,
        key: &str,
        base: &Base,
    ) -> Result<(Origin, Uri, Option<Template>)> {
        let pk = format!("{key}.path");
        let templated = path.get_ref().contains("{{");
        let query = e.query.as_ref();
        if !templated && query.is_none() {
            let (origin, uri) = self.target(path, &pk, base)?;
            return Ok((origin, uri, None));
        }
        let text = path.get_ref().trim();
        let path_t = self.template(text, path.span(), &pk, Escape::Path)?;
        // The path's static form (templates as "x") must be a valid path on its own.
        let probe_path = path_t
            .render_string(&mut Probe(fastrand::Rng::with_seed(0)))
            .expect("the probe has every variable");
        let has_query = probe_path.contains('?');
        let (origin, uri) = self.target(&Spanned::new(path.span(), probe_path), &pk, base)?;
        let mut t = Template::default();
        if text.starts_with("http://") || text.starts_with("https://") {
            // The origin-form part of an absolute URL: skip scheme and authority.
            let after = &text[text.find("//").expect("checked") + 2..];
            let rest = &after[after.find('/').unwrap_or(after.len())..];
            let rest = if rest.is_empty() { "/" } else { rest };
            t = self.template(rest, path.span(), &pk, Escape::Path)?;
        } else {
            t.push_literal(&base.prefix);
            t.push_parsed_template(path_t);
        }
        if let Some(q) = query {
            // A query table is encoded as a form is, after "?" (or "&" after a query
            // already in the path).
            t.push_literal(if has_query { "&" } else { "?" });
            t.push_parsed_template(self.form(q, &format!("{key}.query"))?);
        }
        if !t.is_static() {
            return Ok((origin, uri, Some(t)));
        }
        let full = t.static_text();
        let uri: Uri = full.parse().map_err(|err| {
            self.err(
                path.span(),
                &pk,
                format!("\"{full}\" is not a valid path and query ({err})"),
            )
        })?;
        Ok((origin, uri, None))
    }

    /// A `thresholds` table: metric = "condition" pairs, plus `abort` at the top level.
    fn thresholds(
        &self,
        raw: Option<&BTreeMap<String, SpannedValue>>,
        key: &str,
        endpoint: Option<&str>,
    ) -> Result<(Vec<Threshold>, bool)> {
        let mut list = Vec::new();
        let mut abort = false;
        for (metric, value) in raw.into_iter().flatten() {
            let k = format!("{key}.{metric}");
            if metric == "abort" {
                abort = value
                    .get_ref()
                    .as_bool()
                    .ok_or_else(|| self.err(value.span(), &k, "must be true or false"))?;
                continue;
            }
            let cond = self.string(value, &k, "\"< 300ms\"")?;
            let (m, op, limit) =
                threshold::parse(metric, cond).map_err(|e| self.err(value.span(), &k, e))?;
            let text = format!("{metric} {}", cond.trim());
            list.push(Threshold {
                endpoint: endpoint.map(str::to_string),
                metric: m,
                op,
                limit,
                text,
            });
        }
        Ok((list, abort))
    }

    fn method(&self, m: &Spanned<String>, key: &str) -> Result<Method> {
        let upper = m.get_ref().trim().to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            return Ok(Method::from_bytes(upper.as_bytes()).expect("standard method"));
        }
        let mut msg = format!("\"{}\" is not an HTTP method", m.get_ref());
        if let Some(best) = nearest(&upper, METHODS) {
            msg += &format!("; did you mean \"{best}\"?");
        }
        Err(self.err(
            m.span(),
            key,
            msg + &format!(" (one of {})", METHODS.join(", ")),
        ))
    }

    fn target(&self, path: &Spanned<String>, key: &str, base: &Base) -> Result<(Origin, Uri)> {
        let text = path.get_ref().trim();
        if text.starts_with("http://") || text.starts_with("https://") {
            let (origin, uri) = self.origin(path, key)?;
            let pq = uri.path_and_query().map_or("/", |p| p.as_str());
            return Ok((origin, pq.parse().expect("path of a valid URL")));
        }
        if !text.starts_with('/') {
            return Err(self.err(path.span(), key, format!("\"{text}\" must start with \"/\" (or be an absolute http:// URL); write \"/{text}\"")));
        }
        let full = format!("{}{}", base.prefix, text);
        let uri: Uri = full
            .parse()
            .map_err(|e| self.err(path.span(), key, format!("\"{text}\" is not a valid path ({e}); percent-encode spaces and special characters")))?;
        Ok((base.origin.clone(), uri))
    }

    /// An endpoint's own Content-Length header must match the body swarm sends, or the
    /// server would wait for bytes that never come (or take the rest as a new request).
    fn content_length(
        &self,
        e: &RawEndpoint,
        key: &str,
        body: &[u8],
        templated: bool,
    ) -> Result<()> {
        let Some((name, value)) = e
            .headers
            .iter()
            .flatten()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        else {
            return Ok(());
        };
        let (span, k) = (value.span(), format!("{key}.headers.{name}"));
        let given = self.scalar_text(value, &k)?;
        if templated {
            return Err(self.err(
                span,
                &k,
                "cannot be fixed for a templated body, whose length changes per request; remove it (swarm sets Content-Length itself)",
            ));
        }
        if given.trim().parse::<usize>().ok() != Some(body.len()) {
            return Err(self.err(
                span,
                &k,
                format!(
                    "says {given:?} but the body is {} bytes; remove it (swarm sets Content-Length itself)",
                    body.len()
                ),
            ));
        }
        Ok(())
    }

    /// The body, and its template when it has one (then the bytes are unused).
    fn body(
        &self,
        e: &RawEndpoint,
        key: &str,
        headers: &mut HeaderMap,
    ) -> Result<(Bytes, Option<Template>)> {
        let given: Vec<(&str, std::ops::Range<usize>)> = [
            e.json.as_ref().map(|j| ("json", j.span())),
            e.body.as_ref().map(|b| ("body", b.span())),
            e.form.as_ref().map(|f| ("form", f.span())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() > 1 {
            let names: Vec<&str> = given.iter().map(|g| g.0).collect();
            return Err(self.err(
                given[1].1.clone(),
                &format!("{key}.{}", given[1].0),
                format!(
                    "an endpoint takes at most one body, but has {}; keep one",
                    names.join(" and ")
                ),
            ));
        }
        let mut content_type = |ct: &'static str| {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        };
        if let Some(j) = &e.json {
            content_type("application/json");
            let bytes = serde_json::to_vec(j.get_ref()).map_err(|err| {
                self.err(
                    j.span(),
                    &format!("{key}.json"),
                    format!("cannot be sent as JSON: {err}"),
                )
            })?;
            let text = String::from_utf8(bytes).expect("JSON is UTF-8");
            if text.contains("{{") {
                let t = self.template(&text, j.span(), &format!("{key}.json"), Escape::Json)?;
                return Ok((Bytes::new(), Some(t)));
            }
            return Ok((Bytes::from(text), None));
        }
        if let Some(f) = &e.form {
            content_type("application/x-www-form-urlencoded");
            let t = self.form(f, &format!("{key}.form"))?;
            if t.is_static() {
                return Ok((Bytes::from(t.static_text()), None));
            }
            return Ok((Bytes::new(), Some(t)));
        }
        if let Some(ct) = &e.content_type {
            let value = HeaderValue::from_str(ct.get_ref()).map_err(|_| {
                self.err(
                    ct.span(),
                    &format!("{key}.content_type"),
                    "is not a valid header value",
                )
            })?;
            headers.insert(CONTENT_TYPE, value);
        }
        match &e.body {
            Some(b) if b.get_ref().contains("{{") => {
                let t =
                    self.template(b.get_ref(), b.span(), &format!("{key}.body"), Escape::None)?;
                Ok((Bytes::new(), Some(t)))
            }
            Some(b) => Ok((Bytes::from(b.get_ref().clone()), None)),
            None => Ok((Bytes::new(), None)),
        }
    }

    /// A form body as a template: names and literal text form-encoded now, template
    /// values when each request is made.
    fn form(&self, f: &Spanned<BTreeMap<String, SpannedValue>>, key: &str) -> Result<Template> {
        let mut t = Template::default();
        for (i, (name, value)) in f.get_ref().iter().enumerate() {
            let k = format!("{key}.{name}");
            let text = self.scalar_text(value, &k)?;
            let sep = if i == 0 { "" } else { "&" };
            t.push_literal(&format!("{sep}{}=", encode_form(name)));
            let mut part = Template::default();
            part.push_parsed(&text, Escape::Form, &env_var, &encode_form)
                .map_err(|e| self.err(value.span(), &k, e.message))?;
            self.check_vars(&part, value.span(), &k)?;
            t.push_parsed_template(part);
        }
        Ok(t)
    }

    /// Static headers go into `into`; templated ones are returned.
    fn headers(
        &self,
        raw: Option<&BTreeMap<String, SpannedValue>>,
        key: &str,
        into: &mut HeaderMap,
    ) -> Result<Vec<(HeaderName, Template)>> {
        let mut templated = Vec::new();
        for (name, value) in raw.into_iter().flatten() {
            let k = format!("{key}.{name}");
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                self.err(
                    value.span(),
                    &k,
                    format!("\"{name}\" is not a valid header name"),
                )
            })?;
            if header == http::header::TRANSFER_ENCODING
                || (header == http::header::CONTENT_LENGTH && key.starts_with("defaults"))
            {
                return Err(self.err(
                    value.span(),
                    &k,
                    "is set by swarm from each request's body (sent with a Content-Length); remove this header",
                ));
            }
            let text = self.scalar_text(value, &k)?;
            if text.contains("{{") {
                let t = self.template(&text, value.span(), &k, Escape::None)?;
                into.remove(&header);
                templated.push((header, t));
                continue;
            }
            let value = HeaderValue::from_str(&text).map_err(|_| {
                self.err(
                    value.span(),
                    &k,
                    "is not a valid header value (no line breaks or control characters)",
                )
            })?;
            into.insert(header, value);
        }
        Ok(templated)
    }

    /// `expect = { status = [200, "2xx", "300-399"], body_contains = "ok", json = { "/ok" = true } }`
    fn expect(
        &self,
        raw: &RawExpect,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<(Expect, Vec<Check>)> {
        let mut checks = Vec::new();
        if let Some(b) = &raw.body_contains {
            if b.get_ref().is_empty() {
                return Err(self.err(
                    b.span(),
                    &format!("{key}.body_contains"),
                    "is empty, so every body would pass; give the text the body must contain, or leave it out",
                ));
            }
            checks.push(Check::BodyContains(b.get_ref().clone()));
        }
        for (pointer, value) in raw.json.iter().flatten() {
            let k = format!("{key}.json.{pointer}");
            self.json_pointer(pointer, value, &k, "\"/status\"")?;
            let v = serde_json::to_value(value.get_ref()).map_err(|e| {
                self.err(value.span(), &k, format!("cannot be compared as JSON: {e}"))
            })?;
            checks.push(Check::JsonEq(pointer.clone(), v));
        }
        let Some(status) = &raw.status else {
            if !checks.is_empty() {
                return Ok((Expect::Below400, checks));
            }
            return Err(self.err(
                span,
                key,
                "needs a status list, e.g. expect = { status = [200, 201] }, or body_contains / json checks",
            ));
        };
        let k = format!("{key}.status");
        let items: Vec<Value> = match status.get_ref() {
            Value::Array(a) => a.clone(),
            v @ (Value::Integer(_) | Value::String(_)) => vec![v.clone()],
            _ => {
                return Err(self.err(
                    status.span(),
                    &k,
                    "must be a list of status codes or ranges, e.g. [200, 201] or [\"2xx\"]",
                ));
            }
        };
        let mut codes = Vec::new();
        for item in items {
            let range = match &item {
                Value::Integer(c) if (100..=599).contains(c) => Some((*c as u16, *c as u16)),
                Value::String(s) => status_range(s),
                _ => None,
            };
            match range {
                Some(r) => codes.push(r),
                None => {
                    return Err(self.err(
                        status.span(),
                        &k,
                        format!("{item} is not an HTTP status code (100 to 599) or a range such as \"2xx\" or \"200-299\""),
                    ));
                }
            }
        }
        if codes.is_empty() {
            return Err(self.err(
                status.span(),
                &k,
                "is empty; list the statuses that count as success",
            ));
        }
        Ok((Expect::Statuses(codes), checks))
    }

    fn integer(&self, v: &SpannedValue, key: &str, min: i64) -> Result<i64> {
        match v.get_ref() {
            Value::Integer(n) if *n >= min && *n <= i64::from(u32::MAX) => Ok(*n),
            Value::Integer(n) => Err(self.err(
                v.span(),
                key,
                format!("{n} is out of range; write a whole number >= {min}"),
            )),
            other => Err(self.err(
                v.span(),
                key,
                format!("{other} is not a whole number; write a whole number >= {min}"),
            )),
        }
    }

    fn positive_number(&self, v: &SpannedValue, key: &str) -> Result<f64> {
        let n = match v.get_ref() {
            Value::Integer(n) => *n as f64,
            Value::Float(f) => *f,
            other => {
                return Err(self.err(
                    v.span(),
                    key,
                    format!("{other} is not a number; write e.g. 10 or 0.5"),
                ));
            }
        };
        if n > 0.0 && n.is_finite() {
            Ok(n)
        } else {
            Err(self.err(
                v.span(),
                key,
                format!("{n} must be above 0; write e.g. 10 or 0.5"),
            ))
        }
    }

    /// An arrival rate: `"200/s"`, `"90/m"`, or a number per second.
    fn rate(&self, v: &SpannedValue, key: &str) -> Result<f64> {
        match v.get_ref() {
            Value::Integer(n) if *n >= 0 => super::duration::check_rate(*n as f64)
                .map_err(|m| self.err(v.span(), key, format!("{n} {m}"))),
            Value::Float(f) if *f >= 0.0 && f.is_finite() => super::duration::check_rate(*f)
                .map_err(|m| self.err(v.span(), key, format!("{f} {m}"))),
            Value::String(s) => parse_rate(s).map_err(|m| self.err(v.span(), key, m)),
            other => Err(self.err(
                v.span(),
                key,
                format!("{other} is not a rate; write e.g. \"200/s\" or \"90/m\""),
            )),
        }
    }

    /// `tags = ["checkout", "slow"]`: words without commas (the flags separate by them).
    fn tags(&self, v: Option<&SpannedValue>, key: &str) -> Result<Vec<String>> {
        let Some(v) = v else {
            return Ok(Vec::new());
        };
        let bad = |what: String| self.err(v.span(), key, what);
        let Value::Array(items) = v.get_ref() else {
            return Err(bad(format!(
                "{} is not a list of tags; write e.g. tags = [\"checkout\", \"slow\"]",
                v.get_ref()
            )));
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(t) if !t.trim().is_empty() && !t.contains(',') => {
                    Ok(t.trim().to_string())
                }
                Value::String(t) if t.contains(',') => Err(bad(format!(
                    "\"{t}\" holds a comma; give each tag as its own string, e.g. [\"a\", \"b\"]"
                ))),
                other => Err(bad(format!(
                    "{other} is not a tag; tags are non-empty strings, e.g. \"checkout\""
                ))),
            })
            .collect()
    }

    /// A think time: `"500ms"`, `"1s..3s"`, `{ pacing = "2s" }` or `{ throughput = 0.5 }`.
    fn wait(&self, v: &SpannedValue, key: &str) -> Result<super::Wait> {
        const FORMS: &str = "\"500ms\", \"1s..3s\", { pacing = \"2s\" } or { throughput = 0.5 }";
        let Value::Table(t) = v.get_ref() else {
            let text = self.string(v, key, FORMS)?;
            return parse_wait(text).map_err(|m| self.err(v.span(), key, m));
        };
        let mut keys = t.keys();
        let (Some(mode), None) = (keys.next(), keys.next()) else {
            return Err(self.err(
                v.span(),
                key,
                format!("a think-time table has one key, pacing or throughput; write e.g. {FORMS}"),
            ));
        };
        let value = &t[mode];
        match mode.as_str() {
            "pacing" => {
                let Value::String(text) = value else {
                    return Err(self.err(
                        v.span(),
                        &format!("{key}.pacing"),
                        format!("{value} is not a duration; write e.g. {{ pacing = \"2s\" }}"),
                    ));
                };
                match super::parse_duration(text) {
                    Ok(d) if !d.is_zero() => Ok(super::Wait::Pacing(d)),
                    Ok(_) => Err(self.err(
                        v.span(),
                        &format!("{key}.pacing"),
                        "a pacing of 0s sets no pace; give the period, e.g. \"2s\", or leave wait out",
                    )),
                    Err(m) => Err(self.err(v.span(), &format!("{key}.pacing"), m)),
                }
            }
            "throughput" => {
                let rate = match value {
                    Value::Integer(n) => *n as f64,
                    Value::Float(f) => *f,
                    other => {
                        return Err(self.err(
                            v.span(),
                            &format!("{key}.throughput"),
                            format!("{other} is not a number of tasks per second per user; write e.g. {{ throughput = 0.5 }}"),
                        ));
                    }
                };
                if rate.is_finite() && rate >= 1.0 / 86_400.0 {
                    Ok(super::Wait::Throughput(rate))
                } else {
                    Err(self.err(
                        v.span(),
                        &format!("{key}.throughput"),
                        format!("{rate} is not a throughput; give tasks per second per user above 0 (at least one a day), e.g. 0.5"),
                    ))
                }
            }
            other => Err(self.err(
                v.span(),
                &format!("{key}.{other}"),
                format!("\"{other}\" is not a think-time mode; write e.g. {FORMS}"),
            )),
        }
    }

    /// A size: a whole number of bytes, or text such as "64MB", "512KB", "2GB".
    fn size(&self, v: &SpannedValue, key: &str) -> Result<u64> {
        let bad = || {
            self.err(
                v.span(),
                key,
                format!(
                    "{} is not a size; write e.g. \"64MB\", \"512KB\" or \"2GB\"",
                    v.get_ref()
                ),
            )
        };
        let n = match v.get_ref() {
            Value::Integer(n) if *n > 0 => *n as u64,
            Value::String(s) => parse_size(s).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        Ok(n)
    }

    /// A spawn rate above 0, and not so small that one user takes more than an hour.
    fn spawn_rate(&self, v: &SpannedValue, key: &str) -> Result<f64> {
        let r = self.positive_number(v, key)?;
        if r < MIN_SPAWN_RATE {
            return Err(self.err(
                v.span(),
                key,
                format!(
                    "{r} is one user every {}; the smallest spawn rate is one user an hour ({MIN_SPAWN_RATE:.6})",
                    super::format_duration(Duration::from_secs_f64((1.0 / r).min(1e12)))
                ),
            ));
        }
        Ok(r)
    }

    /// A duration above zero (a timeout or a run time of 0s would end everything at once).
    fn positive_duration(&self, v: &SpannedValue, key: &str) -> Result<Duration> {
        let d = self.duration(v, key)?;
        if d.is_zero() {
            return Err(self.err(v.span(), key, "must be longer than 0s; write e.g. \"30s\""));
        }
        Ok(d)
    }

    fn duration(&self, v: &SpannedValue, key: &str) -> Result<Duration> {
        let text = self.string(v, key, "\"30s\"")?;
        parse_duration(text).map_err(|m| self.err(v.span(), key, m))
    }

    fn string<'v>(&self, v: &'v SpannedValue, key: &str, example: &str) -> Result<&'v str> {
        match v.get_ref() {
            Value::String(s) => Ok(s),
            Value::Integer(n) => Err(self.err(
                v.span(),
                key,
                format!("{n} needs a unit and quotes; write e.g. \"{n}s\""),
            )),
            other => Err(self.err(
                v.span(),
                key,
                format!("{other} is not a string; write e.g. {example}"),
            )),
        }
    }

    fn scalar_text(&self, v: &SpannedValue, key: &str) -> Result<String> {
        match v.get_ref() {
            Value::String(s) => Ok(s.clone()),
            Value::Integer(_) | Value::Float(_) | Value::Boolean(_) => Ok(v.get_ref().to_string()),
            _ => Err(self.err(v.span(), key, "must be a string, number or boolean")),
        }
    }
}
