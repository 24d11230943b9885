//! Routing by capability, end to end: a real redis-server, workers with
//! different registries (in this process, so each one's claim counters can
//! be read, or `shoal worker` processes), drivers in this process or as
//! `shoal run`. Every wait polls a real condition under a deadline.

use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use shoal_cluster::{
    cluster_status, ClusterConfig, ClusterExecutor, ClusterStatus, Worker, WorkerConfig,
};
use shoal_core::{
    run_job, Bytes, EmbeddedConfig, EmbeddedExecutor, Job, JobError, JobSpec, NoProgress, Plan,
    Registry,
};

use shoal_testkit::{eventually, RedisServer, WorkerSpec};

mod common;
use common::SHOAL;

/// How long a test waits for workers, status and jobs before failing.
const PATIENCE: Duration = Duration::from_secs(60);

/// Heartbeat TTL of test workers and worker timeout of test drivers.
const TIMEOUT: Duration = Duration::from_secs(2);

/// A user's job as far as routing can tell: its own name and version,
/// planned like `noop` — or, built with `plans: false`, a build of it whose
/// plan fails.
struct Custom {
    name: &'static str,
    version: u32,
    plans: bool,
}

impl Job for Custom {
    fn name(&self) -> &'static str {
        self.name
    }
    fn describe(&self) -> &'static str {
        "noop under another name (routing tests)"
    }
    fn version(&self) -> u32 {
        self.version
    }
    fn plan(&self, params: &serde_json::Value) -> Result<Plan, JobError> {
        if !self.plans {
            return Err(JobError::invalid_input(
                self.name,
                "this build cannot plan it",
            ));
        }
        shoal_jobs::Noop.plan(params)
    }
}

fn custom(version: u32) -> Arc<dyn Job> {
    Arc::new(Custom {
        name: "custom",
        version,
        plans: true,
    })
}

fn stock() -> Registry {
    Registry::new().with(Arc::new(shoal_jobs::Noop))
}

fn with_custom(version: u32) -> Registry {
    stock().with(custom(version))
}

/// Redis and a store directory.
struct Cluster {
    redis: RedisServer,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        Cluster {
            redis: RedisServer::start(),
            dir: tempfile::tempdir().unwrap(),
        }
    }

    fn coord(&self) -> String {
        self.redis.url()
    }

    fn store(&self) -> String {
        self.dir.path().join("store").display().to_string()
    }

    fn config(&self) -> ClusterConfig {
        let mut config = ClusterConfig::new(&self.coord(), &self.store());
        config.worker_timeout = TIMEOUT;
        config
    }

    /// Runs `spec` of `registry` in a thread; returns its handle.
    fn drive(
        &self,
        registry: Registry,
        spec: JobSpec,
        config: ClusterConfig,
    ) -> std::thread::JoinHandle<Result<Vec<Bytes>, JobError>> {
        let exec = ClusterExecutor::new(config).unwrap();
        std::thread::spawn(move || run_job(&exec, &registry, spec, &NoProgress).map(|o| o.results))
    }

    /// Waits until every worker in `names` is registered.
    fn wait_for_workers(&self, names: &[&str]) {
        self.wait_for("workers to register", |s| {
            names.iter().all(|n| s.workers.iter().any(|w| w.name == *n))
        });
    }

    /// Polls `shoal status` until `condition` holds.
    fn wait_for(&self, what: &str, condition: impl Fn(&ClusterStatus) -> bool) {
        shoal_testkit::wait_for_status(&self.coord(), PATIENCE, what, condition);
    }

    /// `shoal worker` processes with 2 slots and `extra` flags.
    fn worker_spec(&self, extra: &[&str]) -> WorkerSpec {
        WorkerSpec::new(SHOAL, &self.coord(), &self.store(), self.dir.path()).args(extra)
    }
}

