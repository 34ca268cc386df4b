//! `[defaults]`: headers, timeout, redirects, cookies and connection settings for every
//! request.

use super::*;

impl Validator<'_> {
    /// `local_addresses = ["127.0.0.2", "127.0.0.3-127.0.0.9"]`: the source addresses.
    fn local_addresses(&self, v: &SpannedValue) -> Result<Vec<std::net::IpAddr>> {
        let mut addresses = Vec::new();
        let key = "defaults.local_addresses";
        let example = "[\"127.0.0.2\", \"127.0.0.3\"] or [\"127.0.0.2-127.0.0.9\"]";
        let Value::Array(items) = v.get_ref() else {
            return Err(self.err(
                v.span(),
                key,
                format!(
                    "{} is not a list of addresses; write e.g. {example}",
                    v.get_ref()
                ),
            ));
        };
        for item in items {
            let Value::String(text) = item else {
                return Err(self.err(
                    v.span(),
                    key,
                    format!("{item} is not an address; write e.g. {example}"),
                ));
            };
            let found = crate::scenario::addresses::parse_entry(text)
                .map_err(|m| self.err(v.span(), key, m))?;
            addresses.extend(found);
        }
        Ok(addresses)
    }

    pub(super) fn defaults(&self, raw: RawDefaults) -> Result<(Defaults, bool, NetOptions)> {
        let flag = |v: &Option<SpannedValue>, key: &str, default: bool| -> Result<bool> {
            match v {
                None => Ok(default),
                Some(c) => c
                    .get_ref()
                    .as_bool()
                    .ok_or_else(|| self.err(c.span(), key, "must be true or false")),
            }
        };
        let cookies = flag(&raw.cookies, "defaults.cookies", true)?;
        let mut net = NetOptions {
            http2: flag(&raw.http2, "defaults.http2", false)?,
            insecure: flag(&raw.insecure, "defaults.insecure", false)?,
            system_roots: false,
            local_addresses: Vec::new(),
            http_debug: 0,
        };
        if let Some(v) = &raw.local_addresses {
            net.local_addresses = self.local_addresses(v)?;
        }
        if let Some(r) = &raw.tls_roots {
            net.system_roots = match r.get_ref().as_str() {
                Some("webpki") => false,
                Some("system") => true,
                _ => {
                    return Err(self.err(
                        r.span(),
                        "defaults.tls_roots",
                        "write \"webpki\" (the bundled Mozilla roots, the default) or \"system\" (the operating system's)",
                    ));
                }
            };
        }
        let redirects = match &raw.redirects {
            Some(r) => self.redirects(r, "defaults.redirects")?,
            None => Redirects::SameHost,
        };
        let mut defaults = self.default_headers(raw)?;
        defaults.redirects = redirects;
        Ok((defaults, cookies, net))
    }

    pub(super) fn redirects(&self, v: &SpannedValue, key: &str) -> Result<Redirects> {
        match v.get_ref().as_str() {
            Some("same-host") => Ok(Redirects::SameHost),
            Some("none") => Ok(Redirects::None),
            Some("any") => Ok(Redirects::Any),
            _ => Err(self.err(
                v.span(),
                key,
                "write \"same-host\" (follow redirects on the same scheme, host and port: the default), \"none\" or \"any\"",
            )),
        }
    }

    pub(super) fn default_headers(&self, raw: RawDefaults) -> Result<Defaults> {
        let mut headers = HeaderMap::new();
        headers.insert(
            USER_AGENT,
            HeaderValue::from_static(concat!("swarm/", env!("CARGO_PKG_VERSION"))),
        );
        let templated = self.headers(raw.headers.as_ref(), "defaults.headers", &mut headers)?;
        let timeout = match &raw.timeout {
            Some(t) => self.positive_duration(t, "defaults.timeout")?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(Defaults {
            headers,
            timeout,
            templated,
            redirects: Redirects::SameHost,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};

    #[test]
    fn defaults_apply_to_every_endpoint() {
        let p = plan(
            "[defaults]\ntimeout = \"3s\"\nheaders = { \"X-Team\" = \"a\" }\n[[endpoints]]\npath = \"/\"\n",
        );
        assert_eq!(p.endpoints[0].timeout, std::time::Duration::from_secs(3));
    }

    #[test]
    fn a_bad_default_is_located() {
        let (key, line, _) =
            error("[defaults]\ntimeout = \"never\"\n[[endpoints]]\npath = \"/\"\n");
        assert_eq!((key.as_str(), line), ("defaults.timeout", 3));
    }
}
