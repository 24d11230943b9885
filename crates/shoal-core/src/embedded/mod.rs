//! The embedded executor: every stage's tasks on this process's threads.
//!
//! Workers pull partitions from a shared counter, so a fast worker simply
//! takes more tasks; near the end of a stage claims shrink to one task at
//! a time so that no worker sits on a backlog while another idles.

mod outputs;

use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use crate::retry::{Decision, RetryPolicy, TaskAttempts};
use crate::{
    install_quiet_panic_hook, run_attempt, Executor, JobError, JobOutput, JobRun, MemoryPool,
    MemoryStats, ProgressEvent, ProgressSink, SpillSpace, StageData, StageRef, TaskContext,
};
use outputs::JobOutputs;

/// How the embedded executor runs jobs.
#[derive(Debug, Clone)]
pub struct EmbeddedConfig {
    /// Worker threads (default: every core).
    pub threads: usize,
    /// Attempts per task before the job fails (default 3).
    pub max_attempts: u32,
    /// Bytes a job may hold: committed outputs kept in memory and what
    /// running tasks hold; beyond it, outputs and operator state spill to
    /// `work_dir` (default 512 MiB).
    pub memory_budget: u64,
    /// Directory for spill files (default: the system temporary
    /// directory). Spill files are anonymous: nothing is left there when a
    /// job ends, fails, is cancelled or its process is killed.
    pub work_dir: PathBuf,
}

impl Default for EmbeddedConfig {
    fn default() -> Self {
        EmbeddedConfig {
            threads: std::thread::available_parallelism().map_or(1, |n| n.get()),
            max_attempts: 3,
            memory_budget: 512 << 20,
            work_dir: std::env::temp_dir(),
        }
    }
}

/// Runs plans on a pool of threads in this process.
#[derive(Debug, Clone)]
pub struct EmbeddedExecutor {
    config: EmbeddedConfig,
    /// Memory figures of the last job run.
    last_stats: Arc<Mutex<Option<MemoryStats>>>,
    /// Cancels the running job when set (see [`EmbeddedExecutor::with_cancel`]).
    cancel: Option<Arc<AtomicBool>>,
}

/// Shared state of one running job.
struct RunState<'a> {
    run: &'a JobRun,
    outputs: JobOutputs<'a>,
    pool: MemoryPool,
    spill: SpillSpace,
    progress: &'a dyn ProgressSink,
    cancelled: Arc<AtomicBool>,
    failure: Mutex<Option<JobError>>,
}

impl EmbeddedExecutor {
    /// An executor with `config`; threads and attempts are at least 1.
    pub fn new(mut config: EmbeddedConfig) -> Self {
        config.threads = config.threads.max(1);
        config.max_attempts = config.max_attempts.max(1);
        install_quiet_panic_hook();
        EmbeddedExecutor {
            config,
            last_stats: Arc::default(),
            cancel: None,
        }
    }

    /// The same executor, cancelled from outside by `flag` (Ctrl-C in the
    /// CLI): once it is set, tasks see [`TaskContext::is_cancelled`], no
    /// new task starts and the run ends with [`JobError::Cancelled`]. The
    /// executor sets it too when a task fails for good, to stop the others.
    pub fn with_cancel(mut self, flag: Arc<AtomicBool>) -> Self {
        self.cancel = Some(flag);
        self
    }

