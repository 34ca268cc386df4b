//! One exchange on a user's own keep-alive connection (HTTP/1.1 by `h1`, HTTP/2 by hyper's
//! connection-level client), with the timeout enforced and every error classified into a
//! `FailureKind`.

pub use super::capture::{Capture, Progress};
use super::coding::Coding;
use super::h1::{self, H1, H1Error, Response};
use super::net::{FirstBytes, Heard, Net, Stream};
use super::stream::StreamRead;
use crate::scenario::{Endpoint, Origin};
use crate::stats::FailureKind;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http2;
use hyper_util::rt::{TokioExecutor, TokioIo};
use std::borrow::Cow;
use std::error::Error as _;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::net::TcpStream;

/// Why an exchange did not produce a complete response.
#[derive(Debug)]
pub enum ExchangeError {
    Connect(io::Error),
    /// The TLS handshake failed (certificate, protocol).
    Tls(io::Error),
    /// HTTP/2.
    Http(hyper::Error),
    /// HTTP/1.1.
    H1(H1Error),
    Timeout,
    /// A reused HTTP/1.1 connection closed before any byte of the answer to a request
    /// that is not safe to send twice (this method, or a body): not sent again.
    NotResent(http::Method),
    /// HTTP/2: the stream ended (a reset with NO_ERROR, which hyper takes as the end of
    /// the body) before the announced Content-Length arrived.
    Cut {
        got: u64,
        expected: u64,
    },
    /// A stream went this long without an event (its endpoint's `timeout`).
    StreamIdle(Duration),
    /// A stream went on past its `stream_max`.
    StreamMax(Duration),
    /// A stream's body ended before its `stream_done` (what it had read, described).
    Incomplete(String),
    /// HTTP/2 over plain TCP (prior knowledge) to a server that answered the preface with
    /// something else (HTTP/1, a page) or closed before a byte (`FirstBytes::Nothing`).
    NoHttp2(FirstBytes),
}

/// The result of one request.
#[derive(Debug)]
pub struct Outcome {
    pub latency_us: u64,
    pub status: Option<u16>,
    pub bytes: u64,
    pub failure: Option<FailureKind>,
    /// Kept unformatted: it becomes text only when the statistics need it.
    pub error: Option<ExchangeError>,
    /// The response's headers, when captured.
    pub headers: Option<http::HeaderMap>,
    /// The response's body, when captured.
    pub body: Option<Bytes>,
    /// The request was sent a second time on a new connection (see `may_resend`).
    pub resent: bool,
    /// A streamed response's reader, with what it read (also when the stream failed).
    pub stream: Option<Box<StreamRead>>,
}

/// A request's parts rendered for this one request (templates, cookies); what is None
/// comes from the endpoint as written.
#[derive(Debug, Default)]
pub struct Prepared {
    pub method: Option<http::Method>,
    pub target: Option<http::Uri>,
    /// Headers of the endpoint not to send (a redirect drops the body's type).
    pub remove: Vec<http::HeaderName>,
    /// Set (replacing the endpoint's value) before sending.
    pub headers: Vec<(http::HeaderName, http::HeaderValue)>,
    pub body: Option<Bytes>,
}

impl Outcome {
    /// What a stream had read ("12 events, 11 tokens").
    fn stream_read(&self) -> String {
        self.stream
            .as_ref()
            .map_or_else(|| "0 events".into(), |s| s.describe())
    }

