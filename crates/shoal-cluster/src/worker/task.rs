//! What a slot does with one assignment: rebuild (or reuse) the job's
//! plan, check the job is still wanted, run the attempt, commit its output
//! and say what to report.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use shoal_core::{
    run_attempt, Bytes, JobSpec, Plan, ProgressEvent, ProgressSink, TaskContext, TaskErrorKind,
};

use super::liveness::{self, Liveness};
use super::Worker;
use crate::control::Control;
use crate::data::{commit, is_committed, Committed, ResultsCache, StoreData};
use crate::keys;

/// A task handed to a slot.
pub(super) struct Assignment {
    pub entry_id: String,
    pub job_id: String,
    pub stage: u32,
    pub partition: u32,
    pub attempt: u32,
}

/// What a slot reports for an assignment: fields of the job's event
/// stream entry (none: acknowledge only, the job is gone or cancelled)
/// and an inline result.
pub(super) struct Report {
    pub entry_id: String,
    pub job_id: String,
    pub fields: Vec<(&'static str, String)>,
    pub result: Option<Bytes>,
}

/// A job's plan, rebuilt on this node from its spec.
pub(super) struct LoadedJob {
    plan: Plan,
    /// Whether the job is still wanted.
    liveness: Liveness,
    /// Results of earlier stages, fetched once for all tasks that read them.
    results: ResultsCache,
}

/// Jobs this worker has planned, by id.
pub(super) type Jobs = Mutex<HashMap<String, Arc<LoadedJob>>>;

impl Worker {
    pub(super) fn slot_loop(
        &self,
        tasks: Receiver<Assignment>,
        reports: Sender<Report>,
        freed: Sender<()>,
        jobs: &Jobs,
    ) {
        let mut control = match self.control() {
            Ok(control) => control,
            Err(_) => return,
        };
        for task in tasks {
            let started = Instant::now();
            self.running.fetch_add(1, Ordering::Relaxed);
            let report = self.run_assignment(&mut control, task, jobs);
            self.running.fetch_sub(1, Ordering::Relaxed);
            self.held.fetch_sub(1, Ordering::Relaxed);
            self.pace.record(started.elapsed());
            let _ = freed.try_send(());
            let _ = reports.send(report);
        }
    }

    /// Runs one assignment and says what to report.
    fn run_assignment(&self, control: &mut Control, task: Assignment, jobs: &Jobs) -> Report {
        let started = Instant::now();
        let mut report = Report {
            entry_id: task.entry_id.clone(),
            job_id: task.job_id.clone(),
            fields: Vec::new(),
            result: None,
        };
        let base = |kind: &str| {
            vec![
                ("k", kind.to_string()),
                ("s", task.stage.to_string()),
                ("p", task.partition.to_string()),
                ("a", task.attempt.to_string()),
                ("w", self.config.name.clone()),
            ]
        };
        let failed = |kind: &str, message: String| {
            let mut fields = base("fail");
            fields.push(("kind", kind.to_string()));
            fields.push(("e", message));
            fields
        };
        let job = match self.load_job(control, &task.job_id, jobs) {
            Ok(Some(job)) => job,
            Ok(None) => {
                report.fields = base("skip");
                return report;
            }
            Err(message) => {
                report.fields = failed("fatal", message);
                return report;
            }
        };
        if !self.job_alive(control, &task.job_id, &job) {
            report.fields = base("skip");
            return report;
        }
        let plan = &job.plan;
        if task.stage as usize >= plan.stages().len()
            || task.partition >= plan.stages()[task.stage as usize].partitions()
        {
            let message = format!("no task s{}/p{} in this plan", task.stage, task.partition);
            report.fields = failed("fatal", message);
            return report;
        }
        // A resubmitted task may already be committed (its first worker
        // was only slow): report it done without running it again.
        if task.attempt > 0
            && is_committed(&self.store, &task.job_id, plan, task.stage, task.partition)
                .unwrap_or(false)
        {
            report.fields = base("done");
            return report;
        }
        let data = StoreData {
            store: &self.store,
            job_id: &task.job_id,
            plan,
            results: &job.results,
        };
        let counter = Counter::default();
        let cancelled = AtomicBool::new(false);
        let mut ctx = TaskContext::new(
            &task.job_id,
            plan,
            task.stage,
            task.partition,
            task.attempt,
            &data,
            &counter,
            &cancelled,
        );
        let task_fn = plan.stages()[task.stage as usize].task();
        let outcome = run_attempt(task_fn, &mut ctx);
        // A worker that was paused or slow may finish after its job ended:
        // then there is nothing to commit to. The skip report reaches a
        // driver only if the job in fact still runs (a finished job's
        // event stream is gone), which then runs the task again.
        if outcome.is_ok() && !self.job_alive(control, &task.job_id, &job) {
            report.fields = base("skip");
            return report;
        }
        let outcome = outcome.and_then(|()| {
            commit(
                &self.store,
                &task.job_id,
                plan,
                task.stage,
                task.partition,
                ctx.into_output(),
            )
        });
        match outcome {
            Ok(committed) => {
                let (rows, bytes) = *counter.0.lock().unwrap_or_else(|p| p.into_inner());
                let mut fields = base("done");
                fields.push(("ms", started.elapsed().as_millis().to_string()));
                fields.push(("rows", rows.to_string()));
                fields.push(("bytes", bytes.to_string()));
                report.fields = fields;
                match committed {
                    Committed::Inline(result) => report.result = Some(result),
                    Committed::Written { key } => self.unless_ended(control, &task.job_id, &key),
                    Committed::Earlier => {}
                }
            }
            Err(err) => {
                let kind = match err.kind() {
                    TaskErrorKind::Retryable => "retryable",
                    TaskErrorKind::Input => "input",
                    TaskErrorKind::Fatal => "fatal",
                };
                report.fields = failed(kind, err.chain());
            }
        }
        report
    }

