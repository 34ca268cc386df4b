//! Unit tests of `h1`.
use super::*;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};

/// A server on 127.0.0.1:0 for one connection: for each response, it reads one request
/// head and writes the response's pieces with a pause between them (so the client sees
/// partial reads), then closes. Returns the client's connection and the requests seen.
async fn scripted(
    responses: Vec<Vec<&'static [u8]>>,
) -> (H1, tokio::task::JoinHandle<Vec<String>>) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut s, _) = listener.accept().await.unwrap();
        let mut seen = Vec::new();
        for pieces in responses {
            let mut req = Vec::new();
            let mut b = [0u8; 1024];
            while !req.windows(4).any(|w| w == b"\r\n\r\n") {
                match s.read(&mut b).await {
                    Ok(0) | Err(_) => return seen,
                    Ok(n) => req.extend_from_slice(&b[..n]),
                }
            }
            seen.push(String::from_utf8_lossy(&req).into_owned());
            for p in pieces {
                s.write_all(p).await.unwrap();
                tokio::time::sleep(Duration::from_millis(5)).await;
            }
        }
        seen
    });
    let tcp = TcpStream::connect(addr).await.unwrap();
    (H1::new(Stream::Plain(tcp)), server)
}

const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: t\r\n\r\n";
const HEAD: &[u8] = b"HEAD / HTTP/1.1\r\nhost: t\r\n\r\n";
const KEEP_ALL: Capture<'static> = Capture {
    stream: None,
    progress: None,
    body: true,
    headers: true,
    redirects: false,
    cookies: false,
};

async fn get(c: &mut H1) -> Response {
    c.exchange(GET, false, KEEP_ALL)
        .await
        .map_err(|(e, _)| e)
        .unwrap()
}

fn body(r: &Response) -> &[u8] {
    r.body.as_deref().unwrap()
}

#[tokio::test]
async fn content_length_bodies_in_pieces_on_one_connection() {
    let (mut c, server) = scripted(vec![
        vec![
            b"HTTP/1.1 200 OK\r\nContent-Le",
            b"ngth: 11\r\n\r\nhello",
            b" world",
        ],
        vec![b"HTTP/1.1 201 Created\r\ncontent-length: 2\r\nx-a: 1\r\n\r\nok"],
    ])
    .await;
    let r = get(&mut c).await;
    assert_eq!(
        (r.status, r.bytes, body(&r)),
        (200, 11, &b"hello world"[..])
    );
    assert!(c.reusable() && c.is_usable());
    let r = get(&mut c).await;
    assert_eq!((r.status, body(&r)), (201, &b"ok"[..]));
    assert_eq!(r.headers.unwrap()["x-a"], "1");
    assert_eq!(
        server.await.unwrap().len(),
        2,
        "one connection, two requests"
    );
}

#[tokio::test]
async fn chunked_body_with_extensions_and_trailers() {
    let (mut c, _server) = scripted(vec![
        vec![
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n5;ext=1\r\nhel",
            b"lo\r\n1",
            b"0\r\n0123456789abcdef\r\n0\r\nx-trailer: 1\r\n",
            b"\r\n",
        ],
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\n\r\n!"],
    ])
    .await;
    let r = get(&mut c).await;
    assert_eq!(r.bytes, 21);
    assert_eq!(body(&r), b"hello0123456789abcdef");
    assert!(c.reusable());
    assert_eq!(body(&get(&mut c).await), b"!");
}

#[tokio::test]
async fn body_until_close_when_there_is_no_length() {
    let (mut c, _server) = scripted(vec![vec![b"HTTP/1.1 200 OK\r\n\r\nall of", b" this"]]).await;
    let r = get(&mut c).await;
    assert_eq!(body(&r), b"all of this");
    assert!(!c.reusable());
}

#[tokio::test]
async fn responses_without_a_body() {
    let (mut c, _server) = scripted(vec![
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 100\r\n\r\n"],
        vec![b"HTTP/1.1 204 No Content\r\n\r\n"],
        vec![b"HTTP/1.1 304 Not Modified\r\ncontent-length: 7\r\n\r\n"],
        vec![
            b"HTTP/1.1 100 Continue\r\n\r\n",
            b"HTTP/1.1 200 OK\r\ncontent-length: 2\r\n\r\nhi",
        ],
    ])
    .await;
    let r = c
        .exchange(HEAD, true, KEEP_ALL)
        .await
        .map_err(|e| e.0)
        .unwrap();
    assert_eq!((r.status, r.bytes), (200, 0));
    assert_eq!(get(&mut c).await.status, 204);
    assert_eq!(get(&mut c).await.status, 304);
    let r = get(&mut c).await;
    assert_eq!((r.status, body(&r)), (200, &b"hi"[..]), "1xx skipped");
    assert!(c.reusable());
}

