//! What a slot does with one assignment: rebuild (or reuse) the job's
//! plan, check the job is still wanted, run the attempt, commit its output
//! and say what to report.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};
use shoal_core::{
    run_attempt, JobSpec, Plan, ProgressEvent, ProgressSink, TaskContext, TaskErrorKind,
};

use super::liveness::{self, Liveness};
use super::Worker;
use crate::clock::now_us;
use crate::control::Control;
use crate::data::{commit, committed_size, Committed, ResultsCache, StoreData};
use crate::keys;
use crate::protocol::{Outcome, Report, TaskEntry, TaskRef};

/// A task handed to a slot.
pub(super) struct Assignment {
    /// The task stream the entry came from, where it is acknowledged.
    pub stream: Arc<str>,
    pub entry_id: String,
    pub task: TaskEntry,
}

/// A finished assignment: its entry to acknowledge and the report for
/// the job's event stream.
pub(super) struct Finished {
    pub stream: Arc<str>,
    pub entry_id: String,
    pub job_id: String,
    pub report: Report,
}

/// Counts a finished task in the worker's activity, under its job and
/// stage names (empty when its job could not be loaded here).
fn count_ended(activity: &super::Activity, jobs: &Jobs, task: &TaskEntry, report: &Report) {
    let job = jobs
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .get(&task.job_id)
        .cloned();
    let (name, stage) = match &job {
        Some(Ok(job)) => (
            job.name.as_str(),
            job.plan
                .stages()
                .get(task.task.stage as usize)
                .map_or("", |s| s.name()),
        ),
        _ => ("", ""),
    };
    activity.ended(&task.job_id, name, stage, report);
}

/// The span of one attempt: every line logged while it runs names its
/// job, stage, partition and attempt.
fn task_span(entry: &TaskEntry) -> tracing::Span {
    let TaskRef {
        stage,
        partition,
        attempt,
    } = entry.task;
    tracing::info_span!("task", job = %entry.job_id, stage, partition, attempt)
}

/// One line per attempt: failures as warnings (the driver decides whether
/// they are retried), the rest for `-v`.
fn log_outcome(outcome: &Outcome) {
    match outcome {
        Outcome::Done { rows, bytes, .. } => tracing::debug!(rows, bytes, "attempt done"),
        Outcome::Failed { kind, message } => {
            tracing::warn!(kind = ?kind, "attempt failed: {message}")
        }
        Outcome::Skipped => tracing::debug!("attempt skipped: its job no longer runs"),
    }
}

/// A job's plan, rebuilt on this node from its spec.
pub(crate) struct LoadedJob {
    /// The job's registered name.
    name: String,
    plan: Plan,
    /// Whether the job is still wanted.
    liveness: Liveness,
    /// Results of earlier stages, fetched once for all tasks that read them.
    results: ResultsCache,
}

/// Jobs this worker has planned, by id, or why it cannot: a job that
/// cannot be planned here is not asked about again for each of its tasks.
pub(super) type Jobs = Mutex<HashMap<String, Result<Arc<LoadedJob>, String>>>;

impl Worker {
    pub(super) fn slot_loop(
        &self,
        tasks: Receiver<Assignment>,
        reports: Sender<Finished>,
        freed: Sender<()>,
        jobs: &Jobs,
    ) {
        let mut control = match self.control() {
            Ok(control) => control,
            Err(_) => return,
        };
        for assignment in tasks {
            let started = Instant::now();
            let started_us = now_us();
            self.running.fetch_add(1, Ordering::Relaxed);
            self.activity.started(&assignment.task.job_id);
            let span = task_span(&assignment.task);
            let outcome = span.in_scope(|| {
                let outcome = self.run_assignment(&mut control, &assignment.task, jobs);
                log_outcome(&outcome);
                outcome
            });
            self.running.fetch_sub(1, Ordering::Relaxed);
            let held = self.held.fetch_sub(1, Ordering::SeqCst) - 1;
            self.pace.record(started.elapsed());
            // The fetch loop waits for this (fetch.rs).
            if held <= self.wake_at.load(Ordering::SeqCst) {
                let _ = freed.try_send(());
            }
            let report = Report {
                task: assignment.task.task,
                worker: self.config.name.clone(),
                started_us,
                ended_us: now_us(),
                outcome,
            };
            count_ended(&self.activity, jobs, &assignment.task, &report);
            let _ = reports.send(Finished {
                stream: assignment.stream,
                entry_id: assignment.entry_id,
                job_id: assignment.task.job_id,
                report,
            });
        }
    }

