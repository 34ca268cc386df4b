//! One virtual user: run its on_start steps, then pick a task by weight (an endpoint, or a
//! flow's steps in order), send, record, think, repeat (closed model), or run one task
//! per scheduled start taken from the open model's queue; on_stop steps when it stops.

use super::endpoints::{EndpointSet, SharedEndpoints};
use super::http::{self, Capture, Conn, Outcome, Prepared, Progress};
use super::open::OpenQueue;
use super::redirect;
use super::session::{RunShared, UserState};
use super::ws;
use crate::scenario::{Endpoint, MAX_REDIRECTS, Origin, Redirects, WsAction, WsMatch};
use crate::stats::{FailureKind, NOT_SENT, Recorder, Sample};
use ::http::Method;
use bytes::Bytes;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;
use tokio::time::Instant;
use tokio_util::sync::CancellationToken;

/// What a user task owns.
pub struct User {
    pub id: u64,
    pub shared: Arc<SharedEndpoints>,
    pub run: Arc<RunShared>,
    pub recorder: Recorder,
    /// Cancelled when the user should stop; an in-flight request still completes.
    pub cancel: CancellationToken,
    /// Open model: where the scheduled iterations come from.
    pub open: Option<Arc<OpenQueue>>,
}

/// Half of tokio's timer resolution (1 ms).
const TIMER_HALF_TICK: Duration = Duration::from_micros(500);

/// Pause when every endpoint is disabled, before looking for a new set.
const IDLE_POLL: Duration = Duration::from_millis(100);

/// A user's working state: its random stream, endpoint set, connections and session.
struct Session {
    rng: fastrand::Rng,
    generation: u64,
    set: Arc<EndpointSet>,
    conns: Vec<Option<Conn>>,
    state: UserState,
    /// After a connection could not be made (refused, unreachable, no file descriptor or
    /// port left on this machine): how long to wait
    /// before the next try; doubles up to `MAX_BACKOFF`, zero again after a response.
    backoff: Duration,
    /// The user's WebSocket, opened by a `ws` step and closed at the flow's end...
    ws: Option<ws::Socket>,
    /// ... unless on_start opened it: then it stays open until the user stops.
    ws_for_life: bool,
}

/// The first wait after a failed connect, and the longest.
const FIRST_BACKOFF: Duration = Duration::from_millis(10);
const MAX_BACKOFF: Duration = Duration::from_secs(1);

impl User {
    pub async fn run(self) {
        let (generation, set) = self.shared.load();
        let mut rng = fastrand::Rng::with_seed(
            self.id.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ fastrand::u64(..),
        );
        let state = UserState::new(self.id, &self.run, &mut rng);
        let mut session = Session {
            rng,
            generation,
            conns: new_conns(&set),
            set,
            state,
            backoff: Duration::ZERO,
            ws: None,
            ws_for_life: false,
        };
        let hooks = Arc::clone(&session.set);
        for &i in &hooks.on_start {
            if !self.step(&mut session, i, None).await {
                // A step this user needs failed: it stops (the failure is recorded).
                self.run.stopped_users.fetch_add(1, Ordering::Relaxed);
                if let Some(q) = &self.open {
                    // Leave the open model's pool without taking iterations.
                    let gone = CancellationToken::new();
                    gone.cancel();
                    q.next(&gone).await;
                }
                return;
            }
        }
        session.ws_for_life = session.ws.is_some();
        match self.open.clone() {
            None => self.run_closed(&mut session).await,
            Some(queue) => self.run_open(&mut session, &queue).await,
        }
        for &i in &hooks.on_stop {
            self.step(&mut session, i, None).await;
        }
        self.end_ws(&mut session).await;
    }

    /// At a task's end: closes the socket the task left open (one opened by on_start
    /// stays open).
    async fn end_task(&self, s: &mut Session) {
        if !s.ws_for_life {
            self.end_ws(s).await;
        }
    }

