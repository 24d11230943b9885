//! `DistArray<T>`: a typed, partitioned distributed collection whose
//! operations run as stages on Shoal's runtime, embedded or on a cluster.
//!
//! ```
//! use shoal_array::Session;
//!
//! let session = Session::embedded();
//! let squares = session.range(1_000, 8).map(|x| x * x).filter(|x| x % 2 == 0);
//! assert_eq!(squares.len().unwrap(), 500);
//! let sorted = session.from_vec(vec![5u64, 3, 9, 1], 2).sort();
//! assert_eq!(sorted.collect().unwrap(), vec![1, 3, 5, 9]);
//! let pairs = vec![("a", 1u64), ("b", 2), ("a", 3)];
//! let words = session.from_iter(pairs.into_iter().map(|(w, n)| (w.to_string(), n)), 2);
//! let mut counts = words.reduce_by_key(|a, b| a + b).collect().unwrap();
//! counts.sort();
//! assert_eq!(counts, vec![("a".to_string(), 4), ("b".to_string(), 2)]);
//! ```
//!
//! How it maps onto the runtime:
//! - an array is a lazy description; an **action** (`collect`, `len`,
//!   `sum`, `save`, ...) lowers it into a [`shoal_core::Plan`] and runs it
//!   on the [`Session`]'s executor;
//! - **narrow** transformations (`map`, `filter`, `flat_map`,
//!   `map_partitions`, aligned `zip`, `slice`) add no stage: they run fused
//!   inside the task that consumes them;
//! - **wide** operations add a map stage with a shuffle output: sample
//!   sort (`sort`, `sort_by_key`), hash shuffles with map-side combining
//!   (`reduce_by_key`, `group_by_key`, `distinct`, `join`), and an
//!   order-preserving realignment (`repartition`, unaligned `zip`);
//! - closures never travel: on a cluster the pipeline is an [`ArrayJob`]
//!   that every node rebuilds from its name and JSON parameters.
//!
//! Order and stability — output never depends on thread count or timing:
//! - `collect` returns partition 0, then 1, ...; `map`, `filter`,
//!   `flat_map`, `map_partitions`, `zip`, `slice`, `repartition` keep
//!   element order;
//! - `sort`, `sort_by`, `sort_by_key` are **stable**;
//! - `group_by_key` lists values in input order; `distinct` keeps first
//!   occurrences; `reduce_by_key` combines a key's values in input order;
//!   all three list keys in order of first appearance within a partition,
//!   whatever the memory budget (a table that spills restores the order);
//! - `join` / `left_join` emit left rows in input order (per partition)
//!   with their matches in right input order;
//! - `reduce` / `fold` combine partitions in partition order.
//!
//! Bigger than memory: a partition reaches its consumer as a ready vector
//! or as a stream of batches (generated ranges, merged sorted runs);
//! `map`, `filter`, `flat_map`, folds, `collect` and sorting stream, and
//! sorts and keyed aggregations spill to the executor's work directory
//! when they outgrow their task's share of the memory budget.
//!
//! [`parquet`] reads Parquet files as arrays (`Session::parquet`, row
//! groups as splits, projected columns, local or store URLs) and writes
//! arrays as Parquet (`save_parquet`), for DuckDB, Polars and Spark.
//!
//! Elements are encoded by [`codec`]; saved arrays use the layout of
//! [`persist`] and record their element type's declared [`TypeTag`]. `cache()` keeps data in a process-wide memory store on
//! embedded sessions, freed when the process exits.
#![deny(missing_docs)]

mod access;
mod aggregate;
mod array;
pub mod codec;
mod concat;
mod error;
mod hashagg;
pub mod jobs;
mod join;
mod keyed;
pub mod parquet;
mod part;
pub mod persist;
mod radix;
mod runs;
mod session;
mod sort;
mod sources;
mod tag;
mod transform;

pub use aggregate::Num;
pub use array::DistArray;
pub use codec::Element;
pub use error::ArrayError;
pub use persist::Manifest;
pub use session::{Action, ArrayJob, AsJob, Session};
pub use tag::TypeTag;
