//! Parsing store URLs into a backend kind and a key prefix.

use std::fmt;
use std::path::PathBuf;

use crate::StoreError;

/// Which backend a store URL names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StoreKind {
    /// A local directory, or a shared POSIX mount.
    File(PathBuf),
    /// A named process-wide in-memory store.
    Memory(String),
}

/// A parsed store URL.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoreUrl {
    /// The backend and its root.
    pub kind: StoreKind,
}

impl StoreUrl {
    /// Parses `file:///dir`, a bare path, or `memory://name`.
    pub fn parse(text: &str) -> Result<StoreUrl, StoreError> {
        let invalid = |reason: &str| StoreError::InvalidUrl {
            url: text.to_string(),
            reason: reason.to_string(),
        };
        if text.is_empty() {
            return Err(invalid("empty URL"));
        }
        let Some((scheme, rest)) = text.split_once("://") else {
            return Ok(StoreUrl {
                kind: StoreKind::File(absolute(PathBuf::from(text))),
            });
        };
        match scheme {
            "file" => {
                if rest.is_empty() {
                    return Err(invalid("file:// needs a path, e.g. file:///data/shoal"));
                }
                Ok(StoreUrl {
                    kind: StoreKind::File(absolute(PathBuf::from(rest))),
                })
            }
            "memory" => Ok(StoreUrl {
                kind: StoreKind::Memory(rest.trim_end_matches('/').to_string()),
            }),
            other => Err(invalid(&format!(
                "unsupported scheme '{other}' (supported: file://, memory://)"
            ))),
        }
    }
}

fn absolute(path: PathBuf) -> PathBuf {
    if path.is_absolute() {
        path
    } else {
        std::env::current_dir()
            .map(|cwd| cwd.join(&path))
            .unwrap_or(path)
    }
}

impl fmt::Display for StoreUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            StoreKind::File(path) => write!(f, "file://{}", path.display()),
            StoreKind::Memory(name) => write!(f, "memory://{name}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_each_form() {
        assert_eq!(
            StoreUrl::parse("file:///tmp/x").unwrap().kind,
            StoreKind::File("/tmp/x".into())
        );
        assert_eq!(
            StoreUrl::parse("/tmp/y").unwrap().kind,
            StoreKind::File("/tmp/y".into())
        );
        assert_eq!(
            StoreUrl::parse("memory://m1").unwrap().kind,
            StoreKind::Memory("m1".into())
        );
        assert!(StoreUrl::parse("ftp://x").is_err());
        assert!(StoreUrl::parse("").is_err());
        assert!(StoreUrl::parse("file://").is_err());
    }

    #[test]
    fn display_round_trips() {
        let url = StoreUrl::parse("file:///data/shoal").unwrap();
        assert_eq!(StoreUrl::parse(&url.to_string()).unwrap(), url);
    }
}
