//! The demo's streamed routes: `GET /events` (server-sent events on a fixed schedule) and
//! an OpenAI-compatible `POST /v1/chat/completions` (tokens as SSE chunks, or the whole
//! answer at once with `"stream": false`). Each event leaves at its scheduled time from
//! the request's arrival (`first_ms`, then every `gap_ms`), timed by the demo's precise
//! timer, so what swarm measures can be checked against the schedule.

use super::{Body, param, precise_sleep};
use bytes::Bytes;
use http::{Request, Response, StatusCode, header};
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::{Frame, Incoming};
use serde_json::{Value, json};
use std::time::{Duration, Instant};

/// No stream is longer than this many events.
const MAX_EVENTS: f64 = 100_000.0;
/// No wait is longer than this (ms).
const MAX_WAIT_MS: f64 = 60_000.0;

/// When the events leave, from the request's arrival.
#[derive(Clone, Copy)]
struct Schedule {
    start: Instant,
    first: Duration,
    gap: Duration,
}

impl Schedule {
    fn of(query: &str, first_ms: f64, gap_ms: f64) -> Schedule {
        let ms = |name: &str, default: f64| {
            let v = param(query, name)
                .unwrap_or(default)
                .clamp(0.0, MAX_WAIT_MS);
            Duration::from_secs_f64(v / 1000.0)
        };
        let gap = ms("gap_ms", gap_ms);
        Schedule {
            start: Instant::now(),
            first: ms("first_ms", first_ms),
            gap,
        }
    }

    /// With `capacity=N` in the query: stretched by (chats at once) / N beyond N.
    fn loaded(mut self, query: &str) -> Schedule {
        if let Some(capacity) = param(query, "capacity").filter(|c| *c >= 1.0) {
            let now = ACTIVE.load(std::sync::atomic::Ordering::Relaxed) as f64;
            let stretch = (now / capacity).max(1.0);
            self.first = self.first.mul_f64(stretch);
            self.gap = self.gap.mul_f64(stretch);
        }
        self
    }

    /// When event `i` (from 0) is due.
    fn at(&self, i: u32) -> Instant {
        self.start + self.first + self.gap * i
    }
}

/// A body whose pieces each leave at their time: `pieces[i]` at `schedule.at(i)`;
/// `guard` lives as long as the body.
fn scheduled<G: Send + 'static>(
    pieces: Vec<String>,
    schedule: Schedule,
    guard: G,
) -> Response<Body> {
    let stream = futures_util::stream::unfold(
        (pieces.into_iter().enumerate(), schedule, guard),
        move |(mut it, schedule, guard)| async move {
            let (i, piece) = it.next()?;
            let due = schedule.at(u32::try_from(i).unwrap_or(u32::MAX));
            precise_sleep(due.saturating_duration_since(Instant::now())).await;
            let frame = Frame::data(Bytes::from(piece));
            Some((
                Ok::<_, std::convert::Infallible>(frame),
                (it, schedule, guard),
            ))
        },
    );
    let mut r = Response::new(StreamBody::new(stream).boxed_unsync());
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("text/event-stream"),
    );
    r.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-cache"),
    );
    r
}

/// `GET /events?n=20&gap_ms=50&first_ms=50`: `n` events `data: {"n": i}` (i from 1),
/// the first after `first_ms` (default: one gap), then one every `gap_ms`.
pub(super) fn events(query: &str) -> Response<Body> {
    let n = param(query, "n").unwrap_or(20.0).clamp(0.0, MAX_EVENTS) as u32;
    let gap = param(query, "gap_ms")
        .unwrap_or(50.0)
        .clamp(0.0, MAX_WAIT_MS);
    let schedule = Schedule::of(query, gap, 50.0);
    let pieces = (1..=n)
        .map(|i| format!("id: {i}\ndata: {{\"n\": {i}}}\n\n"))
        .collect();
    if n == 0 {
        return scheduled(vec![": no events\n\n".into()], schedule, ());
    }
    scheduled(pieces, schedule, ())
}

