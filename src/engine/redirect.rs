//! Where a redirect points: a `Location` resolved against the request it answered, by
//! RFC 3986 §5.2 (absolute URLs, scheme-relative `//host/x`, absolute and relative paths,
//! queries, dot segments), and which request headers must not follow it to another origin.

use crate::scenario::Origin;
use http::HeaderName;
use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION};

/// Credentials that stay with their origin: a redirect to another scheme, host or port
/// goes without them (as curl and Go's net/http do).
pub(crate) const CREDENTIALS: [HeaderName; 3] = [AUTHORIZATION, PROXY_AUTHORIZATION, COOKIE];

/// Resolves `location` against a request to `from` with origin-form target `base`
/// (path and query). Returns the next origin and its origin-form target; None when the
/// location is not an http(s) URL or does not parse. The fragment is dropped: it is never
/// sent.
pub(crate) fn resolve(from: &Origin, base: &str, location: &str) -> Option<(Origin, http::Uri)> {
    let location = location.trim();
    let location = location.split('#').next().unwrap_or("");
    let (base_path, base_query) = split_query(base);
    let (origin, path, query) = if let Some((scheme, rest)) = scheme_of(location) {
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "http" => false,
            "https" => true,
            _ => return None,
        };
        let rest = rest.strip_prefix("//")?;
        let (origin, path, query) = with_authority(rest, tls)?;
        (origin, remove_dot_segments(path), query)
    } else if let Some(rest) = location.strip_prefix("//") {
        let (origin, path, query) = with_authority(rest, from.tls)?;
        (origin, remove_dot_segments(path), query)
    } else {
        let (path, query) = split_query(location);
        let (path, query) = if path.is_empty() {
            (base_path.to_string(), query.or(base_query))
        } else if path.starts_with('/') {
            (remove_dot_segments(path), query)
        } else {
            (remove_dot_segments(&merge(base_path, path)), query)
        };
        (from.clone(), path, query)
    };
    let path = if path.is_empty() {
        "/".to_string()
    } else {
        path
    };
    let target = match query {
        Some(q) => format!("{path}?{q}"),
        None => path,
    };
    Some((origin, target.parse().ok()?))
}

/// `scheme:rest` when `s` starts with a scheme (RFC 3986 §3.1).
fn scheme_of(s: &str) -> Option<(&str, &str)> {
    let (scheme, rest) = s.split_once(':')?;
    let mut chars = scheme.chars();
    let valid = chars.next().is_some_and(|c| c.is_ascii_alphabetic())
        && chars.all(|c| c.is_ascii_alphanumeric() || "+-.".contains(c));
    valid.then_some((scheme, rest))
}

/// `authority/path?query` after `//`: the origin (port defaulted from the scheme), the
/// path and the query.
fn with_authority(rest: &str, tls: bool) -> Option<(Origin, &str, Option<&str>)> {
    let end = rest.find(['/', '?']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    // Credentials in a Location are not followed into the request.
    let authority = authority.rsplit('@').next()?;
    let uri: http::Uri = format!("http://{authority}/").parse().ok()?;
    let host = uri.host()?.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return None;
    }
    let origin = Origin {
        host: host.to_ascii_lowercase(),
        port: uri.port_u16().unwrap_or(if tls { 443 } else { 80 }),
        tls,
    };
    let (path, query) = split_query(tail);
    Some((origin, path, query))
}

fn split_query(s: &str) -> (&str, Option<&str>) {
    match s.split_once('?') {
        Some((p, q)) => (p, Some(q)),
        None => (s, None),
    }
}

/// RFC 3986 §5.2.3: a relative path appended to the base path's directory.
fn merge(base_path: &str, relative: &str) -> String {
    match base_path.rfind('/') {
        Some(i) => format!("{}{relative}", &base_path[..=i]),
        None => format!("/{relative}"),
    }
}

