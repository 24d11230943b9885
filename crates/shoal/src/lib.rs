//! Shoal for job authors: everything needed to write jobs and to ship them
//! in a binary that is Shoal's command line plus those jobs.
//!
//! A cluster node runs only code compiled into its binary — the task queue
//! carries job names and JSON parameters, never code. So your jobs live in
//! a binary of your own, and that binary is the whole `shoal` command
//! line (`worker`, `run`, `status`, `cancel`, `jobs`, `lock`, `kv`,
//! `counter` and the built-in jobs) over a registry with your jobs added:
//!
//! ```no_run
//! use std::process::ExitCode;
//! use std::sync::Arc;
//!
//! use shoal::{Job, JobError, Plan, Stage};
//!
//! /// Says hello from `n` tasks.
//! struct Hello;
//!
//! impl Job for Hello {
//!     fn name(&self) -> &'static str {
//!         "hello"
//!     }
//!     fn describe(&self) -> &'static str {
//!         "hello from n tasks (params: n)"
//!     }
//!     fn plan(&self, params: &shoal::serde_json::Value) -> Result<Plan, JobError> {
//!         let n = params["n"].as_u64().unwrap_or(1) as u32;
//!         let mut plan = Plan::new();
//!         plan.add_stage(Stage::new("hello", n, |ctx| {
//!             ctx.set_result(format!("hello from task {}", ctx.partition()).into());
//!             Ok(())
//!         }));
//!         Ok(plan)
//!     }
//! }
//!
//! fn main() -> ExitCode {
//!     shoal::main(shoal::builtin_registry().with(Arc::new(Hello)))
//! }
//! ```
//!
//! `my-app run hello --params '{"n": 3}'` runs it on every core;
//! `my-app worker --coord redis://… --store …` on each machine and the same
//! `run` with `--coord`/`--store` run it on a cluster. Workers advertise
//! the jobs they hold (name and [`Job::version`]) and claim only those.
//!
//! What is here:
//! - the job model (from `shoal-core`): [`Job`], [`Registry`], [`Plan`],
//!   [`Stage`], [`TaskContext`], errors, [`run_job`] and the executors;
//! - typed distributed arrays (from `shoal-array`): [`DistArray`],
//!   [`Session`], and [`ArrayJob`] pipelines registered with [`AsJob`];
//! - [`stable_hash`] and [`partition_of`], the one hash (and partition
//!   choice) every shuffle routes keys by;
//! - coordination ([`Coordinator`]: locks, counters, key-value), stores
//!   ([`Store`], [`StoreUrl`]: paths, `s3://`, …), the clickstream readers
//!   ([`events`]) and the cluster executor and worker ([`cluster`]);
//! - the command line ([`main`], [`builtin_registry`], and [`cli`] for
//!   its parts: runtime flags, progress, signals, exit codes).
#![deny(missing_docs)]

pub use shoal_array::{
    Action, ArrayError, ArrayJob, AsJob, DistArray, Element, Manifest, Num, Session, TypeTag,
};
pub use shoal_cli::{builtin_registry, main, main_from, CliError, RunArgs};
pub use shoal_coord::{CoordError, CoordUrl, Coordinator, LockOptions};
pub use shoal_core::route::{partition_of, stable_hash};
pub use shoal_core::{
    fingerprint, run_job, Bytes, EmbeddedConfig, EmbeddedExecutor, Executor, Job, JobError,
    JobOutput, JobSpec, JobStats, NoProgress, OutputFormat, Plan, ProgressEvent, ProgressSink,
    Registry, Stage, StageRef, TaskContext, TaskError, TaskErrorKind,
};
pub use shoal_store::{Store, StoreError, StoreUrl};

/// The JSON values job parameters are made of (re-exported so a job's
/// `plan(&self, params: &serde_json::Value)` needs no dependency of its own).
pub use serde_json;

/// Distributed arrays in full (`shoal-array`): codecs, saved-array layout,
/// built-in array jobs.
pub use shoal_array as array;
/// The command line in parts (`shoal-cli`): flags, commands, progress,
/// signals, exit codes.
pub use shoal_cli as cli;
/// Cluster mode (`shoal-cluster`): the executor, workers, status.
pub use shoal_cluster as cluster;
/// Coordination (`shoal-coord`): locks, semaphores, counters, key-value,
/// transactions, on Redis or embedded.
pub use shoal_coord as coord;
/// The job model in full (`shoal-core`).
pub use shoal_core as runtime;
/// Reading and generating clickstream event logs (`shoal-events`).
pub use shoal_events as events;
/// URL-addressed storage and input files (`shoal-store`).
pub use shoal_store as store;
