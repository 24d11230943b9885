//! `shoal worker`: pull tasks from Redis, run them, commit to the store.
//!
//! Threads, each with its own Redis connection where it needs one:
//! - the **fetch loop** (the caller's thread, `fetch.rs`) claims batches of
//!   task entries, sized by how long tasks take here, from the task
//!   streams of the jobs in its registry and no others (`claim.rs`);
//! - **slots** (`task.rs`) run tasks: rebuild the job's plan from its spec
//!   (cached), run the attempt, commit its output (small results inline);
//! - the **reporter** (`report.rs`) batches outcomes: one pipeline of XADD
//!   reports to the jobs' event streams plus one XACK and XDEL per batch;
//!   the fetch loop runs again what is pending under the worker's name but
//!   not held by it — a claim whose reply was lost (`orphans.rs`);
//! - the **heartbeat** renews the worker's registration every second;
//!   the key expires when heartbeats stop, which is how drivers and
//!   `shoal status` learn that a worker is gone. A worker restarted under
//!   the same name before that first hands its predecessor's tasks back
//!   (`handover.rs`);
//! - the **sweeper** (`sweeper.rs`) deletes the objects of jobs whose
//!   driver is gone for good, or whose own cleanup failed.

mod activity;
mod claim;
mod fetch;
mod handover;
mod liveness;
mod orphans;
mod report;
mod sweeper;
mod task;
#[cfg(test)]
mod test_streams;
mod watch;

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use shoal_core::{install_quiet_panic_hook, Registry};
use shoal_store::Store;

use crate::clock::now_ms;
use crate::control::Control;
use crate::protocol::WorkerInfo;
use crate::{keys, ClusterError};
pub use activity::{Activity, ActivitySnapshot, StageCounts};
use claim::Claimer;
use fetch::Pace;
use orphans::Holdings;
use task::{Assignment, Finished, Jobs};

/// How a worker connects and how much it runs at once.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// `redis://` URL of the control plane.
    pub coord_url: String,
    /// Store URL shared by every node.
    pub store_url: String,
    /// Unique worker name (default: host-pid).
    pub name: String,
    /// Tasks run at once.
    pub slots: usize,
    /// After this long without a heartbeat the worker counts as gone.
    pub heartbeat_ttl: Duration,
}

/// A running worker.
pub struct Worker {
    config: WorkerConfig,
    registry: Registry,
    /// Fingerprints of the registry's jobs, sorted: what this worker offers.
    offers: Vec<String>,
    /// Task entries claimed so far, per fingerprint (as `offers`).
    claims: Vec<AtomicU64>,
    store: Store,
    stop: Arc<AtomicBool>,
    /// Tasks executing right now (reported in heartbeats).
    running: AtomicUsize,
    /// Tasks claimed and not yet finished: running or queued for a slot.
    held: AtomicUsize,
    /// How few held tasks the fetch loop waits for: a slot that leaves no
    /// more than this held signals it (`fetch.rs`).
    wake_at: AtomicUsize,
    /// Entries claimed and not yet acknowledged, by id (orphans.rs).
    holdings: Holdings,
    pace: Pace,
    /// Attempts running now, watched for cancellation.
    running_attempts: watch::Running,
    /// When a heartbeat last reached Redis (ms since the epoch).
    last_beat_ms: AtomicU64,
    /// Counts, recent attempts and resource use (heartbeats, `/metrics`).
    activity: Arc<Activity>,
}

impl Worker {
    /// Validates the configuration and opens the store. Nothing connects yet.
    pub fn new(config: WorkerConfig, registry: Registry) -> Result<Worker, ClusterError> {
        crate::control::parse_target(&config.coord_url)?;
        let store = Store::open(&config.store_url)?;
        install_quiet_panic_hook();
        let mut offers: Vec<String> = registry
            .jobs()
            .map(|job| shoal_core::fingerprint(job.as_ref()))
            .collect();
        offers.sort();
        Ok(Worker {
            config,
            registry,
            claims: offers.iter().map(|_| AtomicU64::new(0)).collect(),
            offers,
            store,
            stop: Arc::new(AtomicBool::new(false)),
            running: AtomicUsize::new(0),
            held: AtomicUsize::new(0),
            wake_at: AtomicUsize::new(usize::MAX),
            holdings: Holdings::default(),
            pace: Pace::default(),
            running_attempts: watch::Running::default(),
            last_beat_ms: AtomicU64::new(now_ms()),
            activity: Arc::new(Activity::default()),
        })
    }