    /// Runs one attempt and says how it went.
    fn run_assignment(&self, control: &mut Control, entry: &TaskEntry, jobs: &Jobs) -> Outcome {
        let job_id = entry.job_id.as_str();
        let TaskRef {
            stage,
            partition,
            attempt,
        } = entry.task;
        let job = match self.load_job(control, job_id, jobs) {
            Ok(job) => job,
            Err(instead) => return instead,
        };
        if !self.job_alive(control, job_id, &job) {
            return Outcome::Skipped;
        }
        let plan = &job.plan;
        if stage as usize >= plan.stages().len()
            || partition >= plan.stages()[stage as usize].partitions()
        {
            return fatal(format!("no task s{stage}/p{partition} in this plan"));
        }
        let done = |rows, bytes, stored_bytes, result| Outcome::Done {
            rows,
            bytes,
            stored_bytes,
            result,
        };
        // A resubmitted task may already be committed (its first worker
        // was only slow): report it done without running it again (its
        // output's size, in case the first report never arrived).
        if attempt > 0 {
            if let Ok(Some(size)) = committed_size(&self.store, job_id, plan, stage, partition) {
                return done(0, 0, size, None);
            }
        }
        let data = StoreData {
            store: &self.store,
            job_id,
            plan,
            results: &job.results,
        };
        let counter = Counter::default();
        let cancelled = Arc::new(AtomicBool::new(false));
        let _watched = self
            .running_attempts
            .watch(job_id, job.clone(), cancelled.clone());
        let mut ctx = TaskContext::new(
            job_id, plan, stage, partition, attempt, &data, &counter, &cancelled,
        );
        let task_fn = plan.stages()[stage as usize].task();
        let outcome = run_attempt(task_fn, &mut ctx);
        // A worker that was paused or slow may finish after its job ended:
        // then there is nothing to commit to. The skip report reaches a
        // driver only if the job in fact still runs (a finished job's
        // event stream is gone), which then runs the task again.
        if outcome.is_ok() && !self.job_alive(control, job_id, &job) {
            return Outcome::Skipped;
        }
        let outcome = outcome.and_then(|()| {
            commit(
                &self.store,
                job_id,
                plan,
                stage,
                partition,
                ctx.into_output(),
            )
        });
        match outcome {
            Ok(committed) => {
                let (rows, bytes) = *counter.0.lock().unwrap_or_else(|p| p.into_inner());
                let (stored, result) = match committed {
                    Committed::Inline(result) => (0, Some(result)),
                    Committed::Written { key, bytes } => {
                        self.unless_ended(control, job_id, &key);
                        (bytes, None)
                    }
                    Committed::Earlier => (0, None),
                };
                done(rows, bytes, stored, result)
            }
            Err(err) => Outcome::Failed {
                kind: err.kind(),
                message: err.chain(),
            },
        }
    }

    /// The job's plan, rebuilt from its spec in Redis (once per job), or
    /// what to report instead: skipped when the job is gone, a retryable
    /// failure when Redis cannot say, a fatal one when this worker cannot
    /// plan it.
    fn load_job(
        &self,
        control: &mut Control,
        job_id: &str,
        jobs: &Jobs,
    ) -> Result<Arc<LoadedJob>, Outcome> {
        if let Some(known) = jobs.lock().unwrap_or_else(|p| p.into_inner()).get(job_id) {
            return known.clone().map_err(fatal);
        }
        let (spec, fingerprint): (Option<String>, Option<String>) = control
            .run("HMGET spec", Duration::ZERO, |c| {
                redis::cmd("HMGET")
                    .arg(keys::job(job_id))
                    .arg("spec")
                    .arg("fingerprint")
                    .query(c)
            })
            .map_err(|e| Outcome::Failed {
                kind: TaskErrorKind::Retryable,
                message: format!(
                    "worker {} could not read job {job_id}: {e}",
                    self.config.name
                ),
            })?;
        let Some(spec) = spec else {
            return Err(Outcome::Skipped);
        };
        let loaded = self.plan_job(job_id, &spec, fingerprint.as_deref());
        let mut jobs = jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.len() > 64 {
            jobs.clear();
        }
        jobs.insert(job_id.to_string(), loaded.clone());
        loaded.map_err(fatal)
    }

    /// Plans job `job_id` from its spec, checking that this worker holds
    /// the version the driver ran (`fingerprint`, absent from drivers that
    /// predate routing).
    fn plan_job(
        &self,
        job_id: &str,
        spec: &str,
        fingerprint: Option<&str>,
    ) -> Result<Arc<LoadedJob>, String> {
        let name = &self.config.name;
        let spec: JobSpec =
            serde_json::from_str(spec).map_err(|e| format!("job {job_id}: bad spec: {e}"))?;
        let job = self
            .registry
            .get(&spec.job)
            .map_err(|e| format!("worker {name} cannot run job {job_id}: {e}"))?;
        let ours = shoal_core::fingerprint(job.as_ref());
        if let Some(theirs) = fingerprint.filter(|theirs| *theirs != ours) {
            return Err(format!(
                "worker {name} runs {ours}, but job {job_id} is {theirs}: its task reached the wrong stream"
            ));
        }
        let plan = job.plan(&spec.params).map_err(|e| {
            format!(
                "worker {name} cannot plan job {job_id} ({ours}), which its driver planned: {e} \
                 (every build that offers {ours} must plan it alike; one that differs must declare another Job::version)"
            )
        })?;
        Ok(Arc::new(LoadedJob {
            name: spec.job.clone(),
            plan,
            liveness: Liveness::new(),
            results: ResultsCache::default(),
        }))
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
        job.is_alive(control, job_id, self.config.heartbeat_ttl)
    }
}

impl LoadedJob {
    /// Whether the job's driver is alive and the job still running (an
    /// old "yes" survives Redis being unreachable for `patience`).
    pub(super) fn is_alive(&self, control: &mut Control, job_id: &str, patience: Duration) -> bool {
        self.liveness.is_alive(control, job_id, patience)
    }
}

fn fatal(message: String) -> Outcome {
    Outcome::Failed {
        kind: TaskErrorKind::Fatal,
        message,
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
