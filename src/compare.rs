//! `swarm compare BASE NEW`: two saved runs side by side, endpoint by endpoint, and
//! `--fail-if` limits that make the comparison a CI gate.
//!
//! A limit is a metric and how much worse NEW may be than BASE:
//! - `p95 +10%`: a latency (p50 … p99.99, avg, max) may rise by 10 % of BASE's value;
//!   `p95 +5ms` (or `+1s`) by that much time.
//! - `rps -10%`: the throughput may fall by 10 %; `rps -50` by 50 requests/s.
//! - `fail_ratio +1pp`: the share of failed requests may rise by one percentage point;
//!   `fail_ratio +50%` by half of BASE's share.
//!
//! Every limit applies to each endpoint that both runs have, and to the aggregate. The
//! sign may be left out; written, it must be the direction in which the metric worsens.
//! A latency limit in % also needs the latency to have risen by at least `NOISE_MS`: a
//! 0.7 ms endpoint that measures 0.85 ms the next time has not regressed, and a gate that
//! says so would fail on noise (an absolute limit such as `+0.1ms` judges finer).

use crate::report::format::{fit, ms, rate};
use crate::report::saved::SavedRun;
use crate::scenario::threshold::{Metric, StreamTime, parse_metric};
use crate::stats::{RowStats, Snapshot};
use std::fmt::Write;

/// Without `--fail-if`, a change this much worse (relative) is marked.
pub(crate) const MARK_WORSE: f64 = 0.10;

/// A latency must rise by at least this many ms to break a relative limit (or be marked).
pub(crate) const NOISE_MS: f64 = 1.0;

/// How much worse NEW may be.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Limit {
    /// A fraction of BASE's value (0.1 for 10 %).
    Relative(f64),
    /// In the metric's unit: ms, a ratio (0.01 for one point), requests/s.
    Absolute(f64),
}

#[derive(Debug, Clone, PartialEq)]
pub struct FailIf {
    pub metric: Metric,
    pub limit: Limit,
    /// As written, e.g. `p95 +10%`.
    pub text: String,
}

/// The metrics `--fail-if` takes.
const METRICS: &str =
    "p50, p66, p75, p80, p90, p95, p98, p99, p99.9, p99.99, avg, max, rps, fail_ratio";

/// Parses `--fail-if` text: `p95 +10%`, `p99 +5ms`, `rps -10%`, `fail_ratio +1pp`.
pub(crate) fn parse_fail_if(text: &str) -> Result<FailIf, String> {
    let t = text.trim();
    let split = t.find(|c: char| c.is_whitespace() || c == '+' || c == '-');
    let (name, rest) = match split {
        Some(i) => (&t[..i], t[i..].trim()),
        None => (t, ""),
    };
    let name = if name == "fail" { "fail_ratio" } else { name };
    let metric = parse_metric(name)
        .map_err(|_| format!("\"{name}\" is not a metric --fail-if compares (one of {METRICS})"))?;
    if rest.is_empty() {
        return Err(format!(
            "\"{t}\" needs a limit after the metric, e.g. \"{name} {}\"",
            example(metric)
        ));
    }
    let worse_up = metric != Metric::Rps;
    let (sign, amount) = match rest.chars().next() {
        Some('+') => (Some(true), rest[1..].trim()),
        Some('-') => (Some(false), rest[1..].trim()),
        _ => (None, rest),
    };
    if sign.is_some_and(|up| up != worse_up) {
        let how = if worse_up { "rises" } else { "falls" };
        return Err(format!(
            "\"{t}\": {name} gets worse as it {how}; write \"{name} {}\"",
            example(metric)
        ));
    }
    let limit = parse_limit(metric, amount, (t, name))?;
    Ok(FailIf {
        metric,
        limit,
        text: t.to_string(),
    })
}

