//! HTTP/1.1 on a user's own keep-alive connection: the request goes out in one write (for
//! an endpoint without templates, bytes encoded once per endpoint set), the response head
//! is parsed with httparse (the parser hyper's HTTP/1 uses) straight from a buffer the
//! connection keeps, and the body is read by its Content-Length, its chunks or the end
//! of the connection, kept only when a check or an extraction needs it.
//!
//! Why not hyper's HTTP/1 client: its per-request dispatch (a channel envelope, a header
//! map per response, a body channel) and its per-connection buffers cost about a fifth
//! more CPU per request than wrk and 22 KB per idle user; this costs neither. hyper still
//! speaks HTTP/2 (see `http.rs`) and serves the demo target.

use super::capture::{Capture, Progress};
use super::coding::Coding;
use super::net::Stream;
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue, Method};
use std::io;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt, ReadBuf};

/// A read buffer to begin with; large responses grow it.
const INITIAL_BUFFER: usize = 2048;
/// A buffer that grew larger than this for a response is freed, not kept for the next.
const KEEP_BUFFER: usize = 16 << 10;
/// Body reads grow the buffer up to this.
const MAX_READ: usize = 64 << 10;
/// Idle read buffers kept per thread for the next exchange, at most.
const SPARE_BUFFERS: usize = 256;

thread_local! {
    /// Read buffers between exchanges. A connection holds its buffer only while it reads a
    /// response: an idle user (thinking, say) holds none, which is 2 KB less per user, and
    /// at full speed a buffer goes back and forth between the pool and a connection
    /// without touching the allocator.
    static SPARE: std::cell::RefCell<Vec<BytesMut>> = const { std::cell::RefCell::new(Vec::new()) };
}

fn take_buffer() -> BytesMut {
    SPARE
        .with_borrow_mut(Vec::pop)
        .unwrap_or_else(|| BytesMut::with_capacity(INITIAL_BUFFER))
}

fn give_back(mut buf: BytesMut) {
    buf.clear();
    if (INITIAL_BUFFER..=KEEP_BUFFER).contains(&buf.capacity()) {
        SPARE.with_borrow_mut(|spare| {
            if spare.len() < SPARE_BUFFERS {
                spare.push(buf);
            }
        });
    }
}

/// After a stream's `stream_done` event, how long a read of the body's rest may wait.
const AFTER_DONE: std::time::Duration = std::time::Duration::from_millis(100);

/// A response head (status line and headers) larger than this is refused.
const MAX_HEAD: usize = 64 << 10;
/// More response headers than this are refused.
const MAX_HEADERS: usize = 128;

/// Why an exchange failed on the connection.
#[derive(Debug)]
pub enum H1Error {
    /// Reading or writing failed (reset, broken pipe).
    Io(io::Error),
    /// The server closed the connection before the response was complete.
    Closed(&'static str),
    /// The server sent something that is not an HTTP/1 response.
    Malformed(String),
    /// A streamed response came encoded (`Content-Encoding`): its events cannot be read
    /// as they arrive.
    EncodedStream(Coding),
}

impl std::fmt::Display for H1Error {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            H1Error::Io(e) => write!(f, "{e}"),
            H1Error::Closed(what) => write!(f, "the server closed the connection {what}"),
            H1Error::Malformed(what) => write!(f, "not an HTTP/1 response: {what}"),
            H1Error::EncodedStream(coding) => write!(
                f,
                "the stream came {}-encoded (Content-Encoding), which swarm does not undo as \
                 it reads events; leave Accept-Encoding out of this endpoint's headers",
                coding.name()
            ),
        }
    }
}

/// What is read of a response (over HTTP/1.1 or HTTP/2).
#[derive(Debug)]
pub struct Response {
    pub status: u16,
    /// Body bytes as sent (chunk framing excluded).
    pub bytes: u64,
    pub headers: Option<HeaderMap>,
    pub body: Option<Bytes>,
}

