//! Cluster mode end to end: a real redis-server, real `shoal worker`
//! processes on loopback, a shared local store, and faults injected with
//! signals. Every wait polls a real condition under a deadline.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::json;
use shoal_cluster::{cluster_status, ClusterConfig, ClusterExecutor};
use shoal_coord::test_support::{RedisServer, SentinelGroup};
use shoal_core::{
    run_job, EmbeddedConfig, EmbeddedExecutor, JobError, JobSpec, NoProgress, Registry,
};

mod common;
use common::{spawn_worker, wait_for_status, SHOAL};

/// A throwaway cluster: Redis, a store directory and N workers.
struct Cluster {
    /// The (primary) Redis server.
    redis: RedisServer,
    /// The `--coord` URL every node uses.
    coord: String,
    /// For a replicated control plane: the replica and its Sentinels.
    _replication: Option<(RedisServer, SentinelGroup)>,
    dir: tempfile::TempDir,
    workers: Vec<Child>,
}

impl Cluster {
    fn start(workers: usize) -> Cluster {
        let redis = RedisServer::start();
        let coord = redis.url();
        Cluster::assemble(redis, coord, None, workers)
    }

    /// A primary, one replica and three Sentinels; nodes connect through
    /// the Sentinels.
    fn start_replicated(workers: usize) -> Cluster {
        let primary = RedisServer::start();
        let replica = RedisServer::start_replica_of(&primary);
        let sentinels = SentinelGroup::start(&primary, "shoal", 3, 1);
        let coord = sentinels.url();
        Cluster::assemble(primary, coord, Some((replica, sentinels)), workers)
    }

    fn assemble(
        redis: RedisServer,
        coord: String,
        replication: Option<(RedisServer, SentinelGroup)>,
        workers: usize,
    ) -> Cluster {
        let mut cluster = Cluster {
            redis,
            coord,
            _replication: replication,
            dir: tempfile::tempdir().unwrap(),
            workers: Vec::new(),
        };
        for i in 0..workers {
            let child = cluster.spawn_worker(&format!("w{i}"));
            cluster.workers.push(child);
        }
        cluster.wait_for(|s| s.workers.len() == workers, "workers to register");
        cluster
    }

    fn store(&self) -> String {
        self.dir.path().join("store").display().to_string()
    }

    fn spawn_worker(&self, name: &str) -> Child {
        let log = self.dir.path().join(format!("{name}.log"));
        let extra = ["--heartbeat-ttl", "2s"];
        spawn_worker(&self.coord, &self.store(), name, &extra, &[], &log)
    }

    fn status(&self) -> shoal_cluster::ClusterStatus {
        cluster_status(&self.coord, 10).expect("cluster status")
    }

    fn wait_for(&self, condition: impl Fn(&shoal_cluster::ClusterStatus) -> bool, what: &str) {
        wait_for_status(&self.coord, condition, what);
    }

    fn executor(&self) -> ClusterExecutor {
        let mut config = ClusterConfig::new(&self.coord, &self.store());
        config.worker_timeout = Duration::from_secs(2);
        config.outage_timeout = Duration::from_secs(20);
        ClusterExecutor::new(config).unwrap()
    }

    fn signal(&self, worker: usize, signal: &str) {
        let pid = self.workers[worker].id().to_string();
        let ok = Command::new("kill")
            .args([signal, &pid])
            .status()
            .unwrap()
            .success();
        assert!(ok, "kill {signal} {pid}");
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for worker in &mut self.workers {
            let _ = Command::new("kill")
                .args(["-CONT", &worker.id().to_string()])
                .status();
            let _ = worker.kill();
            let _ = worker.wait();
        }
    }
}

fn shoal(args: &[&str]) -> Output {
    Command::new(SHOAL).args(args).output().expect("run shoal")
}

fn text_corpus(dir: &Path) -> PathBuf {
    let corpus = dir.join("corpus");
    std::fs::create_dir_all(&corpus).unwrap();
    let words = ["tide", "reef", "shoal", "fish", "école", "kelp", "gull"];
    for f in 0..6 {
        let text: String = (0..5000)
            .map(|i| {
                format!(
                    "{}{}",
                    words[(i * (f + 3) + i / 7) % words.len()],
                    if i % 9 == 0 { "\n" } else { " " }
                )
            })
            .collect();
        std::fs::write(corpus.join(format!("part-{f}.txt")), text).unwrap();
    }
    corpus
}