    /// A `receive` whose `contains` is a template, rendered for this user (None when the
    /// step has nothing to render).
    fn rendered(
        &self,
        s: &mut Session,
        endpoint: &Endpoint,
        action: &WsAction,
    ) -> Result<Option<WsAction>, super::session::StepFailure> {
        let WsAction::Exchange {
            send,
            binary,
            receive: Some(WsMatch::ContainsTemplate(t)),
        } = action
        else {
            return Ok(None);
        };
        let text = s.state.render(endpoint, t, &self.run, &mut s.rng)?;
        Ok(Some(WsAction::Exchange {
            send: *send,
            binary: *binary,
            receive: Some(WsMatch::Contains(text)),
        }))
    }

    /// Closes the user's WebSocket, if one is open: counted as closed on the row of the
    /// step that opened it.
    async fn end_ws(&self, s: &mut Session) {
        if let Some((row, unread)) = ws::end(&mut s.ws).await {
            let closed = crate::stats::WsCounts {
                closed: 1,
                ..unread
            };
            self.recorder.record_ws_only(row, &closed);
        }
    }

    /// A WebSocket step: its latency, counts and failure recorded on its row, the matched
    /// message's extractions kept.
    async fn ws_step(&self, s: &mut Session, i: usize, action: &WsAction) -> bool {
        let set = Arc::clone(&s.set);
        let (endpoint, origin, row) = (&set.endpoints[i], set.origin_of[i], set.rows[i]);
        let rendered = s
            .state
            .prepare(endpoint, origin, &self.run, &mut s.rng)
            .and_then(|p| Ok((p, self.rendered(s, endpoint, action)?)));
        let (prepared, rendered) = match rendered {
            Ok(r) => r,
            Err(f) => {
                self.not_sent(row, f);
                return false;
            }
        };
        let action = rendered.as_ref().unwrap_or(action);
        let done = ws::step(
            &mut s.ws,
            action,
            (endpoint, row),
            prepared.as_ref(),
            &self.run.net,
        )
        .await;
        let (failure, message) = match done.failure {
            Some((kind, why)) => (Some(kind), Some(why)),
            None => {
                let outcome = Outcome {
                    latency_us: done.latency_us,
                    status: done.status,
                    bytes: 0,
                    failure: None,
                    error: None,
                    headers: done.headers,
                    body: done.matched,
                    resent: false,
                    stream: None,
                };
                match s
                    .state
                    .after_response(endpoint, origin, &outcome, &self.run)
                {
                    Ok(()) => (None, None),
                    Err(f) => (Some(f.kind), Some(f.message)),
                }
            }
        };
        let sample = Sample {
            row,
            latency_us: done.latency_us,
            status: done.status,
            bytes: done.counts.bytes_received,
            failure,
            corrected_us: None,
            resent: false,
        };
        self.recorder
            .record_ws(sample, &done.counts, || message.unwrap_or_default());
        failure.is_none()
    }

    async fn run_closed(&self, s: &mut Session) {
        while !self.cancel.is_cancelled() {
            self.refresh(s);
            let Some(task) = s.set.pick(&mut s.rng) else {
                self.pause(IDLE_POLL).await;
                continue;
            };
            if !self.run.take_iteration() {
                return;
            }
            let set = Arc::clone(&s.set);
            let began = Instant::now();
            for (n, &i) in set.tasks[task].iter().enumerate() {
                if n > 0 {
                    let wait = s.set.wait.between_steps(s.rng.f64());
                    self.think(wait, &mut s.ws).await;
                    if self.cancel.is_cancelled() {
                        return;
                    }
                }
                if !self.run.take_ticket() {
                    return;
                }
                self.step(s, i, None).await;
            }
            self.end_task(s).await;
            // A request can fail without ever waiting (no file descriptors left, say); the
            // budget check makes such a loop yield so the runtime's other tasks still run.
            tokio::task::consume_budget().await;
            if !s.backoff.is_zero() {
                // A host that refuses connections is not hammered: each failed connect
                // is still a failure, but the next try waits.
                self.pause(s.backoff).await;
            }
            let wait = s.set.wait.after_task(s.rng.f64(), began.elapsed());
            self.think(wait, &mut s.ws).await;
        }
    }

