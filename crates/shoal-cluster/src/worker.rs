//! `shoal worker`: pull tasks from Redis, run them, commit to the store.
//!
//! Threads, each with its own Redis connection where it needs one:
//! - the **fetch loop** (the caller's thread) reads batches of task
//!   entries with XREADGROUP, never more than there are free slots;
//! - **slots** run tasks: rebuild the job's plan from its spec (cached),
//!   run the attempt, commit its output to the store;
//! - the **reporter** batches outcomes: one pipeline of XADD reports to
//!   the jobs' event streams plus one XACK for the whole batch;
//! - the **heartbeat** renews the worker's registration every second;
//!   the key expires when heartbeats stop, which is how drivers and
//!   `shoal status` learn that a worker is gone.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crossbeam_channel::{Receiver, Sender};
use shoal_core::{
    install_quiet_panic_hook, run_attempt, JobSpec, Plan, ProgressEvent, ProgressSink, Registry,
    TaskContext, TaskErrorKind,
};
use shoal_store::Store;

use crate::control::Control;
use crate::data::{commit, is_committed, StoreData};
use crate::reply::stream_entries;
use crate::{keys, ClusterError};

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

/// A task handed to a slot.
struct Assignment {
    entry_id: String,
    job_id: String,
    stage: u32,
    partition: u32,
    attempt: u32,
}

/// What a slot reports for an assignment.
struct Report {
    entry_id: String,
    job_id: String,
    fields: Vec<(&'static str, String)>,
}

/// A job's plan, rebuilt on this node from its spec.
struct LoadedJob {
    plan: Plan,
    /// When liveness was last confirmed, and the answer.
    checked: Mutex<(Instant, bool)>,
}

/// A running worker.
pub struct Worker {
    config: WorkerConfig,
    registry: Registry,
    store: Store,
    stop: Arc<AtomicBool>,
    running: Arc<AtomicUsize>,
}

fn now_ms() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as u64)
}

impl Worker {
    /// Validates the configuration and opens the store. Nothing connects yet.
    pub fn new(config: WorkerConfig, registry: Registry) -> Result<Worker, ClusterError> {
        crate::control::parse_target(&config.coord_url)?;
        let store = Store::open(&config.store_url)?;
        install_quiet_panic_hook();
        Ok(Worker {
            config,
            registry,
            store,
            stop: Arc::new(AtomicBool::new(false)),
            running: Arc::new(AtomicUsize::new(0)),
        })
    }

    /// Setting this flag stops the worker gracefully: no new tasks are
    /// fetched, in-flight tasks finish and are reported, then it deregisters.
    pub fn stop_flag(&self) -> Arc<AtomicBool> {
        self.stop.clone()
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
        control.ensure_group()?;
        self.heartbeat(&mut control)?;
        let (task_tx, task_rx) = crossbeam_channel::bounded::<Assignment>(self.config.slots);
        let (report_tx, report_rx) = crossbeam_channel::unbounded::<Report>();
        // Slots signal here when they finish, so a full worker waits for a
        // free slot instead of polling.
        let (freed_tx, freed_rx) = crossbeam_channel::bounded::<()>(self.config.slots);
        let jobs: Mutex<HashMap<String, Arc<LoadedJob>>> = Mutex::new(HashMap::new());
        std::thread::scope(|scope| {
            scope.spawn(|| self.heartbeat_loop());
            let reporter = scope.spawn(|| self.report_loop(report_rx));
            let slots: Vec<_> = (0..self.config.slots)
                .map(|_| {
                    let (rx, tx, freed) = (task_rx.clone(), report_tx.clone(), freed_tx.clone());
                    let jobs = &jobs;
                    scope.spawn(move || self.slot_loop(rx, tx, freed, jobs))
                })
                .collect();
            drop(report_tx);
            drop(freed_tx);
            self.fetch_loop(&mut control, task_tx, freed_rx);
            for slot in slots {
                let _ = slot.join();
            }
            let _ = reporter.join();
        });
        self.deregister(&mut control);
        Ok(())
    }

