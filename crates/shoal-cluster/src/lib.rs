//! Cluster mode: the same plans as embedded mode, run by `shoal worker`
//! processes on many machines.
//!
//! ```text
//!  driver (ClusterExecutor)            Redis                       workers (Worker)
//!  ────────────────────────     ───────────────────────     ─────────────────────────────
//!  XADD task entries ───────▶  stream shoal:tasks:FP     ──▶ claim (batch, slots free) from
//!                              (FP = name@version)           the streams of its jobs only
//!                              group "workers" (PEL)         rebuild plan from job spec
//!                                                            run task, commit to the store
//!  XREAD reports     ◀───────  stream shoal:job:ID:events ◀── XADD done/fail + XACK (batched)
//!  heartbeat, cancel, status   shoal:worker:NAME (TTL)   ◀── heartbeat every second
//! ```
//!
//! Redis carries only data: job names, JSON parameters and task
//! identities. Every node rebuilds a job's plan from its own registry, so
//! the queue can never make a worker run code it was not built with; and
//! each job's tasks queue on the stream of its fingerprint, which only
//! workers holding that job (and version) read, so workers of different
//! binaries share one Redis. [`protocol`] is the wire format.
//! Partition data never passes through Redis: map outputs and results are
//! committed as objects in the shared store (`shoal-store`), first commit
//! wins, which makes duplicate and speculative attempts harmless.
//!
//! The driver owns a job's progress. It resubmits a task (next attempt)
//! when the task fails retryably, when the worker that received it stops
//! heartbeating, when it runs far longer than its stage's median
//! (speculation), and when Redis lost its state (restart); the first
//! report of a committed partition wins and later ones are ignored.
#![deny(missing_docs)]

mod abandoned;
mod clock;
mod control;
pub mod dashboard;
mod data;
mod driver;
mod error;
mod history;
mod keys;
pub mod protocol;
mod queue;
mod registrations;
mod reply;
mod results;
mod status;
mod sweep;
pub mod trace;
mod worker;

pub use control::Control;
pub use driver::{ClusterConfig, ClusterExecutor};
pub use error::{ClusterError, WorkerOffer};
pub use keys::job_prefix;
pub use queue::{queued_tasks, QueuedTask};
pub use status::{cancel_job, cluster_status, ClusterStatus, JobStatus, QueueStatus, WorkerStatus};
pub use worker::{Activity, ActivitySnapshot, StageCounts, Worker, WorkerConfig};