/// A corpus of many distinct words, so that each count task's result is
/// larger than what travels inline in a report and goes through the store.
fn wide_corpus(dir: &Path) -> PathBuf {
    let corpus = dir.join("wide");
    std::fs::create_dir_all(&corpus).unwrap();
    for f in 0..3 {
        let text: String = (0..40_000)
            .map(|i| {
                format!(
                    "word{}{}",
                    (i * 7 + f) % 30_000,
                    if i % 11 == 0 { "\n" } else { " " }
                )
            })
            .collect();
        std::fs::write(corpus.join(format!("part-{f}.txt")), text).unwrap();
    }
    corpus
}

/// Runs `shoal ARGS` embedded and on `cluster`; both must succeed with
/// byte-identical output.
fn assert_cluster_matches_embedded(cluster: &Cluster, args: &[&str]) {
    let embedded = shoal(args);
    assert_eq!(
        embedded.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&embedded.stderr)
    );
    let (url, store) = (cluster.coord.clone(), cluster.store());
    let clustered_args: Vec<&str> = args
        .iter()
        .copied()
        .chain(["--coord", &url, "--store", &store])
        .collect();
    let clustered = shoal(&clustered_args);
    assert_eq!(
        clustered.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&clustered.stderr)
    );
    assert!(!embedded.stdout.is_empty());
    assert_eq!(
        String::from_utf8_lossy(&clustered.stdout),
        String::from_utf8_lossy(&embedded.stdout)
    );
    let status = cluster.status();
    assert_eq!(status.jobs[0].state, "succeeded", "{status:?}");
}

#[test]
fn wordcount_on_three_workers_matches_embedded_byte_for_byte() {
    let cluster = Cluster::start(3);
    let corpus = text_corpus(cluster.dir.path());
    let wide = wide_corpus(cluster.dir.path());
    for corpus in [corpus, wide] {
        let corpus = corpus.to_str().unwrap();
        let args = [
            "wordcount",
            corpus,
            "--json",
            "--quiet",
            "--partitions",
            "5",
        ];
        assert_cluster_matches_embedded(&cluster, &args);
        // Whole vocabulary, so every count task's result is compared.
        let args = [
            "wordcount",
            corpus,
            "--quiet",
            "--partitions",
            "5",
            "--top",
            "1000000",
        ];
        assert_cluster_matches_embedded(&cluster, &args);
    }
}

#[test]
fn analyze_on_three_workers_matches_embedded_byte_for_byte() {
    let cluster = Cluster::start(3);
    let events = cluster.dir.path().join("events");
    let events = events.to_str().unwrap();
    let generated = shoal(&[
        "gen", events, "--events", "60000", "--files", "3", "--days", "9",
    ]);
    assert_eq!(generated.status.code(), Some(0), "{generated:?}");
    let args = ["analyze", events, "--json", "--quiet", "--threads", "2"];
    assert_cluster_matches_embedded(&cluster, &args);
}

fn slow_echo(tasks: u32, sleep_ms: u64) -> JobSpec {
    JobSpec::new(
        "noop",
        json!({"tasks": tasks, "sleep_ms": sleep_ms, "echo": true}),
    )
}

fn registry() -> Registry {
    Registry::new().with(Arc::new(shoal_jobs::Noop))
}

fn embedded_results(spec: JobSpec) -> Vec<shoal_core::Bytes> {
    let exec = EmbeddedExecutor::new(EmbeddedConfig::default());
    run_job(&exec, &registry(), spec, &NoProgress)
        .unwrap()
        .results
}

/// Runs `spec` on the cluster in a thread; returns its handle.
fn drive(
    cluster: &Cluster,
    spec: JobSpec,
) -> std::thread::JoinHandle<Result<Vec<shoal_core::Bytes>, JobError>> {
    drive_on(cluster.executor(), spec)
}