    fn fetch_loop(&self, control: &mut Control, tasks: Sender<Assignment>, freed: Receiver<()>) {
        while !self.stop.load(Ordering::Relaxed) {
            let free = self
                .config
                .slots
                .saturating_sub(self.running.load(Ordering::Relaxed));
            if free == 0 {
                // Bounded so the stop flag is still seen promptly.
                let _ = freed.recv_timeout(Duration::from_millis(100));
                continue;
            }
            let reply = control.run("XREADGROUP", Duration::from_millis(500), |c| {
                redis::cmd("XREADGROUP")
                    .arg("GROUP")
                    .arg(keys::GROUP)
                    .arg(&self.config.name)
                    .arg("COUNT")
                    .arg(free)
                    .arg("BLOCK")
                    .arg(500)
                    .arg("STREAMS")
                    .arg(keys::TASKS)
                    .arg(">")
                    .query::<redis::Value>(c)
            });
            let entries = match reply.and_then(|r| stream_entries("XREADGROUP", &r)) {
                Ok(entries) => entries,
                Err(err) if err.is_no_group() => {
                    let _ = control.ensure_group();
                    continue;
                }
                Err(err) => {
                    eprintln!("shoal worker {}: {err}; retrying", self.config.name);
                    continue;
                }
            };
            for entry in entries {
                let assignment = Assignment {
                    job_id: entry.get("j").unwrap_or_default().to_string(),
                    stage: entry.num("s").unwrap_or(0),
                    partition: entry.num("p").unwrap_or(0),
                    attempt: entry.num("a").unwrap_or(0),
                    entry_id: entry.id,
                };
                self.running.fetch_add(1, Ordering::Relaxed);
                if tasks.send(assignment).is_err() {
                    return;
                }
            }
        }
    }

    fn slot_loop(
        &self,
        tasks: Receiver<Assignment>,
        reports: Sender<Report>,
        freed: Sender<()>,
        jobs: &Mutex<HashMap<String, Arc<LoadedJob>>>,
    ) {
        let mut control = match self.control() {
            Ok(control) => control,
            Err(_) => return,
        };
        for task in tasks {
            let fields = self.run_assignment(&mut control, &task, jobs);
            self.running.fetch_sub(1, Ordering::Relaxed);
            let _ = freed.try_send(());
            let _ = reports.send(Report {
                entry_id: task.entry_id,
                job_id: task.job_id,
                fields,
            });
        }
    }