    /// Sleeps the think time. tokio's timer fires on the first millisecond tick at or after
    /// the deadline, so aiming half a millisecond early centres the wake-up on the intended
    /// time (within ±0.5 ms plus scheduling) instead of always up to 1 ms late. The
    /// recorded timing error counts early and late alike.
    ///
    /// Users whose wake-ups fall in the same millisecond wake together, which batches
    /// their requests. Coarser batches were tried (waking on a shared 2 or 4 ms grid): at
    /// 4 ms the think-time regime took 10-20 % less CPU per request, but the timing error's
    /// p99 rose to 3 ms, above the 2 ms that 10 000 users at 1 s must meet; at 2 ms it was
    /// 2.1 ms and the CPU gain within the noise (BENCHMARKS.md).
    ///
    /// A user with a WebSocket open reads it meanwhile (see `ws::between_steps`).
    async fn think(&self, think: Duration, socket: &mut Option<ws::Socket>) {
        if !think.is_zero() {
            let due = Instant::now() + think;
            let aim = due - think.min(TIMER_HALF_TICK);
            let wait = async {
                match socket.as_mut() {
                    Some(s) => ws::between_steps(s, aim).await,
                    None => tokio::time::sleep_until(aim).await,
                }
            };
            tokio::select! {
                _ = self.cancel.cancelled() => {}
                () = wait => {}
            }
            if !self.cancel.is_cancelled() {
                let now = Instant::now();
                let error = now
                    .saturating_duration_since(due)
                    .max(due.saturating_duration_since(now));
                self.recorder.record_lateness(error.as_micros() as u64);
            }
        }
    }

    /// Open model: one task per scheduled start; think time does not apply, since the
    /// schedule sets the pace.
    async fn run_open(&self, s: &mut Session, queue: &OpenQueue) {
        while let Some(intended) = queue.next(&self.cancel).await {
            self.refresh(s);
            if let Some(task) = s.set.pick(&mut s.rng).filter(|_| self.run.take_iteration()) {
                let set = Arc::clone(&s.set);
                for &i in &set.tasks[task] {
                    if !self.run.take_ticket() {
                        break;
                    }
                    self.step(s, i, Some(intended)).await;
                }
                self.end_task(s).await;
            }
            queue.done();
            tokio::task::consume_budget().await;
        }
    }

    /// Picks up a new endpoint set from the TUI's edits.
    fn refresh(&self, s: &mut Session) {
        if self.shared.generation() != s.generation {
            let (g, set) = self.shared.load();
            if set.origins != s.set.origins {
                s.conns = new_conns(&set);
            }
            (s.generation, s.set) = (g, set);
        }
    }

    /// Sends request `i` of the set and records it; false when it failed. `intended` is
    /// the open model's scheduled start, from which the corrected latency is measured.
    ///
    /// The request's state (rendering, connecting, TLS, reading the response: a few KB
    /// of future) lives in a box for as long as the request does. Unboxed, it would sit
    /// inline in every user's task all the time, thinking included, and a hundred
    /// thousand users thinking would hold it a hundred thousand times over.
    async fn step(&self, s: &mut Session, i: usize, intended: Option<Instant>) -> bool {
        if let Some(action) = s.set.endpoints[i].ws.clone() {
            return Box::pin(self.ws_step(s, i, &action)).await;
        }
        Box::pin(self.request(s, i, intended)).await
    }

