//! UTC calendar dates as day numbers.
//!
//! The report groups by UTC date; a day number (days since 1970-01-01,
//! negative before) is cheap to compute per event and to merge, and only
//! becomes `YYYY-MM-DD` text when the report is written.

/// Milliseconds in one UTC day.
pub const MS_PER_DAY: i64 = 86_400_000;

/// The UTC day number of an epoch-milliseconds timestamp (floor division,
/// so instants before 1970 land on the right date too).
#[inline]
pub fn day_of(ts_ms: i64) -> i32 {
    ts_ms.div_euclid(MS_PER_DAY) as i32
}

/// Formats a day number as `YYYY-MM-DD` (proleptic Gregorian calendar).
pub fn format_day(day: i32) -> String {
    let (y, m, d) = civil_from_days(i64::from(day));
    if (0..=9999).contains(&y) {
        format!("{y:04}-{m:02}-{d:02}")
    } else {
        // Outside four-digit years RFC 3339 has no form; keep the sign visible.
        format!("{y:+}-{m:02}-{d:02}")
    }
}

/// Parses `YYYY-MM-DD` (as written by [`format_day`]) back to a day number.
pub fn parse_day(text: &str) -> Option<i32> {
    // Years outside 0..=9999 carry a sign (see `format_day`).
    let (sign, rest) = match text.as_bytes().first() {
        Some(b'-') => (-1, &text[1..]),
        Some(b'+') => (1, &text[1..]),
        _ => (1, text),
    };
    let mut parts = rest.splitn(3, '-');
    let y: i64 = sign * parts.next()?.parse::<i64>().ok()?;
    let m: i64 = parts.next()?.parse().ok()?;
    let d: i64 = parts.next()?.parse().ok()?;
    if !(1..=12).contains(&m) || !(1..=31).contains(&d) {
        return None;
    }
    // Howard Hinnant's `days_from_civil`.
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    i32::try_from(era * 146_097 + doe - 719_468).ok()
}

/// Howard Hinnant's `civil_from_days`: exact for every day number.
fn civil_from_days(z: i64) -> (i64, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let m = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let y = yoe + era * 400 + i64::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(day_of(1_767_225_600_000)), "2026-01-01");
        assert_eq!(format_day(day_of(1_709_164_800_000)), "2024-02-29");
    }

    #[test]
    fn last_millisecond_of_a_day_stays_on_it() {
        let midnight = 1_767_225_600_000;
        assert_eq!(format_day(day_of(midnight - 1)), "2025-12-31");
        assert_eq!(format_day(day_of(midnight)), "2026-01-01");
    }

    #[test]
    fn parse_inverts_format() {
        for day in [-800_000, -1, 0, 1, 19_723, 20_454, 2_000_000] {
            assert_eq!(parse_day(&format_day(day)), Some(day), "{day}");
        }
        assert_eq!(parse_day("2026-13-01"), None);
        assert_eq!(parse_day("soon"), None);
    }

    #[test]
    fn before_epoch_floors() {
        assert_eq!(day_of(-1), -1);
        assert_eq!(format_day(-1), "1969-12-31");
    }
}
