//! What a request sends and what its response must be: headers, body, form, expect and
//! extract.

use super::*;

/// `"2xx"` or `"200-299"` as an inclusive range.
pub(super) fn status_range(s: &str) -> Option<(u16, u16)> {
    let s = s.trim();
    let range = if let Some(d) = s.strip_suffix("xx") {
        let d: u16 = d.parse().ok()?;
        (d * 100, d * 100 + 99)
    } else if let Some((a, b)) = s.split_once('-') {
        (a.trim().parse().ok()?, b.trim().parse().ok()?)
    } else {
        let c: u16 = s.parse().ok()?;
        (c, c)
    };
    (100 <= range.0 && range.0 <= range.1 && range.1 <= 599).then_some(range)
}

pub(super) fn encode_form(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

impl Validator<'_> {
    /// An endpoint's own Content-Length header must match the body swarm sends, or the
    /// server would wait for bytes that never come (or take the rest as a new request).
    pub(super) fn content_length(
        &self,
        e: &RawEndpoint,
        key: &str,
        body: &[u8],
        templated: bool,
    ) -> Result<()> {
        let Some((name, value)) = e
            .headers
            .iter()
            .flatten()
            .find(|(n, _)| n.eq_ignore_ascii_case("content-length"))
        else {
            return Ok(());
        };
        let (span, k) = (value.span(), format!("{key}.headers.{name}"));
        let given = self.scalar_text(value, &k)?;
        if templated {
            return Err(self.err(
                span,
                &k,
                "cannot be fixed for a templated body, whose length changes per request; remove it (swarm sets Content-Length itself)",
            ));
        }
        if given.trim().parse::<usize>().ok() != Some(body.len()) {
            return Err(self.err(
                span,
                &k,
                format!(
                    "says {given:?} but the body is {} bytes; remove it (swarm sets Content-Length itself)",
                    body.len()
                ),
            ));
        }
        Ok(())
    }

    /// At most one of `json`, `body` and `form`.
    fn one_body(&self, e: &RawEndpoint, key: &str) -> Result<()> {
        let given: Vec<(&str, std::ops::Range<usize>)> = [
            e.json.as_ref().map(|j| ("json", j.span())),
            e.body.as_ref().map(|b| ("body", b.span())),
            e.form.as_ref().map(|f| ("form", f.span())),
        ]
        .into_iter()
        .flatten()
        .collect();
        if given.len() > 1 {
            let names: Vec<&str> = given.iter().map(|g| g.0).collect();
            return Err(self.err(
                given[1].1.clone(),
                &format!("{key}.{}", given[1].0),
                format!(
                    "an endpoint takes at most one body, but has {}; keep one",
                    names.join(" and ")
                ),
            ));
        }
        Ok(())
    }

    /// The body, and its template when it has one (then the bytes are unused).
    pub(super) fn body(
        &self,
        e: &RawEndpoint,
        key: &str,
        headers: &mut HeaderMap,
    ) -> Result<(Bytes, Option<Template>)> {
        self.one_body(e, key)?;
        let mut content_type = |ct: &'static str| {
            headers.insert(CONTENT_TYPE, HeaderValue::from_static(ct));
        };
        if let Some(j) = &e.json {
            content_type("application/json");
            let bytes = serde_json::to_vec(j.get_ref()).map_err(|err| {
                self.err(
                    j.span(),
                    &format!("{key}.json"),
                    format!("cannot be sent as JSON: {err}"),
                )
            })?;
            let text = String::from_utf8(bytes).expect("JSON is UTF-8");
            if text.contains("{{") {
                let t = self.template(&text, j.span(), &format!("{key}.json"), Escape::Json)?;
                return Ok((Bytes::new(), Some(t)));
            }
            return Ok((Bytes::from(text), None));
        }
        if let Some(f) = &e.form {
            content_type("application/x-www-form-urlencoded");
            let t = self.form(f, &format!("{key}.form"))?;
            if t.is_static() {
                return Ok((Bytes::from(t.static_text()), None));
            }
            return Ok((Bytes::new(), Some(t)));
        }
        if let Some(ct) = &e.content_type {
            let value = HeaderValue::from_bytes(ct.get_ref().as_bytes()).map_err(|_| {
                self.err(
                    ct.span(),
                    &format!("{key}.content_type"),
                    "is not a valid header value",
                )
            })?;
            headers.insert(CONTENT_TYPE, value);
        }
        match &e.body {
            Some(b) if b.get_ref().contains("{{") => {
                let t =
                    self.template(b.get_ref(), b.span(), &format!("{key}.body"), Escape::None)?;
                Ok((Bytes::new(), Some(t)))
            }
            Some(b) => Ok((Bytes::from(b.get_ref().clone()), None)),
            None => Ok((Bytes::new(), None)),
        }
    }

    /// A form body as a template: names and literal text form-encoded now, template
    /// values when each request is made.
    pub(super) fn form(
        &self,
        f: &Spanned<BTreeMap<String, SpannedValue>>,
        key: &str,
    ) -> Result<Template> {
        let mut t = Template::default();
        let mut first = true;
        for (name, value) in f.get_ref() {
            let k = format!("{key}.{name}");
            // A list is the name once for each of its values (`id = [1, 2]` is
            // id=1&id=2), as requests and URLSearchParams send one.
            let values = match value.get_ref() {
                toml::Value::Array(items) => items
                    .iter()
                    .map(|v| {
                        super::values::scalar_of(v).ok_or_else(|| {
                            self.err(
                                value.span(),
                                &k,
                                "a list's values must be strings, numbers or booleans",
                            )
                        })
                    })
                    .collect::<Result<Vec<_>>>()?,
                _ => vec![self.scalar_text(value, &k)?],
            };
            for text in values {
                let sep = if first { "" } else { "&" };
                first = false;
                t.push_literal(&format!("{sep}{}=", encode_form(name)));
                let mut part = Template::default();
                part.push_parsed(&text, Escape::Form, &env_var, &encode_form)
                    .map_err(|e| self.err(value.span(), &k, e.message))?;
                self.check_vars(&part, value.span(), &k)?;
                t.push_parsed_template(part);
            }
        }
        Ok(t)
    }

    /// Static headers go into `into`; templated ones are returned.
    pub(super) fn headers(
        &self,
        raw: Option<&BTreeMap<String, SpannedValue>>,
        key: &str,
        into: &mut HeaderMap,
    ) -> Result<Vec<(HeaderName, Template)>> {
        let mut templated = Vec::new();
        let mut named: Vec<(HeaderName, &str)> = Vec::new();
        for (name, value) in raw.into_iter().flatten() {
            let k = format!("{key}.{name}");
            let header = HeaderName::from_bytes(name.as_bytes()).map_err(|_| {
                self.err(
                    value.span(),
                    &k,
                    format!("\"{name}\" is not a valid header name"),
                )
            })?;
            // Header names are case-insensitive: "X-Id" and "x-id" are one header, and
            // one of the two values would be dropped unseen.
            if let Some((_, first)) = named.iter().find(|(h, _)| *h == header) {
                return Err(self.err(
                    value.span(),
                    &k,
                    format!(
                        "\"{first}\" and \"{name}\" name the same header (header names ignore case); keep one"
                    ),
                ));
            }
            named.push((header.clone(), name));
            if header == http::header::TRANSFER_ENCODING
                || (header == http::header::CONTENT_LENGTH && key.starts_with("defaults"))
            {
                return Err(self.err(
                    value.span(),
                    &k,
                    "is set by swarm from each request's body (sent with a Content-Length); remove this header",
                ));
            }
            let text = self.scalar_text(value, &k)?;
            if header == http::header::HOST
                && !text.contains("{{")
                && text.parse::<http::uri::Authority>().is_err()
            {
                return Err(self.err(
                    value.span(),
                    &k,
                    format!(
                        "\"{text}\" is not a host (a name or address, and a port if any, e.g. \"api.example.com\" or \"api.example.com:8080\")"
                    ),
                ));
            }
            if text.contains("{{") {
                let t = self.template(&text, value.span(), &k, Escape::None)?;
                into.remove(&header);
                templated.push((header, t));
                continue;
            }
            let value = HeaderValue::from_bytes(text.as_bytes()).map_err(|_| {
                self.err(
                    value.span(),
                    &k,
                    "is not a valid header value (no line breaks or control characters)",
                )
            })?;
            into.insert(header, value);
        }
        Ok(templated)
    }

    /// `status = [200, "2xx", "300-399"]`: the statuses that count as success.
    fn statuses(&self, status: &SpannedValue, k: &str) -> Result<Vec<(u16, u16)>> {
        let items: Vec<Value> = match status.get_ref() {
            Value::Array(a) => a.clone(),
            v @ (Value::Integer(_) | Value::String(_)) => vec![v.clone()],
            _ => {
                return Err(self.err(
                    status.span(),
                    k,
                    "must be a list of status codes or ranges, e.g. [200, 201] or [\"2xx\"]",
                ));
            }
        };
        let mut codes = Vec::new();
        for item in items {
            let range = match &item {
                Value::Integer(c) if (100..=599).contains(c) => Some((*c as u16, *c as u16)),
                Value::String(s) => status_range(s),
                _ => None,
            };
            match range {
                Some(r) => codes.push(r),
                None => {
                    return Err(self.err(
                    status.span(),
                    k,
                    format!("{item} is not an HTTP status code (100 to 599) or a range such as \"2xx\" or \"200-299\""),
                ));
                }
            }
        }
        if codes.is_empty() {
            return Err(self.err(
                status.span(),
                k,
                "is empty; list the statuses that count as success",
            ));
        }
        Ok(codes)
    }

    /// `expect = { status = [200, "2xx", "300-399"], body_contains = "ok", json = { "/ok" = true } }`
    pub(super) fn expect(
        &self,
        raw: &RawExpect,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<(Expect, Vec<Check>)> {
        let mut checks = Vec::new();
        if let Some(b) = &raw.body_contains {
            if b.get_ref().is_empty() {
                return Err(self.err(
                    b.span(),
                    &format!("{key}.body_contains"),
                    "is empty, so every body would pass; give the text the body must contain, or leave it out",
                ));
            }
            checks.push(Check::BodyContains(b.get_ref().clone()));
        }
        for (pointer, value) in raw.json.iter().flatten() {
            let k = format!("{key}.json.{pointer}");
            self.json_pointer(pointer, value, &k, "\"/status\"")?;
            let v = serde_json::to_value(value.get_ref()).map_err(|e| {
                self.err(value.span(), &k, format!("cannot be compared as JSON: {e}"))
            })?;
            checks.push(Check::JsonEq(pointer.clone(), v));
        }
        let Some(status) = &raw.status else {
            if !checks.is_empty() {
                return Ok((Expect::Below400, checks));
            }
            return Err(self.err(
                span,
                key,
                "needs a status list, e.g. expect = { status = [200, 201] }, or body_contains / json checks",
            ));
        };
        let codes = self.statuses(status, &format!("{key}.status"))?;
        Ok((Expect::Statuses(codes), checks))
    }

    /// `extract = { token = "/token", sid = { header = "X-Session" }, id = { regex = "id=(\\d+)" } }`
    pub(super) fn extract(
        &self,
        raw: Option<&BTreeMap<String, SpannedValue>>,
        key: &str,
        streamed: bool,
    ) -> Result<Vec<Extract>> {
        let mut list = Vec::new();
        for (var, value) in raw.into_iter().flatten() {
            let k = format!("{key}.{var}");
            self.var_name(var, value, &k)?;
            let pointer = |p: &str| -> Result<ExtractFrom> {
                self.json_pointer(p, value, &k, "\"/token\" or \"/data/0/id\"")?;
                Ok(ExtractFrom::Json(p.to_string()))
            };
            let from = match value.get_ref() {
                Value::String(p) if p == "tokens" && streamed => ExtractFrom::Tokens,
                Value::String(p) if p == "tokens" => {
                    return Err(self.err(
                        value.span(),
                        &k,
                        "\"tokens\" is a streamed response's token text; it needs stream = \"sse\" \
                         and stream_tokens = \"/pointer\" on the endpoint",
                    ));
                }
                Value::String(p) => pointer(p)?,
                Value::Table(t) if t.len() == 1 => {
                    let (kind, v) = t.iter().next().expect("one entry");
                    let text = v.as_str().ok_or_else(|| {
                        self.err(value.span(), &k, format!("{kind} must be a string"))
                    })?;
                    match kind.as_str() {
                        "json" => pointer(text)?,
                        "header" => ExtractFrom::Header(HeaderName::from_bytes(text.as_bytes()).map_err(|_| {
                            self.err(value.span(), &k, format!("\"{text}\" is not a valid header name"))
                        })?),
                        "regex" => ExtractFrom::Regex(regex::Regex::new(text).map_err(|e| {
                            self.err(value.span(), &k, format!("is not a valid regex: {e}"))
                        })?),
                        other => return Err(self.err(value.span(), &k, format!("\"{other}\" is not a source; write json = \"/pointer\", header = \"Name\" or regex = \"id=(\\\\d+)\""))),
                    }
                }
                _ => {
                    return Err(self.err(value.span(), &k, "write a JSON pointer (\"/token\"), or { header = \"Name\" }, or { regex = \"...\" }"));
                }
            };
            list.push(Extract {
                var: var.clone(),
                from,
            });
        }
        Ok(list)
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};

    #[test]
    fn status_ranges_read_as_their_users_write_them() {
        assert_eq!(super::status_range("2xx"), Some((200, 299)));
        assert_eq!(super::status_range("200-204"), Some((200, 204)));
        assert_eq!(super::status_range("404"), Some((404, 404)));
        assert_eq!(super::status_range("700"), None);
        assert_eq!(super::status_range("300-200"), None);
    }

    #[test]
    fn a_body_and_a_json_body_do_not_mix() {
        let (key, _, _) = error(
            "[[endpoints]]\npath = \"/\"\nmethod = \"POST\"\nbody = \"x\"\njson = { a = 1 }\n",
        );
        assert!(key.starts_with("endpoints[0]"), "{key}");
    }

    #[test]
    fn headers_and_expect_load() {
        let p = plan(
            "[[endpoints]]\npath = \"/\"\nheaders = { \"X-A\" = \"1\" }\nexpect = { status = \"2xx\" }\n",
        );
        assert_eq!(p.endpoints.len(), 1);
        let (key, _, _) =
            error("[[endpoints]]\npath = \"/\"\nheaders = { \"bad name\" = \"1\" }\n");
        assert!(key.starts_with("endpoints[0].headers"), "{key}");
    }
}
