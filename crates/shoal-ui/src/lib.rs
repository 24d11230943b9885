//! Shoal's live web dashboard and Prometheus endpoints.
//!
//! - [`UiServer::start`] serves the dashboard of a [`Source`]: the cluster
//!   overview (workers, jobs with a bar per stage), job pages (stages,
//!   throughput, a task timeline per worker drawn from time buckets,
//!   failures with their attempt history, a cancel button) and worker
//!   pages (recent attempts), plus `/metrics`.
//! - [`LocalJob`] is the source for a job running in this process: it is
//!   also the [`ProgressSink`](shoal_core::ProgressSink) the run reports to.
//! - [`UiServer::start_metrics`] is a worker's read-only `/metrics`.
//!
//! Pages are rendered on the server and complete in their first response;
//! a small embedded script refreshes them once a second and draws the
//! charts. Every asset is compiled into the binary: nothing is loaded from
//! elsewhere. [`Access`] holds the security rules: loopback by default,
//! a token for anything else, a token for every state change, and `Host`
//! checks against DNS rebinding.
//!
//! ```no_run
//! use std::sync::Arc;
//! use shoal_ui::{bind, Access, LocalJob, UiServer};
//!
//! let addr = "127.0.0.1:0".parse().unwrap();
//! let job = Arc::new(LocalJob::new("wordcount"));
//! let server = UiServer::start(bind(addr)?, Access::new(addr, None, vec![])?, job.clone(), "embedded")?;
//! println!("dashboard: {}", server.url());
//! // … run the job with `job` as (part of) its progress sink …
//! job.finish("succeeded", "");
//! server.stop()?;
//! # Ok::<(), shoal_ui::UiError>(())
//! ```
#![deny(missing_docs)]

mod access;
mod cluster;
mod error;
mod local;
pub mod metrics;
pub mod model;
mod pages;
mod routes;
mod server;
mod source;
mod worker_metrics;

pub use access::{Access, Verdict, CANCEL_HEADER, COOKIE};
pub use cluster::ClusterSource;
pub use error::UiError;
pub use local::LocalJob;
pub use metrics::{MetricsSnapshot, TaskCount, WorkerGauges};
pub use server::{bind, UiServer};
pub use source::{Front, Source};
