//! Fixtures for Shoal's own tests — a dev-dependency, never shipped.
//!
//! Tests that need a server start a real one here, on a free loopback
//! port and in a directory of its own, and *fail* when its binary is
//! missing (never skip), so a machine without Redis or `s3s-fs` cannot pass
//! the suite by accident; `scripts/test.sh` installs them.
//!
//! - [`eventually`] / [`eventually_async`]: the one way a test waits — poll
//!   a condition under a deadline, never sleep in its place.
//! - [`RedisServer`] (in-memory, durable, TLS, replica, on a second
//!   address), [`SentinelGroup`]
//!   and [`TestCerts`] (a private CA made with `openssl`).
//! - [`S3Server`]: `s3s-fs`, a real S3-protocol server over a directory.
//! - [`live_processes`] and [`exited`]: processes seen through `/proc`, for
//!   tests that must leave none behind.
//! - [`ReplyDropper`]: a proxy in front of Redis that loses one chosen
//!   reply, as a dropped connection or a SIGSTOPped reader would.
//! - With feature `cluster`: [`Workers`], worker processes of any Shoal
//!   binary (`shoal` or a user's own), and [`LocalCluster`] — Redis, a
//!   store directory and workers together.
//!
//! ```no_run
//! use std::time::Duration;
//! let redis = shoal_testkit::RedisServer::start();
//! let url = redis.url();
//! shoal_testkit::eventually(Duration::from_secs(5), "Redis to answer", || {
//!     std::net::TcpStream::connect(("127.0.0.1", redis.port())).is_ok()
//! });
//! # let _ = url;
//! ```
#![deny(missing_docs)]

mod certs;
#[cfg(feature = "cluster")]
mod cluster;
mod poll;
mod processes;
mod proxy;
mod redis_server;
mod s3;
mod scratch;
mod sentinel;
#[cfg(feature = "cluster")]
mod workers;

pub use certs::TestCerts;
#[cfg(feature = "cluster")]
pub use cluster::{wait_for_status, LocalCluster};
pub use poll::{eventually, eventually_async, try_eventually, Outcome, TimedOut};
pub use processes::{exited, live_processes};
pub use proxy::{contains_bytes, ReplyDropper};
pub use redis_server::{RedisOptions, RedisServer};
pub use s3::{S3Server, ACCESS_KEY, SECRET_KEY};
pub use scratch::free_port;
pub use sentinel::SentinelGroup;
#[cfg(feature = "cluster")]
pub use workers::{signal, WorkerSpec, Workers};
