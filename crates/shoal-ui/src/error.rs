//! The dashboard's errors: each names what failed with which input.

use std::net::SocketAddr;
use std::path::PathBuf;

/// Why the dashboard could not start or answer.
#[derive(Debug, thiserror::Error)]
pub enum UiError {
    /// A non-loopback address without a token: anyone on the network could
    /// watch (and, with the cancel token in the pages, cancel) jobs.
    #[error("--bind {bind} is reachable from other machines: give --token-file FILE too (viewing then needs the token)")]
    TokenRequired {
        /// The address asked for.
        bind: SocketAddr,
    },
    /// The token file could not be read.
    #[error("cannot read token file {path}: {source}")]
    TokenFile {
        /// The file.
        path: PathBuf,
        /// Why.
        source: std::io::Error,
    },
    /// The token file holds no usable token.
    #[error("token file {path} {problem}")]
    BadToken {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// The address could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// Why.
        source: std::io::Error,
    },
    /// The HTTP runtime could not start.
    #[error("cannot start the web server: {0}")]
    Runtime(std::io::Error),
    /// The control plane could not be read (URLs in it are redacted).
    #[error(transparent)]
    Cluster(#[from] shoal_cluster::ClusterError),
    /// No randomness for the cancel token.
    #[error("no operating-system randomness for the cancel token: {0}")]
    Random(String),
}