    /// The error text for the failure report.
    pub fn describe(&self, endpoint: &Endpoint) -> String {
        match &self.error {
            Some(ExchangeError::Connect(e)) => format!("{}: {e}", endpoint.origin.authority()),
            Some(ExchangeError::Tls(e)) => {
                format!("{}: {}", endpoint.origin.authority(), tls_sentence(e))
            }
            Some(ExchangeError::Http(e)) => {
                format!("{}: {}", endpoint.origin.authority(), describe_hyper(e))
            }
            Some(ExchangeError::NotResent(method)) => format!(
                "{}: the server closed a reused connection before answering; {method} with a body or \
                 side effects is not sent twice, so it failed (the server may or may not have acted on it)",
                endpoint.origin.authority()
            ),
            Some(ExchangeError::Cut { got, expected }) => format!(
                "{}: HTTP/2 stream ended after {got} of the {expected} bytes its Content-Length announced",
                endpoint.origin.authority()
            ),
            Some(ExchangeError::H1(e)) => format!("{}: {e}", endpoint.origin.authority()),
            Some(ExchangeError::NoHttp2(first)) => {
                let what = match first {
                    FirstBytes::NotHttp2(start) => {
                        format!("answered the HTTP/2 preface with \"{start}\"")
                    }
                    FirstBytes::Reset => "reset the connection before a byte of HTTP/2".into(),
                    _ => "closed the connection before a byte of HTTP/2".into(),
                };
                format!(
                    "{}: the server {what} (an HTTP/2 server sends its settings first): does \
                     it speak HTTP/2 over plain TCP (prior knowledge, what --http2 or http2 = \
                     true sends to an http:// host)? If not, leave HTTP/2 off, or use \
                     https://, where TLS agrees on it",
                    endpoint.origin.authority()
                )
            }
            Some(ExchangeError::Timeout) => {
                format!("no complete response within {:?}", endpoint.timeout)
            }
            Some(ExchangeError::StreamIdle(idle)) => format!(
                "the stream went {idle:?} without an event (the endpoint's timeout), after {}",
                self.stream_read()
            ),
            Some(ExchangeError::StreamMax(max)) => format!(
                "the stream was still going at its stream_max of {max:?}, after {}",
                self.stream_read()
            ),
            Some(ExchangeError::Incomplete(read)) => {
                let done = endpoint
                    .stream
                    .as_ref()
                    .and_then(|s| s.done.as_deref())
                    .unwrap_or_default();
                format!("the stream ended after {read} without its stream_done \"{done}\"")
            }
            None => match self.status {
                Some(s) => format!("{} {} answered {s}", endpoint.method, asked(endpoint)),
                None => String::new(),
            },
        }
    }
}

/// What a request asked for, as the server saw it: the target with the host's prefix
/// (`/api/items` for `/items` under `http://h/api`), or the path as written when it is a
/// URL or a template.
fn asked(endpoint: &Endpoint) -> String {
    let templated = endpoint
        .dynamic
        .as_ref()
        .is_some_and(|d| d.target.is_some());
    if endpoint.path.starts_with('/') && !templated {
        endpoint.target.to_string()
    } else {
        endpoint.path.clone()
    }
}

/// A TLS failure as a sentence with what to do about it, instead of rustls' enum names
/// (`InvalidCertificate(Other(OtherError(CaUsedAsEndEntity)))`).
fn tls_sentence(e: &io::Error) -> String {
    use rustls::{CertificateError as C, Error as R};
    const INSECURE: &str =
        "a self-signed test server? set insecure = true in [defaults], or --insecure";
    let Some(r) = e.get_ref().and_then(|inner| inner.downcast_ref::<R>()) else {
        return e.to_string();
    };
    let cert = |what: &str| format!("the server's certificate {what} ({INSECURE})");
    match r {
        R::InvalidCertificate(c) => match c {
            C::UnknownIssuer => cert("is not signed by an authority swarm trusts"),
            C::Expired | C::ExpiredContext { .. } => cert("has expired"),
            C::NotValidYet | C::NotValidYetContext { .. } => {
                cert("is not valid yet (is this machine's clock right?)")
            }
            C::NotValidForName | C::NotValidForNameContext { .. } => {
                cert("is for another host name")
            }
            C::Revoked => cert("has been revoked"),
            C::BadSignature => cert("has a bad signature"),
            C::InvalidPurpose | C::InvalidPurposeContext { .. } => {
                cert("is not meant for a TLS server")
            }
            C::Other(o) if format!("{o:?}").contains("CaUsedAsEndEntity") => {
                cert("is a certificate authority's, not a server's")
            }
            other => cert(&format!("was refused: {other:?}")),
        },
        R::InvalidMessage(_) | R::InappropriateMessage { .. } => {
            "the answer is not TLS (does the server speak plain HTTP? then use an http:// URL)"
                .into()
        }
        R::AlertReceived(alert) => {
            format!("the server refused the TLS handshake (alert {alert:?})")
        }
        R::PeerIncompatible(why) => {
            format!("the server offers no TLS version or cipher swarm supports ({why:?})")
        }
        R::NoCertificatesPresented => "the server sent no certificate".into(),
        other => format!("the TLS handshake failed: {other}"),
    }
}

