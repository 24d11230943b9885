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
    /// The object does not exist.
    #[error("{op} {url}: not found")]
    NotFound {
        /// The operation, e.g. `get`.
        op: &'static str,
        /// The full object URL.
        url: String,
    },
    /// The backend reported an error.
    #[error("{op} {url}: {source}")]
    Backend {
        /// The operation, e.g. `put`.
        op: &'static str,
        /// The full object URL.
        url: String,
        /// The backend's error.
        #[source]
        source: object_store::Error,
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
                source: object_store::Error::Generic { .. },
                ..
            }
        )
    }
}
