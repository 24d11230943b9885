//! The cluster executor: the driver side of a job.
//!
//! Per stage, the driver enqueues one entry per partition on the task
//! stream, then follows the job's event stream. It resubmits (with the
//! next attempt number) when an attempt fails retryably, when the worker
//! holding it stops heartbeating, when it straggles far behind the
//! stage's median, or when Redis restarted and lost the queue. Whatever
//! happens, the store's first-commit-wins rule keeps exactly one output
//! per partition, and the driver counts a partition once.

use std::collections::{HashMap, HashSet};
use std::time::{Duration, Instant};

use shoal_core::retry::TaskAttempts;
use shoal_core::{Executor, JobError, JobOutput, JobRun, ProgressEvent, ProgressSink, StageOutput};
use shoal_store::Store;

mod bound;
mod capable;
mod events;
mod record;
mod upkeep;
mod vanished;

use crate::clock::now_ms;
use crate::control::Control;
use crate::protocol::{Event, TaskEntry, TaskRef};
use crate::reply::{stream_entries, Entry};
use crate::results::{self, ResultSlot};
use crate::{keys, ClusterError};
use record::Record;

/// How the driver runs jobs on the cluster.
#[derive(Debug, Clone)]
pub struct ClusterConfig {
    /// `redis://` URL of the control plane.
    pub coord_url: String,
    /// Store URL shared by every node (partition files, results).
    pub store_url: String,
    /// Failed attempts per task before the job fails.
    pub max_attempts: u32,
    /// A worker silent this long has its tasks run elsewhere.
    pub worker_timeout: Duration,
    /// How long the control plane may be unreachable before the job fails.
    pub outage_timeout: Duration,
    /// How long the job may have no live worker that runs it (none
    /// registered yet, or every one gone) before it fails; its tasks stay
    /// queued meanwhile, for workers that join. `None`: the worker timeout.
    pub wait_for_workers: Option<Duration>,
    /// Run a second attempt of stragglers.
    pub speculation: bool,
    /// How long the job's record (hash and trace, for `shoal status` and
    /// `shoal ui`) stays after it ends; see `history.rs`.
    pub history: Duration,
    /// Setting this flag cancels the job as `shoal cancel` would (the
    /// driver's Ctrl-C): workers stop its tasks and the run ends
    /// Cancelled.
    pub cancel: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
}

impl ClusterConfig {
    /// Defaults: 3 attempts, 10 s worker timeout, 30 s outage limit, a
    /// worker timeout's wait for a worker that runs the job, speculation on,
    /// records kept 24 h.
    pub fn new(coord_url: &str, store_url: &str) -> Self {
        ClusterConfig {
            coord_url: coord_url.to_string(),
            store_url: store_url.to_string(),
            max_attempts: 3,
            worker_timeout: Duration::from_secs(10),
            outage_timeout: Duration::from_secs(30),
            wait_for_workers: None,
            speculation: true,
            history: Duration::from_secs(HISTORY_SECONDS),
            cancel: None,
        }
    }
}

/// Runs plans on `shoal worker` processes through Redis.
#[derive(Debug, Clone)]
pub struct ClusterExecutor {
    config: ClusterConfig,
}

impl ClusterExecutor {
    /// Validates the URLs; connects when a job runs.
    pub fn new(config: ClusterConfig) -> Result<Self, ClusterError> {
        crate::control::parse_target(&config.coord_url)?;
        Store::open(&config.store_url)?;
        Ok(ClusterExecutor { config })
    }
}

fn executor_error(err: ClusterError) -> JobError {
    match err {
        ClusterError::Store(err) => JobError::Store(err),
        other => JobError::Executor {
            message: other.to_string(),
        },
    }
}

/// Progress of one stage as the driver sees it.
struct StageTracker {
    done: Vec<bool>,
    remaining: u32,
    /// Latest attempt number issued per partition.
    attempt: Vec<u32>,
    /// The failed attempts of each partition (the retry policy's record).
    failures: Vec<TaskAttempts>,
    submitted_at: Vec<Instant>,
    speculated: Vec<bool>,
    durations_ms: Vec<u64>,
    /// Task-stream entry ids we issued, to find ours among a dead worker's
    /// (hashed with ahash: SipHash was about 5% of the driver's CPU on tiny tasks).
    entries: HashMap<String, u32, ahash::RandomState>,
    /// Where each partition's result is (results stages only).
    results: Vec<Option<ResultSlot>>,
    /// Unfinished partitions found without any task entry at the last
    /// check (see `vanished.rs`), and when that check ran.
    suspected: HashSet<u32>,
    last_vanish_check: Instant,
}