/// Runs `spec` with `exec` in a thread; returns its handle.
fn drive_on(
    exec: ClusterExecutor,
    spec: JobSpec,
) -> std::thread::JoinHandle<Result<Vec<shoal_core::Bytes>, JobError>> {
    std::thread::spawn(move || run_job(&exec, &registry(), spec, &NoProgress).map(|o| o.results))
}

fn wait_done_at_least(cluster: &Cluster, tasks: u64) {
    cluster.wait_for(
        |s| {
            s.jobs
                .first()
                .is_some_and(|j| j.state == "running" && j.done >= tasks)
        },
        "the job to be under way",
    );
}

#[test]
fn killing_a_worker_mid_job_still_gives_identical_results() {
    let mut cluster = Cluster::start(3);
    let spec = slow_echo(60, 100);
    let driver = drive(&cluster, spec.clone());
    wait_done_at_least(&cluster, 6);
    cluster.signal(0, "-KILL");
    let _ = cluster.workers[0].wait();
    let results = driver.join().unwrap().expect("job survives a dead worker");
    assert_eq!(results, embedded_results(spec));
    cluster.wait_for(
        |s| !s.workers.iter().any(|w| w.name == "w0"),
        "w0 to be gone",
    );
}

#[test]
fn a_paused_worker_loses_its_tasks_and_corrupts_nothing_when_resumed() {
    let cluster = Cluster::start(3);
    let spec = slow_echo(40, 100);
    let driver = drive(&cluster, spec.clone());
    wait_done_at_least(&cluster, 4);
    cluster.signal(1, "-STOP");
    let results = driver
        .join()
        .unwrap()
        .expect("job completes while a worker is paused");
    cluster.signal(1, "-CONT");
    assert_eq!(results, embedded_results(spec.clone()));
    // The resumed worker rejoins and the cluster still computes correctly.
    cluster.wait_for(
        |s| s.workers.iter().any(|w| w.name == "w1"),
        "w1 to heartbeat again",
    );
    let again = drive(&cluster, spec.clone()).join().unwrap().unwrap();
    assert_eq!(again, embedded_results(spec));
}

#[test]
fn a_redis_restart_mid_job_completes_or_fails_clearly_in_bounded_time() {
    let mut cluster = Cluster::start(2);
    let spec = slow_echo(40, 100);
    let started = Instant::now();
    let driver = drive(&cluster, spec.clone());
    wait_done_at_least(&cluster, 4);
    cluster.redis.restart();
    let outcome = driver.join().unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    match outcome {
        Ok(results) => assert_eq!(results, embedded_results(spec)),
        Err(err) => assert!(
            err.to_string().contains("control plane"),
            "unclear error: {err}"
        ),
    }
}

#[test]
fn a_sentinel_failover_mid_job_is_survived() {
    let mut cluster = Cluster::start_replicated(2);
    let sentinels = &cluster._replication.as_ref().unwrap().1;
    let first_primary = sentinels.primary_port();
    assert_eq!(first_primary, cluster.redis.port());
    let spec = slow_echo(40, 100);
    let driver = drive(&cluster, spec.clone());
    wait_done_at_least(&cluster, 4);
    cluster.redis.kill();
    let results = driver
        .join()
        .unwrap()
        .expect("the job survives the failover");
    assert_eq!(results, embedded_results(spec.clone()));
    let sentinels = &cluster._replication.as_ref().unwrap().1;
    assert_ne!(
        sentinels.primary_port(),
        first_primary,
        "no failover happened"
    );
    // The cluster keeps working on the promoted replica.
    cluster.wait_for(|s| s.workers.len() == 2, "workers on the new primary");
    let again = drive(&cluster, spec.clone()).join().unwrap().unwrap();
    assert_eq!(again, embedded_results(spec));
}

