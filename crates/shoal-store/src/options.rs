//! Store settings: `--store-opt key=value` pairs and the process-wide
//! configuration every [`crate::Store::open`] uses.
//!
//! Object-store settings (endpoint, region, credentials) are per process,
//! like the `AWS_*` environment variables they extend: a worker opens its
//! shared store and its job's input URLs with the same settings, and no
//! credential ever travels inside job parameters or through Redis.
//!
//! Keys are the backend's own configuration keys (`endpoint`, `region`,
//! `access_key_id`, `secret_access_key`, `allow_http`,
//! `virtual_hosted_style_request`, `timeout`, …; see `object_store`'s
//! `AmazonS3ConfigKey`, `GoogleConfigKey`, `AzureConfigKey`) plus Shoal's
//! own, which apply to every object store:
//!
//! | key | meaning | default |
//! | --- | --- | --- |
//! | `max_concurrency` | requests in flight per bucket | 32 |
//! | `max_retries` | retries of a failed request | 3 |
//! | `retry_timeout` | give up retrying after this long | 15s |
//! | `multipart_threshold` | uploads larger than this go in parts | 64MiB |

use std::fmt;
use std::sync::RwLock;
use std::time::Duration;

use crate::StoreError;

/// Settings applied when opening object stores. Values of secret keys are
/// never printed: `Debug` and `Display` show `***` instead.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct StoreOptions {
    pairs: Vec<(String, String)>,
}

/// Shoal's own tuning, parsed from the reserved keys of [`StoreOptions`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Tuning {
    pub(crate) max_concurrency: usize,
    pub(crate) max_retries: usize,
    pub(crate) retry_timeout: Duration,
    pub(crate) multipart_threshold: u64,
}

impl Default for Tuning {
    fn default() -> Self {
        Tuning {
            max_concurrency: 32,
            max_retries: 3,
            retry_timeout: Duration::from_secs(15),
            multipart_threshold: 64 << 20,
        }
    }
}

/// Keys handled by Shoal itself rather than the backend.
const SHOAL_KEYS: [&str; 4] = [
    "max_concurrency",
    "max_retries",
    "retry_timeout",
    "multipart_threshold",
];

impl StoreOptions {
    /// No settings: environment variables and defaults only.
    pub fn new() -> StoreOptions {
        StoreOptions::default()
    }

    /// Parses `key=value` entries (as given to `--store-opt`). Keys are
    /// case-insensitive; a later entry overrides an earlier one.
    pub fn parse<S: AsRef<str>>(entries: &[S]) -> Result<StoreOptions, StoreError> {
        let mut options = StoreOptions::new();
        for (i, entry) in entries.iter().enumerate() {
            // The entry itself is not echoed: it may be a mistyped secret.
            let Some((key, value)) = entry.as_ref().split_once('=') else {
                return Err(StoreError::InvalidOption {
                    key: format!("(entry {} has no '=')", i + 1),
                    reason: "expected key=value, e.g. endpoint=http://127.0.0.1:9000".to_string(),
                });
            };
            let key = key.trim().to_ascii_lowercase();
            if key.is_empty() {
                return Err(StoreError::InvalidOption {
                    key,
                    reason: "empty key".to_string(),
                });
            }
            options.set(&key, value.trim());
        }
        options.tuning()?;
        Ok(options)
    }

    /// Sets `key` to `value`, replacing an earlier value.
    pub fn set(&mut self, key: &str, value: &str) {
        let key = key.to_ascii_lowercase();
        match self.pairs.iter_mut().find(|(k, _)| *k == key) {
            Some((_, old)) => *old = value.to_string(),
            None => self.pairs.push((key, value.to_string())),
        }
    }

    /// The value of `key`, if set.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.pairs
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(key))
            .map(|(_, v)| v.as_str())
    }

    /// Identifies these settings for the client cache: raw values, since
    /// two secrets must never share a client. Never printed.
    pub(crate) fn cache_key(&self) -> String {
        let mut pairs: Vec<_> = self.pairs.iter().collect();
        pairs.sort();
        pairs
            .iter()
            .map(|(k, v)| format!("{k}\u{0}{v}\u{0}"))
            .collect()
    }

    /// The settings meant for the backend, in the order given.
    pub(crate) fn backend_pairs(&self) -> impl Iterator<Item = (&str, &str)> {
        self.pairs
            .iter()
            .filter(|(k, _)| !SHOAL_KEYS.contains(&k.as_str()))
            .map(|(k, v)| (k.as_str(), v.as_str()))
    }

    /// Shoal's own settings, validated.
    pub(crate) fn tuning(&self) -> Result<Tuning, StoreError> {
        let mut tuning = Tuning::default();
        let bad = |key: &str, reason: &str| StoreError::InvalidOption {
            key: key.to_string(),
            reason: reason.to_string(),
        };
        if let Some(v) = self.get("max_concurrency") {
            tuning.max_concurrency = v
                .parse()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| bad("max_concurrency", "expected a positive integer"))?;
        }
        if let Some(v) = self.get("max_retries") {
            tuning.max_retries = v
                .parse()
                .map_err(|_| bad("max_retries", "expected a non-negative integer"))?;
        }
        if let Some(v) = self.get("retry_timeout") {
            tuning.retry_timeout = parse_duration(v)
                .ok_or_else(|| bad("retry_timeout", "expected a duration such as 15s or 500ms"))?;
        }
        if let Some(v) = self.get("multipart_threshold") {
            tuning.multipart_threshold = parse_size(v)
                .filter(|n| *n >= 5 << 20)
                .ok_or_else(|| bad("multipart_threshold", "expected a size of at least 5MiB"))?;
        }
        Ok(tuning)
    }
}