/// RFC 3986 §5.2.4.
fn remove_dot_segments(path: &str) -> String {
    let mut input = path;
    let mut out: Vec<&str> = Vec::new();
    while !input.is_empty() {
        if let Some(rest) = input.strip_prefix("../") {
            input = rest;
        } else if let Some(rest) = input.strip_prefix("./") {
            input = rest;
        } else if input.starts_with("/./") {
            input = &input[2..];
        } else if input == "/." {
            input = "/";
        } else if input.starts_with("/../") || input == "/.." {
            input = if input == "/.." { "/" } else { &input[3..] };
            out.pop();
        } else if input == "." || input == ".." {
            input = "";
        } else {
            let start = usize::from(input.starts_with('/'));
            let end = input[start..].find('/').map_or(input.len(), |i| i + start);
            out.push(&input[..end]);
            input = &input[end..];
        }
    }
    out.concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn a() -> Origin {
        Origin {
            host: "a".into(),
            port: 80,
            tls: false,
        }
    }

    /// The reference resolved against RFC 3986's base "http://a/b/c/d;p?q", as a URL.
    fn url(reference: &str) -> String {
        let (o, t) = resolve(&a(), "/b/c/d;p?q", reference).expect(reference);
        let port = if o.port == 80 {
            String::new()
        } else {
            format!(":{}", o.port)
        };
        format!("http://{}{port}{t}", o.host)
    }

    #[test]
    fn rfc_3986_normal_examples() {
        // §5.4.1 (the scheme-relative "g:h" example names another scheme: not followed).
        for (r, want) in [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            ("g?y#s", "http://a/b/c/g?y"),
            (";x", "http://a/b/c/;x"),
            ("g;x", "http://a/b/c/g;x"),
            ("g;x?y#s", "http://a/b/c/g;x?y"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("./", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../", "http://a/"),
            ("../../g", "http://a/g"),
        ] {
            assert_eq!(url(r), want, "{r:?}");
        }
        assert!(resolve(&a(), "/b/c/d;p?q", "g:h").is_none());
    }

    #[test]
    fn rfc_3986_abnormal_examples() {
        // §5.4.2.
        for (r, want) in [
            ("../../../g", "http://a/g"),
            ("../../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("/../g", "http://a/g"),
            ("g.", "http://a/b/c/g."),
            (".g", "http://a/b/c/.g"),
            ("g..", "http://a/b/c/g.."),
            ("..g", "http://a/b/c/..g"),
            ("./../g", "http://a/b/g"),
            ("./g/.", "http://a/b/c/g/"),
            ("g/./h", "http://a/b/c/g/h"),
            ("g/../h", "http://a/b/c/h"),
            ("g;x=1/./y", "http://a/b/c/g;x=1/y"),
            ("g;x=1/../y", "http://a/b/c/y"),
            ("g?y/./x", "http://a/b/c/g?y/./x"),
            ("g?y/../x", "http://a/b/c/g?y/../x"),
            ("g#s/./x", "http://a/b/c/g"),
            ("g#s/../x", "http://a/b/c/g"),
            ("http:g", "http://a/b/c/g"),
        ] {
            if r == "http:g" {
                // A strict parser (as §5.4.2 allows) refuses "http:g"; swarm does too.
                assert!(resolve(&a(), "/b/c/d;p?q", r).is_none());
                continue;
            }
            assert_eq!(url(r), want, "{r:?}");
        }
    }

    #[test]
    fn scheme_relative_and_absolute_locations_name_their_origin() {
        let tls = Origin {
            tls: true,
            port: 443,
            ..a()
        };
        let (o, t) = resolve(&tls, "/x", "//other.example:8443/y?z").unwrap();
        assert_eq!(
            (o.host.as_str(), o.port, o.tls),
            ("other.example", 8443, true)
        );
        assert_eq!(t, "/y?z");
        let (o, t) = resolve(&a(), "/x", "HTTPS://user:pw@B/q").unwrap();
        assert_eq!((o.host.as_str(), o.port, o.tls), ("b", 443, true));
        assert_eq!(t, "/q");
        let (o, _) = resolve(&a(), "/x", "http://[::1]:8080/").unwrap();
        assert_eq!((o.host.as_str(), o.port), ("::1", 8080));
        assert!(resolve(&a(), "/x", "ftp://a/").is_none());
    }
}
