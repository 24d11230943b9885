//! Small built-in jobs.
//!
//! - [`WordCount`] (`wordcount`): reads text files in byte-range splits,
//!   counts words with map-side combining, hash-shuffles them by word,
//!   and merges a global top-N. It exercises every part of the runtime:
//!   driver-side preparation, splits, shuffle, results, a merge stage.
//! - [`Noop`] (`noop`): N tasks that do nothing, for measuring scheduler
//!   overhead embedded and on a cluster.
#![deny(missing_docs)]

mod hash;
mod noop;
mod splits;
mod wordcount;

pub use hash::stable_hash;
pub use noop::Noop;
pub use splits::{open_line_split, plan_line_splits, read_line_split, LineSplit};
pub use wordcount::{WordCount, WordCountParams, WordCountResult};