    async fn request(&self, s: &mut Session, i: usize, intended: Option<Instant>) -> bool {
        let set = Arc::clone(&s.set);
        let endpoint = &set.endpoints[i];
        let origin = set.origin_of[i];
        let row = set.rows[i];
        let prepared = match s.state.prepare(endpoint, origin, &self.run, &mut s.rng) {
            Ok(p) => p,
            Err(f) => {
                self.not_sent(row, f);
                return false;
            }
        };
        let progress = Progress::default();
        let debug = self.run.debug.as_ref();
        let capture = Capture {
            progress: Some(&progress),
            body: endpoint.needs_body() || debug.is_some(),
            redirects: endpoint.redirects != Redirects::None,
            headers: !endpoint.extract.is_empty() || debug.is_some(),
            cookies: self.run.cookies,
            stream: None,
        };
        let debug_request = debug.map(|_| http::request_text(endpoint, prepared.as_ref()));
        let began_at = Instant::now();
        let wire = &set.wire[i];
        let in_flight = InFlight {
            recorder: &self.recorder,
            row,
            began: began_at,
            name: &endpoint.name,
            progress: &progress,
        };
        let (outcome, redirect_error) = self
            .send_following(s, endpoint, wire, origin, prepared, capture)
            .await;
        in_flight.done();
        let queued = intended.map(|at| began_at.saturating_duration_since(at));
        s.backoff = match outcome.failure {
            // A connect refused or unreachable, or one that found swarm's own machine out
            // of file descriptors or ports: retrying at once would only spin (and count a
            // failure a microsecond), so the next try waits.
            Some(FailureKind::Refused | FailureKind::Connect | FailureKind::Local) => {
                (s.backoff * 2).clamp(FIRST_BACKOFF, MAX_BACKOFF)
            }
            _ => Duration::ZERO,
        };
        let (failure, message) = self.judge(s, (endpoint, origin), &outcome, redirect_error);
        let sample = Sample {
            row,
            latency_us: outcome.latency_us,
            status: outcome.status,
            bytes: outcome.bytes,
            failure,
            corrected_us: queued.map(|q| q.as_micros() as u64 + outcome.latency_us),
            resent: outcome.resent,
        };
        if let (Some(d), Some(request)) = (debug, &debug_request) {
            show_exchange(d, (row, endpoint), request, &outcome, (failure, &message));
        }
        let describe = || message.unwrap_or_else(|| outcome.describe(endpoint));
        self.record(sample, (&outcome, endpoint, &progress), queued, describe);
        failure.is_none()
    }

    /// Records a request, and its stream's figures when it was streamed: a stream counts
    /// once its response began with a status the endpoint accepts.
    fn record(
        &self,
        sample: Sample,
        (outcome, endpoint, progress): (&Outcome, &Endpoint, &Progress),
        queued: Option<Duration>,
        describe: impl FnOnce() -> String,
    ) {
        let began = outcome
            .status
            .or_else(|| progress.status())
            .is_some_and(|code| endpoint.expect.accepts(code));
        match outcome.stream.as_deref().filter(|_| began) {
            Some(read) => {
                let stream = read.sample(outcome.failure.is_none(), queued);
                self.recorder.record_stream(sample, &stream, describe);
            }
            None => self.recorder.record(sample, describe),
        }
    }

    /// A request that could not be sent (its template failed): counted, with why.
    fn not_sent(&self, row: usize, f: super::session::StepFailure) {
        let sample = Sample {
            row,
            latency_us: NOT_SENT,
            status: None,
            bytes: 0,
            failure: Some(f.kind),
            corrected_us: None,
            resent: false,
        };
        self.recorder.record(sample, || f.message);
    }

    /// The request's failure, if any, and its message: too many redirects, or what the
    /// endpoint's checks and extractions found in the response. The response's cookies
    /// are kept either way.
    fn judge(
        &self,
        s: &mut Session,
        (endpoint, origin): (&Endpoint, usize),
        outcome: &Outcome,
        redirect_error: Option<String>,
    ) -> (Option<FailureKind>, Option<String>) {
        if let Some(why) = redirect_error {
            if self.run.cookies {
                s.state.keep_cookies(origin, outcome);
            }
            return (Some(FailureKind::Redirects), Some(why));
        }
        if outcome.failure.is_some() {
            if self.run.cookies {
                // Cookies count even from a response with an unexpected status.
                s.state.keep_cookies(origin, outcome);
            }
            return (outcome.failure, None);
        }
        match s.state.after_response(endpoint, origin, outcome, &self.run) {
            Ok(()) => (None, None),
            Err(f) => (Some(f.kind), Some(f.message)),
        }
    }

