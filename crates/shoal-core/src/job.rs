//! Jobs registered by name, and the registry every node builds alike.

use std::collections::BTreeMap;
use std::sync::Arc;

use serde::{Deserialize, Serialize};

use crate::{Bytes, JobError, Plan};

/// How a job's result is meant to be shown (`shoal run` decides where it goes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OutputFormat {
    /// UTF-8 text, printed as it is.
    Text,
    /// One JSON document, printed as it is.
    Json,
    /// Bytes for a file: written with `--out FILE`, never to a terminal.
    Binary,
}

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

    /// The job's version. Workers advertise `name@version` (its
    /// [fingerprint](fingerprint)) and only ever claim tasks of jobs whose
    /// fingerprint they hold, so two builds of a job that cannot share a
    /// job's attempts must declare different versions.
    fn version(&self) -> u32 {
        1
    }

    /// How the job's result ([`Job::finish`]) is shown.
    fn output_format(&self) -> OutputFormat {
        OutputFormat::Text
    }

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

    /// Runs on the driver after the last stage, before [`Job::finish`]:
    /// whether the results stand. A job whose plan rests on a guess that
    /// only the finished tasks can check (say, where records start in file
    /// chunks nobody read in full) returns corrected parameters here, and
    /// [`run_job`](crate::run_job) runs it once more with them, without
    /// preparing again; that second run's results stand. The default
    /// accepts every result.
    fn review(
        &self,
        params: &serde_json::Value,
        results: &[Bytes],
    ) -> Result<Option<serde_json::Value>, JobError> {
        let _ = (params, results);
        Ok(None)
    }

    /// Runs once, on the driver, after the last stage: turns its result
    /// blobs (by partition) into the job's result, rendered as
    /// [`Job::output_format`] says. The default writes each blob followed
    /// by a newline.
    fn finish(&self, params: &serde_json::Value, results: &[Bytes]) -> Result<Bytes, JobError> {
        let _ = params;
        let mut out = Vec::with_capacity(results.iter().map(|r| r.len() + 1).sum());
        for blob in results {
            out.extend_from_slice(blob);
            out.push(b'\n');
        }
        Ok(out.into())
    }
}

/// `name@version`: what a worker advertises for `job` and what a task
/// entry is routed by.
pub fn fingerprint(job: &dyn Job) -> String {
    fingerprint_of(job.name(), job.version())
}

/// The fingerprint of version `version` of the job named `name`.
pub(crate) fn fingerprint_of(name: &str, version: u32) -> String {
    format!("{name}@{version}")
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

    /// Adds `job`.
    ///
    /// # Panics
    /// When a job of the same name is already registered: a registry is
    /// built once at start, and silently replacing a job (say, a built-in
    /// one by a user's) would run code nobody asked for.
    pub fn with(self, job: Arc<dyn Job>) -> Self {
        match self.try_with(job) {
            Ok(registry) => registry,
            Err(err) => panic!("{err}"),
        }
    }

    /// Adds `job`, or fails when its name is taken.
    pub fn try_with(mut self, job: Arc<dyn Job>) -> Result<Self, JobError> {
        let name = job.name();
        if self.jobs.contains_key(name) {
            return Err(JobError::Setup {
                job: name.to_string(),
                message: format!("a job named '{name}' is already registered"),
            });
        }
        self.jobs.insert(name, job);
        Ok(self)
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

#[cfg(test)]
mod tests {
    use super::*;

    struct Named(&'static str, u32);

    impl Job for Named {
        fn name(&self) -> &'static str {
            self.0
        }
        fn describe(&self) -> &'static str {
            "test job"
        }
        fn version(&self) -> u32 {
            self.1
        }
        fn plan(&self, _: &serde_json::Value) -> Result<Plan, JobError> {
            Ok(Plan::new())
        }
    }

    #[test]
    fn a_second_job_of_the_same_name_is_refused() {
        let registry = Registry::new().with(Arc::new(Named("a", 1)));
        let err = registry
            .clone()
            .try_with(Arc::new(Named("a", 2)))
            .err()
            .expect("duplicate accepted");
        assert!(
            err.to_string().contains("'a' is already registered"),
            "{err}"
        );
        assert_eq!(registry.get("a").unwrap().version(), 1);
    }

    #[test]
    fn the_fingerprint_is_name_at_version() {
        assert_eq!(fingerprint(&Named("wordcount", 3)), "wordcount@3");
    }

    #[test]
    fn the_default_finish_puts_each_result_on_a_line() {
        let out = Named("a", 1)
            .finish(&serde_json::Value::Null, &[Bytes::from("x"), Bytes::new()])
            .unwrap();
        assert_eq!(&out[..], b"x\n\n");
    }
}
