//! `--http-debug N` (`-v`): the first N requests and responses of a run, and the first of
//! every failure (per endpoint and cause), on standard error as curl -v and k6's
//! --http-debug show them: the request as sent, the response's status, headers and the
//! start of its body. Headless runs only (the terminal UI owns the screen).

use super::http::Outcome;
use crate::stats::FailureKind;
use std::fmt::Write;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// The most bytes of a body shown.
const BODY_SHOWN: usize = 1024;

/// What a run's users share for `--http-debug`.
pub struct HttpDebug {
    /// Of the first N requests, how many are still to show.
    left: AtomicU64,
    /// (row, cause) of the failures shown already.
    shown: Mutex<Vec<(usize, FailureKind)>>,
    /// Requests seen so far, to number them.
    seen: AtomicU64,
}

impl HttpDebug {
    pub fn new(first: u64) -> Self {
        HttpDebug {
            left: AtomicU64::new(first),
            shown: Mutex::new(Vec::new()),
            seen: AtomicU64::new(0),
        }
    }

    /// Prints the exchange when it is one of the first N, or the first failure of its
    /// kind on its row. `request` is the request as it went out (HTTP/1.1 text).
    pub fn exchange(
        &self,
        (row, name): (usize, &str),
        request: &[u8],
        outcome: &Outcome,
        failure: Option<(FailureKind, &str)>,
    ) {
        let n = self.seen.fetch_add(1, Ordering::Relaxed) + 1;
        let first = self
            .left
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |l| l.checked_sub(1))
            .is_ok();
        let new_failure = failure.is_some_and(|(kind, _)| {
            let mut shown = self.shown.lock().unwrap_or_else(|p| p.into_inner());
            let fresh = !shown.contains(&(row, kind));
            if fresh {
                shown.push((row, kind));
            }
            fresh
        });
        if first || new_failure {
            eprint!("{}", render(n, name, request, outcome, failure));
        }
    }
}

/// One exchange as text: `>` lines for the request, `<` for the response.
fn render(
    n: u64,
    name: &str,
    request: &[u8],
    outcome: &Outcome,
    failure: Option<(FailureKind, &str)>,
) -> String {
    let mut out = format!("--- swarm http-debug: request {n} ({name})\n");
    let text = String::from_utf8_lossy(request);
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    for line in head.lines() {
        let _ = writeln!(out, "> {line}");
    }
    body_lines(&mut out, ">", body.as_bytes());
    match outcome.status {
        Some(status) => {
            let _ = writeln!(
                out,
                "< {status} ({:.1} ms, {} body bytes)",
                outcome.latency_us as f64 / 1000.0,
                outcome.bytes
            );
            for (k, v) in outcome.headers.iter().flatten() {
                let _ = writeln!(out, "< {k}: {}", String::from_utf8_lossy(v.as_bytes()));
            }
            body_lines(&mut out, "<", outcome.body.as_deref().unwrap_or_default());
        }
        None => out.push_str("< (no response)\n"),
    }
    if let Some((kind, message)) = failure {
        let _ = writeln!(out, "! failed: {kind}: {message}");
    }
    out
}

/// The start of a body, a line a line, marked with `mark`.
fn body_lines(out: &mut String, mark: &str, body: &[u8]) {
    if body.is_empty() {
        return;
    }
    let shown = String::from_utf8_lossy(&body[..body.len().min(BODY_SHOWN)]);
    let _ = writeln!(out, "{mark}");
    for line in shown.lines() {
        let _ = writeln!(out, "{mark} {line}");
    }
    if body.len() > BODY_SHOWN {
        let _ = writeln!(out, "{mark} … ({} more bytes)", body.len() - BODY_SHOWN);
    }
}
