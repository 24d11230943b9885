//! URL-addressed storage for Shoal.
//!
//! Everything Shoal persists — spilled shuffle partitions in embedded
//! mode, every committed partition file in cluster mode, saved arrays —
//! goes through a [`Store`] opened from a URL:
//!
//! | URL | backend |
//! | --- | --- |
//! | `file:///abs/dir`, `/abs/dir`, `rel/dir` | local disk or a shared POSIX mount (NFS, GlusterFS, CephFS) |
//! | `memory://name` | a process-wide in-memory store, shared by every handle opened with that name |
//!
//! The backends are Apache Arrow's `object_store`, used behind a small
//! synchronous facade because Shoal's executors run tasks on plain
//! threads. The one operation the runtime relies on for correctness is
//! [`Store::put_if_absent`]: it publishes a whole object atomically or
//! reports that one is already there, which is how the first committed
//! attempt of a task wins and every later attempt is dropped.
//!
//! [`partition`] defines the on-store layout of a shuffle partition file;
//! [`inputs`] expands and reads the input files users name, local or in a
//! store.
//!
//! ```
//! let store = shoal_store::Store::open("memory://doc-example").unwrap();
//! assert!(store.put_if_absent("a/b", bytes::Bytes::from_static(b"x")).unwrap());
//! assert!(!store.put_if_absent("a/b", bytes::Bytes::from_static(b"y")).unwrap());
//! assert_eq!(&store.get("a/b").unwrap()[..], b"x");
//! ```
#![deny(missing_docs)]

mod backend;
mod error;
pub mod inputs;
mod io_counters;
mod options;
pub mod partition;
mod reader;
mod rt;
mod store;
mod url;

pub use error::StoreError;
pub use io_counters::{io_totals, IoTotals};
pub use options::{configure, configured, StoreOptions};
pub use reader::ObjectReader;
pub use store::{ObjectInfo, RangesAhead, Store};
pub use url::{redact_url, Service, StoreKind, StoreUrl};