impl StageTracker {
    fn new(partitions: u32) -> Self {
        let n = partitions as usize;
        StageTracker {
            done: vec![false; n],
            remaining: partitions,
            attempt: vec![0; n],
            failures: vec![TaskAttempts::default(); n],
            submitted_at: vec![Instant::now(); n],
            speculated: vec![false; n],
            durations_ms: Vec::new(),
            entries: HashMap::with_capacity_and_hasher(n, ahash::RandomState::new()),
            results: vec![None; n],
            suspected: HashSet::new(),
            last_vanish_check: Instant::now(),
        }
    }
}

/// One job being driven.
struct Drive<'a> {
    config: &'a ClusterConfig,
    run: &'a JobRun,
    progress: &'a dyn ProgressSink,
    control: Control,
    /// The job's fingerprint (`name@version`).
    fingerprint: String,
    /// The task stream of that fingerprint, where this job's tasks queue.
    tasks: String,
    /// This job's event stream.
    events: String,
    events_from: String,
    run_id: String,
    last_upkeep: Instant,
    /// When the last renewal of the job's liveness that succeeded was sent
    /// (see `bound.rs`).
    renewed_at: Instant,
    /// Result locations of the last finished results stage.
    last_results: Vec<ResultSlot>,
    /// When a live worker running this job was last seen (at first, the
    /// job's start; see `capable.rs`).
    capable_seen: Instant,
    /// What the dashboard and `/metrics` learn of this job.
    record: Record,
}

impl Executor for ClusterExecutor {
    fn execute(&self, run: &JobRun, progress: &dyn ProgressSink) -> Result<JobOutput, JobError> {
        let store = Store::open(&self.config.store_url)?;
        let control = Control::open(
            &self.config.coord_url,
            Duration::from_secs(5),
            self.config.outage_timeout,
        )
        .map_err(executor_error)?;
        let fingerprint = run.fingerprint();
        let mut drive = Drive {
            config: &self.config,
            run,
            progress,
            control,
            tasks: keys::tasks(&fingerprint),
            fingerprint,
            events: keys::job_events(&run.id),
            events_from: "0-0".into(),
            run_id: String::new(),
            last_upkeep: Instant::now(),
            renewed_at: Instant::now(),
            last_results: Vec::new(),
            capable_seen: Instant::now(),
            record: Record::new(&run.spec.job, &stage_list(run), now_ms()),
        };
        let outcome = drive.start().and_then(|()| drive.stages(&store));
        let (state, error) = match &outcome {
            Ok(_) => ("succeeded", String::new()),
            Err(JobError::Cancelled { .. }) => ("cancelled", String::new()),
            Err(err) => ("failed", err.to_string()),
        };
        drive.finish(state, &error);
        drive.clean_up(&store);
        outcome
    }
}

