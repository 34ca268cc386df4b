//! `--junit FILE`: the run as a JUnit XML test suite, for CI systems (GitLab, Jenkins,
//! GitHub's test-report actions) that read test results in that format: a "no failed
//! requests" case, and a test case per threshold. A failed case is a `<failure>` whose
//! message names the measured value.

use crate::scenario::threshold::Verdict;
use crate::stats::Snapshot;
use std::fmt::Write;

/// The XML document for a finished run.
pub fn render(snap: &Snapshot, suite: &str, verdicts: &[Verdict], timestamp: &str) -> String {
    let secs = snap.elapsed.as_secs_f64();
    let cases = cases(snap, verdicts);
    let failures = cases.iter().filter(|c| c.1.is_some()).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"swarm\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" time=\"{secs:.3}\">",
        cases.len()
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" errors=\"0\" skipped=\"0\" time=\"{secs:.3}\" timestamp=\"{}\">",
        super::escape(suite),
        cases.len(),
        super::escape(timestamp)
    );
    let _ = writeln!(
        out,
        "    <properties><property name=\"requests\" value=\"{}\"/><property name=\"failures\" value=\"{}\"/></properties>",
        snap.total.requests, snap.total.failures
    );
    for (name, failed) in &cases {
        let _ = write!(
            out,
            "    <testcase classname=\"swarm.thresholds\" name=\"{}\" time=\"{secs:.3}\"",
            super::escape(name)
        );
        match failed {
            None => out.push_str("/>\n"),
            Some(message) => {
                let _ = writeln!(
                    out,
                    ">\n      <failure message=\"{m}\" type=\"threshold\">{m}</failure>\n    </testcase>",
                    m = super::escape(message)
                );
            }
        }
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// The test cases: no failed requests, then each threshold; a failed one with its
/// message.
fn cases(snap: &Snapshot, verdicts: &[Verdict]) -> Vec<(String, Option<String>)> {
    // The failed requests are a case of their own beside the thresholds: a run with
    // 27 % failed requests and thresholds that held is not all green (it exits 1).
    let failed = (snap.total.failures > 0).then(|| {
        let causes: Vec<String> = snap
            .failures
            .iter()
            .map(|f| format!("{} × {} on {}", f.count, f.kind, f.name))
            .collect();
        format!(
            "{} of {} requests failed: {}",
            snap.total.failures,
            snap.total.requests,
            causes.join("; ")
        )
    });
    std::iter::once(("no failed requests".to_string(), failed))
        .chain(verdicts.iter().map(|v| {
            let name = format!("{}: {}", v.scope, v.threshold);
            let failed = (!v.passed).then(|| {
                format!(
                    "measured {} (threshold {})",
                    super::text::measured(v),
                    v.threshold
                )
            });
            (name, failed)
        }))
        .collect()
}

#[cfg(test)]
mod tests {
    #[test]
    fn escapes_what_xml_needs() {
        assert_eq!(
            crate::report::escape("p95 < 3\"s\" & <b>\u{1}"),
            "p95 &lt; 3&quot;s&quot; &amp; &lt;b&gt; "
        );
    }
}
