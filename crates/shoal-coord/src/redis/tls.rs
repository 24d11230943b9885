//! TLS setup for `rediss://`: rustls needs a process-wide crypto provider
//! (this crate installs ring's unless the application already chose one),
//! and a URL's `ca`/`cert`/`key` files are read into the client library's
//! certificate set.

use std::path::Path;

use redis::{ClientTlsConfig, TlsCertificates};

use crate::error::{CoordError, Result};
use crate::url::RedisTarget;

/// Installs the ring provider once (a no-op if one is already installed).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The certificates `target`'s URL names: its CA bundle (else the built-in
/// web roots) and its client certificate and key, if any.
pub(crate) fn certificates(target: &RedisTarget) -> Result<TlsCertificates> {
    let read = |what: &'static str, path: &Path| {
        std::fs::read(path).map_err(|source| CoordError::TlsFile {
            what,
            path: path.to_path_buf(),
            url: target.redacted(),
            source,
        })
    };
    let files = &target.tls_files;
    let root_cert = match &files.ca {
        Some(ca) => Some(read("CA bundle", ca)?),
        None => None,
    };
    let client_tls = match &files.client {
        Some((cert, key)) => Some(ClientTlsConfig {
            client_cert: read("client certificate", cert)?,
            client_key: read("client key", key)?,
        }),
        None => None,
    };
    Ok(TlsCertificates {
        client_tls,
        root_cert,
    })
}