/// Sends one request on `conn`, connecting first when there is no open connection.
/// Any failure drops the connection, so the next request reconnects.
/// `wire` is the endpoint's request encoded for HTTP/1.1, used when nothing is `prepared`.
pub async fn send(
    conn: &mut Option<Conn>,
    origin: &Origin,
    net: &Net,
    endpoint: &Endpoint,
    wire: &[u8],
    prepared: Option<&Prepared>,
    mut capture: Capture<'_>,
) -> Outcome {
    let start = Instant::now();
    let mut resent = false;
    if let Some(p) = capture.progress {
        p.begin();
    }
    let reader = endpoint.stream.as_ref().map(|s| {
        Mutex::new(StreamRead::new(
            Arc::clone(s),
            endpoint.needs_tokens(),
            start,
        ))
    });
    capture.stream = reader.as_ref();
    let keep_body = capture.body;
    let exchange = exchange(
        conn,
        origin,
        net,
        endpoint,
        wire,
        prepared,
        capture,
        &mut resent,
    );
    let result = match (&reader, &endpoint.stream) {
        (Some(read), Some(spec)) => {
            watched(exchange, read, endpoint.timeout, spec.max, start).await
        }
        _ => match tokio::time::timeout(endpoint.timeout, exchange).await {
            Ok(r) => r,
            Err(_) => Err(ExchangeError::Timeout),
        },
    };
    // A stream with a `stream_done` ends at that event (the body's rest is cleanup).
    let done = (reader.as_ref())
        .filter(|_| result.is_ok())
        .and_then(|r| lock(r).done_at());
    let latency_us = done
        .map_or_else(|| start.elapsed(), |d| d.saturating_duration_since(start))
        .as_micros() as u64;
    if result.is_err() {
        *conn = None;
    }
    let mut outcome = Outcome::of(result, endpoint, latency_us, resent);
    if let Some(read) = reader {
        ended_stream(&mut outcome, read, keep_body);
    }
    outcome
}

impl Outcome {
    pub(crate) fn of(
        result: Result<Response, ExchangeError>,
        endpoint: &Endpoint,
        latency_us: u64,
        resent: bool,
    ) -> Outcome {
        match result {
            Ok(r) => Outcome {
                latency_us,
                status: Some(r.status),
                bytes: r.bytes,
                failure: (!endpoint.expect.accepts(r.status))
                    .then_some(FailureKind::Status(r.status)),
                error: None,
                headers: r.headers,
                body: r.body,
                resent,
                stream: None,
            },
            Err(e) => Outcome {
                latency_us,
                status: None,
                bytes: 0,
                failure: Some(classify(&e)),
                error: Some(e),
                headers: None,
                body: None,
                resent,
                stream: None,
            },
        }
    }
}

/// A streamed exchange: `idle` bounds the wait for each event (from the start until the
/// first), `max` the whole stream.
async fn watched(
    exchange: impl Future<Output = Result<Response, ExchangeError>>,
    read: &Mutex<StreamRead>,
    idle: Duration,
    max: Option<Duration>,
    start: Instant,
) -> Result<Response, ExchangeError> {
    let mut exchange = std::pin::pin!(exchange);
    let end = max.map(|m| start + m);
    loop {
        let (last, done) = {
            let r = lock(read);
            (r.last_activity(), r.done())
        };
        if done {
            // Over: what is left is the body's rest, whose reads the exchange bounds
            // itself (h1's AFTER_DONE; HTTP/2 stops at the event), so no deadline here
            // can fail a stream that completed.
            return exchange.await;
        }
        let (deadline, why) = match end {
            Some(end) if end <= last + idle => (end, ExchangeError::StreamMax(max.unwrap_or(idle))),
            _ => (last + idle, ExchangeError::StreamIdle(idle)),
        };
        let now = Instant::now();
        if now >= deadline {
            return Err(why);
        }
        tokio::select! {
            biased;
            result = &mut exchange => return result,
            () = tokio::time::sleep(deadline - now) => {}
        }
    }
}

fn lock(read: &Mutex<StreamRead>) -> std::sync::MutexGuard<'_, StreamRead> {
    read.lock().unwrap_or_else(|p| p.into_inner())
}

/// A streamed response's end: the reader goes into the outcome, the body (for checks and
/// extractions) is the last event's data, and a body that ended before `stream_done` is
/// a failure of its own.
fn ended_stream(outcome: &mut Outcome, read: Mutex<StreamRead>, keep_body: bool) {
    let mut read = read.into_inner().unwrap_or_else(|p| p.into_inner());
    if outcome.error.is_none() {
        read.finish(Instant::now());
        if outcome.failure.is_none() && read.incomplete() {
            outcome.failure = Some(FailureKind::StreamIncomplete);
            outcome.error = Some(ExchangeError::Incomplete(read.describe()));
        }
    }
    if keep_body {
        outcome.body = Some(Bytes::copy_from_slice(read.last_data()));
    }
    outcome.stream = Some(Box::new(read));
}

