//! Endpoints and flows: the host, each request's method and target, and a flow's steps.

use super::*;

/// The port as written after the host (None when there is none), IPv6 brackets aware.
pub(super) fn port_text(authority: &str) -> Option<&str> {
    let after_host = match authority.rfind(']') {
        Some(i) => &authority[i + 1..],
        None => authority,
    };
    after_host.rfind(':').map(|i| &after_host[i + 1..])
}

/// `user:secret@host` with the password hidden, for an error message.
pub(super) fn redacted(authority: &str) -> String {
    let (info, host) = authority.rsplit_once('@').unwrap_or(("", authority));
    match info.split_once(':') {
        Some((user, _)) => format!("{user}:***@{host}"),
        None => format!("{info}@{host}"),
    }
}

/// An endpoint's headers, its body (and the body's template), and its templated headers.
type RequestParts = (
    HeaderMap,
    (Bytes, Option<Template>),
    Vec<(HeaderName, Template)>,
);

/// The parts rendered per request, when any is.
pub(super) fn dynamic(d: Dynamic) -> Option<Arc<Dynamic>> {
    (d.target.is_some() || d.body.is_some() || !d.headers.is_empty()).then(|| Arc::new(d))
}

/// The templated default headers, unless the endpoint sets the header itself, then the
/// endpoint's own.
fn header_templates(
    defaults: &Defaults,
    e: &RawEndpoint,
    own: Vec<(HeaderName, Template)>,
) -> Vec<(HeaderName, Template)> {
    let set_here = |name: &HeaderName| {
        (e.headers.iter().flatten()).any(|(n, _)| n.eq_ignore_ascii_case(name.as_str()))
    };
    let defaults = defaults
        .templated
        .iter()
        .filter(|(name, _)| !set_here(name));
    defaults.cloned().chain(own).collect()
}

