//! Cluster mode end to end: a real redis-server, real `shoal worker`
//! processes on loopback, a shared local store, and faults injected with
//! signals. Every wait polls a real condition under a deadline.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use shoal_cluster::{queued_tasks, ClusterConfig, ClusterExecutor};
use shoal_core::{run_job, JobError, JobSpec, NoProgress};
use shoal_testkit::{eventually, try_eventually, LocalCluster};

mod common;
use common::{embedded_results, noop_registry, NOOP_TASKS, SHOAL};

/// A throwaway cluster of `shoal` workers that give up a lost worker's
/// tasks after 2 s.
fn cluster(workers: usize) -> LocalCluster {
    LocalCluster::start(SHOAL, workers, &["--heartbeat-ttl", "2s"])
}

/// The same behind Sentinels: a primary, a replica and three Sentinels.
fn replicated_cluster(workers: usize) -> LocalCluster {
    LocalCluster::start_replicated(SHOAL, workers, &["--heartbeat-ttl", "2s"])
}

/// A driver for `cluster` that notices a lost worker after 2 s.
fn executor(cluster: &LocalCluster) -> ClusterExecutor {
    let mut config = ClusterConfig::new(cluster.coord(), &cluster.store());
    config.worker_timeout = Duration::from_secs(2);
    config.outage_timeout = Duration::from_secs(20);
    ClusterExecutor::new(config).unwrap()
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
/// byte-identical output, which is returned.
fn assert_cluster_matches_embedded(cluster: &LocalCluster, args: &[&str]) -> Vec<u8> {
    let embedded = shoal(args);
    assert_eq!(
        embedded.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&embedded.stderr)
    );
    let (url, store) = (cluster.coord().to_string(), cluster.store());
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
    clustered.stdout
}

