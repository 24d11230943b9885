//! Jobs registered by name, and the registry every node builds alike.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{JobError, Plan};

/// A computation Shoal can run, identified by name.
///
/// Only the name and JSON parameters ever cross a machine boundary: every
/// node holds the same registry and calls [`Job::plan`] with the same
/// parameters, so the closures in the plan are the node's own code.
pub trait Job: Send + Sync + 'static {
    /// The registry name, e.g. `wordcount`.
    fn name(&self) -> &'static str;

    /// One line for `shoal jobs`.
    fn describe(&self) -> &'static str;

    /// Runs once, on the driver, before planning: resolves inputs (lists
    /// files, computes splits, validates columns) into the concrete
    /// parameters that every node plans from. Bad input is reported here
    /// with [`JobError::invalid_input`], before any task runs.
    fn prepare(&self, params: serde_json::Value) -> Result<serde_json::Value, JobError> {
        Ok(params)
    }

    /// Builds the plan. Must be deterministic: the same parameters give the
    /// same stages, partition counts and task behaviour on every node.
    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError>;
}

/// What to run: a job name and its parameters. This is all that a cluster
/// queue carries — data, never code.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct JobSpec {
    /// Registered job name.
    pub job: String,
    /// The job's parameters.
    pub params: serde_json::Value,
}

impl JobSpec {
    /// A spec for `job` with `params`.
    pub fn new(job: &str, params: serde_json::Value) -> Self {
        JobSpec {
            job: job.to_string(),
            params,
        }
    }
}

/// The jobs this binary can run, by name.
#[derive(Clone, Default)]
pub struct Registry {
    jobs: BTreeMap<&'static str, Arc<dyn Job>>,
}

impl Registry {
    /// An empty registry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `job`; a later job with the same name replaces an earlier one.
    pub fn with(mut self, job: Arc<dyn Job>) -> Self {
        self.jobs.insert(job.name(), job);
        self
    }

    /// The job registered as `name`.
    pub fn get(&self, name: &str) -> Result<&Arc<dyn Job>, JobError> {
        self.jobs.get(name).ok_or_else(|| JobError::UnknownJob {
            name: name.to_string(),
            known: self.jobs.keys().copied().collect::<Vec<_>>().join(", "),
        })
    }

    /// Every registered job, by name.
    pub fn jobs(&self) -> impl Iterator<Item = &Arc<dyn Job>> {
        self.jobs.values()
    }
}