#[tokio::test]
async fn connection_close_and_http_1_0() {
    let (mut c, _s) = scripted(vec![vec![
        b"HTTP/1.1 200 OK\r\nConnection: close\r\ncontent-length: 0\r\n\r\n",
    ]])
    .await;
    get(&mut c).await;
    assert!(!c.reusable() && !c.is_usable());
    let (mut c, _s) = scripted(vec![vec![b"HTTP/1.0 200 OK\r\ncontent-length: 0\r\n\r\n"]]).await;
    get(&mut c).await;
    assert!(!c.reusable());
    let (mut c, _s) = scripted(vec![vec![
        b"HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\ncontent-length: 0\r\n\r\n",
    ]])
    .await;
    get(&mut c).await;
    assert!(c.reusable());
}

#[tokio::test]
async fn equal_lengths_are_one_and_both_framings_close_the_connection() {
    let (mut c, _s) = scripted(vec![vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 2, 2\r\ncontent-length: 2\r\n\r\nok",
    ]])
    .await;
    assert_eq!(body(&get(&mut c).await), b"ok");
    assert!(c.reusable());
    // RFC 9112 §6.3: Transfer-Encoding wins, and the connection is closed after.
    let (mut c, _s) = scripted(vec![vec![
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\ncontent-length: 50\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    ]])
    .await;
    assert_eq!(body(&get(&mut c).await), b"ok");
    assert!(!c.reusable());
}

async fn error_of(pieces: Vec<&'static [u8]>) -> (H1Error, bool) {
    let (mut c, _server) = scripted(vec![pieces]).await;
    let e = c.exchange(GET, false, KEEP_ALL).await.unwrap_err();
    assert!(!c.reusable());
    e
}

#[tokio::test]
async fn malformed_responses_say_what_is_wrong() {
    let (e, retry) = error_of(vec![b"SPLAT garbage \x00\r\n\r\n"]).await;
    assert!(!retry);
    assert!(
        matches!(&e, H1Error::Malformed(m) if m.contains("SPLAT")),
        "{e}"
    );
    let (e, _) = error_of(vec![b"HTTP/1.1 200 OK\r\ncontent-length: ten\r\n\r\n"]).await;
    assert!(e.to_string().contains("bad Content-Length \"ten\""), "{e}");
    let (e, _) = error_of(vec![
        b"HTTP/1.1 200 OK\r\ncontent-length: 1\r\ncontent-length: 2\r\n\r\nab",
    ])
    .await;
    let text = e.to_string();
    assert!(
        text.contains("two different Content-Length values (1 and 2)"),
        "{text}"
    );
    let (e, _) = error_of(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 3, 4\r\n\r\nabc"]).await;
    let text = e.to_string();
    assert!(
        text.contains("two different Content-Length values (3 and 4)"),
        "{text}"
    );
    // Three digits below 100 are no status: 000 had been recorded as status 0, a success.
    let (e, _) = error_of(vec![b"HTTP/1.1 000 Zero\r\ncontent-length: 2\r\n\r\nok"]).await;
    assert!(
        e.to_string().contains("status 000 is not a status code"),
        "{e}"
    );
    let (e, _) = error_of(vec![b"HTTP/1.1 099 Low\r\ncontent-length: 2\r\n\r\nok"]).await;
    assert!(e.to_string().contains("status 099"), "{e}");
    let (e, _) = error_of(vec![b"HTTP/1.1 200 OK\r\ncontent-length: +3\r\n\r\nabc"]).await;
    assert!(e.to_string().contains("bad Content-Length \"+3\""), "{e}");
    let (e, _) = error_of(vec![
        b"HTTP/1.1 200 OK\r\ntransfer-encoding: chunked\r\n\r\nzz\r\n",
    ])
    .await;
    assert!(e.to_string().contains("chunk size"), "{e}");
    let huge: &'static [u8] = Box::leak(
        format!("HTTP/1.1 200 OK\r\nx-big: {}\r\n", "a".repeat(70_000))
            .into_bytes()
            .into_boxed_slice(),
    );
    let (e, _) = error_of(vec![huge]).await;
    assert!(e.to_string().contains("larger than 64 KB"), "{e}");
}

