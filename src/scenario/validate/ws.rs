//! WebSocket steps: `ws` (open the user's socket), `send`/`send_binary` and `receive`,
//! `hold`, `close`. A step is one of these (send and receive together are one round trip).

use super::*;
use crate::scenario::{WsAction, WsMatch};
use base64::Engine as _;

impl Validator<'_> {
    /// A WebSocket step as an `Endpoint`: its target and headers are the upgrade request's
    /// (`ws`), its body the message it sends (`send`).
    pub(super) fn ws_step(
        &self,
        raw: &Spanned<RawEndpoint>,
        key: &str,
        base: &Base,
        defaults: &Defaults,
    ) -> Result<Endpoint> {
        let e = raw.get_ref();
        let k = |field: &str| format!("{key}.{field}");
        self.ws_keys(e, raw.span(), key)?;
        self.ws_extract(e, raw.span(), key)?;
        let action = self.ws_action(e, raw.span(), key)?;
        let (origin, target, target_template) = match &e.ws {
            Some(path) => {
                let http = ws_to_http(path.get_ref());
                let at = Spanned::new(path.span(), http);
                self.target_with_query(e, &at, &k("ws"), base)?
            }
            None => (base.origin.clone(), Uri::from_static("/"), None),
        };
        let (headers, _, header_templates) = self.request_parts(e, key, &origin, defaults)?;
        let (body, body_template) = self.ws_message(e, key)?;
        let timeout = e.timeout.as_ref().map_or(Ok(defaults.timeout), |t| {
            self.positive_duration(t, &k("timeout"))
        })?;
        let extract = self.extract(e.extract.as_ref(), &k("extract"), false)?;
        let dynamic = super::endpoints::dynamic(Dynamic {
            target: target_template,
            headers: header_templates,
            body: body_template,
        });
        Ok(Endpoint {
            name: self.ws_name(e, &action, key)?,
            method: Method::from_bytes(b"WS").expect("a valid extension method"),
            path: e
                .ws
                .as_ref()
                .map_or_else(String::new, |p| p.get_ref().clone()),
            origin,
            target,
            weight: match &e.weight {
                Some(w) => self.integer(w, &k("weight"), 0)? as u32,
                None => 1,
            },
            headers,
            body,
            timeout,
            expect: Expect::Below400,
            checks: Vec::new(),
            extract,
            dynamic,
            redirects: Redirects::None,
            tags: self.tags(e.tags.as_ref(), &k("tags"))?,
            stream: None,
            ws: Some(Arc::new(action)),
        })
    }

    /// An HTTP key on a WebSocket step is a mistake worth naming.
    fn ws_keys(&self, e: &RawEndpoint, span: std::ops::Range<usize>, key: &str) -> Result<()> {
        // The keys of an HTTP request, which a WebSocket step does not take.
        let present = [
            ("path", e.path.is_some()),
            ("method", e.method.is_some()),
            ("json", e.json.is_some()),
            ("body", e.body.is_some()),
            ("form", e.form.is_some()),
            ("content_type", e.content_type.is_some()),
            ("expect", e.expect.is_some()),
            ("redirects", e.redirects.is_some()),
            ("stream", e.stream.is_some()),
            ("stream_tokens", e.stream_tokens.is_some()),
            ("stream_done", e.stream_done.is_some()),
            ("stream_max", e.stream_max.is_some()),
        ];
        if let Some((name, _)) = present.iter().find(|p| p.1) {
            return Err(self.err(
                span,
                &format!("{key}.{name}"),
                "is an HTTP request's key; a WebSocket step (ws, send, receive, hold, close) \
                 does not take it: put the request in a step of its own",
            ));
        }
        Ok(())
    }

    /// `extract` reads what a receive matched (or a ws step's upgrade headers).
    fn ws_extract(&self, e: &RawEndpoint, span: std::ops::Range<usize>, key: &str) -> Result<()> {
        let k = |field: &str| format!("{key}.{field}");
        if let Some(x) = &e.extract
            && e.ws.is_none()
            && e.receive.is_none()
        {
            Err(self.err(
                x.values().next().map_or(span.clone(), SpannedValue::span),
                &k("extract"),
                "reads the message this step's receive matches (or, on a ws step, the \
                 upgrade's headers); this step has no receive: add one, e.g. \
                 receive = { json = \"/id\" }",
            ))?;
        }
        Ok(())
    }

    /// Which of the four kinds of step it is; two kinds in one step are refused.
    fn ws_action(
        &self,
        e: &RawEndpoint,
        span: std::ops::Range<usize>,
        key: &str,
    ) -> Result<WsAction> {
        let k = |field: &str| format!("{key}.{field}");
        let sends = e.send.is_some() || e.send_binary.is_some();
        let kinds = [
            ("ws", e.ws.is_some()),
            ("send/receive", sends || e.receive.is_some()),
            ("hold", e.hold.is_some()),
            ("close", e.close.is_some()),
        ];
        let given: Vec<&str> = kinds.iter().filter(|k| k.1).map(|k| k.0).collect();
        if given.len() > 1 {
            return Err(self.err(
                span,
                key,
                format!(
                    "has {} in one step; each is a step of its own (send and receive together are one)",
                    given.join(" and ")
                ),
            ));
        }
        if e.send.is_some() && e.send_binary.is_some() {
            return Err(self.err(
                span,
                &k("send_binary"),
                "and send in one step: a message is text or binary",
            ));
        }
        if let Some(h) = &e.hold {
            return Ok(WsAction::Hold(self.positive_duration(h, &k("hold"))?));
        }
        if let Some(c) = &e.close {
            let code = self.integer(c, &k("close"), 1000)?;
            if !(1000..=4999).contains(&code) || matches!(code, 1004..=1006 | 1015) {
                return Err(self.err(
                    c.span(),
                    &k("close"),
                    format!(
                        "{code} is not a close code a client may send; use 1000 (normal), 1001 (going away) or 3000-4999"
                    ),
                ));
            }
            return Ok(WsAction::Close(code as u16));
        }
        if e.ws.is_some() {
            return Ok(WsAction::Connect);
        }
        let receive = match &e.receive {
            Some(r) => Some(self.ws_match(r, &k("receive"))?),
            None => None,
        };
        Ok(WsAction::Exchange {
            send: sends,
            binary: e.send_binary.is_some(),
            receive,
        })
    }

    /// `receive = { contains = "..." }`, `{ regex = "..." }`, `{ json = "/p", equals = v }`,
    /// or `{}` for any message.
    fn ws_match(&self, r: &Spanned<BTreeMap<String, SpannedValue>>, key: &str) -> Result<WsMatch> {
        let t = r.get_ref();
        let text = |name: &str| -> Result<Option<String>> {
            match t.get(name) {
                None => Ok(None),
                Some(v) => match v.get_ref() {
                    Value::String(s) => Ok(Some(s.clone())),
                    _ => Err(self.err(v.span(), &format!("{key}.{name}"), "must be a string")),
                },
            }
        };
        self.receive_keys(r, key)?;
        if let Some(c) = text("contains")? {
            if c.contains("{{") {
                let at = t.get("contains").map_or(r.span(), SpannedValue::span);
                let k = format!("{key}.contains");
                return Ok(WsMatch::ContainsTemplate(self.template(
                    &c,
                    at,
                    &k,
                    Escape::None,
                )?));
            }
            return Ok(WsMatch::Contains(c));
        }
        if let Some(re) = text("regex")? {
            return regex::Regex::new(&re).map(WsMatch::Regex).map_err(|e| {
                self.err(
                    r.span(),
                    &format!("{key}.regex"),
                    format!("is not a regex: {e}"),
                )
            });
        }
        if let Some(p) = text("json")? {
            if !p.is_empty() && !p.starts_with('/') {
                return Err(self.err(
                    r.span(),
                    &format!("{key}.json"),
                    format!("\"{p}\" is not a JSON pointer; it starts with \"/\", e.g. \"/type\""),
                ));
            }
            let want = t.get("equals").map(|v| toml_to_json(v.get_ref()));
            return Ok(WsMatch::Json(p, want));
        }
        if t.contains_key("equals") {
            return Err(self.err(
                r.span(),
                &format!("{key}.equals"),
                "needs json = \"/pointer\" beside it",
            ));
        }
        Ok(WsMatch::Any)
    }

    /// A receive's keys are these four.
    fn receive_keys(&self, r: &Spanned<BTreeMap<String, SpannedValue>>, key: &str) -> Result<()> {
        match r
            .get_ref()
            .keys()
            .find(|k| !["contains", "regex", "json", "equals"].contains(&k.as_str()))
        {
            Some(unknown) => Err(self.err(
                r.span(),
                &format!("{key}.{unknown}"),
                "is not a receive key; write contains = \"text\", regex = \"...\", or json = \"/pointer\" with equals = value",
            )),
            None => Ok(()),
        }?;
        let kinds: Vec<&str> = ["contains", "regex", "json"]
            .into_iter()
            .filter(|k| r.get_ref().contains_key(*k))
            .collect();
        if kinds.len() > 1 {
            return Err(self.err(
                r.span(),
                key,
                format!(
                    "has {} at once; a receive matches one way: contains, regex, or json (with equals)",
                    kinds.join(" and ")
                ),
            ));
        }
        Ok(())
    }

    /// The message a step sends: text (templated) or `send_binary`'s base64, decoded.
    fn ws_message(&self, e: &RawEndpoint, key: &str) -> Result<(Bytes, Option<Template>)> {
        if let Some(b) = &e.send_binary {
            let bytes = base64::engine::general_purpose::STANDARD
                .decode(b.get_ref().trim())
                .map_err(|err| {
                    self.err(
                        b.span(),
                        &format!("{key}.send_binary"),
                        format!("is not base64 ({err})"),
                    )
                })?;
            return Ok((Bytes::from(bytes), None));
        }
        match &e.send {
            Some(s) if s.get_ref().contains("{{") => {
                let t =
                    self.template(s.get_ref(), s.span(), &format!("{key}.send"), Escape::None)?;
                Ok((Bytes::new(), Some(t)))
            }
            Some(s) => Ok((Bytes::from(s.get_ref().clone()), None)),
            None => Ok((Bytes::new(), None)),
        }
    }

    /// Its own name, or "WS /path", "WS send", "WS receive", "WS hold", "WS close".
    fn ws_name(&self, e: &RawEndpoint, action: &WsAction, key: &str) -> Result<String> {
        match &e.name {
            Some(n) if n.get_ref().trim().is_empty() => Err(self.err(
                n.span(),
                &format!("{key}.name"),
                "is empty; leave it out for the default name",
            )),
            Some(n) => Ok(n.get_ref().trim().to_string()),
            None => Ok(match action {
                WsAction::Connect => format!("WS {}", e.ws.as_ref().map_or("", |p| p.get_ref())),
                WsAction::Exchange {
                    send: true,
                    receive: Some(_),
                    ..
                } => "WS send+receive".into(),
                WsAction::Exchange { send: true, .. } => "WS send".into(),
                WsAction::Exchange { .. } => "WS receive".into(),
                WsAction::Hold(_) => "WS hold".into(),
                WsAction::Close(_) => "WS close".into(),
            }),
        }
    }
}