#[test]
fn a_worker_with_a_bad_redis_url_exits_with_a_clear_message() {
    let dir = tempfile::tempdir().unwrap();
    let store = dir.path().display().to_string();
    let malformed = shoal(&[
        "worker",
        "--coord",
        "redis://:secret@host:notaport",
        "--store",
        &store,
    ]);
    let stderr = String::from_utf8_lossy(&malformed.stderr);
    assert_eq!(malformed.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(!stderr.contains("secret"), "password leaked: {stderr}");

    let port = shoal_coord::test_support::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let started = Instant::now();
    let unreachable = shoal(&["worker", "--coord", &url, "--store", &store]);
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert_eq!(unreachable.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

/// `redis-cli` against the cluster's server; the reply's lines.
fn redis_cli(cluster: &Cluster, args: &[&str]) -> Vec<String> {
    let out = Command::new("redis-cli")
        .args(["-p", &cluster.redis.port().to_string()])
        .args(args)
        .output()
        .expect("run redis-cli");
    assert!(out.status.success(), "redis-cli {args:?}: {out:?}");
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_string)
        .collect()
}

#[test]
fn a_dead_driver_and_a_dead_worker_leave_nothing_stuck() {
    let mut cluster = Cluster::start(3);
    // The driver is its own process, so it can be killed like a worker.
    let mut driver = Command::new(SHOAL)
        .args([
            "run",
            "noop",
            "--params",
            r#"{"tasks": 80, "sleep_ms": 100}"#,
        ])
        .args(["--coord", &cluster.coord, "--store", &cluster.store()])
        .args(["--worker-timeout", "2s", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn driver");
    wait_done_at_least(&cluster, 6);
    let _ = driver.kill();
    let _ = driver.wait();
    cluster.signal(0, "-KILL");
    let _ = cluster.workers[0].wait();

    cluster.wait_for(
        |s| s.jobs.first().is_some_and(|j| j.state == "abandoned"),
        "the orphaned job to show as abandoned",
    );
    // The surviving workers drain the orphan's queued tasks without running
    // them, and take new work.
    let spec = slow_echo(40, 50);
    let results = drive(&cluster, spec.clone()).join().unwrap().unwrap();
    assert_eq!(results, embedded_results(spec));
    // The dead worker's pending entries of the abandoned job are cleared by
    // the next driver; nothing stays pending or queued.
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let pending = redis_cli(&cluster, &["XPENDING", "shoal:tasks:noop@1", "workers"]);
        let queued = redis_cli(&cluster, &["XLEN", "shoal:tasks:noop@1"]);
        if pending.first().map(String::as_str) == Some("0") && queued == ["0"] {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "task stream not cleared: pending {pending:?}, length {queued:?}"
        );
        // Clearing happens in a driver's upkeep: give it a job to drive.
        drive(&cluster, slow_echo(8, 50)).join().unwrap().unwrap();
    }
}

#[test]
fn a_task_deleted_from_the_queue_is_noticed_and_run_again() {
    let cluster = Cluster::start(1);
    let spec = slow_echo(20, 300);
    // Speculation would also rerun the last task, as a straggler: this is
    // about the check that finds tasks with no entry left.
    let mut config = ClusterConfig::new(&cluster.coord, &cluster.store());
    config.worker_timeout = Duration::from_secs(2);
    config.speculation = false;
    let driver = drive_on(ClusterExecutor::new(config).unwrap(), spec.clone());
    // The newest entry is the last partition; the single worker (2 slots,
    // claiming one task per free slot while tasks are slow) reaches it
    // only after ~3 s. Delete it behind everyone's back.
    let deadline = Instant::now() + Duration::from_secs(30);
    let newest = loop {
        let entry = redis_cli(
            &cluster,
            &["XREVRANGE", "shoal:tasks:noop@1", "+", "-", "COUNT", "1"],
        );
        if entry.get(6).map(String::as_str) == Some("19") {
            break entry[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "the job was never queued: {entry:?}"
        );
        std::thread::sleep(Duration::from_millis(10));
    };
    let pending = redis_cli(
        &cluster,
        &["XPENDING", "shoal:tasks:noop@1", "workers", "-", "+", "100"],
    );
    assert!(
        !pending.contains(&newest),
        "the worker already took {newest}"
    );
    assert_eq!(
        redis_cli(&cluster, &["XDEL", "shoal:tasks:noop@1", &newest]),
        ["1"]
    );

    let deadline = Instant::now() + Duration::from_secs(60);
    while !driver.is_finished() {
        assert!(
            Instant::now() < deadline,
            "the job waits forever for the lost task"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let results = driver.join().unwrap().expect("the job completes");
    assert_eq!(results, embedded_results(spec));
}
