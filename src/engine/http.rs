//! One HTTP/1.1 exchange on a user's own keep-alive connection (hyper's connection-level
//! client), with the timeout enforced and every error classified into a `FailureKind`.

use crate::scenario::{Endpoint, Origin};
use crate::stats::FailureKind;
use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Full};
use hyper::client::conn::http1;
use hyper_util::rt::TokioIo;
use std::error::Error as _;
use std::future::Future;
use std::io;
use std::pin::Pin;
use std::time::Instant;
use tokio::net::TcpStream;

/// Why an exchange did not produce a complete response.
#[derive(Debug)]
pub enum ExchangeError {
    Connect(io::Error),
    Http(hyper::Error),
    Timeout,
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
}

impl Outcome {
    /// The error text for the failure report.
    pub fn describe(&self, endpoint: &Endpoint) -> String {
        match &self.error {
            Some(ExchangeError::Connect(e)) => format!("{}: {e}", endpoint.origin.authority()),
            Some(ExchangeError::Http(e)) => error_chain(e),
            Some(ExchangeError::Timeout) => {
                format!("no complete response within {:?}", endpoint.timeout)
            }
            None => match self.status {
                Some(s) => format!("{} {} answered {s}", endpoint.method, endpoint.path),
                None => String::new(),
            },
        }
    }
}

/// Sends one request on `conn`, connecting first when there is no open connection.
/// Any failure drops the connection, so the next request reconnects.
pub async fn send(conn: &mut Option<Conn>, endpoint: &Endpoint) -> Outcome {
    let start = Instant::now();
    let result = match tokio::time::timeout(endpoint.timeout, exchange(conn, endpoint)).await {
        Ok(r) => r,
        Err(_) => Err(ExchangeError::Timeout),
    };
    let latency_us = start.elapsed().as_micros() as u64;
    match result {
        Ok((status, bytes)) => Outcome {
            latency_us,
            status: Some(status),
            bytes,
            failure: (!endpoint.expect.accepts(status)).then_some(FailureKind::Status(status)),
            error: None,
        },
        Err(e) => {
            *conn = None;
            Outcome {
                latency_us,
                status: None,
                bytes: 0,
                failure: Some(classify(&e)),
                error: Some(e),
            }
        }
    }
}

async fn exchange(
    conn: &mut Option<Conn>,
    endpoint: &Endpoint,
) -> Result<(u16, u64), ExchangeError> {
    if conn.as_mut().is_none_or(|c| !c.is_usable()) {
        *conn = Some(connect(&endpoint.origin).await?);
    }
    let result = drive(conn.as_mut().expect("connected above"), request(endpoint)).await;
    if result.is_err() || conn.as_ref().is_some_and(|c| c.ended) {
        *conn = None;
    }
    result
}

/// Sends one request and reads the whole response, polling the connection in this task.
async fn drive(
    conn: &mut Conn,
    request: Request<Full<Bytes>>,
) -> Result<(u16, u64), ExchangeError> {
    let Conn {
        sender,
        driver,
        ended,
    } = conn;
    let mut response = std::pin::pin!(async move {
        sender.ready().await.map_err(ExchangeError::Http)?;
        let response = sender
            .send_request(request)
            .await
            .map_err(ExchangeError::Http)?;
        let status = response.status().as_u16();
        let mut body = response.into_body();
        let mut bytes = 0u64;
        while let Some(frame) = body.frame().await {
            if let Some(data) = frame.map_err(ExchangeError::Http)?.data_ref() {
                bytes += data.len() as u64;
            }
        }
        Ok((status, bytes))
    });
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

/// A keep-alive connection: hyper's sender and the connection future that the user's task
/// polls while it waits for a response (no separate task per connection).
pub struct Conn {
    sender: http1::SendRequest<Full<Bytes>>,
    driver: Pin<Box<http1::Connection<TokioIo<TcpStream>, Full<Bytes>>>>,
    /// The connection future has finished: the next request needs a new connection.
    ended: bool,
}

impl Conn {
    /// False when the server has closed the connection while it was idle; polling the
    /// connection once lets it notice a pending end of stream.
    fn is_usable(&mut self) -> bool {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        if self.ended || self.driver.as_mut().poll(&mut cx).is_ready() {
            return false;
        }
        !self.sender.is_closed()
    }
}

/// Opens a connection.
pub async fn connect(origin: &Origin) -> Result<Conn, ExchangeError> {
    let stream = TcpStream::connect((origin.host.as_str(), origin.port))
        .await
        .map_err(ExchangeError::Connect)?;
    stream.set_nodelay(true).map_err(ExchangeError::Connect)?;
    let (sender, connection) = http1::handshake(TokioIo::new(stream))
        .await
        .map_err(ExchangeError::Http)?;
    Ok(Conn {
        sender,
        driver: Box::pin(connection),
        ended: false,
    })
}

fn request(endpoint: &Endpoint) -> Request<Full<Bytes>> {
    let mut req = Request::new(Full::new(endpoint.body.clone()));
    *req.method_mut() = endpoint.method.clone();
    *req.uri_mut() = endpoint.target.clone();
    *req.headers_mut() = endpoint.headers.clone();
    req
}

/// Maps an error to the cause the failure report groups by.
pub fn classify(e: &ExchangeError) -> FailureKind {
    match e {
        ExchangeError::Timeout => FailureKind::Timeout,
        ExchangeError::Connect(io) if is_local_limit(io) => FailureKind::Local,
        ExchangeError::Connect(io) => match io.kind() {
            io::ErrorKind::ConnectionRefused => FailureKind::Refused,
            io::ErrorKind::TimedOut => FailureKind::Timeout,
            _ => FailureKind::Connect,
        },
        ExchangeError::Http(h) => classify_hyper(h),
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
    if let Some(io) = find_io(e) {
        return match io.kind() {
            io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
            | io::ErrorKind::BrokenPipe => FailureKind::Reset,
            io::ErrorKind::UnexpectedEof => FailureKind::Closed,
            _ => FailureKind::Other,
        };
    }
    if e.is_incomplete_message() || e.is_canceled() || e.is_closed() {
        return FailureKind::Closed;
    }
    FailureKind::Other
}

fn find_io(e: &hyper::Error) -> Option<&io::Error> {
    let mut source = e.source();
    while let Some(s) = source {
        if let Some(io) = s.downcast_ref::<io::Error>() {
            return Some(io);
        }
        source = s.source();
    }
    None
}

fn error_chain(e: &hyper::Error) -> String {
    let mut text = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        text += &format!(": {s}");
        source = s.source();
    }
    text
}
