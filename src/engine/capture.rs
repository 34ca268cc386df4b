//! What a request keeps of its response (`Capture`), and how far a response in flight has
//! come (`Progress`): shared by the exchange (`http`) and the HTTP/1 connection (`h1`).

use super::stream::StreamRead;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU32, AtomicU64, Ordering};

/// How far the response to a request in flight has come: a request cut at the stop says
/// whether its status had arrived and how much of its body, and counts those bytes. The
/// user's task writes it as it reads (relaxed stores, on its own thread); the request's
/// drop at the stop reads it.
#[derive(Debug, Default)]
pub struct Progress {
    /// The response's status, 0 before its head arrived.
    status: AtomicU32,
    /// Body bytes read so far.
    body: AtomicU64,
    /// The body's announced length (Content-Length), u64::MAX when not announced.
    expected: AtomicU64,
}

impl Progress {
    /// A new request (or a redirect's next hop) goes out.
    pub fn begin(&self) {
        self.status.store(0, Ordering::Relaxed);
        self.body.store(0, Ordering::Relaxed);
    }

    /// The response's head arrived.
    pub fn head(&self, status: u16, expected: Option<u64>) {
        self.status.store(u32::from(status), Ordering::Relaxed);
        self.expected
            .store(expected.unwrap_or(u64::MAX), Ordering::Relaxed);
    }

    pub fn body(&self, bytes: u64) {
        self.body.store(bytes, Ordering::Relaxed);
    }

    /// Body bytes read so far.
    pub fn bytes(&self) -> u64 {
        self.body.load(Ordering::Relaxed)
    }

    /// The status, if the response's head arrived.
    pub fn status(&self) -> Option<u16> {
        u16::try_from(self.status.load(Ordering::Relaxed))
            .ok()
            .filter(|s| *s != 0)
    }

    /// What had arrived of the response: "status 200 received, 3 of 1000 body bytes read".
    pub fn describe(&self) -> Option<String> {
        let status = self.status()?;
        let read = self.bytes();
        let of = match self.expected.load(Ordering::Relaxed) {
            u64::MAX => String::new(),
            n => format!(" of {n}"),
        };
        Some(format!(
            "status {status} received, {read}{of} body bytes read"
        ))
    }
}

/// What of the response to keep, and where to note its progress.
#[derive(Debug, Clone, Copy, Default)]
pub struct Capture<'a> {
    /// Where the response's progress is noted, if anywhere.
    pub progress: Option<&'a Progress>,
    pub body: bool,
    /// Keep the headers of a redirect (its Location).
    pub redirects: bool,
    pub headers: bool,
    /// Keep the headers when they set a cookie.
    pub cookies: bool,
    /// A streamed endpoint's reader: each piece of the body is fed to it as it arrives.
    pub stream: Option<&'a Mutex<StreamRead>>,
}