#[expect(
    clippy::too_many_arguments,
    reason = "send's parameters passed through, plus where to say the request was resent"
)]
async fn exchange(
    conn: &mut Option<Conn>,
    origin: &Origin,
    net: &Net,
    endpoint: &Endpoint,
    wire: &[u8],
    prepared: Option<&Prepared>,
    capture: Capture<'_>,
    resent: &mut bool,
) -> Result<Response, ExchangeError> {
    if conn.as_mut().is_none_or(|c| !c.is_usable()) {
        *conn = Some(connect(origin, net).await?);
    }
    let c = conn.as_mut().expect("connected above");
    let result = match c {
        Conn::H1(h) => {
            let parts = Parts::of(endpoint, prepared);
            let encoded;
            let request = match prepared {
                None => wire,
                Some(_) => {
                    encoded = parts.encode_h1();
                    &encoded[..]
                }
            };
            let head = *parts.method == http::Method::HEAD;
            match h.exchange(request, head, capture).await {
                Err((_, true)) if !may_resend(parts.method, parts.body) => {
                    return Err(ExchangeError::NotResent(parts.method.clone()));
                }
                Err((_, true)) => {
                    // The server closed the idle connection as the request went out: send it
                    // once more on a new one.
                    *resent = true;
                    let Conn::H1(mut fresh) = connect(origin, net).await? else {
                        let why = "and then offered HTTP/2 on a new connection";
                        return Err(ExchangeError::H1(H1Error::Closed(why)));
                    };
                    let result = fresh.exchange(request, head, capture).await;
                    *h = fresh;
                    result
                }
                result => result,
            }
            .map_err(|(e, _)| ExchangeError::H1(e))
        }
        Conn::H2 {
            sender,
            driver,
            ended,
            first,
        } => {
            let parts = Parts::of(endpoint, prepared);
            let head = *parts.method == http::Method::HEAD;
            let request = absolute(parts.request(), origin);
            let send = async move {
                sender.ready().await?;
                sender.send_request(request).await
            };
            let result = drive(send, driver.as_mut(), ended, capture, head).await;
            no_prior_knowledge(result, origin, first)
        }
    };
    if result.is_err() || conn.as_ref().is_some_and(Conn::ended) {
        *conn = None;
    }
    result
}

/// A failed HTTP/2 connection over plain TCP whose server answered the preface with
/// something else, or closed or reset it before a byte (an HTTP/2 server sends its SETTINGS
/// first): it likely does not speak HTTP/2 without TLS (prior knowledge), and the message
/// says so instead of hyper's "broken pipe".
fn no_prior_knowledge(
    result: Result<Response, ExchangeError>,
    origin: &Origin,
    first: &Mutex<FirstBytes>,
) -> Result<Response, ExchangeError> {
    match result {
        Err(ExchangeError::Http(e)) if !origin.tls => {
            let first = first.lock().unwrap_or_else(|p| p.into_inner()).clone();
            match first {
                FirstBytes::Unread | FirstBytes::Settings => Err(ExchangeError::Http(e)),
                other => Err(ExchangeError::NoHttp2(other)),
            }
        }
        result => result,
    }
}

/// Whether a request that a server's keep-alive close took before any byte of its answer
/// may go out again: what Go's net/http replays (GET, HEAD, OPTIONS and TRACE without a
/// body). Anything else may have been acted on, so sending it twice could do it twice.
fn may_resend(method: &http::Method, body: &[u8]) -> bool {
    use http::Method;
    body.is_empty()
        && matches!(
            *method,
            Method::GET | Method::HEAD | Method::OPTIONS | Method::TRACE
        )
}

/// The request as it goes out over HTTP/1.1, rendered parts included (`--http-debug`).
pub(crate) fn request_text(endpoint: &Endpoint, prepared: Option<&Prepared>) -> Vec<u8> {
    Parts::of(endpoint, prepared).encode_h1()
}

/// An endpoint's request as it goes out when nothing in it is rendered per request.
pub(crate) fn encode(endpoint: &Endpoint) -> Bytes {
    Parts::of(endpoint, None).encode_h1().into()
}

