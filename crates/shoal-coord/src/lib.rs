//! Coordination for Shoal tasks that share state: leased locks with
//! fencing tokens, semaphores, read-write locks, counters, a versioned
//! key-value store and optimistic transactions — one async API, two
//! backends.
//!
//! - **embedded** (`embedded://`, the default): state in this process, for
//!   single-machine mode; lock/unlock costs well under a microsecond.
//! - **redis** (`redis://[user:password@]host:port[/db]`, `rediss://` with
//!   the `tls` feature): state on a Redis server shared by every machine;
//!   each step is one atomic Lua script.
//!
//! ```no_run
//! # async fn demo() -> Result<(), shoal_coord::CoordError> {
//! use shoal_coord::{Coordinator, LockOptions};
//! let coord = Coordinator::open("redis://127.0.0.1:6379").await?;
//! let guard = coord.lock("nightly-report", &LockOptions::default()).await?;
//! // Hand the token to the resource so a stale holder can be refused.
//! coord.put_fenced("report/latest", "v42", "nightly-report", guard.token()).await?;
//! guard.release().await?;
//! # Ok(()) }
//! ```
//!
//! A locked read-modify-write of keys known up front takes two round
//! trips instead of four with [`Coordinator::lock_and_get`] and
//! [`Guard::set_and_unlock`] (which writes only while the lease is still
//! held); [`Coordinator::transact`] does without a lock, optimistically.
//!
//! Invariants: this crate never touches the data store; every operation is
//! bounded by a timeout; fencing tokens and key versions only ever grow;
//! release and renewal act only for the owner that acquired.

#![deny(missing_docs)]

pub mod backend;
mod config;
mod coordinator;
pub mod embedded;
pub mod error;
mod guard;
pub mod kv;
pub mod lease;
mod locks;
pub mod redis;
mod renewal;
pub mod retry;
mod shared;
pub mod txn;
pub mod url;
pub mod validate;

pub use backend::CoordBackend;
pub use config::CoordConfig;
pub use coordinator::Coordinator;
pub use error::{CoordError, LostReason, Result};
pub use guard::Guard;
pub use kv::{CasOutcome, Versioned};
pub use lease::{Acquire, LeaseKind, LockOptions, OwnerId};
pub use txn::Tx;
pub use url::{CoordUrl, RedisTarget, SentinelSet, TlsFiles};