    /// The job's plan, rebuilt from its spec in Redis. `Ok(None)`: the job
    /// no longer exists. `Err`: it exists but cannot be planned here.
    fn load_job(
        &self,
        control: &mut Control,
        job_id: &str,
        jobs: &Jobs,
    ) -> Result<Option<Arc<LoadedJob>>, String> {
        if let Some(job) = jobs.lock().unwrap_or_else(|p| p.into_inner()).get(job_id) {
            return Ok(Some(job.clone()));
        }
        let spec: Option<String> = control
            .run("HGET spec", Duration::ZERO, |c| {
                redis::cmd("HGET")
                    .arg(keys::job(job_id))
                    .arg("spec")
                    .query(c)
            })
            .map_err(|e| e.to_string())?;
        let Some(spec) = spec else {
            return Ok(None);
        };
        let spec: JobSpec =
            serde_json::from_str(&spec).map_err(|e| format!("job {job_id}: bad spec: {e}"))?;
        let plan = self
            .registry
            .get(&spec.job)
            .and_then(|job| job.plan(&spec.params))
            .map_err(|e| format!("worker {} cannot plan job {job_id}: {e}", self.config.name))?;
        let loaded = Arc::new(LoadedJob {
            plan,
            liveness: Liveness::new(),
            results: ResultsCache::default(),
        });
        let mut jobs = jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.len() > 64 {
            jobs.clear();
        }
        jobs.insert(job_id.to_string(), loaded.clone());
        Ok(Some(loaded))
    }

    /// The job may have ended between our last liveness check and our
    /// commit; then nobody will read or delete what we wrote, so we delete
    /// it. Only a final state counts: a job Redis merely forgot (restart)
    /// may still need the object.
    fn unless_ended(&self, control: &mut Control, job_id: &str, key: &str) {
        if liveness::has_ended(control, job_id) {
            let _ = self.store.delete(key);
        }
    }

    fn job_alive(&self, control: &mut Control, job_id: &str, job: &LoadedJob) -> bool {
        job.liveness
            .is_alive(control, job_id, self.config.heartbeat_ttl)
    }
}

/// Sums a task's progress reports so they travel in its done report.
#[derive(Default)]
struct Counter(Mutex<(u64, u64)>);

impl ProgressSink for Counter {
    fn event(&self, event: &ProgressEvent<'_>) {
        if let ProgressEvent::Processed { rows, bytes, .. } = event {
            let mut sums = self.0.lock().unwrap_or_else(|p| p.into_inner());
            sums.0 += rows;
            sums.1 += bytes;
        }
    }
}
