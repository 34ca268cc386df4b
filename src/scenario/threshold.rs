//! Thresholds: pass/fail conditions on the final (or live) statistics, e.g. `p95 < 300ms`,
//! `fail_ratio < 1%`, `rps > 100`, for the whole run or one endpoint.

use crate::stats::{PERCENTILES, RowStats, Snapshot};
use serde::{Deserialize, Serialize};

/// What a threshold looks at.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Metric {
    /// A response-time percentile (0.95 for p95), in ms.
    Percentile(f64),
    AvgMs,
    MaxMs,
    /// Failed requests / requests, 0 to 1.
    FailRatio,
    /// Requests per second over the whole run.
    Rps,
    /// A streamed response's time to first token, inter-token latency or time per output
    /// token at a percentile (`ttft_p95`, `itl_p99`, `tpot_p50`), in ms.
    Stream(StreamTime, f64),
}

/// The three times of a streamed response (see `stats::StreamStats`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StreamTime {
    Ttft,
    Itl,
    Tpot,
}

impl StreamTime {
    pub fn label(self) -> &'static str {
        match self {
            StreamTime::Ttft => "ttft",
            StreamTime::Itl => "itl",
            StreamTime::Tpot => "tpot",
        }
    }
}

impl Metric {
    /// A time in ms (its limits are durations).
    pub fn is_time(self) -> bool {
        matches!(
            self,
            Metric::Percentile(_) | Metric::AvgMs | Metric::MaxMs | Metric::Stream(..)
        )
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    Lt,
    Le,
    Gt,
    Ge,
}

/// One condition, for the aggregate (`endpoint` None) or one endpoint's row.
#[derive(Debug, Clone, PartialEq)]
pub struct Threshold {
    pub endpoint: Option<String>,
    pub metric: Metric,
    pub op: Op,
    pub limit: f64,
    /// As the user wrote it, e.g. `p95 < 300ms`.
    pub text: String,
}

/// A threshold checked against a snapshot.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verdict {
    /// "all" or the endpoint's name.
    pub scope: String,
    pub threshold: String,
    /// The measured value (ms, ratio or req/s); None when the endpoint has no requests.
    pub actual: Option<f64>,
    pub passed: bool,
}

const METRICS: &str = "p50, p66, p75, p80, p90, p95, p98, p99, p99.9, p99.99, avg, max, \
     fail_ratio, rps, and for streamed endpoints ttft_p95, itl_p99, tpot_p50 (any of the percentiles)";

/// Parses a metric name and a condition such as `"< 300ms"`.
pub fn parse(metric: &str, condition: &str) -> Result<(Metric, Op, f64), String> {
    let metric = parse_metric(metric.trim())?;
    let cond = condition.trim();
    let (op, rest) = [("<=", Op::Le), (">=", Op::Ge), ("<", Op::Lt), (">", Op::Gt)]
        .iter()
        .find_map(|(p, op)| cond.strip_prefix(p).map(|r| (*op, r.trim())))
        .ok_or_else(|| {
            format!("\"{cond}\" needs a comparison first: < <= > >=, e.g. \"< 300ms\"")
        })?;
    let limit = match metric {
        m if m.is_time() && rest.parse::<f64>().is_ok() => {
            return Err(format!(
                "response time \"{rest}\" needs a unit; write \"{rest}ms\" (units: ms, s, m, h)"
            ));
        }
        m if m.is_time() => super::parse_duration(rest)
            .map(|d| d.as_secs_f64() * 1000.0)
            .map_err(|e| format!("response time {e}"))?,
        Metric::FailRatio => match rest.strip_suffix('%') {
            Some(p) => p
                .trim()
                .parse::<f64>()
                .map(|p| p / 100.0)
                .map_err(|_| bad_number(rest))?,
            // A bare 1 is the ratio 1, every request: "< 1" passed all but a run where all
            // failed, when one percent was meant.
            None if rest.parse::<f64>() == Ok(1.0) => {
                return Err(format!(
                    "\"{rest}\" as a ratio is 100% (every request failed); write \"1%\" for one percent, or \"100%\" if that is meant"
                ));
            }
            None => rest.parse::<f64>().map_err(|_| bad_number(rest))?,
        },
        _ => rest
            .trim_end_matches("/s")
            .parse::<f64>()
            .map_err(|_| bad_number(rest))?,
    };
    if !limit.is_finite() || limit < 0.0 {
        return Err(bad_number(rest));
    }
    if metric == Metric::FailRatio && limit > 1.0 {
        return Err(format!(
            "\"{rest}\" is above 100%; a failure ratio goes from 0% to 100%, e.g. \"< 1%\" or \"< 0.01\""
        ));
    }
    Ok((metric, op, limit))
}

