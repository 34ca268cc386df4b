//! A virtual user's own state across requests: its variables (from `extract` and its data
//! rows), its cookie jar, and what the whole run shares (the `{{seq}}` counter and the data
//! files' cursors).

use super::http::{Outcome, Prepared};
use crate::scenario::template::{Context, MAX_RENDERED_BYTES, RenderError, Template};
use crate::scenario::{Check, DataSet, Endpoint, ExtractFrom, NetOptions, Plan};
use crate::stats::FailureKind;
use http::HeaderValue;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

/// What a plan says about the users' sessions; each start of a run applies it afresh.
#[derive(Clone)]
pub struct SessionSettings {
    pub data: Vec<DataSet>,
    pub cookies: bool,
    pub vars: Vec<(String, Template)>,
    pub net: NetOptions,
    /// `-n`: how many requests the run may send.
    pub max_requests: Option<u64>,
    /// `-i`: how many tasks the run may start.
    pub max_iterations: Option<u64>,
    /// The `{{seq}}` values and data rows this process takes.
    pub ids: crate::scenario::Stride,
}

impl SessionSettings {
    pub fn of(plan: &Plan) -> Self {
        SessionSettings {
            data: plan.data.clone(),
            cookies: plan.cookies,
            vars: plan.vars.clone(),
            net: plan.net.clone(),
            max_requests: plan.load.max_requests,
            max_iterations: plan.load.max_iterations,
            ids: plan.ids,
        }
    }
}

/// What all users of a run share.
pub struct RunShared {
    pub seq: AtomicU64,
    /// TLS and HTTP/2 settings for every connection.
    pub net: super::net::Net,
    /// `[vars]`, rendered for each user when it starts.
    pub vars: Vec<(String, Template)>,
    pub data: Vec<(DataSet, AtomicUsize)>,
    pub cookies: bool,
    /// Users that stopped because an on_start step failed.
    pub stopped_users: AtomicU64,
    /// `-n`: requests the run may still send; None without a limit.
    budget: Option<AtomicU64>,
    /// `-i`: tasks the run may still start; None without a limit.
    iterations: Option<AtomicU64>,
    ids: crate::scenario::Stride,
    /// `--http-debug`: what is shown of the exchanges, if anything.
    pub debug: Option<super::debug::HttpDebug>,
}

impl RunShared {
    pub fn new(s: &SessionSettings) -> Self {
        RunShared {
            seq: AtomicU64::new(0),
            net: super::net::Net::new(&s.net),
            vars: s.vars.clone(),
            data: s
                .data
                .iter()
                .map(|d| (d.clone(), AtomicUsize::new(0)))
                .collect(),
            cookies: s.cookies,
            stopped_users: AtomicU64::new(0),
            budget: s.max_requests.map(AtomicU64::new),
            iterations: s.max_iterations.map(AtomicU64::new),
            ids: s.ids,
            debug: (s.net.http_debug > 0).then(|| super::debug::HttpDebug::new(s.net.http_debug)),
        }
    }

    /// Takes one request from the run's budget; false when none is left (the user ends).
    pub(crate) fn take_ticket(&self) -> bool {
        take(self.budget.as_ref())
    }

    /// Takes one task from the run's iteration budget; false when none is left.
    pub(crate) fn take_iteration(&self) -> bool {
        take(self.iterations.as_ref())
    }

    /// True when the run has a request or iteration budget and has spent it.
    pub(crate) fn budget_spent(&self) -> bool {
        [&self.budget, &self.iterations]
            .iter()
            .any(|b| b.as_ref().is_some_and(|b| b.load(Ordering::Acquire) == 0))
    }

    /// What is left of the budgets: (requests, iterations).
    pub(crate) fn budgets_left(&self) -> (Option<u64>, Option<u64>) {
        let left = |b: &Option<AtomicU64>| b.as_ref().map(|b| b.load(Ordering::Relaxed));
        (left(&self.budget), left(&self.iterations))
    }
}

/// Takes one from a budget (none means no limit); false when it is spent.
fn take(budget: Option<&AtomicU64>) -> bool {
    budget.is_none_or(|b| {
        b.fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
    })
}

