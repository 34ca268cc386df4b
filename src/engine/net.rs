//! Connections: plain TCP or TLS (rustls), speaking HTTP/1.1 or HTTP/2 (ALPN over TLS,
//! prior knowledge over plain TCP).

use crate::scenario::NetOptions;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{ClientConfig, DigitallySignedStruct, RootCertStore, SignatureScheme};
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio_rustls::client::TlsStream;

/// A connection's byte stream.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<TlsStream<TcpStream>>),
}

impl AsyncRead for Stream {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_read(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_read(cx, buf),
        }
    }
}

impl AsyncWrite for Stream {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write(cx, buf),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write(cx, buf),
        }
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_flush(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_flush(cx),
        }
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_shutdown(cx),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_shutdown(cx),
        }
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        match self.get_mut() {
            Stream::Plain(s) => Pin::new(s).poll_write_vectored(cx, bufs),
            Stream::Tls(s) => Pin::new(s.as_mut()).poll_write_vectored(cx, bufs),
        }
    }

    fn is_write_vectored(&self) -> bool {
        match self {
            Stream::Plain(s) => s.is_write_vectored(),
            Stream::Tls(s) => s.is_write_vectored(),
        }
    }
}

/// What a server sent first on a connection that speaks HTTP/2 with prior knowledge (plain
/// TCP with `--http2`): a server that does not speak it answers the preface in HTTP/1 (or
/// an HTML page) or closes without a byte, and hyper's own error then says only "broken
/// pipe" or "FRAME_SIZE_ERROR".
#[derive(Clone, PartialEq, Eq, Debug)]
pub enum FirstBytes {
    /// Nothing read yet.
    Unread,
    /// The connection ended before its first byte.
    Nothing,
    /// The connection was reset before its first byte.
    Reset,
    /// A first frame that is SETTINGS, as every HTTP/2 server's is (RFC 9113 §3.4).
    Settings,
    /// Anything else: its first bytes, as text.
    NotHttp2(String),
}

impl FirstBytes {
    fn of(got: &[u8]) -> FirstBytes {
        const SETTINGS: u8 = 0x4;
        match got {
            [] => FirstBytes::Nothing,
            // Fewer than a frame header's 4 bytes cannot tell: no claim is made.
            [_, _, _, SETTINGS, ..] | [_] | [_, _] | [_, _, _] => FirstBytes::Settings,
            _ => {
                let start = &got[..got.len().min(40)];
                FirstBytes::NotHttp2(String::from_utf8_lossy(start).escape_debug().to_string())
            }
        }
    }
}

/// A stream that notes what its first read brought (`FirstBytes`), for the message of a
/// failed prior-knowledge HTTP/2 connection.
pub struct Heard {
    inner: Stream,
    first: Arc<std::sync::Mutex<FirstBytes>>,
    /// The first read has been looked at (the lock is not taken again).
    heard: bool,
}

impl Heard {
    pub fn new(inner: Stream) -> (Heard, Arc<std::sync::Mutex<FirstBytes>>) {
        let first = Arc::new(std::sync::Mutex::new(FirstBytes::Unread));
        let heard = Heard {
            inner,
            first: Arc::clone(&first),
            heard: false,
        };
        (heard, first)
    }
}

impl AsyncRead for Heard {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        let first = match (&polled, this.heard) {
            (Poll::Ready(Ok(())), false) => FirstBytes::of(&buf.filled()[before..]),
            (Poll::Ready(Err(e)), false) if e.kind() == io::ErrorKind::ConnectionReset => {
                FirstBytes::Reset
            }
            _ => return polled,
        };
        this.heard = true;
        *this.first.lock().unwrap_or_else(|p| p.into_inner()) = first;
        polled
    }
}

impl AsyncWrite for Heard {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, buf)
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }
}

/// What every connection of a run uses.
/// (host, port) → its addresses.
type DnsCache = std::collections::HashMap<(String, u16), Arc<[std::net::SocketAddr]>>;

pub struct Net {
    pub http2: bool,
    /// Built on first use: plain-HTTP runs never load certificates.
    tls: std::sync::OnceLock<Result<Arc<ClientConfig>, String>>,
    options: NetOptions,
    /// Each origin's addresses, looked up once per run (and again after a connect to
    /// them failed), not on every reconnect.
    dns: std::sync::Mutex<DnsCache>,
    /// Lookups made, for the tests.
    lookups: std::sync::atomic::AtomicU64,
    /// The next source address's turn (`local_addresses`).
    next_source: std::sync::atomic::AtomicUsize,
}

impl Net {
    pub fn new(options: &NetOptions) -> Net {
        Net {
            http2: options.http2,
            tls: std::sync::OnceLock::new(),
            options: options.clone(),
            dns: Default::default(),
            lookups: Default::default(),
            next_source: Default::default(),
        }
    }

