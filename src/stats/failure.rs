//! Why a request failed: a small `Copy` classification, counted rather than stored.

use serde::{Deserialize, Serialize};
use std::fmt;

/// The cause of a failed request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FailureKind {
    /// The response status is not one the endpoint expects.
    Status(u16),
    /// Nothing listens on the port.
    Refused,
    /// The connection could not be made (name lookup, unreachable host, ...).
    Connect,
    /// No complete response within the request timeout.
    Timeout,
    /// The server reset the connection.
    Reset,
    /// The server closed the connection before the response was complete.
    Closed,
    /// The server closed a reused connection before answering a request that is not safe
    /// to send twice (POST, or any request with a body): it was not sent again, and the
    /// server may or may not have acted on it.
    NotResent,
    /// Still in flight when the run stopped and the stop timeout ran out: cut, with no
    /// response. Counted as a failure; its time is not a latency.
    Interrupted,
    /// Cut at the stop as `Interrupted`, but its response had begun: its status had come
    /// and its body was still arriving (a stream, a slow body). The bytes that came are
    /// counted.
    InterruptedMidResponse,
    /// HTTP/2: the server sent GOAWAY before this stream's response was complete.
    GoAway,
    /// HTTP/2: a protocol error (a frame, a header block or a length the rules forbid).
    Protocol,
    /// The server answered with something that is not HTTP/1.1.
    Malformed,
    /// The TLS handshake failed (untrusted certificate, wrong name, protocol).
    Tls,
    /// Too many redirects in a row.
    Redirects,
    /// A check on the response (`expect.body_contains`, `expect.json`) failed.
    Check,
    /// `extract` found nothing in the response.
    Extract,
    /// A template used a variable that has no value for this user, or rendered what a
    /// request cannot carry (a line break in a header, say), so nothing was sent.
    Variable,
    /// A data file in unique mode had no row left for this user, so nothing was sent.
    DataExhausted,
    /// A template would render past its limit (`MAX_RENDERED_BYTES`), so nothing was sent.
    TemplateTooLarge,
    /// A streamed response ended before its `stream_done` event.
    StreamIncomplete,
    /// The WebSocket upgrade was refused (not 101).
    WsHandshake,
    /// The server closed the WebSocket (or the connection) before the step was done.
    WsClosed,
    /// No matching WebSocket message within the step's timeout.
    WsTimeout,
    /// The WebSocket protocol was broken (a bad frame, a message too large, no socket open).
    WsProtocol,
    /// The load generator's own machine ran out of something (open files, local ports):
    /// a limit of swarm's side, not the server's.
    Local,
    Other,
}

impl FailureKind {
    /// The connection could not be made: nothing listens, or the host cannot be reached.
    pub(crate) fn is_connect(self) -> bool {
        matches!(self, FailureKind::Refused | FailureKind::Connect)
    }

    /// A short stable identifier for JSON and scripts.
    pub fn code(&self) -> String {
        match self {
            FailureKind::Status(s) => format!("http_{s}"),
            FailureKind::DataExhausted => "data_exhausted".into(),
            FailureKind::TemplateTooLarge => "template_too_large".into(),
            FailureKind::NotResent => "not_resent".into(),
            FailureKind::InterruptedMidResponse => "interrupted_mid_response".into(),
            FailureKind::StreamIncomplete => "stream_incomplete".into(),
            FailureKind::WsHandshake => "ws_handshake".into(),
            FailureKind::WsClosed => "ws_closed".into(),
            FailureKind::WsTimeout => "ws_timeout".into(),
            FailureKind::WsProtocol => "ws_protocol".into(),
            other => format!("{other:?}").to_lowercase(),
        }
    }
}

impl fmt::Display for FailureKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            FailureKind::Status(s) => {
                let reason = http::StatusCode::from_u16(*s)
                    .ok()
                    .and_then(|c| c.canonical_reason())
                    .unwrap_or("");
                write!(f, "HTTP {s} {reason}")
            }
            FailureKind::Refused => write!(f, "connection refused"),
            FailureKind::Connect => write!(f, "cannot connect"),
            FailureKind::Timeout => write!(f, "timeout"),
            FailureKind::Reset => write!(f, "connection reset"),
            FailureKind::Closed => write!(f, "connection closed early"),
            FailureKind::NotResent => write!(f, "closed unanswered, not resent"),
            FailureKind::Interrupted => write!(f, "interrupted at the stop"),
            FailureKind::InterruptedMidResponse => write!(f, "cut at the stop mid-response"),
            FailureKind::GoAway => write!(f, "HTTP/2 GOAWAY"),
            FailureKind::Protocol => write!(f, "HTTP/2 protocol error"),
            FailureKind::Malformed => write!(f, "malformed response"),
            FailureKind::Local => write!(f, "out of local resources (swarm's side)"),
            FailureKind::Check => write!(f, "check failed"),
            FailureKind::Tls => write!(f, "TLS handshake failed"),
            FailureKind::Redirects => write!(f, "too many redirects"),
            FailureKind::Extract => write!(f, "extract found nothing"),
            FailureKind::Variable => write!(f, "variable has no usable value"),
            FailureKind::DataExhausted => write!(f, "data file ran out"),
            FailureKind::TemplateTooLarge => write!(f, "template too large"),
            FailureKind::StreamIncomplete => write!(f, "stream ended before its done event"),
            FailureKind::WsHandshake => write!(f, "WebSocket upgrade refused"),
            FailureKind::WsClosed => write!(f, "WebSocket closed by the server"),
            FailureKind::WsTimeout => write!(f, "no matching WebSocket message in time"),
            FailureKind::WsProtocol => write!(f, "WebSocket protocol error"),
            FailureKind::Other => write!(f, "other error"),
        }
    }
}
