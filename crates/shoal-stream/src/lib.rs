//! Any program as Shoal tasks, with Hadoop Streaming's contract: the
//! process runner and the `map` job behind `shoal map`.
//!
//! - [`process`] runs one program (`sh -c`) as part of a task attempt:
//!   stdin fed and stdout drained at once, stderr's `reporter:` lines
//!   parsed into [`Counters`], a bounded log with the last 20 lines kept
//!   for errors, and the program's whole process group killed when the
//!   attempt ends, times out or is cancelled — no orphans.
//! - [`StreamJob`] (`map`) runs a mapper over splits of the input, sorts
//!   its `key<TAB>value` records with the external sort of `shoal-core`,
//!   optionally combines them, routes them by a stable hash of the key to
//!   reducers that get their partition merged in key order, and commits
//!   one `part-NNNNN` per reducer (or per map task when map-only) to
//!   `--out`, then `_SUCCESS`.
//!
//! Output never depends on threads, split sizes or workers: partitions are
//! chosen by a stable hash, sorting is by key bytes, and equal keys keep
//! input order (map tasks are merged in input order, and both sort and
//! merge are stable).
//!
//! A worker offers this job only when its operator asked for it
//! (`shoal worker --allow-exec`): whoever can submit a `map` job runs
//! commands as the worker's user.
#![deny(missing_docs)]

mod counters;
mod job;
mod keysort;
mod map_task;
mod output;
mod params;
pub mod process;
mod record;
mod reduce_task;
pub mod ship;
mod task;
mod taskdir;

pub use counters::{Counters, SHOAL_GROUP};
pub use job::{MapOutcome, StreamJob, TaskReport, JOB_NAME};
pub use output::{part_name, SUCCESS};
pub use params::{MapParams, DEFAULT_SPLIT_BYTES};
pub use record::{KeySpec, Record};
pub use taskdir::remove_process_root;
