//! `[thresholds]`, top-level and per endpoint.

use super::*;

impl Validator<'_> {
    /// A `thresholds` table: metric = "condition" pairs, plus `abort` at the top level.
    pub(super) fn thresholds(
        &self,
        raw: Option<&BTreeMap<String, SpannedValue>>,
        key: &str,
        endpoint: Option<&str>,
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
            let cond = self.string(value, &k, "\"< 300ms\"")?;
            let (m, op, limit) =
                threshold::parse(metric, cond).map_err(|e| self.err(value.span(), &k, e))?;
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
    }
}