impl Validator<'_> {
    pub(super) fn base(&self, host: &Spanned<String>) -> Result<Base> {
        let (origin, uri) = self.origin(host, "host")?;
        if uri.query().is_some() {
            return Err(self.err(
                host.span(),
                "host",
                "must not have a query string; put it in the endpoint's path",
            ));
        }
        let prefix = uri.path().trim_end_matches('/').to_string();
        Ok(Base { origin, prefix })
    }

    /// Parses an absolute `http://` or `https://` URL.
    pub(super) fn origin(&self, url: &Spanned<String>, key: &str) -> Result<(Origin, Uri)> {
        let text = url.get_ref().trim();
        let bad = |m: String| self.err(url.span(), key, m);
        let tls = text.starts_with("https://");
        if !tls && !text.starts_with("http://") {
            return Err(bad(format!(
                "\"{text}\" is not an http:// or https:// URL; write e.g. \"http://127.0.0.1:8080\""
            )));
        }
        let uri: Uri = text
            .parse()
            .map_err(|e| bad(format!("\"{text}\" is not a valid URL ({e})")))?;
        let host = uri
            .host()
            .filter(|h| !h.is_empty())
            .ok_or_else(|| bad(format!("\"{text}\" has no host name")))?;
        let host = host
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_string();
        let authority = uri.authority().map_or("", |a| a.as_str());
        if authority.contains('@') {
            return Err(bad(format!(
                "has credentials in it ({}); swarm does not send them from the URL, so they never show in a report: \
                 remove them and send a header instead, e.g. [defaults] headers = {{ Authorization = \"Basic ...\" }}",
                redacted(authority)
            )));
        }
        let default_port = if tls { 443 } else { 80 };
        let port = match port_text(authority) {
            None => default_port,
            Some(p) => match p.parse::<u32>() {
                Ok(n @ 1..=65535) => n as u16,
                _ => {
                    return Err(bad(format!(
                        "port \"{p}\" is out of range; a port is a number from 1 to 65535, e.g. \"http://{host}:8080\""
                    )));
                }
            },
        };
        Ok((Origin { host, port, tls }, uri))
    }

    /// The checks on the endpoint list as a whole: there is something to pick (an
    /// endpoint or a flow) with a weight of 1 or more.
    pub(super) fn endpoint_list(
        &self,
        raw: Option<&Spanned<Vec<Spanned<RawEndpoint>>>>,
        endpoints: &[Endpoint],
        flows: &[Flow],
    ) -> Result<()> {
        let Some(raw) = raw else {
            if !flows.is_empty() {
                if flows.iter().all(|f| f.weight == 0) {
                    return Err(self.err(
                        0..0,
                        "flows",
                        "every flow has weight 0; give at least one a weight of 1 or more",
                    ));
                }
                return Ok(());
            }
            return Err(self.err(
                0..0,
                "endpoints",
                "no endpoints; add an [[endpoints]] table with a path",
            ));
        };
        if raw.get_ref().is_empty() && flows.is_empty() {
            return Err(self.err(
                raw.span(),
                "endpoints",
                "is empty; add at least one endpoint with a path",
            ));
        }
        if endpoints.iter().all(|e| e.weight == 0) && flows.iter().all(|f| f.weight == 0) {
            return Err(self.err(
                raw.span(),
                "endpoints",
                "every endpoint has weight 0; give at least one a weight of 1 or more",
            ));
        }
        Ok(())
    }

    /// An endpoint or a flow step: an HTTP request, or a WebSocket step.
    pub(super) fn endpoint(
        &self,
        raw: &Spanned<RawEndpoint>,
        key: &str,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<Endpoint> {
        if raw.get_ref().is_ws() {
            return self.ws_step(raw, key, base, defaults);
        }
        self.http_endpoint(raw, key, base, defaults)
    }

    fn http_endpoint(
        &self,
        raw: &Spanned<RawEndpoint>,
        key: &str,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<Endpoint> {
        let e = raw.get_ref();
        let k = |field: &str| format!("{key}.{field}");
        let method = match &e.method {
            Some(m) => self.method(m, &k("method"))?,
            None => Method::GET,
        };
        let Some(path) = &e.path else {
            return Err(self.err(raw.span(), &k("path"), "is missing; add e.g. path = \"/\""));
        };
        let (origin, target, target_template) = self.target_with_query(e, path, key, base)?;
        let weight = match &e.weight {
            Some(w) => self.integer(w, &k("weight"), 0)? as u32,
            None => 1,
        };
        let (headers, (body, body_template), header_templates) =
            self.request_parts(e, key, &origin, defaults)?;
        let timeout = e.timeout.as_ref().map_or(Ok(defaults.timeout), |t| {
            self.positive_duration(t, &k("timeout"))
        })?;
        let (expect, checks) = match &e.expect {
            Some(x) => self.expect(x.get_ref(), x.span(), &k("expect"))?,
            None => (Expect::Below400, Vec::new()),
        };
        let stream = self.stream(e, key)?;
        let extract = self.extract(e.extract.as_ref(), &k("extract"), stream.is_some())?;
        let dynamic = dynamic(Dynamic {
            target: target_template,
            headers: header_templates,
            body: body_template,
        });
        let name = self.endpoint_name(
            e,
            (path, &k("name")),
            (&method, &target),
            origin == base.origin,
        )?;
        Ok(Endpoint {
            name,
            method,
            path: path.get_ref().clone(),
            origin,
            target,
            weight,
            headers,
            body,
            timeout,
            expect,
            checks,
            extract,
            dynamic,
            redirects: match &e.redirects {
                Some(r) => self.redirects(r, &k("redirects"))?,
                None => defaults.redirects,
            },
            tags: self.tags(e.tags.as_ref(), &k("tags"))?,
            stream,
            ws: None,
        })
    }
    /// What the endpoint sends besides its target: the headers (the defaults, Host, the
    /// body's content type, its own), the body, and the templated headers.
    pub(super) fn request_parts(
        &self,
        e: &RawEndpoint,
        key: &str,
        origin: &Origin,
        defaults: &Defaults,
    ) -> Result<RequestParts> {
        let k = |field: &str| format!("{key}.{field}");
        let mut headers = defaults.headers.clone();
        // A Host among the defaults is the user's (a virtual host behind this address),
        // as curl -H Host is; otherwise the endpoint's origin.
        if !headers.contains_key(HOST) {
            headers.insert(
                HOST,
                HeaderValue::from_str(&origin.authority()).expect("host checked by Uri"),
            );
        }
        let (body, body_template) = self.body(e, key, &mut headers)?;
        let own = self.headers(e.headers.as_ref(), &k("headers"), &mut headers)?;
        let header_templates = header_templates(defaults, e, own);
        self.content_length(e, key, &body, body_template.is_some())?;
        Ok((headers, (body, body_template), header_templates))
    }

    /// The endpoint's row name: its own, or "METHOD path" (an absolute URL on the
    /// scenario's own host is named by its path, as Locust does).
    fn endpoint_name(
        &self,
        e: &RawEndpoint,
        (path, key): (&Spanned<String>, &str),
        (method, target): (&Method, &Uri),
        own_host: bool,
    ) -> Result<String> {
        Ok(match &e.name {
            Some(n) if !n.get_ref().trim().is_empty() => self.one_line(n, key)?,
            Some(n) => {
                return Err(self.err(
                    n.span(),
                    key,
                    "is empty; leave it out for the default \"METHOD path\"",
                ));
            }
            None if path.get_ref().starts_with("http") && own_host => {
                format!("{method} {target}")
            }
            None => format!("{method} {}", path.get_ref()),
        })
    }

    /// A name that labels a row of every report (an endpoint's, a flow's, a user
    /// type's), trimmed: one line, with no control character, or the tables, the CSV and
    /// the saved run break around it.
    pub(super) fn one_line(&self, n: &Spanned<String>, key: &str) -> Result<String> {
        let text = n.get_ref().trim();
        match text.chars().find(|c| c.is_control()) {
            None => Ok(text.to_string()),
            Some(c) => Err(self.err(
                n.span(),
                key,
                format!(
                    "holds {}; a name is one line of text (it labels a row of every report)",
                    crate::scenario::control_char(c)
                ),
            )),
        }
    }

    pub(super) fn flow(
        &self,
        raw: &Spanned<RawFlow>,
        key: &str,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<Flow> {
        let f = raw.get_ref();
        let steps = f
            .steps
            .iter()
            .flatten()
            .enumerate()
            .map(|(i, e)| self.endpoint(e, &format!("{key}.steps[{i}]"), base, defaults))
            .collect::<Result<Vec<_>>>()?;
        if steps.is_empty() {
            return Err(self.err(
                raw.span(),
                &format!("{key}.steps"),
                "is missing; a flow needs [[flows.steps]] tables, each with a path",
            ));
        }
        let weight = match &f.weight {
            Some(w) => self.integer(w, &format!("{key}.weight"), 0)? as u32,
            None => 1,
        };
        let name = match &f.name {
            Some(n) => self.one_line(n, &format!("{key}.name"))?,
            None => key.replace('[', " ").replace(']', ""),
        };
        Ok(Flow {
            name,
            weight,
            steps,
            tags: self.tags(f.tags.as_ref(), &format!("{key}.tags"))?,
        })
    }

    pub(super) fn method(&self, m: &Spanned<String>, key: &str) -> Result<Method> {
        let upper = m.get_ref().trim().to_ascii_uppercase();
        if METHODS.contains(&upper.as_str()) {
            return Ok(Method::from_bytes(upper.as_bytes()).expect("standard method"));
        }
        let mut msg = format!("\"{}\" is not an HTTP method", m.get_ref());
        if let Some(best) = nearest(&upper, METHODS) {
            msg += &format!("; did you mean \"{best}\"?");
        }
        Err(self.err(
            m.span(),
            key,
            msg + &format!(" (one of {})", METHODS.join(", ")),
        ))
    }

    pub(super) fn target(
        &self,
        path: &Spanned<String>,
        key: &str,
        base: &Base,
    ) -> Result<(Origin, Uri)> {
        let text = path.get_ref().trim();
        if text.starts_with("http://") || text.starts_with("https://") {
            let (origin, uri) = self.origin(path, key)?;
            let pq = uri.path_and_query().map_or("/", |p| p.as_str());
            return Ok((origin, pq.parse().expect("path of a valid URL")));
        }
        if !text.starts_with('/') {
            return Err(self.err(path.span(), key, format!("\"{text}\" must start with \"/\" (or be an absolute http:// URL); write \"/{text}\"")));
        }
        let full = format!("{}{}", base.prefix, text);
        let uri: Uri = full
            .parse()
            .map_err(|e| self.err(path.span(), key, format!("\"{text}\" is not a valid path ({e}); percent-encode spaces and special characters")))?;
        Ok((base.origin.clone(), uri))
    }

    /// The path (with the host's prefix) and the `query` table; a template when either
    /// uses one.
    pub(super) fn target_with_query(
        &self,
        e: &RawEndpoint,
        path: &Spanned<String>,
        key: &str,
        base: &Base,
    ) -> Result<(Origin, Uri, Option<Template>)> {
        let pk = format!("{key}.path");
        let templated = path.get_ref().contains("{{");
        let query = e.query.as_ref();
        if !templated && query.is_none() {
            let (origin, uri) = self.target(path, &pk, base)?;
            return Ok((origin, uri, None));
        }
        let text = path.get_ref().trim();
        let path_t = self.template(text, path.span(), &pk, Escape::Path)?;
        // The path's static form (templates as "x") must be a valid path on its own.
        let probe_path = path_t
            .render_string(&mut Probe(fastrand::Rng::with_seed(0)))
            .expect("the probe has every variable");
        let has_query = probe_path.contains('?');
        let (origin, uri) = self.target(&Spanned::new(path.span(), probe_path), &pk, base)?;
        let mut t = Template::default();
        if text.starts_with("http://") || text.starts_with("https://") {
            // The origin-form part of an absolute URL: skip scheme and authority.
            let after = &text[text.find("//").expect("checked") + 2..];
            let rest = &after[after.find('/').unwrap_or(after.len())..];
            let rest = if rest.is_empty() { "/" } else { rest };
            t = self.template(rest, path.span(), &pk, Escape::Path)?;
        } else {
            t.push_literal(&base.prefix);
            t.push_parsed_template(path_t);
        }
        if let Some(q) = query {
            // A query table is encoded as a form is, after "?" (or "&" after a query
            // already in the path).
            t.push_literal(if has_query { "&" } else { "?" });
            t.push_parsed_template(self.form(q, &format!("{key}.query"))?);
        }
        if !t.is_static() {
            return Ok((origin, uri, Some(t)));
        }
        let full = t.static_text();
        let uri: Uri = full.parse().map_err(|err| {
            self.err(
                path.span(),
                &pk,
                format!("\"{full}\" is not a valid path and query ({err})"),
            )
        })?;
        Ok((origin, uri, None))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};

    #[test]
    fn a_path_is_joined_to_the_host_s_prefix_and_a_method_is_checked() {
        let p =
            plan("[[endpoints]]\nname = \"list\"\nmethod = \"post\"\npath = \"/items?page=1\"\n");
        let e = &p.endpoints[0];
        assert_eq!(e.method, http::Method::POST);
        assert_eq!(e.name, "list");
        let (key, line, message) = error("[[endpoints]]\nmethod = \"FETCH\"\npath = \"/\"\n");
        assert_eq!((key.as_str(), line), ("endpoints[0].method", 3));
        assert!(message.contains("GET"), "{message}");
    }

    #[test]
    fn a_password_in_a_url_is_hidden_in_the_message() {
        assert_eq!(super::redacted("ann:secret@h:1"), "ann:***@h:1");
        assert_eq!(super::port_text("[::1]:8080"), Some("8080"));
        assert_eq!(super::port_text("[::1]"), None);
    }

    /// A row's name is one line: a line break split the text report's row in two.
    #[test]
    fn a_name_with_a_line_break_is_refused() {
        let (key, _, message) = error("[[endpoints]]\nname = \"a\\nb\"\npath = \"/\"\n");
        assert_eq!(key, "endpoints[0].name");
        assert!(message.contains("a line break"), "{message}");
        let (key, _, message) =
            error("[[flows]]\nname = \"tab\\there\"\n[[flows.steps]]\npath = \"/\"\n");
        assert_eq!(key, "flows[0].name");
        assert!(message.contains("'\\t'"), "{message}");
        let (key, _, _) =
            error("[[users]]\nname = \"x\\u0007y\"\n[[users.endpoints]]\npath = \"/\"\n");
        assert_eq!(key, "users[0].name");
    }

    #[test]
    fn a_flow_needs_steps_and_its_errors_name_the_step() {
        let (key, _, _) =
            error("[[flows]]\nname = \"f\"\n[[flows.steps]]\npath = \"/\"\nmethod = \"NOPE\"\n");
        assert_eq!(key, "flows[0].steps[0].method");
    }
}