/// The words the demo's model answers with, in turn.
const WORDS: [&str; 12] = [
    "The", " swarm", " streams", " tokens", " at", " a", " steady", " pace", ",", " one", " by",
    " one",
];

/// Chats being answered now, for `capacity`.
static ACTIVE: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Counts a chat as active while it lives.
struct Active;

impl Active {
    fn new() -> Active {
        ACTIVE.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Active
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, std::sync::atomic::Ordering::Relaxed);
    }
}

/// `POST /v1/chat/completions?tokens=20&first_ms=200&gap_ms=20&capacity=N`: an
/// OpenAI-compatible answer of `tokens` tokens (or the request's `max_tokens`), the first
/// after `first_ms` and one every `gap_ms` after it: streamed as `chat.completion.chunk`
/// events ending with `data: [DONE]` when the request says `"stream": true`, else whole
/// at the end. With `capacity`, an overloaded model: beyond N chats at once, the first
/// token and every gap stretch by (chats at once) / N, as a batching server slows down.
pub(super) async fn chat(req: Request<Incoming>) -> Response<Body> {
    let query = req.uri().query().unwrap_or("").to_string();
    let active = Active::new();
    let schedule = Schedule::of(&query, 200.0, 20.0).loaded(&query);
    let body = req.into_body().collect().await.map(|b| b.to_bytes());
    let Some(input) = body
        .ok()
        .and_then(|b| serde_json::from_slice::<Value>(&b).ok())
        .filter(Value::is_object)
    else {
        let error = json!({ "error": { "message": "send a JSON object: {\"model\": ..., \"messages\": [...]}" } });
        return whole(StatusCode::BAD_REQUEST, &error);
    };
    let tokens = input["max_tokens"]
        .as_f64()
        .or_else(|| param(&query, "tokens"))
        .unwrap_or(20.0)
        .clamp(1.0, MAX_EVENTS) as usize;
    let model = input["model"].as_str().unwrap_or("demo").to_string();
    let words = (0..tokens).map(|i| WORDS[i % WORDS.len()]);
    if input["stream"].as_bool() != Some(true) {
        let text: String = words.collect();
        let last = u32::try_from(tokens - 1).unwrap_or(u32::MAX);
        precise_sleep(schedule.at(last).saturating_duration_since(Instant::now())).await;
        drop(active);
        let answer = json!({
            "id": "chatcmpl-demo", "object": "chat.completion", "model": model,
            "choices": [{ "index": 0, "message": { "role": "assistant", "content": text },
                          "finish_reason": "length" }],
            "usage": { "completion_tokens": tokens },
        });
        return whole(StatusCode::OK, &answer);
    }
    let chunk = |delta: Value, finish: Value| {
        let c = json!({
            "id": "chatcmpl-demo", "object": "chat.completion.chunk", "model": model,
            "choices": [{ "index": 0, "delta": delta, "finish_reason": finish }],
        });
        format!("data: {c}\n\n")
    };
    let pieces = words
        .enumerate()
        .map(|(i, w)| {
            let mut delta = json!({ "content": w });
            if i == 0 {
                delta["role"] = json!("assistant");
            }
            chunk(delta, Value::Null)
        })
        .collect::<Vec<_>>();
    let end = chunk(json!({}), json!("length")) + "data: [DONE]\n\n";
    let mut pieces = pieces;
    if let Some(last) = pieces.last_mut() {
        last.push_str(&end);
    }
    scheduled(pieces, schedule, active)
}

fn whole(status: StatusCode, value: &Value) -> Response<Body> {
    let mut r = Response::new(Full::new(Bytes::from(value.to_string())).boxed_unsync());
    *r.status_mut() = status;
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        header::HeaderValue::from_static("application/json"),
    );
    r
}
