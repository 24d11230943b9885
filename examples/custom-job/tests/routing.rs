//! Routing by capability between real processes of three binaries on one
//! Redis: `custom-job` (this example), the stock `shoal` (`stock-shoal`)
//! and another build of the example whose `column-stats` is version 2
//! (`custom-job-v2`). Which tasks a worker claimed is read from its log:
//! stopped with SIGTERM, a worker logs how many tasks of each job it
//! claimed. Every wait polls a real condition under a deadline.

use std::collections::BTreeMap;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use shoal::cluster::{cluster_status, ClusterStatus};
use shoal_testkit::{signal, try_eventually, wait_for_status, RedisServer, WorkerSpec};

mod common;
use common::{
    column_stats_params, on_cluster, run, sales, succeeded, COLUMN_STATS_TASKS, CUSTOM_JOB,
    CUSTOM_JOB_V2, STOCK_SHOAL, TIMEOUT,
};

/// How long a test waits for workers, status and jobs before failing.
const PATIENCE: Duration = Duration::from_secs(60);

/// [`TIMEOUT`] as a duration.
const WORKER_TIMEOUT: Duration = Duration::from_secs(2);

/// Redis, a store directory and named worker processes of any of the
/// binaries; the workers are killed on drop.
struct Cluster {
    workers: Vec<(String, WorkerSpec, Child)>,
    redis: RedisServer,
    dir: tempfile::TempDir,
}