/// A cookie whose name and value together are longer than this is ignored (browsers'
/// and curl's limit: RFC 6265 §6.1 asks for at least 4096 bytes).
const MAX_COOKIE_BYTES: usize = 4096;
/// The most cookies a user keeps per origin; a new one evicts the oldest (browsers keep
/// 50 to 180 per domain).
const MAX_COOKIES_PER_ORIGIN: usize = 50;
/// A `Cookie` header stops before it grows past this (curl's 8190-byte limit): the
/// cookies that do not fit are not sent.
const MAX_COOKIE_HEADER: usize = 8190;
/// The most cookie bytes (names and values) one user holds over all origins; the oldest
/// go first. Bounds memory at users × 64 KB against a server that sets a new cookie per
/// response.
const MAX_JAR_BYTES: usize = 64 << 10;

/// One cookie as the jar keeps it.
struct Cookie {
    origin: usize,
    name: String,
    value: String,
    path: String,
}

/// A user's variables, data rows and cookies.
pub(crate) struct UserState {
    pub id: u64,
    vars: HashMap<String, String>,
    /// Per data set, the row this user took; None when a unique set ran out.
    rows: Vec<Option<usize>>,
    cookies: Vec<Cookie>,
    /// `[vars]` whose value would pass `MAX_RENDERED_BYTES`: left unset, and a request
    /// that uses one fails with `TemplateTooLarge`.
    oversized: Vec<String>,
}

/// A template of `e` (or the `[vars]` value `var` it uses) would pass the rendering limit.
fn too_large(e: &Endpoint, var: Option<&str>) -> StepFailure {
    let what = match var {
        Some(v) => format!("{{{{{v}}}}} in [vars]"),
        None => "a template of its path, headers or body".into(),
    };
    StepFailure {
        kind: FailureKind::TemplateTooLarge,
        message: format!(
            "{}: {what} would expand past {} MB, so nothing was sent",
            e.name,
            MAX_RENDERED_BYTES >> 20
        ),
    }
}

/// Why a request could not be made, or what a response lacked.
pub(crate) struct StepFailure {
    pub kind: FailureKind,
    pub message: String,
}

impl UserState {
    /// A new user takes one row of each data file and renders its `[vars]`.
    pub fn new(id: u64, shared: &RunShared, rng: &mut fastrand::Rng) -> Self {
        let rows = shared
            .data
            .iter()
            .map(|(set, cursor)| {
                let i = shared
                    .ids
                    .nth(cursor.fetch_add(1, Ordering::Relaxed) as u64)
                    as usize;
                let n = set.rows.len();
                if set.unique {
                    (i < n).then_some(i)
                } else {
                    Some(i % n)
                }
            })
            .collect();
        let mut state = UserState {
            id,
            vars: HashMap::new(),
            rows,
            cookies: Vec::new(),
            oversized: Vec::new(),
        };
        for (name, t) in &shared.vars {
            let mut ctx = Ctx {
                state: &state,
                shared,
                rng,
            };
            // A var that uses a field of an exhausted data file stays unset: the first
            // request that needs it reports the data file (or the size it would have).
            match t.render_string(&mut ctx) {
                Ok(v) => {
                    state.vars.insert(name.clone(), v);
                }
                Err(RenderError::TooLarge) => state.oversized.push(name.clone()),
                Err(RenderError::Missing(v)) if state.oversized.contains(&v) => {
                    state.oversized.push(name.clone());
                }
                Err(RenderError::Missing(_)) => {}
            }
        }
        state
    }

    /// A template of the endpoint's other than its request's (a WebSocket `receive`'s
    /// text), rendered with this user's variables.
    pub(crate) fn render(
        &self,
        e: &Endpoint,
        t: &crate::scenario::template::Template,
        shared: &RunShared,
        rng: &mut fastrand::Rng,
    ) -> Result<String, StepFailure> {
        let mut ctx = Ctx {
            state: self,
            shared,
            rng,
        };
        ctx.render(t, e)
    }