#[tokio::test]
async fn closes_before_the_end() {
    let (e, retry) = error_of(vec![]).await;
    assert!(matches!(e, H1Error::Closed("without answering")), "{e}");
    assert!(!retry, "a fresh connection is not retried");
    let (e, _) = error_of(vec![b"HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nabc"]).await;
    assert!(
        matches!(e, H1Error::Closed("before the end of the body")),
        "{e}"
    );
    let (e, _) = error_of(vec![b"HTTP/1.1 200 OK\r\ncont"]).await;
    assert!(
        matches!(e, H1Error::Closed("in the middle of the response head")),
        "{e}"
    );
    // On a connection that carried a request before, no answer at all may be the
    // server's idle close: the caller may send the request again.
    let (mut c, _s) = scripted(vec![vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"]]).await;
    get(&mut c).await;
    let (_, retry) = c.exchange(GET, false, KEEP_ALL).await.unwrap_err();
    assert!(retry);
}

#[tokio::test]
async fn large_bodies_are_counted_and_the_buffer_shrinks_back() {
    let big: &'static [u8] = Box::leak(vec![b'x'; 1 << 20].into_boxed_slice());
    let (mut c, _s) = scripted(vec![
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n", big],
        vec![b"HTTP/1.1 200 OK\r\ncontent-length: 1048576\r\n\r\n", big],
    ])
    .await;
    let r = c
        .exchange(GET, false, Capture::default())
        .await
        .map_err(|e| e.0)
        .unwrap();
    assert_eq!(
        (r.bytes, r.body.is_none(), r.headers.is_none()),
        (1 << 20, true, true)
    );
    assert!(c.buf.capacity() <= KEEP_BUFFER);
    assert_eq!(get(&mut c).await.body.unwrap().len(), 1 << 20);
}

#[tokio::test]
async fn headers_are_kept_only_when_asked() {
    let redirect: &[u8] = b"HTTP/1.1 302 Found\r\nlocation: /b\r\ncontent-length: 0\r\n\r\n";
    let cookie: &[u8] =
        b"HTTP/1.1 200 OK\r\nset-cookie: a=1\r\nset-cookie: b=2\r\ncontent-length: 0\r\n\r\n";
    let (mut c, _s) = scripted(vec![vec![redirect], vec![cookie], vec![cookie]]).await;
    let keep = Capture {
        stream: None,
        redirects: true,
        cookies: true,
        ..Capture::default()
    };
    let r = c.exchange(GET, false, keep).await.map_err(|e| e.0).unwrap();
    assert_eq!(r.headers.unwrap()["location"], "/b");
    let r = c.exchange(GET, false, keep).await.map_err(|e| e.0).unwrap();
    assert_eq!(r.headers.unwrap().get_all("set-cookie").iter().count(), 2);
    let r = c
        .exchange(GET, false, Capture::default())
        .await
        .map_err(|e| e.0)
        .unwrap();
    assert!(r.headers.is_none());
}

#[tokio::test]
async fn an_idle_close_makes_the_connection_unusable() {
    let (mut c, server) =
        scripted(vec![vec![b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"]]).await;
    get(&mut c).await;
    server.await.unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    assert!(!c.is_usable());
}

#[test]
fn requests_are_encoded_with_a_length_when_they_carry_a_body() {
    let mut h = HeaderMap::new();
    h.insert("host", HeaderValue::from_static("example:8080"));
    let get = encode(&Method::GET, "/a?b=1", &h, b"");
    assert_eq!(get, b"GET /a?b=1 HTTP/1.1\r\nhost: example:8080\r\n\r\n");
    let post = encode(&Method::POST, "/", &h, b"");
    assert!(post.ends_with(b"content-length: 0\r\n\r\n"));
    let put = encode(&Method::PUT, "/", &h, b"{}");
    assert!(put.ends_with(b"content-length: 2\r\n\r\n{}"));
    h.insert("content-length", HeaderValue::from_static("2"));
    let own = encode(&Method::PUT, "/", &h, b"{}");
    assert_eq!(
        own.windows(15).filter(|w| w == b"content-length:").count(),
        1
    );
}
