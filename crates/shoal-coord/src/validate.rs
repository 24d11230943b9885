//! Input checks shared by both backends, so a bad name or TTL fails the
//! same way embedded and on Redis, before any work is done.

use std::time::Duration;

use crate::error::{CoordError, Result};

/// Longest accepted lock, counter or key name, in bytes. Keeps Redis keys
/// (prefix + name) small and error messages readable.
pub const MAX_NAME_BYTES: usize = 512;

/// Largest accepted value, in bytes. Redis allows 512 MiB but values this
/// large belong in the store, not in the coordination layer.
pub const MAX_VALUE_BYTES: usize = 64 * 1024 * 1024;

/// Checks a lock, counter or key name: non-empty, at most
/// [`MAX_NAME_BYTES`], no control characters (they make keys unprintable).
pub fn name(what: &'static str, value: &str) -> Result<()> {
    let reason = if value.is_empty() {
        "must not be empty"
    } else if value.len() > MAX_NAME_BYTES {
        "is longer than 512 bytes"
    } else if value.chars().any(char::is_control) {
        "must not contain control characters"
    } else {
        return Ok(());
    };
    Err(CoordError::InvalidName {
        what,
        value: shorten(value),
        reason,
    })
}

/// Checks a lease or key TTL: at least one millisecond (the servers' unit)
/// and at most about 24 days (Redis millisecond expiries fit in i32 range
/// for scripts comfortably; longer leases are a design smell).
pub fn ttl(what: &'static str, value: Duration) -> Result<()> {
    let reason = if value.is_zero() {
        "must be greater than zero"
    } else if value < Duration::from_millis(1) {
        "must be at least 1ms"
    } else if value > Duration::from_secs(i32::MAX as u64 / 1000) {
        "must be at most 24 days"
    } else {
        return Ok(());
    };
    Err(CoordError::InvalidDuration {
        what,
        value,
        reason,
    })
}

/// Checks a value's size against [`MAX_VALUE_BYTES`].
pub fn value(key: &str, len: usize) -> Result<()> {
    if len > MAX_VALUE_BYTES {
        return Err(CoordError::InvalidOption {
            what: "value size for key",
            value: format!("{} ({len} bytes)", shorten(key)),
            reason: "values are limited to 64 MiB",
        });
    }
    Ok(())
}

/// Whole milliseconds, rounded up so a sub-millisecond remainder never
/// shortens a lease.
pub fn millis(d: Duration) -> u64 {
    let ms = d.as_millis() as u64;
    if Duration::from_millis(ms) < d {
        ms + 1
    } else {
        ms
    }
}

/// Truncates a name for display so a 10 MB key does not flood a log line.
pub(crate) fn shorten(value: &str) -> String {
    const SHOWN: usize = 80;
    if value.chars().count() <= SHOWN {
        return value.to_owned();
    }
    let head: String = value.chars().take(SHOWN).collect();
    format!("{head}… ({} bytes)", value.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert!(name("lock name", "jobs/nightly").is_ok());
        let err = name("lock name", "").unwrap_err().to_string();
        assert_eq!(err, "invalid lock name \"\": must not be empty");
        let long = "x".repeat(513);
        let err = name("key", &long).unwrap_err().to_string();
        assert!(err.contains("longer than 512 bytes"), "{err}");
        assert!(err.contains("(513 bytes)"), "{err}");
        assert!(name("key", &"x".repeat(512)).is_ok());
        assert!(name("key", "a\nb").is_err());
    }

    #[test]
    fn ttls_are_checked() {
        assert!(ttl("lease TTL", Duration::from_secs(30)).is_ok());
        let err = ttl("lease TTL", Duration::ZERO).unwrap_err().to_string();
        assert_eq!(err, "invalid lease TTL 0ns: must be greater than zero");
        assert!(ttl("lease TTL", Duration::from_micros(10)).is_err());
        assert!(ttl("lease TTL", Duration::from_secs(30 * 86_400)).is_err());
    }

    #[test]
    fn millis_round_up() {
        assert_eq!(millis(Duration::from_micros(1500)), 2);
        assert_eq!(millis(Duration::from_millis(7)), 7);
    }
}
