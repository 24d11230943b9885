//! Free ports and private directories, so no test sees another's server
//! or data.

use std::net::TcpListener;

/// A port that was free a moment ago (bind 127.0.0.1:0, read, close).
/// Redis cannot be told `--port 0`, so callers retry on collision.
///
/// # Panics
/// When no loopback port can be bound.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .unwrap_or_else(|e| panic!("cannot find a free loopback port: {e}"))
}

/// A new empty directory `PREFIX…` under the system temp dir, removed
/// when the returned handle drops.
pub(crate) fn scratch_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new()
        .prefix(&format!("{prefix}-"))
        .tempdir()
        .unwrap_or_else(|e| panic!("cannot create a {prefix} directory under the temp dir: {e}"))
}
