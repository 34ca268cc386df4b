//! WebSocket steps (tokio-tungstenite over swarm's own TCP and TLS): the upgrade
//! handshake, a message sent and the first matching one received (the round trip), a
//! hold that answers pings and counts what arrives, and the close. Each step says what it
//! counted (`WsCounts`) and why it failed, with its own causes (`ws_handshake`,
//! `ws_closed`, `ws_timeout`, `ws_protocol`).

use super::http::{self as exchange, Outcome, Prepared};
use super::net::{Net, Stream};
use crate::scenario::{Endpoint, WsAction, WsMatch};
use crate::stats::{FailureKind, WsCounts};
use bytes::Bytes;
use futures_util::{SinkExt, StreamExt};
use std::collections::VecDeque;
use std::time::Duration;
use tokio::time::Instant;
use tokio_tungstenite::WebSocketStream;
use tokio_tungstenite::tungstenite::protocol::CloseFrame;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::{self as ws, Message};

/// The largest message a step takes (tungstenite's default is 64 MiB).
const MAX_MESSAGE: usize = 16 << 20;

/// Each socket's read buffer (BENCHMARKS.md, session 12).
const READ_BUFFER: usize = 4 << 10;

/// A user's open socket, and the row of the step that opened it (its close counts there).
pub struct Socket {
    inner: WebSocketStream<Stream>,
    pub row: usize,
    /// What arrived while the user was between steps (thinking), oldest first, for the
    /// next step to take; None for the socket's end.
    waiting: VecDeque<Option<Result<Message, ws::Error>>>,
    /// The bytes of the messages waiting.
    waiting_bytes: usize,
}

/// Messages (or bytes) read between steps beyond which the socket is left unread until
/// the next step: a server that floods an idle user meets TCP's back-pressure, not an
/// unbounded queue.
const MAX_WAITING: usize = 1024;
const MAX_WAITING_BYTES: usize = MAX_MESSAGE;

impl Socket {
    fn new(inner: WebSocketStream<Stream>, row: usize) -> Socket {
        Socket {
            inner,
            row,
            waiting: VecDeque::new(),
            waiting_bytes: 0,
        }
    }

    /// The next message: one that waited, else one read now.
    async fn next(&mut self) -> Option<Result<Message, ws::Error>> {
        if let Some(m) = self.waiting.pop_front() {
            if let Some(Ok(m)) = &m {
                self.waiting_bytes -= m.len().min(self.waiting_bytes);
            }
            return m;
        }
        self.inner.next().await
    }

    /// Counts the messages that arrived between steps and no step took.
    fn count_unread(&self, counts: &mut WsCounts) {
        for m in self.waiting.iter().flatten().flatten() {
            count_in(counts, m);
        }
    }

    /// The socket's end (a close, an error, its stream over) is among what waits.
    fn ended(&self) -> bool {
        matches!(
            self.waiting.back(),
            Some(None | Some(Err(_)) | Some(Ok(Message::Close(_))))
        )
    }
}

/// Between steps, until `until`: the socket is read as a browser reads it, so that pings
/// are answered (tungstenite answers as it reads) and the server sees a reader; what
/// arrives waits for the next step, which counts and matches it as if it had just come.
pub async fn between_steps(s: &mut Socket, until: Instant) {
    while !s.ended() && s.waiting.len() < MAX_WAITING && s.waiting_bytes < MAX_WAITING_BYTES {
        // The socket itself: what already waits stays where it is.
        match tokio::time::timeout_at(until, s.inner.next()).await {
            Err(_) => return,
            Ok(m) => {
                if let Some(Ok(m)) = &m {
                    s.waiting_bytes += m.len();
                }
                s.waiting.push_back(m);
            }
        }
    }
    tokio::time::sleep_until(until).await;
}

/// What a step did.
#[derive(Debug, Default)]
pub struct Done {
    pub latency_us: u64,
    /// 101 for an accepted upgrade, the refusal's status for a refused one.
    pub status: Option<u16>,
    pub counts: WsCounts,
    pub failure: Option<(FailureKind, String)>,
    /// The message a `receive` matched.
    pub matched: Option<Bytes>,
    /// The upgrade's response headers (its cookies are kept).
    pub headers: Option<http::HeaderMap>,
}

impl Done {
    fn fail(mut self, kind: FailureKind, message: String) -> Done {
        self.failure = Some((kind, message));
        self
    }
}

