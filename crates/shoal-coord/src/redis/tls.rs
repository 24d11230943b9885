//! TLS setup for `rediss://`: rustls needs a process-wide crypto provider;
//! this crate installs ring's unless the application already chose one.

/// Installs the ring provider once (a no-op if one is already installed).
pub(crate) fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
