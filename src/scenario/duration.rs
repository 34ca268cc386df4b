//! Duration and think-time syntax of scenario files: `"500ms"`, `"1h30m"`, `"1s..3s"`.

use std::time::Duration;

/// Think time after each task.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub enum Wait {
    #[default]
    None,
    Constant(Duration),
    /// Uniformly random between the two bounds (inclusive).
    Uniform(Duration, Duration),
    /// Locust's constant_pacing: a user starts a task at most once this often; the wait
    /// is what the task left of the period (none when it took longer).
    Pacing(Duration),
    /// Locust's constant_throughput: tasks per second per user, a pacing of 1/rate.
    Throughput(f64),
}

impl Wait {
    /// The think time for one task; `unit` is a uniform sample in [0, 1). For pacing,
    /// the whole period.
    pub fn sample(&self, unit: f64) -> Duration {
        match *self {
            Wait::None => Duration::ZERO,
            Wait::Constant(d) | Wait::Pacing(d) => d,
            Wait::Uniform(lo, hi) => lo + (hi - lo).mul_f64(unit),
            Wait::Throughput(rate) => period(rate),
        }
    }

    /// The wait after a task that began `elapsed` ago.
    pub(crate) fn after_task(&self, unit: f64, elapsed: Duration) -> Duration {
        match *self {
            Wait::Pacing(_) | Wait::Throughput(_) => self.sample(unit).saturating_sub(elapsed),
            _ => self.sample(unit),
        }
    }

    /// The wait between two steps of a flow: pacing sets the pace of whole tasks, so
    /// its steps follow each other at once.
    pub(crate) fn between_steps(&self, unit: f64) -> Duration {
        match *self {
            Wait::Pacing(_) | Wait::Throughput(_) => Duration::ZERO,
            _ => self.sample(unit),
        }
    }
}

/// The pacing period of a throughput (tasks per second), at most a day.
fn period(rate: f64) -> Duration {
    Duration::from_secs_f64((1.0 / rate).min(86_400.0))
}

impl std::fmt::Display for Wait {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Wait::None => write!(f, "none"),
            Wait::Constant(d) => write!(f, "{}", format_duration(*d)),
            Wait::Uniform(a, b) => write!(f, "{}..{}", format_duration(*a), format_duration(*b)),
            Wait::Pacing(d) => write!(f, "pacing {}", format_duration(*d)),
            Wait::Throughput(r) => write!(f, "throughput {r}/s per user"),
        }
    }
}

/// Parses `"90s"`, `"5m"`, `"1h30m"`, `"500ms"`, `"1.5s"`. Units: ms, s, m, h.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let s = compact.as_str();
    if s.is_empty() {
        return Err("is empty; write a duration such as \"30s\"".into());
    }
    if s.parse::<f64>().is_ok_and(f64::is_finite) {
        return Err(format!("has no unit; write \"{s}s\" (units: ms, s, m, h)"));
    }
    let mut total = 0f64;
    let mut rest = s;
    while !rest.is_empty() {
        let num_len = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        if num_len == 0 {
            return Err(format!(
                "\"{s}\" is not a duration; write e.g. \"500ms\", \"30s\", \"1h30m\""
            ));
        }
        let value: f64 = rest[..num_len]
            .parse()
            .map_err(|_| format!("\"{s}\" has a bad number; write e.g. \"1.5s\""))?;
        rest = &rest[num_len..];
        let unit_len = rest
            .find(|c: char| !c.is_ascii_alphabetic())
            .unwrap_or(rest.len());
        let secs = match &rest[..unit_len] {
            "ms" => value / 1000.0,
            "s" => value,
            "m" => value * 60.0,
            "h" => value * 3600.0,
            "" => {
                return Err(format!(
                    "\"{s}\" has a number without a unit (units: ms, s, m, h)"
                ));
            }
            other => return Err(unknown_unit(text, other)),
        };
        total += secs;
        rest = &rest[unit_len..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| format!("\"{s}\" is out of range"))
}

fn unknown_unit(text: &str, unit: &str) -> String {
    let lower = unit.to_ascii_lowercase();
    let aliases = [
        ("milli", "ms"),
        ("msec", "ms"),
        ("sec", "s"),
        ("min", "m"),
        ("hour", "h"),
        ("hr", "h"),
    ];
    // "5S", "1H", "100MS": a unit in capitals is the same unit.
    let hint = ["ms", "s", "m", "h"]
        .into_iter()
        .find(|u| *u == lower)
        .or_else(|| {
            aliases
                .iter()
                .find(|(prefix, _)| lower.starts_with(prefix))
                .map(|(_, u)| *u)
        });
    let number: String = text
        .trim()
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let text = text.trim();
    match hint {
        Some(u) if !number.is_empty() => {
            format!(
                "\"{text}\" has an unknown unit \"{unit}\"; write \"{number}{u}\" (units: ms, s, m, h)"
            )
        }
        _ => format!("\"{text}\" has an unknown unit \"{unit}\" (units: ms, s, m, h)"),
    }
}