/// The limit after a `--fail-if` metric: a share of BASE (`10%`), a time (`5ms`),
/// percentage points of the failure share (`1pp`), or requests per second.
fn parse_limit(metric: Metric, amount: &str, (t, name): (&str, &str)) -> Result<Limit, String> {
    let number = |s: &str| {
        s.trim()
            .parse::<f64>()
            .ok()
            .filter(|v| v.is_finite() && *v >= 0.0)
            .ok_or_else(|| {
                format!(
                    "\"{t}\": \"{amount}\" is not a limit; write e.g. \"{name} {}\"",
                    example(metric)
                )
            })
    };
    Ok(if let Some(p) = amount.strip_suffix('%') {
        Limit::Relative(number(p)? / 100.0)
    } else {
        match metric {
            m if m.is_time() => {
                if amount.parse::<f64>().is_ok() {
                    return Err(format!(
                        "\"{t}\": \"{amount}\" needs a unit: % of BASE, or a time such as \"{amount}ms\""
                    ));
                }
                let d =
                    crate::scenario::parse_duration(amount).map_err(|e| format!("\"{t}\": {e}"))?;
                Limit::Absolute(d.as_secs_f64() * 1000.0)
            }
            Metric::FailRatio => match amount.strip_suffix("pp") {
                Some(p) => Limit::Absolute(number(p)? / 100.0),
                None => {
                    return Err(format!(
                        "\"{t}\": write the failure share's limit in percentage points (\"{name} +1pp\") or relative to BASE (\"{name} +50%\")"
                    ));
                }
            },
            _ => Limit::Absolute(number(amount.trim_end_matches("/s"))?),
        }
    })
}

fn example(metric: Metric) -> &'static str {
    match metric {
        Metric::Rps => "-10%",
        Metric::FailRatio => "+1pp",
        _ => "+10%",
    }
}

/// How much worse `new` is than `base` for a metric, in the metric's unit and relative to
/// `base` (positive is worse); None when either has no requests.
fn worsening(metric: Metric, base: &RowStats, new: &RowStats) -> Option<(f64, f64)> {
    if base.requests == 0 || new.requests == 0 {
        return None;
    }
    let (b, n) = (metric.value(base), metric.value(new));
    if !b.is_finite() || !n.is_finite() {
        return None;
    }
    let worse = if metric == Metric::Rps { b - n } else { n - b };
    let latency = !matches!(metric, Metric::Rps | Metric::FailRatio);
    let relative = if latency && worse < NOISE_MS {
        0.0
    } else if b != 0.0 {
        worse / b
    } else if worse > 0.0 {
        f64::INFINITY
    } else {
        0.0
    };
    Some((worse, relative))
}

impl FailIf {
    /// True when NEW is worse than the limit allows.
    fn broken(&self, base: &RowStats, new: &RowStats) -> Option<bool> {
        let (worse, relative) = worsening(self.metric, base, new)?;
        Some(match self.limit {
            Limit::Relative(f) => relative > f + 1e-12,
            Limit::Absolute(a) => worse > a + 1e-12,
        })
    }
}

/// The rows both runs have, matched by method and name, then the aggregate.
fn pairs<'a>(base: &'a Snapshot, new: &'a Snapshot) -> Vec<(&'a RowStats, &'a RowStats)> {
    let mut out: Vec<(&RowStats, &RowStats)> = base
        .rows
        .iter()
        .filter_map(|b| {
            new.rows
                .iter()
                .find(|n| n.name == b.name && n.method == b.method)
                .map(|n| (b, n))
        })
        .collect();
    out.push((&base.total, &new.total));
    out
}

/// The row of `base` that matches `row` (by method and name; the aggregate by itself).
pub(crate) fn matching<'a>(base: &'a Snapshot, row: &RowStats) -> Option<&'a RowStats> {
    if row.name == "Aggregated" && row.method.is_empty() {
        return Some(&base.total);
    }
    base.rows
        .iter()
        .find(|b| b.name == row.name && b.method == row.method)
}