    /// Sends the request and follows its redirects as the endpoint allows; the outcome is
    /// the last response's, with the latency and bytes of every hop. The error text is
    /// set when there were too many redirects.
    async fn send_following(
        &self,
        s: &mut Session,
        endpoint: &Endpoint,
        wire: &[u8],
        origin: usize,
        mut prepared: Option<Prepared>,
        capture: Capture<'_>,
    ) -> (Outcome, Option<String>) {
        let net = &self.run.net;
        let mut other: Option<(Origin, Option<Conn>)> = None;
        let (mut latency, mut bytes) = (0, 0);
        let mut hops = 0;
        loop {
            let (conn, to) = match &mut other {
                None => (&mut s.conns[origin], &endpoint.origin),
                Some((o, conn)) => (conn, &*o),
            };
            let outcome =
                http::send(conn, to, net, endpoint, wire, prepared.as_ref(), capture).await;
            latency += outcome.latency_us;
            bytes += outcome.bytes;
            let done = |mut o: Outcome, why: Option<String>| {
                o.latency_us = latency;
                o.bytes = bytes;
                (o, why)
            };
            let Some(location) = redirect_location(&outcome, endpoint) else {
                return done(outcome, None);
            };
            if other.is_none() && self.run.cookies {
                s.state.keep_cookies(origin, &outcome);
            }
            let current = other.as_ref().map_or(&endpoint.origin, |(o, _)| o);
            let current_target = target_of(prepared.as_ref(), endpoint);
            let Some((next, target)) = redirect::resolve(current, &current_target, &location)
            else {
                return done(outcome, None);
            };
            if next != endpoint.origin && endpoint.redirects == Redirects::SameHost {
                // Not followed: the redirect is the response.
                return done(outcome, None);
            }
            hops += 1;
            if hops > MAX_REDIRECTS {
                let why = format!(
                    "{}: more than {MAX_REDIRECTS} redirects in a row (the last to {location})",
                    endpoint.name
                );
                return done(outcome, Some(why));
            }
            let status = outcome.status.unwrap_or(302);
            let mut p = next_hop(endpoint, prepared.as_ref(), status, target, &next);
            aim(s, (origin, endpoint), &mut p, next, &mut other);
            prepared = Some(p);
        }
    }

    /// Sleeps, waking early when cancelled.
    async fn pause(&self, d: Duration) {
        tokio::select! {
            _ = self.cancel.cancelled() => {}
            _ = tokio::time::sleep(d) => {}
        }
    }
}

/// Where a redirect the endpoint follows points (its Location), if the response is one.
fn redirect_location(outcome: &Outcome, endpoint: &Endpoint) -> Option<String> {
    match outcome.status {
        Some(301 | 302 | 303 | 307 | 308) if endpoint.redirects != Redirects::None => outcome
            .headers
            .as_ref()
            .and_then(|h| h.get(::http::header::LOCATION))
            .and_then(|v| v.to_str().ok())
            .map(str::to_string),
        _ => None,
    }
}

/// The request of a redirect's next hop to `target` on `next`, from the one that got
/// `status` (`prepared`, or the endpoint as written): 303, and 301/302 after a POST,
/// become a GET without a body; cookies and Host are set again by the caller; the
/// endpoint's credentials do not cross to another origin.
fn next_hop(
    endpoint: &Endpoint,
    prepared: Option<&Prepared>,
    status: u16,
    target: ::http::Uri,
    next: &Origin,
) -> Prepared {
    let method = prepared
        .and_then(|p| p.method.clone())
        .unwrap_or_else(|| endpoint.method.clone());
    let to_get = status == 303 || (matches!(status, 301 | 302) && method == Method::POST);
    let mut p = Prepared {
        target: Some(target),
        ..Prepared::default()
    };
    let cross_origin = *next != endpoint.origin;
    if let Some(old) = prepared {
        p.headers = old
            .headers
            .iter()
            .filter(|(n, _)| *n != ::http::header::COOKIE && *n != ::http::header::HOST)
            .filter(|(n, _)| !(cross_origin && redirect::CREDENTIALS.contains(n)))
            .cloned()
            .collect();
        p.body = old.body.clone();
    }
    if cross_origin {
        // The endpoint's and [defaults]' credentials stay with their own origin.
        p.remove.extend(redirect::CREDENTIALS.iter().cloned());
    }
    if to_get {
        p.method = Some(Method::GET);
        p.body = Some(Bytes::new());
        p.remove.push(::http::header::CONTENT_TYPE);
    } else {
        p.method = Some(method);
    }
    p
}