/// A request as it goes out: the endpoint, with what was rendered for this one request
/// (`Prepared`) in place of the endpoint's own parts.
struct Parts<'a> {
    method: &'a http::Method,
    target: &'a http::Uri,
    headers: Cow<'a, http::HeaderMap>,
    body: &'a Bytes,
}

impl<'a> Parts<'a> {
    fn of(endpoint: &'a Endpoint, prepared: Option<&'a Prepared>) -> Self {
        let mut headers = Cow::Borrowed(&endpoint.headers);
        if let Some(p) = prepared.filter(|p| !p.headers.is_empty() || !p.remove.is_empty()) {
            let h = headers.to_mut();
            for (name, value) in &p.headers {
                h.insert(name.clone(), value.clone());
            }
            for name in &p.remove {
                h.remove(name);
            }
        }
        Parts {
            method: prepared
                .and_then(|p| p.method.as_ref())
                .unwrap_or(&endpoint.method),
            target: prepared
                .and_then(|p| p.target.as_ref())
                .unwrap_or(&endpoint.target),
            headers,
            body: prepared
                .and_then(|p| p.body.as_ref())
                .unwrap_or(&endpoint.body),
        }
    }

    fn encode_h1(&self) -> Vec<u8> {
        let target = self.target.path_and_query().map_or("/", |t| t.as_str());
        h1::encode(self.method, target, &self.headers, self.body)
    }

    /// For hyper's HTTP/2 client.
    fn request(self) -> Request<Full<Bytes>> {
        let mut req = Request::new(Full::new(self.body.clone()));
        *req.method_mut() = self.method.clone();
        *req.uri_mut() = self.target.clone();
        *req.headers_mut() = self.headers.into_owned();
        req
    }
}

/// HTTP/2 takes the scheme and authority from the URI, not the Host header: the Host
/// the request carries (the origin's, or one the scenario set) becomes its authority.
fn absolute(mut request: Request<Full<Bytes>>, origin: &Origin) -> Request<Full<Bytes>> {
    let pq = request
        .uri()
        .path_and_query()
        .map_or("/", |p| p.as_str())
        .to_string();
    let host = request.headers_mut().remove(http::header::HOST);
    let authority = host
        .as_ref()
        .and_then(|h| h.to_str().ok())
        .map_or_else(|| origin.authority(), str::to_string);
    if let Ok(uri) = format!("{}://{authority}{pq}", origin.scheme()).parse() {
        *request.uri_mut() = uri;
    } else if let Ok(uri) = format!("{}://{}{pq}", origin.scheme(), origin.authority()).parse() {
        *request.uri_mut() = uri;
    }
    request
}

/// Sends one request and reads the whole response, polling the connection in this task.
async fn drive<S, D>(
    send: S,
    driver: Pin<&mut D>,
    ended: &mut bool,
    capture: Capture<'_>,
    head: bool,
) -> Result<Response, ExchangeError>
where
    S: Future<Output = Result<http::Response<hyper::body::Incoming>, hyper::Error>>,
    D: Future<Output = Result<(), hyper::Error>>,
{
    let mut response = std::pin::pin!(async move {
        let response = send.await.map_err(ExchangeError::Http)?;
        let status = response.status().as_u16();
        let keep_headers = capture.headers
            || (capture.redirects && response.status().is_redirection())
            || (capture.cookies && response.headers().contains_key(http::header::SET_COOKIE));
        let headers = keep_headers.then(|| response.headers().clone());
        let coding = response
            .headers()
            .get(http::header::CONTENT_ENCODING)
            .map_or(Coding::Identity, |v| Coding::of(v.as_bytes()));
        let mut body = h1::Body::new(capture, coding).map_err(ExchangeError::H1)?;
        let announced = (!head && status != 204 && status != 304)
            .then(|| content_length(response.headers()))
            .flatten();
        if let Some(p) = capture.progress {
            p.head(status, announced);
        }
        let mut incoming = response.into_body();
        let mut left_at_done = false;
        while let Some(frame) = incoming.frame().await {
            if let Some(data) = frame.map_err(ExchangeError::Http)?.data_ref() {
                body.add(data);
            }
            if body.stream_done() {
                // The stream's last event: the rest is not read (the stream is reset).
                left_at_done = true;
                break;
            }
        }
        let response = body.into_response(status, headers);
        match announced {
            Some(expected) if !left_at_done && response.bytes != expected => {
                Err(ExchangeError::Cut {
                    got: response.bytes,
                    expected,
                })
            }
            _ => Ok(response),
        }
    });
    let mut driver = driver;
    let closed = tokio::select! {
        biased;
        result = &mut response => return result,
        closed = driver.as_mut() => closed,
    };
    *ended = true;
    // The connection ended; what it read may still complete the response.
    match (response.await, closed) {
        (Ok(r), _) => Ok(r),
        (Err(_), Err(e)) => Err(ExchangeError::Http(e)),
        (Err(e), Ok(())) => Err(e),
    }
}

