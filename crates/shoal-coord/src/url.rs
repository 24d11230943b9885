//! Coordinator URLs: which backend, and for Redis where and how to connect.
//!
//! Accepted forms:
//! - `embedded://` — in-process state, the default for one machine;
//! - `redis://[user[:password]@]host[:port][/db]` — a Redis server;
//! - `rediss://...` — the same over TLS (needs the `tls` feature).
//!
//! Passwords never leave this module in clear text: `Display` and `Debug`
//! render them as `***`, and every error built from a URL uses the redacted
//! form. Cluster mode reuses [`RedisTarget`] to reach the same server.

use std::fmt;
use std::str::FromStr;

use crate::error::{CoordError, Result};

/// Where coordination state lives.
#[derive(Clone, PartialEq, Eq)]
pub enum CoordUrl {
    /// In this process (`embedded://`).
    Embedded,
    /// On a Redis server.
    Redis(RedisTarget),
}

/// A parsed `redis://` or `rediss://` address with credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// Connect with TLS (`rediss://`).
    pub tls: bool,
    /// Host name or IP address (IPv6 without brackets).
    pub host: String,
    /// TCP port (6379 when the URL has none).
    pub port: u16,
    /// Logical database number (`/db`, default 0).
    pub db: i64,
    /// ACL user name, if any.
    pub username: Option<String>,
    /// Password; never displayed.
    password: Option<String>,
}

impl RedisTarget {
    /// A plain-TCP target on `host:port`, database 0, no credentials.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        RedisTarget {
            tls: false,
            host: host.into(),
            port,
            db: 0,
            username: None,
            password: None,
        }
    }

    /// The password, for handing to the client library only.
    pub fn password(&self) -> Option<&str> {
        self.password.as_deref()
    }

    /// Sets the password (builder style).
    pub fn with_password(mut self, password: impl Into<String>) -> Self {
        self.password = Some(password.into());
        self
    }

    /// The URL with the password replaced by `***`, safe for logs.
    pub fn redacted(&self) -> String {
        self.to_string()
    }

    fn parse(raw: &str, parsed: &url::Url) -> Result<Self> {
        let bad = |reason: &str| CoordError::InvalidUrl {
            url: redact_raw(raw),
            reason: reason.to_owned(),
        };
        let host = match parsed.host() {
            Some(url::Host::Domain(d)) if !d.is_empty() => d.to_owned(),
            Some(url::Host::Ipv4(ip)) => ip.to_string(),
            Some(url::Host::Ipv6(ip)) => ip.to_string(),
            _ => return Err(bad("missing host, expected redis://host:port")),
        };
        let db = match parsed.path().trim_start_matches('/') {
            "" => 0,
            digits => digits
                .parse::<i64>()
                .ok()
                .filter(|db| *db >= 0)
                .ok_or_else(|| bad("the path must be a database number, e.g. /0"))?,
        };
        if parsed.query().is_some() || parsed.fragment().is_some() {
            return Err(bad("query parameters and fragments are not supported"));
        }
        let decode = |s: &str| {
            url::form_urlencoded::parse(format!("x={s}").as_bytes())
                .next()
                .map(|(_, v)| v.into_owned())
        };
        let username = Some(parsed.username())
            .filter(|u| !u.is_empty())
            .and_then(decode);
        let password = parsed.password().and_then(decode);
        Ok(RedisTarget {
            tls: parsed.scheme() == "rediss",
            host,
            port: parsed.port().unwrap_or(6379),
            db,
            username,
            password,
        })
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.tls { "rediss" } else { "redis" };
        write!(f, "{scheme}://")?;
        match (&self.username, &self.password) {
            (Some(u), Some(_)) => write!(f, "{u}:***@")?,
            (Some(u), None) => write!(f, "{u}@")?,
            (None, Some(_)) => write!(f, ":***@")?,
            (None, None) => {}
        }
        if self.host.contains(':') {
            write!(f, "[{}]", self.host)?;
        } else {
            f.write_str(&self.host)?;
        }
        write!(f, ":{}/{}", self.port, self.db)
    }
}

impl fmt::Debug for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RedisTarget({self})")
    }
}