/// Parses a think time: a duration, or a range `"1s..3s"`.
pub fn parse_wait(text: &str) -> Result<Wait, String> {
    if let Some((a, b)) = text.split_once("..") {
        let lo = parse_duration(a).map_err(|e| format!("range start {e}"))?;
        let hi = parse_duration(b).map_err(|e| format!("range end {e}"))?;
        if hi < lo {
            return Err(format!("\"{text}\": the range end is below its start"));
        }
        return Ok(if hi == lo {
            constant(lo)
        } else {
            Wait::Uniform(lo, hi)
        });
    }
    match parse_duration(text) {
        Ok(d) => Ok(constant(d)),
        Err(e) => {
            for sep in ["-", "...", " to ", ","] {
                if let Some((a, b)) = text.split_once(sep)
                    && parse_duration(a).is_ok()
                    && parse_duration(b).is_ok()
                {
                    let hint = format!("{}..{}", a.trim(), b.trim());
                    return Err(format!(
                        "\"{text}\" is neither a duration nor a range; write \"{hint}\""
                    ));
                }
            }
            Err(e)
        }
    }
}

fn constant(d: Duration) -> Wait {
    if d.is_zero() {
        Wait::None
    } else {
        Wait::Constant(d)
    }
}

/// Short human form: `1h30m`, `2m`, `1.5s`, `250ms`.
pub fn format_duration(d: Duration) -> String {
    let ms = d.as_millis();
    if ms == 0 && !d.is_zero() {
        return format!("{}us", d.as_micros());
    }
    if ms < 1000 {
        return format!("{ms}ms");
    }
    if !ms.is_multiple_of(1000) {
        return format!("{}s", d.as_secs_f64());
    }
    let secs = d.as_secs();
    let (h, m, s) = (secs / 3600, secs / 60 % 60, secs % 60);
    let mut out = String::new();
    if h > 0 {
        out += &format!("{h}h");
    }
    if m > 0 {
        out += &format!("{m}m");
    }
    if s > 0 || out.is_empty() {
        out += &format!("{s}s");
    }
    out
}

/// Parses an arrival rate: `"200/s"`, `"90/m"`, `"10/h"`, or a bare number per second.
/// Returns iterations per second, always finite and >= 0.
pub fn parse_rate(text: &str) -> Result<f64, String> {
    let compact: String = text.chars().filter(|c| !c.is_whitespace()).collect();
    let (number, per) = match compact.split_once('/') {
        Some((n, unit)) => {
            let per = match unit {
                "s" | "1s" | "sec" => 1.0,
                "m" | "1m" | "min" => 60.0,
                "h" | "1h" => 3600.0,
                _ => {
                    return Err(format!(
                        "\"{text}\" has an unknown unit \"/{unit}\"; write e.g. \"200/s\" or \"90/m\""
                    ));
                }
            };
            (n, per)
        }
        None => (compact.as_str(), 1.0),
    };
    match number.parse::<f64>() {
        Ok(n) if n >= 0.0 && n.is_finite() => {
            check_rate(n / per).map_err(|m| format!("\"{text}\" {m}"))
        }
        _ => Err(format!(
            "\"{text}\" is not a rate; write iterations per time unit, e.g. \"200/s\" or \"90/m\""
        )),
    }
}

/// The highest arrival rate swarm schedules, iterations a second (a distributed run's
/// workers share it). The open model's queue holds at most a second of iterations at this
/// rate, and one core sends in the order of 100 000 requests a second (BENCHMARKS.md), so
/// a higher rate would only measure dropped iterations.
pub(crate) const MAX_ARRIVAL_RATE: f64 = 1_000_000.0;

/// The lowest arrival rate above zero: one iteration an hour (a lower one would start
/// nothing in any run that can be watched, and reads as 0/s).
const MIN_ARRIVAL_RATE: f64 = 1.0 / 3600.0;

/// A rate in iterations a second within what can be scheduled (0 is allowed: rate stages
/// ramp up from it).
pub(crate) fn check_rate(per_sec: f64) -> Result<f64, String> {
    if per_sec > MAX_ARRIVAL_RATE {
        return Err(format!(
            "is {} iterations a second, above the 1000000/s swarm can schedule (its open-model queue holds one second of them, and one core sends about 100 000 requests a second); split a higher rate over more machines, each with its own swarm run",
            format_count(per_sec)
        ));
    }
    if per_sec > 0.0 && per_sec < MIN_ARRIVAL_RATE * (1.0 - 1e-9) {
        return Err("is less than one iteration an hour; give at least \"1/h\" (or 0 as the start of rate stages)".into());
    }
    Ok(per_sec)
}

