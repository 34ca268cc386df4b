//! Turns the raw serde mirror of a scenario into a `Plan`, rejecting bad values with their
//! location. `walk` validates the parts in file order; each concept has its file below.

mod data;
mod defaults;
mod endpoints;
mod load;
mod request;
mod stream;
mod templates;
mod thresholds;
mod user_types;
mod values;
mod ws;

use templates::{Probe, known_vars, raw_steps};

use super::error::{Locator, ScenarioError, nearest};
use super::raw::{
    RawData, RawDefaults, RawEndpoint, RawExpect, RawFlow, RawLoad, RawScenario, RawStage,
    RawUserType, SpannedValue,
};
use super::{Check, DataSet, Dynamic, Extract, ExtractFrom, Flow, NetOptions, Redirects, UserType};
use super::{DEFAULT_QUEUE_TIMEOUT, parse_duration, parse_rate, parse_wait};
use super::{DEFAULT_STOP_TIMEOUT, DEFAULT_TIMEOUT, Endpoint, Expect, Load, Origin, Plan, Stage};
use crate::scenario::template::{Escape, MAX_RENDERED_BYTES, Template};
use crate::scenario::threshold::{self, Threshold};
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
pub(crate) fn all_errors(src: &str, file: &str) -> Vec<ScenarioError> {
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

/// Values that pass for the keys that make a step a WebSocket step.
const WS_NEUTRAL: [(&str, &str); 6] = [
    ("ws", "\"/\""),
    ("send", "\"\""),
    ("send_binary", "\"\""),
    ("receive", "{ contains = \"\" }"),
    ("hold", "\"1s\""),
    ("close", "1000"),
];

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
    // A WebSocket step's key blanked would leave an HTTP step, and its "path is missing":
    // the key goes back with a value that passes instead (a receive's inline table too).
    let top = trimmed.split(['=', ' ', '\t', '"']).next().unwrap_or("");
    if let Some((_, fine)) = WS_NEUTRAL.iter().find(|(k, _)| *k == top)
        && e.key.contains(&format!(".{top}"))
    {
        let fine = format!("{top} = {fine}");
        lines[e.line - 1] = &fine;
        return Some(lines.join("\n"));
    }
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
    if let Some(h) = host_override {
        raw.host = Some(host_flag(h).map_err(|e| vec![e])?);
    }
    let mut v = Validator::new(loc);
    let mut errors = Errors::default();
    // Later parts are checked against a stand-in host when the real one is wrong.
    let base = errors
        .take(v.host(raw.host.as_ref()))
        .unwrap_or_else(Base::stand_in);
    let load = errors.take(v.load(raw.load.take().unwrap_or_default()));
    let data = v.data(raw.data.as_ref(), file, &mut errors);
    let vars = errors.take(v.user_vars(raw.vars.as_ref(), &data));
    v.vars = known_vars(&raw, &data);
    let (defaults, cookies, net) = errors
        .take(v.defaults(raw.defaults.take().unwrap_or_default()))
        .unwrap_or_else(|| {
            v.defaults(RawDefaults::default())
                .expect("the defaults load")
        });
    let work = v.workload(&raw, (&base, &defaults), &mut errors);
    let (thresholds, abort_on_threshold) = v.all_thresholds(&raw, &work.loaded, &mut errors);
    if !errors.0.is_empty() {
        return Err(errors.0);
    }
    Ok(Plan {
        name: raw.name.map(|n| n.into_inner()),
        host: raw.host.expect("checked above").into_inner(),
        load: load.expect("no error"),
        endpoints: work.loaded.into_iter().flatten().collect(),
        thresholds,
        abort_on_threshold,
        flows: work.flows,
        on_start: work.on_start,
        on_stop: work.on_stop,
        data,
        cookies,
        vars: vars.expect("no error"),
        net,
        tag_filter: Default::default(),
        user_types: work.user_types,
        ids: Default::default(),
        request_timeout: None,
    })
}

/// `--host`: checked as the file's host is, its errors located at the flag.
fn host_flag(h: &str) -> Result<Spanned<String>> {
    let flag = Validator::new(Locator {
        file: "--host",
        src: "",
    });
    let host = Spanned::new(0..0, h.to_string());
    flag.base(&host).map_err(|e| ScenarioError {
        line: 0,
        key: String::new(),
        ..e
    })?;
    Ok(host)
}