/// Runs one step on the user's socket (`socket`, opened by a `ws` step).
pub async fn step(
    socket: &mut Option<Socket>,
    action: &WsAction,
    (endpoint, row): (&Endpoint, usize),
    prepared: Option<&Prepared>,
    net: &Net,
) -> Done {
    let start = Instant::now();
    let mut done = match action {
        WsAction::Connect => connect(socket, endpoint, row, prepared, net).await,
        other => match socket.as_mut() {
            None => Done::default().fail(
                FailureKind::WsProtocol,
                format!(
                    "{}: no WebSocket is open (a step with ws = \"/path\" opens one, earlier in the flow)",
                    endpoint.name
                ),
            ),
            Some(s) => on_socket(s, other, endpoint, prepared).await,
        },
    };
    done.latency_us = start.elapsed().as_micros() as u64;
    // A socket the server closed, that broke, or that this step closed is gone (a
    // receive that timed out keeps it): the next ws step opens a new one.
    let gone = matches!(action, WsAction::Close(_))
        || done
            .failure
            .as_ref()
            .is_some_and(|(kind, _)| *kind != FailureKind::WsTimeout);
    if gone
        && !matches!(action, WsAction::Connect)
        && let Some(s) = socket.take()
    {
        done.counts.closed = 1;
        s.count_unread(&mut done.counts);
    }
    done
}

/// The upgrade: swarm's TCP (and TLS) connection, the endpoint's headers with the
/// user's cookies, and 101 as success. An open socket is closed first.
async fn connect(
    socket: &mut Option<Socket>,
    e: &Endpoint,
    row: usize,
    prepared: Option<&Prepared>,
    net: &Net,
) -> Done {
    let mut done = Done::default();
    done.counts.closed = u64::from(end(socket).await.is_some());
    let (stream, h2) = match exchange::open(&e.origin, net).await {
        Ok(s) => s,
        Err(err) => {
            let o = Outcome::of(Err(err), e, 0, false);
            let why = o.describe(e);
            return done.fail(o.failure.unwrap_or(FailureKind::Connect), why);
        }
    };
    // Over plain TCP, HTTP/2 is swarm's own choice (prior knowledge): the upgrade goes as
    // HTTP/1.1 all the same. Over TLS the server chose it by ALPN.
    if h2 && e.origin.tls {
        return done.fail(
            FailureKind::WsHandshake,
            format!(
                "{}: the server chose HTTP/2 by ALPN; WebSocket goes over HTTP/1.1 (leave http2 off for this host)",
                e.origin.authority()
            ),
        );
    }
    let request = match upgrade_request(e, prepared) {
        Ok(r) => r,
        Err(why) => return done.fail(FailureKind::WsProtocol, why),
    };
    // tungstenite zero-fills its read buffer's free room before every read: at its
    // default 128 KiB that was a fifth of swarm's CPU with 10 000 sockets (and 128 KiB
    // of memory each); a frame larger than 4 KiB still grows the buffer as it needs.
    let config = ws::protocol::WebSocketConfig::default()
        .read_buffer_size(READ_BUFFER)
        .max_message_size(Some(MAX_MESSAGE))
        .max_frame_size(Some(MAX_MESSAGE));
    let handshake = tokio_tungstenite::client_async_with_config(request, stream, Some(config));
    match tokio::time::timeout(e.timeout, handshake).await {
        Err(_) => done.fail(
            FailureKind::WsTimeout,
            format!(
                "{}: no answer to the upgrade within {:?}",
                e.origin.authority(),
                e.timeout
            ),
        ),
        Ok(Err(err)) => {
            let (kind, why) = classify(&err, e);
            done.status = refused_status(&err);
            done.fail(kind, why)
        }
        Ok(Ok((inner, response))) => {
            done.status = Some(response.status().as_u16());
            done.headers = Some(response.headers().clone());
            done.counts.opened = 1;
            *socket = Some(Socket::new(inner, row));
            done
        }
    }
}

/// The upgrade request: the target and headers as rendered for this user.
fn upgrade_request(e: &Endpoint, prepared: Option<&Prepared>) -> Result<http::Request<()>, String> {
    let target = prepared
        .and_then(|p| p.target.as_ref())
        .unwrap_or(&e.target);
    let scheme = if e.origin.tls { "wss" } else { "ws" };
    let pq = target.path_and_query().map_or("/", |p| p.as_str());
    let uri: http::Uri = format!("{scheme}://{}{pq}", e.origin.authority())
        .parse()
        .map_err(|err| format!("{}: not a WebSocket URL ({err})", e.name))?;
    let mut request = http::Request::new(());
    *request.uri_mut() = uri;
    let headers = request.headers_mut();
    for (name, value) in &e.headers {
        headers.insert(name.clone(), value.clone());
    }
    for (name, value) in prepared.map(|p| &p.headers[..]).unwrap_or_default() {
        headers.insert(name.clone(), value.clone());
    }
    // The handshake's own headers, as RFC 6455 has them.
    let fixed = [
        ("connection", "Upgrade".to_string()),
        ("upgrade", "websocket".into()),
        ("sec-websocket-version", "13".into()),
        ("sec-websocket-key", ws::handshake::client::generate_key()),
    ];
    for (name, value) in fixed {
        let v = http::HeaderValue::from_str(&value).expect("ASCII");
        headers.insert(name, v);
    }
    Ok(request)
}