/// One keep-alive connection, over a TCP or TLS `Stream` (or, for the fuzz targets, any
/// byte stream).
pub struct H1<S = Stream> {
    stream: S,
    /// Bytes read and not yet used; no buffer at all between exchanges (see `SPARE`); consumed from the front with `advance`, which moves
    /// a pointer instead of shifting what is left (a chunked body of many small chunks
    /// would otherwise be copied once per chunk).
    buf: BytesMut,
    /// False once the connection cannot carry another request.
    reusable: bool,
    /// A request went out on this connection before: an error before any byte of the
    /// next response is then likely the server's idle close racing the request.
    used: bool,
    /// The last read filled all the room it had: the next one gets more.
    last_read_full: bool,
    /// A streamed body was left at its `stream_done` event, its rest unread.
    cut_short: bool,
    /// After a `stream_done` event: until when the body's rest is read.
    drain_until: Option<tokio::time::Instant>,
}

/// How the body's end is known.
enum Framing {
    None,
    Length(u64),
    Chunked,
    UntilClose,
}

impl<S: AsyncRead + AsyncWrite + Unpin> H1<S> {
    pub fn new(stream: S) -> Self {
        H1 {
            stream,
            buf: BytesMut::new(),
            reusable: true,
            used: false,
            last_read_full: false,
            cut_short: false,
            drain_until: None,
        }
    }