    /// The source address for a new connection, in turn; None lets the system pick.
    pub(crate) fn next_source(&self) -> Option<std::net::IpAddr> {
        let list = &self.options.local_addresses;
        if list.is_empty() {
            return None;
        }
        let i = self
            .next_source
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Some(list[i % list.len()])
    }

    /// The addresses of `host:port`: an IP address as it is, a name from the run's cache
    /// or, the first time, from the resolver.
    pub(crate) async fn resolve(
        &self,
        host: &str,
        port: u16,
    ) -> std::io::Result<Arc<[std::net::SocketAddr]>> {
        if let Ok(ip) = host.parse::<std::net::IpAddr>() {
            return Ok(Arc::from([std::net::SocketAddr::new(ip, port)]));
        }
        let key = (host.to_string(), port);
        if let Some(found) = self.cache().get(&key) {
            return Ok(Arc::clone(found));
        }
        self.lookups
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let found: Arc<[std::net::SocketAddr]> =
            tokio::net::lookup_host((host, port)).await?.collect();
        if found.is_empty() {
            return Err(std::io::Error::new(
                std::io::ErrorKind::NotFound,
                format!("{host} has no address"),
            ));
        }
        self.cache().insert(key, Arc::clone(&found));
        Ok(found)
    }

    /// Forgets a name's addresses after a connect to them failed: the next connect looks
    /// it up again (the server may have moved).
    pub fn forget(&self, host: &str, port: u16) {
        self.cache().remove(&(host.to_string(), port));
    }

    #[cfg(test)]
    /// How many lookups the resolver was asked for.
    fn lookups(&self) -> u64 {
        self.lookups.load(std::sync::atomic::Ordering::Relaxed)
    }

    fn cache(&self) -> std::sync::MutexGuard<'_, DnsCache> {
        self.dns.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The TLS client configuration (roots, ALPN, verification).
    pub fn tls(&self) -> Result<Arc<ClientConfig>, String> {
        self.tls
            .get_or_init(|| tls_config(&self.options).map(Arc::new))
            .clone()
    }

    /// Opens TLS over `tcp`; true when the server chose HTTP/2.
    pub async fn handshake(&self, host: &str, tcp: TcpStream) -> io::Result<(Stream, bool)> {
        let config = self.tls().map_err(io::Error::other)?;
        let name = ServerName::try_from(host.to_string())
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidInput, format!("{host}: {e}")))?;
        let tls = tokio_rustls::TlsConnector::from(config)
            .connect(name, tcp)
            .await?;
        let h2 = tls.get_ref().1.alpn_protocol() == Some(b"h2");
        Ok((Stream::Tls(Box::new(tls)), h2))
    }
}

fn tls_config(o: &NetOptions) -> Result<ClientConfig, String> {
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = ClientConfig::builder_with_provider(Arc::clone(&provider))
        .with_safe_default_protocol_versions()
        .map_err(|e| format!("TLS setup: {e}"))?;
    let mut config = if o.insecure {
        builder
            .dangerous()
            .with_custom_certificate_verifier(Arc::new(AcceptAny(provider)))
            .with_no_client_auth()
    } else {
        let mut roots = RootCertStore::empty();
        if o.system_roots {
            let found = rustls_native_certs::load_native_certs();
            for cert in found.certs {
                let _ = roots.add(cert);
            }
            if roots.is_empty() {
                return Err(
                    "no usable certificates among the system's roots; use tls_roots = \"webpki\""
                        .into(),
                );
            }
        } else {
            roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
        }
        builder.with_root_certificates(roots).with_no_client_auth()
    };
    config.alpn_protocols = if o.http2 {
        vec![b"h2".to_vec(), b"http/1.1".to_vec()]
    } else {
        vec![b"http/1.1".to_vec()]
    };
    Ok(config)
}

/// `insecure = true`: any certificate is accepted (signatures are still checked, so the
/// handshake is real; only the chain of trust and the name are not).
#[derive(Debug)]
struct AcceptAny(Arc<rustls::crypto::CryptoProvider>);

impl ServerCertVerifier for AcceptAny {
    fn verify_server_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _server_name: &ServerName<'_>,
        _ocsp: &[u8],
        _now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(
            message,
            cert,
            dss,
            &self.0.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.signature_verification_algorithms.supported_schemes()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_name_is_looked_up_once_and_again_after_forget() {
        let net = Net::new(&NetOptions::default());
        let first = net.resolve("localhost", 8080).await.unwrap();
        let again = net.resolve("localhost", 8080).await.unwrap();
        assert_eq!(first, again);
        assert!(
            first
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 8080)
        );
        assert_eq!(net.lookups(), 1, "the second connect used the cache");
        net.forget("localhost", 8080);
        net.resolve("localhost", 8080).await.unwrap();
        assert_eq!(
            net.lookups(),
            2,
            "a failed connect makes the next one look up again"
        );
        // An address needs no lookup.
        let ip = net.resolve("127.0.0.1", 9).await.unwrap();
        assert_eq!(ip[0].to_string(), "127.0.0.1:9");
        assert_eq!(net.lookups(), 2);
    }
}