/// `ws://` and `wss://` as the `http://` and `https://` the upgrade goes over.
fn ws_to_http(path: &str) -> String {
    if let Some(rest) = path.strip_prefix("ws://") {
        format!("http://{rest}")
    } else if let Some(rest) = path.strip_prefix("wss://") {
        format!("https://{rest}")
    } else {
        path.to_string()
    }
}

/// A TOML value as JSON, for `equals`.
fn toml_to_json(v: &Value) -> serde_json::Value {
    serde_json::to_value(v).unwrap_or(serde_json::Value::Null)
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};
    use crate::scenario::{WsAction, WsMatch};

    const FLOW: &str = "[[flows]]\nname = \"room\"\n[[flows.steps]]\nname = \"connect\"\n\
        ws = \"/ws/chat?room={{user.id}}\"\n[[flows.steps]]\nname = \"join\"\n\
        send = '{\"type\":\"join\"}'\nreceive = { json = \"/type\", equals = \"joined\" }\n\
        extract = { member = \"/member_id\" }\n[[flows.steps]]\nreceive = { contains = \"tick\" }\n\
        [[flows.steps]]\nhold = \"2s\"\n[[flows.steps]]\nclose = 1000\n";

    #[test]
    fn a_websocket_flow_reads_its_five_kinds_of_step() {
        let p = plan(FLOW);
        let steps: Vec<_> = p.flows[0].steps.iter().collect();
        assert_eq!(steps[0].ws.as_deref(), Some(&WsAction::Connect));
        assert_eq!(steps[0].method.as_str(), "WS");
        assert!(
            steps[0]
                .dynamic
                .as_ref()
                .is_some_and(|d| d.target.is_some())
        );
        let WsAction::Exchange { send, receive, .. } = steps[1].ws.as_deref().cloned().unwrap()
        else {
            panic!("an exchange");
        };
        assert!(send);
        assert_eq!(
            receive.as_ref(),
            Some(&WsMatch::Json(
                "/type".into(),
                Some(serde_json::json!("joined"))
            ))
        );
        assert_eq!(&steps[1].body[..], br#"{"type":"join"}"#);
        assert_eq!(steps[2].name, "WS receive");
        assert_eq!(
            steps[3].ws.as_deref(),
            Some(&WsAction::Hold(std::time::Duration::from_secs(2)))
        );
        assert_eq!(steps[4].ws.as_deref(), Some(&WsAction::Close(1000)));
    }

    #[test]
    fn websocket_steps_say_what_is_wrong_and_where() {
        let (key, _, msg) =
            error("[[flows]]\nname = \"f\"\n[[flows.steps]]\nws = \"/ws\"\nsend = \"x\"\n");
        assert_eq!(key, "flows[0].steps[0]");
        assert!(msg.contains("ws and send/receive"), "{msg}");
        let (key, _, msg) =
            error("[[flows]]\nname = \"f\"\n[[flows.steps]]\nsend = \"x\"\npath = \"/\"\n");
        assert_eq!(key, "flows[0].steps[0].path");
        assert!(msg.contains("WebSocket step"), "{msg}");
        let (key, _, msg) = error("[[flows]]\nname = \"f\"\n[[flows.steps]]\nclose = 1006\n");
        assert_eq!(key, "flows[0].steps[0].close");
        assert!(msg.contains("1000"), "{msg}");
        let (key, _, _) =
            error("[[flows]]\nname = \"f\"\n[[flows.steps]]\nreceive = { has = \"x\" }\n");
        assert_eq!(key, "flows[0].steps[0].receive.has");
        let (key, _, _) = error("[[flows]]\nname = \"f\"\n[[flows.steps]]\nsend_binary = \"!!\"\n");
        assert_eq!(key, "flows[0].steps[0].send_binary");
        let (key, _, msg) = error(
            "[[flows]]\nname = \"f\"\n[[flows.steps]]\nreceive = { contains = \"x\", regex = \"y\" }\n",
        );
        assert_eq!(key, "flows[0].steps[0].receive");
        assert!(msg.contains("contains and regex at once"), "{msg}");
        let (key, _, msg) = error(
            "[[flows]]\nname = \"f\"\n[[flows.steps]]\nsend = \"a\"\nextract = { m = \"/m\" }\n",
        );
        assert_eq!(key, "flows[0].steps[0].extract");
        assert!(msg.contains("has no receive"), "{msg}");
    }
}
