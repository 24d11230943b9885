//! Who may see and who may change: the dashboard's security rules.
//!
//! Dashboards that ran code or cancelled jobs for anyone who could reach
//! them have been abused (Ray's job API, Spark's REST submission, YARN), so
//! the defaults here are closed:
//!
//! - **Loopback by default.** On a loopback address viewing needs no token.
//!   Any other address needs `--token-file`: every request must then carry
//!   the token (`Authorization: Bearer …`, or the cookie set by visiting
//!   `/?token=…` once), else 401.
//! - **Changing state always needs a token.** Cancel is a POST carrying the
//!   cancel token in a header. Without a token file the server makes a
//!   random one at start and embeds it only in pages it serves itself;
//!   other web pages cannot read those (same-origin policy) and cannot set
//!   the header on a cross-site form, so they cannot cancel.
//! - **DNS rebinding.** A request whose `Host` is neither the bound
//!   address, `localhost`, nor an `--allow-host` name is refused, so a web
//!   page whose name suddenly points at 127.0.0.1 learns nothing.

use std::net::{IpAddr, SocketAddr};
use std::path::Path;

use crate::UiError;

/// The cookie a visit to `/?token=…` sets.
pub const COOKIE: &str = "shoal_token";
/// The header a cancel request carries its token in.
pub const CANCEL_HEADER: &str = "x-shoal-token";

/// The rules for one server.
#[derive(Clone)]
pub struct Access {
    bind: SocketAddr,
    /// Needed for every request, when set.
    view_token: Option<String>,
    /// Needed for cancelling: the view token, or a random one.
    cancel_token: String,
    /// Host names accepted besides loopback names and the bound address.
    allowed_hosts: Vec<String>,
}

impl std::fmt::Debug for Access {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Access")
            .field("bind", &self.bind)
            .field("view_token", &self.view_token.as_ref().map(|_| "***"))
            .field("allowed_hosts", &self.allowed_hosts)
            .finish_non_exhaustive()
    }
}

/// What a request is allowed, or why not.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Serve it.
    Allow,
    /// Serve it, and set the token cookie (the token came in the query).
    AllowAndSetCookie,
    /// Wrong `Host`: 403.
    BadHost,
    /// No or wrong token: 401.
    Unauthorized,
}

impl Access {
    /// Rules for a server on `bind`. The token, when given, is the first
    /// line of `token_file`. A non-loopback `bind` without one is refused.
    pub fn new(
        bind: SocketAddr,
        token_file: Option<&Path>,
        allowed_hosts: Vec<String>,
    ) -> Result<Access, UiError> {
        let view_token = token_file.map(read_token).transpose()?;
        if view_token.is_none() && !bind.ip().is_loopback() {
            return Err(UiError::TokenRequired { bind });
        }
        let cancel_token = match &view_token {
            Some(token) => token.clone(),
            None => random_token()?,
        };
        Ok(Access {
            bind,
            view_token,
            cancel_token,
            allowed_hosts: allowed_hosts
                .into_iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
        })
    }

    /// The address the rules were made for.
    pub fn bind(&self) -> SocketAddr {
        self.bind
    }

    /// The token pages embed for their cancel button.
    pub fn cancel_token(&self) -> &str {
        &self.cancel_token
    }

    /// Whether viewing needs a token.
    pub fn needs_token(&self) -> bool {
        self.view_token.is_some()
    }

    /// Decides on a request from its `Host` header, `Authorization`
    /// header, cookies and `token` query parameter.
    pub fn check(
        &self,
        host: Option<&str>,
        authorization: Option<&str>,
        cookies: Option<&str>,
        query_token: Option<&str>,
    ) -> Verdict {
        if !host.is_some_and(|h| self.host_allowed(h)) {
            return Verdict::BadHost;
        }
        let Some(token) = &self.view_token else {
            return Verdict::Allow;
        };
        if bearer(authorization).is_some_and(|t| same(t, token))
            || cookie(cookies, COOKIE).is_some_and(|t| same(t, token))
        {
            return Verdict::Allow;
        }
        if query_token.is_some_and(|t| same(t, token)) {
            return Verdict::AllowAndSetCookie;
        }
        Verdict::Unauthorized
    }

    /// Whether a cancel request's header carries the cancel token.
    pub fn may_cancel(&self, header: Option<&str>) -> bool {
        header.is_some_and(|t| same(t, &self.cancel_token))
    }

    fn host_allowed(&self, host: &str) -> bool {
        host_allowed(self.bind, &self.allowed_hosts, host)
    }
}

/// `Host` must name this server: a loopback name, the bound address, or an
/// allowed name. A server bound to every interface (`0.0.0.0`, `::`)
/// cannot know its names (and needs a token anyway), so it accepts any.
pub(crate) fn host_allowed(bind: SocketAddr, allowed_hosts: &[String], host: &str) -> bool {
    let name = host_name(host).to_ascii_lowercase();
    if bind.ip().is_unspecified() {
        return true;
    }
    if name == "localhost" || name.ends_with(".localhost") {
        return true;
    }
    if let Ok(ip) = name
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse::<IpAddr>()
    {
        return ip.is_loopback() || ip == bind.ip();
    }
    allowed_hosts.contains(&name)
}

/// The host part of a `Host` header (without the port).
fn host_name(host: &str) -> &str {
    if let Some(rest) = host.strip_prefix('[') {
        // [v6]:port
        return rest
            .split(']')
            .next()
            .map_or(host, |h| &host[..h.len() + 2]);
    }
    host.rsplit_once(':').map_or(host, |(name, _)| name)
}