    /// Renders the endpoint's templates and adds the cookies for its origin; None when
    /// the request goes as written.
    pub(crate) fn prepare(
        &mut self,
        e: &Endpoint,
        origin: usize,
        shared: &RunShared,
        rng: &mut fastrand::Rng,
    ) -> Result<Option<Prepared>, StepFailure> {
        let cookie = self.cookie_header(origin, e.target.path());
        if e.dynamic.is_none() && cookie.is_none() {
            return Ok(None);
        }
        let mut p = Prepared::default();
        if let Some(d) = &e.dynamic {
            let mut ctx = Ctx {
                state: self,
                shared,
                rng,
            };
            if let Some(t) = &d.target {
                let text = ctx.render(t, e)?;
                p.target = Some(text.parse().map_err(|err| StepFailure {
                    kind: FailureKind::Variable,
                    message: format!("{}: \"{text}\" is not a valid path ({err})", e.name),
                })?);
            }
            for (name, t) in &d.headers {
                let text = ctx.render(t, e)?;
                let value = HeaderValue::from_bytes(text.as_bytes()).map_err(|_| StepFailure {
                    kind: FailureKind::Variable,
                    message: format!(
                        "{}: header {name} would be {:?}, which a header cannot carry ({}); \
                         not sent",
                        e.name,
                        crate::fmt::fit(&text, 61),
                        unsendable(&text)
                    ),
                })?;
                p.headers.push((name.clone(), value));
            }
            if let Some(t) = &d.body {
                let text = ctx.render(t, e)?;
                p.body = Some(text.into());
            }
        }
        if let Some(c) = cookie {
            p.headers.push((http::header::COOKIE, c));
        }
        Ok(Some(p))
    }

    /// Keeps the cookies a response sets, runs the endpoint's checks, then its extraction.
    pub(crate) fn after_response(
        &mut self,
        e: &Endpoint,
        origin: usize,
        out: &Outcome,
        shared: &RunShared,
    ) -> Result<(), StepFailure> {
        if shared.cookies {
            self.keep_cookies(origin, out);
        }
        let body = out.body.as_deref().unwrap_or_default();
        // The body is parsed as JSON once, when a check or an extraction first needs it.
        let json: std::cell::OnceCell<Option<serde_json::Value>> = std::cell::OnceCell::new();
        let parsed = || {
            json.get_or_init(|| serde_json::from_slice(body).ok())
                .as_ref()
        };
        for check in &e.checks {
            run_check(check, body, parsed, &e.name)?;
        }
        for x in &e.extract {
            let value = extracted(&x.from, (body, parsed), out);
            let Some(v) = value else {
                return Err(StepFailure {
                    kind: FailureKind::Extract,
                    message: format!(
                        "{}: {} found nothing for {{{{{}}}}}",
                        e.name,
                        source_of(&x.from),
                        x.var
                    ),
                });
            };
            self.vars.insert(x.var.clone(), v);
        }
        Ok(())
    }

    /// Stores the cookies a response sets.
    pub(crate) fn keep_cookies(&mut self, origin: usize, out: &Outcome) {
        if let Some(h) = &out.headers {
            for v in h.get_all(http::header::SET_COOKIE) {
                if let Ok(text) = v.to_str() {
                    self.set_cookie(origin, text);
                }
            }
        }
    }

    pub fn cookie_header(&self, origin: usize, path: &str) -> Option<HeaderValue> {
        if self.cookies.is_empty() {
            return None;
        }
        let mut text = String::new();
        for c in self
            .cookies
            .iter()
            .filter(|c| c.origin == origin && path.starts_with(&c.path))
        {
            let room = if text.is_empty() { 0 } else { 2 } + c.name.len() + 1 + c.value.len();
            if text.len() + room > MAX_COOKIE_HEADER {
                continue;
            }
            if !text.is_empty() {
                text.push_str("; ");
            }
            text.push_str(&c.name);
            text.push('=');
            text.push_str(&c.value);
        }
        (!text.is_empty())
            .then(|| HeaderValue::from_bytes(text.as_bytes()).ok())
            .flatten()
    }

