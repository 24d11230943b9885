//! Coordinator URLs: which backend, and for Redis where and how to connect.
//!
//! Accepted forms:
//! - `embedded://` — in-process state, the default for one machine;
//! - `redis://[user[:password]@]host[:port][/db]` — a Redis server;
//! - `rediss://...[?ca=PATH][&cert=PATH&key=PATH]` — the same over TLS
//!   (needs the `tls` feature): `ca` is a PEM bundle of the certificate
//!   authorities to trust instead of the built-in web roots (a private CA),
//!   `cert`/`key` a PEM client certificate and key for servers that require
//!   one (`tls-auth-clients yes`);
//! - `redis+sentinel://[user[:password]@]host:port[,host:port...]/primary[/db]`
//!   — a replicated Redis whose current primary the listed Sentinels name
//!   (high availability: after a failover, reconnecting finds the new one).
//!   Credentials and database apply to the primary; Sentinel port
//!   defaults to 26379.
//!
//! Passwords never leave this module in clear text: `Display` and `Debug`
//! render them as `***`, and every error built from a URL uses the redacted
//! form. Cluster mode reuses [`RedisTarget`] to reach the same server.

use std::fmt;
use std::path::PathBuf;
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

/// The Sentinels watching a replicated Redis, and the name they know its
/// primary by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SentinelSet {
    /// Sentinel addresses (host, port), asked in order.
    pub nodes: Vec<(String, u16)>,
    /// The monitored primary's name (`sentinel monitor NAME ...`).
    pub primary: String,
}

/// Certificate files of a `rediss://` URL (its `ca`, `cert` and `key`
/// query options). Paths, not contents: every node reads its own copy.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// PEM certificate authorities to trust instead of the built-in roots.
    pub ca: Option<PathBuf>,
    /// PEM client certificate and its key, sent when the server asks.
    pub client: Option<(PathBuf, PathBuf)>,
}

impl TlsFiles {
    /// Reads `ca`, `cert` and `key` from a URL's query; anything else, or
    /// a certificate without its key, is an error (the reason).
    fn from_query(parsed: &url::Url, tls: bool) -> std::result::Result<Self, String> {
        let mut files = TlsFiles::default();
        let (mut cert, mut key) = (None, None);
        for (name, value) in parsed.query_pairs() {
            if value.is_empty() {
                return Err(format!("option {name:?} needs a file path"));
            }
            let path = Some(PathBuf::from(value.as_ref()));
            match name.as_ref() {
                "ca" => files.ca = path,
                "cert" => cert = path,
                "key" => key = path,
                other => {
                    return Err(format!(
                    "unknown option {other:?}; the options are ca, cert and key (rediss:// only)"
                ))
                }
            }
        }
        files.client = match (cert, key) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => return Err("cert and key go together".into()),
        };
        if !tls && files != TlsFiles::default() {
            return Err("ca, cert and key are TLS options: use rediss://".into());
        }
        Ok(files)
    }

    /// The query string (`?ca=...`), empty when no file is set.
    fn query(&self) -> String {
        let mut query = url::form_urlencoded::Serializer::new(String::new());
        if let Some(ca) = &self.ca {
            query.append_pair("ca", &ca.to_string_lossy());
        }
        if let Some((cert, key)) = &self.client {
            query.append_pair("cert", &cert.to_string_lossy());
            query.append_pair("key", &key.to_string_lossy());
        }
        let query = query.finish();
        if query.is_empty() {
            query
        } else {
            format!("?{query}")
        }
    }
}

/// A parsed `redis://`, `rediss://` or `redis+sentinel://` address with
/// credentials.
#[derive(Clone, PartialEq, Eq)]
pub struct RedisTarget {
    /// Connect with TLS (`rediss://`).
    pub tls: bool,
    /// Certificate files for TLS (none: the built-in web roots, no client
    /// certificate). Boxed: rarely set, and targets travel by value.
    pub tls_files: Box<TlsFiles>,
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
    /// For `redis+sentinel://`: who names the primary. `host`/`port` are
    /// then the first Sentinel's until [`RedisTarget::at_primary`] gives
    /// the primary's address.
    pub sentinels: Option<SentinelSet>,
}