/// A response's Content-Length, when it has one that parses.
fn content_length(headers: &http::HeaderMap) -> Option<u64> {
    headers
        .get(http::header::CONTENT_LENGTH)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()
}

type Io = TokioIo<Heard>;

/// A keep-alive connection: hyper's sender and the connection future that the user's task
/// polls while it waits for a response (no separate task per connection).
pub enum Conn {
    H1(H1),
    H2 {
        sender: http2::SendRequest<Full<Bytes>>,
        driver: Pin<Box<http2::Connection<Io, Full<Bytes>, TokioExecutor>>>,
        /// The connection future has finished: the next request needs a new connection.
        ended: bool,
        /// What the server sent first (for the message when it does not speak HTTP/2).
        first: Arc<Mutex<FirstBytes>>,
    },
}

impl Conn {
    fn ended(&self) -> bool {
        match self {
            Conn::H1(h) => !h.reusable(),
            Conn::H2 { ended, .. } => *ended,
        }
    }

    /// False when the server has closed the connection while it was idle; polling the
    /// connection once lets it notice a pending end of stream.
    fn is_usable(&mut self) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match self {
            Conn::H1(h) => h.is_usable(),
            Conn::H2 {
                sender,
                driver,
                ended,
                ..
            } => !(*ended || driver.as_mut().poll(&mut cx).is_ready() || sender.is_closed()),
        }
    }
}

/// Opens a connection: TCP, then TLS for https, then HTTP/1.1 or HTTP/2.
pub async fn connect(origin: &Origin, net: &Net) -> Result<Conn, ExchangeError> {
    let (stream, h2) = open(origin, net).await?;
    if !h2 {
        return Ok(Conn::H1(H1::new(stream)));
    }
    let (stream, first) = Heard::new(stream);
    let (sender, connection) = http2::handshake(TokioExecutor::new(), TokioIo::new(stream))
        .await
        .map_err(ExchangeError::Http)?;
    Ok(Conn::H2 {
        sender,
        driver: Box::pin(connection),
        ended: false,
        first,
    })
}

/// TCP, then TLS for https; true when HTTP/2 is to be spoken on it (ALPN, or prior
/// knowledge over plain TCP).
pub(crate) async fn open(origin: &Origin, net: &Net) -> Result<(Stream, bool), ExchangeError> {
    let addrs = net
        .resolve(&origin.host, origin.port)
        .await
        .map_err(ExchangeError::Connect)?;
    let attempt = match net.next_source() {
        None => TcpStream::connect(&addrs[..]).await,
        Some(source) => connect_from(source, &addrs).await,
    };
    let tcp = match attempt {
        Ok(tcp) => tcp,
        Err(e) => {
            net.forget(&origin.host, origin.port);
            return Err(ExchangeError::Connect(e));
        }
    };
    tcp.set_nodelay(true).map_err(ExchangeError::Connect)?;
    let (stream, h2) = if origin.tls {
        net.handshake(&origin.host, tcp)
            .await
            .map_err(ExchangeError::Tls)?
    } else {
        (Stream::Plain(tcp), net.http2)
    };
    Ok((stream, h2))
}

/// A TCP connection from `source` (`local_addresses`) to the first of `addrs` of its
/// family that answers.
async fn connect_from(
    source: std::net::IpAddr,
    addrs: &[std::net::SocketAddr],
) -> std::io::Result<TcpStream> {
    let mut last = None;
    for addr in addrs.iter().filter(|a| a.is_ipv4() == source.is_ipv4()) {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.bind(std::net::SocketAddr::new(source, 0))?;
        match socket.connect(*addr).await {
            Ok(s) => return Ok(s),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("the host has no address of the source address {source}'s family"),
        )
    }))
}