const SHOWN: [(&str, Metric); 6] = [
    ("req/s", Metric::Rps),
    ("p50 ms", Metric::Percentile(0.5)),
    ("p95 ms", Metric::Percentile(0.95)),
    ("p99 ms", Metric::Percentile(0.99)),
    ("max ms", Metric::MaxMs),
    ("fail %", Metric::FailRatio),
];

/// Rows streamed in both runs add their stream's times.
const STREAMED: [(&str, Metric); 3] = [
    ("TTFT p95 ms", Metric::Stream(StreamTime::Ttft, 0.95)),
    ("ITL p99 ms", Metric::Stream(StreamTime::Itl, 0.99)),
    ("TPOT p50 ms", Metric::Stream(StreamTime::Tpot, 0.5)),
];

fn shown(metric: Metric, v: f64) -> String {
    if v.is_nan() {
        return "-".into();
    }
    match metric {
        Metric::Rps => rate(v),
        Metric::FailRatio => format!("{:.2}%", v * 100.0),
        _ => ms(v),
    }
}

/// `shown` with the unit, for a sentence.
fn with_unit(metric: Metric, v: f64) -> String {
    match metric {
        Metric::Rps => format!("{} req/s", rate(v)),
        Metric::FailRatio => shown(metric, v),
        _ => format!("{} ms", ms(v)),
    }
}

fn change(metric: Metric, base: f64, new: f64) -> String {
    if base.is_nan() || new.is_nan() {
        return "-".into();
    }
    if metric == Metric::FailRatio {
        return format!("{:+.2}pp", (new - base) * 100.0);
    }
    if base == 0.0 {
        return if new == 0.0 {
            "0%".into()
        } else {
            "new".into()
        };
    }
    format!("{:+.1}%", (new - base) / base * 100.0)
}

/// The comparison's text and whether every `--fail-if` held.
pub fn render(
    (base_path, base): (&str, &SavedRun),
    (new_path, new): (&str, &SavedRun),
    limits: &[FailIf],
    width: usize,
) -> (String, bool) {
    let width = width.max(80);
    let mut out = String::new();
    let _ = writeln!(out, "swarm compare");
    for (label, path, run) in [("base", base_path, base), ("new ", new_path, new)] {
        let s = &run.stats;
        let line = format!("  {label}  {path}: {}", run.title());
        let _ = writeln!(out, "{}", fit(&line, width));
        let line = format!(
            "        started {}, {:.1}s, {}, {}",
            crate::report::csv::utc(run.started()),
            s.elapsed.as_secs_f64(),
            crate::fmt::plural(s.peak_users, "user"),
            crate::fmt::plural(s.total.requests, "request")
        );
        let _ = writeln!(out, "{}", fit(&line, width));
    }
    if base.scenario != new.scenario {
        let line = "the two runs ran different scenario texts: the change may be the scenario's, not the server's (swarm report RUN shows each)";
        for l in crate::fmt::wrap(line, width) {
            let _ = writeln!(out, "{l}");
        }
    }
    out.push('\n');
    let (table, held) = table(&base.stats, &new.stats, limits, width);
    out.push_str(&table);
    (out, held)
}

/// One metric of a row: base, new, the change, and FAIL or worse.
fn metric_line(
    label: &str,
    metric: Metric,
    (b, n): (&RowStats, &RowStats),
    limits: &[FailIf],
) -> String {
    let (bv, nv) = (metric.value(b), metric.value(n));
    let broken: Vec<&FailIf> = limits
        .iter()
        .filter(|l| l.metric == metric && l.broken(b, n) == Some(true))
        .collect();
    // A change worse than MARK_WORSE is marked whether or not a --fail-if
    // judges it: the limits decide the exit code, not what the table shows.
    let mark = if !broken.is_empty() {
        format!("  FAIL ({})", broken[0].text)
    } else if worsening(metric, b, n).is_some_and(|(_, r)| r > MARK_WORSE) {
        "  worse".to_string()
    } else {
        String::new()
    };
    format!(
        "  {label:<22}{:>11}{:>11}{:>11}{mark}",
        shown(metric, bv),
        shown(metric, nv),
        change(metric, bv, nv)
    )
}