    /// What the last job run by this executor held at its peak and
    /// spilled (also reported as [`ProgressEvent::Memory`]).
    pub fn last_memory_stats(&self) -> Option<MemoryStats> {
        *self.last_stats.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// The configuration in use.
    pub fn config(&self) -> &EmbeddedConfig {
        &self.config
    }

    fn run_stage(&self, state: &RunState<'_>, stage: usize) {
        let partitions = state.run.plan.stages()[stage].partitions();
        let next = AtomicU32::new(0);
        let threads = self.config.threads.min(partitions as usize).max(1);
        let worker = || {
            while let Some(claimed) = claim(&next, partitions, threads) {
                for partition in claimed {
                    if state.cancelled.load(Ordering::Relaxed) {
                        return;
                    }
                    if let Err(err) = self.run_task(state, stage, partition) {
                        state.cancelled.store(true, Ordering::Relaxed);
                        let mut failure = state.failure.lock().unwrap_or_else(|p| p.into_inner());
                        failure.get_or_insert(err);
                        return;
                    }
                }
            }
        };
        if threads == 1 {
            worker();
        } else {
            std::thread::scope(|scope| {
                for _ in 0..threads {
                    scope.spawn(worker);
                }
            });
        }
    }

    /// Runs one partition's attempts until one commits or the retry
    /// policy gives up (`retry.rs`).
    fn run_task(&self, state: &RunState<'_>, stage: usize, partition: u32) -> Result<(), JobError> {
        let plan = &state.run.plan;
        let task = plan.stages()[stage].task();
        let policy = RetryPolicy::new(self.config.max_attempts);
        let mut failed = TaskAttempts::default();
        for attempt in 0.. {
            let mut ctx = TaskContext::new(
                &state.run.id,
                plan,
                stage as u32,
                partition,
                attempt,
                &state.outputs,
                state.progress,
                &state.cancelled,
            )
            .with_resources(state.pool.task(), state.spill.clone());
            let outcome = run_attempt(task, &mut ctx).and_then(|()| {
                let output = ctx.into_output();
                let bytes_out = output.len();
                let spilled = state.outputs.commit(stage, partition, output)?;
                Ok((spilled, bytes_out))
            });
            let error = match outcome {
                Ok((spilled, bytes_out)) => {
                    if spilled > 0 {
                        state.progress.event(&ProgressEvent::Spilled {
                            stage: stage as u32,
                            bytes: spilled,
                        });
                    }
                    state.progress.event(&ProgressEvent::TaskFinished {
                        stage: stage as u32,
                        partition,
                        attempt,
                        bytes_out,
                    });
                    return Ok(());
                }
                Err(error) => error,
            };
            let decision = failed.failed(&policy, attempt, None, error.kind(), error.chain());
            // A cancelled job starts no new attempt; a retryable failure
            // then is the cancellation's doing, not the task's.
            let cancelled = state.cancelled.load(Ordering::Relaxed);
            let will_retry = decision == Decision::Retry && !cancelled;
            state.progress.event(&ProgressEvent::TaskFailed {
                stage: stage as u32,
                partition,
                attempt,
                error: &error,
                will_retry,
            });
            if will_retry {
                continue;
            }
            if cancelled && error.is_retryable() {
                return Err(JobError::Cancelled {
                    job_id: state.run.id.clone(),
                });
            }
            break;
        }
        Err(failed.into_error(
            &state.run.id,
            stage as u32,
            plan.stages()[stage].name(),
            partition,
        ))
    }
}

/// Claims the next run of partitions: large runs while much work remains
/// (cheap claims for tiny tasks), single partitions near the end (balance).
fn claim(next: &AtomicU32, partitions: u32, threads: usize) -> Option<std::ops::Range<u32>> {
    let mut start = next.load(Ordering::Relaxed);
    loop {
        if start >= partitions {
            return None;
        }
        let remaining = partitions - start;
        let size = (remaining / (threads as u32 * 8)).clamp(1, 256);
        match next.compare_exchange_weak(start, start + size, Ordering::Relaxed, Ordering::Relaxed)
        {
            Ok(_) => return Some(start..start + size),
            Err(seen) => start = seen,
        }
    }
}

impl Executor for EmbeddedExecutor {
    fn execute(&self, run: &JobRun, progress: &dyn ProgressSink) -> Result<JobOutput, JobError> {
        let pool = MemoryPool::new(self.config.memory_budget, self.config.threads);
        let spill = SpillSpace::new(&self.config.work_dir, pool.clone());
        let state = RunState {
            run,
            outputs: JobOutputs::new(&run.plan, pool.clone(), spill.clone()),
            pool,
            spill,
            progress,
            cancelled: self.cancel.clone().unwrap_or_default(),
            failure: Mutex::new(None),
        };
        let result = self.execute_stages(&state);
        state.outputs.release_all();
        let stats = state.pool.stats();
        *self.last_stats.lock().unwrap_or_else(|p| p.into_inner()) = Some(stats);
        if result.is_ok() {
            // A failed job's error is its last word on stderr.
            progress.event(&ProgressEvent::Memory(stats));
        }
        result
    }
}

impl EmbeddedExecutor {
    fn execute_stages(&self, state: &RunState<'_>) -> Result<JobOutput, JobError> {
        let plan = &state.run.plan;
        let last_readers = plan.last_readers();
        let last = plan.stages().len() - 1;
        for (index, stage) in plan.stages().iter().enumerate() {
            let started = Instant::now();
            state.progress.event(&ProgressEvent::StageStarted {
                stage: index as u32,
                name: stage.name(),
                tasks: stage.partitions(),
            });
            self.run_stage(state, index);
            if let Some(err) = state
                .failure
                .lock()
                .unwrap_or_else(|p| p.into_inner())
                .take()
            {
                return Err(err);
            }
            if state.cancelled.load(Ordering::Relaxed) {
                return Err(JobError::Cancelled {
                    job_id: state.run.id.clone(),
                });
            }
            state.progress.event(&ProgressEvent::StageFinished {
                stage: index as u32,
                name: stage.name(),
                elapsed: started.elapsed(),
            });
            for (earlier, &reader) in last_readers.iter().enumerate().take(index + 1) {
                if reader == index && earlier != last {
                    state.outputs.release(earlier);
                }
            }
        }
        let results = state
            .outputs
            .results_of(StageRef(last as u32))
            .map_err(|e| JobError::Executor { message: e.chain() })?;
        Ok(JobOutput::new(state.run.id.clone(), results))
    }
}