    /// Stores (or, when expired, removes) a cookie from a `Set-Cookie` value.
    fn set_cookie(&mut self, origin: usize, text: &str) {
        let Ok(c) = cookie::Cookie::parse(text.to_string()) else {
            return;
        };
        let path = c
            .path()
            .filter(|p| p.starts_with('/'))
            .unwrap_or("/")
            .to_string();
        let expired = c.max_age().is_some_and(|a| a.is_zero() || a.is_negative())
            || c.expires_datetime()
                .is_some_and(|t| t <= cookie::time::OffsetDateTime::now_utc());
        if c.name().len() + c.value().len() > MAX_COOKIE_BYTES {
            return;
        }
        self.cookies
            .retain(|k| !(k.origin == origin && k.name == c.name() && k.path == path));
        if !expired {
            let held = self.cookies.iter().filter(|k| k.origin == origin).count();
            if held >= MAX_COOKIES_PER_ORIGIN
                && let Some(oldest) = self.cookies.iter().position(|k| k.origin == origin)
            {
                self.cookies.remove(oldest);
            }
            let size = |k: &Cookie| k.name.len() + k.value.len();
            let mut total: usize =
                self.cookies.iter().map(size).sum::<usize>() + c.name().len() + c.value().len();
            while total > MAX_JAR_BYTES && !self.cookies.is_empty() {
                total -= size(&self.cookies.remove(0));
            }
            self.cookies.push(Cookie {
                origin,
                name: c.name().to_string(),
                value: c.value().to_string(),
                path,
            });
        }
    }
}

/// A JSON value as a variable's text: strings without their quotes.
fn json_text(v: &serde_json::Value) -> String {
    match v {
        serde_json::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

struct Ctx<'a> {
    state: &'a UserState,
    shared: &'a RunShared,
    rng: &'a mut fastrand::Rng,
}

impl Ctx<'_> {
    /// Renders one of `e`'s templates; a variable without a value, or a text past its
    /// limit, is the step's failure.
    fn render(
        &mut self,
        t: &crate::scenario::template::Template,
        e: &Endpoint,
    ) -> Result<String, StepFailure> {
        let rendered = t.render_string(self);
        rendered.map_err(|why| match why {
            RenderError::Missing(var) => self.missing(&var, e),
            RenderError::TooLarge => too_large(e, None),
        })
    }

    fn data_field(&self, name: &str) -> Option<Result<&str, usize>> {
        let (set, field) = name.split_once('.')?;
        let i = self.shared.data.iter().position(|(d, _)| d.name == set)?;
        let (d, _) = &self.shared.data[i];
        let col = d.columns.iter().position(|c| c == field)?;
        Some(match self.state.rows[i] {
            Some(r) => Ok(d.rows[r].get(col).map_or("", String::as_str)),
            None => Err(i),
        })
    }

    fn missing(&self, var: &str, e: &Endpoint) -> StepFailure {
        if self.state.oversized.iter().any(|v| v == var) {
            return too_large(e, Some(var));
        }
        // A [vars] value that could not be set because its data file ran out.
        let exhausted = self.state.rows.iter().position(Option::is_none);
        let from_vars = self.shared.vars.iter().any(|(name, _)| name == var);
        let data = match self.data_field(var) {
            Some(Err(i)) => Some(i),
            _ if from_vars => exhausted,
            _ => None,
        };
        if let Some(i) = data {
            let d = &self.shared.data[i].0;
            return StepFailure {
                kind: FailureKind::DataExhausted,
                message: format!(
                    "{}: {} ran out: in unique mode each of its {} rows goes to one user",
                    e.name,
                    d.file,
                    d.rows.len()
                ),
            };
        }
        StepFailure {
            kind: FailureKind::Variable,
            message: format!(
                "{}: {{{{{var}}}}} has no value for this user (the step that extracts it has not succeeded)",
                e.name
            ),
        }
    }
}

impl Context for Ctx<'_> {
    fn user_id(&self) -> u64 {
        self.state.id
    }
    fn next_seq(&mut self) -> u64 {
        self.shared
            .ids
            .nth(self.shared.seq.fetch_add(1, Ordering::Relaxed))
    }
    fn rng(&mut self) -> &mut fastrand::Rng {
        self.rng
    }
    fn var(&self, name: &str) -> Option<&str> {
        if let Some(v) = self.state.vars.get(name) {
            return Some(v);
        }
        self.data_field(name).and_then(Result::ok)
    }
}