/// Each `--fail-if` limit: ok, or FAIL with the rows that broke it.
fn fail_if_lines(out: &mut String, limits: &[FailIf], verdicts: &[Verdict<'_>], width: usize) {
    let _ = writeln!(out, "\n--fail-if");
    for l in limits {
        let broken: Vec<_> = verdicts
            .iter()
            .filter(|(v, _, broken, _)| std::ptr::eq(*v, l) && *broken)
            .collect();
        if !judged(l, verdicts) {
            let line = format!(
                "  FAIL  {}  not measured: no row has it in both runs, so nothing was compared",
                l.text
            );
            let _ = writeln!(out, "{}", fit(&line, width));
        } else if broken.is_empty() {
            let _ = writeln!(out, "  ok    {}", l.text);
        }
        for (_, name, _, (b, n)) in broken {
            let line = format!(
                "  FAIL  {}  {name}: {} → {} ({})",
                l.text,
                with_unit(l.metric, *b),
                with_unit(l.metric, *n),
                change(l.metric, *b, *n)
            );
            let _ = writeln!(out, "{}", fit(&line, width));
        }
    }
}

/// A limit judged on a row: the limit, the row's name, whether it broke, the two values.
type Verdict<'a> = (&'a FailIf, String, bool, (f64, f64));

/// The side-by-side table of two runs' figures, the rows only one has, and the
/// `--fail-if` verdicts; true when every limit held.
pub fn table(base: &Snapshot, new: &Snapshot, limits: &[FailIf], width: usize) -> (String, bool) {
    let mut out = String::new();
    let _ = writeln!(out, "{:<24}{:>11}{:>11}{:>11}", "", "base", "new", "change");
    let mut held = true;
    let mut verdicts = Vec::new();
    for (b, n) in pairs(base, new) {
        let name = if b.method.is_empty() {
            b.name.clone()
        } else {
            format!("{} {}", b.method, b.short_name())
        };
        let _ = writeln!(out, "{}", fit(&name, width));
        let streamed = b.stream.is_some() && n.stream.is_some();
        for (label, metric) in SHOWN.iter().chain(STREAMED.iter().filter(|_| streamed)) {
            let line = metric_line(label, *metric, (b, n), limits);
            let _ = writeln!(out, "{}", fit(&line, width));
        }
        for l in limits {
            if let Some(broken) = l.broken(b, n) {
                held &= !broken;
                verdicts.push((l, name.clone(), broken, metric_pair(l.metric, b, n)));
            }
        }
    }
    let only = |a: &Snapshot, b: &Snapshot| -> Vec<String> {
        a.rows
            .iter()
            .filter(|r| {
                !b.rows
                    .iter()
                    .any(|o| o.name == r.name && o.method == r.method)
            })
            .map(|r| r.name.clone())
            .collect()
    };
    for (label, names) in [("base", only(base, new)), ("new", only(new, base))] {
        if !names.is_empty() {
            let line = format!("only in {label}: {}", names.join(", "));
            let _ = writeln!(out, "\n{}", fit(&line, width));
        }
    }
    if !limits.is_empty() {
        fail_if_lines(&mut out, limits, &verdicts, width);
    }
    // A limit judged on no row (a stream's time where neither run streamed) is a gate
    // that could not pass: it fails, as a threshold that measured nothing does.
    held &= limits.iter().all(|l| judged(l, verdicts.as_slice()));
    (out, held)
}