/// `15s`, `500ms`, `2m` or plain seconds.
fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    if let Some(ms) = text.strip_suffix("ms") {
        return ms.trim().parse().ok().map(Duration::from_millis);
    }
    if let Some(m) = text.strip_suffix('m') {
        return m
            .trim()
            .parse::<u64>()
            .ok()
            .map(|m| Duration::from_secs(m * 60));
    }
    let s = text.strip_suffix('s').unwrap_or(text);
    s.trim()
        .parse::<f64>()
        .ok()
        .filter(|s| s.is_finite() && *s >= 0.0)
        .map(Duration::from_secs_f64)
}

/// `64MiB`, `8MB`, `1GiB` or plain bytes.
fn parse_size(text: &str) -> Option<u64> {
    let text = text.trim();
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let factor: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "k" | "kb" | "kib" => 1 << 10,
        "m" | "mb" | "mib" => 1 << 20,
        "g" | "gb" | "gib" => 1 << 30,
        _ => return None,
    };
    number.parse::<u64>().ok()?.checked_mul(factor)
}

/// Whether the value of `key` must never be shown.
pub(crate) fn is_secret(key: &str) -> bool {
    let key = key.to_ascii_lowercase();
    ["secret", "token", "password", "key", "sas", "credential"]
        .iter()
        .any(|word| key.contains(word))
}

impl fmt::Display for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, (key, value)) in self.pairs.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            if is_secret(key) {
                write!(f, "{key}=***")?;
            } else {
                write!(f, "{key}={value}")?;
            }
        }
        Ok(())
    }
}

impl fmt::Debug for StoreOptions {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "StoreOptions({self})")
    }
}

static GLOBAL: RwLock<Option<StoreOptions>> = RwLock::new(None);

/// Sets the options every later [`crate::Store::open`] in this process
/// uses (the CLI calls it once with `--store-opt`). Stores opened before
/// keep their settings.
pub fn configure(options: StoreOptions) {
    *GLOBAL.write().unwrap_or_else(|p| p.into_inner()) = Some(options);
}

/// The options set by [`configure`] (empty when never called).
pub fn configured() -> StoreOptions {
    GLOBAL
        .read()
        .unwrap_or_else(|p| p.into_inner())
        .clone()
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_pairs_and_later_ones_win() {
        let opts = StoreOptions::parse(&["Endpoint=http://x:1", "region=eu", "REGION=us"]).unwrap();
        assert_eq!(opts.get("endpoint"), Some("http://x:1"));
        assert_eq!(opts.get("region"), Some("us"));
        assert!(StoreOptions::parse(&["novalue"]).is_err());
        assert!(StoreOptions::parse(&["=x"]).is_err());
    }

    #[test]
    fn secrets_are_never_displayed() {
        let opts = StoreOptions::parse(&[
            "secret_access_key=hunter2",
            "access_key_id=AKIAXYZ",
            "session_token=tok",
            "region=us-east-1",
        ])
        .unwrap();
        let shown = format!("{opts} {opts:?}");
        for secret in ["hunter2", "AKIAXYZ", "tok "] {
            assert!(!shown.contains(secret), "{shown}");
        }
        assert!(shown.contains("region=us-east-1"), "{shown}");
    }

    #[test]
    fn tuning_keys_are_validated() {
        let opts = StoreOptions::parse(&[
            "max_concurrency=4",
            "retry_timeout=500ms",
            "multipart_threshold=8MiB",
            "max_retries=0",
        ])
        .unwrap();
        let tuning = opts.tuning().unwrap();
        assert_eq!(tuning.max_concurrency, 4);
        assert_eq!(tuning.retry_timeout, Duration::from_millis(500));
        assert_eq!(tuning.multipart_threshold, 8 << 20);
        assert_eq!(tuning.max_retries, 0);
        assert_eq!(opts.backend_pairs().count(), 0);
        for bad in [
            "max_concurrency=0",
            "retry_timeout=soon",
            "multipart_threshold=1MiB",
            "max_retries=-1",
        ] {
            assert!(StoreOptions::parse(&[bad]).is_err(), "{bad}");
        }
    }
}