/// One check of a response's body; the failure says what was found instead.
fn run_check<'b>(
    check: &Check,
    body: &[u8],
    parsed: impl Fn() -> Option<&'b serde_json::Value>,
    name: &str,
) -> Result<(), StepFailure> {
    match check {
        Check::BodyContains(text) => {
            let found = body
                .windows(text.len().max(1))
                .any(|w| w == text.as_bytes());
            if !found {
                return Err(StepFailure {
                    kind: FailureKind::Check,
                    message: format!("{name}: the body does not contain \"{text}\""),
                });
            }
        }
        Check::JsonEq(pointer, want) => {
            let got = parsed().and_then(|v| v.pointer(pointer));
            if got != Some(want) {
                let got = got.map_or("nothing (or no JSON body)".into(), |g| g.to_string());
                return Err(StepFailure {
                    kind: FailureKind::Check,
                    message: format!("{name}: {pointer} is {got}, expected {want}"),
                });
            }
        }
    }
    Ok(())
}

/// The value an extraction takes from a response, if it finds one.
fn extracted<'b>(
    from: &ExtractFrom,
    (body, parsed): (&[u8], impl Fn() -> Option<&'b serde_json::Value>),
    out: &Outcome,
) -> Option<String> {
    match from {
        ExtractFrom::Json(pointer) => parsed().and_then(|v| v.pointer(pointer).map(json_text)),
        ExtractFrom::Header(name) => out
            .headers
            .as_ref()
            .and_then(|h| h.get(name))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        ExtractFrom::Regex(re) => std::str::from_utf8(body).ok().and_then(|text| {
            re.captures(text).map(|c| {
                c.get(1)
                    .or_else(|| c.get(0))
                    .map_or(String::new(), |m| m.as_str().to_string())
            })
        }),
        ExtractFrom::Tokens => out
            .stream
            .as_ref()
            .and_then(|s| s.text())
            .filter(|t| !t.is_empty())
            .map(str::to_string),
    }
}

fn source_of(from: &ExtractFrom) -> String {
    match from {
        ExtractFrom::Json(p) => format!("JSON pointer {p}"),
        ExtractFrom::Header(h) => format!("header {h}"),
        ExtractFrom::Regex(r) => format!("regex {r}"),
        ExtractFrom::Tokens => "the stream's tokens".into(),
    }
}

/// Why `HeaderValue::from_bytes` refused a rendered value: the first character a header
/// cannot hold (RFC 9110 §5.5: no control character but tab; UTF-8 goes as its bytes, as curl
/// sends it).
fn unsendable(text: &str) -> String {
    text.chars()
        .find(|c| c.is_control() && *c != '\t')
        .map_or_else(
            || "a character it cannot hold".into(),
            crate::scenario::control_char,
        )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user() -> UserState {
        let plan = crate::scenario::Plan::parse(
            "host = \"http://127.0.0.1:1\"\n[[endpoints]]\npath = \"/\"\n",
            "t.toml",
        )
        .unwrap();
        let run = RunShared::new(&SessionSettings::of(&plan));
        UserState::new(0, &run, &mut fastrand::Rng::with_seed(1))
    }

    fn bytes(u: &UserState) -> usize {
        u.cookies.iter().map(|c| c.name.len() + c.value.len()).sum()
    }

    #[test]
    fn the_jar_is_bounded_per_cookie_per_origin_and_in_bytes() {
        let mut u = user();
        u.set_cookie(0, &format!("big={}", "x".repeat(5000)));
        assert!(u.cookies.is_empty(), "a cookie over 4 KB is ignored");
        for i in 0..200 {
            u.set_cookie(0, &format!("c{i}=v"));
        }
        assert_eq!(u.cookies.len(), MAX_COOKIES_PER_ORIGIN);
        assert_eq!(u.cookies[0].name, "c150", "the oldest went first");
        for i in 0..100 {
            u.set_cookie(1, &format!("k{i}={}", "y".repeat(4000)));
        }
        assert!(bytes(&u) <= MAX_JAR_BYTES, "{} bytes", bytes(&u));
        let header = u.cookie_header(1, "/").unwrap();
        assert!(header.len() <= MAX_COOKIE_HEADER);
        // Oldest first (RFC 6265 §5.4), as many as fit.
        assert_eq!(header.to_str().unwrap().split("; ").count(), 2);
        assert!(
            u.cookies.iter().any(|c| c.name == "k99"),
            "the newest is kept"
        );
    }
}
