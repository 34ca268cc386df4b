//! `[thresholds]`, top-level and per endpoint.

use super::*;

impl Validator<'_> {
    /// A `thresholds` table: metric = "condition" pairs, plus `abort` at the top level.
    /// `streams`: whether what it judges (the scenario, or its endpoint) has streamed
    /// responses, without which a stream's time (`ttft_p95`) could never be measured.
    pub(super) fn thresholds(
        &self,
        raw: Option<&BTreeMap<String, SpannedValue>>,
        key: &str,
        (endpoint, streams): (Option<&str>, bool),
    ) -> Result<(Vec<Threshold>, bool)> {
        let mut list = Vec::new();
        let mut abort = false;
        for (metric, value) in raw.into_iter().flatten() {
            let k = format!("{key}.{metric}");
            if metric == "abort" {
                abort = value
                    .get_ref()
                    .as_bool()
                    .ok_or_else(|| self.err(value.span(), &k, "must be true or false"))?;
                continue;
            }
            // p99.9 = "..." unquoted is TOML's dotted key: a table p99 holding 9.
            if let Some(t) = value.get_ref().as_table()
                && let [(decimals, _)] = t.iter().collect::<Vec<_>>()[..]
                && decimals.chars().all(|c| c.is_ascii_digit())
            {
                return Err(self.err(
                    value.span(),
                    &k,
                    format!(
                        "{metric}.{decimals} needs quotes: TOML reads a dot in a bare key as a table; write \"{metric}.{decimals}\" = \"< 1s\""
                    ),
                ));
            }
            let cond = self.string(value, &k, "\"< 300ms\"")?;
            let (m, op, limit) =
                threshold::parse(metric, cond).map_err(|e| self.err(value.span(), &k, e))?;
            if let Some(why) = threshold::never_measured(m, endpoint.is_some(), streams) {
                return Err(self.err(value.span(), &k, why));
            }
            let text = format!("{metric} {}", cond.trim());
            list.push(Threshold {
                endpoint: endpoint.map(str::to_string),
                metric: m,
                op,
                limit,
                text,
            });
        }
        Ok((list, abort))
    }
}

#[cfg(test)]
mod tests {
    use super::super::testing::{error, plan};

    #[test]
    fn thresholds_load_and_a_bad_one_is_located() {
        let p = plan(
            "[thresholds]\np95 = \"< 500ms\"\np99 = \"< 1s\"\nabort = true\n[[endpoints]]\npath = \"/\"\n",
        );
        assert!(p.abort_on_threshold);
        assert_eq!(p.thresholds.len(), 2);
        let (key, line, _) = error("[thresholds]\np95 = \"soon\"\n[[endpoints]]\npath = \"/\"\n");
        assert_eq!((key.as_str(), line), ("thresholds.p95", 3));
        let (key, _, message) =
            error("[thresholds]\np99.9 = \"< 1s\"\n[[endpoints]]\npath = \"/\"\n");
        assert_eq!(key, "thresholds.p99");
        assert!(message.contains("write \"p99.9\" = \"< 1s\""), "{message}");
        let p = plan("[thresholds]\n\"p99.9\" = \"< 1s\"\n[[endpoints]]\npath = \"/\"\n");
        assert_eq!(p.thresholds[0].text, "p99.9 < 1s");
    }

    /// A stream's time where nothing streams could never be measured: refused at its line
    /// (it had failed every run as "no requests").
    #[test]
    fn a_stream_time_needs_a_streamed_endpoint() {
        let (key, line, message) =
            error("[thresholds]\nttft_p95 = \"< 1s\"\n[[endpoints]]\npath = \"/\"\n");
        assert_eq!((key.as_str(), line), ("thresholds.ttft_p95", 3));
        assert!(
            message.contains("no endpoint of this scenario streams"),
            "{message}"
        );
        let (key, _, message) = error(
            "[[endpoints]]\npath = \"/a\"\nstream = \"sse\"\n[[endpoints]]\npath = \"/b\"\nthresholds = { itl_p99 = \"< 50ms\" }\n",
        );
        assert_eq!(key, "endpoints[1].thresholds.itl_p99");
        assert!(
            message.contains("this endpoint does not stream"),
            "{message}"
        );
        let p = plan(
            "[thresholds]\nttft_p95 = \"< 1s\"\n[[flows]]\nname = \"f\"\n[[flows.steps]]\npath = \"/a\"\nstream = \"sse\"\n",
        );
        assert_eq!(p.thresholds.len(), 1);
    }
}