/// Maps an error to the cause the failure report groups by.
pub(crate) fn classify(e: &ExchangeError) -> FailureKind {
    match e {
        ExchangeError::Timeout | ExchangeError::StreamIdle(_) | ExchangeError::StreamMax(_) => {
            FailureKind::Timeout
        }
        ExchangeError::Incomplete(_) => FailureKind::StreamIncomplete,
        ExchangeError::Tls(_) => FailureKind::Tls,
        ExchangeError::Connect(io) if is_local_limit(io) => FailureKind::Local,
        ExchangeError::Connect(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused => FailureKind::Refused,
            io::ErrorKind::TimedOut => FailureKind::Timeout,
            _ => FailureKind::Connect,
        },
        ExchangeError::Http(h) => classify_hyper(h),
        ExchangeError::H1(H1Error::Io(io)) => classify_io(io),
        ExchangeError::H1(H1Error::Closed(_)) => FailureKind::Closed,
        ExchangeError::H1(H1Error::Malformed(_) | H1Error::EncodedStream(_)) => {
            FailureKind::Malformed
        }
        ExchangeError::NotResent(_) => FailureKind::NotResent,
        ExchangeError::NoHttp2(FirstBytes::Nothing) => FailureKind::Closed,
        ExchangeError::NoHttp2(FirstBytes::Reset) => FailureKind::Reset,
        ExchangeError::NoHttp2(_) => FailureKind::Malformed,
        ExchangeError::Cut { .. } => FailureKind::Reset,
    }
}

/// Errors that say this machine ran out of something: open files (EMFILE, ENFILE),
/// local ports or addresses (EADDRNOTAVAIL), buffer space (ENOBUFS).
fn is_local_limit(e: &io::Error) -> bool {
    const ENFILE: i32 = 23;
    const EMFILE: i32 = 24;
    const ENOBUFS: i32 = 105;
    e.kind() == io::ErrorKind::AddrNotAvailable
        || matches!(e.raw_os_error(), Some(ENFILE | EMFILE | ENOBUFS))
}

fn classify_hyper(e: &hyper::Error) -> FailureKind {
    if e.is_parse() || e.is_parse_status() || e.is_parse_too_large() {
        return FailureKind::Malformed;
    }
    if e.is_timeout() {
        return FailureKind::Timeout;
    }
    if let Some(h2e) = find_source::<h2::Error>(e) {
        if h2e.is_go_away() {
            return FailureKind::GoAway;
        }
        if h2e.is_reset() && h2e.reason() != Some(h2::Reason::PROTOCOL_ERROR) {
            return FailureKind::Reset;
        }
        if h2e.reason().is_some() {
            return FailureKind::Protocol;
        }
    }
    if let Some(io) = find_io(e) {
        return classify_io(io);
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return FailureKind::Closed;
    }
    FailureKind::Other
}

fn classify_io(io: &io::Error) -> FailureKind {
    match io.kind() {
        io::ErrorKind::ConnectionReset
        | io::ErrorKind::ConnectionAborted
        | io::ErrorKind::BrokenPipe => FailureKind::Reset,
        io::ErrorKind::UnexpectedEof => FailureKind::Closed,
        _ if is_local_limit(io) => FailureKind::Local,
        _ => FailureKind::Other,
    }
}

fn find_io(e: &hyper::Error) -> Option<&io::Error> {
    find_source::<io::Error>(e)
}

/// The first error of type `T` in `e`'s chain of sources.
fn find_source<T: std::error::Error + 'static>(e: &hyper::Error) -> Option<&T> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(found) = s.downcast_ref::<T>() {
            return Some(found);
        }
        source = s.source();
    }
    None
}

/// A hyper error as a sentence: HTTP/2 resets and GOAWAYs by their reason's name
/// (h2's own text for NO_ERROR is "not a result of an error"), anything else as the
/// chain of its causes.
fn describe_hyper(e: &hyper::Error) -> String {
    if let Some(h2e) = find_source::<h2::Error>(e)
        && let Some(reason) = h2e.reason()
    {
        let by = if h2e.is_remote() {
            "the server"
        } else {
            "swarm"
        };
        let what = if h2e.is_go_away() {
            "closed the HTTP/2 connection (GOAWAY)"
        } else if h2e.is_reset() {
            "reset the HTTP/2 stream (RST_STREAM)"
        } else {
            "ended the HTTP/2 connection"
        };
        return format!("{by} {what} with {reason:?} before the response was complete");
    }
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    text
}