impl RedisTarget {
    /// A plain-TCP target on `host:port`, database 0, no credentials.
    pub fn tcp(host: impl Into<String>, port: u16) -> Self {
        RedisTarget {
            tls: false,
            tls_files: Box::default(),
            host: host.into(),
            port,
            db: 0,
            username: None,
            password: None,
            sentinels: None,
        }
    }

    /// This target pointed at a primary found at `host:port` (same
    /// credentials and database, no Sentinels).
    pub fn at_primary(&self, host: impl Into<String>, port: u16) -> Self {
        RedisTarget {
            host: host.into(),
            port,
            sentinels: None,
            ..self.clone()
        }
    }

    /// Parses `redis+sentinel://[creds@]h1:p1,h2:p2/primary[/db]`. The
    /// authority holds a host list, which URL parsers reject, so each part
    /// is checked here and the rest by the plain `redis://` parser.
    fn parse_sentinel(raw: &str) -> Result<Self> {
        let bad = |reason: &str| CoordError::InvalidUrl {
            url: redact_raw(raw),
            reason: reason.to_owned(),
        };
        let rest = &raw["redis+sentinel://".len()..];
        let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
        let (userinfo, hosts) = match authority.rsplit_once('@') {
            Some((userinfo, hosts)) => (Some(userinfo), hosts),
            None => (None, authority),
        };
        let nodes = hosts
            .split(',')
            .map(|node| {
                let parsed = url::Url::parse(&format!("redis://{node}"))
                    .ok()
                    .filter(|u| u.path() == "/" || u.path().is_empty())
                    .filter(|u| u.host_str().is_some_and(|h| !h.is_empty()))
                    .ok_or_else(|| bad(&format!("bad Sentinel address {node:?}")))?;
                let host = match parsed.host() {
                    Some(url::Host::Ipv6(ip)) => ip.to_string(),
                    _ => parsed.host_str().unwrap_or_default().to_owned(),
                };
                Ok((host, parsed.port().unwrap_or(26379)))
            })
            .collect::<Result<Vec<_>>>()?;
        let (primary, db) = path.split_once('/').unwrap_or((path, ""));
        if primary.is_empty() {
            return Err(bad(
                "name the primary: redis+sentinel://host:26379/PRIMARY[/db]",
            ));
        }
        let creds = userinfo.map(|u| format!("{u}@")).unwrap_or_default();
        let plain = format!("redis://{creds}sentinel.invalid/{db}");
        let parsed = url::Url::parse(&plain).map_err(|e| bad(&e.to_string()))?;
        let mut target = RedisTarget::parse(raw, &parsed)?;
        (target.host, target.port) = nodes[0].clone();
        target.sentinels = Some(SentinelSet {
            nodes,
            primary: primary.to_owned(),
        });
        Ok(target)
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
        if parsed.fragment().is_some() {
            return Err(bad("fragments are not supported"));
        }
        let tls = parsed.scheme() == "rediss";
        let tls_files = Box::new(TlsFiles::from_query(parsed, tls).map_err(|reason| bad(&reason))?);
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
            tls,
            tls_files,
            host,
            port: parsed.port().unwrap_or(6379),
            db,
            username,
            password,
            sentinels: None,
        })
    }
}