impl Drive<'_> {
    fn start(&mut self) -> Result<(), JobError> {
        let tasks = self.tasks.clone();
        self.control.ensure_group(&tasks).map_err(executor_error)?;
        self.run_id = self.control.run_id().map_err(executor_error)?;
        self.publish_job().map_err(executor_error)?;
        // Housekeeping for every job's record, not ours: it must not fail ours.
        if let Err(err) =
            crate::history::prune_jobs(&mut self.control, self.config.history, now_ms())
        {
            tracing::warn!("could not prune the job index: {err}");
        }
        Ok(())
    }

    fn publish_job(&mut self) -> Result<(), ClusterError> {
        let id = &self.run.id;
        let spec = serde_json::to_string(&self.run.spec).map_err(|e| ClusterError::Protocol {
            op: "publish job",
            detail: e.to_string(),
        })?;
        let stages = self.run.plan.stages().len();
        let bound = self.config.outage_timeout.as_millis() as u64;
        // First the state, atomically: a job a sweep gave up stays given up.
        self.claim()?;
        self.control.run("publish job", Duration::ZERO, |c| {
            let mut pipe = redis::pipe();
            pipe.cmd("HSET")
                .arg(keys::job(id))
                .arg("spec")
                .arg(&spec)
                .arg("job")
                .arg(&self.run.spec.job)
                .arg("fingerprint")
                .arg(&self.fingerprint)
                .arg("stages")
                .arg(stages)
                .arg("started_ms")
                .arg(now_ms())
                .arg(crate::abandoned::BOUND_FIELD)
                .arg(bound)
                .arg(crate::abandoned::HISTORY_FIELD)
                .arg(self.config.history.as_millis() as u64)
                .ignore()
                .cmd("ZADD")
                .arg(keys::JOBS)
                .arg(now_ms())
                .arg(id)
                .ignore()
                .cmd("SADD")
                .arg(keys::UNSWEPT)
                .arg(id)
                .ignore();
            // Workers report with NOMKSTREAM, so the stream must exist.
            pipe.cmd("XADD").arg(keys::job_events(id)).arg("*");
            Event::Start.encode(&mut pipe);
            pipe.ignore().query::<()>(c)
        })
    }

    fn finish(&mut self, state: &str, error: &str) {
        let id = self.run.id.clone();
        // The final record, kept as long as the job's hash.
        let mut pipe = redis::pipe();
        self.record.touch();
        let history_ms = self.config.history.as_millis() as u64;
        self.record.flush(&mut pipe, &id, Some(history_ms));
        pipe.cmd("HSET")
            .arg(keys::job(&id))
            .arg("state")
            .arg(state)
            .arg("error")
            .arg(error)
            .arg("finished_ms")
            .arg(now_ms())
            .ignore()
            .cmd("HDEL")
            .arg(keys::job(&id))
            .arg("spec")
            .ignore()
            .cmd("PEXPIRE")
            .arg(keys::job(&id))
            .arg(history_ms)
            .ignore()
            .cmd("DEL")
            .arg(keys::job_alive(&id))
            .arg(keys::job_events(&id))
            .ignore();
        let _ = self
            .control
            .run("finish job", Duration::ZERO, |c| pipe.query::<()>(c));
    }

    fn stages(&mut self, store: &Store) -> Result<JobOutput, JobError> {
        let plan = &self.run.plan;
        for (index, stage) in plan.stages().iter().enumerate() {
            let started = Instant::now();
            self.progress.event(&ProgressEvent::StageStarted {
                stage: index as u32,
                name: stage.name(),
                tasks: stage.partitions(),
            });
            self.run_stage(index as u32, store).map_err(|e| match e {
                Failure::Job(err) => err,
                Failure::Cluster(err) => executor_error(err),
            })?;
            self.progress.event(&ProgressEvent::StageFinished {
                stage: index as u32,
                name: stage.name(),
                elapsed: started.elapsed(),
            });
        }
        let last = plan.stages().len() as u32 - 1;
        let slots = std::mem::take(&mut self.last_results);
        let results = results::resolve(store, &self.run.id, last, slots)?;
        Ok(JobOutput::new(self.run.id.clone(), results))
    }

    fn run_stage(&mut self, stage: u32, store: &Store) -> Result<(), Failure> {
        let partitions = self.run.plan.stages()[stage as usize].partitions();
        let mut tracker = StageTracker::new(partitions);
        self.record.trace.stage_started(stage, now_ms());
        self.set_stage_progress(stage, &tracker)?;
        let all: Vec<u32> = (0..partitions).collect();
        let followed = self
            .submit(stage, &all, &mut tracker)
            .map_err(Failure::from)
            .and_then(|()| self.follow_stage(stage, &mut tracker));
        // Not after an outage: Redis is the problem then, and the next
        // driver's sweep or the workers' skips clear the entries.
        if matches!(
            followed,
            Err(Failure::Job(_) | Failure::Cluster(ClusterError::NoCapableWorkers { .. }))
        ) {
            self.withdraw(&tracker);
        }
        followed?;
        self.record.trace.stage_finished(stage, now_ms());
        self.set_stage_progress(stage, &tracker)?;
        self.keep_results(stage, tracker, store)?;
        Ok(())
    }

    /// Reads reports and keeps the stage going until every partition is done.
    fn follow_stage(&mut self, stage: u32, tracker: &mut StageTracker) -> Result<(), Failure> {
        while tracker.remaining > 0 {
            for entry in self.read_events()? {
                for event in Event::decode_all(&self.events, entry) {
                    self.handle_event(stage, event, tracker)?;
                }
            }
            if self.last_upkeep.elapsed() >= Duration::from_millis(500) {
                self.upkeep(stage, tracker)?;
                self.last_upkeep = Instant::now();
            }
        }
        Ok(())
    }

    /// A failed or cancelled job takes its queued entries back, so that a
    /// stream no worker reads (the job's fingerprint has none) is not left
    /// holding them. Best effort: workers skip a finished job's entries anyway.
    fn withdraw(&mut self, tracker: &StageTracker) {
        let ids: Vec<&String> = tracker.entries.keys().collect();
        let stream = &self.tasks;
        for chunk in ids.chunks(1000) {
            let _ = self.control.run("XDEL tasks", Duration::ZERO, |c| {
                redis::cmd("XDEL").arg(stream).arg(chunk).query::<()>(c)
            });
        }
    }

    /// Keeps a finished results stage's result locations for the job's
    /// output, and writes its results index when a later stage reads it.
    fn keep_results(
        &mut self,
        stage: u32,
        tracker: StageTracker,
        store: &Store,
    ) -> Result<(), ClusterError> {
        let stages = self.run.plan.stages();
        if !matches!(stages[stage as usize].output(), StageOutput::Results) {
            return Ok(());
        }
        let slots: Vec<ResultSlot> = tracker
            .results
            .into_iter()
            .map(|slot| slot.unwrap_or(ResultSlot::Stored))
            .collect();
        let read_later = stages[stage as usize + 1..]
            .iter()
            .any(|later| later.inputs().iter().any(|from| from.0 == stage));
        if read_later {
            results::write_index(store, &self.run.id, stage, &slots)?;
        }
        self.last_results = slots;
        Ok(())
    }

    fn read_events(&mut self) -> Result<Vec<Entry>, ClusterError> {
        let key = &self.events;
        let from = &self.events_from;
        let reply = self
            .control
            .run("XREAD events", Duration::from_millis(200), |c| {
                redis::cmd("XREAD")
                    .arg("COUNT")
                    .arg(EVENTS_PER_READ)
                    .arg("BLOCK")
                    .arg(200)
                    .arg("STREAMS")
                    .arg(key)
                    .arg(from)
                    .query::<redis::Value>(c)
            })?;
        let events = stream_entries("XREAD events", reply)?;
        if let Some(last) = events.last() {
            self.events_from = last.id.clone();
        }
        Ok(events)
    }

    /// Enqueues the next attempt of each partition in `partitions`.
    fn submit(
        &mut self,
        stage: u32,
        partitions: &[u32],
        tracker: &mut StageTracker,
    ) -> Result<(), ClusterError> {
        for chunk in partitions.chunks(1000) {
            let mut entry = TaskEntry {
                job_id: self.run.id.clone(),
                task: TaskRef {
                    stage,
                    partition: 0,
                    attempt: 0,
                },
            };
            let stream = &self.tasks;
            let ids: Vec<String> = self.control.run("XADD tasks", Duration::ZERO, |c| {
                let mut pipe = redis::pipe();
                for &p in chunk {
                    entry.task.partition = p;
                    entry.task.attempt = tracker.attempt[p as usize];
                    pipe.cmd("XADD").arg(stream).arg("*");
                    entry.encode(&mut pipe);
                }
                pipe.query(c)
            })?;
            for (entry, &p) in ids.into_iter().zip(chunk) {
                tracker.entries.insert(entry, p);
                tracker.submitted_at[p as usize] = Instant::now();
            }
        }
        Ok(())
    }

    fn resubmit(
        &mut self,
        stage: u32,
        partitions: &[u32],
        tracker: &mut StageTracker,
    ) -> Result<(), ClusterError> {
        for &p in partitions {
            tracker.attempt[p as usize] += 1;
        }
        let speculative = partitions
            .iter()
            .filter(|&&p| tracker.speculated[p as usize] && !tracker.done[p as usize])
            .count() as u64;
        let trace = &mut self.record.trace;
        trace.resubmitted(stage, partitions.len() as u64 - speculative, false);
        trace.resubmitted(stage, speculative, true);
        self.submit(stage, partitions, tracker)
    }
}

/// Most event entries read at once. A worker's entry carries up to 128
/// reports (see `worker/report.rs`), so a read can bring tens of thousands:
/// enough, and bounded so that upkeep (liveness renewal) is never late.
pub(crate) const EVENTS_PER_READ: usize = 256;

/// How long a finished job's records (hash, trace) stay for `shoal status`
/// and the dashboard, unless its driver says otherwise
/// ([`ClusterConfig::history`], kept in the job hash for the workers' sweep
/// to follow when it gives the job up); also how long the hash of a job
/// found abandoned stays until the sweep gives it up, and that of a job the
/// sweep adopted from the store (its driver's setting went with Redis's
/// data).
pub(crate) const HISTORY_SECONDS: u64 = 86_400;

/// The plan's stages as the record lists them: name and tasks.
fn stage_list(run: &JobRun) -> Vec<(String, u64)> {
    run.plan
        .stages()
        .iter()
        .map(|s| (s.name().to_string(), s.partitions() as u64))
        .collect()
}

/// Why a stage stopped: the job failed, or the cluster did.
enum Failure {
    Job(JobError),
    Cluster(ClusterError),
}

impl From<ClusterError> for Failure {
    fn from(err: ClusterError) -> Self {
        Failure::Cluster(err)
    }
}