    /// Runs one assignment and says what to report. An empty report means
    /// "acknowledge only" (the job is gone or cancelled).
    fn run_assignment(
        &self,
        control: &mut Control,
        task: &Assignment,
        jobs: &Mutex<HashMap<String, Arc<LoadedJob>>>,
    ) -> Vec<(&'static str, String)> {
        let started = Instant::now();
        let base = |kind: &str| {
            vec![
                ("k", kind.to_string()),
                ("s", task.stage.to_string()),
                ("p", task.partition.to_string()),
                ("a", task.attempt.to_string()),
                ("w", self.config.name.clone()),
            ]
        };
        let job = match self.load_job(control, &task.job_id, jobs) {
            Ok(Some(job)) => job,
            Ok(None) => return Vec::new(),
            Err(message) => {
                let mut fields = base("fail");
                fields.push(("kind", "fatal".into()));
                fields.push(("e", message));
                return fields;
            }
        };
        if !self.job_alive(control, &task.job_id, &job) {
            return Vec::new();
        }
        let plan = &job.plan;
        if task.stage as usize >= plan.stages().len()
            || task.partition >= plan.stages()[task.stage as usize].partitions()
        {
            let mut fields = base("fail");
            fields.push(("kind", "fatal".into()));
            fields.push((
                "e",
                format!("no task s{}/p{} in this plan", task.stage, task.partition),
            ));
            return fields;
        }
        // A resubmitted task may already be committed (its first worker
        // was only slow): report it done without running it again.
        if task.attempt > 0
            && is_committed(&self.store, &task.job_id, plan, task.stage, task.partition)
                .unwrap_or(false)
        {
            return base("done");
        }
        let data = StoreData {
            store: &self.store,
            job_id: &task.job_id,
            plan,
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
        // then there is nothing to commit to (and nobody to report to).
        if outcome.is_ok() && !self.job_alive(control, &task.job_id, &job) {
            return Vec::new();
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
            Ok(_) => {
                let (rows, bytes) = *counter.0.lock().unwrap_or_else(|p| p.into_inner());
                let mut fields = base("done");
                fields.push(("ms", started.elapsed().as_millis().to_string()));
                fields.push(("rows", rows.to_string()));
                fields.push(("bytes", bytes.to_string()));
                fields
            }
            Err(err) => {
                let kind = match err.kind() {
                    TaskErrorKind::Retryable => "retryable",
                    TaskErrorKind::Input => "input",
                    TaskErrorKind::Fatal => "fatal",
                };
                let mut fields = base("fail");
                fields.push(("kind", kind.into()));
                fields.push(("e", err.chain()));
                fields
            }
        }
    }

    /// The job's plan, rebuilt from its spec in Redis. `Ok(None)`: the job
    /// no longer exists. `Err`: it exists but cannot be planned here.
    fn load_job(
        &self,
        control: &mut Control,
        job_id: &str,
        jobs: &Mutex<HashMap<String, Arc<LoadedJob>>>,
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
            checked: Mutex::new((Instant::now(), true)),
        });
        let mut jobs = jobs.lock().unwrap_or_else(|p| p.into_inner());
        if jobs.len() > 64 {
            jobs.clear();
        }
        jobs.insert(job_id.to_string(), loaded.clone());
        Ok(Some(loaded))
    }

    /// Whether the job's driver is alive and the job still running; asked
    /// of Redis at most every 250 ms per job, so tiny tasks stay cheap.
    fn job_alive(&self, control: &mut Control, job_id: &str, job: &LoadedJob) -> bool {
        let mut checked = job.checked.lock().unwrap_or_else(|p| p.into_inner());
        if checked.0.elapsed() < Duration::from_millis(250) {
            return checked.1;
        }
        let answer = control.run("job liveness", Duration::ZERO, |c| {
            redis::pipe()
                .cmd("EXISTS")
                .arg(keys::job_alive(job_id))
                .cmd("HGET")
                .arg(keys::job(job_id))
                .arg("state")
                .query::<(bool, Option<String>)>(c)
        });
        // When Redis cannot answer, keep working: the commit protocol makes
        // a useless task harmless, while dropping a needed one stalls a job.
        let alive = match answer {
            Ok((alive, state)) => alive && state.as_deref() == Some("running"),
            Err(_) => true,
        };
        *checked = (Instant::now(), alive);
        alive
    }

    fn report_loop(&self, reports: Receiver<Report>) {
        let Ok(mut control) = self.control() else {
            return;
        };
        while let Ok(first) = reports.recv() {
            let mut batch = vec![first];
            while batch.len() < 512 {
                match reports.try_recv() {
                    Ok(report) => batch.push(report),
                    Err(_) => break,
                }
            }
            // Reports must not be lost: keep retrying through outages
            // (bounded by the stop flag plus a grace period).
            let deadline = Instant::now() + Duration::from_secs(60);
            while let Err(err) = send_reports(&mut control, &batch) {
                if Instant::now() > deadline {
                    eprintln!(
                        "shoal worker {}: dropping {} reports: {err}",
                        self.config.name,
                        batch.len()
                    );
                    break;
                }
                std::thread::sleep(Duration::from_millis(200));
            }
        }
    }

    fn heartbeat(&self, control: &mut Control) -> Result<(), ClusterError> {
        let key = keys::worker(&self.config.name);
        let host = std::env::var("HOSTNAME").unwrap_or_else(|_| "localhost".into());
        let ttl = self.config.heartbeat_ttl.as_millis().max(1) as u64;
        let running = self.running.load(Ordering::Relaxed);
        control.run("heartbeat", Duration::ZERO, |c| {
            redis::pipe()
                .cmd("HSET")
                .arg(&key)
                .arg("host")
                .arg(&host)
                .arg("slots")
                .arg(self.config.slots)
                .arg("running")
                .arg(running)
                .arg("pid")
                .arg(std::process::id())
                .arg("version")
                .arg(env!("CARGO_PKG_VERSION"))
                .arg("beat_ms")
                .arg(now_ms())
                .ignore()
                .cmd("PEXPIRE")
                .arg(&key)
                .arg(ttl)
                .ignore()
                .cmd("SADD")
                .arg(keys::WORKERS)
                .arg(&self.config.name)
                .ignore()
                .query::<()>(c)
        })
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
                    eprintln!("shoal worker {}: heartbeat failed: {err}", self.config.name);
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
                .ignore()
                .cmd("SREM")
                .arg(keys::WORKERS)
                .arg(&self.config.name)
                .ignore()
                .query::<()>(c)
        });
    }
}

fn send_reports(control: &mut Control, batch: &[Report]) -> Result<(), ClusterError> {
    control.run("report", Duration::ZERO, |c| {
        let mut pipe = redis::pipe();
        for report in batch.iter().filter(|r| !r.fields.is_empty()) {
            let cmd = pipe
                .cmd("XADD")
                .arg(keys::job_events(&report.job_id))
                .arg("*");
            for (field, value) in &report.fields {
                cmd.arg(*field).arg(value);
            }
            cmd.ignore();
        }
        let ack = pipe.cmd("XACK").arg(keys::TASKS).arg(keys::GROUP);
        for report in batch {
            ack.arg(&report.entry_id);
        }
        ack.ignore();
        pipe.query::<()>(c)
    })
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