fn bearer(header: Option<&str>) -> Option<&str> {
    let value = header?.trim();
    let (scheme, token) = value.split_once(' ')?;
    scheme.eq_ignore_ascii_case("bearer").then(|| token.trim())
}

/// The value of cookie `name` in a `Cookie` header.
fn cookie<'a>(header: Option<&'a str>, name: &str) -> Option<&'a str> {
    header?.split(';').find_map(|pair| {
        let (key, value) = pair.trim().split_once('=')?;
        (key == name).then_some(value)
    })
}

/// Compares tokens in time independent of where they differ.
fn same(given: &str, expected: &str) -> bool {
    let (a, b) = (given.as_bytes(), expected.as_bytes());
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

fn read_token(path: &Path) -> Result<String, UiError> {
    let text = std::fs::read_to_string(path).map_err(|source| UiError::TokenFile {
        path: path.to_path_buf(),
        source,
    })?;
    let token = text.lines().next().unwrap_or("").trim().to_string();
    let bad = |problem| UiError::BadToken {
        path: path.to_path_buf(),
        problem,
    };
    if token.len() < 16 {
        return Err(bad("holds a token shorter than 16 characters"));
    }
    if !token
        .bytes()
        .all(|b| b.is_ascii_graphic() && b != b';' && b != b',')
    {
        return Err(bad(
            "holds a token with spaces, ';', ',' or non-ASCII characters",
        ));
    }
    Ok(token)
}

/// 32 random bytes from the operating system, hex-encoded.
fn random_token() -> Result<String, UiError> {
    let mut bytes = [0u8; 32];
    getrandom::fill(&mut bytes).map_err(|e| UiError::Random(e.to_string()))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loopback() -> Access {
        Access::new(
            "127.0.0.1:8787".parse().unwrap(),
            None,
            vec!["dash.example".into()],
        )
        .unwrap()
    }

    fn token_file(content: &str) -> tempfile::NamedTempFile {
        let file = tempfile::NamedTempFile::new().unwrap();
        std::fs::write(file.path(), content).unwrap();
        file
    }

    fn with_token(bind: &str) -> (Access, tempfile::NamedTempFile) {
        let file = token_file("0123456789abcdef0123\n");
        let access = Access::new(bind.parse().unwrap(), Some(file.path()), Vec::new()).unwrap();
        (access, file)
    }

    #[test]
    fn a_non_loopback_bind_needs_a_token_file() {
        let err = Access::new("0.0.0.0:8787".parse().unwrap(), None, Vec::new()).unwrap_err();
        assert!(matches!(err, UiError::TokenRequired { .. }), "{err}");
        assert!(err.to_string().contains("--token-file"));
        let (access, _file) = with_token("0.0.0.0:8787");
        assert!(access.needs_token());
    }

    #[test]
    fn loopback_viewing_needs_no_token_but_the_right_host() {
        let access = loopback();
        let check = |host| access.check(host, None, None, None);
        assert_eq!(check(Some("127.0.0.1:8787")), Verdict::Allow);
        assert_eq!(check(Some("localhost:8787")), Verdict::Allow);
        assert_eq!(check(Some("[::1]:8787")), Verdict::Allow);
        assert_eq!(check(Some("dash.example")), Verdict::Allow);
        assert_eq!(check(Some("evil.example:8787")), Verdict::BadHost);
        assert_eq!(check(Some("10.1.2.3:8787")), Verdict::BadHost);
        assert_eq!(check(None), Verdict::BadHost);
    }

    #[test]
    fn with_a_token_every_request_needs_it() {
        let (access, _file) = with_token("127.0.0.1:8787");
        let host = Some("127.0.0.1:8787");
        let token = "0123456789abcdef0123";
        assert_eq!(access.check(host, None, None, None), Verdict::Unauthorized);
        assert_eq!(
            access.check(host, Some("Bearer wrong-token-wrong"), None, None),
            Verdict::Unauthorized
        );
        let header = format!("Bearer {token}");
        assert_eq!(
            access.check(host, Some(&header), None, None),
            Verdict::Allow
        );
        let cookies = format!("a=b; {COOKIE}={token}");
        assert_eq!(
            access.check(host, None, Some(&cookies), None),
            Verdict::Allow
        );
        assert_eq!(
            access.check(host, None, None, Some(token)),
            Verdict::AllowAndSetCookie
        );
        assert!(access.may_cancel(Some(token)));
    }

    #[test]
    fn cancelling_needs_the_cancel_token_even_on_loopback() {
        let access = loopback();
        assert_eq!(access.cancel_token().len(), 64);
        assert!(!access.may_cancel(None));
        assert!(!access.may_cancel(Some("guess")));
        assert!(access.may_cancel(Some(access.cancel_token())));
        assert_ne!(loopback().cancel_token(), access.cancel_token());
    }

    #[test]
    fn short_or_missing_token_files_are_refused() {
        let short = token_file("abc\n");
        let bind = "127.0.0.1:1".parse().unwrap();
        let err = Access::new(bind, Some(short.path()), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("shorter than 16"), "{err}");
        let err = Access::new(bind, Some(Path::new("/nonexistent/token")), Vec::new()).unwrap_err();
        assert!(err.to_string().contains("/nonexistent/token"), "{err}");
    }
}
