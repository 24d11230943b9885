//! Small built-in jobs.
//!
//! - [`WordCount`] (`wordcount`): reads text files in byte-range splits,
//!   counts words with map-side combining, hash-shuffles them by word,
//!   and merges a global top-N. It exercises every part of the runtime:
//!   driver-side preparation, splits, shuffle, results, a merge stage.
//! - [`Noop`] (`noop`): N tasks that do nothing, for measuring scheduler
//!   overhead embedded and on a cluster.
#![deny(missing_docs)]

mod noop;
mod wordcount;

pub use noop::Noop;
pub use wordcount::{WordCount, WordCountParams, WordCountResult};