/// What the users run: the hooks, flows, user types and endpoints (None for an endpoint
/// that failed, so that its thresholds are still matched by position).
struct Workload {
    on_start: Vec<Endpoint>,
    on_stop: Vec<Endpoint>,
    flows: Vec<Flow>,
    user_types: Vec<UserType>,
    loaded: Vec<Option<Endpoint>>,
}

impl Validator<'_> {
    fn new(loc: Locator<'_>) -> Validator<'_> {
        Validator {
            loc,
            vars: HashSet::new(),
            sizes: HashMap::new(),
            unread_sets: HashSet::new(),
        }
    }

    /// The top-level `host`, which every endpoint is relative to.
    fn host(&self, host: Option<&Spanned<String>>) -> Result<Base> {
        match host {
            None => Err(self.err(
                0..0,
                "host",
                format!("is missing; add {HOST_EXAMPLE} at the top"),
            )),
            Some(h) => self.base(h),
        }
    }

    fn workload(
        &self,
        raw: &RawScenario,
        (base, defaults): (&Base, &Defaults),
        errors: &mut Errors,
    ) -> Workload {
        let requests = |errors: &mut Errors, list: Option<&[Spanned<RawEndpoint>]>, key: &str| {
            list.into_iter()
                .flatten()
                .enumerate()
                .map(|(i, e)| errors.take(self.endpoint(e, &format!("{key}[{i}]"), base, defaults)))
                .collect::<Vec<_>>()
        };
        let on_start = requests(errors, raw.on_start.as_deref(), "on_start");
        let on_stop = requests(errors, raw.on_stop.as_deref(), "on_stop");
        let flows: Vec<Flow> = (raw.flows.iter().flatten().enumerate())
            .filter_map(|(i, f)| errors.take(self.flow(f, &format!("flows[{i}]"), base, defaults)))
            .collect();
        let user_types: Vec<UserType> = (raw.users.iter().flatten().enumerate())
            .filter_map(|(i, u)| errors.take(self.user_type(u, i, base, defaults)))
            .collect();
        let typed = raw.users.as_ref().is_some_and(|u| !u.is_empty());
        if typed {
            errors.take(self.user_types_alone(raw, &user_types));
        }
        let listed = raw.endpoints.as_ref().map_or(&[][..], |l| &l.get_ref()[..]);
        let loaded = requests(errors, Some(listed), "endpoints");
        // A flow that failed is not a missing one: "no endpoints" would be wrong then.
        let flows_loaded = flows.len() == raw.flows.as_ref().map_or(0, Vec::len);
        if loaded.iter().all(Option::is_some) && flows_loaded && !typed {
            // The checks on the list as a whole (none at all, every weight 0).
            let endpoints: Vec<Endpoint> = loaded.iter().flatten().cloned().collect();
            errors.take(self.endpoint_list(raw.endpoints.as_ref(), &endpoints, &flows));
        }
        Workload {
            on_start: on_start.into_iter().flatten().collect(),
            on_stop: on_stop.into_iter().flatten().collect(),
            flows,
            user_types,
            loaded,
        }
    }

    /// The top-level `[thresholds]` and each endpoint's own.
    fn all_thresholds(
        &self,
        raw: &RawScenario,
        loaded: &[Option<Endpoint>],
        errors: &mut Errors,
    ) -> (Vec<Threshold>, bool) {
        let (mut thresholds, abort) = errors
            .take(self.thresholds(
                raw.thresholds.as_ref(),
                "thresholds",
                (None, raw_steps(raw).any(|e| e.get_ref().stream.is_some())),
            ))
            .unwrap_or_default();
        let listed = raw.endpoints.as_ref().map_or(&[][..], |l| &l.get_ref()[..]);
        for (i, (e, endpoint)) in listed.iter().zip(loaded).enumerate() {
            let Some(endpoint) = endpoint else { continue };
            let key = format!("endpoints[{i}].thresholds");
            let table = e.get_ref().thresholds.as_ref();
            let Some((list, own_abort)) = errors.take(self.thresholds(
                table,
                &key,
                (Some(&endpoint.name), endpoint.stream.is_some()),
            )) else {
                continue;
            };
            if own_abort {
                errors.take::<()>(Err(self.err(
                    e.span(),
                    &key,
                    "abort goes in the top-level [thresholds] table",
                )));
            }
            thresholds.extend(list);
        }
        (thresholds, abort)
    }
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// The host's origin plus any path prefix (`http://h/api` -> prefix `/api`).
struct Base {
    origin: Origin,
    prefix: String,
}

impl Base {
    /// What later parts are checked against when the host is wrong.
    fn stand_in() -> Base {
        Base {
            origin: Origin {
                host: "127.0.0.1".into(),
                port: 80,
                tls: false,
            },
            prefix: String::new(),
        }
    }
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
    /// Data sets whose file could not be read: their columns are unknown, so a template
    /// that names one is not reported as well (the file's error says what is wrong).
    unread_sets: HashSet<String>,
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
}

/// What the parts' unit tests share: a scenario's plan, or its first error.
#[cfg(test)]
mod testing {
    pub(super) const HOST: &str = "host = \"http://127.0.0.1:8080/api\"\n";

    pub(super) fn plan(body: &str) -> crate::scenario::Plan {
        let src = format!("{HOST}{body}");
        super::parse(&src, "t.toml", None).unwrap_or_else(|e| panic!("{e}\n{src}"))
    }

    /// The first error's key, line and message.
    pub(super) fn error(body: &str) -> (String, usize, String) {
        let src = format!("{HOST}{body}");
        let e = super::parse(&src, "t.toml", None).expect_err(&src);
        (e.key, e.line, e.message)
    }
}

#[cfg(test)]
mod tests {
    use super::testing::{error, plan};

    #[test]
    fn a_missing_host_is_named_and_the_walk_goes_on_past_it() {
        let all = super::all_errors("[load]\nusers = 0\n", "t.toml");
        let keys: Vec<&str> = all.iter().map(|e| e.key.as_str()).collect();
        assert_eq!(keys[0], "host");
        assert!(keys.contains(&"load.users"), "{keys:?}");
    }

    #[test]
    fn every_mistake_of_a_websocket_flow_and_nothing_the_walk_made_up() {
        let src = "host = \"http://127.0.0.1:1\"\n[[flows]]\nname = \"room\"\n\
            [[flows.steps]]\nws = \"/ws\"\n\
            [[flows.steps]]\nreceive = { regex = \"([\" }\n\
            [[flows.steps]]\nsend_binary = \"!!\"\n\
            [[flows.steps]]\nhold = \"-1s\"\n\
            [[flows.steps]]\nclose = 99999\n";
        let all = super::all_errors(src, "t.toml");
        let keys: Vec<&str> = all.iter().map(|e| e.key.as_str()).collect();
        // Not "endpoints: no endpoints" (the flow failed, it is not missing), nor a
        // step's "path is missing" (a WebSocket key blanked on the way).
        assert_eq!(
            keys,
            [
                "flows[0].steps[1].receive.regex",
                "flows[0].steps[2].send_binary",
                "flows[0].steps[3].hold",
                "flows[0].steps[4].close"
            ]
        );
    }

    #[test]
    fn the_host_flag_replaces_the_file_s_host_and_is_checked_as_the_flag() {
        let src = "host = \"http://a.example:1\"\n[[endpoints]]\npath = \"/\"\n";
        let p = super::parse(src, "t.toml", Some("http://127.0.0.1:9")).unwrap();
        assert_eq!(p.host, "http://127.0.0.1:9");
        let e = super::parse(src, "t.toml", Some("ftp://x")).unwrap_err();
        assert_eq!((e.file.as_str(), e.line), ("--host", 0));
    }

    #[test]
    fn thresholds_follow_their_endpoint_by_position_even_past_a_bad_one() {
        let (key, line, _) = error(
            "[[endpoints]]\npath = \"/a\"\n[endpoints.thresholds]\nabort = true\np95 = \"< 500ms\"\n",
        );
        assert_eq!((key.as_str(), line), ("endpoints[0].thresholds", 2));
        let p = plan(
            "[[endpoints]]\nname = \"a\"\npath = \"/a\"\n[endpoints.thresholds]\np95 = \"< 500ms\"\n",
        );
        assert_eq!(p.thresholds.len(), 1);
    }
}