/// A step on an open socket.
async fn on_socket(
    s: &mut Socket,
    action: &WsAction,
    e: &Endpoint,
    prepared: Option<&Prepared>,
) -> Done {
    let mut done = Done::default();
    match action {
        WsAction::Exchange {
            send,
            binary,
            receive,
        } => {
            if *send && s.ended() {
                return ended_between_steps(s, e, done).await;
            }
            if *send {
                let body = prepared
                    .and_then(|p| p.body.clone())
                    .unwrap_or_else(|| e.body.clone());
                let n = body.len() as u64;
                let message = if *binary {
                    Message::Binary(body)
                } else {
                    match String::from_utf8(body.to_vec()) {
                        Ok(text) => Message::text(text),
                        Err(_) => Message::Binary(body),
                    }
                };
                if let Err(err) = s.inner.send(message).await {
                    let (kind, why) = classify(&err, e);
                    return done.fail(kind, why);
                }
                done.counts.sent = 1;
                done.counts.bytes_sent = n;
            }
            if let Some(m) = receive {
                return receive_match(s, m, e, done).await;
            }
            done
        }
        WsAction::Hold(d) => hold(s, *d, e, done).await,
        WsAction::Close(code) => close(s, *code, e, done).await,
        WsAction::Connect => unreachable!("connect is not a step on an open socket"),
    }
}

/// The socket ended while the user was between steps (its end waits): a send would
/// only say "closed", so the step says how, as a receive would, with what came before.
async fn ended_between_steps(s: &mut Socket, e: &Endpoint, mut done: Done) -> Done {
    loop {
        match s.next().await {
            Some(Ok(Message::Close(frame))) => return closed(done, e, frame.as_ref()),
            Some(Ok(m)) => count_in(&mut done.counts, &m),
            Some(Err(err)) => {
                let (kind, why) = classify(&err, e);
                return done.fail(kind, why);
            }
            None => return closed(done, e, None),
        }
    }
}

/// Sends a close frame with `code` and reads up to the server's answer.
async fn close(s: &mut Socket, code: u16, e: &Endpoint, mut done: Done) -> Done {
    let frame = CloseFrame {
        code: CloseCode::from(code),
        reason: "".into(),
    };
    let closing = async {
        s.inner.close(Some(frame)).await?;
        // The server's close answers ours; what comes before it is counted.
        while let Some(m) = s.next().await {
            count_in(&mut done.counts, &m?);
        }
        Ok::<(), ws::Error>(())
    };
    match tokio::time::timeout(e.timeout, closing).await {
        // A server that drops the connection instead of answering has closed it too.
        Ok(
            Ok(())
            | Err(
                ws::Error::ConnectionClosed
                | ws::Error::AlreadyClosed
                | ws::Error::Protocol(ws::error::ProtocolError::ResetWithoutClosingHandshake),
            ),
        ) => {}
        Ok(Err(err)) => {
            let (kind, why) = classify(&err, e);
            return done.fail(kind, why);
        }
        Err(_) => {
            let why = format!(
                "{}: the server did not answer the close within {:?}",
                e.name, e.timeout
            );
            return done.fail(FailureKind::WsTimeout, why);
        }
    }
    done.counts.closed = 1;
    done
}

/// Waits for the first message that matches; those that do not are counted and skipped.
async fn receive_match(s: &mut Socket, m: &WsMatch, e: &Endpoint, mut done: Done) -> Done {
    let deadline = Instant::now() + e.timeout;
    loop {
        let next = tokio::time::timeout_at(deadline, s.next()).await;
        let message = match next {
            Err(_) => {
                let why = format!(
                    "{}: no message matching {} within {:?} ({} other messages skipped)",
                    e.name,
                    describe_match(m),
                    e.timeout,
                    done.counts.unmatched
                );
                return done.fail(FailureKind::WsTimeout, why);
            }
            Ok(None) => return closed(done, e, None),
            Ok(Some(Err(err))) => {
                let (kind, why) = classify(&err, e);
                return done.fail(kind, why);
            }
            Ok(Some(Ok(message))) => message,
        };
        if let Message::Close(frame) = &message {
            return closed(done, e, frame.as_ref());
        }
        count_in(&mut done.counts, &message);
        let text = match &message {
            Message::Text(t) => Some(t.as_str().to_string()),
            Message::Binary(b) => std::str::from_utf8(b).ok().map(str::to_string),
            _ => None,
        };
        let Some(text) = text else { continue };
        if m.matches(&text) {
            done.matched = Some(Bytes::from(text));
            return done;
        }
        done.counts.unmatched += 1;
    }
}

