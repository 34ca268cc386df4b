//! Number and text formatting shared by the reports, the TUI and the capacity search
//! (below all of them: it knows numbers, text and a statistics row, nothing else).

/// A time of a row, or "-" when the row has none: no request, or none that got a
/// response (every one cut at the stop), where 0.00 would read as a measurement.
pub(crate) fn ms_of(r: &crate::stats::RowStats, v: f64) -> String {
    if r.requests == 0 || (r.timed == 0 && r.max_ms == 0.0) {
        "-".into()
    } else {
        ms(v)
    }
}

/// "1 user", "2 users": a count and its noun, plural where English wants it.
pub(crate) fn plural(n: impl Into<u64>, noun: &str) -> String {
    let n = n.into();
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `a` as a shell word: single-quoted when it holds anything but plain characters.
pub fn shell_word(a: &str) -> String {
    let plain = !a.is_empty()
        && a.chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_./:=,@%+".contains(c));
    if plain {
        a.to_string()
    } else {
        format!("'{}'", a.replace('\'', r"'\''"))
    }
}

/// Milliseconds in at most five characters: `0.42`, `52.3`, `1234`, `123s`.
pub fn ms(v: f64) -> String {
    let s = if v < 10.0 {
        format!("{v:.2}")
    } else if v < 100.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    };
    if s.len() <= 5 {
        s
    } else {
        format!("{:.0}s", v / 1000.0)
    }
}

/// A rate: one decimal below 1000, whole numbers above.
pub fn rate(v: f64) -> String {
    if v < 1000.0 {
        format!("{v:.1}")
    } else {
        format!("{v:.0}")
    }
}

/// A count that fits `width`, shortened to k/M/G when it does not.
pub fn count(n: u64, width: usize) -> String {
    let s = n.to_string();
    if s.len() <= width {
        return s;
    }
    let (v, unit) = match n {
        0..1_000_000 => (n as f64 / 1e3, "k"),
        1_000_000..1_000_000_000 => (n as f64 / 1e6, "M"),
        _ => (n as f64 / 1e9, "G"),
    };
    format!("{v:.1}{unit}")
}

/// Failures with their share of requests: `12(0.5%)`.
pub fn fails(failures: u64, requests: u64) -> String {
    let pct = if requests == 0 {
        0.0
    } else {
        failures as f64 * 100.0 / requests as f64
    };
    let pct = if pct == 0.0 || pct >= 10.0 {
        format!("{pct:.0}")
    } else {
        format!("{pct:.1}")
    };
    format!("{}({pct}%)", count(failures, 6))
}

/// The columns `s` takes on a terminal: 2 for a CJK character or most emoji, 0 for a
/// combining mark.
pub fn width(s: &str) -> usize {
    unicode_width::UnicodeWidthStr::width(s)
}

fn char_width(c: char) -> usize {
    unicode_width::UnicodeWidthChar::width(c).unwrap_or(0)
}

/// `s` cut to `width` columns with a trailing `…` when wider; never wraps.
pub fn fit(s: &str, width: usize) -> String {
    if self::width(s) <= width {
        return s.to_string();
    }
    if width == 0 {
        return String::new();
    }
    let mut out = String::new();
    let mut used = 0;
    for c in s.chars() {
        let w = char_width(c);
        if used + w > width - 1 {
            break;
        }
        used += w;
        out.push(c);
    }
    out.push('…');
    out
}

/// A byte count in B, KB, MB or GB (powers of 1024), three significant figures.
pub fn bytes(b: f64) -> String {
    const UNITS: [&str; 4] = ["B", "KB", "MB", "GB"];
    let mut v = b.max(0.0);
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{v:.0} B")
    } else if v >= 100.0 {
        format!("{v:.0} {}", UNITS[unit])
    } else if v >= 10.0 {
        format!("{v:.1} {}", UNITS[unit])
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

/// `fit` padded with spaces to exactly `width` columns.
pub(crate) fn pad(s: &str, width: usize) -> String {
    let f = fit(s, width);
    let n = self::width(&f);
    f + &" ".repeat(width.saturating_sub(n))
}

/// Splits text into lines of at most `width` characters, at spaces where possible.
pub(crate) fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = vec![String::new()];
    for word in text.split(' ') {
        let line = lines.last_mut().expect("never empty");
        let needed = self::width(line) + usize::from(!line.is_empty()) + self::width(word);
        if needed > width && !line.is_empty() {
            lines.push(String::new());
        }
        let line = lines.last_mut().expect("never empty");
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
    }
    lines
        .into_iter()
        .flat_map(|l| split_long(&l, width))
        .collect()
}

/// Cuts a line with no spaces to break at into pieces of at most `width` columns.
fn split_long(line: &str, width: usize) -> Vec<String> {
    if self::width(line) <= width {
        return vec![line.to_string()];
    }
    let mut pieces = vec![String::new()];
    let mut used = 0;
    for c in line.chars() {
        let w = char_width(c);
        if used + w > width.max(1) && used > 0 {
            pieces.push(String::new());
            used = 0;
        }
        used += w;
        pieces.last_mut().expect("never empty").push(c);
    }
    pieces
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn byte_counts_read_in_units() {
        assert_eq!(bytes(512.0), "512 B");
        assert_eq!(bytes(1536.0), "1.50 KB");
        assert_eq!(bytes(12.5 * 1024.0 * 1024.0), "12.5 MB");
        assert_eq!(bytes(300.0 * 1024.0 * 1024.0 * 1024.0), "300 GB");
    }

    #[test]
    fn numbers_stay_narrow() {
        assert_eq!(ms(0.4213), "0.42");
        assert_eq!(ms(52.34), "52.3");
        assert_eq!(ms(1234.4), "1234");
        assert_eq!(ms(123456.0), "123s");
        assert_eq!(count(12_345_678, 7), "12.3M");
        assert_eq!(fails(5, 1000), "5(0.5%)");
        assert_eq!(fails(0, 0), "0(0%)");
        assert_eq!(fit("abcdef", 4), "abc…");
        assert_eq!(pad("ab", 4), "ab  ");
    }

    /// A CJK character or an emoji takes two columns: cut and padded by columns, a name
    /// in Japanese no longer pushes the rest of its row out of line.
    #[test]
    fn wide_characters_are_measured_in_columns() {
        assert_eq!(width("商品一覧"), 8);
        assert_eq!(fit("商品一覧を取得", 8), "商品一…");
        assert_eq!(width(&fit("商品一覧を取得", 8)), 7);
        assert_eq!(pad("商品一覧を取得", 8), "商品一… ");
        assert_eq!(width(&pad("🚀 go", 10)), 10);
        assert_eq!(pad("Zoë", 5), "Zoë  ");
        for line in wrap("一二三四五六七八九十", 6) {
            assert!(width(&line) <= 6, "{line}");
        }
    }
}