fn bad_number(s: &str) -> String {
    format!("\"{s}\" is not a number; write e.g. \"< 1%\" or \"> 100\"")
}

/// A metric's name as thresholds write it: `p95`, `avg`, `max`, `fail_ratio`, `rps`.
pub(crate) fn parse_metric(m: &str) -> Result<Metric, String> {
    match m {
        "avg" => return Ok(Metric::AvgMs),
        "max" => return Ok(Metric::MaxMs),
        "fail_ratio" => return Ok(Metric::FailRatio),
        "rps" => return Ok(Metric::Rps),
        _ => {}
    }
    let stream = [
        ("ttft_", StreamTime::Ttft),
        ("itl_", StreamTime::Itl),
        ("tpot_", StreamTime::Tpot),
    ]
    .into_iter()
    .find_map(|(prefix, t)| m.strip_prefix(prefix).map(|rest| (t, rest)));
    if let Some((t, rest)) = stream {
        return match parse_metric(rest) {
            Ok(Metric::Percentile(q)) => Ok(Metric::Stream(t, q)),
            _ => Err(format!(
                "\"{m}\" is not a threshold metric; a stream's times take a percentile: {}_p50, {}_p95, {}_p99 ...",
                t.label(),
                t.label(),
                t.label()
            )),
        };
    }
    let q = m
        .strip_prefix('p')
        .and_then(|p| p.parse::<f64>().ok())
        .map(|p| p / 100.0);
    match q {
        Some(q) if PERCENTILES.iter().any(|p| (p - q).abs() < 1e-9) => Ok(Metric::Percentile(q)),
        _ => Err(format!(
            "\"{m}\" is not a threshold metric (one of {METRICS})"
        )),
    }
}

/// Why a threshold on `metric` could never be measured: a stream's time (`ttft_p95`)
/// where nothing it judges streams (`streams` false; `on_endpoint`: it is an endpoint's
/// own). None when it can be. The scenario's thresholds, `--threshold`, `--slo` and the
/// TUI's search all ask this.
pub(crate) fn never_measured(metric: Metric, on_endpoint: bool, streams: bool) -> Option<String> {
    let Metric::Stream(time, _) = metric else {
        return None;
    };
    if streams {
        return None;
    }
    let what = if on_endpoint {
        "this endpoint does not stream"
    } else {
        "no endpoint of this scenario streams"
    };
    Some(format!(
        "{what} (stream = \"sse\", \"lines\" or \"chunks\"), so its {} could never be measured",
        time.label()
    ))
}

/// Parses `--threshold` text: `p95<300ms`, `fail_ratio<1%`, `rps>100`.
pub(crate) fn parse_flag(text: &str) -> Result<Threshold, String> {
    let at = text
        .find(['<', '>'])
        .ok_or_else(|| format!("\"{text}\" has no < or >; write e.g. \"p95<300ms\""))?;
    let (metric, condition) = (text[..at].trim(), &text[at..]);
    // k6's spelling: p(95)<300, a bare number in milliseconds.
    let k6 = metric
        .strip_prefix("p(")
        .and_then(|m| m.strip_suffix(')'))
        .map(|q| format!("p{q}"));
    let condition = match &k6 {
        Some(_)
            if condition
                .trim_start_matches(['<', '>', '='])
                .trim()
                .parse::<f64>()
                .is_ok() =>
        {
            format!("{}ms", condition.trim())
        }
        _ => condition.to_string(),
    };
    let (metric_kind, op, limit) = parse(k6.as_deref().unwrap_or(metric), &condition)?;
    let text = match &k6 {
        Some(m) => format!("{m}{condition}"),
        None => text.to_string(),
    };
    Ok(Threshold {
        endpoint: None,
        metric: metric_kind,
        op,
        limit,
        text: text.replace(' ', ""),
    })
}