/// Whether some row of both runs judged limit `l`.
fn judged(l: &FailIf, verdicts: &[Verdict<'_>]) -> bool {
    verdicts.iter().any(|(v, ..)| std::ptr::eq(*v, l))
}

fn metric_pair(metric: Metric, b: &RowStats, n: &RowStats) -> (f64, f64) {
    (metric.value(b), metric.value(n))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_parse_in_every_unit() {
        let p = |s| parse_fail_if(s).unwrap().limit;
        assert_eq!(p("p95 +10%"), Limit::Relative(0.1));
        assert_eq!(p("p95+10%"), Limit::Relative(0.1));
        assert_eq!(p("p99 5ms"), Limit::Absolute(5.0));
        assert_eq!(p("max +1s"), Limit::Absolute(1000.0));
        assert_eq!(p("rps -10%"), Limit::Relative(0.1));
        assert_eq!(p("rps -50"), Limit::Absolute(50.0));
        assert_eq!(p("fail +1pp"), Limit::Absolute(0.01));
        assert_eq!(p("fail_ratio +50%"), Limit::Relative(0.5));
    }

    #[test]
    fn wrong_limits_say_what_would_be_right() {
        let e = |s| parse_fail_if(s).unwrap_err();
        assert!(
            e("p95 -10%").contains("write \"p95 +10%\""),
            "{}",
            e("p95 -10%")
        );
        assert!(e("rps +10%").contains("falls"), "{}", e("rps +10%"));
        assert!(e("p95 +10").contains("needs a unit"), "{}", e("p95 +10"));
        assert!(e("fail +1").contains("percentage points"));
        assert!(e("p42 +1%").contains("not a metric"));
        assert!(e("p95").contains("needs a limit"));
    }

    #[test]
    fn a_limit_breaks_only_beyond_its_allowance() {
        let row = |p95: f64, rps: f64| {
            let mut r = RowStats {
                requests: 100,
                total_rps: rps,
                ..RowStats::default()
            };
            r.percentiles_ms[5] = p95;
            r
        };
        let l = parse_fail_if("p95 +10%").unwrap();
        assert_eq!(l.broken(&row(20.0, 1.0), &row(22.0, 1.0)), Some(false));
        assert_eq!(l.broken(&row(20.0, 1.0), &row(30.0, 1.0)), Some(true));
        assert_eq!(l.broken(&row(20.0, 1.0), &row(10.0, 1.0)), Some(false));
        // Below a millisecond, a relative rise is noise; an absolute limit still judges it.
        assert_eq!(l.broken(&row(0.6, 1.0), &row(0.9, 1.0)), Some(false));
        let fine = parse_fail_if("p95 +0.1ms").unwrap();
        assert_eq!(fine.broken(&row(0.6, 1.0), &row(0.9, 1.0)), Some(true));
        let r = parse_fail_if("rps -10%").unwrap();
        assert_eq!(r.broken(&row(1.0, 100.0), &row(1.0, 89.0)), Some(true));
        assert_eq!(r.broken(&row(1.0, 100.0), &row(1.0, 120.0)), Some(false));
        let empty = RowStats::default();
        assert_eq!(l.broken(&empty, &row(30.0, 1.0)), None);
    }

    /// A limit no row of both runs can be judged on (a stream's time where neither run
    /// streamed) fails the gate and says why: it had printed "ok".
    #[test]
    fn a_limit_measured_in_neither_run_fails() {
        let mut snap = Snapshot::default();
        snap.total.requests = 100;
        snap.total.percentiles_ms[5] = 20.0;
        let limits = [
            parse_fail_if("ttft_p95 +10%").unwrap(),
            parse_fail_if("p95 +10%").unwrap(),
        ];
        let (text, held) = table(&snap, &snap, &limits, 100);
        assert!(!held, "{text}");
        assert!(
            text.contains("FAIL  ttft_p95 +10%  not measured") && text.contains("ok    p95 +10%"),
            "{text}"
        );
        let (_, held) = table(&snap, &snap, &limits[1..], 100);
        assert!(held);
    }
}