#[test]
fn wordcount_on_three_workers_matches_embedded_byte_for_byte() {
    let cluster = cluster(3);
    let corpus = text_corpus(cluster.dir());
    let wide = wide_corpus(cluster.dir());
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

/// `shoal worker -v --log-format json`: every line is one JSON object,
/// and each attempt's line names the worker and its job, stage,
/// partition and attempt — what a log shipper indexes on.
#[test]
fn worker_json_logs_name_the_worker_and_each_attempts_task() {
    let cluster = LocalCluster::start(SHOAL, 1, &["-v", "--log-format", "json"]);
    let corpus = text_corpus(cluster.dir());
    assert_cluster_matches_embedded(&cluster, &["wordcount", corpus.to_str().unwrap()]);
    let job = cluster.status().jobs[0].id.clone();
    let log = cluster.workers().log(0);
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let attempts: Vec<&serde_json::Value> = lines
        .iter()
        .filter(|l| l["fields"]["message"] == "attempt done")
        .collect();
    // wordcount's plan: read tasks, 8 count tasks, 1 merge: 10 or more.
    assert!(attempts.len() >= 10, "{log}");
    for line in attempts {
        let spans = line["spans"].as_array().unwrap_or_else(|| panic!("{line}"));
        assert_eq!(spans[0]["worker"], "w0", "{line}");
        assert_eq!(spans[1]["name"], "task", "{line}");
        assert_eq!(spans[1]["job"], job.as_str(), "{line}");
        for field in ["stage", "partition", "attempt"] {
            assert!(spans[1][field].is_u64(), "no {field}: {line}");
        }
    }
    assert!(
        lines.iter().any(|l| l["fields"]["message"]
            .as_str()
            .is_some_and(|m| m.ends_with("serving"))),
        "{log}"
    );
}

#[test]
fn analyze_on_three_workers_matches_embedded_byte_for_byte() {
    let cluster = cluster(3);
    let events = cluster.dir().join("events");
    let events = events.to_str().unwrap();
    let generated = shoal(&[
        "gen", events, "--events", "60000", "--files", "3", "--days", "9",
    ]);
    assert_eq!(generated.status.code(), Some(0), "{generated:?}");
    let args = ["analyze", events, "--json", "--quiet", "--threads", "2"];
    assert_cluster_matches_embedded(&cluster, &args);
}

/// A DistArray job through the `Job` trait: its action's answer (the
/// summary, as JSON) is the result, the same on workers as embedded.
#[test]
fn array_sort_prints_the_same_summary_on_two_workers_as_embedded() {
    let cluster = cluster(2);
    let params = r#"{"n": 200000, "partitions": 6, "seed": 4}"#;
    let args = ["run", "array-sort", "--params", params, "--quiet"];
    let stdout = assert_cluster_matches_embedded(&cluster, &args);
    let summary: serde_json::Value = serde_json::from_slice(&stdout).unwrap();
    assert_eq!(summary["count"], 200_000, "{summary}");
    assert_eq!(summary["sorted"], true, "{summary}");
    assert!(summary["checksum"].is_u64(), "{summary}");
}

fn slow_echo(tasks: u32, sleep_ms: u64) -> JobSpec {
    JobSpec::new(
        "noop",
        json!({"tasks": tasks, "sleep_ms": sleep_ms, "echo": true}),
    )
}

/// Runs `spec` on the cluster in a thread; returns its handle.
fn drive(
    cluster: &LocalCluster,
    spec: JobSpec,
) -> std::thread::JoinHandle<Result<Vec<shoal_core::Bytes>, JobError>> {
    drive_on(executor(cluster), spec)
}

/// Runs `spec` with `exec` in a thread; returns its handle.
fn drive_on(
    exec: ClusterExecutor,
    spec: JobSpec,
) -> std::thread::JoinHandle<Result<Vec<shoal_core::Bytes>, JobError>> {
    std::thread::spawn(move || {
        run_job(&exec, &noop_registry(), spec, &NoProgress).map(|o| o.results)
    })
}

fn wait_done_at_least(cluster: &LocalCluster, tasks: u64) {
    cluster.wait_for("the job to be under way", |s| {
        s.jobs
            .first()
            .is_some_and(|j| j.state == "running" && j.done >= tasks)
    });
}

#[test]
fn killing_a_worker_mid_job_still_gives_identical_results() {
    let mut cluster = cluster(3);
    let spec = slow_echo(60, 100);
    let driver = drive(&cluster, spec.clone());
    wait_done_at_least(&cluster, 6);
    cluster.workers_mut().kill(0);
    let results = driver.join().unwrap().expect("job survives a dead worker");
    assert_eq!(results, embedded_results(spec));
    cluster.wait_for("w0 to be gone", |s| {
        !s.workers.iter().any(|w| w.name == "w0")
    });
}

#[test]
fn a_paused_worker_loses_its_tasks_and_corrupts_nothing_when_resumed() {
    let cluster = cluster(3);
    let spec = slow_echo(40, 100);
    let driver = drive(&cluster, spec.clone());
    wait_done_at_least(&cluster, 4);
    cluster.workers().signal(1, "-STOP");
    let results = driver
        .join()
        .unwrap()
        .expect("job completes while a worker is paused");
    cluster.workers().signal(1, "-CONT");
    assert_eq!(results, embedded_results(spec.clone()));
    // The resumed worker rejoins and the cluster still computes correctly.
    cluster.wait_for("w1 to heartbeat again", |s| {
        s.workers.iter().any(|w| w.name == "w1")
    });
    let again = drive(&cluster, spec.clone()).join().unwrap().unwrap();
    assert_eq!(again, embedded_results(spec));
}

/// Redis restarted empty mid-job (no persistence): the driver notices the
/// new server, republishes its job and resubmits what is unfinished; the
/// job must succeed with the embedded results — a failure fails the test.
#[test]
fn a_redis_restart_mid_job_is_survived_with_identical_results() {
    let mut cluster = cluster(2);
    let spec = slow_echo(40, 100);
    let started = Instant::now();
    let driver = drive(&cluster, spec.clone());
    wait_done_at_least(&cluster, 4);
    cluster.redis_mut().restart();
    let results = driver
        .join()
        .unwrap()
        .expect("the job survives an empty Redis restart");
    assert!(
        started.elapsed() < Duration::from_secs(60),
        "took {:?}",
        started.elapsed()
    );
    assert_eq!(results, embedded_results(spec));
    // The restarted server knows the job only because the driver
    // republished it: recovery happened, the job did not finish first.
    let status = cluster.status();
    assert_eq!(status.jobs.len(), 1, "{status:?}");
    assert_eq!(status.jobs[0].state, "succeeded", "{status:?}");
}

/// Redis gone for longer than the driver's outage timeout: the job fails
/// with an error naming the control plane, within bounded time — never a
/// hang, never a success.
#[test]
fn a_control_plane_that_stays_away_fails_the_job_clearly() {
    let mut cluster = cluster(2);
    let spec = slow_echo(40, 100);
    let mut config = ClusterConfig::new(cluster.coord(), &cluster.store());
    config.worker_timeout = Duration::from_secs(2);
    config.outage_timeout = Duration::from_secs(3);
    let driver = drive_on(ClusterExecutor::new(config).unwrap(), spec);
    wait_done_at_least(&cluster, 4);
    let killed = Instant::now();
    cluster.redis_mut().kill();
    let err = driver
        .join()
        .unwrap()
        .expect_err("a job without its control plane cannot succeed");
    assert!(
        killed.elapsed() < Duration::from_secs(30),
        "gave up after {:?}",
        killed.elapsed()
    );
    assert!(
        err.to_string().contains("control plane"),
        "unclear error: {err}"
    );
}

#[test]
fn a_sentinel_failover_mid_job_is_survived() {
    let mut cluster = replicated_cluster(2);
    let first_primary = cluster.sentinels().unwrap().primary_port();
    assert_eq!(first_primary, cluster.redis().port());
    let spec = slow_echo(40, 100);
    let driver = drive(&cluster, spec.clone());
    wait_done_at_least(&cluster, 4);
    cluster.redis_mut().kill();
    let results = driver
        .join()
        .unwrap()
        .expect("the job survives the failover");
    assert_eq!(results, embedded_results(spec.clone()));
    assert_ne!(
        cluster.sentinels().unwrap().primary_port(),
        first_primary,
        "no failover happened"
    );
    // The cluster keeps working on the promoted replica.
    cluster.wait_for("workers on the new primary", |s| s.workers.len() == 2);
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

    let port = shoal_testkit::free_port();
    let url = format!("redis://127.0.0.1:{port}");
    let started = Instant::now();
    let unreachable = shoal(&["worker", "--coord", &url, "--store", &store]);
    let stderr = String::from_utf8_lossy(&unreachable.stderr);
    assert_eq!(unreachable.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("unreachable"), "{stderr}");
    assert!(started.elapsed() < Duration::from_secs(20));
}

#[test]
fn a_dead_driver_and_a_dead_worker_leave_nothing_stuck() {
    let mut cluster = cluster(3);
    // The driver is its own process, so it can be killed like a worker.
    let mut driver = Command::new(SHOAL)
        .args([
            "run",
            "noop",
            "--params",
            r#"{"tasks": 80, "sleep_ms": 100}"#,
        ])
        .args(["--coord", cluster.coord(), "--store", &cluster.store()])
        .args(["--worker-timeout", "2s", "--quiet"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn driver");
    wait_done_at_least(&cluster, 6);
    let _ = driver.kill();
    let _ = driver.wait();
    cluster.workers_mut().kill(0);

    cluster.wait_for("the orphaned job to show as abandoned", |s| {
        s.jobs.first().is_some_and(|j| j.state == "abandoned")
    });
    // The surviving workers drain the orphan's queued tasks without running
    // them, and take new work.
    let spec = slow_echo(40, 50);
    let results = drive(&cluster, spec.clone()).join().unwrap().unwrap();
    assert_eq!(results, embedded_results(spec));
    // The dead worker's pending entries of the abandoned job are cleared by
    // the next driver; nothing stays pending or queued.
    eventually(Duration::from_secs(20), "the task stream to clear", || {
        let pending = cluster.redis().cli(&["XPENDING", NOOP_TASKS, "workers"]);
        let queued = cluster.redis().cli(&["XLEN", NOOP_TASKS]);
        if pending.first().map(String::as_str) == Some("0") && queued == ["0"] {
            return Ok(());
        }
        // Clearing happens in a driver's upkeep: give it a job to drive.
        drive(&cluster, slow_echo(8, 50)).join().unwrap().unwrap();
        Err(format!("pending {pending:?}, length {queued:?}"))
    });
}

#[test]
fn a_task_deleted_from_the_queue_is_noticed_and_run_again() {
    let cluster = cluster(1);
    let spec = slow_echo(20, 300);
    // Speculation would also rerun the last task, as a straggler: this is
    // about the check that finds tasks with no entry left.
    let mut config = ClusterConfig::new(cluster.coord(), &cluster.store());
    config.worker_timeout = Duration::from_secs(2);
    config.speculation = false;
    let driver = drive_on(ClusterExecutor::new(config).unwrap(), spec.clone());
    // The newest entry is the last partition; the single worker (2 slots,
    // claiming one task per free slot while tasks are slow) reaches it
    // only after ~3 s. Delete it behind everyone's back.
    let newest = eventually(Duration::from_secs(30), "the job to be queued", || {
        let newest = queued_tasks(cluster.coord(), 1).expect("read the task streams");
        match newest.first() {
            Some(queued) if queued.task.task.partition == 19 => Ok(queued.clone()),
            _ => Err(newest),
        }
    });
    let (stream, id) = (newest.stream.as_str(), newest.entry_id.as_str());
    let pending = cluster
        .redis()
        .cli(&["XPENDING", stream, "workers", "-", "+", "100"]);
    assert!(
        !pending.iter().any(|p| p == id),
        "the worker already took {id}"
    );
    assert_eq!(cluster.redis().cli(&["XDEL", stream, id]), ["1"]);

    let finished = try_eventually(Duration::from_secs(60), || driver.is_finished());
    assert!(finished.is_ok(), "the job waits forever for the lost task");
    let results = driver.join().unwrap().expect("the job completes");
    assert_eq!(results, embedded_results(spec));
}