    /// False when the connection cannot take another request: it was marked so, or the
    /// server closed it (or sent something unasked) while it was idle. Polls the socket
    /// once; when nothing arrived, the runtime answers from its readiness state without a
    /// system call.
    pub(crate) fn is_usable(&mut self) -> bool {
        if !self.reusable {
            return false;
        }
        // Any byte at all means the connection is unusable, so a few bytes of room will do.
        let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 16];
        let mut cx = Context::from_waker(std::task::Waker::noop());
        let mut rb = ReadBuf::uninit(&mut probe);
        match std::pin::Pin::new(&mut self.stream).poll_read(&mut cx, &mut rb) {
            Poll::Pending => true,
            Poll::Ready(_) => {
                self.reusable = false;
                false
            }
        }
    }

    /// Whether the last exchange left the connection usable.
    pub(crate) fn reusable(&self) -> bool {
        self.reusable
    }

    /// Writes `request` (a whole encoded request) and reads the response to it. With an
    /// error comes whether the request may be sent again on a new connection: no byte of
    /// the response came on a connection that had carried requests before.
    pub async fn exchange(
        &mut self,
        request: &[u8],
        head: bool,
        keep: Capture<'_>,
    ) -> Result<Response, (H1Error, bool)> {
        let was_used = self.used;
        self.used = true;
        if self.buf.capacity() == 0 {
            self.buf = take_buffer();
        }
        self.buf.clear();
        if let Err(e) = self.write(request).await {
            // On a reused connection, this may be a close the server made while the request
            // was on its way.
            self.reusable = false;
            // Or the server answered before it read the whole request (a 413 to an upload
            // over its limit) and closed: its answer is in the socket already, so read it,
            // as curl does. The connection is broken, so the read ends at once.
            if let Ok(r) = self.read_response(head, keep).await {
                give_back(std::mem::take(&mut self.buf));
                return Ok(r);
            }
            return Err((H1Error::Io(e), was_used));
        }
        let result = self.read_response(head, keep).await;
        if result.is_err() {
            self.reusable = false;
        }
        give_back(std::mem::take(&mut self.buf));
        result.map_err(|(e, before_any)| (e, before_any && was_used))
    }

    async fn write(&mut self, request: &[u8]) -> io::Result<()> {
        self.stream.write_all(request).await?;
        self.stream.flush().await
    }

    /// Reads more bytes into the buffer; 0 at the end of the stream.
    async fn fill(&mut self) -> io::Result<usize> {
        let spare = self.buf.capacity() - self.buf.len();
        if spare < INITIAL_BUFFER / 2 || (self.last_read_full && spare < MAX_READ) {
            let room = (2 * self.buf.capacity()).clamp(INITIAL_BUFFER, MAX_READ);
            self.buf.reserve(room);
        }
        let spare = self.buf.capacity() - self.buf.len();
        let n = self.stream.read_buf(&mut self.buf).await?;
        self.last_read_full = n == spare;
        Ok(n)
    }

    /// Reads until the response's head is whole (skipping 1xx heads): its status,
    /// framing, headers when kept, and length.
    async fn read_head(&mut self, head: bool, keep: Capture<'_>) -> Result<Head, (H1Error, bool)> {
        loop {
            if !self.buf.is_empty() {
                match parse_head(&self.buf, head, keep)? {
                    Parsed::Partial => {}
                    Parsed::Informational(n) => {
                        self.buf.advance(n);
                        continue;
                    }
                    Parsed::Done {
                        status,
                        framing,
                        headers,
                        len,
                        close,
                        coding,
                    } => {
                        if close {
                            self.reusable = false;
                        }
                        return Ok(Head {
                            status,
                            framing,
                            headers,
                            len,
                            coding,
                        });
                    }
                }
                if self.buf.len() >= MAX_HEAD {
                    return Err((
                        H1Error::Malformed(format!(
                            "the response head is larger than {} KB",
                            MAX_HEAD >> 10
                        )),
                        false,
                    ));
                }
            }
            let before_any = self.buf.is_empty();
            match self.fill().await {
                Ok(0) if before_any => {
                    return Err((H1Error::Closed("without answering"), true));
                }
                Ok(0) => {
                    return Err((H1Error::Closed("in the middle of the response head"), false));
                }
                Ok(_) => {}
                Err(e) => return Err((H1Error::Io(e), before_any)),
            }
        }
    }

    /// The error's second part is true when no byte of the response had arrived.
    async fn read_response(
        &mut self,
        head: bool,
        keep: Capture<'_>,
    ) -> Result<Response, (H1Error, bool)> {
        let Head {
            status,
            framing,
            headers,
            len: consumed,
            coding,
        } = self.read_head(head, keep).await?;
        if let Some(p) = keep.progress {
            let expected = match framing {
                Framing::Length(n) => Some(n),
                Framing::None => Some(0),
                _ => None,
            };
            p.head(status, expected);
        }
        let mut body = Body::new(keep, coding).map_err(|e| {
            self.reusable = false;
            (e, false)
        })?;
        self.buf.advance(consumed);
        self.cut_short = false;
        self.drain_until = None;
        let read = match framing {
            Framing::None => Ok(()),
            Framing::Length(n) => self.read_length(n, &mut body).await,
            Framing::Chunked => self.read_chunked(&mut body).await,
            Framing::UntilClose => {
                self.reusable = false;
                self.read_until_close(&mut body).await
            }
        };
        read.map_err(|e| (e, false))?;
        // Bytes beyond the response, or a body left before its end: the connection's
        // framing cannot be trusted.
        if self.cut_short || !self.buf.is_empty() {
            self.reusable = false;
        }
        Ok(body.into_response(status, headers))
    }

    async fn read_length(&mut self, mut left: u64, body: &mut Body<'_>) -> Result<(), H1Error> {
        loop {
            let take = left.min(self.buf.len() as u64) as usize;
            body.add(&self.buf[..take]);
            self.buf.advance(take);
            left -= take as u64;
            if left == 0 {
                return Ok(());
            }
            if !self
                .more_or_stop("before the end of the body", body)
                .await?
            {
                return Ok(());
            }
        }
    }

    async fn read_until_close(&mut self, body: &mut Body<'_>) -> Result<(), H1Error> {
        loop {
            body.add(&self.buf);
            self.buf.clear();
            if body.stream_done() {
                self.cut_short = true;
                return Ok(());
            }
            match self.fill().await {
                Ok(0) => return Ok(()),
                Ok(_) => {}
                Err(e) => return Err(H1Error::Io(e)),
            }
        }
    }

    async fn read_chunked(&mut self, body: &mut Body<'_>) -> Result<(), H1Error> {
        loop {
            // A chunk's size line.
            let (start, size) = loop {
                match httparse::parse_chunk_size(&self.buf) {
                    Ok(httparse::Status::Complete(found)) => break found,
                    Ok(httparse::Status::Partial) => {
                        if !self.more_or_stop("in a chunk's size line", body).await? {
                            return Ok(());
                        }
                    }
                    Err(_) => {
                        return Err(H1Error::Malformed(format!(
                            "bad chunk size line {:?}",
                            preview(&self.buf)
                        )));
                    }
                }
            };
            self.buf.advance(start);
            if size == 0 {
                return self.skip_trailers(body).await;
            }
            self.read_length(size, body).await?;
            if self.cut_short {
                return Ok(());
            }
            while self.buf.len() < 2 {
                if !self.more_or_stop("after a chunk", body).await? {
                    return Ok(());
                }
            }
            if &self.buf[..2] != b"\r\n" {
                return Err(H1Error::Malformed("a chunk does not end with CRLF".into()));
            }
            self.buf.advance(2);
        }
    }

    /// After the last chunk: trailer lines up to an empty line.
    async fn skip_trailers(&mut self, body: &Body<'_>) -> Result<(), H1Error> {
        loop {
            match self.buf.windows(2).position(|w| w == b"\r\n") {
                Some(0) => {
                    self.buf.advance(2);
                    return Ok(());
                }
                Some(end) => self.buf.advance(end + 2),
                None if self.buf.len() > MAX_HEAD => {
                    return Err(H1Error::Malformed("trailers too large".into()));
                }
                None => {
                    if !self.more_or_stop("in the trailers", body).await? {
                        return Ok(());
                    }
                }
            }
        }
    }

    /// More bytes of the body; once a stream's `stream_done` event has come, the stream
    /// is over and the rest of the body is read only to reuse the connection (as
    /// OpenAI's client drains it), for at most `AFTER_DONE` in all: a server that keeps
    /// the body open after it is not waited for. False when the body was left there
    /// (`cut_short`: the connection is not reused; the stream is not failed).
    async fn more_or_stop(
        &mut self,
        where_: &'static str,
        body: &Body<'_>,
    ) -> Result<bool, H1Error> {
        if !body.stream_done() {
            self.more(where_).await?;
            return Ok(true);
        }
        let until = *self
            .drain_until
            .get_or_insert_with(|| tokio::time::Instant::now() + AFTER_DONE);
        match tokio::time::timeout_at(until, self.fill()).await {
            Ok(Ok(n)) if n > 0 => Ok(true),
            _ => {
                self.cut_short = true;
                Ok(false)
            }
        }
    }

    /// Reads more bytes; the end of the stream is an error that says `where_` it came.
    async fn more(&mut self, where_: &'static str) -> Result<(), H1Error> {
        match self.fill().await {
            Ok(0) => Err(H1Error::Closed(where_)),
            Ok(_) => Ok(()),
            Err(e) => Err(H1Error::Io(e)),
        }
    }
}

