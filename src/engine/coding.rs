//! A response body's `Content-Encoding`, undone for what swarm reads in a kept body
//! (checks, extraction; a streamed body is read as it arrives, not decoded): a scenario that sends `Accept-Encoding: gzip`, as a
//! browser does, gets its checks run on the text, as Locust's and k6's clients do. The
//! bytes counted stay the bytes that crossed the wire. gzip and deflate by flate2 (already
//! used for the workers' deltas), br by brotli-decompressor (the Brotli authors' decoder
//! ported to Rust, decompression only); any other coding is left as it came.

use std::io::Read;

/// How a body is encoded.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Coding {
    #[default]
    Identity,
    Gzip,
    Deflate,
    Brotli,
    /// A coding swarm does not undo (zstd, compress, or several at once).
    Other,
}

impl Coding {
    /// The coding a `Content-Encoding` value names.
    pub(crate) fn of(value: &[u8]) -> Coding {
        let value = value.trim_ascii();
        let is = |name: &[u8]| value.eq_ignore_ascii_case(name);
        if value.is_empty() || is(b"identity") {
            Coding::Identity
        } else if is(b"gzip") || is(b"x-gzip") {
            Coding::Gzip
        } else if is(b"deflate") {
            Coding::Deflate
        } else if is(b"br") {
            Coding::Brotli
        } else {
            Coding::Other
        }
    }

    /// The coding as `Content-Encoding` names it.
    pub(crate) fn name(self) -> &'static str {
        match self {
            Coding::Identity => "identity",
            Coding::Gzip => "gzip",
            Coding::Deflate => "deflate",
            Coding::Brotli => "br",
            Coding::Other => "an unknown coding",
        }
    }

    /// The body decoded, at most `limit` bytes of it; None when it is not encoded, or in
    /// a coding swarm does not undo, or when not one byte of it decodes. A body cut short
    /// (kept bodies stop at 16 MB) gives what decodes of it.
    pub(crate) fn decode(self, body: &[u8], limit: usize) -> Option<Vec<u8>> {
        let take = |r: &mut dyn Read| {
            let mut out = Vec::new();
            let done = r.take(limit as u64).read_to_end(&mut out);
            (done.is_ok() || !out.is_empty()).then_some(out)
        };
        match self {
            Coding::Identity | Coding::Other => None,
            Coding::Gzip => take(&mut flate2::read::MultiGzDecoder::new(body)),
            // "deflate" is zlib-wrapped (RFC 9110 §8.4.1.2); some servers send it bare.
            Coding::Deflate => take(&mut flate2::read::ZlibDecoder::new(body))
                .or_else(|| take(&mut flate2::read::DeflateDecoder::new(body))),
            Coding::Brotli => take(&mut brotli_decompressor::Decompressor::new(body, 4096)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;

    const TEXT: &[u8] = b"{\"id\": 42, \"name\": \"swarm\"}";

    fn compressed(coding: Coding) -> Vec<u8> {
        match coding {
            Coding::Gzip => {
                let mut z = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
                z.write_all(TEXT).unwrap();
                z.finish().unwrap()
            }
            Coding::Deflate => {
                let mut z =
                    flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::fast());
                z.write_all(TEXT).unwrap();
                z.finish().unwrap()
            }
            _ => unreachable!(),
        }
    }

    #[test]
    fn names_are_read_as_http_writes_them() {
        assert_eq!(Coding::of(b" GZIP "), Coding::Gzip);
        assert_eq!(Coding::of(b"x-gzip"), Coding::Gzip);
        assert_eq!(Coding::of(b"br"), Coding::Brotli);
        assert_eq!(Coding::of(b"identity"), Coding::Identity);
        assert_eq!(Coding::of(b"gzip, br"), Coding::Other);
        assert_eq!(Coding::of(b"zstd"), Coding::Other);
    }

    #[test]
    fn gzip_deflate_and_bare_deflate_decode_within_the_limit() {
        for coding in [Coding::Gzip, Coding::Deflate] {
            let body = compressed(coding);
            assert_eq!(coding.decode(&body, 1 << 20).as_deref(), Some(TEXT));
            // A bomb stops at the limit.
            assert_eq!(coding.decode(&body, 8).unwrap(), &TEXT[..8]);
        }
        let mut bare = flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::fast());
        bare.write_all(TEXT).unwrap();
        let bare = bare.finish().unwrap();
        assert_eq!(
            Coding::Deflate.decode(&bare, 1 << 20).as_deref(),
            Some(TEXT)
        );
        // Not gzip at all: left as it came.
        assert_eq!(Coding::Gzip.decode(b"plain text", 1 << 20), None);
        assert_eq!(Coding::Other.decode(TEXT, 1 << 20), None);
    }

    #[test]
    fn brotli_decodes() {
        // "hello" compressed by `brotli -c` (quality 11).
        let br = [0x0b, 0x02, 0x80, 0x68, 0x65, 0x6c, 0x6c, 0x6f, 0x03];
        assert_eq!(
            Coding::Brotli.decode(&br, 1 << 20).as_deref(),
            Some(&b"hello"[..])
        );
    }
}