impl fmt::Display for RedisTarget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = match (&self.sentinels, self.tls) {
            (Some(_), _) => "redis+sentinel",
            (None, true) => "rediss",
            (None, false) => "redis",
        };
        write!(f, "{scheme}://")?;
        match (&self.username, &self.password) {
            (Some(u), Some(_)) => write!(f, "{u}:***@")?,
            (Some(u), None) => write!(f, "{u}@")?,
            (None, Some(_)) => write!(f, ":***@")?,
            (None, None) => {}
        }
        let host = |f: &mut fmt::Formatter<'_>, host: &str, port: u16| {
            if host.contains(':') {
                write!(f, "[{host}]:{port}")
            } else {
                write!(f, "{host}:{port}")
            }
        };
        match &self.sentinels {
            None => host(f, &self.host, self.port)?,
            Some(set) => {
                for (i, (h, p)) in set.nodes.iter().enumerate() {
                    if i > 0 {
                        f.write_str(",")?;
                    }
                    host(f, h, *p)?;
                }
                write!(f, "/{}", set.primary)?;
            }
        }
        write!(f, "/{}{}", self.db, self.tls_files.query())
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
        if trimmed.starts_with("redis+sentinel://") {
            return RedisTarget::parse_sentinel(trimmed).map(CoordUrl::Redis);
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
                "unknown scheme; expected embedded://, redis://, rediss:// or redis+sentinel://",
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
    fn parses_sentinel_urls() {
        let url = "redis+sentinel://app:pw@10.0.0.1,10.0.0.2:26380,[::1]:5/shoal/2";
        let CoordUrl::Redis(t) = CoordUrl::parse(url).unwrap() else {
            panic!("not redis")
        };
        let set = t.sentinels.clone().expect("sentinels");
        assert_eq!(set.primary, "shoal");
        assert_eq!(
            set.nodes,
            vec![
                ("10.0.0.1".to_string(), 26379),
                ("10.0.0.2".to_string(), 26380),
                ("::1".to_string(), 5),
            ]
        );
        assert_eq!(
            (t.db, t.username.as_deref(), t.password()),
            (2, Some("app"), Some("pw"))
        );
        assert_eq!(
            t.to_string(),
            "redis+sentinel://app:***@10.0.0.1:26379,10.0.0.2:26380,[::1]:5/shoal/2"
        );
        let primary = t.at_primary("10.0.0.9", 6380);
        assert_eq!(primary.to_string(), "redis://app:***@10.0.0.9:6380/2");
        for bad in [
            "redis+sentinel://h:1",
            "redis+sentinel://h:1/",
            "redis+sentinel:///shoal",
            "redis+sentinel://h:1,/shoal",
            "redis+sentinel://h:x/shoal",
            "redis+sentinel://:secret@h:1/shoal/notadb",
        ] {
            let err = CoordUrl::parse(bad).expect_err(bad).to_string();
            assert!(err.starts_with("invalid coordination URL"), "{bad}: {err}");
            assert!(!err.contains("secret"), "{err}");
        }
    }

    #[test]
    fn reads_tls_files_from_the_query() {
        let url = "rediss://app:pw@h:6380/1?ca=/etc/shoal/ca.pem&cert=/c%20d.pem&key=/k.pem";
        let CoordUrl::Redis(t) = CoordUrl::parse(url).unwrap() else {
            panic!("not redis")
        };
        assert_eq!(t.tls_files.ca, Some(PathBuf::from("/etc/shoal/ca.pem")));
        assert_eq!(
            t.tls_files.client,
            Some((PathBuf::from("/c d.pem"), PathBuf::from("/k.pem")))
        );
        let shown = t.to_string();
        assert_eq!(
            shown,
            "rediss://app:***@h:6380/1?ca=%2Fetc%2Fshoal%2Fca.pem&cert=%2Fc+d.pem&key=%2Fk.pem"
        );
        // What is shown parses back to the same files.
        let again = CoordUrl::parse(&shown.replace("***", "pw")).unwrap();
        assert_eq!(again, CoordUrl::Redis(t));
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
            "redis://h:1/0?ca=/etc/ca.pem",
            "rediss://h:1/0?ca=",
            "rediss://h:1/0?cert=/c.pem",
            "rediss://h:1/0?ca=/a&verify=no",
            "rediss://h:1/0#insecure",
            "embedded://somewhere",
            "localhost:6379",
        ] {
            let err = CoordUrl::parse(bad).expect_err(bad).to_string();
            assert!(err.starts_with("invalid coordination URL"), "{bad}: {err}");
        }
    }
}