/// A large number as a person reads it: 1e10 as 10000000000, 1e300 as 1e300.
fn format_count(n: f64) -> String {
    if n < 1e15 {
        format!("{n:.0}")
    } else {
        format!("{n:e}")
    }
}

/// Formats a rate in iterations per second: `"200/s"`, `"0.5/s"`.
/// A rate below what three decimals per second show is given per minute or per hour
/// (`"1/h"`, not `"0/s"`).
pub fn format_rate(per_sec: f64) -> String {
    for (per, unit) in [(1.0, "s"), (60.0, "m")] {
        let v = per_sec * per;
        let r = (v * 1000.0).round() / 1000.0;
        if (r - v).abs() <= v * 0.01 {
            return format!("{r}/{unit}");
        }
    }
    let r = (per_sec * 3600.0 * 1000.0).round() / 1000.0;
    format!("{r}/h")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates() {
        assert_eq!(parse_rate("200/s"), Ok(200.0));
        assert_eq!(parse_rate("120/m"), Ok(2.0));
        assert_eq!(parse_rate("36 / h"), Ok(0.01));
        assert_eq!(parse_rate("50"), Ok(50.0));
        assert!(parse_rate("fast").unwrap_err().contains("200/s"));
        assert!(parse_rate("5/d").unwrap_err().contains("unknown unit"));
        assert!(parse_rate("-5/s").is_err());
        assert_eq!(format_rate(2.0), "2/s");
        assert_eq!(format_rate(0.5), "0.5/s");
        assert_eq!(format_rate(0.0), "0/s");
        assert_eq!(format_rate(1.0 / 3600.0), "1/h");
        assert_eq!(format_rate(0.05), "0.05/s");
        assert_eq!(format_rate(0.0005), "0.03/m");
        assert_eq!(parse_rate(&format_rate(1.0 / 3600.0)), Ok(1.0 / 3600.0));
        assert_eq!(parse_rate("1000000/s"), Ok(1e6));
        for absurd in ["1e10/s", "1e300/s", "1000001"] {
            let e = parse_rate(absurd).unwrap_err();
            assert!(e.contains("above the 1000000/s swarm can schedule"), "{e}");
        }
        let e = parse_rate("0.0000000000000001/h").unwrap_err();
        assert!(e.contains("less than one iteration an hour"), "{e}");
    }

    #[test]
    fn durations() {
        assert_eq!(parse_duration("90s"), Ok(Duration::from_secs(90)));
        assert_eq!(parse_duration("1h30m"), Ok(Duration::from_secs(5400)));
        assert_eq!(parse_duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(parse_duration("1.5s"), Ok(Duration::from_millis(1500)));
        assert!(parse_duration("30").unwrap_err().contains("\"30s\""));
        assert!(parse_duration("3 days").is_err());
        assert!(parse_duration("5x").unwrap_err().contains("unknown unit"));
        // A unit in capitals is named in lower case; "inf" is no number to add a unit to.
        for (typed, hint) in [("5S", "\"5s\""), ("100MS", "\"100ms\""), ("1H", "\"1h\"")] {
            let e = parse_duration(typed).unwrap_err();
            assert!(e.contains(&format!("write {hint}")), "{e}");
        }
        assert!(!parse_duration("inf").unwrap_err().contains("infs"));
    }

    #[test]
    fn waits() {
        let s = Duration::from_secs;
        assert_eq!(parse_wait("1s..3s"), Ok(Wait::Uniform(s(1), s(3))));
        assert_eq!(parse_wait("0s"), Ok(Wait::None));
        assert_eq!(parse_wait("2s"), Ok(Wait::Constant(s(2))));
        let err = parse_wait("1s-3s").unwrap_err();
        assert_eq!(
            err,
            "\"1s-3s\" is neither a duration nor a range; write \"1s..3s\""
        );
        assert!(parse_wait("3s..1s").is_err());
        let w = Wait::Uniform(s(1), s(3));
        assert_eq!(w.sample(0.5), s(2));
    }

    #[test]
    fn formats() {
        assert_eq!(format_duration(Duration::from_secs(5400)), "1h30m");
        assert_eq!(format_duration(Duration::from_millis(250)), "250ms");
        assert_eq!(format_duration(Duration::from_millis(1500)), "1.5s");
        assert_eq!(format_duration(Duration::ZERO), "0ms");
    }
}
