//! Shoal's execution model.
//!
//! A computation is a **job** registered by name ([`Job`], [`Registry`]).
//! Rust closures cannot travel between machines, so the same binary runs on
//! every node and any node rebuilds a job's [`Plan`] from its name and its
//! serialisable parameters. A plan is a sequence of **stages**; stage *s* has
//! *N* **tasks**, one per partition, and a task is identified by
//! [`TaskId`] = (job id, stage, partition, attempt).
//!
//! Stages exchange data in two ways:
//! - **shuffle**: a task of a map stage appends bytes to one bucket per
//!   downstream partition ([`TaskContext::bucket`]), chosen by
//!   [`route::partition_of`] for keyed data; task *p* of a later stage
//!   reads bucket *p* of every map task ([`TaskContext::shuffle_input`]);
//!   a shuffle of one bucket is a **broadcast**: every task of any later
//!   stage may read all of it ([`TaskContext::broadcast_input`]), a piece
//!   at a time;
//! - **results**: a task sets one result blob ([`TaskContext::set_result`]),
//!   which a later stage reads whole ([`TaskContext::results_of`]) and which
//!   the last stage hands back to the caller ([`JobOutput`]).
//!
//! A task's output is staged privately and becomes visible only when the
//! attempt **commits**; the first committed attempt of a partition wins and
//! later ones are discarded, so retries and duplicates never tear or double
//! a result.
//!
//! [`Executor`] runs plans. [`EmbeddedExecutor`] runs them on the threads of
//! this process with a memory budget beyond which shuffle data spills to a
//! store; the cluster executor (crate `shoal-cluster`) runs the very same
//! plans on `shoal worker` processes.
//!
//! ```
//! use std::sync::Arc;
//! use shoal_core::*;
//!
//! /// Sums 0..n in `parts` partitions.
//! struct SumJob;
//! impl Job for SumJob {
//!     fn name(&self) -> &'static str { "sum" }
//!     fn describe(&self) -> &'static str { "sums 0..n" }
//!     fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
//!         let n = params["n"].as_u64().unwrap_or(0);
//!         let mut plan = Plan::new();
//!         let parts = plan.add_stage(Stage::new("part", 4, move |ctx| {
//!             let p = ctx.partition() as u64;
//!             let sum: u64 = (0..n).filter(|i| i % 4 == p).sum();
//!             ctx.set_result(sum.to_le_bytes().to_vec().into());
//!             Ok(())
//!         }));
//!         plan.add_stage(Stage::new("total", 1, move |ctx| {
//!             let total: u64 = ctx.results_of(parts)?.iter()
//!                 .map(|b| u64::from_le_bytes(b[..8].try_into().unwrap())).sum();
//!             ctx.set_result(total.to_string().into_bytes().into());
//!             Ok(())
//!         }).reads(parts));
//!         Ok(plan)
//!     }
//! }
//!
//! let registry = Registry::new().with(Arc::new(SumJob));
//! let executor = EmbeddedExecutor::new(EmbeddedConfig::default());
//! let spec = JobSpec::new("sum", serde_json::json!({"n": 100}));
//! let output = run_job(&executor, &registry, spec, &NoProgress).unwrap();
//! assert_eq!(&output.results[0][..], b"4950");
//! // The job's result is what `Job::finish` made of the last stage's
//! // blobs (by default each on a line); what the run cost is apart.
//! assert_eq!(&output.result[..], b"4950\n");
//! assert_eq!(output.stats.tasks, 5);
//! ```
#![deny(missing_docs)]

mod attempt;
mod block;
mod embedded;
mod error;
mod executor;
pub mod extsort;
mod job;
mod memory;
mod plan;
mod progress;
pub mod retry;
pub mod route;
mod spill;
mod stats;
mod task;

pub use attempt::{install_quiet_panic_hook, run_attempt};
pub use block::{Block, BlockChunks, ShuffleInput};
pub use embedded::{EmbeddedConfig, EmbeddedExecutor};
pub use error::{JobError, TaskError, TaskErrorKind};
pub use executor::{new_job_id, run_job, run_job_as, Executor, JobOutput, JobRun};
pub use job::{fingerprint, Job, JobSpec, OutputFormat, Registry};
pub use memory::{MemoryPool, MemoryStats, Reservation, TaskMemory};
pub use plan::{Plan, Stage, StageOutput, StageRef, TaskFn};
pub use progress::{NoProgress, ProgressEvent, ProgressSink};
pub use spill::{SpillError, SpillFile, SpillSpace, SpillWriter};
pub use stats::{peak_rss_bytes, JobStats, StageStats, StatsRecorder};
pub use task::{Segment, StageData, TaskContext, TaskId, TaskOutput};

/// Re-exported so jobs need no direct dependency to build blobs.
pub use bytes::Bytes;