/// A `Worker` running in a thread of this process; stopped on drop.
struct InProcess {
    worker: Arc<Worker>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl InProcess {
    fn start(cluster: &Cluster, name: &str, registry: Registry) -> InProcess {
        let config = WorkerConfig {
            coord_url: cluster.coord(),
            store_url: cluster.store(),
            name: name.to_string(),
            slots: 2,
            heartbeat_ttl: TIMEOUT,
        };
        let worker = Arc::new(Worker::new(config, registry).unwrap());
        let running = worker.clone();
        let thread = std::thread::spawn(move || running.run().expect("worker runs"));
        InProcess {
            worker,
            thread: Some(thread),
        }
    }

    fn claimed(&self, job: &str) -> u64 {
        self.worker.claimed().get(job).copied().unwrap_or(0)
    }
}

impl Drop for InProcess {
    fn drop(&mut self) {
        self.worker.stop_flag().store(true, Ordering::Relaxed);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn slow_echo(job: &str, tasks: u32, sleep_ms: u64) -> JobSpec {
    JobSpec::new(
        job,
        json!({"tasks": tasks, "sleep_ms": sleep_ms, "echo": true}),
    )
}

fn embedded(registry: &Registry, spec: JobSpec) -> Vec<Bytes> {
    let exec = EmbeddedExecutor::new(EmbeddedConfig::default());
    run_job(&exec, registry, spec, &NoProgress).unwrap().results
}

#[test]
fn a_worker_claims_no_task_of_a_job_it_lacks_while_every_worker_serves_a_shared_one() {
    let cluster = Cluster::start();
    let custom_a = InProcess::start(&cluster, "custom-a", with_custom(1));
    let custom_b = InProcess::start(&cluster, "custom-b", with_custom(1));
    let stock_w = InProcess::start(&cluster, "stock", stock());
    cluster.wait_for_workers(&["custom-a", "custom-b", "stock"]);

    // What each worker offers is in its registration, and status shows it.
    let status = cluster_status(&cluster.coord(), 10).unwrap();
    let jobs_of = |name: &str| {
        let worker = status.workers.iter().find(|w| w.name == name).unwrap();
        worker.jobs.clone()
    };
    assert_eq!(jobs_of("custom-a"), ["custom@1", "noop@1"]);
    assert_eq!(jobs_of("stock"), ["noop@1"]);
    let shown = Command::new(SHOAL)
        .args(["status", "--coord", &cluster.coord()])
        .output()
        .unwrap();
    let shown = String::from_utf8_lossy(&shown.stdout);
    let row = |name: &str| {
        let row = shown.lines().find(|l| l.trim_start().starts_with(name));
        row.unwrap_or_else(|| panic!("no {name} in:\n{shown}"))
            .to_string()
    };
    assert!(row("custom-a ").ends_with("custom@1 noop@1"), "{shown}");
    assert!(row("stock ").ends_with(" noop@1"), "{shown}");

    // Submitted together: the custom job and a job every worker runs.
    let custom_spec = slow_echo("custom", 40, 30);
    let noop_spec = slow_echo("noop", 60, 30);
    let custom_job = cluster.drive(with_custom(1), custom_spec.clone(), cluster.config());
    let noop_job = cluster.drive(stock(), noop_spec.clone(), cluster.config());
    let limit = PATIENCE;
    let custom_results = join_within(custom_job, limit).expect("custom job completes");
    let noop_results = join_within(noop_job, limit).expect("noop job completes");
    assert_eq!(custom_results, embedded(&with_custom(1), custom_spec));
    assert_eq!(noop_results, embedded(&stock(), noop_spec));

    assert_eq!(
        stock_w.claimed("custom@1"),
        0,
        "{:?}",
        stock_w.worker.claimed()
    );
    let custom_claims = custom_a.claimed("custom@1") + custom_b.claimed("custom@1");
    assert!(custom_claims >= 40, "custom tasks claimed: {custom_claims}");
    for (name, worker) in [
        ("custom-a", &custom_a),
        ("custom-b", &custom_b),
        ("stock", &stock_w),
    ] {
        assert!(
            worker.claimed("noop@1") > 0,
            "{name} served no noop task: {:?}",
            worker.worker.claimed()
        );
    }
    let status = cluster_status(&cluster.coord(), 10).unwrap();
    let queue = status.queues.iter().find(|q| q.job == "custom@1").unwrap();
    assert_eq!(
        (queue.queued, queue.held, queue.workers),
        (0, 0, 2),
        "{status:?}"
    );
}

#[test]
fn two_versions_of_a_job_never_claim_each_others_tasks() {
    let cluster = Cluster::start();
    let v1 = InProcess::start(&cluster, "v1", with_custom(1));
    let v2 = InProcess::start(&cluster, "v2", with_custom(2));
    cluster.wait_for_workers(&["v1", "v2"]);
    let spec = slow_echo("custom", 30, 20);
    let first = cluster.drive(with_custom(1), spec.clone(), cluster.config());
    let second = cluster.drive(with_custom(2), spec.clone(), cluster.config());
    let expected = embedded(&with_custom(1), spec);
    let limit = PATIENCE;
    assert_eq!(join_within(first, limit).unwrap(), expected);
    assert_eq!(join_within(second, limit).unwrap(), expected);
    assert_eq!(
        v1.worker.claimed()["custom@1"],
        30,
        "{:?}",
        v1.worker.claimed()
    );
    assert_eq!(
        v2.worker.claimed()["custom@2"],
        30,
        "{:?}",
        v2.worker.claimed()
    );
    assert!(!v1.worker.claimed().contains_key("custom@2"));
    assert!(!v2.worker.claimed().contains_key("custom@1"));
}

const NOOP_PARAMS: &str = r#"{"tasks": 20, "echo": true}"#;

/// A `shoal run noop` driver on `cluster` with `extra` flags, its output piped.
fn noop_driver(cluster: &Cluster, extra: &[&str]) -> Child {
    Command::new(SHOAL)
        .args(["run", "noop", "--params", NOOP_PARAMS])
        .args(["--coord", &cluster.coord(), "--store", &cluster.store()])
        .args(["--worker-timeout", "2s", "--quiet"])
        .args(extra)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn shoal run")
}

/// Waits for `child` to exit, failing (after killing it) past `limit`.
fn exit_within(mut child: Child, limit: Duration) -> Output {
    let exited = shoal_testkit::try_eventually(limit, || child.try_wait().unwrap());
    if exited.is_err() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    assert!(exited.is_ok(), "still running after {limit:?}: {output:?}");
    output
}

/// Joins a driver thread, failing past `limit`.
fn join_within<T>(handle: std::thread::JoinHandle<T>, limit: Duration) -> T {
    eventually(limit, "the driver to finish", || handle.is_finished());
    handle.join().unwrap()
}

#[test]
fn a_job_no_live_worker_runs_fails_within_the_worker_timeout_naming_it_and_the_offers() {
    let cluster = Cluster::start();
    // A worker of another binary: it has a job of its own, but no noop.
    let _other = InProcess::start(&cluster, "other", Registry::new().with(custom(1)));
    cluster.wait_for_workers(&["other"]);
    let started = Instant::now();
    let out = exit_within(noop_driver(&cluster, &[]), Duration::from_secs(30));
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(out.stdout.is_empty(), "a failed job printed a result");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    for needle in ["'noop@1'", "other runs custom@1", "--wait-for-workers"] {
        assert!(stderr.contains(needle), "no {needle:?} in: {stderr}");
    }
    assert!(took < TIMEOUT + Duration::from_secs(4), "took {took:?}");
    // The failed job took its queued tasks back.
    assert_eq!(cluster.redis.cli(&["XLEN", "shoal:tasks:noop@1"]), ["0"]);
}

#[test]
fn with_wait_for_workers_a_worker_that_joins_later_runs_the_job() {
    let cluster = Cluster::start();
    let mut driver = Command::new(SHOAL)
        .args(["run", "noop", "--params", NOOP_PARAMS])
        .args(["--coord", &cluster.coord(), "--store", &cluster.store()])
        .args([
            "--worker-timeout",
            "2s",
            "--wait-for-workers",
            "60s",
            "--quiet",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn driver");
    // The tasks are queued and the job outlives the worker timeout, with
    // no worker that runs it.
    cluster.wait_for("the job's tasks to be queued", |s| {
        s.queues.iter().any(|q| q.job == "noop@1" && q.queued == 20)
    });
    let queued_at = Instant::now();
    while queued_at.elapsed() < TIMEOUT + Duration::from_secs(1) {
        assert!(driver.try_wait().unwrap().is_none(), "the driver gave up");
        std::thread::sleep(Duration::from_millis(100));
    }
    let mut late = cluster.worker_spec(&[]).spawn("late");
    let out = exit_within(driver, PATIENCE);
    let _ = late.kill();
    let _ = late.wait();
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let embedded = Command::new(SHOAL)
        .args(["run", "noop", "--params", NOOP_PARAMS, "--quiet"])
        .output()
        .unwrap();
    assert!(!embedded.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&embedded.stdout)
    );
}

#[test]
fn when_every_worker_that_runs_the_job_is_gone_the_job_fails_naming_it() {
    let cluster = Cluster::start();
    let _other = InProcess::start(&cluster, "other", Registry::new().with(custom(1)));
    let mut doomed = cluster
        .worker_spec(&["--heartbeat-ttl", "2s"])
        .spawn("doomed");
    cluster.wait_for_workers(&["other", "doomed"]);
    let job = cluster.drive(stock(), slow_echo("noop", 200, 100), cluster.config());
    cluster.wait_for("the job to be under way", |s| {
        s.jobs.first().is_some_and(|j| j.done >= 2)
    });
    doomed.kill().unwrap();
    let killed = Instant::now();
    let _ = doomed.wait();
    let err = job
        .join()
        .unwrap()
        .expect_err("no worker runs noop any more");
    let took = killed.elapsed();
    let message = err.to_string();
    assert!(message.contains("'noop@1'"), "{message}");
    assert!(message.contains("other runs custom@1"), "{message}");
    // Its registration expires after the heartbeat TTL, then the driver
    // waits one worker timeout.
    assert!(took < 2 * TIMEOUT + Duration::from_secs(4), "took {took:?}");
}

#[test]
fn a_worker_that_offers_a_job_but_cannot_plan_it_fails_the_job_naming_itself() {
    let cluster = Cluster::start();
    let broken = Registry::new().with(Arc::new(Custom {
        name: "custom",
        version: 1,
        plans: false,
    }));
    let _broken = InProcess::start(&cluster, "broken", broken);
    cluster.wait_for_workers(&["broken"]);
    let job = cluster.drive(with_custom(1), slow_echo("custom", 4, 0), cluster.config());
    let err = join_within(job, PATIENCE).expect_err("the job cannot run");
    let message = err.to_string();
    for needle in [
        "worker broken cannot plan job",
        "custom@1",
        "this build cannot plan it",
        "Job::version",
    ] {
        assert!(message.contains(needle), "no {needle:?} in: {message}");
    }
}
