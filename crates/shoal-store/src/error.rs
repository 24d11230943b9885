//! Typed storage errors: every one names the operation and the URL.

/// A storage operation failed.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The store URL cannot be used.
    #[error("invalid store URL '{url}': {reason}")]
    InvalidUrl {
        /// The URL as given (credentials redacted).
        url: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A `--store-opt` entry that cannot be used.
    #[error("invalid store option {key}: {reason}")]
    InvalidOption {
        /// The key at fault.
        key: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The URL needs a backend this build does not include.
    #[error(
        "{url}: this build of Shoal has no {service} support (rebuild with --features {feature})"
    )]
    NotBuilt {
        /// The URL as given.
        url: String,
        /// The service, e.g. `HDFS`.
        service: &'static str,
        /// The cargo feature that adds it.
        feature: &'static str,
    },
    /// The object does not exist.
    #[error("{op} {url}: not found")]
    NotFound {
        /// The operation, e.g. `get`.
        op: &'static str,
        /// The full object URL.
        url: String,
    },
    /// The backend reported an error. The message includes the backend's
    /// whole cause chain, each distinct message once (`object_store`'s
    /// messages already repeat their causes), so the error deliberately
    /// reports no `source()`: chain printers would repeat it again.
    #[error("{op} {url}: {}", describe(.error))]
    Backend {
        /// The operation, e.g. `put`.
        op: &'static str,
        /// The full object URL.
        url: String,
        /// The backend's error.
        error: object_store::Error,
    },
    /// A background transfer ended without a result (it panicked or the
    /// I/O runtime shut down).
    #[error("{op} {url}: interrupted: {reason}")]
    Interrupted {
        /// The operation, e.g. `get_range`.
        op: &'static str,
        /// The full object URL.
        url: String,
        /// What happened to it.
        reason: String,
    },
    /// A local file-system step outside the object-store client failed
    /// (the message carries the cause, so no `source()`, as for `Backend`).
    #[error("{op} {url}: {error}")]
    Io {
        /// The operation, e.g. `delete`.
        op: &'static str,
        /// The full URL of the file or directory.
        url: String,
        /// The operating system's error.
        error: std::io::Error,
    },
    /// An object's bytes do not have the layout Shoal wrote.
    #[error("corrupt object {url}: {reason}")]
    Corrupt {
        /// The full object URL.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

impl StoreError {
    /// Whether trying the same operation again may succeed (network blips,
    /// throttling), as opposed to a wrong URL or a missing object.
    pub fn is_retryable(&self) -> bool {
        matches!(
            self,
            StoreError::Backend {
                error: object_store::Error::Generic { .. },
                ..
            }
        )
    }
}

/// `err` and its causes, each message once: a cause whose text the
/// message so far already contains adds nothing.
fn describe(err: &object_store::Error) -> String {
    use std::error::Error as _;
    let mut text = err.to_string();
    let mut next = err.source();
    while let Some(cause) = next {
        let message = cause.to_string();
        if !text.contains(&message) {
            text.push_str(": ");
            text.push_str(&message);
        }
        next = cause.source();
    }
    text
}
