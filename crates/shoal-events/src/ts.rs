//! Timestamp parsing: integer epochs in a unit, or RFC 3339 text.
//!
//! Hand-rolled because it runs once per row on the hot path: an integer is
//! a tight digit loop, RFC 3339 a fixed-position scan.

use crate::options::TsUnit;

/// Parses a timestamp field: an integer epoch in `unit` (optional leading
/// `-`), or RFC 3339 text whatever the unit. Returns epoch milliseconds;
/// `None` when unparsable or out of range.
pub fn parse_ts_ms(text: &str, unit: TsUnit) -> Option<i64> {
    let bytes = text.as_bytes();
    match parse_int(bytes) {
        Some(v) => unit.to_ms(v),
        None => parse_rfc3339_ms(text),
    }
}

/// Integer with optional sign, at most 19 digits; `None` otherwise.
pub(crate) fn parse_int(bytes: &[u8]) -> Option<i64> {
    let (neg, digits) = match bytes.first() {
        Some(b'-') => (true, &bytes[1..]),
        Some(b'+') => (false, &bytes[1..]),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 19 {
        return None;
    }
    let mut v: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        v = v.checked_mul(10)?.checked_add(i64::from(d))?;
    }
    Some(if neg { -v } else { v })
}

/// Parses RFC 3339 (`2026-01-01T00:00:00.123Z`, `+02:00` offsets, any
/// fraction length; `t`/space separators and `z` accepted) to epoch
/// milliseconds, truncating finer precision toward negative infinity.
pub fn parse_rfc3339_ms(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    if b.len() < 20 {
        return None;
    }
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b[4] != b'-' || b[7] != b'-' || !matches!(b[10], b'T' | b't' | b' ') {
        return None;
    }
    if b[13] != b':' || b[16] != b':' {
        return None;
    }
    if !(1..=12).contains(&month) || day < 1 || day > days_in_month(year, month) {
        return None;
    }
    // 60 is a leap second: it counts as the next minute's first second.
    if hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    let mut pos = 19;
    let mut millis = 0i64;
    if b.get(pos) == Some(&b'.') {
        pos += 1;
        let start = pos;
        while pos < b.len() && b[pos].is_ascii_digit() {
            if pos - start < 3 {
                millis = millis * 10 + i64::from(b[pos] - b'0');
            }
            pos += 1;
        }
        let n = pos - start;
        if n == 0 {
            return None;
        }
        for _ in n..3 {
            millis *= 10;
        }
    }
    let offset_s = parse_offset(&b[pos..])?;
    let days = days_from_civil(year, month, day);
    let secs = days * 86_400 + hour * 3_600 + minute * 60 + second - offset_s;
    Some(secs * 1000 + millis)
}

/// `Z`, `z` or `±HH:MM` exactly, as seconds east of UTC.
fn parse_offset(b: &[u8]) -> Option<i64> {
    match b {
        [b'Z'] | [b'z'] => Some(0),
        [sign @ (b'+' | b'-'), ..] if b.len() == 6 && b[3] == b':' => {
            let h = digits(b, 1, 2)?;
            let m = digits(b, 4, 2)?;
            if h > 23 || m > 59 {
                return None;
            }
            let s = h * 3_600 + m * 60;
            Some(if *sign == b'-' { -s } else { s })
        }
        _ => None,
    }
}

fn digits(b: &[u8], at: usize, len: usize) -> Option<i64> {
    let mut v = 0i64;
    for &c in b.get(at..at + len)? {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + i64::from(c - b'0');
    }
    Some(v)
}

fn is_leap(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`).
pub(crate) fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn integers_in_each_unit() {
        assert_eq!(
            parse_ts_ms("1767225600123", TsUnit::Ms),
            Some(1_767_225_600_123)
        );
        assert_eq!(
            parse_ts_ms("1767225600", TsUnit::S),
            Some(1_767_225_600_000)
        );
        assert_eq!(
            parse_ts_ms("1767225600123999", TsUnit::Us),
            Some(1_767_225_600_123)
        );
        assert_eq!(
            parse_ts_ms("1767225600123999999", TsUnit::Ns),
            Some(1_767_225_600_123)
        );
        assert_eq!(parse_ts_ms("-1", TsUnit::Us), Some(-1));
        assert_eq!(parse_ts_ms("-1500", TsUnit::Us), Some(-2));
        assert_eq!(parse_ts_ms("99999999999999999", TsUnit::S), None);
        assert_eq!(parse_ts_ms("99999999999999999999", TsUnit::Ms), None);
        assert_eq!(parse_ts_ms("", TsUnit::Ms), None);
        assert_eq!(parse_ts_ms("-", TsUnit::Ms), None);
        assert_eq!(parse_ts_ms("12a", TsUnit::Ms), None);
        assert_eq!(parse_ts_ms(" 12", TsUnit::Ms), None);
    }

    #[test]
    fn rfc3339_forms() {
        let base = 1_767_225_600_000;
        assert_eq!(parse_rfc3339_ms("2026-01-01T00:00:00Z"), Some(base));
        assert_eq!(
            parse_rfc3339_ms("2026-01-01T00:00:00.123Z"),
            Some(base + 123)
        );
        assert_eq!(parse_rfc3339_ms("2026-01-01T00:00:00.1Z"), Some(base + 100));
        assert_eq!(
            parse_rfc3339_ms("2026-01-01T00:00:00.123987654Z"),
            Some(base + 123)
        );
        assert_eq!(parse_rfc3339_ms("2026-01-01t00:00:00z"), Some(base));
        assert_eq!(parse_rfc3339_ms("2026-01-01 00:00:00Z"), Some(base));
        assert_eq!(parse_rfc3339_ms("2026-01-01T02:00:00+02:00"), Some(base));
        assert_eq!(
            parse_rfc3339_ms("2025-12-31T19:30:00.5-04:30"),
            Some(base + 500)
        );
        assert_eq!(parse_rfc3339_ms("1969-12-31T23:59:59.999Z"), Some(-1));
        assert_eq!(
            parse_rfc3339_ms("2024-02-29T00:00:00Z"),
            Some(1_709_164_800_000)
        );
        assert_eq!(
            parse_rfc3339_ms("2026-12-31T23:59:60Z"),
            Some(1_798_761_600_000)
        );
        // Any unit: RFC 3339 ignores it.
        assert_eq!(parse_ts_ms("2026-01-01T00:00:00Z", TsUnit::S), Some(base));
    }

    #[test]
    fn rfc3339_rejects() {
        for bad in [
            "2026-01-01T00:00:00",
            "2026-01-01",
            "2026-13-01T00:00:00Z",
            "2025-02-29T00:00:00Z",
            "2026-01-32T00:00:00Z",
            "2026-01-01T24:00:00Z",
            "2026-01-01T00:00:00.Z",
            "2026-01-01T00:00:00+0200",
            "2026-01-01T00:00:00Z ",
            "2026/01/01T00:00:00Z",
            "2026-01-01T00:00:00.12é",
        ] {
            assert_eq!(parse_rfc3339_ms(bad), None, "{bad}");
        }
    }
}