/// A request on its way: when the user's task is cut off at the stop timeout (dropped
/// while it waits), the request is counted as interrupted instead of vanishing. Forgotten
/// once the request has an outcome. Its time in flight goes into the message, not into
/// the latency histograms: it measures the stop timeout, not the server.
struct InFlight<'a> {
    recorder: &'a Recorder,
    row: usize,
    began: Instant,
    name: &'a str,
    /// What had arrived of its response when it was cut.
    progress: &'a Progress,
}

impl InFlight<'_> {
    /// The request has an outcome of its own: nothing to count at a drop.
    fn done(self) {
        std::mem::forget(self);
    }
}

impl Drop for InFlight<'_> {
    fn drop(&mut self) {
        // A response whose head had come (a body still streaming) is not "no response":
        // its own kind, and the body bytes that arrived are counted.
        let arrived = self.progress.describe();
        let sample = Sample {
            row: self.row,
            latency_us: NOT_SENT,
            status: None,
            bytes: self.progress.bytes(),
            failure: Some(if arrived.is_some() {
                FailureKind::InterruptedMidResponse
            } else {
                FailureKind::Interrupted
            }),
            corrected_us: None,
            resent: false,
        };
        let waited = self.began.elapsed().as_secs_f64();
        self.recorder.record(sample, || match arrived {
            Some(what) => format!(
                "{}: cut at the stop after {waited:.1}s in flight: {what}",
                self.name
            ),
            None => format!(
                "{}: cut at the stop after {waited:.1}s in flight, with no response yet",
                self.name
            ),
        });
    }
}

fn new_conns(set: &EndpointSet) -> Vec<Option<Conn>> {
    (0..set.origins.len()).map(|_| None).collect()
}

/// Sends the next hop where it goes: back on the endpoint's own connection (with the
/// cookies of its path), or to another origin (its Host, on a connection of its own).
fn aim(
    s: &mut Session,
    (origin, endpoint): (usize, &Endpoint),
    p: &mut Prepared,
    next: Origin,
    other: &mut Option<(Origin, Option<Conn>)>,
) {
    if next == endpoint.origin {
        *other = None;
        let path = p.target.as_ref().map_or("/", |t| t.path()).to_string();
        if let Some(c) = s.state.cookie_header(origin, &path) {
            p.headers.push((::http::header::COOKIE, c));
        }
    } else {
        if let Ok(h) = ::http::HeaderValue::from_str(&next.authority()) {
            p.headers.push((::http::header::HOST, h));
        }
        if other.as_ref().is_none_or(|(o, _)| *o != next) {
            *other = Some((next, None));
        }
    }
}

/// The path and query the request went to (its rendered target, or the endpoint's).
fn target_of(prepared: Option<&Prepared>, endpoint: &Endpoint) -> String {
    prepared
        .and_then(|p| p.target.as_ref())
        .unwrap_or(&endpoint.target)
        .path_and_query()
        .map_or("/", |pq| pq.as_str())
        .to_string()
}

/// `--http-debug`: the exchange as sent and received, and why it failed.
fn show_exchange(
    d: &super::debug::HttpDebug,
    (row, endpoint): (usize, &Endpoint),
    request: &[u8],
    outcome: &Outcome,
    (failure, message): (Option<FailureKind>, &Option<String>),
) {
    let why = failure.map(|_| {
        message
            .clone()
            .unwrap_or_else(|| outcome.describe(endpoint))
    });
    let failed = failure.zip(why.as_deref());
    d.exchange((row, &endpoint.name), request, outcome, failed);
}
