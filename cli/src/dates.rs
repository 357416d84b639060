//! Dates as people read and type them: UTC, `YYYY-MM-DD HH:MM`.

/// A time in ms since the epoch as `YYYY-MM-DD HH:MM` (UTC).
pub fn when(ms: i64) -> String {
    if ms <= 0 {
        return "never".into();
    }
    let secs = ms / 1000;
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02} {:02}:{:02}", rem / 3600, rem % 3600 / 60)
}

/// Days since 1970-01-01 to a (year, month, day) date (Howard Hinnant's algorithm).
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let y = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    (if m <= 2 { y + 1 } else { y }, m, d)
}

/// Days since 1970-01-01 of a (year, month, day) date, if it is one.
fn days_from_civil(y: i64, m: u32, d: u32) -> Option<i64> {
    let leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
    let month_days = [
        31,
        if leap { 29 } else { 28 },
        31,
        30,
        31,
        30,
        31,
        31,
        30,
        31,
        30,
        31,
    ];
    if !(1..=12).contains(&m) || d == 0 || d > month_days[(m - 1) as usize] {
        return None;
    }
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = i64::from(if m > 2 { m - 3 } else { m + 9 });
    let doy = (153 * mp + 2) / 5 + i64::from(d) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    Some(era * 146_097 + doe - 719_468)
}

/// `--since`: a date (`2026-11-01`, midnight UTC) or a time ago (`30m`,
/// `12h`, `7d`, `4w`), in microseconds since the epoch.
pub fn since_us(text: &str) -> Option<i64> {
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_micros() as i64)
        .unwrap_or(0);
    since_us_at(text, now)
}

/// [`since_us`] as of `now_us`.
pub fn since_us_at(text: &str, now_us: i64) -> Option<i64> {
    let text = text.trim();
    let mut parts = text.splitn(3, '-');
    if let (Some(y), Some(m), Some(d)) = (parts.next(), parts.next(), parts.next()) {
        let days = days_from_civil(y.parse().ok()?, m.parse().ok()?, d.parse().ok()?)?;
        return Some(days * 86_400_000_000);
    }
    let unit = text.chars().last()?;
    let count: i64 = text[..text.len() - unit.len_utf8()].parse().ok()?;
    let seconds = match unit {
        'm' => 60,
        'h' => 3600,
        'd' => 86_400,
        'w' => 7 * 86_400,
        _ => return None,
    };
    Some(now_us - count.checked_mul(seconds)?.checked_mul(1_000_000)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates() {
        assert_eq!(when(0), "never");
        assert_eq!(when(1_700_000_000_000), "2023-11-14 22:13");
        assert_eq!(when(951_782_400_000), "2000-02-29 00:00");
    }

    #[test]
    fn since_takes_dates_and_ages() {
        let now = 1_800_000_000_000_000;
        assert_eq!(since_us_at("7d", now), Some(now - 7 * 86_400_000_000));
        assert_eq!(since_us_at("30m", now), Some(now - 30 * 60_000_000));
        assert_eq!(since_us_at("2000-02-29", now), Some(951_782_400_000_000));
        assert_eq!(since_us_at("1970-01-01", now), Some(0));
        assert_eq!(since_us_at("yesterday", now), None);
        assert_eq!(since_us_at("2000-13-01", now), None);
        assert_eq!(since_us_at("2001-02-29", now), None);
    }
}