/// A response body as it arrives: counted, and kept (up to 16 MB) when asked.
pub(crate) struct Body<'a> {
    kept: Option<Vec<u8>>,
    bytes: u64,
    progress: Option<&'a Progress>,
    stream: Option<&'a std::sync::Mutex<super::stream::StreamRead>>,
    /// Its Content-Encoding, undone in a kept body.
    coding: Coding,
}

/// Bodies kept for checks and extraction are cut at this size.
const MAX_KEPT_BODY: usize = 16 << 20;

impl<'a> Body<'a> {
    /// A body kept as `capture` asks; a streamed one is fed to its reader instead, and
    /// refused when it comes encoded (its events cannot be read as they arrive).
    pub fn new(capture: Capture<'a>, coding: Coding) -> Result<Self, H1Error> {
        if capture.stream.is_some() && coding != Coding::Identity {
            return Err(H1Error::EncodedStream(coding));
        }
        Ok(Body {
            kept: (capture.body && capture.stream.is_none()).then(Vec::new),
            bytes: 0,
            progress: capture.progress,
            stream: capture.stream,
            coding,
        })
    }

    /// The response, its kept body decoded from its coding (the bytes counted stay the
    /// bytes received).
    pub fn into_response(self, status: u16, headers: Option<HeaderMap>) -> Response {
        let coding = self.coding;
        let body = self
            .kept
            .map(|k| coding.decode(&k, MAX_KEPT_BODY).unwrap_or(k));
        Response {
            status,
            bytes: self.bytes,
            headers,
            body: body.map(Bytes::from),
        }
    }