impl Cluster {
    fn start() -> Cluster {
        Cluster {
            workers: Vec::new(),
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

    /// Starts `binary worker --name NAME` (2 slots) without waiting.
    fn spawn_worker(&mut self, binary: &str, name: &str) {
        let spec = WorkerSpec::new(binary, &self.coord(), &self.store(), self.dir.path())
            .args(["--heartbeat-ttl", TIMEOUT]);
        let child = spec.spawn(name);
        self.workers.push((name.to_string(), spec, child));
    }

    /// Starts workers `(binary, name)` and waits until all are registered.
    fn start_workers(&mut self, workers: &[(&str, &str)]) {
        for (binary, name) in workers {
            self.spawn_worker(binary, name);
        }
        self.wait_for("the workers to register", |s| {
            workers
                .iter()
                .all(|(_, name)| s.workers.iter().any(|w| w.name == *name))
        });
    }

    /// Polls the cluster's status until `condition` holds.
    fn wait_for(&self, what: &str, condition: impl Fn(&ClusterStatus) -> bool) {
        wait_for_status(&self.coord(), PATIENCE, what, condition);
    }

    /// `binary ARGS` as a driver on this cluster, output piped.
    fn driver(&self, binary: &str, args: &[&str]) -> Child {
        Command::new(binary)
            .args(on_cluster(args, &self.coord(), &self.store()))
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap_or_else(|e| panic!("cannot run {binary}: {e}"))
    }

    /// Stops worker `name` with SIGTERM and returns the tasks it claimed
    /// per job fingerprint (from the line it logs when it stops) and its
    /// whole log.
    fn stop_worker(&mut self, name: &str) -> (BTreeMap<String, u64>, String) {
        let at = self.workers.iter().position(|(n, ..)| n == name).unwrap();
        let (_, spec, mut child) = self.workers.swap_remove(at);
        signal(child.id(), "-TERM");
        let exited = try_eventually(PATIENCE, || child.try_wait().unwrap());
        let log = std::fs::read_to_string(spec.log_path(name)).unwrap_or_default();
        assert!(exited.is_ok(), "worker {name} did not stop: {log}");
        let claims = claims_in(&log);
        (
            claims.unwrap_or_else(|| panic!("worker {name} logged no claims: {log}")),
            log,
        )
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        for (_, _, child) in &mut self.workers {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// The claims a worker logged when it stopped: `… stopped; tasks claimed:
/// noop@1=3 wordcount@1=7 …` (its other fields are not `NAME@VERSION=N`).
fn claims_in(log: &str) -> Option<BTreeMap<String, u64>> {
    let (_, claims) = log
        .lines()
        .find_map(|l| l.split_once("stopped; tasks claimed:"))?;
    let claims = claims.split_whitespace().filter_map(|field| {
        let (job, count) = field.split_once('=')?;
        let count = count.parse().ok()?;
        job.contains('@').then(|| (job.to_string(), count))
    });
    Some(claims.collect())
}

/// Waits for `child` to exit, failing (after killing it) past `limit`.
fn exit_within(mut child: Child, limit: Duration) -> Output {
    let exited = try_eventually(limit, || child.try_wait().unwrap());
    if exited.is_err() {
        let _ = child.kill();
    }
    let output = child.wait_with_output().unwrap();
    assert!(exited.is_ok(), "still running after {limit:?}: {output:?}");
    output
}

/// `files` text files of `lines` lines each in `dir/texts`: enough that a
/// debug build's wordcount map task takes tens of milliseconds, so tasks
/// are claimed one per free slot and every idle worker gets some.
fn texts(dir: &std::path::Path, files: usize, lines: usize) -> String {
    let input = dir.join("texts");
    std::fs::create_dir_all(&input).unwrap();
    for f in 0..files {
        let text: String = (0..lines)
            .map(|i| {
                format!(
                    "shoal worker {} routes task {} of file {f}\n",
                    i % 97,
                    i % 13
                )
            })
            .collect();
        std::fs::write(input.join(format!("{f:02}.txt")), text).unwrap();
    }
    input.to_string_lossy().into_owned()
}

/// The jobs `name` offers, as `shoal status` shows them (its row ends
/// with them).
fn status_row<'a>(shown: &'a str, name: &str) -> &'a str {
    let row = shown
        .lines()
        .find(|l| l.trim_start().starts_with(&format!("{name} ")));
    row.unwrap_or_else(|| panic!("no worker {name} in:\n{shown}"))
}

#[test]
fn a_stock_worker_never_claims_the_custom_jobs_tasks_while_all_three_serve_wordcount() {
    let mut cluster = Cluster::start();
    cluster.start_workers(&[
        (STOCK_SHOAL, "stock"),
        (CUSTOM_JOB, "custom-a"),
        (CUSTOM_JOB, "custom-b"),
    ]);
    // Each worker's jobs, as the custom binary's `status` shows them.
    let shown = succeeded(run(CUSTOM_JOB, &["status", "--coord", &cluster.coord()]));
    let shown = String::from_utf8(shown).unwrap();
    let custom_row = status_row(&shown, "custom-a");
    assert!(
        custom_row.contains("column-stats@1 distinct-keys@1"),
        "{shown}"
    );
    let stock_row = status_row(&shown, "stock");
    assert!(stock_row.contains("wordcount@1"), "{shown}");
    assert!(!stock_row.contains("column-stats"), "{shown}");

    // Submitted together: the custom job, and two built-in jobs every
    // worker runs (wordcount, and array-sort, a DistArray job).
    let input = sales(cluster.dir.path());
    let params = column_stats_params(&input);
    let column_stats = ["run", "column-stats", "--params", &params, "--quiet"];
    let texts = texts(cluster.dir.path(), 24, 4_000);
    let wordcount = [
        "wordcount",
        &texts,
        "--partitions",
        "6",
        "--json",
        "--quiet",
    ];
    let sort_params = r#"{"n": 200000, "partitions": 6, "seed": 7}"#;
    let array_sort = ["run", "array-sort", "--params", sort_params, "--quiet"];
    let drivers = [
        (CUSTOM_JOB, &column_stats[..]),
        (STOCK_SHOAL, &wordcount[..]),
        (STOCK_SHOAL, &array_sort[..]),
    ];
    let running: Vec<Child> = drivers
        .iter()
        .map(|(binary, args)| cluster.driver(binary, args))
        .collect();
    for (driver, (binary, args)) in running.into_iter().zip(drivers) {
        let on_cluster = succeeded(exit_within(driver, PATIENCE));
        let embedded = succeeded(run(binary, args));
        assert_eq!(
            String::from_utf8_lossy(&on_cluster),
            String::from_utf8_lossy(&embedded),
            "{args:?}"
        );
    }

    // The custom job's tasks were all claimed by the custom workers; the
    // stock worker's log never names the job (no claim, no failure).
    let (stock, stock_log) = cluster.stop_worker("stock");
    let (custom_a, _) = cluster.stop_worker("custom-a");
    let (custom_b, _) = cluster.stop_worker("custom-b");
    assert!(!stock_log.contains("column-stats"), "{stock_log}");
    let custom_claims =
        custom_a.get("column-stats@1").unwrap_or(&0) + custom_b.get("column-stats@1").unwrap_or(&0);
    assert!(
        custom_claims >= COLUMN_STATS_TASKS,
        "{custom_a:?} {custom_b:?}"
    );
    for (name, claims) in [
        ("stock", &stock),
        ("custom-a", &custom_a),
        ("custom-b", &custom_b),
    ] {
        assert!(
            claims.get("wordcount@1").is_some_and(|n| *n > 0),
            "{name} served no wordcount task: {claims:?}"
        );
    }
}

#[test]
fn two_builds_of_column_stats_never_claim_each_others_tasks() {
    let mut cluster = Cluster::start();
    cluster.start_workers(&[(CUSTOM_JOB, "v1"), (CUSTOM_JOB_V2, "v2")]);
    let input = sales(cluster.dir.path());
    let params = column_stats_params(&input);
    let args = ["run", "column-stats", "--params", &params, "--quiet"];
    let first = cluster.driver(CUSTOM_JOB, &args);
    let second = cluster.driver(CUSTOM_JOB_V2, &args);
    let embedded = succeeded(run(CUSTOM_JOB, &args));
    assert_eq!(succeeded(exit_within(first, PATIENCE)), embedded);
    assert_eq!(succeeded(exit_within(second, PATIENCE)), embedded);

    let (v1, _) = cluster.stop_worker("v1");
    let (v2, _) = cluster.stop_worker("v2");
    assert!(
        v1.get("column-stats@1")
            .is_some_and(|n| *n >= COLUMN_STATS_TASKS),
        "{v1:?}"
    );
    assert!(
        v2.get("column-stats@2")
            .is_some_and(|n| *n >= COLUMN_STATS_TASKS),
        "{v2:?}"
    );
    assert!(!v1.contains_key("column-stats@2"), "{v1:?}");
    assert!(!v2.contains_key("column-stats@1"), "{v2:?}");
}

#[test]
fn with_only_stock_workers_the_custom_job_fails_naming_it_unless_it_waits_for_one() {
    let mut cluster = Cluster::start();
    cluster.start_workers(&[(STOCK_SHOAL, "stock-a"), (STOCK_SHOAL, "stock-b")]);
    let input = sales(cluster.dir.path());
    let params = column_stats_params(&input);
    let args = ["run", "column-stats", "--params", &params, "--quiet"];

    // No live worker runs column-stats: it fails after the worker
    // timeout, in one line naming the job and what each worker runs.
    let started = Instant::now();
    let failed = exit_within(cluster.driver(CUSTOM_JOB, &args), PATIENCE);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&failed.stderr);
    assert_eq!(failed.status.code(), Some(1), "{stderr}");
    assert!(failed.stdout.is_empty(), "a failed job printed a result");
    assert_eq!(stderr.trim().lines().count(), 1, "{stderr}");
    for needle in [
        "custom-job: error:",
        "'column-stats@1'",
        "stock-a runs",
        "stock-b runs",
        "wordcount@1",
        "--wait-for-workers",
    ] {
        assert!(stderr.contains(needle), "no {needle:?} in: {stderr}");
    }
    assert!(
        took < WORKER_TIMEOUT + Duration::from_secs(8),
        "took {took:?}"
    );

    // Asked to wait, it outlives the worker timeout with its tasks queued,
    // and a custom-job worker that joins then runs it.
    let mut waiting_args = args.to_vec();
    waiting_args.extend(["--wait-for-workers", "60s"]);
    let mut waiting = cluster.driver(CUSTOM_JOB, &waiting_args);
    cluster.wait_for("column-stats tasks to be queued", |s| {
        s.queues
            .iter()
            .any(|q| q.job == "column-stats@1" && q.queued > 0)
    });
    let queued_at = Instant::now();
    let gave_up = try_eventually(WORKER_TIMEOUT + Duration::from_secs(1), || {
        waiting.try_wait().unwrap()
    });
    assert!(gave_up.is_err(), "the driver stopped waiting: {gave_up:?}");
    assert!(queued_at.elapsed() > WORKER_TIMEOUT);
    let status = cluster_status(&cluster.coord(), 10).unwrap();
    assert!(
        status
            .jobs
            .iter()
            .any(|j| j.job == "column-stats" && j.state == "running"),
        "{status:?}"
    );

    cluster.start_workers(&[(CUSTOM_JOB, "late")]);
    let finished = succeeded(exit_within(waiting, PATIENCE));
    assert_eq!(finished, succeeded(run(CUSTOM_JOB, &args)));
    let (late, _) = cluster.stop_worker("late");
    assert!(
        late.get("column-stats@1")
            .is_some_and(|n| *n >= COLUMN_STATS_TASKS),
        "{late:?}"
    );
}