impl CoordUrl {
    /// Parses a coordinator URL; errors name the (redacted) URL and what is
    /// wrong with it.
    pub fn parse(raw: &str) -> Result<Self> {
        let bad = |reason: &str| CoordError::InvalidUrl {
            url: redact_raw(raw),
            reason: reason.to_owned(),
        };
        let trimmed = raw.trim();
        if trimmed.is_empty() {
            return Err(bad("empty; expected embedded:// or redis://host:port"));
        }
        let parsed = url::Url::parse(trimmed).map_err(|e| bad(&e.to_string()))?;
        match parsed.scheme() {
            "embedded" => {
                let rest = trimmed["embedded:".len()..].trim_start_matches('/');
                if rest.is_empty() {
                    Ok(CoordUrl::Embedded)
                } else {
                    Err(bad("embedded:// takes no host, path or options"))
                }
            }
            "redis" | "rediss" => RedisTarget::parse(trimmed, &parsed).map(CoordUrl::Redis),
            _ => Err(bad(
                "unknown scheme; expected embedded://, redis:// or rediss://",
            )),
        }
    }
}

impl FromStr for CoordUrl {
    type Err = CoordError;
    fn from_str(s: &str) -> Result<Self> {
        CoordUrl::parse(s)
    }
}

impl fmt::Display for CoordUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CoordUrl::Embedded => f.write_str("embedded://"),
            CoordUrl::Redis(t) => t.fmt(f),
        }
    }
}

impl fmt::Debug for CoordUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "CoordUrl({self})")
    }
}

/// Redacts the password of a URL that may not even parse: everything
/// between the first `:` after `//` and the last `@` of the authority.
pub fn redact_raw(raw: &str) -> String {
    let Some(start) = raw.find("://").map(|i| i + 3) else {
        return raw.to_owned();
    };
    let authority_end = raw[start..]
        .find(['/', '?', '#'])
        .map_or(raw.len(), |i| start + i);
    let authority = &raw[start..authority_end];
    let Some(at) = authority.rfind('@') else {
        return raw.to_owned();
    };
    let Some(colon) = authority[..at].find(':') else {
        return raw.to_owned();
    };
    format!(
        "{}{}:***{}",
        &raw[..start],
        &authority[..colon],
        &raw[start + at..]
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_accepted_forms() {
        assert_eq!(CoordUrl::parse("embedded://").unwrap(), CoordUrl::Embedded);
        let CoordUrl::Redis(t) = CoordUrl::parse("redis://127.0.0.1:7000/3").unwrap() else {
            panic!("not redis")
        };
        assert_eq!(
            (t.host.as_str(), t.port, t.db, t.tls),
            ("127.0.0.1", 7000, 3, false)
        );
        let CoordUrl::Redis(t) = CoordUrl::parse("rediss://app:s%40cret@cache.local").unwrap()
        else {
            panic!("not redis")
        };
        assert!(t.tls);
        assert_eq!(t.port, 6379);
        assert_eq!(t.username.as_deref(), Some("app"));
        assert_eq!(t.password(), Some("s@cret"));
    }

    #[test]
    fn never_shows_passwords() {
        let url = CoordUrl::parse("redis://app:hunter2@h:1/0").unwrap();
        assert_eq!(url.to_string(), "redis://app:***@h:1/0");
        assert!(!format!("{url:?}").contains("hunter2"));
        let err = CoordUrl::parse("redis://app:hunter2@h:1/notadb").unwrap_err();
        assert!(!err.to_string().contains("hunter2"), "{err}");
        assert_eq!(redact_raw("redis://:pw@h:1"), "redis://:***@h:1");
    }

    #[test]
    fn rejects_malformed_urls() {
        for bad in [
            "",
            "redis://",
            "http://h:1",
            "redis://h:notaport",
            "redis://h:1/x",
            "redis://h:1/0?timeout=1s",
            "embedded://somewhere",
            "localhost:6379",
        ] {
            let err = CoordUrl::parse(bad).expect_err(bad).to_string();
            assert!(err.starts_with("invalid coordination URL"), "{bad}: {err}");
        }
    }
}