    /// The stream's `stream_done` event has come (a streamed body only).
    pub fn stream_done(&self) -> bool {
        self.stream
            .is_some_and(|s| s.lock().unwrap_or_else(|p| p.into_inner()).done())
    }

    pub fn add(&mut self, data: &[u8]) {
        self.bytes += data.len() as u64;
        if let Some(p) = self.progress {
            p.body(self.bytes);
        }
        if let Some(s) = self.stream {
            let now = std::time::Instant::now();
            s.lock().unwrap_or_else(|p| p.into_inner()).add(data, now);
        }
        if let Some(k) = self.kept.as_mut() {
            let room = MAX_KEPT_BODY.saturating_sub(k.len());
            k.extend_from_slice(&data[..data.len().min(room)]);
        }
    }
}

/// A response's head, read.
struct Head {
    status: u16,
    framing: Framing,
    headers: Option<HeaderMap>,
    /// Its length in bytes.
    len: usize,
    coding: Coding,
}

enum Parsed {
    Partial,
    /// A 1xx response of `n` bytes to skip.
    Informational(usize),
    Done {
        status: u16,
        framing: Framing,
        headers: Option<HeaderMap>,
        len: usize,
        /// The server will close the connection after this response.
        close: bool,
        coding: Coding,
    },
}

/// What the headers say about the body's framing and the connection.
struct HeadFacts {
    length: Option<u64>,
    /// Content-Encoding, undone in a kept body.
    coding: Coding,
    /// Some(true) when chunked is the last transfer coding.
    chunked: Option<bool>,
    close: bool,
    set_cookie: bool,
}

#[inline]
fn head_facts(headers: &[httparse::Header<'_>], http10: bool) -> Result<HeadFacts, H1Error> {
    let mut facts = HeadFacts {
        length: None,
        coding: Coding::Identity,
        chunked: None,
        close: http10,
        set_cookie: false,
    };
    for h in headers {
        let name = h.name;
        if name.eq_ignore_ascii_case("content-length") {
            facts.length = Some(content_length(h.value, facts.length)?);
        } else if name.eq_ignore_ascii_case("transfer-encoding") {
            // Chunked only when it is the last coding; otherwise the body ends at the close.
            let last = h.value.rsplit(|&b| b == b',').next().unwrap_or_default();
            facts.chunked = Some(last.trim_ascii().eq_ignore_ascii_case(b"chunked"));
        } else if name.eq_ignore_ascii_case("connection") {
            for token in h.value.split(|&b| b == b',') {
                let token = token.trim_ascii();
                if token.eq_ignore_ascii_case(b"close") {
                    facts.close = true;
                } else if token.eq_ignore_ascii_case(b"keep-alive") && http10 {
                    facts.close = false;
                }
            }
        } else if name.eq_ignore_ascii_case("set-cookie") {
            facts.set_cookie = true;
        } else if name.eq_ignore_ascii_case("content-encoding") {
            facts.coding = Coding::of(h.value);
        }
    }
    Ok(facts)
}

/// The response's headers, for extraction, redirects and cookies (names or values that
/// are not valid HTTP are left out).
fn header_map(headers: &[httparse::Header<'_>]) -> HeaderMap {
    let mut map = HeaderMap::with_capacity(headers.len());
    for h in headers {
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(h.name.as_bytes()),
            HeaderValue::from_bytes(h.value),
        ) {
            map.append(n, v);
        }
    }
    map
}

fn parse_head(
    buf: &[u8],
    head_request: bool,
    keep: Capture<'_>,
) -> Result<Parsed, (H1Error, bool)> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut res = httparse::Response::new(&mut slots);
    let len = match res.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(Parsed::Partial),
        Err(httparse::Error::TooManyHeaders) => {
            let e = format!("more than {MAX_HEADERS} headers");
            return Err((H1Error::Malformed(e), false));
        }
        Err(e) => {
            let e = format!("{e} in {:?}", preview(buf));
            return Err((H1Error::Malformed(e), false));
        }
    };
    let status = res.code.unwrap_or(0);
    if status < 100 {
        // httparse takes any three digits; 000 to 099 are no status (RFC 9110 §15), and
        // 0 is what swarm records for "no response": counted as an answer, it was a
        // success nobody could see.
        let e = format!("status {status:03} is not a status code (100 to 999)");
        return Err((H1Error::Malformed(e), false));
    }
    if (100..200).contains(&status) && status != 101 {
        return Ok(Parsed::Informational(len));
    }
    let HeadFacts {
        length,
        coding,
        chunked,
        mut close,
        set_cookie,
    } = head_facts(res.headers, res.version == Some(0)).map_err(|e| (e, false))?;
    if chunked.is_some() && length.is_some() {
        // Both framings at once is how responses are smuggled: the chunks frame this
        // body, and the connection is not trusted with another (RFC 9112 §6.3).
        close = true;
    }
    let framing = if head_request || status == 204 || status == 304 || status == 101 {
        Framing::None
    } else {
        match (chunked, length) {
            (Some(true), _) => Framing::Chunked,
            (Some(false), _) => Framing::UntilClose,
            (None, Some(n)) => Framing::Length(n),
            (None, None) => Framing::UntilClose,
        }
    };
    if status == 101 {
        close = true;
    }
    let want_headers = keep.headers
        || (keep.redirects && (300..400).contains(&status))
        || (keep.cookies && set_cookie);
    let headers = want_headers.then(|| header_map(res.headers));
    Ok(Parsed::Done {
        status,
        framing,
        headers,
        len,
        close,
        coding,
    })
}