/// Keeps the socket open for `d`, answering pings (tungstenite does as it reads) and
/// counting what arrives.
async fn hold(s: &mut Socket, d: Duration, e: &Endpoint, mut done: Done) -> Done {
    let until = Instant::now() + d;
    loop {
        match tokio::time::timeout_at(until, s.next()).await {
            Err(_) => return done,
            Ok(None) => return closed(done, e, None),
            Ok(Some(Err(err))) => {
                let (kind, why) = classify(&err, e);
                return done.fail(kind, why);
            }
            Ok(Some(Ok(Message::Close(frame)))) => return closed(done, e, frame.as_ref()),
            Ok(Some(Ok(m))) => count_in(&mut done.counts, &m),
        }
    }
}

/// Counts a data message that arrived (pings and pongs are not messages).
fn count_in(c: &mut WsCounts, m: &Message) {
    if matches!(m, Message::Text(_) | Message::Binary(_)) {
        c.received += 1;
        c.bytes_received += m.len() as u64;
    }
}

/// The server closed the socket before the step was done: its code and reason.
fn closed(done: Done, e: &Endpoint, frame: Option<&CloseFrame>) -> Done {
    let why = match frame {
        Some(f) if f.reason.is_empty() => format!("with code {}", u16::from(f.code)),
        Some(f) => format!("with code {} ({})", u16::from(f.code), f.reason),
        None => "without a close frame".into(),
    };
    done.fail(
        FailureKind::WsClosed,
        format!("{}: the server closed the WebSocket {why}", e.name),
    )
}

fn describe_match(m: &WsMatch) -> String {
    match m {
        WsMatch::Any => "anything".into(),
        WsMatch::Contains(t) => format!("contains \"{t}\""),
        WsMatch::ContainsTemplate(_) => "a template".into(),
        WsMatch::Regex(r) => format!("regex {r}"),
        WsMatch::Json(p, Some(v)) => format!("{p} = {v}"),
        WsMatch::Json(p, None) => format!("a value at {p}"),
    }
}

/// The status of a refused upgrade.
fn refused_status(err: &ws::Error) -> Option<u16> {
    match err {
        ws::Error::Http(r) => Some(r.status().as_u16()),
        _ => None,
    }
}

/// A tungstenite error as a cause and a sentence.
fn classify(err: &ws::Error, e: &Endpoint) -> (FailureKind, String) {
    let at = e.origin.authority();
    match err {
        ws::Error::Http(r) => {
            let body = r
                .body()
                .as_deref()
                .map(|b| String::from_utf8_lossy(&b[..b.len().min(120)]).into_owned())
                .unwrap_or_default();
            (
                FailureKind::WsHandshake,
                format!(
                    "{at}: the upgrade to WebSocket was refused with {}{}",
                    r.status(),
                    if body.is_empty() {
                        String::new()
                    } else {
                        format!(": {body}")
                    }
                ),
            )
        }
        ws::Error::ConnectionClosed | ws::Error::AlreadyClosed => (
            FailureKind::WsClosed,
            format!("{}: the WebSocket was closed", e.name),
        ),
        ws::Error::Protocol(ws::error::ProtocolError::ResetWithoutClosingHandshake) => (
            FailureKind::WsClosed,
            format!(
                "{}: the server dropped the connection without a close frame",
                e.name
            ),
        ),
        ws::Error::Io(io) => {
            let kind = match io.kind() {
                std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::BrokenPipe => {
                    FailureKind::Reset
                }
                std::io::ErrorKind::UnexpectedEof => FailureKind::WsClosed,
                _ => FailureKind::Other,
            };
            (kind, format!("{at}: {io}"))
        }
        ws::Error::Capacity(c) => (
            FailureKind::WsProtocol,
            format!("{at}: a WebSocket message past swarm's limit ({c})"),
        ),
        other => (FailureKind::WsProtocol, format!("{at}: {other}")),
    }
}

/// Closes a socket at the flow's (or the user's) end, or before a new one opens: a close
/// frame, without waiting long for the answer. The row that opened it, and the messages
/// that had arrived for no step (counted there), when there was one.
pub async fn end(socket: &mut Option<Socket>) -> Option<(usize, WsCounts)> {
    let s = socket.take()?;
    let mut counts = WsCounts::default();
    s.count_unread(&mut counts);
    let mut inner = s.inner;
    let _ = tokio::time::timeout(Duration::from_millis(200), inner.close(None)).await;
    Some((s.row, counts))
}