impl Metric {
    /// The metric's value for a row: ms, a ratio from 0 to 1, or requests per second;
    /// NaN for a stream's time on a row with no stream that measured it.
    pub fn value(&self, row: &RowStats) -> f64 {
        match *self {
            Metric::Percentile(q) => row.percentile_ms(q).unwrap_or(f64::NAN),
            Metric::AvgMs => row.avg_ms,
            Metric::MaxMs => row.max_ms,
            Metric::FailRatio => row.fail_ratio(),
            Metric::Rps => row.total_rps,
            Metric::Stream(t, q) => {
                let Some(s) = &row.stream else {
                    return f64::NAN;
                };
                let (values, measured) = match t {
                    StreamTime::Ttft => (Some(&s.ttft_ms), s.ttft_count > 0),
                    StreamTime::Itl => (Some(&s.itl_ms), s.itl_count > 0),
                    StreamTime::Tpot => (s.tpot_ms.as_ref(), s.tpot_ms.is_some()),
                };
                match values.filter(|_| measured) {
                    Some(v) => crate::stats::StreamStats::at(v, q).unwrap_or(f64::NAN),
                    None => f64::NAN,
                }
            }
        }
    }
}

impl Threshold {
    fn value(&self, row: &RowStats) -> f64 {
        self.metric.value(row)
    }

    /// Checks this threshold against a snapshot; an endpoint without requests fails.
    pub fn check(&self, snap: &Snapshot) -> Verdict {
        let row = match &self.endpoint {
            None => Some(&snap.total),
            Some(name) => snap.rows.iter().find(|r| &r.name == name),
        };
        let actual = row
            .filter(|r| r.requests > 0)
            .map(|r| self.value(r))
            .filter(|v| !v.is_nan());
        let passed = actual.is_some_and(|v| match self.op {
            Op::Lt => v < self.limit,
            Op::Le => v <= self.limit,
            Op::Gt => v > self.limit,
            Op::Ge => v >= self.limit,
        });
        Verdict {
            scope: self.endpoint.clone().unwrap_or_else(|| "all".into()),
            threshold: self.text.clone(),
            actual,
            passed,
        }
    }
}

/// Checks every threshold.
pub(crate) fn check_all(thresholds: &[Threshold], snap: &Snapshot) -> Vec<Verdict> {
    thresholds.iter().map(|t| t.check(snap)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn takes_k6s_spelling() {
        let t = parse_flag("p(95)<300").unwrap();
        assert_eq!(
            (t.metric, t.op, t.limit),
            (Metric::Percentile(0.95), Op::Lt, 300.0)
        );
        assert_eq!(t.text, "p95<300ms");
        let t = parse_flag("p(99) < 1s").unwrap();
        assert_eq!(
            (t.metric, t.limit, t.text.as_str()),
            (Metric::Percentile(0.99), 1000.0, "p99<1s")
        );
    }

    #[test]
    fn parses_conditions() {
        assert_eq!(
            parse("p95", "< 300ms").unwrap(),
            (Metric::Percentile(0.95), Op::Lt, 300.0)
        );
        assert_eq!(
            parse("fail_ratio", "< 1%").unwrap(),
            (Metric::FailRatio, Op::Lt, 0.01)
        );
        assert_eq!(
            parse("rps", ">= 100").unwrap(),
            (Metric::Rps, Op::Ge, 100.0)
        );
        assert_eq!(
            parse("max", "<= 2s").unwrap(),
            (Metric::MaxMs, Op::Le, 2000.0)
        );
        assert!(
            parse("p42", "< 1s")
                .unwrap_err()
                .contains("not a threshold metric")
        );
        assert!(parse("p95", "300ms").unwrap_err().contains("comparison"));
        assert_eq!(parse_flag("p99.9<1s").unwrap().limit, 1000.0);
        // fail_ratio < 1 passed every run but one where all failed: refused, with both
        // readings spelled out; 100% and 0.5 are taken.
        let e = parse("fail_ratio", "< 1").unwrap_err();
        assert!(e.contains("write \"1%\" for one percent"), "{e}");
        assert_eq!(parse("fail_ratio", "< 100%").unwrap().2, 1.0);
        assert_eq!(parse("fail_ratio", "< 0.5").unwrap().2, 0.5);
    }

    #[test]
    fn checks_against_a_snapshot() {
        let mut snap = Snapshot::default();
        snap.total.requests = 100;
        snap.total.failures = 2;
        snap.total.percentiles_ms[5] = 250.0;
        let p95 = parse_flag("p95<300ms").unwrap();
        let fails = parse_flag("fail_ratio<1%").unwrap();
        assert!(p95.check(&snap).passed);
        let v = fails.check(&snap);
        assert!(!v.passed);
        assert_eq!(v.actual, Some(0.02));
        let mut missing = p95.clone();
        missing.endpoint = Some("nope".into());
        assert!(!missing.check(&snap).passed, "no data fails");
    }
}
