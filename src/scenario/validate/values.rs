//! Typed values with their messages: integers, numbers, sizes, durations, strings, tags.

use super::*;

/// "64MB" -> bytes (KB, MB, GB are powers of 1024; a plain number is bytes).
fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim();
    let split = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    let (digits, unit) = s.split_at(split);
    let n: u64 = digits.parse().ok().filter(|n| *n > 0)?;
    let shift = match unit.trim().to_ascii_uppercase().as_str() {
        "" | "B" => 0,
        "KB" | "K" => 10,
        "MB" | "M" => 20,
        "GB" | "G" => 30,
        _ => return None,
    };
    n.checked_mul(1 << shift)
}

impl Validator<'_> {
    pub(super) fn integer(&self, v: &SpannedValue, key: &str, min: i64) -> Result<i64> {
        match v.get_ref() {
            Value::Integer(n) if *n >= min && *n <= i64::from(u32::MAX) => Ok(*n),
            Value::Integer(n) => Err(self.err(
                v.span(),
                key,
                format!("{n} is out of range; write a whole number >= {min}"),
            )),
            other => Err(self.err(
                v.span(),
                key,
                format!("{other} is not a whole number; write a whole number >= {min}"),
            )),
        }
    }

    pub(super) fn positive_number(&self, v: &SpannedValue, key: &str) -> Result<f64> {
        let n = match v.get_ref() {
            Value::Integer(n) => *n as f64,
            Value::Float(f) => *f,
            other => {
                return Err(self.err(
                    v.span(),
                    key,
                    format!("{other} is not a number; write e.g. 10 or 0.5"),
                ));
            }
        };
        if n > 0.0 && n.is_finite() {
            Ok(n)
        } else {
            Err(self.err(
                v.span(),
                key,
                format!("{n} must be above 0; write e.g. 10 or 0.5"),
            ))
        }
    }

    /// `tags = ["checkout", "slow"]`: words without commas (the flags separate by them).
    pub(super) fn tags(&self, v: Option<&SpannedValue>, key: &str) -> Result<Vec<String>> {
        let Some(v) = v else {
            return Ok(Vec::new());
        };
        let bad = |what: String| self.err(v.span(), key, what);
        let Value::Array(items) = v.get_ref() else {
            return Err(bad(format!(
                "{} is not a list of tags; write e.g. tags = [\"checkout\", \"slow\"]",
                v.get_ref()
            )));
        };
        items
            .iter()
            .map(|item| match item {
                Value::String(t) if !t.trim().is_empty() && !t.contains(',') => {
                    Ok(t.trim().to_string())
                }
                Value::String(t) if t.contains(',') => Err(bad(format!(
                    "\"{t}\" holds a comma; give each tag as its own string, e.g. [\"a\", \"b\"]"
                ))),
                other => Err(bad(format!(
                    "{other} is not a tag; tags are non-empty strings, e.g. \"checkout\""
                ))),
            })
            .collect()
    }

    /// A size: a whole number of bytes, or text such as "64MB", "512KB", "2GB".
    pub(super) fn size(&self, v: &SpannedValue, key: &str) -> Result<u64> {
        let bad = || {
            self.err(
                v.span(),
                key,
                format!(
                    "{} is not a size; write e.g. \"64MB\", \"512KB\" or \"2GB\"",
                    v.get_ref()
                ),
            )
        };
        let n = match v.get_ref() {
            Value::Integer(n) if *n > 0 => *n as u64,
            Value::String(s) => parse_size(s).ok_or_else(bad)?,
            _ => return Err(bad()),
        };
        Ok(n)
    }

    /// A duration above zero (a timeout or a run time of 0s would end everything at once).
    pub(super) fn positive_duration(&self, v: &SpannedValue, key: &str) -> Result<Duration> {
        let d = self.duration(v, key)?;
        if d.is_zero() {
            return Err(self.err(v.span(), key, "must be longer than 0s; write e.g. \"30s\""));
        }
        Ok(d)
    }

    pub(super) fn duration(&self, v: &SpannedValue, key: &str) -> Result<Duration> {
        let text = self.string(v, key, "\"30s\"")?;
        parse_duration(text).map_err(|m| self.err(v.span(), key, m))
    }

    pub(super) fn string<'v>(
        &self,
        v: &'v SpannedValue,
        key: &str,
        example: &str,
    ) -> Result<&'v str> {
        match v.get_ref() {
            Value::String(s) => Ok(s),
            Value::Integer(n) => Err(self.err(
                v.span(),
                key,
                format!("{n} needs a unit and quotes; write e.g. \"{n}s\""),
            )),
            other => Err(self.err(
                v.span(),
                key,
                format!("{other} is not a string; write e.g. {example}"),
            )),
        }
    }

    pub(super) fn scalar_text(&self, v: &SpannedValue, key: &str) -> Result<String> {
        scalar_of(v.get_ref())
            .ok_or_else(|| self.err(v.span(), key, "must be a string, number or boolean"))
    }
}

/// A string, number or boolean as the text it sends; None for anything else.
pub(super) fn scalar_of(v: &Value) -> Option<String> {
    match v {
        Value::String(s) => Some(s.clone()),
        Value::Integer(_) | Value::Float(_) | Value::Boolean(_) => Some(v.to_string()),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn sizes_read_in_powers_of_1024() {
        assert_eq!(super::parse_size("64MB"), Some(64 << 20));
        assert_eq!(super::parse_size("2 k"), Some(2048));
        assert_eq!(super::parse_size("10"), Some(10));
        assert_eq!(super::parse_size("0MB"), None);
        assert_eq!(super::parse_size("1TB"), None);
        assert_eq!(super::parse_size("99999999999999GB"), None);
    }
}