    /// Setting this flag stops the worker gracefully: no new tasks are
    /// fetched, in-flight tasks finish and are reported, then it deregisters.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
    }

    /// Fingerprints (`name@version`) of the jobs this worker runs, sorted:
    /// it claims tasks of these jobs and of no others.
    pub fn offers(&self) -> &[String] {
        &self.offers
    }

    /// How many task entries this worker has claimed, per job fingerprint
    /// (every job it offers, zero or not).
    pub fn claimed(&self) -> BTreeMap<String, u64> {
        self.offers
            .iter()
            .zip(&self.claims)
            .map(|(job, n)| (job.clone(), n.load(Ordering::Relaxed)))
            .collect()
    }

    /// Counts `n` entries claimed from task stream `stream`.
    fn count_claims(&self, stream: &str, n: usize) {
        let job = keys::fingerprint_of_tasks(stream);
        if let Ok(i) = self
            .offers
            .binary_search_by(|offer| offer.as_str().cmp(job))
        {
            self.claims[i].fetch_add(n as u64, Ordering::Relaxed);
        }
    }

    /// What this worker has done: for its `/metrics` endpoint.
    pub fn activity(&self) -> Arc<Activity> {
        self.activity.clone()
    }

    /// Task slots.
    pub fn slots(&self) -> usize {
        self.config.slots
    }

    fn control(&self) -> Result<Control, ClusterError> {
        Control::open(
            &self.config.coord_url,
            Duration::from_secs(5),
            Duration::from_secs(5),
        )
    }

    /// Registers, then runs until the stop flag is set. Fails only when the
    /// control plane cannot be reached at start.
    pub fn run(&self) -> Result<(), ClusterError> {
        let mut control = self.control()?;
        control.run("PING", Duration::ZERO, |c| {
            redis::cmd("PING").query::<String>(c)
        })?;
        let mut claimer = Claimer::new(&self.offers);
        self.ensure_groups(&mut control, &claimer)?;
        // Before claiming anything: what is pending under our name now is
        // a predecessor's.
        self.hand_over_predecessors_tasks(&mut control, claimer.streams())?;
        self.heartbeat(&mut control)?;
        // Unbounded: the fetch loop bounds what it claims (see fetch.rs).
        let (task_tx, task_rx) = crossbeam_channel::unbounded::<Assignment>();
        let (report_tx, report_rx) = crossbeam_channel::unbounded::<Finished>();
        // Slots signal here when they leave few enough tasks held for the
        // fetch loop to claim (`wake_at`), so a full worker waits instead
        // of polling, and is not woken at every tiny task.
        let (freed_tx, freed_rx) = crossbeam_channel::bounded::<()>(self.config.slots);
        let jobs = Jobs::default();
        let slots_done = AtomicBool::new(false);
        // Every line any of the worker's threads logs names the worker.
        let span = tracing::info_span!("worker", worker = %self.config.name);
        let _in_span = span.enter();
        std::thread::scope(|scope| {
            scope.spawn(in_span(&span, || self.heartbeat_loop()));
            scope.spawn(in_span(&span, || self.watch_loop(&slots_done)));
            scope.spawn(in_span(&span, || self.sweep_loop()));
            let reporter = scope.spawn(in_span(&span, || self.report_loop(report_rx)));
            let slots: Vec<_> = (0..self.config.slots)
                .map(|_| {
                    let (rx, tx, freed) = (task_rx.clone(), report_tx.clone(), freed_tx.clone());
                    let jobs = &jobs;
                    scope.spawn(in_span(&span, move || self.slot_loop(rx, tx, freed, jobs)))
                })
                .collect();
            drop(report_tx);
            drop(freed_tx);
            self.fetch_loop(&mut control, &mut claimer, task_tx, freed_rx);
            for slot in slots {
                let _ = slot.join();
            }
            slots_done.store(true, Ordering::Relaxed);
            let _ = reporter.join();
        });
        self.deregister(&mut control);
        Ok(())
    }

    /// What this worker says about itself right now.
    fn info(&self) -> WorkerInfo {
        WorkerInfo {
            host: std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into()),
            slots: self.config.slots as u64,
            running: self.running.load(Ordering::Relaxed) as u64,
            pid: std::process::id(),
            version: env!("CARGO_PKG_VERSION").to_string(),
            beat_ms: now_ms(),
            jobs: self.offers.clone(),
            load: self.activity.load(),
        }
    }

    fn heartbeat(&self, control: &mut Control) -> Result<(), ClusterError> {
        let key = keys::worker(&self.config.name);
        let ttl = self.config.heartbeat_ttl.as_millis().max(1) as u64;
        let info = self.info();
        let mut pipe = redis::pipe();
        pipe.cmd("HSET").arg(&key);
        info.encode(&mut pipe);
        pipe.ignore()
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl)
            .ignore()
            .cmd("SADD")
            .arg(keys::WORKERS)
            .arg(&self.config.name)
            .ignore();
        // The worker's page lists its recent attempts; they ride along.
        let recent = keys::worker_recent(&self.config.name);
        match self.activity.recent_if_changed() {
            Some(json) => pipe.cmd("SET").arg(&recent).arg(json).arg("PX").arg(ttl),
            None => pipe.cmd("PEXPIRE").arg(&recent).arg(ttl),
        }
        .ignore();
        let sent_at = now_ms();
        control.run("heartbeat", Duration::ZERO, |c| pipe.query::<()>(c))?;
        self.last_beat_ms.store(sent_at, Ordering::Relaxed);
        Ok(())
    }

    fn heartbeat_loop(&self) {
        let Ok(mut control) = self.control() else {
            return;
        };
        let period = (self.config.heartbeat_ttl / 5)
            .clamp(Duration::from_millis(100), Duration::from_secs(1));
        let mut next = Instant::now();
        while !self.stop.load(Ordering::Relaxed) {
            if Instant::now() >= next {
                if let Err(err) = self.heartbeat(&mut control) {
                    tracing::warn!("heartbeat failed: {err}");
                }
                next = Instant::now() + period;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    fn deregister(&self, control: &mut Control) {
        let _ = control.run("deregister", Duration::ZERO, |c| {
            redis::pipe()
                .cmd("DEL")
                .arg(keys::worker(&self.config.name))
                .arg(keys::worker_recent(&self.config.name))
                .ignore()
                .cmd("SREM")
                .arg(keys::WORKERS)
                .arg(&self.config.name)
                .ignore()
                .query::<()>(c)
        });
    }
}

/// `f`, to run on another thread inside `span`: a span does not follow
/// work onto a spawned thread by itself.
fn in_span<T>(span: &tracing::Span, f: impl FnOnce() -> T + Send) -> impl FnOnce() -> T + Send {
    let span = span.clone();
    move || span.in_scope(f)
}
