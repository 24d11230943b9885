//! User-behaviour analytics on Shoal: turns clickstream rows
//! `(user_id, ts, event, item)` into a report of daily activity, sessions,
//! a conversion funnel, retention cohorts and top items (issue 3).
//!
//! The job is a plan of four stages on the Shoal runtime:
//! 1. **read** — one task per input split parses rows and shuffles each to
//!    user partition `partition_of(user_id, P)` (`shoal_core::route`) in a compact binary
//!    [`record`] format;
//! 2. **users** — P tasks each decode their partition ([`index`]), group
//!    rows by user in time order and apply every definition per user
//!    ([`walk`], [`funnel`]), producing an exact integer [`partial`];
//! 3. **items** — up to 32 tasks sum the item counts, shuffled to them by
//!    item name, and keep their top N ([`items`]);
//! 4. **merge** — one task sums the partials and writes the [`report`].
//!
//! Every user lives in exactly one partition, so per-user distinct counts
//! add up across partitions, and the report is byte-identical whatever the
//! thread count, partition count, file split or row order.

#![deny(missing_docs)]

pub mod config;
pub mod date;
pub mod error;
pub mod format;
pub mod funnel;
pub mod hash;
pub mod html;
pub mod index;
pub mod items;
pub mod job;
pub mod local;
pub mod partial;
pub mod reads;
pub mod record;
pub mod report;
pub mod summary;
pub mod svg;
pub mod walk;

pub use config::AnalyzeConfig;
pub use local::analyze_rows;
pub use report::Report;