/// A Content-Length value (a list of equal values counts as one, RFC 9110 §8.6), checked
/// against the one an earlier header gave.
fn content_length(value: &[u8], earlier: Option<u64>) -> Result<u64, H1Error> {
    let mut found = earlier;
    for part in value.split(|&b| b == b',') {
        let part = part.trim_ascii();
        let n = std::str::from_utf8(part)
            .ok()
            .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
            .and_then(|p| p.parse::<u64>().ok())
            .ok_or_else(|| {
                H1Error::Malformed(format!("bad Content-Length {:?}", preview(value)))
            })?;
        match found {
            Some(f) if f != n => {
                return Err(H1Error::Malformed(format!(
                    "two different Content-Length values ({f} and {n})"
                )));
            }
            _ => found = Some(n),
        }
    }
    found.ok_or_else(|| H1Error::Malformed("an empty Content-Length".into()))
}

/// The first bytes of `b`, for an error message.
fn preview(b: &[u8]) -> String {
    let cut = &b[..b.len().min(40)];
    let text = String::from_utf8_lossy(cut).into_owned();
    if b.len() > cut.len() {
        text + "…"
    } else {
        text
    }
}

/// Encodes a request: request line, `headers` (which carry Host), Content-Length when
/// there is a body or the method usually has one, the body.
pub(crate) fn encode(method: &Method, target: &str, headers: &HeaderMap, body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(64 + target.len() + headers.len() * 32 + body.len());
    out.extend_from_slice(method.as_str().as_bytes());
    out.push(b' ');
    out.extend_from_slice(target.as_bytes());
    out.extend_from_slice(b" HTTP/1.1\r\n");
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    let framed = headers.contains_key(http::header::CONTENT_LENGTH)
        || headers.contains_key(http::header::TRANSFER_ENCODING);
    let usual = matches!(*method, Method::POST | Method::PUT | Method::PATCH);
    if !framed && (!body.is_empty() || usual) {
        out.extend_from_slice(b"content-length: ");
        out.extend_from_slice(body.len().to_string().as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"\r\n");
    out.extend_from_slice(body);
    out
}

#[cfg(test)]
mod tests;
